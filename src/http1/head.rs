//! Request and response heads: validation, the line index, and the message semantics derived
//! from the headers (body framing, `Connection` tokens, `Expect`, `Upgrade`).
//!
//! The head is never copied or rebuilt: [`HeadIndex`] records byte offsets into the caller's
//! buffer for the start line and every header line (whole line without its line ending, name,
//! trimmed value, and whether the line ended in CRLF or a bare LF). `httparse` validates and
//! locates; this file turns its slices into offsets and derives the semantics in one pass.
//!
//! 1.4 keywords: `option accept-invalid-http-request`, `option accept-invalid-http-response`
//! ([`ParseOptions::accept_invalid`]), `tune.bufsize`/`tune.maxrewrite` (the caller passes
//! `bufsize - maxrewrite` as [`ParseOptions::max_head`]). Compare with 1.4 `src/proto_http.c`
//! `http_msg_analyzer()` (line scanning, `MAX_HTTP_HDR`), `http_wait_for_request()` step 6 and
//! `http_wait_for_response()` (transfer length), `find_http_meth()`.
//!
//! Departures from 1.4, on purpose (smuggling defences HAProxy itself added after 1.4):
//! - `Content-Length` together with `Transfer-Encoding` is invalid (1.4 let TE win);
//! - a request `Transfer-Encoding` whose last coding is not `chunked`, that names `chunked`
//!   twice, or that appears in an HTTP/1.0 request is invalid (1.4 fell back to close mode or
//!   ignored TE in 1.0);
//! - HTTP/0.9 requests and versions other than 1.0/1.1 are invalid (1.4 upgraded 0.9 to 1.0);
//! - `accept-invalid-*` relaxes header-name characters (any byte but CTL, space, `:`) but still
//!   rejects a space before the colon, obs-fold, bare CR and NUL, which 1.4 let through.

use super::tokens::{comma_values, parse_content_length, token_eq, trim_lws};
use crate::buffer::FreeList;
use core::mem::MaybeUninit;
use core::ops::Range;

/// 1.4's `MAX_HTTP_HDR` (`tune.http.maxhdr`): header index entries, the start line included.
pub const MAX_HTTP_HDR: usize = 101;
/// Header lines a message may carry: `MAX_HTTP_HDR` minus the start line. One more is invalid
/// (400 for a request, 502 for a response), as in 1.4 where `hdr_idx_add()` fails once
/// `used == size` with entry 0 reserved for the start line.
pub const MAX_HEADERS: usize = MAX_HTTP_HDR - 1;
/// Default head size limit: `tune.bufsize` 16384 minus `tune.maxrewrite` 1024.
pub const DEFAULT_MAX_HEAD: usize = 16384 - 1024;

/// A byte range `[start, end)` in the buffer a head was parsed from.
///
/// Offsets are `u32` to keep [`HeaderLine`] small; heads are bounded by
/// [`ParseOptions::max_head`], which is clamped to `u32::MAX`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub const EMPTY: Span = Span { start: 0, end: 0 };

    #[inline]
    pub(crate) fn at(start: usize, end: usize) -> Span {
        // Callers only build spans from offsets into a window of at most u32::MAX bytes.
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    #[inline]
    pub fn len(self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }

    #[inline]
    pub fn is_empty(self) -> bool {
        self.end <= self.start
    }

    #[inline]
    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The bytes this span covers in `buf`; empty if it does not fit (never panics).
    #[inline]
    pub fn get(self, buf: &[u8]) -> &[u8] {
        buf.get(self.range()).unwrap_or(&[])
    }
}

/// Request or response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Request,
    Response,
}

/// Request method. Known methods get a variant; anything else is `Other` and the caller reads
/// the raw token through [`HeadIndex::method_token`]. Matching is case-sensitive like 1.4's
/// `find_http_meth()` (`get` is `Other`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Options,
    Get,
    Head,
    Post,
    Put,
    Delete,
    Trace,
    Connect,
    Other,
}

impl Method {
    pub fn from_token(token: &[u8]) -> Method {
        match token {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"CONNECT" => Method::Connect,
            _ => Method::Other,
        }
    }
}

/// HTTP version of the start line. Only 1.0 and 1.1 are accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// How the body of a message is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body: requests without `Content-Length`/`Transfer-Encoding`; responses to HEAD, 1xx,
    /// 204 and 304. Also 101 and 2xx-to-CONNECT responses, after which the stream tunnels.
    None,
    /// `Content-Length: n` (possibly 0).
    Length(u64),
    /// `Transfer-Encoding: ..., chunked`.
    Chunked,
    /// Responses only: the body runs until the server closes.
    UntilClose,
}

impl Framing {
    /// True when no body byte follows the head.
    pub fn is_bodyless(self) -> bool {
        matches!(self, Framing::None | Framing::Length(0))
    }
}

/// Tokens seen in all occurrences of a `Connection` (or `Proxy-Connection`) header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnTokens {
    pub close: bool,
    pub keep_alive: bool,
    pub upgrade: bool,
}

impl ConnTokens {
    fn add(&mut self, value: &[u8]) {
        for t in comma_values(value) {
            if t.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if t.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            } else if t.eq_ignore_ascii_case(b"upgrade") {
                self.upgrade = true;
            }
        }
    }
}

/// Semantics derived from the headers while indexing them (computed once per head).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsgInfo {
    pub framing: Framing,
    /// The (agreed) `Content-Length` value, even when framing ignores it (HEAD, 304...).
    pub content_length: Option<u64>,
    /// At least one `Transfer-Encoding` header is present.
    pub transfer_encoding: bool,
    /// Tokens of all `Connection` headers.
    pub connection: ConnTokens,
    /// Tokens of all `Proxy-Connection` headers (1.4 `option http-use-proxy-header`).
    pub proxy_connection: ConnTokens,
    /// `Expect: 100-continue` (case-insensitive).
    pub expect_continue: bool,
    /// An `Upgrade` header is present.
    pub upgrade: bool,
    /// Requests: the URI does not start with `/` or `*` (an absolute URI or a CONNECT
    /// authority), which is 1.4's test for using `Proxy-Connection`.
    pub absolute_uri: bool,
}

impl MsgInfo {
    const EMPTY: MsgInfo = MsgInfo {
        framing: Framing::None,
        content_length: None,
        transfer_encoding: false,
        connection: ConnTokens {
            close: false,
            keep_alive: false,
            upgrade: false,
        },
        proxy_connection: ConnTokens {
            close: false,
            keep_alive: false,
            upgrade: false,
        },
        expect_continue: false,
        upgrade: false,
        absolute_uri: false,
    };
}

/// One header line of the index. Offsets are into the parsed buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeaderLine {
    start: u32,
    colon: u32,
    value_start: u32,
    value_end: u32,
    end: u32,
    eol: u8,
}

impl HeaderLine {
    /// The whole line without its line ending (`Name: value`), what `reqrep` regexes see.
    #[inline]
    pub fn line(&self) -> Span {
        Span {
            start: self.start,
            end: self.end,
        }
    }

