//! ACL criteria, ACL expressions and `if`/`unless` conditions (compare with 1.4
//! `src/acl.c`: `parse_acl_expr`, `parse_acl`, `parse_acl_cond`, `build_acl_cond`,
//! `find_acl_default`, and the criteria tables of `src/acl.c`, `src/backend.c`,
//! `src/client.c`, `src/proto_tcp.c`, `src/proto_http.c`).
//!
//! An `acl` line is `<name> <criterion>[(<arg>)] [-i] [-f <file>] [--] <patterns...>`;
//! in 1.4 there are no operators on an `acl` line, so `||` there is just another pattern.
//! Integer patterns follow 1.4 `acl_parse_int` exactly, including its handling of `lo:`
//! (which yields the range `lo..0`). Predefined ACLs (`TRUE`, `METH_GET`, ...) are
//! instantiated into the proxy the first time a condition names them.

use super::regex::{compile, RegexError};
use super::{KeywordInfo, Parser, Sections};
use crate::ir::*;
use crate::section::Px;
use crate::span::{Span, Spanned};
use crate::value::{invalid_char, lossy, mask_to_prefix, str2net};
use std::net::IpAddr;

/// How the patterns of a criterion are read and matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum M {
    /// No pattern (each word is read and ignored, as `acl_parse_nothing` does).
    Bool,
    Str,
    Beg,
    End,
    Sub,
    Dir,
    Dom,
    Reg,
    Len,
    Int,
    Ver,
    Ip,
    Meth,
    /// `http_auth_group`: every remaining word, joined (`acl_parse_strcat`).
    Groups,
}

/// One ACL criterion.
pub struct Criterion {
    /// `acl <criterion>` as listed in the documentation.
    pub kw: &'static str,
    m: M,
    fetch: fn(Option<String>) -> Fetch,
    pub doc: &'static str,
}

impl Criterion {
    fn name(&self) -> &'static str {
        &self.kw[4..]
    }
}

macro_rules! c {
    ($kw:expr, $m:ident, $f:expr, $doc:expr) => {
        Criterion {
            kw: $kw,
            m: M::$m,
            fetch: $f,
            doc: $doc,
        }
    };
}

