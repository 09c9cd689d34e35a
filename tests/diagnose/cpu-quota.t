#!/usr/bin/env bash
# cpu-quota.t - a tight CPU quota: qps-server in a scratch cgroup allowed
# 5 ms of CPU per 100 ms (v1 cpu.cfs_quota_us, or v2 cpu.max), under a
# closed-loop load. The top finding is cpu-throttled, and its throttled
# periods are within what the cgroup's own cpu.stat counted around the run
# (read by the test before and after). Also a CPU hog pinned to the server's
# only CPU: the top finding is the run-queue wait, naming the hog. In both,
# runqlat is attached once the run-queue wait or the throttling shows (not
# from the start), for its 2 s dose only, and its histogram is in the
# evidence; the probes nothing called for are not attached.
. "$(dirname "$0")/../lib.sh"
plan 13
is_root || skip_rest "needs root for unshare -n and cgroups"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"
[ "$(nproc)" -ge 2 ] || skip_rest "needs 2 CPUs (a hog on the server's CPU, the load on another)"

T=$(mktemp -d)
CG=
cleanup() {
	[ -n "$CG" ] && [ -d "$CG" ] && { cat "$CG/cgroup.procs" 2>/dev/null | xargs -r kill -9 2>/dev/null; sleep 0.2; rmdir "$CG"; }
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
name=qps-diag-$$
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control || echo +cpu > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
	CG=/sys/fs/cgroup/$name
	mkdir "$CG" || skip_rest "cannot create a cgroup"
	echo "5000 100000" > "$CG/cpu.max" || skip_rest "cannot set cpu.max (cpu controller not enabled)"
	stat_thr() { awk '/^nr_throttled/ {print $2}' "$CG/cpu.stat"; }
elif [ -d /sys/fs/cgroup/cpu ]; then
	CG=/sys/fs/cgroup/cpu/$name
	mkdir "$CG" || skip_rest "cannot create a cgroup"
	echo 100000 > "$CG/cpu.cfs_period_us"; echo 5000 > "$CG/cpu.cfs_quota_us"
	stat_thr() { awk '/^nr_throttled/ {print $2}' "$CG/cpu.stat"; }
else
	skip_rest "no cgroup cpu controller"
fi
export CG
cat > "$T/inner.sh" <<'INNER'
set -u
B=$1 T=$2 Q=$1/qps-tune
ip link set lo up
# the server in the throttled cgroup, at nice -10 so that on a busy shared
# machine it still gets more than its quota; each request burns 2 ms of CPU
sh -c 'echo $$ > "$CG/cgroup.procs"; exec nice -n -10 "$0" -l 127.0.0.1:18304 -w 1 --demo --defer-accept 0' "$B/qps-server" 2>"$T/server.log" &
S=$!
for _ in $(seq 100); do ss -Htln 'sport = :18304' | grep -q . && break; sleep 0.05; done
awk '/^nr_throttled/ {print $2}' "$CG/cpu.stat" > "$T/thr0"
t0=$(date +%s%N)
# 4 s: longer than runqlat's dose after the throttling shows
"$Q" diagnose --duration 4 --json > "$T/quota.json" 2>"$T/quota.err" &
D=$!
timeout -s KILL 6 "$B/qps-load" -c 8 -d 4.2 -p '/cpu?us=2000' 127.0.0.1:18304 > "$T/quota.load" 2>&1
wait $D; echo $? > "$T/quota.rc"
t1=$(date +%s%N)
echo $(( (t1 - t0) / 1000000 )) > "$T/quota.ms"
awk '/^nr_throttled/ {print $2}' "$CG/cpu.stat" > "$T/thr1"
kill $S; wait $S 2>/dev/null
# a hog on the server's only CPU
taskset -c 1 "$B/qps-server" -l 127.0.0.1:18305 -w 1 --demo --defer-accept 0 2>>"$T/server.log" &
S=$!
# a noisy neighbour: nice -10, so that it, not other load on a shared machine, takes the CPU
nice -n -10 taskset -c 1 sh -c 'while :; do :; done' &
H=$!
for _ in $(seq 100); do ss -Htln 'sport = :18305' | grep -q . && break; sleep 0.05; done
echo $H > "$T/hog"
"$Q" diagnose --duration 3 --json > "$T/hog.json" 2>"$T/hog.err" &
D=$!
timeout -s KILL 5 taskset -c 0 "$B/qps-load" -c 8 -d 3.2 -p '/cpu?us=2000' 127.0.0.1:18305 > /dev/null 2>&1
wait $D; echo $? > "$T/hog.rc"
kill $H $S; wait $S 2>/dev/null
INNER
unshare -n bash "$T/inner.sh" "$BUILD" "$T"

J=$T/quota.json
is "$(cat "$T/quota.rc")" 3 "quota: exit 3, something limits the server"
cmp_ok "$(cat "$T/quota.ms")" -le 5000 "diagnose --duration 4 took $(cat "$T/quota.ms") ms (window + 1 s at most)"
is "$(jq -r '.findings[0].name' "$J")" cpu-throttled "the top finding is the cgroup's quota"
kd=$(( $(cat "$T/thr1") - $(cat "$T/thr0") ))
thr=$(jq -r '.findings[0].figures.throttled_periods' "$J")
cmp_ok "$thr" -ge 1 "throttled periods counted in the window ($thr)"
cmp_ok "$thr" -le "$kd" "no more than cpu.stat's nr_throttled delta around the run ($kd)"
like "$(jq -r '.findings[0].title' "$J")" 'quota 5000 100000' "it names the quota"
like "$(jq -r '.findings[0].checks' "$J")" 'CPU-002' "it cites CPU-002"
is "$(jq -r '.findings[0].name' "$T/hog.json")" cpu-runqueue "hog: the top finding is the run-queue wait"
like "$(jq -r '.findings[0].evidence' "$T/hog.json")" "$(cat "$T/hog") sh [0-9.]+ CPUs" "it names the hog (pid $(cat "$T/hog"))"
for k in quota hog; do
	r=$(jq -r '.probes[] | select(.name=="runqlat") | "\(.status) \(.started_s) \(.elapsed_s)"' "$T/$k.json")
	ok "$k: runqlat attached once the wait showed, for its 2 s dose at most ($r: status, started_s, elapsed_s)" \
		awk -v r="$r" 'BEGIN { split(r, a, " "); exit !(a[1] == "used" && a[2] > 0.3 && a[2] < 1.5 && a[3] > 0 && a[3] <= 2.2) }'
	like "$(jq -r '.findings[0].evidence' "$T/$k.json") | $(jq -r '[.probes[] | select(.status=="used") | .name] | join(" ")' "$T/$k.json")" \
		'runqlat \([0-9.]+ s from [0-9.]+ s into the window\): [0-9]+ waits, mean [0-9]+ us.* \| runqlat$' "  its figures in the evidence; no other probe attached"
done
done_testing
