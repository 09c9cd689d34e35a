#!/usr/bin/env bash
# runner.t - tests/run.sh itself: the CI skip policy, the exec-bit rule, the
# closing line. Runs run.sh on scratch areas of fake suites.
. "$(dirname "$0")/../lib.sh"
plan 12
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
mk() {  # mk AREA NAME BODY
	mkdir -p "$T/tests/$1"
	printf '#!/bin/sh\n%s\n' "$3" >"$T/tests/$1/$2.t"
	chmod +x "$T/tests/$1/$2.t"
}
run() {  # run CI=VALUE AREA...: the runner on the scratch tree; output in $out, rc in $rc
	local ci=$1
	shift
	out=$(env BUILD="$T/build" TESTS_DIR="$T/tests" SKIP_ALLOW="$T/allow" "$ci" \
		"$QPS_ROOT/tests/run.sh" "$@" 2>&1)
	rc=$?
}
printf '# scratch allow-list\nx/allowed\tno widget here\tthe CI machine has no widget\n' >"$T/allow"

mk x plain 'echo 1..2; echo "ok 1 - a"; echo "ok 2 - b"'
run CI=true x
is "$rc" 0 "all ok: exit 0"
like "$out" '^2 passed, 0 failed, 0 skipped$' "closing line counts passes"

mk y unlisted 'echo 1..2; echo "ok 1 - a"; echo "ok 2 - b # SKIP needs a widget"'
run CI= y
is "$rc" 0 "outside CI an unlisted skip is counted, not failed"
like "$out" '1 passed, 0 failed, 1 skipped' "closing line counts the skip"
run CI=true y
is "$rc" 1 "under CI=true an unlisted skip fails the run"
like "$out" 'y/unlisted: ok 2 - b # SKIP needs a widget' "the offending skip is named"

mk x allowed 'echo 1..1; echo "ok 1 - w # SKIP no widget here"'
run CI=true x
is "$rc" 0 "under CI=true a skip on the allow-list passes"
like "$out" '2 passed, 0 failed, 1 skipped' "the allowed skip is still counted"

# the allow-list matches the suite too, not only the reason
mk z allowed 'echo 1..1; echo "ok 1 - w # SKIP no widget here"'
run CI=true z
is "$rc" 1 "an allow-list entry covers its own suite only"

mk w noexec 'echo 1..1; echo "ok 1 - a"'
chmod -x "$T/tests/w/noexec.t"
run CI= w
is "$rc" 1 "a .t without its exec bit fails the run"
like "$out" 'not executable' "and says why"

printf 'x/allowed\tno reason given\n' >"$T/allow"
run CI=true x
is "$rc" 2 "an allow-list entry without its why is refused"