/// Every criterion 1.4.25 registers.
pub static CRITERIA: &[Criterion] = &[
    c!(
        "acl always_true",
        Bool,
        |_| Fetch::AlwaysTrue,
        "always matches"
    ),
    c!(
        "acl always_false",
        Bool,
        |_| Fetch::AlwaysFalse,
        "never matches"
    ),
    c!(
        "acl wait_end",
        Bool,
        |_| Fetch::WaitEnd,
        "true once the inspect delay has expired"
    ),
    c!("acl src", Ip, |_| Fetch::Src, "client IPv4 address"),
    c!(
        "acl dst",
        Ip,
        |_| Fetch::Dst,
        "local address the client connected to"
    ),
    c!("acl src_port", Int, |_| Fetch::SrcPort, "client port"),
    c!(
        "acl dst_port",
        Int,
        |_| Fetch::DstPort,
        "local port the client connected to"
    ),
    c!(
        "acl dst_conn",
        Int,
        |_| Fetch::DstConn,
        "connections on the listening socket"
    ),
    c!("acl fe_id", Int, |_| Fetch::FeId, "frontend numeric id"),
    c!("acl be_id", Int, |_| Fetch::BeId, "backend numeric id"),
    c!(
        "acl so_id",
        Int,
        |_| Fetch::SoId,
        "listening socket numeric id"
    ),
    c!("acl srv_id", Int, |_| Fetch::SrvId, "server numeric id"),
    c!(
        "acl fe_conn",
        Int,
        Fetch::FeConn,
        "current connections on a frontend"
    ),
    c!(
        "acl be_conn",
        Int,
        Fetch::BeConn,
        "current connections on a backend"
    ),
    c!(
        "acl fe_sess_rate",
        Int,
        Fetch::FeSessRate,
        "new sessions per second on a frontend"
    ),
    c!(
        "acl be_sess_rate",
        Int,
        Fetch::BeSessRate,
        "new sessions per second on a backend"
    ),
    c!(
        "acl nbsrv",
        Int,
        Fetch::NbSrv,
        "usable servers of a backend"
    ),
    c!(
        "acl connslots",
        Int,
        Fetch::ConnSlots,
        "free connection and queue slots of a backend"
    ),
    c!(
        "acl queue",
        Int,
        Fetch::Queue,
        "queued connections of a backend"
    ),
    c!(
        "acl avg_queue",
        Int,
        Fetch::AvgQueue,
        "queued connections per usable server"
    ),
    c!(
        "acl srv_is_up",
        Bool,
        srv_ref,
        "server [<backend>/]<server> is UP"
    ),
    c!(
        "acl req_len",
        Int,
        |_| Fetch::ReqLen,
        "bytes of request data buffered"
    ),
    c!(
        "acl req_proto_http",
        Bool,
        |_| Fetch::ReqProtoHttp,
        "the buffered data is a valid HTTP request"
    ),
    c!(
        "acl req_ssl_ver",
        Ver,
        |_| Fetch::ReqSslVer,
        "SSL/TLS version of the client hello (3.1 = TLSv1)"
    ),
    c!(
        "acl req_rdp_cookie",
        Str,
        Fetch::ReqRdpCookie,
        "RDP cookie value"
    ),
    c!(
        "acl req_rdp_cookie_cnt",
        Int,
        Fetch::ReqRdpCookieCnt,
        "number of RDP cookies"
    ),
    c!("acl method", Meth, |_| Fetch::Method, "HTTP method"),
    c!(
        "acl req_ver",
        Str,
        |_| Fetch::ReqVer,
        "HTTP request version (e.g. 1.1)"
    ),
    c!(
        "acl resp_ver",
        Str,
        |_| Fetch::RespVer,
        "HTTP response version"
    ),
    c!(
        "acl status",
        Int,
        |_| Fetch::Status,
        "HTTP response status code"
    ),
    c!("acl url", Str, |_| Fetch::Url, "request URI, exact"),
    c!("acl url_beg", Beg, |_| Fetch::Url, "request URI, prefix"),
    c!("acl url_end", End, |_| Fetch::Url, "request URI, suffix"),
    c!("acl url_sub", Sub, |_| Fetch::Url, "request URI, substring"),
    c!(
        "acl url_dir",
        Dir,
        |_| Fetch::Url,
        "request URI, /-delimited word"
    ),
    c!(
        "acl url_dom",
        Dom,
        |_| Fetch::Url,
        "request URI, domain word"
    ),
    c!("acl url_reg", Reg, |_| Fetch::Url, "request URI, regex"),
    c!("acl url_len", Len, |_| Fetch::Url, "request URI length"),
    c!(
        "acl url_ip",
        Ip,
        |_| Fetch::UrlIp,
        "IP address of an absolute URI"
    ),
    c!(
        "acl url_port",
        Int,
        |_| Fetch::UrlPort,
        "port of an absolute URI (80 by default)"
    ),
    c!("acl hdr", Str, Fetch::Hdr, "request header values, exact"),
    c!(
        "acl hdr_reg",
        Reg,
        Fetch::Hdr,
        "request header values, regex"
    ),
    c!(
        "acl hdr_beg",
        Beg,
        Fetch::Hdr,
        "request header values, prefix"
    ),
    c!(
        "acl hdr_end",
        End,
        Fetch::Hdr,
        "request header values, suffix"
    ),
    c!(
        "acl hdr_sub",
        Sub,
        Fetch::Hdr,
        "request header values, substring"
    ),
    c!(
        "acl hdr_dir",
        Dir,
        Fetch::Hdr,
        "request header values, /-delimited word"
    ),
    c!(
        "acl hdr_dom",
        Dom,
        Fetch::Hdr,
        "request header values, domain word"
    ),
    c!(
        "acl hdr_cnt",
        Int,
        Fetch::HdrCnt,
        "number of request header values"
    ),
    c!(
        "acl hdr_len",
        Len,
        Fetch::Hdr,
        "request header value length"
    ),
    c!(
        "acl hdr_val",
        Int,
        Fetch::HdrVal,
        "request header value as an integer"
    ),
    c!(
        "acl hdr_ip",
        Ip,
        Fetch::HdrIp,
        "request header value as an IPv4 address"
    ),
    c!(
        "acl shdr",
        Str,
        Fetch::Shdr,
        "response header values, exact"
    ),
    c!(
        "acl shdr_reg",
        Reg,
        Fetch::Shdr,
        "response header values, regex"
    ),
    c!(
        "acl shdr_beg",
        Beg,
        Fetch::Shdr,
        "response header values, prefix"
    ),
    c!(
        "acl shdr_end",
        End,
        Fetch::Shdr,
        "response header values, suffix"
    ),
    c!(
        "acl shdr_sub",
        Sub,
        Fetch::Shdr,
        "response header values, substring"
    ),
    c!(
        "acl shdr_dir",
        Dir,
        Fetch::Shdr,
        "response header values, /-delimited word"
    ),
    c!(
        "acl shdr_dom",
        Dom,
        Fetch::Shdr,
        "response header values, domain word"
    ),
    c!(
        "acl shdr_cnt",
        Int,
        Fetch::ShdrCnt,
        "number of response header values"
    ),
    c!(
        "acl shdr_len",
        Len,
        Fetch::Shdr,
        "response header value length"
    ),
    c!(
        "acl shdr_val",
        Int,
        Fetch::ShdrVal,
        "response header value as an integer"
    ),
    c!(
        "acl shdr_ip",
        Ip,
        Fetch::ShdrIp,
        "response header value as an IPv4 address"
    ),
    c!("acl path", Str, |_| Fetch::Path, "request path, exact"),
    c!("acl path_reg", Reg, |_| Fetch::Path, "request path, regex"),
    c!("acl path_beg", Beg, |_| Fetch::Path, "request path, prefix"),
    c!("acl path_end", End, |_| Fetch::Path, "request path, suffix"),
    c!(
        "acl path_sub",
        Sub,
        |_| Fetch::Path,
        "request path, substring"
    ),
    c!(
        "acl path_dir",
        Dir,
        |_| Fetch::Path,
        "request path, /-delimited word"
    ),
    c!(
        "acl path_dom",
        Dom,
        |_| Fetch::Path,
        "request path, domain word"
    ),
    c!("acl path_len", Len, |_| Fetch::Path, "request path length"),
    c!(
        "acl http_auth",
        Bool,
        |a| Fetch::HttpAuth(a.unwrap_or_default()),
        "valid Basic credentials in userlist <arg>"
    ),
    c!(
        "acl http_auth_group",
        Groups,
        |a| Fetch::HttpAuthGroup(a.unwrap_or_default()),
        "credentials of a user in one of the groups"
    ),
    c!(
        "acl http_first_req",
        Bool,
        |_| Fetch::HttpFirstReq,
        "first request of the connection"
    ),
];

