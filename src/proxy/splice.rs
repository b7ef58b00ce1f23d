//! Zero-copy forwarding with splice(2): socket -> pipe -> socket, the bytes never enter user
//! space (1.4's `option splice-*`, `src/stream_sock.c` `stream_sock_splice_in`).
//!
//! Pipes come from a small per-thread pool (creating one costs two syscalls) and go back only
//! when empty. A pipe that still holds bytes after a write error is closed instead.

use nix::fcntl::{splice, OFlag, SpliceFFlags};
use std::cell::RefCell;
use std::io;
use std::os::fd::OwnedFd;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Pipes kept per thread.
const PIPE_POOL_KEEP: usize = 64;

thread_local! {
    static PIPES: RefCell<Vec<Pipe>> = const { RefCell::new(Vec::new()) };
}

struct Pipe {
    rd: OwnedFd,
    wr: OwnedFd,
}

fn take_pipe() -> io::Result<Pipe> {
    if let Some(p) = PIPES.with(|p| p.borrow_mut().pop()) {
        return Ok(p);
    }
    let (rd, wr) =
        nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    Ok(Pipe { rd, wr })
}

fn give_pipe(p: Pipe) {
    let _ = PIPES.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < PIPE_POOL_KEEP {
            pool.push(p);
        }
    });
}

/// Outcome of one transfer attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Moved {
    /// This many bytes went from the source to the destination.
    Bytes(usize),
    /// The source reached end of stream.
    Eof,
    /// Nothing to read right now.
    WouldBlock,
    /// The kernel refused splice for these descriptors: fall back to read/write.
    Unsupported,
}

#[derive(Debug, thiserror::Error)]
pub enum SpliceError {
    #[error("read side: {0}")]
    Read(io::Error),
    #[error("write side: {0}")]
    Write(io::Error),
}

/// Moves up to `max` bytes that are ready on `from` into `to`, waiting for `to` to accept
/// them all before returning (so no bytes stay parked in a pipe between calls).
pub async fn transfer(from: &TcpStream, to: &TcpStream, max: usize) -> Result<Moved, SpliceError> {
    let pipe = take_pipe().map_err(SpliceError::Read)?;
    let flags = SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK;
    let n = match from.try_io(Interest::READABLE, || {
        splice(from, None, &pipe.wr, None, max, flags).map_err(io::Error::from)
    }) {
        Ok(0) => {
            give_pipe(pipe);
            return Ok(Moved::Eof);
        }
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            give_pipe(pipe);
            return Ok(Moved::WouldBlock);
        }
        Err(e)
            if e.raw_os_error() == Some(libc::EINVAL) || e.raw_os_error() == Some(libc::ENOSYS) =>
        {
            give_pipe(pipe);
            return Ok(Moved::Unsupported);
        }
        Err(e) => {
            give_pipe(pipe);
            return Err(SpliceError::Read(e));
        }
    };
    let mut left = n;
    while left > 0 {
        match to.try_io(Interest::WRITABLE, || {
            splice(&pipe.rd, None, to, None, left, flags).map_err(io::Error::from)
        }) {
            Ok(0) => return Err(SpliceError::Write(io::ErrorKind::WriteZero.into())),
            Ok(w) => left -= w,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                to.writable().await.map_err(SpliceError::Write)?
            }
            // The pipe still holds bytes: drop it rather than pool it.
            Err(e) => return Err(SpliceError::Write(e)),
        }
    }
    give_pipe(pipe);
    Ok(Moved::Bytes(n))
}
