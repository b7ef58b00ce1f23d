//! The registry of live streams, read by the stats socket's `show sess` (1.4 keeps every
//! session in its global `sessions` list; `stats_dump_sess_to_buffer` walks it).
//!
//! Cost model, since every connection goes through here:
//!
//! * **Per connection**: one [`StreamInfo`] allocation (an `Arc`) and one insertion into a
//!   slab shard on accept, one removal on close. The shard is picked once per thread (worker
//!   threads get distinct shards), so its `parking_lot` lock is uncontended; the lock is held
//!   for a `Vec` push/pop only.
//! * **Per transaction**: plain relaxed atomic stores into the stream's own `StreamInfo`
//!   (phase, backend, server, deadline, method, status, byte totals), a handful per request.
//!   Only the stream's task writes them (single writer), so counters use load+store, not
//!   read-modify-write. No lock, no allocation.
//! * **CLI**: `show sess` locks each shard in turn to clone the `Arc`s, then formats without
//!   any lock held.
//!
//! A stream is named by its `uid`, a process-wide counter assigned at registration (1.4's
//! `uniq_id`, also shown as `session #N` by `show errors`). `show sess` prints it in hex
//! where 1.4 printed the session's address, so an id is never reused by a later stream.

use parking_lot::Mutex;
use std::cell::Cell;
use std::net::SocketAddr;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicI16, AtomicI32, AtomicU32, AtomicU64, AtomicU8, AtomicUsize};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Number of slab shards (a power of two larger than any sensible worker count).
const SHARDS: usize = 16;

/// Where a stream stands, as far as `show sess` is concerned. Each phase maps to the 1.4
/// analyser bits and stream-interface states `show sess` prints (see `stats::sess`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Accepted, nothing analysed yet.
    Accepted = 0,
    /// `tcp-request content` rules waiting for data.
    Inspect = 1,
    /// HTTP: waiting for (or reading) a request head, kept-alive idle time included.
    WaitRequest = 2,
    /// HTTP: request analysers (rules, switching, persistence) running.
    Request = 3,
    /// A server is being assigned, waited for in a queue, or connected to.
    Connect = 4,
    /// HTTP: request head sent, waiting for the response head.
    WaitResponse = 5,
    /// HTTP: response head sent, bodies being forwarded.
    Data = 6,
    /// Bytes forwarded both ways untouched (`mode tcp`, HTTP tunnel after the first exchange).
    Tunnel = 7,
    /// A stats socket connection.
    Cli = 8,
}

impl Phase {
    fn from_u8(v: u8) -> Phase {
        match v {
            1 => Phase::Inspect,
            2 => Phase::WaitRequest,
            3 => Phase::Request,
            4 => Phase::Connect,
            5 => Phase::WaitResponse,
            6 => Phase::Data,
            7 => Phase::Tunnel,
            8 => Phase::Cli,
            _ => Phase::Accepted,
        }
    }
}

/// What accepted the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A frontend listener: proxy index, listener id, IPv6 listener, HTTP mode, whether the
    /// frontend has `tcp-request content` rules.
    Tcp {
        fe: usize,
        luid: u32,
        v6: bool,
        http: bool,
        inspect: bool,
    },
    /// The stats socket (1.4 shows it as a `unix_stream` session of frontend `GLOBAL`).
    Cli,
}

/// 1.4's `HTTP_METH_*` numbers (`txn.meth`), for the full `show sess <id>` dump.
pub fn method_number(m: crate::http1::Method) -> u8 {
    use crate::http1::Method;
    match m {
        Method::Options => 1,
        Method::Get => 2,
        Method::Head => 3,
        Method::Post => 4,
        Method::Put => 5,
        Method::Delete => 6,
        Method::Trace => 7,
        Method::Connect => 8,
        Method::Other => 9,
    }
}

