//! HTTP rules: `http-request`, `tcp-request`, `redirect`, the `req*`/`rsp*` regex filters,
//! `reqadd`/`rspadd`, `errorfile` and `errorloc*` (compare with 1.4 `cfg_parse_listen`
//! and `create_cond_regex_rule` in `src/cfgparse.c`, `parse_auth_cond` in
//! `src/proto_http.c` and `tcp_parse_tcp_req` in `src/proto_tcp.c`).

use super::proxy::{cond_at, not_in_defaults, not_in_defaults_t, warn_after};
use super::regex::{compile, RegexError};
use super::{acl, Ln, Parser};
use crate::ir::*;
use crate::section::{Cap, Px};
use crate::span::Spanned;
use crate::value::{atol, lossy, parse_time, show_char, TimeUnit};

/// Status codes 1.4 lets `errorfile`/`errorloc` replace (`http_err_codes`).
pub const ERR_CODES: [u16; 8] = [200, 400, 403, 408, 500, 502, 503, 504];

/// 1.4 `parse_auth_cond` on the words from `args[first]` (`allow|deny|auth ...`).
/// Prints 1.4's message and returns `None` on error (the caller sets `ERR_ABORT`).
pub fn parse_auth_cond(p: &mut Parser, px: &mut Px, l: &Ln, first: usize) -> Option<HttpReqRule> {
    let a = |i: usize| l.a(first + i);
    let s = |i: usize| l.s(first + i).into_owned();
    let (action, cur) = match a(0) {
        b"allow" => (HttpReqAction::Allow, 1),
        b"deny" => (HttpReqAction::Deny, 1),
        b"auth" => {
            let mut realm = None;
            let mut cur = 1;
            while a(cur) == b"realm" {
                realm = Some(s(cur + 1));
                cur += 2;
            }
            (HttpReqAction::Auth { realm }, cur)
        }
        _ => {
            let (what, word) = if !a(1).is_empty() {
                ("unknown parameter", s(1))
            } else {
                ("missing keyword in", s(0))
            };
            p.d.alert_t(
                &l.span,
                format!("{what} '{word}', expects 'allow', 'deny', 'auth'."),
            );
            return None;
        }
    };
    let mut cond = None;
    if !a(cur).is_empty() {
        if a(cur) != b"if" && a(cur) != b"unless" {
            p.d.alert_t(
                &l.span,
                format!(
                    "'{}' expects 'realm' for 'auth' or either 'if' or 'unless' followed by a condition but found '{}'.",
                    s(0),
                    s(cur)
                ),
            );
            return None;
        }
        match cond_at(p, px, l, first + cur) {
            Some(c) => cond = Some(c),
            None => {
                p.d.alert_t(&l.span, "error detected while parsing 'req' condition.");
                return None;
            }
        }
    }
    Some(HttpReqRule { action, cond })
}

pub fn http_request(p: &mut Parser, px: &mut Px, l: &Ln) {
    if not_in_defaults_t(p, px, l) {
        return;
    }
    if px.ir.http_request.last().is_some_and(|r| r.cond.is_none()) {
        p.d.warn_t(
            &l.span,
            format!(
                "previous '{}' action has no condition attached, further entries are NOOP.",
                l.s(0)
            ),
        );
    }
    let Some(rule) = parse_auth_cond(p, px, l, 1) else {
        p.d.set_abort();
        return;
    };
    acl::warnif_requires_resp(p, px, rule.cond.as_ref(), &l.span);
    px.ir.http_request.push(Spanned::new(l.span.clone(), rule));
}

