//! The debug-mode traffic trace (`-d` on the command line, `debug` in `global`): one line on
//! stdout per event of every stream, in HAProxy 1.4's format, so that an operator watching a
//! foreground process sees what the proxy does. Compare with 1.4 `event_accept`
//! (`src/client.c`: the accept line), `debug_hdr` and its callers `http_wait_for_request` /
//! `http_wait_for_response` (`src/proto_http.c`: request and response heads), and
//! `process_session` (`src/session.c`: the close lines).
//!
//! ```text
//! 00000000:fe.accept(0005)=0007 from [127.0.0.1:40522]
//! 00000000:fe.clireq[0007:ffff]: GET / HTTP/1.1
//! 00000000:fe.clihdr[0007:ffff]: Host: www
//! 00000000:be.srvrep[0007:0008]: HTTP/1.1 200 OK
//! 00000000:be.srvhdr[0007:0008]: Content-Length: 12
//! 00000000:be.srvcls[0007:0008]
//! 00000000:be.clicls[0007:0008]
//! 00000000:be.closed[0007:0008]
//! ```
//!
//! Every line starts with the session number (1.4's `uniq_id`: the count of connections
//! accepted before this one, 8 hex digits) and the proxy the stream is on: the frontend for
//! the accept line and the request head, the backend once one is chosen (1.4 prints
//! `s->be->id`, which starts as the frontend and goes back to it after each transaction in
//! `http-server-close` mode). The fds are the real descriptors, printed as 1.4 does with
//! `(unsigned short)fd` and `%04x`: a side without a socket (no server connection yet, or
//! the previous one released after a keep-alive transaction) shows `ffff`.
//!
//! * `accept(<listener fd>)=<client fd> from [<ip>:<port>]` (IPv6 addresses without
//!   brackets, as 1.4's `inet_ntop`);
//! * `clireq`/`clihdr`: the request line and each header line as received, before any rule
//!   edits them; `srvrep`/`srvhdr`: the status line and each header as the server sent them,
//!   before the response rules and cookies (1.4 prints them as soon as the head is parsed;
//!   an interim `1xx` response gets its own `srvrep` block);
//! * `srvcls` when an established server connection closed, `clicls` for the client
//!   connection, then `closed` when the stream ends. 1.4 reports the server side first when
//!   both close in the same pass, which is the case for every ordinary end; a server
//!   connection closed between two keep-alive transactions is not reported (1.4 resets that
//!   side to its initial state without going through the close check).
//!
//! Not reproduced: 1.4 also prints the partial head of a request or response it rejects as
//! invalid; haproxide prints heads only once they parse. A failed connection attempt leaves
//! its (closed) fd in 1.4's `closed` line; haproxide shows `ffff` there.
//!
//! Cost: a stream reads the `debug` flag once ([`Trace::new`]); when it is off each event
//! is one predictable branch on a field of the [`Trace`], with no formatting and no
//! allocation. When it is on, the lines of one event are formatted into a per-thread buffer
//! and written with a single `write` under the stdout lock, so the lines of concurrent
//! streams never interleave within an event. Like 1.4's `write(1, ...)`, the write blocks
//! when stdout does (debug mode is for watching a proxy, not for serving load); write errors
//! (a closed terminal or pipe) are ignored.

use crate::http1::HeadIndex;
use std::cell::{Cell, RefCell};
use std::io::Write;
use std::net::SocketAddr;

/// The fd printed for a side without a socket: 1.4's `(unsigned short)-1`.
pub const NO_FD: u16 = 0xffff;

/// Request or response head, for [`Trace::head`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// `clireq` + `clihdr`.
    Request,
    /// `srvrep` + `srvhdr`.
    Response,
}

/// The trace of one stream. Inert (every method returns at once) unless debug mode was on
/// when the stream was accepted; then its state is on the heap, so that a stream without a
/// trace carries one pointer, not the state, for its whole life. Methods take `&self` (the
/// state sits in cells) so that the HTTP stream can report from code that already borrows
/// its session.
pub struct Trace<'a>(Option<Box<State<'a>>>);

/// What a live trace remembers between events.
struct State<'a> {
    id: u32,
    cli_fd: u16,
    /// The current server connection's fd, [`NO_FD`] without one.
    srv_fd: Cell<u16>,
    /// A server connection is established: `srvcls` is due when the stream ends.
    srv_est: Cell<bool>,
    /// The accept line was printed: `clicls` and `closed` are due.
    cli_est: Cell<bool>,
    /// The name 1.4 prints as `s->be->id`.
    px: Cell<&'a str>,
}

