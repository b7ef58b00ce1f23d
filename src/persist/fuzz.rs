//! Fuzz entry point for the persistence cookie parsers, shared by the cargo-fuzz target
//! `cookie` (`fuzz/fuzz_targets/cookie.rs`) and by `tests/fuzz_corpus.rs`, which replays the
//! committed corpus on every test run.
//!
//! [`cookies`] reads a control byte (which backend: `insert indirect nocache`, `prefix`,
//! `rewrite`, `insert` with `maxidle`/`maxlife`/`preserve`/`postonly`, `appsession` in its
//! modes...; `ignore-persist`, `force-persist`) and four bytes of clock, then runs the
//! request hook ([`super::request_at`]: `Cookie` parsing and rewriting, appsession lookup
//! from cookies and URL) over the rest parsed as a request, and the response hook
//! ([`super::response_at`]: `Set-Cookie`/`Set-Cookie2` rewriting, learning, insertion) over
//! the same header lines under a status line. The line scanners are also run directly on
//! each raw line, including lines the head parser would refuse.
//!
//! It panics only on a broken invariant: an edited head that no longer parses, lines other
//! than cookie lines changed, a server index out of range, a learned id longer than `len`,
//! an appsession table above its bound.

use super::{appsession, cookie, request_at, response_at, TxnPersist};
use crate::http1::{HeadEdit, HeadIndex, Method, Parse, ParseOptions};
use crate::runtime::{Proxy, Runtime};
use std::sync::OnceLock;

/// Largest head looked at.
const MAX_HEAD: usize = 15360;

/// One backend per persistence flavour; `s3` is disabled (maintenance) to cover DOWN servers.
const COOKIE_CONFIG: &str = "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
backend b0\n cookie SRV insert indirect nocache\n server s1 127.0.0.1:1 cookie s1\n server s2 127.0.0.1:2 cookie s2\n server s3 127.0.0.1:3 cookie s3 disabled\n\
backend b1\n cookie SRV prefix\n server s1 127.0.0.1:1 cookie s1\n server s2 127.0.0.1:2 cookie s2\n\
backend b2\n cookie SRV rewrite\n option persist\n server s1 127.0.0.1:1 cookie s1\n server s3 127.0.0.1:3 cookie s3 disabled\n\
backend b3\n cookie SRV insert preserve postonly httponly secure domain .a.com domain .b.com maxidle 30m maxlife 2h\n server s1 127.0.0.1:1 cookie s1\n server s2 127.0.0.1:2\n\
backend b4\n cookie SRV insert\n appsession JSESSIONID len 12 timeout 1h request-learn prefix mode path-parameters\n server s1 127.0.0.1:1 cookie s1\n server s2 127.0.0.1:2 cookie s2\n\
backend b5\n cookie SRV\n appsession PHPSESSID len 8 timeout 3h mode query-string\n server s1 127.0.0.1:1 cookie s1\n server s2 127.0.0.1:2 cookie s2\n\
backend b6\n cookie SRV insert indirect maxidle 10s\n appsession sid len 64 timeout 10s\n server s1 127.0.0.1:1 cookie s1\n server s2 127.0.0.1:2 cookie s1\n";

const BACKENDS: usize = 7;

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        crate::proxy::fuzz::runtime_from_text(COOKIE_CONFIG)
            .unwrap_or_else(|| panic!("cookie fuzz configuration refused"))
    })
}

