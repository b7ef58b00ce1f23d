//! Run-time control of a started process: soft stop with `grace`, pause and resume of the
//! listeners, and the state dumps. The signal thread (`signals.rs`) calls in here, and so can
//! the stats socket later (`soft_stop`, `pause`, `resume`, `dump_state`, `dump_pools`).
//!
//! Compare with 1.4 `src/proxy.c` (`soft_stop`, `pause_proxies`, `listen_proxies`,
//! `maintain_proxies` for the end of `grace`) and `src/haproxy.c` (`sig_dump_state`, `dump`).
//!
//! Each proxy has a state (`Running`, `Paused`, `Stopped`); worker accept loops read it and
//! wait on [`Control::changed`]. The control keeps its own copy of every listening socket: to
//! pause them (1.4's shutdown trick), to listen again on resume, and to hand them to the
//! process that replaces us (`reload.rs`). A small thread ([`spawn_timer`]) stops each proxy
//! when its `grace` ends.

use crate::listener::Listener;
use crate::log;
use crate::process::pidfile::Pidfile;
use crate::runtime::Runtime;
use parking_lot::Mutex;
use parser::ir;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// What a proxy's listeners are doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyState {
    /// Accepting (or held off by maxconn, which the worker handles itself).
    Running,
    /// SIGTTOU: not listening; SIGTTIN resumes.
    Paused,
    /// Soft stop finished for this proxy, or `disabled`: its listeners are closed for good.
    Stopped,
}

impl ProxyState {
    fn from_u8(v: u8) -> ProxyState {
        match v {
            0 => ProxyState::Running,
            1 => ProxyState::Paused,
            _ => ProxyState::Stopped,
        }
    }
    fn to_u8(self) -> u8 {
        match self {
            ProxyState::Running => 0,
            ProxyState::Paused => 1,
            ProxyState::Stopped => 2,
        }
    }
}

/// Our copy of one listening socket.
struct Held {
    proxy: usize,
    addr: SocketAddr,
    backlog: i32,
    sock: TcpListener,
}

/// Process control state, one per `Runtime`.
pub struct Control {
    states: Vec<AtomicU8>,
    /// Bumped each time a proxy's sockets are shut down by a pause. A worker registered its
    /// socket with the reactor under one epoch; a shut-down socket leaves a final hang-up in
    /// that registration, so after any pause (even one it never saw, resumed at once) the
    /// worker must register the socket afresh.
    epochs: Vec<AtomicU32>,
    /// When each proxy stops listening during a soft stop (`None` = not stopping).
    stop_at: Mutex<Vec<Option<Instant>>>,
    /// Wakes accept loops when a proxy changes state.
    pub changed: tokio::sync::Notify,
    held: Mutex<Vec<Held>>,
    /// Set once our listening sockets were handed to another process: from then on they are
    /// shared, so pausing must not shut them down under the new process's feet.
    shared: AtomicBool,
    /// Pokes the grace timer thread when deadlines change.
    timer: OnceLock<mpsc::Sender<()>>,
    pidfile: Mutex<Option<Pidfile>>,
}

impl Control {
    /// Control state for `proxies`: `disabled` ones start stopped (1.4 `PR_STSTOPPED`), so
    /// they never print stop messages.
    pub fn new(proxies: &[ir::Proxy]) -> Control {
        let disabled: Vec<bool> = proxies.iter().map(|p| p.disabled.is_some()).collect();
        Control::with_disabled(&disabled)
    }

    /// Control state for one proxy per entry, stopped where the entry is true.
    pub fn with_disabled(disabled: &[bool]) -> Control {
        Control {
            states: disabled
                .iter()
                .map(|&d| {
                    let s = if d {
                        ProxyState::Stopped
                    } else {
                        ProxyState::Running
                    };
                    AtomicU8::new(s.to_u8())
                })
                .collect(),
            epochs: disabled.iter().map(|_| AtomicU32::new(0)).collect(),
            stop_at: Mutex::new(vec![None; disabled.len()]),
            changed: tokio::sync::Notify::new(),
            held: Mutex::new(Vec::new()),
            shared: AtomicBool::new(false),
            timer: OnceLock::new(),
            pidfile: Mutex::new(None),
        }
    }

