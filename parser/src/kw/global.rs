//! The `global` section (compare with 1.4 `cfg_parse_global` in `src/cfgparse.c` and
//! `stats_parse_global` in `src/dumpstats.c`).
//!
//! Keywords: chroot daemon debug description gid group log log-send-hostname log-tag
//! maxconn maxpipes nbproc node noepoll nokqueue nopoll nosepoll nosplice pidfile quiet
//! spread-checks stats (socket, timeout, maxconn) tune.bufsize tune.chksize tune.maxaccept
//! tune.maxpollevents tune.maxrewrite tune.rcvbuf.client tune.rcvbuf.server
//! tune.sndbuf.client tune.sndbuf.server uid ulimit-n user.
//!
//! `user`/`group` are resolved while parsing (getpwnam/getgrnam through `nix`), as 1.4
//! does, unless name resolution is disabled, in which case they are refused.

use super::{KeywordInfo, Ln, Parser, Sections};
use crate::ir::*;
use crate::span::Spanned;
use crate::value::{atol, lossy, parse_time, str2sa, strtoul, TimeUnit};
use std::path::PathBuf;

type ParseFn = fn(&mut Parser, &Ln);

/// One `global` keyword.
pub struct GlobalKw {
    pub name: &'static str,
    pub parse: ParseFn,
    pub doc: &'static str,
}

impl GlobalKw {
    pub fn info(&self) -> KeywordInfo {
        KeywordInfo {
            name: self.name,
            sections: Sections::GLOBAL,
            doc: self.doc,
        }
    }
}

macro_rules! kw {
    ($name:expr, $f:expr, $doc:expr) => {
        GlobalKw {
            name: $name,
            parse: $f,
            doc: $doc,
        }
    };
}

pub static KEYWORDS: &[GlobalKw] = &[
    kw!(
        "chroot",
        chroot,
        "chroot to this directory before dropping privileges"
    ),
    kw!(
        "daemon",
        |p, l| p.g.ir.daemon = Some(l.span.clone()),
        "fork into the background (= -D)"
    ),
    kw!(
        "debug",
        |p, l| p.g.ir.debug = Some(l.span.clone()),
        "debug mode: stay in foreground and dump traffic (= -d)"
    ),
    kw!(
        "description",
        description,
        "free text shown on the stats page"
    ),
    kw!("gid", gid, "numeric group id to switch to"),
    kw!(
        "group",
        group,
        "group name to switch to (resolved while parsing)"
    ),
    kw!(
        "log",
        log,
        "global syslog target: <address> <facility> [max [min]] (two at most)"
    ),
    kw!(
        "log-send-hostname",
        log_send_hostname,
        "put the host name (or the given name) in syslog headers"
    ),
    kw!("log-tag", log_tag, "syslog tag (default: program name)"),
    kw!("maxconn", maxconn, "process-wide connection limit (= -n)"),
    kw!("maxpipes", maxpipes, "number of pipes for splicing"),
    kw!("nbproc", nbproc, "number of processes when daemonized"),
    kw!("node", node, "node name shown on the stats page"),
    kw!(
        "noepoll",
        |p, l| p.g.ir.noepoll = Some(l.span.clone()),
        "disable the epoll poller (= -de)"
    ),
    kw!(
        "nokqueue",
        |p, l| p.g.ir.nokqueue = Some(l.span.clone()),
        "disable the kqueue poller (= -dk)"
    ),
    kw!(
        "nopoll",
        |p, l| p.g.ir.nopoll = Some(l.span.clone()),
        "disable the poll poller (= -dp)"
    ),
    kw!(
        "nosepoll",
        |p, l| p.g.ir.nosepoll = Some(l.span.clone()),
        "disable the sepoll poller (= -ds)"
    ),
    kw!(
        "nosplice",
        |p, l| p.g.ir.nosplice = Some(l.span.clone()),
        "disable kernel splicing (= -dS)"
    ),
    kw!(
        "pidfile",
        pidfile,
        "write the pids of the processes to this file (= -p)"
    ),
    kw!(
        "quiet",
        |p, l| p.g.ir.quiet = Some(l.span.clone()),
        "no startup messages (= -q)"
    ),
    kw!(
        "spread-checks",
        spread_checks,
        "random jitter (0..50%) added to check intervals"
    ),
    kw!(
        "stats",
        stats,
        "stats socket / stats timeout / stats maxconn (see the stats rows)"
    ),
    kw!("tune.bufsize", tune_bufsize, "buffer size (default 16384)"),
    kw!(
        "tune.chksize",
        tune_chksize,
        "health-check buffer size (default 16384)"
    ),
    kw!(
        "tune.maxaccept",
        tune_maxaccept,
        "connections accepted per wake-up (-1 = unlimited)"
    ),
    kw!(
        "tune.maxpollevents",
        tune_maxpollevents,
        "events processed per poll (default 200)"
    ),
    kw!(
        "tune.maxrewrite",
        tune_maxrewrite,
        "buffer space reserved for rewrites (default bufsize/2)"
    ),
    kw!(
        "tune.rcvbuf.client",
        |p, l| tune_buf(p, l, Which::RcvCli),
        "client-side socket receive buffer"
    ),
    kw!(
        "tune.rcvbuf.server",
        |p, l| tune_buf(p, l, Which::RcvSrv),
        "server-side socket receive buffer"
    ),
    kw!(
        "tune.sndbuf.client",
        |p, l| tune_buf(p, l, Which::SndCli),
        "client-side socket send buffer"
    ),
    kw!(
        "tune.sndbuf.server",
        |p, l| tune_buf(p, l, Which::SndSrv),
        "server-side socket send buffer"
    ),
    kw!("uid", uid, "numeric user id to switch to"),
    kw!("ulimit-n", ulimit_n, "RLIMIT_NOFILE to set"),
    kw!(
        "user",
        user,
        "user name to switch to (resolved while parsing)"
    ),
];