impl<'a> Trace<'a> {
    /// A trace for the stream numbered `id`, on client fd `cli_fd`, printing `px` (the
    /// frontend) until a backend is chosen. `on` is the process's debug mode.
    #[inline]
    pub fn new(on: bool, id: u32, cli_fd: i32, px: &'a str) -> Trace<'a> {
        if !on {
            return Trace(None);
        }
        Trace(Some(Box::new(State {
            id,
            cli_fd: fd16(cli_fd),
            srv_fd: Cell::new(NO_FD),
            srv_est: Cell::new(false),
            cli_est: Cell::new(false),
            px: Cell::new(px),
        })))
    }

    /// A trace that prints nothing (streams 1.4 never reports, e.g. a TCP `monitor-net`).
    pub fn off() -> Trace<'static> {
        Trace(None)
    }

    /// Whether this stream prints anything.
    #[inline]
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// The accept line, for a connection on listener fd `listener_fd` from `peer`.
    #[inline]
    pub fn accept(&self, listener_fd: i32, peer: SocketAddr) {
        if let Some(st) = &self.0 {
            st.accept(listener_fd, peer);
        }
    }

    /// From now on the stream prints `name` (a backend was chosen, or, after a keep-alive
    /// transaction, the frontend again).
    #[inline]
    pub fn set_proxy(&self, name: &'a str) {
        if let Some(st) = &self.0 {
            st.px.set(name);
        }
    }

    /// A server connection on `fd` is established.
    #[inline]
    pub fn server_connected(&self, fd: i32) {
        if let Some(st) = &self.0 {
            st.srv_fd.set(fd16(fd));
            st.srv_est.set(true);
        }
    }

    /// The server connection was released at the end of a keep-alive transaction
    /// (`http-server-close`): no `srvcls`, and the server side shows `ffff` again; the
    /// stream prints the frontend `fe` again (1.4 `http_end_txn_clean_session`).
    #[inline]
    pub fn server_released(&self, fe: &'a str) {
        if let Some(st) = &self.0 {
            st.srv_fd.set(NO_FD);
            st.srv_est.set(false);
            st.px.set(fe);
        }
    }

    /// The lines of a parsed head: the start line then every header line, without their
    /// line endings, as found in `buf` (indexed by `idx`).
    #[inline]
    pub fn head(&self, dir: Dir, buf: &[u8], idx: &HeadIndex) {
        if let Some(st) = &self.0 {
            st.head(dir, buf, idx);
        }
    }
}

impl Drop for Trace<'_> {
    /// The end of the stream: `srvcls` if a server connection was still established,
    /// `clicls`, then `closed`.
    #[inline]
    fn drop(&mut self) {
        if let Some(st) = &self.0 {
            if st.cli_est.get() {
                st.closed();
            }
        }
    }
}

impl State<'_> {
    #[cold]
    #[inline(never)]
    fn accept(&self, listener_fd: i32, peer: SocketAddr) {
        self.cli_est.set(true);
        emit(|out| {
            accept_line(
                out,
                self.id,
                self.px.get(),
                fd16(listener_fd),
                self.cli_fd,
                peer,
            )
        });
    }

    #[cold]
    #[inline(never)]
    fn head(&self, dir: Dir, buf: &[u8], idx: &HeadIndex) {
        let (id, px, cli, srv) = (self.id, self.px.get(), self.cli_fd, self.srv_fd.get());
        emit(|out| head_block(out, dir, id, px, (cli, srv), buf, idx));
    }

    #[cold]
    #[inline(never)]
    fn closed(&self) {
        let (id, px, cli, srv) = (self.id, self.px.get(), self.cli_fd, self.srv_fd.get());
        let srv_est = self.srv_est.get();
        emit(|out| close_block(out, id, px, (cli, srv), srv_est));
    }
}

/// An fd as 1.4 prints it: `(unsigned short)fd`, so -1 is `ffff`.
fn fd16(fd: i32) -> u16 {
    fd as u16
}

thread_local! {
    /// Where one event's lines are formatted; kept per thread so that tracing does not
    /// allocate once warm.
    static LINES: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Formats one event's lines with `fill` and writes them to stdout in one piece.
fn emit(fill: impl FnOnce(&mut Vec<u8>)) {
    let mut fill = Some(fill);
    let _ = LINES.try_with(|cell| {
        if let Ok(mut buf) = cell.try_borrow_mut() {
            buf.clear();
            if let Some(f) = fill.take() {
                f(&mut buf);
            }
            write_out(&buf);
        }
    });
    // The thread is going away (or, impossibly, re-entered): a buffer of our own.
    if let Some(f) = fill {
        let mut buf = Vec::new();
        f(&mut buf);
        write_out(&buf);
    }
}

/// Writes whole lines to stdout under its lock. Stdout's own buffer is line-based and the
/// bytes end with a newline, so they leave in one `write` call, now.
fn write_out(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes);
    let _ = out.flush();
}

