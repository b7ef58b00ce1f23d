//! `show sess` and `show sess <id>` on the stats socket: one line per live stream, or the
//! multi-line dump of one stream, in 1.4's format (compare with 1.4 `src/dumpstats.c`
//! `stats_dump_sess_to_buffer` and `stats_dump_full_sess_to_buffer`). The streams come from
//! [`crate::proxy::registry`].
//!
//! What is true and what stands in for 1.4 internals haproxide does not have:
//!
//! * Exact: `proto` (`tcpv4`/`tcpv6` from the listener, `unix_stream` for a stats socket
//!   connection), `src`, `fe`, `be` (the frontend until a backend is chosen; `<NONE>` when
//!   that proxy has no backend side, as 1.4), `srv`, `age`, the client and server socket
//!   file descriptors (`fd=`), the frontend/backend/server/listener ids, the accept date,
//!   the method and status of the transaction in progress, the remaining connection
//!   attempts, and the byte totals of finished transactions (`total=`).
//! * Derived from the stream's phase (see [`Phase`]): the analyser bits `an=` (1.4's
//!   `AN_REQ_*`/`AN_RES_*` values still pending in that phase), the stream-interface states
//!   (`s0=[7,...]` while the client is connected; `s1` 0 before a server, 5 while
//!   connecting or queued, 7 once connected), the HTTP message states (`req.st`, `rsp.st`),
//!   and the timers: the current wait's deadline shows as `rq.rx` while waiting for a
//!   request, `s1.ex` while connecting, `rp.rx` while waiting for a response, and as `exp=`.
//!   Data transfer timeouts are kept by the forwarding loops and are not shown.
//! * Approximations: the pointers (session, task, stream interfaces, txn, buffers) all print
//!   the stream's id in hex (`0x1a`), which `show sess <id>` accepts — they are not
//!   addresses; `calls=` counts phase changes, not scheduler wake-ups; `ts=` (task state),
//!   buffer and stream-interface flags, `l=` (bytes buffered), `sndmx`, `pipe`, `fwd`, `r`,
//!   `w`, `lr` and `et` print 0: haproxide keeps no such state; `pend_pos` is `(nil)` (a
//!   queued stream shows as connecting).

use super::human_time;
use crate::log::{local_tm, MONTHS};
use crate::proxy::registry::{Origin, Phase, StreamView};
use crate::runtime::Runtime;
use parser::ir::Mode;
use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// 1.4 analyser bits (`include/types/buffers.h`).
const AN_REQ_INSPECT: u32 = 0x0000_0001;
const AN_REQ_WAIT_HTTP: u32 = 0x0000_0002;
const AN_REQ_HTTP_PROCESS_FE: u32 = 0x0000_0004;
const AN_REQ_SWITCHING_RULES: u32 = 0x0000_0008;
const AN_REQ_HTTP_PROCESS_BE: u32 = 0x0000_0010;
const AN_REQ_HTTP_INNER: u32 = 0x0000_0020;
const AN_REQ_HTTP_XFER_BODY: u32 = 0x0000_0800;
const AN_RES_WAIT_HTTP: u32 = 0x0002_0000;
const AN_RES_HTTP_PROCESS_BE: u32 = 0x0004_0000;
const AN_RES_HTTP_XFER_BODY: u32 = 0x0010_0000;

/// 1.4 stream-interface states (`SI_ST_*`).
const SI_ST_INI: u8 = 0;
const SI_ST_CON: u8 = 5;
const SI_ST_EST: u8 = 7;

/// 1.4 HTTP message states (`HTTP_MSG_*`).
const HTTP_MSG_RQBEFORE: u8 = 0;
const HTTP_MSG_RPBEFORE: u8 = 8;
const HTTP_MSG_BODY: u8 = 27;
const HTTP_MSG_DATA: u8 = 30;
const HTTP_MSG_DONE: u8 = 33;

/// Where the current deadline is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExpSlot {
    None,
    ReqRead,
    ResRead,
    Server,
}

/// The 1.4 internals a phase stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Model {
    s1: u8,
    rq_an: u32,
    rp_an: u32,
    req_st: u8,
    rsp_st: u8,
    slot: ExpSlot,
}

