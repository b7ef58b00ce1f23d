//! The stats socket (`stats socket <path> [uid|user] [gid|group] [mode] [level]`, `stats
//! timeout`, `stats maxconn` in `global`): a unix stream socket speaking 1.4's line
//! protocol, which `hatop`, `socat` scripts and monitoring plugins use unchanged.
//!
//! * One command per line; a `;` ends a command too, so `show info;show stat` runs two.
//!   Every response ends with an empty line (`\n`), or with `\n> ` in interactive mode
//!   (`prompt` toggles it). A non-interactive connection closes once the input it has
//!   received is consumed; `quit` closes at once. An empty line prints the usage outside
//!   interactive mode.
//! * Levels `user` < `operator` (default) < `admin`, with 1.4's `Permission denied`.
//! * Commands: `help`, `prompt`, `quit`, `show info`, `show stat [<iid> <type> <sid>]`,
//!   `show errors [<iid>]`, `show sess [<id>]`, `clear counters [all]`, `get weight`,
//!   `set weight`, `set timeout cli`, `disable server`, `enable server`, with 1.4's texts.
//! * `stats timeout` (default 10 s) bounds every read and write; `set timeout cli <s>`
//!   changes it for the connection. `stats maxconn` (default 10) bounds concurrent clients.
//! * `show sess [<id>]` lists the live streams, this connection included, or dumps one
//!   (`super::sess`, fed by `proxy::registry`); `show errors [<iid>]` prints the last invalid
//!   request/response of each proxy (`super::errors`, fed by `proxy::snapshot`).
//!
//! Compare with 1.4 `src/dumpstats.c` (`stats_parse_global`, `stats_io_handler`,
//! `stats_sock_parse_request`, `stats_dump_errors_to_buffer`, `stats_dump_sess_to_buffer`)
//! and `src/proto_uxst.c` (socket creation through a temporary name, then `rename`).

use super::row::Bound;
use crate::runtime::{Proxy, Runtime};
use parser::ir::CliLevel;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener as StdUnixListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// 1.4's `stats_sock_usage_msg` (printed for `help`, unknown commands and empty lines).
pub const USAGE: &str = "Unknown command. Please enter one of the following commands only :\n  \
clear counters : clear max statistics counters (add 'all' for all counters)\n  \
help           : this message\n  \
prompt         : toggle interactive mode with prompt\n  \
quit           : disconnect\n  \
show info      : report information about the running process\n  \
show stat      : report counters for each proxy and server\n  \
show errors    : report last request and response errors for each proxy\n  \
show sess [id] : report the list of current sessions or dump this session\n  \
get weight     : report a server's current weight\n  \
set weight     : change a server's weight\n  \
set timeout    : change a timeout setting\n  \
disable server : set a server in maintenance mode\n  \
enable server  : re-enable a server that was previously in maintenance mode\n";

/// 1.4's `stats_permission_denied_msg`.
pub const PERMISSION_DENIED: &str = "Permission denied\n";

/// `stats timeout` default (1.4 sets 10 s when the socket is declared).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// `stats maxconn` default (1.4 `global.stats_sock.maxconn`).
pub const DEFAULT_MAXCONN: usize = 10;
/// Longest command line kept (1.4 reads requests into a buffer of `tune.bufsize`).
const MAX_LINE: usize = 16384;
/// 1.4's `MAX_STATS_ARGS`.
const MAX_ARGS: usize = 10;

