//! Server connection with 1.4's retry rules (`src/session.c` `sess_update_st_cer`,
//! `sess_update_stream_int`; `src/backend.c` `srv_redispatch_connect`):
//!
//! * `retries N` gives N+1 attempts. A failed attempt is retried on the same server.
//! * After an asynchronous connection error (refused, reset, unreachable) 1.4 waits one second
//!   before the next attempt ("turn-around"); after a connect timeout it retries at once.
//! * With `option redispatch`, the last retry gives up persistence and load-balances again,
//!   avoiding the server that failed (counted as a redispatch, logged with a `+`).
//! * With `option abortonclose`, a client that closes while we are still connecting or waiting
//!   in turn-around aborts the attempt (termination `CC`).
//! * A server at its `maxconn` makes the request wait in its queue (`timeout queue`, default
//!   `timeout connect`), `maxqueue` bounding it.

use crate::lb::NoPick;
use crate::runtime::{Proxy, Server};
use parser::ir::{Source, UseSrc};
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// 1.4's turn-around delay after an asynchronous connection error.
pub const TURN_AROUND: Duration = Duration::from_secs(1);

/// Why no server connection could be made (all map to a 503 in HTTP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectFail {
    /// No usable server (`<NOSRV>`, termination `SC`).
    NoServer,
    /// Every attempt was refused or failed (`SC`).
    Refused,
    /// The last attempt timed out (`sC`).
    Timeout,
    /// Waited in a queue until `timeout queue` (`sQ`).
    QueueTimeout,
    /// The server's queue was full (`SQ`).
    QueueFull,
    /// The client went away while we were connecting (`CC`) or queued (`CQ`).
    ClientAbort { queued: bool },
    /// The chosen server has `redir <prefix>` and the request may be redirected (GET/HEAD):
    /// answer a 302 instead of connecting.
    Redirect,
}

/// A successful connection.
#[derive(Debug)]
pub struct Connected {
    pub stream: TcpStream,
    /// Server index in the backend, `None` for `dispatch`/transparent targets.
    pub server: Option<usize>,
    /// Attempts beyond the first.
    pub retries: u32,
    pub redispatched: bool,
    /// Time spent queued (Tw) and connecting (Tc), in ms.
    pub t_queue_ms: i64,
    pub t_connect_ms: i64,
}

/// Inputs of one connection setup.
pub struct ConnectReq<'a> {
    pub be: &'a Proxy,
    /// Server chosen by persistence (cookie, appsession, stick) before load balancing.
    pub direct: Option<usize>,
    /// `force-persist` matched: never redispatch.
    pub force_persist: bool,
    /// Where the client connected to (servers without an address use it).
    pub client_dst: SocketAddr,
    /// The client's address (for `usesrc client|clientip`).
    pub client_src: SocketAddr,
    /// Where to go when the backend has no server: `dispatch`, `option transparent` (the
    /// client's destination) or `option http_proxy` (the address in the request URI).
    pub fallback: Option<SocketAddr>,
    /// `usesrc hdr_ip(...)`: the address read from the request header, when present.
    pub hdr_ip: Option<std::net::IpAddr>,
    /// The request is a GET or HEAD: a server with `redir` answers with a redirect.
    pub redirectable: bool,
    /// `tune.{rcv,snd}buf.server`.
    pub sockbuf: crate::runtime::SockBufs,
    /// `option tcp-smart-connect`: no quick ACK, the request rides on the handshake's ACK.
    pub smart_connect: bool,
    pub tcpka: bool,
    pub nolinger: bool,
}

/// What a failed attempt looked like, for the turn-around decision.
enum AttemptErr {
    Timeout,
    Error,
}

/// One connection attempt to `addr` from `source`, bounded by `connect_to`
/// (`timeout connect`).
async fn attempt(
    req: &ConnectReq<'_>,
    addr: SocketAddr,
    source: Option<&Source>,
    connect_to: Option<Duration>,
) -> Result<TcpStream, AttemptErr> {
    let fut = tcp_connect(
        addr,
        req.tcpka,
        source,
        req.client_src,
        req.hdr_ip,
        &req.sockbuf,
        req.smart_connect,
    );
    match connect_to {
        Some(d) => match tokio::time::timeout(d, fut).await {
            Ok(r) => r.map_err(|_| AttemptErr::Error),
            Err(_) => Err(AttemptErr::Timeout),
        },
        None => fut.await.map_err(|_| AttemptErr::Error),
    }
}

