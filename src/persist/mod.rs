//! Persistence: keeping a client on the server it used before.
//!
//! For a request 1.4 applies, in this order (spec §3.4 steps 7-8; 1.4 `http_process_request`
//! then the `AN_REQ_PRST_RDP_COOKIE` and `AN_REQ_STICKING_RULES` analysers of
//! `src/session.c`): the `cookie` persistence cookie and the `appsession` cookie (both
//! read while walking the `Cookie` headers), the `appsession` id in the URL, then
//! `persist rdp-cookie` (TCP) and the `stick` rules. For a response: `Set-Cookie`
//! processing (delete/rewrite/prefix, appsession learning), cacheability, cookie
//! insertion with `nocache`, then the pending stick-table stores.
//!
//! Hooks, called by the streams:
//! * [`request`]: before a server is chosen (HTTP). `TxnPersist::server` becomes the
//!   direct server of `proxy::connect`. `force`/`ignore` (`force-persist`,
//!   `ignore-persist`) are set by the caller before.
//! * [`stick_request`]: after [`request`] and the `X-Forwarded-For`/`Connection` edits, with
//!   the caller's ACL evaluator for `if`/`unless`.
//! * [`response`]: on the final response head before it is written (HTTP).
//! * [`tcp_request`] / [`tcp_connected`]: the same for `mode tcp`.
//!
//! A persistent server that is DOWN is used anyway with `option persist` or a matching
//! `force-persist` (log flag `D`); otherwise the request is load-balanced (flag `D` too) and,
//! in `insert` mode, the response carries a new cookie (`DI`).
//!
//! Keywords: `cookie`, `appsession`, `persist rdp-cookie`, `stick-table`, `stick`,
//! `force-persist`, `ignore-persist`, `option persist`, server `cookie`.

pub mod appsession;
pub mod cookie;
pub mod fuzz;
pub mod stick;

pub use stick::{ReqHead, StickInput};

use crate::http1::{HeadEdit, HeadIndex, Method};
use crate::lb::rdp_cookie::{self, RdpCookie};
use crate::log::term::{ReqCookie, ResCookie};
use crate::runtime::Proxy;
use appsession::AppTable;
use cookie::LineEdit;
use parser::ir::{self, AppSession, CookieMode, StickRuleKind};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use stick::StickTable;

/// Stick-table stores one transaction may schedule (1.4 `session.store[8]`).
pub const MAX_STORES: usize = 8;

/// Persistence state of one backend, built with the runtime and shared by the workers.
#[derive(Debug, Default)]
pub struct ProxyPersist {
    /// The `appsession` table.
    pub appsession: Option<AppTable>,
    /// The `stick-table` this proxy declares (other backends may use it via `table`).
    pub table: Option<Arc<StickTable>>,
    /// The table of each `stick` rule (same order as `cfg.stick_rules`); `None` when the
    /// rule names no usable table (1.4 refuses such a configuration).
    rules: Vec<Option<Arc<StickTable>>>,
}

impl ProxyPersist {
    /// Builds the persistence state of every proxy, resolving `stick ... table <name>`.
    pub fn build_all(proxies: &[ir::Proxy]) -> Vec<ProxyPersist> {
        let tables: Vec<Option<Arc<StickTable>>> = proxies
            .iter()
            .map(|p| {
                p.stick_table
                    .as_ref()
                    .map(|t| Arc::new(StickTable::new(&t.node)))
            })
            .collect();
        proxies
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let rules = p
                    .stick_rules
                    .iter()
                    .map(|r| match &r.table {
                        None => tables.get(i).cloned().flatten(),
                        Some(name) => proxies
                            .iter()
                            .position(|q| &q.name == name && q.stick_table.is_some())
                            .and_then(|j| tables.get(j).cloned().flatten()),
                    })
                    .collect();
                ProxyPersist {
                    appsession: p.appsession.as_ref().map(|a| AppTable::new(&a.node)),
                    table: tables.get(i).cloned().flatten(),
                    rules,
                }
            })
            .collect()
    }
}