/// One live stream as the CLI sees it. The fixed part is set at registration; the rest is
/// written by the stream's own task only (see the module doc) and read by the CLI.
///
/// Every connection holds one, idle or not, so it is packed to fit a 128-byte allocation
/// with its `Arc` counts (a test says so): the address without IPv6 flow and scope, the
/// accept time as one offset from the registry's epoch, 16-bit status and retries.
#[derive(Debug)]
pub struct StreamInfo {
    pub uid: u64,
    pub origin: Origin,
    /// Client address (`None` for the stats socket); read with [`StreamInfo::src`].
    src: PackedAddr,
    /// Accept time, µs since the registry's epoch.
    accepted_us: u64,
    /// The client socket's file descriptor.
    pub cli_fd: i32,
    /// Current backend (proxy index); the frontend until switching rules ran, as in 1.4.
    be: AtomicU32,
    /// Server index + 1 in the current backend; 0: none.
    srv: AtomicU32,
    /// Server socket's file descriptor, −1 when none.
    srv_fd: AtomicI32,
    phase: AtomicU8,
    /// Phase changes so far (stands in for 1.4's `task->calls`).
    calls: AtomicU32,
    /// Deadline of the current wait, in ms since the registry's epoch, plus one; 0: none.
    exp: AtomicU64,
    meth: AtomicU8,
    status: AtomicI16,
    /// Connection attempts left (1.4 `conn_retries`).
    retries_left: AtomicI16,
    /// The server connection slot is held (1.4 `srv_conn` set).
    srv_conn: AtomicU8,
    /// Request and response bytes of the finished transactions.
    req_total: AtomicU64,
    res_total: AtomicU64,
}

fn clamp16(v: i32) -> i16 {
    i16::try_from(v).unwrap_or(if v < 0 { i16::MIN } else { i16::MAX })
}

/// A socket address in 20 bytes instead of `Option<SocketAddr>`'s 32 (no IPv6 flow label or
/// scope id, which nothing prints).
#[derive(Clone, Copy, Debug)]
struct PackedAddr {
    ip: [u8; 16],
    port: u16,
    /// 0: none, 4: IPv4 (in the first 4 bytes), 6: IPv6.
    family: u8,
}

impl PackedAddr {
    fn new(a: Option<SocketAddr>) -> PackedAddr {
        let mut ip = [0u8; 16];
        match a {
            None => PackedAddr {
                ip,
                port: 0,
                family: 0,
            },
            Some(SocketAddr::V4(v4)) => {
                ip[..4].copy_from_slice(&v4.ip().octets());
                PackedAddr {
                    ip,
                    port: v4.port(),
                    family: 4,
                }
            }
            Some(SocketAddr::V6(v6)) => PackedAddr {
                ip: v6.ip().octets(),
                port: v6.port(),
                family: 6,
            },
        }
    }

    fn get(&self) -> Option<SocketAddr> {
        match self.family {
            4 => {
                let [a, b, c, d, ..] = self.ip;
                Some(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::new(a, b, c, d),
                    self.port,
                )))
            }
            6 => Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(self.ip),
                self.port,
                0,
                0,
            ))),
            _ => None,
        }
    }
}

/// A copy of a [`StreamInfo`]'s state at one instant, what the formatters read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamView {
    pub uid: u64,
    pub origin: Origin,
    pub src: Option<SocketAddr>,
    /// Whole seconds since accept.
    pub age_s: u64,
    pub accept_date: SystemTime,
    pub cli_fd: i32,
    pub be: Option<usize>,
    pub srv: Option<usize>,
    pub srv_fd: i32,
    pub phase: Phase,
    pub calls: u32,
    /// ms from now to the current deadline (negative: already past); `None`: no deadline.
    pub exp_ms: Option<i64>,
    pub meth: u8,
    pub status: i32,
    pub retries_left: i32,
    pub srv_conn: bool,
    pub req_total: u64,
    pub res_total: u64,
}

impl StreamInfo {
    /// 1.4's `uniq_id`: the connections accepted before this one, from 0 (the debug trace
    /// and `show errors` print it). `uid` is one more, so that no stream shows as `0x0`
    /// where 1.4's `show sess` printed a pointer.
    pub fn uniq_id(&self) -> u64 {
        self.uid.saturating_sub(1)
    }

    /// The client's address (`None` for the stats socket).
    pub fn src(&self) -> Option<SocketAddr> {
        self.src.get()
    }

    fn store_inc_calls(&self) {
        // Single writer: no read-modify-write needed.
        self.calls
            .store(self.calls.load(Relaxed).wrapping_add(1), Relaxed);
    }

    /// Enters `phase`, with the deadline of its wait (`None`: no deadline).
    #[inline]
    pub fn enter(&self, reg: &Registry, phase: Phase, deadline: Option<tokio::time::Instant>) {
        self.phase.store(phase as u8, Relaxed);
        self.exp.store(reg.deadline_code(deadline), Relaxed);
        self.store_inc_calls();
    }

    /// The stream now uses backend `be` (proxy index).
    #[inline]
    pub fn set_backend(&self, be: usize) {
        self.be
            .store(u32::try_from(be).unwrap_or(u32::MAX), Relaxed);
    }

