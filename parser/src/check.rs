//! Post-parse validation and the final IR (compare with 1.4 `check_config_validity` in
//! `src/cfgparse.c`, `acl_find_targets` in `src/acl.c`, `findproxy_mode`, `findproxy`,
//! `findserver` and `proxy_cfg_ensure_no_http` in `src/proxy.c`).
//!
//! The checks run in 1.4's order, proxy by proxy, with its messages: backend references
//! (`default_backend`, `use_backend`, `reqsetbe`), stick tables, stats settings, ACL
//! targets (`srv_is_up`, `http_auth`), missing timeouts, server `minconn`/`fullconn` and
//! `track`, HTTP-only settings in TCP proxies, and userlist cross-references. It also
//! fills what 1.4 computes at this point: automatic proxy, server and listener ids, the
//! `timeout queue`/`timeout tarpit` fallbacks, `fullconn`, and the effective
//! `minconn`/`maxconn` of servers.

use crate::ir::*;
use crate::kw::option::{clear_flag, flag_of, BOOL_OPTS};
use crate::kw::persist::{castable, pattern_type, PatType};
use crate::kw::Parser;
use crate::section::{Cap, Px};
use crate::span::{Span, Spanned};

fn mode_str(m: Mode) -> &'static str {
    match m {
        Mode::Tcp => "tcp",
        Mode::Http => "http",
        Mode::Health => "health",
    }
}

/// 1.4 `get_next_id`: the first id >= `key` not in `used`.
fn next_id(used: &[u32], mut key: u32) -> u32 {
    while used.contains(&key) {
        key = key.saturating_add(1);
    }
    key
}

/// `findproxy_mode`: the backend-capable proxy `name` usable from a proxy in `mode`.
/// Prints 1.4's alerts on mode mismatch or duplicates.
fn findproxy_mode(p: &mut Parser, name: &str, mode: Mode) -> Option<usize> {
    let mut target = None;
    for (i, px) in p.proxies.iter().enumerate() {
        if !px.cap.has(Cap::BE) || px.ir.name != name {
            continue;
        }
        let m = *px.ir.mode;
        if m != mode && !(m == Mode::Http && mode == Mode::Tcp) {
            p.d.bare_alert(format!(
                "Unable to use proxy '{}' with wrong mode, required: {}, has: {}.",
                name,
                mode_str(mode),
                mode_str(m)
            ));
            p.d.bare_alert(format!("You may want to use 'mode {}'.", mode_str(mode)));
            return None;
        }
        match target {
            None => target = Some(i),
            Some(t) => {
                let (a, b) = (px.type_str(), p.proxies[t].type_str());
                p.d.bare_alert(format!(
                    "Refusing to use duplicated proxy '{name}' with overlapping capabilities: {a}/{b}!"
                ));
                return None;
            }
        }
    }
    target
}

/// `findproxy`: by name or `#id`, backend capability, unique.
fn findproxy(p: &Parser, name: &str) -> Option<usize> {
    let pid: Option<u32> = name
        .strip_prefix('#')
        .map(|n| crate::value::atoi(n.as_bytes()) as u32);
    let mut target = None;
    for (i, px) in p.proxies.iter().enumerate() {
        if !px.cap.has(Cap::BE) {
            continue;
        }
        let hit = match pid {
            Some(id) => px.ir.id.as_ref().map(|v| v.node) == Some(id),
            None => px.ir.name == name,
        };
        if !hit {
            continue;
        }
        if target.is_some() {
            return None;
        }
        target = Some(i);
    }
    target
}

/// `findserver`: the unique server `name` of proxy `pi`.
fn findserver(p: &mut Parser, pi: usize, name: &str) -> Option<usize> {
    let mut target = None;
    for (i, s) in p.proxies[pi].ir.servers.iter().enumerate() {
        if s.name != name {
            continue;
        }
        if target.is_some() {
            let pname = p.proxies[pi].ir.name.clone();
            p.d.bare_alert(format!(
                "Refusing to use duplicated server '{name}' found in proxy: {pname}!"
            ));
            return None;
        }
        target = Some(i);
    }
    target
}

/// Raw 1.4 `bind_proc` (0 = all processes).
fn raw_bind(b: &Option<Spanned<BindProcess>>) -> u32 {
    match b {
        Some(v) if v.0 != u32::MAX => v.0,
        _ => 0,
    }
}

