//! A stream as the ACL engine sees it ([`acl::AclContext`]): addresses, ids, the request and
//! response heads *as edited so far* (1.4 rewrites its buffer in place, so a rule sees what
//! earlier `reqrep`/`reqadd` rules produced), and the live proxy state.

use super::state::RuntimeState;
use crate::acl::{AclContext, ProxyState, RequestLine, StatusLine};
use crate::http1::{split_header_line, HeadEdit, HeadIndex};
use crate::runtime::{Proxy, Runtime};
use parser::ir::Userlist;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;

/// One parsed head with its pending edits.
#[derive(Clone, Copy)]
pub struct HeadView<'a> {
    pub buf: &'a [u8],
    pub idx: &'a HeadIndex,
    pub edit: &'a HeadEdit,
}

impl<'a> HeadView<'a> {
    /// The current start line split on spaces: (first, second, rest) words.
    fn start_words(&self) -> (&'a [u8], &'a [u8], &'a [u8]) {
        let line = self.edit.start_line(self.buf, self.idx);
        let mut parts = line.splitn(3, |&b| b == b' ');
        let a = parts.next().unwrap_or(&[]);
        let b = parts.next().unwrap_or(&[]);
        let c = parts.next().unwrap_or(&[]);
        (a, b, c)
    }

    fn headers(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        self.edit
            .lines(self.buf, self.idx)
            .filter_map(|(_, l)| split_header_line(l))
    }
}

/// Everything a rule may look at, for the proxy whose rules run (`state.current`).
pub struct View<'a> {
    pub rt: &'a Runtime,
    pub state: RuntimeState<'a>,
    pub fe: &'a Proxy,
    /// Current backend (the frontend before switching).
    pub be: &'a Proxy,
    pub server_id: Option<u32>,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub luid: u32,
    pub req: Option<HeadView<'a>>,
    pub res: Option<HeadView<'a>>,
    pub first_req: bool,
    /// Request bytes not yet forwarded (TCP content rules).
    pub payload: &'a [u8],
    pub capacity: usize,
}

/// The parts of a [`View`] that do not change while rules run.
#[derive(Clone, Copy)]
pub struct Base<'a> {
    pub rt: &'a Runtime,
    pub fe: &'a Proxy,
    pub be: &'a Proxy,
    pub server_id: Option<u32>,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub luid: u32,
    pub first_req: bool,
    pub capacity: usize,
}

impl<'a> Base<'a> {
    /// A view for evaluating the rules of `current` over the given heads.
    pub fn view(
        &self,
        current: &'a Proxy,
        req: Option<HeadView<'a>>,
        res: Option<HeadView<'a>>,
    ) -> View<'a> {
        View {
            rt: self.rt,
            state: RuntimeState {
                rt: self.rt,
                current,
            },
            fe: self.fe,
            be: self.be,
            server_id: self.server_id,
            peer: self.peer,
            local: self.local,
            luid: self.luid,
            req,
            res,
            first_req: self.first_req,
            payload: &[],
            capacity: self.capacity,
        }
    }
}

impl AclContext for View<'_> {
    fn client_addr(&self) -> SocketAddr {
        self.peer
    }
    fn local_addr(&self) -> SocketAddr {
        self.local
    }
    fn listener_id(&self) -> i64 {
        i64::from(self.luid)
    }
    fn listener_conns(&self) -> i64 {
        i64::from(self.fe.feconn.load(Relaxed))
    }
    fn frontend_id(&self) -> i64 {
        i64::from(self.fe.uuid)
    }
    fn backend_id(&self) -> i64 {
        i64::from(self.be.uuid)
    }
    fn server_id(&self) -> Option<i64> {
        self.server_id.map(i64::from)
    }
    fn proxies(&self) -> &dyn ProxyState {
        &self.state
    }
    fn req_buffer(&self) -> &[u8] {
        self.payload
    }
    fn req_buffer_capacity(&self) -> usize {
        self.capacity
    }
    fn request_line(&self) -> Option<RequestLine<'_>> {
        let r = self.req?;
        let (method, uri, version) = r.start_words();
        Some(RequestLine {
            method,
            uri,
            version,
        })
    }
    fn req_headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.req.into_iter().flat_map(|r| r.headers())
    }
    fn http_first_req(&self) -> bool {
        self.first_req
    }
    /// 1.4 `TX_USE_PX_CONN`: the frontend has `option http-use-proxy-header` and the request
    /// URI, as received, starts with neither `/` nor `*`.
    fn use_proxy_auth(&self) -> bool {
        self.fe.cfg.options.http_use_proxy_header.is_some()
            && self.req.is_some_and(|r| r.idx.info().absolute_uri)
    }
    fn userlist(&self, name: &str) -> Option<&Userlist> {
        self.rt.config.userlist(name)
    }
    fn status_line(&self) -> Option<StatusLine<'_>> {
        let r = self.res?;
        let (version, code, _) = r.start_words();
        Some(StatusLine { version, code })
    }
    fn res_headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.res.into_iter().flat_map(|r| r.headers())
    }
}