fn srv_ref(a: Option<String>) -> Fetch {
    let a = a.unwrap_or_default();
    match a.rfind('/') {
        Some(p) => Fetch::SrvIsUp(ServerRef {
            proxy: Some(a[..p].to_string()),
            server: a[p + 1..].to_string(),
        }),
        None => Fetch::SrvIsUp(ServerRef {
            proxy: None,
            server: a,
        }),
    }
}

/// The criteria as documentation rows.
pub fn info() -> impl Iterator<Item = KeywordInfo> {
    CRITERIA.iter().map(|c| KeywordInfo {
        name: c.kw,
        sections: Sections::of("FLB"),
        doc: c.doc,
    })
}

/// The 1.4 predefined ACLs and their expressions.
pub static PREDEFINED: &[(&str, &[&str])] = &[
    ("TRUE", &["always_true"]),
    ("FALSE", &["always_false"]),
    ("LOCALHOST", &["src", "127.0.0.1/8"]),
    ("HTTP", &["req_proto_http"]),
    ("HTTP_1.0", &["req_ver", "1.0"]),
    ("HTTP_1.1", &["req_ver", "1.1"]),
    ("METH_CONNECT", &["method", "CONNECT"]),
    ("METH_GET", &["method", "GET", "HEAD"]),
    ("METH_HEAD", &["method", "HEAD"]),
    ("METH_OPTIONS", &["method", "OPTIONS"]),
    ("METH_POST", &["method", "POST"]),
    ("METH_TRACE", &["method", "TRACE"]),
    ("HTTP_URL_ABS", &["url_reg", "^[^/:]*://"]),
    ("HTTP_URL_SLASH", &["url_beg", "/"]),
    ("HTTP_URL_STAR", &["url", "*"]),
    ("HTTP_CONTENT", &["hdr_val(content-length)", "gt", "0"]),
    ("RDP_COOKIE", &["req_rdp_cookie_cnt", "gt", "0"]),
    ("REQ_CONTENT", &["req_len", "gt", "0"]),
    ("WAIT_END", &["wait_end"]),
];

/// What a fetch needs (1.4 `ACL_USE_*`), for the "will be ignored" warnings.
pub fn needs_response(f: &Fetch) -> bool {
    f.needs_response()
}

