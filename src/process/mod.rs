//! Process management, in 1.4's startup order (`src/haproxy.c` `init` and `main`). Everything
//! before serving is synchronous; tokio and every helper thread start only after the last
//! fork. The steps, numbered as [`serve`] runs them:
//!
//! 1. parse the files, `-c` stops here ([`run`]);
//! 2. work out the modes (daemon, foreground, quiet, verbose, debug) as 1.4 does;
//! 3. block the signals we handle, raise `ulimit-n`, apply `-m`;
//! 4. take over the listening sockets of the `-sf/-st` pids (`reload.rs`);
//! 5. bind the rest, pausing the old pids with SIGTTOU while a port is busy;
//! 6. quiet mode detaches stdio; a daemon opens its pidfile;
//! 7. chroot;
//! 8. daemon: fork; the parent waits for the child to serve, writes the pidfile, signals
//!    the old pids and exits. Foreground: signal the old pids now (before setuid, as 1.4);
//! 9. setgid/setuid;
//! 10. start the signal, timer and handover threads, then the workers; a daemon detaches
//!     stdio and reports that it serves;
//! 11. wait for the workers (they end after a soft stop), remove the pidfile, exit 0.
//!
//! Submodules: `daemon` (fork), `pidfile`, `privs` (chroot, ids, limits), `signals`,
//! `control` (soft stop, pause, resume, dumps) and `reload` (listener handover, `-sf/-st`).

pub mod control;
pub mod daemon;
pub mod pidfile;
pub mod privs;
pub mod reload;
pub mod signals;

use crate::cli::{self, Args};
use crate::runtime::{GlobalSettings, Runtime};
use parser::ir::Config;
use parser::LoadOptions;
use std::sync::Arc;

/// Runs the program for parsed arguments; returns the exit status.
pub fn run(args: Args) -> i32 {
    let opts = LoadOptions {
        default_maxconn: args.default_maxconn.unwrap_or(2000),
        ..LoadOptions::default()
    };
    let loaded = parser::load_files(&args.files, &opts);
    let quiet = (args.quiet
        || loaded
            .config
            .as_ref()
            .is_some_and(|c| c.global.quiet.is_some()))
        && !args.verbose;
    cli::print_report(&loaded.report, quiet);
    let Some(config) = loaded.config else {
        return 1;
    };
    // Keywords the runtime does not execute: a warning when they only tune, an alert (and no
    // start) when they would change how traffic is handled (src/support.rs).
    let support = crate::support::check(&config);
    cli::print_report(&support, quiet);
    if support.has_alerts() {
        return 1;
    }
    if args.check {
        if !quiet {
            println!("Configuration file is valid");
        }
        return 0;
    }
    serve(config, &args)
}

/// Process-wide settings from `global` and the command line.
pub fn global_settings(config: &Config, args: &Args) -> GlobalSettings {
    let g = &config.global;
    let bufsize = g
        .tune
        .bufsize
        .as_ref()
        .map(|b| b.node as usize)
        .unwrap_or(crate::buffer::DEFAULT_BUFSIZE);
    let maxrewrite = g
        .tune
        .maxrewrite
        .as_ref()
        .map(|m| (m.node as usize).min(bufsize / 2))
        .unwrap_or(crate::buffer::DEFAULT_MAXREWRITE.min(bufsize / 2));
    let maxconn = args
        .maxconn
        .or(g.maxconn.as_ref().map(|m| m.node))
        .unwrap_or(crate::runtime::DEFAULT_MAXCONN);
    GlobalSettings {
        maxconn,
        bufsize,
        maxrewrite,
        node: g
            .node
            .as_ref()
            .map(|n| n.node.clone())
            .unwrap_or_else(hostname),
        description: g.description.as_ref().map(|d| d.node.clone()),
        nbproc: g.nbproc.as_ref().map(|n| n.node).unwrap_or(1),
        spread_checks: g.spread_checks.as_ref().map(|s| s.node).unwrap_or(0),
        splice: !args.disable_splice && g.nosplice.is_none(),
        ulimit_n: g.ulimit_n.as_ref().map(|u| u.node).unwrap_or(0),
        pidfile: args
            .pidfile
            .clone()
            .or(g.pidfile.as_ref().map(|p| p.node.clone())),
        sockbuf: crate::runtime::SockBufs {
            rcv_client: g.tune.rcvbuf_client.as_ref().map(|v| v.node),
            snd_client: g.tune.sndbuf_client.as_ref().map(|v| v.node),
            rcv_server: g.tune.rcvbuf_server.as_ref().map(|v| v.node),
            snd_server: g.tune.sndbuf_server.as_ref().map(|v| v.node),
        },
    }
}

