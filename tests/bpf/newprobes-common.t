#!/usr/bin/env bash
# The newer probes take the common options the way acceptq, syslat and offcpu
# do (probe_cfg_init / qps_cfg, probe_report_filter, probe_delta_rows):
#  oncpu - inside `unshare -p -f --mount-proc` (a pod without hostPID),
#          --pid N is the namespace's pid N and stacks carry it; the spinner's
#          own CPU time x 99 Hz is the witness for the count;
#        - --pid TID says it is a thread of its process;
#        - a --comm that matched nothing is said (JSON, stderr);
#        - --interval reports cover the time since the previous one: their
#          samples add up to the spinner's CPU time x 99, stamped.
#  runqlat - in the namespace, --pid N: the process N sleeping 50 x 2 ms has
#          its 50+ wakeups under pid N, no other process;
#        - a --comm that matched nothing is said;
#        - --interval: the per-interval waits of a process sleeping 100 x 10 ms
#          add up to what a --cumulative run of the same window ends with.
#  tcpdrop - (no pids: drops happen in softirq) --interval: per-interval
#          NO_SOCKET drops of 30 connects to a closed port in a scratch netns
#          add up to nstat's TcpOutRsts delta; a --port that matched nothing
#          is said (JSON, text, stderr).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 20
need_bpf
IH=$BUILD/tests/bpf/incident-helper

PH=$BUILD/tests/bpf/probe-helper
export TMPD=$TMP IH PH
unshare -p -f --mount-proc bash -c '
	"$IH" spin 1.5 "$TMPD/go" > "$TMPD/s.out" &
	sp=$!
	"$PH" sleep 50 2000 "$TMPD/go" > "$TMPD/r.out" &
	rp=$!
	for i in $(seq 100); do grep -q ready "$TMPD/s.out" && grep -q ready "$TMPD/r.out" && break; sleep 0.05; done
	echo "$sp $rp" > "$TMPD/pid"
	"$@" oncpu --pid "$sp" --json --duration 30 > "$TMPD/on.json" 2> "$TMPD/on.err" &
	p1=$!
	"$@" runqlat --pid "$rp" --json --duration 30 > "$TMPD/rq.json" 2> "$TMPD/rq.err" &
	p2=$!
	for i in $(seq 200); do grep -q tracing "$TMPD/on.err" && grep -q tracing "$TMPD/rq.err" && break; sleep 0.05; done
	touch "$TMPD/go"
	wait $sp $rp
	kill -TERM $p1 $p2; wait $p1 $p2
' _ "${PROBE[@]}" 2> "$TMP/ns.err"
read -r sp rp < "$TMP/pid"
cpu_ns=$(awk '/^cpu_ns/ {print $2}' "$TMP/s.out")
want=$(awk -v c="${cpu_ns:-0}" 'BEGIN { printf "%d", c / 1e9 * 99 + 0.5 }')
on=$(jq -r "[.stacks[] | select(.pid == $sp and any(.user[]; . == \"oncpu_test_spin\")) | .samples] | add // 0" "$TMP/on.json" 2>/dev/null)
diag "namespace pid $sp; samples naming oncpu_test_spin under it: $on; CPU time ${cpu_ns:-?} ns -> $want at 99 Hz"
is "$(jq -r .pid_namespace.level "$TMP/on.json" 2>/dev/null)" 1 "oncpu: runs in a pid namespace of level 1" || diag "$(cat "$TMP/on.err" "$TMP/ns.err")"
cmp_ok $((on * 10)) -ge $((want * 8)) "oncpu --pid $sp (namespace pid): the spinner's samples under that pid (>= 80 % of CPU time x 99)"
is "$(jq -r '[.stacks[] | select(.pid != '"$sp"')] | length' "$TMP/on.json" 2>/dev/null)" 0 "... and no other pid"

