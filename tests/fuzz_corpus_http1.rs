//! Replays the committed fuzz corpus of the HTTP/1 codec (`fuzz/corpus/{http1_request,
//! http1_response,chunked}`) through the same functions the cargo-fuzz targets call, so every
//! test run checks the codec's invariants on every seed and past crash.

use std::path::{Path, PathBuf};

/// Files of one corpus directory, sorted for a stable order.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {} unreadable: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    let files = corpus(target);
    // The seeds are committed; an empty directory means the corpus went missing.
    assert!(
        files.len() >= 10,
        "{target}: only {} corpus files",
        files.len()
    );
    for f in files {
        let data = std::fs::read(&f).expect("corpus file");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target}: {} fails", f.display());
    }
}

#[test]
fn http1_request_corpus() {
    replay("http1_request", haproxide::http1::fuzz::request);
}

#[test]
fn http1_response_corpus() {
    replay("http1_response", haproxide::http1::fuzz::response);
}

#[test]
fn chunked_corpus() {
    replay("chunked", haproxide::http1::fuzz::chunked);
}