/// A stick-table store waiting for the server that will answer.
#[derive(Debug, Default)]
struct PendingStore {
    table: Option<Arc<StickTable>>,
    key: Vec<u8>,
}

/// Persistence state of one transaction. Lives in the stream's pooled scratch: its buffers
/// keep their capacity from one request to the next.
#[derive(Debug, Default)]
pub struct TxnPersist {
    /// Server chosen by persistence (index in the backend), if any (1.4 `SN_ASSIGNED`).
    pub server: Option<usize>,
    /// The request was routed by persistence (1.4 `SN_DIRECT`).
    pub direct: bool,
    pub req_cookie: ReqCookie,
    pub res_cookie: ResCookie,
    /// `force-persist` matched: use the persistent server even if down, never redispatch.
    pub force: bool,
    /// `ignore-persist` matched: skip cookie and appsession lookups.
    pub ignore: bool,
    /// Dates carried by the request's persistence cookie (`maxidle`/`maxlife`), Unix
    /// seconds in 4-second units, 0 = none.
    pub cookie_last_date: u32,
    pub cookie_first_date: u32,
    /// The appsession id to learn from this transaction (1.4 `txn->sessid`).
    sessid: Vec<u8>,
    has_sessid: bool,
    stores: Vec<PendingStore>,
    n_stores: usize,
    /// Working copy of the header line being rewritten.
    line: Vec<u8>,
}

impl TxnPersist {
    /// Prepares for a new transaction, keeping buffer capacity.
    pub fn reset(&mut self) {
        self.server = None;
        self.direct = false;
        self.req_cookie = ReqCookie::default();
        self.res_cookie = ResCookie::default();
        self.force = false;
        self.ignore = false;
        self.cookie_last_date = 0;
        self.cookie_first_date = 0;
        self.sessid.clear();
        self.has_sessid = false;
        for s in self.stores.iter_mut().take(self.n_stores) {
            s.table = None;
        }
        self.n_stores = 0;
        self.line.clear();
    }

    /// Remembers `id` as the appsession id of this transaction.
    pub fn set_sessid(&mut self, id: &[u8]) {
        self.sessid.clear();
        self.sessid.extend_from_slice(id);
        self.has_sessid = true;
    }

    /// The appsession id this transaction will teach the table, if any.
    pub fn sessid(&self) -> Option<&[u8]> {
        self.has_sessid.then_some(&self.sessid[..])
    }

    /// Number of stick-table stores waiting for the server.
    pub fn pending_stores(&self) -> usize {
        self.n_stores
    }
}

/// Whether the httplog shows the two cookie flags for this backend: 1.4 prints them only
/// when a cookie mode or `indirect` is set (`PR_CK_ANY`); a passive `cookie NAME` logs `--`.
pub fn cookie_logged(be: &Proxy) -> bool {
    be.cfg
        .cookie
        .as_ref()
        .is_some_and(|c| c.mode != CookieMode::Passive || c.indirect)
}

/// Wall-clock seconds, as 1.4's `date.tv_sec` (cookie dates).
fn wall_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Monotonic milliseconds since the first call (table expiry).
fn mono_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// Request side (HTTP): finds the persistent server from the `cookie` and `appsession`
/// cookies and the appsession URL parameter, and edits the request's `Cookie` headers
/// (spaces around `=`, `insert indirect` removal, `prefix` stripping).
pub fn request(be: &Proxy, buf: &[u8], idx: &HeadIndex, edit: &mut HeadEdit, st: &mut TxnPersist) {
    request_at(be, buf, idx, edit, st, wall_secs(), mono_ms());
}

