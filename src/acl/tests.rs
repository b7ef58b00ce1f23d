//! End-to-end ACL tests: IR built by hand, evaluated against a mock stream.

use super::*;
use parser::ir::{
    AclDef, AclExpr, AclRef, AclTerm, Condition, Fetch, IntRange, IpNet, Matcher, MethodPattern,
    Password, ServerRef, StrPatterns, UlGroup, UlUser, Userlist,
};
use parser::span::{Span, Spanned};
use regex::bytes::RegexBuilder;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

// ------------------------------------------------------------------------------------------
// mock stream
// ------------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct MockProxy {
    name: &'static str,
    frontend: Option<FrontendLoad>,
    backend: Option<BackendLoad>,
    servers: Vec<ServerLoad>,
}

#[derive(Default)]
struct MockProxies {
    /// The proxy evaluating the rule (designated by `None`).
    current: MockProxy,
    others: Vec<MockProxy>,
    /// `(proxy, server)` pairs that are up.
    up: Vec<(Option<&'static str>, &'static str)>,
}

impl MockProxies {
    fn find(&self, name: Option<&str>) -> Option<&MockProxy> {
        match name {
            None => Some(&self.current),
            Some(n) => self.others.iter().find(|p| p.name == n),
        }
    }
}

impl ProxyState for MockProxies {
    fn frontend(&self, name: Option<&str>) -> Option<FrontendLoad> {
        self.find(name)?.frontend
    }
    fn backend(&self, name: Option<&str>) -> Option<BackendLoad> {
        self.find(name)?.backend
    }
    fn for_each_server(&self, backend: Option<&str>, f: &mut dyn FnMut(&ServerLoad)) -> bool {
        match self.find(backend) {
            Some(p) if p.backend.is_some() => {
                p.servers.iter().for_each(f);
                true
            }
            _ => false,
        }
    }
    fn srv_is_up(&self, srv: &ServerRef) -> bool {
        self.up
            .iter()
            .any(|(p, s)| *p == srv.proxy.as_deref() && *s == srv.server)
    }
}

type Hdrs = Vec<(Vec<u8>, Vec<u8>)>;

struct Mock {
    client: SocketAddr,
    local: SocketAddr,
    so_id: i64,
    so_conns: i64,
    fe_id: i64,
    be_id: i64,
    srv_id: Option<i64>,
    proxies: MockProxies,
    buffer: Vec<u8>,
    capacity: usize,
    req: Option<(Vec<u8>, Vec<u8>, Vec<u8>)>,
    req_hdrs: Hdrs,
    first_req: bool,
    proxy_auth: bool,
    userlists: Vec<Userlist>,
    res: Option<(Vec<u8>, Vec<u8>)>,
    res_hdrs: Hdrs,
}

fn hdrs(list: &[(&str, &str)]) -> Hdrs {
    list.iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

impl Mock {
    /// A TCP stream with no HTTP request parsed yet.
    fn tcp() -> Mock {
        Mock {
            client: "192.168.1.20:40000".parse().expect("valid address"),
            local: "10.0.0.1:80".parse().expect("valid address"),
            so_id: 3,
            so_conns: 7,
            fe_id: 1,
            be_id: 1,
            srv_id: None,
            proxies: MockProxies::default(),
            buffer: Vec::new(),
            capacity: 8192,
            req: None,
            req_hdrs: Vec::new(),
            first_req: true,
            proxy_auth: false,
            userlists: Vec::new(),
            res: None,
            res_hdrs: Vec::new(),
        }
    }

    /// A stream with a parsed request.
    fn http(method: &str, uri: &str, headers: &[(&str, &str)]) -> Mock {
        let mut m = Mock::tcp();
        m.req = Some((method.into(), uri.into(), b"HTTP/1.1".to_vec()));
        m.req_hdrs = hdrs(headers);
        m
    }

    fn with_response(mut self, code: &str, headers: &[(&str, &str)]) -> Mock {
        self.res = Some((b"HTTP/1.0".to_vec(), code.into()));
        self.res_hdrs = hdrs(headers);
        self
    }
}

impl AclContext for Mock {
    fn client_addr(&self) -> SocketAddr {
        self.client
    }
    fn local_addr(&self) -> SocketAddr {
        self.local
    }
    fn listener_id(&self) -> i64 {
        self.so_id
    }
    fn listener_conns(&self) -> i64 {
        self.so_conns
    }
    fn frontend_id(&self) -> i64 {
        self.fe_id
    }
    fn backend_id(&self) -> i64 {
        self.be_id
    }
    fn server_id(&self) -> Option<i64> {
        self.srv_id
    }
    fn proxies(&self) -> &dyn ProxyState {
        &self.proxies
    }
    fn req_buffer(&self) -> &[u8] {
        &self.buffer
    }
    fn req_buffer_capacity(&self) -> usize {
        self.capacity
    }
    fn request_line(&self) -> Option<RequestLine<'_>> {
        self.req.as_ref().map(|(m, u, v)| RequestLine {
            method: m,
            uri: u,
            version: v,
        })
    }
    fn req_headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.req_hdrs
            .iter()
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
    }
    fn http_first_req(&self) -> bool {
        self.first_req
    }
    fn use_proxy_auth(&self) -> bool {
        self.proxy_auth
    }
    fn userlist(&self, name: &str) -> Option<&Userlist> {
        self.userlists.iter().find(|u| u.name == name)
    }
    fn status_line(&self) -> Option<StatusLine<'_>> {
        self.res.as_ref().map(|(v, c)| StatusLine {
            version: v,
            code: c,
        })
    }
    fn res_headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.res_hdrs
            .iter()
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
    }
}

