//! `mode tcp` streams: choose the backend, apply TCP persistence (`persist rdp-cookie`, stick
//! rules), connect with retries, then forward bytes both ways (half-close propagated, splice
//! for bulk) until both sides close or a timeout fires.

use super::connect::{self, ConnectReq};
use super::stream::enter_backend;
use super::tunnel::{self, TunnelBytes, TunnelCfg};
use super::view::Base;
use crate::lb::rdp_cookie::{self, RdpCookie};
use crate::lb::PickInput;
use crate::persist::{self, StickInput, TxnPersist};
use crate::runtime::{Proxy, Runtime};
use crate::worker::ListenerInfo;
use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Bytes of the client's first packet examined for an RDP cookie (TPKT + X.224 header and
/// a `Cookie: msts=...` line fit easily).
const RDP_PEEK: usize = 256;

pub async fn run(
    rt: &Runtime,
    fe: &Proxy,
    cli: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    info: ListenerInfo,
) {
    // TODO(#3): tcp-request content rules and use_backend with layer-4 ACLs.
    let Some(be_idx) = fe.default_backend_idx else {
        return;
    };
    let be = &rt.proxies[be_idx];
    let _be_guard = enter_backend(be);

    // Persistence (1.4 AN_REQ_PRST_RDP_COOKIE then AN_REQ_STICKING_RULES).
    let mut st = TxnPersist::default();
    let mut payload = [0u8; RDP_PEEK];
    let mut peeked = 0;
    if be.cfg.persist_rdp_cookie.is_some()
        || !be.cfg.stick_rules.is_empty()
        || !be.cfg.force_persist.is_empty()
    {
        if let Some(name) = &be.cfg.persist_rdp_cookie {
            let delay = Proxy::timeout(&fe.cfg.tcp_inspect_delay)
                .or(Proxy::timeout(&be.cfg.tcp_inspect_delay));
            peeked = peek_rdp_cookie(&cli, &mut payload, name.as_bytes(), delay).await;
        }
        let base = Base {
            rt,
            fe,
            be,
            server_id: None,
            peer,
            local,
            luid: info.luid,
            first_req: true,
            capacity: rt.global.bufsize.saturating_sub(rt.global.maxrewrite),
        };
        let v = base.view(be, None, None);
        st.force = be
            .cfg
            .force_persist
            .iter()
            .any(|c| crate::acl::cond_matches(&c.node, &be.cfg.acls, &v));
        let input = StickInput {
            peer,
            local,
            head: None,
        };
        persist::tcp_request(
            be,
            payload.get(..peeked).unwrap_or_default(),
            &input,
            &mut |c| crate::acl::cond_matches(c, &be.cfg.acls, &v),
            &mut st,
        );
    }
    let payload = payload.get(..peeked).unwrap_or_default();
    let req = ConnectReq {
        be,
        direct: st.server,
        force_persist: st.force,
        client_dst: local,
        tcpka: be.cfg.options.srvtcpka.is_some() || be.cfg.options.tcpka.is_some(),
        nolinger: be.cfg.options.nolinger.is_some(),
    };
    let gone = client_closed(&cli);
    let conn = match connect::connect(
        &req,
        |avoid| be.pick(&PickInput::tcp(peer.ip(), payload), avoid),
        gone,
    )
    .await
    {
        Ok(c) => c,
        Err(_) => return,
    };
    persist::tcp_connected(be, conn.server, &mut st);
    let cfg = TunnelCfg {
        client_timeout: Proxy::timeout(&fe.cfg.timeouts.client),
        server_timeout: Proxy::timeout(&be.cfg.timeouts.server),
        bufsize: rt.global.bufsize,
        splice: rt.global.splice,
    };
    let counts = Cell::new(TunnelBytes::default());
    let _end = tunnel::run(&cli, &conn.stream, cfg, &counts).await;
    let c = counts.get();
    fe.fe_counters.bin.fetch_add(c.req, Relaxed);
    fe.fe_counters.bout.fetch_add(c.res, Relaxed);
    be.be_counters.bin.fetch_add(c.req, Relaxed);
    be.be_counters.bout.fetch_add(c.res, Relaxed);
    if let Some(s) = conn.server {
        let srv = &be.servers[s];
        srv.counters.bin.fetch_add(c.req, Relaxed);
        srv.counters.bout.fetch_add(c.res, Relaxed);
        be.server_conn_end(s);
    }
}

/// Waits, up to `tcp-request inspect-delay`, until the client's first bytes hold a complete
/// RDP cookie `name` or show there is none, without consuming them (the tunnel forwards
/// them afterwards). Returns how many bytes are in `buf`; without a delay nothing is waited
/// for, as 1.4 then looks at an empty buffer.
async fn peek_rdp_cookie(
    cli: &TcpStream,
    buf: &mut [u8],
    name: &[u8],
    delay: Option<Duration>,
) -> usize {
    let Some(delay) = delay else {
        return 0;
    };
    let deadline = Instant::now() + delay;
    let mut n = 0;
    loop {
        match tokio::time::timeout_at(deadline, cli.peek(buf)).await {
            Ok(Ok(got)) if got > 0 => n = got,
            // closed, error or inspect-delay over
            _ => return n,
        }
        let incomplete = matches!(
            rdp_cookie::find(buf.get(..n).unwrap_or_default(), name),
            RdpCookie::Incomplete
        );
        if !incomplete || n == buf.len() || Instant::now() >= deadline {
            return n;
        }
        // More is coming: the bytes stay readable, so wait a little before peeking again.
        tokio::time::sleep_until(deadline.min(Instant::now() + Duration::from_millis(10))).await;
    }
}

/// Resolves when the client has closed its side (readable with nothing to read).
pub async fn client_closed(cli: &TcpStream) {
    let mut probe = [0u8; 1];
    loop {
        if cli.readable().await.is_err() {
            return;
        }
        match cli.peek(&mut probe).await {
            Ok(0) | Err(_) => return,
            // Data waiting: not a close; wait until it is consumed or the peer closes.
            Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
}
