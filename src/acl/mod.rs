//! ACL engine: evaluates 1.4 ACLs and `if`/`unless` conditions from the typed IR
//! (`parser::ir::{AclDef, AclExpr, Condition, ...}`) against a stream.
//!
//! The stream implements [`AclContext`] (and exposes a [`ProxyState`]) with cheap, borrowing
//! accessors; rules then call [`cond_matches`] / [`rule_applies`] (HTTP rules, switching
//! rules, persistence rules...) or [`cond_verdict`] with [`Phase::Partial`] for
//! `tcp-request content` rules that may wait for more data. Evaluation does not allocate
//! (see `fetch.rs` for the one exception in `http_auth`).
//!
//! Layout, mirroring 1.4's split between `src/acl.c` and the `acl_fetch_*`/`acl_match_*`
//! functions of `src/proto_http.c`, `src/proto_tcp.c`, `src/client.c`, `src/backend.c`:
//! - `fetch.rs`: the context traits and value extraction per [`parser::ir::Fetch`];
//! - `payload.rs`: raw request payload parsers (`req_proto_http`, `req_ssl_ver`,
//!   `req_rdp_cookie`);
//! - `matcher.rs`: one matching function per [`parser::ir::Matcher`] kind;
//! - `auth.rs`: Basic authentication against userlists (`http_auth`, `http_auth_group`);
//! - `eval.rs`: expressions, ACLs and conditions with the Pass/Miss/Fail logic.

pub mod auth;
pub mod eval;
pub mod fetch;
pub mod matcher;
pub mod payload;

pub use auth::Credentials;
pub use eval::{
    cond_matches, cond_verdict, eval_acl, eval_expr, exec_cond, rule_applies, AclResult, Phase,
    Verdict,
};
pub use fetch::{
    extract_path, AclContext, BackendLoad, FetchStatus, FrontendLoad, HdrValues, ProxyState,
    RequestLine, Sample, ServerLoad, StatusLine,
};

#[cfg(test)]
mod tests;