/// Fetches whose value only exists while the request is being processed
/// (1.4 `ACL_USE_REQ_VOLATILE`).
pub fn req_volatile(f: &Fetch) -> bool {
    matches!(
        f,
        Fetch::ReqLen
            | Fetch::ReqSslVer
            | Fetch::ReqRdpCookie(_)
            | Fetch::ReqRdpCookieCnt(_)
            | Fetch::ReqVer
            | Fetch::Url
            | Fetch::UrlIp
            | Fetch::UrlPort
            | Fetch::Path
            | Fetch::Hdr(_)
            | Fetch::HdrCnt(_)
            | Fetch::HdrVal(_)
            | Fetch::HdrIp(_)
    )
}

/// Pattern-reading state shared by the words of one expression.
struct PatState {
    icase: bool,
    /// 1.4's `opaque`: the current integer operator (0 eq, 1 gt, 2 ge, 3 lt, 4 le).
    op: u8,
}

/// Patterns being accumulated for one expression.
enum Acc {
    Bool,
    Str(StrPatterns),
    Reg(Vec<regex::bytes::Regex>),
    Ranges(Vec<IntRange>),
    Ip(Vec<IpNet>),
    Meth(Vec<MethodPattern>),
    Groups(Vec<String>),
}

/// Why a pattern could not be read; `Regex` carries a message printed before 1.4's own.
enum PatErr {
    Plain,
    Regex(String),
}

/// Reads one pattern starting at `words[0]`; returns how many words it used.
fn parse_pattern(
    p: &Parser,
    m: M,
    words: &[&[u8]],
    st: &mut PatState,
    acc: &mut Acc,
) -> Result<usize, PatErr> {
    let w = words.first().copied().unwrap_or(b"");
    match (m, acc) {
        (M::Bool, _) => Ok(1),
        (M::Str | M::Beg | M::End | M::Sub | M::Dir | M::Dom, Acc::Str(sp)) => {
            sp.values.push(w.to_vec());
            sp.icase.push(st.icase);
            Ok(1)
        }
        (M::Reg, Acc::Reg(v)) => match compile(w, st.icase) {
            Ok(r) => {
                v.push(r);
                Ok(1)
            }
            Err(RegexError::Backref) => Err(PatErr::Regex(format!(
                "regular expression '{}' uses back-references, which haproxide does not support.",
                lossy(w)
            ))),
            Err(RegexError::Invalid(_)) => Err(PatErr::Plain),
        },
        (M::Int | M::Len, Acc::Ranges(v)) => {
            let (r, n) = parse_int(words, st).ok_or(PatErr::Plain)?;
            v.push(r);
            Ok(n)
        }
        (M::Ver, Acc::Ranges(v)) => {
            let (r, n) = parse_dotted_ver(words, st).ok_or(PatErr::Plain)?;
            v.push(r);
            Ok(n)
        }
        (M::Ip, Acc::Ip(v)) => {
            let (ip, mask) = str2net(w, &p.res).ok_or(PatErr::Plain)?;
            let prefix = mask_to_prefix(mask).ok_or_else(|| {
                PatErr::Regex(format!(
                    "netmask of '{}' is not contiguous, which haproxide does not support.",
                    lossy(w)
                ))
            })?;
            v.push(IpNet {
                addr: IpAddr::V4(ip),
                prefix,
            });
            Ok(1)
        }
        (M::Meth, Acc::Meth(v)) => {
            v.push(match w {
                b"OPTIONS" => MethodPattern::Options,
                b"GET" => MethodPattern::Get,
                b"HEAD" => MethodPattern::Head,
                b"POST" => MethodPattern::Post,
                b"PUT" => MethodPattern::Put,
                b"DELETE" => MethodPattern::Delete,
                b"TRACE" => MethodPattern::Trace,
                b"CONNECT" => MethodPattern::Connect,
                _ => MethodPattern::Other {
                    name: w.to_vec(),
                    icase: st.icase,
                },
            });
            Ok(1)
        }
        (M::Groups, Acc::Groups(v)) => {
            let n = words.iter().take_while(|w| !w.is_empty()).count();
            for g in &words[..n] {
                v.push(lossy(g));
            }
            Ok(n.max(1))
        }
        _ => Err(PatErr::Plain),
    }
}

