//! Load balancing: one module per HAProxy 1.4 algorithm, dispatched from [`Balancer`].
//!
//! Keywords: `balance roundrobin|static-rr|leastconn|source|uri|url_param|hdr()|rdp-cookie`,
//! `hash-type map-based|consistent`, `option allbackups`, server `weight`, `backup`, `id`,
//! `disabled`, and the runtime `set weight` / slowstart weight ramp.
//!
//! Compare with 1.4 `src/backend.c` (`assign_server`, `recount_servers`,
//! `update_backend_weight`), `src/lb_map.c`, `src/lb_fwrr.c`, `src/lb_fwlc.c`,
//! `src/lb_chash.c` and `src/cfgparse.c` (choice of the lookup method, server ids).
//!
//! # Which code runs
//!
//! | `balance`                 | `map-based` (default)           | `consistent`          |
//! |---------------------------|---------------------------------|-----------------------|
//! | `roundrobin`              | [`roundrobin`] (fwrr trees)     | same                  |
//! | `static-rr`               | [`map`] + [`static_rr`]         | same                  |
//! | `leastconn`               | [`leastconn`] (fwlc trees)      | same                  |
//! | `source`/`uri`/`url_param`/`hdr`/`rdp-cookie` | [`map`] lookup `map[h % tot]` | [`chash`] ring |
//!
//! The hash inputs live in [`source`], [`uri`], [`url_param`], [`hdr`] and [`rdp_cookie`];
//! the hash functions in [`hash`]. When a hash algorithm finds no input (no parameter, empty
//! header, no RDP cookie, a request that is not HTTP yet), it falls back to round-robin on
//! the same map or ring, as 1.4 does.
//!
//! # Server groups
//!
//! Active servers are used while at least one is usable (up and weight > 0). Otherwise the
//! backup servers are used: only the first usable one in declaration order, or all of them
//! with `option allbackups`. (For map-based hashes 1.4 builds the map over all usable
//! backups but sizes it by the first backup's weight; we reproduce that quirk.)
//!
//! # Interface
//!
//! * Build one [`Balancer`] per backend with [`Balancer::new`] (from [`LbConfig`] and one
//!   [`ServerSpec`] per server, in declaration order) or [`Balancer::for_proxy`]. Servers
//!   are named by their declaration index everywhere.
//! * Data path: [`Balancer::pick`] / [`Balancer::try_pick`] with a [`PickInput`] describing
//!   the request, the server to avoid on redispatch, and an `is_full(idx)` callback telling
//!   whether a server is saturated (it has a `maxconn` and either its queue is non-empty or
//!   its served count reached the dynamic maxconn). Round-robin style lookups skip saturated
//!   servers; hash lookups return the hashed server even when saturated (the caller queues on
//!   it), as in 1.4.
//! * State callbacks, 1.4's `lbprm` hooks: [`Balancer::set_usable`] (UP vs DOWN/MAINT/NOLB),
//!   [`Balancer::set_weight`] (runtime `set weight`), [`Balancer::set_slowstart_step`]
//!   (slowstart ramp), [`Balancer::conn_start`] / [`Balancer::conn_end`] (a connection slot
//!   on a server is taken / released; leastconn requeues on both).
//!
//! A `Balancer` is `Send + Sync` and is shared by the worker threads: all state sits behind one
//! `parking_lot::Mutex`, held only for the lookup itself (request hashing happens before
//! locking) and never across an await. `pick` does not allocate. The `is_full` callback runs
//! with the lock held and must not call back into the same `Balancer`.

pub mod chash;
pub mod hash;
pub mod hdr;
pub mod leastconn;
pub mod map;
pub mod rdp_cookie;
pub mod roundrobin;
pub mod source;
pub mod static_rr;
mod tree;
pub mod uri;
pub mod url_param;

use parking_lot::Mutex;
use parser::ir::{Balance, HashType, Proxy};
use std::collections::BTreeSet;
use std::net::IpAddr;

/// Dynamic algorithms work on `weight * BE_WEIGHT_SCALE` so that slowstart can ramp a weight
/// in sixteenths (1.4 `include/types/backend.h`).
pub const BE_WEIGHT_SCALE: u32 = 16;
/// Largest user weight (`weight 256`); 1.4.25 `SRV_UWGHT_MAX`.
pub const SRV_UWGHT_MAX: u32 = 256;
/// Number of distinct user weights, 1.4 `SRV_UWGHT_RANGE`.
pub(crate) const SRV_UWGHT_RANGE: u32 = 256;
/// Largest effective weight, 1.4.25 `SRV_EWGHT_MAX` (= `SRV_UWGHT_MAX * BE_WEIGHT_SCALE`).
pub(crate) const SRV_EWGHT_MAX: u32 = SRV_UWGHT_MAX * BE_WEIGHT_SCALE;
/// Spacing of server ids on the consistent-hash ring, 1.4 `SRV_EWGHT_RANGE`.
pub(crate) const SRV_EWGHT_RANGE: u32 = SRV_UWGHT_RANGE * BE_WEIGHT_SCALE;

// ---------------------------------------------------------------------------------------------
// configuration
// ---------------------------------------------------------------------------------------------

/// The backend-level settings the balancer needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LbConfig {
    pub balance: Balance,
    pub hash_type: HashType,
    /// `option allbackups`.
    pub allbackups: bool,
}

