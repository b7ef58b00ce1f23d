//! Section kinds, proxy capabilities and the `defaults` snapshot.
//!
//! A proxy is parsed into a [`Px`]: the IR [`Proxy`] plus the bookkeeping 1.4 keeps beside
//! it while reading the file (capabilities, `default-server` values, which log bits are on,
//! raw server parameters...). A `defaults` section is a `Px` too; each `defaults` line starts
//! a fresh one, and [`inherit`] copies it into every following proxy at its header line,
//! field by field as 1.4 `cfg_parse_listen` does: some things go to every proxy, some only
//! to proxies with frontend capability, some only to proxies with backend capability.

use crate::ir::*;
use crate::span::{Span, Spanned};

/// Proxy capabilities (1.4 `PR_CAP_FE`, `PR_CAP_BE`, `PR_CAP_RS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cap(pub u8);

impl Cap {
    pub const NONE: Cap = Cap(0);
    pub const FE: Cap = Cap(1);
    pub const BE: Cap = Cap(2);
    pub const RS: Cap = Cap(4);
    pub const LISTEN: Cap = Cap(7);

    pub fn has(self, c: Cap) -> bool {
        self.0 & c.0 != 0
    }

    pub fn or(self, c: Cap) -> Cap {
        Cap(self.0 | c.0)
    }

    /// 1.4 `proxy_cap_str`: `frontend`, `backend`, `ruleset`, or `proxy` for listen.
    pub fn type_str(self) -> &'static str {
        if self.0 & Cap::LISTEN.0 != Cap::LISTEN.0 {
            if self.has(Cap::FE) {
                return "frontend";
            } else if self.has(Cap::BE) {
                return "backend";
            } else if self.has(Cap::RS) {
                return "ruleset";
            }
        }
        "proxy"
    }
}

/// `default-server` values (1.4 `defsrv`), copied into each `server` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefSrv {
    pub check_port: u16,
    pub inter: u32,
    pub fastinter: u32,
    pub downinter: u32,
    pub rise: i32,
    pub fall: i32,
    pub maxqueue: i32,
    pub minconn: i32,
    pub maxconn: i32,
    /// Seconds (1.4 stores slowstart rounded up to seconds).
    pub slowstart: u32,
    pub on_error: OnError,
    pub error_limit: i32,
    pub weight: i32,
}

impl Default for DefSrv {
    fn default() -> Self {
        DefSrv {
            check_port: 0,
            inter: 2000,
            fastinter: 0,
            downinter: 0,
            rise: 2,
            fall: 3,
            maxqueue: 0,
            minconn: 0,
            maxconn: 0,
            slowstart: 0,
            on_error: OnError::FailCheck,
            error_limit: 10,
            weight: 1,
        }
    }
}

/// Per-server facts 1.4 keeps beside the server until the configuration is checked.
#[derive(Clone, Debug, Default)]
pub struct SrvExtra {
    /// `track` argument as written.
    pub track: Option<String>,
    /// No explicit port (or `+N`/`-N`): the client's destination port is used.
    pub mapports: bool,
    pub minconn: i32,
    pub maxconn: i32,
    pub maxqueue: i32,
    /// `redir` given (forbidden outside HTTP mode).
    pub redir: bool,
    /// Port of `addr <ip>:<port>`, used as check port when `port` is not set.
    pub addr_port: u16,
}

