//! The `cookie` persistence cookie: reading and editing `Cookie` request headers, editing
//! `Set-Cookie`/`Set-Cookie2` response headers, inserting our own `Set-Cookie`, and the
//! response cacheability test behind `nocache`.
//!
//! Keywords: `cookie <name> [rewrite|insert|prefix] [indirect] [nocache] [postonly]
//! [preserve] [httponly] [secure] [domain <d>]* [maxidle <t>] [maxlife <t>]`, server
//! `cookie <value>`, `option persist`. Compare with 1.4 `src/proto_http.c`:
//! `manage_client_side_cookies()`, `manage_server_side_cookies()`, `del_hdr_value()`,
//! `check_response_for_cacheability()`, step 6 of `http_process_res_common()` (insertion),
//! and `src/base64.c` `s30tob64()`/`b64tos30()` (the `maxidle`/`maxlife` dates).
//!
//! 1.4 rewrites cookie headers in place in its buffer; the exact bytes it leaves behind
//! (spaces around `=` removed, one space after the delimiter that replaces a removed
//! cookie, the header dropped when nothing is left) are part of what a server sees. The
//! functions here work on a copy of one header line in a reusable buffer and reproduce
//! those bytes; the caller then replaces or deletes the line through `HeadEdit`.

use super::TxnPersist;
use crate::http1::Method;
use crate::log::term::{ReqCookie, ResCookie};
use crate::runtime::Server;
use parser::ir::{AppSession, CookieMode, CookiePersist};

/// Separates the server's id from the application's value in `prefix` mode.
pub const PREFIX_DELIM: u8 = b'~';
/// Separates the server's id from the dates in `maxidle`/`maxlife` cookies.
pub const DATE_DELIM: u8 = b'|';
/// Dates more than this far in the future make a cookie invalid (1.4 allows one day of
/// clock skew between the load balancers that issued the cookie).
const MAX_FUTURE_SECS: i64 = 86_400;

/// The alphabet of 1.4's cookie dates (standard base64, no padding).
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes the low 30 bits of `v` as five base64 characters, most significant first.
pub fn s30_to_b64(v: u32) -> [u8; 5] {
    let mut out = [0u8; 5];
    for (i, o) in out.iter_mut().enumerate() {
        let shift = 24 - 6 * i as u32;
        *o = B64[((v >> shift) & 0x3f) as usize];
    }
    out
}

/// Decodes five base64 characters made by [`s30_to_b64`]; `None` if `s` is shorter or holds
/// a character outside the alphabet.
pub fn b64_to_s30(s: &[u8]) -> Option<u32> {
    let s = s.get(..5)?;
    let mut v = 0u32;
    for &c in s {
        let d = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        v = (v << 6) | u32::from(d);
    }
    Some(v)
}

/// The date 1.4 writes in a cookie: the current time rounded up to its 4-second unit.
pub fn date_now_b64(now: i64) -> [u8; 5] {
    s30_to_b64(((now + 3) >> 2) as u32)
}

fn is_spht(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// End of a cookie value starting at `from`: the first `,` or `;` outside double quotes
/// (a backslash escapes the next character inside quotes), or the end of the line.
fn value_end(line: &[u8], from: usize) -> usize {
    let mut quoted = false;
    let mut escaped = false;
    for (i, &c) in line.iter().enumerate().skip(from) {
        if escaped {
            escaped = false;
        } else if quoted {
            if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                quoted = false;
            }
        } else if c == b'"' {
            quoted = true;
        } else if c == b',' || c == b';' {
            return i;
        }
    }
    line.len()
}

/// End of a comma-separated element starting at `from` (quotes respected), for the
/// several cookies of a `Set-Cookie2` line.
fn element_end(line: &[u8], from: usize) -> usize {
    let mut quoted = false;
    let mut escaped = false;
    for (i, &c) in line.iter().enumerate().skip(from) {
        if escaped {
            escaped = false;
        } else if quoted {
            if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                quoted = false;
            }
        } else if c == b'"' {
            quoted = true;
        } else if c == b',' {
            return i;
        }
    }
    line.len()
}

