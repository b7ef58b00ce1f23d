//! `mode http` streams: HAProxy 1.4's analysers for each transaction, and its connection
//! modes (spec §7, 1.4 `src/proto_http.c`):
//!
//! * **tunnel** (default): only the first request and the first response of a connection are
//!   analysed; then bytes flow both ways untouched until both sides close.
//! * **httpclose**: tunnel, plus `Connection: close` announced both ways.
//! * **http-server-close**: every request is analysed; the server connection closes after each
//!   response, the client connection is kept alive when both sides allow it.
//! * **forceclose**: one transaction, then both sides are closed by us.
//!
//! One transaction: wait for the request head (`timeout http-request`, 408) → parse (400) →
//! `monitor-uri` → frontend rules → `use_backend` → backend rules → persistence → server
//! choice and connection (retries, redispatch; 503) → request head to the server → request
//! body and response head concurrently (so `Expect: 100-continue` works; 504 on `timeout
//! server`, 502 on a bad response) → response rules and cookies → response to the client →
//! bodies → log. See docs/lifecycle.md for the chart.
//!
//! Buffers and head indexes are taken from per-thread pools when a request starts and given
//! back when it ends, so an idle keep-alive connection holds neither.
//!
//! Debug mode (`trace.rs`): each parsed request head and server response head is printed as
//! received (`clireq`/`clihdr`, `srvrep`/`srvhdr`), the stream prints its backend's name once
//! one is chosen, and the close lines follow when the session ends.
//! The stream's registry entry (`show sess`) is updated at each phase change with plain
//! atomic stores, and a request or response head the parser rejects is captured for `show
//! errors` (1.4 `http_capture_bad_message`, see `snapshot.rs`) before the 400/502.

use super::connect::{self, ConnectFail, ConnectReq};
use super::registry::{method_number, Phase as RegPhase, StreamInfo};
use super::rules::{self, ReqCtx, ReqFlags, ReqHead, ReqVerdict, ResVerdict};
use super::snapshot::{self, CaptureInfo};
use super::stream::enter_backend;
use super::stream::Conn;
use super::tcp_rules::{self, Inspection};
use super::trace::{Dir, Trace};
use super::tunnel::{self, write_bytes, Side, TunnelBytes, TunnelCfg};
use super::view::{Base, HeadView};
use crate::buffer::{Buf, FreeList};
use crate::check::HanaStatus;
use crate::http1::{
    canned, BodyState, Framing, HeadEdit, HeadIndex, Kind, Method, Parse, ParseOptions, Version,
};
use crate::lb::{HeaderLookup, HttpInput, PickInput};
use crate::log::httplog::{ServerField, Timers, TxnLog};
use crate::log::{Cause, Phase, TermState, Termination};
use crate::persist::{self, TxnPersist};
use crate::runtime::{Proxy, Runtime};
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Per-transaction working memory, pooled per thread (about 10 KB: two head indexes and
/// two edit tables), held only while a transaction runs.
pub struct Scratch {
    pub req_idx: HeadIndex,
    pub req_edit: HeadEdit,
    pub res_idx: HeadIndex,
    pub res_edit: HeadEdit,
    /// Edited heads and canned replies are written here before being sent.
    pub out: Vec<u8>,
    /// Copy of the request line for the log (the request buffer moves on).
    pub req_line: Vec<u8>,
    pub req_caps: Vec<Option<Vec<u8>>>,
    pub res_caps: Vec<Option<Vec<u8>>>,
    /// `capture cookie`: the request's and the response's captured `name=value`, valid
    /// when the matching flag is set.
    pub req_cookie_cap: Vec<u8>,
    pub req_cookie_set: bool,
    pub res_cookie_cap: Vec<u8>,
    pub res_cookie_set: bool,
    pub persist: TxnPersist,
}

thread_local! {
    // Boxed in the pool too: a transaction holds its scratch by pointer (712 bytes inline
    // would grow every connection's task), and moving it in and out of the pool must not
    // allocate.
    #[allow(clippy::vec_box)]
    static SCRATCH: RefCell<Vec<Box<Scratch>>> = const { RefCell::new(Vec::new()) };
    /// Output buffers let go of by tunnels (`Scratch::release_heads`).
    static OUT_BUFS: FreeList<Vec<u8>> = const { FreeList::new(256) };
}

impl Scratch {
    fn take() -> Box<Scratch> {
        let mut s = SCRATCH.with(|p| p.borrow_mut().pop()).unwrap_or_else(|| {
            Box::new(Scratch {
                req_idx: HeadIndex::new(),
                req_edit: HeadEdit::new(),
                res_idx: HeadIndex::new(),
                res_edit: HeadEdit::new(),
                out: Vec::new(),
                req_line: Vec::with_capacity(256),
                req_caps: Vec::new(),
                res_caps: Vec::new(),
                req_cookie_cap: Vec::new(),
                req_cookie_set: false,
                res_cookie_cap: Vec::new(),
                res_cookie_set: false,
                persist: TxnPersist::default(),
            })
        });
        if s.out.capacity() == 0 {
            s.out = FreeList::take_local(&OUT_BUFS).unwrap_or_else(|| Vec::with_capacity(1024));
        }
        s
    }

    /// Lets go of the head tables and the output buffer (about 10 KB, to this thread's free
    /// lists) while keeping what the log needs: a tunnel holds its transaction until the
    /// connection closes, and an idle tunnel should cost little more than its two sockets.
    /// The next transaction on the thread takes them back instead of allocating.
    fn release_heads(&mut self) {
        self.req_idx.release();
        self.req_edit.release();
        self.res_idx.release();
        self.res_edit.release();
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        FreeList::give_local(&OUT_BUFS, out);
    }

    fn give(s: Box<Scratch>) {
        let _ = SCRATCH.try_with(|p| {
            let mut p = p.borrow_mut();
            if p.len() < 256 {
                p.push(s);
            }
        });
    }
}

/// How the connection is handled after the first analysed transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnMode {
    Tunnel,
    HttpClose,
    ServerClose,
    ForceClose,
}

impl ConnMode {
    /// The mode from frontend and backend options (1.4: forceclose > server-close > tunnel;
    /// httpclose with http-server-close is forceclose).
    pub fn of(fe: &Proxy, be: &Proxy) -> ConnMode {
        let (a, b) = (&fe.cfg.options, &be.cfg.options);
        let httpclose = a.httpclose.is_some() || b.httpclose.is_some();
        let server_close = a.http_server_close.is_some() || b.http_server_close.is_some();
        let forceclose = a.forceclose.is_some() || b.forceclose.is_some();
        if forceclose || (httpclose && server_close) {
            ConnMode::ForceClose
        } else if server_close {
            ConnMode::ServerClose
        } else if httpclose {
            ConnMode::HttpClose
        } else {
            ConnMode::Tunnel
        }
    }

    /// Every request and response is parsed (not only the first).
    fn analyses_all(self) -> bool {
        matches!(self, ConnMode::ServerClose | ConnMode::ForceClose)
    }
}

/// What happens to the client connection after a transaction.
enum After {
    Close,
    KeepAlive,
}

/// When the current transaction started, for its log line: the connection's accept for
/// the first one; in keep-alive, the end of the previous transaction (1.4
/// `http_end_txn_clean_session` resets `accept_date`/`tv_accept` there, so Tq includes
/// the idle time before the next request).
#[derive(Clone, Copy)]
struct Accept {
    t0: Instant,
    date: SystemTime,
}

impl Accept {
    fn now() -> Accept {
        Accept {
            t0: Instant::now(),
            date: SystemTime::now(),
        }
    }
}

/// Where a log line is emitted, which decides the connection counts it shows (1.4 logs
/// after releasing some of them).
#[derive(Clone, Copy, PartialEq, Eq)]
enum LogPoint {
    /// `option logasap`, as soon as the response head is processed: nothing released.
    Early,
    /// End of a transaction on a connection kept alive: the backend connection is released
    /// (`beconn`), the frontend one and the server slot not yet.
    KeepAlive,
    /// End of the connection: `actconn`, `feconn`, `beconn` and the server slot released.
    Close,
}

/// State of one transaction for the log and the counters.
struct Txn {
    t0: Instant,
    date: SystemTime,
    timers: Timers,
    be: usize,
    srv: Option<usize>,
    status: i32,
    bytes_out: u64,
    bytes_in: u64,
    term: Termination,
    retries: u32,
    redispatched: bool,
    /// The request was `<STATS>`.
    stats: bool,
    /// monitor-uri requests are never logged.
    nolog: bool,
    /// A request line was parsed (else `<BADREQ>`).
    parsed: bool,
    /// This transaction is counted in its backend's `beconn`.
    be_counted: bool,
    /// This transaction holds a connection slot on `srv` (`cur_sess`).
    srv_counted: bool,
    /// The line was already sent (`option logasap`).
    logged: bool,
    /// Counted in the stats already (`log` counts each transaction once).
    accounted: Cell<bool>,
    /// http-server-close and the client asked to keep its connection: the response is
    /// prepared for keep-alive when its length is known.
    client_ka: bool,
}

impl Txn {
    fn new(be: usize, accept: Accept) -> Txn {
        Txn {
            t0: accept.t0,
            date: accept.date,
            timers: Timers::default(),
            be,
            srv: None,
            status: -1,
            bytes_out: 0,
            bytes_in: 0,
            term: Termination::default(),
            retries: 0,
            redispatched: false,
            stats: false,
            nolog: false,
            parsed: false,
            be_counted: false,
            srv_counted: false,
            logged: false,
            accounted: Cell::new(false),
            client_ka: false,
        }
    }
    fn ms(&self) -> i64 {
        self.t0.elapsed().as_millis() as i64
    }
    /// The instant `ms` (as returned by [`Txn::ms`]) after the start.
    fn at(&self, ms: i64) -> Instant {
        self.t0 + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    }
}

/// A client connection in HTTP mode.
pub struct Session<'a> {
    rt: &'a Runtime,
    fe: &'a Proxy,
    /// The client connection: socket, address, listener (read in place, not copied: see
    /// `stream::Conn`).
    conn: &'a Conn,
    local: SocketAddr,
    txn_no: u32,
    /// Start of the current transaction for the log (see [`Accept`]).
    accept: Accept,
    /// Pipelined bytes left over from the previous transaction.
    leftover: Option<Buf>,
    /// How the read in `wait_request` ended when it brought no bytes (end of stream or an
    /// error): the transaction takes it as its first read's outcome, since reading again
    /// would not report an error a second time.
    first_read: Option<ReadOutcome>,
    /// Debug-mode trace; its close lines print when the session is dropped.
    trace: Trace<'a>,
    /// This stream's entry in the registry of live streams (`show sess`).
    reg: &'a StreamInfo,
}

