//! `defaults`, `frontend`, `backend` and `listen` sections in 2.6 syntax: binds, modes,
//! limits, timeouts (`contimeout`/`clitimeout`/`srvtimeout` become `timeout connect/client/
//! server`), options (`redispatch`/`redisp` -> `option redispatch`, `option forceclose` and
//! `option httpclose` -> 2.6's `option httpclose`, `option http_proxy` -> `set-dst` rules),
//! logging, balancing, servers (duplicate names renamed, a valueless `cookie` dropped),
//! health checks, error pages, captures, monitoring (`monitor-net` -> a request rule) and
//! the `stats` keywords. Request and response rules, ACLs and stickiness are in `rules.rs`.
//!
//! Compare with 1.4 `cfg_parse_listen` (`src/cfgparse.c`) and 2.6 `cfg_parse_listen`
//! (`src/cfgparse-listen.c`).

use super::enc::{self, sword, time, time_s};
use super::global::log_line;
use super::{rules, words_lossy, Cx, Out, Sink};
use parser::ir::*;
use parser::span::Span;
use std::collections::HashSet;

/// Which role a section plays while rendering.
pub(super) struct Role<'a> {
    /// The `defaults` section itself.
    pub is_defaults: bool,
    /// The `defaults` section in effect for a proxy (the last one declared before it).
    pub defaults: Option<&'a Proxy>,
    /// Proxy index (`Config::proxies`), for names of variables and helper sections.
    pub idx: usize,
}

/// Renders one `defaults` section from [`Config::defaults`].
pub(super) fn render_defaults(cx: &Cx<'_>, out: &mut Out, k: usize, d: &Proxy) {
    let Some((f, sect)) = cx.src.section_at(&d.span) else {
        return;
    };
    let mut sink = Sink::new(cx.src, vec![(f, sect.start, sect.end)], out);
    let role = Role {
        is_defaults: true,
        defaults: None,
        idx: k,
    };
    render_common(cx, &mut sink, d, &role);
}

/// Renders one proxy section.
pub(super) fn render_proxy(cx: &Cx<'_>, out: &mut Out, idx: usize, p: &Proxy) {
    let Some((f, sect)) = cx.src.section_at(&p.span) else {
        return;
    };
    let defaults = defaults_of(cx, p);
    let mut sink = Sink::new(cx.src, vec![(f, sect.start, sect.end)], out);
    let role = Role {
        is_defaults: false,
        defaults,
        idx,
    };
    render_common(cx, &mut sink, p, &role);
}

/// The `defaults` section in effect for `p`: the last one declared before its header.
fn defaults_of<'a>(cx: &Cx<'a>, p: &Proxy) -> Option<&'a Proxy> {
    let at = cx.src.order(&p.span);
    cx.cfg.defaults.iter().rfind(|d| cx.src.order(&d.span) < at)
}

fn render_common(cx: &Cx<'_>, k: &mut Sink<'_>, p: &Proxy, role: &Role<'_>) {
    binds(k, p);
    if let Some(v) = &p.id {
        k.stmt(&v.span, format!("id {}", v.node));
    }
    if let Some(s) = &p.disabled {
        k.stmt(s, "disabled");
    }
    if let Some(v) = &p.description {
        k.stmt(&v.span, format!("description {}", sword(&v.node)));
    }
    mode(cx, k, p, role);
    default_maxconn(k, p, role);
    for (v, name) in [
        (&p.maxconn, "maxconn"),
        (&p.backlog, "backlog"),
        (&p.fullconn, "fullconn"),
        (&p.retries, "retries"),
    ] {
        if let Some(v) = v {
            k.stmt(&v.span, format!("{name} {}", v.node));
        }
    }
    if let Some(v) = &p.rate_limit_sessions {
        k.stmt(&v.span, format!("rate-limit sessions {}", v.node));
    }
    if let Some(v) = &p.grace {
        k.loss(
            &v.span,
            format!(
                "'grace {}' dropped: 2.6 removed 'grace' (2.5). 1.4 kept accepting \
                 connections for this long after a soft stop; 2.6 stops listening at once \
                 (see 'hard-stop-after' for the other end of a stop).",
                time(v.node)
            ),
        );
    }
    if let Some(v) = &p.bind_process {
        k.note(
            &v.span,
            "'bind-process' dropped: 2.6 runs one process (see 'nbproc' in global), so \
             there is nothing to bind to.",
        );
    }
    timeouts(k, p);
    options(cx, k, p, role);
    logging(k, p);
    balance(k, p, role);
    rules::acls(cx, k, p);
    rules::persistence(cx, k, p, role);
    rules::request(cx, k, p, role);
    rules::response(cx, k, p);
    servers(cx, k, p);
    if let Some(v) = &p.dispatch {
        k.stmt(&v.span, format!("dispatch {}", sockaddr(&v.node)));
    }
    if let Some(v) = &p.source {
        k.stmt(&v.span, format!("source {}", source(&v.node)));
    }
    errors(k, p);
    captures(k, p);
    monitoring(cx, k, p);
    checks(cx, k, p);
    if let Some(v) = &p.http_send_name_header {
        k.stmt(&v.span, format!("http-send-name-header {}", sword(&v.node)));
    }
    word_lines(cx, k, p, role);
}

// ---------------------------------------------------------------------------------------------

