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
# as a failure even if every line it printed said "ok". A tests/<area>/*.t file
# without its exec bit is a failure, not a suite quietly left out.
#
# Skips under CI (CI=true): every "# SKIP" line is a failure unless the suite and
# reason match a line of tests/skip-allow.txt, each of which says why CI cannot run
# it. Outside CI a skip is counted and listed, never a failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
TESTS_DIR=${TESTS_DIR:-tests}
SKIP_ALLOW=${SKIP_ALLOW:-$TESTS_DIR/skip-allow.txt}
export BUILD QPS_ROOT=$PWD
SUITE_TIMEOUT=${SUITE_TIMEOUT:-600}
AREAS=("$@")
[ ${#AREAS[@]} -eq 0 ] && AREAS=(runner unit server tuner bpf diagnose ansible demo)
LOGDIR=$BUILD/test-logs
mkdir -p "$LOGDIR"

# skip-allow.txt: "SUITE<TAB>REASON-REGEX<TAB>WHY", SUITE as the runner labels it
# (area/name); '#' starts a comment line.
allow_suite=() allow_re=()
if [ -f "$SKIP_ALLOW" ]; then
	while IFS=$'\t' read -r a_suite a_re a_why; do
		case $a_suite in '' | '#'*) continue ;; esac
		if [ -z "$a_re" ] || [ -z "$a_why" ]; then
			echo "run.sh: $SKIP_ALLOW: entry for '$a_suite' needs SUITE<TAB>REASON-REGEX<TAB>WHY" >&2
			exit 2
		fi
		allow_suite+=("$a_suite") allow_re+=("$a_re")
	done <"$SKIP_ALLOW"
fi
# skip_allowed LABEL LINE: true when an allow-list entry covers this skip line
skip_allowed() {
	local i reason=${2#*# }
	reason=$(printf '%s' "$reason" | sed -E 's/^[Ss][Kk][Ii][Pp] *//')
	for i in "${!allow_suite[@]}"; do
		[ "${allow_suite[$i]}" = "$1" ] || continue
		printf '%s' "$reason" | grep -qE -- "${allow_re[$i]}" && return 0
	done
	return 1
}

pass=0 fail=0 skip=0 failed_suites=() bad_skips=()
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
	local why="" line nbad=0
	if [ "${CI:-}" = true ] && [ "$s" -gt 0 ]; then
		while IFS= read -r line; do
			skip_allowed "$label" "$line" && continue
			nbad=$((nbad + 1)) bad_skips+=("$label: $line")
		done < <(grep -iE '^ok [0-9]+.*# *skip' "$log")
		[ "$nbad" -gt 0 ] && why="$nbad skip(s) not in $SKIP_ALLOW under CI=true"
	fi
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
	[ -d "$TESTS_DIR/$area" ] || { echo "run.sh: no test area '$area'" >&2; exit 2; }
	for t in "$TESTS_DIR/$area"/*.t; do
		[ -e "$t" ] || continue
		if [ ! -x "$t" ]; then
			printf '%-34s   0 ok   1 failed   0 skipped  (not executable: chmod +x %s)\n' \
				"$area/$(basename "$t" .t)" "$t"
			fail=$((fail + 1)) failed_suites+=("$area/$(basename "$t" .t)")
			continue
		fi
		run_suite "$area/$(basename "$t" .t)" "$t"
	done
done

echo
if [ ${#failed_suites[@]} -gt 0 ]; then
	echo "failed suites: ${failed_suites[*]} (logs in $LOGDIR)"
fi
if [ ${#bad_skips[@]} -gt 0 ]; then
	echo "skips CI does not allow (add a reviewed entry to $SKIP_ALLOW or make the test run):"
	printf '    %s\n' "${bad_skips[@]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ $((pass + skip)) -gt 0 ]
