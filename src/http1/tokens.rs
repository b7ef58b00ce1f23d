//! Header-value helpers shared by the parser, the editor and the ACL/persistence code:
//! comma-separated list iteration (with quoted strings), case-insensitive name matching,
//! splitting a raw `Name: value` line, and a strict decimal parser for `Content-Length`.
//!
//! Compare with 1.4 `src/proto_http.c`: `find_hdr_value_end()` (a comma inside a quoted string
//! does not split), `http_find_header2()` (values are trimmed of LWS on both sides, empty
//! elements are reported) and `http_header_match2()` (name match is case-insensitive and must be
//! followed by the colon).

/// Linear white space as 1.4 trims it around list elements (`http_is_lws`).
#[inline]
pub fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Removes leading and trailing linear white space.
#[inline]
pub fn trim_lws(mut v: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = v {
        if !is_lws(*first) {
            break;
        }
        v = rest;
    }
    while let [rest @ .., last] = v {
        if !is_lws(*last) {
            break;
        }
        v = rest;
    }
    v
}

/// One element of a comma-separated header value, as offsets into the value it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Element {
    /// First byte of the element once leading LWS is skipped.
    pub start: usize,
    /// One past its last byte once trailing LWS is dropped (`start == end` for an empty one).
    pub end: usize,
}

/// Iterator over the elements of a comma-separated value (`Connection: close, Upgrade`).
///
/// Commas inside a double-quoted string (with `\` escapes) do not split, as in 1.4's
/// `find_hdr_value_end()`. Empty elements (`a,,b`, or an empty value) are yielded as empty
/// ranges: `Content-Length` treats them as errors while token lists skip them.
#[derive(Clone, Debug)]
pub struct ElementSpans<'a> {
    value: &'a [u8],
    pos: usize,
    finished: bool,
}

impl<'a> ElementSpans<'a> {
    pub fn new(value: &'a [u8]) -> Self {
        ElementSpans {
            value,
            pos: 0,
            finished: false,
        }
    }
}

impl Iterator for ElementSpans<'_> {
    type Item = Element;

    fn next(&mut self) -> Option<Element> {
        if self.finished {
            return None;
        }
        let v = self.value;
        let mut i = self.pos;
        while i < v.len() && is_lws(v[i]) {
            i += 1;
        }
        let start = i;
        let mut quoted = false;
        let mut escaped = false;
        while i < v.len() {
            let b = v[i];
            if escaped {
                escaped = false;
            } else if quoted {
                match b {
                    b'\\' => escaped = true,
                    b'"' => quoted = false,
                    _ => {}
                }
            } else if b == b'"' {
                quoted = true;
            } else if b == b',' {
                break;
            }
            i += 1;
        }
        let mut end = i;
        while end > start && is_lws(v[end - 1]) {
            end -= 1;
        }
        if i < v.len() {
            // Skip the comma; the next call starts after it.
            self.pos = i + 1;
        } else {
            self.finished = true;
        }
        Some(Element { start, end })
    }
}

/// Iterator over the element values of a comma-separated header value (see [`ElementSpans`]).
#[derive(Clone, Debug)]
pub struct CommaValues<'a> {
    spans: ElementSpans<'a>,
}

impl<'a> Iterator for CommaValues<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let e = self.spans.next()?;
        Some(self.spans.value.get(e.start..e.end).unwrap_or(&[]))
    }
}

/// Elements of a comma-separated header value, trimmed of LWS; empty elements included.
pub fn comma_values(value: &[u8]) -> CommaValues<'_> {
    CommaValues {
        spans: ElementSpans::new(value),
    }
}

/// Splits a raw header line (`Name: value`, no line ending) into name and trimmed value.
///
/// Returns `None` when the line has no colon. Used on lines the configuration rewrote, which
/// the parser never validated; the name is everything before the first colon.
pub fn split_header_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = line.get(..colon)?;
    let value = trim_lws(line.get(colon + 1..)?);
    Some((name, value))
}

/// Offset of the value inside a raw header line: first non-SP/HT byte after the colon.
pub(crate) fn value_offset(line: &[u8]) -> Option<usize> {
    let colon = line.iter().position(|&b| b == b':')?;
    let mut i = colon + 1;
    while i < line.len() && matches!(line[i], b' ' | b'\t') {
        i += 1;
    }
    Some(i)
}

/// Whether a header-list token (`Connection`, `Transfer-Encoding` element) equals `token`,
/// case-insensitively, ignoring any `;parameters` after it.
pub fn token_eq(element: &[u8], token: &[u8]) -> bool {
    let bare = match element.iter().position(|&b| b == b';') {
        Some(p) => trim_lws(element.get(..p).unwrap_or(&[])),
        None => element,
    };
    bare.eq_ignore_ascii_case(token)
}

/// Strict `Content-Length` value: one or more ASCII digits and nothing else; `None` on a sign,
/// an embedded space, an empty string or a value that does not fit in `u64`.
pub fn parse_content_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(v: &[u8]) -> Vec<&[u8]> {
        comma_values(v).collect()
    }

    #[test]
    fn comma_values_trim_and_keep_empty_elements() {
        assert_eq!(vals(b"close"), vec![&b"close"[..]]);
        assert_eq!(
            vals(b" keep-alive ,Upgrade\t"),
            vec![&b"keep-alive"[..], b"Upgrade"]
        );
        assert_eq!(vals(b"a,,b"), vec![&b"a"[..], b"", b"b"]);
        assert_eq!(vals(b""), vec![&b""[..]]);
        assert_eq!(vals(b"a,"), vec![&b"a"[..], b""]);
    }

    #[test]
    fn comma_inside_quotes_does_not_split() {
        assert_eq!(
            vals(br#"a="x,y", b="q\",r""#),
            vec![&br#"a="x,y""#[..], br#"b="q\",r""#]
        );
    }

    #[test]
    fn element_spans_point_into_value() {
        let v = b"  a , bc,";
        let spans: Vec<Element> = ElementSpans::new(v).collect();
        assert_eq!(
            spans,
            vec![
                Element { start: 2, end: 3 },
                Element { start: 6, end: 8 },
                Element { start: 9, end: 9 }
            ]
        );
    }

    #[test]
    fn split_line() {
        assert_eq!(
            split_header_line(b"Host:  example.com \t"),
            Some((&b"Host"[..], &b"example.com"[..]))
        );
        assert_eq!(split_header_line(b"X:"), Some((&b"X"[..], &b""[..])));
        assert_eq!(split_header_line(b"no colon"), None);
        assert_eq!(value_offset(b"A:  b"), Some(4));
        assert_eq!(value_offset(b"A:"), Some(2));
    }

    #[test]
    fn token_comparison_ignores_case_and_params() {
        assert!(token_eq(b"Chunked", b"chunked"));
        assert!(token_eq(b"chunked ; x=1", b"chunked"));
        assert!(!token_eq(b"chunkedx", b"chunked"));
    }

    #[test]
    fn content_length_is_strict() {
        assert_eq!(parse_content_length(b"0"), Some(0));
        assert_eq!(parse_content_length(b"00012"), Some(12));
        assert_eq!(
            parse_content_length(b"18446744073709551615"),
            Some(u64::MAX)
        );
        assert_eq!(parse_content_length(b"18446744073709551616"), None);
        assert_eq!(parse_content_length(b"-1"), None);
        assert_eq!(parse_content_length(b"+1"), None);
        assert_eq!(parse_content_length(b"1 2"), None);
        assert_eq!(parse_content_length(b"0x10"), None);
        assert_eq!(parse_content_length(b""), None);
    }
}
