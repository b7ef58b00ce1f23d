//! End-to-end persistence (issue #4): haproxide between a client and demo origins on
//! loopback, exact `Set-Cookie`/`Cache-control` bytes, what the origin receives, the httplog
//! cookie flags, DOWN servers, appsession, `balance source`, and a side-by-side comparison
//! of every cookie mode with Debian's HAProxy 2.6.

mod common;

use common::*;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// A syslog receiver for the traffic log lines.
struct Syslog(UdpSocket);

impl Syslog {
    fn new() -> Syslog {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind syslog");
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        Syslog(s)
    }
    fn port(&self) -> u16 {
        self.0.local_addr().expect("addr").port()
    }
    /// The first request log line (not the connection probes of the test harness)
    /// containing `needle` within 5 s; lines before it are dropped.
    fn find(&self, needle: &str) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.0.recv(&mut buf) {
                let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                if line.contains(needle) && line.contains("\"GET ") {
                    return Some(line);
                }
            }
        }
        None
    }
}

/// A 1.4 configuration: global logging to `log_port`, http defaults, then `body`.
fn config(log_port: u16, body: &str) -> String {
    format!(
        "global\n    log 127.0.0.1:{log_port} local0\n    maxconn 200\n\
         defaults\n    mode http\n    log global\n    option httplog\n\
         \x20   timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n{body}"
    )
}

/// `n` distinct free loopback ports (all held while choosing, so none repeats).
fn ports(n: usize) -> Vec<u16> {
    let held: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}

struct Setup {
    addr: SocketAddr,
    _proc: Proc,
    _scratch: Scratch,
}

fn start(cfg: &str, port: u16) -> Setup {
    let scratch = Scratch::new();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let p = start_haproxide(&scratch, cfg, &[addr]);
    Setup {
        addr,
        _proc: p,
        _scratch: scratch,
    }
}

/// The response head as text (status line and headers, CRLF kept).
fn head(r: &Response) -> String {
    let raw = String::from_utf8_lossy(&r.raw).into_owned();
    match raw.find("\r\n\r\n") {
        Some(i) => raw[..i + 2].to_string(),
        None => raw,
    }
}

fn server_of(r: &Response) -> String {
    r.header("x-server").unwrap_or("?").to_string()
}

#[test]
fn cookie_insert_indirect_nocache_like_the_seed() {
    let origins = start_origins(&["a", "b"]);
    let (sa, sb) = (origins.addrs[0], origins.addrs[1]);
    let log = Syslog::new();
    let port = free_port();
    let cfg = config(
        log.port(),
        &format!(
            "listen COOKIE_srv\n    bind 127.0.0.1:{port}\n    option httpclose\n    option forwardfor\n\
             \x20   cookie SESSION_COOKIE insert indirect nocache\n\
             \x20   server REALsrv_70 {sa} cookie 11 check inter 1500 rise 3 fall 3 weight 1\n\
             \x20   server REALsrv_120 {sb} cookie 12 check inter 1500 rise 3 fall 3 weight 1\n"
        ),
    );
    let s = start(&cfg, port);

    // First visit: round robin, our cookie inserted, the response made private.
    let r = get(s.addr, "cookie.9ai9.net", "/", None).expect("first");
    assert_eq!(r.status, 200);
    let srv = server_of(&r);
    let id = if srv == "a" { "11" } else { "12" };
    let h = head(&r);
    // appended after the server's headers (its own `Connection: close` included)
    assert!(
        h.ends_with(&format!(
            "\r\nConnection: close\r\nSet-Cookie: SESSION_COOKIE={id}; path=/\r\nCache-control: private\r\n"
        )),
        "{h}"
    );
    let line = log.find("COOKIE_srv").expect("log line");
    assert!(line.contains(" --NI "), "{line}");

    // Next visits: same server, the cookie never reaches it, no new cookie.
    for _ in 0..10 {
        let r = get(
            s.addr,
            "cookie.9ai9.net",
            "/",
            Some(&format!("SESSION_COOKIE={id}")),
        )
        .expect("next");
        assert_eq!(server_of(&r), srv);
        assert!(r
            .headers_named("set-cookie")
            .iter()
            .all(|c| !c.contains("SESSION_COOKIE")));
        assert!(
            !r.body_text().contains("SESSION_COOKIE"),
            "{}",
            r.body_text()
        );
        let line = log.find("COOKIE_srv").expect("log line");
        assert!(line.contains(" --VN "), "{line}");
    }
    // Other cookies are kept, byte for byte as 1.4 leaves them.
    let r = get(
        s.addr,
        "cookie.9ai9.net",
        "/",
        Some(&format!("9ai9=abc; SESSION_COOKIE={id}; lang=fr")),
    )
    .expect("mixed");
    assert_eq!(server_of(&r), srv);
    assert!(
        r.echoed_headers()
            .contains(&"Cookie: 9ai9=abc; lang=fr".to_string()),
        "{:?}",
        r.echoed_headers()
    );
}

