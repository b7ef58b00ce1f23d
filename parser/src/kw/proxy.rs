//! Proxy sections: `defaults`, `frontend`, `backend`, `listen` (and the obsolete
//! `ruleset`), their header lines and their general keywords (compare with 1.4
//! `cfg_parse_listen` in `src/cfgparse.c`, `proxy_parse_timeout` and
//! `proxy_parse_rate_limit` in `src/proxy.c`, `backend_parse_balance` in `src/backend.c`).
//!
//! Keyword families with their own modules: `option`/`http-check` (option.rs),
//! `server`/`default-server` (server.rs), `cookie`/`appsession`/`persist`/`stick*`/
//! `force-persist`/`ignore-persist` (persist.rs), `stats` (stats.rs), HTTP rules, filters,
//! redirects and error pages (http.rs), ACLs and conditions (acl.rs).

use super::{acl, http, option, persist, server, stats};
use super::{KeywordInfo, Ln, Parser, Sections, Slot};
use crate::ir::*;
use crate::section::{inherit, Cap, Px};
use crate::span::{Span, Spanned};
use crate::value::{
    atol, invalid_char, lossy, mask_to_prefix, parse_time, show_char, str2listener, str2net,
    str2sa, str2uic, strtoul, TimeUnit,
};
use std::net::{IpAddr, SocketAddr};

pub type ParseFn = fn(&mut Parser, &mut Px, &Ln);

/// One proxy keyword (first word of a line).
pub struct ProxyKw {
    pub name: &'static str,
    pub sections: Sections,
    pub parse: ParseFn,
    pub doc: &'static str,
}

impl ProxyKw {
    pub fn info(&self) -> KeywordInfo {
        KeywordInfo {
            name: self.name,
            sections: self.sections,
            doc: self.doc,
        }
    }
}

macro_rules! kw {
    ($name:expr, $sec:expr, $f:expr, $doc:expr) => {
        ProxyKw {
            name: $name,
            sections: Sections::of($sec),
            parse: $f,
            doc: $doc,
        }
    };
}

fn nop(_: &mut Parser, _: &mut Px, _: &Ln) {}

/// Every first word a proxy section accepts, as the 1.4 manual's matrix lists them.
pub static KEYWORDS: &[ProxyKw] = &[
    kw!(
        "defaults",
        "D",
        nop,
        "section header: default values for the proxies that follow"
    ),
    kw!(
        "frontend",
        "F",
        nop,
        "section header: <name> [<addr:port>,...]"
    ),
    kw!(
        "listen",
        "L",
        nop,
        "section header: <name> [<addr:port>,...] (frontend and backend)"
    ),
    kw!("backend", "B", nop, "section header: <name>"),
    kw!(
        "ruleset",
        "FLB",
        nop,
        "obsolete section header of a proxy with no frontend or backend capability"
    ),
    kw!("acl", "FLB", acl_kw, "declare or extend a named ACL"),
    kw!(
        "appsession",
        "LB",
        persist::appsession,
        "learned-cookie persistence"
    ),
    kw!("backlog", "DFL", backlog, "listen() backlog"),
    kw!("balance", "DLB", balance, "load-balancing algorithm"),
    kw!("bind", "FL", bind, "listening addresses and their options"),
    kw!(
        "bind-process",
        "DFLB",
        bind_process,
        "restrict the proxy to some processes"
    ),
    kw!(
        "block",
        "FLB",
        block,
        "reject the request with 403 if/unless a condition"
    ),
    kw!(
        "capture",
        "FL",
        capture,
        "capture cookie / request header / response header for logs"
    ),
    kw!(
        "cliexp",
        "FLB",
        http::reqrep,
        "undocumented alias of reqrep"
    ),
    kw!("clitimeout", "DFL", timeout, "deprecated: timeout client"),
    kw!("contimeout", "DLB", timeout, "deprecated: timeout connect"),
    kw!("cookie", "DLB", persist::cookie, "cookie-based persistence"),
    kw!(
        "default-server",
        "DLB",
        server::default_server,
        "defaults for the following server lines"
    ),
    kw!(
        "default_backend",
        "DFL",
        default_backend,
        "backend used when no use_backend rule matches"
    ),
    kw!(
        "description",
        "FLB",
        description,
        "free text shown on the stats page"
    ),
    kw!("disabled", "DFLB", disabled, "start the proxy stopped"),
    kw!(
        "dispatch",
        "LB",
        dispatch,
        "fallback server address when there is no server"
    ),
    kw!(
        "enabled",
        "DFLB",
        enabled,
        "start the proxy (cancels a disabled from defaults)"
    ),
    kw!(
        "errorfile",
        "DFLB",
        http::errorfile,
        "raw HTTP response file for a status code"
    ),
    kw!(
        "errorloc",
        "DFLB",
        http::errorloc,
        "302 redirect instead of an error"
    ),
    kw!(
        "errorloc302",
        "DFLB",
        http::errorloc,
        "302 redirect instead of an error"
    ),
    kw!(
        "errorloc303",
        "DFLB",
        http::errorloc,
        "303 redirect instead of an error"
    ),
    kw!(
        "force-persist",
        "FLB",
        persist::force_ignore_persist,
        "use the persistent server even if down"
    ),
    kw!(
        "fullconn",
        "DLB",
        fullconn,
        "backend load at which servers reach maxconn"
    ),
    kw!(
        "grace",
        "DFLB",
        grace,
        "keep listening this long after a soft stop"
    ),
    kw!(
        "hash-type",
        "DLB",
        hash_type,
        "map-based or consistent hashing"
    ),
    kw!(
        "http-check",
        "DLB",
        option::http_check,
        "disable-on-404 / send-state / expect"
    ),
    kw!(
        "http-request",
        "FLB",
        http::http_request,
        "allow / deny / auth requests if/unless a condition"
    ),
    kw!(
        "http-send-name-header",
        "DLB",
        http_send_name_header,
        "send the server name in a request header"
    ),
    kw!("id", "FLB", id, "numeric proxy id"),
    kw!(
        "ignore-persist",
        "FLB",
        persist::force_ignore_persist,
        "skip persistence if/unless a condition"
    ),
    kw!(
        "log",
        "DFLB",
        log,
        "per-proxy syslog target or 'log global'"
    ),
    kw!(
        "maxconn",
        "DFL",
        maxconn,
        "frontend concurrent connection limit"
    ),
    kw!("mode", "DFLB", mode, "tcp, http or health"),
    kw!(
        "monitor",
        "FL",
        monitor,
        "monitor fail if/unless a condition"
    ),
    kw!(
        "monitor-net",
        "DFL",
        monitor_net,
        "sources that get a fixed reply"
    ),
    kw!(
        "monitor-uri",
        "DFL",
        monitor_uri,
        "URI answered locally with 200/503"
    ),
    kw!(
        "option",
        "DFLB",
        option::option,
        "boolean and parameterised options (see the option rows)"
    ),
    kw!("persist", "DLB", persist::persist, "persist rdp-cookie"),
    kw!("rate-limit", "DFL", rate_limit, "rate-limit sessions <n>"),
    kw!(
        "redirect",
        "FLB",
        http::redirect,
        "HTTP redirect if/unless a condition"
    ),
    kw!("redisp", "DLB", redispatch, "deprecated: option redispatch"),
    kw!(
        "redispatch",
        "DLB",
        redispatch,
        "deprecated: option redispatch"
    ),
    kw!(
        "reqadd",
        "FLB",
        http::reqadd,
        "append a request header line"
    ),
    kw!(
        "reqallow",
        "FLB",
        http::req_simple,
        "accept the request if a line matches"
    ),
    kw!(
        "reqdel",
        "FLB",
        http::req_simple,
        "delete matching request header lines"
    ),
    kw!(
        "reqdeny",
        "FLB",
        http::req_simple,
        "deny (403) if a request line matches"
    ),
    kw!(
        "reqiallow",
        "FLB",
        http::req_simple,
        "reqallow, case-insensitive"
    ),
    kw!(
        "reqidel",
        "FLB",
        http::req_simple,
        "reqdel, case-insensitive"
    ),
    kw!(
        "reqideny",
        "FLB",
        http::req_simple,
        "reqdeny, case-insensitive"
    ),
    kw!(
        "reqipass",
        "FLB",
        http::req_simple,
        "reqpass, case-insensitive"
    ),
    kw!("reqirep", "FLB", http::reqrep, "reqrep, case-insensitive"),
    kw!(
        "reqisetbe",
        "FLB",
        http::reqsetbe,
        "reqsetbe, case-insensitive"
    ),
    kw!(
        "reqitarpit",
        "FLB",
        http::req_simple,
        "reqtarpit, case-insensitive"
    ),
    kw!(
        "reqpass",
        "FLB",
        http::req_simple,
        "no verdict (a no-op in 1.4.25)"
    ),
    kw!(
        "reqrep",
        "FLB",
        http::reqrep,
        "rewrite matching request lines"
    ),
    kw!(
        "reqsetbe",
        "FLB",
        http::reqsetbe,
        "switch backend if a request line matches"
    ),
    kw!(
        "reqtarpit",
        "FLB",
        http::req_simple,
        "tarpit the request if a line matches"
    ),
    kw!("retries", "DLB", retries, "connection retries"),
    kw!(
        "rspadd",
        "FLB",
        http::rspadd,
        "append a response header line"
    ),
    kw!(
        "rspdel",
        "FLB",
        http::rsp_simple,
        "delete matching response header lines"
    ),
    kw!(
        "rspdeny",
        "FLB",
        http::rsp_simple,
        "replace the response with 502 if a line matches"
    ),
    kw!(
        "rspidel",
        "FLB",
        http::rsp_simple,
        "rspdel, case-insensitive"
    ),
    kw!(
        "rspideny",
        "FLB",
        http::rsp_simple,
        "rspdeny, case-insensitive"
    ),
    kw!("rspirep", "FLB", http::rsprep, "rsprep, case-insensitive"),
    kw!(
        "rsprep",
        "FLB",
        http::rsprep,
        "rewrite matching response lines"
    ),
    kw!(
        "server",
        "LB",
        server::server,
        "backend server and its parameters (see the server rows)"
    ),
    kw!("source", "DLB", source, "outgoing source address"),
    kw!(
        "srvexp",
        "FLB",
        http::rsprep,
        "undocumented alias of rsprep"
    ),
    kw!("srvtimeout", "DLB", timeout, "deprecated: timeout server"),
    kw!(
        "stats",
        "DFLB",
        stats::stats,
        "statistics page (see the stats rows)"
    ),
    kw!(
        "stick",
        "LB",
        persist::stick,
        "stick on / match / store-request / store-response"
    ),
    kw!(
        "stick-table",
        "LB",
        persist::stick_table,
        "stick table declaration"
    ),
    kw!(
        "tcp-request",
        "FL",
        http::tcp_request,
        "inspect-delay / content accept|reject"
    ),
    kw!(
        "timeout",
        "DFLB",
        timeout,
        "timeouts (see the timeout rows)"
    ),
    kw!(
        "transparent",
        "DLB",
        transparent,
        "deprecated: option transparent"
    ),
    kw!(
        "use_backend",
        "FL",
        use_backend,
        "switch to a backend if/unless a condition"
    ),
    kw!("usesrc", "LB", usesrc, "only valid after 'source'"),
];

