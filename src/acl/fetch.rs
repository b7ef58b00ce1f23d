//! ACL fetches: what the stream exposes to the ACL engine ([`AclContext`], [`ProxyState`]) and
//! how each [`Fetch`] turns that into samples ([`fetch`]).
//!
//! Keywords: `always_true`, `always_false`, `src`, `dst`, `src_port`, `dst_port`, `dst_conn`,
//! `fe_id`, `be_id`, `so_id`, `srv_id`, `fe_conn`, `be_conn`, `fe_sess_rate`, `be_sess_rate`,
//! `nbsrv`, `connslots`, `queue`, `avg_queue`, `srv_is_up`, `wait_end`, `req_len`,
//! `req_proto_http`, `req_ssl_ver`, `req_rdp_cookie`, `req_rdp_cookie_cnt`, `method`, `req_ver`,
//! `url*`, `url_ip`, `url_port`, `path*`, `hdr*`, `hdr_cnt`, `hdr_val`, `hdr_ip`, `http_auth`,
//! `http_auth_group`, `http_first_req`, `status`, `resp_ver`, `shdr*`.
//!
//! Compare with 1.4 `acl_fetch_*` in `src/proto_http.c` (layer 7), `src/backend.c` (proxy
//! state), `src/client.c` and `src/proto_tcp.c` (layer 4 and request payload), `src/acl.c`
//! (`always_*`, `wait_end`). Observable 1.4 behaviours kept on purpose:
//! - Layer 7 request fetches fail (they never "miss") when no request has been parsed: 1.4
//!   evaluates `tcp-request content` rules without a transaction, so `hdr(host)` there is
//!   simply false and the rule does not wait for the inspect delay.
//! - Request URI and header fetches fail once the response is being analysed (1.4's indexes
//!   then describe the response); `req_ver`, known methods and `http_auth` still work.
//! - Header values are split on commas outside double quotes and trimmed (`http_find_header2`).
//!
//! Fetching never allocates, except `http_auth*` with credentials longer than the stack
//! scratch buffer (see `auth.rs`).

use super::auth::{self, Credentials};
use super::payload::{self, Payload};
use parser::ir::{Fetch, ServerRef, Userlist};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::ControlFlow;

/// The parsed HTTP request line, borrowed from the stream's buffer.
#[derive(Clone, Copy, Debug)]
pub struct RequestLine<'a> {
    /// Method token as received (`GET`, `get`, `PROPFIND`...).
    pub method: &'a [u8],
    /// Request URI as received (`/a?b`, `http://h/x`, `*`).
    pub uri: &'a [u8],
    /// Version token (`HTTP/1.1`). An HTTP/0.9 request must be presented as `HTTP/1.0`,
    /// the version 1.4 rewrites it to.
    pub version: &'a [u8],
}

/// The parsed HTTP status line, borrowed from the stream's buffer.
#[derive(Clone, Copy, Debug)]
pub struct StatusLine<'a> {
    /// Version token (`HTTP/1.1`).
    pub version: &'a [u8],
    /// Status code token as received (`200`).
    pub code: &'a [u8],
}

/// Frontend counters for `fe_conn` and `fe_sess_rate`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrontendLoad {
    /// Current connections (1.4 `feconn`).
    pub conn: i64,
    /// Sessions accepted over the last second (1.4 `fe_sess_per_sec`).
    pub sess_rate: i64,
}

/// Backend counters for `be_conn`, `be_sess_rate`, `nbsrv`, `queue`, `avg_queue`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackendLoad {
    /// Current connections (1.4 `beconn`).
    pub conn: i64,
    /// Sessions per second over the last second (1.4 `be_sess_per_sec`).
    pub sess_rate: i64,
    /// Usable active servers (UP, not in maintenance, non-zero effective weight).
    pub active_servers: i64,
    /// Usable backup servers.
    pub backup_servers: i64,
    /// A single backup server is in use because no active server is usable and
    /// `option allbackups` is off (1.4 `lbprm.fbck != NULL`).
    pub first_backup_in_use: bool,
    /// Queued connections, backend queue plus every server queue (1.4 `totpend`).
    pub queued: i64,
}

impl BackendLoad {
    /// `nbsrv`: usable active servers; when there are none, 1 if a single backup is in use,
    /// else the number of usable backups.
    pub fn nbsrv(&self) -> i64 {
        if self.active_servers > 0 {
            self.active_servers
        } else if self.first_backup_in_use {
            1
        } else {
            self.backup_servers
        }
    }