/// Why the stats socket could not be created.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("cannot bind UNIX socket [{path}]: {source}")]
    Bind {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot change UNIX socket ownership [{path}]: {source}")]
    Chown { path: PathBuf, source: nix::Error },
    #[error("cannot change UNIX socket permissions [{path}]: {source}")]
    Chmod {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot switch final and temporary UNIX sockets [{path}]: {source}")]
    Rename {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Creates the socket of `global`'s `stats socket` line, if any: bound under a temporary
/// name, given its owner and mode, then renamed over `path` so that a running process's
/// socket is replaced atomically (1.4 `uxst_bind_listener`). Call it before dropping
/// privileges so `uid`/`gid` can be applied.
pub fn bind(rt: &Runtime) -> Result<Option<StdUnixListener>, SocketError> {
    let Some(cfg) = &rt.config.global.stats_socket else {
        return Ok(None);
    };
    let cfg = &cfg.node;
    let path = cfg.path.clone();
    let tmp = temp_name(&path);
    let _ = std::fs::remove_file(&tmp);
    let l = StdUnixListener::bind(&tmp).map_err(|source| SocketError::Bind {
        path: path.clone(),
        source,
    })?;
    let cleanup = |e: SocketError| {
        let _ = std::fs::remove_file(&tmp);
        e
    };
    if cfg.uid.is_some() || cfg.gid.is_some() {
        nix::unistd::chown(
            &tmp,
            cfg.uid.map(nix::unistd::Uid::from_raw),
            cfg.gid.map(nix::unistd::Gid::from_raw),
        )
        .map_err(|source| {
            cleanup(SocketError::Chown {
                path: path.clone(),
                source,
            })
        })?;
    }
    if let Some(mode) = cfg.mode {
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).map_err(
            |source| {
                cleanup(SocketError::Chmod {
                    path: path.clone(),
                    source,
                })
            },
        )?;
    }
    std::fs::rename(&tmp, &path).map_err(|source| {
        cleanup(SocketError::Rename {
            path: path.clone(),
            source,
        })
    })?;
    l.set_nonblocking(true)
        .map_err(|source| SocketError::Bind {
            path: path.clone(),
            source,
        })?;
    Ok(Some(l))
}

fn temp_name(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{}.tmp", std::process::id()));
    PathBuf::from(s)
}

/// Serves the stats socket until the process stops: at most `stats maxconn` clients at a
/// time, each answered by [`handle`]. Runs on the control thread's tokio runtime.
///
/// The control thread starts it with
/// `tokio::spawn(stats::socket::serve(rt.clone(), listener))`, `listener` coming from
/// [`bind`] (or use [`spawn`], which does both).
pub async fn serve(rt: Arc<Runtime>, listener: StdUnixListener) {
    let listener = match tokio::net::UnixListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            crate::cli::alert(&format!("stats socket: {e}"));
            return;
        }
    };
    let g = &rt.config.global;
    let maxconn = g
        .stats_maxconn
        .as_ref()
        .map(|m| m.node as usize)
        .unwrap_or(DEFAULT_MAXCONN)
        .max(1);
    let slots = Arc::new(tokio::sync::Semaphore::new(maxconn));
    let level = g
        .stats_socket
        .as_ref()
        .map(|s| s.node.level)
        .unwrap_or(CliLevel::Operator);
    let timeout = g
        .stats_timeout
        .as_ref()
        .map(|t| Duration::from_millis(u64::from(t.node)))
        .unwrap_or(DEFAULT_TIMEOUT);
    loop {
        // Like a full 1.4 listener, stop accepting while `maxconn` clients are connected.
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let rt = rt.clone();
        tokio::spawn(async move {
            handle(&rt, stream, level, timeout).await;
            drop(permit);
        });
    }
}

/// Binds the configured socket and spawns [`serve`] on the current tokio runtime; reports a
/// failure the 1.4 way (`Starting frontend GLOBAL: ...`) and returns false.
pub fn spawn(rt: &Arc<Runtime>) -> bool {
    match bind(rt) {
        Ok(Some(l)) => {
            tokio::spawn(serve(rt.clone(), l));
            true
        }
        Ok(None) => true,
        Err(e) => {
            crate::cli::alert(&format!("Starting frontend GLOBAL: {e}"));
            false
        }
    }
}