/// Two-word keywords documented separately.
pub static SUBKEYWORDS: &[KeywordInfo] = &[
    sub(
        "capture cookie",
        "FL",
        "log the first cookie starting with a prefix",
    ),
    sub("capture request header", "FL", "log a request header value"),
    sub(
        "capture response header",
        "FL",
        "log a response header value",
    ),
    sub(
        "monitor fail",
        "FL",
        "make the monitor URI answer 503 if/unless a condition",
    ),
    sub("persist rdp-cookie", "DLB", "RDP cookie persistence"),
    sub(
        "rate-limit sessions",
        "DFL",
        "new sessions per second on the frontend",
    ),
    sub(
        "tcp-request inspect-delay",
        "FL",
        "how long to wait for content",
    ),
    sub(
        "tcp-request content",
        "FL",
        "accept or reject if/unless a condition",
    ),
    sub(
        "http-check disable-on-404",
        "DLB",
        "a 404 check reply stops load-balancing to the server",
    ),
    sub(
        "http-check expect",
        "DLB",
        "[!] status|rstatus|string|rstring <pattern>",
    ),
    sub(
        "http-check send-state",
        "DLB",
        "send X-Haproxy-Server-State with checks",
    ),
    sub(
        "stick on",
        "LB",
        "match and store a pattern in a stick table",
    ),
    sub("stick match", "LB", "match a pattern in a stick table"),
    sub(
        "stick store-request",
        "LB",
        "store a request pattern in a stick table",
    ),
    sub(
        "stick store-response",
        "LB",
        "store a pattern at response time",
    ),
];

const fn sub(name: &'static str, sec: &str, doc: &'static str) -> KeywordInfo {
    KeywordInfo {
        name,
        sections: Sections::of(sec),
        doc,
    }
}

/// The `timeout` sub-keywords (and their old aliases).
pub static TIMEOUTS: &[KeywordInfo] = &[
    sub(
        "timeout check",
        "DLB",
        "extra read timeout for health checks",
    ),
    sub("timeout client", "DFL", "client inactivity"),
    sub("timeout connect", "DLB", "server connect"),
    sub(
        "timeout http-keep-alive",
        "DFLB",
        "idle time between keep-alive requests",
    ),
    sub(
        "timeout http-request",
        "DFLB",
        "deadline for complete request headers",
    ),
    sub(
        "timeout queue",
        "DLB",
        "maximum time in queue (defaults to connect)",
    ),
    sub("timeout server", "DLB", "server inactivity"),
    sub(
        "timeout tarpit",
        "DFLB",
        "tarpit hold time (defaults to connect)",
    ),
    sub(
        "timeout clitimeout",
        "DFL",
        "undocumented alias of timeout client",
    ),
    sub(
        "timeout contimeout",
        "DLB",
        "undocumented alias of timeout connect",
    ),
    sub(
        "timeout srvtimeout",
        "DLB",
        "undocumented alias of timeout server",
    ),
];

/// The `balance` algorithms.
pub static BALANCE: &[KeywordInfo] = &[
    sub(
        "balance roundrobin",
        "DLB",
        "weighted round-robin (dynamic weights)",
    ),
    sub(
        "balance static-rr",
        "DLB",
        "weighted round-robin (static map)",
    ),
    sub("balance leastconn", "DLB", "fewest connections"),
    sub("balance source", "DLB", "hash of the client address"),
    sub(
        "balance uri",
        "DLB",
        "hash of the URI [len <n>] [depth <n>] [whole]",
    ),
    sub(
        "balance url_param",
        "DLB",
        "hash of a URL parameter [check_post [<max_wait>]]",
    ),
    sub(
        "balance hdr",
        "DLB",
        "hash of a header: hdr(<name>) [use_domain_only]",
    ),
    sub(
        "balance rdp-cookie",
        "DLB",
        "hash of an RDP cookie: rdp-cookie[(<name>)]",
    ),
];