/// The machine's host name (1.4's default `node`).
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default()
}

/// Number of worker threads: one per CPU, or `HAPROXIDE_WORKERS` when set to a positive
/// number (1.4 has no thread setting; the benchmarks use it to compare with HAProxy 2.6's
/// `nbthread` at equal thread counts).
fn worker_count() -> usize {
    workers_from(std::env::var("HAPROXIDE_WORKERS").ok().as_deref()).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

/// The `HAPROXIDE_WORKERS` value, when it is a positive number.
fn workers_from(v: Option<&str>) -> Option<usize> {
    v?.trim().parse::<usize>().ok().filter(|&n| n > 0)
}

/// How the process runs, from `global` and the command line (1.4 `init`, `global.mode`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Modes {
    pub daemon: bool,
    /// `-d` or `debug`: foreground with debug output.
    pub debug: bool,
    /// `-db`: foreground.
    pub foreground: bool,
    pub quiet: bool,
    pub verbose: bool,
    /// Processes 1.4 would start (we always run one, see `docs/compatibility.md`).
    pub nbproc: u32,
}

impl Modes {
    /// Combines the configuration and the command line as 1.4 does: `-d`/`-db` cancel
    /// `daemon` and `quiet` from the file, `-D` cancels debug and foreground, debug wins over
    /// daemon and quiet with a warning, and nbproc > 1 needs daemon mode. Returns the modes
    /// and the warnings to print.
    pub fn new(config: &Config, args: &Args) -> (Modes, Vec<String>) {
        let g = &config.global;
        let mut warnings = Vec::new();
        let mut m = Modes {
            daemon: g.daemon.is_some(),
            debug: g.debug.is_some(),
            foreground: false,
            quiet: g.quiet.is_some(),
            verbose: false,
            nbproc: g.nbproc.as_ref().map(|n| n.node).unwrap_or(1),
        };
        if args.debug || args.foreground {
            m.daemon = false;
            m.quiet = false;
            m.debug |= args.debug;
            m.foreground |= args.foreground;
        }
        if args.daemon {
            m.debug = false;
            m.foreground = false;
            m.daemon = true;
        }
        m.quiet |= args.quiet;
        m.verbose |= args.verbose;
        if m.debug && (m.daemon || m.quiet) {
            warnings.push(
                "<debug> mode incompatible with <quiet> and <daemon>. Keeping <debug> only."
                    .to_string(),
            );
            m.daemon = false;
            m.quiet = false;
        }
        if m.nbproc > 1 && !m.daemon {
            if !m.foreground && !m.debug {
                warnings.push(
                    "<nbproc> is only meaningful in daemon mode. Setting limit to 1 process."
                        .to_string(),
                );
            }
            m.nbproc = 1;
        }
        m.nbproc = m.nbproc.max(1);
        (m, warnings)
    }

    /// Startup messages are shown unless quiet (and not verbose), as 1.4's `Warning()`.
    pub fn shows_warnings(&self) -> bool {
        !self.quiet || self.verbose
    }
}

/// argv[0] as typed, for 1.4's `[<argv0>.main()]` message prefix.
fn argv0() -> String {
    std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "haproxide".into())
}

