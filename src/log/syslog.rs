//! The product's syslog sender: `log <address> <facility> [max [min]]` targets (UDP or
//! AF_UNIX datagram), `log-tag`, `log-send-hostname`, and the RFC 3164-style packet
//! `<PRI>Mmm dd hh:mm:ss [hostname ]tag[pid]: message\n`.
//!
//! Compare with 1.4 `src/log.c` `send_log`: the packet is built in a 1024-byte buffer
//! (`MAX_SYSLOG_LEN`) whose first five bytes hold `<PRI>` right-aligned on the fourth byte, so
//! a three-digit PRI gives at most 1024 bytes, a two-digit one 1023; the last byte is forced to
//! `\n` when the message is cut. A target drops messages above its `max` level and writes the
//! level as `max(level, min)`.
//!
//! Unlike 1.4, which creates one socket per family and `sendto`s each packet, each target
//! owns a socket connected once to its address (no path lookup per packet on `/dev/log`).
//! Sending never blocks and never fails the caller: when the receiver's queue is full
//! (`EAGAIN`) or it is gone, the packet is counted in [`Logger::drops`] and forgotten. A
//! unix target whose receiver went away (syslogd restart) reconnects the same socket to the
//! same path, at most once per [`RECONNECT_INTERVAL_MS`], so a dead receiver costs one failed
//! `send` per message and no more.

use std::cell::RefCell;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use parser::ir::{LogAddr, LogTarget};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::clock::{split_time, syslog_date, SYSLOG_DATE_LEN};
use super::fmt::push_u64;

/// Largest packet 1.4 sends (`MAX_SYSLOG_LEN`), counted from the start of its buffer.
pub const MAX_SYSLOG_LEN: usize = 1024;

/// Minimum delay between two reconnection attempts of one target.
pub const RECONNECT_INTERVAL_MS: u64 = 1000;

/// Room reserved at the start of the buffer for `<PRI>`: `<` plus up to three digits plus `>`.
const PRI_ROOM: usize = 5;

/// Syslog severities (`emerg` = 0 ... `debug` = 7), as in `log` lines and 1.4 `log_levels`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    Emerg = 0,
    Alert = 1,
    Crit = 2,
    Err = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

impl Level {
    /// The level number used in PRI.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The level for a number 0..=7 (`None` above).
    pub fn from_code(code: u8) -> Option<Level> {
        Some(match code {
            0 => Level::Emerg,
            1 => Level::Alert,
            2 => Level::Crit,
            3 => Level::Err,
            4 => Level::Warning,
            5 => Level::Notice,
            6 => Level::Info,
            7 => Level::Debug,
            _ => return None,
        })
    }
}

/// Who is speaking: the part of the header after the date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogIdent {
    /// `log-tag`, else the program's basename ([`default_tag`]).
    pub tag: String,
    /// `log-send-hostname [name]`: the name to write (see [`machine_hostname`] for the
    /// argument-less form); `None` without the keyword.
    pub hostname: Option<String>,
    /// Pid of the process that sends (after any fork).
    pub pid: u32,
}

impl LogIdent {
    pub fn new(tag: impl Into<String>, hostname: Option<String>, pid: u32) -> Self {
        LogIdent {
            tag: tag.into(),
            hostname,
            pid,
        }
    }

    /// `[hostname ]tag[pid]: `, written after the date in every packet.
    pub fn header(&self) -> Vec<u8> {
        let mut v = self.prefix();
        push_u64(&mut v, u64::from(self.pid));
        v.extend_from_slice(b"]: ");
        v
    }

    /// `[hostname ]tag[`: the part of the header that does not change with the pid.
    fn prefix(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.tag.len() + 16);
        if let Some(h) = &self.hostname {
            v.extend_from_slice(h.as_bytes());
            v.push(b' ');
        }
        v.extend_from_slice(self.tag.as_bytes());
        v.push(b'[');
        v
    }
}

