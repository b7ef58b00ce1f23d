//! The pidfile (`pidfile` in `global`, `-p` on the command line): created after binding and
//! before chroot (1.4 `main`: unlink, then open O_CREAT|O_TRUNC mode 0644), filled with one
//! pid per line once the process serves, and removed when the process exits cleanly.
//!
//! We run one process, so the file holds one pid. Removal happens only if the file still
//! names us: during a reload the new process has already rewritten it, and the old one must
//! not delete the new one's file. The directory stays open, so the check and the removal
//! still work after `chroot` (they fail quietly if a dropped user may not write there; 1.4
//! never removes its pidfile at all).

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// An open pidfile.
#[derive(Debug)]
pub struct Pidfile {
    path: PathBuf,
    /// The file's directory, opened before any chroot.
    dir: File,
    name: std::ffi::OsString,
    /// Open for writing until the pids are written.
    file: Option<File>,
}

impl Pidfile {
    /// Removes any old file at `path` and creates an empty one (mode 0644).
    pub fn create(path: &Path) -> io::Result<Pidfile> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?
            .to_os_string();
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let dir = File::open(parent)?;
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(path)?;
        Ok(Pidfile {
            path: path.to_path_buf(),
            dir,
            name,
            file: Some(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the pids, one per line, and closes the file.
    pub fn write_pids(&mut self, pids: &[u32]) -> io::Result<()> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| io::Error::from(io::ErrorKind::BrokenPipe))?;
        let mut text = String::new();
        for p in pids {
            text.push_str(&p.to_string());
            text.push('\n');
        }
        file.write_all(text.as_bytes())?;
        file.flush()
    }

    /// Closes the file without writing (the forked child: its parent writes the pid).
    pub fn close(&mut self) {
        self.file = None;
    }

    /// The pids the file holds now (read through the directory kept open).
    pub fn read_pids(&self) -> io::Result<Vec<u32>> {
        let fd = nix::fcntl::openat(
            Some(self.dir.as_raw_fd()),
            self.name.as_os_str(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(io::Error::from)?;
        let owned = crate::listener::owned_fd_from_raw(fd)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidData))?;
        let mut text = String::new();
        File::from(owned).take(4096).read_to_string(&mut text)?;
        Ok(parse_pids(&text))
    }

    /// Removes the file, whatever it holds (through the directory, so it works chrooted).
    pub fn remove(&self) {
        let _ = nix::unistd::unlinkat(
            Some(self.dir.as_raw_fd()),
            self.name.as_os_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
    }

    /// Removes the file if it holds exactly `pid`. Errors are ignored: this runs on the way
    /// out, possibly chrooted and without the rights to write to the directory.
    pub fn remove_if_ours(&self, pid: u32) {
        if self.read_pids().is_ok_and(|p| p == [pid]) {
            self.remove();
        }
    }
}

/// The pids in a pidfile's text: every line that is a positive number.
pub fn parse_pids(text: &str) -> Vec<u32> {
    text.lines()
        .filter_map(|l| l.trim().parse::<u32>().ok())
        .filter(|&p| p > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_write_and_remove_only_if_ours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        std::fs::write(&path, "stale\n").unwrap();
        let mut pf = Pidfile::create(&path).unwrap();
        // Truncated on creation.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        pf.write_pids(&[4242]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "4242\n");
        assert_eq!(pf.read_pids().unwrap(), vec![4242]);
        // Someone else's pid: left alone.
        pf.remove_if_ours(1);
        assert!(path.exists());
        // A newer process rewrote the file: left alone as well.
        std::fs::write(&path, "4243\n").unwrap();
        pf.remove_if_ours(4242);
        assert!(path.exists());
        std::fs::write(&path, "4242\n").unwrap();
        pf.remove_if_ours(4242);
        assert!(!path.exists());
        // Nothing to remove: no error, no panic.
        pf.remove_if_ours(4242);
    }

    #[test]
    fn mode_is_0644_and_bad_paths_fail() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.pid");
        let _pf = Pidfile::create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        // The umask may only take bits away.
        assert_eq!(mode & !0o644, 0);
        assert!(Pidfile::create(&dir.path().join("missing/dir/x.pid")).is_err());
    }

    #[test]
    fn parses_pid_lines() {
        assert_eq!(parse_pids("12\n 34 \n\nx\n0\n-5\n"), vec![12, 34]);
        assert!(parse_pids("").is_empty());
    }
}
