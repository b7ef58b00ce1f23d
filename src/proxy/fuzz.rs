//! Fuzz entry points for the rule engine and the ACL header fetches, shared by the cargo-fuzz
//! targets in `fuzz/fuzz_targets/` (`rules`, `acl_header`) and by `tests/fuzz_corpus.rs`,
//! which replays the committed corpora on every test run.
//!
//! [`rules`] turns the input into a few `req*`/`rsp*` regex rules with random patterns and
//! replacements, builds a configuration holding them (each byte written as `\xHH`, so the
//! configuration lexer and the 1.4-regex translation in `parser::kw::regex` see the raw
//! pattern), and runs [`process_request`]/[`process_response`] over the rest of the input
//! parsed as a request and as a response. Patterns are short, and compiled by the parser
//! with the `regex` crate's size limit, which bounds both compile time and memory, so a
//! hostile pattern costs an error, never a hang.
//!
//! [`acl_header`] drives the comma splitter of header values ([`HdrValues`], 1.4
//! `http_find_header2`), the element parsers of `hdr_ip`/`hdr_val`, Basic credentials, and
//! the `hdr*` ACLs through a live configuration, cross-checking `hdr_cnt` and `hdr_ip`
//! against the splitter.
//!
//! Each function panics only on a broken invariant, which is what the fuzzer looks for.

use super::rules::{
    expand, process_request, process_response, valid_request_line, ReqCtx, ReqFlags, ReqHead,
    ReqVerdict, ResVerdict,
};
use super::view::Base;
use crate::acl::{auth, fetch, HdrValues};
use crate::http1::{comma_values, HeadEdit, HeadIndex, Method, Parse, ParseOptions};
use crate::runtime::{GlobalSettings, Proxy, Runtime};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::sync::OnceLock;

/// Longest pattern or replacement taken from the input.
const MAX_PATTERN: usize = 48;
/// Largest head looked at (bigger inputs only cost time).
const MAX_HEAD: usize = 15360;

/// Builds a runtime from configuration text as the process would (names are not resolved);
/// `None` when the configuration is refused.
pub fn runtime_from_text(text: &str) -> Option<Runtime> {
    let opts = parser::LoadOptions {
        resolve_names: false,
        ..parser::LoadOptions::default()
    };
    let config = parser::load_str("fuzz.cfg", text.as_bytes(), &opts).config?;
    let global = GlobalSettings {
        maxconn: 100,
        bufsize: 16384,
        maxrewrite: 1024,
        node: "fuzz".into(),
        description: None,
        nbproc: 1,
        spread_checks: 0,
        splice: false,
        ulimit_n: 1024,
        pidfile: None,
        sockbuf: Default::default(),
    };
    Runtime::build(config, global).ok()
}

/// The fixed parts of a rule set's view (addresses, ids) for `px`.
pub fn base<'a>(rt: &'a Runtime, px: &'a Proxy) -> Base<'a> {
    Base {
        rt,
        fe: px,
        be: px,
        server_id: None,
        peer: std::net::SocketAddr::from(([127, 0, 0, 1], 40000)),
        local: std::net::SocketAddr::from(([127, 0, 0, 1], 80)),
        luid: 1,
        first_req: true,
        capacity: MAX_HEAD,
    }
}

/// Writes `bytes` as one configuration word: letters and digits as they are, every other
/// byte as `\xHH` (the 1.4 lexer turns it back into that byte).
fn cfg_word(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
}

/// A rule decoded from the input.
#[derive(Clone, Debug)]
struct FuzzRule {
    /// Response rule (`rsp*`) rather than request rule.
    res: bool,
    action: Action,
    icase: bool,
    pattern: Vec<u8>,
    repl: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Replace,
    Delete,
    Allow,
    Deny,
    Pass,
    Tarpit,
    SetBackend,
}

