//! Traffic log lines: `option httplog`, `option httplog clf`, `option tcplog`, and the
//! `Connect from` line of proxies without either. The stream fills a [`TxnLog`] of borrowed
//! slices; the writers append one line (without `\n`) to a caller's buffer, usually the one
//! [`super::syslog::Logger::send_with`] lends.
//!
//! Compare with 1.4 `src/proto_http.c` (`http_sess_log`, `http_sess_clflog`, the
//! `hdr_encode_map`/`url_encode_map` set up in `init_proto_http`), `src/log.c`
//! (`tcp_sess_log`), `src/client.c` (`Connect from`) and `src/standard.c` (`encode_string`).
//!
//! Limits reproduced byte for byte: the request line is kept to 1023 bytes (1.4 `REQURI_LEN`);
//! the tail of an httplog line (header captures and quoted request) and the whole CLF line are
//! built in a 1024-byte scratch line with 1.4's per-field margins, then the syslog packet cuts
//! whatever still exceeds 1024 bytes. Escaping writes `#` and two upper-case hex digits for
//! bytes below 32, from 127 up, `"` and `#`, plus `{`, `|` and `}` in header captures; a
//! space is never escaped. Captured cookies are written raw, as 1.4 does.

use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;

use super::clock::{push_accept_date, push_clf_date, split_time};
use super::fmt::{cstr, push_i64, push_padded, push_u64};
use super::term::{TermState, Termination};

/// Size of 1.4's scratch line (`tmpline[MAX_SYSLOG_LEN]`).
const TMPLINE: usize = 1024;

/// 1.4 `REQURI_LEN` - 1: longest request line kept for the log.
pub const MAX_REQUEST_LINE: usize = 1023;

/// What the line says in place of the server name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerField<'a> {
    /// The server that handled (or was last tried for) the request.
    Named(&'a str),
    /// `<NOSRV>`: no server was assigned (denied, redirected, no server available, ...).
    NoServer,
    /// `<STATS>`: the stats page answered.
    Stats,
}

impl ServerField<'_> {
    fn as_bytes(&self) -> &[u8] {
        match self {
            ServerField::Named(s) => s.as_bytes(),
            ServerField::NoServer => b"<NOSRV>",
            ServerField::Stats => b"<STATS>",
        }
    }
}

/// Event times of a stream in ms since accept, −1 when the event did not happen (1.4
/// `s->logs.t_*` and `tv_request`). The log fields are differences of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// Full request headers received (−1: never).
    pub request: i64,
    /// Left the queues, a server slot was obtained (−1: never).
    pub queue: i64,
    /// Connection to the server established (−1: never).
    pub connect: i64,
    /// Complete response headers received from the server (−1: never).
    pub data: i64,
    /// Total time: at the end of the stream, or at log time under `option logasap`.
    pub close: i64,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            request: -1,
            queue: -1,
            connect: -1,
            data: -1,
            close: 0,
        }
    }
}

impl Timers {
    /// Tq: accept to full request headers.
    pub fn tq(&self) -> i64 {
        self.request
    }

    /// Tw (httplog): time spent in queues, −1 if the request never left them.
    pub fn tw(&self) -> i64 {
        if self.queue >= 0 {
            self.queue - self.request
        } else {
            -1
        }
    }

    /// Tw (tcplog): accept to leaving the queues, as 1.4 `tcp_sess_log` computes it.
    pub fn tw_tcp(&self) -> i64 {
        if self.queue >= 0 {
            self.queue
        } else {
            -1
        }
    }

    /// Tc: connection setup time, −1 if never connected.
    pub fn tc(&self) -> i64 {
        if self.connect >= 0 {
            self.connect - self.queue
        } else {
            -1
        }
    }

    /// Tr: server response time, −1 if no complete response headers.
    pub fn tr(&self) -> i64 {
        if self.data >= 0 {
            self.data - self.connect
        } else {
            -1
        }
    }

    /// Tt: total time.
    pub fn tt(&self) -> i64 {
        self.close
    }
}