/// `acl_parse_int`: `[op...] N`, `lo:hi`, `lo-hi`, `:hi`; the operator sticks for the
/// following patterns of the same expression. Returns the range and words consumed.
fn parse_int(words: &[&[u8]], st: &mut PatState) -> Option<(IntRange, usize)> {
    let mut skip = 0usize;
    let mut w = words.first().copied().unwrap_or(b"");
    while !w.first().is_some_and(|c| c.is_ascii_digit()) {
        st.op = op_of(w)?;
        skip += 1;
        w = words.get(skip).copied().unwrap_or(b"");
    }
    let mut last = false;
    let mut min: i64 = 0;
    let mut i: i64 = 0;
    for &c in w.iter().chain(std::iter::once(&0u8)) {
        if (c == b'-' || c == b':') && !last {
            last = true;
            min = i;
            i = 0;
            continue;
        }
        if !c.is_ascii_digit() {
            break;
        }
        i = i.wrapping_mul(10).wrapping_add(i64::from(c - b'0'));
    }
    if last && (1..=4).contains(&st.op) {
        return None;
    }
    if !last {
        min = i;
    }
    Some((range_for(st.op, min as i32, i as i32), skip + 1))
}

fn op_of(w: &[u8]) -> Option<u8> {
    Some(match w {
        b"eq" => 0,
        b"gt" => 1,
        b"ge" => 2,
        b"lt" => 3,
        b"le" => 4,
        _ => return None,
    })
}

fn range_for(op: u8, min: i32, max: i32) -> IntRange {
    match op {
        1 => IntRange {
            min: Some(i64::from(min.wrapping_add(1))),
            max: None,
        },
        2 => IntRange {
            min: Some(i64::from(min)),
            max: None,
        },
        3 => IntRange {
            min: None,
            max: Some(i64::from(max.wrapping_sub(1))),
        },
        4 => IntRange {
            min: None,
            max: Some(i64::from(max)),
        },
        _ => IntRange {
            min: Some(i64::from(min)),
            max: Some(i64::from(max)),
        },
    }
}

/// `acl_parse_dotted_ver`: `major[.minor]` values (stored as major<<16 | minor), ranges
/// and operators as for integers.
fn parse_dotted_ver(words: &[&[u8]], st: &mut PatState) -> Option<(IntRange, usize)> {
    let mut skip = 0usize;
    let mut w = words.first().copied().unwrap_or(b"");
    while !w.first().is_some_and(|c| c.is_ascii_digit()) {
        st.op = op_of(w)?;
        skip += 1;
        w = words.get(skip).copied().unwrap_or(b"");
    }
    let mut last = false;
    let mut min: i64 = 0;
    let mut i: i64 = 0;
    for &c in w.iter().chain(std::iter::once(&0u8)) {
        if c == b'.' {
            if i >= 65536 {
                return None;
            }
            i <<= 16;
            continue;
        }
        if (c == b'-' || c == b':') && !last {
            last = true;
            if i < 65536 {
                i <<= 16;
            }
            min = i;
            i = 0;
            continue;
        }
        if !c.is_ascii_digit() {
            break;
        }
        i = (i & 0xFFFF_0000) + (i & 0xFFFF) * 10 + i64::from(c - b'0');
    }
    if i < 65536 {
        i <<= 16;
    }
    if last && (1..=4).contains(&st.op) {
        return None;
    }
    if !last {
        min = i;
    }
    Some((range_for(st.op, min as i32, i as i32), skip + 1))
}

/// Reads a `-f` pattern file: one pattern per line, leading blanks stripped, empty lines
/// and lines starting with `#` skipped (1.4 `acl_read_patterns_from_file`).
fn read_pattern_file(
    p: &Parser,
    m: M,
    path: &[u8],
    icase: bool,
    acc: &mut Acc,
) -> Result<(), PatErr> {
    let data = std::fs::read(p.path(path)).map_err(|_| PatErr::Plain)?;
    let mut st = PatState { icase, op: 0 };
    for raw in data.split(|c| *c == b'\n') {
        if raw.first() == Some(&b'#') {
            continue;
        }
        let start = raw
            .iter()
            .position(|c| *c != b' ' && *c != b'\t')
            .unwrap_or(raw.len());
        let rest = &raw[start..];
        let end = rest
            .iter()
            .position(|c| *c == b'\r' || *c == b'\n')
            .unwrap_or(rest.len());
        let pat = &rest[..end];
        if pat.is_empty() {
            continue;
        }
        parse_pattern(p, m, &[pat], &mut st, acc)?;
    }
    Ok(())
}