/// The `stats` sub-keywords of the global section.
pub static STATS_KEYWORDS: &[KeywordInfo] = &[
    KeywordInfo {
        name: "stats socket",
        sections: Sections::GLOBAL,
        doc: "UNIX CLI socket: <path> [uid|user] [gid|group] [mode] [level]",
    },
    KeywordInfo {
        name: "stats timeout",
        sections: Sections::GLOBAL,
        doc: "CLI idle timeout (default 10s)",
    },
    KeywordInfo {
        name: "stats maxconn",
        sections: Sections::GLOBAL,
        doc: "CLI concurrent connections (default 10)",
    },
];

/// Parses one line of the `global` section.
pub fn parse(p: &mut Parser, l: &Ln) {
    if l.is(0, "global") {
        return;
    }
    let name = l.a(0);
    match KEYWORDS.iter().find(|k| k.name.as_bytes() == name) {
        Some(k) => (k.parse)(p, l),
        None => p.d.alert(
            &l.span,
            format!("unknown keyword '{}' in 'global' section", l.s(0)),
        ),
    }
}

fn already(p: &mut Parser, l: &Ln) {
    p.d.alert_nf(
        &l.span,
        format!("'{}' already specified. Continuing.", l.s(0)),
    );
}

fn expects_int(p: &mut Parser, l: &Ln) -> bool {
    if !l.has(1) {
        p.d.alert(
            &l.span,
            format!("'{}' expects an integer argument.", l.s(0)),
        );
        return false;
    }
    true
}

fn val_u32(l: &Ln, i: usize) -> Spanned<u32> {
    Spanned::new(l.span.clone(), atol(l.a(i)) as i32 as u32)
}

fn is_set(v: &Option<Spanned<u32>>) -> bool {
    v.as_ref().is_some_and(|v| v.node != 0)
}

fn maxconn(p: &mut Parser, l: &Ln) {
    if is_set(&p.g.ir.maxconn) {
        return already(p, l);
    }
    if expects_int(p, l) {
        p.g.ir.maxconn = Some(val_u32(l, 1));
    }
}

fn maxpipes(p: &mut Parser, l: &Ln) {
    if is_set(&p.g.ir.maxpipes) {
        return already(p, l);
    }
    if expects_int(p, l) {
        p.g.ir.maxpipes = Some(val_u32(l, 1));
    }
}

fn ulimit_n(p: &mut Parser, l: &Ln) {
    if is_set(&p.g.ir.ulimit_n) {
        return already(p, l);
    }
    if expects_int(p, l) {
        p.g.ir.ulimit_n = Some(val_u32(l, 1));
    }
}

