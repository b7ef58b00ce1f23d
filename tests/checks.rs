//! End-to-end health-check behaviour with real backends that are stopped and restarted
//! (issue #5): DOWN after `fall`, UP after `rise`, state lines in the log, backup servers,
//! and no client-visible error across a server's death when redispatch is on.

mod common;

use common::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A demo origin that can be stopped (its runtime dropped) and started again on the same port.
struct Killable {
    name: &'static str,
    port: u16,
    origin: Option<Origins>,
}

impl Killable {
    fn start(name: &'static str) -> Killable {
        let o = start_origins(&[name]);
        let port = o.addrs[0].port();
        Killable {
            name,
            port,
            origin: Some(o),
        }
    }
    fn stop(&mut self) {
        self.origin = None;
        assert!(wait_until(Duration::from_secs(5), || !port_open(addr(
            self.port
        ))));
    }
    fn restart(&mut self) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("rt");
        let l = rt
            .block_on(tokio::net::TcpListener::bind(addr(self.port)))
            .expect("rebind same port");
        let st = std::sync::Arc::new(haproxide::demo::DemoStats::default());
        let cfg = haproxide::demo::DemoConfig {
            name: self.name.to_string(),
            session_cookie: "9ai9".into(),
        };
        rt.spawn(haproxide::demo::serve(l, cfg, st.clone()));
        self.origin = Some(Origins::from_parts(vec![addr(self.port)], vec![st], rt));
    }
}

#[test]
fn down_after_fall_up_after_rise_with_state_lines() {
    let (log, log_addr) = syslog();
    let mut s1 = Killable::start("s1");
    let s2 = start_origins(&["s2"]);
    let fe = free_port();
    let cfg = format!(
        "global\n  log {log_addr} local0\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         listen web\n  bind 127.0.0.1:{fe}\n  log global\n  option httpclose\n  balance roundrobin\n\
         \x20 server s1 127.0.0.1:{} check inter 100 rise 3 fall 2\n  server s2 {} check inter 100 rise 3 fall 2\n",
        s1.port, s2.addrs[0]
    );
    let sc = Scratch::new();
    let _p = start_haproxide(&sc, &cfg, &[addr(fe)]);
    let mut lines = Vec::new();
    std::thread::sleep(Duration::from_millis(400)); // checks reach full health
    let t0 = Instant::now();
    s1.stop();
    let down = wait_line(&log, &mut lines, Duration::from_secs(5), |l| {
        l.contains("Server web/s1 is DOWN")
    });
    let took = t0.elapsed();
    let down = down.expect("a DOWN line for s1");
    // From full health (rise+fall-1 = 4), fall 2 failures at 100 ms intervals: 100..~1000 ms.
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    assert!(down.contains("reason: Layer4 connection problem"), "{down}");
    assert!(
        down.contains("1 active and 0 backup servers left."),
        "{down}"
    );
    assert!(
        down.starts_with("<129>"),
        "DOWN is logged at alert on local0: {down}"
    );
    // Traffic avoids the dead server.
    for _ in 0..6 {
        let r = get(addr(fe), "h", "/", None).unwrap();
        assert_eq!(r.echo("server").as_deref(), Some("s2"));
    }
    let t1 = Instant::now();
    s1.restart();
    let up = wait_line(&log, &mut lines, Duration::from_secs(5), |l| {
        l.contains("Server web/s1 is UP")
    })
    .expect("UP line");
    let took = t1.elapsed();
    // rise 3 successes at 100 ms: about 300 ms.
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(up.contains("2 active and 0 backup servers online."), "{up}");
    assert!(up.starts_with("<133>"), "UP is logged at notice: {up}");
    let seen: Vec<String> = (0..4)
        .map(|_| {
            get(addr(fe), "h", "/", None)
                .unwrap()
                .echo("server")
                .unwrap()
        })
        .collect();
    assert!(
        seen.contains(&"s1".to_string()) && seen.contains(&"s2".to_string()),
        "{seen:?}"
    );
}