impl FuzzRule {
    fn keyword(&self) -> String {
        let verb = match (self.res, self.action) {
            (_, Action::Replace) => "rep",
            (_, Action::Delete) => "del",
            (false, Action::Allow) => "allow",
            (_, Action::Deny) => "deny",
            (false, Action::Pass) => "pass",
            (false, Action::Tarpit) => "tarpit",
            (false, Action::SetBackend) => "setbe",
            // Response rules have no allow/pass/tarpit/setbe: made a deny.
            (true, _) => "deny",
        };
        format!(
            "{}{}{verb}",
            if self.res { "rsp" } else { "req" },
            if self.icase { "i" } else { "" }
        )
    }

    /// The action as the configuration sees it (response rules only have rep/del/deny).
    fn effective(&self) -> Action {
        match (self.res, self.action) {
            (true, Action::Replace | Action::Delete) => self.action,
            (true, _) => Action::Deny,
            (false, a) => a,
        }
    }
}

/// Decodes the rules at the start of `data`; returns them and the rest (the head).
fn decode_rules(data: &[u8]) -> (Vec<FuzzRule>, &[u8]) {
    let Some((&n, mut rest)) = data.split_first() else {
        return (Vec::new(), data);
    };
    let mut rules = Vec::new();
    for _ in 0..1 + usize::from(n & 3) {
        let [k, plen, rest2 @ ..] = rest else {
            break;
        };
        let plen = usize::from(*plen) % (MAX_PATTERN + 1);
        let (pattern, rest3) = rest2.split_at(plen.min(rest2.len()));
        let Some((&rlen, rest4)) = rest3.split_first() else {
            break;
        };
        let rlen = usize::from(rlen) % (MAX_PATTERN + 1);
        let (repl, rest5) = rest4.split_at(rlen.min(rest4.len()));
        rest = rest5;
        let action = match (k & 0x3f) % 7 {
            0 => Action::Replace,
            1 => Action::Delete,
            2 => Action::Allow,
            3 => Action::Deny,
            4 => Action::Pass,
            5 => Action::Tarpit,
            _ => Action::SetBackend,
        };
        rules.push(FuzzRule {
            res: k & 0x40 != 0,
            action,
            icase: k & 0x80 != 0,
            pattern: pattern.to_vec(),
            repl: repl.to_vec(),
        });
    }
    (rules, rest)
}

/// The configuration holding `rules` in a `listen` section (`other` is the `reqsetbe` target).
fn rules_config(rules: &[FuzzRule]) -> String {
    let mut cfg = String::from(
        "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
         listen fz\n bind 127.0.0.1:1\n server s1 127.0.0.1:2\n",
    );
    for r in rules {
        cfg.push(' ');
        cfg.push_str(&r.keyword());
        cfg.push(' ');
        // An empty word cannot be written; `^` matches everywhere like an empty pattern.
        if r.pattern.is_empty() {
            cfg.push('^');
        } else {
            cfg_word(&mut cfg, &r.pattern);
        }
        match r.effective() {
            Action::Replace => {
                cfg.push(' ');
                if r.repl.is_empty() {
                    cfg.push('X');
                } else {
                    cfg_word(&mut cfg, &r.repl);
                }
            }
            Action::SetBackend => cfg.push_str(" other"),
            _ => {}
        }
        cfg.push('\n');
    }
    cfg.push_str("backend other\n server s2 127.0.0.1:3\n");
    cfg
}