    /// The state of proxy `idx` (an unknown index reads as stopped).
    pub fn state(&self, idx: usize) -> ProxyState {
        self.states
            .get(idx)
            .map(|s| ProxyState::from_u8(s.load(SeqCst)))
            .unwrap_or(ProxyState::Stopped)
    }

    /// The pause epoch of proxy `idx` (see [`Control`]).
    pub fn epoch(&self, idx: usize) -> u32 {
        self.epochs.get(idx).map(|e| e.load(SeqCst)).unwrap_or(0)
    }

    fn set_state(&self, idx: usize, st: ProxyState) {
        if let Some(s) = self.states.get(idx) {
            s.store(st.to_u8(), SeqCst);
        }
    }

    /// Keeps a copy of every listening socket (for pause, resume and handover).
    pub fn hold_listeners(&self, rt_proxies: &[ir::Proxy], listeners: &[Listener]) {
        let mut held = self.held.lock();
        for l in listeners {
            let Ok(sock) = l.socket.try_clone() else {
                continue;
            };
            let backlog = rt_proxies
                .get(l.proxy)
                .map(crate::listener::backlog_of)
                .unwrap_or(2000);
            held.push(Held {
                proxy: l.proxy,
                addr: l.addr,
                backlog: i32::try_from(backlog).unwrap_or(i32::MAX).max(1),
                sock,
            });
        }
    }

    /// Duplicates of the listening sockets still open, with their addresses, for the process
    /// that replaces us. Marks them shared when there is at least one.
    pub fn sockets_for_handover(&self) -> Vec<(SocketAddr, TcpListener)> {
        let held = self.held.lock();
        let out: Vec<(SocketAddr, TcpListener)> = held
            .iter()
            .filter(|h| self.state(h.proxy) != ProxyState::Stopped)
            .filter_map(|h| h.sock.try_clone().ok().map(|s| (h.addr, s)))
            .collect();
        if !out.is_empty() {
            self.shared.store(true, SeqCst);
        }
        out
    }

    /// Remembers the pidfile, so a stop can remove it if it still names us.
    pub fn set_pidfile(&self, p: Pidfile) {
        *self.pidfile.lock() = Some(p);
    }

    /// Removes the pidfile if it still holds our pid (a newer process may own it by now).
    pub fn remove_pidfile(&self) {
        if let Some(p) = self.pidfile.lock().as_ref() {
            p.remove_if_ours(std::process::id());
        }
    }

    /// Starts the soft stop of proxy `idx`: it stops at `at`. False if it is stopped already.
    fn begin_stop(&self, idx: usize, at: Instant) -> bool {
        if self.state(idx) == ProxyState::Stopped {
            return false;
        }
        if let Some(slot) = self.stop_at.lock().get_mut(idx) {
            *slot = Some(at);
        }
        true
    }

    /// Stops the proxies whose `grace` ended by `now`: their state becomes `Stopped` and our
    /// copies of their sockets close. Returns them, for the messages.
    fn stop_due(&self, now: Instant) -> Vec<usize> {
        let mut due = Vec::new();
        for (i, slot) in self.stop_at.lock().iter_mut().enumerate() {
            if slot.is_some_and(|t| t <= now) {
                *slot = None;
                if self.state(i) != ProxyState::Stopped {
                    due.push(i);
                }
            }
        }
        if !due.is_empty() {
            for &i in &due {
                self.set_state(i, ProxyState::Stopped);
            }
            self.held.lock().retain(|h| !due.contains(&h.proxy));
            self.changed.notify_waiters();
        }
        due
    }

    /// Pauses running proxy `idx`: no more accepting, and its sockets leave the listening
    /// state unless they are shared with a newer process. None if it was not running,
    /// Some(false) if a socket refused.
    fn pause_one(&self, idx: usize) -> Option<bool> {
        if self.state(idx) != ProxyState::Running {
            return None;
        }
        self.set_state(idx, ProxyState::Paused);
        Some(self.shared.load(SeqCst) || self.shutdown_listeners(idx))
    }

