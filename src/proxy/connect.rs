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

use crate::runtime::{Proxy, Server};
use socket2::SockRef;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
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
    pub tcpka: bool,
    pub nolinger: bool,
}

/// What a failed attempt looked like, for the turn-around decision.
enum AttemptErr {
    Timeout,
    Error,
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
    P: FnMut(Option<usize>) -> Option<usize>,
    A: std::future::Future<Output = ()>,
{
    let be = req.be;
    let retries = be.retries();
    let mut left = i64::from(retries);
    let connect_to = Proxy::timeout(&be.cfg.timeouts.connect);
    let abort_on_close = be.cfg.options.abortonclose.is_some();
    let started = Instant::now();
    let mut assigned = req.direct;
    let mut prev: Option<usize> = None;
    let mut redispatched = false;
    let mut tries: u32 = 0;
    tokio::pin!(client_gone);
    loop {
        // Assign a server when persistence did not (or was given up).
        let srv_idx = match assigned {
            Some(i) => i,
            None => match pick(prev) {
                Some(i) => {
                    if prev.is_some_and(|p| p != i) {
                        be.be_counters.wredis.fetch_add(1, Relaxed);
                        redispatched = true;
                    }
                    be.servers[i].counters.lbtot.fetch_add(1, Relaxed);
                    be.be_counters.lbtot.fetch_add(1, Relaxed);
                    assigned = Some(i);
                    i
                }
                None => return Err((ConnectFail::NoServer, None, tries)),
            },
        };
        let srv = &be.servers[srv_idx];
        let addr = server_addr(srv, req.client_dst);
        be.server_conn_start(srv_idx);
        let t0 = Instant::now();
        let attempt = async {
            let fut = tcp_connect(addr, req.tcpka);
            match connect_to {
                Some(d) => match tokio::time::timeout(d, fut).await {
                    Ok(r) => r.map_err(|_| AttemptErr::Error),
                    Err(_) => Err(AttemptErr::Timeout),
                },
                None => fut.await.map_err(|_| AttemptErr::Error),
            }
        };
        let result = tokio::select! {
            r = attempt => r,
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
                let t_queue_ms = (t0 - started).as_millis() as i64;
                return Ok(Connected {
                    stream,
                    server: Some(srv_idx),
                    retries: tries,
                    redispatched,
                    t_queue_ms: if tries == 0 { 0 } else { t_queue_ms },
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
                if left == 0 && be.cfg.options.redispatch.is_some() && !req.force_persist {
                    // Last retry: forget the assignment and balance again, avoiding this one.
                    prev = Some(srv_idx);
                    assigned = None;
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

async fn tcp_connect(addr: SocketAddr, keepalive: bool) -> std::io::Result<TcpStream> {
    let sock = if addr.is_ipv6() {
        TcpSocket::new_v6()?
    } else {
        TcpSocket::new_v4()?
    };
    sock.set_nodelay(true)?;
    if keepalive {
        sock.set_keepalive(true)?;
    }
    sock.connect(addr).await
}
