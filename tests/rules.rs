//! End-to-end tests of header rewriting and access control (issue #9): every `req*`/`rsp*`
//! keyword, `block`, `redirect`, `http-request allow|deny|auth` with userlists,
//! `tcp-request content` with `inspect-delay`, `errorfile`/`errorloc*`, `timeout tarpit`,
//! `option accept-invalid-http-request`, `option http-use-proxy-header` and
//! `option checkcache`, driven through a real haproxide process with real sockets.
//!
//! Keywords HAProxy 2.6 dropped (`req*`, `rsp*`, `block`) are checked against the 1.4 spec
//! alone. For the ones 2.6 kept (`redirect`, `http-request`, `tcp-request content`,
//! `errorfile`, `errorloc*`, userlists) the same configuration also runs under Debian's
//! HAProxy 2.6 and the tests compare status codes, the headers that matter (names
//! case-insensitively) and what the server received. Byte-level differences that are 2.6
//! changes are listed in `docs/compatibility.md` (§ "Rules: differences with HAProxy 2.6");
//! for those the 1.4 bytes are asserted on haproxide.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

const GLOBAL: &str = "global\n  maxconn 200\n";
const DEFAULTS: &str = "defaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  \
                        timeout server 5s\n";

/// HAProxy 1.4's built-in pages (spec §12).
const HTTP_403: &[u8] = b"HTTP/1.0 403 Forbidden\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n";
const HTTP_500: &[u8] = b"HTTP/1.0 500 Server Error\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>500 Server Error</h1>\nAn internal server error occured.\n</body></html>\n";
const HTTP_502: &[u8] = b"HTTP/1.0 502 Bad Gateway\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete response.\n</body></html>\n";
const HTTP_400: &[u8] = b"HTTP/1.0 400 Bad request\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n";

/// A running haproxide with its origins.
struct Setup {
    _scratch: Scratch,
    _proc: Proc,
    fe: SocketAddr,
    #[allow(dead_code)]
    origins: Origins,
}

/// Replaces `${fe}` and `${s1}`..`${s4}` in `body`.
fn fill(body: &str, fe: u16, o: &Origins) -> String {
    let mut t = body.replace("${fe}", &addr(fe).to_string());
    for (i, a) in o.addrs.iter().enumerate() {
        t = t.replace(&format!("${{s{}}}", i + 1), &a.to_string());
    }
    t
}

/// Starts haproxide on `GLOBAL` + `DEFAULTS` + `body` with one demo origin per name.
fn start(body: &str, origins: &[&str]) -> Setup {
    let o = start_origins(origins);
    let fe = free_port();
    let cfg = format!("{GLOBAL}{DEFAULTS}{}", fill(body, fe, &o));
    let s = Scratch::new();
    let p = start_haproxide(&s, &cfg, &[addr(fe)]);
    Setup {
        _scratch: s,
        _proc: p,
        fe: addr(fe),
        origins: o,
    }
}

fn haproxy26() -> std::path::PathBuf {
    haproxy26_bin().unwrap_or_else(|| {
        panic!("Debian's HAProxy 2.6 (/usr/sbin/haproxy) is missing: run scripts/install-deps.sh")
    })
}

/// haproxide and HAProxy 2.6 on the same configuration (each on its own port) and origins.
struct Pair {
    _scratch: Scratch,
    _ours: Proc,
    _theirs: Proc,
    ours: SocketAddr,
    theirs: SocketAddr,
    #[allow(dead_code)]
    origins: Origins,
}

fn start_pair(body: &str, origins: &[&str]) -> Pair {
    start_pair_with(body, origins, |_| {})
}

/// Like [`start_pair`]; `prepare` may write files into the scratch directory first
/// (`${dir}` in `body` is that directory).
fn start_pair_with(body: &str, origins: &[&str], prepare: impl Fn(&Scratch)) -> Pair {
    let o = start_origins(origins);
    let s = Scratch::new();
    prepare(&s);
    let dir = s.dir.path().display().to_string();
    let (p1, p2) = (free_port(), free_port());
    let cfg1 = format!("{GLOBAL}{DEFAULTS}{}", fill(body, p1, &o)).replace("${dir}", &dir);
    let cfg2 = format!("{GLOBAL}{DEFAULTS}{}", fill(body, p2, &o)).replace("${dir}", &dir);
    let ours = start_haproxide(&s, &cfg1, &[addr(p1)]);
    let theirs = start_proxy(&haproxy26(), &s, "haproxy26", &cfg2, &[addr(p2)]);
    Pair {
        _scratch: s,
        _ours: ours,
        _theirs: theirs,
        ours: addr(p1),
        theirs: addr(p2),
        origins: o,
    }
}

impl Pair {
    /// Sends `req` to both proxies: (haproxide's response, HAProxy 2.6's response).
    fn both(&self, req: &str) -> (Response, Response) {
        let a = raw_request(self.ours, req.as_bytes()).expect("haproxide response");
        let b = raw_request(self.theirs, req.as_bytes()).expect("haproxy 2.6 response");
        (a, b)
    }
}

fn get_req(path: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test.example\r\n{extra}Connection: close\r\n\r\n")
}

/// Header lines the origin received, without the ones proxies legitimately manage
/// differently (`Connection`), names lower-cased.
fn received(r: &Response) -> Vec<String> {
    r.echoed_headers()
        .into_iter()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| match l.split_once(':') {
            Some((n, v)) => format!("{}:{v}", n.to_ascii_lowercase()),
            None => l,
        })
        .collect()
}

/// True when the connection was closed without a single byte of response.
fn closed_silently(mut s: TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(0) | Err(_))
}

// ------------------------------------------------------------------------------------------
// req* keywords (1.4 only)
// ------------------------------------------------------------------------------------------

