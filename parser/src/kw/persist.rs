//! Persistence keywords: `cookie`, `appsession`, `persist rdp-cookie`, `force-persist`,
//! `ignore-persist`, `stick-table` and `stick` (compare with the corresponding branches of
//! 1.4 `cfg_parse_listen` in `src/cfgparse.c`, `stktable_parse_type` in
//! `src/stick_table.c` and `pattern_parse_expr` in `src/pattern.c`).
//!
//! 1.4.25 knows four stick pattern fetches (`src`, `dst`, `dst_port`, `hdr(<name>)`), all
//! request-side, so `stick store-response` is always refused, as 1.4 refuses it.

use super::proxy::{cond_at, not_in_defaults};
use super::{acl, Ln, Parser};
use crate::ir::*;
use crate::section::{Cap, Px};
use crate::span::Spanned;
use crate::value::{
    atoi, atol, invalid_domainchar, lossy, mask_to_prefix, parse_size, parse_time, prefix_to_mask,
    show_char, TimeUnit,
};

pub fn cookie(p: &mut Parser, px: &mut Px, l: &Ln) {
    p.warnifnotcap(px, Cap::BE, &l.span, "cookie", None);
    if !l.has(1) {
        p.d.alert(
            &l.span,
            format!("'{}' expects <cookie_name> as argument.", l.s(0)),
        );
        return;
    }
    let mut c = CookiePersist {
        name: l.s(1).into_owned(),
        mode: CookieMode::Passive,
        indirect: false,
        nocache: false,
        postonly: false,
        preserve: false,
        httponly: false,
        secure: false,
        domains: Vec::new(),
        maxidle: None,
        maxlife: None,
    };
    let (mut rw, mut ins, mut pfx) = (false, false, false);
    let mut i = 2;
    let mut failed = false;
    while l.has(i) {
        match l.a(i) {
            b"rewrite" => rw = true,
            b"indirect" => c.indirect = true,
            b"insert" => ins = true,
            b"nocache" => c.nocache = true,
            b"postonly" => c.postonly = true,
            b"preserve" => c.preserve = true,
            b"prefix" => pfx = true,
            b"httponly" => c.httponly = true,
            b"secure" => c.secure = true,
            b"domain" => {
                let d = l.a(i + 1);
                if d.is_empty() {
                    p.d.alert_t(
                        &l.span,
                        format!("'{}' expects <domain> as argument.", l.s(i)),
                    );
                    failed = true;
                    break;
                }
                if d.first() != Some(&b'.') || !d[1..].contains(&b'.') {
                    p.d.warn_t(
                        &l.span,
                        format!(
                            "domain '{}' contains no embedded dots nor does not start with a dot. RFC forbids it, this configuration may not work properly.",
                            lossy(d)
                        ),
                    );
                }
                if let Some(ch) = invalid_domainchar(d) {
                    p.d.alert_t(
                        &l.span,
                        format!(
                            "character '{}' is not permitted in domain name '{}'.",
                            show_char(ch),
                            lossy(d)
                        ),
                    );
                    failed = true;
                    break;
                }
                c.domains.push(lossy(d));
                i += 1;
            }
            w @ (b"maxidle" | b"maxlife") => {
                let what = if w == b"maxidle" {
                    "idletime"
                } else {
                    "lifetime"
                };
                if !l.has(i + 1) {
                    p.d.alert_t(
                        &l.span,
                        format!("'{}' expects <{}> in seconds as argument.", l.s(i), what),
                    );
                    failed = true;
                    break;
                }
                match parse_time(l.a(i + 1), TimeUnit::S) {
                    Ok(v) => {
                        if w == b"maxidle" {
                            c.maxidle = (v != 0).then_some(v);
                        } else {
                            c.maxlife = (v != 0).then_some(v);
                        }
                    }
                    Err(ch) => {
                        p.d.alert_t(
                            &l.span,
                            format!(
                                "unexpected character '{}' in argument to <{}>.",
                                show_char(ch),
                                l.s(i)
                            ),
                        );
                        failed = true;
                        break;
                    }
                }
                i += 1;
            }
            _ => {
                p.d.alert(
                    &l.span,
                    format!(
                        "'{}' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'domain', 'maxidle, and 'maxlife' options.",
                        l.s(0)
                    ),
                );
                failed = true;
                break;
            }
        }
        i += 1;
    }
    c.mode = if rw {
        CookieMode::Rewrite
    } else if ins {
        CookieMode::Insert
    } else if pfx {
        CookieMode::Prefix
    } else {
        CookieMode::Passive
    };
    px.ir.cookie = Some(Spanned::new(l.span.clone(), c.clone()));
    if failed {
        return;
    }
    if rw && c.indirect {
        p.d.alert(
            &l.span,
            "cookie 'rewrite' and 'indirect' modes are incompatible.",
        );
    }
    if u8::from(rw) + u8::from(ins) + u8::from(pfx) > 1 {
        p.d.alert(
            &l.span,
            "cookie 'rewrite', 'insert' and 'prefix' modes are incompatible.",
        );
    }
    if c.preserve && !ins && !c.indirect {
        p.d.alert(
            &l.span,
            "cookie 'preserve' requires at least 'insert' or 'indirect'.",
        );
    }
}

