//! Real-world agreement: every `shared/corpus/real-world/*.cfg` must be accepted or
//! rejected exactly as HAProxy 1.4.25 did (`haproxy14.exit` in `verdicts.json`). Paths
//! inside the files are relative to the corpus directory, which is used as base directory.
//! A table of mismatches is printed on failure; alert/warning counts are printed for
//! information (1.4 stops reading a file at some errors, we report them all, and the
//! `quiet` keyword hides 1.4's warnings).

mod common;

use parser::diag::Level;
use parser::{load_files, LoadOptions};

/// `(file, haproxy14 exit, haproxy14 alert count, haproxy14 warning count)` from
/// verdicts.json, read with a small scanner (the format is fixed and machine-written).
fn verdicts(json: &str) -> Vec<(String, i64, i64, i64)> {
    let mut out = Vec::new();
    let mut rest = json;
    while let Some(i) = rest.find("\"file\": \"") {
        rest = &rest[i + 9..];
        let Some(end) = rest.find('"') else { break };
        let file = rest[..end].to_string();
        let Some(h) = rest.find("\"haproxy14\"") else {
            break;
        };
        let block = &rest[h..];
        let num = |key: &str| -> i64 {
            let k = block.find(key).expect(key);
            let v = &block[k + key.len()..];
            let v = v.trim_start_matches([':', ' ']);
            let n: String = v
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '-')
                .collect();
            n.parse().expect("number")
        };
        out.push((
            file,
            num("\"exit\""),
            num("\"alert_count\""),
            num("\"warning_count\""),
        ));
        rest = &rest[h..];
    }
    out
}

#[test]
fn verdicts_agree_with_haproxy_1_4() {
    let dir = common::corpus_dir();
    let json = std::fs::read_to_string(dir.join("verdicts.json"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("verdicts.json").display()));
    let list = verdicts(&json);
    assert_eq!(list.len(), 63, "verdicts.json lists {} files", list.len());
    let opts = LoadOptions {
        base_dir: Some(dir.clone()),
        ..LoadOptions::default()
    };
    let mut table = String::new();
    let mut bad = 0;
    for (file, exit, alerts14, warns14) in &list {
        let path = dir.join(file);
        assert!(path.is_file(), "missing corpus file {}", path.display());
        let loaded = load_files(&[path], &opts);
        let ours = if loaded.config.is_some() { 0 } else { 1 };
        let a = loaded.report.alerts().count();
        let w = loaded
            .report
            .diags
            .iter()
            .filter(|d| d.level == Level::Warning)
            .count();
        let mark = if ours == *exit { "ok" } else { "MISMATCH" };
        if ours != *exit {
            bad += 1;
        }
        table.push_str(&format!(
            "{mark:8} 1.4={exit} ours={ours} alerts {a}/{alerts14} warnings {w}/{warns14} {file}\n"
        ));
        if ours != *exit {
            for d in &loaded.report.diags {
                table.push_str(&format!("           {}\n", d.render("-")));
            }
        }
    }
    println!("{table}");
    println!("agreement: {}/{}", list.len() - bad, list.len());
    assert_eq!(bad, 0, "verdict mismatches:\n{table}");
}

#[test]
fn scanner_reads_the_fields() {
    let v = verdicts(
        r#"[{"file": "a.cfg", "x": 1, "haproxy14": {"exit": 1, "alerts": [], "alert_count": 3, "warning_count": 0}},
           {"file": "b.cfg", "haproxy14": {"exit": 0, "alert_count": 0, "warning_count": 2}}]"#,
    );
    assert_eq!(
        v,
        vec![("a.cfg".into(), 1, 3, 0), ("b.cfg".into(), 0, 0, 2)]
    );
}
