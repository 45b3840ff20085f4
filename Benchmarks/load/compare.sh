#!/usr/bin/env bash
# A/B of two NeoSC builds on this noisy machine: both serve the same seeded dataset side by side,
# and alternating short wrk runs (order flipped every round) measure the floor and auth on each.
# Reports per build the median requests/s, the server's CPU time per request (from /proc/PID/stat:
# steadier here than requests/s) and the median auth/floor ratio of the same round, and the two
# builds' requests/s and CPU per request side by side, paired by round.
#
#   [LOG_LEVEL=info] Benchmarks/load/compare.sh OLD_NEOSC_BINARY NEW_NEOSC_BINARY [rounds] [seconds]
#
# LOG_LEVEL=info serves with the access log on (a line per request, to a file), as deployments
# do; the default, error, measures without it. Giving one binary twice compares it with itself.
# LOG_LEVELS="error info" gives each side its own level: one binary twice then measures what the
# access log costs, off against on in one run (issue #16); LOG_FORMAT=json as deployments log.
# SCENARIO=dashboard (any of scenario.lua's) measures that scenario instead of auth, beside the floor,
# and reports its p99 too.
# POLICIES="0 20" seeds each side with that many enabled policies that refuse nothing (seed.py
# --policies): one binary twice then measures what evaluating them costs (issue #13).
#
# e.g. git worktree add /tmp/neosc-old REV && (cd /tmp/neosc-old && swift build -c release --product neosc)
#      Benchmarks/load/compare.sh /tmp/neosc-old/.build/release/neosc .build/release/neosc
# Everything binds to 127.0.0.1 and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/common.sh
[ $# -ge 2 ] || { sed -n 2,10p "$0" >&2; exit 2; }
binaries=("$1" "$2")
rounds=${3:-6} seconds=${4:-6}
measured=${SCENARIO:-auth}
read -r -a levels <<<"${LOG_LEVELS:-${LOG_LEVEL:-error} ${LOG_LEVEL:-error}}"
read -r -a policy_counts <<<"${POLICIES:-0 0}"
[ "${#levels[@]}" = 2 ] || { echo "LOG_LEVELS takes two levels" >&2; exit 2; }
command -v wrk >/dev/null 2>&1 || apt_install wrk

work=$(mktemp -d "${TMPDIR:-/tmp}/neosc-compare.XXXXXX")
stop_on_exit "$work"
ulimit -n 65536 2>/dev/null || true

for index in 0 1; do
  dir="$work/$index"
  mkdir -p "$dir"
  echo 'benchmark password' | NEOSC_DATA_DIR="$dir/data" LOG_LEVEL=error "${binaries[$index]}" admin create \
    --email bench-admin@example.com --password-stdin >/dev/null
  python3 Benchmarks/load/seed.py sqlite "$dir/data/neosc.sqlite" --users 10000 --workspaces 200 --audit 100000 \
    --tokens-out "$dir/tokens" --policies "${policy_counts[$index]}" >/dev/null
  free_port >"$dir/port"
  NEOSC_DATA_DIR="$dir/data" LOG_LEVEL="${levels[$index]}" NEOSC_BENCHMARK_ROUTES=true PORT="$(cat "$dir/port")" \
    "${binaries[$index]}" serve >"$dir/log" 2>&1 &
  pids+=($!)
  echo $! >"$dir/pid"
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$(cat "$dir/port")/health" >/dev/null 2>&1 && break; sleep 0.1; done
done

: >"$work/results"
for round in $(seq 1 "$rounds"); do
  if [ $((round % 2)) = 0 ]; then order="0 1"; else order="1 0"; fi
  for index in $order; do
    for scenario in floor "$measured"; do
      # The server's CPU time over the run (utime + stime, in clock ticks): CPU per request is
      # steadier on this machine than requests/s.
      pid=$(cat "$work/$index/pid")
      ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
      line=$(SCENARIO=$scenario TOKENS="$work/$index/tokens" wrk -t2 -c64 -d"${seconds}s" --timeout 10s \
        -s Benchmarks/load/scenario.lua "http://127.0.0.1:$(cat "$work/$index/port")" | tail -n 1)
      ticks=$(($(awk '{print $14 + $15}' "/proc/$pid/stat") - ticks))
      echo "$round $index $scenario $ticks $line" >>"$work/results"
    done
  done
done

python3 - "$work/results" "$measured" "$(getconf CLK_TCK)" "$1 (LOG_LEVEL=${levels[0]}, ${policy_counts[0]} policies)" \
  "$2 (LOG_LEVEL=${levels[1]}, ${policy_counts[1]} policies)" <<'PY'
import json, statistics, sys
runs, p99, cpu = {}, {}, {}
measured, ticks_per_second = sys.argv[2], int(sys.argv[3])
for line in open(sys.argv[1]):
    round_, index, scenario, ticks, result = line.split(" ", 4)
    result = json.loads(result)
    runs[(round_, index, scenario)] = result["requests"] / (result["duration_us"] / 1e6)
    p99[(round_, index, scenario)] = result["p99_us"] / 1000
    cpu[(round_, index, scenario)] = int(ticks) / ticks_per_second * 1e6 / max(result["requests"], 1)
rounds = sorted({key[0] for key in runs})
for index, binary in enumerate(sys.argv[4:6]):
    floor = [runs[(r, str(index), "floor")] for r in rounds]
    scenario = [runs[(r, str(index), measured)] for r in rounds]
    latency = [p99[(r, str(index), measured)] for r in rounds]
    ratio = [a / f for a, f in zip(scenario, floor)]
    cost = [cpu[(r, str(index), measured)] for r in rounds]
    print(f"{binary}: floor median {statistics.median(floor):,.0f} req/s (range {min(floor):,.0f}-{max(floor):,.0f}); "
          f"{measured} median {statistics.median(scenario):,.0f} (p99 median {statistics.median(latency):.1f} ms, "
          f"server CPU median {statistics.median(cost):.1f} µs per request); "
          f"{measured}/floor median {statistics.median(ratio):.2f}")
# The two sides' figures in the same round, side by side in time: the least noisy comparison.
paired = [runs[(r, "1", measured)] / runs[(r, "0", measured)] for r in rounds]
print(f"{measured}, second over first, same round: median {statistics.median(paired):.2f} "
      f"(range {min(paired):.2f}-{max(paired):.2f}, {len(paired)} rounds)")
paired_cost = [cpu[(r, "1", measured)] / cpu[(r, "0", measured)] for r in rounds]
print(f"{measured} server CPU per request, second over first, same round: median {statistics.median(paired_cost):.2f} "
      f"(range {min(paired_cost):.2f}-{max(paired_cost):.2f})")
PY