/// Removes the value between the delimiter (or header colon) at `from` and the delimiter
/// (or end of line) at `next`, leaving the line as 1.4's `del_hdr_value()` does: the
/// delimiter at `next` takes the place of the one at `from` followed by one space, spaces
/// around it are dropped; when the first value goes, the colon stays followed by a space.
///
/// Returns the new position of the delimiter that now stands at `from`, and how many bytes
/// were removed: every position from the old `next` on moves left by that much.
fn del_value(line: &mut Vec<u8>, from: usize, next: usize) -> (usize, usize) {
    let mut prev = from;
    let mut next = next.min(line.len());
    let new_from;
    if line.get(prev) == Some(&b':') {
        new_from = from;
        if next < line.len() {
            next += 1;
        }
        prev += 1;
        if prev < next {
            line[prev] = b' ';
            prev += 1;
        }
        while next < line.len() && is_spht(line[next]) {
            next += 1;
        }
    } else {
        while prev > 0 && is_spht(line[prev - 1]) {
            prev -= 1;
        }
        new_from = prev;
        if next < line.len() {
            line[prev] = line[next];
            prev += 1;
            next += 1;
            if prev + 1 < next {
                line[prev] = b' ';
                prev += 1;
            }
            while next < line.len() && is_spht(line[next]) {
                next += 1;
            }
        }
    }
    let removed = next.saturating_sub(prev);
    if removed > 0 {
        line.drain(prev..next);
    }
    (new_from, removed)
}

/// What to do with a header line after a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineEdit {
    Keep,
    /// The working copy holds the new text of the line.
    Replace,
    /// Remove the whole header line.
    Delete,
}

/// Whether `line` is a header named `name` (case-insensitive) with the colon right after
/// the name, as 1.4's `http_header_match2()` requires.
pub fn header_is(line: &[u8], name: &[u8]) -> bool {
    line.len() > name.len()
        && line.get(name.len()) == Some(&b':')
        && line
            .get(..name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
}

/// Everything the request-side scan needs besides the transaction state.
pub struct ReqScan<'a> {
    pub cookie: Option<&'a CookiePersist>,
    pub servers: &'a [Server],
    /// `option persist` or a matching `force-persist`: a DOWN server is still used.
    pub use_down: bool,
    /// `ignore-persist` matched.
    pub ignore: bool,
    /// Wall-clock seconds (1.4 `date.tv_sec`).
    pub now: i64,
    pub app: Option<&'a AppSession>,
}

