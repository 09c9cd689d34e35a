#!/usr/bin/env bash
# apply.t - apply judges what the kernel kept, dry-run refuses what the write
# would refuse, rules say what the kernel documents, messages are whole.
#   1. neigh.lo.retrans_time_ms is kept in jiffies (1001 ms -> 1004 ms at
#      HZ=250): ">= 1001" holds on 1004, so apply succeeds and records 1004;
#      "<= 1001" does not, so apply undoes the write and fails (read-back)
#   2. 'rps CPU' naming an offline CPU: dry-run fails like the write would
#   3. tcp_fastopen: a server needs bit 0x2 (ip-sysctl.rst), 1 is client-only
#   4. an error naming a long profile path is not cut
# All in scratch network namespaces; values read back from /proc/sys.
. "$(dirname "$0")/../lib.sh"
plan 14
is_root || skip_rest "needs root for unshare -n"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"

T=$(mktemp -d)
export QPS_TUNE_RUN_DIR=$T/run	# host-wide lock and journal registry of this test only
trap 'rm -rf "$T"' EXIT
rt=/proc/sys/net/ipv4/neigh/lo/retrans_time_ms

# 1. what the kernel keeps: the expected value comes from the kernel itself
kept=$(unshare -n sh -c "echo 1001 > $rt; cat $rt")
printf 'sysctl net.ipv4.neigh.lo.retrans_time_ms >= 1001\n' > "$T/ge.profile"
printf 'sysctl net.ipv4.neigh.lo.retrans_time_ms <= 1001\n' > "$T/le.profile"
unshare -n bash -c "
	echo 1000 > $rt
	'$QPS_TUNE' apply --profile '$T/ge.profile' --state-dir '$T/s1' > '$T/o1' 2> '$T/e1'; echo \$? > '$T/rc1'
	cat $rt > '$T/v1'
	cp '$T/s1/journal' '$T/j1'
	'$QPS_TUNE' audit --profile '$T/ge.profile' --json > '$T/a1.json'
	'$QPS_TUNE' apply --profile '$T/ge.profile' --state-dir '$T/s1' > '$T/o1b' 2>&1
	'$QPS_TUNE' rollback --state-dir '$T/s1' > /dev/null 2>&1; echo \$? > '$T/rc1r'
	cat $rt > '$T/v1r'
	echo 2000 > $rt
	'$QPS_TUNE' apply --profile '$T/le.profile' --state-dir '$T/s2' > '$T/o2' 2> '$T/e2'; echo \$? > '$T/rc2'
	cat $rt > '$T/v2'"
if [ "$kept" = 1001 ]; then
	for i in 1 2 3 4 5 6; do skip "this kernel keeps retrans_time_ms exactly (HZ=1000)" "retrans_time_ms rounding $i"; done
else
	is "$(cat "$T/rc1") $(cat "$T/v1")" "0 $kept" "'>= 1001' stored as $kept by the kernel: apply succeeds"
	like "$(cat "$T/j1")" $'\t=1000\t='"$kept"$'\tdone\t' "the journal records the value the kernel kept"
	is "$(jq -r '.checks[] | select(.key=="net.ipv4.neigh.lo.retrans_time_ms") | .status' "$T/a1.json")" pass \
		"audit agrees: the kept value satisfies the rule"
	like "$(cat "$T/o1b")" '^0 changed' "a second apply changes nothing"
	is "$(cat "$T/rc1r") $(cat "$T/v1r")" "0 1000" "rollback restores 1000"
	is "$(cat "$T/rc2") $(cat "$T/v2")" "1 2000" "'<= 1001' kept as $kept breaks the rule: apply fails and undoes it"
	like "$(cat "$T/e2")" "kernel kept '$kept', which does not satisfy the rule" \
		"and says what the kernel kept"
fi

# 2. a mask the write would refuse is refused by the dry run
cpu=$(( $(nproc) + 3 ))
printf 'inherit web-10k\nrps %s\n' "$cpu" > "$T/rps.profile"
unshare -n bash -c "
	ip link add v0 type veth peer name v1
	'$QPS_TUNE' apply --dry-run --profile '$T/rps.profile' --state-dir '$T/s3' > '$T/o3' 2> '$T/e3'; echo \$? > '$T/rc3'"
is "$(cat "$T/rc3")" 1 "dry-run with 'rps $cpu' on $(nproc) CPUs: exit 1"
like "$(cat "$T/e3")" "rps.profile:2: rps $cpu names CPU $cpu, which is not online" "the error names the CPU"

# 3. tcp_fastopen: 1 is client-only; apply adds the server bit and keeps the client's
unshare -n bash -c "
	echo 1 > /proc/sys/net/ipv4/tcp_fastopen
	'$QPS_TUNE' audit --profile latency --json > '$T/a4.json'
	'$QPS_TUNE' apply --profile latency --state-dir '$T/s4' > /dev/null 2>&1
	cat /proc/sys/net/ipv4/tcp_fastopen > '$T/v4'"
is "$(jq -r '.checks[] | select(.key=="net.ipv4.tcp_fastopen") | .status+" "+.current' "$T/a4.json")" "fail 1" \
	"tcp_fastopen=1 (client only) fails for a server"
is "$(( $(cat "$T/v4") & 3 ))" 3 "apply sets the server bit and keeps the client bit"

# ... and tcp_syncookies=2 is ip-sysctl.rst's test mode (cookies for every SYN): not a pass
unshare -n sh -c 'echo 2 > /proc/sys/net/ipv4/tcp_syncookies; "$1" audit --json' _ "$QPS_TUNE" > "$T/a5.json"
is "$(jq -r '.checks[] | select(.key=="net.ipv4.tcp_syncookies") | .status+" "+.current+" "+.target' "$T/a5.json")" \
	"fail 2 = 1" "tcp_syncookies=2 (always, a test mode) fails; the target is 1"

# 4. long paths in errors are whole
long=$T/$(printf 'd%.0s' $(seq 240))/$(printf 'e%.0s' $(seq 200))
mkdir -p "$long"
printf 'sysctl net.core.somaxconn >= lots\n' > "$long/bad.profile"
out=$(unshare -n "$QPS_TUNE" apply --profile "$long/bad.profile" --state-dir "$T/s5" 2>&1 >/dev/null)
like "$out" "^qps-tune: $long/bad.profile:1: net.core.somaxconn: malformed value 'lots'" \
	"an error naming a ${#long}-byte path keeps all of it"
out=$("$QPS_TUNE" --json audit --profile "$long/bad.profile" 2>/dev/null | jq -r .error)
like "$out" "$long/bad.profile:1: net.core.somaxconn: malformed value 'lots' \\(want a number" "and so does its JSON error"
done_testing
