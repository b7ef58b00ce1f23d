//! `balance leastconn`: 1.4's fast weighted least-connections (fwlc), dynamic weights.
//!
//! Compare with 1.4 `src/lb_fwlc.c`: `fwlc_init_server_tree()`, `fwlc_get_next_server()`,
//! `fwlc_queue_srv()`, `fwlc_srv_reposition()`, `fwlc_set_server_status_up/down()`,
//! `fwlc_update_server_weight()`.
//!
//! Usable servers sit in one tree per group keyed by `served * 4096 / eweight`, the load
//! relative to the weight. A pick takes the lowest key that is not saturated. A server is
//! requeued whenever its connection count changes ([`super::Balancer::conn_start`] /
//! [`super::Balancer::conn_end`]); requeued nodes go after nodes with the same key, which is
//! what rotates equally loaded servers. The pick itself does not requeue.

use super::tree::{EbTree, NodeRef};
use super::{Group, Table, SRV_EWGHT_MAX};

#[derive(Clone, Debug, Default)]
struct FwlcSrv {
    /// The group tree the server belongs to (1.4 `lb_tree`): `Some(backup)`, `None` if down.
    lb_tree: Option<bool>,
    node: Option<NodeRef>,
}

#[derive(Debug)]
pub(crate) struct Fwlc {
    act: EbTree,
    bck: EbTree,
    srv: Vec<FwlcSrv>,
}

impl Fwlc {
    /// Usable servers enter their group's tree in declaration order.
    pub fn new(t: &Table) -> Fwlc {
        let n_bck = t.srv.iter().filter(|s| s.backup).count();
        let mut f = Fwlc {
            act: EbTree::with_capacity(t.srv.len() - n_bck),
            bck: EbTree::with_capacity(n_bck),
            srv: vec![FwlcSrv::default(); t.srv.len()],
        };
        for (i, s) in t.srv.iter().enumerate() {
            if s.usable() {
                if let Some(fs) = f.srv.get_mut(i) {
                    fs.lb_tree = Some(s.backup);
                }
                f.queue(t, i);
            }
        }
        f
    }

    fn tree(&mut self, backup: bool) -> &mut EbTree {
        if backup {
            &mut self.bck
        } else {
            &mut self.act
        }
    }

    /// 1.4 `fwlc_queue_srv()`: key `served * SRV_EWGHT_MAX / eweight`.
    fn queue(&mut self, t: &Table, idx: usize) {
        let Some(s) = t.srv.get(idx) else { return };
        let Some(backup) = self.srv.get(idx).and_then(|f| f.lb_tree) else {
            return;
        };
        let key = s
            .served
            .wrapping_mul(SRV_EWGHT_MAX)
            .checked_div(s.eweight)
            .unwrap_or(u32::MAX);
        let r = self.tree(backup).insert(key, idx);
        if let Some(f) = self.srv.get_mut(idx) {
            f.node = Some(r);
        }
    }

    fn dequeue(&mut self, idx: usize) {
        let Some(f) = self.srv.get_mut(idx) else {
            return;
        };
        if let (Some(r), Some(backup)) = (f.node.take(), f.lb_tree) {
            self.tree(backup).remove(r);
        }
    }

    /// 1.4 `fwlc_srv_reposition()`: after the served count changed.
    pub fn reposition(&mut self, t: &Table, idx: usize) {
        if self.srv.get(idx).and_then(|f| f.lb_tree).is_none() {
            return;
        }
        self.dequeue(idx);
        self.queue(t, idx);
    }

    pub fn server_up(&mut self, t: &Table, idx: usize) {
        let backup = t.srv.get(idx).is_some_and(|s| s.backup);
        self.dequeue(idx);
        if let Some(f) = self.srv.get_mut(idx) {
            f.lb_tree = Some(backup);
        }
        self.queue(t, idx);
    }

    pub fn server_down(&mut self, _t: &Table, idx: usize) {
        self.dequeue(idx);
        if let Some(f) = self.srv.get_mut(idx) {
            f.lb_tree = None;
        }
    }

    pub fn weight_changed(&mut self, t: &Table, idx: usize) {
        self.server_up(t, idx);
    }

    /// 1.4 `fwlc_get_next_server()`: the least loaded server that is not saturated, skipping
    /// `avoid` unless it is the only candidate.
    pub fn next(
        &mut self,
        t: &Table,
        avoid: Option<usize>,
        is_full: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        let tree = match t.group() {
            Group::Active => &self.act,
            Group::FirstBackup(i) => return Some(i),
            Group::Backup => &self.bck,
            Group::Empty => return None,
        };
        let mut avoided = None;
        for n in tree.iter() {
            if is_full(n.srv) {
                continue;
            }
            if Some(n.srv) != avoid {
                return Some(n.srv);
            }
            avoided = Some(n.srv);
        }
        avoided
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{balancer, never_full, tcp_from};
    use super::super::Balancer;
    use parser::ir::{Balance, HashType};

    fn lc(weights: &[u32]) -> Balancer {
        let srv: Vec<(u32, bool)> = weights.iter().map(|&w| (w, false)).collect();
        balancer(Balance::LeastConn, HashType::MapBased, false, &srv)
    }

    fn pick(b: &Balancer) -> usize {
        b.pick(&tcp_from([10, 0, 0, 1]), None, &never_full)
            .expect("a server")
    }

    #[test]
    fn picks_lowest_load_relative_to_weight() {
        let b = lc(&[1, 1, 1]);
        // Connections that stay open: each pick goes to an idle server.
        let mut got = Vec::new();
        for _ in 0..3 {
            let s = pick(&b);
            b.conn_start(s);
            got.push(s);
        }
        got.sort_unstable();
        assert_eq!(got, vec![0, 1, 2]);
        // Server 1 finishes its connection: it is the least loaded now.
        b.conn_end(1);
        assert_eq!(pick(&b), 1);
    }

    #[test]
    fn weights_scale_the_load() {
        let b = lc(&[1, 3]);
        let mut count = [0usize; 2];
        for _ in 0..8 {
            let s = pick(&b);
            b.conn_start(s);
            count[s] += 1;
        }
        // Keys 4096*n/16 vs 4096*m/48: B takes three connections per one of A.
        assert_eq!(count, [2, 6]);
    }

    #[test]
    fn round_robin_among_equals() {
        let b = lc(&[1, 1, 1]);
        // Short connections: each ends before the next pick.
        let seq: Vec<usize> = (0..9)
            .map(|_| {
                let s = pick(&b);
                b.conn_start(s);
                b.conn_end(s);
                s
            })
            .collect();
        assert_eq!(seq, vec![0, 1, 2, 0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn saturated_and_avoided() {
        let b = lc(&[1, 1]);
        let req = tcp_from([10, 0, 0, 1]);
        assert_eq!(b.pick(&req, None, &|i| i == 0), Some(1));
        assert_eq!(b.pick(&req, Some(0), &never_full), Some(1));
        assert_eq!(b.pick(&req, Some(0), &|i| i == 1), Some(0));
        assert_eq!(b.pick(&req, None, &|_| true), None);
    }

    #[test]
    fn down_up_and_weight_change() {
        let b = lc(&[1, 1]);
        b.set_usable(0, false);
        assert_eq!(pick(&b), 1);
        b.conn_start(1);
        b.set_usable(0, true);
        assert_eq!(pick(&b), 0);
        b.conn_start(0);
        // Both have one connection; weighting B up makes it the lighter one.
        b.set_weight(1, 4).expect("dynamic weight");
        assert_eq!(pick(&b), 1);
    }
}
