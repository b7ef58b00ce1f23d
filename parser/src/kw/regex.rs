//! Compiles 1.4 regular expressions (POSIX extended, glibc `regcomp` in the C locale) into
//! `regex::bytes::Regex`, once, at load time.
//!
//! The pattern is translated so that the `regex` crate matches what glibc matches on bytes:
//! Unicode is off (`.` is any byte), `.` also matches a newline (no `REG_NEWLINE`), a
//! backslash inside a bracket expression is an ordinary character, `\<`/`\>` are word
//! starts/ends, escaped letters glibc does not know (`\d`) are the letters themselves, and
//! non-ASCII bytes are matched as bytes. Back-references (`\1`) have no equivalent in the
//! crate and are refused with their own message. Compare with 1.4 `regcomp` calls in
//! `src/cfgparse.c` (`create_cond_regex_rule`) and `src/acl.c` (`acl_parse_reg`).

use regex::bytes::{Regex, RegexBuilder};

/// Why a pattern cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub enum RegexError {
    /// The pattern uses back-references, which the regex crate lacks.
    Backref,
    /// The pattern is invalid (or uses syntax the translation does not cover).
    Invalid(String),
}

/// Compiles `src` (raw bytes after config unescaping); `icase` for `REG_ICASE`.
pub fn compile(src: &[u8], icase: bool) -> Result<Regex, RegexError> {
    let pat = translate(src)?;
    RegexBuilder::new(&pat)
        .unicode(false)
        .case_insensitive(icase)
        .dot_matches_new_line(true)
        .build()
        .map_err(|e| RegexError::Invalid(e.to_string()))
}

fn push_byte(out: &mut String, c: u8) {
    if c.is_ascii_alphanumeric() || c == b'_' || c == b' ' {
        out.push(c as char);
    } else {
        out.push_str(&format!("\\x{c:02X}"));
    }
}

/// POSIX ERE to `regex` syntax.
pub fn translate(src: &[u8]) -> Result<String, RegexError> {
    let mut out = String::with_capacity(src.len() + 8);
    let mut i = 0usize;
    while i < src.len() {
        let c = src[i];
        match c {
            b'\\' => {
                let Some(&n) = src.get(i + 1) else {
                    return Err(RegexError::Invalid("trailing backslash".into()));
                };
                i += 2;
                match n {
                    b'1'..=b'9' => return Err(RegexError::Backref),
                    b'w' | b'W' | b's' | b'S' | b'b' | b'B' => {
                        out.push('\\');
                        out.push(n as char);
                    }
                    b'<' => out.push_str(r"\b{start}"),
                    b'>' => out.push_str(r"\b{end}"),
                    b'`' => out.push_str(r"\A"),
                    b'\'' => out.push_str(r"\z"),
                    _ => push_byte(&mut out, n),
                }
            }
            b'[' => {
                i = bracket(src, i, &mut out)?;
            }
            b'.' | b'^' | b'$' | b'|' | b'(' | b')' | b'*' | b'+' | b'?' | b'{' | b'}' => {
                out.push(c as char);
                i += 1;
            }
            _ => {
                push_byte(&mut out, c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Translates the bracket expression starting at `src[start] == '['`; returns the index
/// after its closing `]`.
fn bracket(src: &[u8], start: usize, out: &mut String) -> Result<usize, RegexError> {
    let mut i = start + 1;
    out.push('[');
    if src.get(i) == Some(&b'^') {
        out.push('^');
        i += 1;
    }
    if src.get(i) == Some(&b']') {
        out.push_str(r"\]");
        i += 1;
    }
    while i < src.len() {
        let c = src[i];
        match c {
            b']' => {
                out.push(']');
                return Ok(i + 1);
            }
            b'[' if matches!(src.get(i + 1), Some(b':' | b'=' | b'.')) => {
                let kind = src[i + 1];
                let body_start = i + 2;
                let mut j = body_start;
                while j + 1 < src.len() && !(src[j] == kind && src[j + 1] == b']') {
                    j += 1;
                }
                if j + 1 >= src.len() {
                    return Err(RegexError::Invalid("unterminated class".into()));
                }
                let body = &src[body_start..j];
                if kind == b':' {
                    out.push_str("[:");
                    out.push_str(&String::from_utf8_lossy(body));
                    out.push_str(":]");
                } else {
                    for &b in body {
                        push_byte(out, b);
                    }
                }
                i = j + 2;
            }
            b'-' => {
                out.push('-');
                i += 1;
            }
            _ => {
                push_byte(out, c);
                i += 1;
            }
        }
    }
    Err(RegexError::Invalid(
        "unterminated bracket expression".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, icase: bool, s: &[u8]) -> bool {
        compile(p.as_bytes(), icase).unwrap().is_match(s)
    }

    #[test]
    fn seed_host_regex() {
        assert!(m("^(cookie.9ai9.net)", true, b"COOKIE.9ai9.net"));
        assert!(m("^(cookie.9ai9.net)", true, b"cookieX9ai9Ynet.example"));
        assert!(!m("^(cookie.9ai9.net)", true, b"www.cookie.9ai9.net"));
    }

    #[test]
    fn dot_is_any_byte() {
        assert!(m("^a.b$", false, b"a\xffb"));
        assert!(m("^a.b$", false, b"a\nb"));
    }

    #[test]
    fn posix_specifics() {
        // backslash is literal inside brackets
        assert!(m(r"^[\.]$", false, b"\\"));
        assert!(m("^[]a]+$", false, b"]a]"));
        assert!(m("^[[:digit:]]+$", false, b"123"));
        assert!(m("^[[]$", false, b"["));
        // unknown escaped letters are the letters
        assert!(m(r"^\d$", false, b"d"));
        assert!(!m(r"^\d$", false, b"5"));
        assert!(m(r"\<foo\>", false, b"a foo b"));
        assert!(!m(r"\<foo\>", false, b"afoob"));
        assert!(m(r"^GET /a\.b", false, b"GET /a.b HTTP/1.1"));
        assert!(m("^a&&b~~c$", false, b"a&&b~~c"));
        assert!(m("^[a&~]+$", false, b"&~a"));
        // raw non-ASCII bytes
        assert!(compile(b"^\xe9t\xe9$", false)
            .unwrap()
            .is_match(b"\xe9t\xe9"));
    }

    #[test]
    fn errors() {
        assert_eq!(compile(br"(a)\1", false).err(), Some(RegexError::Backref));
        assert!(matches!(compile(b"(", false), Err(RegexError::Invalid(_))));
        assert!(matches!(compile(b"[a", false), Err(RegexError::Invalid(_))));
        assert!(matches!(
            compile(b"a\\", false),
            Err(RegexError::Invalid(_))
        ));
    }
}
