//! Server health state and every state transition, in one place: the health checks, the
//! `observe` passive checks and the admin actions (`disable server`, `enable server` on the
//! stats socket and page) all go through the functions here, so that the `Server` atomics the
//! data path reads (`up`, `maint`, `nolb`), the counters the stats show (`chkfail`, `chkdown`,
//! `lastchg`, `downtime`) and the messages 1.4 logs always agree.
//!
//! Keywords: server `check`, `rise`, `fall`, `disabled`, `backup`, `track`, `slowstart`,
//! `observe`, `on-error`, `error-limit`; `option log-health-checks`; `http-check
//! disable-on-404`.
//!
//! Compare with 1.4 `src/checks.c` (`set_server_check_status`, `set_server_down`,
//! `set_server_up`, `set_server_disabled`, `set_server_enabled`, `set_backend_down`,
//! `health_adjust`, `process_chk` result handling), `src/server.c` (`srv_downtime`,
//! `srv_getinter`, `server_recalc_eweight`), `src/dumpstats.c` (server status column,
//! `enable server` / `disable server`) and `src/cfgparse.c` (initial health, `track`).
//!
//! The health counter runs from 0 to `rise + fall - 1`; the server is UP while it is at least
//! `rise`. Servers start UP with `health = rise`, so the first failed check marks them DOWN
//! at once; the first success moves them to full health.
//!
//! Locking: each server's [`CheckState`] has one short-held mutex. A transition mutates under
//! it, releases it, and only then calls [`Proxy::server_state_changed`], logs, and recurses
//! into tracking servers, so no two server locks are ever held together and no lock is held
//! across an `.await` or a call into other modules. The data path only reads atomics.

use crate::counters::now_sec;
use crate::log::{
    self, backend_no_server_alert, backend_no_server_msg, health_check_msg, server_down_level,
    server_down_msg, server_lb_disabled_msg, server_lb_enabled_msg, server_up_msg, CheckResult,
    CheckStatus, Level, Logger, ServerState,
};
use crate::runtime::{Proxy, Runtime, Server};
use parking_lot::Mutex;
use parser::ir::{self, CheckKind, Observe, OnError};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// 1.4 keeps at most 127 bytes of a check's text (`HCHK_DESC_LEN - 1`).
pub const CHECK_DESC_MAX: usize = 127;

/// Steps of the slowstart weight ramp: 1.4 scales dynamic weights by `BE_WEIGHT_SCALE` (16)
/// and raises the effective weight one sixteenth at a time.
pub const WEIGHT_SCALE: u32 = 16;

/// A server's position: index of its proxy in `Runtime::proxies`, index in `Proxy::servers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServerId {
    pub proxy: usize,
    pub server: usize,
}

/// The instant every stored time (`warmup_start`) is measured from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// `now` as milliseconds since [`epoch`], plus one so that 0 can mean "unset".
fn stamp(now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(epoch()).as_millis())
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}

/// The part of `s` before its first NUL byte: 1.4 keeps check texts as C strings.
pub(crate) fn cstr(s: &[u8]) -> &[u8] {
    match s.iter().position(|&b| b == 0) {
        Some(n) => &s[..n],
        None => s,
    }
}

/// What a finished check (or an `observe` verdict) reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOutcome {
    pub status: CheckStatus,
    /// Response code (HTTP status, SMTP code, LDAP resultCode); 0 when none.
    pub code: i32,
    /// Free text (reason phrase, `strerror` text, version string...), cut at 127 bytes.
    pub info: Vec<u8>,
    /// ms from the start of the check, −1 for `observe` failures.
    pub duration_ms: i64,
}

impl CheckOutcome {
    pub fn new(status: CheckStatus, code: i32, info: &[u8], duration_ms: i64) -> Self {
        let info = cstr(info);
        CheckOutcome {
            status,
            code,
            info: info[..info.len().min(CHECK_DESC_MAX)].to_vec(),
            duration_ms,
        }
    }
}

/// 1.4's `SRV_CHK_*` result of a status: what it does to the health counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No result (statuses `UNK`, `INI`).
    None,
    /// Counts as a success (`L4OK`, `L6OK`, `L7OK`).
    Running,
    /// Success that asks to stop load balancing (`L7OKC`, disable-on-404).
    RunningDisable,
    /// Counts as a failure.
    Error,
}

pub(crate) fn verdict_of(status: CheckStatus) -> Verdict {
    match status {
        CheckStatus::Unknown | CheckStatus::Ini => Verdict::None,
        CheckStatus::L4Ok | CheckStatus::L6Ok | CheckStatus::L7Ok => Verdict::Running,
        CheckStatus::L7OkC => Verdict::RunningDisable,
        CheckStatus::Hana
        | CheckStatus::SockErr
        | CheckStatus::L4Tout
        | CheckStatus::L4Con
        | CheckStatus::L6Tout
        | CheckStatus::L6Rsp
        | CheckStatus::L7Tout
        | CheckStatus::L7Rsp
        | CheckStatus::L7Sts => Verdict::Error,
    }
}

/// The mutable part of a server's health, behind [`CheckState`]'s mutex.
#[derive(Debug)]
struct Inner {
    health: u32,
    status: CheckStatus,
    code: i32,
    info: Vec<u8>,
    duration_ms: i64,
    /// A check is running right now (the stats page prefixes its status with `* `).
    in_progress: bool,
}

/// Health-check state of one server: the `check` field of [`Server`].
///
/// Built by [`CheckState::new`] in `Runtime::build`; tracking links are filled by
/// [`crate::check::resolve_tracking`] there too; the backend's syslog sender is installed by
/// [`crate::check::install_loggers`] (until then, state changes only reach stderr).
pub struct CheckState {
    /// The server has `check` (1.4 `SRV_CHECKED`).
    checked: bool,
    rise: u32,
    fall: u32,
    slowstart: Duration,
    /// The server this one mirrors (`track`).
    tracked: Option<ServerId>,
    /// Servers that track this one (1.4 `tracknext` list), in declaration order.
    trackers: Vec<ServerId>,
    inner: Mutex<Inner>,
    /// Start of the slowstart ramp ([`stamp`]); 0 = not warming up (1.4 `SRV_WARMINGUP`).
    warmup_start: AtomicU64,
    /// Consecutive errors reported by `observe`.
    consecutive_errors: AtomicU32,
    logger: OnceLock<Arc<Logger>>,
    /// Wakes the server's check task early (`observe` errors ask for `fastinter`).
    pub(crate) hurry: tokio::sync::Notify,
}

impl std::fmt::Debug for CheckState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckState")
            .field("checked", &self.checked)
            .field("rise", &self.rise)
            .field("fall", &self.fall)
            .field("tracked", &self.tracked)
            .field("inner", &self.inner.try_lock().map(|g| format!("{:?}", *g)))
            .finish()
    }
}

impl CheckState {
    /// Initial state of a server as 1.4 sets it while parsing: UP with `health = rise` (so the
    /// first failure marks it DOWN), or `health = 0` with `disabled` (maintenance); status
    /// `INI` for checked servers, `UNK` for the others.
    pub fn new(cfg: &ir::Server) -> Self {
        let rise = cfg.rise.max(1);
        CheckState {
            checked: cfg.check,
            rise,
            fall: cfg.fall.max(1),
            slowstart: Duration::from_millis(u64::from(cfg.slowstart)),
            tracked: None,
            trackers: Vec::new(),
            inner: Mutex::new(Inner {
                health: if cfg.disabled { 0 } else { rise },
                status: if cfg.check {
                    CheckStatus::Ini
                } else {
                    CheckStatus::Unknown
                },
                code: 0,
                info: Vec::new(),
                duration_ms: -1,
                in_progress: false,
            }),
            warmup_start: AtomicU64::new(0),
            consecutive_errors: AtomicU32::new(0),
            logger: OnceLock::new(),
            hurry: tokio::sync::Notify::new(),
        }
    }

    /// The server runs health checks (`check`).
    pub fn is_checked(&self) -> bool {
        self.checked
    }

    pub fn rise(&self) -> u32 {
        self.rise
    }

    pub fn fall(&self) -> u32 {
        self.fall
    }

    /// The current health counter (0 ..= rise+fall-1).
    pub fn health(&self) -> u32 {
        self.inner.lock().health
    }

    /// The server this one tracks.
    pub fn tracked(&self) -> Option<ServerId> {
        self.tracked
    }

