//! Prints the keyword rows of `docs/compatibility.md` from the parser's keyword tables:
//! `cargo run -p haproxide-parser --example compat_table > rows.md`. The rows are pasted
//! into the document by hand because the status column is maintained there.
fn note(name: &str) -> &'static str {
    match name {
        "uid" | "gid" => " A non-numeric value is refused (departure: 1.4 read it as 0).",
        "user" | "group" => " Refused when name resolution is off (`LoadOptions::resolve_names`).",
        "option keepalive" => " 1.4 accepts the word but always ignores it with a warning.",
        "reqpass" | "reqipass" => " 1.4.25 has no action for it.",
        "stick store-response" => " Always refused: 1.4.25 has no response-side pattern fetch.",
        "stats prometheus-uri" => " Not 1.4: haproxide extension.",
        "ruleset" => " Parsed and checked, then dropped from the IR (it has no runtime role).",
        "monitor-net" => " One network; a non-contiguous mask is refused (departure).",
        "errorfile" => {
            " File read at load, relative to the base directory, truncated to tune.bufsize."
        }
        "http-request" => " A parse error stops 1.4 reading the file (see Departures).",
        "bind-process" => " `all` is stored as the full mask.",
        "capture cookie" => " Length capped at 63.",
        "acl src" | "acl dst" | "acl url_ip" | "acl hdr_ip" | "acl shdr_ip" => {
            " A non-contiguous mask is refused (departure)."
        }
        "acl hdr_reg" | "acl shdr_reg" | "acl url_reg" | "acl path_reg" => {
            " POSIX ERE; back-references refused (departure)."
        }
        _ => "",
    }
}

fn main() {
    println!("| keyword | sections | status | notes |");
    println!("|---|---|---|---|");
    for k in parser::keywords() {
        println!(
            "| `{}` | {} | parsed | {}.{} |",
            k.name,
            k.sections,
            k.doc,
            note(k.name)
        );
    }
}
