//! ACLs, conditions and every rule list in 2.6 syntax.
//!
//! * `acl` lines keep their criterion (1.4's names all exist in 2.6) and patterns; regex
//!   patterns are rewritten from POSIX to PCRE.
//! * Request side, in 1.4's order of evaluation (`http_process_req_common`): `monitor-net`
//!   (a `return status 200` / `reject` rule), `block` (`http-request deny`), `http-request`,
//!   the `req*` regex filters (`replace-header`, `replace-uri`, `del-header`, `deny`, `tarpit`,
//!   `use_backend` for `reqsetbe`), `reqadd` (`add-header`). 2.6 runs `http-request` rules in
//!   file order, so when the file order differs from 1.4's the rules are written together, in
//!   1.4's order, at the first one's place. Then `redirect`, `use_backend`, `default_backend`,
//!   `tcp-request`.
//! * Response side: `rsp*` filters and `rspadd` as `http-response` rules.
//! * Stickiness: `cookie`, `stick-table`, `stick`, `persist rdp-cookie`, `force-persist`,
//!   `ignore-persist`, and `appsession` (removed in 1.6) as a string stick table learnt from
//!   the response cookie and matched on the request cookie and URL parameter.
//!
//! Compare with 1.4 `src/proto_http.c` (`apply_filters_to_request`,
//! `apply_filter_to_req_line`, `apply_filter_to_req_headers`), `src/acl.c`, and the runtime
//! of these rules in `src/proxy/rules.rs`.

use super::enc::{self, sword, time};
use super::proxy::{net, Role};
use super::regex::{self, GroupFate, Repl, ReplPart};
use super::{Cx, Item, Sink};
use parser::ir::*;
use parser::span::{Span, Spanned};

// ---------------------------------------------------------------------------------------------
// ACLs and conditions
// ---------------------------------------------------------------------------------------------

/// The 2.6 criterion for an ACL expression (`hdr_reg(host)`, `path_beg`, `src`...).
pub(super) fn criterion(e: &AclExpr) -> String {
    let (base, arg): (&str, Option<String>) = match &e.fetch {
        Fetch::AlwaysTrue => ("always_true", None),
        Fetch::AlwaysFalse => ("always_false", None),
        Fetch::Src => ("src", None),
        Fetch::Dst => ("dst", None),
        Fetch::SrcPort => ("src_port", None),
        Fetch::DstPort => ("dst_port", None),
        Fetch::DstConn => ("dst_conn", None),
        Fetch::FeId => ("fe_id", None),
        Fetch::BeId => ("be_id", None),
        Fetch::SoId => ("so_id", None),
        Fetch::SrvId => ("srv_id", None),
        Fetch::FeConn(a) => ("fe_conn", a.clone()),
        Fetch::BeConn(a) => ("be_conn", a.clone()),
        Fetch::FeSessRate(a) => ("fe_sess_rate", a.clone()),
        Fetch::BeSessRate(a) => ("be_sess_rate", a.clone()),
        Fetch::NbSrv(a) => ("nbsrv", a.clone()),
        Fetch::ConnSlots(a) => ("connslots", a.clone()),
        Fetch::Queue(a) => ("queue", a.clone()),
        Fetch::AvgQueue(a) => ("avg_queue", a.clone()),
        Fetch::SrvIsUp(r) => (
            "srv_is_up",
            Some(match &r.proxy {
                Some(px) => format!("{px}/{}", r.server),
                None => r.server.clone(),
            }),
        ),
        Fetch::WaitEnd => ("wait_end", None),
        Fetch::ReqLen => ("req_len", None),
        Fetch::ReqProtoHttp => ("req_proto_http", None),
        Fetch::ReqSslVer => ("req_ssl_ver", None),
        Fetch::ReqRdpCookie(a) => ("req_rdp_cookie", a.clone()),
        Fetch::ReqRdpCookieCnt(a) => ("req_rdp_cookie_cnt", a.clone()),
        Fetch::Method => ("method", None),
        Fetch::ReqVer => ("req_ver", None),
        Fetch::Url => ("url", None),
        Fetch::UrlIp => ("url_ip", None),
        Fetch::UrlPort => ("url_port", None),
        Fetch::Path => ("path", None),
        Fetch::Hdr(a) => ("hdr", a.clone()),
        Fetch::HdrCnt(a) => ("hdr_cnt", a.clone()),
        Fetch::HdrVal(a) => ("hdr_val", a.clone()),
        Fetch::HdrIp(a) => ("hdr_ip", a.clone()),
        Fetch::HttpAuth(u) => ("http_auth", Some(u.clone())),
        Fetch::HttpAuthGroup(u) => ("http_auth_group", Some(u.clone())),
        Fetch::HttpFirstReq => ("http_first_req", None),
        Fetch::Status => ("status", None),
        Fetch::RespVer => ("resp_ver", None),
        Fetch::Shdr(a) => ("shdr", a.clone()),
        Fetch::ShdrCnt(a) => ("shdr_cnt", a.clone()),
        Fetch::ShdrVal(a) => ("shdr_val", a.clone()),
        Fetch::ShdrIp(a) => ("shdr_ip", a.clone()),
    };
    // string fetches take the matching method as a suffix
    let stringy = matches!(
        e.fetch,
        Fetch::Url | Fetch::Path | Fetch::Hdr(_) | Fetch::Shdr(_)
    );
    let suffix = if stringy {
        match e.matcher {
            Matcher::Beg(_) => "_beg",
            Matcher::End(_) => "_end",
            Matcher::Sub(_) => "_sub",
            Matcher::Dir(_) => "_dir",
            Matcher::Dom(_) => "_dom",
            Matcher::Reg(_) => "_reg",
            Matcher::Len(_) => "_len",
            _ => "",
        }
    } else {
        ""
    };
    match arg {
        Some(a) => format!("{base}{suffix}({a})"),
        None => format!("{base}{suffix}"),
    }
}

