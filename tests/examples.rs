//! The example configurations in `examples/`: together they use every keyword the parser
//! knows; each one passes `haproxide -c`; the ones that can run unprivileged are started in
//! the foreground on free loopback ports (demo origins standing in for their servers) and
//! answer the probes listed for them; and Debian's HAProxy 2.6 verdict is recorded for each,
//! with agreement required wherever 2.6 accepts the file.
//!
//! Port convention of the examples: listeners on 127.0.0.1:18xxx, servers on
//! 127.0.0.1:19xxx. Before a smoke run every 18xxx number is replaced by a free port and
//! every 19xxx number by the port of a demo origin named `o19xxx` (so the echo page tells
//! which server answered), and `/tmp/haproxide-` paths are moved into a scratch directory.

mod common;

use common::*;
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `examples/*.cfg`, sorted by name.
fn example_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("examples"))
        .expect("read examples/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cfg"))
        .collect();
    v.sort();
    v
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Keyword rows no valid configuration can use, with the reason.
const UNUSABLE: &[(&str, &str)] = &[(
    "stick store-response",
    "1.4.25 has no response-side pattern fetch, so it refuses every 'stick store-response' \
     line in a proxy that could use it",
)];

#[test]
fn examples_use_every_keyword() {
    let all: BTreeSet<parser::KeywordInfo> = parser::keywords().collect();
    let mut used = BTreeSet::new();
    // the same without the two files this test does not own (seed-1.4, demo)
    let mut used_by_new = BTreeSet::new();
    let mut per_file = Vec::new();
    for f in example_files() {
        let text = std::fs::read(&f).expect("read example");
        let u = parser::used_keywords(&text);
        per_file.push((stem(&f), u.len()));
        if !matches!(stem(&f).as_str(), "seed-1.4" | "demo") {
            used_by_new.extend(u.iter().copied());
        }
        used.extend(u);
    }
    let missing: Vec<String> = all
        .difference(&used)
        .filter(|k| !UNUSABLE.iter().any(|(n, _)| *n == k.name))
        .map(|k| format!("  {} ({})", k.name, k.sections))
        .collect();
    println!("keyword rows used by each example:");
    for (name, n) in &per_file {
        println!("  {name:32} {n}");
    }
    println!(
        "coverage: {} of {} keyword rows ({} unusable: {})",
        used.len(),
        all.len(),
        UNUSABLE.len(),
        UNUSABLE
            .iter()
            .map(|(n, why)| format!("{n}: {why}"))
            .collect::<Vec<_>>()
            .join("; ")
    );
    assert!(
        missing.is_empty(),
        "{} keyword rows are used by no example:\n{}",
        missing.len(),
        missing.join("\n")
    );
    let only_old: Vec<String> = used
        .difference(&used_by_new)
        .map(|k| format!("  {} ({})", k.name, k.sections))
        .collect();
    assert!(
        only_old.is_empty(),
        "used only by seed-1.4.cfg or demo.cfg, not by the examples written for this test:\n{}",
        only_old.join("\n")
    );
    for (n, _) in UNUSABLE {
        assert!(
            all.iter().any(|k| k.name == *n),
            "{n} is no longer a keyword row; drop it from UNUSABLE"
        );
    }
}

// ---------------------------------------------------------------------------------------
// `-c`
// ---------------------------------------------------------------------------------------

