//! Captures of the last invalid request (kept by the frontend) and the last invalid response
//! (kept by the backend), for the stats socket's `show errors` (1.4 `struct error_snapshot`
//! in `proxy->invalid_req` / `invalid_rep`, filled by `http_capture_bad_message` in
//! `src/proto_http.c`).
//!
//! As in 1.4, only syntax errors are captured: a head the parser rejected (1.4
//! `HTTP_MSG_ERROR`). A head too large for the buffer, a `Content-Length`/`Transfer-Encoding`
//! violation, a timeout or a close before the end are answered (400/408/502/504) but not
//! captured, as 1.4 only captures when `msg_state == HTTP_MSG_ERROR` (or `err_pos >= 0`, set
//! by `accept-invalid-http-*` for bytes it let through, which haproxide does not record).
//! `clear counters` does not touch the captures (1.4 clears `px->counters` only).
//!
//! Capturing is off the fast path: it runs once per invalid message, takes the proxy's
//! lock, and reuses the previous capture's buffer.

use crate::runtime::Proxy;
use parking_lot::Mutex;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::time::SystemTime;

/// 1.4's `HTTP_MSG_ERROR`, the parser state recorded for a syntax error.
pub const HTTP_MSG_ERROR: u32 = 26;
/// 1.4 buffer flag `BF_READ_PARTIAL`: data were read (what the captures record; 1.4's
/// other buffer flags describe the state of its own buffers, which haproxide does not have).
pub const BF_READ_PARTIAL: u32 = 0x0000_0002;

/// One captured message (1.4 `struct error_snapshot`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorSnapshot {
    /// When it was captured (1.4 `when`).
    pub when: SystemTime,
    /// The stream's id (`session #N`, 1.4 `sid`).
    pub sid: u64,
    /// Client address (1.4 `src`, printed without its port).
    pub src: IpAddr,
    /// The other side's proxy index: the backend for a request (the frontend itself until
    /// a backend is chosen, as 1.4's `s->be`), the frontend for a response (1.4 `oe`).
    pub oe: usize,
    /// The server of the stream, as (proxy index, server index) (1.4 `srv`).
    pub srv: Option<(usize, usize)>,
    /// Parser state number (1.4 `state`).
    pub state: u32,
    /// Buffer flags in 1.4's bits (1.4 `flags`): haproxide records `BF_READ_PARTIAL`, the
    /// one bit that always holds when a head was rejected after a read.
    pub flags: u32,
    /// Event number (1.4 `ev_id`, from the process-wide counter).
    pub ev_id: u32,
    /// Length of the message received so far (may exceed what is kept).
    pub len: usize,
    /// Offset of the error in the message (1.4 `pos`).
    pub pos: usize,
    /// The message bytes, at most `tune.bufsize` of them.
    pub buf: Vec<u8>,
}

/// A proxy's two capture slots.
#[derive(Debug, Default)]
pub struct Captures {
    pub req: Mutex<Option<Box<ErrorSnapshot>>>,
    pub rep: Mutex<Option<Box<ErrorSnapshot>>>,
}

impl Captures {
    /// Copies of both slots (request, response), for the CLI.
    pub fn get(&self) -> (Option<ErrorSnapshot>, Option<ErrorSnapshot>) {
        (
            self.req.lock().as_deref().cloned(),
            self.rep.lock().as_deref().cloned(),
        )
    }
}

/// What is captured, besides the bytes.
#[derive(Clone, Copy, Debug)]
pub struct CaptureInfo {
    pub sid: u64,
    pub src: IpAddr,
    pub oe: usize,
    pub srv: Option<(usize, usize)>,
    pub state: u32,
    pub flags: u32,
    pub pos: usize,
}

/// Which slot of the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
}

/// Records `msg` (the message as received, from its first byte) in `px`'s slot, keeping at
/// most `bufsize` bytes; `events` is the process-wide event counter (1.4
/// `error_snapshot_id`).
pub fn capture(
    px: &Proxy,
    side: Side,
    events: &AtomicU32,
    bufsize: usize,
    msg: &[u8],
    info: CaptureInfo,
) {
    let slot = match side {
        Side::Request => &px.captures.req,
        Side::Response => &px.captures.rep,
    };
    let kept = msg.get(..msg.len().min(bufsize)).unwrap_or(msg);
    let mut g = slot.lock();
    let mut buf = g.take().map(|s| s.buf).unwrap_or_default();
    buf.clear();
    buf.extend_from_slice(kept);
    *g = Some(Box::new(ErrorSnapshot {
        when: SystemTime::now(),
        sid: info.sid,
        src: info.src,
        oe: info.oe,
        srv: info.srv,
        state: info.state,
        flags: info.flags,
        ev_id: events.fetch_add(1, Relaxed),
        len: msg.len(),
        pos: info.pos,
        buf,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::test_support::{backend, runtime, server};

    #[test]
    fn capture_keeps_the_last_message_bounded_and_counts_events() {
        let rt = runtime(vec![backend("be", vec![server("s1", 2, 2)])]);
        let px = &rt.proxies[0];
        let events = AtomicU32::new(0);
        let info = CaptureInfo {
            sid: 7,
            src: IpAddr::from([10, 0, 0, 1]),
            oe: 0,
            srv: None,
            state: HTTP_MSG_ERROR,
            flags: BF_READ_PARTIAL,
            pos: 3,
        };
        capture(
            px,
            Side::Request,
            &events,
            4,
            b"GET\x01 / HTTP/1.0\r\n",
            info,
        );
        let (req, rep) = px.captures.get();
        let req = req.unwrap_or_else(|| panic!("no capture"));
        assert!(rep.is_none());
        assert_eq!(req.buf, b"GET\x01");
        assert_eq!(req.len, 17);
        assert_eq!((req.sid, req.pos, req.ev_id), (7, 3, 0));
        capture(
            px,
            Side::Request,
            &events,
            64,
            b"BAD",
            CaptureInfo { sid: 9, ..info },
        );
        let req = px.captures.get().0.unwrap_or_else(|| panic!("no capture"));
        assert_eq!(
            (req.buf.as_slice(), req.sid, req.ev_id),
            (&b"BAD"[..], 9, 1)
        );
        assert_eq!(events.load(Relaxed), 2);
    }
}
