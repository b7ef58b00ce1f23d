//! Health checks and server state.
