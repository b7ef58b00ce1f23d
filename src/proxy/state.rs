//! What ACLs read from the live proxies (`fe_conn`, `be_conn`, `nbsrv`, `connslots`,
//! `queue`, `srv_is_up`...): the runtime seen through [`acl::ProxyState`], relative to the
//! proxy whose rule is being evaluated (a name-less fetch means that proxy).

use crate::acl::{BackendLoad, FrontendLoad, ProxyState, ServerLoad};
use crate::runtime::{Proxy, Runtime};
use parser::ir::ServerRef;
use std::sync::atomic::Ordering::Relaxed;

/// The runtime as seen from the rules of `current`.
pub struct RuntimeState<'a> {
    pub rt: &'a Runtime,
    pub current: &'a Proxy,
}

impl<'a> RuntimeState<'a> {
    fn lookup(&self, name: Option<&str>, backend: bool) -> Option<&'a Proxy> {
        match name {
            None => Some(self.current),
            Some(n) => self.rt.proxies.iter().find(|p| {
                p.cfg.name == n
                    && if backend {
                        p.cfg.kind.has_be()
                    } else {
                        p.cfg.kind.has_fe()
                    }
            }),
        }
    }
}

impl ProxyState for RuntimeState<'_> {
    fn frontend(&self, name: Option<&str>) -> Option<FrontendLoad> {
        let p = self.lookup(name, false)?;
        Some(FrontendLoad {
            conn: i64::from(p.feconn.load(Relaxed)),
            sess_rate: i64::from(p.fe_counters.sess_rate.rate()),
        })
    }

    fn backend(&self, name: Option<&str>) -> Option<BackendLoad> {
        let p = self.lookup(name, true)?;
        let active = p
            .servers
            .iter()
            .filter(|s| !s.cfg.backup && s.is_usable())
            .count() as i64;
        let backup = p
            .servers
            .iter()
            .filter(|s| s.cfg.backup && s.is_usable())
            .count() as i64;
        let queued = i64::from(p.nbpend.load(Relaxed))
            + p.servers
                .iter()
                .map(|s| i64::from(s.nbpend.load(Relaxed)))
                .sum::<i64>();
        Some(BackendLoad {
            conn: i64::from(p.beconn.load(Relaxed)),
            sess_rate: i64::from(p.be_counters.sess_rate.rate()),
            active_servers: active,
            backup_servers: backup,
            first_backup_in_use: active == 0 && backup > 0 && p.cfg.options.allbackups.is_none(),
            queued,
        })
    }

    fn for_each_server(&self, backend: Option<&str>, f: &mut dyn FnMut(&ServerLoad)) -> bool {
        let Some(p) = self.lookup(backend, true) else {
            return false;
        };
        for s in &p.servers {
            f(&ServerLoad {
                running: s.is_usable(),
                maxconn: i64::from(s.cfg.maxconn),
                cur_sess: i64::from(s.cur_sess.load(Relaxed)),
                maxqueue: i64::from(s.cfg.maxqueue),
                queued: i64::from(s.nbpend.load(Relaxed)),
            });
        }
        true
    }

    fn srv_is_up(&self, srv: &ServerRef) -> bool {
        let Some(p) = self.lookup(srv.proxy.as_deref(), true) else {
            return false;
        };
        p.servers
            .iter()
            .find(|s| s.cfg.name == srv.server)
            .is_some_and(|s| !s.maint.load(Relaxed) && (!s.cfg.check || s.up.load(Relaxed)))
    }
}
