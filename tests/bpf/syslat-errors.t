#!/usr/bin/env bash
# syslat --errors: failed calls by syscall and errno. A helper makes 300
# open(2)s of a missing file (ENOENT) and 300 close(-1)s (EBADF) and counts
# its own failures; the probe must report exactly those, for that pid.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 6
need_bpf

"$HELPER" failopen 300 "$TMP/go" > "$TMP/h.out" &
h=$!
wait_for "$TMP/h.out" ready 5
"${PROBE[@]}" syslat --pid "$h" --errors --json --duration 2 > "$TMP/e.json" 2> "$TMP/e.err" &
p=$!
"${PROBE[@]}" syslat --pid "$h" --errors --duration 2 > "$TMP/e.txt" 2> "$TMP/et.err" &
pt=$!
wait_for "$TMP/e.err" tracing 10; wait_for "$TMP/et.err" tracing 10
touch "$TMP/go"; wait $h; wait $p; rc=$?; wait $pt
is "$(grep -o 'failed [0-9]*' "$TMP/h.out")" "failed 600" "the helper saw its 600 failures"
is "$rc" 0 "probe exits 0" || diag "$(cat "$TMP/e.err")"
diag "errors: $(jq -c .errors "$TMP/e.json" 2>/dev/null)"
is "$(jq -r '[.errors[] | select(.errno == "ENOENT" and (.name == "openat" or .name == "open"))][0].count' "$TMP/e.json" 2>/dev/null)" 300 "openat ENOENT: exactly 300"
is "$(jq -r '[.errors[] | select(.errno == "EBADF" and .name == "close")][0].count' "$TMP/e.json" 2>/dev/null)" 300 "close EBADF: exactly 300"
# (other failures: its access(2) polls for the go file, a sanitizer's prctl)
is "$(jq -r '[.errors[] | select(.name == "openat" or .name == "open" or .name == "close") | .count] | add' "$TMP/e.json" 2>/dev/null)" 600 \
	"no other open/close failure than the helper's 600"
like "$(grep -E '^close +EBADF' "$TMP/e.txt")" '^close +EBADF +300$' "text report: close EBADF 300"
done_testing