impl<'a> Session<'a> {
    /// A new client connection's session. Built by the caller and served by reference
    /// (see `stream::Conn`).
    pub fn new(
        rt: &'a Runtime,
        fe: &'a Proxy,
        conn: &'a Conn,
        local: SocketAddr,
        trace: Trace<'a>,
        reg: &'a StreamInfo,
    ) -> Self {
        Session {
            rt,
            fe,
            conn,
            local,
            txn_no: 0,
            accept: Accept::now(),
            leftover: None,
            first_read: None,
            trace,
            reg,
        }
    }
}

/// Serves an HTTP client connection until it closes.
pub async fn run(s: &mut Session<'_>) {
    loop {
        // `tcp-request content` rules run before each request is parsed (1.4 re-arms its
        // request analysers for every transaction of a connection).
        let rb = if s.leftover.is_none() && s.fe.cfg.tcp_request.is_empty() {
            // The idle path, kept apart so that no `pre` slot is in the task of every idle
            // connection while it waits.
            match s.wait_request().await {
                Some(b) => b,
                None => return,
            }
        } else {
            let mut pre = s.leftover.take();
            if s.inspect(&mut pre).await == Inspection::Reject {
                return;
            }
            match pre {
                Some(b) => b,
                None => match s.wait_request().await {
                    Some(b) => b,
                    None => return,
                },
            }
        };
        let mut rb = rb;
        let mut sc = Scratch::take();
        // The transaction's state machine is large (about 4 KB); boxed, it lives on the heap
        // only while a transaction runs, and an idle connection's task keeps just the
        // session and the wait for the next request (2.6 likewise allocates its stream
        // only when a request comes).
        let after = Box::pin(s.transaction(&mut rb, &mut sc)).await;
        Scratch::give(sc);
        match after {
            After::KeepAlive => {
                // The server connection is gone and the stream is on its frontend again.
                s.trace.server_released(s.fe.name());
                s.reg.reset_txn(s.fe.idx);
                s.txn_no += 1;
                s.accept = Accept::now();
                if !rb.is_empty() {
                    s.leftover = Some(rb);
                }
            }
            After::Close => return,
        }
    }
}