fn bind_addr(ip: Option<std::net::IpAddr>, lo: u16, hi: u16) -> String {
    let port = if hi != lo {
        format!("{lo}-{hi}")
    } else {
        lo.to_string()
    };
    match ip {
        None => format!("*:{port}"),
        Some(ip) => enc::ip_port(&ip, &port),
    }
}

/// `bind` lines, and the address list of a `listen`/`frontend` header line, which 2.6
/// refuses there ("please use the 'bind' keyword").
fn binds(k: &mut Sink<'_>, p: &Proxy) {
    for b in &p.binds {
        let mut s = format!("bind {}", bind_addr(b.ip, b.port_lo, b.port_hi));
        if let Some(i) = &b.interface {
            s.push_str(&format!(" interface {}", sword(i)));
        }
        if let Some(m) = b.mss {
            s.push_str(&format!(" mss {m}"));
        }
        if b.transparent {
            s.push_str(" transparent");
        }
        if let Some(id) = b.id {
            // the parser numbers every listener; only an `id` written on the line is kept
            if k.src.words(&b.span).iter().any(|w| w == b"id") {
                s.push_str(&format!(" id {id}"));
            }
        }
        if let Some(n) = &b.name {
            s.push_str(&format!(" name {}", sword(n)));
        }
        if b.defer_accept {
            s.push_str(" defer-accept");
        }
        k.stmt(&b.span, s);
    }
}

/// 1.4 limits a frontend to 2000 connections (or `-N`) when nothing is set; 2.6 to the
/// global maxconn. The limit is written in each `defaults` section, and in the frontends no
/// `defaults` section covers.
fn default_maxconn(k: &mut Sink<'_>, p: &Proxy, role: &Role<'_>) {
    let Some(m) = &p.maxconn else { return };
    if m.span.line != 0 || !(role.is_defaults || (p.kind.has_fe() && role.defaults.is_none())) {
        return;
    }
    k.note(
        &p.span,
        format!(
            "1.4 limits each frontend to {} connections unless 'maxconn' says otherwise; 2.6 \
             would use the global maxconn: written explicitly.",
            m.node
        ),
    );
    k.stmt(&p.span, format!("maxconn {}", m.node));
}

/// `mode`: `health` no longer exists in 2.6; an HTTP proxy answering 200 is the closest.
fn mode(cx: &Cx<'_>, k: &mut Sink<'_>, p: &Proxy, role: &Role<'_>) {
    let span = &p.mode.span;
    match p.mode.node {
        Mode::Http => k.stmt(span, "mode http"),
        Mode::Tcp => k.stmt(span, "mode tcp"),
        Mode::Health => {
            let text = "'mode health' no longer exists in 2.6: 'mode http' with \
                        'http-request return status 200'. 1.4 answered 'OK' to any \
                        connection without reading it (an HTTP 200 with 'option httpchk'); 2.6 \
                        waits for an HTTP request.";
            k.loss(span, text);
            k.stmt(span, "mode http");
            if !role.is_defaults && p.kind.has_fe() {
                let at = if k.owns(span) {
                    span.clone()
                } else {
                    p.span.clone()
                };
                k.stmt(
                    &at,
                    "http-request return status 200 content-type text/plain string \"OK\"",
                );
            }
        }
    }
    let _ = cx;
}

fn timeouts(k: &mut Sink<'_>, p: &Proxy) {
    let t = &p.timeouts;
    for (v, name) in [
        (&t.client, "client"),
        (&t.server, "server"),
        (&t.connect, "connect"),
        (&t.queue, "queue"),
        (&t.tarpit, "tarpit"),
        (&t.http_request, "http-request"),
        (&t.http_keep_alive, "http-keep-alive"),
        (&t.check, "check"),
    ] {
        let Some(v) = v else { continue };
        // 1.4 copies the connect timeout into unset queue/tarpit timeouts (with its span);
        // 2.6 falls back the same way by itself, so only lines that set them are written
        if matches!(name, "queue" | "tarpit") {
            let w = k.src.words(&v.span);
            if !(w.len() > 1 && w[0] == b"timeout" && w[1] == name.as_bytes()) {
                continue;
            }
        }
        k.stmt(&v.span, format!("timeout {name} {}", time(v.node)));
    }
}

/// Boolean options 2.6 still has, with their 2.6 spelling.
fn plain_options(o: &Options) -> Vec<(&Flag, &'static str)> {
    vec![
        (&o.abortonclose, "abortonclose"),
        (
            &o.accept_invalid_http_request,
            "accept-invalid-http-request",
        ),
        (
            &o.accept_invalid_http_response,
            "accept-invalid-http-response",
        ),
        (&o.allbackups, "allbackups"),
        (&o.checkcache, "checkcache"),
        (&o.contstats, "contstats"),
        (&o.dontlog_normal, "dontlog-normal"),
        (&o.dontlognull, "dontlognull"),
        (&o.http_no_delay, "http-no-delay"),
        (&o.http_pretend_keepalive, "http-pretend-keepalive"),
        (&o.http_use_proxy_header, "http-use-proxy-header"),
        (&o.independant_streams, "independent-streams"),
        (&o.log_health_checks, "log-health-checks"),
        (&o.log_separate_errors, "log-separate-errors"),
        (&o.logasap, "logasap"),
        (&o.nolinger, "nolinger"),
        (&o.persist, "persist"),
        (&o.redispatch, "redispatch"),
        (&o.socket_stats, "socket-stats"),
        (&o.splice_auto, "splice-auto"),
        (&o.splice_request, "splice-request"),
        (&o.splice_response, "splice-response"),
        (&o.tcp_smart_accept, "tcp-smart-accept"),
        (&o.tcp_smart_connect, "tcp-smart-connect"),
        (&o.transparent, "transparent"),
    ]
}

