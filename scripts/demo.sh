#!/usr/bin/env bash
# `make demo`: starts two demo origin servers and haproxide on examples/demo.cfg (loopback
# only), prints what to curl, and stops everything it started on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/haproxide}
backend="$(dirname "$bin")/haproxide-demo-backend"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
"$backend" 127.0.0.1:8001 REALsrv_70 127.0.0.1:8002 REALsrv_120 &
pids+=($!)
"$bin" -db -f examples/demo.cfg &
pids+=($!)
# wait until the frontend answers
for _ in $(seq 1 50); do
  if (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then break; fi
  sleep 0.1
done
cat <<'MSG'

haproxide is running the reference setup on loopback (examples/demo.cfg).
Try, in another terminal:

  # four persistence strategies, chosen by Host header (run each a few times):
  curl -s -c /tmp/jar -b /tmp/jar -H 'Host: cookie.9ai9.net'     http://127.0.0.1:8080/   # cookie insert: same server
  curl -s -c /tmp/jar -b /tmp/jar -H 'Host: sourceip.9ai9.net'   http://127.0.0.1:8080/   # balance source: same server
  curl -s -c /tmp/jar -b /tmp/jar -H 'Host: appsession.9ai9.net' http://127.0.0.1:8080/   # appsession 9ai9: same server
  curl -s -c /tmp/jar -b /tmp/jar -H 'Host: nosession.9ai9.net'  http://127.0.0.1:8080/   # roundrobin: alternates
  curl -si -H 'Host: cookie.9ai9.net' http://127.0.0.1:8080/ | grep -i -e set-cookie -e cache-control

  # stats page (basic auth qhappy:qhappy) and CSV export:
  curl -s -u qhappy:qhappy 'http://127.0.0.1:8081/qhappy_stats;csv'
  # monitor URI:
  curl -si http://127.0.0.1:8082/site_status

Press Ctrl-C to stop.
MSG
wait