// ------------------------------------------------------------------------------------------
// IR builders
// ------------------------------------------------------------------------------------------

fn sp<T>(node: T) -> Spanned<T> {
    Spanned::new(Span::builtin(), node)
}

fn strs(values: &[&str], icase: bool) -> StrPatterns {
    StrPatterns {
        values: values.iter().map(|v| v.as_bytes().to_vec()).collect(),
        icase: vec![icase; values.len()],
    }
}

fn regex(re: &str, icase: bool) -> Matcher {
    Matcher::Reg(vec![RegexBuilder::new(re)
        .case_insensitive(icase)
        .build()
        .expect("valid regex")])
}

fn range(min: Option<i64>, max: Option<i64>) -> IntRange {
    IntRange { min, max }
}

fn eq(v: i64) -> IntRange {
    range(Some(v), Some(v))
}

fn net(s: &str, prefix: u8) -> IpNet {
    IpNet {
        addr: s.parse().expect("valid address"),
        prefix,
    }
}

fn expr(fetch: Fetch, matcher: Matcher) -> AclExpr {
    AclExpr { fetch, matcher }
}

fn hdr(name: &str) -> Fetch {
    Fetch::Hdr(Some(name.into()))
}

fn acl(name: &str, exprs: Vec<AclExpr>) -> AclDef {
    AclDef {
        name: name.into(),
        exprs: exprs.into_iter().map(sp).collect(),
        builtin: false,
    }
}

fn term(negate: bool, acl: AclRef) -> AclTerm {
    AclTerm { negate, acl }
}

fn anon(e: AclExpr) -> AclRef {
    AclRef::Anonymous(Box::new(e))
}

fn cond(unless: bool, terms: Vec<Vec<AclTerm>>) -> Condition {
    Condition { unless, terms }
}

/// `if { <expr> }`
fn if_expr(e: AclExpr) -> Condition {
    cond(false, vec![vec![term(false, anon(e))]])
}

/// Final evaluation of a single expression.
fn check(e: AclExpr, ctx: &Mock) -> bool {
    cond_matches(&if_expr(e), &[], ctx)
}

// ------------------------------------------------------------------------------------------
// header, URL and path criteria
// ------------------------------------------------------------------------------------------

#[test]
fn seed_host_regex_acl() {
    // acl COOKIE hdr_reg(host) -i ^(cookie.9ai9.net)
    let acls = vec![acl(
        "COOKIE",
        vec![expr(hdr("host"), regex("^(cookie.9ai9.net)", true))],
    )];
    let use_cookie = cond(false, vec![vec![term(false, AclRef::Named(0))]]);
    let host = |h: &str| Mock::http("GET", "/", &[("Host", h)]);
    assert!(cond_matches(&use_cookie, &acls, &host("cookie.9ai9.net")));
    assert!(cond_matches(
        &use_cookie,
        &acls,
        &host("COOKIE.9AI9.NET:8080")
    ));
    // `.` matches any byte and the regex is only anchored at the start.
    assert!(cond_matches(&use_cookie, &acls, &host("cookieX9ai9Ynet")));
    assert!(!cond_matches(&use_cookie, &acls, &host("other.host")));
    // The header name is case-insensitive; a missing header fails.
    assert!(cond_matches(
        &use_cookie,
        &acls,
        &Mock::http("GET", "/", &[("HOST", "cookie.9ai9.net")])
    ));
    assert!(!cond_matches(
        &use_cookie,
        &acls,
        &Mock::http("GET", "/", &[])
    ));
    // Without -i the regex is case-sensitive.
    let strict = expr(hdr("host"), regex("^(cookie.9ai9.net)", false));
    assert!(!check(strict, &host("COOKIE.9AI9.NET")));
}

#[test]
fn hdr_string_matchers() {
    let ctx = Mock::http(
        "GET",
        "/",
        &[
            ("Host", "www.Example.com:8080"),
            ("X-List", "alpha, beta ,\"ga,mma\""),
            ("X-List", "delta"),
        ],
    );
    assert!(check(
        expr(hdr("host"), Matcher::Dom(strs(&["example"], true))),
        &ctx
    ));
    assert!(!check(
        expr(hdr("host"), Matcher::Dom(strs(&["example"], false))),
        &ctx
    ));
    assert!(check(
        expr(hdr("host"), Matcher::Dom(strs(&["8080"], false))),
        &ctx
    ));
    assert!(!check(
        expr(hdr("host"), Matcher::Dom(strs(&["xample"], true))),
        &ctx
    ));
    assert!(check(
        expr(hdr("host"), Matcher::End(strs(&[":8080"], false))),
        &ctx
    ));
    assert!(check(
        expr(hdr("host"), Matcher::Beg(strs(&["WWW."], true))),
        &ctx
    ));
    assert!(!check(
        expr(hdr("host"), Matcher::Beg(strs(&["WWW."], false))),
        &ctx
    ));
    // Each comma-separated element of every occurrence is tested on its own.
    assert!(check(
        expr(hdr("x-list"), Matcher::Str(strs(&["beta"], false))),
        &ctx
    ));
    assert!(check(
        expr(hdr("x-list"), Matcher::Str(strs(&["delta"], false))),
        &ctx
    ));
    assert!(check(
        expr(hdr("x-list"), Matcher::Str(strs(&["\"ga,mma\""], false))),
        &ctx
    ));
    assert!(!check(
        expr(hdr("x-list"), Matcher::Str(strs(&["alpha, beta"], false))),
        &ctx
    ));
    assert!(check(expr(hdr("x-list"), Matcher::Len(vec![eq(8)])), &ctx));
    // hdr without a name looks at every header.
    assert!(check(
        expr(Fetch::Hdr(None), Matcher::Str(strs(&["delta"], false))),
        &ctx
    ));
    assert!(check(
        expr(Fetch::Hdr(None), Matcher::Sub(strs(&["example"], true))),
        &ctx
    ));

    let dir_ctx = Mock::http("GET", "/", &[("Referer", "http://h/static/img/x.png")]);
    assert!(check(
        expr(hdr("referer"), Matcher::Dir(strs(&["img"], false))),
        &dir_ctx
    ));
    assert!(check(
        expr(hdr("referer"), Matcher::Dir(strs(&["/static/img/"], false))),
        &dir_ctx
    ));
    assert!(!check(
        expr(hdr("referer"), Matcher::Dir(strs(&["stat"], false))),
        &dir_ctx
    ));
    assert!(!check(
        expr(hdr("referer"), Matcher::Dir(strs(&["IMG"], false))),
        &dir_ctx
    ));
    assert!(check(
        expr(hdr("referer"), Matcher::Dir(strs(&["IMG"], true))),
        &dir_ctx
    ));
}