    /// Servers tracking this one.
    pub fn trackers(&self) -> &[ServerId] {
        &self.trackers
    }

    /// Links this server to the one it tracks (done once while building the runtime).
    pub(crate) fn set_tracked(&mut self, target: ServerId) {
        self.tracked = Some(target);
    }

    pub(crate) fn add_tracker(&mut self, tracker: ServerId) {
        self.trackers.push(tracker);
    }

    /// Sets the health counter directly (runtime building: a tracker of a server in
    /// maintenance starts DOWN with health 0, as 1.4's `check_config_validity` does).
    pub(crate) fn force_health(&mut self, health: u32) {
        self.inner.get_mut().health = health;
    }

    /// Installs the backend's syslog sender (first call wins).
    pub fn set_logger(&self, logger: Arc<Logger>) {
        let _ = self.logger.set(logger);
    }

    pub fn logger(&self) -> Option<&Arc<Logger>> {
        self.logger.get()
    }

    /// Marks the start of a check (1.4 `HCHK_STATUS_START`): the stats page shows `* `.
    pub(crate) fn check_started(&self) {
        self.inner.lock().in_progress = true;
    }

    /// The last check result, for the stats page and CSV; `None` when the server has no
    /// `check`.
    pub fn snapshot(&self) -> Option<CheckSnapshot> {
        if !self.checked {
            return None;
        }
        let g = self.inner.lock();
        Some(CheckSnapshot {
            status: g.status,
            code: g.code,
            info: g.info.clone(),
            duration_ms: g.duration_ms,
            in_progress: g.in_progress,
            health: g.health,
            rise: self.rise,
            fall: self.fall,
        })
    }

    /// Consecutive `observe` errors counted so far.
    pub fn consecutive_errors(&self) -> u32 {
        self.consecutive_errors.load(Relaxed)
    }

    /// Whether the slowstart ramp is running at `now`.
    pub fn is_warming_up(&self, now: Instant) -> bool {
        self.warmup_elapsed(now).is_some()
    }

    /// Time since the ramp started, while it runs.
    pub(crate) fn warmup_elapsed(&self, now: Instant) -> Option<Duration> {
        let start = self.warmup_start.load(Relaxed);
        if start == 0 || self.slowstart.is_zero() {
            return None;
        }
        let elapsed = Duration::from_millis(stamp(now).saturating_sub(start));
        (elapsed < self.slowstart).then_some(elapsed)
    }

    /// Starts the ramp at `now` (the server just came UP), when `slowstart` is set.
    fn start_warmup(&self, now: Instant) {
        if !self.slowstart.is_zero() {
            self.warmup_start.store(stamp(now), Relaxed);
        }
    }

    /// Ends the ramp (server DOWN, or ramp complete). Returns whether it was running.
    pub(crate) fn stop_warmup(&self) -> bool {
        self.warmup_start.swap(0, Relaxed) != 0
    }

    /// Clears the ramp flag once its time is over at `now`; true when it did (a ramp started
    /// meanwhile by a new UP is left alone).
    pub(crate) fn finish_warmup(&self, now: Instant) -> bool {
        let start = self.warmup_start.load(Relaxed);
        if start == 0 {
            return false;
        }
        let elapsed = Duration::from_millis(stamp(now).saturating_sub(start));
        elapsed >= self.slowstart
            && self
                .warmup_start
                .compare_exchange(start, 0, Relaxed, Relaxed)
                .is_ok()
    }

    /// Whether a ramp was started and not yet cleared (even if its time is over).
    pub fn warmup_flag(&self) -> bool {
        self.warmup_start.load(Relaxed) != 0
    }

    pub fn slowstart(&self) -> Duration {
        self.slowstart
    }
}

/// The last check of a server, as the stats page and CSV show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckSnapshot {
    pub status: CheckStatus,
    pub code: i32,
    pub info: Vec<u8>,
    pub duration_ms: i64,
    /// A check is running (`* ` prefix on the HTML page).
    pub in_progress: bool,
    pub health: u32,
    pub rise: u32,
    pub fall: u32,
}

impl CheckSnapshot {
    /// CSV `check_status` (and HTML short name): `L7OK`, `L4CON`, `INI`, ...
    pub fn status_name(&self) -> &'static str {
        self.status.name()
    }

    /// CSV `check_code`: only for layer-7 statuses that carry one (1.4 prints it `%u`).
    pub fn csv_code(&self) -> Option<u32> {
        self.status.has_code().then_some(self.code as u32)
    }

    /// CSV `check_duration`: only once a check finished (not for `UNK`/`INI`). 1.4 prints the
    /// signed duration with `%lu`, so the −1 of an `observe` failure shows as 2^64−1; kept.
    pub fn csv_duration(&self) -> Option<u64> {
        (!matches!(self.status, CheckStatus::Unknown | CheckStatus::Ini))
            .then_some(self.duration_ms as u64)
    }
}

// ---------------------------------------------------------------------------------------------
// display (stats status column, send-state header)
// ---------------------------------------------------------------------------------------------

/// A server's status as 1.4's stats show it (`sv_state` in `stats_dump_proxy`, plus the
/// maintenance cases).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisplayState {
    /// The server itself is in maintenance.
    Maint,
    /// The tracked server is in maintenance.
    MaintVia,
    /// Neither the server nor the one it tracks is checked (`sv_state` 6).
    NoCheck,
    /// Fully DOWN (`sv_state` 0).
    Down,
    /// DOWN, `health`/`rise` successes so far (`sv_state` 1).
    GoingUp { health: u32, rise: u32 },
    /// UP after failures: `n`/`fall` (`sv_state` 2).
    GoingDown { n: u32, fall: u32 },
    /// Fully UP (`sv_state` 3).
    Up,
    /// NOLB after failures (`sv_state` 4).
    NolbGoingDown { n: u32, fall: u32 },
    /// NOLB at full health (`sv_state` 5).
    Nolb,
}

impl DisplayState {
    /// The CSV `status` field: `UP`, `UP 1/3`, `DOWN`, `DOWN 1/2`, `NOLB`, `NOLB 2/3`,
    /// `MAINT`, `MAINT(via)`, `no check`.
    pub fn csv_text(&self) -> String {
        match *self {
            DisplayState::Maint => "MAINT".into(),
            DisplayState::MaintVia => "MAINT(via)".into(),
            DisplayState::NoCheck => "no check".into(),
            DisplayState::Down => "DOWN".into(),
            DisplayState::GoingUp { health, rise } => format!("DOWN {health}/{rise}"),
            DisplayState::GoingDown { n, fall } => format!("UP {n}/{fall}"),
            DisplayState::Up => "UP".into(),
            DisplayState::NolbGoingDown { n, fall } => format!("NOLB {n}/{fall}"),
            DisplayState::Nolb => "NOLB".into(),
        }
    }

    /// The HTML status cell text after the `<age> ` prefix (1.4's HTML `srv_hlt_st`).
    pub fn html_text(&self) -> String {
        match *self {
            DisplayState::Maint => "MAINT".into(),
            DisplayState::MaintVia => "MAINT(via)".into(),
            DisplayState::NoCheck => "<i>no check</i>".into(),
            DisplayState::Down => "DOWN".into(),
            DisplayState::GoingUp { health, rise } => format!("DN {health}/{rise} &uarr;"),
            DisplayState::GoingDown { n, fall } => format!("UP {n}/{fall} &darr;"),
            DisplayState::Up => "UP".into(),
            DisplayState::NolbGoingDown { n, fall } => format!("NOLB {n}/{fall} &darr;"),
            DisplayState::Nolb => "NOLB".into(),
        }
    }

    /// 1.4's `sv_state` number (the HTML row class is `active<N>`/`backup<N>`); `None` for the
    /// maintenance states (row class `maintain`).
    pub fn sv_state(&self) -> Option<u32> {
        match self {
            DisplayState::Maint | DisplayState::MaintVia => None,
            DisplayState::Down => Some(0),
            DisplayState::GoingUp { .. } => Some(1),
            DisplayState::GoingDown { .. } => Some(2),
            DisplayState::Up => Some(3),
            DisplayState::NolbGoingDown { .. } => Some(4),
            DisplayState::Nolb => Some(5),
            DisplayState::NoCheck => Some(6),
        }
    }
}

