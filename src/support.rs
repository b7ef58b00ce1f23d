//! What the runtime does with each keyword the parser knows: executed, accepted with a
//! warning (it only tunes something haproxide decides for itself), or rejected (it would
//! change how traffic is handled and is not executed: loading fails rather than silently
//! doing something else). `docs/compatibility.md` is kept in step with this table by
//! `tests/compat_doc.rs`.
//!
//! `check` walks a configuration and reports every use of a warned or rejected keyword with
//! its line, in HAProxy's diagnostic form; `-c` and startup both run it.

use parser::diag::Report;
use parser::ir::Config;
use parser::span::Span;

/// The runtime status of one keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Executed,
    /// Accepted; has no effect (the reason says why), a warning is printed where it is used.
    Warning(&'static str),
    /// Refused at load: it would change traffic handling and is not implemented.
    Rejected(&'static str),
}

/// Keywords accepted with a warning, and why they have no effect.
pub const WARNED: &[(&str, &str)] = &[
    ("noepoll", "haproxide always uses epoll through tokio"),
    ("nokqueue", "haproxide always uses epoll through tokio"),
    ("nopoll", "haproxide always uses epoll through tokio"),
    ("nosepoll", "haproxide always uses epoll through tokio"),
    (
        "maxpipes",
        "splice pipes come from a per-thread pool sized by haproxide",
    ),
    (
        "tune.maxaccept",
        "each worker thread accepts as fast as its runtime allows",
    ),
    ("tune.maxpollevents", "the event loop batch size is tokio's"),
    (
        "bind-process",
        "haproxide runs one process (worker threads); every proxy runs in it",
    ),
    (
        "option contstats",
        "byte counters are updated when a transfer ends",
    ),
    ("option socket-stats", "the stats show no per-listener rows"),
    (
        "option splice-auto",
        "haproxide splices TCP tunnels itself (see -dS / nosplice)",
    ),
    (
        "option splice-request",
        "haproxide splices TCP tunnels itself (see -dS / nosplice)",
    ),
    (
        "option splice-response",
        "haproxide splices TCP tunnels itself (see -dS / nosplice)",
    ),
    (
        "option independant-streams",
        "read timeouts are refreshed by traffic in either direction",
    ),
    (
        "option keepalive",
        "not a 1.4 option (1.4 warns and ignores it too)",
    ),
];

/// Keywords refused at load. `stick store-response` is refused by the parser itself, exactly
/// as HAProxy 1.4.25 refuses it (no response-side fetch exists in 1.4).
pub const REJECTED: &[(&str, &str)] = &[(
    "stick store-response",
    "refused by the parser as by HAProxy 1.4.25, which has no response-side fetch",
)];

/// The status of a keyword, named as `parser::keywords()` names it.
pub fn status(keyword: &str) -> Status {
    if let Some((_, why)) = REJECTED.iter().find(|(k, _)| *k == keyword) {
        return Status::Rejected(why);
    }
    if let Some((_, why)) = WARNED.iter().find(|(k, _)| *k == keyword) {
        return Status::Warning(why);
    }
    Status::Executed
}

/// Reports the uses of warned and rejected keywords in `config`.
pub fn check(config: &Config) -> Report {
    let mut r = Report::default();
    let mut seen: Vec<(String, Span)> = Vec::new();
    let mut use_of = |kw: &str, span: Option<&Span>| {
        let Some(span) = span else { return };
        if span.line == 0 {
            // Set by the parser itself (e.g. a default), not written by the user.
            return;
        }
        // A `defaults` line inherited by several proxies is reported once.
        if seen.iter().any(|(k, s)| k == kw && s == span) {
            return;
        }
        seen.push((kw.to_string(), span.clone()));
        match status(kw) {
            Status::Executed => {}
            Status::Warning(why) => r.warning(span, format!("'{kw}' is accepted but has no effect in haproxide: {why}.")),
            Status::Rejected(why) => r.alert(span, format!("'{kw}' is not executed by haproxide ({why}); refusing to run a configuration that would behave differently.")),
        }
    };
    let g = &config.global;
    use_of("noepoll", g.noepoll.as_ref());
    use_of("nokqueue", g.nokqueue.as_ref());
    use_of("nopoll", g.nopoll.as_ref());
    use_of("nosepoll", g.nosepoll.as_ref());
    use_of("maxpipes", g.maxpipes.as_ref().map(|s| &s.span));
    use_of("tune.maxaccept", g.tune.maxaccept.as_ref().map(|s| &s.span));
    use_of(
        "tune.maxpollevents",
        g.tune.maxpollevents.as_ref().map(|s| &s.span),
    );
    for px in &config.proxies {
        let o = &px.options;
        use_of("bind-process", px.bind_process.as_ref().map(|s| &s.span));
        use_of("option contstats", o.contstats.as_ref());
        use_of("option socket-stats", o.socket_stats.as_ref());
        use_of("option splice-auto", o.splice_auto.as_ref());
        use_of("option splice-request", o.splice_request.as_ref());
        use_of("option splice-response", o.splice_response.as_ref());
        use_of("option independant-streams", o.independant_streams.as_ref());
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(status("balance"), Status::Executed);
        assert!(matches!(status("option contstats"), Status::Warning(_)));
        assert!(REJECTED
            .iter()
            .all(|(k, _)| WARNED.iter().all(|(w, _)| w != k)));
    }

    #[test]
    fn warns_with_the_line() {
        let text = b"global\n  noepoll\ndefaults\n  mode http\n  option contstats\nlisten l\n  bind 127.0.0.1:1\n  server s 127.0.0.1:2\n";
        let loaded = parser::load_str(
            "t.cfg",
            text,
            &parser::LoadOptions {
                resolve_names: false,
                ..Default::default()
            },
        );
        let cfg = loaded.config.expect("valid");
        let r = check(&cfg);
        let text = r.render("000/000000 (1)");
        assert!(
            text.contains("parsing [t.cfg:2] : 'noepoll' is accepted but has no effect"),
            "{text}"
        );
        assert!(text.contains("'option contstats'"), "{text}");
        assert!(!r.has_alerts());
    }
}
