//! Parsers for raw request payload used by `tcp-request content` ACLs, before any HTTP
//! analysis: `req_proto_http` (does the buffer hold a complete HTTP request head?),
//! `req_ssl_ver` (protocol version of an SSLv3/TLS record or an SSLv2 ClientHello) and
//! `req_rdp_cookie` / `req_rdp_cookie_cnt` (the `Cookie: name=value` line of an RDP
//! connection request).
//!
//! Compare with 1.4 `acl_fetch_proto_http` + `http_msg_analyzer` (`src/proto_http.c`),
//! `acl_fetch_req_ssl_ver` and `acl_fetch_rdp_cookie` (`src/proto_tcp.c`). Each parser
//! reports whether more data could change its answer, which the evaluator turns into a
//! "miss" while the inspect delay runs. None of them allocates.

/// Outcome of a payload parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload<T> {
    Found(T),
    /// Not enough bytes yet to decide.
    TooShort,
    /// The bytes cannot be what the parser looks for, whatever follows.
    Invalid,
}

/// RFC 2616 `token` characters (1.4 `http_is_token`).
fn is_token(b: u8) -> bool {
    b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b)
}

/// Characters of an HTTP version token: `H`, `T`, `P`, `/`, `.` and digits
/// (1.4 `http_is_ver_token`).
fn is_ver_token(b: u8) -> bool {
    matches!(b, b'H' | b'T' | b'P' | b'/' | b'.' | b'0'..=b'9')
}

fn is_spht(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_crlf(b: u8) -> bool {
    b == b'\r' || b == b'\n'
}

fn is_lws(b: u8) -> bool {
    is_spht(b) || is_crlf(b)
}

/// States of the request-head scanner, named after 1.4's `HTTP_MSG_*` states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Before,
    BeforeCr,
    Meth,
    MethSp,
    Uri,
    UriSp,
    Ver,
    /// At the CR or LF ending the request line.
    LineEol,
    LineEnd,
    HdrFirst,
    HdrName,
    L1Sp,
    L1Lf,
    L1Lws,
    HdrVal,
    L2Lf,
    L2Lws,
    /// A header line is complete; at the first byte of the next line.
    HdrDone,
    LastLf,
}

/// Whether `buf` starts with a complete, valid HTTP request head (request line and headers
/// up to the empty line), following 1.4's request parser: leading empty lines are skipped,
/// an HTTP/0.9 request line (no version) ends the head by itself, folded header lines are
/// accepted, a non-token byte in a header name is invalid (1.4's default without
/// `option accept-invalid-http-request`). 1.4's limit on the number of headers is not
/// reproduced.
pub fn sniff_http_request(buf: &[u8]) -> Payload<()> {
    let mut st = St::Before;
    let mut v09 = false;
    let mut i = 0;
    while let Some(&b) = buf.get(i) {
        // Each arm either consumes `b` (i += 1) or switches state and re-examines it.
        match st {
            St::Before => match b {
                b'\n' => i += 1,
                b'\r' => {
                    i += 1;
                    st = St::BeforeCr;
                }
                _ if is_token(b) => st = St::Meth,
                _ => return Payload::Invalid,
            },
            St::BeforeCr => {
                if b != b'\n' {
                    return Payload::Invalid;
                }
                i += 1;
                st = St::Before;
            }
            St::Meth => {
                if is_token(b) {
                    i += 1;
                } else if is_spht(b) {
                    i += 1;
                    st = St::MethSp;
                } else if is_crlf(b) {
                    v09 = true;
                    st = St::LineEol;
                } else {
                    return Payload::Invalid;
                }
            }
            St::MethSp | St::UriSp => {
                if is_spht(b) {
                    i += 1;
                } else if is_crlf(b) {
                    v09 = true;
                    st = St::LineEol;
                } else {
                    st = if st == St::MethSp { St::Uri } else { St::Ver };
                }
            }
            St::Uri => {
                if !is_lws(b) {
                    i += 1;
                } else if is_spht(b) {
                    i += 1;
                    st = St::UriSp;
                } else {
                    v09 = true;
                    st = St::LineEol;
                }
            }
            St::Ver => {
                if is_ver_token(b) {
                    i += 1;
                } else if is_crlf(b) {
                    st = St::LineEol;
                } else {
                    return Payload::Invalid;
                }
            }
            St::LineEol => {
                if b == b'\r' {
                    i += 1;
                }
                st = St::LineEnd;
            }
            St::LineEnd => {
                if v09 {
                    // An HTTP/0.9 request has no headers.
                    st = St::LastLf;
                } else if b == b'\n' {
                    i += 1;
                    st = St::HdrFirst;
                } else {
                    return Payload::Invalid;
                }
            }
            St::HdrFirst | St::HdrDone => match b {
                b'\r' => {
                    i += 1;
                    st = St::LastLf;
                }
                b'\n' => st = St::LastLf,
                _ => st = St::HdrName,
            },
            St::HdrName => {
                if is_token(b) {
                    i += 1;
                } else if b == b':' {
                    i += 1;
                    st = St::L1Sp;
                } else {
                    return Payload::Invalid;
                }
            }
            St::L1Sp => {
                if is_spht(b) {
                    i += 1;
                } else if b == b'\r' {
                    i += 1;
                    st = St::L1Lf;
                } else if b == b'\n' {
                    st = St::L1Lf;
                } else {
                    st = St::HdrVal;
                }
            }
            St::L1Lf | St::L2Lf => {
                if b != b'\n' {
                    return Payload::Invalid;
                }
                i += 1;
                st = if st == St::L1Lf { St::L1Lws } else { St::L2Lws };
            }
            St::L1Lws => st = if is_spht(b) { St::L1Sp } else { St::HdrDone },
            St::HdrVal => {
                if b == b'\r' {
                    i += 1;
                    st = St::L2Lf;
                } else if b == b'\n' {
                    st = St::L2Lf;
                } else {
                    i += 1;
                }
            }
            St::L2Lws => st = if is_spht(b) { St::HdrVal } else { St::HdrDone },
            St::LastLf => {
                return if b == b'\n' {
                    Payload::Found(())
                } else {
                    Payload::Invalid
                };
            }
        }
    }
    Payload::TooShort
}