/// Dispatches one line of a proxy section (1.4 `cfg_parse_listen`).
pub fn parse_listen_line(p: &mut Parser, l: &Ln) {
    match l.a(0) {
        b"listen" => return header(p, l, ProxyKind::Listen, Cap::LISTEN),
        b"frontend" => return header(p, l, ProxyKind::Frontend, Cap::FE.or(Cap::RS)),
        b"backend" => return header(p, l, ProxyKind::Backend, Cap::BE.or(Cap::RS)),
        b"ruleset" => return header(p, l, ProxyKind::Listen, Cap::RS),
        b"defaults" => {
            let fresh = Px::defaults(p.opts.default_maxconn, l.span.clone());
            let done = std::mem::replace(&mut p.defaults, fresh);
            if done.ir.span.line != 0 {
                p.defaults_done.push(done);
            }
            p.slot = Slot::Defaults;
            return;
        }
        _ => {}
    }
    let placeholder = || Px::new("", ProxyKind::Listen, Cap::NONE, Span::builtin());
    let mut px = match &mut p.slot {
        Slot::None => {
            p.d.alert(&l.span, "'listen' or 'defaults' expected.");
            return;
        }
        Slot::Defaults => std::mem::replace(&mut p.defaults, placeholder()),
        Slot::Proxy(i) => {
            let i = *i;
            std::mem::replace(&mut p.proxies[i], placeholder())
        }
        Slot::Discard(b) => std::mem::replace(b.as_mut(), placeholder()),
    };
    match KEYWORDS.iter().find(|k| k.name.as_bytes() == l.a(0)) {
        Some(k) => (k.parse)(p, &mut px, l),
        None => {
            let sect = p.cursection.clone();
            p.d.alert(
                &l.span,
                format!(
                    "unknown keyword '{}' in '{}' section{}",
                    l.s(0),
                    sect,
                    later_version_hint(l.a(0))
                ),
            );
        }
    }
    match &mut p.slot {
        Slot::Defaults => p.defaults = px,
        Slot::Proxy(i) => {
            let i = *i;
            p.proxies[i] = px;
        }
        Slot::Discard(b) => **b = px,
        Slot::None => {}
    }
}

/// Appended to 1.4's "unknown keyword" alert for keywords of later HAProxy versions that
/// 1.4 configurations are often mixed up with, so the refusal says what to use instead.
fn later_version_hint(kw: &[u8]) -> &'static str {
    match kw {
        b"log-format" => {
            " (custom log formats appeared in HAProxy 1.5; 1.4 logs with 'option httplog', \
             'option httplog clf' or 'option tcplog')"
        }
        _ => "",
    }
}

/// A `listen`/`frontend`/`backend`/`ruleset` header line.
fn header(p: &mut Parser, l: &Ln, kind: ProxyKind, cap: Cap) {
    if !l.has(1) {
        p.d.alert(
            &l.span,
            format!(
                "'{}' expects an <id> argument and\n  optionnally supports [addr1]:port1[-end1]{{,[addr]:port[-end]}}...",
                l.s(0)
            ),
        );
        p.d.set_abort();
        p.slot = Slot::Discard(Box::new(Px::new("", kind, cap, l.span.clone())));
        return;
    }
    if let Some(c) = invalid_char(l.a(1)) {
        p.d.alert(
            &l.span,
            format!(
                "character '{}' is not permitted in '{}' name '{}'.",
                show_char(c),
                l.s(0),
                l.s(1)
            ),
        );
    }
    let name = l.s(1).into_owned();
    let fe_be = Cap::FE.or(Cap::RS);
    let be_rs = Cap::BE.or(Cap::RS);
    let mut dups = Vec::new();
    for other in p.proxies.iter().rev() {
        if other.ir.name == name
            && (cap != fe_be || other.cap != be_rs)
            && (cap != be_rs || other.cap != fe_be)
        {
            dups.push(format!(
                "Parsing [{}:{}]: {} '{}' has same name as another {} (declared at {}:{}).",
                l.span.file,
                l.span.line,
                cap.type_str(),
                name,
                other.type_str(),
                other.ir.span.file,
                other.ir.span.line
            ));
        }
    }
    for d in dups {
        p.d.bare_warn(d);
    }
    let mut px = Px::new(&name, kind, cap, l.span.clone());
    if cap.has(Cap::FE) && l.has(2) {
        match str2listener(l.a(2), &p.res) {
            Ok(addrs) => {
                for a in addrs {
                    px.ir.binds.push(Spanned::new(l.span.clone(), new_bind(&a)));
                }
            }
            Err(msg) => {
                p.d.bare_alert(msg);
                px.header_failed = true;
            }
        }
    }
    if !px.header_failed {
        inherit(&mut px, &p.defaults);
    }
    p.proxies.push(px);
    p.slot = Slot::Proxy(p.proxies.len() - 1);
}

fn new_bind(a: &crate::value::ListenAddr) -> Bind {
    Bind {
        ip: a.ip,
        port_lo: a.port_lo,
        port_hi: a.port_hi,
        interface: None,
        mss: None,
        transparent: false,
        id: None,
        name: None,
        defer_accept: false,
    }
}

/// "'X' not allowed in 'defaults' section." Returns true (and reports) in defaults.
pub fn not_in_defaults(p: &mut Parser, px: &Px, l: &Ln) -> bool {
    if px.is_defaults {
        p.d.alert(
            &l.span,
            format!("'{}' not allowed in 'defaults' section.", l.s(0)),
        );
    }
    px.is_defaults
}

/// Same, `parsing [f:l]: ` form.
pub fn not_in_defaults_t(p: &mut Parser, px: &Px, l: &Ln) -> bool {
    if px.is_defaults {
        p.d.alert_t(
            &l.span,
            format!("'{}' not allowed in 'defaults' section.", l.s(0)),
        );
    }
    px.is_defaults
}

