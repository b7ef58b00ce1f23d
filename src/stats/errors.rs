//! `show errors [<iid>]` on the stats socket: the last invalid request kept by each frontend
//! and the last invalid response kept by each backend ([`crate::proxy::snapshot`]), in 1.4's
//! format. Compare with 1.4 `src/dumpstats.c` `stats_dump_errors_to_buffer` and
//! `dump_text_line`.
//!
//! Layout: a `Total events captured on [date] : N` header, then for each proxy in
//! configuration order its request capture then its response capture: a blank line made of
//! one space, the date, the proxy, the other side, the server, the parser state, the buffer
//! flags (only those haproxy can tell, see `ErrorSnapshot::flags`), the event number, the
//! length and the error position, then the bytes as text lines: two spaces, the offset on
//! five digits, a space (`+` when the line continues a line cut at 70 characters), a space,
//! the bytes with `\t \n \r \e \\` escaped as in C and other non-printable bytes as `\xHH`;
//! a line ends after each `\n` of the message.

use crate::proxy::snapshot::ErrorSnapshot;
use crate::runtime::Runtime;
use std::fmt::Write;
use std::time::SystemTime;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn date_ms(t: SystemTime) -> String {
    let mut d = Vec::with_capacity(24);
    crate::log::push_accept_date(&mut d, t);
    String::from_utf8_lossy(&d).into_owned()
}

/// Appends one text line of the dump starting at `ptr` (at most 80 characters with the
/// newline); `line` is the offset where the current message line began, updated when a
/// `\n` ends this one. Returns where the next line starts.
fn dump_text_line(out: &mut String, buf: &[u8], len: usize, line: &mut usize, ptr: usize) -> usize {
    let end = out.len() + 80;
    let _ = write!(out, "  {ptr:05}{} ", if ptr == *line { ' ' } else { '+' });
    let mut ptr = ptr;
    while ptr < len {
        let Some(&c) = buf.get(ptr) else {
            break;
        };
        match c {
            b' '..=b'~' if c != b'\\' => {
                if out.len() > end - 2 {
                    break;
                }
                out.push(char::from(c));
            }
            b'\t' | b'\n' | b'\r' | 0x1b | b'\\' => {
                if out.len() > end - 3 {
                    break;
                }
                out.push('\\');
                out.push(match c {
                    b'\t' => 't',
                    b'\n' => 'n',
                    b'\r' => 'r',
                    0x1b => 'e',
                    _ => '\\',
                });
            }
            _ => {
                if out.len() > end - 5 {
                    break;
                }
                out.push_str("\\x");
                out.push(char::from(HEX[usize::from(c >> 4)]));
                out.push(char::from(HEX[usize::from(c & 0xf)]));
            }
        }
        ptr += 1;
        if c == b'\n' {
            out.push('\n');
            *line = ptr;
            return ptr;
        }
    }
    out.push('\n');
    ptr
}

/// Appends the dump lines of a captured message.
pub fn dump_message(out: &mut String, es: &ErrorSnapshot) {
    let stop = es.len.min(es.buf.len());
    let mut ptr = 0;
    let mut line = 0;
    while ptr < stop {
        let next = dump_text_line(out, &es.buf, stop, &mut line, ptr);
        if next == ptr {
            break;
        }
        ptr = next;
    }
}

