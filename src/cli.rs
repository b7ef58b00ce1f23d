//! The haproxy-compatible command line (1.4 `src/haproxy.c` `init()`): `-f` (repeatable), `-c`,
//! `-q`, `-V`, `-v`/`-vv`, `-D`, `-d`/`-db`, `-p`, `-n`, `-N`, `-m`, `-de/-ds/-dp/-dk/-dS`,
//! `-sf`/`-st` pid lists, and `--convert-to` (our extension). The binary behaves the same when
//! installed under the name `haproxy`.
//!
//! Departure from 1.4, on purpose: 1.4 wants `-sf PIDS` last on the line, while Debian's init
//! script reloads with `-sf PIDS -D`; we end a pid list at the first word that is not a number
//! and keep parsing flags after it.

use crate::process;
use parser::diag::{Level, Report};
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

/// Release we are compatible with, printed by `-v` and in `show info`.
pub const COMPAT_VERSION: &str = "1.4.25";
/// Our own version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Release date printed by `-v` (the 1.4.25 release date, which tools compare against).
pub const RELEASE_DATE: &str = "2014/03/27";

/// What the command line asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    pub files: Vec<PathBuf>,
    pub check: bool,
    pub quiet: bool,
    pub verbose: bool,
    pub daemon: bool,
    /// `-d`: foreground with debug output.
    pub debug: bool,
    /// `-db`: foreground, no debug.
    pub foreground: bool,
    pub pidfile: Option<PathBuf>,
    /// `-n`: global maxconn.
    pub maxconn: Option<u32>,
    /// `-N`: default per-proxy maxconn.
    pub default_maxconn: Option<u32>,
    /// `-m`: memory limit in MB (accepted, applied as RLIMIT_AS).
    pub mem_limit_mb: Option<u64>,
    pub disable_epoll: bool,
    pub disable_sepoll: bool,
    pub disable_poll: bool,
    pub disable_kqueue: bool,
    pub disable_splice: bool,
    /// `-sf`: pids to finish softly once we are bound.
    pub finish_pids: Vec<i32>,
    /// `-st`: pids to terminate once we are bound.
    pub terminate_pids: Vec<i32>,
    pub show_version: u8,
    /// `--convert-to <version>`: print the configuration in that HAProxy's syntax.
    pub convert_to: Option<String>,
    /// `-o <file>` with `--convert-to`.
    pub output: Option<PathBuf>,
}

/// Why the command line was refused; `main` prints the usage text for all of them.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UsageError {
    #[error("unknown option '{0}'")]
    UnknownFlag(String),
    #[error("option '{0}' needs an argument")]
    MissingArgument(String),
    #[error("invalid value '{1}' for option '{0}'")]
    BadValue(String, String),
    #[error("no configuration file given")]
    NoConfig,
}

