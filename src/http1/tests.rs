//! Codec tests across modules: a simulated stream reading pipelined requests and keep-alive
//! responses delivered in chunks of every size, and the manual micro-benchmark.

use super::*;
use std::time::Instant;

/// One message as the simulated stream saw it.
#[derive(Clone, Debug, PartialEq)]
struct Seen {
    start_line: Vec<u8>,
    payload: Vec<u8>,
    complete: bool,
}

/// Feeds `input` to a head parser + body follower `chunk` bytes at a time, like a stream
/// reading from a socket, and returns the messages found (and the error that stopped it).
fn drive(
    input: &[u8],
    chunk: usize,
    kind: Kind,
    methods: &[Method],
) -> (Vec<Seen>, Option<String>) {
    let opts = ParseOptions::default();
    let mut idx = HeadIndex::new();
    let mut body = BodyState::new(Framing::None);
    let mut buf: Vec<u8> = Vec::new();
    let mut seen: Vec<Seen> = Vec::new();
    let mut in_body = false;
    let mut answered = 0;
    for piece in input.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            if !in_body {
                let m = methods.get(answered).copied().unwrap_or(Method::Get);
                let r = match kind {
                    Kind::Request => idx.parse_request(&buf, &opts),
                    Kind::Response => idx.parse_response(&buf, &opts, m),
                };
                match r {
                    Parse::Incomplete => break,
                    Parse::Complete => {}
                    other => return (seen, Some(format!("{other:?}"))),
                }
                seen.push(Seen {
                    start_line: idx.start_line().get(&buf).to_vec(),
                    payload: Vec::new(),
                    complete: false,
                });
                if kind == Kind::Request || idx.status() >= 200 {
                    answered += 1;
                }
                body.reset(idx.framing());
                buf.drain(..idx.head_end());
                idx.clear();
                in_body = true;
            }
            let cur = seen.last_mut().expect("a message is open");
            let pr = match body.feed_with(&buf, |p| cur.payload.extend_from_slice(p)) {
                Ok(pr) => pr,
                Err(e) => return (seen, Some(format!("{e:?}"))),
            };
            buf.drain(..pr.consumed);
            if !pr.done {
                break;
            }
            cur.complete = true;
            in_body = false;
        }
    }
    (seen, None)
}

fn seen(start_line: &str, payload: &str, complete: bool) -> Seen {
    Seen {
        start_line: start_line.as_bytes().to_vec(),
        payload: payload.as_bytes().to_vec(),
        complete,
    }
}

#[test]
fn pipelined_requests_split_at_any_boundary() {
    let input = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n\
POST /2 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
POST /3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10;x=y\r\n0123456789abcdef\r\n0\r\nTrailer: t\r\n\r\n\
GET /4 HTTP/1.0\n\n\
GET /5 HTTP/1.1\r\nHost: b\r\n";
    let want = vec![
        seen("GET /1 HTTP/1.1", "", true),
        seen("POST /2 HTTP/1.1", "hello", true),
        seen("POST /3 HTTP/1.1", "abc0123456789abcdef", true),
        seen("GET /4 HTTP/1.0", "", true),
    ];
    for chunk in 1..=input.len() {
        assert_eq!(
            drive(input, chunk, Kind::Request, &[]),
            (want.clone(), None),
            "chunk {chunk}"
        );
    }
}

#[test]
fn keep_alive_responses_split_at_any_boundary() {
    let input = b"HTTP/1.1 100 Continue\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\
HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n\
HTTP/1.1 204 No Content\r\n\r\n\
HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n\
HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n\
HTTP/1.0 200 OK\r\n\r\nuntil close\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
    // The 100 and the first 200 answer the same POST; the next one answers a HEAD.
    let methods = [
        Method::Post,
        Method::Head,
        Method::Get,
        Method::Get,
        Method::Get,
        Method::Get,
    ];
    let want = vec![
        seen("HTTP/1.1 100 Continue", "", true),
        seen("HTTP/1.1 200 OK", "ok", true),
        seen("HTTP/1.1 200 OK", "", true),
        seen("HTTP/1.1 204 No Content", "", true),
        seen("HTTP/1.1 304 Not Modified", "", true),
        seen("HTTP/1.1 200 OK", "hi", true),
        seen(
            "HTTP/1.0 200 OK",
            "until close\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
            false,
        ),
    ];
    for chunk in 1..=input.len() {
        assert_eq!(
            drive(input, chunk, Kind::Response, &methods),
            (want.clone(), None),
            "chunk {chunk}"
        );
    }
}

#[test]
fn smuggling_attempt_stops_the_stream() {
    // A front end that trusted Content-Length would forward "GET /admin" as body; we refuse.
    let input = b"POST / HTTP/1.1\r\nContent-Length: 11\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n";
    for chunk in [1, 7, input.len()] {
        let (msgs, err) = drive(input, chunk, Kind::Request, &[]);
        assert!(msgs.is_empty());
        assert_eq!(
            err.as_deref(),
            Some("Invalid(ContentLengthAndTransferEncoding)")
        );
    }
    // A huge chunk size is refused rather than wrapped.
    let input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n100000000\r\n";
    let (_, err) = drive(input, 3, Kind::Request, &[]);
    assert_eq!(err.as_deref(), Some("ChunkTooLarge"));
}

/// A browser-like request head with 8 headers.
const TYPICAL: &[u8] = b"GET /images/logo.png?v=3 HTTP/1.1\r\n\
Host: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n\
Accept: image/avif,image/webp,*/*\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Connection: keep-alive\r\n\
Referer: https://www.example.com/\r\n\
Cookie: SERVERID=s1; session=0123456789abcdef\r\n\
\r\n";

/// Best of `rounds` timings of `n` runs of `f`, in ns per run (the machine is shared, the
/// minimum is the least noisy figure).
fn best_ns(rounds: u32, n: u32, mut f: impl FnMut()) -> u128 {
    (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_nanos() / u128::from(n)
        })
        .min()
        .unwrap_or(0)
}

/// Run with `cargo test --release --lib http1::tests::bench -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark, run manually"]
fn bench_parse_index_write() {
    let opts = ParseOptions::default();
    let mut idx = HeadIndex::new();
    let mut ed = HeadEdit::new();
    let mut out = Vec::with_capacity(1024);
    let parse_ns = best_ns(10, 20_000, || {
        idx.clear();
        assert_eq!(
            idx.parse_request(std::hint::black_box(TYPICAL), &opts),
            Parse::Complete
        );
    });
    let edit_ns = best_ns(10, 20_000, || {
        idx.clear();
        let _ = idx.parse_request(std::hint::black_box(TYPICAL), &opts);
        ed.reset(&idx);
        let _ = ed.remove_token(TYPICAL, &idx, 5, b"keep-alive");
        let _ = ed.append(b"X-Forwarded-For: 192.168.0.1");
        let _ = ed.append(b"Connection: close");
        out.clear();
        ed.write(TYPICAL, &idx, &mut out);
    });
    let base_ns = best_ns(10, 20_000, || {
        let mut h = [httparse::EMPTY_HEADER; 100];
        let mut r = httparse::Request::new(&mut h);
        assert!(r.parse(std::hint::black_box(TYPICAL)).is_ok());
    });
    println!(
        "parse+index: {parse_ns} ns/head; parse+edit+write: {edit_ns} ns/head; httparse alone: {base_ns} ns/head ({} headers)",
        idx.headers().len()
    );
    // Generous bound (debug builds, loaded machines): catches an accidental quadratic path.
    assert!(parse_ns < 20_000, "parse+index took {parse_ns} ns");
}
