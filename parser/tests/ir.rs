//! IR produced for each keyword family: defaults inheritance, legacy names, options,
//! ACLs and conditions, servers, persistence, stats, rules, error pages.

mod common;

use parser::diag::Level;
use parser::ir::*;
use parser::{load_str, LoadOptions, Loaded};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

const HEAD: &str =
    "defaults\n mode http\n timeout connect 5s\n timeout client 30s\n timeout server 30s\n";

fn opts() -> LoadOptions {
    LoadOptions {
        resolve_names: false,
        base_dir: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")),
        ..LoadOptions::default()
    }
}

fn load(text: &str) -> Loaded {
    load_str("t.cfg", text.as_bytes(), &opts())
}

/// Loads a configuration that must be valid and warning-free.
fn ok(text: &str) -> Config {
    let l = load(text);
    let r = l.report.render("-");
    assert!(
        l.report.diags.iter().all(|d| d.level != Level::Alert),
        "{r}"
    );
    l.config.unwrap_or_else(|| panic!("invalid:\n{r}"))
}

fn clean(text: &str) -> Config {
    let l = load(text);
    assert!(l.report.diags.is_empty(), "{}", l.report.render("-"));
    l.config.expect("valid")
}

fn err(text: &str) -> String {
    let l = load(text);
    assert!(l.config.is_none(), "expected a rejection");
    l.report.render("-")
}

#[test]
fn defaults_reset_per_section_and_apply_by_capability() {
    let c = clean(&format!(
        "{HEAD} option httpclose\n option redispatch\n maxconn 500\n\
         listen a :80\n server s 127.0.0.1:1\n\
         defaults\n mode tcp\n timeout connect 1s\n timeout client 2s\n timeout server 3s\n\
         frontend f :81\n default_backend b\n\
         backend b\n server s 127.0.0.1:1\n"
    ));
    let a = c.proxy("a").unwrap();
    assert!(a.options.httpclose.is_some());
    assert!(a.options.redispatch.is_some());
    assert_eq!(a.maxconn.as_deref(), Some(&500));
    assert_eq!(*a.mode, Mode::Http);
    let f = c.proxy("f").unwrap();
    assert!(
        f.options.httpclose.is_none(),
        "second defaults section starts over"
    );
    assert_eq!(*f.mode, Mode::Tcp);
    assert_eq!(f.maxconn.as_deref(), Some(&2000), "built-in -N value");
    assert_eq!(f.timeouts.client.as_deref(), Some(&2000));
    assert!(
        f.timeouts.server.is_none(),
        "server timeout is backend-only"
    );
    let b = c.backend("b").unwrap();
    assert_eq!(b.timeouts.server.as_deref(), Some(&3000));
    assert!(b.timeouts.client.is_none());
    assert!(b.maxconn.is_none());
    // 1.4 copies tarpit (FE and BE) and queue (BE) from connect when unset
    assert_eq!(b.timeouts.queue.as_deref(), Some(&1000));
    assert_eq!(f.timeouts.tarpit.as_deref(), Some(&1000));
}

#[test]
fn no_option_clears_an_inherited_flag() {
    let c = clean(&format!(
        "{HEAD} option httpclose\n option dontlognull\nlisten a :80\n no option httpclose\n default option dontlognull\n server s 127.0.0.1:1\n"
    ));
    let a = c.proxy("a").unwrap();
    assert!(a.options.httpclose.is_none());
    assert!(a.options.dontlognull.is_none());
}

#[test]
fn legacy_names_map_to_modern_fields() {
    let l = load(
        "defaults\n mode http\n contimeout 4000\n clitimeout 1m\n srvtimeout 2m\n redisp\n\
         listen a :80\n timeout contimeout 3s\n transparent\n server s 127.0.0.1:1\n\
         listen b :81\n timeout clitimeout 5s\n redispatch\n timeout srvtimeout 1s\n server s 127.0.0.1:1\n",
    );
    let c = l.config.expect("valid");
    let a = c.proxy("a").unwrap();
    assert_eq!(a.timeouts.connect.as_deref(), Some(&3000));
    assert_eq!(a.timeouts.client.as_deref(), Some(&60000));
    assert_eq!(a.timeouts.server.as_deref(), Some(&120000));
    assert!(a.options.redispatch.is_some());
    assert!(a.options.transparent.is_some());
    let b = c.proxy("b").unwrap();
    assert_eq!(b.timeouts.client.as_deref(), Some(&5000));
    assert_eq!(b.timeouts.server.as_deref(), Some(&1000));
    let deprecated = l
        .report
        .warnings()
        .filter(|d| {
            d.text
                .contains("is deprecated, please use 'option redispatch'")
        })
        .count();
    assert_eq!(deprecated, 2);
}

