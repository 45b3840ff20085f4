#!/usr/bin/env bash
# Workspace streams through NeoSC (issue #17): 100 concurrent streams at 1 MB/s each with flat
# memory, and the latency NeoSC adds per frame (target: p99 ≤ 2 ms on loopback). Builds NeoSC in
# release mode, seeds users with tokens (the load benchmark's seed.py), starts a stand-in VNC
# workspace (upstream.py: speaks first, then sends time-stamped records) and NeoSC allowed to
# stream from it, and runs streams.py, which measures in one invocation the direct path (viewer
# to workspace over TCP) and the same through NeoSC (ticket, WebSocket, relay), then slow readers.
# Prints Markdown tables; exits 1 when a target is missed or a stream broke.
#
#   Benchmarks/stream/run.sh [--streams 100] [--duration 20] [--pause 15]
#
# Installs the `websockets` client (PyPI) into .venv if it is missing. Everything binds to
# 127.0.0.1 and is stopped on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/common.sh
streams=100 duration=20 pause=15
while [ $# -gt 0 ]; do
  case "$1" in
    --streams) streams=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --pause) pause=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $streams =~ ^[1-9][0-9]*$ ]] || { echo "--streams takes a positive number" >&2; exit 2; }

pkg-config --exists libmongoc-1.0 2>/dev/null || apt_install libmongoc-dev pkg-config
venv=$PWD/.venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import websockets' 2>/dev/null || "$venv/bin/pip" install -q "websockets==${WEBSOCKETS_VERSION:-17.4}"

swift build -c release --product neosc >&2
neosc=$PWD/.build/release/neosc
work=$(mktemp -d "${TMPDIR:-/tmp}/neosc-stream.XXXXXX")
stop_on_exit "$work"
ulimit -n "$(ulimit -Hn)"

# One client address opens every stream: the per-address connection cap is the load benchmark's
# concern, not this one's.
export NEOSC_DATA_DIR="$work/data" LOG_LEVEL=error NEOSC_MAX_CONNECTIONS_PER_ADDRESS=0 \
  NEOSC_STREAM_UPSTREAMS=127.0.0.1/32 NEOSC_MAX_SESSIONS_PER_USER=3
echo "benchmark password" | "$neosc" admin create --email bench-admin@example.com --password-stdin >/dev/null
# seed.py gives every 100 users 40 the neosc role (one session per four streams) and 5 admin.
users=$(( ((streams + 3) / 4 + 39) / 40 * 100 ))
python3 Benchmarks/load/seed.py sqlite "$NEOSC_DATA_DIR/neosc.sqlite" --users "$users" --workspaces 0 --audit 0 \
  --tokens-out "$work/tokens" >&2

upstream_port=$(free_port)
"$venv/bin/python" Benchmarks/stream/upstream.py "$upstream_port" "$work/upstream.json" >"$work/upstream.log" 2>&1 &
pids+=($!)
wait_for_port "$upstream_port" "${pids[-1]}" "the benchmark's workspace"
port=$(free_port)
PORT=$port HOST=127.0.0.1 "$neosc" serve >"$work/neosc.log" 2>&1 &
server=$!
pids+=($server)
wait_for_port "$port" "$server" NeoSC

echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores, $(uname -sr), commit $(git rev-parse --short HEAD):" \
  "NeoSC, the workspace and the viewers share the machine. Command: \`Benchmarks/stream/run.sh --streams $streams" \
  "--duration $duration --pause $pause\`."
echo
status=0
"$venv/bin/python" Benchmarks/stream/streams.py --api "http://127.0.0.1:$port" --tokens "$work/tokens" \
  --upstream-port "$upstream_port" --upstream-stats "$work/upstream.json" --neosc-pid "$server" \
  --streams "$streams" --duration "$duration" --pause "$pause" || status=$?
if ! kill -0 "$server" 2>/dev/null; then
  echo "NeoSC exited during the benchmark:" >&2
  tail -20 "$work/neosc.log" >&2
  status=1
fi
exit $status
