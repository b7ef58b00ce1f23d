//! `appsession <cookie> len <n> timeout <t> [request-learn] [prefix] [mode
//! path-parameters|query-string]`: persistence on an application session id (PHPSESSID,
//! JSESSIONID...) learned from the servers' `Set-Cookie` and looked up in later requests'
//! `Cookie` header or URL.
//!
//! Compare with 1.4 `src/appsession.c` (the table and its expiry task),
//! `src/proto_http.c` `manage_client_side_appsession()` (lookup), `get_srv_from_appsession()`
//! (URL) and the end of `manage_server_side_cookies()` (learning).
//!
//! The table maps an id (its first `len` bytes) to the server that issued it. It is shared
//! by all worker threads behind a `parking_lot` mutex held for one map operation. Entries
//! expire after `timeout` without use; a hit refreshes them. 1.4 kept the table unbounded
//! (one entry per id any client invents); here it is **bounded**: at most
//! [`max_entries`] ids per backend, derived from a fixed memory budget
//! ([`MEMORY_BUDGET`] bytes divided by the size of one entry, so 65,536 entries for the
//! usual `len 64`), and when full the entry used least recently is evicted first. The map
//! keeps entries in last-use order, so expired entries are always at its front: every
//! operation first drops up to [`PURGE_BATCH`] of them (amortised purge, no timer task).

use hashlink::LinkedHashMap;
use parking_lot::Mutex;
use parser::ir::{AppSession, AppSessionMode};
use std::collections::hash_map::RandomState;

/// Memory one backend's table may use for its entries, keys included.
pub const MEMORY_BUDGET: usize = 8 << 20;
/// Bookkeeping bytes per entry besides the key: hash slot, links, boxed key header,
/// server index and expiry date (an estimate on 64-bit targets).
pub const ENTRY_OVERHEAD: usize = 64;
/// Fewest entries a table holds whatever `len` is.
pub const MIN_ENTRIES: usize = 1024;
/// Expired entries dropped at most per operation.
pub const PURGE_BATCH: usize = 16;

/// The bound on a table whose ids are at most `len` bytes long.
pub fn max_entries(len: u32) -> usize {
    (MEMORY_BUDGET / (len as usize + ENTRY_OVERHEAD)).max(MIN_ENTRIES)
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    server: usize,
    /// Millisecond date after which the entry is gone (`u64::MAX`: never).
    expire: u64,
}

/// One backend's session table.
pub struct AppTable {
    timeout_ms: u64,
    max: usize,
    map: Mutex<LinkedHashMap<Box<[u8]>, Entry, RandomState>>,
}

impl std::fmt::Debug for AppTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppTable")
            .field("timeout_ms", &self.timeout_ms)
            .field("max", &self.max)
            .field("len", &self.map.try_lock().map(|m| m.len()))
            .finish()
    }
}

impl AppTable {
    /// A table for `cfg`; `timeout 0` means entries never expire (1.4 `tick_add_ifset`).
    pub fn new(cfg: &AppSession) -> AppTable {
        AppTable::with_bound(u64::from(cfg.timeout), max_entries(cfg.len))
    }

    /// A table with an explicit bound (tests).
    pub fn with_bound(timeout_ms: u64, max: usize) -> AppTable {
        AppTable {
            timeout_ms,
            max: max.max(1),
            map: Mutex::new(LinkedHashMap::with_hasher(RandomState::new())),
        }
    }

    fn expiry(&self, now_ms: u64) -> u64 {
        if self.timeout_ms == 0 {
            u64::MAX
        } else {
            now_ms.saturating_add(self.timeout_ms)
        }
    }

    /// Drops expired entries from the front (the least recently used ones).
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

    /// The server that issued `id`, refreshing the entry; `None` if unknown or expired.
    pub fn lookup(&self, id: &[u8], now_ms: u64) -> Option<usize> {
        let expire = self.expiry(now_ms);
        let mut map = self.map.lock();
        Self::purge(&mut map, now_ms);
        let e = map.get(id).copied()?;
        if e.expire <= now_ms {
            map.remove(id);
            return None;
        }
        if let Some(e) = map.to_back(id) {
            e.expire = expire;
        }
        Some(e.server)
    }