pub fn persist(p: &mut Parser, px: &mut Px, l: &Ln) {
    if !l.has(1) {
        p.d.alert(&l.span, "missing persist method.");
        return;
    }
    let a = l.a(1);
    if !a.starts_with(b"rdp-cookie") {
        p.d.alert(&l.span, "unknown persist method.");
        return;
    }
    let rest = &a[10..];
    let name = match rest.first() {
        None => "msts".to_string(),
        Some(b'(') => match rest[1..].iter().position(|c| *c == b')') {
            Some(e) if e > 0 => lossy(&rest[1..1 + e]),
            _ => {
                p.d.alert(
                    &l.span,
                    "persist rdp-cookie(name)' requires an rdp cookie name.",
                );
                return;
            }
        },
        Some(_) => {
            p.d.alert(
                &l.span,
                "persist rdp-cookie(name)' requires an rdp cookie name.",
            );
            return;
        }
    };
    px.ir.persist_rdp_cookie = Some(Spanned::new(l.span.clone(), name));
}

pub fn appsession(p: &mut Parser, px: &mut Px, l: &Ln) {
    if not_in_defaults(p, px, l) {
        return;
    }
    p.warnifnotcap(px, Cap::BE, &l.span, "appsession", None);
    if !l.has(5) {
        p.d.alert(
            &l.span,
            format!(
                "'{}' expects 'appsession' <cookie_name> 'len' <len> 'timeout' <timeout> [options*].",
                l.s(0)
            ),
        );
        return;
    }
    let timeout = match parse_time(l.a(5), TimeUnit::Ms) {
        Ok(v) => v,
        Err(c) => {
            p.d.alert(
                &l.span,
                format!(
                    "unexpected character '{}' in {} timeout.",
                    show_char(c),
                    l.s(0)
                ),
            );
            return;
        }
    };
    let prev_prefix = px.ir.appsession.as_ref().is_some_and(|a| a.prefix);
    let mut a = AppSession {
        cookie: l.s(1).into_owned(),
        // 1.4 reads the length from the 4th word without checking the 3rd is "len"
        len: atoi(l.a(3)).max(0) as u32,
        timeout,
        request_learn: false,
        prefix: prev_prefix,
        mode: AppSessionMode::PathParameters,
    };
    let mut i = 6;
    while l.has(i) {
        match l.a(i) {
            b"request-learn" => a.request_learn = true,
            b"prefix" => a.prefix = true,
            b"mode" => {
                if !l.has(i + 1) {
                    p.d.alert(
                        &l.span,
                        format!("'{}': missing argument for '{}'.", l.s(0), l.s(i)),
                    );
                    px.ir.appsession = Some(Spanned::new(l.span.clone(), a));
                    return;
                }
                i += 1;
                a.mode = match l.a(i) {
                    b"query-string" => AppSessionMode::QueryString,
                    b"path-parameters" => AppSessionMode::PathParameters,
                    _ => {
                        p.d.alert(&l.span, format!("unknown mode '{}'", l.s(i)));
                        px.ir.appsession = Some(Spanned::new(l.span.clone(), a));
                        return;
                    }
                };
            }
            // 1.4 skips words it does not know
            _ => {}
        }
        i += 1;
    }
    px.ir.appsession = Some(Spanned::new(l.span.clone(), a));
}

