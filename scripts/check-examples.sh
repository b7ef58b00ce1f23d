#!/usr/bin/env bash
# Runs `haproxide -c` on every example configuration; all must be valid.
# Runs from the repository root: the examples' errorfile and ACL file paths are
# relative to it (tests/examples.rs does the same, plus smoke runs and the 2.6 table).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/haproxide}
fail=0
n=0
for f in examples/*.cfg; do
  n=$((n+1))
  if ! out=$("$bin" -c -f "$f" 2>&1); then
    echo "FAIL: $f"; echo "$out"; fail=1
  fi
done
echo "check-examples: $n configurations checked"
exit $fail
