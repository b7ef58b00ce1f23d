//! The stream: one task per client connection, analysers in 1.4's order
//! (see docs/lifecycle.md).

pub mod connect;
pub mod fuzz;
pub mod http;
pub mod idle_wait;
pub mod registry;
pub mod rules;
pub mod snapshot;
pub mod sockio;
pub mod splice;
pub mod state;
pub mod stream;
pub mod tcp;
pub mod tcp_rules;
pub mod trace;
pub mod tunnel;
pub mod view;