/// [`request`] with explicit clocks (wall seconds, monotonic ms).
pub fn request_at(
    be: &Proxy,
    buf: &[u8],
    idx: &HeadIndex,
    edit: &mut HeadEdit,
    st: &mut TxnPersist,
    now: i64,
    now_ms: u64,
) {
    let ck = be.cfg.cookie.as_ref().map(|c| &c.node);
    let app = be.cfg.appsession.as_ref().map(|a| &a.node);
    let initial = if ck.is_some() {
        (ReqCookie::None, ResCookie::None)
    } else {
        (ReqCookie::NotConfigured, ResCookie::NotConfigured)
    };
    st.req_cookie = initial.0;
    st.res_cookie = initial.1;
    if ck.is_none() && app.is_none() {
        return;
    }
    let use_down = be.cfg.options.persist.is_some() || st.force;
    let sc = cookie::ReqScan {
        cookie: ck,
        servers: &be.servers,
        use_down,
        ignore: st.ignore,
        now,
        app,
    };
    let mut on_app = |v: &[u8], st: &mut TxnPersist| {
        if let Some(a) = app {
            client_side_appsession(be, a, v, use_down, now_ms, st);
        }
    };
    let mut line = std::mem::take(&mut st.line);
    for id in 0..edit.line_slots() {
        let Some(l) = edit.line(buf, idx, id) else {
            continue;
        };
        if !cookie::header_is(l, b"Cookie") {
            continue;
        }
        line.clear();
        line.extend_from_slice(l);
        match cookie::scan_request_line(&sc, &mut line, st, &mut on_app) {
            LineEdit::Keep => {}
            LineEdit::Replace => {
                let _ = edit.replace(id, &line);
            }
            LineEdit::Delete => {
                let _ = edit.delete(id);
            }
        }
    }
    line.clear();
    st.line = line;

    // The URL is looked at unless request-learn already took an id from the cookies.
    if let Some(a) = app {
        if !st.has_sessid && !st.ignore {
            let sl = edit.start_line(buf, idx);
            let mut words = sl.split(|&c| c == b' ').filter(|w| !w.is_empty());
            let method = Method::from_token(words.next().unwrap_or_default());
            let uri = words.next().unwrap_or_default();
            if matches!(method, Method::Get | Method::Post | Method::Head) {
                if let Some(id) = appsession::url_session_id(uri, a) {
                    client_side_appsession(be, a, id, use_down, now_ms, st);
                }
            }
        }
    }
}

/// An appsession id seen in the request (cookie or URL): remembered for learning with
/// `request-learn`, and looked up; a known id routes the request to its server if that
/// server is UP (or `option persist`/`force-persist`).
fn client_side_appsession(
    be: &Proxy,
    cfg: &AppSession,
    id: &[u8],
    use_down: bool,
    now_ms: u64,
    st: &mut TxnPersist,
) {
    let id = id.get(..id.len().min(cfg.len as usize)).unwrap_or_default();
    if cfg.request_learn {
        st.set_sessid(id);
    }
    let Some(table) = be.persist.appsession.as_ref() else {
        return;
    };
    let Some(i) = table.lookup(id, now_ms) else {
        return;
    };
    let Some(srv) = be.servers.get(i) else {
        return;
    };
    let running = srv.accepts_persistent();
    if running || use_down {
        st.req_cookie = if running {
            ReqCookie::Valid
        } else {
            ReqCookie::Down
        };
        st.direct = true;
        st.server = Some(i);
    } else {
        st.req_cookie = ReqCookie::Down;
    }
}

/// The `stick` rules of `be` for a request: `match`/`on` may choose the server (when nothing
/// chose one yet), `store-request`/`on` schedule a store done when the server is known.
/// Only the first storing rule per table counts. `cond` evaluates `if`/`unless`.
pub fn stick_request(
    be: &Proxy,
    input: &StickInput<'_>,
    cond: &mut dyn FnMut(&ir::Condition) -> bool,
    st: &mut TxnPersist,
) {
    stick_request_at(be, input, cond, st, mono_ms());
}