fn model(v: &StreamView) -> Model {
    let (http, inspect) = match v.origin {
        Origin::Tcp { http, inspect, .. } => (http, inspect),
        Origin::Cli => (false, false),
    };
    let front = if http {
        AN_REQ_WAIT_HTTP | AN_REQ_HTTP_PROCESS_FE | AN_REQ_SWITCHING_RULES
    } else {
        AN_REQ_SWITCHING_RULES
    };
    let rp_http = AN_RES_WAIT_HTTP | AN_RES_HTTP_PROCESS_BE | AN_RES_HTTP_XFER_BODY;
    let (s1, rq_an, rp_an, slot) = match v.phase {
        Phase::Accepted | Phase::Inspect => (
            SI_ST_INI,
            front | if inspect { AN_REQ_INSPECT } else { 0 },
            0,
            ExpSlot::None,
        ),
        Phase::WaitRequest => (SI_ST_INI, front, 0, ExpSlot::ReqRead),
        Phase::Request => (
            SI_ST_INI,
            AN_REQ_HTTP_PROCESS_BE | AN_REQ_HTTP_INNER | AN_REQ_HTTP_XFER_BODY,
            0,
            ExpSlot::None,
        ),
        Phase::Connect if http => (SI_ST_CON, AN_REQ_HTTP_XFER_BODY, rp_http, ExpSlot::Server),
        Phase::Connect => (SI_ST_CON, 0, 0, ExpSlot::Server),
        Phase::WaitResponse => (SI_ST_EST, AN_REQ_HTTP_XFER_BODY, rp_http, ExpSlot::ResRead),
        Phase::Data => (SI_ST_EST, 0, AN_RES_HTTP_XFER_BODY, ExpSlot::None),
        Phase::Tunnel | Phase::Cli => (SI_ST_EST, 0, 0, ExpSlot::None),
    };
    let (req_st, rsp_st) = if !http {
        (0, 0)
    } else {
        match v.phase {
            Phase::Accepted | Phase::Inspect | Phase::WaitRequest => {
                (HTTP_MSG_RQBEFORE, HTTP_MSG_RPBEFORE)
            }
            Phase::Request => (HTTP_MSG_BODY, HTTP_MSG_RPBEFORE),
            Phase::Connect | Phase::WaitResponse => (HTTP_MSG_DATA, HTTP_MSG_RPBEFORE),
            Phase::Data => (HTTP_MSG_DATA, HTTP_MSG_DATA),
            Phase::Tunnel | Phase::Cli => (HTTP_MSG_DONE, HTTP_MSG_DONE),
        }
    };
    Model {
        s1,
        rq_an,
        rp_an,
        req_st,
        rsp_st,
        slot,
    }
}

/// 1.4's `human_time(TICKS_TO_MS(exp - now_ms), TICKS_TO_MS(1000))`: whole seconds, `?`
/// once past.
fn ms_time(ms: i64) -> String {
    if ms < 0 {
        "?".to_string()
    } else {
        human_time(u64::try_from(ms / 1000).unwrap_or(0))
    }
}

/// A timer of the list line: empty when unset.
fn list_timer(exp: Option<i64>, shown: bool) -> String {
    match exp {
        Some(ms) if shown => ms_time(ms),
        _ => String::new(),
    }
}

/// A timer of the full dump with 1.4's `<NEVER>` and (when `past_check`) `<PAST>`.
fn full_timer(exp: Option<i64>, shown: bool, past_check: bool) -> String {
    match exp {
        Some(ms) if shown => {
            if past_check && ms <= 0 {
                "<PAST>".to_string()
            } else {
                ms_time(ms)
            }
        }
        _ => "<NEVER>".to_string(),
    }
}

fn proto(v: &StreamView) -> &'static str {
    match v.origin {
        Origin::Tcp { v6: false, .. } => "tcpv4",
        Origin::Tcp { v6: true, .. } => "tcpv6",
        Origin::Cli => "unix_stream",
    }
}

