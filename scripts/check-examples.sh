#!/usr/bin/env bash
# Runs `haproxide -c` on every example configuration; all must be valid.
set -euo pipefail
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