impl Session<'_> {
    /// The deadline for a complete request head: `timeout http-request` (keep-alive idle
    /// time: `timeout http-keep-alive`, else http-request), else `timeout client`.
    fn head_timeout(&self) -> Option<Duration> {
        let t = &self.fe.cfg.timeouts;
        Proxy::timeout(&t.http_request).or(Proxy::timeout(&t.client))
    }

    /// Runs the frontend's `tcp-request content` rules (see `tcp_rules.rs`); bytes they
    /// waited for stay in `pre`. A rejected connection is logged (`PR`, `<BADREQ>`) and must
    /// be closed by the caller.
    async fn inspect(&mut self, pre: &mut Option<Buf>) -> Inspection {
        if self.fe.cfg.tcp_request.is_empty() {
            return Inspection::Accept;
        }
        self.reg.enter(&self.rt.streams, RegPhase::Inspect, None);
        let t0 = Instant::now();
        // Boxed with its view, like the transaction: see `run`.
        let (this, rules_pre) = (&*self, &mut *pre);
        let verdict = Box::pin(async move {
            let base = this.base(this.fe, None);
            let (cli, bufsize) = (&this.conn.cli, this.rt.global.bufsize);
            tcp_rules::inspect(&base, this.fe, cli, rules_pre, bufsize).await
        })
        .await;
        if verdict == Inspection::Reject {
            let mut tx = Txn::new(
                self.fe.idx,
                Accept {
                    t0,
                    date: SystemTime::now(),
                },
            );
            tx.term.set(Cause::Proxy, Phase::Request);
            tx.bytes_in = pre.as_ref().map_or(0, |b| b.len() as u64);
            self.log(&tx, None, LogPoint::Close);
        }
        verdict
    }

    /// Waits for the first bytes of a request without holding a buffer, then takes one and
    /// reads them into it. A readiness that brings nothing (tokio may report a fresh socket
    /// readable before any byte came) gives the buffer back and waits again, so that an
    /// idle connection never pins a buffer.
    /// `None`: the client closed or the idle timeout expired (handled, nothing to log), or
    /// the first request timed out (408 sent and logged).
    async fn wait_request(&mut self) -> Option<Buf> {
        let t = &self.fe.cfg.timeouts;
        let idle = if self.txn_no == 0 {
            self.head_timeout()
        } else {
            Proxy::timeout(&t.http_keep_alive)
                .or(Proxy::timeout(&t.http_request))
                .or(Proxy::timeout(&t.client))
        };
        let deadline = idle.map(|d| Instant::now() + d);
        self.reg
            .enter(&self.rt.streams, RegPhase::WaitRequest, deadline);
        // Made once: a readiness that brought no bytes waits again on the same deadline.
        let mut timed =
            deadline.map(|d| super::idle_wait::read_ready_until(&self.conn.cli, d.into_std()));
        loop {
            let ready = match &mut timed {
                Some(wait) => wait.await,
                None => Some(super::sockio::read_ready(&self.conn.cli).await),
            };
            match ready {
                Some(Ok(())) => {
                    let mut b = Buf::take(self.rt.global.bufsize);
                    match super::sockio::try_read(&self.conn.cli, b.space()) {
                        Ok(0) => {
                            self.first_read = Some(ReadOutcome::Eof);
                            return Some(b);
                        }
                        Ok(n) => {
                            b.fill(n);
                            return Some(b);
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                            ) => {}
                        Err(_) => {
                            self.first_read = Some(ReadOutcome::Error);
                            return Some(b);
                        }
                    }
                }
                Some(Err(_)) => return None,
                None if self.txn_no == 0 => {
                    // Boxed with its transaction state, which an idle task need not carry.
                    Box::pin(self.first_request_timed_out()).await;
                    return None;
                }
                None => return None,
            }
        }
    }

    /// 1.4 answers 408 to a first request that never came, and logs it (`cR`).
    async fn first_request_timed_out(&mut self) {
        let mut tx = Txn::new(self.fe.idx, self.accept);
        tx.status = 408;
        tx.term.set(Cause::ClientTimeout, Phase::Request);
        let _ = self.reply_error(&mut tx, 408).await;
        self.log(&tx, None, LogPoint::Close);
    }

    /// Runs one transaction with the request bytes in `rb`.
    async fn transaction(&mut self, rb: &mut Buf, sc: &mut Scratch) -> After {
        let rt = self.rt;
        let fe = self.fe;
        let mut tx = Txn::new(fe.idx, self.accept);
        let opts = ParseOptions {
            max_head: rt.global.bufsize.saturating_sub(rt.global.maxrewrite),
            accept_invalid: fe.cfg.options.accept_invalid_http_request.is_some(),
        };
        // The first request must be complete within `timeout http-request` of the accept; a
        // later one within that time of its first byte (1.4 arms the timer when the client
        // starts talking on a kept-alive connection).
        let head_start = if self.txn_no == 0 {
            tx.t0
        } else {
            Instant::now()
        };
        let deadline = self.head_timeout().map(|d| head_start + d);
        self.reg
            .enter(&self.rt.streams, RegPhase::WaitRequest, deadline);
        sc.req_idx.clear();
        sc.persist.reset();
        sc.req_line.clear();
        // The scratch is pooled per thread: forget the captures of whatever used it last,
        // so a transaction that stops early logs empty captures.
        sc.req_caps.iter_mut().for_each(|c| *c = None);
        sc.res_caps.iter_mut().for_each(|c| *c = None);
        sc.req_cookie_set = false;
        sc.res_cookie_set = false;

        // --- wait for a complete request head ---
        loop {
            let parsed = sc.req_idx.parse_request(rb.data(), &opts);
            match parsed {
                Parse::Complete => break,
                Parse::Incomplete => {}
                Parse::TooLarge | Parse::Invalid(_) => {
                    if let Parse::Invalid(e) = parsed {
                        if !e.is_framing() {
                            // 1.4 keeps syntax errors for `show errors`; the frontend's `be`
                            // is still itself.
                            self.capture_bad(
                                fe,
                                snapshot::Side::Request,
                                rb.data(),
                                opts.accept_invalid,
                                None,
                            );
                        }
                    }
                    fe.fe_counters.ereq.fetch_add(1, Relaxed);
                    tx.term.set(Cause::Proxy, Phase::Request);
                    tx.bytes_in = rb.len() as u64;
                    let _ = self.reply_error(&mut tx, 400).await;
                    self.log(&tx, Some(&*sc), LogPoint::Close);
                    return After::Close;
                }
            }
            let outcome = match self.first_read.take() {
                Some(o) => o,
                None => read_some(&self.conn.cli, rb, deadline).await,
            };
            match outcome {
                ReadOutcome::Data => {}
                ReadOutcome::Full => {
                    fe.fe_counters.ereq.fetch_add(1, Relaxed);
                    tx.term.set(Cause::Proxy, Phase::Request);
                    tx.bytes_in = rb.len() as u64;
                    let _ = self.reply_error(&mut tx, 400).await;
                    self.log(&tx, Some(&*sc), LogPoint::Close);
                    return After::Close;
                }
                outcome @ (ReadOutcome::Eof | ReadOutcome::Error) => {
                    // Closed before a complete request: silent on a kept-alive connection
                    // that had not started a new request; otherwise `CR` with status 400.
                    // 1.4 answers a close (FIN) with its 400 page and counts its bytes even
                    // when the client is gone; after a read error (reset) it sends nothing.
                    // The line is logged even when nothing came, unless `dontlognull`.
                    if self.txn_no == 0 || !rb.is_empty() {
                        tx.term.set(Cause::ClientAbort, Phase::Request);
                        tx.bytes_in = rb.len() as u64;
                        fe.fe_counters.ereq.fetch_add(1, Relaxed);
                        if matches!(outcome, ReadOutcome::Eof) {
                            let _ = self.reply_error(&mut tx, 400).await;
                        } else {
                            tx.status = 400;
                        }
                        self.log(&tx, Some(&*sc), LogPoint::Close);
                    }
                    return After::Close;
                }
                ReadOutcome::Timeout => {
                    if self.txn_no > 0 && rb.is_empty() {
                        return After::Close;
                    }
                    tx.term.set(Cause::ClientTimeout, Phase::Request);
                    tx.bytes_in = rb.len() as u64;
                    fe.fe_counters.ereq.fetch_add(1, Relaxed);
                    let _ = self.reply_error(&mut tx, 408).await;
                    self.log(&tx, Some(&*sc), LogPoint::Close);
                    return After::Close;
                }
            }
        }
        // The head as received, before any rule touches it (1.4 `http_wait_for_request`).
        self.trace.head(Dir::Request, rb.data(), &sc.req_idx);
        tx.timers.request = tx.ms();
        tx.parsed = true;
        fe.fe_counters.new_request();
        let head_end = sc.req_idx.head_end();
        tx.bytes_in = head_end as u64;
        sc.req_line
            .extend_from_slice(sc.req_idx.start_line().get(rb.data()));
        capture_headers(
            &fe.cfg.capture_request_headers,
            rb.data(),
            &sc.req_idx,
            &mut sc.req_caps,
        );
        sc.req_edit.reset(&sc.req_idx);
        let req_method = sc.req_idx.method();
        let req_version = sc.req_idx.version();
        let req_info = *sc.req_idx.info();
        self.reg.set_method(method_number(req_method));
        self.reg.enter(&rt.streams, RegPhase::Request, None);

        // --- monitor-uri: answered here, never logged ---
        if let Some(m) = &fe.cfg.monitor_uri {
            if sc.req_idx.uri().get(rb.data()) == m.as_bytes() {
                let fail = {
                    let base = self.base(fe, None);
                    let head = HeadView {
                        buf: rb.data(),
                        idx: &sc.req_idx,
                        edit: &sc.req_edit,
                    };
                    let v = base.view(fe, Some(head), None);
                    fe.cfg
                        .monitor_fail
                        .iter()
                        .any(|c| crate::acl::cond_matches(&c.node, &fe.cfg.acls, &v))
                };
                tx.nolog = true;
                let _ = self
                    .reply_error(&mut tx, if fail { 503 } else { 200 })
                    .await;
                return After::Close;
            }
        }

        // --- frontend rules, switching, backend rules ---
        let mut flags = ReqFlags::default();
        let rctx = ReqCtx {
            client_keepalive: wants_keepalive(req_version, &req_info)
                && matches!(req_info.framing, Framing::None | Framing::Length(0)),
            http11: req_version == Version::Http11,
            proxy_conn: fe.cfg.options.http_use_proxy_header.is_some() && req_info.absolute_uri,
        };
        sc.out.clear();
        let verdict = {
            let base = self.base(fe, None);
            let head = ReqHead {
                buf: rb.data(),
                idx: &sc.req_idx,
            };
            rules::process_request(
                &base,
                fe,
                &head,
                &mut sc.req_edit,
                &mut flags,
                true,
                &rctx,
                &mut sc.out,
            )
        };
        if let Some(after) = self
            .handle_verdict(&verdict, fe, &flags, &mut tx, sc, rb)
            .await
        {
            return after;
        }
        let be_idx = match flags.set_backend {
            Some(b) => Some(b),
            None => {
                let base = self.base(fe, None);
                let head = ReqHead {
                    buf: rb.data(),
                    idx: &sc.req_idx,
                };
                rules::switch_backend(&base, fe, Some((&head, &sc.req_edit)), rb.data())
            }
        };
        let Some(be_idx) = be_idx else {
            // A frontend without a matching backend: 503 `<NOSRV>`.
            tx.term.set(Cause::ServerAbort, Phase::Connect);
            let _ = self.reply_error(&mut tx, 503).await;
            self.log(&tx, Some(&*sc), LogPoint::Close);
            return After::Close;
        };
        let be = &rt.proxies[be_idx];
        tx.be = be_idx;
        self.trace.set_proxy(be.name());
        self.reg.set_backend(be_idx);
        let _be_guard = enter_backend(be);
        tx.be_counted = true;
        if be_idx != fe.idx {
            sc.out.clear();
            let verdict = {
                let base = self.base(be, None);
                let head = ReqHead {
                    buf: rb.data(),
                    idx: &sc.req_idx,
                };
                rules::process_request(
                    &base,
                    be,
                    &head,
                    &mut sc.req_edit,
                    &mut flags,
                    false,
                    &rctx,
                    &mut sc.out,
                )
            };
            if let Some(after) = self
                .handle_verdict(&verdict, be, &flags, &mut tx, sc, rb)
                .await
            {
                return after;
            }
        }
        let mode = ConnMode::of(fe, be);

        // --- backend HTTP processing: persistence, X-Forwarded-For, Connection ---
        {
            let base = self.base(be, None);
            let head = HeadView {
                buf: rb.data(),
                idx: &sc.req_idx,
                edit: &sc.req_edit,
            };
            let v = base.view(be, Some(head), None);
            sc.persist.force = be
                .cfg
                .force_persist
                .iter()
                .any(|c| crate::acl::cond_matches(&c.node, &be.cfg.acls, &v));
            sc.persist.ignore = !sc.persist.force
                && be
                    .cfg
                    .ignore_persist
                    .iter()
                    .any(|c| crate::acl::cond_matches(&c.node, &be.cfg.acls, &v));
        }
        persist::request(
            be,
            rb.data(),
            &sc.req_idx,
            &mut sc.req_edit,
            &mut sc.persist,
        );
        // `capture cookie` looks at the request once the backend is known, as 1.4's
        // `manage_client_side_cookies` does (a request denied earlier logs `-`).
        if let Some(cc) = &fe.cfg.capture_cookie {
            sc.req_cookie_set = crate::log::capture::capture_request_cookie(
                sc.req_edit
                    .find(rb.data(), &sc.req_idx, b"cookie")
                    .map(|(_, v)| v),
                cc.name.as_bytes(),
                cc.len as usize,
                &mut sc.req_cookie_cap,
            );
        }
        add_forwarded_headers(
            fe,
            be,
            self.conn.peer(),
            self.local,
            rb.data(),
            &sc.req_idx,
            &mut sc.req_edit,
        );
        fix_request_connection(
            mode,
            be,
            req_version,
            rb.data(),
            &sc.req_idx,
            &mut sc.req_edit,
        );
        if !be.cfg.stick_rules.is_empty() {
            // Stick rules see the request as edited so far (1.4 runs them after
            // http_process_request).
            let base = self.base(be, None);
            let head = HeadView {
                buf: rb.data(),
                idx: &sc.req_idx,
                edit: &sc.req_edit,
            };
            let v = base.view(be, Some(head), None);
            let input = persist::StickInput {
                peer: self.conn.peer(),
                local: self.local,
                head: Some(persist::ReqHead {
                    buf: rb.data(),
                    idx: &sc.req_idx,
                    edit: &sc.req_edit,
                }),
            };
            persist::stick_request(
                be,
                &input,
                &mut |c| crate::acl::cond_matches(c, &be.cfg.acls, &v),
                &mut sc.persist,
            );
        }

        // --- server choice and connection ---
        let direct = sc.persist.server;
        let req = ConnectReq {
            be,
            direct,
            force_persist: sc.persist.force,
            client_dst: self.local,
            client_src: self.conn.peer(),
            fallback: connect::fallback_target(
                be,
                self.local,
                Some(sc.req_idx.uri().get(rb.data())),
            ),
            hdr_ip: {
                let src = be.cfg.source.as_ref().map(|s| &s.node);
                match src.and_then(|s| s.usesrc.as_ref()) {
                    Some(parser::ir::UseSrc::HdrIp { name, .. }) => connect::hdr_ip(
                        src,
                        sc.req_edit
                            .find(rb.data(), &sc.req_idx, name.as_bytes())
                            .map(|(_, v)| v),
                    ),
                    _ => None,
                }
            },
            redirectable: matches!(req_method, Method::Get | Method::Head),
            sockbuf: rt.global.sockbuf,
            smart_connect: be.cfg.options.tcp_smart_connect.is_some(),
            tcpka: be.cfg.options.srvtcpka.is_some() || be.cfg.options.tcpka.is_some(),
            nolinger: be.cfg.options.nolinger.is_some(),
        };
        let t_assign = tx.ms();
        self.reg.enter(
            &rt.streams,
            RegPhase::Connect,
            // From the clock read `t_assign` already made: no extra read per request.
            Proxy::timeout(&be.cfg.timeouts.connect).map(|d| tx.at(t_assign) + d),
        );
        let result = {
            let buf = rb.data();
            let idx = &sc.req_idx;
            let hdrs = EditHeaders {
                buf,
                idx,
                edit: &sc.req_edit,
            };
            let body = buf.get(head_end..).unwrap_or(&[]);
            // Balance on the request line as the rules left it (`reqrep` may rewrite the URI).
            let mut words = sc
                .req_edit
                .start_line(buf, idx)
                .split(|&b| b == b' ')
                .filter(|w| !w.is_empty());
            let method = words.next().unwrap_or(&[]);
            let uri = words.next().unwrap_or(&[]);
            let input = PickInput::http(
                self.conn.peer().ip(),
                HttpInput {
                    method,
                    uri,
                    headers: &hdrs,
                    body,
                },
            );
            let gone = super::tcp::client_closed(&self.conn.cli);
            connect::connect(&req, |avoid| be.pick(&input, avoid), gone).await
        };
        let conn = match result {
            Ok(c) => c,
            Err((fail, srv, tries)) => {
                tx.srv = srv;
                tx.retries = tries;
                self.reg.set_server(srv, -1, false, 0);
                if matches!(fail, ConnectFail::Refused | ConnectFail::Timeout) {
                    self.observe(be, srv, HanaStatus::L4Err);
                }
                let (term, t_queue) = super::stream::connect_failure(fail, t_assign, tx.ms());
                tx.term = term;
                tx.timers.queue = t_queue;
                if fail == ConnectFail::Redirect {
                    // Server `redir`: 302 to its prefix plus the request path.
                    let prefix = srv
                        .and_then(|i| be.servers[i].cfg.redir.clone())
                        .unwrap_or_default();
                    let path = crate::http1::uri_path(sc.req_idx.uri().get(rb.data()))
                        .unwrap_or(b"/")
                        .to_vec();
                    sc.out.clear();
                    let proxy_conn = sc.req_idx.info().absolute_uri
                        && fe.cfg.options.http_use_proxy_header.is_some();
                    crate::http1::write_server_redir(
                        &mut sc.out,
                        prefix.as_bytes(),
                        &path,
                        proxy_conn,
                    );
                    tx.status = 302;
                    let out = std::mem::take(&mut sc.out);
                    let _ = self.send_bytes(&mut tx, &out).await;
                    sc.out = out;
                } else {
                    // Every failure answers 503, even a client that left (`CC`/`CQ`): 1.4
                    // puts its page in the response buffer and counts it either way.
                    let _ = self.reply_error(&mut tx, 503).await;
                }
                self.log(&tx, Some(&*sc), LogPoint::Close);
                return After::Close;
            }
        };
        let srv_idx = conn.server;
        self.observe(be, srv_idx, HanaStatus::L4Ok);
        tx.srv = srv_idx;
        tx.retries = conn.retries;
        tx.redispatched = conn.redispatched;
        // Retries on the same server count in Tc (1.4 keeps `t_queue` from the first
        // assignment); a redispatch assigns again, so Tw runs until the last attempt.
        tx.timers.queue = t_assign
            + if conn.redispatched {
                conn.t_queue_ms
            } else {
                0
            };
        tx.timers.connect = tx.ms();
        let srv_sock = conn.stream;
        self.trace.server_connected(srv_sock.as_raw_fd());
        let _srv_guard = ServerGuard { be, idx: srv_idx };
        tx.srv_counted = srv_idx.is_some();
        self.reg.set_server(
            srv_idx,
            srv_sock.as_raw_fd(),
            srv_idx.is_some(),
            i32::try_from(be.retries().saturating_sub(conn.retries)).unwrap_or(0),
        );
        self.reg.enter(
            &rt.streams,
            RegPhase::WaitResponse,
            Proxy::timeout(&be.cfg.timeouts.server).map(|d| tx.at(tx.timers.connect) + d),
        );

        // `http-send-name-header`: the chosen server's name, replacing any such header.
        if let (Some(h), Some(i)) = (&be.cfg.http_send_name_header, srv_idx) {
            let ids: Vec<usize> = sc
                .req_edit
                .find(rb.data(), &sc.req_idx, h.node.as_bytes())
                .map(|(id, _)| id)
                .collect();
            for id in ids {
                let _ = sc.req_edit.delete(id);
            }
            let name = be.servers[i].cfg.name.as_bytes();
            let _ = sc.req_edit.append_with(|out| {
                out.extend_from_slice(h.node.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(name);
            });
        }

        // --- request head to the server ---
        sc.out.clear();
        sc.req_edit.write(rb.data(), &sc.req_idx, &mut sc.out);
        if write_bytes(&srv_sock, &sc.out).await.is_err() {
            tx.term.set(Cause::ServerAbort, Phase::Connect);
            let _ = self.reply_error(&mut tx, 503).await;
            self.log(&tx, Some(&*sc), LogPoint::Close);
            return After::Close;
        }
        rb.consume(head_end);

        let client_to = Proxy::timeout(&fe.cfg.timeouts.client);
        let server_to = Proxy::timeout(&be.cfg.timeouts.server);
        let rs_opts = ParseOptions {
            max_head: rt.global.bufsize.saturating_sub(rt.global.maxrewrite),
            accept_invalid: be.cfg.options.accept_invalid_http_response.is_some(),
        };
        let req_counts = Cell::new(0u64);
        let mut resbuf = Buf::take(rt.global.bufsize);
        tx.client_ka = mode == ConnMode::ServerClose && wants_keepalive(req_version, &req_info);

        // The request body (or, in tunnel modes, everything the client sends) flows while we
        // wait for the response head.
        let tunnel_like = !mode.analyses_all();
        let mut req_body = BodyState::new(req_info.framing);
        let last = Cell::new(Instant::now());
        // Shared by the two tunnel directions (see `tunnel::pump`).
        let ended = Cell::new(false);
        let cfg = tunnel_cfg(rt, client_to, server_to);
        let cli = &self.conn.cli;
        let up = async {
            if tunnel_like {
                // Tunnel: forward what is buffered, then everything until the client closes.
                if !rb.is_empty() {
                    if write_bytes(&srv_sock, rb.data()).await.is_err() {
                        return Err(Fail::abort(Side::Server));
                    }
                    req_counts.set(req_counts.get() + rb.len() as u64);
                }
                // The tunnel moves bytes with buffers of its own: the request buffer is
                // not read into again.
                rb.release();
                let counts = Cell::new(TunnelBytes::default());
                let r = tunnel::pump(
                    cli,
                    &srv_sock,
                    Side::Client,
                    cfg,
                    &last,
                    &counts,
                    true,
                    &ended,
                )
                .await;
                req_counts.set(req_counts.get() + counts.get().req);
                r.map_err(Fail::abort)
            } else {
                forward_body(
                    cli,
                    &srv_sock,
                    rb,
                    &mut req_body,
                    client_to,
                    server_to,
                    &req_counts,
                    Side::Client,
                    false,
                )
                .await
            }
        };
        tokio::pin!(up);
        let mut up_res: Option<Result<(), Fail>> = None;
        let down_res = {
            let base = self.base(be, srv_idx.map(|i| be.servers[i].puid));
            let down = self.response(
                be,
                mode,
                req_method,
                &rs_opts,
                &srv_sock,
                &mut resbuf,
                sc,
                &mut tx,
                server_to,
                &base,
            );
            tokio::pin!(down);
            loop {
                tokio::select! {
                    r = &mut up, if up_res.is_none() => {
                        up_res = Some(r);
                        if up_res == Some(Err(Fail::abort(Side::Client))) {
                            // The client went away while we waited for the server. A client
                            // timeout here is not fatal: 1.4 suspends the client's timeout
                            // while the server has to answer, `timeout server` decides.
                            break RespOutcome::ClientGone;
                        }
                    }
                    r = &mut down => break r,
                }
            }
        };
        let mut client_keepalive = false;
        match down_res {
            RespOutcome::ClientGone => {
                tx.term.set(Cause::ClientAbort, Phase::Headers);
                be.be_counters.cli_abrt.fetch_add(1, Relaxed);
            }
            RespOutcome::Failed => {}
            RespOutcome::Upgrade | RespOutcome::Sent { .. }
                if tunnel_like || matches!(down_res, RespOutcome::Upgrade) =>
            {
                // Flush what came with the head, then tunnel the rest both ways.
                self.reg.enter(&rt.streams, RegPhase::Tunnel, None);
                sc.release_heads();
                let counts = Cell::new(TunnelBytes::default());
                let mut failed = None;
                if !resbuf.is_empty() {
                    if write_bytes(cli, resbuf.data()).await.is_err() {
                        failed = Some(Fail::abort(Side::Client));
                    }
                    tx.bytes_out += resbuf.len() as u64;
                    resbuf.clear();
                }
                drop(resbuf);
                if failed.is_none() {
                    let down = tunnel::pump(
                        &srv_sock,
                        cli,
                        Side::Server,
                        cfg,
                        &last,
                        &counts,
                        false,
                        &ended,
                    );
                    let both = async {
                        if up_res.is_some() {
                            down.await.map_err(Fail::abort)
                        } else {
                            // An error on either side ends both at once (a reset server must
                            // not leave us waiting for the client's FIN until its timeout).
                            let down = async { down.await.map_err(Fail::abort) };
                            tokio::try_join!(&mut up, down).map(|_| ())
                        }
                    };
                    tokio::select! {
                        r = both => if let Err(f) = r { failed = Some(f) },
                        end = tunnel::idle_watch(&last, cfg) => {
                            let cause = if end == tunnel::TunnelEnd::ClientTimeout { Cause::ClientTimeout } else { Cause::ServerTimeout };
                            tx.term.set(cause, Phase::Data);
                        }
                    }
                }
                tx.bytes_out += counts.get().res;
                if let Some(f) = failed {
                    self.data_abort(&mut tx, be, f);
                }
            }
            RespOutcome::Upgrade => {}
            RespOutcome::Sent {
                res_framing,
                mut res_body,
                server_close,
            } => {
                // Framed response body; the request body may still be flowing.
                let res_counts = Cell::new(0u64);
                let until_close = res_framing == Framing::UntilClose;
                let down = forward_body(
                    &srv_sock,
                    cli,
                    &mut resbuf,
                    &mut res_body,
                    server_to,
                    client_to,
                    &res_counts,
                    Side::Server,
                    until_close,
                );
                let r = if up_res.is_some() {
                    down.await
                } else {
                    // The first error ends the transaction: a server that failed mid-body
                    // must not wait for the rest of the request body, nor the reverse.
                    let r = tokio::try_join!(&mut up, down).map(|_| ());
                    if r.is_ok() {
                        up_res = Some(Ok(()));
                    }
                    r
                };
                tx.bytes_out += res_counts.get();
                match r {
                    Ok(()) => {
                        client_keepalive = mode == ConnMode::ServerClose
                            && !server_close
                            && up_res == Some(Ok(()))
                            && wants_keepalive(req_version, &req_info);
                        if client_keepalive {
                            // 1.4 `http_end_txn_clean_session`: the server side of a
                            // finished server-close transaction is closed without
                            // lingering, a reset that leaves no LAST_ACK or TIME_WAIT
                            // behind on either host.
                            let _ =
                                socket2::SockRef::from(&srv_sock).set_linger(Some(Duration::ZERO));
                        }
                    }
                    Err(f) => self.data_abort(&mut tx, be, f),
                }
                drop(resbuf);
            }
        }
        tx.bytes_in += req_counts.get();
        let point = if client_keepalive {
            LogPoint::KeepAlive
        } else {
            LogPoint::Close
        };
        self.log(&tx, Some(sc), point);
        if client_keepalive {
            After::KeepAlive
        } else {
            After::Close
        }
    }

    /// Records how the data phase stopped early: `CD`/`cD` (client abort/timeout), `SD`/`sD`
    /// (server abort/timeout), `PD` (invalid body), with 1.4's abort counters.
    fn data_abort(&self, tx: &mut Txn, be: &Proxy, f: Fail) {
        let cause = match (f.side, f.kind) {
            (_, FailKind::Invalid) => Cause::Proxy,
            (Side::Client, FailKind::Timeout) => Cause::ClientTimeout,
            (Side::Client, FailKind::Abort) => Cause::ClientAbort,
            (Side::Server, FailKind::Timeout) => Cause::ServerTimeout,
            (Side::Server, FailKind::Abort) => Cause::ServerAbort,
        };
        tx.term.set(cause, Phase::Data);
        if f.kind == FailKind::Invalid {
            return;
        }
        let srv = tx.srv.and_then(|s| be.servers.get(s));
        if f.side == Side::Client {
            be.be_counters.cli_abrt.fetch_add(1, Relaxed);
            if let Some(s) = srv {
                s.counters.cli_abrt.fetch_add(1, Relaxed);
            }
        } else {
            be.be_counters.srv_abrt.fetch_add(1, Relaxed);
            if let Some(s) = srv {
                s.counters.srv_abrt.fetch_add(1, Relaxed);
            }
        }
    }

    /// Passive health (`observe layer4|layer7`): reports what traffic saw of server `srv`.
    fn observe(&self, be: &Proxy, srv: Option<usize>, status: HanaStatus) {
        if let Some(i) = srv.filter(|&i| be.servers.get(i).is_some_and(|s| s.cfg.observe.is_some()))
        {
            crate::check::observe(
                self.rt,
                crate::check::ServerId {
                    proxy: be.idx,
                    server: i,
                },
                status,
            );
        }
    }

    fn base<'b>(&'b self, be: &'b Proxy, server_id: Option<u32>) -> Base<'b> {
        Base {
            rt: self.rt,
            fe: self.fe,
            be,
            server_id,
            peer: self.conn.peer(),
            local: self.local,
            luid: self.conn.info.luid,
            first_req: self.txn_no == 0,
            capacity: self
                .rt
                .global
                .bufsize
                .saturating_sub(self.rt.global.maxrewrite),
        }
    }

    /// Acts on a rule verdict of `px`'s rule set; `Some(after)` when the transaction ends
    /// here. Denials by `reqdeny`/`reqtarpit` were already counted by the rules (1.4 counts
    /// neither `block` nor `http-request deny` in `dreq`).
    async fn handle_verdict(
        &mut self,
        v: &ReqVerdict,
        px: &Proxy,
        flags: &ReqFlags,
        tx: &mut Txn,
        sc: &mut Scratch,
        rb: &mut Buf,
    ) -> Option<After> {
        match v {
            ReqVerdict::Continue => None,
            ReqVerdict::Deny => {
                tx.term.set(Cause::Proxy, Phase::Request);
                let _ = self.reply_error(tx, 403).await;
                self.finish_reply(tx, sc);
                Some(After::Close)
            }
            ReqVerdict::BadRequest => {
                self.fe.fe_counters.ereq.fetch_add(1, Relaxed);
                tx.term.set(Cause::Proxy, Phase::Request);
                let _ = self.reply_error(tx, 400).await;
                self.finish_reply(tx, sc);
                Some(After::Close)
            }
            ReqVerdict::Tarpit => {
                // 1.4 uses the timeout of its current backend (`reqsetbe` may have switched).
                let be = match flags.set_backend {
                    Some(i) if px.idx == self.fe.idx => self.rt.proxies.get(i).unwrap_or(px),
                    _ => px,
                };
                // (The parser already made an unset tarpit timeout fall back to connect.)
                let t = Proxy::timeout(&be.cfg.timeouts.tarpit);
                // The request is dropped; hold the client, but stop early if it goes away.
                // Either way 1.4 answers 500 and logs `PT`, with the time held as Tq.
                rb.clear();
                if let Some(d) = t {
                    let _ =
                        tokio::time::timeout(d, super::tcp::client_closed(&self.conn.cli)).await;
                }
                tx.timers.queue = tx.ms();
                tx.term.set(Cause::Proxy, Phase::Tarpit);
                let _ = self.reply_error(tx, 500).await;
                self.finish_reply(tx, sc);
                Some(After::Close)
            }
            ReqVerdict::Auth { realm } => {
                let proxy_req = sc.req_idx.info().absolute_uri
                    && self.fe.cfg.options.http_use_proxy_header.is_some();
                sc.out.clear();
                if proxy_req {
                    crate::http1::write_407(&mut sc.out, realm.as_bytes());
                } else {
                    crate::http1::write_401(&mut sc.out, realm.as_bytes());
                }
                // 1.4 logs 401 for both.
                tx.status = 401;
                tx.term.set(Cause::Proxy, Phase::Request);
                let out = std::mem::take(&mut sc.out);
                let _ = self.send_bytes(tx, &out).await;
                sc.out = out;
                self.finish_reply(tx, sc);
                Some(After::Close)
            }
            ReqVerdict::Redirect { keep_alive } => {
                tx.status = i32::from(parse_status(&sc.out));
                tx.term.set(Cause::Proxy, Phase::Request);
                let out = std::mem::take(&mut sc.out);
                let after = if *keep_alive {
                    // The request had no body: drop its head and serve the next one.
                    rb.consume(sc.req_idx.head_end());
                    if write_bytes(&self.conn.cli, &out).await.is_ok() {
                        tx.bytes_out += out.len() as u64;
                        After::KeepAlive
                    } else {
                        After::Close
                    }
                } else {
                    let _ = self.send_bytes(tx, &out).await;
                    After::Close
                };
                sc.out = out;
                self.finish_reply(tx, sc);
                Some(after)
            }
            ReqVerdict::Stats => {
                tx.stats = true;
                tx.term.set(Cause::Proxy, Phase::Request);
                // `stats admin if <cond>` (1.4 `STAT_ADMIN`), evaluated on this proxy.
                let admin = {
                    let base = self.base(px, None);
                    let head = HeadView {
                        buf: rb.data(),
                        idx: &sc.req_idx,
                        edit: &sc.req_edit,
                    };
                    let v = base.view(px, Some(head), None);
                    px.cfg.stats.as_ref().is_some_and(|st| {
                        st.admin
                            .iter()
                            .any(|c| crate::acl::cond_matches(&c.node, &px.cfg.acls, &v))
                    })
                };
                // An admin POST needs its body (the form); read it into the request buffer.
                let body_end = if admin && sc.req_idx.method() == Method::Post {
                    self.read_stats_body(sc, rb).await
                } else {
                    None
                };
                sc.out.clear();
                let status = {
                    let head = ReqHead {
                        buf: rb.data(),
                        idx: &sc.req_idx,
                    };
                    let body = match body_end {
                        None => crate::stats::http::PostBody::NotRead,
                        Some(Ok(end)) => crate::stats::http::PostBody::Complete(
                            rb.data().get(sc.req_idx.head_end()..end).unwrap_or(&[]),
                        ),
                        Some(Err(())) => crate::stats::http::PostBody::TooLarge,
                    };
                    let ctx = crate::stats::http::StatsCtx { admin, body };
                    crate::stats::http::serve(self.rt, px, &head, &sc.req_edit, &ctx, &mut sc.out)
                };
                tx.status = i32::from(status);
                let out = std::mem::take(&mut sc.out);
                let _ = self.send_bytes(tx, &out).await;
                sc.out = out;
                self.finish_reply(tx, sc);
                Some(After::Close)
            }
        }
    }

    /// Counts and logs a transaction the rules answered themselves (1.4 counts every status
    /// in the `hrsp_*` of the frontend and, once one is assigned, of the backend).
    fn finish_reply(&self, tx: &Txn, sc: &Scratch) {
        // `log` also counts the transaction.
        self.log(tx, Some(sc), LogPoint::Close);
    }

    /// Reads the body of a stats admin POST (`Content-Length` bytes) into `rb`, after an
    /// `HTTP/1.1 100 Continue` when the client expects one (1.4 `http_process_req_common`).
    /// `Some(Ok(end))`: the body ends at `end` in `rb`; `Some(Err(()))`: it cannot fit in the
    /// buffer, or the client stopped sending (1.4 answers `;st=EXCD`).
    async fn read_stats_body(&self, sc: &Scratch, rb: &mut Buf) -> Option<Result<usize, ()>> {
        let info = sc.req_idx.info();
        let len = match info.framing {
            Framing::Length(n) => usize::try_from(n).unwrap_or(usize::MAX),
            _ => 0,
        };
        let end = sc.req_idx.head_end().saturating_add(len);
        let limit = self
            .rt
            .global
            .bufsize
            .saturating_sub(self.rt.global.maxrewrite);
        // 1.4 answers `100 Continue` to an HTTP/1.1 `Expect: 100-continue` before looking at
        // the body, whatever its size.
        if info.expect_continue && sc.req_idx.version() == Version::Http11 {
            let _ = write_bytes(&self.conn.cli, b"HTTP/1.1 100 Continue\r\n\r\n").await;
        }
        if end >= limit {
            return Some(Err(()));
        }
        let deadline = self.head_timeout().map(|d| Instant::now() + d);
        while rb.len() < end {
            match read_some(&self.conn.cli, rb, deadline).await {
                ReadOutcome::Data => {}
                _ => return Some(Err(())),
            }
        }
        Some(Ok(end))
    }

    /// Reads and processes the response head, sends it (or an error) to the client.
    #[allow(clippy::too_many_arguments)]
    async fn response(
        &self,
        be: &Proxy,
        mode: ConnMode,
        req_method: Method,
        opts: &ParseOptions,
        srv: &TcpStream,
        resbuf: &mut Buf,
        sc: &mut Scratch,
        tx: &mut Txn,
        server_to: Option<Duration>,
        base: &Base<'_>,
    ) -> RespOutcome {
        let fe = self.fe;
        let srv_counters = tx.srv.map(|i| &be.servers[i].counters);
        loop {
            sc.res_idx.clear();
            let deadline = server_to.map(|d| Instant::now() + d);
            loop {
                let parsed = sc.res_idx.parse_response(resbuf.data(), opts, req_method);
                match parsed {
                    Parse::Complete => break,
                    Parse::Incomplete => {}
                    Parse::TooLarge | Parse::Invalid(_) => {
                        if let Parse::Invalid(e) = parsed {
                            if !e.is_framing() {
                                self.capture_bad(
                                    be,
                                    snapshot::Side::Response,
                                    resbuf.data(),
                                    opts.accept_invalid,
                                    tx.srv.map(|s| (be.idx, s)),
                                );
                            }
                        }
                        be.be_counters.eresp.fetch_add(1, Relaxed);
                        if let Some(c) = srv_counters {
                            c.eresp.fetch_add(1, Relaxed);
                        }
                        self.observe(be, tx.srv, HanaStatus::HttpHdrRsp);
                        tx.term.set(Cause::Proxy, Phase::Headers);
                        // 1.4 counts what it read from the server before its error page.
                        tx.bytes_out += resbuf.len() as u64;
                        let _ = self.reply_error(tx, 502).await;
                        return RespOutcome::Failed;
                    }
                }
                match read_some(srv, resbuf, deadline).await {
                    ReadOutcome::Data => {}
                    ReadOutcome::Full => {
                        be.be_counters.eresp.fetch_add(1, Relaxed);
                        tx.term.set(Cause::Proxy, Phase::Headers);
                        // 1.4 counts what it read from the server before its error page.
                        tx.bytes_out += resbuf.len() as u64;
                        let _ = self.reply_error(tx, 502).await;
                        return RespOutcome::Failed;
                    }
                    ReadOutcome::Eof | ReadOutcome::Error => {
                        be.be_counters.eresp.fetch_add(1, Relaxed);
                        be.be_counters.srv_abrt.fetch_add(1, Relaxed);
                        self.observe(be, tx.srv, HanaStatus::HttpBrokenPipe);
                        tx.term.set(Cause::ServerAbort, Phase::Headers);
                        // 1.4 counts what it read from the server before its error page.
                        tx.bytes_out += resbuf.len() as u64;
                        let _ = self.reply_error(tx, 502).await;
                        return RespOutcome::Failed;
                    }
                    ReadOutcome::Timeout => {
                        be.be_counters.eresp.fetch_add(1, Relaxed);
                        self.observe(be, tx.srv, HanaStatus::HttpReadTimeout);
                        tx.term.set(Cause::ServerTimeout, Phase::Headers);
                        // 1.4 counts what it read from the server before its error page.
                        tx.bytes_out += resbuf.len() as u64;
                        let _ = self.reply_error(tx, 504).await;
                        return RespOutcome::Failed;
                    }
                }
            }
            // The head as the server sent it, interim ones included (1.4
            // `http_wait_for_response`).
            self.trace.head(Dir::Response, resbuf.data(), &sc.res_idx);
            let status = sc.res_idx.status();
            let head_end = sc.res_idx.head_end();
            if (100..200).contains(&status) && status != 101 {
                // Interim response: forwarded as is; the final one follows.
                let head = resbuf.data().get(..head_end).unwrap_or(&[]);
                if write_bytes(&self.conn.cli, head).await.is_err() {
                    tx.term.set(Cause::ClientAbort, Phase::Headers);
                    return RespOutcome::Failed;
                }
                tx.bytes_out += head_end as u64;
                resbuf.consume(head_end);
                continue;
            }
            break;
        }
        tx.timers.data = tx.ms();
        let status = sc.res_idx.status();
        tx.status = i32::from(status);
        self.reg.set_status(tx.status);
        self.reg.enter(&self.rt.streams, RegPhase::Data, None);
        // 1.4 `http_wait_for_response`: 5xx other than 501/505 count as server errors.
        let hana = if (500..600).contains(&status) && status != 501 && status != 505 {
            HanaStatus::HttpSts
        } else {
            HanaStatus::HttpOk
        };
        self.observe(be, tx.srv, hana);
        let head_end = sc.res_idx.head_end();
        let res_info = *sc.res_idx.info();
        capture_headers(
            &fe.cfg.capture_response_headers,
            resbuf.data(),
            &sc.res_idx,
            &mut sc.res_caps,
        );
        sc.res_edit.reset(&sc.res_idx);

        // Response rules: backend first, then frontend.
        let req_view = None;
        let mut verdict = rules::process_response(
            base,
            be,
            req_view,
            resbuf.data(),
            &sc.res_idx,
            &mut sc.res_edit,
        );
        if verdict == ResVerdict::Continue && be.idx != fe.idx {
            verdict = rules::process_response(
                base,
                fe,
                req_view,
                resbuf.data(),
                &sc.res_idx,
                &mut sc.res_edit,
            );
        }
        match verdict {
            ResVerdict::Continue => {}
            ResVerdict::Deny | ResVerdict::Invalid => {
                // `rspdeny` counted `dresp` on its proxy; a broken rewrite is a bad response.
                if verdict == ResVerdict::Invalid {
                    be.be_counters.eresp.fetch_add(1, Relaxed);
                    if let Some(c) = srv_counters {
                        c.eresp.fetch_add(1, Relaxed);
                    }
                }
                tx.term.set(Cause::Proxy, Phase::Headers);
                // 1.4 counts what it read from the server before replacing it.
                tx.bytes_out += resbuf.len() as u64;
                let _ = self.reply_error(tx, 502).await;
                return RespOutcome::Failed;
            }
        }
        // `rsprep` may have rewritten the status line; 1.4 logs the new code.
        tx.status = i32::from(rules::status_of_line(
            sc.res_edit.start_line(resbuf.data(), &sc.res_idx),
        ));
        let set_cookie = be.cfg.options.checkcache.is_some()
            && rules::has_set_cookie(resbuf.data(), &sc.res_idx, &sc.res_edit);
        persist::response(
            be,
            tx.srv,
            req_method,
            resbuf.data(),
            &sc.res_idx,
            &mut sc.res_edit,
            &mut sc.persist,
        );
        if rules::checkcache_blocks(
            be,
            req_method,
            status,
            set_cookie,
            resbuf.data(),
            &sc.res_idx,
            &sc.res_edit,
        ) {
            self.checkcache_alert(be, tx.srv);
            tx.term.set(Cause::Proxy, Phase::Headers);
            let _ = self.reply_error(tx, 502).await;
            return RespOutcome::Failed;
        }
        // In http-server-close mode the server closes after each response because we asked
        // it to: only a body delimited by the close prevents keeping the client.
        let server_close = res_info.framing == Framing::UntilClose
            || (mode != ConnMode::ServerClose && res_info.connection.close);
        let keep_client = tx.client_ka && !server_close;
        fix_response_connection(
            mode,
            keep_client,
            sc.req_idx.version(),
            sc.res_idx.version(),
            resbuf.data(),
            &sc.res_idx,
            &mut sc.res_edit,
        );

        if let Some(cc) = &fe.cfg.capture_cookie {
            sc.res_cookie_set = crate::log::capture::capture_response_cookie(
                sc.res_edit
                    .find(resbuf.data(), &sc.res_idx, b"set-cookie")
                    .map(|(_, v)| v),
                cc.name.as_bytes(),
                cc.len as usize,
                &mut sc.res_cookie_cap,
            );
        }

        sc.out.clear();
        sc.res_edit.write(resbuf.data(), &sc.res_idx, &mut sc.out);
        if fe.cfg.options.logasap.is_some() {
            // `option logasap`: the line goes now, with Tt = Tr and, as bytes, the edited head
            // without its final empty line (1.4 logs `rsp.eoh` at this point).
            let eoh = sc.out.len()
                - if sc.out.ends_with(b"\r\n\r\n") {
                    2
                } else {
                    usize::from(sc.out.ends_with(b"\n\n"))
                };
            let total = tx.bytes_out;
            tx.bytes_out = eoh as u64;
            self.log(tx, Some(&*sc), LogPoint::Early);
            tx.bytes_out = total;
            tx.logged = true;
        }
        // 1.4 counts the head as it came from the server: its own edits are not counted.
        tx.bytes_out += head_end as u64;
        // The body bytes that came with the head go out in the same write when the socket
        // takes them at once: one segment and one wake-up of the client instead of two
        // (HAProxy sends its buffer the same way). What the socket does not take follows
        // by the usual paths: the rest of the head here, the body in the caller.
        let tunnel_after = status == 101 || !mode.analyses_all();
        let mut res_body = BodyState::new(res_info.framing);
        let extra = resbuf.data().get(head_end..).unwrap_or(&[]);
        let ahead = if tunnel_after {
            extra.len()
        } else {
            let mut probe = res_body;
            probe.feed(extra).map_or(0, |p| p.consumed)
        };
        let written = try_write_pair(&self.conn.cli, &sc.out, extra.get(..ahead).unwrap_or(&[]));
        let head_left = sc.out.get(written..).unwrap_or(&[]);
        if !head_left.is_empty() && write_bytes(&self.conn.cli, head_left).await.is_err() {
            tx.term.set(Cause::ClientAbort, Phase::Data);
            be.be_counters.cli_abrt.fetch_add(1, Relaxed);
            return RespOutcome::Failed;
        }
        let sent_body = written.saturating_sub(sc.out.len());
        if sent_body > 0 && !tunnel_after {
            // A prefix of what the probe accepted: it is accepted again.
            let _ = res_body.feed(extra.get(..sent_body).unwrap_or(&[]));
        }
        tx.bytes_out += sent_body as u64;
        resbuf.consume(head_end + sent_body);
        if status == 101 {
            return RespOutcome::Upgrade;
        }
        RespOutcome::Sent {
            res_framing: res_info.framing,
            res_body,
            server_close,
        }
    }

    /// `option checkcache` blocked a response: 1.4 counts it in the frontend's `dresp` and
    /// sends an alert to the backend's log targets and stderr.
    fn checkcache_alert(&self, be: &Proxy, srv: Option<usize>) {
        rules::count_denied_resp(self.fe);
        let srv_name = srv
            .and_then(|i| be.servers.get(i))
            .map_or("<dispatch>", |s| s.cfg.name.as_str());
        let msg = format!(
            "Blocking cacheable cookie in response from instance {}, server {}.",
            be.cfg.name, srv_name
        );
        crate::log::stderr_alert(&msg);
        be.logger.send_str(crate::log::Level::Alert, &msg);
    }

    /// Records an invalid request (in the frontend) or response (in the backend) for `show
    /// errors`; `srv` is the server of the response, as (backend index, server index).
    fn capture_bad(
        &self,
        px: &Proxy,
        side: snapshot::Side,
        msg: &[u8],
        accept_invalid: bool,
        srv: Option<(usize, usize)>,
    ) {
        let kind = match side {
            snapshot::Side::Request => Kind::Request,
            snapshot::Side::Response => Kind::Response,
        };
        let info = CaptureInfo {
            sid: self.reg.uniq_id(),
            src: self.conn.peer().ip(),
            // A request's other side is the stream's backend, still the frontend while the
            // request is parsed; a response's is the frontend.
            oe: self.fe.idx,
            srv,
            state: snapshot::HTTP_MSG_ERROR,
            flags: snapshot::BF_READ_PARTIAL,
            pos: crate::http1::error_offset(msg, kind, accept_invalid),
        };
        snapshot::capture(
            px,
            side,
            &self.rt.error_events,
            self.rt.global.bufsize,
            msg,
            info,
        );
    }

    /// Counts the transaction's status and bytes on the frontend, backend and server.
    fn account(&self, tx: &Txn, be: &Proxy) {
        self.reg.set_status(tx.status);
        self.reg.add_bytes(tx.bytes_in, tx.bytes_out);
        let fe = self.fe;
        if tx.status > 0 {
            let st = tx.status as u16;
            fe.fe_counters.count_status(st);
            if be.idx != fe.idx || be.cfg.kind.has_be() {
                be.be_counters.count_status(st);
            }
            if let Some(s) = tx.srv {
                be.servers[s].counters.count_status(st);
            }
        }
        fe.fe_counters.bin.fetch_add(tx.bytes_in, Relaxed);
        fe.fe_counters.bout.fetch_add(tx.bytes_out, Relaxed);
        be.be_counters.bin.fetch_add(tx.bytes_in, Relaxed);
        be.be_counters.bout.fetch_add(tx.bytes_out, Relaxed);
        if let Some(s) = tx.srv {
            be.servers[s].counters.bin.fetch_add(tx.bytes_in, Relaxed);
            be.servers[s].counters.bout.fetch_add(tx.bytes_out, Relaxed);
        }
    }

    /// Sends the canned (or `errorfile`) response for `status` and records it.
    async fn reply_error(&self, tx: &mut Txn, status: u16) -> std::io::Result<()> {
        let be = &self.rt.proxies[tx.be];
        let msg = be
            .errors
            .get(status)
            .or_else(|| self.fe.errors.get(status))
            .or_else(|| canned::error_message(status))
            .unwrap_or(canned::HTTP_503);
        // 1.4 logs the status it meant, even when `errorloc` sends a 302 instead.
        tx.status = i32::from(status);
        self.send_bytes(tx, msg).await
    }

    async fn send_bytes(&self, tx: &mut Txn, bytes: &[u8]) -> std::io::Result<()> {
        let r = write_bytes(&self.conn.cli, bytes).await;
        // 1.4 counts a reply of its own when it enters the response buffer, whether or not
        // the client is still there to read it.
        tx.bytes_out += bytes.len() as u64;
        // 1.4 closes after its own replies: shut our side so the client sees the end.
        let _ = tunnel::shutdown_write(&self.conn.cli);
        r
    }

    /// Emits the traffic log line of a transaction (1.4 `http_sess_log`), once: `sc` holds
    /// the request line, the captures and the persistence flags (`None` before a request
    /// started). `point` says which of our own connection counts 1.4 had already released.
    /// Every finished transaction is also counted here (once), the ones answered by haproxide
    /// itself (errors, redirects, stats, 401) included, as 1.4 does in `http_end_txn`.
    fn log(&self, tx: &Txn, sc: Option<&Scratch>, point: LogPoint) {
        if point != LogPoint::Early && !tx.accounted.replace(true) {
            self.account(tx, &self.rt.proxies[tx.be]);
        }
        if tx.nolog || tx.logged {
            return;
        }
        let fe = self.fe;
        let logger = &fe.logger;
        if logger.is_empty() {
            return;
        }
        let opts = crate::log::TrafficLogOptions {
            dontlognull: fe.cfg.options.dontlognull.is_some(),
            dontlog_normal: fe.cfg.options.dontlog_normal.is_some(),
            log_separate_errors: fe.cfg.options.log_separate_errors.is_some(),
        };
        if !crate::log::stream_is_logged(opts.dontlognull, tx.bytes_in, false) {
            return;
        }
        let be = &self.rt.proxies[tx.be];
        let srv = tx.srv.and_then(|i| be.servers.get(i));
        let mut t = TxnLog::new(self.conn.peer(), tx.date, &fe.cfg.name, &be.cfg.name);
        t.server = match (tx.stats, srv) {
            (true, _) => ServerField::Stats,
            (false, Some(s)) => ServerField::Named(&s.cfg.name),
            (false, None) => ServerField::NoServer,
        };
        let mut timers = tx.timers;
        timers.close = if point == LogPoint::Early {
            tx.timers.data
        } else {
            tx.ms()
        };
        t.timers = timers;
        t.logasap = fe.cfg.options.logasap.is_some();
        t.status = tx.status;
        t.bytes_out = tx.bytes_out;
        let (rq, rs) = sc
            .map(|sc| (sc.persist.req_cookie, sc.persist.res_cookie))
            .unwrap_or_default();
        t.term = TermState::new(tx.term, rq, rs);
        t.cookie_configured = persist::cookie_logged(be);
        // 1.4 releases `beconn` before logging the end of a transaction, and `actconn`,
        // `feconn` and the server slot too when the connection ends (`process_session`
        // end, `http_end_txn_clean_session`); the shared counters still hold ours.
        let closing = u32::from(point == LogPoint::Close);
        let be_own = u32::from(tx.be_counted && point != LogPoint::Early);
        let srv_own = u32::from(tx.srv_counted) * closing;
        t.actconn = self.rt.actconn.load(Relaxed).saturating_sub(closing);
        t.feconn = fe.feconn.load(Relaxed).saturating_sub(closing);
        t.beconn = be.beconn.load(Relaxed).saturating_sub(be_own);
        t.srv_conn = srv
            .map(|s| s.cur_sess.load(Relaxed).saturating_sub(srv_own))
            .unwrap_or(0);
        t.retries = tx.retries;
        t.redispatched = tx.redispatched;
        if let Some(sc) = sc {
            t.captured_request_cookie = sc.req_cookie_set.then_some(&sc.req_cookie_cap[..]);
            t.captured_response_cookie = sc.res_cookie_set.then_some(&sc.res_cookie_cap[..]);
        }
        let rq_caps: Vec<Option<&[u8]>>;
        if !fe.cfg.capture_request_headers.is_empty() {
            rq_caps = (0..fe.cfg.capture_request_headers.len())
                .map(|i| {
                    sc.and_then(|sc| sc.req_caps.get(i))
                        .and_then(|v| v.as_deref())
                })
                .collect();
            t.request_captures = Some(&rq_caps);
        }
        let rs_caps: Vec<Option<&[u8]>>;
        if !fe.cfg.capture_response_headers.is_empty() {
            rs_caps = (0..fe.cfg.capture_response_headers.len())
                .map(|i| {
                    sc.and_then(|sc| sc.res_caps.get(i))
                        .and_then(|v| v.as_deref())
                })
                .collect();
            t.response_captures = Some(&rs_caps);
        }
        t.request_line = match sc {
            Some(sc) if tx.parsed => Some(&sc.req_line),
            _ => None,
        };
        crate::log::send_traffic_log(logger, fe.cfg.log_format.node, &opts, &t);
    }
}

