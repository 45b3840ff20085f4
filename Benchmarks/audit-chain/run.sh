#!/usr/bin/env bash
# Audit chain benchmark (issue #14, speed), on release builds and the embedded store:
#
# 1. Verification: seeds N sealed audit entries (default 1,000,000; hashed by the reference
#    implementation, scripts/verify-audit-export) straight into the SQLite file, lets NeoSC sign
#    their checkpoints at start-up, then times `GET /api/audit-logs/verify` and, once it has
#    stopped, `neosc audit verify --data-file` over them.
# 2. The write path: launch + stop through the API with wrk (64 connections, 10 s), each change
#    committed with its audit entry in one transaction. With BASELINE=<an older neosc binary>
#    (one that wrote the entry in a transaction of its own), the same run is made against it
#    right before, so the two numbers come from one run.
#
# STORE=mongo or STORE=mongo-standalone runs only the write path, on SecantusDB (scripts/test's
# MongoDB) as a single-node replica set (each change one transaction) or as a standalone server
# (each change journaled), a fresh database per build.
#
#   [BASELINE=/path/to/old/neosc] [STORE=embedded|mongo|mongo-standalone] Benchmarks/audit-chain/run.sh [ENTRIES]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/common.sh
entries=${1:-1000000}
[[ $entries =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [ENTRIES]" >&2; exit 2; }
command -v wrk >/dev/null 2>&1 || apt_install wrk

swift build -c release --product neosc >&2
neosc=$PWD/.build/release/neosc
work=$(mktemp -d "${TMPDIR:-/tmp}/neosc-audit-chain.XXXXXX")
stop_on_exit "$work"
export LOG_LEVEL=error NEOSC_MAX_SESSIONS_PER_USER=1000 NEOSC_MAX_CONNECTIONS_PER_ADDRESS=0
store=${STORE:-embedded}
case $store in
  embedded) ;;
  mongo | mongo-standalone)
    source scripts/test-services.sh  # installs SecantusDB into .venv when missing
    mongo_port=$(free_port)
    mkdir -p "$work/mongo"
    standalone=(); [ "$store" = mongo-standalone ] && standalone=(--standalone)
    "$NEOSC_SECANTUSD" --port "$mongo_port" --storage-path "$work/mongo" "${standalone[@]}" \
      >"$work/mongo.log" 2>&1 &
    pids+=($!)
    wait_for_port "$mongo_port" "${pids[-1]}" SecantusDB
    ;;
  *) echo "STORE must be embedded, mongo or mongo-standalone" >&2; exit 2 ;;
esac

serve() {  # binary data-dir → sets $port, $server
  port=$(free_port)
  local mongo_url=""
  [ "$store" = embedded ] || mongo_url="mongodb://127.0.0.1:$mongo_port/bench_$(basename "$2")"
  MONGO_URL=$mongo_url NEOSC_DATA_DIR="$2" PORT=$port HOST=127.0.0.1 NEOSC_ADMIN_EMAIL=bench@example.com \
    NEOSC_ADMIN_PASSWORD='benchmark password' "$1" serve >>"$work/neosc.log" 2>&1 &
  server=$!
  pids+=($server)
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "neosc did not start: $(tail -5 "$work/neosc.log")" >&2; exit 1
}
token() {
  curl -sf -X POST "http://127.0.0.1:$port/api/auth/login" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"benchmark password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
seconds() { python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) / 1e9:.2f}')" "$1" "$2"; }

# 1. Verification ------------------------------------------------------------------------------
if [ "$store" = embedded ]; then
serve "$neosc" "$work/verify"; kill "$server"; wait "$server" 2>/dev/null || true
python3 - "$work/verify/neosc.sqlite" "$entries" <<'PY'
import json, sqlite3, sys, time, uuid
from importlib.machinery import SourceFileLoader
reference = SourceFileLoader("reference", "scripts/verify-audit-export").load_module()
path, count = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(path)
head = db.execute("SELECT seq, hash FROM audit_logs ORDER BY seq DESC LIMIT 1").fetchone()
seq, previous = (head[0], head[1].hex()) if head else (0, reference.GENESIS)
start = round(time.time() - count / 100, 3)
actions = ["login", "launch_workspace", "stop_workspace", "logout", "update_user"]
def rows():
    global seq, previous
    for i in range(count):
        seq += 1
        stamp = round(start + i / 100, 3)
        entry = {"id": f"aud-{uuid.uuid4().hex}", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp)),
                 "user_id": f"usr-{i % 500}", "user_email": f"user{i % 500}@example.com", "action": actions[i % 5],
                 "resource_type": "workspace" if i % 5 in (1, 2) else None,
                 "resource_id": f"ws-{i % 40}" if i % 5 in (1, 2) else None,
                 "ip_address": f"192.0.2.{i % 250}", "success": bool(i % 11), "details": {"reason": "benchmark", "n": str(i)}}
        digest = reference.entry_hash(entry, seq, previous)
        yield (seq, entry["id"], stamp, entry["user_id"], entry["user_email"], entry["action"], entry["resource_type"],
               entry["resource_id"], json.dumps(entry["details"], sort_keys=True), entry["ip_address"], int(entry["success"]),
               bytes.fromhex(previous), bytes.fromhex(digest))
        previous = digest