/// 1.4's connection mode of one section's options (its `ConnMode::of` for fe == be).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Conn {
    Tunnel,
    HttpClose,
    ServerClose,
    ForceClose,
}

pub(super) fn conn_mode(o: &Options) -> Conn {
    let close = o.httpclose.is_some();
    let scl = o.http_server_close.is_some();
    if o.forceclose.is_some() || (close && scl) {
        Conn::ForceClose
    } else if scl {
        Conn::ServerClose
    } else if close {
        Conn::HttpClose
    } else {
        Conn::Tunnel
    }
}

/// The 2.6 option for a 1.4 mode (`None`: 2.6's default, keep-alive).
fn conn_option(c: Conn) -> Option<&'static str> {
    match c {
        Conn::Tunnel => None,
        Conn::HttpClose | Conn::ForceClose => Some("httpclose"),
        Conn::ServerClose => Some("http-server-close"),
    }
}

const HTTPCLOSE_NOTE: &str = "1.4 'option httpclose' only added 'Connection: close' both \
     ways and let each side close, so each connection carried one request; 2.6 keeps \
     connections alive by default and its 'option httpclose' actively closes both sides \
     after each response: the same one request per connection.";
const FORCECLOSE_NOTE: &str = "'option forceclose' was removed in 2.0; 2.6's 'option \
     httpclose' closes both sides after each response, as forceclose did.";

fn options(cx: &Cx<'_>, k: &mut Sink<'_>, p: &Proxy, role: &Role<'_>) {
    let o = &p.options;
    for (flag, name) in plain_options(o) {
        if let Some(s) = flag {
            // `option tcp-smart-accept` is automatic in HTTP mode in both versions
            k.stmt(s, format!("option {name}"));
        }
    }
    // `option tcpka` sets all three flags on its line
    if let Some(s) = &o.tcpka {
        k.stmt(s, "option tcpka");
    }
    for (flag, name) in [(&o.clitcpka, "clitcpka"), (&o.srvtcpka, "srvtcpka")] {
        if let Some(s) = flag {
            if o.tcpka.as_ref() != Some(s) {
                k.stmt(s, format!("option {name}"));
            }
        }
    }
    if let Some(v) = &o.forwardfor {
        let mut s = String::from("option forwardfor");
        if let Some(n) = &v.except {
            s.push_str(&format!(" except {}", net(n)));
        }
        if !v.header.eq_ignore_ascii_case("X-Forwarded-For") {
            s.push_str(&format!(" header {}", sword(&v.header)));
        }
        if v.if_none {
            s.push_str(" if-none");
        }
        k.stmt(&v.span, s);
    }
    if let Some(v) = &o.originalto {
        let mut s = String::from("option originalto");
        if let Some(n) = &v.except {
            s.push_str(&format!(" except {}", net(n)));
        }
        if !v.header.eq_ignore_ascii_case("X-Original-To") {
            s.push_str(&format!(" header {}", sword(&v.header)));
        }
        k.stmt(&v.span, s);
    }
    if let Some(s) = &o.http_proxy {
        http_proxy(cx, k, p, role, s);
    }
    // connection mode: render the lines that agree with 1.4's resulting mode
    let mode = conn_mode(o);
    let want = conn_option(mode);
    let mut rendered = false;
    for (flag, name) in [
        (&o.httpclose, "httpclose"),
        (&o.forceclose, "forceclose"),
        (&o.http_server_close, "http-server-close"),
    ] {
        let Some(s) = flag else { continue };
        if !k.owns(s) {
            continue;
        }
        let mapped = match name {
            "http-server-close" => "http-server-close",
            _ => "httpclose",
        };
        if Some(mapped) == want {
            match name {
                "httpclose" => k.note(s, HTTPCLOSE_NOTE),
                "forceclose" => k.note(s, FORCECLOSE_NOTE),
                _ => {}
            }
            k.stmt(s, format!("option {mapped}"));
            rendered = true;
        } else {
            k.note(
                s,
                format!(
                    "'option {name}' left out: with the other connection options of this \
                     section 1.4 works in {} mode, written below/above as 'option {}'.",
                    mode_word(mode),
                    want.unwrap_or("http-keep-alive")
                ),
            );
        }
    }
    // a proxy whose 1.4 mode differs from what 2.6 would inherit gets it explicitly
    if !role.is_defaults && !rendered {
        let inherited = role.defaults.map(|d| conn_mode(&d.options));
        let inherited_opt = inherited.and_then(conn_option);
        let has_no_line = k.lines().iter().any(|(_, w)| {
            w.len() >= 3
                && w[0] == b"no"
                && w[1] == b"option"
                && matches!(
                    w[2].as_slice(),
                    b"httpclose" | b"forceclose" | b"http-server-close"
                )
        });
        if inherited_opt != want && want.is_some() && !has_no_line {
            k.note(
                &p.span,
                format!(
                    "1.4 combines this section's connection options into {} mode: \
                     written explicitly.",
                    mode_word(mode)
                ),
            );
            if let Some(w) = want {
                k.stmt(&p.span, format!("option {w}"));
            }
        }
    }
}

