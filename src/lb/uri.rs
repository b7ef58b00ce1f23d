//! `balance uri [len <n>] [depth <n>] [whole]`: the request-URI picks the server, so the same
//! object always comes from the same cache.
//!
//! Compare with 1.4 `src/backend.c` `get_server_uh()` and `backend_parse_balance()`.
//!
//! sdbm over the request-URI exactly as sent (an absolute URI includes its scheme and host):
//! - at most `len` bytes when `len` is set;
//! - up to, not including, the first `?` unless `whole`;
//! - with `depth N`, up to, not including, the (N+1)-th `/`.
//!
//! Before the request line is parsed (TCP mode) there is no URI and the pick falls back to
//! round-robin; with a single server in use hashing is skipped.

use super::hash::sdbm_step;

/// The configured `balance uri` options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UriHash {
    /// `len`; 0 or absent means no limit.
    len_limit: Option<u32>,
    /// `depth + 1`: the slash count at which hashing stops.
    depth1: Option<u32>,
    whole: bool,
}

impl UriHash {
    pub fn new(len: Option<u32>, depth: Option<u32>, whole: bool) -> UriHash {
        UriHash {
            len_limit: len.filter(|&l| l > 0),
            depth1: depth.map(|d| d.saturating_add(1)),
            whole,
        }
    }

    /// The hash of `uri` under these options.
    pub fn hash(&self, uri: &[u8]) -> u32 {
        let n = self
            .len_limit
            .map_or(uri.len(), |l| uri.len().min(l as usize));
        let mut h = 0u32;
        let mut slashes = 0u32;
        for &c in uri.iter().take(n) {
            if c == b'/' {
                slashes += 1;
                if Some(slashes) == self.depth1 {
                    break;
                }
            } else if c == b'?' && !self.whole {
                break;
            }
            h = sdbm_step(h, c);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::super::hash::sdbm;
    use super::super::tests::{balancer, never_full};
    use super::super::{HttpInput, PickInput};
    use super::*;
    use parser::ir::{Balance, HashType};
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn plain_stops_at_question_mark() {
        let u = UriHash::new(None, None, false);
        assert_eq!(u.hash(b"/a/b/c.html?x=1"), sdbm(b"/a/b/c.html"));
        assert_eq!(u.hash(b"/a/b/c.html"), sdbm(b"/a/b/c.html"));
        assert_eq!(u.hash(b"http://h.example/p?q"), sdbm(b"http://h.example/p"));
    }

    #[test]
    fn whole_includes_query() {
        let u = UriHash::new(None, None, true);
        assert_eq!(u.hash(b"/a?x=1&y=2"), sdbm(b"/a?x=1&y=2"));
    }

    #[test]
    fn len_limits_bytes() {
        let u = UriHash::new(Some(4), None, false);
        assert_eq!(u.hash(b"/abcdef"), sdbm(b"/abc"));
        assert_eq!(u.hash(b"/a?bcdef"), sdbm(b"/a"));
        assert_eq!(u.hash(b"/ab"), sdbm(b"/ab"));
        assert_eq!(
            UriHash::new(Some(0), None, false).hash(b"/abc"),
            sdbm(b"/abc")
        );
    }

    #[test]
    fn depth_stops_before_slash() {
        let u = UriHash::new(None, Some(2), false);
        // Stops at the third '/': "/a/b" is hashed.
        assert_eq!(u.hash(b"/a/b/c/d.html"), sdbm(b"/a/b"));
        assert_eq!(u.hash(b"/a/b"), sdbm(b"/a/b"));
        assert_eq!(u.hash(b"/a?/b/c"), sdbm(b"/a"));
        let u = UriHash::new(None, Some(1), false);
        assert_eq!(u.hash(b"/img/x.png"), sdbm(b"/img"));
        // Slashes of an absolute URI count too.
        let u = UriHash::new(None, Some(3), false);
        assert_eq!(u.hash(b"http://h/a/b"), sdbm(b"http://h/a"));
    }

    #[test]
    fn depth_len_and_whole_combine() {
        let u = UriHash::new(Some(6), Some(2), true);
        assert_eq!(u.hash(b"/a?b/c/d"), sdbm(b"/a?b/c"));
        assert_eq!(u.hash(b"/abcdefgh/i"), sdbm(b"/abcde"));
    }

    #[test]
    fn picks_map_slot_of_uri_hash() {
        let b = balancer(
            Balance::Uri {
                len: None,
                depth: None,
                whole: false,
            },
            HashType::MapBased,
            false,
            &[(1, false), (1, false), (1, false)],
        );
        let headers: [(&[u8], &[u8]); 0] = [];
        for uri in [&b"/index.html"[..], b"/a/b?c", b"/caf\xc3\xa9", b"/x"] {
            let http = HttpInput {
                method: b"GET",
                uri,
                headers: &headers,
                body: &[],
            };
            let req = PickInput::http(IpAddr::V4(Ipv4Addr::LOCALHOST), http);
            let want = (UriHash::new(None, None, false).hash(uri) % 3) as usize;
            assert_eq!(b.pick(&req, None, &never_full), Some(want));
        }
        // sdbm("/index.html") = 858007926 (1.4 C reference), 858007926 % 3 = 0.
        assert_eq!(858_007_926u32 % 3, 0);
    }
}