    /// Records that `server` issued `id` unless the id is already known (1.4 keeps the
    /// first server); either way the entry's idle timer restarts. Evicts the least
    /// recently used entry when the table is full.
    pub fn learn(&self, id: &[u8], server: usize, now_ms: u64) {
        let expire = self.expiry(now_ms);
        let mut map = self.map.lock();
        Self::purge(&mut map, now_ms);
        match map.get(id).copied() {
            Some(e) if e.expire > now_ms => {
                if let Some(e) = map.to_back(id) {
                    e.expire = expire;
                }
            }
            _ => {
                map.remove(id);
                while map.len() >= self.max {
                    map.pop_front();
                }
                map.insert(id.into(), Entry { server, expire });
            }
        }
    }

    /// Entries currently held (expired ones not yet purged included).
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound of this table.
    pub fn capacity(&self) -> usize {
        self.max
    }
}

/// The session id carried in `uri` for `cfg`, as 1.4's `get_srv_from_appsession()` finds
/// it: `path-parameters` mode looks at the `;`-separated parameters between the first `;`
/// and the following `?`, `query-string` mode at the `&`-separated ones after the first
/// `?`. Parameters are tried from the last to the first; the first whose name equals the
/// cookie name (ASCII case-insensitive) followed by `=` (anything, with `prefix`) decides.
/// The value runs to the next separator and is cut to `len` bytes; an empty value gives
/// `None`.
pub fn url_session_id<'u>(uri: &'u [u8], cfg: &AppSession) -> Option<&'u [u8]> {
    let (open, sep) = match cfg.mode {
        AppSessionMode::PathParameters => (b';', b';'),
        AppSessionMode::QueryString => (b'?', b'&'),
    };
    let first = uri.iter().position(|&c| c == open)?;
    let end = match cfg.mode {
        AppSessionMode::PathParameters => uri
            .iter()
            .skip(first)
            .position(|&c| c == b'?')
            .map_or(uri.len(), |p| first + p),
        AppSessionMode::QueryString => uri.len(),
    };
    let name = cfg.cookie.as_bytes();
    let nl = name.len();
    let mut next = end;
    let mut cur = end;
    while cur > first {
        cur -= 1;
        if uri.get(cur) != Some(&sep) && cur != first {
            continue;
        }
        let named = cur + nl + 1 < next
            && (cfg.prefix || uri.get(cur + nl + 1) == Some(&b'='))
            && uri
                .get(cur + 1..cur + 1 + nl)
                .is_some_and(|n| n.eq_ignore_ascii_case(name));
        if named {
            let start = cur + nl + if cfg.prefix { 1 } else { 2 };
            let len = (cfg.len as usize).min(next.saturating_sub(start));
            return (len > 0).then(|| uri.get(start..start + len)).flatten();
        }
        next = cur;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(mode: AppSessionMode, len: u32, prefix: bool) -> AppSession {
        AppSession {
            cookie: "9ai9".into(),
            len,
            timeout: 1000,
            request_learn: false,
            prefix,
            mode,
        }
    }

    #[test]
    fn path_parameters_between_semicolon_and_query() {
        let c = cfg(AppSessionMode::PathParameters, 64, false);
        assert_eq!(url_session_id(b"/x;9ai9=abc?q=1", &c), Some(&b"abc"[..]));
        assert_eq!(url_session_id(b"/x;9AI9=abc", &c), Some(&b"abc"[..]));
        assert_eq!(
            url_session_id(b"/x;a=1;9ai9=abc;b=2", &c),
            Some(&b"abc"[..])
        );
        // after the '?' it is a query string, not a path parameter
        assert_eq!(url_session_id(b"/x;a=1?9ai9=abc", &c), None);
        assert_eq!(url_session_id(b"/x?;9ai9=abc", &c), Some(&b"abc"[..]));
        assert_eq!(url_session_id(b"/x;9ai9=", &c), None);
        assert_eq!(url_session_id(b"/x;9ai9x=abc", &c), None);
        assert_eq!(url_session_id(b"/x", &c), None);
    }

    #[test]
    fn last_parameter_wins() {
        let c = cfg(AppSessionMode::PathParameters, 64, false);
        assert_eq!(
            url_session_id(b"/x;9ai9=first;9ai9=last", &c),
            Some(&b"last"[..])
        );
        let q = cfg(AppSessionMode::QueryString, 64, false);
        assert_eq!(
            url_session_id(b"/x?9ai9=first&y=2&9ai9=last", &q),
            Some(&b"last"[..])
        );
        // the last one decides even when its value is empty
        assert_eq!(url_session_id(b"/x?9ai9=first&9ai9=", &q), None);
    }

    #[test]
    fn query_string_mode() {
        let q = cfg(AppSessionMode::QueryString, 64, false);
        assert_eq!(url_session_id(b"/x?9ai9=abc", &q), Some(&b"abc"[..]));
        assert_eq!(
            url_session_id(b"/x?a=b&9ai9=abc&c=d", &q),
            Some(&b"abc"[..])
        );
        assert_eq!(url_session_id(b"/x;9ai9=abc", &q), None);
    }

    #[test]
    fn len_truncates_and_prefix_matches_names() {
        let c = cfg(AppSessionMode::PathParameters, 4, false);
        assert_eq!(url_session_id(b"/x;9ai9=abcdefgh", &c), Some(&b"abcd"[..]));
        let p = cfg(AppSessionMode::PathParameters, 64, true);
        // with prefix, everything after the name is the id
        assert_eq!(url_session_id(b"/x;9ai9=abc", &p), Some(&b"=abc"[..]));
        assert_eq!(url_session_id(b"/x;9ai9xyz", &p), Some(&b"xyz"[..]));
    }

    #[test]
    fn learn_lookup_and_first_server_kept() {
        let t = AppTable::with_bound(1000, 16);
        assert_eq!(t.lookup(b"abc", 0), None);
        t.learn(b"abc", 1, 0);
        assert_eq!(t.lookup(b"abc", 10), Some(1));
        // a second learn does not move the id to another server
        t.learn(b"abc", 0, 20);
        assert_eq!(t.lookup(b"abc", 30), Some(1));
    }

    #[test]
    fn expiry_with_fake_clock_and_refresh_on_hit() {
        let t = AppTable::with_bound(1000, 16);
        t.learn(b"a", 0, 0);
        t.learn(b"b", 1, 0);
        // each hit restarts the idle timer
        assert_eq!(t.lookup(b"a", 900), Some(0));
        assert_eq!(t.lookup(b"a", 1800), Some(0));
        // b was idle for 1000 ms: gone
        assert_eq!(t.lookup(b"b", 1000), None);
        assert_eq!(t.lookup(b"a", 2801), None);
        assert!(t.is_empty());
        // timeout 0: never expires
        let forever = AppTable::with_bound(0, 16);
        forever.learn(b"x", 2, 0);
        assert_eq!(forever.lookup(b"x", u64::MAX / 2), Some(2));
    }

    #[test]
    fn expired_entries_are_purged_by_later_operations() {
        let t = AppTable::with_bound(100, 100_000);
        for i in 0..1000u32 {
            t.learn(&i.to_be_bytes(), 0, 0);
        }
        assert_eq!(t.len(), 1000);
        // every operation drops up to PURGE_BATCH expired entries
        for i in 0..(1000 / PURGE_BATCH as u32 + 1) {
            t.learn(&(5000 + i).to_be_bytes(), 0, 200);
        }
        assert!(t.len() <= 1000 / PURGE_BATCH + 1, "len {}", t.len());
    }

    #[test]
    fn bound_holds_under_100k_fresh_ids_and_evicts_least_recently_used() {
        let mut c = cfg(AppSessionMode::PathParameters, 64, false);
        c.timeout = 5 * 3600 * 1000;
        let t = AppTable::new(&c);
        assert_eq!(t.capacity(), 65_536);
        t.learn(b"keeper", 1, 0);
        let mut id = [0u8; 32];
        for i in 0..100_000u32 {
            id[..4].copy_from_slice(&i.to_be_bytes());
            t.learn(&id, 0, u64::from(i));
            if i % 1000 == 0 {
                // used now and then: never the least recently used one
                assert_eq!(t.lookup(b"keeper", u64::from(i)), Some(1));
            }
            assert!(t.len() <= t.capacity());
        }
        assert_eq!(t.len(), t.capacity());
        assert_eq!(t.lookup(b"keeper", 100_000), Some(1));
        // the oldest fresh ids were evicted, the newest are there
        id[..4].copy_from_slice(&0u32.to_be_bytes());
        assert_eq!(t.lookup(&id, 100_000), None);
        id[..4].copy_from_slice(&99_999u32.to_be_bytes());
        assert_eq!(t.lookup(&id, 100_000), Some(0));
        assert_eq!(max_entries(0), MEMORY_BUDGET / ENTRY_OVERHEAD);
        assert_eq!(max_entries(1 << 20), MIN_ENTRIES);
    }
}