    /// The line including its CRLF or LF.
    #[inline]
    pub fn line_with_eol(&self) -> Span {
        Span {
            start: self.start,
            end: self.end + u32::from(self.eol),
        }
    }

    /// The header name (before the colon).
    #[inline]
    pub fn name(&self) -> Span {
        Span {
            start: self.start,
            end: self.colon,
        }
    }

    /// The value, trimmed of leading and trailing SP/HT (empty span for an empty value).
    #[inline]
    pub fn value(&self) -> Span {
        Span {
            start: self.value_start,
            end: self.value_end,
        }
    }

    /// Length of the line ending: 2 for CRLF, 1 for a bare LF.
    #[inline]
    pub fn eol_len(&self) -> usize {
        usize::from(self.eol)
    }
}

/// Why a head was rejected (request: 400, response: 502, by the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("invalid request method or URI")]
    RequestLine,
    #[error("invalid or unsupported HTTP version")]
    Version,
    #[error("invalid status line")]
    StatusLine,
    #[error("invalid character in a header name (or a space before the colon, or a folded line)")]
    HeaderName,
    #[error("invalid character in a header value")]
    HeaderValue,
    #[error("invalid line ending (bare CR)")]
    NewLine,
    #[error("too many header lines (more than {MAX_HEADERS})")]
    TooManyHeaders,
    #[error("invalid Content-Length value")]
    ContentLength,
    #[error("several Content-Length values that differ")]
    ContentLengthMismatch,
    #[error("both Content-Length and Transfer-Encoding")]
    ContentLengthAndTransferEncoding,
    #[error("Transfer-Encoding whose last coding is not chunked")]
    TransferEncoding,
    #[error("Transfer-Encoding in an HTTP/1.0 request")]
    TransferEncodingHttp10,
}

impl Invalid {
    /// A framing rule was broken (`Content-Length`/`Transfer-Encoding`), as opposed to a
    /// syntax error. The head is still fully indexed then, so the request line can be logged
    /// (1.4 logs the URI of such requests; syntax errors log `<BADREQ>`).
    pub fn is_framing(self) -> bool {
        matches!(
            self,
            Invalid::ContentLength
                | Invalid::ContentLengthMismatch
                | Invalid::ContentLengthAndTransferEncoding
                | Invalid::TransferEncoding
                | Invalid::TransferEncodingHttp10
        )
    }
}

impl From<httparse::Error> for Invalid {
    fn from(e: httparse::Error) -> Invalid {
        match e {
            httparse::Error::HeaderName => Invalid::HeaderName,
            httparse::Error::HeaderValue => Invalid::HeaderValue,
            httparse::Error::NewLine => Invalid::NewLine,
            httparse::Error::Status => Invalid::StatusLine,
            httparse::Error::Token => Invalid::RequestLine,
            httparse::Error::TooManyHeaders => Invalid::TooManyHeaders,
            httparse::Error::Version => Invalid::Version,
        }
    }
}

/// Result of feeding the bytes received so far to [`HeadIndex::parse_request`] or
/// [`HeadIndex::parse_response`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parse {
    /// The head is complete and indexed; see [`HeadIndex::head_end`].
    Complete,
    /// Need more bytes.
    Incomplete,
    /// No complete head within [`ParseOptions::max_head`] bytes (1.4: buffer full → 400/502).
    TooLarge,
    /// The head is malformed or violates a framing rule.
    Invalid(Invalid),
}

/// Per-proxy parser settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseOptions {
    /// Largest head accepted, in bytes: `tune.bufsize - tune.maxrewrite`.
    pub max_head: usize,
    /// `option accept-invalid-http-request` (or `-response`): accept non-token characters in
    /// header names.
    pub accept_invalid: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_head: DEFAULT_MAX_HEAD,
            accept_invalid: false,
        }
    }
}

thread_local! {
    /// Line tables let go of by [`HeadIndex::release`].
    static LINE_TABLES: FreeList<Box<[HeaderLine]>> = const { FreeList::new(256) };
}

/// Line tables waiting in this thread's free list (for tests).
#[cfg(test)]
pub(crate) fn free_line_tables() -> usize {
    LINE_TABLES.with(|l| l.len())
}

/// The index of one parsed head, owned by the caller and reused across messages
/// ([`HeadIndex::clear`]). Its line table (2.4 KB) is allocated when it is made; after
/// [`HeadIndex::release`] the next parse takes one from the thread's free list.
///
/// While a head is incomplete, keep calling the parse function with the same growing buffer;
/// the index remembers how far it has looked so that data arriving without a new line ending
/// is not re-parsed. The outcome only depends on the bytes, never on how they were split.
#[derive(Clone, Debug)]
pub struct HeadIndex {
    kind: Kind,
    complete: bool,
    /// Prefix length (up to and including an LF) last seen incomplete.
    memo: u32,
    start_line: Span,
    start_eol: u8,
    head_end: u32,
    method: Method,
    method_span: Span,
    uri: Span,
    version: Version,
    status: u16,
    reason: Span,
    count: usize,
    /// `MAX_HEADERS` slots; empty after `release` until the next parse.
    headers: Box<[HeaderLine]>,
    info: MsgInfo,
}

impl Default for HeadIndex {
    fn default() -> Self {
        Self::new()
    }
}

/// What one parser run over a prefix produced.
enum Run {
    Complete,
    Partial,
    Invalid(Invalid),
}

impl HeadIndex {
    pub fn new() -> Self {
        HeadIndex {
            kind: Kind::Request,
            complete: false,
            memo: 0,
            start_line: Span::EMPTY,
            start_eol: 0,
            head_end: 0,
            method: Method::Other,
            method_span: Span::EMPTY,
            uri: Span::EMPTY,
            version: Version::Http10,
            status: 0,
            reason: Span::EMPTY,
            count: 0,
            headers: Self::line_table(),
            info: MsgInfo::EMPTY,
        }
    }

    fn line_table() -> Box<[HeaderLine]> {
        FreeList::take_local(&LINE_TABLES)
            .unwrap_or_else(|| vec![HeaderLine::default(); MAX_HEADERS].into_boxed_slice())
    }

    /// Forgets the message and lets go of the line table (to this thread's free list), for
    /// an owner that will hold the index for long without parsing (a connection turned
    /// into a tunnel). The next parse takes a table again.
    pub fn release(&mut self) {
        self.clear();
        let table = std::mem::take(&mut self.headers);
        if !table.is_empty() {
            FreeList::give_local(&LINE_TABLES, table);
        }
    }

    /// Forgets the previous message. Call before parsing a new head.
    pub fn clear(&mut self) {
        self.complete = false;
        self.memo = 0;
        self.count = 0;
        self.info = MsgInfo::EMPTY;
    }

    /// Parses a request head at the start of `buf` (leading empty lines are skipped, as 1.4
    /// does). On [`Parse::Complete`] the index describes it; on an [`Invalid`] for which
    /// [`Invalid::is_framing`] holds it does too (only `info()` is not filled); otherwise it
    /// holds no header.
    pub fn parse_request(&mut self, buf: &[u8], opts: &ParseOptions) -> Parse {
        self.parse(buf, opts, Kind::Request, Method::Get)
    }