db.executemany("INSERT INTO audit_logs (seq, id, timestamp, user_id, user_email, action, resource_type, resource_id, "
               "details, ip_address, success, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows())
db.commit()
PY
# NeoSC signs the checkpoints the seeded entries are due (one every 1,000) when it starts.
serve "$neosc" "$work/verify"
begin=$(date +%s%N)
python3 - "$work/verify/neosc.sqlite" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
head = db.execute("SELECT MAX(seq) FROM audit_logs").fetchone()[0]
for _ in range(1200):
    if db.execute("SELECT 1 FROM audit_checkpoints WHERE kind = 'head' AND seq >= ?", (head,)).fetchone():
        break
    time.sleep(0.5)
else:
    sys.exit("NeoSC did not sign the seeded chain within 10 minutes")
PY
signing=$(seconds "$begin" "$(date +%s%N)")
admin=$(token)
begin=$(date +%s%N)
curl -sf -H "Authorization: Bearer $admin" "http://127.0.0.1:$port/api/audit-logs/verify" -o "$work/online.json"
online=$(seconds "$begin" "$(date +%s%N)")
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["ok"], r' "$work/online.json"
rss=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
kill "$server"; wait "$server" 2>/dev/null || true
begin=$(date +%s%N)
NEOSC_DATA_DIR="$work/verify" "$neosc" audit verify --data-file "$work/verify/neosc.sqlite" >"$work/offline.json" || {
  cat "$work/offline.json" >&2; exit 1; }
offline=$(seconds "$begin" "$(date +%s%N)")
checked=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["ok"], r; print(r["entries"])' "$work/offline.json")
echo "Signing the checkpoints of $checked entries at start-up (a walk of the chain and one checkpoint per 1,000): $signing s"
echo
echo "| verification | entries | seconds | entries/s | peak RSS (MiB) |"
echo "| --- | ---: | ---: | ---: | ---: |"
awk -v n="$checked" -v t="$offline" 'BEGIN { printf "| `neosc audit verify --data-file` | %d | %s | %.0f | — |\n", n, t, n / t }'
awk -v n="$checked" -v t="$online" -v r="$rss" 'BEGIN { printf "| `GET /api/audit-logs/verify` | %d | %s | %.0f | %.1f |\n", n, t, n / t, r / 1024 }'
echo
fi

# 2. Launch + stop -----------------------------------------------------------------------------
echo "Store: $store"
echo "| build | changes/s (launches and stops answered 2xx) | p99 ms | non-2xx |"
echo "| --- | ---: | ---: | ---: |"
for build in ${BASELINE:+baseline} current; do
  binary=$neosc; [ "$build" = baseline ] && binary=$BASELINE
  serve "$binary" "$work/$build"
  admin=$(token)
  printf '%s admin bench@example.com\n' "$admin" >"$work/tokens"
  line=$(SCENARIO=launch-stop TOKENS="$work/tokens" wrk -t2 -c64 -d10s --timeout 10s \
    -s Benchmarks/load/scenario.lua "http://127.0.0.1:$port" | tail -n 1)
  kill "$server"; wait "$server" 2>/dev/null || true
  python3 - "$build" "$line" <<'PY'
import json, sys
build, r = sys.argv[1], json.loads(sys.argv[2])
seconds = r["duration_us"] / 1e6
ok = (r["requests"] - r["non2xx"]) / seconds
print(f"| {build} | {ok:.0f} | {r['p99_us'] / 1000:.1f} | {r['non2xx']} |")
PY
done
