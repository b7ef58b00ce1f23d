//! ACL engine: fetches, matchers and condition evaluation.
