//! Going to the background (`daemon` in `global`, `-D`): fork once, the child starts a new
//! session and serves, the parent writes the pidfile and returns to the shell. Compare with
//! the end of 1.4 `main` (`src/haproxy.c`), which forks `nbproc` children the same way.
//!
//! Difference with 1.4, on purpose: the parent does not exit right after fork() but waits
//! until the child reports it is serving (worker threads up, signal handlers in place,
//! listener handover socket open). So when `haproxide -D` returns 0, the service is really
//! up, and a reload started right after cannot miss the child's listeners; if the child
//! fails (privileges, threads), the parent exits 1 and the old process keeps serving.
//!
//! fork() is only sound while the process has one thread: tokio and every helper thread
//! start after it. [`fork`] checks this before forking.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

/// Which side of the fork we are on.
pub enum Forked {
    /// The original process: `child` is the daemon's pid; wait on `ready`.
    Parent { child: u32, ready: ReadyWait },
    /// The daemon: report success through `ready` once serving.
    Child { ready: ReadyNotify },
}

/// The parent's end of the readiness pipe.
pub struct ReadyWait(File);

/// The child's end of the readiness pipe.
pub struct ReadyNotify(File);

/// The byte the child sends when it serves.
const READY: u8 = b'R';

impl ReadyWait {
    /// Blocks until the child reports it serves (true) or exits/closes the pipe (false).
    pub fn wait(mut self) -> bool {
        let mut b = [0u8; 1];
        loop {
            match self.0.read(&mut b) {
                Ok(1) => return b[0] == READY,
                Ok(_) => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
    }
}

impl ReadyNotify {
    /// Tells the parent we serve, and closes our end.
    pub fn notify(mut self) {
        let _ = self.0.write_all(&[READY]);
    }
}

/// Why the process could not go to the background.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("Cannot fork: {0} threads are already running.")]
    Threaded(usize),
    #[error("Cannot fork.")]
    Fork(#[source] nix::Error),
    #[error("Cannot create the startup pipe: {0}")]
    Pipe(#[source] nix::Error),
}

/// Number of threads of this process, when /proc tells.
pub fn thread_count() -> Option<usize> {
    std::fs::read_dir("/proc/self/task")
        .ok()
        .map(|d| d.filter(|e| e.is_ok()).count())
}

/// Forks; the child leaves the terminal's session (setsid). Refuses if other threads exist.
pub fn fork() -> Result<Forked, DaemonError> {
    if let Some(n) = thread_count() {
        if n > 1 {
            return Err(DaemonError::Threaded(n));
        }
    }
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(DaemonError::Pipe)?;
    // SAFETY: the process has a single thread (checked just above, and by construction: the
    // startup sequence spawns no thread before this point), so the child gets a consistent
    // copy of every lock and allocator state and may run arbitrary code.
    match unsafe { nix::unistd::fork() }.map_err(DaemonError::Fork)? {
        nix::unistd::ForkResult::Parent { child } => {
            drop(w);
            Ok(Forked::Parent {
                child: child.as_raw().unsigned_abs(),
                ready: ReadyWait(File::from(r)),
            })
        }
        nix::unistd::ForkResult::Child => {
            drop(r);
            // Cannot fail: a fresh child is never a process group leader.
            let _ = nix::unistd::setsid();
            Ok(Forked::Child {
                ready: ReadyNotify(File::from(w)),
            })
        }
    }
}

/// `/dev/null`, opened before any chroot so stdio can be detached later.
pub struct DevNull(OwnedFd);

impl DevNull {
    pub fn open() -> io::Result<DevNull> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")?;
        Ok(DevNull(OwnedFd::from(f)))
    }

    /// Points stdin, stdout and stderr at /dev/null (1.4 closes them; pointing them at
    /// /dev/null keeps fds 0-2 from being reused by sockets).
    pub fn detach_stdio(&self) {
        for fd in 0..3 {
            let _ = nix::unistd::dup2(self.0.as_raw_fd(), fd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_pipe_reports_success_or_failure() {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        ReadyNotify(File::from(w)).notify();
        assert!(ReadyWait(File::from(r)).wait());
        // The writer went away without a word: failure.
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        drop(w);
        assert!(!ReadyWait(File::from(r)).wait());
    }

    #[test]
    fn refuses_to_fork_with_threads() {
        // The test harness runs tests on threads, so fork() must refuse here.
        let t = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(200)));
        assert!(matches!(fork(), Err(DaemonError::Threaded(n)) if n > 1));
        t.join().unwrap();
    }

    #[test]
    fn dev_null_opens() {
        assert!(DevNull::open().is_ok());
    }
}