/// Rule engine target: random `req*`/`rsp*` rules over a random head (see the module doc).
pub fn rules(data: &[u8]) {
    let (rules, head) = decode_rules(data);
    if rules.is_empty() {
        return;
    }
    let head = &head[..head.len().min(MAX_HEAD)];
    let text = rules_config(&rules);
    let Some(rt) = runtime_from_text(&text) else {
        return;
    };
    let Some(px) = rt.proxy_by_name("fz") else {
        panic!("listen section missing from the runtime");
    };
    let accept_invalid = data.first().is_some_and(|b| b & 0x80 != 0);
    let opts = ParseOptions {
        max_head: MAX_HEAD,
        accept_invalid,
    };
    let req_rules: Vec<&FuzzRule> = rules.iter().filter(|r| !r.res).collect();
    let res_rules: Vec<&FuzzRule> = rules.iter().filter(|r| r.res).collect();
    assert_eq!(px.cfg.req_filters.len(), req_rules.len());
    assert_eq!(px.cfg.rsp_filters.len(), res_rules.len());

    let mut idx = HeadIndex::new();
    if idx.parse_request(head, &opts) == Parse::Complete {
        let first = run_request(&rt, px, head, &idx);
        check_request(px, &req_rules, head, &idx, &first);
        let again = run_request(&rt, px, head, &idx);
        assert_eq!(
            first.verdict, again.verdict,
            "request rules not deterministic"
        );
        assert_eq!(
            first.written, again.written,
            "request rules not deterministic"
        );
        check_expand(px, head, &idx);
    }
    let mut idx = HeadIndex::new();
    if idx.parse_response(head, &opts, Method::Get) == Parse::Complete {
        let b = base(&rt, px);
        let mut edit = HeadEdit::new();
        edit.reset(&idx);
        let verdict = process_response(&b, px, None, head, &idx, &mut edit);
        match verdict {
            ResVerdict::Continue => {}
            ResVerdict::Deny => assert!(
                res_rules.iter().any(|r| r.effective() == Action::Deny),
                "rspdeny verdict without a deny rule"
            ),
            ResVerdict::Invalid => assert!(
                res_rules.iter().any(|r| r.effective() == Action::Replace),
                "invalid status line without a rewrite"
            ),
        }
        if verdict == ResVerdict::Continue {
            if let (Some(last), Some(f)) = (res_rules.last(), px.cfg.rsp_filters.last()) {
                if last.effective() == Action::Delete {
                    for (_, line) in edit.lines(head, &idx) {
                        assert!(!f.regex.is_match(line), "rspdel left a matching line");
                    }
                }
            }
        }
        let mut out = Vec::new();
        edit.write(head, &idx, &mut out);
        if edit.is_unedited() {
            assert_eq!(out.as_slice(), &head[idx.head_start()..idx.head_end()]);
        }
    }
}

struct ReqRun {
    verdict: ReqVerdict,
    flags: ReqFlags,
    written: Vec<u8>,
    start_line: Vec<u8>,
    /// Live header lines after the rules.
    lines: Vec<Vec<u8>>,
    unedited: bool,
}

fn run_request(rt: &Runtime, px: &Proxy, head: &[u8], idx: &HeadIndex) -> ReqRun {
    let b = base(rt, px);
    let mut edit = HeadEdit::new();
    edit.reset(idx);
    let mut flags = ReqFlags::default();
    let mut out = Vec::new();
    let rh = ReqHead { buf: head, idx };
    let verdict = process_request(
        &b,
        px,
        &rh,
        &mut edit,
        &mut flags,
        true,
        &ReqCtx::default(),
        &mut out,
    );
    let mut written = Vec::new();
    edit.write(head, idx, &mut written);
    ReqRun {
        verdict,
        flags,
        written,
        start_line: edit.start_line(head, idx).to_vec(),
        lines: edit.lines(head, idx).map(|(_, l)| l.to_vec()).collect(),
        unedited: edit.is_unedited(),
    }
}

fn check_request(px: &Proxy, rules: &[&FuzzRule], head: &[u8], idx: &HeadIndex, run: &ReqRun) {
    let has = |a: Action| rules.iter().any(|r| r.effective() == a);
    match run.verdict {
        ReqVerdict::Continue => {}
        ReqVerdict::Deny => assert!(has(Action::Deny), "deny without a reqdeny rule"),
        ReqVerdict::Tarpit => assert!(has(Action::Tarpit), "tarpit without a reqtarpit rule"),
        ReqVerdict::BadRequest => {
            assert!(has(Action::Replace), "400 without a rewrite");
            assert!(!valid_request_line(&run.start_line), "400 on a valid line");
        }
        ref v => panic!("unexpected verdict {v:?} from regex rules"),
    }
    if run.flags.set_backend.is_some() {
        assert!(has(Action::SetBackend), "backend switched without reqsetbe");
    }
    let original_line = idx.start_line().get(head);
    if run.verdict == ReqVerdict::Continue && run.start_line != original_line {
        assert!(
            valid_request_line(&run.start_line),
            "rewritten request line accepted although invalid"
        );
    }
    // A trailing reqdel leaves no header line its pattern matches.
    if run.verdict == ReqVerdict::Continue {
        if let (Some(last), Some(f)) = (rules.last(), px.cfg.req_filters.last()) {
            if last.effective() == Action::Delete {
                for l in &run.lines {
                    assert!(!f.regex.is_match(l), "reqdel left a matching line");
                }
            }
        }
    }
    if run.unedited {
        assert_eq!(
            run.written.as_slice(),
            &head[idx.head_start()..idx.head_end()]
        );
    } else {
        assert!(run.written.starts_with(&run.start_line));
    }
}