#[test]
fn cookie_to_a_down_server_moves_unless_option_persist() {
    let origins = start_origins(&["a", "b"]);
    let (sa, sb) = (origins.addrs[0], origins.addrs[1]);
    let log = Syslog::new();
    let (p1, p2) = {
        let p = ports(2);
        (p[0], p[1])
    };
    let cfg = config(
        log.port(),
        &format!(
            "listen moves\n    bind 127.0.0.1:{p1}\n    cookie SESSION_COOKIE insert indirect nocache\n\
             \x20   server A {sa} cookie 11 disabled\n    server B {sb} cookie 12\n\
             listen stays\n    bind 127.0.0.1:{p2}\n    option persist\n\
             \x20   cookie SESSION_COOKIE insert indirect nocache\n\
             \x20   server A {sa} cookie 11 disabled\n    server B {sb} cookie 12\n"
        ),
    );
    let scratch = Scratch::new();
    let a1: SocketAddr = format!("127.0.0.1:{p1}").parse().expect("addr");
    let a2: SocketAddr = format!("127.0.0.1:{p2}").parse().expect("addr");
    let _p = start_haproxide(&scratch, &cfg, &[a1, a2]);

    let r = get(a1, "x", "/", Some("SESSION_COOKIE=11")).expect("moves");
    assert_eq!(server_of(&r), "b");
    assert!(head(&r)
        .contains("\r\nSet-Cookie: SESSION_COOKIE=12; path=/\r\nCache-control: private\r\n"));
    let line = log.find(" moves ").expect("log");
    assert!(line.contains(" --DI "), "{line}");

    let r = get(a2, "x", "/", Some("SESSION_COOKIE=11")).expect("stays");
    assert_eq!(server_of(&r), "a");
    assert!(r
        .header("set-cookie")
        .is_none_or(|c| !c.contains("SESSION_COOKIE")));
    let line = log.find(" stays ").expect("log");
    assert!(line.contains(" --DN "), "{line}");
}

#[test]
fn health_checked_down_server_and_redispatch() {
    let origins = start_origins(&["b"]);
    let sb = origins.addrs[0];
    let dead = free_port(); // nothing listens there
    let log = Syslog::new();
    let (p1, p2) = {
        let p = ports(2);
        (p[0], p[1])
    };
    let cfg = config(
        log.port(),
        &format!(
            "listen checked\n    bind 127.0.0.1:{p1}\n    retries 0\n\
             \x20   cookie SESSION_COOKIE insert indirect nocache\n\
             \x20   server A 127.0.0.1:{dead} cookie 11 check inter 100 fall 1 rise 1\n\
             \x20   server B {sb} cookie 12 check inter 100 fall 1 rise 1\n\
             listen redisp\n    bind 127.0.0.1:{p2}\n    retries 1\n    option redispatch\n    option persist\n\
             \x20   cookie SESSION_COOKIE insert indirect nocache\n\
             \x20   server A 127.0.0.1:{dead} cookie 11\n    server B {sb} cookie 12\n"
        ),
    );
    let scratch = Scratch::new();
    let a1: SocketAddr = format!("127.0.0.1:{p1}").parse().expect("addr");
    let a2: SocketAddr = format!("127.0.0.1:{p2}").parse().expect("addr");
    let _p = start_haproxide(&scratch, &cfg, &[a1, a2]);

    // Once the check has marked A DOWN, its clients are moved to B with a new cookie
    // (before that, with no retry, the request fails with a 503).
    let mut moved = None;
    let ok = wait_until(Duration::from_secs(10), || {
        match get(a1, "x", "/", Some("SESSION_COOKIE=11")) {
            Ok(r) if r.status == 200 => {
                moved = Some(r);
                true
            }
            _ => false,
        }
    });
    assert!(ok, "A never marked down");
    let r = moved.expect("response");
    assert_eq!(server_of(&r), "b");
    assert!(head(&r).contains("\r\nSet-Cookie: SESSION_COOKIE=12; path=/\r\n"));

    // A is not checked there, so it counts as UP: the request goes to A, the connection
    // fails and the last retry is redispatched to B, which gets the cookie (retries logged
    // as +1, cookie flags VI).
    let r = get(a2, "x", "/", Some("SESSION_COOKIE=11")).expect("redispatch");
    assert_eq!(server_of(&r), "b");
    assert!(head(&r).contains("\r\nSet-Cookie: SESSION_COOKIE=12; path=/\r\n"));
    let line = log.find(" redisp ").expect("log");
    assert!(line.contains("redisp/B"), "{line}");
    assert!(line.contains("/+1 "), "{line}");
    assert!(line.contains(" --VI "), "{line}");
}

