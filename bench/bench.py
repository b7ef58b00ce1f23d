#!/usr/bin/env python3
"""haproxide side by side with HAProxy 2.6 and nginx alone, on loopback.

A benchmark, not a test: it never fails on a figure, it reports them. One run interleaves
every target (haproxide and HAProxy 2.6 at one and two threads, nginx alone as the ceiling)
over several rounds and reports medians with min-max and the ratios haproxide/HAProxy.

Scenarios (see docs/performance.md):
  a     keep-alive, 1 KiB responses, both proxies in their default HTTP mode
        (haproxide: 1.4's tunnel mode; HAProxy 2.6: keep-alive with server connection reuse)
  a_sc  the same with `option http-server-close` on both sides: every request analysed,
        one server connection per request (the fair comparison)
  b     `Connection: close` from the client, 1 KiB responses
  c     keep-alive, 64 KiB responses: MB/s
  d     idle client connections: proxy RSS per connection
  l     as a_sc with `option httplog` to a local UDP socket that never reads (the kernel
        drops what overflows it): the proxy's own cost of logging every request, without
        a syslog daemon competing for the same cores (issue #7 asks for at most 5% of
        throughput); run right after a_sc in each round
  e     the reference config's features (cookie insert, hdr_reg(host) ACL routing,
        option forwardfor, httplog to a local UDP receiver) with http-server-close; its cost
        is compared with a_sc

Usage: bench.py BIN [--rounds N] [--duration S] [--out DIR] [--docs FILE]
Everything it starts lives in a temporary directory and is stopped on exit.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HAPROXY26 = "/usr/sbin/haproxy"
NGINX = "/usr/sbin/nginx"
WRK = "/usr/bin/wrk"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# Processes started by this script, stopped on exit (by pid, never by name).
STARTED = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, deadline=10.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port} after {deadline}s")


def start(argv, log_path, env=None):
    log = open(log_path, "ab")
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                         stdin=subprocess.DEVNULL)
    STARTED.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in STARTED:
        STARTED.remove(p)


def cpu_ticks(pid):
    """user+sys of a process (all its threads, dead ones included) in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


# ---------------------------------------------------------------- configurations

NGINX_CONF = """\
worker_processes 1;
daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
worker_rlimit_nofile 19000;
events {{ worker_connections 18000; }}
http {{
    access_log off;
    default_type application/octet-stream;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    keepalive_timeout 120s;
    keepalive_requests 100000000;
    open_file_cache max=16;
    open_file_cache_valid 600s;
    sendfile on;
    tcp_nodelay on;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {tmp}/www;
    }}
}}
"""

