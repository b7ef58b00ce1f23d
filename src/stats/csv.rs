//! The CSV export: `;csv` on the stats URI and the stats socket's `show stat [<iid> <type>
//! <sid>]`. The first line is 1.4's header (`# pxname,svname,...,srv_abrt,`), then one line
//! per row, every field followed by a comma. Proxies come in configuration order, disabled
//! ones are skipped. Compare with 1.4 `src/dumpstats.c` `print_csv_header`,
//! `stats_dump_raw_to_buffer` and the CSV branch of `stats_dump_proxy`.

use super::row::{self, Bound, HEADER};
use crate::runtime::{Proxy, Runtime};

/// Appends the header line.
pub fn write_header(out: &mut String) {
    out.push_str("# ");
    for f in HEADER {
        out.push_str(f);
        out.push(',');
    }
    out.push('\n');
}

/// Appends the header and the rows of every listed proxy accepted by `scope`
/// (`stats scope` on the HTTP page; `None` on the socket), restricted by `bound`.
pub fn write_all(
    rt: &Runtime,
    scope: Option<&dyn Fn(&Proxy) -> bool>,
    bound: Option<Bound>,
    hide_down: bool,
    out: &mut String,
) {
    write_header(out);
    for px in &rt.proxies {
        if !super::is_listed(px) {
            continue;
        }
        if let Some(f) = scope {
            if !f(px) {
                continue;
            }
        }
        for r in row::proxy_rows(rt, px, bound, hide_down) {
            r.write_csv(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::test_support::{backend, runtime, server};
    use std::sync::atomic::Ordering::Relaxed;

    fn tcp_listen(name: &str, servers: Vec<parser::ir::Server>) -> parser::ir::Proxy {
        let mut p = backend(name, servers);
        p.kind = parser::ir::ProxyKind::Listen;
        p
    }

    #[test]
    fn rows_follow_1_4_field_rules() {
        let mut s2 = server("s2", 2, 3);
        s2.check = false;
        s2.maxconn = 10;
        let rt = runtime(vec![tcp_listen("app", vec![server("s1", 2, 3), s2])]);
        let px = &rt.proxies[0];
        px.fe_counters.stot.store(7, Relaxed);
        px.servers[0].counters.chkdown.store(1, Relaxed);
        let mut out = String::new();
        write_all(&rt, None, None, false, &mut out);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 5, "{out}");
        assert!(lines[0].starts_with("# pxname,svname,"));
        for l in &lines {
            assert!(l.ends_with(','), "{l}");
            assert_eq!(l.matches(',').count(), 51, "{l}");
        }
        // FRONTEND: qcur/qmax empty, slim = maxconn, status OPEN, fields 18-25 empty, pid 1,
        // iid 1, sid 0, type 0, no hrsp in TCP mode, req_* filled, abrt empty.
        assert_eq!(
            lines[1],
            "app,FRONTEND,,,0,0,2000,7,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,1,0,,,,0,0,0,0,,,,,,,,,,,0,0,0,,,"
        );
        // Checked server, before its first check: health = rise, so `UP 1/3` as 1.4 shows
        // it; weight 1, act 1, bck 0, check fields filled.
        let f: Vec<&str> = lines[2].split(',').collect();
        assert_eq!(f[1], "s1");
        assert_eq!(f[6], "");
        assert_eq!(f[17], "UP 1/3");
        assert_eq!(&f[18..=22], &["1", "1", "0", "0", "1"]);
        assert_eq!(f[28], "1");
        assert_eq!(f[32], "2");
        assert_eq!(f[36], "INI");
        assert_eq!(&f[37..=38], &["", ""]);
        // Unchecked server: `no check`, empty check fields, slim = maxconn.
        let f: Vec<&str> = lines[3].split(',').collect();
        assert_eq!(f[1], "s2");
        assert_eq!(f[6], "10");
        assert_eq!(f[17], "no check");
        assert_eq!(&f[21..=24], &["", "", "", ""]);
        assert_eq!(&f[36..=38], &["", "", ""]);
        // BACKEND: slim = fullconn, status UP, weight = total, act = 2, chkfail empty.
        let f: Vec<&str> = lines[4].split(',').collect();
        assert_eq!(f[1], "BACKEND");
        assert_eq!(f[6], "2000");
        assert_eq!(f[17], "UP");
        assert_eq!(&f[18..=20], &["2", "2", "0"]);
        assert_eq!(f[21], "");
        assert_eq!(f[32], "1");
    }

    #[test]
    fn bound_filters_kinds_and_ids() {
        let rt = runtime(vec![
            tcp_listen("a", vec![server("s1", 1, 1), server("s2", 1, 1)]),
            tcp_listen("b", vec![server("t1", 1, 1)]),
        ]);
        let mut out = String::new();
        let b = Bound {
            iid: 1,
            types: 4,
            sid: 2,
        };
        write_all(&rt, None, Some(b), false, &mut out);
        let rows: Vec<&str> = out.lines().skip(1).collect();
        assert_eq!(rows.len(), 1, "{out}");
        assert!(rows[0].starts_with("a,s2,"));
        out.clear();
        let b = Bound {
            iid: -1,
            types: 3,
            sid: -1,
        };
        write_all(&rt, None, Some(b), false, &mut out);
        let names: Vec<String> = out
            .lines()
            .skip(1)
            .map(|l| l.split(',').take(2).collect::<Vec<_>>().join("/"))
            .collect();
        assert_eq!(
            names,
            vec!["a/FRONTEND", "a/BACKEND", "b/FRONTEND", "b/BACKEND"]
        );
    }
}
