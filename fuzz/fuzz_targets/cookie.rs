#![no_main]
// Fuzz target cookie: drives haproxide::persist::fuzz::cookies (src/persist/fuzz.rs), which asserts
// the invariants. The corpus in fuzz/corpus/cookie is replayed by tests/fuzz_corpus.rs on every
// test run.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    haproxide::persist::fuzz::cookies(data);
});