    /// Parses a response head; `req_method` is the method of the request it answers (a
    /// response to HEAD has no body).
    pub fn parse_response(&mut self, buf: &[u8], opts: &ParseOptions, req_method: Method) -> Parse {
        self.parse(buf, opts, Kind::Response, req_method)
    }

    fn parse(&mut self, buf: &[u8], opts: &ParseOptions, kind: Kind, req_method: Method) -> Parse {
        if self.headers.is_empty() {
            self.headers = Self::line_table();
        }
        let limit = opts.max_head.min(u32::MAX as usize);
        let window = buf.get(..buf.len().min(limit)).unwrap_or(buf);
        let memo = self.memo as usize;
        if kind != self.kind || memo > window.len() {
            // A different message than the one memoised: start over.
            self.kind = kind;
            self.memo = 0;
            return self.parse(buf, opts, kind, req_method);
        }
        self.complete = false;
        self.count = 0;
        self.info = MsgInfo::EMPTY;
        // Only whole lines are parsed: the result for a prefix then depends on its bytes alone,
        // and a chunk of data without a new LF cannot change it.
        let new_lf = window
            .get(memo..)
            .and_then(|w| memchr::memrchr(b'\n', w))
            .map(|p| memo + p);
        let run = match new_lf {
            None => Run::Partial,
            Some(lf) => {
                let prefix = window.get(..=lf).unwrap_or(window);
                let run = match kind {
                    Kind::Request => self.run_request(prefix, opts),
                    Kind::Response => self.run_response(prefix, opts),
                };
                if let Run::Partial = run {
                    self.memo = (lf + 1) as u32;
                }
                run
            }
        };
        match run {
            Run::Complete => match self.analyze(buf, req_method) {
                Ok(()) => {
                    self.complete = true;
                    self.memo = 0;
                    Parse::Complete
                }
                Err(e) => {
                    self.memo = 0;
                    Parse::Invalid(e)
                }
            },
            Run::Partial if buf.len() >= limit => {
                self.memo = 0;
                self.count = 0;
                Parse::TooLarge
            }
            Run::Partial => {
                self.count = 0;
                Parse::Incomplete
            }
            Run::Invalid(e) => {
                self.memo = 0;
                self.count = 0;
                Parse::Invalid(e)
            }
        }
    }

    fn run_request(&mut self, prefix: &[u8], opts: &ParseOptions) -> Run {
        let mut slots = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
        let mut req = httparse::Request::new(&mut []);
        let mut cfg = httparse::ParserConfig::default();
        cfg.allow_multiple_spaces_in_request_line_delimiters(true);
        let res = cfg.parse_request_with_uninit_headers(&mut req, prefix, &mut slots);
        let (Some(method), Some(path), Some(minor)) = (req.method, req.path, req.version) else {
            return match res {
                Err(e) => Run::Invalid(e.into()),
                Ok(_) => Run::Partial,
            };
        };
        // The start line is complete and valid.
        let m = offset_of(prefix, method.as_bytes());
        let u = offset_of(prefix, path.as_bytes());
        let (Some(m), Some(u)) = (m, u) else {
            return Run::Invalid(Invalid::RequestLine);
        };
        let Some((sl_end, sl_eol)) = line_end(prefix, u + path.len()) else {
            return Run::Partial;
        };
        self.method_span = Span::at(m, m + method.len());
        self.method = Method::from_token(method.as_bytes());
        self.uri = Span::at(u, u + path.len());
        self.version = if minor == 1 {
            Version::Http11
        } else {
            Version::Http10
        };
        self.status = 0;
        self.reason = Span::EMPTY;
        self.start_line = Span::at(m, sl_end);
        self.start_eol = sl_eol;
        let headers_at = sl_end + usize::from(sl_eol);
        match res {
            Ok(httparse::Status::Complete(n)) => self.index_headers(prefix, req.headers, n),
            Ok(httparse::Status::Partial) => Run::Partial,
            Err(httparse::Error::HeaderName) if opts.accept_invalid => {
                self.lenient_headers(prefix, headers_at)
            }
            Err(e) => Run::Invalid(e.into()),
        }
    }

    fn run_response(&mut self, prefix: &[u8], opts: &ParseOptions) -> Run {
        let mut slots = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
        let mut res = httparse::Response::new(&mut []);
        let mut cfg = httparse::ParserConfig::default();
        cfg.allow_multiple_spaces_in_response_status_delimiters(true);
        let out = cfg.parse_response_with_uninit_headers(&mut res, prefix, &mut slots);
        let (Some(minor), Some(code), Some(_)) = (res.version, res.code, res.reason) else {
            return match out {
                Err(e) => Run::Invalid(e.into()),
                Ok(_) => Run::Partial,
            };
        };
        // httparse accepted "\r\n"/"\n" pairs before the version; the status line starts at
        // the first other byte.
        let start = prefix
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(prefix.len());
        let Some((sl_end, sl_eol)) = line_end(prefix, start) else {
            return Run::Partial;
        };
        // "HTTP/1.x" SP+ 3DIGIT [SP+ reason]; httparse checked the shape already. The reason
        // is located here because httparse blanks it when it holds obs-text.
        let mut p = start + 8;
        while prefix.get(p) == Some(&b' ') {
            p += 1;
        }
        p += 3;
        while p < sl_end && prefix.get(p) == Some(&b' ') {
            p += 1;
        }
        let reason_start = p.min(sl_end);
        self.method = Method::Other;
        self.method_span = Span::EMPTY;
        self.uri = Span::EMPTY;
        self.version = if minor == 1 {
            Version::Http11
        } else {
            Version::Http10
        };
        self.status = code;
        self.reason = Span::at(reason_start, sl_end);
        self.start_line = Span::at(start, sl_end);
        self.start_eol = sl_eol;
        let headers_at = sl_end + usize::from(sl_eol);
        match out {
            Ok(httparse::Status::Complete(n)) => self.index_headers(prefix, res.headers, n),
            Ok(httparse::Status::Partial) => Run::Partial,
            Err(httparse::Error::HeaderName) if opts.accept_invalid => {
                self.lenient_headers(prefix, headers_at)
            }
            Err(e) => Run::Invalid(e.into()),
        }
    }