/// The default tag: the basename of `argv[0]` (1.4 `progname`), `haproxy` if empty.
pub fn default_tag(argv0: &str) -> String {
    let base = argv0.rsplit('/').next().unwrap_or("");
    if base.is_empty() {
        "haproxy".to_string()
    } else {
        base.to_string()
    }
}

/// The machine's host name, for `log-send-hostname` without an argument (1.4 uses
/// `gethostname`). Read from `/proc/sys/kernel/hostname`; `localhost` if unreadable.
pub fn machine_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim_end_matches('\n').to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Startup errors of the syslog sender.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Could not create the socket of a target (1.4 wording).
    #[error("socket for logger #{index} failed: {source}")]
    Socket { index: usize, source: io::Error },
    /// A unix socket path too long for `sockaddr_un`.
    #[error("logger #{index}: invalid unix socket path '{path}': {source}")]
    Path {
        index: usize,
        path: PathBuf,
        source: io::Error,
    },
}

/// One target's connected, non-blocking socket.
struct Sink {
    sock: Socket,
    addr: SockAddr,
    unix: bool,
    /// False after an error that means the peer association is lost.
    connected: AtomicBool,
    /// Earliest time (ms since the logger's creation) of the next reconnection attempt.
    next_retry_ms: AtomicU64,
}

impl Sink {
    fn open(addr: &LogAddr, index: usize) -> Result<Sink, LogError> {
        let (domain, proto, sa, unix) = match addr {
            LogAddr::Udp(sa) => (
                Domain::for_address(*sa),
                Some(Protocol::UDP),
                SockAddr::from(*sa),
                false,
            ),
            LogAddr::Unix(path) => {
                let sa = SockAddr::unix(path).map_err(|source| LogError::Path {
                    index,
                    path: path.clone(),
                    source,
                })?;
                (Domain::UNIX, None, sa, true)
            }
        };
        let sock = Socket::new(domain, Type::DGRAM, proto)
            .map_err(|source| LogError::Socket { index, source })?;
        sock.set_nonblocking(true)
            .map_err(|source| LogError::Socket { index, source })?;
        if !unix {
            // Nothing is ever read from this socket (1.4 sets SO_RCVBUF to 0 as well).
            let _ = sock.set_recv_buffer_size(0);
        }
        // A receiver that is not there yet is not fatal: the first sends reconnect.
        let connected = sock.connect(&sa).is_ok();
        Ok(Sink {
            sock,
            addr: sa,
            unix,
            connected: AtomicBool::new(connected),
            next_retry_ms: AtomicU64::new(0),
        })
    }

    /// Sends one packet. Returns true when the kernel took it.
    fn send(&self, pkt: &[u8], now_ms: u64, retry_interval_ms: u64) -> bool {
        if !self.connected.load(Ordering::Relaxed) && !self.reconnect(now_ms, retry_interval_ms) {
            return false;
        }
        match self
            .sock
            .send_with_flags(pkt, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
        {
            Ok(_) => true,
            Err(e) => {
                if self.peer_lost(&e) {
                    self.connected.store(false, Ordering::Relaxed);
                }
                false
            }
        }
    }

    /// Whether `e` means the socket must be connected again. `EAGAIN`/`ENOBUFS` (queue
    /// full) and UDP's `ECONNREFUSED` (an ICMP from an earlier packet) do not.
    fn peer_lost(&self, e: &io::Error) -> bool {
        match e.raw_os_error() {
            Some(libc::ENOTCONN) | Some(libc::EDESTADDRREQ) => true,
            Some(libc::ECONNREFUSED)
            | Some(libc::ECONNRESET)
            | Some(libc::ENOENT)
            | Some(libc::EPIPE) => self.unix,
            _ => false,
        }
    }

    /// One thread at a time, at most once per interval, connects the socket again.
    fn reconnect(&self, now_ms: u64, retry_interval_ms: u64) -> bool {
        let next = self.next_retry_ms.load(Ordering::Relaxed);
        if now_ms < next {
            return false;
        }
        if self
            .next_retry_ms
            .compare_exchange(
                next,
                now_ms + retry_interval_ms,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return false;
        }
        if self.sock.connect(&self.addr).is_ok() {
            self.connected.store(true, Ordering::Relaxed);
            true
        } else {
            false
        }
    }
}

struct Target {
    facility: u8,
    max_level: u8,
    min_level: u8,
    sink: Sink,
}

/// Sends syslog packets to a list of targets (a proxy's `log` lines, or the global ones).
///
/// `Send + Sync`: share it with `Arc` between worker threads. Proxies with identical
/// target lists may share one `Logger`.
pub struct Logger {
    targets: Box<[Target]>,
    /// `[hostname ]tag[`; the pid and `]: ` follow, written per packet so that a process
    /// that forks after building its loggers (daemon mode) can update the pid.
    ident_prefix: Box<[u8]>,
    pid: std::sync::atomic::AtomicU32,
    /// Highest `max` level over the targets: quick rejection before any formatting.
    max_level: Option<u8>,
    drops: AtomicU64,
    sent: AtomicU64,
    epoch: Instant,
    retry_interval_ms: u64,
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logger")
            .field("targets", &self.targets.len())
            .field("ident", &String::from_utf8_lossy(&self.ident_prefix))
            .field("drops", &self.drops())
            .field("sent", &self.sent())
            .finish()
    }
}