# --pid given a thread id
"$BUILD/tests/bpf/probe-helper" pipeblock 5 50 "$TMP/go2" > "$TMP/h2.out" &
h2=$!
wait_for "$TMP/h2.out" ready 5
touch "$TMP/go2"
for i in $(seq 50); do [ "$(ls /proc/$h2/task 2>/dev/null | wc -l)" = 2 ] && break; sleep 0.01; done
tid=$(ls /proc/$h2/task 2>/dev/null | grep -vx "$h2")
"${PROBE[@]}" oncpu --pid "${tid:-1}" --json --duration 0.3 > "$TMP/t.json" 2> "$TMP/t.err"
wait $h2
like "$(cat "$TMP/t.err")" "--pid $tid is a thread of process $h2" "oncpu --pid TID: says it is a thread of its process"

# a filter that matched nothing
"${PROBE[@]}" oncpu --comm no-such-comm --json --duration 0.5 > "$TMP/n.json" 2> "$TMP/n.err"
is "$(jq -r '"\(.filter.matched) \(.samples)"' "$TMP/n.json" 2>/dev/null)" "false 0" "oncpu --comm that matched nothing: filter.matched false in JSON"
like "$(cat "$TMP/n.err")" "warning: no task matched the filters \(--comm no-such-comm\)" "... and a warning on stderr"

# --interval: per-interval samples, stamped; they add up to the run's
"$IH" spin 1.5 "$TMP/go3" > "$TMP/s3.out" &
s3=$!
wait_for "$TMP/s3.out" ready 5
"${PROBE[@]}" oncpu --pid "$s3" --json --interval 0.4 --duration 30 > "$TMP/iv.json" 2> "$TMP/iv.err" &
p3=$!
wait_for "$TMP/iv.err" tracing 10
touch "$TMP/go3"; wait $s3; kill -TERM $p3; wait $p3
cpu_ns=$(awk '/^cpu_ns/ {print $2}' "$TMP/s3.out")
want=$(awk -v c="${cpu_ns:-0}" 'BEGIN { printf "%d", c / 1e9 * 99 + 0.5 }')
sum=$(jq -s '[.[] | .samples] | add' "$TMP/iv.json" 2>/dev/null)
diag "per report: $(jq -s -c '[.[] | .samples]' "$TMP/iv.json" 2>/dev/null); sum $sum; CPU time x 99 = $want"
d=$(( ${sum:-0} > want ? ${sum:-0} - want : want - ${sum:-0} ))
cmp_ok $((d * 100)) -le $((want * 15)) "--interval: the reports' samples add up to CPU time x 99 Hz within 15 % ($sum vs $want)"
n=$(jq -s length "$TMP/iv.json" 2>/dev/null)
is "$(jq -s '[.[] | select(.cumulative == false and (.at | test("^20[0-9-]+T")) and .interval_s > 0)] | length' "$TMP/iv.json" 2>/dev/null)" "${n:-x}" \
	"--interval: every report stamped (at, interval_s, cumulative false)"
cmp_ok "$(jq -s length "$TMP/iv.json" 2>/dev/null)" -ge 3 "--interval: 3 or more reports"

# runqlat in the namespace
diag "runqlat processes: $(jq -c '[.processes[] | {pid, comm, count}]' "$TMP/rq.json" 2>/dev/null)"
is "$(jq -r .pid_namespace.level "$TMP/rq.json" 2>/dev/null)" 1 "runqlat: runs in a pid namespace of level 1" || diag "$(cat "$TMP/rq.err")"
cmp_ok "$(jq -r "[.processes[] | select(.pid == $rp) | .count] | add // 0" "$TMP/rq.json" 2>/dev/null)" -ge 50 \
	"runqlat --pid $rp (namespace pid): its 50 sleeps' wakeups under that pid"
