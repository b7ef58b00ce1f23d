//! End-to-end tests of the statistics: the CSV and HTML page on a stats URI (counters after
//! known traffic, 401 with the seed's realm, refresh, HEAD, admin POST), the stats socket
//! (commands, levels, prompt), a comparison with Debian's HAProxy 2.6 for the CLI commands
//! whose output 2.6 kept, hatop driving our socket under tmux, `monitor-uri`/`monitor-net`,
//! and the Prometheus extension. Loopback only, every wait bounded.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const CSV_HEADER: &str = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,";

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A port nothing listens on (bound then released): health checks to it fail at once.
fn dead_port() -> u16 {
    free_port()
}

/// The CSV rows of `text` as `pxname/svname` → fields.
fn csv_row<'a>(text: &'a str, px: &str, sv: &str) -> Vec<&'a str> {
    let prefix = format!("{px},{sv},");
    text.lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no row {px}/{sv} in:\n{text}"))
        .split(',')
        .collect()
}

fn get_auth(a: SocketAddr, path: &str, auth: Option<(&str, &str)>) -> Response {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: t\r\n");
    if let Some((u, p)) = auth {
        req.push_str(&format!("Authorization: Basic {}\r\n", basic_auth(u, p)));
    }
    req.push_str("\r\n");
    raw_request(a, req.as_bytes()).expect("stats request")
}

/// Polls the CSV on `a` until `pred` holds for it (bounded).
fn wait_csv(a: SocketAddr, path: &str, pred: impl FnMut(&str) -> bool) -> String {
    wait_csv_auth(a, path, ("admin", "pw"), pred)
}