/// Everything one traffic log line shows. Borrowed so filling it costs nothing.
#[derive(Clone, Copy, Debug)]
pub struct TxnLog<'a> {
    /// Client address and port.
    pub client: SocketAddr,
    /// When the connection (or, in keep-alive, the request) was accepted.
    pub accept_date: SystemTime,
    pub frontend: &'a str,
    /// The backend, the frontend itself when none was selected.
    pub backend: &'a str,
    pub server: ServerField<'a>,
    pub timers: Timers,
    /// `option logasap`: Tt and bytes are partial and get a `+` prefix.
    pub logasap: bool,
    /// HTTP status sent to the client (−1: none).
    pub status: i32,
    /// Bytes sent to the client, headers included.
    pub bytes_out: u64,
    /// `capture cookie` in the request (`-` when `None`).
    pub captured_request_cookie: Option<&'a [u8]>,
    /// `capture cookie` in the response (`-` when `None`).
    pub captured_response_cookie: Option<&'a [u8]>,
    pub term: TermState,
    /// The backend has `cookie` configured; otherwise both cookie flags print `-`.
    pub cookie_configured: bool,
    /// Process-wide active connections.
    pub actconn: u32,
    /// Frontend's concurrent connections.
    pub feconn: u32,
    /// Backend's concurrent connections.
    pub beconn: u32,
    /// Server's concurrent connections (0 without a server).
    pub srv_conn: u32,
    /// Connection retries performed (1.4 prints `be->conn_retries` when all were used).
    pub retries: u32,
    /// The stream was redispatched to another server: `+` before the retries.
    pub redispatched: bool,
    /// Requests ahead of this one in the server's queue when it was queued.
    pub srv_queue: u32,
    /// Requests ahead of this one in the backend's queue when it was queued.
    pub backend_queue: u32,
    /// `capture request header` values in declaration order; `Some` only when the frontend
    /// declares captures, each `None` when that header was absent.
    pub request_captures: Option<&'a [Option<&'a [u8]>]>,
    /// `capture response header` values, as `request_captures`.
    pub response_captures: Option<&'a [Option<&'a [u8]>]>,
    /// The request line without CRLF; `None` prints `<BADREQ>`.
    pub request_line: Option<&'a [u8]>,
}

impl<'a> TxnLog<'a> {
    /// A record with nothing reached yet: timers −1, status −1, no server, no captures.
    pub fn new(
        client: SocketAddr,
        accept_date: SystemTime,
        frontend: &'a str,
        backend: &'a str,
    ) -> Self {
        TxnLog {
            client,
            accept_date,
            frontend,
            backend,
            server: ServerField::NoServer,
            timers: Timers::default(),
            logasap: false,
            status: -1,
            bytes_out: 0,
            captured_request_cookie: None,
            captured_response_cookie: None,
            term: TermState::default(),
            cookie_configured: false,
            actconn: 0,
            feconn: 0,
            beconn: 0,
            srv_conn: 0,
            retries: 0,
            redispatched: false,
            srv_queue: 0,
            backend_queue: 0,
            request_captures: None,
            response_captures: None,
            request_line: None,
        }
    }
}

/// Escape tables indexed by byte: 1.4 `url_encode_map` (request line: controls, DEL and
/// above, `"`, `#`) and `hdr_encode_map` (the same plus `{`, `|`, `}`).
const URL_ESCAPED: [bool; 256] = escape_table(b"\"#");
const HDR_ESCAPED: [bool; 256] = escape_table(b"\"#{|}");

const fn escape_table(extra: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i < 32 || i >= 127;
        i += 1;
    }
    let mut j = 0;
    while j < extra.len() {
        t[extra[j] as usize] = true;
        j += 1;
    }
    t
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `s` escaped as 1.4 `encode_string(start, stop, '#', map, s)` does with `start` =
/// the end of `out` and `stop` = absolute index `stop` in `out`: one byte is reserved for the
/// C terminator, and an escape needs room for its 3 bytes plus one spare. Runs of plain
/// bytes are copied at once.
fn encode(out: &mut Vec<u8>, stop: usize, escaped: &[bool; 256], s: &[u8]) {
    if out.len() >= stop {
        return;
    }
    let stop = stop - 1;
    let s = cstr(s);
    let mut i = 0;
    while i < s.len() {
        let room = stop.saturating_sub(out.len());
        let run_end = s[i..]
            .iter()
            .position(|&b| escaped[usize::from(b)])
            .map_or(s.len(), |p| i + p);
        let n = (run_end - i).min(room);
        out.extend_from_slice(&s[i..i + n]);
        i += n;
        if i < run_end || i == s.len() || out.len() + 3 >= stop {
            break;
        }
        let b = s[i];
        out.extend_from_slice(&[b'#', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        i += 1;
    }
}

/// Appends an address as glibc `inet_ntop` prints it.
fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => push_ipv4(out, v4.octets()),
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            // inet_ntop writes the deprecated IPv4-compatible form `::a.b.c.d`; Rust's
            // Display does not (both agree on the mapped form `::ffff:a.b.c.d`).
            if seg[..6].iter().all(|&s| s == 0) && seg[6] != 0 {
                out.extend_from_slice(b"::");
                let o = v6.octets();
                push_ipv4(out, [o[12], o[13], o[14], o[15]]);
            } else {
                use std::io::Write as _;
                // Writing to a Vec cannot fail.
                let _ = write!(out, "{v6}");
            }
        }
    }
}