#[test]
fn hdr_cnt_val_ip() {
    let ctx = Mock::http(
        "POST",
        "/",
        &[
            ("Content-Length", "42"),
            ("X-Forwarded-For", "10.1.2.3, 192.168.0.9"),
            ("X-Forwarded-For", "unknown"),
            ("Accept", "a, b"),
        ],
    );
    let cnt =
        |name: &str, r: IntRange| expr(Fetch::HdrCnt(Some(name.into())), Matcher::Int(vec![r]));
    assert!(check(cnt("x-forwarded-for", eq(3)), &ctx));
    assert!(check(cnt("accept", eq(2)), &ctx));
    assert!(check(cnt("absent", eq(0)), &ctx));
    assert!(check(
        expr(Fetch::HdrCnt(None), Matcher::Int(vec![eq(6)])),
        &ctx
    ));
    // HTTP_CONTENT = hdr_val(content-length) gt 0
    let http_content = expr(
        Fetch::HdrVal(Some("content-length".into())),
        Matcher::Int(vec![range(Some(1), None)]),
    );
    assert!(check(http_content.clone(), &ctx));
    assert!(!check(
        http_content.clone(),
        &Mock::http("POST", "/", &[("Content-Length", "0")])
    ));
    assert!(!check(http_content, &Mock::http("GET", "/", &[])));
    assert!(check(
        expr(
            Fetch::HdrVal(Some("content-length".into())),
            Matcher::Int(vec![eq(42)])
        ),
        &ctx
    ));
    let xff = |n: IpNet| {
        expr(
            Fetch::HdrIp(Some("x-forwarded-for".into())),
            Matcher::Ip(vec![n]),
        )
    };
    assert!(check(xff(net("10.0.0.0", 8)), &ctx));
    assert!(check(xff(net("192.168.0.9", 32)), &ctx));
    assert!(!check(xff(net("172.16.0.0", 12)), &ctx));
    // A value that is not an address reads as 0.0.0.0.
    assert!(check(xff(net("0.0.0.0", 32)), &ctx));
}

#[test]
fn url_and_path_criteria() {
    let ctx = Mock::http("GET", "/static/img/logo.png;v=2?size=big&x=1", &[]);
    assert!(check(
        expr(Fetch::Path, Matcher::Beg(strs(&["/static/"], false))),
        &ctx
    ));
    assert!(!check(
        expr(Fetch::Path, Matcher::Beg(strs(&["/STATIC/"], false))),
        &ctx
    ));
    assert!(check(
        expr(Fetch::Path, Matcher::Beg(strs(&["/STATIC/"], true))),
        &ctx
    ));
    assert!(check(
        expr(Fetch::Path, Matcher::End(strs(&[".png;v=2"], false))),
        &ctx
    ));
    assert!(!check(
        expr(Fetch::Path, Matcher::Sub(strs(&["size"], false))),
        &ctx
    ));
    assert!(check(
        expr(
            Fetch::Path,
            Matcher::Str(strs(&["/static/img/logo.png;v=2"], false))
        ),
        &ctx
    ));
    assert!(check(
        expr(Fetch::Url, Matcher::Sub(strs(&["size=big"], false))),
        &ctx
    ));
    assert!(check(
        expr(Fetch::Url, Matcher::Sub(strs(&["SIZE=BIG"], true))),
        &ctx
    ));
    assert!(!check(
        expr(Fetch::Url, Matcher::Sub(strs(&["SIZE=BIG"], false))),
        &ctx
    ));
    let url_len = ctx.req.as_ref().map_or(0, |r| r.1.len()) as i64;
    assert!(check(
        expr(Fetch::Url, Matcher::Len(vec![eq(url_len)])),
        &ctx
    ));
    assert!(check(
        expr(Fetch::Url, Matcher::Len(vec![range(None, Some(100))])),
        &ctx
    ));
    assert!(!check(
        expr(
            Fetch::Url,
            Matcher::Len(vec![range(Some(url_len + 1), None)])
        ),
        &ctx
    ));
    assert!(check(expr(Fetch::Path, Matcher::Len(vec![eq(24)])), &ctx));
    assert!(check(expr(Fetch::Path, regex("\\.png", false)), &ctx));

    // Absolute URI: the path skips scheme and authority; url_ip/url_port read the host.
    let abs = Mock::http("GET", "http://10.2.3.4:8080/a/b?c", &[]);
    assert!(check(
        expr(Fetch::Path, Matcher::Str(strs(&["/a/b"], false))),
        &abs
    ));
    assert!(check(
        expr(Fetch::UrlIp, Matcher::Ip(vec![net("10.2.3.0", 24)])),
        &abs
    ));
    assert!(check(
        expr(Fetch::UrlPort, Matcher::Int(vec![eq(8080)])),
        &abs
    ));
    assert!(check(expr(Fetch::UrlPort, Matcher::Int(vec![eq(0)])), &ctx));
    // HTTP_URL_ABS / HTTP_URL_SLASH / HTTP_URL_STAR
    assert!(check(expr(Fetch::Url, regex("^[^/:]*://", false)), &abs));
    assert!(!check(expr(Fetch::Url, regex("^[^/:]*://", false)), &ctx));
    assert!(check(
        expr(Fetch::Url, Matcher::Beg(strs(&["/"], false))),
        &ctx
    ));
    let star = Mock::http("OPTIONS", "*", &[]);
    assert!(check(
        expr(Fetch::Url, Matcher::Str(strs(&["*"], false))),
        &star
    ));
    // `*` has no path, so even a path_len >= 0 test fails.
    assert!(!check(
        expr(Fetch::Path, Matcher::Len(vec![range(Some(0), None)])),
        &star
    ));
}

