//! Every keyword the parser knows has a row in docs/compatibility.md
//! (`| `name` | sections | status | notes |`).

use std::path::Path;

#[test]
fn every_keyword_is_documented() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/compatibility.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut missing = Vec::new();
    let mut n = 0;
    for k in parser::keywords() {
        n += 1;
        let row = format!("| `{}` | {} |", k.name, k.sections);
        if !doc.lines().any(|l| l.starts_with(&row)) {
            missing.push(row);
        }
    }
    assert!(n > 250, "only {n} keywords");
    assert!(
        missing.is_empty(),
        "rows missing from docs/compatibility.md:\n{}",
        missing.join("\n")
    );
    assert!(doc.contains("## Departures"));
}