fn push_ipv4(out: &mut Vec<u8>, o: [u8; 4]) {
    for (i, b) in o.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        push_u64(out, u64::from(*b));
    }
}

/// `ip:port [accept date] frontend backend/server`, common to httplog and tcplog.
fn push_head(out: &mut Vec<u8>, t: &TxnLog) {
    push_ip(out, t.client.ip());
    out.push(b':');
    push_u64(out, u64::from(t.client.port()));
    out.extend_from_slice(b" [");
    push_accept_date(out, t.accept_date);
    out.extend_from_slice(b"] ");
    out.extend_from_slice(t.frontend.as_bytes());
    out.push(b' ');
    out.extend_from_slice(t.backend.as_bytes());
    out.push(b'/');
    out.extend_from_slice(t.server.as_bytes());
}

/// ` actconn/feconn/beconn/srv_conn/[+]retries srv_queue/backend_queue`.
fn push_conns_queues(out: &mut Vec<u8>, t: &TxnLog) {
    out.push(b' ');
    for v in [t.actconn, t.feconn, t.beconn, t.srv_conn] {
        push_u64(out, u64::from(v));
        out.push(b'/');
    }
    if t.redispatched {
        out.push(b'+');
    }
    push_u64(out, u64::from(t.retries));
    out.push(b' ');
    push_u64(out, u64::from(t.srv_queue));
    out.push(b'/');
    push_u64(out, u64::from(t.backend_queue));
}

fn plus_if(out: &mut Vec<u8>, logasap: bool) {
    if logasap {
        out.push(b'+');
    }
}

fn configured<'a>(caps: Option<&'a [Option<&'a [u8]>]>) -> Option<&'a [Option<&'a [u8]>]> {
    caps.filter(|c| !c.is_empty())
}

fn request_line<'a>(t: &TxnLog<'a>) -> &'a [u8] {
    match t.request_line {
        Some(l) => {
            let l = cstr(l);
            &l[..l.len().min(MAX_REQUEST_LINE)]
        }
        None => b"<BADREQ>",
    }
}

/// Appends the `option httplog` line:
/// `ip:port [date] fe be/srv Tq/Tw/Tc/Tr/[+]Tt status [+]bytes reqcookie rescookie TTCC
/// act/fe/be/srv/[+]retries sq/bq[ {reqcaps}][ {rescaps}] "request line"`.
pub fn write_httplog(t: &TxnLog, out: &mut Vec<u8>) {
    push_head(out, t);
    out.push(b' ');
    let tm = &t.timers;
    for v in [tm.tq(), tm.tw(), tm.tc(), tm.tr()] {
        push_i64(out, v);
        out.push(b'/');
    }
    plus_if(out, t.logasap);
    push_i64(out, tm.tt());
    out.push(b' ');
    push_i64(out, i64::from(t.status));
    out.push(b' ');
    plus_if(out, t.logasap);
    push_u64(out, t.bytes_out);
    for c in [t.captured_request_cookie, t.captured_response_cookie] {
        out.push(b' ');
        match c {
            Some(c) => out.extend_from_slice(cstr(c)),
            None => out.push(b'-'),
        }
    }
    out.push(b' ');
    out.extend_from_slice(&t.term.chars(t.cookie_configured));
    push_conns_queues(out, t);

    // The tail lives in 1.4's 1024-byte scratch line, each part with its own margin.
    let base = out.len();
    if let Some(caps) = configured(t.request_captures) {
        if out.len() - base < TMPLINE - 10 {
            push_captures_braced(out, caps, base + TMPLINE - 7);
        }
    }
    if let Some(caps) = configured(t.response_captures) {
        if out.len() - base < TMPLINE - 7 {
            push_captures_braced(out, caps, base + TMPLINE - 4);
        }
    }
    if out.len() - base < TMPLINE - 4 {
        out.extend_from_slice(b" \"");
        encode(out, base + TMPLINE - 1, &URL_ESCAPED, request_line(t));
        out.push(b'"');
    }
}

