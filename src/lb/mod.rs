//! Load balancing: one module per 1.4 algorithm.