fn wait_csv_auth(
    a: SocketAddr,
    path: &str,
    auth: (&str, &str),
    mut pred: impl FnMut(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = get_auth(a, path, Some(auth));
        let body = r.body_text();
        if pred(&body) || Instant::now() > deadline {
            return body;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn csv_counters_after_known_traffic() {
    let origins = start_origins(&["o1", "o2"]);
    let (fe, st) = (free_port(), free_port());
    let dead = dead_port();
    let scratch = Scratch::new();
    let cfg = format!(
        "global\n    maxconn 500\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:{fe}\n    acl dead path_beg /dead\n    use_backend gone if dead\n    default_backend app\n\
         backend app\n    balance roundrobin\n    server a {o1} check inter 200\n    server b {o2}\n\
         backend gone\n    server x 127.0.0.1:{dead} check inter 100 rise 2 fall 1\n\
         listen stats\n    bind 127.0.0.1:{st}\n    stats uri /s\n    stats auth admin:pw\n",
        o1 = origins.addrs[0],
        o2 = origins.addrs[1],
    );
    let _p = start_haproxide(&scratch, &cfg, &[addr(fe), addr(st)]);
    // The dead server goes DOWN at its first failed check.
    let body = wait_csv(addr(st), "/s;csv", |b| {
        b.lines()
            .any(|l| l.starts_with("gone,x,") && l.split(',').nth(17) == Some("DOWN"))
    });
    let x = csv_row(&body, "gone", "x");
    assert_eq!(x[17], "DOWN", "{body}");
    assert!(x[22].parse::<u64>().unwrap_or(0) >= 1, "chkdown: {body}");
    assert_eq!(x[36], "L4CON");
    let g = csv_row(&body, "gone", "BACKEND");
    assert_eq!(g[17], "DOWN");
    // Baseline: the start-up probe connection already counts as a session on `web`.
    let base = csv_row(&body, "web", "FRONTEND");
    let n = |v: &str| v.parse::<u64>().unwrap_or(0);
    let (stot0, req0, h2_0, h5_0) = (n(base[7]), n(base[48]), n(base[40]), n(base[43]));

    for i in 0..6 {
        let r = get(addr(fe), "t", &format!("/r{i}"), None).expect("request");
        assert_eq!(r.status, 200);
    }
    let r = get(addr(fe), "t", "/dead", None).expect("request");
    assert_eq!(r.status, 503);

    // Transactions are counted as they end: wait until all seven are.
    wait_csv(addr(st), "/s;csv", |b| {
        b.lines().any(|l| {
            l.starts_with("web,FRONTEND,")
                && l.split(',').nth(40).map(n) == Some(h2_0 + 6)
                && l.split(',').nth(43).map(n) == Some(h5_0 + 1)
        })
    });
    let resp = get_auth(addr(st), "/s;csv", Some(("admin", "pw")));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/plain"));
    let body = resp.body_text();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], CSV_HEADER);
    for l in &lines {
        assert!(l.ends_with(','), "{l}");
        assert_eq!(l.matches(',').count(), 51, "{l}");
    }
    // Row order: proxies in config order, FRONTEND, servers, BACKEND.
    let names: Vec<String> = lines[1..]
        .iter()
        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join("/"))
        .collect();
    assert_eq!(
        names,
        vec![
            "web/FRONTEND",
            "app/a",
            "app/b",
            "app/BACKEND",
            "gone/x",
            "gone/BACKEND",
            "stats/FRONTEND",
            "stats/BACKEND"
        ]
    );
    let f = csv_row(&body, "web", "FRONTEND");
    assert_eq!(n(f[7]) - stot0, 7, "stot");
    assert_eq!(n(f[48]) - req0, 7, "req_tot");
    assert_eq!(n(f[40]) - h2_0, 6, "hrsp_2xx");
    assert_eq!(n(f[43]) - h5_0, 1, "hrsp_5xx");
    assert!(f[8].parse::<u64>().unwrap_or(0) > 0, "bin");
    assert!(f[9].parse::<u64>().unwrap_or(0) > 0, "bout");
    assert_eq!(f[17], "OPEN");
    assert_eq!(f[6], "2000", "slim: the frontend maxconn");
    let be = csv_row(&body, "app", "BACKEND");
    assert_eq!(be[7], "6");
    assert_eq!(be[40], "6");
    assert_eq!(be[30], "6", "lbtot");
    let a = csv_row(&body, "app", "a");
    let b = csv_row(&body, "app", "b");
    let stot = |r: &[&str]| r[7].parse::<u64>().unwrap_or(0);
    assert_eq!(stot(&a) + stot(&b), 6);
    assert_eq!(stot(&a), 3, "roundrobin");
    assert_eq!(b[17], "no check");
    assert_eq!(&b[36..=38], &["", "", ""]);
    let gb = csv_row(&body, "gone", "BACKEND");
    assert_eq!(gb[43], "1", "the 503 counts on its backend");
    // ;up hides the DOWN server.
    let up = get_auth(addr(st), "/s;csv;up", Some(("admin", "pw"))).body_text();
    assert!(!up.contains("\ngone,x,"), "{up}");
    assert!(up.contains("\ngone,BACKEND,"));
}