#[test]
fn appsession_cookie_and_url_stick_to_the_issuing_server() {
    let origins = start_origins(&["a", "b"]);
    let (sa, sb) = (origins.addrs[0], origins.addrs[1]);
    let log = Syslog::new();
    let port = free_port();
    let cfg = config(
        log.port(),
        &format!(
            "listen APPSESSION_srv\n    bind 127.0.0.1:{port}\n    balance roundrobin\n\
             \x20   appsession 9ai9 len 64 timeout 5h request-learn\n\
             \x20   server a {sa} cookie 11\n    server b {sb} cookie 12\n"
        ),
    );
    let s = start(&cfg, port);

    // Without a session, round robin alternates.
    let x = server_of(&get(s.addr, "x", "/", Some("other=1")).expect("rr1"));
    let y = server_of(&get(s.addr, "x", "/", Some("other=1")).expect("rr2"));
    assert_ne!(x, y);

    // The server that creates the session is remembered.
    let r = get(s.addr, "x", "/", None).expect("first");
    let issuer = server_of(&r);
    let sid = r.echo("session").expect("session id");
    assert!(head(&r).contains(&format!("Set-Cookie: 9ai9={sid}; path=/")));
    for i in 0..10 {
        let r = get(s.addr, "x", "/", Some(&format!("9ai9={sid}"))).expect("cookie");
        assert_eq!(server_of(&r), issuer, "request {i}");
        assert_eq!(r.echo("session").as_deref(), Some(sid.as_str()));
        let r = get(s.addr, "x", &format!("/page;9ai9={sid}?q={i}"), None).expect("url");
        assert_eq!(server_of(&r), issuer, "url request {i}");
    }
    // request-learn: an id the table does not know is learned from the server that
    // answered, even though it did not set the cookie.
    let r = get(s.addr, "x", "/", Some("9ai9=client-made-id")).expect("learn");
    let learner = server_of(&r);
    for _ in 0..4 {
        let r = get(s.addr, "x", "/", Some("9ai9=client-made-id")).expect("learned");
        assert_eq!(server_of(&r), learner);
    }
    // appsession alone logs no cookie flags
    let line = log.find("APPSESSION_srv").expect("log");
    assert!(line.contains(" ---- "), "{line}");
}

#[test]
fn balance_source_sticks_across_connections() {
    let origins = start_origins(&["a", "b"]);
    let (sa, sb) = (origins.addrs[0], origins.addrs[1]);
    let log = Syslog::new();
    let port = free_port();
    let cfg = config(
        log.port(),
        &format!(
            "listen SOURCE_srv\n    bind 127.0.0.1:{port}\n    balance source\n\
             \x20   server a {sa}\n    server b {sb}\n"
        ),
    );
    let s = start(&cfg, port);
    let first = server_of(&get(s.addr, "x", "/", None).expect("first"));
    for _ in 0..10 {
        assert_eq!(
            server_of(&get(s.addr, "x", "/", None).expect("next")),
            first
        );
    }
}

#[test]
fn stick_on_src_in_tcp_mode() {
    let origins = start_origins(&["a", "b"]);
    let (sa, sb) = (origins.addrs[0], origins.addrs[1]);
    let log = Syslog::new();
    let port = free_port();
    let cfg = format!(
        "global\n    log 127.0.0.1:{} local0\n\
         listen tcpstick\n    mode tcp\n    bind 127.0.0.1:{port}\n    balance roundrobin\n\
         \x20   timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         \x20   stick-table type ip size 100 expire 1m\n    stick on src\n\
         \x20   server a {sa}\n    server b {sb}\n",
        log.port()
    );
    let s = start(&cfg, port);
    // The first connection is balanced and its source stored; the others follow it
    // although round robin would alternate. (The harness's readiness probe is a connection
    // too and may store its choice concurrently with the first request: a second request
    // settles that race, the last store wins.)
    get(s.addr, "x", "/", None).expect("warm-up");
    let first = server_of(&get(s.addr, "x", "/", None).expect("first"));
    for _ in 0..6 {
        assert_eq!(
            server_of(&get(s.addr, "x", "/", None).expect("next")),
            first
        );
    }
}

