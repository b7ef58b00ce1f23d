//! Unit tests of the persistence hooks over real parsed configurations: exact request and
//! response bytes after each cookie mode, log flags, appsession, stick rules.

use super::cookie::{b64_to_s30, date_now_b64, s30_to_b64};
use super::*;
use crate::http1::{Parse, ParseOptions};
use crate::runtime::{GlobalSettings, Runtime};
use std::sync::atomic::Ordering::Relaxed;

const NOW: i64 = 1_700_000_000;

fn global() -> GlobalSettings {
    GlobalSettings {
        maxconn: 2000,
        bufsize: 16384,
        maxrewrite: 8192,
        node: "node1".into(),
        description: None,
        nbproc: 1,
        spread_checks: 0,
        splice: false,
        ulimit_n: 4096,
        pidfile: None,
        sockbuf: Default::default(),
    }
}

/// A runtime from configuration text (a `backend be` with the lines given, servers s1/s2).
fn runtime(be_lines: &str) -> Runtime {
    let text = format!(
        "defaults\n mode http\nbackend be\n{be_lines}\n server s1 127.0.0.1:8001 cookie s1\n server s2 127.0.0.1:8002 cookie s2\n"
    );
    runtime_text(&text)
}

fn runtime_text(text: &str) -> Runtime {
    let opts = parser::LoadOptions {
        resolve_names: false,
        ..Default::default()
    };
    let loaded = parser::load_str("test.cfg", text.as_bytes(), &opts);
    let Some(config) = loaded.config else {
        panic!("config refused: {:?}\n{text}", loaded.report);
    };
    Runtime::build(config, global()).expect("runtime")
}

fn backend(rt: &Runtime) -> &Proxy {
    rt.proxy_by_name("be").expect("backend be")
}

/// Runs the request hook on `raw` (CRLF added) and returns the edited head.
fn req(be: &Proxy, raw: &str, st: &mut TxnPersist) -> String {
    req_at(be, raw, st, NOW, 0)
}

fn req_at(be: &Proxy, raw: &str, st: &mut TxnPersist, now: i64, now_ms: u64) -> String {
    let raw = format!("{}\r\n\r\n", raw.replace('\n', "\r\n"));
    let mut idx = HeadIndex::new();
    assert_eq!(
        idx.parse_request(raw.as_bytes(), &ParseOptions::default()),
        Parse::Complete
    );
    let mut edit = HeadEdit::new();
    edit.reset(&idx);
    request_at(be, raw.as_bytes(), &idx, &mut edit, st, now, now_ms);
    let mut out = Vec::new();
    edit.write(raw.as_bytes(), &idx, &mut out);
    String::from_utf8(out).expect("utf8")
}

/// Runs the response hook on `raw` (CRLF added) for `server` and returns the edited head.
fn res(
    be: &Proxy,
    server: Option<usize>,
    method: Method,
    raw: &str,
    st: &mut TxnPersist,
) -> String {
    res_at(be, server, method, raw, st, NOW, 0)
}

fn res_at(
    be: &Proxy,
    server: Option<usize>,
    method: Method,
    raw: &str,
    st: &mut TxnPersist,
    now: i64,
    now_ms: u64,
) -> String {
    let raw = format!("{}\r\n\r\n", raw.replace('\n', "\r\n"));
    let mut idx = HeadIndex::new();
    assert_eq!(
        idx.parse_response(raw.as_bytes(), &ParseOptions::default(), method),
        Parse::Complete
    );
    let mut edit = HeadEdit::new();
    edit.reset(&idx);
    response_at(
        be,
        server,
        method,
        raw.as_bytes(),
        &idx,
        &mut edit,
        st,
        now,
        now_ms,
    );
    let mut out = Vec::new();
    edit.write(raw.as_bytes(), &idx, &mut out);
    String::from_utf8(out).expect("utf8")
}

fn flags(st: &TxnPersist) -> String {
    format!(
        "{}{}",
        st.req_cookie.as_char() as char,
        st.res_cookie.as_char() as char
    )
}

const GET: &str = "GET / HTTP/1.1\nHost: a";
const OK: &str = "HTTP/1.1 200 OK\nContent-Length: 0";

#[test]
fn insert_indirect_nocache_first_visit() {
    let rt = runtime(" cookie SESSION_COOKIE insert indirect nocache");
    let be = backend(&rt);
    let mut st = TxnPersist::default();
    assert_eq!(req(be, GET, &mut st), "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(st.server, None);
    let out = res(be, Some(0), Method::Get, OK, &mut st);
    assert_eq!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nSet-Cookie: SESSION_COOKIE=s1; path=/\r\nCache-control: private\r\n\r\n"
    );
    assert_eq!(flags(&st), "NI");
    assert!(cookie_logged(be));
}