    /// `avg_queue`: queued connections divided by `nbsrv`, rounded up; twice the queue when
    /// no server is usable (as if half a server were running).
    pub fn avg_queue(&self) -> i64 {
        let nbsrv = self.nbsrv();
        if nbsrv > 0 {
            self.queued.saturating_add(nbsrv - 1) / nbsrv
        } else {
            self.queued.saturating_mul(2)
        }
    }
}

/// One server's state for `connslots`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerLoad {
    /// The server is running (1.4 `SRV_RUNNING`); stopped servers are skipped.
    pub running: bool,
    /// Configured `maxconn` (0 = unlimited).
    pub maxconn: i64,
    /// Current sessions on the server.
    pub cur_sess: i64,
    /// Configured `maxqueue` (0 = unlimited).
    pub maxqueue: i64,
    /// Connections waiting in this server's queue.
    pub queued: i64,
}

/// Live proxy and server state, implemented by the runtime.
///
/// A `name` of `None` designates the proxy whose rule is being evaluated (the frontend for
/// frontend rules, the backend for backend rules) whatever its capabilities, as 1.4 does; a
/// name designates a frontend-capable proxy for [`ProxyState::frontend`] and a
/// backend-capable one otherwise. Returning `None`/`false` for an unknown name makes the
/// fetch fail.
pub trait ProxyState {
    fn frontend(&self, name: Option<&str>) -> Option<FrontendLoad>;
    fn backend(&self, name: Option<&str>) -> Option<BackendLoad>;
    /// Calls `f` once per server of the backend, in declaration order. Returns `false` when
    /// the backend does not exist.
    fn for_each_server(&self, backend: Option<&str>, f: &mut dyn FnMut(&ServerLoad)) -> bool;
    /// `srv_is_up`: the server is not in maintenance and is either unchecked or running.
    /// `proxy: None` in the reference means the evaluating proxy.
    fn srv_is_up(&self, srv: &ServerRef) -> bool;
}

/// What the ACL engine reads from a stream. Accessors are cheap and return borrowed data; the
/// stream implements this on its `Stream`/`Txn` state.
pub trait AclContext {
    /// Client address as accepted (`src`, `src_port`).
    fn client_addr(&self) -> SocketAddr;
    /// Local address the client connected to (`dst`, `dst_port`).
    fn local_addr(&self) -> SocketAddr;
    /// Listener (socket) id (`so_id`).
    fn listener_id(&self) -> i64;
    /// Current connections on the listener that accepted this stream (`dst_conn`).
    fn listener_conns(&self) -> i64;
    /// Frontend id (`fe_id`).
    fn frontend_id(&self) -> i64;
    /// Current backend id (`be_id`); the frontend's own id before switching.
    fn backend_id(&self) -> i64;
    /// Assigned server id (`srv_id`), `None` before a server is assigned.
    fn server_id(&self) -> Option<i64>;
    /// Live proxy state (`fe_conn`, `nbsrv`, `srv_is_up`, ...).
    fn proxies(&self) -> &dyn ProxyState;

    /// Request bytes received and not yet forwarded (`req_len`, `req_ssl_ver`,
    /// `req_rdp_cookie*`, `req_proto_http`), starting at the first unforwarded byte.
    fn req_buffer(&self) -> &[u8];
    /// How many bytes the request buffer can hold (1.4: `tune.bufsize - tune.maxrewrite`);
    /// once `req_buffer()` reaches it, waiting for more data is pointless.
    fn req_buffer_capacity(&self) -> usize;

    /// The request line, `None` while no HTTP request has been parsed (TCP mode, or
    /// `tcp-request content` rules running before the HTTP analysers).
    fn request_line(&self) -> Option<RequestLine<'_>>;
    /// Request headers in order as `(name, value)`; the value has no leading blanks and
    /// folded lines are joined with spaces, as 1.4's parser leaves them in its buffer.
    fn req_headers(&self) -> impl Iterator<Item = (&[u8], &[u8])>;
    /// Whether this is the first request of the connection (`http_first_req`).
    fn http_first_req(&self) -> bool;
    /// Read `Proxy-Authorization` instead of `Authorization` (1.4 `TX_USE_PX_CONN`: a proxy
    /// request with `option http-use-proxy-header`).
    fn use_proxy_auth(&self) -> bool {
        false
    }
    /// Userlist by name, for `http_auth(<userlist>)`.
    fn userlist(&self, name: &str) -> Option<&Userlist>;

    /// The status line, `None` before the response headers are parsed.
    fn status_line(&self) -> Option<StatusLine<'_>>;
    /// Response headers in order, same form as [`AclContext::req_headers`].
    fn res_headers(&self) -> impl Iterator<Item = (&[u8], &[u8])>;
}