#[test]
fn every_example_passes_check_mode() {
    let mut failed = Vec::new();
    for f in example_files() {
        let (code, out) = check_config(&haproxide_bin(), &f, Some(&repo()));
        let warnings = out.matches("[WARNING]").count();
        println!("{:32} exit {code}, {warnings} warning(s)", stem(&f));
        if code != 0 {
            failed.push(format!("{}:\n{out}", f.display()));
        }
    }
    assert!(
        failed.is_empty(),
        "haproxide -c refused:\n{}",
        failed.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Smoke runs
// ---------------------------------------------------------------------------------------

/// How an example is exercised beyond `-c`.
enum Plan {
    /// Started in the foreground; every probe must succeed.
    Run(&'static [Probe]),
    /// Only checked with `-c`, for the reason given.
    CheckOnly(&'static str),
}

/// One exchange with a listener of a running example.
struct Probe {
    /// The listener port as written in the example (18xxx).
    port: u16,
    /// Bytes sent; `{19xxx}` is replaced by the port standing in for that server port.
    send: &'static str,
    expect: Expect,
}

enum Expect {
    /// An HTTP response with this status whose raw bytes contain every `has` string and
    /// none of the `lacks` strings.
    Http {
        status: u16,
        has: &'static [&'static str],
        lacks: &'static [&'static str],
    },
    /// The connection is accepted (TCP-mode listeners with nothing to say first).
    Accepts,
    /// The proxy closes the connection without sending a byte (a TCP content reject).
    Closed,
    /// Everything read until the proxy closes contains this text.
    Raw(&'static str),
}

const GET: &str = "GET / HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: haproxide-test\r\n\
                   Connection: close\r\n\r\n";

const fn http(port: u16, send: &'static str, status: u16, has: &'static [&'static str]) -> Probe {
    Probe {
        port,
        send,
        expect: Expect::Http {
            status,
            has,
            lacks: &[],
        },
    }
}

const fn accepts(port: u16) -> Probe {
    Probe {
        port,
        send: "",
        expect: Expect::Accepts,
    }
}

/// Every example and what its test does with it.
const PLANS: &[(&str, Plan)] = &[
    (
        "seed-1.4",
        Plan::CheckOnly("the verbatim reference: non-loopback addresses and fixed ports"),
    ),
    (
        "demo",
        Plan::CheckOnly(
            "run by `make demo` and tests/experiment.rs on its own fixed ports 8080-8082",
        ),
    ),
    (
        "web-cookie-insert",
        Plan::Run(&[http(18000, GET, 200, &["Set-Cookie: SERVERID=", "server=o1900"])]),
    ),
    (
        "cookie-prefix-rewrite",
        Plan::Run(&[
            http(18020, GET, 200, &["server=o1902"]),
            http(18021, GET, 200, &["server=o1902"]),
            // postonly: no cookie for a GET, one for a POST
            Probe {
                port: 18022,
                send: GET,
                expect: Expect::Http {
                    status: 200,
                    has: &["server=o1902"],
                    lacks: &["SECSRV"],
                },
            },
            http(
                18022,
                "POST /login HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 0\r\n\
                 Connection: close\r\n\r\n",
                200,
                &["Set-Cookie: SECSRV=x", "HttpOnly; Secure"],
            ),
        ]),
    ),
    (
        "appsession-jsessionid",
        Plan::Run(&[
            http(18040, GET, 200, &["server=o1904"]),
            http(
                18040,
                "GET /servlet/Report?JSESSIONID=abc HTTP/1.0\r\n\r\n",
                200,
                &["uri=/servlet/Report?JSESSIONID=abc"],
            ),
        ]),
    ),
    (
        "mysql-tcp-failover",
        Plan::Run(&[accepts(18060), accepts(18061)]),
    ),
    (
        "rewrite-legacy-app",
        Plan::Run(&[
            http(
                18080,
                "GET /shop/item?id=4 HTTP/1.1\r\nHost: shop.example.com\r\n\
                 Cookie: 9ai9=abc\r\nConnection: close\r\n\r\n",
                200,
                &[
                    "server=o1908",
                    "uri=/oldapp/item?id=4",
                    "> Host: appsrv01:8080",
                    "> X-Forwarded-Proto: http",
                    "X-Frame-Options: SAMEORIGIN",
                ],
            ),
            http(
                18080,
                "GET /shop/images/logo.gif HTTP/1.0\r\n\r\n",
                200,
                &["server=o19082"],
            ),
            http(18080, "GET /shop/admin/ HTTP/1.0\r\n\r\n", 403, &[]),
            // checkcache: a cacheable answer that sets a cookie (a new session) is refused
            http(18080, "GET /shop/ HTTP/1.0\r\n\r\n", 502, &[]),
        ]),
    ),
    (
        "ssl-passthrough-rdp",
        Plan::Run(&[
            // plain HTTP sent to the SSL port is rejected by the content rules
            Probe {
                port: 18100,
                send: GET,
                expect: Expect::Closed,
            },
            accepts(18101),
        ]),
    ),
    (
        "stats-admin",
        Plan::Run(&[
            http(18120, "GET /haproxy?stats HTTP/1.0\r\n\r\n", 401, &["Paris LB statistics"]),
            http(
                18120,
                "GET /haproxy?stats;csv HTTP/1.0\r\nAuthorization: Basic b3BzOnMzY3IzdA==\r\n\r\n",
                200,
                &["# pxname,svname,", "app,app1,"],
            ),
            http(18121, "GET /status;csv HTTP/1.0\r\n\r\n", 200, &["app,BACKEND,"]),
        ]),
    ),
    (
        "acl-routing-vhosts",
        Plan::Run(&[
            http(
                18140,
                "GET /x HTTP/1.1\r\nHost: static.example.com\r\nConnection: close\r\n\r\n",
                200,
                &["server=o19142"],
            ),
            http(
                18141,
                "GET / HTTP/1.1\r\nHost: news.blog.example.com\r\nConnection: close\r\n\r\n",
                200,
                &["server=o19145"],
            ),
            http(
                18141,
                "GET /cgi-bin/counter HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n",
                200,
                &["server=o19146"],
            ),
            http(
                18140,
                "GET / HTTP/1.1\r\nHost: 10.1.2.3\r\nConnection: close\r\n\r\n",
                403,
                &[],
            ),
        ]),
    ),
    (
        "tarpit-abuse",
        Plan::Run(&[http(18160, GET, 200, &["server=o1916"])]),
    ),
    (
        "userlist-auth",
        Plan::Run(&[
            http(
                18180,
                "GET /jenkins/ HTTP/1.0\r\n\r\n",
                401,
                &["WWW-Authenticate: Basic realm=\"Tools\""],
            ),
            // bob:bob123 (insecure-password, group dev)
            http(
                18180,
                "GET /jenkins/ HTTP/1.0\r\nAuthorization: Basic Ym9iOmJvYjEyMw==\r\n\r\n",
                200,
                &["server=o19180"],
            ),
            // alice:alice (SHA-512 crypt, group ops)
            http(
                18180,
                "GET /admin/ HTTP/1.0\r\nAuthorization: Basic YWxpY2U6YWxpY2U=\r\n\r\n",
                200,
                &["server=o19181"],
            ),
            // dave:dave (MD5 crypt) is a valid user but not in ops
            http(
                18180,
                "GET /admin/ HTTP/1.0\r\nAuthorization: Basic ZGF2ZTpkYXZl\r\n\r\n",
                401,
                &["realm=\"Ops only\""],
            ),
        ]),
    ),
    (
        "stick-table-source",
        Plan::Run(&[
            http(18200, GET, 200, &["server=o1920"]),
            http(18200, "GET /ws/chat HTTP/1.0\r\n\r\n", 200, &["server=o1920"]),
        ]),
    ),
    (
        "health-checks-all-kinds",
        Plan::Run(&[
            http(18220, GET, 200, &["server=o1922"]),
            accepts(18221),
            accepts(18222),
        ]),
    ),
    (
        "errorfiles",
        Plan::Run(&[
            // the maintenance backend has no server: our own 503 page
            http(18240, GET, 503, &["Example Corp.", "down for maintenance"]),
            http(18240, "GET /lb-alive HTTP/1.0\r\n\r\n", 200, &["lb1: alive"]),
            http(18240, "GET /private/x HTTP/1.0\r\n\r\n", 403, &["Example Corp."]),
            http(
                18240,
                "GET / HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n\r\n",
                200,
                &["server=o19240"],
            ),
        ]),
    ),
    (
        "transparent-dispatch",
        Plan::CheckOnly(
            "usesrc and 'source ... interface' need root (IP_TRANSPARENT, SO_BINDTODEVICE), \
             and on loopback a transparent proxy's original destination is itself",
        ),
    ),
    (
        "logging-captures",
        Plan::Run(&[
            http(18280, GET, 200, &["server=o1928"]),
            http(18281, GET, 200, &["server=o19283"]),
            http(18282, GET, 200, &["server=o1928"]),
            accepts(18283),
        ]),
    ),
    (
        "hash-consistent",
        Plan::Run(&[
            http(18300, "GET /a/b/c/d HTTP/1.0\r\n\r\n", 200, &["server=o1930"]),
            http(
                18300,
                "GET /user/x?userid=42 HTTP/1.0\r\n\r\n",
                200,
                &["server=o1930"],
            ),
        ]),
    ),
    (
        "redirects",
        Plan::Run(&[
            http(
                18320,
                "GET /forum/ HTTP/1.1\r\nHost: example-old.com\r\nConnection: close\r\n\r\n",
                301,
                &["Location: http://www.example.com/forum/"],
            ),
            http(
                18320,
                "GET /login HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n",
                302,
                &["Location: https://www.example.com/login"],
            ),
            http(18320, GET, 200, &["server=o1932"]),
        ]),
    ),
    (
        "monitoring",
        Plan::Run(&[
            http(18340, "GET /haproxy-health HTTP/1.0\r\n\r\n", 200, &["service ready"]),
            // the second listener (bind ... id 2) is tagged by the so_id rule
            http(18341, GET, 200, &["server=o1934", "> X-Farm: main", "> X-Admin-Port: 1"]),
            Probe {
                port: 18340,
                send: GET,
                expect: Expect::Http {
                    status: 200,
                    has: &["> X-Farm: main"],
                    lacks: &["X-Admin-Port"],
                },
            },
            Probe {
                port: 18342,
                send: "",
                expect: Expect::Raw("OK"),
            },
        ]),
    ),
    (
        "keepalive-server-close",
        Plan::Run(&[
            http(
                18360,
                GET,
                200,
                &[
                    "> X-Backend-Server: web",
                    "> X-Client-IP: 127.0.0.1",
                    "> X-Original-Dst: 127.0.0.1",
                ],
            ),
            http(18360, "GET /api/x HTTP/1.0\r\n\r\n", 200, &["> X-Tomcat-Node: tc"]),
        ]),
    ),
    (
        "legacy-timeouts-nbproc",
        Plan::CheckOnly("chroot, user/group switch and socket ownership need root"),
    ),
    (
        "tune-and-global",
        Plan::CheckOnly("uid/gid switch and ulimit-n above the usual hard limit need root"),
    ),
    (
        "forward-proxy",
        Plan::Run(&[
            http(18420, GET, 403, &[]),
            http(
                18420,
                "GET http://127.0.0.1:{19420}/debian/Release HTTP/1.0\r\n\r\n",
                200,
                &["server=o19420", "uri=http://127.0.0.1:"],
            ),
        ]),
    ),
    (
        "queueing-slowstart",
        Plan::Run(&[
            http(18440, GET, 200, &["server=o1944"]),
            http(
                18441,
                "GET /pics/a.jpg HTTP/1.0\r\n\r\n",
                302,
                &["Location: http://media.example.com/pics/a.jpg"],
            ),
        ]),
    ),
    (
        "response-filters",
        Plan::Run(&[http(18460, GET, 200, &["server=o1946"])]),
    ),
];

fn plan(name: &str) -> Option<&'static Plan> {
    PLANS.iter().find(|(n, _)| *n == name).map(|(_, p)| p)
}

#[test]
fn every_example_has_a_plan() {
    let names: Vec<String> = example_files().iter().map(|f| stem(f)).collect();
    let missing: Vec<&String> = names.iter().filter(|n| plan(n).is_none()).collect();
    assert!(
        missing.is_empty(),
        "examples without a plan in tests/examples.rs: {missing:?}"
    );
    let stale: Vec<&str> = PLANS
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !names.iter().any(|x| x == n))
        .collect();
    assert!(stale.is_empty(), "plans without an example: {stale:?}");
    let runs = PLANS
        .iter()
        .filter(|(_, p)| matches!(p, Plan::Run(_)))
        .count();
    assert!(runs >= 18, "only {runs} examples are started");
}

/// An example prepared for a run: the rewritten text and the port maps.
struct Prepared {
    text: String,
    listeners: BTreeMap<u16, u16>,
    servers: BTreeMap<u16, u16>,
    _origins: Origins,
}

/// Moves the example onto free ports, demo origins and the scratch directory.
fn prepare(text: &str, scratch: &Scratch) -> Prepared {
    let port_re = Regex::new(r"([:\s])(1[89][0-9]{3})\b").expect("regex");
    let mut wanted = BTreeSet::new();
    for c in port_re.captures_iter(text) {
        if let Ok(p) = c[2].parse::<u16>() {
            wanted.insert(p);
        }
    }
    let mut listeners = BTreeMap::new();
    let mut taken = BTreeSet::new();
    let server_ports: Vec<u16> = wanted.iter().copied().filter(|p| *p >= 19000).collect();
    let names: Vec<String> = server_ports.iter().map(|p| format!("o{p}")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let origins = start_origins(&name_refs);
    let servers: BTreeMap<u16, u16> = server_ports
        .iter()
        .zip(origins.addrs.iter())
        .map(|(p, a)| (*p, a.port()))
        .collect();
    for p in wanted.iter().filter(|p| **p < 19000) {
        // free_port releases the port: make sure two listeners do not get the same one
        let mut q = free_port();
        for _ in 0..20 {
            if taken.insert(q) {
                break;
            }
            q = free_port();
        }
        listeners.insert(*p, q);
    }
    let text = port_re.replace_all(text, |c: &regex::Captures| {
        let p: u16 = c[2].parse().unwrap_or(0);
        let to = listeners
            .get(&p)
            .or_else(|| servers.get(&p))
            .copied()
            .unwrap_or(p);
        format!("{}{to}", &c[1])
    });
    let dir = format!("{}/", scratch.dir.path().display());
    let text = text.replace("/tmp/haproxide-", &dir);
    Prepared {
        text,
        listeners,
        servers,
        _origins: origins,
    }
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Runs one probe; `Err` says what went wrong.
fn probe(pr: &Prepared, p: &Probe) -> Result<(), String> {
    let port = *pr
        .listeners
        .get(&p.port)
        .ok_or_else(|| format!("port {} is not a listener of the example", p.port))?;
    let holder = Regex::new(r"\{(1[89][0-9]{3})\}").expect("regex");
    let send = holder.replace_all(p.send, |c: &regex::Captures| {
        let n: u16 = c[1].parse().unwrap_or(0);
        pr.servers
            .get(&n)
            .or_else(|| pr.listeners.get(&n))
            .copied()
            .unwrap_or(n)
            .to_string()
    });
    match &p.expect {
        Expect::Http { status, has, lacks } => {
            let r = raw_request(addr(port), send.as_bytes()).map_err(|e| format!("{e}"))?;
            let raw = String::from_utf8_lossy(&r.raw);
            if r.status != *status {
                return Err(format!("status {} instead of {status}:\n{raw}", r.status));
            }
            if let Some(h) = has.iter().find(|h| !raw.contains(**h)) {
                return Err(format!("{h:?} missing from:\n{raw}"));
            }
            if let Some(h) = lacks.iter().find(|h| raw.contains(**h)) {
                return Err(format!("{h:?} present in:\n{raw}"));
            }
            Ok(())
        }
        Expect::Accepts => TcpStream::connect_timeout(&addr(port), Duration::from_secs(5))
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Expect::Closed | Expect::Raw(_) => {
            let mut s = TcpStream::connect_timeout(&addr(port), Duration::from_secs(5))
                .map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(Duration::from_secs(10)))
                .map_err(|e| e.to_string())?;
            s.write_all(send.as_bytes()).map_err(|e| e.to_string())?;
            let mut got = Vec::new();
            match s.read_to_end(&mut got) {
                Ok(_) => {}
                // a reject may be a reset when our bytes were not read
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                Err(e) => return Err(format!("{e} after {:?}", String::from_utf8_lossy(&got))),
            }
            let text = String::from_utf8_lossy(&got);
            match &p.expect {
                Expect::Raw(want) if !text.contains(want) => {
                    Err(format!("{want:?} missing from {text:?}"))
                }
                Expect::Closed if !got.is_empty() => Err(format!("answered {text:?}")),
                _ => Ok(()),
            }
        }
    }
}

/// Starts one example and runs its probes.
fn smoke(name: &str, probes: &[Probe]) -> Result<(), String> {
    let path = repo().join("examples").join(format!("{name}.cfg"));
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let scratch = Scratch::new();
    let pr = prepare(&text, &scratch);
    let wait: BTreeSet<u16> = probes
        .iter()
        .filter_map(|p| pr.listeners.get(&p.port).copied())
        .collect();
    let wait: Vec<SocketAddr> = wait.into_iter().map(addr).collect();
    let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        start_proxy(&haproxide_bin(), &scratch, name, &pr.text, &wait)
    }));
    let mut proc = started.map_err(|_| format!("{name} did not start"))?;
    let mut errors = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        if let Err(e) = probe(&pr, p) {
            errors.push(format!("probe {i} (port {}): {e}", p.port));
        }
    }
    if let Ok(Some(st)) = proc.child.try_wait() {
        errors.push(format!("exited during the probes ({st})"));
    }
    drop(proc);
    if errors.is_empty() {
        Ok(())
    } else {
        let err = std::fs::read_to_string(scratch.path(&format!("{name}.err"))).unwrap_or_default();
        let tail: Vec<&str> = err.lines().rev().take(15).collect();
        Err(format!(
            "{}\nstderr (last lines, newest first):\n{}",
            errors.join("\n"),
            tail.join("\n")
        ))
    }
}

