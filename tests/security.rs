//! Privileges and access control (issue #11): after the drop to an unprivileged user and
//! group inside a chroot the process has no capabilities, no file outside the jail open and
//! its root in the jail; the stats socket gets the configured mode, owner, group and level;
//! `stats admin` gates the admin actions of the stats page; basic-auth passwords are
//! compared with the constant-time function on every code path.
//!
//! Run as root (as CI does): the user `haproxide-test` is created when absent. Without root
//! the privilege test fails with the reason, it does not pretend to pass.

mod common;

use common::procs::{alive, read_pids, run, signal, Reaper};
use common::*;
use nix::sys::signal::Signal;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn status_field(pid: i32, name: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn cli(path: &Path, input: &str) -> String {
    let mut s = UnixStream::connect(path).expect("connect stats socket");
    s.set_read_timeout(Some(5 * SEC)).expect("timeout");
    s.write_all(input.as_bytes()).expect("write");
    s.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read answer");
    out
}

#[test]
fn dropped_process_is_jailed_without_capabilities() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test switches users and chroots: run it as root (CI does)"
    );
    let (uid, gid, group) =
        test_user().unwrap_or_else(|| panic!("cannot create the user haproxide-test (useradd)"));
    let origins = start_origins(&["o1"]);
    let sc = Scratch::new();
    let jail = sc.path("jail");
    std::fs::create_dir(&jail).expect("jail");
    // Something outside the jail the process must not reach.
    let secret = sc.write("secret.txt", "outside the jail");
    let sock = sc.path("admin.sock");
    let port = free_port();
    let cfg = sc.write(
        "h.cfg",
        &format!(
            "global\n    user haproxide-test\n    group {group}\n    chroot {jail}\n\
             \x20   stats socket {sock} uid {uid} gid {gid} mode 640 level operator\n\
             defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             listen web\n    bind 127.0.0.1:{port}\n    server s1 {o}\n",
            jail = jail.display(),
            sock = sock.display(),
            o = origins.addrs[0]
        ),
    );
    let pidf = sc.path("h.pid");
    let reaper = Reaper::default();
    let (code, _, err) = run(&[
        "-D",
        "-f",
        &cfg.to_string_lossy(),
        "-p",
        &pidf.to_string_lossy(),
    ]);
    reaper.add_pidfile(&pidf);
    assert_eq!(code, 0, "{err}");
    let pid = read_pids(&pidf)[0];
    assert!(wait_until(5 * SEC, || port_open(local(port))));

    // Identity and capabilities.
    let ids = |f: &str| -> Vec<u32> {
        status_field(pid, f)
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect()
    };
    assert_eq!(ids("Uid:"), vec![uid; 4]);
    assert_eq!(ids("Gid:"), vec![gid; 4]);
    for cap in ["CapEff:", "CapPrm:", "CapAmb:"] {
        let v = status_field(pid, cap);
        assert_eq!(
            u64::from_str_radix(&v, 16).ok(),
            Some(0),
            "{cap} {v}: capabilities left after the drop"
        );
    }
    // Its root is the (empty) jail: every absolute path it opens resolves inside it, and
    // without CAP_SYS_CHROOT it cannot leave. The secret is not visible from there.
    let root = std::fs::read_link(format!("/proc/{pid}/root")).expect("root link");
    assert_eq!(root, jail.canonicalize().expect("jail path"));
    let seen_from_inside = PathBuf::from(format!("/proc/{pid}/root"))
        .join(secret.strip_prefix("/").expect("absolute scratch path"));
    assert!(
        !seen_from_inside.exists(),
        "{} reachable from the jail",
        secret.display()
    );
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).expect("cwd link");
    assert!(
        cwd.starts_with(&root),
        "working directory {} outside the jail",
        cwd.display()
    );
    // No descriptor on a file or directory outside the jail (a directory fd would allow
    // escaping with fchdir); sockets, pipes, event fds and /dev/null are fine.
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).expect("fd dir") {
        // An fd closed between the listing and the readlink (a health check's socket) is
        // gone: nothing to judge.
        let Ok(target) = std::fs::read_link(fd.expect("fd").path()) else {
            continue;
        };
        let t = target.to_string_lossy();
        let harmless = t.starts_with("socket:")
            || t.starts_with("pipe:")
            || t.starts_with("anon_inode:")
            || t == "/dev/null"
            || target.starts_with(&root);
        assert!(harmless, "descriptor on {t} outside the jail");
    }
    // Still serving.
    let r = get(local(port), "t", "/", None).expect("request through the jailed process");
    assert_eq!(r.status, 200);

    // The stats socket: owner, group, mode as configured; level operator.
    let meta = std::fs::metadata(&sock).expect("socket file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    let stat = cli(&sock, "show stat\n");
    assert!(stat.starts_with("# pxname,svname,"), "{stat}");
    assert_eq!(
        cli(&sock, "disable server web/s1\n"),
        "Permission denied\n\n"
    );
    assert_eq!(cli(&sock, "clear counters all\n"), "Permission denied\n\n");
    assert_eq!(cli(&sock, "clear counters\n"), "\n");

    signal(pid, Signal::SIGTERM);
    assert!(wait_until(5 * SEC, || !alive(pid)));
}

