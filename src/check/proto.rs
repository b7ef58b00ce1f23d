//! The non-HTTP layer-6/7 checks: what they send and how the reply is judged.
//!
//! Keywords: `option ssl-hello-chk`, `option smtpchk [HELO|EHLO <domain>]`,
//! `option mysql-check [user <name>]`, `option ldap-check`.
//!
//! Compare with 1.4 `src/cfgparse.c` (`sslv3_client_hello_pkt`, `smtpchk`, `mysql-check`
//! and `ldap-check` request building, `DEF_SMTP_CHECK_REQ`, `DEF_LDAP_CHECK_REQ` in
//! `include/common/defaults.h`) and `src/checks.c` (`event_srv_chk_r`).
//!
//! Each `evaluate_*` judges the bytes received so far; `done` = the server closed, a read
//! failed after some data, or `tune.chksize` was reached. `None` = wait for more.

use super::state::cstr;
use super::tcp::Reply;
use crate::log::CheckStatus;

// ---------------------------------------------------------------------------------------------
// ssl-hello-chk
// ---------------------------------------------------------------------------------------------

/// The 39 cipher suites 1.4 offers: 0x0001..=0x001B and 0x002F..=0x003A (RSA/DH, DES, 3DES,
/// RC4, AES with MD5/SHA1).
fn hello_ciphers() -> impl Iterator<Item = u16> {
    (0x0001u16..=0x001B).chain(0x002F..=0x003A)
}

/// The SSLv3 CLIENT HELLO of `option ssl-hello-chk`, 126 bytes, with `unix_time` (GMT
/// seconds) at offset 11 as 1.4 writes it before each check. Any SSL/TLS server answers it
/// with a handshake or an alert record; a plain TCP relay does not.
pub fn ssl_hello(unix_time: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(126);
    // Record layer: handshake (0x16), SSL 3.0, 0x79 bytes follow.
    v.extend_from_slice(&[0x16, 0x03, 0x00, 0x00, 0x79]);
    // Handshake: CLIENT HELLO (1), 0x75 bytes follow.
    v.extend_from_slice(&[0x01, 0x00, 0x00, 0x75]);
    // Client version SSL 3.0, then the 32-byte random: time + 28 fixed bytes.
    v.extend_from_slice(&[0x03, 0x00]);
    v.extend_from_slice(&unix_time.to_be_bytes());
    v.extend_from_slice(b"HAPROXYSSLCHK\nHAPROXYSSLCHK\n");
    // No session id; 78 bytes of cipher suites.
    v.push(0x00);
    v.extend_from_slice(&[0x00, 0x4E]);
    for c in hello_ciphers() {
        v.extend_from_slice(&c.to_be_bytes());
    }
    // One compression method: null.
    v.extend_from_slice(&[0x01, 0x00]);
    v
}

/// A reply of at least 5 bytes starting with an alert (0x15) or handshake (0x16) record is
/// an SSL server (`L6OK`); anything else is `L6RSP`.
pub fn evaluate_ssl(data: &[u8], done: bool) -> Option<Reply> {
    if !done && data.len() < 5 {
        return None;
    }
    let ok = data.len() >= 5 && matches!(data[0], 0x15 | 0x16);
    Some(Reply::new(
        if ok {
            CheckStatus::L6Ok
        } else {
            CheckStatus::L6Rsp
        },
        0,
        b"",
    ))
}

// ---------------------------------------------------------------------------------------------
// smtpchk
// ---------------------------------------------------------------------------------------------

/// `HELO localhost\r\n` by default, `<HELO|EHLO> <domain>\r\n` when both are given (1.4
/// falls back to the default for any other verb).
pub fn smtp_request(verb: &str, domain: &str) -> Vec<u8> {
    if (verb == "HELO" || verb == "EHLO") && !domain.is_empty() {
        format!("{verb} {domain}\r\n").into_bytes()
    } else {
        b"HELO localhost\r\n".to_vec()
    }
}

/// Up to the first CR or LF, after the C-string cut.
fn cut_crlf(s: &[u8]) -> &[u8] {
    let s = cstr(s);
    match s.iter().position(|&b| b == b'\r' || b == b'\n') {
        Some(n) => &s[..n],
        None => s,
    }
}