/// Parses argv (without the program name).
pub fn parse_args<I: IntoIterator<Item = OsString>>(argv: I) -> Result<Args, UsageError> {
    let words: Vec<String> = argv
        .into_iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let mut a = Args::default();
    let mut i = 0;
    // Takes the argument of flag `words[i]` (HAProxy accepts it glued, `-fFILE`, or separate).
    fn value(words: &[String], i: &mut usize, flag: &str) -> Result<String, UsageError> {
        let w = &words[*i];
        if w.len() > flag.len() {
            return Ok(w[flag.len()..].to_string());
        }
        *i += 1;
        words
            .get(*i)
            .cloned()
            .ok_or_else(|| UsageError::MissingArgument(flag.to_string()))
    }
    fn number<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, UsageError> {
        v.parse()
            .map_err(|_| UsageError::BadValue(flag.to_string(), v))
    }
    while i < words.len() {
        let w = words[i].as_str();
        match w {
            "-v" => a.show_version = a.show_version.max(1),
            "-vv" => a.show_version = 2,
            "-c" => a.check = true,
            "-q" => a.quiet = true,
            "-V" => a.verbose = true,
            "-D" => a.daemon = true,
            "-d" => a.debug = true,
            "-db" => a.foreground = true,
            "-de" => a.disable_epoll = true,
            "-ds" => a.disable_sepoll = true,
            "-dp" => a.disable_poll = true,
            "-dk" => a.disable_kqueue = true,
            "-dS" => a.disable_splice = true,
            "-sf" | "-st" => {
                let mut pids = Vec::new();
                while let Some(p) = words.get(i + 1).and_then(|n| n.parse::<i32>().ok()) {
                    if p > 0 {
                        pids.push(p);
                    }
                    i += 1;
                }
                if w == "-sf" {
                    a.finish_pids.extend(pids);
                } else {
                    a.terminate_pids.extend(pids);
                }
            }
            "--convert-to" => {
                i += 1;
                a.convert_to = Some(
                    words
                        .get(i)
                        .cloned()
                        .ok_or_else(|| UsageError::MissingArgument(w.to_string()))?,
                );
            }
            _ if w.starts_with("-f") => a.files.push(PathBuf::from(value(&words, &mut i, "-f")?)),
            _ if w.starts_with("-p") => {
                a.pidfile = Some(PathBuf::from(value(&words, &mut i, "-p")?))
            }
            _ if w.starts_with("-o") => {
                a.output = Some(PathBuf::from(value(&words, &mut i, "-o")?))
            }
            _ if w.starts_with("-n") => {
                a.maxconn = Some(number("-n", value(&words, &mut i, "-n")?)?)
            }
            _ if w.starts_with("-N") => {
                a.default_maxconn = Some(number("-N", value(&words, &mut i, "-N")?)?)
            }
            _ if w.starts_with("-m") => {
                a.mem_limit_mb = Some(number("-m", value(&words, &mut i, "-m")?)?)
            }
            _ => return Err(UsageError::UnknownFlag(w.to_string())),
        }
        i += 1;
    }
    if a.files.is_empty() && a.show_version == 0 {
        return Err(UsageError::NoConfig);
    }
    Ok(a)
}

/// The program name to show in messages: `haproxy` when installed under that name.
pub fn program_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|p| {
            PathBuf::from(p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "haproxide".to_string())
}

/// `-v` text.
pub fn version_text() -> String {
    format!(
        "HA-Proxy version {COMPAT_VERSION}-haproxide-{VERSION} {RELEASE_DATE}\n\
         haproxide {VERSION}: runs HAProxy 1.4 configurations unchanged.\n\n"
    )
}

/// `-vv` text: version plus build options and defaults, in 1.4's layout.
pub fn build_options_text() -> String {
    format!(
        "{}Build options :\n  TARGET  = linux ({})\n  RUSTC   = stable\n  OPTIONS = USE_SPLICE=1 USE_REUSEPORT=1 USE_CRYPT_H=1\n\n\
         Default settings :\n  maxconn = 2000, bufsize = 16384, maxrewrite = 8192, maxpollevents = 200\n\n\
         Encrypted password support via crypt(3): yes\n\n\
         Available polling systems :\n       epoll : pref=300,  test result OK (through tokio)\n\
         Total: 1 (1 usable), will use epoll.\n\n",
        version_text(),
        std::env::consts::ARCH
    )
}

/// Usage text printed on a bad command line, in 1.4's layout.
pub fn usage_text(prog: &str) -> String {
    format!(
        "{}Usage : {prog} [-f <cfgfile>]* [ -vdVD ] [ -n <maxconn> ] [ -N <maxpconn> ]\n\
         \x20       [ -p <pidfile> ] [ -m <max megs> ]\n\
         \x20       -v displays version ; -vv shows known build options.\n\
         \x20       -d enters debug mode ; -db only disables background mode.\n\
         \x20       -V enters verbose mode (disables quiet mode)\n\
         \x20       -D goes daemon\n\
         \x20       -q quiet mode : don't display messages\n\
         \x20       -c check mode : only check config files and exit\n\
         \x20       -n sets the maximum total # of connections (2000)\n\
         \x20       -m limits the usable amount of memory (in MB)\n\
         \x20       -N sets the default, per-proxy maximum # of connections (2000)\n\
         \x20       -p writes pids of all children to this file\n\
         \x20       -de disables epoll() usage even when available\n\
         \x20       -ds disables speculative epoll() usage even when available\n\
         \x20       -dp disables poll() usage even when available\n\
         \x20       -dS disables splice usage (broken on old kernels)\n\
         \x20       -sf/-st [pid ]* finishes/terminates old pids (may be followed by more options).\n\
         \x20       --convert-to 2.6 [-o <file>] prints the configuration in HAProxy 2.6 syntax.\n\n",
        version_text()
    )
}