fn bind(p: &mut Parser, px: &mut Px, l: &Ln) {
    if not_in_defaults(p, px, l) {
        return;
    }
    p.warnifnotcap(px, Cap::FE, &l.span, "bind", None);
    if !l.a(1).contains(&b':') {
        p.d.alert(
            &l.span,
            format!(
                "'{}' expects [addr1]:port1[-end1]{{,[addr]:port[-end]}}... as arguments.",
                l.s(0)
            ),
        );
        return;
    }
    let addrs = match str2listener(l.a(1), &p.res) {
        Ok(a) => a,
        Err(msg) => {
            p.d.bare_alert(msg);
            return;
        }
    };
    let count: usize = addrs
        .iter()
        .map(|a| usize::from(a.port_hi - a.port_lo) + 1)
        .sum();
    let mut binds: Vec<Bind> = addrs.iter().map(new_bind).collect();
    let mut i = 2;
    let mut ok = true;
    while l.has(i) && ok {
        match l.a(i) {
            b"interface" => {
                if !l.has(i + 1) {
                    p.d.alert(&l.span, format!("'{}' : missing interface name.", l.s(0)));
                    ok = false;
                    continue;
                }
                let v = l.s(i + 1).into_owned();
                binds.iter_mut().for_each(|b| b.interface = Some(v.clone()));
                i += 2;
            }
            b"mss" => {
                if !l.has(i + 1) {
                    p.d.alert(&l.span, format!("'{}' : missing MSS value.", l.s(0)));
                    ok = false;
                    continue;
                }
                let mss = str2uic(l.a(i + 1)) as i32;
                if !(1..=65535).contains(&mss) {
                    p.d.alert_t(
                        &l.span,
                        format!("{} expects an MSS value between 1 and 65535.", l.s(0)),
                    );
                    ok = false;
                    continue;
                }
                binds.iter_mut().for_each(|b| b.mss = Some(mss));
                i += 2;
            }
            b"defer-accept" => {
                binds.iter_mut().for_each(|b| b.defer_accept = true);
                i += 1;
            }
            b"transparent" => {
                binds.iter_mut().for_each(|b| b.transparent = true);
                i += 1;
            }
            b"name" => {
                let v = l.s(i + 1).into_owned();
                binds.iter_mut().for_each(|b| b.name = Some(v.clone()));
                i += 2;
            }
            b"id" => {
                if count != 1 {
                    p.d.alert_t(
                        &l.span,
                        format!("'{}' can be only used with a single socket.", l.s(i)),
                    );
                    ok = false;
                    continue;
                }
                if !l.has(i + 1) {
                    p.d.alert_t(
                        &l.span,
                        format!("'{}' expects an integer argument.", l.s(i)),
                    );
                    ok = false;
                    continue;
                }
                let id = atol(l.a(i + 1)) as i32;
                if id <= 0 {
                    p.d.alert_t(&l.span, "custom id has to be > 0");
                    ok = false;
                    continue;
                }
                if let Some((_, sp)) = px.used_listener_ids.iter().find(|(v, _)| *v == id as u32) {
                    let msg = format!(
                        "custom id {} for socket '{}' already used at {}:{}.",
                        id,
                        l.s(1),
                        sp.file,
                        sp.line
                    );
                    p.d.alert_t(&l.span, msg);
                    ok = false;
                    continue;
                }
                px.used_listener_ids.push((id as u32, l.span.clone()));
                binds.iter_mut().for_each(|b| b.id = Some(id as u32));
                i += 2;
            }
            _ => {
                p.d.alert(
                    &l.span,
                    format!(
                        "'{}' only supports the 'transparent', 'defer-accept', 'name', 'id', 'mss' and 'interface' options.",
                        l.s(0)
                    ),
                );
                ok = false;
            }
        }
    }
    px.last_bind_listeners = count;
    px.ir
        .binds
        .extend(binds.into_iter().map(|b| Spanned::new(l.span.clone(), b)));
}

/// An IPv4 network as an `IpNet`, or `None` when its mask is not contiguous.
pub fn to_ipnet(ip: std::net::Ipv4Addr, mask: u32) -> Option<IpNet> {
    let prefix = mask_to_prefix(mask)?;
    Some(IpNet {
        addr: IpAddr::V4((u32::from(ip) & mask).into()),
        prefix,
    })
}

fn monitor_net(p: &mut Parser, px: &mut Px, l: &Ln) {
    let net = if l.has(1) {
        str2net(l.a(1), &p.res)
    } else {
        None
    };
    let Some((ip, mask)) = net else {
        p.d.alert(&l.span, format!("'{}' expects address[/mask].", l.s(0)));
        return;
    };
    p.warnifnotcap(px, Cap::FE, &l.span, "monitor-net", None);
    match to_ipnet(ip, mask) {
        Some(n) => px.ir.monitor_net = vec![Spanned::new(l.span.clone(), n)],
        None => p.d.alert(
            &l.span,
            format!(
                "netmask of '{}' is not contiguous, which haproxide does not support.",
                l.s(1)
            ),
        ),
    }
}

fn monitor_uri(p: &mut Parser, px: &mut Px, l: &Ln) {
    p.warnifnotcap(px, Cap::FE, &l.span, "monitor-uri", None);
    if !l.has(1) {
        p.d.alert(&l.span, format!("'{}' expects an URI.", l.s(0)));
        return;
    }
    px.ir.monitor_uri = Some(Spanned::new(l.span.clone(), l.s(1).into_owned()));
}

fn mode(p: &mut Parser, px: &mut Px, l: &Ln) {
    let m = match l.a(1) {
        b"http" => Mode::Http,
        b"tcp" => Mode::Tcp,
        b"health" => Mode::Health,
        _ => {
            p.d.alert(&l.span, format!("unknown proxy mode '{}'.", l.s(1)));
            return;
        }
    };
    px.ir.mode = Spanned::new(l.span.clone(), m);
}

fn id(p: &mut Parser, px: &mut Px, l: &Ln) {
    if not_in_defaults_t(p, px, l) {
        return;
    }
    if !l.has(1) {
        p.d.alert_t(
            &l.span,
            format!("'{}' expects an integer argument.", l.s(0)),
        );
        return;
    }
    let v = atol(l.a(1)) as i32;
    if v <= 0 {
        p.d.alert_t(&l.span, "custom id has to be > 0.");
        return;
    }
    if let Some(other) = p
        .proxies
        .iter()
        .find(|o| o.ir.id.as_ref().is_some_and(|i| i.node == v as u32))
    {
        let msg = format!(
            "{} {} reuses same custom id as {} {} (declared at {}:{}).",
            px.type_str(),
            px.name(),
            other.type_str(),
            other.ir.name,
            other.ir.span.file,
            other.ir.span.line
        );
        p.d.alert_t(&l.span, msg);
        return;
    }
    px.ir.id = Some(Spanned::new(l.span.clone(), v as u32));
}

fn description(p: &mut Parser, px: &mut Px, l: &Ln) {
    if not_in_defaults_t(p, px, l) {
        return;
    }
    if !l.has(1) {
        p.d.alert_t(&l.span, format!("'{}' expects a string argument.", l.s(0)));
        // 1.4 returns -1 here, which sets every error bit including ERR_ABORT
        p.d.set_abort();
        return;
    }
    px.ir.description = Some(Spanned::new(
        l.span.clone(),
        super::global::join_words(l, 1),
    ));
}

fn disabled(_p: &mut Parser, px: &mut Px, l: &Ln) {
    px.ir.disabled = Some(l.span.clone());
}

fn enabled(_p: &mut Parser, px: &mut Px, _l: &Ln) {
    px.ir.disabled = None;
}

fn bind_process(p: &mut Parser, px: &mut Px, l: &Ln) {
    let mut set: u32 = 0;
    let mut all = false;
    let mut i = 1;
    while l.has(i) {
        match l.a(i) {
            b"all" => {
                all = true;
                break;
            }
            b"odd" => set |= 0x5555_5555,
            b"even" => set |= 0xAAAA_AAAA,
            w => {
                let u = str2uic(w) as i32;
                if !(1..=32).contains(&u) {
                    p.d.alert_t(
                        &l.span,
                        format!(
                            "{} expects 'all', 'odd', 'even', or process numbers from 1 to 32.",
                            l.s(0)
                        ),
                    );
                    return;
                }
                if i64::from(u) > p.g.nbproc {
                    p.d.warn_t(
                        &l.span,
                        format!(
                            "{} references process number higher than global.nbproc.",
                            l.s(0)
                        ),
                    );
                }
                set |= 1 << (u - 1);
            }
        }
        i += 1;
    }
    // 1.4 stores 0 for "all processes"; the IR spells it out
    let mask = if all || set == 0 { u32::MAX } else { set };
    px.ir.bind_process = Some(Spanned::new(l.span.clone(), BindProcess(mask)));
}

fn acl_kw(p: &mut Parser, px: &mut Px, l: &Ln) {
    if not_in_defaults(p, px, l) {
        return;
    }
    if let Some(c) = invalid_char(l.a(1)) {
        p.d.alert(
            &l.span,
            format!(
                "character '{}' is not permitted in acl name '{}'.",
                show_char(c),
                l.s(1)
            ),
        );
    }
    if !acl::parse_acl_line(p, px, &l.span, l.rest(1)) {
        p.d.alert(
            &l.span,
            format!("error detected while parsing ACL '{}'.", l.s(1)),
        );
    }
}

