//! One stats row: the 51 fields of 1.4's CSV for a frontend, a server or a backend, read from
//! the live counters (`src/counters.rs`), the health state (`src/check/`) and the balancer
//! weights (`src/lb/`). The CSV, the HTML page, `show stat` and the Prometheus endpoint all
//! print these rows, so they cannot disagree.
//!
//! Which fields are empty for which kind of row follows 1.4 `src/dumpstats.c`
//! `stats_dump_proxy` (CSV branch) exactly; see the per-function docs.

use super::RELATIVE_PID;
use crate::check::{self, CheckSnapshot};
use crate::counters::Counters;
use crate::runtime::{Proxy, Runtime, Server};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

/// The CSV column names in order (1.4 `print_csv_header`).
pub const HEADER: [&str; NFIELDS] = [
    "pxname",
    "svname",
    "qcur",
    "qmax",
    "scur",
    "smax",
    "slim",
    "stot",
    "bin",
    "bout",
    "dreq",
    "dresp",
    "ereq",
    "econ",
    "eresp",
    "wretr",
    "wredis",
    "status",
    "weight",
    "act",
    "bck",
    "chkfail",
    "chkdown",
    "lastchg",
    "downtime",
    "qlimit",
    "pid",
    "iid",
    "sid",
    "throttle",
    "lbtot",
    "tracked",
    "type",
    "rate",
    "rate_lim",
    "rate_max",
    "check_status",
    "check_code",
    "check_duration",
    "hrsp_1xx",
    "hrsp_2xx",
    "hrsp_3xx",
    "hrsp_4xx",
    "hrsp_5xx",
    "hrsp_other",
    "hanafail",
    "req_rate",
    "req_rate_max",
    "req_tot",
    "cli_abrt",
    "srv_abrt",
];

/// Number of CSV fields in 1.4.
pub const NFIELDS: usize = 51;

/// Column indexes, named after the CSV header.
#[allow(missing_docs)]
pub mod col {
    pub const PXNAME: usize = 0;
    pub const SVNAME: usize = 1;
    pub const QCUR: usize = 2;
    pub const QMAX: usize = 3;
    pub const SCUR: usize = 4;
    pub const SMAX: usize = 5;
    pub const SLIM: usize = 6;
    pub const STOT: usize = 7;
    pub const BIN: usize = 8;
    pub const BOUT: usize = 9;
    pub const DREQ: usize = 10;
    pub const DRESP: usize = 11;
    pub const EREQ: usize = 12;
    pub const ECON: usize = 13;
    pub const ERESP: usize = 14;
    pub const WRETR: usize = 15;
    pub const WREDIS: usize = 16;
    pub const STATUS: usize = 17;
    pub const WEIGHT: usize = 18;
    pub const ACT: usize = 19;
    pub const BCK: usize = 20;
    pub const CHKFAIL: usize = 21;
    pub const CHKDOWN: usize = 22;
    pub const LASTCHG: usize = 23;
    pub const DOWNTIME: usize = 24;
    pub const QLIMIT: usize = 25;
    pub const PID: usize = 26;
    pub const IID: usize = 27;
    pub const SID: usize = 28;
    pub const THROTTLE: usize = 29;
    pub const LBTOT: usize = 30;
    pub const TRACKED: usize = 31;
    pub const TYPE: usize = 32;
    pub const RATE: usize = 33;
    pub const RATE_LIM: usize = 34;
    pub const RATE_MAX: usize = 35;
    pub const CHECK_STATUS: usize = 36;
    pub const CHECK_CODE: usize = 37;
    pub const CHECK_DURATION: usize = 38;
    pub const HRSP_1XX: usize = 39;
    pub const HRSP_OTHER: usize = 44;
    pub const HANAFAIL: usize = 45;
    pub const REQ_RATE: usize = 46;
    pub const REQ_RATE_MAX: usize = 47;
    pub const REQ_TOT: usize = 48;
    pub const CLI_ABRT: usize = 49;
    pub const SRV_ABRT: usize = 50;
}

/// 1.4's `STATS_TYPE_*` (CSV `type`, and the bit numbers of `show stat`'s type mask).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    Frontend = 0,
    Backend = 1,
    Server = 2,
    Socket = 3,
}

impl RowKind {
    /// The bit of this kind in `show stat <iid> <type> <sid>`'s type mask.
    pub fn mask(self) -> i64 {
        1 << (self as i64)
    }
}

/// One field value: 1.4 leaves some fields empty (`,,`) for some kinds of rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    Empty,
    Num(u64),
    Text(String),
}