/// `parse_acl_expr`: `<criterion>[(arg)] [flags] <patterns>` from `words` (which end at
/// the first empty word). Returns `None` when 1.4 would fail, after printing any message
/// of our own (unsupported regex or netmask).
pub fn parse_expr(p: &mut Parser, span: &Span, words: &[&[u8]]) -> Option<AclExpr> {
    let first = words.first().copied().unwrap_or(b"");
    let kwend = first.iter().position(|c| *c == b'(').unwrap_or(first.len());
    let crit = CRITERIA
        .iter()
        .find(|c| c.name().as_bytes() == &first[..kwend])?;
    let arg = if kwend < first.len() {
        let inner = &first[kwend + 1..];
        let close = inner.iter().position(|c| *c == b')')?;
        Some(lossy(&inner[..close]))
    } else {
        None
    };
    let arg = arg.filter(|a| !a.is_empty() || matches!(crit.m, M::Bool | M::Groups));
    let fetch = (crit.fetch)(arg);
    let mut acc = match crit.m {
        M::Bool => Acc::Bool,
        M::Str | M::Beg | M::End | M::Sub | M::Dir | M::Dom => Acc::Str(StrPatterns {
            values: Vec::new(),
            icase: Vec::new(),
        }),
        M::Reg => Acc::Reg(Vec::new()),
        M::Len | M::Int | M::Ver => Acc::Ranges(Vec::new()),
        M::Ip => Acc::Ip(Vec::new()),
        M::Meth => Acc::Meth(Vec::new()),
        M::Groups => Acc::Groups(Vec::new()),
    };
    let report = |p: &mut Parser, e: PatErr| {
        if let PatErr::Regex(msg) = e {
            p.d.alert(span, msg);
        }
    };
    let mut k = 1usize;
    let mut icase = false;
    let at = |k: usize| words.get(k).copied().unwrap_or(b"");
    while at(k).first() == Some(&b'-') {
        match at(k).get(1) {
            Some(b'i') => icase = true,
            Some(b'f') => {
                if let Err(e) = read_pattern_file(p, crit.m, at(k + 1), icase, &mut acc) {
                    report(p, e);
                    return None;
                }
                k += 1;
            }
            Some(b'-') => {
                k += 1;
                break;
            }
            _ => break,
        }
        k += 1;
    }
    let mut st = PatState { icase, op: 0 };
    while !at(k).is_empty() {
        let rest: Vec<&[u8]> = (k..words.len().max(k + 1)).map(at).collect();
        match parse_pattern(p, crit.m, &rest, &mut st, &mut acc) {
            Ok(n) => k += n,
            Err(e) => {
                report(p, e);
                return None;
            }
        }
    }
    let matcher = match (crit.m, acc) {
        (M::Bool, _) => Matcher::Bool,
        (M::Str, Acc::Str(s)) => Matcher::Str(s),
        (M::Beg, Acc::Str(s)) => Matcher::Beg(s),
        (M::End, Acc::Str(s)) => Matcher::End(s),
        (M::Sub, Acc::Str(s)) => Matcher::Sub(s),
        (M::Dir, Acc::Str(s)) => Matcher::Dir(s),
        (M::Dom, Acc::Str(s)) => Matcher::Dom(s),
        (M::Reg, Acc::Reg(r)) => Matcher::Reg(r),
        (M::Len, Acc::Ranges(r)) => Matcher::Len(r),
        (M::Int, Acc::Ranges(r)) => Matcher::Int(r),
        (M::Ver, Acc::Ranges(r)) => Matcher::Version(r),
        (M::Ip, Acc::Ip(v)) => Matcher::Ip(v),
        (M::Meth, Acc::Meth(v)) => Matcher::Method(v),
        (M::Groups, Acc::Groups(v)) => Matcher::Groups(v),
        _ => return None,
    };
    Some(AclExpr { fetch, matcher })
}

fn paren_warning(p: &mut Parser, name: &[u8], words: &[&[u8]]) {
    let crit = words.first().copied().unwrap_or(b"");
    let next = words.get(1).copied().unwrap_or(b"");
    if !crit.contains(&b'(') && next.first() == Some(&b'(') {
        p.d.bare_warn(format!(
            "parsing acl '{}' :\n  matching '{}' for pattern '{}' is likely a mistake and probably\n  not what you want. Maybe you need to remove the extraneous space before '('.\n  If you are really sure this is not an error, please insert '--' between the\n  match and the pattern to make this warning message disappear.",
            lossy(name),
            lossy(crit),
            lossy(next)
        ));
    }
}

