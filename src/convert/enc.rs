//! Writing values in HAProxy 2.6's configuration syntax: words (2.6 reads `"` and `'` as
//! quotes, expands `$VAR` inside double quotes, and knows more backslash escapes than 1.4),
//! times, sizes, addresses, and the `# haproxide:` notes.
//!
//! 1.4's tokenizer (`src/cfgparse.c` `readcfgfile`) has no quotes: `"` and `'` are ordinary
//! bytes, `$` is literal, and an escape it does not know stays as two bytes (`\.`). 2.6's
//! (`src/tools.c` `parse_line`) treats both quote characters as quoting, expands environment
//! variables between double quotes only, and additionally unescapes `\"`, `\'` and `\$`.
//! [`word`] therefore writes the bytes 1.4 read so that 2.6 reads the same bytes back:
//! unquoted with backslash escapes when the word has no space, between double quotes (with
//! `$` escaped) when it has one, which is how `stats realm 9ai9.net\ Qhappy` becomes
//! `stats realm "9ai9.net Qhappy"`.

use std::fmt::Write as _;

/// Bytes that start a two-byte escape in 2.6's tokenizer (after a backslash).
fn escapes_in_26(c: u8) -> bool {
    matches!(
        c,
        b' ' | b'\\' | b'#' | b'"' | b'\'' | b'$' | b't' | b'n' | b'r' | b'x'
    )
}

/// Encodes one configuration word (bytes as 1.4 read them) for 2.6's tokenizer.
///
/// Words without spaces stay unquoted (`\#`, `\"`, `\'` escaped, a backslash doubled only
/// when the next byte would make an escape); words with a space or tab are put between double
/// quotes, where `$` must be escaped too. Control bytes become `\r`, `\n`, `\t` or `\xHH`.
/// The empty word is written `""`.
pub fn word(w: &[u8]) -> String {
    if w.is_empty() {
        return "\"\"".to_string();
    }
    // quotes read better, but `$` between double quotes needs escaping: then spaces are
    // escaped instead
    let quoted = w.iter().any(|&c| c == b' ' || c == b'\t') && !w.contains(&b'$');
    let mut out = String::with_capacity(w.len() + 2);
    if quoted {
        out.push('"');
    }
    let mut i = 0;
    while i < w.len() {
        let c = w[i];
        match c {
            b'\\' => {
                let next = w.get(i + 1).copied();
                if next.is_none_or(escapes_in_26) {
                    out.push_str("\\\\");
                } else {
                    out.push('\\');
                }
            }
            b' ' if quoted => out.push(' '),
            b' ' => out.push_str("\\ "),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'#' if !quoted => out.push_str("\\#"),
            b'"' => out.push_str("\\\""),
            b'\'' if !quoted => out.push_str("\\'"),
            b'$' if quoted => out.push_str("\\$"),
            0..=0x1f | 0x7f => {
                let _ = write!(out, "\\x{c:02x}");
            }
            _ => push_byte(&mut out, w, &mut i),
        }
        i += 1;
    }
    if quoted {
        out.push('"');
    }
    out
}

/// Pushes `w[*i]`, keeping valid UTF-8 sequences whole (so comments and values in other
/// scripts stay readable) and writing a stray non-ASCII byte as `\xHH`.
fn push_byte(out: &mut String, w: &[u8], i: &mut usize) {
    let c = w[*i];
    if c < 0x80 {
        out.push(c as char);
        return;
    }
    let len = match c {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    };
    if len > 0 {
        if let Some(seq) = w.get(*i..*i + len) {
            if let Ok(s) = std::str::from_utf8(seq) {
                out.push_str(s);
                *i += len - 1;
                return;
            }
        }
    }
    let _ = write!(out, "\\x{c:02x}");
}

/// A string word (see [`word`]).
pub fn sword(s: &str) -> String {
    word(s.as_bytes())
}

/// Several words joined by single spaces.
pub fn words(ws: &[Vec<u8>]) -> String {
    ws.iter().map(|w| word(w)).collect::<Vec<_>>().join(" ")
}

/// Text for a 2.6 log-format string (a `%[...]`-style argument such as the value of
/// `add-header` or the replacement of `replace-header`): `%` is doubled, the rest as is.
pub fn logformat(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for &c in b {
        if c == b'%' {
            out.extend_from_slice(b"%%");
        } else {
            out.push(c);
        }
    }
    out
}

/// A time in milliseconds with the largest unit that divides it (`5000` -> `5s`).
pub fn time(ms: u32) -> String {
    if ms == 0 {
        return "0".to_string();
    }
    for (unit, div) in [
        ("d", 86_400_000u32),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms % div == 0 {
            return format!("{}{unit}", ms / div);
        }
    }
    format!("{ms}ms")
}

