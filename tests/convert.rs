//! End-to-end tests of `haproxide --convert-to 2.6` (issue #12).
//!
//! 1. Loading: every corpus configuration HAProxy 1.4.25 accepts
//!    (`conformance/corpus/real-world/verdicts.json`, `haproxy14.exit == 0`), the reference
//!    configuration `examples/seed-1.4.cfg` and a configuration using every 1.4 keyword are
//!    converted, and Debian's HAProxy 2.6 (`/usr/sbin/haproxy -c`) must accept each result.
//! 2. Behaviour: the reference configuration (moved to loopback ports) and a handful of
//!    others run under haproxide as they are and under HAProxy 2.6 after conversion, against
//!    the same demo origins; the same requests must reach the same kind of server (routing),
//!    stay on one server where 1.4 keeps them there (cookie, source, appsession), see the
//!    same rewrites and get the same status codes.
//!
//! HAProxy 2.6 is installed by `scripts/install-deps.sh`; without it these tests fail with
//! that hint.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

fn haproxy26() -> PathBuf {
    haproxy26_bin().unwrap_or_else(|| {
        panic!("Debian's HAProxy 2.6 (/usr/sbin/haproxy) is missing: run scripts/install-deps.sh")
    })
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `haproxide --convert-to 2.6 -f <src> -o <out>` in `cwd`; returns (status, stderr).
fn convert(src: &Path, out: &Path, cwd: &Path) -> (i32, String) {
    let o = Command::new(haproxide_bin())
        .arg("--convert-to")
        .arg("2.6")
        .arg("-f")
        .arg(src)
        .arg("-o")
        .arg(out)
        .current_dir(cwd)
        .output()
        .expect("run haproxide --convert-to");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `haproxy -c -f <cfg>` (2.6) in `cwd`: (passed, output).
fn check26(cfg: &Path, cwd: &Path) -> (bool, String) {
    let (code, text) = check_config(&haproxy26(), cfg, Some(cwd));
    (code == 0, text)
}

// ---------------------------------------------------------------------------------------------
// 1. loading
// ---------------------------------------------------------------------------------------------

/// The corpus files 1.4.25 accepts, read from `verdicts.json`: a list of records, each with
/// a `"file"` key and, after it, its `"haproxy14"` verdict with an `"exit"` code. (A scan
/// for those keys is enough here and needs no JSON crate.)
fn accepted_corpus_files(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("verdicts.json")).expect("verdicts.json");
    let mut files = Vec::new();
    for rec in text.split("\"file\":").skip(1) {
        let Some(name) = rec
            .trim_start()
            .strip_prefix('"')
            .and_then(|r| r.split('"').next())
        else {
            continue;
        };
        let Some(h14) = rec.find("\"haproxy14\"") else {
            continue;
        };
        let exit = rec[h14..]
            .split("\"exit\":")
            .nth(1)
            .and_then(|s| s.trim_start().split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<i32>().ok());
        if exit == Some(0) {
            files.push(name.to_string());
        }
    }
    files
}

#[test]
fn corpus_conversions_load_in_haproxy_26() {
    let _ = haproxy26();
    let dir = repo().join("conformance/corpus/real-world");
    let files = accepted_corpus_files(&dir);
    assert_eq!(files.len(), 53, "1.4.25 accepts 53 corpus files");
    let scratch = Scratch::new();
    let mut failed = Vec::new();
    for f in &files {
        let out = scratch.path(&format!("{f}.26.cfg"));
        let (code, err) = convert(Path::new(f), &out, &dir);
        if code != 0 {
            failed.push(format!("{f}: conversion exited {code}\n{err}"));
            continue;
        }
        let (ok, text) = check26(&out, &dir);
        if !ok {
            failed.push(format!(
                "{f}: haproxy 2.6 -c refused the conversion\n{text}"
            ));
        }
    }
    let passed = files.len() - failed.len();
    println!(
        "corpus: {passed}/{} conversions pass HAProxy 2.6 -c",
        files.len()
    );
    assert!(
        failed.is_empty(),
        "{passed}/{} passed:\n{}",
        files.len(),
        failed.join("\n")
    );
}

#[test]
fn reference_config_converts_and_loads() {
    let scratch = Scratch::new();
    let out = scratch.path("seed-2.6.cfg");
    let (code, err) = convert(&repo().join("examples/seed-1.4.cfg"), &out, &repo());
    assert_eq!(code, 0, "{err}");
    // the Unicode spaces are reported while parsing, as by -c
    assert!(
        err.contains("[WARNING]") && err.contains("non-breaking"),
        "{err}"
    );
    let text = std::fs::read_to_string(&out).expect("output");
    assert!(!text.contains('\u{a0}'), "no NBSP left");
    for want in [
        "timeout connect 5s",
        "stats realm \"9ai9.net Qhappy\"",
        "stick-table type string len 64 size 100k expire 5h",
        "stick on req.cook(9ai9)",
        "stick store-response res.cook(9ai9)",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    // the commented-out line is still there, as a comment
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with('#') && l.contains("default_backend ai_server")),
        "{text}"
    );
    let (ok, t) = check26(&out, &repo());
    assert!(
        ok,
        "HAProxy 2.6 refused the reference conversion:\n{t}\n{text}"
    );
}