thread_local! {
    /// Reusable line buffer for [`Logger::send_with`].
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(2 * MAX_SYSLOG_LEN));
}

impl Logger {
    /// Opens one socket per target. Fails only when a socket cannot be created at all (fd
    /// exhaustion) or a unix path is unusable; a receiver that is not listening yet is not
    /// an error. Call it in the process that will send (after any fork): `ident.pid` is
    /// written in every packet.
    pub fn new<'a>(
        targets: impl IntoIterator<Item = &'a LogTarget>,
        ident: &LogIdent,
    ) -> Result<Logger, LogError> {
        let mut v = Vec::new();
        for (index, t) in targets.into_iter().enumerate() {
            v.push(Target {
                facility: t.facility.min(23),
                max_level: t.max_level.min(7),
                min_level: t.min_level.min(7),
                sink: Sink::open(&t.addr, index + 1)?,
            });
        }
        let max_level = v.iter().map(|t| t.max_level).max();
        Ok(Logger {
            targets: v.into_boxed_slice(),
            ident_prefix: ident.prefix().into_boxed_slice(),
            pid: std::sync::atomic::AtomicU32::new(ident.pid),
            max_level,
            drops: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            epoch: Instant::now(),
            retry_interval_ms: RECONNECT_INTERVAL_MS,
        })
    }

    /// A logger without targets: every message is discarded before formatting.
    pub fn disabled() -> Logger {
        Logger {
            targets: Box::new([]),
            ident_prefix: Box::new([]),
            pid: std::sync::atomic::AtomicU32::new(0),
            max_level: None,
            drops: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            epoch: Instant::now(),
            retry_interval_ms: RECONNECT_INTERVAL_MS,
        }
    }

    /// The pid written in packets (after a fork, the child sets its own).
    pub fn set_pid(&self, pid: u32) {
        self.pid.store(pid, Ordering::Relaxed);
    }

    /// True when no target is configured.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Whether at least one target accepts `level`; check it before building a costly line.
    pub fn enabled(&self, level: Level) -> bool {
        self.max_level.is_some_and(|m| level.code() <= m)
    }

    /// Packets that could not be handed to the kernel (queue full, receiver gone).
    pub fn drops(&self) -> u64 {
        self.drops.load(Ordering::Relaxed)
    }

    /// Packets handed to the kernel.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Sends `msg` (one line, without its trailing `\n`) at `level` to every target whose
    /// `max` admits it. Never blocks, never allocates; failures only count in [`Self::drops`].
    pub fn send(&self, level: Level, msg: &[u8]) {
        if !self.enabled(level) {
            return;
        }
        let (now, _) = split_time(SystemTime::now());
        let mut buf = [0u8; MAX_SYSLOG_LEN];
        // `prefix` + pid + `]: `, on the stack (the prefix is cut to fit, as the packet is).
        let mut ident = [0u8; 320];
        let plen = self.ident_prefix.len().min(ident.len() - 16);
        ident[..plen].copy_from_slice(&self.ident_prefix[..plen]);
        let mut ilen = plen;
        let mut digits = [0u8; 10];
        let mut pid = self.pid.load(Ordering::Relaxed);
        let mut nd = 0;
        loop {
            digits[nd] = b'0' + (pid % 10) as u8;
            nd += 1;
            pid /= 10;
            if pid == 0 {
                break;
            }
        }
        for d in digits[..nd].iter().rev() {
            ident[ilen] = *d;
            ilen += 1;
        }
        ident[ilen..ilen + 3].copy_from_slice(b"]: ");
        ilen += 3;
        let len = build_packet(&mut buf, &syslog_date(now), &ident[..ilen], msg);
        let now_ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        for t in self.targets.iter() {
            if level.code() > t.max_level {
                continue;
            }
            let pri = t.facility * 8 + level.code().max(t.min_level);
            let start = write_pri(&mut buf, pri);
            if t.sink
                .send(&buf[start..len], now_ms, self.retry_interval_ms)
            {
                self.sent.fetch_add(1, Ordering::Relaxed);
            } else {
                self.drops.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// [`Self::send`] for text messages.
    pub fn send_str(&self, level: Level, msg: &str) {
        self.send(level, msg.as_bytes());
    }

    /// Builds the line with `f` in a reused per-thread buffer, then sends it. `f` is not
    /// called when no target accepts `level`.
    pub fn send_with(&self, level: Level, f: impl FnOnce(&mut Vec<u8>)) {
        if !self.enabled(level) {
            return;
        }
        LINE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut line) => {
                line.clear();
                f(&mut line);
                self.send(level, &line);
                if line.capacity() > 64 * 1024 {
                    *line = Vec::with_capacity(2 * MAX_SYSLOG_LEN);
                }
            }
            // Only if `f` itself logs through this path: use a private buffer.
            Err(_) => {
                let mut line = Vec::new();
                f(&mut line);
                self.send(level, &line);
            }
        });
    }

    #[cfg(test)]
    fn set_retry_interval_ms(&mut self, ms: u64) {
        self.retry_interval_ms = ms;
    }
}