# HAProxy 2.6 refuses to start when 2 x maxconn (plus a few) exceeds the fd limit, and this
# script cannot raise the hard limit (20000 on the workplace machines): maxconn follows the
# limit, and the idle-connection scenario opens at most maxconn - 100 connections.
_FD_HARD = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
GLOBAL_MAXCONN = 10100 if _FD_HARD == resource.RLIM_INFINITY else min(10100, (_FD_HARD - 60) // 2)


def proxy_cfg(kind, threads, port, nginx_port, variant, log_port):
    """Configuration for haproxide (1.4 dialect) or HAProxy 2.6 ('haproxy')."""
    g = ["global", f"    maxconn {GLOBAL_MAXCONN}"]
    if kind == "haproxy":
        g.append(f"    nbthread {threads}")
    if variant in ("features", "log"):
        g.append(f"    log 127.0.0.1:{log_port} local0 info")
    d = ["defaults", "    mode http", f"    maxconn {GLOBAL_MAXCONN}",
         "    timeout connect 5s", "    timeout client 60s", "    timeout server 60s"]
    if variant in ("server-close", "features", "log"):
        d.append("    option http-server-close")
    if variant == "log":
        d += ["    option httplog", "    log global"]
    if variant != "features":
        fe = ["frontend fe", f"    bind 127.0.0.1:{port}", "    default_backend be",
              "backend be", f"    server s1 127.0.0.1:{nginx_port}"]
        return "\n".join(g + d + fe) + "\n"
    # The reference config's WEB_SITE frontend on loopback (examples/seed-1.4.cfg), with
    # http-server-close instead of httpclose so that the client keeps its connection.
    # HAProxy 2.6 has no appsession: that backend is left out of both configurations.
    d += ["    option httplog", "    log global", "    option redispatch", "    retries 3"]
    srv = (f"    server REALsrv_70 127.0.0.1:{nginx_port} cookie 11 check inter 1500 rise 3 fall 3 weight 1\n"
           f"    server REALsrv_120 127.0.0.1:{nginx_port} cookie 12 check inter 1500 rise 3 fall 3 weight 1")
    rest = f"""\
frontend WEB_SITE
    bind 127.0.0.1:{port}
    option forwardfor
    acl COOKIE hdr_reg(host) -i ^(cookie.9ai9.net)
    acl SOURCE hdr_reg(host) -i ^(sourceip.9ai9.net)
    acl NOSESSION hdr_reg(host) -i ^(nosession.9ai9.net)
    use_backend COOKIE_srv if COOKIE
    use_backend SOURCE_srv if SOURCE
    use_backend NOSESSION_srv if NOSESSION
backend COOKIE_srv
    cookie SESSION_COOKIE insert indirect nocache
{srv}
backend SOURCE_srv
    balance source
{srv}
backend NOSESSION_srv
    balance roundrobin
{srv}
"""
    return "\n".join(g + d) + "\n" + rest


# ---------------------------------------------------------------- targets

class Target:
    def __init__(self, name, kind, threads):
        self.name, self.kind, self.threads = name, kind, threads


TARGETS = {
    "nginx": Target("nginx", "nginx", 1),
    "haproxide-1t": Target("haproxide-1t", "haproxide", 1),
    "haproxide-2t": Target("haproxide-2t", "haproxide", 2),
    "haproxy26-1t": Target("haproxy26-1t", "haproxy", 1),
    "haproxy26-2t": Target("haproxy26-2t", "haproxy", 2),
}
PROXIES = ["haproxide-1t", "haproxide-2t", "haproxy26-1t", "haproxy26-2t"]

# name: (targets, config variant, path, extra wrk headers, description)
SCENARIOS = {
    "a": (["nginx"] + PROXIES, "default", "/1k", [],
          "keep-alive, 64 conns, 1 KiB, default HTTP mode"),
    "a_sc": (PROXIES, "server-close", "/1k", [],
             "keep-alive, 64 conns, 1 KiB, option http-server-close both sides"),
    "l": (["haproxide-1t", "haproxy26-1t"], "log", "/1k", [],
          "as a_sc, with option httplog to a local UDP socket that never reads"),
    "b": (["nginx"] + PROXIES, "default", "/1k", ["Connection: close"],
          "Connection: close from the client, 64 conns, 1 KiB"),
    "c": (["nginx"] + PROXIES, "default", "/64k", [],
          "keep-alive, 64 conns, 64 KiB"),
    "e": (["haproxide-1t", "haproxy26-1t"], "features", "/1k", ["Host: cookie.9ai9.net"],
          "reference features (cookie insert, hdr_reg ACLs, forwardfor, httplog/UDP), http-server-close"),
}

# Idle-connection scenarios. name: (targets, config variant, one request first?, cap, description)
IDLE_SCENARIOS = {
    "d": (PROXIES, "default", False, None, "idle client connections: proxy RSS growth per connection"),
    # After one exchange each proxy keeps what its default mode keeps: haproxide (1.4's
    # tunnel) the server connection too, HAProxy 2.6 only the client (its server
    # connection goes back to a shared pool). Not a target: the two hold different things.
    "k": (["haproxide-1t", "haproxy26-1t"], "default", True, 3000,
          "idle kept-alive connections after one request each, default HTTP mode (1.4 tunnel: "
          "haproxide also keeps the server connection): proxy RSS growth per connection"),
    "k_sc": (["haproxide-1t", "haproxy26-1t"], "server-close", True, 3000,
             "idle kept-alive connections after one request each, option http-server-close: "
             "proxy RSS growth per connection"),
}


class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = os.path.abspath(args.bin)
        self.tmp = tempfile.mkdtemp(prefix="haproxide-bench-")
        self.nginx_port = free_port()
        self.log_port = None
        self.nginx = None
        self.sink = None

    # -- backend and log receiver

    def start_nginx(self):
        www = os.path.join(self.tmp, "www")
        os.makedirs(www)
        with open(os.path.join(www, "1k"), "wb") as f:
            f.write(b"x" * 1023 + b"\n")
        with open(os.path.join(www, "64k"), "wb") as f:
            f.write(b"y" * 65535 + b"\n")
        conf = os.path.join(self.tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(tmp=self.tmp, port=self.nginx_port))
        self.nginx = start([NGINX, "-c", conf, "-p", self.tmp, "-e",
                            os.path.join(self.tmp, "nginx-error.log")],
                           os.path.join(self.tmp, "nginx.out"))
        wait_port(self.nginx_port, self.nginx)

    def start_sink(self):
        self.log_port = free_port()
        self.sink_count = os.path.join(self.tmp, "udp-count")
        self.sink = start([sys.executable, os.path.abspath(__file__), "--udp-sink",
                           str(self.log_port), self.sink_count],
                          os.path.join(self.tmp, "udp-sink.out"))

    # -- proxies

    def start_target(self, t, variant, tag):
        if t.kind == "nginx":
            return self.nginx.pid, self.nginx_port, None
        port = free_port()
        cfg = os.path.join(self.tmp, f"{tag}.cfg")
        with open(cfg, "w") as f:
            log_port = self.blackhole_port if variant == "log" else self.log_port
            f.write(proxy_cfg(t.kind, t.threads, port, self.nginx_port, variant, log_port))
        env = dict(os.environ)
        if t.kind == "haproxide":
            env["HAPROXIDE_WORKERS"] = str(t.threads)
            argv = [self.bin, "-db", "-f", cfg]
        else:
            argv = [HAPROXY26, "-db", "-f", cfg]
        p = start(argv, os.path.join(self.tmp, f"{tag}.out"), env=env)
        wait_port(port, p)
        return p.pid, port, p

    # -- load

    def wrk(self, port, path, headers, duration, conns=64):
        argv = [WRK, "-t1", f"-c{conns}", f"-d{duration}s", "--latency", "--timeout", "5s",
                "-s", os.path.join(HERE, "report.lua")]
        for h in headers:
            argv += ["-H", h]
        argv.append(f"http://127.0.0.1:{port}{path}")
        out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30)
        for line in out.stdout.splitlines():
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError(f"wrk printed no summary: {out.stdout} {out.stderr}")

    def run_load(self, sc_name, t, rnd):
        targets, variant, path, headers, _ = SCENARIOS[sc_name]
        tag = f"{sc_name}-{t.name}-r{rnd}"
        pid, port, proc = self.start_target(t, variant, tag)
        try:
            # Warm-up: pools, allocator arenas and nginx's file cache settle first.
            self.wrk(port, path, headers, 1)
            c0 = cpu_ticks(pid)
            r = self.wrk(port, path, headers, self.args.duration)
            c1 = cpu_ticks(pid)
        finally:
            if proc is not None:
                stop(proc)
        secs = r["duration_us"] / 1e6
        errors = sum(r[k] for k in r if k.startswith("err_"))
        res = {
            "rps": r["requests"] / secs,
            "p50_ms": r["lat_p50_us"] / 1000.0,
            "p99_ms": r["lat_p99_us"] / 1000.0,
            "mb_s": r["bytes"] / secs / 1e6,
            "cpu_us_per_req": (c1 - c0) / CLK_TCK * 1e6 / max(r["requests"], 1),
            "requests": r["requests"],
            "errors": errors,
        }
        return res

    def run_idle(self, sc_name, t, rnd, n):
        _targets, variant, request, cap, _desc = IDLE_SCENARIOS[sc_name]
        if cap is not None:
            n = min(n, cap)
        tag = f"{sc_name}-{t.name}-r{rnd}"
        pid, port, proc = self.start_target(t, variant, tag)
        client = None
        try:
            self.wrk(port, "/1k", [], 1, conns=16)
            time.sleep(0.3)
            base_fds = fd_count(pid)
            before = rss_kib(pid)
            client = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--idle-client", str(port), str(n)]
                + (["request"] if request else []),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            STARTED.append(client)
            line = client.stdout.readline().strip()
            if not line.startswith("ready"):
                raise RuntimeError(f"idle client: {line!r}")
            opened = int(line.split()[1])
            end = time.monotonic() + 30
            while fd_count(pid) < base_fds + opened and time.monotonic() < end:
                time.sleep(0.1)
            # Each connection that had its response is held (with its server connection in
            # haproxide's tunnel: two fds); idle ones count as the proxy accepts them.
            accepted = opened if request else fd_count(pid) - base_fds
            time.sleep(0.5)
            after = rss_kib(pid)
            fds = fd_count(pid) - base_fds
        finally:
            if client is not None:
                client.stdin.close()
                client.wait(10)
                STARTED.remove(client)
            if proc is not None:
                stop(proc)
        return {
            "rss_before_kib": before,
            "rss_after_kib": after,
            "idle_conns": accepted,
            "fds_per_conn": fds / max(accepted, 1),
            "bytes_per_conn": (after - before) * 1024 / max(accepted, 1),
        }

    # -- the run

    def run(self):
        self.start_nginx()
        self.start_sink()
        # (l): a UDP socket bound and never read; once its buffer is full the kernel drops
        # the datagrams, so the proxies pay for sending and nobody for receiving.
        self.blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.blackhole.bind(("127.0.0.1", 0))
        self.blackhole_port = self.blackhole.getsockname()[1]
        raw = {s: {} for s in list(SCENARIOS) + list(IDLE_SCENARIOS)}
        rounds = self.args.rounds
        for rnd in range(rounds):
            for sc_name, (targets, *_rest) in SCENARIOS.items():
                if self.args.only and sc_name not in self.args.only:
                    continue
                # Rotate the order every round so that no target always runs first.
                order = targets[rnd % len(targets):] + targets[:rnd % len(targets)]
                for name in order:
                    res = self.run_load(sc_name, TARGETS[name], rnd)
                    raw[sc_name].setdefault(name, []).append(res)
                    print(f"round {rnd + 1}/{rounds} {sc_name:5} {name:13} "
                          f"{res['rps']:9.0f} req/s  p50 {res['p50_ms']:6.2f} ms  "
                          f"p99 {res['p99_ms']:6.2f} ms  {res['mb_s']:7.1f} MB/s  "
                          f"{res['cpu_us_per_req']:6.2f} us CPU/req  err {res['errors']}",
                          flush=True)
            for sc_name, (targets, *_rest) in IDLE_SCENARIOS.items():
                if self.args.only and sc_name not in self.args.only:
                    continue
                order = targets[rnd % len(targets):] + targets[:rnd % len(targets)]
                for name in order:
                    res = self.run_idle(sc_name, TARGETS[name], rnd, self.args.idle)
                    raw[sc_name].setdefault(name, []).append(res)
                    print(f"round {rnd + 1}/{rounds} {sc_name:5} {name:13} "
                          f"{res['idle_conns']} idle conns  {res['bytes_per_conn']:7.0f} B/conn",
                          flush=True)
        return raw

    def cleanup(self):
        for p in list(STARTED):
            stop(p)
        if self.sink is not None:
            pass
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- summary

