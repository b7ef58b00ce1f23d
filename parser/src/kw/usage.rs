//! Which keyword rows of [`keywords`] a configuration uses: a syntactic scan over the
//! crate's own tokenizer, for the coverage test of the example configurations
//! (`tests/examples.rs`) and for tooling that wants to know which features a file needs.
//!
//! The scan follows the sections the way `readcfgfile` does and names each use exactly as
//! [`keywords`] lists it: the first word of a line (`bind`, `maxconn`...), the two-word
//! forms (`option httpclose`, `timeout client`, `stats uri`, `balance hdr`,
//! `capture request header`, `stick on`...), every server / `default-server` parameter
//! (`server inter`), `usesrc` after `source`, and every ACL criterion, whether on an `acl`
//! line or in an anonymous `{ ... }` block of a condition. A row counts only when the section
//! it appears in is one of the row's sections, so a keyword 1.4 would ignore there (with a
//! capability warning) is not reported as used. The scan does not validate anything: run
//! [`crate::load_str`] for that. Lines inside the obsolete `ruleset` sections are not
//! counted (they have no runtime role); only their header is.

use super::{keywords, KeywordInfo, Sections};
use crate::lexer;
use std::collections::BTreeSet;

/// The keyword rows used by a configuration file's text.
pub fn used_keywords(text: &[u8]) -> BTreeSet<KeywordInfo> {
    let rows: Vec<KeywordInfo> = keywords().collect();
    let mut used = BTreeSet::new();
    // the section of the current line; `None` before any header and inside a ruleset
    let mut sect: Option<Sections> = None;
    for line in lexer::tokenize(text) {
        let mut words: Vec<&str> = line
            .words
            .iter()
            .map(|w| std::str::from_utf8(w).unwrap_or(""))
            .collect();
        // `no option X` / `default option X`
        if words.len() > 1 && matches!(words[0], "no" | "default") && words[1] == "option" {
            words.remove(0);
        }
        let Some(&first) = words.first() else {
            continue;
        };
        let header = match first {
            "global" => Some(Some(Sections::GLOBAL)),
            "userlist" => Some(Some(Sections::USERLIST)),
            "defaults" => Some(Some(Sections::DEFAULTS)),
            "frontend" => Some(Some(Sections::FRONTEND)),
            "listen" => Some(Some(Sections::LISTEN)),
            "backend" => Some(Some(Sections::BACKEND)),
            "ruleset" => Some(None),
            _ => None,
        };
        if let Some(s) = header {
            sect = s;
            // the header's own row, whatever sections the matrix gives it
            if let Some(r) = rows
                .iter()
                .find(|r| r.name == first && r.sections != Sections::GLOBAL)
            {
                used.insert(*r);
            }
            continue;
        }
        let Some(s) = sect else { continue };
        let mut names = Vec::new();
        line_names(s, &words, &mut names);
        for n in names {
            if let Some(r) = rows.iter().find(|r| r.name == n && r.sections.contains(s)) {
                used.insert(*r);
            }
        }
    }
    used
}

/// The keyword names a line of section `s` uses (not yet checked against the tables).
fn line_names(s: Sections, w: &[&str], out: &mut Vec<String>) {
    let arg = |i: usize| w.get(i).copied().unwrap_or("");
    out.push(w[0].to_string());
    if s == Sections::USERLIST {
        return;
    }
    if s == Sections::GLOBAL {
        if w[0] == "stats" {
            out.push(format!("stats {}", arg(1)));
        }
        return;
    }
    match w[0] {
        "option" | "timeout" | "stats" | "monitor" | "persist" | "rate-limit" | "http-check"
        | "tcp-request" => out.push(format!("{} {}", w[0], strip_arg(arg(1)))),
        "balance" => out.push(format!("balance {}", strip_arg(arg(1)))),
        "stick" => {
            let sub = if arg(1) == "store" {
                "store-request"
            } else {
                arg(1)
            };
            out.push(format!("stick {sub}"));
        }
        "capture" => match arg(1) {
            "cookie" => out.push("capture cookie".into()),
            "request" | "response" => out.push(format!("capture {} {}", arg(1), arg(2))),
            _ => {}
        },
        "acl" => out.push(format!("acl {}", strip_arg(arg(2)))),
        "server" => server_params(w, 3, out),
        "default-server" => server_params(w, 1, out),
        "source" if w.iter().skip(2).any(|x| *x == "usesrc") => out.push("usesrc".into()),
        _ => {}
    }
    // anonymous ACLs in a condition: `if { criterion ... }`
    if let Some(c) = w.iter().position(|x| *x == "if" || *x == "unless") {
        let mut i = c + 1;
        while i + 1 < w.len() {
            if w[i] == "{" {
                out.push(format!("acl {}", strip_arg(w[i + 1])));
            }
            i += 1;
        }
    }
}