    /// Takes proxy `idx`'s sockets out of the listening state without closing them (on
    /// Linux, shutdown(SHUT_RD) on a listening socket stops listening and resets its queue;
    /// as the socket was bound to an explicit port, it keeps that port and a later listen()
    /// takes it back). Returns false if one of them refused.
    fn shutdown_listeners(&self, idx: usize) -> bool {
        if let Some(e) = self.epochs.get(idx) {
            e.fetch_add(1, SeqCst);
        }
        let held = self.held.lock();
        let mut ok = true;
        for h in held.iter().filter(|h| h.proxy == idx) {
            if socket2::SockRef::from(&h.sock)
                .shutdown(std::net::Shutdown::Read)
                .is_err()
            {
                ok = false;
            }
        }
        ok
    }

    /// Resumes paused proxy `idx`: its sockets listen again. None if it was not paused,
    /// Some(Err(port)) if a port was taken meanwhile (the proxy stays paused).
    fn resume_one(&self, idx: usize) -> Option<Result<(), u16>> {
        if self.state(idx) != ProxyState::Paused {
            return None;
        }
        if !self.shared.load(SeqCst) {
            let busy = self
                .held
                .lock()
                .iter()
                .filter(|h| h.proxy == idx)
                .find(|h| socket2::SockRef::from(&h.sock).listen(h.backlog).is_err())
                .map(|h| h.addr.port());
            if let Some(port) = busy {
                // Another of its ports may be listening again: take them all back down.
                self.shutdown_listeners(idx);
                return Some(Err(port));
            }
        }
        self.set_state(idx, ProxyState::Running);
        Some(Ok(()))
    }

    /// The earliest pending end of `grace`.
    fn next_deadline(&self) -> Option<Instant> {
        self.stop_at.lock().iter().flatten().min().copied()
    }

    fn poke_timer(&self) {
        if let Some(tx) = self.timer.get() {
            let _ = tx.send(());
        }
    }
}

/// Messages that 1.4 sends both to stderr (`Warning()`) and to the proxy's syslog targets.
fn warn_and_log(rt: &Runtime, px: Option<usize>, text: &str) {
    // The proxy's targets, or the global ones for a message about no proxy (1.4
    // `send_log(NULL, ...)` after its loop over the proxies).
    let logger = px
        .and_then(|i| rt.proxies.get(i))
        .map_or(&rt.global_logger, |p| &p.logger);
    log::send_and_warn(logger, log::Level::Warning, text);
}

/// Soft stop (SIGUSR1, 1.4 `soft_stop`): every proxy not yet stopped announces
/// `Stopping <type> <name> in <grace> ms.` and stops listening when its `grace` ends; the
/// process exits once every stream has ended. A second call does nothing, as 1.4 ignores
/// further SIGUSR1s.
pub fn soft_stop(rt: &Runtime) {
    if rt.begin_stopping() {
        return;
    }
    let now = Instant::now();
    for (i, px) in rt.proxies.iter().enumerate() {
        let grace = px.cfg.grace.as_ref().map(|g| g.node).unwrap_or(0);
        if rt
            .control
            .begin_stop(i, now + Duration::from_millis(u64::from(grace)))
        {
            warn_and_log(
                rt,
                Some(i),
                &log::proxy_stopping_msg(px.cfg.kind, px.name(), u64::from(grace)),
            );
        }
    }
    expire(rt);
    rt.control.poke_timer();
    // Wake accept loops held off by maxconn, so they notice the stop.
    rt.conn_released.notify_waiters();
}

