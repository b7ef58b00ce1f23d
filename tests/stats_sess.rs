//! End-to-end tests of the stats socket's `show sess` and `show errors` with real sockets on
//! loopback: live streams (an idle HTTP client, one waiting for a slow origin, a `mode tcp`
//! stream) are listed with their frontend, backend, server and source port and disappear
//! once closed; a malformed request and a malformed response (from a raw origin that answers
//! garbage) are captured with their bytes and error positions, and survive `clear counters`.
//!
//! Comparison with Debian's HAProxy 2.6: `show errors` kept 1.4's header line, its entry
//! lines (`[date] frontend NAME (#id): invalid request`; `[date] backend NAME (#id) :
//! invalid response` lost the space before its colon in 2.6), its `error at position N` and
//! its dump line format, so those are compared, bytes and positions included; 2.6 replaced
//! 1.4's `src IP, session #N, ...` and `HTTP internal state` lines by its own (H1 mux
//! states, buffer geometry), which are not.
//! `show sess` is not compared: 2.6 prints a different set of fields (`proto=tcpv4`,
//! `ts=`, `epoch=`, `rq[f=...,i=...,an=...,rx=...]`, connection and mux details), and
//! its ids are pointers.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The `show sess` line of the stream from local port `port`, once `pred` holds for it.
fn sess_line(sock: &Path, port: u16, pred: impl Fn(&str) -> bool) -> String {
    let needle = format!(" src=127.0.0.1:{port} ");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = String::new();
    while Instant::now() < deadline {
        last = stats_cli(sock, "show sess\n");
        if let Some(l) = last.lines().find(|l| l.contains(&needle) && pred(l)) {
            return l.to_string();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no matching stream from port {port} in:\n{last}");
}

/// The stream id (`0x..:` prefix) of a `show sess` line.
fn sess_id(line: &str) -> u64 {
    let hex = line
        .split(':')
        .next()
        .and_then(|h| h.strip_prefix("0x"))
        .unwrap_or_else(|| panic!("no id in {line}"));
    u64::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("bad id in {line}"))
}

/// A raw origin answering each of up to `count` connections with `reply` once it has read
/// a request head; stops after `count` connections or 30 s.
fn raw_origin(reply: &'static [u8], count: usize) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind raw origin");
    l.set_nonblocking(true).expect("nonblocking");
    let a = l.local_addr().expect("addr");
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut served = 0;
        while served < count && Instant::now() < deadline {
            let Ok((mut s, _)) = l.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            served += 1;
            let _ = s.set_nonblocking(false);
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(reply);
            let _ = s.shutdown(std::net::Shutdown::Write);
            // Let the proxy read the reply before the socket goes away.
            let _ = s.read(&mut buf);
        }
    });
    a
}

fn config(sock: &Path, web: u16, tcp: u16, origin: SocketAddr, raw: SocketAddr) -> String {
    format!(
        "global\n    stats socket {} level admin mode 600\n    stats timeout 5s\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend web\n    bind 127.0.0.1:{web}\n    option http-server-close\n\
         \x20   acl is_raw path_beg /raw\n    use_backend raw if is_raw\n    default_backend app\n\
         backend app\n    server o1 {origin}\n\
         backend raw\n    server bad {raw}\n\
         listen fwd\n    mode tcp\n    bind 127.0.0.1:{tcp}\n    server o1 {origin}\n",
        sock.display()
    )
}

const BAD_REQUEST: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n";
const BAD_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nBroken Header\r\n\r\nok";

