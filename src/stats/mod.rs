//! Statistics: HTML page, CSV, stats socket, Prometheus.