impl Val {
    /// The number, when the field holds one (Prometheus, tests).
    pub fn num(&self) -> Option<u64> {
        match self {
            Val::Num(n) => Some(*n),
            _ => None,
        }
    }
    /// The field as 1.4 prints it in the CSV.
    pub fn write(&self, out: &mut String) {
        match self {
            Val::Empty => {}
            Val::Num(n) => {
                use std::fmt::Write;
                let _ = write!(out, "{n}");
            }
            Val::Text(t) => out.push_str(t),
        }
    }
}

/// A stats row: its kind, the proxy (and server) it describes, and the 51 fields.
#[derive(Clone, Debug)]
pub struct Row {
    pub kind: RowKind,
    /// Index of the proxy in `Runtime::proxies`.
    pub proxy: usize,
    /// Index of the server in its proxy, for server rows.
    pub server: Option<usize>,
    pub vals: Vec<Val>,
}

impl Row {
    fn new(kind: RowKind, proxy: usize, server: Option<usize>) -> Row {
        Row {
            kind,
            proxy,
            server,
            vals: vec![Val::Empty; NFIELDS],
        }
    }
    fn set(&mut self, i: usize, v: u64) {
        self.vals[i] = Val::Num(v);
    }
    fn text(&mut self, i: usize, t: impl Into<String>) {
        self.vals[i] = Val::Text(t.into());
    }
    /// The numeric value of column `i` (0 for empty or text fields).
    pub fn n(&self, i: usize) -> u64 {
        self.vals.get(i).and_then(Val::num).unwrap_or(0)
    }
    /// The text of column `i` (empty for numbers and empty fields).
    pub fn t(&self, i: usize) -> &str {
        match self.vals.get(i) {
            Some(Val::Text(t)) => t,
            _ => "",
        }
    }
    /// The CSV line: every field followed by a comma, then `\n`.
    pub fn write_csv(&self, out: &mut String) {
        for v in &self.vals {
            v.write(out);
            out.push(',');
        }
        out.push('\n');
    }
}

fn ld(a: &std::sync::atomic::AtomicU64) -> u64 {
    a.load(Relaxed)
}

/// The six `hrsp_*` counters in CSV order (1xx..5xx, then other).
fn set_hrsp(row: &mut Row, c: &Counters) {
    for i in 0..6 {
        row.set(col::HRSP_1XX + i, ld(&c.hrsp[i]));
    }
}

/// Frontend status (1.4: `OPEN`, `FULL` while listeners are paused at `maxconn`, `STOP`
/// once stopping).
pub fn frontend_status(rt: &Runtime, px: &Proxy) -> &'static str {
    if rt.stopping.load(Relaxed) {
        "STOP"
    } else if px.feconn.load(Relaxed) >= px.maxconn {
        "FULL"
    } else {
        "OPEN"
    }
}

/// The `FRONTEND` row. Empty: qcur, qmax, econ, eresp, wretr, wredis, fields 18–25,
/// throttle, lbtot, tracked, check fields, hanafail, cli_abrt, srv_abrt; `hrsp_*` only in
/// HTTP mode.
pub fn frontend(rt: &Runtime, px: &Proxy) -> Row {
    let c = &px.fe_counters;
    let mut r = Row::new(RowKind::Frontend, px.idx, None);
    r.text(col::PXNAME, px.name());
    r.text(col::SVNAME, "FRONTEND");
    r.set(col::SCUR, u64::from(px.feconn.load(Relaxed)));
    r.set(col::SMAX, ld(&c.smax));
    r.set(col::SLIM, u64::from(px.maxconn));
    r.set(col::STOT, ld(&c.stot));
    r.set(col::BIN, ld(&c.bin));
    r.set(col::BOUT, ld(&c.bout));
    r.set(col::DREQ, ld(&c.dreq));
    r.set(col::DRESP, ld(&c.dresp));
    r.set(col::EREQ, ld(&c.ereq));
    r.text(col::STATUS, frontend_status(rt, px));
    r.set(col::PID, u64::from(RELATIVE_PID));
    r.set(col::IID, u64::from(px.uuid));
    r.set(col::SID, 0);
    r.set(col::TYPE, RowKind::Frontend as u64);
    r.set(col::RATE, u64::from(c.sess_rate.rate()));
    r.set(
        col::RATE_LIM,
        px.cfg
            .rate_limit_sessions
            .as_ref()
            .map(|l| u64::from(l.node))
            .unwrap_or(0),
    );
    r.set(col::RATE_MAX, ld(&c.sess_rate_max));
    if px.is_http() {
        set_hrsp(&mut r, c);
    }
    r.set(col::REQ_RATE, u64::from(c.req_rate.rate()));
    r.set(col::REQ_RATE_MAX, ld(&c.req_rate_max));
    r.set(col::REQ_TOT, ld(&c.req_tot));
    r
}