/// Connects to `port`, returns the stream and its local port.
fn connect(port: u16) -> (TcpStream, u16) {
    let s = TcpStream::connect(addr(port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let p = s.local_addr().expect("local").port();
    (s, p)
}

/// Sends `req` on a new connection to `port` and returns (the status, the stream id that
/// `show sess` listed for it before the request).
/// Returns the status and the stream's session number (1.4 `uniq_id`, what `show errors`
/// prints): one less than its `show sess` id, which is never 0 as 1.4's pointers were not.
fn send_and_id(sock: &Path, port: u16, req: &[u8]) -> (u16, u64) {
    let (mut s, p) = connect(port);
    let id = sess_id(&sess_line(sock, p, |_| true)) - 1;
    s.write_all(req).expect("send");
    let r = read_response(&mut s, false).expect("response");
    (r.status, id)
}

/// The lines of `show errors` split into its entries (each starting with its date line).
fn entries(out: &str) -> Vec<Vec<String>> {
    let mut v: Vec<Vec<String>> = Vec::new();
    for l in out.lines().skip(1) {
        if l.starts_with('[') {
            v.push(vec![l.to_string()]);
        } else if let Some(e) = v.last_mut() {
            e.push(l.to_string());
        }
    }
    v
}

/// `[dd/Mon/yyyy:hh:mm:ss.mmm]` at the start of `s`; returns the rest.
fn strip_date(s: &str) -> &str {
    let re =
        regex::Regex::new(r"^\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\]").expect("regex");
    let m = re
        .find(s)
        .unwrap_or_else(|| panic!("no 1.4 date at the start of {s:?}"));
    &s[m.end()..]
}

/// The number after `error at position ` in an entry.
fn error_position(entry: &[String]) -> usize {
    entry
        .iter()
        .find_map(|l| {
            l.split("error at position ")
                .nth(1)
                .map(|r| r.trim_end_matches([':', ' ']).to_string())
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no error position in {entry:?}"))
}

fn dump_lines(entry: &[String]) -> Vec<String> {
    entry
        .iter()
        .filter(|l| l.starts_with("  0"))
        .cloned()
        .collect()
}

#[test]
fn show_sess_lists_live_streams() {
    let origins = start_origins(&["o1"]);
    let raw = raw_origin(BAD_RESPONSE, 1);
    let scratch = Scratch::new();
    let sock = scratch.path("admin.sock");
    let (web, tcp) = (free_port(), free_port());
    let _p = start_haproxide(
        &scratch,
        &config(&sock, web, tcp, origins.addrs[0], raw),
        &[addr(web), addr(tcp)],
    );
    wait_stats_socket(&sock);

    // Idle HTTP client: waiting for its request, no backend chosen yet (a frontend has
    // no backend side: `<NONE>`), the wait for the request on the request side.
    let (idle, idle_port) = connect(web);
    let waiting = regex::Regex::new(
        r" rq\[f=000000h,l=0,an=0eh,rx=\d+s,wx=,ax=\] rp\[f=000000h,l=0,an=00h,rx=,wx=,ax=\] s0=\[7,0h,fd=\d+,ex=\] s1=\[0,0h,fd=-1,ex=\] exp=\d+s$",
    )
    .expect("regex");
    let l = sess_line(&sock, idle_port, |l| waiting.is_match(l));
    assert!(
        l.contains(&format!(
            ": proto=tcpv4 src=127.0.0.1:{idle_port} fe=web be=<NONE> srv=<none> ts=00 age="
        )),
        "{l}"
    );

    // A request to a slow origin: backend and server chosen, server connected.
    let (mut slow, slow_port) = connect(web);
    slow.write_all(b"GET /slow/2000 HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    let l = sess_line(&sock, slow_port, |l| l.contains(" srv=o1 "));
    assert!(l.contains(" fe=web be=app srv=o1 "), "{l}");
    assert!(l.contains(" rp[f=000000h,l=0,an=160000h,rx="), "{l}");
    assert!(!l.contains(" s1=[7,0h,fd=-1,"), "server fd expected: {l}");
    assert!(l.contains(" s1=[7,0h,fd="), "{l}");
    // Its full dump.
    let id = sess_id(&l);
    let full = stats_cli(&sock, &format!("show sess {id:#x}\n"));
    let lines: Vec<&str> = full.lines().collect();
    assert_eq!(
        lines[0],
        format!("{id:#x}: id={id}, proto=tcpv4 source=127.0.0.1:{slow_port}"),
        "{full}"
    );
    assert_eq!(
        lines[2],
        "  frontend=web (id=1 mode=http), listener=? (id=1)"
    );
    assert_eq!(lines[3], "  backend=app (id=2 mode=http) server=o1 (id=1)");
    assert!(lines[8].starts_with(&format!("  txn={id:#x} (flags=0x0 meth=2 status=-1 ")));
    assert!(full.ends_with("total=0\n\n"), "{full}");
    // The same id in decimal; an unknown one.
    let dec = stats_cli(&sock, &format!("show sess {id}\n"));
    assert_eq!(dec.lines().next(), Some(lines[0]), "{dec}");
    assert_eq!(
        stats_cli(&sock, "show sess 0xfffffff\n"),
        "Session not found.\n\n"
    );

    // A `mode tcp` stream, forwarded as soon as it is accepted.
    let (fwd, fwd_port) = connect(tcp);
    let l = sess_line(&sock, fwd_port, |l| l.contains(" srv=o1 "));
    assert!(l.contains(" fe=fwd be=fwd srv=o1 "), "{l}");
    assert!(l.contains(" rq[f=000000h,l=0,an=00h,"), "{l}");

    // This CLI connection is listed too, as 1.4's `unix_stream` sessions.
    let all = stats_cli(&sock, "show sess\n");
    assert!(
        all.lines()
            .any(|l| l.contains(": proto=unix_stream ts=00 age=")),
        "{all}"
    );
    // Oldest first.
    let ids: Vec<u64> = all
        .lines()
        .filter(|l| l.starts_with("0x"))
        .map(sess_id)
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{all}");

    // The slow answer arrives, the connection is kept alive: back to the frontend.
    let r = read_response(&mut slow, false).expect("slow response");
    assert_eq!(r.status, 200);
    let l = sess_line(&sock, slow_port, |l| l.contains(" be=<NONE> "));
    assert!(l.contains(" srv=<none> "), "{l}");
    let full = stats_cli(&sock, &format!("show sess {id:#x}\n"));
    assert_eq!(full.matches(" total=").count(), 2, "{full}");
    assert!(
        full.lines()
            .filter(|l| l.contains(" total="))
            .all(|l| !l.ends_with(" total=0")),
        "byte totals after one transaction: {full}"
    );

    // Closed: gone.
    drop(idle);
    drop(slow);
    drop(fwd);
    let gone = wait_until(Duration::from_secs(10), || {
        let all = stats_cli(&sock, "show sess\n");
        [idle_port, slow_port, fwd_port]
            .iter()
            .all(|p| !all.contains(&format!(" src=127.0.0.1:{p} ")))
    });
    assert!(gone, "{}", stats_cli(&sock, "show sess\n"));
    assert_eq!(
        stats_cli(&sock, &format!("show sess {id:#x}\n")),
        "Session not found.\n\n"
    );
}

#[test]
fn show_errors_captures_bad_request_and_response() {
    let origins = start_origins(&["o1"]);
    let raw = raw_origin(BAD_RESPONSE, 1);
    let scratch = Scratch::new();
    let sock = scratch.path("admin.sock");
    let (web, tcp) = (free_port(), free_port());
    let _p = start_haproxide(
        &scratch,
        &config(&sock, web, tcp, origins.addrs[0], raw),
        &[addr(web), addr(tcp)],
    );
    wait_stats_socket(&sock);

    let (st, req_id) = send_and_id(&sock, web, BAD_REQUEST);
    assert_eq!(st, 400);
    let (st, res_id) = send_and_id(&sock, web, b"GET /raw HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(st, 502);

    let out = stats_cli(&sock, "show errors\n");
    let head = out.lines().next().unwrap_or("");
    assert!(head.starts_with("Total events captured on ["), "{out}");
    assert!(head.ends_with("] : 2"), "{out}");
    let e = entries(&out);
    assert_eq!(e.len(), 2, "{out}");

    let req_pos = BAD_REQUEST
        .windows(4)
        .position(|w| w == b"Bad ")
        .map(|p| p + 3)
        .unwrap_or(0);
    let rq = &e[0];
    assert_eq!(strip_date(&rq[0]), " frontend web (#1): invalid request");
    assert_eq!(
        rq[1],
        format!("  src 127.0.0.1, session #{req_id}, backend <NONE> (#-1), server <NONE> (#-1)")
    );
    assert_eq!(
        rq[2],
        "  HTTP internal state 26, buffer flags 0x00000002, event #0"
    );
    assert_eq!(
        rq[3],
        format!(
            "  request length {} bytes, error at position {req_pos}:",
            BAD_REQUEST.len()
        )
    );
    assert_eq!(rq[4], " ");
    assert_eq!(
        dump_lines(rq),
        [
            "  00000  GET /index.html HTTP/1.1\\r\\n",
            "  00026  Host: a\\r\\n",
            "  00035  Bad Header: x\\r\\n",
            "  00050  \\r\\n",
        ]
    );

    let res_pos = BAD_RESPONSE
        .windows(7)
        .position(|w| w == b"Broken ")
        .map(|p| p + 6)
        .unwrap_or(0);
    let rp = &e[1];
    assert_eq!(strip_date(&rp[0]), " backend raw (#3) : invalid response");
    assert_eq!(
        rp[1],
        format!("  src 127.0.0.1, session #{res_id}, frontend web (#1), server bad (#1)")
    );
    assert_eq!(
        rp[2],
        "  HTTP internal state 26, buffer flags 0x00000002, event #1"
    );
    assert_eq!(
        rp[3],
        format!(
            "  response length {} bytes, error at position {res_pos}:",
            BAD_RESPONSE.len()
        )
    );
    assert_eq!(
        dump_lines(rp),
        [
            "  00000  HTTP/1.1 200 OK\\r\\n",
            "  00017  Content-Length: 2\\r\\n",
            "  00036  Broken Header\\r\\n",
            "  00051  \\r\\n",
            "  00053  ok",
        ]
    );

    // `show errors <iid>`: the proxy's own id or its other side's.
    let only_raw = stats_cli(&sock, "show errors 3\n");
    assert_eq!(entries(&only_raw).len(), 1, "{only_raw}");
    assert!(only_raw.contains("invalid response"));
    assert_eq!(entries(&stats_cli(&sock, "show errors 1\n")).len(), 2);
    assert_eq!(entries(&stats_cli(&sock, "show errors 2\n")).len(), 0);

    // 1.4's `clear counters` leaves the captures alone.
    assert_eq!(stats_cli(&sock, "clear counters all\n"), "\n");
    let again = stats_cli(&sock, "show errors\n");
    assert_eq!(entries(&again), e);
}

#[test]
fn show_errors_shape_matches_haproxy_2_6() {
    let h26 = haproxy26_bin()
        .unwrap_or_else(|| panic!("/usr/sbin/haproxy missing: run scripts/install-deps.sh"));
    let origins = start_origins(&["o1"]);
    let scratch = Scratch::new();
    let mut outs = Vec::new();
    for (name, bin) in [("haproxide", haproxide_bin()), ("haproxy26", h26)] {
        let raw = raw_origin(BAD_RESPONSE, 1);
        let sock = scratch.path(&format!("{name}.sock"));
        let (web, tcp) = (free_port(), free_port());
        let _p = start_proxy(
            &bin,
            &scratch,
            name,
            &config(&sock, web, tcp, origins.addrs[0], raw),
            &[addr(web), addr(tcp)],
        );
        wait_stats_socket(&sock);
        let (mut s, _) = connect(web);
        s.write_all(BAD_REQUEST).expect("send");
        assert_eq!(
            read_response(&mut s, false).expect("400").status,
            400,
            "{name}"
        );
        let (mut s, _) = connect(web);
        s.write_all(b"GET /raw HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("send");
        assert_eq!(
            read_response(&mut s, false).expect("502").status,
            502,
            "{name}"
        );
        // 2.6 may record the response a moment after answering: wait for both.
        let mut out = String::new();
        let ok = wait_until(Duration::from_secs(5), || {
            out = stats_cli(&sock, "show errors\n");
            entries(&out).len() == 2
        });
        assert!(ok, "{name}: {out}");
        outs.push(out);
    }
    let (ours, theirs) = (&outs[0], &outs[1]);
    // Same header line (date, count).
    let head = |o: &str| {
        let h = o.lines().next().unwrap_or("").to_string();
        let rest = h
            .strip_prefix("Total events captured on ")
            .unwrap_or_else(|| panic!("header {h:?}"))
            .to_string();
        strip_date(&rest).to_string()
    };
    assert_eq!(head(ours), " : 2");
    assert_eq!(head(ours), head(theirs));
    let (eo, et) = (entries(ours), entries(theirs));
    let ids = regex::Regex::new(r"\(#\d+\)").expect("regex");
    for (i, what) in [(0, "request"), (1, "response")] {
        let (a, b) = (&eo[i], &et[i]);
        // The entry line, proxy ids aside (2.6 numbers its proxies its own way). 1.4 puts a
        // space before the colon of `invalid response` only; 2.6 dropped it.
        let first = |l: &str| ids.replace_all(strip_date(l), "(#N)").into_owned();
        let theirs_as_14 = if i == 1 {
            first(&b[0]).replace("(#N): invalid response", "(#N) : invalid response")
        } else {
            first(&b[0])
        };
        assert_eq!(
            first(&a[0]),
            theirs_as_14,
            "{what} entry line\nours:\n{ours}\n2.6:\n{theirs}"
        );
        // Same bytes shown the same way, and the same error position.
        assert_eq!(
            dump_lines(a),
            dump_lines(b),
            "{what} dump\nours:\n{ours}\n2.6:\n{theirs}"
        );
        assert_eq!(
            error_position(a),
            error_position(b),
            "{what} position\nours:\n{ours}\n2.6:\n{theirs}"
        );
    }
}