    /// The server assigned (`None`: none or a dispatch address), the server socket's fd
    /// (−1: none), whether it holds a server connection slot, and the attempts left.
    #[inline]
    pub fn set_server(&self, srv: Option<usize>, fd: i32, slot: bool, retries_left: i32) {
        let code = srv.map_or(0, |s| u32::try_from(s + 1).unwrap_or(0));
        self.srv.store(code, Relaxed);
        self.srv_fd.store(fd, Relaxed);
        self.srv_conn.store(u8::from(slot), Relaxed);
        self.retries_left.store(clamp16(retries_left), Relaxed);
    }

    /// The request method of the current transaction (1.4 number, see [`method_number`]).
    #[inline]
    pub fn set_method(&self, meth: u8) {
        self.meth.store(meth, Relaxed);
    }

    /// The status of the current transaction (−1: none yet).
    #[inline]
    pub fn set_status(&self, status: i32) {
        self.status.store(clamp16(status), Relaxed);
    }

    /// A transaction ended: adds its bytes to the totals.
    #[inline]
    pub fn add_bytes(&self, req: u64, res: u64) {
        self.req_total
            .store(self.req_total.load(Relaxed).wrapping_add(req), Relaxed);
        self.res_total
            .store(self.res_total.load(Relaxed).wrapping_add(res), Relaxed);
    }

    /// Keep-alive: back to the frontend with no server, as 1.4
    /// `http_end_txn_clean_session` resets `s->be` and `s->srv`.
    #[inline]
    pub fn reset_txn(&self, fe: usize) {
        self.set_backend(fe);
        self.set_server(None, -1, false, 0);
        self.set_method(0);
        self.set_status(-1);
    }

    /// A copy of the current state; `now` in the registry's clock.
    pub fn view(&self, reg: &Registry, now: Instant) -> StreamView {
        let be = self.be.load(Relaxed);
        let srv = self.srv.load(Relaxed);
        let exp = self.exp.load(Relaxed);
        StreamView {
            uid: self.uid,
            origin: self.origin,
            src: self.src.get(),
            age_s: now
                .saturating_duration_since(reg.epoch + Duration::from_micros(self.accepted_us))
                .as_secs(),
            accept_date: reg.epoch_date + Duration::from_micros(self.accepted_us),
            cli_fd: self.cli_fd,
            be: (be != u32::MAX).then_some(be as usize),
            srv: srv.checked_sub(1).map(|s| s as usize),
            srv_fd: self.srv_fd.load(Relaxed),
            phase: Phase::from_u8(self.phase.load(Relaxed)),
            calls: self.calls.load(Relaxed),
            exp_ms: (exp != 0).then(|| {
                let now_ms = now.saturating_duration_since(reg.epoch).as_millis();
                let now_ms = i64::try_from(now_ms).unwrap_or(i64::MAX);
                i64::try_from(exp - 1)
                    .unwrap_or(i64::MAX)
                    .saturating_sub(now_ms)
            }),
            meth: self.meth.load(Relaxed),
            status: i32::from(self.status.load(Relaxed)),
            retries_left: i32::from(self.retries_left.load(Relaxed)),
            srv_conn: self.srv_conn.load(Relaxed) != 0,
            req_total: self.req_total.load(Relaxed),
            res_total: self.res_total.load(Relaxed),
        }
    }
}

#[derive(Default)]
struct Slab {
    slots: Vec<Option<Arc<StreamInfo>>>,
    free: Vec<u32>,
}

/// Every live stream of the process.
pub struct Registry {
    shards: Box<[Mutex<Slab>]>,
    next_uid: AtomicU64,
    /// Next shard handed to a thread registering for the first time.
    next_shard: AtomicUsize,
    epoch: Instant,
    /// The wall-clock date of `epoch`: accept dates are offsets from it.
    epoch_date: SystemTime,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

thread_local! {
    /// This thread's shard (assigned on first registration).
    static MY_SHARD: Cell<Option<usize>> = const { Cell::new(None) };
}

/// What a registration needs to know about the stream.
#[derive(Clone, Copy, Debug)]
pub struct NewStream {
    pub origin: Origin,
    pub src: Option<SocketAddr>,
    pub cli_fd: i32,
    /// Initial backend (the frontend's index; `None` for the CLI).
    pub be: Option<usize>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry {
            shards: (0..SHARDS).map(|_| Mutex::new(Slab::default())).collect(),
            next_uid: AtomicU64::new(1),
            next_shard: AtomicUsize::new(0),
            epoch: Instant::now(),
            epoch_date: SystemTime::now(),
        }
    }