/// Forces a backend onto at least the frontend's processes (1.4 does this for every
/// resolved backend reference).
fn widen_bind(p: &mut Parser, from: usize, to: usize) {
    let cur = raw_bind(&p.proxies[from].ir.bind_process);
    let span = p.proxies[from]
        .ir
        .bind_process
        .as_ref()
        .map(|b| b.span.clone());
    let t = raw_bind(&p.proxies[to].ir.bind_process);
    p.proxies[to].ir.bind_process = if cur != 0 {
        Some(Spanned::new(
            span.unwrap_or_else(Span::builtin),
            BindProcess(t | cur),
        ))
    } else {
        None
    };
}

fn is_http_lb(b: &Balance) -> bool {
    matches!(
        b,
        Balance::Uri { .. } | Balance::UrlParam { .. } | Balance::Hdr { .. }
    )
}

/// 1.4 `proxy_cfg_ensure_no_http`.
fn ensure_no_http(p: &mut Parser, i: usize) {
    let (ty, id) = (p.proxies[i].type_str(), p.proxies[i].ir.name.clone());
    let px = &p.proxies[i];
    let mut warns = Vec::new();
    if px.ir.cookie.is_some() {
        warns.push(format!(
            "cookie will be ignored for {ty} '{id}' (needs 'mode http')."
        ));
    }
    if !px.ir.rsp_filters.is_empty() {
        warns.push(format!(
            "server regular expressions will be ignored for {ty} '{id}' (needs 'mode http')."
        ));
    }
    if !px.ir.req_filters.is_empty() {
        warns.push(format!(
            "client regular expressions will be ignored for {ty} '{id}' (needs 'mode http')."
        ));
    }
    if px.ir.monitor_uri.is_some() {
        warns.push(format!(
            "monitor-uri will be ignored for {ty} '{id}' (needs 'mode http')."
        ));
    }
    let l7 = px.algo_set && is_http_lb(&px.ir.balance);
    if l7 {
        warns.push(format!(
            "Layer 7 hash not possible for {ty} '{id}' (needs 'mode http'). Falling back to round robin."
        ));
    }
    let httplog = px.log_http;
    if httplog {
        warns.push(format!(
            "'option httplog' not usable with {ty} '{id}' (needs 'mode http'). Falling back to 'option tcplog'."
        ));
    }
    for w in warns {
        p.d.config_warn(w);
    }
    let px = &mut p.proxies[i];
    if l7 {
        px.ir.balance.node = Balance::RoundRobin;
    }
    if httplog {
        px.log_http = false;
        px.log_clf = false;
    }
}

/// Runs the post-parse checks (1.4 `check_config_validity`).
pub fn check(p: &mut Parser) {
    if p.proxies.is_empty() {
        p.d.config_alert("no <listen> line. Nothing to do !");
        return;
    }
    let mut used_pxid: Vec<u32> = p
        .proxies
        .iter()
        .filter_map(|x| x.ir.id.as_ref().map(|v| v.node))
        .collect();
    let mut next_pxid = 1u32;
    let nbproc = p.g.nbproc.max(1);
    for i in 0..p.proxies.len() {
        if p.proxies[i].ir.id.is_none() {
            next_pxid = next_id(&used_pxid, next_pxid);
            used_pxid.push(next_pxid);
            p.proxies[i].ir.id = Some(Spanned::new(Span::builtin(), next_pxid));
        }
        next_pxid = next_pxid.saturating_add(1);
        if p.proxies[i].ir.disabled.is_some() {
            continue;
        }
        check_proxy(p, i, nbproc);
    }
    if nbproc > 1 && p.g.ir.stats_socket.is_some() {
        p.d.bare_warn("stats socket will not work correctly in multi-process mode (nbproc > 1).");
    }
    check_userlists(p);
}

