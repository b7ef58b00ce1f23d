//! Request and response rule sets of a proxy, in 1.4's order (`src/proto_http.c`
//! `http_process_req_common`, `apply_filters_to_request`, `apply_filter_to_req_line`,
//! `apply_filter_to_req_headers`, `http_process_res_common`, `apply_filters_to_response`):
//!
//! request: `block` → `http-request` (first matching rule decides) → `req*` regex filters in
//! declaration order (`reqallow` makes later allow/deny/tarpit/pass rules skip; deny/tarpit
//! stop) → `reqadd` → stats URI → `redirect` (first match). `use_backend` runs afterwards
//! (switching rules), then the backend's own set.
//!
//! response: `rsp*` filters then `rspadd`, backend first, then frontend.
//!
//! Regex rules see each line as it currently is (earlier rules' results included): the start
//! line first; a rule that matched the start line is not applied to the headers.

use super::view::{Base, HeadView};
use crate::acl::{cond_matches, rule_applies};
use crate::http1::{HeadEdit, HeadIndex};
use crate::runtime::{Proxy, Runtime};
use parser::ir::{
    FilterAction, HeaderFilter, HttpReqAction, HttpReqRule, Redirect, RedirectCookie, RedirectKind,
};
use parser::span::Spanned;

/// What the request rules of one proxy decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReqVerdict {
    Continue,
    /// 403 (`block`, `http-request deny`, `reqdeny`).
    Deny,
    /// Hold for `timeout tarpit`, then 500.
    Tarpit,
    /// 401 (or 407 for proxy requests) with this realm.
    Auth {
        realm: String,
    },
    /// A redirect response was written into the output buffer.
    Redirect,
    /// The request is for this proxy's stats page.
    Stats,
}

/// Request-side state the rules carry between proxies.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReqFlags {
    /// `reqallow` matched: later allow/deny/tarpit/pass filters are skipped.
    pub allowed: bool,
    /// `reqsetbe` chose a backend (index in `Runtime::proxies`).
    pub set_backend: Option<usize>,
}

/// The request being analysed.
pub struct ReqHead<'a> {
    pub buf: &'a [u8],
    pub idx: &'a HeadIndex,
}

/// Runs the request rule set of `px` (frontend or backend), editing the head in `edit`.
/// A redirect response is written to `out`.
#[allow(clippy::too_many_arguments)]
pub fn process_request(
    base: &Base<'_>,
    px: &Proxy,
    head: &ReqHead<'_>,
    edit: &mut HeadEdit,
    flags: &mut ReqFlags,
    is_frontend: bool,
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
                    edit,
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
    // 2. http-request (the stats list replaces it for stats requests)
    let stats_req = is_stats_request(px, head, edit);
    let http_rules: &[Spanned<HttpReqRule>] = match (&px.cfg.stats, stats_req) {
        (Some(st), true) if !st.http_request.is_empty() || !st.auth.is_empty() => &st.http_request,
        _ => &px.cfg.http_request,
    };
    if stats_req && http_rules.is_empty() {
        if let Some(st) = &px.cfg.stats {
            if !st.auth.is_empty() && !stats_auth_ok(base, px, head, edit) {
                return ReqVerdict::Auth {
                    realm: st
                        .realm
                        .clone()
                        .unwrap_or_else(|| "HAProxy Statistics".into()),
                };
            }
        }
    }
    for r in http_rules {
        if rule_applies(r.cond.as_ref(), acls, &view!()) {
            match &r.action {
                HttpReqAction::Allow => break,
                HttpReqAction::Deny => return ReqVerdict::Deny,
                HttpReqAction::Auth { realm } => {
                    let realm = realm.clone().unwrap_or_else(|| {
                        if stats_req {
                            px.cfg
                                .stats
                                .as_ref()
                                .and_then(|s| s.realm.clone())
                                .unwrap_or_else(|| "HAProxy Statistics".into())
                        } else {
                            px.cfg.name.clone()
                        }
                    });
                    return ReqVerdict::Auth { realm };
                }
            }
        }
    }
    // 3. req* filters
    let mut deny = false;
    let mut tarpit = false;
    for f in &px.cfg.req_filters {
        if deny || tarpit {
            break;
        }
        if flags.allowed && is_verdict(&f.action) {
            continue;
        }
        if !rule_applies(f.cond.as_ref(), acls, &view!()) {
            continue;
        }
        match apply_filter(rt, f, head.buf, head.idx, edit, is_frontend, flags) {
            FilterOutcome::Deny => deny = true,
            FilterOutcome::Tarpit => tarpit = true,
            FilterOutcome::None => {}
        }
    }
    if deny {
        return ReqVerdict::Deny;
    }
    if tarpit {
        return ReqVerdict::Tarpit;
    }
    // 5. reqadd
    for a in &px.cfg.reqadd {
        if rule_applies(a.cond.as_ref(), acls, &view!()) && edit.append(&a.line).is_err() {
            return ReqVerdict::Deny;
        }
    }
    // 7. stats
    if stats_req {
        return ReqVerdict::Stats;
    }
    // 8. redirect
    for r in &px.cfg.redirects {
        if rule_applies(r.cond.as_ref(), acls, &view!()) {
            write_redirect(r, head, edit, out);
            return ReqVerdict::Redirect;
        }
    }
    ReqVerdict::Continue
}