/// Scans one `Cookie:` request line (in `line`, without its line ending): finds the
/// persistence cookie and sets the server, `direct` and the request cookie flag in `st`;
/// hands every appsession cookie value to `on_app`; strips spaces around `=`, removes the
/// persistence cookie in `insert indirect` mode and the `SRV~` part in `prefix` mode.
pub fn scan_request_line(
    sc: &ReqScan<'_>,
    line: &mut Vec<u8>,
    st: &mut TxnPersist,
    on_app: &mut dyn FnMut(&[u8], &mut TxnPersist),
) -> LineEdit {
    const COLON: usize = 6; // "Cookie"
    let mut changed = false;
    let mut del_from: Option<usize> = None;
    let mut preserve = false;
    let mut prev = COLON;
    while prev < line.len() {
        let mut att_beg = prev + 1;
        while att_beg < line.len() && is_spht(line[att_beg]) {
            att_beg += 1;
        }
        let mut equal = att_beg;
        let mut att_end = att_beg;
        while let Some(&c) = line.get(equal) {
            if c == b'=' || c == b',' || c == b';' {
                break;
            }
            equal += 1;
            if !is_spht(c) {
                att_end = equal;
            }
        }
        let (mut val_beg, mut val_end, mut next);
        if line.get(equal) == Some(&b'=') {
            val_beg = equal + 1;
            while val_beg < line.len() && is_spht(line[val_beg]) {
                val_beg += 1;
            }
            next = value_end(line, val_beg);
            val_end = next;
            while val_end > val_beg && is_spht(line[val_end - 1]) {
                val_end -= 1;
            }
        } else {
            val_beg = equal;
            val_end = equal;
            next = equal;
        }

        // RFC 2109 attributes ($Version, $Path...) belong to the cookie before them.
        if line.get(att_beg) == Some(&b'$') {
            prev = next;
            continue;
        }

        if equal == next {
            // A word without '=': kept, which ends any pending removal before it.
            preserve = true;
            if let Some(from) = del_from.take() {
                let (_, removed) = del_value(line, from, prev);
                next -= removed;
                changed = true;
            }
            prev = next;
            continue;
        }

        // Spaces around '=' are removed from what the server sees.
        if att_end != equal {
            let n = equal - att_end;
            line.drain(att_end..equal);
            equal -= n;
            val_beg -= n;
            val_end -= n;
            next -= n;
            changed = true;
        }
        if val_beg > equal + 1 {
            let n = val_beg - (equal + 1);
            line.drain(equal + 1..val_beg);
            val_beg -= n;
            val_end -= n;
            next -= n;
            changed = true;
        }

        let is_ours = sc
            .cookie
            .is_some_and(|c| line.get(att_beg..att_end) == Some(c.name.as_bytes()));
        if let (true, Some(ck)) = (is_ours, sc.cookie) {
            // The server's id runs to the prefix delimiter, or to the first date.
            let mut delim = val_end;
            if ck.mode == CookieMode::Prefix {
                if let Some(p) = line[val_beg..val_end]
                    .iter()
                    .position(|&c| c == PREFIX_DELIM)
                {
                    delim = val_beg + p;
                }
            } else if let Some(p) = line[val_beg..val_end].iter().position(|&c| c == DATE_DELIM) {
                delim = val_beg + p;
                let v1 = delim + 1;
                if val_end - v1 >= 5 {
                    if let Some(v) = b64_to_s30(&line[v1..]).filter(|&v| v > 0) {
                        st.cookie_last_date = v << 2;
                    }
                }
                if let Some(p2) = line[v1..val_end].iter().position(|&c| c == DATE_DELIM) {
                    let v2 = v1 + p2;
                    if val_end - v2 > 5 {
                        if let Some(v) = b64_to_s30(&line[v2 + 1..]).filter(|&v| v > 0) {
                            st.cookie_first_date = v << 2;
                        }
                    }
                }
            }

            // Too old (maxlife) or idle too long (maxidle): treated as absent.
            let maxlife = ck.maxlife.unwrap_or(0);
            let maxidle = ck.maxidle.unwrap_or(0);
            let first = i64::from(st.cookie_first_date);
            let last = i64::from(st.cookie_last_date);
            if first != 0
                && maxlife != 0
                && ((sc.now - first) as i32 > maxlife as i32
                    || (first - sc.now) as i32 > MAX_FUTURE_SECS as i32)
            {
                st.req_cookie = ReqCookie::Old;
                delim = val_beg;
                st.cookie_first_date = 0;
                st.cookie_last_date = 0;
            } else if last != 0
                && maxidle != 0
                && ((sc.now - last) as i32 > maxidle as i32
                    || (last - sc.now) as i32 > MAX_FUTURE_SECS as i32)
            {
                st.req_cookie = ReqCookie::Expired;
                delim = val_beg;
                st.cookie_first_date = 0;
                st.cookie_last_date = 0;
            }

            // First server (declaration order) with this cookie that may take the request.
            // An empty value never matches: a client that learned the empty cookie of a
            // cookie-less backup server must not stick to it.
            let mut found = false;
            if delim != val_beg && !sc.ignore {
                let id = &line[val_beg..delim];
                for (i, srv) in sc.servers.iter().enumerate() {
                    if srv.cfg.cookie.as_deref().map(str::as_bytes) != Some(id) {
                        continue;
                    }
                    let running = srv.accepts_persistent();
                    if running || sc.use_down {
                        st.req_cookie = if running {
                            ReqCookie::Valid
                        } else {
                            ReqCookie::Down
                        };
                        st.direct = true;
                        st.server = Some(i);
                        found = true;
                        break;
                    }
                    // Down: remember it, a later server may share the cookie.
                    st.req_cookie = ReqCookie::Down;
                }
            }
            if !found && st.req_cookie == ReqCookie::None {
                st.req_cookie = ReqCookie::Invalid;
            }

            if ck.mode == CookieMode::Prefix && delim != val_end {
                // The application gets its own value back, without "SRV~".
                let n = delim + 1 - val_beg;
                line.drain(val_beg..delim + 1);
                val_end -= n;
                next -= n;
                changed = true;
                del_from = None;
                preserve = true;
            } else if del_from.is_none() && ck.mode == CookieMode::Insert && ck.indirect {
                del_from = Some(prev);
            }
        } else {
            // Someone else's cookie: kept; a pending removal before it is done now.
            preserve = true;
            if let Some(from) = del_from.take() {
                let (_, removed) = del_value(line, from, prev);
                att_beg -= removed;
                att_end -= removed;
                val_beg -= removed;
                val_end -= removed;
                next -= removed;
                changed = true;
            }
        }

        if let (false, Some(app)) = (sc.ignore, sc.app) {
            let name = app.cookie.as_bytes();
            let (cmp_len, vb) = if app.prefix {
                ((val_end - att_beg).min(name.len()), att_beg + name.len())
            } else {
                (att_end - att_beg, val_beg)
            };
            if cmp_len == name.len() && line.get(att_beg..att_beg + cmp_len) == Some(name) {
                if let Some(v) = line.get(vb..val_end) {
                    on_app(v, st);
                }
            }
        }
        prev = next;
    }
    if let Some(from) = del_from {
        if !preserve {
            return LineEdit::Delete;
        }
        let end = line.len();
        del_value(line, from, end);
        changed = true;
    }
    if changed {
        LineEdit::Replace
    } else {
        LineEdit::Keep
    }
}

