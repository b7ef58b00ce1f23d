//! The HAProxy 1.4 configuration dialect: tokenizer, nom grammars for values, keyword tables,
//! typed IR and post-parse validation, with diagnostics in HAProxy's own form.
//!
//! Entry points: [`load_files`] (what `-f a -f b` does) and [`load_str`] (tests, fuzzing).
#![forbid(unsafe_code)]

pub mod diag;
pub mod ir;
pub mod span;

use diag::Report;
use ir::Config;
use std::path::PathBuf;

/// Knobs for loading that come from the command line or the caller, not the file.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Resolve host names (server/bind addresses) and user/group names through the system.
    /// Off for fuzzing, where the parser must not touch the network or NSS.
    pub resolve_names: bool,
    /// Per-proxy default `maxconn` (`-N`, 2000 by default).
    pub default_maxconn: u32,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            resolve_names: true,
            default_maxconn: 2000,
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
pub fn load_files(paths: &[PathBuf], opts: &LoadOptions) -> Loaded {
    let _ = (paths, opts);
    let mut report = Report::default();
    report.bare(
        diag::Level::Alert,
        "configuration parser not implemented yet",
    );
    Loaded {
        config: None,
        report,
    }
}

/// Parses one in-memory file named `name`.
pub fn load_str(name: &str, text: &[u8], opts: &LoadOptions) -> Loaded {
    let _ = (name, text, opts);
    let mut report = Report::default();
    report.bare(
        diag::Level::Alert,
        "configuration parser not implemented yet",
    );
    Loaded {
        config: None,
        report,
    }
}