fn ltrim_spaces(s: &[u8]) -> &[u8] {
    &s[s.iter().take_while(|&&b| b == b' ').count()..]
}

/// The first reply line must be `NNN ` or `NNN\r`; `2xx` passes (`L7OK`), other codes are
/// `L7STS`, anything else `L7RSP`. 1.4 sends its HELO right after connecting and judges the
/// first line it reads, which is normally the server's banner.
pub fn evaluate_smtp(data: &[u8], done: bool) -> Option<Reply> {
    if !done && data.len() < 4 {
        return None;
    }
    let well_formed = data.len() >= 4
        && matches!(data[3], b' ' | b'\r')
        && data[..3].iter().all(u8::is_ascii_digit);
    if !well_formed {
        return Some(Reply::new(CheckStatus::L7Rsp, 0, cut_crlf(data)));
    }
    let code = data[..3]
        .iter()
        .fold(0i32, |acc, d| acc * 10 + i32::from(d - b'0'));
    let desc = cut_crlf(ltrim_spaces(&data[3..]));
    let status = if data[0] == b'2' {
        CheckStatus::L7Ok
    } else {
        CheckStatus::L7Sts
    };
    Some(Reply::new(status, code, desc))
}

// ---------------------------------------------------------------------------------------------
// mysql-check
// ---------------------------------------------------------------------------------------------

/// The bytes of `option mysql-check user <name>` (1.4.25): a client authentication packet
/// (sequence 1, capabilities 0x8000, max packet 0x010000, the user name, no password) then
/// a COM_QUIT packet. Without a user nothing is sent and only the server greeting is read.
pub fn mysql_request(user: Option<&str>) -> Vec<u8> {
    let Some(user) = user else {
        return Vec::new();
    };
    let u = user.as_bytes();
    // capabilities (2) + max packet (3) + user + NUL + empty scramble length (1).
    let auth_len = u.len() + 7;
    let mut v = Vec::with_capacity(auth_len + 9);
    v.extend_from_slice(&(auth_len as u32).to_le_bytes()[..3]);
    v.push(1); // sequence number
    v.extend_from_slice(&[0x00, 0x80]); // client capabilities
    v.extend_from_slice(&[0x00, 0x00, 0x01]); // max packet size
    v.extend_from_slice(u);
    v.push(0); // end of user name
    v.push(0); // no scramble
               // COM_QUIT: length 1, sequence 0, command 0x01.
    v.extend_from_slice(&[0x01, 0x00, 0x00, 0x00, 0x01]);
    v
}

/// 3-byte little-endian MySQL packet length at `at`.
fn packet_len(data: &[u8], at: usize) -> Option<usize> {
    let b = data.get(at..at + 3)?;
    Some(usize::from(b[0]) | usize::from(b[1]) << 8 | usize::from(b[2]) << 16)
}

/// Judges the server's reply. Without a user (`has_user` false, 1.4's "old mode"): a
/// greeting of more than 51 bytes passes with its version as info, an error packet (0xFF) is
/// `L7STS` with the error text. With a user: the greeting plus the answer to the
/// authentication must both arrive; an error packet in either is `L7STS`. Truncated or
/// malformed replies are `L7RSP` once the server closed.
pub fn evaluate_mysql(data: &[u8], done: bool, has_user: bool) -> Option<Reply> {
    if !done && data.len() < 5 {
        return None;
    }
    if data.len() < 5 {
        return Some(Reply::new(CheckStatus::L7Rsp, 0, data));
    }
    let is_err = |at: usize| data.get(at) == Some(&0xFF);
    let text_at = |at: usize| data.get(at..).unwrap_or(b"");
    if !has_user {
        if is_err(4) {
            return Some(Reply::new(CheckStatus::L7Sts, 0, ltrim_spaces(text_at(7))));
        }
        if data.len() > 51 {
            return Some(Reply::new(CheckStatus::L7Ok, 0, ltrim_spaces(text_at(5))));
        }
        return done.then(|| Reply::new(CheckStatus::L7Rsp, 0, data));
    }
    let first = packet_len(data, 0).unwrap_or(0);
    if data.len() < first + 4 {
        // The greeting is not complete yet.
        return done.then(|| Reply::new(CheckStatus::L7Rsp, 0, text_at(5)));
    }
    if is_err(4) {
        return Some(Reply::new(CheckStatus::L7Sts, 0, text_at(7)));
    }
    let Some(second) = packet_len(data, first + 4) else {
        // Only the greeting so far: the authentication answer is needed.
        return done.then(|| Reply::new(CheckStatus::L7Rsp, 0, text_at(5)));
    };
    let total = first + 4 + second + 4;
    if data.len() < total {
        return done.then(|| Reply::new(CheckStatus::L7Rsp, 0, text_at(5)));
    }
    if data.len() > total {
        return Some(Reply::new(CheckStatus::L7Rsp, 0, text_at(5)));
    }
    if is_err(first + 8) {
        Some(Reply::new(CheckStatus::L7Sts, 0, text_at(first + 11)))
    } else {
        Some(Reply::new(CheckStatus::L7Ok, 0, text_at(5)))
    }
}

