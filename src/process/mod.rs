//! Process management, in 1.4's startup order (`src/haproxy.c` `main`): parse, `-c`, bind,
//! pidfile, chroot, signal old pids, setgid/setuid, fork, then the runtime. Everything before
//! serving is synchronous; tokio starts only after the last fork.

use crate::cli::{self, Args};
use parser::LoadOptions;

/// Runs the program for parsed arguments; returns the exit status.
pub fn run(args: Args) -> i32 {
    let opts = LoadOptions { default_maxconn: args.default_maxconn.unwrap_or(2000), ..LoadOptions::default() };
    let loaded = parser::load_files(&args.files, &opts);
    let quiet = (args.quiet || loaded.config.as_ref().is_some_and(|c| c.global.quiet.is_some())) && !args.verbose;
    cli::print_report(&loaded.report, quiet);
    let Some(_config) = loaded.config else {
        return 1;
    };
    if args.check {
        if !quiet {
            println!("Configuration file is valid");
        }
        return 0;
    }
    cli::alert("the proxy runtime is not built yet; only -c works in this version");
    1
}
