#!/usr/bin/env bash
# runqlat:
#  1. two CPU hogs pinned to one CPU: each waits on the run queue while the
#     other runs. Witnesses: the kernel's own sched_info run_delay of the hog
#     (/proc/thread-self/schedstat, printed by the helper) == the probe's total
#     wait within 10 %; libbpf-tools runqlat -p on the same hog agrees loosely
#     (mean from the log2 buckets within a factor of 2); most waits are in the
#     millisecond buckets (a time slice), not microseconds.
#  2. a scratch cgroup with a quota of 10 ms per 100 ms and a hog in it:
#     nr_throttled and the throttled time reported == the cgroup's cpu.stat
#     deltas read by the test over the same window; throttled waits show up
#     as run-queue latency >= 50 ms.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 11
need_bpf
IH=$BUILD/tests/bpf/incident-helper

# bucket_mean: approximate mean (us) from "lo hi count" lines
bucket_mean() { awk '{ n += $3; s += $3 * ($1 + $2) / 2 } END { printf "%d", n ? s / n : 0 }'; }

taskset -c 1 "$IH" spin 3 "$TMP/go" > "$TMP/h1.out" &
h1=$!
taskset -c 1 "$IH" spin 3 "$TMP/go" > "$TMP/h2.out" &
h2=$!
wait_for "$TMP/h1.out" ready 5; wait_for "$TMP/h2.out" ready 5
"${PROBE[@]}" runqlat --comm incident-helper --json --duration 4.5 > "$TMP/rq.json" 2> "$TMP/rq.err" &
ppid=$!
have_rl=false
if [ -x /usr/sbin/runqlat ]; then
	/usr/sbin/runqlat -p "$h1" 4 1 > "$TMP/rl.out" 2> "$TMP/rl.err" &
	rpid=$!
	have_rl=true
fi
wait_for "$TMP/rq.err" tracing 10
# the kernel's run-queue wait of h1 from here on is the witness: its wait for
# "go" (a polling loop) is traced too, and on a busy machine it is not small
rd0=$(awk '{ print $2 }' "/proc/$h1/schedstat")
sleep 0.5
touch "$TMP/go"
wait $h1 $h2
wait $ppid; rc=$?
$have_rl && wait $rpid
is "$rc" 0 "probe runqlat exits 0" || diag "$(cat "$TMP/rq.err")"
J=$TMP/rq.json
is "$(jq -r .schema "$J" 2>/dev/null)" "qps-tune.probe.runqlat/1" "one JSON document with the versioned schema"
P=$(jq -c ".processes[] | select(.pid == $h1)" "$J" 2>/dev/null)
ours=$(jq -r '.total_us | floor' <<<"${P:-null}")
rd=$(awk -v d0="${rd0:-0}" '/^run_delay_total_ns/ { printf "%d", ($2 - d0) / 1000 }' "$TMP/h1.out")
diag "hog $h1: probe total wait ${ours:-?} us in $(jq -r .count <<<"${P:-null}") waits; schedstat run_delay ${rd:-?} us; cpu $(awk '/^cpu_ns/ {print $2}' "$TMP/h1.out") ns"
cmp_ok "${rd:-0}" -gt 300000 "the hog waited on the run queue (schedstat run_delay ${rd:-0} us)"
d=$(( ${ours:-0} > ${rd:-0} ? ${ours:-0} - ${rd:-0} : ${rd:-0} - ${ours:-0} ))
cmp_ok $((d * 10)) -le "${rd:-0}" "probe total wait == schedstat run_delay delta within 10 %"
ms=$(jq -r '[.hist_us[] | select(.lo >= 1024) | .count] | add // 0' <<<"${P:-null}")
cmp_ok "$((ms * 2))" -gt "$(jq -r '.hist_us | map(.count) | add // 0' <<<"${P:-null}")" \
	"most waits are a time slice long (>= 1 ms buckets: $ms)"
if $have_rl; then
	m_rl=$(awk '/->/ && $5 > 0 { print $1, $3, $5 }' "$TMP/rl.out" | bucket_mean)
	m_us=$(jq -r '.hist_us[] | "\(.lo) \(.hi) \(.count)"' <<<"${P:-null}" | bucket_mean)
	diag "bucket means: probe $m_us us, libbpf-tools runqlat -p $h1 $m_rl us"
	cmp_ok "$((m_us * 2 >= m_rl && m_rl * 2 >= m_us ? 1 : 0))" -eq 1 "libbpf-tools runqlat agrees within a factor of 2 ($m_us vs $m_rl us)"
else
	skip "libbpf-tools runqlat not installed (scripts/deps.sh)" "runqlat cross-check"
fi

# the cgroup: v2 cpu.max when /sys/fs/cgroup is unified, else the v1 cpu hierarchy
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
	CG=/sys/fs/cgroup/qps-runqlat-$$
	mkdir "$CG" && echo "10000 100000" > "$CG/cpu.max"
	thr() { awk '$1 == "nr_throttled" { n = $2 } $1 == "throttled_usec" { u = $2 } END { print n, u }' "$CG/cpu.stat"; }
else
	CG=/sys/fs/cgroup/cpu/qps-runqlat-$$
	mkdir "$CG" && echo 100000 > "$CG/cpu.cfs_period_us" && echo 10000 > "$CG/cpu.cfs_quota_us"
	thr() { awk '$1 == "nr_throttled" { n = $2 } $1 == "throttled_time" { u = int($2 / 1000) } END { print n, u }' "$CG/cpu.stat"; }
fi
trap 'rmdir "$CG" 2>/dev/null; rm -rf "$TMP"' EXIT
"${PROBE[@]}" runqlat --cgroup "$CG" --json --duration 3.5 > "$TMP/cg.json" 2> "$TMP/cg.err" &
ppid=$!
wait_for "$TMP/cg.err" tracing 10
read -r n0 u0 < <(thr)
sh -c 'echo $$ > "$1/cgroup.procs" && exec "$2" spin 1.5' _ "$CG" "$IH" > "$TMP/cg.out"
# the hog's exit still runs (and may be throttled) in the cgroup: read the
# counters once the cgroup is empty and a period has passed, well inside the window
for i in $(seq 50); do [ -z "$(cat "$CG/cgroup.procs")" ] && break; sleep 0.02; done
sleep 0.3
read -r n1 u1 < <(thr)
wait $ppid; rc=$?
J=$TMP/cg.json
is "$rc" 0 "runqlat --cgroup exits 0" || diag "$(cat "$TMP/cg.err")"
diag "cpu.stat deltas: nr_throttled $((n1 - n0)), throttled $((u1 - u0)) us; probe $(jq -c .throttling "$J" 2>/dev/null)"
cmp_ok "$((n1 - n0))" -gt 5 "the hog in a 10 % quota cgroup was throttled (cpu.stat)"
is "$(jq -r .throttling.nr_throttled "$J")" "$((n1 - n0))" "nr_throttled == cpu.stat delta"
is "$(jq -r .throttling.throttled_usec "$J")" "$((u1 - u0))" "throttled time == cpu.stat delta (us)"
cmp_ok "$(jq -r '[.cgroups[].max_us] | max // 0 | floor' "$J")" -ge 50000 "throttled waits show as run-queue latency >= 50 ms"
done_testing