fn is_verdict(a: &FilterAction) -> bool {
    matches!(
        a,
        FilterAction::Allow | FilterAction::Deny | FilterAction::Tarpit | FilterAction::Pass
    )
}

enum FilterOutcome {
    None,
    Deny,
    Tarpit,
}

/// Applies one regex rule to the start line, then (if it did not match there) to each header
/// line, as 1.4 does.
fn apply_filter(
    rt: &Runtime,
    f: &HeaderFilter,
    buf: &[u8],
    idx: &HeadIndex,
    edit: &mut HeadEdit,
    is_frontend: bool,
    flags: &mut ReqFlags,
) -> FilterOutcome {
    // Start line.
    let matched_start = {
        let line = edit.start_line(buf, idx);
        f.regex.is_match(line)
    };
    if matched_start {
        match &f.action {
            FilterAction::Replace(repl) => {
                let regex = &f.regex;
                edit.replace_start_line_with(buf, idx, |cur, out| expand(regex, cur, repl, out));
            }
            FilterAction::Delete | FilterAction::Pass => {}
            FilterAction::Allow => flags.allowed = true,
            FilterAction::Deny => return FilterOutcome::Deny,
            FilterAction::Tarpit => return FilterOutcome::Tarpit,
            FilterAction::SetBackend(name) => set_backend(rt, name, is_frontend, flags),
        }
        return FilterOutcome::None;
    }
    // Header lines, in order (ids are stable while editing).
    let slots = edit.line_slots();
    for id in 0..slots {
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
                return FilterOutcome::None;
            }
            FilterAction::Deny => return FilterOutcome::Deny,
            FilterAction::Tarpit => return FilterOutcome::Tarpit,
            FilterAction::SetBackend(name) => {
                set_backend(rt, name, is_frontend, flags);
                return FilterOutcome::None;
            }
        }
    }
    FilterOutcome::None
}

fn set_backend(rt: &Runtime, name: &str, is_frontend: bool, flags: &mut ReqFlags) {
    if is_frontend && flags.set_backend.is_none() {
        flags.set_backend = rt
            .proxies
            .iter()
            .position(|p| p.cfg.name == name && p.cfg.kind.has_be());
    }
}

