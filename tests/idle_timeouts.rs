//! Idle client connections end on time: the first request's `timeout http-request` (408,
//! logged `cR--`), the kept-alive wait of `option http-server-close` (`timeout
//! http-keep-alive`: closed without a word, as 1.4 does), and a short deadline is not held
//! up by longer ones armed before it on the same worker (the per-worker deadline set of
//! `proxy::idle_wait`).

mod common;

use common::*;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn frontend(name: &str, port: u16, keep_alive_ms: u64, origin: SocketAddr) -> String {
    format!(
        "listen {name}\n    bind 127.0.0.1:{port}\n    option http-server-close\n\
         \x20   timeout http-keep-alive {keep_alive_ms}\n    server o1 {origin}\n"
    )
}

#[test]
fn idle_connections_end_at_their_own_deadlines() {
    let origins = start_origins(&["o1"]);
    let sc = Scratch::new();
    let (short, long, silent) = (free_port(), free_port(), free_port());
    let cfg = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 30s\n\
         \x20   timeout server 5s\n    timeout http-request 10s\n{}{}\
         listen silent\n    bind 127.0.0.1:{silent}\n    timeout http-request 700\n\
         \x20   server o1 {}\n",
        frontend("short", short, 400, origins.addrs[0]),
        frontend("long", long, 20_000, origins.addrs[0]),
        origins.addrs[0],
    );
    // One worker: every connection's deadline lands in the same set.
    let _p = start_proxy_env(
        &haproxide_bin(),
        &sc,
        "haproxide",
        &cfg,
        &[local(short), local(long), local(silent)],
        &[("HAPROXIDE_WORKERS", "1")],
    );

    // Longer deadlines first, then the short one: it must still fire on time.
    let mut long_conn = kept_alive(local(long));
    let mut quiet = TcpStream::connect(local(silent)).expect("connect");
    let mut short_conn = kept_alive(local(short));

    let t0 = Instant::now();
    let (bytes, closed) = read_all(&mut short_conn, Duration::from_secs(5));
    let took = t0.elapsed();
    assert!(closed, "the kept-alive connection was not closed");
    assert!(
        bytes.is_empty(),
        "1.4 closes a kept-alive connection silently: {bytes:?}"
    );
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_millis(1500),
        "keep-alive timeout of 400 ms closed after {took:?}"
    );

    // The silent client gets its 408 at `timeout http-request` (700 ms from accept).
    let (bytes, closed) = read_all(&mut quiet, Duration::from_secs(5));
    assert!(closed, "no close after the 408");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.0 408 "), "{text}");

    // The 20 s connection is still open and still served.
    long_conn
        .write_all(b"GET /again HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("write on the long connection");
    let r = read_response(&mut long_conn, false).expect("second response");
    assert_eq!(r.status, 200);
}
