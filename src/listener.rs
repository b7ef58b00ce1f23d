//! Listening sockets: one per `bind` address and port, created before privileges are dropped
//! and before any fork (1.4 `start_proxies` / `tcp_bind_listener`).
//!
//! Sockets get SO_REUSEADDR and SO_REUSEPORT, so a reloading process can bind beside the old
//! one; the per-socket options of `bind` (`interface`, `mss`, `transparent`, `defer-accept`)
//! are applied here. Worker threads then share each socket: every worker runs its own accept
//! loop on it, as HAProxy's threads do on a shared listener.

use parser::ir::{Bind, Proxy};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Why a listening socket could not be created.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("cannot create listening socket [{addr}]: {source}")]
    Socket {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot bind socket [{addr}]: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot listen to socket [{addr}]: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl BindError {
    /// True when retrying after old processes release their ports may help (EADDRINUSE).
    pub fn is_addr_in_use(&self) -> bool {
        match self {
            BindError::Bind { source, .. } => source.kind() == std::io::ErrorKind::AddrInUse,
            _ => false,
        }
    }
}

/// One listening socket of a proxy.
#[derive(Debug)]
pub struct Listener {
    /// Index of the frontend in `Runtime::proxies`.
    pub proxy: usize,
    /// Listener number inside its proxy (for `so_id` and per-listener stats), from 1.
    pub luid: u32,
    pub name: Option<String>,
    pub addr: SocketAddr,
    pub socket: TcpListener,
    /// Every connection accepted here has `addr` as its local address: a specific address
    /// and port, without `transparent` (which accepts for foreign addresses). The stream then
    /// skips the `getsockname` it otherwise makes per connection.
    pub exact_addr: bool,
}

/// The socket addresses a `bind` line expands to (one per port of a range).
pub fn bind_addrs(b: &Bind) -> impl Iterator<Item = SocketAddr> + '_ {
    let ip = b.ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    (b.port_lo..=b.port_hi).map(move |p| SocketAddr::new(ip, p))
}

/// Creates, configures, binds and listens one socket for `addr` with the `bind` options.
/// `backlog` is the proxy's `backlog` or its `maxconn`, as 1.4 does.
pub fn bind_one(addr: SocketAddr, b: &Bind, backlog: u32) -> Result<TcpListener, BindError> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let sock = Socket::new(
        domain,
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )
    .map_err(|source| BindError::Socket { addr, source })?;
    let opt = |r: std::io::Result<()>| r.map_err(|source| BindError::Socket { addr, source });
    opt(sock.set_reuse_address(true))?;
    opt(sock.set_reuse_port(true))?;
    if let Some(ifname) = &b.interface {
        opt(sock.bind_device(Some(ifname.as_bytes())))?;
    }
    if let Some(mss) = b.mss {
        // 1.4 takes a negative mss as "only set if larger than the default"; we set |mss|.
        opt(sock.set_mss(mss.unsigned_abs()))?;
    }
    if b.transparent {
        opt(set_ip_transparent(&sock))?;
    }
    if b.defer_accept {
        opt(set_defer_accept(&sock))?;
    }
    sock.bind(&SockAddr::from(addr))
        .map_err(|source| BindError::Bind { addr, source })?;
    let backlog = i32::try_from(backlog).unwrap_or(i32::MAX).max(1);
    sock.listen(backlog)
        .map_err(|source| BindError::Listen { addr, source })?;
    Ok(sock.into())
}

/// TCP_DEFER_ACCEPT: neither socket2 nor nix wrap it, so one libc call.
fn set_defer_accept(sock: &Socket) -> std::io::Result<()> {
    set_tcp_int(sock.as_raw_fd(), libc::TCP_DEFER_ACCEPT, 1)
}

/// TCP_QUICKACK off (`option tcp-smart-accept` on a listener, `tcp-smart-connect` on a
/// server socket before connect): the ACK rides on the first data packet, as 1.4 does.
pub fn disable_quickack(fd: &impl AsRawFd) -> std::io::Result<()> {
    set_tcp_int(fd.as_raw_fd(), libc::TCP_QUICKACK, 0)
}

