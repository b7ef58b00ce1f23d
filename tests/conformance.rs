//! Differential conformance: what real HAProxy decides, haproxide decides the same.
//!
//! * `-c` on the 63 real-world 1.3/1.4 configurations of `conformance/corpus/` gives the
//!   verdict HAProxy 1.4.25 gave (recorded in `verdicts.json`).
//! * `balance source` sends a set of client addresses (127.0.0.2 .. 127.0.0.60) to the same
//!   servers as Debian's HAProxy 2.6 does with the same servers and weights, so users can
//!   switch without breaking sessions.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance/corpus/real-world")
}

/// `(file, exit code of HAProxy 1.4.25 -c)` from verdicts.json, read without a JSON crate:
/// each record has `"file": "..."` followed, later, by `"haproxy14": {"alert_count": ..,
/// "alerts": [..], "exit": N`.
fn verdicts() -> Vec<(String, i32)> {
    let text = std::fs::read_to_string(corpus_dir().join("verdicts.json")).expect("verdicts.json");
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("\"file\": \"") {
        rest = &rest[i + 9..];
        let end = rest.find('"').expect("file name end");
        let file = rest[..end].to_string();
        let h = rest.find("\"haproxy14\"").expect("haproxy14 record");
        let sub = &rest[h..];
        let e = sub.find("\"exit\": ").expect("exit code");
        let code: String = sub[e + 8..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        out.push((file, code.parse().expect("numeric exit")));
    }
    out
}

#[test]
fn check_mode_agrees_with_haproxy_1_4_25_on_the_corpus() {
    let dir = corpus_dir();
    let v = verdicts();
    assert_eq!(v.len(), 63, "the corpus has 63 files");
    let mut mismatches = Vec::new();
    let mut accepted = 0;
    for (file, expected) in &v {
        let (code, out) = check_config(&haproxide_bin(), &dir.join(file), Some(&dir));
        let ours = i32::from(code != 0);
        if ours == 0 {
            accepted += 1;
        }
        if ours != *expected {
            mismatches.push(format!(
                "{file}: 1.4.25 exit {expected}, haproxide exit {code}\n{out}"
            ));
        }
    }
    println!(
        "corpus: {accepted}/63 accepted (1.4.25 accepts 53), {} mismatches",
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "verdicts differ from HAProxy 1.4.25:\n{}",
        mismatches.join("\n")
    );
}

/// A tiny TCP server that tells which server a client reached: it writes its name and closes.
fn name_server(name: &'static str) -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let a = l.local_addr().expect("addr");
    std::thread::spawn(move || {
        for mut c in l.incoming().take(2000).flatten() {
            let _ = c.write_all(name.as_bytes());
        }
    });
    a
}

/// Connects from `src` to `to` and reads the server name the proxy led us to.
fn reached_from(src: IpAddr, to: SocketAddr) -> String {
    let sock =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.bind(&SocketAddr::new(src, 0).into())
        .expect("bind source");
    sock.connect_timeout(&to.into(), Duration::from_secs(5))
        .expect("connect");
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn balance_source_cfg(port: u16, servers: &[(SocketAddr, u32)]) -> String {
    let mut cfg = format!(
        "global\n  maxconn 200\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 10s\n  timeout server 10s\n\
         listen src\n  bind 127.0.0.1:{port}\n  balance source\n"
    );
    for (i, (a, w)) in servers.iter().enumerate() {
        cfg.push_str(&format!("  server s{i} {a} weight {w}\n"));
    }
    cfg
}

#[test]
fn balance_source_matches_haproxy_2_6() {
    let Some(hap) = haproxy26_bin() else {
        panic!("Debian's HAProxy (/usr/sbin/haproxy) is missing: run scripts/install-deps.sh");
    };
    let names = ["A", "B", "C"];
    let addrs: Vec<SocketAddr> = names.iter().map(|n| name_server(n)).collect();
    for weights in [&[1u32, 1][..], &[1, 1, 1], &[1, 2, 3], &[3, 1]] {
        let servers: Vec<(SocketAddr, u32)> =
            addrs.iter().copied().zip(weights.iter().copied()).collect();
        let (p_ours, p_theirs) = (free_port(), free_port());
        let s = Scratch::new();
        let ours = start_haproxide(
            &s,
            &balance_source_cfg(p_ours, &servers),
            &[SocketAddr::from(([127, 0, 0, 1], p_ours))],
        );
        let theirs = start_proxy(
            &hap,
            &s,
            "haproxy26",
            &balance_source_cfg(p_theirs, &servers),
            &[SocketAddr::from(([127, 0, 0, 1], p_theirs))],
        );
        let mut table = Vec::new();
        for last in 2..=60u8 {
            let src = IpAddr::from([127, 0, 0, last]);
            let a = reached_from(src, SocketAddr::from(([127, 0, 0, 1], p_ours)));
            let b = reached_from(src, SocketAddr::from(([127, 0, 0, 1], p_theirs)));
            table.push((last, a, b));
        }
        let diff: Vec<_> = table.iter().filter(|(_, a, b)| a != b).collect();
        let spread: String = table.iter().map(|(_, a, _)| a.as_str()).collect();
        println!("weights {weights:?}: {spread}");
        assert!(
            diff.is_empty(),
            "weights {weights:?}: differing clients {diff:?}"
        );
        drop(ours);
        drop(theirs);
    }
}