fn mode_word(c: Conn) -> &'static str {
    match c {
        Conn::Tunnel => "tunnel",
        Conn::HttpClose => "httpclose",
        Conn::ServerClose => "http-server-close",
        Conn::ForceClose => "forceclose",
    }
}

/// `option http_proxy` (removed in 2.5): connect to the address of the absolute URI.
fn http_proxy(cx: &Cx<'_>, k: &mut Sink<'_>, p: &Proxy, role: &Role<'_>, s: &Span) {
    let _ = cx;
    if role.is_defaults || !p.kind.has_be() || !p.servers.is_empty() || p.dispatch.is_some() {
        k.loss(
            s,
            "'option http_proxy' dropped: 2.6 removed it (2.5). The replacement, 'http-request \
             set-dst url_ip' + 'set-dst-port url_port' + 'server ... 0.0.0.0:0', is written \
             only in a backend without servers; add it to the backends that used this \
             option.",
        );
        return;
    }
    k.note(
        s,
        "'option http_proxy' (removed in 2.5) becomes its documented replacement: the \
         destination is taken from the absolute URI (an IP address, no DNS, as in 1.4) and a \
         server at 0.0.0.0:0 connects to it.",
    );
    k.stmt(s, "http-request set-dst url_ip");
    k.stmt(s, "http-request set-dst-port url_port");
    k.stmt(s, "server hx_http_proxy 0.0.0.0:0");
}

fn logging(k: &mut Sink<'_>, p: &Proxy) {
    let lf = &p.log_format;
    match lf.node {
        LogFormat::Connect => {}
        LogFormat::Tcp => k.stmt(&lf.span, "option tcplog"),
        LogFormat::Http => k.stmt(&lf.span, "option httplog"),
        LogFormat::HttpClf => k.stmt(&lf.span, "option httplog clf"),
    }
    for l in &p.logs {
        // `log global` lines are written from their words (the IR holds the copies)
        let words = k.src.words(&l.span);
        if words.get(1).is_some_and(|w| w == b"global") {
            continue;
        }
        k.stmt(&l.span, log_line(&l.node));
    }
}

fn balance_text(b: &Balance) -> String {
    match b {
        Balance::RoundRobin => "balance roundrobin".into(),
        Balance::StaticRr => "balance static-rr".into(),
        Balance::LeastConn => "balance leastconn".into(),
        Balance::Source => "balance source".into(),
        Balance::Uri { len, depth, whole } => {
            let mut s = String::from("balance uri");
            if *whole {
                s.push_str(" whole");
            }
            if let Some(l) = len {
                s.push_str(&format!(" len {l}"));
            }
            if let Some(d) = depth {
                s.push_str(&format!(" depth {d}"));
            }
            s
        }
        Balance::UrlParam { name, check_post } => {
            let mut s = format!("balance url_param {}", sword(name));
            if let Some(n) = check_post {
                s.push_str(&format!(" check_post {n}"));
            }
            s
        }
        Balance::Hdr {
            name,
            use_domain_only,
        } => {
            let mut s = format!("balance hdr({})", sword(name));
            if *use_domain_only {
                s.push_str(" use_domain_only");
            }
            s
        }
        Balance::RdpCookie { name } => format!("balance rdp-cookie({})", sword(name)),
    }
}

fn balance(k: &mut Sink<'_>, p: &Proxy, role: &Role<'_>) {
    let b = &p.balance;
    if b.span.line != 0 {
        if k.owns(&b.span) {
            k.stmt(&b.span, balance_text(&b.node));
        } else if let Some(d) = role.defaults {
            // 1.4 copies only part of the parameters from defaults; 2.6 copies them all
            if d.balance.node != b.node && p.kind.has_be() {
                k.note(
                    &p.span,
                    "1.4 inherits the balance algorithm from defaults without some of its \
                     parameters: written explicitly.",
                );
                k.stmt(&p.span, balance_text(&b.node));
            }
        }
    }
    let h = &p.hash_type;
    match h.node {
        HashType::MapBased => k.stmt(&h.span, "hash-type map-based"),
        HashType::Consistent => k.stmt(&h.span, "hash-type consistent"),
    }
}

pub(super) fn net(n: &IpNet) -> String {
    let full = if n.addr.is_ipv4() { 32 } else { 128 };
    if n.prefix == full {
        n.addr.to_string()
    } else {
        format!("{}/{}", n.addr, n.prefix)
    }
}

fn sockaddr(sa: &std::net::SocketAddr) -> String {
    enc::ip_port(&sa.ip(), &sa.port().to_string())
}

fn source(s: &Source) -> String {
    let mut out = if s.port_lo == 0 && s.port_hi == 0 {
        s.addr.to_string()
    } else if s.port_hi != s.port_lo && s.port_hi != 0 {
        enc::ip_port(&s.addr, &format!("{}-{}", s.port_lo, s.port_hi))
    } else {
        enc::ip_port(&s.addr, &s.port_lo.to_string())
    };
    match &s.usesrc {
        None => {}
        Some(UseSrc::Addr(sa)) => out.push_str(&format!(" usesrc {}", sockaddr(sa))),
        Some(UseSrc::Client) => out.push_str(" usesrc client"),
        Some(UseSrc::ClientIp) => out.push_str(" usesrc clientip"),
        Some(UseSrc::HdrIp { name, occ }) => {
            out.push_str(&format!(" usesrc hdr_ip({},{occ})", sword(name)))
        }
    }
    if let Some(i) = &s.interface {
        out.push_str(&format!(" interface {}", sword(i)));
    }
    out
}

