//! Entry point of a client connection: frontend accounting, `monitor-net`, the `Connect
//! from` log line of frontends without `option httplog`/`tcplog`, then the mode's stream
//! (`tcp.rs`, `http.rs`) or the fixed `mode health` reply. Compare with 1.4 `src/client.c`
//! `event_accept` (accept-time decisions, the `Connect from` line) and `src/session.c`.
//! In debug mode the stream's trace starts here with the accept line (`trace.rs`).
//!
//! Every stream is listed in the runtime's registry (`show sess`) from here until it ends:
//! one registration per connection, see `registry.rs` for the cost model.

use super::connect::ConnectFail;
use super::registry::{NewStream, Origin};
use super::trace::Trace;
use crate::log::{Cause, Phase, Termination};
use crate::runtime::{Proxy, Runtime};
use crate::worker::{ConnGuard, ListenerInfo};
use parser::ir::{LogFormat, Mode};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering::Relaxed;
use tokio::net::TcpStream;

/// The reply to a `monitor-net` source in HTTP mode (1.4 `event_accept`).
const MONITOR_NET_HTTP_REPLY: &[u8] = b"HTTP/1.0 200 OK\r\n\r\n";
/// `mode health` reply.
const HEALTH_REPLY: &[u8] = b"OK\n";

/// One accepted client connection. Its task owns it for the stream's whole life and the
/// stream borrows it: passed down by value, each `async fn` layer would keep its own dead
/// copy of the socket and addresses in the task (rustc does not overlap an async fn's
/// arguments with what they are moved into), and an idle connection would pay for them.
pub struct Conn {
    /// The connection slot and registry entry (released when the stream ends) and the
    /// runtime.
    pub slot: ConnGuard,
    pub cli: TcpStream,
    /// Shared with the listener's other streams.
    pub info: std::rc::Rc<ListenerInfo>,
}

impl Conn {
    /// The client's address, kept once, in the registry entry.
    pub fn peer(&self) -> SocketAddr {
        self.slot
            .entry
            .info()
            .src()
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))
    }
}

/// The registry listing of a connection accepted by frontend `fe` on listener `info`.
pub fn new_stream(fe: &Proxy, info: &ListenerInfo, peer: SocketAddr, fd: i32) -> NewStream {
    NewStream {
        origin: Origin::Tcp {
            fe: info.proxy,
            luid: info.luid,
            v6: info.addr.is_ipv6(),
            http: fe.cfg.mode.node == Mode::Http,
            inspect: !fe.cfg.tcp_request.is_empty(),
        },
        src: Some(peer),
        cli_fd: fd,
        be: Some(info.proxy),
    }
}

/// Serves one accepted client connection to completion.
pub async fn handle(conn: &Conn) {
    let rt: &Runtime = &conn.slot.rt;
    // The peer is read in place: a local copy would be kept in every idle task.
    let (cli, info) = (&conn.cli, &conn.info);
    let fe = &rt.proxies[info.proxy];
    let reg = &conn.slot.entry;
    let local = if info.exact_addr {
        info.addr
    } else {
        cli.local_addr().unwrap_or(info.addr)
    };
    // The debug flag is read once per stream; the fd only when it is on.
    let trace = if rt.debug {
        // The stream's number is the registry's (1.4 `uniq_id`); the trace prints 8 hex
        // digits of it, as 1.4's `%08x` of an unsigned int.
        Trace::new(
            true,
            reg.info().uniq_id() as u32,
            cli.as_raw_fd(),
            fe.name(),
        )
    } else {
        Trace::new(false, 0, -1, "")
    };
    let opts = &fe.cfg.options;
    crate::worker::tune_client_socket(
        cli,
        opts.clitcpka.is_some() || opts.tcpka.is_some(),
        opts.nolinger.is_some(),
        &rt.global.sockbuf,
    );
    if opts.tcp_smart_accept.is_some() {
        let _ = crate::listener::disable_quickack(cli);
    }

    // monitor-net: a fixed answer, not counted, not logged. 1.4 drops such a TCP
    // connection before its debug trace starts, and traces an HTTP one.
    if fe
        .cfg
        .monitor_net
        .iter()
        .any(|n| n.contains(conn.peer().ip()))
    {
        if fe.cfg.mode.node == Mode::Http {
            trace.accept(info.fd, conn.peer());
            let _ = super::tunnel::write_bytes(cli, MONITOR_NET_HTTP_REPLY).await;
        }
        return;
    }
    trace.accept(info.fd, conn.peer());
    fe.fe_counters
        .new_session(u64::from(fe.feconn.load(Relaxed)));
    // Without `option httplog`/`tcplog`, 1.4 logs each accepted TCP or HTTP connection at
    // once (`info`, the frontend's targets); monitor-net and health connections are not.
    if fe.cfg.log_format.node == LogFormat::Connect
        && matches!(fe.cfg.mode.node, Mode::Tcp | Mode::Http)
        && !fe.logger.is_empty()
    {
        crate::log::send_connect_line(
            &fe.logger,
            conn.peer(),
            local,
            &fe.cfg.name,
            fe.cfg.mode.node == Mode::Http,
        );
    }
    match fe.cfg.mode.node {
        Mode::Health => {
            let _ = super::tunnel::write_bytes(cli, HEALTH_REPLY).await;
        }
        // Boxed so that the TCP stream's state machine does not enlarge every HTTP
        // connection's task (the task is sized for its largest arm); see `http::run`.
        Mode::Tcp => Box::pin(super::tcp::run(rt, fe, conn, local, trace, reg.info())).await,
        Mode::Http => {
            let mut s = super::http::Session::new(rt, fe, conn, local, trace, reg.info());
            super::http::run(&mut s).await
        }
    }
}

