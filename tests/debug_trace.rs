//! The debug-mode traffic trace end to end (`-d`, `debug` in `global`; `src/proxy/trace.rs`):
//! haproxide runs in the foreground with stdout piped, the demo origin behind it, and every
//! trace line is checked in order against HAProxy 1.4's format (1.4 `event_accept`,
//! `debug_hdr`, `process_session`): the accept line with the client's real port, the request
//! line and each request header exactly as sent, the server's status line and headers, the
//! close lines, with the session number and the real fds (checked in `/proc` while they are
//! open). Cases: `option httpclose`, `option http-server-close` with two requests on one
//! connection (the server side goes back to `ffff` and the stream to its frontend between
//! them, no `srvcls`), TCP mode, the `debug` keyword, and no trace without debug mode.
//!
//! Readiness is taken from `/proc/net/tcp` (the port is listening) rather than by
//! connecting, since a probe connection would be traced and take session number 0.
//!
//! Debian's HAProxy 2.6 prints the same line shapes for the accept line and the request head
//! only, so the differential case compares just those. What 2.6 prints differently (seen with
//! 2.6.12, same configuration and request):
//! * the accept line ends with ` ALPN=<none>`;
//! * a missing server fd is `ffffffff` (`%04x` of -1 as an int), not 1.4's `ffff`;
//! * header names are lower-cased and values trimmed (HTX), and `srvhdr` leaves out the
//!   `Connection` header;
//! * `clicls` comes before `srvcls`, and in TCP mode the close lines show `ffff` for fds
//!   already released.
//!
//! The assertions against 1.4's format come from 1.4's sources, not from 2.6.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A proxy process in the foreground whose stdout is collected as it comes.
struct Traced {
    child: Child,
    out: Arc<Mutex<String>>,
    name: String,
}

