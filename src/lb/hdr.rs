//! `balance hdr(<name>) [use_domain_only]`: the value of a request header picks the server.
//!
//! Compare with 1.4 `src/backend.c` `get_server_hh()` and, for how the value is cut,
//! `src/proto_http.c` `http_find_header2()` / `find_hdr_value_end()`.
//!
//! The value is the first comma-separated element of the first occurrence of the header:
//! leading blanks skipped, cut at the first comma outside a quoted string, trailing blanks
//! trimmed. A missing header or an empty element falls back to round-robin. With a single
//! server in use hashing is skipped.
//!
//! With `use_domain_only` (meant for `Host`), the value is scanned backwards: nothing is
//! hashed until the last `.`, then characters are hashed in reverse order until the previous
//! `.`. `haproxy.1wt.eu` hashes `t`, `w`, `1`, i.e. the domain name without its TLD or host
//! part. A value without a dot hashes nothing and gives 0.

use super::hash::sdbm_step;
use super::HeaderLookup;

/// The configured header name and option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HdrHash {
    name: Vec<u8>,
    use_domain_only: bool,
}

impl HdrHash {
    pub fn new(name: &[u8], use_domain_only: bool) -> HdrHash {
        HdrHash {
            name: name.to_vec(),
            use_domain_only,
        }
    }

    /// The request's hash, or `None` when the header is missing or its element is empty.
    pub fn hash(&self, headers: &dyn HeaderLookup) -> Option<u32> {
        let value = first_element(headers.first_value(&self.name)?);
        if value.is_empty() {
            return None;
        }
        Some(if self.use_domain_only {
            domain_hash(value)
        } else {
            value.iter().fold(0, |h, &c| sdbm_step(h, c))
        })
    }
}

fn is_lws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// The first element of a header value as 1.4 returns it: leading LWS skipped, up to the
/// first comma not inside a double-quoted string (backslash escapes honoured inside quotes),
/// trailing LWS trimmed.
pub fn first_element(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|&c| !is_lws(c))
        .unwrap_or(value.len());
    let v = value.get(start..).unwrap_or_default();
    let mut end = v.len();
    let (mut quoted, mut escaped) = (false, false);
    for (i, &c) in v.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted {
            match c {
                b'\\' => escaped = true,
                b'"' => quoted = false,
                _ => {}
            }
        } else if c == b'"' {
            quoted = true;
        } else if c == b',' {
            end = i;
            break;
        }
    }
    let v = v.get(..end).unwrap_or_default();
    let trimmed = v.iter().rposition(|&c| !is_lws(c)).map_or(0, |p| p + 1);
    v.get(..trimmed).unwrap_or_default()
}

/// `use_domain_only`: from the end, skip to the last dot, then hash (in reverse order) up to
/// the dot before it.
pub fn domain_hash(value: &[u8]) -> u32 {
    let mut h = 0u32;
    let mut hashing = false;
    for &c in value.iter().rev() {
        if c == b'.' {
            if hashing {
                break;
            }
            hashing = true;
        } else if hashing {
            h = sdbm_step(h, c);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::super::hash::sdbm;
    use super::super::tests::{balancer, never_full};
    use super::super::{Balancer, HttpInput, PickInput};
    use super::*;
    use parser::ir::{Balance, HashType};
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn element_extraction() {
        assert_eq!(first_element(b" a.example "), b"a.example");
        assert_eq!(first_element(b"a, b"), b"a");
        assert_eq!(first_element(b"\"x,y\", z"), b"\"x,y\"");
        assert_eq!(first_element(b"\"x\\\",y\",z"), b"\"x\\\",y\"");
        assert_eq!(first_element(b" , b"), b"");
        assert_eq!(first_element(b"   "), b"");
        assert_eq!(first_element(b"\tv\t"), b"v");
    }

    #[test]
    fn domain_only() {
        // 't', 'w', '1' in that order.
        assert_eq!(domain_hash(b"haproxy.1wt.eu"), sdbm(b"tw1"));
        assert_eq!(domain_hash(b"www.example.com"), sdbm(b"elpmaxe"));
        assert_eq!(domain_hash(b"example.com"), sdbm(b"elpmaxe"));
        assert_eq!(domain_hash(b"localhost"), 0);
        assert_eq!(domain_hash(b"a.b.c.d"), sdbm(b"c"));
    }

    fn hdr(use_domain_only: bool) -> Balancer {
        balancer(
            Balance::Hdr {
                name: "Host".into(),
                use_domain_only,
            },
            HashType::MapBased,
            false,
            &[(1, false), (1, false), (1, false), (1, false), (1, false)],
        )
    }

    fn pick(b: &Balancer, headers: &[(&[u8], &[u8])]) -> Option<usize> {
        let http = HttpInput {
            method: b"GET",
            uri: b"/",
            headers: &headers,
            body: &[],
        };
        b.pick(
            &PickInput::http(IpAddr::V4(Ipv4Addr::LOCALHOST), http),
            None,
            &never_full,
        )
    }

    #[test]
    fn header_value_picks_server() {
        let b = hdr(false);
        let want = (sdbm(b"www.example.com") % 5) as usize;
        for _ in 0..3 {
            assert_eq!(pick(&b, &[(b"host", b" www.example.com")]), Some(want));
        }
        // First occurrence, first element.
        assert_eq!(
            pick(
                &b,
                &[(b"Host", b"www.example.com, other"), (b"Host", b"zzz")]
            ),
            Some(want)
        );
    }

    #[test]
    fn domain_only_ignores_host_and_tld() {
        let b = hdr(true);
        let want = (sdbm(b"tw1") % 5) as usize;
        assert_eq!(pick(&b, &[(b"Host", b"haproxy.1wt.eu")]), Some(want));
        assert_eq!(pick(&b, &[(b"Host", b"www.1wt.fr")]), Some(want));
    }

    #[test]
    fn missing_or_empty_header_falls_back_to_round_robin() {
        let b = hdr(false);
        let seq: Vec<Option<usize>> = (0..3).map(|_| pick(&b, &[(b"Other", b"x")])).collect();
        assert_eq!(seq, vec![Some(0), Some(1), Some(2)]);
        assert_eq!(pick(&b, &[(b"Host", b"")]), Some(3));
        assert_eq!(pick(&b, &[(b"Host", b" , x")]), Some(4));
        // TCP mode: no headers at all.
        assert_eq!(
            b.pick(
                &PickInput::tcp(IpAddr::V4(Ipv4Addr::LOCALHOST), &[]),
                None,
                &never_full
            ),
            Some(0)
        );
    }

    #[test]
    fn single_server_skips_hashing() {
        let b = balancer(
            Balance::Hdr {
                name: "Host".into(),
                use_domain_only: false,
            },
            HashType::MapBased,
            false,
            &[(1, false), (1, false)],
        );
        b.set_usable(0, false);
        assert_eq!(pick(&b, &[(b"Host", b"a")]), Some(1));
    }
}