METRICS = {
    "a": ["rps", "p50_ms", "p99_ms", "cpu_us_per_req"],
    "a_sc": ["rps", "p50_ms", "p99_ms", "cpu_us_per_req"],
    "b": ["rps", "p50_ms", "p99_ms", "cpu_us_per_req"],
    "c": ["mb_s", "p99_ms", "cpu_us_per_req"],
    "l": ["rps", "p99_ms", "cpu_us_per_req"],
    "e": ["rps", "p99_ms", "cpu_us_per_req"],
    "d": ["bytes_per_conn"],
    "k": ["bytes_per_conn"],
    "k_sc": ["bytes_per_conn"],
}
UNITS = {"rps": "req/s", "p50_ms": "p50 ms", "p99_ms": "p99 ms", "mb_s": "MB/s",
         "cpu_us_per_req": "CPU µs/req", "bytes_per_conn": "RSS B/conn"}


def summarise(raw):
    out = {}
    for sc, per in raw.items():
        for name, runs in per.items():
            for m in METRICS[sc]:
                vals = [r[m] for r in runs]
                out.setdefault(sc, {}).setdefault(name, {})[m] = {
                    "median": statistics.median(vals), "min": min(vals), "max": max(vals),
                    "runs": vals,
                }
            out[sc][name]["errors"] = sum(r.get("errors", 0) for r in runs)
    return out