/// Releases the server slot (maxconn, leastconn, stats) when the transaction ends.
struct ServerGuard<'a> {
    be: &'a Proxy,
    idx: Option<usize>,
}

impl Drop for ServerGuard<'_> {
    fn drop(&mut self) {
        if let Some(i) = self.idx {
            self.be.server_conn_end(i);
        }
    }
}

enum RespOutcome {
    /// An error was sent instead of the response (or the client went away).
    Failed,
    /// The client aborted while we waited for the response head.
    ClientGone,
    /// The response head was sent.
    Sent {
        res_framing: Framing,
        /// The body's state after the part sent with the head.
        res_body: BodyState,
        server_close: bool,
    },
    /// 101: switch to a tunnel.
    Upgrade,
}

fn tunnel_cfg(rt: &Runtime, client: Option<Duration>, server: Option<Duration>) -> TunnelCfg {
    TunnelCfg {
        client_timeout: client,
        server_timeout: server,
        bufsize: rt.global.bufsize,
        splice: false,
    }
}

/// The status code of a canned response (`HTTP/1.x NNN ...`), 0 if unreadable.
fn parse_status(msg: &[u8]) -> u16 {
    msg.get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Whether the client asked to keep its connection (HTTP/1.1 without `close`, or 1.0 with
/// `keep-alive`).
fn wants_keepalive(v: Version, info: &crate::http1::MsgInfo) -> bool {
    match v {
        Version::Http11 => !info.connection.close,
        Version::Http10 => info.connection.keep_alive && !info.connection.close,
    }
}

/// Why a forwarding direction stopped before the end of its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FailKind {
    /// Closed or reset (`C`/`S`).
    Abort,
    /// No progress for the side's timeout (`c`/`s`).
    Timeout,
    /// The body could not be parsed (`P`).
    Invalid,
}

/// A forwarding direction that stopped early: the side at fault and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fail {
    side: Side,
    kind: FailKind,
}

