//! Worker threads: each runs a single-threaded tokio runtime with its own accept loop on every
//! listener (the sockets are shared; the kernel hands each connection to one waiting worker).
//! Streams never migrate between threads, so per-thread pools (buffers, pipes) need no locks.
//!
//! Stop and pause follow the frontend's state in `process::control`: a paused frontend's
//! loops wait, a stopped one's close their copy of the socket and end.
//!
//! Connection limits follow 1.4 (`maintain_proxies`): while the process is at global
//! `maxconn` or a frontend at its `maxconn`, its accept loops stop accepting and connections
//! wait in the kernel backlog; they resume when a connection ends.

use crate::listener::Listener;
use crate::process::control::ProxyState;
use crate::runtime::Runtime;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::net::TcpStream;

/// Information about the listener a connection arrived on.
#[derive(Clone, Copy, Debug)]
pub struct ListenerInfo {
    /// Frontend index in `Runtime::proxies`.
    pub proxy: usize,
    /// Listener id inside the frontend (from 1).
    pub luid: u32,
    pub addr: SocketAddr,
    /// Accepted connections' local address is `addr` (see `Listener::exact_addr`).
    pub exact_addr: bool,
    /// This worker's copy of the listening socket (the fd the debug trace prints).
    pub fd: i32,
}

/// Starts `n` worker threads serving `listeners`. Each thread gets its own copy of every
/// listening socket. Returns the join handles; the threads exit after a stop once their
/// streams are finished.
pub fn start(
    rt: Arc<Runtime>,
    listeners: &[Listener],
    n: usize,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    let mut handles = Vec::with_capacity(n);
    for w in 0..n.max(1) {
        let mut socks = Vec::with_capacity(listeners.len());
        for l in listeners {
            let sock = l.socket.try_clone()?;
            let fd = sock.as_raw_fd();
            socks.push((
                sock,
                ListenerInfo {
                    proxy: l.proxy,
                    luid: l.luid,
                    addr: l.addr,
                    exact_addr: l.exact_addr,
                    fd,
                },
            ));
        }
        let rt = rt.clone();
        let h = std::thread::Builder::new()
            .name(format!("haproxide-w{w}"))
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        crate::cli::alert(&format!("cannot start worker thread runtime: {e}"));
                        return;
                    }
                };
                let local = tokio::task::LocalSet::new();
                local.block_on(&runtime, serve(rt, socks));
            })?;
        handles.push(h);
    }
    Ok(handles)
}

/// Runs the accept loops of one worker until a stop, then waits for its streams to finish.
async fn serve(rt: Arc<Runtime>, socks: Vec<(std::net::TcpListener, ListenerInfo)>) {
    // Idle deadlines and the timer floor; dropped with the LocalSet when the worker ends.
    crate::proxy::idle_wait::spawn_driver();
    let mut loops = Vec::new();
    for (sock, info) in socks {
        loops.push(tokio::task::spawn_local(accept_loop(
            rt.clone(),
            sock,
            info,
        )));
    }
    for l in loops {
        let _ = l.await;
    }
    // Soft stop: the accept loops are gone; wait until no stream is left in the process.
    // The wakeup is armed before the check so a release in between is not missed.
    loop {
        let released = rt.conn_released.notified();
        if rt.actconn.load(SeqCst) == 0 {
            break;
        }
        released.await;
    }
}

/// One listener of one worker, for the life of the process: accepts while its frontend is
/// running, waits while it is paused (SIGTTOU), and closes this worker's copy of the socket
/// once the frontend is stopped (end of `grace` after SIGUSR1).
///
/// While paused the socket is deregistered from the reactor: a paused socket reports a
/// hang-up, which tokio keeps as a final state, so a resumed socket gets a fresh
/// registration instead.
async fn accept_loop(rt: Arc<Runtime>, sock: std::net::TcpListener, info: ListenerInfo) {
    // Shared by this listener's streams: each holds a pointer, not a copy (see `Conn`).
    let info = Rc::new(info);
    let mut idle = Some(sock);
    loop {
        let changed = rt.control.changed.notified();
        match rt.control.state(info.proxy) {
            ProxyState::Stopped => return,
            ProxyState::Paused => {
                changed.await;
                continue;
            }
            ProxyState::Running => {}
        }
        let Some(sock) = idle.take() else {
            return;
        };
        let epoch = rt.control.epoch(info.proxy);
        let listener = match tokio::net::TcpListener::from_std(sock) {
            Ok(l) => l,
            Err(e) => {
                crate::cli::alert(&format!("cannot register listener {}: {e}", info.addr));
                return;
            }
        };
        accept_while_running(&rt, &listener, &info, epoch).await;
        match listener.into_std() {
            Ok(s) => idle = Some(s),
            Err(_) => return,
        }
    }
}

