//! Keyword tables and the line dispatcher (compare with 1.4 `readcfgfile`,
//! `cfg_parse_global`, `cfg_parse_listen`, `cfg_parse_users`).
//!
//! Every keyword 1.4.25 accepts has one row in one of the tables below: name, the sections
//! it is allowed in (as the manual's matrix says; the parse function itself reproduces
//! 1.4's capability warnings), its parse function and a one-line doc. Sub-keywords
//! (`option X`, `timeout X`, `stats X`, `balance X`, server parameters, ACL criteria) have
//! their own tables in their modules; [`keywords`] lists them all for the documentation.

pub(crate) mod acl;
pub(crate) mod global;
pub(crate) mod http;
pub(crate) mod option;
pub(crate) mod persist;
pub(crate) mod proxy;
pub(crate) mod regex;
pub(crate) mod server;
pub(crate) mod stats;
pub(crate) mod usage;
pub(crate) mod userlist;

use crate::diag::{Context, Diagnostic, Level, Report};
use crate::ir::{Global, Userlist};
use crate::lexer::{self, Line};
use crate::section::{Cap, Px};
use crate::span::Span;
use crate::value::{lossy, Resolver};
use crate::LoadOptions;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// Where a keyword may appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sections(pub u8);

impl Sections {
    pub const GLOBAL: Sections = Sections(1);
    pub const DEFAULTS: Sections = Sections(2);
    pub const FRONTEND: Sections = Sections(4);
    pub const LISTEN: Sections = Sections(8);
    pub const BACKEND: Sections = Sections(16);
    pub const USERLIST: Sections = Sections(32);

    pub const fn of(letters: &str) -> Sections {
        let b = letters.as_bytes();
        let mut v = 0u8;
        let mut i = 0;
        while i < b.len() {
            v |= match b[i] {
                b'D' => 2,
                b'F' => 4,
                b'L' => 8,
                b'B' => 16,
                b'G' => 1,
                b'U' => 32,
                _ => 0,
            };
            i += 1;
        }
        Sections(v)
    }

    pub fn contains(self, s: Sections) -> bool {
        self.0 & s.0 == s.0
    }
}

impl fmt::Display for Sections {
    /// `global`, `userlist`, or the manual's proxy matrix form (`DFLB`, `-FL-`, ...).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == Sections::GLOBAL.0 {
            return f.write_str("global");
        }
        if self.0 == Sections::USERLIST.0 {
            return f.write_str("userlist");
        }
        for (bit, c) in [(2u8, 'D'), (4, 'F'), (8, 'L'), (16, 'B')] {
            let ch = if self.0 & bit != 0 { c } else { '-' };
            write!(f, "{ch}")?;
        }
        Ok(())
    }
}

/// One keyword row as exposed to documentation and tests (ordered by name, then sections).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeywordInfo {
    /// The keyword as written in a configuration (`option httpclose`, `acl hdr_reg`,
    /// `server weight`, `timeout client`...).
    pub name: &'static str,
    pub sections: Sections,
    pub doc: &'static str,
}

/// Every keyword the parser knows, table by table.
pub fn keywords() -> impl Iterator<Item = KeywordInfo> {
    global::KEYWORDS
        .iter()
        .map(|k| k.info())
        .chain(global::STATS_KEYWORDS.iter().copied())
        .chain(userlist::KEYWORDS.iter().map(|k| k.info()))
        .chain(proxy::KEYWORDS.iter().map(|k| k.info()))
        .chain(proxy::SUBKEYWORDS.iter().copied())
        .chain(option::info())
        .chain(proxy::TIMEOUTS.iter().copied())
        .chain(stats::KEYWORDS.iter().copied())
        .chain(proxy::BALANCE.iter().copied())
        .chain(server::info())
        .chain(acl::info())
}

/// `no` / `default` prefix of a line (1.4 `KWM_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kwm {
    Std,
    No,
    Def,
}

/// One line handed to a keyword's parse function: 1.4's `args[]`, with empty words past
/// the end, the span and the `no`/`default` modifier.
pub struct Ln<'a> {
    pub span: Span,
    pub args: &'a [Vec<u8>],
    pub kwm: Kwm,
}

