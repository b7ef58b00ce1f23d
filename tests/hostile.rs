//! Hostile clients and broken servers, end to end with real sockets on loopback (issue #11).
//!
//! Clients: slowloris (408 at `timeout http-request` while others are served), a client that
//! never reads (bounded memory, `timeout client`), request smuggling attempts (400, never
//! forwarded), oversized request lines and headers, 100,000 headers, a flood of fresh
//! appsession ids (the table stays bounded), a connection flood beyond `maxconn`.
//!
//! Servers: refusing (503 after retries, redispatch), resetting mid-response (`SD`), hanging
//! (504), garbage (502), a response header larger than the buffer (502), closing without a
//! response (502); each checked on the client side, in the log line (a UDP syslog receiver
//! in the test) and in the stats CSV counters.
//!
//! Every wait has a deadline, every loop a bound; the whole file runs in well under a minute.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const SEC: Duration = Duration::from_secs(1);

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A syslog receiver: keeps every datagram it got.
struct Syslog {
    sock: UdpSocket,
    lines: Mutex<Vec<String>>,
}

impl Syslog {
    fn new() -> Syslog {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind syslog");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        Syslog {
            sock,
            lines: Mutex::new(Vec::new()),
        }
    }
    fn port(&self) -> u16 {
        self.sock.local_addr().expect("addr").port()
    }
    /// The first line containing every needle, waiting up to 5 s.
    fn find(&self, needles: &[&str]) -> Option<String> {
        let deadline = Instant::now() + 5 * SEC;
        let mut buf = [0u8; 8192];
        loop {
            {
                let lines = self.lines.lock().expect("lines");
                if let Some(l) = lines.iter().find(|l| needles.iter().all(|n| l.contains(n))) {
                    return Some(l.clone());
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            if let Ok(n) = self.sock.recv(&mut buf) {
                let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.lines.lock().expect("lines").push(line);
            }
        }
    }
    fn must_find(&self, needles: &[&str]) -> String {
        self.find(needles).unwrap_or_else(|| {
            panic!(
                "no log line with {needles:?}; got:\n{}",
                self.lines.lock().expect("lines").join("\n")
            )
        })
    }
}

/// A loopback port nothing listens on.
fn dead_port() -> u16 {
    free_port()
}

/// What a scripted server does with each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    /// Reads the request, sends half of a 100,000-byte response, then resets (RST).
    ResetMidResponse,
    /// Reads the request and never answers.
    Hang,
    /// Answers bytes that are no HTTP response.
    Garbage,
    /// Answers a head larger than any buffer.
    HugeHeader,
    /// Reads the request and closes without a byte.
    CloseSilently,
    /// Counts the connection and what it received, answers 200.
    Record,
    /// Streams an endless body (bounded by `STREAM_CAP`) as fast as the proxy takes it.
    Stream,
}

/// Upper bound of what [`Behaviour::Stream`] writes.
const STREAM_CAP: usize = 1 << 30;