#[test]
fn log_global_expands_the_global_targets() {
    let c = clean(
        "global\n log 10.0.0.1 local1 notice err\n log /dev/log daemon\n\
         defaults\n mode http\n timeout connect 1\n timeout client 1\n timeout server 1\n\
         listen a :80\n log global\n server s 127.0.0.1:1\n\
         listen b :81\n log 127.0.0.1:1514 local7\n option httplog\n server s 127.0.0.1:1\n",
    );
    let a = c.proxy("a").unwrap();
    assert_eq!(a.logs.len(), 2);
    assert_eq!(a.logs[0].facility, 17);
    assert_eq!(a.logs[0].max_level, 5);
    assert_eq!(a.logs[0].min_level, 3);
    assert_eq!(a.logs[1].addr, LogAddr::Unix("/dev/log".into()));
    let b = c.proxy("b").unwrap();
    assert_eq!(b.logs.len(), 1);
    assert_eq!(b.logs[0].facility, 23);
    assert!(matches!(b.logs[0].addr, LogAddr::Udp(sa) if sa.port() == 1514));
    assert_eq!(b.log_format.node, LogFormat::Http);
}

#[test]
fn header_addresses_and_binds() {
    let c = clean(&format!(
        "{HEAD}listen a 127.0.0.1:80,:8000-8002\n bind ::1:443 name v6\n bind :::444\n bind *:90 transparent defer-accept mss 1400 interface lo id 42\n server s 127.0.0.1:1\n"
    ));
    let a = c.proxy("a").unwrap();
    assert_eq!(a.binds.len(), 5);
    assert_eq!(a.binds[0].ip, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    assert_eq!((a.binds[1].port_lo, a.binds[1].port_hi), (8000, 8002));
    assert_eq!(a.binds[0].id, Some(1));
    assert_eq!(
        a.binds[1].id, None,
        "a range has one id per port at run time"
    );
    assert_eq!(
        a.binds[3].ip,
        Some(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED))
    );
    let last = &a.binds[4];
    assert!(last.transparent && last.defer_accept);
    assert_eq!(last.mss, Some(1400));
    assert_eq!(last.interface.as_deref(), Some("lo"));
    assert_eq!(last.id, Some(42));
}

#[test]
fn bracketed_ipv6_is_not_1_4_syntax() {
    // 1.4 takes everything before the last colon as the address: "[::1]" is invalid
    assert!(err(&format!("{HEAD}listen a\n bind [::1]:443\n"))
        .contains("Invalid server address: '[::1]'"));
}