/// Properties of `expand` (1.4 `exp_replace`) over the head's lines with each rule's regex.
fn check_expand(px: &Proxy, head: &[u8], idx: &HeadIndex) {
    let mut out = Vec::new();
    let lines = std::iter::once(idx.start_line().get(head))
        .chain(idx.headers().iter().map(|h| h.line().get(head)));
    for line in lines {
        for f in &px.cfg.req_filters {
            // Without a backslash the replacement is copied as is.
            out.clear();
            expand(&f.regex, line, b"plain-text", &mut out);
            assert_eq!(out, b"plain-text");
            // `\0` is the whole (first) match, nothing without one.
            out.clear();
            expand(&f.regex, line, b"<\\0>", &mut out);
            let m = f.regex.find(line).map_or(&[][..], |m| m.as_bytes());
            assert_eq!(&out[1..out.len() - 1], m);
            if let parser::ir::FilterAction::Replace(repl) = &f.action {
                out.clear();
                expand(&f.regex, line, repl, &mut out);
                // Output is bounded by the replacement plus ten copies of the line.
                assert!(out.len() <= repl.len() + 10 * line.len());
            }
        }
    }
}

/// The configuration behind [`acl_header`]: `reqadd` lines tell which ACLs matched.
const ACL_CONFIG: &str = "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
userlist ul\n group g users alice\n user alice insecure-password s3cret\n user bob insecure-password x\n\
listen fz\n bind 127.0.0.1:1\n server s1 127.0.0.1:2\n\
 acl c0 hdr_cnt(x-h) eq 0\n acl c1 hdr_cnt(x-h) eq 1\n acl c2 hdr_cnt(x-h) eq 2\n\
 acl c3 hdr_cnt(x-h) eq 3\n acl c4 hdr_cnt(x-h) eq 4\n acl c5 hdr_cnt(x-h) eq 5\n\
 acl c6 hdr_cnt(x-h) eq 6\n acl c7 hdr_cnt(x-h) eq 7\n acl c8 hdr_cnt(x-h) eq 8\n\
 acl ten hdr_ip(x-h) 10.0.0.0/8\n acl pos hdr_val(x-h) gt 0\n acl beg hdr_beg(x-h) -i abc\n\
 acl end hdr_end(x-h) xyz\n acl sub hdr_sub(x-h) b,c\n acl reg hdr_reg(x-h) ^a.*b$\n\
 acl dir hdr_dir(x-h) /p\n acl dom hdr_dom(x-h) example.com\n acl len hdr_len(x-h) gt 3\n\
 acl any hdr(x-h) -i abc\n acl auth http_auth(ul)\n acl alice http_auth_group(ul) g\n\
 reqadd X-Cnt:\\ 0 if c0\n reqadd X-Cnt:\\ 1 if c1\n reqadd X-Cnt:\\ 2 if c2\n\
 reqadd X-Cnt:\\ 3 if c3\n reqadd X-Cnt:\\ 4 if c4\n reqadd X-Cnt:\\ 5 if c5\n\
 reqadd X-Cnt:\\ 6 if c6\n reqadd X-Cnt:\\ 7 if c7\n reqadd X-Cnt:\\ 8 if c8\n\
 reqadd X-Ten:\\ 1 if ten\n reqadd X-Pos:\\ 1 if pos\n reqadd X-Other:\\ 1 if beg or end or sub or reg\n\
 reqadd X-Other:\\ 2 if dir or dom or len or any\n reqadd X-Auth:\\ 1 if auth\n\
 reqadd X-Auth:\\ 2 if alice\n";