/// Connects to a server of `req.be`, choosing with `pick(avoid)` when nothing is assigned.
/// `client_gone` resolves when the client aborted (only consulted when `abortonclose`).
/// Returns the failure with the server last tried.
pub async fn connect<P, A>(
    req: &ConnectReq<'_>,
    mut pick: P,
    client_gone: A,
) -> Result<Connected, (ConnectFail, Option<usize>, u32)>
where
    P: FnMut(Option<usize>) -> Result<usize, NoPick>,
    A: std::future::Future<Output = ()>,
{
    let be = req.be;
    let retries = be.retries();
    let mut left = i64::from(retries);
    let connect_to = Proxy::timeout(&be.cfg.timeouts.connect);
    let queue_to = Proxy::timeout(&be.cfg.timeouts.queue).or(connect_to);
    let abort_on_close = be.cfg.options.abortonclose.is_some();
    let redispatch = be.cfg.options.redispatch.is_some() && !req.force_persist;
    let started = Instant::now();
    let queue_deadline = queue_to.map(|d| started + d);
    let mut assigned = req.direct;
    let mut direct = req.direct.is_some();
    let mut prev: Option<usize> = None;
    let mut redispatched = false;
    let mut tries: u32 = 0;
    let mut t_queue_ms = 0i64;
    tokio::pin!(client_gone);
    if be.servers.is_empty() {
        return match req.fallback {
            Some(addr) => {
                connect_fixed(req, addr, connect_to, left, abort_on_close, client_gone).await
            }
            None => Err((ConnectFail::NoServer, None, 0)),
        };
    }
    loop {
        // Assign a server when persistence did not (or was given up), then take a slot on
        // it, waiting in the server's or the backend's queue when it is saturated.
        let srv_idx = loop {
            let i = match assigned {
                Some(i) => i,
                None => match pick(prev) {
                    Ok(i) => {
                        // 1.4 `assign_server_and_queue`: a new server after a failed one is
                        // a redispatch, counted on the server left behind and the backend;
                        // the same server again is a retry.
                        if let Some(p) = prev.filter(|_| !redispatched) {
                            let c = &be.servers[p].counters;
                            if p != i {
                                c.wredis.fetch_add(1, Relaxed);
                                be.be_counters.wredis.fetch_add(1, Relaxed);
                                redispatched = true;
                            } else {
                                c.wretr.fetch_add(1, Relaxed);
                                be.be_counters.wretr.fetch_add(1, Relaxed);
                            }
                        }
                        be.servers[i].counters.lbtot.fetch_add(1, Relaxed);
                        be.be_counters.lbtot.fetch_add(1, Relaxed);
                        i
                    }
                    Err(NoPick::NoServer) => return Err((ConnectFail::NoServer, None, tries)),
                    Err(NoPick::Full) => {
                        // Every server is saturated: wait in the backend queue.
                        let r = wait_queue(
                            &be.queue,
                            &be.nbpend,
                            &be.be_counters,
                            queue_deadline,
                            abort_on_close,
                            &mut client_gone,
                            || be.servers.iter().any(|s| !be.server_saturated(s)),
                        )
                        .await;
                        if let Err(f) = r {
                            return Err((f, None, tries));
                        }
                        continue;
                    }
                },
            };
            assigned = Some(i);
            let srv = &be.servers[i];
            if !be.server_saturated(srv) && be.try_take_slot(i) {
                break i;
            }
            // Saturated: queue on this server, unless its queue is full.
            if srv.cfg.maxqueue > 0 && srv.nbpend.load(Relaxed) >= srv.cfg.maxqueue {
                if direct && redispatch {
                    // A persistent request may go elsewhere rather than fail.
                    direct = false;
                    assigned = None;
                    prev = Some(i);
                    continue;
                }
                return Err((ConnectFail::QueueFull, Some(i), tries));
            }
            let r = wait_queue(
                &srv.queue,
                &srv.nbpend,
                &srv.counters,
                queue_deadline,
                abort_on_close,
                &mut client_gone,
                || be.server_limit(srv) == 0 || srv.cur_sess.load(Relaxed) < be.server_limit(srv),
            )
            .await;
            if let Err(f) = r {
                return Err((f, Some(i), tries));
            }
            if be.try_take_slot(i) {
                break i;
            }
        };
        if tries == 0 {
            t_queue_ms = started.elapsed().as_millis() as i64;
        }
        let srv = &be.servers[srv_idx];
        if req.redirectable && srv.cfg.redir.is_some() {
            be.server_conn_end(srv_idx);
            return Err((ConnectFail::Redirect, Some(srv_idx), tries));
        }
        let addr = server_addr(srv, req.client_dst);
        let source = srv
            .cfg
            .source
            .as_ref()
            .or(be.cfg.source.as_ref().map(|s| &s.node));
        let t0 = Instant::now();
        let this_try = attempt(req, addr, source, connect_to);
        let result = tokio::select! {
            r = this_try => r,
            _ = &mut client_gone, if abort_on_close => {
                be.server_conn_end(srv_idx);
                return Err((ConnectFail::ClientAbort { queued: false }, Some(srv_idx), tries));
            }
        };
        match result {
            Ok(stream) => {
                if req.nolinger {
                    let _ = SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                }
                let t_connect_ms = t0.elapsed().as_millis() as i64;
                return Ok(Connected {
                    stream,
                    server: Some(srv_idx),
                    retries: tries,
                    redispatched,
                    t_queue_ms,
                    t_connect_ms,
                });
            }
            Err(kind) => {
                be.server_conn_end(srv_idx);
                left -= 1;
                if left < 0 {
                    srv.counters.econ.fetch_add(1, Relaxed);
                    be.be_counters.econ.fetch_add(1, Relaxed);
                    let fail = match kind {
                        AttemptErr::Timeout => ConnectFail::Timeout,
                        AttemptErr::Error => ConnectFail::Refused,
                    };
                    return Err((fail, Some(srv_idx), tries));
                }
                tries += 1;
                if left == 0 && redispatch {
                    // Last retry: forget the assignment and balance again, avoiding this one.
                    prev = Some(srv_idx);
                    assigned = None;
                    direct = false;
                } else {
                    srv.counters.wretr.fetch_add(1, Relaxed);
                    be.be_counters.wretr.fetch_add(1, Relaxed);
                }
                if matches!(kind, AttemptErr::Error) {
                    tokio::select! {
                        _ = tokio::time::sleep(TURN_AROUND) => {}
                        _ = &mut client_gone, if abort_on_close => {
                            return Err((ConnectFail::ClientAbort { queued: false }, Some(srv_idx), tries));
                        }
                    }
                }
            }
        }
    }
}