fn check_proxy(p: &mut Parser, i: usize, nbproc: i64) {
    let ty = p.proxies[i].type_str();
    let id = p.proxies[i].ir.name.clone();
    let mode = *p.proxies[i].ir.mode;
    let cap = p.proxies[i].cap;

    match mode {
        Mode::Health => {
            ensure_no_http(p, i);
            if !cap.has(Cap::FE) {
                p.d.config_alert(format!(
                    "{ty} '{id}' cannot be in health mode as it has no frontend capability."
                ));
            }
            if !p.proxies[i].ir.servers.is_empty() {
                p.d.config_warn(format!("servers will be ignored for {ty} '{id}'."));
            }
        }
        Mode::Tcp => ensure_no_http(p, i),
        Mode::Http => {}
    }

    if cap.has(Cap::FE) && p.proxies[i].ir.binds.is_empty() {
        p.d.config_alert(format!(
            "{ty} '{id}' has no listen address. Please either specify a valid address on the <listen> line, or use the <bind> keyword."
        ));
    }

    if cap.has(Cap::BE) && mode != Mode::Health {
        let px = &p.proxies[i];
        if px.algo_set {
            if px.ir.options.transparent.is_some() {
                p.d.config_alert(format!(
                    "{ty} '{id}' cannot use both transparent and balance mode."
                ));
            } else if px
                .ir
                .dispatch
                .as_ref()
                .is_some_and(|d| !d.ip().is_unspecified())
            {
                p.d.config_warn(format!(
                    "dispatch address of {ty} '{id}' will be ignored in balance mode."
                ));
            }
        }
    }

    let px = &mut p.proxies[i];
    if px.ir.http_check.disable_on_404.is_some() && !matches!(*px.ir.check, CheckKind::Http { .. })
    {
        px.ir.http_check.disable_on_404 = None;
        p.d.config_warn(format!(
            "'disable-on-404' will be ignored for {ty} '{id}' (requires 'option httpchk')."
        ));
    }
    let px = &mut p.proxies[i];
    if px.ir.http_check.send_state.is_some() && !matches!(*px.ir.check, CheckKind::Http { .. }) {
        p.d.config_warn(format!(
            "'send-state' will be ignored for {ty} '{id}' (requires 'option httpchk')."
        ));
    }

    // default_backend
    if let Some(name) = p.proxies[i]
        .ir
        .default_backend
        .as_ref()
        .map(|d| d.node.clone())
    {
        match findproxy_mode(p, &name, mode) {
            None => p.d.bare_alert(format!(
                "Proxy '{id}': unable to find required default_backend: '{name}'."
            )),
            Some(t) if t == i => p.d.bare_alert(format!(
                "Proxy '{id}': loop detected for default_backend: '{name}'."
            )),
            Some(t) => widen_bind(p, i, t),
        }
    }

    // reqsetbe
    if mode == Mode::Http {
        let names: Vec<String> = p.proxies[i]
            .ir
            .req_filters
            .iter()
            .filter_map(|f| match &f.action {
                FilterAction::SetBackend(b) => Some(b.clone()),
                _ => None,
            })
            .collect();
        for name in names {
            match findproxy_mode(p, &name, Mode::Http) {
                None => p.d.bare_alert(format!(
                    "Proxy '{id}': unable to find required setbe: '{name}'."
                )),
                Some(t) if t == i => {
                    p.d.bare_alert(format!("Proxy '{id}': loop detected for setbe: '{name}'."))
                }
                Some(t) => widen_bind(p, i, t),
            }
        }
    }

    // use_backend
    let names: Vec<String> = p.proxies[i]
        .ir
        .use_backends
        .iter()
        .map(|u| u.backend.clone())
        .collect();
    for name in names {
        match findproxy_mode(p, &name, mode) {
            None => p.d.bare_alert(format!(
                "Proxy '{id}': unable to find required use_backend: '{name}'."
            )),
            Some(t) if t == i => p.d.bare_alert(format!(
                "Proxy '{id}': loop detected for use_backend: '{name}'."
            )),
            Some(t) => widen_bind(p, i, t),
        }
    }

    // stick rules and their tables
    let rules: Vec<(Option<String>, PatType)> = p.proxies[i]
        .ir
        .stick_rules
        .iter()
        .map(|r| (r.table.clone(), pattern_type(&r.pattern)))
        .collect();
    for (table, pt) in rules {
        let target = match &table {
            Some(t) => findproxy(p, t),
            None => Some(i),
        };
        let shown = table.clone().unwrap_or_else(|| id.clone());
        match target {
            None => p.d.bare_alert(format!(
                "Proxy '{}': unable to find stick-table '{}'.",
                id,
                table.unwrap_or_default()
            )),
            Some(t) => match &p.proxies[t].ir.stick_table {
                None => p.d.bare_alert(format!(
                    "Proxy '{id}': stick-table '{shown}' used but not configured."
                )),
                Some(st) => {
                    let key = match st.key {
                        StickKey::Ip => PatType::Ip,
                        StickKey::Integer => PatType::Integer,
                        StickKey::String { .. } => PatType::String,
                    };
                    if !castable(pt, key) {
                        p.d.bare_alert(format!(
                            "Proxy '{id}': type of pattern not usable with type of stick-table '{shown}'."
                        ));
                    }
                }
            },
        }
    }

    // stats auth/realm and stats http-request together
    if let Some(st) = &p.proxies[i].ir.stats {
        if !st.http_request.is_empty() && (!st.auth.is_empty() || st.realm.is_some()) {
            p.d.bare_alert(format!(
                "proxy '{id}': stats 'auth'/'realm' and 'http-request' can't be used at the same time."
            ));
        }
    }

    acl_find_targets(p, i);

    // missing timeouts
    {
        let px = &p.proxies[i];
        let t = &px.ir.timeouts;
        let unset = |v: &Option<Spanned<u32>>| v.as_ref().is_none_or(|x| x.node == 0);
        if matches!(mode, Mode::Tcp | Mode::Http)
            && ((cap.has(Cap::FE) && unset(&t.client))
                || (cap.has(Cap::BE)
                    && !px.ir.servers.is_empty()
                    && (unset(&t.connect) || unset(&t.server))))
        {
            p.d.config_warn(format!(
                "missing timeouts for {ty} '{id}'.\n   | While not properly invalid, you will certainly encounter various problems\n   | with such a configuration. To fix this, please ensure that all following\n   | timeouts are set to a non-zero value: 'client', 'connect', 'server'."
            ));
        }
    }

    // tarpit and queue fall back to the connect timeout, as 1.4 computes them here
    {
        let set = |v: &Option<Spanned<u32>>| v.as_ref().filter(|x| x.node != 0).cloned();
        let def_tarpit = set(&p.defaults.ir.timeouts.tarpit);
        let def_queue = set(&p.defaults.ir.timeouts.queue);
        let def_connect = set(&p.defaults.ir.timeouts.connect);
        let px = &mut p.proxies[i];
        let cur_connect = set(&px.ir.timeouts.connect);
        let same = |a: &Option<Spanned<u32>>, b: &Option<Spanned<u32>>| {
            a.as_ref().map(|x| x.node) == b.as_ref().map(|x| x.node)
        };
        let t = &mut px.ir.timeouts;
        if set(&t.tarpit).is_none() || same(&set(&t.tarpit), &def_tarpit) {
            if let Some(v) = def_tarpit
                .clone()
                .or(cur_connect.clone())
                .or(def_connect.clone())
            {
                t.tarpit = Some(v);
            }
        }
        if cap.has(Cap::BE) && (set(&t.queue).is_none() || same(&set(&t.queue), &def_queue)) {
            if let Some(v) = def_queue.or(cur_connect).or(def_connect) {
                t.queue = Some(v);
            }
        }
    }

    // captures need HTTP
    if mode != Mode::Http {
        let px = &mut p.proxies[i];
        let (rq, rs) = (
            !px.ir.capture_request_headers.is_empty(),
            !px.ir.capture_response_headers.is_empty(),
        );
        px.ir.capture_request_headers.clear();
        px.ir.capture_response_headers.clear();
        if rq {
            p.d.config_warn(format!(
                "'capture request header' ignored for {ty} '{id}' as it requires HTTP mode."
            ));
        }
        if rs {
            p.d.config_warn(format!(
                "'capture response header' ignored for {ty} '{id}' as it requires HTTP mode."
            ));
        }
    }

    // fullconn defaults to maxconn
    {
        let px = &mut p.proxies[i];
        if px.ir.fullconn.as_ref().is_none_or(|f| f.node == 0) {
            px.ir.fullconn = px.ir.maxconn.clone().filter(|m| m.node != 0);
        }
    }

    // server ids, minconn/maxconn, tracking
    {
        let px = &mut p.proxies[i];
        let mut used: Vec<u32> = px.ir.servers.iter().filter_map(|s| s.id).collect();
        let mut nid = 1u32;
        for s in px.ir.servers.iter_mut() {
            if s.id.is_none() {
                nid = next_id(&used, nid);
                used.push(nid);
                s.id = Some(nid);
            }
            nid = nid.saturating_add(1);
        }
    }
    let nsrv = p.proxies[i].ir.servers.len();
    for si in 0..nsrv {
        let fullconn = p.proxies[i].ir.fullconn.as_ref().map_or(0, |f| f.node);
        let (minc, maxc) = {
            let e = &p.proxies[i].srv_extra[si];
            (e.minconn, e.maxconn)
        };
        let (mut mn, mut mx) = (minc, maxc);
        if mn > mx {
            mx = mn;
        } else if mx != 0 && mn == 0 {
            mn = mx;
        } else if mn != mx && fullconn == 0 {
            p.d.config_alert(format!(
                "{ty} '{id}' : fullconn is mandatory when minconn is set on a server."
            ));
        }
        {
            let mq = p.proxies[i].srv_extra[si].maxqueue.max(0) as u32;
            let s = &mut p.proxies[i].ir.servers[si];
            s.minconn = mn.max(0) as u32;
            s.maxconn = mx.max(0) as u32;
            s.maxqueue = mq;
        }
        let track = p.proxies[i].srv_extra[si].track.clone();
        if let Some(t) = track {
            track_server(p, i, si, &t);
        }
    }

    // log format without a log target
    {
        let px = &p.proxies[i];
        if matches!(mode, Mode::Tcp | Mode::Http)
            && cap.has(Cap::FE)
            && px.log_any
            && px.ir.logs.is_empty()
        {
            p.d.config_warn(format!(
                "log format ignored for {ty} '{id}' since it has no log address."
            ));
        }
    }

    if mode != Mode::Http {
        non_http(p, i);
    }

    // listener ids
    {
        let px = &mut p.proxies[i];
        let mut used: Vec<u32> = px.ir.binds.iter().filter_map(|b| b.id).collect();
        let mut nid = 1u32;
        for b in px.ir.binds.iter_mut() {
            let count = u32::from(b.port_hi - b.port_lo) + 1;
            if b.id.is_none() && count == 1 {
                nid = next_id(&used, nid);
                used.push(nid);
                b.id = Some(nid);
            }
            nid = nid.saturating_add(count);
        }
    }

    // multi-process caveats
    if nbproc > 1 {
        let px = &p.proxies[i];
        let bp = raw_bind(&px.ir.bind_process);
        let n = if bp != 0 {
            (0..nbproc.min(32)).filter(|k| bp & (1 << k) != 0).count() as i64
        } else {
            nbproc
        };
        if n > 1 {
            let mut w = Vec::new();
            if let Some(st) = &px.ir.stats {
                w.push(format!("Proxy '{id}': in multi-process mode, stats will be limited to process assigned to the current request."));
                if !st.admin.is_empty() {
                    w.push(format!(
                        "Proxy '{id}': stats admin will not work correctly in multi-process mode."
                    ));
                }
            }
            if px.ir.appsession.is_some() {
                w.push(format!(
                    "Proxy '{id}': appsession will not work correctly in multi-process mode."
                ));
            }
            if !px.ir.stick_rules.is_empty() {
                w.push(format!(
                    "Proxy '{id}': sticking rules will not work correctly in multi-process mode."
                ));
            }
            for m in w {
                p.d.bare_warn(m);
            }
        }
    }
}