    fn deadline_code(&self, deadline: Option<tokio::time::Instant>) -> u64 {
        match deadline {
            None => 0,
            Some(d) => {
                let ms = d
                    .into_std()
                    .saturating_duration_since(self.epoch)
                    .as_millis();
                u64::try_from(ms).unwrap_or(u64::MAX - 1) + 1
            }
        }
    }

    fn my_shard(&self) -> usize {
        MY_SHARD.with(|c| match c.get() {
            Some(s) => s,
            None => {
                let s = self.next_shard.fetch_add(1, Relaxed) % SHARDS;
                c.set(Some(s));
                s
            }
        })
    }

    /// Adds a stream; it stays listed until the returned guard is dropped.
    pub fn register(&self, s: NewStream) -> Registered<'_> {
        Registered {
            reg: self,
            entry: self.add(s),
        }
    }

    /// Adds a stream; it stays listed until the entry is given to [`Registry::release`].
    /// For owners that hold the runtime anyway (a client connection's guard), so that the
    /// entry need not carry a reference to the registry.
    pub fn add(&self, s: NewStream) -> Entry {
        let info = Arc::new(StreamInfo {
            uid: self.next_uid.fetch_add(1, Relaxed),
            origin: s.origin,
            src: PackedAddr::new(s.src),
            accepted_us: u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX),
            cli_fd: s.cli_fd,
            be: AtomicU32::new(s.be.map_or(u32::MAX, |b| u32::try_from(b).unwrap_or(u32::MAX))),
            srv: AtomicU32::new(0),
            srv_fd: AtomicI32::new(-1),
            phase: AtomicU8::new(if s.origin == Origin::Cli {
                Phase::Cli as u8
            } else {
                Phase::Accepted as u8
            }),
            calls: AtomicU32::new(1),
            exp: AtomicU64::new(0),
            meth: AtomicU8::new(0),
            status: AtomicI16::new(if matches!(s.origin, Origin::Tcp { http: true, .. }) {
                -1
            } else {
                0
            }),
            retries_left: AtomicI16::new(0),
            srv_conn: AtomicU8::new(0),
            req_total: AtomicU64::new(0),
            res_total: AtomicU64::new(0),
        });
        let shard = self.my_shard();
        let mut slab = self.shards[shard].lock();
        let slot = match slab.free.pop() {
            Some(i) => {
                if let Some(e) = slab.slots.get_mut(i as usize) {
                    *e = Some(info.clone());
                }
                i
            }
            None => {
                slab.slots.push(Some(info.clone()));
                u32::try_from(slab.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        drop(slab);
        Entry {
            shard: shard as u32,
            slot,
            info,
        }
    }

    /// Removes a stream added by [`Registry::add`]. Only the entry's own stream: a second
    /// release of the same entry leaves a slot that was reused since untouched.
    pub fn release(&self, e: &Entry) {
        let mut slab = self.shards[e.shard as usize].lock();
        if let Some(cell) = slab.slots.get_mut(e.slot as usize) {
            if cell.as_ref().is_some_and(|s| Arc::ptr_eq(s, &e.info)) {
                *cell = None;
                slab.free.push(e.slot);
            }
        }
    }

    /// Every live stream, oldest first (1.4 appends new sessions to its list).
    pub fn all(&self) -> Vec<Arc<StreamInfo>> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let slab = shard.lock();
            out.extend(slab.slots.iter().flatten().cloned());
        }
        out.sort_by_key(|s| s.uid);
        out
    }

    /// The live stream with this uid.
    pub fn find(&self, uid: u64) -> Option<Arc<StreamInfo>> {
        self.shards.iter().find_map(|shard| {
            shard
                .lock()
                .slots
                .iter()
                .flatten()
                .find(|s| s.uid == uid)
                .cloned()
        })
    }

    /// Number of live streams.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().slots.iter().flatten().count())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A stream's place in the registry (see [`Registry::add`]).
pub struct Entry {
    shard: u32,
    slot: u32,
    info: Arc<StreamInfo>,
}

impl Entry {
    pub fn info(&self) -> &StreamInfo {
        &self.info
    }
}

/// A registered stream; unregisters it when dropped, however the stream ends.
pub struct Registered<'a> {
    reg: &'a Registry,
    entry: Entry,
}

