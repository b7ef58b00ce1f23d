//! `balance roundrobin`: 1.4's fast weighted round-robin (fwrr), dynamic weights.
//!
//! Compare with 1.4 `src/lb_fwrr.c`: `fwrr_init_server_groups()`, `fwrr_get_next_server()`,
//! `fwrr_get_server_from_group()`, `fwrr_update_position()`, `fwrr_queue_srv()`,
//! `fwrr_set_server_status_up/down()`, `fwrr_update_server_weight()`.
//!
//! Each group (active, backup) walks a window of `curr_weight` positions (the sum of the
//! effective weights, `weight * 16`). A server picked at position `p` is due again at
//! `p + next_weight / eweight` (the remainder carried in `rweight`), so servers are chosen in
//! proportion to their weights and spread evenly. Three trees per group:
//! - `curr`: servers placed in the current window, ordered by due position (then by weight,
//!   heavier first);
//! - `init`: servers not placed yet, heaviest first, ties in declaration order; a server is
//!   taken from here when `curr` is empty or has a hole at the current position;
//! - `next`: servers whose next position falls beyond the window. When `curr` and `init` run
//!   dry the trees switch and `next` becomes `init`.
//!
//! This is why the very first pick goes to the heaviest server, and why weights 1,2 give
//! `B B A`. Saturated servers are taken out and requeued as if consumed; a server going down
//! leaves the trees, and one coming up is placed part-way into the window so it neither
//! floods nor starves.
//!
//! Positions use 1.4's `int` arithmetic; tree keys its unsigned 32-bit keys.

use super::tree::{EbTree, NodeRef};
use super::{Group, Table, BE_WEIGHT_SCALE, SRV_EWGHT_MAX, SRV_UWGHT_RANGE};

/// One of the three trees of a group. `Side(0)`/`Side(1)` are the two trees that swap roles
/// as `init` and `next`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TreeId {
    Curr,
    Side(usize),
}

#[derive(Debug)]
struct FwrrGroup {
    curr: EbTree,
    sides: [EbTree; 2],
    /// Which side is `init`; the other is `next`.
    init: usize,
    curr_pos: i32,
    curr_weight: i32,
    next_weight: i32,
}

impl FwrrGroup {
    fn new(total: u32, cap: usize) -> FwrrGroup {
        let w = total as i32;
        FwrrGroup {
            curr: EbTree::with_capacity(cap),
            sides: [EbTree::with_capacity(cap), EbTree::with_capacity(cap)],
            init: 0,
            curr_pos: w,
            curr_weight: w,
            next_weight: w,
        }
    }

    fn next_side(&self) -> usize {
        1 - self.init
    }

    fn tree(&mut self, id: TreeId) -> &mut EbTree {
        match id {
            TreeId::Curr => &mut self.curr,
            TreeId::Side(i) => &mut self.sides[i & 1],
        }
    }

    /// 1.4 `fwrr_switch_trees()`: `next` becomes `init` and a new window starts.
    fn switch_trees(&mut self) {
        self.init = self.next_side();
        self.curr_weight = self.next_weight;
        self.curr_pos = self.curr_weight;
    }
}

#[derive(Clone, Debug, Default)]
struct FwrrSrv {
    /// Next position at which the server is due.
    npos: i32,
    /// Last position it was picked at.
    lpos: i32,
    /// Remainder carried from `next_weight / eweight`.
    rweight: i32,
    /// The tree the server logically belongs to (1.4 `lb_tree`); `None` when down.
    lb_tree: Option<TreeId>,
    /// Where its node actually is, if inserted.
    node: Option<(TreeId, NodeRef)>,
    /// Chain of servers taken out during one pick (1.4 `next_full`).
    next_full: Option<usize>,
}

#[derive(Debug)]
pub(crate) struct Fwrr {
    act: FwrrGroup,
    bck: FwrrGroup,
    srv: Vec<FwrrSrv>,
}

