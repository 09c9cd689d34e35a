#!/usr/bin/env bash
# Options shared by the probes: --interval (one JSON document per line, then
# the final one), --comm, --min-us, --per-process, --top, --per-thread.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 12
need_bpf

# syslat: 100 x 1 ms sleeps by a process named probe-helper, 3 interval reports
"$HELPER" sleep 100 1000 "$TMP/go" > "$TMP/h.out" &
hpid=$!
wait_for "$TMP/h.out" ready 5
"${PROBE[@]}" syslat --comm probe-helper --min-us 500 --per-process --top 5 --interval 0.6 \
	--duration 2 --json > "$TMP/sl.json" 2> "$TMP/sl.err" &
ppid=$!
wait_for "$TMP/sl.err" tracing 10
touch "$TMP/go"; wait $hpid; wait $ppid
n=$(wc -l < "$TMP/sl.json")
cmp_ok "$n" -ge 3 "--interval 0.6 --duration 2: interval documents then the final one ($n lines)"
is "$(jq -s '[.[] | .schema == "qps-tune.probe.syslat/1"] | all' "$TMP/sl.json" 2>/dev/null)" true "every line is one JSON document"
is "$(jq -s '[.[] | .final] | (.[-1] == true) and ([.[:-1][] | not] | all)' "$TMP/sl.json" 2>/dev/null)" true "only the last one is final"
L=$(tail -1 "$TMP/sl.json")
is "$(jq -r '[.syscalls[] | select(.name == "clock_nanosleep")][0].count' <<<"$L")" 100 "--comm: the helper's 100 sleeps"
is "$(jq -r '[.syscalls[] | .hist_us[] | select(.hi < 500)] | length' <<<"$L")" 0 "--min-us 500: no histogram slot entirely below 500 us"
is "$(jq -r "[.processes[] | select(.pid == $hpid and .name == \"clock_nanosleep\")][0].count" <<<"$L")" 100 "--per-process: the pair (pid, clock_nanosleep)"
cmp_ok "$(jq -r '.syscalls | length' <<<"$L")" -le 5 "--top 5 limits the rows"

# offcpu --per-thread: the blocked thread has its own tid
"$HELPER" pipeblock 2 200 "$TMP/go2" > "$TMP/h2.out" &
hpid=$!
wait_for "$TMP/h2.out" ready 5
"${PROBE[@]}" offcpu --pid "$hpid" --per-thread --min-us 100000 --json --duration 1.5 > "$TMP/oc.json" 2> "$TMP/oc.err" &
ppid=$!
wait_for "$TMP/oc.err" tracing 10
touch "$TMP/go2"; wait $hpid; wait $ppid
S=$(jq -c '[.stacks[] | select(any(.user[]; . == "offcpu_test_thread"))][0]' "$TMP/oc.json" 2>/dev/null)
cmp_ok "$(jq -r '.tid // 0' <<<"${S:-null}")" -gt "$hpid" "--per-thread: the reader thread's tid (not the pid)"
is "$(jq -r '[.stacks[] | select(.total_us < 100000 * .count)] | length' "$TMP/oc.json" 2>/dev/null)" 0 "--min-us 100000: no shorter period"
# offcpu --max-us: the 200 ms blocks are left out
"$HELPER" pipeblock 2 200 "$TMP/go3" > "$TMP/h3.out" &
hpid=$!
wait_for "$TMP/h3.out" ready 5
"${PROBE[@]}" offcpu --pid "$hpid" --max-us 100000 --json --duration 1.5 > "$TMP/oc3.json" 2> "$TMP/oc3.err" &
ppid=$!
wait_for "$TMP/oc3.err" tracing 10
touch "$TMP/go3"; wait $hpid; wait $ppid
is "$(jq -r '[.stacks[] | select(.total_us > 100000 * .count)] | length' "$TMP/oc3.json" 2>/dev/null)" 0 "--max-us 100000: no longer period"

# acceptq --pid: the listener lives in another network namespace; the probe
# enters it for sock_diag and the counters
unshare -n sh -c 'ip link set lo up; exec "$0" listen 18082 2 8' "$HELPER" > "$TMP/l.out" &
lpid=$!
wait_for "$TMP/l.out" ready 5
"${PROBE[@]}" acceptq --pid "$lpid" --json --duration 2.5 > "$TMP/aq.json" 2> "$TMP/aq.err" &
ppid=$!
wait_for "$TMP/aq.err" tracing 10
nsenter -t "$lpid" -n "$HELPER" connect 18082 10 1 > /dev/null
ns=$(stat -Lc %i "/proc/$lpid/ns/net")
wait $ppid
kill $lpid 2>/dev/null
is "$(jq -r .netns "$TMP/aq.json" 2>/dev/null)" "$ns" "acceptq --pid: reports the listener's network namespace"
L=$(jq -c ".listeners[] | select(.port == 18082 and .pid == $lpid)" "$TMP/aq.json" 2>/dev/null)
is "$(jq -r '(.drops > 0) and (.drops == .listen_drops) and (.backlog == 2)' <<<"${L:-null}")" true \
	"acceptq --pid: that process's listener, limit 2, drops seen"
done_testing
