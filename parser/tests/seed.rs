//! The reference configuration (`shared/examples/seed-1.4.cfg`, indented with U+00A0)
//! loads with exactly one warning (the Unicode-space notice) and produces the IR the
//! runtime needs.

mod common;

use parser::diag::Level;
use parser::ir::*;
use parser::{load_files, LoadOptions};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

fn load_seed() -> Config {
    let path = common::seed_path();
    let loaded = load_files(std::slice::from_ref(&path), &LoadOptions::default());
    let diags = &loaded.report.diags;
    assert_eq!(
        diags.len(),
        1,
        "diagnostics: {}",
        loaded.report.render("000/000000 (1)")
    );
    assert_eq!(diags[0].level, Level::Warning);
    let body = diags[0].body();
    assert!(body.contains("seed-1.4.cfg"), "{body}");
    assert!(body.contains("lines 2-8,10-18,"), "{body}");
    assert!(body.contains("Unicode spaces"), "{body}");
    loaded.config.expect("the seed is valid")
}

fn be<'a>(c: &'a Config, name: &str) -> &'a Proxy {
    c.backend(name).unwrap_or_else(|| panic!("backend {name}"))
}

#[test]
fn global_section() {
    let c = load_seed();
    let g = &c.global;
    assert_eq!(g.maxconn.as_deref(), Some(&4096));
    assert!(g.daemon.is_some());
    assert_eq!(g.nbproc.as_deref(), Some(&1));
    assert_eq!(g.user.as_ref().map(|u| u.name.as_str()), Some("haproxy"));
    assert_eq!(g.group.as_ref().map(|u| u.name.as_str()), Some("haproxy"));
    assert_eq!(
        g.pidfile.as_ref().map(|p| p.to_string_lossy().into_owned()),
        Some("/var/run/haproxy.pid".into())
    );
    assert_eq!(g.logs.len(), 1);
    assert_eq!(
        g.logs[0].addr,
        LogAddr::Udp(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 514))
    );
    assert_eq!(g.logs[0].facility, 16);
    assert_eq!(g.logs[0].max_level, 6);
}

#[test]
fn proxies_in_order_with_defaults() {
    let c = load_seed();
    let names: Vec<&str> = c.proxies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "admin_stats",
            "site_status",
            "WEB_SITE",
            "COOKIE_srv",
            "SOURCE_srv",
            "APPSESSION_srv",
            "NOSESSION_srv",
            "ai_server"
        ]
    );
    for p in &c.proxies {
        assert_eq!(*p.mode, Mode::Http, "{}", p.name);
        if p.kind.has_fe() {
            assert_eq!(p.timeouts.client.as_deref(), Some(&30000), "{}", p.name);
            // clitimeout comes from line 13 (in the defaults section)
            assert_eq!(p.timeouts.client.as_ref().map(|t| t.span.line), Some(13));
            assert_eq!(p.maxconn.as_deref(), Some(&2000));
            assert_eq!(p.log_format.node, LogFormat::Http, "{}", p.name);
        }
        if p.kind.has_be() {
            assert_eq!(p.timeouts.connect.as_deref(), Some(&5000), "{}", p.name);
            assert_eq!(p.timeouts.server.as_deref(), Some(&30000), "{}", p.name);
            assert_eq!(p.timeouts.connect.as_ref().map(|t| t.span.line), Some(12));
            // queue and tarpit fall back to the connect timeout
            assert_eq!(p.timeouts.queue.as_deref(), Some(&5000));
            assert_eq!(p.timeouts.tarpit.as_deref(), Some(&5000));
            assert_eq!(p.retries.as_deref(), Some(&3));
            assert!(p.options.redispatch.is_some(), "{}", p.name);
            assert!(p.options.abortonclose.is_some(), "{}", p.name);
        }
    }
    let ids: Vec<u32> = c
        .proxies
        .iter()
        .map(|p| p.id.as_ref().unwrap().node)
        .collect();
    assert_eq!(ids, (1..=8).collect::<Vec<_>>());
}

#[test]
fn stats_listener() {
    let c = load_seed();
    let p = c.proxy("admin_stats").unwrap();
    assert_eq!(p.binds.len(), 1);
    assert_eq!(
        p.binds[0].ip,
        Some(IpAddr::V4(Ipv4Addr::new(113, 106, 185, 245)))
    );
    assert_eq!((p.binds[0].port_lo, p.binds[0].port_hi), (443, 443));
    let st = p.stats.as_ref().expect("stats");
    assert_eq!(st.uri, "/qhappy_stats");
    assert_eq!(st.realm.as_deref(), Some("9ai9.net Qhappy"));
    assert_eq!(st.auth.len(), 1);
    assert_eq!(
        st.auth[0].node,
        ("qhappy".to_string(), "qhappy".to_string())
    );
    assert_eq!(st.refresh, Some(5));
    assert_eq!(p.logs.len(), 1);
    assert_eq!(p.logs[0].max_level, 3, "local0 err");
    let mon = c.proxy("site_status").unwrap();
    assert_eq!(
        mon.monitor_uri.as_deref().map(String::as_str),
        Some("/site_status")
    );
    assert!(mon.stats.is_none());
}

