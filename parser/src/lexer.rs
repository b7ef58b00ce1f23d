//! Splits a configuration file into lines of words exactly as HAProxy 1.4 does
//! (compare with 1.4 `src/cfgparse.c` `readcfgfile`).
//!
//! * Lines are read `fgets`-style into a 2048-byte buffer: a longer line is reported
//!   (`line too long, limit: 2047.`) and its remainder is read as the next line, with its own
//!   line number, exactly as 1.4 does. A NUL byte ends the line's content.
//! * Leading blanks are skipped; words are split on runs of C-locale `isspace()`.
//! * `#`, CR and LF end the line unless escaped. Escapes: `\ ` `\\` `\#` `\r` `\n` `\t`
//!   and `\xHH`; an invalid `\x` is fatal; any other `\c` stays as the two bytes `\c`.
//! * At most 64 words; the 65th word triggers 1.4's truncation alert.
//!
//! One deliberate departure: Unicode spaces pasted from web pages (U+00A0 as `C2 A0` or as a
//! lone Latin-1 byte `A0`, U+2000..=U+200A, U+202F, U+205F, U+3000) are read as one plain
//! space each, before escape processing, so `\`+NBSP behaves like `\ `. The lines where that
//! happened outside comments are reported so the caller can warn once per file.

use crate::value::is_c_space;

/// 1.4 `LINESIZE`: the fgets buffer, so lines hold at most 2047 bytes.
pub const LINESIZE: usize = 2048;
/// 1.4 `MAX_LINE_ARGS`.
pub const MAX_LINE_ARGS: usize = 64;

/// One physical line (as 1.4 counts them) and its words after unescaping.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number.
    pub num: u32,
    /// 1-based byte column of the first word (0 when the line has no word).
    pub col: u32,
    pub words: Vec<Vec<u8>>,
    /// Messages 1.4 prints while tokenizing this line; all are fatal alerts.
    pub msgs: Vec<LexMsg>,
    /// A Unicode space was read as a separator or escaped space on this line.
    pub unicode_space: bool,
}

/// A tokenizer diagnostic. `tight` selects 1.4's `parsing [f:l]: ` form (no space before
/// the colon) used by some of its messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexMsg {
    pub tight: bool,
    pub text: String,
}

/// Tokenizes a whole file. Every line is returned, including empty ones, so that their
/// messages keep their place.
pub fn tokenize(text: &[u8]) -> Vec<Line> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut num = 0u32;
    while pos < text.len() {
        let limit = (pos + LINESIZE - 1).min(text.len());
        let end = match text[pos..limit].iter().position(|c| *c == b'\n') {
            Some(nl) => pos + nl + 1,
            None => limit,
        };
        let chunk = &text[pos..end];
        pos = end;
        num = num.saturating_add(1);
        out.push(lex_line(chunk, num));
    }
    out
}

