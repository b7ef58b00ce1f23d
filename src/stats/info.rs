//! Process information: the stats socket's `show info` and the "General process
//! information" block of the HTML page. Compare with 1.4 `src/dumpstats.c`
//! `stats_dump_raw_to_buffer` (`STAT_SHOW_INFO`) and `stats_dump_http` (`DATA_ST_INFO`).
//!
//! Values haproxide has no exact equivalent for: `Memmax_MB` is 0 (no `-m`), `Maxpipes` is
//! the configured `maxpipes` (0 by default) with no pipe in use, `Tasks` counts live client
//! connections plus health-check tasks plus the CLI task itself, and `Run_queue` is 1 (the
//! task answering), as 1.4 typically shows while it prints. `Version` is 1.4's release
//! number alone: tools read it (hatop lays it out in 13 columns, scripts compare it), and the
//! HTML heading names haproxide.

use crate::runtime::Runtime;
use std::sync::atomic::Ordering::Relaxed;

/// The process figures both outputs print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    pub nbproc: u32,
    pub process_num: u32,
    pub pid: u32,
    pub uptime_s: u64,
    pub memmax_mb: u64,
    pub ulimit_n: u64,
    pub maxsock: u64,
    pub maxconn: u64,
    pub maxpipes: u64,
    pub curr_conns: u64,
    pub pipes_used: u64,
    pub pipes_free: u64,
    pub tasks: u64,
    pub run_queue: u64,
    pub node: String,
    pub description: String,
}

impl ProcessInfo {
    /// Reads the figures from the runtime now.
    pub fn collect(rt: &Runtime) -> ProcessInfo {
        let g = &rt.global;
        let maxpipes = rt
            .config
            .global
            .maxpipes
            .as_ref()
            .map(|m| u64::from(m.node))
            .unwrap_or(0);
        // 1.4: one socket per listener, two per connection and per pipe, one for the
        // stats socket; `ulimit-n` defaults to that.
        let listeners: u64 = rt
            .proxies
            .iter()
            .filter(|p| p.cfg.kind.has_fe())
            .map(|p| p.cfg.binds.len() as u64)
            .sum();
        let stats_sock = u64::from(rt.config.global.stats_socket.is_some());
        let maxconn = u64::from(g.maxconn);
        let maxsock = listeners + stats_sock + 2 * maxconn + 2 * maxpipes;
        let ulimit_n = if g.ulimit_n > 0 {
            u64::from(g.ulimit_n)
        } else {
            maxsock
        };
        let checks: u64 = rt
            .proxies
            .iter()
            .map(|p| p.servers.iter().filter(|s| s.check.is_checked()).count() as u64)
            .sum();
        let curr_conns = u64::from(rt.actconn.load(Relaxed));
        ProcessInfo {
            nbproc: g.nbproc,
            process_num: super::RELATIVE_PID,
            pid: std::process::id(),
            uptime_s: rt.started.elapsed().as_secs(),
            memmax_mb: 0,
            ulimit_n,
            maxsock,
            maxconn,
            maxpipes,
            curr_conns,
            pipes_used: 0,
            pipes_free: 0,
            tasks: curr_conns + checks + 1,
            run_queue: 1,
            node: g.node.clone(),
            description: g.description.clone().unwrap_or_default(),
        }
    }
}

/// 1.4's uptime format: `%dd %dh%02dm%02ds` (`0d 1h02m03s`).
pub fn uptime_text(up: u64) -> String {
    format!(
        "{}d {}h{:02}m{:02}s",
        up / 86400,
        (up % 86400) / 3600,
        (up % 3600) / 60,
        up % 60
    )
}

/// `show info`: one `Key: value` per line, in 1.4's order.
pub fn show_info(p: &ProcessInfo, out: &mut String) {
    use std::fmt::Write;
    let _ = write!(
        out,
        "Name: {}\nVersion: {}\nRelease_date: {}\nNbproc: {}\nProcess_num: {}\nPid: {}\n\
         Uptime: {}\nUptime_sec: {}\nMemmax_MB: {}\nUlimit-n: {}\nMaxsock: {}\nMaxconn: {}\n\
         Maxpipes: {}\nCurrConns: {}\nPipesUsed: {}\nPipesFree: {}\nTasks: {}\nRun_queue: {}\n\
         node: {}\ndescription: {}\n",
        super::PRODUCT_NAME,
        crate::cli::COMPAT_VERSION,
        crate::cli::RELEASE_DATE,
        p.nbproc,
        p.process_num,
        p.pid,
        uptime_text(p.uptime_s),
        p.uptime_s,
        p.memmax_mb,
        p.ulimit_n,
        p.maxsock,
        p.maxconn,
        p.maxpipes,
        p.curr_conns,
        p.pipes_used,
        p.pipes_free,
        p.tasks,
        p.run_queue,
        p.node,
        p.description,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_format_is_1_4() {
        assert_eq!(uptime_text(0), "0d 0h00m00s");
        assert_eq!(uptime_text(3723), "0d 1h02m03s");
        assert_eq!(uptime_text(2 * 86400 + 5), "2d 0h00m05s");
    }

    #[test]
    fn show_info_fields_in_order() {
        let rt = crate::check::test_support::runtime(Vec::new());
        let p = ProcessInfo::collect(&rt);
        let mut out = String::new();
        show_info(&p, &mut out);
        let keys: Vec<&str> = out
            .lines()
            .map(|l| l.split_once(": ").map(|(k, _)| k).unwrap_or(l))
            .collect();
        assert_eq!(
            keys,
            vec![
                "Name",
                "Version",
                "Release_date",
                "Nbproc",
                "Process_num",
                "Pid",
                "Uptime",
                "Uptime_sec",
                "Memmax_MB",
                "Ulimit-n",
                "Maxsock",
                "Maxconn",
                "Maxpipes",
                "CurrConns",
                "PipesUsed",
                "PipesFree",
                "Tasks",
                "Run_queue",
                "node",
                "description"
            ]
        );
        assert!(out.starts_with("Name: HAProxy\nVersion: 1.4.25\nRelease_date: 2014/03/27\n"));
        assert!(out.contains("\nnode: node1\n"));
        assert!(out.contains("\nMaxconn: 2000\n"));
        assert!(out.ends_with("description: \n"));
    }
}
