//! `balance url_param <param> [check_post [<max_wait>]]`: the value of a query-string
//! parameter (or, for POST with `check_post`, of a form parameter in the body) picks the
//! server.
//!
//! Compare with 1.4 `src/backend.c` `get_server_ph()`, `get_server_ph_post()` and
//! `backend_parse_balance()`.
//!
//! Query string: everything after the first `?`. Parameters are separated by `&`; the first
//! one whose name is exactly `<param>` (case-sensitive) followed by `=` is taken, and sdbm
//! runs over its value up to the next `&` or the end. Only names at the start of a
//! parameter count (`xid=1` does not match `id`).
//!
//! Body (method `POST`, `check_post` configured, parameter not in the query string): the same
//! search over the body bytes the caller passes (up to the body length and what arrived;
//! 1.4 waits for at most `<max_wait>` bytes, 48 by default, at least 3). A value must be
//! made of HTTP token characters: a blank or CR/LF ends it, any other character means the
//! body is not URL-encoded and the body is ignored.
//!
//! Not found → round-robin on the same map or ring. 1.4 hashes here even with a single
//! server in use; the result is the same.

use super::hash::sdbm_step;
use super::HttpInput;

/// The configured parameter and `check_post` limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlParam {
    name: Vec<u8>,
    post_limit: Option<u32>,
}

impl UrlParam {
    /// `check_post` is the parser's max_wait (`None` without check_post); 0 becomes 48 and
    /// values below 3 become 3, as 1.4 does.
    pub fn new(name: &[u8], check_post: Option<u32>) -> UrlParam {
        let post_limit = check_post.map(|w| match w {
            0 => 48,
            1..=2 => 3,
            w => w,
        });
        UrlParam {
            name: name.to_vec(),
            post_limit,
        }
    }

    /// How many body bytes to wait for before picking (`check_post` only).
    pub fn post_limit(&self) -> Option<u32> {
        self.post_limit
    }

    /// The request's hash, or `None` when the parameter is nowhere to be found.
    pub fn hash(&self, http: &HttpInput<'_>) -> Option<u32> {
        query_hash(http.uri, &self.name).or_else(|| {
            if self.post_limit.is_some() && http.method == b"POST" {
                body_hash(http.body, &self.name)
            } else {
                None
            }
        })
    }
}

/// Finds `name=` at the start of a `&`-separated parameter of `params` and returns the
/// value's offset, scanning as 1.4 does.
fn find_value(params: &[u8], name: &[u8]) -> Option<usize> {
    let plen = name.len();
    let mut start = 0usize;
    loop {
        let rest = params.get(start..)?;
        if rest.len() <= plen {
            return None;
        }
        if rest.get(plen) == Some(&b'=') && rest.starts_with(name) {
            return Some(start + plen + 1);
        }
        // Skip to the byte after the next '&' (searched from the parameter's start).
        let amp = rest.iter().position(|&c| c == b'&')?;
        start += amp + 1;
    }
}

/// sdbm of parameter `name`'s value in the query string of `uri`, if present.
pub fn query_hash(uri: &[u8], name: &[u8]) -> Option<u32> {
    let q = uri.iter().position(|&c| c == b'?')?;
    let params = uri.get(q + 1..)?;
    let v = find_value(params, name)?;
    let value = params.get(v..)?;
    Some(
        value
            .iter()
            .take_while(|&&c| c != b'&')
            .fold(0, |h, &c| sdbm_step(h, c)),
    )
}

/// sdbm of parameter `name`'s value in a URL-encoded POST body, if present and well-formed.
pub fn body_hash(body: &[u8], name: &[u8]) -> Option<u32> {
    if body.is_empty() {
        return None;
    }
    let v = find_value(body, name)?;
    let mut h = 0u32;
    for &c in body.get(v..)? {
        if c == b'&' {
            break;
        }
        if !is_token(c) {
            if is_lws(c) {
                // End of line: the value ends here.
                break;
            }
            // Not URL-encoded: do not take binary data for a parameter.
            return None;
        }
        h = sdbm_step(h, c);
    }
    Some(h)
}

/// RFC 2616 token character (1.4 `http_is_token`): visible ASCII except separators.
fn is_token(c: u8) -> bool {
    matches!(c, 0x21..=0x7e)
        && !matches!(
            c,
            b'(' | b')'
                | b'<'
                | b'>'
                | b'@'
                | b','
                | b';'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'='
                | b'{'
                | b'}'
        )
}