/// Stops every proxy whose `grace` has ended (1.4 `maintain_proxies` while stopping):
/// `Proxy <name> stopped (FE: <n> conns, BE: <n> conns).`, then its listeners close.
pub fn expire(rt: &Runtime) {
    for i in rt.control.stop_due(Instant::now()) {
        let px = &rt.proxies[i];
        warn_and_log(
            rt,
            Some(i),
            &log::proxy_stopped_msg(
                px.name(),
                px.fe_counters.stot.load(Relaxed),
                px.be_counters.stot.load(Relaxed),
            ),
        );
    }
}

/// Pause (SIGTTOU, 1.4 `pause_proxies`): frontends stop listening so that a new process can
/// bind their ports; `Pausing <type> <name>.` for each. A frontend whose sockets cannot be
/// shut down is reported and the process soft-stops, as 1.4 does.
pub fn pause(rt: &Runtime) {
    let mut failed = false;
    for (i, px) in rt.proxies.iter().enumerate() {
        if !px.cfg.kind.has_fe() || rt.control.state(i) != ProxyState::Running {
            continue;
        }
        warn_and_log(rt, Some(i), &log::proxy_pausing_msg(px.cfg.kind, px.name()));
        if rt.control.pause_one(i) == Some(false) {
            failed = true;
            warn_and_log(
                rt,
                Some(i),
                &log::proxy_pause_failed_msg(px.cfg.kind, px.name()),
            );
        }
    }
    rt.control.changed.notify_waiters();
    rt.conn_released.notify_waiters();
    if failed {
        warn_and_log(rt, None, log::PAUSE_REFUSED_MSG);
        soft_stop(rt);
    }
}

/// Resume (SIGTTIN, 1.4 `listen_proxies`): paused frontends listen again
/// (`Enabling <type> <name>.`). If a port was taken meanwhile: `Port <n> busy while trying to
/// enable <type> <name>.` and the frontend stays paused.
pub fn resume(rt: &Runtime) {
    for (i, px) in rt.proxies.iter().enumerate() {
        if rt.control.state(i) != ProxyState::Paused {
            continue;
        }
        warn_and_log(
            rt,
            Some(i),
            &log::proxy_enabling_msg(px.cfg.kind, px.name()),
        );
        if let Some(Err(port)) = rt.control.resume_one(i) {
            warn_and_log(
                rt,
                Some(i),
                &log::port_busy_msg(port, px.cfg.kind, px.name()),
            );
        }
    }
    rt.control.changed.notify_waiters();
}

/// Immediate stop (SIGTERM, SIGINT): the pidfile goes if it is still ours, then the process
/// exits at once, dropping every stream, as 1.4 dies on these signals.
pub fn hard_stop(rt: &Runtime) -> ! {
    rt.control.remove_pidfile();
    std::process::exit(0)
}

/// SIGHUP's server state dump (1.4 `sig_dump_state`): one line per server and a summary per
/// proxy. Returns the lines with the index of their proxy; [`on_sighup`] prints and logs them.
pub fn dump_state(rt: &Runtime) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, px) in rt.proxies.iter().enumerate() {
        let name = px.name();
        let mut sum = log::ProxySummary {
            has_servers: !px.servers.is_empty(),
            feconn: px.feconn.load(Relaxed),
            beconn: px.beconn.load(Relaxed),
            unassigned: px.nbpend.load(Relaxed),
            total_pending: px.nbpend.load(Relaxed),
            cum_feconn: px.fe_counters.stot.load(Relaxed),
            cum_beconn: px.be_counters.stot.load(Relaxed),
            ..Default::default()
        };
        for s in &px.servers {
            let pend = s.nbpend.load(Relaxed);
            sum.total_pending += pend;
            out.push((
                i,
                log::sighup_server_msg(
                    name,
                    &s.cfg.name,
                    s.up.load(Relaxed) && !s.maint.load(Relaxed),
                    s.cur_sess.load(Relaxed),
                    pend,
                    s.counters.stot.load(Relaxed),
                ),
            ));
            if s.is_usable() {
                if s.cfg.backup {
                    sum.backup += 1;
                } else {
                    sum.active += 1;
                }
            }
        }
        out.push((i, log::sighup_proxy_summary_msg(name, &sum)));
    }
    out
}