/// The server address: the host as written when it is a name (2.6 resolves it at startup as
/// 1.4 did), else the IP; the port as a number, an offset, or nothing.
fn server_addr(a: &ServerAddr) -> String {
    let host_written = match a.text.rfind(':') {
        Some(i) if a.text.matches(':').count() == 1 => &a.text[..i],
        _ => a.text.as_str(),
    };
    let is_name = !host_written.is_empty()
        && host_written.parse::<std::net::IpAddr>().is_err()
        && host_written != "*";
    let host = if is_name {
        host_written.to_string()
    } else {
        match a.ip {
            Some(std::net::IpAddr::V6(v6)) => format!("[{v6}]"),
            Some(ip) => ip.to_string(),
            None => "0.0.0.0".to_string(),
        }
    };
    match a.port {
        ServerPort::Fixed(p) => format!("{host}:{p}"),
        ServerPort::Same => host,
        ServerPort::Offset(n) if n >= 0 => format!("{host}:+{n}"),
        ServerPort::Offset(n) => format!("{host}:{n}"),
    }
}

fn servers(cx: &Cx<'_>, k: &mut Sink<'_>, p: &Proxy) {
    let _ = cx;
    let mut used: HashSet<String> = HashSet::new();
    let names: HashSet<&str> = p.servers.iter().map(|s| s.name.as_str()).collect();
    for sv in &p.servers {
        let s = &sv.node;
        let mut name = s.name.clone();
        if used.contains(&name) {
            let mut n = 2;
            while used.contains(&format!("{}_{n}", s.name))
                || names.contains(format!("{}_{n}", s.name).as_str())
            {
                n += 1;
            }
            name = format!("{}_{n}", s.name);
            k.note(
                &sv.span,
                format!(
                    "server '{}' is declared twice in '{}': 1.4 accepts that, 2.6 refuses \
                     it, so this one is renamed '{name}' (the stats page and the logs show \
                     that name; 'track' lines naming '{}' follow the first one, as in 1.4).",
                    s.name, p.name, s.name
                ),
            );
        }
        used.insert(name.clone());
        let mut line = format!("server {} {}", sword(&name), server_addr(&s.addr));
        // the parser numbers every server; only an `id` written on the line is kept
        if let Some(id) =
            s.id.filter(|_| k.src.words(&sv.span).iter().any(|w| w == b"id"))
        {
            line.push_str(&format!(" id {id}"));
        }
        match &s.cookie {
            Some(c) if c.is_empty() => k.loss(
                &sv.span,
                "'cookie' without a value dropped from this server: 2.6 refuses it. 1.4 \
                 compared client cookies with the empty value and inserted an empty one.",
            ),
            Some(c) => line.push_str(&format!(" cookie {}", sword(c))),
            None => {}
        }
        if s.check {
            line.push_str(" check");
        }
        if s.inter != 2000 {
            line.push_str(&format!(" inter {}", time(s.inter)));
        }
        if let Some(v) = s.fastinter {
            line.push_str(&format!(" fastinter {}", time(v)));
        }
        if let Some(v) = s.downinter {
            line.push_str(&format!(" downinter {}", time(v)));
        }
        if s.rise != 2 {
            line.push_str(&format!(" rise {}", s.rise));
        }
        if s.fall != 3 {
            line.push_str(&format!(" fall {}", s.fall));
        }
        // the parser fills the check port from the address; write it only when it differs
        if let Some(pt) = s
            .check_port
            .filter(|pt| s.addr.port != ServerPort::Fixed(*pt))
        {
            line.push_str(&format!(" port {pt}"));
        }
        if let Some(a) = s.check_addr {
            line.push_str(&format!(" addr {a}"));
        }
        if s.weight != 1 {
            line.push_str(&format!(" weight {}", s.weight));
        }
        if s.backup {
            line.push_str(" backup");
        }
        if s.disabled {
            line.push_str(" disabled");
        }
        if s.maxconn != 0 {
            line.push_str(&format!(" maxconn {}", s.maxconn));
        }
        if s.maxqueue != 0 {
            line.push_str(&format!(" maxqueue {}", s.maxqueue));
        }
        // 1.4 (and 2.6) take maxconn for an unset minconn: written only when it differs
        if s.minconn != 0 && s.minconn != s.maxconn {
            line.push_str(&format!(" minconn {}", s.minconn));
        }
        if s.slowstart != 0 {
            line.push_str(&format!(" slowstart {}", time(s.slowstart)));
        }
        if let Some(t) = &s.track {
            match &t.proxy {
                Some(px) => line.push_str(&format!(" track {}/{}", sword(px), sword(&t.server))),
                None => line.push_str(&format!(" track {}", sword(&t.server))),
            }
        }
        if let Some(r) = &s.redir {
            line.push_str(&format!(" redir {}", sword(r)));
        }
        if let Some(src) = &s.source {
            line.push_str(&format!(" source {}", source(src)));
        }
        match s.observe {
            Some(Observe::Layer4) => line.push_str(" observe layer4"),
            Some(Observe::Layer7) => line.push_str(" observe layer7"),
            None => {}
        }
        match s.on_error {
            OnError::FailCheck => {}
            OnError::Fastinter => line.push_str(" on-error fastinter"),
            OnError::SuddenDeath => line.push_str(" on-error sudden-death"),
            OnError::MarkDown => line.push_str(" on-error mark-down"),
        }
        if s.error_limit != 10 {
            line.push_str(&format!(" error-limit {}", s.error_limit));
        }
        k.stmt(&sv.span, line);
    }
}