fn retries(p: &mut Parser, px: &mut Px, l: &Ln) {
    p.warnifnotcap(px, Cap::BE, &l.span, "retries", None);
    if !l.has(1) {
        p.d.alert(
            &l.span,
            format!(
                "'{}' expects an integer argument (dispatch counts for one).",
                l.s(0)
            ),
        );
        return;
    }
    px.ir.retries = Some(Spanned::new(l.span.clone(), atol(l.a(1)) as i32 as u32));
}

/// Condition of a rule whose `if`/`unless` is at `args[at]`.
pub fn cond_at(p: &mut Parser, px: &mut Px, l: &Ln, at: usize) -> Option<Condition> {
    acl::build_cond(p, px, &l.span, l.rest(at))
}

/// 1.4 `warnif_misplaced_*` helpers: a rule placed after rules that run before it.
pub fn warn_after(p: &mut Parser, px: &Px, l: &Ln, checks: &[&str]) {
    for c in checks {
        let hit = match *c {
            "block" => !px.ir.blocks.is_empty(),
            "reqxxx" => !px.ir.req_filters.is_empty(),
            "reqadd" => !px.ir.reqadd.is_empty(),
            "redirect" => !px.ir.redirects.is_empty(),
            "use_backend" => !px.ir.use_backends.is_empty(),
            _ => false,
        };
        if hit {
            p.d.warn(
                &l.span,
                format!(
                    "a '{}' rule placed after a '{}' rule will still be processed before.",
                    l.s(0),
                    c
                ),
            );
            return;
        }
    }
}

fn block(p: &mut Parser, px: &mut Px, l: &Ln) {
    if not_in_defaults(p, px, l) {
        return;
    }
    if !l.is(1, "if") && !l.is(1, "unless") {
        p.d.alert(
            &l.span,
            format!(
                "'{}' requires either 'if' or 'unless' followed by a condition.",
                l.s(0)
            ),
        );
        return;
    }
    let Some(cond) = cond_at(p, px, l, 1) else {
        p.d.alert(&l.span, "error detected while parsing blocking condition.");
        return;
    };
    px.ir.blocks.push(Spanned::new(l.span.clone(), cond));
    // 1.4 checks after adding the rule; the list it looks at is the others
    warn_after(p, px, l, &["reqxxx", "reqadd", "redirect", "use_backend"]);
}

fn use_backend(p: &mut Parser, px: &mut Px, l: &Ln) {
    if not_in_defaults(p, px, l) {
        return;
    }
    p.warnifnotcap(px, Cap::FE, &l.span, "use_backend", None);
    if !l.has(1) {
        p.d.alert(&l.span, format!("'{}' expects a backend name.", l.s(0)));
        return;
    }
    if !l.is(2, "if") && !l.is(2, "unless") {
        p.d.alert(
            &l.span,
            format!(
                "'{}' requires either 'if' or 'unless' followed by a condition.",
                l.s(0)
            ),
        );
        return;
    }
    let Some(cond) = cond_at(p, px, l, 2) else {
        p.d.alert(&l.span, "error detected while parsing switching rule.");
        return;
    };
    acl::warnif_requires_resp(p, px, Some(&cond), &l.span);
    px.ir.use_backends.push(Spanned::new(
        l.span.clone(),
        UseBackend {
            backend: l.s(1).into_owned(),
            cond,
        },
    ));
}

fn default_backend(p: &mut Parser, px: &mut Px, l: &Ln) {
    p.warnifnotcap(px, Cap::FE, &l.span, "default_backend", None);
    if !l.has(1) {
        p.d.alert(&l.span, format!("'{}' expects a backend name.", l.s(0)));
        return;
    }
    px.ir.default_backend = Some(Spanned::new(l.span.clone(), l.s(1).into_owned()));
}

fn redispatch(p: &mut Parser, px: &mut Px, l: &Ln) {
    let name = l.s(0).into_owned();
    p.warnifnotcap(px, Cap::BE, &l.span, &name, None);
    p.d.warn_t(
        &l.span,
        format!("keyword '{name}' is deprecated, please use 'option redispatch' instead."),
    );
    px.ir.options.redispatch = Some(l.span.clone());
}

fn transparent(_p: &mut Parser, px: &mut Px, l: &Ln) {
    px.ir.options.transparent = Some(l.span.clone());
}

fn int_kw(p: &mut Parser, l: &Ln) -> Option<Spanned<u32>> {
    if !l.has(1) {
        p.d.alert(
            &l.span,
            format!("'{}' expects an integer argument.", l.s(0)),
        );
        return None;
    }
    Some(Spanned::new(l.span.clone(), atol(l.a(1)) as i32 as u32))
}

fn maxconn(p: &mut Parser, px: &mut Px, l: &Ln) {
    p.warnifnotcap(
        px,
        Cap::FE,
        &l.span,
        "maxconn",
        Some(" Maybe you want 'fullconn' instead ?"),
    );
    if let Some(v) = int_kw(p, l) {
        px.ir.maxconn = Some(v);
    }
}

fn backlog(p: &mut Parser, px: &mut Px, l: &Ln) {
    p.warnifnotcap(px, Cap::FE, &l.span, "backlog", None);
    if let Some(v) = int_kw(p, l) {
        px.ir.backlog = Some(v);
    }
}

fn fullconn(p: &mut Parser, px: &mut Px, l: &Ln) {
    p.warnifnotcap(
        px,
        Cap::BE,
        &l.span,
        "fullconn",
        Some(" Maybe you want 'maxconn' instead ?"),
    );
    if let Some(v) = int_kw(p, l) {
        px.ir.fullconn = Some(v);
    }
}

fn grace(p: &mut Parser, px: &mut Px, l: &Ln) {
    if !l.has(1) {
        p.d.alert(
            &l.span,
            format!("'{}' expects a time in milliseconds.", l.s(0)),
        );
        return;
    }
    match parse_time(l.a(1), TimeUnit::Ms) {
        Ok(v) => px.ir.grace = Some(Spanned::new(l.span.clone(), v)),
        Err(c) => p.d.alert(
            &l.span,
            format!("unexpected character '{}' in grace time.", show_char(c)),
        ),
    }
}

fn dispatch(p: &mut Parser, px: &mut Px, l: &Ln) {
    if not_in_defaults(p, px, l) {
        return;
    }
    p.warnifnotcap(px, Cap::BE, &l.span, "dispatch", None);
    if !l.a(1).contains(&b':') {
        p.d.alert(
            &l.span,
            format!("'{}' expects <addr:port> as argument.", l.s(0)),
        );
        return;
    }
    match str2sa(l.a(1), &p.res) {
        Some((ip, port)) => {
            px.ir.dispatch = Some(Spanned::new(
                l.span.clone(),
                SocketAddr::new(ip.into(), port),
            ))
        }
        None => p.d.alert(&l.span, format!("Unknown host in '{}'", l.s(1))),
    }
}

fn balance(p: &mut Parser, px: &mut Px, l: &Ln) {
    p.warnifnotcap(px, Cap::BE, &l.span, "balance", None);
    match parse_balance(l) {
        Ok(b) => {
            px.ir.balance = Spanned::new(l.span.clone(), b);
            px.algo_set = true;
        }
        Err(msg) => p.d.alert(&l.span, msg),
    }
}

