//! `make bench` helper: what logging one request costs a haproxide worker, measured alone.
//!
//! Scenario (l) compares whole runs with and without `option httplog`; on a shared 2-core
//! machine their spread (±15 % and more) hides a cost of a few per cent. This measures the
//! logging work by itself, in one thread with nothing else running in the process: the same
//! calls a finished request makes (`send_traffic_log`: httplog formatting, syslog header,
//! one datagram), to a loopback UDP socket that never reads, as in (l). The kernel's part of
//! the send (on loopback the sender also runs the receive path) is included, since it is
//! charged to this thread. Prints one JSON line: lines sent and CPU µs per line.

use haproxide::log::{self, ServerField, Timers, TrafficLogOptions, TxnLog};
use std::net::{SocketAddr, UdpSocket};
use std::time::SystemTime;

const WARM_UP: u32 = 20_000;
const LINES: u32 = 200_000;

/// CPU time (user + system) used so far by the calling thread, in µs.
fn thread_cpu_us() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    let u = getrusage(UsageWho::RUSAGE_THREAD).expect("getrusage(RUSAGE_THREAD)");
    let us = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 * 1e6 + t.tv_usec() as f64;
    us(u.user_time()) + us(u.system_time())
}

fn main() {
    // Bound and never read: once its buffer is full the kernel drops what arrives.
    let sink = UdpSocket::bind("127.0.0.1:0").expect("bind the UDP sink");
    let port = sink.local_addr().expect("sink address").port();
    let cfg = format!(
        "global\n    log 127.0.0.1:{port} local0 info\ndefaults\n    mode http\n    log global\n\
         \x20   option httplog\nfrontend WEB_SITE\n    bind 127.0.0.1:1\n    default_backend be\n\
         backend be\n    server s1 127.0.0.1:2\n"
    );
    let rt = haproxide::proxy::fuzz::runtime_from_text(&cfg).expect("configuration");
    let fe = &rt.proxies[0];
    let opts = TrafficLogOptions {
        dontlognull: false,
        dontlog_normal: false,
        log_separate_errors: false,
    };
    // A typical line of (l): `GET /1k`, 200, 1,273 bytes, all timers set.
    let client: SocketAddr = "127.0.0.1:41234".parse().expect("address");
    let mut t = TxnLog::new(client, SystemTime::now(), "WEB_SITE", "be");
    t.server = ServerField::Named("s1");
    t.timers = Timers {
        request: 0,
        queue: 0,
        connect: 0,
        data: 1,
        close: 1,
    };
    t.status = 200;
    t.bytes_out = 1273;
    t.actconn = 64;
    t.feconn = 64;
    t.beconn = 1;
    t.srv_conn = 1;
    t.request_line = Some(b"GET /1k HTTP/1.1");
    let format = fe.cfg.log_format.node;

    for _ in 0..WARM_UP {
        log::send_traffic_log(&fe.logger, format, &opts, &t);
    }
    let sent_before = fe.logger.sent();
    let before = thread_cpu_us();
    for _ in 0..LINES {
        log::send_traffic_log(&fe.logger, format, &opts, &t);
    }
    let used = thread_cpu_us() - before;
    let sent = fe.logger.sent() - sent_before;
    assert!(sent > 0, "no datagram was sent");
    println!(
        "{{\"lines\": {LINES}, \"sent\": {sent}, \"cpu_us_per_line\": {:.3}}}",
        used / f64::from(LINES)
    );
}