/// One integer IPPROTO_TCP option: neither socket2 nor nix wrap these two.
fn set_tcp_int(fd: i32, opt: libc::c_int, val: libc::c_int) -> std::io::Result<()> {
    // SAFETY: `fd` is a valid open socket borrowed from its owner for the whole call; we pass
    // a pointer to a live c_int and its exact size, as setsockopt(2) requires.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            opt,
            (&val as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn set_ip_transparent(sock: &Socket) -> std::io::Result<()> {
    nix::sys::socket::setsockopt(sock, nix::sys::socket::sockopt::IpTransparent, &true)
        .map_err(std::io::Error::from)
}

/// The listen queue length of a frontend: its `backlog`, else its `maxconn` (1.4 does the
/// same in `tcp_bind_listener`), else the default maxconn.
pub fn backlog_of(px: &Proxy) -> u32 {
    px.backlog
        .as_ref()
        .map(|b| b.node)
        .or(px.maxconn.as_ref().map(|m| m.node))
        .unwrap_or(2000)
}

/// Prepares a socket handed over by the process we replace: nonblocking (the flag lives on
/// the shared open file, but do not rely on the sender), then listen() again, which applies
/// this configuration's backlog and revives a socket the old process had paused. Returns
/// None when the socket cannot listen; the caller then binds a fresh one.
fn adopt_inherited(fd: OwnedFd, backlog: u32) -> Option<TcpListener> {
    let sock = Socket::from(fd);
    let backlog = i32::try_from(backlog).unwrap_or(i32::MAX).max(1);
    if sock.set_nonblocking(true).is_err() || sock.listen(backlog).is_err() {
        return None;
    }
    Some(sock.into())
}

/// Binds every listener of every enabled frontend. Returns the listeners or, per failure,
/// the proxy and the error (1.4 reports them all as `Starting <type> <name>: <msg>`).
///
/// Sockets in `inherited` whose address matches a `bind` are used instead of new ones (they
/// keep their accept queue across a reload). On failure, the inherited sockets that were
/// taken go back into `inherited`, so the caller can retry without losing them.
pub fn bind_all(
    proxies: &[Proxy],
    inherited: &mut Vec<(SocketAddr, OwnedFd)>,
) -> Result<Vec<Listener>, Vec<(String, BindError)>> {
    let mut out = Vec::new();
    let mut adopted = Vec::new();
    let mut errors = Vec::new();
    for (idx, px) in proxies.iter().enumerate() {
        if !px.kind.has_fe() || px.disabled.is_some() {
            continue;
        }
        let backlog = backlog_of(px);
        let mut luid = 0;
        for b in &px.binds {
            for addr in bind_addrs(b) {
                luid += 1;
                // A socket handed over by the process we replace keeps its accept queue.
                let reused = inherited
                    .iter()
                    .position(|(a, _)| *a == addr)
                    .and_then(|i| adopt_inherited(inherited.swap_remove(i).1, backlog));
                let from_old = reused.is_some();
                let socket = match reused {
                    Some(s) => Ok(s),
                    None => bind_one(addr, b, backlog),
                };
                match socket {
                    Ok(socket) => {
                        if from_old {
                            adopted.push(out.len());
                        }
                        out.push(Listener {
                            proxy: idx,
                            luid,
                            name: b.name.clone(),
                            addr,
                            socket,
                            exact_addr: !addr.ip().is_unspecified()
                                && addr.port() != 0
                                && !b.transparent,
                        })
                    }
                    Err(e) => errors.push((format!("{} {}", proxy_type_str(px), px.name), e)),
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        for (i, l) in out.into_iter().enumerate() {
            if adopted.contains(&i) {
                inherited.push((l.addr, OwnedFd::from(l.socket)));
            }
        }
        Err(errors)
    }
}

/// HAProxy's word for a proxy in startup messages (`proxy_type_str`).
pub fn proxy_type_str(px: &Proxy) -> &'static str {
    match px.kind {
        parser::ir::ProxyKind::Frontend => "frontend",
        parser::ir::ProxyKind::Backend => "backend",
        parser::ir::ProxyKind::Listen => "proxy",
    }
}

/// Duplicates a listening socket (each worker registers its own copy with its reactor).
pub fn dup_listener(l: &TcpListener) -> std::io::Result<TcpListener> {
    l.try_clone()
}

/// Takes ownership of a raw descriptor received from another process.
///
/// Callers must pass a descriptor they own and that nothing else will close.
pub fn owned_fd_from_raw(fd: i32) -> Option<OwnedFd> {
    if fd < 0 {
        return None;
    }
    // SAFETY: the caller hands us a descriptor it received (SCM_RIGHTS) and owns exclusively;
    // wrapping it transfers that ownership, so it is closed exactly once.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The raw descriptor of a listener (for passing to a new process).
pub fn raw_fd(l: &TcpListener) -> i32 {
    l.as_raw_fd()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(ip: Option<IpAddr>, lo: u16, hi: u16) -> Bind {
        Bind {
            ip,
            port_lo: lo,
            port_hi: hi,
            interface: None,
            mss: None,
            transparent: false,
            id: None,
            name: None,
            defer_accept: false,
        }
    }

    #[test]
    fn expands_port_ranges() {
        let b = bind(None, 8000, 8002);
        let v: Vec<SocketAddr> = bind_addrs(&b).collect();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0], "0.0.0.0:8000".parse().unwrap());
        assert_eq!(v[2], "0.0.0.0:8002".parse().unwrap());
    }

    #[test]
    fn binds_twice_with_reuseport_and_reports_busy_port() {
        let b = bind(Some("127.0.0.1".parse().unwrap()), 0, 0);
        let l1 = bind_one("127.0.0.1:0".parse().unwrap(), &b, 16).unwrap();
        let addr = l1.local_addr().unwrap();
        // A second SO_REUSEPORT socket on the same port succeeds (the reload path).
        let l2 = bind_one(addr, &b, 16).unwrap();
        assert_eq!(l2.local_addr().unwrap(), addr);
        // A plain socket without SO_REUSEPORT on that port fails with EADDRINUSE.
        let plain = std::net::TcpListener::bind(addr);
        assert!(plain.is_err());
        // And our own bind fails as "in use" when the port is held without SO_REUSEPORT.
        let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let err = bind_one(holder.local_addr().unwrap(), &b, 16).unwrap_err();
        assert!(err.is_addr_in_use(), "{err}");
        assert!(err.to_string().starts_with("cannot bind socket ["));
    }

    #[test]
    fn defer_accept_and_mss_apply() {
        let mut b = bind(Some("127.0.0.1".parse().unwrap()), 0, 0);
        b.defer_accept = true;
        b.mss = Some(1400);
        let l = bind_one("127.0.0.1:0".parse().unwrap(), &b, 16).unwrap();
        let fd = l.as_raw_fd();
        assert!(fd >= 0);
    }
}