/// Binds, drops privileges, forks if asked, starts the workers and serves until stopped.
fn serve(config: Config, args: &Args) -> i32 {
    let argv0 = argv0();
    // 2. Modes.
    let (modes, mode_warnings) = Modes::new(&config, args);
    let warn = |text: &str| {
        if modes.shows_warnings() {
            cli::warning(text)
        }
    };
    for w in &mode_warnings {
        warn(w);
    }
    // Messages of the running process (server state changes, `no server available` alerts)
    // reach stderr through the `log` crate, as 1.4's Warning()/Alert(): not in quiet mode,
    // unless RUST_LOG asks for them.
    if modes.shows_warnings() || std::env::var_os("RUST_LOG").is_some() {
        crate::log::init_stderr_logging(modes.debug);
    }
    let global = global_settings(&config, args);
    let workers = worker_count();
    if modes.nbproc > 1 {
        warn(&format!(
            "nbproc {}: haproxide runs one process with {} worker threads instead of {} processes; the pidfile holds its one pid.",
            modes.nbproc, workers, modes.nbproc
        ));
    }

    // 3. Signals wait until the signal thread runs; limits before binding, as 1.4.
    if let Err(e) = signals::block() {
        cli::alert(&format!("[{argv0}.main()] Cannot block signals: {e}."));
        return 1;
    }
    let nlisteners: usize = config
        .proxies
        .iter()
        .filter(|p| p.kind.has_fe() && p.disabled.is_none())
        .flat_map(|p| p.binds.iter())
        .map(|b| usize::from(b.port_hi.saturating_sub(b.port_lo)) + 1)
        .sum();
    let maxsock = privs::maxsock(&config, &global, nlisteners, workers);
    let want_nofile = if global.ulimit_n > 0 {
        u64::from(global.ulimit_n)
    } else {
        maxsock
    };
    if let Some(w) = privs::raise_nofile(want_nofile, &argv0) {
        warn(&w);
    }
    if let Some(mb) = args.mem_limit_mb.filter(|&m| m > 0) {
        if let Some(w) = privs::limit_memory(mb, modes.nbproc, &argv0) {
            warn(&w);
        }
    }
    if modes.verbose || modes.debug {
        println!("Using epoll() as the polling mechanism.");
    }

    // 4-5. Take over the old processes' sockets, bind the rest.
    let mut old = reload::OldPids::new(&args.finish_pids, &args.terminate_pids);
    let (mut inherited, handover_errors) = reload::fetch(&old.pids());
    if modes.verbose {
        for e in &handover_errors {
            cli::warning(&e.to_string());
        }
    }
    let listeners = match reload::bind_with_retry(&config.proxies, &mut inherited, &mut old) {
        Ok(l) => l,
        Err(errors) => {
            for (who, e) in errors {
                cli::alert(&format!("Starting {who}: {e}"));
            }
            old.resume_if_paused();
            return 1;
        }
    };
    // Sockets offered by the old process that no `bind` wants any more.
    drop(inherited);
    if listeners.is_empty() {
        cli::alert(&format!(
            "[{argv0}.main()] No enabled listener found (check the <listen> keywords) ! Exiting."
        ));
        old.resume_if_paused();
        return 1;
    }
    let privs = privs::Privs::from_config(&config);
    let rt = match Runtime::build(config, global) {
        Ok(mut rt) => {
            rt.debug = modes.debug;
            Arc::new(rt)
        }
        Err(e) => {
            cli::alert(&e.to_string());
            old.resume_if_paused();
            return 1;
        }
    };
    rt.control.hold_listeners(&rt.config.proxies, &listeners);
    // The stats socket is a listener as well: bound with its owner and mode now, before
    // chroot and the privilege drop (1.4 binds every listener first); served later.
    let stats_socket = match crate::stats::socket::bind(&rt) {
        Ok(l) => l,
        Err(e) => {
            cli::alert(&format!("Starting frontend GLOBAL: {e}"));
            old.resume_if_paused();
            return 1;
        }
    };
    crate::log::send_proxies_started(&rt);

    // 6. Quiet mode leaves the terminal now; the pidfile is opened before any chroot.
    let dev_null = match daemon::DevNull::open() {
        Ok(d) => Some(d),
        Err(e) => {
            warn(&format!("[{argv0}.main()] Cannot open /dev/null: {e}."));
            None
        }
    };
    if modes.quiet && !modes.verbose {
        if let Some(d) = &dev_null {
            d.detach_stdio();
        }
    }
    // As 1.4, only a daemon writes a pidfile: a foreground run (a debugging session beside
    // the service, or under a supervisor) must not take over the service's file.
    let pidfile_path = rt.global.pidfile.as_ref().filter(|_| modes.daemon);
    let mut pidfile = match pidfile_path {
        Some(path) => match pidfile::Pidfile::create(path) {
            Ok(p) => Some(p),
            Err(_) => {
                cli::alert(&format!(
                    "[{argv0}.main()] Cannot create pidfile {}",
                    path.display()
                ));
                old.resume_if_paused();
                return 1;
            }
        },
        None => None,
    };
    if let Some(w) = privs::root_warning(&privs, &argv0) {
        warn(&w);
    }

    // The local time zone is read once, before chroot hides /etc/localtime.
    crate::log::init_local_timezone();

    // 7. chroot.
    if let Some(dir) = &privs.chroot {
        if let Err(e) = privs::enter_chroot(dir) {
            cli::alert(&format!("[{argv0}.main()] {e}"));
            give_up(pidfile, &old);
            return 1;
        }
    }

    // 8. Fork, or tell the old processes now.
    let mut ready = None;
    if modes.daemon {
        match daemon::fork() {
            Ok(daemon::Forked::Parent { child, ready }) => {
                return finish_parent(child, ready, pidfile, &old);
            }
            Ok(daemon::Forked::Child { ready: r }) => {
                ready = Some(r);
                // The loggers were built before the fork: from now on packets carry our pid.
                for px in &rt.proxies {
                    px.logger.set_pid(std::process::id());
                }
            }
            Err(e) => {
                cli::alert(&format!("[{argv0}.main()] {e}"));
                give_up(pidfile, &old);
                return 1;
            }
        }
        if let Some(p) = pidfile.as_mut() {
            p.close();
        }
        // Chrooted, the pidfile's directory must not stay open: a directory descriptor
        // outside the jail lets the process fchdir() out of it. The file is then left in
        // place at exit, as 1.4 always leaves it.
        if privs.chroot.is_some() {
            pidfile = None;
        }
    } else {
        old.finish();
    }

    // 9. Drop privileges.
    match privs::drop_privileges(&privs) {
        Ok(warnings) => warnings
            .iter()
            .for_each(|w| warn(&format!("[{argv0}.main()] {w}"))),
        Err(e) => {
            cli::alert(&format!("[{argv0}.main()] {e}"));
            // The daemon's parent cleans up when it sees us fail.
            if !modes.daemon {
                give_up(pidfile, &old);
            }
            return 1;
        }
    }
    if let Some(w) = privs::check_nofile(rt.global.maxconn, maxsock, &argv0) {
        warn(&w);
    }
    if let Some(p) = pidfile {
        rt.control.set_pidfile(p);
    }

    // 10. Threads: signals, grace timer, handover, then the workers.
    if let Err(e) = signals::spawn(rt.clone()).and_then(|_| control::spawn_timer(rt.clone())) {
        cli::alert(&format!(
            "[{argv0}.main()] cannot start control threads: {e}"
        ));
        return 1;
    }
    let _handover = reload::serve(rt.clone());
    let control = match start_checks(rt.clone(), stats_socket) {
        Ok(h) => h,
        Err(e) => {
            cli::alert(&format!(
                "[{argv0}.main()] cannot start the health-check thread: {e}"
            ));
            return 1;
        }
    };
    let handles = match crate::worker::start(rt.clone(), &listeners, workers) {
        Ok(h) => h,
        Err(e) => {
            cli::alert(&format!("cannot start worker threads: {e}"));
            return 1;
        }
    };
    drop(listeners);
    if let Some(r) = ready {
        if let Some(d) = &dev_null {
            d.detach_stdio();
        }
        r.notify();
    }

    // 11. Serve until the workers end (soft stop), then leave.
    for h in handles {
        let _ = h.join();
    }
    rt.begin_stopping();
    let _ = control.join();
    rt.control.remove_pidfile();
    0
}