/// Accepts connections until the frontend leaves the running state, or until its sockets
/// were paused since `epoch` (the registration is then stale, see `Control`).
async fn accept_while_running(
    rt: &Arc<Runtime>,
    listener: &tokio::net::TcpListener,
    info: &Rc<ListenerInfo>,
    epoch: u32,
) {
    let fe = &rt.proxies[info.proxy];
    let at_limit =
        || rt.actconn.load(Relaxed) >= rt.global.maxconn || fe.feconn.load(Relaxed) >= fe.maxconn;
    loop {
        let changed = rt.control.changed.notified();
        if rt.control.state(info.proxy) != ProxyState::Running
            || rt.control.epoch(info.proxy) != epoch
        {
            return;
        }
        // Hold off while at a limit; connections wait in the kernel backlog meanwhile.
        if at_limit() {
            let released = rt.conn_released.notified();
            if at_limit() {
                tokio::select! {
                    _ = released => {}
                    _ = changed => {}
                }
            }
            continue;
        }
        // `rate-limit sessions`: hold new sessions while the frontend is at its rate.
        if let Some(limit) = &fe.cfg.rate_limit_sessions {
            if fe.fe_counters.sess_rate.rate() >= limit.node {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        }
        let (sock, peer) = tokio::select! {
            // The accept first: while connections are waiting, the control notification is
            // never polled, so it costs no waiter registration (two lock round trips) per
            // accepted connection. A pause or stop is still seen at the top of the loop.
            biased;
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE/ENFILE/ENOBUFS: back off briefly instead of spinning.
                    log::warn!("accept on {}: {e}", info.addr);
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = changed => continue,
        };
        let conn = accepted(rt, info, sock, peer);
        tokio::task::spawn_local(stream_task(conn));
    }
}

/// A connection just accepted on `info`: counted in the process's and the frontend's
/// connections (its guard takes it out again) and listed for `show sess`. What every
/// connection's task holds for its whole life, so kept small (see `proxy::stream::Conn`);
/// the client's address is in the registry entry.
fn accepted(
    rt: &Arc<Runtime>,
    info: &Rc<ListenerInfo>,
    sock: TcpStream,
    peer: SocketAddr,
) -> crate::proxy::stream::Conn {
    let fe = &rt.proxies[info.proxy];
    rt.actconn.fetch_add(1, SeqCst);
    rt.cum_conn.fetch_add(1, Relaxed);
    fe.feconn.fetch_add(1, SeqCst);
    let entry = rt.streams.add(crate::proxy::stream::new_stream(
        fe,
        info,
        peer,
        sock.as_raw_fd(),
    ));
    crate::proxy::stream::Conn {
        slot: ConnGuard {
            rt: rt.clone(),
            fe: info.proxy as u32,
            entry,
        },
        cli: sock,
        info: info.clone(),
    }
}

/// The task of one connection. Its size is what every idle connection costs in tokio's
/// task cell (a multiple of 128 bytes: the future plus 104); a test keeps it at 512.
// Not an `async fn`: rustc would keep the argument and the moved-in copy apart (472
// bytes instead of 400), see `proxy::stream::Conn`.
#[allow(clippy::manual_async_fn)]
fn stream_task(conn: crate::proxy::stream::Conn) -> impl std::future::Future<Output = ()> {
    async move { crate::proxy::stream::handle(&conn).await }
}

/// Releases the connection slot and the stream's registry entry when a stream ends,
/// however it ends. It also keeps the runtime alive for the stream.
pub struct ConnGuard {
    pub rt: Arc<Runtime>,
    fe: u32,
    /// The stream's entry in the registry of live streams (`show sess`).
    pub entry: crate::proxy::registry::Entry,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.rt.streams.release(&self.entry);
        self.rt.proxies[self.fe as usize]
            .feconn
            .fetch_sub(1, SeqCst);
        self.rt.actconn.fetch_sub(1, SeqCst);
        self.rt.conn_released.notify_waiters();
    }
}

/// Sets the socket options every accepted connection gets.
pub fn tune_client_socket(
    sock: &TcpStream,
    tcpka: bool,
    nolinger: bool,
    bufs: &crate::runtime::SockBufs,
) {
    let _ = sock.set_nodelay(true);
    let s = socket2::SockRef::from(sock);
    bufs.apply(&s, true);
    if tcpka {
        let _ = s.set_keepalive(true);
    }
    if nolinger {
        let _ = s.set_linger(Some(std::time::Duration::ZERO));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tokio's cell is the future plus 104 bytes, rounded up to 128: up to 408 bytes of
    /// future keep an idle connection's task in 512 bytes (`cargo +nightly rustc --release
    /// --lib -- -Zprint-type-sizes` shows the layout when this fails).
    #[test]
    fn a_connection_task_fits_a_512_byte_cell() {
        let rt = crate::proxy::fuzz::runtime_from_text(
            "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
             frontend f\n bind 127.0.0.1:18999\n default_backend b\nbackend b\n server s 127.0.0.1:9\n",
        )
        .expect("config");
        let rt = Arc::new(rt);
        let tokio_rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        tokio_rt.block_on(async {
            let (_c, sock) = crate::proxy::sockio::loopback_pair().await;
            let (addr, peer) = (
                sock.local_addr().expect("local"),
                sock.peer_addr().expect("peer"),
            );
            let info = Rc::new(ListenerInfo {
                proxy: 0,
                luid: 1,
                addr,
                exact_addr: true,
                fd: -1,
            });
            let conn = accepted(&rt, &info, sock, peer);
            let task = stream_task(conn);
            let size = std::mem::size_of_val(&task);
            assert!(
                size <= 408,
                "connection task is {size} bytes: its cell grows past 512"
            );
        });
    }
}
