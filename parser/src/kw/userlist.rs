//! The `userlist` section (compare with 1.4 `cfg_parse_users` in `src/cfgparse.c`).
//!
//! Keywords: `userlist <name>`, `group <name> [users <u1>,<u2>...]`,
//! `user <name> [password <crypt>|insecure-password <plain>] [groups <g1>,<g2>...]`.
//! Group and user cross-references are resolved by `check.rs`.

use super::{KeywordInfo, Ln, Parser, Sections};
use crate::ir::*;
use crate::span::Spanned;
use crate::value::{invalid_char, show_char};

/// 1.4 `MAX_AUTH_GROUPS`.
pub const MAX_AUTH_GROUPS: usize = 32;

pub struct UlKw {
    pub name: &'static str,
    pub doc: &'static str,
}

impl UlKw {
    pub fn info(&self) -> KeywordInfo {
        KeywordInfo {
            name: self.name,
            sections: Sections::USERLIST,
            doc: self.doc,
        }
    }
}

pub static KEYWORDS: &[UlKw] = &[
    UlKw {
        name: "userlist",
        doc: "section header: a named list of users and groups for http_auth ACLs",
    },
    UlKw {
        name: "group",
        doc: "declare a group: <name> [users <u1>,<u2>...]",
    },
    UlKw {
        name: "user",
        doc:
            "declare a user: <name> [password <crypt>|insecure-password <plain>] [groups <g1>,...]",
    },
];

fn split_list(w: &[u8]) -> Vec<String> {
    w.split(|c| *c == b',')
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Parses one line of a `userlist` section.
pub fn parse(p: &mut Parser, l: &Ln) {
    match l.a(0) {
        b"userlist" => {
            if !l.has(1) {
                p.d.alert_t(
                    &l.span,
                    format!("'{}' expects <name> as arguments.", l.s(0)),
                );
                return;
            }
            if let Some(c) = invalid_char(l.a(1)) {
                p.d.alert_t(
                    &l.span,
                    format!(
                        "character '{}' is not permitted in '{}' name '{}'.",
                        show_char(c),
                        l.s(0),
                        l.s(1)
                    ),
                );
                return;
            }
            if p.userlists.iter().any(|u| u.name.as_bytes() == l.a(1)) {
                p.d.warn_t(
                    &l.span,
                    format!("ignoring duplicated userlist '{}'.", l.s(1)),
                );
                return;
            }
            p.userlists.push(Userlist {
                span: l.span.clone(),
                name: l.s(1).into_owned(),
                groups: Vec::new(),
                users: Vec::new(),
            });
            p.cur_ul = Some(p.userlists.len() - 1);
        }
        b"group" => group(p, l),
        b"user" => user(p, l),
        _ => p.d.alert_t(
            &l.span,
            format!("unknown keyword '{}' in 'users' section", l.s(0)),
        ),
    }
}

fn current(p: &mut Parser, l: &Ln) -> Option<usize> {
    if p.cur_ul.is_none() {
        // 1.4 would dereference a NULL userlist here
        p.d.alert_t(
            &l.span,
            format!("'{}' found before a valid 'userlist' line.", l.s(0)),
        );
    }
    p.cur_ul
}

fn group(p: &mut Parser, l: &Ln) {
    if !l.has(1) {
        p.d.alert_t(
            &l.span,
            format!("'{}' expects <name> as arguments.", l.s(0)),
        );
        return;
    }
    if let Some(c) = invalid_char(l.a(1)) {
        p.d.alert_t(
            &l.span,
            format!(
                "character '{}' is not permitted in '{}' name '{}'.",
                show_char(c),
                l.s(0),
                l.s(1)
            ),
        );
        return;
    }
    let Some(ui) = current(p, l) else {
        return;
    };
    let ul = &p.userlists[ui];
    if ul.groups.iter().any(|g| g.name.as_bytes() == l.a(1)) {
        let msg = format!(
            "ignoring duplicated group '{}' in userlist '{}'.",
            l.s(1),
            ul.name
        );
        p.d.alert_nf_t(&l.span, msg);
        return;
    }
    if ul.groups.len() >= MAX_AUTH_GROUPS {
        let msg = format!(
            "too many groups ({}) in in userlist '{}' while adding group '{}'.",
            MAX_AUTH_GROUPS,
            ul.name,
            l.s(1)
        );
        p.d.alert_t(&l.span, msg);
        return;
    }
    let mut users = Vec::new();
    let mut i = 2;
    while l.has(i) {
        if l.is(i, "users") {
            users = split_list(l.a(i + 1));
            i += 2;
        } else {
            p.d.alert_t(
                &l.span,
                format!("'{}' only supports 'users' option.", l.s(0)),
            );
            return;
        }
    }
    p.userlists[ui].groups.push(Spanned::new(
        l.span.clone(),
        UlGroup {
            name: l.s(1).into_owned(),
            users,
        },
    ));
}

fn user(p: &mut Parser, l: &Ln) {
    if !l.has(1) {
        p.d.alert_t(
            &l.span,
            format!("'{}' expects <name> as arguments.", l.s(0)),
        );
        return;
    }
    let Some(ui) = current(p, l) else {
        return;
    };
    let ul = &p.userlists[ui];
    if ul.users.iter().any(|u| u.name.as_bytes() == l.a(1)) {
        let msg = format!(
            "ignoring duplicated user '{}' in userlist '{}'.",
            l.s(1),
            ul.name
        );
        p.d.alert_nf_t(&l.span, msg);
        return;
    }
    let mut u = UlUser {
        name: l.s(1).into_owned(),
        password: Password::None,
        groups: Vec::new(),
    };
    let mut i = 2;
    while l.has(i) {
        match l.a(i) {
            b"password" => u.password = Password::Crypt(l.s(i + 1).into_owned()),
            b"insecure-password" => u.password = Password::Insecure(l.s(i + 1).into_owned()),
            b"groups" => u.groups = split_list(l.a(i + 1)),
            _ => {
                p.d.alert_t(
                    &l.span,
                    format!(
                        "'{}' only supports 'password', 'insecure-password' and 'groups' options.",
                        l.s(0)
                    ),
                );
                break;
            }
        }
        i += 2;
    }
    // 1.4 links the user before reading its options, so it exists even after an error
    p.userlists[ui].users.push(Spanned::new(l.span.clone(), u));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_lists() {
        assert_eq!(split_list(b"a,b,,c"), vec!["a", "b", "c"]);
        assert!(split_list(b"").is_empty());
    }
}
