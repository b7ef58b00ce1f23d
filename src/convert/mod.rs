//! `--convert-to 2.6`: rewrites a HAProxy 1.4 configuration into one HAProxy 2.6 loads with
//! the same behaviour (issue #12).
//!
//! The conversion works on the typed IR (`parser::load_files` -> `ir::Config`), never on the
//! text: every IR item is rendered in 2.6 syntax at the `file:line` its span names, and the
//! source files are read again (with the parser's lexer) only for what the IR does not keep:
//! comments, blank lines, the order of lines, the text of regular expressions and ACL
//! patterns (the IR holds them compiled), and the `no option`/`log global`/`stats` lines the
//! IR folds into values. Items a `defaults` section set are rendered in that section
//! ([`parser::ir::Config::defaults`]); a proxy renders only the items its own lines set.
//!
//! What 2.6 cannot express, or expresses with a different behaviour, gets a
//! `# haproxide: ...` note above the line; notes about something not carried over are also
//! printed on stderr as `[WARNING]` lines. The keyword-by-keyword mapping is in
//! `docs/convert.md`.
//!
//! Files: `enc.rs` (2.6 words, times, comments), `regex.rs` (POSIX ERE to PCRE, splitting
//! line regexes), `global.rs` (`global`, `userlist`), `proxy.rs` (`defaults`, `frontend`,
//! `backend`, `listen`), `rules.rs` (ACLs, conditions, `block`, `http-request`, `req*`/`rsp*`,
//! `reqadd`/`rspadd`, `redirect`, `use_backend`, stickiness, `appsession`).

pub mod enc;
mod global;
mod proxy;
pub mod regex;
mod rules;
#[cfg(test)]
mod tests;

use crate::cli::{self, Args};
use parser::ir::Config;
use parser::lexer::{self, Line};
use parser::span::Span;
use parser::LoadOptions;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

/// Why a conversion did not produce a file.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("unsupported target version '{0}' for --convert-to (only 2.6 is supported).")]
    Version(String),
    #[error("Could not open configuration file {path} : {reason}")]
    Read { path: String, reason: String },
    #[error("Cannot write output file {path} : {reason}")]
    Write { path: String, reason: String },
}

/// A conversion's result: the 2.6 text and the notes about what could not be carried over.
#[derive(Debug, Clone)]
pub struct Converted {
    pub text: String,
    /// `(span, text)` of every note that reports a loss (also printed as warnings).
    pub losses: Vec<(Span, String)>,
}

/// The `--convert-to` command: loads the files as `-c` does, prints the diagnostics, writes
/// the 2.6 configuration to `-o` or stdout. Exit status 1 when the input is invalid.
pub fn run(args: &Args) -> i32 {
    let version = args.convert_to.as_deref().unwrap_or_default();
    if !matches!(version, "2.6" | "2.6.x") {
        cli::alert(&ConvertError::Version(version.to_string()).to_string());
        return 1;
    }
    let opts = LoadOptions {
        default_maxconn: args.default_maxconn.unwrap_or(2000),
        ..LoadOptions::default()
    };
    let loaded = parser::load_files(&args.files, &opts);
    cli::print_report(&loaded.report, args.quiet && !args.verbose);
    let Some(config) = loaded.config else {
        return 1;
    };
    let mut sources = Vec::new();
    for f in &args.files {
        match std::fs::read(f) {
            Ok(b) => sources.push((f.display().to_string(), b)),
            Err(e) => {
                cli::alert(
                    &ConvertError::Read {
                        path: f.display().to_string(),
                        reason: e.to_string(),
                    }
                    .to_string(),
                );
                return 1;
            }
        }
    }
    let conv = convert(&sources, &config);
    if !args.quiet {
        for (span, text) in &conv.losses {
            cli::warning(&format!("parsing [{}:{}] : {}", span.file, span.line, text));
        }
    }
    match &args.output {
        Some(path) => write_file(path, &conv.text),
        None => {
            let stdout = std::io::stdout();
            let mut o = stdout.lock();
            if o.write_all(conv.text.as_bytes())
                .and_then(|_| o.flush())
                .is_err()
            {
                return 1;
            }
            0
        }
    }
}