#[test]
fn acl_criteria_and_conditions() {
    let c = clean(&format!(
        "{HEAD}frontend f :80\n\
         acl a hdr_beg(host) -i www. api.\n\
         acl a path_end .php\n\
         acl n hdr_cnt(x-forwarded-for) gt 1\n\
         acl v req_ssl_ver 3.1\n\
         acl m method GET put\n\
         acl ip src 10.0.0.0/8 192.168.0.0/255.255.0.0 1.2.3.4\n\
         acl bots hdr_sub(user-agent) -i -f bots.txt\n\
         acl w hdr(host) -- -i\n\
         acl pipes hdr_sub(x) a || hdr_sub(y) b\n\
         use_backend b if a !n or !!ip {{ url_len lt 10 }} METH_POST HTTP\n\
         use_backend b unless ! a\n\
         default_backend b\n\
         backend b\n server s 127.0.0.1:1\n"
    ));
    let f = c.proxy("f").unwrap();
    let def = |n: &str| f.acls.iter().find(|a| a.name == n).unwrap();
    assert_eq!(def("a").exprs.len(), 2, "two lines OR-ed");
    match &def("a").exprs[0].matcher {
        Matcher::Beg(s) => {
            assert_eq!(s.values, vec![b"www.".to_vec(), b"api.".to_vec()]);
            assert_eq!(s.icase, vec![true, true]);
        }
        m => panic!("{m:?}"),
    }
    assert!(matches!(&def("a").exprs[1].matcher, Matcher::End(s) if s.icase == [false]));
    match &def("n").exprs[0].matcher {
        Matcher::Int(r) => assert_eq!(
            r,
            &[IntRange {
                min: Some(2),
                max: None
            }]
        ),
        m => panic!("{m:?}"),
    }
    assert_eq!(
        def("n").exprs[0].fetch,
        Fetch::HdrCnt(Some("x-forwarded-for".into()))
    );
    match &def("v").exprs[0].matcher {
        Matcher::Version(r) => assert_eq!(r[0].min, Some((3 << 16) | 1)),
        m => panic!("{m:?}"),
    }
    match &def("m").exprs[0].matcher {
        Matcher::Method(v) => {
            assert_eq!(v[0], MethodPattern::Get);
            assert_eq!(
                v[1],
                MethodPattern::Other {
                    name: b"put".to_vec(),
                    icase: false
                }
            );
        }
        m => panic!("{m:?}"),
    }
    match &def("ip").exprs[0].matcher {
        Matcher::Ip(v) => {
            assert_eq!(v[0].prefix, 8);
            assert_eq!(v[1].prefix, 16);
            assert_eq!(v[2].prefix, 32);
            assert!(v[1].contains(IpAddr::V4(Ipv4Addr::new(192, 168, 4, 4))));
        }
        m => panic!("{m:?}"),
    }
    match &def("bots").exprs[0].matcher {
        Matcher::Sub(s) => {
            assert_eq!(s.values, vec![b"evilbot".to_vec(), b"spider".to_vec()]);
            assert_eq!(s.icase, vec![true, true]);
        }
        m => panic!("{m:?}"),
    }
    assert!(matches!(&def("w").exprs[0].matcher, Matcher::Str(s) if s.values == [b"-i".to_vec()]));
    match &def("pipes").exprs[0].matcher {
        Matcher::Sub(s) => assert_eq!(s.values.len(), 4, "|| and the next fetch are patterns"),
        m => panic!("{m:?}"),
    }
    // predefined ACLs are instantiated on first use
    let meth_post = def("METH_POST");
    assert!(meth_post.builtin);
    assert!(def("HTTP").builtin);
    assert!(!def("a").builtin);
    let u = &f.use_backends[0].cond;
    assert!(!u.unless);
    assert_eq!(u.terms.len(), 2, "two OR-ed terms");
    assert_eq!(u.terms[0].len(), 2);
    assert!(!u.terms[0][0].negate);
    assert!(u.terms[0][1].negate);
    assert_eq!(u.terms[1].len(), 4);
    assert!(!u.terms[1][0].negate, "!! cancels out");
    assert!(matches!(&u.terms[1][1].acl, AclRef::Anonymous(e) if e.fetch == Fetch::Url));
    let u2 = &f.use_backends[1].cond;
    assert!(u2.unless);
    assert!(u2.terms[0][0].negate, "a lone ! applies to the next ACL");
}

#[test]
fn predefined_acl_can_be_declared_first() {
    let c = clean(&format!(
        "{HEAD}frontend f :80\n acl TRUE always_false\n use_backend b if TRUE\n default_backend b\nbackend b\n server s 127.0.0.1:1\n"
    ));
    let f = c.proxy("f").unwrap();
    assert_eq!(f.acls.len(), 1);
    assert!(!f.acls[0].builtin);
    assert_eq!(f.acls[0].exprs[0].fetch, Fetch::AlwaysFalse);
}

#[test]
fn acl_and_condition_errors() {
    assert!(err(&format!(
        "{HEAD}frontend f :80\n use_backend b if nosuch\nbackend b\n"
    ))
    .contains("error detected while parsing switching rule."));
    assert!(err(&format!("{HEAD}frontend f :80\n acl x foo_bar 1\n"))
        .contains("error detected while parsing ACL 'x'."));
    assert!(err(&format!(
        "{HEAD}frontend f :80\n acl x hdr_reg(a) ([a-z]+)\\1\n"
    ))
    .contains("back-references"));
    assert!(
        err(&format!("{HEAD}frontend f :80\n block if {{ src 1.2.3.4\n"))
            .contains("blocking condition")
    );
    assert!(err(&format!("{HEAD}defaults\n acl x src 1.2.3.4\n"))
        .contains("'acl' not allowed in 'defaults' section."));
}

