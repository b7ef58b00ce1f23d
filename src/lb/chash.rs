//! `hash-type consistent`: the consistent-hashing ring used by `source`, `uri`, `url_param`,
//! `hdr` and `rdp-cookie`, and its round-robin fallback.
//!
//! Compare with 1.4 `src/lb_chash.c`: `chash_init_server_tree()`, `chash_get_server_hash()`,
//! `chash_get_next_server()`, `chash_queue_dequeue_srv()`, `chash_set_server_status_up/down()`.
//!
//! Server `s` owns up to `weight * 16` points; point `i` sits at
//! `chash_hash(puid * 4096 + i)`, so a server keeps its points whatever happens to the other
//! servers, and adding or removing a server only moves the keys that land next to its points.
//! A server with effective weight `e` (lower while slowstarting) has its first `e` points on
//! the ring; 1.4 sizes the point array from the configured weight, so a runtime weight above
//! it adds no points.
//!
//! A request hash `h` is looked up at `k = chash_hash(h)`: the first point at or after `k`
//! (wrapping) and the one before it (wrapping); if they belong to different servers the
//! nearer one wins, the earlier one on a tie.

use super::hash::chash_hash;
use super::tree::{EbTree, NodeRef};
use super::{Group, Table, BE_WEIGHT_SCALE, SRV_EWGHT_RANGE};

#[derive(Clone, Debug, Default)]
struct ChashSrv {
    /// Keys of all the server's possible points (1.4 `lb_nodes`, `lb_nodes_tot` of them).
    keys: Vec<u32>,
    /// Handles of the points currently on the ring: the first `nodes.len()` keys.
    nodes: Vec<NodeRef>,
}

/// A point on one of the two rings: `(backup ring?, node)`.
type Point = (bool, NodeRef);

#[derive(Debug)]
pub(crate) struct Chash {
    act: EbTree,
    bck: EbTree,
    srv: Vec<ChashSrv>,
    /// The point the round-robin fallback last returned (1.4 `lbprm.chash.last`).
    last: Option<Point>,
}

impl Chash {
    /// Computes every server's point keys and puts the usable servers' points on their
    /// group's ring, in declaration order.
    pub fn new(t: &Table) -> Chash {
        let mut cap = [0usize; 2];
        let srv = t
            .srv
            .iter()
            .map(|s| {
                let tot = s.iweight * BE_WEIGHT_SCALE;
                cap[usize::from(s.backup)] += tot as usize;
                let base = s.puid.wrapping_mul(SRV_EWGHT_RANGE);
                let keys = (0..tot).map(|i| chash_hash(base.wrapping_add(i))).collect();
                ChashSrv {
                    keys,
                    nodes: Vec::with_capacity(tot as usize),
                }
            })
            .collect();
        let mut c = Chash {
            act: EbTree::with_capacity(cap[0]),
            bck: EbTree::with_capacity(cap[1]),
            srv,
            last: None,
        };
        for (i, s) in t.srv.iter().enumerate() {
            if s.usable() {
                c.adjust_points(t, i);
            }
        }
        c
    }

    fn tree(&self, backup: bool) -> &EbTree {
        if backup {
            &self.bck
        } else {
            &self.act
        }
    }

    fn tree_mut(&mut self, backup: bool) -> &mut EbTree {
        if backup {
            &mut self.bck
        } else {
            &mut self.act
        }
    }

    /// The point after `p` on its own ring, wrapping to the first; `None` if `p` is alone
    /// (1.4 `chash_skip_node()`).
    fn skip_point(&self, p: Point) -> Option<Point> {
        let tree = self.tree(p.0);
        let pos = tree.position(p.1)?;
        let next = tree.get(pos + 1).or_else(|| tree.first())?;
        (next.handle() != p.1).then_some((p.0, next.handle()))
    }

    fn remove_point(&mut self, backup: bool, r: NodeRef) {
        if self.last == Some((backup, r)) {
            self.last = self.skip_point((backup, r));
        }
        self.tree_mut(backup).remove(r);
    }

