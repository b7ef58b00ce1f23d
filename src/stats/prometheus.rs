//! `stats prometheus-uri <path>` (a haproxide extension, not in 1.4): the stats rows in the
//! Prometheus text exposition format (version 0.0.4), with the metric names of the
//! Prometheus project's `haproxy_exporter` (`haproxy_frontend_*`, `haproxy_backend_*`,
//! `haproxy_server_*`), so existing dashboards work. Served by the stats hook on the same
//! proxy, behind the same `stats auth`, restricted by the same `stats scope`.
//!
//! Every value comes from [`super::row`], the rows the CSV prints; empty CSV fields are
//! simply not exported.

use super::row::{self, col, Row, RowKind};
use crate::runtime::{Proxy, Runtime};
use std::fmt::Write;

/// Whether the request URI targets the Prometheus path (exact, a query string allowed).
pub fn uri_matches(uri: &[u8], path: &str) -> bool {
    let p = path.as_bytes();
    uri == p || (uri.starts_with(p) && uri.get(p.len()) == Some(&b'?'))
}

#[derive(Clone, Copy)]
enum Kind {
    Gauge,
    Counter,
}

/// One exported metric: name suffix, help text, type, CSV column.
struct Metric(&'static str, &'static str, Kind, usize);

use Kind::{Counter, Gauge};

const FRONTEND: &[Metric] = &[
    Metric(
        "current_sessions",
        "Current number of active sessions.",
        Gauge,
        col::SCUR,
    ),
    Metric(
        "max_sessions",
        "Maximum observed number of active sessions.",
        Gauge,
        col::SMAX,
    ),
    Metric(
        "limit_sessions",
        "Configured session limit.",
        Gauge,
        col::SLIM,
    ),
    Metric(
        "sessions_total",
        "Total number of sessions.",
        Counter,
        col::STOT,
    ),
    Metric(
        "bytes_in_total",
        "Current total of incoming bytes.",
        Counter,
        col::BIN,
    ),
    Metric(
        "bytes_out_total",
        "Current total of outgoing bytes.",
        Counter,
        col::BOUT,
    ),
    Metric(
        "requests_denied_total",
        "Total of requests denied for security.",
        Counter,
        col::DREQ,
    ),
    Metric(
        "responses_denied_total",
        "Total of responses denied for security.",
        Counter,
        col::DRESP,
    ),
    Metric(
        "request_errors_total",
        "Total of request errors.",
        Counter,
        col::EREQ,
    ),
    Metric(
        "current_session_rate",
        "Current number of sessions per second over last elapsed second.",
        Gauge,
        col::RATE,
    ),
    Metric(
        "limit_session_rate",
        "Configured limit on new sessions per second.",
        Gauge,
        col::RATE_LIM,
    ),
    Metric(
        "max_session_rate",
        "Maximum observed number of sessions per second.",
        Gauge,
        col::RATE_MAX,
    ),
    Metric(
        "http_requests_total",
        "Total HTTP requests.",
        Counter,
        col::REQ_TOT,
    ),
];

const BACKEND: &[Metric] = &[
    Metric(
        "current_queue",
        "Current number of queued requests not assigned to any server.",
        Gauge,
        col::QCUR,
    ),
    Metric(
        "max_queue",
        "Maximum observed number of queued requests not assigned to any server.",
        Gauge,
        col::QMAX,
    ),
    Metric(
        "current_sessions",
        "Current number of active sessions.",
        Gauge,
        col::SCUR,
    ),
    Metric(
        "max_sessions",
        "Maximum observed number of active sessions.",
        Gauge,
        col::SMAX,
    ),
    Metric(
        "limit_sessions",
        "Configured session limit.",
        Gauge,
        col::SLIM,
    ),
    Metric(
        "sessions_total",
        "Total number of sessions.",
        Counter,
        col::STOT,
    ),
    Metric(
        "bytes_in_total",
        "Current total of incoming bytes.",
        Counter,
        col::BIN,
    ),
    Metric(
        "bytes_out_total",
        "Current total of outgoing bytes.",
        Counter,
        col::BOUT,
    ),
    Metric(
        "requests_denied_total",
        "Total of requests denied for security.",
        Counter,
        col::DREQ,
    ),
    Metric(
        "responses_denied_total",
        "Total of responses denied for security.",
        Counter,
        col::DRESP,
    ),
    Metric(
        "connection_errors_total",
        "Total of connection errors.",
        Counter,
        col::ECON,
    ),
    Metric(
        "response_errors_total",
        "Total of response errors.",
        Counter,
        col::ERESP,
    ),
    Metric(
        "retry_warnings_total",
        "Total of retry warnings.",
        Counter,
        col::WRETR,
    ),
    Metric(
        "redispatch_warnings_total",
        "Total of redispatch warnings.",
        Counter,
        col::WREDIS,
    ),
    Metric(
        "weight",
        "Total weight of the servers in the backend.",
        Gauge,
        col::WEIGHT,
    ),
    Metric(
        "current_server",
        "Current number of active servers.",
        Gauge,
        col::ACT,
    ),
    Metric(
        "current_backup_server",
        "Current number of usable backup servers.",
        Gauge,
        col::BCK,
    ),
    Metric(
        "downtime_seconds_total",
        "Total downtime in seconds.",
        Counter,
        col::DOWNTIME,
    ),
    Metric(
        "lb_selections_total",
        "Total number of times a server of the backend was selected.",
        Counter,
        col::LBTOT,
    ),
    Metric(
        "current_session_rate",
        "Current number of sessions per second over last elapsed second.",
        Gauge,
        col::RATE,
    ),
    Metric(
        "max_session_rate",
        "Maximum observed number of sessions per second.",
        Gauge,
        col::RATE_MAX,
    ),
    Metric(
        "client_aborts_total",
        "Total number of data transfers aborted by the client.",
        Counter,
        col::CLI_ABRT,
    ),
    Metric(
        "server_aborts_total",
        "Total number of data transfers aborted by the server.",
        Counter,
        col::SRV_ABRT,
    ),
];

