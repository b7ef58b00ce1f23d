//! `tcp-request inspect-delay` and `tcp-request content accept|reject [if|unless <cond>]`:
//! the frontend's content rules, run on a new connection before anything else looks at its
//! bytes (TCP mode: before `use_backend`; HTTP mode: before the request is parsed, for every
//! request of the connection, as 1.4 re-arms its analysers on keep-alive). Compare with 1.4
//! `tcp_inspect_request` (`src/proto_tcp.c`).
//!
//! The rules run in order; the first whose condition holds decides (`reject` closes the
//! connection without a word and counts `dreq`), no match means accept. While the inspect
//! delay runs, the client has not closed and the buffer is not full, a condition that cannot
//! be decided yet (`req_len`, `req_ssl_ver`, `WAIT_END`... on too little data) makes the
//! whole evaluation wait for more data; once the delay expires the rules are evaluated one
//! last time with what arrived. Without an inspect delay they are evaluated at once.

use super::rules::count_denied_req;
use super::view::Base;
use crate::acl::{cond_verdict, Phase, Verdict};
use crate::buffer::Buf;
use crate::runtime::Proxy;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The outcome of the content rules for one connection (or request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inspection {
    Accept,
    /// Close the connection silently (`dreq` already counted on the frontend).
    Reject,
}

/// Runs `fe`'s `tcp-request content` rules. Bytes read while waiting go to `buf`, which is
/// taken (with `bufsize` bytes) only when the rules need data; they stay there for the
/// stream. `capacity` is how much the rules may look at (1.4 stops waiting once the buffer
/// is full). Returns at once with [`Inspection::Accept`] when `fe` has no rules.
pub async fn inspect(
    base: &Base<'_>,
    fe: &Proxy,
    cli: &TcpStream,
    buf: &mut Option<Buf>,
    bufsize: usize,
) -> Inspection {
    if fe.cfg.tcp_request.is_empty() {
        return Inspection::Accept;
    }
    let delay = fe
        .cfg
        .tcp_inspect_delay
        .as_ref()
        .map(|d| Duration::from_millis(u64::from(d.node)))
        .filter(|d| !d.is_zero());
    let capacity = base.capacity.min(bufsize);
    // 1.4 arms the delay at the first evaluation that has to wait.
    let mut deadline: Option<Instant> = None;
    let mut input_done = delay.is_none();
    loop {
        let data = buf.as_ref().map(|b| b.data()).unwrap_or(&[]);
        let full = data.len() >= capacity;
        let phase = if input_done || full {
            Phase::Final
        } else {
            Phase::Partial
        };
        if let Some(accept) = evaluate(base, fe, data, phase) {
            if accept {
                return Inspection::Accept;
            }
            count_denied_req(fe);
            return Inspection::Reject;
        }
        let Some(d) = delay else {
            // Final evaluations always decide.
            return Inspection::Accept;
        };
        let until = *deadline.get_or_insert_with(|| Instant::now() + d);
        let b = buf.get_or_insert_with(|| Buf::take(bufsize));
        match read_into(cli, b, capacity, until).await {
            Read::Data => {}
            Read::Closed | Read::Timeout => input_done = true,
        }
    }
}

/// Evaluates the rules once: `Some(true)` accept, `Some(false)` reject, `None` wait.
fn evaluate(base: &Base<'_>, fe: &Proxy, payload: &[u8], phase: Phase) -> Option<bool> {
    let mut view = base.view(fe, None, None);
    view.payload = payload;
    for r in &fe.cfg.tcp_request {
        let applies = match &r.cond {
            None => true,
            Some(c) => match cond_verdict(c, &fe.cfg.acls, &view, phase) {
                Verdict::Wait => return None,
                Verdict::Match => true,
                Verdict::NoMatch => false,
            },
        };
        if applies {
            return Some(r.accept);
        }
    }
    Some(true)
}

enum Read {
    Data,
    /// The client shut its side or the socket failed: no more data will come.
    Closed,
    Timeout,
}

/// Reads what is available into `buf` (up to `capacity` bytes held), waiting until `until`.
async fn read_into(cli: &TcpStream, buf: &mut Buf, capacity: usize, until: Instant) -> Read {
    loop {
        let room = capacity.saturating_sub(buf.len());
        if room == 0 {
            return Read::Data;
        }
        let space = buf.space();
        let n = room.min(space.len());
        let Some(space) = space.get_mut(..n).filter(|s| !s.is_empty()) else {
            return Read::Data;
        };
        match super::sockio::try_read(cli, space) {
            Ok(0) => return Read::Closed,
            Ok(got) => {
                buf.fill(got);
                return Read::Data;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Read::Closed,
        }
        match tokio::time::timeout_at(until, cli.readable()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Read::Closed,
            Err(_) => return Read::Timeout,
        }
    }
}
