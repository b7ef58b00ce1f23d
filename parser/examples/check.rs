//! `cargo run -p haproxide-parser --example check -- <file>...`: loads the files and prints
//! the diagnostics with a fixed stamp, then the verdict (a quick manual check tool).
fn main() {
    let paths: Vec<std::path::PathBuf> = std::env::args_os().skip(1).map(Into::into).collect();
    let loaded = parser::load_files(&paths, &parser::LoadOptions::default());
    print!("{}", loaded.report.render("000/000000 (1)"));
    println!(
        "{}",
        if loaded.config.is_some() {
            "VALID"
        } else {
            "INVALID"
        }
    );
}