const SERVER: &[Metric] = &[
    Metric(
        "current_queue",
        "Current number of queued requests assigned to this server.",
        Gauge,
        col::QCUR,
    ),
    Metric(
        "max_queue",
        "Maximum observed number of queued requests assigned to this server.",
        Gauge,
        col::QMAX,
    ),
    Metric(
        "current_sessions",
        "Current number of active sessions.",
        Gauge,
        col::SCUR,
    ),
    Metric(
        "max_sessions",
        "Maximum observed number of active sessions.",
        Gauge,
        col::SMAX,
    ),
    Metric(
        "limit_sessions",
        "Configured session limit.",
        Gauge,
        col::SLIM,
    ),
    Metric(
        "sessions_total",
        "Total number of sessions.",
        Counter,
        col::STOT,
    ),
    Metric(
        "bytes_in_total",
        "Current total of incoming bytes.",
        Counter,
        col::BIN,
    ),
    Metric(
        "bytes_out_total",
        "Current total of outgoing bytes.",
        Counter,
        col::BOUT,
    ),
    Metric(
        "responses_denied_total",
        "Total of responses denied for security.",
        Counter,
        col::DRESP,
    ),
    Metric(
        "connection_errors_total",
        "Total of connection errors.",
        Counter,
        col::ECON,
    ),
    Metric(
        "response_errors_total",
        "Total of response errors.",
        Counter,
        col::ERESP,
    ),
    Metric(
        "retry_warnings_total",
        "Total of retry warnings.",
        Counter,
        col::WRETR,
    ),
    Metric(
        "redispatch_warnings_total",
        "Total of redispatch warnings.",
        Counter,
        col::WREDIS,
    ),
    Metric(
        "weight",
        "Current weight of the server.",
        Gauge,
        col::WEIGHT,
    ),
    Metric(
        "check_failures_total",
        "Total number of failed health checks.",
        Counter,
        col::CHKFAIL,
    ),
    Metric(
        "down_transitions_total",
        "Total number of UP->DOWN transitions.",
        Counter,
        col::CHKDOWN,
    ),
    Metric(
        "downtime_seconds_total",
        "Total downtime in seconds.",
        Counter,
        col::DOWNTIME,
    ),
    Metric(
        "lb_selections_total",
        "Total number of times the server was selected.",
        Counter,
        col::LBTOT,
    ),
    Metric(
        "current_session_rate",
        "Current number of sessions per second over last elapsed second.",
        Gauge,
        col::RATE,
    ),
    Metric(
        "max_session_rate",
        "Maximum observed number of sessions per second.",
        Gauge,
        col::RATE_MAX,
    ),
    Metric(
        "check_duration_milliseconds",
        "Previously run health check duration, in milliseconds.",
        Gauge,
        col::CHECK_DURATION,
    ),
    Metric(
        "client_aborts_total",
        "Total number of data transfers aborted by the client.",
        Counter,
        col::CLI_ABRT,
    ),
    Metric(
        "server_aborts_total",
        "Total number of data transfers aborted by the server.",
        Counter,
        col::SRV_ABRT,
    ),
];

/// Escapes a label value (backslash, double quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(r: &Row) -> String {
    match r.kind {
        RowKind::Frontend => format!("frontend=\"{}\"", label(r.t(col::PXNAME))),
        RowKind::Backend => format!("backend=\"{}\"", label(r.t(col::PXNAME))),
        RowKind::Server | RowKind::Socket => format!(
            "backend=\"{}\",server=\"{}\"",
            label(r.t(col::PXNAME)),
            label(r.t(col::SVNAME))
        ),
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: Kind) {
    let t = match kind {
        Gauge => "gauge",
        Counter => "counter",
    };
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {t}");
}