fn nbproc(p: &mut Parser, l: &Ln) {
    if p.g.nbproc != 0 {
        return already(p, l);
    }
    if expects_int(p, l) {
        p.g.nbproc = i64::from(atol(l.a(1)) as i32);
        p.g.ir.nbproc = Some(val_u32(l, 1));
    }
}

fn tune_maxpollevents(p: &mut Parser, l: &Ln) {
    if is_set(&p.g.ir.tune.maxpollevents) {
        return already(p, l);
    }
    if expects_int(p, l) {
        p.g.ir.tune.maxpollevents = Some(val_u32(l, 1));
    }
}

fn tune_maxaccept(p: &mut Parser, l: &Ln) {
    if p.g.ir.tune.maxaccept.as_ref().is_some_and(|v| v.node != 0) {
        return already(p, l);
    }
    if expects_int(p, l) {
        p.g.ir.tune.maxaccept = Some(Spanned::new(l.span.clone(), atol(l.a(1)) as i32));
    }
}

fn tune_chksize(p: &mut Parser, l: &Ln) {
    if expects_int(p, l) {
        p.g.ir.tune.chksize = Some(val_u32(l, 1));
    }
}

fn tune_bufsize(p: &mut Parser, l: &Ln) {
    if expects_int(p, l) {
        let v = val_u32(l, 1);
        p.g.bufsize = v.node;
        // 1.4 caps maxrewrite at half the buffer when bufsize changes
        if let Some(mr) = &mut p.g.ir.tune.maxrewrite {
            if mr.node >= v.node / 2 {
                mr.node = v.node / 2;
            }
        }
        p.g.ir.tune.bufsize = Some(v);
    }
}

fn tune_maxrewrite(p: &mut Parser, l: &Ln) {
    if expects_int(p, l) {
        let mut v = val_u32(l, 1);
        if v.node >= p.g.bufsize / 2 {
            v.node = p.g.bufsize / 2;
        }
        p.g.ir.tune.maxrewrite = Some(v);
        p.g.maxrewrite_set = true;
    }
}

enum Which {
    RcvCli,
    RcvSrv,
    SndCli,
    SndSrv,
}

fn tune_buf(p: &mut Parser, l: &Ln, w: Which) {
    let slot_set = {
        let t = &p.g.ir.tune;
        match w {
            Which::RcvCli => is_set(&t.rcvbuf_client),
            Which::RcvSrv => is_set(&t.rcvbuf_server),
            Which::SndCli => is_set(&t.sndbuf_client),
            Which::SndSrv => is_set(&t.sndbuf_server),
        }
    };
    if slot_set {
        return already(p, l);
    }
    if !expects_int(p, l) {
        return;
    }
    let v = Some(val_u32(l, 1));
    let t = &mut p.g.ir.tune;
    match w {
        Which::RcvCli => t.rcvbuf_client = v,
        Which::RcvSrv => t.rcvbuf_server = v,
        Which::SndCli => t.sndbuf_client = v,
        Which::SndSrv => t.sndbuf_server = v,
    }
}

/// True when `w` is what C `atol` reads as a number (optional sign, then a digit).
fn looks_numeric(w: &[u8]) -> bool {
    let w = match w.first() {
        Some(b'-' | b'+') => &w[1..],
        _ => w,
    };
    w.first().is_some_and(|c| c.is_ascii_digit())
}

fn uid(p: &mut Parser, l: &Ln) {
    if p.g.uid != 0 {
        p.d.alert_nf(&l.span, "user/uid already specified. Continuing.");
        return;
    }
    if !expects_int(p, l) {
        return;
    }
    if !looks_numeric(l.a(1)) {
        // departure: 1.4 silently read a name here as 0 (root)
        p.d.alert(
            &l.span,
            format!(
                "'uid' expects a numeric user id, got '{}' (HAProxy 1.4 silently read it as 0 = root); use 'user {}' instead.",
                l.s(1),
                l.s(1)
            ),
        );
        return;
    }
    p.g.uid = atol(l.a(1));
    p.g.ir.uid = Some(val_u32(l, 1));
}