/// True when 2.6 can load `bytes` as an error file: a status line and headers ending with
/// an empty line (2.6 parses the file at load time; 1.4 sent it as it was).
fn valid_errorfile(bytes: &[u8]) -> bool {
    bytes.starts_with(b"HTTP/1.")
        && (bytes.windows(4).any(|w| w == b"\r\n\r\n") || bytes.windows(2).any(|w| w == b"\n\n"))
}

fn errors(k: &mut Sink<'_>, p: &Proxy) {
    for e in &p.errors {
        match &e.node.body {
            ErrorBody::File { path, bytes } => {
                let pw = enc::word(path.as_os_str().as_encoded_bytes());
                if valid_errorfile(bytes) {
                    k.stmt(&e.span, format!("errorfile {} {pw}", e.node.status));
                } else {
                    k.loss(
                        &e.span,
                        format!(
                            "'errorfile {} {}' dropped: 2.6 parses error files at load time \
                             and refuses one that is not a complete HTTP response (1.4 sent \
                             the bytes as they were); 2.6's own page is used instead.",
                            e.node.status,
                            path.display()
                        ),
                    );
                }
            }
            ErrorBody::Location { code, url } => {
                let kw = if *code == 303 {
                    "errorloc303"
                } else {
                    "errorloc302"
                };
                k.stmt(&e.span, format!("{kw} {} {}", e.node.status, sword(url)));
            }
        }
    }
}

fn captures(k: &mut Sink<'_>, p: &Proxy) {
    if let Some(c) = &p.capture_cookie {
        k.stmt(
            &c.span,
            format!("capture cookie {} len {}", sword(&c.node.name), c.node.len),
        );
    }
    for (list, dir) in [
        (&p.capture_request_headers, "request"),
        (&p.capture_response_headers, "response"),
    ] {
        for c in list {
            k.stmt(
                &c.span,
                format!(
                    "capture {dir} header {} len {}",
                    sword(&c.node.name),
                    c.node.len
                ),
            );
        }
    }
}

fn monitoring(cx: &Cx<'_>, k: &mut Sink<'_>, p: &Proxy) {
    if let Some(v) = &p.monitor_uri {
        k.stmt(&v.span, format!("monitor-uri {}", sword(&v.node)));
    }
    for c in &p.monitor_fail {
        let cond = rules::cond_text(cx, p, &c.node, &c.span);
        k.stmt(&c.span, format!("monitor fail {cond}"));
    }
}

fn checks(cx: &Cx<'_>, k: &mut Sink<'_>, p: &Proxy) {
    let c = &p.check;
    match &c.node {
        CheckKind::Tcp => {}
        CheckKind::Http {
            method,
            uri,
            version,
        } => {
            // 1.4 appended headers to the version string (`HTTP/1.1\r\nHost:\ www`);
            // 2.6 wants them as `http-check send hdr`
            let (ver, extra) = match version.find("\r\n") {
                Some(i) => (&version[..i], &version[i + 2..]),
                None => (version.as_str(), ""),
            };
            let line = if method == "OPTIONS" && uri == "/" && ver == "HTTP/1.0" {
                "option httpchk".to_string()
            } else if ver == "HTTP/1.0" && method == "OPTIONS" {
                format!("option httpchk {}", sword(uri))
            } else if ver == "HTTP/1.0" {
                format!("option httpchk {} {}", sword(method), sword(uri))
            } else {
                format!(
                    "option httpchk {} {} {}",
                    sword(method),
                    sword(uri),
                    sword(ver)
                )
            };
            k.stmt(&c.span, line);
            if !extra.is_empty() {
                let (hdrs, body) = match extra.find("\r\n\r\n") {
                    Some(i) => (&extra[..i], &extra[i + 4..]),
                    None => (extra.trim_end_matches("\r\n"), ""),
                };
                let mut send = String::from("http-check send");
                for h in hdrs.split("\r\n").filter(|h| !h.is_empty()) {
                    match h.split_once(':') {
                        Some((n, v)) => {
                            send.push_str(&format!(" hdr {} {}", sword(n.trim()), sword(v.trim())))
                        }
                        None => send.push_str(&format!(" hdr {} \"\"", sword(h.trim()))),
                    }
                }
                if !body.is_empty() {
                    send.push_str(&format!(" body {}", sword(body)));
                }
                k.note(
                    &c.span,
                    "the headers 1.4 took from the end of the version string go to \
                     'http-check send' in 2.6.",
                );
                k.stmt(&c.span, send);
            }
        }
        CheckKind::SslHello => k.stmt(&c.span, "option ssl-hello-chk"),
        CheckKind::Smtp { verb, domain } => {
            if verb == "HELO" && domain == "localhost" {
                k.stmt(&c.span, "option smtpchk");
            } else {
                k.stmt(
                    &c.span,
                    format!("option smtpchk {} {}", sword(verb), sword(domain)),
                );
            }
        }
        CheckKind::Mysql { user } => match user {
            Some(u) => k.stmt(&c.span, format!("option mysql-check user {}", sword(u))),
            None => k.stmt(&c.span, "option mysql-check"),
        },
        CheckKind::Ldap => k.stmt(&c.span, "option ldap-check"),
    }
    let h = &p.http_check;
    if let Some(s) = &h.disable_on_404 {
        k.stmt(s, "http-check disable-on-404");
    }
    if let Some(s) = &h.send_state {
        k.stmt(s, "http-check send-state");
    }
    if let Some(e) = &h.expect {
        let words = cx.src.words(&e.span);
        let neg = if e.node.negate { "! " } else { "" };
        let line = match &e.node.kind {
            HttpExpectKind::Status(s) => format!("http-check expect {neg}status {}", sword(s)),
            HttpExpectKind::String(s) => format!("http-check expect {neg}string {}", enc::word(s)),
            HttpExpectKind::RStatus(_) | HttpExpectKind::RString(_) => {
                let kw = if matches!(e.node.kind, HttpExpectKind::RStatus(_)) {
                    "rstatus"
                } else {
                    "rstring"
                };
                let pat = words
                    .iter()
                    .position(|w| w == kw.as_bytes())
                    .and_then(|i| words.get(i + 1));
                match pat.map(|w| super::regex::to_pcre(w)) {
                    Some(Ok(re)) => format!("http-check expect {neg}{kw} {}", sword(&re)),
                    _ => {
                        k.loss(
                            &e.span,
                            "'http-check expect' regex could not be read again.",
                        );
                        return;
                    }
                }
            }
        };
        k.stmt(&e.span, line);
    }
}