    /// Turns httparse's header slices into line offsets.
    fn index_headers(&mut self, prefix: &[u8], headers: &[httparse::Header<'_>], n: usize) -> Run {
        for (slot, h) in self.headers.iter_mut().zip(headers) {
            let Some(name) = offset_of(prefix, h.name.as_bytes()) else {
                return Run::Invalid(Invalid::HeaderName);
            };
            let colon = name + h.name.len();
            let (value_start, value_end) = if h.value.is_empty() {
                (None, colon + 1)
            } else {
                match offset_of(prefix, h.value) {
                    Some(v) => (Some(v), v + h.value.len()),
                    None => return Run::Invalid(Invalid::HeaderValue),
                }
            };
            // Only SP/HT can sit between the trimmed value and the line ending.
            let Some((end, eol)) = line_end(prefix, value_end) else {
                return Run::Partial;
            };
            let (vs, ve) = match value_start {
                Some(v) => (v, value_end),
                None => (end, end),
            };
            *slot = HeaderLine {
                start: name as u32,
                colon: colon as u32,
                value_start: vs as u32,
                value_end: ve as u32,
                end: end as u32,
                eol,
            };
        }
        self.count = headers.len().min(MAX_HEADERS);
        self.head_end = n as u32;
        Run::Complete
    }

    /// Header section parser for `accept-invalid-*`: same rules as httparse except that a
    /// header name may hold any byte but CTL, SP and `:`. Only reached after httparse refused
    /// a header name, so it is off the fast path.
    fn lenient_headers(&mut self, prefix: &[u8], mut pos: usize) -> Run {
        self.count = 0;
        loop {
            let Some(&b) = prefix.get(pos) else {
                return Run::Partial;
            };
            match b {
                b'\n' => {
                    self.head_end = (pos + 1) as u32;
                    return Run::Complete;
                }
                b'\r' => {
                    return match prefix.get(pos + 1) {
                        None => Run::Partial,
                        Some(b'\n') => {
                            self.head_end = (pos + 2) as u32;
                            Run::Complete
                        }
                        Some(_) => Run::Invalid(Invalid::NewLine),
                    };
                }
                // Obs-fold, or white space before the first name.
                b' ' | b'\t' => return Run::Invalid(Invalid::HeaderName),
                _ => {}
            }
            let start = pos;
            while let Some(&c) = prefix.get(pos) {
                if c == b':' {
                    break;
                }
                if c <= b' ' || c == 0x7f {
                    return Run::Invalid(Invalid::HeaderName);
                }
                pos += 1;
            }
            if pos >= prefix.len() {
                return Run::Partial;
            }
            if pos == start {
                // ": value" has no name, in any mode (found by the fuzzer).
                return Run::Invalid(Invalid::HeaderName);
            }
            let colon = pos;
            pos += 1;
            while matches!(prefix.get(pos), Some(b' ' | b'\t')) {
                pos += 1;
            }
            let value_start = pos;
            let lf = loop {
                let Some(&c) = prefix.get(pos) else {
                    return Run::Partial;
                };
                match c {
                    b'\n' => break pos,
                    b'\r' => match prefix.get(pos + 1) {
                        None => return Run::Partial,
                        Some(b'\n') => break pos + 1,
                        Some(_) => return Run::Invalid(Invalid::HeaderValue),
                    },
                    b'\t' | b' '..=0x7e | 0x80..=0xff => pos += 1,
                    _ => return Run::Invalid(Invalid::HeaderValue),
                }
            };
            let (end, eol) = if lf > 0 && prefix.get(lf - 1) == Some(&b'\r') {
                (lf - 1, 2u8)
            } else {
                (lf, 1u8)
            };
            let mut value_end = end;
            while value_end > value_start && matches!(prefix.get(value_end - 1), Some(b' ' | b'\t'))
            {
                value_end -= 1;
            }
            let value_start = value_start.min(value_end);
            let Some(slot) = self.headers.get_mut(self.count) else {
                return Run::Invalid(Invalid::TooManyHeaders);
            };
            *slot = HeaderLine {
                start: start as u32,
                colon: colon as u32,
                value_start: value_start as u32,
                value_end: value_end as u32,
                end: end as u32,
                eol,
            };
            self.count += 1;
            pos = lf + 1;
        }
    }

    /// Derives framing and connection semantics from the indexed headers.
    fn analyze(&mut self, buf: &[u8], req_method: Method) -> Result<(), Invalid> {
        let mut info = MsgInfo::EMPTY;
        let mut te_last_chunked = false;
        let mut te_chunked_twice = false;
        let mut te_seen_chunked = false;
        for h in self.headers() {
            let name = h.name().get(buf);
            let value = h.value().get(buf);
            // Dispatch on length first: most headers are none of these.
            match name.len() {
                14 if name.eq_ignore_ascii_case(b"content-length") => {
                    for v in comma_values(value) {
                        let n = parse_content_length(v).ok_or(Invalid::ContentLength)?;
                        match info.content_length {
                            Some(prev) if prev != n => return Err(Invalid::ContentLengthMismatch),
                            _ => info.content_length = Some(n),
                        }
                    }
                }
                17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                    info.transfer_encoding = true;
                    for coding in comma_values(value) {
                        if coding.is_empty() {
                            continue;
                        }
                        if token_eq(coding, b"chunked") {
                            te_chunked_twice |= te_seen_chunked;
                            te_seen_chunked = true;
                            te_last_chunked = true;
                        } else {
                            te_last_chunked = false;
                        }
                    }
                }
                10 if name.eq_ignore_ascii_case(b"connection") => info.connection.add(value),
                16 if name.eq_ignore_ascii_case(b"proxy-connection") => {
                    info.proxy_connection.add(value)
                }
                6 if name.eq_ignore_ascii_case(b"expect")
                    && trim_lws(value).eq_ignore_ascii_case(b"100-continue") =>
                {
                    info.expect_continue = true
                }
                7 if name.eq_ignore_ascii_case(b"upgrade") => info.upgrade = true,
                _ => {}
            }
        }
        let te_chunked = te_last_chunked && !te_chunked_twice;
        if info.transfer_encoding && info.content_length.is_some() {
            return Err(Invalid::ContentLengthAndTransferEncoding);
        }
        info.framing = match self.kind {
            Kind::Request => {
                info.absolute_uri = !matches!(self.uri.get(buf).first(), Some(b'/' | b'*'));
                if info.transfer_encoding {
                    if self.version == Version::Http10 {
                        return Err(Invalid::TransferEncodingHttp10);
                    }
                    if !te_chunked {
                        return Err(Invalid::TransferEncoding);
                    }
                    Framing::Chunked
                } else if let Some(n) = info.content_length {
                    Framing::Length(n)
                } else {
                    Framing::None
                }
            }
            Kind::Response => {
                let status = self.status;
                if (100..200).contains(&status)
                    || status == 204
                    || status == 304
                    || req_method == Method::Head
                    || (req_method == Method::Connect && (200..300).contains(&status))
                {
                    Framing::None
                } else if info.transfer_encoding {
                    if te_chunked {
                        Framing::Chunked
                    } else {
                        Framing::UntilClose
                    }
                } else if let Some(n) = info.content_length {
                    Framing::Length(n)
                } else {
                    Framing::UntilClose
                }
            }
        };
        self.info = info;
        Ok(())
    }

    /// Whether the last parse returned [`Parse::Complete`].
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Offset of the start line (after any leading empty lines, which are dropped).
    pub fn head_start(&self) -> usize {
        self.start_line.start as usize
    }

    /// Offset just past the empty line that ends the head: where the body starts.
    pub fn head_end(&self) -> usize {
        self.head_end as usize
    }

    /// The start line without its line ending (what `reqrep` sees as the first line).
    pub fn start_line(&self) -> Span {
        self.start_line
    }

    /// Length of the start line's ending: 2 (CRLF) or 1 (LF).
    pub fn start_line_eol_len(&self) -> usize {
        usize::from(self.start_eol)
    }

