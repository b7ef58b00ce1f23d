//! ACL pattern matching: one function per [`Matcher`] kind, and [`match_sample`] which
//! applies a whole pattern list to one fetched sample (true when any pattern matches).
//!
//! Keywords: the criterion suffixes `_beg`, `_end`, `_sub`, `_dir`, `_dom`, `_reg`, `_len`,
//! plain exact matching, integer ranges, dotted versions (`req_ssl_ver`), IPv4 networks,
//! `method` patterns, `http_auth_group` groups, and the `-i` flag.
//!
//! Compare with 1.4 `acl_match_*` in `src/acl.c` and `acl_match_meth` in `src/proto_http.c`.
//! Case-insensitive comparisons are ASCII-only (`strncasecmp` in the C locale). Regexes are
//! compiled by the parser (with `-i` folded in); like `regexec` on a C string, they only see
//! the value up to its first NUL byte.

use super::auth;
use super::fetch::Sample;
use parser::ir::{IntRange, IpNet, Matcher, MethodPattern, StrPatterns};
use regex::bytes::Regex;
use std::net::IpAddr;

/// Whether `sample` matches `matcher`. Samples of a type the matcher does not handle never
/// match (an integer fetch with string patterns, an IPv6 address against IPv4 networks...).
/// [`Sample::Bool`] is the fetch's own verdict and ignores the patterns.
pub fn match_sample(matcher: &Matcher, sample: &Sample<'_>) -> bool {
    match (matcher, sample) {
        (_, Sample::Bool(b)) => *b,
        (Matcher::Groups(groups), Sample::Auth { userlist, creds }) => {
            // `http_auth_group` with no group cannot be configured in 1.4; never grant it.
            !groups.is_empty() && auth::check_user(userlist, Some(groups), creds.user, creds.pass)
        }
        // `http_auth`: 1.4 checks the credentials once, whatever the pattern list.
        (_, Sample::Auth { userlist, creds }) => {
            auth::check_user(userlist, None, creds.user, creds.pass)
        }
        (Matcher::Str(p), Sample::Str(v)) => any_str(p, v, match_str),
        (Matcher::Beg(p), Sample::Str(v)) => any_str(p, v, match_beg),
        (Matcher::End(p), Sample::Str(v)) => any_str(p, v, match_end),
        (Matcher::Sub(p), Sample::Str(v)) => any_str(p, v, match_sub),
        (Matcher::Dir(p), Sample::Str(v)) => any_str(p, v, match_dir),
        (Matcher::Dom(p), Sample::Str(v)) => any_str(p, v, match_dom),
        (Matcher::Reg(res), Sample::Str(v)) => res.iter().any(|re| match_reg(re, v)),
        (Matcher::Len(ranges), Sample::Str(v)) => {
            let len = i64::try_from(v.len()).unwrap_or(i64::MAX);
            ranges.iter().any(|r| match_int(r, len))
        }
        (Matcher::Int(ranges) | Matcher::Version(ranges), Sample::Int(v)) => {
            ranges.iter().any(|r| match_int(r, *v))
        }
        (Matcher::Ip(nets), Sample::Ip(ip)) => nets.iter().any(|n| match_ip(n, *ip)),
        (Matcher::Method(pats), Sample::Method(m)) => pats.iter().any(|p| match_method(p, m)),
        _ => false,
    }
}

/// Applies a string matcher with each pattern and its own `-i` state.
fn any_str(p: &StrPatterns, v: &[u8], f: fn(&[u8], bool, &[u8]) -> bool) -> bool {
    p.values
        .iter()
        .enumerate()
        .any(|(i, pat)| f(pat, p.icase.get(i).copied().unwrap_or(false), v))
}