#[test]
fn stats_page_auth_refresh_head_and_html() {
    let scratch = Scratch::new();
    let (st, other) = (free_port(), free_port());
    // The seed's stats section (NBSP-free), on loopback.
    let cfg = format!(
        "defaults\n    mode http\n    contimeout 5000\n    clitimeout 30000\n    srvtimeout 30000\n\
         listen admin_stats\n    bind 127.0.0.1:{st}\n    mode http\n    stats uri /qhappy_stats\n\
         \x20   stats realm 9ai9.net\\ Qhappy\n    stats auth qhappy:qhappy\n    stats refresh 5s\n\
         \x20   stats show-node edge1\n    stats show-desc front\\ door\n    stats hide-version\n\
         listen other\n    bind 127.0.0.1:{other}\n    server s 127.0.0.1:9\n"
    );
    let _p = start_haproxide(&scratch, &cfg, &[addr(st)]);
    let expected_401 = "HTTP/1.0 401 Unauthorized\r\nCache-Control: no-cache\r\nConnection: close\r\n\
         Content-Type: text/html\r\nWWW-Authenticate: Basic realm=\"9ai9.net Qhappy\"\r\n\r\n\
         <html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n";
    let r = get_auth(addr(st), "/qhappy_stats", None);
    assert_eq!(String::from_utf8_lossy(&r.raw), expected_401);
    let r = get_auth(addr(st), "/qhappy_stats", Some(("qhappy", "wrong")));
    assert_eq!(String::from_utf8_lossy(&r.raw), expected_401);

    let r = get_auth(addr(st), "/qhappy_stats", Some(("qhappy", "qhappy")));
    let head_end = r.raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
    assert_eq!(
        String::from_utf8_lossy(&r.raw[..head_end]),
        "HTTP/1.0 200 OK\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\nRefresh: 5\r\n\r\n"
    );
    let html = r.body_text();
    assert!(html.contains("<title>Statistics Report for HAProxy on edge1</title>"));
    assert!(html.contains("<h2>Statistics Report for pid "));
    assert!(html.contains(" on edge1: front door</h2>"));
    assert!(html.contains("HAProxy</a></h1>"), "hide-version");
    assert!(html.contains("<h3>&gt; General process information</h3>"));
    assert!(html.contains("<a href=\"/qhappy_stats;up\">Hide 'DOWN' servers</a>"));
    assert!(html.contains("<a href=\"/qhappy_stats;norefresh\">Disable refresh</a>"));
    assert!(html.contains("<a href=\"/qhappy_stats;csv;norefresh\">CSV export</a>"));
    // One table per proxy: a title table and a data table each.
    assert_eq!(html.matches("<th class=\"pxname\"").count(), 2);
    assert_eq!(html.matches("<table class=\"tbl\"").count(), 4);
    assert!(html.contains("<a class=px href=\"#admin_stats\">admin_stats</a>"));
    assert!(html.contains("<a class=lfsb href=\"#other/Frontend\">Frontend</a>"));
    assert!(html.contains("<tr class=\"active6\"><td class=ac><a name=\"other/s\"></a>"));
    assert!(html.contains("<a class=lfsb href=\"#other/Backend\">Backend</a>"));
    assert!(html.ends_with("</body></html>\n"));

    // ;norefresh drops the Refresh header and flips the link.
    let r = get_auth(
        addr(st),
        "/qhappy_stats;norefresh",
        Some(("qhappy", "qhappy")),
    );
    assert_eq!(r.header("refresh"), None);
    assert!(r
        .body_text()
        .contains("<a href=\"/qhappy_stats\">Enable refresh</a>"));
    // HEAD: headers only.
    let req = format!(
        "HEAD /qhappy_stats HTTP/1.0\r\nAuthorization: Basic {}\r\n\r\n",
        basic_auth("qhappy", "qhappy")
    );
    let mut s = std::net::TcpStream::connect(addr(st)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(req.as_bytes()).expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    assert_eq!(
        String::from_utf8_lossy(&raw),
        "HTTP/1.0 200 OK\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\nRefresh: 5\r\n\r\n"
    );
    // A URI that only shares a prefix with nothing else is not the stats page.
    let r = get_auth(addr(st), "/other", Some(("qhappy", "qhappy")));
    assert_eq!(r.status, 503);
}

#[test]
fn admin_post_disables_and_enables_servers() {
    let origins = start_origins(&["o1"]);
    let scratch = Scratch::new();
    let (st, ro) = (free_port(), free_port());
    let cfg = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         listen app\n    bind 127.0.0.1:{st}\n    stats uri /adm\n    stats auth admin:pw\n\
         \x20   stats admin if TRUE\n    server a {o} \n    server b {o}\n\
         listen ro\n    bind 127.0.0.1:{ro}\n    stats uri /ro\n",
        o = origins.addrs[0]
    );
    let _p = start_haproxide(&scratch, &cfg, &[addr(st), addr(ro)]);
    let page = get_auth(addr(st), "/adm", Some(("admin", "pw"))).body_text();
    assert!(page.contains("<form action=\"/adm\" method=\"post\">"));
    assert!(page.contains("<input type=\"checkbox\" name=\"s\" value=\"a\">"));
    assert!(page.contains("<input type=\"hidden\" name=\"b\" value=\"#1\">"));

    let post = |port: u16, path: &str, body: &str, expect: bool| {
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Basic {}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            basic_auth("admin", "pw"),
            body.len()
        );
        if expect {
            req.push_str("Expect: 100-continue\r\n\r\n");
            let mut s = std::net::TcpStream::connect(addr(port)).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            s.write_all(req.as_bytes()).expect("write head");
            let mut cont = [0u8; 25];
            s.read_exact(&mut cont).expect("100 continue");
            assert_eq!(&cont, b"HTTP/1.1 100 Continue\r\n\r\n");
            s.write_all(body.as_bytes()).expect("write body");
            let mut raw = Vec::new();
            s.read_to_end(&mut raw).expect("read");
            String::from_utf8_lossy(&raw).into_owned()
        } else {
            req.push_str("\r\n");
            req.push_str(body);
            String::from_utf8_lossy(&raw_request(addr(port), req.as_bytes()).expect("post").raw)
                .into_owned()
        }
    };
    let r = post(st, "/adm", "s=a&s=b&action=disable&b=%231", true);
    assert_eq!(
        r,
        "HTTP/1.0 303 See Other\r\nCache-Control: no-cache\r\nContent-Type: text/plain\r\n\
         Connection: close\r\nLocation: /adm;st=DONE\r\n\r\n"
    );
    let csv = get_auth(addr(st), "/adm;csv", Some(("admin", "pw"))).body_text();
    assert_eq!(csv_row(&csv, "app", "a")[17], "MAINT");
    assert_eq!(csv_row(&csv, "app", "b")[17], "MAINT");
    assert_eq!(csv_row(&csv, "app", "BACKEND")[17], "DOWN");
    let banner = get_auth(addr(st), "/adm;st=DONE", Some(("admin", "pw"))).body_text();
    assert!(banner.contains("Action processed successfully."));
    assert!(banner.contains("<tr class=\"maintain\">"));
    let r = post(st, "/adm", "s=a&action=enable&b=%231", false);
    assert!(r.contains("Location: /adm;st=DONE\r\n"), "{r}");
    let r = post(st, "/adm", "s=a&action=enable&b=%231", false);
    assert!(r.contains("Location: /adm;st=NONE\r\n"), "{r}");
    let r = post(st, "/adm", "s=zz&action=enable&b=%231", false);
    assert!(r.contains("Location: /adm;st=ERRP\r\n"), "{r}");
    let csv = get_auth(addr(st), "/adm;csv", Some(("admin", "pw"))).body_text();
    assert_eq!(csv_row(&csv, "app", "a")[17], "no check");
    // No `stats admin` on this proxy: denied.
    let r = post(ro, "/ro", "s=a&action=disable&b=%231", false);
    assert!(r.contains("Location: /ro;st=DENY\r\n"), "{r}");
}

