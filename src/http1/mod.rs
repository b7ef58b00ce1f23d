//! HTTP/1 codec (sans-io): request/response heads kept as raw lines, body framing, canned replies.
