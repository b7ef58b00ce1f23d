//! The product's logging, byte-compatible with HAProxy 1.4: syslog targets
//! ([`syslog::Logger`]), traffic lines ([`httplog`]), termination flags ([`term`]), and the
//! text of process messages (proxy start/stop/pause, server state changes, SIGHUP dumps).
//!
//! Keywords: `log` (global and proxy, `log global`), `log-tag`, `log-send-hostname`,
//! `option httplog [clf]`, `option tcplog`, `option dontlognull`, `option dontlog-normal`,
//! `option log-separate-errors`, `option logasap`, `option log-health-checks`,
//! `capture cookie`, `capture request|response header`.
//!
//! Compare with 1.4 `src/log.c`, `src/proto_http.c` (`http_sess_log`), `src/proxy.c`
//! (`start_proxies`, `soft_stop`, `pause_proxies`, `listen_proxies`), `src/checks.c`
//! (`set_server_down`, `set_server_up`, `server_status_printf`) and `src/haproxy.c`
//! (`sig_dump_state`).
//!
//! Two separate streams, never mixed: the product's syslog packets go only through
//! [`syslog::Logger`]; our own diagnostics (and 1.4's stderr `[WARNING]`/`[ALERT]` copies of
//! process messages) go through the `log` crate to stderr, set up by [`init_stderr_logging`].

pub mod capture;
mod clock;
mod fmt;
pub mod httplog;
pub mod syslog;
pub mod term;

use std::io::Write as _;
use std::time::SystemTime;

use parser::ir::{LogFormat, ProxyKind};

pub use clock::{init_local_timezone, stderr_stamp};
pub(crate) use clock::{local_tm, push_accept_date, MONTHS};
pub use httplog::{
    write_connect_line, write_httplog, write_httplog_clf, write_tcplog, ServerField, Timers, TxnLog,
};
pub use syslog::{default_tag, machine_hostname, Level, LogError, LogIdent, Logger};
pub use term::{Cause, Phase, ReqCookie, ResCookie, TermState, Termination};

// ---------------------------------------------------------------------------------------------
// traffic log decisions
// ---------------------------------------------------------------------------------------------

/// The frontend options that decide whether and at which level a traffic line is sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficLogOptions {
    /// `option dontlognull`.
    pub dontlognull: bool,
    /// `option dontlog-normal`.
    pub dontlog_normal: bool,
    /// `option log-separate-errors`.
    pub log_separate_errors: bool,
}

/// Whether a finished stream gets its traffic line at all: not for `monitor-uri` requests,
/// and not, with `option dontlognull`, when the client sent no byte (1.4 `process_session`
/// end: `!(fe->options & PR_O_NULLNOLOG) || s->req->total`).
pub fn stream_is_logged(dontlognull: bool, request_bytes: u64, monitor_request: bool) -> bool {
    !monitor_request && (!dontlognull || request_bytes > 0)
}

/// An HTTP stream counts as an error (for `dontlog-normal` and `log-separate-errors`) when a
/// termination cause was recorded, it was redispatched, a connection was retried, or the
/// status is 5xx (1.4 `http_sess_log`).
pub fn http_is_error(t: &TxnLog) -> bool {
    tcp_is_error(t) || t.status >= 500
}

/// The same criteria without the status, for tcplog (1.4 `tcp_sess_log`).
pub fn tcp_is_error(t: &TxnLog) -> bool {
    t.term.term.is_error() || t.redispatched || t.retries > 0
}

/// The level of a traffic line, or `None` when `option dontlog-normal` suppresses it:
/// `info`, or `err` for error streams under `option log-separate-errors`.
pub fn traffic_level(opts: &TrafficLogOptions, is_error: bool) -> Option<Level> {
    if opts.dontlog_normal && !is_error {
        None
    } else if is_error && opts.log_separate_errors {
        Some(Level::Err)
    } else {
        Some(Level::Info)
    }
}

/// Formats and sends the end-of-stream line of `format` to the frontend's `logger`, after
/// the `dontlog-normal` / `log-separate-errors` decision. Proxies without httplog/tcplog
/// ([`LogFormat::Connect`]) log at accept instead ([`send_connect_line`]); nothing is sent
/// for them here. The caller checks [`stream_is_logged`] first.
pub fn send_traffic_log(logger: &Logger, format: LogFormat, opts: &TrafficLogOptions, t: &TxnLog) {
    let (is_error, write): (bool, fn(&TxnLog, &mut Vec<u8>)) = match format {
        LogFormat::Connect => return,
        LogFormat::Tcp => (tcp_is_error(t), write_tcplog),
        LogFormat::Http => (http_is_error(t), write_httplog),
        LogFormat::HttpClf => (http_is_error(t), write_httplog_clf),
    };
    if let Some(level) = traffic_level(opts, is_error) {
        logger.send_with(level, |out| write(t, out));
    }
}

/// Sends the `Connect from ...` line at `info` (proxies in `mode tcp|http` with `log`
/// targets and neither `option httplog` nor `option tcplog`).
pub fn send_connect_line(
    logger: &Logger,
    client: std::net::SocketAddr,
    local: std::net::SocketAddr,
    proxy: &str,
    http: bool,
) {
    logger.send_with(Level::Info, |out| {
        write_connect_line(client, local, proxy, http, out)
    });
}