/// One value produced by a fetch, handed to the matcher.
#[derive(Clone, Copy, Debug)]
pub enum Sample<'a> {
    /// The fetch decided the outcome itself (`always_true`, `srv_is_up`, `req_proto_http`,
    /// `http_first_req`, `wait_end`); patterns are ignored.
    Bool(bool),
    Int(i64),
    Str(&'a [u8]),
    Ip(IpAddr),
    /// The request method token, compared by `method` patterns.
    Method(&'a [u8]),
    /// Basic credentials for `http_auth`/`http_auth_group`.
    Auth {
        userlist: &'a Userlist,
        creds: Credentials<'a>,
    },
}

/// Side information a fetch reports besides its samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchStatus {
    /// More request data could change the outcome (1.4 `ACL_TEST_F_MAY_CHANGE`): a failed
    /// match becomes a miss while the inspect delay runs.
    pub may_change: bool,
}

/// Runs `fetch` against `ctx`, calling `visit` with each sample until it breaks. `partial`
/// is true while `tcp-request inspect-delay` still allows waiting for more data.
///
/// A fetch that cannot produce anything (data absent, malformed, unknown proxy or userlist)
/// simply calls `visit` zero times.
pub fn fetch<C, F>(fetch: &Fetch, ctx: &C, partial: bool, mut visit: F) -> FetchStatus
where
    C: AclContext,
    F: FnMut(Sample<'_>) -> ControlFlow<()>,
{
    let done = FetchStatus::default();
    let mut one = |s: Sample<'_>| {
        let _ = visit(s);
        done
    };
    match fetch {
        Fetch::AlwaysTrue => one(Sample::Bool(true)),
        Fetch::AlwaysFalse => one(Sample::Bool(false)),
        Fetch::Src => one(Sample::Ip(ctx.client_addr().ip())),
        Fetch::Dst => one(Sample::Ip(ctx.local_addr().ip())),
        Fetch::SrcPort => one(Sample::Int(i64::from(ctx.client_addr().port()))),
        Fetch::DstPort => one(Sample::Int(i64::from(ctx.local_addr().port()))),
        Fetch::DstConn => one(Sample::Int(ctx.listener_conns())),
        Fetch::FeId => one(Sample::Int(ctx.frontend_id())),
        Fetch::BeId => one(Sample::Int(ctx.backend_id())),
        Fetch::SoId => one(Sample::Int(ctx.listener_id())),
        Fetch::SrvId => match ctx.server_id() {
            Some(id) => one(Sample::Int(id)),
            None => done,
        },
        Fetch::FeConn(name) => {
            opt_int(ctx.proxies().frontend(name.as_deref()).map(|f| f.conn), one)
        }
        Fetch::FeSessRate(name) => opt_int(
            ctx.proxies().frontend(name.as_deref()).map(|f| f.sess_rate),
            one,
        ),
        Fetch::BeConn(name) => opt_int(ctx.proxies().backend(name.as_deref()).map(|b| b.conn), one),
        Fetch::BeSessRate(name) => opt_int(
            ctx.proxies().backend(name.as_deref()).map(|b| b.sess_rate),
            one,
        ),
        Fetch::NbSrv(name) => opt_int(
            ctx.proxies().backend(name.as_deref()).map(|b| b.nbsrv()),
            one,
        ),
        Fetch::Queue(name) => opt_int(
            ctx.proxies().backend(name.as_deref()).map(|b| b.queued),
            one,
        ),
        Fetch::AvgQueue(name) => opt_int(
            ctx.proxies()
                .backend(name.as_deref())
                .map(|b| b.avg_queue()),
            one,
        ),
        Fetch::ConnSlots(name) => opt_int(connslots(ctx.proxies(), name.as_deref()), one),
        Fetch::SrvIsUp(srv) => one(Sample::Bool(ctx.proxies().srv_is_up(srv))),
        Fetch::WaitEnd => {
            if partial {
                FetchStatus { may_change: true }
            } else {
                one(Sample::Bool(true))
            }
        }
        Fetch::ReqLen => {
            let len = i64::try_from(ctx.req_buffer().len()).unwrap_or(i64::MAX);
            let _ = visit(Sample::Int(len));
            // The length can only grow while data keeps arriving.
            FetchStatus { may_change: true }
        }
        Fetch::ReqProtoHttp => {
            if ctx.request_line().is_some() {
                return one(Sample::Bool(true));
            }
            let buf = ctx.req_buffer();
            match payload::sniff_http_request(buf) {
                Payload::Found(()) => one(Sample::Bool(true)),
                Payload::Invalid => one(Sample::Bool(false)),
                Payload::TooShort if buf.len() >= ctx.req_buffer_capacity() => {
                    // A full buffer without a complete request will never become one.
                    one(Sample::Bool(false))
                }
                Payload::TooShort => FetchStatus { may_change: true },
            }
        }
        Fetch::ReqSslVer => {
            match payload::ssl_hello_version(ctx.req_buffer(), ctx.req_buffer_capacity()) {
                Payload::Found(v) => one(Sample::Int(v)),
                Payload::Invalid => done,
                Payload::TooShort => FetchStatus { may_change: true },
            }
        }
        Fetch::ReqRdpCookie(name) => {
            let name = name.as_deref().map(str::as_bytes);
            match payload::rdp_cookie(ctx.req_buffer(), name) {
                Payload::Found(v) => one(Sample::Str(v)),
                Payload::Invalid => done,
                Payload::TooShort => FetchStatus { may_change: true },
            }
        }
        Fetch::ReqRdpCookieCnt(name) => {
            let name = name.as_deref().map(str::as_bytes);
            match payload::rdp_cookie(ctx.req_buffer(), name) {
                Payload::Found(_) => one(Sample::Int(1)),
                Payload::Invalid => one(Sample::Int(0)),
                Payload::TooShort => FetchStatus { may_change: true },
            }
        }
        Fetch::Method => {
            let Some(rl) = ctx.request_line() else {
                return done;
            };
            // 1.4 refuses unknown methods once the response is being parsed.
            if ctx.status_line().is_some() && is_other_method(rl.method) {
                return done;
            }
            one(Sample::Method(rl.method))
        }
        Fetch::ReqVer => match ctx.request_line().and_then(|rl| version_number(rl.version)) {
            Some(v) => one(Sample::Str(v)),
            None => done,
        },
        Fetch::Url => match request_uri(ctx) {
            Some(uri) => one(Sample::Str(uri)),
            None => done,
        },
        Fetch::UrlIp => match request_uri(ctx) {
            Some(uri) => one(Sample::Ip(IpAddr::V4(url_ip_port(uri).0))),
            None => done,
        },
        Fetch::UrlPort => match request_uri(ctx) {
            Some(uri) => one(Sample::Int(i64::from(url_ip_port(uri).1))),
            None => done,
        },
        Fetch::Path => match request_uri(ctx).and_then(extract_path) {
            Some(path) => one(Sample::Str(path)),
            None => done,
        },
        Fetch::Hdr(name) => {
            if req_headers_usable(ctx) {
                each_value(ctx.req_headers(), name.as_deref(), |v| {
                    visit(Sample::Str(v))
                });
            }
            done
        }
        Fetch::HdrCnt(name) => {
            if req_headers_usable(ctx) {
                let n = count_values(ctx.req_headers(), name.as_deref());
                let _ = visit(Sample::Int(n));
            }
            done
        }
        Fetch::HdrVal(name) => {
            if req_headers_usable(ctx) {
                each_value(ctx.req_headers(), name.as_deref(), |v| {
                    visit(Sample::Int(i64::from(strl2ic(v))))
                });
            }
            done
        }
        Fetch::HdrIp(name) => {
            if req_headers_usable(ctx) {
                each_value(ctx.req_headers(), name.as_deref(), |v| {
                    visit(Sample::Ip(IpAddr::V4(header_ip(v))))
                });
            }
            done
        }
        Fetch::HttpAuth(ul) | Fetch::HttpAuthGroup(ul) => {
            fetch_auth(ctx, ul, &mut visit);
            done
        }
        Fetch::HttpFirstReq => one(Sample::Bool(ctx.http_first_req())),
        Fetch::Status => match ctx.status_line() {
            Some(sl) => one(Sample::Int(i64::from(strl2ui(sl.code)))),
            None => done,
        },
        Fetch::RespVer => match ctx.status_line().and_then(|sl| version_number(sl.version)) {
            Some(v) => one(Sample::Str(v)),
            None => done,
        },
        Fetch::Shdr(name) => {
            if ctx.status_line().is_some() {
                each_value(ctx.res_headers(), name.as_deref(), |v| {
                    visit(Sample::Str(v))
                });
            }
            done
        }
        Fetch::ShdrCnt(name) => {
            if ctx.status_line().is_some() {
                let n = count_values(ctx.res_headers(), name.as_deref());
                let _ = visit(Sample::Int(n));
            }
            done
        }
        Fetch::ShdrVal(name) => {
            if ctx.status_line().is_some() {
                each_value(ctx.res_headers(), name.as_deref(), |v| {
                    visit(Sample::Int(i64::from(strl2ic(v))))
                });
            }
            done
        }
        Fetch::ShdrIp(name) => {
            if ctx.status_line().is_some() {
                each_value(ctx.res_headers(), name.as_deref(), |v| {
                    visit(Sample::Ip(IpAddr::V4(header_ip(v))))
                });
            }
            done
        }
    }
}

