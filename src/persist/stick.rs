//! Stick tables: `stick-table type ip|integer|string [len <n>] size <n> [expire <t>]
//! [nopurge]` and `stick on|match|store-request <pattern> [table <t>] [if|unless <cond>]`
//! with the 1.4 patterns `src`, `dst`, `dst_port`, `hdr(<name>[,<occ>])` and the converters
//! `lower`, `upper`, `ipmask(<mask>)`.
//!
//! Compare with 1.4 `src/stick_table.c` (table, expiry, `stksess_new()`),
//! `src/session.c` `process_sticking_rules()` / `process_store_rules()`, `src/pattern.c`
//! (fetch, converters, casts to the table's key type) and `src/proto_http.c`
//! `get_ip_from_hdr2()` (`hdr()`).
//!
//! A table maps a key to a server id (`puid`). It holds at most `size` entries. When full, a
//! new entry is refused with `nopurge`; otherwise the oldest entries (least recently stored
//! or matched) make room, `(size >> 8) + 1` at a time as later 1.4 releases do (1.4.25 frees
//! `size >> 8`, i.e. none at all below 256 entries, and so refuses new keys exactly like
//! `nopurge`: see docs/compatibility.md). With `expire`, an entry not matched for that long
//! is gone; expired entries sit at the front of the last-use order and are dropped by the
//! operations that follow (amortised, no timer task).

use crate::http1::{split_header_line, HeadEdit, HeadIndex};
use hashlink::LinkedHashMap;
use parking_lot::Mutex;
use parser::ir::{Converter, Pattern, PatternFetch, StickKey, StickTable as TableCfg};
use std::collections::hash_map::RandomState;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Expired entries dropped at most per operation.
const PURGE_BATCH: usize = 16;
/// 1.4 `MAX_HDR_HISTORY`: how far back `hdr(name,-N)` can reach.
const MAX_HDR_HISTORY: usize = 10;

#[derive(Clone, Copy, Debug)]
struct Entry {
    server_id: u32,
    /// Millisecond date after which the entry is gone (`u64::MAX`: never).
    expire: u64,
}

/// One stick table (declared in a proxy, used by the rules of any backend).
pub struct StickTable {
    pub key: StickKey,
    size: usize,
    expire_ms: Option<u64>,
    nopurge: bool,
    map: Mutex<LinkedHashMap<Box<[u8]>, Entry, RandomState>>,
}

impl std::fmt::Debug for StickTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StickTable")
            .field("key", &self.key)
            .field("size", &self.size)
            .field("expire_ms", &self.expire_ms)
            .field("nopurge", &self.nopurge)
            .finish()
    }
}

impl StickTable {
    pub fn new(cfg: &TableCfg) -> StickTable {
        StickTable {
            key: cfg.key,
            size: usize::try_from(cfg.size).unwrap_or(usize::MAX).max(1),
            expire_ms: cfg.expire.filter(|&e| e > 0).map(u64::from),
            nopurge: cfg.nopurge,
            map: Mutex::new(LinkedHashMap::with_hasher(RandomState::new())),
        }
    }

    fn expiry(&self, now_ms: u64) -> u64 {
        self.expire_ms
            .map_or(u64::MAX, |e| now_ms.saturating_add(e))
    }

    fn purge(map: &mut LinkedHashMap<Box<[u8]>, Entry, RandomState>, now_ms: u64) {
        for _ in 0..PURGE_BATCH {
            match map.front() {
                Some((_, e)) if e.expire <= now_ms => {
                    map.pop_front();
                }
                _ => break,
            }
        }
    }

    /// `stick match`: the server id stored for `key`, refreshing its expiry.
    pub fn lookup(&self, key: &[u8], now_ms: u64) -> Option<u32> {
        let expire = self.expiry(now_ms);
        let mut map = self.map.lock();
        Self::purge(&mut map, now_ms);
        let e = map.get(key).copied()?;
        if e.expire <= now_ms {
            map.remove(key);
            return None;
        }
        if let Some(e) = map.to_back(key) {
            e.expire = expire;
        }
        Some(e.server_id)
    }

    /// Whether a store may be scheduled now (1.4 allocates the entry at request time, and a
    /// full `nopurge` table refuses it).
    pub fn may_store(&self) -> bool {
        !(self.nopurge && self.map.lock().len() >= self.size)
    }