// ---------------------------------------------------------------------------------------------
// process messages
// ---------------------------------------------------------------------------------------------

/// How 1.4 names a proxy in messages: `frontend`, `backend`, or `proxy` for `listen`
/// (`proxy_cap_str` / `proxy_type_str`).
pub fn proxy_type_str(kind: ProxyKind) -> &'static str {
    match kind {
        ProxyKind::Frontend => "frontend",
        ProxyKind::Backend => "backend",
        ProxyKind::Listen => "proxy",
    }
}

/// `Proxy <name> started.` — syslog `notice` to the proxy's targets once its listeners are
/// bound (no stderr copy).
pub fn proxy_started_msg(name: &str) -> String {
    format!("Proxy {name} started.")
}

/// Sends `Proxy <name> started.` at `notice` to the targets of every proxy of `rt` that is
/// not `disabled`, in configuration order, as 1.4 `start_proxies` does once the listeners
/// are bound (backends included; a proxy without `log` lines sends nothing).
pub fn send_proxies_started(rt: &crate::runtime::Runtime) {
    for p in rt.proxies.iter().filter(|p| p.cfg.disabled.is_none()) {
        if !p.logger.is_empty() {
            p.logger
                .send_str(Level::Notice, &proxy_started_msg(p.name()));
        }
    }
}

/// `Stopping <type> <name> in <grace> ms.` — `warning`, syslog and stderr (soft stop).
pub fn proxy_stopping_msg(kind: ProxyKind, name: &str, grace_ms: u64) -> String {
    format!("Stopping {} {name} in {grace_ms} ms.", proxy_type_str(kind))
}

/// `Proxy <name> stopped (FE: <n> conns, BE: <n> conns).` — `warning`, syslog and stderr;
/// the counts are cumulated frontend and backend connections.
pub fn proxy_stopped_msg(name: &str, cum_feconn: u64, cum_beconn: u64) -> String {
    format!("Proxy {name} stopped (FE: {cum_feconn} conns, BE: {cum_beconn} conns).")
}

/// `Pausing <type> <name>.` — `warning`, syslog and stderr (SIGTTOU, frontends only).
pub fn proxy_pausing_msg(kind: ProxyKind, name: &str) -> String {
    format!("Pausing {} {name}.", proxy_type_str(kind))
}

/// `<type> <name> failed to enter pause mode.` — `warning`, syslog and stderr.
pub fn proxy_pause_failed_msg(kind: ProxyKind, name: &str) -> String {
    format!(
        "{} {name} failed to enter pause mode.",
        proxy_type_str(kind)
    )
}

/// Sent to the global targets when a pause failed, before a soft stop — `warning`.
pub const PAUSE_REFUSED_MSG: &str = "Some proxies refused to pause, performing soft stop now.";

/// `Enabling <type> <name>.` — `warning`, syslog and stderr (SIGTTIN on a paused proxy).
pub fn proxy_enabling_msg(kind: ProxyKind, name: &str) -> String {
    format!("Enabling {} {name}.", proxy_type_str(kind))
}

/// `Port <port> busy while trying to enable <type> <name>.` — `warning`, syslog and stderr.
pub fn port_busy_msg(port: u16, kind: ProxyKind, name: &str) -> String {
    format!(
        "Port {port} busy while trying to enable {} {name}.",
        proxy_type_str(kind)
    )
}

/// Health check statuses (1.4 `check_statuses[]`): short name for stats, description for
/// logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckStatus {
    Unknown,
    Ini,
    SockErr,
    L4Ok,
    L4Tout,
    L4Con,
    L6Ok,
    L6Tout,
    L6Rsp,
    L7Ok,
    L7OkC,
    L7Tout,
    L7Rsp,
    L7Sts,
    /// Failure reported by `observe` (health analyze).
    Hana,
}

impl CheckStatus {
    /// The short name shown in stats (`L4OK`, `L7STS`, ...).
    pub fn name(self) -> &'static str {
        match self {
            CheckStatus::Unknown => "UNK",
            CheckStatus::Ini => "INI",
            CheckStatus::SockErr => "SOCKERR",
            CheckStatus::L4Ok => "L4OK",
            CheckStatus::L4Tout => "L4TOUT",
            CheckStatus::L4Con => "L4CON",
            CheckStatus::L6Ok => "L6OK",
            CheckStatus::L6Tout => "L6TOUT",
            CheckStatus::L6Rsp => "L6RSP",
            CheckStatus::L7Ok => "L7OK",
            CheckStatus::L7OkC => "L7OKC",
            CheckStatus::L7Tout => "L7TOUT",
            CheckStatus::L7Rsp => "L7RSP",
            CheckStatus::L7Sts => "L7STS",
            CheckStatus::Hana => "HANA",
        }
    }

    /// The description written after `reason: `.
    pub fn description(self) -> &'static str {
        match self {
            CheckStatus::Unknown => "Unknown",
            CheckStatus::Ini => "Initializing",
            CheckStatus::SockErr => "Socket error",
            CheckStatus::L4Ok => "Layer4 check passed",
            CheckStatus::L4Tout => "Layer4 timeout",
            CheckStatus::L4Con => "Layer4 connection problem",
            CheckStatus::L6Ok => "Layer6 check passed",
            CheckStatus::L6Tout => "Layer6 timeout",
            CheckStatus::L6Rsp => "Layer6 invalid response",
            CheckStatus::L7Ok => "Layer7 check passed",
            CheckStatus::L7OkC => "Layer7 check conditionally passed",
            CheckStatus::L7Tout => "Layer7 timeout",
            CheckStatus::L7Rsp => "Layer7 invalid response",
            CheckStatus::L7Sts => "Layer7 wrong status",
            CheckStatus::Hana => "Health analyze",
        }
    }

    /// Statuses that carry a response code (`, code: <n>`): the layer-7 results that read
    /// a status (1.4: `check_status >= HCHK_STATUS_L57DATA`).
    pub fn has_code(self) -> bool {
        matches!(
            self,
            CheckStatus::L7Ok | CheckStatus::L7OkC | CheckStatus::L7Sts
        )
    }
}

