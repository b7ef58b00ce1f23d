//! When checks run: one tokio task per checked server, spawned by [`start`] on the runtime
//! it is called from (the control thread's, never the workers'), plus one small task that
//! steps slowstart ramps.
//!
//! Keywords: server `inter`, `fastinter`, `downinter`, `slowstart`; global `spread-checks`.
//!
//! Compare with 1.4 `src/checks.c` (`start_checks`, `process_chk` rescheduling,
//! `server_warmup`) and `src/server.c` (`srv_getinter`).
//!
//! * At start-up the first checks are spread out: server number `pos` (counting checked
//!   servers across all proxies) starts after `interval × pos / count`, where `interval` is
//!   the smallest interval of at least one second among all servers when that is not
//!   shorter than the server's own, else its own.
//! * After each check the next one is due `srv_getinter` later (`inter` at full health,
//!   `downinter` when fully DOWN, `fastinter` in between), counted from the end of the check,
//!   ± `spread-checks` percent of random jitter.
//! * Servers in maintenance are not checked; their task wakes every `inter` to look again.
//! * Everything stops when [`CheckHandle::stop`] is called or `Runtime::stopping` is seen.

use super::state::{self, check_interval, warmup_steps, ServerId};
use super::tcp::{run_check, CheckPlan};
use crate::log::{self, LogIdent};
use crate::runtime::Runtime;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};

/// 1.4's `SRV_CHK_INTER_THRES`: shorter intervals do not dictate the start-up spread.
const INTER_THRESHOLD: Duration = Duration::from_millis(1000);

/// How often slowstart ramps are stepped (1.4: every second at most).
const WARMUP_TICK: Duration = Duration::from_millis(1000);