/// Flags and patterns of an ACL expression for 2.6: words as written, regexes in PCRE.
fn patterns(e: &AclExpr, ws: &[Vec<u8>]) -> Result<String, String> {
    let regex = matches!(e.matcher, Matcher::Reg(_));
    let mut out = Vec::new();
    let mut i = 0;
    let mut flags = true;
    while i < ws.len() {
        let w = &ws[i];
        if flags && w.first() == Some(&b'-') {
            match w.as_slice() {
                b"-i" => out.push("-i".to_string()),
                b"-f" => {
                    out.push("-f".to_string());
                    if let Some(f) = ws.get(i + 1) {
                        out.push(enc::word(f));
                        i += 1;
                    }
                }
                b"--" => {
                    out.push("--".to_string());
                    flags = false;
                }
                _ => flags = false,
            }
            if flags {
                i += 1;
                continue;
            }
        }
        flags = false;
        if regex {
            let re = regex::to_pcre(w)
                .map_err(|e| format!("regex '{}': {e}", String::from_utf8_lossy(w)))?;
            out.push(enc::sword(&re));
        } else {
            out.push(enc::word(w));
        }
        i += 1;
    }
    Ok(out.join(" "))
}

/// `acl` lines.
pub(super) fn acls(cx: &Cx<'_>, k: &mut Sink<'_>, p: &Proxy) {
    for def in &p.acls {
        if def.builtin {
            continue;
        }
        for e in &def.exprs {
            if !k.owns(&e.span) {
                continue;
            }
            let ws = cx.src.words(&e.span);
            let rest = ws.get(3..).unwrap_or_default();
            match patterns(&e.node, rest) {
                Ok(pats) => {
                    let mut s = format!("acl {} {}", sword(&def.name), criterion(&e.node));
                    if !pats.is_empty() {
                        s.push(' ');
                        s.push_str(&pats);
                    }
                    k.stmt(&e.span, s);
                }
                Err(why) => k.loss(&e.span, format!("ACL not carried over: {why}")),
            }
        }
    }
}

/// The `{ ... }` groups of a condition on a line, in order (inner words).
fn anon_groups(words: &[Vec<u8>]) -> Vec<Vec<Vec<u8>>> {
    let start = words
        .iter()
        .position(|w| w == b"if" || w == b"unless")
        .map_or(words.len(), |i| i + 1);
    let mut out = Vec::new();
    let mut i = start;
    while i < words.len() {
        let w: &[u8] = &words[i];
        let stripped = {
            let mut s = w;
            while s.first() == Some(&b'!') {
                s = &s[1..];
            }
            s
        };
        if stripped == b"{" {
            let end = (i + 1..words.len())
                .find(|&j| words[j] == b"}")
                .unwrap_or(words.len());
            out.push(words[i + 1..end].to_vec());
            i = end;
        }
        i += 1;
    }
    out
}

/// A condition as OR-ed terms of AND-ed atoms (`name`, `!name`, `{ ... }`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Dnf(pub Vec<Vec<String>>);

impl Dnf {
    pub fn always() -> Dnf {
        Dnf(vec![Vec::new()])
    }

    pub fn atom(a: impl Into<String>) -> Dnf {
        Dnf(vec![vec![a.into()]])
    }

    /// `self AND other`.
    pub fn and(&self, other: &Dnf) -> Dnf {
        let mut out = Vec::new();
        for a in &self.0 {
            for b in &other.0 {
                let mut t = a.clone();
                t.extend(b.iter().cloned());
                out.push(t);
            }
        }
        Dnf(out)
    }

    /// `self OR other`.
    pub fn or(&self, other: &Dnf) -> Dnf {
        let mut v = self.0.clone();
        v.extend(other.0.iter().cloned());
        Dnf(v)
    }

    /// `NOT self` (De Morgan, expanded back into OR-ed terms).
    pub fn not(&self) -> Dnf {
        let mut acc = Dnf::always();
        for term in &self.0 {
            // NOT (a AND b) = !a OR !b
            let neg = Dnf(term.iter().map(|a| vec![negate(a)]).collect());
            acc = acc.and(&neg);
        }
        acc
    }

    /// `if ...` text ("" when always true).
    pub fn text(&self) -> String {
        if self.0.iter().any(|t| t.is_empty()) {
            return String::new();
        }
        if self.0.is_empty() {
            return "if FALSE".to_string();
        }
        let terms: Vec<String> = self.0.iter().map(|t| t.join(" ")).collect();
        format!("if {}", terms.join(" || "))
    }
}

fn negate(a: &str) -> String {
    match a.strip_prefix('!') {
        Some(rest) => rest.to_string(),
        None => format!("!{a}"),
    }
}

/// The atoms of a 1.4 condition's terms, without `if`/`unless`.
fn cond_terms(cx: &Cx<'_>, p: &Proxy, c: &Condition, span: &Span) -> Vec<Vec<String>> {
    let groups = anon_groups(cx.src.words(span));
    let mut anon = 0usize;
    let mut terms = Vec::new();
    for t in &c.terms {
        let mut atoms = Vec::new();
        for a in t {
            let base = match &a.acl {
                AclRef::Named(i) => p
                    .acls
                    .get(*i)
                    .map_or_else(|| "FALSE".to_string(), |d| sword(&d.name)),
                AclRef::Anonymous(e) => {
                    let inner = groups.get(anon).cloned().unwrap_or_default();
                    anon += 1;
                    let pats = patterns(e, inner.get(1..).unwrap_or_default()).unwrap_or_default();
                    if pats.is_empty() {
                        format!("{{ {} }}", criterion(e))
                    } else {
                        format!("{{ {} {pats} }}", criterion(e))
                    }
                }
            };
            atoms.push(if a.negate { format!("!{base}") } else { base });
        }
        terms.push(atoms);
    }
    terms
}

/// A condition written as 1.4 wrote it: `if A B || C` / `unless X`.
pub(super) fn cond_text(cx: &Cx<'_>, p: &Proxy, c: &Condition, span: &Span) -> String {
    let terms: Vec<String> = cond_terms(cx, p, c, span)
        .into_iter()
        .map(|t| t.join(" "))
        .collect();
    format!(
        "{} {}",
        if c.unless { "unless" } else { "if" },
        terms.join(" || ")
    )
}

/// A condition as a [`Dnf`] (for combining with more atoms).
pub(super) fn cond_dnf(cx: &Cx<'_>, p: &Proxy, c: &Condition, span: &Span) -> Dnf {
    let d = Dnf(cond_terms(cx, p, c, span));
    if c.unless {
        d.not()
    } else {
        d
    }
}