/// Cookie target (see the module doc). Input: control byte, 4 clock bytes, head.
pub fn cookies(data: &[u8]) {
    let [ctl, c0, c1, c2, c3, head @ ..] = data else {
        return;
    };
    let head = &head[..head.len().min(MAX_HEAD)];
    let rt = runtime();
    let Some(be) = rt.proxies.get(usize::from(*ctl) % BACKENDS) else {
        return;
    };
    let clock = u32::from_le_bytes([*c0, *c1, *c2, *c3]);
    // Around a fixed date, so that cookie dates made by the seeds stay meaningful.
    let now = 1_700_000_000 + i64::from(clock % 200_000) - 100_000;
    let now_ms = u64::from(clock);
    let accept_invalid = ctl & 0x80 != 0;
    let opts = ParseOptions {
        max_head: MAX_HEAD,
        accept_invalid,
    };
    let mut st = TxnPersist::default();

    // Line scanners on every raw line, whatever the head parser would say of it.
    for raw in head.split(|&b| b == b'\n') {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        scan_raw(be, raw, &mut st, now);
    }

    let mut idx = HeadIndex::new();
    if idx.parse_request(head, &opts) == Parse::Complete {
        st.reset();
        st.ignore = ctl & 0x10 != 0;
        st.force = ctl & 0x20 != 0;
        let mut edit = HeadEdit::new();
        edit.reset(&idx);
        request_at(be, head, &idx, &mut edit, &mut st, now, now_ms);
        if let Some(s) = st.server {
            assert!(s < be.servers.len(), "server index out of range");
        }
        assert!(!st.direct || st.server.is_some(), "direct without a server");
        if let Some(id) = st.sessid() {
            let len = be.cfg.appsession.as_ref().map_or(0, |a| a.len as usize);
            assert!(id.len() <= len, "appsession id longer than len");
        }
        check_edited(head, &idx, &edit, accept_invalid, b"cookie", false);
    }

    // The same lines as a response.
    let lines = head
        .iter()
        .position(|&b| b == b'\n')
        .map_or(&[][..], |p| &head[p + 1..]);
    let mut res = b"HTTP/1.1 200 OK\r\n".to_vec();
    res.extend_from_slice(lines);
    let mut idx = HeadIndex::new();
    if idx.parse_response(&res, &opts, Method::Get) == Parse::Complete {
        let server = match ctl >> 6 {
            0 => None,
            n => Some(usize::from(n - 1) % be.servers.len().max(1)),
        };
        let mut edit = HeadEdit::new();
        edit.reset(&idx);
        let method = if ctl & 0x08 != 0 {
            Method::Post
        } else {
            Method::Get
        };
        response_at(
            be, server, method, &res, &idx, &mut edit, &mut st, now, now_ms,
        );
        check_edited(&res, &idx, &edit, accept_invalid, b"set-cookie", true);
    }
    if let Some(t) = &be.persist.appsession {
        assert!(t.len() <= t.capacity(), "appsession table above its bound");
    }
}

/// Runs the request and response line scanners on one raw line.
fn scan_raw(be: &Proxy, raw: &[u8], st: &mut TxnPersist, now: i64) {
    let ck = be.cfg.cookie.as_ref().map(|c| &c.node);
    let app = be.cfg.appsession.as_ref().map(|a| &a.node);
    let mut line = raw.to_vec();
    if cookie::header_is(raw, b"Cookie") {
        st.reset();
        let sc = cookie::ReqScan {
            cookie: ck,
            servers: &be.servers,
            use_down: false,
            ignore: false,
            now,
            app,
        };
        let mut seen = 0usize;
        let edit = cookie::scan_request_line(&sc, &mut line, st, &mut |v, _| {
            seen += v.len();
        });
        assert!(seen <= raw.len());
        check_line(raw, &line, edit, b"Cookie");
    }
    for (name, len) in [(&b"Set-Cookie"[..], 10), (&b"Set-Cookie2"[..], 11)] {
        if cookie::header_is(raw, name) {
            st.reset();
            line.clear();
            line.extend_from_slice(raw);
            let sc = cookie::ResScan {
                cookie: ck,
                server: be.servers.first(),
                direct: false,
                ignore: false,
                app,
            };
            let edit = cookie::scan_response_line(&sc, &mut line, len, st);
            check_line(raw, &line, edit, name);
        }
    }
    if let Some(a) = app {
        if let Some(id) = appsession::url_session_id(raw, a) {
            let r = raw.as_ptr_range();
            let i = id.as_ptr_range();
            assert!(id.is_empty() || (r.start <= i.start && i.end <= r.end));
        }
    }
    let _ = cookie::b64_to_s30(raw);
}