    pub fn method(&self) -> Method {
        self.method
    }

    /// The raw method token (requests).
    pub fn method_token(&self) -> Span {
        self.method_span
    }

    /// The request URI as sent (requests).
    pub fn uri(&self) -> Span {
        self.uri
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// Status code (responses; 0 for requests).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Reason phrase, possibly empty (responses).
    pub fn reason(&self) -> Span {
        self.reason
    }

    /// The header lines in order.
    pub fn headers(&self) -> &[HeaderLine] {
        self.headers.get(..self.count).unwrap_or(&[])
    }

    /// Semantics derived from the headers.
    pub fn info(&self) -> &MsgInfo {
        &self.info
    }

    pub fn framing(&self) -> Framing {
        self.info.framing
    }

    /// Headers named `name` (case-insensitive): `(index, trimmed value)` in order.
    pub fn find<'a>(
        &'a self,
        buf: &'a [u8],
        name: &'a [u8],
    ) -> impl Iterator<Item = (usize, &'a [u8])> + 'a {
        self.headers()
            .iter()
            .enumerate()
            .filter(move |(_, h)| h.name().get(buf).eq_ignore_ascii_case(name))
            .map(move |(i, h)| (i, h.value().get(buf)))
    }

    /// Value of the first header named `name`.
    pub fn first_value<'a>(&'a self, buf: &'a [u8], name: &'a [u8]) -> Option<&'a [u8]> {
        self.find(buf, name).next().map(|(_, v)| v)
    }

    /// Every comma-separated element of every header named `name`, in order (1.4
    /// `http_find_header2()` semantics, used by `hdr_*` ACLs and `X-Forwarded-For`).
    pub fn values<'a>(
        &'a self,
        buf: &'a [u8],
        name: &'a [u8],
    ) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.find(buf, name).flat_map(|(_, v)| comma_values(v))
    }
}