fn opt_cond_dnf(cx: &Cx<'_>, p: &Proxy, c: Option<&Condition>, span: &Span) -> Dnf {
    c.map_or_else(Dnf::always, |c| cond_dnf(cx, p, c, span))
}

fn opt_cond_text(cx: &Cx<'_>, p: &Proxy, c: Option<&Condition>, span: &Span) -> String {
    c.map(|c| format!(" {}", cond_text(cx, p, c, span)))
        .unwrap_or_default()
}

fn with_cond(stmt: &str, d: &Dnf) -> String {
    let t = d.text();
    if t.is_empty() {
        stmt.to_string()
    } else {
        format!("{stmt} {t}")
    }
}

/// A 1.4 `http-request` rule (also `stats http-request`), same syntax in 2.6.
pub(super) fn http_req_rule(cx: &Cx<'_>, p: &Proxy, r: &HttpReqRule, span: &Span) -> String {
    let action = match &r.action {
        HttpReqAction::Allow => "http-request allow".to_string(),
        HttpReqAction::Deny => "http-request deny".to_string(),
        HttpReqAction::Auth { realm: Some(r) } => format!("http-request auth realm {}", sword(r)),
        HttpReqAction::Auth { realm: None } => "http-request auth".to_string(),
    };
    format!("{action}{}", opt_cond_text(cx, p, r.cond.as_ref(), span))
}

// ---------------------------------------------------------------------------------------------
// request and response rule lists
// ---------------------------------------------------------------------------------------------

/// One rule of an ordered list (`http-request` or `http-response` in 2.6).
struct Entry {
    /// 1.4's evaluation phase.
    phase: u8,
    /// The line it comes from (its place in the file).
    span: Span,
    /// Whether the line belongs to this section (not inherited).
    own: bool,
    /// Written after every other entry whatever its line (the deferred `auth` rules).
    last: bool,
    items: Vec<Item>,
}

const REQ_ORDER_NOTE: &str = "these http-request rules are written in 1.4's order of \
     evaluation (monitor-net, block, http-request, req* filters, reqadd), which the file order \
     does not follow: 2.6 evaluates them in file order.";

/// Writes entries at their own lines when the file order is 1.4's order, else all of them
/// at the first one's line, in 1.4's order.
fn place(k: &mut Sink<'_>, mut entries: Vec<Entry>, header: &Span, note: &str) {
    let key = |e: &Entry| (e.own, k.src.order(&e.span));
    entries.sort_by_key(|e| e.phase);
    let placed: Vec<&Entry> = entries.iter().filter(|e| e.own && !e.last).collect();
    let in_order = placed.windows(2).all(|w| key(w[0]) <= key(w[1]));
    let last_line = placed.last().map(|e| e.span.clone());
    if in_order {
        for e in entries {
            let at = match (&last_line, e.last, e.own) {
                (Some(l), true, _) => l.clone(),
                (_, _, true) => e.span.clone(),
                _ => header.clone(),
            };
            for it in e.items {
                push(k, &at, it);
            }
        }
        return;
    }
    let first = entries
        .iter()
        .filter(|e| e.own)
        .map(|e| e.span.clone())
        .min_by_key(|s| k.src.order(s))
        .unwrap_or_else(|| header.clone());
    k.note(&first, note);
    for e in entries {
        if e.own && e.span != first {
            let was = super::words_lossy(k.src.words(&e.span));
            k.note(
                &e.span,
                format!("moved up, with the other rules of this list in 1.4's order: {was}"),
            );
        }
        for it in e.items {
            push(k, &first, it);
        }
    }
}

fn push(k: &mut Sink<'_>, at: &Span, it: Item) {
    match it {
        Item::Stmt(s) => k.stmt(at, s),
        Item::Note(n) => k.note(at, n),
    }
}

/// Variable set by a converted `reqallow` (1.4 `TX_CLALLOW`).
const ALLOW_VAR: &str = "txn.hx_allow";
/// Variable naming the backend a converted `reqsetbe` chose.
const SETBE_VAR: &str = "txn.hx_setbe";
/// Variable holding the request line for regexes written against it.
const LINE_VAR: &str = "txn.hx_reqline";