/// Everything the response-side scan needs besides the transaction state.
pub struct ResScan<'a> {
    pub cookie: Option<&'a CookiePersist>,
    /// The server that answered (`None` for dispatch/transparent).
    pub server: Option<&'a Server>,
    /// The request was routed by persistence to this very server.
    pub direct: bool,
    pub ignore: bool,
    pub app: Option<&'a AppSession>,
}

/// Scans one `Set-Cookie` (`name_len` 10) or `Set-Cookie2` (11) line: deletes, rewrites or
/// prefixes the persistence cookie as the mode asks (setting the response cookie flag),
/// and records an appsession cookie's value in `st` for learning.
pub fn scan_response_line(
    sc: &ResScan<'_>,
    line: &mut Vec<u8>,
    name_len: usize,
    st: &mut TxnPersist,
) -> LineEdit {
    let cookie2 = name_len == 11;
    let mut changed = false;
    let mut prev = name_len;
    while prev < line.len() {
        let mut att_beg = prev + 1;
        while att_beg < line.len() && is_spht(line[att_beg]) {
            att_beg += 1;
        }
        let mut equal = att_beg;
        let mut att_end = att_beg;
        while let Some(&c) = line.get(equal) {
            if c == b'=' || c == b';' || (cookie2 && c == b',') {
                break;
            }
            equal += 1;
            if !is_spht(c) {
                att_end = equal;
            }
        }
        let (mut val_beg, mut val_end, mut next);
        if line.get(equal) == Some(&b'=') {
            val_beg = equal + 1;
            while val_beg < line.len() && is_spht(line[val_beg]) {
                val_beg += 1;
            }
            next = value_end(line, val_beg);
            val_end = next;
            while val_end > val_beg && is_spht(line[val_end - 1]) {
                val_end -= 1;
            }
        } else {
            val_beg = equal;
            val_end = equal;
            next = equal;
        }
        if next < line.len() {
            // Set-Cookie holds one cookie (its attributes may contain commas: Expires);
            // Set-Cookie2 may list several, separated by unquoted commas.
            next = if cookie2 {
                element_end(line, next)
            } else {
                line.len()
            };
        }
        if equal == val_end {
            prev = next;
            continue;
        }
        if att_end != equal {
            let n = equal - att_end;
            line.drain(att_end..equal);
            equal -= n;
            val_beg -= n;
            val_end -= n;
            next -= n;
            changed = true;
        }
        if val_beg > equal + 1 {
            let n = val_beg - (equal + 1);
            line.drain(equal + 1..val_beg);
            val_beg -= n;
            val_end -= n;
            next -= n;
            changed = true;
        }

        let ours = sc
            .cookie
            .filter(|c| !sc.ignore && line.get(att_beg..att_end) == Some(c.name.as_bytes()));
        if let Some(ck) = ours {
            st.res_cookie = ResCookie::Passive;
            let srv_cookie = sc.server.and_then(|s| s.cfg.cookie.as_deref());
            if ck.preserve {
                // The server manages the cookie itself.
            } else if (sc.server.is_some() && ck.mode == CookieMode::Insert)
                || (sc.direct && ck.indirect)
            {
                // We insert our own (or the client already has it): drop the server's.
                st.res_cookie = ResCookie::Deleted;
                if line.get(prev) == Some(&b':') && next == line.len() {
                    return LineEdit::Delete;
                }
                let (new_from, _) = del_value(line, prev, next);
                next = new_from;
                changed = true;
            } else if let (Some(c), CookieMode::Rewrite) = (srv_cookie, ck.mode) {
                let old = val_end - val_beg;
                line.splice(val_beg..val_end, c.bytes());
                next = next + c.len() - old;
                changed = true;
                st.res_cookie = ResCookie::Rewritten;
            } else if let (Some(c), CookieMode::Prefix) = (srv_cookie, ck.mode) {
                let ins = c.len() + 1;
                line.splice(
                    val_beg..val_beg,
                    c.bytes().chain(std::iter::once(PREFIX_DELIM)),
                );
                next += ins;
                changed = true;
                st.res_cookie = ResCookie::Rewritten;
            }
        } else if let (false, Some(app)) = (sc.ignore, sc.app) {
            let name = app.cookie.as_bytes();
            let max = app.len as usize;
            let (cmp_len, vb, vlen) = if app.prefix {
                let rest = (val_end - att_beg).saturating_sub(name.len());
                (
                    (val_end - att_beg).min(name.len()),
                    att_beg + name.len(),
                    rest.min(max),
                )
            } else {
                (att_end - att_beg, val_beg, (val_end - val_beg).min(max))
            };
            if cmp_len == name.len() && line.get(att_beg..att_beg + cmp_len) == Some(name) {
                if let Some(v) = line.get(vb..vb + vlen) {
                    st.set_sessid(v);
                }
            }
        }
        prev = next;
    }
    if changed {
        LineEdit::Replace
    } else {
        LineEdit::Keep
    }
}

