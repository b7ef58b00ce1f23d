//! Body framing: follows a message body as its raw bytes are forwarded, to find where the
//! message ends (keep-alive and pipelining need the exact boundary). Bodies are never copied
//! or de-chunked; the state machine only looks at chunk-size lines, chunk delimiters and
//! trailers, and skips chunk data in bulk.
//!
//! 1.4 keywords: none directly; it serves `option http-server-close`/keep-alive (message
//! boundaries) and `balance url_param <p> check_post` ([`body_prefix`]). Compare with 1.4
//! `src/proto_http.c` `http_parse_chunk_size()` (hex digits, optional SP/HT, `;extensions`,
//! CRLF or LF; sizes of 2^31 and above rejected), `http_skip_chunk_crlf()`,
//! `http_forward_trailers()` and `http_request_forward_body()`.

use super::head::Framing;

/// Largest chunk size accepted: 1.4 refused any size that needs more than 31 bits.
pub const MAX_CHUNK_SIZE: u64 = 0x7fff_ffff;

/// Why a body could not be followed (request: 400, response: 502, by the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("invalid chunk size line")]
    ChunkSize,
    #[error("chunk size larger than {MAX_CHUNK_SIZE:#x}")]
    ChunkTooLarge,
    #[error("invalid character in a chunk extension")]
    ChunkExtension,
    #[error("missing CRLF after chunk data")]
    ChunkDelimiter,
    #[error("invalid trailer line")]
    Trailer,
}

/// Where the chunked decoder stands. Positions are per byte so input may be split anywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Reading the hex digits of a chunk size.
    Size { size: u64, digits: u32 },
    /// After the digits: optional SP/HT, then `;extension` or the line ending.
    SizeTail { size: u64 },
    /// Inside a chunk extension, up to the line ending.
    Ext { size: u64 },
    /// CR seen at the end of the size line; LF must follow.
    SizeLf { size: u64 },
    /// Inside chunk data.
    Data { remaining: u64 },
    /// Chunk data finished: CRLF or LF must follow.
    DataEnd,
    /// CR seen after chunk data; LF must follow.
    DataLf,
    /// At the start of a trailer line or of the final empty line.
    TrailerStart,
    /// Inside a trailer line.
    Trailer,
    /// CR seen inside a trailer line; LF must follow.
    TrailerLf,
    /// CR seen on the final empty line; LF must follow.
    FinalLf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Done,
    Length { remaining: u64 },
    Chunked(Chunk),
    UntilClose,
}

/// What one [`BodyState::feed`] call found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// How many of the offered bytes belong to this message (all of them unless `done`).
    pub consumed: usize,
    /// The message ended at `consumed`; later bytes belong to the next message.
    pub done: bool,
}

/// Body framing state of one message; reuse it with [`BodyState::reset`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyState {
    mode: Mode,
    failed: Option<BodyError>,
}

impl BodyState {
    pub fn new(framing: Framing) -> Self {
        let mut s = BodyState {
            mode: Mode::Done,
            failed: None,
        };
        s.reset(framing);
        s
    }

    /// Starts following a new message body.
    pub fn reset(&mut self, framing: Framing) {
        self.failed = None;
        self.mode = match framing {
            Framing::None | Framing::Length(0) => Mode::Done,
            Framing::Length(n) => Mode::Length { remaining: n },
            Framing::Chunked => Mode::Chunked(Chunk::Size { size: 0, digits: 0 }),
            Framing::UntilClose => Mode::UntilClose,
        };
    }

    /// The message body is complete.
    pub fn is_done(&self) -> bool {
        self.mode == Mode::Done
    }

    /// Bytes still expected for a `Content-Length` body, or left in the current chunk.
    pub fn remaining_hint(&self) -> Option<u64> {
        match self.mode {
            Mode::Length { remaining } => Some(remaining),
            Mode::Chunked(Chunk::Data { remaining }) => Some(remaining),
            _ => None,
        }
    }

    /// Consumes raw body bytes (see [`BodyState::feed_with`]).
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress, BodyError> {
        self.feed_with(data, |_| {})
    }

