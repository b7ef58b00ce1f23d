//! `option X`, `no option X`, `default option X` and `http-check` (compare with 1.4
//! `cfg_opts[]`, `cfg_opts2[]` and the `option`/`http-check` branches of
//! `cfg_parse_listen` in `src/cfgparse.c`).
//!
//! Boolean options are one table row each (name, capability 1.4 requires, whether they
//! need HTTP mode, IR field). `no option X` clears a flag inherited from `defaults` and
//! `default option X` restores the built-in (off) state; options with arguments refuse
//! both prefixes, as 1.4 does.

use super::regex::{compile, RegexError};
use super::{KeywordInfo, Kwm, Ln, Parser, Sections};
use crate::ir::*;
use crate::section::{Cap, Px};
use crate::span::Spanned;
use crate::value::{lossy, str2net};

type FlagFn = fn(&mut Options) -> Option<&mut Flag>;

/// A boolean option.
pub struct BoolOpt {
    pub name: &'static str,
    /// `option <name>`, for the documentation.
    pub kw: &'static str,
    /// Capability 1.4 requires (`Cap::NONE` = never accepted: `keepalive`).
    pub cap: Cap,
    /// Ignored with a warning outside `mode http`.
    pub http: bool,
    pub sections: &'static str,
    field: FlagFn,
    pub doc: &'static str,
}

macro_rules! b {
    ($name:expr, $cap:expr, $http:expr, $sec:expr, $f:ident, $doc:expr) => {
        BoolOpt {
            name: $name,
            kw: concat!("option ", $name),
            cap: $cap,
            http: $http,
            sections: $sec,
            field: |o| Some(&mut o.$f),
            doc: $doc,
        }
    };
}

const FE: Cap = Cap::FE;
const BE: Cap = Cap::BE;
const FB: Cap = Cap(3);