/// Largest SSLv3/TLS record body 1.4 accepts (2^14 + 2048).
const SSL_MAX_RECORD: usize = (1 << 14) + 2048;

/// `req_ssl_ver`: the protocol version of the record at the start of `buf`, as
/// `major << 16 | minor` (TLSv1.0 = 3.1 = 0x30001).
///
/// Accepts an SSLv3/TLS record header (content type 0x14..=0x17 or 0xFF, version >= 3.0,
/// length 1..=18432) or an SSLv2 ClientHello header (with 1.4's checks on cipher, session id
/// and challenge lengths), and only answers once the whole record is buffered, or as much
/// of it as `capacity` allows. Like 1.4, the 3-byte SSLv2 header form checks the padding
/// length byte where the message type would be.
pub fn ssl_hello_version(buf: &[u8], capacity: usize) -> Payload<i64> {
    let byte = |i: usize| buf.get(i).copied().map_or(0, usize::from);
    let Some(&b0) = buf.first() else {
        return Payload::TooShort;
    };
    let mut left = buf.len();
    let version;
    let mut msg_len;
    if (0x14..=0x17).contains(&b0) || b0 == 0xff {
        if left < 5 {
            return Payload::TooShort;
        }
        version = (byte(1) << 16) + byte(2);
        msg_len = (byte(3) << 8) + byte(4);
        if version < 0x30000 || !(1..=SSL_MAX_RECORD).contains(&msg_len) {
            return Payload::Invalid;
        }
        left -= 5;
    } else {
        let (rlen, plen);
        if b0 & 0x80 != 0 {
            // 2-byte header: 15-bit record length.
            if left < 3 {
                return Payload::TooShort;
            }
            rlen = ((usize::from(b0) & 0x7f) << 8) | byte(1);
            plen = 0;
            left -= 2;
        } else {
            // 3-byte header: 14-bit record length and a padding length.
            if left < 4 {
                return Payload::TooShort;
            }
            rlen = ((usize::from(b0) & 0x3f) << 8) | byte(1);
            plen = byte(2);
            left -= 3;
        }
        // The message type (CLIENT-HELLO = 1), read at offset 2 for both header forms.
        if byte(2) != 0x01 {
            return Payload::Invalid;
        }
        left -= 1;
        if left < 8 {
            return Payload::TooShort;
        }
        version = (byte(3) << 16) + byte(4);
        let cipher_len = (byte(5) << 8) + byte(6);
        let session_len = (byte(7) << 8) + byte(8);
        let challenge_len = (byte(9) << 8) + byte(10);
        left -= 8;
        if cipher_len % 3 != 0
            || (session_len != 0 && session_len != 16)
            || !(16..=32).contains(&challenge_len)
            || rlen != 9 + cipher_len + session_len + challenge_len
        {
            return Payload::Invalid;
        }
        msg_len = cipher_len + session_len + challenge_len + plen;
    }
    // A record larger than the buffer can never be complete: settle for what fits.
    msg_len = msg_len.min(capacity);
    if left < msg_len {
        return Payload::TooShort;
    }
    Payload::Found(i64::try_from(version).unwrap_or(i64::MAX))
}