/// One server, given in declaration order (its position is its index in every call).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerSpec {
    /// Configured `weight` (0..=256; larger values are clamped to 256).
    pub weight: u32,
    /// `backup`.
    pub backup: bool,
    /// Numeric server id (`puid`): explicit `id`, or the automatic one from [`auto_puids`].
    /// Places the server's points on the consistent-hash ring.
    pub puid: u32,
    /// Initial state: false for `disabled` servers (MAINT), true otherwise (1.4 starts
    /// servers UP, health checks or not).
    pub usable: bool,
}

/// Numeric ids for servers in declaration order, as 1.4 `check_config_validity()` assigns
/// them: explicit ids are kept; each server without one takes the first unused id starting
/// from a counter that begins at 1 and advances past every server (explicit or not).
/// `[Some(2), None, None]` gives `[2, 3, 4]`; `[None, Some(1), None]` gives `[2, 1, 4]`.
pub fn auto_puids(explicit: &[Option<u32>]) -> Vec<u32> {
    let mut used: BTreeSet<u32> = explicit.iter().flatten().copied().collect();
    let mut next_id: u32 = 1;
    explicit
        .iter()
        .map(|id| {
            let id = match id {
                Some(id) => *id,
                None => {
                    while used.contains(&next_id) {
                        next_id = next_id.saturating_add(1);
                    }
                    used.insert(next_id);
                    next_id
                }
            };
            next_id = next_id.saturating_add(1);
            id
        })
        .collect()
}

/// The slowstart weight step (in sixteenths, 1..=16) 1.4's health-check task applies
/// `elapsed_s` seconds after a server came back, with `slowstart_s` the configured slowstart
/// rounded up to seconds: `(16 * elapsed + slowstart - 1) / slowstart`. `None` once the
/// ramp is over (or slowstart is 0), meaning full weight. Note that 1.4's formula yields 0 at
/// `elapsed_s == 0`; 1.4 instead starts a recovering server at step 1, so callers should pass
/// `Some(1)` to [`Balancer::set_slowstart_step`] at the UP transition and use this afterwards.
pub fn slowstart_step(elapsed_s: u64, slowstart_s: u64) -> Option<u32> {
    if slowstart_s == 0 || elapsed_s >= slowstart_s {
        return None;
    }
    let step = (u64::from(BE_WEIGHT_SCALE) * elapsed_s).div_ceil(slowstart_s);
    Some(step.min(u64::from(BE_WEIGHT_SCALE)) as u32)
}

// ---------------------------------------------------------------------------------------------
// request input
// ---------------------------------------------------------------------------------------------

/// Header access for `balance hdr(<name>)`.
pub trait HeaderLookup {
    /// The value of the first header line whose name equals `name` (ASCII case-insensitive):
    /// the bytes after the colon, line end excluded. Leading/trailing blanks and the split at
    /// the first comma are done by [`hdr`], as 1.4's `http_find_header2()` does.
    fn first_value(&self, name: &[u8]) -> Option<&[u8]>;
}

impl<N: AsRef<[u8]>, V: AsRef<[u8]>> HeaderLookup for [(N, V)] {
    fn first_value(&self, name: &[u8]) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| n.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

impl<N: AsRef<[u8]>, V: AsRef<[u8]>, const K: usize> HeaderLookup for [(N, V); K] {
    fn first_value(&self, name: &[u8]) -> Option<&[u8]> {
        self.as_slice().first_value(name)
    }
}

impl<N: AsRef<[u8]>, V: AsRef<[u8]>> HeaderLookup for Vec<(N, V)> {
    fn first_value(&self, name: &[u8]) -> Option<&[u8]> {
        self.as_slice().first_value(name)
    }
}

/// Lets a borrowed slice stand for `&dyn HeaderLookup` (`headers: &slice`).
impl<T: HeaderLookup + ?Sized> HeaderLookup for &T {
    fn first_value(&self, name: &[u8]) -> Option<&[u8]> {
        (**self).first_value(name)
    }
}

impl HeaderLookup for [httparse::Header<'_>] {
    fn first_value(&self, name: &[u8]) -> Option<&[u8]> {
        self.iter()
            .find(|h| h.name.as_bytes().eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }
}

/// The HTTP request as far as the balancer needs it.
#[derive(Clone, Copy)]
pub struct HttpInput<'a> {
    /// Request method as sent (`POST` is matched case-sensitively, like 1.4).
    pub method: &'a [u8],
    /// Request-URI as sent (an absolute URI keeps its scheme and host).
    pub uri: &'a [u8],
    pub headers: &'a dyn HeaderLookup,
    /// For `url_param ... check_post`: the body bytes received so far, already limited to
    /// the body length (Content-Length, or the first chunk's size for chunked bodies). Empty
    /// when not waiting for the body.
    pub body: &'a [u8],
}

/// What a pick may look at. Algorithms only read what they need.
#[derive(Clone, Copy)]
pub struct PickInput<'a> {
    /// Client address as accepted (`balance source`).
    pub src: IpAddr,
    /// The parsed request; `None` in TCP mode or before the headers are complete, in which
    /// case `uri`, `url_param` and `hdr` fall back to round-robin.
    pub http: Option<HttpInput<'a>>,
    /// The first bytes received from the client (`balance rdp-cookie`).
    pub payload: &'a [u8],
}