/// 1.4 `backend_parse_balance` on the words after `balance`.
fn parse_balance(l: &Ln) -> Result<Balance, String> {
    let a = l.a(1);
    Ok(match a {
        b"" | b"roundrobin" => Balance::RoundRobin,
        b"static-rr" => Balance::StaticRr,
        b"leastconn" => Balance::LeastConn,
        b"source" => Balance::Source,
        b"uri" => {
            let (mut len, mut depth, mut whole) = (None, None, false);
            let mut i = 2;
            while l.has(i) {
                match l.a(i) {
                    b"len" => {
                        let v = atol(l.a(i + 1)) as i32;
                        if !l.has(i + 1) || v <= 0 {
                            return Err(format!(
                                "'balance uri len' expects a positive integer (got '{}').",
                                l.s(i + 1)
                            ));
                        }
                        len = Some(v as u32);
                        i += 2;
                    }
                    b"depth" => {
                        let v = atol(l.a(i + 1)) as i32;
                        if !l.has(i + 1) || v <= 0 {
                            return Err(format!(
                                "'balance uri depth' expects a positive integer (got '{}').",
                                l.s(i + 1)
                            ));
                        }
                        depth = Some(v as u32);
                        i += 2;
                    }
                    b"whole" => {
                        whole = true;
                        i += 1;
                    }
                    _ => {
                        return Err(format!(
                            "'balance uri' only accepts parameters 'len', 'depth', and 'while' (got '{}').",
                            l.s(i)
                        ))
                    }
                }
            }
            Balance::Uri { len, depth, whole }
        }
        b"url_param" => {
            if !l.has(2) {
                return Err("'balance url_param' requires an URL parameter name.".into());
            }
            let mut check_post = None;
            if l.has(3) {
                if !l.is(3, "check_post") {
                    return Err("'balance url_param' only accepts check_post modifier.".into());
                }
                let mut v = if l.has(4) { str2uic(l.a(4)) } else { 0 };
                if v == 0 {
                    v = 48;
                } else if v < 3 {
                    v = 3;
                }
                check_post = Some(v);
            }
            Balance::UrlParam {
                name: l.s(2).into_owned(),
                check_post,
            }
        }
        _ if a.starts_with(b"hdr(") => {
            let inner = &a[4..];
            let end = inner.iter().position(|c| *c == b')');
            let name = match end {
                Some(e) if e > 0 => lossy(&inner[..e]),
                _ => {
                    return Err("'balance hdr(name)' requires an http header field name.".into())
                }
            };
            let mut use_domain_only = false;
            if l.has(2) {
                if !l.is(2, "use_domain_only") {
                    return Err(
                        "'balance hdr(name)' only accepts 'use_domain_only' modifier.".into(),
                    );
                }
                use_domain_only = true;
            }
            Balance::Hdr {
                name,
                use_domain_only,
            }
        }
        _ if a.starts_with(b"rdp-cookie") => {
            let rest = &a[10..];
            let name = match rest.first() {
                None => "mstshash".to_string(),
                Some(b'(') => {
                    let inner = &rest[1..];
                    match inner.iter().position(|c| *c == b')') {
                        Some(e) if e > 0 => lossy(&inner[..e]),
                        _ => {
                            return Err(
                                "'balance rdp-cookie(name)' requires an rdp cookie name.".into()
                            )
                        }
                    }
                }
                Some(_) => {
                    return Err("'balance rdp-cookie(name)' requires an rdp cookie name.".into())
                }
            };
            Balance::RdpCookie { name }
        }
        _ => return Err("'balance' only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', 'url_param', 'hdr(name)' and 'rdp-cookie(name)' options.".into()),
    })
}

fn hash_type(p: &mut Parser, px: &mut Px, l: &Ln) {
    p.warnifnotcap(px, Cap::BE, &l.span, "hash-type", None);
    let h = match l.a(1) {
        b"consistent" => HashType::Consistent,
        b"map-based" => HashType::MapBased,
        _ => {
            p.d.alert(
                &l.span,
                format!("'{}' only supports 'consistent' and 'map-based'.", l.s(0)),
            );
            return;
        }
    };
    px.ir.hash_type = Spanned::new(l.span.clone(), h);
}

fn log(p: &mut Parser, px: &mut Px, l: &Ln) {
    if l.has(1) && !l.has(2) && l.is(1, "global") {
        // `log global` takes the global targets as they are at this point
        px.ir.logs =
            p.g.ir
                .logs
                .iter()
                .map(|t| Spanned::new(l.span.clone(), t.node.clone()))
                .collect();
        return;
    }
    if !(l.has(1) && l.has(2)) {
        p.d.alert(
            &l.span,
            "'log' expects either <address[:port]> and <facility> or 'global' as arguments.",
        );
        return;
    }
    let Some(fac) = super::global::facility(l.a(2)) else {
        // 1.4 exits on the spot
        p.d.alert(&l.span, format!("unknown log facility '{}'", l.s(2)));
        p.d.set_abort();
        return;
    };
    let mut max = 7;
    if l.has(3) {
        match super::global::level(l.a(3)) {
            Some(v) => max = v,
            None => {
                p.d.alert(&l.span, format!("unknown optional log level '{}'", l.s(3)));
                p.d.set_abort();
                return;
            }
        }
    }
    // 1.4 tests the wrong variable here, so an unknown minimum level is accepted
    let min = if l.has(4) {
        super::global::level(l.a(4)).unwrap_or(0)
    } else {
        0
    };
    let Some(addr) = super::global::log_addr(p, l) else {
        return;
    };
    if px.ir.logs.len() >= 2 {
        p.d.alert(&l.span, "too many syslog servers");
        return;
    }
    px.ir.logs.push(Spanned::new(
        l.span.clone(),
        LogTarget {
            addr,
            facility: fac,
            max_level: max,
            min_level: min,
        },
    ));
}

/// `usesrc <addr>[:port]|client|clientip|hdr_ip(<name>[,<occ>])` (1.4 source parsing).
/// `words` starts at the argument. Returns 1.4's message on error.
pub fn parse_usesrc(p: &Parser, arg: &[u8]) -> Result<UseSrc, String> {
    match arg {
        b"client" => Ok(UseSrc::Client),
        b"clientip" => Ok(UseSrc::ClientIp),
        _ if arg.starts_with(b"hdr_ip(") => {
            let mut k = 7;
            while k < arg.len() && crate::value::is_c_space(arg[k]) {
                k += 1;
            }
            let start = k;
            while k < arg.len()
                && !crate::value::is_c_space(arg[k])
                && arg[k] != b','
                && arg[k] != b')'
            {
                k += 1;
            }
            let name = lossy(&arg[start..k]);
            while k < arg.len() && crate::value::is_c_space(arg[k]) {
                k += 1;
            }
            let mut occ: i32 = -1;
            if arg.get(k) == Some(&b',') {
                k += 1;
                let s = k;
                if arg.get(k) == Some(&b'-') {
                    k += 1;
                }
                while k < arg.len() && arg[k].is_ascii_digit() {
                    k += 1;
                }
                occ = strl2ic(&arg[s..k]);
            }
            if occ < -10 {
                return Err(
                    "usesrc hdr_ip(name,num) does not support negative occurrences values smaller than 10."
                        .into(),
                );
            }
            Ok(UseSrc::HdrIp { name, occ })
        }
        _ => match str2sa(arg, &p.res) {
            Some((ip, port)) => Ok(UseSrc::Addr(SocketAddr::new(ip.into(), port))),
            None => Err(format!("Unknown host in '{}'", lossy(arg))),
        },
    }
}