def med(s, sc, name, m):
    try:
        return s[sc][name][m]["median"]
    except KeyError:
        return None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def ratios(s):
    """haproxide/HAProxy 2.6 at equal thread counts, and the targets of issue #10."""
    r = {}
    for sc in s:
        for m in METRICS[sc]:
            for t in ("1t", "2t"):
                v = ratio(med(s, sc, f"haproxide-{t}", m), med(s, sc, f"haproxy26-{t}", m))
                if v is not None:
                    r[f"{sc}.{m}.{t}"] = v
    # (e) cost relative to its baseline (a_sc), for each proxy.
    for name in PROXIES:
        for m in ("cpu_us_per_req", "rps"):
            for sc in ("e", "l"):
                v = ratio(med(s, sc, name, m), med(s, "a_sc", name, m))
                if v is not None:
                    r[f"{sc}_over_a_sc.{m}.{name}"] = v
    return r


def targets(s, r):
    """Each target: (description, value, goal, met)."""
    rows = []

    def add(desc, v, goal, le):
        if v is None:
            return
        rows.append({"target": desc, "value": v, "goal": goal, "le": le,
                     "met": v <= goal if le else v >= goal})

    for sc in ("a", "a_sc"):
        add(f"({sc}) CPU/req haproxide-1t ÷ HAProxy nbthread 1", r.get(f"{sc}.cpu_us_per_req.1t"), 0.8, True)
    for sc in ("a", "a_sc", "b"):
        for t in ("1t", "2t"):
            add(f"({sc}) req/s {t}", r.get(f"{sc}.rps.{t}"), 1.1, False)
            add(f"({sc}) p99 {t}", r.get(f"{sc}.p99_ms.{t}"), 1.0, True)
    for t in ("1t", "2t"):
        add(f"(c) 64 KiB MB/s {t}", r.get(f"c.mb_s.{t}"), 1.0, False)
        add(f"(d) RSS per idle conn {t}", r.get(f"d.bytes_per_conn.{t}"), 1.0, True)
    for t in ("1t", "2t"):
        hx = r.get(f"e_over_a_sc.cpu_us_per_req.haproxide-{t}")
        hp = r.get(f"e_over_a_sc.cpu_us_per_req.haproxy26-{t}")
        if hx is not None and hp is not None:
            add(f"(e) CPU/req cost e÷a_sc, haproxide's over HAProxy's, {t}", hx / hp, 1.0, True)
    add("(l) httplog: haproxide req/s with logging ÷ without (issue #7)",
        r.get("l_over_a_sc.rps.haproxide-1t"), 0.95, False)
    add("(l) logging one request, measured alone, ÷ haproxide-1t's CPU/req in (a_sc) (issue #7)",
        r.get("log_cost_share_of_a_sc.haproxide-1t"), 0.05, True)
    hx = r.get("l_over_a_sc.cpu_us_per_req.haproxide-1t")
    hp = r.get("l_over_a_sc.cpu_us_per_req.haproxy26-1t")
    if hx is not None and hp is not None:
        add("(l) CPU/req cost l÷a_sc, haproxide's over HAProxy's, 1t", hx / hp, 1.0, True)
    return rows