#[test]
fn servers_default_server_and_checks() {
    let c = ok(&format!(
        "{HEAD} default-server inter 3s fastinter 1s downinter 10s rise 4 fall 5 weight 20 maxconn 50 slowstart 1500ms on-error mark-down error-limit 3\n\
         listen a :8080\n\
         server s1 10.0.0.1 check\n\
         server s2 10.0.0.2:+10 check port 9000 weight 0 backup disabled\n\
         server s3 0.0.0.0:-1 id 7 addr 10.0.0.30:8888 check\n\
         server s4 10.0.0.4:81 redir http://x source 10.1.1.1:1000-2000 usesrc clientip observe layer4 cookie\n\
         server s5 10.0.0.5:82 track s1 minconn 5 maxqueue 9\n"
    ));
    let a = c.proxy("a").unwrap();
    let s = &a.servers;
    assert_eq!(s[0].addr.port, ServerPort::Same);
    assert_eq!(
        s[0].check_port,
        Some(8080),
        "listener port when the server has none"
    );
    assert_eq!(
        (s[0].inter, s[0].fastinter, s[0].downinter),
        (3000, Some(1000), Some(10000))
    );
    assert_eq!((s[0].rise, s[0].fall, s[0].weight), (4, 5, 20));
    assert_eq!(s[0].maxconn, 50);
    assert_eq!(s[0].minconn, 50, "minconn follows maxconn");
    assert_eq!(s[0].slowstart, 2000, "rounded up to whole seconds");
    assert_eq!(s[0].on_error, OnError::MarkDown);
    assert_eq!(s[0].error_limit, 3);
    assert_eq!(s[1].addr.port, ServerPort::Offset(10));
    assert_eq!(s[1].check_port, Some(9000));
    assert!(s[1].backup && s[1].disabled);
    assert_eq!(s[1].weight, 0);
    assert_eq!(s[2].addr.ip, None, "0.0.0.0 = the client's destination");
    assert_eq!(s[2].addr.port, ServerPort::Offset(-1));
    assert_eq!(
        s[2].check_addr,
        Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 30)))
    );
    assert_eq!(s[2].check_port, Some(8888), "port of 'addr'");
    assert_eq!(s[2].id, Some(7));
    assert_eq!(s[3].redir.as_deref(), Some("http://x"));
    assert_eq!(
        s[3].cookie.as_deref(),
        Some(""),
        "cookie without a value is accepted"
    );
    let src = s[3].source.as_ref().unwrap();
    assert_eq!((src.port_lo, src.port_hi), (1000, 2000));
    assert_eq!(src.usesrc, Some(UseSrc::ClientIp));
    assert_eq!(s[3].observe, Some(Observe::Layer4));
    assert_eq!(
        s[4].track,
        Some(ServerRef {
            proxy: None,
            server: "s1".into()
        })
    );
    assert_eq!((s[4].minconn, s[4].maxconn, s[4].maxqueue), (5, 50, 9));
    let ids: Vec<u32> = s.iter().map(|x| x.id.unwrap()).collect();
    assert_eq!(ids, vec![1, 2, 7, 4, 5]);
    // fullconn falls back to maxconn (2000) for a listen
    assert_eq!(a.fullconn.as_deref(), Some(&2000));
}

#[test]
fn balance_and_hash_type() {
    let c = clean(&format!(
        "{HEAD} balance uri len 20 depth 3 whole\n hash-type consistent\n\
         backend a\n server s 127.0.0.1:1\n\
         backend b\n balance hdr(Host) use_domain_only\n server s 127.0.0.1:1\n\
         backend c\n balance url_param sid check_post\n server s 127.0.0.1:1\n"
    ));
    // 1.4 copies the algorithm from defaults but not the uri options
    assert_eq!(
        *c.backend("a").unwrap().balance,
        Balance::Uri {
            len: None,
            depth: None,
            whole: false
        }
    );
    assert_eq!(*c.backend("a").unwrap().hash_type, HashType::Consistent);
    assert_eq!(
        *c.backend("b").unwrap().balance,
        Balance::Hdr {
            name: "Host".into(),
            use_domain_only: true
        }
    );
    assert_eq!(
        *c.backend("c").unwrap().balance,
        Balance::UrlParam {
            name: "sid".into(),
            check_post: Some(48)
        }
    );
}