impl Fwrr {
    /// 1.4 `fwrr_init_server_groups()`: every usable server goes to its group's `init` tree,
    /// in declaration order.
    pub fn new(t: &Table) -> Fwrr {
        let n_bck = t.srv.iter().filter(|s| s.backup).count();
        let n_act = t.srv.len() - n_bck;
        let mut f = Fwrr {
            act: FwrrGroup::new(t.tot_wact, n_act),
            bck: FwrrGroup::new(t.tot_wbck, n_bck),
            srv: vec![FwrrSrv::default(); t.srv.len()],
        };
        for (i, s) in t.srv.iter().enumerate() {
            if s.usable() {
                let side = f.grp(s.backup).init;
                f.queue_by_weight(t, i, side);
            }
        }
        f
    }

    fn grp(&mut self, backup: bool) -> &mut FwrrGroup {
        if backup {
            &mut self.bck
        } else {
            &mut self.act
        }
    }

    fn is_backup(t: &Table, idx: usize) -> bool {
        t.srv.get(idx).is_some_and(|s| s.backup)
    }

    fn eweight(t: &Table, idx: usize) -> i32 {
        t.srv.get(idx).map_or(0, |s| s.eweight as i32)
    }

    /// Removes the server's node from whatever tree holds it (1.4 `fwrr_dequeue_srv`).
    fn dequeue(&mut self, t: &Table, idx: usize) {
        let backup = Self::is_backup(t, idx);
        let Some(s) = self.srv.get_mut(idx) else {
            return;
        };
        if let Some((tree, r)) = s.node.take() {
            let grp = if backup { &mut self.bck } else { &mut self.act };
            grp.tree(tree).remove(r);
        }
    }

    /// 1.4 `fwrr_queue_by_weight()`: into side tree `side`, heaviest first.
    fn queue_by_weight(&mut self, t: &Table, idx: usize, side: usize) {
        let backup = Self::is_backup(t, idx);
        let key = SRV_EWGHT_MAX.wrapping_sub(Self::eweight(t, idx) as u32);
        let grp = if backup { &mut self.bck } else { &mut self.act };
        let id = TreeId::Side(side & 1);
        let r = grp.tree(id).insert(key, idx);
        if let Some(s) = self.srv.get_mut(idx) {
            s.node = Some((id, r));
            s.lb_tree = Some(id);
        }
    }

    /// 1.4 `fwrr_queue_srv()`: into `curr` at its due position, or into `next` (position
    /// made relative to the next window) when it falls outside this window.
    fn queue_srv(&mut self, t: &Table, idx: usize) {
        let Some(srv) = t.srv.get(idx) else { return };
        let (backup, usable, ew) = (srv.backup, srv.usable(), srv.eweight as i32);
        if !usable {
            if let Some(s) = self.srv.get_mut(idx) {
                s.lb_tree = None;
            }
            return;
        }
        let (curr_weight, next_weight, next_side) = {
            let g = self.grp(backup);
            (g.curr_weight, g.next_weight, g.next_side())
        };
        let Some(s) = self.srv.get_mut(idx) else {
            return;
        };
        if ew <= 0 || s.npos >= 2 * curr_weight || s.npos >= curr_weight + next_weight {
            s.npos -= curr_weight;
            self.queue_by_weight(t, idx, next_side);
        } else {
            // Position first, then weight: heavier (and carrying more remainder) sort first.
            let tiebreak = ((SRV_EWGHT_MAX as i32 + s.rweight - ew) as u32) / BE_WEIGHT_SCALE;
            let key = (s.npos as u32)
                .wrapping_mul(SRV_UWGHT_RANGE)
                .wrapping_add(tiebreak);
            let grp = if backup { &mut self.bck } else { &mut self.act };
            let r = grp.curr.insert(key, idx);
            s.node = Some((TreeId::Curr, r));
            s.lb_tree = Some(TreeId::Curr);
        }
    }

    /// 1.4 `fwrr_get_srv()`: prepares a server's position before it is moved.
    fn get_srv(&mut self, t: &Table, idx: usize) {
        let backup = Self::is_backup(t, idx);
        let g = if backup { &self.bck } else { &self.act };
        let (init, curr_weight, curr_pos) = (g.init, g.curr_weight, g.curr_pos);
        let Some(s) = self.srv.get_mut(idx) else {
            return;
        };
        match s.lb_tree {
            Some(TreeId::Side(i)) if i == init => {
                s.npos = 0;
                s.rweight = 0;
            }
            Some(TreeId::Side(_)) => s.npos += curr_weight,
            None => s.npos = curr_pos,
            Some(TreeId::Curr) => {}
        }
    }