#[test]
fn reqadd_appends_lines_with_if_and_unless() {
    let s = start(
        "frontend fe\n  bind ${fe}\n  default_backend be\n\
         \x20 reqadd X-Added:\\ yes\n\
         \x20 reqadd X-If:\\ 1 if { path_beg /cond }\n\
         \x20 reqadd X-Unless:\\ 1 unless { path_beg /cond }\n\
         backend be\n  server s1 ${s1}\n",
        &["s1"],
    );
    let r = raw_request(s.fe, get_req("/cond", "X-Mine: a\r\n").as_bytes()).unwrap();
    assert_eq!(
        r.echoed_headers(),
        [
            "Host: test.example",
            "X-Mine: a",
            "Connection: close",
            "X-Added: yes",
            "X-If: 1"
        ]
    );
    let r = raw_request(s.fe, get_req("/other", "").as_bytes()).unwrap();
    assert_eq!(
        r.echoed_headers(),
        [
            "Host: test.example",
            "Connection: close",
            "X-Added: yes",
            "X-Unless: 1"
        ]
    );
}

#[test]
fn reqrep_and_reqirep_rewrite_the_request_line_and_headers() {
    let s = start(
        "frontend fe\n  bind ${fe}\n  default_backend be\n\
         \x20 reqrep ^([^\\ ]*)\\ /static/(.*) \\1\\ /assets/\\2\n\
         \x20 reqirep ^host:\\ ([^.]*)\\.example$ Host:\\ \\1.internal\n\
         \x20 reqrep ^X-V:\\ (.*) X-V:\\ [\\1]\n\
         \x20 reqrep ^(.*)v1(.*) \\1v2\\2 if { hdr(x-mode) rewrite }\n\
         backend be\n  server s1 ${s1}\n",
        &["s1"],
    );
    let r = raw_request(
        s.fe,
        get_req(
            "/static/a.css?v1",
            "X-V: one\r\nX-V: two\r\nX-Mode: rewrite\r\n",
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(r.echo("uri").as_deref(), Some("/assets/a.css?v2"));
    // The v1->v2 rule matched the request line, so it left the headers alone.
    assert_eq!(
        r.echoed_headers(),
        [
            "Host: test.internal",
            "X-V: [one]",
            "X-V: [two]",
            "X-Mode: rewrite",
            "Connection: close"
        ]
    );
    // Case matters for reqrep, not for reqirep; the condition gates the last rule.
    let req =
        "GET /static/x?v1 HTTP/1.1\r\nHOST: a.example\r\nx-v: low\r\nConnection: close\r\n\r\n";
    let r = raw_request(s.fe, req.as_bytes()).unwrap();
    assert_eq!(r.echo("uri").as_deref(), Some("/assets/x?v1"));
    assert_eq!(
        r.echoed_headers(),
        ["Host: a.internal", "x-v: low", "Connection: close"]
    );
}

#[test]
fn reqdel_and_reqidel_remove_every_matching_line() {
    let s = start(
        "frontend fe\n  bind ${fe}\n  default_backend be\n\
         \x20 reqdel ^X-Secret:\n\
         \x20 reqidel ^x-debug: if { src 127.0.0.1 }\n\
         \x20 reqidel ^x-keep: unless { src 127.0.0.1 }\n\
         backend be\n  server s1 ${s1}\n",
        &["s1"],
    );
    let r = raw_request(
        s.fe,
        get_req(
            "/",
            "X-Secret: 1\r\nx-secret: lower stays\r\nX-Debug: a\r\nX-DEBUG: b\r\nX-Keep: k\r\nX-Secret: 2\r\n",
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        r.echoed_headers(),
        [
            "Host: test.example",
            "x-secret: lower stays",
            "X-Keep: k",
            "Connection: close"
        ]
    );
}

#[test]
fn reqallow_skips_later_denials_and_reqpass_changes_nothing() {
    let s = start(
        "frontend fe\n  bind ${fe}\n  default_backend be\n\
         \x20 reqiallow ^get\\ /allowed\n\
         \x20 reqallow ^X-Trusted:\\ yes\n\
         \x20 reqpass ^GET\\ /passed\n\
         \x20 reqipass ^get\n\
         \x20 reqdeny ^GET\n\
         \x20 reqrep ^X-Trusted:\\ yes X-Trusted:\\ checked\n\
         backend be\n  server s1 ${s1}\n",
        &["s1"],
    );
    let r = raw_request(s.fe, get_req("/allowed", "").as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    let r = raw_request(s.fe, get_req("/x", "X-Trusted: yes\r\n").as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    // Rewrites still apply after reqallow.
    assert!(r
        .echoed_headers()
        .contains(&"X-Trusted: checked".to_string()));
    // reqpass does not protect from the deny below it.
    let r = raw_request(s.fe, get_req("/passed", "").as_bytes()).unwrap();
    assert_eq!(r.raw, HTTP_403);
}

#[test]
fn reqdeny_and_reqideny_answer_403() {
    let s = start(
        "frontend fe\n  bind ${fe}\n  default_backend be\n\
         \x20 reqdeny ^GET\\ /admin\n\
         \x20 reqideny ^user-agent:.*evil\n\
         \x20 reqdeny ^X-Block if { src 127.0.0.1 }\n\
         \x20 reqdeny ^X-Never unless { src 127.0.0.1 }\n\
         backend be\n  server s1 ${s1}\n",
        &["s1"],
    );
    let deny = |req: String| raw_request(s.fe, req.as_bytes()).unwrap();
    assert_eq!(deny(get_req("/admin/x", "")).raw, HTTP_403);
    assert_eq!(deny(get_req("/", "USER-AGENT: Evil/1\r\n")).raw, HTTP_403);
    assert_eq!(deny(get_req("/", "X-Block: 1\r\n")).raw, HTTP_403);
    assert_eq!(deny(get_req("/", "X-Never: 1\r\n")).status, 200);
    assert_eq!(deny(get_req("/Admin", "User-Agent: fine\r\n")).status, 200);
}

#[test]
fn reqtarpit_holds_the_client_then_answers_500() {
    let s = start(
        "frontend fe\n  bind ${fe}\n  timeout tarpit 400ms\n  default_backend be\n\
         \x20 reqtarpit ^GET\\ /trap\n\
         \x20 reqitarpit ^x-bot: if { path_beg /b }\n\
         backend be\n  server s1 ${s1}\n",
        &["s1"],
    );
    for req in [get_req("/trap", ""), get_req("/b", "X-BOT: 1\r\n")] {
        let t0 = Instant::now();
        let r = raw_request(s.fe, req.as_bytes()).unwrap();
        let held = t0.elapsed();
        assert_eq!(r.raw, HTTP_500);
        assert!(
            held >= Duration::from_millis(380) && held < Duration::from_secs(4),
            "held {held:?}"
        );
    }
    let t0 = Instant::now();
    let r = raw_request(s.fe, get_req("/c", "X-Bot: 1\r\n").as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    assert!(t0.elapsed() < Duration::from_millis(380));
}

#[test]
fn tarpit_falls_back_to_the_connect_timeout() {
    let s = start(
        "listen li\n  bind ${fe}\n  timeout connect 300ms\n  reqtarpit .\n  server s1 ${s1}\n",
        &["s1"],
    );
    let t0 = Instant::now();
    let r = raw_request(s.fe, get_req("/", "").as_bytes()).unwrap();
    assert_eq!(r.raw, HTTP_500);
    let held = t0.elapsed();
    assert!(
        held >= Duration::from_millis(280) && held < Duration::from_secs(4),
        "held {held:?}"
    );
}

#[test]
fn reqsetbe_and_reqisetbe_switch_the_backend() {
    let s = start(
        "frontend fe\n  bind ${fe}\n  default_backend be1\n\
         \x20 reqisetbe ^host:\\ two\\. be2\n\
         \x20 reqsetbe ^GET\\ /three be3 if { hdr_cnt(x-go) 1 }\n\
         \x20 use_backend be1 if TRUE\n\
         backend be1\n  server s1 ${s1}\n\
         backend be2\n  server s2 ${s2}\n\
         backend be3\n  server s3 ${s3}\n  reqadd X-In:\\ be3\n",
        &["s1", "s2", "s3"],
    );
    let server = |req: &str| {
        raw_request(s.fe, req.as_bytes())
            .unwrap()
            .echo("server")
            .unwrap()
    };
    assert_eq!(
        server("GET / HTTP/1.1\r\nHOST: two.example\r\nConnection: close\r\n\r\n"),
        "s2"
    );
    assert_eq!(server(&get_req("/three", "X-Go: 1\r\n")), "s3");
    assert_eq!(server(&get_req("/three", "")), "s1");
    // The backend chosen by reqsetbe runs its own rules.
    let r = raw_request(s.fe, get_req("/three", "X-Go: 1\r\n").as_bytes()).unwrap();
    assert!(r.echoed_headers().contains(&"X-In: be3".to_string()));
}

// ------------------------------------------------------------------------------------------
// rsp* keywords (1.4 only)
// ------------------------------------------------------------------------------------------

#[test]
fn response_rewrites_backend_first_then_frontend() {
    let s = start(
        "frontend fe\n  bind ${fe}\n  default_backend be\n\
         \x20 rspadd X-Fe:\\ 1\n\
         \x20 rspadd X-Fe-If:\\ 1 if { status 404 }\n\
         \x20 rspidel ^set-cookie:\n\
         \x20 rsprep ^HTTP/1.1\\ 404\\ Not\\ Found HTTP/1.1\\ 404\\ Gone\\ Away\n\
         backend be\n  server s1 ${s1}\n\
         \x20 rspirep ^x-server:\\ (.*) X-Server:\\ <\\1>\n\
         \x20 rspadd X-Be:\\ 1 unless { status 404 }\n\
         \x20 rspdel ^X-Never\n\
         \x20 rsprep ^X-Fe:(.*) X-Not-Reached\n",
        &["s1"],
    );
    let r = raw_request(s.fe, get_req("/", "").as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Server"), Some("<s1>"));
    assert_eq!(r.header("X-Be"), Some("1"));
    assert_eq!(r.header("X-Fe"), Some("1"));
    assert_eq!(r.header("X-Fe-If"), None);
    assert!(r.headers_named("set-cookie").is_empty());
    let names: Vec<&str> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["X-Server", "Content-Length", "Connection", "X-Be", "X-Fe"]
    );
    let r = raw_request(s.fe, get_req("/status/404", "").as_bytes()).unwrap();
    assert!(
        r.raw
            .starts_with(b"HTTP/1.1 404 Gone Away\r\nX-Server: <s1>\r\n"),
        "{}",
        String::from_utf8_lossy(&r.raw)
    );
    assert_eq!(r.header("X-Fe-If"), Some("1"));
    assert_eq!(r.header("X-Be"), None);
}

#[test]
fn rspdeny_and_rspideny_answer_502() {
    let s = start(
        "frontend fe\n  bind ${fe}\n  default_backend be\n\
         \x20 rspideny ^x-server:\\ S2\n\
         backend be\n  balance uri\n  server s1 ${s1}\n  server s2 ${s2}\n\
         \x20 rspdeny ^HTTP/1.1\\ 500 if { path_beg /status/ }\n",
        &["s1", "s2"],
    );
    let mut seen_s1 = false;
    let mut seen_502 = false;
    for i in 0..8 {
        let r = raw_request(s.fe, get_req(&format!("/p{i}"), "").as_bytes()).unwrap();
        match r.status {
            200 => {
                seen_s1 = true;
                assert_eq!(r.echo("server").as_deref(), Some("s1"));
            }
            _ => {
                seen_502 = true;
                assert_eq!(r.raw, HTTP_502);
            }
        }
    }
    assert!(seen_s1 && seen_502, "balance uri spread /p0../p7 over both");
    // Status line rule: only 500s on /status/ are denied.
    for i in 0..6 {
        let r = raw_request(s.fe, get_req(&format!("/status/500?{i}"), "").as_bytes()).unwrap();
        assert_eq!(r.status, 502);
        assert_eq!(r.raw, HTTP_502);
    }
}

#[test]
fn checkcache_blocks_cacheable_responses_with_cookies() {
    let s = start(
        "frontend fe\n  bind ${fe}\n  default_backend be\n\
         \x20 use_backend private if { path_beg /private }\n\
         backend be\n  option checkcache\n  server s1 ${s1}\n\
         backend private\n  option checkcache\n  server s1 ${s1}\n\
         \x20 rspadd Cache-Control:\\ private\n",
        &["s1"],
    );
    // No 9ai9 cookie: the origin answers 200 with Set-Cookie and no Cache-Control.
    let r = raw_request(s.fe, get_req("/", "").as_bytes()).unwrap();
    assert_eq!(r.raw, HTTP_502);
    // With the session cookie there is no Set-Cookie; private or POST is not cacheable.
    let r = raw_request(s.fe, get_req("/", "Cookie: 9ai9=abc\r\n").as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    let r = raw_request(s.fe, get_req("/private", "").as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    let post = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    assert_eq!(raw_request(s.fe, post.as_bytes()).unwrap().status, 200);
    // 302 is not cacheable.
    let r = raw_request(s.fe, get_req("/status/302", "").as_bytes()).unwrap();
    assert_eq!(r.status, 302);
}

// ------------------------------------------------------------------------------------------
// block (1.4 only)
// ------------------------------------------------------------------------------------------

#[test]
fn block_if_and_unless() {
    let s = start(
        "frontend fe\n  bind ${fe}\n  default_backend be\n\
         \x20 acl admin path_beg /admin\n\
         \x20 acl local src 127.0.0.0/8\n\
         \x20 block if admin !local\n\
         \x20 block unless METH_GET or METH_POST\n\
         \x20 block if { hdr_cnt(x-bad) gt 0 }\n\
         backend be\n  server s1 ${s1}\n",
        &["s1"],
    );
    assert_eq!(
        raw_request(s.fe, get_req("/admin", "").as_bytes())
            .unwrap()
            .status,
        200
    );
    let put = "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    assert_eq!(raw_request(s.fe, put.as_bytes()).unwrap().raw, HTTP_403);
    assert_eq!(
        raw_request(s.fe, get_req("/", "X-Bad: 1\r\n").as_bytes())
            .unwrap()
            .raw,
        HTTP_403
    );
}

// ------------------------------------------------------------------------------------------
// redirect (compared with 2.6)
// ------------------------------------------------------------------------------------------

const REDIRECTS: &str = "frontend fe\n  bind ${fe}\n  default_backend be\n\
    \x20 redirect location http://elsewhere.example/x code 301 if { path /r301 }\n\
    \x20 redirect location /local if { path /r302 }\n\
    \x20 redirect location /see code 303 set-cookie SEEN=1 if { path /r303 }\n\
    \x20 redirect prefix https://secure.example code 307 if { path_beg /r307 }\n\
    \x20 redirect prefix /new code 308 drop-query if { path_beg /r308 }\n\
    \x20 redirect prefix / append-slash if { path_beg /dir }\n\
    \x20 redirect prefix /p drop-query append-slash clear-cookie OLD= if { path_beg /both }\n\
    \x20 redirect scheme https if { path_beg /tls }\n\
    \x20 redirect scheme https code 301 drop-query append-slash if { path_beg /sd }\n\
    backend be\n  server s1 ${s1}\n";

#[test]
fn redirect_bytes_are_1_4s() {
    let s = start(REDIRECTS, &["s1"]);
    let cases = [
        (
            "/r301",
            "HTTP/1.1 301 Moved Permanently\r\nContent-length: 0\r\nLocation: http://elsewhere.example/x\r\nConnection: close\r\n\r\n",
        ),
        (
            "/r302",
            "HTTP/1.1 302 Found\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: /local\r\nConnection: close\r\n\r\n",
        ),
        (
            "/r303",
            "HTTP/1.1 303 See Other\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: /see\r\nSet-Cookie: SEEN=1; path=/;\r\nConnection: close\r\n\r\n",
        ),
        (
            "/r307/a?b=c",
            "HTTP/1.1 307 Temporary Redirect\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: https://secure.example/r307/a?b=c\r\nConnection: close\r\n\r\n",
        ),
        (
            "/r308/a?b=c",
            "HTTP/1.1 308 Permanent Redirect\r\nContent-length: 0\r\nLocation: /new/r308/a\r\nConnection: close\r\n\r\n",
        ),
        (
            "/dir",
            "HTTP/1.1 302 Found\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: /dir/\r\nConnection: close\r\n\r\n",
        ),
        (
            "/both/x?q",
            "HTTP/1.1 302 Found\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: /p/both/x/\r\nSet-Cookie: OLD=; path=/; Max-Age=0;\r\nConnection: close\r\n\r\n",
        ),
        (
            "/tls/a?b",
            "HTTP/1.1 302 Found\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: https://test.example/tls/a?b\r\nConnection: close\r\n\r\n",
        ),
        (
            "/sd/a?b",
            "HTTP/1.1 301 Moved Permanently\r\nContent-length: 0\r\nLocation: https://test.example/sd/a/\r\nConnection: close\r\n\r\n",
        ),
    ];
    for (path, want) in cases {
        let r = raw_request(s.fe, get_req(path, "").as_bytes()).unwrap();
        assert_eq!(String::from_utf8_lossy(&r.raw), want, "{path}");
    }
}

#[test]
fn redirects_agree_with_haproxy_26() {
    let p = start_pair(REDIRECTS, &["s1"]);
    for path in [
        "/r301",
        "/r302",
        "/r303",
        "/r307/a?b=c",
        "/r308/a?b=c",
        "/dir",
        "/dir/",
        "/both/x?q",
        "/tls/a?b",
        "/sd/a?b",
        "/nothing",
    ] {
        let (a, b) = p.both(&get_req(path, ""));
        assert_eq!(a.status, b.status, "{path}");
        assert_eq!(a.header("location"), b.header("location"), "{path}");
        assert_eq!(
            a.header("cache-control"),
            b.header("cache-control"),
            "{path}"
        );
        if a.status == 200 {
            assert_eq!(received(&a), received(&b), "{path}");
        } else {
            // 2.6 writes the same cookie text (with the `path=/;` suffix).
            assert_eq!(a.header("set-cookie"), b.header("set-cookie"), "{path}");
        }
    }
}

#[test]
fn redirect_to_a_local_path_keeps_the_connection_in_server_close_mode() {
    let s = start(
        "frontend fe\n  bind ${fe}\n  option http-server-close\n  default_backend be\n\
         \x20 redirect prefix /new if { path_beg /old }\n\
         backend be\n  server s1 ${s1}\n",
        &["s1"],
    );
    let mut c = TcpStream::connect(s.fe).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"GET /old/a HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let r = read_response(&mut c, false).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&r.raw),
        "HTTP/1.1 302 Found\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: /new/old/a\r\n\r\n"
    );
    // Same connection, next request reaches the server.
    c.write_all(b"GET /new/old/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = read_response(&mut c, false).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.echo("uri").as_deref(), Some("/new/old/a"));
}

// ------------------------------------------------------------------------------------------
// http-request allow/deny/auth and userlists (compared with 2.6)
// ------------------------------------------------------------------------------------------

const AUTH: &str = "userlist users\n\
    \x20 group admins\n  group staff users carol\n\
    \x20 user admin insecure-password pw groups admins\n\
    \x20 user bob password $6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1\n\
    \x20 user carol password $1$ab$uCzd2IA9Rb.P73vs8WgwD1\n\
    frontend fe\n  bind ${fe}\n  default_backend be\n\
    \x20 acl authed http_auth(users)\n\
    \x20 acl admin http_auth_group(users) admins\n\
    \x20 acl staff http_auth_group(users) staff\n\
    \x20 http-request allow if { path_beg /public }\n\
    \x20 http-request deny if { path_beg /forbidden }\n\
    \x20 http-request auth realm Admin\\ Zone if { path_beg /admin } !admin\n\
    \x20 http-request auth if { path_beg /staff } !staff\n\
    \x20 http-request auth realm Members unless authed\n\
    backend be\n  server s1 ${s1}\n";

fn basic(creds: &str) -> String {
    // Tiny base64 encoder for test credentials.
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = creds.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let v = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &c)| acc | u32::from(c) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(v >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Authorization: Basic {out}\r\n")
}

#[test]
fn http_request_auth_bytes_are_1_4s() {
    let s = start(AUTH, &["s1"]);
    let r = raw_request(s.fe, get_req("/x", "").as_bytes()).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&r.raw),
        "HTTP/1.0 401 Unauthorized\r\nCache-Control: no-cache\r\nConnection: close\r\n\
         Content-Type: text/html\r\nWWW-Authenticate: Basic realm=\"Members\"\r\n\r\n\
         <html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"
    );
    // Default realm: the proxy name.
    let r = raw_request(s.fe, get_req("/staff", &basic("admin:pw")).as_bytes()).unwrap();
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some("Basic realm=\"fe\""),
        "{}",
        r.body_text()
    );
    let r = raw_request(s.fe, get_req("/forbidden", &basic("admin:pw")).as_bytes()).unwrap();
    assert_eq!(r.raw, HTTP_403);
}

#[test]
fn http_request_rules_and_userlists_agree_with_haproxy_26() {
    let p = start_pair(AUTH, &["s1"]);
    let cases: [(&str, String, u16); 14] = [
        ("/public", String::new(), 200),
        ("/forbidden", String::new(), 403),
        ("/forbidden", basic("admin:pw"), 403),
        ("/x", String::new(), 401),
        ("/x", basic("admin:pw"), 200),
        ("/x", basic("admin:wrong"), 401),
        ("/x", basic("bob:s3cret"), 200),
        ("/x", basic("bob:wrong"), 401),
        ("/x", basic("carol:s3cret"), 200),
        ("/admin", basic("bob:s3cret"), 401),
        ("/admin", basic("admin:pw"), 200),
        ("/staff", basic("carol:s3cret"), 200),
        ("/staff", basic("admin:pw"), 401),
        ("/x", "Authorization: Digest abc\r\n".to_string(), 401),
    ];
    for (path, extra, want) in cases {
        let (a, b) = p.both(&get_req(path, &extra));
        assert_eq!(a.status, want, "{path} {extra}");
        assert_eq!(b.status, want, "2.6: {path} {extra}");
        assert_eq!(
            a.header("www-authenticate"),
            b.header("www-authenticate"),
            "{path}"
        );
        if want == 200 {
            assert_eq!(received(&a), received(&b), "{path}");
            // The credentials go on to the server.
            assert_eq!(extra.is_empty(), a.echoed_headers().len() == 2);
        }
    }
}

#[test]
fn http_use_proxy_header_answers_407_to_proxy_requests() {
    let s = start(
        "userlist users\n  user u insecure-password p\n\
         frontend fe\n  bind ${fe}\n  option http-use-proxy-header\n  default_backend be\n\
         \x20 acl ok http_auth(users)\n  http-request auth realm Proxy unless ok\n\
         backend be\n  server s1 ${s1}\n",
        &["s1"],
    );
    let abs =
        "GET http://test.example/x HTTP/1.1\r\nHost: test.example\r\nConnection: close\r\n\r\n";
    let r = raw_request(s.fe, abs.as_bytes()).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&r.raw),
        "HTTP/1.0 407 Unauthorized\r\nCache-Control: no-cache\r\nConnection: close\r\n\
         Content-Type: text/html\r\nProxy-Authenticate: Basic realm=\"Proxy\"\r\n\r\n\
         <html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"
    );
    // A proxy request authenticates with Proxy-Authorization (dTpw = u:p).
    let ok = "GET http://test.example/x HTTP/1.1\r\nHost: test.example\r\n\
              Proxy-Authorization: Basic dTpw\r\nConnection: close\r\n\r\n";
    assert_eq!(raw_request(s.fe, ok.as_bytes()).unwrap().status, 200);
    let wrong_hdr = "GET http://test.example/x HTTP/1.1\r\nHost: test.example\r\n\
                     Authorization: Basic dTpw\r\nConnection: close\r\n\r\n";
    assert_eq!(raw_request(s.fe, wrong_hdr.as_bytes()).unwrap().status, 407);
    // Origin-form requests still get 401.
    let r = raw_request(s.fe, get_req("/x", "").as_bytes()).unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.header("WWW-Authenticate"), Some("Basic realm=\"Proxy\""));
}

// ------------------------------------------------------------------------------------------
// tcp-request content (compared with 2.6)
// ------------------------------------------------------------------------------------------

/// A TCP server answering `ECHO <bytes>` for every read, until the client closes.
struct EchoServer {
    addr: SocketAddr,
}

fn echo_server(tag: &'static str) -> EchoServer {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind echo");
    let addr = l.local_addr().expect("addr");
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            std::thread::spawn(move || {
                let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
                let mut buf = [0u8; 4096];
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut out = format!("{tag} ").into_bytes();
                    out.extend_from_slice(&buf[..n]);
                    if c.write_all(&out).is_err() {
                        break;
                    }
                }
            });
        }
    });
    EchoServer { addr }
}