fn track_server(p: &mut Parser, i: usize, si: usize, t: &str) {
    let ty = p.proxies[i].type_str();
    let id = p.proxies[i].ir.name.clone();
    let sname_own = p.proxies[i].ir.servers[si].name.clone();
    let (pname, sname) = match t.rfind('/') {
        Some(k) => (Some(&t[..k]), &t[k + 1..]),
        None => (None, t),
    };
    let pi = match pname {
        Some(pn) => match findproxy(p, pn) {
            Some(x) => x,
            None => {
                p.d.config_alert(format!(
                    "{ty} '{id}', server '{sname_own}': unable to find required proxy '{pn}' for tracking."
                ));
                return;
            }
        },
        None => i,
    };
    let Some(ti) = findserver(p, pi, sname) else {
        p.d.config_alert(format!(
            "{ty} '{id}', server '{sname_own}': unable to find required server '{sname}' for tracking."
        ));
        return;
    };
    let target = &p.proxies[pi].ir.servers[ti];
    let pxname = p.proxies[pi].ir.name.clone();
    if !target.check {
        p.d.config_alert(format!(
            "{ty} '{id}', server '{sname_own}': unable to use {pxname}/{sname} for tracking as it does not have checks enabled."
        ));
        return;
    }
    let d404 = |x: &Px| x.ir.http_check.disable_on_404.is_some();
    if pi != i && d404(&p.proxies[i]) != d404(&p.proxies[pi]) {
        p.d.config_alert(format!(
            "{ty} '{id}', server '{sname_own}': unable to use {pxname}/{sname} fortracking: disable-on-404 option inconsistency."
        ));
    }
}