fn write_file(path: &PathBuf, text: &str) -> i32 {
    match std::fs::write(path, text) {
        Ok(()) => 0,
        Err(e) => {
            cli::alert(
                &ConvertError::Write {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                }
                .to_string(),
            );
            1
        }
    }
}

/// Converts an in-memory configuration (`name`, bytes) — tests and tools. `Err` carries the
/// rendered diagnostics when 1.4 would refuse the file.
pub fn convert_str(name: &str, text: &[u8]) -> Result<Converted, String> {
    let opts = LoadOptions {
        resolve_names: false,
        ..LoadOptions::default()
    };
    let loaded = parser::load_str(name, text, &opts);
    match loaded.config {
        Some(cfg) => Ok(convert(&[(name.to_string(), text.to_vec())], &cfg)),
        None => Err(loaded.report.render("-")),
    }
}

/// Converts a loaded configuration. `sources` are the files it was loaded from, in `-f`
/// order, as `(name as in the spans, bytes)`.
pub fn convert(sources: &[(String, Vec<u8>)], cfg: &Config) -> Converted {
    let src = Src::new(sources);
    let mut out = Out::default();
    let cx = Cx { src: &src, cfg };
    general_notes(cfg, &mut out);
    global::render(&cx, &mut out);
    for (k, d) in cfg.defaults.iter().enumerate() {
        proxy::render_defaults(&cx, &mut out, k, d);
    }
    for (k, p) in cfg.proxies.iter().enumerate() {
        proxy::render_proxy(&cx, &mut out, k, p);
    }
    for u in &cfg.userlists {
        global::render_userlist(&cx, &mut out, u);
    }
    dollar_note(&mut out);
    let text = assemble(&cx, &out);
    Converted {
        text,
        losses: out.losses,
    }
}

/// 1.4 reads `$NAME` literally; 2.6 expands it between double quotes. The words are written
/// so that 2.6 reads them literally too ([`enc::word`] never quotes a word with a `$`); say
/// so once when a value looks like a variable.
fn dollar_note(out: &mut Out) {
    let looks_like_var = |s: &str| {
        s.as_bytes()
            .windows(2)
            .any(|w| w[0] == b'$' && (w[1] == b'{' || w[1] == b'_' || w[1].is_ascii_alphabetic()))
    };
    let found = out
        .items
        .values()
        .flatten()
        .any(|i| matches!(i, Item::Stmt(s) if looks_like_var(s)));
    if found {
        out.general(
            "'$NAME' is literal text in 1.4; 2.6 expands it as an environment variable \
             between double quotes, so the values holding one are written without quotes \
             (spaces escaped) and stay literal.",
        );
    }
}