/// Sends `parts` with `gap` between them and returns (reply bytes, time to the first byte
/// or to the close).
fn tcp_exchange(to: SocketAddr, parts: &[&[u8]], gap: Duration) -> (Vec<u8>, Duration) {
    let mut c = TcpStream::connect(to).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t0 = Instant::now();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(gap);
        }
        let _ = c.write_all(p);
    }
    let mut buf = [0u8; 4096];
    let (n, t) = match c.read(&mut buf) {
        Ok(n) => (n, t0.elapsed()),
        Err(_) => (0, t0.elapsed()),
    };
    (buf[..n].to_vec(), t)
}

/// A TLS record carrying the start of a ClientHello: record layer version 3.`record` (what
/// 1.4's `req_ssl_ver` reads) and client version 3.`hello` (what 2.6 reads instead).
fn tls_hello(record: u8, hello: u8) -> Vec<u8> {
    let mut v = vec![0x16, 3, record, 0, 20, 0x01, 0, 0, 16, 3, hello];
    v.extend_from_slice(&[0u8; 14]);
    v
}

fn tcp_cfg(e1: SocketAddr, e2: SocketAddr) -> String {
    format!(
        "frontend ssl\n  bind ${{fe}}\n  mode tcp\n  tcp-request inspect-delay 3s\n\
         \x20 tcp-request content accept if {{ req_ssl_ver 3.1 }}\n\
         \x20 tcp-request content reject\n\
         \x20 default_backend b1\n\
         backend b1\n  mode tcp\n  server e1 {e1}\n\
         backend b2\n  mode tcp\n  server e2 {e2}\n"
    )
}

