//! `option httpchk`: the request bytes, the optional `X-Haproxy-Server-State` header, and
//! the reading of the response, with `http-check expect` and `http-check disable-on-404`.
//!
//! Keywords: `option httpchk [<method>] [<uri>] [<version>]`, `http-check disable-on-404`,
//! `http-check send-state`, `http-check expect [!] status|rstatus|string|rstring <pattern>`.
//!
//! Compare with 1.4 `src/cfgparse.c` (`httpchk` request building), `src/checks.c`
//! (`httpchk_build_status_header`, `event_srv_chk_w`, `event_srv_chk_r`, `httpchk_expect`).
//!
//! The response is judged as 1.4 does, on the bytes received so far, each time more arrive:
//! a decision needs at least `HTTP/1.x NNN` plus one byte; `expect string|rstring` may wait
//! for more body until the server closes or `tune.chksize` is reached. Everything is treated
//! as a C string (a NUL byte ends it), as 1.4's buffer is.

use super::state::{cstr, health_state, scaled_eweight, ServerId, WEIGHT_SCALE};
use super::tcp::Reply;
use crate::log::CheckStatus;
use crate::runtime::{Runtime, Server};
use parser::ir::{HttpExpect, HttpExpectKind};
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

/// Length of the shortest judgeable response, `HTTP/1.0 000\r`.
const MIN_STATUS_LINE: usize = 13;

/// The first line of the check request, `<method> <uri> <version>\r\n`, as 1.4 builds it from
/// `option httpchk` (`OPTIONS / HTTP/1.0` by default). The version may embed header lines
/// (`HTTP/1.1\r\nHost:\ www`), already unescaped by the parser.
pub fn request_line(method: &str, uri: &str, version: &str) -> Vec<u8> {
    let or = |v: &'static str, s: &str| {
        if s.is_empty() {
            v.to_string()
        } else {
            s.to_string()
        }
    };
    format!(
        "{} {} {}\r\n",
        or("OPTIONS", method),
        or("/", uri),
        or("HTTP/1.0", version)
    )
    .into_bytes()
}

/// The full request sent on the wire: the request line, the send-state header when given,
/// and the empty line ending the headers.
pub fn request_bytes(line: &[u8], send_state: Option<&str>) -> Vec<u8> {
    let mut v = Vec::with_capacity(line.len() + send_state.map_or(0, str::len) + 2);
    v.extend_from_slice(line);
    if let Some(h) = send_state {
        v.extend_from_slice(h.as_bytes());
    }
    v.extend_from_slice(b"\r\n");
    v
}

/// `X-Haproxy-Server-State: <state>; name=<be>/<srv>; node=<node>; weight=<w>/<total>;
/// scur=<cur>/<be cur>; qcur=<queued>[; throttle=<p>%]\r\n` (1.4
/// `httpchk_build_status_header`), for `http-check send-state`.
pub fn send_state_header(rt: &Runtime, id: ServerId, now: Instant) -> String {
    let Some(px) = rt.proxies.get(id.proxy) else {
        return String::new();
    };
    let Some(s) = px.servers.get(id.server) else {
        return String::new();
    };
    let mut h = String::with_capacity(160);
    // The weights the balancer is using (lower during slowstart), in user units.
    let weight = px
        .lb
        .stats_weight(id.server)
        .unwrap_or_else(|| scaled_eweight(s, now).div_ceil(WEIGHT_SCALE));
    let be_cur = px
        .beconn
        .load(Relaxed)
        .saturating_sub(px.nbpend.load(Relaxed));
    let _ = write!(
        h,
        "X-Haproxy-Server-State: {}; name={}/{}; node={}; weight={}/{}; scur={}/{}; qcur={}",
        health_state(s).csv_text(),
        px.name(),
        s.cfg.name,
        rt.global.node,
        weight,
        px.lb.backend_stats_weight(),
        s.cur_sess.load(Relaxed),
        be_cur,
        s.nbpend.load(Relaxed)
    );
    if let Some(p) = send_state_throttle(s, now) {
        let _ = write!(h, "; throttle={p}%");
    }
    h.push_str("\r\n");
    h
}

/// The `throttle` part: elapsed share of the slowstart period, at least 1%.
fn send_state_throttle(s: &Server, now: Instant) -> Option<u32> {
    let elapsed = s.check.warmup_elapsed(now)?;
    let ss = s.check.slowstart().as_millis().max(1);
    Some(((100 * elapsed.as_millis() / ss) as u32).max(1))
}