/// Appends the one-line summary of a stream (1.4 `stats_dump_sess_to_buffer`).
pub fn write_line(rt: &Runtime, v: &StreamView, out: &mut String) {
    let m = model(v);
    let _ = write!(out, "0x{:x}: proto={}", v.uid, proto(v));
    if let (Origin::Tcp { fe, .. }, Some(src)) = (v.origin, v.src) {
        let fe_name = rt.proxies.get(fe).map_or("?", |p| p.name());
        let be = v.be.and_then(|b| rt.proxies.get(b));
        let be_name = match be {
            Some(p) if p.cfg.kind.has_be() => p.name(),
            _ => "<NONE>",
        };
        let srv = be
            .zip(v.srv)
            .and_then(|(p, s)| p.servers.get(s))
            .map_or("<none>", |s| s.cfg.name.as_str());
        let _ = write!(
            out,
            " src={}:{} fe={fe_name} be={be_name} srv={srv}",
            src.ip(),
            src.port()
        );
    }
    let _ = write!(out, " ts=00 age={} calls={}", human_time(v.age_s), v.calls);
    let _ = write!(
        out,
        " rq[f=000000h,l=0,an={:02x}h,rx={},wx=,ax=]",
        m.rq_an,
        list_timer(v.exp_ms, m.slot == ExpSlot::ReqRead)
    );
    let _ = write!(
        out,
        " rp[f=000000h,l=0,an={:02x}h,rx={},wx=,ax=]",
        m.rp_an,
        list_timer(v.exp_ms, m.slot == ExpSlot::ResRead)
    );
    let _ = write!(out, " s0=[{SI_ST_EST},0h,fd={},ex=]", v.cli_fd);
    let _ = write!(
        out,
        " s1=[{},0h,fd={},ex={}]",
        m.s1,
        v.srv_fd,
        list_timer(v.exp_ms, m.slot == ExpSlot::Server)
    );
    let _ = writeln!(
        out,
        " exp={}",
        list_timer(v.exp_ms, m.slot != ExpSlot::None)
    );
}

/// `[06/Feb/2009:12:14:14.655123]`-style date with microseconds (1.4 `task created`).
fn date_us(t: SystemTime) -> String {
    let (secs, us) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_micros(),
        ),
        Err(_) => (0, 0),
    };
    let tm = local_tm(secs);
    let mon = MONTHS[usize::from(tm.mon) % 12];
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02}.{:06}",
        tm.mday,
        String::from_utf8_lossy(mon),
        tm.year,
        tm.hour,
        tm.min,
        tm.sec,
        us
    )
}