/// ` {a|b|c}` with each value escaped up to `stop`.
fn push_captures_braced(out: &mut Vec<u8>, caps: &[Option<&[u8]>], stop: usize) {
    out.extend_from_slice(b" {");
    for (i, c) in caps.iter().enumerate() {
        if i > 0 {
            out.push(b'|');
        }
        if let Some(v) = c {
            encode(out, stop, &HDR_ESCAPED, v);
        }
    }
    out.push(b'}');
}

/// Appends the `option httplog clf` line:
/// `ip - - [dd/Mon/yyyy:HH:MM:SS +0000] "request" status bytes "-" "-" port ms "fe" "be"
/// "srv" Tq Tw Tc Tr Tt "TTCC" act fe be srv retries sq bq "reqcookie" "rescookie"[ "cap"...]`.
/// No `+` marks here. 1.4 stops at the first field that would overflow its 1024-byte line.
pub fn write_httplog_clf(t: &TxnLog, out: &mut Vec<u8>) {
    let base = out.len();
    // `None` means the line was cut, which is already reflected in `out`.
    let _ = clf_fields(t, out, base);
}

/// Keeps a just-written `snprintf` field only if it fit the scratch line with its NUL.
fn fits(out: &mut Vec<u8>, base: usize, mark: usize) -> Option<()> {
    if out.len() - base >= TMPLINE {
        out.truncate(mark);
        None
    } else {
        Some(())
    }
}

/// ` "value"` copied raw, if 1.4's margin allows.
fn quoted_raw(out: &mut Vec<u8>, base: usize, v: &[u8]) -> Option<()> {
    if out.len() - base + 4 + v.len() >= TMPLINE {
        return None;
    }
    out.extend_from_slice(b" \"");
    out.extend_from_slice(v);
    out.push(b'"');
    Some(())
}

fn clf_fields(t: &TxnLog, out: &mut Vec<u8>, base: usize) -> Option<()> {
    let mark = out.len();
    push_ip(out, t.client.ip());
    out.extend_from_slice(b" - - [");
    push_clf_date(out, t.accept_date);
    out.push(b']');
    fits(out, base, mark)?;

    if out.len() - base >= TMPLINE - 4 {
        return None;
    }
    out.extend_from_slice(b" \"");
    encode(out, base + TMPLINE - 1, &URL_ESCAPED, request_line(t));
    out.push(b'"');

    let mark = out.len();
    out.push(b' ');
    push_i64(out, i64::from(t.status));
    out.push(b' ');
    push_u64(out, t.bytes_out);
    fits(out, base, mark)?;

    if out.len() - base >= TMPLINE - 9 {
        return None;
    }
    out.extend_from_slice(b" \"-\" \"-\"");

    let mark = out.len();
    out.push(b' ');
    push_u64(out, u64::from(t.client.port()));
    out.push(b' ');
    push_padded(out, u64::from(split_time(t.accept_date).1), 3);
    fits(out, base, mark)?;

    quoted_raw(out, base, t.frontend.as_bytes())?;
    quoted_raw(out, base, t.backend.as_bytes())?;
    quoted_raw(out, base, t.server.as_bytes())?;

    let mark = out.len();
    let tm = &t.timers;
    for v in [tm.tq(), tm.tw(), tm.tc(), tm.tr(), tm.tt()] {
        out.push(b' ');
        push_i64(out, v);
    }
    fits(out, base, mark)?;

    if out.len() - base >= TMPLINE - 8 {
        return None;
    }
    out.extend_from_slice(b" \"");
    out.extend_from_slice(&t.term.chars(t.cookie_configured));
    out.push(b'"');

    let mark = out.len();
    for v in [
        t.actconn,
        t.feconn,
        t.beconn,
        t.srv_conn,
        t.retries,
        t.srv_queue,
        t.backend_queue,
    ] {
        out.push(b' ');
        push_u64(out, u64::from(v));
    }
    fits(out, base, mark)?;

    for c in [t.captured_request_cookie, t.captured_response_cookie] {
        match c {
            Some(c) => quoted_raw(out, base, cstr(c))?,
            None => {
                if out.len() - base >= TMPLINE - 5 {
                    return None;
                }
                out.extend_from_slice(b" \"-\"");
            }
        }
    }

    for caps in [
        configured(t.request_captures),
        configured(t.response_captures),
    ]
    .into_iter()
    .flatten()
    {
        for c in caps {
            if out.len() - base >= TMPLINE - 4 {
                return None;
            }
            match c {
                Some(v) => {
                    out.extend_from_slice(b" \"");
                    encode(out, base + TMPLINE - 2, &HDR_ESCAPED, v);
                    out.push(b'"');
                }
                None => out.extend_from_slice(b" \"-\""),
            }
        }
    }
    Some(())
}