/// The last check result of a server, as shown in state-change messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckResult<'a> {
    pub status: CheckStatus,
    /// Response code (HTTP status, SMTP code); printed only when [`CheckStatus::has_code`].
    pub code: i32,
    /// Free text (the response's reason phrase, an errno string); empty for none.
    pub info: &'a [u8],
    /// Check duration in ms, −1 when unknown (observe failures).
    pub duration_ms: i64,
}

/// 1.4 keeps at most 127 bytes of a check's text (`HCHK_DESC_LEN`).
const CHECK_DESC_MAX: usize = 127;

/// A server and the counters its state-change messages print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerState<'a> {
    pub backend: &'a str,
    pub server: &'a str,
    /// `backup` server: messages start with `Backup `.
    pub backup: bool,
    /// `track <be>/<srv>`: the tracked server, named in ` via <be>/<srv>`.
    pub tracked: Option<(&'a str, &'a str)>,
    /// The last check, printed for servers that do not track another one, and only when
    /// `option log-health-checks` is off (those details then went to the per-check lines).
    pub check: Option<CheckResult<'a>>,
    /// The backend's `option log-health-checks`.
    pub log_health_checks: bool,
    /// Usable active servers of the backend after the change.
    pub active: u32,
    /// Usable backup servers of the backend after the change.
    pub backup_count: u32,
    /// Sessions currently on the server.
    pub cur_sess: u32,
    /// Sessions waiting in the server's queue.
    pub queued: u32,
}

/// 1.4 `chunk_asciiencode(.., '"')`: non-printable bytes, `<`, `>` and `"` become `<XX>`.
fn push_ascii_encoded(out: &mut String, s: &[u8]) {
    for &b in s {
        if (0x20..0x7f).contains(&b) && b != b'<' && b != b'>' && b != b'"' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("<{b:02X}>"));
        }
    }
}

/// ` via be/srv`, `, reason: ..., code: ..., info: "...", check duration: ...ms` — the part
/// of 1.4 `server_status_printf` before the server counts.
fn push_via_and_check(out: &mut String, s: &ServerState, with_check: bool) {
    if let Some((be, srv)) = s.tracked {
        out.push_str(&format!(" via {be}/{srv}"));
    }
    if !with_check {
        return;
    }
    let Some(c) = &s.check else { return };
    out.push_str(", reason: ");
    out.push_str(c.status.description());
    if c.status.has_code() {
        out.push_str(&format!(", code: {}", c.code));
    }
    let info = fmt::cstr(c.info);
    let info = &info[..info.len().min(CHECK_DESC_MAX)];
    if !info.is_empty() {
        out.push_str(", info: \"");
        push_ascii_encoded(out, info);
        out.push('"');
    }
    if c.duration_ms >= 0 {
        out.push_str(&format!(", check duration: {}ms", c.duration_ms));
    }
}

/// Check details appear in state-change messages only for non-tracking servers without
/// `option log-health-checks`.
fn state_change_shows_check(s: &ServerState) -> bool {
    s.tracked.is_none() && !s.log_health_checks
}

fn running_on_backup(s: &ServerState) -> &'static str {
    if s.backup_count > 0 && s.active == 0 {
        " Running on backup."
    } else {
        ""
    }
}

/// `. <a> active and <b> backup servers left.[ Running on backup.] <s> sessions active, <r>
/// requeued, <q> remaining in queue` (server no longer running).
fn push_counts_down(out: &mut String, s: &ServerState, requeued: u32) {
    out.push_str(&format!(
        ". {} active and {} backup servers left.{} {} sessions active, {} requeued, {} remaining in queue",
        s.active,
        s.backup_count,
        running_on_backup(s),
        s.cur_sess,
        requeued,
        s.queued
    ));
}

/// `. <a> active and <b> backup servers online.[ Running on backup.] <r> sessions requeued,
/// <q> total in queue` (server running).
fn push_counts_up(out: &mut String, s: &ServerState, requeued: u32) {
    out.push_str(&format!(
        ". {} active and {} backup servers online.{} {} sessions requeued, {} total in queue",
        s.active,
        s.backup_count,
        running_on_backup(s),
        requeued,
        s.queued
    ));
}

