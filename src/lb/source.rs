//! `balance source`: the client address picks the server, so a client keeps its server as
//! long as the set of usable servers does not change.
//!
//! Compare with 1.4 `src/backend.c` `get_server_sh()`. The address is folded into 32 bits by
//! [`super::hash::source_hash`] (IPv4 as a big-endian integer, IPv6 as the XOR of its four
//! words) and looked up directly, without sdbm: `map[h % tot_weight]` with map-based
//! hashing, or on the ring with `hash-type consistent`. With a single server in use the
//! hash is skipped (`h = 0`). Weights 1,1 therefore send even addresses to the first server
//! and odd ones to the second.

use std::net::IpAddr;

/// The 32-bit value 1.4 looks up for client address `ip`.
pub fn hash(ip: IpAddr) -> u32 {
    super::hash::source_hash(ip)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{balancer, never_full, tcp_from};
    use super::super::{Balancer, PickInput};
    use parser::ir::{Balance, HashType};
    use std::net::{IpAddr, Ipv6Addr};

    fn source(weights: &[u32]) -> Balancer {
        let srv: Vec<(u32, bool)> = weights.iter().map(|&w| (w, false)).collect();
        balancer(Balance::Source, HashType::MapBased, false, &srv)
    }

    #[test]
    fn seed_even_odd_split() {
        // Seed backend SOURCE_srv: weights 1,1, map [REALsrv_70, REALsrv_120].
        let b = source(&[1, 1]);
        for last in 2..=60u8 {
            let want = if last % 2 == 0 { 0 } else { 1 };
            assert_eq!(
                b.pick(&tcp_from([127, 0, 0, last]), None, &never_full),
                Some(want),
                "127.0.0.{last}"
            );
        }
    }

    #[test]
    fn survivor_takes_all_and_mapping_returns() {
        let b = source(&[1, 1]);
        b.set_usable(0, false);
        for last in 2..=60u8 {
            assert_eq!(
                b.pick(&tcp_from([127, 0, 0, last]), None, &never_full),
                Some(1)
            );
        }
        b.set_usable(0, true);
        for last in 2..=60u8 {
            assert_eq!(
                b.pick(&tcp_from([127, 0, 0, last]), None, &never_full),
                Some(usize::from(last % 2))
            );
        }
    }

    #[test]
    fn three_servers_modulo() {
        let b = source(&[1, 1, 1]);
        for last in 2..=60u8 {
            let h = u32::from_be_bytes([127, 0, 0, last]);
            assert_eq!(
                b.pick(&tcp_from([127, 0, 0, last]), None, &never_full),
                Some((h % 3) as usize)
            );
        }
    }

    #[test]
    fn ipv6_clients() {
        let b = source(&[1, 1, 1]);
        let ip: Ipv6Addr = "2001:db8::5".parse().expect("literal");
        let h = 0x2001_0db8u32 ^ 5;
        let req = PickInput::tcp(IpAddr::V6(ip), &[]);
        assert_eq!(b.pick(&req, None, &never_full), Some((h % 3) as usize));
    }

    #[test]
    fn hashed_server_is_returned_even_when_full() {
        // Hash algorithms do not skip saturated servers: the request queues on it.
        let b = source(&[1, 1]);
        assert_eq!(b.pick(&tcp_from([127, 0, 0, 2]), None, &|_| true), Some(0));
        assert_eq!(
            b.pick(&tcp_from([127, 0, 0, 2]), Some(0), &never_full),
            Some(0)
        );
    }
}

/// Differential check against a real HAProxy (2.6 from Debian, same `balance source` map
/// algorithm as 1.4): clients bound to 127.0.0.2..=127.0.0.60 connect through HAProxy to
/// tiny loopback servers that answer with their index; our pick must name the same server.
#[cfg(test)]
mod conformance {
    use super::super::tests::{balancer, never_full, tcp_from};
    use parser::ir::{Balance, HashType};
    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
    use std::process::{Child, Command, Stdio};
    use std::thread;
    use std::time::{Duration, Instant};

    const HAPROXY: &str = "/usr/sbin/haproxy";

    /// Kills the HAProxy we started when the test ends, pass or fail.
    struct Haproxy(Child);

    impl Drop for Haproxy {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// A server that answers every connection with its index, in a detached thread.
    fn tiny_server(idx: usize) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = l.local_addr().expect("local addr").port();
        thread::spawn(move || {
            for mut s in l.incoming().flatten() {
                let _ = s.write_all(format!("{idx}\n").as_bytes());
            }
        });
        port
    }

    fn free_port() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        l.local_addr().expect("local addr").port()
    }

    /// Connects from `src` to `port`, returns the answering server's index.
    fn ask(src: Ipv4Addr, port: u16) -> Option<usize> {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
        sock.bind(&SocketAddr::from((src, 0)).into()).ok()?;
        sock.connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], port)).into(),
            Duration::from_secs(2),
        )
        .ok()?;
        let mut s: TcpStream = sock.into();
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut buf = String::new();
        s.read_to_string(&mut buf).ok()?;
        buf.trim().parse().ok()
    }

    fn run(weights: &[u32]) {
        let ports: Vec<u16> = (0..weights.len()).map(tiny_server).collect();
        let fe = free_port();
        let mut cfg = format!(
            "global\n    maxconn 100\ndefaults\n    mode tcp\n    timeout connect 2s\n    \
             timeout client 5s\n    timeout server 5s\nlisten fe\n    bind 127.0.0.1:{fe}\n    \
             balance source\n"
        );
        for (i, (p, w)) in ports.iter().zip(weights).enumerate() {
            cfg.push_str(&format!("    server s{i} 127.0.0.1:{p} weight {w}\n"));
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, cfg).expect("write cfg");
        let child = Command::new(HAPROXY)
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start haproxy");
        let _guard = Haproxy(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", fe)).is_err() {
            assert!(Instant::now() < deadline, "haproxy did not start listening");
            thread::sleep(Duration::from_millis(20));
        }
        let srv: Vec<(u32, bool)> = weights.iter().map(|&w| (w, false)).collect();
        let ours = balancer(Balance::Source, HashType::MapBased, false, &srv);
        for last in 2..=60u8 {
            let theirs = ask(Ipv4Addr::new(127, 0, 0, last), fe);
            let mine = ours.pick(&tcp_from([127, 0, 0, last]), None, &never_full);
            assert_eq!(mine, theirs, "client 127.0.0.{last}, weights {weights:?}");
        }
    }

    #[test]
    #[ignore = "needs /usr/sbin/haproxy; run by conformance"]
    fn source_matches_haproxy() {
        run(&[1, 1]);
        run(&[1, 1, 1]);
        run(&[1, 2, 3]);
    }
}
