//! The live proxy: the IR turned into shared runtime state (`Arc<Runtime>`), read by every
//! worker thread. Configuration stays immutable; what changes at run time (server health,
//! weights, counters, queues, persistence tables) sits in atomics or short-held locks.
//!
//! Built once after parsing (1.4 does the equivalent at the end of `check_config_validity`:
//! numbering proxies and servers, resolving backend names, preparing error messages).

use crate::counters::Counters;
use parser::ir::{self, Config, ErrorBody, Mode, ProxyKind};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Default per-proxy maxconn (1.4 `DEFAULT_MAXCONN`, `-N`).
pub const DEFAULT_MAXCONN: u32 = 2000;

/// Process-wide settings derived from `global` and the command line.
#[derive(Clone, Debug)]
pub struct GlobalSettings {
    pub maxconn: u32,
    pub bufsize: usize,
    pub maxrewrite: usize,
    pub node: String,
    pub description: Option<String>,
    pub nbproc: u32,
    pub spread_checks: u32,
    pub splice: bool,
    pub ulimit_n: u32,
    pub pidfile: Option<std::path::PathBuf>,
    /// `tune.rcvbuf.client` / `tune.sndbuf.client` / `tune.rcvbuf.server` / `tune.sndbuf.server`.
    pub sockbuf: SockBufs,
}

/// Socket buffer sizes forced by `tune.{rcv,snd}buf.{client,server}` (`None`: kernel default).
#[derive(Clone, Copy, Debug, Default)]
pub struct SockBufs {
    pub rcv_client: Option<u32>,
    pub snd_client: Option<u32>,
    pub rcv_server: Option<u32>,
    pub snd_server: Option<u32>,
}

impl SockBufs {
    /// Applies the client-side (`client: true`) or server-side sizes to a socket.
    pub fn apply(&self, s: &socket2::SockRef<'_>, client: bool) {
        let (rcv, snd) = if client {
            (self.rcv_client, self.snd_client)
        } else {
            (self.rcv_server, self.snd_server)
        };
        if let Some(n) = rcv {
            let _ = s.set_recv_buffer_size(n as usize);
        }
        if let Some(n) = snd {
            let _ = s.set_send_buffer_size(n as usize);
        }
    }
}

/// Everything a worker needs to serve traffic.
pub struct Runtime {
    pub config: Config,
    pub global: GlobalSettings,
    pub proxies: Vec<Proxy>,
    /// Current connections across all frontends (1.4 `actconn`).
    pub actconn: AtomicU32,
    /// Cumulative connections accepted.
    pub cum_conn: AtomicU64,
    pub started: Instant,
    pub started_at: SystemTime,
    /// Set on soft stop (SIGUSR1): stop accepting, finish what is in flight. Set it with
    /// [`Runtime::begin_stopping`], which also wakes [`Runtime::until_stopping`].
    pub stopping: AtomicBool,
    stop_wake: tokio::sync::Notify,
    /// Wakes accept loops waiting for a free connection slot or a state change.
    pub conn_released: tokio::sync::Notify,
    /// Soft stop, pause/resume and listener handover (`process::control`).
    pub control: crate::process::control::Control,
    /// Debug mode (`-d`, `debug`): every stream prints 1.4's traffic trace on stdout
    /// (`proxy::trace`). Read once per stream.
    pub debug: bool,
    /// Every live stream, for `show sess` (`proxy::registry`).
    pub streams: crate::proxy::registry::Registry,
    /// Invalid messages captured so far (1.4 `error_snapshot_id`, `show errors`).
    pub error_events: AtomicU32,
    /// The global section's `log` targets, for process messages that concern no proxy
    /// (1.4 `send_log(NULL, ...)`).
    pub global_logger: Arc<crate::log::Logger>,
}