/// A 1.4 configuration using every keyword family the converter maps (files it reads are
/// written next to it).
const KITCHEN_SINK: &str = include_str!("convert/kitchen-sink.cfg");

#[test]
fn every_keyword_converts_and_loads() {
    let scratch = Scratch::new();
    scratch.write(
        "503.http",
        "HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/html\r\n\r\n<h1>down</h1>\n",
    );
    scratch.write("bad.http", "not an HTTP response\n");
    let src = scratch.write("ks.cfg", KITCHEN_SINK);
    let (code, _) = check_config(&haproxide_bin(), &src, Some(scratch.dir.path()));
    assert_eq!(code, 0, "the kitchen sink must be valid 1.4");
    let out = scratch.path("ks.26.cfg");
    let (code, err) = convert(&src, &out, scratch.dir.path());
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&out).expect("output");
    // what cannot be carried over is reported on stderr, as warnings naming the line
    for lost in [
        "'debug' dropped",
        "'grace 5s' dropped",
        "'reqpass' dropped",
        "prefix",
    ] {
        assert!(
            err.lines()
                .any(|l| l.starts_with("[WARNING]") && l.contains("parsing [") && l.contains(lost)),
            "no warning about {lost}:\n{err}"
        );
    }
    // no line of the source is silently lost
    assert!(
        !text.contains("not carried over: 1.4 ignores this line here"),
        "{text}"
    );
    let (ok, t) = check26(&out, scratch.dir.path());
    assert!(ok, "HAProxy 2.6 refused the conversion:\n{t}\n{text}");
}

#[test]
fn invalid_input_exits_1_and_stdout_output() {
    let scratch = Scratch::new();
    let bad = scratch.write("bad.cfg", "frontend f\n    bogus 1\n");
    let o = Command::new(haproxide_bin())
        .args(["--convert-to", "2.6", "-f"])
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("[ALERT]") && err.contains("unknown keyword 'bogus'"),
        "{err}"
    );
    assert!(o.stdout.is_empty());

    let good = scratch.write("good.cfg", "listen l 127.0.0.1:1\n    contimeout 5000\n");
    let o = Command::new(haproxide_bin())
        .args(["--convert-to", "2.6", "-f"])
        .arg(&good)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("listen l\n    bind 127.0.0.1:1\n"), "{out}");
    assert!(out.contains("\n    timeout connect 5s\n"), "{out}");
    // 2.6 derives queue and tarpit from connect by itself, as 1.4 did
    assert!(!out.contains("timeout queue"), "{out}");

    let o = Command::new(haproxide_bin())
        .args(["--convert-to", "3.0", "-f"])
        .arg(&good)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1), "only 2.6 is a target");
}

// ---------------------------------------------------------------------------------------------
// 2. behaviour
// ---------------------------------------------------------------------------------------------

/// A configuration moved to loopback: frontends on fresh ports, servers on the demo origins.
struct Local {
    text: String,
    /// Section name -> its first listening address.
    listeners: Vec<(String, SocketAddr)>,
}

impl Local {
    fn addr(&self, section: &str) -> SocketAddr {
        self.listeners
            .iter()
            .find(|(n, _)| n == section)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no listener for {section}"))
    }
}