pub fn force_ignore_persist(p: &mut Parser, px: &mut Px, l: &Ln) {
    if not_in_defaults(p, px, l) {
        return;
    }
    let name = l.s(0).into_owned();
    p.warnifnotcap(px, Cap(3), &l.span, &name, None);
    if !l.is(1, "if") && !l.is(1, "unless") {
        p.d.alert(
            &l.span,
            format!(
                "'{}' requires either 'if' or 'unless' followed by a condition.",
                name
            ),
        );
        return;
    }
    let Some(cond) = cond_at(p, px, l, 1) else {
        p.d.alert(
            &l.span,
            format!("error detected while parsing a '{name}' rule."),
        );
        return;
    };
    acl::warnif_requires_resp(p, px, Some(&cond), &l.span);
    let r = Spanned::new(l.span.clone(), cond);
    if name == "force-persist" {
        px.ir.force_persist.push(r);
    } else {
        px.ir.ignore_persist.push(r);
    }
}

pub fn stick_table(p: &mut Parser, px: &mut Px, l: &Ln) {
    let prev = px.ir.stick_table.as_ref().map(|t| t.node.clone());
    let mut size: u64 = prev.as_ref().map_or(0, |t| t.size);
    let mut expire = prev.as_ref().and_then(|t| t.expire);
    let mut nopurge = prev.as_ref().is_some_and(|t| t.nopurge);
    let mut key: Option<StickKey> = None;
    let mut i = 1;
    while l.has(i) {
        match l.a(i) {
            b"size" => {
                i += 1;
                if !l.has(i) {
                    p.d.alert(
                        &l.span,
                        format!("stick-table: missing argument after '{}'.", l.s(i - 1)),
                    );
                    return;
                }
                match parse_size(l.a(i)) {
                    Ok(v) => size = u64::from(v),
                    Err(c) => {
                        p.d.alert(
                            &l.span,
                            format!(
                                "stick-table: unexpected character '{}' in argument of '{}'.",
                                show_char(c),
                                l.s(i - 1)
                            ),
                        );
                        return;
                    }
                }
                i += 1;
            }
            b"expire" => {
                i += 1;
                if !l.has(i) {
                    p.d.alert(
                        &l.span,
                        format!("stick-table: missing argument after '{}'.", l.s(i - 1)),
                    );
                    return;
                }
                match parse_time(l.a(i), TimeUnit::Ms) {
                    Ok(v) => expire = Some(v),
                    Err(c) => {
                        p.d.alert(
                            &l.span,
                            format!(
                                "stick-table: unexpected character '{}' in argument of '{}'.",
                                show_char(c),
                                l.s(i - 1)
                            ),
                        );
                        return;
                    }
                }
                i += 1;
            }
            b"nopurge" => {
                nopurge = true;
                i += 1;
            }
            b"type" => {
                i += 1;
                match l.a(i) {
                    b"ip" => {
                        key = Some(StickKey::Ip);
                        i += 1;
                    }
                    b"integer" => {
                        key = Some(StickKey::Integer);
                        i += 1;
                    }
                    b"string" => {
                        i += 1;
                        let mut len = 32u32;
                        if l.is(i, "len") {
                            i += 1;
                            let v = atol(l.a(i));
                            if v == 0 {
                                p.d.alert(
                                    &l.span,
                                    format!("stick-table: unknown type '{}'.", l.s(i)),
                                );
                                return;
                            }
                            len = v as u32;
                            i += 1;
                        }
                        key = Some(StickKey::String { len });
                    }
                    _ => {
                        p.d.alert(&l.span, format!("stick-table: unknown type '{}'.", l.s(i)));
                        return;
                    }
                }
            }
            _ => {
                p.d.alert(
                    &l.span,
                    format!("stick-table: unknown argument '{}'.", l.s(i)),
                );
                return;
            }
        }
    }
    if size == 0 {
        p.d.alert(&l.span, "stick-table: missing size.");
        return;
    }
    let Some(key) = key else {
        p.d.alert(&l.span, "stick-table: missing type.");
        return;
    };
    px.ir.stick_table = Some(Spanned::new(
        l.span.clone(),
        StickTable {
            key,
            size,
            expire,
            nopurge,
        },
    ));
}