/// Waits in a queue (server or backend) until `ready()` holds after a wake-up, the queue
/// timeout (`sQ`), or a client abort with `abortonclose` (`CQ`). Counts `qmax`.
async fn wait_queue<A, R>(
    notify: &tokio::sync::Notify,
    nbpend: &std::sync::atomic::AtomicU32,
    counters: &crate::counters::Counters,
    deadline: Option<Instant>,
    abort_on_close: bool,
    client_gone: &mut std::pin::Pin<&mut A>,
    ready: R,
) -> Result<(), ConnectFail>
where
    A: std::future::Future<Output = ()>,
    R: Fn() -> bool,
{
    let queued = nbpend.fetch_add(1, Relaxed) + 1;
    crate::counters::update_max(&counters.qmax, u64::from(queued));
    let result = loop {
        let woken = notify.notified();
        tokio::pin!(woken);
        // Register before checking, so a slot freed in between is not missed.
        woken.as_mut().enable();
        if ready() {
            break Ok(());
        }
        let timeout = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut woken => {}
            _ = timeout => break Err(ConnectFail::QueueTimeout),
            _ = client_gone.as_mut(), if abort_on_close => break Err(ConnectFail::ClientAbort { queued: true }),
        }
    };
    nbpend.fetch_sub(1, Relaxed);
    // Pass the wake-up on if we leave without using it.
    if result.is_err() {
        notify.notify_one();
    }
    result
}