/// Settings that only make sense in HTTP mode, dropped with 1.4's warnings.
fn non_http(p: &mut Parser, i: usize) {
    let ty = p.proxies[i].type_str();
    let id = p.proxies[i].ir.name.clone();
    let cap = p.proxies[i].cap;
    let mut warns = Vec::new();
    {
        let px = &mut p.proxies[i];
        if px.ir.stats.take().is_some() {
            warns.push(format!(
                "'stats' statement ignored for {ty} '{id}' as it requires HTTP mode."
            ));
        }
        if px.ir.options.forwardfor.take().is_some() {
            warns.push(format!(
                "'option forwardfor' ignored for {ty} '{id}' as it requires HTTP mode."
            ));
        }
        if px.ir.options.originalto.take().is_some() {
            warns.push(format!(
                "'option originalto' ignored for {ty} '{id}' as it requires HTTP mode."
            ));
        }
        for o in BOOL_OPTS.iter().filter(|o| o.http && cap.0 & o.cap.0 != 0) {
            if flag_of(o, &mut px.ir.options).flatten().is_some() {
                clear_flag(o, &mut px.ir.options);
                warns.push(format!(
                    "'option {}' ignored for {} '{}' as it requires HTTP mode.",
                    o.name, ty, id
                ));
            }
        }
        if let Some(src) = &mut px.ir.source {
            if let Some(UseSrc::HdrIp { name, .. }) = &src.usesrc {
                warns.push(format!(
                    "{ty} '{id}' : ignoring use of header {name} as source IP in non-HTTP mode."
                ));
                src.usesrc = None;
            }
        }
    }
    for w in warns {
        p.d.config_warn(w);
    }
    let rdp = p.proxies[i].ir.persist_rdp_cookie.is_some();
    for si in 0..p.proxies[i].ir.servers.len() {
        let (redir, cookie, mapports, sname, hdr) = {
            let s = &p.proxies[i].ir.servers[si];
            let e = &p.proxies[i].srv_extra[si];
            let hdr = match s.source.as_ref().and_then(|x| x.usesrc.as_ref()) {
                Some(UseSrc::HdrIp { name, .. }) => Some(name.clone()),
                _ => None,
            };
            (
                e.redir,
                s.cookie.as_ref().is_some_and(|c| !c.is_empty()),
                e.mapports,
                s.name.clone(),
                hdr,
            )
        };
        if redir {
            p.d.config_alert(format!(
                "{ty} '{id}' : server cannot have cookie or redirect prefix in non-HTTP mode."
            ));
        }
        if cookie {
            p.d.config_warn(format!(
                "{ty} '{id}' : ignoring cookie for server '{sname}' as HTTP mode is disabled."
            ));
        }
        if mapports && rdp {
            p.d.config_warn(format!(
                "{ty} '{id}' : RDP cookie persistence will not work for server '{sname}' because it lacks an explicit port number."
            ));
        }
        if let Some(h) = hdr {
            p.d.config_warn(format!(
                "{ty} '{id}' : server {sname} cannot use header {h} as source IP in non-HTTP mode."
            ));
            if let Some(src) = &mut p.proxies[i].ir.servers[si].source {
                src.usesrc = None;
            }
        }
    }
}