/// SIGHUP's dump as 1.4 prints and logs it: a header on stderr, then for each proxy a
/// header sent to its syslog targets (not printed), and each of its lines both printed as a
/// warning and sent, all at `notice`.
pub fn on_sighup(rt: &Runtime) {
    log::stderr_warning(log::SIGHUP_STDERR_MSG);
    let mut last = None;
    for (i, line) in dump_state(rt) {
        let logger = &rt.proxies[i].logger;
        if last != Some(i) {
            last = Some(i);
            logger.send_str(
                log::Level::Notice,
                &log::sighup_proxy_header_msg(rt.proxies[i].name()),
            );
        }
        log::send_and_warn(logger, log::Level::Notice, &line);
    }
}

/// SIGQUIT's summary (1.4 `dump_pools`). Our buffer and pipe pools are per worker thread and
/// are not visible from here, so this reports what the process as a whole knows: streams and
/// peak memory. Then unused heap memory goes back to the system, as 1.4's `pool_gc2` does.
pub fn dump_pools(rt: &Runtime) -> String {
    let maxrss_kb = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .map(|u| u.max_rss())
        .unwrap_or(0);
    let streams = rt.actconn.load(Relaxed);
    let mut s = String::from("Dumping pools usage.\n");
    s.push_str(&format!(
        "  - Streams : {} active, {} accepted since start\n",
        streams,
        rt.cum_conn.load(Relaxed)
    ));
    s.push_str(&format!(
        "  - Buffers : {} bytes each, taken per stream only while data is in flight\n",
        rt.global.bufsize
    ));
    s.push_str(&format!(
        "Total: {} proxies, {} active streams, {} kB peak resident memory.\n",
        rt.proxies.len(),
        streams,
        maxrss_kb
    ));
    // No trim here: the binary's allocator (jemalloc, see src/main.rs) returns unused
    // pages to the system by itself as they age.
    s
}

/// Dispatches one signal (called by the signal thread).
pub fn on_signal(rt: &Runtime, sig: i32) {
    use signal_hook::consts::signal::*;
    match sig {
        SIGUSR1 => soft_stop(rt),
        SIGTTOU => pause(rt),
        SIGTTIN => resume(rt),
        SIGHUP => on_sighup(rt),
        SIGQUIT => eprint!("{}", dump_pools(rt)),
        SIGTERM | SIGINT => hard_stop(rt),
        _ => {}
    }
}