fn socket_cfg(sock: &Path, level: &str, port: u16, o1: SocketAddr, dead: u16) -> String {
    format!(
        "global\n    stats socket {} level {level} mode 600\n    stats timeout 5s\n    node testnode\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         listen web\n    bind 127.0.0.1:{port}\n    balance roundrobin\n\
         \x20   server s1 127.0.0.1:{dead} check inter 200 fall 1\n    server s2 {o1} weight 10\n",
        sock.display()
    )
}

#[test]
fn stats_socket_commands_and_levels() {
    let origins = start_origins(&["o1"]);
    let scratch = Scratch::new();
    let sock = scratch.path("admin.sock");
    let port = free_port();
    let cfg = socket_cfg(&sock, "admin", port, origins.addrs[0], dead_port());
    let _p = start_haproxide(&scratch, &cfg, &[addr(port)]);
    wait_stats_socket(&sock);
    let mode = std::fs::metadata(&sock).expect("socket file");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);

    let info = stats_cli(&sock, "show info\n");
    let keys: Vec<&str> = info
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(keys.len(), 20, "{info}");
    assert!(info.starts_with("Name: HAProxy\nVersion: 1.4.25\nRelease_date: 2014/03/27\nNbproc: 1\nProcess_num: 1\nPid: "));
    assert!(
        info.contains("\nnode: testnode\ndescription: \n\n"),
        "{info}"
    );
    let up = info
        .lines()
        .find(|l| l.starts_with("Uptime: "))
        .unwrap_or("");
    let re_ok = up.len() > 8 && up[8..].contains("d ") && up.ends_with('s');
    assert!(re_ok, "{up}");

    // Several commands on one line, each answer followed by an empty line.
    let out = stats_cli(&sock, "get weight web/s2;get weight web/#1\n");
    assert_eq!(out, "10 (initial 10)\n\n1 (initial 1)\n\n");
    let out = stats_cli(&sock, "show stat\n");
    assert!(out.starts_with(&format!("{CSV_HEADER}\n")));
    assert!(out.ends_with(",\n\n"));
    let out = stats_cli(&sock, "show stat -1 4 -1\n");
    assert_eq!(out.lines().filter(|l| l.starts_with("web,s")).count(), 2);
    assert!(!out.contains("FRONTEND"));
    let out = stats_cli(&sock, "disable server web/s2\nshow stat 1 4 2\n");
    assert!(out.starts_with('\n'));
    assert_eq!(csv_row(&out, "web", "s2")[17], "MAINT");
    assert_eq!(stats_cli(&sock, "enable server web/s2\n"), "\n");
    assert_eq!(
        csv_row(&stats_cli(&sock, "show stat\n"), "web", "s2")[17],
        "no check"
    );
    assert_eq!(stats_cli(&sock, "clear counters all\n"), "\n");
    let e = stats_cli(&sock, "show errors\n");
    assert!(
        e.starts_with("Total events captured on [") && e.ends_with("] : 0\n\n"),
        "{e}"
    );
    assert!(stats_cli(&sock, "help\n")
        .starts_with("Unknown command. Please enter one of the following commands only :\n"));

    // Interactive mode: prompt after every answer, the connection stays open.
    let mut s = UnixStream::connect(&sock).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(b"prompt\n").expect("write");
    let mut buf = [0u8; 3];
    s.read_exact(&mut buf).expect("prompt");
    assert_eq!(&buf, b"\n> ");
    s.write_all(b"get weight web/s2\n").expect("write");
    let mut buf = [0u8; 19];
    s.read_exact(&mut buf).expect("answer");
    assert_eq!(&buf, b"10 (initial 10)\n\n> ");
    s.write_all(b"quit\n").expect("write");
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).expect("closed");
    assert!(rest.is_empty());
}