/// 1.4 `acl_find_targets`: `srv_is_up` servers and `http_auth*` userlists.
fn acl_find_targets(p: &mut Parser, i: usize) {
    let pname = p.proxies[i].ir.name.clone();
    let mut exprs: Vec<(String, Fetch, Option<Vec<String>>)> = Vec::new();
    for a in &p.proxies[i].ir.acls {
        for e in &a.exprs {
            let groups = match &e.matcher {
                Matcher::Groups(g) => Some(g.clone()),
                _ => None,
            };
            exprs.push((a.name.clone(), e.fetch.clone(), groups));
        }
    }
    collect_anonymous(&p.proxies[i].ir, &mut exprs);
    for (aname, fetch, groups) in exprs {
        match fetch {
            Fetch::SrvIsUp(r) => {
                if r.server.is_empty() && r.proxy.is_none() {
                    p.d.bare_alert(format!(
                        "proxy {pname}: acl {aname} srv_is_up(): missing server name."
                    ));
                    continue;
                }
                let px = match &r.proxy {
                    Some(pn) => match findproxy(p, pn) {
                        Some(x) => x,
                        None => {
                            p.d.bare_alert(format!(
                                "proxy {pname}: acl {aname} srv_is_up(): unable to find proxy '{pn}'."
                            ));
                            continue;
                        }
                    },
                    None => i,
                };
                if findserver(p, px, &r.server).is_none() {
                    p.d.bare_alert(format!(
                        "proxy {}: acl {} srv_is_up(): unable to find server '{}'.",
                        pname, aname, r.server
                    ));
                }
            }
            Fetch::HttpAuth(ul) | Fetch::HttpAuthGroup(ul) => {
                let kw = if groups.is_some() {
                    "http_auth_group"
                } else {
                    "http_auth"
                };
                if ul.is_empty() {
                    p.d.bare_alert(format!(
                        "proxy {pname}: acl {aname} {kw}(): missing userlist name."
                    ));
                    continue;
                }
                let Some(uli) = p.userlists.iter().position(|u| u.name == ul) else {
                    p.d.bare_alert(format!(
                        "proxy {pname}: acl {aname} {kw}({ul}): unable to find userlist."
                    ));
                    continue;
                };
                if let Some(g) = groups {
                    if g.is_empty() {
                        p.d.bare_alert(format!(
                            "proxy {pname}: acl {aname} {kw}(): no groups specified."
                        ));
                        continue;
                    }
                    let mut bad = false;
                    for name in g
                        .iter()
                        .flat_map(|s| s.split(' '))
                        .filter(|s| !s.is_empty())
                    {
                        if !p.userlists[uli].groups.iter().any(|x| x.name == name) {
                            let ulname = p.userlists[uli].name.clone();
                            p.d.bare_alert(format!(
                                "No such group '{name}' in userlist '{ulname}'."
                            ));
                            bad = true;
                            break;
                        }
                    }
                    if bad {
                        p.d.bare_alert(format!(
                            "proxy {pname}: acl {aname} {kw}(): invalid group(s)."
                        ));
                    }
                }
            }
            _ => {}
        }
    }
}

