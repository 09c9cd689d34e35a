#!/usr/bin/env bash
# PID namespaces and --pid: inside `unshare -p -f --mount-proc` (a pod
# without hostPID) the probes take and print the pids of that namespace.
#  - syslat --pid N (N the helper's pid in there): exactly its 50 sleeps
#  - offcpu --pid N: its stack, under pid N, user frames named; the thread
#    blocked at the report listed in flight under its namespace tid (/proc
#    of the namespace says which)
#  - --pid TID (a thread): that thread only, and the probe says so
#  - --pid of a kernel thread: refused, naming it
#  - a filter that matched nothing: said in the report and on stderr
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 13
need_bpf

export TMPD=$TMP HELPER
unshare -p -f --mount-proc bash -c '
	"$HELPER" sleep 50 2000 "$TMPD/go" > "$TMPD/s.out" &
	sp=$!
	"$HELPER" pipeblock 3 800 "$TMPD/go" > "$TMPD/p.out" &
	pp=$!
	for i in $(seq 100); do grep -q ready "$TMPD/s.out" && grep -q ready "$TMPD/p.out" && break; sleep 0.05; done
	echo "$sp $pp" > "$TMPD/pids"
	"$@" syslat --pid "$sp" --json --duration 2.5 > "$TMPD/sl.json" 2> "$TMPD/sl.err" &
	p1=$!
	"$@" offcpu --pid "$pp" --json --duration 1.5 > "$TMPD/oc.json" 2> "$TMPD/oc.err" &
	p2=$!
	for i in $(seq 200); do grep -q tracing "$TMPD/sl.err" && grep -q tracing "$TMPD/oc.err" && break; sleep 0.05; done
	touch "$TMPD/go"
	sleep 0.5
	ls /proc/$pp/task | grep -vx "$pp" > "$TMPD/tid"
	wait $p1 $p2 $sp $pp
' _ "${PROBE[@]}" 2> "$TMP/ns.err"
read -r sp pp < "$TMP/pids"
diag "namespace pids: sleep helper $sp, pipe helper $pp; host has pid_max $(cat /proc/sys/kernel/pid_max)"
cmp_ok "${sp:-99999}" -lt 10 "the helpers got small pids in their namespace ($sp, $pp)"
is "$(jq -r .pid_namespace.level "$TMP/sl.json" 2>/dev/null)" 1 "syslat: runs in a pid namespace of level 1" || diag "$(cat "$TMP/sl.err" "$TMP/ns.err")"
is "$(jq -r '[.syscalls[] | select(.name == "clock_nanosleep")][0].count' "$TMP/sl.json" 2>/dev/null)" 50 \
	"syslat --pid $sp (namespace pid): exactly the helper's 50 sleeps"
S=$(jq -c '[.stacks[] | select(any(.user[]; . == "offcpu_test_thread"))] | max_by(.total_us)' "$TMP/oc.json" 2>/dev/null)
is "$(jq -r .pid <<<"${S:-null}")" "$pp" "offcpu --pid $pp: the stack is reported under the namespace pid"
cmp_ok "$(jq -r '.total_us // 0 | floor' <<<"${S:-null}")" -ge 500000 "offcpu: >= 0.5 s blocked on offcpu_test_thread"
is "$(jq -r '[.user[] | select(. == "[unknown]")] | length' <<<"${S:-null}")" 0 "offcpu: no [unknown] user frame"
T=$(jq -c '[.in_flight.threads[] | select(any(.user[]; . == "offcpu_test_thread"))][0]' "$TMP/oc.json" 2>/dev/null)
is "$(jq -r '"\(.pid) \(.tid)"' <<<"${T:-null}")" "$pp $(cat "$TMP/tid" 2>/dev/null)" "offcpu in flight: pid and tid as the namespace's /proc has them"

# --pid given a thread id: only that thread (the reader: read(2), no sleeps)
"$HELPER" pipeblock 20 20 "$TMP/go2" > "$TMP/h2.out" &
h2=$!
wait_for "$TMP/h2.out" ready 5
# the reader thread appears after go: start the probe on it once it exists
touch "$TMP/go2"
for i in $(seq 50); do [ "$(ls /proc/$h2/task 2>/dev/null | wc -l)" = 2 ] && break; sleep 0.01; done
tid=$(ls /proc/$h2/task 2>/dev/null | grep -vx "$h2")
"${PROBE[@]}" syslat --pid "${tid:-1}" --json --duration 0.6 > "$TMP/t.json" 2> "$TMP/t.err"
wait $h2
like "$(cat "$TMP/t.err")" "--pid $tid is a thread of process $h2" "--pid TID: says it is a thread of its process"
is "$(jq -r '"\(.filters.tid) \([.syscalls[].name] | index("clock_nanosleep"))"' "$TMP/t.json" 2>/dev/null)" "$tid null" \
	"--pid TID: that thread only (its reads, none of the main thread's sleeps)"

# a kernel thread: refused, named
kt=$(awk '$1 == "Name:" { n = $2 } END { print n }' /proc/2/status)
out=$("${PROBE[@]}" syslat --pid 2 --duration 1 2>&1); rc=$?
is "$rc" 1 "--pid of a kernel thread: exit 1"
like "$out" "--pid 2 is the kernel thread '$kt'" "... naming it ($kt)"

# a filter that matched nothing during the run
"${PROBE[@]}" syslat --comm no-such-comm --json --duration 0.5 > "$TMP/n.json" 2> "$TMP/n.err"
is "$(jq -r '"\(.filter.matched) \(.total_calls)"' "$TMP/n.json" 2>/dev/null)" "false 0" "--comm that matched nothing: filter.matched false in JSON"
like "$(cat "$TMP/n.err")" "warning: no task matched the filters \(--comm no-such-comm\)" "... and a warning on stderr"
done_testing
