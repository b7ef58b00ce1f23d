//! Persistence: cookie, appsession, stick tables.