fn backup_prefix(s: &ServerState) -> &'static str {
    if s.backup {
        "Backup "
    } else {
        ""
    }
}

/// `[Backup ]Server <be>/<srv> is DOWN[ via ..][, reason: ..]. <a> active and <b> backup
/// servers left.[ Running on backup.] <s> sessions active, <r> requeued, <q> remaining in
/// queue.` or, entering maintenance, `[Backup ]Server <be>/<srv> is DOWN for maintenance.`
/// `requeued` = sessions redispatched from the server's queue. Level: [`server_down_level`];
/// copied to stderr as a warning.
pub fn server_down_msg(s: &ServerState, maintenance: bool, requeued: u32) -> String {
    let mut m = format!(
        "{}Server {}/{} is DOWN",
        backup_prefix(s),
        s.backend,
        s.server
    );
    if maintenance {
        m.push_str(" for maintenance");
    } else {
        push_via_and_check(&mut m, s, state_change_shows_check(s));
        push_counts_down(&mut m, s, requeued);
    }
    m.push('.');
    m
}

/// `alert`, or `notice` when the server was already excluded from load balancing (NOLB,
/// `disable-on-404`) before going down.
pub fn server_down_level(was_nolb: bool) -> Level {
    if was_nolb {
        Level::Notice
    } else {
        Level::Alert
    }
}

/// `[Backup ]Server <be>/<srv> is UP[ via ..][, reason: ..]. <a> active and <b> backup
/// servers online.[ Running on backup.] <r> sessions requeued, <q> total in queue.` or, leaving
/// maintenance, `[Backup ]Server <be>/<srv> is UP (leaving maintenance).` `requeued` =
/// sessions taken from the backend's queue. Level `notice`; copied to stderr as a warning.
pub fn server_up_msg(s: &ServerState, leaving_maintenance: bool, requeued: u32) -> String {
    let mut m = format!(
        "{}Server {}/{} is UP",
        backup_prefix(s),
        s.backend,
        s.server
    );
    if leaving_maintenance {
        m.push_str(" (leaving maintenance)");
    } else {
        push_via_and_check(&mut m, s, state_change_shows_check(s));
        push_counts_up(&mut m, s, requeued);
    }
    m.push('.');
    m
}

/// `Load-balancing on [Backup ]Server <be>/<srv> is disabled...` (`disable-on-404`), with
/// the "online" counts. Level `notice`; copied to stderr as a warning.
pub fn server_lb_disabled_msg(s: &ServerState, requeued: u32) -> String {
    let mut m = format!(
        "Load-balancing on {}Server {}/{} is disabled",
        backup_prefix(s),
        s.backend,
        s.server
    );
    push_via_and_check(&mut m, s, state_change_shows_check(s));
    push_counts_up(&mut m, s, requeued);
    m.push('.');
    m
}

/// `Load-balancing on [Backup ]Server <be>/<srv> is enabled again...`. Level `notice`;
/// copied to stderr as a warning.
pub fn server_lb_enabled_msg(s: &ServerState, requeued: u32) -> String {
    let mut m = format!(
        "Load-balancing on {}Server {}/{} is enabled again",
        backup_prefix(s),
        s.backend,
        s.server
    );
    push_via_and_check(&mut m, s, state_change_shows_check(s));
    push_counts_up(&mut m, s, requeued);
    m.push('.');
    m
}

/// `option log-health-checks` line, at `notice` (and a stderr warning):
/// `Health check for [backup ]server <be>/<srv> [conditionally ]succeeded|failed, reason: ...,
/// status: <n>/<m> UP|DOWN.` The status numbers are those after applying this result: while
/// UP `health-rise+1`/`fall`, while DOWN `health`/`rise` (1.4 `set_server_check_status`).
pub fn health_check_msg(
    s: &ServerState,
    succeeded: bool,
    conditionally: bool,
    status_num: u32,
    status_den: u32,
    up: bool,
) -> String {
    let mut m = format!(
        "Health check for {}server {}/{} {}{}",
        if s.backup { "backup " } else { "" },
        s.backend,
        s.server,
        if conditionally { "conditionally " } else { "" },
        if succeeded { "succeeded" } else { "failed" }
    );
    push_via_and_check(&mut m, s, true);
    m.push_str(&format!(
        ", status: {status_num}/{status_den} {}.",
        if up { "UP" } else { "DOWN" }
    ));
    m
}

/// `<type> <name> has no server available!` — syslog `emerg` to the backend's targets when
/// its last server goes down.
pub fn backend_no_server_msg(kind: ProxyKind, name: &str) -> String {
    format!("{} {name} has no server available!", proxy_type_str(kind))
}

/// The stderr alert of the same event, which quotes the name: `<type> '<name>' has no server
/// available!`.
pub fn backend_no_server_alert(kind: ProxyKind, name: &str) -> String {
    format!("{} '{name}' has no server available!", proxy_type_str(kind))
}

/// SIGHUP: the stderr warning printed once.
pub const SIGHUP_STDERR_MSG: &str = "SIGHUP received, dumping servers states.";

