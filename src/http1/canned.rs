//! The responses haproxy writes itself, byte for byte: error pages (`errorfile` replaces them),
//! `http-request auth` challenges, `redirect` rules, `errorloc`/`errorloc302`/`errorloc303`,
//! server `redir`, `100 Continue` and the `monitor-net` reply.
//!
//! Compare with 1.4 `src/proto_http.c`: `http_err_msgs[]`, `HTTP_401_fmt`, `HTTP_407_fmt`,
//! `HTTP_30x` prefixes and the redirect builder in `http_process_req_common()`,
//! `HTTP_100`, and `src/cfgparse.c`/`src/proxy.c` for `errorloc`; the monitor-net reply is in
//! `src/client.c` (`event_accept()`), server `redir` in `src/proto_http.c`
//! (`perform_http_redirect()`).
//!
//! Departure from 1.4, on purpose: 1.4's redirect builder wrote `Set-Cookie: <c>\r\n` and then
//! `\r\nConnection: close\r\n\r\n`, which ends the head after the cookie and leaves
//! `Connection: close` as stray bytes after a zero-length body. We write the intended head
//! (`Set-Cookie` line followed by `Connection: close` and one empty line), as the spec asks.

/// 1.4 `HTTP_100`: interim response sent before reading a body announced with
/// `Expect: 100-continue` (stats admin POST).
pub const HTTP_100_CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Reply to a `monitor-net` source in HTTP mode (no headers, then close).
pub const MONITOR_NET_OK: &[u8] = b"HTTP/1.0 200 OK\r\n\r\n";

/// `monitor-uri` success (errorfile 200).
pub const HTTP_200: &[u8] = b"HTTP/1.0 200 OK\r\n\
Cache-Control: no-cache\r\n\
Connection: close\r\n\
Content-Type: text/html\r\n\
\r\n\
<html><body><h1>200 OK</h1>\nHAProxy: service ready.\n</body></html>\n";

/// Parse error, head too large, bad body framing.
pub const HTTP_400: &[u8] = b"HTTP/1.0 400 Bad request\r\n\
Cache-Control: no-cache\r\n\
Connection: close\r\n\
Content-Type: text/html\r\n\
\r\n\
<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n";

/// `block`, `reqdeny`, `http-request deny`.
pub const HTTP_403: &[u8] = b"HTTP/1.0 403 Forbidden\r\n\
Cache-Control: no-cache\r\n\
Connection: close\r\n\
Content-Type: text/html\r\n\
\r\n\
<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n";

/// `timeout http-request` / `timeout client` expired before a complete request.
pub const HTTP_408: &[u8] = b"HTTP/1.0 408 Request Time-out\r\n\
Cache-Control: no-cache\r\n\
Connection: close\r\n\
Content-Type: text/html\r\n\
\r\n\
<html><body><h1>408 Request Time-out</h1>\nYour browser didn't send a complete request in time.\n</body></html>\n";

/// End of `reqtarpit`, internal errors. ("occured" is 1.4's spelling.)
pub const HTTP_500: &[u8] = b"HTTP/1.0 500 Server Error\r\n\
Cache-Control: no-cache\r\n\
Connection: close\r\n\
Content-Type: text/html\r\n\
\r\n\
<html><body><h1>500 Server Error</h1>\nAn internal server error occured.\n</body></html>\n";

/// Invalid, empty or denied (`rspdeny`) response.
pub const HTTP_502: &[u8] = b"HTTP/1.0 502 Bad Gateway\r\n\
Cache-Control: no-cache\r\n\
Connection: close\r\n\
Content-Type: text/html\r\n\
\r\n\
<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete response.\n</body></html>\n";

/// No server, connection failures after retries, queue timeout, `monitor fail`.
pub const HTTP_503: &[u8] = b"HTTP/1.0 503 Service Unavailable\r\n\
Cache-Control: no-cache\r\n\
Connection: close\r\n\
Content-Type: text/html\r\n\
\r\n\
<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n";

/// `timeout server` expired before the response head.
pub const HTTP_504: &[u8] = b"HTTP/1.0 504 Gateway Time-out\r\n\
Cache-Control: no-cache\r\n\
Connection: close\r\n\
Content-Type: text/html\r\n\
\r\n\
<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n</body></html>\n";

