#![no_main]
// Fuzz target chunked: drives haproxide::http1::fuzz::chunked (src/http1/fuzz.rs), which asserts the
// codec's invariants. The corpus in fuzz/corpus/chunked is replayed by tests/fuzz_corpus_http1.rs
// on every test run.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    haproxide::http1::fuzz::chunked(data);
});