#[test]
fn cookie_appsession_and_stick() {
    let c = clean(&format!(
        "{HEAD} cookie SRV insert indirect nocache postonly httponly secure domain .a.com domain .b.com maxidle 30m maxlife 1d\n\
         backend a\n appsession PHPSESSID len 32 timeout 1h prefix mode query-string\n\
         stick-table type string len 40 size 1m expire 10m\n stick match hdr(x-user) upper table a if TRUE\n\
         server s 127.0.0.1:1 cookie s\n"
    ));
    let a = c.backend("a").unwrap();
    let ck = a.cookie.as_ref().unwrap();
    assert_eq!(ck.mode, CookieMode::Insert);
    assert!(ck.indirect && ck.nocache && ck.postonly && ck.httponly && ck.secure);
    assert_eq!(ck.domains, vec![".a.com".to_string(), ".b.com".to_string()]);
    assert_eq!(ck.maxidle, Some(1800));
    assert_eq!(ck.maxlife, Some(86400));
    let ap = a.appsession.as_ref().unwrap();
    assert_eq!((ap.len, ap.timeout), (32, 3_600_000));
    assert!(ap.prefix && !ap.request_learn);
    assert_eq!(ap.mode, AppSessionMode::QueryString);
    let st = a.stick_table.as_ref().unwrap();
    assert_eq!(st.key, StickKey::String { len: 40 });
    assert_eq!(st.size, 1 << 20);
    assert_eq!(st.expire, Some(600_000));
    let r = &a.stick_rules[0];
    assert_eq!(r.kind, StickRuleKind::Match);
    assert_eq!(
        r.pattern.fetch,
        PatternFetch::Hdr {
            name: "x-user".into(),
            occ: -1
        }
    );
    assert_eq!(r.pattern.converters, vec![Converter::Upper]);
    assert_eq!(r.table.as_deref(), Some("a"));
    assert!(r.cond.is_some());
}

#[test]
fn stats_are_copied_to_frontends_and_detached_on_change() {
    let c = clean(
        "defaults\n mode http\n timeout connect 1\n timeout client 1\n timeout server 1\n stats enable\n stats auth a:b\n stats realm R\n\
         listen a :80\n server s 127.0.0.1:1\n\
         listen b :81\n stats uri /x\n server s 127.0.0.1:1\n\
         backend c\n server s 127.0.0.1:1\n",
    );
    let a = c.proxy("a").unwrap().stats.as_ref().unwrap();
    assert_eq!(a.uri, "/haproxy?stats");
    assert_eq!(a.auth.len(), 1);
    assert_eq!(a.realm.as_deref(), Some("R"));
    let b = c.proxy("b").unwrap().stats.as_ref().unwrap();
    assert_eq!(b.uri, "/x");
    assert!(
        b.auth.is_empty(),
        "1.4 starts over when a proxy changes its stats"
    );
    assert!(
        c.proxy("c").unwrap().stats.is_none(),
        "backends do not inherit stats"
    );
}