    /// Stores `key` → `server_id` once the server is known. An existing entry only gets its
    /// server updated (1.4 `stktable_store`); a new one may first evict old ones.
    /// Returns false when the table refused the entry (full with `nopurge`).
    pub fn store(&self, key: &[u8], server_id: u32, now_ms: u64) -> bool {
        let expire = self.expiry(now_ms);
        let mut map = self.map.lock();
        Self::purge(&mut map, now_ms);
        match map.get_mut(key) {
            Some(e) if e.expire > now_ms => {
                e.server_id = server_id;
                return true;
            }
            Some(_) => {
                map.remove(key);
            }
            None => {}
        }
        if map.len() >= self.size {
            if self.nopurge {
                return false;
            }
            for _ in 0..(self.size >> 8) + 1 {
                if map.pop_front().is_none() {
                    break;
                }
            }
        }
        map.insert(key.into(), Entry { server_id, expire });
        true
    }

    /// Entries held (expired ones not yet purged included).
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The request as stick patterns see it.
#[derive(Clone, Copy)]
pub struct StickInput<'a> {
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// The request head with its edits so far (HTTP mode only).
    pub head: Option<ReqHead<'a>>,
}

/// A parsed request head and its pending edits.
#[derive(Clone, Copy)]
pub struct ReqHead<'a> {
    pub buf: &'a [u8],
    pub idx: &'a HeadIndex,
    pub edit: &'a HeadEdit,
}

/// A pattern's value while converters run (1.4 `PATTERN_TYPE_*`); strings live in the
/// caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sample {
    Ip(Ipv4Addr),
    Int(u32),
    Str,
}

/// Computes the table key of `pat` for a table of type `key` into `out` (cleared first):
/// 4 address bytes for `ip`, the big-endian integer for `integer`, the text cut to `len`
/// for `string`. Returns false when the pattern has no value for this request (not IPv4,
/// header absent or not an address), as 1.4 then skips the rule.
pub fn fetch_key(pat: &Pattern, key: StickKey, input: &StickInput<'_>, out: &mut Vec<u8>) -> bool {
    out.clear();
    let mut s = match &pat.fetch {
        PatternFetch::Src => match input.peer.ip() {
            IpAddr::V4(a) => Sample::Ip(a),
            IpAddr::V6(_) => return false,
        },
        PatternFetch::Dst => match input.local.ip() {
            IpAddr::V4(a) => Sample::Ip(a),
            IpAddr::V6(_) => return false,
        },
        PatternFetch::DstPort => Sample::Int(u32::from(input.local.port())),
        PatternFetch::Hdr { name, occ } => match input.head.and_then(|h| hdr_ip(h, name, *occ)) {
            Some(a) => Sample::Ip(a),
            None => return false,
        },
    };
    for c in &pat.converters {
        s = match (c, s) {
            (Converter::IpMask(m), Sample::Ip(a)) => {
                Sample::Ip(Ipv4Addr::from(u32::from(a) & u32::from(*m)))
            }
            (Converter::IpMask(_), _) => return false,
            (Converter::Lower | Converter::Upper, s) => {
                to_string(s, out);
                if matches!(c, Converter::Lower) {
                    out.make_ascii_lowercase();
                } else {
                    out.make_ascii_uppercase();
                }
                Sample::Str
            }
        };
    }
    match (key, s) {
        (StickKey::Ip, Sample::Ip(a)) => out.extend_from_slice(&a.octets()),
        (StickKey::Ip, Sample::Int(i)) => out.extend_from_slice(&i.to_be_bytes()),
        (StickKey::Integer, Sample::Ip(a)) => out.extend_from_slice(&u32::from(a).to_be_bytes()),
        (StickKey::Integer, Sample::Int(i)) => out.extend_from_slice(&i.to_be_bytes()),
        (StickKey::String { len }, s) => {
            if s != Sample::Str {
                to_string(s, out);
            }
            out.truncate(len as usize);
        }
        // 1.4 has no cast from a string to an address or an integer (refused at load).
        (StickKey::Ip | StickKey::Integer, Sample::Str) => return false,
    }
    true
}

fn to_string(s: Sample, out: &mut Vec<u8>) {
    use std::io::Write;
    match s {
        Sample::Ip(a) => {
            out.clear();
            let _ = write!(out, "{a}");
        }
        Sample::Int(i) => {
            out.clear();
            let _ = write!(out, "{i}");
        }
        Sample::Str => {}
    }
}