/// The request side of a section.
pub(super) fn request(cx: &Cx<'_>, k: &mut Sink<'_>, p: &Proxy, role: &Role<'_>) {
    let mut entries: Vec<Entry> = Vec::new();
    let fe = p.kind.has_fe() || role.is_defaults;
    // phase 0: monitor-net
    if !p.monitor_net.is_empty() && fe {
        let nets: Vec<String> = p.monitor_net.iter().map(|n| net(&n.node)).collect();
        let span = p.monitor_net[0].span.clone();
        let own = k.owns(&span);
        if role.is_defaults {
            k.loss(
                &span,
                "'monitor-net' was removed in 2.6 and its replacement rules cannot be \
                 written in a 'defaults' section: each frontend inheriting it gets them.",
            );
        } else {
            let mut items = vec![Item::Note(
                "'monitor-net' was removed in 2.6. 1.4 answered 'HTTP/1.0 200 OK' to these \
                 clients as soon as they connected (TCP mode: closed the connection) and \
                 logged nothing; 2.6 waits for a request, answers it with 200 and does not \
                 log it."
                    .to_string(),
            )];
            let cond = format!("if {{ src {} }}", nets.join(" "));
            if p.mode.node == Mode::Tcp {
                items.push(Item::Stmt(format!("tcp-request connection reject {cond}")));
            } else {
                items.push(Item::Stmt(format!(
                    "http-request set-log-level silent {cond}"
                )));
                items.push(Item::Stmt(format!("http-request return status 200 {cond}")));
            }
            for n in p.monitor_net.iter().skip(1) {
                if k.owns(&n.span) {
                    k.note(
                        &n.span,
                        "merged into the rule of the first 'monitor-net' line.",
                    );
                }
            }
            entries.push(Entry {
                phase: 0,
                span,
                own,
                last: false,
                items,
            });
        }
    }
    // phase 1: block
    for b in &p.blocks {
        let own = k.owns(&b.span);
        let c = cond_text(cx, p, &b.node, &b.span);
        entries.push(Entry {
            phase: 1,
            span: b.span.clone(),
            own,
            last: false,
            items: vec![
                Item::Note("'block' was removed in 2.1: 'http-request deny'.".to_string()),
                Item::Stmt(format!("http-request deny {c}")),
            ],
        });
    }
    // phase 2 (and 5): http-request
    let later = !p.req_filters.is_empty() || !p.reqadd.is_empty();
    let deferred = later
        && p.http_request
            .iter()
            .any(|r| !matches!(r.node.action, HttpReqAction::Deny));
    let var = format!("txn.hx_hr{}", role.idx);
    let mut finals = Vec::new();
    for (n, r) in p.http_request.iter().enumerate() {
        let own = k.owns(&r.span);
        let items = if deferred {
            let fresh = Dnf::atom(format!("!{{ var({var}) -m found }}"));
            let c = fresh.and(&opt_cond_dnf(cx, p, r.node.cond.as_ref(), &r.span));
            let mut items = Vec::new();
            if n == 0 {
                items.push(Item::Note(
                    "1.4 lets the req* filters and reqadd run after an 'http-request allow', \
                     and answers 'http-request auth' only after them; 2.6 would stop at \
                     either, so the first matching rule is remembered in a variable and \
                     acted on in 1.4's order."
                        .to_string(),
                ));
            }
            match &r.node.action {
                HttpReqAction::Deny => items.push(Item::Stmt(with_cond("http-request deny", &c))),
                HttpReqAction::Allow => items.push(Item::Stmt(with_cond(
                    &format!("http-request set-var({var}) str(allow)"),
                    &c,
                ))),
                HttpReqAction::Auth { realm } => {
                    let tag = format!("auth{n}");
                    items.push(Item::Stmt(with_cond(
                        &format!("http-request set-var({var}) str({tag})"),
                        &c,
                    )));
                    let mut a = String::from("http-request auth");
                    if let Some(r) = realm {
                        a.push_str(&format!(" realm {}", sword(r)));
                    }
                    finals.push((
                        r.span.clone(),
                        own,
                        format!("{a} if {{ var({var}) -m str {tag} }}"),
                    ));
                }
            }
            items
        } else {
            vec![Item::Stmt(http_req_rule(cx, p, &r.node, &r.span))]
        };
        entries.push(Entry {
            phase: 2,
            span: r.span.clone(),
            own,
            last: false,
            items,
        });
    }
    // phase 3: req* filters
    let guard = cx.cfg.proxies.iter().any(|q| {
        q.req_filters
            .iter()
            .any(|f| f.node.action == FilterAction::Allow)
    });
    let mut setbe = false;
    for f in &p.req_filters {
        let own = k.owns(&f.span);
        let mut items = Vec::new();
        match req_filter(cx, p, f, guard, &mut setbe) {
            Ok(mut v) => items.append(&mut v),
            Err(why) => {
                k.loss(&f.span, why);
                continue;
            }
        }
        entries.push(Entry {
            phase: 3,
            span: f.span.clone(),
            own,
            last: false,
            items,
        });
    }
    // phase 4: reqadd
    for a in &p.reqadd {
        let own = k.owns(&a.span);
        match add_header("http-request", &a.node.line) {
            Ok(s) => {
                let c = opt_cond_text(cx, p, a.node.cond.as_ref(), &a.span);
                entries.push(Entry {
                    phase: 4,
                    span: a.span.clone(),
                    own,
 last: false,
                    items: vec![
                        Item::Note("'reqadd' was removed in 2.1: 'http-request add-header' (2.6 sends header names in lower case).".to_string()),
                        Item::Stmt(format!("{s}{c}")),
                    ],
                });
            }
            Err(why) => k.loss(&a.span, why),
        }
    }
    // phase 5: the deferred auth rules
    for (span, own, s) in finals {
        entries.push(Entry {
            phase: 5,
            span,
            own,
            last: true,
            items: vec![Item::Stmt(s)],
        });
    }
    place(k, entries, &p.span, REQ_ORDER_NOTE);

    if let Some(t) = &p.tcp_inspect_delay {
        k.stmt(
            &t.span,
            format!("tcp-request inspect-delay {}", time(t.node)),
        );
    }
    for r in &p.tcp_request {
        let action = if r.node.accept { "accept" } else { "reject" };
        let c = opt_cond_text(cx, p, r.node.cond.as_ref(), &r.span);
        k.stmt(&r.span, format!("tcp-request content {action}{c}"));
    }
    for r in &p.redirects {
        k.stmt(&r.span, redirect(cx, p, r));
    }
    // `reqsetbe` decides before any `use_backend`
    if setbe {
        let at = p
            .use_backends
            .first()
            .map(|u| u.span.clone())
            .filter(|s| k.owns(s))
            .or_else(|| {
                p.req_filters
                    .iter()
                    .find(|f| matches!(f.node.action, FilterAction::SetBackend(_)))
                    .map(|f| f.span.clone())
            })
            .unwrap_or_else(|| p.span.clone());
        k.stmt(
            &at,
            format!("use_backend %[var({SETBE_VAR})] if {{ var({SETBE_VAR}) -m found }}"),
        );
    }
    for u in &p.use_backends {
        let c = cond_text(cx, p, &u.node.cond, &u.span);
        k.stmt(
            &u.span,
            format!("use_backend {} {c}", sword(&u.node.backend)),
        );
    }
    if let Some(d) = &p.default_backend {
        k.stmt(&d.span, format!("default_backend {}", sword(&d.node)));
    }
}

fn redirect(cx: &Cx<'_>, p: &Proxy, r: &Spanned<Redirect>) -> String {
    let kind = match r.node.kind {
        RedirectKind::Location => "location",
        RedirectKind::Prefix => "prefix",
        RedirectKind::Scheme => "scheme",
    };
    let mut s = format!("redirect {kind} {}", sword(&r.node.target));
    if r.node.code != 302 {
        s.push_str(&format!(" code {}", r.node.code));
    }
    if r.node.drop_query {
        s.push_str(" drop-query");
    }
    if r.node.append_slash {
        s.push_str(" append-slash");
    }
    match &r.node.cookie {
        Some(RedirectCookie::Set(c)) => s.push_str(&format!(" set-cookie {}", sword(c))),
        Some(RedirectCookie::Clear(c)) => s.push_str(&format!(" clear-cookie {}", sword(c))),
        None => {}
    }
    s.push_str(&opt_cond_text(cx, p, r.node.cond.as_ref(), &r.span));
    s
}