#[test]
fn stats_socket_user_level_is_denied_admin_commands() {
    let origins = start_origins(&["o1"]);
    let scratch = Scratch::new();
    let sock = scratch.path("user.sock");
    let port = free_port();
    let cfg = socket_cfg(&sock, "user", port, origins.addrs[0], dead_port());
    let _p = start_haproxide(&scratch, &cfg, &[addr(port)]);
    wait_stats_socket(&sock);
    for cmd in [
        "disable server web/s2",
        "set weight web/s2 5",
        "clear counters",
        "show errors",
        "show sess",
    ] {
        assert_eq!(
            stats_cli(&sock, &format!("{cmd}\n")),
            "Permission denied\n\n",
            "{cmd}"
        );
    }
    assert_eq!(
        stats_cli(&sock, "get weight web/s2\n"),
        "10 (initial 10)\n\n"
    );
}

fn require_tool(path: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: run scripts/install-deps.sh (make deps) first"
    );
}

/// The CLI commands whose output HAProxy 2.6 kept from 1.4, answered by both.
#[test]
fn socket_answers_match_haproxy_2_6() {
    let h26 = haproxy26_bin()
        .unwrap_or_else(|| panic!("/usr/sbin/haproxy missing: run scripts/install-deps.sh"));
    let origins = start_origins(&["o1"]);
    let dead = dead_port();
    let scratch = Scratch::new();
    let (p1, p2) = (free_port(), free_port());
    let (s1, s2) = (scratch.path("ours.sock"), scratch.path("h26.sock"));
    let _ours = start_haproxide(
        &scratch,
        &socket_cfg(&s1, "admin", p1, origins.addrs[0], dead),
        &[addr(p1)],
    );
    let _theirs = start_proxy(
        &h26,
        &scratch,
        "haproxy26",
        &socket_cfg(&s2, "admin", p2, origins.addrs[0], dead),
        &[addr(p2)],
    );
    wait_stats_socket(&s1);
    wait_stats_socket(&s2);
    let same = [
        "get weight web/s2",
        "get weight web",
        "get weight nope/s2",
        "get weight web/zz",
        "set weight web/s2 300",
        "set weight web/s2 50%",
        "get weight web/s2",
        "set weight web/s2 10",
        "set timeout cli",
        "set timeout cli x",
        "set timeout cli 30",
        "set timeout server 5",
        "enable server web",
        "disable server web/zz",
        "disable server nope/s2",
        "clear counters",
        "disable server web/s2",
        "disable server web/s2",
        "enable server web/s2",
    ];
    for cmd in same {
        let a = stats_cli(&s1, &format!("{cmd}\n"));
        let b = stats_cli(&s2, &format!("{cmd}\n"));
        assert_eq!(a, b, "answer to {cmd:?} differs from HAProxy 2.6");
    }
    // `disable server` then `show stat`: status MAINT in both; 2.6 appends ~100 columns
    // after 1.4's 51 but keeps 1.4's first 51 names in order.
    let a = stats_cli(&s1, "disable server web/s2\nshow stat\n");
    let b = stats_cli(&s2, "disable server web/s2\nshow stat\n");
    let ha = a.lines().nth(1).unwrap_or("");
    let hb = b.lines().nth(1).unwrap_or("");
    assert_eq!(ha, CSV_HEADER);
    assert!(hb.starts_with(CSV_HEADER), "2.6 header: {hb}");
    assert_eq!(csv_row(&a, "web", "s2")[17], "MAINT");
    assert_eq!(csv_row(&b, "web", "s2")[17], "MAINT");
    for (ra, rb) in [(csv_row(&a, "web", "s2"), csv_row(&b, "web", "s2"))] {
        // Same type, sid, weight and act/bck for the server row.
        for i in [1, 18, 19, 20, 28, 32] {
            assert_eq!(ra[i], rb[i], "field {i}");
        }
    }
    // Documented 2.6 departures: relative weights above 100% are clamped silently, a
    // missing weight has a new text, `help` lists 2.6's many commands.
    assert_eq!(
        stats_cli(&s1, "set weight web/s2 101%\n"),
        "Relative weight can only be set between 0 and 100% inclusive.\n\n"
    );
    assert_eq!(stats_cli(&s2, "set weight web/s2 101%\n"), "\n");
    assert_eq!(
        stats_cli(&s1, "set weight web/s2\n"),
        "Require 'backend/server' and 'weight' or 'weight%'.\n\n"
    );
    assert_eq!(
        stats_cli(&s2, "set weight web/s2\n"),
        "Require <weight> or <weight%>.\n\n"
    );
}