/// `hdr(<name>,<occ>)` read as an IPv4 address: the values of every `<name>` header, split
/// on commas, counted from the first (`occ` > 0; 0 = first) or from the last (`occ` < 0,
/// at most 10 back). A value that is not a dotted quad gives `None`.
fn hdr_ip(h: ReqHead<'_>, name: &str, occ: i32) -> Option<Ipv4Addr> {
    let mut values = h
        .edit
        .lines(h.buf, h.idx)
        .filter_map(|(_, l)| split_header_line(l))
        .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .flat_map(|(_, v)| crate::http1::comma_values(v));
    let v = if occ >= 0 {
        values.nth(occ.max(1) as usize - 1)?
    } else {
        let back = occ.unsigned_abs() as usize;
        if back > MAX_HDR_HISTORY {
            return None;
        }
        let mut ring: [&[u8]; MAX_HDR_HISTORY] = [&[]; MAX_HDR_HISTORY];
        let mut n = 0usize;
        for v in values {
            ring[n % MAX_HDR_HISTORY] = v;
            n += 1;
        }
        if back > n {
            return None;
        }
        ring[(n - back) % MAX_HDR_HISTORY]
    };
    let a = parse_dotted(v)?;
    (a != Ipv4Addr::UNSPECIFIED).then_some(a)
}