/// Lays out `<PRI>` room, date, ident, message and `\n` in `buf`, cutting at
/// [`MAX_SYSLOG_LEN`] with the last byte forced to `\n`. Returns the used length; the packet
/// starts where [`write_pri`] says.
fn build_packet(
    buf: &mut [u8; MAX_SYSLOG_LEN],
    date: &[u8; SYSLOG_DATE_LEN],
    ident: &[u8],
    msg: &[u8],
) -> usize {
    buf[..PRI_ROOM].copy_from_slice(b"<<<<>");
    let mut len = PRI_ROOM;
    for part in [&date[..], ident, msg, b"\n"] {
        let n = part.len().min(MAX_SYSLOG_LEN - len);
        buf[len..len + n].copy_from_slice(&part[..n]);
        len += n;
        if n < part.len() {
            buf[MAX_SYSLOG_LEN - 1] = b'\n';
            return MAX_SYSLOG_LEN;
        }
    }
    len
}

/// Writes `<pri` right-aligned so its last digit sits just before the `>` at index 4, and
/// returns the index of the `<`.
fn write_pri(buf: &mut [u8; MAX_SYSLOG_LEN], pri: u8) -> usize {
    let mut i = PRI_ROOM - 2;
    let mut v = pri;
    loop {
        buf[i] = b'0' + v % 10;
        v /= 10;
        if v == 0 {
            break;
        }
        i -= 1;
    }
    i -= 1;
    buf[i] = b'<';
    i
}

