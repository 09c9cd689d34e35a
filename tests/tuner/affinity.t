#!/usr/bin/env bash
# affinity.t - RPS/XPS masks on a real veth pair inside a network namespace,
# and a child process's CPU affinity and nofile soft limit (--pid), applied
# and rolled back for real.
. "$(dirname "$0")/../lib.sh"
plan 17
is_root || skip_rest "needs root for unshare -n -m"
unshare -n -m true 2>/dev/null || skip_rest "unshare -n -m not permitted (needs privilege)"
[ "$(nproc)" -ge 2 ] || skip_rest "needs at least 2 CPUs"

T=$(mktemp -d)
export QPS_TUNE_RUN_DIR=$T/run	# host-wide lock and journal registry of this test only
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
cat > "$T/aff.profile" <<'P'
# web-10k plus explicit steering and placement
inherit web-10k
rps all
xps spread
affinity all
nofile >= 4096
P
cat > "$T/inner.sh" <<'INNER'
set -u
Q=$1 T=$2
mount -t sysfs sysfs /sys          # this netns's devices (private mount ns)
ip link add v0 numrxqueues 1 numtxqueues 2 type veth peer name v1 numrxqueues 1 numtxqueues 2
ip link set v0 up; ip link set v1 up
q() { cat /sys/class/net/v0/queues/rx-0/rps_cpus /sys/class/net/v0/queues/tx-0/xps_cpus \
	/sys/class/net/v0/queues/tx-1/xps_cpus | tr '\n' ' '; }
taskset -c 0 prlimit --nofile=1024:8192 sleep 60 &
child=$!
# taskset and prlimit exec into sleep once affinity and limits are set
for _ in $(seq 200); do [ "$(cat /proc/$child/comm 2>/dev/null)" = sleep ] && break; sleep 0.02; done
echo "$child" > "$T/child"
q > "$T/q0"
"$Q" audit --profile "$T/aff.profile" --pid "$child" --json > "$T/a0.json"; echo $? > "$T/a0.rc"
"$Q" apply --profile "$T/aff.profile" --pid "$child" --state-dir "$T/st" > "$T/apply.txt" 2>&1
echo $? > "$T/apply.rc"
q > "$T/q1"
awk '/Cpus_allowed_list/{print $2}' /proc/$child/status > "$T/aff1"
prlimit --nofile --pid "$child" -o SOFT,HARD --noheadings | xargs > "$T/lim1"
"$Q" audit --profile "$T/aff.profile" --pid "$child" --json > "$T/a1.json"; echo $? > "$T/a1.rc"
"$Q" rollback --state-dir "$T/st" > "$T/rb.txt" 2>&1; echo $? > "$T/rb.rc"
q > "$T/q2"
awk '/Cpus_allowed_list/{print $2}' /proc/$child/status > "$T/aff2"
prlimit --nofile --pid "$child" -o SOFT,HARD --noheadings | xargs > "$T/lim2"
kill "$child"
INNER
unshare -n -m bash "$T/inner.sh" "$QPS_TUNE" "$T"

# plain `unshare -n` (no sysfs of its own): apply and rollback must still see
# this netns's veth, not the devices of the sysfs mounted on /sys
cat > "$T/inner2.sh" <<'INNER'
set -u
Q=$1 T=$2
ip link add w0 numrxqueues 1 type veth peer name w1 numrxqueues 1
rps() { unshare -m sh -c 'mount -t sysfs sysfs /sys && cat /sys/class/net/w0/queues/rx-0/rps_cpus'; }
rps > "$T/w-before"
"$Q" apply --profile "$T/aff.profile" --state-dir "$T/st2" > "$T/w-apply.txt" 2>&1
rps > "$T/w-applied"
"$Q" rollback --state-dir "$T/st2" > "$T/w-rb.txt" 2>&1; echo $? > "$T/w-rb.rc"
rps > "$T/w-after"
INNER
unshare -n bash "$T/inner2.sh" "$QPS_TUNE" "$T"

is "$(cat "$T/a0.rc")" 3 "audit before apply finds drift"
got=$(jq -r '[.checks[] | select(.status=="fail") | .id] | unique | join(" ")' "$T/a0.json")
is "$got" "CPU-006 FD-001 LQ-004 PKT-005 PKT-008" "RPS, XPS, affinity and nofile are the failing checks"
like "$(jq -r '.checks[] | select(.id=="PKT-005") | .evidence' "$T/a0.json")" 'v0: 1 rx queue, [0-9]+ CPUs; rx-0/rps_cpus=0' \
	"PKT-005 evidence shows the veth's rps_cpus"
is "$(cat "$T/apply.rc")" 0 "apply --pid exits 0"
all=$(printf '%x' $(( (1 << $(nproc)) - 1 )))
set -- $(cat "$T/q1")
is "$1" "$all" "rps_cpus of v0 rx-0 = all online CPUs"
is "$(( 0x$2 & 1 )):$(( 0x$3 & 2 ))" "1:2" "xps: tx-0 on CPU 0, tx-1 on CPU 1"
is "$(cat "$T/aff1")" "0-$(( $(nproc) - 1 ))" "child's CPU affinity widened to all CPUs"
is "$(cat "$T/lim1")" "4096 8192" "child's nofile soft raised to 4096 (hard unchanged)"
is "$(cat "$T/a1.rc")" 0 "audit after apply is clean"
is "$(cat "$T/rb.rc")" 0 "rollback exits 0"
is "$(cat "$T/q2")" "$(cat "$T/q0")" "rollback restored the RPS/XPS masks"
is "$(cat "$T/aff2")" 0 "rollback restored the child's affinity"
is "$(cat "$T/lim2")" "1024 8192" "rollback restored the child's nofile soft limit"
like "$(cat "$T/rb.txt")" 'restored +pid [0-9]+ nofile = 1024 8192' "rollback reports the rlimit"
is "$(cat "$T/w-applied")" "$all" "plain unshare -n: apply set the netns's veth RPS mask"
is "$(cat "$T/w-rb.rc")" 0 "plain unshare -n: rollback exits 0"
is "$(cat "$T/w-after")" "$(cat "$T/w-before")" "plain unshare -n: rollback restored the veth's mask"
done_testing
