//! Shared helpers for end-to-end tests: loopback ports, demo origin servers, spawning
//! haproxide (and Debian's HAProxy 2.6 for differential cases), and a raw HTTP/1 client that
//! returns exact bytes. Every wait polls against a deadline; every child is killed on drop.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A loopback port that was free a moment ago (bound to port 0, then released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Polls `f` until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// Everything the peer sends until it closes or `limit` passes (reset counts as close).
pub fn read_all(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + limit;
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (out, true),
        }
    }
    (out, false)
}

/// True when something accepts TCP connections on `addr`.
pub fn port_open(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// A child process killed (SIGKILL) and reaped on drop.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig);
    }
    /// Waits for exit up to `timeout`; returns the exit code if it exited.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
    /// Everything the process wrote to stderr so far (only when spawned with a stderr file).
    pub fn stderr_text(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The haproxide binary under test.
pub fn haproxide_bin() -> PathBuf {
    if let Ok(p) = std::env::var("HAPROXIDE_BIN") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_BIN_EXE_haproxide"))
}

/// Debian's HAProxy, if installed.
pub fn haproxy26_bin() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/sbin/haproxy");
    p.exists().then_some(p)
}

/// A scratch directory removed on drop.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write scratch file");
        p
    }
}

/// Starts a proxy binary in the foreground (`-db`) on `cfg` and waits until every address in
/// `wait_for` accepts connections. Stderr goes to `<scratch>/<name>.err`.
pub fn start_proxy(
    bin: &Path,
    scratch: &Scratch,
    name: &str,
    cfg: &str,
    wait_for: &[SocketAddr],
) -> Proc {
    start_proxy_env(bin, scratch, name, cfg, wait_for, &[])
}

