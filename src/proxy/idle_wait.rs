//! Waiting for a client's next request with a deadline, without a tokio timer in the task.
//!
//! Every idle connection waits here (`timeout http-request`, `http-keep-alive`, `client`).
//! With `tokio::time::timeout` each waiting task would carry a 136-byte timer entry; the
//! entry is the largest thing an idle connection's task holds, and the task's size decides
//! its allocation (a multiple of 128 bytes). Here the deadline lives in one ordered set per
//! worker thread instead (a `BTreeMap` keyed by deadline, about 48 bytes per waiting
//! connection, only while it waits), and a single driver task per worker sleeps until the
//! earliest deadline and wakes the tasks whose time is up. HAProxy likewise keeps every
//! task's expiry in one timer tree rather than one timer object per task.
//!
//! Written by hand because the pieces that exist do not fit: `tokio-util`'s `DelayQueue`
//! must be polled by its owner (here the owners are many tasks), and reuses keys after
//! expiry, which would let a woken task mistake another connection's timer for its own.
//!
//! The driver also keeps the worker's tokio timer waking at least once per [`FLOOR`]: tokio
//! wakes its driver through an eventfd whenever a new timer is due before the driver's next
//! planned wake-up, even when the timer is armed on the driver's own thread. Without a
//! floor, every `timeout connect` armed while only longer timeouts are pending cost a
//! `write` and an extra `epoll_wait` (one per request with `http-server-close` or
//! `Connection: close`). With a timer always due within a second, only shorter timeouts
//! pay it; the cost is one wake-up per second per worker.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Longest sleep of a worker's driver (see the module doc).
pub const FLOOR: Duration = Duration::from_secs(1);

/// A waiting connection: its deadline (ms since the worker's epoch) and a number unique in
/// the worker, so two connections with the same deadline have distinct keys.
type Key = (u64, u64);

/// One worker's deadlines.
struct Timers {
    epoch: Instant,
    waiting: BTreeMap<Key, Waker>,
    next_id: u64,
    /// The driver's wake-up while it sleeps, and the deadline it sleeps until (ms).
    driver: Option<Waker>,
    driver_until: u64,
}

thread_local! {
    static TIMERS: RefCell<Timers> = RefCell::new(Timers {
        epoch: Instant::now(),
        waiting: BTreeMap::new(),
        next_id: 1,
        driver: None,
        driver_until: 0,
    });
    /// Whether this thread runs a driver; without one, waits fall back to a tokio timer.
    static DRIVEN: Cell<bool> = const { Cell::new(false) };
}

impl Timers {
    /// `t` in ms since the epoch, rounded up so that a deadline never fires early.
    fn ms_ceil(&self, t: Instant) -> u64 {
        let d = t.saturating_duration_since(self.epoch);
        d.as_millis() as u64 + u64::from(d.subsec_nanos() % 1_000_000 != 0)
    }

    fn ms_floor(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// Adds a waiting connection; returns its id (the key's second half, never 0).
    fn arm(&mut self, deadline_ms: u64, waker: &Waker) -> u64 {
        let key = (deadline_ms, self.next_id);
        self.next_id += 1;
        self.waiting.insert(key, waker.clone());
        if key.0 < self.driver_until {
            // The driver sleeps past this deadline: have it look again.
            self.driver_until = key.0;
            if let Some(d) = &self.driver {
                d.wake_by_ref();
            }
        }
        key.1
    }

    /// Wakes every connection whose deadline is at or before `now_ms`; their keys are gone
    /// from the set when they look, which is how they learn their time is up.
    fn fire(&mut self, now_ms: u64) {
        while let Some(entry) = self.waiting.first_entry() {
            if entry.key().0 > now_ms {
                break;
            }
            entry.remove().wake();
        }
    }
}

/// Starts this worker thread's driver on its `LocalSet`; it runs for the worker's life.
pub fn spawn_driver() {
    DRIVEN.with(|d| d.set(true));
    tokio::task::spawn_local(drive());
}

async fn drive() {
    let sleep = tokio::time::sleep(FLOOR);
    tokio::pin!(sleep);
    loop {
        let (until, until_ms) = TIMERS.with(|t| {
            let mut t = t.borrow_mut();
            let now = Instant::now();
            let now_ms = t.ms_floor(now);
            t.fire(now_ms);
            let floor = now + FLOOR;
            let until = match t.waiting.first_key_value() {
                Some((k, _)) => (t.epoch + Duration::from_millis(k.0)).min(floor),
                None => floor,
            };
            t.driver_until = t.ms_ceil(until);
            (until, t.driver_until)
        });
        sleep.as_mut().reset(until.into());
        std::future::poll_fn(|cx| {
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
            TIMERS.with(|t| {
                let mut t = t.borrow_mut();
                // `arm` lowered the mark: an earlier deadline came, go round again.
                if t.driver_until < until_ms {
                    return Poll::Ready(());
                }
                match &t.driver {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => t.driver = Some(cx.waker().clone()),
                }
                Poll::Pending
            })
        })
        .await;
    }
}

/// Waits until `sock` is readable or `deadline` passes. `Some(result)`: the socket's
/// readiness (as `poll_read_ready`); `None`: the deadline passed first. The wait may be
/// polled again after a readiness that brought no bytes; it keeps its deadline.
pub fn read_ready_until(sock: &TcpStream, deadline: Instant) -> ReadyUntil<'_> {
    ReadyUntil {
        sock,
        deadline_ms: TIMERS.with(|t| t.borrow().ms_ceil(deadline)),
        id: 0,
        fallback: None,
    }
}