/// The whole packet for one target, for tests and tools: `<PRI>date ident msg\n`.
pub fn format_packet(
    facility: u8,
    level: u8,
    now: SystemTime,
    ident: &LogIdent,
    msg: &[u8],
) -> Vec<u8> {
    let mut buf = [0u8; MAX_SYSLOG_LEN];
    let len = build_packet(
        &mut buf,
        &syslog_date(split_time(now).0),
        &ident.header(),
        msg,
    );
    let start = write_pri(&mut buf, facility.min(23) * 8 + level.min(7));
    buf[start..len].to_vec()
}

#[cfg(test)]
mod tests {
    use super::super::clock::test_support::local_instant;
    use super::*;
    use std::net::UdpSocket;
    use std::os::unix::net::UnixDatagram;
    use std::sync::Arc;
    use std::time::Duration;

    fn target(addr: LogAddr, facility: u8, max: u8, min: u8) -> LogTarget {
        LogTarget {
            addr,
            facility,
            max_level: max,
            min_level: min,
        }
    }

    fn ident() -> LogIdent {
        LogIdent::new("haproxy", None, 14389)
    }

    #[test]
    fn spec_example_packet() {
        let t = local_instant(2009, 2, 6, 12, 14, 14, 655);
        let p = format_packet(
            16,
            6,
            t,
            &ident(),
            b"10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in",
        );
        assert_eq!(p, b"<134>Feb  6 12:14:14 haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in\n");
    }

    #[test]
    fn pri_widths_and_hostname() {
        let t = local_instant(2013, 10, 23, 1, 2, 3, 0);
        // kern.emerg = 0.
        let p = format_packet(0, 0, t, &ident(), b"x");
        assert_eq!(p, b"<0>Oct 23 01:02:03 haproxy[14389]: x\n");
        // daemon.info = 30.
        let id = LogIdent::new("lb1", Some("node7".into()), 1);
        let p = format_packet(3, 6, t, &id, b"hello");
        assert_eq!(p, b"<30>Oct 23 01:02:03 node7 lb1[1]: hello\n");
        // local7.debug = 191.
        let p = format_packet(23, 7, t, &ident(), b"");
        assert_eq!(p, b"<191>Oct 23 01:02:03 haproxy[14389]: \n");
    }

    #[test]
    fn truncation_keeps_final_newline() {
        let t = local_instant(2009, 2, 6, 12, 14, 14, 0);
        let long = vec![b'a'; 3000];
        let p = format_packet(16, 6, t, &ident(), &long);
        assert_eq!(p.len(), MAX_SYSLOG_LEN);
        assert_eq!(p.last(), Some(&b'\n'));
        assert_eq!(p[p.len() - 2], b'a');
        // A two-digit PRI leaves one byte less, as in 1.4's shared buffer.
        let p = format_packet(3, 6, t, &ident(), &long);
        assert_eq!(p.len(), MAX_SYSLOG_LEN - 1);
        assert_eq!(p.last(), Some(&b'\n'));
        // Exactly full: the message's own newline is the last byte, nothing is cut.
        let hdr = b"<134>Feb  6 12:14:14 haproxy[14389]: ".len();
        let fit = vec![b'b'; MAX_SYSLOG_LEN - hdr - 1];
        let p = format_packet(16, 6, t, &ident(), &fit);
        assert_eq!(p.len(), MAX_SYSLOG_LEN);
        assert_eq!(&p[p.len() - 2..], b"b\n");
        let over = vec![b'b'; MAX_SYSLOG_LEN - hdr];
        let p2 = format_packet(16, 6, t, &ident(), &over);
        assert_eq!(p, p2);
    }

    #[test]
    fn tag_and_levels() {
        assert_eq!(default_tag("/usr/sbin/haproxy"), "haproxy");
        assert_eq!(default_tag("haproxide"), "haproxide");
        assert_eq!(default_tag(""), "haproxy");
        assert_eq!(Level::from_code(6), Some(Level::Info));
        assert_eq!(Level::from_code(8), None);
        assert!(Level::Err < Level::Info);
        assert!(!machine_hostname().is_empty());
    }