/// Output type of a pattern stage (1.4 `PATTERN_TYPE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatType {
    Ip,
    Integer,
    String,
}

/// Whether 1.4 can cast a pattern of type `from` to `to` (`pattern_casts`).
pub fn castable(from: PatType, to: PatType) -> bool {
    !(from == PatType::String && to != PatType::String)
}

/// Output type of a parsed pattern.
pub fn pattern_type(pat: &Pattern) -> PatType {
    let mut t = match pat.fetch {
        PatternFetch::DstPort => PatType::Integer,
        _ => PatType::Ip,
    };
    for c in &pat.converters {
        t = match c {
            Converter::Lower | Converter::Upper => PatType::String,
            Converter::IpMask(_) => PatType::Ip,
        };
    }
    t
}

/// `pattern_parse_expr`: a fetch word, then converter words (`lower`, `upper`,
/// `ipmask(<mask>)`) until a word that is not a converter. Returns the pattern and the
/// index of the first word after it.
pub fn parse_pattern(l: &Ln, mut i: usize) -> Option<(Pattern, usize)> {
    let w = l.a(i);
    let kwend = w.iter().position(|c| *c == b'(').unwrap_or(w.len());
    let fetch = match &w[..kwend] {
        b"src" => PatternFetch::Src,
        b"dst" => PatternFetch::Dst,
        b"dst_port" => PatternFetch::DstPort,
        b"hdr" => {
            let inner = w.get(kwend + 1..)?;
            let close = inner.iter().position(|c| *c == b')')?;
            let arg = &inner[..close];
            let (name, occ) = match arg.iter().position(|c| *c == b',') {
                Some(c) => (&arg[..c], atoi(&arg[c + 1..])),
                None => (arg, -1),
            };
            PatternFetch::Hdr {
                name: lossy(name),
                occ,
            }
        }
        _ => return None,
    };
    i += 1;
    let mut pat = Pattern {
        fetch,
        converters: Vec::new(),
    };
    let mut t = pattern_type(&pat);
    while l.has(i) {
        let w = l.a(i);
        let kwend = w.iter().position(|c| *c == b'(').unwrap_or(w.len());
        let (conv, input) = match &w[..kwend] {
            b"lower" => (Converter::Lower, PatType::String),
            b"upper" => (Converter::Upper, PatType::String),
            b"ipmask" => {
                let inner = w.get(kwend + 1..)?;
                let close = inner.iter().position(|c| *c == b')')?;
                let m = &inner[..close];
                let mask = if m.contains(&b'.') {
                    crate::value::ipv4(m)?
                } else {
                    let n = atol(m);
                    if !(0..=32).contains(&n) || m.is_empty() {
                        return None;
                    }
                    prefix_to_mask(n as u8).into()
                };
                mask_to_prefix(u32::from(mask))?;
                (Converter::IpMask(mask), PatType::Ip)
            }
            _ => break,
        };
        if !castable(t, input) {
            return None;
        }
        pat.converters.push(conv);
        t = pattern_type(&pat);
        i += 1;
    }
    Some((pat, i))
}

