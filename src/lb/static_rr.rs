//! `balance static-rr`, and the round-robin fallback of map-based hash algorithms when the
//! request has no hash input: walk the weighted map ([`super::map`]) slot by slot.
//!
//! Compare with 1.4 `src/lb_map.c` `map_get_server_rr()`.
//!
//! The position is kept across state changes; a map that shrank below it restarts at slot 0.
//! Saturated servers are skipped; the server to avoid on redispatch is only returned when it
//! is the sole non-saturated one.

use super::map::MapLb;
use super::Table;

impl MapLb {
    /// Next server in map order starting at the saved slot, skipping servers for which
    /// `is_full` is true and `avoid`. Returns `avoid` if nothing else qualifies, `None` if
    /// every server is saturated or the map is empty.
    ///
    /// 1.4 tests `cur_sess < dynamic maxconn` here rather than the queue-aware test the tree
    /// algorithms use; `is_full` stands for both.
    pub(crate) fn next_rr(
        &mut self,
        t: &Table,
        avoid: Option<usize>,
        is_full: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        let tot = self.map.len();
        if t.tot_weight == 0 || tot == 0 {
            return None;
        }
        if self.rr_idx >= tot {
            self.rr_idx = 0;
        }
        let start = self.rr_idx;
        let mut idx = start;
        let mut avoided: Option<(usize, usize)> = None;
        loop {
            let srv = *self.map.get(idx)?;
            idx += 1;
            if !is_full(srv) {
                if Some(srv) != avoid {
                    self.rr_idx = idx;
                    return Some(srv);
                }
                // Remember it was selectable, in case nothing else is.
                avoided = Some((srv, idx));
            }
            if idx == tot {
                idx = 0;
            }
            if idx == start {
                break;
            }
        }
        let (srv, at) = avoided?;
        self.rr_idx = at;
        Some(srv)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{balancer, sequence, tcp_from};
    use parser::ir::{Balance, HashType};

    fn static_rr(weights: &[u32]) -> super::super::Balancer {
        let srv: Vec<(u32, bool)> = weights.iter().map(|&w| (w, false)).collect();
        balancer(Balance::StaticRr, HashType::MapBased, false, &srv)
    }

    #[test]
    fn sequences_repeat_the_map() {
        assert_eq!(sequence(&static_rr(&[1, 1]), 6), "ABABAB");
        assert_eq!(sequence(&static_rr(&[1, 1, 1]), 6), "ABCABC");
        assert_eq!(sequence(&static_rr(&[1, 2]), 6), "ABBABB");
        assert_eq!(sequence(&static_rr(&[3, 2, 1]), 12), "AABABCAABABC");
        assert_eq!(sequence(&static_rr(&[1, 1, 2]), 8), "ACBCACBC");
        assert_eq!(sequence(&static_rr(&[2, 4]), 6), "ABBABB");
    }

    #[test]
    fn hash_type_does_not_matter_for_static_rr() {
        let b = balancer(
            Balance::StaticRr,
            HashType::Consistent,
            false,
            &[(1, false), (2, false)],
        );
        assert_eq!(sequence(&b, 6), "ABBABB");
    }

    #[test]
    fn full_servers_are_skipped() {
        let b = static_rr(&[1, 1, 1]);
        let req = tcp_from([10, 0, 0, 1]);
        let full_b = |i: usize| i == 1;
        let seq: String = (0..6)
            .map(|_| {
                b.pick(&req, None, &full_b)
                    .map_or('-', |i| char::from(b'A' + i as u8))
            })
            .collect();
        assert_eq!(seq, "ACACAC");
        assert_eq!(b.pick(&req, None, &|_| true), None);
    }

    #[test]
    fn position_survives_state_changes() {
        let b = static_rr(&[1, 1, 1]);
        assert_eq!(sequence(&b, 2), "AB");
        b.set_usable(0, false);
        // Map BC, saved slot 2 is past the end: restart at slot 0.
        assert_eq!(sequence(&b, 3), "BCB");
        b.set_usable(0, true);
        // Map ABC again, saved slot 1.
        assert_eq!(sequence(&b, 3), "BCA");
    }

    #[test]
    fn fallback_rr_for_hash_without_input() {
        // balance uri in TCP mode has no URI: round-robin over the map ABB.
        let b = balancer(
            Balance::Uri {
                len: None,
                depth: None,
                whole: false,
            },
            HashType::MapBased,
            false,
            &[(1, false), (2, false)],
        );
        assert_eq!(sequence(&b, 6), "ABBABB");
    }
}