    /// Receives one datagram with a deadline.
    fn recv_udp(s: &UdpSocket) -> Vec<u8> {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 2048];
        let n = s.recv(&mut buf).expect("datagram within 5s");
        buf[..n].to_vec()
    }

    fn recv_unix(s: &UnixDatagram) -> Vec<u8> {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 2048];
        let n = s.recv(&mut buf).expect("datagram within 5s");
        buf[..n].to_vec()
    }

    /// The packet is one of those that `now` could have produced around the send.
    fn assert_packet(got: &[u8], pri: &str, before: SystemTime, after: SystemTime, body: &[u8]) {
        let id = ident();
        let (f, l) = (pri_parts(pri).0, pri_parts(pri).1);
        let a = format_packet(f, l, before, &id, body);
        let b = format_packet(f, l, after, &id, body);
        assert!(
            got == a || got == b,
            "got {:?}",
            String::from_utf8_lossy(got)
        );
    }

    fn pri_parts(pri: &str) -> (u8, u8) {
        let v: u8 = pri.parse().unwrap();
        (v / 8, v % 8)
    }

    #[test]
    fn udp_loopback_filter_and_caps() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = rx.local_addr().unwrap();
        // local0, max notice, min warning: info is dropped, notice is written as warning.
        let targets = [
            target(LogAddr::Udp(addr), 16, 5, 4),
            target(LogAddr::Udp(addr), 1, 7, 0),
        ];
        let logger = Logger::new(&targets, &ident()).unwrap();
        assert!(logger.enabled(Level::Debug));

        let before = SystemTime::now();
        logger.send(Level::Info, b"only the user target");
        logger.send(Level::Notice, b"both");
        let after = SystemTime::now();
        // user.info = 14
        assert_packet(&recv_udp(&rx), "14", before, after, b"only the user target");
        // local0 capped: max(notice=5, min=4) = 5 -> 133; user.notice = 13.
        assert_packet(&recv_udp(&rx), "133", before, after, b"both");
        assert_packet(&recv_udp(&rx), "13", before, after, b"both");
        assert_eq!(logger.sent(), 3);
        assert_eq!(logger.drops(), 0);

        // min raises the severity: an info message sent as err with min=err.
        let capped = Logger::new(&[target(LogAddr::Udp(addr), 16, 7, 3)], &ident()).unwrap();
        let before = SystemTime::now();
        capped.send(Level::Info, b"capped");
        let after = SystemTime::now();
        assert_packet(&recv_udp(&rx), "134", before, after, b"capped"); // max(6,3) = 6
        capped.send(Level::Emerg, b"emerg");
        assert_packet(&recv_udp(&rx), "131", before, SystemTime::now(), b"emerg");
        // max(0,3) = 3
    }

    #[test]
    fn filtered_level_is_not_formatted() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        // As the seed's admin_stats: `log 127.0.0.1 local0 err`.
        let logger = Logger::new(
            &[target(LogAddr::Udp(rx.local_addr().unwrap()), 16, 3, 0)],
            &ident(),
        )
        .unwrap();
        assert!(!logger.enabled(Level::Info));
        let mut called = false;
        logger.send_with(Level::Info, |_| called = true);
        assert!(!called);
        logger.send_with(Level::Err, |out| out.extend_from_slice(b"an error"));
        let got = recv_udp(&rx);
        assert!(
            got.starts_with(b"<131>"),
            "{:?}",
            String::from_utf8_lossy(&got)
        );
        assert!(got.ends_with(b"haproxy[14389]: an error\n"));
        assert_eq!(logger.sent(), 1);
        let off = Logger::disabled();
        assert!(off.is_empty() && !off.enabled(Level::Emerg));
        off.send(Level::Emerg, b"nothing");
        assert_eq!(off.sent() + off.drops(), 0);
    }

    #[test]
    fn unix_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        let logger =
            Logger::new(&[target(LogAddr::Unix(path.clone()), 16, 7, 0)], &ident()).unwrap();
        let before = SystemTime::now();
        logger.send(Level::Info, b"over unix");
        let after = SystemTime::now();
        assert_packet(&recv_unix(&rx), "134", before, after, b"over unix");
        assert_eq!((logger.sent(), logger.drops()), (1, 0));
    }

    #[test]
    fn unix_receiver_gone_counts_drops_then_reconnects() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        let mut logger =
            Logger::new(&[target(LogAddr::Unix(path.clone()), 16, 7, 0)], &ident()).unwrap();
        logger.set_retry_interval_ms(20);
        drop(rx);
        std::fs::remove_file(&path).unwrap();
        for _ in 0..10 {
            logger.send(Level::Info, b"lost");
        }
        assert_eq!(logger.drops(), 10);
        assert_eq!(logger.sent(), 0);

        // syslogd comes back on the same path: sends resume after a reconnection.
        let rx = UnixDatagram::bind(&path).unwrap();
        rx.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 2048];
        let got = loop {
            logger.send(Level::Info, b"back");
            if let Ok(n) = rx.recv(&mut buf) {
                break buf[..n].to_vec();
            }
            assert!(Instant::now() < deadline, "no reconnection within 5s");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(got.ends_with(b"haproxy[14389]: back\n"));
        assert!(logger.sent() >= 1);
    }

    #[test]
    fn missing_receiver_at_startup_is_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.sock");
        let logger = Logger::new(&[target(LogAddr::Unix(path), 16, 7, 0)], &ident()).unwrap();
        logger.send(Level::Info, b"nobody");
        assert_eq!(logger.drops(), 1);
    }

    #[test]
    fn unusable_unix_path_is_an_error() {
        let long = PathBuf::from(format!("/tmp/{}", "d".repeat(200)));
        let err = Logger::new(&[target(LogAddr::Unix(long), 16, 7, 0)], &ident()).unwrap_err();
        assert!(matches!(err, LogError::Path { index: 1, .. }), "{err}");
    }

    #[test]
    fn full_receiver_queue_drops_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slow.sock");
        // A receiver that never reads: its queue fills up.
        let _rx = UnixDatagram::bind(&path).unwrap();
        let logger = Logger::new(&[target(LogAddr::Unix(path), 16, 7, 0)], &ident()).unwrap();
        let start = Instant::now();
        let mut n = 0;
        while logger.drops() == 0 && n < 200_000 {
            logger.send(Level::Info, &[b'x'; 200]);
            n += 1;
        }
        assert!(logger.drops() > 0, "queue never filled after {n} sends");
        assert!(logger.sent() > 0);
        // Non-blocking: bounded by the loop, not by a stuck send.
        assert!(start.elapsed() < Duration::from_secs(30));
        let before = logger.drops();
        logger.send(Level::Info, b"still full");
        assert_eq!(logger.drops(), before + 1);
    }

    #[test]
    fn shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Logger>();
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let logger = Arc::new(
            Logger::new(
                &[target(LogAddr::Udp(rx.local_addr().unwrap()), 16, 7, 0)],
                &ident(),
            )
            .unwrap(),
        );
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let l = Arc::clone(&logger);
                std::thread::spawn(move || {
                    for j in 0..25 {
                        l.send_with(Level::Info, |out| {
                            out.extend_from_slice(format!("thread {i} line {j}").as_bytes());
                        });
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(logger.sent() + logger.drops(), 100);
        let mut seen = 0;
        rx.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut buf = [0u8; 2048];
        while let Ok(n) = rx.recv(&mut buf) {
            assert!(buf[..n].starts_with(b"<134>"));
            assert!(buf[..n].ends_with(b"\n"));
            seen += 1;
        }
        assert_eq!(seen as u64, logger.sent());
    }
}