    /// 1.4 `chash_queue_dequeue_srv()`: the server has exactly `min(eweight, points)` points
    /// on the ring (0 when it is not usable); extra ones are removed from the last, missing
    /// ones added in order.
    fn adjust_points(&mut self, t: &Table, idx: usize) {
        let Some(s) = t.srv.get(idx) else { return };
        let backup = s.backup;
        let want = if s.usable() { s.eweight as usize } else { 0 };
        while self.srv.get(idx).is_some_and(|c| c.nodes.len() > want) {
            let Some(r) = self.srv.get_mut(idx).and_then(|c| c.nodes.pop()) else {
                break;
            };
            self.remove_point(backup, r);
        }
        loop {
            let Some(c) = self.srv.get(idx) else { return };
            let n = c.nodes.len();
            if n >= want {
                break;
            }
            let Some(&key) = c.keys.get(n) else { break };
            let r = self.tree_mut(backup).insert(key, idx);
            if let Some(c) = self.srv.get_mut(idx) {
                c.nodes.push(r);
            }
        }
    }

    pub fn server_up(&mut self, t: &Table, idx: usize) {
        self.adjust_points(t, idx);
    }

    pub fn server_down(&mut self, t: &Table, idx: usize) {
        self.adjust_points(t, idx);
    }

    pub fn weight_changed(&mut self, t: &Table, idx: usize) {
        self.adjust_points(t, idx);
    }

    fn root(t: &Table) -> Result<bool, Option<usize>> {
        match t.group() {
            Group::Active => Ok(false),
            Group::FirstBackup(i) => Err(Some(i)),
            Group::Backup => Ok(true),
            Group::Empty => Err(None),
        }
    }

    /// 1.4 `chash_get_server_hash()`: the server owning the point nearest to
    /// `chash_hash(h)`. Saturation is not checked.
    pub fn by_hash(&self, t: &Table, h: u32) -> Option<usize> {
        let backup = match Self::root(t) {
            Ok(b) => b,
            Err(direct) => return direct,
        };
        let tree = self.tree(backup);
        let k = chash_hash(h);
        let next_i = tree.lookup_ge(k).unwrap_or(0);
        let next = tree.get(next_i)?;
        let prev = match next_i.checked_sub(1) {
            Some(i) => tree.get(i),
            None => tree.last(),
        }?;
        if next.srv == prev.srv {
            return Some(next.srv);
        }
        let dp = k.wrapping_sub(prev.key);
        let dn = next.key.wrapping_sub(k);
        Some(if dp <= dn { prev.srv } else { next.srv })
    }

    /// 1.4 `chash_get_next_server()`: walks the ring point by point from the last one used,
    /// skipping saturated servers and `avoid` (returned only if nothing else qualifies).
    ///
    /// The walk continues from the last point on that point's own ring, as 1.4 does. 1.4 can
    /// spin forever when that ring is not the one in use and every server is saturated; we
    /// stop after visiting every point once.
    pub fn next_rr(
        &mut self,
        t: &Table,
        avoid: Option<usize>,
        is_full: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        let backup = match Self::root(t) {
            Ok(b) => b,
            Err(direct) => return direct,
        };
        let mut stop = self.last;
        let mut point = self.last;
        let mut chosen = None;
        let mut avoided: Option<(usize, Point)> = None;
        let budget = self.act.len() + self.bck.len() + 1;
        for _ in 0..budget {
            // Next point on the ring of the previous one, or the first of the ring in use.
            point = point.and_then(|(b, r)| {
                let tree = self.tree(b);
                let pos = tree.position(r)?;
                tree.get(pos + 1).map(|n| (b, n.handle()))
            });
            if point.is_none() {
                point = self.tree(backup).first().map(|n| (backup, n.handle()));
            }
            self.last = point;
            let (b, r) = point?;
            if stop.is_none() {
                stop = point;
            }
            let tree = self.tree(b);
            let srv = tree.position(r).and_then(|i| tree.get(i)).map(|n| n.srv)?;
            if !is_full(srv) {
                if Some(srv) != avoid {
                    chosen = Some(srv);
                    break;
                }
                avoided = Some((srv, (b, r)));
            }
            if point == stop {
                break;
            }
        }
        if chosen.is_none() {
            self.last = avoided.map(|(_, p)| p);
            chosen = avoided.map(|(s, _)| s);
        }
        chosen
    }