/// Where a backend without servers sends requests (1.4 `assign_server_address`):
/// `dispatch`, else the client's destination with `option transparent`, else the address of
/// an absolute request URI with `option http_proxy` (`uri`, numeric IPv4 only, as 1.4).
pub fn fallback_target(
    be: &Proxy,
    client_dst: SocketAddr,
    uri: Option<&[u8]>,
) -> Option<SocketAddr> {
    if !be.servers.is_empty() {
        return None;
    }
    if let Some(d) = &be.cfg.dispatch {
        return Some(d.node);
    }
    if be.cfg.options.transparent.is_some() {
        return Some(client_dst);
    }
    if be.cfg.options.http_proxy.is_some() {
        return uri.and_then(proxy_uri_addr);
    }
    None
}

/// `http://a.b.c.d[:port]/...` → the address (port 80 by default).
pub fn proxy_uri_addr(uri: &[u8]) -> Option<SocketAddr> {
    let rest = uri
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case(b"http://"))
        .and_then(|_| uri.get(7..))?;
    let end = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
    let auth = std::str::from_utf8(rest.get(..end)?).ok()?;
    let (host, port) = match auth.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok()?),
        None => (auth, 80),
    };
    let ip: std::net::Ipv4Addr = host.parse().ok()?;
    Some(SocketAddr::new(ip.into(), port))
}

/// `usesrc hdr_ip(<name>[,<occ>])`: the IPv4 address in that occurrence of the header
/// (`occ` from 1; negative counts from the last).
pub fn hdr_ip<'a>(
    source: Option<&Source>,
    values: impl Iterator<Item = &'a [u8]>,
) -> Option<std::net::IpAddr> {
    let Some(UseSrc::HdrIp { occ, .. }) = source.and_then(|s| s.usesrc.as_ref()) else {
        return None;
    };
    let all: Vec<&[u8]> = values.collect();
    let pick = if *occ < 0 {
        all.len().checked_sub(occ.unsigned_abs() as usize)
    } else {
        (*occ as usize).checked_sub(1)
    };
    let v = all.get(pick?)?;
    std::str::from_utf8(v)
        .ok()?
        .trim()
        .parse::<std::net::Ipv4Addr>()
        .ok()
        .map(Into::into)
}

/// The address to connect to for `srv`: its own, or the client's destination with the
/// configured port (same port, or offset), as 1.4 does for servers without an address.
pub fn server_addr(srv: &Server, client_dst: SocketAddr) -> SocketAddr {
    if let Some(a) = srv.addr {
        return a;
    }
    let ip = srv.cfg.addr.ip.unwrap_or(client_dst.ip());
    let port = match srv.cfg.addr.port {
        parser::ir::ServerPort::Fixed(p) => p,
        parser::ir::ServerPort::Same => client_dst.port(),
        parser::ir::ServerPort::Offset(off) => {
            (i32::from(client_dst.port()) + off).clamp(0, 65535) as u16
        }
    };
    SocketAddr::new(ip, port)
}

