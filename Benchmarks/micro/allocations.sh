#!/usr/bin/env bash
# Heap allocations per operation on NeoSC's hot paths, checked against the baseline committed in
# .benchmarkBaselines/NeoSCAllocations/main (issue #16; docs/benchmarks.md, "Allocations").
#
#   Benchmarks/micro/allocations.sh           run the benchmarks and check them: exits 2 when an
#                                             operation allocates more than 10 % above the baseline
#   Benchmarks/micro/allocations.sh --update  run them and make the run the new baseline (commit it)
#
# A release build of this package and its dependencies: about 15 minutes the first time. It takes
# /tmp/neosc-swift-build.lock, like every Swift build here, so it never runs beside another.
set -euo pipefail
cd "$(dirname "$0")"
export PATH=/opt/swift/usr/bin:$PATH
lock=/tmp/neosc-swift-build.lock
target=NeoSCAllocations
baseline=main

case "${1:-check}" in
  --update)
    flock "$lock" swift package --disable-sandbox --allow-writing-to-package-directory \
      benchmark baseline update "$baseline" --target "$target" --no-progress
    echo "Baseline rewritten: commit .benchmarkBaselines/$target/$baseline"
    ;;
  check)
    [ -d ".benchmarkBaselines/$target/$baseline" ] || { echo "No baseline at .benchmarkBaselines/$target/$baseline" >&2; exit 1; }
    # The plugin exits 1 both on a regression and on an improvement; the error it names tells which.
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    status=0
    flock "$lock" swift package --disable-sandbox benchmark baseline check "$baseline" --target "$target" --no-progress 2>&1 \
      | tee "$log" || status=$?
    if grep -q "not found in" "$log"; then
      # A benchmark added or renamed is only warned about, and would pass unchecked.
      echo "Allocations: a benchmark and the baseline do not match (above): $0 --update, and commit the baseline." >&2
      exit 1
    elif grep -q "benchmarkThresholdRegression" "$log"; then
      echo "Allocations: more than 10 % above the baseline (the table above)." >&2
      exit 2
    elif grep -q "benchmarkThresholdImprovement" "$log"; then
      echo "Allocations: fewer than the baseline (the table above). Keep the gain: $0 --update, and commit the baseline."
    elif [ "$status" -eq 0 ] && grep -q "is WITHIN the '$baseline' baseline thresholds" "$log"; then
      echo "Allocations: within 10 % of the baseline."
    else
      echo "Allocations: the check did not run to its end (exit $status)." >&2
      exit 1
    fi
    ;;
  *) echo "usage: $0 [--update]" >&2; exit 64 ;;
esac