/// 1.4 `cfg_opts[]` then `cfg_opts2[]`, in their order (which is the order of the
/// "ignored ... as it requires HTTP mode" warnings).
pub static BOOL_OPTS: &[BoolOpt] = &[
    b!(
        "abortonclose",
        BE,
        false,
        "DLB",
        abortonclose,
        "drop queued or connecting requests whose client closed"
    ),
    b!(
        "allbackups",
        BE,
        false,
        "DLB",
        allbackups,
        "use all backup servers instead of the first"
    ),
    b!(
        "checkcache",
        BE,
        true,
        "DLB",
        checkcache,
        "block cacheable responses carrying Set-Cookie"
    ),
    b!(
        "clitcpka",
        FE,
        false,
        "DFL",
        clitcpka,
        "TCP keep-alive on the client side"
    ),
    b!(
        "contstats",
        FE,
        false,
        "DFL",
        contstats,
        "update byte counters continuously"
    ),
    b!(
        "dontlognull",
        FE,
        false,
        "DFL",
        dontlognull,
        "do not log sessions without data"
    ),
    b!(
        "forceclose",
        FB,
        true,
        "DFLB",
        forceclose,
        "close the server side after the response"
    ),
    b!(
        "http_proxy",
        FB,
        true,
        "DFLB",
        http_proxy,
        "forward to the address found in absolute URIs"
    ),
    b!(
        "httpclose",
        FB,
        true,
        "DFLB",
        httpclose,
        "add 'Connection: close' both ways"
    ),
    BoolOpt {
        name: "keepalive",
        kw: "option keepalive",
        cap: Cap::NONE,
        http: true,
        sections: "DFLB",
        field: |_| None,
        doc: "undocumented; 1.4 accepts the word but always ignores it with a warning",
    },
    b!(
        "http-server-close",
        FB,
        true,
        "DFLB",
        http_server_close,
        "keep-alive on the client side, close on the server side"
    ),
    b!(
        "logasap",
        FE,
        false,
        "DFL",
        logasap,
        "log as soon as response headers arrive"
    ),
    b!(
        "nolinger",
        FB,
        false,
        "DFLB",
        nolinger,
        "SO_LINGER 0 on close"
    ),
    b!(
        "persist",
        BE,
        false,
        "DLB",
        persist,
        "honour a persistence cookie to a DOWN server"
    ),
    b!(
        "redispatch",
        BE,
        false,
        "DLB",
        redispatch,
        "allow the last retry to go to another server"
    ),
    b!(
        "srvtcpka",
        BE,
        false,
        "DLB",
        srvtcpka,
        "TCP keep-alive on the server side"
    ),
    b!(
        "transparent",
        BE,
        false,
        "DLB",
        transparent,
        "connect to the client's original destination"
    ),
    b!(
        "splice-request",
        FB,
        false,
        "DFLB",
        splice_request,
        "kernel splicing for requests"
    ),
    b!(
        "splice-response",
        FB,
        false,
        "DFLB",
        splice_response,
        "kernel splicing for responses"
    ),
    b!(
        "splice-auto",
        FB,
        false,
        "DFLB",
        splice_auto,
        "automatic kernel splicing"
    ),
    b!(
        "accept-invalid-http-request",
        FE,
        true,
        "DFL",
        accept_invalid_http_request,
        "relax request header-name checks"
    ),
    b!(
        "accept-invalid-http-response",
        BE,
        true,
        "DLB",
        accept_invalid_http_response,
        "relax response header-name checks"
    ),
    b!(
        "dontlog-normal",
        FE,
        false,
        "DFL",
        dontlog_normal,
        "log only sessions with errors"
    ),
    b!(
        "log-separate-errors",
        FE,
        false,
        "DFL",
        log_separate_errors,
        "log errors at level err"
    ),
    b!(
        "log-health-checks",
        BE,
        false,
        "DLB",
        log_health_checks,
        "log health-check results"
    ),
    b!(
        "socket-stats",
        FE,
        false,
        "DFL",
        socket_stats,
        "per-listener statistics"
    ),
    b!(
        "tcp-smart-accept",
        FE,
        false,
        "DFL",
        tcp_smart_accept,
        "delayed ACK on accept (automatic in HTTP mode)"
    ),
    b!(
        "tcp-smart-connect",
        BE,
        false,
        "DLB",
        tcp_smart_connect,
        "send the request with the connect ACK"
    ),
    b!(
        "independant-streams",
        FB,
        false,
        "DFLB",
        independant_streams,
        "read timeouts not refreshed by writes"
    ),
    b!(
        "http-use-proxy-header",
        FE,
        true,
        "DFL",
        http_use_proxy_header,
        "use Proxy-Connection for proxy requests"
    ),
    b!(
        "http-pretend-keepalive",
        FB,
        true,
        "DFLB",
        http_pretend_keepalive,
        "do not announce close to the server"
    ),
    b!(
        "http-no-delay",
        FB,
        true,
        "DFLB",
        http_no_delay,
        "disable send coalescing"
    ),
];

/// Options taking arguments (no `no`/`default` prefix).
pub static ARG_OPTS: &[(&str, &str, &str)] = &[
    ("option httplog", "DFLB", "HTTP log format [clf]"),
    ("option tcplog", "DFLB", "TCP log format"),
    ("option tcpka", "DFLB", "TCP keep-alive on both sides"),
    (
        "option httpchk",
        "DLB",
        "HTTP health checks [<method>] [<uri>] [<version>]",
    ),
    (
        "option ssl-hello-chk",
        "DLB",
        "SSLv3 client-hello health checks",
    ),
    (
        "option smtpchk",
        "DLB",
        "SMTP health checks [HELO|EHLO <domain>]",
    ),
    (
        "option mysql-check",
        "DLB",
        "MySQL handshake health checks [user <name>]",
    ),
    ("option ldap-check", "DLB", "LDAPv3 bind health checks"),
    (
        "option forwardfor",
        "DFLB",
        "add X-Forwarded-For [except <net>] [header <name>] [if-none]",
    ),
    (
        "option originalto",
        "DFLB",
        "add X-Original-To [except <net>] [header <name>]",
    ),
];

/// The options as documentation rows (`option <name>`).
pub fn info() -> impl Iterator<Item = KeywordInfo> {
    BOOL_OPTS
        .iter()
        .map(|o| KeywordInfo {
            name: o.kw,
            sections: Sections::of(o.sections),
            doc: o.doc,
        })
        .chain(ARG_OPTS.iter().map(|(n, s, d)| KeywordInfo {
            name: n,
            sections: Sections::of(s),
            doc: d,
        }))
}