fn lex_line(chunk: &[u8], num: u32) -> Line {
    let mut line = Line {
        num,
        ..Line::default()
    };
    // fgets/strlen: a NUL byte ends the content
    let content = match chunk.iter().position(|c| *c == 0) {
        Some(z) => &chunk[..z],
        None => chunk,
    };
    if content.len() == LINESIZE - 1 && content.last() != Some(&b'\n') {
        line.msgs.push(LexMsg {
            tight: true,
            text: format!("line too long, limit: {}.", LINESIZE - 1),
        });
    }
    let (b, mapped) = map_unicode_spaces(content);
    let end = b.len();

    let mut i = 0usize;
    while i < end && is_c_space(b[i]) {
        i += 1;
    }
    line.col = (i + 1) as u32;
    let word0_start = i;
    let mut words: Vec<Vec<u8>> = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut arg = 0usize;
    let mut removed = 0usize;
    let mut bad_x_in_word0 = false;
    let mut bad_x = 0usize;
    while i < end && arg < MAX_LINE_ARGS {
        let c = b[i];
        if c == b'\\' {
            let next = b.get(i + 1).copied();
            match next {
                Some(n @ (b' ' | b'\\' | b'#')) => {
                    cur.push(n);
                    i += 2;
                    removed += 1;
                }
                Some(b'r') => {
                    cur.push(b'\r');
                    i += 2;
                    removed += 1;
                }
                Some(b'n') => {
                    cur.push(b'\n');
                    i += 2;
                    removed += 1;
                }
                Some(b't') => {
                    cur.push(b'\t');
                    i += 2;
                    removed += 1;
                }
                Some(b'x') => {
                    let h = (b.get(i + 2).copied(), b.get(i + 3).copied());
                    match (i + 3 < end, h) {
                        (true, (Some(h1), Some(h2)))
                            if h1.is_ascii_hexdigit() && h2.is_ascii_hexdigit() =>
                        {
                            cur.push((hexval(h1) << 4) | hexval(h2));
                            i += 4;
                            removed += 3;
                        }
                        _ => {
                            bad_x += 1;
                            bad_x_in_word0 |= arg == 0;
                            cur.push(b'\\');
                            i += 1;
                        }
                    }
                }
                _ => {
                    cur.push(b'\\');
                    i += 1;
                }
            }
        } else if c == b'#' || c == b'\n' || c == b'\r' {
            break;
        } else if is_c_space(c) {
            words.push(std::mem::take(&mut cur));
            i += 1;
            while i < end && is_c_space(b[i]) {
                i += 1;
            }
            arg += 1;
        } else {
            cur.push(c);
            i += 1;
        }
    }
    let stop = i;
    line.unicode_space = mapped.iter().any(|&m| m < stop);

    if arg >= MAX_LINE_ARGS && i < end {
        // stopped on the 65th word: report it, then drop it (1.4 keeps 64 words)
        let start = i;
        let mut j = i;
        while j < end && !matches!(b[j], b'#' | b'\n' | b'\r') {
            j += 1;
        }
        line.msgs.push(LexMsg {
            tight: true,
            text: format!(
                "line too long, truncating at word {}, position {}: <{}>.",
                arg + 1,
                start - removed + 1,
                String::from_utf8_lossy(&b[start..j])
            ),
        });
    } else if !cur.is_empty() {
        words.push(cur);
    }
    for _ in 0..bad_x {
        let shown = if bad_x_in_word0 {
            let mut j = word0_start;
            while j < end && !matches!(b[j], b'\n' | b'\r') {
                j += 1;
            }
            String::from_utf8_lossy(&b[word0_start..j]).into_owned()
        } else {
            words
                .first()
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .unwrap_or_default()
        };
        line.msgs.push(LexMsg {
            tight: false,
            text: format!("invalid or incomplete '\\x' sequence in '{shown}'."),
        });
    }
    // C strings end at the first NUL an escape may have produced
    for w in &mut words {
        if let Some(z) = w.iter().position(|c| *c == 0) {
            w.truncate(z);
        }
    }
    if words.first().is_none_or(|w| w.is_empty()) {
        words.clear();
        line.col = 0;
    }
    line.words = words;
    line
}

fn hexval(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c.wrapping_sub(b'A').wrapping_add(10),
    }
}

/// Replaces each Unicode space with one ASCII space; returns the new bytes and the
/// positions (in the new bytes) of the replaced spaces.
pub fn map_unicode_spaces(b: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::with_capacity(b.len());
    let mut mapped = Vec::new();
    let mut i = 0usize;
    while i < b.len() {
        let c = b[i];
        if c < 0x80 {
            out.push(c);
            i += 1;
            continue;
        }
        let len = utf8_len(&b[i..]);
        let seq = &b[i..i + len.max(1)];
        let is_space = match seq {
            [0xC2, 0xA0] => true,
            [0xE3, 0x80, 0x80] => true,
            [0xE2, 0x80, x] if (0x80..=0x8A).contains(x) || *x == 0xAF => true,
            [0xE2, 0x81, 0x9F] => true,
            // a byte that is not part of a valid sequence: Latin-1 NBSP
            [0xA0] if len == 0 => true,
            _ => false,
        };
        if is_space {
            mapped.push(out.len());
            out.push(b' ');
        } else {
            out.extend_from_slice(seq);
        }
        i += len.max(1);
    }
    (out, mapped)
}

/// Length of the valid UTF-8 sequence starting at `b[0]`, or 0 when `b[0]` does not start
/// one (a lone continuation byte or a truncated sequence).
fn utf8_len(b: &[u8]) -> usize {
    let need = match b[0] {
        0xC2..=0xDF => 1,
        0xE0..=0xEF => 2,
        0xF0..=0xF4 => 3,
        _ => return 0,
    };
    if b.len() > need && b[1..=need].iter().all(|c| (0x80..=0xBF).contains(c)) {
        need + 1
    } else {
        0
    }
}