/// hatop (Debian package) on our socket, under tmux: the status screen shows the proxy
/// and its servers, and hatop's CLI mode disables then enables a server.
#[test]
fn hatop_drives_our_socket() {
    require_tool("/usr/bin/hatop");
    require_tool("/usr/bin/tmux");
    let origins = start_origins(&["o1"]);
    let scratch = Scratch::new();
    let sock = scratch.path("hatop.sock");
    let port = free_port();
    let cfg = socket_cfg(&sock, "admin", port, origins.addrs[0], dead_port());
    let _p = start_haproxide(&scratch, &cfg, &[addr(port)]);
    wait_stats_socket(&sock);
    let tmux_sock = format!("haproxide-stats-{}", std::process::id());
    let tmux = |args: &[&str]| -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&tmux_sock)
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    struct Kill(String);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Command::new("tmux")
                .args(["-L", &self.0, "kill-server"])
                .output();
        }
    }
    let _kill = Kill(tmux_sock.clone());
    let hatop = format!("hatop -s {} -i 1", sock.display());
    tmux(&[
        "new-session",
        "-d",
        "-s",
        "h",
        "-x",
        "132",
        "-y",
        "40",
        &hatop,
    ]);
    let screen_has = |needles: &[&str]| {
        let mut last = String::new();
        let ok = wait_until(Duration::from_secs(10), || {
            last = tmux(&["capture-pane", "-p", "-t", "h"]);
            needles.iter().all(|n| last.contains(n))
        });
        (ok, last)
    };
    let (ok, screen) = screen_has(&[
        ">>> web",
        "FRONTEND",
        "s1",
        "s2",
        "BACKEND",
        "Node: testnode",
    ]);
    assert!(ok, "hatop screen:\n{screen}");
    assert!(screen.contains("HAProxy Version: 1.4.25"), "{screen}");

    let s2_status = || csv_row(&stats_cli(&sock, "show stat\n"), "web", "s2")[17].to_string();
    // Mode 5 is hatop's embedded CLI: it sends what we type to the socket.
    tmux(&["send-keys", "-t", "h", "5"]);
    let (ok, screen) = screen_has(&["embedded interactive HAProxy shell"]);
    assert!(ok, "{screen}");
    tmux(&["send-keys", "-t", "h", "disable server web/s2", "Enter"]);
    assert!(
        wait_until(Duration::from_secs(10), || s2_status() == "MAINT"),
        "hatop did not disable s2: {}",
        tmux(&["capture-pane", "-p", "-t", "h"])
    );
    tmux(&["send-keys", "-t", "h", "enable server web/s2", "Enter"]);
    assert!(
        wait_until(Duration::from_secs(10), || s2_status() == "no check"),
        "hatop did not enable s2"
    );
    // Back to the status screen: hatop keeps parsing our CSV (ESC-1).
    tmux(&["send-keys", "-t", "h", "Escape", "1"]);
    let (ok, screen) = screen_has(&["s2", "BACKEND", "UP"]);
    assert!(ok, "{screen}");
}

