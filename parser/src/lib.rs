//! The HAProxy 1.4 configuration dialect: tokenizer, nom grammars for values, keyword tables,
//! typed IR and post-parse validation, with diagnostics in HAProxy's own form.
//!
//! Entry points: [`load_files`] (what `-f a -f b` does) and [`load_str`] (tests, fuzzing).
#![forbid(unsafe_code)]

mod check;
pub mod diag;
pub mod ir;
mod kw;
pub mod lexer;
mod section;
pub mod span;
pub mod value;

use diag::{Level, Report};
use ir::Config;
use std::path::PathBuf;

pub use kw::usage::used_keywords;
pub use kw::{keywords, KeywordInfo, Sections};

/// Knobs for loading that come from the command line or the caller, not the file.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Resolve host names (server/bind addresses) and user/group names through the system.
    /// Off for fuzzing, where the parser must not touch the network or NSS.
    pub resolve_names: bool,
    /// Per-proxy default `maxconn` (`-N`, 2000 by default).
    pub default_maxconn: u32,
    /// Directory that relative paths read while parsing (`errorfile`, ACL `-f`) are
    /// relative to; `None` = the process's current directory, as in 1.4.
    pub base_dir: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            resolve_names: true,
            default_maxconn: 2000,
            base_dir: None,
        }
    }
}

/// What loading produced: the configuration when no alert was raised, and every diagnostic.
#[derive(Debug)]
pub struct Loaded {
    pub config: Option<Config>,
    pub report: Report,
}

/// Reads and parses the files in order, as `-f` does, then validates the whole.
///
/// Every problem is reported (1.4 stops reading a file after some errors; we keep going
/// so that one run shows them all). A file that cannot be read is fatal, as in 1.4.
pub fn load_files(paths: &[PathBuf], opts: &LoadOptions) -> Loaded {
    let mut p = kw::Parser::new(opts);
    for path in paths {
        match std::fs::read(path) {
            Ok(text) => p.parse_file(&path.display().to_string(), &text),
            Err(e) => {
                p.d.bare_alert(format!(
                    "Could not open configuration file {} : {}",
                    path.display(),
                    io_reason(&e)
                ));
                return Loaded {
                    config: None,
                    report: p.d.report,
                };
            }
        }
    }
    finish(p)
}

/// Parses one in-memory file named `name` (tests, fuzzing).
pub fn load_str(name: &str, text: &[u8], opts: &LoadOptions) -> Loaded {
    let mut p = kw::Parser::new(opts);
    p.parse_file(name, text);
    finish(p)
}

/// `strerror`-style text for an I/O error (`No such file or directory`).
fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Post-parse check (skipped when 1.4 would already have stopped), summary alert, IR.
fn finish(mut p: kw::Parser) -> Loaded {
    if !p.d.abort {
        check::check(&mut p);
        if p.d.fatal {
            p.d.report
                .bare(Level::Alert, "Fatal errors found in configuration.");
        }
    }
    if p.d.fatal || p.d.report.has_alerts() {
        return Loaded {
            config: None,
            report: p.d.report,
        };
    }
    let proxies = p
        .proxies
        .into_iter()
        .filter_map(check::finalize_proxy)
        .collect();
    let mut defaults: Vec<_> = p
        .defaults_done
        .into_iter()
        .map(check::finalize_defaults)
        .collect();
    if p.defaults.ir.span.line != 0 {
        defaults.push(check::finalize_defaults(p.defaults));
    }
    Loaded {
        config: Some(Config {
            global: p.g.ir,
            proxies,
            userlists: p.userlists,
            defaults,
        }),
        report: p.d.report,
    }
}
