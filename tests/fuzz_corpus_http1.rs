//! Replays the committed fuzz corpus of the HTTP/1 codec (`fuzz/corpus/{http1_request,
//! http1_response,chunked}`) through the same functions the cargo-fuzz targets call, so every
//! test run checks the codec's invariants on every seed and past crash.

mod common;

use common::fuzz_corpus_files;

fn replay(target: &str, run: fn(&[u8])) {
    let files = fuzz_corpus_files(target);
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