/// Status codes that have a built-in page (and that `errorfile`/`errorloc` may replace).
pub const ERROR_CODES: [u16; 8] = [200, 400, 403, 408, 500, 502, 503, 504];

/// The built-in page for `code`, or `None` if 1.4 has none.
pub fn error_message(code: u16) -> Option<&'static [u8]> {
    Some(match code {
        200 => HTTP_200,
        400 => HTTP_400,
        403 => HTTP_403,
        408 => HTTP_408,
        500 => HTTP_500,
        502 => HTTP_502,
        503 => HTTP_503,
        504 => HTTP_504,
        _ => return None,
    })
}

const AUTH_COMMON: &[u8] = b"Cache-Control: no-cache\r\n\
Connection: close\r\n\
Content-Type: text/html\r\n";

/// Body of both 401 and 407: 1.4 says "401 Unauthorized" in the 407 page too.
const AUTH_BODY: &[u8] =
    b"<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n";

/// Appends 1.4's `HTTP_401_fmt` with `realm` (`http-request auth`, stats auth) to `out`.
/// The realm is written as configured (1.4 does not escape it).
pub fn write_401(out: &mut Vec<u8>, realm: &[u8]) {
    out.extend_from_slice(b"HTTP/1.0 401 Unauthorized\r\n");
    out.extend_from_slice(AUTH_COMMON);
    out.extend_from_slice(b"WWW-Authenticate: Basic realm=\"");
    out.extend_from_slice(realm);
    out.extend_from_slice(b"\"\r\n\r\n");
    out.extend_from_slice(AUTH_BODY);
}

/// Appends 1.4's `HTTP_407_fmt` (proxy requests, `option http-use-proxy-header`) to `out`.
pub fn write_407(out: &mut Vec<u8>, realm: &[u8]) {
    out.extend_from_slice(b"HTTP/1.0 407 Unauthorized\r\n");
    out.extend_from_slice(AUTH_COMMON);
    out.extend_from_slice(b"Proxy-Authenticate: Basic realm=\"");
    out.extend_from_slice(realm);
    out.extend_from_slice(b"\"\r\n\r\n");
    out.extend_from_slice(AUTH_BODY);
}

/// Status of a `redirect` rule (`code` keyword; 302 by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectCode {
    Moved301,
    Found302,
    SeeOther303,
    Temporary307,
    Permanent308,
}

impl RedirectCode {
    pub fn from_code(code: u16) -> Option<RedirectCode> {
        Some(match code {
            301 => RedirectCode::Moved301,
            302 => RedirectCode::Found302,
            303 => RedirectCode::SeeOther303,
            307 => RedirectCode::Temporary307,
            308 => RedirectCode::Permanent308,
            _ => return None,
        })
    }

    pub fn code(self) -> u16 {
        match self {
            RedirectCode::Moved301 => 301,
            RedirectCode::Found302 => 302,
            RedirectCode::SeeOther303 => 303,
            RedirectCode::Temporary307 => 307,
            RedirectCode::Permanent308 => 308,
        }
    }

    /// Status line and the headers before `Location` (1.4 `HTTP_30x`): 301 and 308 carry no
    /// `Cache-Control`.
    fn prefix(self) -> &'static [u8] {
        match self {
            RedirectCode::Moved301 => b"HTTP/1.1 301 Moved Permanently\r\nContent-length: 0\r\n",
            RedirectCode::Found302 => {
                b"HTTP/1.1 302 Found\r\nCache-Control: no-cache\r\nContent-length: 0\r\n"
            }
            RedirectCode::SeeOther303 => {
                b"HTTP/1.1 303 See Other\r\nCache-Control: no-cache\r\nContent-length: 0\r\n"
            }
            RedirectCode::Temporary307 => {
                b"HTTP/1.1 307 Temporary Redirect\r\nCache-Control: no-cache\r\nContent-length: 0\r\n"
            }
            RedirectCode::Permanent308 => {
                b"HTTP/1.1 308 Permanent Redirect\r\nContent-length: 0\r\n"
            }
        }
    }
}