/// The path of a request URI from its first `/` to the end (query included), as 1.4's
/// `http_get_path()`: skips `scheme://` and the authority of an absolute URI. `None` for `*`,
/// an empty URI, or an absolute URI without a path (server `redir` and `redirect prefix` then
/// fall back to `/` or do nothing, as the caller decides).
pub fn uri_path(uri: &[u8]) -> Option<&[u8]> {
    let mut i = 0;
    match uri.first()? {
        b'*' => return None,
        c if c.is_ascii_alphabetic() => {
            i = 1;
            while matches!(uri.get(i), Some(c) if c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
            {
                i += 1;
            }
            if uri.get(i..i + 3) != Some(b"://".as_slice()) {
                return None;
            }
            i += 3;
        }
        _ => {}
    }
    let slash = i + uri.get(i..)?.iter().position(|&b| b == b'/')?;
    uri.get(slash..)
}

/// Offset of `part` inside `whole`, when `part` is a sub-slice of it.
#[inline]
fn offset_of(whole: &[u8], part: &[u8]) -> Option<usize> {
    let off = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (off + part.len() <= whole.len()).then_some(off)
}

/// From `from`, finds the next LF: returns the offset where the line's content ends (before a
/// CR that precedes the LF) and the length of the line ending.
#[inline]
fn line_end(buf: &[u8], from: usize) -> Option<(usize, u8)> {
    let lf = from + memchr::memchr(b'\n', buf.get(from..)?)?;
    if lf > from && buf.get(lf - 1) == Some(&b'\r') {
        Some((lf - 1, 2))
    } else {
        Some((lf, 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a parse produced, in a form two runs can be compared with.
    #[derive(Debug, PartialEq)]
    struct Snapshot {
        result: Parse,
        head_end: usize,
        start_line: Span,
        headers: Vec<HeaderLine>,
        info: Option<MsgInfo>,
    }

    fn snapshot(idx: &HeadIndex, result: Parse) -> Snapshot {
        let complete = result == Parse::Complete;
        Snapshot {
            result,
            head_end: if complete { idx.head_end() } else { 0 },
            start_line: if complete {
                idx.start_line()
            } else {
                Span::EMPTY
            },
            headers: if complete {
                idx.headers().to_vec()
            } else {
                Vec::new()
            },
            info: complete.then(|| *idx.info()),
        }
    }

    fn run(idx: &mut HeadIndex, buf: &[u8], opts: &ParseOptions, kind: Kind, m: Method) -> Parse {
        match kind {
            Kind::Request => idx.parse_request(buf, opts),
            Kind::Response => idx.parse_response(buf, opts, m),
        }
    }

    /// Parses `input` whole, growing one byte at a time (same index, memoised), and split in
    /// two at every index (STYLE.md §7): all must agree. Returns the index of the whole parse.
    fn all_ways_with(
        input: &[u8],
        opts: &ParseOptions,
        kind: Kind,
        m: Method,
    ) -> (HeadIndex, Parse) {
        let mut idx = HeadIndex::new();
        let whole = run(&mut idx, input, opts, kind, m);
        let want = snapshot(&idx, whole);

        let mut grow = HeadIndex::new();
        let mut got = None;
        for end in 0..=input.len() {
            let r = run(&mut grow, &input[..end], opts, kind, m);
            if r != Parse::Incomplete || end == input.len() {
                got = Some(snapshot(&grow, r));
                break;
            }
        }
        assert_eq!(got.as_ref(), Some(&want), "byte by byte");

        for i in 0..=input.len() {
            let mut two = HeadIndex::new();
            let first = run(&mut two, &input[..i], opts, kind, m);
            let r = if first == Parse::Incomplete {
                run(&mut two, input, opts, kind, m)
            } else {
                first
            };
            assert_eq!(snapshot(&two, r), want, "split at {i}");
        }
        (idx, whole)
    }

    fn req(input: &[u8]) -> (HeadIndex, Parse) {
        all_ways_with(input, &ParseOptions::default(), Kind::Request, Method::Get)
    }

    fn req_lenient(input: &[u8]) -> (HeadIndex, Parse) {
        let opts = ParseOptions {
            accept_invalid: true,
            ..ParseOptions::default()
        };
        all_ways_with(input, &opts, Kind::Request, Method::Get)
    }

    fn res(input: &[u8], m: Method) -> (HeadIndex, Parse) {
        all_ways_with(input, &ParseOptions::default(), Kind::Response, m)
    }

    fn req_result(input: &[u8]) -> Parse {
        req(input).1
    }

    fn text(
        idx: &HeadIndex,
        buf: &'static [u8],
        i: usize,
    ) -> (&'static [u8], &'static [u8], &'static [u8]) {
        let h = idx.headers()[i];
        (h.line().get(buf), h.name().get(buf), h.value().get(buf))
    }

    #[test]
    fn request_fields_and_line_index() {
        const R: &[u8] = b"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nX-Sp:   padded \t \r\nEmpty:\r\nE2:   \r\nUser-Agent: t/1\r\n\r\nBODY";
        let (idx, r) = req(R);
        assert_eq!(r, Parse::Complete);
        assert!(idx.is_complete());
        assert_eq!(idx.kind(), Kind::Request);
        assert_eq!(idx.method(), Method::Get);
        assert_eq!(idx.method_token().get(R), b"GET");
        assert_eq!(idx.uri().get(R), b"/a?b=c");
        assert_eq!(idx.version(), Version::Http11);
        assert_eq!(idx.start_line().get(R), b"GET /a?b=c HTTP/1.1");
        assert_eq!(idx.start_line_eol_len(), 2);
        assert_eq!(idx.head_start(), 0);
        assert_eq!(&R[idx.head_end()..], b"BODY");
        assert_eq!(idx.headers().len(), 5);
        assert_eq!(
            text(&idx, R, 0),
            (&b"Host: example.com"[..], &b"Host"[..], &b"example.com"[..])
        );
        assert_eq!(
            text(&idx, R, 1),
            (&b"X-Sp:   padded \t "[..], &b"X-Sp"[..], &b"padded"[..])
        );
        assert_eq!(text(&idx, R, 2), (&b"Empty:"[..], &b"Empty"[..], &b""[..]));
        assert_eq!(text(&idx, R, 3), (&b"E2:   "[..], &b"E2"[..], &b""[..]));
        assert!(idx.headers().iter().all(|h| h.eol_len() == 2));
        assert_eq!(idx.framing(), Framing::None);
        assert!(!idx.info().absolute_uri);
    }

    #[test]
    fn bare_lf_line_endings_are_indexed() {
        const R: &[u8] = b"POST /x HTTP/1.0\nA: 1\r\nB:  2 \nContent-Length: 2\n\nokNEXT";
        let (idx, r) = req(R);
        assert_eq!(r, Parse::Complete);
        assert_eq!(idx.start_line_eol_len(), 1);
        assert_eq!(idx.version(), Version::Http10);
        let eols: Vec<usize> = idx.headers().iter().map(|h| h.eol_len()).collect();
        assert_eq!(eols, vec![2, 1, 1]);
        assert_eq!(text(&idx, R, 1), (&b"B:  2 "[..], &b"B"[..], &b"2"[..]));
        assert_eq!(&R[idx.head_end()..], b"okNEXT");
        assert_eq!(idx.framing(), Framing::Length(2));
    }

    #[test]
    fn leading_empty_lines_are_skipped() {
        const R: &[u8] = b"\r\n\n\r\nGET / HTTP/1.1\r\n\r\n";
        let (idx, r) = req(R);
        assert_eq!(r, Parse::Complete);
        assert_eq!(idx.head_start(), 5);
        assert_eq!(idx.start_line().get(R), b"GET / HTTP/1.1");
        assert_eq!(idx.head_end(), R.len());
    }

    #[test]
    fn methods() {
        for (m, want) in [
            (&b"GET"[..], Method::Get),
            (b"HEAD", Method::Head),
            (b"POST", Method::Post),
            (b"PUT", Method::Put),
            (b"DELETE", Method::Delete),
            (b"OPTIONS", Method::Options),
            (b"TRACE", Method::Trace),
            (b"CONNECT", Method::Connect),
            (b"get", Method::Other),
            (b"PROPFIND", Method::Other),
        ] {
            let mut r = m.to_vec();
            r.extend_from_slice(b" / HTTP/1.1\r\n\r\n");
            let (idx, p) = req(&r);
            assert_eq!(p, Parse::Complete);
            assert_eq!(idx.method(), want);
            assert_eq!(idx.method_token().get(&r), m);
        }
    }

    #[test]
    fn request_line_spacing_and_versions() {
        let (idx, r) = req(b"GET   /sp   HTTP/1.0\r\n\r\n");
        assert_eq!(r, Parse::Complete);
        assert_eq!(idx.uri().get(b"GET   /sp   HTTP/1.0\r\n\r\n"), b"/sp");
        // HTTP/0.9 (no version) and unsupported versions.
        assert!(matches!(req_result(b"GET /\r\n\r\n"), Parse::Invalid(_)));
        assert_eq!(
            req_result(b"GET / HTTP/2.0\r\n\r\n"),
            Parse::Invalid(Invalid::Version)
        );
        assert_eq!(
            req_result(b"GET / HTTP/1.2\r\n\r\n"),
            Parse::Invalid(Invalid::Version)
        );
        assert_eq!(
            req_result(b"GET / http/1.1\r\n\r\n"),
            Parse::Invalid(Invalid::Version)
        );
        assert!(matches!(
            req_result(b" GET / HTTP/1.1\r\n\r\n"),
            Parse::Invalid(_)
        ));
        assert!(matches!(
            req_result(b"GET  HTTP/1.1\r\n\r\n"),
            Parse::Invalid(_)
        ));
    }

    #[test]
    fn incomplete_heads() {
        for r in [
            &b""[..],
            b"\r\n",
            b"GET",
            b"GET / HTTP/1.1",
            b"GET / HTTP/1.1\r",
            b"GET / HTTP/1.1\r\n",
            b"GET / HTTP/1.1\r\nHost: a",
            b"GET / HTTP/1.1\r\nHost: a\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n\r",
        ] {
            assert_eq!(
                req_result(r),
                Parse::Incomplete,
                "{:?}",
                String::from_utf8_lossy(r)
            );
        }
    }

    #[test]
    fn malformed_bytes_are_rejected() {
        let cases: &[(&[u8], Invalid)] = &[
            // obs-fold (line folding)
            (b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", Invalid::HeaderName),
            (
                b"GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n",
                Invalid::HeaderName,
            ),
            // bare CR
            (b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", Invalid::HeaderValue),
            (b"GET / HTTP/1.1\rX\r\n\r\n", Invalid::NewLine),
            (b"GET / HTTP/1.1\r\nA: b\r\n\rX\r\n", Invalid::NewLine),
            // NUL
            (b"GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n", Invalid::HeaderValue),
            (b"GET / HTTP/1.1\r\nA\x00: b\r\n\r\n", Invalid::HeaderName),
            (b"GET /\x00 HTTP/1.1\r\n\r\n", Invalid::RequestLine),
            // invalid name characters, space before the colon, missing colon
            (b"GET / HTTP/1.1\r\nB@d: x\r\n\r\n", Invalid::HeaderName),
            (b"GET / HTTP/1.1\r\n(x): x\r\n\r\n", Invalid::HeaderName),
            (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", Invalid::HeaderName),
            (
                b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
                Invalid::HeaderName,
            ),
            (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", Invalid::HeaderName),
            (b"GET / HTTP/1.1\r\n: empty\r\n\r\n", Invalid::HeaderName),
            // control characters in a value
            (b"GET / HTTP/1.1\r\nA: \x01\r\n\r\n", Invalid::HeaderValue),
        ];
        for (input, want) in cases {
            assert_eq!(
                req_result(input),
                Parse::Invalid(*want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn accept_invalid_relaxes_only_name_characters() {
        const R: &[u8] = b"GET / HTTP/1.1\nB@d[]: x  \r\n(y):\nHost: h\r\n\r\nrest";
        let (idx, r) = req_lenient(R);
        assert_eq!(r, Parse::Complete);
        assert_eq!(idx.headers().len(), 3);
        assert_eq!(
            text(&idx, R, 0),
            (&b"B@d[]: x  "[..], &b"B@d[]"[..], &b"x"[..])
        );
        assert_eq!(text(&idx, R, 1), (&b"(y):"[..], &b"(y)"[..], &b""[..]));
        assert_eq!(idx.headers()[1].eol_len(), 1);
        assert_eq!(idx.first_value(R, b"host"), Some(&b"h"[..]));
        assert_eq!(&R[idx.head_end()..], b"rest");
        assert_eq!(
            req_lenient(b"GET / HTTP/1.1\r\n\x80\xff: 8bit\r\n\r\n").1,
            Parse::Complete
        );
        // Still rejected in lenient mode.
        for (input, want) in [
            (
                &b"GET / HTTP/1.1\r\nB@d: x\r\nBad Name: x\r\n\r\n"[..],
                Invalid::HeaderName,
            ),
            (
                b"GET / HTTP/1.1\r\nB@d: x\r\nHost : x\r\n\r\n",
                Invalid::HeaderName,
            ),
            (
                b"GET / HTTP/1.1\r\nB@d: x\r\n folded\r\n\r\n",
                Invalid::HeaderName,
            ),
            (b"GET / HTTP/1.1\r\nB@d: x\rc\r\n\r\n", Invalid::HeaderValue),
            (b"GET / HTTP/1.1\r\nB@d: \x00\r\n\r\n", Invalid::HeaderValue),
            (b"GET / HTTP/1.1\r\nB\x00d: x\r\n\r\n", Invalid::HeaderName),
            // Empty name after a relaxed one (fuzz crash, corpus `lenient_empty_name`).
            (
                b"GET / HTTP/1.1\r\nB@d: x\r\n: close\r\n\r\n",
                Invalid::HeaderName,
            ),
            (b"GET / HTTP/1.1\r\nB@d: x\r\n\rX\r\n", Invalid::NewLine),
        ] {
            assert_eq!(
                req_lenient(input).1,
                Parse::Invalid(want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    fn with_headers(n: usize, name: &str) -> Vec<u8> {
        let mut r = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..n {
            r.extend_from_slice(format!("{name}{i}: v\r\n").as_bytes());
        }
        r.extend_from_slice(b"\r\n");
        r
    }

    #[test]
    fn header_count_limit_is_1_4s() {
        // MAX_HTTP_HDR = 101 index entries including the start line: 100 headers pass.
        let (idx, r) = req(&with_headers(MAX_HEADERS, "X-"));
        assert_eq!(r, Parse::Complete);
        assert_eq!(idx.headers().len(), 100);
        assert_eq!(
            req_result(&with_headers(MAX_HEADERS + 1, "X-")),
            Parse::Invalid(Invalid::TooManyHeaders)
        );
        // Same limit on the lenient path.
        assert_eq!(
            req_lenient(&with_headers(MAX_HEADERS, "X@")).1,
            Parse::Complete
        );
        assert_eq!(
            req_lenient(&with_headers(MAX_HEADERS + 1, "X@")).1,
            Parse::Invalid(Invalid::TooManyHeaders)
        );
    }

    #[test]
    fn too_large_heads() {
        let r = b"GET / HTTP/1.1\r\nHost: 0123456789\r\n\r\n"; // 36 bytes
        let exact = ParseOptions {
            max_head: r.len(),
            accept_invalid: false,
        };
        assert_eq!(
            all_ways_with(r, &exact, Kind::Request, Method::Get).1,
            Parse::Complete
        );
        let short = ParseOptions {
            max_head: r.len() - 1,
            accept_invalid: false,
        };
        assert_eq!(
            all_ways_with(r, &short, Kind::Request, Method::Get).1,
            Parse::TooLarge
        );
        // A complete head followed by body bytes beyond the limit is fine.
        let mut with_body = r.to_vec();
        with_body.extend_from_slice(&[b'x'; 100]);
        assert_eq!(
            all_ways_with(&with_body, &exact, Kind::Request, Method::Get).1,
            Parse::Complete
        );
        // Default limit: 15360 bytes.
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(DEFAULT_MAX_HEAD + 10, b'a');
        let mut idx = HeadIndex::new();
        assert_eq!(
            idx.parse_request(&big[..DEFAULT_MAX_HEAD - 1], &ParseOptions::default()),
            Parse::Incomplete
        );
        assert_eq!(
            idx.parse_request(&big, &ParseOptions::default()),
            Parse::TooLarge
        );
    }

    #[test]
    fn content_length_rules() {
        let ok: &[(&[u8], u64)] = &[
            (b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 5),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 005\r\n\r\n",
                5,
            ),
            (b"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", 5),
            (b"POST / HTTP/1.0\r\nCONTENT-LENGTH:0\r\n\r\n", 0),
        ];
        for (input, n) in ok {
            let (idx, r) = req(input);
            assert_eq!(r, Parse::Complete);
            assert_eq!(idx.framing(), Framing::Length(*n));
            assert_eq!(idx.info().content_length, Some(*n));
        }
        let bad: &[(&[u8], Invalid)] = &[
            (
                b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                Invalid::ContentLengthMismatch,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n",
                Invalid::ContentLengthMismatch,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                Invalid::ContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
                Invalid::ContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\n",
                Invalid::ContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
                Invalid::ContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 5,\r\n\r\n",
                Invalid::ContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n",
                Invalid::ContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                Invalid::ContentLength,
            ),
        ];
        for (input, want) in bad {
            assert_eq!(
                req_result(input),
                Parse::Invalid(*want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn transfer_encoding_rules() {
        for input in [
            &b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked,\r\n\r\n",
        ] {
            let (idx, r) = req(input);
            assert_eq!(r, Parse::Complete, "{:?}", String::from_utf8_lossy(input));
            assert_eq!(idx.framing(), Framing::Chunked);
            assert!(idx.info().transfer_encoding);
        }
        let bad: &[(&[u8], Invalid)] = &[
            (b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", Invalid::ContentLengthAndTransferEncoding),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", Invalid::ContentLengthAndTransferEncoding),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n", Invalid::TransferEncoding),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", Invalid::TransferEncoding),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", Invalid::TransferEncoding),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", Invalid::TransferEncoding),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", Invalid::TransferEncoding),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", Invalid::TransferEncoding),
            (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", Invalid::TransferEncodingHttp10),
        ];
        for (input, want) in bad {
            assert_eq!(
                req_result(input),
                Parse::Invalid(*want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
            assert!(want.is_framing());
        }
        // After a framing error the head stays indexed (for the log line); not after a syntax
        // error.
        let (idx, _) = req(bad[0].0);
        assert_eq!(idx.uri().get(bad[0].0), b"/");
        assert_eq!(idx.headers().len(), 2);
        assert!(!idx.is_complete());
        let (idx, r) = req(b"POST / HTTP/1.1\r\nA: b\r\nB@d: x\r\n\r\n");
        assert_eq!(r, Parse::Invalid(Invalid::HeaderName));
        assert!(!Invalid::HeaderName.is_framing());
        assert!(idx.headers().is_empty());
    }

    #[test]
    fn response_fields() {
        const R: &[u8] = b"HTTP/1.1 404 Not  Found\r\nServer: x\r\n\r\n";
        let (idx, r) = res(R, Method::Get);
        assert_eq!(r, Parse::Complete);
        assert_eq!(idx.kind(), Kind::Response);
        assert_eq!(idx.status(), 404);
        assert_eq!(idx.reason().get(R), b"Not  Found");
        assert_eq!(idx.version(), Version::Http11);
        assert_eq!(idx.start_line().get(R), b"HTTP/1.1 404 Not  Found");
        assert_eq!(idx.framing(), Framing::UntilClose);
        const NO_REASON: &[u8] = b"HTTP/1.0 200\r\n\r\n";
        let (idx, r) = res(NO_REASON, Method::Get);
        assert_eq!(r, Parse::Complete);
        assert!(idx.reason().is_empty());
        const OBS: &[u8] = b"HTTP/1.1 200 \xe9t\xe9\n\n";
        let (idx, r) = res(OBS, Method::Get);
        assert_eq!(r, Parse::Complete);
        assert_eq!(idx.reason().get(OBS), b"\xe9t\xe9");
        assert!(matches!(
            res(b"HTTP/1.1 2000 OK\r\n\r\n", Method::Get).1,
            Parse::Invalid(_)
        ));
        assert!(matches!(
            res(b"HTTP/1.1 20 OK\r\n\r\n", Method::Get).1,
            Parse::Invalid(_)
        ));
        assert!(matches!(
            res(b"ICY 200 OK\r\n\r\n", Method::Get).1,
            Parse::Invalid(_)
        ));
        assert!(matches!(
            res(b"HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", Method::Get).1,
            Parse::Invalid(_)
        ));
        assert!(matches!(
            res(b"HTTP/1.1 200 O\x00K\r\n\r\n", Method::Get).1,
            Parse::Invalid(_)
        ));
    }

    #[test]
    fn response_framing() {
        let cases: &[(&[u8], Method, Framing)] = &[
            (b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", Method::Get, Framing::Length(12)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", Method::Head, Framing::None),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Method::Head, Framing::None),
            (b"HTTP/1.1 100 Continue\r\n\r\n", Method::Post, Framing::None),
            (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", Method::Get, Framing::None),
            (b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", Method::Get, Framing::None),
            (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", Method::Get, Framing::None),
            (b"HTTP/1.1 200 Connection established\r\n\r\n", Method::Connect, Framing::None),
            (b"HTTP/1.1 407 Auth\r\nContent-Length: 3\r\n\r\n", Method::Connect, Framing::Length(3)),
            (b"HTTP/1.1 200 OK\r\n\r\n", Method::Get, Framing::UntilClose),
            (b"HTTP/1.0 200 OK\r\n\r\n", Method::Post, Framing::UntilClose),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Method::Get, Framing::Chunked),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", Method::Get, Framing::UntilClose),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", Method::Get, Framing::UntilClose),
        ];
        for (input, m, want) in cases {
            let (idx, r) = res(input, *m);
            assert_eq!(r, Parse::Complete, "{:?}", String::from_utf8_lossy(input));
            assert_eq!(
                idx.framing(),
                *want,
                "{:?} {m:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(
            res(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                Method::Get
            )
            .1,
            Parse::Invalid(Invalid::ContentLengthAndTransferEncoding)
        );
        assert_eq!(
            res(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                Method::Get
            )
            .1,
            Parse::Invalid(Invalid::ContentLengthMismatch)
        );
    }

    #[test]
    fn connection_expect_upgrade_and_absolute_uri() {
        const R: &[u8] = b"GET http://h/p HTTP/1.1\r\nconnection: Keep-Alive\r\nConnection: TE, CLOSE\r\nProxy-Connection: keep-alive\r\nExpect: 100-Continue\r\nUpgrade: websocket\r\n\r\n";
        let (idx, r) = req(R);
        assert_eq!(r, Parse::Complete);
        let info = idx.info();
        assert_eq!(
            info.connection,
            ConnTokens {
                close: true,
                keep_alive: true,
                upgrade: false
            }
        );
        assert_eq!(
            info.proxy_connection,
            ConnTokens {
                close: false,
                keep_alive: true,
                upgrade: false
            }
        );
        assert!(info.expect_continue);
        assert!(info.upgrade);
        assert!(info.absolute_uri);
        let (idx, _) =
            req(b"OPTIONS * HTTP/1.1\r\nConnection: upgrade\r\nExpect: 100-continue-ish\r\n\r\n");
        assert!(!idx.info().absolute_uri);
        assert!(idx.info().connection.upgrade);
        assert!(!idx.info().expect_continue);
        let (idx, _) = req(b"CONNECT h:443 HTTP/1.1\r\n\r\n");
        assert!(idx.info().absolute_uri);
    }

    #[test]
    fn find_helpers() {
        const R: &[u8] = b"GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2\r\nHost: a\r\nx-forwarded-for: 3.3.3.3\r\n\r\n";
        let (idx, _) = req(R);
        let found: Vec<(usize, &[u8])> = idx.find(R, b"X-FORWARDED-FOR").collect();
        assert_eq!(
            found,
            vec![(0, &b"1.1.1.1, 2.2.2.2"[..]), (2, &b"3.3.3.3"[..])]
        );
        let vals: Vec<&[u8]> = idx.values(R, b"x-forwarded-for").collect();
        assert_eq!(vals, vec![&b"1.1.1.1"[..], b"2.2.2.2", b"3.3.3.3"]);
        assert_eq!(idx.first_value(R, b"host"), Some(&b"a"[..]));
        assert_eq!(idx.first_value(R, b"hos"), None);
    }

    #[test]
    fn reuse_after_clear_and_memo() {
        let opts = ParseOptions::default();
        let mut idx = HeadIndex::new();
        let buf = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(idx.parse_request(&buf[..20], &opts), Parse::Incomplete);
        // More bytes without a new LF: still incomplete, without re-parsing.
        assert_eq!(idx.parse_request(&buf[..24], &opts), Parse::Incomplete);
        assert_eq!(idx.parse_request(buf, &opts), Parse::Complete);
        idx.clear();
        assert!(!idx.is_complete());
        assert_eq!(idx.headers().len(), 0);
        let next = b"HTTP/1.1 200 OK\r\n\r\n";
        assert_eq!(
            idx.parse_response(next, &opts, Method::Get),
            Parse::Complete
        );
        assert_eq!(idx.status(), 200);
    }

    #[test]
    fn uri_paths() {
        assert_eq!(uri_path(b"/a/b?c"), Some(&b"/a/b?c"[..]));
        assert_eq!(uri_path(b"http://h:80/x?y"), Some(&b"/x?y"[..]));
        assert_eq!(uri_path(b"http://h:80"), None);
        assert_eq!(uri_path(b"*"), None);
        assert_eq!(uri_path(b""), None);
        assert_eq!(uri_path(b"h:443"), None);
        assert_eq!(uri_path(b"a+b.c-d://u@h/p"), Some(&b"/p"[..]));
    }
}