/// One CLI connection: reads commands, writes responses, honours the timeouts.
pub async fn handle(rt: &Runtime, mut stream: UnixStream, level: CliLevel, timeout: Duration) {
    // Listed by `show sess` like 1.4's `unix_stream` sessions.
    let _reg = rt.streams.register(crate::proxy::registry::NewStream {
        origin: crate::proxy::registry::Origin::Cli,
        src: None,
        cli_fd: stream.as_raw_fd(),
        be: None,
    });
    let mut cli = Cli::new(level, timeout);
    let mut input: Vec<u8> = Vec::new();
    let mut out = String::new();
    let mut buf = [0u8; 4096];
    let mut eof = false;
    loop {
        // Take what is already there (pipelined commands) without waiting.
        while !eof {
            match stream.try_read(&mut buf) {
                Ok(0) => eof = true,
                Ok(n) => input.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        out.clear();
        let flow = cli.process(rt, &mut input, eof, &mut out);
        if !out.is_empty() {
            let w = tokio::time::timeout(cli.timeout, stream.write_all(out.as_bytes())).await;
            if !matches!(w, Ok(Ok(()))) {
                return;
            }
        }
        if flow == Flow::Close {
            let _ = stream.shutdown().await;
            return;
        }
        match tokio::time::timeout(cli.timeout, stream.read(&mut buf)).await {
            Ok(Ok(0)) => eof = true,
            Ok(Ok(n)) => input.extend_from_slice(&buf[..n]),
            Ok(Err(_)) | Err(_) => return,
        }
    }
}

/// What the connection does after a batch of commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Wait for more input.
    Continue,
    /// Close the connection.
    Close,
}

/// The state of one CLI connection (1.4 keeps it in `si->st0`/`st1` and the session).
#[derive(Clone, Debug)]
pub struct Cli {
    pub level: CliLevel,
    /// `prompt` mode.
    pub interactive: bool,
    /// `stats timeout`, or `set timeout cli`.
    pub timeout: Duration,
}

impl Cli {
    pub fn new(level: CliLevel, timeout: Duration) -> Cli {
        Cli {
            level,
            interactive: false,
            timeout,
        }
    }

    /// Runs every complete command in `input` (consuming it), appending the responses to
    /// `out`. `eof`: the client will send nothing more.
    pub fn process(
        &mut self,
        rt: &Runtime,
        input: &mut Vec<u8>,
        eof: bool,
        out: &mut String,
    ) -> Flow {
        loop {
            let Some(nl) = input.iter().position(|&b| b == b'\n') else {
                // An incomplete last line is dropped, as 1.4 does on close.
                if eof || input.len() >= MAX_LINE {
                    return Flow::Close;
                }
                return Flow::Continue;
            };
            let (end, consumed) = match input[..nl].iter().position(|&b| b == b';') {
                Some(sc) => (sc, sc + 1),
                None => (nl, nl + 1),
            };
            let mut cmd = &input[..end];
            if cmd.last() == Some(&b'\r') {
                cmd = &cmd[..cmd.len() - 1];
            }
            let line = String::from_utf8_lossy(cmd).into_owned();
            input.drain(..consumed);
            if line == "quit" {
                return Flow::Close;
            }
            if line.is_empty() {
                if !self.interactive {
                    out.push_str(USAGE);
                }
            } else if line == "prompt" {
                self.interactive = !self.interactive;
            } else if line == "help" || !self.execute(rt, &line, out) {
                out.push_str(USAGE);
            }
            out.push_str(if self.interactive { "\n> " } else { "\n" });
            if !self.interactive && input.is_empty() {
                return Flow::Close;
            }
        }
    }

    fn allowed(&self, min: CliLevel, out: &mut String) -> bool {
        if self.level < min {
            out.push_str(PERMISSION_DENIED);
            false
        } else {
            true
        }
    }

    /// Runs one command line; false when it is not a known command (the caller prints the
    /// usage), as 1.4 `stats_sock_parse_request`.
    pub fn execute(&mut self, rt: &Runtime, line: &str, out: &mut String) -> bool {
        let mut args: Vec<&str> = line.split_ascii_whitespace().take(MAX_ARGS).collect();
        while args.len() < MAX_ARGS + 1 {
            args.push("");
        }
        match (args[0], args[1]) {
            ("show", "stat") => {
                let bound = (!args[2].is_empty() && !args[3].is_empty() && !args[4].is_empty())
                    .then(|| Bound {
                        iid: super::atoi(args[2]),
                        types: super::atoi(args[3]),
                        sid: super::atoi(args[4]),
                    });
                let mut s = String::new();
                super::csv::write_all(rt, None, bound, false, &mut s);
                out.push_str(&s);
            }
            ("show", "info") => {
                super::info::show_info(&super::info::ProcessInfo::collect(rt), out);
            }
            ("show", "sess") => {
                if self.allowed(CliLevel::Operator, out) {
                    if args[2].is_empty() {
                        super::sess::show_all(rt, out);
                    } else {
                        super::sess::show_one(rt, args[2], out);
                    }
                }
            }
            ("show", "errors") => {
                if self.allowed(CliLevel::Operator, out) {
                    let iid = if args[2].is_empty() {
                        -1
                    } else {
                        super::atoi(args[2])
                    };
                    super::errors::show_errors(rt, iid, out);
                }
            }
            ("show", _) => return false,
            ("clear", "counters") => {
                let all = args[2] == "all";
                let min = if all {
                    CliLevel::Admin
                } else {
                    CliLevel::Operator
                };
                if self.allowed(min, out) {
                    clear_counters(rt, all);
                }
            }
            ("clear", _) => return false,
            ("get", "weight") => {
                if let Some((px, idx)) = server_arg(rt, args[2], "Require 'backend/server'.\n", out)
                {
                    let (u, i) = px.lb.weight(idx).unwrap_or((0, 0));
                    out.push_str(&format!("{u} (initial {i})\n"));
                }
            }
            ("get", _) => return false,
            ("set", "weight") => {
                if self.allowed(CliLevel::Admin, out) {
                    set_weight(rt, args[2], args[3], out);
                }
            }
            ("set", "timeout") => {
                if args[2] == "cli" {
                    if args[3].is_empty() {
                        out.push_str("Expects an integer value.\n");
                    } else {
                        match parser::value::parse_time(
                            args[3].as_bytes(),
                            parser::value::TimeUnit::S,
                        ) {
                            Ok(t) if t >= 1 => self.timeout = Duration::from_secs(u64::from(t)),
                            _ => out.push_str("Invalid timeout value.\n"),
                        }
                    }
                } else {
                    out.push_str("'set timeout' only supports 'cli'.\n");
                }
            }
            ("set", _) => return false,
            ("enable", "server") | ("disable", "server") => {
                if self.allowed(CliLevel::Admin, out) {
                    let enable = args[0] == "enable";
                    if let Some((px, idx)) =
                        server_arg(rt, args[2], "Require 'backend/server'.\n", out)
                    {
                        if px.cfg.disabled.is_some() {
                            out.push_str("Proxy is disabled.\n");
                        } else {
                            let id = crate::check::ServerId {
                                proxy: px.idx,
                                server: idx,
                            };
                            // Already in (or out of) maintenance: nothing to do, no message.
                            if enable {
                                crate::check::enable_server(rt, id);
                            } else {
                                crate::check::disable_server(rt, id);
                            }
                        }
                    }
                }
            }
            ("enable", _) | ("disable", _) => return false,
            _ => return false,
        }
        true
    }
}

/// Resolves `<backend>/<server>` (names or `#<id>`), printing 1.4's error texts.
fn server_arg<'a>(
    rt: &'a Runtime,
    arg: &str,
    require: &str,
    out: &mut String,
) -> Option<(&'a Proxy, usize)> {
    let Some((b, s)) = arg
        .split_once('/')
        .filter(|(b, s)| !b.is_empty() && !s.is_empty())
    else {
        out.push_str(require);
        return None;
    };
    let Some(px) = super::find_backend(rt, b) else {
        out.push_str("No such backend.\n");
        return None;
    };
    let Some(idx) = super::find_server(px, s) else {
        out.push_str("No such server.\n");
        return None;
    };
    Some((px, idx))
}