def measure_log_cost(binary):
    """Runs bench/log_cost.rs (median of three runs): CPU µs one request's log line costs."""
    if not binary or not os.access(binary, os.X_OK):
        return None
    runs = []
    for _ in range(3):
        out = subprocess.run([binary], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            print(f"log_cost failed: {out.stderr.strip()}")
            return None
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    vals = sorted(x["cpu_us_per_line"] for x in runs)
    return {"cpu_us_per_line": statistics.median(vals), "runs": vals,
            "lines_per_run": runs[0]["lines"]}


def fmt(v, m):
    if v is None:
        return "–"
    if m == "rps" or m == "bytes_per_conn":
        return f"{v:,.0f}"
    if m == "mb_s":
        return f"{v:,.0f}"
    return f"{v:.3g}" if v < 10 else f"{v:.1f}"


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    def ver(argv):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (p.stdout + p.stderr).splitlines()[0].strip()
        except (OSError, IndexError, subprocess.SubprocessError):
            return "?"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "haproxy": ver([HAPROXY26, "-v"]),
        "nginx": ver([NGINX, "-v"]),
        "wrk": ver([WRK, "-v"]),
    }


def markdown(result):
    s, r = result["summary"], result["ratios"]
    m = result["machine"]
    lines = [
        f"Run {result['date']} on {m['nproc']} CPU ({m['cpu']}), kernel {m['kernel']}; "
        f"{m['haproxy']}; {m['nginx']}; {m['wrk']}.",
        f"{result['params']['rounds']} rounds × {result['params']['duration']} s per run, "
        f"64 connections, one wrk thread; median (min–max) over the rounds.",
        "",
    ]
    names = ["nginx"] + PROXIES
    for sc in list(SCENARIOS) + list(IDLE_SCENARIOS):
        if sc not in s:
            continue
        if sc in SCENARIOS:
            desc = SCENARIOS[sc][4]
        else:
            _t, _v, _r, cap, what = IDLE_SCENARIOS[sc]
            n = result["params"]["idle"] if cap is None else min(cap, result["params"]["idle"])
            desc = f"{n} {what}"
        lines.append(f"**({sc}) {desc}**")
        lines.append("")
        ms = METRICS[sc]
        lines.append("| target | " + " | ".join(UNITS[x] for x in ms) + " | errors |")
        lines.append("|---|" + "---|" * (len(ms) + 1))
        for name in names:
            if name not in s[sc]:
                continue
            cells = []
            for x in ms:
                d = s[sc][name][x]
                cells.append(f"{fmt(d['median'], x)} ({fmt(d['min'], x)}–{fmt(d['max'], x)})")
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {s[sc][name]['errors']} |")
        rr = []
        for x in ms:
            for t in ("1t", "2t"):
                v = r.get(f"{sc}.{x}.{t}")
                if v is not None:
                    rr.append(f"{UNITS[x]} {t} {v:.2f}×")
        if rr:
            lines.append("")
            lines.append("haproxide ÷ HAProxy 2.6: " + ", ".join(rr))
        lines.append("")
    lc = result.get("log_cost")
    if lc:
        share = r.get("log_cost_share_of_a_sc.haproxide-1t")
        lines.append("**Logging one request, measured alone** (`bench/log_cost.rs`: httplog "
                     "line and datagram to a UDP socket that never reads, one thread, "
                     f"{lc['lines_per_run']:,} lines, median of three runs)")
        lines.append("")
        lines.append(f"{lc['cpu_us_per_line']:.2f} µs CPU per line "
                     f"({', '.join(f'{v:.2f}' for v in lc['runs'])})"
                     + (f" = {share * 100:.1f} % of haproxide-1t's CPU per request in (a_sc)"
                        if share is not None else ""))
        lines.append("")
    lines.append("**Targets (issue #10)**")
    lines.append("")
    lines.append("| target | ratio | goal | met |")
    lines.append("|---|---|---|---|")
    for t in result["targets"]:
        op = "≤" if t["le"] else "≥"
        # Shares (goal under 1/2) read better as percentages than as ratios.
        if t["goal"] < 0.5:
            value, goal = f"{t['value'] * 100:.1f} %", f"{t['goal'] * 100:g} %"
        else:
            value, goal = f"{t['value']:.2f}×", f"{t['goal']}×"
        lines.append(f"| {t['target']} | {value} | {op} {goal} | "
                     f"{'yes' if t['met'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def update_docs(path, md):
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return False
    if begin not in text or end not in text:
        return False
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(head + begin + "\n" + md + end + tail)
    return True


# ---------------------------------------------------------------- helper modes

def idle_client(port, n, request=False):
    """Opens n idle connections (after one GET /1k each when `request`), prints
    `ready <count>`, holds them until stdin closes."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 100
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks = []
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if request:
                exchange(s)
        except OSError as e:
            print(f"connect failed after {len(socks)}: {e}", file=sys.stderr)
            break
        socks.append(s)
    print(f"ready {len(socks)}", flush=True)
    sys.stdin.read()
    for s in socks:
        s.close()


def exchange(s):
    """One GET /1k on a kept-alive connection, read to the end of the response body."""
    s.sendall(b"GET /1k HTTP/1.1\r\nHost: bench\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got:
        d = s.recv(65536)
        if not d:
            raise OSError("closed before the response head")
        got += d
    head, body = got.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        d = s.recv(65536)
        if not d:
            raise OSError("closed in the response body")
        body += d


def udp_sink(port, count_path):
    """Receives and counts syslog datagrams; writes the count on SIGTERM."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("127.0.0.1", port))
    n = 0

    def done(*_):
        with open(count_path, "w") as f:
            f.write(str(n))
        sys.exit(0)

    signal.signal(signal.SIGTERM, done)
    while True:
        s.recv(65536)
        n += 1


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--idle-client":
        return idle_client(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:] == ["request"])
    if len(sys.argv) > 1 and sys.argv[1] == "--udp-sink":
        return udp_sink(int(sys.argv[2]), sys.argv[3])
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 3)))
    ap.add_argument("--duration", type=int, default=int(os.environ.get("BENCH_DURATION", 3)))
    ap.add_argument("--idle", type=int, default=int(os.environ.get("BENCH_IDLE", 10000)))
    ap.add_argument("--only", default=os.environ.get("BENCH_ONLY", ""),
                    help="comma-separated scenarios (a,a_sc,b,c,d,k,k_sc,e,l); default all")
    ap.add_argument("--out", default="target/bench")
    ap.add_argument("--docs", default=None, help="markdown file whose bench section to update")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--log-cost", default=None,
                    help="bench/log_cost.rs binary: CPU cost of logging one request, alone")
    args = ap.parse_args()
    args.only = [x for x in args.only.split(",") if x]
    if args.idle > GLOBAL_MAXCONN - 100:
        print(f"idle connections: {GLOBAL_MAXCONN - 100} instead of {args.idle} "
              f"(fd hard limit {_FD_HARD})")
        args.idle = GLOBAL_MAXCONN - 100
    for p in (HAPROXY26, NGINX, WRK):
        if not os.access(p, os.X_OK):
            sys.exit(f"{p} is missing: run scripts/install-deps.sh")
    b = Bench(args)
    t0 = time.monotonic()
    try:
        raw = b.run()
        if b.sink is not None:
            stop(b.sink)
            try:
                with open(b.sink_count) as f:
                    log_lines = int(f.read())
            except (OSError, ValueError):
                log_lines = None
    finally:
        if args.keep:
            print(f"kept {b.tmp}")
        b.cleanup()
    log_cost = measure_log_cost(args.log_cost)
    s = summarise(raw)
    r = ratios(s)
    if log_cost is not None:
        base = med(s, "a_sc", "haproxide-1t", "cpu_us_per_req")
        v = ratio(log_cost["cpu_us_per_line"], base)
        if v is not None:
            r["log_cost_share_of_a_sc.haproxide-1t"] = v
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "params": {"rounds": args.rounds, "duration": args.duration, "idle": args.idle,
                   "connections": 64, "bin": args.bin},
        "log_datagrams_received": log_lines,
        "log_cost": log_cost,
        "elapsed_s": round(time.monotonic() - t0, 1),
        "raw": raw,
        "summary": s,
        "ratios": r,
    }
    result["targets"] = targets(s, r)
    md = markdown(result)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(md)
    print()
    print(md)
    print(f"wrote {args.out}/results.json and {args.out}/results.md "
          f"({result['elapsed_s']} s)")
    if args.docs:
        if update_docs(args.docs, md):
            print(f"updated {args.docs}")
        else:
            print(f"{args.docs}: no bench markers, not updated")


if __name__ == "__main__":
    main()