#[test]
fn rules_filters_redirects_and_errors() {
    let c = ok(&format!(
        "{HEAD}frontend f :80\n\
         reqirep ^Host:\\ (.*) Host:\\ \\1\n\
         reqisetbe ^Host:\\ b\\. b\n\
         reqadd X-A:\\ 1 if {{ src 127.0.0.1 }}\n\
         rspdeny ^Server:\\ IIS\n\
         redirect location /x code 303 drop-query append-slash set-cookie S=1 unless {{ path / }}\n\
         http-request auth realm Area\\ 51 if {{ path_beg /a }}\n\
         tcp-request inspect-delay 5s\n\
         tcp-request content reject if {{ req_len gt 1000 }}\n\
         errorfile 503 503.http\n\
         errorloc303 403 http://x/forbidden\n\
         default_backend b\n\
         backend b\n server s 127.0.0.1:1\n"
    ));
    let f = c.proxy("f").unwrap();
    assert_eq!(f.req_filters.len(), 2);
    assert!(f.req_filters[0].icase);
    assert!(f.req_filters[0].regex.is_match(b"host: example"));
    assert_eq!(
        f.req_filters[0].action,
        FilterAction::Replace(b"Host: \\1".to_vec())
    );
    assert_eq!(
        f.req_filters[1].action,
        FilterAction::SetBackend("b".into())
    );
    assert_eq!(f.reqadd[0].line, b"X-A: 1".to_vec());
    assert_eq!(f.rsp_filters[0].action, FilterAction::Deny);
    let r = &f.redirects[0];
    assert_eq!(r.kind, RedirectKind::Location);
    assert_eq!(r.code, 303);
    assert!(r.drop_query && r.append_slash);
    assert_eq!(r.cookie, Some(RedirectCookie::Set("S=1".into())));
    assert!(r.cond.as_ref().unwrap().unless);
    assert_eq!(
        f.http_request[0].action,
        HttpReqAction::Auth {
            realm: Some("Area 51".into())
        }
    );
    assert_eq!(f.tcp_inspect_delay.as_deref(), Some(&5000));
    assert!(!f.tcp_request[0].accept);
    let e503 = f.errors.iter().find(|e| e.status == 503).unwrap();
    match &e503.body {
        ErrorBody::File { bytes, .. } => assert!(bytes.starts_with(b"HTTP/1.0 503")),
        b => panic!("{b:?}"),
    }
    let e403 = f.errors.iter().find(|e| e.status == 403).unwrap();
    assert_eq!(
        e403.body,
        ErrorBody::Location {
            code: 303,
            url: "http://x/forbidden".into()
        }
    );
}

#[test]
fn health_checks() {
    let c = clean(&format!(
        "{HEAD}backend a\n option httpchk HEAD /ping HTTP/1.1\\r\\nHost:\\ x\n http-check expect ! rstatus ^5\n http-check send-state\n server s 127.0.0.1:1 check\n\
         backend b\n option smtpchk EHLO mail.local\n server s 127.0.0.1:25 check\n\
         backend c\n option httpchk /status\n http-check disable-on-404\n server s 127.0.0.1:1\n"
    ));
    let a = c.backend("a").unwrap();
    assert_eq!(
        *a.check,
        CheckKind::Http {
            method: "HEAD".into(),
            uri: "/ping".into(),
            version: "HTTP/1.1\r\nHost: x".into()
        }
    );
    let ex = a.http_check.expect.as_ref().unwrap();
    assert!(ex.negate);
    assert!(matches!(&ex.kind, HttpExpectKind::RStatus(r) if r.is_match(b"503")));
    assert!(a.http_check.send_state.is_some());
    assert_eq!(
        *c.backend("b").unwrap().check,
        CheckKind::Smtp {
            verb: "EHLO".into(),
            domain: "mail.local".into()
        }
    );
    let cc = c.backend("c").unwrap();
    assert_eq!(
        *cc.check,
        CheckKind::Http {
            method: "OPTIONS".into(),
            uri: "/status".into(),
            version: "HTTP/1.0".into()
        }
    );
    assert!(cc.http_check.disable_on_404.is_some());
}

#[test]
fn forwardfor_except_and_smart_accept() {
    let c = clean(&format!(
        "{HEAD} option forwardfor except 10.0.0.0/8\nfrontend f :80\n option forwardfor header X-Real-IP if-none\n default_backend b\nfrontend g :81\n no option tcp-smart-accept\n default_backend b\nbackend b\n server s 127.0.0.1:1\n"
    ));
    let f = c.proxy("f").unwrap();
    let ff = f.options.forwardfor.as_ref().unwrap();
    assert_eq!(ff.header, "X-Real-IP");
    assert!(ff.if_none);
    // 1.4 keeps the except network across re-declarations
    assert_eq!(ff.except.map(|n| n.prefix), Some(8));
    assert!(
        f.options.tcp_smart_accept.is_some(),
        "automatic in HTTP mode"
    );
    assert!(c.proxy("g").unwrap().options.tcp_smart_accept.is_none());
}