fn bytes_eq(a: &[u8], b: &[u8], icase: bool) -> bool {
    if icase {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

/// Exact match: same length and same bytes.
pub fn match_str(pat: &[u8], icase: bool, v: &[u8]) -> bool {
    bytes_eq(pat, v, icase)
}

/// `_beg`: the value starts with the pattern.
pub fn match_beg(pat: &[u8], icase: bool, v: &[u8]) -> bool {
    v.get(..pat.len())
        .is_some_and(|head| bytes_eq(pat, head, icase))
}

/// `_end`: the value ends with the pattern.
pub fn match_end(pat: &[u8], icase: bool, v: &[u8]) -> bool {
    v.len()
        .checked_sub(pat.len())
        .and_then(|start| v.get(start..))
        .is_some_and(|tail| bytes_eq(pat, tail, icase))
}

/// `_sub`: the pattern occurs somewhere in the value. An empty pattern never matches (1.4
/// compares the pattern's terminating NUL with the value).
pub fn match_sub(pat: &[u8], icase: bool, v: &[u8]) -> bool {
    !pat.is_empty() && v.windows(pat.len()).any(|w| bytes_eq(pat, w, icase))
}

/// `_dir`: the pattern is a run of whole `/`- or `?`-delimited words of the value.
pub fn match_dir(pat: &[u8], icase: bool, v: &[u8]) -> bool {
    match_word(pat, icase, v, b"/?")
}

/// `_dom`: the pattern is a run of whole `/`, `?`, `.` or `:`-delimited words of the value.
pub fn match_dom(pat: &[u8], icase: bool, v: &[u8]) -> bool {
    match_word(pat, icase, v, b"/?.:")
}

/// 1.4 `match_word`: delimiters at the pattern's ends are ignored; the remaining pattern
/// must start at the value's start or right after a delimiter, and end at the value's end or
/// right before a delimiter. A pattern made only of delimiters never matches.
fn match_word(pat: &[u8], icase: bool, v: &[u8], delims: &[u8]) -> bool {
    let is_delim = |b: &u8| delims.contains(b);
    let Some(first) = pat.iter().position(|b| !is_delim(b)) else {
        return false;
    };
    let last = pat.iter().rposition(|b| !is_delim(b)).unwrap_or(first);
    let Some(word) = pat.get(first..=last) else {
        return false;
    };
    let Some(max_start) = v.len().checked_sub(word.len()) else {
        return false;
    };
    let mut at_word_start = true;
    for (start, b) in v.iter().enumerate().take(max_start + 1) {
        if is_delim(b) {
            at_word_start = true;
            continue;
        }
        if at_word_start {
            let end = start + word.len();
            let ends_word = end == v.len() || v.get(end).is_some_and(is_delim);
            if ends_word && v.get(start..end).is_some_and(|c| bytes_eq(word, c, icase)) {
                return true;
            }
        }
        at_word_start = false;
    }
    false
}

/// `_reg`: the (unanchored unless the pattern says otherwise) regex finds a match in the
/// value up to its first NUL byte.
pub fn match_reg(re: &Regex, v: &[u8]) -> bool {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    v.get(..end).is_some_and(|s| re.is_match(s))
}

/// Integer, `_len` and dotted-version patterns: the value lies in the inclusive range.
pub fn match_int(range: &IntRange, v: i64) -> bool {
    range.contains(v)
}

/// Network patterns. 1.4 only matches IPv4 values against IPv4 networks: an IPv6 client
/// (even an IPv4-mapped one) never matches an IPv4 pattern. IPv6 networks, which 1.4 cannot
/// express, match IPv6 values.
pub fn match_ip(net: &IpNet, ip: IpAddr) -> bool {
    match (net.addr, ip) {
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => net.contains(ip),
        _ => false,
    }
}

/// Methods 1.4 recognises by name (`find_http_meth`), compared case-sensitively.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KnownMethod {
    Options,
    Get,
    Head,
    Post,
    Put,
    Delete,
    Trace,
    Connect,
}

/// How 1.4 classifies a method token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodClass<'a> {
    Known(KnownMethod),
    /// Starts with an uppercase ASCII letter but is not a known method.
    Other(&'a [u8]),
    /// Empty or not starting with an uppercase ASCII letter (1.4 `HTTP_METH_NONE`). All such
    /// tokens are equal to each other for `method` matching.
    None,
}

/// Classifies a method token as 1.4's `find_http_meth` does.
pub fn classify_method(m: &[u8]) -> MethodClass<'_> {
    let known = match m {
        b"OPTIONS" => Some(KnownMethod::Options),
        b"GET" => Some(KnownMethod::Get),
        b"HEAD" => Some(KnownMethod::Head),
        b"POST" => Some(KnownMethod::Post),
        b"PUT" => Some(KnownMethod::Put),
        b"DELETE" => Some(KnownMethod::Delete),
        b"TRACE" => Some(KnownMethod::Trace),
        b"CONNECT" => Some(KnownMethod::Connect),
        _ => None,
    };
    match (known, m.first()) {
        (Some(k), _) => MethodClass::Known(k),
        (None, Some(b'A'..=b'Z')) => MethodClass::Other(m),
        (None, _) => MethodClass::None,
    }
}

