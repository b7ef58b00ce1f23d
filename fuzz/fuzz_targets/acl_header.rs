#![no_main]
// Fuzz target acl_header: drives haproxide::proxy::fuzz::acl_header (src/proxy/fuzz.rs), which asserts
// the invariants. The corpus in fuzz/corpus/acl_header is replayed by tests/fuzz_corpus.rs on every
// test run.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    haproxide::proxy::fuzz::acl_header(data);
});