/// `parse_acl` for a named ACL line: adds the expression to the ACL of that name (which
/// is created if needed). Returns false when 1.4 would report an error.
pub fn parse_acl_line(p: &mut Parser, px: &mut Px, span: &Span, args: &[Vec<u8>]) -> bool {
    let words: Vec<&[u8]> = args.iter().map(|w| w.as_slice()).collect();
    let name = words.first().copied().unwrap_or(b"");
    if !name.is_empty() && invalid_char(name).is_some() {
        return false;
    }
    let Some(expr) = parse_expr(p, span, &words[1.min(words.len())..]) else {
        return false;
    };
    paren_warning(p, name, &words[1.min(words.len())..]);
    let node = Spanned::new(span.clone(), expr);
    match px.ir.acls.iter_mut().find(|a| a.name.as_bytes() == name) {
        Some(def) => def.exprs.push(node),
        None => px.ir.acls.push(AclDef {
            name: lossy(name),
            exprs: vec![node],
            builtin: false,
        }),
    }
    true
}

/// Instantiates a predefined ACL into the proxy; returns its index.
fn find_default(p: &mut Parser, px: &mut Px, span: &Span, name: &[u8]) -> Option<usize> {
    let (n, words) = PREDEFINED.iter().find(|(n, _)| n.as_bytes() == name)?;
    let w: Vec<&[u8]> = words.iter().map(|s| s.as_bytes()).collect();
    let expr = parse_expr(p, span, &w)?;
    px.ir.acls.push(AclDef {
        name: (*n).to_string(),
        exprs: vec![Spanned::new(span.clone(), expr)],
        builtin: true,
    });
    Some(px.ir.acls.len() - 1)
}

/// `build_acl_cond`: `if|unless <cond>` starting at `args[0]`. Returns `None` when the
/// first word is neither or the condition is invalid (unknown ACL, bad anonymous ACL,
/// unclosed brace); the caller prints 1.4's message.
pub fn build_cond(p: &mut Parser, px: &mut Px, span: &Span, args: &[Vec<u8>]) -> Option<Condition> {
    let unless = match args.first().map(|w| w.as_slice()) {
        Some(b"if") => false,
        Some(b"unless") => true,
        _ => return None,
    };
    let words: Vec<&[u8]> = args[1..]
        .iter()
        .map(|w| w.as_slice())
        .take_while(|w| !w.is_empty())
        .collect();
    let mut terms: Vec<Vec<AclTerm>> = Vec::new();
    let mut in_suite = false;
    let mut neg = false;
    let mut i = 0usize;
    while i < words.len() {
        let mut word = words[i];
        while word.first() == Some(&b'!') {
            neg = !neg;
            word = &word[1..];
        }
        if word.is_empty() {
            i += 1;
            continue;
        }
        if word.eq_ignore_ascii_case(b"or") || word == b"||" {
            in_suite = false;
            neg = false;
            i += 1;
            continue;
        }
        let acl = if word == b"{" {
            let end = (i + 1..words.len()).find(|&j| words[j] == b"}")?;
            let inner = &words[i + 1..end];
            let expr = parse_expr(p, span, inner)?;
            paren_warning(p, b"", inner);
            i = end;
            AclRef::Anonymous(Box::new(expr))
        } else {
            match px.ir.acls.iter().position(|a| a.name.as_bytes() == word) {
                Some(idx) => AclRef::Named(idx),
                None => AclRef::Named(find_default(p, px, span, word)?),
            }
        };
        if !in_suite {
            terms.push(Vec::new());
            in_suite = true;
        }
        if let Some(suite) = terms.last_mut() {
            suite.push(AclTerm { negate: neg, acl });
        }
        neg = false;
        i += 1;
    }
    Some(Condition { unless, terms })
}

/// The first ACL of `cond` with a fetch satisfying `pred` (1.4 `cond_find_require`),
/// by name (`""` for an anonymous one).
pub fn cond_find(px: &Px, cond: &Condition, pred: fn(&Fetch) -> bool) -> Option<String> {
    for suite in &cond.terms {
        for t in suite {
            match &t.acl {
                AclRef::Named(i) => {
                    if let Some(def) = px.ir.acls.get(*i) {
                        if def.exprs.iter().any(|e| pred(&e.fetch)) {
                            return Some(def.name.clone());
                        }
                    }
                }
                AclRef::Anonymous(e) => {
                    if pred(&e.fetch) {
                        return Some(String::new());
                    }
                }
            }
        }
    }
    None
}

