#!/usr/bin/env bash
# fixtures.t - every check id of the registry gets a state that makes it pass
# and one that makes it fail (or, for report-only checks, the two outcomes it
# has), built in a scratch network namespace or a --root tree, and asserts
# status, current value and evidence against what the test itself set. The
# suite iterates `qps-tune checks`: an id with no fixture fails it unless it is
# on the reviewed UNCOVERED list below (each entry says why), whose size is
# printed. Host-wide keys are judged relative to their live value (a rule
# ">= now" passes, ">= now+1" fails), read-only: the host is never changed.
. "$(dirname "$0")/../lib.sh"
is_root || { plan 1; skip_rest "needs root for unshare -n"; }
unshare -n true 2>/dev/null || { plan 1; skip_rest "unshare -n not permitted (needs privilege)"; }

# reviewed: ids whose states cannot be built on this host; every id has a
# fixture somewhere, and the sections below add an id here, with the reason,
# only where this host lacks what its state needs (a second CPU, a cgroup with
# the cpu controller, a kernel that loads fentry programs, ...)
declare -A UNCOVERED=()

T=$(mktemp -d)
export QPS_TUNE_RUN_DIR=$T/run	# host-wide lock and journal registry of this test only
CLEAN_CG=""	# scratch cgroups to remove however the test ends
trap 'kill $(jobs -p) 2>/dev/null; sleep 0.2; for d in $CLEAN_CG; do rmdir "$d" 2>/dev/null; done; rm -rf "$T"' EXIT
Q=$QPS_TUNE
"$Q" checks --json | jq -r '.checks[].id' > "$T/ids"
ntotal=$(wc -l < "$T/ids")
declare -A SEEN_A SEEN_B
nplanned=0
# fixtures: "ID|outcome A|outcome B" lines are appended as they are asserted
assert() {	# $1 json $2 id $3 key $4 status $5 current (regex) $6 evidence (regex) $7 A|B
	local got
	got=$(jq -r --arg id "$2" --arg key "$3" \
		'[.checks[] | select(.id==$id and .key==$key)][0] | if . == null then "absent||" else .status+"|"+.current+"|"+.evidence end' "$1" 2>/dev/null)
	local st=${got%%|*} rest=${got#*|}
	local cur=${rest%%|*} ev=${rest#*|}
	if [ "$st" = "$4" ] && printf '%s\n' "$cur" | grep -qE -- "^($5)\$" && printf '%s\n' "$ev" | grep -qE -- "$6"; then
		pass "$2 $4: $3 = $cur"
		if [ "$7" = A ]; then SEEN_A[$2]=1; else SEEN_B[$2]=1; fi
	else
		fail "$2 $4: $3" "got: status '$st' current '$cur' evidence '$ev'" "want: '$4' /^($5)\$/ /$6/"
	fi
}

# ---- 1. netns sysctl rules: the test writes the value, the rule judges it
# id|key|rule|passing value|failing value|current shown (pass)|current shown (fail)
cat > "$T/knobs" <<'K'
LQ-001|net.core.somaxconn|>= 4096|4096|128|4096|128
LQ-004|net.ipv4.tcp_max_syn_backlog|>= 4096|8192|128|8192|128
LQ-005|net.ipv4.tcp_syncookies|in 1,2|1|0|1|0
LQ-006|net.ipv4.tcp_abort_on_overflow|<= 0|0|1|0|1
LQ-008|net.ipv4.tcp_migrate_req|>= 1|1|0|1|0
LQ-009|net.ipv4.tcp_synack_retries|<= 3|2|5|2|5
LQ-010|net.ipv4.tcp_fastopen|has 2|3|1|3|1
PORT-001|net.ipv4.ip_local_port_range[0]|<= 10240|10240 65000|32768 60999|10240|32768
PORT-003|net.ipv4.tcp_tw_reuse|= 1|1|2|1|2
PORT-004|net.ipv4.tcp_timestamps|in 1,2|1|0|1|0
PORT-006|net.ipv4.tcp_fin_timeout|<= 30|30|60|30|60
PORT-007|net.ipv4.tcp_max_tw_buckets|>= 131072|262144|1024|262144|1024
BUF-001|net.ipv4.tcp_rmem[2]|>= 6291456|4096 131072 6291456|4096 131072 1048576|6291456|1048576
BUF-004|net.ipv4.tcp_slow_start_after_idle|<= 0|0|1|0|1
BUF-006|net.ipv4.tcp_notsent_lowat|<= 16384|16384|131072|16384|131072
PROF-001|net.ipv4.tcp_keepalive_time|<= 600|600|7200|600|7200
K
cat > "$T/knobs.sh" <<'INNER'
set -u
Q=$1 T=$2
while IFS='|' read -r id key rule pv fv _ _; do
	k=${key%%\[*}
	path=/proc/sys/$(printf '%s' "$k" | tr . /)
	printf 'sysctl %s %s\n' "$key" "$rule" > "$T/$id.profile"
	printf '%s' "$pv" > "$path"; "$Q" audit --profile "$T/$id.profile" --json > "$T/$id.pass.json"; echo $? > "$T/$id.pass.rc"
	printf '%s' "$fv" > "$path"; "$Q" audit --profile "$T/$id.profile" --json > "$T/$id.fail.json"; echo $? > "$T/$id.fail.rc"
done < "$T/knobs"
INNER
unshare -n bash "$T/knobs.sh" "$Q" "$T"
while IFS='|' read -r id key rule pv fv pc fc; do
	k=${key%%\[*}
	path=/proc/sys/$(printf '%s' "$k" | tr . /)
	assert "$T/$id.pass.json" "$id" "$key" pass "$pc" "^$path = " A
	assert "$T/$id.fail.json" "$id" "$key" fail "$fc" "^$path = " B
done < "$T/knobs"
# the exit code follows the checks: 0 with none failed, 3 (drift) with one or more
rcs=""
while IFS='|' read -r id _; do
	f=$(jq '[.checks[] | select(.status == "fail")] | length' "$T/$id.fail.json" 2>/dev/null)
	p=$(jq '[.checks[] | select(.status == "fail")] | length' "$T/$id.pass.json" 2>/dev/null)
	want_f=$([ "${f:-0}" -gt 0 ] && echo 3 || echo 0) want_p=$([ "${p:-0}" -gt 0 ] && echo 3 || echo 0)
	[ "$(cat "$T/$id.pass.rc") $(cat "$T/$id.fail.rc")" = "$want_p $want_f" ] ||
		rcs="$rcs $id:pass=$(cat "$T/$id.pass.rc")/$p-failed,fail=$(cat "$T/$id.fail.rc")/$f-failed"
done < "$T/knobs"
is "${rcs:-none}" none "audit exits 3 when a check failed (even one), 0 when none did"

# ---- 2. host-wide sysctl rules, judged relative to the live value (read-only)
# id|key|field
cat > "$T/hostknobs" <<'K'
FD-002|fs.nr_open|
FD-003|fs.file-max|
MEM-002|vm.swappiness|
MEM-003|kernel.pid_max|
CPU-004|kernel.numa_balancing|
BUF-002|net.ipv4.tcp_mem|1
BUF-003|net.ipv4.tcp_max_orphans|
BUF-005|net.core.rmem_max|
PKT-001|net.core.netdev_max_backlog|
PKT-002|net.core.netdev_budget|
PKT-006|net.core.rps_sock_flow_entries|
PKT-007|net.core.busy_read|
CT-001|net.netfilter.nf_conntrack_max|
K
while IFS='|' read -r id key field; do
	path=/proc/sys/$(printf '%s' "$key" | tr . /)
	if [ ! -r "$path" ]; then
		fail "$id: $key" "not on this kernel: add it to UNCOVERED with the reason"
		continue
	fi
	now=$(awk -v f="${field:-0}" '{ print $(f + 1) }' "$path")
	name=$key; [ -n "$field" ] && name="$key[$field]"
	printf 'sysctl %s >= %s\n' "$name" "$now" > "$T/$id.hp.profile"
	printf 'sysctl %s >= %s\n' "$name" "$((now + 1))" > "$T/$id.hf.profile"
	"$Q" audit --profile "$T/$id.hp.profile" --json > "$T/$id.hp.json"
	"$Q" audit --profile "$T/$id.hf.profile" --json > "$T/$id.hf.json"
	assert "$T/$id.hp.json" "$id" "$name" pass "$now" "^$path = " A
	assert "$T/$id.hf.json" "$id" "$name" fail "$now" "^$path = " B
done < "$T/hostknobs"

# ---- 3. listeners, queues, ports, limits, steering: states the test builds
cat > "$T/listen.py" <<'PY'
import socket, sys, time, os, resource
port, backlog, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
if len(sys.argv) > 4:
    soft, hard = map(int, sys.argv[4].split(":"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
files = [open("/dev/null") for _ in range(int(sys.argv[5]))] if len(sys.argv) > 5 else []
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(backlog)
open(ready, "w").close(); time.sleep(30)
PY
cat > "$T/states.sh" <<'INNER'
set -u
Q=$1 T=$2
ip link set lo up
start() {	# name port backlog [soft:hard [nfiles]]
	local n=$1; shift
	python3 "$T/listen.py" "$1" "$2" "$T/ready.$n" "${@:3}" &
	for _ in $(seq 200); do [ -e "$T/ready.$n" ] && break; sleep 0.05; done
}
printf 'inherit web-10k\n' > "$T/w.profile"
# LQ-002: listen(1024) under somaxconn 128 (capped) / 4096
sysctl -qw net.core.somaxconn=128; start lq2f 18201 1024
"$Q" audit --port 18201 --json > "$T/lq2f.json"
sysctl -qw net.core.somaxconn=4096; start lq2p 18202 1024
"$Q" audit --port 18202 --json > "$T/lq2p.json"
# LQ-003: a quiet netns sampled (pass) / a backlog-1 queue filled (fail)
"$Q" audit --port 18202 --sample 1 --json > "$T/lq3p.json"
start lq3f 18203 1
python3 -c '
import socket
cs = [socket.create_connection(("127.0.0.1", 18203)) for _ in range(2)]
import time; time.sleep(0.3)
open("'"$T"'/filled", "w").close(); time.sleep(30)' &
for _ in $(seq 100); do [ -e "$T/filled" ] && break; sleep 0.05; done
"$Q" audit --port 18203 --json > "$T/lq3f.json"
# LQ-007: SYN cookies during the window (syncookies=2 sends one for every SYN)
sysctl -qw net.ipv4.tcp_syncookies=2
( end=$((SECONDS + 3)); while [ $SECONDS -lt $end ]; do
	(exec 3<>/dev/tcp/127.0.0.1/18202) 2>/dev/null; sleep 0.05; done ) &
conn=$!
sleep 0.2
"$Q" audit --port 18202 --sample 1 --json > "$T/lq7f.json"
kill $conn 2>/dev/null
sysctl -qw net.ipv4.tcp_syncookies=1
# PORT-002: a listen port inside the ephemeral range / outside it
start p2f 40123 16
"$Q" audit --port 40123 --json > "$T/p2f.json"
# FD-001/2/4: limits of a listener's process
printf 'nofile >= 2048\n' > "$T/nf.profile"
start fdf 18211 16 1024:1536
start fdp 18212 16 4096:8192
start fd4 18213 16 64:64 50
"$Q" audit --port 18211 --profile "$T/nf.profile" --json > "$T/fdf.json"
"$Q" audit --port 18212 --profile "$T/nf.profile" --json > "$T/fdp.json"
"$Q" audit --port 18213 --json > "$T/fd4f.json"
# CPU-006: affinity of --pid under 'affinity all'
printf 'affinity all\n' > "$T/aff.profile"
start aff 18221 16
pid=$(cat /proc/net/tcp >/dev/null; ss -Hltnp 'sport = :18221' | grep -o 'pid=[0-9]*' | cut -d= -f2)
"$Q" audit --pid "$pid" --profile "$T/aff.profile" --json > "$T/affp.json"
taskset -pc 0 "$pid" > /dev/null
"$Q" audit --pid "$pid" --profile "$T/aff.profile" --json > "$T/afff.json"
echo "$pid" > "$T/affpid"
# ENV-002: a failing key that cannot be written here (read-only bind mount)
sysctl -qw net.core.somaxconn=128
"$Q" audit --json > "$T/env2a.json"
mount --bind /proc/sys/net/core/somaxconn /proc/sys/net/core/somaxconn
mount -o remount,bind,ro /proc/sys/net/core/somaxconn
"$Q" audit --json > "$T/env2b.json"
umount /proc/sys/net/core/somaxconn
# PERS-005: a journal in the state dir / none
"$Q" audit --state-dir "$T/nost" --json > "$T/pers5a.json"
"$Q" apply --state-dir "$T/st" > /dev/null
"$Q" audit --state-dir "$T/st" --json > "$T/pers5b.json"
"$Q" rollback --state-dir "$T/st" > /dev/null
kill $(jobs -p) 2>/dev/null
INNER
unshare -n -m bash "$T/states.sh" "$Q" "$T" 2> "$T/states.err"
assert "$T/lq2f.json" LQ-002 "listener 127.0.0.1:18201" fail "backlog 128" "Send-Q=128 == somaxconn 128 < target 4096" B
assert "$T/lq2p.json" LQ-002 "listener 127.0.0.1:18202" pass "backlog 1024" "granted backlog \\(Send-Q\\) 1024" A
assert "$T/lq3p.json" LQ-003 "TcpExt:ListenOverflows" pass "\\+0/1s" "TcpExtListenOverflows \\+0 ListenDrops \\+0 over 1s" A
assert "$T/lq3f.json" LQ-003 "listener 127.0.0.1:18203" fail "queue 2/1, drops [0-9]+" "Recv-Q 2 of 1 \\(full now\\)" B
assert "$T/lq3p.json" LQ-007 "TcpExt:SyncookiesSent" pass "\\+0/1s" "TcpExtSyncookiesSent \\+0 " A
assert "$T/lq7f.json" LQ-007 "TcpExt:SyncookiesSent" fail "\\+[1-9][0-9]*/1s" "TcpExtSyncookiesSent \\+[1-9]" B
assert "$T/lq2p.json" PORT-002 "listen ports vs ephemeral range" pass "1 listener" "no listen port inside ip_local_port_range" A
assert "$T/p2f.json" PORT-002 "listener 127.0.0.1:40123" fail "port 40123" "inside ip_local_port_range 32768-60999" B
fdkey() { jq -r --arg id "$2" '[.checks[] | select(.id==$id and (.key|test("nofile$")))][0].key' "$1"; }
assert "$T/fdp.json" FD-001 "$(fdkey "$T/fdp.json" FD-001)" pass "soft 4096" "soft=4096 hard=8192" A
assert "$T/fdf.json" FD-001 "$(fdkey "$T/fdf.json" FD-001)" fail "soft 1024" "soft=1024 hard=1536" B
assert "$T/fdp.json" FD-002 "$(fdkey "$T/fdp.json" FD-002)" pass "hard 8192" "hard=8192" A
assert "$T/fdf.json" FD-002 "$(fdkey "$T/fdf.json" FD-002)" fail "hard 1536" "hard=1536" B
assert "$T/fdp.json" FD-004 "$(fdkey "$T/fdp.json" FD-004)" pass "[0-9]+/4096" "entries; soft limit 4096" A
assert "$T/fd4f.json" FD-004 "$(fdkey "$T/fd4f.json" FD-004)" fail "5[0-9]/64" "entries; soft limit 64" B
apid=$(cat "$T/affpid")
assert "$T/affp.json" CPU-006 "$(jq -r '[.checks[] | select(.id=="CPU-006")][0].key' "$T/affp.json")" pass \
	"$(awk '/Cpus_allowed_list/ {print $2}' /proc/self/status)" "Cpus_allowed_list=" A
assert "$T/afff.json" CPU-006 "pid $apid python3 cpus" fail "0" "/proc/$apid/status Cpus_allowed_list=0" B
assert "$T/env2b.json" ENV-002 "apply possible here" info "1 key blocked" "net.core.somaxconn \\(not writable\\)" B
is "$(jq -r '[.checks[] | select(.id=="ENV-002")] | length' "$T/env2a.json")" 0 "ENV-002 absent when every failing key is writable"
SEEN_A[ENV-002]=1
is "$(jq -r '[.checks[] | select(.id=="PERS-005")] | length' "$T/pers5a.json")" 0 "PERS-005 absent without a journal"
SEEN_A[PERS-005]=1
assert "$T/pers5b.json" PERS-005 "qps-tune journal" info present "^$T/st/journal$" B
assert "$T/env2a.json" ENV-001 environment info ".+" "init_netns=no" A
SEEN_B[ENV-001]=1	# report-only: one outcome

# ---- 4. RPS and XPS on a veth (1 queue on $(nproc) CPUs), private sysfs
if [ "$(nproc)" -ge 2 ]; then
	printf 'rps all\nxps spread\n' > "$T/steer.profile"
	unshare -n -m bash -c '
		mount -t sysfs none /sys && ip link add v0 type veth peer name v1
		"$1" audit --profile "$2/steer.profile" --json > "$2/steerf.json"
		m=$(printf "%x" $(( (1 << $(nproc)) - 1 )))
		echo $m > /sys/class/net/v0/queues/rx-0/rps_cpus; echo $m > /sys/class/net/v1/queues/rx-0/rps_cpus
		echo $m > /sys/class/net/v0/queues/tx-0/xps_cpus; echo $m > /sys/class/net/v1/queues/tx-0/xps_cpus
		"$1" audit --profile "$2/steer.profile" --json > "$2/steerp.json"' _ "$Q" "$T"
	assert "$T/steerf.json" PKT-005 "v0 rps" fail "0/1 queues" "rx-0/rps_cpus=0" B
	assert "$T/steerp.json" PKT-005 "v0 rps" pass "1/1 queues" "rx-0/rps_cpus=0*[0-9a-f]+" A
	assert "$T/steerf.json" PKT-008 "v0 xps" fail "0/1 queues mapped" "tx-0/xps_cpus=0" B
	assert "$T/steerp.json" PKT-008 "v0 xps" pass "1/1 queues mapped" "tx-0/xps_cpus=" A
else
	UNCOVERED[PKT-005]="RPS needs fewer RX queues than CPUs: this host has 1 CPU"
	UNCOVERED[PKT-008]="XPS spread needs 2 CPUs"
fi

# ---- 5. persisted configuration under --root (initial netns: read-only audit)
if [ "$(jq -r .host.initial_netns "$T/LQ-001.pass.json")" = false ]; then
	now=$(cat /proc/sys/net/core/somaxconn)
	printf 'sysctl net.core.somaxconn >= %s\n' "$now" > "$T/pers.profile"
	for s in p f; do mkdir -p "$T/r$s/etc/sysctl.d"; done
	printf 'net.core.somaxconn = %s\n' "$now" > "$T/rp/etc/sysctl.d/50-a.conf"
	printf 'net.core.somaxconn = %s\n' "$((now / 2))" > "$T/rf/etc/sysctl.d/50-a.conf"
	printf 'net.ipv4.tcp_tw_recycle = 0\n' > "$T/rf/etc/sysctl.d/60-old.conf"
	printf 'net.core.somaxconn = %s\n' "$now" > "$T/rf/etc/sysctl.d/90-qps-tune.conf"
	printf 'net.core.somaxconn = %s\n' "$((now / 2))" > "$T/rf/etc/sysctl.d/95-later.conf"
	printf 'vm.swappiness = 10\n' > "$T/rf/etc/sysctl.conf"
	printf 'vm.swappiness = 10\n' > "$T/rp/etc/sysctl.conf"
	ln -s ../sysctl.conf "$T/rp/etc/sysctl.d/99-sysctl.conf"
	"$Q" audit --root "$T/rp" --profile "$T/pers.profile" --json > "$T/persp.json"
	"$Q" audit --root "$T/rf" --profile "$T/pers.profile" --json > "$T/persf.json"
	assert "$T/persp.json" PERS-001 net.core.somaxconn pass "$now" "at boot $now \\($T/rp/etc/sysctl.d/50-a.conf:1\\)" A
	assert "$T/persf.json" PERS-001 net.core.somaxconn fail "$now" "at boot $((now / 2)) \\($T/rf/etc/sysctl.d/95-later.conf:1\\)" B
	assert "$T/persf.json" PERS-002 net.core.somaxconn fail "$((now / 2))" "90-qps-tune.conf:1 sets $now, overridden by /etc/sysctl.d/95-later.conf:1" B
	is "$(jq -r '[.checks[] | select(.id=="PERS-002")] | length' "$T/persp.json")" 0 "PERS-002 absent when nothing is shadowed"
	SEEN_A[PERS-002]=1
	assert "$T/persf.json" PORT-005 net.ipv4.tcp_tw_recycle fail 0 "60-old.conf:1 net.ipv4.tcp_tw_recycle \\(removed in 4.12\\)" B
	is "$(jq -r '[.checks[] | select(.id=="PORT-005")] | length' "$T/persp.json")" 0 "PORT-005 absent without removed keys"
	SEEN_A[PORT-005]=1
	assert "$T/persf.json" PERS-003 /etc/sysctl.conf fail "1 key" "no $T/rf/etc/sysctl.d/99-sysctl.conf" B
	is "$(jq -r '[.checks[] | select(.id=="PERS-003")] | length' "$T/persp.json")" 0 "PERS-003 absent with the 99-sysctl.conf link"
	SEEN_A[PERS-003]=1
else
	for id in PERS-001 PERS-002 PERS-003 PORT-005; do UNCOVERED[$id]="persistence checks run in the initial netns, this test is not in it"; done
fi

# ---- 6. another tuner running (a process named tuned)
cp "$(command -v sleep)" "$T/tuned"
"$Q" audit --json > "$T/pers4a.json"
"$T/tuned" 20 &
tp=$!
for _ in $(seq 100); do [ "$(cat /proc/$tp/comm 2>/dev/null)" = tuned ] && break; sleep 0.02; done
"$Q" audit --json > "$T/pers4b.json"
kill $tp
if jq -e '.checks[] | select(.id=="PERS-004")' "$T/pers4a.json" > /dev/null; then
	UNCOVERED[PERS-004]="a real tuner runs on this host: the absent state cannot be built"
else
	pass "PERS-004 absent with no other tuner"; SEEN_A[PERS-004]=1
	assert "$T/pers4b.json" PERS-004 "other tuners" info "tuned \\(pid $tp\\)" "tuned \\(pid $tp\\) is running" B
fi

# ---- 7. CFS quota of a server's cgroup (v1 cpu controller, or v2 with cpu enabled):
# two listeners moved into scratch cgroups limited to 1% of a CPU, one idle
# (pass), one spinning (throttled every period: fail), sampled over 1 s
cgbase=""
if [ -w /sys/fs/cgroup/cpu/cgroup.procs ] && [ -e /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
	cgbase=/sys/fs/cgroup/cpu
elif [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
	cgbase=/sys/fs/cgroup
fi
if [ -n "$cgbase" ] && mkdir "$cgbase/qps-fx-$$-idle" "$cgbase/qps-fx-$$-spin" 2>/dev/null; then
	CLEAN_CG="$CLEAN_CG $cgbase/qps-fx-$$-idle $cgbase/qps-fx-$$-spin"
	for c in idle spin; do
		if [ -e "$cgbase/cpu.cfs_quota_us" ]; then
			echo 1000 > "$cgbase/qps-fx-$$-$c/cpu.cfs_quota_us"
		else
			echo "1000 100000" > "$cgbase/qps-fx-$$-$c/cpu.max"
		fi
	done
	unshare -n bash -c '
		ip link set lo up
		for c in idle spin; do
			python3 -c "
import socket, sys, time
s = socket.socket(); s.bind((\"127.0.0.1\", int(sys.argv[1]))); s.listen(4)
open(sys.argv[2], \"w\").close()
if sys.argv[3] == \"spin\":
    t = time.time() + 15
    while time.time() < t: pass
else:
    time.sleep(15)" $([ $c = idle ] && echo 18231 || echo 18232) "$2/cg.$c" $c &
			for _ in $(seq 100); do [ -e "$2/cg.$c" ] && break; sleep 0.05; done
			echo $! > "$3-$c/cgroup.procs"	# after start-up: 1% of a CPU would take seconds
		done
		"$1" audit --port 18231 --sample 1 --json > "$2/cpu2p.json"
		"$1" audit --port 18232 --sample 1 --json > "$2/cpu2f.json"
		kill $(jobs -p)' _ "$Q" "$T" "$cgbase/qps-fx-$$"
	for _ in $(seq 100); do rmdir "$cgbase/qps-fx-$$-idle" "$cgbase/qps-fx-$$-spin" 2>/dev/null && break; sleep 0.05; done
	cpukey() { jq -r '[.checks[] | select(.id=="CPU-002")][0].key' "$1"; }
	assert "$T/cpu2p.json" CPU-002 "$(cpukey "$T/cpu2p.json")" pass "1000 100000|1000 100000" "throttled 0 of [0-9]+ periods over 1s" A
	assert "$T/cpu2f.json" CPU-002 "$(cpukey "$T/cpu2f.json")" fail "1000 100000|1000 100000" "throttled [1-9][0-9]* of [0-9]+ periods over 1s" B
else
	UNCOVERED[CPU-002]="no cgroup with the cpu controller to create a scratch group in"
fi

# ---- 8. irqbalance: IRQ-003 reports it (a process named irqbalance) / absent
# without one in a netns with no NIC IRQs
cp "$(command -v sleep)" "$T/irqbalance"
unshare -n "$Q" audit --json > "$T/irq3a.json"
"$T/irqbalance" 20 &
ip=$!
for _ in $(seq 100); do [ "$(cat /proc/$ip/comm 2>/dev/null)" = irqbalance ] && break; sleep 0.02; done
unshare -n "$Q" audit --json > "$T/irq3b.json"
kill $ip
if jq -e '.checks[] | select(.id=="IRQ-003")' "$T/irq3a.json" > /dev/null; then
	UNCOVERED[IRQ-003]="a real irqbalance runs on this host: the absent state cannot be built"
else
	pass "IRQ-003 absent without irqbalance or NIC IRQs"; SEEN_A[IRQ-003]=1
	assert "$T/irq3b.json" IRQ-003 irqbalance info running "irqbalance pid $ip" B
fi

# ---- 9. a systemd service's LimitNOFILE (FD-005, FD-007) and limits.conf
# lines that do not reach it (FD-006): a listener moved into a scratch cgroup
# named like a unit, the unit file in a --root tree
UNIT=qps-tune-fx-$$.service
CG=""
for base in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd /sys/fs/cgroup; do
	[ -e "$base/cgroup.procs" ] || continue
	case $base in /sys/fs/cgroup) [ "$(stat -fc %T $base)" = cgroup2fs ] || continue ;; esac
	mkdir "$base/$UNIT" 2>/dev/null && { CG=$base/$UNIT; CLEAN_CG="$CLEAN_CG $CG"; break; }
done
if [ -n "$CG" ]; then
	R9=$T/r9
	mkdir -p "$R9/usr/lib/systemd/system" "$R9/etc/security"
	unshare -n bash -c '
		ip link set lo up
		(ulimit -n 2048; exec python3 "$2/listen.py" 18241 16 "$2/ready.u") &
		for _ in $(seq 100); do [ -e "$2/ready.u" ] && break; sleep 0.05; done
		echo $! > "$3/cgroup.procs"
		u=$4 R=$2/r9
		printf "[Service]
LimitNOFILE=1024
" > "$R/usr/lib/systemd/system/$u"
		"$1" audit --port 18241 --root "$R" --json > "$2/u-fail.json"
		printf "[Service]
LimitNOFILE=65536
" > "$R/usr/lib/systemd/system/$u"
		printf "*	soft	nofile	65536
" > "$R/etc/security/limits.conf"
		"$1" audit --port 18241 --root "$R" --json > "$2/u-pass.json"
		printf "[Service]
LimitNOFILE=2048
" > "$R/usr/lib/systemd/system/$u"
		rm "$R/etc/security/limits.conf"
		"$1" audit --port 18241 --root "$R" --json > "$2/u-same.json"
		kill %1' _ "$Q" "$T" "$CG" "$UNIT"
	for _ in $(seq 100); do rmdir "$CG" 2>/dev/null && break; sleep 0.05; done
	assert "$T/u-pass.json" FD-005 "$UNIT" pass 65536 "$UNIT sets LimitNOFILE=65536; live soft=2048" A
	assert "$T/u-fail.json" FD-005 "$UNIT" fail 1024 "$UNIT sets LimitNOFILE=1024; live soft=2048" B
	assert "$T/u-pass.json" FD-007 "$UNIT" fail "live soft 2048" "LimitNOFILE=65536; /proc/[0-9]+/limits soft=2048" B
	assert "$T/u-fail.json" FD-007 "$UNIT" info "live soft 2048" "LimitNOFILE=1024; /proc/[0-9]+/limits soft=2048" A
	is "$(jq -r '[.checks[] | select(.id=="FD-007")] | length' "$T/u-same.json")" 0 \
		"FD-007 absent when the unit's LimitNOFILE is what the process has"
	assert "$T/u-pass.json" FD-006 "$UNIT" info /etc/security/limits.conf "limits.conf sets nofile; $UNIT \\(pid [0-9]+\\) runs under systemd" B
	is "$(jq -r '[.checks[] | select(.id=="FD-006")] | length' "$T/u-fail.json")" 0 "FD-006 absent without limits.conf nofile lines"
	SEEN_A[FD-006]=1
else
	for id in FD-005 FD-006 FD-007; do UNCOVERED[$id]="no cgroup hierarchy to create a scratch unit cgroup in"; done
fi

# ---- 10. report-only checks with one outcome: asserted against their source
if [ -r /proc/pressure/cpu ]; then
	assert "$T/env2a.json" CPU-003 "CPU pressure" info "some avg10=[0-9.]+%" "^/proc/pressure/cpu: some avg10=[0-9.]+ .*steal [0-9.]+% since boot" A
	SEEN_B[CPU-003]=1	# report-only: one outcome
else
	UNCOVERED[CPU-003]="no PSI (/proc/pressure/cpu) on this kernel"
fi

# ---- 11. kernel state the checks read from fixed sysfs/procfs paths, made up
# in a private mount namespace: a file the test wrote bind-mounted over the
# file the check reads, or a tmpfs over the directory it walks. The host's
# own view is never changed. State p: the values a check passes on; state f:
# the ones it fails (or, report-only, reports) on.
cat > "$T/kview.sh" <<'INNER'
set -u
Q=$1 T=$2
mount --make-rprivate /
cpu0=/sys/devices/system/cpu/cpu0
printf 'always madvise [never]\n' > "$T/thp"
mount --bind "$T/thp" /sys/kernel/mm/transparent_hugepage/enabled
mount -t tmpfs qps-fx "$cpu0"	# only cpufreq and cpuidle of cpu0 are read from here
mkdir -p "$cpu0/cpufreq" "$cpu0/cpuidle/state0" "$cpu0/cpuidle/state1"
echo performance > "$cpu0/cpufreq/scaling_governor"
printf 'POLL\n' > "$cpu0/cpuidle/state0/name"; echo 0 > "$cpu0/cpuidle/state0/latency"; echo 0 > "$cpu0/cpuidle/state0/disable"
printf 'C6\n' > "$cpu0/cpuidle/state1/name"; echo 133 > "$cpu0/cpuidle/state1/latency"; echo 1 > "$cpu0/cpuidle/state1/disable"
mount -t tmpfs qps-fx /sys/kernel/btf
: > /sys/kernel/btf/vmlinux
printf 'CONFIG_BPF_SYSCALL=y\nCONFIG_KPROBES=y\nCONFIG_KPROBE_EVENTS=y\nCONFIG_DEBUG_INFO_BTF=y\nCONFIG_FUNCTION_TRACER=y\nCONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=y\n' |
	gzip > "$T/config.gz"
if [ -e /proc/config.gz ]; then	# read first; else /boot/config-$(uname -r)
	mount --bind "$T/config.gz" /proc/config.gz
else
	mount -t tmpfs qps-fx /boot && zcat "$T/config.gz" > "/boot/config-$(uname -r)"
fi
mount -t tracefs nodev /sys/kernel/tracing
"$Q" audit --json > "$T/kv.p.json"
# PROBE-002: the same process without CAP_BPF and CAP_SYS_ADMIN (unprivileged bpf() is off)
capsh --drop=cap_bpf,cap_sys_admin,cap_perfmon -- -c '"$1" audit --json > "$2/kv.nobpf.json"' _ "$Q" "$T"
printf 'always [madvise] never\n' > "$T/thp"	# madvise passes too
"$Q" audit --json > "$T/kv.m.json"
printf '[always] madvise never\n' > "$T/thp"
echo powersave > "$cpu0/cpufreq/scaling_governor"
echo 0 > "$cpu0/cpuidle/state1/disable"
rm /sys/kernel/btf/vmlinux
printf 'CONFIG_BPF_SYSCALL=y\n# CONFIG_KPROBES is not set\nCONFIG_DEBUG_INFO_BTF=y\nCONFIG_FUNCTION_TRACER=y\n' | gzip > "$T/config.gz.new"
cat "$T/config.gz.new" > "$T/config.gz"; [ -e /proc/config.gz ] || zcat "$T/config.gz" > "/boot/config-$(uname -r)"
awk '$3 == "tracefs" { print $2 }' /proc/self/mounts | sort -r | xargs -r -n1 umount -l
"$Q" audit --json > "$T/kv.f.json"
INNER
unshare -m bash "$T/kview.sh" "$Q" "$T" 2> "$T/kview.err"
cfg=/proc/config.gz; [ -e /proc/config.gz ] || cfg=/boot/config-$(uname -r)
assert "$T/kv.p.json" MEM-001 transparent_hugepage pass "always madvise \\[never\\]" "^/sys/kernel/mm/transparent_hugepage/enabled: always madvise \\[never\\]$" A
assert "$T/kv.m.json" MEM-001 transparent_hugepage pass "always \\[madvise\\] never" "enabled: always \\[madvise\\] never$" A
assert "$T/kv.f.json" MEM-001 transparent_hugepage info "\\[always\\] madvise never" "^/sys/kernel/mm/transparent_hugepage/enabled: \\[always\\] madvise never$" B
assert "$T/kv.p.json" CPU-001 "cpufreq governor" pass performance "^/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor=performance$" A
assert "$T/kv.f.json" CPU-001 "cpufreq governor" info powersave "^/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor=powersave$" B
assert "$T/kv.p.json" CPU-005 C-states info "0 deep states enabled" "^cpu0 cpuidle: no enabled state with exit latency > 100 us$" A
assert "$T/kv.f.json" CPU-005 C-states info "1 deep state enabled" "^cpu0 cpuidle: state1 \\(C6, exit 133 us\\) enabled$" B
assert "$T/kv.p.json" PROBE-001 BTF pass present "^/sys/kernel/btf/vmlinux readable; CONFIG_DEBUG_INFO_BTF=y \\($cfg\\)$" A
assert "$T/kv.f.json" PROBE-001 BTF info absent "^/sys/kernel/btf/vmlinux missing; CONFIG_DEBUG_INFO_BTF=y \\($cfg\\)$" B
assert "$T/kv.p.json" PROBE-003 kprobes pass "CONFIG_KPROBES=y" "^CONFIG_KPROBES=y CONFIG_KPROBE_EVENTS=y \\($cfg\\)$" A
assert "$T/kv.f.json" PROBE-003 kprobes info "CONFIG_KPROBES=unset" "^CONFIG_KPROBES=unset CONFIG_KPROBE_EVENTS=unset \\($cfg\\)$" B
assert "$T/kv.p.json" PROBE-005 tracefs pass mounted "^/proc/self/mounts has a tracefs entry$" A
assert "$T/kv.f.json" PROBE-005 tracefs info "not mounted" "^/proc/self/mounts has no tracefs entry$" B
assert "$T/kv.p.json" PROBE-002 "bpf() syscall" pass works "^bpf\\(BPF_MAP_CREATE\\) succeeded; CONFIG_BPF_SYSCALL=y$" A
if [ "$(cat /proc/sys/kernel/unprivileged_bpf_disabled 2>/dev/null)" != 0 ]; then
	assert "$T/kv.nobpf.json" PROBE-002 "bpf() syscall" info denied "^bpf\\(BPF_MAP_CREATE\\) Operation not permitted; CONFIG_BPF_SYSCALL=y$" B
	# with bpf() denied the fentry test load is never tried: PROBE-004 must not pass on the config alone
	assert "$T/kv.nobpf.json" PROBE-004 fentry info "untested \\(bpf\\(\\) denied here\\)" "DIRECT_CALLS=y" B
else
	UNCOVERED[PROBE-002]="kernel.unprivileged_bpf_disabled=0 here: bpf() works without CAP_BPF, the denied state needs a host-wide change"
fi
# PROBE-004: config without ftrace direct calls says unavailable without trying;
# with all three options it tries a load, which this kernel may refuse
assert "$T/kv.f.json" PROBE-004 fentry info unavailable "^CONFIG_DEBUG_INFO_BTF=y CONFIG_FUNCTION_TRACER=y CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=unset \\($cfg\\)$" B
if [ "$(jq -r '.checks[] | select(.id=="PROBE-004") | .current' "$T/kv.p.json")" = available ]; then
	assert "$T/kv.p.json" PROBE-004 fentry pass available "^CONFIG_DEBUG_INFO_BTF=y CONFIG_FUNCTION_TRACER=y CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=y \\($cfg\\)$" A
else
	assert "$T/kv.p.json" PROBE-004 fentry info "refused \\(EPERM\\)" "DIRECT_CALLS=y \\($cfg\\); test load of an fentry program: Operation not permitted$" B
	UNCOVERED[PROBE-004]="pass needs a kernel that loads fentry programs; this one refuses them (EPERM, asserted above), and readiness.t checks the state against the acceptq probe"
fi

# ---- 12. NIC queue IRQs, NUMA placement, channels and drops: veths in a
# scratch netns made to look like NICs. An overlay on the device's sysfs dir
# (the real attributes read through, live) adds a 'device' link to a made-up
# PCI function; /proc/interrupts, /proc/irq and /sys/devices/system/node are
# files the test wrote, in a private mount namespace. Channels (ethtool
# netlink) and rx_dropped are the kernel's own: v1 keeps the default 1 of N
# queues (N = possible CPUs), w1 is created with all of its 2; frames of an
# unknown ethertype sent to v1 are dropped and counted by its stack.
if [ "$(nproc)" -ge 2 ]; then
	cat > "$T/nic.sh" <<'INNER'
set -u
Q=$1 T=$2
mount --make-rprivate /
mount -t sysfs none /sys
sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1	# no RS/MLD frames
ip link add v0 type veth peer name v1
ip link add w0 numtxqueues 2 numrxqueues 2 type veth peer name w1 numtxqueues 2 numrxqueues 2
for d in v0 v1 w0 w1; do ip link set "$d" up; done
for d in v1 w1; do
	mkdir -p "$T/pci/0000:00:0f.$d" "$T/up.$d" "$T/wk.$d"
	echo 0 > "$T/pci/0000:00:0f.$d/numa_node"
	ln -s "$T/pci/0000:00:0f.$d" "$T/up.$d/device"
	dir=$(readlink -f "/sys/class/net/$d")
	mount -t overlay qps-fx -o "lowerdir=$dir,upperdir=$T/up.$d,workdir=$T/wk.$d" "$dir"
done
ip -d -j link show v1 > "$T/nic.v1.ip"; ip -d -j link show w1 > "$T/nic.w1.ip"
ls -d /sys/class/net/v1/queues/rx-* | wc -l > "$T/nic.v1.rxq"
printf '           CPU0       CPU1\n 24:  0  0  PCI-MSI 1048576-edge      v1-TxRx-0\n 25:  0  0  PCI-MSI 1048577-edge      v1-TxRx-1\n 26:  0  0  PCI-MSI 1048578-edge      v1-config\n' > "$T/interrupts"
mount --bind "$T/interrupts" /proc/interrupts
mount -t tmpfs qps-fx /proc/irq
mount -t tmpfs qps-fx /sys/devices/system/node
echo 0-1 > /sys/devices/system/node/online
mkdir /proc/irq/24 /proc/irq/25 /sys/devices/system/node/node0 /sys/devices/system/node/node1
echo 0 > /sys/devices/system/node/node0/cpulist; echo 1 > /sys/devices/system/node/node1/cpulist
aff() { for i in 24 25; do echo "$1" > /proc/irq/$i/smp_affinity_list; done
	echo "$2" > /proc/irq/24/effective_affinity_list; echo "$3" > /proc/irq/25/effective_affinity_list; }
aff 0-1 0 0	# both on cpu 0, the NIC's node
"$Q" audit --json > "$T/nic.same.json"
aff 0-1 0 1	# spread, irq 25 on node 1
"$Q" audit --json > "$T/nic.spread.json"
"$Q" audit --sample 1 --json > "$T/nic.quiet.json"
cat /sys/class/net/v1/statistics/rx_dropped > "$T/nic.drop0"
python3 -c '
import socket, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(("v0", 0))
f = b"\x02" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + b"qps-fx" * 10	# local experimental ethertype
end = time.time() + 4
while time.time() < end:
    s.send(f); time.sleep(0.01)' &
sleep 0.3
"$Q" audit --sample 1 --json > "$T/nic.drop.json"
wait
cat /sys/class/net/v1/statistics/rx_dropped > "$T/nic.drop1"
INNER
	unshare -n -m bash "$T/nic.sh" "$Q" "$T" 2> "$T/nic.err"
	assert "$T/nic.same.json" IRQ-001 v1 fail "2 irqs" "^v1: irq 24 -> cpu 0, irq 25 -> cpu 0$" B
	assert "$T/nic.spread.json" IRQ-001 v1 pass "2 irqs" "^v1: irq 24 -> cpu 0, irq 25 -> cpu 1$" A
	assert "$T/nic.same.json" IRQ-002 v1 pass "0 of 2 irqs remote" "^v1 numa_node=0 \\(node cpus 0\\); irq 24 -> cpu 0, irq 25 -> cpu 0$" A
	assert "$T/nic.spread.json" IRQ-002 v1 fail "1 of 2 irqs remote" "^v1 numa_node=0 \\(node cpus 0\\); irq 24 -> cpu 0, irq 25 -> cpu 1$" B
	# channels: max from ip -d (num_rx_queues), current from the rx-N queues sysfs lists
	v1max=$(jq -r '.[0].num_rx_queues' "$T/nic.v1.ip") v1cur=$(cat "$T/nic.v1.rxq")
	w1max=$(jq -r '.[0].num_rx_queues' "$T/nic.w1.ip")
	if [ "$v1cur" -lt "$v1max" ]; then
		assert "$T/nic.same.json" PKT-004 "v1 channels" fail "$v1cur" "^ethtool netlink: v1 combined 0/0 rx $v1cur/$v1max tx [0-9]+/[0-9]+$" B
	else
		fail "PKT-004: v1 has all of its $v1max rx queues: a default veth should have 1"
	fi
	assert "$T/nic.same.json" PKT-004 "w1 channels" pass "$w1max" "^ethtool netlink: w1 combined 0/0 rx $w1max/$w1max tx 2/2$" A
	assert "$T/nic.quiet.json" PKT-003 "v1 rings" pass "(rx [0-9]+/[0-9]+)?" "^v1 rx_dropped \\+0 rx_missed_errors \\+0 over 1s; " A
	d0=$(cat "$T/nic.drop0") d1=$(cat "$T/nic.drop1")
	got=$(jq -r '.checks[] | select(.id=="PKT-003" and .key=="v1 rings") | .evidence' "$T/nic.drop.json" | sed -n 's/^v1 rx_dropped +\([0-9]*\) .*/\1/p')
	assert "$T/nic.drop.json" PKT-003 "v1 rings" fail "(rx [0-9]+/[0-9]+)?" "^v1 rx_dropped \\+[1-9][0-9]* rx_missed_errors \\+0 over 1s; " B
	ok "PKT-003 counted drops (+${got:-?}) within what v1's counter moved over the whole send ($d0 -> $d1)" \
		test "${got:-0}" -ge 1 -a "${got:-0}" -le "$((d1 - d0))"
else
	for id in IRQ-001 IRQ-002 PKT-003 PKT-004; do UNCOVERED[$id]="the fixtures spread IRQs and queues over 2 CPUs: this host has 1"; done
fi

# ---- every registered id: a fixture for both outcomes, or on the reviewed list
missing=""
while read -r id; do
	if [ -n "${UNCOVERED[$id]:-}" ]; then continue; fi
	[ -n "${SEEN_A[$id]:-}" ] && [ -n "${SEEN_B[$id]:-}" ] || missing="$missing $id"
done < "$T/ids"
is "$missing" "" "every registered id has a passing and a failing fixture, or a reviewed reason"
for id in "${!UNCOVERED[@]}"; do grep -qx "$id" "$T/ids" || fail "UNCOVERED lists $id, which the registry does not"; done
diag "$(( ntotal - ${#UNCOVERED[@]} )) of $ntotal ids have fixtures; ${#UNCOVERED[@]} on the reviewed uncovered list"
done_testing
