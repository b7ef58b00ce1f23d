#![no_main]
// Fuzz target config_parse: drives `parser::load_str` (the whole 1.4 configuration parser:
// lexer, keyword tables, ACLs, post-parse checks) with name resolution off, so the run
// touches neither DNS nor NSS. The corpus in fuzz/corpus/config_parse is replayed by
// parser/tests/fuzz_corpus.rs on every test run.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = parser::LoadOptions {
        resolve_names: false,
        ..parser::LoadOptions::default()
    };
    let loaded = parser::load_str("fuzz.cfg", data, &opts);
    // the contract: a configuration comes back exactly when no alert was reported
    assert_eq!(loaded.config.is_some(), !loaded.report.has_alerts());
    let _ = loaded.report.render("000/000000 (1)");
});