    /// 1.4 `fwrr_get_server_from_group()`: the first server of `curr` if it is due, else the
    /// heaviest unplaced server from `init`, else whatever `curr` has (even early).
    fn server_from_group(&mut self, t: &Table, backup: bool) -> Option<usize> {
        let g = if backup { &self.bck } else { &self.act };
        let first = g.curr.first().map(|n| n.srv);
        let due = first.is_some_and(|i| self.srv.get(i).is_some_and(|s| s.npos <= g.curr_pos));
        if due {
            return first;
        }
        if let Some(n) = g.sides[g.init & 1].first() {
            if let Some(s) = self.srv.get_mut(n.srv) {
                s.npos = 0;
                s.rweight = 0;
            }
            return (Self::eweight(t, n.srv) != 0).then_some(n.srv);
        }
        first
    }

    /// 1.4 `fwrr_update_position()`: next due position after a pick at `curr_pos`.
    fn update_position(&mut self, t: &Table, idx: usize) {
        let backup = Self::is_backup(t, idx);
        let ew = Self::eweight(t, idx);
        if ew <= 0 {
            return;
        }
        let g = if backup { &self.bck } else { &self.act };
        let (curr_pos, next_weight) = (g.curr_pos, g.next_weight);
        let Some(s) = self.srv.get_mut(idx) else {
            return;
        };
        if s.npos == 0 {
            // First pick in this window.
            s.lpos = curr_pos;
            s.npos = curr_pos + next_weight / ew;
        } else {
            s.lpos = s.npos;
            s.npos += next_weight / ew;
        }
        s.rweight += next_weight % ew;
        if s.rweight >= ew {
            s.rweight -= ew;
            s.npos += 1;
        }
    }