#[test]
fn method_and_version() {
    // METH_GET = method GET HEAD
    let meth_get = expr(
        Fetch::Method,
        Matcher::Method(vec![MethodPattern::Get, MethodPattern::Head]),
    );
    assert!(check(meth_get.clone(), &Mock::http("GET", "/", &[])));
    assert!(check(meth_get.clone(), &Mock::http("HEAD", "/", &[])));
    assert!(!check(meth_get.clone(), &Mock::http("POST", "/", &[])));
    assert!(!check(meth_get.clone(), &Mock::http("get", "/", &[])));
    assert!(!check(meth_get, &Mock::tcp()));
    let purge = |icase| {
        expr(
            Fetch::Method,
            Matcher::Method(vec![MethodPattern::Other {
                name: b"PURGE".to_vec(),
                icase,
            }]),
        )
    };
    assert!(check(purge(false), &Mock::http("PURGE", "/", &[])));
    assert!(!check(purge(false), &Mock::http("Purge", "/", &[])));
    assert!(check(purge(true), &Mock::http("Purge", "/", &[])));
    // 1.4 refuses an unknown method once the response is being analysed.
    assert!(!check(
        purge(false),
        &Mock::http("PURGE", "/", &[]).with_response("200", &[])
    ));
    assert!(check(
        expr(Fetch::Method, Matcher::Method(vec![MethodPattern::Get])),
        &Mock::http("GET", "/", &[]).with_response("200", &[])
    ));

    // HTTP_1.1 = req_ver 1.1
    let v11 = expr(Fetch::ReqVer, Matcher::Str(strs(&["1.1"], false)));
    assert!(check(v11.clone(), &Mock::http("GET", "/", &[])));
    let mut v10 = Mock::http("GET", "/", &[]);
    if let Some(r) = v10.req.as_mut() {
        r.2 = b"HTTP/1.0".to_vec();
    }
    assert!(!check(v11, &v10));
    assert!(check(
        expr(Fetch::ReqVer, Matcher::Str(strs(&["1.0"], false))),
        &v10
    ));
}

#[test]
fn response_criteria() {
    let ctx = Mock::http("GET", "/", &[("Host", "a")]).with_response(
        "503",
        &[
            ("Content-Type", "text/html; charset=utf-8"),
            ("Set-Cookie", "a=1"),
        ],
    );
    assert!(check(
        expr(
            Fetch::Status,
            Matcher::Int(vec![range(Some(500), Some(599))])
        ),
        &ctx
    ));
    assert!(!check(
        expr(Fetch::Status, Matcher::Int(vec![eq(200)])),
        &ctx
    ));
    assert!(check(
        expr(Fetch::RespVer, Matcher::Str(strs(&["1.0"], false))),
        &ctx
    ));
    let shdr = |m| expr(Fetch::Shdr(Some("content-type".into())), m);
    assert!(check(shdr(Matcher::Beg(strs(&["text/html"], false))), &ctx));
    assert!(check(shdr(Matcher::Sub(strs(&["CHARSET"], true))), &ctx));
    assert!(check(
        expr(
            Fetch::ShdrCnt(Some("set-cookie".into())),
            Matcher::Int(vec![eq(1)])
        ),
        &ctx
    ));
    // Request headers are no longer visible to ACLs once the response is analysed (1.4).
    assert!(!check(
        expr(hdr("host"), Matcher::Str(strs(&["a"], false))),
        &ctx
    ));
    assert!(!check(
        expr(Fetch::Url, Matcher::Str(strs(&["/"], false))),
        &ctx
    ));
    // Response criteria fail before the response.
    assert!(!check(
        expr(Fetch::Status, Matcher::Int(vec![range(None, None)])),
        &Mock::http("GET", "/", &[])
    ));
}

// ------------------------------------------------------------------------------------------
// layer 4 and proxy state
// ------------------------------------------------------------------------------------------