/// The daemon's parent: waits until the child serves, writes its pid to the pidfile, tells
/// the old processes to go, and exits 0. If the child failed, the old processes are resumed
/// if we had paused them, and the exit status is 1.
fn finish_parent(
    child: u32,
    ready: daemon::ReadyWait,
    pidfile: Option<pidfile::Pidfile>,
    old: &reload::OldPids,
) -> i32 {
    if !ready.wait() {
        give_up(pidfile, old);
        return 1;
    }
    if let Some(mut p) = pidfile {
        if let Err(e) = p.write_pids(&[child]) {
            cli::alert(&format!("Cannot write pidfile {}: {e}", p.path().display()));
        }
    }
    old.finish();
    0
}

/// Startup failed after the pidfile was created: put the old processes' pids back (they
/// keep serving, and an init script must still find them) or remove the empty file, and
/// resume the old processes if we had paused them.
fn give_up(pidfile: Option<pidfile::Pidfile>, old: &reload::OldPids) {
    if let Some(mut p) = pidfile {
        if old.is_empty() {
            p.remove();
        } else {
            let _ = p.write_pids(&old.pids());
        }
    }
    old.resume_if_paused();
}

/// The health-check thread: checks (and the stats socket bound before, if any) run on its
/// own single-threaded runtime, away from the workers' data path, until a stop.
fn start_checks(
    rt: Arc<Runtime>,
    stats_socket: Option<std::os::unix::net::UnixListener>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("haproxide-chk".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    cli::alert(&format!("cannot start the health-check runtime: {e}"));
                    return;
                }
            };
            runtime.block_on(async move {
                let ident = crate::runtime::log_ident(&rt.config);
                let checks = crate::check::start(rt.clone(), &ident);
                if let Some(l) = stats_socket {
                    tokio::spawn(crate::stats::socket::serve(rt.clone(), l));
                }
                rt.until_stopping().await;
                checks.shutdown().await;
            });
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use parser::span::{Span, Spanned};

    #[test]
    fn workers_env_takes_positive_numbers_only() {
        assert_eq!(workers_from(Some("2")), Some(2));
        assert_eq!(workers_from(Some(" 1 ")), Some(1));
        assert_eq!(workers_from(Some("0")), None);
        assert_eq!(workers_from(Some("two")), None);
        assert_eq!(workers_from(None), None);
    }

    fn sp<T>(v: T) -> Spanned<T> {
        Spanned::new(Span::builtin(), v)
    }

    fn modes(cfg: impl Fn(&mut Config), argv: &str) -> (Modes, Vec<String>) {
        let mut c = Config::default();
        cfg(&mut c);
        let args = cli::parse_args(
            format!("-f x.cfg {argv}")
                .split_whitespace()
                .map(std::ffi::OsString::from),
        )
        .unwrap();
        Modes::new(&c, &args)
    }

    #[test]
    fn command_line_overrides_global_as_in_1_4() {
        let daemon = |c: &mut Config| c.global.daemon = Some(Span::builtin());
        // `daemon` in the file, nothing on the command line.
        let (m, w) = modes(daemon, "");
        assert!(m.daemon && !m.debug && w.is_empty());
        // -db cancels the file's daemon (and quiet).
        let (m, _) = modes(
            |c| {
                daemon(c);
                c.global.quiet = Some(Span::builtin());
            },
            "-db",
        );
        assert!(!m.daemon && m.foreground && !m.quiet);
        // -D cancels the file's debug.
        let (m, w) = modes(|c| c.global.debug = Some(Span::builtin()), "-D");
        assert!(m.daemon && !m.debug && w.is_empty());
        // debug in the file plus quiet on the command line: debug wins, with 1.4's warning.
        let (m, w) = modes(|c| c.global.debug = Some(Span::builtin()), "-q");
        assert!(m.debug && !m.quiet && !m.daemon);
        assert_eq!(
            w,
            vec!["<debug> mode incompatible with <quiet> and <daemon>. Keeping <debug> only."]
        );
        // -V shows warnings even when quiet.
        let (m, _) = modes(|_| {}, "-q -V");
        assert!(m.quiet && m.verbose && m.shows_warnings());
        let (m, _) = modes(|_| {}, "-q");
        assert!(!m.shows_warnings());
    }

    #[test]
    fn nbproc_needs_daemon() {
        let nb = |c: &mut Config| c.global.nbproc = Some(sp(4));
        let (m, w) = modes(nb, "");
        assert_eq!(m.nbproc, 1);
        assert_eq!(
            w,
            vec!["<nbproc> is only meaningful in daemon mode. Setting limit to 1 process."]
        );
        // Foreground on purpose: silently one process.
        let (m, w) = modes(nb, "-db");
        assert_eq!((m.nbproc, w.len()), (1, 0));
        let (m, w) = modes(nb, "-D");
        assert_eq!((m.nbproc, w.len()), (4, 0));
    }
}
