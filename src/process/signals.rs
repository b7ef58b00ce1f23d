//! Signals, as HAProxy 1.4 handles them (`src/haproxy.c` `main`, `src/signal.c`): USR1 soft
//! stop, TTOU pause, TTIN resume, HUP server state dump, QUIT memory summary, TERM/INT
//! immediate stop, PIPE ignored. What each one does lives in `control.rs`.
//!
//! The handled signals are blocked from early startup on, before binding: a SIGUSR1 from a
//! reloading process or an administrator's SIGTTOU cannot kill or suspend a process that is
//! still starting; it stays pending. Every thread inherits the mask, and only the signal
//! thread unblocks them, so signal-hook's handler always runs there and the workers never
//! see a signal.

use crate::runtime::Runtime;
use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
use std::sync::Arc;

/// The signals we act on.
pub const HANDLED: [Signal; 7] = [
    Signal::SIGUSR1,
    Signal::SIGTTOU,
    Signal::SIGTTIN,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGINT,
];

fn handled_set() -> SigSet {
    let mut set = SigSet::empty();
    for s in HANDLED {
        set.add(s);
    }
    set
}

/// Blocks the handled signals in the calling thread (and so in every thread it starts later)
/// and ignores SIGPIPE (a write to a closed socket must return EPIPE, not kill us).
pub fn block() -> nix::Result<()> {
    // SAFETY: installing SIG_IGN runs no code of ours in signal context; it only changes the
    // disposition of SIGPIPE.
    unsafe { nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigIgn) }?;
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&handled_set()), None)
}

/// Starts the signal thread: installs the handlers, unblocks the signals in that thread only,
/// and dispatches each one to `control::on_signal`. Signals that arrived during startup are
/// delivered now.
pub fn spawn(rt: Arc<Runtime>) -> std::io::Result<std::thread::JoinHandle<()>> {
    let mut signals = signal_hook::iterator::Signals::new(HANDLED.map(|s| s as i32))?;
    std::thread::Builder::new()
        .name("haproxide-sig".into())
        .spawn(move || {
            let _ = pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&handled_set()), None);
            for sig in signals.forever() {
                super::control::on_signal(&rt, sig);
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handled_set_is_complete() {
        let set = handled_set();
        for s in HANDLED {
            assert!(set.contains(s));
        }
        assert!(!set.contains(Signal::SIGPIPE));
        assert!(!set.contains(Signal::SIGKILL));
    }

    #[test]
    fn block_is_per_thread() {
        // In a fresh thread so the test harness's own threads keep their mask.
        std::thread::spawn(|| {
            block().unwrap();
            let mut cur = SigSet::empty();
            pthread_sigmask(SigmaskHow::SIG_BLOCK, None, Some(&mut cur)).unwrap();
            assert!(cur.contains(Signal::SIGUSR1) && cur.contains(Signal::SIGTERM));
        })
        .join()
        .unwrap();
    }
}