/// SIGHUP: first line sent to each proxy's targets (`notice`).
pub fn sighup_proxy_header_msg(proxy: &str) -> String {
    format!("SIGHUP received, dumping servers states for proxy {proxy}.")
}

/// SIGHUP: one line per server (`notice`, and a stderr warning):
/// `SIGHUP: Server <px>/<srv> is UP|DOWN. Conn: <cur> act, <queued> pend, <total> tot.`
pub fn sighup_server_msg(
    proxy: &str,
    server: &str,
    up: bool,
    cur_sess: u32,
    queued: u32,
    cum_sess: u64,
) -> String {
    format!(
        "SIGHUP: Server {proxy}/{server} is {}. Conn: {cur_sess} act, {queued} pend, {cum_sess} tot.",
        if up { "UP" } else { "DOWN" }
    )
}

/// Counters of the per-proxy SIGHUP summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxySummary {
    /// The proxy declares servers at all.
    pub has_servers: bool,
    pub active: u32,
    pub backup: u32,
    pub feconn: u32,
    pub beconn: u32,
    /// Sessions queued on the proxy and its servers.
    pub total_pending: u32,
    /// Sessions queued on the proxy, not yet assigned to a server.
    pub unassigned: u32,
    pub cum_feconn: u64,
    pub cum_beconn: u64,
}

/// SIGHUP: the per-proxy summary line (`notice`, and a stderr warning).
pub fn sighup_proxy_summary_msg(proxy: &str, p: &ProxySummary) -> String {
    let conns = format!(
        "Conn: act(FE+BE): {}+{}, {} pend ({} unass), tot(FE+BE): {}+{}.",
        p.feconn, p.beconn, p.total_pending, p.unassigned, p.cum_feconn, p.cum_beconn
    );
    if !p.has_servers {
        format!("SIGHUP: Proxy {proxy} has no servers. {conns}")
    } else if p.active == 0 {
        let what = if p.backup > 0 {
            "is running on backup servers"
        } else {
            "has no server available"
        };
        format!("SIGHUP: Proxy {proxy} {what} ! {conns}")
    } else {
        format!(
            "SIGHUP: Proxy {proxy} has {} active servers and {} backup servers available. {conns}",
            p.active, p.backup
        )
    }
}

// ---------------------------------------------------------------------------------------------
// stderr copies (1.4 `Warning()` / `Alert()`), through the `log` crate
// ---------------------------------------------------------------------------------------------

/// `log` target of the stderr copies of process messages.
pub const PROCESS_TARGET: &str = "haproxide::process";

/// Prints `[WARNING] DDD/HHMMSS (pid) : msg` on stderr (when [`init_stderr_logging`] ran and
/// the filter lets warnings through). Never reaches syslog.
pub fn stderr_warning(msg: &str) {
    log::warn!(target: PROCESS_TARGET, "{msg}");
}

/// Prints `[ALERT] DDD/HHMMSS (pid) : msg` on stderr. Never reaches syslog.
pub fn stderr_alert(msg: &str) {
    log::error!(target: PROCESS_TARGET, "{msg}");
}

/// Sends `msg` to `logger` at `level` and copies it to stderr as a 1.4 `Warning()` — the
/// pattern of most process messages (server DOWN/UP, stopping, pausing, SIGHUP lines).
pub fn send_and_warn(logger: &Logger, level: Level, msg: &str) {
    stderr_warning(msg);
    logger.send_str(level, msg);
}

/// Sets up stderr output of the `log` crate for foreground runs (`-d`, `-db`): errors print
/// as `[ALERT] DDD/HHMMSS (pid) : ...`, warnings as `[WARNING] ...` (1.4's stderr form),
/// lower levels with their target. The filter is `RUST_LOG` when set, else `debug` with
/// `debug = true` and `warn` otherwise. Calling it twice keeps the first setup.
pub fn init_stderr_logging(debug: bool) {
    let default = if debug { "debug" } else { "warn" };
    let mut b =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default));
    b.format(|buf, record| {
        let stamp = stderr_stamp(SystemTime::now(), std::process::id());
        match record.level() {
            log::Level::Error => writeln!(buf, "[ALERT] {stamp} : {}", record.args()),
            log::Level::Warn => writeln!(buf, "[WARNING] {stamp} : {}", record.args()),
            other => writeln!(
                buf,
                "[{}] {stamp} : {}: {}",
                other.as_str(),
                record.target(),
                record.args()
            ),
        }
    });
    // Already initialised (tests, or a second call): keep the existing logger.
    let _ = b.try_init();
}

#[cfg(test)]
mod tests {
    use super::clock::test_support::local_instant;
    use super::*;
    use parser::ir::{LogAddr, LogTarget};
    use std::net::UdpSocket;
    use std::time::{Duration, Instant};

    fn srv<'a>() -> ServerState<'a> {
        ServerState {
            backend: "WEB_SITE",
            server: "web1",
            backup: false,
            tracked: None,
            check: Some(CheckResult {
                status: CheckStatus::L4Con,
                code: 0,
                info: b"Connection refused",
                duration_ms: 0,
            }),
            log_health_checks: false,
            active: 1,
            backup_count: 0,
            cur_sess: 0,
            queued: 0,
        }
    }

