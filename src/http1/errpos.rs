//! Where a rejected head went wrong: the offset of the first byte that breaks the grammar
//! [`super::HeadIndex`] enforces, for `show errors` (1.4 records the parser's position when
//! it stops, `buf->lr`, or `msg->err_pos`, in `http_capture_bad_message`).
//!
//! The parser itself (httparse) reports what was wrong but not where, and the fast path
//! should not pay for positions; this walk runs only after a head was rejected. It follows
//! the same rules: leading empty lines skipped; method a token; URI bytes `!`..`~` and
//! 0x80..0xFF; version `HTTP/1.0` or `HTTP/1.1`; status line `HTTP/1.x` SP+ three digits,
//! then a reason of printable bytes; header names tokens (with `accept_invalid`: any byte but
//! CTL, SP and `:`), values HT, SP, printable or 0x80..0xFF; CR only before LF; no folding;
//! at most [`super::MAX_HEADERS`] header lines.

use super::head::{Kind, MAX_HEADERS};

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_uri(b: u8) -> bool {
    (b'!'..=0x7e).contains(&b) || b >= 0x80
}

fn is_text(b: u8) -> bool {
    b == b'\t' || (b' '..=0x7e).contains(&b) || b >= 0x80
}

/// The offset of the first invalid byte of the head at the start of `buf`, or `buf.len()`
/// when the bytes there break no rule (the head is merely incomplete).
pub fn error_offset(buf: &[u8], kind: Kind, accept_invalid: bool) -> usize {
    let mut p = Walk { buf, pos: 0 };
    match p.run(kind, accept_invalid) {
        Err(at) => at,
        Ok(()) => buf.len(),
    }
}

struct Walk<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// `Err(offset)` at the first invalid byte; `Ok(())` when the bytes ran out first.
type Step = Result<(), usize>;

/// Ends the walk successfully when the bytes run out.
macro_rules! byte {
    ($w:expr) => {
        match $w.buf.get($w.pos) {
            Some(&b) => b,
            None => return Ok(()),
        }
    };
}