/// Appends the full dump of one stream (1.4 `stats_dump_full_sess_to_buffer`).
pub fn write_full(rt: &Runtime, v: &StreamView, out: &mut String) {
    let m = model(v);
    let ptr = format!("0x{:x}", v.uid);
    let _ = write!(out, "{ptr}: id={}, proto={}", v.uid, proto(v));
    match v.src {
        Some(src) => {
            let _ = writeln!(out, " source={}:{}", src.ip(), src.port());
        }
        None => out.push('\n'),
    }
    let _ = writeln!(
        out,
        "  flags=0x0, conn_retries={}, srv_conn={}, pend_pos=(nil)",
        v.retries_left,
        if v.srv_conn { ptr.as_str() } else { "(nil)" }
    );
    let mode = |p: &crate::runtime::Proxy| {
        if p.cfg.mode.node == Mode::Tcp {
            "tcp"
        } else {
            "http"
        }
    };
    let nice;
    match v.origin {
        Origin::Tcp { fe, luid, .. } => {
            nice = 0;
            let fe = rt.proxies.get(fe);
            let listener = fe
                .and_then(|p| {
                    p.cfg
                        .binds
                        .iter()
                        .flat_map(|b| crate::listener::bind_addrs(b).map(move |_| b))
                        .nth((luid as usize).saturating_sub(1))
                })
                .and_then(|b| b.name.as_deref())
                .unwrap_or("?");
            let _ = writeln!(
                out,
                "  frontend={} (id={} mode={}), listener={listener} (id={luid})",
                fe.map_or("?", |p| p.name()),
                fe.map_or(0, |p| p.uuid),
                fe.map_or("tcp", mode),
            );
        }
        Origin::Cli => {
            nice = -64;
            out.push_str("  frontend=GLOBAL (id=0 mode=tcp), listener=? (id=0)\n");
        }
    }
    match v
        .be
        .and_then(|b| rt.proxies.get(b))
        .filter(|p| p.cfg.kind.has_be())
    {
        Some(be) => {
            let srv = v.srv.and_then(|s| be.servers.get(s));
            let _ = writeln!(
                out,
                "  backend={} (id={} mode={}) server={} (id={})",
                be.name(),
                be.uuid,
                mode(be),
                srv.map_or("<none>", |s| s.cfg.name.as_str()),
                srv.map_or(0, |s| s.puid)
            );
        }
        None => out.push_str("  backend=<NONE> (id=-1 mode=-) server=<NONE> (id=-1)\n"),
    }
    let _ = writeln!(
        out,
        "  task={ptr} (state=0x00 nice={nice} calls={} exp={})",
        v.calls,
        full_timer(v.exp_ms, m.slot != ExpSlot::None, true)
    );
    let _ = writeln!(
        out,
        "  task created [{}] (age={})",
        date_us(v.accept_date),
        human_time(v.age_s)
    );
    let _ = writeln!(
        out,
        "  si[0]={ptr} (state={SI_ST_EST} flags=0x00 fd={} exp=<NEVER>, et=0x000)",
        v.cli_fd
    );
    let _ = writeln!(
        out,
        "  si[1]={ptr} (state={} flags=0x00 fd={} exp={}, et=0x000)",
        m.s1,
        v.srv_fd,
        full_timer(v.exp_ms, m.slot == ExpSlot::Server, true)
    );
    let _ = writeln!(
        out,
        "  txn={ptr} (flags=0x0 meth={} status={} req.st={} rsp.st={})",
        v.meth, v.status, m.req_st, m.rsp_st
    );
    for (name, an, read, total) in [
        ("req", m.rq_an, m.slot == ExpSlot::ReqRead, v.req_total),
        ("res", m.rp_an, m.slot == ExpSlot::ResRead, v.res_total),
    ] {
        let _ = writeln!(
            out,
            "  {name}={ptr} (f=0x000000 an=0x{an:x} l=0 sndmx=0 pipe=0 fwd=0)"
        );
        let _ = writeln!(
            out,
            "      an_exp=<NEVER> rex={} wex=<NEVER>",
            full_timer(v.exp_ms, read, false)
        );
        let _ = writeln!(out, "      data={ptr} r=0 w=0 lr=0 total={total}");
    }
}

/// `show sess`: every live stream, oldest first.
pub fn show_all(rt: &Runtime, out: &mut String) {
    let now = std::time::Instant::now();
    for s in rt.streams.all() {
        write_line(rt, &s.view(&rt.streams, now), out);
    }
}

/// `show sess <id>`: the full dump, or 1.4's `Session not found.`. An argument that reads
/// as 0 (not a number) lists every stream, as 1.4 (its target pointer is then NULL).
pub fn show_one(rt: &Runtime, arg: &str, out: &mut String) {
    let id = strtoul(arg);
    if id == 0 {
        return show_all(rt, out);
    }
    match rt.streams.find(id) {
        Some(s) => write_full(rt, &s.view(&rt.streams, std::time::Instant::now()), out),
        None => out.push_str("Session not found.\n"),
    }
}