    /// 1.4 `fwrr_get_next_server()`.
    pub fn next(
        &mut self,
        t: &Table,
        avoid: Option<usize>,
        is_full: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        let backup = match t.group() {
            Group::Active => false,
            Group::FirstBackup(i) => return Some(i),
            Group::Backup => true,
            Group::Empty => return None,
        };
        let mut switched = false;
        let mut avoided: Option<usize> = None;
        let mut full: Option<usize> = None;
        let mut chosen: Option<usize> = None;
        'pick: loop {
            {
                // An empty window: collect weights that may have changed meanwhile.
                let g = self.grp(backup);
                if g.curr_weight == 0 {
                    g.curr_weight = g.next_weight;
                    g.curr_pos = g.next_weight;
                }
            }
            let mut from_avoided = false;
            let cand = loop {
                if let Some(s) = self.server_from_group(t, backup) {
                    break s;
                }
                if switched {
                    if let Some(a) = avoided {
                        from_avoided = true;
                        break a;
                    }
                    break 'pick;
                }
                switched = true;
                self.grp(backup).switch_trees();
            };
            // Consume its position and take it out; it is requeued below.
            self.update_position(t, cand);
            self.dequeue(t, cand);
            self.grp(backup).curr_pos += 1;
            if from_avoided {
                // Only reached when nothing else was selectable: 1.4 returns it.
                chosen = Some(cand);
                break;
            }
            if !is_full(cand) {
                if Some(cand) != avoid || avoided.is_some() {
                    chosen = Some(cand);
                    break;
                }
                avoided = Some(cand);
            }
            // Saturated or avoided: chain it for requeueing.
            if let Some(s) = self.srv.get_mut(cand) {
                s.next_full = full;
            }
            full = Some(cand);
        }
        if let Some(c) = chosen {
            self.queue_srv(t, c);
        }
        // Requeue the servers taken out. After a tree switch their window is gone: they go
        // back to `init`, by weight; otherwise as if they had been consumed.
        let mut cur = full;
        while let Some(f) = cur {
            cur = self.srv.get_mut(f).and_then(|s| s.next_full.take());
            if Some(f) == chosen {
                continue;
            }
            if switched {
                let init = self.grp(backup).init;
                self.queue_by_weight(t, f, init);
            } else {
                self.queue_srv(t, f);
            }
        }
        chosen
    }

    /// 1.4 `fwrr_set_server_status_up()`: placed in the current window at a position that
    /// gives it a fair share of what remains.
    pub fn server_up(&mut self, t: &Table, idx: usize) {
        let backup = Self::is_backup(t, idx);
        let ew = Self::eweight(t, idx);
        if ew <= 0 {
            return;
        }
        self.grp(backup).next_weight += ew;
        self.get_srv(t, idx);
        let g = if backup { &self.bck } else { &self.act };
        let npos = g.curr_pos + (g.next_weight + g.curr_weight - g.curr_pos) / ew;
        if let Some(s) = self.srv.get_mut(idx) {
            s.npos = npos;
        }
        self.queue_srv(t, idx);
    }

    /// 1.4 `fwrr_set_server_status_down()`: out of every tree.
    pub fn server_down(&mut self, t: &Table, idx: usize) {
        let backup = Self::is_backup(t, idx);
        let prev = t.srv.get(idx).map_or(0, |s| s.prev_eweight as i32);
        self.grp(backup).next_weight -= prev;
        self.dequeue(t, idx);
        if let Some(s) = self.srv.get_mut(idx) {
            s.lb_tree = None;
        }
    }

    /// 1.4 `fwrr_update_server_weight()` for a server usable before and after.
    pub fn weight_changed(&mut self, t: &Table, idx: usize) {
        let backup = Self::is_backup(t, idx);
        let Some(srv) = t.srv.get(idx) else { return };
        let (ew, prev) = (srv.eweight as i32, srv.prev_eweight as i32);
        {
            let g = self.grp(backup);
            g.next_weight = g.next_weight - prev + ew;
        }
        let (init, curr_pos, curr_weight, next_weight) = {
            let g = self.grp(backup);
            (g.init, g.curr_pos, g.curr_weight, g.next_weight)
        };
        let lb_tree = self.srv.get(idx).and_then(|s| s.lb_tree);
        match lb_tree {
            Some(TreeId::Side(i)) if i == init => {
                // Not placed yet: only its rank by weight changes.
                self.dequeue(t, idx);
                self.queue_by_weight(t, idx, init);
            }
            None => {
                self.dequeue(t, idx);
                self.get_srv(t, idx);
                let cp = self.grp(backup).curr_pos;
                let cw = self.grp(backup).curr_weight;
                if let Some(s) = self.srv.get_mut(idx) {
                    s.npos = cp + (next_weight + cw - cp) / ew.max(1);
                }
                self.queue_srv(t, idx);
            }
            Some(_) => {
                // In `curr` or `next`: move its next position to match the new weight,
                // without letting it jump ahead of where it was due.
                self.get_srv(t, idx);
                if let Some(s) = self.srv.get_mut(idx) {
                    if ew > 0 {
                        let prev_next = s.npos;
                        let step = next_weight / ew;
                        s.npos = s.lpos + step;
                        s.rweight = 0;
                        if s.npos > prev_next {
                            s.npos = prev_next;
                        }
                        if s.npos < curr_pos + 2 {
                            s.npos = curr_pos + step;
                        }
                    } else {
                        s.npos = curr_pos + curr_weight;
                    }
                }
                self.dequeue(t, idx);
                self.queue_srv(t, idx);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{balancer, sequence, tcp_from};
    use super::super::Balancer;
    use parser::ir::{Balance, HashType};

    fn rr(weights: &[u32]) -> Balancer {
        let srv: Vec<(u32, bool)> = weights.iter().map(|&w| (w, false)).collect();
        balancer(Balance::RoundRobin, HashType::MapBased, false, &srv)
    }

    /// Asserts that `seq` is `period` repeated (possibly cut short).
    fn assert_repeats(seq: &str, period: &str) {
        let want: String = period.chars().cycle().take(seq.len()).collect();
        assert_eq!(seq, want, "expected repetitions of {period}");
    }

    #[test]
    fn spec_sequences() {
        // Spec section 4.5, each run long enough to cross several windows.
        assert_repeats(&sequence(&rr(&[1, 1]), 64), "AB");
        assert_repeats(&sequence(&rr(&[1, 1, 1]), 66), "ABC");
        assert_repeats(&sequence(&rr(&[2, 2]), 64), "AB");
        assert_repeats(&sequence(&rr(&[1, 2]), 66), "BBA");
        assert_repeats(&sequence(&rr(&[2, 1]), 66), "AAB");
        assert_repeats(&sequence(&rr(&[1, 3]), 64), "BBBA");
        assert_repeats(&sequence(&rr(&[3, 2, 1]), 66), "ABACAB");
        assert_repeats(&sequence(&rr(&[1, 1, 2]), 64), "CACB");
    }

    #[test]
    fn one_to_three_over_400_picks() {
        let seq = sequence(&rr(&[1, 3]), 400);
        assert_eq!(seq.matches('A').count(), 100);
        assert_eq!(seq.matches('B').count(), 300);
        // Evenly spread: never more than 3 B in a row, never 2 A in a row.
        assert!(!seq.contains("BBBB") && !seq.contains("AA"), "{seq}");
    }

    #[test]
    fn proportions_for_uneven_weights() {
        let b = rr(&[5, 3, 7, 1]);
        let seq = sequence(&b, 16 * 50);
        assert_eq!(seq.matches('A').count(), 250);
        assert_eq!(seq.matches('B').count(), 150);
        assert_eq!(seq.matches('C').count(), 350);
        assert_eq!(seq.matches('D').count(), 50);
        // The heaviest server gets the very first pick.
        assert!(seq.starts_with('C'));
    }

    #[test]
    fn server_down_and_back() {
        let b = rr(&[1, 1, 1]);
        assert_eq!(sequence(&b, 4), "ABCA");
        b.set_usable(1, false);
        let seq = sequence(&b, 40);
        assert!(!seq.contains('B'), "{seq}");
        assert_eq!(seq.matches('A').count(), 20, "{seq}");
        b.set_usable(1, true);
        // B is re-inserted; within a couple of windows the rotation is fair again.
        let seq = sequence(&b, 60);
        for c in ['A', 'B', 'C'] {
            let n = seq.matches(c).count();
            assert!((19..=21).contains(&n), "{c}: {n} in {seq}");
        }
    }

    #[test]
    fn all_down_then_one_up() {
        let b = rr(&[1, 2]);
        b.set_usable(0, false);
        b.set_usable(1, false);
        assert_eq!(sequence(&b, 2), "--");
        b.set_usable(0, true);
        assert_eq!(sequence(&b, 3), "AAA");
        b.set_usable(1, true);
        let seq = sequence(&b, 30);
        assert_eq!(seq.matches('B').count(), 20, "{seq}");
    }

    #[test]
    fn runtime_weight_change() {
        let b = rr(&[1, 1]);
        assert_eq!(sequence(&b, 10).matches('A').count(), 5);
        b.set_weight(0, 3)
            .expect("dynamic algorithm accepts any weight");
        // Let the new weights settle over one window, then expect 3:1.
        let _ = sequence(&b, 8);
        let seq = sequence(&b, 400);
        assert_eq!(seq.matches('A').count(), 300, "{seq}");
        b.set_weight(0, 0).expect("weight 0");
        assert_eq!(sequence(&b, 10), "BBBBBBBBBB");
        b.set_weight(0, 1).expect("weight 1");
        let _ = sequence(&b, 4);
        assert_eq!(sequence(&b, 100).matches('A').count(), 50);
    }

    #[test]
    fn slowstart_ramps_share() {
        let b = rr(&[1, 1]);
        b.set_slowstart_step(0, Some(4)); // a quarter of its weight: 4 vs 16
        let _ = sequence(&b, 20);
        let seq = sequence(&b, 200);
        assert_eq!(seq.matches('A').count(), 40, "{seq}");
        b.set_slowstart_step(0, None);
        let _ = sequence(&b, 4);
        assert_eq!(sequence(&b, 100).matches('A').count(), 50);
    }

    #[test]
    fn saturated_server_is_skipped_and_keeps_its_turn() {
        let b = rr(&[1, 1, 1]);
        let req = tcp_from([10, 0, 0, 1]);
        let b_full = |i: usize| i == 1;
        let seq: String = (0..6)
            .map(|_| {
                b.pick(&req, None, &b_full)
                    .map_or('-', |i| char::from(b'A' + i as u8))
            })
            .collect();
        assert!(!seq.contains('B'), "{seq}");
        // Once it has room again it is used at once.
        let seq = sequence(&b, 3);
        assert!(seq.contains('B'), "{seq}");
        assert_eq!(b.pick(&req, None, &|_| true), None);
        // After everything was full, the rotation still works.
        assert_eq!(sequence(&b, 30).matches('C').count(), 10);
    }
}
