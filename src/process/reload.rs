//! Reload with `-sf PIDS` / `-st PIDS` (1.4 `src/haproxy.c` `main`: the bind retry loop with
//! SIGTTOU/SIGTTIN, then `tell_old_pids`).
//!
//! Better than 1.4, no connection is refused or dropped during a reload: the new process
//! takes over the old process's listening sockets instead of binding new ones. Closing a
//! listening socket resets the connections waiting in its accept queue (and with
//! SO_REUSEPORT, the kernel spreads new connections over every socket of the port, so each
//! old socket holds some). A socket passed to the new process lives on, queue included, when
//! the old process closes its copy.
//!
//! Handover protocol: every running haproxide serves its listening sockets on a unix
//! SOCK_SEQPACKET socket in the abstract namespace, named `haproxide-listeners-<pid>`
//! ([`socket_name`]). A new process started with `-sf/-st` connects to the name of each old
//! pid and receives messages `HXL1 <count> <last>`, each carrying `<count>` descriptors as
//! SCM_RIGHTS (at most [`FDS_PER_MSG`]), until `<last>` is 1. It learns each socket's
//! address with getsockname(), reuses those matching a `bind`, binds the rest, and then
//! signals the old pids (USR1 or TERM). Abstract sockets have no file permissions, so both
//! sides check the peer's credentials (SO_PEERCRED): the server only answers root or its
//! own uid, the client only accepts the pid it asked for (the old process usually runs as
//! the unprivileged `user` while the new one starts as root).
//!
//! When there is nothing to take over (the old process is HAProxy itself, or an older
//! haproxide), binding works anyway thanks to SO_REUSEPORT, or, if the old process holds the
//! port without it, we fall back to 1.4's way: SIGTTOU the old pids so they release their
//! ports, retry every 10 ms up to 200 times, and on failure SIGTTIN them back and exit 1.

