//! The typed intermediate representation of a HAProxy 1.4 configuration.
//!
//! This is the contract between the parser and the runtime: every keyword 1.4 accepts lands in
//! a typed field here (no string bags), with `defaults` already applied and legacy names mapped
//! to their modern meaning (`contimeout` -> `timeouts.connect`, `redispatch` ->
//! `options.redispatch`, ...). Times are milliseconds unless a field says otherwise.
//! Each type's doc names the runtime module that gives it behaviour.

use crate::span::{Span, Spanned};
use regex::bytes::Regex;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// A boolean keyword or option: `Some(span)` when enabled (the span of the line that enabled
/// it, possibly a `defaults` line), `None` when off.
pub type Flag = Option<Span>;

/// A whole configuration: what `-f file...` produced.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub global: Global,
    /// Frontends, backends and listens in file order, `defaults` applied.
    pub proxies: Vec<Proxy>,
    pub userlists: Vec<Userlist>,
    /// Each `defaults` section as it stood at its end, in file order (`name` empty, `span`
    /// on the `defaults` line, log format resolved). The runtime reads `proxies`, where
    /// these values are already applied; tools that re-emit the configuration section by
    /// section (the converter, `src/convert/`) read them here.
    pub defaults: Vec<Proxy>,
}

impl Config {
    pub fn proxy(&self, name: &str) -> Option<&Proxy> {
        self.proxies.iter().find(|p| p.name == name)
    }

    /// The backend-capable proxy of this name (a frontend and a backend may share a name).
    pub fn backend(&self, name: &str) -> Option<&Proxy> {
        self.proxies
            .iter()
            .find(|p| p.name == name && p.kind.has_be())
    }

    pub fn userlist(&self, name: &str) -> Option<&Userlist> {
        self.userlists.iter().find(|u| u.name == name)
    }
}

// ---------------------------------------------------------------------------------------------
// global
// ---------------------------------------------------------------------------------------------

/// The `global` section. Runtime: `src/process/` (daemon, privileges, limits), `src/log/`.
#[derive(Clone, Debug, Default)]
pub struct Global {
    pub chroot: Option<Spanned<PathBuf>>,
    pub daemon: Flag,
    pub debug: Flag,
    pub quiet: Flag,
    pub description: Option<Spanned<String>>,
    pub node: Option<Spanned<String>>,
    pub uid: Option<Spanned<u32>>,
    pub gid: Option<Spanned<u32>>,
    /// `user NAME`, resolved with getpwnam while parsing (as 1.4 does).
    pub user: Option<Spanned<ResolvedId>>,
    /// `group NAME`, resolved with getgrnam while parsing.
    pub group: Option<Spanned<ResolvedId>>,
    /// Up to two targets.
    pub logs: Vec<Spanned<LogTarget>>,
    /// `log-send-hostname [name]`: `Some(None)` = use the machine's hostname.
    pub log_send_hostname: Option<Spanned<Option<String>>>,
    pub log_tag: Option<Spanned<String>>,
    pub maxconn: Option<Spanned<u32>>,
    pub maxpipes: Option<Spanned<u32>>,
    /// `nbproc`, 1 when absent.
    pub nbproc: Option<Spanned<u32>>,
    pub pidfile: Option<Spanned<PathBuf>>,
    pub noepoll: Flag,
    pub nokqueue: Flag,
    pub nopoll: Flag,
    pub nosepoll: Flag,
    pub nosplice: Flag,
    /// `spread-checks <0..50>` percent.
    pub spread_checks: Option<Spanned<u32>>,
    pub stats_socket: Option<Spanned<StatsSocket>>,
    /// `stats timeout` (ms).
    pub stats_timeout: Option<Spanned<u32>>,
    pub stats_maxconn: Option<Spanned<u32>>,
    pub tune: Tune,
    pub ulimit_n: Option<Spanned<u32>>,
}

/// A user or group name resolved to its numeric id at parse time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedId {
    pub name: String,
    pub id: u32,
}

