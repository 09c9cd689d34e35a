#!/usr/bin/env bash
# oncpu's raw_tp fallback (QPS_PROBE_NO_TP_BTF=1: what a kernel without
# working tp_btf gets): the exec hook is raw_tp, the profile is the same.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 3
need_bpf
export QPS_PROBE_NO_TP_BTF=1
IH=$BUILD/tests/bpf/incident-helper
chrt -f 1 taskset -c 1 "$IH" spin 1.5 "$TMP/go" > "$TMP/spin.out" &
h=$!
wait_for "$TMP/spin.out" ready 5
"${PROBE[@]}" oncpu --pid "$h" --json --duration 2.5 > "$TMP/on.json" 2> "$TMP/on.err" &
p=$!
wait_for "$TMP/on.err" tracing 10
touch "$TMP/go"
wait $h; wait $p
like "$(jq -r .method "$TMP/on.json" 2>/dev/null)" 'raw_tp/sched_process_exec' "raw_tp/sched_process_exec used" || diag "$(cat "$TMP/on.err")"
is "$(jq -r '.functions[0].name' "$TMP/on.json")" oncpu_test_spin "top function is oncpu_test_spin"
want=$(awk '/^cpu_ns/ { printf "%d", $2 / 1e9 * 99 + 0.5 }' "$TMP/spin.out")
got=$(jq -r .samples "$TMP/on.json")
d=$(( got > want ? got - want : want - got ))
cmp_ok $((d * 10)) -le "$want" "samples ($got) == CPU time x 99 Hz ($want) within 10 %"
done_testing
