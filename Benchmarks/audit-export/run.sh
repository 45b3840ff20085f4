#!/usr/bin/env bash
# Audit export benchmark (issue #14): exports N audit entries (default 1,000,000) as CSV and as
# JSON lines from a release build on the embedded store, and reports entries per second and
# NeoSC's resident memory before and at its peak during each export (sampled every 50 ms from
# /proc). The entries are written straight into the SQLite file while NeoSC is stopped, so
# seeding takes seconds, not an hour of API calls.
#
#   Benchmarks/audit-export/run.sh [ENTRIES]
set -euo pipefail
cd "$(dirname "$0")/../.."
entries=${1:-1000000}
[[ $entries =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [ENTRIES]" >&2; exit 2; }

swift build -c release --product neosc >&2
neosc=.build/release/neosc
work=$(mktemp -d "${TMPDIR:-/tmp}/neosc-audit-export.XXXXXX")
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

start() {
  rm -f "$work/port"
  NEOSC_DATA_DIR="$work/data" PORT=0 NEOSC_PORT_FILE="$work/port" LOG_LEVEL=warning \
    NEOSC_ADMIN_EMAIL=bench@example.com NEOSC_ADMIN_PASSWORD='benchmark password' "$neosc" serve 2>>"$work/neosc.log" &
  pid=$!
  for _ in $(seq 1 200); do [ -s "$work/port" ] && break; sleep 0.05; done
  port=$(cat "$work/port")
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

start; stop   # creates the store and its schema
python3 - "$work/data/neosc.sqlite" "$entries" <<'PY'
import json, sqlite3, sys, time, uuid
path, count = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(path)
now = time.time() - count / 100
actions = ["login", "launch_workspace", "stop_workspace", "logout", "update_user"]
def rows():
    for i in range(count):
        yield (f"aud-{uuid.uuid4().hex}", now + i / 100, f"usr-{i % 500}", f"user{i % 500}@example.com",
               actions[i % 5], "workspace" if i % 5 in (1, 2) else None, f"ws-{i % 40}" if i % 5 in (1, 2) else None,
               json.dumps({"reason": "benchmark", "n": str(i)}), f"192.0.2.{i % 250}", 1 if i % 11 else 0)
db.executemany("INSERT INTO audit_logs (id, timestamp, user_id, user_email, action, resource_type, resource_id, "
               "details, ip_address, success) VALUES (?,?,?,?,?,?,?,?,?,?)", rows())
db.commit()
PY
start
token=$(curl -sf -X POST "http://127.0.0.1:$port/api/auth/login" -H 'Content-Type: application/json' \
  -d '{"email":"bench@example.com","password":"benchmark password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }

echo "| format | entries | seconds | entries/s | bytes | RSS before (MiB) | peak RSS during (MiB) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for format in csv jsonl; do
  before=$(rss)
  peak=$before
  start_ns=$(date +%s%N)
  curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/audit-logs/export?format=$format" -o "$work/export.$format" &
  download=$!
  while kill -0 "$download" 2>/dev/null; do
    now_rss=$(rss); [ "$now_rss" -gt "$peak" ] && peak=$now_rss
    sleep 0.05
  done
  wait "$download"
  end_ns=$(date +%s%N)
  lines=$(wc -l < "$work/export.$format")
  exported=$([ "$format" = csv ] && echo $((lines - 1)) || echo "$lines")
  bytes=$(stat -c %s "$work/export.$format")
  awk -v f="$format" -v n="$exported" -v s="$start_ns" -v e="$end_ns" -v b="$bytes" -v r0="$before" -v r1="$peak" \
    'BEGIN { t = (e - s) / 1e9; printf "| %s | %d | %.2f | %.0f | %d | %.1f | %.1f |\n", f, n, t, n / t, b, r0 / 1024, r1 / 1024 }'
  rm -f "$work/export.$format"
done