/// Lines the IR folds into values or does not keep, rendered from their words: `log
/// global`, `no option X`, `enabled`, `default-server`, `option keepalive`, `stats ...`.
fn word_lines(cx: &Cx<'_>, k: &mut Sink<'_>, p: &Proxy, role: &Role<'_>) {
    for (span, w) in k.lines() {
        let w0 = w[0].as_slice();
        match w0 {
            b"log" if w.len() == 2 && w[1] == b"global" => k.stmt(&span, "log global"),
            b"no" if w.get(1).is_some_and(|x| x == b"option") && w.len() >= 3 => {
                no_option(k, p, &span, &w[2]);
            }
            b"enabled" if p.disabled.is_none() => k.stmt(&span, "enabled"),
            b"default-server" => k.note(
                &span,
                format!(
                    "'default-server' values are written on each server line they apply to \
                     (was: {})",
                    words_lossy(&w)
                ),
            ),
            b"option" if w.get(1).is_some_and(|x| x == b"keepalive") => k.note(
                &span,
                "'option keepalive' dropped: 1.4 accepted the word and ignored it (2.6 keeps \
                 client connections alive by default).",
            ),
            b"stats" => stats_line(cx, k, p, role, &span, &w),
            _ => {}
        }
    }
}

fn same_line(a: &Span, b: &Span) -> bool {
    a.file == b.file && a.line == b.line
}

/// `no option X`: kept when it still means something in 2.6 for this section.
fn no_option(k: &mut Sink<'_>, p: &Proxy, span: &Span, name: &[u8]) {
    let o = &p.options;
    let mode26 = conn_option(conn_mode(o));
    let name26: Option<&str> = match name {
        b"httpclose" | b"forceclose" => Some("httpclose"),
        b"http-server-close" => Some("http-server-close"),
        b"http_proxy" | b"keepalive" => None,
        b"independant-streams" => Some("independent-streams"),
        b"redispatch" => Some("redispatch"),
        other => plain_options(o)
            .into_iter()
            .map(|(_, n)| n)
            .find(|n| n.as_bytes() == other)
            .or(match other {
                b"tcpka" => Some("tcpka"),
                b"clitcpka" => Some("clitcpka"),
                b"srvtcpka" => Some("srvtcpka"),
                b"forwardfor" => Some("forwardfor"),
                b"originalto" => Some("originalto"),
                b"httplog" => Some("httplog"),
                b"tcplog" => Some("tcplog"),
                _ => None,
            }),
    };
    match name26 {
        Some(n @ ("httpclose" | "http-server-close")) if mode26 == Some(n) => k.note(
            span,
            format!(
                "'no option {}' left out: 1.4 still works in {} mode here.",
                String::from_utf8_lossy(name),
                mode_word(conn_mode(o))
            ),
        ),
        Some(n) => k.stmt(span, format!("no option {n}")),
        None => k.note(
            span,
            format!(
                "'no option {}' dropped: the option does not exist in 2.6.",
                String::from_utf8_lossy(name)
            ),
        ),
    }
}

