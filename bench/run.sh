#!/usr/bin/env bash
# run.sh - every benchmark in bench/*.bench (or the ones named), one after the other.
#   make bench                      all
#   make bench BENCH_ARGS="http"    bench/http.bench only
# Results (CSV/TSV and a text summary per benchmark) go to $BUILD/bench/.
set -u
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build} QPS_ROOT=$PWD
OUT=$BUILD/bench; mkdir -p "$OUT"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for f in bench/*.bench; do names+=("$(basename "$f" .bench)"); done
fi
rc=0
for n in "${names[@]}"; do
	echo "== bench: $n"
	BENCH_OUT=$OUT/$n bash "bench/$n.bench" || { echo "bench $n failed" >&2; rc=1; }
done
exit $rc