/// `tune.*` keywords (all optional; the runtime applies HAProxy's defaults).
#[derive(Clone, Debug, Default)]
pub struct Tune {
    pub bufsize: Option<Spanned<u32>>,
    pub chksize: Option<Spanned<u32>>,
    /// -1 = unlimited.
    pub maxaccept: Option<Spanned<i32>>,
    pub maxpollevents: Option<Spanned<u32>>,
    pub maxrewrite: Option<Spanned<u32>>,
    pub rcvbuf_client: Option<Spanned<u32>>,
    pub rcvbuf_server: Option<Spanned<u32>>,
    pub sndbuf_client: Option<Spanned<u32>>,
    pub sndbuf_server: Option<Spanned<u32>>,
}

/// `stats socket <path> [uid|user] [gid|group] [mode] [level]`. Runtime: `src/stats/socket.rs`.
#[derive(Clone, Debug)]
pub struct StatsSocket {
    pub path: PathBuf,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Octal permission bits.
    pub mode: Option<u32>,
    pub level: CliLevel,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CliLevel {
    User,
    Operator,
    Admin,
}

// ---------------------------------------------------------------------------------------------
// logging
// ---------------------------------------------------------------------------------------------

/// One `log <addr> <facility> [max [min]]` target. Runtime: `src/log/syslog.rs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogTarget {
    pub addr: LogAddr,
    /// Syslog facility code 0..=23 (`kern`=0 ... `local7`=23).
    pub facility: u8,
    /// Messages with a level number above this are not sent (default `debug`=7).
    pub max_level: u8,
    /// Sent levels are raised to at least this severity (numerically capped), default `emerg`=0.
    pub min_level: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogAddr {
    /// UDP, port 514 when absent.
    Udp(SocketAddr),
    /// AF_UNIX datagram socket, e.g. `/dev/log`.
    Unix(PathBuf),
}

/// Syslog facility names in code order (index = code).
pub const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
    "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// Syslog level names in code order (index = level).
pub const LEVELS: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

// ---------------------------------------------------------------------------------------------
// userlist
// ---------------------------------------------------------------------------------------------

/// `userlist <name>`. Runtime: `src/acl/auth.rs` (`http_auth`, `http_auth_group`).
#[derive(Clone, Debug)]
pub struct Userlist {
    pub span: Span,
    pub name: String,
    pub groups: Vec<Spanned<UlGroup>>,
    pub users: Vec<Spanned<UlUser>>,
}

#[derive(Clone, Debug)]
pub struct UlGroup {
    pub name: String,
    /// Members named by `users a,b,c` on the group line.
    pub users: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct UlUser {
    pub name: String,
    pub password: Password,
    /// Groups named by `groups a,b` on the user line.
    pub groups: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Password {
    /// `password <crypt(3) hash>`.
    Crypt(String),
    /// `insecure-password <plain>`.
    Insecure(String),
    /// No password given: the user can never authenticate.
    None,
}

// ---------------------------------------------------------------------------------------------
// proxies
// ---------------------------------------------------------------------------------------------

/// Section kind of a proxy; decides its capabilities (FE, BE or both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyKind {
    Frontend,
    Backend,
    Listen,
}

impl ProxyKind {
    pub fn has_fe(self) -> bool {
        matches!(self, ProxyKind::Frontend | ProxyKind::Listen)
    }
    pub fn has_be(self) -> bool {
        matches!(self, ProxyKind::Backend | ProxyKind::Listen)
    }
    /// The section word, as HAProxy names it in messages.
    pub fn word(self) -> &'static str {
        match self {
            ProxyKind::Frontend => "frontend",
            ProxyKind::Backend => "backend",
            ProxyKind::Listen => "listen",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Tcp,
    Http,
    Health,
}

/// A `frontend`, `backend` or `listen` section with `defaults` applied.
/// Runtime: `src/runtime.rs` builds the live proxy from it.
#[derive(Clone, Debug)]
pub struct Proxy {
    pub span: Span,
    pub name: String,
    pub kind: ProxyKind,
    /// `id <n>`; the runtime numbers the others from 1 as HAProxy does.
    pub id: Option<Spanned<u32>>,
    pub disabled: Flag,
    pub description: Option<Spanned<String>>,
    pub mode: Spanned<Mode>,
    /// `bind` lines, plus the address list of a `listen/frontend <name> <addr>` header line.
    pub binds: Vec<Spanned<Bind>>,
    /// Frontend `maxconn` (default 2000 or `-N`).
    pub maxconn: Option<Spanned<u32>>,
    pub backlog: Option<Spanned<u32>>,
    pub fullconn: Option<Spanned<u32>>,
    pub rate_limit_sessions: Option<Spanned<u32>>,
    pub timeouts: Timeouts,
    /// `retries` (default 3).
    pub retries: Option<Spanned<u32>>,
    pub grace: Option<Spanned<u32>>,
    pub bind_process: Option<Spanned<BindProcess>>,
    pub options: Options,
    pub log_format: Spanned<LogFormat>,
    /// Own targets (`log global` already expanded into the global targets).
    pub logs: Vec<Spanned<LogTarget>>,
    pub balance: Spanned<Balance>,
    pub hash_type: Spanned<HashType>,
    pub cookie: Option<Spanned<CookiePersist>>,
    pub appsession: Option<Spanned<AppSession>>,
    pub persist_rdp_cookie: Option<Spanned<String>>,
    pub force_persist: Vec<Spanned<Condition>>,
    pub ignore_persist: Vec<Spanned<Condition>>,
    pub stick_table: Option<Spanned<StickTable>>,
    pub stick_rules: Vec<Spanned<StickRule>>,
    /// Named ACLs in declaration order; several lines with one name are OR-ed (one `AclDef`
    /// with several expressions). Conditions refer to them by index.
    pub acls: Vec<AclDef>,
    /// `block if|unless` conditions.
    pub blocks: Vec<Spanned<Condition>>,
    pub http_request: Vec<Spanned<HttpReqRule>>,
    pub tcp_inspect_delay: Option<Spanned<u32>>,
    pub tcp_request: Vec<Spanned<TcpReqRule>>,
    /// `req*` regex rules (not `reqadd`) in declaration order.
    pub req_filters: Vec<Spanned<HeaderFilter>>,
    /// `rsp*` regex rules (not `rspadd`) in declaration order.
    pub rsp_filters: Vec<Spanned<HeaderFilter>>,
    pub reqadd: Vec<Spanned<HeaderAdd>>,
    pub rspadd: Vec<Spanned<HeaderAdd>>,
    pub redirects: Vec<Spanned<Redirect>>,
    pub use_backends: Vec<Spanned<UseBackend>>,
    pub default_backend: Option<Spanned<String>>,
    pub servers: Vec<Spanned<Server>>,
    pub dispatch: Option<Spanned<SocketAddr>>,
    pub source: Option<Spanned<Source>>,
    /// Replacement error messages by status code.
    pub errors: Vec<Spanned<ErrorMessage>>,
    pub capture_cookie: Option<Spanned<CaptureCookie>>,
    pub capture_request_headers: Vec<Spanned<CaptureHeader>>,
    pub capture_response_headers: Vec<Spanned<CaptureHeader>>,
    pub monitor_uri: Option<Spanned<String>>,
    pub monitor_net: Vec<Spanned<IpNet>>,
    pub monitor_fail: Vec<Spanned<Condition>>,
    pub stats: Option<StatsConfig>,
    pub check: Spanned<CheckKind>,
    pub http_check: HttpCheck,
    pub http_send_name_header: Option<Spanned<String>>,
}

/// Proxy timeouts in ms; `None` = not set (infinite, or HAProxy's documented fallback).
/// Runtime: `src/proxy/stream.rs`.
#[derive(Clone, Debug, Default)]
pub struct Timeouts {
    pub client: Option<Spanned<u32>>,
    pub server: Option<Spanned<u32>>,
    pub connect: Option<Spanned<u32>>,
    /// Falls back to `connect` when unset.
    pub queue: Option<Spanned<u32>>,
    /// Falls back to `connect` when unset.
    pub tarpit: Option<Spanned<u32>>,
    pub http_request: Option<Spanned<u32>>,
    pub http_keep_alive: Option<Spanned<u32>>,
    pub check: Option<Spanned<u32>>,
}

/// `bind-process all|odd|even|<n>...` as a bit mask of process numbers 1..=32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindProcess(pub u32);

/// One listening address of a `bind` line (a line with `a:1,b:2` yields several).
/// Runtime: `src/listener.rs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bind {
    /// `None` = any IPv4 address (`*`, empty or `0.0.0.0` is stored as `None`).
    pub ip: Option<IpAddr>,
    pub port_lo: u16,
    /// Equal to `port_lo` unless a range `lo-hi` was given.
    pub port_hi: u16,
    pub interface: Option<String>,
    pub mss: Option<i32>,
    pub transparent: bool,
    pub id: Option<u32>,
    pub name: Option<String>,
    pub defer_accept: bool,
}

/// Boolean and argument-carrying `option` keywords. `no option X` clears a flag inherited
/// from `defaults`. Runtime: the module named on each field.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `src/proxy/connect.rs`
    pub abortonclose: Flag,
    pub accept_invalid_http_request: Flag,
    pub accept_invalid_http_response: Flag,
    /// `src/lb/mod.rs`
    pub allbackups: Flag,
    pub checkcache: Flag,
    pub clitcpka: Flag,
    pub srvtcpka: Flag,
    /// `option tcpka`: both sides.
    pub tcpka: Flag,
    pub contstats: Flag,
    pub dontlog_normal: Flag,
    pub dontlognull: Flag,
    pub forceclose: Flag,
    pub forwardfor: Option<Spanned<ForwardFor>>,
    pub http_no_delay: Flag,
    pub http_pretend_keepalive: Flag,
    pub http_server_close: Flag,
    pub http_use_proxy_header: Flag,
    pub httpclose: Flag,
    pub http_proxy: Flag,
    pub independant_streams: Flag,
    pub log_health_checks: Flag,
    pub log_separate_errors: Flag,
    pub logasap: Flag,
    pub nolinger: Flag,
    pub originalto: Option<Spanned<OriginalTo>>,
    pub persist: Flag,
    pub redispatch: Flag,
    pub socket_stats: Flag,
    pub splice_auto: Flag,
    pub splice_request: Flag,
    pub splice_response: Flag,
    pub tcp_smart_accept: Flag,
    pub tcp_smart_connect: Flag,
    pub transparent: Flag,
}

/// `option forwardfor [except <net>] [header <name>] [if-none]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardFor {
    pub except: Option<IpNet>,
    /// Header name, `X-Forwarded-For` by default.
    pub header: String,
    pub if_none: bool,
}