/// `show errors`: `iid` −1 for every proxy, else only the captures whose proxy or other side
/// has this id (1.4 `atoi` of the argument).
pub fn show_errors(rt: &Runtime, iid: i64, out: &mut String) {
    let _ = writeln!(
        out,
        "Total events captured on [{}] : {}",
        date_ms(SystemTime::now()),
        rt.error_events.load(std::sync::atomic::Ordering::Relaxed)
    );
    for px in &rt.proxies {
        let (req, rep) = px.captures.get();
        for (is_req, es) in [(true, req), (false, rep)] {
            let Some(es) = es else {
                continue;
            };
            let oe = rt.proxies.get(es.oe);
            if iid >= 0 && i64::from(px.uuid) != iid && oe.is_none_or(|o| i64::from(o.uuid) != iid)
            {
                continue;
            }
            let srv = es
                .srv
                .and_then(|(p, s)| rt.proxies.get(p).and_then(|p| p.servers.get(s)));
            let (srv_name, srv_id) = match srv {
                Some(s) => (s.cfg.name.as_str(), i64::from(s.puid)),
                None => ("<NONE>", -1),
            };
            let _ = write!(out, " \n[{}]", date_ms(es.when));
            if is_req {
                let (oe_name, oe_id) = match oe {
                    Some(o) if o.cfg.kind.has_be() => (o.name(), i64::from(o.uuid)),
                    _ => ("<NONE>", -1),
                };
                let _ = write!(
                    out,
                    " frontend {} (#{}): invalid request\n  src {}, session #{}, backend {oe_name} (#{oe_id}), server {srv_name} (#{srv_id})\n",
                    px.name(),
                    px.uuid,
                    es.src,
                    es.sid
                );
            } else {
                let _ = write!(
                    out,
                    " backend {} (#{}) : invalid response\n  src {}, session #{}, frontend {} (#{}), server {srv_name} (#{srv_id})\n",
                    px.name(),
                    px.uuid,
                    es.src,
                    es.sid,
                    oe.map_or("?", |o| o.name()),
                    oe.map_or(0, |o| o.uuid)
                );
            }
            let _ = write!(
                out,
                "  HTTP internal state {}, buffer flags 0x{:08x}, event #{}\n  {} length {} bytes, error at position {}:\n \n",
                es.state,
                es.flags,
                es.ev_id,
                if is_req { "request" } else { "response" },
                es.len,
                es.pos
            );
            dump_message(out, &es);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::test_support::{backend, runtime, server};
    use crate::proxy::snapshot::{capture, CaptureInfo, Side, BF_READ_PARTIAL, HTTP_MSG_ERROR};
    use std::net::IpAddr;

    fn snap(buf: &[u8]) -> ErrorSnapshot {
        ErrorSnapshot {
            when: SystemTime::now(),
            sid: 1,
            src: IpAddr::from([127, 0, 0, 1]),
            oe: 0,
            srv: None,
            state: 26,
            flags: 0,
            ev_id: 0,
            len: buf.len(),
            pos: 0,
            buf: buf.to_vec(),
        }
    }

    fn dump(buf: &[u8]) -> String {
        let mut out = String::new();
        dump_message(&mut out, &snap(buf));
        out
    }

    #[test]
    fn lines_break_after_newlines_and_escape() {
        assert_eq!(
            dump(b"GET /\x01 HTTP/1.1\r\nHost: a\\b\tc\x1b\r\n\r\n"),
            "  00000  GET /\\x01 HTTP/1.1\\r\\n\n  00017  Host: a\\\\b\\tc\\e\\r\\n\n  00031  \\r\\n\n"
        );
        // No trailing newline: the last line is printed as is.
        assert_eq!(dump(b"abc"), "  00000  abc\n");
        assert_eq!(dump(b""), "");
    }

    #[test]
    fn long_lines_continue_with_plus() {
        let line = vec![b'a'; 150];
        let out = dump(&line);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert_eq!(lines[0], format!("  00000  {}", "a".repeat(70)));
        assert_eq!(lines[1], format!("  00070+ {}", "a".repeat(70)));
        assert_eq!(lines[2], format!("  00140+ {}", "a".repeat(10)));
        assert!(lines.iter().all(|l| l.len() <= 79));
        // An escape that does not fit moves to the next line whole.
        let mut b = vec![b'a'; 68];
        b.push(0x01);
        let out = dump(&b);
        assert_eq!(
            out,
            format!("  00000  {}\n  00068+ \\x01\n", "a".repeat(68))
        );
        // After a continued line, a newline starts a fresh (non `+`) line.
        let mut b = vec![b'b'; 75];
        b.extend_from_slice(b"\nz");
        let out = dump(&b);
        assert!(out.ends_with("\n  00070+ bbbbb\\n\n  00076  z\n"), "{out}");
    }

    #[test]
    fn show_errors_layout_and_filter() {
        let mut fe = backend("fe", vec![]);
        fe.kind = parser::ir::ProxyKind::Frontend;
        let rt = runtime(vec![fe, backend("app", vec![server("s1", 2, 2)])]);
        let mut out = String::new();
        show_errors(&rt, -1, &mut out);
        assert!(out.starts_with("Total events captured on ["), "{out}");
        assert!(out.ends_with("] : 0\n"), "{out}");
        let base = CaptureInfo {
            sid: 5,
            src: IpAddr::from([127, 0, 0, 1]),
            oe: 0,
            srv: None,
            state: HTTP_MSG_ERROR,
            flags: BF_READ_PARTIAL,
            pos: 3,
        };
        capture(
            &rt.proxies[0],
            Side::Request,
            &rt.error_events,
            16384,
            b"GET\x01 / HTTP/1.0\r\n\r\n",
            base,
        );
        capture(
            &rt.proxies[1],
            Side::Response,
            &rt.error_events,
            16384,
            b"garbage\n",
            CaptureInfo {
                sid: 6,
                oe: 0,
                srv: Some((1, 0)),
                pos: 0,
                ..base
            },
        );
        let mut out = String::new();
        show_errors(&rt, -1, &mut out);
        let body = out.split_once('\n').map_or("", |(_, b)| b);
        assert!(out.starts_with("Total events captured on ["));
        assert!(out.lines().next().unwrap_or("").ends_with("] : 2"), "{out}");
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines[0], " ");
        assert!(lines[1].starts_with('['), "{}", lines[1]);
        assert!(
            lines[1].ends_with("] frontend fe (#1): invalid request"),
            "{}",
            lines[1]
        );
        assert_eq!(
            lines[2],
            "  src 127.0.0.1, session #5, backend <NONE> (#-1), server <NONE> (#-1)"
        );
        assert_eq!(
            lines[3],
            "  HTTP internal state 26, buffer flags 0x00000002, event #0"
        );
        assert_eq!(lines[4], "  request length 19 bytes, error at position 3:");
        assert_eq!(lines[5], " ");
        assert_eq!(lines[6], "  00000  GET\\x01 / HTTP/1.0\\r\\n");
        assert_eq!(lines[7], "  00017  \\r\\n");
        assert_eq!(lines[8], " ");
        assert!(
            lines[9].ends_with("] backend app (#2) : invalid response"),
            "{}",
            lines[9]
        );
        assert_eq!(
            lines[10],
            "  src 127.0.0.1, session #6, frontend fe (#1), server s1 (#1)"
        );
        assert_eq!(
            lines[11],
            "  HTTP internal state 26, buffer flags 0x00000002, event #1"
        );
        assert_eq!(lines[12], "  response length 8 bytes, error at position 0:");
        assert_eq!(lines[13], " ");
        assert_eq!(lines[14], "  00000  garbage\\n");
        assert_eq!(lines.len(), 15);
        // Filter by id: the backend's own id, or the other side's.
        let mut out = String::new();
        show_errors(&rt, 2, &mut out);
        assert!(!out.contains("invalid request") && out.contains("invalid response"));
        let mut out = String::new();
        show_errors(&rt, 1, &mut out);
        assert!(out.contains("invalid request") && out.contains("invalid response"));
        let mut out = String::new();
        show_errors(&rt, 9, &mut out);
        assert_eq!(out.lines().count(), 1);
        // `clear counters all` keeps the captures, as 1.4.
        crate::stats::socket::clear_counters(&rt, true);
        let mut out = String::new();
        show_errors(&rt, -1, &mut out);
        assert_eq!(out.matches("invalid re").count(), 2);
    }
}
