#!/usr/bin/env bash
# syslat: a child doing 200 x 2 ms sleeps -> >= 200 calls of its sleep syscall
# with the 2-4 ms bucket dominant, and the count within 2 % of what syscount
# (libbpf-tools) sees for the same pid in the same run. syscount attaches
# classic tracepoints, which need tracefs: it runs in a private mount
# namespace with tracefs mounted there, so the host is not changed.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 12
need_bpf
SYSCOUNT=${SYSCOUNT:-/usr/sbin/syscount}

"$HELPER" sleep 200 2000 "$TMP/go" > "$TMP/helper.out" &
hpid=$!
wait_for "$TMP/helper.out" ready 5
"${PROBE[@]}" syslat --pid "$hpid" --json --duration 4 > "$TMP/report.json" 2> "$TMP/probe.err" &
ppid=$!
"${PROBE[@]}" syslat --pid "$hpid" --hist --duration 4 > "$TMP/report.txt" 2> "$TMP/probe-txt.err" &
ptxt=$!
have_sc=false
if [ -x "$SYSCOUNT" ]; then
	unshare -m sh -c 'mount -t tracefs nodev /sys/kernel/tracing && exec stdbuf -oL "$0" -L -p "$1" -d 4 -T 30' \
		"$SYSCOUNT" "$hpid" > "$TMP/syscount.out" 2>&1 &
	scpid=$!
	have_sc=true
fi
wait_for "$TMP/probe.err" tracing 10
wait_for "$TMP/probe-txt.err" tracing 10
$have_sc && wait_for "$TMP/syscount.out" 'Tracing|rror|ailed' 10 || diag "syscount not ready: $(head -3 "$TMP/syscount.out")"
touch "$TMP/go"
wait $hpid
wait $ppid; rc=$?
wait $ptxt
$have_sc && wait $scpid

is "$rc" 0 "probe syslat exits 0" || diag "$(cat "$TMP/probe.err")"
J=$TMP/report.json
is "$(jq -r .schema "$J" 2>/dev/null)" "qps-tune.probe.syslat/1" "one JSON document with the versioned schema"
S=$(jq -c '.syscalls[] | select(.name == "clock_nanosleep" or .name == "nanosleep")' "$J" 2>/dev/null | head -1)
like "$S" '"name":"(clock_)?nanosleep"' "the sleep syscall is reported by name"
count=$(jq -r '.count // 0' <<<"${S:-{\}}")
cmp_ok "$count" -ge 200 "at least 200 sleep calls counted (got $count)"
dominant=$(jq -r '.hist_us | max_by(.count) | "\(.lo)-\(.hi)"' <<<"${S:-{\}}" 2>/dev/null)
is "$dominant" "2048-4095" "the 2-4 ms bucket dominates"
mean=$(jq -r '.mean_us | floor' <<<"${S:-{\}}" 2>/dev/null)
cmp_ok "${mean:-0}" -ge 2000 "mean latency >= 2000 us (got $mean)"
if $have_sc; then
	sc=$(awk '$1 == "clock_nanosleep" || $1 == "nanosleep" { print $2; exit }' "$TMP/syscount.out")
	diag "syscount -L -p $hpid: ${sc:-nothing} calls; ours: $count"
	cmp_ok "${sc:-0}" -ge 200 "syscount saw the calls too" || diag "$(head -20 "$TMP/syscount.out")"
	diff=$(( count > ${sc:-0} ? count - ${sc:-0} : ${sc:-0} - count ))
	cmp_ok $((diff * 100)) -le $((2 * ${sc:-0})) "count within 2 % of syscount ($count vs ${sc:-0})"
else
	skip "libbpf-tools syscount not installed" "syscount saw the calls too"
	skip "libbpf-tools syscount not installed" "count within 2 % of syscount"
fi
# the text report of the same run: the table row and the --hist histogram
is "$(awk '$1 == "clock_nanosleep" { print $2; exit }' "$TMP/report.txt")" "$count" "text report: clock_nanosleep COUNT equals the JSON run's ($count)"
hist=$(sed -n '/^clock_nanosleep latency:/,/^$/p' "$TMP/report.txt")
diag "$(head -12 <<<"$hist")"
like "$(grep -E '^ +2048 -> 4095 :' <<<"$hist")" '^ +2048 -> 4095 : ([0-9]{3}) +\|\*{40}\|$' "--hist: the 2048 -> 4095 us row holds most sleeps (>= 100), with the full bar"
is "$(awk -F: '/ -> / { split($2, a, " "); s += a[1] } END { print s }' <<<"$hist")" "$count" "--hist: the rows add up to the count"
# --syscall by name and unknown names
out=$("${PROBE[@]}" syslat --syscall no_such_call --duration 1 2>&1); rc=$?
is "$rc:$(grep -c "unknown syscall 'no_such_call'" <<<"$out")" "2:1" "unknown --syscall is a usage error naming it"
done_testing