impl Fail {
    fn abort(side: Side) -> Fail {
        Fail {
            side,
            kind: FailKind::Abort,
        }
    }

    fn timeout(side: Side) -> Fail {
        Fail {
            side,
            kind: FailKind::Timeout,
        }
    }
}

/// One non-blocking vectored write of `a` then `b`: how many bytes the socket took. 0 when
/// it would block or failed; the caller's next write waits, or meets a lasting error again
/// (a reset socket answers EPIPE from then on).
fn try_write_pair(to: &TcpStream, a: &[u8], b: &[u8]) -> usize {
    let r = if b.is_empty() {
        to.try_write(a)
    } else {
        to.try_write_vectored(&[std::io::IoSlice::new(a), std::io::IoSlice::new(b)])
    };
    r.unwrap_or(0)
}

/// Result of one read attempt.
enum ReadOutcome {
    Data,
    Eof,
    Timeout,
    Error,
    /// The buffer has no room left.
    Full,
}

/// Reads what is available into `buf`, waiting until `deadline`.
async fn read_some(sock: &TcpStream, buf: &mut Buf, deadline: Option<Instant>) -> ReadOutcome {
    loop {
        if buf.space().is_empty() {
            return ReadOutcome::Full;
        }
        match super::sockio::try_read(sock, buf.space()) {
            Ok(0) => return ReadOutcome::Eof,
            Ok(n) => {
                buf.fill(n);
                return ReadOutcome::Data;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return ReadOutcome::Error,
        }
        let ready = match deadline {
            Some(d) => match tokio::time::timeout_at(d, sock.readable()).await {
                Ok(r) => r,
                Err(_) => return ReadOutcome::Timeout,
            },
            None => sock.readable().await,
        };
        if ready.is_err() {
            return ReadOutcome::Error;
        }
    }
}

/// Forwards one framed body from `from` to `to`, starting with what `buf` already holds.
/// Bytes after the end of the body stay in `buf` (pipelining). `until_close`: the body ends
/// when `from` closes.
#[allow(clippy::too_many_arguments)]
async fn forward_body(
    from: &TcpStream,
    to: &TcpStream,
    buf: &mut Buf,
    state: &mut BodyState,
    from_to: Option<Duration>,
    to_to: Option<Duration>,
    counter: &Cell<u64>,
    from_side: Side,
    until_close: bool,
) -> Result<(), Fail> {
    let to_side = if from_side == Side::Client {
        Side::Server
    } else {
        Side::Client
    };
    loop {
        if state.is_done() {
            return Ok(());
        }
        if !buf.is_empty() {
            let p = state.feed(buf.data()).map_err(|_| Fail {
                side: from_side,
                kind: FailKind::Invalid,
            })?;
            if p.consumed > 0 {
                let chunk = buf.data().get(..p.consumed).unwrap_or(&[]);
                let w = write_bytes(to, chunk);
                match to_to {
                    Some(d) => tokio::time::timeout(d, w)
                        .await
                        .map_err(|_| Fail::timeout(to_side))?
                        .map_err(|_| Fail::abort(to_side))?,
                    None => w.await.map_err(|_| Fail::abort(to_side))?,
                }
                counter.set(counter.get() + p.consumed as u64);
                buf.consume(p.consumed);
            }
            if p.done {
                return Ok(());
            }
        }
        let deadline = from_to.map(|d| Instant::now() + d);
        match read_some(from, buf, deadline).await {
            ReadOutcome::Data => {}
            // A close-delimited body ends here; any other body was cut short.
            ReadOutcome::Eof if until_close => return Ok(()),
            ReadOutcome::Timeout => return Err(Fail::timeout(from_side)),
            ReadOutcome::Eof | ReadOutcome::Error => return Err(Fail::abort(from_side)),
            ReadOutcome::Full => buf.compact(),
        }
    }
}

/// Header access for the balancer (`balance hdr(...)`, `url_param`), over the edited head.
struct EditHeaders<'a> {
    buf: &'a [u8],
    idx: &'a HeadIndex,
    edit: &'a HeadEdit,
}

