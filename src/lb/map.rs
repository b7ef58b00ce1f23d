//! The weighted server map behind `balance static-rr` and every hash algorithm with
//! `hash-type map-based` (the default): construction and the hash lookup `map[h % tot]`.
//! The round-robin walk over the same map is in [`super::static_rr`].
//!
//! Compare with 1.4 `src/lb_map.c`: `init_server_map()` (weights divided by their GCD),
//! `recalc_server_map()` and `map_get_server_hash()`.
//!
//! The map has one slot per unit of effective weight of the group in use (active servers, or
//! backups when none is up). Slots are handed out so each server appears in proportion to
//! its weight and as evenly spread as possible; on ties the earlier-declared server wins, so
//! the first slot always goes to the first server. Weights 1,1 give `AB`, 1,2 `ABB`,
//! 3,2,1 `AABABC`, 1,1,2 `ACBC`.

use super::{Table, WeightModel};

#[derive(Debug)]
pub(crate) struct MapLb {
    /// Server index per slot; `len()` equals the backend's `tot_weight` once built.
    pub(super) map: Vec<usize>,
    /// Next slot for static round-robin; may equal `map.len()` (wraps on next use).
    pub(super) rr_idx: usize,
    /// Per-server running score used while building.
    wscore: Vec<i64>,
}

impl MapLb {
    /// Allocates the largest map the server list can ever need (the larger of the active
    /// and backup weight sums at configured weights, as static weights can only go down to
    /// 0 and back) and builds it.
    pub fn new(t: &Table) -> MapLb {
        let (act, bck) = t.srv.iter().fold((0usize, 0usize), |(a, b), s| {
            if s.backup {
                (a, b + s.eweight as usize)
            } else {
                (a + s.eweight as usize, b)
            }
        });
        let mut m = MapLb {
            map: Vec::with_capacity(act.max(bck).max(1)),
            rr_idx: 0,
            wscore: vec![0; t.srv.len()],
        };
        m.rebuild(t);
        m
    }

    /// 1.4 `recalc_server_map()`, run after every state change (1.4 defers it to the next
    /// lookup; the result is the same). The static round-robin index is kept.
    ///
    /// The map holds `tot_weight` slots filled from all usable servers of the group in use:
    /// for each slot every candidate adds its weight to its score and the one with the
    /// highest `(score + tot) / tot` takes the slot (first declared wins ties) and pays
    /// `tot`. With only the first backup in use, `tot` is that backup's weight but the other
    /// usable backups still compete for slots: 1.4 behaves so and we keep it.
    pub fn rebuild(&mut self, t: &Table) {
        self.map.clear();
        if t.tot_used == 0 {
            return;
        }
        let tot = i64::from(t.tot_weight);
        let want_backup = t.srv_act == 0;
        self.wscore.iter_mut().for_each(|w| *w = 0);
        for _ in 0..tot {
            let mut best: Option<usize> = None;
            let mut max = 0i64;
            for (i, s) in t.srv.iter().enumerate() {
                if s.backup != want_backup || !s.usable() {
                    continue;
                }
                if tot == 1 {
                    // A one-slot map goes to the first candidate; dividing would not.
                    best = Some(i);
                    break;
                }
                let Some(ws) = self.wscore.get_mut(i) else {
                    continue;
                };
                *ws += i64::from(s.eweight);
                let v = (*ws + tot) / tot;
                if best.is_none() || v > max {
                    max = v;
                    best = Some(i);
                }
            }
            // tot > 0 implies a usable server in the group, so `best` is set.
            let Some(b) = best else { break };
            self.map.push(b);
            if let Some(ws) = self.wscore.get_mut(b) {
                *ws -= tot;
            }
        }
    }

    /// 1.4 `map_get_server_hash()`: the server in slot `h % tot_weight`.
    pub fn by_hash(&self, t: &Table, h: u32) -> Option<usize> {
        if t.tot_weight == 0 {
            return None;
        }
        self.map.get((h % t.tot_weight) as usize).copied()
    }
}

