//! A small HTTP/1.1 origin server for `make demo` and the end-to-end tests: it plays the part
//! of the reference setup's PHP application (a session id kept in a `9ai9` cookie, like
//! `session_start()` with `session.name=9ai9`) and reports what it received, so a test can
//! see exactly which headers the proxy forwarded.
//!
//! Routes (any method):
//! * `/status/<code>`: answers with that status.
//! * `/big/<n>`: an `n`-byte body (Content-Length).
//! * `/chunked/<n>`: an `n`-byte body in 1000-byte chunks.
//! * `/close/<n>`: an `n`-byte body delimited by closing the connection.
//! * `/slow/<ms>`: waits before answering.
//! * `/setcookie/<name>=<value>`: adds that `Set-Cookie`.
//! * anything else: the echo page.
//!
//! The echo page body is `server=<name>\nsession=<id>\nnew_session=<0|1>\nmethod=..\nuri=..\n`
//! followed by `> <header line>` for every header received, and then the request body length.
//! Every response carries `X-Server: <name>`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Settings of one demo server.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    pub name: String,
    /// Session cookie name (the reference app uses `9ai9`).
    pub session_cookie: String,
}

/// Request counter shared by a server's connections (also used to mint session ids).
#[derive(Default)]
pub struct DemoStats {
    pub requests: AtomicU64,
}

