//! What an idle kept-alive connection costs the proxy, in resident memory.
//!
//! In 1.4's default tunnel mode a client keeps its server connection after the first
//! exchange, and the proxy waits on both sockets. Waiting must not pin the request buffer
//! (16 KiB) nor the transaction's header tables (10 KB): before they were released at the
//! tunnel's start, such a connection cost 23 KB, more than 1.4 itself (10.8 KB). Measured
//! since: about 5.6 KB, two sockets and the transaction's state. With `option
//! http-server-close` the server side is closed and a waiting client costs about 1 KB.
//! The bound checked here leaves room for allocator noise, not for a held buffer.

mod common;

use common::*;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const CONNS: usize = 300;
const MAX_BYTES_PER_CONN: usize = 12_000;

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// RSS growth per connection of `CONNS` idle connections through a proxy with `option`.
fn bytes_per_idle_connection(option: &str, sockets_per_conn: usize) -> usize {
    let origins = start_origins(&["o1"]);
    let sc = Scratch::new();
    let port = free_port();
    let cfg = format!(
        "global\n    maxconn 2000\ndefaults\n    mode http\n    timeout connect 2s\n\
         \x20   timeout client 60s\n    timeout server 60s\n{option}\
         listen web\n    bind 127.0.0.1:{port}\n    server o1 {}\n",
        origins.addrs[0]
    );
    // One worker, so every connection lands in the process being measured the same way.
    let p = start_proxy_env(
        &haproxide_bin(),
        &sc,
        "haproxide",
        &cfg,
        &[local(port)],
        &[("HAPROXIDE_WORKERS", "1")],
    );
    // Warm up pools and allocator caches, then measure from a settled baseline.
    let base_fds = fd_count(p.pid());
    let warm: Vec<TcpStream> = (0..20).map(|_| kept_alive(local(port))).collect();
    drop(warm);
    assert!(
        wait_until(Duration::from_secs(5), || fd_count(p.pid()) <= base_fds),
        "warm-up connections not closed"
    );
    std::thread::sleep(Duration::from_millis(200));
    let before = rss_kb(p.pid());
    assert!(before > 0, "no VmRSS for the proxy");
    let held: Vec<TcpStream> = (0..CONNS).map(|_| kept_alive(local(port))).collect();
    // (less a couple: start-up may still have held a file or two at the first count)
    let want = base_fds + CONNS * sockets_per_conn - 2;
    assert!(
        wait_until(Duration::from_secs(5), || fd_count(p.pid()) >= want),
        "the proxy does not hold {CONNS} connections ({} fds, want {want})",
        fd_count(p.pid())
    );
    std::thread::sleep(Duration::from_millis(200));
    let after = rss_kb(p.pid());
    drop(held);
    let per = after.saturating_sub(before) as usize * 1024 / CONNS;
    eprintln!("{CONNS} idle connections ({option:?}): {before} -> {after} KiB, {per} B each");
    per
}

#[test]
fn an_idle_tunnel_holds_no_buffer() {
    // Default mode: client and server sockets stay open for each connection.
    let per = bytes_per_idle_connection("", 2);
    assert!(
        per <= MAX_BYTES_PER_CONN,
        "an idle tunnel costs {per} B (at most {MAX_BYTES_PER_CONN} B expected)"
    );
}

#[test]
fn an_idle_kept_alive_client_holds_no_buffer() {
    let per = bytes_per_idle_connection("    option http-server-close\n", 1);
    assert!(
        per <= MAX_BYTES_PER_CONN / 4,
        "a kept-alive client costs {per} B (at most {} B expected)",
        MAX_BYTES_PER_CONN / 4
    );
}
