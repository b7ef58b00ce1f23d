//! Request and response rule sets of a proxy, in 1.4's order. Compare with 1.4
//! `src/proto_http.c`: `http_process_req_common`, `apply_filters_to_request`,
//! `apply_filter_to_req_line`, `apply_filter_to_req_headers`, `exp_replace` (`src/regex.c`),
//! `http_process_res_common`, `apply_filters_to_response`, `apply_filter_to_sts_line`,
//! `apply_filter_to_resp_headers`, `check_response_for_cacheability`, `stats_check_uri`.
//!
//! Keywords: `block`, `http-request allow|deny|auth`, `stats http-request` / `stats auth`
//! (the rule list of stats requests), `reqrep reqirep reqdel reqidel reqallow reqiallow
//! reqdeny reqideny reqpass reqipass reqtarpit reqitarpit reqsetbe reqisetbe cliexp`,
//! `reqadd`, `redirect`, `use_backend`/`default_backend` (HTTP mode), `rsprep rspirep rspdel
//! rspidel rspdeny rspideny srvexp`, `rspadd`, `option checkcache`.
//!
//! Request, per proxy (frontend, then the backend if it differs):
//! 1. `block`: the first matching condition answers 403.
//! 2. `http-request` (or, for a request to this proxy's stats URI, the `stats http-request`
//!    list, which `stats auth` extends): the first rule whose condition matches is the final
//!    one. `deny` answers 403 right away; `auth` is answered only after steps 3 and 4, so a
//!    `reqdeny` still wins over it; `allow` lets the request go on.
//! 3. `req*` regex filters in declaration order. Each applies to the start line first; a rule
//!    that acted on the start line does not look at the headers (`reqdel` and `reqpass` never
//!    act on the start line). `reqallow` makes later allow/deny/tarpit/pass rules skip;
//!    `reqdeny`/`reqtarpit` stop the evaluation. A start line rewritten into something that
//!    is no request line is a 400. Deny and tarpit count `dreq` on the current backend.
//! 4. `reqadd` lines, appended after the last header.
//! 5. The final `http-request auth` rule: 401 (407 for proxy requests).
//! 6. Stats URI: the stats page.
//! 7. `redirect`: the first matching rule answers.
//!
//! Then `use_backend` (first match), else `default_backend` ([`switch_backend`]), unless
//! `reqsetbe` already chose.
//!
//! Response, backend first, then the frontend if it differs: `rsp*` filters (same line
//! logic; `rspdeny` → 502 and `dresp` on that proxy), then `rspadd`. After the persistence
//! code, [`checkcache_blocks`] implements `option checkcache`.
//!
//! Regex rules see each line as it currently is (earlier rules' results included), which
//! [`HeadEdit`] provides.

use super::view::{Base, HeadView};
use crate::acl::{cond_matches, rule_applies};
use crate::http1::{HeadEdit, HeadIndex, Method, RedirectConn};
use crate::runtime::{Proxy, Runtime};
use parser::ir::{
    FilterAction, HeaderFilter, HttpReqAction, HttpReqRule, Redirect, RedirectCookie, RedirectKind,
};
use parser::span::Spanned;
use std::sync::atomic::Ordering::Relaxed;

/// 1.4 `STATS_DEFAULT_REALM`: the realm of stats authentication when none is configured.
pub const STATS_DEFAULT_REALM: &str = "HAProxy Statistics";

/// What the request rules of one proxy decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReqVerdict {
    Continue,
    /// 403 (`block`, `http-request deny`, `reqdeny`).
    Deny,
    /// Hold for `timeout tarpit`, then 500 (`reqtarpit`).
    Tarpit,
    /// 400: a rewrite left an invalid request line, or an added header did not fit.
    BadRequest,
    /// 401 (or 407 for proxy requests) with this realm.
    Auth {
        realm: String,
    },
    /// A redirect response was written into the output buffer. `keep_alive`: the response
    /// does not close the connection (the next request may follow).
    Redirect {
        keep_alive: bool,
    },
    /// The request is for this proxy's stats page.
    Stats,
}

/// Request-side state the rules carry from the frontend to the backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReqFlags {
    /// `reqallow` matched (1.4 `TX_CLALLOW`): later allow/deny/tarpit/pass filters skip.
    pub allowed: bool,
    /// `reqsetbe` chose a backend (index in `Runtime::proxies`).
    pub set_backend: Option<usize>,
}

/// The request being analysed.
pub struct ReqHead<'a> {
    pub buf: &'a [u8],
    pub idx: &'a HeadIndex,
}

/// Facts about the transaction that decide the connection header of a redirect (1.4 keeps
/// the connection after a redirect to a local path when the connection mode allows it).
#[derive(Clone, Copy, Debug, Default)]
pub struct ReqCtx {
    /// The client allows keep-alive (HTTP/1.1 without `close`, 1.0 with `keep-alive`) and
    /// the request has no body.
    pub client_keepalive: bool,
    /// HTTP/1.1 request.
    pub http11: bool,
    /// 1.4 `TX_USE_PX_CONN`: `option http-use-proxy-header` on the frontend and a proxy
    /// request (URI not starting with `/` or `*`).
    pub proxy_conn: bool,
}

