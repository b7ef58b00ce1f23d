//! Wall-clock dates for the log lines: the syslog header's `Feb  6 12:14:14`, the httplog
//! accept date `06/Feb/2009:12:14:14.655`, the CLF date `06/Feb/2009:11:14:14 +0000` and the
//! stderr stamp `036/121414` of `[WARNING] 036/121414 (4242) : ...`.
//!
//! Compare with 1.4 `src/log.c` (`send_log` rebuilds its header once a second from
//! `localtime`) and `include/common/standard.h` (`get_localtime`, `get_gmtime`).
//!
//! 1.4 reads the time zone through glibc, which loads it on first use and keeps it, so logs
//! stay in local time after `chroot`. chrono's `Local` re-reads `/etc/localtime` every second
//! and falls back to UTC once it is out of reach, so the zone is loaded here once (jiff, already
//! in the build through env_logger), ideally by [`init_local_timezone`] before `chroot`, and
//! kept for the life of the process.

use jiff::tz::TimeZone;
use jiff::Timestamp;
use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use super::fmt::push_padded;

/// English month abbreviations (1.4 `monthname`).
pub(crate) const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

static LOCAL_TZ: OnceLock<TimeZone> = OnceLock::new();

/// Loads the local time zone (`TZ`, else `/etc/localtime`) now, so that it is known before
/// the process chroots. Idempotent; later calls keep the first zone. When no zone can be
/// found the logs use UTC, as glibc does.
pub fn init_local_timezone() {
    local_tz();
}

fn local_tz() -> &'static TimeZone {
    LOCAL_TZ.get_or_init(TimeZone::system)
}

/// A broken-down time, as `struct tm` (months and days of the year counted from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tm {
    pub year: i32,
    /// 0 = January.
    pub mon: u8,
    /// Day of the month, 1..=31.
    pub mday: u8,
    pub hour: u8,
    pub min: u8,
    pub sec: u8,
    /// Day of the year, 0 = January 1st (`tm_yday`).
    pub yday: u16,
}

impl Tm {
    fn from_datetime(dt: jiff::civil::DateTime) -> Tm {
        // jiff's fields are range-checked, so the casts cannot wrap.
        Tm {
            year: i32::from(dt.year()),
            mon: (dt.month() - 1) as u8,
            mday: dt.day() as u8,
            hour: dt.hour() as u8,
            min: dt.minute() as u8,
            sec: dt.second() as u8,
            yday: (dt.day_of_year() - 1) as u16,
        }
    }

    fn month_name(&self) -> &'static [u8; 3] {
        MONTHS[usize::from(self.mon) % 12]
    }
}

fn timestamp(secs: i64) -> Timestamp {
    // Out of jiff's ±9999-year range only with a broken clock; log the epoch then.
    Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH)
}

thread_local! {
    /// The last second converted to local time by this thread: log lines come in bursts
    /// within the same second, and the zone lookup is the costly part.
    static LAST_LOCAL: Cell<Option<(i64, Tm)>> = const { Cell::new(None) };
}

/// Local broken-down time of `secs` since the epoch.
pub(crate) fn local_tm(secs: i64) -> Tm {
    if let Some((s, tm)) = LAST_LOCAL.with(Cell::get) {
        if s == secs {
            return tm;
        }
    }
    let tm = Tm::from_datetime(local_tz().to_datetime(timestamp(secs)));
    LAST_LOCAL.with(|c| c.set(Some((secs, tm))));
    tm
}

/// UTC broken-down time of `secs` since the epoch (CLF logs).
pub(crate) fn utc_tm(secs: i64) -> Tm {
    Tm::from_datetime(TimeZone::UTC.to_datetime(timestamp(secs)))
}

/// Seconds since the epoch and the millisecond within that second (1.4 `tv_sec` and
/// `tv_usec / 1000`). Dates before 1970 count as the epoch.
pub(crate) fn split_time(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_millis(),
        ),
        Err(_) => (0, 0),
    }
}

/// Length of the syslog date written by [`syslog_date`], separator included.
pub(crate) const SYSLOG_DATE_LEN: usize = 16;

thread_local! {
    /// The syslog date of the last second this thread sent in: rebuilt once a second, as
    /// 1.4 `send_log` rebuilds its header.
    static LAST_SYSLOG_DATE: Cell<(i64, [u8; SYSLOG_DATE_LEN])> =
        const { Cell::new((i64::MIN, [b' '; SYSLOG_DATE_LEN])) };
}

/// `Mmm dd hh:mm:ss ` (day space-padded, `%2d`) in local time, trailing space included.
/// No allocation; cached per thread for the current second.
pub(crate) fn syslog_date(secs: i64) -> [u8; SYSLOG_DATE_LEN] {
    let (cached, date) = LAST_SYSLOG_DATE.with(Cell::get);
    if cached == secs {
        return date;
    }
    let tm = local_tm(secs);
    let two = |v: u8| [b'0' + (v / 10) % 10, b'0' + v % 10];
    let mut d = [b' '; SYSLOG_DATE_LEN];
    d[..3].copy_from_slice(tm.month_name());
    let day = two(tm.mday);
    if tm.mday >= 10 {
        d[4] = day[0];
    }
    d[5] = day[1];
    d[7..9].copy_from_slice(&two(tm.hour));
    d[9] = b':';
    d[10..12].copy_from_slice(&two(tm.min));
    d[12] = b':';
    d[13..15].copy_from_slice(&two(tm.sec));
    LAST_SYSLOG_DATE.with(|c| c.set((secs, d)));
    d
}