impl<'a> PickInput<'a> {
    /// A TCP-mode pick: client address and whatever payload has arrived.
    pub fn tcp(src: IpAddr, payload: &'a [u8]) -> PickInput<'a> {
        PickInput {
            src,
            http: None,
            payload,
        }
    }

    /// An HTTP-mode pick.
    pub fn http(src: IpAddr, http: HttpInput<'a>) -> PickInput<'a> {
        PickInput {
            src,
            http: Some(http),
            payload: &[],
        }
    }
}

/// Why no server was picked; 1.4's `SRV_STATUS_NOSRV` and `SRV_STATUS_FULL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoPick {
    /// No usable server at all: the request gets a 503.
    NoServer,
    /// Usable servers exist but all are saturated: queue the request on the backend.
    Full,
}

/// A rejected runtime weight change. The texts are 1.4's stats-socket replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WeightError {
    #[error("Absolute weight can only be between 0 and 256 inclusive.")]
    OutOfRange,
    #[error("Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.")]
    StaticAlgorithm,
    #[error("No such server.")]
    NoSuchServer,
}

// ---------------------------------------------------------------------------------------------
// shared server table and group accounting
// ---------------------------------------------------------------------------------------------

/// One server's balancing state. `prev_*` is the state the algorithm last saw (1.4's
/// `prev_state`/`prev_eweight`), so a change can be classified as up, down or reweight.
#[derive(Clone, Debug)]
pub(crate) struct Srv {
    pub backup: bool,
    pub puid: u32,
    /// Configured weight (`iweight`).
    pub iweight: u32,
    /// Current user weight (`uweight`), changed by `set weight`.
    pub uweight: u32,
    /// Slowstart step in sixteenths while warming up (dynamic algorithms only).
    pub warmup: Option<u32>,
    /// UP and neither MAINT nor NOLB.
    pub running: bool,
    /// Effective weight in the algorithm's scale.
    pub eweight: u32,
    /// Connections currently holding a slot on this server.
    pub served: u32,
    pub prev_running: bool,
    pub prev_eweight: u32,
}

impl Srv {
    /// 1.4 `srv_is_usable()`.
    pub fn usable(&self) -> bool {
        self.running && self.eweight > 0
    }

    pub fn prev_usable(&self) -> bool {
        self.prev_running && self.prev_eweight > 0
    }
}

/// Which servers a lookup draws from (1.4 tests `srv_act`, then `fbck`, then `srv_bck`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Group {
    Active,
    /// No active server; use only this backup (the first usable one, no `allbackups`).
    FirstBackup(usize),
    /// No active server; use all usable backups (`allbackups`).
    Backup,
    Empty,
}

/// The server list plus 1.4's per-backend counters (`srv_act`, `srv_bck`, `tot_wact`,
/// `tot_wbck`, `fbck`, `tot_weight`, `tot_used`).
#[derive(Debug)]
pub(crate) struct Table {
    pub srv: Vec<Srv>,
    pub allbackups: bool,
    pub srv_act: u32,
    pub srv_bck: u32,
    pub tot_wact: u32,
    pub tot_wbck: u32,
    pub fbck: Option<usize>,
    pub tot_weight: u32,
    pub tot_used: u32,
}

impl Table {
    /// 1.4 `recount_servers()` followed by `update_backend_weight()`. The tree algorithms
    /// maintain the same numbers incrementally in 1.4; recounting gives identical values.
    pub fn recount(&mut self) {
        self.srv_act = 0;
        self.srv_bck = 0;
        self.tot_wact = 0;
        self.tot_wbck = 0;
        self.fbck = None;
        for (i, s) in self.srv.iter().enumerate() {
            if !s.usable() {
                continue;
            }
            if s.backup {
                if self.srv_bck == 0 && !self.allbackups {
                    self.fbck = Some(i);
                }
                self.srv_bck += 1;
                self.tot_wbck += s.eweight;
            } else {
                self.srv_act += 1;
                self.tot_wact += s.eweight;
            }
        }
        if self.srv_act > 0 {
            self.tot_weight = self.tot_wact;
            self.tot_used = self.srv_act;
        } else if let Some(f) = self.fbck {
            // Only the first backup server is used.
            self.tot_weight = self.srv.get(f).map_or(0, |s| s.eweight);
            self.tot_used = 1;
        } else {
            self.tot_weight = self.tot_wbck;
            self.tot_used = self.srv_bck;
        }
    }

    pub fn group(&self) -> Group {
        if self.srv_act > 0 {
            Group::Active
        } else if let Some(f) = self.fbck {
            Group::FirstBackup(f)
        } else if self.srv_bck > 0 {
            Group::Backup
        } else {
            Group::Empty
        }
    }
}

// ---------------------------------------------------------------------------------------------
// dispatch
// ---------------------------------------------------------------------------------------------

/// The lookup structure, 1.4's `BE_LB_LKUP_*`.
#[derive(Debug)]
enum Engine {
    Map(map::MapLb),
    Fwrr(roundrobin::Fwrr),
    Fwlc(leastconn::Fwlc),
    Chash(chash::Chash),
}

impl Engine {
    /// A server went from unusable to usable.
    fn server_up(&mut self, t: &Table, idx: usize) {
        match self {
            Engine::Map(m) => m.rebuild(t),
            Engine::Fwrr(e) => e.server_up(t, idx),
            Engine::Fwlc(e) => e.server_up(t, idx),
            Engine::Chash(e) => e.server_up(t, idx),
        }
    }