/// One cookie mode compared between haproxide and HAProxy 2.6.
struct ModeCase {
    name: &'static str,
    /// `cookie` line and server lines (`{a}` = origin address).
    body: &'static str,
    /// Requests sent to both, as (method, path, Cookie header).
    requests: &'static [(&'static str, &'static str, Option<&'static str>)],
}

const CASES: &[ModeCase] = &[
    ModeCase {
        name: "insert indirect nocache",
        body: "cookie SC insert indirect nocache\n    server s1 {a} cookie 11",
        requests: &[
            ("GET", "/", Some("9ai9=fixed")),
            ("GET", "/", Some("9ai9=fixed; SC=11; lang=fr")),
            ("POST", "/", Some("9ai9=fixed")),
            ("GET", "/status/404", Some("9ai9=fixed")),
        ],
    },
    ModeCase {
        name: "insert (server sets its own)",
        body: "cookie SC insert\n    server s1 {a} cookie 11",
        requests: &[
            ("GET", "/setcookie/SC=app", None),
            ("GET", "/setcookie/SC=app", Some("SC=11")),
        ],
    },
    ModeCase {
        name: "prefix",
        body: "cookie JSESSIONID prefix\n    server s1 {a} cookie 11",
        requests: &[
            ("GET", "/setcookie/JSESSIONID=xyz", None),
            ("GET", "/", Some("a=1; JSESSIONID=11~abc; b=2")),
        ],
    },
    ModeCase {
        name: "rewrite",
        body: "cookie SC rewrite\n    server s1 {a} cookie 11",
        requests: &[("GET", "/setcookie/SC=placeholder", Some("SC=11"))],
    },
    ModeCase {
        name: "insert httponly secure 2 domains",
        body: "cookie SC insert httponly secure domain .a.com domain .b.org\n    server s1 {a} cookie 11",
        requests: &[("GET", "/", Some("9ai9=fixed"))],
    },
    ModeCase {
        name: "insert postonly",
        body: "cookie SC insert postonly\n    server s1 {a} cookie 11",
        requests: &[("GET", "/", Some("9ai9=fixed")), ("POST", "/", Some("9ai9=fixed"))],
    },
    ModeCase {
        name: "insert preserve",
        body: "cookie SC insert preserve\n    server s1 {a} cookie 11",
        requests: &[("GET", "/setcookie/SC=mine", None), ("GET", "/", Some("9ai9=fixed"))],
    },
    ModeCase {
        name: "insert indirect, server without cookie",
        body: "cookie SC insert indirect\n    server s1 {a}",
        requests: &[("GET", "/", Some("9ai9=fixed"))],
    },
    ModeCase {
        name: "insert maxidle maxlife",
        body: "cookie SC insert indirect maxidle 30m maxlife 8h\n    server s1 {a} cookie 11",
        requests: &[("GET", "/", Some("9ai9=fixed"))],
    },
    ModeCase {
        name: "passive",
        body: "cookie SC\n    server s1 {a} cookie 11",
        requests: &[("GET", "/setcookie/SC=zz", Some("SC=11"))],
    },
];

/// What one request showed: the Set-Cookie and Cache-control lines of the response (name
/// as sent, value), and the Cookie header the origin received.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    lines: Vec<(String, String)>,
    origin_cookie: Vec<String>,
}

fn observe(addr: SocketAddr, method: &str, path: &str, cookie: Option<&str>) -> Seen {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\n");
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: {c}\r\n"));
    }
    if method == "POST" {
        req.push_str("Content-Length: 0\r\n");
    }
    req.push_str("Connection: close\r\n\r\n");
    let r = raw_request(addr, req.as_bytes()).expect("response");
    let lines = r
        .headers
        .iter()
        .filter(|(n, v)| {
            (n.eq_ignore_ascii_case("set-cookie") && !v.starts_with("9ai9="))
                || n.eq_ignore_ascii_case("cache-control")
        })
        .map(|(n, v)| (n.clone(), mask_dates(v)))
        .collect();
    let origin_cookie = r
        .echoed_headers()
        .into_iter()
        .filter(|l| l.to_ascii_lowercase().starts_with("cookie:"))
        .map(|l| l[7..].trim().to_string())
        .collect();
    Seen {
        lines,
        origin_cookie,
    }
}