/// Serves until the listener fails. Each connection is handled on its own task.
pub async fn serve(listener: TcpListener, cfg: DemoConfig, stats: Arc<DemoStats>) {
    let cfg = Arc::new(cfg);
    loop {
        let (sock, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let (cfg, stats) = (cfg.clone(), stats.clone());
        tokio::spawn(async move {
            let _ = connection(sock, peer, &cfg, &stats).await;
        });
    }
}

async fn connection(
    mut sock: TcpStream,
    _peer: SocketAddr,
    cfg: &DemoConfig,
    stats: &DemoStats,
) -> std::io::Result<()> {
    let _ = sock.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    loop {
        // Read a complete head.
        let head_len = loop {
            if let Some(n) = find_head_end(&buf) {
                break n;
            }
            if buf.len() > 65536 {
                return Ok(());
            }
            let mut chunk = [0u8; 8192];
            let n = sock.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut req = httparse::Request::new(&mut headers);
        if !matches!(
            req.parse(&buf[..head_len]),
            Ok(httparse::Status::Complete(_))
        ) {
            sock.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await?;
            return Ok(());
        }
        let method = req.method.unwrap_or("").to_string();
        let uri = req.path.unwrap_or("").to_string();
        let version = req.version.unwrap_or(1);
        let mut lines = Vec::new();
        let mut content_length = 0usize;
        let mut chunked = false;
        let mut close = version == 0;
        let mut cookie_session: Option<String> = None;
        for h in req.headers.iter() {
            let value = String::from_utf8_lossy(h.value).into_owned();
            lines.push(format!("{}: {}", h.name, value));
            if h.name.eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse().unwrap_or(0);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding")
                && value.to_ascii_lowercase().contains("chunked")
            {
                chunked = true;
            } else if h.name.eq_ignore_ascii_case("connection") {
                let v = value.to_ascii_lowercase();
                if v.contains("close") {
                    close = true;
                } else if v.contains("keep-alive") {
                    close = false;
                }
            } else if h.name.eq_ignore_ascii_case("cookie") {
                for part in value.split([';', ',']) {
                    if let Some((k, v)) = part.trim().split_once('=') {
                        if k.trim() == cfg.session_cookie {
                            cookie_session = Some(v.trim().to_string());
                        }
                    }
                }
            }
        }
        buf.drain(..head_len);
        // Consume the body.
        let body_len = if chunked {
            read_chunked(&mut sock, &mut buf).await?
        } else {
            while buf.len() < content_length {
                let mut chunk = [0u8; 8192];
                let n = sock.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            buf.drain(..content_length);
            content_length
        };
        let count = stats.requests.fetch_add(1, Relaxed) + 1;
        let (session, new_session) = match cookie_session {
            Some(s) => (s, false),
            None => (
                format!(
                    "{}{:08x}{:04x}",
                    cfg.name.replace(|c: char| !c.is_ascii_alphanumeric(), ""),
                    count,
                    std::process::id() & 0xffff
                ),
                true,
            ),
        };
        let route = uri.split('?').next().unwrap_or("");
        let mut status = 200u16;
        let mut extra = String::new();
        let mut body: Vec<u8>;
        let mut framing = Framing::Length;
        if let Some(code) = route.strip_prefix("/status/") {
            status = code.parse().unwrap_or(200);
            body = format!("status {status}\n").into_bytes();
        } else if let Some(n) = route.strip_prefix("/big/") {
            body = pattern(n.parse().unwrap_or(0));
        } else if let Some(n) = route.strip_prefix("/chunked/") {
            body = pattern(n.parse().unwrap_or(0));
            framing = Framing::Chunked;
        } else if let Some(n) = route.strip_prefix("/close/") {
            body = pattern(n.parse().unwrap_or(0));
            framing = Framing::Close;
        } else if let Some(ms) = route.strip_prefix("/slow/") {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
            body = b"slow\n".to_vec();
        } else if let Some(kv) = route.strip_prefix("/setcookie/") {
            extra.push_str(&format!("Set-Cookie: {kv}; path=/\r\n"));
            body = b"cookie set\n".to_vec();
        } else {
            body = format!(
                "server={}\nsession={}\nnew_session={}\nmethod={}\nuri={}\n",
                cfg.name,
                session,
                u8::from(new_session),
                method,
                uri
            )
            .into_bytes();
            for l in &lines {
                body.extend_from_slice(format!("> {l}\n").as_bytes());
            }
            body.extend_from_slice(format!("body_len={body_len}\n").as_bytes());
            if new_session {
                extra.push_str(&format!(
                    "Set-Cookie: {}={}; path=/\r\n",
                    cfg.session_cookie, session
                ));
            }
        }
        if method == "HEAD" {
            // Headers as for GET, no body.
        }
        let reason = match status {
            200 => "OK",
            301 => "Moved Permanently",
            302 => "Found",
            304 => "Not Modified",
            404 => "Not Found",
            500 => "Internal Server Error",
            503 => "Service Unavailable",
            _ => "Status",
        };
        let mut head = format!(
            "HTTP/1.1 {status} {reason}\r\nX-Server: {}\r\n{extra}",
            cfg.name
        );
        let no_body =
            method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status);
        match framing {
            Framing::Length => head.push_str(&format!("Content-Length: {}\r\n", body.len())),
            Framing::Chunked => head.push_str("Transfer-Encoding: chunked\r\n"),
            Framing::Close => {
                head.push_str("Connection: close\r\n");
                close = true;
            }
        }
        if close && !matches!(framing, Framing::Close) {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        if !no_body {
            if matches!(framing, Framing::Chunked) {
                for c in body.chunks(1000) {
                    out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                    out.extend_from_slice(c);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            } else {
                out.append(&mut body);
            }
        }
        sock.write_all(&out).await?;
        if close {
            let _ = sock.shutdown().await;
            return Ok(());
        }
    }
}

enum Framing {
    Length,
    Chunked,
    Close,
}

/// Deterministic body bytes, so tests can check integrity.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789\n"[i % 37])
        .collect()
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Reads a chunked body from `buf` + socket; returns the payload length.
async fn read_chunked(sock: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let line_end = loop {
            if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                break p;
            }
            fill(sock, buf).await?;
        };
        let size_txt = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size =
            usize::from_str_radix(size_txt.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        buf.drain(..line_end + 2);
        if size == 0 {
            // trailers until empty line
            loop {
                let p = loop {
                    if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                        break p;
                    }
                    fill(sock, buf).await?;
                };
                buf.drain(..p + 2);
                if p == 0 {
                    return Ok(total);
                }
            }
        }
        while buf.len() < size + 2 {
            fill(sock, buf).await?;
        }
        buf.drain(..size + 2);
        total += size;
    }
}

async fn fill(sock: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 8192];
    let n = sock.read(&mut chunk).await?;
    if n == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}