/// `reqadd`/`rspadd <Name: value>` as `add-header <Name> <value>`.
fn add_header(rule: &str, line: &[u8]) -> Result<String, String> {
    let Some(colon) = line.iter().position(|&c| c == b':') else {
        return Err(format!(
            "'{}' line without a ':' cannot become a 2.6 header (2.6 adds name/value \
             pairs): {}",
            if rule == "http-request" {
                "reqadd"
            } else {
                "rspadd"
            },
            String::from_utf8_lossy(line)
        ));
    };
    let name = line[..colon].trim_ascii();
    let value = line[colon + 1..].trim_ascii_start();
    if name.is_empty() || !name.iter().all(|&c| c.is_ascii_graphic() && c != b':') {
        return Err(format!(
            "header name '{}' cannot be written in 2.6",
            String::from_utf8_lossy(name)
        ));
    }
    Ok(format!(
        "{rule} add-header {} {}",
        enc::word(name),
        enc::word(&enc::logformat(value))
    ))
}

/// The shape of a `req*`/`rsp*` regex: which part of the message it can match.
enum Shape {
    /// `^Name:value-part`.
    Header(regex::HeaderSplit),
    /// The start line only.
    Line,
    /// Anything else (no anchor, alternatives...).
    Any,
}

fn shape(re: &[u8]) -> Shape {
    if let Some(h) = regex::split_header(re) {
        // `^GET` is a method, not the name of a header
        let method_like =
            h.name_prefix && h.name.bytes().all(|c| c.is_ascii_uppercase()) && !h.name.is_empty();
        if !method_like {
            return Shape::Header(h);
        }
        return Shape::Line;
    }
    if regex::split_request_line(re).is_some() {
        return Shape::Line;
    }
    Shape::Any
}

/// Regex text for 2.6 with 1.4's `i` variants as `(?i)`.
fn pcre(re: &str, icase: bool) -> String {
    if icase {
        format!("(?i){re}")
    } else {
        re.to_string()
    }
}

/// The condition atoms under which a matching filter acts, plus the statements that must
/// run before them.
fn match_atoms(
    re_src: &[u8],
    icase: bool,
    resp: bool,
) -> Result<(Dnf, Vec<String>, Option<String>), String> {
    let i = if icase { " -i" } else { "" };
    let side = if resp { "res" } else { "req" };
    match shape(re_src) {
        Shape::Header(h) => {
            let name = sword(&h.name);
            if h.name_prefix {
                // headers whose name starts so: no fetch walks names in 2.6 but `req.hdrs`,
                // where names are in lower case, hence `-i`
                let re = regex::to_pcre_block(re_src)?;
                return Ok((
                    Dnf::atom(format!("{{ {side}.hdrs -m reg -i {} }}", sword(&re))),
                    Vec::new(),
                    Some("the regex names a header prefix: it is matched (case-insensitively: 2.6 keeps names in lower case) against the whole header block.".into()),
                ));
            }
            let atom = if h.any_value {
                format!("{{ {side}.fhdr_cnt({name}) gt 0 }}")
            } else {
                format!("{{ {side}.fhdr({name}) -m reg{i} {} }}", sword(&h.value))
            };
            Ok((Dnf::atom(atom), Vec::new(), None))
        }
        Shape::Line if !resp => {
            let re = regex::to_pcre(re_src)?;
            Ok((
                Dnf::atom(format!("{{ var({LINE_VAR}) -m reg{i} {} }}", sword(&re))),
                vec![format!(
                    "http-request set-var-fmt({LINE_VAR}) \"%[method] %[url] HTTP/%[req.ver]\""
                )],
                Some("the regex is matched against the request line, rebuilt in a variable (2.6 has no fetch for it).".into()),
            ))
        }
        Shape::Line => Err("a regex on the status line cannot be matched in 2.6 (no fetch returns the whole status line)".into()),
        Shape::Any => {
            let re = regex::to_pcre(re_src)?;
            let hdrs = format!(
                "{{ {side}.hdrs -m reg{i} {} }}",
                sword(&regex::to_pcre_block(re_src)?)
            );
            if resp {
                return Ok((Dnf::atom(hdrs), Vec::new(), Some("the regex is not anchored to a header name: it is matched against the whole header block (2.6 writes names in lower case).".into())));
            }
            Ok((
                Dnf::atom(format!("{{ var({LINE_VAR}) -m reg{i} {} }}", sword(&re))).or(&Dnf::atom(hdrs)),
                vec![format!(
                    "http-request set-var-fmt({LINE_VAR}) \"%[method] %[url] HTTP/%[req.ver]\""
                )],
                Some("the regex is not anchored to a header name: it is matched against the request line (rebuilt in a variable) and the whole header block (2.6 writes names in lower case).".into()),
            ))
        }
    }
}

/// Converts one `req*` filter. `guard`: some filter of the configuration is a `reqallow`,
/// so verdicts must check its variable. `setbe` is set when a `reqsetbe` needs the
/// `use_backend` reading its variable.
fn req_filter(
    cx: &Cx<'_>,
    p: &Proxy,
    f: &Spanned<HeaderFilter>,
    guard: bool,
    setbe: &mut bool,
) -> Result<Vec<Item>, String> {
    filter(cx, p, f, false, guard, setbe)
}

fn kw_of(f: &HeaderFilter, resp: bool) -> String {
    let base = match (&f.action, resp) {
        (FilterAction::Replace(_), false) => "reqrep",
        (FilterAction::Replace(_), true) => "rsprep",
        (FilterAction::Delete, false) => "reqdel",
        (FilterAction::Delete, true) => "rspdel",
        (FilterAction::Allow, _) => "reqallow",
        (FilterAction::Deny, false) => "reqdeny",
        (FilterAction::Deny, true) => "rspdeny",
        (FilterAction::Pass, _) => "reqpass",
        (FilterAction::Tarpit, _) => "reqtarpit",
        (FilterAction::SetBackend(_), _) => "reqsetbe",
    };
    if f.icase {
        format!("{}i{}", &base[..3], &base[3..])
    } else {
        base.to_string()
    }
}