/// `option originalto [except <net>] [header <name>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginalTo {
    pub except: Option<IpNet>,
    /// Header name, `X-Original-To` by default.
    pub header: String,
}

/// Which traffic log line a proxy emits. Runtime: `src/log/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// No `option httplog/tcplog`: a `Connect from` line at accept.
    #[default]
    Connect,
    Tcp,
    Http,
    /// `option httplog clf`.
    HttpClf,
}

// ---------------------------------------------------------------------------------------------
// load balancing
// ---------------------------------------------------------------------------------------------

/// `balance <algo> [args]`. Runtime: `src/lb/` (one module per algorithm).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Balance {
    #[default]
    RoundRobin,
    StaticRr,
    LeastConn,
    Source,
    Uri {
        len: Option<u32>,
        depth: Option<u32>,
        whole: bool,
    },
    /// `check_post` max wait in bytes (`Some(48)` when given without a value).
    UrlParam {
        name: String,
        check_post: Option<u32>,
    },
    Hdr {
        name: String,
        use_domain_only: bool,
    },
    /// Cookie name, `mstshash` by default.
    RdpCookie {
        name: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HashType {
    #[default]
    MapBased,
    Consistent,
}

/// `server <name> <addr>[:port] [params]`, with `default-server` values applied.
/// Runtime: `src/runtime.rs` (live state), `src/check/` (health).
#[derive(Clone, Debug)]
pub struct Server {
    pub name: String,
    pub addr: ServerAddr,
    pub id: Option<u32>,
    /// `cookie <value>`; `Some("")` when the keyword is given without a value (1.4 accepts it).
    pub cookie: Option<String>,
    pub check: bool,
    /// ms, default 2000.
    pub inter: u32,
    pub fastinter: Option<u32>,
    pub downinter: Option<u32>,
    /// default 2.
    pub rise: u32,
    /// default 3.
    pub fall: u32,
    /// Health-check port override.
    pub check_port: Option<u16>,
    /// Health-check address override (`addr`).
    pub check_addr: Option<IpAddr>,
    /// 0..=256, default 1.
    pub weight: u32,
    pub backup: bool,
    pub disabled: bool,
    pub maxconn: u32,
    pub maxqueue: u32,
    pub minconn: u32,
    /// ms; 0 = off.
    pub slowstart: u32,
    /// `track [<proxy>/]<server>`.
    pub track: Option<ServerRef>,
    pub redir: Option<String>,
    pub source: Option<Source>,
    pub observe: Option<Observe>,
    pub on_error: OnError,
    pub error_limit: u32,
}

/// Server address. `ip: None` means "the address the client connected to".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAddr {
    pub ip: Option<IpAddr>,
    pub port: ServerPort,
    /// The address as written (for messages and stats).
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerPort {
    Fixed(u16),
    /// No port: the client's destination port.
    Same,
    /// `+N` / `-N`: the client's destination port plus an offset.
    Offset(i32),
}

/// `[<proxy>/]<server>`; `proxy: None` = the current proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerRef {
    pub proxy: Option<String>,
    pub server: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observe {
    Layer4,
    Layer7,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnError {
    Fastinter,
    #[default]
    FailCheck,
    SuddenDeath,
    MarkDown,
}

/// `source <addr>[:port] [usesrc ...] [interface <if>]` (proxy or server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub addr: IpAddr,
    pub port_lo: u16,
    pub port_hi: u16,
    pub usesrc: Option<UseSrc>,
    pub interface: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UseSrc {
    Addr(SocketAddr),
    Client,
    ClientIp,
    HdrIp { name: String, occ: i32 },
}

// ---------------------------------------------------------------------------------------------
// persistence
// ---------------------------------------------------------------------------------------------

/// `cookie <name> [rewrite|insert|prefix] [indirect] [nocache] [postonly] [preserve]
/// [httponly] [secure] [domain <d>]* [maxidle <t>] [maxlife <t>]`.
/// Runtime: `src/persist/cookie.rs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookiePersist {
    pub name: String,
    pub mode: CookieMode,
    pub indirect: bool,
    pub nocache: bool,
    pub postonly: bool,
    pub preserve: bool,
    pub httponly: bool,
    pub secure: bool,
    pub domains: Vec<String>,
    /// Seconds.
    pub maxidle: Option<u32>,
    /// Seconds.
    pub maxlife: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookieMode {
    /// No mode word: route by the cookie, never touch responses.
    Passive,
    Rewrite,
    Insert,
    Prefix,
}

/// `appsession <cookie> len <n> timeout <t> [request-learn] [prefix] [mode ...]`.
/// Runtime: `src/persist/appsession.rs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppSession {
    pub cookie: String,
    pub len: u32,
    /// Idle expiry in ms.
    pub timeout: u32,
    pub request_learn: bool,
    pub prefix: bool,
    pub mode: AppSessionMode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AppSessionMode {
    #[default]
    PathParameters,
    QueryString,
}

/// `stick-table type ip|integer|string [len <n>] size <n> [expire <t>] [nopurge]`.
/// Runtime: `src/persist/stick.rs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StickTable {
    pub key: StickKey,
    pub size: u64,
    pub expire: Option<u32>,
    pub nopurge: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StickKey {
    Ip,
    Integer,
    /// Key length (default 32).
    String {
        len: u32,
    },
}

/// `stick on|match|store-request <pattern> [table <t>] [if|unless <cond>]`.
#[derive(Clone, Debug)]
pub struct StickRule {
    pub kind: StickRuleKind,
    pub pattern: Pattern,
    pub table: Option<String>,
    pub cond: Option<Condition>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StickRuleKind {
    /// Match and store.
    On,
    Match,
    StoreRequest,
}

/// A 1.4 sample pattern (`pattern.c`): a fetch followed by converters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    pub fetch: PatternFetch,
    pub converters: Vec<Converter>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatternFetch {
    Src,
    Dst,
    DstPort,
    /// `hdr(<name>[,<occ>])`: the header value read as an IPv4 address.
    Hdr {
        name: String,
        occ: i32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Converter {
    Lower,
    Upper,
    IpMask(Ipv4Addr),
}

// ---------------------------------------------------------------------------------------------
// ACLs and conditions
// ---------------------------------------------------------------------------------------------

/// A named ACL: the OR of the expressions of every `acl <name> ...` line. Runtime: `src/acl/`.
#[derive(Clone, Debug)]
pub struct AclDef {
    pub name: String,
    pub exprs: Vec<Spanned<AclExpr>>,
    /// True for a predefined ACL (`TRUE`, `METH_GET`, ...) instantiated because a condition
    /// used it without declaring it.
    pub builtin: bool,
}

/// One ACL expression: `<criterion>[(<arg>)] [-i] [-f file] [--] <patterns>`.
/// True when any fetched value matches any pattern.
#[derive(Clone, Debug)]
pub struct AclExpr {
    pub fetch: Fetch,
    pub matcher: Matcher,
}

/// What an ACL criterion fetches. Argument-less variants with an `Option<String>` take an
/// optional proxy/header name in parentheses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetch {
    AlwaysTrue,
    AlwaysFalse,
    Src,
    Dst,
    SrcPort,
    DstPort,
    DstConn,
    FeId,
    BeId,
    SoId,
    SrvId,
    FeConn(Option<String>),
    BeConn(Option<String>),
    FeSessRate(Option<String>),
    BeSessRate(Option<String>),
    NbSrv(Option<String>),
    ConnSlots(Option<String>),
    Queue(Option<String>),
    AvgQueue(Option<String>),
    SrvIsUp(ServerRef),
    WaitEnd,
    ReqLen,
    ReqProtoHttp,
    ReqSslVer,
    ReqRdpCookie(Option<String>),
    ReqRdpCookieCnt(Option<String>),
    Method,
    ReqVer,
    Url,
    UrlIp,
    UrlPort,
    Path,
    /// Request header values (comma-split); `None` = every header.
    Hdr(Option<String>),
    HdrCnt(Option<String>),
    HdrVal(Option<String>),
    HdrIp(Option<String>),
    HttpAuth(String),
    HttpAuthGroup(String),
    HttpFirstReq,
    Status,
    RespVer,
    /// Response header values.
    Shdr(Option<String>),
    ShdrCnt(Option<String>),
    ShdrVal(Option<String>),
    ShdrIp(Option<String>),
}

impl Fetch {
    /// Whether the fetch needs the HTTP response (a response fetch in a request rule is
    /// reported while checking the configuration).
    pub fn needs_response(&self) -> bool {
        matches!(
            self,
            Fetch::Status
                | Fetch::RespVer
                | Fetch::Shdr(_)
                | Fetch::ShdrCnt(_)
                | Fetch::ShdrVal(_)
                | Fetch::ShdrIp(_)
        )
    }

    /// Whether the fetch needs the parsed HTTP request.
    pub fn needs_http_request(&self) -> bool {
        matches!(
            self,
            Fetch::Method
                | Fetch::ReqVer
                | Fetch::Url
                | Fetch::UrlIp
                | Fetch::UrlPort
                | Fetch::Path
                | Fetch::Hdr(_)
                | Fetch::HdrCnt(_)
                | Fetch::HdrVal(_)
                | Fetch::HdrIp(_)
                | Fetch::HttpAuth(_)
                | Fetch::HttpAuthGroup(_)
                | Fetch::HttpFirstReq
        )
    }
}

/// How fetched values are compared with the patterns (the criterion's suffix or type).
#[derive(Clone, Debug)]
pub enum Matcher {
    /// Boolean fetches (`always_true`, `wait_end`, `srv_is_up`, `req_proto_http`,
    /// `http_first_req`, `http_auth`): no patterns.
    Bool,
    /// Exact string (`hdr`, `url`, `path`, `req_ver`, ...).
    Str(StrPatterns),
    Beg(StrPatterns),
    End(StrPatterns),
    Sub(StrPatterns),
    Dir(StrPatterns),
    Dom(StrPatterns),
    Reg(Vec<Regex>),
    /// `_len` suffix: the length of the value compared with integer patterns.
    Len(Vec<IntRange>),
    Int(Vec<IntRange>),
    /// Dotted decimal values (`req_ssl_ver 3.1`), stored as major*65536+minor ranges.
    Version(Vec<IntRange>),
    Ip(Vec<IpNet>),
    /// `method` patterns.
    Method(Vec<MethodPattern>),
    /// `http_auth_group(<ul>) <group>...`.
    Groups(Vec<String>),
}

/// String patterns with the `-i` flag state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrPatterns {
    pub values: Vec<Vec<u8>>,
    /// Per pattern: compare case-insensitively (`-i` applies to the patterns after it).
    pub icase: Vec<bool>,
}

/// Inclusive integer range; `None` = open end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntRange {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

impl IntRange {
    pub fn contains(&self, v: i64) -> bool {
        self.min.is_none_or(|m| v >= m) && self.max.is_none_or(|m| v <= m)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MethodPattern {
    Options,
    Get,
    Head,
    Post,
    Put,
    Delete,
    Trace,
    Connect,
    /// Any other token, compared exactly (case-sensitive unless `-i`).
    Other {
        name: Vec<u8>,
        icase: bool,
    },
}

/// An IPv4/IPv6 network: address and prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let bits = u32::from(net);
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix.min(32)))
                };
                (bits & mask) == (u32::from(ip) & mask)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let bits = u128::from(net);
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix.min(128)))
                };
                (bits & mask) == (u128::from(ip) & mask)
            }
            (IpAddr::V4(net), IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
                Some(v4) => IpNet {
                    addr: IpAddr::V4(net),
                    prefix: self.prefix,
                }
                .contains(IpAddr::V4(v4)),
                None => false,
            },
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