/// `tcp-request inspect-delay <time>` and `tcp-request content accept|reject [cond]`.
pub fn tcp_request(p: &mut Parser, px: &mut Px, l: &Ln) {
    let ty = px.type_str();
    let id = px.name().to_string();
    if !l.has(1) {
        p.d.alert(
            &l.span,
            format!("missing argument for '{}' in {} '{}'", l.s(0), ty, id),
        );
        return;
    }
    if l.is(1, "inspect-delay") {
        if px.is_defaults {
            p.d.alert(
                &l.span,
                format!(
                    "{} {} is not allowed in 'defaults' sections",
                    l.s(0),
                    l.s(1)
                ),
            );
            return;
        }
        if !px.cap.has(Cap::FE) {
            p.d.warn(
                &l.span,
                format!(
                    "{} {} will be ignored because {} '{}' has no frontend capability",
                    l.s(0),
                    l.s(1),
                    ty,
                    id
                ),
            );
            return;
        }
        let t = if l.has(2) {
            parse_time(l.a(2), TimeUnit::Ms)
        } else {
            Err(0)
        };
        let v = match t {
            Ok(v) => v,
            Err(c) => {
                let mut msg = format!(
                    "'{} {}' expects a positive delay in milliseconds, in {} '{}'",
                    l.s(0),
                    l.s(1),
                    ty,
                    id
                );
                if c != 0 {
                    msg.push_str(&format!(" (unexpected character '{}')", show_char(c)));
                }
                p.d.alert(&l.span, msg);
                return;
            }
        };
        if px.ir.tcp_inspect_delay.is_some() {
            p.d.warn(
                &l.span,
                format!(
                    "ignoring {} {} (was already defined) in {} '{}'",
                    l.s(0),
                    l.s(1),
                    ty,
                    id
                ),
            );
            return;
        }
        px.ir.tcp_inspect_delay = Some(Spanned::new(l.span.clone(), v));
        return;
    }
    if l.is(1, "content") {
        if px.is_defaults {
            p.d.alert(
                &l.span,
                format!(
                    "{} {} is not allowed in 'defaults' sections",
                    l.s(0),
                    l.s(1)
                ),
            );
            return;
        }
        let accept = match l.a(2) {
            b"accept" => true,
            b"reject" => false,
            _ => {
                p.d.alert(
                    &l.span,
                    format!(
                        "'{} {}' expects 'accept' or 'reject', in {} '{}' (was '{}')",
                        l.s(0),
                        l.s(1),
                        ty,
                        id,
                        l.s(2)
                    ),
                );
                return;
            }
        };
        let mut cond = None;
        if l.is(3, "if") || l.is(3, "unless") {
            match cond_at(p, px, l, 3) {
                Some(c) => cond = Some(c),
                None => {
                    p.d.alert(
                        &l.span,
                        format!(
                            "error detected in {} '{}' while parsing '{}' condition",
                            ty,
                            id,
                            l.s(3)
                        ),
                    );
                    return;
                }
            }
        } else if l.has(3) {
            p.d.alert(
                &l.span,
                format!(
                    "'{} {} {}' only accepts 'if' or 'unless', in {} '{}' (was '{}')",
                    l.s(0),
                    l.s(1),
                    l.s(2),
                    ty,
                    id,
                    l.s(3)
                ),
            );
            return;
        }
        if !px.cap.has(Cap::FE) {
            p.d.warn(
                &l.span,
                format!(
                    "{} {} will be ignored because {} '{}' has no frontend capability",
                    l.s(0),
                    l.s(1),
                    ty,
                    id
                ),
            );
            return;
        }
        acl::warnif_requires_resp(p, px, cond.as_ref(), &l.span);
        px.ir
            .tcp_request
            .push(Spanned::new(l.span.clone(), TcpReqRule { accept, cond }));
        return;
    }
    p.d.alert(
        &l.span,
        format!(
            "unknown argument '{}' after '{}' in {} '{}'",
            l.s(1),
            l.s(0),
            ty,
            id
        ),
    );
}