    /// A server went from usable to unusable.
    fn server_down(&mut self, t: &Table, idx: usize) {
        match self {
            Engine::Map(m) => m.rebuild(t),
            Engine::Fwrr(e) => e.server_down(t, idx),
            Engine::Fwlc(e) => e.server_down(t, idx),
            Engine::Chash(e) => e.server_down(t, idx),
        }
    }

    /// A usable server stays usable with another effective weight.
    fn weight_changed(&mut self, t: &Table, idx: usize) {
        match self {
            Engine::Map(m) => m.rebuild(t),
            Engine::Fwrr(e) => e.weight_changed(t, idx),
            Engine::Fwlc(e) => e.weight_changed(t, idx),
            Engine::Chash(e) => e.weight_changed(t, idx),
        }
    }

    /// The served count of a server changed (`server_take_conn` / `server_drop_conn`).
    fn served_changed(&mut self, t: &Table, idx: usize) {
        if let Engine::Fwlc(e) = self {
            e.reposition(t, idx);
        }
    }
}

/// A request hash and whether 1.4 skips hashing (uses 0) when one server is in use.
#[derive(Clone, Copy, Debug)]
struct HashKey {
    h: u32,
    skip_if_single: bool,
}

impl HashKey {
    fn value(self, t: &Table) -> u32 {
        if self.skip_if_single && t.tot_used == 1 {
            0
        } else {
            self.h
        }
    }
}

/// What a hash algorithm hashes (nothing for the round-robin kinds).
#[derive(Clone, Debug)]
enum Input {
    None,
    Source,
    Uri(uri::UriHash),
    UrlParam(url_param::UrlParam),
    Hdr(hdr::HdrHash),
    Rdp(rdp_cookie::RdpHash),
}

impl Input {
    /// The request's hash, or `None` when the input is missing (fall back to round-robin).
    fn key(&self, req: &PickInput<'_>) -> Option<HashKey> {
        let (h, skip_if_single) = match self {
            Input::None => return None,
            Input::Source => (source::hash(req.src), true),
            Input::Uri(u) => (u.hash(req.http?.uri), true),
            // 1.4's get_server_ph() hashes even with a single server (same result).
            Input::UrlParam(p) => (p.hash(&req.http?)?, false),
            Input::Hdr(hh) => (hh.hash(req.http?.headers)?, true),
            Input::Rdp(r) => (r.hash(req.payload)?, true),
        };
        Some(HashKey { h, skip_if_single })
    }
}

#[derive(Debug)]
struct Inner {
    table: Table,
    engine: Engine,
}

impl Inner {
    /// Tells the algorithm about a change of `idx`'s running flag or effective weight, then
    /// records the new state as seen (1.4's `set_server_status_up/down`,
    /// `update_server_eweight`).
    fn commit(&mut self, idx: usize) {
        let Some(s) = self.table.srv.get(idx) else {
            return;
        };
        if s.running == s.prev_running && s.eweight == s.prev_eweight {
            return;
        }
        let (was, is) = (s.prev_usable(), s.usable());
        self.table.recount();
        match (was, is) {
            (false, false) => {}
            (false, true) => self.engine.server_up(&self.table, idx),
            (true, false) => self.engine.server_down(&self.table, idx),
            (true, true) => self.engine.weight_changed(&self.table, idx),
        }
        if let Some(s) = self.table.srv.get_mut(idx) {
            s.prev_running = s.running;
            s.prev_eweight = s.eweight;
        }
    }
}

/// How configured weights become effective weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WeightModel {
    /// roundrobin, leastconn, consistent hashing: `weight * 16`, ramped by slowstart.
    Dynamic,
    /// static-rr and map-based hashing: `weight / gcd` of all configured weights; runtime
    /// changes limited to 0 and the configured weight.
    Static { gcd: u32 },
}

impl WeightModel {
    fn eweight(self, uweight: u32, warmup: Option<u32>) -> u32 {
        match self {
            WeightModel::Dynamic => uweight * warmup.unwrap_or(BE_WEIGHT_SCALE),
            WeightModel::Static { gcd } => uweight.div_ceil(gcd.max(1)),
        }
    }

    /// Effective weight back to the user scale, rounded up, as the stats page shows it.
    fn to_user(self, eweight: u32) -> u32 {
        match self {
            WeightModel::Dynamic => eweight.div_ceil(BE_WEIGHT_SCALE),
            WeightModel::Static { gcd } => eweight * gcd,
        }
    }
}

/// One backend's load balancer. See the module documentation for the interface.
#[derive(Debug)]
pub struct Balancer {
    input: Input,
    model: WeightModel,
    post_limit: Option<u32>,
    inner: Mutex<Inner>,
}

