//! `server` and `default-server` lines (compare with the `server` branch of 1.4
//! `cfg_parse_listen` in `src/cfgparse.c`).
//!
//! Parameters: addr backup check cookie disabled downinter error-limit fall fastinter id
//! inter maxconn maxqueue minconn observe on-error port redir rise slowstart source
//! (with usesrc and interface) track weight. `default-server` accepts the subset 1.4
//! allows and changes the values copied into the following `server` lines.

use super::proxy::{not_in_defaults, parse_usesrc};
use super::{KeywordInfo, Ln, Parser, Sections};
use crate::ir::*;
use crate::section::{Cap, DefSrv, Px, SrvExtra};
use crate::span::Spanned;
use crate::value::{
    atol, invalid_char, lossy, parse_time, show_char, str2sa, str2sa_range, TimeUnit,
};
use std::net::IpAddr;

/// Documentation rows for the server parameters: (name, allowed in default-server, doc).
pub static PARAMS: &[(&str, bool, &str)] = &[
    ("server addr", false, "health-check address"),
    (
        "server backup",
        false,
        "only used when no active server is usable",
    ),
    ("server check", false, "enable health checks"),
    (
        "server cookie",
        false,
        "persistence cookie value of this server",
    ),
    ("server disabled", false, "start in maintenance"),
    ("server downinter", true, "check interval while DOWN"),
    (
        "server error-limit",
        true,
        "consecutive errors before on-error acts",
    ),
    ("server fall", true, "failed checks before DOWN"),
    (
        "server fastinter",
        true,
        "check interval while changing state",
    ),
    ("server id", false, "numeric server id"),
    ("server inter", true, "check interval"),
    (
        "server maxconn",
        true,
        "concurrent connections (excess is queued)",
    ),
    ("server maxqueue", true, "queue limit"),
    (
        "server minconn",
        true,
        "dynamic connection limit floor (needs fullconn)",
    ),
    (
        "server observe",
        false,
        "passive health from traffic: layer4 or layer7",
    ),
    (
        "server on-error",
        true,
        "fastinter, fail-check, sudden-death or mark-down",
    ),
    ("server port", true, "health-check port"),
    (
        "server redir",
        false,
        "answer GET/HEAD with a 302 to this prefix",
    ),
    ("server rise", true, "good checks before UP"),
    ("server slowstart", true, "ramp-up time after recovery"),
    (
        "server source",
        false,
        "per-server source address [usesrc ...] [interface ...]",
    ),
    ("server track", false, "mirror another server's state"),
    ("server weight", true, "load-balancing weight 0..256"),
];

/// The server parameters as documentation rows.
pub fn info() -> impl Iterator<Item = KeywordInfo> {
    PARAMS.iter().map(|(n, d, doc)| KeywordInfo {
        name: n,
        sections: Sections::of(if *d { "DLB" } else { "LB" }),
        doc,
    })
}

/// 1.4 `SRV_UWGHT_MAX`.
const SRV_UWGHT_MAX: i64 = 256;

pub fn server(p: &mut Parser, px: &mut Px, l: &Ln) {
    common(p, px, l, false);
}

pub fn default_server(p: &mut Parser, px: &mut Px, l: &Ln) {
    common(p, px, l, true);
}

/// Which structure the parameters of the line go to.
enum Target {
    Server(Box<(Server, SrvExtra)>),
    Def(DefSrv),
}