#[test]
fn addresses_ports_and_ids() {
    let ctx = Mock::tcp();
    // LOCALHOST = src 127.0.0.1/8
    let localhost = expr(Fetch::Src, Matcher::Ip(vec![net("127.0.0.1", 8)]));
    assert!(!check(localhost.clone(), &ctx));
    let mut lo = Mock::tcp();
    lo.client = "127.3.2.1:5000".parse().expect("valid address");
    assert!(check(localhost, &lo));
    let lan = expr(
        Fetch::Src,
        Matcher::Ip(vec![net("10.0.0.0", 8), net("192.168.0.0", 16)]),
    );
    assert!(check(lan.clone(), &ctx));
    let mut v6 = Mock::tcp();
    v6.client = SocketAddr::new(
        IpAddr::V6(Ipv4Addr::new(192, 168, 1, 20).to_ipv6_mapped()),
        1,
    );
    assert!(!check(lan, &v6));
    assert!(check(
        expr(Fetch::Dst, Matcher::Ip(vec![net("10.0.0.1", 32)])),
        &ctx
    ));
    let dport = |r: IntRange| expr(Fetch::DstPort, Matcher::Int(vec![r]));
    assert!(check(dport(eq(80)), &ctx));
    assert!(check(dport(range(Some(1), Some(1023))), &ctx));
    assert!(!check(dport(range(Some(1024), None)), &ctx));
    assert!(check(dport(range(None, Some(80))), &ctx));
    assert!(check(
        expr(Fetch::SrcPort, Matcher::Int(vec![range(Some(32768), None)])),
        &ctx
    ));
    assert!(check(expr(Fetch::SoId, Matcher::Int(vec![eq(3)])), &ctx));
    assert!(check(expr(Fetch::DstConn, Matcher::Int(vec![eq(7)])), &ctx));
    assert!(check(expr(Fetch::FeId, Matcher::Int(vec![eq(1)])), &ctx));
    assert!(check(expr(Fetch::BeId, Matcher::Int(vec![eq(1)])), &ctx));
    // srv_id fails until a server is assigned.
    let srv2 = expr(Fetch::SrvId, Matcher::Int(vec![eq(2)]));
    assert!(!check(srv2.clone(), &ctx));
    let mut assigned = Mock::tcp();
    assigned.srv_id = Some(2);
    assert!(check(srv2, &assigned));
}

fn backend_mock() -> Mock {
    let mut ctx = Mock::tcp();
    ctx.proxies.current = MockProxy {
        name: "fe",
        frontend: Some(FrontendLoad {
            conn: 12,
            sess_rate: 30,
        }),
        backend: Some(BackendLoad {
            conn: 5,
            sess_rate: 9,
            active_servers: 0,
            backup_servers: 0,
            ..Default::default()
        }),
        servers: vec![],
    };
    ctx.proxies.others = vec![
        MockProxy {
            name: "app",
            frontend: None,
            backend: Some(BackendLoad {
                conn: 40,
                sess_rate: 11,
                active_servers: 2,
                backup_servers: 1,
                first_backup_in_use: false,
                queued: 5,
            }),
            servers: vec![
                ServerLoad {
                    running: true,
                    maxconn: 10,
                    cur_sess: 4,
                    maxqueue: 5,
                    queued: 1,
                },
                ServerLoad {
                    running: true,
                    maxconn: 20,
                    cur_sess: 20,
                    maxqueue: 5,
                    queued: 5,
                },
                // A stopped server does not count, even with unlimited slots.
                ServerLoad {
                    running: false,
                    maxconn: 0,
                    cur_sess: 0,
                    maxqueue: 0,
                    queued: 0,
                },
            ],
        },
        MockProxy {
            name: "unlimited",
            frontend: None,
            backend: Some(BackendLoad::default()),
            servers: vec![
                ServerLoad {
                    running: true,
                    maxconn: 10,
                    cur_sess: 0,
                    maxqueue: 10,
                    queued: 0,
                },
                ServerLoad {
                    running: true,
                    maxconn: 0,
                    cur_sess: 0,
                    maxqueue: 10,
                    queued: 0,
                },
            ],
        },
    ];
    ctx.proxies.up = vec![(Some("app"), "s1"), (None, "local")];
    ctx
}

#[test]
fn proxy_state_criteria() {
    let ctx = backend_mock();
    let int = |f: Fetch, r: IntRange| expr(f, Matcher::Int(vec![r]));
    let app = || Some("app".to_string());
    // acl dead nbsrv(app) lt 1 / nbsrv(app) 2
    assert!(check(int(Fetch::NbSrv(app()), eq(2)), &ctx));
    assert!(!check(int(Fetch::NbSrv(app()), range(None, Some(0))), &ctx));
    // Without a name, the evaluating proxy (here with no usable server).
    assert!(check(int(Fetch::NbSrv(None), eq(0)), &ctx));
    // Unknown proxy: the fetch fails, even for "lt 1".
    assert!(!check(
        int(Fetch::NbSrv(Some("nope".into())), range(None, Some(0))),
        &ctx
    ));
    // connslots: (10-4)+(5-1) + (20-20)+(5-5) = 10
    assert!(check(int(Fetch::ConnSlots(app()), eq(10)), &ctx));
    assert!(check(
        int(Fetch::ConnSlots(Some("unlimited".into())), eq(-1)),
        &ctx
    ));
    assert!(!check(
        int(Fetch::ConnSlots(Some("nope".into())), range(None, None)),
        &ctx
    ));
    assert!(check(int(Fetch::Queue(app()), eq(5)), &ctx));
    assert!(check(int(Fetch::AvgQueue(app()), eq(3)), &ctx));
    assert!(check(int(Fetch::BeConn(app()), eq(40)), &ctx));
    assert!(check(int(Fetch::BeSessRate(app()), eq(11)), &ctx));
    assert!(check(int(Fetch::FeConn(None), eq(12)), &ctx));
    assert!(check(
        int(Fetch::FeSessRate(None), range(Some(25), None)),
        &ctx
    ));
    // "app" has no frontend capability.
    assert!(!check(int(Fetch::FeConn(app()), range(None, None)), &ctx));
    let up = |proxy: Option<&str>, server: &str| {
        expr(
            Fetch::SrvIsUp(ServerRef {
                proxy: proxy.map(String::from),
                server: server.into(),
            }),
            Matcher::Bool,
        )
    };
    assert!(check(up(Some("app"), "s1"), &ctx));
    assert!(!check(up(Some("app"), "s2"), &ctx));
    assert!(check(up(None, "local"), &ctx));
}

