//! Soak driver (`make soak` → `scripts/soak.sh`): a bounded mixed load through haproxide
//! while one backend server is restarted every `SOAK_RESTART_SECS` (10) and the proxy is
//! reloaded with `-sf` half way through. Ignored in the normal test run; the script runs it
//! with `--ignored`.
//!
//! Load (6 client threads for `SOAK_SECONDS`, default 60): keep-alive sessions of 5 GETs,
//! `Connection: close` GETs of a 300 kB body, 64 kB POSTs, chunked bodies, server errors
//! (404/500 passed through), and requests the proxy itself denies (403). Every request has
//! an expected status, and the configuration (three servers, HTTP health checks, `retries
//! 3`, `option redispatch`) says each should succeed: a server is restarted gracefully
//! (its health check fails first, then it closes, then it comes back), and refused
//! connections are retried elsewhere. A request on a kept-alive connection that the proxy
//! closed before any response byte (idle close during the reload's soft stop) is sent again
//! on a new connection, as HTTP clients do; those are counted apart.
//!
//! Figures printed: requests sent/ok/failed per kind, RSS of each proxy process after
//! warm-up and at its end, file descriptors at rest before and after the load. Asserted:
//! zero failures, RSS flat (end within 20% + 8 MiB of the warm-up value), descriptors back
//! to the baseline.

mod common;

use common::procs::{alive, read_pids, run, signal, Reaper};
use common::*;
use nix::sys::signal::Signal;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const SEC: Duration = Duration::from_secs(1);