/// As [`start_proxy`], with extra environment variables for the proxy.
pub fn start_proxy_env(
    bin: &Path,
    scratch: &Scratch,
    name: &str,
    cfg: &str,
    wait_for: &[SocketAddr],
    env: &[(&str, &str)],
) -> Proc {
    let cfg_path = scratch.write(&format!("{name}.cfg"), cfg);
    let err = std::fs::File::create(scratch.path(&format!("{name}.err"))).expect("stderr file");
    let child = Command::new(bin)
        .envs(env.iter().copied())
        .arg("-db")
        .arg("-f")
        .arg(&cfg_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .expect("spawn proxy");
    let mut p = Proc {
        child,
        name: name.to_string(),
    };
    let ok = wait_until(Duration::from_secs(10), || {
        if let Ok(Some(_)) = p.child.try_wait() {
            return true;
        }
        wait_for.iter().all(|a| port_open(*a))
    });
    if let Ok(Some(st)) = p.child.try_wait() {
        panic!(
            "{name} exited early ({st}); stderr:\n{}",
            Proc::stderr_text(&scratch.path(&format!("{name}.err")))
        );
    }
    assert!(ok, "{name} did not open {wait_for:?} in time");
    p
}

/// Starts haproxide on a config.
pub fn start_haproxide(scratch: &Scratch, cfg: &str, wait_for: &[SocketAddr]) -> Proc {
    start_proxy(&haproxide_bin(), scratch, "haproxide", cfg, wait_for)
}

/// Demo origin servers running in-process on a background tokio runtime.
pub struct Origins {
    pub addrs: Vec<SocketAddr>,
    pub stats: Vec<Arc<haproxide::demo::DemoStats>>,
    _rt: tokio::runtime::Runtime,
}

impl Origins {
    /// Wraps origins started by hand on their own runtime.
    pub fn from_parts(
        addrs: Vec<SocketAddr>,
        stats: Vec<Arc<haproxide::demo::DemoStats>>,
        rt: tokio::runtime::Runtime,
    ) -> Origins {
        Origins {
            addrs,
            stats,
            _rt: rt,
        }
    }
}

/// Starts one demo origin per name on 127.0.0.1:0.
pub fn start_origins(names: &[&str]) -> Origins {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let mut addrs = Vec::new();
    let mut stats = Vec::new();
    for name in names {
        let l = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind origin");
        addrs.push(l.local_addr().expect("addr"));
        let st = Arc::new(haproxide::demo::DemoStats::default());
        stats.push(st.clone());
        let cfg = haproxide::demo::DemoConfig {
            name: name.to_string(),
            session_cookie: "9ai9".into(),
        };
        rt.spawn(haproxide::demo::serve(l, cfg, st));
    }
    Origins {
        addrs,
        stats,
        _rt: rt,
    }
}

/// A syslog receiver on loopback UDP; returns the socket and its address.
pub fn syslog() -> (std::net::UdpSocket, SocketAddr) {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let a = s.local_addr().expect("addr");
    (s, a)
}

/// Collects syslog lines until `pred` matches one or `timeout` passes.
pub fn wait_line(
    s: &std::net::UdpSocket,
    lines: &mut Vec<String>,
    timeout: Duration,
    pred: impl Fn(&str) -> bool,
) -> Option<String> {
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        if let Some(l) = lines.iter().find(|l| pred(l)) {
            return Some(l.clone());
        }
        if let Ok(n) = s.recv(&mut buf) {
            lines.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    lines.iter().find(|l| pred(l)).cloned()
}

/// Resident set size of process `pid` in KiB (0 when it cannot be read).
pub fn rss_kb(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Open file descriptors of process `pid`.
pub fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// A connection to `addr` after one complete `GET /` exchange (status 200), left open.
pub fn kept_alive(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("write");
    let r = read_response(&mut s, false).expect("response");
    assert_eq!(r.status, 200);
    s
}

/// A parsed HTTP response with its exact bytes.
#[derive(Debug, Clone)]
pub struct Response {
    pub raw: Vec<u8>,
    pub status: u16,
    /// Header lines as received (name, value), in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// `key=value` line from the demo origin's echo page.
    pub fn echo(&self, key: &str) -> Option<String> {
        let prefix = format!("{key}=");
        self.body_text()
            .lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
    }
    /// Header lines the origin reported receiving (`> Name: value`).
    pub fn echoed_headers(&self) -> Vec<String> {
        self.body_text()
            .lines()
            .filter_map(|l| l.strip_prefix("> ").map(str::to_string))
            .collect()
    }
}

/// Sends raw request bytes on a new connection and reads one response (until the framing
/// says it is complete, or the connection closes).
pub fn raw_request(addr: SocketAddr, req: &[u8]) -> std::io::Result<Response> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(req)?;
    read_response(&mut s, req.starts_with(b"HEAD "))
}

/// Reads one response from a stream.
pub fn read_response(s: &mut TcpStream, head_only: bool) -> std::io::Result<Response> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        if let Some(r) = try_parse(&raw, head_only) {
            return Ok(r);
        }
        let n = match s.read(&mut buf) {
            Ok(n) => n,
            Err(e) if !raw.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => 0,
            Err(e) => return Err(e),
        };
        if n == 0 {
            // close-delimited
            return finish(raw, head_only, true)
                .ok_or_else(|| std::io::ErrorKind::UnexpectedEof.into());
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

fn try_parse(raw: &[u8], head_only: bool) -> Option<Response> {
    finish(raw.to_vec(), head_only, false)
}

fn finish(raw: Vec<u8>, head_only: bool, closed: bool) -> Option<Response> {
    let mut hdrs = [httparse::EMPTY_HEADER; 128];
    let mut r = httparse::Response::new(&mut hdrs);
    let head_len = match r.parse(&raw) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return None,
    };
    let status = r.code.unwrap_or(0);
    let headers: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let rest = &raw[head_len..];
    if (100..200).contains(&status) && status != 101 {
        // interim response: skip it and parse what follows
        let tail = rest.to_vec();
        return finish(tail, head_only, closed).map(|mut resp| {
            let mut all = raw[..head_len].to_vec();
            all.extend_from_slice(&resp.raw);
            resp.raw = all;
            resp
        });
    }
    let body: Vec<u8> = if head_only || status == 204 || status == 304 {
        Vec::new()
    } else if let Some(cl) = get("content-length").and_then(|v| v.trim().parse::<usize>().ok()) {
        if rest.len() < cl {
            return None;
        }
        rest[..cl].to_vec()
    } else if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        dechunk(rest)?
    } else if closed {
        rest.to_vec()
    } else {
        return None;
    };
    Some(Response {
        raw,
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_txt = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_txt.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return data.windows(2).position(|w| w == b"\r\n").map(|_| out);
        }
        if data.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// A simple GET with a Host header and optional Cookie header, `Connection: close`.
pub fn get(
    addr: SocketAddr,
    host: &str,
    path: &str,
    cookie: Option<&str>,
) -> std::io::Result<Response> {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: haproxide-test\r\n");
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: {c}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    raw_request(addr, req.as_bytes())
}

/// A minimal cookie jar, like a browser for one host: keeps `name=value` from Set-Cookie.
#[derive(Default, Debug, Clone)]
pub struct Jar {
    pub cookies: Vec<(String, String)>,
}

impl Jar {
    pub fn absorb(&mut self, r: &Response) {
        for sc in r.headers_named("set-cookie") {
            let first = sc.split(';').next().unwrap_or("");
            if let Some((n, v)) = first.split_once('=') {
                let (n, v) = (n.trim().to_string(), v.trim().to_string());
                let expired =
                    sc.to_ascii_lowercase().contains("max-age=0") || sc.contains("01-Jan-1970");
                self.cookies.retain(|(k, _)| *k != n);
                if !expired {
                    self.cookies.push((n, v));
                }
            }
        }
    }
    pub fn header(&self) -> Option<String> {
        if self.cookies.is_empty() {
            None
        } else {
            Some(
                self.cookies
                    .iter()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        }
    }
}

/// Runs `haproxy -c`-style check with a binary, returning (exit code, stderr+stdout).
pub fn check_config(bin: &Path, cfg: &Path, cwd: Option<&Path>) -> (i32, String) {
    let mut cmd = Command::new(bin);
    cmd.arg("-c").arg("-f").arg(cfg);
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let out = cmd.output().expect("run -c");
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    (out.status.code().unwrap_or(-1), text)
}

/// Process-management helpers (daemons, pidfiles, a line-protocol backend).
pub mod procs;

/// Sends `input` on a stats socket, half-closes, returns everything answered.
pub fn stats_cli(path: &Path, input: &str) -> String {
    let mut s = std::os::unix::net::UnixStream::connect(path).expect("connect stats socket");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(input.as_bytes()).expect("write");
    s.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read answer");
    out
}

/// Waits until the stats socket at `path` accepts connections.
pub fn wait_stats_socket(path: &Path) {
    assert!(
        wait_until(Duration::from_secs(10), || {
            std::os::unix::net::UnixStream::connect(path).is_ok()
        }),
        "stats socket {} never accepted",
        path.display()
    );
}

/// The value of an `Authorization: Basic` header for `user:pass` (RFC 4648 base64).
pub fn basic_auth(user: &str, pass: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let src = format!("{user}:{pass}").into_bytes();
    let mut out = String::new();
    for chunk in src.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Creates the unprivileged test user `haproxide-test` if needed: (uid, gid, group name);
/// `None` when it cannot be created.
pub fn test_user() -> Option<(u32, u32, String)> {
    const NAME: &str = "haproxide-test";
    let lookup = || nix::unistd::User::from_name(NAME).ok().flatten();
    if lookup().is_none() {
        let _ = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--user-group",
                "--shell",
                "/usr/sbin/nologin",
                NAME,
            ])
            .status();
    }
    let u = lookup()?;
    let g = nix::unistd::Group::from_gid(u.gid).ok().flatten()?;
    Some((u.uid.as_raw(), u.gid.as_raw(), g.name))
}

/// Collects everything `pipe` yields into a shared string, on a thread of its own, until
/// the pipe closes.
pub fn collect_pipe(mut pipe: impl Read + Send + 'static) -> Arc<std::sync::Mutex<String>> {
    let out = Arc::new(std::sync::Mutex::new(String::new()));
    let sink = out.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut s) = sink.lock() {
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    out
}

/// Files of one committed fuzz corpus directory (`fuzz/corpus/<target>`), sorted for a
/// stable order.
pub fn fuzz_corpus_files(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {} unreadable: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}