fn push_hms(out: &mut Vec<u8>, tm: &Tm) {
    push_padded(out, u64::from(tm.hour), 2);
    out.push(b':');
    push_padded(out, u64::from(tm.min), 2);
    out.push(b':');
    push_padded(out, u64::from(tm.sec), 2);
}

fn push_dmy_hms(out: &mut Vec<u8>, tm: &Tm) {
    push_padded(out, u64::from(tm.mday), 2);
    out.push(b'/');
    out.extend_from_slice(tm.month_name());
    out.push(b'/');
    push_padded(out, tm.year.max(0) as u64, 4);
    out.push(b':');
    push_hms(out, tm);
}

/// `dd/Mon/yyyy:hh:mm:ss.mmm` in local time: the accept date of httplog and tcplog lines.
pub(crate) fn push_accept_date(out: &mut Vec<u8>, t: SystemTime) {
    let (secs, ms) = split_time(t);
    push_dmy_hms(out, &local_tm(secs));
    out.push(b'.');
    push_padded(out, u64::from(ms), 3);
}

/// `dd/Mon/yyyy:hh:mm:ss +0000` in UTC: the date of `option httplog clf` lines.
pub(crate) fn push_clf_date(out: &mut Vec<u8>, t: SystemTime) {
    let (secs, _) = split_time(t);
    push_dmy_hms(out, &utc_tm(secs));
    out.extend_from_slice(b" +0000");
}

/// HAProxy's stderr stamp `DDD/HHMMSS (pid)` (day of the year from 0, local time), the
/// part between `[WARNING] ` and ` : ` in 1.4 `Alert()`/`Warning()`.
pub fn stderr_stamp(now: SystemTime, pid: u32) -> String {
    let tm = local_tm(split_time(now).0);
    let mut v = Vec::with_capacity(24);
    push_padded(&mut v, u64::from(tm.yday), 3);
    v.push(b'/');
    push_padded(&mut v, u64::from(tm.hour), 2);
    push_padded(&mut v, u64::from(tm.min), 2);
    push_padded(&mut v, u64::from(tm.sec), 2);
    v.extend_from_slice(b" (");
    super::fmt::push_u64(&mut v, u64::from(pid));
    v.push(b')');
    String::from_utf8_lossy(&v).into_owned()
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use std::time::Duration;

    /// The instant whose local time (in the zone the logs use) is the given civil time.
    pub(crate) fn local_instant(
        y: i16,
        mo: i8,
        d: i8,
        h: i8,
        mi: i8,
        s: i8,
        ms: u32,
    ) -> SystemTime {
        let dt = jiff::civil::date(y, mo, d).at(h, mi, s, 0);
        let ts = local_tz()
            .to_timestamp(dt)
            .expect("representable local time");
        let secs = u64::try_from(ts.as_second()).expect("after the epoch");
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(u64::from(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::local_instant;
    use super::*;
    use std::time::Duration;

    #[test]
    fn syslog_date_pads_day_with_space() {
        let t = local_instant(2009, 2, 6, 12, 14, 14, 655);
        assert_eq!(&syslog_date(split_time(t).0), b"Feb  6 12:14:14 ");
        let t = local_instant(2009, 12, 31, 23, 59, 59, 0);
        assert_eq!(&syslog_date(split_time(t).0), b"Dec 31 23:59:59 ");
        let t = local_instant(2010, 1, 1, 0, 0, 0, 0);
        assert_eq!(&syslog_date(split_time(t).0), b"Jan  1 00:00:00 ");
    }

    #[test]
    fn accept_date_has_milliseconds() {
        let mut v = Vec::new();
        push_accept_date(&mut v, local_instant(2009, 2, 6, 12, 14, 14, 655));
        assert_eq!(v, b"06/Feb/2009:12:14:14.655");
        let mut v = Vec::new();
        push_accept_date(&mut v, local_instant(2013, 11, 9, 1, 2, 3, 7));
        assert_eq!(v, b"09/Nov/2013:01:02:03.007");
    }

    #[test]
    fn clf_date_is_utc() {
        let mut v = Vec::new();
        // 1234567890 = Fri, 13 Feb 2009 23:31:30 UTC.
        push_clf_date(
            &mut v,
            UNIX_EPOCH + Duration::from_millis(1_234_567_890_999),
        );
        assert_eq!(v, b"13/Feb/2009:23:31:30 +0000");
    }

    #[test]
    fn stderr_stamp_counts_days_from_zero() {
        let t = local_instant(2009, 2, 6, 9, 5, 7, 0);
        // Feb 6 is day 36 of the year counted from 0.
        assert_eq!(stderr_stamp(t, 4242), "036/090507 (4242)");
    }

    #[test]
    fn cache_follows_the_second() {
        let a = local_tm(1_234_567_890);
        let b = local_tm(1_234_567_891);
        assert_ne!(a, b);
        assert_eq!(local_tm(1_234_567_890), a);
        assert_eq!(split_time(UNIX_EPOCH - Duration::from_secs(5)), (0, 0));
    }
}