    #[test]
    fn server_down_messages() {
        assert_eq!(
            server_down_msg(&srv(), false, 0),
            "Server WEB_SITE/web1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", \
             check duration: 0ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
        );
        let mut s = srv();
        s.backup = true;
        s.active = 0;
        s.backup_count = 1;
        s.cur_sess = 3;
        s.queued = 2;
        s.check = Some(CheckResult {
            status: CheckStatus::L7Sts,
            code: 503,
            info: b"Service \"Unavailable\"",
            duration_ms: 12,
        });
        assert_eq!(
            server_down_msg(&s, false, 4),
            "Backup Server WEB_SITE/web1 is DOWN, reason: Layer7 wrong status, code: 503, \
             info: \"Service <22>Unavailable<22>\", check duration: 12ms. 0 active and 1 backup servers left. \
             Running on backup. 3 sessions active, 4 requeued, 2 remaining in queue."
        );
        assert_eq!(
            server_down_msg(&s, true, 0),
            "Backup Server WEB_SITE/web1 is DOWN for maintenance."
        );
        // Tracking servers and log-health-checks: no check details.
        let mut t = srv();
        t.tracked = Some(("other", "web9"));
        assert_eq!(
            server_down_msg(&t, false, 0),
            "Server WEB_SITE/web1 is DOWN via other/web9. 1 active and 0 backup servers left. \
             0 sessions active, 0 requeued, 0 remaining in queue."
        );
        let mut t = srv();
        t.log_health_checks = true;
        t.active = 0;
        assert_eq!(
            server_down_msg(&t, false, 0),
            "Server WEB_SITE/web1 is DOWN. 0 active and 0 backup servers left. \
             0 sessions active, 0 requeued, 0 remaining in queue."
        );
        assert_eq!(server_down_level(false), Level::Alert);
        assert_eq!(server_down_level(true), Level::Notice);
    }

    #[test]
    fn server_up_and_lb_messages() {
        let mut s = srv();
        s.active = 2;
        s.check = Some(CheckResult {
            status: CheckStatus::L7Ok,
            code: 200,
            info: b"OK",
            duration_ms: 1,
        });
        assert_eq!(
            server_up_msg(&s, false, 5),
            "Server WEB_SITE/web1 is UP, reason: Layer7 check passed, code: 200, info: \"OK\", check duration: 1ms. \
             2 active and 0 backup servers online. 5 sessions requeued, 0 total in queue."
        );
        assert_eq!(
            server_up_msg(&s, true, 0),
            "Server WEB_SITE/web1 is UP (leaving maintenance)."
        );
        s.check = Some(CheckResult {
            status: CheckStatus::L7OkC,
            code: 404,
            info: b"Not Found",
            duration_ms: 2,
        });
        assert_eq!(
            server_lb_disabled_msg(&s, 0),
            "Load-balancing on Server WEB_SITE/web1 is disabled, reason: Layer7 check conditionally passed, \
             code: 404, info: \"Not Found\", check duration: 2ms. 2 active and 0 backup servers online. \
             0 sessions requeued, 0 total in queue."
        );
        s.check = Some(CheckResult {
            status: CheckStatus::L7Tout,
            code: 0,
            info: b"",
            duration_ms: -1,
        });
        assert_eq!(
            server_lb_enabled_msg(&s, 0),
            "Load-balancing on Server WEB_SITE/web1 is enabled again, reason: Layer7 timeout. \
             2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."
        );
    }

    #[test]
    fn health_check_and_backend_messages() {
        let mut s = srv();
        s.log_health_checks = true;
        s.backup = true;
        assert_eq!(
            health_check_msg(&s, false, false, 2, 3, true),
            "Health check for backup server WEB_SITE/web1 failed, reason: Layer4 connection problem, \
             info: \"Connection refused\", check duration: 0ms, status: 2/3 UP."
        );
        s.backup = false;
        s.check = Some(CheckResult {
            status: CheckStatus::L7OkC,
            code: 404,
            info: b"\x01<x>",
            duration_ms: 3,
        });
        assert_eq!(
            health_check_msg(&s, true, true, 1, 3, false),
            "Health check for server WEB_SITE/web1 conditionally succeeded, reason: Layer7 check conditionally \
             passed, code: 404, info: \"<01><3C>x<3E>\", check duration: 3ms, status: 1/3 DOWN."
        );
        assert_eq!(
            backend_no_server_msg(ProxyKind::Backend, "bk"),
            "backend bk has no server available!"
        );
        assert_eq!(
            backend_no_server_msg(ProxyKind::Listen, "WEB_SITE"),
            "proxy WEB_SITE has no server available!"
        );
        assert_eq!(
            backend_no_server_alert(ProxyKind::Backend, "bk"),
            "backend 'bk' has no server available!"
        );
        assert_eq!(CheckStatus::L7OkC.name(), "L7OKC");
        assert!(!CheckStatus::L7Rsp.has_code() && CheckStatus::L7Sts.has_code());
    }