impl Ln<'_> {
    /// Word `i`, or the empty word past the end.
    pub fn a(&self, i: usize) -> &[u8] {
        self.args.get(i).map(|w| w.as_slice()).unwrap_or(b"")
    }

    /// Word `i` for messages and names (invalid UTF-8 replaced).
    pub fn s(&self, i: usize) -> Cow<'_, str> {
        String::from_utf8_lossy(self.a(i))
    }

    pub fn has(&self, i: usize) -> bool {
        !self.a(i).is_empty()
    }

    pub fn is(&self, i: usize, w: &str) -> bool {
        self.a(i) == w.as_bytes()
    }

    /// Words `from..` until the first empty one (1.4 loops `while (*args[i])`).
    pub fn rest(&self, from: usize) -> &[Vec<u8>] {
        let end = self.args.len();
        if from >= end {
            return &[];
        }
        &self.args[from..end]
    }
}

/// Diagnostics plus 1.4's error bits (`ERR_FATAL`, `ERR_ABORT`).
#[derive(Debug, Default)]
pub struct Diags {
    pub report: Report,
    /// A fatal error was found in the file being parsed.
    pub file_fatal: bool,
    /// Some fatal error was found anywhere.
    pub fatal: bool,
    /// 1.4 would have stopped reading (`ERR_ABORT`); we keep reading to report everything
    /// but skip the post-parse check.
    pub abort: bool,
    pub in_parse: bool,
}

impl Diags {
    fn push(&mut self, level: Level, context: Context, text: String) {
        self.report.push(Diagnostic {
            level,
            context,
            text,
        });
    }

    pub fn mark_fatal(&mut self) {
        self.fatal = true;
        if self.in_parse {
            self.file_fatal = true;
        }
    }

    /// `parsing [f:l] : text`, fatal.
    pub fn alert(&mut self, span: &Span, text: impl Into<String>) {
        self.push(Level::Alert, Context::Parsing(span.clone()), text.into());
        self.mark_fatal();
    }

    /// `parsing [f:l]: text`, fatal.
    pub fn alert_t(&mut self, span: &Span, text: impl Into<String>) {
        self.push(
            Level::Alert,
            Context::ParsingTight(span.clone()),
            text.into(),
        );
        self.mark_fatal();
    }

    /// A message 1.4 prints as an alert without making the configuration invalid
    /// (`ERR_ALERT` alone, "... Continuing."). We keep its text but report it as a warning
    /// so that the configuration is still accepted (see docs/compatibility.md).
    pub fn alert_nf(&mut self, span: &Span, text: impl Into<String>) {
        self.push(Level::Warning, Context::Parsing(span.clone()), text.into());
    }

    pub fn alert_nf_t(&mut self, span: &Span, text: impl Into<String>) {
        self.push(
            Level::Warning,
            Context::ParsingTight(span.clone()),
            text.into(),
        );
    }

    pub fn warn(&mut self, span: &Span, text: impl Into<String>) {
        self.push(Level::Warning, Context::Parsing(span.clone()), text.into());
    }

    pub fn warn_t(&mut self, span: &Span, text: impl Into<String>) {
        self.push(
            Level::Warning,
            Context::ParsingTight(span.clone()),
            text.into(),
        );
    }

    /// A bare (context-free) alert, fatal.
    pub fn bare_alert(&mut self, text: impl Into<String>) {
        self.push(Level::Alert, Context::Bare, text.into());
        self.mark_fatal();
    }

    pub fn bare_warn(&mut self, text: impl Into<String>) {
        self.push(Level::Warning, Context::Bare, text.into());
    }

    /// `config : text`, fatal.
    pub fn config_alert(&mut self, text: impl Into<String>) {
        self.push(Level::Alert, Context::Config, text.into());
        self.mark_fatal();
    }

    pub fn config_warn(&mut self, text: impl Into<String>) {
        self.push(Level::Warning, Context::Config, text.into());
    }

    pub fn set_abort(&mut self) {
        self.abort = true;
        self.mark_fatal();
    }
}

/// The section a line belongs to (1.4 `confsect`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sect {
    None,
    Global,
    Listen,
    Userlist,
}

/// Which proxy `Listen`-section lines go to (1.4 `curproxy`).
#[derive(Debug)]
pub enum Slot {
    None,
    Defaults,
    Proxy(usize),
    /// A header 1.4 would have aborted on: lines are parsed for diagnostics and dropped.
    Discard(Box<Px>),
}