fn env_secs(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

// ---------------------------------------------------------------------------------------
// The backend servers: threaded, restartable on the same port, with a health switch.
// ---------------------------------------------------------------------------------------

struct Server {
    port: u16,
    /// `/health` answers 503 (the proxy's checks take the server out).
    draining: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    served: Arc<AtomicU64>,
}

impl Server {
    fn start(port: u16, served: Arc<AtomicU64>) -> Server {
        // The port may still hold connections in TIME_WAIT: std sets SO_REUSEADDR.
        let deadline = Instant::now() + 5 * SEC;
        let l = loop {
            match TcpListener::bind(local(port)) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("rebind 127.0.0.1:{port}: {e}"),
            }
        };
        l.set_nonblocking(true).expect("nonblocking");
        let draining = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (d, s, sv) = (draining.clone(), stop.clone(), served.clone());
        let thread = std::thread::spawn(move || {
            let mut conns: Vec<JoinHandle<()>> = Vec::new();
            while !s.load(SeqCst) {
                match l.accept() {
                    Ok((c, _)) => {
                        let (d, sv) = (d.clone(), sv.clone());
                        conns.push(std::thread::spawn(move || handle(c, &d, &sv)));
                        conns.retain(|t| !t.is_finished());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
            drop(l);
            // In-flight connections finish (each is bounded by its read timeout).
            for c in conns {
                let _ = c.join();
            }
        });
        Server {
            port,
            draining,
            stop,
            thread: Some(thread),
            served,
        }
    }

    /// Graceful restart: fail the health check, wait for the proxy to notice and for the
    /// requests in flight, close, stay down a moment, come back.
    fn restart(&mut self) {
        self.draining.store(true, SeqCst);
        std::thread::sleep(Duration::from_millis(1200));
        self.stop.store(true, SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        std::thread::sleep(Duration::from_millis(500));
        *self = Server::start(self.port, self.served.clone());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves requests on one connection until it closes (keep-alive honoured).
fn handle(mut c: TcpStream, draining: &AtomicBool, served: &AtomicU64) {
    let _ = c.set_nonblocking(false);
    let _ = c.set_read_timeout(Some(10 * SEC));
    let mut buf = Vec::new();
    let mut tmp = [0u8; 65536];
    loop {
        // Request head.
        let head_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            match c.read(&mut tmp) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
            if buf.len() > 1 << 20 {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut words = head.split_whitespace();
        let method = words.next().unwrap_or("").to_string();
        let uri = words.next().unwrap_or("").to_string();
        let lower = head.to_ascii_lowercase();
        let cl: usize = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let close = lower.contains("connection: close");
        while buf.len() < head_end + cl {
            match c.read(&mut tmp) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        }
        buf.drain(..head_end + cl);
        let mut status = 200;
        let mut chunked = false;
        let body: Vec<u8> = if uri == "/health" {
            if draining.load(SeqCst) {
                status = 503;
            }
            b"health".to_vec()
        } else if let Some(n) = uri.strip_prefix("/big/") {
            vec![b'b'; n.parse().unwrap_or(0)]
        } else if let Some(n) = uri.strip_prefix("/chunked/") {
            chunked = true;
            vec![b'c'; n.parse().unwrap_or(0)]
        } else if let Some(code) = uri.strip_prefix("/status/") {
            status = code.parse().unwrap_or(200);
            b"status".to_vec()
        } else if method == "POST" {
            format!("len={cl}").into_bytes()
        } else {
            b"ok".to_vec()
        };
        let mut out = format!("HTTP/1.1 {status} X\r\n");
        if chunked {
            out.push_str("Transfer-Encoding: chunked\r\n");
        } else {
            out.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        if close {
            out.push_str("Connection: close\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if chunked {
            for ch in body.chunks(4096) {
                bytes.extend_from_slice(format!("{:x}\r\n", ch.len()).as_bytes());
                bytes.extend_from_slice(ch);
                bytes.extend_from_slice(b"\r\n");
            }
            bytes.extend_from_slice(b"0\r\n\r\n");
        } else {
            bytes.extend_from_slice(&body);
        }
        if c.write_all(&bytes).is_err() {
            return;
        }
        if uri != "/health" {
            served.fetch_add(1, SeqCst);
        }
        if close {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------
// The clients.
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    ka_resent: AtomicU64,
    per_kind: [AtomicU64; 6],
    errors: Mutex<Vec<String>>,
}

impl Tally {
    fn fail(&self, what: String) {
        self.failed.fetch_add(1, SeqCst);
        let mut e = self.errors.lock().expect("errors");
        if e.len() < 20 {
            e.push(what);
        }
    }
}

const KINDS: [&str; 6] = [
    "keep-alive GET x5",
    "close GET 300 kB",
    "POST 64 kB",
    "chunked 100 kB",
    "server 404/500",
    "proxy 403",
];

/// Sends one request on `s` and reads the response; `Err(true)` when the connection was
/// closed before any response byte.
fn exchange(s: &mut TcpStream, req: &[u8]) -> Result<Response, bool> {
    if s.write_all(req).is_err() {
        return Err(true);
    }
    match read_response(s, false) {
        Ok(r) => Ok(r),
        Err(e) => Err(matches!(
            e.kind(),
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
        )),
    }
}

fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, 5 * SEC)?;
    s.set_read_timeout(Some(15 * SEC))?;
    Ok(s)
}

fn check(t: &Tally, kind: usize, r: Result<Response, String>, status: u16, len: Option<usize>) {
    t.sent.fetch_add(1, SeqCst);
    t.per_kind[kind].fetch_add(1, SeqCst);
    match r {
        Ok(r) if r.status == status && len.is_none_or(|l| r.body.len() == l) => {
            t.ok.fetch_add(1, SeqCst);
        }
        Ok(r) => t.fail(format!(
            "{}: status {} body {} (wanted {status} {len:?})",
            KINDS[kind],
            r.status,
            r.body.len()
        )),
        Err(e) => t.fail(format!("{}: {e}", KINDS[kind])),
    }
}

fn one_shot(addr: SocketAddr, req: &[u8]) -> Result<Response, String> {
    let mut s = connect(addr).map_err(|e| format!("connect: {e}"))?;
    exchange(&mut s, req).map_err(|closed| format!("no response (closed: {closed})"))
}

fn client(addr: SocketAddr, id: usize, deadline: Instant, t: Arc<Tally>) {
    let mut i = id;
    while Instant::now() < deadline {
        let kind = i % 6;
        i += 1;
        match kind {
            0 => {
                let mut conn: Option<TcpStream> = None;
                for n in 0..5 {
                    let req = b"GET /ka HTTP/1.1\r\nHost: soak\r\n\r\n";
                    let mut r = Err("no connection".to_string());
                    for attempt in 0..2 {
                        let reused = conn.is_some();
                        let s = match conn.as_mut() {
                            Some(s) => s,
                            None => match connect(addr) {
                                Ok(s) => conn.insert(s),
                                Err(e) => {
                                    r = Err(format!("connect: {e}"));
                                    break;
                                }
                            },
                        };
                        match exchange(s, req) {
                            Ok(resp) => {
                                r = Ok(resp);
                                break;
                            }
                            Err(true) if reused && attempt == 0 => {
                                // Idle keep-alive connection closed by the proxy: resend.
                                t.ka_resent.fetch_add(1, SeqCst);
                                conn = None;
                            }
                            Err(closed) => {
                                r = Err(format!("request {n}: no response (closed: {closed})"));
                                break;
                            }
                        }
                    }
                    let keep = r.as_ref().is_ok_and(|r| {
                        r.header("connection")
                            .is_none_or(|c| !c.eq_ignore_ascii_case("close"))
                    });
                    check(&t, 0, r, 200, Some(2));
                    if !keep {
                        conn = None;
                    }
                }
            }
            1 => {
                let r = one_shot(
                    addr,
                    b"GET /big/300000 HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n",
                );
                check(&t, 1, r, 200, Some(300_000));
            }
            2 => {
                let mut req =
                    b"POST /post HTTP/1.1\r\nHost: soak\r\nConnection: close\r\nContent-Length: 65536\r\n\r\n"
                        .to_vec();
                req.extend(std::iter::repeat_n(b'p', 65536));
                let r = one_shot(addr, &req);
                let ok_body = r.as_ref().is_ok_and(|r| r.body == b"len=65536");
                check(
                    &t,
                    2,
                    r.and_then(|r| {
                        if ok_body {
                            Ok(r)
                        } else {
                            Err(format!("body {:?}", String::from_utf8_lossy(&r.body)))
                        }
                    }),
                    200,
                    None,
                );
            }
            3 => {
                let r = one_shot(
                    addr,
                    b"GET /chunked/100000 HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n",
                );
                check(&t, 3, r, 200, Some(100_000));
            }
            4 => {
                let code = if i % 2 == 0 { 404 } else { 500 };
                let req = format!(
                    "GET /status/{code} HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n"
                );
                check(&t, 4, one_shot(addr, req.as_bytes()), code, None);
            }
            _ => {
                let r = one_shot(
                    addr,
                    b"GET /deny/me HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n",
                );
                check(&t, 5, r, 403, None);
            }
        }
    }
}

fn proxy_config(port: u16, stats: u16, servers: &[u16]) -> String {
    let mut cfg = format!(
        "global\n    maxconn 2000\n\
         defaults\n    mode http\n    option http-server-close\n    option redispatch\n    retries 3\n\
         \x20   timeout connect 1s\n    timeout client 15s\n    timeout server 15s\n\
         \x20   timeout http-request 5s\n    timeout http-keep-alive 2s\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    acl deny path_beg /deny\n    block if deny\n\
         \x20   default_backend app\n\
         backend app\n    balance roundrobin\n    option httpchk GET /health\n"
    );
    for (i, p) in servers.iter().enumerate() {
        cfg.push_str(&format!(
            "    server s{} 127.0.0.1:{p} check inter 200 fall 1 rise 2\n",
            i + 1
        ));
    }
    cfg.push_str(&format!(
        "listen stats\n    bind 127.0.0.1:{stats}\n    stats uri /st\n"
    ));
    cfg
}

/// (seconds since the start, pid, RSS KiB, open fds).
type Sample = (f64, i32, u64, usize);

fn current_pid(pidf: &Path) -> i32 {
    read_pids(pidf).first().copied().unwrap_or(0)
}

#[test]
#[ignore = "soak test: run by `make soak` (scripts/soak.sh)"]
fn soak_mixed_load_with_restarts_and_a_reload() {
    let total = env_secs("SOAK_SECONDS", 60);
    let restart_every = env_secs("SOAK_RESTART_SECS", 10).max(3);
    let sc = Scratch::new();
    let held: Vec<TcpListener> = (0..5)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let ports: Vec<u16> = held
        .iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect();
    drop(held);
    let (port, stats) = (ports[0], ports[1]);
    let served = Arc::new(AtomicU64::new(0));
    let mut servers: Vec<Server> = ports[2..5]
        .iter()
        .map(|&p| Server::start(p, served.clone()))
        .collect();
    let cfg = sc.write("soak.cfg", &proxy_config(port, stats, &ports[2..5]));
    let pidf = sc.path("soak.pid");
    let reaper = Reaper::default();
    let cfg_s = cfg.to_string_lossy().into_owned();
    let pid_s = pidf.to_string_lossy().into_owned();
    let (code, _, err) = run(&["-D", "-f", &cfg_s, "-p", &pid_s]);
    reaper.add_pidfile(&pidf);
    assert_eq!(code, 0, "start: {err}");
    assert!(wait_until(10 * SEC, || port_open(local(port))));
    let pid1 = current_pid(&pidf);
    // Rest state: every server up (rise 2 x inter 200 ms), nothing in flight.
    std::thread::sleep(SEC);
    let fd_base = fd_count(pid1);
    let rss_base = rss_kb(pid1);

    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(total);
    let tally = Arc::new(Tally::default());
    let clients: Vec<JoinHandle<()>> = (0..6)
        .map(|id| {
            let t = tally.clone();
            std::thread::spawn(move || client(local(port), id, deadline, t))
        })
        .collect();

    // Sampler: RSS and fds of whichever process the pidfile names, every 500 ms.
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (samples, sampling, pidf) = (samples.clone(), sampling.clone(), pidf.clone());
        std::thread::spawn(move || {
            while sampling.load(SeqCst) {
                let pid = current_pid(&pidf);
                if pid > 0 {
                    samples.lock().expect("samples").push((
                        t0.elapsed().as_secs_f64(),
                        pid,
                        rss_kb(pid),
                        fd_count(pid),
                    ));
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };

    // Orchestration: a restart every `restart_every` s, the reload at half time.
    let reload_at = Duration::from_secs(total / 2);
    let mut reloaded = false;
    let mut restarts = 0usize;
    let mut next_restart = Duration::from_secs(restart_every);
    let mut pid2 = pid1;
    let mut reload_took = Duration::ZERO;
    let restarts_counter = AtomicUsize::new(0);
    while Instant::now() + SEC < deadline {
        let now = t0.elapsed();
        if !reloaded && now >= reload_at {
            let old = pid1.to_string();
            let r0 = Instant::now();
            let (code, _, err) = run(&["-D", "-f", &cfg_s, "-p", &pid_s, "-sf", &old]);
            reload_took = r0.elapsed();
            reaper.add_pidfile(&pidf);
            assert_eq!(code, 0, "reload: {err}");
            pid2 = current_pid(&pidf);
            assert_ne!(pid2, pid1, "the reload did not start a new process");
            reloaded = true;
        } else if now >= next_restart {
            let k = restarts % servers.len();
            servers[k].restart();
            restarts += 1;
            restarts_counter.fetch_add(1, SeqCst);
            next_restart += Duration::from_secs(restart_every);
        } else {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    for c in clients {
        let _ = c.join();
    }
    let elapsed = t0.elapsed();
    // At rest again: descriptors back to the baseline (a health check may be in flight).
    let fd_settled = wait_until(10 * SEC, || fd_count(pid2) <= fd_base);
    let fd_after = fd_count(pid2);
    sampling.store(false, SeqCst);
    let _ = sampler.join();
    assert!(
        wait_until(10 * SEC, || !alive(pid1)),
        "old process {pid1} still running after the load"
    );

    let samples = samples.lock().expect("samples").clone();
    let rss_at = |pid: i32, from: f64, to: f64| -> Option<u64> {
        samples
            .iter()
            .filter(|s| s.1 == pid && s.0 >= from && s.0 <= to)
            .map(|s| s.2)
            .max()
    };
    let last_rss = |pid: i32| samples.iter().rev().find(|s| s.1 == pid).map(|s| s.2);
    let half = reload_at.as_secs_f64();
    // Warm-up: the first 10 s of each process (5 s on short runs).
    let warm = (half / 3.0).min(10.0);
    let p1_warm = rss_at(pid1, warm - 1.0, warm + 1.0).unwrap_or(0);
    let p1_end = rss_at(pid1, half - 2.0, half).unwrap_or(0);
    let p2_warm = rss_at(pid2, half + warm - 1.0, half + warm + 1.0).unwrap_or(0);
    let p2_end = last_rss(pid2).unwrap_or(0);
    let fd_peak = samples.iter().map(|s| s.3).max().unwrap_or(0);

    let t = &tally;
    let mut report = String::new();
    report.push_str(&format!(
        "soak: {:.0} s, 6 clients, {} server restarts, reload (-sf) at {:.0} s took {reload_took:?}\n",
        elapsed.as_secs_f64(),
        restarts,
        half
    ));
    report.push_str(&format!(
        "requests: sent {} ok {} failed {} (kept-alive requests resent after an idle close: {}); served by the servers: {}\n",
        t.sent.load(SeqCst),
        t.ok.load(SeqCst),
        t.failed.load(SeqCst),
        t.ka_resent.load(SeqCst),
        served.load(SeqCst)
    ));
    for (k, name) in KINDS.iter().enumerate() {
        report.push_str(&format!("  {name:<20} {}\n", t.per_kind[k].load(SeqCst)));
    }
    report.push_str(&format!(
        "RSS KiB: process 1 (pid {pid1}) rest {rss_base}, after warm-up {p1_warm}, before reload {p1_end}; \
         process 2 (pid {pid2}) after warm-up {p2_warm}, end {p2_end}\n"
    ));
    report.push_str(&format!(
        "fds: at rest before {fd_base}, peak {fd_peak}, at rest after {fd_after}\n"
    ));
    let errors = t.errors.lock().expect("errors").clone();
    if !errors.is_empty() {
        report.push_str(&format!("first failures: {errors:#?}\n"));
    }
    eprintln!("{report}");
    if let Ok(path) = std::env::var("SOAK_REPORT") {
        let _ = std::fs::write(path, &report);
    }

    let last = current_pid(&pidf);
    signal(last, Signal::SIGTERM);
    assert!(wait_until(5 * SEC, || !alive(last)));

    assert_eq!(t.failed.load(SeqCst), 0, "{report}");
    assert!(t.sent.load(SeqCst) > 100, "{report}");
    let flat = |warm: u64, end: u64| end <= warm + warm / 5 + 8 * 1024;
    assert!(flat(p1_warm, p1_end), "process 1 RSS grew: {report}");
    assert!(flat(p2_warm, p2_end), "process 2 RSS grew: {report}");
    assert!(fd_settled, "descriptors not back to {fd_base}: {report}");
}
