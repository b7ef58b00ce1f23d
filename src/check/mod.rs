//! Health checks and server state, as HAProxy 1.4 runs them.
//!
//! * [`state`]: the health counter, every UP/DOWN/NOLB/MAINT transition with its 1.4 log
//!   line, tracking, `observe`, slowstart, and the accessors the stats page needs.
//! * [`schedule`]: one tokio task per checked server (started by [`start`]), 1.4's start-up
//!   staggering, `inter`/`fastinter`/`downinter`, `spread-checks` jitter.
//! * [`tcp`]: one check on the wire (connect, send, read under the 1.4 timeouts).
//! * [`http`]: `option httpchk`, `http-check send-state|expect|disable-on-404`.
//! * [`proto`]: `option ssl-hello-chk`, `smtpchk`, `mysql-check`, `ldap-check`.
//!
//! Keywords: server `check`, `inter`, `fastinter`, `downinter`, `rise`, `fall`, `port`,
//! `addr`, `backup`, `disabled`, `slowstart`, `track`, `observe`, `on-error`, `error-limit`;
//! `option httpchk|ssl-hello-chk|smtpchk|mysql-check|ldap-check|log-health-checks`,
//! `http-check`, `timeout check`, global `spread-checks` and `tune.chksize`.
//!
//! Compare with 1.4 `src/checks.c` and `src/server.c`.
//!
//! What the rest of the program calls:
//! * `Runtime::build` creates each server's [`CheckState`] and calls [`resolve_tracking`].
//! * The control thread calls [`start`] once, on its own tokio runtime, after the fork.
//! * The stats socket and page call [`state::disable_server`] / [`state::enable_server`],
//!   and read [`state::display_state`], [`CheckState::snapshot`], the downtime helpers.
//! * The stream code calls [`state::observe`] for servers with `observe`.
//! * The balancers read [`state::effective_weight_permille`] (slowstart) and are told about
//!   every change through `Proxy::server_state_changed`.

pub mod http;
pub mod proto;
pub mod schedule;
pub mod state;
pub mod tcp;

pub use schedule::{start, CheckHandle};
pub use state::{
    apply_check_result, check_interval, check_status_name, disable_server, display_state,
    effective_weight_permille, enable_server, observe, scaled_eweight, slowstart_maxconn,
    status_text, throttle_percent, CheckOutcome, CheckSnapshot, CheckState, DisplayState,
    HanaStatus, ServerId,
};

use crate::log::{self, LogError, LogIdent, Logger};
use crate::runtime::{Proxy, Runtime};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Links `track` servers to the servers they mirror (1.4 `check_config_validity`). A tracker
/// of a server in maintenance starts DOWN with health 0. Unresolvable references were
/// rejected by the configuration check; they are skipped here.
pub fn resolve_tracking(proxies: &mut [Proxy]) {
    let mut links = Vec::new();
    for (pi, px) in proxies.iter().enumerate() {
        for (si, s) in px.servers.iter().enumerate() {
            let Some(t) = &s.cfg.track else { continue };
            let tpi = match &t.proxy {
                None => Some(pi),
                Some(name) => proxies
                    .iter()
                    .position(|p| &p.cfg.name == name && p.cfg.kind.has_be()),
            };
            let Some(tpi) = tpi else { continue };
            let Some(tsi) = proxies[tpi]
                .servers
                .iter()
                .position(|ts| ts.cfg.name == t.server)
            else {
                continue;
            };
            if (tpi, tsi) != (pi, si) {
                links.push((
                    ServerId {
                        proxy: pi,
                        server: si,
                    },
                    ServerId {
                        proxy: tpi,
                        server: tsi,
                    },
                ));
            }
        }
    }
    for (tracker, target) in links {
        let target_maint = proxies[target.proxy].servers[target.server]
            .maint
            .load(Relaxed);
        let t = &mut proxies[tracker.proxy].servers[tracker.server];
        t.check.set_tracked(target);
        if target_maint {
            t.up.store(false, Relaxed);
            t.check.force_health(0);
            proxies[tracker.proxy].lb.set_usable(tracker.server, false);
        }
        proxies[target.proxy].servers[target.server]
            .check
            .add_tracker(tracker);
    }
}

/// Opens one syslog sender per backend that has `log` targets and hands it to its servers,
/// for the state-change messages (1.4 sends them with the backend's `send_log`). Backends
/// without targets send nothing (stderr copies are still printed). Call it in the process
/// that will send, after the fork; [`start`] does.
pub fn install_loggers(rt: &Runtime, ident: &LogIdent) -> Result<(), LogError> {
    for px in &rt.proxies {
        if px.servers.is_empty() || px.cfg.logs.is_empty() {
            continue;
        }
        if px.servers.iter().all(|s| s.check.logger().is_some()) {
            continue;
        }
        let logger = Arc::new(Logger::new(px.cfg.logs.iter().map(|t| &t.node), ident)?);
        for s in &px.servers {
            s.check.set_logger(logger.clone());
        }
    }
    Ok(())
}