/// HAProxy's `DDD/HHMMSS (pid)` stamp for alerts and warnings (day of year counted from 0,
/// local time).
pub fn stamp() -> String {
    // The log module's clock keeps the time zone loaded before any chroot.
    crate::log::stderr_stamp(std::time::SystemTime::now(), std::process::id())
}

/// Prints a report's diagnostics to stderr: alerts always, warnings unless quiet (and not
/// verbose), as 1.4's `Alert()`/`Warning()` do during startup.
pub fn print_report(report: &Report, quiet: bool) {
    let stamp = stamp();
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    for d in &report.diags {
        if d.level == Level::Alert || !quiet {
            let _ = writeln!(err, "{}", d.render(&stamp));
        }
    }
}

/// Prints one standalone alert (startup errors).
pub fn alert(text: &str) {
    eprintln!("[ALERT] {} : {}", stamp(), text);
}

/// Prints one standalone warning.
pub fn warning(text: &str) {
    eprintln!("[WARNING] {} : {}", stamp(), text);
}

/// The whole program; returns the exit status.
pub fn main() -> i32 {
    let prog = program_name();
    let args = match parse_args(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            let _ = e; // 1.4 prints only the usage text
            eprint!("{}", usage_text(&prog));
            return 1;
        }
    };
    if args.show_version > 0 {
        print!(
            "{}",
            if args.show_version > 1 {
                build_options_text()
            } else {
                version_text()
            }
        );
        return 0;
    }
    if args.convert_to.is_some() {
        return crate::convert::run(&args);
    }
    process::run(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Args, UsageError> {
        parse_args(s.split_whitespace().map(OsString::from))
    }

    #[test]
    fn files_and_flags() {
        let a = parse("-f a.cfg -fb.cfg -c -q -V -D -p /run/x.pid -N 100 -n5").unwrap();
        assert_eq!(
            a.files,
            vec![PathBuf::from("a.cfg"), PathBuf::from("b.cfg")]
        );
        assert!(a.check && a.quiet && a.verbose && a.daemon);
        assert_eq!(a.pidfile, Some(PathBuf::from("/run/x.pid")));
        assert_eq!(a.default_maxconn, Some(100));
        assert_eq!(a.maxconn, Some(5));
    }

    #[test]
    fn sf_last_or_followed_by_flags() {
        let a = parse("-f a.cfg -p p -sf 12 34").unwrap();
        assert_eq!(a.finish_pids, vec![12, 34]);
        // Debian's init script: `-sf $(cat pidfile) -D`
        let a = parse("-f a.cfg -sf 12 34 -D -p p").unwrap();
        assert_eq!(a.finish_pids, vec![12, 34]);
        assert!(a.daemon);
        assert_eq!(a.pidfile, Some(PathBuf::from("p")));
        let a = parse("-f a.cfg -st 7").unwrap();
        assert_eq!(a.terminate_pids, vec![7]);
        // an empty pid list (no old process) is fine
        let a = parse("-f a.cfg -sf").unwrap();
        assert!(a.finish_pids.is_empty());
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse("-f a.cfg -x"),
            Err(UsageError::UnknownFlag("-x".into()))
        );
        assert_eq!(parse("-f"), Err(UsageError::MissingArgument("-f".into())));
        assert_eq!(parse("-c"), Err(UsageError::NoConfig));
        assert_eq!(
            parse("-f a -N x"),
            Err(UsageError::BadValue("-N".into(), "x".into()))
        );
        assert!(parse("-v").is_ok());
    }

    #[test]
    fn stamp_shape() {
        let s = stamp();
        let (date, pid) = s.split_once(' ').unwrap();
        assert_eq!(date.len(), 10);
        assert_eq!(&date[3..4], "/");
        assert!(pid.starts_with('(') && pid.ends_with(')'));
    }
}