/// A server on 127.0.0.1:0 run by a thread until dropped.
struct Scripted {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<u8>>>,
    /// Bytes written by `Stream` connections.
    streamed: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Scripted {
    fn start(b: Behaviour) -> Scripted {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind scripted server");
        l.set_nonblocking(true).expect("nonblocking");
        let addr = l.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let streamed = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (acc, rec, st, stp) = (
            accepted.clone(),
            received.clone(),
            streamed.clone(),
            stop.clone(),
        );
        let thread = std::thread::spawn(move || {
            let mut conns = Vec::new();
            while !stp.load(SeqCst) {
                match l.accept() {
                    Ok((s, _)) => {
                        acc.fetch_add(1, SeqCst);
                        let (rec, st, stp) = (rec.clone(), st.clone(), stp.clone());
                        conns.push(std::thread::spawn(move || serve(s, b, &rec, &st, &stp)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            for c in conns {
                let _ = c.join();
            }
        });
        Scripted {
            addr,
            accepted,
            received,
            streamed,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads a request head (up to the empty line, bounded) from `s`.
fn read_head(s: &mut TcpStream, stop: &AtomicBool) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + 10 * SEC;
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let complete =
        |g: &[u8]| g.windows(4).any(|w| w == b"\r\n\r\n") || g.windows(2).any(|w| w == b"\n\n");
    while !complete(&got) && got.len() < 1 << 20 {
        if stop.load(SeqCst) || Instant::now() > deadline {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    got
}

fn serve(
    mut s: TcpStream,
    b: Behaviour,
    rec: &Mutex<Vec<u8>>,
    streamed: &AtomicUsize,
    stop: &AtomicBool,
) {
    let _ = s.set_nonblocking(false);
    let head = read_head(&mut s, stop);
    rec.lock().expect("received").extend_from_slice(&head);
    match b {
        Behaviour::ResetMidResponse => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
            let _ = s.write_all(&[b'x'; 50_000]);
            std::thread::sleep(Duration::from_millis(100));
            let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
        }
        Behaviour::Hang => {
            let deadline = Instant::now() + 10 * SEC;
            while !stop.load(SeqCst) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Behaviour::Garbage => {
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n\x00\x01\x02garbage\r\n\r\n");
        }
        Behaviour::HugeHeader => {
            let mut r = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
            r.extend(std::iter::repeat_n(b'a', 40_000));
            r.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
            let _ = s.write_all(&r);
            std::thread::sleep(Duration::from_millis(200));
        }
        Behaviour::CloseSilently => {}
        Behaviour::Record => {
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
        Behaviour::Stream => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n");
            let chunk = [b'z'; 65536];
            let _ = s.set_write_timeout(Some(Duration::from_millis(200)));
            let deadline = Instant::now() + 30 * SEC;
            while streamed.load(SeqCst) < STREAM_CAP
                && !stop.load(SeqCst)
                && Instant::now() < deadline
            {
                match s.write(&chunk) {
                    Ok(n) => {
                        streamed.fetch_add(n, SeqCst);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => break,
                }
            }
        }
    }
}

/// Global + defaults sending logs to `log_port`, then `body`.
fn config(log_port: u16, maxconn: u32, body: &str) -> String {
    format!(
        "global\n    log 127.0.0.1:{log_port} local0\n    maxconn {maxconn}\n\
         defaults\n    mode http\n    log global\n    option httplog\n    option dontlognull\n\
         \x20   timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n{body}"
    )
}

/// The stats CSV of the proxy on `port` (`stats uri /st`) as rows of `name → value`.
fn csv(port: u16) -> Vec<Vec<(String, String)>> {
    let r = raw_request(
        local(port),
        b"GET /st;csv HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .expect("stats csv");
    let text = r.body_text();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or("")
        .trim_start_matches("# ")
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

/// One field of the CSV row `px/sv`.
fn csv_field(rows: &[Vec<(String, String)>], px: &str, sv: &str, field: &str) -> u64 {
    let row = rows
        .iter()
        .find(|r| {
            r.first().map(|f| f.1.as_str()) == Some(px)
                && r.get(1).map(|f| f.1.as_str()) == Some(sv)
        })
        .unwrap_or_else(|| panic!("no CSV row {px}/{sv}"));
    row.iter()
        .find(|(k, _)| k == field)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// Sends `req` (ignoring write errors: the proxy may close early) and returns what came back.
fn send_raw(addr: SocketAddr, req: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    let _ = s.write_all(req);
    read_all(&mut s, 5 * SEC).0
}

fn status_of(resp: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(resp);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

// ------------------------------------------------------------------------------------------
// Hostile clients
// ------------------------------------------------------------------------------------------

#[test]
fn slowloris_gets_408_while_other_clients_are_served() {
    let origins = start_origins(&["o1"]);
    let log = Syslog::new();
    let sc = Scratch::new();
    let port = free_port();
    let cfg = config(
        log.port(),
        100,
        &format!(
            "    timeout http-request 1s\nlisten web\n    bind 127.0.0.1:{port}\n    server o1 {}\n",
            origins.addrs[0]
        ),
    );
    let _p = start_haproxide(&sc, &cfg, &[local(port)]);

    // The slow client: one byte every 50 ms of a head that would take 4 s to send.
    let slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(local(port)).expect("connect");
        let t0 = Instant::now();
        let head = b"GET /slowloris HTTP/1.1\r\nHost: slow\r\nUser-Agent: trickle\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        for &b in head.iter().take(80) {
            if s.write_all(&[b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
            // Stop trickling as soon as the proxy answered.
            let mut peek = [0u8; 1];
            s.set_nonblocking(true).expect("nonblocking");
            let answered = !matches!(s.peek(&mut peek), Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock);
            s.set_nonblocking(false).expect("blocking");
            if answered {
                break;
            }
        }
        let (resp, closed) = read_all(&mut s, 5 * SEC);
        (resp, closed, t0.elapsed())
    });
    // Meanwhile other clients are served normally.
    let t0 = Instant::now();
    let mut served = 0;
    while t0.elapsed() < Duration::from_millis(900) && served < 200 {
        let r = get(local(port), "fast", "/", None).expect("normal request");
        assert_eq!(r.status, 200);
        served += 1;
    }
    assert!(
        served >= 5,
        "only {served} requests served during the slowloris"
    );
    let (resp, closed, took) = slow.join().expect("slow client");
    assert_eq!(status_of(&resp), 408, "{}", String::from_utf8_lossy(&resp));
    assert!(closed, "connection left open after the 408");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(3000),
        "408 after {took:?}"
    );
    let line = log.must_find(&[" 408 ", "<BADREQ>"]);
    assert!(line.contains(" cR-- "), "{line}");
}

#[test]
fn client_that_never_reads_keeps_memory_bounded_and_times_out() {
    let srv = Scripted::start(Behaviour::Stream);
    let log = Syslog::new();
    let sc = Scratch::new();
    let port = free_port();
    let cfg = config(
        log.port(),
        100,
        &format!(
            "listen web\n    bind 127.0.0.1:{port}\n    timeout client 2s\n    timeout server 10s\n    server s {}\n",
            srv.addr
        ),
    );
    let p = start_haproxide(&sc, &cfg, &[local(port)]);
    let base_rss = rss_kb(p.pid());
    let base_fds = fd_count(p.pid());

    let mut c = TcpStream::connect(local(port)).expect("connect");
    // A small receive window so that backpressure reaches the proxy quickly.
    let _ = socket2::SockRef::from(&c).set_recv_buffer_size(4096);
    c.write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("request");
    // The server pushes as fast as it can; the proxy must stop reading once the client does.
    let mut peak = 0;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(1500) {
        peak = peak.max(rss_kb(p.pid()));
        std::thread::sleep(Duration::from_millis(50));
    }
    let streamed = srv.streamed.load(SeqCst);
    assert!(
        streamed < 64 << 20,
        "the proxy took {streamed} bytes for a client that reads nothing"
    );
    assert!(
        peak < base_rss + 32 * 1024,
        "RSS grew from {base_rss} KiB to {peak} KiB"
    );
    // `timeout client` (2 s without progress) ends the transfer: log `cD`, connection closed.
    let line = log.must_find(&["GET /big"]);
    assert!(line.contains(" cD-- "), "{line}");
    // The proxy let go of both sockets (what it had queued for the client is the kernel's
    // to deliver or drop now), and the server stopped being read.
    let after = srv.streamed.load(SeqCst);
    std::thread::sleep(Duration::from_millis(300));
    assert!(srv.streamed.load(SeqCst) <= after + (8 << 20));
    drop(c);
    assert!(
        wait_until(5 * SEC, || fd_count(p.pid()) <= base_fds),
        "fds {} > baseline {base_fds}",
        fd_count(p.pid())
    );
}

/// Requests the proxy must refuse with 400 without sending a byte to the server.
const SMUGGLING: &[(&str, &[u8])] = &[
    (
        "CL+TE",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
    ),
    (
        "TE+CL",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nX",
    ),
    (
        "duplicate CL",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    ),
    (
        "CL list",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!",
    ),
    (
        "CL sign",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
    ),
    (
        "TE not chunked last",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    ),
    (
        "space before colon",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    ),
    (
        "obs-fold",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",
    ),
    (
        "obs-fold TE",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
    ),
    ("bare CR", b"GET / HTTP/1.1\r\nHost: a\rX-B: c\r\n\r\n"),
    ("NUL in value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n"),
    ("NUL in URI", b"GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("NUL in name", b"GET / HTTP/1.1\r\nHost: a\r\nX\x00A: b\r\n\r\n"),
    ("space in name", b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n"),
    ("@ in name", b"GET / HTTP/1.1\r\nHost: a\r\nX@Y: z\r\n\r\n"),
    ("empty name", b"GET / HTTP/1.1\r\nHost: a\r\n: novalue\r\n\r\n"),
    ("no colon", b"GET / HTTP/1.1\r\nHost: a\r\nJustAWord\r\n\r\n"),
    ("bad version", b"GET / HTTP/1.x\r\nHost: a\r\n\r\n"),
];

#[test]
fn smuggling_attempts_get_400_and_are_never_forwarded() {
    let srv = Scripted::start(Behaviour::Record);
    let log = Syslog::new();
    let sc = Scratch::new();
    let (port, st) = (free_port(), free_port());
    let cfg = config(
        log.port(),
        100,
        &format!(
            "listen web\n    bind 127.0.0.1:{port}\n    server s {}\n\
             listen stats\n    bind 127.0.0.1:{st}\n    stats uri /st\n",
            srv.addr
        ),
    );
    let _p = start_haproxide(&sc, &cfg, &[local(port), local(st)]);
    // The start-up probe (a connection closed without a request) counts as one, as in 1.4.
    assert!(wait_until(2 * SEC, || csv_field(
        &csv(st),
        "web",
        "FRONTEND",
        "ereq"
    ) == 1));
    let ereq0 = 1;
    for (name, req) in SMUGGLING {
        let resp = send_raw(local(port), req);
        assert_eq!(
            status_of(&resp),
            400,
            "{name}: {}",
            String::from_utf8_lossy(&resp)
        );
    }
    assert_eq!(
        srv.accepted.load(SeqCst),
        0,
        "forwarded: {}",
        String::from_utf8_lossy(&srv.received.lock().expect("received"))
    );
    // Each was counted as a bad request and logged with PR.
    let rows = csv(st);
    assert_eq!(
        csv_field(&rows, "web", "FRONTEND", "ereq") - ereq0,
        SMUGGLING.len() as u64
    );
    let line = log.must_find(&[" 400 ", "<BADREQ>"]);
    assert!(line.contains(" PR-- "), "{line}");

    // Bare LF line endings are accepted (as 1.4 does) and forwarded with the framing the
    // proxy saw: the server gets exactly one request and its body.
    let resp = send_raw(
        local(port),
        b"POST /lf HTTP/1.1\nHost: a\nContent-Length: 3\nConnection: close\n\nabc",
    );
    assert_eq!(status_of(&resp), 200, "{}", String::from_utf8_lossy(&resp));
    assert!(wait_until(2 * SEC, || srv.accepted.load(SeqCst) == 1));
    let got = srv.received.lock().expect("received").clone();
    assert!(got.starts_with(b"POST /lf HTTP/1.1\n"), "{got:?}");
}

#[test]
fn oversized_request_line_and_headers_get_400() {
    let srv = Scripted::start(Behaviour::Record);
    let log = Syslog::new();
    let sc = Scratch::new();
    let port = free_port();
    let cfg = config(
        log.port(),
        100,
        &format!(
            "listen web\n    bind 127.0.0.1:{port}\n    server s {}\n",
            srv.addr
        ),
    );
    let _p = start_haproxide(&sc, &cfg, &[local(port)]);
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "u".repeat(20_000));
    let long_hdr = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Long: {}\r\n\r\n",
        "v".repeat(20_000)
    );
    let many: String = (0..400)
        .map(|i| format!("X-H{i}: {}\r\n", "w".repeat(40)))
        .collect();
    let many = format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n");
    let too_many: String = (0..120).map(|i| format!("X{i}: y\r\n")).collect();
    let too_many = format!("GET / HTTP/1.1\r\n{too_many}\r\n");
    for (name, req) in [
        ("request line", long_uri),
        ("header", long_hdr),
        ("headers", many),
        ("header count", too_many),
    ] {
        let resp = send_raw(local(port), req.as_bytes());
        assert_eq!(status_of(&resp), 400, "{name}");
    }
    assert_eq!(srv.accepted.load(SeqCst), 0);
    let line = log.must_find(&[" 400 ", "<BADREQ>"]);
    assert!(line.contains(" PR-- "), "{line}");
}

#[test]
fn hundred_thousand_headers_get_400_quickly() {
    let srv = Scripted::start(Behaviour::Record);
    let log = Syslog::new();
    let sc = Scratch::new();
    let port = free_port();
    let cfg = config(
        log.port(),
        100,
        &format!(
            "listen web\n    bind 127.0.0.1:{port}\n    server s {}\n",
            srv.addr
        ),
    );
    let p = start_haproxide(&sc, &cfg, &[local(port)]);
    let base_rss = rss_kb(p.pid());
    let mut s = TcpStream::connect(local(port)).expect("connect");
    let mut w = s.try_clone().expect("clone");
    let t0 = Instant::now();
    let writer = std::thread::spawn(move || {
        let mut req = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..100_000 {
            req.extend_from_slice(format!("h{i}: v\r\n").as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        // The proxy stops reading early; the rest of the write fails or stays queued.
        let _ = w.set_write_timeout(Some(5 * SEC));
        let _ = w.write_all(&req);
    });
    let (resp, closed) = read_all(&mut s, 5 * SEC);
    let took = t0.elapsed();
    assert_eq!(status_of(&resp), 400, "{}", String::from_utf8_lossy(&resp));
    assert!(closed);
    assert!(took < 2 * SEC, "400 after {took:?}");
    let _ = s.shutdown(Shutdown::Both);
    let _ = writer.join();
    assert_eq!(srv.accepted.load(SeqCst), 0);
    assert!(rss_kb(p.pid()) < base_rss + 16 * 1024);
}

#[test]
fn appsession_id_flood_keeps_the_table_bounded() {
    // len 8000: the table holds max(8 MiB / (8000 + 64), 1024) = 1040 ids.
    const BOUND: usize = 1040;
    let origins = start_origins(&["o1", "o2"]);
    let log = Syslog::new();
    let sc = Scratch::new();
    let port = free_port();
    let cfg = config(
        log.port(),
        100,
        &format!(
            "listen web\n    bind 127.0.0.1:{port}\n    option http-server-close\n    balance roundrobin\n\
             \x20   appsession JSESSIONID len 8000 timeout 1h request-learn\n\
             \x20   server o1 {}\n    server o2 {}\n",
            origins.addrs[0], origins.addrs[1]
        ),
    );
    let p = start_haproxide(&sc, &cfg, &[local(port)]);
    let server_of = |s: &mut TcpStream, id: Option<&str>| -> String {
        let cookie = id.map_or(String::new(), |i| format!("Cookie: JSESSIONID={i}\r\n"));
        s.write_all(format!("GET / HTTP/1.1\r\nHost: a\r\n{cookie}\r\n").as_bytes())
            .expect("request");
        let r = read_response(s, false).expect("response");
        assert_eq!(r.status, 200);
        r.echo("server").unwrap_or_default()
    };
    let mut s = TcpStream::connect(local(port)).expect("connect");
    s.set_read_timeout(Some(5 * SEC)).expect("timeout");
    // Fresh ids, one per request, each learned with the server that answered.
    let mut learned = Vec::new();
    let rss_start = rss_kb(p.pid());
    let flood = BOUND + 200;
    for i in 0..flood {
        let id = format!("flood{i:06}");
        let srv = server_of(&mut s, Some(&id));
        learned.push((id, srv));
    }
    let rss_end = rss_kb(p.pid());
    assert!(
        rss_end < rss_start + 32 * 1024,
        "RSS {rss_start} -> {rss_end} KiB"
    );
    // A recent id still sticks to its server even against round robin (which would send
    // the next request to the other server than the plain request just hit)...
    let last = server_of(&mut s, None);
    let (recent, recent_srv) = learned
        .iter()
        .rev()
        .find(|(_, srv)| srv == &last)
        .cloned()
        .expect("a recent id on the last server");
    assert_eq!(server_of(&mut s, Some(&recent)), recent_srv);
    // ...while the oldest ids were evicted: load-balanced, round robin's next server.
    let last = server_of(&mut s, None);
    let next_rr = if last == "o1" { "o2" } else { "o1" };
    let (oldest, _) = learned
        .iter()
        .find(|(_, srv)| srv == &last)
        .cloned()
        .expect("an old id on the last server");
    assert_eq!(
        server_of(&mut s, Some(&oldest)),
        next_rr,
        "the oldest id is still in a table bounded at {BOUND}"
    );
}

#[test]
fn connection_flood_beyond_maxconn_is_queued_and_served() {
    let origins = start_origins(&["o1"]);
    let log = Syslog::new();
    let sc = Scratch::new();
    let port = free_port();
    // Global maxconn 20: the rest waits in the listen backlog.
    let cfg = config(
        log.port(),
        20,
        &format!(
            "listen web\n    bind 127.0.0.1:{port}\n    timeout client 20s\n    timeout server 20s\n\
             \x20   server o1 {}\n",
            origins.addrs[0]
        ),
    );
    let p = start_haproxide(&sc, &cfg, &[local(port)]);
    let pid = p.pid();
    // Let the accept loop settle, then measure.
    std::thread::sleep(Duration::from_millis(200));
    let base_fds = fd_count(pid);
    let base_rss = rss_kb(pid);
    const CLIENTS: usize = 200;
    let ok = Arc::new(AtomicUsize::new(0));
    let peak_fds = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (peak, done) = (peak_fds.clone(), done.clone());
        std::thread::spawn(move || {
            let mut peak_rss = 0;
            while !done.load(SeqCst) {
                peak.fetch_max(fd_count(pid), SeqCst);
                peak_rss = peak_rss.max(rss_kb(pid));
                std::thread::sleep(Duration::from_millis(10));
            }
            peak_rss
        })
    };
    let t0 = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let ok = ok.clone();
            std::thread::spawn(move || {
                let r = get(local(port), "flood", &format!("/slow/100?c={i}"), None);
                if r.is_ok_and(|r| r.status == 200) {
                    ok.fetch_add(1, SeqCst);
                }
            })
        })
        .collect();
    for c in clients {
        let _ = c.join();
    }
    done.store(true, SeqCst);
    let peak_rss = watcher.join().expect("watcher");
    let took = t0.elapsed();
    assert_eq!(ok.load(SeqCst), CLIENTS, "served only {}", ok.load(SeqCst));
    // 20 at a time, 100 ms each: at least 10 rounds; well under the timeouts.
    assert!(
        took >= Duration::from_millis(900),
        "took {took:?}: maxconn not enforced?"
    );
    // At most maxconn client sockets plus their server sockets at once.
    let peak = peak_fds.load(SeqCst);
    assert!(
        peak <= base_fds + 2 * 20 + 4,
        "peak fds {peak} (baseline {base_fds})"
    );
    assert!(
        peak_rss < base_rss + 32 * 1024,
        "RSS {base_rss} -> {peak_rss} KiB"
    );
    assert!(
        wait_until(5 * SEC, || fd_count(pid) <= base_fds),
        "fds {} after the flood, baseline {base_fds}",
        fd_count(pid)
    );
    assert!(log.find(&["/slow/100?c="]).is_some());
}

// ------------------------------------------------------------------------------------------
// Hostile or broken servers
// ------------------------------------------------------------------------------------------

/// A proxy with one backend per broken server behaviour, chosen by the path's first word.
struct BrokenFarm {
    _servers: Vec<Scripted>,
    _origins: Origins,
    _proc: Proc,
    log: Syslog,
    port: u16,
    stats: u16,
    _scratch: Scratch,
}

fn broken_farm() -> BrokenFarm {
    let origins = start_origins(&["good"]);
    let reset = Scripted::start(Behaviour::ResetMidResponse);
    let hang = Scripted::start(Behaviour::Hang);
    let garbage = Scripted::start(Behaviour::Garbage);
    let huge = Scripted::start(Behaviour::HugeHeader);
    let silent = Scripted::start(Behaviour::CloseSilently);
    let log = Syslog::new();
    let sc = Scratch::new();
    let (port, stats) = (free_port(), free_port());
    let (d1, d2) = (dead_port(), dead_port());
    let body = format!(
        "frontend fe\n    bind 127.0.0.1:{port}\n\
         \x20   acl refuse path_beg /refuse\n    acl redisp path_beg /redispatch\n\
         \x20   acl reset path_beg /reset\n    acl hang path_beg /hang\n\
         \x20   acl garbage path_beg /garbage\n    acl huge path_beg /huge\n\
         \x20   acl silent path_beg /silent\n\
         \x20   use_backend refuse if refuse\n    use_backend redisp if redisp\n\
         \x20   use_backend reset if reset\n    use_backend hang if hang\n\
         \x20   use_backend garbage if garbage\n    use_backend huge if huge\n\
         \x20   use_backend silent if silent\n\
         backend refuse\n    retries 2\n    server r1 127.0.0.1:{d1}\n\
         backend redisp\n    retries 1\n    option redispatch\n    balance roundrobin\n\
         \x20   cookie SRV insert\n    server dead 127.0.0.1:{d2} cookie dead\n    server good {good} cookie good\n\
         backend reset\n    server s {reset}\n\
         backend hang\n    timeout server 1s\n    server s {hang}\n\
         backend garbage\n    server s {garbage}\n\
         backend huge\n    server s {huge}\n\
         backend silent\n    server s {silent}\n\
         listen stats\n    bind 127.0.0.1:{stats}\n    stats uri /st\n",
        good = origins.addrs[0],
        reset = reset.addr,
        hang = hang.addr,
        garbage = garbage.addr,
        huge = huge.addr,
        silent = silent.addr,
    );
    let cfg = config(log.port(), 100, &body);
    let p = start_haproxide(&sc, &cfg, &[local(port), local(stats)]);
    BrokenFarm {
        _servers: vec![reset, hang, garbage, huge, silent],
        _origins: origins,
        _proc: p,
        log,
        port,
        stats,
        _scratch: sc,
    }
}

#[test]
fn broken_servers_get_the_right_status_log_and_counters() {
    let f = broken_farm();
    let req = |path: &str, cookie: Option<&str>| -> (Vec<u8>, bool) {
        let mut s = TcpStream::connect(local(f.port)).expect("connect");
        let c = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: t\r\n{c}Connection: close\r\n\r\n").as_bytes(),
        )
        .expect("request");
        read_all(&mut s, 8 * SEC)
    };

    // Refusing server: 503 after `retries 2` (three connection attempts), `SC`.
    let t0 = Instant::now();
    let (r, _) = req("/refuse", None);
    assert_eq!(status_of(&r), 503, "{}", String::from_utf8_lossy(&r));
    assert!(t0.elapsed() < 5 * SEC);
    let line = f.log.must_find(&["GET /refuse"]);
    assert!(line.contains(" 503 ") && line.contains(" SC-- "), "{line}");

    // Redispatch: a client stuck by cookie to a dead server is served by the other one.
    let (r, _) = req("/redispatch", Some("SRV=dead"));
    assert_eq!(status_of(&r), 200, "{}", String::from_utf8_lossy(&r));
    let line = f.log.must_find(&["GET /redispatch"]);
    assert!(
        line.contains(" 200 ") && line.contains("redisp/good "),
        "{line}"
    );

    // Reset in the middle of the body: the client gets a truncated response and the
    // connection closes; the log says `SD`.
    let (r, closed) = req("/reset", None);
    assert_eq!(status_of(&r), 200);
    assert!(closed);
    let body = r
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |p| r.len() - p - 4);
    assert!(body < 100_000, "full body despite the reset ({body} bytes)");
    let line = f.log.must_find(&["GET /reset"]);
    assert!(line.contains(" SD-- "), "{line}");

    // Hanging server: `timeout server` (1 s) → 504, `sH`.
    let t0 = Instant::now();
    let (r, _) = req("/hang", None);
    assert_eq!(status_of(&r), 504, "{}", String::from_utf8_lossy(&r));
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < 4 * SEC,
        "{took:?}"
    );
    let line = f.log.must_find(&["GET /hang"]);
    assert!(line.contains(" 504 ") && line.contains(" sH-- "), "{line}");

    // Garbage instead of a response: 502, `PH`.
    let (r, _) = req("/garbage", None);
    assert_eq!(status_of(&r), 502, "{}", String::from_utf8_lossy(&r));
    let line = f.log.must_find(&["GET /garbage"]);
    assert!(line.contains(" 502 ") && line.contains(" PH-- "), "{line}");

    // A response head larger than the buffer: 502, `PH`.
    let (r, _) = req("/huge", None);
    assert_eq!(status_of(&r), 502, "{}", String::from_utf8_lossy(&r));
    let line = f.log.must_find(&["GET /huge"]);
    assert!(line.contains(" 502 ") && line.contains(" PH-- "), "{line}");

    // Closed without a byte: 502, `SH`.
    let (r, _) = req("/silent", None);
    assert_eq!(status_of(&r), 502, "{}", String::from_utf8_lossy(&r));
    let line = f.log.must_find(&["GET /silent"]);
    assert!(line.contains(" 502 ") && line.contains(" SH-- "), "{line}");

    // The counters of each backend, as the stats CSV shows them.
    let rows = csv(f.stats);
    let be = |px: &str, field: &str| csv_field(&rows, px, "BACKEND", field);
    assert_eq!(be("refuse", "econ"), 1, "econ");
    assert_eq!(be("refuse", "wretr"), 2, "wretr");
    assert_eq!(be("refuse", "hrsp_5xx"), 1);
    assert_eq!(be("redisp", "wredis"), 1, "wredis");
    assert_eq!(be("redisp", "hrsp_2xx"), 1);
    assert_eq!(be("reset", "srv_abrt"), 1, "reset srv_abrt");
    assert_eq!(be("hang", "eresp"), 1, "hang eresp");
    assert_eq!(be("hang", "hrsp_5xx"), 1);
    assert_eq!(be("garbage", "eresp"), 1, "garbage eresp");
    assert_eq!(be("huge", "eresp"), 1, "huge eresp");
    assert_eq!(be("silent", "eresp"), 1, "silent eresp");
    assert_eq!(be("silent", "srv_abrt"), 1, "silent srv_abrt");
    // Per server rows too. As in 1.4 (`sess_update_st_cer`), a failed attempt followed by
    // a redispatch counts no connection error and no retry, but a redispatch on the server
    // left behind.
    assert_eq!(csv_field(&rows, "redisp", "dead", "econ"), 0);
    assert_eq!(csv_field(&rows, "redisp", "dead", "wredis"), 1);
    assert_eq!(be("redisp", "wretr"), 0);
    assert_eq!(csv_field(&rows, "redisp", "good", "stot"), 1);
}