/// Installs the loggers, reporting a failure the 1.4 way and carrying on without them.
pub(crate) fn install_loggers_or_warn(rt: &Runtime, ident: &LogIdent) {
    if let Err(e) = install_loggers(rt, ident) {
        log::stderr_alert(&format!("{e}"));
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Hand-made IR and runtimes for the check tests.
    use super::*;
    use crate::runtime::{GlobalSettings, Server};
    use parser::ir::{self, CheckKind, LogAddr, LogTarget, ProxyKind};
    use parser::span::{Span, Spanned};
    use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
    use std::time::Duration;

    pub fn sp<T>(node: T) -> Spanned<T> {
        Spanned::new(Span::builtin(), node)
    }

    pub fn sid(proxy: usize, server: usize) -> ServerId {
        ServerId { proxy, server }
    }

    pub fn srv(rt: &Runtime, id: ServerId) -> &Server {
        &rt.proxies[id.proxy].servers[id.server]
    }

    /// A checked server on 127.0.0.1:1 with the given rise/fall.
    pub fn server(name: &str, rise: u32, fall: u32) -> ir::Server {
        ir::Server {
            name: name.into(),
            addr: ir::ServerAddr {
                ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                port: ir::ServerPort::Fixed(1),
                text: "127.0.0.1:1".into(),
            },
            id: None,
            cookie: None,
            check: true,
            inter: 2000,
            fastinter: None,
            downinter: None,
            rise,
            fall,
            check_port: None,
            check_addr: None,
            weight: 1,
            backup: false,
            disabled: false,
            maxconn: 0,
            maxqueue: 0,
            minconn: 0,
            slowstart: 0,
            track: None,
            redir: None,
            source: None,
            observe: None,
            on_error: ir::OnError::default(),
            error_limit: 10,
        }
    }

    /// A server checked on `addr` every `inter` ms.
    pub fn server_at(name: &str, addr: SocketAddr, inter: u32, rise: u32, fall: u32) -> ir::Server {
        let mut s = server(name, rise, fall);
        s.addr = ir::ServerAddr {
            ip: Some(addr.ip()),
            port: ir::ServerPort::Fixed(addr.port()),
            text: addr.to_string(),
        };
        s.inter = inter;
        s
    }

    pub fn backend(name: &str, servers: Vec<ir::Server>) -> ir::Proxy {
        ir::Proxy {
            span: Span::builtin(),
            name: name.into(),
            kind: ProxyKind::Backend,
            id: None,
            disabled: None,
            description: None,
            mode: sp(ir::Mode::Tcp),
            binds: Vec::new(),
            maxconn: None,
            backlog: None,
            fullconn: None,
            rate_limit_sessions: None,
            timeouts: ir::Timeouts::default(),
            retries: None,
            grace: None,
            bind_process: None,
            options: ir::Options::default(),
            log_format: sp(ir::LogFormat::Connect),
            logs: Vec::new(),
            balance: sp(ir::Balance::RoundRobin),
            hash_type: sp(ir::HashType::MapBased),
            cookie: None,
            appsession: None,
            persist_rdp_cookie: None,
            force_persist: Vec::new(),
            ignore_persist: Vec::new(),
            stick_table: None,
            stick_rules: Vec::new(),
            acls: Vec::new(),
            blocks: Vec::new(),
            http_request: Vec::new(),
            tcp_inspect_delay: None,
            tcp_request: Vec::new(),
            req_filters: Vec::new(),
            rsp_filters: Vec::new(),
            reqadd: Vec::new(),
            rspadd: Vec::new(),
            redirects: Vec::new(),
            use_backends: Vec::new(),
            default_backend: None,
            servers: servers.into_iter().map(sp).collect(),
            dispatch: None,
            source: None,
            errors: Vec::new(),
            capture_cookie: None,
            capture_request_headers: Vec::new(),
            capture_response_headers: Vec::new(),
            monitor_uri: None,
            monitor_net: Vec::new(),
            monitor_fail: Vec::new(),
            stats: None,
            check: sp(CheckKind::Tcp),
            http_check: ir::HttpCheck::default(),
            http_send_name_header: None,
        }
    }

    pub fn global() -> GlobalSettings {
        GlobalSettings {
            maxconn: 2000,
            bufsize: 16384,
            maxrewrite: 8192,
            node: "node1".into(),
            description: None,
            nbproc: 1,
            spread_checks: 0,
            splice: false,
            ulimit_n: 4096,
            pidfile: None,
            sockbuf: Default::default(),
        }
    }

    pub fn runtime(proxies: Vec<ir::Proxy>) -> Runtime {
        let config = ir::Config {
            proxies,
            ..Default::default()
        };
        Runtime::build(config, global()).expect("test runtime")
    }

    pub fn install(rt: &Runtime) {
        install_loggers(rt, &LogIdent::new("haproxy", None, 42)).expect("loggers");
    }

    /// A syslog receiver on loopback and the `log` target that points at it (`local0`).
    pub fn udp_log_target() -> (UdpSocket, LogTarget) {
        let rx = UdpSocket::bind("127.0.0.1:0").expect("bind syslog receiver");
        rx.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let target = LogTarget {
            addr: LogAddr::Udp(rx.local_addr().expect("addr")),
            facility: 16,
            max_level: 7,
            min_level: 0,
        };
        (rx, target)
    }

    /// The next syslog packet as (level, message without header and newline).
    pub fn recv_line(rx: &UdpSocket) -> (u8, String) {
        let mut buf = [0u8; 2048];
        let n = rx.recv(&mut buf).expect("a syslog packet");
        let p = String::from_utf8_lossy(&buf[..n]).into_owned();
        let close = p.find('>').expect("PRI");
        let pri: u8 = p[1..close].parse().expect("PRI number");
        let body = p
            .split_once("haproxy[42]: ")
            .map(|(_, m)| m)
            .expect("tag")
            .trim_end_matches('\n')
            .to_string();
        (pri % 8, body)
    }

    /// No packet arrives within `ms`.
    pub fn assert_silent(rx: &UdpSocket, ms: u64) {
        rx.set_read_timeout(Some(Duration::from_millis(ms)))
            .expect("timeout");
        let mut buf = [0u8; 2048];
        let got = rx.recv(&mut buf);
        rx.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        assert!(
            got.is_err(),
            "unexpected packet: {}",
            String::from_utf8_lossy(&buf[..got.unwrap_or(0)])
        );
    }
}