impl Walk<'_> {
    fn run(&mut self, kind: Kind, lenient: bool) -> Step {
        // Leading empty lines ("\r\n" or "\n") are skipped.
        loop {
            match byte!(self) {
                b'\n' => self.pos += 1,
                b'\r' => {
                    self.pos += 1;
                    if byte!(self) != b'\n' {
                        return Err(self.pos);
                    }
                    self.pos += 1;
                }
                _ => break,
            }
        }
        match kind {
            Kind::Request => self.request_line()?,
            Kind::Response => self.status_line()?,
        }
        self.headers(lenient)
    }

    /// One or more SP.
    fn spaces(&mut self) -> Step {
        if byte!(self) != b' ' {
            return Err(self.pos);
        }
        while byte!(self) == b' ' {
            self.pos += 1;
        }
        Ok(())
    }

    /// "\r\n" or "\n".
    fn eol(&mut self) -> Step {
        if byte!(self) == b'\r' {
            self.pos += 1;
        }
        if byte!(self) != b'\n' {
            return Err(self.pos);
        }
        self.pos += 1;
        Ok(())
    }

    fn literal(&mut self, lit: &[u8]) -> Step {
        for &want in lit {
            if byte!(self) != want {
                return Err(self.pos);
            }
            self.pos += 1;
        }
        Ok(())
    }

    fn version(&mut self) -> Step {
        self.literal(b"HTTP/1.")?;
        if !matches!(byte!(self), b'0' | b'1') {
            return Err(self.pos);
        }
        self.pos += 1;
        Ok(())
    }

    fn request_line(&mut self) -> Step {
        let start = self.pos;
        while is_token(byte!(self)) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.pos);
        }
        self.spaces()?;
        let uri = self.pos;
        while is_uri(byte!(self)) {
            self.pos += 1;
        }
        if self.pos == uri {
            return Err(self.pos);
        }
        self.spaces()?;
        self.version()?;
        self.eol()
    }

    fn status_line(&mut self) -> Step {
        self.version()?;
        self.spaces()?;
        for _ in 0..3 {
            if !byte!(self).is_ascii_digit() {
                return Err(self.pos);
            }
            self.pos += 1;
        }
        match byte!(self) {
            b'\r' | b'\n' => return self.eol(),
            b' ' => self.pos += 1,
            _ => return Err(self.pos),
        }
        while is_text(byte!(self)) {
            self.pos += 1;
        }
        self.eol()
    }

    fn headers(&mut self, lenient: bool) -> Step {
        let mut count = 0usize;
        loop {
            let line = self.pos;
            match byte!(self) {
                b'\r' | b'\n' => return self.eol(),
                // Folding, or white space where a name should start.
                b' ' | b'\t' => return Err(self.pos),
                _ => {}
            }
            count += 1;
            if count > MAX_HEADERS {
                return Err(line);
            }
            loop {
                let b = byte!(self);
                if b == b':' {
                    break;
                }
                let ok = if lenient {
                    b > b' ' && b != 0x7f
                } else {
                    is_token(b)
                };
                if !ok {
                    return Err(self.pos);
                }
                self.pos += 1;
            }
            if self.pos == line {
                return Err(self.pos);
            }
            self.pos += 1;
            while is_text(byte!(self)) {
                self.pos += 1;
            }
            self.eol()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(b: &[u8]) -> usize {
        error_offset(b, Kind::Request, false)
    }

    fn res(b: &[u8]) -> usize {
        error_offset(b, Kind::Response, false)
    }

    #[test]
    fn request_line_errors() {
        assert_eq!(req(b"GE T / HTTP/1.1\r\n\r\n"), 5);
        assert_eq!(req(b"GET\x01 / HTTP/1.1\r\n\r\n"), 3);
        assert_eq!(req(b"\r\nGET /a\x7fb HTTP/1.1\r\n\r\n"), 8);
        assert_eq!(req(b"GET / HTTP/2.0\r\n\r\n"), 11);
        assert_eq!(req(b"GET / HTTP/1.2\r\n\r\n"), 13);
        assert_eq!(req(b"GET / HTTP/1.1\rX\r\n\r\n"), 15);
        assert_eq!(req(b"\x16\x03\x01\x02"), 0);
        // Incomplete but valid so far: the end.
        assert_eq!(req(b"GET /index"), 10);
    }

    #[test]
    fn header_errors() {
        assert_eq!(req(b"GET / HTTP/1.1\r\nHost : x\r\n\r\n"), 20);
        assert_eq!(req(b"GET / HTTP/1.1\r\nHo\x01st: x\r\n\r\n"), 18);
        assert_eq!(req(b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"), 22);
        assert_eq!(req(b"GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n"), 20);
        assert_eq!(req(b"GET / HTTP/1.1\r\n: b\r\n\r\n"), 16);
        // accept-invalid lets odd names through but not a space before the colon.
        let b = b"GET / HTTP/1.1\r\nA(b): c\r\nD e: f\r\n\r\n";
        assert_eq!(error_offset(b, Kind::Request, true), 26);
        assert_eq!(error_offset(b, Kind::Request, false), 17);
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for _ in 0..MAX_HEADERS {
            many.extend_from_slice(b"A: b\r\n");
        }
        let at = many.len();
        many.extend_from_slice(b"A: b\r\n\r\n");
        assert_eq!(req(&many), at);
    }

    #[test]
    fn status_line_errors() {
        assert_eq!(res(b"garbage\r\n\r\n"), 0);
        assert_eq!(res(b"HTTP/1.1 2x0 OK\r\n\r\n"), 10);
        assert_eq!(res(b"HTTP/1.1 200OK\r\n\r\n"), 12);
        assert_eq!(res(b"HTTP/1.0 200 OK\r\nX\r\n\r\n"), 18);
        assert_eq!(res(b"HTTP/1.1 200 OK\r\n\r\n"), 19);
    }

    #[test]
    fn agrees_with_the_parser_on_rejected_heads() {
        use crate::http1::{HeadIndex, Method, Parse, ParseOptions};
        let cases: &[&[u8]] = &[
            b"GET\x01 / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHo st: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n",
        ];
        for c in cases {
            let mut idx = HeadIndex::new();
            let p = idx.parse_request(c, &ParseOptions::default());
            assert!(matches!(p, Parse::Invalid(_)), "{c:?}: {p:?}");
            assert!(req(c) < c.len(), "{c:?}");
        }
        let mut idx = HeadIndex::new();
        let r = b"HTTP/1.1 abc\r\n\r\n";
        let p = idx.parse_response(r, &ParseOptions::default(), Method::Get);
        assert!(matches!(p, Parse::Invalid(_)), "{p:?}");
        assert_eq!(res(r), 9);
    }
}