/// [`stick_request`] with an explicit monotonic clock.
pub fn stick_request_at(
    be: &Proxy,
    input: &StickInput<'_>,
    cond: &mut dyn FnMut(&ir::Condition) -> bool,
    st: &mut TxnPersist,
    now_ms: u64,
) {
    for (rule, table) in be.cfg.stick_rules.iter().zip(&be.persist.rules) {
        let Some(table) = table else {
            continue;
        };
        let pending = st.stores.iter().take(st.n_stores);
        if pending
            .filter_map(|s| s.table.as_ref())
            .any(|t| Arc::ptr_eq(t, table))
        {
            continue;
        }
        if let Some(c) = &rule.cond {
            if !cond(c) {
                continue;
            }
        }
        if st.stores.len() <= st.n_stores {
            st.stores.push(PendingStore::default());
        }
        let n = st.n_stores;
        let Some(slot) = st.stores.get_mut(n) else {
            continue;
        };
        if !stick::fetch_key(&rule.pattern, table.key, input, &mut slot.key) {
            continue;
        }
        if matches!(rule.kind, StickRuleKind::Match | StickRuleKind::On) {
            if let Some(puid) = table.lookup(&slot.key, now_ms) {
                if st.server.is_none() {
                    let use_down = be.cfg.options.persist.is_some() || st.force;
                    if let Some(srv) = be.servers.iter().find(|s| s.puid == puid) {
                        if srv.accepts_persistent() || use_down {
                            st.server = Some(srv.idx);
                            st.direct = true;
                        }
                    }
                }
            }
        }
        if matches!(rule.kind, StickRuleKind::StoreRequest | StickRuleKind::On)
            && st.n_stores < MAX_STORES
            && table.may_store()
        {
            if let Some(slot) = st.stores.get_mut(n) {
                slot.table = Some(table.clone());
                st.n_stores += 1;
            }
        }
    }
}

/// Performs the stores scheduled by [`stick_request`] against `server` (1.4
/// `process_store_rules`, run once the server answered).
fn stick_store(be: &Proxy, server: Option<usize>, now_ms: u64, st: &mut TxnPersist) {
    let puid = server.and_then(|i| be.servers.get(i)).map(|s| s.puid);
    for s in st.stores.iter_mut().take(st.n_stores) {
        if let (Some(t), Some(puid)) = (s.table.take(), puid) {
            t.store(&s.key, puid, now_ms);
        }
    }
    st.n_stores = 0;
}

/// Response side (HTTP): `Set-Cookie` processing, appsession learning, cookie insertion
/// (`Cache-control: private` with `nocache` on a cacheable response) and stick stores.
/// `server` is the server that answered.
pub fn response(
    be: &Proxy,
    server: Option<usize>,
    req_method: Method,
    buf: &[u8],
    idx: &HeadIndex,
    edit: &mut HeadEdit,
    st: &mut TxnPersist,
) {
    response_at(
        be,
        server,
        req_method,
        buf,
        idx,
        edit,
        st,
        wall_secs(),
        mono_ms(),
    );
}

