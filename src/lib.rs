//! haproxide: a drop-in replacement for HAProxy that runs 1.4 configuration files unchanged.
//!
//! The binary (`src/main.rs`) is a thin shell over this library so that `tests/` and `fuzz/`
//! can drive every piece. The configuration dialect lives in the `parser` crate; this crate
//! turns its IR into a running proxy.

pub mod acl;
pub mod buffer;
pub mod check;
pub mod cli;
pub mod convert;
pub mod counters;
pub mod demo;
pub mod http1;
pub mod lb;
pub mod listener;
pub mod log;
pub mod persist;
pub mod process;
pub mod proxy;
pub mod runtime;
pub mod stats;
pub mod support;
pub mod worker;
