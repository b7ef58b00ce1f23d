//! `mode tcp` streams: `tcp-request content` rules, then the backend (`use_backend` rules,
//! `default_backend`, or the `listen` section itself), TCP persistence (`force-persist`,
//! `persist rdp-cookie`, stick rules), connect with retries, then forward bytes both ways
//! (half-close propagated, splice for bulk) until both sides close or a timeout fires. Compare with 1.4 `tcp_inspect_request` (`src/proto_tcp.c`) and
//! `process_switching_rules` (`src/session.c`).

use super::connect::{self, ConnectReq};
use super::stream::enter_backend;
use super::tcp_rules::{self, Inspection};
use super::tunnel::{self, TunnelBytes, TunnelCfg};
use super::view::Base;
use crate::lb::PickInput;
use crate::persist::{self, StickInput, TxnPersist};
use crate::runtime::{Proxy, Runtime};
use crate::worker::ListenerInfo;
use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use tokio::net::TcpStream;

pub async fn run(
    rt: &Runtime,
    fe: &Proxy,
    cli: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    info: ListenerInfo,
) {
    let base = Base {
        rt,
        fe,
        be: fe,
        server_id: None,
        peer,
        local,
        luid: info.luid,
        first_req: true,
        capacity: rt.global.bufsize.saturating_sub(rt.global.maxrewrite),
    };
    // Bytes the content rules waited for; they go to the server first.
    let mut pre = None;
    if tcp_rules::inspect(&base, fe, &cli, &mut pre, rt.global.bufsize).await == Inspection::Reject
    {
        return;
    }
    let payload = pre.as_ref().map_or(&[][..], |b| b.data());
    let Some(be_idx) = super::rules::switch_backend(&base, fe, None, payload) else {
        return;
    };
    let be = &rt.proxies[be_idx];
    let _be_guard = enter_backend(be);

    // Persistence (1.4 `force-persist` at switching time, then the AN_REQ_PRST_RDP_COOKIE
    // and AN_REQ_STICKING_RULES analysers). The RDP cookie is read from the bytes the
    // content rules waited for (`tcp-request inspect-delay`), as in 1.4.
    let mut st = TxnPersist::default();
    if be.cfg.persist_rdp_cookie.is_some()
        || !be.cfg.stick_rules.is_empty()
        || !be.cfg.force_persist.is_empty()
    {
        let v = Base { be, ..base }.view(be, None, None);
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
            payload,
            &input,
            &mut |c| crate::acl::cond_matches(c, &be.cfg.acls, &v),
            &mut st,
        );
    }
    let req = ConnectReq {
        be,
        direct: st.server,
        force_persist: st.force,
        client_dst: local,
        client_src: peer,
        fallback: connect::fallback_target(be, local, None),
        hdr_ip: None,
        redirectable: false,
        tcpka: be.cfg.options.srvtcpka.is_some() || be.cfg.options.tcpka.is_some(),
        nolinger: be.cfg.options.nolinger.is_some(),
    };
    let gone = client_closed(&cli);
    let conn = match connect::connect(
        &req,
        |avoid| be.pick(&PickInput::tcp(peer.ip(), &[]), avoid),
        gone,
    )
    .await
    {
        Ok(c) => c,
        Err(_) => return,
    };
    persist::tcp_connected(be, conn.server, &mut st);
    let mut first_bytes = 0u64;
    if let Some(mut b) = pre.take() {
        first_bytes = b.len() as u64;
        if !b.is_empty() && tunnel::write_all(&conn.stream, &mut b).await.is_err() {
            if let Some(s) = conn.server {
                be.server_conn_end(s);
            }
            return;
        }
    }
    let cfg = TunnelCfg {
        client_timeout: Proxy::timeout(&fe.cfg.timeouts.client),
        server_timeout: Proxy::timeout(&be.cfg.timeouts.server),
        bufsize: rt.global.bufsize,
        splice: rt.global.splice,
    };
    let counts = Cell::new(TunnelBytes::default());
    let _end = tunnel::run(&cli, &conn.stream, cfg, &counts).await;
    let mut c = counts.get();
    c.req += first_bytes;
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