/// One `stats` line, rendered from the IR's stats settings (which do not keep a span per
/// keyword).
fn stats_line(
    cx: &Cx<'_>,
    k: &mut Sink<'_>,
    p: &Proxy,
    role: &Role<'_>,
    span: &Span,
    w: &[Vec<u8>],
) {
    let _ = role;
    let Some(st) = &p.stats else {
        return;
    };
    let sub = w.get(1).map(Vec::as_slice).unwrap_or_default();
    match sub {
        b"enable" => k.stmt(span, "stats enable"),
        b"uri" => k.stmt(span, format!("stats uri {}", sword(&st.uri))),
        b"realm" => {
            if let Some(r) = &st.realm {
                if r.contains(' ') {
                    k.note(
                        span,
                        "the realm is quoted: 2.6 reads quotes and no longer needs \
                         backslashes before spaces.",
                    );
                }
                if r.contains('"') || r.contains('\'') {
                    k.note(
                        span,
                        "the quote in the realm is escaped: 2.6 reads quotes as quoting (1.4 \
                         kept them as text).",
                    );
                }
                k.stmt(span, format!("stats realm {}", sword(r)));
            }
        }
        b"auth" => {
            for a in &st.auth {
                if same_line(&a.span, span) {
                    k.stmt(
                        span,
                        format!(
                            "stats auth {}",
                            sword(&format!("{}:{}", a.node.0, a.node.1))
                        ),
                    );
                }
            }
        }
        b"refresh" => {
            if let Some(r) = st.refresh {
                k.stmt(span, format!("stats refresh {}", time_s(r)));
            }
        }
        b"hide-version" if st.hide_version => k.stmt(span, "stats hide-version"),
        b"show-legends" if st.show_legends => k.stmt(span, "stats show-legends"),
        b"scope" => {
            if let Some(s) = w.get(2) {
                k.stmt(span, format!("stats scope {}", enc::word(s)));
            }
        }
        b"show-node" => match &st.show_node {
            Some(Some(n)) => k.stmt(span, format!("stats show-node {}", sword(n))),
            Some(None) => k.stmt(span, "stats show-node"),
            None => {}
        },
        b"show-desc" => match &st.show_desc {
            Some(Some(d)) => k.stmt(span, format!("stats show-desc {}", sword(d))),
            Some(None) => k.stmt(span, "stats show-desc"),
            None => {}
        },
        b"admin" => {
            for a in &st.admin {
                if same_line(&a.span, span) {
                    let c = rules::cond_text(cx, p, &a.node, &a.span);
                    k.stmt(span, format!("stats admin {c}"));
                }
            }
        }
        b"http-request" => {
            for r in &st.http_request {
                if same_line(&r.span, span) {
                    let line = rules::http_req_rule(cx, p, &r.node, &r.span);
                    k.stmt(span, format!("stats {line}"));
                }
            }
        }
        b"prometheus-uri" => {
            if let Some(u) = &st.prometheus_uri {
                k.note(
                    span,
                    "'stats prometheus-uri' is a haproxide extension; 2.6 serves the same \
                     metrics with its prometheus-exporter service.",
                );
                k.stmt(
                    span,
                    format!(
                        "http-request use-service prometheus-exporter if {{ path {} }}",
                        sword(u)
                    ),
                );
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(ip: Option<&str>, port: ServerPort, text: &str) -> ServerAddr {
        ServerAddr {
            ip: ip.map(|i| i.parse().expect("test ip")),
            port,
            text: text.to_string(),
        }
    }

    #[test]
    fn server_addresses() {
        // a host name stays a name: 2.6 resolves it at startup as 1.4 did
        let a = addr(Some("127.0.0.1"), ServerPort::Fixed(80), "localhost:80");
        assert_eq!(server_addr(&a), "localhost:80");
        let a = addr(Some("10.0.0.1"), ServerPort::Same, "10.0.0.1");
        assert_eq!(server_addr(&a), "10.0.0.1");
        let a = addr(Some("10.0.0.1"), ServerPort::Offset(1000), "10.0.0.1:+1000");
        assert_eq!(server_addr(&a), "10.0.0.1:+1000");
        let a = addr(Some("10.0.0.1"), ServerPort::Offset(-1), "10.0.0.1:-1");
        assert_eq!(server_addr(&a), "10.0.0.1:-1");
        let a = addr(None, ServerPort::Fixed(80), "0.0.0.0:80");
        assert_eq!(server_addr(&a), "0.0.0.0:80");
        let a = addr(Some("::1"), ServerPort::Fixed(80), "::1:80");
        assert_eq!(server_addr(&a), "[::1]:80");
    }

    #[test]
    fn binds_and_sources() {
        assert_eq!(bind_addr(None, 80, 80), "*:80");
        assert_eq!(
            bind_addr(Some("::1".parse().expect("ip")), 80, 81),
            "[::1]:80-81"
        );
        let s = Source {
            addr: "0.0.0.0".parse().expect("ip"),
            port_lo: 0,
            port_hi: 0,
            usesrc: Some(UseSrc::HdrIp {
                name: "x-forwarded-for".into(),
                occ: -1,
            }),
            interface: Some("eth0".into()),
        };
        assert_eq!(
            source(&s),
            "0.0.0.0 usesrc hdr_ip(x-forwarded-for,-1) interface eth0"
        );
    }

    #[test]
    fn connection_mode_precedence() {
        let mut o = Options::default();
        assert_eq!(conn_mode(&o), Conn::Tunnel);
        o.httpclose = Some(Span::builtin());
        assert_eq!(conn_mode(&o), Conn::HttpClose);
        o.http_server_close = Some(Span::builtin());
        assert_eq!(conn_mode(&o), Conn::ForceClose, "1.4: both make forceclose");
        assert_eq!(conn_option(Conn::ForceClose), Some("httpclose"));
        assert_eq!(conn_option(Conn::Tunnel), None);
    }

    #[test]
    fn error_files_2_6_can_load() {
        assert!(valid_errorfile(b"HTTP/1.0 503 x\r\nA: b\r\n\r\nbody"));
        assert!(!valid_errorfile(b"<html>oops</html>"));
        assert!(!valid_errorfile(b"HTTP/1.0 503 x\r\nno end"));
    }
}
