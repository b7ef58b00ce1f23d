#!/usr/bin/env bash
# `make bench`: haproxide side by side with HAProxy 2.6 and nginx alone, on loopback.
# Usage: bench/run.sh [path/to/haproxide]   (default target/release/haproxide)
# Knobs (environment): BENCH_ROUNDS (3), BENCH_DURATION (seconds per run, 3),
# BENCH_IDLE (idle connections for scenario d, 10000), BENCH_ONLY (e.g. "a,a_sc"),
# BENCH_DOCS (markdown file whose bench section is rewritten; default docs/performance.md,
# empty to leave it alone). Results: target/bench/results.{json,md}.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/haproxide}
[ -x "$BIN" ] || { echo "bench: $BIN is not built (make release)" >&2; exit 1; }
bash scripts/install-deps.sh haproxy wrk nginx-light python3
# 10,000 idle client connections plus the proxies' own sockets.
ulimit -n "$(ulimit -Hn)"
# The logging cost helper (bench/log_cost.rs), built beside the binary.
cargo build --release --quiet --example log_cost
DOCS=${BENCH_DOCS-docs/performance.md}
exec python3 bench/bench.py "$BIN" --out target/bench ${DOCS:+--docs "$DOCS"} \
    --log-cost target/release/examples/log_cost