pub fn stick(p: &mut Parser, px: &mut Px, l: &Ln) {
    if not_in_defaults(p, px, l) {
        return;
    }
    if p.warnifnotcap(px, Cap::BE, &l.span, "stick", None) {
        return;
    }
    let (kind, response) = match l.a(1) {
        b"store" | b"store-request" => (StickRuleKind::StoreRequest, false),
        b"store-response" => (StickRuleKind::StoreRequest, true),
        b"match" => (StickRuleKind::Match, false),
        b"on" => (StickRuleKind::On, false),
        _ => {
            p.d.alert(
                &l.span,
                format!("'{}' expects 'on', 'match', or 'store'.", l.s(0)),
            );
            return;
        }
    };
    if !l.has(2) {
        p.d.alert(&l.span, format!("'{}' expects a fetch method.", l.s(0)));
        return;
    }
    let Some((pattern, mut i)) = parse_pattern(l, 2) else {
        p.d.alert(
            &l.span,
            format!("'{}': unknown fetch method '{}'.", l.s(0), l.s(2)),
        );
        return;
    };
    if response {
        // every 1.4.25 pattern fetch is request-only
        let kw = l.a(2);
        let kwend = kw.iter().position(|c| *c == b'(').unwrap_or(kw.len());
        p.d.alert(
            &l.span,
            format!(
                "'{}': fetch method '{}' can not be used on response.",
                l.s(0),
                lossy(&kw[..kwend])
            ),
        );
        return;
    }
    let mut table = None;
    if l.is(i, "table") {
        table = Some(l.s(i + 1).into_owned());
        i += 2;
    }
    let mut cond = None;
    if l.is(i, "if") || l.is(i, "unless") {
        match cond_at(p, px, l, i) {
            Some(c) => cond = Some(c),
            None => {
                p.d.alert(
                    &l.span,
                    format!(
                        "'{}': error detected while parsing sticking condition.",
                        l.s(0)
                    ),
                );
                return;
            }
        }
    } else if l.has(i) {
        p.d.alert(
            &l.span,
            format!("'{}': unknown keyword '{}'.", l.s(0), l.s(i)),
        );
        return;
    }
    acl::warnif_requires_resp(p, px, cond.as_ref(), &l.span);
    px.ir.stick_rules.push(Spanned::new(
        l.span.clone(),
        StickRule {
            kind,
            pattern,
            table,
            cond,
        },
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kw::Kwm;
    use crate::span::Span;

    fn pat(words: &[&str]) -> Option<(Pattern, usize)> {
        let args: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        let l = Ln {
            span: Span::builtin(),
            args: &args,
            kwm: Kwm::Std,
        };
        parse_pattern(&l, 0)
    }

    #[test]
    fn stick_patterns() {
        let (p, next) = pat(&["src", "table", "t"]).unwrap();
        assert_eq!(p.fetch, PatternFetch::Src);
        assert!(p.converters.is_empty());
        assert_eq!(next, 1, "stops at the first word that is not a converter");
        let (p, next) = pat(&["hdr(x-forwarded-for,2)", "ipmask(255.255.0.0)", "lower"]).unwrap();
        assert_eq!(
            p.fetch,
            PatternFetch::Hdr {
                name: "x-forwarded-for".into(),
                occ: 2
            }
        );
        assert_eq!(
            p.converters,
            vec![
                Converter::IpMask(std::net::Ipv4Addr::new(255, 255, 0, 0)),
                Converter::Lower
            ]
        );
        assert_eq!(next, 3);
        assert_eq!(pattern_type(&p), PatType::String);
        assert_eq!(pat(&["src", "ipmask(16)"]).unwrap().0.converters.len(), 1);
        assert!(pat(&["payload_lv(43,1)"]).is_none());
        assert!(pat(&["hdr(x"]).is_none());
        assert!(
            pat(&["src", "ipmask(255.0.255.0)"]).is_none(),
            "non-contiguous"
        );
        // a string cannot be turned back into an address
        assert!(pat(&["src", "lower", "ipmask(8)"]).is_none());
        assert_eq!(
            pattern_type(&pat(&["dst_port"]).unwrap().0),
            PatType::Integer
        );
    }

    #[test]
    fn casts() {
        assert!(castable(PatType::Ip, PatType::String));
        assert!(castable(PatType::Integer, PatType::Ip));
        assert!(!castable(PatType::String, PatType::Ip));
        assert!(!castable(PatType::String, PatType::Integer));
    }
}