#[test]
fn examples_start_and_answer() {
    let mut failed = Vec::new();
    let mut ran = 0;
    for (name, plan) in PLANS {
        match plan {
            Plan::CheckOnly(why) => println!("{name:32} -c only: {why}"),
            Plan::Run(probes) => {
                assert!(!probes.is_empty(), "{name}: a run needs at least one probe");
                ran += 1;
                match smoke(name, probes) {
                    Ok(()) => println!("{name:32} ok ({} probes)", probes.len()),
                    Err(e) => {
                        println!("{name:32} FAILED");
                        failed.push(format!("== {name}\n{e}"));
                    }
                }
            }
        }
    }
    assert!(ran > 0);
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

// ---------------------------------------------------------------------------------------
// HAProxy 2.6
// ---------------------------------------------------------------------------------------

/// Examples written in the subset of the dialect that HAProxy 2.6 still accepts.
const COMMON_SUBSET: &[&str] = &[
    "acl-routing-vhosts",
    "errorfiles",
    "hash-consistent",
    "keepalive-server-close",
    "redirects",
    "stick-table-source",
    "userlist-auth",
];

/// `-c -V` with a binary from the repository root: (accepted, first alert).
fn verdict(bin: &Path, cfg: &Path) -> (bool, String) {
    let out = Command::new(bin)
        .arg("-c")
        .arg("-V")
        .arg("-f")
        .arg(cfg)
        .current_dir(repo())
        .output()
        .expect("run -c");
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    // `[ALERT]    (pid) : config : parsing [/abs/dir/x.cfg:12] : text` -> `x.cfg:12: text`
    let place = Regex::new(r"^.*?parsing \[(?:[^\]]*/)?([^/\]]+)\] ?: ").expect("regex");
    let alert = text
        .lines()
        .find(|l| l.contains("[ALERT]"))
        .map(|l| {
            let l = l.split_once(") : ").map_or(l, |(_, r)| r).trim();
            place.replace(l, "$1: ").into_owned()
        })
        .unwrap_or_default();
    (out.status.success(), alert)
}

#[test]
fn haproxy26_agrees_where_it_accepts() {
    let Some(h26) = haproxy26_bin() else {
        panic!("/usr/sbin/haproxy (Debian's HAProxy 2.6) is missing: run scripts/install-deps.sh");
    };
    let mut rows = Vec::new();
    let mut disagree = Vec::new();
    let mut accepted = Vec::new();
    for f in example_files() {
        let name = stem(&f);
        let (ok26, alert) = verdict(&h26, &f);
        let (ours, our_alert) = verdict(&haproxide_bin(), &f);
        if ok26 {
            accepted.push(name.clone());
            if !ours {
                disagree.push(format!(
                    "{name}: 2.6 accepts, haproxide refuses: {our_alert}"
                ));
            }
        }
        let mut first = alert.clone();
        if first.len() > 110 {
            let mut cut = 110;
            while !first.is_char_boundary(cut) {
                cut -= 1;
            }
            first.truncate(cut);
            first.push_str("...");
        }
        rows.push(format!(
            "| {name} | {} | {} | {first} |",
            if ok26 { "accepts" } else { "refuses" },
            if ours { "accepts" } else { "refuses" },
        ));
    }
    println!("| example | HAProxy 2.6 | haproxide | 2.6's first alert |");
    println!("|---|---|---|---|");
    for r in &rows {
        println!("{r}");
    }
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
    let missing: Vec<&&str> = COMMON_SUBSET
        .iter()
        .filter(|n| !accepted.iter().any(|a| a == *n))
        .collect();
    assert!(
        missing.is_empty(),
        "written for the subset 2.6 accepts, but 2.6 refuses: {missing:?}"
    );
    assert!(
        accepted.len() >= 4,
        "only {} examples accepted by 2.6",
        accepted.len()
    );
}