/// C's `strtoul(s, NULL, 0)`: leading white space, an optional sign, then `0x` hex, `0`
/// octal or decimal digits, up to the first other character; 0 when there are none.
pub fn strtoul(s: &str) -> u64 {
    let s = s.trim_start();
    let (neg, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let b = s.as_bytes();
    let (radix, digits) = if (b.starts_with(b"0x") || b.starts_with(b"0X"))
        && b.get(2).is_some_and(|c| c.is_ascii_hexdigit())
    {
        (16, &s[2..])
    } else if b.first() == Some(&b'0') {
        (8, s)
    } else {
        (10, s)
    };
    let mut v: u64 = 0;
    for c in digits.chars() {
        match c.to_digit(radix) {
            Some(d) => v = v.wrapping_mul(u64::from(radix)).wrapping_add(u64::from(d)),
            None => break,
        }
    }
    if neg {
        v.wrapping_neg()
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::test_support::{backend, runtime, server};
    use std::net::SocketAddr;

    fn rt() -> Runtime {
        let mut fe = backend("fe", vec![]);
        fe.kind = parser::ir::ProxyKind::Frontend;
        fe.mode = crate::check::test_support::sp(Mode::Http);
        let mut be = backend("app", vec![server("s1", 2, 2), server("s2", 2, 2)]);
        be.mode = crate::check::test_support::sp(Mode::Http);
        runtime(vec![fe, be])
    }

    fn view(phase: Phase) -> StreamView {
        StreamView {
            uid: 26,
            origin: Origin::Tcp {
                fe: 0,
                luid: 1,
                v6: false,
                http: true,
                inspect: false,
            },
            src: Some(SocketAddr::from(([127, 0, 0, 1], 40000))),
            age_s: 75,
            accept_date: UNIX_EPOCH,
            cli_fd: 9,
            be: Some(0),
            srv: None,
            srv_fd: -1,
            phase,
            calls: 3,
            exp_ms: Some(4500),
            meth: 0,
            status: -1,
            retries_left: 0,
            srv_conn: false,
            req_total: 0,
            res_total: 0,
        }
    }

    #[test]
    fn idle_http_stream_line() {
        let rt = rt();
        let mut out = String::new();
        write_line(&rt, &view(Phase::WaitRequest), &mut out);
        assert_eq!(
            out,
            "0x1a: proto=tcpv4 src=127.0.0.1:40000 fe=fe be=<NONE> srv=<none> ts=00 age=1m15s \
             calls=3 rq[f=000000h,l=0,an=0eh,rx=4s,wx=,ax=] rp[f=000000h,l=0,an=00h,rx=,wx=,ax=] \
             s0=[7,0h,fd=9,ex=] s1=[0,0h,fd=-1,ex=] exp=4s\n"
        );
    }

    #[test]
    fn stream_waiting_for_a_server_response() {
        let rt = rt();
        let mut v = view(Phase::WaitResponse);
        v.be = Some(1);
        v.srv = Some(1);
        v.srv_fd = 12;
        v.exp_ms = Some(-20);
        let mut out = String::new();
        write_line(&rt, &v, &mut out);
        assert!(out.contains(" fe=fe be=app srv=s2 "), "{out}");
        assert!(
            out.contains(
                " rq[f=000000h,l=0,an=800h,rx=,wx=,ax=] rp[f=000000h,l=0,an=160000h,rx=?,wx=,ax=]"
            ),
            "{out}"
        );
        assert!(out.ends_with(" s1=[7,0h,fd=12,ex=] exp=?\n"), "{out}");
    }

    #[test]
    fn tcp_and_cli_lines() {
        let rt = rt();
        let mut v = view(Phase::Tunnel);
        v.origin = Origin::Tcp {
            fe: 1,
            luid: 1,
            v6: true,
            http: false,
            inspect: false,
        };
        v.src = Some("[::1]:5555".parse().expect("address"));
        v.be = Some(1);
        v.exp_ms = None;
        let mut out = String::new();
        write_line(&rt, &v, &mut out);
        assert!(
            out.starts_with("0x1a: proto=tcpv6 src=::1:5555 fe=app be=app srv=<none> ts=00"),
            "{out}"
        );
        let mut c = view(Phase::Cli);
        c.origin = Origin::Cli;
        c.src = None;
        c.be = None;
        c.age_s = 0;
        c.exp_ms = None;
        let mut out = String::new();
        write_line(&rt, &c, &mut out);
        assert_eq!(
            out,
            "0x1a: proto=unix_stream ts=00 age=0s calls=3 rq[f=000000h,l=0,an=00h,rx=,wx=,ax=] \
             rp[f=000000h,l=0,an=00h,rx=,wx=,ax=] s0=[7,0h,fd=9,ex=] s1=[7,0h,fd=-1,ex=] exp=\n"
        );
    }

    #[test]
    fn full_dump_shape() {
        let rt = rt();
        let mut v = view(Phase::Connect);
        v.be = Some(1);
        v.srv = Some(0);
        v.srv_conn = true;
        v.retries_left = 3;
        v.meth = 2;
        v.req_total = 120;
        let mut out = String::new();
        write_full(&rt, &v, &mut out);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 15, "{out}");
        assert_eq!(lines[0], "0x1a: id=26, proto=tcpv4 source=127.0.0.1:40000");
        assert_eq!(
            lines[1],
            "  flags=0x0, conn_retries=3, srv_conn=0x1a, pend_pos=(nil)"
        );
        assert_eq!(
            lines[2],
            "  frontend=fe (id=1 mode=http), listener=? (id=1)"
        );
        assert_eq!(lines[3], "  backend=app (id=2 mode=http) server=s1 (id=1)");
        assert_eq!(lines[4], "  task=0x1a (state=0x00 nice=0 calls=3 exp=4s)");
        assert!(lines[5].starts_with("  task created ["), "{}", lines[5]);
        assert!(lines[5].ends_with(".000000] (age=1m15s)"), "{}", lines[5]);
        assert_eq!(
            lines[6],
            "  si[0]=0x1a (state=7 flags=0x00 fd=9 exp=<NEVER>, et=0x000)"
        );
        assert_eq!(
            lines[7],
            "  si[1]=0x1a (state=5 flags=0x00 fd=-1 exp=4s, et=0x000)"
        );
        assert_eq!(
            lines[8],
            "  txn=0x1a (flags=0x0 meth=2 status=-1 req.st=30 rsp.st=8)"
        );
        assert_eq!(
            lines[9],
            "  req=0x1a (f=0x000000 an=0x800 l=0 sndmx=0 pipe=0 fwd=0)"
        );
        assert_eq!(lines[10], "      an_exp=<NEVER> rex=<NEVER> wex=<NEVER>");
        assert_eq!(lines[11], "      data=0x1a r=0 w=0 lr=0 total=120");
        assert_eq!(
            lines[12],
            "  res=0x1a (f=0x000000 an=0x160000 l=0 sndmx=0 pipe=0 fwd=0)"
        );
        // A frontend without backend side while no backend is chosen.
        let mut out = String::new();
        write_full(&rt, &view(Phase::WaitRequest), &mut out);
        assert!(
            out.contains("\n  backend=<NONE> (id=-1 mode=-) server=<NONE> (id=-1)\n"),
            "{out}"
        );
        assert!(
            out.contains("\n      an_exp=<NEVER> rex=4s wex=<NEVER>\n"),
            "{out}"
        );
    }

    #[test]
    fn strtoul_like_c() {
        assert_eq!(strtoul("0x1a"), 26);
        assert_eq!(strtoul("0X1A:"), 26);
        assert_eq!(strtoul("26"), 26);
        assert_eq!(strtoul("032"), 26);
        assert_eq!(strtoul("  7z"), 7);
        assert_eq!(strtoul("abc"), 0);
        assert_eq!(strtoul("0x"), 0);
        assert_eq!(strtoul(""), 0);
    }

    #[test]
    fn show_one_unknown_and_zero() {
        let rt = rt();
        let mut out = String::new();
        show_one(&rt, "0x12345", &mut out);
        assert_eq!(out, "Session not found.\n");
        // Registered streams are found by id; a non-number lists them all.
        let r = rt.streams.register(crate::proxy::registry::NewStream {
            origin: Origin::Cli,
            src: None,
            cli_fd: 5,
            be: None,
        });
        let id = r.info().uid;
        let mut out = String::new();
        show_one(&rt, &format!("{id:#x}"), &mut out);
        assert!(
            out.starts_with(&format!("{id:#x}: id={id}, proto=unix_stream\n")),
            "{out}"
        );
        let mut out = String::new();
        show_one(&rt, "foo", &mut out);
        assert!(
            out.starts_with(&format!("{id:#x}: proto=unix_stream ts=00")),
            "{out}"
        );
        assert_eq!(out.lines().count(), 1);
    }
}
