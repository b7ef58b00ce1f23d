//! The stats page served on a proxy's `stats uri`, called by the HTTP stream
//! (`src/proxy/http.rs`) once `src/proxy/rules.rs` has matched the URI and checked `stats
//! auth` / `stats http-request`.
//!
//! * Flags searched after the prefix, as 1.4 `stats_check_uri` does: `;up` (hide DOWN and
//!   MAINT servers), `;norefresh` (only when `stats refresh` is set), `;csv`, `;st=<CODE>`.
//! * `GET`/`HEAD`: `HTTP/1.0 200 OK` with `Cache-Control: no-cache`, `Connection: close`,
//!   `Content-Type: text/html` (or `text/plain` for CSV) and `Refresh: <n>` when `stats
//!   refresh` is set and `;norefresh` absent; HEAD gets the headers only (1.4
//!   `stats_dump_http`).
//! * `POST`: the `stats admin` form (`b=#<iid>`, `s=<server>` repeated,
//!   `action=disable|enable|stop|start`), then `303 See Other` to `<uri>;st=<CODE>`
//!   (1.4 `http_process_req_stat_post`, `stats_http_redir`). A POST without `stats admin`
//!   rights is answered `;st=DENY`.
//! * `stats prometheus-uri <path>` (haproxide extension): the same counters in Prometheus
//!   text format, see [`super::prometheus`].

use super::html::PageOpts;
use crate::http1::HeadEdit;
use crate::proxy::rules::ReqHead;
use crate::runtime::{Proxy, Runtime};
use parser::ir::StatsConfig;

/// 1.4's default stats realm and URI.
pub const DEFAULT_REALM: &str = "HAProxy Statistics";

/// The body of a stats POST, as the HTTP stream could read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostBody<'a> {
    /// Not a POST, or a POST without admin rights (the body is not read).
    NotRead,
    /// The complete body (`Content-Length` bytes).
    Complete(&'a [u8]),
    /// The body does not fit in the request buffer (1.4 answers `;st=EXCD`).
    TooLarge,
}

/// What the HTTP stream knows about a stats request beyond its head.
#[derive(Clone, Copy, Debug)]
pub struct StatsCtx<'a> {
    /// A `stats admin` condition matched (1.4 `STAT_ADMIN`).
    pub admin: bool,
    pub body: PostBody<'a>,
}

impl Default for StatsCtx<'_> {
    fn default() -> Self {
        StatsCtx {
            admin: false,
            body: PostBody::NotRead,
        }
    }
}

/// Request flags parsed from the URI after the stats prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UriFlags {
    pub hide_down: bool,
    pub no_refresh: bool,
    pub csv: bool,
    /// `;st=` followed by one of the known codes (or `UNKN` for anything else).
    pub st_code: Option<&'static str>,
}

/// Parses the flags in `rest` (the URI after the prefix) as 1.4 `stats_check_uri` does:
/// each flag is searched anywhere in the rest; `;norefresh` only counts when a refresh is
/// configured; `;st=` needs four more bytes.
pub fn parse_flags(rest: &[u8], refresh: bool) -> UriFlags {
    let has = |pat: &[u8]| rest.windows(pat.len()).any(|w| w == pat);
    let mut f = UriFlags {
        hide_down: has(b";up"),
        no_refresh: refresh && has(b";norefresh"),
        csv: has(b";csv"),
        st_code: None,
    };
    if let Some(pos) = rest.windows(4).position(|w| w == b";st=") {
        // 1.4 only looks for `;st=` where four bytes can follow it.
        if let Some(code) = rest.get(pos + 4..pos + 8) {
            f.st_code = Some(match code {
                b"DONE" => "DONE",
                b"NONE" => "NONE",
                b"PART" => "PART",
                b"ERRP" => "ERRP",
                b"EXCD" => "EXCD",
                b"DENY" => "DENY",
                _ => "UNKN",
            });
        }
    }
    f
}