/// Counts a session on a backend and returns a guard releasing `beconn` when dropped.
pub fn enter_backend(be: &Proxy) -> BackendGuard<'_> {
    let cur = be.beconn.fetch_add(1, Relaxed) + 1;
    be.be_counters.new_session(u64::from(cur));
    BackendGuard { be }
}

pub struct BackendGuard<'a> {
    pub be: &'a Proxy,
}

impl Drop for BackendGuard<'_> {
    fn drop(&mut self) {
        self.be.beconn.fetch_sub(1, Relaxed);
    }
}

/// The termination flags of a stream whose server connection failed, and the end of its Tw
/// (ms since accept, −1 when no server was ever assigned). `t_assign` is when the server was
/// assigned, `now` when the failure was seen. Compare with 1.4 `default_srv_error` and the
/// `t_queue` updates of `sess_update_stream_int`:
///
/// * no server usable, or refused / reset on the last attempt: `SC`;
/// * the last attempt timed out: `sC`;
/// * `timeout queue` expired: `sQ`; the queue was full: `SQ`;
/// * the client left while connecting (`CC`) or queued (`CQ`) with `option abortonclose`.
pub fn connect_failure(fail: ConnectFail, t_assign: i64, now: i64) -> (Termination, i64) {
    let (cause, phase) = match fail {
        ConnectFail::NoServer | ConnectFail::Refused => (Cause::ServerAbort, Phase::Connect),
        ConnectFail::Timeout => (Cause::ServerTimeout, Phase::Connect),
        ConnectFail::QueueTimeout => (Cause::ServerTimeout, Phase::Queue),
        ConnectFail::QueueFull => (Cause::ServerAbort, Phase::Queue),
        ConnectFail::Redirect => (Cause::Proxy, Phase::Connect),
        ConnectFail::ClientAbort { queued } => (
            Cause::ClientAbort,
            if queued { Phase::Queue } else { Phase::Connect },
        ),
    };
    let t_queue = match fail {
        ConnectFail::NoServer => -1,
        ConnectFail::QueueTimeout
        | ConnectFail::QueueFull
        | ConnectFail::ClientAbort { queued: true } => now,
        ConnectFail::Refused
        | ConnectFail::Timeout
        | ConnectFail::Redirect
        | ConnectFail::ClientAbort { queued: false } => t_assign,
    };
    (Termination::new(cause, phase), t_queue)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_failures_map_to_1_4_flags_and_tw() {
        let flags = |f| {
            let (t, q) = connect_failure(f, 3, 90);
            (String::from_utf8(t.chars().to_vec()).unwrap(), q)
        };
        assert_eq!(flags(ConnectFail::NoServer), ("SC".into(), -1));
        assert_eq!(flags(ConnectFail::Refused), ("SC".into(), 3));
        assert_eq!(flags(ConnectFail::Timeout), ("sC".into(), 3));
        assert_eq!(flags(ConnectFail::QueueTimeout), ("sQ".into(), 90));
        assert_eq!(flags(ConnectFail::QueueFull), ("SQ".into(), 90));
        assert_eq!(
            flags(ConnectFail::ClientAbort { queued: false }),
            ("CC".into(), 3)
        );
        assert_eq!(
            flags(ConnectFail::ClientAbort { queued: true }),
            ("CQ".into(), 90)
        );
    }
}