/// `method` patterns: known methods compare by identity; other tokens compare bytes (with
/// the pattern's `-i`); tokens 1.4 cannot classify (lowercase first letter) all match each
/// other, as in 1.4 where both sides become `HTTP_METH_NONE`.
pub fn match_method(pat: &MethodPattern, m: &[u8]) -> bool {
    let (pclass, icase) = match pat {
        MethodPattern::Options => (MethodClass::Known(KnownMethod::Options), false),
        MethodPattern::Get => (MethodClass::Known(KnownMethod::Get), false),
        MethodPattern::Head => (MethodClass::Known(KnownMethod::Head), false),
        MethodPattern::Post => (MethodClass::Known(KnownMethod::Post), false),
        MethodPattern::Put => (MethodClass::Known(KnownMethod::Put), false),
        MethodPattern::Delete => (MethodClass::Known(KnownMethod::Delete), false),
        MethodPattern::Trace => (MethodClass::Known(KnownMethod::Trace), false),
        MethodPattern::Connect => (MethodClass::Known(KnownMethod::Connect), false),
        MethodPattern::Other { name, icase } => (classify_method(name), *icase),
    };
    match (pclass, classify_method(m)) {
        (MethodClass::Known(a), MethodClass::Known(b)) => a == b,
        (MethodClass::Other(p), MethodClass::Other(v)) => bytes_eq(p, v, icase),
        (MethodClass::None, MethodClass::None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn strs(values: &[&str], icase: bool) -> StrPatterns {
        StrPatterns {
            values: values.iter().map(|v| v.as_bytes().to_vec()).collect(),
            icase: vec![icase; values.len()],
        }
    }

    fn m(matcher: &Matcher, v: &str) -> bool {
        match_sample(matcher, &Sample::Str(v.as_bytes()))
    }

    #[test]
    fn exact_with_and_without_icase() {
        assert!(m(&Matcher::Str(strs(&["abc"], false)), "abc"));
        assert!(!m(&Matcher::Str(strs(&["abc"], false)), "ABC"));
        assert!(m(&Matcher::Str(strs(&["abc"], true)), "ABC"));
        assert!(!m(&Matcher::Str(strs(&["abc"], true)), "abcd"));
        assert!(m(&Matcher::Str(strs(&["x", "abc"], false)), "abc"));
        // -i only applies to the patterns after it.
        let mixed = StrPatterns {
            values: vec![b"one".to_vec(), b"two".to_vec()],
            icase: vec![false, true],
        };
        assert!(!m(&Matcher::Str(mixed.clone()), "ONE"));
        assert!(m(&Matcher::Str(mixed), "TWO"));
    }

    #[test]
    fn beg_end_sub() {
        assert!(match_beg(b"/img", false, b"/img/a.png"));
        assert!(!match_beg(b"/IMG", false, b"/img/a.png"));
        assert!(match_beg(b"/IMG", true, b"/img/a.png"));
        assert!(!match_beg(b"/img/a.png/x", false, b"/img/a.png"));
        assert!(match_beg(b"", false, b"x"));
        assert!(match_end(b".png", false, b"/img/a.png"));
        assert!(!match_end(b".PNG", false, b"/img/a.png"));
        assert!(match_end(b".PNG", true, b"/img/a.png"));
        assert!(!match_end(b"long.png", false, b"a.png"));
        assert!(match_sub(b"admin", false, b"/x/admin/y"));
        assert!(!match_sub(b"ADMIN", false, b"/x/admin/y"));
        assert!(match_sub(b"ADMIN", true, b"/x/admin/y"));
        assert!(match_sub(b"y", false, b"/x/admin/y"));
        assert!(!match_sub(b"", false, b"abc"));
        assert!(!match_sub(b"abcd", false, b"abc"));
    }

    #[test]
    fn dir_and_dom_words() {
        assert!(match_dir(b"img", false, b"/static/img/a.png"));
        assert!(match_dir(b"/img/", false, b"/static/img/a.png"));
        assert!(match_dir(b"static/img", false, b"/static/img/a.png"));
        assert!(!match_dir(b"im", false, b"/static/img/a.png"));
        assert!(!match_dir(b"IMG", false, b"/static/img/a.png"));
        assert!(match_dir(b"IMG", true, b"/static/img/a.png"));
        assert!(match_dir(b"q", false, b"/a?q"));
        assert!(!match_dir(b"a.png", false, b"/static/img/xa.png"));
        assert!(!match_dir(b"/", false, b"/a/b"));
        assert!(match_dom(b"example", false, b"www.example.com:80"));
        assert!(match_dom(b"example.com", false, b"www.example.com"));
        assert!(match_dom(b".example.com.", false, b"www.example.com"));
        assert!(match_dom(b"80", false, b"www.example.com:80"));
        assert!(!match_dom(b"xample", false, b"www.example.com"));
        assert!(!match_dom(b"EXAMPLE", false, b"www.example.com"));
        assert!(match_dom(b"EXAMPLE", true, b"www.example.com"));
        assert!(match_dom(b"www", false, b"www"));
        assert!(!match_dom(b"wwww", false, b"www"));
    }

    #[test]
    fn regex_len_int_version() {
        let re = Regex::new("(?i)^(cookie.9ai9.net)").expect("valid regex");
        assert!(match_reg(&re, b"COOKIE.9AI9.NET:8080"));
        assert!(!match_reg(&re, b"x\0cookie.9ai9.net"));
        assert!(!match_reg(&re, b"\0cookie.9ai9.net"));
        let len = Matcher::Len(vec![IntRange {
            min: Some(3),
            max: Some(5),
        }]);
        assert!(m(&len, "abcd"));
        assert!(!m(&len, "ab"));
        assert!(!match_sample(&len, &Sample::Int(4)));
        let int = Matcher::Int(vec![IntRange {
            min: Some(10),
            max: None,
        }]);
        assert!(match_sample(&int, &Sample::Int(10)));
        assert!(!match_sample(&int, &Sample::Int(9)));
        assert!(!m(&int, "10"));
        let ver = Matcher::Version(vec![IntRange {
            min: Some(0x30001),
            max: Some(0x30001),
        }]);
        assert!(match_sample(&ver, &Sample::Int(0x30001)));
        assert!(!match_sample(&ver, &Sample::Int(0x30000)));
    }

    #[test]
    fn ip_networks() {
        let net = IpNet {
            addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)),
            prefix: 8,
        };
        assert!(match_ip(&net, IpAddr::V4(Ipv4Addr::new(10, 9, 8, 7))));
        assert!(!match_ip(&net, IpAddr::V4(Ipv4Addr::new(11, 0, 0, 1))));
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 9, 8, 7).to_ipv6_mapped());
        assert!(!match_ip(&net, mapped));
        let v6 = IpNet {
            addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
            prefix: 128,
        };
        assert!(match_ip(&v6, IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert!(!match_ip(&v6, IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let any = IpNet {
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            prefix: 0,
        };
        assert!(match_ip(&any, IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4))));
    }

    #[test]
    fn methods() {
        let meth_get = Matcher::Method(vec![MethodPattern::Get, MethodPattern::Head]);
        let mm = |mt: &Matcher, v: &str| match_sample(mt, &Sample::Method(v.as_bytes()));
        assert!(mm(&meth_get, "GET"));
        assert!(mm(&meth_get, "HEAD"));
        assert!(!mm(&meth_get, "POST"));
        assert!(!mm(&meth_get, "get"));
        let other = |name: &str, icase| MethodPattern::Other {
            name: name.as_bytes().to_vec(),
            icase,
        };
        let propfind = Matcher::Method(vec![other("PROPFIND", false)]);
        assert!(mm(&propfind, "PROPFIND"));
        assert!(!mm(&propfind, "PROPFINDX"));
        assert!(!mm(&propfind, "Propfind"));
        assert!(mm(
            &Matcher::Method(vec![other("PROPFIND", true)]),
            "PropFind"
        ));
        // An `Other` pattern spelling a known method is that method.
        assert!(mm(&Matcher::Method(vec![other("GET", false)]), "GET"));
        // Lowercase tokens are all one class in 1.4.
        let lower = Matcher::Method(vec![other("get", false)]);
        assert!(mm(&lower, "get"));
        assert!(mm(&lower, "post"));
        assert!(!mm(&lower, "GET"));
    }

    #[test]
    fn type_mismatches_and_bool() {
        assert!(!match_sample(
            &Matcher::Str(strs(&["1"], false)),
            &Sample::Int(1)
        ));
        assert!(!match_sample(
            &Matcher::Ip(vec![]),
            &Sample::Str(b"1.2.3.4")
        ));
        assert!(!m(&Matcher::Str(strs(&[], false)), "x"));
        assert!(match_sample(&Matcher::Bool, &Sample::Bool(true)));
        assert!(!match_sample(&Matcher::Bool, &Sample::Bool(false)));
        assert!(match_sample(&Matcher::Int(vec![]), &Sample::Bool(true)));
        assert!(!match_sample(&Matcher::Bool, &Sample::Int(1)));
    }
}