#[test]
fn monitor_uri_and_monitor_net() {
    let origins = start_origins(&["o1"]);
    let scratch = Scratch::new();
    let (m, f, n) = (free_port(), free_port(), free_port());
    let syslog = std::net::UdpSocket::bind("127.0.0.1:0").expect("syslog receiver");
    syslog
        .set_read_timeout(Some(Duration::from_millis(400)))
        .expect("timeout");
    let dead = dead_port();
    let cfg = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         listen site_status\n    bind 127.0.0.1:{m}\n    log {log} local0\n    option httplog\n\
         \x20   monitor-uri /site_status\n    server down 127.0.0.1:{dead} check inter 100 fall 1\n\
         listen failing\n    bind 127.0.0.1:{f}\n    monitor-uri /check\n    acl dead nbsrv(failing) lt 1\n\
         \x20   monitor fail if dead\n    server down 127.0.0.1:{dead} check inter 100 fall 1\n\
         listen mnet\n    bind 127.0.0.1:{n}\n    monitor-net 127.0.0.1/32\n    server o {o}\n",
        log = syslog.local_addr().expect("addr"),
        o = origins.addrs[0],
    );
    let _p = start_haproxide(&scratch, &cfg, &[addr(m), addr(f), addr(n)]);
    let ok_page = "HTTP/1.0 200 OK\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>200 OK</h1>\nHAProxy: service ready.\n</body></html>\n";
    let unavailable = "HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n";
    // Wait for the servers to be DOWN (first failed check).
    assert!(wait_until(Duration::from_secs(10), || {
        get(addr(f), "t", "/check", None).is_ok_and(|r| r.status == 503)
    }));
    // monitor-uri answers 200 while every server is down, exact URI only, never logged.
    let r = get(addr(m), "t", "/site_status", None).expect("monitor");
    assert_eq!(String::from_utf8_lossy(&r.raw), ok_page);
    let r = raw_request(addr(m), b"POST /site_status HTTP/1.0\r\n\r\n").expect("monitor");
    assert_eq!(String::from_utf8_lossy(&r.raw), ok_page);
    // Drain what was logged so far (state changes of the checked server, start-up probe).
    let mut buf = [0u8; 2048];
    let drained = Instant::now();
    while syslog.recv(&mut buf).is_ok() && drained.elapsed() < Duration::from_secs(5) {}
    let r = get(addr(m), "t", "/site_status", None).expect("monitor");
    assert_eq!(String::from_utf8_lossy(&r.raw), ok_page);
    assert!(syslog.recv(&mut buf).is_err(), "monitor request was logged");
    let r = get(addr(m), "t", "/site_status?x", None).expect("other uri");
    assert_eq!(String::from_utf8_lossy(&r.raw), unavailable);
    assert!(syslog.recv(&mut buf).is_ok(), "a normal request is logged");
    // monitor fail: 503 with the same canned page.
    let r = get(addr(f), "t", "/check", None).expect("monitor fail");
    assert_eq!(String::from_utf8_lossy(&r.raw), unavailable);
    // monitor-net: the fixed answer, without reading, never reaching the server.
    let before = origins.stats[0]
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    let r = get(addr(n), "t", "/", None).expect("monitor-net");
    assert_eq!(r.raw, b"HTTP/1.0 200 OK\r\n\r\n");
    let after = origins.stats[0]
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(before, after);
}