fn section(out: &mut String, prefix: &str, metrics: &[Metric], rows: &[&Row]) {
    if rows.is_empty() {
        return;
    }
    for Metric(suffix, help, kind, c) in metrics {
        let samples: Vec<(String, u64)> = rows
            .iter()
            .filter_map(|r| r.vals.get(*c).and_then(|v| v.num()).map(|n| (labels(r), n)))
            .collect();
        if samples.is_empty() {
            continue;
        }
        let name = format!("haproxy_{prefix}_{suffix}");
        header(out, &name, help, *kind);
        for (l, n) in samples {
            let _ = writeln!(out, "{name}{{{l}}} {n}");
        }
    }
    // `up` from the status text, and the HTTP response classes.
    if prefix != "frontend" {
        let name = format!("haproxy_{prefix}_up");
        header(out, &name, "Current health status (1 = UP).", Gauge);
        for r in rows {
            let st = r.t(col::STATUS);
            let up = st.starts_with("UP") || st == "no check";
            let _ = writeln!(out, "{name}{{{}}} {}", labels(r), u8::from(up));
        }
    }
    let http: Vec<&&Row> = rows
        .iter()
        .filter(|r| r.vals.get(col::HRSP_1XX).and_then(|v| v.num()).is_some())
        .collect();
    if !http.is_empty() {
        let name = format!("haproxy_{prefix}_http_responses_total");
        header(out, &name, "Total of HTTP responses.", Counter);
        for r in http {
            for (i, code) in ["1xx", "2xx", "3xx", "4xx", "5xx", "other"]
                .iter()
                .enumerate()
            {
                let _ = writeln!(
                    out,
                    "{name}{{code=\"{code}\",{}}} {}",
                    labels(r),
                    r.n(col::HRSP_1XX + i)
                );
            }
        }
    }
}

/// Writes every metric of the listed proxies accepted by `scope`.
pub fn write_all(rt: &Runtime, scope: &dyn Fn(&Proxy) -> bool, out: &mut String) {
    let rows: Vec<Row> = rt
        .proxies
        .iter()
        .filter(|p| super::is_listed(p) && scope(p))
        .flat_map(|p| row::proxy_rows(rt, p, None, false))
        .collect();
    let of = |k: RowKind| rows.iter().filter(|r| r.kind == k).collect::<Vec<_>>();
    let _ = writeln!(
        out,
        "# HELP haproxy_up Was the last scrape of haproxy successful.\n# TYPE haproxy_up gauge\nhaproxy_up 1"
    );
    section(out, "frontend", FRONTEND, &of(RowKind::Frontend));
    section(out, "backend", BACKEND, &of(RowKind::Backend));
    section(out, "server", SERVER, &of(RowKind::Server));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::test_support::{backend, runtime, server, sp};
    use std::sync::atomic::Ordering::Relaxed;

    #[test]
    fn exporter_names_and_values() {
        let mut p = backend("web", vec![server("s1", 1, 1)]);
        p.kind = parser::ir::ProxyKind::Listen;
        p.mode = sp(parser::ir::Mode::Http);
        let rt = runtime(vec![p]);
        rt.proxies[0].fe_counters.stot.store(3, Relaxed);
        rt.proxies[0].fe_counters.hrsp[1].store(2, Relaxed);
        let mut out = String::new();
        write_all(&rt, &|_| true, &mut out);
        assert!(out.contains("# TYPE haproxy_frontend_sessions_total counter\n"));
        assert!(out.contains("haproxy_frontend_sessions_total{frontend=\"web\"} 3\n"));
        assert!(out
            .contains("haproxy_frontend_http_responses_total{code=\"2xx\",frontend=\"web\"} 2\n"));
        assert!(out.contains("haproxy_backend_up{backend=\"web\"} 1\n"));
        assert!(out.contains("haproxy_server_up{backend=\"web\",server=\"s1\"} 1\n"));
        // Empty CSV fields are not exported (no queue limit here).
        assert!(!out.contains("haproxy_server_limit_sessions{"));
        for l in out.lines().filter(|l| !l.starts_with('#')) {
            let v = l.rsplit(' ').next().unwrap_or("");
            assert!(v.parse::<u64>().is_ok(), "{l}");
        }
    }

    #[test]
    fn uri_match() {
        assert!(uri_matches(b"/metrics", "/metrics"));
        assert!(uri_matches(b"/metrics?x", "/metrics"));
        assert!(!uri_matches(b"/metricsx", "/metrics"));
    }
}