fn acl_runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        runtime_from_text(ACL_CONFIG).unwrap_or_else(|| panic!("ACL fuzz configuration refused"))
    })
}

/// ACL header target: the header value splitter and the `hdr*` fetches (see the module doc).
pub fn acl_header(data: &[u8]) {
    let data = &data[..data.len().min(MAX_HEAD)];
    check_splitter(data);

    // The input's lines become `X-H:` headers (and one `Authorization:`) of a request.
    let mut req = b"GET /p/q HTTP/1.1\r\n".to_vec();
    for (n_lines, line) in data.split(|&b| b == b'\n').take(8).enumerate() {
        let clean: Vec<u8> = line
            .iter()
            .copied()
            .filter(|&b| b != b'\r' && b != 0)
            .collect();
        let name: &[u8] = if n_lines == 0 && clean.starts_with(b"Basic ") {
            b"Authorization: "
        } else {
            b"X-H: "
        };
        req.extend_from_slice(name);
        req.extend_from_slice(&clean);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    let opts = ParseOptions {
        max_head: MAX_HEAD + 1024,
        accept_invalid: true,
    };
    let mut idx = HeadIndex::new();
    if idx.parse_request(&req, &opts) != Parse::Complete {
        return;
    }
    let rt = acl_runtime();
    let Some(px) = rt.proxy_by_name("fz") else {
        panic!("listen section missing from the runtime");
    };
    let run = run_request(rt, px, &req, &idx);
    assert_eq!(run.verdict, ReqVerdict::Continue);

    // What the splitter says about the X-H values as the head parser stored them.
    let mut count = 0usize;
    let mut ten = false;
    for (_, v) in idx.find(&req, b"x-h") {
        for e in HdrValues::new(v) {
            count += 1;
            ten |= fetch::header_ip(e).octets()[0] == 10;
        }
    }
    let added = |name: &str| -> Vec<&[u8]> {
        run.lines
            .iter()
            .filter_map(|l| {
                l.strip_prefix(name.as_bytes())
                    .and_then(|r| r.strip_prefix(b": "))
            })
            .collect()
    };
    let cnt = added("X-Cnt");
    if count <= 8 {
        assert_eq!(cnt, [count.to_string().as_bytes()], "hdr_cnt disagrees");
    } else {
        assert!(cnt.is_empty(), "hdr_cnt matched a wrong count");
    }
    assert_eq!(!added("X-Ten").is_empty(), ten, "hdr_ip disagrees");
}

/// Differential and structural checks of the header value splitter.
fn check_splitter(value: &[u8]) {
    let ours: Vec<&[u8]> = HdrValues::new(value).collect();
    let codec: Vec<&[u8]> = comma_values(value).collect();
    assert_eq!(ours, codec, "ACL and codec splitters disagree");
    assert!(!ours.is_empty(), "a value has at least one element");
    let range = value.as_ptr_range();
    let lws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    for e in &ours {
        let r = e.as_ptr_range();
        assert!(
            e.is_empty() || (range.start <= r.start && r.end <= range.end),
            "element outside the value"
        );
        assert!(!e.first().is_some_and(lws) && !e.last().is_some_and(lws));
        // hdr_ip: a clean dotted quad reads as what the standard parser reads.
        if let Ok(ip) = std::str::from_utf8(e).unwrap_or("").parse::<Ipv4Addr>() {
            assert_eq!(fetch::header_ip(e), ip, "hdr_ip of a plain address");
        }
        // hdr_val: plain short numbers read as themselves.
        if !e.is_empty() && e.len() <= 9 && e.iter().all(u8::is_ascii_digit) {
            let n: i32 = std::str::from_utf8(e)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(-1);
            assert_eq!(fetch::strl2ic(e), n, "hdr_val of a plain number");
        }
        let _ = fetch::strl2ic(e);
    }
    // Elements joined back with commas keep every non-LWS byte in order.
    let strip = |s: &[u8]| -> Vec<u8> { s.iter().copied().filter(|b| !lws(b)).collect() };
    let joined: Vec<u8> = ours.join(&b","[..]);
    assert_eq!(strip(&joined), strip(value), "splitting lost bytes");

    // Basic credentials, as `http_auth` decodes them.
    if let Some(payload) = auth::basic_payload(value) {
        let mut scratch = vec![0u8; auth::decoded_len_bound(payload) + 3];
        if let Some(c) = auth::decode_credentials(payload, &mut scratch) {
            assert!(!c.user.contains(&b':'), "user name holds the separator");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One rule: kind byte, pattern, replacement.
    fn rule(kind: u8, pattern: &[u8], repl: &[u8]) -> Vec<u8> {
        let mut v = vec![kind, pattern.len() as u8];
        v.extend_from_slice(pattern);
        v.push(repl.len() as u8);
        v.extend_from_slice(repl);
        v
    }

    #[test]
    fn decodes_rules_and_builds_the_configuration() {
        let mut data = vec![1u8];
        data.extend(rule(0, b"^Host: (.*)", b"Host: \\1.x"));
        data.extend(rule(0x40 | 1, b"^Server", b""));
        data.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let (rules, rest) = decode_rules(&data);
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].keyword(), "reqrep");
        assert_eq!(rules[1].keyword(), "rspdel");
        assert!(rest.starts_with(b"GET /"));
        let cfg = rules_config(&rules);
        assert!(cfg.contains(" reqrep \\x5eHost\\x3a\\x20\\x28\\x2e\\x2a\\x29 Host"));
        let rt = runtime_from_text(&cfg).expect("configuration accepted");
        let px = rt.proxy_by_name("fz").expect("fz");
        assert_eq!(px.cfg.req_filters.len(), 1);
        assert_eq!(px.cfg.rsp_filters.len(), 1);
        // The full target on it, and on garbage.
        super::rules(&data);
        super::rules(b"");
        super::rules(b"\x03\x00\x05(((((\x00");
    }

    #[test]
    fn rules_run_end_to_end() {
        let mut data = vec![0u8];
        data.extend(rule(0, b"^Host: (.*)", b"Host: \\1.internal"));
        data.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let (rules, head) = decode_rules(&data);
        let rt = runtime_from_text(&rules_config(&rules)).expect("config");
        let px = rt.proxy_by_name("fz").expect("fz");
        let mut idx = HeadIndex::new();
        assert_eq!(
            idx.parse_request(head, &ParseOptions::default()),
            Parse::Complete
        );
        let run = run_request(&rt, px, head, &idx);
        assert_eq!(run.verdict, ReqVerdict::Continue);
        assert_eq!(run.lines, [b"Host: a.internal".to_vec()]);
    }

    #[test]
    fn acl_header_counts_and_addresses() {
        acl_header(b"a, \"b,c\", d\n10.1.2.3\nBasic YWxpY2U6czNjcmV0");
        acl_header(b"Basic YWxpY2U6czNjcmV0");
        acl_header(b",,,,,,,,,,,,");
        acl_header(b"");
        acl_header(b"\"unterminated, quote\\");
        // The counting ACLs see what the splitter sees.
        let rt = acl_runtime();
        let px = rt.proxy_by_name("fz").expect("fz");
        let req = b"GET / HTTP/1.1\r\nX-H: 1, 2\r\nX-H: 10.0.0.1\r\n\r\n";
        let mut idx = HeadIndex::new();
        assert_eq!(
            idx.parse_request(req, &ParseOptions::default()),
            Parse::Complete
        );
        let run = run_request(rt, px, req, &idx);
        assert!(run.lines.contains(&b"X-Cnt: 3".to_vec()));
        assert!(run.lines.contains(&b"X-Ten: 1".to_vec()));
        assert!(run.lines.contains(&b"X-Pos: 1".to_vec()));
    }
}
