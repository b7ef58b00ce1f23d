//! Socket reads for the data path.
//!
//! Every read of the stream goes through [`try_read`]: a read that fills less than the space
//! offered means the socket's receive queue is empty, so the readiness tokio holds for the
//! socket is cleared right away. The next wait then parks on epoll instead of first paying a
//! `recv` that only answers EAGAIN (half of all `recv` calls in tunnel mode before this;
//! HAProxy's raw socket layer likewise stops reading on a short read). tokio's own
//! `AsyncRead` does the same; the stream uses `try_read` on shared references, which does not.
//!
//! Sound with edge-triggered epoll: bytes that arrive after the read raise a new event, and
//! tokio clears only the readiness it had observed before the read (a newer event survives).

use std::io;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Reads what `sock` holds into `buf`, like `TcpStream::try_read`, and marks the socket not
/// readable when the read came back short. `Ok(0)` is end of stream (or an empty `buf`).
pub fn try_read(sock: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    let room = buf.len();
    let mut got = 0;
    let r = sock.try_io(Interest::READABLE, || {
        let n = sock.try_read(buf)?;
        got = n;
        if n > 0 && n < room {
            // Reported as WouldBlock so that `try_io` clears the readiness; `got` keeps n.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    });
    match r {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock && got > 0 => Ok(got),
        other => other,
    }
}

/// Waits until `sock` is readable. The wake-up is kept in the socket's own registration
/// (`poll_read_ready`'s single reader slot) rather than in a waiter node inside the future,
/// so the waiting future is a reference, not the 152 bytes of `readable()`: this is what an
/// idle keep-alive connection holds while it waits. Only the last task polling a socket this
/// way is woken; a stream is one task, so that is the stream's own.
pub async fn read_ready(sock: &TcpStream) -> io::Result<()> {
    std::future::poll_fn(|cx| sock.poll_read_ready(cx)).await
}

/// A connected loopback pair for unit tests: (the connecting side, the accepted side).
#[cfg(test)]
pub async fn loopback_pair() -> (TcpStream, TcpStream) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = l.local_addr().expect("local addr");
    let (c, s) = tokio::join!(TcpStream::connect(addr), l.accept());
    (c.expect("connect"), s.expect("accept").0)
}

#[cfg(test)]
mod tests {
    use super::loopback_pair as pair;
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn short_read_clears_readiness_and_new_bytes_wake_again() {
        let (mut a, b) = pair().await;
        a.write_all(b"hello").await.expect("write");
        b.readable().await.expect("readable");
        let mut buf = [0u8; 64];
        assert_eq!(try_read(&b, &mut buf).expect("read"), 5);
        assert_eq!(&buf[..5], b"hello");
        // Drained: the readiness is gone, so waiting parks until new bytes come.
        let parked = tokio::time::timeout(Duration::from_millis(50), b.readable()).await;
        assert!(parked.is_err(), "a drained socket must not report readable");
        a.write_all(b"more").await.expect("write");
        tokio::time::timeout(Duration::from_secs(5), b.readable())
            .await
            .expect("new bytes wake the reader")
            .expect("readable");
        assert_eq!(try_read(&b, &mut buf).expect("read"), 4);
    }

    #[tokio::test]
    async fn full_read_keeps_readiness_and_eof_reads_zero() {
        let (mut a, b) = pair().await;
        a.write_all(b"abcdef").await.expect("write");
        a.shutdown().await.expect("shutdown");
        b.readable().await.expect("readable");
        let mut buf = [0u8; 3];
        assert_eq!(try_read(&b, &mut buf).expect("read"), 3);
        // The buffer was filled: more may wait, readiness stays.
        assert_eq!(try_read(&b, &mut buf).expect("read"), 3);
        let mut tail = [0u8; 3];
        let eof = loop {
            match try_read(&b, &mut tail) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    b.readable().await.expect("readable")
                }
                Err(e) => panic!("read failed: {e}"),
            }
        };
        assert_eq!(eof, 0, "end of stream");
    }
}