    /// Consumes raw body bytes as they pass through and reports how many belong to this
    /// message. `on_payload` receives the payload bytes (chunk data without framing); the
    /// caller forwards `data[..consumed]` unchanged. Once an error is returned, every later
    /// call returns it again.
    pub fn feed_with(
        &mut self,
        data: &[u8],
        mut on_payload: impl FnMut(&[u8]),
    ) -> Result<Progress, BodyError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        match self.mode {
            Mode::Done => Ok(Progress {
                consumed: 0,
                done: true,
            }),
            Mode::UntilClose => {
                on_payload(data);
                Ok(Progress {
                    consumed: data.len(),
                    done: false,
                })
            }
            Mode::Length { remaining } => {
                let n = clamp(remaining, data.len());
                on_payload(data.get(..n).unwrap_or(&[]));
                let left = remaining - n as u64;
                if left == 0 {
                    self.mode = Mode::Done;
                } else {
                    self.mode = Mode::Length { remaining: left };
                }
                Ok(Progress {
                    consumed: n,
                    done: left == 0,
                })
            }
            Mode::Chunked(state) => match chunked(state, data, &mut on_payload) {
                Ok((consumed, Some(next))) => {
                    self.mode = Mode::Chunked(next);
                    Ok(Progress {
                        consumed,
                        done: false,
                    })
                }
                Ok((consumed, None)) => {
                    self.mode = Mode::Done;
                    Ok(Progress {
                        consumed,
                        done: true,
                    })
                }
                Err(e) => {
                    self.failed = Some(e);
                    Err(e)
                }
            },
        }
    }
}

#[inline]
fn clamp(remaining: u64, avail: usize) -> usize {
    usize::try_from(remaining).map_or(avail, |r| r.min(avail))
}

/// Characters allowed in chunk extensions and trailer lines: HT, visible ASCII, space, obs-text.
#[inline]
fn is_text(b: u8) -> bool {
    matches!(b, b'\t' | b' '..=0x7e | 0x80..=0xff)
}

/// Runs the chunked decoder over `data`. Returns the bytes consumed and the next state, or
/// `None` as state when the final empty line was consumed.
fn chunked(
    mut st: Chunk,
    data: &[u8],
    on_payload: &mut impl FnMut(&[u8]),
) -> Result<(usize, Option<Chunk>), BodyError> {
    let mut i = 0;
    while i < data.len() {
        if let Chunk::Data { remaining } = st {
            let n = clamp(remaining, data.len() - i);
            on_payload(data.get(i..i + n).unwrap_or(&[]));
            i += n;
            let left = remaining - n as u64;
            st = if left == 0 {
                Chunk::DataEnd
            } else {
                Chunk::Data { remaining: left }
            };
            continue;
        }
        let b = data[i];
        i += 1;
        st = match st {
            Chunk::Size { size, digits } => match hex_value(b) {
                Some(d) => {
                    let size = size * 16 + u64::from(d);
                    if size > MAX_CHUNK_SIZE {
                        return Err(BodyError::ChunkTooLarge);
                    }
                    Chunk::Size {
                        size,
                        digits: digits + 1,
                    }
                }
                None if digits == 0 => return Err(BodyError::ChunkSize),
                None => size_tail(size, b)?,
            },
            Chunk::SizeTail { size } => size_tail(size, b)?,
            Chunk::Ext { size } => match b {
                b'\r' => Chunk::SizeLf { size },
                b'\n' => size_done(size),
                _ if is_text(b) => Chunk::Ext { size },
                _ => return Err(BodyError::ChunkExtension),
            },
            Chunk::SizeLf { size } => match b {
                b'\n' => size_done(size),
                _ => return Err(BodyError::ChunkSize),
            },
            Chunk::DataEnd => match b {
                b'\r' => Chunk::DataLf,
                b'\n' => Chunk::Size { size: 0, digits: 0 },
                _ => return Err(BodyError::ChunkDelimiter),
            },
            Chunk::DataLf => match b {
                b'\n' => Chunk::Size { size: 0, digits: 0 },
                _ => return Err(BodyError::ChunkDelimiter),
            },
            Chunk::TrailerStart => match b {
                b'\r' => Chunk::FinalLf,
                b'\n' => return Ok((i, None)),
                // A trailer line cannot start with white space (no obs-fold).
                b' ' | b'\t' => return Err(BodyError::Trailer),
                _ if is_text(b) => Chunk::Trailer,
                _ => return Err(BodyError::Trailer),
            },
            Chunk::Trailer => match b {
                b'\r' => Chunk::TrailerLf,
                b'\n' => Chunk::TrailerStart,
                _ if is_text(b) => Chunk::Trailer,
                _ => return Err(BodyError::Trailer),
            },
            Chunk::TrailerLf => match b {
                b'\n' => Chunk::TrailerStart,
                _ => return Err(BodyError::Trailer),
            },
            Chunk::FinalLf => match b {
                b'\n' => return Ok((i, None)),
                _ => return Err(BodyError::Trailer),
            },
            Chunk::Data { .. } => st, // handled above
        };
    }
    Ok((i, Some(st)))
}

#[inline]
fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A byte after the size digits: SP/HT, `;`, or the line ending.
#[inline]
fn size_tail(size: u64, b: u8) -> Result<Chunk, BodyError> {
    Ok(match b {
        b' ' | b'\t' => Chunk::SizeTail { size },
        b';' => Chunk::Ext { size },
        b'\r' => Chunk::SizeLf { size },
        b'\n' => size_done(size),
        _ => return Err(BodyError::ChunkSize),
    })
}

