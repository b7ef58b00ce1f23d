#!/usr/bin/env bash
# `make soak`: a bounded mixed load through haproxide (SOAK_SECONDS, default 60) with one
# backend server restarted every SOAK_RESTART_SECS (default 10) and a reload (-sf) half
# way through; prints requests sent/failed, RSS after warm-up vs at the end, and file
# descriptors before/after. The driver is the ignored test in tests/soak.rs.
# Usage: scripts/soak.sh [path/to/haproxide]   (default target/release/haproxide)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
if [ -z "$bin" ]; then
  # No binary given: the current release build (cargo knows whether it is up to date).
  cargo build --release
  bin=target/release/haproxide
fi
export HAPROXIDE_BIN
HAPROXIDE_BIN=$(realpath "$bin")
export SOAK_REPORT=${SOAK_REPORT:-target/soak-report.txt}
cargo test --release --test soak -- --ignored --nocapture --test-threads=1
echo "soak: figures written to $SOAK_REPORT"
cat "$SOAK_REPORT"