/// Feeds an optional integer to the visitor (a missing proxy makes the fetch fail).
fn opt_int(v: Option<i64>, one: impl FnOnce(Sample<'_>) -> FetchStatus) -> FetchStatus {
    match v {
        Some(v) => one(Sample::Int(v)),
        None => FetchStatus::default(),
    }
}

/// `connslots`: free connection slots plus free queue slots over the running servers; -1 as
/// soon as one running server has an unlimited `maxconn` or `maxqueue`.
fn connslots(state: &dyn ProxyState, name: Option<&str>) -> Option<i64> {
    let mut total: i64 = 0;
    let mut unlimited = false;
    let found = state.for_each_server(name, &mut |s: &ServerLoad| {
        if !s.running || unlimited {
            return;
        }
        if s.maxconn == 0 || s.maxqueue == 0 {
            unlimited = true;
            return;
        }
        total = total
            .saturating_add(s.maxconn.saturating_sub(s.cur_sess))
            .saturating_add(s.maxqueue.saturating_sub(s.queued));
    });
    if !found {
        return None;
    }
    Some(if unlimited { -1 } else { total })
}

/// Whether request URI/header fetches may run: a request is parsed and its response has not
/// started (see the module doc).
fn req_headers_usable<C: AclContext>(ctx: &C) -> bool {
    ctx.request_line().is_some() && ctx.status_line().is_none()
}

/// The request URI when URI fetches may run.
fn request_uri<C: AclContext>(ctx: &C) -> Option<&[u8]> {
    if ctx.status_line().is_some() {
        return None;
    }
    ctx.request_line().map(|rl| rl.uri)
}

/// The version number after the first `/` of a version token (`HTTP/1.1` -> `1.1`); `None`
/// when there is no `/` or nothing follows it.
pub fn version_number(version: &[u8]) -> Option<&[u8]> {
    let slash = version.iter().position(|&b| b == b'/')?;
    let rest = version.get(slash + 1..)?;
    if rest.is_empty() {
        None
    } else {
        Some(rest)
    }
}

/// Whether a method token is neither a known method nor one starting with a non-uppercase
/// letter (1.4 `HTTP_METH_OTHER`).
fn is_other_method(method: &[u8]) -> bool {
    matches!(
        super::matcher::classify_method(method),
        super::matcher::MethodClass::Other(_)
    )
}

/// Calls `visit` with every comma-separated element of every header named `name`
/// (case-insensitive; `None` or empty = every header), stopping when it breaks.
fn each_value<'a, I, F>(headers: I, name: Option<&str>, mut visit: F)
where
    I: Iterator<Item = (&'a [u8], &'a [u8])>,
    F: FnMut(&'a [u8]) -> ControlFlow<()>,
{
    for (n, v) in headers {
        if !header_name_matches(n, name) {
            continue;
        }
        for elem in HdrValues::new(v) {
            if visit(elem).is_break() {
                return;
            }
        }
    }
}

/// Number of comma-separated elements over every header named `name`.
fn count_values<'a, I>(headers: I, name: Option<&str>) -> i64
where
    I: Iterator<Item = (&'a [u8], &'a [u8])>,
{
    let mut n: i64 = 0;
    each_value(headers, name, |_| {
        n += 1;
        ControlFlow::Continue(())
    });
    n
}

fn header_name_matches(header: &[u8], wanted: Option<&str>) -> bool {
    match wanted {
        None => true,
        Some("") => true,
        Some(w) => header.eq_ignore_ascii_case(w.as_bytes()),
    }
}

/// Iterator over the elements of one header value: split on commas outside double-quoted
/// strings (a backslash escapes the next byte inside quotes), each element trimmed of
/// blanks (SP, HT, CR, LF). An empty value yields one empty element; `a,` yields `a` and
/// an empty element, as 1.4's `http_find_header2` does.
#[derive(Clone, Debug)]
pub struct HdrValues<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> HdrValues<'a> {
    pub fn new(value: &'a [u8]) -> Self {
        HdrValues { rest: Some(value) }
    }
}

impl<'a> Iterator for HdrValues<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let s = self.rest?;
        let end = value_end(s);
        let (elem, rest) = s.split_at(end);
        // `rest` starts with the comma when one was found; skip it.
        self.rest = rest.get(1..);
        Some(trim_lws(elem))
    }
}