/// The health part of the state of `s` itself (no maintenance, no tracking): used by the
/// status column (on the tracked server) and by the `X-Haproxy-Server-State` header.
pub(crate) fn health_state(s: &Server) -> DisplayState {
    let st = &s.check;
    if !st.checked {
        return DisplayState::NoCheck;
    }
    let health = st.health();
    let full = st.rise + st.fall - 1;
    if s.up.load(Relaxed) {
        let n = (health + 1).saturating_sub(st.rise);
        match (health == full, s.nolb.load(Relaxed)) {
            (true, false) => DisplayState::Up,
            (false, false) => DisplayState::GoingDown { n, fall: st.fall },
            (true, true) => DisplayState::Nolb,
            (false, true) => DisplayState::NolbGoingDown { n, fall: st.fall },
        }
    } else if health > 0 {
        DisplayState::GoingUp {
            health,
            rise: st.rise,
        }
    } else {
        DisplayState::Down
    }
}

fn server_at(rt: &Runtime, id: ServerId) -> Option<(&Proxy, &Server)> {
    let px = rt.proxies.get(id.proxy)?;
    let s = px.servers.get(id.server)?;
    Some((px, s))
}

/// The status of `s` as the stats page and CSV show it. A tracking server shows the health
/// of the server it tracks.
pub fn display_state(rt: &Runtime, s: &Server) -> DisplayState {
    if s.maint.load(Relaxed) {
        return DisplayState::Maint;
    }
    let svs = match s.check.tracked.and_then(|t| server_at(rt, t)) {
        Some((_, t)) => {
            if t.maint.load(Relaxed) {
                return DisplayState::MaintVia;
            }
            t
        }
        None => s,
    };
    health_state(svs)
}

/// The CSV `status` text of `s` (`UP`, `UP 1/3`, `DOWN 2/3`, `NOLB`, `MAINT`, `MAINT(via)`,
/// `no check`, ...).
pub fn status_text(rt: &Runtime, s: &Server) -> String {
    display_state(rt, s).csv_text()
}

/// CSV `check_status` of `s`, `None` when it has no `check`.
pub fn check_status_name(s: &Server) -> Option<&'static str> {
    s.check.checked.then(|| s.check.inner.lock().status.name())
}

/// CSV `downtime` of a server (1.4 `srv_downtime`): the accumulated DOWN seconds, plus the
/// current DOWN period when it is not UP.
pub fn server_downtime_secs(s: &Server, now_s: u64) -> u64 {
    let last = s.counters.last_change.load(Relaxed);
    let acc = s.counters.down_time.load(Relaxed);
    if s.up.load(Relaxed) && last < now_s {
        acc
    } else {
        now_s.saturating_sub(last) + acc
    }
}

/// CSV `downtime` of a backend (1.4 `be_downtime`): accumulated, plus the current period
/// while no server is usable.
pub fn backend_downtime_secs(px: &Proxy, now_s: u64) -> u64 {
    let last = px.be_counters.last_change.load(Relaxed);
    let acc = px.be_counters.down_time.load(Relaxed);
    let (act, bck) = usable_counts(px);
    if act + bck > 0 && last < now_s {
        acc
    } else {
        now_s.saturating_sub(last) + acc
    }
}

/// Usable active and backup servers of `px` (1.4 `srv_act`, `srv_bck`).
pub fn usable_counts(px: &Proxy) -> (u32, u32) {
    let (mut act, mut bck) = (0, 0);
    for s in &px.servers {
        if s.is_usable() {
            if s.cfg.backup {
                bck += 1;
            } else {
                act += 1;
            }
        }
    }
    (act, bck)
}

// ---------------------------------------------------------------------------------------------
// slowstart
// ---------------------------------------------------------------------------------------------

/// Sixteenths of the full weight a warming-up server has at `now` (1.4 raises `eweight` one
/// `BE_WEIGHT_SCALE` step at a time, starting at one step the moment it comes UP); `None`
/// when no ramp runs.
pub fn warmup_steps(s: &Server, now: Instant) -> Option<u32> {
    let elapsed = s.check.warmup_elapsed(now)?;
    let ss = s.check.slowstart.as_millis().max(1);
    let steps = (u128::from(WEIGHT_SCALE) * elapsed.as_millis()).div_ceil(ss);
    Some((steps as u32).clamp(1, WEIGHT_SCALE))
}

/// The share of its weight a server gets at `now`, in thousandths: 1000 normally, ramping
/// linearly (in 1/16 steps) for `slowstart` ms after it came UP. For the dynamic balancers
/// (`roundrobin`, `leastconn`, consistent hashing); 1.4 keeps static ones at full weight.
pub fn effective_weight_permille(s: &Server, now: Instant) -> u32 {
    match warmup_steps(s, now) {
        Some(steps) => steps * 1000 / WEIGHT_SCALE,
        None => 1000,
    }
}

/// 1.4's `eweight` of a dynamic balancer: the user weight × [`WEIGHT_SCALE`], reduced during
/// slowstart.
pub fn scaled_eweight(s: &Server, now: Instant) -> u32 {
    let w = s.weight.load(Relaxed);
    w * warmup_steps(s, now).unwrap_or(WEIGHT_SCALE)
}

/// CSV/HTML `throttle` (1.4 `server_throttle_rate`), shown only during slowstart.
pub fn throttle_percent(s: &Server, now: Instant) -> Option<u32> {
    let steps = warmup_steps(s, now)?;
    if s.weight.load(Relaxed) == 0 {
        return Some(100);
    }
    Some((100 * steps).div_ceil(WEIGHT_SCALE))
}

/// A server's connection limit during slowstart (1.4 `srv_dynamic_maxconn`): `max` scaled by
/// the elapsed share of the ramp, at least 1.
pub fn slowstart_maxconn(s: &Server, max: u32, now: Instant) -> u32 {
    match s.check.warmup_elapsed(now) {
        Some(elapsed) => {
            let ss = s.check.slowstart.as_millis().max(1);
            let ratio = (100 * elapsed.as_millis() / ss) as u64;
            (u64::from(max) * ratio / 100).max(1) as u32
        }
        None => max,
    }
}

// ---------------------------------------------------------------------------------------------
// transitions
// ---------------------------------------------------------------------------------------------

/// The check result printed in a state-change message.
#[derive(Clone, Debug)]
struct OwnedCheck {
    status: CheckStatus,
    code: i32,
    info: Vec<u8>,
    duration_ms: i64,
}

impl OwnedCheck {
    fn from_inner(g: &Inner) -> Self {
        OwnedCheck {
            status: g.status,
            code: g.code,
            info: g.info.clone(),
            duration_ms: g.duration_ms,
        }
    }
    fn as_result(&self) -> CheckResult<'_> {
        CheckResult {
            status: self.status,
            code: self.code,
            info: &self.info,
            duration_ms: self.duration_ms,
        }
    }
}

/// A transition decided under the lock, to be announced after it is released.
#[derive(Debug)]
enum Event {
    Down {
        check: OwnedCheck,
        was_nolb: bool,
        usable_before: u32,
    },
    Up {
        check: OwnedCheck,
        leaving_maint: bool,
    },
    LbDisabled {
        check: OwnedCheck,
    },
    LbEnabled {
        check: OwnedCheck,
    },
}

/// Whether `disable-on-404` applies to `px` (it requires `option httpchk`, as 1.4's
/// configuration check enforces).
fn disable_on_404(px: &Proxy) -> bool {
    px.cfg.http_check.disable_on_404.is_some()
        && matches!(px.cfg.check.node, CheckKind::Http { .. })
}

/// 1.4 `set_server_down`, under the lock: maintenance resets health to `rise` so that the
/// transition happens; a transition needs `health == rise` (the last good step) or tracking.
fn down_locked(px: &Proxy, s: &Server, g: &mut Inner) -> Option<Event> {
    let st = &s.check;
    if s.maint.load(Relaxed) {
        g.health = st.rise;
    }
    let ev = if g.health == st.rise || st.tracked.is_some() {
        // Usable servers before this change. `disable server` has already raised `maint`,
        // so this server counts as it was: running, not NOLB, with a weight.
        let others = px
            .servers
            .iter()
            .filter(|o| o.idx != s.idx && o.is_usable())
            .count() as u32;
        let was_usable = s.up.load(Relaxed) && !s.nolb.load(Relaxed) && s.weight.load(Relaxed) > 0;
        let was_nolb = s.nolb.load(Relaxed);
        let now = u64::from(now_sec());
        s.counters.last_change.store(now, Relaxed);
        s.counters.down_since.store(now as i64, Relaxed);
        s.up.store(false, Relaxed);
        s.nolb.store(false, Relaxed);
        st.stop_warmup();
        Some(Event::Down {
            check: OwnedCheck::from_inner(g),
            was_nolb,
            usable_before: others + u32::from(was_usable),
        })
    } else {
        None
    };
    g.health = 0;
    ev
}

