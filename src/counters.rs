//! Traffic counters shared by every worker thread: what the stats page, the CSV export,
//! `show stat`/`show info` and the Prometheus endpoint report. One `Counters` per frontend,
//! backend and server (each kind uses the subset HAProxy 1.4 shows for it, see
//! `src/dumpstats.c` `stats_dump_proxy`), plus per-second rate meters like 1.4's `freq_ctr`.
//!
//! Counters are relaxed atomics: they are statistics, not synchronisation.

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch, as the rate meters count them.
pub fn now_sec() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

/// Events per second over the last full second, as 1.4's `freq_ctr`: the current second's
/// count plus the previous second's count weighted by the part of the current second still
/// to come.
#[derive(Default, Debug)]
pub struct FreqCtr {
    /// (second << 32) | count in that second.
    curr: AtomicU64,
    prev: AtomicU32,
}

impl FreqCtr {
    /// Counts one event now.
    pub fn add(&self, n: u32) {
        self.add_at(now_sec(), n)
    }

    pub fn add_at(&self, sec: u32, n: u32) {
        let mut cur = self.curr.load(Relaxed);
        loop {
            let (csec, ccount) = ((cur >> 32) as u32, cur as u32);
            let new = if csec == sec {
                (u64::from(sec) << 32) | u64::from(ccount.saturating_add(n))
            } else {
                (u64::from(sec) << 32) | u64::from(n)
            };
            match self.curr.compare_exchange_weak(cur, new, Relaxed, Relaxed) {
                Ok(_) => {
                    if csec != sec {
                        // The previous second only counts if it was the one just before.
                        self.prev.store(
                            if csec.wrapping_add(1) == sec {
                                ccount
                            } else {
                                0
                            },
                            Relaxed,
                        );
                    }
                    return;
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// The rate over the last second, as HAProxy computes it for the stats page.
    pub fn rate(&self) -> u32 {
        self.rate_at(now_sec(), subsec_ms())
    }

    pub fn rate_at(&self, sec: u32, ms_into_sec: u32) -> u32 {
        let cur = self.curr.load(Relaxed);
        let (csec, ccount) = ((cur >> 32) as u32, cur as u32);
        let (curr, prev) = if csec == sec {
            (ccount, self.prev.load(Relaxed))
        } else if csec.wrapping_add(1) == sec {
            (0, ccount)
        } else {
            (0, 0)
        };
        let remain = 1000u64.saturating_sub(u64::from(ms_into_sec.min(1000)));
        (u64::from(curr) + u64::from(prev) * remain / 1000) as u32
    }
}

fn subsec_ms() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_millis())
        .unwrap_or(0)
}

/// Raises `max` to `v` if larger.
pub fn update_max(max: &AtomicU64, v: u64) {
    max.fetch_max(v, Relaxed);
}

/// Every counter a stats row can show. Field names follow the CSV columns.
#[derive(Default, Debug)]
pub struct Counters {
    pub qmax: AtomicU64,
    pub smax: AtomicU64,
    /// Cumulative sessions.
    pub stot: AtomicU64,
    pub bin: AtomicU64,
    pub bout: AtomicU64,
    pub dreq: AtomicU64,
    pub dresp: AtomicU64,
    pub ereq: AtomicU64,
    pub econ: AtomicU64,
    pub eresp: AtomicU64,
    pub wretr: AtomicU64,
    pub wredis: AtomicU64,
    /// Times a server was picked by load balancing.
    pub lbtot: AtomicU64,
    pub chkfail: AtomicU64,
    pub chkdown: AtomicU64,
    pub hanafail: AtomicU64,
    pub cli_abrt: AtomicU64,
    pub srv_abrt: AtomicU64,
    /// HTTP responses by class: 1xx, 2xx, 3xx, 4xx, 5xx, other.
    pub hrsp: [AtomicU64; 6],
    /// HTTP requests received (frontends).
    pub req_tot: AtomicU64,
    pub sess_rate: FreqCtr,
    pub sess_rate_max: AtomicU64,
    pub req_rate: FreqCtr,
    pub req_rate_max: AtomicU64,
    /// Last state change, seconds since the epoch.
    pub last_change: AtomicU64,
    /// Accumulated seconds spent DOWN (backends, servers).
    pub down_time: AtomicU64,
    /// When the current DOWN period started (0 = not down).
    pub down_since: AtomicI64,
}

impl Counters {
    pub fn new() -> Self {
        let c = Counters::default();
        c.last_change.store(u64::from(now_sec()), Relaxed);
        c
    }

    /// Counts a new session and refreshes the session rate maximum.
    pub fn new_session(&self, cur: u64) {
        self.stot.fetch_add(1, Relaxed);
        update_max(&self.smax, cur);
        self.sess_rate.add(1);
        update_max(&self.sess_rate_max, u64::from(self.sess_rate.rate()));
    }

    /// Counts one HTTP request received on a frontend.
    pub fn new_request(&self) {
        self.req_tot.fetch_add(1, Relaxed);
        self.req_rate.add(1);
        update_max(&self.req_rate_max, u64::from(self.req_rate.rate()));
    }

    /// Counts a response status in its class.
    pub fn count_status(&self, status: u16) {
        let i = match status {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            500..=599 => 4,
            _ => 5,
        };
        self.hrsp[i].fetch_add(1, Relaxed);
    }

    /// `clear counters`: maxima only. `clear counters all`: everything.
    pub fn clear(&self, all: bool) {
        for c in [
            &self.qmax,
            &self.smax,
            &self.sess_rate_max,
            &self.req_rate_max,
        ] {
            c.store(0, Relaxed);
        }
        if all {
            for c in [
                &self.stot,
                &self.bin,
                &self.bout,
                &self.dreq,
                &self.dresp,
                &self.ereq,
                &self.econ,
                &self.eresp,
                &self.wretr,
                &self.wredis,
                &self.lbtot,
                &self.chkfail,
                &self.chkdown,
                &self.hanafail,
                &self.cli_abrt,
                &self.srv_abrt,
                &self.req_tot,
                &self.down_time,
            ] {
                c.store(0, Relaxed);
            }
            for h in &self.hrsp {
                h.store(0, Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freq_ctr_weights_previous_second() {
        let f = FreqCtr::default();
        f.add_at(100, 10);
        assert_eq!(f.rate_at(100, 0), 10);
        f.add_at(101, 4);
        // half of second 101 elapsed: 4 + 10 * 0.5
        assert_eq!(f.rate_at(101, 500), 9);
        // two seconds later nothing remains
        assert_eq!(f.rate_at(103, 0), 0);
        // one second later: previous full second weighted
        assert_eq!(f.rate_at(102, 250), 3);
    }

    #[test]
    fn status_classes_and_clear() {
        let c = Counters::new();
        for s in [100, 200, 204, 302, 404, 503, 600] {
            c.count_status(s);
        }
        let v: Vec<u64> = c.hrsp.iter().map(|h| h.load(Relaxed)).collect();
        assert_eq!(v, vec![1, 2, 1, 1, 1, 1]);
        c.new_session(5);
        assert_eq!(c.smax.load(Relaxed), 5);
        c.clear(false);
        assert_eq!(c.smax.load(Relaxed), 0);
        assert_eq!(c.stot.load(Relaxed), 1);
        c.clear(true);
        assert_eq!(c.stot.load(Relaxed), 0);
        assert_eq!(c.hrsp[1].load(Relaxed), 0);
    }
}