// ------------------------------------------------------------------------------------------
// request payload and the inspect delay
// ------------------------------------------------------------------------------------------

fn verdict(c: &Condition, acls: &[AclDef], ctx: &Mock, phase: Phase) -> Verdict {
    cond_verdict(c, acls, ctx, phase)
}

#[test]
fn req_ssl_ver_and_rdp_cookie() {
    // acl tls10 req_ssl_ver 3.1
    let tls10 = if_expr(expr(Fetch::ReqSslVer, Matcher::Version(vec![eq(0x30001)])));
    let mut ctx = Mock::tcp();
    let mut hello = vec![0x16, 0x03, 0x01, 0x00, 0x30];
    hello.extend(std::iter::repeat_n(0u8, 0x30));
    ctx.buffer = hello[..20].to_vec();
    assert_eq!(verdict(&tls10, &[], &ctx, Phase::Partial), Verdict::Wait);
    assert_eq!(verdict(&tls10, &[], &ctx, Phase::Final), Verdict::NoMatch);
    ctx.buffer = hello.clone();
    assert_eq!(verdict(&tls10, &[], &ctx, Phase::Partial), Verdict::Match);
    hello[2] = 0x00; // SSLv3
    ctx.buffer = hello;
    assert_eq!(verdict(&tls10, &[], &ctx, Phase::Partial), Verdict::NoMatch);
    ctx.buffer = b"GET / HTTP/1.0\r\n\r\n".to_vec();
    assert_eq!(verdict(&tls10, &[], &ctx, Phase::Partial), Verdict::NoMatch);

    // acl alice req_rdp_cookie(mstshash) alice ; RDP_COOKIE = req_rdp_cookie_cnt gt 0
    let alice = if_expr(expr(
        Fetch::ReqRdpCookie(Some("mstshash".into())),
        Matcher::Str(strs(&["alice"], false)),
    ));
    let rdp_cookie = if_expr(expr(
        Fetch::ReqRdpCookieCnt(None),
        Matcher::Int(vec![range(Some(1), None)]),
    ));
    let mut rdp = vec![0x03, 0x00, 0x00, 0x2c, 0x27, 0xe0, 0, 0, 0, 0, 0];
    rdp.extend_from_slice(b"Cookie: mstshash=alice\r\n");
    ctx.buffer = rdp[..20].to_vec();
    assert_eq!(verdict(&alice, &[], &ctx, Phase::Partial), Verdict::Wait);
    assert_eq!(
        verdict(&rdp_cookie, &[], &ctx, Phase::Partial),
        Verdict::Wait
    );
    assert_eq!(
        verdict(&rdp_cookie, &[], &ctx, Phase::Final),
        Verdict::NoMatch
    );
    ctx.buffer = rdp;
    assert_eq!(verdict(&alice, &[], &ctx, Phase::Partial), Verdict::Match);
    assert_eq!(
        verdict(&rdp_cookie, &[], &ctx, Phase::Partial),
        Verdict::Match
    );
    ctx.buffer = b"\x03\x00\x00\x2c\x27\xe0\0\0\0\0\0Hello there\r\n".to_vec();
    assert_eq!(
        verdict(&rdp_cookie, &[], &ctx, Phase::Partial),
        Verdict::NoMatch
    );
    let no_cookie = if_expr(expr(
        Fetch::ReqRdpCookieCnt(None),
        Matcher::Int(vec![eq(0)]),
    ));
    assert_eq!(
        verdict(&no_cookie, &[], &ctx, Phase::Partial),
        Verdict::Match
    );
}