/// A parsed head's lines: the start line (`clireq`/`srvrep`) then one line per header
/// (`clihdr`/`srvhdr`), each without its line ending, on client and server fds `fds`.
pub fn head_block(
    out: &mut Vec<u8>,
    dir: Dir,
    id: u32,
    px: &str,
    fds: (u16, u16),
    buf: &[u8],
    idx: &HeadIndex,
) {
    let (first, each) = match dir {
        Dir::Request => ("clireq", "clihdr"),
        Dir::Response => ("srvrep", "srvhdr"),
    };
    let (cli, srv) = fds;
    text_line(out, id, px, first, cli, srv, idx.start_line().get(buf));
    for h in idx.headers() {
        text_line(out, id, px, each, cli, srv, h.line().get(buf));
    }
}

/// The end of a stream: `srvcls` when a server connection was still established
/// (`srv_est`), then `clicls` and `closed`.
pub fn close_block(out: &mut Vec<u8>, id: u32, px: &str, fds: (u16, u16), srv_est: bool) {
    let (cli, srv) = fds;
    if srv_est {
        event_line(out, id, px, "srvcls", cli, srv);
    }
    event_line(out, id, px, "clicls", cli, srv);
    event_line(out, id, px, "closed", cli, srv);
}

/// `%08x:%s.accept(%04x)=%04x from [%s:%d]`.
pub fn accept_line(
    out: &mut Vec<u8>,
    id: u32,
    px: &str,
    listener_fd: u16,
    cli_fd: u16,
    peer: SocketAddr,
) {
    let _ = writeln!(
        out,
        "{id:08x}:{px}.accept({listener_fd:04x})={cli_fd:04x} from [{}:{}]",
        peer.ip(),
        peer.port()
    );
}

/// `%08x:%s.%s[%04x:%04x]: <text>`, for the `clireq`, `clihdr`, `srvrep` and `srvhdr` lines.
pub fn text_line(
    out: &mut Vec<u8>,
    id: u32,
    px: &str,
    what: &str,
    cli_fd: u16,
    srv_fd: u16,
    text: &[u8],
) {
    let _ = write!(out, "{id:08x}:{px}.{what}[{cli_fd:04x}:{srv_fd:04x}]: ");
    out.extend_from_slice(text);
    out.push(b'\n');
}