impl Balancer {
    /// Builds the balancer of a backend from its settings and its servers in declaration
    /// order, in the state 1.4 has after `check_config_validity()`.
    pub fn new(cfg: &LbConfig, servers: &[ServerSpec]) -> Balancer {
        let input = match &cfg.balance {
            Balance::RoundRobin | Balance::StaticRr | Balance::LeastConn => Input::None,
            Balance::Source => Input::Source,
            Balance::Uri { len, depth, whole } => {
                Input::Uri(uri::UriHash::new(*len, *depth, *whole))
            }
            Balance::UrlParam { name, check_post } => {
                Input::UrlParam(url_param::UrlParam::new(name.as_bytes(), *check_post))
            }
            Balance::Hdr {
                name,
                use_domain_only,
            } => Input::Hdr(hdr::HdrHash::new(name.as_bytes(), *use_domain_only)),
            Balance::RdpCookie { name } => Input::Rdp(rdp_cookie::RdpHash::new(name.as_bytes())),
        };
        let post_limit = match &input {
            Input::UrlParam(p) => p.post_limit(),
            _ => None,
        };
        let consistent = cfg.hash_type == HashType::Consistent;
        #[derive(PartialEq)]
        enum Kind {
            Map,
            Fwrr,
            Fwlc,
            Chash,
        }
        let kind = match (&cfg.balance, consistent) {
            (Balance::RoundRobin, _) => Kind::Fwrr,
            (Balance::StaticRr, _) => Kind::Map,
            (Balance::LeastConn, _) => Kind::Fwlc,
            (_, true) => Kind::Chash,
            (_, false) => Kind::Map,
        };
        let weights: Vec<u32> = servers
            .iter()
            .map(|s| s.weight.min(SRV_UWGHT_MAX))
            .collect();
        let model = if kind == Kind::Map {
            WeightModel::Static {
                gcd: weights_gcd(&weights),
            }
        } else {
            WeightModel::Dynamic
        };
        let srv = servers
            .iter()
            .zip(&weights)
            .map(|(s, &w)| {
                let eweight = model.eweight(w, None);
                Srv {
                    backup: s.backup,
                    puid: s.puid,
                    iweight: w,
                    uweight: w,
                    warmup: None,
                    running: s.usable,
                    eweight,
                    served: 0,
                    prev_running: s.usable,
                    prev_eweight: eweight,
                }
            })
            .collect();
        let mut table = Table {
            srv,
            allbackups: cfg.allbackups,
            srv_act: 0,
            srv_bck: 0,
            tot_wact: 0,
            tot_wbck: 0,
            fbck: None,
            tot_weight: 0,
            tot_used: 0,
        };
        table.recount();
        let engine = match kind {
            Kind::Map => Engine::Map(map::MapLb::new(&table)),
            Kind::Fwrr => Engine::Fwrr(roundrobin::Fwrr::new(&table)),
            Kind::Fwlc => Engine::Fwlc(leastconn::Fwlc::new(&table)),
            Kind::Chash => Engine::Chash(chash::Chash::new(&table)),
        };
        Balancer {
            input,
            model,
            post_limit,
            inner: Mutex::new(Inner { table, engine }),
        }
    }

    /// Builds the balancer of a parsed backend: `balance`, `hash-type`,
    /// `option allbackups`, and each server's `weight`, `backup`, `id` and `disabled`.
    pub fn for_proxy(px: &Proxy) -> Balancer {
        let ids: Vec<Option<u32>> = px.servers.iter().map(|s| s.id).collect();
        let puids = auto_puids(&ids);
        let servers: Vec<ServerSpec> = px
            .servers
            .iter()
            .zip(puids)
            .map(|(s, puid)| ServerSpec {
                weight: s.weight,
                backup: s.backup,
                puid,
                usable: !s.disabled,
            })
            .collect();
        let cfg = LbConfig {
            balance: px.balance.node.clone(),
            hash_type: px.hash_type.node,
            allbackups: px.options.allbackups.is_some(),
        };
        Balancer::new(&cfg, &servers)
    }

    /// Picks a server for a request: its index, or `None` when none can be used (see
    /// [`Balancer::try_pick`] to tell "no server" from "all saturated"). `avoid` is the
    /// server a redispatched request comes from; it is only returned when nothing else is
    /// available. `is_full(idx)` reports a saturated server.
    pub fn pick(
        &self,
        req: &PickInput<'_>,
        avoid: Option<usize>,
        is_full: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        self.try_pick(req, avoid, is_full).ok()
    }

    /// [`Balancer::pick`] with the reason for not picking: [`NoPick::NoServer`] when no server
    /// is usable (1.4: `tot_weight == 0`), [`NoPick::Full`] when every candidate is saturated.
    pub fn try_pick(
        &self,
        req: &PickInput<'_>,
        avoid: Option<usize>,
        is_full: &dyn Fn(usize) -> bool,
    ) -> Result<usize, NoPick> {
        // Hash the request before taking the lock.
        let key = self.input.key(req);
        let mut guard = self.inner.lock();
        let Inner { table, engine } = &mut *guard;
        if table.tot_weight == 0 {
            return Err(NoPick::NoServer);
        }
        let picked = match engine {
            Engine::Fwrr(e) => e.next(table, avoid, is_full),
            Engine::Fwlc(e) => e.next(table, avoid, is_full),
            Engine::Map(m) => match key {
                Some(k) => m.by_hash(table, k.value(table)),
                None => None,
            }
            .or_else(|| m.next_rr(table, avoid, is_full)),
            Engine::Chash(c) => match key {
                Some(k) => c.by_hash(table, k.value(table)),
                None => None,
            }
            .or_else(|| c.next_rr(table, avoid, is_full)),
        };
        picked.ok_or(NoPick::Full)
    }

    /// Marks a server usable (UP) or not (DOWN, MAINT, or NOLB/`disable-on-404`). Unknown
    /// indexes are ignored.
    pub fn set_usable(&self, idx: usize, usable: bool) {
        let mut g = self.inner.lock();
        let Some(s) = g.table.srv.get_mut(idx) else {
            return;
        };
        s.running = usable;
        g.commit(idx);
    }

