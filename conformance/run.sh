#!/usr/bin/env bash
# Runs the conformance cases: the cargo integration test that drives conformance/ cases
# against the release binary (and HAProxy 2.6 where a case says so).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --test conformance --test examples -- --test-threads=2