/// A rewritten cookie line keeps its header name and adds no line break or NUL byte.
fn check_line(raw: &[u8], line: &[u8], edit: cookie::LineEdit, name: &[u8]) {
    match edit {
        cookie::LineEdit::Keep => assert_eq!(line, raw, "kept line changed"),
        cookie::LineEdit::Replace => {
            assert!(
                cookie::header_is(line, name),
                "rewritten line lost its name"
            );
            for b in [b'\r', b'\n', 0] {
                assert!(
                    raw.contains(&b) || !line.contains(&b),
                    "rewrite added byte {b}"
                );
            }
        }
        cookie::LineEdit::Delete => {}
    }
}

/// The edited head parses again, and only lines named `name` changed (plus the lines
/// the persistence code appends to a response).
fn check_edited(
    src: &[u8],
    idx: &HeadIndex,
    edit: &HeadEdit,
    accept_invalid: bool,
    name: &[u8],
    response: bool,
) {
    let mut out = Vec::new();
    edit.write(src, idx, &mut out);
    let opts = ParseOptions {
        max_head: usize::MAX,
        accept_invalid,
    };
    let mut again = HeadIndex::new();
    let parsed = if response {
        again.parse_response(&out, &opts, Method::Get)
    } else {
        again.parse_request(&out, &opts)
    };
    match parsed {
        Parse::Complete => {}
        // Framing headers are never touched, so a framing error was there before.
        Parse::Invalid(e) if e.is_framing() => {}
        other => panic!("edited head does not parse: {other:?}"),
    }
    let is_named = |l: &[u8]| {
        crate::http1::split_header_line(l).is_some_and(|(n, _)| {
            n.eq_ignore_ascii_case(name) || n.eq_ignore_ascii_case(b"set-cookie2")
        })
    };
    let before: Vec<&[u8]> = idx
        .headers()
        .iter()
        .map(|h| h.line().get(src))
        .filter(|l| !is_named(l))
        .collect();
    let after: Vec<&[u8]> = edit
        .lines(src, idx)
        .map(|(_, l)| l)
        .filter(|l| !is_named(l))
        .collect();
    if response {
        // `Cache-control: private` may be appended after the other lines.
        let extra = after.len().saturating_sub(before.len());
        assert!(extra <= 1, "more than one line appended");
        assert_eq!(&after[..before.len().min(after.len())], &before[..]);
    } else {
        assert_eq!(after, before, "request lines other than Cookie changed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(ctl: u8, head: &[u8]) -> Vec<u8> {
        let mut v = vec![ctl, 1, 2, 3, 4];
        v.extend_from_slice(head);
        v
    }

    #[test]
    fn every_backend_takes_cookie_heads() {
        let head = b"GET /x;jsessionid=ABCDEF?PHPSESSID=12345678 HTTP/1.1\r\n\
Cookie: SRV=s1; JSESSIONID=abc ; $Path=/; sid=\"q,;\"\r\n\
Set-Cookie: SRV=s2; path=/\r\nSet-Cookie2: a=1, SRV=x; Version=1, sid=zz\r\n\r\n";
        for ctl in 0..=255u8 {
            cookies(&input(ctl, head));
        }
        cookies(b"");
        cookies(&input(0, b"garbage"));
    }

    #[test]
    fn indirect_cookie_is_removed_and_server_found() {
        let rt = runtime();
        let be = rt.proxy_by_name("b0").expect("b0");
        let head = b"GET / HTTP/1.1\r\nCookie: a=1; SRV=s2; b=2\r\n\r\n";
        let mut idx = HeadIndex::new();
        assert_eq!(
            idx.parse_request(head, &ParseOptions::default()),
            Parse::Complete
        );
        let mut edit = HeadEdit::new();
        edit.reset(&idx);
        let mut st = TxnPersist::default();
        request_at(be, head, &idx, &mut edit, &mut st, 1_700_000_000, 0);
        assert_eq!(st.server, Some(1));
        let lines: Vec<&[u8]> = edit.lines(head, &idx).map(|(_, l)| l).collect();
        assert_eq!(lines, [&b"Cookie: a=1; b=2"[..]]);
        check_edited(head, &idx, &edit, false, b"cookie", false);
    }
}
