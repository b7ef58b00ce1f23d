//! Bidirectional forwarding between the client and the server: TCP mode, and HTTP once 1.4's
//! default tunnel mode stops analysing (after the first transaction), or after an Upgrade.
//!
//! Each direction waits for readiness without holding a buffer, takes a pooled buffer only to
//! move the bytes that are ready, and returns it as soon as they are written: an idle tunnel
//! holds no buffer. A read of 0 (FIN) is forwarded as a write shutdown, so half-closed
//! connections behave as with HAProxy. Large transfers move through a pipe with splice(2)
//! (see `splice.rs`) so the bytes never enter user space.
//!
//! Timeouts follow 1.4: each side has an inactivity timeout (`timeout client` for the client
//! side, `timeout server` for the server side), refreshed by traffic in either direction
//! (1.4 refreshes read timeouts on write activity unless `option independant-streams`).

use crate::buffer::Buf;
use std::cell::Cell;
use std::io;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How a tunnel ended, for the termination flags and counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunnelEnd {
    /// Both directions saw FIN and were drained.
    Closed,
    /// No traffic for the client-side timeout.
    ClientTimeout,
    /// No traffic for the server-side timeout.
    ServerTimeout,
    /// A read or write error on the client side (reset, broken pipe).
    ClientError,
    /// A read or write error on the server side.
    ServerError,
}

/// Byte counts of a tunnel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TunnelBytes {
    /// Client to server.
    pub req: u64,
    /// Server to client.
    pub res: u64,
}

/// Settings for one tunnel.
#[derive(Clone, Copy, Debug)]
pub struct TunnelCfg {
    pub client_timeout: Option<Duration>,
    pub server_timeout: Option<Duration>,
    pub bufsize: usize,
    /// Use splice(2) for bulk transfers.
    pub splice: bool,
}

/// Which side an I/O error happened on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// Forwards both ways until both sides are closed, an error occurs, or a side times out.
/// `counts` is updated as bytes move (so logs and stats see them even on error).
/// The caller closes both sockets once this returns: after the second FIN that close is
/// what sends the FIN on (see [`pump`]).
pub async fn run(
    client: &TcpStream,
    server: &TcpStream,
    cfg: TunnelCfg,
    counts: &Cell<TunnelBytes>,
) -> TunnelEnd {
    let last = Cell::new(Instant::now());
    let ended = Cell::new(false);
    let up = pump(
        client,
        server,
        Side::Client,
        cfg,
        &last,
        counts,
        true,
        &ended,
    );
    let down = pump(
        server,
        client,
        Side::Server,
        cfg,
        &last,
        counts,
        false,
        &ended,
    );
    tokio::pin!(up, down);
    let (mut up_done, mut down_done) = (false, false);
    let side_end = |s: Side| match s {
        Side::Client => TunnelEnd::ClientError,
        Side::Server => TunnelEnd::ServerError,
    };
    // An error in one direction ends the whole tunnel at once; a FIN only ends its direction.
    while !(up_done && down_done) {
        tokio::select! {
            r = &mut up, if !up_done => match r {
                Ok(()) => up_done = true,
                Err(s) => return side_end(s),
            },
            r = &mut down, if !down_done => match r {
                Ok(()) => down_done = true,
                Err(s) => return side_end(s),
            },
            end = idle_watch(&last, cfg) => return end,
        }
    }
    TunnelEnd::Closed
}

/// Resolves when no traffic moved for a side's timeout; never resolves without timeouts.
pub async fn idle_watch(last: &Cell<Instant>, cfg: TunnelCfg) -> TunnelEnd {
    let (limit, end) = match (cfg.client_timeout, cfg.server_timeout) {
        (None, None) => return std::future::pending().await,
        (Some(c), None) => (c, TunnelEnd::ClientTimeout),
        (None, Some(s)) => (s, TunnelEnd::ServerTimeout),
        (Some(c), Some(s)) if c <= s => (c, TunnelEnd::ClientTimeout),
        (Some(_), Some(s)) => (s, TunnelEnd::ServerTimeout),
    };
    loop {
        let deadline = last.get() + limit;
        if Instant::now() >= deadline {
            return end;
        }
        tokio::time::sleep_until(deadline).await;
    }
}