#[test]
fn miss_handling_in_partial_phase() {
    let mut ctx = Mock::tcp();
    // REQ_CONTENT = req_len gt 0: waits while the buffer is empty.
    let req_content = expr(Fetch::ReqLen, Matcher::Int(vec![range(Some(1), None)]));
    let c = if_expr(req_content.clone());
    assert_eq!(verdict(&c, &[], &ctx, Phase::Partial), Verdict::Wait);
    assert_eq!(verdict(&c, &[], &ctx, Phase::Final), Verdict::NoMatch);
    // A negated miss is still a miss; `unless` does not decide a miss either.
    let neg = cond(false, vec![vec![term(true, anon(req_content.clone()))]]);
    assert_eq!(verdict(&neg, &[], &ctx, Phase::Partial), Verdict::Wait);
    assert_eq!(verdict(&neg, &[], &ctx, Phase::Final), Verdict::Match);
    let unless = cond(true, vec![vec![term(false, anon(req_content.clone()))]]);
    assert_eq!(verdict(&unless, &[], &ctx, Phase::Partial), Verdict::Wait);
    assert_eq!(verdict(&unless, &[], &ctx, Phase::Final), Verdict::Match);
    // OR: a pass elsewhere decides at once; AND: a fail elsewhere decides at once.
    let t = || anon(expr(Fetch::AlwaysTrue, Matcher::Bool));
    let f = || anon(expr(Fetch::AlwaysFalse, Matcher::Bool));
    let or_pass = cond(
        false,
        vec![
            vec![term(false, anon(req_content.clone()))],
            vec![term(false, t())],
        ],
    );
    assert_eq!(verdict(&or_pass, &[], &ctx, Phase::Partial), Verdict::Match);
    let and_fail = cond(
        false,
        vec![vec![
            term(false, anon(req_content.clone())),
            term(false, f()),
        ]],
    );
    assert_eq!(
        verdict(&and_fail, &[], &ctx, Phase::Partial),
        Verdict::NoMatch
    );
    let and_pass = cond(
        false,
        vec![vec![
            term(false, anon(req_content.clone())),
            term(false, t()),
        ]],
    );
    assert_eq!(verdict(&and_pass, &[], &ctx, Phase::Partial), Verdict::Wait);
    ctx.buffer = b"x".to_vec();
    assert_eq!(
        verdict(&and_pass, &[], &ctx, Phase::Partial),
        Verdict::Match
    );

    // WAIT_END: always waits while partial, passes once final.
    let wait_end = if_expr(expr(Fetch::WaitEnd, Matcher::Bool));
    assert_eq!(verdict(&wait_end, &[], &ctx, Phase::Partial), Verdict::Wait);
    assert_eq!(verdict(&wait_end, &[], &ctx, Phase::Final), Verdict::Match);

    // Layer 7 criteria fail (never wait) when no request was parsed, as in 1.4.
    let host = if_expr(expr(hdr("host"), Matcher::Str(strs(&["a"], false))));
    assert_eq!(verdict(&host, &[], &ctx, Phase::Partial), Verdict::NoMatch);
    let host_unless = cond(true, host.terms.clone());
    assert_eq!(
        verdict(&host_unless, &[], &ctx, Phase::Partial),
        Verdict::Match
    );

    // Definite layer 4 criteria never miss.
    let src = if_expr(expr(Fetch::Src, Matcher::Ip(vec![net("10.0.0.0", 8)])));
    assert_eq!(verdict(&src, &[], &ctx, Phase::Partial), Verdict::NoMatch);
}

#[test]
fn req_proto_http_sniffing() {
    let http = if_expr(expr(Fetch::ReqProtoHttp, Matcher::Bool));
    let mut ctx = Mock::tcp();
    ctx.buffer = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    assert_eq!(verdict(&http, &[], &ctx, Phase::Partial), Verdict::Wait);
    assert_eq!(verdict(&http, &[], &ctx, Phase::Final), Verdict::NoMatch);
    ctx.buffer.extend_from_slice(b"\r\n");
    assert_eq!(verdict(&http, &[], &ctx, Phase::Partial), Verdict::Match);
    ctx.buffer = b"\x16\x03\x01\x00\x10".to_vec();
    assert_eq!(verdict(&http, &[], &ctx, Phase::Partial), Verdict::NoMatch);
    // A full buffer without a complete head is not HTTP, no need to wait.
    ctx.buffer = b"GET /aaaaaaaa".to_vec();
    ctx.capacity = ctx.buffer.len();
    assert_eq!(verdict(&http, &[], &ctx, Phase::Partial), Verdict::NoMatch);
    // Once the HTTP analysers parsed the request, it is HTTP.
    assert_eq!(
        verdict(&http, &[], &Mock::http("GET", "/", &[]), Phase::Final),
        Verdict::Match
    );
}

// ------------------------------------------------------------------------------------------
// conditions
// ------------------------------------------------------------------------------------------

#[test]
fn conditions_or_and_not_unless_anonymous() {
    let acls = vec![
        // acl is_static path_beg /static/ ; acl is_static path_end .css (two lines = OR)
        acl(
            "is_static",
            vec![
                expr(Fetch::Path, Matcher::Beg(strs(&["/static/"], false))),
                expr(Fetch::Path, Matcher::End(strs(&[".css"], false))),
            ],
        ),
        acl(
            "is_get",
            vec![expr(
                Fetch::Method,
                Matcher::Method(vec![MethodPattern::Get, MethodPattern::Head]),
            )],
        ),
        acl(
            "lan",
            vec![expr(Fetch::Src, Matcher::Ip(vec![net("192.168.0.0", 16)]))],
        ),
        acl("empty", vec![]),
    ];
    let named = |i: usize, negate: bool| term(negate, AclRef::Named(i));
    let get_static = Mock::http("GET", "/static/a.js", &[]);
    let post_css = Mock::http("POST", "/x/site.css", &[]);
    let get_dyn = Mock::http("GET", "/app", &[]);

    // if is_static is_get
    let both = cond(false, vec![vec![named(0, false), named(1, false)]]);
    assert!(cond_matches(&both, &acls, &get_static));
    assert!(!cond_matches(&both, &acls, &post_css));
    assert!(!cond_matches(&both, &acls, &get_dyn));
    // if is_static or !is_get   (`||` parses to the same IR)
    let either = cond(false, vec![vec![named(0, false)], vec![named(1, true)]]);
    assert!(cond_matches(&either, &acls, &get_static));
    assert!(cond_matches(&either, &acls, &post_css));
    assert!(!cond_matches(&either, &acls, &get_dyn));
    // unless is_static
    let unless = cond(true, vec![vec![named(0, false)]]);
    assert!(!cond_matches(&unless, &acls, &get_static));
    assert!(cond_matches(&unless, &acls, &get_dyn));
    // if lan !{ path_beg /admin }  : anonymous ACL, negated
    let admin = anon(expr(Fetch::Path, Matcher::Beg(strs(&["/admin"], false))));
    let lan_not_admin = cond(false, vec![vec![named(2, false), term(true, admin)]]);
    assert!(cond_matches(&lan_not_admin, &acls, &get_dyn));
    assert!(!cond_matches(
        &lan_not_admin,
        &acls,
        &Mock::http("GET", "/admin/x", &[])
    ));
    // An ACL without expressions, an out-of-range index and an empty condition are false.
    assert!(!cond_matches(
        &cond(false, vec![vec![named(3, false)]]),
        &acls,
        &get_dyn
    ));
    assert!(!cond_matches(
        &cond(false, vec![vec![named(99, false)]]),
        &acls,
        &get_dyn
    ));
    assert!(!cond_matches(&cond(false, vec![]), &acls, &get_dyn));
    assert!(cond_matches(&cond(true, vec![]), &acls, &get_dyn));
    // A rule without a condition always applies.
    assert!(rule_applies(None, &acls, &get_dyn));
    assert!(!rule_applies(Some(&both), &acls, &get_dyn));
    // Raw results do not apply the polarity.
    assert_eq!(
        exec_cond(&unless, &acls, &get_static, Phase::Final),
        AclResult::Pass
    );
}

