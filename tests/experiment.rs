//! The reference experiment of issue #4, automated (see conformance/experiment/README.md):
//! two PHP servers running the reference application (`examples/index.php`, session cookie
//! `9ai9`) on 127.0.0.1 and 127.0.0.2, haproxide on the seed configuration moved to loopback
//! (`conformance/experiment/haproxy.cfg`), and a client that sends 10 requests to each
//! virtual host keeping cookies like a browser.
//!
//! Expected, as with HAProxy 1.4: `cookie.`, `sourceip.` and `appsession.9ai9.net` keep the
//! same PHP session on the same server for every request; `nosession.9ai9.net` alternates
//! servers and the session id changes every time.

mod common;

use common::*;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const HOSTS: [(&str, &str); 4] = [
    ("cookie.9ai9.net", "COOKIE_srv"),
    ("sourceip.9ai9.net", "SOURCE_srv"),
    ("appsession.9ai9.net", "APPSESSION_srv"),
    ("nosession.9ai9.net", "NOSESSION_srv"),
];
const REQUESTS: usize = 10;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A free port on `ip` (127.0.0.2 included).
fn port_on(ip: &str) -> u16 {
    TcpListener::bind((ip, 0))
        .expect("bind loopback")
        .local_addr()
        .expect("addr")
        .port()
}

