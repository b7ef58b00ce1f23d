//! Golden diagnostics: every `tests/cases/NAME.cfg` is loaded with name resolution off and
//! `tests/cases/` as base directory, and its rendered diagnostics (fixed stamp) must equal
//! `NAME.expected`. Run with `UPDATE_GOLDEN=1` to rewrite the expected files after a
//! deliberate change, then review the diff.

use parser::{load_str, LoadOptions};
use std::path::{Path, PathBuf};

const STAMP: &str = "000/000000 (1)";

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

/// Renders a case: the diagnostics, then the verdict.
fn render(name: &str, text: &[u8]) -> String {
    let opts = LoadOptions {
        resolve_names: false,
        base_dir: Some(cases_dir()),
        ..LoadOptions::default()
    };
    let loaded = load_str(name, text, &opts);
    let mut out = loaded.report.render(STAMP);
    out.push_str(if loaded.config.is_some() {
        "=> valid\n"
    } else {
        "=> invalid\n"
    });
    out
}

#[test]
fn golden_cases() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/cases exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cfg"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "only {} cases", cases.len());
    let mut failures = Vec::new();
    let mut broken = 0;
    for cfg in &cases {
        let name = cfg.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read(cfg).expect("readable case");
        let got = render(&name, &text);
        if got.ends_with("=> invalid\n") {
            broken += 1;
        }
        let exp_path = cfg.with_extension("expected");
        if update {
            std::fs::write(&exp_path, &got).expect("write expected");
            continue;
        }
        let exp = std::fs::read_to_string(&exp_path).unwrap_or_default();
        if got != exp {
            failures.push(format!("--- {name}: expected\n{exp}--- got\n{got}"));
        }
    }
    assert!(broken >= 15, "only {broken} broken cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn broken_cases_name_file_and_line() {
    // every alert of a broken case that points at a line must name this file
    for cfg in std::fs::read_dir(cases_dir())
        .unwrap()
        .filter_map(|e| e.ok())
    {
        let p = cfg.path();
        if p.extension().is_none_or(|x| x != "cfg") {
            continue;
        }
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let out = render(&name, &std::fs::read(&p).unwrap());
        for line in out.lines().filter(|l| l.contains("parsing [")) {
            assert!(
                line.contains(&format!("parsing [{name}:"))
                    || line.contains(&format!("Parsing [{name}:")),
                "{line}"
            );
        }
    }
}
