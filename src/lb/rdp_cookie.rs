//! `balance rdp-cookie[(<name>)]`: the RDP cookie (`mstshash` by default) in the client's
//! first packet picks the server, so a Terminal Services user returns to the same host.
//!
//! Compare with 1.4 `src/backend.c` `get_server_rch()` and `src/proto_tcp.c`
//! `acl_fetch_rdp_cookie()`, whose parser [`find`] reproduces; it also serves
//! `persist rdp-cookie` and the `req_rdp_cookie` ACL.
//!
//! The first packet is a TPKT header (4 bytes) and an X.224 connection request header
//! (7 bytes), followed by `Cookie: <name>=<value>\r\n`. sdbm runs over `<value>`. A missing,
//! empty or incomplete cookie falls back to round-robin; with a single server in use hashing
//! is skipped.

use super::hash::sdbm;

/// Bytes before the cookie line: TPKT (4) + X.224 CR TPDU header (7).
const RDP_HEADER_LEN: usize = 11;

/// Result of looking for the RDP cookie in the first bytes of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RdpCookie<'a> {
    /// The cookie value (may be empty), without the CRLF.
    Found(&'a [u8]),
    /// Not enough bytes yet to decide (1.4 `ACL_TEST_F_MAY_CHANGE`).
    Incomplete,
    /// The stream does not carry this cookie.
    Absent,
}

/// Looks for cookie `name` (ASCII case-insensitive) in `payload`, the bytes received from
/// the client so far. An empty `name` accepts any cookie name.
pub fn find<'a>(payload: &'a [u8], name: &[u8]) -> RdpCookie<'a> {
    if payload.len() <= RDP_HEADER_LEN {
        return RdpCookie::Incomplete;
    }
    let mut data = payload.get(RDP_HEADER_LEN..).unwrap_or_default();
    const COOKIE: &[u8] = b"Cookie:";
    if data.len() <= COOKIE.len() {
        return RdpCookie::Incomplete;
    }
    if !data
        .get(..COOKIE.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(COOKIE))
    {
        return RdpCookie::Absent;
    }
    data = data.get(COOKIE.len()..).unwrap_or_default();
    let spaces = data.iter().take_while(|&&c| c == b' ').count();
    data = data.get(spaces..).unwrap_or_default();

    if !name.is_empty() {
        if data.len() <= name.len() {
            return RdpCookie::Incomplete;
        }
        if data.get(name.len()) != Some(&b'=')
            || !data
                .get(..name.len())
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        {
            return RdpCookie::Absent;
        }
        data = data.get(name.len() + 1..).unwrap_or_default();
    } else {
        // Any name: skip to the '=' on this line.
        let Some(eq) = data
            .iter()
            .position(|&c| c == b'=' || c == b'\r' || c == b'\n')
        else {
            return RdpCookie::Incomplete;
        };
        if data.get(eq) != Some(&b'=') {
            return RdpCookie::Absent;
        }
        data = data.get(eq + 1..).unwrap_or_default();
    }

    // The value runs to the CR, which must be followed by LF.
    let Some(cr) = data.iter().position(|&c| c == b'\r') else {
        return RdpCookie::Incomplete;
    };
    match data.get(cr + 1) {
        None => RdpCookie::Incomplete,
        Some(b'\n') => RdpCookie::Found(data.get(..cr).unwrap_or_default()),
        Some(_) => RdpCookie::Absent,
    }
}

/// The configured cookie name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RdpHash {
    name: Vec<u8>,
}

impl RdpHash {
    pub fn new(name: &[u8]) -> RdpHash {
        RdpHash {
            name: name.to_vec(),
        }
    }

    /// sdbm of the cookie value, or `None` (round-robin) when missing, empty or incomplete.
    pub fn hash(&self, payload: &[u8]) -> Option<u32> {
        match find(payload, &self.name) {
            RdpCookie::Found(v) if !v.is_empty() => Some(sdbm(v)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{balancer, never_full};
    use super::super::PickInput;
    use super::*;
    use parser::ir::{Balance, HashType};
    use std::net::{IpAddr, Ipv4Addr};

    /// A connection request as mstsc sends it, with the given cookie line.
    fn packet(cookie_line: &[u8]) -> Vec<u8> {
        let mut p = vec![
            0x03, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        p.extend_from_slice(cookie_line);
        p.extend_from_slice(&[0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00]);
        p
    }

    #[test]
    fn parses_mstshash() {
        let p = packet(b"Cookie: mstshash=alice\r\n");
        assert_eq!(find(&p, b"mstshash"), RdpCookie::Found(b"alice"));
        assert_eq!(find(&p, b"MSTSHASH"), RdpCookie::Found(b"alice"));
        assert_eq!(find(&p, b""), RdpCookie::Found(b"alice"));
        assert_eq!(find(&p, b"other"), RdpCookie::Absent);
        let p = packet(b"cookie:   msts=1.2.3\r\n");
        assert_eq!(find(&p, b"msts"), RdpCookie::Found(b"1.2.3"));
    }

    #[test]
    fn incomplete_and_malformed() {
        let p = packet(b"Cookie: mstshash=alice\r\n");
        for cut in [0, 5, 11, 18, 20, 26, 28] {
            assert_eq!(
                find(&p[..cut], b"mstshash"),
                RdpCookie::Incomplete,
                "cut at {cut}"
            );
        }
        assert_eq!(
            find(&packet(b"Cookie: mstshash=a\rX"), b"mstshash"),
            RdpCookie::Absent
        );
        assert_eq!(
            find(&packet(b"Hello: mstshash=a\r\n"), b"mstshash"),
            RdpCookie::Absent
        );
        assert_eq!(
            find(&packet(b"Cookie: nameonly\r\n"), b""),
            RdpCookie::Absent
        );
        assert_eq!(
            find(&packet(b"Cookie: mstshash=\r\n"), b"mstshash"),
            RdpCookie::Found(b"")
        );
    }

    #[test]
    fn cookie_picks_server_or_round_robin() {
        let b = balancer(
            Balance::RdpCookie {
                name: "mstshash".into(),
            },
            HashType::MapBased,
            false,
            &[(1, false), (1, false), (1, false)],
        );
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let p = packet(b"Cookie: mstshash=alice\r\n");
        let want = (sdbm(b"alice") % 3) as usize;
        for _ in 0..3 {
            assert_eq!(
                b.pick(&PickInput::tcp(ip, &p), None, &never_full),
                Some(want)
            );
        }
        // Empty cookie and no cookie: round-robin.
        let empty = packet(b"Cookie: mstshash=\r\n");
        assert_eq!(
            b.pick(&PickInput::tcp(ip, &empty), None, &never_full),
            Some(0)
        );
        assert_eq!(
            b.pick(
                &PickInput::tcp(ip, b"GET / HTTP/1.0\r\n\r\n"),
                None,
                &never_full
            ),
            Some(1)
        );
    }
}