/// 1.4 `warnif_cond_requires_resp`: a request rule using response-only criteria.
pub fn warnif_requires_resp(p: &mut Parser, px: &Px, cond: Option<&Condition>, span: &Span) {
    if let Some(name) = cond.and_then(|c| cond_find(px, c, needs_response)) {
        p.d.warn(
            span,
            format!("acl '{name}' involves some response-only criteria which will be ignored."),
        );
    }
}

/// 1.4 `warnif_cond_requires_req`: a response rule using volatile request criteria.
pub fn warnif_requires_req(p: &mut Parser, px: &Px, cond: Option<&Condition>, span: &Span) {
    if let Some(name) = cond.and_then(|c| cond_find(px, c, req_volatile)) {
        p.d.warn(
            span,
            format!(
                "acl '{name}' involves some volatile request-only criteria which will be ignored."
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(ws: &[&str]) -> Vec<IntRange> {
        let words: Vec<&[u8]> = ws.iter().map(|s| s.as_bytes()).collect();
        let mut st = PatState {
            icase: false,
            op: 0,
        };
        let mut out = Vec::new();
        let mut k = 0;
        while k < words.len() {
            let (r, n) = parse_int(&words[k..], &mut st).expect("valid");
            out.push(r);
            k += n;
        }
        out
    }

    fn r(min: Option<i64>, max: Option<i64>) -> IntRange {
        IntRange { min, max }
    }

    #[test]
    fn integer_patterns() {
        assert_eq!(ints(&["5"]), vec![r(Some(5), Some(5))]);
        assert_eq!(ints(&["1:3"]), vec![r(Some(1), Some(3))]);
        assert_eq!(ints(&["1-3"]), vec![r(Some(1), Some(3))]);
        // 1.4 quirk: an open upper bound reads as 0
        assert_eq!(ints(&["10:"]), vec![r(Some(10), Some(0))]);
        assert_eq!(ints(&["gt", "0"]), vec![r(Some(1), None)]);
        assert_eq!(
            ints(&["ge", "2", "5"]),
            vec![r(Some(2), None), r(Some(5), None)]
        );
        assert_eq!(ints(&["lt", "10"]), vec![r(None, Some(9))]);
        assert_eq!(ints(&["le", "10"]), vec![r(None, Some(10))]);
        assert_eq!(ints(&["eq", "7"]), vec![r(Some(7), Some(7))]);
        assert_eq!(ints(&["12abc"]), vec![r(Some(12), Some(12))]);
        let mut st = PatState {
            icase: false,
            op: 0,
        };
        assert!(
            parse_int(&[b"gt", b"1:3"], &mut st).is_none(),
            "range with operator"
        );
        assert!(parse_int(&[b"abc"], &mut st).is_none());
        // 1.4 only reads operators before digits, so ":3" is refused
        assert!(parse_int(&[b":3"], &mut st).is_none());
        assert!(parse_int(&[b"gt"], &mut st).is_none());
    }

    #[test]
    fn dotted_versions() {
        let mut st = PatState {
            icase: false,
            op: 0,
        };
        let v = |maj: i64, min: i64| Some((maj << 16) | min);
        assert_eq!(
            parse_dotted_ver(&[b"3.1"], &mut st),
            Some((r(v(3, 1), v(3, 1)), 1))
        );
        assert_eq!(
            parse_dotted_ver(&[b"3"], &mut st),
            Some((r(v(3, 0), v(3, 0)), 1))
        );
        assert_eq!(
            parse_dotted_ver(&[b"3.0-3.1"], &mut st),
            Some((r(v(3, 0), v(3, 1)), 1))
        );
        assert_eq!(
            parse_dotted_ver(&[b"lt", b"3"], &mut st),
            Some((r(None, Some((3 << 16) - 1)), 2))
        );
        assert!(parse_dotted_ver(&[b"70000.1"], &mut st).is_none());
    }

    #[test]
    fn predefined_acls_are_valid() {
        let opts = crate::LoadOptions {
            resolve_names: false,
            ..crate::LoadOptions::default()
        };
        let mut p = Parser::new(&opts);
        for (name, words) in PREDEFINED {
            let w: Vec<&[u8]> = words.iter().map(|s| s.as_bytes()).collect();
            assert!(parse_expr(&mut p, &Span::builtin(), &w).is_some(), "{name}");
        }
    }
}
