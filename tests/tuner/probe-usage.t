#!/usr/bin/env bash
# probe-usage.t - a bad value for a probe's own option is a usage error that
# names the option: exit 2, one line on stderr, and under --json exactly one
# {"error"} document on stdout that says what was wrong (not a generic one).
. "$(dirname "$0")/../lib.sh"
cases=(
	"oncpu --freq 0|--freq '0'"
	"offcpu --top x|--top 'x'"
	"offcpu --min-us 5 --max-us 1|--max-us is below --min-us"
	"syslat --min-us x|--min-us 'x'"
	"runqlat --top 0|--top '0'"
	"tcpdrop --port x|--port 'x'"
	"tcpdrop --pid 1|--pid and --comm do not apply"
	"acceptq --port x|--port 'x'"
	"leaks --duration 1|--pid is required"
)
plan $((${#cases[@]} * 4))
for c in "${cases[@]}"; do
	args=${c%%|*} want=${c#*|}
	# shellcheck disable=SC2086
	out=$("$QPS_TUNE" --json probe $args 2>"$BUILD/pu.err"); rc=$?
	is "$rc" 2 "probe $args: exit 2"
	is "$(printf '%s\n' "$out" | jq -s 'length' 2>/dev/null)" 1 "probe $args --json: one document on stdout"
	like "$(printf '%s' "$out" | jq -r .error 2>/dev/null)" "$want" "probe $args --json: the error names the problem"
	like "$(cat "$BUILD/pu.err")" "^qps-tune: probe [a-z]+: .*$want" "probe $args: the same on stderr"
done
rm -f "$BUILD/pu.err"