/// Writes `repl` with `\0`..`\9` replaced by the captures of `regex` on `line` (1.4
/// `exp_replace`): the whole line becomes the expansion. `\\` gives a backslash; `\xHH` a byte.
pub fn expand(regex: &regex::bytes::Regex, line: &[u8], repl: &[u8], out: &mut Vec<u8>) {
    let caps = regex.captures(line);
    let mut i = 0;
    while i < repl.len() {
        let c = repl[i];
        if c == b'\\' && i + 1 < repl.len() {
            let n = repl[i + 1];
            if n.is_ascii_digit() {
                if let Some(m) = caps.as_ref().and_then(|c| c.get(usize::from(n - b'0'))) {
                    out.extend_from_slice(m.as_bytes());
                }
                i += 2;
                continue;
            }
            if n == b'\\' {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if n == b'x' && i + 3 < repl.len() {
                if let (Some(h), Some(l)) = (hex(repl[i + 2]), hex(repl[i + 3])) {
                    out.push(h << 4 | l);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(c);
        i += 1;
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Whether the request targets `px`'s stats page: GET/HEAD/POST whose URI starts with the
/// stats prefix (1.4 `stats_check_uri`), or is the `stats prometheus-uri` path (extension).
pub fn is_stats_request(px: &Proxy, head: &ReqHead<'_>, edit: &HeadEdit) -> bool {
    let Some(st) = &px.cfg.stats else {
        return false;
    };
    let line = edit.start_line(head.buf, head.idx);
    let mut words = line.splitn(3, |&b| b == b' ');
    let method = words.next().unwrap_or(&[]);
    let uri = words.next().unwrap_or(&[]);
    matches!(method, b"GET" | b"HEAD" | b"POST")
        && (uri.starts_with(st.uri.as_bytes())
            || st
                .prometheus_uri
                .as_ref()
                .is_some_and(|p| crate::stats::prometheus::uri_matches(uri, p)))
}

/// `stats auth user:pass` credentials check against the request's `Authorization` header
/// (constant-time password comparison).
fn stats_auth_ok(base: &Base<'_>, px: &Proxy, head: &ReqHead<'_>, edit: &HeadEdit) -> bool {
    let Some(st) = &px.cfg.stats else {
        return true;
    };
    let _ = base;
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

/// Writes the response of a `redirect` rule (spec §8).
fn write_redirect(r: &Redirect, head: &ReqHead<'_>, edit: &HeadEdit, out: &mut Vec<u8>) {
    use crate::http1::{write_redirect as wr, RedirectCode, RedirectConn};
    let code = RedirectCode::from_code(r.code).unwrap_or(RedirectCode::Found302);
    let line = edit.start_line(head.buf, head.idx);
    let uri = line.splitn(3, |&b| b == b' ').nth(1).unwrap_or(&[]);
    let path_full = crate::http1::uri_path(uri).unwrap_or(b"/");
    let mut path: &[u8] = path_full;
    if r.drop_query {
        if let Some(q) = path.iter().position(|&b| b == b'?') {
            path = &path[..q];
        }
    }
    let slash: &[u8] = if r.append_slash && !path.ends_with(b"/") {
        b"/"
    } else {
        b""
    };
    let mut cookie_buf = Vec::new();
    let cookie = r.cookie.as_ref().map(|c| {
        match c {
            RedirectCookie::Set(v) => {
                cookie_buf.extend_from_slice(v.as_bytes());
                cookie_buf.extend_from_slice(b"; path=/;");
            }
            RedirectCookie::Clear(v) => {
                cookie_buf.extend_from_slice(v.as_bytes());
                cookie_buf.extend_from_slice(b"; path=/; Max-Age=0;");
            }
        }
        &cookie_buf[..]
    });
    match r.kind {
        RedirectKind::Location => wr(
            out,
            code,
            &[r.target.as_bytes()],
            cookie,
            RedirectConn::Close,
        ),
        RedirectKind::Prefix => {
            // A prefix of "/" alone adds nothing, so the location stays the original path.
            let prefix: &[u8] = if r.target == "/" {
                b""
            } else {
                r.target.as_bytes()
            };
            wr(
                out,
                code,
                &[prefix, path, slash],
                cookie,
                RedirectConn::Close,
            )
        }
        RedirectKind::Scheme => {
            let host = edit
                .find(head.buf, head.idx, b"host")
                .map(|(_, v)| v)
                .next()
                .unwrap_or(&[]);
            wr(
                out,
                code,
                &[r.target.as_bytes(), b"://", host, path, slash],
                cookie,
                RedirectConn::Close,
            )
        }
    }
}

/// `use_backend` rules of the frontend then `default_backend`; `None` when neither applies.
pub fn switch_backend(
    base: &Base<'_>,
    fe: &Proxy,
    head: &ReqHead<'_>,
    edit: &HeadEdit,
) -> Option<usize> {
    let view = base.view(
        fe,
        Some(HeadView {
            buf: head.buf,
            idx: head.idx,
            edit,
        }),
        None,
    );
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
    /// `rspdeny`: the response is replaced by a 502.
    Deny,
}

/// Runs the `rsp*` filters and `rspadd` lines of `px` on the response head.
pub fn process_response(
    base: &Base<'_>,
    px: &Proxy,
    req: Option<HeadView<'_>>,
    res_buf: &[u8],
    res_idx: &HeadIndex,
    edit: &mut HeadEdit,
) -> ResVerdict {
    let acls = &px.cfg.acls;
    for f in &px.cfg.rsp_filters {
        let applies = {
            let v = base.view(
                px,
                req,
                Some(HeadView {
                    buf: res_buf,
                    idx: res_idx,
                    edit,
                }),
            );
            rule_applies(f.cond.as_ref(), acls, &v)
        };
        if !applies {
            continue;
        }
        let mut flags = ReqFlags::default();
        match apply_filter(base.rt, f, res_buf, res_idx, edit, false, &mut flags) {
            FilterOutcome::Deny => return ResVerdict::Deny,
            FilterOutcome::Tarpit | FilterOutcome::None => {}
        }
    }
    for a in &px.cfg.rspadd {
        let applies = {
            let v = base.view(
                px,
                req,
                Some(HeadView {
                    buf: res_buf,
                    idx: res_idx,
                    edit,
                }),
            );
            rule_applies(a.cond.as_ref(), acls, &v)
        };
        if applies {
            let _ = edit.append(&a.line);
        }
    }
    ResVerdict::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_back_references() {
        let re = regex::bytes::Regex::new(r"^Host:\ (.*)\.example\.com").unwrap();
        let mut out = Vec::new();
        expand(
            &re,
            b"Host: www.example.com",
            br"Host: \1.internal\\x\x41",
            &mut out,
        );
        assert_eq!(out, b"Host: www.internal\\xA");
        out.clear();
        let re = regex::bytes::Regex::new(r"^([^\ ]*)\ /static/(.*)").unwrap();
        expand(&re, b"GET /static/a.css HTTP/1.1", br"\1 /\2", &mut out);
        assert_eq!(out, b"GET /a.css HTTP/1.1");
    }
}