use crate::listener::{self, BindError, Listener};
use crate::runtime::Runtime;
use nix::sys::signal::Signal;
use nix::sys::socket::{
    self, sockopt, AddressFamily, Backlog, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag,
    SockType, UnixAddr,
};
use nix::unistd::Pid;
use std::io::{IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

/// Most descriptors sent in one message (the kernel allows 253).
pub const FDS_PER_MSG: usize = 32;
/// 1.4's `MAX_START_RETRIES`: bind attempts while old processes release their ports.
pub const MAX_START_RETRIES: u32 = 200;
/// How long a handover exchange may block either side.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// The abstract socket name a process with this pid serves its listeners on.
pub fn socket_name(pid: u32) -> String {
    format!("haproxide-listeners-{pid}")
}

fn abstract_addr(pid: u32) -> nix::Result<UnixAddr> {
    UnixAddr::new_abstract(socket_name(pid).as_bytes())
}

/// Why taking over an old process's sockets failed (the caller falls back to binding).
#[derive(Debug, thiserror::Error)]
pub enum HandoverError {
    #[error("process {0} does not hand over listeners: {1}")]
    NotServing(u32, #[source] nix::Error),
    #[error("handover socket of process {pid} is served by pid {peer} uid {uid}")]
    WrongPeer { pid: u32, peer: i32, uid: u32 },
    #[error("handover with process {0} failed: {1}")]
    Io(u32, #[source] nix::Error),
    #[error("handover with process {0}: unexpected message")]
    Protocol(u32),
}

fn timeval(d: Duration) -> nix::sys::time::TimeVal {
    nix::sys::time::TimeVal::new(d.as_secs() as _, d.subsec_micros() as _)
}

/// Asks each old pid for its listening sockets. Returns the TCP listening sockets received,
/// with their addresses (first one wins for an address offered twice), and the failures
/// (for `-V`; a failure is normal when the old process is HAProxy itself).
pub fn fetch(pids: &[u32]) -> (Vec<(SocketAddr, OwnedFd)>, Vec<HandoverError>) {
    let mut out: Vec<(SocketAddr, OwnedFd)> = Vec::new();
    let mut errors = Vec::new();
    for &pid in pids {
        match fetch_one(pid) {
            Ok(fds) => {
                for fd in fds {
                    if let Some(addr) = tcp_listener_addr(&fd) {
                        if !out.iter().any(|(a, _)| *a == addr) {
                            out.push((addr, fd));
                        }
                    }
                }
            }
            Err(e) => errors.push(e),
        }
    }
    (out, errors)
}

/// The local address of a TCP stream socket, or None for anything else.
fn tcp_listener_addr(fd: &OwnedFd) -> Option<SocketAddr> {
    let s = socket2::SockRef::from(fd);
    if s.r#type().ok()? != socket2::Type::STREAM {
        return None;
    }
    s.local_addr().ok()?.as_socket()
}

fn fetch_one(pid: u32) -> Result<Vec<OwnedFd>, HandoverError> {
    let io = |e| HandoverError::Io(pid, e);
    let sock = socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(io)?;
    socket::setsockopt(&sock, sockopt::ReceiveTimeout, &timeval(IO_TIMEOUT)).map_err(io)?;
    let addr = abstract_addr(pid).map_err(io)?;
    socket::connect(sock.as_raw_fd(), &addr).map_err(|e| HandoverError::NotServing(pid, e))?;
    // The name could be squatted by any local user, but not with the old process's pid.
    // Its uid may differ from ours (it dropped privileges, we have not yet).
    let cred = socket::getsockopt(&sock, sockopt::PeerCredentials).map_err(io)?;
    if i64::from(cred.pid()) != i64::from(pid) {
        return Err(HandoverError::WrongPeer {
            pid,
            peer: cred.pid(),
            uid: cred.uid(),
        });
    }
    let mut fds = Vec::new();
    loop {
        let mut buf = [0u8; 64];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; FDS_PER_MSG]);
        let msg = socket::recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(io)?;
        let n = msg.bytes;
        for c in msg.cmsgs().map_err(io)? {
            if let ControlMessageOwned::ScmRights(raw) = c {
                fds.extend(raw.into_iter().filter_map(listener::owned_fd_from_raw));
            }
        }
        let header = std::str::from_utf8(buf.get(..n).unwrap_or_default())
            .map_err(|_| HandoverError::Protocol(pid))?;
        match parse_header(header) {
            Some((_, true)) => return Ok(fds),
            Some((_, false)) => continue,
            None => return Err(HandoverError::Protocol(pid)),
        }
    }
}

/// `HXL1 <count> <last>` -> (count, last).
fn parse_header(h: &str) -> Option<(usize, bool)> {
    let mut w = h.split(' ');
    if w.next()? != "HXL1" {
        return None;
    }
    let count = w.next()?.parse().ok()?;
    let last = match w.next()? {
        "0" => false,
        "1" => true,
        _ => return None,
    };
    w.next().is_none().then_some((count, last))
}

/// Opens this process's handover socket and serves the runtime's listeners on a thread.
/// Returns None (after a warning) when the name is taken, e.g. by a process of another pid
/// namespace: reloads then fall back to binding.
pub fn serve(rt: Arc<Runtime>) -> Option<std::thread::JoinHandle<()>> {
    let pid = std::process::id();
    match serve_with(pid, move || rt.control.sockets_for_handover()) {
        Ok(h) => Some(h),
        Err(e) => {
            crate::cli::warning(&format!(
                "cannot open the listener handover socket '@{}': {e}; reloads will bind new sockets.",
                socket_name(pid)
            ));
            None
        }
    }
}