// ---------------------------------------------------------------------------------------------
// ldap-check
// ---------------------------------------------------------------------------------------------

/// The anonymous LDAPv3 simple bind request of `option ldap-check` (message id 1, version 3,
/// empty name, empty password), 14 bytes.
pub const LDAP_BIND_REQUEST: [u8; 14] = [
    0x30, 0x0C, // LDAPMessage SEQUENCE, 12 bytes
    0x02, 0x01, 0x01, // messageID INTEGER 1
    0x60, 0x07, // bindRequest [APPLICATION 0], 7 bytes
    0x02, 0x01, 0x03, // version INTEGER 3
    0x04, 0x00, // name: empty OCTET STRING
    0x80, 0x00, // authentication: simple, empty
];

const LDAP_NOT_V3: &[u8] = b"Not LDAPv3 protocol";

/// The reply must be a bindResponse to message 1; resultCode 0 passes (`L7OK`, info
/// `Success`), another code is `L7STS` with the code, anything else `L7RSP`.
pub fn evaluate_ldap(data: &[u8], done: bool) -> Option<Reply> {
    if !done && data.len() < 14 {
        return None;
    }
    let not_v3 = || Some(Reply::new(CheckStatus::L7Rsp, 0, LDAP_NOT_V3));
    if data.len() < 14 || data[0] != 0x30 {
        return not_v3();
    }
    // Long-form BER lengths add their length bytes to the offsets.
    let long_len = |b: u8| {
        if b & 0x80 != 0 {
            usize::from(b & 0x7F)
        } else {
            0
        }
    };
    let mut skip = long_len(data[1]);
    if skip > 2 || data.get(2 + skip..6 + skip) != Some(&[0x02, 0x01, 0x01, 0x61][..]) {
        return not_v3();
    }
    skip += data.get(skip + 6).map_or(0, |&b| long_len(b));
    if skip > 4 || data.get(7 + skip..9 + skip) != Some(&[0x0A, 0x01][..]) {
        return not_v3();
    }
    let code = data.get(9 + skip).copied().map_or(0, i32::from);
    Some(if code != 0 {
        Reply::new(
            CheckStatus::L7Sts,
            code,
            b"See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9",
        )
    } else {
        Reply::new(CheckStatus::L7Ok, 0, b"Success")
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// 1.4's hello with the time field 0x01020304, written out byte by byte.
    const HELLO_1_4: &str = "16 03 00 00 79 01 00 00 75 03 00 01 02 03 04 \
        48 41 50 52 4f 58 59 53 53 4c 43 48 4b 0a 48 41 50 52 4f 58 59 53 53 4c 43 48 4b 0a \
        00 00 4e \
        00 01 00 02 00 03 00 04 00 05 00 06 00 07 00 08 00 09 00 0a 00 0b 00 0c 00 0d 00 0e \
        00 0f 00 10 00 11 00 12 00 13 00 14 00 15 00 16 00 17 00 18 00 19 00 1a 00 1b 00 2f \
        00 30 00 31 00 32 00 33 00 34 00 35 00 36 00 37 00 38 00 39 00 3a \
        01 00";

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn ssl_hello_bytes() {
        let h = ssl_hello(0x0102_0304);
        assert_eq!(h, hex(HELLO_1_4));
        assert_eq!(h.len(), 126);
        assert_eq!(usize::from(h[4]), h.len() - 5);
        assert_eq!(usize::from(h[8]), h.len() - 9);
    }

    #[test]
    fn ssl_replies() {
        assert!(evaluate_ssl(b"\x16\x03", false).is_none());
        let st = |d: &[u8], done| evaluate_ssl(d, done).map(|r| r.status);
        assert_eq!(st(b"\x16\x03\x00\x00\x4a", false), Some(CheckStatus::L6Ok));
        assert_eq!(
            st(b"\x15\x03\x01\x00\x02\x02\x28", false),
            Some(CheckStatus::L6Ok)
        );
        assert_eq!(st(b"HTTP/1.0 400", false), Some(CheckStatus::L6Rsp));
        assert_eq!(st(b"\x16\x03", true), Some(CheckStatus::L6Rsp));
    }

    #[test]
    fn smtp_request_and_replies() {
        assert_eq!(smtp_request("HELO", "localhost"), b"HELO localhost\r\n");
        assert_eq!(
            smtp_request("EHLO", "mx.example.com"),
            b"EHLO mx.example.com\r\n"
        );
        assert_eq!(smtp_request("", ""), b"HELO localhost\r\n");
        assert_eq!(smtp_request("FOO", "x"), b"HELO localhost\r\n");
        let j = |d: &[u8], done| {
            evaluate_smtp(d, done).map(|r| {
                (
                    r.status,
                    r.code,
                    String::from_utf8_lossy(&r.info).into_owned(),
                )
            })
        };
        assert_eq!(j(b"220", false), None);
        assert_eq!(
            j(b"220 mx.example.com ESMTP Postfix\r\n", false),
            Some((
                CheckStatus::L7Ok,
                220,
                "mx.example.com ESMTP Postfix".into()
            ))
        );
        assert_eq!(
            j(b"250\r\n", false),
            Some((CheckStatus::L7Ok, 250, "".into()))
        );
        assert_eq!(
            j(b"554 No SMTP service here\r\n", false),
            Some((CheckStatus::L7Sts, 554, "No SMTP service here".into()))
        );
        assert_eq!(
            j(b"220-multi\r\n", false),
            Some((CheckStatus::L7Rsp, 0, "220-multi".into()))
        );
        assert_eq!(j(b"22", true), Some((CheckStatus::L7Rsp, 0, "22".into())));
    }

    /// A MySQL 5 greeting packet (protocol 10, version `5.1.73`), sequence 0.
    pub fn mysql_greeting() -> Vec<u8> {
        let mut body = vec![0x0a];
        body.extend_from_slice(b"5.1.73-log\0");
        body.extend_from_slice(&[0x2a, 0, 0, 0]); // thread id
        body.extend_from_slice(b"abcdefgh\0"); // scramble part 1
        body.extend_from_slice(&[0xff, 0xf7, 0x08, 0x02, 0x00]);
        body.extend_from_slice(&[0u8; 13]);
        body.extend_from_slice(b"ijklmnopqrst\0");
        let mut p = (body.len() as u32).to_le_bytes()[..3].to_vec();
        p.push(0);
        p.extend_from_slice(&body);
        p
    }

    /// An error packet with `code` and `msg`, sequence `seq`.
    pub fn mysql_error(seq: u8, msg: &str) -> Vec<u8> {
        let mut body = vec![0xff, 0x15, 0x04];
        body.extend_from_slice(b"#28000");
        body.extend_from_slice(msg.as_bytes());
        let mut p = (body.len() as u32).to_le_bytes()[..3].to_vec();
        p.push(seq);
        p.extend_from_slice(&body);
        p
    }

    /// An OK packet, sequence `seq`.
    pub fn mysql_ok(seq: u8) -> Vec<u8> {
        vec![
            0x07, 0x00, 0x00, seq, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
        ]
    }

    #[test]
    fn mysql_request_bytes() {
        assert!(mysql_request(None).is_empty());
        assert_eq!(
            mysql_request(Some("haproxy")),
            b"\x0e\x00\x00\x01\x00\x80\x00\x00\x01haproxy\x00\x00\x01\x00\x00\x00\x01".to_vec()
        );
    }

    #[test]
    fn mysql_replies() {
        let g = mysql_greeting();
        let st = |d: &[u8], done, user| {
            evaluate_mysql(d, done, user)
                .map(|r| (r.status, String::from_utf8_lossy(&r.info).into_owned()))
        };
        // Old mode: the greeting alone decides.
        assert_eq!(st(&g[..3], false, false), None);
        assert_eq!(
            st(&g, false, false),
            Some((CheckStatus::L7Ok, "5.1.73-log".into()))
        );
        let e = mysql_error(0, "Host 'x' is blocked");
        assert_eq!(
            st(&e, false, false),
            Some((CheckStatus::L7Sts, "#28000Host 'x' is blocked".into()))
        );
        assert_eq!(st(&g[..20], false, false), None);
        assert_eq!(
            st(&g[..20], true, false).map(|x| x.0),
            Some(CheckStatus::L7Rsp)
        );
        // With a user: greeting + OK passes, greeting + error fails with the text.
        assert_eq!(st(&g, false, true), None);
        let mut ok = g.clone();
        ok.extend_from_slice(&mysql_ok(2));
        assert_eq!(
            st(&ok, false, true),
            Some((CheckStatus::L7Ok, "5.1.73-log".into()))
        );
        let mut denied = g.clone();
        denied.extend_from_slice(&mysql_error(2, "Access denied for user 'haproxy'"));
        assert_eq!(
            st(&denied, false, true),
            Some((
                CheckStatus::L7Sts,
                "#28000Access denied for user 'haproxy'".into()
            ))
        );
        assert_eq!(st(&e, false, true).map(|x| x.0), Some(CheckStatus::L7Sts));
        assert_eq!(st(&g, true, true).map(|x| x.0), Some(CheckStatus::L7Rsp));
        assert_eq!(st(&ok[..ok.len() - 2], false, true), None);
        let mut extra = ok.clone();
        extra.push(0);
        assert_eq!(
            st(&extra, false, true).map(|x| x.0),
            Some(CheckStatus::L7Rsp)
        );
    }

    /// A bindResponse with `code`, short-form lengths.
    pub fn ldap_response(code: u8) -> Vec<u8> {
        vec![
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, code, 0x04, 0x00, 0x04, 0x00,
        ]
    }

    #[test]
    fn ldap_request_and_replies() {
        assert_eq!(LDAP_BIND_REQUEST.len(), 14);
        let j = |d: &[u8], done| {
            evaluate_ldap(d, done).map(|r| {
                (
                    r.status,
                    r.code,
                    String::from_utf8_lossy(&r.info).into_owned(),
                )
            })
        };
        assert_eq!(j(&ldap_response(0)[..10], false), None);
        assert_eq!(
            j(&ldap_response(0), false),
            Some((CheckStatus::L7Ok, 0, "Success".into()))
        );
        assert_eq!(
            j(&ldap_response(49), false),
            Some((
                CheckStatus::L7Sts,
                49,
                "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9".into()
            ))
        );
        // Long-form lengths of up to two bytes are accepted, longer ones are not (as 1.4).
        let long = [
            0x30, 0x82, 0x00, 0x10, 0x02, 0x01, 0x01, 0x61, 0x82, 0x00, 0x07, 0x0a, 0x01, 0x00,
            0x04, 0x00, 0x04, 0x00,
        ];
        assert_eq!(j(&long, false).map(|x| x.0), Some(CheckStatus::L7Ok));
        let mut longer = long.to_vec();
        longer[1] = 0x83;
        longer.insert(2, 0);
        assert_eq!(j(&longer, false).map(|x| x.0), Some(CheckStatus::L7Rsp));
        let mut bad = ldap_response(0);
        bad[5] = 0x65;
        assert_eq!(
            j(&bad, false),
            Some((CheckStatus::L7Rsp, 0, "Not LDAPv3 protocol".into()))
        );
        assert_eq!(
            j(b"HTTP/1.0 400 Bad", true).map(|x| x.0),
            Some(CheckStatus::L7Rsp)
        );
    }
}
