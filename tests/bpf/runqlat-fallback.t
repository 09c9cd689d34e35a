#!/usr/bin/env bash
# runqlat's raw_tp fallback (QPS_PROBE_NO_TP_BTF=1): two hogs on one CPU; the
# total wait of one == its schedstat run_delay delta within 10 %.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 2
need_bpf
export QPS_PROBE_NO_TP_BTF=1
IH=$BUILD/tests/bpf/incident-helper
taskset -c 0 "$IH" spin 1.5 "$TMP/go" > "$TMP/h1.out" &
h1=$!
taskset -c 0 "$IH" spin 1.5 "$TMP/go" > "$TMP/h2.out" &
wait_for "$TMP/h1.out" ready 5; wait_for "$TMP/h2.out" ready 5
"${PROBE[@]}" runqlat --pid "$h1" --json --duration 2.5 > "$TMP/rq.json" 2> "$TMP/rq.err" &
p=$!
wait_for "$TMP/rq.err" tracing 10
rd0=$(awk '{ print $2 }' "/proc/$h1/schedstat")	# the witness's window starts with the probe's
touch "$TMP/go"
wait; 
like "$(jq -r .method "$TMP/rq.json" 2>/dev/null)" '^raw_tp/' "raw_tp programs used" || diag "$(cat "$TMP/rq.err")"
ours=$(jq -r "[.processes[] | select(.pid == $h1)][0].total_us // 0 | floor" "$TMP/rq.json")
rd=$(awk -v d0="${rd0:-0}" '/^run_delay_total_ns/ { printf "%d", ($2 - d0) / 1000 }' "$TMP/h1.out")
d=$(( ours > rd ? ours - rd : rd - ours ))
diag "probe $ours us, schedstat $rd us"
cmp_ok $((d * 10)) -le "${rd:-0}" "total wait ($ours us) == schedstat run_delay ($rd us) within 10 %"
done_testing