/// Starts `php -S addr` on the reference application with its own session directory.
///
/// `session.use_strict_mode=1`: the two reference servers did not share session storage,
/// so a session id issued by one is unknown to the other. PHP 8 by default adopts an
/// unknown id offered by the client (the session data is lost but the id stays); strict
/// mode makes it issue a new id instead, so losing the session shows as a changed id.
fn start_php(scratch: &Scratch, addr: SocketAddr, tag: &str) -> Proc {
    let php = which("php")
        .unwrap_or_else(|| panic!("php (Debian php-cli) is missing: run scripts/install-deps.sh"));
    let sessions = scratch.path(&format!("sessions-{tag}"));
    std::fs::create_dir_all(&sessions).expect("session dir");
    let err = std::fs::File::create(scratch.path(&format!("php-{tag}.log"))).expect("php log");
    let child = Command::new(php)
        .arg("-d")
        .arg("session.name=9ai9")
        .arg("-d")
        .arg(format!("session.save_path={}", sessions.display()))
        .arg("-d")
        .arg("session.use_strict_mode=1")
        .arg("-S")
        .arg(addr.to_string())
        .arg("-t")
        .arg(repo().join("examples"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .expect("spawn php");
    let p = Proc {
        child,
        name: format!("php-{tag}"),
    };
    assert!(
        wait_until(Duration::from_secs(10), || port_open(addr)),
        "php on {addr} did not start"
    );
    p
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file())
}

/// The text between `marker` and the next `</font>` in the PHP page.
fn field(body: &str, marker: &str) -> Option<String> {
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find("</font>")? + start;
    Some(body[start..end].to_string())
}

/// The httplog termination/cookie flags (`--NI`...) of every request line for `backend`.
fn log_flags(lines: &[String], backend: &str) -> Vec<String> {
    let prefix = format!("{backend}/");
    lines
        .iter()
        .filter_map(|l| {
            let toks: Vec<&str> = l.split_whitespace().collect();
            let i = toks.iter().position(|t| t.starts_with(&prefix))?;
            toks.get(i + 6).map(|s| s.to_string())
        })
        .collect()
}

/// `--NI x1, --VN x9`: distinct values in order of first appearance with their counts.
fn summary(v: &[String]) -> String {
    let mut out: Vec<(String, usize)> = Vec::new();
    for s in v {
        match out.iter_mut().find(|(k, _)| k == s) {
            Some((_, n)) => *n += 1,
            None => out.push((s.clone(), 1)),
        }
    }
    out.iter()
        .map(|(k, n)| format!("{k} x{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn reference_experiment_with_php() {
    let scratch = Scratch::new();
    let php1: SocketAddr = format!("127.0.0.1:{}", port_on("127.0.0.1"))
        .parse()
        .expect("addr");
    let php2: SocketAddr = format!("127.0.0.2:{}", port_on("127.0.0.2"))
        .parse()
        .expect("addr");
    let _p1 = start_php(&scratch, php1, "1");
    let _p2 = start_php(&scratch, php2, "2");

    let syslog = UdpSocket::bind("127.0.0.1:0").expect("syslog");
    syslog
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let fe = free_port();
    let template = std::fs::read_to_string(repo().join("conformance/experiment/haproxy.cfg"))
        .expect("experiment config");
    let mut cfg = template
        .replace(
            "${log}",
            &syslog.local_addr().expect("addr").port().to_string(),
        )
        .replace(
            "${pidfile}",
            &scratch.path("haproxy.pid").display().to_string(),
        )
        .replace("${stats}", &free_port().to_string())
        .replace("${status}", &free_port().to_string())
        .replace("${fe}", &fe.to_string())
        .replace("${php1}", &php1.to_string())
        .replace("${php2}", &php2.to_string());
    // `user haproxy`/`group haproxy` need root and that account (Debian's haproxy package
    // creates it); without them the rest of the configuration is unchanged.
    let can_switch = nix::unistd::geteuid().is_root()
        && matches!(nix::unistd::User::from_name("haproxy"), Ok(Some(_)))
        && matches!(nix::unistd::Group::from_name("haproxy"), Ok(Some(_)));
    if !can_switch {
        cfg = cfg
            .lines()
            .filter(|l| {
                let w = l.trim_matches(|c: char| c.is_whitespace() || c == '\u{a0}');
                !(w.starts_with("user") || w.starts_with("group"))
            })
            .map(|l| format!("{l}\n"))
            .collect();
    }
    let fe_addr: SocketAddr = format!("127.0.0.1:{fe}").parse().expect("addr");
    let _hx = start_haproxide(&scratch, &cfg, &[fe_addr]);

    struct Row {
        host: &'static str,
        servers: Vec<String>,
        sessions: Vec<String>,
        flags: String,
    }
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    for (host, backend) in HOSTS {
        let mut jar = Jar::default();
        let mut servers = Vec::new();
        let mut sessions = Vec::new();
        for i in 0..REQUESTS {
            let cookie = jar.header();
            let r = get(fe_addr, host, "/", cookie.as_deref())
                .unwrap_or_else(|e| panic!("{host} request {i}: {e}"));
            assert_eq!(r.status, 200, "{host} request {i}: {}", r.body_text());
            let body = r.body_text();
            // SERVER_ADDR; PHP's built-in server leaves it empty, its SERVER_NAME (the
            // next line of the page) is then the address it listens on.
            let addr = field(&body, "访问的服务器地址是<font color=red>")
                .filter(|a| !a.is_empty())
                .or_else(|| field(&body, "访问的服务器域名是<font color=red>"))
                .expect("server address");
            servers.push(addr);
            sessions.push(field(&body, "SESSIONID是<font color=red>").expect("session id"));
            jar.absorb(&r);
        }
        // Collect this host's log lines (they arrive right after each response).
        let mut buf = [0u8; 4096];
        while lines.len() < REQUESTS * (rows.len() + 1) {
            match syslog.recv(&mut buf) {
                Ok(n) => {
                    let l = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if l.contains("\"GET ") {
                        lines.push(l);
                    }
                }
                Err(_) => break,
            }
        }
        rows.push(Row {
            host,
            servers,
            sessions,
            flags: summary(&log_flags(&lines, backend)),
        });
    }

    let short = |s: &str| s.rsplit('.').next().unwrap_or(s).to_string();
    let mut table = format!(
        "\n{:<22} {:<32} {:<18} {}\n",
        "host", "server (.N of 127.0.0.N) per request", "session id stable", "log cookie flags"
    );
    for r in &rows {
        let stable = r.sessions.iter().all(|s| *s == r.sessions[0]);
        table.push_str(&format!(
            "{:<22} {:<32} {:<18} {}\n",
            r.host,
            r.servers
                .iter()
                .map(|s| short(s))
                .collect::<Vec<_>>()
                .join(" "),
            if stable { "yes" } else { "no" },
            r.flags
        ));
    }
    eprintln!("{table}");

    for r in &rows {
        let same_server = r.servers.iter().all(|s| *s == r.servers[0]);
        let same_session = r.sessions.iter().all(|s| *s == r.sessions[0]);
        if r.host.starts_with("nosession") {
            assert!(
                r.servers.windows(2).all(|w| w[0] != w[1]),
                "nosession must alternate servers:{table}"
            );
            assert!(
                r.sessions.windows(2).all(|w| w[0] != w[1]),
                "nosession must lose the session every time:{table}"
            );
        } else {
            assert!(same_server, "{} must stay on one server:{table}", r.host);
            assert!(same_session, "{} must keep its session:{table}", r.host);
        }
    }
    // Both servers took part.
    let all: std::collections::BTreeSet<&String> = rows.iter().flat_map(|r| &r.servers).collect();
    assert_eq!(all.len(), 2, "{table}");
    // The cookie backend logs a first insertion then valid cookies.
    assert_eq!(
        rows[0].flags,
        format!("--NI x1, --VN x{}", REQUESTS - 1),
        "{table}"
    );
}