/// 1.4 `strl2ic`: digits with an optional leading minus, stopping at the first non-digit.
fn strl2ic(s: &[u8]) -> i32 {
    let (neg, d) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let mut i: i32 = 0;
    for c in d {
        if !c.is_ascii_digit() {
            break;
        }
        i = if neg {
            i.wrapping_mul(10).wrapping_sub(i32::from(c - b'0'))
        } else {
            i.wrapping_mul(10).wrapping_add(i32::from(c - b'0'))
        };
    }
    i
}

fn source(p: &mut Parser, px: &mut Px, l: &Ln) {
    p.warnifnotcap(px, Cap::BE, &l.span, "source", None);
    if !l.has(1) {
        p.d.alert(
            &l.span,
            format!(
                "'{}' expects <addr>[:<port>], and optionally '{}' <addr>, and '{}' <name>.",
                "source", "usesrc", "interface"
            ),
        );
        return;
    }
    // earlier settings (possibly from defaults) are cleared first
    px.ir.source = None;
    let Some((ip, port)) = str2sa(l.a(1), &p.res) else {
        p.d.alert(&l.span, format!("Unknown host in '{}'", l.s(1)));
        return;
    };
    let mut src = Source {
        addr: ip.into(),
        port_lo: port,
        port_hi: port,
        usesrc: None,
        interface: None,
    };
    let mut i = 2;
    while l.has(i) {
        if l.is(i, "usesrc") {
            if !l.has(i + 1) {
                p.d.alert(
                    &l.span,
                    format!(
                        "'{}' expects <addr>[:<port>], 'client', or 'clientip' as argument.",
                        "usesrc"
                    ),
                );
                return;
            }
            match parse_usesrc(p, l.a(i + 1)) {
                Ok(u) => src.usesrc = Some(u),
                Err(msg) => {
                    p.d.alert(&l.span, msg);
                    return;
                }
            }
            i += 2;
            continue;
        }
        if l.is(i, "interface") {
            if !l.has(i + 1) {
                p.d.alert(&l.span, format!("'{}' : missing interface name.", l.s(0)));
                return;
            }
            src.interface = Some(l.s(i + 1).into_owned());
            i += 2;
            continue;
        }
        p.d.alert(
            &l.span,
            format!(
                "'{}' only supports optional keywords '{}' and '{}'.",
                l.s(0),
                "inteface",
                "usesrc"
            ),
        );
        // 1.4 keeps what it parsed so far
        px.ir.source = Some(Spanned::new(l.span.clone(), src));
        return;
    }
    px.ir.source = Some(Spanned::new(l.span.clone(), src));
}

fn usesrc(p: &mut Parser, _px: &mut Px, l: &Ln) {
    p.d.alert(
        &l.span,
        format!(
            "'{}' only allowed after a '{}' statement.",
            "usesrc", "source"
        ),
    );
}

/// Which timeout a `timeout` word names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tmo {
    Client,
    Tarpit,
    HttpKeepAlive,
    HttpRequest,
    Server,
    Connect,
    Check,
    Queue,
}

fn tmo_slot(t: &mut Timeouts, which: Tmo) -> &mut Option<Spanned<u32>> {
    match which {
        Tmo::Client => &mut t.client,
        Tmo::Tarpit => &mut t.tarpit,
        Tmo::HttpKeepAlive => &mut t.http_keep_alive,
        Tmo::HttpRequest => &mut t.http_request,
        Tmo::Server => &mut t.server,
        Tmo::Connect => &mut t.connect,
        Tmo::Check => &mut t.check,
        Tmo::Queue => &mut t.queue,
    }
}

/// 1.4 `proxy_parse_timeout`, also reached through `clitimeout`, `contimeout` and
/// `srvtimeout`.
fn timeout(p: &mut Parser, px: &mut Px, l: &Ln) {
    let off = usize::from(l.is(0, "timeout"));
    let word = l.a(off);
    let (name, which, cap) = match word {
        b"client" | b"clitimeout" => ("client", Tmo::Client, Cap::FE),
        b"tarpit" => ("tarpit", Tmo::Tarpit, Cap::FE.or(Cap::BE)),
        b"http-keep-alive" => ("http-keep-alive", Tmo::HttpKeepAlive, Cap::FE.or(Cap::BE)),
        b"http-request" => ("http-request", Tmo::HttpRequest, Cap::FE.or(Cap::BE)),
        b"server" | b"srvtimeout" => ("server", Tmo::Server, Cap::BE),
        b"connect" | b"contimeout" => ("connect", Tmo::Connect, Cap::BE),
        b"check" => ("check", Tmo::Check, Cap::BE),
        b"queue" => ("queue", Tmo::Queue, Cap::BE),
        _ => {
            p.d.alert(
                &l.span,
                format!(
                    "timeout '{}': must be 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request' or 'tarpit'",
                    lossy(word)
                ),
            );
            return;
        }
    };
    if !l.has(off + 1) {
        p.d.alert(
            &l.span,
            format!("{name} timeout expects an integer value (in milliseconds)"),
        );
        return;
    }
    let v = match parse_time(l.a(off + 1), TimeUnit::Ms) {
        Ok(v) => v,
        Err(c) => {
            p.d.alert(
                &l.span,
                format!(
                    "unexpected character '{}' in {} timeout",
                    show_char(c),
                    name
                ),
            );
            return;
        }
    };
    if !px.cap.has(cap) {
        p.d.warn(
            &l.span,
            format!(
                "{} timeout will be ignored because {} '{}' has no {} capability",
                name,
                px.type_str(),
                px.name(),
                if cap.has(Cap::BE) {
                    "backend"
                } else {
                    "frontend"
                }
            ),
        );
    } else if !px.is_defaults {
        let cur = tmo_slot(&mut px.ir.timeouts, which)
            .as_ref()
            .map(|t| t.node);
        let def = tmo_slot(&mut p.defaults.ir.timeouts, which)
            .as_ref()
            .map(|t| t.node);
        if cur.unwrap_or(0) != def.unwrap_or(0) {
            p.d.warn(
                &l.span,
                format!("overwriting {name} timeout which was already specified"),
            );
        }
    }
    *tmo_slot(&mut px.ir.timeouts, which) = Some(Spanned::new(l.span.clone(), v));
}

/// 1.4 `proxy_parse_rate_limit`.
fn rate_limit(p: &mut Parser, px: &mut Px, l: &Ln) {
    if !l.is(1, "sessions") {
        p.d.alert(
            &l.span,
            format!("{} '{}': must be 'sessions'", "rate-limit", l.s(1)),
        );
        return;
    }
    if !l.has(2) {
        p.d.alert(
            &l.span,
            "rate-limit sessions expects expects an integer value (in sessions/second)",
        );
        return;
    }
    let (v, rest) = strtoul(l.a(2), 0);
    if let Some(c) = rest.first() {
        p.d.alert(
            &l.span,
            format!(
                "rate-limit sessions: unexpected character '{}' in integer value '{}'",
                show_char(*c),
                l.s(2)
            ),
        );
        return;
    }
    if !px.cap.has(Cap::FE) {
        p.d.warn(
            &l.span,
            format!(
                "rate-limit sessions will be ignored because {} '{}' has no frontend capability",
                px.type_str(),
                px.name()
            ),
        );
    } else if !px.is_defaults {
        let cur = px.ir.rate_limit_sessions.as_ref().map_or(0, |t| t.node);
        let def = p
            .defaults
            .ir
            .rate_limit_sessions
            .as_ref()
            .map_or(0, |t| t.node);
        if cur != def {
            p.d.warn(
                &l.span,
                "overwriting rate-limit sessions which was already specified",
            );
        }
    }
    px.ir.rate_limit_sessions = Some(Spanned::new(l.span.clone(), v as u32));
}