    #[test]
    fn long_check_info_is_cut_at_127() {
        let info = vec![b'z'; 300];
        let mut s = srv();
        s.check = Some(CheckResult {
            status: CheckStatus::L7Rsp,
            code: 0,
            info: &info,
            duration_ms: 5,
        });
        let m = server_down_msg(&s, false, 0);
        assert!(
            m.contains(&format!("info: \"{}\", check", "z".repeat(127))),
            "{m}"
        );
    }

    #[test]
    fn proxy_messages() {
        assert_eq!(proxy_started_msg("WEB_SITE"), "Proxy WEB_SITE started.");
        assert_eq!(
            proxy_stopping_msg(ProxyKind::Frontend, "fe", 0),
            "Stopping frontend fe in 0 ms."
        );
        assert_eq!(
            proxy_stopping_msg(ProxyKind::Listen, "WEB_SITE", 5000),
            "Stopping proxy WEB_SITE in 5000 ms."
        );
        assert_eq!(
            proxy_stopped_msg("WEB_SITE", 12, 10),
            "Proxy WEB_SITE stopped (FE: 12 conns, BE: 10 conns)."
        );
        assert_eq!(
            proxy_pausing_msg(ProxyKind::Frontend, "fe"),
            "Pausing frontend fe."
        );
        assert_eq!(
            proxy_pause_failed_msg(ProxyKind::Listen, "l"),
            "proxy l failed to enter pause mode."
        );
        assert_eq!(
            proxy_enabling_msg(ProxyKind::Backend, "b"),
            "Enabling backend b."
        );
        assert_eq!(
            port_busy_msg(80, ProxyKind::Listen, "l"),
            "Port 80 busy while trying to enable proxy l."
        );
    }

    #[test]
    fn sighup_messages() {
        assert_eq!(
            sighup_proxy_header_msg("bk"),
            "SIGHUP received, dumping servers states for proxy bk."
        );
        assert_eq!(
            sighup_server_msg("bk", "s1", true, 2, 0, 120),
            "SIGHUP: Server bk/s1 is UP. Conn: 2 act, 0 pend, 120 tot."
        );
        let mut p = ProxySummary {
            has_servers: true,
            active: 2,
            backup: 1,
            feconn: 0,
            beconn: 3,
            ..Default::default()
        };
        p.cum_beconn = 7;
        assert_eq!(
            sighup_proxy_summary_msg("bk", &p),
            "SIGHUP: Proxy bk has 2 active servers and 1 backup servers available. \
             Conn: act(FE+BE): 0+3, 0 pend (0 unass), tot(FE+BE): 0+7."
        );
        p.active = 0;
        assert_eq!(
            sighup_proxy_summary_msg("bk", &p),
            "SIGHUP: Proxy bk is running on backup servers ! Conn: act(FE+BE): 0+3, 0 pend (0 unass), tot(FE+BE): 0+7."
        );
        p.backup = 0;
        assert!(sighup_proxy_summary_msg("bk", &p)
            .starts_with("SIGHUP: Proxy bk has no server available ! Conn:"));
        let fe = ProxySummary {
            feconn: 4,
            cum_feconn: 9,
            ..Default::default()
        };
        assert_eq!(
            sighup_proxy_summary_msg("fe", &fe),
            "SIGHUP: Proxy fe has no servers. Conn: act(FE+BE): 4+0, 0 pend (0 unass), tot(FE+BE): 9+0."
        );
    }

    fn txn<'a>() -> TxnLog<'a> {
        let mut t = TxnLog::new(
            "10.0.1.2:33317".parse().unwrap(),
            SystemTime::now(),
            "fe",
            "be",
        );
        t.status = 200;
        t.request_line = Some(b"GET / HTTP/1.1");
        t
    }

    #[test]
    fn traffic_decisions() {
        assert!(stream_is_logged(false, 0, false));
        assert!(!stream_is_logged(true, 0, false));
        assert!(stream_is_logged(true, 1, false));
        assert!(!stream_is_logged(false, 100, true));

        let mut t = txn();
        assert!(!http_is_error(&t) && !tcp_is_error(&t));
        t.status = 502;
        assert!(http_is_error(&t) && !tcp_is_error(&t));
        t.status = 200;
        t.retries = 1;
        assert!(http_is_error(&t) && tcp_is_error(&t));
        t.retries = 0;
        t.redispatched = true;
        assert!(http_is_error(&t));
        t.redispatched = false;
        t.term.term.set_cause(Cause::ClientAbort);
        assert!(http_is_error(&t) && tcp_is_error(&t));

        let plain = TrafficLogOptions::default();
        assert_eq!(traffic_level(&plain, false), Some(Level::Info));
        assert_eq!(traffic_level(&plain, true), Some(Level::Info));
        let sep = TrafficLogOptions {
            log_separate_errors: true,
            ..plain
        };
        assert_eq!(traffic_level(&sep, true), Some(Level::Err));
        assert_eq!(traffic_level(&sep, false), Some(Level::Info));
        let quiet = TrafficLogOptions {
            dontlog_normal: true,
            ..plain
        };
        assert_eq!(traffic_level(&quiet, false), None);
        assert_eq!(traffic_level(&quiet, true), Some(Level::Info));
    }