/// `if|unless <cond>`: an OR of AND-terms. Runtime: `src/acl/eval.rs`.
#[derive(Clone, Debug)]
pub struct Condition {
    /// `unless`: the whole result is inverted.
    pub unless: bool,
    /// OR of terms; each term is the AND of its ACL references.
    pub terms: Vec<Vec<AclTerm>>,
}

#[derive(Clone, Debug)]
pub struct AclTerm {
    /// An odd number of `!` in front.
    pub negate: bool,
    pub acl: AclRef,
}

#[derive(Clone, Debug)]
pub enum AclRef {
    /// Index into the proxy's `acls`.
    Named(usize),
    /// `{ <criterion> [flags] <values> }`.
    Anonymous(Box<AclExpr>),
}

// ---------------------------------------------------------------------------------------------
// rules
// ---------------------------------------------------------------------------------------------

/// `http-request allow|deny|auth [realm <r>] [if|unless <cond>]`. Runtime: `src/proxy/rules.rs`.
#[derive(Clone, Debug)]
pub struct HttpReqRule {
    pub action: HttpReqAction,
    pub cond: Option<Condition>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpReqAction {
    Allow,
    Deny,
    /// Realm; `None` = the proxy name (or `HAProxy Statistics` for stats).
    Auth {
        realm: Option<String>,
    },
}

/// `tcp-request content accept|reject [if|unless <cond>]`.
#[derive(Clone, Debug)]
pub struct TcpReqRule {
    pub accept: bool,
    pub cond: Option<Condition>,
}

/// A `req*`/`rsp*` regex rule (everything but `reqadd`/`rspadd`). The regex is matched against
/// whole lines (start line first, then each header line without CRLF).
/// Runtime: `src/proxy/filters.rs`.
#[derive(Clone, Debug)]
pub struct HeaderFilter {
    pub regex: Regex,
    /// The `i` variants (`reqirep`, ...): compiled case-insensitively.
    pub icase: bool,
    pub action: FilterAction,
    pub cond: Option<Condition>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterAction {
    /// `reqrep`/`rsprep`: replacement with `\0`..`\9` back-references (raw bytes after
    /// config unescaping).
    Replace(Vec<u8>),
    Delete,
    Allow,
    Deny,
    Pass,
    Tarpit,
    /// `reqsetbe`: switch to this backend.
    SetBackend(String),
}

/// `reqadd`/`rspadd <line> [if|unless <cond>]`.
#[derive(Clone, Debug)]
pub struct HeaderAdd {
    pub line: Vec<u8>,
    pub cond: Option<Condition>,
}

/// `redirect location|prefix <to> [code N] [drop-query] [append-slash] [set-cookie ...]
/// [clear-cookie ...] [if|unless <cond>]`. Runtime: `src/proxy/redirect.rs`.
#[derive(Clone, Debug)]
pub struct Redirect {
    pub kind: RedirectKind,
    pub target: String,
    /// 301, 302 (default), 303, 307 or 308.
    pub code: u16,
    pub drop_query: bool,
    pub append_slash: bool,
    /// `set-cookie N[=v]` or `clear-cookie N[=]`.
    pub cookie: Option<RedirectCookie>,
    pub cond: Option<Condition>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectKind {
    Location,
    Prefix,
    Scheme,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedirectCookie {
    Set(String),
    Clear(String),
}

/// `use_backend <backend> if|unless <cond>`.
#[derive(Clone, Debug)]
pub struct UseBackend {
    pub backend: String,
    pub cond: Condition,
}

/// `errorfile`/`errorloc`/`errorloc302`/`errorloc303` for one status code.
/// Runtime: `src/proxy/errors.rs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorMessage {
    /// 200, 400, 403, 408, 500, 502, 503 or 504.
    pub status: u16,
    pub body: ErrorBody,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorBody {
    /// `errorfile`: the file's bytes, read at load time (truncated to bufsize).
    File { path: PathBuf, bytes: Vec<u8> },
    /// `errorloc`/`errorloc302` (302) or `errorloc303` (303).
    Location { code: u16, url: String },
}

/// `capture cookie <prefix> len <n>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureCookie {
    pub name: String,
    pub len: u32,
}

/// `capture request|response header <name> len <n>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureHeader {
    pub name: String,
    pub len: u32,
}

// ---------------------------------------------------------------------------------------------
// stats and checks
// ---------------------------------------------------------------------------------------------

/// All `stats` keywords of a proxy. Present as soon as one `stats` keyword is used.
/// Runtime: `src/stats/`.
#[derive(Clone, Debug)]
pub struct StatsConfig {
    pub span: Span,
    /// URI prefix, `/haproxy?stats` by default.
    pub uri: String,
    /// Realm, `HAProxy Statistics` by default.
    pub realm: Option<String>,
    /// `stats auth user:pass` accounts.
    pub auth: Vec<Spanned<(String, String)>>,
    /// `stats refresh`, in seconds.
    pub refresh: Option<u32>,
    pub hide_version: bool,
    /// `stats scope` proxy names (`.` = this proxy); empty = all.
    pub scope: Vec<String>,
    pub admin: Vec<Spanned<Condition>>,
    /// `stats show-node [name]`.
    pub show_node: Option<Option<String>>,
    /// `stats show-desc [text]`.
    pub show_desc: Option<Option<String>>,
    pub show_legends: bool,
    pub http_request: Vec<Spanned<HttpReqRule>>,
    /// haproxide extension: `stats prometheus-uri <path>`.
    pub prometheus_uri: Option<String>,
}

/// The health-check protocol of a backend. Runtime: `src/check/`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum CheckKind {
    /// Plain TCP connect.
    #[default]
    Tcp,
    /// `option httpchk [<method>] [<uri>] [<version>]`; version may embed `\r\n` headers.
    Http {
        method: String,
        uri: String,
        version: String,
    },
    SslHello,
    /// `option smtpchk [HELO|EHLO <domain>]`.
    Smtp {
        verb: String,
        domain: String,
    },
    /// `option mysql-check [user <name>]`.
    Mysql {
        user: Option<String>,
    },
    Ldap,
}

/// `http-check ...` settings.
#[derive(Clone, Debug, Default)]
pub struct HttpCheck {
    pub disable_on_404: Flag,
    pub send_state: Flag,
    pub expect: Option<Spanned<HttpExpect>>,
}

/// `http-check expect [!] status|rstatus|string|rstring <pattern>`.
#[derive(Clone, Debug)]
pub struct HttpExpect {
    pub negate: bool,
    pub kind: HttpExpectKind,
}

#[derive(Clone, Debug)]
pub enum HttpExpectKind {
    Status(String),
    RStatus(Regex),
    String(Vec<u8>),
    RString(Regex),
}