#[test]
fn userlists() {
    let c = clean(&format!(
        "userlist u\n group g1 users bob\n group g2\n user bob password $6$x$y\n user amy insecure-password pw groups g1,g2\n user zed\n\
         {HEAD}frontend f :80\n acl ok http_auth_group(u) g1 g2\n http-request auth unless ok\n default_backend b\nbackend b\n server s 127.0.0.1:1\n"
    ));
    let u = c.userlist("u").unwrap();
    assert_eq!(u.groups.len(), 2);
    assert_eq!(u.groups[0].users, vec!["bob".to_string()]);
    assert_eq!(u.users[0].password, Password::Crypt("$6$x$y".into()));
    assert_eq!(u.users[1].password, Password::Insecure("pw".into()));
    assert_eq!(u.users[1].groups, vec!["g1".to_string(), "g2".to_string()]);
    assert_eq!(u.users[2].password, Password::None);
    let f = c.proxy("f").unwrap();
    assert!(matches!(&f.acls[0].exprs[0].matcher, Matcher::Groups(g) if g == &["g1", "g2"]));
}

#[test]
fn global_keywords() {
    let c = ok(
        "global\n chroot /var/empty\n daemon\n quiet\n debug\n maxconn 10\n maxpipes 5\n ulimit-n 100\n\
         nbproc 2\n spread-checks 5\n log-tag hx\n log-send-hostname\n node n1\n description a  b\n\
         tune.bufsize 8192\n tune.maxrewrite 8000\n tune.maxaccept -1\n noepoll\n nosplice\n\
         stats socket /tmp/s uid 1 gid 2 mode 660 level user\n stats maxconn 3\n uid 33\n gid 33\n\
         defaults\n mode http\n timeout connect 1\n timeout client 1\n timeout server 1\n\
         listen a :80\n bind-process 1\n server s 127.0.0.1:1\n",
    );
    let g = &c.global;
    assert!(g.daemon.is_some() && g.quiet.is_some() && g.debug.is_some());
    assert_eq!(g.nbproc.as_deref(), Some(&2));
    assert_eq!(
        g.log_send_hostname.as_ref().map(|h| h.node.clone()),
        Some(None)
    );
    assert_eq!(g.description.as_deref().map(String::as_str), Some("a b"));
    assert_eq!(g.tune.bufsize.as_deref(), Some(&8192));
    assert_eq!(
        g.tune.maxrewrite.as_deref(),
        Some(&4096),
        "capped at half the buffer"
    );
    assert_eq!(g.tune.maxaccept.as_deref(), Some(&-1));
    let s = g.stats_socket.as_ref().unwrap();
    assert_eq!(
        (s.uid, s.gid, s.mode, s.level),
        (Some(1), Some(2), Some(0o660), CliLevel::User)
    );
    assert_eq!(g.uid.as_deref(), Some(&33));
    assert_eq!(
        c.proxy("a").unwrap().bind_process.as_ref().map(|b| b.0),
        Some(1)
    );
}

#[test]
fn non_fatal_alerts_keep_the_configuration() {
    // 1.4 prints "... Continuing." as an alert but still starts: we report a warning
    let l = load("global\n maxconn 10\n maxconn 20\ndefaults\n mode http\n timeout connect 1\n timeout client 1\n timeout server 1\nlisten a :80\n server s 127.0.0.1:1\n");
    assert!(l.config.is_some());
    assert_eq!(l.config.unwrap().global.maxconn.as_deref(), Some(&10));
    assert!(l
        .report
        .warnings()
        .any(|d| d.text == "'maxconn' already specified. Continuing."));
}

#[test]
fn files_are_read_in_order_and_unreadable_files_are_fatal() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let l = parser::load_files(&[dir.join("does-not-exist.cfg")], &opts());
    assert!(l.config.is_none());
    assert!(l
        .report
        .render("-")
        .contains("Could not open configuration file"));
}

#[test]
fn ten_thousand_lines_load_quickly() {
    let mut s = String::from(HEAD);
    s.push_str("frontend f :80\n default_backend b0\n");
    for i in 0..2000 {
        s.push_str(&format!(
            " acl a{i} hdr_beg(host) -i h{i}.example.com\n use_backend b{i} if a{i}\n"
        ));
    }
    for i in 0..2000 {
        s.push_str(&format!(
            "backend b{i}\n server s{i} 127.0.0.1:{}\n balance roundrobin\n",
            1000 + i
        ));
    }
    assert!(s.lines().count() >= 10_000);
    let t = std::time::Instant::now();
    let c = clean(&s);
    let dt = t.elapsed();
    assert_eq!(c.proxies.len(), 2001);
    // well under a second in release builds; generous for unoptimised test builds
    assert!(dt.as_secs_f64() < 5.0, "took {dt:?}");
    eprintln!("10k-line load: {dt:?}");
}