/// Connects to a fixed address (`dispatch`, `transparent`, `http_proxy`) with the same
/// retry and turn-around rules, without server accounting.
async fn connect_fixed<A>(
    req: &ConnectReq<'_>,
    addr: SocketAddr,
    connect_to: Option<Duration>,
    mut left: i64,
    abort_on_close: bool,
    mut client_gone: std::pin::Pin<&mut A>,
) -> Result<Connected, (ConnectFail, Option<usize>, u32)>
where
    A: std::future::Future<Output = ()>,
{
    let be = req.be;
    let source = be.cfg.source.as_ref().map(|s| &s.node);
    let mut tries = 0u32;
    loop {
        let t0 = Instant::now();
        let this_try = attempt(req, addr, source, connect_to);
        let result = tokio::select! {
            r = this_try => r,
            _ = client_gone.as_mut(), if abort_on_close => return Err((ConnectFail::ClientAbort { queued: false }, None, tries)),
        };
        match result {
            Ok(stream) => {
                if req.nolinger {
                    let _ = SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                }
                let t_connect_ms = t0.elapsed().as_millis() as i64;
                return Ok(Connected {
                    stream,
                    server: None,
                    retries: tries,
                    redispatched: false,
                    t_queue_ms: 0,
                    t_connect_ms,
                });
            }
            Err(kind) => {
                left -= 1;
                if left < 0 {
                    be.be_counters.econ.fetch_add(1, Relaxed);
                    let fail = match kind {
                        AttemptErr::Timeout => ConnectFail::Timeout,
                        AttemptErr::Error => ConnectFail::Refused,
                    };
                    return Err((fail, None, tries));
                }
                tries += 1;
                be.be_counters.wretr.fetch_add(1, Relaxed);
                if matches!(kind, AttemptErr::Error) {
                    tokio::select! {
                        _ = tokio::time::sleep(TURN_AROUND) => {}
                        _ = client_gone.as_mut(), if abort_on_close => return Err((ConnectFail::ClientAbort { queued: false }, None, tries)),
                    }
                }
            }
        }
    }
}

/// Next port to try in `source` port ranges, shared by all connections.
static SOURCE_PORT_CURSOR: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Opens a socket, applies `source` (address, port range, `usesrc`, `interface`) and connects.
async fn tcp_connect(
    addr: SocketAddr,
    keepalive: bool,
    source: Option<&Source>,
    client: SocketAddr,
    hdr_ip: Option<std::net::IpAddr>,
    bufs: &crate::runtime::SockBufs,
    smart_connect: bool,
) -> std::io::Result<TcpStream> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let sock = Socket::new(
        domain,
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    bufs.apply(&SockRef::from(&sock), false);
    if smart_connect {
        let _ = crate::listener::disable_quickack(&sock);
    }
    sock.set_nodelay(true)?;
    if keepalive {
        sock.set_keepalive(true)?;
    }
    if let Some(src) = source {
        bind_source(&sock, src, client, hdr_ip)?;
    }
    connect_nonblocking(sock, addr).await
}

/// Connects `sock` (non-blocking) to `addr`. tokio's own connect asks the kernel for
/// SO_ERROR once the socket turns writable; here the readiness event says it already: a
/// failed connection raises EPOLLERR/EPOLLHUP with it, so the error is fetched only then
/// (one `getsockopt` less per server connection, as HAProxy).
async fn connect_nonblocking(sock: Socket, addr: SocketAddr) -> std::io::Result<TcpStream> {
    match sock.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    let stream = TcpStream::from_std(std::net::TcpStream::from(sock))?;
    let ready = stream.ready(Interest::WRITABLE | Interest::ERROR).await?;
    if ready.is_error() || ready.is_write_closed() {
        return Err(stream
            .take_error()?
            .unwrap_or_else(|| std::io::ErrorKind::ConnectionRefused.into()));
    }
    Ok(stream)
}

