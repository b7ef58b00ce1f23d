//! Privileges and limits: `chroot`, `user`/`uid`, `group`/`gid`, `ulimit-n`, and `-m`.
//! Compare with 1.4 `src/haproxy.c` `main` (setrlimit before binding; chroot, then setgid and
//! setuid after binding) and `init` (the `maxsock` estimate behind the default `ulimit-n`).
//!
//! As in 1.4, `uid 0`/`gid 0` mean "do not change". Better than 1.4: when only a user is
//! given and we start as root, the supplementary groups are dropped too (1.4 keeps root's),
//! and the file-descriptor limit is only ever raised, never lowered below what the system
//! already grants.

use crate::runtime::GlobalSettings;
use parser::ir::Config;
use std::path::PathBuf;

/// The ids and directory to switch to once the listeners are bound.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Privs {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub chroot: Option<PathBuf>,
}

impl Privs {
    /// From `global`: `uid` or `user`, `gid` or `group` (names were resolved by the parser);
    /// 0 means unset, as in 1.4.
    pub fn from_config(config: &Config) -> Privs {
        let g = &config.global;
        let uid = g
            .uid
            .as_ref()
            .map(|u| u.node)
            .or(g.user.as_ref().map(|u| u.node.id))
            .filter(|&u| u != 0);
        let gid = g
            .gid
            .as_ref()
            .map(|u| u.node)
            .or(g.group.as_ref().map(|u| u.node.id))
            .filter(|&u| u != 0);
        Privs {
            uid,
            gid,
            chroot: g.chroot.as_ref().map(|c| c.node.clone()),
        }
    }
}

