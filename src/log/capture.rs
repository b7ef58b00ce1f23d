//! `capture cookie <prefix> len <n>`: the cookie a traffic log line shows in its request and
//! response cookie fields. Works on header values only (no buffers, no sockets), so the
//! stream passes the `Cookie` / `Set-Cookie` values of the edited head.
//!
//! Compare with 1.4 `src/proto_http.c` `manage_client_side_cookies` and
//! `manage_server_side_cookies` (the capture part) and `find_cookie_value_end`:
//!
//! * a request `Cookie` header holds several cookies separated by `;` or `,` (outside double
//!   quotes); a `Set-Cookie` header holds one cookie followed by its attributes, so only its
//!   first `name=value` counts;
//! * blanks around the name, the `=` and the value are dropped (1.4 removes them from the
//!   buffer before capturing), cookies without `=` and request cookies whose name starts with
//!   `$` (RFC 2109 attributes) are skipped;
//! * the first cookie whose `name=value` text starts with the configured prefix is kept (a
//!   byte comparison, case-sensitive), cut to the configured length. Only one cookie is
//!   captured per direction.

/// One `name=value` element of a cookie header: the name and the value with the blanks
/// around them removed, and what follows the element.
struct CookieItem<'a> {
    name: &'a [u8],
    /// `None` when the element has no `=`.
    value: Option<&'a [u8]>,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_blanks(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_blank(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_blank(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// Offset of the first `;` or `,` outside a double-quoted string (with `\` escapes inside
/// quotes), or `s.len()` (1.4 `find_cookie_value_end`).
fn value_end(s: &[u8]) -> usize {
    let mut quoted = false;
    let mut escaped = false;
    for (i, &b) in s.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted {
            match b {
                b'\\' => escaped = true,
                b'"' => quoted = false,
                _ => {}
            }
        } else if b == b'"' {
            quoted = true;
        } else if b == b';' || b == b',' {
            return i;
        }
    }
    s.len()
}

/// Splits the element starting at `s` and returns it with the offset of the delimiter that
/// ends it (or `s.len()`).
fn next_item(s: &[u8]) -> (CookieItem<'_>, usize) {
    // The name stops at `=` or a delimiter.
    let name_end = s
        .iter()
        .position(|&b| b == b'=' || b == b';' || b == b',')
        .unwrap_or(s.len());
    let name = trim_blanks(&s[..name_end]);
    if s.get(name_end) != Some(&b'=') {
        return (CookieItem { name, value: None }, name_end);
    }
    let rest = &s[name_end + 1..];
    let end = value_end(rest);
    let value = trim_blanks(&rest[..end]);
    (
        CookieItem {
            name,
            value: Some(value),
        },
        name_end + 1 + end,
    )
}

/// Writes `name=value` into `out` (cleared first), cut to `max` bytes, when it starts with
/// `prefix`. Returns whether it matched.
fn capture_item(item: &CookieItem, prefix: &[u8], max: usize, out: &mut Vec<u8>) -> bool {
    let Some(value) = item.value else {
        return false;
    };
    let total = item.name.len() + 1 + value.len();
    if total < prefix.len() {
        return false;
    }
    out.clear();
    out.extend_from_slice(item.name);
    out.push(b'=');
    out.extend_from_slice(value);
    if !out.starts_with(prefix) {
        out.clear();
        return false;
    }
    out.truncate(max);
    true
}

/// Looks for the captured cookie in the values of the request's `Cookie` headers, in order.
/// On a match, `out` holds `name=value` (at most `max` bytes) and the result is true.
pub fn capture_request_cookie<'a>(
    cookie_headers: impl IntoIterator<Item = &'a [u8]>,
    prefix: &[u8],
    max: usize,
    out: &mut Vec<u8>,
) -> bool {
    for mut v in cookie_headers {
        while !v.is_empty() {
            let (item, end) = next_item(v);
            let skip = item.name.first() == Some(&b'$');
            if !skip && capture_item(&item, prefix, max, out) {
                return true;
            }
            // Step over the delimiter.
            v = v.get(end + 1..).unwrap_or(&[]);
        }
    }
    false
}

/// Looks for the captured cookie in the values of the response's `Set-Cookie` headers: the
/// first `name=value` of each header, in order. Same result as [`capture_request_cookie`].
pub fn capture_response_cookie<'a>(
    set_cookie_headers: impl IntoIterator<Item = &'a [u8]>,
    prefix: &[u8],
    max: usize,
    out: &mut Vec<u8>,
) -> bool {
    for v in set_cookie_headers {
        let (item, _) = next_item(v);
        if capture_item(&item, prefix, max, out) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[&[u8]], prefix: &str, max: usize) -> Option<String> {
        let mut out = Vec::new();
        capture_request_cookie(headers.iter().copied(), prefix.as_bytes(), max, &mut out)
            .then(|| String::from_utf8(out).unwrap())
    }

    fn res(headers: &[&[u8]], prefix: &str, max: usize) -> Option<String> {
        let mut out = Vec::new();
        capture_response_cookie(headers.iter().copied(), prefix.as_bytes(), max, &mut out)
            .then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn request_prefix_match_first_wins() {
        assert_eq!(
            req(&[b"a=1; SRVID=abc; SRV=z"], "SRV", 63).as_deref(),
            Some("SRVID=abc")
        );
        assert_eq!(
            req(&[b"x=1", b"y=2, SRV=s1"], "SRV=", 63).as_deref(),
            Some("SRV=s1")
        );
        // The prefix may reach into the value.
        assert_eq!(
            req(&[b"SRV=s1; SRV=s2"], "SRV=s2", 63).as_deref(),
            Some("SRV=s2")
        );
        assert_eq!(req(&[b"srv=s1"], "SRV", 63), None, "case-sensitive");
        assert_eq!(req(&[], "SRV", 63), None);
    }

    #[test]
    fn request_blanks_quotes_dollar_and_length() {
        assert_eq!(
            req(&[b"  SRV = s1 ;x=2"], "SRV", 63).as_deref(),
            Some("SRV=s1")
        );
        assert_eq!(
            req(&[b"$Version=1; SRV=\"a;b,c\"; z=1"], "S", 63).as_deref(),
            Some("SRV=\"a;b,c\"")
        );
        assert_eq!(req(&[b"$SRV=1"], "$SRV", 63), None);
        assert_eq!(req(&[b"SRV; SRVX=2"], "SRV", 63).as_deref(), Some("SRVX=2"));
        assert_eq!(
            req(&[b"JSESSIONID=0123456789"], "JSESSIONID", 14).as_deref(),
            Some("JSESSIONID=012")
        );
        assert_eq!(req(&[b"SRV="], "SRV", 63).as_deref(), Some("SRV="));
    }

    #[test]
    fn response_first_pair_of_each_header() {
        assert_eq!(
            res(&[b"SRV=zz; path=/; SRVX=no"], "SRV", 63).as_deref(),
            Some("SRV=zz")
        );
        assert_eq!(
            res(&[b"other=1; SRV=attr", b"SRV=second"], "SRV", 63).as_deref(),
            Some("SRV=second")
        );
        assert_eq!(res(&[b"SRV"], "SRV", 63), None);
        assert_eq!(
            res(&[b"SERVERID=s1"], "SERVERID", 5).as_deref(),
            Some("SERVE")
        );
    }
}