/// Replaces the two 5-character cookie dates (`|XXXXX`) by `|<date>`, checking they are
/// within a few seconds of now (4-second units).
fn mask_dates(v: &str) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find('|') {
        out.push_str(&rest[..i]);
        let d = rest.get(i + 1..i + 6).unwrap_or("");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        let decoded = d.bytes().try_fold(0i64, |a, c| {
            let x = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            };
            Some((a << 6) | i64::from(x))
        });
        let secs = decoded.map(|d| d << 2).unwrap_or(0);
        assert!(
            (secs - now).abs() <= 12,
            "cookie date {d} is {secs}, now {now}"
        );
        out.push_str("|<date>");
        rest = rest.get(i + 6..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

#[test]
fn cookie_modes_byte_for_byte_and_against_haproxy_2_6() {
    let Some(h26) = haproxy26_bin() else {
        panic!("/usr/sbin/haproxy (Debian HAProxy 2.6) is missing: run scripts/install-deps.sh");
    };
    let origins = start_origins(&["a"]);
    let a = origins.addrs[0];
    let mut ours = String::from(
        "global\n    maxconn 200\ndefaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n",
    );
    let mut theirs = ours.clone();
    let all = ports(2 * CASES.len());
    let ports: Vec<(u16, u16)> = all.chunks(2).map(|c| (c[0], c[1])).collect();
    for (i, c) in CASES.iter().enumerate() {
        let (p, q) = ports[i];
        let body = c.body.replace("{a}", &a.to_string());
        ours.push_str(&format!(
            "listen m{i}\n    bind 127.0.0.1:{p}\n    {body}\n"
        ));
        theirs.push_str(&format!(
            "listen m{i}\n    bind 127.0.0.1:{q}\n    {body}\n"
        ));
    }
    let scratch = Scratch::new();
    let mine: Vec<SocketAddr> = ports
        .iter()
        .map(|(p, _)| format!("127.0.0.1:{p}").parse().expect("addr"))
        .collect();
    let other: Vec<SocketAddr> = ports
        .iter()
        .map(|(_, q)| format!("127.0.0.1:{q}").parse().expect("addr"))
        .collect();
    let _x = start_haproxide(&scratch, &ours, &mine);
    let _y = start_proxy(&h26, &scratch, "haproxy26", &theirs, &other);

    let mut report = String::new();
    let mut unexpected = Vec::new();
    for (i, c) in CASES.iter().enumerate() {
        for (method, path, cookie) in c.requests {
            let x = observe(mine[i], method, path, *cookie);
            let y = observe(other[i], method, path, *cookie);
            let label = format!(
                "{} | {method} {path} Cookie: {}",
                c.name,
                cookie.unwrap_or("-")
            );
            report.push_str(&format!(
                "{label}\n  haproxide: {:?} origin saw {:?}\n  2.6:       {:?} origin saw {:?}\n",
                x.lines, x.origin_cookie, y.lines, y.origin_cookie
            ));
            // haproxide writes 1.4's header names exactly.
            for (n, _) in &x.lines {
                assert!(n == "Set-Cookie" || n == "Cache-control", "{label}: {n}");
            }
            // Values compared without case on the names (2.6 lowercases header names).
            let lower = |s: &Seen| -> Vec<(String, String)> {
                s.lines
                    .iter()
                    .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                    .collect()
            };
            let (lx, ly) = (lower(&x), lower(&y));
            // Known 2.x change: 2.4+ only calls a response cacheable when it carries
            // freshness information (Expires, max-age, Last-Modified, ETag), so `nocache`
            // adds no Cache-control to the demo's plain responses. 1.4 adds it.
            let lx_no_cc: Vec<_> = lx
                .iter()
                .filter(|(n, v)| !(n == "cache-control" && v == "private"))
                .cloned()
                .collect();
            if lx != ly && lx_no_cc != ly {
                unexpected.push(format!("{label}: {lx:?} vs {ly:?}"));
            }
            if x.origin_cookie != y.origin_cookie {
                unexpected.push(format!(
                    "{label}: origin cookie {:?} vs {:?}",
                    x.origin_cookie, y.origin_cookie
                ));
            }
        }
    }
    eprintln!("{report}");
    assert!(
        unexpected.is_empty(),
        "differences from 2.6: {unexpected:#?}"
    );

    // And the exact 1.4 bytes for the main cases.
    let first = |i: usize, m: &str, p: &str, c: Option<&str>| observe(mine[i], m, p, c).lines;
    let sc = |v: &str| ("Set-Cookie".to_string(), v.to_string());
    let cc = ("Cache-control".to_string(), "private".to_string());
    assert_eq!(
        first(0, "GET", "/", Some("9ai9=fixed")),
        vec![sc("SC=11; path=/"), cc.clone()]
    );
    assert_eq!(
        first(0, "POST", "/", Some("9ai9=fixed")),
        vec![sc("SC=11; path=/")]
    );
    assert_eq!(
        first(0, "GET", "/status/404", Some("9ai9=fixed")),
        vec![sc("SC=11; path=/")]
    );
    assert_eq!(first(0, "GET", "/", Some("SC=11")), vec![]);
    assert_eq!(
        first(1, "GET", "/setcookie/SC=app", None),
        vec![sc("SC=11; path=/")]
    );
    assert_eq!(
        first(2, "GET", "/setcookie/JSESSIONID=xyz", None),
        vec![sc("JSESSIONID=11~xyz; path=/")]
    );
    assert_eq!(
        observe(mine[2], "GET", "/", Some("a=1; JSESSIONID=11~abc; b=2")).origin_cookie,
        vec!["a=1; JSESSIONID=abc; b=2".to_string()]
    );
    assert_eq!(
        first(3, "GET", "/setcookie/SC=placeholder", None),
        vec![sc("SC=11; path=/")]
    );
    assert_eq!(
        first(4, "GET", "/", Some("9ai9=fixed")),
        vec![sc(
            "SC=11; path=/; domain=.a.com; domain=.b.org; HttpOnly; Secure"
        )]
    );
    assert_eq!(first(5, "GET", "/", Some("9ai9=fixed")), vec![]);
    assert_eq!(
        first(6, "GET", "/setcookie/SC=mine", None),
        vec![sc("SC=mine; path=/")]
    );
    assert_eq!(
        first(7, "GET", "/", Some("9ai9=fixed")),
        vec![sc("SC=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/")]
    );
    assert_eq!(
        first(8, "GET", "/", Some("9ai9=fixed")),
        vec![sc("SC=11|<date>|<date>; path=/")]
    );
    assert_eq!(
        first(9, "GET", "/setcookie/SC=zz", None),
        vec![sc("SC=zz; path=/")]
    );
}

#[test]
fn persist_rdp_cookie_routes_to_the_encoded_server() {
    use std::io::{Read, Write};
    use std::sync::mpsc;
    // Two plain TCP servers that report which of them got each connection.
    let (tx, rx) = mpsc::channel::<(char, Vec<u8>)>();
    let mut addrs = Vec::new();
    for name in ['a', 'b'] {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        addrs.push(l.local_addr().expect("addr"));
        let tx = tx.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let mut s = s;
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 256];
                let n = s.read(&mut buf).unwrap_or(0);
                let _ = s.write_all(b"ok");
                if tx.send((name, buf[..n].to_vec())).is_err() {
                    return;
                }
            }
        });
    }
    let port = ports(1)[0];
    let cfg = format!(
        "listen rdp\n    mode tcp\n    bind 127.0.0.1:{port}\n\
         \x20   timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         \x20   tcp-request inspect-delay 2s\n    tcp-request content accept if RDP_COOKIE\n\
         \x20   persist rdp-cookie\n    server a {}\n    server b {}\n",
        addrs[0], addrs[1]
    );
    let s = start(&cfg, port);
    // Drain the harness's readiness probe, if it reached a server.
    while rx.recv_timeout(Duration::from_millis(300)).is_ok() {}
    // msts=<address as a little-endian u32>.<port byte-swapped>.0000, naming server b.
    let b = addrs[1];
    let ip = u32::from_le_bytes([127, 0, 0, 1]);
    let cookie = format!("Cookie: msts={ip}.{}.0000\r\n", b.port().swap_bytes());
    let mut pkt = vec![3u8, 0, 0, 0, 0x0e, 0xe0, 0, 0, 0, 0, 0];
    pkt.extend_from_slice(cookie.as_bytes());
    for i in 0..4 {
        let mut c = std::net::TcpStream::connect(s.addr).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        c.write_all(&pkt).expect("send");
        let mut ok = [0u8; 2];
        c.read_exact(&mut ok).expect("answer");
        let (who, got) = rx.recv_timeout(Duration::from_secs(5)).expect("a server");
        assert_eq!(who, 'b', "connection {i}");
        assert_eq!(got, pkt, "the inspected bytes reach the server unchanged");
    }
}