/// Looks up a boolean option by name.
pub fn bool_opt(name: &[u8]) -> Option<&'static BoolOpt> {
    BOOL_OPTS.iter().find(|o| o.name.as_bytes() == name)
}

/// Reads an option flag (for checks outside this module).
pub fn flag_of(o: &BoolOpt, opts: &mut Options) -> Option<Flag> {
    (o.field)(opts).map(|f| f.clone())
}

/// Clears an option flag.
pub fn clear_flag(o: &BoolOpt, opts: &mut Options) {
    if let Some(f) = (o.field)(opts) {
        *f = None;
    }
}

/// `option <name> [args]`.
pub fn option(p: &mut Parser, px: &mut Px, l: &Ln) {
    if !l.has(1) {
        p.d.alert_t(&l.span, format!("'{}' expects an option name.", l.s(0)));
        return;
    }
    if let Some(o) = bool_opt(l.a(1)) {
        let name = l.s(1).into_owned();
        if p.warnifnotcap(px, o.cap, &l.span, &name, None) {
            return;
        }
        if o.name == "tcp-smart-accept" {
            px.no_smart_accept = l.kwm == Kwm::No;
        }
        if let Some(f) = (o.field)(&mut px.ir.options) {
            *f = match l.kwm {
                Kwm::Std => Some(l.span.clone()),
                Kwm::No | Kwm::Def => None,
            };
        }
        return;
    }
    if l.kwm != Kwm::Std {
        p.d.alert_t(
            &l.span,
            format!("negation/default is not supported for option '{}'.", l.s(1)),
        );
        return;
    }
    match l.a(1) {
        b"httplog" => {
            px.log_any = true;
            px.log_http = true;
            px.log_clf = false;
            if l.has(2) {
                if l.is(2, "clf") {
                    px.log_clf = true;
                } else {
                    p.d.alert(
                        &l.span,
                        format!("keyword '{}' only supports option 'clf'.", l.s(2)),
                    );
                    return;
                }
            }
            px.ir.log_format.span = l.span.clone();
        }
        b"tcplog" => {
            px.log_any = true;
            px.ir.log_format.span = l.span.clone();
        }
        b"tcpka" => {
            p.warnifnotcap(px, Cap(3), &l.span, "tcpka", None);
            if px.cap.has(Cap::FE) {
                px.ir.options.clitcpka = Some(l.span.clone());
            }
            if px.cap.has(Cap::BE) {
                px.ir.options.srvtcpka = Some(l.span.clone());
            }
            px.ir.options.tcpka = Some(l.span.clone());
        }
        b"httpchk" => {
            p.warnifnotcap(px, Cap::BE, &l.span, "httpchk", None);
            let kind = if !l.has(2) {
                CheckKind::Http {
                    method: "OPTIONS".into(),
                    uri: "/".into(),
                    version: "HTTP/1.0".into(),
                }
            } else if !l.has(3) {
                CheckKind::Http {
                    method: "OPTIONS".into(),
                    uri: l.s(2).into_owned(),
                    version: "HTTP/1.0".into(),
                }
            } else {
                CheckKind::Http {
                    method: l.s(2).into_owned(),
                    uri: l.s(3).into_owned(),
                    version: if l.has(4) {
                        l.s(4).into_owned()
                    } else {
                        "HTTP/1.0".into()
                    },
                }
            };
            px.ir.check = Spanned::new(l.span.clone(), kind);
        }
        b"ssl-hello-chk" => {
            p.warnifnotcap(px, Cap::BE, &l.span, "ssl-hello-chk", None);
            px.ir.check = Spanned::new(l.span.clone(), CheckKind::SslHello);
        }
        b"smtpchk" => {
            let kind = if l.has(2) && l.has(3) && (l.is(2, "EHLO") || l.is(2, "HELO")) {
                CheckKind::Smtp {
                    verb: l.s(2).into_owned(),
                    domain: l.s(3).into_owned(),
                }
            } else {
                CheckKind::Smtp {
                    verb: "HELO".into(),
                    domain: "localhost".into(),
                }
            };
            px.ir.check = Spanned::new(l.span.clone(), kind);
        }
        b"mysql-check" => {
            p.warnifnotcap(px, Cap::BE, &l.span, "mysql-check", None);
            px.ir.check = Spanned::new(l.span.clone(), CheckKind::Mysql { user: None });
            let mut i = 2;
            while l.has(i) {
                if l.is(i, "user") {
                    if !l.has(i + 1) {
                        p.d.alert(
                            &l.span,
                            format!(
                                "'{} {} {}' expects <username> as argument.",
                                l.s(0),
                                l.s(1),
                                l.s(i)
                            ),
                        );
                        return;
                    }
                    px.ir.check = Spanned::new(
                        l.span.clone(),
                        CheckKind::Mysql {
                            user: Some(l.s(i + 1).into_owned()),
                        },
                    );
                    i += 2;
                } else {
                    p.d.alert(
                        &l.span,
                        format!(
                            "'{} {}' only supports optional values: 'user'.",
                            l.s(0),
                            l.s(1)
                        ),
                    );
                    return;
                }
            }
        }
        b"ldap-check" => {
            px.ir.check = Spanned::new(l.span.clone(), CheckKind::Ldap);
        }
        b"forwardfor" => forwardfor(p, px, l),
        b"originalto" => originalto(p, px, l),
        _ => p.d.alert(&l.span, format!("unknown option '{}'.", l.s(1))),
    }
}