impl Traced {
    /// Starts `bin` with `args` then `-f cfg`, stdout piped, and waits until every port in
    /// `ports` is listening.
    fn start(
        bin: &Path,
        scratch: &Scratch,
        name: &str,
        args: &[&str],
        cfg: &str,
        ports: &[u16],
    ) -> Traced {
        let cfg_path = scratch.write(&format!("{name}.cfg"), cfg);
        let err = std::fs::File::create(scratch.path(&format!("{name}.err"))).expect("stderr file");
        let mut child = Command::new(bin)
            .args(args)
            .arg("-f")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .expect("spawn proxy");
        let out = collect_pipe(child.stdout.take().expect("stdout pipe"));
        let mut t = Traced {
            child,
            out,
            name: name.to_string(),
        };
        let ready = wait_until(Duration::from_secs(10), || {
            matches!(t.child.try_wait(), Ok(Some(_))) || ports.iter().all(|&p| listening(p))
        });
        if let Ok(Some(st)) = t.child.try_wait() {
            panic!(
                "{name} exited early ({st}); stderr:\n{}",
                Proc::stderr_text(&scratch.path(&format!("{name}.err")))
            );
        }
        assert!(ready, "{name} did not listen on {ports:?} in time");
        t
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stdout(&self) -> String {
        self.out.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The trace lines of session `id` (`%08x:` prefix).
    fn session(&self, id: u32) -> Vec<String> {
        let prefix = format!("{id:08x}:");
        self.stdout()
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .map(str::to_string)
            .collect()
    }

    /// Waits until session `id` has printed a line containing `part`, then returns its
    /// lines.
    fn wait_session(&self, id: u32, part: &str) -> Vec<String> {
        let done = wait_until(Duration::from_secs(10), || {
            self.session(id).iter().any(|l| l.contains(part))
        });
        assert!(
            done,
            "{}: session {id:08x} never printed a line with {part:?}; stdout:\n{}",
            self.name,
            self.stdout()
        );
        self.session(id)
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when a TCP socket listens on `port` (IPv4 or IPv6), read from /proc without
/// connecting.
fn listening(port: u16) -> bool {
    let want = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|f| {
        std::fs::read_to_string(f)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                cols.len() > 3 && cols[1].ends_with(&want) && cols[3] == "0A"
            })
    })
}

/// `/proc/<pid>/fd/<fd>` is a socket of process `pid` right now.
fn is_socket_fd(pid: u32, fd_hex: &str) -> bool {
    let fd = u32::from_str_radix(fd_hex, 16).expect("hex fd");
    std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
        .map(|p| p.to_string_lossy().starts_with("socket:["))
        .unwrap_or(false)
}

/// Splits `SSSSSSSS:px.accept(LLLL)=CCCC from [ip:port]` into (px, listener fd, client fd,
/// "ip:port"); panics with the line when it has another shape.
fn parse_accept(line: &str) -> (String, String, String, String) {
    let split = |line: &str| -> Option<(String, String, String, String)> {
        let (px, rest) = line.get(9..)?.split_once(".accept(")?;
        let (lfd, rest) = rest.split_once(")=")?;
        let (cfd, rest) = rest.split_once(" from [")?;
        let from = rest.strip_suffix(']')?;
        Some((px.into(), lfd.into(), cfd.into(), from.into()))
    };
    let parts = split(line).unwrap_or_else(|| panic!("not a 1.4 accept line: {line:?}"));
    let hex4 = |s: &str| {
        s.len() == 4
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    assert!(
        hex4(&parts.1) && hex4(&parts.2),
        "fds are not 4 lower-case hex digits: {line:?}"
    );
    parts
}

/// The fd pair of a `...[CCCC:SSSS]` line (with or without text after it).
fn fds_of(line: &str) -> (String, String) {
    let open = line
        .find('[')
        .unwrap_or_else(|| panic!("no fds in {line:?}"));
    let close = line[open..]
        .find(']')
        .map(|i| open + i)
        .unwrap_or_else(|| panic!("no fds in {line:?}"));
    let (c, s) = line[open + 1..close]
        .split_once(':')
        .unwrap_or_else(|| panic!("no fds in {line:?}"));
    (c.into(), s.into())
}

/// The header lines of a response head as received (`Name: value`), in order.
fn head_lines(raw: &[u8]) -> (String, Vec<String>) {
    let text = String::from_utf8_lossy(raw);
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string();
    let mut lines = head.split("\r\n").map(str::to_string);
    let first = lines.next().unwrap_or_default();
    (first, lines.collect())
}

fn config(fe_close: u16, fe_ka: u16, tcp: u16, origin: SocketAddr, global_extra: &str) -> String {
    format!(
        "global\n    maxconn 100\n{global_extra}\
         defaults\n    mode http\n    timeout connect 5s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe_close\n    bind 127.0.0.1:{fe_close}\n    default_backend be_close\n\
         backend be_close\n    option httpclose\n    server s1 {origin}\n\
         frontend fe_ka\n    bind 127.0.0.1:{fe_ka}\n    default_backend be_ka\n\
         backend be_ka\n    option http-server-close\n    server s1 {origin}\n\
         listen tcp_l\n    mode tcp\n    bind 127.0.0.1:{tcp}\n    server s1 {origin}\n"
    )
}

const REQUEST_HEADERS: [&str; 3] = [
    "Host: trace.test",
    "User-Agent: debug-trace-test",
    "X-Trace:  one, two ",
];

fn request(path: &str) -> String {
    let mut r = format!("GET {path} HTTP/1.1\r\n");
    for h in REQUEST_HEADERS {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    r
}

/// Checks the request head block of `lines` starting at `at`: clireq then one clihdr per
/// header, exact text, on `px` with fds `[cfd:ffff]`. Returns the index after it.
fn check_request_block(
    lines: &[String],
    at: usize,
    sid: &str,
    px: &str,
    cfd: &str,
    path: &str,
) -> usize {
    assert_eq!(
        lines[at],
        format!("{sid}:{px}.clireq[{cfd}:ffff]: GET {path} HTTP/1.1")
    );
    for (i, h) in REQUEST_HEADERS.iter().enumerate() {
        assert_eq!(
            lines[at + 1 + i],
            format!("{sid}:{px}.clihdr[{cfd}:ffff]: {h}")
        );
    }
    at + 1 + REQUEST_HEADERS.len()
}

/// Checks the response head block at `at`: srvrep then one srvhdr per header as the server
/// sent them, which is what the client got (`raw`) plus the headers in `dropped` that the
/// proxy removed before answering. Returns (server fd, next index).
fn check_response_block(
    lines: &[String],
    at: usize,
    sid: &str,
    px: &str,
    cfd: &str,
    raw: &[u8],
    dropped: &[&str],
) -> (String, usize) {
    let (status_line, mut headers) = head_lines(raw);
    headers.extend(dropped.iter().map(|h| h.to_string()));
    let (c, sfd) = fds_of(&lines[at]);
    assert_eq!(c, cfd);
    assert_ne!(sfd, "ffff", "srvrep without a server fd: {}", lines[at]);
    assert_eq!(
        lines[at],
        format!("{sid}:{px}.srvrep[{cfd}:{sfd}]: {status_line}")
    );
    for (i, h) in headers.iter().enumerate() {
        assert_eq!(
            lines[at + 1 + i],
            format!("{sid}:{px}.srvhdr[{cfd}:{sfd}]: {h}")
        );
    }
    (sfd, at + 1 + headers.len())
}

#[test]
fn trace_lines_follow_1_4_for_http_and_tcp() {
    let origins = start_origins(&["app1"]);
    let origin = origins.addrs[0];
    let scratch = Scratch::new();
    let (p_close, p_ka, p_tcp) = (free_port(), free_port(), free_port());
    let hx = Traced::start(
        &haproxide_bin(),
        &scratch,
        "haproxide",
        &["-d"],
        &config(p_close, p_ka, p_tcp, origin, ""),
        &[p_close, p_ka, p_tcp],
    );
    let pid = hx.pid();

    // --- session 0: option httpclose, one request ---
    let fe_close: SocketAddr = ([127, 0, 0, 1], p_close).into();
    let mut s = TcpStream::connect(fe_close).expect("connect fe_close");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let port = s.local_addr().unwrap().port();
    s.write_all(request("/trace?x=1").as_bytes()).unwrap();
    let res = read_response(&mut s, false).expect("response");
    assert_eq!(res.status, 200);
    drop(s);
    let lines = hx.wait_session(0, ".closed[");
    let (px, lfd, cfd, from) = parse_accept(&lines[0]);
    assert_eq!(
        (px.as_str(), from.as_str()),
        ("fe_close", format!("127.0.0.1:{port}").as_str())
    );
    assert_eq!(
        lines[0],
        format!("00000000:fe_close.accept({lfd})={cfd} from [127.0.0.1:{port}]")
    );
    assert!(
        is_socket_fd(pid, &lfd),
        "listener fd {lfd} is not a socket of haproxide"
    );
    let next = check_request_block(&lines, 1, "00000000", "fe_close", &cfd, "/trace?x=1");
    // The response head is printed on the backend, with the server connection's fd.
    let (sfd, next) =
        check_response_block(&lines, next, "00000000", "be_close", &cfd, &res.raw, &[]);
    assert_ne!(sfd, cfd);
    assert_eq!(
        lines[next..],
        [
            format!("00000000:be_close.srvcls[{cfd}:{sfd}]"),
            format!("00000000:be_close.clicls[{cfd}:{sfd}]"),
            format!("00000000:be_close.closed[{cfd}:{sfd}]"),
        ]
    );

    // --- session 1: http-server-close, two requests on one connection ---
    let fe_ka: SocketAddr = ([127, 0, 0, 1], p_ka).into();
    let mut s = TcpStream::connect(fe_ka).expect("connect fe_ka");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let port = s.local_addr().unwrap().port();
    s.write_all(request("/one").as_bytes()).unwrap();
    let res1 = read_response(&mut s, false).expect("first response");
    assert_eq!(res1.status, 200);
    let lines = hx.wait_session(1, "");
    let (_, _, cfd, _) = parse_accept(&lines[0]);
    // The client connection is open: its fd must be one of haproxide's sockets now.
    assert!(
        is_socket_fd(pid, &cfd),
        "client fd {cfd} is not a socket of haproxide"
    );
    s.write_all(request("/two").as_bytes()).unwrap();
    let res2 = read_response(&mut s, false).expect("second response");
    assert_eq!(res2.status, 200);
    drop(s);
    let lines = hx.wait_session(1, ".closed[");
    assert_eq!(lines[0], parse_accept_line(1, "fe_ka", &lines[0], port));
    let next = check_request_block(&lines, 1, "00000001", "fe_ka", &cfd, "/one");
    // The server answered `Connection: close` to the `Connection: close` the proxy sent it;
    // the client, kept alive, never sees that header, the trace does.
    let (_, next) = check_response_block(
        &lines,
        next,
        "00000001",
        "be_ka",
        &cfd,
        &res1.raw,
        &["Connection: close"],
    );
    // No srvcls between the transactions; the next request is on the frontend, `ffff` again.
    let next = check_request_block(&lines, next, "00000001", "fe_ka", &cfd, "/two");
    let (_, next) = check_response_block(
        &lines,
        next,
        "00000001",
        "be_ka",
        &cfd,
        &res2.raw,
        &["Connection: close"],
    );
    assert_eq!(
        lines[next..],
        [
            format!("00000001:fe_ka.clicls[{cfd}:ffff]"),
            format!("00000001:fe_ka.closed[{cfd}:ffff]"),
        ]
    );

    // --- session 2: TCP mode, only the accept and close lines ---
    let tcp: SocketAddr = ([127, 0, 0, 1], p_tcp).into();
    let mut s = TcpStream::connect(tcp).expect("connect tcp_l");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let port = s.local_addr().unwrap().port();
    s.write_all(b"GET /tcp HTTP/1.0\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    drop(s);
    let lines = hx.wait_session(2, ".closed[");
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert_eq!(lines[0], parse_accept_line(2, "tcp_l", &lines[0], port));
    let (cfd, sfd) = fds_of(&lines[1]);
    assert_ne!(sfd, "ffff");
    assert_eq!(
        lines[1..],
        [
            format!("00000002:tcp_l.srvcls[{cfd}:{sfd}]"),
            format!("00000002:tcp_l.clicls[{cfd}:{sfd}]"),
            format!("00000002:tcp_l.closed[{cfd}:{sfd}]"),
        ]
    );
    assert_eq!(parse_accept(&lines[0]).2, cfd);
    // Nothing but the startup line and the three sessions' lines on stdout.
    let other: Vec<String> = hx
        .stdout()
        .lines()
        .filter(|l| !(l.starts_with("0000000") && l.as_bytes().get(8) == Some(&b':')))
        .map(str::to_string)
        .collect();
    assert_eq!(other, ["Using epoll() as the polling mechanism."]);
}

/// The expected accept line of session `id` on `px` from 127.0.0.1:`port`, with the fds
/// taken from `line` (checked for shape by `parse_accept`).
fn parse_accept_line(id: u32, px: &str, line: &str, port: u16) -> String {
    let (_, lfd, cfd, _) = parse_accept(line);
    format!("{id:08x}:{px}.accept({lfd})={cfd} from [127.0.0.1:{port}]")
}

#[test]
fn debug_keyword_traces_and_db_does_not() {
    let origins = start_origins(&["app1"]);
    let origin = origins.addrs[0];
    let scratch = Scratch::new();

    // `debug` in global, nothing on the command line: foreground with the trace.
    let (a, b, c) = (free_port(), free_port(), free_port());
    let hx = Traced::start(
        &haproxide_bin(),
        &scratch,
        "keyword",
        &[],
        &config(a, b, c, origin, "    debug\n"),
        &[a, b, c],
    );
    let r = get(([127, 0, 0, 1], a).into(), "kw.test", "/kw", None).expect("response");
    assert_eq!(r.status, 200);
    let lines = hx.wait_session(0, ".closed[");
    assert!(
        lines[0].starts_with("00000000:fe_close.accept("),
        "{lines:#?}"
    );
    assert!(lines[1].ends_with("]: GET /kw HTTP/1.1"), "{lines:#?}");
    drop(hx);

    // -db: foreground without debug mode, nothing on stdout.
    let (a, b, c) = (free_port(), free_port(), free_port());
    let hx = Traced::start(
        &haproxide_bin(),
        &scratch,
        "quiet",
        &["-db"],
        &config(a, b, c, origin, ""),
        &[a, b, c],
    );
    let r = get(([127, 0, 0, 1], a).into(), "db.test", "/db", None).expect("response");
    assert_eq!(r.status, 200);
    // A second connection after the first ended: had the first been traced, its lines would
    // be out by the time this one is answered.
    let r = get(([127, 0, 0, 1], a).into(), "db.test", "/db2", None).expect("response");
    assert_eq!(r.status, 200);
    assert!(
        !wait_until(Duration::from_millis(300), || !hx.stdout().is_empty()),
        "stdout without debug mode: {:?}",
        hx.stdout()
    );
}

#[test]
fn request_head_lines_have_the_same_shape_as_haproxy_2_6() {
    let bin = haproxy26_bin().unwrap_or_else(|| {
        panic!("Debian's HAProxy (/usr/sbin/haproxy) is missing: run scripts/install-deps.sh")
    });
    let origins = start_origins(&["app1"]);
    let origin = origins.addrs[0];
    let scratch = Scratch::new();
    let mut seen = Vec::new();
    for (name, b) in [("haproxide", haproxide_bin()), ("haproxy26", bin)] {
        let (a, k, t) = (free_port(), free_port(), free_port());
        let px = Traced::start(
            &b,
            &scratch,
            name,
            &["-d"],
            &config(a, k, t, origin, ""),
            &[a, k, t],
        );
        let mut s = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], a))).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let port = s.local_addr().unwrap().port();
        s.write_all(request("/cmp").as_bytes()).unwrap();
        assert_eq!(read_response(&mut s, false).expect("response").status, 200);
        drop(s);
        let lines = px.wait_session(0, ".closed[");
        // 2.6 appends the negotiated ALPN to the accept line.
        let accept = lines[0].trim_end_matches(" ALPN=<none>");
        let (p, _, cfd, from) = parse_accept(accept);
        assert_eq!(
            (p.as_str(), from),
            ("fe_close", format!("127.0.0.1:{port}")),
            "{name}"
        );
        // The request head: same kinds, same request line; header text equal but for the
        // case of the names and the white space around values (2.6 rebuilds them from HTX),
        // and 2.6's `ffffffff` for "no server".
        let head: Vec<String> = lines[1..2 + REQUEST_HEADERS.len()]
            .iter()
            .map(|l| {
                let l = l
                    .replace(&format!("[{cfd}:ffffffff]"), "[C:ffff]")
                    .replace(&format!("[{cfd}:ffff]"), "[C:ffff]");
                match l.split_once("]: ") {
                    Some((kind, text)) => {
                        let words: Vec<&str> = text.split_whitespace().collect();
                        format!("{kind}]: {}", words.join(" ")).to_ascii_lowercase()
                    }
                    None => l,
                }
            })
            .collect();
        seen.push((name, head));
    }
    assert_eq!(seen[0].1, seen[1].1, "haproxide vs 2.6 request head lines");
}
