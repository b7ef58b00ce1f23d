//! HTTP/1 codec of the data path, sans-io (no tokio here): request/response heads kept as raw
//! lines, head rewriting, body framing, and the responses haproxy writes itself.
//!
//! HAProxy 1.4 is line based: it forwards the bytes it received and only edits the lines the
//! configuration asks for, keeping header case, order and odd spacing. This module does the
//! same. Nothing here allocates per request once the caller's reusable structures have grown:
//! the head index is a fixed-capacity struct, edits go to a reusable scratch buffer, output is
//! written into a caller-provided `Vec<u8>`, bodies are never copied.
//!
//! # Flow for one transaction (`Txn`)
//!
//! ```text
//! idx.clear();                                   // HeadIndex, one per Stream and direction
//! loop { match idx.parse_request(&buf, &opts) {  // buf = bytes received so far
//!     Parse::Incomplete => read more,
//!     Parse::TooLarge | Parse::Invalid(_) => reply canned::HTTP_400, close,
//!     Parse::Complete => break,
//! } }
//! idx.info()       -> framing, Connection tokens, Expect: 100-continue, Upgrade, absolute URI
//! idx.find(..)     -> header values for ACLs, persistence, balance hdr(), X-Forwarded-For
//! edit.reset(&idx); edit.delete/replace/append/remove_token(..)   // reqrep, reqdel, reqadd...
//! edit.write(&buf, &idx, &mut out)               // or forward buf[..head_end] if unedited
//! body.reset(idx.framing()); body.feed(&buf[idx.head_end()..])    // until Progress.done
//! ```
//! Responses go the same way with [`HeadIndex::parse_response`] (which needs the request
//! method: a response to HEAD has no body) and 502 instead of 400.
//!
//! # Public API
//!
//! Parsing ([`head`]):
//! - [`HeadIndex`]: `new`, `clear`, `parse_request(buf, opts) -> Parse`,
//!   `parse_response(buf, opts, req_method) -> Parse`; after `Complete`: `head_start`,
//!   `head_end` (where the body starts), `start_line`, `method`/`method_token`, `uri`,
//!   `version`, `status`, `reason`, `headers() -> &[HeaderLine]`, `info() -> &MsgInfo`,
//!   `framing`, `find(buf, name)`, `first_value(buf, name)`, `values(buf, name)`.
//! - [`Parse`]: `Complete | Incomplete | TooLarge | Invalid(Invalid)`; [`Invalid::is_framing`]
//!   tells a `Content-Length`/`Transfer-Encoding` violation (head still indexed) from a syntax
//!   error.
//! - [`ParseOptions`] `{ max_head, accept_invalid }` (`bufsize - maxrewrite`,
//!   `option accept-invalid-http-request|response`).
//! - [`HeaderLine`]: `line()`, `line_with_eol()`, `name()`, `value()`, `eol_len()`, all
//!   [`Span`]s (`start`, `end`, `get(buf)`).
//! - [`MsgInfo`] `{ framing: Framing, content_length, transfer_encoding, connection: ConnTokens,
//!   proxy_connection: ConnTokens, expect_continue, upgrade, absolute_uri }`.
//! - [`Framing`]: `None | Length(u64) | Chunked | UntilClose`; [`Method`], [`Version`],
//!   [`uri_path`] (path from the first `/`, 1.4 `http_get_path()`), [`MAX_HTTP_HDR`],
//!   [`MAX_HEADERS`], [`DEFAULT_MAX_HEAD`].
//!
//! Rewriting ([`edit`]): [`HeadEdit`] `reset`, `line`, `lines`, `find`, `start_line`,
//! `delete`, `replace`, `replace_with`, `replace_start_line(_with)`, `append(_with)`,
//! `remove_token`, `replace_token`, `is_unedited`, `write(src, idx, out)`; errors
//! [`EditError`] (`TooManyHeaders` → 400/502 like 1.4).
//!
//! Header values ([`tokens`]): [`comma_values`], [`split_header_line`], [`token_eq`],
//! [`parse_content_length`].
//!
//! Bodies ([`body`]): [`BodyState`] `new(framing)`, `reset`, `feed(data) -> Progress {
//! consumed, done }`, `feed_with(data, on_payload)`, `is_done`, `remaining_hint`;
//! [`BodyError`]; [`body_prefix`] for `balance url_param check_post`.
//!
//! Canned replies ([`canned`]): `HTTP_200`..`HTTP_504`, [`error_message`],
//! [`HTTP_100_CONTINUE`], [`MONITOR_NET_OK`], [`write_401`], [`write_407`],
//! [`write_redirect`] with [`RedirectCode`] and [`RedirectConn`], [`write_errorloc`],
//! [`write_server_redir`].
//!
//! Error positions ([`errpos`]): [`error_offset`] finds the first invalid byte of a head
//! the parser rejected, for `show errors` (off the fast path).
//!
//! Fuzzing ([`fuzz`]): `request`, `response`, `chunked` entry points shared by the cargo-fuzz
//! targets and the corpus replay test.

pub mod body;
pub mod canned;
pub mod edit;
pub mod errpos;
pub mod fuzz;
pub mod head;
pub mod tokens;

#[cfg(test)]
mod tests;

pub use body::{body_prefix, BodyError, BodyState, Prefix, Progress, MAX_CHUNK_SIZE};
pub use canned::{
    error_message, write_401, write_407, write_errorloc, write_redirect, write_server_redir,
    RedirectCode, RedirectConn, HTTP_100_CONTINUE, MONITOR_NET_OK,
};
pub use edit::{EditError, HeadEdit};
pub use errpos::error_offset;
pub use head::{
    uri_path, ConnTokens, Framing, HeadIndex, HeaderLine, Invalid, Kind, Method, MsgInfo, Parse,
    ParseOptions, Span, Version, DEFAULT_MAX_HEAD, MAX_HEADERS, MAX_HTTP_HDR,
};
pub use tokens::{comma_values, parse_content_length, split_header_line, token_eq};