fn monitor(p: &mut Parser, px: &mut Px, l: &Ln) {
    if not_in_defaults(p, px, l) {
        return;
    }
    p.warnifnotcap(px, Cap::FE, &l.span, "monitor", None);
    if !l.is(1, "fail") {
        p.d.alert(&l.span, format!("'{}' only supports 'fail'.", l.s(0)));
        return;
    }
    if !l.is(2, "if") && !l.is(2, "unless") {
        p.d.alert(
            &l.span,
            format!(
                "'{} {}' requires either 'if' or 'unless' followed by a condition.",
                l.s(0),
                l.s(1)
            ),
        );
        return;
    }
    let Some(cond) = cond_at(p, px, l, 2) else {
        p.d.alert(
            &l.span,
            format!(
                "error detected while parsing a '{} {}' condition.",
                l.s(0),
                l.s(1)
            ),
        );
        return;
    };
    px.ir.monitor_fail.push(Spanned::new(l.span.clone(), cond));
}

/// 1.4 `CAPTURE_LEN`.
const CAPTURE_LEN: i64 = 64;

fn capture(p: &mut Parser, px: &mut Px, l: &Ln) {
    p.warnifnotcap(px, Cap::FE, &l.span, "capture", None);
    let two = || format!("'{} {}' not allowed in 'defaults' section.", l.s(0), l.s(1));
    if l.is(1, "cookie") {
        if px.is_defaults {
            p.d.alert(&l.span, two());
            return;
        }
        if !l.has(4) {
            p.d.alert(
                &l.span,
                format!("'{}' expects 'cookie' <cookie_name> 'len' <len>.", l.s(0)),
            );
            return;
        }
        let mut len = i64::from(atol(l.a(4)) as i32);
        if len >= CAPTURE_LEN {
            p.d.warn(
                &l.span,
                format!("truncating capture length to {} bytes.", CAPTURE_LEN - 1),
            );
            len = CAPTURE_LEN - 1;
        }
        px.ir.capture_cookie = Some(Spanned::new(
            l.span.clone(),
            CaptureCookie {
                name: l.s(2).into_owned(),
                len: len as u32,
            },
        ));
    } else if (l.is(1, "request") || l.is(1, "response")) && l.is(2, "header") {
        if px.is_defaults {
            p.d.alert(&l.span, two());
            return;
        }
        if !l.has(3) || !l.is(4, "len") || !l.has(5) {
            p.d.alert(
                &l.span,
                format!(
                    "'{} {}' expects 'header' <header_name> 'len' <len>.",
                    l.s(0),
                    l.s(1)
                ),
            );
            return;
        }
        let h = Spanned::new(
            l.span.clone(),
            CaptureHeader {
                name: l.s(3).into_owned(),
                len: atol(l.a(5)) as i32 as u32,
            },
        );
        if l.is(1, "request") {
            px.ir.capture_request_headers.push(h);
        } else {
            px.ir.capture_response_headers.push(h);
        }
    } else {
        p.d.alert(
            &l.span,
            format!(
                "'{}' expects 'cookie' or 'request header' or 'response header'.",
                l.s(0)
            ),
        );
    }
}

fn http_send_name_header(p: &mut Parser, px: &mut Px, l: &Ln) {
    p.warnifnotcap(px, Cap::BE, &l.span, "http-send-name-header", None);
    if !l.has(1) {
        p.d.alert(&l.span, format!("'{}' requires a header string.", l.s(0)));
        return;
    }
    px.ir.http_send_name_header = Some(Spanned::new(l.span.clone(), l.s(1).into_owned()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bal(words: &[&str]) -> Result<Balance, String> {
        let args: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        let l = Ln {
            span: Span::builtin(),
            args: &args,
            kwm: super::super::Kwm::Std,
        };
        parse_balance(&l)
    }

    #[test]
    fn balance_algorithms() {
        assert_eq!(bal(&["balance"]), Ok(Balance::RoundRobin));
        assert_eq!(bal(&["balance", "source"]), Ok(Balance::Source));
        assert_eq!(bal(&["balance", "static-rr"]), Ok(Balance::StaticRr));
        assert_eq!(bal(&["balance", "leastconn"]), Ok(Balance::LeastConn));
        assert_eq!(
            bal(&["balance", "uri", "len", "10", "depth", "2", "whole"]),
            Ok(Balance::Uri {
                len: Some(10),
                depth: Some(2),
                whole: true
            })
        );
        assert!(bal(&["balance", "uri", "len", "0"]).is_err());
        assert_eq!(
            bal(&["balance", "url_param", "id", "check_post"]),
            Ok(Balance::UrlParam {
                name: "id".into(),
                check_post: Some(48)
            })
        );
        assert_eq!(
            bal(&["balance", "url_param", "id", "check_post", "2"]),
            Ok(Balance::UrlParam {
                name: "id".into(),
                check_post: Some(3)
            })
        );
        assert_eq!(
            bal(&["balance", "hdr(Host)", "use_domain_only"]),
            Ok(Balance::Hdr {
                name: "Host".into(),
                use_domain_only: true
            })
        );
        assert!(bal(&["balance", "hdr()"]).is_err());
        assert_eq!(
            bal(&["balance", "rdp-cookie"]),
            Ok(Balance::RdpCookie {
                name: "mstshash".into()
            })
        );
        assert_eq!(
            bal(&["balance", "rdp-cookie(msts)"]),
            Ok(Balance::RdpCookie {
                name: "msts".into()
            })
        );
        assert!(bal(&["balance", "rdp-cookiex"]).is_err());
        assert_eq!(
            bal(&["balance", "random"]),
            Err("'balance' only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', 'url_param', 'hdr(name)' and 'rdp-cookie(name)' options.".into())
        );
    }

    #[test]
    fn log_format_is_refused_with_a_hint() {
        let cfg = b"listen x\n bind 127.0.0.1:8080\n mode http\n log-format %ci:%cp\n";
        let loaded = crate::load_str("t.cfg", cfg, &crate::LoadOptions::default());
        assert!(loaded.config.is_none());
        let text = loaded.report.render("STAMP");
        assert!(
            text.contains(
                "parsing [t.cfg:4] : unknown keyword 'log-format' in 'listen' section \
                 (custom log formats appeared in HAProxy 1.5; 1.4 logs with 'option httplog', \
                 'option httplog clf' or 'option tcplog')"
            ),
            "{text}"
        );
        // Other unknown keywords keep 1.4's text unchanged.
        assert_eq!(later_version_hint(b"balanc"), "");
    }

    #[test]
    fn usesrc_forms() {
        let opts = crate::LoadOptions {
            resolve_names: false,
            ..Default::default()
        };
        let p = Parser::new(&opts);
        assert_eq!(parse_usesrc(&p, b"client"), Ok(UseSrc::Client));
        assert_eq!(parse_usesrc(&p, b"clientip"), Ok(UseSrc::ClientIp));
        assert_eq!(
            parse_usesrc(&p, b"hdr_ip(x-forwarded-for,-1)"),
            Ok(UseSrc::HdrIp {
                name: "x-forwarded-for".into(),
                occ: -1
            })
        );
        assert_eq!(
            parse_usesrc(&p, b"hdr_ip(x)"),
            Ok(UseSrc::HdrIp {
                name: "x".into(),
                occ: -1
            })
        );
        assert!(parse_usesrc(&p, b"hdr_ip(x,-11)").is_err());
        assert!(matches!(
            parse_usesrc(&p, b"10.0.0.1:0"),
            Ok(UseSrc::Addr(_))
        ));
        assert!(parse_usesrc(&p, b"nohost").is_err());
    }
}