/// 1.4 `set_server_up`, under the lock. Leaving maintenance always transitions.
fn up_locked(px: &Proxy, s: &Server, g: &mut Inner) -> Option<Event> {
    let st = &s.check;
    let leaving_maint = s.maint.load(Relaxed);
    if leaving_maint {
        g.health = st.rise;
    }
    let ev = if g.health == st.rise || st.tracked.is_some() {
        let now = u64::from(now_sec());
        let (act, bck) = usable_counts(px);
        if act + bck == 0 {
            // The backend was down: account its down period.
            let be_last = px.be_counters.last_change.load(Relaxed);
            if be_last < now {
                px.be_counters.down_time.fetch_add(now - be_last, Relaxed);
            }
            px.be_counters.last_change.store(now, Relaxed);
        }
        let last = s.counters.last_change.load(Relaxed);
        if last < now {
            s.counters.down_time.fetch_add(now - last, Relaxed);
        }
        s.counters.last_change.store(now, Relaxed);
        s.counters.down_since.store(0, Relaxed);
        s.up.store(true, Relaxed);
        s.maint.store(false, Relaxed);
        st.start_warmup(Instant::now());
        Some(Event::Up {
            check: OwnedCheck::from_inner(g),
            leaving_maint,
        })
    } else {
        None
    };
    if g.health >= st.rise {
        g.health = st.rise + st.fall - 1;
    }
    ev
}

fn lb_disabled_locked(s: &Server, g: &Inner) -> Event {
    s.nolb.store(true, Relaxed);
    Event::LbDisabled {
        check: OwnedCheck::from_inner(g),
    }
}

fn lb_enabled_locked(s: &Server, g: &Inner) -> Event {
    s.nolb.store(false, Relaxed);
    Event::LbEnabled {
        check: OwnedCheck::from_inner(g),
    }
}

/// Sends `msg` to the server's backend logger at `level` and copies it to stderr as a 1.4
/// `Warning()`.
fn warn_and_log(s: &Server, level: Level, msg: &str) {
    match s.check.logger() {
        Some(l) => log::send_and_warn(l, level, msg),
        None => log::stderr_warning(msg),
    }
}

/// 1.4 `set_backend_down`: the last usable server is gone.
fn backend_down(px: &Proxy, s: &Server) {
    px.be_counters
        .last_change
        .store(u64::from(now_sec()), Relaxed);
    px.be_counters.chkdown.fetch_add(1, Relaxed);
    log::stderr_alert(&backend_no_server_alert(px.cfg.kind, px.name()));
    if let Some(l) = s.check.logger() {
        l.send_str(Level::Emerg, &backend_no_server_msg(px.cfg.kind, px.name()));
    }
}

/// Names of the tracked server, for ` via be/srv`.
fn tracked_names<'a>(rt: &'a Runtime, s: &Server) -> Option<(&'a str, &'a str)> {
    let t = s.check.tracked?;
    let (tpx, ts) = server_at(rt, t)?;
    Some((tpx.name(), ts.cfg.name.as_str()))
}

/// Announces a transition decided under the lock: tells the proxy (LB, queues), logs the 1.4
/// message and propagates to the trackers.
fn emit(rt: &Runtime, id: ServerId, ev: Event) {
    let Some((px, s)) = server_at(rt, id) else {
        return;
    };
    if matches!(ev, Event::Up { .. }) && s.check.warmup_flag() {
        // Enter the rotation at the first slowstart step (1.4 sets eweight to one step
        // before telling the balancer the server is up).
        let step = warmup_steps(s, Instant::now()).unwrap_or(1);
        px.lb.set_slowstart_step(id.server, Some(step));
    }
    px.server_state_changed(id.server);
    // Sessions moved between queues by the change (1.4 `redistribute_pending` /
    // `check_for_pending`). TODO(#4): take the count from the queue code once it exists.
    let moved = 0;
    let (act, bck) = usable_counts(px);
    let tracked = tracked_names(rt, s);
    let check = match &ev {
        Event::Down { check, .. }
        | Event::Up { check, .. }
        | Event::LbDisabled { check }
        | Event::LbEnabled { check } => check.clone(),
    };
    let state = ServerState {
        backend: px.name(),
        server: &s.cfg.name,
        backup: s.cfg.backup,
        tracked,
        check: Some(check.as_result()),
        log_health_checks: px.cfg.options.log_health_checks.is_some(),
        active: act,
        backup_count: bck,
        cur_sess: s.cur_sess.load(Relaxed),
        queued: s.nbpend.load(Relaxed),
    };
    match ev {
        Event::Down {
            was_nolb,
            usable_before,
            ..
        } => {
            let msg = server_down_msg(&state, s.maint.load(Relaxed), moved);
            warn_and_log(s, server_down_level(was_nolb), &msg);
            if usable_before > 0 && act + bck == 0 {
                backend_down(px, s);
            }
            s.counters.chkdown.fetch_add(1, Relaxed);
            if s.check.checked {
                for &t in &s.check.trackers {
                    if server_at(rt, t).is_some_and(|(_, ts)| !ts.maint.load(Relaxed)) {
                        mark_down(rt, t);
                    }
                }
            }
        }
        Event::Up { leaving_maint, .. } => {
            let msg = server_up_msg(&state, leaving_maint, moved);
            warn_and_log(s, Level::Notice, &msg);
            if s.check.checked {
                for &t in &s.check.trackers {
                    if server_at(rt, t).is_some_and(|(_, ts)| !ts.maint.load(Relaxed)) {
                        mark_up(rt, t);
                    }
                }
            }
        }
        Event::LbDisabled { .. } => {
            let msg = server_lb_disabled_msg(&state, moved);
            warn_and_log(s, Level::Notice, &msg);
            // 1.4 checks only the counts here, not whether the backend had servers before.
            if act + bck == 0 {
                backend_down(px, s);
            }
            if s.check.checked {
                for &t in &s.check.trackers {
                    lb_disable(rt, t);
                }
            }
        }
        Event::LbEnabled { .. } => {
            let msg = server_lb_enabled_msg(&state, moved);
            warn_and_log(s, Level::Notice, &msg);
            if s.check.checked {
                for &t in &s.check.trackers {
                    lb_enable(rt, t);
                }
            }
        }
    }
}

/// Runs a locked transition step and announces its event.
fn transition(
    rt: &Runtime,
    id: ServerId,
    f: impl FnOnce(&Proxy, &Server, &mut Inner) -> Option<Event>,
) {
    let Some((px, s)) = server_at(rt, id) else {
        return;
    };
    let ev = {
        let mut g = s.check.inner.lock();
        f(px, s, &mut g)
    };
    if let Some(ev) = ev {
        emit(rt, id, ev);
    }
}

/// 1.4 `set_server_down` (used for trackers and by admin actions).
fn mark_down(rt: &Runtime, id: ServerId) {
    transition(rt, id, down_locked);
}

/// 1.4 `set_server_up`.
fn mark_up(rt: &Runtime, id: ServerId) {
    transition(rt, id, up_locked);
}

/// 1.4 `set_server_disabled` (NOLB), propagated to trackers.
fn lb_disable(rt: &Runtime, id: ServerId) {
    transition(rt, id, |_, s, g| Some(lb_disabled_locked(s, g)));
}

/// 1.4 `set_server_enabled`.
fn lb_enable(rt: &Runtime, id: ServerId) {
    transition(rt, id, |_, s, g| Some(lb_enabled_locked(s, g)));
}

