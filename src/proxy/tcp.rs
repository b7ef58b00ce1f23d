//! `mode tcp` streams: `tcp-request content` rules, then the backend (`use_backend` rules,
//! `default_backend`, or the `listen` section itself), TCP persistence (`force-persist`,
//! `persist rdp-cookie`, stick rules), connect with retries, then forward bytes both ways
//! (half-close propagated, splice for bulk) until both sides close or a timeout fires; then
//! the `option tcplog` line (or, with `option logasap`, that line as soon as the server
//! connection is established).
//!
//! Termination flags follow 1.4 `process_session` for a stream without analysers: a normal
//! close is `--`; in the data phase a reset or error is `CD`/`SD` and an inactivity timeout
//! `cD`/`sD`; connection failures are `SC`/`sC` (see [`super::stream::connect_failure`]).
//! Compare with 1.4 `tcp_inspect_request` (`src/proto_tcp.c`), `process_switching_rules`,
//! `process_session` and `sess_establish` (`src/session.c`), and `tcp_sess_log` (`src/log.c`).
//! In debug mode the stream's trace (`trace.rs`) prints the backend's name from the switch on
//! and its `srvcls`/`clicls`/`closed` lines when `trace` is dropped at the end of [`run`].

use super::connect::{self, ConnectReq};
use super::registry::{Phase as RegPhase, StreamInfo};
use super::stream::{enter_backend, Conn};
use super::tcp_rules::{self, Inspection};
use super::trace::Trace;
use super::tunnel::{self, TunnelBytes, TunnelCfg, TunnelEnd};
use super::view::Base;
use crate::lb::PickInput;
use crate::log::httplog::{ServerField, Timers, TxnLog};
use crate::log::{Cause, Phase, TermState, Termination};
use crate::persist::{self, StickInput, TxnPersist};
use crate::runtime::{Proxy, Runtime};
use std::cell::Cell;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::time::SystemTime;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What the tcplog line of a stream shows, gathered as the stream goes.
struct TcpTxn {
    t0: Instant,
    date: SystemTime,
    /// Server assigned (ms since accept, −1: never).
    t_queue: i64,
    /// Server connection established (ms since accept, −1: never).
    t_connect: i64,
    srv: Option<usize>,
    /// The server slot is held (released after the line at the end of the stream).
    srv_counted: bool,
    retries: u32,
    redispatched: bool,
    term: Termination,
    bytes: TunnelBytes,
}

impl TcpTxn {
    fn ms(&self) -> i64 {
        i64::try_from(self.t0.elapsed().as_millis()).unwrap_or(i64::MAX)
    }
}