/// Starts the thread that ends each proxy's `grace` on time during a soft stop.
pub fn spawn_timer(rt: Arc<Runtime>) -> std::io::Result<std::thread::JoinHandle<()>> {
    let (tx, rx) = mpsc::channel();
    let _ = rt.control.timer.set(tx);
    std::thread::Builder::new()
        .name("haproxide-ctl".into())
        .spawn(move || loop {
            let wait = rt
                .control
                .next_deadline()
                .map(|t| t.saturating_duration_since(Instant::now()));
            let res = match wait {
                Some(d) => rx.recv_timeout(d),
                None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            };
            if let Err(mpsc::RecvTimeoutError::Disconnected) = res {
                return;
            }
            expire(&rt);
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    #[test]
    fn state_roundtrip_and_unknown_index() {
        for s in [ProxyState::Running, ProxyState::Paused, ProxyState::Stopped] {
            assert_eq!(ProxyState::from_u8(s.to_u8()), s);
        }
        let c = Control::new(&[]);
        assert_eq!(c.state(3), ProxyState::Stopped);
        assert!(c.next_deadline().is_none());
        assert!(c.sockets_for_handover().is_empty());
        assert!(!c.shared.load(SeqCst));
    }

    /// A control for one frontend (index 0) and a disabled proxy (index 1), holding a real
    /// listening socket for the frontend. Returns the worker's copy of the socket too.
    fn one_frontend() -> (Control, TcpListener, SocketAddr) {
        let c = Control::with_disabled(&[false, true]);
        // Bound to an explicit port, as `bind` lines are: the kernel then keeps the port
        // across shutdown() (a socket bound to port 0 would get a new one on listen()).
        let sock = (0..20)
            .find_map(|_| {
                let port = TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .ok()?
                    .port();
                TcpListener::bind(("127.0.0.1", port)).ok()
            })
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let worker_copy = sock.try_clone().unwrap();
        let l = Listener {
            proxy: 0,
            luid: 1,
            name: None,
            addr,
            socket: sock,
            exact_addr: true,
        };
        c.hold_listeners(&[], &[l]);
        (c, worker_copy, addr)
    }

    fn refused(addr: SocketAddr) -> bool {
        TcpStream::connect(addr).is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
    }

    #[test]
    fn pause_releases_the_port_and_resume_takes_it_back() {
        let (c, worker, addr) = one_frontend();
        assert_eq!(
            c.state(1),
            ProxyState::Stopped,
            "disabled proxies start stopped"
        );
        assert_eq!(c.pause_one(1), None);
        assert!(TcpStream::connect(addr).is_ok());
        let e0 = c.epoch(0);
        assert_eq!(c.pause_one(0), Some(true));
        assert_eq!(c.state(0), ProxyState::Paused);
        assert_eq!(
            c.epoch(0),
            e0 + 1,
            "a pause makes worker registrations stale"
        );
        assert!(refused(addr), "a paused socket must not take connections");
        assert_eq!(c.pause_one(0), None, "already paused");
        assert_eq!(c.resume_one(0), Some(Ok(())));
        assert_eq!(c.state(0), ProxyState::Running);
        assert_eq!(c.resume_one(0), None);
        // The same socket (the worker's copy) accepts again.
        let _client = TcpStream::connect(addr).unwrap();
        worker.set_nonblocking(false).unwrap();
        assert!(worker.accept().is_ok());
    }

    #[test]
    fn resume_reports_a_port_taken_meanwhile() {
        let (c, _worker, addr) = one_frontend();
        assert_eq!(c.pause_one(0), Some(true));
        // The port is free for another process while we are paused.
        let _other = std::net::TcpListener::bind(addr).unwrap();
        assert_eq!(c.resume_one(0), Some(Err(addr.port())));
        assert_eq!(c.state(0), ProxyState::Paused);
    }

    #[test]
    fn shared_sockets_are_not_shut_down_by_a_pause() {
        let (c, _worker, addr) = one_frontend();
        let handed = c.sockets_for_handover();
        assert_eq!(handed.len(), 1);
        assert_eq!(handed[0].0, addr);
        assert!(c.shared.load(SeqCst));
        assert_eq!(c.pause_one(0), Some(true));
        assert_eq!(c.state(0), ProxyState::Paused);
        // The newer process still gets its connections.
        assert!(TcpStream::connect(addr).is_ok());
        assert_eq!(c.resume_one(0), Some(Ok(())));
    }

    #[test]
    fn grace_deadlines_stop_proxies_and_close_our_copies() {
        let (c, worker, addr) = one_frontend();
        let now = Instant::now();
        assert!(
            !c.begin_stop(1, now),
            "a disabled proxy does not stop again"
        );
        assert!(c.begin_stop(0, now + Duration::from_secs(60)));
        assert_eq!(c.next_deadline(), Some(now + Duration::from_secs(60)));
        assert!(c.stop_due(now).is_empty(), "still in its grace period");
        assert_eq!(c.state(0), ProxyState::Running);
        assert_eq!(c.sockets_for_handover().len(), 1);
        assert_eq!(c.stop_due(now + Duration::from_secs(61)), vec![0]);
        assert_eq!(c.state(0), ProxyState::Stopped);
        assert!(c.next_deadline().is_none());
        assert!(c.sockets_for_handover().is_empty());
        // Our copy is closed; the worker's copy keeps the socket until it closes it too.
        assert!(TcpStream::connect(addr).is_ok());
        drop(worker);
        assert!(refused(addr));
        assert!(c.stop_due(now + Duration::from_secs(62)).is_empty());
    }
}
