//! Statistics: HTML page, CSV, stats socket, Prometheus.

pub mod http;