impl HeaderLookup for EditHeaders<'_> {
    fn first_value(&self, name: &[u8]) -> Option<&[u8]> {
        self.edit
            .lines(self.buf, self.idx)
            .filter_map(|(_, l)| crate::http1::split_header_line(l))
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// Copies the values of `capture request|response header` lines (last occurrence,
/// truncated to `len`) into reusable slots.
fn capture_headers(
    caps: &[parser::span::Spanned<parser::ir::CaptureHeader>],
    buf: &[u8],
    idx: &HeadIndex,
    out: &mut Vec<Option<Vec<u8>>>,
) {
    out.resize(caps.len(), None);
    for (slot, c) in out.iter_mut().zip(caps) {
        let last = idx.find(buf, c.name.as_bytes()).map(|(_, v)| v).last();
        match last {
            Some(v) => {
                let v = &v[..v.len().min(c.len as usize)];
                match slot {
                    Some(s) => {
                        s.clear();
                        s.extend_from_slice(v);
                    }
                    None => *slot = Some(v.to_vec()),
                }
            }
            None => *slot = None,
        }
    }
}

/// `option forwardfor` / `option originalto` (spec §7): appended at the end of the headers,
/// skipped for sources in the `except` network; the backend's header name wins.
fn add_forwarded_headers(
    fe: &Proxy,
    be: &Proxy,
    peer: SocketAddr,
    local: SocketAddr,
    buf: &[u8],
    idx: &HeadIndex,
    edit: &mut HeadEdit,
) {
    let ff = [&fe.cfg.options.forwardfor, &be.cfg.options.forwardfor];
    if ff.iter().any(|f| f.is_some()) {
        let excepted = ff
            .iter()
            .filter_map(|f| f.as_ref())
            .any(|f| f.except.is_some_and(|n| n.contains(peer.ip())));
        let name = be
            .cfg
            .options
            .forwardfor
            .as_ref()
            .or(fe.cfg.options.forwardfor.as_ref())
            .map(|f| f.header.as_str())
            .unwrap_or("X-Forwarded-For");
        // if-none only holds when every enabling proxy says so.
        let if_none = ff.iter().filter_map(|f| f.as_ref()).all(|f| f.if_none);
        let present = if_none && edit.find(buf, idx, name.as_bytes()).next().is_some();
        if !excepted && !present {
            let ip = peer.ip();
            let _ = edit.append_with(|out| {
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b": ");
                push_ip(out, ip);
            });
        }
    }
    let ot = [&fe.cfg.options.originalto, &be.cfg.options.originalto];
    if ot.iter().any(|o| o.is_some()) {
        let excepted = ot
            .iter()
            .filter_map(|o| o.as_ref())
            .any(|o| o.except.is_some_and(|n| n.contains(local.ip())));
        let name = be
            .cfg
            .options
            .originalto
            .as_ref()
            .or(fe.cfg.options.originalto.as_ref())
            .map(|o| o.header.as_str())
            .unwrap_or("X-Original-To");
        if !excepted {
            let ip = local.ip();
            let _ = edit.append_with(|out| {
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b": ");
                push_ip(out, ip);
            });
        }
    }
}

