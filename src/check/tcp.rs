//! One health check on the wire: connect to the check address, send the probe of the
//! backend's check kind, read the reply under 1.4's timeouts, and turn it into a status.
//! A plain TCP check (no `option xxxchk`) passes as soon as the connection is established.
//!
//! Keywords: server `check`, `addr`, `port`, `inter`, `source`; proxy `source`, `timeout
//! check`, `timeout connect`; global `tune.chksize`.
//!
//! Compare with 1.4 `src/checks.c` (`process_chk` connection setup and timeouts,
//! `event_srv_chk_w`, `event_srv_chk_r`) and the `do_check` part of `src/cfgparse.c` (check
//! port selection).
//!
//! Timeouts, as 1.4: without `timeout check`, connect + request + response must all fit in
//! `inter` from the start of the check. With `timeout check`, the connection must be up
//! within `inter` and within `timeout connect` (when set), then the response must come
//! within `timeout check` from the moment the request was sent.
//!
//! Cost: everything is async on the caller's runtime; the only buffer is the reply, grown in
//! 2 KiB steps up to `tune.chksize` and freed with the check. Connections we close first are
//! reset (zero linger) so checks do not pile up TIME_WAIT sockets, as 1.4 does.

use super::http::{self, HttpRules};
use super::proto;
use super::state::{cstr, CheckOutcome, ServerId, CHECK_DESC_MAX};
use crate::log::{self, CheckStatus};
use crate::runtime::{Proxy, Runtime};
use parser::ir::{self, CheckKind, HttpExpect, ServerPort};
use socket2::SockRef;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{timeout_at, Instant};

/// 1.4's default `tune.chksize`.
pub const DEFAULT_CHKSIZE: usize = 16384;

/// Bytes read from the socket per call.
const READ_CHUNK: usize = 2048;

/// A status with its code and text, before the check duration is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: CheckStatus,
    pub code: i32,
    /// Cut at the first NUL and at 127 bytes, as 1.4's `check_desc`.
    pub info: Vec<u8>,
}

impl Reply {
    pub fn new(status: CheckStatus, code: i32, info: &[u8]) -> Self {
        let info = cstr(info);
        Reply {
            status,
            code,
            info: info[..info.len().min(CHECK_DESC_MAX)].to_vec(),
        }
    }
}

/// What a check sends and how it reads the reply, from the backend's check kind.
#[derive(Clone, Debug)]
pub enum Probe {
    /// Connect only.
    Tcp,
    Http {
        /// `<method> <uri> <version>\r\n`.
        line: Vec<u8>,
        send_state: bool,
        disable_on_404: bool,
        expect: Option<HttpExpect>,
    },
    SslHello,
    Smtp {
        request: Vec<u8>,
    },
    Mysql {
        /// Empty without `user`: only the greeting is read.
        request: Vec<u8>,
    },
    Ldap,
}

impl Probe {
    /// The probe of `px`'s `option xxxchk` (plain TCP without one).
    pub fn for_proxy(px: &Proxy) -> Probe {
        match &px.cfg.check.node {
            CheckKind::Tcp => Probe::Tcp,
            CheckKind::Http {
                method,
                uri,
                version,
            } => Probe::Http {
                line: http::request_line(method, uri, version),
                send_state: px.cfg.http_check.send_state.is_some(),
                disable_on_404: px.cfg.http_check.disable_on_404.is_some(),
                expect: px.cfg.http_check.expect.as_ref().map(|e| e.node.clone()),
            },
            CheckKind::SslHello => Probe::SslHello,
            CheckKind::Smtp { verb, domain } => Probe::Smtp {
                request: proto::smtp_request(verb, domain),
            },
            CheckKind::Mysql { user } => Probe::Mysql {
                request: proto::mysql_request(user.as_deref()),
            },
            CheckKind::Ldap => Probe::Ldap,
        }
    }

    /// The status when the reply does not come in time (1.4: `L6TOUT` for SSL, `L7TOUT`
    /// for the other protocols).
    fn read_timeout_status(&self) -> CheckStatus {
        match self {
            Probe::SslHello => CheckStatus::L6Tout,
            _ => CheckStatus::L7Tout,
        }
    }
}