/// A time in seconds (cookie `maxidle`/`maxlife`, `stats refresh`).
pub fn time_s(s: u32) -> String {
    time_ms64(u64::from(s) * 1000)
}

fn time_ms64(ms: u64) -> String {
    match u32::try_from(ms) {
        Ok(v) => time(v),
        Err(_) => format!("{}s", ms / 1000),
    }
}

/// An IP address as 2.6 writes it in `addr:port` forms (IPv6 in brackets).
pub fn ip_port(ip: &std::net::IpAddr, port: &str) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => format!("{v4}:{port}"),
        std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

/// Text of the raw source line after its last word: the trailing `# comment`, if any.
///
/// Follows 1.4's rule: an unescaped `#` starts a comment (a backslash escapes the next
/// byte). Returns the comment from its `#`, without the line end.
pub fn trailing_comment(raw: &[u8]) -> Option<String> {
    let mut i = 0;
    let mut seen_word = false;
    while i < raw.len() {
        match raw[i] {
            b'\\' => {
                i += 2;
                seen_word = true;
                continue;
            }
            b'#' => {
                if !seen_word {
                    return None;
                }
                let end = raw[i..]
                    .iter()
                    .position(|&c| c == b'\n' || c == b'\r')
                    .map_or(raw.len(), |p| i + p);
                let text = String::from_utf8_lossy(&raw[i..end]);
                return Some(clean_comment(text.trim_end()));
            }
            b'\n' | b'\r' => return None,
            c if !c.is_ascii_whitespace() => seen_word = true,
            _ => {}
        }
        i += 1;
    }
    None
}

/// A comment or blank line for the output: Unicode spaces (U+00A0 and friends, which 2.6
/// does not read as blanks) become plain spaces, trailing blanks and the line end go.
pub fn clean_comment(s: &str) -> String {
    let (mapped, _) = parser::lexer::map_unicode_spaces(s.as_bytes());
    String::from_utf8_lossy(&mapped).trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_stay_plain() {
        assert_eq!(word(b"httplog"), "httplog");
        assert_eq!(word(b"/qhappy_stats"), "/qhappy_stats");
        assert_eq!(word(b"^(cookie.9ai9.net)"), "^(cookie.9ai9.net)");
    }

    #[test]
    fn spaces_are_quoted_and_dollar_escaped_there() {
        assert_eq!(word(b"9ai9.net Qhappy"), "\"9ai9.net Qhappy\"");
        assert_eq!(word(b"a $HOME b"), "a\\ $HOME\\ b");
        // unquoted, 2.6 expands nothing and keeps a backslash before `$`
        assert_eq!(word(b"a$b"), "a$b");
    }

    #[test]
    fn quotes_comment_and_backslashes() {
        assert_eq!(word(b"L'broker"), "L\\'broker");
        assert_eq!(word(b"say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(word(b"a#b"), "a\\#b");
        // `\.` is no 2.6 escape: kept; `\t` would be one: doubled
        assert_eq!(word(b"\\.php$"), "\\.php$");
        assert_eq!(word(b"\\tab"), "\\\\tab");
        assert_eq!(word(b"end\\"), "end\\\\");
        assert_eq!(word(b"\\1"), "\\1");
        assert_eq!(word(b"a\r\nb"), "a\\r\\nb");
        assert_eq!(word(b"\x01"), "\\x01");
        assert_eq!(word(b""), "\"\"");
        assert_eq!(word("café".as_bytes()), "café");
        assert_eq!(word(b"\xff"), "\\xff");
    }

    #[test]
    fn times() {
        assert_eq!(time(5000), "5s");
        assert_eq!(time(30000), "30s");
        assert_eq!(time(1500), "1500ms");
        assert_eq!(time(18_000_000), "5h");
        assert_eq!(time(86_400_000), "1d");
        assert_eq!(time(120_000), "2m");
        assert_eq!(time(0), "0");
        assert_eq!(time_s(5), "5s");
    }

    #[test]
    fn comments() {
        assert_eq!(
            trailing_comment(b"nbproc 1   # cores\n").as_deref(),
            Some("# cores")
        );
        assert_eq!(trailing_comment(b"realm a\\#b\n"), None);
        assert_eq!(trailing_comment(b"# whole line\n"), None);
        assert_eq!(
            trailing_comment("stats auth a:b  #\u{a0}x".as_bytes()).as_deref(),
            Some("# x")
        );
        assert_eq!(
            clean_comment("#\u{a0} \u{a0}default_backend x\r"),
            "#   default_backend x"
        );
    }

    #[test]
    fn logformat_doubles_percent() {
        assert_eq!(logformat(b"50% off"), b"50%% off".to_vec());
    }
}
