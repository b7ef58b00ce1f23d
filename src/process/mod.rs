//! Process management, in 1.4's startup order (`src/haproxy.c` `main`): parse, `-c`, bind,
//! pidfile, chroot, signal old pids, setgid/setuid, fork, then the runtime. Everything before
//! serving is synchronous; tokio starts only after the last fork.

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
    }
}

/// The machine's host name (1.4's default `node`).
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default()
}

/// Number of worker threads: one per CPU.
fn worker_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Binds, starts the workers and serves until stopped.
fn serve(config: Config, args: &Args) -> i32 {
    let global = global_settings(&config, args);
    let mut inherited = Vec::new();
    let listeners = match crate::listener::bind_all(&config.proxies, &mut inherited) {
        Ok(l) => l,
        Err(errors) => {
            for (who, e) in errors {
                cli::alert(&format!("Starting {who}: {e}"));
            }
            return 1;
        }
    };
    let rt = match Runtime::build(config, global) {
        Ok(rt) => Arc::new(rt),
        Err(e) => {
            cli::alert(&e.to_string());
            return 1;
        }
    };
    crate::log::send_proxies_started(&rt);
    let control = match start_control(rt.clone()) {
        Ok(h) => h,
        Err(e) => {
            cli::alert(&format!("cannot start control thread: {e}"));
            return 1;
        }
    };
    let handles = match crate::worker::start(rt, &listeners, worker_count()) {
        Ok(h) => h,
        Err(e) => {
            cli::alert(&format!("cannot start worker threads: {e}"));
            return 1;
        }
    };
    drop(listeners);
    for h in handles {
        let _ = h.join();
    }
    let _ = control.join();
    0
}

/// The control thread: health checks (and, later, signals and the stats socket) run on its
/// own single-threaded runtime, away from the workers' data path.
fn start_control(rt: Arc<Runtime>) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("haproxide-ctl".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    cli::alert(&format!("cannot start control runtime: {e}"));
                    return;
                }
            };
            runtime.block_on(async move {
                let ident = crate::runtime::log_ident(&rt.config);
                let checks = crate::check::start(rt.clone(), &ident);
                while !rt.stopping.load(std::sync::atomic::Ordering::Relaxed) {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                checks.shutdown().await;
            });
        })
}