#[test]
fn tcp_request_content_waits_for_the_ssl_hello() {
    let (e1, e2) = (echo_server("e1"), echo_server("e2"));
    let s = start(&tcp_cfg(e1.addr, e2.addr), &[]);
    let hello = tls_hello(1, 1);
    // The record arrives in two parts: the rules wait for all of it, then accept.
    let (reply, _) = tcp_exchange(
        s.fe,
        &[&hello[..7], &hello[7..]],
        Duration::from_millis(200),
    );
    assert!(reply.starts_with(b"e1 \x16\x03\x01"), "{reply:?}");
    // TLSv1.2 (3.3) is refused at once, without waiting for the delay.
    let (reply, t) = tcp_exchange(s.fe, &[&tls_hello(3, 3)], Duration::ZERO);
    assert!(reply.is_empty());
    assert!(t < Duration::from_secs(2), "{t:?}");
    // Plain text is not SSL: rejected.
    let (reply, _) = tcp_exchange(s.fe, &[b"GET / HTTP/1.0\r\n\r\n"], Duration::ZERO);
    assert!(reply.is_empty());
}

#[test]
fn tcp_request_content_req_len_wait_end_and_use_backend() {
    let (e1, e2) = (echo_server("e1"), echo_server("e2"));
    let s = start(
        &format!(
            "frontend fe\n  bind ${{fe}}\n  mode tcp\n  tcp-request inspect-delay 600ms\n\
             \x20 tcp-request content accept if {{ req_len ge 8 }}\n\
             \x20 tcp-request content reject if WAIT_END\n\
             \x20 use_backend b2 if {{ req_len gt 20 }}\n\
             \x20 default_backend b1\n\
             backend b1\n  mode tcp\n  server e1 {}\n\
             backend b2\n  mode tcp\n  server e2 {}\n",
            e1.addr, e2.addr
        ),
        &[],
    );
    let (reply, t) = tcp_exchange(s.fe, &[b"abc"], Duration::ZERO);
    assert!(reply.is_empty(), "{reply:?}");
    assert!(
        t >= Duration::from_millis(550) && t < Duration::from_secs(5),
        "rejected after {t:?}"
    );
    let (reply, t) = tcp_exchange(s.fe, &[b"abcdefghij"], Duration::ZERO);
    assert_eq!(reply, b"e1 abcdefghij");
    assert!(t < Duration::from_millis(550), "{t:?}");
    // The switching rules see the inspected bytes.
    let long = b"0123456789012345678901234";
    let (reply, _) = tcp_exchange(s.fe, &[long], Duration::ZERO);
    assert_eq!(reply, [&b"e2 "[..], &long[..]].concat());
}

