//! Replays the committed fuzz corpora of the rule engine, the persistence cookie parsers
//! and the ACL header fetches (`fuzz/corpus/{rules,cookie,acl_header}`) through the same
//! library functions the cargo-fuzz targets call, so every test run checks their invariants
//! on every seed and on every input a fuzzing run once found. (The codec's corpora are
//! replayed by `tests/fuzz_corpus_http1.rs`, the configuration parser's by
//! `parser/tests/fuzz_corpus.rs`.)

mod common;

use common::fuzz_corpus_files;

fn replay(target: &str, run: fn(&[u8])) {
    let files = fuzz_corpus_files(target);
    // The seeds are committed; a near-empty directory means the corpus went missing.
    assert!(
        files.len() >= 10,
        "{target}: only {} corpus files",
        files.len()
    );
    let mut failed = Vec::new();
    for f in files {
        let data = std::fs::read(&f).expect("corpus file");
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            failed.push(f.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target}: failing inputs {failed:?}");
}

#[test]
fn rules_corpus() {
    replay("rules", haproxide::proxy::fuzz::rules);
}

#[test]
fn cookie_corpus() {
    replay("cookie", haproxide::persist::fuzz::cookies);
}

#[test]
fn acl_header_corpus() {
    replay("acl_header", haproxide::proxy::fuzz::acl_header);
}