/// Runs the request rule set of `px` (the frontend when `is_frontend`, else the backend),
/// editing the head in `edit`. A redirect response is written to `out`.
#[allow(clippy::too_many_arguments)]
pub fn process_request(
    base: &Base<'_>,
    px: &Proxy,
    head: &ReqHead<'_>,
    edit: &mut HeadEdit,
    flags: &mut ReqFlags,
    is_frontend: bool,
    ctx: &ReqCtx,
    out: &mut Vec<u8>,
) -> ReqVerdict {
    let rt = base.rt;
    let acls = &px.cfg.acls;
    macro_rules! view {
        () => {
            base.view(
                px,
                Some(HeadView {
                    buf: head.buf,
                    idx: head.idx,
                    edit: &*edit,
                }),
                None,
            )
        };
    }
    // 1. block
    for b in &px.cfg.blocks {
        if cond_matches(&b.node, acls, &view!()) {
            return ReqVerdict::Deny;
        }
    }
    // 2. http-request: find the final rule (the stats list replaces it for stats requests).
    let stats_req = is_stats_request(px, head, edit);
    let final_auth: Option<String> = {
        let rules: &[Spanned<HttpReqRule>] = match (&px.cfg.stats, stats_req) {
            (Some(st), true) => &st.http_request,
            _ => &px.cfg.http_request,
        };
        let mut decided = None;
        for r in rules {
            if rule_applies(r.cond.as_ref(), acls, &view!()) {
                decided = Some(&r.action);
                break;
            }
        }
        match decided {
            Some(HttpReqAction::Deny) => return ReqVerdict::Deny,
            Some(HttpReqAction::Allow) => None,
            Some(HttpReqAction::Auth { realm }) => Some(match realm {
                Some(r) => r.clone(),
                None if stats_req => STATS_DEFAULT_REALM.to_string(),
                None => px.cfg.name.clone(),
            }),
            // `stats auth` is 1.4's last rule of the stats list:
            // `auth [realm <stats realm>] unless { http_auth(<stats users>) }`.
            None => match &px.cfg.stats {
                Some(st) if stats_req && !st.auth.is_empty() && !stats_auth_ok(px, head, edit) => {
                    Some(
                        st.realm
                            .clone()
                            .unwrap_or_else(|| STATS_DEFAULT_REALM.into()),
                    )
                }
                _ => None,
            },
        }
    };
    // 3. req* filters
    for f in &px.cfg.req_filters {
        if flags.allowed && is_verdict(&f.action) {
            continue;
        }
        if !rule_applies(f.cond.as_ref(), acls, &view!()) {
            continue;
        }
        match apply_req_filter(rt, px, f, head, edit, flags, is_frontend) {
            FilterOutcome::None => {}
            FilterOutcome::Deny => return ReqVerdict::Deny,
            FilterOutcome::Tarpit => return ReqVerdict::Tarpit,
            FilterOutcome::Invalid => return ReqVerdict::BadRequest,
        }
    }
    // 4. reqadd
    for a in &px.cfg.reqadd {
        if rule_applies(a.cond.as_ref(), acls, &view!()) && edit.append(&a.line).is_err() {
            return ReqVerdict::BadRequest;
        }
    }
    // 5. the final auth rule
    if let Some(realm) = final_auth {
        return ReqVerdict::Auth { realm };
    }
    // 6. stats
    if stats_req {
        return ReqVerdict::Stats;
    }
    // 7. redirect
    for r in &px.cfg.redirects {
        if rule_applies(r.cond.as_ref(), acls, &view!()) {
            let cur_be = current_backend(rt, px, flags, is_frontend);
            let keep_alive = r.kind != RedirectKind::Scheme
                && r.target.starts_with('/')
                && ctx.client_keepalive
                && redirect_may_keep_alive(base.fe, cur_be);
            let conn = match (keep_alive, ctx.http11, ctx.proxy_conn) {
                (true, true, _) => RedirectConn::KeepAliveImplicit,
                (true, false, false) => RedirectConn::KeepAlive,
                (true, false, true) => RedirectConn::ProxyKeepAlive,
                (false, _, false) => RedirectConn::Close,
                (false, _, true) => RedirectConn::ProxyClose,
            };
            write_redirect(r, head, edit, conn, out);
            return ReqVerdict::Redirect { keep_alive };
        }
    }
    ReqVerdict::Continue
}

/// 1.4's `s->be` while a rule set runs: the backend chosen by `reqsetbe` during the
/// frontend's rules, else the proxy whose rules run.
fn current_backend<'a>(
    rt: &'a Runtime,
    px: &'a Proxy,
    flags: &ReqFlags,
    is_frontend: bool,
) -> &'a Proxy {
    match flags.set_backend {
        Some(i) if is_frontend => rt.proxies.get(i).unwrap_or(px),
        _ => px,
    }
}

/// Whether the connection mode of `fe`+`be` is 1.4's server-close or keep-alive intent
/// (`TX_CON_WANT_SCL`/`KAL`), the modes in which a redirect may keep the client connection:
/// `http-server-close` or `http-pretend-keepalive`, and neither `forceclose` nor `httpclose`
/// (httpclose with any other mode means close).
fn redirect_may_keep_alive(fe: &Proxy, be: &Proxy) -> bool {
    let (a, b) = (&fe.cfg.options, &be.cfg.options);
    if a.forceclose.is_some() || b.forceclose.is_some() {
        return false;
    }
    if a.httpclose.is_some() || b.httpclose.is_some() {
        return false;
    }
    a.http_server_close.is_some()
        || b.http_server_close.is_some()
        || a.http_pretend_keepalive.is_some()
        || b.http_pretend_keepalive.is_some()
}

/// Counts a denied request (`reqdeny`, `reqtarpit`, `tcp-request content reject`) on `px`.
/// 1.4 keeps one counter set per proxy, shown on both its frontend and backend rows.
pub fn count_denied_req(px: &Proxy) {
    if px.cfg.kind.has_fe() {
        px.fe_counters.dreq.fetch_add(1, Relaxed);
    }
    if px.cfg.kind.has_be() {
        px.be_counters.dreq.fetch_add(1, Relaxed);
    }
}

/// Counts a denied response (`rspdeny`, `option checkcache`) on `px`, as
/// [`count_denied_req`] does.
pub fn count_denied_resp(px: &Proxy) {
    if px.cfg.kind.has_fe() {
        px.fe_counters.dresp.fetch_add(1, Relaxed);
    }
    if px.cfg.kind.has_be() {
        px.be_counters.dresp.fetch_add(1, Relaxed);
    }
}