    /// Runtime `set weight <be>/<srv> <w>` with an absolute user weight (the caller converts
    /// `N%` against the configured weight from [`Balancer::weight`]). Static algorithms
    /// (static-rr, map-based hashing) only accept 0 and the configured weight.
    pub fn set_weight(&self, idx: usize, weight: u32) -> Result<(), WeightError> {
        if weight > SRV_UWGHT_MAX {
            return Err(WeightError::OutOfRange);
        }
        let model = self.model;
        let mut g = self.inner.lock();
        let Some(s) = g.table.srv.get_mut(idx) else {
            return Err(WeightError::NoSuchServer);
        };
        if matches!(model, WeightModel::Static { .. }) && weight != 0 && weight != s.iweight {
            return Err(WeightError::StaticAlgorithm);
        }
        s.uweight = weight;
        s.eweight = model.eweight(weight, s.warmup);
        g.commit(idx);
        Ok(())
    }

    /// Slowstart ramp for dynamic algorithms: `Some(step)` gives the server
    /// `step/16` of its weight (step 0..=16), `None` ends the ramp (full weight). Static
    /// algorithms ignore it, as 1.4 only throttles their maxconn. See [`slowstart_step`].
    /// When a server comes back UP with slowstart, call this with `Some(1)` before
    /// [`Balancer::set_usable`] so it enters the rotation at the ramped weight, as 1.4 does.
    pub fn set_slowstart_step(&self, idx: usize, step: Option<u32>) {
        let model = self.model;
        if model != WeightModel::Dynamic {
            return;
        }
        let mut g = self.inner.lock();
        let Some(s) = g.table.srv.get_mut(idx) else {
            return;
        };
        s.warmup = step.map(|st| st.min(BE_WEIGHT_SCALE));
        s.eweight = model.eweight(s.uweight, s.warmup);
        g.commit(idx);
    }

    /// A connection took a slot on server `idx` (1.4 `served++`, `server_take_conn`).
    /// Call it right after a successful pick so leastconn sees the new load.
    pub fn conn_start(&self, idx: usize) {
        let mut g = self.inner.lock();
        let Inner { table, engine } = &mut *g;
        let Some(s) = table.srv.get_mut(idx) else {
            return;
        };
        s.served = s.served.saturating_add(1);
        engine.served_changed(table, idx);
    }

    /// A connection released its slot on server `idx` (`served--`, `server_drop_conn`).
    pub fn conn_end(&self, idx: usize) {
        let mut g = self.inner.lock();
        let Inner { table, engine } = &mut *g;
        let Some(s) = table.srv.get_mut(idx) else {
            return;
        };
        s.served = s.served.saturating_sub(1);
        engine.served_changed(table, idx);
    }

    /// `(current, configured)` user weight of a server, for `get weight` ("%d (initial %d)").
    pub fn weight(&self, idx: usize) -> Option<(u32, u32)> {
        let g = self.inner.lock();
        g.table.srv.get(idx).map(|s| (s.uweight, s.iweight))
    }

    /// The weight the stats page shows for a server: its effective weight in user units,
    /// rounded up (lower while slowstarting, 0 when set to 0).
    pub fn stats_weight(&self, idx: usize) -> Option<u32> {
        let g = self.inner.lock();
        g.table.srv.get(idx).map(|s| self.model.to_user(s.eweight))
    }

    /// The weight the stats page shows for the backend: the total weight of the group in use.
    pub fn backend_stats_weight(&self) -> u32 {
        let g = self.inner.lock();
        self.model.to_user(g.table.tot_weight)
    }

    /// Number of usable servers as the `nbsrv` ACL counts them: usable active servers, or
    /// 1 when only the first backup is used, or the usable backups with `allbackups`.
    pub fn usable_servers(&self) -> u32 {
        let g = self.inner.lock();
        match g.table.group() {
            Group::Active => g.table.srv_act,
            Group::FirstBackup(_) => 1,
            Group::Backup => g.table.srv_bck,
            Group::Empty => 0,
        }
    }

    /// Whether any server can be picked (1.4: `tot_weight != 0`).
    pub fn has_usable(&self) -> bool {
        self.inner.lock().table.tot_weight != 0
    }

    /// `url_param ... check_post [<max_wait>]`: how many body bytes to wait for before
    /// picking a server for a POST (at least 3, 48 by default); `None` without check_post.
    pub fn url_param_post_limit(&self) -> Option<u32> {
        self.post_limit
    }

    /// Number of servers (usable or not).
    pub fn server_count(&self) -> usize {
        self.inner.lock().table.srv.len()
    }
}