#[test]
fn tcp_request_content_src_in_tcp_and_http_mode() {
    let e1 = echo_server("e1");
    let s = start(
        &format!(
            "frontend t\n  bind ${{fe}}\n  mode tcp\n\
             \x20 tcp-request content reject if {{ src 127.0.0.1 }}\n  default_backend b1\n\
             backend b1\n  mode tcp\n  server e1 {}\n",
            e1.addr
        ),
        &[],
    );
    let c = TcpStream::connect(s.fe).unwrap();
    assert!(closed_silently(c));
    let h = start(
        "frontend fe\n  bind ${fe}\n  default_backend be\n\
         \x20 tcp-request content reject unless { src 10.0.0.0/8 }\n\
         backend be\n  server s1 ${s1}\n",
        &["s1"],
    );
    let mut c = TcpStream::connect(h.fe).unwrap();
    let _ = c.write_all(get_req("/", "").as_bytes());
    assert!(closed_silently(c));
}

#[test]
fn tcp_request_content_in_http_mode_runs_before_parsing() {
    let s = start(
        "frontend fe\n  bind ${fe}\n  tcp-request inspect-delay 2s\n\
         \x20 tcp-request content reject if { req_ssl_ver gt 0 }\n\
         \x20 tcp-request content accept if HTTP\n\
         \x20 default_backend be\n\
         backend be\n  server s1 ${s1}\n",
        &["s1"],
    );
    // The request comes in two parts: the rules wait for a complete request line.
    let req = get_req("/split", "");
    let (a, b) = req.split_at(6);
    let mut c = TcpStream::connect(s.fe).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(a.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    c.write_all(b.as_bytes()).unwrap();
    let r = read_response(&mut c, false).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.echo("uri").as_deref(), Some("/split"));
    let mut c = TcpStream::connect(s.fe).unwrap();
    c.write_all(&tls_hello(1, 1)).unwrap();
    assert!(closed_silently(c));
}