fn cond_anonymous(c: &Condition, out: &mut Vec<(String, Fetch, Option<Vec<String>>)>) {
    for suite in &c.terms {
        for t in suite {
            if let AclRef::Anonymous(e) = &t.acl {
                let groups = match &e.matcher {
                    Matcher::Groups(g) => Some(g.clone()),
                    _ => None,
                };
                out.push((String::new(), e.fetch.clone(), groups));
            }
        }
    }
}

fn collect_anonymous(px: &Proxy, out: &mut Vec<(String, Fetch, Option<Vec<String>>)>) {
    let mut conds: Vec<&Condition> = Vec::new();
    conds.extend(px.blocks.iter().map(|c| &c.node));
    conds.extend(px.force_persist.iter().map(|c| &c.node));
    conds.extend(px.ignore_persist.iter().map(|c| &c.node));
    conds.extend(px.monitor_fail.iter().map(|c| &c.node));
    conds.extend(px.use_backends.iter().map(|u| &u.cond));
    conds.extend(px.http_request.iter().filter_map(|r| r.cond.as_ref()));
    conds.extend(px.tcp_request.iter().filter_map(|r| r.cond.as_ref()));
    conds.extend(px.redirects.iter().filter_map(|r| r.cond.as_ref()));
    conds.extend(px.stick_rules.iter().filter_map(|r| r.cond.as_ref()));
    conds.extend(px.req_filters.iter().filter_map(|r| r.cond.as_ref()));
    conds.extend(px.rsp_filters.iter().filter_map(|r| r.cond.as_ref()));
    conds.extend(px.reqadd.iter().filter_map(|r| r.cond.as_ref()));
    conds.extend(px.rspadd.iter().filter_map(|r| r.cond.as_ref()));
    if let Some(st) = &px.stats {
        conds.extend(st.admin.iter().map(|c| &c.node));
        conds.extend(st.http_request.iter().filter_map(|r| r.cond.as_ref()));
    }
    for c in conds {
        cond_anonymous(c, out);
    }
}

/// Userlist cross-references; 1.4 stops at the first error.
fn check_userlists(p: &mut Parser) {
    for ul in p.userlists.iter().rev() {
        for u in ul.users.iter().rev() {
            for g in &u.groups {
                if !ul.groups.iter().any(|x| &x.name == g) {
                    let msg = format!(
                        "userlist '{}': no such group '{}' specified in user '{}'",
                        ul.name, g, u.name
                    );
                    p.d.bare_alert(msg);
                    return;
                }
            }
        }
        for g in &ul.groups {
            for u in &g.users {
                if !ul.users.iter().any(|x| &x.name == u) {
                    let msg = format!(
                        "userlist '{}': no such user '{}' specified in group '{}'",
                        ul.name, u, g.name
                    );
                    p.d.bare_alert(msg);
                    return;
                }
            }
        }
    }
}

