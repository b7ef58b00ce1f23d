#![no_main]
// Fuzz target rules: drives haproxide::proxy::fuzz::rules (src/proxy/fuzz.rs), which asserts
// the invariants. The corpus in fuzz/corpus/rules is replayed by tests/fuzz_corpus.rs on every
// test run.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    haproxide::proxy::fuzz::rules(data);
});