#[test]
fn tcp_request_content_agrees_with_haproxy_26() {
    let (e1, e2) = (echo_server("e1"), echo_server("e2"));
    let p = start_pair(&tcp_cfg(e1.addr, e2.addr), &[]);
    let hello = tls_hello(1, 1);
    let inputs: [(&[u8], bool); 4] = [
        (&hello, true),
        (&tls_hello(0, 0), false),
        (&tls_hello(3, 3), false),
        (b"GET / HTTP/1.0\r\n\r\n", false),
    ];
    for (input, accepted) in inputs {
        let (a, _) = tcp_exchange(p.ours, &[input], Duration::ZERO);
        let (b, _) = tcp_exchange(p.theirs, &[input], Duration::ZERO);
        assert_eq!(a, b, "{input:?}");
        assert_eq!(!a.is_empty(), accepted, "{input:?}");
    }
    // A TLS 1.2 client announces 3.1 in the record and 3.3 in the hello: 1.4 reads the
    // record version (accept), 2.6 the hello version (reject). Documented 2.6 change.
    let modern = tls_hello(1, 3);
    let (a, _) = tcp_exchange(p.ours, &[&modern], Duration::ZERO);
    let (b, _) = tcp_exchange(p.theirs, &[&modern], Duration::ZERO);
    assert!(a.starts_with(b"e1 "), "{a:?}");
    assert!(b.is_empty(), "{b:?}");
}