/// A live frontend, backend or listen section.
pub struct Proxy {
    pub cfg: ir::Proxy,
    /// Index in `Runtime::proxies`.
    pub idx: usize,
    /// Numeric id (`id` keyword or assigned from 1 in declaration order, as 1.4).
    pub uuid: u32,
    pub servers: Vec<Server>,
    /// Frontend: resolved `use_backend` targets (same order as `cfg.use_backends`).
    pub use_backend_idx: Vec<usize>,
    pub default_backend_idx: Option<usize>,
    /// Frontend counters (also backend counters for a `listen`, kept apart below).
    pub fe_counters: Counters,
    pub be_counters: Counters,
    pub feconn: AtomicU32,
    pub beconn: AtomicU32,
    /// Requests waiting in the backend queue.
    pub nbpend: AtomicU32,
    /// Wakes requests waiting in the backend queue when any server slot frees.
    pub queue: tokio::sync::Notify,
    pub maxconn: u32,
    pub fullconn: u32,
    /// Canned responses for this proxy: built-in bytes or `errorfile`/`errorloc` overrides.
    pub errors: ErrorMessages,
    /// The backend's load balancer (all 1.4 algorithms, weights, backups).
    pub lb: crate::lb::Balancer,
    /// This proxy's syslog targets (`log` lines; `log global` expanded by the parser).
    pub logger: Arc<crate::log::Logger>,
    /// Persistence tables: appsession, stick table, resolved stick rules (`persist`).
    pub persist: crate::persist::ProxyPersist,
    /// Last invalid request (frontend) and response (backend) seen, for `show errors`
    /// (`proxy::snapshot`).
    pub captures: crate::proxy::snapshot::Captures,
}

impl Proxy {
    pub fn name(&self) -> &str {
        &self.cfg.name
    }
    pub fn is_http(&self) -> bool {
        self.cfg.mode.node == Mode::Http
    }
    /// `timeout X` in ms as a Duration, `None` when unset.
    pub fn timeout(v: &Option<parser::span::Spanned<u32>>) -> Option<Duration> {
        v.as_ref().map(|t| Duration::from_millis(u64::from(t.node)))
    }
    pub fn retries(&self) -> u32 {
        self.cfg.retries.as_ref().map(|r| r.node).unwrap_or(3)
    }
    /// Chooses a server by load balancing for `input`, avoiding `avoid` (redispatch) when
    /// the algorithm allows. `Err(NoPick::Full)`: every candidate is saturated (queue on the
    /// backend); `Err(NoPick::NoServer)`: nothing usable.
    pub fn pick(
        &self,
        input: &crate::lb::PickInput<'_>,
        avoid: Option<usize>,
    ) -> Result<usize, crate::lb::NoPick> {
        self.lb.try_pick(input, avoid, &|i| {
            self.servers
                .get(i)
                .is_some_and(|s| self.server_saturated(s))
        })
    }

    /// The current connection limit of a server, 0 = unlimited: `maxconn`, or with `minconn`
    /// the dynamic limit `max(minconn, beconn * maxconn / fullconn)` (1.4 `srv_dynamic_maxconn`).
    pub fn server_limit(&self, s: &Server) -> u32 {
        let max = s.cfg.maxconn;
        if max == 0 {
            return 0;
        }
        let min = s.cfg.minconn;
        if min == 0 || min >= max {
            return max;
        }
        let beconn = u64::from(self.beconn.load(Relaxed));
        let full = u64::from(self.fullconn.max(1));
        if beconn >= full {
            return max;
        }
        let dynamic = (beconn * u64::from(max) / full) as u32;
        dynamic.clamp(min.max(1), max)
    }

    /// No new request may take a slot on `s` now: at its limit, or others already wait for it.
    pub fn server_saturated(&self, s: &Server) -> bool {
        let limit = self.server_limit(s);
        limit > 0 && (s.cur_sess.load(Relaxed) >= limit || s.nbpend.load(Relaxed) > 0)
    }