is "$(jq -r "[.processes[] | select(.pid != $rp)] | length" "$TMP/rq.json" 2>/dev/null)" 0 "... and no other process"
"${PROBE[@]}" runqlat --comm no-such-comm --json --duration 0.5 > "$TMP/rn.json" 2> "$TMP/rn.err"
is "$(jq -r '"\(.filter.matched) \(.waits)"' "$TMP/rn.json" 2>/dev/null)" "false 0" "runqlat --comm that matched nothing: filter.matched false in JSON"
like "$(cat "$TMP/rn.err")" "warning: no task matched the filters \(--comm no-such-comm\)" "... and a warning on stderr"
"$PH" sleep 100 10000 "$TMP/go4" > "$TMP/h4.out" &
h4=$!
wait_for "$TMP/h4.out" ready 5
"${PROBE[@]}" runqlat --pid "$h4" --json --interval 0.3 --duration 30 > "$TMP/ri.json" 2> "$TMP/ri.err" &
p4=$!
"${PROBE[@]}" runqlat --pid "$h4" --json --interval 0.3 --cumulative --duration 30 > "$TMP/rc.json" 2> "$TMP/rc.err" &
p5=$!
wait_for "$TMP/ri.err" tracing 10; wait_for "$TMP/rc.err" tracing 10
touch "$TMP/go4"; wait $h4; kill -TERM $p4 $p5; wait $p4 $p5
sum=$(jq -s "[.[] | .processes[] | select(.pid == $h4) | .count] | add // 0" "$TMP/ri.json" 2>/dev/null)
cum=$(jq -s "[last | .processes[] | select(.pid == $h4) | .count] | add // 0" "$TMP/rc.json" 2>/dev/null)
diag "per interval: $(jq -s -c "[.[] | [.processes[] | select(.pid == $h4) | .count] | add]" "$TMP/ri.json" 2>/dev/null); sum $sum; --cumulative run ends with $cum"
d=$(( sum > cum ? sum - cum : cum - sum ))
cmp_ok $((d * 4)) -le "$cum" "runqlat --interval: per-interval waits add up to the --cumulative run's ($sum vs $cum, within 25 %: the two runs attach apart)"

# tcpdrop in a scratch network namespace
export HELPER=$PH NSTAT_HISTORY=$TMP/nstat.hist
unshare -n bash -c '
	ip link set lo up
	"$@" --netns self --json --interval 0.3 --duration 30 > "$TMPD/td.json" 2> "$TMPD/td.err" &
	p=$!
	for i in $(seq 200); do grep -q tracing "$TMPD/td.err" && break; sleep 0.05; done
	nstat -n
	"$HELPER" connect 18999 30 1 > /dev/null
	sleep 0.7
	nstat -z TcpOutRsts | awk '\''$1 == "TcpOutRsts" { print $2 }'\'' > "$TMPD/td.rsts"
	kill -TERM $p; wait $p
	"$@" --netns self --port 1 --json --duration 0.3 > "$TMPD/tn.json" 2> "$TMPD/tn.err"
	"$@" --netns self --port 1 --duration 0.3 > "$TMPD/tn.txt" 2> /dev/null
' _ "${PROBE[@]}" tcpdrop 2> "$TMP/td.nserr"
rsts=$(cat "$TMP/td.rsts" 2>/dev/null)
sum=$(jq -s '[.[] | .drop_reasons.NO_SOCKET // 0] | add' "$TMP/td.json" 2>/dev/null)
diag "tcpdrop per interval NO_SOCKET: $(jq -s -c '[.[] | .drop_reasons.NO_SOCKET // 0]' "$TMP/td.json" 2>/dev/null); TcpOutRsts delta $rsts"
cmp_ok "${rsts:-0}" -ge 30 "30 connects to a closed port answered by RSTs (nstat)"
is "${sum:-x}" "${rsts:-y}" "tcpdrop --interval: per-interval NO_SOCKET drops add up to the TcpOutRsts delta"
is "$(jq -r '"\(.filter.given) \(.filter.matched)"' "$TMP/tn.json" 2>/dev/null)" "--netns self --port 1 false" "tcpdrop --port that matched nothing: filter.matched false in JSON"
like "$(cat "$TMP/tn.err")" "warning: nothing matched the filters \(--netns self --port 1\)" "... a warning on stderr"
like "$(cat "$TMP/tn.txt")" "nothing matched the filters \(--netns self --port 1\) during the run" "... and a line in the text report"
done_testing