/// The wait itself: a reference and three words, since every idle connection holds one.
/// It takes a place in the worker's set only once the socket has been found not readable,
/// and leaves it when dropped.
pub struct ReadyUntil<'a> {
    sock: &'a TcpStream,
    deadline_ms: u64,
    /// Second half of the key once armed; 0: not in the set.
    id: u64,
    /// Off a worker thread (no driver running): an ordinary tokio timer, on the heap so
    /// that the workers' waits do not carry its size.
    fallback: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Future for ReadyUntil<'_> {
    type Output = Option<io::Result<()>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(r) = self.sock.poll_read_ready(cx) {
            return Poll::Ready(Some(r));
        }
        let deadline_ms = self.deadline_ms;
        if !DRIVEN.with(Cell::get) {
            let at = TIMERS.with(|t| t.borrow().epoch) + Duration::from_millis(deadline_ms);
            let sleep = self
                .fallback
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at.into())));
            return match sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
        let id = self.id;
        let timed_out = TIMERS.with(|t| {
            let mut t = t.borrow_mut();
            if id == 0 {
                if t.ms_floor(Instant::now()) >= deadline_ms {
                    return true;
                }
                self.id = t.arm(deadline_ms, cx.waker());
                return false;
            }
            match t.waiting.get_mut(&(deadline_ms, id)) {
                // Fired: the driver took the key out.
                None => true,
                Some(w) => {
                    if !w.will_wake(cx.waker()) {
                        *w = cx.waker().clone();
                    }
                    false
                }
            }
        });
        if timed_out {
            self.id = 0;
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}

impl Drop for ReadyUntil<'_> {
    fn drop(&mut self) {
        if self.id != 0 {
            let k = (self.deadline_ms, self.id);
            // `try_with`: a task dropped while the thread's locals are torn down.
            let _ = TIMERS.try_with(|t| {
                if let Ok(mut t) = t.try_borrow_mut() {
                    t.waiting.remove(&k);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::sockio::loopback_pair as pair;
    use tokio::io::AsyncWriteExt;

    fn run_local<F: Future>(f: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            spawn_driver();
            f.await
        })
    }

    /// What `wait_request` does: a readiness without bytes (tokio may report a fresh
    /// socket readable) means wait again. `None`: timed out; `Some(n)`: bytes read.
    async fn wait_bytes(s: &TcpStream, deadline: Instant) -> Option<usize> {
        let mut buf = [0u8; 64];
        loop {
            read_ready_until(s, deadline).await?.expect("readiness");
            match crate::proxy::sockio::try_read(s, &mut buf) {
                Ok(n) => return Some(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    fn waiting() -> usize {
        TIMERS.with(|t| t.borrow().waiting.len())
    }

    #[test]
    fn off_a_worker_thread_a_tokio_timer_stands_in() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let (_c, s) = pair().await;
            let t0 = Instant::now();
            assert_eq!(wait_bytes(&s, t0 + Duration::from_millis(60)).await, None);
            assert!(t0.elapsed() >= Duration::from_millis(60));
        });
    }

    #[test]
    fn times_out_at_the_deadline_not_before() {
        run_local(async {
            let (_c, s) = pair().await;
            let t0 = Instant::now();
            let r = wait_bytes(&s, t0 + Duration::from_millis(150)).await;
            let took = t0.elapsed();
            assert!(r.is_none(), "expected a timeout");
            assert!(took >= Duration::from_millis(150), "fired early: {took:?}");
            assert!(took < Duration::from_millis(900), "fired late: {took:?}");
            assert_eq!(waiting(), 0);
        });
    }

    #[test]
    fn readable_socket_wins_and_leaves_no_timer() {
        run_local(async {
            let (mut c, s) = pair().await;
            let writer = async {
                tokio::time::sleep(Duration::from_millis(30)).await;
                c.write_all(b"GET / HTTP/1.0\r\n\r\n").await.expect("write");
            };
            let (r, ()) = tokio::join!(
                wait_bytes(&s, Instant::now() + Duration::from_secs(5)),
                writer
            );
            assert_eq!(r, Some(18));
            assert_eq!(waiting(), 0, "the wait's timer must be gone");
        });
    }

    #[test]
    fn an_earlier_deadline_wakes_a_driver_sleeping_longer() {
        run_local(async {
            let (_c1, s1) = pair().await;
            let (_c2, s2) = pair().await;
            let t0 = Instant::now();
            // The long wait first, so the driver sleeps until its floor; the short one must
            // still fire on time.
            let long = wait_bytes(&s1, t0 + Duration::from_secs(30));
            let short = async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                wait_bytes(&s2, Instant::now() + Duration::from_millis(100)).await
            };
            tokio::select! {
                _ = long => panic!("the 30 s wait ended first"),
                r = short => assert!(r.is_none()),
            }
            let took = t0.elapsed();
            assert!(
                took < Duration::from_millis(700),
                "short wait fired late: {took:?}"
            );
            assert_eq!(waiting(), 0, "the dropped long wait must leave the set");
        });
    }

    #[test]
    fn many_waits_with_one_deadline_all_fire() {
        run_local(async {
            let mut socks = Vec::new();
            for _ in 0..20 {
                socks.push(pair().await);
            }
            let d = Instant::now() + Duration::from_millis(80);
            // All armed before any fires: each task waits on its own.
            let mut set = tokio::task::JoinSet::new();
            for (c, s) in socks {
                set.spawn_local(async move {
                    let _keep = c;
                    wait_bytes(&s, d).await
                });
            }
            let mut n = 0;
            while let Some(r) = set.join_next().await {
                assert_eq!(r.expect("join"), None);
                n += 1;
            }
            assert_eq!(n, 20);
            assert!(Instant::now() >= d);
            assert_eq!(waiting(), 0);
        });
    }
}
