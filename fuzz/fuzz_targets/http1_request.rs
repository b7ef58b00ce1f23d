#![no_main]
// Fuzz target http1_request: drives haproxide::http1::fuzz::request (src/http1/fuzz.rs), which asserts the
// codec's invariants. The corpus in fuzz/corpus/http1_request is replayed by tests/fuzz_corpus_http1.rs
// on every test run.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    haproxide::http1::fuzz::request(data);
});
