//! Entry point of a client connection: frontend accounting, `monitor-net`, then the mode's
//! stream (`tcp.rs`, `http.rs`) or the fixed `mode health` reply. Compare with 1.4
//! `src/client.c` `event_accept` (accept-time decisions) and `src/session.c`.

use crate::runtime::{Proxy, Runtime};
use crate::worker::ListenerInfo;
use parser::ir::Mode;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use tokio::net::TcpStream;

/// The reply to a `monitor-net` source in HTTP mode (1.4 `event_accept`).
const MONITOR_NET_HTTP_REPLY: &[u8] = b"HTTP/1.0 200 OK\r\n\r\n";
/// `mode health` reply.
const HEALTH_REPLY: &[u8] = b"OK\n";

/// Serves one accepted client connection to completion.
pub async fn handle(rt: &Runtime, cli: TcpStream, peer: SocketAddr, info: ListenerInfo) {
    let fe = &rt.proxies[info.proxy];
    let local = cli.local_addr().unwrap_or(info.addr);
    let opts = &fe.cfg.options;
    crate::worker::tune_client_socket(
        &cli,
        opts.clitcpka.is_some() || opts.tcpka.is_some(),
        opts.nolinger.is_some(),
    );

    // monitor-net: a fixed answer, not counted, not logged.
    if fe.cfg.monitor_net.iter().any(|n| n.contains(peer.ip())) {
        if fe.cfg.mode.node == Mode::Http {
            let _ = super::tunnel::write_bytes(&cli, MONITOR_NET_HTTP_REPLY).await;
        }
        return;
    }
    fe.fe_counters
        .new_session(u64::from(fe.feconn.load(Relaxed)));
    match fe.cfg.mode.node {
        Mode::Health => {
            let _ = super::tunnel::write_bytes(&cli, HEALTH_REPLY).await;
        }
        Mode::Tcp => super::tcp::run(rt, fe, cli, peer, local, info).await,
        Mode::Http => super::http::run(rt, fe, cli, peer, local, info).await,
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