/// Why a server cannot be checked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    /// 1.4 refuses the configuration with this alert; a parser that let it through gets the
    /// server skipped instead.
    #[error("server {server} has neither service port nor check port. Check has been disabled.")]
    NoPort { server: String },
    #[error("no such server")]
    NoServer,
}

/// Everything one server's checks need, computed once.
#[derive(Clone, Debug)]
pub struct CheckPlan {
    pub target: SocketAddr,
    /// `source` of the server, else of the proxy.
    pub source: Option<ir::Source>,
    /// Whether `source` came from the server line (for the alert wording).
    pub server_source: bool,
    pub probe: Probe,
    pub inter: Duration,
    pub timeout_connect: Option<Duration>,
    pub timeout_check: Option<Duration>,
    pub chksize: usize,
}

impl CheckPlan {
    /// The check address (`addr`, else the server's address; a server without one is
    /// checked on 0.0.0.0, i.e. this host, as 1.4 does), the check port (`port`, else the
    /// server's port, else the port of the proxy's last listener), the probe and timeouts.
    pub fn new(rt: &Runtime, id: ServerId) -> Result<CheckPlan, PlanError> {
        let px = rt.proxies.get(id.proxy).ok_or(PlanError::NoServer)?;
        let s = px.servers.get(id.server).ok_or(PlanError::NoServer)?;
        let c = &s.cfg;
        let ip = c
            .check_addr
            .or(c.addr.ip)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let port = c
            .check_port
            .filter(|&p| p != 0)
            .or(match c.addr.port {
                ServerPort::Fixed(p) if p != 0 => Some(p),
                _ => None,
            })
            .or_else(|| px.cfg.binds.last().map(|b| b.port_hi).filter(|&p| p != 0))
            .ok_or_else(|| PlanError::NoPort {
                server: c.name.clone(),
            })?;
        let ms = |v: &Option<parser::span::Spanned<u32>>| {
            v.as_ref()
                .filter(|t| t.node > 0)
                .map(|t| Duration::from_millis(u64::from(t.node)))
        };
        let chksize = rt
            .config
            .global
            .tune
            .chksize
            .as_ref()
            .map_or(DEFAULT_CHKSIZE, |v| v.node as usize)
            .max(2);
        Ok(CheckPlan {
            target: SocketAddr::new(ip, port),
            source: c
                .source
                .clone()
                .or_else(|| px.cfg.source.as_ref().map(|s| s.node.clone())),
            server_source: c.source.is_some(),
            probe: Probe::for_proxy(px),
            inter: Duration::from_millis(u64::from(c.inter.max(1))),
            timeout_connect: ms(&px.cfg.timeouts.connect),
            timeout_check: ms(&px.cfg.timeouts.check),
            chksize,
        })
    }
}

/// The `strerror` text of an I/O error, as 1.4 puts it in the check info.
fn strerror(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    }
}