fn common(p: &mut Parser, px: &mut Px, l: &Ln, defsrv: bool) {
    if !defsrv && not_in_defaults(p, px, l) {
        return;
    }
    let name = l.s(0).into_owned();
    if p.warnifnotcap(px, Cap::BE, &l.span, &name, None) {
        // 1.4 prints its capability warning here but counts it as a fatal error
        p.d.mark_fatal();
    }
    if !l.has(2) {
        p.d.alert(
            &l.span,
            format!(
                "'{}' expects <name> and <addr>[:<port>] as arguments.",
                l.s(0)
            ),
        );
        return;
    }
    if let Some(c) = invalid_char(l.a(1)) {
        p.d.alert(
            &l.span,
            format!(
                "character '{}' is not permitted in server name '{}'.",
                show_char(c),
                l.s(1)
            ),
        );
        return;
    }
    let (mut target, mut cur) = if defsrv {
        (Target::Def(px.defsrv.clone()), 1)
    } else {
        let d = &px.defsrv;
        let raw = l.a(2);
        let (host, mapports, port) = match raw.iter().position(|c| *c == b':') {
            Some(c) => {
                let rport = &raw[c + 1..];
                let realport = atol(rport) as i16;
                (
                    &raw[..c],
                    !rport.first().is_some_and(|c| c.is_ascii_digit()),
                    realport,
                )
            }
            None => (raw, true, 0),
        };
        let Some((ip, _)) = str2sa(host, &p.res) else {
            p.d.alert(&l.span, format!("Unknown host in '{}'", l.s(2)));
            return;
        };
        let srv = Server {
            name: l.s(1).into_owned(),
            addr: ServerAddr {
                ip: (!ip.is_unspecified()).then_some(IpAddr::V4(ip)),
                port: if mapports {
                    if port == 0 {
                        ServerPort::Same
                    } else {
                        ServerPort::Offset(i32::from(port))
                    }
                } else {
                    ServerPort::Fixed(port as u16)
                },
                text: l.s(2).into_owned(),
            },
            id: None,
            cookie: None,
            check: false,
            inter: d.inter,
            fastinter: (d.fastinter != 0).then_some(d.fastinter),
            downinter: (d.downinter != 0).then_some(d.downinter),
            rise: d.rise.max(0) as u32,
            fall: d.fall.max(0) as u32,
            check_port: (d.check_port != 0).then_some(d.check_port),
            check_addr: None,
            weight: d.weight.max(0) as u32,
            backup: false,
            disabled: false,
            maxconn: d.maxconn.max(0) as u32,
            maxqueue: d.maxqueue.max(0) as u32,
            minconn: d.minconn.max(0) as u32,
            slowstart: d.slowstart.saturating_mul(1000),
            track: None,
            redir: None,
            source: None,
            observe: None,
            on_error: d.on_error,
            error_limit: d.error_limit.max(0) as u32,
        };
        let extra = SrvExtra {
            track: None,
            mapports,
            minconn: d.minconn,
            maxconn: d.maxconn,
            maxqueue: d.maxqueue,
            redir: false,
            addr_port: 0,
        };
        (Target::Server(Box::new((srv, extra))), 3)
    };
    let ok = params(p, px, l, &mut target, &mut cur, defsrv);
    match target {
        Target::Def(d) => {
            if ok {
                px.defsrv = d;
            }
        }
        Target::Server(b) => {
            let (mut srv, extra) = *b;
            if ok && srv.check {
                finish_check(p, px, l, &mut srv, &extra);
            }
            // 1.4 links the server before reading its parameters: it exists even after
            // an error on its line
            px.ir.servers.push(Spanned::new(l.span.clone(), srv));
            px.srv_extra.push(extra);
        }
    }
}