pub fn redirect(p: &mut Parser, px: &mut Px, l: &Ln) {
    if not_in_defaults(p, px, l) {
        return;
    }
    let mut kind = None;
    let mut target = String::new();
    let mut code: u16 = 302;
    let (mut drop_query, mut append_slash) = (false, false);
    let mut cookie = None;
    let mut cond = None;
    let mut i = 1;
    while l.has(i) {
        let w = l.a(i);
        match w {
            b"location" | b"prefix" | b"scheme" | b"set-cookie" | b"clear-cookie" => {
                if !l.has(i + 1) {
                    p.d.alert(
                        &l.span,
                        format!("'{}': missing argument for '{}'.", l.s(0), l.s(i)),
                    );
                    return;
                }
                let v = l.s(i + 1).into_owned();
                match w {
                    b"location" => {
                        kind = Some(RedirectKind::Location);
                        target = v;
                    }
                    b"prefix" => {
                        kind = Some(RedirectKind::Prefix);
                        target = v;
                    }
                    b"scheme" => {
                        kind = Some(RedirectKind::Scheme);
                        target = v;
                    }
                    b"set-cookie" => cookie = Some(RedirectCookie::Set(v)),
                    _ => cookie = Some(RedirectCookie::Clear(v)),
                }
                i += 1;
            }
            b"code" => {
                if !l.has(i + 1) {
                    p.d.alert(&l.span, format!("'{}': missing HTTP code.", l.s(0)));
                    return;
                }
                i += 1;
                let c = atol(l.a(i)) as i32;
                if !(301..=308).contains(&c) || (c > 303 && c < 307) {
                    p.d.alert(
                        &l.span,
                        format!(
                            "'{}': unsupported HTTP code '{}' (must be one of 301, 302, 303, 307 or 308).",
                            l.s(0),
                            l.s(i)
                        ),
                    );
                    return;
                }
                code = c as u16;
            }
            b"drop-query" => drop_query = true,
            b"append-slash" => append_slash = true,
            b"if" | b"unless" => {
                match cond_at(p, px, l, i) {
                    Some(c) => cond = Some(c),
                    None => {
                        p.d.alert(
                            &l.span,
                            format!(
                                "'{}': error detected while parsing redirect condition.",
                                l.s(0)
                            ),
                        );
                        return;
                    }
                }
                break;
            }
            _ => {
                p.d.alert(
                    &l.span,
                    format!(
                        "'{}' expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query' or 'append-slash' (was '{}').",
                        l.s(0),
                        l.s(i)
                    ),
                );
                return;
            }
        }
        i += 1;
    }
    let Some(kind) = kind else {
        p.d.alert(
            &l.span,
            format!(
                "'{}' expects a redirection type ('prefix' or 'location').",
                l.s(0)
            ),
        );
        return;
    };
    px.ir.redirects.push(Spanned::new(
        l.span.clone(),
        Redirect {
            kind,
            target,
            code,
            drop_query,
            append_slash,
            cookie,
            cond,
        },
    ));
    warn_after(p, px, l, &["use_backend"]);
}

/// 1.4 `check_replace_string` on a `reqrep`/`rsprep` replacement (and the `reqsetbe`
/// backend name, which 1.4 checks the same way). Returns the offending byte.
fn check_replace(p: &mut Parser, s: &[u8]) -> Result<(), u8> {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' {
            match s.get(i + 1) {
                None => return Err(b'\\'),
                Some(c) if c.is_ascii_digit() => i += 1,
                Some(b'x') => {
                    let ok = s.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
                        && s.get(i + 3).is_some_and(|c| c.is_ascii_hexdigit());
                    if !ok {
                        return Err(b'\\');
                    }
                    i += 3;
                }
                Some(c) => {
                    p.d.bare_warn(format!(
                        "'\\{}' : deprecated use of a backslash before something not '\\','x' or a digit.",
                        show_char(*c)
                    ));
                    i += 1;
                }
            }
        }
        i += 1;
    }
    Ok(())
}

/// 1.4 `create_cond_regex_rule`.
fn regex_rule(
    p: &mut Parser,
    px: &mut Px,
    l: &Ln,
    req: bool,
    action: FilterAction,
    icase: bool,
    cond_at_idx: usize,
) {
    if px.is_defaults {
        p.d.alert(
            &l.span,
            format!("'{}' not allowed in 'defaults' section.", l.s(0)),
        );
        return;
    }
    if !l.has(1) {
        p.d.alert(
            &l.span,
            format!("'{}' expects <regex> as an argument.", l.s(0)),
        );
        return;
    }
    let mut cond = None;
    if l.is(cond_at_idx, "if") || l.is(cond_at_idx, "unless") {
        match cond_at(p, px, l, cond_at_idx) {
            Some(c) => cond = Some(c),
            None => {
                p.d.alert(
                    &l.span,
                    format!("error detected while parsing a '{}' condition.", l.s(0)),
                );
                return;
            }
        }
    } else if l.has(cond_at_idx) {
        p.d.alert(
            &l.span,
            format!(
                "'{}' : Expecting nothing, 'if', or 'unless', got '{}'.",
                l.s(0),
                l.s(cond_at_idx)
            ),
        );
        return;
    }
    if req {
        acl::warnif_requires_resp(p, px, cond.as_ref(), &l.span);
    } else {
        acl::warnif_requires_req(p, px, cond.as_ref(), &l.span);
    }
    let regex = match compile(l.a(1), icase) {
        Ok(r) => r,
        Err(RegexError::Backref) => {
            p.d.alert(
                &l.span,
                format!(
                    "'{}' : regular expression '{}' uses back-references, which haproxide does not support.",
                    l.s(0),
                    l.s(1)
                ),
            );
            return;
        }
        Err(RegexError::Invalid(_)) => {
            p.d.alert(
                &l.span,
                format!("'{}' : bad regular expression '{}'.", l.s(0), l.s(1)),
            );
            return;
        }
    };
    let repl = match &action {
        FilterAction::Replace(r) => Some(r.clone()),
        FilterAction::SetBackend(b) => Some(b.as_bytes().to_vec()),
        _ => None,
    };
    if let Some(r) = repl {
        if let Err(c) = check_replace(p, &r) {
            p.d.alert(
                &l.span,
                format!(
                    "'{}' : invalid character or unterminated sequence in replacement string near '{}'.",
                    l.s(0),
                    show_char(c)
                ),
            );
            return;
        }
    }
    let rule = Spanned::new(
        l.span.clone(),
        HeaderFilter {
            regex,
            icase,
            action,
            cond,
        },
    );
    if req {
        px.ir.req_filters.push(rule);
        warn_after(p, px, l, &["reqadd", "redirect", "use_backend"]);
    } else {
        px.ir.rsp_filters.push(rule);
    }
}

