//! `haproxide-demo-backend <addr> <name> [<addr> <name>]...`: the demo origin servers of
//! `make demo` (see `haproxide::demo`). Runs until killed.
use haproxide::demo::{serve, DemoConfig, DemoStats};
use std::sync::Arc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.len() % 2 != 0 {
        eprintln!("usage: haproxide-demo-backend <addr:port> <name> [<addr:port> <name>]...");
        std::process::exit(1);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start runtime: {e}");
            std::process::exit(1);
        }
    };
    rt.block_on(async move {
        let mut tasks = Vec::new();
        for pair in args.chunks(2) {
            let listener = match tokio::net::TcpListener::bind(&pair[0]).await {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("cannot listen on {}: {e}", pair[0]);
                    std::process::exit(1);
                }
            };
            let cfg = DemoConfig {
                name: pair[1].clone(),
                session_cookie: "9ai9".into(),
            };
            tasks.push(tokio::spawn(serve(
                listener,
                cfg,
                Arc::new(DemoStats::default()),
            )));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}