/// Why a privilege change failed; the texts are 1.4's alerts after `[<argv0>.main()] `.
#[derive(Debug, thiserror::Error)]
pub enum PrivError {
    #[error("Cannot chroot({0}).")]
    Chroot(String, #[source] nix::Error),
    #[error("Cannot set gid {0}.")]
    Setgid(u32, #[source] nix::Error),
    #[error("Cannot set uid {0}.")]
    Setuid(u32, #[source] nix::Error),
}

/// chroot(dir) then chdir("/").
pub fn enter_chroot(dir: &std::path::Path) -> Result<(), PrivError> {
    let err = |e| PrivError::Chroot(dir.display().to_string(), e);
    nix::unistd::chroot(dir).map_err(err)?;
    nix::unistd::chdir("/").map_err(err)
}

/// Switches group then user. Returns the warnings to print (1.4 warns when supplementary
/// groups cannot be dropped, and carries on).
pub fn drop_privileges(p: &Privs) -> Result<Vec<String>, PrivError> {
    use nix::unistd::{getegid, geteuid, setgid, setgroups, setuid, Gid, Uid};
    let mut warnings = Vec::new();
    let root = geteuid().is_root();
    if let Some(gid) = p.gid {
        // Leave only the new group; as non-root this fails and the groups we have stay.
        if root && setgroups(&[Gid::from_raw(gid)]).is_err() {
            warnings.push(
                "Failed to drop supplementary groups. Using 'gid'/'group' without 'uid'/'user' is generally useless."
                    .to_string(),
            );
        }
        setgid(Gid::from_raw(gid)).map_err(|e| PrivError::Setgid(gid, e))?;
    } else if p.uid.is_some() && root {
        // Only a user given: do not keep root's supplementary groups after setuid().
        let _ = setgroups(&[getegid()]);
    }
    if let Some(uid) = p.uid {
        setuid(Uid::from_raw(uid)).map_err(|e| PrivError::Setuid(uid, e))?;
    }
    Ok(warnings)
}

/// HAProxy's estimate of the descriptors the process needs (1.4 `global.maxsock`): 10 spare,
/// one per listener, two per connection, two per splice pipe, one per health-checked server,
/// one for the stats socket. We add what our threads hold: each worker's copy of every
/// listener plus its reactor's descriptors.
pub fn maxsock(config: &Config, g: &GlobalSettings, listeners: usize, workers: usize) -> u64 {
    let checks = config
        .proxies
        .iter()
        .flat_map(|p| p.servers.iter())
        .filter(|s| s.check)
        .count() as u64;
    let stats = u64::from(config.global.stats_socket.is_some());
    let maxconn = u64::from(g.maxconn);
    10 + listeners as u64
        + 2 * maxconn
        + 2 * maxpipes(config, g)
        + checks
        + stats
        + workers as u64 * (listeners as u64 + 4)
}

/// `maxpipes`, or 1.4's default: a quarter of the connections of the proxies that splice
/// (frontend `maxconn`s, backend `fullconn`s or global maxconn), capped at global maxconn.
pub fn maxpipes(config: &Config, g: &GlobalSettings) -> u64 {
    if let Some(m) = &config.global.maxpipes {
        return u64::from(m.node);
    }
    let (mut fe, mut be) = (0u64, 0u64);
    for p in &config.proxies {
        let o = &p.options;
        if o.splice_auto.is_none() && o.splice_request.is_none() && o.splice_response.is_none() {
            continue;
        }
        if p.kind.has_fe() {
            fe += u64::from(p.maxconn.as_ref().map(|m| m.node).unwrap_or(2000));
        }
        if p.kind.has_be() {
            be += u64::from(p.fullconn.as_ref().map(|f| f.node).unwrap_or(g.maxconn));
        }
    }
    fe.max(be).min(u64::from(g.maxconn)) / 4
}

/// Raises RLIMIT_NOFILE to `want` if it is lower (`ulimit-n`, or the `maxsock` estimate).
/// Returns a warning in 1.4's words when the system refuses.
pub fn raise_nofile(want: u64, argv0: &str) -> Option<String> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (cur, max) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if cur >= want {
        return None;
    }
    if setrlimit(Resource::RLIMIT_NOFILE, want, max.max(want)).is_ok() {
        return None;
    }
    // Not allowed to raise the hard limit: take what it allows.
    let _ = setrlimit(Resource::RLIMIT_NOFILE, want.min(max), max);
    Some(format!("[{argv0}.main()] Cannot raise FD limit to {want}."))
}

/// The check 1.4 makes after dropping privileges: the limit in force must fit `maxsock`.
pub fn check_nofile(maxconn: u32, maxsock: u64, argv0: &str) -> Option<String> {
    let (cur, _) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).ok()?;
    (cur < maxsock).then(|| {
        format!(
            "[{argv0}.main()] FD limit ({cur}) too low for maxconn={maxconn}/maxsock={maxsock}. Please raise 'ulimit-n' to {maxsock} or more to avoid any trouble."
        )
    })
}

/// `-m <megs>`: limits the process's data memory. 1.4 sets RLIMIT_AS; with threads, glibc
/// reserves large address ranges per arena that are never used, so we limit RLIMIT_DATA,
/// which counts the memory actually writable.
pub fn limit_memory(megs: u64, nbproc: u32, argv0: &str) -> Option<String> {
    use nix::sys::resource::{setrlimit, Resource};
    let bytes = megs.saturating_mul(1 << 20) / u64::from(nbproc.max(1));
    setrlimit(Resource::RLIMIT_DATA, bytes, bytes)
        .err()
        .map(|_| format!("[{argv0}.main()] Cannot fix MEM limit to {megs} megs."))
}

/// The warning for a process that will keep running as root (1.4 says nothing; we say it
/// once, in HAProxy's style, and still start).
pub fn root_warning(p: &Privs, argv0: &str) -> Option<String> {
    (p.uid.is_none() && nix::unistd::geteuid().is_root()).then(|| {
        format!(
            "[{argv0}.main()] running as root: no 'user' or 'uid' in the 'global' section; the process keeps full privileges after binding."
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use parser::ir::ResolvedId;
    use parser::span::{Span, Spanned};

    fn sp<T>(v: T) -> Spanned<T> {
        Spanned::new(Span::builtin(), v)
    }

    #[test]
    fn ids_from_numbers_or_names_and_zero_means_unset() {
        let mut c = Config::default();
        assert_eq!(Privs::from_config(&c), Privs::default());
        c.global.user = Some(sp(ResolvedId {
            name: "haproxy".into(),
            id: 105,
        }));
        c.global.gid = Some(sp(110));
        c.global.chroot = Some(sp(PathBuf::from("/var/empty")));
        let p = Privs::from_config(&c);
        assert_eq!(p.uid, Some(105));
        assert_eq!(p.gid, Some(110));
        assert_eq!(p.chroot, Some(PathBuf::from("/var/empty")));
        // `uid` wins over nothing else and 0 keeps the current identity, as in 1.4.
        c.global.user = None;
        c.global.uid = Some(sp(0));
        c.global.gid = Some(sp(0));
        let p = Privs::from_config(&c);
        assert_eq!((p.uid, p.gid), (None, None));
    }

    fn settings(maxconn: u32) -> GlobalSettings {
        GlobalSettings {
            maxconn,
            bufsize: 16384,
            maxrewrite: 1024,
            node: String::new(),
            description: None,
            nbproc: 1,
            spread_checks: 0,
            splice: true,
            ulimit_n: 0,
            pidfile: None,
            sockbuf: Default::default(),
        }
    }

    #[test]
    fn maxsock_counts_connections_listeners_and_threads() {
        let c = Config::default();
        let g = settings(1000);
        // 10 + 2 listeners + 2*1000 + 2 workers * (2 + 4)
        assert_eq!(maxsock(&c, &g, 2, 2), 10 + 2 + 2000 + 12);
        assert_eq!(maxpipes(&c, &g), 0);
        let mut c2 = Config::default();
        c2.global.maxpipes = Some(sp(7));
        assert_eq!(maxpipes(&c2, &g), 7);
        assert_eq!(maxsock(&c2, &g, 0, 0), 10 + 2000 + 14);
    }

    #[test]
    fn nofile_is_never_lowered() {
        let (cur, _) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!(raise_nofile(cur.min(16), "t"), None);
        let (after, _) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!(after, cur);
        assert!(check_nofile(10, u64::MAX, "t")
            .unwrap()
            .contains("Please raise 'ulimit-n' to"));
        assert_eq!(check_nofile(10, 1, "t"), None);
    }
}