fn post_admin(port: u16, path: &str, body: &str) -> String {
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Basic {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        basic_auth("admin", "s3cret"),
        body.len()
    );
    let r = raw_request(local(port), req.as_bytes()).expect("admin post");
    String::from_utf8_lossy(&r.raw).into_owned()
}

fn stat_of(port: u16, path: &str, sv: &str) -> String {
    let req = format!(
        "GET {path};csv HTTP/1.1\r\nHost: t\r\nAuthorization: Basic {}\r\n\r\n",
        basic_auth("admin", "s3cret")
    );
    let csv = raw_request(local(port), req.as_bytes())
        .expect("csv")
        .body_text();
    let line = csv
        .lines()
        .find(|l| l.starts_with(&format!("app,{sv},")))
        .unwrap_or_else(|| panic!("no row app/{sv} in {csv}"))
        .to_string();
    line.split(',').nth(17).unwrap_or("").to_string()
}

#[test]
fn stats_admin_actions_need_stats_admin() {
    let origins = start_origins(&["o1"]);
    let sc = Scratch::new();
    let (open_p, gated, none) = (free_port(), free_port(), free_port());
    let srv = origins.addrs[0];
    let section = |name: &str, port: u16, admin: &str| {
        format!(
            "listen {name}\n    bind 127.0.0.1:{port}\n    stats uri /adm\n    stats auth admin:s3cret\n\
             {admin}    server a {srv}\n"
        )
    };
    let cfg = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n{}{}{}",
        section("app", open_p, "    stats admin if TRUE\n"),
        section("gated", gated, "    acl far src 10.0.0.0/8\n    stats admin if far\n"),
        section("plain", none, ""),
    );
    let _p = start_haproxide(&sc, &cfg, &[local(open_p), local(gated), local(none)]);
    // Without `stats admin`, or with its condition false, the action is refused.
    for port in [gated, none] {
        let r = post_admin(port, "/adm", "s=a&action=disable&b=%231");
        assert!(r.contains("Location: /adm;st=DENY\r\n"), "{r}");
    }
    assert_eq!(stat_of(open_p, "/adm", "a"), "no check");
    // Wrong password: 401 before anything else.
    let req = format!(
        "POST /adm HTTP/1.1\r\nHost: t\r\nAuthorization: Basic {}\r\nContent-Length: 3\r\n\r\ns=a",
        basic_auth("admin", "s3cre")
    );
    let r = raw_request(local(open_p), req.as_bytes()).expect("post");
    assert_eq!(r.status, 401);
    // With `stats admin if TRUE` it is done.
    let r = post_admin(open_p, "/adm", "s=a&action=disable&b=%231");
    assert!(r.contains("Location: /adm;st=DONE\r\n"), "{r}");
    assert_eq!(stat_of(open_p, "/adm", "a"), "MAINT");
}