/// Records a check status (1.4 `set_server_check_status`) and returns the `option
/// log-health-checks` line it calls for, if any: a failure while not fully DOWN, a success
/// while not fully UP, or a change of the disable-on-404 condition.
fn record_status(px: &Proxy, s: &Server, g: &mut Inner, o: &CheckOutcome) -> Option<String> {
    let st = &s.check;
    g.status = o.status;
    g.code = o.code;
    g.info.clear();
    let info = cstr(&o.info);
    g.info
        .extend_from_slice(&info[..info.len().min(CHECK_DESC_MAX)]);
    g.duration_ms = if o.status == CheckStatus::Hana {
        -1
    } else {
        o.duration_ms
    };
    g.in_progress = false;

    let verdict = verdict_of(o.status);
    let error = verdict == Verdict::Error;
    let running = matches!(verdict, Verdict::Running | Verdict::RunningDisable);
    let disable = verdict == Verdict::RunningDisable;
    let full = st.rise + st.fall - 1;
    let nolb = s.nolb.load(Relaxed);
    if px.cfg.options.log_health_checks.is_none()
        || !((g.health != 0 && error)
            || (g.health != full && running)
            || (nolb && !disable)
            || (!nolb && disable))
    {
        return None;
    }
    // The counter and state this result leads to, computed ahead of the transition.
    let mut health = g.health;
    let mut up = s.up.load(Relaxed);
    if error {
        if health > st.rise {
            health -= 1;
        } else {
            if health == st.rise {
                up = false;
            }
            health = 0;
        }
    }
    if running {
        if health < full {
            health += 1;
            if health == st.rise {
                up = true;
            }
            if health >= st.rise {
                health = full;
            }
        }
        // 1.4 only clears the observe error count on this logging path.
        if s.cfg.observe.is_some() {
            st.consecutive_errors.store(0, Relaxed);
        }
    }
    let (num, den) = if up {
        ((health + 1).saturating_sub(st.rise), st.fall)
    } else {
        (health, st.rise)
    };
    let check = OwnedCheck::from_inner(g);
    let state = ServerState {
        backend: px.name(),
        server: &s.cfg.name,
        backup: s.cfg.backup,
        tracked: None,
        check: Some(check.as_result()),
        log_health_checks: true,
        active: 0,
        backup_count: 0,
        cur_sess: 0,
        queued: 0,
    };
    Some(health_check_msg(&state, running, disable, num, den, up))
}

/// Applies a finished check to server `id` (1.4 `process_chk` after a check): records the
/// status, moves the health counter, and makes the UP/DOWN/NOLB transitions with their log
/// lines. A result arriving while the server is in maintenance is only recorded.
pub fn apply_check_result(rt: &Runtime, id: ServerId, outcome: &CheckOutcome) {
    let Some((px, s)) = server_at(rt, id) else {
        return;
    };
    let st = &s.check;
    let mut events = Vec::new();
    let lhc = {
        let mut g = st.inner.lock();
        let lhc = record_status(px, s, &mut g, outcome);
        if !s.maint.load(Relaxed) {
            match verdict_of(outcome.status) {
                Verdict::Running | Verdict::RunningDisable => {
                    let disable = verdict_of(outcome.status) == Verdict::RunningDisable;
                    if s.up.load(Relaxed) && disable_on_404(px) {
                        let nolb = s.nolb.load(Relaxed);
                        if nolb && !disable {
                            events.push(lb_enabled_locked(s, &g));
                        } else if !nolb && disable {
                            events.push(lb_disabled_locked(s, &g));
                        }
                    }
                    if g.health < st.rise + st.fall - 1 {
                        g.health += 1;
                        events.extend(up_locked(px, s, &mut g));
                    }
                }
                Verdict::Error => {
                    if g.health > st.rise {
                        g.health -= 1;
                        s.counters.chkfail.fetch_add(1, Relaxed);
                    } else {
                        events.extend(down_locked(px, s, &mut g));
                    }
                }
                Verdict::None => {}
            }
        }
        lhc
    };
    if let Some(m) = lhc {
        warn_and_log(s, Level::Notice, &m);
    }
    for ev in events {
        emit(rt, id, ev);
    }
}

/// `disable server <be>/<srv>` (stats socket, stats page admin): puts the server in
/// maintenance, logs `Server <be>/<srv> is DOWN for maintenance.` and marks its trackers
/// DOWN. Returns false when it already was in maintenance (nothing done, as 1.4).
pub fn disable_server(rt: &Runtime, id: ServerId) -> bool {
    let Some((_, s)) = server_at(rt, id) else {
        return false;
    };
    if s.maint.swap(true, Relaxed) {
        return false;
    }
    mark_down(rt, id);
    true
}

/// `enable server <be>/<srv>`: leaves maintenance. A tracking server follows the server it
/// tracks (UP if that one runs, else DOWN); others come UP with `health = rise`, so a first
/// failed check marks them DOWN again. Returns false when it was not in maintenance.
pub fn enable_server(rt: &Runtime, id: ServerId) -> bool {
    let Some((_, s)) = server_at(rt, id) else {
        return false;
    };
    if !s.maint.load(Relaxed) {
        return false;
    }
    let target_up = s
        .check
        .tracked
        .and_then(|t| server_at(rt, t))
        .map(|(_, t)| t.up.load(Relaxed));
    if target_up == Some(false) {
        s.maint.store(false, Relaxed);
        mark_down(rt, id);
    } else {
        transition(rt, id, |px, s, g| {
            let ev = up_locked(px, s, g);
            g.health = s.check.rise;
            ev
        });
    }
    // The check task may sleep for `inter` in maintenance; let it check now.
    s.check.hurry.notify_one();
    true
}

// ---------------------------------------------------------------------------------------------
// observe (passive health)
// ---------------------------------------------------------------------------------------------

/// What the data path saw on a server connection or response (1.4 `HANA_STATUS_*`), for
/// `observe layer4|layer7`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HanaStatus {
    L4Ok,
    L4Err,
    HttpOk,
    HttpSts,
    HttpHdrRsp,
    HttpRsp,
    HttpReadError,
    HttpReadTimeout,
    HttpBrokenPipe,
}

impl HanaStatus {
    /// The text after `last one was: ` (1.4 `analyze_statuses[].desc`).
    pub fn description(self) -> &'static str {
        match self {
            HanaStatus::L4Ok => "L4 successful connection",
            HanaStatus::L4Err => "L4 unsuccessful connection",
            HanaStatus::HttpOk => "Correct http response",
            HanaStatus::HttpSts => "Wrong http response",
            HanaStatus::HttpHdrRsp => "Invalid http response (headers)",
            HanaStatus::HttpRsp => "Invalid http response",
            HanaStatus::HttpReadError => "Read error (http)",
            HanaStatus::HttpReadTimeout => "Read timeout (http)",
            HanaStatus::HttpBrokenPipe => "Close from server (http)",
        }
    }

    /// `Some(true)` = error, `Some(false)` = success, `None` = ignored at this layer.
    fn is_error(self, layer: Observe) -> Option<bool> {
        match (self, layer) {
            (HanaStatus::L4Ok, Observe::Layer4) => Some(false),
            (HanaStatus::L4Ok, Observe::Layer7) => None,
            (HanaStatus::L4Err, _) => Some(true),
            (_, Observe::Layer4) => None,
            (HanaStatus::HttpOk, Observe::Layer7) => Some(false),
            (_, Observe::Layer7) => Some(true),
        }
    }
}

/// Reports a data-path observation for `observe` (1.4 `health_adjust`). Cheap when the server
/// has no `observe` or no `check`: one branch. After `error-limit` consecutive errors, applies
/// `on-error` (fail a check, sudden death, mark down) and asks for a check within
/// `fastinter` when it is set.
pub fn observe(rt: &Runtime, id: ServerId, status: HanaStatus) {
    let Some((px, s)) = server_at(rt, id) else {
        return;
    };
    let st = &s.check;
    let Some(layer) = s.cfg.observe else { return };
    if !st.checked {
        return;
    }
    let Some(failed) = status.is_error(layer) else {
        return;
    };
    if !failed {
        if st.consecutive_errors.load(Relaxed) != 0 {
            st.consecutive_errors.store(0, Relaxed);
        }
        return;
    }
    let errors = st.consecutive_errors.fetch_add(1, Relaxed) + 1;
    if errors < s.cfg.error_limit.max(1) {
        return;
    }
    let desc = format!(
        "Detected {errors} consecutive errors, last one was: {}",
        status.description()
    );
    let outcome = CheckOutcome::new(CheckStatus::Hana, 0, desc.as_bytes(), -1);
    let mut events = Vec::new();
    let mut lhc = None;
    {
        let mut g = st.inner.lock();
        match s.cfg.on_error {
            OnError::Fastinter => {}
            OnError::SuddenDeath | OnError::FailCheck => {
                if s.cfg.on_error == OnError::SuddenDeath && g.health > st.rise {
                    g.health = st.rise + 1;
                }
                lhc = record_status(px, s, &mut g, &outcome);
                if g.health > st.rise {
                    g.health -= 1;
                    s.counters.chkfail.fetch_add(1, Relaxed);
                } else {
                    events.extend(down_locked(px, s, &mut g));
                }
            }
            OnError::MarkDown => {
                g.health = st.rise;
                lhc = record_status(px, s, &mut g, &outcome);
                events.extend(down_locked(px, s, &mut g));
            }
        }
    }
    st.consecutive_errors.store(0, Relaxed);
    s.counters.hanafail.fetch_add(1, Relaxed);
    if let Some(m) = lhc {
        warn_and_log(s, Level::Notice, &m);
    }
    for ev in events {
        emit(rt, id, ev);
    }
    if s.cfg.fastinter.is_some() {
        st.hurry.notify_one();
    }
}