/// Turns a checked proxy into its final IR: drops what its capabilities make inert
/// (as 1.4 ignores it at run time), applies 1.4's implicit settings, and maps a zero
/// timeout to "not set".
pub fn finalize_proxy(mut px: Px) -> Option<Proxy> {
    if !px.cap.has(Cap::FE) && !px.cap.has(Cap::BE) {
        // a ruleset has no runtime role in 1.4.25
        return None;
    }
    let fe = px.cap.has(Cap::FE);
    let be = px.cap.has(Cap::BE);
    let http = *px.ir.mode == Mode::Http;
    let p = &mut px.ir;
    p.log_format.node = if px.log_http && http {
        if px.log_clf {
            LogFormat::HttpClf
        } else {
            LogFormat::Http
        }
    } else if px.log_any {
        LogFormat::Tcp
    } else {
        LogFormat::Connect
    };
    if !px.log_any {
        p.log_format.span = Span::builtin();
    }
    // smart accept is automatic in HTTP mode unless `no option tcp-smart-accept`
    if fe && http && !px.no_smart_accept && p.options.tcp_smart_accept.is_none() {
        p.options.tcp_smart_accept = Some(Span::builtin());
    }
    let t = &mut p.timeouts;
    for v in [
        &mut t.client,
        &mut t.server,
        &mut t.connect,
        &mut t.queue,
        &mut t.tarpit,
        &mut t.http_request,
        &mut t.http_keep_alive,
        &mut t.check,
    ] {
        if v.as_ref().is_some_and(|x| x.node == 0) {
            *v = None;
        }
    }
    if !fe {
        p.binds.clear();
        p.maxconn = None;
        p.backlog = None;
        p.rate_limit_sessions = None;
        p.timeouts.client = None;
        p.use_backends.clear();
        p.default_backend = None;
        p.monitor_uri = None;
        p.monitor_net.clear();
        p.monitor_fail.clear();
        p.capture_cookie = None;
        p.capture_request_headers.clear();
        p.capture_response_headers.clear();
        p.tcp_request.clear();
        p.tcp_inspect_delay = None;
    }
    if !be {
        p.servers.clear();
        p.cookie = None;
        p.appsession = None;
        p.stats = None;
        p.fullconn = None;
        p.retries = None;
        p.dispatch = None;
        p.source = None;
        p.stick_table = None;
        p.stick_rules.clear();
        p.persist_rdp_cookie = None;
        p.http_check = HttpCheck::default();
        p.check = Spanned::new(Span::builtin(), CheckKind::Tcp);
        p.http_send_name_header = None;
        p.timeouts.connect = None;
        p.timeouts.server = None;
        p.timeouts.queue = None;
        p.timeouts.check = None;
    }
    Some(px.ir)
}

/// A finished `defaults` section as the IR shows it (for [`crate::ir::Config::defaults`]):
/// only the log format is resolved; nothing is cleared by capability, since the section
/// holds values for every kind of proxy.
pub fn finalize_defaults(px: Px) -> Proxy {
    let mut p = px.ir;
    p.log_format.node = if px.log_http {
        if px.log_clf {
            LogFormat::HttpClf
        } else {
            LogFormat::Http
        }
    } else if px.log_any {
        LogFormat::Tcp
    } else {
        LogFormat::Connect
    };
    if !px.log_any {
        p.log_format.span = Span::builtin();
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::section::Cap;

    #[test]
    fn automatic_ids_skip_used_ones() {
        assert_eq!(next_id(&[], 1), 1);
        assert_eq!(next_id(&[1, 2, 4], 1), 3);
        assert_eq!(next_id(&[3], 3), 4);
    }

    #[test]
    fn inert_settings_are_left_out() {
        let mut fe = Px::new(
            "fe",
            ProxyKind::Frontend,
            Cap::FE.or(Cap::RS),
            Span::builtin(),
        );
        fe.ir.timeouts.client = Some(Spanned::new(Span::builtin(), 0));
        fe.ir.stats = None;
        fe.ir.retries = Some(Spanned::new(Span::builtin(), 3));
        fe.ir.mode = Spanned::new(Span::builtin(), Mode::Http);
        let p = finalize_proxy(fe).unwrap();
        assert!(p.timeouts.client.is_none(), "0 means not set");
        assert!(p.retries.is_none(), "backend-only");
        assert!(
            p.options.tcp_smart_accept.is_some(),
            "automatic in HTTP mode"
        );
        assert_eq!(p.log_format.node, LogFormat::Connect);
        let rs = Px::new("rs", ProxyKind::Listen, Cap::RS, Span::builtin());
        assert!(
            finalize_proxy(rs).is_none(),
            "rulesets have no runtime role"
        );
    }

    #[test]
    fn defaults_sections_are_kept_for_the_converter() {
        let opts = crate::LoadOptions {
            resolve_names: false,
            ..crate::LoadOptions::default()
        };
        let text = "defaults\n mode http\n option httplog\n timeout client 5s\n\
                    listen a 127.0.0.1:1\n\
                    defaults\n timeout connect 2s\n\
                    listen b 127.0.0.1:2\n";
        let cfg = crate::load_str("t.cfg", text.as_bytes(), &opts)
            .config
            .expect("valid");
        assert_eq!(cfg.defaults.len(), 2);
        let (d1, d2) = (&cfg.defaults[0], &cfg.defaults[1]);
        assert_eq!((d1.span.line, d2.span.line), (1, 6));
        assert_eq!(d1.log_format.node, LogFormat::Http);
        assert_eq!(d1.timeouts.client.as_ref().map(|t| t.span.line), Some(4));
        assert!(
            d2.timeouts.client.is_none(),
            "a defaults line starts afresh"
        );
        assert_eq!(d2.timeouts.connect.as_deref(), Some(&2000));
    }
}