/// What the response is judged against.
#[derive(Clone, Copy, Debug)]
pub struct HttpRules<'a> {
    /// `http-check disable-on-404` and the server is UP: a 404 means "stop load balancing".
    pub disable_on_404_up: bool,
    pub expect: Option<&'a HttpExpect>,
}

/// Up to the first CR or LF (1.4 `cut_crlf`), after the C-string cut.
fn cut_crlf(s: &[u8]) -> &[u8] {
    let s = cstr(s);
    match s.iter().position(|&b| b == b'\r' || b == b'\n') {
        Some(n) => &s[..n],
        None => s,
    }
}

fn reply(status: CheckStatus, code: i32, info: &[u8]) -> Reply {
    Reply::new(status, code, info)
}

/// Judges the response bytes received so far. `done` = the server closed, the read failed
/// after some data, or `tune.chksize` is reached. Returns `None` when more data is needed.
pub fn evaluate(data: &[u8], done: bool, rules: &HttpRules<'_>) -> Option<Reply> {
    if !done && data.len() < MIN_STATUS_LINE {
        return None;
    }
    let well_formed = data.len() >= MIN_STATUS_LINE
        && data.starts_with(b"HTTP/1.")
        && matches!(data[12], b' ' | b'\r')
        && data[9..12].iter().all(u8::is_ascii_digit);
    if !well_formed {
        return Some(reply(CheckStatus::L7Rsp, 0, cut_crlf(data)));
    }
    let code = data[9..12]
        .iter()
        .fold(0i32, |acc, d| acc * 10 + i32::from(d - b'0'));
    let after = &data[12..];
    let desc = &after[after.iter().take_while(|&&b| b == b' ').count()..];
    let desc = cut_crlf(desc);
    if rules.disable_on_404_up && code == 404 {
        return Some(reply(CheckStatus::L7OkC, code, desc));
    }
    if let Some(exp) = rules.expect {
        return expect(data, code, done, exp);
    }
    let status = if matches!(data[9], b'2' | b'3') {
        CheckStatus::L7Ok
    } else {
        CheckStatus::L7Sts
    };
    Some(reply(status, code, desc))
}