/// 1.4 `srv_getinter`: `inter` at full health, `downinter` when fully DOWN, `fastinter` in
/// between (each falling back to `inter`).
pub fn check_interval(s: &Server) -> Duration {
    let st = &s.check;
    let health = st.health();
    let c = &s.cfg;
    let ms = if st.checked && health == st.rise + st.fall - 1 {
        c.inter
    } else if !s.up.load(Relaxed) && health == 0 {
        c.downinter.unwrap_or(c.inter)
    } else {
        c.fastinter.unwrap_or(c.inter)
    };
    Duration::from_millis(u64::from(ms.max(1)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::test_support::*;
    use std::sync::atomic::Ordering::Relaxed;

    fn outcome(status: CheckStatus) -> CheckOutcome {
        CheckOutcome::new(status, 0, b"", 1)
    }

    fn fail(rt: &Runtime, id: ServerId) {
        apply_check_result(rt, id, &outcome(CheckStatus::L4Con));
    }

    fn pass(rt: &Runtime, id: ServerId) {
        apply_check_result(rt, id, &outcome(CheckStatus::L4Ok));
    }

    #[test]
    fn first_failure_after_start_marks_down() {
        let rt = runtime(vec![backend(
            "bk",
            vec![server("s1", 3, 3), server("s2", 3, 3)],
        )]);
        let id = sid(0, 0);
        let s = srv(&rt, id);
        assert!(s.up.load(Relaxed));
        assert_eq!(s.check.health(), 3);
        assert_eq!(status_text(&rt, s), "UP 1/3");
        fail(&rt, id);
        assert!(!s.up.load(Relaxed));
        assert_eq!(s.check.health(), 0);
        assert_eq!(status_text(&rt, s), "DOWN");
        assert_eq!(s.counters.chkdown.load(Relaxed), 1);
        // The failure that caused the transition is not a "still good" failure.
        assert_eq!(s.counters.chkfail.load(Relaxed), 0);
    }

    #[test]
    fn rise_and_fall_from_full_health() {
        let rt = runtime(vec![backend("bk", vec![server("s1", 2, 3)])]);
        let id = sid(0, 0);
        let s = srv(&rt, id);
        // First success jumps to full health.
        pass(&rt, id);
        assert_eq!(s.check.health(), 4);
        assert_eq!(status_text(&rt, s), "UP");
        // fall = 3: two failures keep it UP, the third marks it DOWN.
        fail(&rt, id);
        assert_eq!(status_text(&rt, s), "UP 2/3");
        fail(&rt, id);
        assert_eq!(status_text(&rt, s), "UP 1/3");
        assert!(s.up.load(Relaxed));
        assert_eq!(s.counters.chkfail.load(Relaxed), 2);
        fail(&rt, id);
        assert!(!s.up.load(Relaxed));
        assert_eq!(status_text(&rt, s), "DOWN");
        // Failures while DOWN change nothing.
        fail(&rt, id);
        assert_eq!(s.counters.chkdown.load(Relaxed), 1);
        // rise = 2: one success is not enough.
        pass(&rt, id);
        assert!(!s.up.load(Relaxed));
        assert_eq!(status_text(&rt, s), "DOWN 1/2");
        // A failure in between resets the count.
        fail(&rt, id);
        assert_eq!(status_text(&rt, s), "DOWN");
        pass(&rt, id);
        pass(&rt, id);
        assert!(s.up.load(Relaxed));
        assert_eq!(s.check.health(), 4);
        assert_eq!(status_text(&rt, s), "UP");
    }

    #[test]
    fn intervals_follow_the_state() {
        let mut cfg = server("s1", 2, 2);
        cfg.inter = 1000;
        cfg.fastinter = Some(100);
        cfg.downinter = Some(5000);
        let rt = runtime(vec![backend("bk", vec![cfg])]);
        let id = sid(0, 0);
        let s = srv(&rt, id);
        // Never checked (health = rise, not full): fastinter.
        assert_eq!(check_interval(s), Duration::from_millis(100));
        pass(&rt, id);
        assert_eq!(check_interval(s), Duration::from_millis(1000));
        fail(&rt, id);
        assert_eq!(check_interval(s), Duration::from_millis(100));
        fail(&rt, id);
        assert_eq!(check_interval(s), Duration::from_millis(5000));
        pass(&rt, id);
        assert_eq!(check_interval(s), Duration::from_millis(100));
        // Without fastinter/downinter everything uses inter.
        let rt = runtime(vec![backend("bk", vec![server("s1", 2, 2)])]);
        let s = srv(&rt, sid(0, 0));
        assert_eq!(check_interval(s), Duration::from_millis(2000));
        fail(&rt, sid(0, 0));
        assert_eq!(check_interval(s), Duration::from_millis(2000));
    }

    #[test]
    fn messages_and_backend_down() {
        let (rx, target) = udp_log_target();
        let mut b = backend("bk", vec![server("s1", 2, 3), server("s2", 2, 3)]);
        b.logs.push(sp(target));
        let rt = runtime(vec![b]);
        install(&rt);
        apply_check_result(
            &rt,
            sid(0, 0),
            &CheckOutcome::new(CheckStatus::L4Con, 0, b"Connection refused", 3),
        );
        assert_eq!(
            recv_line(&rx),
            (
                1,
                "Server bk/s1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", \
                 check duration: 3ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, \
                 0 remaining in queue."
                    .to_string()
            )
        );
        apply_check_result(
            &rt,
            sid(0, 1),
            &CheckOutcome::new(CheckStatus::L4Tout, 0, b"", 2000),
        );
        assert_eq!(recv_line(&rx).0, 1);
        assert_eq!(
            recv_line(&rx),
            (0, "backend bk has no server available!".to_string())
        );
        let px = &rt.proxies[0];
        assert_eq!(px.be_counters.chkdown.load(Relaxed), 1);
        // The balancer follows.
        assert_eq!(px.lb.usable_servers(), 0);
        // rise 2: two good checks bring s1 back, with its check details.
        let ok = CheckOutcome::new(CheckStatus::L7Ok, 200, b"OK", 4);
        apply_check_result(&rt, sid(0, 0), &ok);
        apply_check_result(&rt, sid(0, 0), &ok);
        assert_eq!(
            recv_line(&rx),
            (
                5,
                "Server bk/s1 is UP, reason: Layer7 check passed, code: 200, info: \"OK\", check duration: 4ms. \
                 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."
                    .to_string()
            )
        );
        assert!(srv(&rt, sid(0, 0)).check.health() == 4);
    }

    #[test]
    fn backup_servers_and_running_on_backup() {
        let (rx, target) = udp_log_target();
        let mut bk = server("b1", 2, 3);
        bk.backup = true;
        let mut b = backend("bk", vec![server("s1", 2, 3), bk]);
        b.kind = parser::ir::ProxyKind::Listen;
        b.logs.push(sp(target));
        let rt = runtime(vec![b]);
        install(&rt);
        fail(&rt, sid(0, 0));
        let (_, m) = recv_line(&rx);
        assert!(
            m.ends_with(
                ". 0 active and 1 backup servers left. Running on backup. 0 sessions active, 0 requeued, 0 remaining in queue."
            ),
            "{m}"
        );
        fail(&rt, sid(0, 1));
        let (lvl, m) = recv_line(&rx);
        assert_eq!(lvl, 1);
        assert!(m.starts_with("Backup Server bk/b1 is DOWN, reason:"), "{m}");
        assert_eq!(
            recv_line(&rx),
            (0, "proxy bk has no server available!".to_string())
        );
    }

    #[test]
    fn log_health_checks_lines() {
        let (rx, target) = udp_log_target();
        let mut b = backend("bk", vec![server("s1", 2, 3)]);
        b.logs.push(sp(target));
        b.options.log_health_checks = Some(parser::span::Span::builtin());
        let rt = runtime(vec![b]);
        install(&rt);
        let id = sid(0, 0);
        // health = rise (2), success → full health: logged (not yet fully UP).
        pass(&rt, id);
        assert_eq!(
            recv_line(&rx),
            (
                5,
                "Health check for server bk/s1 succeeded, reason: Layer4 check passed, check duration: 1ms, \
                 status: 3/3 UP."
                    .to_string()
            )
        );
        // At full health a success is not logged; a failure is.
        pass(&rt, id);
        assert_silent(&rx, 100);
        apply_check_result(
            &rt,
            id,
            &CheckOutcome::new(CheckStatus::L7Sts, 503, b"Service Unavailable", 7),
        );
        assert_eq!(
            recv_line(&rx),
            (
                5,
                "Health check for server bk/s1 failed, reason: Layer7 wrong status, code: 503, \
                 info: \"Service Unavailable\", check duration: 7ms, status: 2/3 UP."
                    .to_string()
            )
        );
        fail(&rt, id);
        assert!(recv_line(&rx).1.ends_with("status: 1/3 UP."));
        fail(&rt, id);
        assert!(recv_line(&rx).1.ends_with("status: 0/2 DOWN."));
        // The DOWN message itself carries no check details with log-health-checks.
        assert_eq!(
            recv_line(&rx),
            (
                1,
                "Server bk/s1 is DOWN. 0 active and 0 backup servers left. 0 sessions active, \
                 0 requeued, 0 remaining in queue."
                    .to_string()
            )
        );
        assert_eq!(recv_line(&rx).0, 0);
        pass(&rt, id);
        assert!(recv_line(&rx).1.ends_with("status: 1/2 DOWN."));
    }

    #[test]
    fn maintenance_and_tracking() {
        let (rx, target) = udp_log_target();
        let mut t1 = server("t1", 2, 3);
        t1.check = false;
        t1.track = Some(parser::ir::ServerRef {
            proxy: Some("bk".into()),
            server: "s1".into(),
        });
        let mut other = backend("other", vec![t1]);
        other.logs.push(sp(target.clone()));
        let mut b = backend("bk", vec![server("s1", 2, 3)]);
        b.logs.push(sp(target));
        let rt = runtime(vec![b, other]);
        install(&rt);
        let s1 = sid(0, 0);
        let t1 = sid(1, 0);
        assert_eq!(srv(&rt, t1).check.tracked(), Some(s1));
        assert_eq!(srv(&rt, s1).check.trackers(), &[t1]);
        assert_eq!(status_text(&rt, srv(&rt, t1)), "UP 1/3");
        assert!(check_status_name(srv(&rt, t1)).is_none());
        assert_eq!(check_status_name(srv(&rt, s1)), Some("INI"));

        // A tracked server going DOWN takes its trackers with it.
        fail(&rt, s1);
        assert!(recv_line(&rx).1.starts_with("Server bk/s1 is DOWN, reason"));
        assert_eq!(recv_line(&rx).0, 0);
        assert_eq!(
            recv_line(&rx),
            (
                1,
                "Server other/t1 is DOWN via bk/s1. 0 active and 0 backup servers left. \
                 0 sessions active, 0 requeued, 0 remaining in queue."
                    .to_string()
            )
        );
        assert_eq!(recv_line(&rx).0, 0);
        assert!(!srv(&rt, t1).up.load(Relaxed));
        assert_eq!(status_text(&rt, srv(&rt, t1)), "DOWN");

        pass(&rt, s1);
        pass(&rt, s1);
        assert!(recv_line(&rx).1.starts_with("Server bk/s1 is UP, reason"));
        assert_eq!(
            recv_line(&rx),
            (
                5,
                "Server other/t1 is UP via bk/s1. 1 active and 0 backup servers online. \
                 0 sessions requeued, 0 total in queue."
                    .to_string()
            )
        );

        // Maintenance of the tracked server: MAINT, MAINT(via) for the tracker.
        assert!(disable_server(&rt, s1));
        assert!(!disable_server(&rt, s1));
        assert_eq!(
            recv_line(&rx),
            (1, "Server bk/s1 is DOWN for maintenance.".to_string())
        );
        assert_eq!(recv_line(&rx).0, 0);
        assert!(recv_line(&rx)
            .1
            .starts_with("Server other/t1 is DOWN via bk/s1."));
        assert_eq!(recv_line(&rx).0, 0);
        assert_eq!(status_text(&rt, srv(&rt, s1)), "MAINT");
        assert_eq!(status_text(&rt, srv(&rt, t1)), "MAINT(via)");
        assert!(!srv(&rt, s1).is_usable());
        // Check results are only recorded during maintenance.
        pass(&rt, s1);
        assert!(srv(&rt, s1).maint.load(Relaxed));

        // Enabling the tracker while its target is in maintenance: DOWN via.
        assert!(!enable_server(&rt, t1));
        assert!(enable_server(&rt, s1));
        assert_eq!(
            recv_line(&rx),
            (5, "Server bk/s1 is UP (leaving maintenance).".to_string())
        );
        assert!(recv_line(&rx)
            .1
            .starts_with("Server other/t1 is UP via bk/s1."));
        assert_eq!(srv(&rt, s1).check.health(), 2);
        assert_eq!(status_text(&rt, srv(&rt, s1)), "UP 1/3");
        // Up with health = rise: the next failure marks it down again.
        fail(&rt, s1);
        assert!(!srv(&rt, s1).up.load(Relaxed));
    }

    #[test]
    fn tracker_maintenance_and_disabled_target() {
        let mut s1 = server("s1", 2, 3);
        s1.disabled = true;
        let mut t1 = server("t1", 2, 3);
        t1.check = false;
        t1.track = Some(parser::ir::ServerRef {
            proxy: None,
            server: "s1".into(),
        });
        let rt = runtime(vec![backend("bk", vec![s1, t1])]);
        install(&rt);
        let (s1, t1) = (sid(0, 0), sid(0, 1));
        assert_eq!(status_text(&rt, srv(&rt, s1)), "MAINT");
        assert_eq!(status_text(&rt, srv(&rt, t1)), "MAINT(via)");
        assert!(!srv(&rt, t1).up.load(Relaxed));
        assert_eq!(rt.proxies[0].lb.usable_servers(), 0);
        // Tracker in maintenance itself, then enabled while its target is still in MAINT.
        assert!(disable_server(&rt, t1));
        assert_eq!(status_text(&rt, srv(&rt, t1)), "MAINT");
        assert!(enable_server(&rt, t1));
        assert!(!srv(&rt, t1).maint.load(Relaxed));
        assert!(!srv(&rt, t1).up.load(Relaxed));
        assert!(enable_server(&rt, s1));
        assert!(srv(&rt, t1).up.load(Relaxed));
        assert_eq!(rt.proxies[0].lb.usable_servers(), 2);
        assert_eq!(status_text(&rt, srv(&rt, t1)), "UP 1/3");
    }

    #[test]
    fn disable_on_404_nolb() {
        let (rx, target) = udp_log_target();
        let mut b = backend("bk", vec![server("s1", 2, 3)]);
        b.logs.push(sp(target));
        b.check = sp(CheckKind::Http {
            method: "OPTIONS".into(),
            uri: "/".into(),
            version: "HTTP/1.0".into(),
        });
        b.http_check.disable_on_404 = Some(parser::span::Span::builtin());
        let rt = runtime(vec![b]);
        install(&rt);
        let id = sid(0, 0);
        let s = srv(&rt, id);
        let c404 = CheckOutcome::new(CheckStatus::L7OkC, 404, b"Not Found", 2);
        apply_check_result(&rt, id, &c404);
        assert!(s.nolb.load(Relaxed) && s.up.load(Relaxed) && !s.is_usable());
        assert!(s.accepts_persistent());
        assert_eq!(status_text(&rt, s), "NOLB");
        assert_eq!(
            recv_line(&rx),
            (
                5,
                "Load-balancing on Server bk/s1 is disabled, reason: Layer7 check conditionally passed, \
                 code: 404, info: \"Not Found\", check duration: 2ms. 0 active and 0 backup servers online. \
                 0 sessions requeued, 0 total in queue."
                    .to_string()
            )
        );
        assert_eq!(
            recv_line(&rx),
            (0, "backend bk has no server available!".to_string())
        );
        // Still 404: nothing new.
        apply_check_result(&rt, id, &c404);
        // A failure while NOLB: status shows the countdown, then DOWN at notice level.
        fail(&rt, id);
        assert_eq!(status_text(&rt, s), "NOLB 2/3");
        fail(&rt, id);
        fail(&rt, id);
        let (lvl, m) = recv_line(&rx);
        assert_eq!(lvl, 5, "{m}");
        assert!(m.starts_with("Server bk/s1 is DOWN"));
        assert!(!s.nolb.load(Relaxed));
        // Back UP with 200s, then 200 while NOLB re-enables.
        let ok = CheckOutcome::new(CheckStatus::L7Ok, 200, b"OK", 1);
        apply_check_result(&rt, id, &ok);
        apply_check_result(&rt, id, &ok);
        assert!(recv_line(&rx).1.starts_with("Server bk/s1 is UP"));
        apply_check_result(&rt, id, &c404);
        assert!(recv_line(&rx)
            .1
            .starts_with("Load-balancing on Server bk/s1 is disabled"));
        assert_eq!(recv_line(&rx).0, 0);
        apply_check_result(&rt, id, &ok);
        assert_eq!(
            recv_line(&rx),
            (
                5,
                "Load-balancing on Server bk/s1 is enabled again, reason: Layer7 check passed, code: 200, \
                 info: \"OK\", check duration: 1ms. 1 active and 0 backup servers online. 0 sessions requeued, \
                 0 total in queue."
                    .to_string()
            )
        );
        assert!(s.is_usable());
    }

    #[test]
    fn observe_on_error_modes() {
        let mut s1 = server("s1", 2, 3);
        s1.observe = Some(Observe::Layer7);
        s1.error_limit = 2;
        s1.on_error = OnError::FailCheck;
        let mut s2 = s1.clone();
        s2.name = "s2".into();
        s2.on_error = OnError::MarkDown;
        let mut s3 = s1.clone();
        s3.name = "s3".into();
        s3.on_error = OnError::SuddenDeath;
        let rt = runtime(vec![backend("bk", vec![s1, s2, s3])]);
        for i in 0..3 {
            pass(&rt, sid(0, i));
        }
        let (a, b, c) = (sid(0, 0), sid(0, 1), sid(0, 2));
        // Layer-4 success is ignored at layer 7; a good response clears the count.
        observe(&rt, a, HanaStatus::HttpSts);
        observe(&rt, a, HanaStatus::L4Ok);
        assert_eq!(srv(&rt, a).check.consecutive_errors(), 1);
        observe(&rt, a, HanaStatus::HttpOk);
        assert_eq!(srv(&rt, a).check.consecutive_errors(), 0);
        // fail-check: two errors = one failed check.
        observe(&rt, a, HanaStatus::HttpRsp);
        observe(&rt, a, HanaStatus::HttpRsp);
        let sa = srv(&rt, a);
        assert_eq!(sa.check.health(), 3);
        assert_eq!(sa.counters.hanafail.load(Relaxed), 1);
        assert_eq!(sa.counters.chkfail.load(Relaxed), 1);
        let snap = sa.check.snapshot().unwrap();
        assert_eq!(snap.status, CheckStatus::Hana);
        assert_eq!(snap.duration_ms, -1);
        assert_eq!(snap.csv_duration(), Some(u64::MAX));
        assert_eq!(
            snap.info,
            b"Detected 2 consecutive errors, last one was: Invalid http response".to_vec()
        );
        // mark-down: DOWN at once.
        observe(&rt, b, HanaStatus::L4Err);
        observe(&rt, b, HanaStatus::HttpReadTimeout);
        assert!(!srv(&rt, b).up.load(Relaxed));
        // sudden-death: one error short of DOWN.
        observe(&rt, c, HanaStatus::HttpBrokenPipe);
        observe(&rt, c, HanaStatus::HttpBrokenPipe);
        assert!(srv(&rt, c).up.load(Relaxed));
        assert_eq!(srv(&rt, c).check.health(), 2);
        fail(&rt, c);
        assert!(!srv(&rt, c).up.load(Relaxed));
    }

    #[test]
    fn slowstart_ramp() {
        let mut cfg = server("s1", 1, 1);
        cfg.slowstart = 1600;
        cfg.weight = 10;
        let rt = runtime(vec![backend("bk", vec![cfg])]);
        let id = sid(0, 0);
        let s = srv(&rt, id);
        let t0 = Instant::now();
        assert_eq!(effective_weight_permille(s, t0), 1000);
        assert_eq!(throttle_percent(s, t0), None);
        fail(&rt, id);
        pass(&rt, id);
        assert!(s.up.load(Relaxed));
        let t0 = Instant::now();
        assert!(s.check.is_warming_up(t0));
        // One step at once, then linear in 1/16 steps over 1600 ms.
        assert_eq!(warmup_steps(s, t0), Some(1));
        assert_eq!(effective_weight_permille(s, t0), 62);
        let at = |ms| t0 + Duration::from_millis(ms);
        assert_eq!(
            warmup_steps(s, at(800)).map(|x| x.clamp(8, 9)),
            warmup_steps(s, at(800))
        );
        assert!((500..=570).contains(&effective_weight_permille(s, at(800))));
        assert_eq!(scaled_eweight(s, at(1590)), 160);
        assert!(throttle_percent(s, at(800)).is_some_and(|p| (50..=57).contains(&p)));
        assert!((4..=6).contains(&slowstart_maxconn(s, 10, at(800))));
        assert_eq!(slowstart_maxconn(s, 10, t0), 1);
        assert_eq!(effective_weight_permille(s, at(1700)), 1000);
        assert_eq!(slowstart_maxconn(s, 10, at(1700)), 10);
        assert_eq!(scaled_eweight(s, at(1700)), 160);
        // Going DOWN ends the ramp.
        fail(&rt, id);
        assert!(!s.check.warmup_flag());
    }

    #[test]
    fn downtime_accounting() {
        let rt = runtime(vec![backend("bk", vec![server("s1", 1, 1)])]);
        let id = sid(0, 0);
        let s = srv(&rt, id);
        let now = u64::from(now_sec());
        assert_eq!(server_downtime_secs(s, now + 5), 0);
        fail(&rt, id);
        // Pretend it went down 30 s ago.
        s.counters.last_change.store(now - 30, Relaxed);
        assert_eq!(server_downtime_secs(s, now), 30);
        pass(&rt, id);
        assert!(s.counters.down_time.load(Relaxed) >= 30);
        assert_eq!(
            server_downtime_secs(s, now + 100),
            s.counters.down_time.load(Relaxed)
        );
        let px = &rt.proxies[0];
        assert!(px.be_counters.down_time.load(Relaxed) <= 1);
        assert_eq!(
            backend_downtime_secs(px, now + 100),
            px.be_counters.down_time.load(Relaxed)
        );
    }

    #[test]
    fn display_state_texts() {
        let cases = [
            (
                DisplayState::GoingUp { health: 1, rise: 2 },
                "DOWN 1/2",
                "DN 1/2 &uarr;",
                Some(1),
            ),
            (
                DisplayState::GoingDown { n: 2, fall: 3 },
                "UP 2/3",
                "UP 2/3 &darr;",
                Some(2),
            ),
            (
                DisplayState::NolbGoingDown { n: 1, fall: 3 },
                "NOLB 1/3",
                "NOLB 1/3 &darr;",
                Some(4),
            ),
            (
                DisplayState::NoCheck,
                "no check",
                "<i>no check</i>",
                Some(6),
            ),
            (DisplayState::MaintVia, "MAINT(via)", "MAINT(via)", None),
        ];
        for (d, csv, html, n) in cases {
            assert_eq!(d.csv_text(), csv);
            assert_eq!(d.html_text(), html);
            assert_eq!(d.sv_state(), n);
        }
        let rt = runtime(vec![backend(
            "bk",
            vec![{
                let mut s = server("s1", 2, 3);
                s.check = false;
                s
            }],
        )]);
        assert_eq!(status_text(&rt, srv(&rt, sid(0, 0))), "no check");
        assert!(srv(&rt, sid(0, 0)).check.snapshot().is_none());
    }
}