#[test]
fn prometheus_uri_serves_the_same_counters() {
    let origins = start_origins(&["o1"]);
    let scratch = Scratch::new();
    let (fe, st) = (free_port(), free_port());
    let cfg = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         listen web\n    bind 127.0.0.1:{fe}\n    server s1 {o}\n\
         listen stats\n    bind 127.0.0.1:{st}\n    stats uri /s\n    stats auth a:b\n    stats prometheus-uri /metrics\n",
        o = origins.addrs[0]
    );
    let _p = start_haproxide(&scratch, &cfg, &[addr(fe), addr(st)]);
    for _ in 0..3 {
        assert_eq!(get(addr(fe), "t", "/", None).expect("req").status, 200);
    }
    // A transaction is counted when it ends, which can be just after the client got the
    // whole response: wait for the three to be counted.
    wait_csv_auth(addr(st), "/s;csv", ("a", "b"), |c| {
        c.lines()
            .any(|l| l.starts_with("web,FRONTEND,") && l.split(',').nth(40) == Some("3"))
    });
    assert_eq!(get_auth(addr(st), "/metrics", None).status, 401);
    let r = get_auth(addr(st), "/metrics", Some(("a", "b")));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; version=0.0.4"));
    let m = r.body_text();
    let csv = get_auth(addr(st), "/s;csv", Some(("a", "b"))).body_text();
    // The same figures as the CSV (the start-up probe is one more frontend session).
    let fe_stot = csv_row(&csv, "web", "FRONTEND")[7].to_string();
    assert!(
        m.contains(&format!(
            "haproxy_frontend_sessions_total{{frontend=\"web\"}} {fe_stot}\n"
        )),
        "{m}"
    );
    assert!(m.contains("haproxy_frontend_http_responses_total{code=\"2xx\",frontend=\"web\"} 3\n"));
    assert!(m.contains("haproxy_server_sessions_total{backend=\"web\",server=\"s1\"} 3\n"));
    assert!(m.contains("haproxy_backend_up{backend=\"web\"} 1\n"));
    assert_eq!(csv_row(&csv, "web", "s1")[7], "3");
}
