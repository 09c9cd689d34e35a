#!/usr/bin/env bash
# cgroup.t - the default worker count follows the cgroup CPU quota, not the
# host's CPU count: run qps-server inside a scratch cgroup with a quota of
# 1 CPU (v1 cpu.cfs_quota_us or v2 cpu.max) and read its start-up line.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
plan 4

CG=""
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	# v2: a child of the root cgroup, cpu controller enabled there
	grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
		echo +cpu > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
	CG=/sys/fs/cgroup/qps-server-test.$$
	mkdir "$CG" 2>/dev/null && [ -f "$CG/cpu.max" ] || { rmdir "$CG" 2>/dev/null; CG=""; }
	setq() { echo "$1 100000" > "$CG/cpu.max"; }
elif [ -d /sys/fs/cgroup/cpu ] && grep -qE '^[0-9]+:([^:]*,)?cpu(,[^:]*)?:/$' /proc/self/cgroup; then
	# v1: only when we sit at the top of the cpu hierarchy, so a child is ours to make
	CG=/sys/fs/cgroup/cpu/qps-server-test.$$
	mkdir "$CG" 2>/dev/null && [ -f "$CG/cpu.cfs_quota_us" ] || { rmdir "$CG" 2>/dev/null; CG=""; }
	setq() { echo 100000 > "$CG/cpu.cfs_period_us" && echo "$1" > "$CG/cpu.cfs_quota_us"; }
fi
[ -n "$CG" ] || skip_rest "no writable cgroup cpu controller here"
trap '_cleanup; rmdir "$CG" 2>/dev/null' EXIT

run_in_cg() {	# quota_us -> start-up line of a server started inside the cgroup
	local port log pid
	setq "$1" || return 1
	port=$(free_port); log=$TMPD/cg.$1.log
	bash -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' _ "$CG" \
		"$QPS_SERVER" --listen "127.0.0.1:$port" 2>"$log" &
	pid=$!
	wait_port "$port" 10
	curl -s "http://127.0.0.1:$port/plaintext" > "$TMPD/cg.body"
	kill -TERM $pid; wait $pid
	head -1 "$log"
}

line=$(run_in_cg 100000)
like "$line" " 1 workers \(usable CPUs 1: allowed [0-9,-]+, cgroup quota 1\.00\)" "quota 1 CPU -> 1 worker, quota shown"
is "$(cat "$TMPD/cg.body")" "Hello, World!" "serves inside the cgroup"
line=$(run_in_cg 50000)
like "$line" " 1 workers \(usable CPUs 1: .*cgroup quota 0\.50\)" "quota 0.5 CPU -> 1 worker (rounded up)"
n=$(nproc)
if [ "$n" -ge 2 ]; then
	line=$(run_in_cg 150000)
	like "$line" " 2 workers \(usable CPUs 2: .*cgroup quota 1\.50\)" "quota 1.5 CPUs -> 2 workers (rounded up)"
else
	skip "one CPU only" "quota 1.5 CPUs -> 2 workers"
fi
done_testing