/// Whether a response may be stored by a shared cache, as 1.4 decides it for `nocache`
/// (and `option checkcache`): status 200, 203, 206, 300, 301 or 410 to a request that is
/// not a POST, and no `Pragma: no-cache` nor a first `Cache-control` directive of
/// `private`, `no-cache` or `no-store`. `lines` yields the current header lines.
///
/// Like 1.4, only the first directive of each `Cache-control` line is looked at, and a
/// directive with a value (`max-age=0`, `s-maxage=0`) never makes the response private.
pub fn is_cacheable<'a>(
    status: u16,
    method: Method,
    lines: impl Iterator<Item = &'a [u8]>,
) -> bool {
    if !matches!(status, 200 | 203 | 206 | 300 | 301 | 410) || method == Method::Post {
        return false;
    }
    for line in lines {
        if header_is(line, b"Pragma") {
            let v = skip_spht(&line[7..]);
            if v.len() >= 8 && v[..8].eq_ignore_ascii_case(b"no-cache") {
                return false;
            }
        }
        if !header_is(line, b"Cache-control") {
            continue;
        }
        let v = skip_spht(&line[14..]);
        let tok_end = v
            .iter()
            .position(|&c| c == b'=' || c == b',' || c.is_ascii_whitespace() || c == 0x0b)
            .unwrap_or(v.len());
        if v.get(tok_end) == Some(&b'=') {
            continue;
        }
        let tok = &v[..tok_end];
        if tok.eq_ignore_ascii_case(b"private")
            || tok.eq_ignore_ascii_case(b"no-cache")
            || tok.eq_ignore_ascii_case(b"no-store")
        {
            return false;
        }
    }
    true
}