/// A proxy (or the `defaults` section) being parsed.
#[derive(Clone, Debug)]
pub struct Px {
    pub ir: Proxy,
    pub cap: Cap,
    pub is_defaults: bool,
    pub defsrv: DefSrv,
    /// A `balance` algorithm was chosen (1.4 `lbprm.algo & BE_LB_KIND`).
    pub algo_set: bool,
    /// `option httplog` bits (1.4 `to_log & LW_REQ`).
    pub log_http: bool,
    /// Any log-format bit (1.4 `to_log != 0`).
    pub log_any: bool,
    pub log_clf: bool,
    /// `no option tcp-smart-accept` was given (disables the automatic HTTP-mode default).
    pub no_smart_accept: bool,
    /// `option forwardfor except`: kept apart because 1.4 keeps it across re-declarations.
    pub ff_except: Option<IpNet>,
    pub ot_except: Option<IpNet>,
    /// `stats` settings still shared with the `defaults` section (any `stats` keyword in
    /// the proxy starts over from scratch, as 1.4 detaches `uri_auth`).
    pub stats_inherited: bool,
    pub srv_extra: Vec<SrvExtra>,
    /// Listener count per `bind` line (for `id`, which needs a single socket).
    pub last_bind_listeners: usize,
    /// The header line's address list failed to parse (1.4 then skips `defaults`).
    pub header_failed: bool,
    /// Explicit `id` values (listeners and servers) already used, for duplicate checks.
    pub used_listener_ids: Vec<(u32, Span)>,
    pub used_server_ids: Vec<(u32, String, Span)>,
}

impl Px {
    /// A fresh proxy with 1.4's built-in values (`init_new_proxy`).
    pub fn new(name: &str, kind: ProxyKind, cap: Cap, span: Span) -> Px {
        Px {
            ir: blank_proxy(name, kind, span),
            cap,
            is_defaults: false,
            defsrv: DefSrv::default(),
            algo_set: false,
            log_http: false,
            log_any: false,
            log_clf: false,
            no_smart_accept: false,
            ff_except: None,
            ot_except: None,
            stats_inherited: false,
            srv_extra: Vec::new(),
            last_bind_listeners: 0,
            header_failed: false,
            used_listener_ids: Vec::new(),
            used_server_ids: Vec::new(),
        }
    }

    /// A `defaults` section (1.4 `init_default_instance`): all capabilities, `-N` maxconn,
    /// `retries 3`.
    pub fn defaults(default_maxconn: u32, span: Span) -> Px {
        let mut d = Px::new("", ProxyKind::Listen, Cap::LISTEN, span);
        d.is_defaults = true;
        d.ir.maxconn = Some(Spanned::new(Span::builtin(), default_maxconn));
        d.ir.retries = Some(Spanned::new(Span::builtin(), 3));
        d
    }

    pub fn type_str(&self) -> &'static str {
        self.cap.type_str()
    }

    pub fn name(&self) -> &str {
        &self.ir.name
    }
}

/// An IR proxy with nothing configured.
pub fn blank_proxy(name: &str, kind: ProxyKind, span: Span) -> Proxy {
    Proxy {
        span: span.clone(),
        name: name.to_string(),
        kind,
        id: None,
        disabled: None,
        description: None,
        mode: Spanned::new(Span::builtin(), Mode::Tcp),
        binds: Vec::new(),
        maxconn: None,
        backlog: None,
        fullconn: None,
        rate_limit_sessions: None,
        timeouts: Timeouts::default(),
        retries: None,
        grace: None,
        bind_process: None,
        options: Options::default(),
        log_format: Spanned::new(Span::builtin(), LogFormat::Connect),
        logs: Vec::new(),
        balance: Spanned::new(Span::builtin(), Balance::RoundRobin),
        hash_type: Spanned::new(Span::builtin(), HashType::MapBased),
        cookie: None,
        appsession: None,
        persist_rdp_cookie: None,
        force_persist: Vec::new(),
        ignore_persist: Vec::new(),
        stick_table: None,
        stick_rules: Vec::new(),
        acls: Vec::new(),
        blocks: Vec::new(),
        http_request: Vec::new(),
        tcp_inspect_delay: None,
        tcp_request: Vec::new(),
        req_filters: Vec::new(),
        rsp_filters: Vec::new(),
        reqadd: Vec::new(),
        rspadd: Vec::new(),
        redirects: Vec::new(),
        use_backends: Vec::new(),
        default_backend: None,
        servers: Vec::new(),
        dispatch: None,
        source: None,
        errors: Vec::new(),
        capture_cookie: None,
        capture_request_headers: Vec::new(),
        capture_response_headers: Vec::new(),
        monitor_uri: None,
        monitor_net: Vec::new(),
        monitor_fail: Vec::new(),
        stats: None,
        check: Spanned::new(Span::builtin(), CheckKind::Tcp),
        http_check: HttpCheck::default(),
        http_send_name_header: None,
    }
}