#[test]
fn insert_indirect_next_visits_strip_the_cookie() {
    let rt = runtime(" cookie SESSION_COOKIE insert indirect nocache");
    let be = backend(&rt);
    let cases = [
        (
            "Cookie: SESSION_COOKIE=s2",
            "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        ),
        (
            "Cookie: a=1; SESSION_COOKIE=s2; b=2",
            "GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1; b=2\r\n\r\n",
        ),
        (
            "Cookie: SESSION_COOKIE=s2; b=2",
            "GET / HTTP/1.1\r\nHost: a\r\nCookie: b=2\r\n\r\n",
        ),
        (
            "Cookie: a=1;SESSION_COOKIE=s2",
            "GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1\r\n\r\n",
        ),
        (
            "Cookie: SESSION_COOKIE=s2;b=2",
            "GET / HTTP/1.1\r\nHost: a\r\nCookie: b=2\r\n\r\n",
        ),
        (
            "Cookie: a=1 ;  SESSION_COOKIE=s2 ;  b=2",
            "GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1; b=2\r\n\r\n",
        ),
        (
            // RFC 2109 attributes go with the cookie they follow
            "Cookie: $Version=1; SESSION_COOKIE=s2; $Path=/",
            "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        ),
        (
            "Cookie: x=1\nCookie: SESSION_COOKIE=s2",
            "GET / HTTP/1.1\r\nHost: a\r\nCookie: x=1\r\n\r\n",
        ),
        (
            "Cookie: SESSION_COOKIE=s2; flag",
            "GET / HTTP/1.1\r\nHost: a\r\nCookie: flag\r\n\r\n",
        ),
    ];
    for (hdr, want) in cases {
        let mut st = TxnPersist::default();
        let out = req(be, &format!("{GET}\n{hdr}"), &mut st);
        assert_eq!(out, want, "{hdr}");
        assert_eq!(st.server, Some(1), "{hdr}");
        assert!(st.direct);
        assert_eq!(st.req_cookie, ReqCookie::Valid);
        // direct to its server: no new cookie
        let out = res(be, Some(1), Method::Get, OK, &mut st);
        assert_eq!(out, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(flags(&st), "VN");
    }
}

#[test]
fn down_server_cookie_moves_unless_persist() {
    let rt = runtime(" cookie SERVERID insert indirect nocache");
    let be = backend(&rt);
    be.servers[0].up.store(false, Relaxed);
    let mut st = TxnPersist::default();
    req(be, &format!("{GET}\nCookie: SERVERID=s1"), &mut st);
    assert_eq!(st.server, None, "down server not used");
    assert_eq!(st.req_cookie, ReqCookie::Down);
    // load balancing picked s2: the cookie moves there
    let out = res(be, Some(1), Method::Get, OK, &mut st);
    assert!(out.contains("Set-Cookie: SERVERID=s2; path=/\r\n"), "{out}");
    assert_eq!(flags(&st), "DI");

    let rt = runtime(" cookie SERVERID insert indirect nocache\n option persist");
    let be = backend(&rt);
    be.servers[0].up.store(false, Relaxed);
    let mut st = TxnPersist::default();
    req(be, &format!("{GET}\nCookie: SERVERID=s1"), &mut st);
    assert_eq!(st.server, Some(0), "option persist keeps the down server");
    assert_eq!(st.req_cookie, ReqCookie::Down);

    // force-persist does the same without option persist
    let rt = runtime(" cookie SERVERID insert indirect nocache");
    let be = backend(&rt);
    be.servers[0].maint.store(true, Relaxed);
    let mut st = TxnPersist {
        force: true,
        ..Default::default()
    };
    req(be, &format!("{GET}\nCookie: SERVERID=s1"), &mut st);
    assert_eq!(st.server, Some(0));
}

#[test]
fn unknown_empty_and_ignored_cookies_are_invalid() {
    let rt = runtime(" cookie SERVERID insert indirect");
    let be = backend(&rt);
    for v in ["nope", ""] {
        let mut st = TxnPersist::default();
        let out = req(be, &format!("{GET}\nCookie: SERVERID={v}"), &mut st);
        assert_eq!(st.req_cookie, ReqCookie::Invalid, "{v}");
        assert_eq!(st.server, None);
        // still removed in indirect mode
        assert_eq!(out, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let out = res(be, Some(0), Method::Get, OK, &mut st);
        assert!(out.contains("Set-Cookie: SERVERID=s1; path=/\r\n"));
        assert_eq!(flags(&st), "II");
    }
    // ignore-persist: the cookie is not used and nothing is inserted
    let mut st = TxnPersist {
        ignore: true,
        ..Default::default()
    };
    req(be, &format!("{GET}\nCookie: SERVERID=s1"), &mut st);
    assert_eq!(st.server, None);
    assert_eq!(st.req_cookie, ReqCookie::Invalid);
    let out = res(be, Some(0), Method::Get, OK, &mut st);
    assert_eq!(out, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(flags(&st), "IN");
}

#[test]
fn nocache_only_on_cacheable_responses() {
    let rt = runtime(" cookie SERVERID insert nocache");
    let be = backend(&rt);
    let private = |method: Method, head: &str| {
        let mut st = TxnPersist::default();
        req(be, GET, &mut st);
        let out = res(be, Some(0), method, head, &mut st);
        assert!(out.contains("Set-Cookie: SERVERID=s1; path=/\r\n"), "{out}");
        out.ends_with("\r\nCache-control: private\r\n\r\n")
    };
    assert!(private(Method::Get, OK));
    for st in [203, 206, 300, 301, 410] {
        assert!(private(
            Method::Get,
            &format!("HTTP/1.1 {st} X\nContent-Length: 0")
        ));
    }
    for st in [201, 302, 304, 404, 500] {
        assert!(!private(
            Method::Get,
            &format!("HTTP/1.1 {st} X\nContent-Length: 0")
        ));
    }
    assert!(!private(Method::Post, OK));
    assert!(!private(
        Method::Get,
        &format!("{OK}\nCache-Control: private")
    ));
    assert!(!private(
        Method::Get,
        &format!("{OK}\ncache-control: no-cache")
    ));
    assert!(!private(
        Method::Get,
        &format!("{OK}\nCache-control: no-store, x")
    ));
    assert!(!private(Method::Get, &format!("{OK}\nPragma: no-cache")));
    assert!(private(
        Method::Get,
        &format!("{OK}\nCache-control: public")
    ));
    // 1.4 only reads the first directive, and never a directive with a value
    assert!(private(
        Method::Get,
        &format!("{OK}\nCache-control: public, private")
    ));
    assert!(private(
        Method::Get,
        &format!("{OK}\nCache-control: max-age=0")
    ));
    assert!(!private(
        Method::Get,
        &format!("{OK}\nCache-control: max-age=3\nCache-Control: private")
    ));
    // without nocache no Cache-control is ever added
    let rt = runtime(" cookie SERVERID insert");
    let be = backend(&rt);
    let mut st = TxnPersist::default();
    req(be, GET, &mut st);
    let out = res(be, Some(0), Method::Get, OK, &mut st);
    assert!(!out.contains("Cache-control"));
}

#[test]
fn insert_mode_replaces_the_servers_own_cookie() {
    let rt = runtime(" cookie SERVERID insert");
    let be = backend(&rt);
    let mut st = TxnPersist::default();
    req(be, GET, &mut st);
    let out = res(
        be,
        Some(1),
        Method::Get,
        &format!("{OK}\nSet-Cookie: SERVERID=app; path=/\nSet-Cookie: other=1"),
        &mut st,
    );
    assert_eq!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nSet-Cookie: other=1\r\nSet-Cookie: SERVERID=s2; path=/\r\n\r\n"
    );
    assert_eq!(flags(&st), "NI");
    // not indirect: the request cookie is forwarded; the server's copy is still deleted
    let mut st = TxnPersist::default();
    let out = req(be, &format!("{GET}\nCookie: SERVERID=s2"), &mut st);
    assert_eq!(
        out,
        "GET / HTTP/1.1\r\nHost: a\r\nCookie: SERVERID=s2\r\n\r\n"
    );
    let out = res(
        be,
        Some(1),
        Method::Get,
        &format!("{OK}\nSet-Cookie: SERVERID=app"),
        &mut st,
    );
    assert_eq!(out, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(flags(&st), "VD");
}

#[test]
fn redispatched_request_gets_a_new_cookie() {
    let rt = runtime(" cookie SERVERID insert indirect");
    let be = backend(&rt);
    let mut st = TxnPersist::default();
    req(be, &format!("{GET}\nCookie: SERVERID=s1"), &mut st);
    assert_eq!(st.server, Some(0));
    // connect gave up s1 on the last retry and s2 answered
    let out = res(be, Some(1), Method::Get, OK, &mut st);
    assert!(out.contains("Set-Cookie: SERVERID=s2; path=/\r\n"));
    assert_eq!(flags(&st), "VI");
}

#[test]
fn prefix_mode_strips_and_prefixes() {
    let rt = runtime(" cookie JSESSIONID prefix");
    let be = backend(&rt);
    let mut st = TxnPersist::default();
    let out = req(
        be,
        &format!("{GET}\nCookie: a=1; JSESSIONID=s2~abc; b=2"),
        &mut st,
    );
    assert_eq!(
        out,
        "GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1; JSESSIONID=abc; b=2\r\n\r\n"
    );
    assert_eq!(st.server, Some(1));
    let out = res(
        be,
        Some(1),
        Method::Get,
        &format!("{OK}\nSet-Cookie: JSESSIONID=xyz; path=/"),
        &mut st,
    );
    assert_eq!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nSet-Cookie: JSESSIONID=s2~xyz; path=/\r\n\r\n"
    );
    assert_eq!(flags(&st), "VR");
    // a value without the delimiter names no server and is forwarded as is
    let mut st = TxnPersist::default();
    let out = req(be, &format!("{GET}\nCookie: JSESSIONID=abc"), &mut st);
    assert_eq!(
        out,
        "GET / HTTP/1.1\r\nHost: a\r\nCookie: JSESSIONID=abc\r\n\r\n"
    );
    assert_eq!(st.req_cookie, ReqCookie::Invalid);
}

#[test]
fn rewrite_mode_replaces_the_value() {
    let rt = runtime(" cookie SERVERID rewrite");
    let be = backend(&rt);
    let mut st = TxnPersist::default();
    let out = req(be, &format!("{GET}\nCookie: SERVERID=s1"), &mut st);
    assert_eq!(
        out,
        "GET / HTTP/1.1\r\nHost: a\r\nCookie: SERVERID=s1\r\n\r\n"
    );
    let out = res(
        be,
        Some(0),
        Method::Get,
        &format!("{OK}\nSet-Cookie: SERVERID=placeholder; path=/; HttpOnly"),
        &mut st,
    );
    assert_eq!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nSet-Cookie: SERVERID=s1; path=/; HttpOnly\r\n\r\n"
    );
    assert_eq!(flags(&st), "VR");
}

#[test]
fn passive_mode_routes_but_never_touches_and_logs_dashes() {
    let rt = runtime(" cookie SERVERID");
    let be = backend(&rt);
    assert!(!cookie_logged(be));
    let mut st = TxnPersist::default();
    // spaces around '=' are still removed, as 1.4 does for every cookie
    let out = req(be, &format!("{GET}\nCookie: a = 1; SERVERID= s2"), &mut st);
    assert_eq!(
        out,
        "GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1; SERVERID=s2\r\n\r\n"
    );
    assert_eq!(st.server, Some(1));
    let head = format!("{OK}\nSet-Cookie: SERVERID=zz");
    let out = res(be, Some(1), Method::Get, &head, &mut st);
    assert_eq!(out, format!("{}\r\n\r\n", head.replace('\n', "\r\n")));
    assert_eq!(flags(&st), "VP");
}

#[test]
fn postonly_preserve_httponly_secure_domains() {
    let rt = runtime(" cookie SERVERID insert postonly");
    let be = backend(&rt);
    let mut st = TxnPersist::default();
    req(be, GET, &mut st);
    let out = res(be, Some(0), Method::Get, OK, &mut st);
    assert!(!out.contains("Set-Cookie"));
    let mut st = TxnPersist::default();
    req(be, "POST / HTTP/1.1\nHost: a\nContent-Length: 0", &mut st);
    let out = res(be, Some(0), Method::Post, OK, &mut st);
    assert!(out.contains("Set-Cookie: SERVERID=s1; path=/\r\n"));

    let rt = runtime(" cookie SERVERID insert preserve");
    let be = backend(&rt);
    let mut st = TxnPersist::default();
    req(be, GET, &mut st);
    let head = format!("{OK}\nSet-Cookie: SERVERID=mine; path=/app");
    let out = res(be, Some(0), Method::Get, &head, &mut st);
    assert_eq!(out, format!("{}\r\n\r\n", head.replace('\n', "\r\n")));
    assert_eq!(flags(&st), "NP");
    // preserve only stops insertion when the server set the cookie itself
    let mut st = TxnPersist::default();
    req(be, GET, &mut st);
    let out = res(be, Some(0), Method::Get, OK, &mut st);
    assert!(out.contains("Set-Cookie: SERVERID=s1; path=/\r\n"));

    let rt = runtime(" cookie SERVERID insert httponly secure domain .a.com domain .b.org");
    let be = backend(&rt);
    let mut st = TxnPersist::default();
    req(be, GET, &mut st);
    let out = res(be, Some(1), Method::Get, OK, &mut st);
    assert!(
        out.contains(
            "\r\nSet-Cookie: SERVERID=s2; path=/; domain=.a.com; domain=.b.org; HttpOnly; Secure\r\n"
        ),
        "{out}"
    );
}

#[test]
fn server_without_cookie_gets_an_expired_one() {
    let rt = runtime_text(
        "backend be\n mode http\n cookie SERVERID insert indirect\n server s1 127.0.0.1:1 cookie s1\n server bk 127.0.0.1:2 backup\n",
    );
    let be = backend(&rt);
    let mut st = TxnPersist::default();
    req(be, GET, &mut st);
    let out = res(be, Some(1), Method::Get, OK, &mut st);
    assert!(out
        .contains("\r\nSet-Cookie: SERVERID=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/\r\n"));
    assert_eq!(flags(&st), "NI");
}

#[test]
fn set_cookie2_removes_one_cookie_of_several() {
    let rt = runtime(" cookie SERVERID insert");
    let be = backend(&rt);
    let mut st = TxnPersist::default();
    req(be, GET, &mut st);
    let out = res(
        be,
        Some(0),
        Method::Get,
        &format!("{OK}\nSet-Cookie2: a=1; Version=1, SERVERID=x; Version=1, b=2"),
        &mut st,
    );
    assert!(
        out.contains("\r\nSet-Cookie2: a=1; Version=1, b=2\r\n"),
        "{out}"
    );
    assert!(out.contains("\r\nSet-Cookie: SERVERID=s1; path=/\r\n"));
}

#[test]
fn base64_dates() {
    // vectors from haproxy's base64 self-test
    assert_eq!(&s30_to_b64(393_463_510), b"Xc8bW");
    assert_eq!(b64_to_s30(b"Xc8bV"), Some(393_463_509));
    assert_eq!(b64_to_s30(b"Xc8b"), None);
    assert_eq!(b64_to_s30(b"Xc8b="), None);
    for v in [0u32, 1, 12345, (1 << 30) - 1] {
        assert_eq!(b64_to_s30(&s30_to_b64(v)), Some(v));
    }
}

#[test]
fn maxidle_maxlife_dates() {
    let rt = runtime(" cookie SERVERID insert indirect maxidle 30s maxlife 1h");
    let be = backend(&rt);
    let now_b64 = String::from_utf8(date_now_b64(NOW).to_vec()).expect("b64");
    // first visit: last and first dates are both now
    let mut st = TxnPersist::default();
    req(be, GET, &mut st);
    let out = res(be, Some(0), Method::Get, OK, &mut st);
    assert!(
        out.contains(&format!(
            "Set-Cookie: SERVERID=s1|{now_b64}|{now_b64}; path=/\r\n"
        )),
        "{out}"
    );
    let date = |secs: i64| String::from_utf8(s30_to_b64((secs >> 2) as u32).to_vec()).expect("b64");
    // seen 10 s ago, first 100 s ago: valid, last date refreshed, first date kept
    let first = date(NOW - 100);
    let mut st = TxnPersist::default();
    let out = req(
        be,
        &format!("{GET}\nCookie: SERVERID=s1|{}|{first}", date(NOW - 10)),
        &mut st,
    );
    assert_eq!(out, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(st.server, Some(0));
    let out = res(be, Some(0), Method::Get, OK, &mut st);
    assert!(
        out.contains(&format!(
            "Set-Cookie: SERVERID=s1|{now_b64}|{first}; path=/\r\n"
        )),
        "{out}"
    );
    assert_eq!(flags(&st), "VU");
    // last date in the future (issued this very second): nothing to refresh
    let mut st = TxnPersist::default();
    req(
        be,
        &format!("{GET}\nCookie: SERVERID=s1|{now_b64}|{first}"),
        &mut st,
    );
    let out = res(be, Some(0), Method::Get, OK, &mut st);
    assert!(!out.contains("Set-Cookie"), "{out}");
    assert_eq!(flags(&st), "VN");
    // idle for 60 s: expired, treated as absent, a new cookie is issued
    let mut st = TxnPersist::default();
    req(
        be,
        &format!("{GET}\nCookie: SERVERID=s1|{}|{first}", date(NOW - 60)),
        &mut st,
    );
    assert_eq!(st.server, None);
    res(be, Some(1), Method::Get, OK, &mut st);
    assert_eq!(flags(&st), "EI");
    // first seen 2 h ago: too old
    let mut st = TxnPersist::default();
    req(
        be,
        &format!(
            "{GET}\nCookie: SERVERID=s1|{}|{}",
            date(NOW - 10),
            date(NOW - 7200)
        ),
        &mut st,
    );
    assert_eq!(st.req_cookie, ReqCookie::Old);
    // more than a day in the future: refused too
    let mut st = TxnPersist::default();
    req(
        be,
        &format!("{GET}\nCookie: SERVERID=s1|{}", date(NOW + 90_000)),
        &mut st,
    );
    assert_eq!(st.req_cookie, ReqCookie::Expired);

    // dates on a backend without maxidle/maxlife: accepted, and re-issued without dates
    let rt = runtime(" cookie SERVERID insert indirect");
    let be2 = rt.proxy_by_name("be").expect("be");
    let mut st = TxnPersist::default();
    req(
        be2,
        &format!("{GET}\nCookie: SERVERID=s1|{}|{first}", date(NOW - 10)),
        &mut st,
    );
    assert_eq!(st.server, Some(0));
    let out = res(be2, Some(0), Method::Get, OK, &mut st);
    assert!(out.contains("Set-Cookie: SERVERID=s1; path=/\r\n"));
    assert_eq!(flags(&st), "VU");
}

const APP: &str = " appsession 9ai9 len 64 timeout 5h";

#[test]
fn appsession_learns_from_set_cookie_and_routes_cookie_and_url() {
    let rt = runtime(APP);
    let be = backend(&rt);
    assert!(!cookie_logged(be));
    let mut st = TxnPersist::default();
    req_at(be, GET, &mut st, NOW, 0);
    assert_eq!(st.server, None);
    res_at(
        be,
        Some(1),
        Method::Get,
        &format!("{OK}\nSet-Cookie: 9ai9=abcdef; path=/"),
        &mut st,
        NOW,
        0,
    );
    for r in [
        format!("{GET}\nCookie: x=1; 9ai9=abcdef"),
        "GET /x;9ai9=abcdef?q=1 HTTP/1.1\nHost: a".to_string(),
        "HEAD /x;a=b;9ai9=abcdef HTTP/1.1\nHost: a".to_string(),
    ] {
        let mut st = TxnPersist::default();
        let out = req_at(be, &r, &mut st, NOW, 10);
        assert_eq!(st.server, Some(1), "{r}");
        assert!(st.direct);
        // the request itself is not modified
        assert!(out.starts_with(&r.replace('\n', "\r\n")));
    }
    // other methods do not look at the URL; unknown ids do nothing
    let mut st = TxnPersist::default();
    req_at(
        be,
        "PUT /x;9ai9=abcdef HTTP/1.1\nHost: a\nContent-Length: 0",
        &mut st,
        NOW,
        10,
    );
    assert_eq!(st.server, None);
    let mut st = TxnPersist::default();
    req_at(be, &format!("{GET}\nCookie: 9ai9=other"), &mut st, NOW, 10);
    assert_eq!(st.server, None);
    // without request-learn an unknown id in the request is not learned
    res_at(be, Some(0), Method::Get, OK, &mut st, NOW, 20);
    let mut st = TxnPersist::default();
    req_at(be, &format!("{GET}\nCookie: 9ai9=other"), &mut st, NOW, 30);
    assert_eq!(st.server, None);
    // a down server is skipped (normal balancing), or kept with option persist
    be.servers[1].up.store(false, Relaxed);
    let mut st = TxnPersist::default();
    req_at(be, &format!("{GET}\nCookie: 9ai9=abcdef"), &mut st, NOW, 40);
    assert_eq!(st.server, None);
    // the entry expires after 5 h without use
    be.servers[1].up.store(true, Relaxed);
    let mut st = TxnPersist::default();
    req_at(
        be,
        &format!("{GET}\nCookie: 9ai9=abcdef"),
        &mut st,
        NOW,
        40 + 5 * 3600 * 1000,
    );
    assert_eq!(st.server, None);
}

#[test]
fn appsession_request_learn_and_len() {
    let rt = runtime(" appsession 9ai9 len 4 timeout 5h request-learn");
    let be = backend(&rt);
    let mut st = TxnPersist::default();
    req_at(
        be,
        &format!("{GET}\nCookie: 9ai9=abcdefgh"),
        &mut st,
        NOW,
        0,
    );
    assert_eq!(st.sessid(), Some(&b"abcd"[..]));
    // the server answers without setting the cookie: the id is learned for it
    res_at(be, Some(1), Method::Get, OK, &mut st, NOW, 0);
    let mut st = TxnPersist::default();
    req_at(be, "GET /p;9ai9=abcdXYZ HTTP/1.1\nHost: a", &mut st, NOW, 1);
    assert_eq!(st.server, Some(1));
    // the response cookie wins over the request's id
    let mut st = TxnPersist::default();
    req_at(be, &format!("{GET}\nCookie: 9ai9=zzzz"), &mut st, NOW, 2);
    res_at(
        be,
        Some(0),
        Method::Get,
        &format!("{OK}\nSet-Cookie: 9ai9=yyyyyy"),
        &mut st,
        NOW,
        2,
    );
    let mut st = TxnPersist::default();
    req_at(be, &format!("{GET}\nCookie: 9ai9=yyyy"), &mut st, NOW, 3);
    assert_eq!(st.server, Some(0));
    let mut st = TxnPersist::default();
    req_at(be, &format!("{GET}\nCookie: 9ai9=zzzz"), &mut st, NOW, 3);
    assert_eq!(st.server, None);
    // ignore-persist: no lookup, no learning
    let mut st = TxnPersist {
        ignore: true,
        ..Default::default()
    };
    req_at(be, &format!("{GET}\nCookie: 9ai9=yyyy"), &mut st, NOW, 4);
    assert_eq!(st.server, None);
    assert_eq!(st.sessid(), None);
}

#[test]
fn appsession_query_string_mode() {
    let rt = runtime(" appsession JSESSIONID len 52 timeout 3h mode query-string");
    let be = backend(&rt);
    let mut st = TxnPersist::default();
    req_at(be, GET, &mut st, NOW, 0);
    res_at(
        be,
        Some(0),
        Method::Get,
        &format!("{OK}\nSet-Cookie: JSESSIONID=q1"),
        &mut st,
        NOW,
        0,
    );
    let mut st = TxnPersist::default();
    req_at(
        be,
        "GET /a?x=1&jsessionid=q1 HTTP/1.1\nHost: a",
        &mut st,
        NOW,
        1,
    );
    assert_eq!(st.server, Some(0));
    let mut st = TxnPersist::default();
    req_at(
        be,
        "GET /a;jsessionid=q1 HTTP/1.1\nHost: a",
        &mut st,
        NOW,
        1,
    );
    assert_eq!(st.server, None);
}

#[test]
fn stick_on_src_stores_at_response_and_matches_later() {
    let rt = runtime(
        " stick-table type ip size 10 expire 1m\n acl lan src 10.0.0.0/8\n stick on src if lan",
    );
    let be = backend(&rt);
    let input = StickInput {
        peer: "10.0.0.7:4000".parse().expect("peer"),
        local: "127.0.0.1:80".parse().expect("local"),
        head: None,
    };
    let mut st = TxnPersist::default();
    stick_request_at(be, &input, &mut |_| true, &mut st, 0);
    assert_eq!(st.server, None);
    assert_eq!(st.pending_stores(), 1);
    res_at(be, Some(1), Method::Get, OK, &mut st, NOW, 0);
    assert_eq!(st.pending_stores(), 0);
    let mut st = TxnPersist::default();
    stick_request_at(be, &input, &mut |_| true, &mut st, 10);
    assert_eq!(st.server, Some(1));
    assert!(st.direct);
    // a condition that fails skips the rule
    let mut st = TxnPersist::default();
    stick_request_at(be, &input, &mut |_| false, &mut st, 10);
    assert_eq!(st.server, None);
    // expired after a minute without match
    let mut st = TxnPersist::default();
    stick_request_at(be, &input, &mut |_| true, &mut st, 10 + 60_000);
    assert_eq!(st.server, None);
    // a down server is not used unless option persist
    res_at(be, Some(0), Method::Get, OK, &mut st, NOW, 70_000);
    be.servers[0].up.store(false, Relaxed);
    let mut st = TxnPersist::default();
    stick_request_at(be, &input, &mut |_| true, &mut st, 70_001);
    assert_eq!(st.server, None);
}

#[test]
fn stick_rules_on_other_table_and_first_store_wins() {
    let rt = runtime_text(
        "backend tbl\n stick-table type string len 8 size 100\nbackend be\n mode http\n stick store-request src table tbl\n stick store-request dst table tbl\n stick match src table tbl\n server s1 127.0.0.1:1\n server s2 127.0.0.1:2\n",
    );
    let be = backend(&rt);
    let input = StickInput {
        peer: "10.0.0.7:4000".parse().expect("peer"),
        local: "10.9.9.9:80".parse().expect("local"),
        head: None,
    };
    let mut st = TxnPersist::default();
    stick_request_at(be, &input, &mut |_| true, &mut st, 0);
    assert_eq!(st.pending_stores(), 1);
    res_at(be, Some(1), Method::Get, OK, &mut st, NOW, 0);
    let tbl = rt.proxy_by_name("tbl").expect("tbl");
    let t = tbl.persist.table.as_ref().expect("table");
    // string key cut to len 8, server stored by id
    assert_eq!(t.lookup(b"10.0.0.7", 1), Some(2));
    assert_eq!(t.len(), 1);
    let mut st = TxnPersist::default();
    stick_request_at(be, &input, &mut |_| true, &mut st, 2);
    assert_eq!(
        st.server, None,
        "match skipped: a store for this table is pending"
    );
}

#[test]
fn rdp_cookie_decoding() {
    let a = decode_msts(b"3640205228.15629.0000").expect("msts");
    assert_eq!(a.ip(), &Ipv4Addr::new(172, 31, 249, 216));
    assert_eq!(a.port(), 3389);
    assert_eq!(decode_msts(b"12.34"), None);
    assert_eq!(decode_msts(b"x.34.0"), None);
    assert_eq!(
        decode_msts(b"16777343.20480.0"),
        Some("127.0.0.1:80".parse().expect("addr"))
    );
}

#[test]
fn tcp_persist_rdp_cookie_picks_the_server() {
    let rt = runtime_text(
        "listen rdp\n mode tcp\n bind 127.0.0.1:3389\n persist rdp-cookie\n server a 127.0.0.1:80\n server b 127.0.0.2:80\n",
    );
    let be = rt.proxy_by_name("rdp").expect("rdp");
    // 127.0.0.2:80 → 0x0200007f little-endian = 33554559, port 80 swapped = 20480
    let mut pkt = vec![3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    pkt.extend_from_slice(b"Cookie: msts=33554559.20480.0000\r\n");
    let input = StickInput {
        peer: "10.0.0.1:5000".parse().expect("peer"),
        local: "127.0.0.1:3389".parse().expect("local"),
        head: None,
    };
    let mut st = TxnPersist::default();
    tcp_request(be, &pkt, &input, &mut |_| true, &mut st);
    assert_eq!(st.server, Some(1));
    let mut st = TxnPersist::default();
    tcp_request(be, b"", &input, &mut |_| true, &mut st);
    assert_eq!(st.server, None);
}

/// Deterministic xorshift for the no-panic sweep.
fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn scanners_never_panic_on_odd_cookie_lines() {
    const ALPHABET: &[u8] = b"SERVERID=s1;, \t\"\\$|~9ai9a=b";
    let modes = [
        " cookie SERVERID insert indirect nocache maxidle 1h maxlife 2h\n appsession 9ai9 len 4 timeout 1h request-learn prefix",
        " cookie SERVERID prefix indirect\n appsession 9ai9 len 8 timeout 1h",
        " cookie SERVERID rewrite",
        " cookie SERVERID",
    ];
    let mut seed = 0x1234_5678_9abc_def0u64;
    for m in modes {
        let rt = runtime(m);
        let be = backend(&rt);
        for _ in 0..3000 {
            let n = (rng(&mut seed) % 40) as usize;
            let v: String = (0..n)
                .map(|_| ALPHABET[(rng(&mut seed) % ALPHABET.len() as u64) as usize] as char)
                .collect();
            let mut st = TxnPersist::default();
            let out = req(be, &format!("{GET}\nCookie:{v}"), &mut st);
            assert!(out.ends_with("\r\n\r\n"));
            let out = res(
                be,
                Some(0),
                Method::Get,
                &format!("{OK}\nSet-Cookie:{v}\nSet-Cookie2:{v}"),
                &mut st,
            );
            assert!(out.ends_with("\r\n\r\n"));
        }
    }
}