fn except_net(p: &mut Parser, l: &Ln, i: usize) -> Option<IpNet> {
    let net = if l.has(i + 1) {
        str2net(l.a(i + 1), &p.res)
    } else {
        None
    };
    let n = net.and_then(|(ip, mask)| super::proxy::to_ipnet(ip, mask));
    if n.is_none() {
        p.d.alert(
            &l.span,
            format!(
                "'{} {} {}' expects <address>[/mask] as argument.",
                l.s(0),
                l.s(1),
                l.s(i)
            ),
        );
    }
    n
}

fn forwardfor(p: &mut Parser, px: &mut Px, l: &Ln) {
    let mut ff = ForwardFor {
        except: None,
        header: "X-Forwarded-For".into(),
        if_none: false,
    };
    let mut i = 2;
    while l.has(i) {
        match l.a(i) {
            b"except" => {
                let Some(n) = except_net(p, l, i) else {
                    break;
                };
                px.ff_except = Some(n);
                i += 2;
            }
            b"header" => {
                if !l.has(i + 1) {
                    p.d.alert(
                        &l.span,
                        format!(
                            "'{} {} {}' expects <header_name> as argument.",
                            l.s(0),
                            l.s(1),
                            l.s(i)
                        ),
                    );
                    break;
                }
                ff.header = l.s(i + 1).into_owned();
                i += 2;
            }
            b"if-none" => {
                ff.if_none = true;
                i += 1;
            }
            _ => {
                p.d.alert(
                    &l.span,
                    format!(
                        "'{} {}' only supports optional values: 'except', 'header' and 'if-none'.",
                        l.s(0),
                        l.s(1)
                    ),
                );
                break;
            }
        }
    }
    // the except network survives re-declarations (1.4 keeps it in the proxy)
    ff.except = px.ff_except;
    px.ir.options.forwardfor = Some(Spanned::new(l.span.clone(), ff));
}

fn originalto(p: &mut Parser, px: &mut Px, l: &Ln) {
    let mut ot = OriginalTo {
        except: None,
        header: "X-Original-To".into(),
    };
    let mut i = 2;
    while l.has(i) {
        match l.a(i) {
            b"except" => {
                let Some(n) = except_net(p, l, i) else {
                    break;
                };
                px.ot_except = Some(n);
                i += 2;
            }
            b"header" => {
                if !l.has(i + 1) {
                    p.d.alert(
                        &l.span,
                        format!(
                            "'{} {} {}' expects <header_name> as argument.",
                            l.s(0),
                            l.s(1),
                            l.s(i)
                        ),
                    );
                    break;
                }
                ot.header = l.s(i + 1).into_owned();
                i += 2;
            }
            _ => {
                p.d.alert(
                    &l.span,
                    format!(
                        "'{} {}' only supports optional values: 'except' and 'header'.",
                        l.s(0),
                        l.s(1)
                    ),
                );
                break;
            }
        }
    }
    ot.except = px.ot_except;
    px.ir.options.originalto = Some(Spanned::new(l.span.clone(), ot));
}

