# probe-lib.sh - shared by tests/bpf/*.t (source after tests/lib.sh).
# PROBE: how to run `qps-tune probe`; the test driver when qps-tune is not built.
HELPER=$BUILD/tests/bpf/probe-helper
if [ -x "$QPS_TUNE" ]; then
	PROBE=("$QPS_TUNE" probe)
else
	PROBE=("$BUILD/tests/bpf/qps-probe")
fi
TMP=$(mktemp -d /tmp/qps-probe-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# need_bpf: skips everything (a failure under CI=true) without root or BTF
need_bpf() {
	is_root || skip_rest "needs root (CAP_BPF, CAP_PERFMON) to load BPF programs"
	[ -r /sys/kernel/btf/vmlinux ] || skip_rest "kernel has no BTF (/sys/kernel/btf/vmlinux)"
	[ -x "$HELPER" ] && [ -x "${PROBE[0]}" ] || skip_rest "not built: run make test-bpf"
}

# wait_for FILE REGEX [SECS]: until FILE has a line matching REGEX
wait_for() {
	local i
	for ((i = 0; i < ${3:-10} * 20; i++)); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# bpf_ids prog|link: sorted ids of the loaded BPF programs or links
bpf_ids() { bpftool -j "$1" show 2>/dev/null | jq -r '.[].id' | sort -n; }

# tcpext NAME: a TcpExt counter of the current network namespace
# (/proc/net/netstat); exported, so `unshare -n bash -c '...'` bodies see it
tcpext() {
	awk -v k="$1" '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == k) c = i; h = 1 } else print $c }' /proc/net/netstat
}
export -f tcpext

# scratch_cgroup NAME: a scratch cgroup v2 $cg (with a child, $cg/child) under
# the hierarchy's $root, its tasks moved back and both removed at exit;
# skips the rest without a writable cgroup v2 hierarchy
scratch_cgroup() {
	root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
	[ -n "$root" ] || skip_rest "no cgroup v2 hierarchy mounted"
	cg=$root/$1-$$
	mkdir -p "$cg/child" || skip_rest "cannot create a cgroup under '$root' (read-only cgroupfs)"
	trap scratch_cgroup_cleanup EXIT
}
scratch_cgroup_cleanup() {
	for f in "$cg/child/cgroup.procs" "$cg/cgroup.procs"; do
		while read -r p; do echo "$p" > "$root/cgroup.procs"; done < "$f" 2>/dev/null
	done
	rmdir "$cg/child" "$cg" 2>/dev/null
	rm -rf "$TMP"
}
