//! The product's logging: syslog targets, httplog/tcplog lines, termination states.
