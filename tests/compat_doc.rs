//! `docs/compatibility.md` stays true: every keyword the parser knows has a row, and the row's
//! status is the runtime's (`haproxide::support::status`): `executed`, `warning` (accepted,
//! no effect) or `rejected`. Run with `UPDATE_COMPAT=1` to rewrite the status column.

use haproxide::support::{status, Status};

fn word(s: Status) -> &'static str {
    match s {
        Status::Executed => "executed",
        Status::Warning(_) => "warning",
        Status::Rejected(_) => "rejected",
    }
}

#[test]
fn compatibility_doc_statuses_match_the_runtime() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/compatibility.md");
    let text = std::fs::read_to_string(&path).expect("docs/compatibility.md");
    let update = std::env::var_os("UPDATE_COMPAT").is_some();
    let mut out = String::new();
    let mut wrong = Vec::new();
    let mut rows = std::collections::BTreeSet::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').collect();
        // | `kw` | sections | status | notes |
        if cells.len() >= 6 && cells[1].trim().starts_with('`') {
            let kw = cells[1].trim().trim_matches('`').to_string();
            let want = status(&kw);
            let have = cells[3].trim();
            let mut notes = cells[4].trim().to_string();
            if let Status::Warning(why) | Status::Rejected(why) = want {
                let prefix = format!("{why}.");
                if !notes.starts_with(&prefix) {
                    notes = format!("{prefix} {notes}");
                }
            }
            if have != word(want) {
                wrong.push(format!(
                    "{kw}: doc says '{have}', runtime says '{}'",
                    word(want)
                ));
            }
            rows.insert(kw.clone());
            out.push_str(&format!(
                "| `{kw}` | {} | {} | {} |\n",
                cells[2].trim(),
                word(want),
                notes
            ));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if update {
        std::fs::write(&path, out).expect("rewrite docs/compatibility.md");
        return;
    }
    let missing: Vec<String> = parser::keywords()
        .map(|k| k.name.to_string())
        .filter(|k| !rows.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "keywords without a row in docs/compatibility.md: {missing:?}"
    );
    assert!(
        wrong.is_empty(),
        "docs/compatibility.md is out of date (UPDATE_COMPAT=1 cargo test --test compat_doc):\n{}",
        wrong.join("\n")
    );
}