/// A strict dotted quad (`a.b.c.d`, each 0..=255), surrounding spaces ignored.
fn parse_dotted(v: &[u8]) -> Option<Ipv4Addr> {
    let start = v
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    let v = v.get(start..end).unwrap_or_default();
    let mut parts = v.split(|&c| c == b'.');
    let mut o = [0u8; 4];
    for slot in o.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n: u32 = p.iter().fold(0, |a, &d| a * 10 + u32::from(d - b'0'));
        *slot = u8::try_from(n).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(size: u64, expire: Option<u32>, nopurge: bool) -> StickTable {
        StickTable::new(&TableCfg {
            key: StickKey::Ip,
            size,
            expire,
            nopurge,
        })
    }

    #[test]
    fn store_lookup_and_update() {
        let t = table(10, None, false);
        assert_eq!(t.lookup(b"\x0a\0\0\x01", 0), None);
        assert!(t.store(b"\x0a\0\0\x01", 2, 0));
        assert_eq!(t.lookup(b"\x0a\0\0\x01", 1), Some(2));
        // storing again moves the key to another server
        assert!(t.store(b"\x0a\0\0\x01", 3, 2));
        assert_eq!(t.lookup(b"\x0a\0\0\x01", 3), Some(3));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn expiry_refreshed_by_match_not_by_store() {
        let t = table(10, Some(1000), false);
        t.store(b"a", 1, 0);
        t.store(b"b", 2, 0);
        assert_eq!(t.lookup(b"a", 900), Some(1));
        // b stored again does not restart its timer (1.4 stktable_store)
        t.store(b"b", 2, 900);
        assert_eq!(t.lookup(b"b", 1000), None);
        assert_eq!(t.lookup(b"a", 1899), Some(1));
        assert_eq!(t.lookup(b"a", 2899), None);
        assert!(t.is_empty());
    }

    #[test]
    fn size_bound_evicts_oldest() {
        let t = table(300, None, false);
        for i in 0..1000u32 {
            assert!(t.store(&i.to_be_bytes(), i, u64::from(i)));
            assert!(t.len() <= 300);
        }
        // the newest are kept, the oldest went first
        assert_eq!(t.lookup(&999u32.to_be_bytes(), 1000), Some(999));
        assert_eq!(t.lookup(&0u32.to_be_bytes(), 1000), None);
        // a small table also makes room (one entry at a time)
        let small = table(2, None, false);
        small.store(b"1", 1, 0);
        small.store(b"2", 2, 0);
        small.lookup(b"1", 1);
        small.store(b"3", 3, 2);
        assert_eq!(small.lookup(b"2", 3), None);
        assert_eq!(small.lookup(b"1", 3), Some(1));
        assert_eq!(small.lookup(b"3", 3), Some(3));
    }

    #[test]
    fn nopurge_refuses_new_entries_when_full() {
        let t = table(2, None, true);
        assert!(t.may_store());
        assert!(t.store(b"1", 1, 0));
        assert!(t.store(b"2", 2, 0));
        assert!(!t.may_store());
        assert!(!t.store(b"3", 3, 0));
        assert_eq!(t.lookup(b"3", 0), None);
        assert_eq!(t.lookup(b"1", 0), Some(1));
        // expiry frees room again
        let e = table(1, Some(10), true);
        assert!(e.store(b"1", 1, 0));
        assert!(!e.store(b"2", 2, 5));
        assert!(e.store(b"2", 2, 20));
    }

    fn input(peer: &str, local: &str) -> StickInput<'static> {
        StickInput {
            peer: peer.parse().expect("peer"),
            local: local.parse().expect("local"),
            head: None,
        }
    }

    fn pat(fetch: PatternFetch, converters: Vec<Converter>) -> Pattern {
        Pattern { fetch, converters }
    }

    #[test]
    fn keys_for_each_table_type() {
        let i = input("10.1.2.3:5000", "192.168.0.1:80");
        let mut k = Vec::new();
        assert!(fetch_key(
            &pat(PatternFetch::Src, vec![]),
            StickKey::Ip,
            &i,
            &mut k
        ));
        assert_eq!(k, [10, 1, 2, 3]);
        assert!(fetch_key(
            &pat(
                PatternFetch::Src,
                vec![Converter::IpMask(Ipv4Addr::new(255, 255, 0, 0))]
            ),
            StickKey::Ip,
            &i,
            &mut k
        ));
        assert_eq!(k, [10, 1, 0, 0]);
        assert!(fetch_key(
            &pat(PatternFetch::Dst, vec![]),
            StickKey::Integer,
            &i,
            &mut k
        ));
        assert_eq!(k, u32::from(Ipv4Addr::new(192, 168, 0, 1)).to_be_bytes());
        assert!(fetch_key(
            &pat(PatternFetch::DstPort, vec![]),
            StickKey::Integer,
            &i,
            &mut k
        ));
        assert_eq!(k, 80u32.to_be_bytes());
        assert!(fetch_key(
            &pat(PatternFetch::Src, vec![]),
            StickKey::String { len: 32 },
            &i,
            &mut k
        ));
        assert_eq!(k, b"10.1.2.3");
        assert!(fetch_key(
            &pat(PatternFetch::DstPort, vec![]),
            StickKey::String { len: 1 },
            &i,
            &mut k
        ));
        assert_eq!(k, b"8");
        let v6 = input("[::1]:5000", "[::1]:80");
        assert!(!fetch_key(
            &pat(PatternFetch::Src, vec![]),
            StickKey::Ip,
            &v6,
            &mut k
        ));
        // hdr() needs an HTTP request
        let h = pat(
            PatternFetch::Hdr {
                name: "x-forwarded-for".into(),
                occ: -1,
            },
            vec![],
        );
        assert!(!fetch_key(&h, StickKey::Ip, &i, &mut k));
    }

    #[test]
    fn hdr_occurrences() {
        let raw = b"GET / HTTP/1.1\r\nX-FF: 1.1.1.1, 2.2.2.2\r\nHost: a\r\nX-FF: 3.3.3.3\r\nX-Bad: nope\r\n\r\n";
        let mut idx = HeadIndex::new();
        assert!(matches!(
            idx.parse_request(raw, &Default::default()),
            crate::http1::Parse::Complete
        ));
        let mut edit = HeadEdit::new();
        edit.reset(&idx);
        let h = ReqHead {
            buf: raw,
            idx: &idx,
            edit: &edit,
        };
        let ip = |occ| hdr_ip(h, "x-ff", occ);
        assert_eq!(ip(-1), Some(Ipv4Addr::new(3, 3, 3, 3)));
        assert_eq!(ip(-3), Some(Ipv4Addr::new(1, 1, 1, 1)));
        assert_eq!(ip(-4), None);
        assert_eq!(ip(-11), None);
        assert_eq!(ip(0), Some(Ipv4Addr::new(1, 1, 1, 1)));
        assert_eq!(ip(2), Some(Ipv4Addr::new(2, 2, 2, 2)));
        assert_eq!(ip(4), None);
        assert_eq!(hdr_ip(h, "x-bad", -1), None);
        assert_eq!(hdr_ip(h, "absent", -1), None);
    }

    #[test]
    fn dotted_quads() {
        assert_eq!(
            parse_dotted(b" 10.0.0.1 "),
            Some(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(parse_dotted(b"10.0.0"), None);
        assert_eq!(parse_dotted(b"10.0.0.256"), None);
        assert_eq!(parse_dotted(b"10.0.0.1.2"), None);
        assert_eq!(parse_dotted(b"a.b.c.d"), None);
    }
}