/// `hdr(host)` → `hdr`, `rdp-cookie(msts)` → `rdp-cookie`.
fn strip_arg(word: &str) -> &str {
    word.split_once('(').map_or(word, |(k, _)| k)
}

/// The parameters of a `server` (from word 3) or `default-server` (from word 1) line, as
/// `server <param>`, with the number of arguments each one takes in 1.4.
fn server_params(w: &[&str], from: usize, out: &mut Vec<String>) {
    let mut i = from;
    while let Some(p) = w.get(i) {
        let argc = match *p {
            "backup" | "check" | "disabled" => 0,
            "addr" | "cookie" | "downinter" | "error-limit" | "fall" | "fastinter" | "id"
            | "inter" | "maxconn" | "maxqueue" | "minconn" | "observe" | "on-error" | "port"
            | "redir" | "rise" | "slowstart" | "track" | "weight" => 1,
            "source" => {
                out.push("server source".into());
                i += 2;
                // `usesrc <x>` and `interface <if>` belong to the source parameter
                while let Some(&k @ ("usesrc" | "interface")) = w.get(i) {
                    if k == "usesrc" {
                        out.push("usesrc".into());
                    }
                    i += 2;
                }
                continue;
            }
            // an unknown word: 1.4 refuses the line, so stop here
            _ => return,
        };
        out.push(format!("server {p}"));
        i += 1 + argc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        used_keywords(text.as_bytes())
            .into_iter()
            .map(|k| format!("{} {}", k.name, k.sections))
            .collect()
    }

    #[test]
    fn one_row_per_use_with_the_section_it_belongs_to() {
        let cfg = "\
global
    log 127.0.0.1 local0
    maxconn 100
    stats socket /tmp/s level admin
userlist L
    user admin insecure-password x
defaults
    mode http
    no option httpclose
    clitimeout 5000
listen app 127.0.0.1:8000
    log global
    balance hdr(host) use_domain_only
    capture request header Host len 20
    acl local src 127.0.0.1
    stick store src
    server a 127.0.0.1:80 cookie check check inter 2s source 127.0.0.1 usesrc clientip
    block if !local { hdr_beg(host) -i www. } or { path_end .php }
backend b
    default-server fall 2 weight 3
    source 127.0.0.1 usesrc client
";
        let got = names(cfg);
        for want in [
            "log global",
            "maxconn global",
            "stats global",
            "stats socket global",
            "userlist userlist",
            "user userlist",
            "defaults D---",
            "mode DFLB",
            "option DFLB",
            "option httpclose DFLB",
            "clitimeout DFL-",
            "listen --L-",
            "log DFLB",
            "balance hdr D-LB",
            "capture request header -FL-",
            "acl src -FLB",
            "stick store-request --LB",
            "server --LB",
            // `check` as a cookie value is the argument of `cookie`, not the parameter
            "server cookie --LB",
            "server check --LB",
            "server inter D-LB",
            "server source --LB",
            "usesrc --LB",
            "block -FLB",
            "acl hdr_beg -FLB",
            "acl path_end -FLB",
            "backend ---B",
            "default-server D-LB",
            "server fall D-LB",
            "server weight D-LB",
            "source D-LB",
            // the first words of two-word forms have their own rows
            "balance D-LB",
            "capture -FL-",
            "acl -FLB",
            "stick --LB",
        ] {
            assert!(got.iter().any(|g| g == want), "{want} not in {got:?}");
        }
        // no stray rows: the global `log` row is not the proxy one, and so on
        assert_eq!(got.len(), 35, "{got:?}");
    }

    #[test]
    fn keywords_out_of_their_sections_and_ruleset_bodies_do_not_count() {
        // 1.4 ignores `clitimeout` in a backend and `stick` in a frontend (warnings)
        let got = names(
            "frontend f\n stick on src\nbackend b\n clitimeout 5\n\
             ruleset r\n reqadd X-A:\\ 1\nbind :80\n",
        );
        assert_eq!(got, ["backend ---B", "frontend -F--", "ruleset -FLB"]);
    }

    #[test]
    fn every_name_the_scan_builds_exists_in_the_tables() {
        // a scan of a line using each known first word must only report known rows
        let all: BTreeSet<KeywordInfo> = keywords().collect();
        let used = used_keywords(b"global\n tune.bufsize 16384\n nosplice\nlisten x\n redisp\n");
        assert!(used.is_subset(&all));
        assert_eq!(used.len(), 4);
    }
}