/// What a proxy inherits from the balance settings of `defaults`: the algorithm always,
/// its parameters only partly (1.4 copies the URL parameter name, header name and domain
/// flag, but neither `balance uri` options nor the `check_post` limit).
fn inherit_balance(b: &Balance, be: bool) -> Balance {
    match b {
        Balance::Uri { .. } => Balance::Uri {
            len: None,
            depth: None,
            whole: false,
        },
        Balance::UrlParam { name, .. } => Balance::UrlParam {
            name: if be { name.clone() } else { String::new() },
            check_post: None,
        },
        Balance::Hdr {
            name,
            use_domain_only,
        } => Balance::Hdr {
            name: if be { name.clone() } else { String::new() },
            use_domain_only: *use_domain_only,
        },
        Balance::RdpCookie { name } => Balance::RdpCookie {
            name: if be { name.clone() } else { String::new() },
        },
        other => other.clone(),
    }
}

/// Copies the `defaults` values into a proxy whose header was just read (1.4
/// `cfg_parse_listen`, "set default values").
pub fn inherit(px: &mut Px, d: &Px) {
    let fe = px.cap.has(Cap::FE);
    let be = px.cap.has(Cap::BE);
    let (p, dp) = (&mut px.ir, &d.ir);

    // to every proxy
    px.defsrv = d.defsrv.clone();
    p.disabled = dp.disabled.clone();
    p.options = dp.options.clone();
    px.no_smart_accept = d.no_smart_accept;
    p.bind_process = dp.bind_process.clone();
    p.balance = Spanned::new(dp.balance.span.clone(), inherit_balance(&dp.balance, be));
    p.hash_type = dp.hash_type.clone();
    px.algo_set = d.algo_set;
    px.ff_except = d.ff_except;
    px.ot_except = d.ot_except;
    p.http_send_name_header = dp.http_send_name_header.clone();
    p.mode = dp.mode.clone();
    p.logs = dp.logs.clone();
    p.grace = dp.grace.clone();
    // check type and http-check flags live in the option bits 1.4 copies everywhere
    p.check = dp.check.clone();
    p.http_check = dp.http_check.clone();

    if fe {
        p.maxconn = dp.maxconn.clone();
        p.backlog = dp.backlog.clone();
        p.rate_limit_sessions = dp.rate_limit_sessions.clone();
        p.errors = dp.errors.clone();
        px.log_http = d.log_http;
        px.log_any = d.log_any;
        px.log_clf = d.log_clf;
        p.log_format = dp.log_format.clone();
        p.timeouts.client = dp.timeouts.client.clone();
        p.timeouts.tarpit = dp.timeouts.tarpit.clone();
        p.timeouts.http_request = dp.timeouts.http_request.clone();
        p.timeouts.http_keep_alive = dp.timeouts.http_keep_alive.clone();
        p.stats = dp.stats.clone();
        px.stats_inherited = dp.stats.is_some();
        p.monitor_net = dp.monitor_net.clone();
        p.monitor_uri = dp.monitor_uri.clone();
        p.default_backend = dp.default_backend.clone();
    }
    if be {
        p.fullconn = dp.fullconn.clone();
        p.retries = dp.retries.clone();
        p.cookie = dp.cookie.clone();
        p.persist_rdp_cookie = dp.persist_rdp_cookie.clone();
        p.source = dp.source.clone();
        p.timeouts.connect = dp.timeouts.connect.clone();
        p.timeouts.server = dp.timeouts.server.clone();
        p.timeouts.check = dp.timeouts.check.clone();
        p.timeouts.queue = dp.timeouts.queue.clone();
        p.timeouts.tarpit = dp.timeouts.tarpit.clone();
        p.timeouts.http_request = dp.timeouts.http_request.clone();
        p.timeouts.http_keep_alive = dp.timeouts.http_keep_alive.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn sp(line: u32) -> Span {
        Span::new(Arc::from("t.cfg"), line)
    }

    #[test]
    fn capability_words() {
        assert_eq!(Cap::FE.or(Cap::RS).type_str(), "frontend");
        assert_eq!(Cap::BE.or(Cap::RS).type_str(), "backend");
        assert_eq!(Cap::LISTEN.type_str(), "proxy");
        assert_eq!(Cap::RS.type_str(), "ruleset");
    }

    #[test]
    fn defaults_go_by_capability() {
        let mut d = Px::defaults(2000, sp(1));
        d.ir.timeouts.client = Some(Spanned::new(sp(2), 30000));
        d.ir.timeouts.connect = Some(Spanned::new(sp(3), 5000));
        d.ir.options.redispatch = Some(sp(4));
        d.ir.cookie = Some(Spanned::new(
            sp(5),
            CookiePersist {
                name: "SRV".into(),
                mode: CookieMode::Insert,
                indirect: false,
                nocache: false,
                postonly: false,
                preserve: false,
                httponly: false,
                secure: false,
                domains: vec![],
                maxidle: None,
                maxlife: None,
            },
        ));
        d.ir.mode = Spanned::new(sp(6), Mode::Http);

        let mut fe = Px::new("fe", ProxyKind::Frontend, Cap::FE.or(Cap::RS), sp(10));
        inherit(&mut fe, &d);
        assert_eq!(fe.ir.timeouts.client.as_deref(), Some(&30000));
        assert!(fe.ir.timeouts.connect.is_none(), "connect is backend-only");
        assert!(fe.ir.cookie.is_none(), "cookie is backend-only");
        assert!(fe.ir.options.redispatch.is_some(), "options go to everyone");
        assert_eq!(fe.ir.maxconn.as_deref(), Some(&2000));
        assert_eq!(*fe.ir.mode, Mode::Http);
        assert!(fe.ir.retries.is_none());

        let mut be = Px::new("be", ProxyKind::Backend, Cap::BE.or(Cap::RS), sp(20));
        inherit(&mut be, &d);
        assert!(be.ir.timeouts.client.is_none(), "client is frontend-only");
        assert_eq!(be.ir.timeouts.connect.as_deref(), Some(&5000));
        assert_eq!(
            be.ir.timeouts.connect.as_ref().map(|t| t.span.line),
            Some(3)
        );
        assert!(be.ir.cookie.is_some());
        assert!(be.ir.maxconn.is_none(), "maxconn is frontend-only");
        assert_eq!(be.ir.retries.as_deref(), Some(&3));

        let mut li = Px::new("li", ProxyKind::Listen, Cap::LISTEN, sp(30));
        inherit(&mut li, &d);
        assert!(li.ir.timeouts.client.is_some() && li.ir.timeouts.connect.is_some());
    }

    #[test]
    fn balance_parameters_are_partly_inherited() {
        let b = Balance::Uri {
            len: Some(10),
            depth: Some(2),
            whole: true,
        };
        assert_eq!(
            inherit_balance(&b, true),
            Balance::Uri {
                len: None,
                depth: None,
                whole: false
            }
        );
        let b = Balance::UrlParam {
            name: "id".into(),
            check_post: Some(48),
        };
        assert_eq!(
            inherit_balance(&b, true),
            Balance::UrlParam {
                name: "id".into(),
                check_post: None
            }
        );
        let b = Balance::Hdr {
            name: "host".into(),
            use_domain_only: true,
        };
        assert_eq!(inherit_balance(&b, true), b);
    }
}