fn gid(p: &mut Parser, l: &Ln) {
    if p.g.gid != 0 {
        p.d.alert_nf(&l.span, "group/gid already specified. Continuing.");
        return;
    }
    if !expects_int(p, l) {
        return;
    }
    if !looks_numeric(l.a(1)) {
        p.d.alert(
            &l.span,
            format!(
                "'gid' expects a numeric group id, got '{}' (HAProxy 1.4 silently read it as 0 = root); use 'group {}' instead.",
                l.s(1),
                l.s(1)
            ),
        );
        return;
    }
    p.g.gid = atol(l.a(1));
    p.g.ir.gid = Some(val_u32(l, 1));
}

/// getpwnam through nix; `None` when unknown or when resolution is disabled.
pub fn lookup_user(p: &Parser, name: &[u8]) -> Option<u32> {
    if !p.opts.resolve_names {
        return None;
    }
    let n = std::str::from_utf8(name).ok()?;
    nix::unistd::User::from_name(n)
        .ok()
        .flatten()
        .map(|u| u.uid.as_raw())
}

/// getgrnam through nix; `None` when unknown or when resolution is disabled.
pub fn lookup_group(p: &Parser, name: &[u8]) -> Option<u32> {
    if !p.opts.resolve_names {
        return None;
    }
    let n = std::str::from_utf8(name).ok()?;
    nix::unistd::Group::from_name(n)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
}

fn user(p: &mut Parser, l: &Ln) {
    if p.g.uid != 0 {
        p.d.alert_nf(&l.span, "user/uid already specified. Continuing.");
        return;
    }
    match lookup_user(p, l.a(1)) {
        Some(id) => {
            p.g.uid = i64::from(id);
            p.g.ir.user = Some(Spanned::new(
                l.span.clone(),
                ResolvedId {
                    name: l.s(1).into_owned(),
                    id,
                },
            ));
        }
        None => p.d.alert(
            &l.span,
            format!("cannot find user id for '{}' (0:Success)", l.s(1)),
        ),
    }
}

fn group(p: &mut Parser, l: &Ln) {
    if p.g.gid != 0 {
        p.d.alert_nf(&l.span, "gid/group was already specified. Continuing.");
        return;
    }
    match lookup_group(p, l.a(1)) {
        Some(id) => {
            p.g.gid = i64::from(id);
            p.g.ir.group = Some(Spanned::new(
                l.span.clone(),
                ResolvedId {
                    name: l.s(1).into_owned(),
                    id,
                },
            ));
        }
        None => p.d.alert(
            &l.span,
            format!("cannot find group id for '{}' (0:Success)", l.s(1)),
        ),
    }
}

fn chroot(p: &mut Parser, l: &Ln) {
    if p.g.ir.chroot.is_some() {
        return already(p, l);
    }
    if !l.has(1) {
        p.d.alert(
            &l.span,
            format!("'{}' expects a directory as an argument.", l.s(0)),
        );
        return;
    }
    p.g.ir.chroot = Some(Spanned::new(l.span.clone(), PathBuf::from(lossy(l.a(1)))));
}

/// Joins words `from..` with single spaces (1.4 `description`, `stats show-desc`).
pub fn join_words(l: &Ln, from: usize) -> String {
    l.rest(from)
        .iter()
        .map(|w| lossy(w))
        .collect::<Vec<_>>()
        .join(" ")
}

fn description(p: &mut Parser, l: &Ln) {
    if !l.has(1) {
        p.d.alert_t(&l.span, format!("'{}' expects a string argument.", l.s(0)));
        return;
    }
    p.g.ir.description = Some(Spanned::new(l.span.clone(), join_words(l, 1)));
}

/// 1.4's node-name charset: `[A-Za-z0-9_.-]+`.
pub fn valid_node(w: &[u8]) -> bool {
    !w.is_empty()
        && w.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
}

fn node(p: &mut Parser, l: &Ln) {
    if !valid_node(l.a(1)) {
        p.d.alert_t(
            &l.span,
            format!(
                "'{}' requires valid node name - non-empty string with digits(0-9), letters(A-Z, a-z), dot(.), hyphen(-) or underscode(_).",
                l.s(0)
            ),
        );
        return;
    }
    p.g.ir.node = Some(Spanned::new(l.span.clone(), l.s(1).into_owned()));
}