/// Notes for the top of the file: 2.6 behaviours no single line can carry over.
fn general_notes(cfg: &Config, out: &mut Out) {
    let http = |p: &parser::ir::Proxy| p.mode.node == parser::ir::Mode::Http;
    if cfg.proxies.iter().any(http) {
        out.general(
            "2.6 writes header names in lower case on the wire (HTTP/1 names are \
             case-insensitive; headers it adds or rewrites included), and its own error pages \
             and replies (403, 503, 401, redirects...) are HTTP/1.1 with a content-length, where \
             1.4 sent HTTP/1.0 pages and closed the connection.",
        );
    }
    let tunnel = cfg
        .proxies
        .iter()
        .any(|p| http(p) && p.kind.has_fe() && proxy::conn_mode(&p.options) == proxy::Conn::Tunnel);
    if tunnel {
        out.general(
            "HTTP proxies without 'option httpclose', 'http-server-close' or 'forceclose': \
             1.4 analysed only the first request of each connection and tunnelled the rest \
             (no more rules, cookies or logs for them); 2.6 has no tunnel mode and analyses \
             every request of a keep-alive connection.",
        );
    }
    if cfg
        .proxies
        .iter()
        .any(|p| p.log_format.node != parser::ir::LogFormat::Connect)
    {
        out.general(
            "Log lines keep their fields, but 2.6 counts bytes on its internal message (not \
             the wire size; its error pages have other sizes), logs connection counts before \
             releasing the frontend's, splits 1.4's Tq into Th/Ti/TR, and logs no capture \
             block for a request it could not parse.",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// source files
// ---------------------------------------------------------------------------------------------

/// Section kinds as the source spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SectKind {
    Global,
    Defaults,
    Frontend,
    Backend,
    Listen,
    Ruleset,
    Userlist,
}

/// A section's lines: `[start, end)` (the header line is `start`).
#[derive(Clone, Debug)]
pub(crate) struct Section {
    pub kind: SectKind,
    pub start: u32,
    pub end: u32,
}

pub(crate) struct SrcFile {
    pub name: Arc<str>,
    /// Raw bytes of each line (index = line number - 1), without the line end.
    pub raw: Vec<Vec<u8>>,
    /// The lexer's view (index = line number - 1).
    pub lines: Vec<Line>,
    pub sections: Vec<Section>,
    /// The file did not end with a line feed.
    pub no_final_lf: bool,
}

pub(crate) struct Src {
    pub files: Vec<SrcFile>,
}

impl Src {
    fn new(sources: &[(String, Vec<u8>)]) -> Src {
        let files = sources
            .iter()
            .map(|(name, bytes)| {
                let lines = lexer::tokenize(bytes);
                // raw lines cut the way the lexer cuts them (at LF, or every 2047 bytes)
                let mut raw = Vec::with_capacity(lines.len());
                let mut pos = 0usize;
                while pos < bytes.len() {
                    let limit = (pos + lexer::LINESIZE - 1).min(bytes.len());
                    let end = bytes[pos..limit]
                        .iter()
                        .position(|c| *c == b'\n')
                        .map_or(limit, |nl| pos + nl + 1);
                    let mut l = bytes[pos..end].to_vec();
                    while matches!(l.last(), Some(b'\n' | b'\r')) {
                        l.pop();
                    }
                    raw.push(l);
                    pos = end;
                }
                let sections = sections_of(&lines);
                SrcFile {
                    name: Arc::from(name.as_str()),
                    raw,
                    lines,
                    sections,
                    no_final_lf: !bytes.is_empty() && bytes.last() != Some(&b'\n'),
                }
            })
            .collect();
        Src { files }
    }

    pub fn file_idx(&self, name: &str) -> Option<usize> {
        self.files.iter().position(|f| &*f.name == name)
    }

    /// The words of the line a span points at (empty when unknown).
    pub fn words(&self, span: &Span) -> &[Vec<u8>] {
        self.line(span).map_or(&[], |l| l.words.as_slice())
    }

    pub fn line(&self, span: &Span) -> Option<&Line> {
        let f = self.file_idx(&span.file)?;
        let idx = usize::try_from(span.line).ok()?.checked_sub(1)?;
        self.files[f].lines.get(idx)
    }

    /// The section whose header is at `span`.
    pub fn section_at(&self, span: &Span) -> Option<(usize, &Section)> {
        let f = self.file_idx(&span.file)?;
        self.files[f]
            .sections
            .iter()
            .find(|s| s.start == span.line)
            .map(|s| (f, s))
    }

    /// Position of a span in `-f` order, for "declared before" comparisons.
    pub fn order(&self, span: &Span) -> (usize, u32) {
        (self.file_idx(&span.file).unwrap_or(usize::MAX), span.line)
    }
}

fn sections_of(lines: &[Line]) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for l in lines {
        let Some(w0) = l.words.first() else { continue };
        let kind = match w0.as_slice() {
            b"global" => SectKind::Global,
            b"defaults" => SectKind::Defaults,
            b"frontend" => SectKind::Frontend,
            b"backend" => SectKind::Backend,
            b"listen" => SectKind::Listen,
            b"ruleset" => SectKind::Ruleset,
            b"userlist" => SectKind::Userlist,
            _ => continue,
        };
        if let Some(prev) = out.last_mut() {
            prev.end = l.num;
        }
        out.push(Section {
            kind,
            start: l.num,
            end: u32::MAX,
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// output
// ---------------------------------------------------------------------------------------------

/// One output element attached to a source line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Item {
    /// A 2.6 statement (written indented inside a section).
    Stmt(String),
    /// A `# haproxide:` note.
    Note(String),
}

/// Everything rendered, by `(file index, line)`.
#[derive(Default)]
pub(crate) struct Out {
    pub items: BTreeMap<(usize, u32), Vec<Item>>,
    pub losses: Vec<(Span, String)>,
    /// Sections appended after the last file (table holders for `appsession`).
    pub trailer: Vec<String>,
    /// General notes for the top of the file (each once).
    pub general: Vec<String>,
}

impl Out {
    pub fn general(&mut self, text: &str) {
        if !self.general.iter().any(|g| g == text) {
            self.general.push(text.to_string());
        }
    }
}

pub(crate) struct Cx<'a> {
    pub src: &'a Src,
    pub cfg: &'a Config,
}

/// Where a section renderer writes: only lines inside its own `ranges` are accepted, so
/// values a proxy inherited from `defaults` (whose spans point into the `defaults` section)
/// are not repeated.
pub(crate) struct Sink<'a> {
    pub src: &'a Src,
    ranges: Vec<(usize, u32, u32)>,
    pub out: &'a mut Out,
}

impl<'a> Sink<'a> {
    pub fn new(src: &'a Src, ranges: Vec<(usize, u32, u32)>, out: &'a mut Out) -> Sink<'a> {
        Sink { src, ranges, out }
    }

    fn key(&self, span: &Span) -> Option<(usize, u32)> {
        let f = self.src.file_idx(&span.file)?;
        self.ranges
            .iter()
            .any(|&(rf, lo, hi)| rf == f && span.line >= lo && span.line < hi)
            .then_some((f, span.line))
    }

    /// True when `span` is one of this section's lines.
    pub fn owns(&self, span: &Span) -> bool {
        self.key(span).is_some()
    }

    fn push(&mut self, span: &Span, item: Item) {
        if let Some(k) = self.key(span) {
            let v = self.out.items.entry(k).or_default();
            if !v.contains(&item) {
                v.push(item);
            }
        }
    }

    pub fn stmt(&mut self, span: &Span, text: impl Into<String>) {
        self.push(span, Item::Stmt(text.into()));
    }

    pub fn note(&mut self, span: &Span, text: impl Into<String>) {
        self.push(span, Item::Note(text.into()));
    }

    /// A note about something not carried over: also reported as a warning.
    pub fn loss(&mut self, span: &Span, text: impl Into<String>) {
        let text = text.into();
        if self.owns(span) {
            let dup = self.out.losses.iter().any(|(s, t)| s == span && *t == text);
            if !dup {
                self.out.losses.push((span.clone(), text.clone()));
            }
        }
        self.push(span, Item::Note(text));
    }

    /// The statement lines of this sink's ranges, in order (for the keywords rendered from
    /// their words).
    pub fn lines(&self) -> Vec<(Span, Vec<Vec<u8>>)> {
        let mut v = Vec::new();
        for &(f, lo, hi) in &self.ranges {
            let file = &self.src.files[f];
            for l in &file.lines {
                if l.num > lo && l.num < hi && !l.words.is_empty() {
                    v.push((Span::new(file.name.clone(), l.num), l.words.clone()));
                }
            }
        }
        v
    }
}

/// Width at which notes are wrapped.
const NOTE_WIDTH: usize = 96;

fn push_note(text: &mut String, indent: &str, note: &str) {
    let mut line = format!("{indent}# haproxide: ");
    let first_len = line.len();
    for w in note.split(' ') {
        if line.len() + w.len() + 1 > NOTE_WIDTH && line.len() > first_len {
            text.push_str(line.trim_end());
            text.push('\n');
            line = format!("{indent}#   ");
        }
        line.push_str(w);
        line.push(' ');
    }
    text.push_str(line.trim_end());
    text.push('\n');
}

/// Writes the output: every source line in order, statements replaced by what was rendered
/// for them, comments and blank lines carried over.
fn assemble(cx: &Cx<'_>, out: &Out) -> String {
    let mut text = String::new();
    let names: Vec<&str> = cx.src.files.iter().map(|f| &*f.name).collect();
    text.push_str(&format!(
        "# Converted for HAProxy 2.6 by haproxide --convert-to 2.6 from: {}\n",
        names.join(", ")
    ));
    for g in &out.general {
        push_note(&mut text, "", g);
    }
    text.push('\n');
    for (fi, file) in cx.src.files.iter().enumerate() {
        if cx.src.files.len() > 1 {
            text.push_str(&format!("# haproxide: from {}\n", file.name));
        }
        let mut sect: Option<&Section> = None;
        for line in &file.lines {
            let raw = file
                .raw
                .get((line.num as usize).saturating_sub(1))
                .map(Vec::as_slice)
                .unwrap_or_default();
            if let Some(s) = file.sections.iter().find(|s| s.start == line.num) {
                sect = Some(s);
            }
            let in_section = sect.is_some_and(|s| line.num > s.start && line.num < s.end);
            let indent = if in_section { "    " } else { "" };
            if line.words.is_empty() {
                let c = enc::clean_comment(&String::from_utf8_lossy(raw));
                text.push_str(&c);
                text.push('\n');
                continue;
            }
            let items = out.items.get(&(fi, line.num)).cloned().unwrap_or_default();
            let is_header = sect.is_some_and(|s| s.start == line.num);
            let ruleset = sect.is_some_and(|s| s.kind == SectKind::Ruleset);
            let comment = enc::trailing_comment(raw);
            if ruleset {
                if is_header {
                    push_note(
                        &mut text,
                        "",
                        "'ruleset' sections have no role in 1.4.25 (nothing uses them) and \
                         2.6 has none: the section is kept as comments.",
                    );
                }
                text.push_str("# ");
                text.push_str(&enc::clean_comment(&String::from_utf8_lossy(raw)));
                text.push('\n');
                continue;
            }
            // the header first, then notes and statements in the order they were rendered
            let mut lines: Vec<String> = Vec::new();
            let mut last_stmt: Option<usize> = None;
            if is_header {
                lines.push(header_text(&line.words));
                last_stmt = Some(0);
            }
            let ind = if is_header { "    " } else { indent };
            for it in &items {
                match it {
                    Item::Note(n) => {
                        let mut t = String::new();
                        push_note(&mut t, ind, n);
                        lines.push(t.trim_end_matches('\n').to_string());
                    }
                    Item::Stmt(s) => {
                        lines.push(format!("{ind}{s}"));
                        last_stmt = Some(lines.len() - 1);
                    }
                }
            }
            if items.is_empty() && !is_header {
                push_note(
                    &mut text,
                    indent,
                    &format!(
                        "not carried over: 1.4 ignores this line here (see its warning) or a \
                         later line replaces what it sets: {}",
                        words_lossy(&line.words)
                    ),
                );
            }
            match (&comment, last_stmt) {
                (Some(c), Some(i)) => {
                    lines[i].push_str("  ");
                    lines[i].push_str(c);
                }
                (Some(c), None) => lines.push(format!("{indent}{c}")),
                (None, _) => {}
            }
            for l in lines {
                text.push_str(&l);
                text.push('\n');
            }
        }
        if file.no_final_lf {
            push_note(
                &mut text,
                "",
                "the source file had no line feed after its last line; 2.6 refuses that, \
                 this file ends with one.",
            );
        }
    }
    if !out.trailer.is_empty() {
        text.push('\n');
        for t in &out.trailer {
            text.push_str(t);
        }
    }
    text
}

/// A section header line (`frontend NAME`; the address list of a `listen`/`frontend` line
/// is rendered as `bind` lines by the proxy renderer).
fn header_text(words: &[Vec<u8>]) -> String {
    let mut s = String::from_utf8_lossy(&words[0]).into_owned();
    if let Some(name) = words.get(1) {
        if s != "global" && s != "defaults" {
            s.push(' ');
            s.push_str(&enc::word(name));
        }
    }
    s
}

/// A line's words for a note (lossy, single spaces).
pub(crate) fn words_lossy(words: &[Vec<u8>]) -> String {
    words
        .iter()
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