#[test]
fn http_first_req_criterion() {
    let first = if_expr(expr(Fetch::HttpFirstReq, Matcher::Bool));
    let mut ctx = Mock::http("GET", "/", &[]);
    assert!(cond_matches(&first, &[], &ctx));
    ctx.first_req = false;
    assert!(!cond_matches(&first, &[], &ctx));
}

// ------------------------------------------------------------------------------------------
// http_auth
// ------------------------------------------------------------------------------------------

fn userlist() -> Userlist {
    let hash = pwhash::sha512_crypt::hash_with("$6$rounds=1000$abcdefgh$", "s3cret")
        .expect("sha512-crypt parameters are valid");
    Userlist {
        span: Span::builtin(),
        name: "L1".into(),
        groups: vec![
            sp(UlGroup {
                name: "G1".into(),
                users: vec!["tiger".into()],
            }),
            sp(UlGroup {
                name: "G2".into(),
                users: vec![],
            }),
        ],
        users: vec![
            sp(UlUser {
                name: "tiger".into(),
                password: Password::Crypt(hash),
                groups: vec![],
            }),
            sp(UlUser {
                name: "scott".into(),
                password: Password::Insecure("elgato".into()),
                groups: vec!["G2".into()],
            }),
        ],
    }
}

fn auth_req(header: &str, value: &str) -> Mock {
    let mut m = Mock::http("GET", "/", &[(header, value)]);
    m.userlists = vec![userlist()];
    m
}

fn basic(user_pass: &str) -> String {
    // Tiny local encoder so the test does not reuse the decoder under test.
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::from("Basic ");
    for chunk in user_pass.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn http_auth_insecure_crypt_and_groups() {
    let auth = if_expr(expr(Fetch::HttpAuth("L1".into()), Matcher::Bool));
    let ok = |v: &str| cond_matches(&auth, &[], &auth_req("Authorization", v));
    assert!(ok(&basic("scott:elgato")));
    assert!(ok(&basic("tiger:s3cret")));
    assert!(!ok(&basic("scott:wrong")));
    assert!(!ok(&basic("tiger:S3cret")));
    assert!(!ok(&basic("nobody:elgato")));
    assert!(!ok("Digest username=\"scott\""));
    assert!(!ok("Basic !!!!"));
    assert!(!cond_matches(&auth, &[], &Mock::http("GET", "/", &[])));
    // Unknown userlist: fails.
    let other = if_expr(expr(Fetch::HttpAuth("L2".into()), Matcher::Bool));
    assert!(!cond_matches(
        &other,
        &[],
        &auth_req("Authorization", &basic("scott:elgato"))
    ));
    // Proxy requests read Proxy-Authorization instead.
    let mut px = auth_req("Proxy-Authorization", &basic("scott:elgato"));
    assert!(!cond_matches(&auth, &[], &px));
    px.proxy_auth = true;
    assert!(cond_matches(&auth, &[], &px));
    // http-request auth unless auth_ok  -> the typical use
    let unless_auth = cond(true, auth.terms.clone());
    assert!(cond_matches(
        &unless_auth,
        &[],
        &auth_req("Authorization", &basic("scott:nope"))
    ));

    // http_auth_group(L1) G1 : tiger is in G1 via the group line, scott in G2 via his user line.
    let group = |gs: &[&str]| {
        if_expr(expr(
            Fetch::HttpAuthGroup("L1".into()),
            Matcher::Groups(gs.iter().map(|g| g.to_string()).collect()),
        ))
    };
    let in_group =
        |gs: &[&str], v: &str| cond_matches(&group(gs), &[], &auth_req("Authorization", v));
    assert!(in_group(&["G1"], &basic("tiger:s3cret")));
    assert!(!in_group(&["G1"], &basic("scott:elgato")));
    assert!(in_group(&["G2"], &basic("scott:elgato")));
    assert!(in_group(&["G1", "G2"], &basic("scott:elgato")));
    assert!(!in_group(&["G1", "G2"], &basic("scott:wrong")));
    assert!(!in_group(&[], &basic("scott:elgato")));
}