pub async fn run<'a>(
    rt: &'a Runtime,
    fe: &'a Proxy,
    conn: &'a Conn,
    local: SocketAddr,
    trace: Trace<'a>,
    reg: &StreamInfo,
) {
    let (cli, peer, info) = (&conn.cli, conn.peer(), &conn.info);
    let mut tx = TcpTxn {
        t0: Instant::now(),
        date: SystemTime::now(),
        t_queue: -1,
        t_connect: -1,
        srv: None,
        srv_counted: false,
        retries: 0,
        redispatched: false,
        term: Termination::default(),
        bytes: TunnelBytes::default(),
    };
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
    if !fe.cfg.tcp_request.is_empty() {
        reg.enter(&rt.streams, RegPhase::Inspect, None);
    }
    if tcp_rules::inspect(&base, fe, cli, &mut pre, rt.global.bufsize).await == Inspection::Reject {
        return;
    }
    let payload = pre.as_ref().map_or(&[][..], |b| b.data());
    let Some(be_idx) = super::rules::switch_backend(&base, fe, None, payload) else {
        return;
    };
    let be = &rt.proxies[be_idx];
    let _be_guard = enter_backend(be);
    trace.set_proxy(be.name());
    reg.set_backend(be_idx);

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
        sockbuf: rt.global.sockbuf,
        smart_connect: be.cfg.options.tcp_smart_connect.is_some(),
        tcpka: be.cfg.options.srvtcpka.is_some() || be.cfg.options.tcpka.is_some(),
        nolinger: be.cfg.options.nolinger.is_some(),
    };
    let gone = client_closed(cli);
    let t_assign = tx.ms();
    reg.enter(
        &rt.streams,
        RegPhase::Connect,
        // From the clock read `t_assign` already made.
        Proxy::timeout(&be.cfg.timeouts.connect)
            .map(|d| tx.t0 + std::time::Duration::from_millis(t_assign.max(0) as u64) + d),
    );
    let conn = match connect::connect(
        &req,
        |avoid| be.pick(&PickInput::tcp(peer.ip(), payload), avoid),
        gone,
    )
    .await
    {
        Ok(c) => c,
        Err((fail, srv, tries)) => {
            tx.srv = srv;
            tx.retries = tries;
            let (term, t_queue) = super::stream::connect_failure(fail, t_assign, tx.ms());
            tx.term = term;
            tx.t_queue = t_queue;
            log(rt, fe, be, peer, &tx, false);
            return;
        }
    };
    trace.server_connected(conn.stream.as_raw_fd());
    tx.srv = conn.server;
    tx.srv_counted = conn.server.is_some();
    reg.set_server(
        conn.server,
        conn.stream.as_raw_fd(),
        conn.server.is_some(),
        i32::try_from(be.retries().saturating_sub(conn.retries)).unwrap_or(0),
    );
    reg.enter(&rt.streams, RegPhase::Tunnel, None);
    tx.retries = conn.retries;
    tx.redispatched = conn.redispatched;
    // As in HTTP: same-server retries count in Tc, a redispatch assigns again.
    tx.t_queue = t_assign
        + if conn.redispatched {
            conn.t_queue_ms
        } else {
            0
        };
    tx.t_connect = tx.ms();
    persist::tcp_connected(be, conn.server, &mut st);
    let mut first_bytes = 0u64;
    if let Some(mut b) = pre.take() {
        first_bytes = b.len() as u64;
        if !b.is_empty() && tunnel::write_all(&conn.stream, &mut b).await.is_err() {
            tx.term.set(Cause::ServerAbort, Phase::Data);
            log(rt, fe, be, peer, &tx, false);
            if let Some(s) = conn.server {
                be.server_conn_end(s);
            }
            return;
        }
    }
    let logasap = fe.cfg.options.logasap.is_some();
    if logasap {
        // 1.4 `sess_establish`: the line goes now, Tt = Tc end, no bytes counted yet.
        log(rt, fe, be, peer, &tx, true);
    }
    let cfg = TunnelCfg {
        client_timeout: Proxy::timeout(&fe.cfg.timeouts.client),
        server_timeout: Proxy::timeout(&be.cfg.timeouts.server),
        bufsize: rt.global.bufsize,
        splice: rt.global.splice,
    };
    let counts = Cell::new(TunnelBytes::default());
    let end = tunnel::run(cli, &conn.stream, cfg, &counts).await;
    tx.bytes = counts.get();
    tx.bytes.req += first_bytes;
    reg.add_bytes(tx.bytes.req, tx.bytes.res);
    let cause = match end {
        TunnelEnd::Closed => None,
        TunnelEnd::ClientTimeout => Some(Cause::ClientTimeout),
        TunnelEnd::ServerTimeout => Some(Cause::ServerTimeout),
        TunnelEnd::ClientError => Some(Cause::ClientAbort),
        TunnelEnd::ServerError => Some(Cause::ServerAbort),
    };
    if let Some(cause) = cause {
        tx.term.set(cause, Phase::Data);
        let client = matches!(cause, Cause::ClientTimeout | Cause::ClientAbort);
        let srv = tx.srv.and_then(|s| be.servers.get(s));
        for c in std::iter::once(&be.be_counters).chain(srv.map(|s| &s.counters)) {
            let n = if client { &c.cli_abrt } else { &c.srv_abrt };
            n.fetch_add(1, Relaxed);
        }
    }
    let c = tx.bytes;
    fe.fe_counters.bin.fetch_add(c.req, Relaxed);
    fe.fe_counters.bout.fetch_add(c.res, Relaxed);
    be.be_counters.bin.fetch_add(c.req, Relaxed);
    be.be_counters.bout.fetch_add(c.res, Relaxed);
    if let Some(s) = conn.server {
        let srv = &be.servers[s];
        srv.counters.bin.fetch_add(c.req, Relaxed);
        srv.counters.bout.fetch_add(c.res, Relaxed);
    }
    if !logasap {
        log(rt, fe, be, peer, &tx, false);
    }
    if let Some(s) = conn.server {
        be.server_conn_end(s);
    }
}

/// Sends the tcplog line (1.4 `tcp_sess_log`). `early`: `option logasap` at connection
/// time, when nothing is released yet; otherwise the end of the stream, when 1.4 has already
/// released `actconn`, `feconn`, `beconn` and the server slot, so our own counts are left
/// out.
fn log(rt: &Runtime, fe: &Proxy, be: &Proxy, peer: SocketAddr, tx: &TcpTxn, early: bool) {
    let logger = &fe.logger;
    if logger.is_empty() {
        return;
    }
    let opts = crate::log::TrafficLogOptions {
        dontlognull: fe.cfg.options.dontlognull.is_some(),
        dontlog_normal: fe.cfg.options.dontlog_normal.is_some(),
        log_separate_errors: fe.cfg.options.log_separate_errors.is_some(),
    };
    // At logasap time 1.4 has counted no request byte yet either.
    if !early && !crate::log::stream_is_logged(opts.dontlognull, tx.bytes.req, false) {
        return;
    }
    let srv = tx.srv.and_then(|i| be.servers.get(i));
    let mut t = TxnLog::new(peer, tx.date, &fe.cfg.name, &be.cfg.name);
    t.server = match srv {
        Some(s) => ServerField::Named(&s.cfg.name),
        None => ServerField::NoServer,
    };
    t.timers = Timers {
        request: -1,
        queue: tx.t_queue,
        connect: tx.t_connect,
        data: -1,
        close: if early { tx.t_connect } else { tx.ms() },
    };
    t.logasap = fe.cfg.options.logasap.is_some();
    t.bytes_out = if early { 0 } else { tx.bytes.res };
    t.term = TermState::new(tx.term, Default::default(), Default::default());
    let closing = u32::from(!early);
    t.actconn = rt.actconn.load(Relaxed).saturating_sub(closing);
    t.feconn = fe.feconn.load(Relaxed).saturating_sub(closing);
    t.beconn = be.beconn.load(Relaxed).saturating_sub(closing);
    let srv_own = u32::from(tx.srv_counted) * closing;
    t.srv_conn = srv
        .map(|s| s.cur_sess.load(Relaxed).saturating_sub(srv_own))
        .unwrap_or(0);
    t.retries = tx.retries;
    t.redispatched = tx.redispatched;
    crate::log::send_traffic_log(logger, fe.cfg.log_format.node, &opts, &t);
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
