//! Fuzz entry points for the codec, shared by the cargo-fuzz targets in `fuzz/fuzz_targets/`
//! (`http1_request`, `http1_response`, `chunked`) and by `tests/fuzz_corpus_http1.rs`, which
//! replays the committed corpus on every test run.
//!
//! Each function must never panic except on a broken invariant, which is the bug the fuzzer
//! looks for: results that depend on how the input was split, index offsets out of order or
//! out of bounds, an unedited head that is not byte-identical, an edited head that no longer
//! parses, or body framing that consumes more than it was given.

use super::body::{body_prefix, BodyError, BodyState, Prefix};
use super::edit::HeadEdit;
use super::head::{Framing, HeadIndex, Kind, Method, Parse, ParseOptions};

/// Largest input fed byte by byte (quadratic in the worst case).
const BYTEWISE_MAX: usize = 4096;

/// Parses `data` as a request in strict and lenient modes, checks split independence and index
/// invariants, rewrites the head, re-parses the result, and follows the body.
pub fn request(data: &[u8]) {
    for accept_invalid in [false, true] {
        head_roundtrip(data, Kind::Request, Method::Get, accept_invalid);
    }
}

/// Same as [`request`] for responses; the request method (GET, HEAD or CONNECT) is derived
/// from the input length so that bodyless answers are covered too.
pub fn response(data: &[u8]) {
    let method = [Method::Get, Method::Head, Method::Connect][data.len() % 3];
    for accept_invalid in [false, true] {
        head_roundtrip(data, Kind::Response, method, accept_invalid);
    }
}

/// Follows `data` as a chunked body fed whole, byte by byte and split at a few points; all
/// must agree. Also runs [`body_prefix`] over it.
pub fn chunked(data: &[u8]) {
    let whole = feed_pieces(Framing::Chunked, &[data]);
    if data.len() <= BYTEWISE_MAX {
        let bytes: Vec<&[u8]> = data.chunks(1).collect();
        assert_eq!(feed_pieces(Framing::Chunked, &bytes), whole, "byte by byte");
    }
    for i in split_points(data.len()) {
        let (a, b) = data.split_at(i);
        assert_eq!(
            feed_pieces(Framing::Chunked, &[a, b]),
            whole,
            "split at {i}"
        );
    }
    if let Ok((consumed, _, payload)) = &whole {
        assert!(*consumed <= data.len());
        assert!(
            *payload <= *consumed,
            "payload larger than the bytes consumed"
        );
    }
    let mut scratch = Vec::new();
    let limit = data.first().map_or(16, |&b| usize::from(b));
    match (
        body_prefix(Framing::Chunked, data, limit, &mut scratch),
        &whole,
    ) {
        (Ok(Prefix::Ready(p)), _) => assert!(p.len() <= limit),
        (Ok(Prefix::NeedMore), Ok((_, done, _))) => assert!(!done),
        (Ok(Prefix::NeedMore), Err(_)) => panic!("prefix succeeded where the body failed"),
        (Err(_), _) => assert!(whole.is_err()),
    }
}

/// `(consumed, done, payload length)` or the error.
type Fed = Result<(usize, bool, usize), BodyError>;

fn feed_pieces(framing: Framing, pieces: &[&[u8]]) -> Fed {
    let mut st = BodyState::new(framing);
    let mut consumed = 0;
    let mut payload = 0;
    for p in pieces {
        let pr = st.feed_with(p, |d| payload += d.len())?;
        assert!(pr.consumed <= p.len(), "consumed more than offered");
        consumed += pr.consumed;
        if pr.done {
            return Ok((consumed, true, payload));
        }
        assert_eq!(pr.consumed, p.len(), "not done but bytes left over");
    }
    Ok((consumed, st.is_done(), payload))
}

fn split_points(len: usize) -> impl Iterator<Item = usize> {
    let step = (len / 16).max(1);
    (0..=len).step_by(step)
}

fn parse(idx: &mut HeadIndex, buf: &[u8], opts: &ParseOptions, kind: Kind, m: Method) -> Parse {
    match kind {
        Kind::Request => idx.parse_request(buf, opts),
        Kind::Response => idx.parse_response(buf, opts, m),
    }
}