/// Appends an address as 1.4 prints it in headers (IPv4 dotted; IPv4-mapped IPv6 as IPv4),
/// formatted straight into the head being written (no `String` per request).
fn push_ip(out: &mut Vec<u8>, ip: std::net::IpAddr) {
    use std::io::Write;
    // Writing into a Vec cannot fail.
    let _ = match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => write!(out, "{v4}"),
            None => write!(out, "{v6}"),
        },
        v4 => write!(out, "{v4}"),
    };
}

/// Request `Connection` header per mode: close announced to the server in every mode but
/// tunnel (unless `http-pretend-keepalive`); `keep-alive` removed.
fn fix_request_connection(
    mode: ConnMode,
    be: &Proxy,
    v: Version,
    buf: &[u8],
    idx: &HeadIndex,
    edit: &mut HeadEdit,
) {
    if mode == ConnMode::Tunnel {
        return;
    }
    let pretend = be.cfg.options.http_pretend_keepalive.is_some() && mode == ConnMode::ServerClose;
    set_close(v, buf, idx, edit, !pretend);
}

/// Response `Connection` header: httpclose/forceclose announce close to the client; in
/// http-server-close mode a response the client connection survives loses the `close` the
/// server answered to our `Connection: close`, and gets `Connection: keep-alive` when either
/// side is HTTP/1.0 (1.4 `http_process_res_common` with `TX_CON_WANT_SCL`).
fn fix_response_connection(
    mode: ConnMode,
    keep_client: bool,
    req_v: Version,
    v: Version,
    buf: &[u8],
    idx: &HeadIndex,
    edit: &mut HeadEdit,
) {
    match mode {
        ConnMode::Tunnel => {}
        ConnMode::ServerClose if keep_client => set_keep_alive(req_v, v, buf, idx, edit),
        ConnMode::ServerClose => {}
        ConnMode::HttpClose | ConnMode::ForceClose => set_close(v, buf, idx, edit, true),
    }
}