    fn recv(rx: &UdpSocket) -> Option<String> {
        let mut buf = [0u8; 2048];
        rx.recv(&mut buf)
            .ok()
            .map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    #[test]
    fn send_traffic_log_end_to_end() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let target = LogTarget {
            addr: LogAddr::Udp(rx.local_addr().unwrap()),
            facility: 16,
            max_level: 7,
            min_level: 0,
        };
        let logger = Logger::new([&target], &LogIdent::new("haproxy", None, 99)).unwrap();
        let mut t = txn();
        t.accept_date = local_instant(2009, 2, 6, 12, 14, 14, 655);
        let opts = TrafficLogOptions {
            log_separate_errors: true,
            dontlog_normal: false,
            dontlognull: false,
        };

        send_traffic_log(&logger, LogFormat::Http, &opts, &t);
        let got = recv(&rx).unwrap();
        assert!(got.starts_with("<134>"), "{got}");
        assert!(
            got.ends_with(
                "haproxy[99]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] fe be/<NOSRV> -1/-1/-1/-1/0 200 0 \
                 - - ---- 0/0/0/0/0 0/0 \"GET / HTTP/1.1\"\n"
            ),
            "{got}"
        );

        t.status = 503;
        send_traffic_log(&logger, LogFormat::HttpClf, &opts, &t);
        let got = recv(&rx).unwrap();
        assert!(
            got.starts_with("<131>") && got.contains("haproxy[99]: 10.0.1.2 - - ["),
            "{got}"
        );

        send_traffic_log(&logger, LogFormat::Tcp, &opts, &t);
        let got = recv(&rx).unwrap();
        assert!(
            got.starts_with("<134>")
                && got.ends_with(" fe be/<NOSRV> -1/-1/0 0 -- 0/0/0/0/0 0/0\n"),
            "{got}"
        );

        // dontlog-normal: a normal stream is not sent, an error one is.
        let quiet = TrafficLogOptions {
            dontlog_normal: true,
            ..Default::default()
        };
        t.status = 200;
        send_traffic_log(&logger, LogFormat::Http, &quiet, &t);
        send_traffic_log(&logger, LogFormat::Connect, &quiet, &t);
        send_connect_line(
            &logger,
            t.client,
            "127.0.0.1:80".parse().unwrap(),
            "fe",
            true,
        );
        let got = recv(&rx).unwrap();
        assert!(
            got.ends_with("haproxy[99]: Connect from 10.0.1.2:33317 to 127.0.0.1:80 (fe/HTTP)\n"),
            "{got}"
        );
        assert_eq!(logger.sent(), 4);
    }

    #[test]
    fn stderr_logging_is_idempotent_and_separate() {
        init_stderr_logging(false);
        init_stderr_logging(true);
        // Through the log crate only: a Logger without targets sees nothing either way.
        stderr_warning("test warning");
        stderr_alert("test alert");
        let logger = Logger::disabled();
        send_and_warn(&logger, Level::Notice, "Server bk/s1 is UP.");
        assert_eq!(logger.sent() + logger.drops(), 0);
        let stamp = stderr_stamp(SystemTime::now(), 7);
        assert!(
            stamp.ends_with(" (7)") && stamp.len() == "ddd/hhmmss (7)".len(),
            "{stamp}"
        );
    }

    /// Cost of one full httplog line: formatting plus a loopback send.
    #[test]
    #[ignore = "micro-benchmark; run with `cargo test --release -- --ignored --nocapture bench_`"]
    fn bench_httplog_format_and_send() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let target = LogTarget {
            addr: LogAddr::Udp(rx.local_addr().unwrap()),
            facility: 16,
            max_level: 7,
            min_level: 0,
        };
        let logger = Logger::new([&target], &LogIdent::new("haproxy", None, 1)).unwrap();
        let req: [Option<&[u8]>; 2] = [
            Some(b"www.example.com"),
            Some(b"Mozilla/5.0 (X11; Linux x86_64)"),
        ];
        let res: [Option<&[u8]>; 1] = [None];
        let mut t = txn();
        t.server = ServerField::Named("srv1");
        t.timers = Timers {
            request: 10,
            queue: 10,
            connect: 40,
            data: 109,
            close: 109,
        };
        t.request_captures = Some(&req);
        t.response_captures = Some(&res);
        t.request_line = Some(b"GET /index.html?q=some+search+terms HTTP/1.1");
        let opts = TrafficLogOptions::default();
        let n = 200_000u32;
        let mut buf = [0u8; 2048];

        let start = Instant::now();
        let mut v = Vec::with_capacity(1024);
        for _ in 0..n {
            v.clear();
            write_httplog(&t, &mut v);
        }
        let fmt_ns = start.elapsed().as_nanos() / u128::from(n);

        let start = Instant::now();
        for i in 0..n {
            send_traffic_log(&logger, LogFormat::Http, &opts, &t);
            if i % 64 == 0 {
                while rx.recv(&mut buf).is_ok() {}
            }
        }
        let total_ns = start.elapsed().as_nanos() / u128::from(n);
        println!(
            "httplog: format {fmt_ns} ns/line, format+send {total_ns} ns/line (sent {}, dropped {})",
            logger.sent(),
            logger.drops()
        );
        assert_eq!(logger.sent() + logger.drops(), u64::from(n));
    }
}