fn filter(
    cx: &Cx<'_>,
    p: &Proxy,
    f: &Spanned<HeaderFilter>,
    resp: bool,
    guard: bool,
    setbe: &mut bool,
) -> Result<Vec<Item>, String> {
    let words = cx.src.words(&f.span);
    let re_src = words.get(1).cloned().unwrap_or_default();
    let kw = kw_of(&f.node, resp);
    let rule = if resp {
        "http-response"
    } else {
        "http-request"
    };
    let cond = opt_cond_dnf(cx, p, f.node.cond.as_ref(), &f.span);
    let fail = |why: String| {
        format!(
            "'{kw}' not carried over: {why}. Was: {}",
            super::words_lossy(words)
        )
    };
    let mut items = vec![Item::Note(format!(
        "'{kw}' was removed in 2.1 (header rewriting by regex on whole lines):"
    ))];
    let allow_guard = Dnf::atom(format!("!{{ var({ALLOW_VAR}) -m bool }}"));
    match &f.node.action {
        FilterAction::Replace(repl) => {
            let repl = Repl::parse(repl);
            match shape(&re_src) {
                Shape::Header(h) if !h.name_prefix => {
                    let value_repl = header_value_repl(&h, &repl).map_err(&fail)?;
                    let re = pcre(&h.value, f.node.icase);
                    items.push(Item::Stmt(with_cond(
                        &format!(
                            "{rule} replace-header {} {} {}",
                            sword(&h.name),
                            sword(&re),
                            enc::word(&value_repl)
                        ),
                        &cond,
                    )));
                }
                Shape::Line if !resp => {
                    let (stmt, mcond) =
                        request_line_repl(&re_src, &repl, f.node.icase).map_err(&fail)?;
                    items.push(Item::Stmt(with_cond(&stmt, &cond.and(&mcond))));
                }
                _ => {
                    return Err(fail(
                        "the regex does not name one header (^Name:) nor split into the \
                         request line's method, URI and version"
                            .into(),
                    ))
                }
            }
        }
        FilterAction::Delete => match shape(&re_src) {
            Shape::Header(h) => {
                let m = if h.name_prefix { " -m beg" } else { "" };
                let stmt = format!("{rule} del-header {}{m}", sword(&h.name));
                if h.any_value || h.name_prefix {
                    items.push(Item::Stmt(with_cond(&stmt, &cond)));
                } else {
                    let side = if resp { "res" } else { "req" };
                    let i = if f.node.icase { " -i" } else { "" };
                    items.push(Item::Note(format!(
                        "1.4 deleted only the '{}' lines whose value matched; 2.6 deletes \
                         every '{}' header when one of them matches.",
                        h.name, h.name
                    )));
                    let m = Dnf::atom(format!(
                        "{{ {side}.fhdr({}) -m reg{i} {} }}",
                        sword(&h.name),
                        sword(&h.value)
                    ));
                    items.push(Item::Stmt(with_cond(&stmt, &cond.and(&m))));
                }
            }
            _ if re_src
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
                && !re_src.is_empty() =>
            {
                // an unanchored word: 1.4 deleted every header line containing it
                items.push(Item::Note(format!(
                    "1.4 deleted every header line containing '{}' (name or value, case \
                     {}sensitive); 2.6 deletes the headers whose name contains it.",
                    String::from_utf8_lossy(&re_src),
                    if f.node.icase { "in" } else { "" }
                )));
                items.push(Item::Stmt(with_cond(
                    &format!("{rule} del-header {} -m sub", enc::word(&re_src)),
                    &cond,
                )));
            }
            _ => return Err(fail("the regex does not name a header (^Name:)".into())),
        },
        FilterAction::Pass => {
            return Err(format!(
                "'{kw}' dropped: it has no effect in 1.4 beyond skipping the remaining lines \
                 for itself. Was: {}",
                super::words_lossy(words)
            ))
        }
        FilterAction::Deny
        | FilterAction::Tarpit
        | FilterAction::Allow
        | FilterAction::SetBackend(_) => {
            let (m, pre, note) = match_atoms(&re_src, f.node.icase, resp).map_err(&fail)?;
            if let Some(n) = note {
                items.push(Item::Note(n));
            }
            for s in pre {
                items.push(Item::Stmt(s));
            }
            let mut c = cond.and(&m);
            if guard && !matches!(f.node.action, FilterAction::SetBackend(_)) && !resp {
                c = c.and(&allow_guard);
            }
            let stmt = match &f.node.action {
                FilterAction::Deny => format!("{rule} deny"),
                FilterAction::Tarpit => format!("{rule} tarpit"),
                FilterAction::Allow => {
                    items.push(Item::Note(
                        "1.4's reqallow only makes the later allow/deny/tarpit filters skip: a \
                         variable records it and those rules check it."
                            .into(),
                    ));
                    format!("http-request set-var({ALLOW_VAR}) bool(true)")
                }
                FilterAction::SetBackend(be) => {
                    if !p.kind.has_fe() {
                        return Err(format!(
                            "'{kw}' dropped: in a backend 1.4 never switches again. Was: {}",
                            super::words_lossy(words)
                        ));
                    }
                    *setbe = true;
                    c = c.and(&Dnf::atom(format!("!{{ var({SETBE_VAR}) -m found }}")));
                    format!("http-request set-var({SETBE_VAR}) str({})", sword(be))
                }
                FilterAction::Replace(_) | FilterAction::Delete | FilterAction::Pass => {
                    return Err(fail("not a verdict".into()))
                }
            };
            items.push(Item::Stmt(with_cond(&stmt, &c)));
        }
    }
    Ok(items)
}

