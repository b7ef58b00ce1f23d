//! Helpers for the process-management tests (`tests/process.rs`): a loopback line-protocol
//! backend, daemon pid tracking, and guards that kill only the processes a test started.
#![allow(dead_code)]

use super::{haproxide_bin as bin, wait_until};

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A pid runs (exists and is not a zombie).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses.
        Ok(s) => s
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|st| st != 'Z' && st != 'X'),
        Err(_) => false,
    }
}

/// Sends a signal to a pid.
pub fn signal(pid: i32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
}

/// The pids in a pidfile (empty if missing).
pub fn read_pids(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Kills (SIGKILL) the registered pids that still run when dropped: a failing test must not
/// leave daemons behind. Only pids this test started are ever registered.
#[derive(Default)]
pub struct Reaper(Mutex<Vec<i32>>);

impl Reaper {
    pub fn add(&self, pid: i32) {
        if let Ok(mut v) = self.0.lock() {
            if !v.contains(&pid) {
                v.push(pid);
            }
        }
    }
    pub fn add_pidfile(&self, path: &Path) {
        for p in read_pids(path) {
            self.add(p);
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Ok(v) = self.0.lock() {
            for &p in v.iter() {
                if alive(p) {
                    signal(p, nix::sys::signal::Signal::SIGKILL);
                }
            }
        }
    }
}

/// A loopback backend speaking a tiny protocol: the client sends `<delay_ms> <token>\n`, the
/// backend waits `delay_ms`, answers `<token>\n` and closes. Stops when dropped.
pub struct Backend {
    pub addr: SocketAddr,
    /// Requests read so far (counted before the delay).
    pub received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Backend {
    pub fn start() -> Backend {
        let l = TcpListener::bind("127.0.0.1:0").expect("backend bind");
        let addr = l.local_addr().expect("backend addr");
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (received.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for c in l.incoming() {
                if s.load(SeqCst) {
                    return;
                }
                let Ok(mut c) = c else { continue };
                let r = r.clone();
                std::thread::spawn(move || {
                    let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut line = Vec::new();
                    let mut b = [0u8; 1];
                    while line.len() < 200 {
                        match c.read(&mut b) {
                            Ok(1) if b[0] == b'\n' => break,
                            Ok(1) => line.push(b[0]),
                            _ => return,
                        }
                    }
                    r.fetch_add(1, SeqCst);
                    let text = String::from_utf8_lossy(&line).into_owned();
                    let (delay, token) = text.split_once(' ').unwrap_or(("0", &text));
                    let delay: u64 = delay.parse().unwrap_or(0);
                    std::thread::sleep(Duration::from_millis(delay.min(10_000)));
                    let _ = c.write_all(format!("{token}\n").as_bytes());
                });
            }
        });
        Backend {
            addr,
            received,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One request through the proxy at `addr`; Ok when the backend's answer came back whole.
pub fn request(addr: SocketAddr, delay_ms: u64, token: &str) -> Result<(), String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_millis(5000 + delay_ms)))
        .map_err(|e| e.to_string())?;
    s.write_all(format!("{delay_ms} {token}\n").as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut out = String::new();
    s.read_to_string(&mut out)
        .map_err(|e| format!("read: {e}"))?;
    if out == format!("{token}\n") {
        Ok(())
    } else {
        Err(format!("bad answer {out:?}"))
    }
}

/// True when a connection to `addr` is refused right now.
pub fn refused(addr: SocketAddr) -> bool {
    matches!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

/// A minimal TCP-mode configuration: `listen x` on `port` forwarding to `backend`, with
/// `global_extra` and `listen_extra` lines added to those sections.
pub fn tcp_config(
    port: u16,
    backend: SocketAddr,
    global_extra: &str,
    listen_extra: &str,
) -> String {
    format!(
        "global\n    maxconn 200\n{global_extra}\nlisten x\n    bind 127.0.0.1:{port}\n    mode tcp\n    timeout connect 2s\n    timeout client 20s\n    timeout server 20s\n{listen_extra}\n    server s1 {backend}\n"
    )
}

/// Runs the binary to completion with `args`; returns (status, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    run_bin(&bin(), args)
}

pub fn run_bin(bin: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A foreground process (`-db`) whose stderr is collected as it comes.
pub struct Foreground {
    pub child: Child,
    pub stderr: Arc<Mutex<String>>,
}

impl Foreground {
    pub fn start(args: &[&str]) -> Foreground {
        let mut child = Command::new(bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn foreground process");
        let stderr = super::collect_pipe(child.stderr.take().expect("stderr pipe"));
        Foreground { child, stderr }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits until stderr contains `text`.
    pub fn wait_stderr(&self, text: &str, limit: Duration) -> bool {
        wait_until(limit, || self.stderr().contains(text))
    }

    /// Waits for the exit; returns the status code (None on timeout).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let mut code = None;
        wait_until(limit, || match self.child.try_wait() {
            Ok(Some(s)) => {
                code = Some(s.code().unwrap_or(-1));
                true
            }
            _ => false,
        });
        code
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
