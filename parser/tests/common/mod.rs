//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The shared material (`/work/shared` beside the repository): found by walking up from
/// the crate until a directory holding `shared/corpus` appears, or from
/// `HAPROXIDE_SHARED`. Panics with a clear message when it cannot be found.
pub fn shared_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HAPROXIDE_SHARED") {
        return PathBuf::from(d);
    }
    let start = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in start.ancestors() {
        let cand = dir.join("shared");
        if cand.join("corpus").is_dir() {
            return cand;
        }
    }
    panic!(
        "cannot find the shared directory (<repo>/../shared with corpus/ and examples/) above {}; set HAPROXIDE_SHARED",
        start.display()
    );
}

/// The repository root (the parser crate lives in `<repo>/parser`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The real-world corpus: the repository's copy (`conformance/corpus/real-world`), else the
/// shared material's.
pub fn corpus_dir() -> PathBuf {
    let own = repo_root().join("conformance/corpus/real-world");
    if own.join("verdicts.json").is_file() {
        return own;
    }
    shared_dir().join("corpus/real-world")
}

/// The reference configuration: the repository's verbatim copy (`examples/seed-1.4.cfg`),
/// else the shared material's.
pub fn seed_path() -> PathBuf {
    let own = repo_root().join("examples/seed-1.4.cfg");
    if own.is_file() {
        return own;
    }
    shared_dir().join("examples/seed-1.4.cfg")
}

/// Options for tests that must not touch DNS or NSS.
pub fn offline() -> parser::LoadOptions {
    parser::LoadOptions {
        resolve_names: false,
        ..parser::LoadOptions::default()
    }
}