/// The first live `Connection` line after line `after`. The callers edit each line as they
/// go, so they walk the lines one lookup at a time rather than collecting the ids first (no
/// allocation per message; a head has few lines).
fn next_connection(
    edit: &HeadEdit,
    buf: &[u8],
    idx: &HeadIndex,
    after: Option<usize>,
) -> Option<usize> {
    edit.find(buf, idx, b"connection")
        .map(|(i, _)| i)
        .find(|&i| after.is_none_or(|a| i > a))
}

/// Removes `close` tokens from the `Connection` headers and, when the request or the
/// response is HTTP/1.0, makes sure `Connection: keep-alive` is present.
fn set_keep_alive(req_v: Version, v: Version, buf: &[u8], idx: &HeadIndex, edit: &mut HeadEdit) {
    let mut has_ka = false;
    let mut at = None;
    while let Some(id) = next_connection(edit, buf, idx, at) {
        at = Some(id);
        let _ = edit.remove_token(buf, idx, id, b"close");
        if let Some(line) = edit.line(buf, idx, id) {
            if let Some((_, val)) = crate::http1::split_header_line(line) {
                if crate::http1::comma_values(val).any(|t| t.eq_ignore_ascii_case(b"keep-alive")) {
                    has_ka = true;
                }
            }
        }
    }
    if (req_v == Version::Http10 || v == Version::Http10) && !has_ka {
        let _ = edit.append(b"Connection: keep-alive");
    }
}

/// Removes `keep-alive` tokens and, for HTTP/1.1 messages, makes sure `Connection: close`
/// is present (1.4 `http_change_connection_header`).
fn set_close(v: Version, buf: &[u8], idx: &HeadIndex, edit: &mut HeadEdit, announce: bool) {
    let mut has_close = false;
    let mut at = None;
    while let Some(id) = next_connection(edit, buf, idx, at) {
        at = Some(id);
        let _ = edit.remove_token(buf, idx, id, b"keep-alive");
        if let Some(line) = edit.line(buf, idx, id) {
            if let Some((_, val)) = crate::http1::split_header_line(line) {
                if crate::http1::comma_values(val).any(|t| t.eq_ignore_ascii_case(b"close")) {
                    has_close = true;
                }
            }
        }
    }
    if announce && v == Version::Http11 && !has_close {
        let _ = edit.append(b"Connection: close");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_1_4_writes_them_in_headers() {
        let text = |ip: &str| {
            let mut out = b"X: ".to_vec();
            push_ip(&mut out, ip.parse().expect("ip"));
            String::from_utf8(out).expect("utf8")
        };
        assert_eq!(text("192.0.2.7"), "X: 192.0.2.7");
        assert_eq!(text("::ffff:192.0.2.7"), "X: 192.0.2.7");
        assert_eq!(text("2001:db8::1"), "X: 2001:db8::1");
    }

    /// The response head after `fix_response_connection`.
    fn fixed(mode: ConnMode, keep: bool, req_v: Version, res: &[u8]) -> String {
        let mut idx = HeadIndex::new();
        assert!(matches!(
            idx.parse_response(res, &ParseOptions::default(), Method::Get),
            Parse::Complete
        ));
        let mut edit = HeadEdit::new();
        edit.reset(&idx);
        fix_response_connection(mode, keep, req_v, idx.version(), res, &idx, &mut edit);
        let mut out = Vec::new();
        edit.write(res, &idx, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn server_close_keeps_the_client_by_dropping_the_servers_close() {
        let res = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n";
        assert_eq!(
            fixed(ConnMode::ServerClose, true, Version::Http11, res),
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
        );
        // An HTTP/1.0 client needs to be told.
        assert_eq!(
            fixed(ConnMode::ServerClose, true, Version::Http10, res),
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n"
        );
        // The client is not kept: the response is left as the server sent it.
        assert_eq!(
            fixed(ConnMode::ServerClose, false, Version::Http11, res),
            std::str::from_utf8(res).unwrap()
        );
        let res10 =
            b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, close\r\n\r\n";
        assert_eq!(
            fixed(ConnMode::ServerClose, true, Version::Http11, res10),
            "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n"
        );
        // httpclose announces close whatever the client wanted.
        assert_eq!(
            fixed(
                ConnMode::HttpClose,
                true,
                Version::Http11,
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
            ),
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
        );
    }
}