/// A tiny xorshift64* generator for the `spread-checks` jitter: statistical quality is
/// irrelevant here and it avoids a dependency.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        // Zero is the one state xorshift never leaves.
        XorShift(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `interval` ± up to `percent`% (1.4: `rv = inter * spread / 100`, then a uniform offset in
/// (−rv, rv]).
pub fn spread(interval: Duration, percent: u32, rng: &mut XorShift) -> Duration {
    if percent == 0 {
        return interval;
    }
    let ms = interval.as_millis() as i64;
    let rv = ms * i64::from(percent.min(100)) / 100;
    let offset = rv - (2.0 * rv as f64 * rng.unit()) as i64;
    Duration::from_millis((ms + offset).max(0) as u64)
}

/// Start-up delays of the checked servers, given each one's interval at start (1.4
/// `start_checks`).
pub fn initial_delays(intervals: &[Duration]) -> Vec<Duration> {
    let count = intervals.len() as u32;
    let min_long = intervals
        .iter()
        .copied()
        .filter(|&i| i >= INTER_THRESHOLD)
        .min();
    intervals
        .iter()
        .enumerate()
        .map(|(pos, &own)| {
            let base = match min_long {
                Some(m) if m >= own => m,
                _ => own,
            };
            base * pos as u32 / count.max(1)
        })
        .collect()
}

/// The running health checks. Dropping it leaves the tasks running until the runtime that
/// spawned them stops; call [`CheckHandle::stop`] to end them.
#[derive(Debug)]
pub struct CheckHandle {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    checked: usize,
}

impl CheckHandle {
    /// Asks every check task to end (a check in progress is abandoned).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Stops and waits for the tasks to end.
    pub async fn shutdown(self) {
        self.stop();
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// Number of servers being checked.
    pub fn checked_servers(&self) -> usize {
        self.checked
    }
}

/// Starts the health checks of every server with `check` in an enabled proxy, on the
/// current tokio runtime, after installing the backends' syslog senders (see
/// [`super::install_loggers`]). Must be called from within a tokio runtime, after the fork.
pub fn start(rt: Arc<Runtime>, ident: &LogIdent) -> CheckHandle {
    super::install_loggers_or_warn(&rt, ident);
    start_with(rt, WARMUP_TICK)
}

/// [`start`] without the loggers, with a chosen slowstart tick (tests).
pub(crate) fn start_with(rt: Arc<Runtime>, warmup_tick: Duration) -> CheckHandle {
    let (stop, stop_rx) = watch::channel(false);
    let mut plans = Vec::new();
    for (pi, px) in rt.proxies.iter().enumerate() {
        if px.cfg.disabled.is_some() {
            continue;
        }
        for (si, s) in px.servers.iter().enumerate() {
            if !s.check.is_checked() {
                continue;
            }
            let id = ServerId {
                proxy: pi,
                server: si,
            };
            match CheckPlan::new(&rt, id) {
                Ok(plan) => plans.push((id, plan, check_interval(s))),
                Err(e) => {
                    let at = px.cfg.servers.get(si).map(|s| s.span.to_string());
                    log::stderr_alert(&format!("parsing [{}] : {e}", at.unwrap_or_default()));
                }
            }
        }
    }
    let intervals: Vec<Duration> = plans.iter().map(|(_, _, i)| *i).collect();
    let delays = initial_delays(&intervals);
    let checked = plans.len();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0x9E37_79B9, |d| d.as_nanos() as u64);
    let mut tasks = Vec::with_capacity(checked + 1);
    for (n, ((id, plan, _), delay)) in plans.into_iter().zip(delays).enumerate() {
        let rng = XorShift::new(seed ^ (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        tasks.push(tokio::spawn(server_task(
            rt.clone(),
            id,
            plan,
            delay,
            rng,
            stop_rx.clone(),
        )));
    }
    tasks.push(tokio::spawn(warmup_task(rt, warmup_tick, stop_rx)));
    CheckHandle {
        stop,
        tasks,
        checked,
    }
}

/// The life of one server's checks.
async fn server_task(
    rt: Arc<Runtime>,
    id: ServerId,
    plan: CheckPlan,
    first: Duration,
    mut rng: XorShift,
    mut stop: watch::Receiver<bool>,
) {
    let Some(px) = rt.proxies.get(id.proxy) else {
        return;
    };
    let Some(s) = px.servers.get(id.server) else {
        return;
    };
    let pct = rt.global.spread_checks;
    let inter = Duration::from_millis(u64::from(s.cfg.inter.max(1)));
    let soon = s
        .cfg
        .fastinter
        .map_or(inter, |f| Duration::from_millis(u64::from(f.max(1))));
    let mut next = Instant::now() + first;
    loop {
        tokio::select! {
            _ = sleep_until(next) => {}
            // `observe` errors and `enable server` ask for an earlier check.
            _ = s.check.hurry.notified() => {
                next = next.min(Instant::now() + soon);
                continue;
            }
            _ = stop.wait_for(|&v| v) => return,
        }
        if rt.stopping.load(Relaxed) {
            return;
        }
        if s.maint.load(Relaxed) {
            let now = Instant::now();
            while next <= now {
                next += inter;
            }
            continue;
        }
        s.check.check_started();
        // Boxed so that the check's state (reply buffer included) exists only while a check
        // runs, not in every idle task.
        let outcome = tokio::select! {
            o = Box::pin(run_check(&rt, id, &plan)) => o,
            _ = stop.wait_for(|&v| v) => return,
        };
        state::apply_check_result(&rt, id, &outcome);
        next = Instant::now() + spread(check_interval(s), pct, &mut rng);
    }
}

/// Steps the slowstart ramps: gives the balancer each new weight step of a warming-up
/// server and full weight when the ramp ends, telling the proxy each time (1.4
/// `server_warmup`).
async fn warmup_task(rt: Arc<Runtime>, tick: Duration, mut stop: watch::Receiver<bool>) {
    let ids: Vec<ServerId> = rt
        .proxies
        .iter()
        .enumerate()
        .flat_map(|(pi, px)| {
            px.servers
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.check.slowstart().is_zero())
                .map(move |(si, _)| ServerId {
                    proxy: pi,
                    server: si,
                })
        })
        .collect();
    if ids.is_empty() {
        return;
    }
    let mut last = vec![0u32; ids.len()];
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stop.wait_for(|&v| v) => return,
        }
        let now = std::time::Instant::now();
        for (i, id) in ids.iter().enumerate() {
            let px = &rt.proxies[id.proxy];
            let s = &px.servers[id.server];
            match warmup_steps(s, now) {
                Some(step) => {
                    if step != last[i] {
                        last[i] = step;
                        px.lb.set_slowstart_step(id.server, Some(step));
                        px.server_state_changed(id.server);
                    }
                }
                None => {
                    if s.check.finish_warmup(now) {
                        px.lb.set_slowstart_step(id.server, None);
                        px.server_state_changed(id.server);
                    }
                    last[i] = 0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::test_support::*;
    use crate::log::CheckStatus;
    use tokio::net::TcpListener;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn start_up_spread_as_1_4() {
        // Four servers at 2 s: starts at 0, 500, 1000, 1500 ms.
        assert_eq!(
            initial_delays(&[ms(2000); 4]),
            vec![ms(0), ms(500), ms(1000), ms(1500)]
        );
        // The smallest interval of at least 1 s (1500) sets the pace for servers with a
        // shorter or equal one (even sub-second); longer ones keep their own.
        assert_eq!(
            initial_delays(&[ms(3000), ms(1500), ms(400), ms(6000)]),
            vec![ms(0), ms(375), ms(750), ms(4500)]
        );
        // Only sub-second intervals: each uses its own.
        assert_eq!(initial_delays(&[ms(100), ms(400)]), vec![ms(0), ms(200)]);
        assert!(initial_delays(&[]).is_empty());
    }

    #[test]
    fn jitter_stays_within_spread() {
        let mut rng = XorShift::new(42);
        assert_eq!(spread(ms(2000), 0, &mut rng), ms(2000));
        let (mut lo, mut hi, mut sum) = (u128::MAX, 0u128, 0u128);
        for _ in 0..10_000 {
            let d = spread(ms(2000), 10, &mut rng).as_millis();
            lo = lo.min(d);
            hi = hi.max(d);
            sum += d;
        }
        assert!(lo >= 1800 && hi <= 2200, "{lo}..{hi}");
        assert!(
            lo < 1820 && hi > 2180,
            "jitter should cover the range: {lo}..{hi}"
        );
        let mean = sum / 10_000;
        assert!((1980..=2020).contains(&mean), "{mean}");
    }

    /// Polls `f` every 5 ms until it holds or `limit` passes; returns the time it took.
    async fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
        let t = Instant::now();
        while t.elapsed() < limit {
            if f() {
                return Some(t.elapsed());
            }
            tokio::time::sleep(ms(5)).await;
        }
        None
    }

    #[tokio::test]
    async fn down_after_fall_then_up_after_rise() {
        let (rx, target) = udp_log_target();
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let mut b = backend("bk", vec![server_at("s1", addr, 100, 2, 3)]);
        b.logs.push(sp(target));
        let rt = Arc::new(runtime(vec![b]));
        install(&rt);
        let h = start_with(rt.clone(), WARMUP_TICK);
        assert_eq!(h.checked_servers(), 1);
        let s = || srv(&rt, sid(0, 0));
        // First check at once, then full health.
        wait_for(ms(2000), || s().check.health() == 4)
            .await
            .expect("reaches full health");
        assert_eq!(check_status_of(&rt), "L4OK");

        drop(l);
        let took = wait_for(ms(3000), || !s().up.load(Relaxed))
            .await
            .expect("goes DOWN");
        // fall = 3 failures, 100 ms apart: between ~200 and ~600 ms (generous bounds).
        assert!(took >= ms(150) && took <= ms(1500), "{took:?}");
        let (lvl, m) = recv_line(&rx);
        assert_eq!(lvl, 1);
        assert!(
            m.starts_with("Server bk/s1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: "),
            "{m}"
        );
        assert_eq!(recv_line(&rx).1, "backend bk has no server available!");
        assert_eq!(s().counters.chkfail.load(Relaxed), 2);

        let l = TcpListener::bind(addr).await.unwrap();
        let took = wait_for(ms(3000), || s().up.load(Relaxed))
            .await
            .expect("comes back UP");
        assert!(took <= ms(1500), "{took:?}");
        let (lvl, m) = recv_line(&rx);
        assert_eq!(lvl, 5);
        assert!(
            m.starts_with("Server bk/s1 is UP, reason: Layer4 check passed, check duration: "),
            "{m}"
        );
        assert!(
            m.ends_with(
                "1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."
            ),
            "{m}"
        );
        h.shutdown().await;
        drop(l);
    }

    fn check_status_of(rt: &Runtime) -> &'static str {
        state::check_status_name(srv(rt, sid(0, 0))).unwrap()
    }

    #[tokio::test]
    async fn stops_promptly_and_skips_maintenance() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let mut s1 = server_at("s1", addr, 50, 2, 3);
        s1.disabled = true;
        let rt = Arc::new(runtime(vec![backend(
            "bk",
            vec![s1, server_at("s2", addr, 50, 2, 3)],
        )]));
        let h = start_with(rt.clone(), WARMUP_TICK);
        wait_for(ms(2000), || srv(&rt, sid(0, 1)).check.health() == 4)
            .await
            .expect("s2 checked");
        // s1 is in maintenance: never checked.
        assert_eq!(
            srv(&rt, sid(0, 0)).check.snapshot().unwrap().status,
            CheckStatus::Ini
        );
        // Leaving maintenance: checked again soon.
        assert!(state::enable_server(&rt, sid(0, 0)));
        wait_for(ms(2000), || {
            srv(&rt, sid(0, 0)).check.snapshot().unwrap().status == CheckStatus::L4Ok
        })
        .await
        .expect("s1 checked after enable");
        let t = Instant::now();
        h.shutdown().await;
        assert!(t.elapsed() < ms(500));
    }

    #[tokio::test]
    async fn many_servers_all_checked() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        // Accept and drop, so the backlog never fills.
        let acceptor = tokio::spawn(async move {
            while let Ok((c, _)) = l.accept().await {
                drop(c);
            }
        });
        let servers = (0..300)
            .map(|i| server_at(&format!("s{i}"), addr, 200, 2, 3))
            .collect();
        let rt = Arc::new(runtime(vec![backend("bk", servers)]));
        let h = start_with(rt.clone(), WARMUP_TICK);
        assert_eq!(h.checked_servers(), 300);
        let all_full = || rt.proxies[0].servers.iter().all(|s| s.check.health() == 4);
        wait_for(ms(5000), all_full)
            .await
            .expect("every server checked within a few intervals");
        h.shutdown().await;
        acceptor.abort();
    }

    /// CPU cost of checking 1,000 servers every 2 s (httpchk against a loopback server that
    /// answers `200 OK`; the answering side runs in this process too, so this is an upper
    /// bound for the checks alone).
    #[tokio::test]
    #[ignore = "benchmark (~8 s); run with `cargo test --release -- --ignored --nocapture bench_`"]
    async fn bench_thousand_servers_every_two_seconds() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let acceptor = tokio::spawn(async move {
            while let Ok((mut c, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut b = [0u8; 256];
                    let _ = c.read(&mut b).await;
                    let _ = c.write_all(b"HTTP/1.0 200 OK\r\n\r\n").await;
                });
            }
        });
        let servers = (0..1000)
            .map(|i| server_at(&format!("s{i}"), addr, 2000, 2, 3))
            .collect();
        let mut b = backend("bk", servers);
        b.check = sp(parser::ir::CheckKind::Http {
            method: "OPTIONS".into(),
            uri: "/".into(),
            version: "HTTP/1.0".into(),
        });
        let rt = Arc::new(runtime(vec![b]));
        let cpu = || {
            let u =
                nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF).unwrap();
            let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
            t(u.user_time()) + t(u.system_time())
        };
        let h = start_with(rt.clone(), WARMUP_TICK);
        // Let the start-up spread settle, then measure three full rounds.
        tokio::time::sleep(ms(2000)).await;
        let (c0, t0) = (cpu(), Instant::now());
        tokio::time::sleep(ms(6000)).await;
        let (c1, wall) = (cpu(), t0.elapsed());
        let up = rt.proxies[0]
            .servers
            .iter()
            .filter(|s| s.check.health() == 4)
            .count();
        println!(
            "1000 servers / 2 s httpchk: {:.1}% of one core ({:.3} s CPU over {:.1} s), {up} at full health",
            100.0 * (c1 - c0) / wall.as_secs_f64(),
            c1 - c0,
            wall.as_secs_f64()
        );
        assert_eq!(up, 1000);
        h.shutdown().await;
        acceptor.abort();
    }

    #[tokio::test]
    async fn warmup_ticks_end_the_ramp() {
        let mut cfg = server("s1", 1, 1);
        cfg.check = false;
        cfg.slowstart = 100;
        cfg.disabled = true;
        cfg.weight = 16;
        let rt = Arc::new(runtime(vec![backend("bk", vec![cfg])]));
        let h = start_with(rt.clone(), ms(20));
        assert!(state::enable_server(&rt, sid(0, 0)));
        let s = srv(&rt, sid(0, 0));
        assert!(s.check.warmup_flag());
        // The balancer starts it at one sixteenth of its weight.
        assert_eq!(rt.proxies[0].lb.stats_weight(0), Some(1));
        wait_for(ms(2000), || !s.check.warmup_flag())
            .await
            .expect("ramp flag cleared after slowstart");
        assert_eq!(rt.proxies[0].lb.stats_weight(0), Some(16));
        assert_eq!(
            state::effective_weight_permille(s, std::time::Instant::now()),
            1000
        );
        h.shutdown().await;
    }
}