/// Renders line numbers as compact ranges: `1-9,11`.
pub fn ranges(lines: &[u32]) -> String {
    let mut out = String::new();
    let mut k = 0;
    while k < lines.len() {
        let start = lines[k];
        let mut endv = start;
        while k + 1 < lines.len() && lines[k + 1] == endv + 1 {
            k += 1;
            endv = lines[k];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if endv == start {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}-{endv}"));
        }
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[u8]) -> Vec<Vec<u8>> {
        tokenize(s).into_iter().next().unwrap().words
    }

    fn w(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn splits_on_blanks_and_comments() {
        assert_eq!(words(b"  bind  :80\t# comment\n"), w(&["bind", ":80"]));
        assert_eq!(words(b"a b#c d\n"), w(&["a", "b"]));
        assert_eq!(words(b"# only a comment\n"), w(&[]));
        assert_eq!(words(b"a\rb\n"), w(&["a"]));
        assert_eq!(words(b"a\x0bb\x0cc"), w(&["a", "b", "c"]));
    }

    #[test]
    fn escapes() {
        assert_eq!(
            words(b"realm 9ai9.net\\ Qhappy\n"),
            w(&["realm", "9ai9.net Qhappy"])
        );
        assert_eq!(words(b"a \\\\ \\# \\t\n"), w(&["a", "\\", "#", "\t"]));
        assert_eq!(words(b"x\\r\\n\n"), w(&["x\r\n"]));
        assert_eq!(words(b"h \\x41\\x7a\n"), w(&["h", "Az"]));
        // other escapes stay as two bytes (regex back-references)
        assert_eq!(words(b"r \\1\\.\n"), w(&["r", "\\1\\."]));
        // no quotes in 1.4
        assert_eq!(words(b"a \"b c\"\n"), w(&["a", "\"b", "c\""]));
        // a trailing backslash stays
        assert_eq!(words(b"a b\\\n"), w(&["a", "b\\"]));
    }

    #[test]
    fn invalid_hex_escape_is_reported() {
        let l = &tokenize(b"reqadd X:\\xZZ\n")[0];
        assert_eq!(l.words, w(&["reqadd", "X:\\xZZ"]));
        assert_eq!(l.msgs.len(), 1);
        assert!(l.msgs[0]
            .text
            .starts_with("invalid or incomplete '\\x' sequence in 'reqadd'"));
        let l = &tokenize(b"a \\x4")[0];
        assert_eq!(l.msgs.len(), 1, "incomplete at end of input");
    }

    #[test]
    fn nul_ends_words() {
        assert_eq!(words(b"a b\\x00c d\n"), w(&["a", "b", "d"]));
        assert_eq!(words(b"a\0 b\n"), w(&["a"]));
    }

    #[test]
    fn line_numbers_and_long_lines() {
        let lines = tokenize(b"a\n\nb\n");
        assert_eq!(
            lines.iter().map(|l| l.num).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(lines[2].words, w(&["b"]));
        let mut long = b"x ".to_vec();
        long.extend(std::iter::repeat_n(b'y', 3000));
        long.extend_from_slice(b" z\nnext\n");
        let lines = tokenize(&long);
        assert_eq!(
            lines.len(),
            3,
            "the rest of a long line is read as another line"
        );
        assert_eq!(lines[0].msgs[0].text, "line too long, limit: 2047.");
        assert_eq!(lines[1].num, 2);
        assert_eq!(lines[2].words, w(&["next"]));
        assert_eq!(lines[0].words[1].len(), 2045);
    }

    #[test]
    fn at_most_64_words() {
        let mut s = String::new();
        for i in 0..64 {
            s.push_str(&format!("w{i} "));
        }
        let l = &tokenize(s.as_bytes())[0];
        assert_eq!(l.words.len(), 64);
        assert!(l.msgs.is_empty(), "64 words and no newline is fine");
        s.push_str("extra more\n");
        let l = &tokenize(s.as_bytes())[0];
        assert_eq!(l.words.len(), 64);
        assert_eq!(
            l.msgs[0].text,
            format!(
                "line too long, truncating at word 65, position {}: <extra more>.",
                s.find("extra").unwrap() + 1
            )
        );
    }

    #[test]
    fn unicode_spaces_are_plain_spaces() {
        let l = &tokenize(" \u{a0}log\u{a0}\u{a0}127.0.0.1 local0\n".as_bytes())[0];
        assert_eq!(l.words, w(&["log", "127.0.0.1", "local0"]));
        assert!(l.unicode_space);
        // Latin-1 lone A0
        let l = &tokenize(b"mode\xa0http\n")[0];
        assert_eq!(l.words, w(&["mode", "http"]));
        // U+3000, U+2003, U+202F, U+205F
        let l = &tokenize("a\u{3000}b\u{2003}c\u{202f}d\u{205f}e".as_bytes())[0];
        assert_eq!(l.words, w(&["a", "b", "c", "d", "e"]));
        // backslash + NBSP is an escaped space
        let l = &tokenize("realm a\\\u{a0}b\n".as_bytes())[0];
        assert_eq!(l.words, w(&["realm", "a b"]));
        // only in a comment: not read, not reported
        let l = &tokenize("a #\u{a0}x\n".as_bytes())[0];
        assert!(!l.unicode_space);
        // a valid UTF-8 letter ending in A0 is not a space
        let l = &tokenize("x \u{e0}\n".as_bytes())[0];
        assert_eq!(l.words, w(&["x", "\u{e0}"]));
        assert!(!l.unicode_space);
    }

    #[test]
    fn line_ranges() {
        assert_eq!(ranges(&[1, 2, 3, 5, 7, 8]), "1-3,5,7-8");
        assert_eq!(ranges(&[4]), "4");
        assert_eq!(ranges(&[]), "");
    }
}