fn simple_action(word: &[u8]) -> (FilterAction, bool) {
    let icase = word.len() > 3 && word[3] == b'i';
    let verb = if icase { &word[4..] } else { &word[3..] };
    let a = match verb {
        b"del" => FilterAction::Delete,
        b"deny" => FilterAction::Deny,
        b"pass" => FilterAction::Pass,
        b"allow" => FilterAction::Allow,
        _ => FilterAction::Tarpit,
    };
    (a, icase)
}

/// `reqdel reqdeny reqpass reqallow reqtarpit` and their `reqi*` forms.
pub fn req_simple(p: &mut Parser, px: &mut Px, l: &Ln) {
    let (a, icase) = simple_action(l.a(0));
    regex_rule(p, px, l, true, a, icase, 2);
}

/// `rspdel rspdeny` and their `rspi*` forms.
pub fn rsp_simple(p: &mut Parser, px: &mut Px, l: &Ln) {
    let (a, icase) = simple_action(l.a(0));
    regex_rule(p, px, l, false, a, icase, 2);
}

fn expects_search_replace(p: &mut Parser, l: &Ln) -> bool {
    if !l.has(2) {
        p.d.alert(
            &l.span,
            format!("'{}' expects <search> and <replace> as arguments.", l.s(0)),
        );
        return false;
    }
    true
}

/// `reqrep`, `reqirep` and `cliexp`.
pub fn reqrep(p: &mut Parser, px: &mut Px, l: &Ln) {
    if !expects_search_replace(p, l) {
        return;
    }
    let icase = l.is(0, "reqirep");
    regex_rule(
        p,
        px,
        l,
        true,
        FilterAction::Replace(l.a(2).to_vec()),
        icase,
        3,
    );
}

/// `rsprep`, `rspirep` and `srvexp`.
pub fn rsprep(p: &mut Parser, px: &mut Px, l: &Ln) {
    if !expects_search_replace(p, l) {
        return;
    }
    let icase = l.is(0, "rspirep");
    regex_rule(
        p,
        px,
        l,
        false,
        FilterAction::Replace(l.a(2).to_vec()),
        icase,
        3,
    );
}

/// `reqsetbe` and `reqisetbe`.
pub fn reqsetbe(p: &mut Parser, px: &mut Px, l: &Ln) {
    let icase = l.is(0, "reqisetbe");
    let be = l.s(2).into_owned();
    regex_rule(p, px, l, true, FilterAction::SetBackend(be), icase, 3);
}

fn add_line(p: &mut Parser, px: &mut Px, l: &Ln, req: bool) {
    if not_in_defaults(p, px, l) {
        return;
    }
    let name = l.s(0).into_owned();
    p.warnifnotcap(px, Cap::RS, &l.span, &name, None);
    if !l.has(1) {
        p.d.alert(
            &l.span,
            format!("'{name}' expects <header> as an argument."),
        );
        return;
    }
    let mut cond = None;
    if l.is(2, "if") || l.is(2, "unless") {
        match cond_at(p, px, l, 2) {
            Some(c) => cond = Some(c),
            None => {
                p.d.alert(
                    &l.span,
                    format!("error detected while parsing a '{name}' condition."),
                );
                return;
            }
        }
        if req {
            acl::warnif_requires_resp(p, px, cond.as_ref(), &l.span);
        } else {
            acl::warnif_requires_req(p, px, cond.as_ref(), &l.span);
        }
    } else if l.has(2) {
        p.d.alert(
            &l.span,
            format!(
                "'{}' : Expecting nothing, 'if', or 'unless', got '{}'.",
                name,
                l.s(2)
            ),
        );
        return;
    }
    let h = Spanned::new(
        l.span.clone(),
        HeaderAdd {
            line: l.a(1).to_vec(),
            cond,
        },
    );
    if req {
        px.ir.reqadd.push(h);
        warn_after(p, px, l, &["redirect", "use_backend"]);
    } else {
        px.ir.rspadd.push(h);
    }
}

