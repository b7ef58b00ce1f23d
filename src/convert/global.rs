//! `global` and `userlist` sections in 2.6 syntax.
//!
//! Mappings: `debug` is dropped (2.6 has no such keyword; `-d` on the command line does
//! the same), `nbproc N` becomes `nbthread N` (dropped when 1: 2.6 runs one process),
//! `nosepoll` and `tune.chksize` are dropped (removed from 2.6), a relative `stats socket`
//! path gets the `unix@` prefix (2.6 reads a path without `/` as an address). Everything
//! else keeps its name. Compare with 1.4 `cfg_parse_global` and 2.6 `cfg_parse_global`.

use super::enc::{self, sword, time};
use super::{Cx, Out, SectKind, Sink};
use parser::ir::{CliLevel, LogAddr, LogTarget, Password, Userlist, FACILITIES, LEVELS};
use parser::span::Span;

/// Renders every `global` section (the IR merges them; each item lands on its own line).
pub(super) fn render(cx: &Cx<'_>, out: &mut Out) {
    let mut ranges = Vec::new();
    for (f, file) in cx.src.files.iter().enumerate() {
        for s in &file.sections {
            if s.kind == SectKind::Global {
                ranges.push((f, s.start, s.end));
            }
        }
    }
    let g = &cx.cfg.global;
    let first_header = ranges
        .first()
        .map(|&(f, line, _)| Span::new(cx.src.files[f].name.clone(), line));
    let mut k = Sink::new(cx.src, ranges, out);
    if let (None, Some(h)) = (&g.maxconn, &first_header) {
        k.note(
            h,
            "1.4's global maxconn defaults to 2000; 2.6 would size it from 'ulimit -n': \
             written explicitly.",
        );
        k.stmt(h, "maxconn 2000");
    }
    if let Some(v) = &g.chroot {
        k.stmt(
            &v.span,
            format!(
                "chroot {}",
                enc::word(v.node.as_os_str().as_encoded_bytes())
            ),
        );
    }
    if let Some(s) = &g.daemon {
        k.stmt(s, "daemon");
    }
    if let Some(s) = &g.debug {
        k.loss(
            s,
            "'debug' dropped: 2.6 has no 'debug' keyword in 'global' (start with -d for the \
             same foreground debug output).",
        );
    }
    if let Some(s) = &g.quiet {
        k.stmt(s, "quiet");
    }
    if let Some(v) = &g.description {
        k.stmt(&v.span, format!("description {}", sword(&v.node)));
    }
    if let Some(v) = &g.node {
        k.stmt(&v.span, format!("node {}", sword(&v.node)));
    }
    if let Some(v) = &g.uid {
        k.stmt(&v.span, format!("uid {}", v.node));
    }
    if let Some(v) = &g.gid {
        k.stmt(&v.span, format!("gid {}", v.node));
    }
    if let Some(v) = &g.user {
        k.stmt(&v.span, format!("user {}", sword(&v.node.name)));
    }
    if let Some(v) = &g.group {
        k.stmt(&v.span, format!("group {}", sword(&v.node.name)));
    }
    for l in &g.logs {
        k.stmt(&l.span, log_line(&l.node));
    }
    if let Some(v) = &g.log_send_hostname {
        match &v.node {
            Some(h) => k.stmt(&v.span, format!("log-send-hostname {}", sword(h))),
            None => k.stmt(&v.span, "log-send-hostname"),
        }
    }
    if let Some(v) = &g.log_tag {
        k.stmt(&v.span, format!("log-tag {}", sword(&v.node)));
    }
    if let Some(v) = &g.maxconn {
        k.stmt(&v.span, format!("maxconn {}", v.node));
    }
    if let Some(v) = &g.maxpipes {
        k.stmt(&v.span, format!("maxpipes {}", v.node));
    }
    if let Some(v) = &g.nbproc {
        nbproc(&mut k, &v.span, v.node);
    }
    if let Some(v) = &g.pidfile {
        k.stmt(
            &v.span,
            format!(
                "pidfile {}",
                enc::word(v.node.as_os_str().as_encoded_bytes())
            ),
        );
    }
    for (flag, name) in [
        (&g.noepoll, "noepoll"),
        (&g.nokqueue, "nokqueue"),
        (&g.nopoll, "nopoll"),
        (&g.nosplice, "nosplice"),
    ] {
        if let Some(s) = flag {
            k.stmt(s, name);
        }
    }
    if let Some(s) = &g.nosepoll {
        k.note(
            s,
            "'nosepoll' dropped: 2.6 has no speculative epoll to disable (plain epoll, which \
             'noepoll' still controls, replaced it).",
        );
    }
    if let Some(v) = &g.spread_checks {
        k.stmt(&v.span, format!("spread-checks {}", v.node));
    }
    if let Some(v) = &g.stats_socket {
        let s = &v.node;
        let path = s.path.as_os_str().as_encoded_bytes();
        let mut line = if path.starts_with(b"/") {
            format!("stats socket {}", enc::word(path))
        } else {
            k.note(
                &v.span,
                "relative 'stats socket' path: 2.6 reads a path that does not start with '/' \
                 as an address, so it gets the 'unix@' prefix (still relative to the \
                 directory haproxy starts in, as in 1.4).",
            );
            let mut p = b"unix@".to_vec();
            p.extend_from_slice(path);
            format!("stats socket {}", enc::word(&p))
        };
        if let Some(u) = s.uid {
            line.push_str(&format!(" uid {u}"));
        }
        if let Some(g) = s.gid {
            line.push_str(&format!(" gid {g}"));
        }
        if let Some(m) = s.mode {
            line.push_str(&format!(" mode {m:o}"));
        }
        match s.level {
            CliLevel::Operator => {}
            CliLevel::User => line.push_str(" level user"),
            CliLevel::Admin => line.push_str(" level admin"),
        }
        k.stmt(&v.span, line);
    }
    if let Some(v) = &g.stats_timeout {
        k.stmt(&v.span, format!("stats timeout {}", time(v.node)));
    }
    if let Some(v) = &g.stats_maxconn {
        k.stmt(&v.span, format!("stats maxconn {}", v.node));
    }
    let t = &g.tune;
    for (v, name) in [
        (&t.bufsize, "tune.bufsize"),
        (&t.maxpollevents, "tune.maxpollevents"),
        (&t.maxrewrite, "tune.maxrewrite"),
        (&t.rcvbuf_client, "tune.rcvbuf.client"),
        (&t.rcvbuf_server, "tune.rcvbuf.server"),
        (&t.sndbuf_client, "tune.sndbuf.client"),
        (&t.sndbuf_server, "tune.sndbuf.server"),
    ] {
        if let Some(v) = v {
            k.stmt(&v.span, format!("{name} {}", v.node));
        }
    }
    if let Some(v) = &t.maxaccept {
        k.stmt(&v.span, format!("tune.maxaccept {}", v.node));
    }
    if let Some(v) = &t.chksize {
        k.note(
            &v.span,
            "'tune.chksize' dropped: 2.6 removed it and checks responses with a buffer of \
             tune.bufsize.",
        );
    }
    if let Some(v) = &g.ulimit_n {
        k.stmt(&v.span, format!("ulimit-n {}", v.node));
    }
}

