//! `stats` keywords of proxy sections (compare with the `stats` branch of 1.4
//! `cfg_parse_listen` in `src/cfgparse.c` and `src/uri_auth.c`).
//!
//! Keywords: stats admin, auth, enable, hide-version, http-request, realm, refresh, scope,
//! show-desc, show-legends, show-node, uri, and the haproxide extension
//! `stats prometheus-uri`. Any `stats` keyword in a proxy that inherited its statistics
//! settings from `defaults` starts from scratch, because 1.4 detaches the shared settings.

use super::global::{join_words, valid_node};
use super::http::parse_auth_cond;
use super::proxy::cond_at;
use super::{acl, KeywordInfo, Ln, Parser, Sections};
use crate::ir::*;
use crate::section::{Cap, Px};
use crate::span::Spanned;
use crate::value::{lossy, parse_time, show_char, TimeUnit};

const fn k(name: &'static str, sec: &str, doc: &'static str) -> KeywordInfo {
    KeywordInfo {
        name,
        sections: Sections::of(sec),
        doc,
    }
}

/// The `stats` sub-keywords of proxy sections.
pub static KEYWORDS: &[KeywordInfo] = &[
    k(
        "stats admin",
        "LB",
        "enable the admin form if/unless a condition",
    ),
    k(
        "stats auth",
        "DLB",
        "Basic-auth account <user>:<password> (repeatable)",
    ),
    k(
        "stats enable",
        "DLB",
        "enable the statistics page with default settings",
    ),
    k("stats hide-version", "DLB", "hide the version on the page"),
    k(
        "stats http-request",
        "LB",
        "allow/deny/auth rules for the statistics page",
    ),
    k("stats realm", "DLB", "Basic-auth realm"),
    k("stats refresh", "DLB", "Refresh header (seconds)"),
    k("stats scope", "DLB", "restrict the listed proxies"),
    k("stats show-desc", "DLB", "show a description"),
    k("stats show-legends", "DLB", "show extra legends"),
    k("stats show-node", "DLB", "show the node name"),
    k("stats uri", "DLB", "URI prefix of the statistics page"),
    k(
        "stats prometheus-uri",
        "DLB",
        "haproxide extension: Prometheus metrics URI",
    ),
];

fn fresh(l: &Ln) -> StatsConfig {
    StatsConfig {
        span: l.span.clone(),
        uri: "/haproxy?stats".into(),
        realm: None,
        auth: Vec::new(),
        refresh: None,
        hide_version: false,
        scope: Vec::new(),
        admin: Vec::new(),
        show_node: None,
        show_desc: None,
        show_legends: false,
        http_request: Vec::new(),
        prometheus_uri: None,
    }
}

pub fn stats(p: &mut Parser, px: &mut Px, l: &Ln) {
    p.warnifnotcap(px, Cap::BE, &l.span, "stats", None);
    if !px.is_defaults && px.stats_inherited {
        // 1.4 detaches from the defaults' settings and starts over
        px.ir.stats = None;
        px.stats_inherited = false;
    }
    macro_rules! st {
        () => {
            px.ir.stats.get_or_insert_with(|| fresh(l))
        };
    }
    match l.a(1) {
        b"admin" => {
            if px.is_defaults {
                p.d.alert_t(
                    &l.span,
                    format!("'{} {}' not allowed in 'defaults' section.", l.s(0), l.s(1)),
                );
                return;
            }
            st!();
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
                        "error detected while parsing a '{} {}' rule.",
                        l.s(0),
                        l.s(1)
                    ),
                );
                return;
            };
            acl::warnif_requires_resp(p, px, Some(&cond), &l.span);
            st!().admin.push(Spanned::new(l.span.clone(), cond));
        }
        b"uri" => {
            if !l.has(2) {
                p.d.alert(&l.span, "'uri' needs an URI prefix.");
                return;
            }
            st!().uri = l.s(2).into_owned();
        }
        b"prometheus-uri" => {
            if !l.has(2) {
                p.d.alert(&l.span, "'prometheus-uri' needs an URI.");
                return;
            }
            st!().prometheus_uri = Some(l.s(2).into_owned());
        }
        b"realm" => {
            if !l.has(2) {
                p.d.alert(&l.span, "'realm' needs an realm name.");
                return;
            }
            st!().realm = Some(l.s(2).into_owned());
        }
        b"refresh" => match parse_time(l.a(2), TimeUnit::S) {
            Ok(v) => st!().refresh = Some(v),
            Err(c) => p.d.alert(
                &l.span,
                format!(
                    "unexpected character '{}' in stats refresh interval.",
                    show_char(c)
                ),
            ),
        },
        b"http-request" => {
            if px.is_defaults {
                p.d.alert_t(
                    &l.span,
                    format!("'{}' not allowed in 'defaults' section.", l.s(0)),
                );
                return;
            }
            let last_uncond = st!().http_request.last().is_some_and(|r| r.cond.is_none());
            if last_uncond {
                p.d.warn_t(
                    &l.span,
                    format!(
                        "previous '{}' action has no condition attached, further entries are NOOP.",
                        l.s(0)
                    ),
                );
            }
            let Some(rule) = parse_auth_cond(p, px, l, 2) else {
                p.d.set_abort();
                return;
            };
            acl::warnif_requires_resp(p, px, rule.cond.as_ref(), &l.span);
            st!().http_request.push(Spanned::new(l.span.clone(), rule));
        }
        b"auth" => {
            if !l.has(2) {
                p.d.alert(&l.span, "'auth' needs a user:password account.");
                return;
            }
            let a = l.a(2);
            let (u, pw) = match a.iter().position(|c| *c == b':') {
                Some(c) => (lossy(&a[..c]), lossy(&a[c + 1..])),
                None => (lossy(a), String::new()),
            };
            st!().auth.push(Spanned::new(l.span.clone(), (u, pw)));
        }
        b"scope" => {
            if !l.has(2) {
                p.d.alert(&l.span, "'scope' needs a proxy name.");
                return;
            }
            st!().scope.push(l.s(2).into_owned());
        }
        b"enable" => {
            st!();
        }
        b"hide-version" => st!().hide_version = true,
        b"show-legends" => st!().show_legends = true,
        b"show-node" => {
            if l.has(2) && !valid_node(l.a(2)) {
                p.d.alert_t(
                    &l.span,
                    format!(
                        "'{} {}' invalid node name - should be a stringwith digits(0-9), letters(A-Z, a-z), hyphen(-) or underscode(_).",
                        l.s(0),
                        l.s(1)
                    ),
                );
                return;
            }
            st!().show_node = Some(l.has(2).then(|| l.s(2).into_owned()));
        }
        b"show-desc" => {
            if !l.has(2) && p.g.ir.description.is_none() {
                p.d.warn_t(
                    &l.span,
                    format!(
                        "'{}' requires a parameter or 'desc' to be set in the global section.",
                        l.s(1)
                    ),
                );
            } else {
                st!().show_desc = Some(l.has(2).then(|| join_words(l, 2)));
            }
        }
        _ => {
            let (what, word) = if l.has(1) {
                ("unknown stats parameter", l.s(1))
            } else {
                ("missing keyword in", l.s(0))
            };
            p.d.alert_t(
                &l.span,
                format!(
                    "{what} '{word}', expects 'admin', 'uri', 'realm', 'auth', 'scope', 'enable', 'hide-version', 'show-node', 'show-desc' or 'show-legends'."
                ),
            );
        }
    }
}