/// The value replacement of a header `reqrep`: the replacement must start with the same
/// header name (literally or through a group that held it).
fn header_value_repl(h: &regex::HeaderSplit, repl: &Repl) -> Result<Vec<u8>, String> {
    let mut parts = repl.0.clone();
    let name_lc = h.name.to_ascii_lowercase();
    let strip_blanks = |parts: &mut Vec<ReplPart>| {
        if let Some(ReplPart::Lit(b)) = parts.first_mut() {
            let n = b.iter().take_while(|c| **c == b' ' || **c == b'\t').count();
            b.drain(..n);
            if b.is_empty() {
                parts.remove(0);
            }
        }
    };
    match parts.first().cloned() {
        Some(ReplPart::Ref(g)) => match h.groups.get(g.wrapping_sub(1)) {
            Some(GroupFate::Literal(t)) if t.ends_with(b":") => {
                parts.remove(0);
                strip_blanks(&mut parts);
            }
            Some(GroupFate::Literal(_)) => {
                parts.remove(0);
                match parts.first_mut() {
                    Some(ReplPart::Lit(b)) if b.first() == Some(&b':') => {
                        b.remove(0);
                        if b.is_empty() {
                            parts.remove(0);
                        }
                    }
                    _ => return Err("the replacement does not keep the header name".into()),
                }
                strip_blanks(&mut parts);
            }
            Some(GroupFate::KeptWithName(n)) => {
                parts[0] = ReplPart::Ref(*n);
                let mut rest = Repl(parts[1..].to_vec())
                    .render(&h.groups)
                    .ok_or("the replacement uses a group 2.6 cannot provide")?;
                let mut out = format!("\\{n}").into_bytes();
                out.append(&mut rest);
                return Ok(out);
            }
            _ => return Err("the replacement does not start with the header name".into()),
        },
        Some(ReplPart::Lit(b)) => {
            let colon = b
                .iter()
                .position(|&c| c == b':')
                .ok_or("the replacement is not a header line")?;
            let new_name = String::from_utf8_lossy(&b[..colon]).to_ascii_lowercase();
            if new_name != name_lc {
                return Err(format!(
                    "the replacement renames header '{}' to '{}'",
                    h.name,
                    String::from_utf8_lossy(&b[..colon])
                ));
            }
            let rest = b[colon + 1..].to_vec();
            if rest.is_empty() {
                parts.remove(0);
            } else {
                parts[0] = ReplPart::Lit(rest);
            }
            strip_blanks(&mut parts);
        }
        None => return Err("the replacement is empty (the line would be emptied)".into()),
    }
    Repl(parts)
        .render(&h.groups)
        .ok_or_else(|| "the replacement uses a group 2.6 cannot provide".into())
}

/// A request-line `reqrep` as `replace-uri`: the method and version must come out as they
/// went in. Returns the statement and the condition on the method it implies.
fn request_line_repl(re_src: &[u8], repl: &Repl, icase: bool) -> Result<(String, Dnf), String> {
    let l = regex::split_request_line(re_src)
        .ok_or("the regex does not split into method, URI and version")?;
    let rparts = repl.split_spaces();
    let nparts = if l.version.is_some() { 3 } else { 2 };
    if rparts.len() != nparts {
        return Err("the replacement does not keep the request line's fields".into());
    }
    // the method must be written back unchanged
    let method_ok = match rparts[0].0.as_slice() {
        [ReplPart::Ref(g)] => regex::whole_group(&l.method) == Some(*g),
        [ReplPart::Lit(t)] => regex::literal_text(&l.method).as_deref() == Some(t.as_slice()),
        _ => false,
    };
    if !method_ok {
        return Err("the replacement changes the method".into());
    }
    if let Some(v) = &l.version {
        let ok = match rparts[2].0.as_slice() {
            [ReplPart::Ref(g)] => regex::whole_group(v) == Some(*g),
            [ReplPart::Lit(t)] => regex::literal_text(v).as_deref() == Some(t.as_slice()),
            _ => false,
        };
        if !ok {
            return Err("the replacement changes the HTTP version".into());
        }
    }
    let uri_repl = rparts[1]
        .render(&l.groups)
        .ok_or("the new URI uses a group outside the URI")?;
    let mcond = if regex::any_method(&l.method) {
        Dnf::always()
    } else if let Some(m) = regex::literal_text(&l.method) {
        Dnf::atom(format!("{{ method {} }}", enc::word(&m)))
    } else {
        let inner = regex::nodes_pcre(&l.method, &|_| None);
        Dnf::atom(format!(
            "{{ method -m reg {} }}",
            sword(&format!("^{inner}$"))
        ))
    };
    let re = pcre(&l.uri, icase);
    Ok((
        format!(
            "http-request replace-uri {} {}",
            sword(&re),
            enc::word(&uri_repl)
        ),
        mcond,
    ))
}

/// The response side of a section.
pub(super) fn response(cx: &Cx<'_>, k: &mut Sink<'_>, p: &Proxy) {
    let mut entries = Vec::new();
    let mut unused = false;
    for f in &p.rsp_filters {
        let own = k.owns(&f.span);
        match filter(cx, p, f, true, false, &mut unused) {
            Ok(items) => entries.push(Entry {
                phase: 0,
                span: f.span.clone(),
                own,
                last: false,
                items,
            }),
            Err(why) => k.loss(&f.span, why),
        }
    }
    for a in &p.rspadd {
        let own = k.owns(&a.span);
        match add_header("http-response", &a.node.line) {
            Ok(s) => {
                let c = opt_cond_text(cx, p, a.node.cond.as_ref(), &a.span);
                entries.push(Entry {
                    phase: 1,
                    span: a.span.clone(),
                    own,
 last: false,
                    items: vec![
                        Item::Note("'rspadd' was removed in 2.1: 'http-response add-header' (2.6 sends header names in lower case).".to_string()),
                        Item::Stmt(format!("{s}{c}")),
                    ],
                });
            }
            Err(why) => k.loss(&a.span, why),
        }
    }
    place(
        k,
        entries,
        &p.span,
        "these http-response rules are written in 1.4's order (rsp* filters, then rspadd), \
         which the file order does not follow.",
    );
}

// ---------------------------------------------------------------------------------------------
// persistence
// ---------------------------------------------------------------------------------------------

fn pattern(pt: &Pattern) -> String {
    let mut s = match &pt.fetch {
        PatternFetch::Src => "src".to_string(),
        PatternFetch::Dst => "dst".to_string(),
        PatternFetch::DstPort => "dst_port".to_string(),
        // 1.4's `hdr` pattern reads the value as an IPv4 address
        PatternFetch::Hdr { name, occ } => format!("req.hdr_ip({},{occ})", sword(name)),
    };
    for c in &pt.converters {
        match c {
            Converter::Lower => s.push_str(",lower"),
            Converter::Upper => s.push_str(",upper"),
            Converter::IpMask(m) => s.push_str(&format!(",ipmask({m})")),
        }
    }
    s
}