pub fn reqadd(p: &mut Parser, px: &mut Px, l: &Ln) {
    add_line(p, px, l, true);
}

pub fn rspadd(p: &mut Parser, px: &mut Px, l: &Ln) {
    add_line(p, px, l, false);
}

fn set_error(px: &mut Px, status: u16, body: ErrorBody, l: &Ln) {
    px.ir.errors.retain(|e| e.status != status);
    px.ir
        .errors
        .push(Spanned::new(l.span.clone(), ErrorMessage { status, body }));
}

/// `errorloc`, `errorloc302`, `errorloc303`.
pub fn errorloc(p: &mut Parser, px: &mut Px, l: &Ln) {
    let name = l.s(0).into_owned();
    p.warnifnotcap(px, Cap(3), &l.span, &name, None);
    if !l.has(2) {
        p.d.alert(
            &l.span,
            format!("<{name}> expects <status_code> and <url> as arguments."),
        );
        return;
    }
    let errnum = atol(l.a(1)) as i32;
    let code = if name == "errorloc303" { 303 } else { 302 };
    match ERR_CODES.iter().find(|c| i32::from(**c) == errnum) {
        Some(&status) => set_error(
            px,
            status,
            ErrorBody::Location {
                code,
                url: l.s(2).into_owned(),
            },
            l,
        ),
        None => p.d.warn(
            &l.span,
            format!("status code {errnum} not handled, error relocation will be ignored."),
        ),
    }
}

/// `errorfile <code> <file>`: the file is read now (relative to the base directory).
pub fn errorfile(p: &mut Parser, px: &mut Px, l: &Ln) {
    p.warnifnotcap(px, Cap(3), &l.span, "errorfile", None);
    if !l.has(2) {
        p.d.alert(
            &l.span,
            format!(
                "<{}> expects <status_code> and <file> as arguments.",
                l.s(0)
            ),
        );
        return;
    }
    let path = p.path(l.a(2));
    let mut bytes = match std::fs::read(&path) {
        Ok(b) if !path.is_dir() => b,
        _ => {
            p.d.alert(
                &l.span,
                format!(
                    "error opening file <{}> for custom error message <{}>.",
                    l.s(2),
                    l.s(1)
                ),
            );
            return;
        }
    };
    let limit = p.g.bufsize as usize;
    if bytes.len() > limit {
        p.d.warn(
            &l.span,
            format!(
                "custom error message file <{}> larger than {} bytes. Truncating.",
                l.s(2),
                limit
            ),
        );
        bytes.truncate(limit);
    }
    let errnum = atol(l.a(1)) as i32;
    match ERR_CODES.iter().find(|c| i32::from(**c) == errnum) {
        Some(&status) => set_error(
            px,
            status,
            ErrorBody::File {
                path: std::path::PathBuf::from(lossy(l.a(2))),
                bytes,
            },
            l,
        ),
        None => p.d.warn(
            &l.span,
            format!("status code {errnum} not handled, error customization will be ignored."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_verbs() {
        assert!(matches!(
            simple_action(b"reqdel"),
            (FilterAction::Delete, false)
        ));
        assert!(matches!(
            simple_action(b"reqidel"),
            (FilterAction::Delete, true)
        ));
        assert!(matches!(
            simple_action(b"reqideny"),
            (FilterAction::Deny, true)
        ));
        assert!(matches!(
            simple_action(b"reqpass"),
            (FilterAction::Pass, false)
        ));
        assert!(matches!(
            simple_action(b"reqiallow"),
            (FilterAction::Allow, true)
        ));
        assert!(matches!(
            simple_action(b"reqtarpit"),
            (FilterAction::Tarpit, false)
        ));
        assert!(matches!(
            simple_action(b"rspdeny"),
            (FilterAction::Deny, false)
        ));
        assert!(matches!(
            simple_action(b"rspidel"),
            (FilterAction::Delete, true)
        ));
    }
}