fn head_roundtrip(data: &[u8], kind: Kind, method: Method, accept_invalid: bool) {
    // A small limit now and then so that TooLarge is exercised.
    let max_head = if data.len() % 7 == 0 {
        64
    } else {
        super::head::DEFAULT_MAX_HEAD
    };
    let opts = ParseOptions {
        max_head,
        accept_invalid,
    };
    let mut idx = HeadIndex::new();
    let whole = parse(&mut idx, data, &opts, kind, method);

    // Growing the buffer one byte at a time, with the same index (memoised), must reach the
    // same outcome at the first non-Incomplete result.
    if data.len() <= BYTEWISE_MAX {
        let mut grow = HeadIndex::new();
        let mut last = Parse::Incomplete;
        for end in 0..=data.len() {
            last = parse(&mut grow, &data[..end], &opts, kind, method);
            if last != Parse::Incomplete {
                break;
            }
        }
        assert_eq!(last, whole, "byte by byte");
        if whole == Parse::Complete {
            assert_eq!(grow.head_end(), idx.head_end());
            assert_eq!(grow.headers(), idx.headers());
            assert_eq!(grow.info(), idx.info());
        }
    }
    for i in split_points(data.len()) {
        let mut two = HeadIndex::new();
        let first = parse(&mut two, &data[..i], &opts, kind, method);
        let r = if first == Parse::Incomplete {
            parse(&mut two, data, &opts, kind, method)
        } else {
            first
        };
        assert_eq!(r, whole, "split at {i}");
    }

    if whole != Parse::Complete {
        return;
    }
    check_index(data, &idx, accept_invalid);

    // Unedited: byte-identical to the input head.
    let mut ed = HeadEdit::new();
    ed.reset(&idx);
    let mut out = Vec::new();
    ed.write(data, &idx, &mut out);
    assert_eq!(
        out.as_slice(),
        &data[idx.head_start()..idx.head_end()],
        "unedited head differs"
    );

    // Edited: some deletions, replacements, token removals and an added line.
    let n = idx.headers().len();
    for id in 0..n {
        match (id + data.len()) % 5 {
            0 => ed.delete(id).expect("live line"),
            1 => ed.replace(id, b"X-Fuzz: r").expect("live line"),
            _ => {}
        }
    }
    let conns: Vec<usize> = ed
        .find(data, &idx, b"connection")
        .map(|(id, _)| id)
        .collect();
    for id in conns {
        ed.remove_token(data, &idx, id, b"keep-alive")
            .expect("live line");
    }
    if data.len() % 2 == 0 {
        ed.replace_start_line_with(data, &idx, |cur, out| out.extend_from_slice(cur));
    }
    let appended = ed.append(b"X-Added: 1").is_ok();
    assert!(appended || ed.live_lines() == super::head::MAX_HEADERS);
    out.clear();
    ed.write(data, &idx, &mut out);
    let mut again = HeadIndex::new();
    let wide = ParseOptions {
        max_head: usize::MAX,
        accept_invalid,
    };
    match parse(&mut again, &out, &wide, kind, method) {
        Parse::Complete => {
            assert_eq!(again.head_end(), out.len());
            assert_eq!(again.headers().len(), ed.live_lines());
            for (h, (_, line)) in again.headers().iter().zip(ed.lines(data, &idx)) {
                assert_eq!(h.line().get(&out), line);
            }
        }
        Parse::Invalid(e) if e.is_framing() => {}
        other => panic!("edited head does not parse: {other:?}"),
    }

    // The body: any split gives the same boundary.
    let rest = &data[idx.head_end()..];
    let framing = idx.framing();
    let whole_body = feed_pieces(framing, &[rest]);
    for i in split_points(rest.len()) {
        let (a, b) = rest.split_at(i);
        assert_eq!(
            feed_pieces(framing, &[a, b]),
            whole_body,
            "body split at {i}"
        );
    }
}

fn check_index(data: &[u8], idx: &HeadIndex, accept_invalid: bool) {
    let sl = idx.start_line();
    assert!(sl.start <= sl.end);
    assert!(idx.head_end() <= data.len());
    assert!(data[..idx.head_start()]
        .iter()
        .all(|&b| b == b'\r' || b == b'\n'));
    let mut pos = sl.end as usize + idx.start_line_eol_len();
    let eol_ok = |at: usize, len: usize| match len {
        2 => data.get(at..at + 2) == Some(b"\r\n".as_slice()),
        1 => data.get(at) == Some(&b'\n'),
        _ => false,
    };
    assert!(eol_ok(sl.end as usize, idx.start_line_eol_len()));
    assert!(idx.headers().len() <= super::head::MAX_HEADERS);
    for h in idx.headers() {
        let line = h.line();
        assert_eq!(line.start as usize, pos, "lines are not contiguous");
        let name = h.name();
        let value = h.value();
        assert!(name.start == line.start && name.end < line.end);
        assert_eq!(data[name.end as usize], b':');
        assert!(!name.is_empty());
        assert!(name.end < value.start || (value.is_empty() && value.start <= line.end));
        assert!(value.start <= value.end && value.end <= line.end);
        let text = line.get(data);
        assert!(!text.contains(&b'\n') && !text.contains(&b'\r') && !text.contains(&0));
        if !accept_invalid {
            assert!(name.get(data).iter().all(|b| b.is_ascii_graphic()));
        }
        let v = value.get(data);
        assert!(!v.starts_with(b" ") && !v.ends_with(b" "));
        assert!(eol_ok(line.end as usize, h.eol_len()));
        pos = h.line_with_eol().end as usize;
    }
    let fin = idx.head_end() - pos;
    assert!(eol_ok(pos, fin), "final empty line");
    if idx.kind() == Kind::Request {
        assert!(!idx.uri().is_empty());
        assert!(!idx.method_token().is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points_accept_valid_and_invalid_inputs() {
        request(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n");
        request(b"POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET");
        request(b"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n");
        request(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n");
        request(b"GET / HTTP/1.1\r\nB@d: x\r\n\r\n");
        request(b"\x00\xff garbage");
        request(b"");
        response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
        response(b"HTTP/1.0 304 Not Modified\r\nContent-Length: 12\r\n\r\n");
        response(b"HTTP/1.1 200\r\n\r\nuntil close");
        chunked(b"5\r\nhello\r\n0\r\nT: 1\r\n\r\nnext");
        chunked(b"zz");
        chunked(b"");
    }
}