/// Resets the connection on close instead of leaving a TIME_WAIT socket.
fn abort_on_close(stream: &TcpStream) {
    let _ = SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

/// Binds the check socket to `source` (a port range is tried from a varying offset, ten
/// attempts as 1.4).
fn bind_source(sock: &TcpSocket, src: &ir::Source, salt: u64) -> io::Result<()> {
    if src.port_lo >= src.port_hi {
        return sock.bind(SocketAddr::new(src.addr, src.port_lo));
    }
    let span = u64::from(src.port_hi - src.port_lo) + 1;
    let mut last = io::Error::from(io::ErrorKind::AddrInUse);
    for i in 0..10u64 {
        let port = src.port_lo as u64 + (salt.wrapping_add(i * 7919)) % span;
        match sock.bind(SocketAddr::new(src.addr, port as u16)) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The request bytes of `probe` for this check (the send-state header and the SSL time are
/// computed now).
fn request(rt: &Runtime, id: ServerId, probe: &Probe) -> Vec<u8> {
    match probe {
        Probe::Tcp => Vec::new(),
        Probe::Http {
            line, send_state, ..
        } => {
            let header =
                send_state.then(|| http::send_state_header(rt, id, std::time::Instant::now()));
            http::request_bytes(line, header.as_deref())
        }
        Probe::SslHello => proto::ssl_hello(crate::counters::now_sec()),
        Probe::Smtp { request } | Probe::Mysql { request } => request.clone(),
        Probe::Ldap => proto::LDAP_BIND_REQUEST.to_vec(),
    }
}

/// Judges the reply bytes received so far (`None`: wait for more).
fn judge(rt: &Runtime, id: ServerId, probe: &Probe, data: &[u8], done: bool) -> Option<Reply> {
    match probe {
        Probe::Tcp => Some(Reply::new(CheckStatus::L4Ok, 0, b"")),
        Probe::Http {
            disable_on_404,
            expect,
            ..
        } => {
            let up = rt
                .proxies
                .get(id.proxy)
                .and_then(|p| p.servers.get(id.server))
                .is_some_and(|s| s.up.load(Relaxed));
            let rules = HttpRules {
                disable_on_404_up: *disable_on_404 && up,
                expect: expect.as_ref(),
            };
            http::evaluate(data, done, &rules)
        }
        Probe::SslHello => proto::evaluate_ssl(data, done),
        Probe::Smtp { .. } => proto::evaluate_smtp(data, done),
        Probe::Mysql { request } => proto::evaluate_mysql(data, done, !request.is_empty()),
        Probe::Ldap => proto::evaluate_ldap(data, done),
    }
}

fn elapsed_ms(start: Instant) -> i64 {
    i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// Runs one check of server `id` following `plan` and returns its outcome (status, code,
/// info, duration). Never fails: every error is a check status.
pub async fn run_check(rt: &Runtime, id: ServerId, plan: &CheckPlan) -> CheckOutcome {
    let start = Instant::now();
    let finish = |r: Reply| CheckOutcome::new(r.status, r.code, &r.info, elapsed_ms(start));
    let plain = |status: CheckStatus, info: &[u8]| finish(Reply::new(status, 0, info));

    let mut connect_deadline = start + plan.inter;
    if let (Some(_), Some(tc)) = (plan.timeout_check, plan.timeout_connect) {
        connect_deadline = connect_deadline.min(start + tc);
    }
    let sock = match plan.target {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    };
    let sock = match sock {
        Ok(s) => s,
        Err(e) => return plain(CheckStatus::SockErr, strerror(&e).as_bytes()),
    };
    let _ = sock.set_nodelay(true);
    if let Some(src) = &plan.source {
        let salt = start.elapsed().subsec_nanos() as u64 ^ (id.server as u64) << 16;
        if bind_source(&sock, src, salt).is_err() {
            let (px, srv) = rt
                .proxies
                .get(id.proxy)
                .map(|p| {
                    let s = p.servers.get(id.server).map_or("", |s| s.cfg.name.as_str());
                    (p, s)
                })
                .unzip();
            if let (Some(px), Some(srv)) = (px, srv) {
                log::stderr_alert(&if plan.server_source {
                    format!(
                        "Cannot bind to source address before connect() for server {}/{srv}. Aborting.",
                        px.name()
                    )
                } else {
                    format!(
                        "Cannot bind to source address before connect() for {} '{}'. Aborting.",
                        log::proxy_type_str(px.cfg.kind),
                        px.name()
                    )
                });
            }
            return plain(CheckStatus::SockErr, b"");
        }
    }
    let mut stream = match timeout_at(connect_deadline, sock.connect(plan.target)).await {
        Err(_) => return plain(CheckStatus::L4Tout, b""),
        Ok(Err(e)) => return plain(CheckStatus::L4Con, strerror(&e).as_bytes()),
        Ok(Ok(s)) => s,
    };
    if matches!(plan.probe, Probe::Tcp) {
        let out = plain(CheckStatus::L4Ok, b"");
        abort_on_close(&stream);
        return out;
    }

    let req = request(rt, id, &plan.probe);
    if !req.is_empty() {
        match timeout_at(connect_deadline, stream.write_all(&req)).await {
            Err(_) => {
                abort_on_close(&stream);
                return plain(CheckStatus::L4Tout, b"");
            }
            Ok(Err(e)) => {
                abort_on_close(&stream);
                let status = match e.raw_os_error() {
                    Some(libc::ECONNREFUSED) | Some(libc::ENETUNREACH) => CheckStatus::L4Con,
                    _ => CheckStatus::SockErr,
                };
                return plain(status, strerror(&e).as_bytes());
            }
            Ok(Ok(())) => {}
        }
    }
    let read_deadline = match plan.timeout_check {
        Some(t) => Instant::now() + t,
        None => connect_deadline,
    };

    let mut data: Vec<u8> = Vec::new();
    let mut chunk = [0u8; READ_CHUNK];
    let mut closed_by_server = false;
    let reply = loop {
        let mut done = false;
        if data.len() >= plan.chksize {
            done = true;
        } else {
            let want = READ_CHUNK.min(plan.chksize - data.len());
            match timeout_at(read_deadline, stream.read(&mut chunk[..want])).await {
                Err(_) => break Reply::new(plan.probe.read_timeout_status(), 0, b""),
                Ok(Ok(0)) => {
                    done = true;
                    closed_by_server = true;
                }
                Ok(Ok(n)) => data.extend_from_slice(&chunk[..n]),
                Ok(Err(_)) => {
                    done = true;
                    closed_by_server = true;
                    // An error after some data lets the data decide (a reset often follows
                    // the last segment); without data it is a socket error.
                    if data.is_empty() {
                        break Reply::new(CheckStatus::SockErr, 0, b"");
                    }
                }
            }
        }
        // A full buffer loses its last byte to 1.4's string terminator.
        let view = if data.len() >= plan.chksize {
            &data[..plan.chksize - 1]
        } else {
            &data[..]
        };
        if let Some(r) = judge(rt, id, &plan.probe, view, done) {
            break r;
        }
        if done {
            // Every judge decides once done; keep a status if one ever does not.
            break Reply::new(CheckStatus::L7Rsp, 0, view);
        }
    };
    let out = finish(reply);
    if !closed_by_server {
        abort_on_close(&stream);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::test_support::*;
    use parser::ir::{HttpExpectKind, Timeouts};
    use parser::span::Spanned;
    use std::sync::Arc;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    /// A loopback server that answers each connection with `reply` after reading what the
    /// check sends (up to `read` bytes or a short pause), then closes; the requests it saw
    /// are returned through the channel.
    pub async fn reply_server(
        reply: Vec<u8>,
        read_first: bool,
    ) -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let Ok((mut c, _)) = l.accept().await else {
                    return;
                };
                let reply = reply.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    if read_first {
                        let mut buf = [0u8; 4096];
                        // Read until the request looks complete or a short pause.
                        while let Ok(Ok(n)) =
                            tokio::time::timeout(Duration::from_millis(100), c.read(&mut buf)).await
                        {
                            if n == 0 {
                                break;
                            }
                            got.extend_from_slice(&buf[..n]);
                            if got.ends_with(b"\r\n\r\n") || got.len() >= 126 {
                                break;
                            }
                        }
                    }
                    let _ = tx.send(got);
                    let _ = c.write_all(&reply).await;
                    let _ = c.shutdown().await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                });
            }
        });
        (addr, rx)
    }

    /// A runtime with one backend `bk` of `kind` and one server checking `addr`.
    pub fn one_server(
        addr: SocketAddr,
        kind: CheckKind,
        f: impl FnOnce(&mut ir::Proxy),
    ) -> Arc<Runtime> {
        let mut b = backend("bk", vec![server_at("s1", addr, 500, 2, 3)]);
        b.check = sp(kind);
        f(&mut b);
        Arc::new(runtime(vec![b]))
    }

    async fn check_once(rt: &Runtime) -> CheckOutcome {
        let plan = CheckPlan::new(rt, sid(0, 0)).unwrap();
        run_check(rt, sid(0, 0), &plan).await
    }

    fn http_kind() -> CheckKind {
        CheckKind::Http {
            method: "OPTIONS".into(),
            uri: "/".into(),
            version: "HTTP/1.0".into(),
        }
    }

    /// A port nothing listens on.
    async fn closed_port() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = l.local_addr().unwrap();
        drop(l);
        a
    }

    #[tokio::test]
    async fn tcp_up_and_refused() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let rt = one_server(addr, CheckKind::Tcp, |_| {});
        let o = check_once(&rt).await;
        assert_eq!(o.status, CheckStatus::L4Ok);
        assert!(o.info.is_empty() && o.duration_ms >= 0);
        drop(l);
        let o = check_once(&rt).await;
        assert_eq!(o.status, CheckStatus::L4Con);
        assert_eq!(o.info, b"Connection refused");
    }

    #[tokio::test]
    async fn connect_timeout_is_l4tout() {
        // A listener whose accept queue is full: Linux drops further SYNs, so the check's
        // connect hangs until `inter`.
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        sock.listen(0).unwrap();
        let addr = sock.local_addr().unwrap().as_socket().unwrap();
        let mut fillers = Vec::new();
        for _ in 0..4 {
            let c =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            c.set_nonblocking(true).unwrap();
            let _ = c.connect(&addr.into());
            fillers.push(c);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let rt = one_server(addr, CheckKind::Tcp, |b| {
            b.servers[0].inter = 150;
        });
        let t = std::time::Instant::now();
        let o = check_once(&rt).await;
        assert_eq!(o.status, CheckStatus::L4Tout, "{o:?}");
        assert!(o.info.is_empty());
        assert!(t.elapsed() >= Duration::from_millis(140) && t.elapsed() < Duration::from_secs(2));
        drop(fillers);
    }

    #[tokio::test]
    async fn httpchk_statuses() {
        for (resp, status, code, info) in [
            (
                &b"HTTP/1.0 200 OK\r\n\r\n"[..],
                CheckStatus::L7Ok,
                200,
                &b"OK"[..],
            ),
            (
                b"HTTP/1.1 500 Server Error\r\n\r\n",
                CheckStatus::L7Sts,
                500,
                b"Server Error",
            ),
            (
                b"HTTP/1.1 404 Not Found\r\n\r\n",
                CheckStatus::L7Sts,
                404,
                b"Not Found",
            ),
            (b"garbage here\r\n", CheckStatus::L7Rsp, 0, b"garbage here"),
        ] {
            let (addr, mut seen) = reply_server(resp.to_vec(), true).await;
            let rt = one_server(addr, http_kind(), |_| {});
            let o = check_once(&rt).await;
            assert_eq!((o.status, o.code, &o.info[..]), (status, code, info));
            assert_eq!(seen.recv().await.unwrap(), b"OPTIONS / HTTP/1.0\r\n\r\n");
        }
    }

    #[tokio::test]
    async fn httpchk_sends_state_and_headers() {
        let (addr, mut seen) = reply_server(b"HTTP/1.0 200 OK\r\n\r\n".to_vec(), true).await;
        let rt = one_server(
            addr,
            CheckKind::Http {
                method: "GET".into(),
                uri: "/health".into(),
                version: "HTTP/1.1\r\nHost: www".into(),
            },
            |b| b.http_check.send_state = Some(parser::span::Span::builtin()),
        );
        assert_eq!(check_once(&rt).await.status, CheckStatus::L7Ok);
        assert_eq!(
            String::from_utf8(seen.recv().await.unwrap()).unwrap(),
            "GET /health HTTP/1.1\r\nHost: www\r\nX-Haproxy-Server-State: UP 1/3; name=bk/s1; \
             node=node1; weight=1/1; scur=0/0; qcur=0\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn httpchk_timeout_is_l7tout() {
        // Accepts and never answers.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let mut v = Vec::new();
            while let Ok((c, _)) = l.accept().await {
                v.push(c);
            }
        });
        let rt = one_server(addr, http_kind(), |b| {
            b.servers[0].inter = 5000;
            b.timeouts = Timeouts {
                check: Some(Spanned::new(parser::span::Span::builtin(), 120)),
                connect: Some(Spanned::new(parser::span::Span::builtin(), 1000)),
                ..Default::default()
            };
        });
        let t = std::time::Instant::now();
        let o = check_once(&rt).await;
        assert_eq!(o.status, CheckStatus::L7Tout);
        // Bounded by `timeout check`, not by `inter`.
        assert!(
            t.elapsed() < Duration::from_millis(1500),
            "{:?}",
            t.elapsed()
        );
        assert!(o.duration_ms >= 100);
        hold.abort();
    }

    #[tokio::test]
    async fn httpchk_expect_string_reads_body_until_close() {
        // The body arrives in two parts, the match is in the second.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut c, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut b = [0u8; 512];
                    let _ = c.read(&mut b).await;
                    let _ = c.write_all(b"HTTP/1.0 200 OK\r\n\r\nstatus: ").await;
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    let _ = c.write_all(b"ALIVE\n").await;
                });
            }
        });
        let rt = one_server(addr, http_kind(), |b| {
            b.http_check.expect = Some(sp(HttpExpect {
                negate: false,
                kind: HttpExpectKind::String(b"ALIVE".to_vec()),
            }));
        });
        let o = check_once(&rt).await;
        assert_eq!(o.status, CheckStatus::L7Ok);
        assert_eq!(o.info, b"HTTP content check matched");
    }

    #[tokio::test]
    async fn chksize_bounds_the_reply() {
        // An endless body without the expected string: decided at chksize, not at timeout.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut c, _)) = l.accept().await {
                tokio::spawn(async move {
                    let _ = c.write_all(b"HTTP/1.0 200 OK\r\n\r\n").await;
                    let filler = [b'x'; 1024];
                    while c.write_all(&filler).await.is_ok() {}
                });
            }
        });
        let rt = one_server(addr, http_kind(), |b| {
            b.servers[0].inter = 3000;
            b.http_check.expect = Some(sp(HttpExpect {
                negate: false,
                kind: HttpExpectKind::String(b"ALIVE".to_vec()),
            }));
        });
        let t = std::time::Instant::now();
        let o = check_once(&rt).await;
        assert_eq!(o.status, CheckStatus::L7Rsp);
        assert_eq!(o.info, b"HTTP content check did not match");
        assert!(t.elapsed() < Duration::from_millis(2000));
    }

    #[tokio::test]
    async fn ssl_hello_check() {
        let (addr, mut seen) = reply_server(b"\x16\x03\x00\x00\x4a\x02".to_vec(), true).await;
        let rt = one_server(addr, CheckKind::SslHello, |_| {});
        assert_eq!(check_once(&rt).await.status, CheckStatus::L6Ok);
        let hello = seen.recv().await.unwrap();
        assert_eq!(hello.len(), 126);
        assert_eq!(&hello[..11], &proto::ssl_hello(0)[..11]);
        let (addr, _) = reply_server(b"HTTP/1.0 400 Bad request\r\n".to_vec(), true).await;
        let rt = one_server(addr, CheckKind::SslHello, |_| {});
        assert_eq!(check_once(&rt).await.status, CheckStatus::L6Rsp);
    }

    #[tokio::test]
    async fn smtp_check() {
        let (addr, mut seen) = reply_server(b"250 mx.example.com\r\n".to_vec(), true).await;
        let rt = one_server(
            addr,
            CheckKind::Smtp {
                verb: "EHLO".into(),
                domain: "checker.example".into(),
            },
            |_| {},
        );
        let o = check_once(&rt).await;
        assert_eq!(
            (o.status, o.code, &o.info[..]),
            (CheckStatus::L7Ok, 250, &b"mx.example.com"[..])
        );
        assert_eq!(seen.recv().await.unwrap(), b"EHLO checker.example\r\n");
        // A banner sent before reading anything also decides.
        let (addr, _) = reply_server(b"421 busy\r\n".to_vec(), false).await;
        let rt = one_server(
            addr,
            CheckKind::Smtp {
                verb: "HELO".into(),
                domain: "localhost".into(),
            },
            |_| {},
        );
        let o = check_once(&rt).await;
        assert_eq!((o.status, o.code), (CheckStatus::L7Sts, 421));
    }

    #[tokio::test]
    async fn mysql_checks() {
        use proto::tests::{mysql_error, mysql_greeting, mysql_ok};
        // Old mode: greeting only, nothing sent.
        let (addr, mut seen) = reply_server(mysql_greeting(), false).await;
        let rt = one_server(addr, CheckKind::Mysql { user: None }, |_| {});
        let o = check_once(&rt).await;
        assert_eq!(
            (o.status, &o.info[..]),
            (CheckStatus::L7Ok, &b"5.1.73-log"[..])
        );
        assert!(seen.recv().await.unwrap().is_empty());
        // With a user: greeting + OK.
        let mut r = mysql_greeting();
        r.extend_from_slice(&mysql_ok(2));
        let (addr, mut seen) = reply_server(r, true).await;
        let rt = one_server(
            addr,
            CheckKind::Mysql {
                user: Some("haproxy".into()),
            },
            |_| {},
        );
        assert_eq!(check_once(&rt).await.status, CheckStatus::L7Ok);
        assert_eq!(
            seen.recv().await.unwrap(),
            proto::mysql_request(Some("haproxy"))
        );
        let mut r = mysql_greeting();
        r.extend_from_slice(&mysql_error(2, "Access denied"));
        let (addr, _) = reply_server(r, true).await;
        let rt = one_server(
            addr,
            CheckKind::Mysql {
                user: Some("haproxy".into()),
            },
            |_| {},
        );
        let o = check_once(&rt).await;
        assert_eq!(
            (o.status, &o.info[..]),
            (CheckStatus::L7Sts, &b"#28000Access denied"[..])
        );
    }

    #[tokio::test]
    async fn ldap_check() {
        use proto::tests::ldap_response;
        let (addr, mut seen) = reply_server(ldap_response(0), true).await;
        let rt = one_server(addr, CheckKind::Ldap, |_| {});
        let o = check_once(&rt).await;
        assert_eq!(
            (o.status, &o.info[..]),
            (CheckStatus::L7Ok, &b"Success"[..])
        );
        assert_eq!(seen.recv().await.unwrap(), proto::LDAP_BIND_REQUEST);
        let (addr, _) = reply_server(ldap_response(49), true).await;
        let rt = one_server(addr, CheckKind::Ldap, |_| {});
        let o = check_once(&rt).await;
        assert_eq!((o.status, o.code), (CheckStatus::L7Sts, 49));
    }

    #[tokio::test]
    async fn check_port_and_addr_overrides() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let dead = closed_port().await;
        // Traffic port is dead, check port alive.
        let rt = one_server(dead, CheckKind::Tcp, |b| {
            b.servers[0].check_port = Some(addr.port());
        });
        assert_eq!(check_once(&rt).await.status, CheckStatus::L4Ok);
        // Server address without IP, `addr` gives the check address.
        let rt = one_server(dead, CheckKind::Tcp, |b| {
            b.servers[0].addr.ip = None;
            b.servers[0].check_addr = Some(addr.ip());
            b.servers[0].check_port = Some(addr.port());
        });
        let plan = CheckPlan::new(&rt, sid(0, 0)).unwrap();
        assert_eq!(plan.target, addr);
        // No port at all: not checkable.
        let rt = one_server(dead, CheckKind::Tcp, |b| {
            b.servers[0].addr.port = ServerPort::Same;
        });
        assert_eq!(
            CheckPlan::new(&rt, sid(0, 0)).unwrap_err().to_string(),
            "server s1 has neither service port nor check port. Check has been disabled."
        );
        // Source address binding.
        let rt = one_server(addr, CheckKind::Tcp, |b| {
            b.servers[0].source = Some(ir::Source {
                addr: "127.0.0.1".parse().unwrap(),
                port_lo: 0,
                port_hi: 0,
                usesrc: None,
                interface: None,
            });
        });
        assert_eq!(check_once(&rt).await.status, CheckStatus::L4Ok);
        let rt = one_server(addr, CheckKind::Tcp, |b| {
            b.servers[0].source = Some(ir::Source {
                addr: "192.0.2.123".parse().unwrap(),
                port_lo: 0,
                port_hi: 0,
                usesrc: None,
                interface: None,
            });
        });
        assert_eq!(check_once(&rt).await.status, CheckStatus::SockErr);
    }
}