/// `set weight <backend>/<server> <weight>[%]` (1.4 texts and checks, in 1.4's order).
fn set_weight(rt: &Runtime, target: &str, value: &str, out: &mut String) {
    let has_sep = target.split_once('/').is_some_and(|(_, s)| !s.is_empty());
    if !has_sep || value.is_empty() {
        out.push_str("Require 'backend/server' and 'weight' or 'weight%'.\n");
        return;
    }
    let Some((px, idx)) = server_arg(rt, target, "Require 'backend/server'.\n", out) else {
        return;
    };
    if px.cfg.disabled.is_some() {
        out.push_str("Proxy is disabled.\n");
        return;
    }
    let iweight = px.lb.weight(idx).map(|(_, i)| i).unwrap_or(0);
    let mut w = super::atoi(value);
    if value.contains('%') {
        if !(0..=100).contains(&w) {
            out.push_str("Relative weight can only be set between 0 and 100% inclusive.\n");
            return;
        }
        w = i64::from(iweight) * w / 100;
    } else if !(0..=256).contains(&w) {
        out.push_str("Absolute weight can only be between 0 and 256 inclusive.\n");
        return;
    }
    let w = u32::try_from(w).unwrap_or(0);
    if let Err(e) = super::http::set_weight(px, idx, w) {
        out.push_str(&e.to_string());
        out.push('\n');
    }
}

