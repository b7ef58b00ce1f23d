#!/usr/bin/env bash
# Runs the conformance cases: the cargo integration test that drives conformance/ cases
# against the release binary (and HAProxy 2.6 where a case says so).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${HAPROXIDE_BIN:=$(pwd)/target/release/haproxide}"
export HAPROXIDE_BIN
exec cargo test --release --test conformance -- --test-threads=2