fn pidfile(p: &mut Parser, l: &Ln) {
    if p.g.ir.pidfile.is_some() {
        return already(p, l);
    }
    if !l.has(1) {
        p.d.alert(
            &l.span,
            format!("'{}' expects a file name as an argument.", l.s(0)),
        );
        return;
    }
    p.g.ir.pidfile = Some(Spanned::new(l.span.clone(), PathBuf::from(lossy(l.a(1)))));
}

/// Facility code of a syslog facility name.
pub fn facility(w: &[u8]) -> Option<u8> {
    FACILITIES
        .iter()
        .position(|f| f.as_bytes() == w)
        .map(|i| i as u8)
}

/// Level number of a syslog level name.
pub fn level(w: &[u8]) -> Option<u8> {
    LEVELS
        .iter()
        .position(|f| f.as_bytes() == w)
        .map(|i| i as u8)
}

/// `sizeof(sun_path) - 1` on Linux.
pub const UNIX_PATH_MAX: usize = 107;

/// The address part of a `log` line: a UNIX path or `str2sa` with port 514 by default.
/// Reports 1.4's message and returns `None` on failure.
pub fn log_addr(p: &mut Parser, l: &Ln) -> Option<LogAddr> {
    let a = l.a(1);
    if a.first() == Some(&b'/') {
        if a.len() > UNIX_PATH_MAX {
            p.d.alert(
                &l.span,
                format!("Socket path '{}' too long (max {})", l.s(1), UNIX_PATH_MAX),
            );
            return None;
        }
        return Some(LogAddr::Unix(PathBuf::from(lossy(a))));
    }
    match str2sa(a, &p.res) {
        Some((ip, port)) => {
            let port = if port == 0 { 514 } else { port };
            Some(LogAddr::Udp(std::net::SocketAddr::new(ip.into(), port)))
        }
        None => {
            p.d.alert(&l.span, format!("Unknown host in '{}'", l.s(1)));
            None
        }
    }
}

fn log(p: &mut Parser, l: &Ln) {
    if !l.has(1) || !l.has(2) {
        p.d.alert(
            &l.span,
            format!(
                "'{}' expects <address> and <facility> as arguments.",
                l.s(0)
            ),
        );
        return;
    }
    let fac = facility(l.a(2)).unwrap_or_else(|| {
        p.d.alert(&l.span, format!("unknown log facility '{}'", l.s(2)));
        0
    });
    let mut max = 7;
    if l.has(3) {
        max = level(l.a(3)).unwrap_or_else(|| {
            p.d.alert(&l.span, format!("unknown optional log level '{}'", l.s(3)));
            0
        });
    }
    let mut min = 0;
    if l.has(4) {
        min = level(l.a(4)).unwrap_or_else(|| {
            p.d.alert(
                &l.span,
                format!("unknown optional minimum log level '{}'", l.s(4)),
            );
            0
        });
    }
    let Some(addr) = log_addr(p, l) else {
        return;
    };
    if p.g.ir.logs.len() >= 2 {
        p.d.alert(&l.span, "too many syslog servers");
        return;
    }
    p.g.ir.logs.push(Spanned::new(
        l.span.clone(),
        LogTarget {
            addr,
            facility: fac,
            max_level: max,
            min_level: min,
        },
    ));
}

fn log_send_hostname(p: &mut Parser, l: &Ln) {
    if p.g.ir.log_send_hostname.is_some() {
        return already(p, l);
    }
    let name = if l.has(1) {
        Some(l.s(1).into_owned())
    } else {
        None
    };
    p.g.ir.log_send_hostname = Some(Spanned::new(l.span.clone(), name));
}

fn log_tag(p: &mut Parser, l: &Ln) {
    if !l.has(1) {
        p.d.alert(
            &l.span,
            format!("'{}' expects a tag for use in syslog.", l.s(0)),
        );
        return;
    }
    p.g.ir.log_tag = Some(Spanned::new(l.span.clone(), l.s(1).into_owned()));
}