/// Serves the sockets `provide` returns, at each request, on `@haproxide-listeners-<pid>`.
pub fn serve_with<F>(pid: u32, provide: F) -> std::io::Result<std::thread::JoinHandle<()>>
where
    F: Fn() -> Vec<(SocketAddr, std::net::TcpListener)> + Send + 'static,
{
    let sock = socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    socket::bind(sock.as_raw_fd(), &abstract_addr(pid)?)?;
    socket::listen(&sock, Backlog::new(16)?)?;
    std::thread::Builder::new()
        .name("haproxide-handover".into())
        .spawn(move || loop {
            match socket::accept4(sock.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
                Ok(fd) => {
                    if let Some(conn) = listener::owned_fd_from_raw(fd) {
                        let _ = answer(&conn, &provide);
                    }
                }
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::ECONNABORTED) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        })
}

/// Sends our listening sockets to a connected peer that is root or our own user.
fn answer<F>(conn: &OwnedFd, provide: &F) -> nix::Result<()>
where
    F: Fn() -> Vec<(SocketAddr, std::net::TcpListener)>,
{
    socket::setsockopt(conn, sockopt::SendTimeout, &timeval(IO_TIMEOUT))?;
    let cred = socket::getsockopt(conn, sockopt::PeerCredentials)?;
    let me = nix::unistd::geteuid().as_raw();
    if cred.uid() != 0 && cred.uid() != me {
        return Err(nix::errno::Errno::EPERM);
    }
    let socks = provide();
    let raw: Vec<std::os::fd::RawFd> = socks.iter().map(|(_, s)| s.as_raw_fd()).collect();
    let mut chunks: Vec<&[std::os::fd::RawFd]> = raw.chunks(FDS_PER_MSG).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    let n = chunks.len();
    for (i, chunk) in chunks.into_iter().enumerate() {
        let header = format!("HXL1 {} {}", chunk.len(), u8::from(i + 1 == n));
        let iov = [IoSlice::new(header.as_bytes())];
        let rights = [ControlMessage::ScmRights(chunk)];
        let cmsgs: &[ControlMessage] = if chunk.is_empty() { &[] } else { &rights };
        socket::sendmsg::<()>(conn.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None)?;
    }
    Ok(())
}

/// The processes named by `-sf` (finish: SIGUSR1) and `-st` (terminate: SIGTERM).
#[derive(Debug, Default)]
pub struct OldPids {
    pids: Vec<(u32, Signal)>,
    /// We sent them SIGTTOU: they must get SIGTTIN if we give up.
    paused: bool,
}