/// The map a set of weights produces with every server up and active, as letters
/// (A = first server). Used by tests and handy when explaining a distribution.
pub fn map_string(weights: &[u32]) -> String {
    let gcd = super::weights_gcd(weights);
    let model = WeightModel::Static { gcd };
    let srv = weights
        .iter()
        .map(|&w| {
            let e = model.eweight(w, None);
            super::Srv {
                backup: false,
                puid: 0,
                iweight: w,
                uweight: w,
                warmup: None,
                running: true,
                eweight: e,
                served: 0,
                prev_running: true,
                prev_eweight: e,
            }
        })
        .collect();
    let mut t = Table {
        srv,
        allbackups: false,
        srv_act: 0,
        srv_bck: 0,
        tot_wact: 0,
        tot_wbck: 0,
        fbck: None,
        tot_weight: 0,
        tot_used: 0,
    };
    t.recount();
    let m = MapLb::new(&t);
    m.map
        .iter()
        .map(|&i| char::from(b'A' + (i % 26) as u8))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{balancer, never_full, tcp_from};
    use super::*;
    use parser::ir::{Balance, HashType};

    #[test]
    fn spec_maps() {
        assert_eq!(map_string(&[1, 1]), "AB");
        assert_eq!(map_string(&[1, 1, 1]), "ABC");
        assert_eq!(map_string(&[1, 2]), "ABB");
        assert_eq!(map_string(&[2, 1]), "AAB");
        assert_eq!(map_string(&[1, 3]), "ABBB");
        assert_eq!(map_string(&[3, 1]), "AAAB");
        assert_eq!(map_string(&[3, 2, 1]), "AABABC");
        assert_eq!(map_string(&[1, 1, 2]), "ACBC");
        // Weights are divided by their GCD first.
        assert_eq!(map_string(&[2, 4]), "ABB");
        assert_eq!(map_string(&[10, 10, 20]), "ACBC");
    }

    #[test]
    fn zero_weight_and_single_server_maps() {
        assert_eq!(map_string(&[0, 1]), "B");
        assert_eq!(map_string(&[5]), "A");
        assert_eq!(map_string(&[0, 2, 0, 2]), "BD");
        assert_eq!(map_string(&[]), "");
    }

    #[test]
    fn map_proportions_hold_for_larger_weights() {
        let m = map_string(&[5, 3, 7]);
        assert_eq!(m.len(), 15);
        assert_eq!(m.matches('A').count(), 5);
        assert_eq!(m.matches('B').count(), 3);
        assert_eq!(m.matches('C').count(), 7);
        // The first slot always goes to the first server.
        assert!(m.starts_with('A'));
    }

    #[test]
    fn hash_lookup_is_modulo_total_weight() {
        // Map ABB; slot = h % 3 with h the IPv4 address as an integer.
        let b = balancer(
            Balance::Source,
            HashType::MapBased,
            false,
            &[(1, false), (2, false)],
        );
        for last in 0..30u8 {
            let h = u32::from_be_bytes([10, 0, 0, last]);
            let want = if h % 3 == 0 { 0 } else { 1 };
            assert_eq!(
                b.pick(&tcp_from([10, 0, 0, last]), None, &never_full),
                Some(want)
            );
        }
    }

    #[test]
    fn map_follows_server_state() {
        let b = balancer(
            Balance::Source,
            HashType::MapBased,
            false,
            &[(1, false), (1, false), (1, false)],
        );
        let req = tcp_from([10, 0, 0, 4]); // h % 3 == 0x0a000004 % 3 == 2
        assert_eq!(b.pick(&req, None, &never_full), Some(2));
        b.set_usable(2, false);
        // Map AB, h % 2 == 0.
        assert_eq!(b.pick(&req, None, &never_full), Some(0));
        b.set_usable(2, true);
        assert_eq!(b.pick(&req, None, &never_full), Some(2));
    }

    #[test]
    fn first_backup_quirk_sizes_map_by_that_backup() {
        // Active down, backups weighted 2 and 5, no allbackups: 1.4 sizes the map by the
        // first backup's weight (tot = 2) but lets every usable backup compete for slots.
        // Slot 0: scores 2 -> (2+2)/2 = 2 and 5 -> (5+2)/2 = 3, the second backup wins;
        // slot 1: 4 -> 3 and 8 -> 5, the second backup again. The "first" backup gets
        // nothing: that is what 1.4 does.
        let b = balancer(
            Balance::Source,
            HashType::MapBased,
            false,
            &[(1, false), (2, true), (5, true)],
        );
        b.set_usable(0, false);
        let m = {
            let g = b.inner.lock();
            match &g.engine {
                super::super::Engine::Map(m) => m.map.clone(),
                _ => Vec::new(),
            }
        };
        assert_eq!(m, vec![2, 2]);
        // With one server "in use" the source hash is skipped (h = 0): slot 0.
        assert_eq!(b.pick(&tcp_from([10, 0, 0, 1]), None, &never_full), Some(2));
        // Equal weights behave as documented: the first backup takes everything.
        let b = balancer(
            Balance::Source,
            HashType::MapBased,
            false,
            &[(1, false), (1, true), (1, true)],
        );
        b.set_usable(0, false);
        assert_eq!(b.pick(&tcp_from([10, 0, 0, 1]), None, &never_full), Some(1));
    }
}