/// The row of server `s` of `px`. Empty: dreq, ereq, req_*; slim/qlimit when unlimited;
/// chkfail..downtime and the check fields unless the server has `check`; throttle unless
/// warming up; tracked unless it tracks another server; `hrsp_*` outside HTTP mode.
pub fn server(rt: &Runtime, px: &Proxy, s: &Server, now_s: u64, now: Instant) -> Row {
    let c = &s.counters;
    let mut r = Row::new(RowKind::Server, px.idx, Some(s.idx));
    r.text(col::PXNAME, px.name());
    r.text(col::SVNAME, s.cfg.name.as_str());
    r.set(col::QCUR, u64::from(s.nbpend.load(Relaxed)));
    r.set(col::QMAX, ld(&c.qmax));
    r.set(col::SCUR, u64::from(s.cur_sess.load(Relaxed)));
    r.set(col::SMAX, ld(&c.smax));
    if s.cfg.maxconn > 0 {
        r.set(col::SLIM, u64::from(s.cfg.maxconn));
    }
    r.set(col::STOT, ld(&c.stot));
    r.set(col::BIN, ld(&c.bin));
    r.set(col::BOUT, ld(&c.bout));
    r.set(col::DRESP, ld(&c.dresp));
    r.set(col::ECON, ld(&c.econ));
    r.set(col::ERESP, ld(&c.eresp));
    r.set(col::WRETR, ld(&c.wretr));
    r.set(col::WREDIS, ld(&c.wredis));
    r.text(col::STATUS, check::status_text(rt, s));
    r.set(
        col::WEIGHT,
        u64::from(px.lb.stats_weight(s.idx).unwrap_or(0)),
    );
    r.set(col::ACT, u64::from(!s.cfg.backup));
    r.set(col::BCK, u64::from(s.cfg.backup));
    if s.check.is_checked() {
        r.set(col::CHKFAIL, ld(&c.chkfail));
        r.set(col::CHKDOWN, ld(&c.chkdown));
        r.set(col::LASTCHG, now_s.saturating_sub(ld(&c.last_change)));
        r.set(col::DOWNTIME, check::state::server_downtime_secs(s, now_s));
    }
    if s.cfg.maxqueue > 0 {
        r.set(col::QLIMIT, u64::from(s.cfg.maxqueue));
    }
    r.set(col::PID, u64::from(RELATIVE_PID));
    r.set(col::IID, u64::from(px.uuid));
    r.set(col::SID, u64::from(s.puid));
    if s.check.warmup_flag() {
        if let Some(t) = check::throttle_percent(s, now) {
            r.set(col::THROTTLE, u64::from(t));
        }
    }
    r.set(col::LBTOT, ld(&c.lbtot));
    if let Some(t) = s.check.tracked() {
        if let Some(tp) = rt.proxies.get(t.proxy) {
            if let Some(ts) = tp.servers.get(t.server) {
                r.text(col::TRACKED, format!("{}/{}", tp.name(), ts.cfg.name));
            }
        }
    }
    r.set(col::TYPE, RowKind::Server as u64);
    r.set(col::RATE, u64::from(c.sess_rate.rate()));
    r.set(col::RATE_MAX, ld(&c.sess_rate_max));
    if let Some(snap) = s.check.snapshot() {
        set_check(&mut r, &snap);
    }
    if px.is_http() {
        set_hrsp(&mut r, c);
    }
    r.set(col::HANAFAIL, ld(&c.hanafail));
    r.set(col::CLI_ABRT, ld(&c.cli_abrt));
    r.set(col::SRV_ABRT, ld(&c.srv_abrt));
    r
}

fn set_check(r: &mut Row, snap: &CheckSnapshot) {
    r.text(col::CHECK_STATUS, snap.status_name());
    if let Some(code) = snap.csv_code() {
        r.set(col::CHECK_CODE, u64::from(code));
    }
    if let Some(d) = snap.csv_duration() {
        r.set(col::CHECK_DURATION, d);
    }
}

/// Backend status: `UP` when some server can take traffic or the backend has no server at
/// all (a stats-only `listen`), `DOWN` otherwise.
pub fn backend_status(px: &Proxy) -> &'static str {
    if px.servers.is_empty() || px.lb.has_usable() {
        "UP"
    } else {
        "DOWN"
    }
}