/// `http-check disable-on-404 | send-state | expect [!] <kind> <pattern>`.
pub fn http_check(p: &mut Parser, px: &mut Px, l: &Ln) {
    p.warnifnotcap(px, Cap::BE, &l.span, "http-check", None);
    if l.is(1, "disable-on-404") {
        px.ir.http_check.disable_on_404 = Some(l.span.clone());
    } else if l.is(1, "send-state") {
        px.ir.http_check.send_state = Some(l.span.clone());
    } else if l.is(1, "expect") {
        if px.ir.http_check.expect.is_some() {
            p.d.alert(
                &l.span,
                format!("'{} {}' already specified.", l.s(0), l.s(1)),
            );
            return;
        }
        let mut negate = false;
        let mut i = 2;
        let mut word: &[u8] = b"";
        while l.has(i) {
            let mut w = l.a(i);
            while w.first() == Some(&b'!') {
                negate = !negate;
                w = &w[1..];
            }
            if !w.is_empty() {
                word = w;
                break;
            }
            i += 1;
        }
        let kw = lossy(word);
        let pat = l.a(i + 1);
        let missing = |p: &mut Parser, what: &str| {
            p.d.alert(
                &l.span,
                format!(
                    "'{} {} {}' expects <{}> as an argument.",
                    l.s(0),
                    l.s(1),
                    kw,
                    what
                ),
            );
        };
        let kind = match word {
            b"status" | b"string" if pat.is_empty() => return missing(p, "string"),
            b"rstatus" | b"rstring" if pat.is_empty() => return missing(p, "regex"),
            b"status" => HttpExpectKind::Status(lossy(pat)),
            b"string" => HttpExpectKind::String(pat.to_vec()),
            b"rstatus" | b"rstring" => {
                let re = match compile(pat, false) {
                    Ok(r) => r,
                    Err(e) => {
                        if e == RegexError::Backref {
                            p.d.alert(
                                &l.span,
                                format!(
                                    "'{} {} {}' : regular expression '{}' uses back-references, which haproxide does not support.",
                                    l.s(0), l.s(1), kw, lossy(pat)
                                ),
                            );
                        } else {
                            p.d.alert(
                                &l.span,
                                format!(
                                    "'{} {} {}' : bad regular expression '{}'.",
                                    l.s(0),
                                    l.s(1),
                                    kw,
                                    lossy(pat)
                                ),
                            );
                        }
                        return;
                    }
                };
                if word == b"rstatus" {
                    HttpExpectKind::RStatus(re)
                } else {
                    HttpExpectKind::RString(re)
                }
            }
            _ => {
                p.d.alert(
                    &l.span,
                    format!(
                        "'{} {}' only supports [!] 'status', 'string', 'rstatus', 'rstring', found '{}'.",
                        l.s(0),
                        l.s(1),
                        kw
                    ),
                );
                return;
            }
        };
        px.ir.http_check.expect = Some(Spanned::new(l.span.clone(), HttpExpect { negate, kind }));
    } else {
        p.d.alert(
            &l.span,
            format!(
                "'{}' only supports 'disable-on-404', 'send-state', 'expect'.",
                l.s(0)
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_table_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for o in BOOL_OPTS {
            assert!(seen.insert(o.name), "{} twice", o.name);
            assert_eq!(o.kw, format!("option {}", o.name));
            assert!(!ARG_OPTS.iter().any(|(n, _, _)| n[7..] == *o.name));
        }
        assert_eq!(bool_opt(b"keepalive").map(|o| o.cap), Some(Cap::NONE));
        assert!(bool_opt(b"httpclose").is_some_and(|o| o.http));
        assert!(bool_opt(b"httplog").is_none(), "takes arguments");
        assert!(bool_opt(b"prefer-last-server").is_none(), "1.5 option");
    }

    #[test]
    fn flags_can_be_read_and_cleared() {
        let mut o = Options::default();
        let hc = bool_opt(b"httpclose").unwrap();
        assert_eq!(flag_of(hc, &mut o), Some(None));
        o.httpclose = Some(crate::span::Span::builtin());
        assert!(flag_of(hc, &mut o).flatten().is_some());
        clear_flag(hc, &mut o);
        assert!(o.httpclose.is_none());
        assert_eq!(flag_of(bool_opt(b"keepalive").unwrap(), &mut o), None);
    }
}