/// [`response`] with explicit clocks (wall seconds, monotonic ms).
#[allow(clippy::too_many_arguments)]
pub fn response_at(
    be: &Proxy,
    server: Option<usize>,
    req_method: Method,
    buf: &[u8],
    idx: &HeadIndex,
    edit: &mut HeadEdit,
    st: &mut TxnPersist,
    now: i64,
    now_ms: u64,
) {
    let ck = be.cfg.cookie.as_ref().map(|c| &c.node);
    let app = be.cfg.appsession.as_ref().map(|a| &a.node);
    let status = idx.status();
    if status >= 200 {
        let srv = server.and_then(|i| be.servers.get(i));
        // A redispatch on the last retry breaks persistence (1.4 clears SN_DIRECT).
        let direct = st.direct && server.is_some() && server == st.server;
        if ck.is_some() || app.is_some() {
            let sc = cookie::ResScan {
                cookie: ck,
                server: srv,
                direct,
                ignore: st.ignore,
                app,
            };
            let mut line = std::mem::take(&mut st.line);
            for id in 0..edit.line_slots() {
                let Some(l) = edit.line(buf, idx, id) else {
                    continue;
                };
                let name_len = if cookie::header_is(l, b"Set-Cookie") {
                    10
                } else if cookie::header_is(l, b"Set-Cookie2") {
                    11
                } else {
                    continue;
                };
                line.clear();
                line.extend_from_slice(l);
                match cookie::scan_response_line(&sc, &mut line, name_len, st) {
                    LineEdit::Keep => {}
                    LineEdit::Replace => {
                        let _ = edit.replace(id, &line);
                    }
                    LineEdit::Delete => {
                        let _ = edit.delete(id);
                    }
                }
            }
            line.clear();
            st.line = line;
            if let (Some(table), Some(i), true) = (&be.persist.appsession, server, st.has_sessid) {
                table.learn(&st.sessid, i, now_ms);
            }
        }
        if let (Some(ck), Some(srv)) = (ck, srv) {
            if cookie::wants_insert(ck, st, direct, req_method, now) {
                let cacheable = ck.nocache
                    && cookie::is_cacheable(
                        status,
                        req_method,
                        edit.lines(buf, idx).map(|(_, l)| l),
                    );
                let first = st.cookie_first_date;
                let srv_cookie = srv.cfg.cookie.as_deref();
                let _ = edit
                    .append_with(|out| cookie::write_set_cookie(ck, srv_cookie, first, now, out));
                st.res_cookie = if srv_cookie.is_some() && direct {
                    ResCookie::Updated
                } else {
                    ResCookie::Inserted
                };
                if cacheable {
                    let _ = edit.append(b"Cache-control: private");
                }
            }
        }
    }
    stick_store(be, server, now_ms, st);
}

/// TCP mode, before the server is chosen: `persist rdp-cookie` (the `msts` cookie of the
/// client's first packet, already in `payload`, names a server address), then the stick
/// rules.
pub fn tcp_request(
    be: &Proxy,
    payload: &[u8],
    input: &StickInput<'_>,
    cond: &mut dyn FnMut(&ir::Condition) -> bool,
    st: &mut TxnPersist,
) {
    if let Some(name) = &be.cfg.persist_rdp_cookie {
        if st.server.is_none() {
            if let RdpCookie::Found(v) = rdp_cookie::find(payload, name.as_bytes()) {
                if let Some(addr) = decode_msts(v) {
                    let use_down = be.cfg.options.persist.is_some();
                    let hit = be.servers.iter().find(|s| {
                        s.addr == Some(SocketAddr::V4(addr)) && (s.accepts_persistent() || use_down)
                    });
                    if let Some(s) = hit {
                        st.server = Some(s.idx);
                        st.direct = true;
                    }
                }
            }
        }
    }
    if !be.cfg.stick_rules.is_empty() {
        stick_request(be, input, cond, st);
    }
}

/// TCP mode, once connected to `server`: the pending stick stores.
pub fn tcp_connected(be: &Proxy, server: Option<usize>, st: &mut TxnPersist) {
    stick_store(be, server, mono_ms(), st);
}

/// Decodes the value of an RDP `msts` cookie, `<address>.<port>.<reserved>`: the address
/// and the port are the decimal values of the IPv4 address and TCP port as stored in memory
/// by a little-endian Windows host (so byte-swapped from network order). Returns `None` if
/// either number is not followed by a dot.
pub fn decode_msts(v: &[u8]) -> Option<SocketAddrV4> {
    let (a, rest) = strtoul(v);
    let rest = rest.strip_prefix(b".")?;
    let (p, rest) = strtoul(rest);
    rest.strip_prefix(b".")?;
    let ip = Ipv4Addr::from((a as u32).to_le_bytes());
    let port = (p as u16).swap_bytes();
    Some(SocketAddrV4::new(ip, port))
}

/// Leading decimal digits of `v` as C's `strtoul` reads them (saturating), and the rest.
fn strtoul(v: &[u8]) -> (u64, &[u8]) {
    let n = v.iter().take_while(|c| c.is_ascii_digit()).count();
    let (digits, rest) = v.split_at(n);
    let val = digits.iter().fold(0u64, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    (val, rest)
}

#[cfg(test)]
mod tests;