/// Reads the parameters; returns false after an error (1.4 `goto out`).
fn params(
    p: &mut Parser,
    px: &mut Px,
    l: &Ln,
    t: &mut Target,
    cur: &mut usize,
    defsrv: bool,
) -> bool {
    let sname = match &mut *t {
        Target::Server(b) => b.0.name.clone(),
        Target::Def(_) => "default-server".to_string(),
    };
    while l.has(*cur) {
        let i = *cur;
        let arg = l.a(i);
        let srv_only = !defsrv;
        macro_rules! alert_t {
            ($($t:tt)*) => {{
                p.d.alert_t(&l.span, format!($($t)*));
                return false;
            }};
        }
        macro_rules! alert {
            ($($t:tt)*) => {{
                p.d.alert(&l.span, format!($($t)*));
                return false;
            }};
        }
        match (arg, &mut *t) {
            (b"id", Target::Server(b)) if srv_only => {
                if !l.has(i + 1) {
                    alert_t!("'{}' expects an integer argument.", l.s(i));
                }
                let v = atol(l.a(i + 1)) as i32;
                if v <= 0 {
                    alert_t!("custom id has to be > 0.");
                }
                if let Some((_, other, sp)) =
                    px.used_server_ids.iter().find(|(id, _, _)| *id == v as u32)
                {
                    let msg = format!(
                        "server {} reuses same custom id as server {} (declared at {}:{}).",
                        b.0.name, other, sp.file, sp.line
                    );
                    p.d.alert_t(&l.span, msg);
                    return false;
                }
                px.used_server_ids
                    .push((v as u32, b.0.name.clone(), l.span.clone()));
                b.0.id = Some(v as u32);
                *cur += 2;
            }
            (b"cookie", Target::Server(b)) if srv_only => {
                b.0.cookie = Some(l.s(i + 1).into_owned());
                *cur += 2;
            }
            (b"redir", Target::Server(b)) if srv_only => {
                b.0.redir = Some(l.s(i + 1).into_owned());
                b.1.redir = !l.a(i + 1).is_empty();
                *cur += 2;
            }
            (b"rise" | b"fall", _) => {
                if !l.has(i + 1) {
                    alert_t!("'{}' expects an integer argument.", l.s(i));
                }
                let v = atol(l.a(i + 1)) as i32;
                if v <= 0 {
                    alert_t!("'{}' has to be > 0.", l.s(i));
                }
                let rise = arg == b"rise";
                match &mut *t {
                    Target::Server(b) if rise => b.0.rise = v as u32,
                    Target::Server(b) => b.0.fall = v as u32,
                    Target::Def(d) if rise => d.rise = v,
                    Target::Def(d) => d.fall = v,
                }
                *cur += 2;
            }
            (b"inter" | b"fastinter" | b"downinter", _) => {
                let which = lossy(arg);
                let v = match parse_time(l.a(i + 1), TimeUnit::Ms) {
                    Ok(v) => v,
                    Err(c) => {
                        if arg == b"inter" {
                            alert!(
                                "unexpected character '{}' in 'inter' argument of server {}.",
                                show_char(c),
                                sname
                            );
                        }
                        alert_t!(
                            "unexpected character '{}' in '{}' argument of server {}.",
                            show_char(c),
                            which,
                            sname
                        );
                    }
                };
                if v == 0 {
                    alert_t!(
                        "invalid value {} for argument '{}' of server {}.",
                        v,
                        which,
                        sname
                    );
                }
                match (arg, &mut *t) {
                    (b"inter", Target::Server(b)) => b.0.inter = v,
                    (b"fastinter", Target::Server(b)) => b.0.fastinter = Some(v),
                    (_, Target::Server(b)) => b.0.downinter = Some(v),
                    (b"inter", Target::Def(d)) => d.inter = v,
                    (b"fastinter", Target::Def(d)) => d.fastinter = v,
                    (_, Target::Def(d)) => d.downinter = v,
                }
                *cur += 2;
            }
            (b"addr", Target::Server(b)) if srv_only => {
                match str2sa(l.a(i + 1), &p.res) {
                    Some((ip, port)) => {
                        b.0.check_addr = Some(IpAddr::V4(ip));
                        // 1.4 takes the check port from 'addr' when no 'port' is set
                        b.1.addr_port = port;
                    }
                    None => alert!("Unknown host in '{}'", l.s(i + 1)),
                }
                *cur += 2;
            }
            (b"port", _) => {
                let v = atol(l.a(i + 1)) as u16;
                match &mut *t {
                    Target::Server(b) => b.0.check_port = (v != 0).then_some(v),
                    Target::Def(d) => d.check_port = v,
                }
                *cur += 2;
            }
            (b"backup", Target::Server(b)) if srv_only => {
                b.0.backup = true;
                *cur += 1;
            }
            (b"weight", _) => {
                let w = atol(l.a(i + 1));
                let w32 = w as i32;
                if !(0..=SRV_UWGHT_MAX).contains(&i64::from(w32)) {
                    alert!(
                        "weight of server {} is not within 0 and {} ({}).",
                        sname,
                        SRV_UWGHT_MAX,
                        w32
                    );
                }
                match &mut *t {
                    Target::Server(b) => b.0.weight = w32 as u32,
                    Target::Def(d) => d.weight = w32,
                }
                *cur += 2;
            }
            (b"minconn" | b"maxconn" | b"maxqueue", _) => {
                let v = atol(l.a(i + 1)) as i32;
                match (arg, &mut *t) {
                    (b"minconn", Target::Server(b)) => b.1.minconn = v,
                    (b"maxconn", Target::Server(b)) => b.1.maxconn = v,
                    (_, Target::Server(b)) => b.1.maxqueue = v,
                    (b"minconn", Target::Def(d)) => d.minconn = v,
                    (b"maxconn", Target::Def(d)) => d.maxconn = v,
                    (_, Target::Def(d)) => d.maxqueue = v,
                }
                *cur += 2;
            }
            (b"slowstart", _) => {
                let v = match parse_time(l.a(i + 1), TimeUnit::Ms) {
                    Ok(v) => v,
                    Err(c) => alert!(
                        "unexpected character '{}' in 'slowstart' argument of server {}.",
                        show_char(c),
                        sname
                    ),
                };
                // stored in seconds, rounded up
                let secs = v / 1000 + u32::from(v % 1000 != 0);
                match &mut *t {
                    Target::Server(b) => b.0.slowstart = secs.saturating_mul(1000),
                    Target::Def(d) => d.slowstart = secs,
                }
                *cur += 2;
            }
            (b"track", Target::Server(b)) if srv_only => {
                if !l.has(i + 1) {
                    alert_t!("'track' expects [<proxy>/]<server> as argument.");
                }
                let s = l.s(i + 1).into_owned();
                b.0.track = Some(match s.rfind('/') {
                    Some(k) => ServerRef {
                        proxy: Some(s[..k].to_string()),
                        server: s[k + 1..].to_string(),
                    },
                    None => ServerRef {
                        proxy: None,
                        server: s.clone(),
                    },
                });
                b.1.track = Some(s);
                *cur += 2;
            }
            (b"check", Target::Server(b)) if srv_only => {
                b.0.check = true;
                *cur += 1;
            }
            (b"disabled", Target::Server(b)) if srv_only => {
                b.0.disabled = true;
                *cur += 1;
            }
            (b"observe", Target::Server(b)) if srv_only => {
                b.0.observe = match l.a(i + 1) {
                    b"none" => None,
                    b"layer4" => Some(Observe::Layer4),
                    b"layer7" => {
                        if *px.ir.mode != Mode::Http {
                            p.d.alert_nf_t(
                                &l.span,
                                format!("'{}' can only be used in http proxies.", l.s(i + 1)),
                            );
                        }
                        Some(Observe::Layer7)
                    }
                    _ => alert_t!(
                        "'{}' expects one of 'none', 'layer4', 'layer7' but got '{}'",
                        l.s(i),
                        l.s(i + 1)
                    ),
                };
                *cur += 2;
            }
            (b"on-error", _) => {
                let v = match l.a(i + 1) {
                    b"fastinter" => OnError::Fastinter,
                    b"fail-check" => OnError::FailCheck,
                    b"sudden-death" => OnError::SuddenDeath,
                    b"mark-down" => OnError::MarkDown,
                    _ => alert_t!(
                        "'{}' expects one of 'fastinter', 'fail-check', 'sudden-death' or 'mark-down' but got '{}'",
                        l.s(i),
                        l.s(i + 1)
                    ),
                };
                match &mut *t {
                    Target::Server(b) => b.0.on_error = v,
                    Target::Def(d) => d.on_error = v,
                }
                *cur += 2;
            }
            (b"error-limit", _) => {
                if !l.has(i + 1) {
                    alert_t!("'{}' expects an integer argument.", l.s(i));
                }
                let v = atol(l.a(i + 1)) as i32;
                if v <= 0 {
                    alert_t!("{} has to be > 0.", l.s(i));
                }
                match &mut *t {
                    Target::Server(b) => b.0.error_limit = v as u32,
                    Target::Def(d) => d.error_limit = v,
                }
                *cur += 2;
            }
            (b"source", Target::Server(b)) if srv_only => {
                if !l.has(i + 1) {
                    alert!(
                        "'{}' expects <addr>[:<port>[-<port>]], and optional '{}' <addr> as argument.",
                        "source",
                        "usesrc"
                    );
                }
                let Some((ip, lo, hi)) = str2sa_range(l.a(i + 1), &p.res) else {
                    alert!("Unknown host in '{}'", l.s(i + 1));
                };
                if lo != hi && (!(1..=65535).contains(&lo) || !(1..=65535).contains(&hi) || lo > hi)
                {
                    alert!("invalid source port range {}-{}.", lo as i32, hi as i32);
                }
                let mut src = Source {
                    addr: IpAddr::V4(ip),
                    port_lo: lo as u16,
                    port_hi: hi as u16,
                    usesrc: None,
                    interface: None,
                };
                *cur += 2;
                while l.has(*cur) {
                    let j = *cur;
                    if l.is(j, "usesrc") {
                        if !l.has(j + 1) {
                            p.d.alert(
                                &l.span,
                                format!(
                                    "'{}' expects <addr>[:<port>], 'client', 'clientip', or 'hdr_ip(name,#)' as argument.",
                                    "usesrc"
                                ),
                            );
                            return false;
                        }
                        match parse_usesrc(p, l.a(j + 1)) {
                            Ok(u) => src.usesrc = Some(u),
                            Err(msg) => {
                                p.d.alert(&l.span, msg);
                                return false;
                            }
                        }
                        *cur += 2;
                        continue;
                    }
                    if l.is(j, "interface") {
                        if !l.has(j + 1) {
                            p.d.alert(&l.span, format!("'{}' : missing interface name.", l.s(0)));
                            return false;
                        }
                        src.interface = Some(l.s(j + 1).into_owned());
                        *cur += 2;
                        continue;
                    }
                    break;
                }
                b.0.source = Some(src);
            }
            (b"usesrc", Target::Server(_)) if srv_only => {
                alert!(
                    "'{}' only allowed after a '{}' statement.",
                    "usesrc",
                    "source"
                );
            }
            _ => {
                if !defsrv {
                    alert!(
                        "server {} only supports options 'backup', 'cookie', 'redir', 'observer', 'on-error', 'error-limit', 'check', 'disabled', 'track', 'id', 'inter', 'fastinter', 'downinter', 'rise', 'fall', 'addr', 'port', 'source', 'minconn', 'maxconn', 'maxqueue', 'slowstart' and 'weight'.",
                        sname
                    );
                }
                alert_t!("default-server only supports options 'on-error', 'error-limit', 'inter', 'fastinter', 'downinter', 'rise', 'fall', 'port', 'minconn', 'maxconn', 'maxqueue', 'slowstart' and 'weight'.");
            }
        }
    }
    true
}

/// The check-port computation done when `check` is set (1.4 `do_check`).
fn finish_check(p: &mut Parser, px: &Px, l: &Ln, srv: &mut Server, extra: &SrvExtra) {
    if srv.track.is_some() {
        p.d.alert_t(
            &l.span,
            "unable to enable checks and tracking at the same time!",
        );
        srv.check = false;
        return;
    }
    let mut port = srv.check_port.unwrap_or(0);
    if port == 0 {
        port = extra.addr_port;
    }
    if port == 0 && !extra.mapports {
        if let ServerPort::Fixed(f) = srv.addr.port {
            port = f;
        }
    }
    if port == 0 {
        // the port of the most recently declared listener of this proxy
        if let Some(b) = px.ir.binds.last() {
            port = b.port_hi;
        }
    }
    if port == 0 {
        p.d.alert(
            &l.span,
            format!(
                "server {} has neither service port nor check port. Check has been disabled.",
                srv.name
            ),
        );
        srv.check = false;
        return;
    }
    srv.check_port = Some(port);
}