    /// Takes a connection slot on server `idx` if one is free right now.
    pub fn try_take_slot(&self, idx: usize) -> bool {
        let Some(s) = self.servers.get(idx) else {
            return false;
        };
        let limit = self.server_limit(s);
        if limit == 0 {
            self.server_conn_start(idx);
            return true;
        }
        let mut cur = s.cur_sess.load(Relaxed);
        loop {
            if cur >= limit {
                return false;
            }
            match s
                .cur_sess
                .compare_exchange_weak(cur, cur + 1, Relaxed, Relaxed)
            {
                Ok(_) => {
                    s.counters.new_session(u64::from(cur + 1));
                    self.lb.conn_start(idx);
                    return true;
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// A connection to server `idx` starts (or is being attempted): counts it for `maxconn`,
    /// the stats and leastconn.
    pub fn server_conn_start(&self, idx: usize) {
        if let Some(s) = self.servers.get(idx) {
            let cur = s.cur_sess.fetch_add(1, Relaxed) + 1;
            s.counters.new_session(u64::from(cur));
            self.lb.conn_start(idx);
        }
    }

    /// The connection to server `idx` ended (or the attempt failed): the slot goes to the
    /// next request queued for this server, else to the backend queue.
    pub fn server_conn_end(&self, idx: usize) {
        if let Some(s) = self.servers.get(idx) {
            s.cur_sess.fetch_sub(1, Relaxed);
            self.lb.conn_end(idx);
            if s.nbpend.load(Relaxed) > 0 {
                s.queue.notify_one();
            } else if self.nbpend.load(Relaxed) > 0 {
                self.queue.notify_one();
            }
        }
    }

    /// Tells the balancer that server `idx` changed state (health, maintenance, weight):
    /// called by health checks and admin actions.
    pub fn server_state_changed(&self, idx: usize) {
        if let Some(s) = self.servers.get(idx) {
            self.lb.set_usable(
                idx,
                s.up.load(Relaxed) && !s.maint.load(Relaxed) && !s.nolb.load(Relaxed),
            );
        }
    }

    /// Servers usable for load balancing right now (for `nbsrv` and the stats page).
    pub fn usable_servers(&self) -> usize {
        self.servers
            .iter()
            .filter(|s| !s.cfg.backup && s.is_usable())
            .count()
    }
}

/// A live server.
pub struct Server {
    pub cfg: ir::Server,
    /// Index in its backend's `servers`.
    pub idx: usize,
    /// Numeric id (`id` keyword or position + 1).
    pub puid: u32,
    /// Resolved address; `None` = connect to the address the client connected to.
    pub addr: Option<SocketAddr>,
    /// Health: true while UP (set by checks; starts UP as in 1.4).
    pub up: AtomicBool,
    /// Administrative maintenance (`disabled`, `disable server`, stats admin).
    pub maint: AtomicBool,
    /// Soft-stopped by `http-check disable-on-404`: only persistent traffic.
    pub nolb: AtomicBool,
    /// Current effective (user) weight, changed by `set weight`.
    pub weight: AtomicU32,
    /// Connections currently established or being established to this server.
    pub cur_sess: AtomicU32,
    /// Requests waiting in this server's queue.
    pub nbpend: AtomicU32,
    /// Wakes requests waiting in this server's queue when a slot frees.
    pub queue: tokio::sync::Notify,
    pub counters: Counters,
    /// Health-check state: health counter, last check, tracking, slowstart (`check::state`).
    pub check: crate::check::CheckState,
}

impl Server {
    /// UP, not in maintenance, not NOLB, and weight > 0.
    pub fn is_usable(&self) -> bool {
        self.up.load(Relaxed)
            && !self.maint.load(Relaxed)
            && !self.nolb.load(Relaxed)
            && self.weight.load(Relaxed) > 0
    }
    /// May receive persistent (cookie/appsession) traffic: UP and not in maintenance.
    pub fn accepts_persistent(&self) -> bool {
        self.up.load(Relaxed) && !self.maint.load(Relaxed)
    }
}

/// Canned responses, indexed by status code, after `errorfile`/`errorloc` overrides (1.4
/// `errmsg[]`): `errorfile` bytes are sent verbatim, `errorloc`/`errorloc302`/`errorloc303`
/// become 1.4's 302/303 reply. The stream looks in the backend's table, then the
/// frontend's, then falls back to the built-in page (1.4 `error_message`), and logs the
/// status it meant to send.
#[derive(Clone, Debug, Default)]
pub struct ErrorMessages {
    overrides: Vec<(u16, Arc<[u8]>)>,
}

impl ErrorMessages {
    /// Builds the overrides from the proxy's `errorfile`/`errorloc*` lines (later lines win).
    pub fn from_cfg(errors: &[parser::span::Spanned<ir::ErrorMessage>]) -> Self {
        let mut overrides: Vec<(u16, Arc<[u8]>)> = Vec::new();
        for e in errors {
            let bytes: Vec<u8> = match &e.body {
                ErrorBody::File { bytes, .. } => bytes.clone(),
                ErrorBody::Location { code, url } => {
                    let mut out = Vec::with_capacity(80 + url.len());
                    crate::http1::write_errorloc(&mut out, *code, url.as_bytes());
                    out
                }
            };
            overrides.retain(|(c, _)| *c != e.status);
            overrides.push((e.status, Arc::from(bytes)));
        }
        ErrorMessages { overrides }
    }

    /// The configured replacement for `status`, if any.
    pub fn get(&self, status: u16) -> Option<&[u8]> {
        self.overrides
            .iter()
            .find(|(c, _)| *c == status)
            .map(|(_, b)| &b[..])
    }
}

/// Why the runtime could not be built from a valid configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("proxy '{proxy}': backend '{backend}' not found")]
    MissingBackend { proxy: String, backend: String },
}

impl Runtime {
    /// Turns a validated configuration into live state.
    pub fn build(config: Config, global: GlobalSettings) -> Result<Runtime, BuildError> {
        let mut proxies = Vec::with_capacity(config.proxies.len());
        let ident = log_ident(&config);
        let mut persist = crate::persist::ProxyPersist::build_all(&config.proxies).into_iter();
        // Numbering as 1.4: explicit ids kept, the others take the next free number.
        let uuids = crate::lb::auto_puids(
            &config
                .proxies
                .iter()
                .map(|p| p.id.as_ref().map(|i| i.node))
                .collect::<Vec<_>>(),
        );
        for (idx, p) in config.proxies.iter().enumerate() {
            let uuid = uuids[idx];
            let mut servers = Vec::with_capacity(p.servers.len());
            let puids = crate::lb::auto_puids(&p.servers.iter().map(|s| s.id).collect::<Vec<_>>());
            for (sidx, s) in p.servers.iter().enumerate() {
                let puid = puids[sidx];
                let addr = match (s.addr.ip, s.addr.port) {
                    (Some(ip), ir::ServerPort::Fixed(port)) => Some(SocketAddr::new(ip, port)),
                    _ => None,
                };
                servers.push(Server {
                    cfg: s.node.clone(),
                    idx: sidx,
                    puid,
                    addr,
                    // `disabled` starts in maintenance and not running, as 1.4.
                    up: AtomicBool::new(!s.disabled),
                    maint: AtomicBool::new(s.disabled),
                    nolb: AtomicBool::new(false),
                    weight: AtomicU32::new(s.weight),
                    cur_sess: AtomicU32::new(0),
                    nbpend: AtomicU32::new(0),
                    queue: tokio::sync::Notify::new(),
                    counters: Counters::new(),
                    check: crate::check::CheckState::new(&s.node),
                });
            }
            let maxconn = p
                .maxconn
                .as_ref()
                .map(|m| m.node)
                .unwrap_or(DEFAULT_MAXCONN);
            proxies.push(Proxy {
                idx,
                uuid,
                servers,
                use_backend_idx: Vec::new(),
                default_backend_idx: None,
                fe_counters: Counters::new(),
                be_counters: Counters::new(),
                feconn: AtomicU32::new(0),
                beconn: AtomicU32::new(0),
                nbpend: AtomicU32::new(0),
                queue: tokio::sync::Notify::new(),
                maxconn,
                fullconn: p.fullconn.as_ref().map(|f| f.node).unwrap_or(maxconn),
                errors: ErrorMessages::from_cfg(&p.errors),
                lb: crate::lb::Balancer::for_proxy(p),
                logger: Arc::new(build_logger(p.logs.iter().map(|l| &l.node), &ident)),
                persist: persist.next().unwrap_or_default(),
                captures: Default::default(),
                cfg: p.clone(),
            });
        }
        crate::check::resolve_tracking(&mut proxies);
        // Resolve backend names once, so the data path indexes instead of searching.
        let find_be = |name: &str| {
            config
                .proxies
                .iter()
                .position(|p| p.name == name && p.kind.has_be())
        };
        for px in proxies.iter_mut() {
            if !px.cfg.kind.has_fe() {
                continue;
            }
            for ub in &px.cfg.use_backends {
                let i = find_be(&ub.backend).ok_or_else(|| BuildError::MissingBackend {
                    proxy: px.cfg.name.clone(),
                    backend: ub.backend.clone(),
                })?;
                px.use_backend_idx.push(i);
            }
            if let Some(db) = &px.cfg.default_backend {
                px.default_backend_idx =
                    Some(find_be(&db.node).ok_or_else(|| BuildError::MissingBackend {
                        proxy: px.cfg.name.clone(),
                        backend: db.node.clone(),
                    })?);
            } else if px.cfg.kind == ProxyKind::Listen {
                px.default_backend_idx = Some(px.idx);
            }
        }
        let control = crate::process::control::Control::new(&config.proxies);
        let global_logger = Arc::new(build_logger(
            config.global.logs.iter().map(|l| &l.node),
            &ident,
        ));
        Ok(Runtime {
            control,
            config,
            global,
            proxies,
            actconn: AtomicU32::new(0),
            cum_conn: AtomicU64::new(0),
            started: Instant::now(),
            started_at: SystemTime::now(),
            stopping: AtomicBool::new(false),
            stop_wake: tokio::sync::Notify::new(),
            conn_released: tokio::sync::Notify::new(),
            debug: false,
            streams: crate::proxy::registry::Registry::new(),
            error_events: AtomicU32::new(0),
            global_logger,
        })
    }

    /// Marks the process as stopping; returns whether it already was. Wakes every task
    /// waiting in [`Runtime::until_stopping`].
    pub fn begin_stopping(&self) -> bool {
        let was = self
            .stopping
            .swap(true, std::sync::atomic::Ordering::SeqCst);
        self.stop_wake.notify_waiters();
        was
    }

    /// Resolves once the process is stopping (at once if it already is).
    pub async fn until_stopping(&self) {
        loop {
            let woken = self.stop_wake.notified();
            tokio::pin!(woken);
            // Registered before the flag is read: a stop between the two still wakes us.
            woken.as_mut().enable();
            if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            woken.await;
        }
    }

    pub fn proxy_by_name(&self, name: &str) -> Option<&Proxy> {
        self.proxies.iter().find(|p| p.cfg.name == name)
    }
}

pub type SharedRuntime = Arc<Runtime>;

/// Syslog identity: `log-tag` (else the program name), `log-send-hostname`, our pid (the
/// runtime is built after any fork).
pub fn log_ident(config: &Config) -> crate::log::LogIdent {
    let g = &config.global;
    let tag = match &g.log_tag {
        Some(t) => t.node.clone(),
        None => crate::log::syslog::default_tag(&std::env::args().next().unwrap_or_default()),
    };
    let hostname = g.log_send_hostname.as_ref().map(|h| {
        h.node
            .clone()
            .unwrap_or_else(crate::log::syslog::machine_hostname)
    });
    crate::log::LogIdent::new(tag, hostname, std::process::id())
}

/// A logger for these targets; a target that cannot be opened is reported once and skipped.
pub fn build_logger<'a>(
    targets: impl IntoIterator<Item = &'a ir::LogTarget>,
    ident: &crate::log::LogIdent,
) -> crate::log::Logger {
    let targets: Vec<&ir::LogTarget> = targets.into_iter().collect();
    match crate::log::Logger::new(targets.iter().copied(), ident) {
        Ok(l) => l,
        Err(e) => {
            crate::cli::warning(&format!("cannot open log target: {e}"));
            crate::log::Logger::disabled()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parser::span::Spanned;

    #[test]
    fn until_stopping_wakes_on_a_stop_and_returns_at_once_after_it() {
        let rt = Arc::new(
            crate::proxy::fuzz::runtime_from_text(
                "frontend f\n bind 127.0.0.1:18998\n mode http\n",
            )
            .expect("config"),
        );
        let tokio_rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        tokio_rt.block_on(async {
            let waiter = tokio::spawn({
                let rt = rt.clone();
                async move { rt.until_stopping().await }
            });
            tokio::task::yield_now().await;
            assert!(!waiter.is_finished());
            assert!(!rt.begin_stopping(), "not stopping before");
            tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
                .await
                .expect("woken by the stop")
                .expect("task");
            assert!(rt.begin_stopping(), "already stopping");
            tokio::time::timeout(std::time::Duration::from_secs(5), rt.until_stopping())
                .await
                .expect("returns at once");
        });
    }

    #[test]
    fn error_messages_later_lines_win_and_errorloc_bytes() {
        let sp = |e: ir::ErrorMessage| Spanned::new(parser::span::Span::builtin(), e);
        let errors = vec![
            sp(ir::ErrorMessage {
                status: 503,
                body: ErrorBody::File {
                    path: "a".into(),
                    bytes: b"first".to_vec(),
                },
            }),
            sp(ir::ErrorMessage {
                status: 503,
                body: ErrorBody::Location {
                    code: 303,
                    url: "/m".into(),
                },
            }),
            sp(ir::ErrorMessage {
                status: 403,
                body: ErrorBody::Location {
                    code: 302,
                    url: "http://x/".into(),
                },
            }),
        ];
        let m = ErrorMessages::from_cfg(&errors);
        assert_eq!(
            m.get(503),
            Some(
                &b"HTTP/1.1 303 See Other\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: /m\r\n\r\n"[..]
            )
        );
        assert_eq!(
            m.get(403),
            Some(
                &b"HTTP/1.1 302 Found\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: http://x/\r\n\r\n"[..]
            )
        );
        assert_eq!(m.get(500), None);
    }
}