/// `http-check expect` (1.4 `httpchk_expect`); the caller ensured a valid status line.
fn expect(data: &[u8], code: i32, done: bool, exp: &HttpExpect) -> Option<Reply> {
    let code3 = &data[9..12];
    match &exp.kind {
        HttpExpectKind::Status(_) | HttpExpectKind::RStatus(_) => {
            let matched = match &exp.kind {
                // 1.4 compares the first three characters only (`strncmp(.., 3)`).
                HttpExpectKind::Status(s) => s.as_bytes().get(..3) == Some(code3),
                HttpExpectKind::RStatus(re) => re.is_match(code3),
                _ => false,
            };
            let ok = matched != exp.negate;
            let mut info = b"HTTP status check returned code <".to_vec();
            info.extend_from_slice(code3);
            info.push(b'>');
            let status = if ok {
                CheckStatus::L7Ok
            } else {
                CheckStatus::L7Sts
            };
            Some(reply(status, code, &info))
        }
        HttpExpectKind::String(_) | HttpExpectKind::RString(_) => {
            let text = cstr(data);
            // Skip the headers: CRs are ignored, two consecutive LFs end them.
            let mut lfs = 0;
            let mut body_at = None;
            for (i, &b) in text.iter().enumerate() {
                if lfs >= 2 {
                    body_at = Some(i);
                    break;
                }
                match b {
                    b'\r' => {}
                    b'\n' => lfs += 1,
                    _ => lfs = 0,
                }
            }
            if body_at.is_none() && lfs >= 2 {
                body_at = Some(text.len());
            }
            let Some(at) = body_at else {
                return done.then(|| {
                    reply(
                        CheckStatus::L7Rsp,
                        code,
                        b"HTTP content check could not find a response body",
                    )
                });
            };
            let body = &text[at..];
            if body.is_empty() {
                return done.then(|| {
                    reply(
                        CheckStatus::L7Rsp,
                        code,
                        b"HTTP content check found empty response body",
                    )
                });
            }
            let matched = match &exp.kind {
                HttpExpectKind::String(s) => {
                    s.is_empty() || body.windows(s.len()).any(|w| w == s.as_slice())
                }
                HttpExpectKind::RString(re) => re.is_match(body),
                _ => false,
            };
            if !matched && !done {
                return None;
            }
            let (status, info): (CheckStatus, &[u8]) = match (matched, exp.negate) {
                (true, false) => (CheckStatus::L7Ok, b"HTTP content check matched"),
                (true, true) => (CheckStatus::L7Rsp, b"HTTP check matched unwanted content"),
                (false, true) => (
                    CheckStatus::L7Ok,
                    b"HTTP check did not match unwanted content",
                ),
                (false, false) => (CheckStatus::L7Rsp, b"HTTP content check did not match"),
            };
            Some(reply(status, code, info))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::test_support::*;
    use parser::ir::CheckKind;
    use regex::bytes::Regex;
    use std::time::Duration;

    const NONE: HttpRules<'static> = HttpRules {
        disable_on_404_up: false,
        expect: None,
    };

    fn judge(data: &[u8], done: bool, rules: &HttpRules) -> Option<(CheckStatus, i32, String)> {
        evaluate(data, done, rules).map(|r| {
            (
                r.status,
                r.code,
                String::from_utf8_lossy(&r.info).into_owned(),
            )
        })
    }

    #[test]
    fn request_bytes_as_1_4() {
        assert_eq!(
            request_bytes(&request_line("OPTIONS", "/", "HTTP/1.0"), None),
            b"OPTIONS / HTTP/1.0\r\n\r\n"
        );
        assert_eq!(
            request_bytes(&request_line("", "", ""), None),
            b"OPTIONS / HTTP/1.0\r\n\r\n"
        );
        assert_eq!(
            request_bytes(&request_line("OPTIONS", "/check.php", "HTTP/1.0"), None),
            b"OPTIONS /check.php HTTP/1.0\r\n\r\n"
        );
        // Embedded headers in the version argument.
        assert_eq!(
            request_bytes(
                &request_line("GET", "/health", "HTTP/1.1\r\nHost: www.example.com"),
                Some("X-Haproxy-Server-State: UP; name=bk/s1; node=n; weight=1/2; scur=0/0; qcur=0\r\n")
            ),
            b"GET /health HTTP/1.1\r\nHost: www.example.com\r\n\
              X-Haproxy-Server-State: UP; name=bk/s1; node=n; weight=1/2; scur=0/0; qcur=0\r\n\r\n"
        );
    }

    #[test]
    fn send_state_header_text() {
        let mut a = server("s1", 2, 3);
        a.weight = 3;
        let mut b = server("s2", 2, 3);
        b.weight = 5;
        let mut bk = backend("bk", vec![a, b]);
        bk.check = sp(CheckKind::Http {
            method: "GET".into(),
            uri: "/".into(),
            version: "HTTP/1.0".into(),
        });
        let rt = runtime(vec![bk]);
        let now = Instant::now();
        let s1 = sid(0, 0);
        srv(&rt, s1).cur_sess.store(2, Relaxed);
        srv(&rt, s1).nbpend.store(1, Relaxed);
        rt.proxies[0].beconn.store(7, Relaxed);
        rt.proxies[0].nbpend.store(1, Relaxed);
        assert_eq!(
            send_state_header(&rt, s1, now),
            "X-Haproxy-Server-State: UP 1/3; name=bk/s1; node=node1; weight=3/8; scur=2/6; qcur=1\r\n"
        );
        let ok = crate::check::CheckOutcome::new(CheckStatus::L7Ok, 200, b"OK", 1);
        crate::check::apply_check_result(&rt, s1, &ok);
        crate::check::apply_check_result(
            &rt,
            sid(0, 1),
            &crate::check::CheckOutcome::new(CheckStatus::L4Con, 0, b"", 1),
        );
        assert!(send_state_header(&rt, s1, now)
            .starts_with("X-Haproxy-Server-State: UP; name=bk/s1; node=node1; weight=3/3;"));
        assert!(send_state_header(&rt, sid(0, 1), now)
            .starts_with("X-Haproxy-Server-State: DOWN; name=bk/s2; node=node1; weight=5/3;"));
        crate::check::apply_check_result(&rt, sid(0, 1), &ok);
        assert!(send_state_header(&rt, sid(0, 1), now)
            .starts_with("X-Haproxy-Server-State: DOWN 1/2; name=bk/s2;"));
    }

    #[test]
    fn send_state_throttle_during_slowstart() {
        let mut a = server("s1", 1, 1);
        a.slowstart = 10_000;
        a.weight = 16;
        let rt = runtime(vec![backend("bk", vec![a])]);
        let id = sid(0, 0);
        let fail = crate::check::CheckOutcome::new(CheckStatus::L4Con, 0, b"", 1);
        let ok = crate::check::CheckOutcome::new(CheckStatus::L4Ok, 0, b"", 1);
        crate::check::apply_check_result(&rt, id, &fail);
        crate::check::apply_check_result(&rt, id, &ok);
        let now = Instant::now();
        // The balancer got the first step at the UP transition (the ramp task moves it on).
        let h = send_state_header(&rt, id, now + Duration::from_millis(5_000));
        assert!(h.contains("; weight=1/1;"), "{h}");
        assert!(
            h.ends_with("; throttle=50%\r\n") || h.ends_with("; throttle=51%\r\n"),
            "{h}"
        );
        let h = send_state_header(&rt, id, now);
        assert!(h.ends_with("; throttle=1%\r\n"), "{h}");
        assert!(h.contains("; weight=1/1;"), "{h}");
        let h = send_state_header(&rt, id, now + Duration::from_secs(11));
        assert!(h.ends_with("; qcur=0\r\n"), "{h}");
        rt.proxies[0].lb.set_slowstart_step(0, Some(8));
        let h = send_state_header(&rt, id, now);
        assert!(h.contains("; weight=8/8;"), "{h}");
    }

    #[test]
    fn status_line_rules() {
        assert_eq!(judge(b"HTTP/1.0 200", false, &NONE), None);
        assert_eq!(
            judge(b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\n", false, &NONE),
            Some((CheckStatus::L7Ok, 200, "OK".into()))
        );
        assert_eq!(
            judge(b"HTTP/1.1 302 Found\r\n", false, &NONE),
            Some((CheckStatus::L7Ok, 302, "Found".into()))
        );
        assert_eq!(
            judge(b"HTTP/1.1 500 Internal Server Error\r\n\r\n", false, &NONE),
            Some((CheckStatus::L7Sts, 500, "Internal Server Error".into()))
        );
        assert_eq!(
            judge(b"HTTP/1.1 404 Not Found\r\n", false, &NONE),
            Some((CheckStatus::L7Sts, 404, "Not Found".into()))
        );
        // No reason phrase: CR right after the code.
        assert_eq!(
            judge(b"HTTP/1.0 204\r\n\r\n", false, &NONE),
            Some((CheckStatus::L7Ok, 204, "".into()))
        );
        // Garbage: the first line is the info.
        assert_eq!(
            judge(b"SSH-2.0-OpenSSH_5.3\r\nmore", false, &NONE),
            Some((CheckStatus::L7Rsp, 0, "SSH-2.0-OpenSSH_5.3".into()))
        );
        assert_eq!(
            judge(b"HTTP/1.0 2x0 OK\r\n", false, &NONE),
            Some((CheckStatus::L7Rsp, 0, "HTTP/1.0 2x0 OK".into()))
        );
        // Too short but closed.
        assert_eq!(
            judge(b"HTTP/1.0", true, &NONE),
            Some((CheckStatus::L7Rsp, 0, "HTTP/1.0".into()))
        );
        assert_eq!(
            judge(b"", true, &NONE),
            Some((CheckStatus::L7Rsp, 0, "".into()))
        );
        // disable-on-404 only while UP.
        let up = HttpRules {
            disable_on_404_up: true,
            expect: None,
        };
        assert_eq!(
            judge(b"HTTP/1.0 404 Not Found\r\n", false, &up),
            Some((CheckStatus::L7OkC, 404, "Not Found".into()))
        );
        assert_eq!(
            judge(b"HTTP/1.0 200 OK\r\n", false, &up),
            Some((CheckStatus::L7Ok, 200, "OK".into()))
        );
    }

    fn exp(negate: bool, kind: HttpExpectKind) -> HttpExpect {
        HttpExpect { negate, kind }
    }

    #[test]
    fn expect_status_and_rstatus() {
        let e = exp(false, HttpExpectKind::Status("200".into()));
        let r = HttpRules {
            disable_on_404_up: false,
            expect: Some(&e),
        };
        assert_eq!(
            judge(b"HTTP/1.0 200 OK\r\n", false, &r),
            Some((
                CheckStatus::L7Ok,
                200,
                "HTTP status check returned code <200>".into()
            ))
        );
        assert_eq!(
            judge(b"HTTP/1.0 201 Created\r\n", false, &r).map(|x| x.0),
            Some(CheckStatus::L7Sts)
        );
        let e = exp(true, HttpExpectKind::Status("503".into()));
        let r = HttpRules {
            disable_on_404_up: false,
            expect: Some(&e),
        };
        assert_eq!(
            judge(b"HTTP/1.0 503 Unavailable\r\n", false, &r).map(|x| x.0),
            Some(CheckStatus::L7Sts)
        );
        assert_eq!(
            judge(b"HTTP/1.0 500 Error\r\n", false, &r).map(|x| x.0),
            Some(CheckStatus::L7Ok)
        );
        let e = exp(
            false,
            HttpExpectKind::RStatus(Regex::new("^2[0-9][0-9]$").unwrap()),
        );
        let r = HttpRules {
            disable_on_404_up: false,
            expect: Some(&e),
        };
        assert_eq!(
            judge(b"HTTP/1.1 206 Partial\r\n", false, &r).map(|x| x.0),
            Some(CheckStatus::L7Ok)
        );
        assert_eq!(
            judge(b"HTTP/1.1 301 Moved\r\n", false, &r).map(|x| x.0),
            Some(CheckStatus::L7Sts)
        );
    }

    #[test]
    fn expect_string_and_rstring() {
        let e = exp(false, HttpExpectKind::String(b"ALIVE".to_vec()));
        let r = HttpRules {
            disable_on_404_up: false,
            expect: Some(&e),
        };
        let head = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n";
        // Headers only so far: wait.
        assert_eq!(judge(head, false, &r), None);
        assert_eq!(
            judge(head, true, &r),
            Some((
                CheckStatus::L7Rsp,
                200,
                "HTTP content check found empty response body".into()
            ))
        );
        assert_eq!(
            judge(b"HTTP/1.0 200 OK\r\nX: y\r\n", true, &r),
            Some((
                CheckStatus::L7Rsp,
                200,
                "HTTP content check could not find a response body".into()
            ))
        );
        let mut full = head.to_vec();
        full.extend_from_slice(b"status: ALIVE\n");
        assert_eq!(
            judge(&full, false, &r),
            Some((CheckStatus::L7Ok, 200, "HTTP content check matched".into()))
        );
        // Not matched yet: wait for more unless done.
        let mut partial = head.to_vec();
        partial.extend_from_slice(b"status: ALI");
        assert_eq!(judge(&partial, false, &r), None);
        assert_eq!(
            judge(&partial, true, &r),
            Some((
                CheckStatus::L7Rsp,
                200,
                "HTTP content check did not match".into()
            ))
        );
        // Bare LFs separate the body too; a 500 with the string still passes (the expect
        // rule replaces the status rule).
        assert_eq!(
            judge(b"HTTP/1.0 500 Oops\n\nALIVE", false, &r).map(|x| x.0),
            Some(CheckStatus::L7Ok)
        );
        let e = exp(true, HttpExpectKind::String(b"maintenance".to_vec()));
        let r = HttpRules {
            disable_on_404_up: false,
            expect: Some(&e),
        };
        let mut m = head.to_vec();
        m.extend_from_slice(b"in maintenance");
        assert_eq!(
            judge(&m, false, &r),
            Some((
                CheckStatus::L7Rsp,
                200,
                "HTTP check matched unwanted content".into()
            ))
        );
        let mut ok = head.to_vec();
        ok.extend_from_slice(b"all good");
        assert_eq!(judge(&ok, false, &r), None);
        assert_eq!(
            judge(&ok, true, &r),
            Some((
                CheckStatus::L7Ok,
                200,
                "HTTP check did not match unwanted content".into()
            ))
        );
        let e = exp(
            false,
            HttpExpectKind::RString(Regex::new("v[0-9]+\\.ok").unwrap()),
        );
        let r = HttpRules {
            disable_on_404_up: false,
            expect: Some(&e),
        };
        let mut b = head.to_vec();
        b.extend_from_slice(b"build v12.ok");
        assert_eq!(judge(&b, false, &r).map(|x| x.0), Some(CheckStatus::L7Ok));
        // A NUL in the body ends it, as in 1.4's C string.
        let mut z = head.to_vec();
        z.extend_from_slice(b"x\0v1.ok");
        assert_eq!(judge(&z, true, &r).map(|x| x.0), Some(CheckStatus::L7Rsp));
    }

    /// Every prefix of a response gives either "wait" or the verdict of the whole.
    #[test]
    fn byte_by_byte_never_decides_differently() {
        let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nALIVE";
        let e = exp(false, HttpExpectKind::String(b"ALIVE".to_vec()));
        for rules in [
            NONE,
            HttpRules {
                disable_on_404_up: false,
                expect: Some(&e),
            },
        ] {
            let whole = judge(resp, true, &rules).map(|x| x.0);
            for n in 0..resp.len() {
                if let Some(v) = judge(&resp[..n], false, &rules) {
                    assert_eq!(Some(v.0), whole, "prefix {n}");
                    break;
                }
            }
        }
    }
}