/// A size with 1.4's (and 2.6's) binary suffixes when it has one (`204800` -> `200k`).
fn size(n: u64) -> String {
    for (suffix, div) in [("g", 1u64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
        if n != 0 && n % div == 0 {
            return format!("{}{suffix}", n / div);
        }
    }
    n.to_string()
}

fn stick_table(t: &StickTable) -> String {
    let ty = match t.key {
        StickKey::Ip => "ip".to_string(),
        StickKey::Integer => "integer".to_string(),
        StickKey::String { len: 32 } => "string".to_string(),
        StickKey::String { len } => format!("string len {len}"),
    };
    let mut s = format!("stick-table type {ty} size {}", size(t.size));
    if let Some(e) = t.expire {
        s.push_str(&format!(" expire {}", time(e)));
    }
    if t.nopurge {
        s.push_str(" nopurge");
    }
    s
}

pub(super) fn persistence(cx: &Cx<'_>, k: &mut Sink<'_>, p: &Proxy, role: &Role<'_>) {
    if let Some(c) = &p.cookie {
        let v = &c.node;
        let mut s = format!("cookie {}", sword(&v.name));
        match v.mode {
            CookieMode::Passive => {}
            CookieMode::Rewrite => s.push_str(" rewrite"),
            CookieMode::Insert => s.push_str(" insert"),
            CookieMode::Prefix => s.push_str(" prefix"),
        }
        for (on, w) in [
            (v.indirect, "indirect"),
            (v.nocache, "nocache"),
            (v.postonly, "postonly"),
            (v.preserve, "preserve"),
            (v.httponly, "httponly"),
            (v.secure, "secure"),
        ] {
            if on {
                s.push(' ');
                s.push_str(w);
            }
        }
        for d in &v.domains {
            s.push_str(&format!(" domain {}", sword(d)));
        }
        if let Some(t) = v.maxidle {
            s.push_str(&format!(" maxidle {}", enc::time_s(t)));
        }
        if let Some(t) = v.maxlife {
            s.push_str(&format!(" maxlife {}", enc::time_s(t)));
        }
        if v.nocache {
            k.note(
                &c.span,
                "'nocache': 2.6 adds 'Cache-Control: private' (written 'cache-control') only \
                 to responses it considers cacheable, which since 2.4 requires freshness \
                 information (Expires, max-age, Last-Modified, ETag); 1.4 added it to every \
                 response carrying the inserted cookie.",
            );
        }
        k.stmt(&c.span, s);
    }
    if let Some(r) = &p.persist_rdp_cookie {
        if r.node.is_empty() || r.node == "msts" {
            k.stmt(&r.span, "persist rdp-cookie");
        } else {
            k.stmt(&r.span, format!("persist rdp-cookie({})", sword(&r.node)));
        }
    }
    for (list, kw) in [
        (&p.force_persist, "force-persist"),
        (&p.ignore_persist, "ignore-persist"),
    ] {
        for c in list {
            k.stmt(
                &c.span,
                format!("{kw} {}", cond_text(cx, p, &c.node, &c.span)),
            );
        }
    }
    if let Some(t) = &p.stick_table {
        k.stmt(&t.span, stick_table(&t.node));
    }
    for r in &p.stick_rules {
        let kind = match r.node.kind {
            StickRuleKind::On => "on",
            StickRuleKind::Match => "match",
            StickRuleKind::StoreRequest => "store-request",
        };
        let mut s = format!("stick {kind} {}", pattern(&r.node.pattern));
        if let Some(t) = &r.node.table {
            s.push_str(&format!(" table {}", sword(t)));
        }
        s.push_str(&opt_cond_text(cx, p, r.node.cond.as_ref(), &r.span));
        k.stmt(&r.span, s);
    }
    if let Some(a) = &p.appsession {
        appsession(k, p, role, a);
    }
}

/// `appsession` (removed in 1.6) as a string stick table: the session id is learnt from
/// the server's `Set-Cookie` and looked up in the request's cookie and URL.
fn appsession(k: &mut Sink<'_>, p: &Proxy, role: &Role<'_>, a: &Spanned<AppSession>) {
    let v = &a.node;
    if role.is_defaults {
        k.loss(
            &a.span,
            "'appsession' in 'defaults' dropped: 1.4 does not pass it on to the proxies \
             (and 2.6 allows no stick table in 'defaults').",
        );
        return;
    }
    let name = sword(&v.cookie);
    k.note(
        &a.span,
        format!(
            "'appsession' was removed in 1.6: a stick table keyed by the session id (its \
             first {} bytes), learnt from the server's '{}' cookie, looked up in the \
             request's cookie{} and URL {}, forgotten after {} idle. 1.4's table had no size \
             limit; this one holds 100k sessions.",
            v.len,
            v.cookie,
            if v.request_learn {
                " (and learnt from it: request-learn)"
            } else {
                ""
            },
            match v.mode {
                AppSessionMode::PathParameters => "path parameter (';name=value')",
                AppSessionMode::QueryString => "query string ('?name=value')",
            },
            time(v.timeout)
        ),
    );
    if v.prefix {
        k.loss(
            &a.span,
            "'appsession ... prefix' not carried over: 2.6 cannot look a cookie up by a \
             prefix of its name; the cookie is matched by its exact name.",
        );
    }
    let table_line = format!(
        "stick-table type string len {} size 100k expire {}",
        v.len,
        time(v.timeout)
    );
    let table = if p.stick_table.is_some() {
        let holder = format!("hx_appsession_{}", p.name);
        k.note(
            &a.span,
            format!(
                "this proxy already has a stick table: the sessions go to the table of \
                 backend '{holder}' (added at the end of the file)."
            ),
        );
        k.out
            .trailer
            .push(format!("backend {}\n    {table_line}\n", sword(&holder)));
        format!(" table {}", sword(&holder))
    } else {
        k.stmt(&a.span, table_line);
        String::new()
    };
    let req = if v.request_learn { "on" } else { "match" };
    k.stmt(&a.span, format!("stick {req} req.cook({name}){table}"));
    let url = match v.mode {
        AppSessionMode::PathParameters => format!("url_param({name},;)"),
        AppSessionMode::QueryString => format!("url_param({name})"),
    };
    k.stmt(&a.span, format!("stick match {url}{table}"));
    k.stmt(
        &a.span,
        format!("stick store-response res.cook({name}){table}"),
    );
}