/// How a redirect ends the connection (1.4 picks keep-alive only when the location starts
/// with `/`, the request had no body and the connection mode allows it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectConn {
    /// `Connection: close` (default).
    Close,
    /// `Proxy-Connection: close` (request used `Proxy-Connection`).
    ProxyClose,
    /// Keep-alive for an HTTP/1.1 client: no connection header.
    KeepAliveImplicit,
    /// Keep-alive for an HTTP/1.0 client: `Connection: keep-alive`.
    KeepAlive,
    /// Keep-alive for an HTTP/1.0 proxy client: `Proxy-Connection: keep-alive`.
    ProxyKeepAlive,
}

/// Appends a `redirect` response to `out`: status line, `Cache-Control` (not for 301/308),
/// `Content-length: 0`, `Location: ` followed by the concatenation of `location` (pieces, so
/// `prefix` + path need no temporary buffer), an optional `Set-Cookie` line (`set-cookie` /
/// `clear-cookie` text as built by the caller), the connection header and the empty line.
pub fn write_redirect(
    out: &mut Vec<u8>,
    code: RedirectCode,
    location: &[&[u8]],
    set_cookie: Option<&[u8]>,
    conn: RedirectConn,
) {
    out.extend_from_slice(code.prefix());
    out.extend_from_slice(b"Location: ");
    for piece in location {
        out.extend_from_slice(piece);
    }
    out.extend_from_slice(b"\r\n");
    if let Some(cookie) = set_cookie {
        out.extend_from_slice(b"Set-Cookie: ");
        out.extend_from_slice(cookie);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(match conn {
        RedirectConn::Close => b"Connection: close\r\n\r\n",
        RedirectConn::ProxyClose => b"Proxy-Connection: close\r\n\r\n",
        RedirectConn::KeepAliveImplicit => b"\r\n",
        RedirectConn::KeepAlive => b"Connection: keep-alive\r\n\r\n",
        RedirectConn::ProxyKeepAlive => b"Proxy-Connection: keep-alive\r\n\r\n",
    });
}

/// Appends the `errorloc`/`errorloc302` (302) or `errorloc303` (303) reply pointing to `url`:
/// `HTTP/1.1 30x ...\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: <url>\r\n\r\n`.
/// Any other code is written as 302, like `errorloc`.
pub fn write_errorloc(out: &mut Vec<u8>, code: u16, url: &[u8]) {
    let code = if code == 303 {
        RedirectCode::SeeOther303
    } else {
        RedirectCode::Found302
    };
    out.extend_from_slice(code.prefix());
    out.extend_from_slice(b"Location: ");
    out.extend_from_slice(url);
    out.extend_from_slice(b"\r\n\r\n");
}

/// Appends the server `redir <prefix>` reply for a GET/HEAD request: 302 to `prefix`
/// followed by `path`, the request path from its first `/` (see [`super::head::uri_path`]).
/// A prefix of exactly `/` adds nothing, so that a server can redirect to the same URL.
/// `proxy_connection` selects `Proxy-Connection: close` over `Connection: close`.
pub fn write_server_redir(out: &mut Vec<u8>, prefix: &[u8], path: &[u8], proxy_connection: bool) {
    let prefix: &[u8] = if prefix == b"/" { b"" } else { prefix };
    let conn = if proxy_connection {
        RedirectConn::ProxyClose
    } else {
        RedirectConn::Close
    };
    write_redirect(out, RedirectCode::Found302, &[prefix, path], None, conn);
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMON: &str =
        "Cache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n";

    #[test]
    fn error_pages_are_exact() {
        let expect = [
            (200, "HTTP/1.0 200 OK\r\n", "<html><body><h1>200 OK</h1>\nHAProxy: service ready.\n</body></html>\n"),
            (400, "HTTP/1.0 400 Bad request\r\n", "<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"),
            (403, "HTTP/1.0 403 Forbidden\r\n", "<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n"),
            (408, "HTTP/1.0 408 Request Time-out\r\n", "<html><body><h1>408 Request Time-out</h1>\nYour browser didn't send a complete request in time.\n</body></html>\n"),
            (500, "HTTP/1.0 500 Server Error\r\n", "<html><body><h1>500 Server Error</h1>\nAn internal server error occured.\n</body></html>\n"),
            (502, "HTTP/1.0 502 Bad Gateway\r\n", "<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete response.\n</body></html>\n"),
            (503, "HTTP/1.0 503 Service Unavailable\r\n", "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n"),
            (504, "HTTP/1.0 504 Gateway Time-out\r\n", "<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n</body></html>\n"),
        ];
        for (code, status, body) in expect {
            let want = format!("{status}{COMMON}{body}");
            assert_eq!(error_message(code), Some(want.as_bytes()), "{code}");
        }
        assert_eq!(ERROR_CODES.len(), expect.len());
        assert_eq!(error_message(404), None);
    }

    #[test]
    fn auth_challenges() {
        let mut out = Vec::new();
        write_401(&mut out, b"HAProxy Statistics");
        assert_eq!(
            out,
            b"HTTP/1.0 401 Unauthorized\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\nWWW-Authenticate: Basic realm=\"HAProxy Statistics\"\r\n\r\n<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"
        );
        out.clear();
        write_407(&mut out, b"px");
        assert_eq!(
            out,
            b"HTTP/1.0 407 Unauthorized\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\nProxy-Authenticate: Basic realm=\"px\"\r\n\r\n<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"
        );
    }

    #[test]
    fn redirects() {
        let mut out = Vec::new();
        write_redirect(
            &mut out,
            RedirectCode::Found302,
            &[b"https://x", b"/p?q"],
            Some(b"SRV=; path=/; Max-Age=0;"),
            RedirectConn::Close,
        );
        assert_eq!(
            out,
            b"HTTP/1.1 302 Found\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: https://x/p?q\r\nSet-Cookie: SRV=; path=/; Max-Age=0;\r\nConnection: close\r\n\r\n"
        );
        out.clear();
        write_redirect(
            &mut out,
            RedirectCode::Moved301,
            &[b"/a"],
            None,
            RedirectConn::KeepAlive,
        );
        assert_eq!(
            out,
            b"HTTP/1.1 301 Moved Permanently\r\nContent-length: 0\r\nLocation: /a\r\nConnection: keep-alive\r\n\r\n"
        );
        for (code, line) in [
            (303, "HTTP/1.1 303 See Other\r\nCache-Control: no-cache\r\n"),
            (
                307,
                "HTTP/1.1 307 Temporary Redirect\r\nCache-Control: no-cache\r\n",
            ),
            (308, "HTTP/1.1 308 Permanent Redirect\r\n"),
        ] {
            out.clear();
            let rc = RedirectCode::from_code(code).unwrap();
            assert_eq!(rc.code(), code);
            write_redirect(&mut out, rc, &[b"/"], None, RedirectConn::KeepAliveImplicit);
            let want = format!("{line}Content-length: 0\r\nLocation: /\r\n\r\n");
            assert_eq!(out, want.as_bytes());
        }
        for (conn, tail) in [
            (RedirectConn::ProxyClose, "Proxy-Connection: close\r\n\r\n"),
            (
                RedirectConn::ProxyKeepAlive,
                "Proxy-Connection: keep-alive\r\n\r\n",
            ),
        ] {
            out.clear();
            write_redirect(&mut out, RedirectCode::Found302, &[b"/"], None, conn);
            assert!(out.ends_with(format!("Location: /\r\n{tail}").as_bytes()));
        }
        assert_eq!(RedirectCode::from_code(300), None);
    }

    #[test]
    fn errorloc_and_server_redir() {
        let mut out = Vec::new();
        write_errorloc(&mut out, 302, b"http://err/");
        assert_eq!(
            out,
            b"HTTP/1.1 302 Found\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: http://err/\r\n\r\n"
        );
        out.clear();
        write_errorloc(&mut out, 303, b"/e");
        assert_eq!(
            out,
            b"HTTP/1.1 303 See Other\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: /e\r\n\r\n"
        );
        out.clear();
        write_server_redir(&mut out, b"http://s2", b"/x?y", false);
        assert_eq!(
            out,
            b"HTTP/1.1 302 Found\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: http://s2/x?y\r\nConnection: close\r\n\r\n"
        );
        out.clear();
        write_server_redir(&mut out, b"/", b"/x", true);
        assert_eq!(
            out,
            b"HTTP/1.1 302 Found\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: /x\r\nProxy-Connection: close\r\n\r\n"
        );
    }

    #[test]
    fn fixed_replies() {
        assert_eq!(HTTP_100_CONTINUE, b"HTTP/1.1 100 Continue\r\n\r\n");
        assert_eq!(MONITOR_NET_OK, b"HTTP/1.0 200 OK\r\n\r\n");
    }
}