/// GCD of the non-zero configured weights, as 1.4 `init_server_map()` computes it to shrink
/// the map (1 when every weight is 0).
fn weights_gcd(weights: &[u32]) -> u32 {
    fn gcd(mut a: u32, mut b: u32) -> u32 {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    }
    weights
        .iter()
        .filter(|&&w| w > 0)
        .fold(0, |g, &w| gcd(g, w))
        .max(1)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// Test helper: a balancer over servers given as `(weight, backup)`; puids 1, 2, 3...
    pub(crate) fn balancer(
        balance: Balance,
        hash_type: HashType,
        allbackups: bool,
        srv: &[(u32, bool)],
    ) -> Balancer {
        let servers: Vec<ServerSpec> = srv
            .iter()
            .enumerate()
            .map(|(i, &(weight, backup))| ServerSpec {
                weight,
                backup,
                puid: i as u32 + 1,
                usable: true,
            })
            .collect();
        Balancer::new(
            &LbConfig {
                balance,
                hash_type,
                allbackups,
            },
            &servers,
        )
    }

    pub(crate) fn never_full(_: usize) -> bool {
        false
    }

    pub(crate) fn tcp_from(ip: [u8; 4]) -> PickInput<'static> {
        PickInput::tcp(IpAddr::V4(Ipv4Addr::from(ip)), &[])
    }

    /// `n` picks with no input, as a string of letters (A = server 0).
    pub(crate) fn sequence(b: &Balancer, n: usize) -> String {
        let req = tcp_from([10, 0, 0, 1]);
        (0..n)
            .map(|_| match b.pick(&req, None, &never_full) {
                Some(i) => char::from(b'A' + i as u8),
                None => '-',
            })
            .collect()
    }

    #[test]
    fn auto_puids_follow_14() {
        assert_eq!(auto_puids(&[None, None, None]), vec![1, 2, 3]);
        assert_eq!(auto_puids(&[Some(2), None, None]), vec![2, 3, 4]);
        assert_eq!(auto_puids(&[None, Some(1), None]), vec![2, 1, 4]);
        assert_eq!(auto_puids(&[Some(10), None]), vec![10, 2]);
    }

    #[test]
    fn slowstart_steps() {
        assert_eq!(slowstart_step(0, 0), None);
        assert_eq!(slowstart_step(10, 10), None);
        // (16 * 1 + 10 - 1) / 10 = 2
        assert_eq!(slowstart_step(1, 10), Some(2));
        // (16 * 5 + 9) / 10 = 8
        assert_eq!(slowstart_step(5, 10), Some(8));
        assert_eq!(slowstart_step(0, 10), Some(0));
    }

    #[test]
    fn gcd_of_weights() {
        assert_eq!(weights_gcd(&[2, 4]), 2);
        assert_eq!(weights_gcd(&[0, 6, 9]), 3);
        assert_eq!(weights_gcd(&[0, 0]), 1);
        assert_eq!(weights_gcd(&[]), 1);
    }

    #[test]
    fn backups_unused_while_an_active_is_up() {
        let b = balancer(
            Balance::RoundRobin,
            HashType::MapBased,
            false,
            &[(1, false), (1, true), (1, true)],
        );
        assert_eq!(sequence(&b, 4), "AAAA");
        b.set_usable(0, false);
        // First usable backup only.
        assert_eq!(sequence(&b, 4), "BBBB");
        b.set_usable(1, false);
        assert_eq!(sequence(&b, 4), "CCCC");
        // The earlier backup comes back and takes over again.
        b.set_usable(1, true);
        assert_eq!(sequence(&b, 4), "BBBB");
        b.set_usable(0, true);
        assert_eq!(sequence(&b, 4), "AAAA");
    }

    #[test]
    fn allbackups_spreads_over_backups() {
        for balance in [Balance::RoundRobin, Balance::StaticRr, Balance::LeastConn] {
            let b = balancer(
                balance.clone(),
                HashType::MapBased,
                true,
                &[(1, false), (1, true), (1, true)],
            );
            b.set_usable(0, false);
            // Connections stay open, so leastconn sees the load too.
            let req = tcp_from([10, 0, 0, 1]);
            let seq: String = (0..6)
                .map(|_| {
                    let s = b.pick(&req, None, &never_full).expect("a backup");
                    b.conn_start(s);
                    char::from(b'A' + s as u8)
                })
                .collect();
            assert!(
                seq.contains('B') && seq.contains('C') && !seq.contains('A'),
                "{balance:?}: {seq}"
            );
            let b = balancer(
                balance.clone(),
                HashType::MapBased,
                false,
                &[(1, false), (1, true), (1, true)],
            );
            b.set_usable(0, false);
            assert_eq!(sequence(&b, 6), "BBBBBB", "{balance:?}");
        }
    }

    #[test]
    fn backup_group_for_hashes() {
        for ht in [HashType::MapBased, HashType::Consistent] {
            let b = balancer(
                Balance::Source,
                ht,
                false,
                &[(1, false), (1, true), (1, true)],
            );
            b.set_usable(0, false);
            for last in 1..50u8 {
                assert_eq!(
                    b.pick(&tcp_from([10, 0, 0, last]), None, &never_full),
                    Some(1),
                    "{ht:?}"
                );
            }
            let b = balancer(
                Balance::Source,
                ht,
                true,
                &[(1, false), (1, true), (1, true)],
            );
            b.set_usable(0, false);
            let picks: BTreeSet<usize> = (1..50u8)
                .filter_map(|last| b.pick(&tcp_from([10, 0, 0, last]), None, &never_full))
                .collect();
            assert_eq!(picks, BTreeSet::from([1, 2]), "{ht:?}");
        }
    }

    #[test]
    fn no_server_versus_full() {
        let b = balancer(
            Balance::RoundRobin,
            HashType::MapBased,
            false,
            &[(1, false), (1, false)],
        );
        let req = tcp_from([10, 0, 0, 1]);
        assert_eq!(b.try_pick(&req, None, &|_| true), Err(NoPick::Full));
        b.set_usable(0, false);
        b.set_usable(1, false);
        assert_eq!(b.try_pick(&req, None, &never_full), Err(NoPick::NoServer));
        assert!(!b.has_usable());
        assert_eq!(b.usable_servers(), 0);
    }

    #[test]
    fn avoid_is_last_resort() {
        for balance in [Balance::RoundRobin, Balance::StaticRr, Balance::LeastConn] {
            let b = balancer(
                balance.clone(),
                HashType::MapBased,
                false,
                &[(1, false), (1, false)],
            );
            let req = tcp_from([10, 0, 0, 1]);
            for _ in 0..4 {
                assert_eq!(b.pick(&req, Some(0), &never_full), Some(1), "{balance:?}");
            }
            // Only the avoided server is not full: it is returned anyway.
            assert_eq!(b.pick(&req, Some(0), &|i| i == 1), Some(0), "{balance:?}");
        }
    }

    #[test]
    fn weight_zero_servers_are_skipped() {
        let b = balancer(
            Balance::RoundRobin,
            HashType::MapBased,
            false,
            &[(0, false), (1, false)],
        );
        assert_eq!(sequence(&b, 3), "BBB");
        let b = balancer(
            Balance::StaticRr,
            HashType::MapBased,
            false,
            &[(0, false), (1, false)],
        );
        assert_eq!(sequence(&b, 3), "BBB");
    }

    #[test]
    fn static_algorithms_only_take_zero_or_initial_weight() {
        let b = balancer(
            Balance::StaticRr,
            HashType::MapBased,
            false,
            &[(2, false), (4, false)],
        );
        assert_eq!(b.set_weight(0, 3), Err(WeightError::StaticAlgorithm));
        assert_eq!(b.set_weight(0, 300), Err(WeightError::OutOfRange));
        assert_eq!(b.set_weight(9, 0), Err(WeightError::NoSuchServer));
        assert_eq!(b.set_weight(0, 0), Ok(()));
        assert_eq!(sequence(&b, 3), "BBB");
        assert_eq!(b.weight(0), Some((0, 2)));
        assert_eq!(b.set_weight(0, 2), Ok(()));
        // gcd 2: map ABB again, and the rotation resumes where it was.
        let seq = sequence(&b, 6);
        assert_eq!(seq.matches('A').count(), 2, "{seq}");
        assert_eq!(b.stats_weight(1), Some(4));
        assert_eq!(b.backend_stats_weight(), 6);
    }

    #[test]
    fn dynamic_weights_and_slowstart() {
        let b = balancer(
            Balance::RoundRobin,
            HashType::MapBased,
            false,
            &[(2, false), (1, false)],
        );
        assert_eq!(b.stats_weight(0), Some(2));
        assert_eq!(b.set_weight(0, 7), Ok(()));
        assert_eq!(b.weight(0), Some((7, 2)));
        assert_eq!(b.stats_weight(0), Some(7));
        b.set_slowstart_step(0, Some(1));
        // 7 * 1 / 16 rounded up
        assert_eq!(b.stats_weight(0), Some(1));
        b.set_slowstart_step(0, None);
        assert_eq!(b.stats_weight(0), Some(7));
        assert_eq!(b.backend_stats_weight(), 8);
    }

    #[test]
    fn unknown_indexes_are_ignored() {
        let b = balancer(Balance::LeastConn, HashType::MapBased, false, &[(1, false)]);
        b.set_usable(5, false);
        b.conn_start(5);
        b.conn_end(5);
        b.set_slowstart_step(5, Some(3));
        assert_eq!(b.weight(5), None);
        assert_eq!(sequence(&b, 2), "AA");
        assert_eq!(b.server_count(), 1);
    }

    #[test]
    fn header_lookup_on_pairs_and_httparse() {
        let pairs: [(&[u8], &[u8]); 2] = [(b"Host", b" a"), (b"host", b" b")];
        assert_eq!(pairs.first_value(b"HOST"), Some(&b" a"[..]));
        assert_eq!(pairs.first_value(b"x"), None);
        let hdrs = [httparse::Header {
            name: "X-Id",
            value: b"7",
        }];
        assert_eq!(hdrs.first_value(b"x-id"), Some(&b"7"[..]));
    }

    #[test]
    #[ignore = "benchmark: cargo test --release --lib lb::tests::bench_pick -- --ignored --nocapture"]
    fn bench_pick() {
        use std::hint::black_box;
        use std::time::Instant;
        let servers: Vec<(u32, bool)> = (1..=10).map(|w| (w, false)).collect();
        for (name, balance) in [
            ("roundrobin", Balance::RoundRobin),
            ("static-rr", Balance::StaticRr),
            ("leastconn", Balance::LeastConn),
            ("source", Balance::Source),
        ] {
            for ht in [HashType::MapBased, HashType::Consistent] {
                let b = balancer(balance.clone(), ht, false, &servers);
                let n: u32 = 1_000_000;
                let start = Instant::now();
                for i in 0..n {
                    let req = tcp_from((0x0a00_0000 + i).to_be_bytes());
                    black_box(b.pick(black_box(&req), None, &never_full));
                }
                let ns = start.elapsed().as_nanos() as f64 / f64::from(n);
                println!("{name:>10} {ht:?}: {ns:.1} ns/pick");
                assert!(ns > 0.0);
            }
        }
    }

    #[test]
    fn balancer_is_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Balancer>();
        let b = std::sync::Arc::new(balancer(
            Balance::RoundRobin,
            HashType::MapBased,
            false,
            &[(1, false), (1, false)],
        ));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || {
                    let req = tcp_from([10, 0, 0, 1]);
                    (0..1000)
                        .filter(|_| b.pick(&req, None, &never_full) == Some(0))
                        .count()
                })
            })
            .collect();
        let a: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
        // One rotation shared by all threads: exactly half of 4000 picks.
        assert_eq!(a, 2000);
    }
}