/// Whether `px` is the stats proxy's own scope target for `stats scope` (`.` = itself).
fn in_scope(st: &StatsConfig, stats_px: &Proxy, px: &Proxy) -> bool {
    st.scope.is_empty()
        || st
            .scope
            .iter()
            .any(|s| s == px.name() || (s == "." && px.idx == stats_px.idx))
}

/// Writes the response headers (1.4 `stats_dump_http`, `DATA_ST_INIT`).
fn write_200(out: &mut Vec<u8>, csv: bool, refresh: Option<u32>) {
    out.extend_from_slice(
        b"HTTP/1.0 200 OK\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: ",
    );
    out.extend_from_slice(if csv { b"text/plain" } else { b"text/html" });
    out.extend_from_slice(b"\r\n");
    if let Some(r) = refresh {
        out.extend_from_slice(format!("Refresh: {r}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// The 303 after a POST (1.4 `stats_http_redir`).
fn write_303(out: &mut Vec<u8>, uri: &str, code: &str) {
    out.extend_from_slice(
        format!(
            "HTTP/1.0 303 See Other\r\nCache-Control: no-cache\r\nContent-Type: text/plain\r\n\
             Connection: close\r\nLocation: {uri};st={code}\r\n\r\n"
        )
        .as_bytes(),
    );
}

/// Writes the stats response for this request into `out`; returns its status (200, or 303
/// after a POST).
pub fn serve(
    rt: &Runtime,
    px: &Proxy,
    head: &ReqHead<'_>,
    edit: &HeadEdit,
    ctx: &StatsCtx<'_>,
    out: &mut Vec<u8>,
) -> u16 {
    let Some(st) = &px.cfg.stats else {
        out.extend_from_slice(crate::http1::canned::HTTP_503);
        return 503;
    };
    let line = edit.start_line(head.buf, head.idx);
    let mut words = line.splitn(3, |&b| b == b' ');
    let method = words.next().unwrap_or(&[]);
    let uri = words.next().unwrap_or(&[]);

    if let Some(p) = &st.prometheus_uri {
        if super::prometheus::uri_matches(uri, p) {
            write_200_prometheus(out);
            if method != b"HEAD" {
                let mut body = String::new();
                super::prometheus::write_all(rt, &|x| in_scope(st, px, x), &mut body);
                out.extend_from_slice(body.as_bytes());
            }
            return 200;
        }
    }

    let rest = uri.get(st.uri.len()..).unwrap_or(&[]);
    let refresh = st.refresh.filter(|&r| r > 0);
    let flags = parse_flags(rest, refresh.is_some());

    if method == b"POST" {
        let code = if !ctx.admin {
            "DENY"
        } else {
            match ctx.body {
                PostBody::Complete(b) => apply_post(rt, b).code(),
                PostBody::TooLarge => "EXCD",
                PostBody::NotRead => "NONE",
            }
        };
        write_303(out, &st.uri, code);
        return 303;
    }

    write_200(
        out,
        flags.csv,
        if flags.no_refresh { None } else { refresh },
    );
    if method == b"HEAD" {
        return 200;
    }
    let scope = |x: &Proxy| in_scope(st, px, x);
    let mut body = String::new();
    if flags.csv {
        super::csv::write_all(rt, Some(&scope), None, flags.hide_down, &mut body);
    } else {
        let opts = page_opts(rt, st, ctx.admin, &flags);
        super::html::write_page(rt, &opts, &scope, &mut body);
    }
    out.extend_from_slice(body.as_bytes());
    200
}

fn write_200_prometheus(out: &mut Vec<u8>) {
    out.extend_from_slice(
        b"HTTP/1.0 200 OK\r\nCache-Control: no-cache\r\nConnection: close\r\n\
          Content-Type: text/plain; version=0.0.4\r\n\r\n",
    );
}

/// The page options from the stats configuration and the request flags.
fn page_opts(rt: &Runtime, st: &StatsConfig, admin: bool, f: &UriFlags) -> PageOpts {
    PageOpts {
        uri: st.uri.clone(),
        refresh: st.refresh,
        hide_down: f.hide_down,
        no_refresh: f.no_refresh,
        admin,
        st_code: f.st_code.map(str::to_string),
        hide_version: st.hide_version,
        node: st
            .show_node
            .as_ref()
            .map(|n| n.clone().unwrap_or_else(|| rt.global.node.clone())),
        desc: st.show_desc.as_ref().map(|d| {
            d.clone()
                .unwrap_or_else(|| rt.global.description.clone().unwrap_or_default())
        }),
        legends: st.show_legends,
    }
}

/// The outcome of an admin POST: how many servers were named and how many changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostOutcome {
    /// Bad backend name or action (`ERRP`).
    Invalid,
    /// A parameter longer than 1.4's line buffer (`EXCD`).
    TooLong,
    Counted {
        total: u32,
        altered: u32,
    },
}

impl PostOutcome {
    /// The `;st=` code (1.4 `STAT_STATUS_*`).
    pub fn code(self) -> &'static str {
        match self {
            PostOutcome::Invalid => "ERRP",
            PostOutcome::TooLong => "EXCD",
            PostOutcome::Counted { total: 0, .. } => "NONE",
            PostOutcome::Counted { altered: 0, .. } => "ERRP",
            PostOutcome::Counted { total, altered } if total == altered => "DONE",
            PostOutcome::Counted { .. } => "PART",
        }
    }
}

/// 1.4's `LINESIZE`: the longest `key=value` parameter it accepts.
const LINESIZE: usize = 2048;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Disable,
    Enable,
    Stop,
    Start,
}

/// Decodes `%XX` escapes and `+` in a form field; `None` on a malformed escape.
fn url_decode(s: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Applies a `stats admin` form: the last `b` and `action` win (1.4 parses the parameters
/// from the end), then every `s` is acted upon. `disable`/`enable` count a server only
/// when its state changes; `stop`/`start` set its weight to 0 / its initial weight.
pub fn apply_post(rt: &Runtime, body: &[u8]) -> PostOutcome {
    let mut params: Vec<(String, String)> = Vec::new();
    for p in body.split(|&b| b == b'&').rev() {
        if p.len() + 1 > LINESIZE {
            return PostOutcome::TooLong;
        }
        let (k, v) = match p.iter().position(|&b| b == b'=') {
            Some(i) => (&p[..i], &p[i + 1..]),
            None => (p, &[][..]),
        };
        let (Some(k), Some(v)) = (url_decode(k), url_decode(v)) else {
            break;
        };
        params.push((k, v));
    }
    let mut be: Option<&Proxy> = None;
    let mut action: Option<Action> = None;
    for (k, v) in &params {
        if be.is_none() && k == "b" {
            match super::find_backend(rt, v) {
                Some(p) => be = Some(p),
                None => return PostOutcome::Invalid,
            }
        } else if action.is_none() && k == "action" {
            action = Some(match v.as_str() {
                "disable" => Action::Disable,
                "enable" => Action::Enable,
                "stop" => Action::Stop,
                "start" => Action::Start,
                _ => return PostOutcome::Invalid,
            });
        }
    }
    let (Some(px), Some(action)) = (be, action) else {
        return PostOutcome::Counted {
            total: 0,
            altered: 0,
        };
    };
    let (mut total, mut altered) = (0, 0);
    for (_, name) in params.iter().filter(|(k, _)| k == "s") {
        let mut found = px.servers.iter().filter(|s| &s.cfg.name == name);
        let (Some(s), None) = (found.next(), found.next()) else {
            // Unknown or ambiguous (duplicated) name.
            total += 1;
            continue;
        };
        let id = crate::check::ServerId {
            proxy: px.idx,
            server: s.idx,
        };
        let stopped = px.cfg.disabled.is_some();
        let changed = match action {
            Action::Disable => !stopped && crate::check::disable_server(rt, id),
            Action::Enable => !stopped && crate::check::enable_server(rt, id),
            Action::Stop | Action::Start => {
                let w = if action == Action::Start {
                    px.lb.weight(s.idx).map(|(_, i)| i).unwrap_or(0)
                } else {
                    0
                };
                let _ = set_weight(px, s.idx, w);
                true
            }
        };
        if changed {
            total += 1;
            altered += 1;
        }
    }
    PostOutcome::Counted { total, altered }
}

/// Sets a server's user weight in the balancer and on the server (1.4 `uweight` +
/// `server_recalc_eweight`).
pub fn set_weight(px: &Proxy, idx: usize, w: u32) -> Result<(), crate::lb::WeightError> {
    px.lb.set_weight(idx, w)?;
    if let Some(s) = px.servers.get(idx) {
        s.weight.store(w, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::test_support::{backend, runtime, server};
    use std::sync::atomic::Ordering::Relaxed;

    #[test]
    fn flags_as_1_4() {
        let f = parse_flags(b";up;norefresh;csv", true);
        assert!(f.hide_down && f.no_refresh && f.csv);
        assert!(!parse_flags(b";norefresh", false).no_refresh);
        assert_eq!(parse_flags(b";st=DONE", false).st_code, Some("DONE"));
        assert_eq!(parse_flags(b";st=XYZW", false).st_code, Some("UNKN"));
        assert_eq!(parse_flags(b";st=DO", false).st_code, None);
        assert_eq!(parse_flags(b"", true), UriFlags::default());
    }

    #[test]
    fn post_disable_enable_and_codes() {
        let rt = runtime(vec![backend(
            "be",
            vec![server("a", 1, 1), server("b", 1, 1)],
        )]);
        let r = apply_post(&rt, b"s=a&s=b&action=disable&b=%231");
        assert_eq!(
            r,
            PostOutcome::Counted {
                total: 2,
                altered: 2
            }
        );
        assert_eq!(r.code(), "DONE");
        assert!(rt.proxies[0].servers[0].maint.load(Relaxed));
        // Already in maintenance: nothing counted.
        assert_eq!(apply_post(&rt, b"s=a&action=disable&b=be").code(), "NONE");
        // One unknown name among known ones: partial.
        assert_eq!(
            apply_post(&rt, b"s=a&s=zz&action=enable&b=be").code(),
            "PART"
        );
        assert!(!rt.proxies[0].servers[0].maint.load(Relaxed));
        assert_eq!(apply_post(&rt, b"s=zz&action=enable&b=be").code(), "ERRP");
        assert_eq!(apply_post(&rt, b"s=a&action=explode&b=be").code(), "ERRP");
        assert_eq!(apply_post(&rt, b"s=a&action=enable&b=nope").code(), "ERRP");
        assert_eq!(apply_post(&rt, b"s=a&action=enable").code(), "NONE");
        let long = format!("s={}&action=enable&b=be", "x".repeat(3000));
        assert_eq!(apply_post(&rt, long.as_bytes()).code(), "EXCD");
    }

    #[test]
    fn post_stop_start_weights() {
        let mut s = server("a", 1, 1);
        s.weight = 7;
        let rt = runtime(vec![backend("be", vec![s])]);
        assert_eq!(apply_post(&rt, b"s=a&action=stop&b=be").code(), "DONE");
        assert_eq!(rt.proxies[0].lb.weight(0), Some((0, 7)));
        assert_eq!(apply_post(&rt, b"s=a&action=start&b=be").code(), "DONE");
        assert_eq!(rt.proxies[0].lb.weight(0), Some((7, 7)));
        assert_eq!(rt.proxies[0].servers[0].weight.load(Relaxed), 7);
    }

    #[test]
    fn headers_exact() {
        let mut out = Vec::new();
        write_200(&mut out, false, Some(5));
        assert_eq!(
            out,
            b"HTTP/1.0 200 OK\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\nRefresh: 5\r\n\r\n"
        );
        out.clear();
        write_200(&mut out, true, None);
        assert_eq!(
            out,
            b"HTTP/1.0 200 OK\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n"
        );
        out.clear();
        write_303(&mut out, "/st", "DONE");
        assert_eq!(
            out,
            b"HTTP/1.0 303 See Other\r\nCache-Control: no-cache\r\nContent-Type: text/plain\r\nConnection: close\r\nLocation: /st;st=DONE\r\n\r\n"
        );
    }
}