/// Global-section state: the IR plus 1.4's raw values used for its checks.
#[derive(Debug)]
pub struct GlobalState {
    pub ir: Global,
    /// Raw `uid`/`gid` (1.4 checks "already specified" with `!= 0`).
    pub uid: i64,
    pub gid: i64,
    /// Raw `nbproc`: 0 until set, as 1.4 sees it while parsing.
    pub nbproc: i64,
    pub bufsize: u32,
    pub maxrewrite_set: bool,
}

impl Default for GlobalState {
    fn default() -> Self {
        GlobalState {
            ir: Global::default(),
            uid: 0,
            gid: 0,
            nbproc: 0,
            bufsize: 16384,
            maxrewrite_set: false,
        }
    }
}

/// The whole parse: everything 1.4 keeps in globals while reading `-f` files.
pub struct Parser<'o> {
    pub opts: &'o LoadOptions,
    pub d: Diags,
    pub res: Resolver,
    pub g: GlobalState,
    pub defaults: Px,
    /// Finished `defaults` sections, kept for [`crate::ir::Config::defaults`].
    pub defaults_done: Vec<Px>,
    pub proxies: Vec<Px>,
    pub slot: Slot,
    pub userlists: Vec<Userlist>,
    /// The userlist `user`/`group` lines go to (the most recently created one).
    pub cur_ul: Option<usize>,
    /// Word of the current proxy section header, for messages (`listen`, `backend`...).
    pub cursection: String,
    sect: Sect,
    pub file: Arc<str>,
}

impl<'o> Parser<'o> {
    pub fn new(opts: &'o LoadOptions) -> Self {
        Parser {
            opts,
            d: Diags::default(),
            res: Resolver::new(opts.resolve_names),
            g: GlobalState::default(),
            defaults: Px::defaults(opts.default_maxconn, Span::builtin()),
            defaults_done: Vec::new(),
            proxies: Vec::new(),
            slot: Slot::None,
            userlists: Vec::new(),
            cur_ul: None,
            cursection: String::new(),
            sect: Sect::None,
            file: Arc::from(""),
        }
    }

    /// Reads one file (1.4 `readcfgfile`), then appends 1.4's per-file summary alert.
    pub fn parse_file(&mut self, name: &str, text: &[u8]) {
        self.file = Arc::from(name);
        self.sect = Sect::None;
        self.d.file_fatal = false;
        self.d.in_parse = true;
        let lines = lexer::tokenize(text);
        let nbsp: Vec<u32> = lines
            .iter()
            .filter(|l| l.unicode_space)
            .map(|l| l.num)
            .collect();
        if let Some(first) = nbsp.first() {
            let span = Span::new(self.file.clone(), *first);
            self.d.warn(
                &span,
                format!(
                    "lines {} contain non-breaking or other Unicode spaces copied from a web \
                     page; they were read as plain spaces (HAProxy 1.4 rejects them).",
                    lexer::ranges(&nbsp)
                ),
            );
        }
        for line in &lines {
            self.parse_line(line);
        }
        self.d.in_parse = false;
        if self.d.file_fatal {
            self.d.report.bare(
                Level::Alert,
                format!("Error(s) found in configuration file : {name}"),
            );
        }
    }

    fn parse_line(&mut self, line: &Line) {
        let span = Span {
            file: self.file.clone(),
            line: line.num,
            col: line.col,
        };
        for m in &line.msgs {
            if m.tight {
                self.d.alert_t(&span, m.text.clone());
            } else {
                self.d.alert(&span, m.text.clone());
            }
        }
        if line.words.is_empty() {
            return;
        }
        // `no` / `default` modifiers: 1.4 shifts the words left, duplicating the last one
        let mut args = line.words.clone();
        let mut kwm = Kwm::Std;
        if args[0] == b"no" || args[0] == b"default" {
            kwm = if args[0] == b"no" { Kwm::No } else { Kwm::Def };
            let mut i = 0;
            while i + 1 < args.len() && !args[i + 1].is_empty() {
                args[i] = args[i + 1].clone();
                i += 1;
            }
        }
        if kwm != Kwm::Std && args[0] != b"option" {
            self.d.alert_t(
                &span,
                "negation/default currently supported only for options.",
            );
        }
        let w0 = args[0].as_slice();
        match w0 {
            b"listen" | b"frontend" | b"backend" | b"ruleset" | b"defaults" => {
                self.sect = Sect::Listen;
                self.cursection = lossy(w0);
            }
            b"global" => self.sect = Sect::Global,
            b"userlist" => self.sect = Sect::Userlist,
            _ => {}
        }
        let ln = Ln {
            span: span.clone(),
            args: &args,
            kwm,
        };
        match self.sect {
            Sect::Listen => proxy::parse_listen_line(self, &ln),
            Sect::Global => global::parse(self, &ln),
            Sect::Userlist => userlist::parse(self, &ln),
            Sect::None => self.d.alert_t(
                &span,
                format!("unknown keyword '{}' out of section.", ln.s(0)),
            ),
        }
    }