    /// Number of points server `idx` has on the ring (for tests and diagnostics).
    #[cfg(test)]
    fn points(&self, idx: usize) -> usize {
        self.srv.get(idx).map_or(0, |c| c.nodes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{balancer, never_full, sequence, tcp_from};
    use super::super::{Balancer, Engine};
    use super::*;
    use parser::ir::{Balance, HashType};

    fn consistent(weights: &[u32]) -> Balancer {
        let srv: Vec<(u32, bool)> = weights.iter().map(|&w| (w, false)).collect();
        balancer(Balance::Source, HashType::Consistent, false, &srv)
    }

    fn points(b: &Balancer, idx: usize) -> usize {
        match &b.inner.lock().engine {
            Engine::Chash(c) => c.points(idx),
            _ => usize::MAX,
        }
    }

    /// Which server each of `n` client addresses maps to.
    fn assignment(b: &Balancer, n: u32) -> Vec<Option<usize>> {
        (0..n)
            .map(|i| {
                let ip = 0x0a00_0000u32 + i * 7919;
                b.pick(&tcp_from(ip.to_be_bytes()), None, &never_full)
            })
            .collect()
    }

    #[test]
    fn points_per_weight() {
        let b = consistent(&[1, 2, 0, 256]);
        assert_eq!(points(&b, 0), 16);
        assert_eq!(points(&b, 1), 32);
        assert_eq!(points(&b, 2), 0);
        assert_eq!(points(&b, 3), 4096);
        b.set_slowstart_step(1, Some(3));
        assert_eq!(points(&b, 1), 6);
        b.set_usable(1, false);
        assert_eq!(points(&b, 1), 0);
        b.set_slowstart_step(1, None);
        b.set_usable(1, true);
        assert_eq!(points(&b, 1), 32);
        // Above the configured weight: no extra points (1.4 sizes the array at startup).
        b.set_weight(0, 4).expect("dynamic");
        assert_eq!(points(&b, 0), 16);
    }

    #[test]
    fn point_keys_come_from_puid() {
        let b = consistent(&[1, 1]);
        let g = b.inner.lock();
        let Engine::Chash(c) = &g.engine else {
            panic!("consistent hashing uses the ring")
        };
        let keys: Vec<u32> = c.act.iter().filter(|n| n.srv == 1).map(|n| n.key).collect();
        let mut want: Vec<u32> = (0..16).map(|i| chash_hash(2 * 4096 + i)).collect();
        want.sort_unstable();
        assert_eq!(keys, want);
    }

    #[test]
    fn lookup_takes_nearest_point() {
        let b = consistent(&[1, 1, 1]);
        let g = b.inner.lock();
        let Engine::Chash(c) = &g.engine else {
            panic!("ring")
        };
        let t = &g.table;
        for h in (0..5000u32).map(|i| i.wrapping_mul(2_654_435_761)) {
            let k = chash_hash(h);
            // Brute force: nearest point by circular distance, ties to the earlier point.
            let mut best: Option<(u32, usize)> = None;
            for n in c.act.iter() {
                let d = k.wrapping_sub(n.key).min(n.key.wrapping_sub(k));
                if best.is_none_or(|(bd, _)| d < bd) {
                    best = Some((d, n.srv));
                }
            }
            let got = c.by_hash(t, h);
            let want = best.map(|(_, s)| s);
            if got != want {
                // Only acceptable on an exact tie between two servers' points.
                let next = c
                    .act
                    .lookup_ge(k)
                    .and_then(|i| c.act.get(i))
                    .or_else(|| c.act.first());
                let prev = c
                    .act
                    .iter()
                    .filter(|n| n.key < k)
                    .last()
                    .copied()
                    .or_else(|| c.act.last());
                let (n, p) = (next.expect("ring"), prev.expect("ring"));
                assert_eq!(k.wrapping_sub(p.key), n.key.wrapping_sub(k), "h={h}");
            }
        }
    }

    #[test]
    fn removing_a_server_only_moves_its_keys() {
        let b = consistent(&[1, 1, 1, 1]);
        let before = assignment(&b, 10_000);
        b.set_usable(2, false);
        let after = assignment(&b, 10_000);
        let mut moved = 0;
        for (x, y) in before.iter().zip(&after) {
            if *x == Some(2) {
                assert_ne!(*y, Some(2));
                moved += 1;
            } else {
                assert_eq!(x, y, "a key not on the removed server moved");
            }
        }
        // Roughly a quarter of the keys were on server 2.
        assert!((1500..3500).contains(&moved), "{moved}");
        // Coming back restores the original mapping exactly.
        b.set_usable(2, true);
        assert_eq!(assignment(&b, 10_000), before);
    }

    #[test]
    fn adding_a_server_only_takes_keys() {
        let b = consistent(&[1, 1, 1]);
        b.set_usable(2, false);
        let before = assignment(&b, 10_000);
        b.set_usable(2, true);
        let after = assignment(&b, 10_000);
        let taken = before.iter().zip(&after).filter(|(x, y)| x != y).count();
        for (x, y) in before.iter().zip(&after) {
            if x != y {
                assert_eq!(*y, Some(2), "a key moved between the old servers");
            }
        }
        assert!((2000..4700).contains(&taken), "{taken}");
    }

    #[test]
    fn spread_follows_weights() {
        let b = consistent(&[1, 3]);
        let a = assignment(&b, 20_000);
        let on_b = a.iter().filter(|s| **s == Some(1)).count();
        // 3/4 of the keys expected; consistent hashing is only approximately fair.
        assert!((12_500..17_500).contains(&on_b), "{on_b}");
    }

    #[test]
    fn round_robin_fallback_walks_the_ring() {
        // balance uri without a URI (TCP): the ring is walked point by point.
        let b = balancer(
            Balance::Uri {
                len: None,
                depth: None,
                whole: false,
            },
            HashType::Consistent,
            false,
            &[(1, false), (1, false)],
        );
        let seq = sequence(&b, 3200);
        assert_eq!(seq.matches('A').count(), 1600);
        // Saturated servers are skipped.
        let req = tcp_from([10, 0, 0, 1]);
        for _ in 0..40 {
            assert_eq!(b.pick(&req, None, &|i| i == 0), Some(1));
        }
        assert_eq!(b.pick(&req, None, &|_| true), None);
        assert_eq!(b.pick(&req, Some(1), &|i| i == 0), Some(1));
    }

    #[test]
    fn fallback_survives_ring_changes_without_spinning() {
        let b = balancer(
            Balance::Uri {
                len: None,
                depth: None,
                whole: false,
            },
            HashType::Consistent,
            true,
            &[(1, false), (1, true), (1, true)],
        );
        b.set_usable(0, false);
        let seq = sequence(&b, 10);
        assert!(!seq.contains('A'), "{seq}");
        // The last point is on the backup ring and the active server returns. With every
        // server saturated 1.4 would spin forever here; we give up after one lap.
        b.set_usable(0, true);
        let req = tcp_from([10, 0, 0, 1]);
        assert_eq!(b.pick(&req, None, &|_| true), None);
        // As in 1.4 the walk first finishes the backup ring it was on, then stays on the
        // active ring.
        let seq = sequence(&b, 100);
        assert!(seq[50..].chars().all(|c| c == 'A'), "{seq}");
        // Removing the server owning the last point moves the cursor, not breaks it.
        b.set_usable(0, false);
        assert!(b.pick(&req, None, &never_full).is_some());
    }
}