#[test]
fn stats_auth_rejects_prefixes_and_extensions_of_the_password() {
    let origins = start_origins(&["o1"]);
    let sc = Scratch::new();
    let port = free_port();
    let cfg = format!(
        "userlist ul\n    user alice insecure-password s3cret\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         listen app\n    bind 127.0.0.1:{port}\n    stats uri /st\n    stats auth admin:s3cret\n\
         \x20   acl ok http_auth(ul)\n    http-request auth realm app if !ok\n    server a {}\n",
        origins.addrs[0]
    );
    let _p = start_haproxide(&sc, &cfg, &[local(port)]);
    let status = |path: &str, user: &str, pass: &str| {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Basic {}\r\nConnection: close\r\n\r\n",
            basic_auth(user, pass)
        );
        raw_request(local(port), req.as_bytes())
            .expect("request")
            .status
    };
    for (path, user) in [("/st", "admin"), ("/app", "alice")] {
        assert_eq!(status(path, user, "s3cret"), 200, "{path}");
        for wrong in ["", "s", "s3cre", "s3cret ", "s3cretx", "S3CRET", "x3cret"] {
            assert_eq!(status(path, user, wrong), 401, "{path} {wrong:?}");
        }
    }
}

/// The source lines of `file` outside its `#[cfg(test)]` module.
fn non_test_source(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Timing is too noisy to test; instead the code paths that compare secrets are pinned to
/// `acl::auth::constant_time_eq` (or pwhash's own constant-time compare for crypt hashes),
/// and nothing else in the data path compares a password with `==` or a slice method.
#[test]
fn passwords_are_compared_in_constant_time_on_every_path() {
    let auth = non_test_source("src/acl/auth.rs");
    let rules = non_test_source("src/proxy/rules.rs");
    // userlists (`http_auth`, `http-request auth`): insecure passwords...
    assert!(
        auth.contains("Password::Insecure(plain) => constant_time_eq(plain.as_bytes(), pass)"),
        "userlist password check does not use constant_time_eq"
    );
    // ...and crypt hashes through pwhash, which compares the hashes without early exit.
    assert!(auth.contains("Password::Crypt(hash) => pwhash::unix::verify(pass, hash)"));
    // `stats auth`.
    assert!(
        rules.contains("crate::acl::auth::constant_time_eq(p.as_bytes(), creds.pass)"),
        "stats auth does not use constant_time_eq"
    );
    // The comparison itself: one length check, then an OR of XORs over every byte.
    let body = auth
        .split("pub fn constant_time_eq")
        .nth(1)
        .and_then(|b| b.split("\n}\n").next())
        .expect("constant_time_eq body");
    assert_eq!(body.matches("return").count(), 1, "{body}");
    assert!(
        body.contains("fold(0u8, |acc, (x, y)| acc | (x ^ y))"),
        "{body}"
    );
    assert!(haproxide::acl::auth::constant_time_eq(b"s3cret", b"s3cret"));
    assert!(!haproxide::acl::auth::constant_time_eq(
        b"s3cret", b"s3creT"
    ));
    assert!(!haproxide::acl::auth::constant_time_eq(b"s3cret", b"s3cre"));
    assert!(!haproxide::acl::auth::constant_time_eq(b"", b"x"));
    // No other comparison of a password anywhere in the crate's non-test code.
    let mut offenders = Vec::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("src dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") || p.ends_with("tests.rs") {
                continue;
            }
            let rel = p
                .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                .expect("relative")
                .to_string_lossy()
                .into_owned();
            for (n, line) in non_test_source(&rel).lines().enumerate() {
                let l = line.trim();
                if l.starts_with("//") || !(l.contains(".pass") || l.contains("password")) {
                    continue;
                }
                let compares = l.contains("==")
                    || l.contains("!=")
                    || l.contains(".eq(")
                    || l.contains("starts_with(")
                    || l.contains("cmp(");
                if compares && !l.contains("constant_time_eq") {
                    offenders.push(format!("{rel}:{}: {l}", n + 1));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "password compared without constant_time_eq: {offenders:#?}"
    );
}
