//! The stream: one task per client connection, analysers in 1.4's order.