fn skip_spht(v: &[u8]) -> &[u8] {
    let n = v.iter().take_while(|&&c| is_spht(c)).count();
    &v[n..]
}

/// Whether 1.4 inserts a `Set-Cookie` for this response (step 6 of
/// `http_process_res_common`): insert mode, a known server, no server cookie kept by
/// `preserve`, the client did not reach this server by its cookie (or a date must be
/// refreshed, added or removed), `postonly` satisfied and persistence not ignored.
pub fn wants_insert(
    ck: &CookiePersist,
    st: &TxnPersist,
    direct: bool,
    method: Method,
    now: i64,
) -> bool {
    if ck.mode != CookieMode::Insert || st.ignore {
        return false;
    }
    if st.res_cookie == ResCookie::Passive && ck.preserve {
        return false;
    }
    let maxidle = ck.maxidle.unwrap_or(0);
    let maxlife = ck.maxlife.unwrap_or(0);
    let last = i64::from(st.cookie_last_date);
    let first = st.cookie_first_date;
    let refresh = ((maxidle != 0 || last != 0) && (last == 0 || last - now < 0))
        || (maxlife != 0 && first == 0)
        || (maxlife == 0 && first != 0);
    (!direct || refresh) && (!ck.postonly || method == Method::Post)
}

/// Writes the `Set-Cookie` line 1.4 inserts for `server_cookie` (without line ending).
pub fn write_set_cookie(
    ck: &CookiePersist,
    server_cookie: Option<&str>,
    first_date: u32,
    now: i64,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"Set-Cookie: ");
    out.extend_from_slice(ck.name.as_bytes());
    match server_cookie {
        None => {
            // A server without a cookie (e.g. a backup): make the client forget it.
            out.extend_from_slice(b"=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/");
        }
        Some(c) => {
            out.push(b'=');
            out.extend_from_slice(c.as_bytes());
            if ck.maxidle.is_some() || ck.maxlife.is_some() {
                out.push(DATE_DELIM);
                out.extend_from_slice(&date_now_b64(now));
                if ck.maxlife.is_some() {
                    out.push(DATE_DELIM);
                    if first_date != 0 {
                        out.extend_from_slice(&s30_to_b64(first_date >> 2));
                    } else {
                        out.extend_from_slice(&date_now_b64(now));
                    }
                }
            }
            out.extend_from_slice(b"; path=/");
        }
    }
    for d in &ck.domains {
        out.extend_from_slice(b"; domain=");
        out.extend_from_slice(d.as_bytes());
    }
    if ck.httponly {
        out.extend_from_slice(b"; HttpOnly");
    }
    if ck.secure {
        out.extend_from_slice(b"; Secure");
    }
}