/// `clear counters [all]` on every proxy and server (1.4 resets the maxima, or everything).
pub fn clear_counters(rt: &Runtime, all: bool) {
    for px in &rt.proxies {
        px.fe_counters.clear(all);
        px.be_counters.clear(all);
        for s in &px.servers {
            s.counters.clear(all);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::test_support::{backend, runtime, server};

    fn rt() -> Runtime {
        let mut s2 = server("s2", 2, 2);
        s2.weight = 10;
        runtime(vec![backend("be", vec![server("s1", 2, 2), s2])])
    }

    fn run(rt: &Runtime, level: CliLevel, input: &str) -> (String, Flow) {
        let mut cli = Cli::new(level, DEFAULT_TIMEOUT);
        let mut buf = input.as_bytes().to_vec();
        let mut out = String::new();
        let flow = cli.process(rt, &mut buf, true, &mut out);
        (out, flow)
    }

    #[test]
    fn help_unknown_and_empty_print_usage() {
        let rt = rt();
        assert_eq!(run(&rt, CliLevel::User, "help\n").0, format!("{USAGE}\n"));
        assert_eq!(
            run(&rt, CliLevel::User, "foo bar\n").0,
            format!("{USAGE}\n")
        );
        assert_eq!(run(&rt, CliLevel::User, "\n").0, format!("{USAGE}\n"));
        assert_eq!(
            run(&rt, CliLevel::User, "show foo\n").0,
            format!("{USAGE}\n")
        );
        assert!(USAGE.starts_with("Unknown command. Please enter one of the following"));
    }

    #[test]
    fn semicolons_prompt_and_quit() {
        let rt = rt();
        let (out, flow) = run(&rt, CliLevel::Admin, "get weight be/s1;get weight be/s2\n");
        assert_eq!(out, "1 (initial 1)\n\n10 (initial 10)\n\n");
        assert_eq!(flow, Flow::Close);
        let (out, _) = run(
            &rt,
            CliLevel::Admin,
            "prompt\nget weight be/s1\n\nquit\nhelp\n",
        );
        assert_eq!(out, "\n> 1 (initial 1)\n\n> \n> ");
        // Incomplete last line: dropped.
        assert_eq!(run(&rt, CliLevel::Admin, "get weight be/s1").0, "");
    }

    #[test]
    fn levels_and_permission_denied() {
        let rt = rt();
        for cmd in [
            "set weight be/s1 2",
            "disable server be/s1",
            "enable server be/s1",
            "clear counters all",
        ] {
            assert_eq!(
                run(&rt, CliLevel::Operator, &format!("{cmd}\n")).0,
                "Permission denied\n\n",
                "{cmd}"
            );
        }
        for cmd in ["show errors", "show sess", "clear counters"] {
            assert_eq!(
                run(&rt, CliLevel::User, &format!("{cmd}\n")).0,
                "Permission denied\n\n",
                "{cmd}"
            );
        }
        assert_eq!(run(&rt, CliLevel::Operator, "clear counters\n").0, "\n");
        assert_eq!(run(&rt, CliLevel::Operator, "show sess\n").0, "\n");
    }

    #[test]
    fn weights_and_errors() {
        let rt = rt();
        let a = CliLevel::Admin;
        assert_eq!(
            run(&rt, a, "get weight be\n").0,
            "Require 'backend/server'.\n\n"
        );
        assert_eq!(
            run(&rt, a, "get weight nobe/s1\n").0,
            "No such backend.\n\n"
        );
        assert_eq!(run(&rt, a, "get weight be/zz\n").0, "No such server.\n\n");
        assert_eq!(
            run(&rt, a, "set weight be/s2\n").0,
            "Require 'backend/server' and 'weight' or 'weight%'.\n\n"
        );
        assert_eq!(
            run(&rt, a, "set weight be/s2 300\n").0,
            "Absolute weight can only be between 0 and 256 inclusive.\n\n"
        );
        assert_eq!(
            run(&rt, a, "set weight be/s2 101%\n").0,
            "Relative weight can only be set between 0 and 100% inclusive.\n\n"
        );
        assert_eq!(run(&rt, a, "set weight be/s2 50%\n").0, "\n");
        assert_eq!(run(&rt, a, "get weight be/s2\n").0, "5 (initial 10)\n\n");
        assert_eq!(run(&rt, a, "set weight #1/#2 7\n").0, "\n");
        assert_eq!(run(&rt, a, "get weight be/s2\n").0, "7 (initial 10)\n\n");
        assert_eq!(
            run(&rt, a, "set timeout cli\n").0,
            "Expects an integer value.\n\n"
        );
        assert_eq!(
            run(&rt, a, "set timeout cli x\n").0,
            "Invalid timeout value.\n\n"
        );
        assert_eq!(
            run(&rt, a, "set timeout server 5\n").0,
            "'set timeout' only supports 'cli'.\n\n"
        );
        let mut cli = Cli::new(a, DEFAULT_TIMEOUT);
        let mut out = String::new();
        assert!(cli.execute(&rt, "set timeout cli 60", &mut out));
        assert_eq!(cli.timeout, Duration::from_secs(60));
    }

    #[test]
    fn disable_then_show_stat_maint() {
        let rt = rt();
        assert_eq!(run(&rt, CliLevel::Admin, "disable server be/s1\n").0, "\n");
        let (out, _) = run(&rt, CliLevel::User, "show stat\n");
        let s1 = out.lines().find(|l| l.starts_with("be,s1,")).unwrap_or("");
        assert_eq!(s1.split(',').nth(17), Some("MAINT"));
        assert!(out.ends_with(",\n\n"));
        assert_eq!(run(&rt, CliLevel::Admin, "enable server be/s1\n").0, "\n");
        let (out, _) = run(&rt, CliLevel::User, "show stat 1 4 1\n");
        let rows: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(rows.len(), 2, "{out}");
        // Back UP with health = rise: one failed check would take it down.
        assert_eq!(rows[1].split(',').nth(17), Some("UP 1/2"));
    }

    #[test]
    fn show_errors_and_sess_formats() {
        let rt = rt();
        let (out, _) = run(&rt, CliLevel::Operator, "show errors\n");
        assert!(out.starts_with("Total events captured on ["), "{out}");
        assert!(out.ends_with("] : 0\n\n"), "{out}");
        assert_eq!(
            run(&rt, CliLevel::Operator, "show sess 0x1234\n").0,
            "Session not found.\n\n"
        );
    }
}
