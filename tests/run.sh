#!/usr/bin/env bash
# run.sh - run the TAP test suites and print one closing line "N passed, N failed".
#
#   tests/run.sh                 every area
#   tests/run.sh unit server     only those areas
#   BUILD=build/san tests/run.sh the sanitizer build's binaries
#
# A suite is an executable that prints TAP ("ok N - name", "not ok N - name",
# "ok N - name # SKIP reason", a plan "1..N"):
#   $BUILD/tests/unit/*          compiled C tests (tests/unit/*.c)
#   tests/<area>/*.t             scripts, run from the repository root
# A suite that exits non-zero, dies, or prints fewer results than its plan counts
# as a failure even if every line it printed said "ok".
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD QPS_ROOT=$PWD
SUITE_TIMEOUT=${SUITE_TIMEOUT:-600}
AREAS=("$@")
[ ${#AREAS[@]} -eq 0 ] && AREAS=(unit server tuner bpf ansible demo)
LOGDIR=$BUILD/test-logs
mkdir -p "$LOGDIR"

pass=0 fail=0 skip=0 failed_suites=()
run_suite() {  # $1 = label, rest = command
	local label=$1 log rc t0 t1 p f s plan n
	shift
	log=$LOGDIR/$(echo "$label" | tr '/' '_').log
	t0=$(date +%s.%N)
	timeout --foreground -k 10 "$SUITE_TIMEOUT" "$@" >"$log" 2>&1 </dev/null
	rc=$?
	t1=$(date +%s.%N)
	p=$(grep -cE '^ok [0-9]+' "$log" | head -1)
	s=$(grep -ciE '^ok [0-9]+.*# *skip' "$log")
	f=$(grep -cE '^not ok [0-9]+' "$log")
	plan=$(grep -oE '^1\.\.[0-9]+' "$log" | head -1 | cut -d. -f3)
	p=$((p - s))
	n=$((p + s + f))
	local why=""
	if [ "$rc" -ne 0 ]; then why="exit $rc"; [ "$rc" = 124 ] && why="timed out after ${SUITE_TIMEOUT}s"; fi
	if [ -n "$plan" ] && [ "$plan" != "$n" ]; then why="${why:+$why, }planned $plan ran $n"; fi
	if [ "$n" = 0 ] && [ -z "$why" ]; then why="no test results"; fi
	if [ -n "$why" ] && [ "$f" = 0 ]; then f=1; fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	printf '%-34s %3d ok %3d failed %3d skipped  %5.1fs%s\n' "$label" "$p" "$f" "$s" \
		"$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "${why:+  ($why)}"
	if [ "$f" -gt 0 ]; then
		failed_suites+=("$label")
		grep -E '^not ok|^#' "$log" | head -40 | sed 's/^/    /'
		[ -n "$why" ] && tail -15 "$log" | sed 's/^/    | /'
	fi
	grep -iE '^ok [0-9]+.*# *skip' "$log" | sed 's/^/    /'
}

for area in "${AREAS[@]}"; do
	if [ "$area" = unit ]; then
		for t in "$BUILD"/tests/unit/*; do
			[ -x "$t" ] && [ -f "$t" ] || continue
			run_suite "unit/$(basename "$t")" "$t"
		done
		continue
	fi
	for t in tests/"$area"/*.t; do
		[ -x "$t" ] || continue
		run_suite "$area/$(basename "$t" .t)" "$t"
	done
done

echo
if [ ${#failed_suites[@]} -gt 0 ]; then
	echo "failed suites: ${failed_suites[*]} (logs in $LOGDIR)"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ $((pass + skip)) -gt 0 ]