#[test]
fn content_switching_frontend() {
    let c = load_seed();
    let fe = c.proxy("WEB_SITE").unwrap();
    assert_eq!(fe.kind, ProxyKind::Frontend);
    assert_eq!(fe.binds.len(), 1);
    assert_eq!(fe.binds[0].ip, None, "0.0.0.0 is any");
    assert_eq!(fe.binds[0].port_lo, 8080);
    assert!(fe.options.httpclose.is_some());
    let ff = fe.options.forwardfor.as_ref().expect("forwardfor");
    assert_eq!(ff.header, "X-Forwarded-For");
    assert!(!ff.if_none);
    assert_eq!(fe.logs.len(), 1);
    assert_eq!(fe.logs[0].node, c.global.logs[0].node, "log global");
    let acl_names: Vec<&str> = fe.acls.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(acl_names, ["COOKIE", "SOURCE", "APPSESSION", "NOSESSION"]);
    for a in &fe.acls {
        assert!(!a.builtin);
        assert_eq!(a.exprs.len(), 1);
        assert_eq!(a.exprs[0].fetch, Fetch::Hdr(Some("host".into())));
        match &a.exprs[0].matcher {
            Matcher::Reg(r) => assert_eq!(r.len(), 1),
            m => panic!("{m:?}"),
        }
    }
    let Matcher::Reg(r) = &fe.acls[0].exprs[0].matcher else {
        unreachable!()
    };
    assert!(r[0].is_match(b"COOKIE.9ai9.net"), "case-insensitive");
    assert!(r[0].is_match(b"cookieX9ai9Ynet:8080"), "dot is any byte");
    assert_eq!(fe.use_backends.len(), 4);
    let targets: Vec<&str> = fe.use_backends.iter().map(|u| u.backend.as_str()).collect();
    assert_eq!(
        targets,
        [
            "COOKIE_srv",
            "SOURCE_srv",
            "APPSESSION_srv",
            "NOSESSION_srv"
        ]
    );
    for (i, u) in fe.use_backends.iter().enumerate() {
        assert!(!u.cond.unless);
        assert_eq!(u.cond.terms.len(), 1);
        assert_eq!(u.cond.terms[0].len(), 1);
        assert!(!u.cond.terms[0][0].negate);
        assert!(matches!(u.cond.terms[0][0].acl, AclRef::Named(n) if n == i));
    }
    assert!(fe.default_backend.is_none(), "commented out");
}

#[test]
fn persistence_backends() {
    let c = load_seed();
    let ck = be(&c, "COOKIE_srv");
    let cookie = ck.cookie.as_ref().expect("cookie");
    assert_eq!(cookie.name, "SESSION_COOKIE");
    assert_eq!(cookie.mode, CookieMode::Insert);
    assert!(cookie.indirect && cookie.nocache);
    assert!(!cookie.postonly && !cookie.preserve);
    assert_eq!(ck.servers.len(), 2);
    let s = &ck.servers[0];
    assert_eq!(s.name, "REALsrv_70");
    assert_eq!(s.addr.ip, Some(IpAddr::V4(Ipv4Addr::new(184, 82, 239, 70))));
    assert_eq!(s.addr.port, ServerPort::Fixed(80));
    assert_eq!(s.cookie.as_deref(), Some("11"));
    assert!(s.check);
    assert_eq!((s.inter, s.rise, s.fall, s.weight), (1500, 3, 3, 1));
    assert_eq!(s.check_port, Some(80));
    assert_eq!(s.id, Some(1));
    assert_eq!(ck.servers[1].cookie.as_deref(), Some("12"));
    assert_eq!(ck.servers[1].id, Some(2));
    assert_eq!(*ck.balance, Balance::RoundRobin);

    assert_eq!(*be(&c, "SOURCE_srv").balance, Balance::Source);

    let app = be(&c, "APPSESSION_srv");
    let a = app.appsession.as_ref().expect("appsession");
    assert_eq!(a.cookie, "9ai9");
    assert_eq!(a.len, 64);
    assert_eq!(a.timeout, 18_000_000, "5h in ms");
    assert!(a.request_learn);
    assert!(!a.prefix);
    assert_eq!(a.mode, AppSessionMode::PathParameters);
    assert!(app.cookie.is_none());

    assert_eq!(*be(&c, "NOSESSION_srv").balance, Balance::RoundRobin);
    let ai = be(&c, "ai_server");
    let cookie = ai.cookie.as_ref().expect("passive cookie");
    assert_eq!(cookie.name, "SERVERID");
    assert_eq!(cookie.mode, CookieMode::Passive);
    assert_eq!(ai.servers[0].cookie.as_deref(), Some("2"));
}