/// Appends the `option tcplog` line:
/// `ip:port [date] fe be/srv Tw/Tc/[+]Tt [+]bytes TT act/fe/be/srv/[+]retries sq/bq`.
pub fn write_tcplog(t: &TxnLog, out: &mut Vec<u8>) {
    push_head(out, t);
    out.push(b' ');
    let tm = &t.timers;
    push_i64(out, tm.tw_tcp());
    out.push(b'/');
    push_i64(out, tm.tc());
    out.push(b'/');
    plus_if(out, t.logasap);
    push_i64(out, tm.tt());
    out.push(b' ');
    plus_if(out, t.logasap);
    push_u64(out, t.bytes_out);
    out.push(b' ');
    let term: Termination = t.term.term;
    out.extend_from_slice(&term.chars());
    push_conns_queues(out, t);
}

/// Appends `Connect from <client ip>:<port> to <local ip>:<port> (<proxy>/<HTTP|TCP>)`,
/// logged at accept (level info) by proxies that have `log` targets but neither
/// `option httplog` nor `option tcplog`.
pub fn write_connect_line(
    client: SocketAddr,
    local: SocketAddr,
    proxy: &str,
    http: bool,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"Connect from ");
    push_ip(out, client.ip());
    out.push(b':');
    push_u64(out, u64::from(client.port()));
    out.extend_from_slice(b" to ");
    push_ip(out, local.ip());
    out.push(b':');
    push_u64(out, u64::from(local.port()));
    out.extend_from_slice(b" (");
    out.extend_from_slice(proxy.as_bytes());
    out.extend_from_slice(if http { b"/HTTP)" } else { b"/TCP)" });
}

#[cfg(test)]
mod tests {
    use super::super::clock::test_support::local_instant;
    use super::super::term::{Cause, Phase, ReqCookie, ResCookie};
    use super::*;
    use std::net::Ipv6Addr;
    use std::time::{Duration, UNIX_EPOCH};

    fn line(f: fn(&TxnLog, &mut Vec<u8>), t: &TxnLog) -> String {
        let mut v = Vec::new();
        f(t, &mut v);
        String::from_utf8(v).expect("ascii")
    }