/// `nbproc N`: 2.6 removed multi-process mode; threads of one process are the closest.
fn nbproc(k: &mut Sink<'_>, span: &Span, n: u32) {
    if n <= 1 {
        k.note(
            span,
            "'nbproc 1' dropped: 2.6 removed 'nbproc' and always runs one process.",
        );
    } else {
        k.note(
            span,
            format!(
                "'nbproc {n}' becomes 'nbthread {n}': 2.6 removed multi-process mode. 1.4's \
                 {n} processes each had their own counters, stats page, stick tables and \
                 health checks; 2.6's threads share them (one stats page for all, checks run \
                 once)."
            ),
        );
        k.stmt(span, format!("nbthread {n}"));
    }
}

/// A `log` line (`global` or a proxy): `log <addr> <facility> [max [min]]`.
pub(super) fn log_line(t: &LogTarget) -> String {
    let addr = match &t.addr {
        LogAddr::Udp(sa) => match sa {
            std::net::SocketAddr::V4(v4) => format!("{}:{}", v4.ip(), v4.port()),
            std::net::SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
        },
        LogAddr::Unix(p) => enc::word(p.as_os_str().as_encoded_bytes()),
    };
    let fac = FACILITIES
        .get(usize::from(t.facility))
        .copied()
        .unwrap_or("local0");
    let mut s = format!("log {addr} {fac}");
    if t.max_level != 7 || t.min_level != 0 {
        s.push(' ');
        s.push_str(
            LEVELS
                .get(usize::from(t.max_level))
                .copied()
                .unwrap_or("debug"),
        );
    }
    if t.min_level != 0 {
        s.push(' ');
        s.push_str(
            LEVELS
                .get(usize::from(t.min_level))
                .copied()
                .unwrap_or("emerg"),
        );
    }
    s
}

/// A `userlist` section: groups and users keep 1.4's syntax.
pub(super) fn render_userlist(cx: &Cx<'_>, out: &mut Out, u: &Userlist) {
    let Some((f, sect)) = cx.src.section_at(&u.span) else {
        return;
    };
    let mut k = Sink::new(cx.src, vec![(f, sect.start, sect.end)], out);
    for g in &u.groups {
        let mut s = format!("group {}", sword(&g.node.name));
        if !g.node.users.is_empty() {
            s.push_str(&format!(" users {}", sword(&g.node.users.join(","))));
        }
        k.stmt(&g.span, s);
    }
    for usr in &u.users {
        let mut s = format!("user {}", sword(&usr.node.name));
        match &usr.node.password {
            Password::Crypt(h) => s.push_str(&format!(" password {}", sword(h))),
            Password::Insecure(p) => s.push_str(&format!(" insecure-password {}", sword(p))),
            Password::None => {}
        }
        if !usr.node.groups.is_empty() {
            s.push_str(&format!(" groups {}", sword(&usr.node.groups.join(","))));
        }
        k.stmt(&usr.span, s);
    }
}