/// Linear white space (1.4 `http_is_lws`): SP, HT, CR, LF.
fn is_lws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
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
    fn query_search() {
        assert_eq!(query_hash(b"/p?id=42", b"id"), Some(sdbm(b"42")));
        assert_eq!(query_hash(b"/p?a=1&id=42&b=2", b"id"), Some(sdbm(b"42")));
        assert_eq!(query_hash(b"/p?id=", b"id"), Some(0));
        assert_eq!(query_hash(b"/p?id=a%20b", b"id"), Some(sdbm(b"a%20b")));
        // Names match at a parameter start only, case-sensitively.
        assert_eq!(query_hash(b"/p?xid=1", b"id"), None);
        assert_eq!(query_hash(b"/p?ID=1", b"id"), None);
        assert_eq!(query_hash(b"/p?id", b"id"), None);
        assert_eq!(query_hash(b"/p?idx=1&id=2", b"id"), Some(sdbm(b"2")));
        assert_eq!(query_hash(b"/p", b"id"), None);
        assert_eq!(query_hash(b"/p?a=1&&id=3", b"id"), Some(sdbm(b"3")));
        // Only the first '?' starts the query string; the path is not searched.
        assert_eq!(query_hash(b"/id=1?x=2", b"id"), None);
        // First occurrence wins.
        assert_eq!(query_hash(b"/?id=1&id=2", b"id"), Some(sdbm(b"1")));
    }

    #[test]
    fn body_search() {
        assert_eq!(body_hash(b"user=bob&x=1", b"user"), Some(sdbm(b"bob")));
        assert_eq!(body_hash(b"x=1&user=bob", b"user"), Some(sdbm(b"bob")));
        // A blank or CRLF ends the value.
        assert_eq!(body_hash(b"user=bob\r\n", b"user"), Some(sdbm(b"bob")));
        assert_eq!(body_hash(b"user=bo b", b"user"), Some(sdbm(b"bo")));
        // Non-token characters: not a form body.
        assert_eq!(body_hash(b"user=a/b", b"user"), None);
        assert_eq!(body_hash(b"user=\xc3\xa9", b"user"), None);
        assert_eq!(body_hash(b"", b"user"), None);
        assert_eq!(body_hash(b"nothing", b"user"), None);
    }

    fn url_param(check_post: Option<u32>) -> Balancer {
        balancer(
            Balance::UrlParam {
                name: "id".into(),
                check_post,
            },
            HashType::MapBased,
            false,
            &[(1, false), (1, false), (1, false)],
        )
    }

    fn pick(b: &Balancer, method: &[u8], uri: &[u8], body: &[u8]) -> Option<usize> {
        let headers: [(&[u8], &[u8]); 0] = [];
        let http = HttpInput {
            method,
            uri,
            headers: &headers,
            body,
        };
        b.pick(
            &PickInput::http(IpAddr::V4(Ipv4Addr::LOCALHOST), http),
            None,
            &never_full,
        )
    }

    #[test]
    fn found_parameter_selects_map_slot() {
        let b = url_param(None);
        for v in ["1", "2", "abc", "caf\u{e9}"] {
            let uri = format!("/x?id={v}");
            let want = (sdbm(v.as_bytes()) % 3) as usize;
            for _ in 0..3 {
                assert_eq!(pick(&b, b"GET", uri.as_bytes(), b""), Some(want), "{v}");
            }
        }
    }

    #[test]
    fn missing_parameter_falls_back_to_round_robin() {
        let b = url_param(None);
        let seq: Vec<Option<usize>> = (0..6)
            .map(|_| pick(&b, b"GET", b"/x?other=1", b""))
            .collect();
        assert_eq!(
            seq,
            vec![Some(0), Some(1), Some(2), Some(0), Some(1), Some(2)]
        );
        // A hashed request in between does not disturb the rotation.
        let _ = pick(&b, b"GET", b"/x?id=9", b"");
        assert_eq!(pick(&b, b"GET", b"/x", b""), Some(0));
    }

    #[test]
    fn post_body_only_with_check_post() {
        let want = (sdbm(b"77") % 3) as usize;
        let b = url_param(Some(48));
        assert_eq!(pick(&b, b"POST", b"/form", b"a=1&id=77"), Some(want));
        // Query string has priority over the body.
        assert_eq!(
            pick(&b, b"POST", b"/form?id=5", b"id=77"),
            Some((sdbm(b"5") % 3) as usize)
        );
        // Only POST bodies are searched ("post" is not POST).
        let b = url_param(Some(48));
        assert_eq!(pick(&b, b"post", b"/form", b"id=77"), Some(0));
        assert_eq!(pick(&b, b"post", b"/form", b"id=77"), Some(1));
        // Without check_post the body is ignored.
        let b = url_param(None);
        assert_eq!(pick(&b, b"POST", b"/form", b"id=77"), Some(0));
        assert_eq!(pick(&b, b"POST", b"/form", b"id=77"), Some(1));
    }

    #[test]
    fn post_limit_normalised() {
        assert_eq!(UrlParam::new(b"id", None).post_limit(), None);
        assert_eq!(UrlParam::new(b"id", Some(0)).post_limit(), Some(48));
        assert_eq!(UrlParam::new(b"id", Some(1)).post_limit(), Some(3));
        assert_eq!(UrlParam::new(b"id", Some(100)).post_limit(), Some(100));
        assert_eq!(url_param(Some(48)).url_param_post_limit(), Some(48));
    }

    #[test]
    fn token_table() {
        for c in b"!#$%&'*+-.^_`|~09AZaz" {
            assert!(is_token(*c), "{}", *c as char);
        }
        for c in b"()<>@,;:\\\"/[]?={} \t\x7f\x80\x00" {
            assert!(!is_token(*c), "{c:#x}");
        }
    }
}