/// The actions `reqallow` makes later request rules skip (1.4 `apply_filters_to_request`).
fn is_verdict(a: &FilterAction) -> bool {
    matches!(
        a,
        FilterAction::Allow | FilterAction::Deny | FilterAction::Tarpit | FilterAction::Pass
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FilterOutcome {
    None,
    Deny,
    Tarpit,
    /// The start line no longer parses after a rewrite.
    Invalid,
}

/// Applies one `req*` rule whose condition holds: the request line first (1.4
/// `apply_filter_to_req_line`), then, unless the rule acted there, every header line
/// (`apply_filter_to_req_headers`).
fn apply_req_filter(
    rt: &Runtime,
    px: &Proxy,
    f: &HeaderFilter,
    head: &ReqHead<'_>,
    edit: &mut HeadEdit,
    flags: &mut ReqFlags,
    is_frontend: bool,
) -> FilterOutcome {
    let (buf, idx) = (head.buf, head.idx);
    // `reqdel` never removes the request line; `reqpass` does nothing on it.
    if !matches!(f.action, FilterAction::Delete | FilterAction::Pass)
        && f.regex.is_match(edit.start_line(buf, idx))
    {
        let acted = match &f.action {
            FilterAction::Replace(repl) => {
                let regex = &f.regex;
                edit.replace_start_line_with(buf, idx, |cur, out| expand(regex, cur, repl, out));
                if !valid_request_line(edit.start_line(buf, idx)) {
                    return FilterOutcome::Invalid;
                }
                true
            }
            FilterAction::Allow => {
                flags.allowed = true;
                true
            }
            FilterAction::Deny => {
                count_denied_req(current_backend(rt, px, flags, is_frontend));
                return FilterOutcome::Deny;
            }
            FilterAction::Tarpit => {
                count_denied_req(current_backend(rt, px, flags, is_frontend));
                return FilterOutcome::Tarpit;
            }
            // Only the first switch counts; a later `reqsetbe` goes on to the headers.
            FilterAction::SetBackend(name) => set_backend(rt, name, is_frontend, flags),
            FilterAction::Delete | FilterAction::Pass => false,
        };
        if acted {
            return FilterOutcome::None;
        }
    }
    // Header lines, in order (ids are stable while editing; added lines come last).
    for id in 0..edit.line_slots() {
        let Some(line) = edit.line(buf, idx, id) else {
            continue;
        };
        if !f.regex.is_match(line) {
            continue;
        }
        match &f.action {
            FilterAction::Replace(repl) => {
                let regex = &f.regex;
                let _ = edit.replace_with(buf, idx, id, |cur, out| expand(regex, cur, repl, out));
            }
            FilterAction::Delete => {
                let _ = edit.delete(id);
            }
            FilterAction::Pass => {}
            FilterAction::Allow => {
                flags.allowed = true;
                break;
            }
            FilterAction::Deny => {
                count_denied_req(current_backend(rt, px, flags, is_frontend));
                return FilterOutcome::Deny;
            }
            FilterAction::Tarpit => {
                count_denied_req(current_backend(rt, px, flags, is_frontend));
                return FilterOutcome::Tarpit;
            }
            FilterAction::SetBackend(name) => {
                if set_backend(rt, name, is_frontend, flags) {
                    break;
                }
            }
        }
    }
    FilterOutcome::None
}

/// `reqsetbe`: switches to backend `name` if the frontend's rules run and no switch happened
/// yet (1.4 refuses a second jump). Returns whether it switched.
fn set_backend(rt: &Runtime, name: &str, is_frontend: bool, flags: &mut ReqFlags) -> bool {
    if !is_frontend || flags.set_backend.is_some() {
        return false;
    }
    flags.set_backend = rt
        .proxies
        .iter()
        .position(|p| p.cfg.name == name && p.cfg.kind.has_be());
    flags.set_backend.is_some()
}

/// The part of a rewritten start line up to its first CR or LF: 1.4 re-parses only that
/// (a replacement may inject `\r\n` and a header line after it, which it then forwards as
/// is).
fn first_line(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(line.len());
    &line[..end]
}

/// Whether `line` is still a request line after a rewrite (1.4 re-parses it with
/// `http_parse_reqline`): a method token, spaces, a URI without spaces or control bytes, and
/// optionally spaces and an HTTP version made of `HTTP/.0-9` bytes.
pub fn valid_request_line(line: &[u8]) -> bool {
    let line = first_line(line);
    let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let (Some(method), Some(uri)) = (parts.next(), parts.next()) else {
        return false;
    };
    let version_ok = match parts.next() {
        None => true,
        Some(v) => v.iter().all(|&b| is_ver_token(b)),
    };
    parts.next().is_none()
        && !line.starts_with(b" ")
        && method.iter().all(|&b| is_token(b))
        && uri.iter().all(|&b| b > b' ' && b != 0x7f)
        && version_ok
}

/// Whether `line` is still a status line after a rewrite (1.4 `http_parse_stsline`): a
/// version of `HTTP/.0-9` bytes, spaces, a status code, then an optional reason.
pub fn valid_status_line(line: &[u8]) -> bool {
    let line = first_line(line);
    let Some(sp) = line.iter().position(|&b| b == b' ') else {
        return false;
    };
    let (version, rest) = line.split_at(sp);
    let rest = trim_spaces(rest);
    let code_len = rest.iter().take_while(|&&b| b != b' ').count();
    !version.is_empty() && version.iter().all(|&b| is_ver_token(b)) && code_len > 0
}

/// The status code of a (possibly rewritten) status line, as 1.4 `strl2ui` reads it: the
/// leading digits of the second word, 0 without any.
pub fn status_of_line(line: &[u8]) -> u16 {
    let Some(sp) = line.iter().position(|&b| b == b' ') else {
        return 0;
    };
    let rest = trim_spaces(line.get(sp..).unwrap_or(&[]));
    let mut code: u32 = 0;
    for &b in rest.iter().take_while(|b| b.is_ascii_digit()) {
        code = code.saturating_mul(10).saturating_add(u32::from(b - b'0'));
    }
    u16::try_from(code).unwrap_or(u16::MAX)
}

fn trim_spaces(mut s: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = s {
        s = rest;
    }
    s
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_ver_token(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b'H' | b'T' | b'P' | b'/' | b'.')
}

/// Writes the replacement `repl` of a `reqrep`/`rsprep` rule for `line` (1.4 `exp_replace`,
/// applied to the configuration text after its own unescaping): `\0`..`\9` insert the
/// captures of `regex` (nothing for a group that did not take part), `\xHH` a byte, and a
/// backslash before any other byte yields that byte (so `\\` in the configuration, which
/// the parser already turned into one backslash, followed by `\`, gives a backslash).
pub fn expand(regex: &regex::bytes::Regex, line: &[u8], repl: &[u8], out: &mut Vec<u8>) {
    // Captures are only looked up when the replacement refers to one.
    let caps = if repl
        .windows(2)
        .any(|w| w[0] == b'\\' && w[1].is_ascii_digit())
    {
        regex.captures(line)
    } else {
        None
    };
    let mut i = 0;
    while let Some(&c) = repl.get(i) {
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let Some(&n) = repl.get(i + 1) else {
            // A trailing backslash escapes nothing.
            break;
        };
        if n.is_ascii_digit() {
            if let Some(m) = caps.as_ref().and_then(|c| c.get(usize::from(n - b'0'))) {
                out.extend_from_slice(m.as_bytes());
            }
            i += 2;
        } else if n == b'x' {
            match (repl.get(i + 2), repl.get(i + 3)) {
                (Some(&h), Some(&l)) => {
                    out.push(hex_digit_1_4(h) << 4 | hex_digit_1_4(l));
                    i += 4;
                }
                _ => break,
            }
        } else {
            out.push(n);
            i += 2;
        }
    }
}

/// 1.4's hex digit arithmetic in `exp_replace` (no validation: `G` reads as 16).
fn hex_digit_1_4(c: u8) -> u8 {
    let mut h = c.to_ascii_uppercase().wrapping_sub(b'0');
    if h > 9 {
        h = h.wrapping_sub(b'A' - b'9' - 1);
    }
    h & 0x0f
}

/// Whether the request targets `px`'s stats page: GET/HEAD/POST whose URI starts with the
/// stats prefix (1.4 `stats_check_uri`), or is the `stats prometheus-uri` path (extension).
pub fn is_stats_request(px: &Proxy, head: &ReqHead<'_>, edit: &HeadEdit) -> bool {
    let Some(st) = &px.cfg.stats else {
        return false;
    };
    let line = edit.start_line(head.buf, head.idx);
    let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let method = words.next().unwrap_or(&[]);
    let uri = words.next().unwrap_or(&[]);
    matches!(
        Method::from_token(method),
        Method::Get | Method::Head | Method::Post
    ) && (uri.starts_with(st.uri.as_bytes())
        || st
            .prometheus_uri
            .as_ref()
            .is_some_and(|p| crate::stats::prometheus::uri_matches(uri, p)))
}

/// `stats auth user:pass`: whether the request's `Authorization` header carries one of the
/// accounts (Basic; constant-time password comparison).
fn stats_auth_ok(px: &Proxy, head: &ReqHead<'_>, edit: &HeadEdit) -> bool {
    let Some(st) = &px.cfg.stats else {
        return true;
    };
    let Some(v) = edit
        .find(head.buf, head.idx, b"authorization")
        .map(|(_, v)| v)
        .next()
    else {
        return false;
    };
    let Some(payload) = crate::acl::auth::basic_payload(v) else {
        return false;
    };
    let mut scratch = [0u8; 768];
    let Some(creds) = crate::acl::auth::decode_credentials(payload, &mut scratch) else {
        return false;
    };
    st.auth.iter().any(|a| {
        let (u, p) = &a.node;
        u.as_bytes() == creds.user && crate::acl::auth::constant_time_eq(p.as_bytes(), creds.pass)
    })
}

/// Writes the response of a `redirect` rule (spec §8, 1.4 `http_process_req_common`).
/// The path of `prefix`/`scheme` is the current request URI from its first `/` (`/` when it
/// has none), cut at `?` with `drop-query`; `append-slash` adds `/` when the location does
/// not end with one. `scheme` uses the first value of the first `Host` header.
fn write_redirect(
    r: &Redirect,
    head: &ReqHead<'_>,
    edit: &HeadEdit,
    conn: RedirectConn,
    out: &mut Vec<u8>,
) {
    use crate::http1::{write_redirect as wr, RedirectCode};
    let code = RedirectCode::from_code(r.code).unwrap_or(RedirectCode::Found302);
    let line = edit.start_line(head.buf, head.idx);
    let uri = line
        .split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
        .nth(1)
        .unwrap_or(&[]);
    let mut path: &[u8] = crate::http1::uri_path(uri).unwrap_or(b"/");
    if r.drop_query {
        if let Some(q) = path.iter().position(|&b| b == b'?') {
            path = &path[..q];
        }
    }
    // The path is never empty (it starts with `/`), so it holds the location's last byte.
    let slash: &[u8] = if r.append_slash && !path.ends_with(b"/") {
        b"/"
    } else {
        b""
    };
    // `set-cookie`/`clear-cookie` text as 1.4's configuration parser completes it.
    let mut cookie_vec;
    let cookie: Option<&[u8]> = match &r.cookie {
        None => None,
        Some(c) => {
            let (v, suffix): (&str, &[u8]) = match c {
                RedirectCookie::Set(v) => (v, b"; path=/;"),
                RedirectCookie::Clear(v) => (v, b"; path=/; Max-Age=0;"),
            };
            cookie_vec = Vec::with_capacity(v.len() + suffix.len());
            cookie_vec.extend_from_slice(v.as_bytes());
            cookie_vec.extend_from_slice(suffix);
            Some(&cookie_vec[..])
        }
    };
    match r.kind {
        RedirectKind::Location => wr(out, code, &[r.target.as_bytes()], cookie, conn),
        RedirectKind::Prefix => {
            // A prefix of "/" alone adds nothing (1.4: to allow redirecting to oneself).
            let prefix: &[u8] = if r.target == "/" {
                b""
            } else {
                r.target.as_bytes()
            };
            wr(out, code, &[prefix, path, slash], cookie, conn)
        }
        RedirectKind::Scheme => {
            let host = edit
                .find(head.buf, head.idx, b"host")
                .map(|(_, v)| first_list_value(v))
                .next()
                .unwrap_or(&[]);
            wr(
                out,
                code,
                &[r.target.as_bytes(), b"://", host, path, slash],
                cookie,
                conn,
            )
        }
    }
}

/// The first element of a comma-separated header value, trimmed (1.4 `http_find_header2`).
fn first_list_value(v: &[u8]) -> &[u8] {
    crate::http1::comma_values(v).next().unwrap_or(v)
}

/// `use_backend` rules of the frontend, then `default_backend`; `None` when neither applies
/// (1.4 `process_switching_rules`). In TCP mode `head` is `None` and `payload` holds the
/// request bytes inspected so far, for layer-4 content ACLs.
pub fn switch_backend(
    base: &Base<'_>,
    fe: &Proxy,
    head: Option<(&ReqHead<'_>, &HeadEdit)>,
    payload: &[u8],
) -> Option<usize> {
    let mut view = base.view(
        fe,
        head.map(|(h, edit)| HeadView {
            buf: h.buf,
            idx: h.idx,
            edit,
        }),
        None,
    );
    view.payload = payload;
    for (i, ub) in fe.cfg.use_backends.iter().enumerate() {
        if cond_matches(&ub.cond, &fe.cfg.acls, &view) {
            return fe.use_backend_idx.get(i).copied();
        }
    }
    fe.default_backend_idx
}

/// What the response rules of one proxy decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResVerdict {
    Continue,
    /// `rspdeny`: the response is replaced by a 502 (`dresp` counted on this proxy).
    Deny,
    /// A rewrite left an invalid status line, or an added header did not fit: 502.
    Invalid,
}

/// Runs the `rsp*` filters and `rspadd` lines of `px` on the response head. `req` is the
/// request head when still available (for `method`/`req_ver` in conditions).
pub fn process_response(
    base: &Base<'_>,
    px: &Proxy,
    req: Option<HeadView<'_>>,
    res_buf: &[u8],
    res_idx: &HeadIndex,
    edit: &mut HeadEdit,
) -> ResVerdict {
    let acls = &px.cfg.acls;
    macro_rules! view {
        () => {
            base.view(
                px,
                req,
                Some(HeadView {
                    buf: res_buf,
                    idx: res_idx,
                    edit: &*edit,
                }),
            )
        };
    }
    for f in &px.cfg.rsp_filters {
        if !rule_applies(f.cond.as_ref(), acls, &view!()) {
            continue;
        }
        match apply_res_filter(f, res_buf, res_idx, edit) {
            FilterOutcome::None | FilterOutcome::Tarpit => {}
            FilterOutcome::Deny => {
                count_denied_resp(px);
                return ResVerdict::Deny;
            }
            FilterOutcome::Invalid => return ResVerdict::Invalid,
        }
    }
    // 1.4 adds nothing to interim (1xx) responses.
    if status_of_line(edit.start_line(res_buf, res_idx)) < 200 {
        return ResVerdict::Continue;
    }
    for a in &px.cfg.rspadd {
        if rule_applies(a.cond.as_ref(), acls, &view!()) && edit.append(&a.line).is_err() {
            return ResVerdict::Invalid;
        }
    }
    ResVerdict::Continue
}

/// Applies one `rsp*` rule whose condition holds: the status line first (1.4
/// `apply_filter_to_sts_line`), then the header lines (`apply_filter_to_resp_headers`).
fn apply_res_filter(
    f: &HeaderFilter,
    buf: &[u8],
    idx: &HeadIndex,
    edit: &mut HeadEdit,
) -> FilterOutcome {
    if !matches!(f.action, FilterAction::Delete) && f.regex.is_match(edit.start_line(buf, idx)) {
        match &f.action {
            FilterAction::Replace(repl) => {
                let regex = &f.regex;
                edit.replace_start_line_with(buf, idx, |cur, out| expand(regex, cur, repl, out));
                if !valid_status_line(edit.start_line(buf, idx)) {
                    return FilterOutcome::Invalid;
                }
                return FilterOutcome::None;
            }
            FilterAction::Deny => return FilterOutcome::Deny,
            // Not response actions in 1.4's configuration language.
            _ => {}
        }
    }
    for id in 0..edit.line_slots() {
        let Some(line) = edit.line(buf, idx, id) else {
            continue;
        };
        if !f.regex.is_match(line) {
            continue;
        }
        match &f.action {
            FilterAction::Replace(repl) => {
                let regex = &f.regex;
                let _ = edit.replace_with(buf, idx, id, |cur, out| expand(regex, cur, repl, out));
            }
            FilterAction::Delete => {
                let _ = edit.delete(id);
            }
            FilterAction::Deny => return FilterOutcome::Deny,
            _ => {}
        }
    }
    FilterOutcome::None
}

/// Whether the response head (after the `rsp*` rules) carries a `Set-Cookie` or
/// `Set-Cookie2` header (1.4 `TX_SCK_PRESENT`, set before the persistence code edits them).
pub fn has_set_cookie(buf: &[u8], idx: &HeadIndex, edit: &HeadEdit) -> bool {
    edit.lines(buf, idx).any(|(_, l)| {
        crate::http1::split_header_line(l).is_some_and(|(n, _)| {
            n.eq_ignore_ascii_case(b"set-cookie") || n.eq_ignore_ascii_case(b"set-cookie2")
        })
    })
}

/// `option checkcache` (1.4 `http_process_res_common` step 7 with
/// `check_response_for_cacheability`): whether the response must be blocked (502, `PH`)
/// because it is cacheable and carries a cookie. Call it after the persistence code, on the
/// final response head, with `set_cookie` from [`has_set_cookie`] before that code ran.
///
/// Cacheable means: status 200, 203, 206, 300, 301 or 410 to a non-POST request, and the
/// headers do not say otherwise: `Pragma: no-cache`, or a `Cache-Control` whose first
/// directive is `private`, `no-cache` or `no-store` make it non-cacheable (the first such
/// header ends the scan); `no-cache="set-cookie"` only removes the cookie concern; `public`
/// restores both. (A `Cache-control: private` added by `cookie ... nocache` insertion is
/// seen here too, which is how 1.4's flags end up as well.)
pub fn checkcache_blocks(
    be: &Proxy,
    req_method: Method,
    status: u16,
    set_cookie: bool,
    buf: &[u8],
    idx: &HeadIndex,
    edit: &HeadEdit,
) -> bool {
    if be.cfg.options.checkcache.is_none() || !set_cookie || req_method == Method::Post {
        return false;
    }
    if !matches!(status, 200 | 203 | 206 | 300 | 301 | 410) {
        return false;
    }
    let mut cache_cookie = true;
    for (_, line) in edit.lines(buf, idx) {
        let Some((name, value)) = crate::http1::split_header_line(line) else {
            continue;
        };
        if name.eq_ignore_ascii_case(b"pragma") {
            if value
                .get(..8)
                .is_some_and(|v| v.eq_ignore_ascii_case(b"no-cache"))
            {
                return false;
            }
            continue;
        }
        if !name.eq_ignore_ascii_case(b"cache-control") || value.is_empty() {
            continue;
        }
        let end = value
            .iter()
            .position(|&b| b == b'=' || b == b',' || b.is_ascii_whitespace())
            .unwrap_or(value.len());
        let word = &value[..end];
        if value.get(end) == Some(&b'=') {
            // Only `no-cache="set-cookie"` matters among `x=y` directives.
            if value.len() >= 21
                && value[..20].eq_ignore_ascii_case(b"no-cache=\"set-cookie")
                && matches!(value[20], b'"' | b',')
            {
                cache_cookie = false;
            }
            continue;
        }
        if word.eq_ignore_ascii_case(b"private")
            || word.eq_ignore_ascii_case(b"no-cache")
            || word.eq_ignore_ascii_case(b"no-store")
        {
            return false;
        }
        if word.eq_ignore_ascii_case(b"public") {
            cache_cookie = true;
        }
    }
    cache_cookie
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(s: &str) -> regex::bytes::Regex {
        regex::bytes::Regex::new(s).expect("test regex")
    }

    #[test]
    fn expand_back_references() {
        let mut out = Vec::new();
        expand(
            &re(r"^Host: (.*)\.example\.com"),
            b"Host: www.example.com",
            br"Host: \1.internal\\x\x41",
            &mut out,
        );
        // The parser left `\\x` as `\\` + `x` here: an escaped backslash, then `x`.
        assert_eq!(out, b"Host: www.internal\\xA");
        out.clear();
        expand(
            &re(r"^([^ ]*) /static/(.*)"),
            b"GET /static/a.css HTTP/1.1",
            br"\1 /\2",
            &mut out,
        );
        assert_eq!(out, b"GET /a.css HTTP/1.1");
        out.clear();
        // \0 is the whole match; a group that did not take part inserts nothing.
        expand(&re(r"^(a)|(b)"), b"abc", br"[\0][\1][\2][\9]", &mut out);
        assert_eq!(out, b"[a][a][][]");
    }

    #[test]
    fn expand_other_escapes_yield_the_byte() {
        let mut out = Vec::new();
        expand(&re("x"), b"x", br"a\qb\.c\", &mut out);
        assert_eq!(out, b"aqb.c");
        out.clear();
        expand(&re("x"), b"x", br"\x4a\x6B\x", &mut out);
        assert_eq!(out, b"Jk");
    }

    #[test]
    fn request_line_validation() {
        assert!(valid_request_line(b"GET / HTTP/1.1"));
        assert!(valid_request_line(b"GET /a?b HTTP/1.0"));
        assert!(valid_request_line(b"GET  /x  HTTP/1.1"));
        assert!(valid_request_line(b"GET /"));
        assert!(!valid_request_line(b"GET"));
        assert!(!valid_request_line(b""));
        assert!(!valid_request_line(b"G(T / HTTP/1.1"));
        assert!(!valid_request_line(b"GET / HTTP/1.1 extra"));
        assert!(!valid_request_line(b"GET / http/1.1"));
        assert!(!valid_request_line(b" GET / HTTP/1.1"));
        // An injected line after the request line is not part of it.
        assert!(valid_request_line(b"GET / HTTP/1.1\r\nX-Injected: 1"));
    }

    #[test]
    fn status_line_validation_and_code() {
        assert!(valid_status_line(b"HTTP/1.1 200 OK"));
        assert!(valid_status_line(b"HTTP/1.0 404"));
        assert!(!valid_status_line(b"HTTP/1.1"));
        assert!(!valid_status_line(b"HTTX/1.1 200 OK"));
        assert_eq!(status_of_line(b"HTTP/1.1 404 Not Found"), 404);
        assert_eq!(status_of_line(b"HTTP/1.1  302 Found"), 302);
        assert_eq!(status_of_line(b"HTTP/1.1 abc"), 0);
    }

    // ---- rule sets over a runtime built from a configuration ----

    use crate::http1::{Parse, ParseOptions};

    fn runtime(body: &str) -> Runtime {
        let text = format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n              timeout server 1s\n{body}"
        );
        crate::proxy::fuzz::runtime_from_text(&text)
            .unwrap_or_else(|| panic!("config refused:\n{text}"))
    }

    /// What one request did: the verdict, the head as it would be forwarded (or the reply
    /// written by a redirect), and the flags.
    struct Outcome {
        verdict: ReqVerdict,
        head: String,
        out: String,
        flags: ReqFlags,
    }

    fn base<'a>(rt: &'a Runtime, fe: &'a Proxy) -> Base<'a> {
        Base {
            rt,
            fe,
            be: fe,
            server_id: None,
            peer: "127.0.0.1:40000".parse().expect("addr"),
            local: "127.0.0.1:80".parse().expect("addr"),
            luid: 1,
            first_req: true,
            capacity: 15360,
        }
    }

    /// Runs the frontend `fe` then, when it switched, the backend's rule set.
    fn request_ctx(rt: &Runtime, fe: &str, req: &[u8], ctx: ReqCtx) -> Outcome {
        let fe = rt.proxy_by_name(fe).expect("frontend");
        let mut idx = HeadIndex::new();
        let opts = ParseOptions {
            max_head: 15360,
            accept_invalid: false,
        };
        assert_eq!(idx.parse_request(req, &opts), Parse::Complete);
        let mut edit = HeadEdit::new();
        edit.reset(&idx);
        let head = ReqHead {
            buf: req,
            idx: &idx,
        };
        let mut flags = ReqFlags::default();
        let mut out = Vec::new();
        let b = base(rt, fe);
        let mut verdict =
            process_request(&b, fe, &head, &mut edit, &mut flags, true, &ctx, &mut out);
        if verdict == ReqVerdict::Continue {
            let be = flags
                .set_backend
                .or_else(|| switch_backend(&b, fe, Some((&head, &edit)), &[]));
            if let Some(be) = be.filter(|&i| i != fe.idx) {
                let px = &rt.proxies[be];
                verdict =
                    process_request(&b, px, &head, &mut edit, &mut flags, false, &ctx, &mut out);
            }
        }
        let mut written = Vec::new();
        edit.write(req, &idx, &mut written);
        Outcome {
            verdict,
            head: String::from_utf8_lossy(&written).into_owned(),
            out: String::from_utf8_lossy(&out).into_owned(),
            flags,
        }
    }

    fn request(rt: &Runtime, fe: &str, req: &[u8]) -> Outcome {
        request_ctx(rt, fe, req, ReqCtx::default())
    }

    const REQ: &[u8] = b"GET /v1/x?q=1 HTTP/1.1\r\nHost: www.example.com\r\nX-V: v1\r\n\
X-V: v1 again\r\nX-Secret: s\r\nx-secret: t\r\n\r\n";

    #[test]
    fn filters_start_line_first_then_headers() {
        let rt = runtime(
            "frontend fe\n bind :8080\n default_backend be\n\
             reqrep ^(.*)v1(.*) \\1v2\\2\n\
             reqrep ^X-V:\\ (.*) X-V:\\ [\\1]\n\
             reqrep ^Host:\\ ([^.]*)\\.example\\.com Host:\\ \\1.internal\n\
             backend be\n server s 127.0.0.1:1\n",
        );
        let o = request(&rt, "fe", REQ);
        assert_eq!(o.verdict, ReqVerdict::Continue);
        // The first rule matched the request line, so it did not touch the headers; the
        // second sees X-V lines as they are.
        assert_eq!(
            o.head,
            "GET /v2/x?q=1 HTTP/1.1\r\nHost: www.internal\r\nX-V: [v1]\r\n\
X-V: [v1 again]\r\nX-Secret: s\r\nx-secret: t\r\n\r\n"
        );
    }

    #[test]
    fn reqdel_and_reqidel_never_remove_the_request_line() {
        let rt = runtime(
            "frontend fe\n bind :8080\n default_backend be\n\
             reqdel ^X-Secret\n reqidel .*v1\n\
             backend be\n server s 127.0.0.1:1\n",
        );
        let o = request(&rt, "fe", REQ);
        assert_eq!(
            o.head,
            "GET /v1/x?q=1 HTTP/1.1\r\nHost: www.example.com\r\nx-secret: t\r\n\r\n"
        );
    }

    #[test]
    fn reqallow_skips_later_verdicts_reqpass_does_nothing() {
        let rt = runtime(
            "frontend fe\n bind :8080\n default_backend be\n\
             reqallow ^GET\\ /v1\n reqpass ^GET\n reqdeny ^GET\n reqtarpit ^GET\n\
             reqadd X-After:\\ 1\n\
             frontend fe2\n bind :8081\n default_backend be\n\
             reqpass ^GET\n reqideny ^host:\n\
             backend be\n server s 127.0.0.1:1\n",
        );
        let o = request(&rt, "fe", REQ);
        assert_eq!(o.verdict, ReqVerdict::Continue);
        assert!(o.flags.allowed);
        assert!(o.head.ends_with("X-After: 1\r\n\r\n"), "{}", o.head);
        let o = request(&rt, "fe", b"GET /other HTTP/1.1\r\n\r\n");
        assert_eq!(o.verdict, ReqVerdict::Deny);
        let o = request(&rt, "fe2", REQ);
        assert_eq!(o.verdict, ReqVerdict::Deny);
        // reqdeny counts dreq on the proxy whose rules run (1.4 `s->be` = the frontend).
        let fe2 = rt.proxy_by_name("fe2").expect("fe2");
        assert_eq!(fe2.fe_counters.dreq.load(Relaxed), 1);
        let fe = rt.proxy_by_name("fe").expect("fe");
        assert_eq!(fe.fe_counters.dreq.load(Relaxed), 1);
    }

    #[test]
    fn block_and_http_request_deny_answer_403_without_dreq() {
        let rt = runtime(
            "frontend fe\n bind :8080\n default_backend be\n\
             acl v1 path_beg /v1\n block if v1\n\
             http-request deny if { hdr(host) -i other }\n\
             backend be\n server s 127.0.0.1:1\n",
        );
        assert_eq!(request(&rt, "fe", REQ).verdict, ReqVerdict::Deny);
        let o = request(&rt, "fe", b"GET / HTTP/1.1\r\nHost: OTHER\r\n\r\n");
        assert_eq!(o.verdict, ReqVerdict::Deny);
        let o = request(&rt, "fe", b"GET / HTTP/1.1\r\nHost: fine\r\n\r\n");
        assert_eq!(o.verdict, ReqVerdict::Continue);
        let fe = rt.proxy_by_name("fe").expect("fe");
        assert_eq!(fe.fe_counters.dreq.load(Relaxed), 0);
    }

    #[test]
    fn http_request_auth_comes_after_filters_and_reqadd() {
        let rt = runtime(
            "userlist L\n user u insecure-password p\n\
             frontend fe\n bind :8080\n default_backend be\n\
             acl ok http_auth(L)\n http-request allow if { path /open }\n\
             http-request auth realm Zone unless ok\n\
             reqdeny ^X-Evil\n\
             backend be\n server s 127.0.0.1:1\n\
             listen li\n bind :8081\n http-request auth\n server s 127.0.0.1:1\n",
        );
        let o = request(&rt, "fe", b"GET / HTTP/1.1\r\nX-Evil: 1\r\n\r\n");
        assert_eq!(o.verdict, ReqVerdict::Deny);
        let o = request(&rt, "fe", b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(
            o.verdict,
            ReqVerdict::Auth {
                realm: "Zone".into()
            }
        );
        let o = request(&rt, "fe", b"GET /open HTTP/1.1\r\n\r\n");
        assert_eq!(o.verdict, ReqVerdict::Continue);
        // u:p
        let o = request(
            &rt,
            "fe",
            b"GET / HTTP/1.1\r\nAuthorization: Basic dTpw\r\n\r\n",
        );
        assert_eq!(o.verdict, ReqVerdict::Continue);
        // Without a realm, the proxy's name.
        let o = request(&rt, "li", b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(o.verdict, ReqVerdict::Auth { realm: "li".into() });
    }

    #[test]
    fn reqsetbe_switches_once_and_skips_use_backend() {
        let rt = runtime(
            "frontend fe\n bind :8080\n default_backend be\n\
             reqisetbe ^host:\\ www b2\n reqsetbe ^X-V b3\n reqtarpit ^X-Secret\n\
             use_backend be if TRUE\n\
             backend be\n server s 127.0.0.1:1\n\
             backend b2\n server s 127.0.0.1:1\n\
             backend b3\n server s 127.0.0.1:1\n",
        );
        let o = request(&rt, "fe", REQ);
        let b2 = rt.proxy_by_name("b2").expect("b2");
        assert_eq!(o.flags.set_backend, Some(b2.idx));
        // The tarpit after the switch counts on the new backend, as 1.4's `s->be`.
        assert_eq!(o.verdict, ReqVerdict::Tarpit);
        assert_eq!(b2.be_counters.dreq.load(Relaxed), 1);
        let fe = rt.proxy_by_name("fe").expect("fe");
        assert_eq!(fe.fe_counters.dreq.load(Relaxed), 0);
    }

    #[test]
    fn broken_rewrites_are_bad_requests() {
        let rt = runtime(
            "frontend fe\n bind :8080\n default_backend be\n\
             reqrep ^GET\\ /bad(.*) GET\n\
             backend be\n server s 127.0.0.1:1\n",
        );
        let o = request(&rt, "fe", b"GET /bad HTTP/1.1\r\n\r\n");
        assert_eq!(o.verdict, ReqVerdict::BadRequest);
        let o = request(&rt, "fe", b"GET /good HTTP/1.1\r\n\r\n");
        assert_eq!(o.verdict, ReqVerdict::Continue);
    }

    #[test]
    fn redirect_bytes() {
        let rt = runtime(
            "frontend fe\n bind :8080\n default_backend be\n\
             redirect location http://x/y code 301 if { path /loc301 }\n\
             redirect location /here code 308 set-cookie A=1 if { path /loc308 }\n\
             redirect prefix / append-slash if { path_beg /self }\n\
             redirect prefix https://s.example drop-query clear-cookie B= if { path_beg /pfx }\n\
             redirect scheme https code 303 append-slash drop-query if { path_beg /sch }\n\
             redirect prefix /p code 307 if { path_beg /ka }\n\
             backend be\n server s 127.0.0.1:1\n",
        );
        let cases: [(&[u8], &str); 6] = [
            (
                b"GET /loc301 HTTP/1.1\r\n\r\n",
                "HTTP/1.1 301 Moved Permanently\r\nContent-length: 0\r\n\
                 Location: http://x/y\r\nConnection: close\r\n\r\n",
            ),
            (
                b"GET /loc308 HTTP/1.0\r\n\r\n",
                "HTTP/1.1 308 Permanent Redirect\r\nContent-length: 0\r\nLocation: /here\r\n\
                 Set-Cookie: A=1; path=/;\r\nConnection: close\r\n\r\n",
            ),
            (
                b"GET /self?a=b HTTP/1.1\r\n\r\n",
                "HTTP/1.1 302 Found\r\nCache-Control: no-cache\r\nContent-length: 0\r\n\
                 Location: /self?a=b/\r\nConnection: close\r\n\r\n",
            ),
            (
                b"GET http://h/pfx/a?b HTTP/1.1\r\n\r\n",
                "HTTP/1.1 302 Found\r\nCache-Control: no-cache\r\nContent-length: 0\r\n\
                 Location: https://s.example/pfx/a\r\nSet-Cookie: B=; path=/; Max-Age=0;\r\n\
                 Connection: close\r\n\r\n",
            ),
            (
                b"GET /sch/d?x HTTP/1.1\r\nHost: h.example:81, other\r\nHost: z\r\n\r\n",
                "HTTP/1.1 303 See Other\r\nCache-Control: no-cache\r\nContent-length: 0\r\n\
                 Location: https://h.example:81/sch/d/\r\nConnection: close\r\n\r\n",
            ),
            (
                b"GET /ka HTTP/1.1\r\n\r\n",
                "HTTP/1.1 307 Temporary Redirect\r\nCache-Control: no-cache\r\n\
                 Content-length: 0\r\nLocation: /p/ka\r\nConnection: close\r\n\r\n",
            ),
        ];
        for (req, want) in cases {
            let o = request(&rt, "fe", req);
            assert_eq!(o.verdict, ReqVerdict::Redirect { keep_alive: false });
            assert_eq!(o.out, want, "{}", String::from_utf8_lossy(req));
        }
    }

    #[test]
    fn redirect_keeps_alive_in_server_close_mode() {
        let rt = runtime(
            "frontend fe\n bind :8080\n option http-server-close\n default_backend be\n\
             option http-use-proxy-header\n\
             redirect prefix /p if { path_beg /ka }\n\
             redirect location http://abs/ if { path_beg /abs }\n\
             backend be\n server s 127.0.0.1:1\n\
             frontend fc\n bind :8081\n option http-server-close\n option httpclose\n\
             redirect prefix /p\n default_backend be\n",
        );
        let ka11 = ReqCtx {
            client_keepalive: true,
            http11: true,
            proxy_conn: false,
        };
        let o = request_ctx(&rt, "fe", b"GET /ka HTTP/1.1\r\n\r\n", ka11);
        assert_eq!(o.verdict, ReqVerdict::Redirect { keep_alive: true });
        assert!(o.out.ends_with("Location: /p/ka\r\n\r\n"), "{}", o.out);
        let ka10 = ReqCtx {
            http11: false,
            ..ka11
        };
        let o = request_ctx(&rt, "fe", b"GET /ka HTTP/1.0\r\n\r\n", ka10);
        assert!(
            o.out.ends_with("\r\nConnection: keep-alive\r\n\r\n"),
            "{}",
            o.out
        );
        let px10 = ReqCtx {
            proxy_conn: true,
            ..ka10
        };
        let o = request_ctx(&rt, "fe", b"GET http://h/ka HTTP/1.0\r\n\r\n", px10);
        assert!(
            o.out.ends_with("\r\nProxy-Connection: keep-alive\r\n\r\n"),
            "{}",
            o.out
        );
        // Not to a local path, or the client closes, or httpclose: close.
        let o = request_ctx(&rt, "fe", b"GET /abs HTTP/1.1\r\n\r\n", ka11);
        assert_eq!(o.verdict, ReqVerdict::Redirect { keep_alive: false });
        assert!(
            o.out.ends_with("\r\nConnection: close\r\n\r\n"),
            "{}",
            o.out
        );
        let o = request_ctx(&rt, "fe", b"GET /ka HTTP/1.1\r\n\r\n", ReqCtx::default());
        assert_eq!(o.verdict, ReqVerdict::Redirect { keep_alive: false });
        let o = request_ctx(&rt, "fc", b"GET /ka HTTP/1.1\r\n\r\n", ka11);
        assert_eq!(o.verdict, ReqVerdict::Redirect { keep_alive: false });
    }

    /// Runs the response rules of `be` then `fe` on `res`; returns the verdict and the head.
    fn response(rt: &Runtime, fe: &str, be: &str, res: &[u8]) -> (ResVerdict, String) {
        let fe = rt.proxy_by_name(fe).expect("fe");
        let be = rt.proxy_by_name(be).expect("be");
        let mut idx = HeadIndex::new();
        let opts = ParseOptions {
            max_head: 15360,
            accept_invalid: false,
        };
        assert_eq!(idx.parse_response(res, &opts, Method::Get), Parse::Complete);
        let mut edit = HeadEdit::new();
        edit.reset(&idx);
        let b = base(rt, fe);
        let mut v = process_response(&b, be, None, res, &idx, &mut edit);
        if v == ResVerdict::Continue {
            v = process_response(&b, fe, None, res, &idx, &mut edit);
        }
        let mut out = Vec::new();
        edit.write(res, &idx, &mut out);
        (v, String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn response_rules_backend_first_then_frontend() {
        let rt = runtime(
            "frontend fe\n bind :8080\n default_backend be\n\
             rspadd X-Fe:\\ 1\n rspidel ^x-server\n\
             rsprep ^HTTP/1.1\\ 200\\ OK HTTP/1.1\\ 299\\ Fine\n\
             backend be\n server s 127.0.0.1:1\n\
             rspirep ^x-server:\\ (.*) X-Server:\\ <\\1>\n rspadd X-Be:\\ 1\n\
             rspdeny ^X-Bad\n rspadd X-Never:\\ 1 if { status 100 }\n",
        );
        let (v, head) = response(
            &rt,
            "fe",
            "be",
            b"HTTP/1.1 200 OK\r\nX-SERVER: s1\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(v, ResVerdict::Continue);
        assert_eq!(
            head,
            "HTTP/1.1 299 Fine\r\nContent-Length: 0\r\nX-Be: 1\r\nX-Fe: 1\r\n\r\n"
        );
        assert_eq!(status_of_line(head.as_bytes()), 299);
        let (v, _) = response(
            &rt,
            "fe",
            "be",
            b"HTTP/1.1 200 OK\r\nX-Bad: 1\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(v, ResVerdict::Deny);
        let be = rt.proxy_by_name("be").expect("be");
        assert_eq!(be.be_counters.dresp.load(Relaxed), 1);
        let fe = rt.proxy_by_name("fe").expect("fe");
        assert_eq!(fe.fe_counters.dresp.load(Relaxed), 0);
        // No rspadd on interim responses.
        let (_, head) = response(&rt, "fe", "be", b"HTTP/1.1 100 Continue\r\n\r\n");
        assert_eq!(head, "HTTP/1.1 100 Continue\r\n\r\n");
    }

    fn cc(cfg_be: &str, method: Method, res: &[u8]) -> bool {
        let rt = runtime(&format!(
            "frontend fe\n bind :8080\n default_backend be\n\
             backend be\n server s 127.0.0.1:1\n{cfg_be}"
        ));
        let be = rt.proxy_by_name("be").expect("be");
        let mut idx = HeadIndex::new();
        let opts = ParseOptions {
            max_head: 15360,
            accept_invalid: false,
        };
        assert_eq!(idx.parse_response(res, &opts, method), Parse::Complete);
        let mut edit = HeadEdit::new();
        edit.reset(&idx);
        let sc = has_set_cookie(res, &idx, &edit);
        checkcache_blocks(be, method, idx.status(), sc, res, &idx, &edit)
    }

    #[test]
    fn checkcache_blocks_cacheable_cookies_only() {
        let on = " option checkcache\n";
        let ck = b"HTTP/1.1 200 OK\r\nSet-Cookie: a=b\r\nContent-Length: 0\r\n\r\n";
        assert!(cc(on, Method::Get, ck));
        assert!(!cc("", Method::Get, ck));
        assert!(!cc(on, Method::Post, ck));
        assert!(!cc(
            on,
            Method::Get,
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        ));
        assert!(!cc(
            on,
            Method::Get,
            b"HTTP/1.1 302 Found\r\nSet-Cookie: a=b\r\n\r\n"
        ));
        assert!(cc(
            on,
            Method::Get,
            b"HTTP/1.1 410 Gone\r\nSet-cookie2: a=b\r\n\r\n"
        ));
        for h in [
            "Cache-Control: private",
            "cache-control: No-Cache, max-age=3",
            "Cache-Control: no-store",
            "Pragma: no-cache",
            "Cache-Control: no-cache=\"set-cookie\"",
        ] {
            let res = format!("HTTP/1.1 200 OK\r\nSet-Cookie: a=b\r\n{h}\r\n\r\n");
            assert!(!cc(on, Method::Get, res.as_bytes()), "{h}");
        }
        for h in [
            "Cache-Control: max-age=0",
            "Cache-Control: public",
            "Cache-Control: max-age=60, private",
            "Cache-Control: no-cache=\"set-cookie\", x\r\nCache-Control: public",
        ] {
            let res = format!("HTTP/1.1 200 OK\r\nSet-Cookie: a=b\r\n{h}\r\n\r\n");
            assert!(cc(on, Method::Get, res.as_bytes()), "{h}");
        }
    }

    #[test]
    fn hex_digits_like_1_4() {
        assert_eq!(hex_digit_1_4(b'0'), 0);
        assert_eq!(hex_digit_1_4(b'9'), 9);
        assert_eq!(hex_digit_1_4(b'a'), 10);
        assert_eq!(hex_digit_1_4(b'F'), 15);
    }
}