/// Moves bytes from `from` to `to` until FIN (then shuts `to` down for writing, unless the
/// other direction has already ended: both sockets are then closed at once, and the close
/// sends the FIN, so the `shutdown` would be one syscall for nothing).
/// `from_side` names the side `from` is on; `is_req` says which counter to add to;
/// `ended` is shared by the two directions of one tunnel.
/// Returns the side that failed on error.
#[allow(clippy::too_many_arguments)]
pub async fn pump(
    from: &TcpStream,
    to: &TcpStream,
    from_side: Side,
    cfg: TunnelCfg,
    last: &Cell<Instant>,
    counts: &Cell<TunnelBytes>,
    is_req: bool,
    ended: &Cell<bool>,
) -> Result<(), Side> {
    let to_side = if from_side == Side::Client {
        Side::Server
    } else {
        Side::Client
    };
    let mut spliced_ok = cfg.splice;
    loop {
        from.readable().await.map_err(|_| from_side)?;
        if spliced_ok {
            match super::splice::transfer(from, to, cfg.bufsize.max(65536)).await {
                Ok(super::splice::Moved::Bytes(n)) => {
                    add(counts, is_req, n as u64);
                    last.set(Instant::now());
                    continue;
                }
                Ok(super::splice::Moved::Eof) => break,
                Ok(super::splice::Moved::WouldBlock) => continue,
                Ok(super::splice::Moved::Unsupported) => spliced_ok = false,
                Err(super::splice::SpliceError::Read(_)) => return Err(from_side),
                Err(super::splice::SpliceError::Write(_)) => return Err(to_side),
            }
        }
        let mut buf = Buf::take(cfg.bufsize);
        let n = match super::sockio::try_read(from, buf.space()) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(from_side),
        };
        buf.fill(n);
        last.set(Instant::now());
        write_all(to, &mut buf).await.map_err(|_| to_side)?;
        add(counts, is_req, n as u64);
        last.set(Instant::now());
    }
    // FIN from `from`: propagate as a write shutdown (half-close) while the other way
    // still flows.
    if !ended.replace(true) {
        let _ = shutdown_write(to);
    }
    Ok(())
}

fn add(counts: &Cell<TunnelBytes>, is_req: bool, n: u64) {
    let mut c = counts.get();
    if is_req {
        c.req += n;
    } else {
        c.res += n;
    }
    counts.set(c);
}

/// Writes the whole buffer, waiting for writability as needed.
pub async fn write_all(to: &TcpStream, buf: &mut Buf) -> io::Result<()> {
    while !buf.is_empty() {
        match to.try_write(buf.data()) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf.consume(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => to.writable().await?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes a byte slice completely.
pub async fn write_bytes(to: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match to.try_write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => to.writable().await?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// shutdown(SHUT_WR) on a socket we only hold by reference.
pub fn shutdown_write(s: &TcpStream) -> io::Result<()> {
    socket2::SockRef::from(s).shutdown(std::net::Shutdown::Write)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::sockio::loopback_pair as pair;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn cfg(splice: bool) -> TunnelCfg {
        TunnelCfg {
            client_timeout: Some(Duration::from_secs(5)),
            server_timeout: Some(Duration::from_secs(5)),
            bufsize: 16384,
            splice,
        }
    }

    async fn forwards_both_ways_and_half_close(splice: bool) {
        // client_app <-> (c_proxy | s_proxy) <-> server_app
        let (mut client_app, c_proxy) = pair().await;
        let (s_proxy, mut server_app) = pair().await;
        let counts = Cell::new(TunnelBytes::default());
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let big2 = big.clone();
        // As the streams do, the sockets are closed as soon as the tunnel ends: that close
        // sends the last FIN (see `pump`).
        let counts_ref = &counts;
        let tunnel = async move {
            let end = run(&c_proxy, &s_proxy, cfg(splice), counts_ref).await;
            drop((c_proxy, s_proxy));
            end
        };
        let apps = async move {
            client_app.write_all(&big2).await.unwrap();
            client_app.shutdown().await.unwrap();
            let mut got = Vec::new();
            server_app.read_to_end(&mut got).await.unwrap();
            assert_eq!(got.len(), big2.len());
            assert!(got == big2);
            // the server answers after the client's half-close
            server_app.write_all(b"response bytes").await.unwrap();
            server_app.shutdown().await.unwrap();
            let mut back = Vec::new();
            client_app.read_to_end(&mut back).await.unwrap();
            assert_eq!(back, b"response bytes");
        };
        let (end, ()) = tokio::join!(tunnel, apps);
        assert_eq!(end, TunnelEnd::Closed);
        assert_eq!(
            counts.get(),
            TunnelBytes {
                req: big.len() as u64,
                res: 14
            }
        );
    }

    #[tokio::test]
    async fn forwards_with_read_write() {
        forwards_both_ways_and_half_close(false).await;
    }

    #[tokio::test]
    async fn forwards_with_splice() {
        forwards_both_ways_and_half_close(true).await;
    }

    #[tokio::test]
    async fn idle_timeout_ends_tunnel() {
        let (_client_app, c_proxy) = pair().await;
        let (s_proxy, _server_app) = pair().await;
        let counts = Cell::new(TunnelBytes::default());
        let mut c = cfg(false);
        c.client_timeout = Some(Duration::from_millis(100));
        c.server_timeout = Some(Duration::from_millis(300));
        let t0 = std::time::Instant::now();
        let end = run(&c_proxy, &s_proxy, c, &counts).await;
        assert_eq!(end, TunnelEnd::ClientTimeout);
        let el = t0.elapsed();
        assert!(
            el >= Duration::from_millis(100) && el < Duration::from_secs(2),
            "{el:?}"
        );
    }

    #[tokio::test]
    async fn reset_is_reported_on_its_side() {
        let (client_app, c_proxy) = pair().await;
        let (s_proxy, server_app) = pair().await;
        let counts = Cell::new(TunnelBytes::default());
        // abortive close of the server application: RST towards the proxy
        socket2::SockRef::from(&server_app)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(server_app);
        let end = tokio::time::timeout(
            Duration::from_secs(5),
            run(&c_proxy, &s_proxy, cfg(false), &counts),
        )
        .await
        .unwrap();
        assert_eq!(end, TunnelEnd::ServerError);
        drop(client_app);
    }
}
