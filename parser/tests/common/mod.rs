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

/// Options for tests that must not touch DNS or NSS.
pub fn offline() -> parser::LoadOptions {
    parser::LoadOptions {
        resolve_names: false,
        ..parser::LoadOptions::default()
    }
}
