#!/usr/bin/env bash
# mutate.sh - measure what the test suites catch: apply each mutation of
# tests/mutations.txt, one at a time, to a scratch copy of the working tree,
# rebuild, run the suites the mutation names, and print the catch table.
#
#   scripts/mutate.sh              every mutation
#   scripts/mutate.sh M03 M07      only these
#   MUTATIONS=FILE scripts/mutate.sh
#   MUTATE_TIMEOUT=300             seconds one suite may run (then it counts as failed)
#   MUTATE_BASELINE=0              skip the run of each named suite on the unmutated tree
#   MUTATE_LOGS=DIR                where the per-mutation logs go (default: a new
#                                  /tmp/qps-mutate-logs.XXXXXX, kept and printed)
#
# A mutation is caught when a named suite fails (or the build fails: the
# compiler caught it, listed as such). Before the mutations, every suite they
# name runs once on the unmutated tree (the baseline): a catch by a suite that
# fails anyway proves nothing, so such mutations are listed as BROKEN, not caught.
# Each mutation leaves DIR/ID.log: its diff, the build output and the TAP of each
# suite it ran (on a miss: what the suite checked while the bug was in).
#
# Exit 0 when every mutation was caught, 1 when one was missed or its suite
# fails unmutated, 2 when a mutation no longer applies (its sed script changed
# nothing: the code moved and the list must follow it).
# The real tree is only read: everything happens in a copy under /tmp.
set -u
cd "$(dirname "$0")/.."
SRC=$PWD
LIST=${MUTATIONS:-$SRC/tests/mutations.txt}
TMO=${MUTATE_TIMEOUT:-300}
WANT=("$@")
WORK=$(mktemp -d /tmp/qps-mutate.XXXXXX)
LOGS=${MUTATE_LOGS:-$(mktemp -d /tmp/qps-mutate-logs.XXXXXX)}
mkdir -p "$LOGS" || exit 2
trap 'rm -rf "$WORK"' EXIT
T0=$(date +%s)

# the working tree as it is (tracked and untracked-not-ignored files), no build/
git ls-files -z --cached --others --exclude-standard | (cd "$SRC" && xargs -0 cp --parents -t "$WORK" 2>/dev/null)
cd "$WORK" || exit 2
echo "mutate: building the unmutated tree in $WORK; logs in $LOGS" >&2
if ! make -j"$(nproc)" test-bins >"$LOGS/build.log" 2>&1; then
	echo "mutate: the unmutated tree does not build (see $LOGS/build.log)" >&2
	exit 2
fi

# suite_path NAME: the file that runs suite NAME (area/name or unit/test_x)
suite_path() {
	case $1 in
	unit/*) echo "build/tests/unit/${1#unit/}" ;;
	*) echo "tests/$1.t" ;;
	esac
}
# run_suites "a,b" LOG: 0 when all pass; prints the first failing suite and
# its first failing TAP line
run_suites() {
	local s t p rc
	IFS=, read -ra s <<<"$1"
	for t in "${s[@]}"; do
		p=$(suite_path "$t")
		echo "---- $t" >>"$2"
		BUILD=build QPS_ROOT=$WORK timeout -k 5 "$TMO" "$p" >"$WORK/suite.log" 2>&1 </dev/null
		rc=$?
		cat "$WORK/suite.log" >>"$2"
		echo "---- $t: exit $rc" >>"$2"
		if [ $rc -ne 0 ] || grep -q '^not ok' "$WORK/suite.log"; then
			echo "$t"
			[ $rc -eq 124 ] && echo "(timed out after ${TMO}s)" && return 1
			grep -m1 '^not ok' "$WORK/suite.log" | cut -c1-100
			return 1
		fi
	done
	return 0
}

# the mutations wanted, in list order
ids=() files=() suites=() scripts=() whats=()
while IFS=$'\t' read -r id file suite script what; do
	case $id in '' | '#'*) continue ;; esac
	if [ ${#WANT[@]} -gt 0 ] && ! printf '%s\n' "${WANT[@]}" | grep -qx -- "$id"; then
		continue
	fi
	if [ -z "$what" ]; then
		echo "mutate: $LIST: $id needs ID<TAB>FILE<TAB>SUITES<TAB>SED-SCRIPT<TAB>WHAT" >&2
		exit 2
	fi
	ids+=("$id") files+=("$file") suites+=("$suite") scripts+=("$script") whats+=("$what")
done <"$LIST"

# baseline: each named suite once, unmutated
declare -A base=()
if [ "${MUTATE_BASELINE:-1}" != 0 ]; then
	for s in $(printf '%s\n' "${suites[@]}" | tr , '\n' | sort -u); do
		if r=$(run_suites "$s" "$LOGS/baseline.log"); then
			base[$s]=ok
		else
			base[$s]=fail
			echo "mutate: suite $s fails on the unmutated tree: $(echo "$r" | tail -1) (see $LOGS/baseline.log)" >&2
		fi
	done
fi

printf '%-5s %-8s %-30s %s\n' ID RESULT "CAUGHT BY" MUTATION
total=0 caught=0 missed=0 stale=0 broken=0
for k in "${!ids[@]}"; do
	id=${ids[$k]} file=${files[$k]} suite=${suites[$k]} script=${scripts[$k]} what=${whats[$k]}
	log=$LOGS/$id.log
	total=$((total + 1))
	t1=$(date +%s)
	cp -p "$WORK/$file" "$WORK/$file.orig" 2>/dev/null || { printf '%-5s %-8s %-30s %s\n' "$id" STALE "-" "$file is gone"; stale=$((stale + 1)); continue; }
	sed -E -i -- "$script" "$WORK/$file"
	{ echo "$id $file [$suite]: $what"; diff -u "$WORK/$file.orig" "$WORK/$file"; } >"$log"
	if cmp -s "$WORK/$file" "$WORK/$file.orig"; then
		printf '%-5s %-8s %-30s %s\n' "$id" STALE "-" "$what (sed changed nothing in $file)"
		stale=$((stale + 1))
		mv "$WORK/$file.orig" "$WORK/$file"
		continue
	fi
	bad_base=""
	for s in ${suite//,/ }; do [ "${base[$s]:-ok}" = fail ] && bad_base="$bad_base $s"; done
	echo "---- build" >>"$log"
	if ! make -j"$(nproc)" test-bins >>"$log" 2>&1; then
		by="(build)" res=caught
	elif [ -n "$bad_base" ]; then
		by="-" res=BROKEN
		echo "---- not run: fails unmutated:$bad_base" >>"$log"
	elif r=$(run_suites "$suite" "$log"); then
		by="-" res=MISSED
	else
		by=$(echo "$r" | head -1) res=caught
		echo "---- caught by $by: $(echo "$r" | tail -1)" >>"$log"
	fi
	case $res in
	caught) caught=$((caught + 1)) ;;
	MISSED) missed=$((missed + 1)) ;;
	BROKEN) broken=$((broken + 1)) ;;
	esac
	echo "---- $res ($(($(date +%s) - t1)) s)" >>"$log"
	printf '%-5s %-8s %-30s %s\n' "$id" "$res" "$by" "$what"
	# back to the unmutated file, newer than the build so make rebuilds
	mv "$WORK/$file.orig" "$WORK/$file"
	touch "$WORK/$file"
done
echo
echo "mutate: $total mutations, $caught caught, $missed missed, $stale stale, $broken broken; $(($(date +%s) - T0)) s; logs in $LOGS"
[ "$stale" -gt 0 ] && exit 2
[ "$missed" -gt 0 ] || [ "$broken" -gt 0 ] && exit 1
exit 0