impl OldPids {
    pub fn new(finish: &[i32], terminate: &[i32]) -> OldPids {
        let mut pids = Vec::new();
        for &p in finish {
            pids.push((p.unsigned_abs(), Signal::SIGUSR1));
        }
        for &p in terminate {
            pids.push((p.unsigned_abs(), Signal::SIGTERM));
        }
        pids.retain(|(p, _)| *p > 0 && *p != std::process::id());
        OldPids {
            pids,
            paused: false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pids.is_empty()
    }

    pub fn pids(&self) -> Vec<u32> {
        self.pids.iter().map(|(p, _)| *p).collect()
    }

    /// Sends `sig` to every old pid; returns how many got it (1.4 `tell_old_pids`).
    fn tell(&self, sig: Signal) -> usize {
        self.pids
            .iter()
            .filter(|(p, _)| {
                i32::try_from(*p)
                    .is_ok_and(|p| nix::sys::signal::kill(Pid::from_raw(p), sig).is_ok())
            })
            .count()
    }

    /// SIGTTOU: ask them to release their ports.
    pub fn pause(&mut self) -> usize {
        self.paused = true;
        self.tell(Signal::SIGTTOU)
    }

    /// SIGTTIN, if we paused them: we failed, they must serve again.
    pub fn resume_if_paused(&self) {
        if self.paused {
            self.tell(Signal::SIGTTIN);
        }
    }

    /// The final word once we serve: SIGUSR1 (`-sf`) or SIGTERM (`-st`) to each.
    pub fn finish(&self) -> usize {
        self.pids
            .iter()
            .filter(|(p, sig)| {
                i32::try_from(*p)
                    .is_ok_and(|p| nix::sys::signal::kill(Pid::from_raw(p), *sig).is_ok())
            })
            .count()
    }
}

/// Binds every listener, reusing `inherited` sockets. While some port is busy and old pids
/// exist, pauses them (SIGTTOU) and retries every 10 ms, up to [`MAX_START_RETRIES`] times.
/// On failure the caller prints the errors and calls `old.resume_if_paused()`.
pub fn bind_with_retry(
    proxies: &[parser::ir::Proxy],
    inherited: &mut Vec<(SocketAddr, OwnedFd)>,
    old: &mut OldPids,
) -> Result<Vec<Listener>, Vec<(String, BindError)>> {
    let mut retry = MAX_START_RETRIES;
    loop {
        let errors = match listener::bind_all(proxies, inherited) {
            Ok(l) => return Ok(l),
            Err(errors) => errors,
        };
        // As 1.4: a failed bind() or listen() may clear up once the old processes let go;
        // anything else (socket options, ...) will not.
        let retryable = errors
            .iter()
            .all(|(_, e)| matches!(e, BindError::Bind { .. } | BindError::Listen { .. }));
        if !retryable || old.is_empty() || retry == 0 {
            return Err(errors);
        }
        if old.pause() == 0 {
            // Nobody to wait for: one last attempt, then give up.
            retry = 0;
            continue;
        }
        std::thread::sleep(Duration::from_millis(10));
        retry -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_format() {
        assert_eq!(parse_header("HXL1 3 0"), Some((3, false)));
        assert_eq!(parse_header("HXL1 0 1"), Some((0, true)));
        assert_eq!(parse_header("HXL1 0 2"), None);
        assert_eq!(parse_header("HXL2 0 1"), None);
        assert_eq!(parse_header("HXL1 1 1 x"), None);
        assert_eq!(parse_header(""), None);
    }

    #[test]
    fn old_pids_skip_ourselves_and_zero() {
        let me = std::process::id() as i32;
        let o = OldPids::new(&[0, me, 12345678], &[87654321]);
        assert_eq!(o.pids(), vec![12345678, 87654321]);
        assert!(!o.is_empty());
        assert!(OldPids::new(&[me], &[]).is_empty());
    }

    #[test]
    fn hands_over_listening_sockets_with_their_queue() {
        use std::io::{Read, Write};
        // 40 sockets: more than one message's worth.
        let mut held = Vec::new();
        for _ in 0..40 {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            held.push((l.local_addr().unwrap(), l));
        }
        let addrs: Vec<SocketAddr> = held.iter().map(|(a, _)| *a).collect();
        // A client waits in the first socket's accept queue before the handover.
        let mut waiting = std::net::TcpStream::connect(addrs[0]).unwrap();
        let served: Vec<(SocketAddr, std::net::TcpListener)> = held
            .iter()
            .map(|(a, l)| (*a, l.try_clone().unwrap()))
            .collect();
        let pid = std::process::id();
        let _t = serve_with(pid, move || {
            served
                .iter()
                .map(|(a, l)| (*a, l.try_clone().unwrap()))
                .collect()
        })
        .unwrap();
        let (got, errs) = fetch(&[pid]);
        assert!(errs.is_empty(), "{errs:?}");
        let got_addrs: Vec<SocketAddr> = got.iter().map(|(a, _)| *a).collect();
        assert_eq!(got_addrs, addrs);
        // The "old process" closes its copies; the queued client is still there.
        drop(held);
        let (_, first) = got.into_iter().next().unwrap();
        let l = std::net::TcpListener::from(first);
        l.set_nonblocking(false).unwrap();
        let (mut s, _) = l.accept().unwrap();
        waiting.write_all(b"hi").unwrap();
        let mut b = [0u8; 2];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"hi");
    }

    #[test]
    fn fetch_from_nobody_fails_cleanly() {
        // No process serves this name (pids never get this high on Linux: max 2^22).
        let (socks, errs) = fetch(&[99_999_999]);
        assert!(socks.is_empty());
        assert!(matches!(
            errs.as_slice(),
            [HandoverError::NotServing(99_999_999, _)]
        ));
    }
}