    /// The example of the 1.4 manual (§8.2.3).
    fn spec_example<'a>(
        reqcaps: &'a [Option<&'a [u8]>],
        rescaps: &'a [Option<&'a [u8]>],
    ) -> TxnLog<'a> {
        let mut t = TxnLog::new(
            "10.0.1.2:33317".parse().unwrap(),
            local_instant(2009, 2, 6, 12, 14, 14, 655),
            "http-in",
            "static",
        );
        t.server = ServerField::Named("srv1");
        t.timers = Timers {
            request: 10,
            queue: 10,
            connect: 40,
            data: 109,
            close: 109,
        };
        t.status = 200;
        t.bytes_out = 2750;
        t.actconn = 1;
        t.feconn = 1;
        t.beconn = 1;
        t.srv_conn = 1;
        t.request_captures = Some(reqcaps);
        t.response_captures = Some(rescaps);
        t.request_line = Some(b"GET /index.html HTTP/1.1");
        t
    }

    const EXAMPLE: &str =
        "10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 \
                           - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} \"GET /index.html HTTP/1.1\"";

    #[test]
    fn httplog_spec_example() {
        let req: [Option<&[u8]>; 1] = [Some(b"1wt.eu")];
        let res: [Option<&[u8]>; 1] = [None];
        assert_eq!(line(write_httplog, &spec_example(&req, &res)), EXAMPLE);
    }

    #[test]
    fn httplog_without_captures_and_badreq() {
        let mut t = spec_example(&[], &[]);
        t.request_captures = None;
        t.response_captures = None;
        t.request_line = None;
        let l = line(write_httplog, &t);
        assert!(l.ends_with("---- 1/1/1/1/0 0/0 \"<BADREQ>\""), "{l}");
    }

    #[test]
    fn httplog_nosrv_503() {
        let mut t = TxnLog::new(
            "192.168.1.10:51000".parse().unwrap(),
            local_instant(2014, 3, 27, 8, 0, 1, 2),
            "WEB_SITE",
            "WEB_SITE",
        );
        t.timers = Timers {
            request: 0,
            queue: -1,
            connect: -1,
            data: -1,
            close: 1,
        };
        t.status = 503;
        t.bytes_out = 212;
        t.term = TermState::new(
            Termination::new(Cause::ServerAbort, Phase::Connect),
            ReqCookie::None,
            ResCookie::None,
        );
        t.actconn = 3;
        t.feconn = 2;
        t.request_line = Some(b"GET / HTTP/1.0");
        assert_eq!(
            line(write_httplog, &t),
            "192.168.1.10:51000 [27/Mar/2014:08:00:01.002] WEB_SITE WEB_SITE/<NOSRV> 0/-1/-1/-1/1 503 212 \
             - - SC-- 3/2/0/0/0 0/0 \"GET / HTTP/1.0\""
        );
        t.cookie_configured = true;
        t.server = ServerField::Stats;
        t.status = 200;
        t.term = TermState::new(
            Termination::new(Cause::Proxy, Phase::Request),
            ReqCookie::None,
            ResCookie::None,
        );
        let l = line(write_httplog, &t);
        assert!(
            l.contains(" WEB_SITE/<STATS> ") && l.contains(" 200 212 - - PRNN "),
            "{l}"
        );
    }

    #[test]
    fn httplog_logasap_redispatch_cookies() {
        let mut t = spec_example(&[], &[]);
        t.request_captures = None;
        t.response_captures = None;
        t.logasap = true;
        t.redispatched = true;
        t.retries = 3;
        t.srv_queue = 2;
        t.backend_queue = 7;
        t.captured_request_cookie = Some(b"SERVERID=s1");
        t.captured_response_cookie = Some(b"SERVERID=s2; path=/");
        t.cookie_configured = true;
        t.term = TermState::new(Termination::NORMAL, ReqCookie::Valid, ResCookie::Inserted);
        assert_eq!(
            line(write_httplog, &t),
            "10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/+109 200 +2750 \
             SERVERID=s1 SERVERID=s2; path=/ --VI 1/1/1/1/+3 2/7 \"GET /index.html HTTP/1.1\""
        );
    }

    #[test]
    fn escaping_in_captures_and_request_line() {
        let req: [Option<&[u8]>; 3] = [Some(b"a b{c|d}e\"f#g"), None, Some(b"\x01\x7f\xe9")];
        let res: [Option<&[u8]>; 2] = [Some(b"text/html; charset=utf-8"), Some(b"x\0hidden")];
        let mut t = spec_example(&req, &res);
        t.request_line = Some(b"GET /a\"b#c{d}|e\x1f\xff HTTP/1.1");
        let l = line(write_httplog, &t);
        let tail = l.split_once(" 0/0 ").unwrap().1;
        assert_eq!(
            tail,
            "{a b#7Bc#7Cd#7De#22f#23g||#01#7F#E9} {text/html; charset=utf-8|x} \
             \"GET /a#22b#23c{d}|e#1F#FF HTTP/1.1\""
        );
    }

    #[test]
    fn long_request_line_is_cut_like_1_4() {
        // The request line is kept to 1023 bytes, then the quoted copy stops one byte
        // before the end of the 1024-byte scratch line: 1022 bytes of URI at most.
        let mut uri = b"GET /".to_vec();
        uri.resize(5000, b'x');
        let mut t = spec_example(&[], &[]);
        t.request_captures = None;
        t.response_captures = None;
        t.request_line = Some(&uri);
        let l = line(write_httplog, &t);
        let q = l.split_once(" \"").unwrap().1;
        // tail = ` "` (2) + up to 1024 - 1 - 1 - 2 = 1020 bytes + `"`.
        assert_eq!(q.len(), 1020 + 1);
        assert!(q.ends_with("xx\""));

        // An escape is not started when it would not fit with a spare byte.
        let mut uri = vec![b'a'; 1018];
        uri.push(b'"');
        t.request_line = Some(&uri);
        let l = line(write_httplog, &t);
        let q = l.split_once(" \"").unwrap().1;
        assert_eq!(q, format!("{}\"", "a".repeat(1018)));
        let mut uri = vec![b'a'; 1017];
        uri.push(b'"');
        t.request_line = Some(&uri);
        let l = line(write_httplog, &t);
        let q = l.split_once(" \"").unwrap().1;
        assert_eq!(q, format!("{}\"", "a".repeat(1017)));
        let mut uri = vec![b'a'; 1016];
        uri.push(b'"');
        t.request_line = Some(&uri);
        let l = line(write_httplog, &t);
        let q = l.split_once(" \"").unwrap().1;
        assert_eq!(q, format!("{}#22\"", "a".repeat(1016)));
    }

    #[test]
    fn huge_captures_squeeze_out_the_request_line() {
        let big = vec![b'h'; 2000];
        let req: [Option<&[u8]>; 1] = [Some(&big)];
        let res: [Option<&[u8]>; 1] = [Some(b"r")];
        let t = spec_example(&req, &res);
        let l = line(write_httplog, &t);
        let tail = l.split_once(" 0/0 ").unwrap().1;
        // Request captures stop at 1024-7-1 = 1016 bytes of scratch, i.e. ` {` + 1014 h,
        // then `}`; the response captures no longer fit their margin (1017 >= 1024-7), the
        // request line still starts (1017 < 1024-4) and gets 3 bytes before its limit.
        assert_eq!(tail, format!("{{{}}} \"GET\"", "h".repeat(1014)));
    }

    #[test]
    fn clf_line() {
        let req: [Option<&[u8]>; 2] = [Some(b"1wt.eu"), None];
        let res: [Option<&[u8]>; 1] = [Some(b"a\"b")];
        let mut t = spec_example(&req, &res);
        t.accept_date = UNIX_EPOCH + Duration::from_millis(1_234_567_890_042);
        t.logasap = true; // no `+` in CLF
        t.redispatched = true;
        t.retries = 1;
        t.captured_request_cookie = Some(b"SERVERID=s1");
        assert_eq!(
            line(write_httplog_clf, &t),
            "10.0.1.2 - - [13/Feb/2009:23:31:30 +0000] \"GET /index.html HTTP/1.1\" 200 2750 \"-\" \"-\" \
             33317 042 \"http-in\" \"static\" \"srv1\" 10 0 30 69 109 \"----\" 1 1 1 1 1 0 0 \
             \"SERVERID=s1\" \"-\" \"1wt.eu\" \"-\" \"a#22b\""
        );
    }

    #[test]
    fn clf_stops_at_first_overflowing_field() {
        // 95 bytes precede the frontend. With 900 bytes it fits (95+4+900 < 1024), so do the
        // backend and server names, but the timers (15 bytes) would reach 1029: the line
        // ends after the server name.
        let long_fe = "f".repeat(900);
        let mut t = spec_example(&[], &[]);
        t.request_captures = None;
        t.response_captures = None;
        t.accept_date = UNIX_EPOCH + Duration::from_millis(1_234_567_890_042);
        t.frontend = &long_fe;
        let l = line(write_httplog_clf, &t);
        assert!(
            l.ends_with(&format!("\"{long_fe}\" \"static\" \"srv1\"")),
            "{}",
            &l[l.len() - 20..]
        );
        assert_eq!(l.len(), 1014);
        // With 1000 bytes the quoted frontend itself does not fit.
        let long_fe = "f".repeat(1000);
        let mut t = spec_example(&[], &[]);
        t.request_captures = None;
        t.response_captures = None;
        t.accept_date = UNIX_EPOCH + Duration::from_millis(1_234_567_890_042);
        t.frontend = &long_fe;
        let l = line(write_httplog_clf, &t);
        assert!(l.ends_with(" 33317 042"), "{}", &l[l.len() - 20..]);
    }

    #[test]
    fn tcplog_line() {
        let mut t = TxnLog::new(
            "127.0.0.1:40000".parse().unwrap(),
            local_instant(2009, 2, 6, 12, 14, 14, 5),
            "tcp-in",
            "bk",
        );
        t.server = ServerField::Named("s1");
        t.timers = Timers {
            request: -1,
            queue: 3,
            connect: 5,
            data: -1,
            close: 1500,
        };
        t.bytes_out = 4096;
        t.term = TermState::new(
            Termination::new(Cause::ClientTimeout, Phase::Data),
            ReqCookie::Valid,
            ResCookie::None,
        );
        t.cookie_configured = true;
        t.actconn = 5;
        t.feconn = 4;
        t.beconn = 3;
        t.srv_conn = 2;
        t.retries = 1;
        assert_eq!(
            line(write_tcplog, &t),
            "127.0.0.1:40000 [06/Feb/2009:12:14:14.005] tcp-in bk/s1 3/2/1500 4096 cD 5/4/3/2/1 0/0"
        );
        t.logasap = true;
        t.redispatched = true;
        t.server = ServerField::NoServer;
        t.timers = Timers {
            close: 20,
            ..Timers::default()
        };
        assert_eq!(
            line(write_tcplog, &t),
            "127.0.0.1:40000 [06/Feb/2009:12:14:14.005] tcp-in bk/<NOSRV> -1/-1/+20 +4096 cD 5/4/3/2/+1 0/0"
        );
    }

    #[test]
    fn connect_line_and_addresses() {
        let mut v = Vec::new();
        write_connect_line(
            "10.0.1.2:33317".parse().unwrap(),
            "192.168.0.1:80".parse().unwrap(),
            "site_status",
            true,
            &mut v,
        );
        assert_eq!(
            v,
            b"Connect from 10.0.1.2:33317 to 192.168.0.1:80 (site_status/HTTP)"
        );
        let mut v = Vec::new();
        write_connect_line(
            "[2001:db8::1]:1000".parse().unwrap(),
            "[::1]:443".parse().unwrap(),
            "tls",
            false,
            &mut v,
        );
        assert_eq!(v, b"Connect from 2001:db8::1:1000 to ::1:443 (tls/TCP)");

        for (ip, want) in [
            ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
            ("::10.0.0.1", "::10.0.0.1"),
            ("::", "::"),
            ("::1", "::1"),
            ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"),
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
            ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
        ] {
            let mut v = Vec::new();
            push_ip(&mut v, IpAddr::V6(ip.parse::<Ipv6Addr>().unwrap()));
            assert_eq!(String::from_utf8(v).unwrap(), want, "{ip}");
        }
    }

    /// Byte-at-a-time model of 1.4 `encode_string`, to check the run-copying version.
    fn encode_model(out: &mut Vec<u8>, stop: usize, escaped: &[bool; 256], s: &[u8]) {
        if out.len() >= stop {
            return;
        }
        let stop = stop - 1;
        for &b in s {
            if b == 0 || out.len() >= stop {
                break;
            }
            if !escaped[usize::from(b)] {
                out.push(b);
            } else {
                if out.len() + 3 >= stop {
                    break;
                }
                out.extend_from_slice(&[b'#', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
        }
    }

    #[test]
    fn encode_matches_byte_model() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let len = (next() % 40) as usize;
            // Mostly plain letters, some escapable bytes, rare NULs.
            let input: Vec<u8> = (0..len)
                .map(|_| match next() % 10 {
                    0 => b'"',
                    1 => (next() % 256) as u8,
                    2 => b'|',
                    _ => b'a' + (next() % 26) as u8,
                })
                .collect();
            let prefix = (next() % 5) as usize;
            let stop = (next() % 50) as usize;
            for table in [&URL_ESCAPED, &HDR_ESCAPED] {
                let mut a = vec![b'p'; prefix];
                let mut b = a.clone();
                encode(&mut a, stop, table, &input);
                encode_model(&mut b, stop, table, &input);
                assert_eq!(a, b, "input {input:?} prefix {prefix} stop {stop}");
            }
        }
        assert!(
            URL_ESCAPED[usize::from(b'#')]
                && !URL_ESCAPED[usize::from(b'{')]
                && !URL_ESCAPED[usize::from(b' ')]
        );
        assert!(
            HDR_ESCAPED[usize::from(b'}')] && HDR_ESCAPED[0x7f] && !HDR_ESCAPED[usize::from(b' ')]
        );
    }

    #[test]
    fn timers_follow_1_4() {
        let t = Timers {
            request: 10,
            queue: 10,
            connect: 40,
            data: 109,
            close: 109,
        };
        assert_eq!(
            (t.tq(), t.tw(), t.tc(), t.tr(), t.tt()),
            (10, 0, 30, 69, 109)
        );
        let t = Timers::default();
        assert_eq!(
            (t.tq(), t.tw(), t.tc(), t.tr(), t.tt(), t.tw_tcp()),
            (-1, -1, -1, -1, 0, -1)
        );
        let t = Timers {
            request: -1,
            queue: 4,
            connect: 6,
            data: -1,
            close: 9,
        };
        assert_eq!((t.tw_tcp(), t.tc()), (4, 2));
    }
}
