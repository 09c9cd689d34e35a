#!/usr/bin/env bash
# The raw_tp fallback of each probe (what a kernel without working tp_btf
# gets): QPS_PROBE_NO_TP_BTF=1 makes the loaders skip tp_btf. Shorter
# versions of acceptq.t, syslat.t and offcpu.t.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 9
need_bpf
export QPS_PROBE_NO_TP_BTF=1

# acceptq: backlog 2, 20 connects, in a fresh netns
export TMPD=$TMP HELPER PORT=18081
unshare -n bash -c '
	ip link set lo up
	"$HELPER" listen "$PORT" 2 30 > "$TMPD/listen.out" &
	lpid=$!
	for i in $(seq 100); do grep -q ready "$TMPD/listen.out" && break; sleep 0.05; done
	"$@" --json --duration 3 > "$TMPD/aq.json" 2> "$TMPD/aq.err" &
	ppid=$!
	for i in $(seq 200); do grep -q tracing "$TMPD/aq.err" && break; sleep 0.05; done
	tcpext ListenOverflows > "$TMPD/ovf.before"
	"$HELPER" connect "$PORT" 20 1 > /dev/null
	wait $ppid
	tcpext ListenOverflows > "$TMPD/ovf.after"
	kill $lpid
' _ "${PROBE[@]}" acceptq 2>"$TMP/ns.err"
L=$(jq -c ".listeners[] | select(.port == $PORT)" "$TMP/aq.json" 2>/dev/null)
is "$(jq -r .method.enqueue "$TMP/aq.json" 2>/dev/null)" "raw_tp/sk_data_ready" "acceptq: raw_tp/sk_data_ready used" || diag "$(cat "$TMP/aq.err")"
is "$(jq -r '"\(.backlog) \(.peak) \(.full_now)"' <<<"${L:-null}")" "2 3 true" "acceptq: limit 2, peak 3, full"
delta=$(( $(cat "$TMP/ovf.after") - $(cat "$TMP/ovf.before") ))
is "$(jq -r .drops <<<"${L:-null}")" "$delta" "acceptq: drops == ListenOverflows delta ($delta)"

# syslat: 50 x 1 ms sleeps
"$HELPER" sleep 50 1000 "$TMP/go" > "$TMP/h.out" &
hpid=$!
wait_for "$TMP/h.out" ready 5
"${PROBE[@]}" syslat --pid "$hpid" --syscall clock_nanosleep --json --duration 2 > "$TMP/sl.json" 2> "$TMP/sl.err" &
ppid=$!
wait_for "$TMP/sl.err" tracing 10
touch "$TMP/go"; wait $hpid; wait $ppid
like "$(jq -r .method "$TMP/sl.json" 2>/dev/null)" '^raw_tp/sys_enter' "syslat: raw_tp/sys_enter used"
is "$(jq -r '.syscalls[0] | "\(.name) \(.count)"' "$TMP/sl.json" 2>/dev/null)" "clock_nanosleep 50" "syslat: exactly the 50 sleeps (--syscall filter)"
is "$(jq -r '.syscalls | length' "$TMP/sl.json" 2>/dev/null)" 1 "syslat: --syscall reports only that syscall"

# offcpu: 2 x 200 ms blocked reads
"$HELPER" pipeblock 2 200 "$TMP/go2" > "$TMP/h2.out" &
hpid=$!
wait_for "$TMP/h2.out" ready 5
"${PROBE[@]}" offcpu --pid "$hpid" --json --duration 2 > "$TMP/oc.json" 2> "$TMP/oc.err" &
ppid=$!
wait_for "$TMP/oc.err" tracing 10
touch "$TMP/go2"; wait $hpid; wait $ppid
like "$(jq -r .method "$TMP/oc.json" 2>/dev/null)" '^raw_tp/sched_switch' "offcpu: raw_tp/sched_switch used"
S=$(jq -c '[.stacks[] | select(any(.user[]; startswith("offcpu_test_")))] | max_by(.total_us)' "$TMP/oc.json" 2>/dev/null)
us=$(jq -r '.total_us // 0 | floor' <<<"${S:-null}" 2>/dev/null)
cmp_ok "${us:-0}" -ge 380000 "offcpu: >= 0.38 s on the offcpu_test_* stack (got ${us:-0} us)"
like "$(jq -r '.kernel | join(";")' <<<"${S:-null}")" 'pipe_read' "offcpu: kernel frames symbolized"
done_testing