#[test]
fn backup_used_only_when_all_actives_are_down() {
    let (log, log_addr) = syslog();
    let mut a = Killable::start("active");
    let b = start_origins(&["backup"]);
    let fe = free_port();
    let cfg = format!(
        "global\n  log {log_addr} local0\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         listen web\n  bind 127.0.0.1:{fe}\n  log global\n  option httpclose\n\
         \x20 server a 127.0.0.1:{} check inter 100 fall 1 rise 1\n  server b {} check inter 100 backup\n",
        a.port, b.addrs[0]
    );
    let sc = Scratch::new();
    let _p = start_haproxide(&sc, &cfg, &[addr(fe)]);
    for _ in 0..4 {
        assert_eq!(
            get(addr(fe), "h", "/", None)
                .unwrap()
                .echo("server")
                .as_deref(),
            Some("active")
        );
    }
    a.stop();
    let mut lines = Vec::new();
    let l = wait_line(&log, &mut lines, Duration::from_secs(5), |l| {
        l.contains("Server web/a is DOWN")
    })
    .expect("DOWN");
    assert!(l.contains("Running on backup."), "{l}");
    for _ in 0..4 {
        assert_eq!(
            get(addr(fe), "h", "/", None)
                .unwrap()
                .echo("server")
                .as_deref(),
            Some("backup")
        );
    }
    a.restart();
    wait_line(&log, &mut lines, Duration::from_secs(5), |l| {
        l.contains("Server web/a is UP")
    })
    .expect("UP");
    for _ in 0..4 {
        assert_eq!(
            get(addr(fe), "h", "/", None)
                .unwrap()
                .echo("server")
                .as_deref(),
            Some("active")
        );
    }
}

#[test]
fn httpchk_decides_by_status_and_expect() {
    let o = start_origins(&["ok", "bad"]);
    let (fe1, fe2) = (free_port(), free_port());
    let cfg = format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         listen st\n  bind 127.0.0.1:{fe1}\n  option httpclose\n  option httpchk GET /status/200\n\
         \x20 server ok {} check inter 100 fall 1\n  server bad {} check inter 100 fall 1 port {}\n\
         listen ex\n  bind 127.0.0.1:{fe2}\n  option httpclose\n  option httpchk GET /\n  http-check expect string server=ok\n\
         \x20 server ok {} check inter 100 fall 1\n  server bad {} check inter 100 fall 1\n",
        o.addrs[0],
        o.addrs[1],
        free_port(), // nothing listens: L4 failure
        o.addrs[0],
        o.addrs[1]
    );
    let sc = Scratch::new();
    let _p = start_haproxide(&sc, &cfg, &[addr(fe1), addr(fe2)]);
    std::thread::sleep(Duration::from_millis(600));
    for fe in [fe1, fe2] {
        for _ in 0..4 {
            assert_eq!(
                get(addr(fe), "h", "/", None)
                    .unwrap()
                    .echo("server")
                    .as_deref(),
                Some("ok"),
                "frontend {fe}"
            );
        }
    }
}

/// A server dies in the middle of a bounded request loop; with retries and `option
/// redispatch`, no request fails (1.4 retries, then redispatches the last retry, and the
/// health checks take the server out).
#[test]
fn no_client_error_when_a_server_dies_with_redispatch() {
    let mut s1 = Killable::start("s1");
    let s2 = start_origins(&["s2"]);
    let fe = free_port();
    let cfg = format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 10s\n  timeout server 10s\n  retries 3\n  option redispatch\n\
         listen web\n  bind 127.0.0.1:{fe}\n  option httpclose\n  balance roundrobin\n\
         \x20 server s1 127.0.0.1:{} check inter 200 fall 2\n  server s2 {} check inter 200 fall 2\n",
        s1.port, s2.addrs[0]
    );
    let sc = Scratch::new();
    let _p = start_haproxide(&sc, &cfg, &[addr(fe)]);
    let deadline = Instant::now() + Duration::from_secs(40);
    let (mut ok, mut failed) = (0, 0);
    for i in 0..80 {
        if Instant::now() > deadline {
            break;
        }
        if i == 20 {
            s1.stop();
        }
        match get(addr(fe), "h", "/", None) {
            Ok(r) if r.status == 200 => ok += 1,
            _ => failed += 1,
        }
    }
    println!("requests: {ok} ok, {failed} failed");
    assert_eq!(failed, 0);
    assert!(ok >= 40, "the loop made progress: {ok}");
}