/// The `BACKEND` row. Empty: ereq, chkfail, qlimit, throttle, tracked, rate_lim, the check
/// fields, hanafail and req_*; `hrsp_*` outside HTTP mode.
pub fn backend(px: &Proxy, now_s: u64) -> Row {
    let c = &px.be_counters;
    let mut r = Row::new(RowKind::Backend, px.idx, None);
    r.text(col::PXNAME, px.name());
    r.text(col::SVNAME, "BACKEND");
    r.set(col::QCUR, u64::from(px.nbpend.load(Relaxed)));
    r.set(col::QMAX, ld(&c.qmax));
    r.set(col::SCUR, u64::from(px.beconn.load(Relaxed)));
    r.set(col::SMAX, ld(&c.smax));
    r.set(col::SLIM, u64::from(px.fullconn));
    r.set(col::STOT, ld(&c.stot));
    r.set(col::BIN, ld(&c.bin));
    r.set(col::BOUT, ld(&c.bout));
    r.set(col::DREQ, ld(&c.dreq));
    r.set(col::DRESP, ld(&c.dresp));
    r.set(col::ECON, ld(&c.econ));
    r.set(col::ERESP, ld(&c.eresp));
    r.set(col::WRETR, ld(&c.wretr));
    r.set(col::WREDIS, ld(&c.wredis));
    r.text(col::STATUS, backend_status(px));
    r.set(col::WEIGHT, u64::from(px.lb.backend_stats_weight()));
    let (act, bck) = check::state::usable_counts(px);
    r.set(col::ACT, u64::from(act));
    r.set(col::BCK, u64::from(bck));
    r.set(col::CHKDOWN, ld(&c.chkdown));
    r.set(col::LASTCHG, now_s.saturating_sub(ld(&c.last_change)));
    r.set(
        col::DOWNTIME,
        if px.servers.is_empty() {
            0
        } else {
            check::state::backend_downtime_secs(px, now_s)
        },
    );
    r.set(col::PID, u64::from(RELATIVE_PID));
    r.set(col::IID, u64::from(px.uuid));
    r.set(col::SID, 0);
    r.set(col::LBTOT, ld(&c.lbtot));
    r.set(col::TYPE, RowKind::Backend as u64);
    r.set(col::RATE, u64::from(c.sess_rate.rate()));
    r.set(col::RATE_MAX, ld(&c.sess_rate_max));
    if px.is_http() {
        set_hrsp(&mut r, c);
    }
    r.set(col::CLI_ABRT, ld(&c.cli_abrt));
    r.set(col::SRV_ABRT, ld(&c.srv_abrt));
    r
}

/// `show stat <iid> <type> <sid>` bounds (1.4 `STAT_BOUND`): `iid` −1 = every proxy, `types`
/// a mask of [`RowKind::mask`] bits, `sid` −1 = every server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound {
    pub iid: i64,
    pub types: i64,
    pub sid: i64,
}

/// Every row of `px` in 1.4's order (FRONTEND, servers in declaration order, BACKEND),
/// restricted by `bound` when given. Listener rows (`option socket-stats`) are not produced:
/// haproxide keeps no per-listener counters.
pub fn proxy_rows(rt: &Runtime, px: &Proxy, bound: Option<Bound>, hide_down: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    if let Some(b) = bound {
        if b.iid != -1 && i64::from(px.uuid) != b.iid {
            return rows;
        }
    }
    let wants = |k: RowKind| bound.is_none_or(|b| b.types & k.mask() != 0);
    let now_s = u64::from(crate::counters::now_sec());
    let now = Instant::now();
    if px.cfg.kind.has_fe() && wants(RowKind::Frontend) {
        rows.push(frontend(rt, px));
    }
    if wants(RowKind::Server) {
        for s in &px.servers {
            if let Some(b) = bound {
                if b.sid != -1 && i64::from(s.puid) != b.sid {
                    continue;
                }
            }
            if hide_down {
                let st = check::display_state(rt, s);
                if st.sv_state().is_none_or(|n| n == 0) || s.maint.load(Relaxed) {
                    continue;
                }
            }
            rows.push(server(rt, px, s, now_s, now));
        }
    }
    if px.cfg.kind.has_be() && wants(RowKind::Backend) {
        rows.push(backend(px, now_s));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_matches_1_4() {
        let mut h = String::from("# ");
        for f in HEADER {
            h.push_str(f);
            h.push(',');
        }
        assert_eq!(
            h,
            "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,\
             wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,\
             sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,\
             check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,\
             req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,"
        );
        assert_eq!(HEADER[col::SRV_ABRT], "srv_abrt");
        assert_eq!(HEADER[col::HRSP_OTHER], "hrsp_other");
        assert_eq!(HEADER[col::CHECK_DURATION], "check_duration");
    }

    #[test]
    fn kinds_and_masks() {
        assert_eq!(RowKind::Frontend.mask(), 1);
        assert_eq!(RowKind::Backend.mask(), 2);
        assert_eq!(RowKind::Server.mask(), 4);
        assert_eq!(RowKind::Socket.mask(), 8);
    }
}