/// The size line is over: data follows, or the trailers for the last chunk.
#[inline]
fn size_done(size: u64) -> Chunk {
    if size == 0 {
        Chunk::TrailerStart
    } else {
        Chunk::Data { remaining: size }
    }
}

/// Result of [`body_prefix`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefix<'a> {
    /// The first `min(limit, body length)` payload bytes.
    Ready(&'a [u8]),
    /// Not enough body bytes buffered yet.
    NeedMore,
}

/// The first `limit` payload bytes of a body whose raw bytes received so far are `body`
/// (starting right after the head), for `balance url_param ... check_post`.
///
/// A `Content-Length` body is returned in place; a chunked body is de-chunked into the
/// caller's reusable `scratch` (cleared first). 1.4 only looked into the first chunk; this
/// continues across chunks until `limit` bytes or the end of the body.
pub fn body_prefix<'a>(
    framing: Framing,
    body: &'a [u8],
    limit: usize,
    scratch: &'a mut Vec<u8>,
) -> Result<Prefix<'a>, BodyError> {
    match framing {
        Framing::None => Ok(Prefix::Ready(&[])),
        Framing::Length(n) => {
            let want = clamp(n, limit);
            Ok(match body.get(..want) {
                Some(p) => Prefix::Ready(p),
                None => Prefix::NeedMore,
            })
        }
        Framing::UntilClose => Ok(match body.get(..limit) {
            Some(p) => Prefix::Ready(p),
            None => Prefix::NeedMore,
        }),
        Framing::Chunked => {
            scratch.clear();
            let mut st = BodyState::new(Framing::Chunked);
            let progress = st.feed_with(body, |p| {
                let room = limit.saturating_sub(scratch.len());
                scratch.extend_from_slice(p.get(..room.min(p.len())).unwrap_or(&[]));
            })?;
            if progress.done || scratch.len() >= limit {
                Ok(Prefix::Ready(scratch.as_slice()))
            } else {
                Ok(Prefix::NeedMore)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outcome of feeding a whole input: bytes consumed and done, or the error.
    type Outcome = Result<(usize, bool, Vec<u8>), BodyError>;

    fn run(framing: Framing, pieces: &[&[u8]]) -> Outcome {
        let mut st = BodyState::new(framing);
        let mut consumed = 0;
        let mut payload = Vec::new();
        for p in pieces {
            let pr = st.feed_with(p, |d| payload.extend_from_slice(d))?;
            consumed += pr.consumed;
            if pr.done {
                return Ok((consumed, true, payload));
            }
            assert_eq!(
                pr.consumed,
                p.len(),
                "not done but did not consume everything"
            );
        }
        Ok((consumed, st.is_done(), payload))
    }

    /// Feeds `input` whole, byte by byte and split at every index; all must agree.
    fn all_ways(framing: Framing, input: &[u8]) -> Outcome {
        let whole = run(framing, &[input]);
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(framing, &bytes), whole, "byte by byte");
        for i in 0..=input.len() {
            let (a, b) = input.split_at(i);
            assert_eq!(run(framing, &[a, b]), whole, "split at {i}");
        }
        whole
    }

    #[test]
    fn content_length_splits_pipelined_data() {
        let r = all_ways(Framing::Length(5), b"helloGET / HTTP/1.1\r\n");
        assert_eq!(r, Ok((5, true, b"hello".to_vec())));
        assert_eq!(
            all_ways(Framing::Length(10), b"hello"),
            Ok((5, false, b"hello".to_vec()))
        );
    }

    #[test]
    fn no_body_is_done_at_once() {
        let mut st = BodyState::new(Framing::None);
        assert!(st.is_done());
        assert_eq!(
            st.feed(b"GET"),
            Ok(Progress {
                consumed: 0,
                done: true
            })
        );
        assert!(BodyState::new(Framing::Length(0)).is_done());
    }

    #[test]
    fn until_close_takes_everything() {
        assert_eq!(
            all_ways(Framing::UntilClose, b"abc\r\n0\r\n\r\n"),
            Ok((10, false, b"abc\r\n0\r\n\r\n".to_vec()))
        );
    }

    #[test]
    fn chunked_basic_with_pipelined_tail() {
        let body = b"4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
        let mut input = body.to_vec();
        input.extend_from_slice(b"GET /next HTTP/1.1\r\n\r\n");
        assert_eq!(
            all_ways(Framing::Chunked, &input),
            Ok((body.len(), true, b"Wikipedia in\r\n\r\nchunks.".to_vec()))
        );
    }

    #[test]
    fn chunked_lf_only_extensions_spaces_and_trailers() {
        let body = b"3;name=val\nabc\n00a \t;x\r\n0123456789\r\n0\nX-T: 1\r\nY: 2\n\n";
        assert_eq!(
            all_ways(Framing::Chunked, body),
            Ok((body.len(), true, b"abc0123456789".to_vec()))
        );
    }

    #[test]
    fn chunked_incomplete_consumes_all() {
        let body = b"5\r\nhel";
        assert_eq!(
            all_ways(Framing::Chunked, body),
            Ok((body.len(), false, b"hel".to_vec()))
        );
        let mut st = BodyState::new(Framing::Chunked);
        st.feed(body).unwrap();
        assert_eq!(st.remaining_hint(), Some(2));
    }

    #[test]
    fn chunked_errors() {
        let cases: &[(&[u8], BodyError)] = &[
            (b"\r\n", BodyError::ChunkSize),
            (b"g\r\n", BodyError::ChunkSize),
            (b"-1\r\n", BodyError::ChunkSize),
            (b"+1\r\n", BodyError::ChunkSize),
            (b"1 2\r\n", BodyError::ChunkSize),
            (b"1\rx", BodyError::ChunkSize),
            (b"80000000\r\n", BodyError::ChunkTooLarge),
            (b"ffffffffffffffffffff\r\n", BodyError::ChunkTooLarge),
            (b"1;a\x00\r\n", BodyError::ChunkExtension),
            (b"1\r\naXY", BodyError::ChunkDelimiter),
            (b"1\r\na\rX", BodyError::ChunkDelimiter),
            (b"0\r\n\x00", BodyError::Trailer),
            (b"0\r\n X: folded\r\n\r\n", BodyError::Trailer),
            (b"0\r\nX: a\rb\r\n\r\n", BodyError::Trailer),
            (b"0\r\n\rX", BodyError::Trailer),
        ];
        for (input, err) in cases {
            assert_eq!(
                all_ways(Framing::Chunked, input),
                Err(*err),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn largest_chunk_size_and_leading_zeros_are_accepted() {
        let mut st = BodyState::new(Framing::Chunked);
        assert!(st.feed(b"7fffffff\r\n").is_ok());
        assert_eq!(st.remaining_hint(), Some(MAX_CHUNK_SIZE));
        let mut st = BodyState::new(Framing::Chunked);
        assert!(st.feed(b"0000000000000000000000001\r\nx\r\n").is_ok());
    }

    #[test]
    fn error_is_sticky() {
        let mut st = BodyState::new(Framing::Chunked);
        assert_eq!(st.feed(b"z"), Err(BodyError::ChunkSize));
        assert_eq!(st.feed(b"0\r\n\r\n"), Err(BodyError::ChunkSize));
        st.reset(Framing::Chunked);
        assert_eq!(
            st.feed(b"0\r\n\r\n"),
            Ok(Progress {
                consumed: 5,
                done: true
            })
        );
    }

    #[test]
    fn prefix_of_length_and_chunked_bodies() {
        let mut scratch = Vec::new();
        assert_eq!(
            body_prefix(Framing::Length(10), b"a=1&b=2", 100, &mut scratch),
            Ok(Prefix::NeedMore)
        );
        assert_eq!(
            body_prefix(Framing::Length(7), b"a=1&b=2XXX", 100, &mut scratch),
            Ok(Prefix::Ready(&b"a=1&b=2"[..]))
        );
        assert_eq!(
            body_prefix(Framing::Length(100), b"a=1&b=2", 3, &mut scratch),
            Ok(Prefix::Ready(&b"a=1"[..]))
        );
        assert_eq!(
            body_prefix(
                Framing::Chunked,
                b"3\r\na=1\r\n4\r\n&b=2\r\n0\r\n\r\n",
                100,
                &mut scratch
            ),
            Ok(Prefix::Ready(&b"a=1&b=2"[..]))
        );
        let mut scratch = Vec::new();
        assert_eq!(
            body_prefix(Framing::Chunked, b"3\r\na=1\r\n4\r\n&b", 5, &mut scratch),
            Ok(Prefix::Ready(&b"a=1&b"[..]))
        );
        let mut scratch = Vec::new();
        assert_eq!(
            body_prefix(Framing::Chunked, b"3\r\na=1\r\n4\r\n&b", 50, &mut scratch),
            Ok(Prefix::NeedMore)
        );
        let mut scratch = Vec::new();
        assert_eq!(
            body_prefix(Framing::Chunked, b"zz", 50, &mut scratch),
            Err(BodyError::ChunkSize)
        );
        let mut scratch = Vec::new();
        assert_eq!(
            body_prefix(Framing::None, b"", 50, &mut scratch),
            Ok(Prefix::Ready(&b""[..]))
        );
    }
}