impl Registered<'_> {
    pub fn info(&self) -> &StreamInfo {
        &self.entry.info
    }
    pub fn registry(&self) -> &Registry {
        self.reg
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.reg.release(&self.entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_release_leaves_the_slots_new_stream_listed() {
        let reg = Registry::new();
        let first = reg.add(tcp(0));
        reg.release(&first);
        let second = reg.add(tcp(0));
        reg.release(&first);
        assert_eq!(reg.all().len(), 1, "the reused slot's stream was removed");
        reg.release(&second);
        assert!(reg.all().is_empty());
    }

    #[test]
    fn an_entry_fits_a_128_byte_allocation() {
        // The Arc adds two counts. jemalloc (src/main.rs) serves 113-128 requested bytes
        // from its 128-byte class; 120 is glibc's limit for a 128-byte chunk, kept so that
        // the entry stays in one with either allocator.
        assert!(std::mem::size_of::<StreamInfo>() + 16 <= 120);
    }

    #[test]
    fn packed_addresses_round_trip() {
        for a in [
            "192.0.2.7:8080",
            "[2001:db8::1]:443",
            "0.0.0.0:0",
            "[::1]:1",
        ] {
            let sa: SocketAddr = a.parse().expect("address");
            assert_eq!(PackedAddr::new(Some(sa)).get(), Some(sa));
        }
        assert_eq!(PackedAddr::new(None).get(), None);
        assert_eq!(clamp16(70_000), i16::MAX);
        assert_eq!(clamp16(-1), -1);
    }

    fn tcp(fe: usize) -> NewStream {
        NewStream {
            origin: Origin::Tcp {
                fe,
                luid: 1,
                v6: false,
                http: true,
                inspect: false,
            },
            src: Some(SocketAddr::from(([127, 0, 0, 1], 4242))),
            cli_fd: 7,
            be: Some(fe),
        }
    }

    #[test]
    fn register_lists_in_order_and_unregisters_on_drop() {
        let reg = Registry::new();
        let a = reg.register(tcp(0));
        let b = reg.register(tcp(1));
        assert_eq!(reg.len(), 2);
        let all = reg.all();
        assert_eq!(all.len(), 2);
        assert!(all[0].uid < all[1].uid);
        assert_eq!(reg.find(b.info().uid).map(|s| s.uid), Some(b.info().uid));
        let uid_a = a.info().uid;
        drop(a);
        assert_eq!(reg.len(), 1);
        assert!(reg.find(uid_a).is_none());
        // The freed slot is reused by the next stream, which gets a new uid.
        let c = reg.register(tcp(0));
        assert_ne!(c.info().uid, uid_a);
        assert_eq!(reg.len(), 2);
        drop(b);
        drop(c);
        assert!(reg.is_empty());
    }

    #[test]
    fn updates_show_in_the_view() {
        let reg = Registry::new();
        let r = reg.register(tcp(2));
        let s = r.info();
        let v = s.view(&reg, Instant::now());
        assert_eq!(v.be, Some(2));
        assert_eq!(v.srv, None);
        assert_eq!(v.phase, Phase::Accepted);
        assert_eq!(v.exp_ms, None);
        assert_eq!(v.status, -1);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        s.enter(&reg, Phase::WaitResponse, Some(deadline));
        s.set_backend(3);
        s.set_server(Some(0), 12, true, 2);
        s.add_bytes(10, 20);
        s.add_bytes(1, 2);
        let v = s.view(&reg, Instant::now());
        assert_eq!(v.phase, Phase::WaitResponse);
        assert_eq!(
            (v.be, v.srv, v.srv_fd, v.srv_conn),
            (Some(3), Some(0), 12, true)
        );
        assert_eq!(v.retries_left, 2);
        assert_eq!((v.req_total, v.res_total), (11, 22));
        assert_eq!(v.calls, 2);
        let exp = v.exp_ms.unwrap_or(0);
        assert!((4000..=5000).contains(&exp), "{exp}");
        s.reset_txn(2);
        let v = s.view(&reg, Instant::now());
        assert_eq!(
            (v.be, v.srv, v.srv_fd, v.srv_conn),
            (Some(2), None, -1, false)
        );
        // A deadline already past reads negative.
        let past = s.view(&reg, Instant::now() + std::time::Duration::from_secs(10));
        assert!(past.exp_ms.unwrap_or(0) < 0);
    }

    #[test]
    fn cli_streams_have_no_backend() {
        let reg = Registry::new();
        let r = reg.register(NewStream {
            origin: Origin::Cli,
            src: None,
            cli_fd: 3,
            be: None,
        });
        let v = r.info().view(&reg, Instant::now());
        assert_eq!(v.be, None);
        assert_eq!(v.phase, Phase::Cli);
        assert_eq!(v.status, 0);
    }
}
