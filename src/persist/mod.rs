//! Persistence: keeping a client on the server it used before. 1.4 applies, for a request:
//! the `cookie` persistence cookie, then `appsession` (cookie, then URL), then stick tables;
//! for a response: Set-Cookie processing (rewrite/prefix/insert, `nocache`), appsession
//! learning. The stream calls [`request`] before choosing a server and [`response`] on the
//! response head; both edit the heads through the codec's [`HeadEdit`].

use crate::http1::{HeadEdit, HeadIndex, Method};
use crate::log::term::{ReqCookie, ResCookie};
use crate::runtime::Proxy;

/// Persistence state of one transaction.
#[derive(Debug, Default)]
pub struct TxnPersist {
    /// Server chosen by persistence (index in the backend), if any.
    pub server: Option<usize>,
    /// The request was routed by persistence (1.4 `SN_DIRECT`).
    pub direct: bool,
    pub req_cookie: ReqCookie,
    pub res_cookie: ResCookie,
    /// `force-persist` matched: use the persistent server even if down, never redispatch.
    pub force: bool,
    /// `ignore-persist` matched: skip cookie and appsession lookups.
    pub ignore: bool,
}

impl TxnPersist {
    pub fn reset(&mut self) {
        *self = TxnPersist::default();
    }
}

/// Request side: finds the persistent server and edits the request (indirect cookies,
/// prefixes). TODO(#4): cookie modes, appsession, stick tables.
pub fn request(be: &Proxy, buf: &[u8], idx: &HeadIndex, edit: &mut HeadEdit, st: &mut TxnPersist) {
    let _ = (buf, idx, edit);
    st.req_cookie = if be.cfg.cookie.is_some() {
        ReqCookie::None
    } else {
        ReqCookie::NotConfigured
    };
}

/// Response side: Set-Cookie processing and insertion. TODO(#4).
pub fn response(
    be: &Proxy,
    server: Option<usize>,
    req_method: Method,
    buf: &[u8],
    idx: &HeadIndex,
    edit: &mut HeadEdit,
    st: &mut TxnPersist,
) {
    let _ = (server, req_method, buf, idx, edit);
    st.res_cookie = if be.cfg.cookie.is_some() {
        ResCookie::None
    } else {
        ResCookie::NotConfigured
    };
}