    /// Prints 1.4's capability warning when `px` lacks `cap`; returns true if it did.
    pub fn warnifnotcap(
        &mut self,
        px: &Px,
        cap: Cap,
        span: &Span,
        arg: &str,
        hint: Option<&str>,
    ) -> bool {
        let msg = match cap.0 {
            2 => "no backend",
            1 => "no frontend",
            4 => "no ruleset",
            3 => "neither frontend nor backend",
            _ => "not enough",
        };
        if px.cap.0 & cap.0 == 0 {
            self.d.warn(
                span,
                format!(
                    "'{}' ignored because {} '{}' has {} capability.{}",
                    arg,
                    px.type_str(),
                    px.name(),
                    msg,
                    hint.unwrap_or("")
                ),
            );
            return true;
        }
        false
    }

    /// Resolves a path read from the configuration against `LoadOptions::base_dir`.
    pub fn path(&self, p: &[u8]) -> std::path::PathBuf {
        let pb = std::path::PathBuf::from(lossy(p));
        match &self.opts.base_dir {
            Some(base) if pb.is_relative() => base.join(pb),
            _ => pb,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_render_like_the_manual() {
        assert_eq!(Sections::of("DFLB").to_string(), "DFLB");
        assert_eq!(Sections::of("FL").to_string(), "-FL-");
        assert_eq!(Sections::of("LB").to_string(), "--LB");
        assert_eq!(Sections::GLOBAL.to_string(), "global");
        assert_eq!(Sections::USERLIST.to_string(), "userlist");
        assert!(Sections::of("DFLB").contains(Sections::BACKEND));
        assert!(!Sections::of("FL").contains(Sections::DEFAULTS));
    }

    #[test]
    fn every_table_contributes_and_names_are_unique_per_sections() {
        let all: Vec<KeywordInfo> = keywords().collect();
        assert!(all.len() > 250, "only {} keywords", all.len());
        for needle in [
            "bind",
            "option httpclose",
            "timeout client",
            "stats uri",
            "balance source",
            "server weight",
            "acl hdr_reg",
            "stats socket",
            "user",
        ] {
            assert!(all.iter().any(|k| k.name == needle), "{needle} missing");
        }
        let mut seen = std::collections::HashSet::new();
        for k in &all {
            assert!(!k.doc.is_empty(), "{} has no doc", k.name);
            assert!(
                seen.insert((k.name, k.sections.0)),
                "{} listed twice for {}",
                k.name,
                k.sections
            );
        }
    }
}

#[cfg(test)]
mod driver_tests {
    use super::*;

    fn parse(text: &str) -> String {
        let opts = LoadOptions {
            resolve_names: false,
            ..LoadOptions::default()
        };
        let mut p = Parser::new(&opts);
        p.parse_file("t.cfg", text.as_bytes());
        p.d.report.render("-")
    }

    #[test]
    fn no_prefix_shifts_and_repeats_the_last_word() {
        // 1.4 turns "no log" into "log log": the negation alert, then log's own message
        let out = parse("listen a\n no log\n");
        assert!(out.contains("negation/default currently supported only for options."));
        assert!(out.contains("'log' expects either <address[:port]> and <facility> or 'global'"));
    }

    #[test]
    fn lines_before_a_section_and_per_file_summary() {
        let out = parse("bind :80\n");
        assert!(out.contains("unknown keyword 'bind' out of section."));
        assert!(out.contains("Error(s) found in configuration file : t.cfg"));
        assert!(parse("global\n daemon\n").is_empty());
    }

    #[test]
    fn ln_helpers() {
        let args = vec![b"a".to_vec(), b"b".to_vec()];
        let l = Ln {
            span: Span::builtin(),
            args: &args,
            kwm: Kwm::Std,
        };
        assert_eq!(l.a(1), b"b");
        assert_eq!(l.a(5), b"");
        assert!(l.has(1) && !l.has(2));
        assert!(l.is(0, "a"));
        assert_eq!(l.rest(1).len(), 1);
        assert!(l.rest(9).is_empty());
    }
}