// ------------------------------------------------------------------------------------------
// errorfile / errorloc (compared with 2.6)
// ------------------------------------------------------------------------------------------

const CUSTOM_503: &[u8] = b"HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body>custom maintenance page</body></html>\n";
const CUSTOM_403: &[u8] =
    b"HTTP/1.0 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nno entry\n";

fn errors_cfg(dead: u16) -> String {
    format!(
        "frontend fe\n  bind ${{fe}}\n  default_backend be\n\
         \x20 errorfile 403 ${{dir}}/403.http\n\
         \x20 http-request deny if {{ path_beg /deny }}\n\
         \x20 use_backend loc302 if {{ path_beg /l302 }}\n\
         \x20 use_backend loc303 if {{ path_beg /l303 }}\n\
         backend be\n  retries 0\n  errorfile 503 ${{dir}}/503.http\n\
         \x20 server dead 127.0.0.1:{dead}\n\
         backend loc302\n  retries 0\n  errorloc 503 http://status.example/down\n\
         \x20 server dead 127.0.0.1:{dead}\n\
         backend loc303\n  retries 0\n  errorloc303 503 /maintenance.html\n\
         \x20 server dead 127.0.0.1:{dead}\n"
    )
}

fn write_error_files(s: &Scratch) {
    std::fs::write(s.path("503.http"), CUSTOM_503).expect("503 file");
    std::fs::write(s.path("403.http"), CUSTOM_403).expect("403 file");
}

#[test]
fn errorfile_and_errorloc_bytes_are_1_4s() {
    // A port nothing listens on: connections are refused, 503 follows at once.
    let dead = free_port();
    let s = Scratch::new();
    write_error_files(&s);
    let fe = free_port();
    let cfg = format!("{GLOBAL}{DEFAULTS}{}", errors_cfg(dead))
        .replace("${fe}", &addr(fe).to_string())
        .replace("${dir}", &s.dir.path().display().to_string());
    let _p = start_haproxide(&s, &cfg, &[addr(fe)]);
    let r = raw_request(addr(fe), get_req("/", "").as_bytes()).unwrap();
    assert_eq!(r.raw, CUSTOM_503);
    let r = raw_request(addr(fe), get_req("/deny", "").as_bytes()).unwrap();
    assert_eq!(r.raw, CUSTOM_403);
    let r = raw_request(addr(fe), get_req("/l302", "").as_bytes()).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&r.raw),
        "HTTP/1.1 302 Found\r\nCache-Control: no-cache\r\nContent-length: 0\r\n\
         Location: http://status.example/down\r\n\r\n"
    );
    let r = raw_request(addr(fe), get_req("/l303", "").as_bytes()).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&r.raw),
        "HTTP/1.1 303 See Other\r\nCache-Control: no-cache\r\nContent-length: 0\r\n\
         Location: /maintenance.html\r\n\r\n"
    );
}

