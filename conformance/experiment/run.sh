#!/usr/bin/env bash
# Runs the reference experiment (tests/experiment.rs) and prints its table.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/install-deps.sh php-cli haproxy
exec cargo test --test experiment -- --nocapture