/// Moves a configuration to loopback (test setup only; the conversion itself never edits
/// text): keeps `maxconn` of `global` only (no user, chroot, daemon, log...), puts each
/// listening address on a free port, each server on the next origin of its section, and
/// makes `errorfile` paths absolute (relative to `base`).
fn localize(src: &str, origins: &Origins, base: &Path) -> Local {
    let mut out = String::new();
    let mut listeners = Vec::new();
    let mut section = String::new();
    let mut kind = String::new();
    let mut srv = 0usize;
    for raw in src.lines() {
        let line = raw.replace('\u{a0}', " ");
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(&w0) = words.first() else {
            out.push_str(&line);
            out.push('\n');
            continue;
        };
        if w0.starts_with('#') {
            out.push_str(&line);
            out.push('\n');
            continue;
        }
        match w0 {
            "global" | "defaults" | "frontend" | "backend" | "listen" | "userlist" => {
                kind = w0.to_string();
                section = words.get(1).unwrap_or(&"").to_string();
                srv = 0;
                if (w0 == "listen" || w0 == "frontend") && words.len() > 2 {
                    let a = SocketAddr::from(([127, 0, 0, 1], free_port()));
                    listeners.push((section.clone(), a));
                    out.push_str(&format!("{w0} {section} {a}\n"));
                } else {
                    out.push_str(&line);
                    out.push('\n');
                }
                continue;
            }
            _ => {}
        }
        if kind == "global" {
            if w0 == "maxconn" {
                out.push_str(&line);
                out.push('\n');
            }
            continue;
        }
        match w0 {
            "bind" => {
                let a = SocketAddr::from(([127, 0, 0, 1], free_port()));
                listeners.push((section.clone(), a));
                out.push_str(&format!("    bind {a}\n"));
            }
            "server" => {
                let a = origins.addrs[srv % origins.addrs.len()];
                srv += 1;
                let rest = words.get(3..).unwrap_or_default().join(" ");
                out.push_str(&format!("    server {} {a} {rest}\n", words[1]));
            }
            "errorfile" if words.len() == 3 => {
                out.push_str(&format!(
                    "    errorfile {} {}\n",
                    words[1],
                    base.join(words[2]).display()
                ));
            }
            "log" if words.get(1) != Some(&"global") => {}
            _ => {
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    Local {
        text: out,
        listeners,
    }
}

/// The same 1.4 configuration under haproxide, and converted under HAProxy 2.6.
struct Duo {
    _scratch: Scratch,
    _ours: Proc,
    _theirs: Proc,
    ours: Local,
    theirs: Local,
    origins: Origins,
    converted: String,
}

fn start_duo(src: &str, base: &Path, origin_names: &[&str]) -> Duo {
    let h26 = haproxy26();
    let origins = start_origins(origin_names);
    let scratch = Scratch::new();
    let ours = localize(src, &origins, base);
    let theirs = localize(src, &origins, base);
    let orig26 = scratch.write("for26.cfg", &theirs.text);
    let conv = scratch.path("converted.cfg");
    let (code, err) = convert(&orig26, &conv, scratch.dir.path());
    assert_eq!(code, 0, "conversion failed: {err}");
    let converted = std::fs::read_to_string(&conv).expect("converted");
    let a: Vec<SocketAddr> = ours.listeners.iter().map(|(_, a)| *a).collect();
    let b: Vec<SocketAddr> = theirs.listeners.iter().map(|(_, a)| *a).collect();
    let p1 = start_haproxide(&scratch, &ours.text, &a);
    let p2 = start_proxy(&h26, &scratch, "haproxy26", &converted, &b);
    Duo {
        _scratch: scratch,
        _ours: p1,
        _theirs: p2,
        ours,
        theirs,
        origins,
        converted,
    }
}

/// Which origin answered (the demo origins name themselves in `X-Server`).
fn server_of(r: &Response) -> String {
    r.header("x-server").unwrap_or("-").to_string()
}

fn request(
    addr: SocketAddr,
    host: &str,
    path: &str,
    cookie: Option<&str>,
    auth: Option<&str>,
) -> Response {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: convert-test\r\n");
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: {c}\r\n"));
    }
    if let Some(a) = auth {
        req.push_str(&format!("Authorization: Basic {a}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    raw_request(addr, req.as_bytes()).unwrap_or_else(|e| panic!("request to {addr}: {e}"))
}

/// Ten requests with a browser-like cookie jar: the servers that answered and the statuses.
fn session(addr: SocketAddr, host: &str, path: &str) -> (Vec<String>, Vec<u16>) {
    let mut jar = Jar::default();
    let mut servers = Vec::new();
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let r = request(addr, host, path, jar.header().as_deref(), None);
        jar.absorb(&r);
        servers.push(server_of(&r));
        statuses.push(r.status);
    }
    (servers, statuses)
}

fn distinct(v: &[String]) -> BTreeSet<String> {
    v.iter().cloned().collect()
}

/// `base64("qhappy:qhappy")`.
const QHAPPY: &str = "cWhhcHB5OnFoYXBweQ==";

#[test]
fn reference_config_behaves_the_same_under_2_6() {
    let src = std::fs::read_to_string(repo().join("examples/seed-1.4.cfg")).expect("seed");
    let duo = start_duo(&src, &repo(), &["o1", "o2"]);
    let mut report = Vec::new();
    for (name, local) in [("haproxide", &duo.ours), ("haproxy-2.6", &duo.theirs)] {
        let web = local.addr("WEB_SITE");
        // cookie insert: one server for the whole session
        let (s, st) = session(web, "cookie.9ai9.net", "/");
        assert!(st.iter().all(|&c| c == 200), "{name} cookie: {st:?}");
        assert_eq!(
            distinct(&s).len(),
            1,
            "{name}: cookie persistence broke: {s:?}"
        );
        // balance source: one server for one client address
        let (s, _) = session(web, "sourceip.9ai9.net", "/");
        assert_eq!(distinct(&s).len(), 1, "{name}: source hashing moved: {s:?}");
        // appsession: the server's 9ai9 session cookie pins the session
        let (s, st) = session(web, "appsession.9ai9.net", "/");
        assert!(st.iter().all(|&c| c == 200));
        assert_eq!(distinct(&s).len(), 1, "{name}: appsession broke: {s:?}");
        // ... and the session id in a path parameter does too
        let first = request(web, "appsession.9ai9.net", "/", None, None);
        let sid = first.echo("session").expect("session id");
        let owner = server_of(&first);
        for _ in 0..10 {
            let r = request(
                web,
                "appsession.9ai9.net",
                &format!("/page;9ai9={sid}"),
                None,
                None,
            );
            assert_eq!(server_of(&r), owner, "{name}: appsession by URL");
        }
        // no persistence: round robin over both servers
        let (s, _) = session(web, "nosession.9ai9.net", "/");
        assert_eq!(distinct(&s).len(), 2, "{name}: round robin: {s:?}");
        assert!(
            s.windows(2).all(|w| w[0] != w[1]),
            "{name}: alternates: {s:?}"
        );
        // unknown host: no default backend
        let r = request(web, "other.example", "/", None, None);
        let unknown = r.status;
        // stats with and without credentials, monitor-uri
        let stats = local.addr("admin_stats");
        let denied = request(stats, "x", "/qhappy_stats", None, None).status;
        let allowed = request(stats, "x", "/qhappy_stats", None, Some(QHAPPY)).status;
        let monitor = request(local.addr("site_status"), "x", "/site_status", None, None).status;
        report.push((name, unknown, denied, allowed, monitor));
    }
    println!("reference config (unknown host, stats, stats+auth, monitor-uri): {report:?}");
    assert_eq!(
        (report[0].1, report[0].2, report[0].3, report[0].4),
        (503, 401, 200, 200)
    );
    assert_eq!(
        (report[1].1, report[1].2, report[1].3, report[1].4),
        (503, 401, 200, 200)
    );
    let _ = &duo.origins;
}

/// What the origin saw, comparable across versions: URI and the header lines (names in
/// lower case, no `Connection`, sorted is not needed: both keep the order).
fn seen(r: &Response) -> (Option<String>, Vec<String>) {
    let hdrs = r
        .echoed_headers()
        .into_iter()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| match l.split_once(':') {
            Some((n, v)) => format!("{}:{v}", n.to_ascii_lowercase()),
            None => l,
        })
        .collect();
    (r.echo("uri"), hdrs)
}

/// Rewrites and access control: the same request through both must reach the origin in the
/// same state and come back the same.
const REWRITES: &str = "\
global
    maxconn 100
defaults
    mode http
    contimeout 2000
    clitimeout 5000
    srvtimeout 5000
    option http-server-close
frontend fe 127.0.0.1:1
    acl api path_beg /api
    acl local src 127.0.0.1
    block if { path_beg /blocked }
    http-request allow if local
    reqadd X-Added:\\ yes
    reqadd X-Tricky:\\ it's\\ \"q\"\\ \\#1\\ $HOME\\ 50%
    reqirep ^Host:\\ old.example Host:\\ new.example
    reqrep ^([^\\ ]*)\\ /old/(.*) \\1\\ /new/\\2
    reqidel ^X-Secret:
    reqideny ^GET\\ /denied
    reqdeny ^X-Evil:
    rspadd X-Resp:\\ added
    rsprep ^X-Server:\\ (.*) X-Server:\\ via-\\1
    redirect location /login if { path /private }
    use_backend api if api
    default_backend web
backend web
    server w1 127.0.0.1:1
backend api
    balance roundrobin
    appsession 9ai9 len 32 timeout 1h mode query-string
    server a1 127.0.0.1:1
    server a2 127.0.0.1:1
listen st 127.0.0.1:1
    stats enable
    stats uri /st
    stats realm L'broker\\ stats
    stats auth a:b
";

#[test]
fn rewrites_and_access_rules_behave_the_same_under_2_6() {
    let duo = start_duo(REWRITES, &repo(), &["o1", "o2", "o3"]);
    assert!(
        duo.converted.contains("http-request replace-uri"),
        "{}",
        duo.converted
    );
    let cases: &[(&str, &str, &str)] = &[
        (
            "GET",
            "/old/page?x=1",
            "Host: old.example\r\nX-Secret: s\r\nx-secret: t\r\n",
        ),
        ("GET", "/plain", "Host: new.example\r\n"),
        ("GET", "/blocked/x", "Host: a\r\n"),
        ("GET", "/denied", "Host: a\r\n"),
        ("POST", "/denied", "Host: a\r\nContent-Length: 0\r\n"),
        ("GET", "/x", "Host: a\r\nX-Evil: 1\r\n"),
        ("GET", "/private", "Host: a\r\n"),
    ];
    let mut rows = Vec::new();
    for (m, p, h) in cases {
        let req = format!("{m} {p} HTTP/1.1\r\n{h}Connection: close\r\n\r\n");
        let a = raw_request(duo.ours.addr("fe"), req.as_bytes()).expect("haproxide");
        let b = raw_request(duo.theirs.addr("fe"), req.as_bytes()).expect("haproxy 2.6");
        assert_eq!(a.status, b.status, "{m} {p}: status");
        assert_eq!(seen(&a), seen(&b), "{m} {p}: what the origin saw");
        assert_eq!(a.header("x-resp"), b.header("x-resp"), "{m} {p}: rspadd");
        assert_eq!(
            a.header("x-server"),
            b.header("x-server"),
            "{m} {p}: rsprep"
        );
        assert_eq!(
            a.header("location"),
            b.header("location"),
            "{m} {p}: redirect"
        );
        rows.push(format!("{m} {p} -> {}", a.status));
    }
    println!("rewrites: {rows:?}");
    // a value with quotes, a hash, a dollar and a percent reaches the origin unchanged
    let r = request(duo.theirs.addr("fe"), "a", "/plain", None, None);
    assert!(
        seen(&r)
            .1
            .contains(&"x-tricky: it's \"q\" #1 $HOME 50%".to_string()),
        "{:?}",
        seen(&r)
    );
    // the realm with a quote and a space is the same in the 401
    let a = request(duo.ours.addr("st"), "a", "/st", None, None);
    let b = request(duo.theirs.addr("st"), "a", "/st", None, None);
    assert_eq!((a.status, b.status), (401, 401));
    assert_eq!(
        a.header("www-authenticate"),
        Some("Basic realm=\"L'broker stats\"")
    );
    assert_eq!(a.header("www-authenticate"), b.header("www-authenticate"));
    // appsession in query-string mode: the id in the URL keeps the server
    for addr in [duo.ours.addr("fe"), duo.theirs.addr("fe")] {
        let first = request(addr, "a", "/api/x", None, None);
        let sid = first.echo("session").expect("session");
        let owner = server_of(&first);
        for _ in 0..10 {
            let r = request(addr, "a", &format!("/api/x?9ai9={sid}"), None, None);
            assert_eq!(server_of(&r), owner, "appsession query-string");
        }
    }
}

/// Corpus configurations with rewriting rules, under both versions.
#[test]
fn corpus_samples_behave_the_same_under_2_6() {
    let dir = repo().join("conformance/corpus/real-world");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect("corpus file");

    // path prefix stripped per backend, cookie insert, Location rewritten back
    let duo = start_duo(
        &read("CamilleTh__chef-repo__cookbooks_haproxy_templates_default_haproxy.cfg.erb.cfg"),
        &dir,
        &["o1", "o2"],
    );
    for (path, uri) in [("/shop/prod/cart", "/cart"), ("/shop/staging/a/b", "/a/b")] {
        for (name, local) in [("haproxide", &duo.ours), ("haproxy-2.6", &duo.theirs)] {
            let (s, st) = session(local.addr("HAProxy"), "shop", path);
            assert!(st.iter().all(|&c| c == 200), "{name} {path}: {st:?}");
            assert_eq!(
                distinct(&s).len(),
                1,
                "{name} {path}: cookie persistence: {s:?}"
            );
            let r = request(local.addr("HAProxy"), "shop", path, None, None);
            assert_eq!(r.echo("uri").as_deref(), Some(uri), "{name}");
        }
    }
    drop(duo);

    // prefix rewrites chosen by use_backend
    let duo = start_duo(
        &read("glickbot__riak-banana__files_haproxy.cfg"),
        &dir,
        &["o1"],
    );
    for (path, uri) in [
        ("/search/x?q=1", "/internal_solr/x?q=1"),
        ("/search/query/y", "/search/query/y"),
        ("/index.html", "/internal_solr/banana/src/index.html"),
        ("/internal_solr/z", "/internal_solr/z"),
    ] {
        let a = request(duo.ours.addr("fe"), "h", path, None, None);
        let b = request(duo.theirs.addr("fe"), "h", path, None, None);
        assert_eq!(
            (a.status, a.echo("uri").as_deref()),
            (200, Some(uri)),
            "{path}"
        );
        assert_eq!(
            (b.status, b.echo("uri").as_deref()),
            (200, Some(uri)),
            "{path} (2.6)"
        );
    }
    drop(duo);

    // Host deleted and added again
    let duo = start_duo(
        &read("tobybatch__chef-drupal__templates_default_haproxy.cfg.erb.cfg"),
        &dir,
        &["o1"],
    );
    let a = request(duo.ours.addr("http-in"), "client.example", "/", None, None);
    let b = request(
        duo.theirs.addr("http-in"),
        "client.example",
        "/",
        None,
        None,
    );
    assert_eq!(a.status, b.status);
    let host = |r: &Response| {
        seen(r)
            .1
            .into_iter()
            .filter(|h| h.starts_with("host:"))
            .collect::<Vec<_>>()
    };
    assert_eq!(host(&a), ["host: api.example.org"]);
    assert_eq!(host(&a), host(&b));
    drop(duo);

    // Host rewritten in one backend, routing on the Host header
    let duo = start_duo(
        &read("bryanwb__chef-haproxy__templates_default_haproxy-vhost_lb.cfg.erb.cfg"),
        &dir,
        &["o1", "o2", "o3"],
    );
    let mut spread = Vec::new();
    for (name, local) in [("haproxide", &duo.ours), ("haproxy-2.6", &duo.theirs)] {
        let fe = local.addr("webserver");
        let r = request(fe, "shop.example.com", "/", None, None);
        assert_eq!(host(&r), ["host: www.example.com"], "{name}");
        // `cookie SRV insert` but no server has a cookie value: nothing sticks, in 1.4 as in
        // 2.6, and the requests alternate
        let (s, _) = session(fe, "shop.example.com", "/");
        spread.push(distinct(&s).len());
        let r = request(fe, "blog.example.com", "/", None, None);
        assert_eq!(host(&r), ["host: blog.example.com"], "{name}");
        let r = request(fe, "other.example.com", "/", None, None);
        assert_eq!(r.status, 503, "{name}: no backend");
    }
    assert_eq!(spread, [2, 2], "same spread over the shop servers");
}