#[test]
fn errorfile_and_errorloc_agree_with_haproxy_26() {
    let dead = free_port();
    let p = start_pair_with(&errors_cfg(dead), &[], write_error_files);
    for path in ["/", "/deny", "/l302", "/l303"] {
        let (a, b) = p.both(&get_req(path, ""));
        assert_eq!(a.status, b.status, "{path}");
        assert_eq!(a.header("location"), b.header("location"), "{path}");
        assert_eq!(a.body, b.body, "{path}");
        assert_eq!(a.header("content-type"), b.header("content-type"), "{path}");
    }
}

// ------------------------------------------------------------------------------------------
// option accept-invalid-http-request
// ------------------------------------------------------------------------------------------

#[test]
fn accept_invalid_http_request_lets_bad_header_names_through() {
    let s = start(
        "frontend strict\n  bind ${fe}\n  default_backend be\n\
         backend be\n  server s1 ${s1}\n",
        &["s1"],
    );
    let bad = "GET / HTTP/1.1\r\nHost: x\r\nX@Odd: 1\r\nConnection: close\r\n\r\n";
    let r = raw_request(s.fe, bad.as_bytes()).unwrap();
    assert_eq!(r.raw, HTTP_400);
    // The same with the option: the request goes on (the rule removes the line so that the
    // demo origin, which is strict, accepts it).
    let l = start(
        "frontend fe\n  bind ${fe}\n  option accept-invalid-http-request\n\
         \x20 default_backend be\n  reqdel ^X@Odd\n\
         backend be\n  server s1 ${s1}\n",
        &["s1"],
    );
    let r = raw_request(l.fe, bad.as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.echoed_headers(),
        ["Host: x", "Connection: close"],
        "{}",
        r.body_text()
    );
}

// ------------------------------------------------------------------------------------------
// what the traffic log says about rule decisions
// ------------------------------------------------------------------------------------------

/// The next syslog message received on `rx` that contains `needle`.
fn log_line(rx: &std::net::UdpSocket, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(n) = rx.recv(&mut buf) {
            let line = String::from_utf8_lossy(&buf[..n]).into_owned();
            if line.contains(needle) {
                return line;
            }
        }
    }
    panic!("no log line containing {needle:?}");
}

/// Status and termination state fields of an httplog line: `... <status> <bytes> - - <term> ...`.
fn status_and_term(line: &str) -> (String, String) {
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words
        .iter()
        .position(|w| w.matches('/').count() == 4)
        .expect("timers field");
    (words[i + 1].to_string(), words[i + 5].to_string())
}

#[test]
fn rule_decisions_are_logged_as_1_4_logs_them() {
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").expect("syslog receiver");
    rx.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let log = rx.local_addr().unwrap();
    let s = start(
        &format!(
            "userlist users\n  user u insecure-password p\n\
             frontend fe\n  bind ${{fe}}\n  log {log} local0\n  option httplog\n\
             \x20 option http-use-proxy-header\n  timeout tarpit 100ms\n\
             \x20 tcp-request content reject if {{ dst_port 1 }}\n\
             \x20 http-request auth if {{ path_beg /auth }}\n\
             \x20 reqdeny ^GET\\ /deny\n  reqtarpit ^GET\\ /trap\n\
             \x20 use_backend loc if {{ path_beg /loc }}\n  default_backend be\n\
             backend be\n  server s1 ${{s1}}\n  rspdeny ^X-Server if {{ status 404 }}\n\
             backend loc\n  retries 0\n  errorloc 503 /down\n  server dead 127.0.0.1:1\n"
        ),
        &["s1"],
    );
    let cases = [
        ("/deny", "403", "PR--"),
        ("/trap", "500", "PT--"),
        ("/status/404", "502", "PH--"),
        // A 407 is logged as 401, as 1.4 does.
        ("http://h/auth", "401", "PR--"),
        // errorloc sends a 302 for the 503 it logs.
        ("/loc", "503", "SC--"),
        ("/ok", "200", "----"),
    ];
    for (path, status, term) in cases {
        let req = format!("GET {path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        let _ = raw_request(s.fe, req.as_bytes()).unwrap();
        let line = log_line(&rx, &format!("\"GET {path} HTTP/1.1\""));
        assert_eq!(
            status_and_term(&line),
            (status.to_string(), term.to_string()),
            "{line}"
        );
    }
}

#[test]
fn tcp_request_reject_in_http_mode_is_logged_pr() {
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").expect("syslog receiver");
    rx.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let log = rx.local_addr().unwrap();
    let s = start(
        &format!(
            "frontend fe\n  bind ${{fe}}\n  log {log} local0\n  option httplog\n\
             \x20 tcp-request inspect-delay 1s\n\
             \x20 tcp-request content reject if {{ req_len gt 3 }}\n  default_backend be\n\
             backend be\n  server s1 ${{s1}}\n"
        ),
        &["s1"],
    );
    let mut c = TcpStream::connect(s.fe).unwrap();
    c.write_all(get_req("/", "").as_bytes()).unwrap();
    assert!(closed_silently(c));
    // (The readiness probe of `start` also left a `CR` line; look for ours.)
    let line = log_line(&rx, " PR-- ");
    assert!(line.contains("\"<BADREQ>\""), "{line}");
    assert_eq!(
        status_and_term(&line),
        ("-1".to_string(), "PR--".to_string()),
        "{line}"
    );
}