/// `source <addr>[:port[-port]] [usesrc ...] [interface <if>]` on an outgoing socket.
/// `usesrc` needs IP_TRANSPARENT (TPROXY, root or CAP_NET_ADMIN), as in 1.4.
fn bind_source(
    sock: &Socket,
    src: &Source,
    client: SocketAddr,
    hdr_ip: Option<std::net::IpAddr>,
) -> std::io::Result<()> {
    let sref = SockRef::from(sock);
    if let Some(ifname) = &src.interface {
        sref.bind_device(Some(ifname.as_bytes()))?;
    }
    let transparent_bind = |a: SocketAddr| -> std::io::Result<()> {
        nix::sys::socket::setsockopt(sock, nix::sys::socket::sockopt::IpTransparent, &true)
            .map_err(std::io::Error::from)?;
        sock.bind(&a.into())
    };
    match &src.usesrc {
        Some(UseSrc::Addr(a)) => return transparent_bind(*a),
        Some(UseSrc::Client) => return transparent_bind(client),
        Some(UseSrc::ClientIp) => return transparent_bind(SocketAddr::new(client.ip(), 0)),
        Some(UseSrc::HdrIp { .. }) => {
            return transparent_bind(SocketAddr::new(hdr_ip.unwrap_or(client.ip()), 0))
        }
        None => {}
    }
    if src.port_lo == 0 && src.port_hi == 0 {
        return sock.bind(&SocketAddr::new(src.addr, 0).into());
    }
    // A port range: try each port once, starting where the last connection left off.
    let span = u32::from(src.port_hi.saturating_sub(src.port_lo)) + 1;
    let mut last_err = std::io::Error::from(std::io::ErrorKind::AddrInUse);
    for _ in 0..span {
        let off = SOURCE_PORT_CURSOR.fetch_add(1, Relaxed) % span;
        let port = src.port_lo.saturating_add(off as u16);
        match sock.bind(&SocketAddr::new(src.addr, port).into()) {
            Ok(()) => return Ok(()),
            Err(e) => last_err = e,
        }
    }
    Err(last_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::fuzz::runtime_from_text;

    fn req<'a>(be: &'a Proxy, direct: Option<usize>) -> ConnectReq<'a> {
        let any = SocketAddr::from(([127, 0, 0, 1], 1));
        ConnectReq {
            be,
            direct,
            force_persist: false,
            client_dst: any,
            client_src: any,
            fallback: None,
            hdr_ip: None,
            redirectable: false,
            sockbuf: Default::default(),
            smart_connect: false,
            tcpka: false,
            nolinger: false,
        }
    }

    /// 1.4 `sess_update_st_cer` + `assign_server_and_queue`: a persistent request to a dead
    /// server with `retries 1` and `option redispatch` goes to the other server on its last
    /// try, counted as one redispatch on the dead server and the backend, no retry, no
    /// connection error; without another server it is a retry on the same one.
    #[test]
    fn redispatch_counts_on_the_server_left_behind() {
        let rtk = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio");
        let live = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let dead_addr = dead.local_addr().expect("addr");
        drop(dead);
        let cfg = format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
             backend be\n retries 1\n option redispatch\n server dead {dead_addr}\n server live {}\n",
            live.local_addr().expect("addr")
        );
        let rt = runtime_from_text(&cfg).expect("runtime");
        let be = rt.proxy_by_name("be").expect("be");
        let r = req(be, Some(0));
        let ok = rtk.block_on(connect(
            &r,
            |avoid| Ok(if avoid == Some(0) { 1 } else { 0 }),
            std::future::pending(),
        ));
        let c = ok
            .map_err(|e| e.0)
            .expect("redispatched to the live server");
        assert_eq!(c.server, Some(1));
        assert!(c.redispatched);
        let ld = |a: &std::sync::atomic::AtomicU64| a.load(Relaxed);
        assert_eq!(ld(&be.servers[0].counters.wredis), 1);
        assert_eq!(ld(&be.be_counters.wredis), 1);
        assert_eq!(ld(&be.be_counters.wretr), 0);
        assert_eq!(ld(&be.servers[0].counters.econ), 0);
        be.server_conn_end(1);

        // Only the dead server to go back to: a retry, then the connection error.
        let r = req(be, Some(0));
        let failed = rtk.block_on(connect(&r, |_| Ok(0), std::future::pending()));
        assert!(failed.is_err());
        assert_eq!(ld(&be.servers[0].counters.wretr), 1);
        assert_eq!(ld(&be.be_counters.wretr), 1);
        assert_eq!(ld(&be.servers[0].counters.econ), 1);
        assert_eq!(ld(&be.be_counters.wredis), 1);
    }

    fn socket() -> Socket {
        Socket::new(
            Domain::IPV4,
            Type::STREAM.nonblocking().cloexec(),
            Some(Protocol::TCP),
        )
        .expect("socket")
    }

    #[tokio::test]
    async fn connects_and_reports_refusal_without_so_error_probe() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let s = connect_nonblocking(socket(), addr)
            .await
            .expect("connected");
        assert_eq!(s.peer_addr().expect("peer"), addr);
        let (_accepted, from) = l.accept().expect("accept");
        assert_eq!(from, s.local_addr().expect("local"));

        // A port nobody listens on: the refusal comes back as the connect's error.
        drop(l);
        let e = connect_nonblocking(socket(), addr)
            .await
            .expect_err("nothing listens");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    }
}