/// Length of the TPKT header plus the X.224 connection request header that precede the
/// RDP cookie line.
const RDP_HEADER_LEN: usize = 11;

/// `req_rdp_cookie[(name)]`: the value of the `Cookie: name=value\r\n` line that follows
/// the 11-byte TPKT/X.224 header of an RDP connection request. `Cookie:` and the name are
/// matched case-insensitively; with no name (or an empty one) any name is accepted. The
/// value runs to the CR, which must be followed by LF.
pub fn rdp_cookie<'a>(buf: &'a [u8], name: Option<&[u8]>) -> Payload<&'a [u8]> {
    if buf.len() <= RDP_HEADER_LEN {
        return Payload::TooShort;
    }
    let data = buf.get(RDP_HEADER_LEN..).unwrap_or_default();
    if data.len() <= 7 {
        return Payload::TooShort;
    }
    let (prefix, rest) = data.split_at(7);
    if !prefix.eq_ignore_ascii_case(b"Cookie:") {
        return Payload::Invalid;
    }
    let spaces = rest.iter().take_while(|&&b| b == b' ').count();
    let mut data = rest.get(spaces..).unwrap_or_default();
    match name.filter(|n| !n.is_empty()) {
        Some(name) => {
            if data.len() <= name.len() {
                return Payload::TooShort;
            }
            let (got, after) = data.split_at(name.len());
            if after.first() != Some(&b'=') || !got.eq_ignore_ascii_case(name) {
                return Payload::Invalid;
            }
            data = after.get(1..).unwrap_or_default();
        }
        None => {
            let Some(eq) = data
                .iter()
                .position(|&b| b == b'=' || b == b'\r' || b == b'\n')
            else {
                return Payload::TooShort;
            };
            if data.get(eq) != Some(&b'=') {
                return Payload::Invalid;
            }
            data = data.get(eq + 1..).unwrap_or_default();
        }
    }
    let Some(cr) = data.iter().position(|&b| b == b'\r') else {
        return Payload::TooShort;
    };
    match data.get(cr + 1) {
        None => Payload::TooShort,
        Some(b'\n') => Payload::Found(data.get(..cr).unwrap_or_default()),
        Some(_) => Payload::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every prefix of a complete request must be "too short", never invalid.
    fn assert_prefixes_too_short(req: &[u8]) {
        for cut in 0..req.len() {
            assert_eq!(
                sniff_http_request(&req[..cut]),
                Payload::TooShort,
                "prefix {:?}",
                String::from_utf8_lossy(&req[..cut])
            );
        }
    }

    #[test]
    fn http_request_sniffing() {
        let req = b"GET /index.html HTTP/1.1\r\nHost: a\r\nX-Long: a\r\n  folded\r\n\r\n";
        assert_eq!(sniff_http_request(req), Payload::Found(()));
        assert_prefixes_too_short(req);
        assert_eq!(
            sniff_http_request(b"\r\n\nGET / HTTP/1.0\n\n"),
            Payload::Found(())
        );
        assert_eq!(
            sniff_http_request(b"GET / HTTP/1.0\r\nEmpty:\r\n\r\n"),
            Payload::Found(())
        );
        // HTTP/0.9: the request line alone is complete.
        assert_eq!(sniff_http_request(b"GET /\r\n"), Payload::Found(()));
        assert_eq!(sniff_http_request(b"GET\n"), Payload::Found(()));
        assert_eq!(sniff_http_request(b"GET /\r"), Payload::TooShort);
        // Invalid starts, bad version bytes, bad header names, CR without LF.
        assert_eq!(sniff_http_request(b"\x16\x03\x01\x00"), Payload::Invalid);
        assert_eq!(sniff_http_request(b"GET / HTTP/1.x\r\n"), Payload::Invalid);
        assert_eq!(
            sniff_http_request(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"),
            Payload::Invalid
        );
        assert_eq!(sniff_http_request(b"GET / HTTP/1.1\rX"), Payload::Invalid);
        assert_eq!(
            sniff_http_request(b"GET / HTTP/1.1\r\nA: b\rX"),
            Payload::Invalid
        );
        assert_eq!(sniff_http_request(b"\rX"), Payload::Invalid);
    }

    /// A TLS ClientHello record header announcing `len` bytes, followed by `body` bytes.
    fn tls_record(major: u8, minor: u8, len: u16, body: usize) -> Vec<u8> {
        let mut v = vec![0x16, major, minor, (len >> 8) as u8, len as u8];
        v.extend(std::iter::repeat_n(0u8, body));
        v
    }

    #[test]
    fn ssl_version_of_tls_records() {
        let rec = tls_record(3, 1, 100, 100);
        assert_eq!(ssl_hello_version(&rec, 16384), Payload::Found(0x30001));
        assert_eq!(ssl_hello_version(&rec[..50], 16384), Payload::TooShort);
        assert_eq!(ssl_hello_version(&rec[..4], 16384), Payload::TooShort);
        assert_eq!(ssl_hello_version(&[], 16384), Payload::TooShort);
        // A record larger than the buffer is judged on what fits.
        assert_eq!(ssl_hello_version(&rec[..45], 40), Payload::Found(0x30001));
        assert_eq!(
            ssl_hello_version(&tls_record(3, 0, 10, 10), 16384),
            Payload::Found(0x30000)
        );
        assert_eq!(
            ssl_hello_version(&tls_record(2, 0, 10, 10), 16384),
            Payload::Invalid
        );
        assert_eq!(
            ssl_hello_version(&tls_record(3, 1, 0, 0), 16384),
            Payload::Invalid
        );
        assert_eq!(
            ssl_hello_version(&tls_record(3, 1, 20000, 0), 16384),
            Payload::Invalid
        );
        assert_eq!(
            ssl_hello_version(b"GET / HTTP/1.0\r\n", 16384),
            Payload::Invalid
        );
    }

    #[test]
    fn ssl_version_of_sslv2_hello() {
        // 2-byte header, CLIENT-HELLO, version 3.0, 3 bytes of ciphers, no session id,
        // 16 bytes of challenge: record length 9 + 3 + 0 + 16 = 28.
        let mut v = vec![0x80, 28, 0x01, 0x03, 0x00, 0, 3, 0, 0, 0, 16];
        v.extend(std::iter::repeat_n(0u8, 3 + 16));
        assert_eq!(ssl_hello_version(&v, 16384), Payload::Found(0x30000));
        assert_eq!(ssl_hello_version(&v[..20], 16384), Payload::TooShort);
        let mut bad = v.clone();
        bad[2] = 0x02; // not a CLIENT-HELLO
        assert_eq!(ssl_hello_version(&bad, 16384), Payload::Invalid);
        let mut bad = v.clone();
        bad[10] = 15; // challenge too short
        assert_eq!(ssl_hello_version(&bad, 16384), Payload::Invalid);
    }

    fn rdp(line: &[u8]) -> Vec<u8> {
        let mut v = vec![0x03, 0x00, 0x00, 0x2f, 0x2a, 0xe0, 0, 0, 0, 0, 0];
        v.extend_from_slice(line);
        v
    }

    #[test]
    fn rdp_cookie_extraction() {
        let req = rdp(b"Cookie: mstshash=alice\r\n\x01\x00");
        assert_eq!(rdp_cookie(&req, None), Payload::Found(b"alice".as_slice()));
        assert_eq!(
            rdp_cookie(&req, Some(b"MSTSHASH")),
            Payload::Found(b"alice".as_slice())
        );
        assert_eq!(rdp_cookie(&req, Some(b"other")), Payload::Invalid);
        assert_eq!(
            rdp_cookie(&rdp(b"cookie:msts=x\r\n"), None),
            Payload::Found(b"x".as_slice())
        );
        assert_eq!(
            rdp_cookie(&rdp(b"Cookie: mstshash=al"), None),
            Payload::TooShort
        );
        assert_eq!(
            rdp_cookie(&rdp(b"Cookie: mstshash=al\r"), None),
            Payload::TooShort
        );
        assert_eq!(
            rdp_cookie(&rdp(b"Cookie: mstshash=al\rX"), None),
            Payload::Invalid
        );
        assert_eq!(
            rdp_cookie(&rdp(b"Cookie: novalue\r\n"), None),
            Payload::Invalid
        );
        assert_eq!(rdp_cookie(&rdp(b"Cook"), None), Payload::TooShort);
        assert_eq!(rdp_cookie(&rdp(b"Hello: x=y\r\n"), None), Payload::Invalid);
        assert_eq!(rdp_cookie(&req[..11], None), Payload::TooShort);
    }
}