/// Index of the first comma outside quotes, or the length.
fn value_end(s: &[u8]) -> usize {
    let mut quoted = false;
    let mut escaped = false;
    for (i, &b) in s.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted {
            if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                quoted = false;
            }
        } else if b == b'"' {
            quoted = true;
        } else if b == b',' {
            return i;
        }
    }
    s.len()
}

fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn trim_lws(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_lws(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_lws(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// The `path` of a request URI: from the first `/` after an optional `scheme://authority`
/// up to, not including, the first `?`; `;params` stay. `None` for `*`, an empty URI, an
/// absolute URI without `://` after its scheme, or a URI without any `/` (1.4
/// `http_get_path`).
pub fn extract_path(uri: &[u8]) -> Option<&[u8]> {
    let first = *uri.first()?;
    if first == b'*' {
        return None;
    }
    let mut i = 0;
    if first.is_ascii_alphabetic() {
        // Scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then "://".
        i = 1;
        while uri
            .get(i)
            .is_some_and(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        {
            i += 1;
        }
        if uri.get(i..i + 3) != Some(b"://".as_slice()) {
            return None;
        }
        i += 3;
    }
    // Skip [user[:passwd]@]host[:port] up to the path's slash.
    let start = i + uri.get(i..)?.iter().position(|&b| b == b'/')?;
    let path = uri.get(start..)?;
    let end = path.iter().position(|&b| b == b'?').unwrap_or(path.len());
    path.get(..end)
}

/// `url_ip`/`url_port` of a request URI, as 1.4's `url2sa`: for an `http://` URI whose host
/// is a dotted IPv4 address, that address and the port after it (80 when absent); for
/// anything else 0.0.0.0 and port 0 (the fetch still succeeds with those values).
pub fn url_ip_port(uri: &[u8]) -> (Ipv4Addr, u16) {
    let none = (Ipv4Addr::UNSPECIFIED, 0);
    let Some(sep) = uri.windows(3).position(|w| w == b"://") else {
        return none;
    };
    // 1.4 compares the last four bytes before "://", ORed with 0x20, with "http".
    let is_http = sep >= 4
        && uri
            .get(sep - 4..sep)
            .is_some_and(|s| s.iter().zip(b"http").all(|(&a, &b)| a | 0x20 == b));
    if !is_http {
        return none;
    }
    let Some(rest) = uri.get(sep + 3..) else {
        return none;
    };
    let Some((ip, used)) = parse_ipv4_prefix(rest) else {
        return none;
    };
    let port = match rest.get(used) {
        Some(b':') => {
            let digits = rest.get(used + 1..).unwrap_or_default();
            // Unchecked decimal read truncated to 16 bits, as `str2uic` + `htons`.
            (leading_uint(digits) & 0xffff) as u16
        }
        _ => 80,
    };
    (ip, port)
}

/// `hdr_ip`: the dotted IPv4 address at the start of a header value, 0.0.0.0 when there is
/// none (1.4 `url2ip` on the value).
pub fn header_ip(value: &[u8]) -> Ipv4Addr {
    parse_ipv4_prefix(value).map_or(Ipv4Addr::UNSPECIFIED, |(ip, _)| ip)
}

/// Parses a dotted-quad IPv4 address at the start of `s`, stopping at the first byte that is
/// neither a digit nor a dot. Returns the address and the number of bytes used, or `None`
/// when the prefix is not exactly four octets of at most 255 (1.4 `url2ip`).
fn parse_ipv4_prefix(s: &[u8]) -> Option<(Ipv4Addr, usize)> {
    let mut octets = [0u8; 4];
    let mut idx = 0usize;
    let mut count = 0usize;
    let mut saw_digit = false;
    let mut used = s.len();
    for (i, &ch) in s.iter().enumerate() {
        if ch.is_ascii_digit() {
            let slot = octets.get_mut(idx)?;
            let v = u32::from(*slot) * 10 + u32::from(ch - b'0');
            *slot = u8::try_from(v).ok()?;
            if !saw_digit {
                count += 1;
                if count > 4 {
                    return None;
                }
                saw_digit = true;
            }
        } else if ch == b'.' {
            if !saw_digit || count == 4 {
                return None;
            }
            idx += 1;
            saw_digit = false;
        } else {
            used = i;
            break;
        }
    }
    if count < 4 {
        return None;
    }
    Some((Ipv4Addr::from(octets), used))
}

/// Unchecked unsigned decimal read of the leading digits (1.4 `str2uic`), wrapping.
fn leading_uint(s: &[u8]) -> u32 {
    s.iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u32, |acc, &b| {
            acc.wrapping_mul(10).wrapping_add(u32::from(b - b'0'))
        })
}

/// Integer value of a header element, exactly as 1.4's `strl2ic`: an optional leading `-`,
/// then bytes are accumulated as `(byte - '0')` until one exceeds `'9'`. Bytes *below* `'0'`
/// (space, `.`, and bytes >= 0x80 on signed-char platforms) do not stop the scan and add a
/// negative digit, so `"12 "` reads as 104; the arithmetic wraps at 32 bits.
pub fn strl2ic(s: &[u8]) -> i32 {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let mut acc: i32 = 0;
    for &b in digits {
        // `char` is signed on the platforms 1.4 ran on.
        let d = i32::from(b as i8) - i32::from(b'0');
        if d > 9 {
            break;
        }
        acc = if neg {
            acc.wrapping_mul(10).wrapping_sub(d)
        } else {
            acc.wrapping_mul(10).wrapping_add(d)
        };
    }
    acc
}

/// Status code as 1.4's `__strl2ui`: every byte of the token accumulated as a decimal digit
/// without checking, wrapping, then stored in an `int`.
fn strl2ui(s: &[u8]) -> i32 {
    s.iter().fold(0u32, |acc, &b| {
        acc.wrapping_mul(10)
            .wrapping_add(u32::from(b).wrapping_sub(u32::from(b'0')))
    }) as i32
}

/// Bytes decoded on the stack before `http_auth` falls back to the heap.
const AUTH_SCRATCH: usize = 512;

/// `http_auth*`: decodes Basic credentials from the first `Authorization` (or
/// `Proxy-Authorization`) header value and hands them, with the userlist, to the matcher.
fn fetch_auth<C, F>(ctx: &C, ul_name: &str, visit: &mut F)
where
    C: AclContext,
    F: FnMut(Sample<'_>) -> ControlFlow<()>,
{
    if ctx.request_line().is_none() {
        return;
    }
    let Some(userlist) = ctx.userlist(ul_name) else {
        return;
    };
    let hdr_name = if ctx.use_proxy_auth() {
        "Proxy-Authorization"
    } else {
        "Authorization"
    };
    let mut first = None;
    each_value(ctx.req_headers(), Some(hdr_name), |v| {
        first = Some(v);
        ControlFlow::Break(())
    });
    let Some(value) = first else {
        return;
    };
    let Some(encoded) = auth::basic_payload(value) else {
        return;
    };
    let needed = auth::decoded_len_bound(encoded);
    let mut stack = [0u8; AUTH_SCRATCH];
    let mut heap = Vec::new();
    let scratch: &mut [u8] = if needed <= AUTH_SCRATCH {
        &mut stack
    } else {
        heap.resize(needed, 0);
        &mut heap
    };
    if let Some(creds) = auth::decode_credentials(encoded, scratch) {
        let _ = visit(Sample::Auth { userlist, creds });
    }
    // Best effort: do not leave the decoded password lying around on the stack/heap.
    scratch.fill(0);
    std::hint::black_box(&scratch);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elems(v: &str) -> Vec<&str> {
        HdrValues::new(v.as_bytes())
            .map(|e| std::str::from_utf8(e).expect("ascii test data"))
            .collect()
    }

    #[test]
    fn header_values_split_on_commas_outside_quotes() {
        assert_eq!(elems("a, b ,c"), ["a", "b", "c"]);
        assert_eq!(elems("\"x,y\", z"), ["\"x,y\"", "z"]);
        assert_eq!(elems("\"a\\\",b\",c"), ["\"a\\\",b\"", "c"]);
        assert_eq!(elems(""), [""]);
        assert_eq!(elems("a,"), ["a", ""]);
        assert_eq!(elems("a,,b"), ["a", "", "b"]);
        assert_eq!(elems(" \t spaced \t"), ["spaced"]);
        // A backslash outside quotes is an ordinary byte.
        assert_eq!(elems("a\\,b"), ["a\\", "b"]);
    }

    #[test]
    fn path_extraction_follows_1_4() {
        let p =
            |u: &str| extract_path(u.as_bytes()).map(|p| String::from_utf8_lossy(p).into_owned());
        assert_eq!(p("/a/b?c=d").as_deref(), Some("/a/b"));
        assert_eq!(p("/a;jsessionid=1?x").as_deref(), Some("/a;jsessionid=1"));
        assert_eq!(p("http://host:8080/x/y?q").as_deref(), Some("/x/y"));
        assert_eq!(p("HTTP://user:pw@host/").as_deref(), Some("/"));
        assert_eq!(p("svn+ssh://h/r").as_deref(), Some("/r"));
        assert_eq!(p("*"), None);
        assert_eq!(p(""), None);
        assert_eq!(p("http://host"), None);
        assert_eq!(p("host:443"), None);
        assert_eq!(p("http:/x"), None);
        assert_eq!(p("/").as_deref(), Some("/"));
        assert_eq!(p("?q"), None);
    }

    #[test]
    fn url_ip_and_port() {
        let f = |u: &str| url_ip_port(u.as_bytes());
        assert_eq!(
            f("http://10.1.2.3:8080/x"),
            (Ipv4Addr::new(10, 1, 2, 3), 8080)
        );
        assert_eq!(f("HTTP://10.1.2.3/x"), (Ipv4Addr::new(10, 1, 2, 3), 80));
        assert_eq!(f("http://10.1.2.3"), (Ipv4Addr::new(10, 1, 2, 3), 80));
        assert_eq!(f("http://www.example.com/"), (Ipv4Addr::UNSPECIFIED, 0));
        assert_eq!(f("https://10.1.2.3/"), (Ipv4Addr::UNSPECIFIED, 0));
        assert_eq!(f("/relative"), (Ipv4Addr::UNSPECIFIED, 0));
        assert_eq!(
            f("http://1.2.3.4:70000/"),
            (Ipv4Addr::new(1, 2, 3, 4), (70000u32 & 0xffff) as u16)
        );
        assert_eq!(f("http://1.2.3/"), (Ipv4Addr::UNSPECIFIED, 0));
        assert_eq!(f("http://256.1.1.1/"), (Ipv4Addr::UNSPECIFIED, 0));
    }

    #[test]
    fn header_ip_reads_leading_dotted_quad() {
        assert_eq!(header_ip(b"192.168.0.1"), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(header_ip(b"192.168.0.1:80"), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(header_ip(b"1.2.3.4.5"), Ipv4Addr::UNSPECIFIED);
        assert_eq!(header_ip(b".1.2.3.4"), Ipv4Addr::UNSPECIFIED);
        assert_eq!(header_ip(b"unknown"), Ipv4Addr::UNSPECIFIED);
        assert_eq!(header_ip(b""), Ipv4Addr::UNSPECIFIED);
    }

    #[test]
    fn strl2ic_reproduces_1_4_quirks() {
        assert_eq!(strl2ic(b"123"), 123);
        assert_eq!(strl2ic(b"-42"), -42);
        assert_eq!(strl2ic(b"42abc"), 42);
        assert_eq!(strl2ic(b""), 0);
        assert_eq!(strl2ic(b"-"), 0);
        // Bytes below '0' add negative digits instead of stopping the scan.
        assert_eq!(strl2ic(b"12 "), 104);
        assert_eq!(strl2ic(b"1.5"), 85);
    }

    #[test]
    fn status_code_and_version() {
        assert_eq!(strl2ui(b"200"), 200);
        assert_eq!(strl2ui(b"404"), 404);
        assert_eq!(version_number(b"HTTP/1.1"), Some(b"1.1".as_slice()));
        assert_eq!(version_number(b"HTTP/"), None);
        assert_eq!(version_number(b"HTTP1.1"), None);
    }

    #[test]
    fn backend_load_definitions() {
        let b = BackendLoad {
            active_servers: 3,
            queued: 7,
            ..Default::default()
        };
        assert_eq!(b.nbsrv(), 3);
        assert_eq!(b.avg_queue(), 3); // ceil(7 / 3)
        let b = BackendLoad {
            backup_servers: 2,
            first_backup_in_use: true,
            queued: 5,
            ..Default::default()
        };
        assert_eq!(b.nbsrv(), 1);
        assert_eq!(b.avg_queue(), 5);
        let b = BackendLoad {
            backup_servers: 2,
            queued: 5,
            ..Default::default()
        };
        assert_eq!(b.nbsrv(), 2);
        assert_eq!(b.avg_queue(), 3);
        let b = BackendLoad {
            queued: 4,
            ..Default::default()
        };
        assert_eq!(b.nbsrv(), 0);
        assert_eq!(b.avg_queue(), 8);
    }
}
