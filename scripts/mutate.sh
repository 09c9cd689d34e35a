#!/usr/bin/env bash
# mutate.sh - measure what the test suites catch: apply each mutation of
# tests/mutations.txt, one at a time, to a scratch copy of the working tree,
# rebuild, run the suites the mutation names, and print the catch table.
#
#   scripts/mutate.sh              every mutation
#   scripts/mutate.sh M03 M07      only these
#   MUTATIONS=FILE scripts/mutate.sh
#
# A mutation is caught when a named suite fails (or the build fails: the
# compiler caught it, listed as such). Exit 0 when every mutation was caught,
# 1 when one was missed, 2 when a mutation no longer applies (its sed script
# changed nothing: the code moved and the list must follow it).
set -u
cd "$(dirname "$0")/.."
SRC=$PWD
LIST=${MUTATIONS:-$SRC/tests/mutations.txt}
WANT=("$@")
WORK=$(mktemp -d /tmp/qps-mutate.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# the working tree as it is (tracked and untracked-not-ignored files), no build/
git ls-files -z --cached --others --exclude-standard | (cd "$SRC" && xargs -0 cp --parents -t "$WORK" 2>/dev/null)
cd "$WORK" || exit 2
echo "mutate: building the unmutated tree in $WORK" >&2
if ! make -j"$(nproc)" test-bins >/dev/null 2>&1; then
	echo "mutate: the unmutated tree does not build" >&2
	exit 2
fi

# run_suites "a,b": 0 when all pass; prints the first failing suite
run_suites() {
	local s t
	IFS=, read -ra s <<<"$1"
	for t in "${s[@]}"; do
		case $t in
		unit/*) t=build/tests/unit/${t#unit/} ;;
		*) t=tests/$t.t ;;
		esac
		if ! BUILD=build QPS_ROOT=$WORK timeout -k 5 600 "$t" >"$WORK/suite.log" 2>&1 </dev/null; then
			echo "${t#tests/}"
			return 1
		fi
	done
	return 0
}

printf '%-5s %-9s %-28s %s\n' ID RESULT "CAUGHT BY" MUTATION
total=0 caught=0 missed=0 stale=0
while IFS=$'\t' read -r id file suites script what; do
	case $id in '' | '#'*) continue ;; esac
	if [ ${#WANT[@]} -gt 0 ] && ! printf '%s\n' "${WANT[@]}" | grep -qx -- "$id"; then
		continue
	fi
	total=$((total + 1))
	cp "$SRC/$file" "$WORK/$file.orig" 2>/dev/null || { printf '%-5s %-9s %-28s %s\n' "$id" STALE "-" "$file is gone"; stale=$((stale + 1)); continue; }
	sed -E -i -- "$script" "$WORK/$file"
	if cmp -s "$WORK/$file" "$WORK/$file.orig"; then
		printf '%-5s %-9s %-28s %s\n' "$id" STALE "-" "$what (sed changed nothing in $file)"
		stale=$((stale + 1))
		mv "$WORK/$file.orig" "$WORK/$file"
		continue
	fi
	if ! make -j"$(nproc)" test-bins >/dev/null 2>&1; then
		by="(build)"
		res=caught
	elif by=$(run_suites "$suites"); then
		by="-"
		res=MISSED
	else
		res=caught
	fi
	[ "$res" = caught ] && caught=$((caught + 1)) || missed=$((missed + 1))
	printf '%-5s %-9s %-28s %s\n' "$id" "$res" "$by" "$what"
	mv "$WORK/$file.orig" "$WORK/$file"
	touch "$WORK/$file"
done <"$LIST"
echo
echo "mutate: $total mutations, $caught caught, $missed missed, $stale stale"
[ "$stale" -gt 0 ] && exit 2
[ "$missed" -gt 0 ] && exit 1
exit 0