fn spread_checks(p: &mut Parser, l: &Ln) {
    if is_set(&p.g.ir.spread_checks) {
        p.d.alert_nf_t(&l.span, "spread-checks already specified. Continuing.");
        return;
    }
    if !l.has(1) {
        p.d.alert_t(
            &l.span,
            format!("'{}' expects an integer argument (0..50).", l.s(0)),
        );
        return;
    }
    let v = atol(l.a(1)) as i32;
    p.g.ir.spread_checks = Some(Spanned::new(l.span.clone(), v as u32));
    if !(0..=50).contains(&v) {
        p.d.alert_t(
            &l.span,
            "'spread-checks' needs a positive value in range 0..50.",
        );
    }
}

fn stats(p: &mut Parser, l: &Ln) {
    if let Err(msg) = stats_inner(p, l) {
        p.d.alert(&l.span, msg);
    }
}

fn stats_inner(p: &mut Parser, l: &Ln) -> Result<(), String> {
    if l.is(1, "socket") {
        if !l.has(2) {
            return Err("'stats socket' in global section expects a path to a UNIX socket".into());
        }
        if p.g.ir.stats_socket.is_some() {
            return Err("'stats socket' already specified in global section".into());
        }
        if l.a(2).len() > UNIX_PATH_MAX {
            return Err("'stats socket' path would require truncation".into());
        }
        let mut s = StatsSocket {
            path: PathBuf::from(lossy(l.a(2))),
            uid: None,
            gid: None,
            mode: None,
            level: CliLevel::Operator,
        };
        let mut i = 3;
        while l.has(i) {
            match l.a(i) {
                b"uid" => s.uid = Some(atol(l.a(i + 1)) as i32 as u32),
                b"gid" => s.gid = Some(atol(l.a(i + 1)) as i32 as u32),
                b"mode" => s.mode = Some(strtoul(l.a(i + 1), 8).0 as u32),
                b"user" => match lookup_user(p, l.a(i + 1)) {
                    Some(id) => s.uid = Some(id),
                    None => {
                        return Err(format!(
                            "unknown user '{}' in 'global' section ('stats user')",
                            l.s(i + 1)
                        ))
                    }
                },
                b"group" => match lookup_group(p, l.a(i + 1)) {
                    Some(id) => s.gid = Some(id),
                    None => {
                        return Err(format!(
                            "unknown group '{}' in 'global' section ('stats group')",
                            l.s(i + 1)
                        ))
                    }
                },
                b"level" => {
                    s.level = match l.a(i + 1) {
                        b"user" => CliLevel::User,
                        b"operator" => CliLevel::Operator,
                        b"admin" => CliLevel::Admin,
                        _ => {
                            return Err(
                                "'stats socket level' only supports 'user', 'operator', and 'admin'"
                                    .into(),
                            )
                        }
                    }
                }
                _ => {
                    return Err("'stats socket' only supports 'user', 'uid', 'group', 'gid', 'level', and 'mode'".into())
                }
            }
            i += 2;
        }
        p.g.ir.stats_socket = Some(Spanned::new(l.span.clone(), s));
    } else if l.is(1, "timeout") {
        let t = parse_time(l.a(2), TimeUnit::Ms).map_err(|c| {
            format!(
                "unexpected character '{}' in 'stats timeout' in 'global' section",
                crate::value::show_char(c)
            )
        })?;
        if t == 0 {
            return Err(
                "a positive value is expected for 'stats timeout' in 'global section'".into(),
            );
        }
        p.g.ir.stats_timeout = Some(Spanned::new(l.span.clone(), t));
    } else if l.is(1, "maxconn") {
        let v = atol(l.a(2)) as i32;
        if v <= 0 {
            return Err(
                "a positive value is expected for 'stats maxconn' in 'global section'".into(),
            );
        }
        p.g.ir.stats_maxconn = Some(Spanned::new(l.span.clone(), v as u32));
    } else {
        return Err(
            "'stats' only supports 'socket', 'maxconn' and 'timeout' in 'global' section".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(facility(b"local0"), Some(16));
        assert_eq!(facility(b"kern"), Some(0));
        assert_eq!(facility(b"local9"), None);
        assert_eq!(level(b"info"), Some(6));
        assert_eq!(level(b"err"), Some(3));
        assert!(valid_node(b"node-1.a_b"));
        assert!(!valid_node(b"a b"));
        assert!(!valid_node(b""));
        assert!(looks_numeric(b"33"));
        assert!(looks_numeric(b"-1"));
        assert!(!looks_numeric(b"nobody"));
    }
}