/// `%08x:%s.%s[%04x:%04x]`, for the `srvcls`, `clicls` and `closed` lines.
pub fn event_line(out: &mut Vec<u8>, id: u32, px: &str, what: &str, cli_fd: u16, srv_fd: u16) {
    let _ = writeln!(out, "{id:08x}:{px}.{what}[{cli_fd:04x}:{srv_fd:04x}]");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::{Method, Parse, ParseOptions};

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).expect("utf-8")
    }

    fn opts() -> ParseOptions {
        ParseOptions {
            max_head: 8192,
            accept_invalid: false,
        }
    }

    #[test]
    fn accept_line_has_1_4_shape() {
        let peer: SocketAddr = "127.0.0.1:40522".parse().unwrap();
        assert_eq!(
            text(|o| accept_line(o, 0, "fe", 5, 7, peer)),
            "00000000:fe.accept(0005)=0007 from [127.0.0.1:40522]\n"
        );
        // Large numbers: 8 and 4 hex digits, lower case, wider when needed (never cut).
        assert_eq!(
            text(|o| accept_line(o, 0xdead_beef, "www", 0x1a, 0xabcd, peer)),
            "deadbeef:www.accept(001a)=abcd from [127.0.0.1:40522]\n"
        );
        // IPv6 without brackets, as 1.4's inet_ntop + "[%s:%d]".
        let v6: SocketAddr = "[::1]:8080".parse().unwrap();
        assert_eq!(
            text(|o| accept_line(o, 1, "fe", 4, 9, v6)),
            "00000001:fe.accept(0004)=0009 from [::1:8080]\n"
        );
    }

    #[test]
    fn head_lines_have_1_4_shape() {
        assert_eq!(
            text(|o| text_line(o, 3, "fe", "clireq", 7, NO_FD, b"GET / HTTP/1.1")),
            "00000003:fe.clireq[0007:ffff]: GET / HTTP/1.1\n"
        );
        assert_eq!(
            text(|o| text_line(o, 3, "fe", "clihdr", 7, NO_FD, b"Host: a")),
            "00000003:fe.clihdr[0007:ffff]: Host: a\n"
        );
        assert_eq!(
            text(|o| text_line(o, 3, "be", "srvrep", 7, 8, b"HTTP/1.1 200 OK")),
            "00000003:be.srvrep[0007:0008]: HTTP/1.1 200 OK\n"
        );
        assert_eq!(
            text(|o| text_line(o, 3, "be", "srvhdr", 7, 8, b"X-A: b")),
            "00000003:be.srvhdr[0007:0008]: X-A: b\n"
        );
        // Bytes are copied as they came, even when they are not UTF-8.
        let mut raw = Vec::new();
        text_line(&mut raw, 0, "fe", "clihdr", 7, NO_FD, b"X: \xe9");
        assert_eq!(raw, b"00000000:fe.clihdr[0007:ffff]: X: \xe9\n");
    }

    #[test]
    fn close_lines_have_1_4_shape() {
        assert_eq!(
            text(|o| event_line(o, 0, "be", "srvcls", 7, 8)),
            "00000000:be.srvcls[0007:0008]\n"
        );
        assert_eq!(
            text(|o| event_line(o, 0, "be", "clicls", 7, 8)),
            "00000000:be.clicls[0007:0008]\n"
        );
        assert_eq!(
            text(|o| event_line(o, 0, "fe", "closed", 7, NO_FD)),
            "00000000:fe.closed[0007:ffff]\n"
        );
    }

    #[test]
    fn fds_print_as_unsigned_short() {
        assert_eq!(fd16(-1), NO_FD);
        assert_eq!(fd16(12), 0x000c);
        assert_eq!(fd16(0x1_0005), 0x0005);
    }

    #[test]
    fn head_blocks_come_from_the_index_without_line_endings() {
        let req = b"GET /x?y HTTP/1.1\r\nHost: a\r\nX-Test:  one two \r\nAccept: */*\n\r\nbody";
        let mut idx = HeadIndex::new();
        assert_eq!(idx.parse_request(req, &opts()), Parse::Complete);
        assert_eq!(
            text(|o| head_block(o, Dir::Request, 0, "fe", (7, NO_FD), req, &idx)),
            "00000000:fe.clireq[0007:ffff]: GET /x?y HTTP/1.1\n\
             00000000:fe.clihdr[0007:ffff]: Host: a\n\
             00000000:fe.clihdr[0007:ffff]: X-Test:  one two \n\
             00000000:fe.clihdr[0007:ffff]: Accept: */*\n"
        );
        let res = b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nSet-Cookie: a=b\r\n\r\n";
        let mut idx = HeadIndex::new();
        assert_eq!(
            idx.parse_response(res, &opts(), Method::Get),
            Parse::Complete
        );
        assert_eq!(
            text(|o| head_block(o, Dir::Response, 0x2a, "be", (7, 9), res, &idx)),
            "0000002a:be.srvrep[0007:0009]: HTTP/1.0 404 Not Found\n\
             0000002a:be.srvhdr[0007:0009]: Content-Length: 0\n\
             0000002a:be.srvhdr[0007:0009]: Set-Cookie: a=b\n"
        );
        // A head without headers is its start line alone.
        let bare = b"GET / HTTP/1.0\r\n\r\n";
        let mut idx = HeadIndex::new();
        assert_eq!(idx.parse_request(bare, &opts()), Parse::Complete);
        assert_eq!(
            text(|o| head_block(o, Dir::Request, 1, "fe", (7, NO_FD), bare, &idx)),
            "00000001:fe.clireq[0007:ffff]: GET / HTTP/1.0\n"
        );
    }

    #[test]
    fn close_blocks_report_the_server_side_first() {
        assert_eq!(
            text(|o| close_block(o, 3, "be", (7, 8), true)),
            "00000003:be.srvcls[0007:0008]\n\
             00000003:be.clicls[0007:0008]\n\
             00000003:be.closed[0007:0008]\n"
        );
        // No established server connection (none made, or released after keep-alive).
        assert_eq!(
            text(|o| close_block(o, 3, "fe", (7, NO_FD), false)),
            "00000003:fe.clicls[0007:ffff]\n00000003:fe.closed[0007:ffff]\n"
        );
    }

    #[test]
    fn an_inert_trace_tracks_nothing() {
        let t = Trace::new(false, 1, 7, "fe");
        t.accept(5, "127.0.0.1:1".parse().unwrap());
        t.server_connected(8);
        t.set_proxy("be");
        assert!(!t.is_on());
        assert!(t.0.is_none(), "an inert trace holds no state");
        assert!(!Trace::off().is_on());
    }

    #[test]
    fn server_side_state_follows_the_transactions() {
        // State only (the lines go to stdout): connect, release after keep-alive.
        let t = Trace::new(true, 1, 7, "fe");
        let st = t.0.as_deref().expect("a live trace has state");
        t.set_proxy("be");
        t.server_connected(8);
        assert_eq!(
            (st.srv_fd.get(), st.srv_est.get(), st.px.get()),
            (8, true, "be")
        );
        t.server_released("fe");
        assert_eq!(
            (st.srv_fd.get(), st.srv_est.get(), st.px.get()),
            (NO_FD, false, "fe")
        );
        // Never accepted (no accept line): dropping it prints nothing either.
        assert!(!st.cli_est.get());
    }
}
