#!/usr/bin/env bash
# tcpdrop --cgroup: the sockets of a cgroup v2 and those below it, filtered
# in BPF by the socket's cgroup (before: the option was taken and ignored -
# every socket of the host was reported). In one scratch network namespace:
#  - helper A, moved into PARENT/child before it makes its sockets, and
#    helper B, left outside, each overflow their own listener's accept queue
#    (A on 18081, B on 18082) while their clients retransmit the byte the
#    full queue refused; 10 connects to a closed port make NO_SOCKET drops
#  - tcpdrop --cgroup PARENT and an unfiltered tcpdrop watch the same window
# The unfiltered run is checked against nstat (ListenOverflows, with the
# drops the probe reports as not delivered); the
# filtered run must equal its port-18081 part exactly, with nothing of B's
# and no drop that no socket took.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 10
need_bpf
scratch_cgroup qps-tcpdrop-test
export IH=$BUILD/tests/bpf/incident-helper HELPER TMPD=$TMP CG=$cg NSTAT_HISTORY=$TMP/nstat.hist

unshare -n bash -c '
	ip link set lo up
	"$@" --netns self --cgroup "$CG" --json --duration 60 > "$TMPD/f.json" 2> "$TMPD/f.err" &
	pf=$!
	"$@" --netns self --json --duration 60 > "$TMPD/u.json" 2> "$TMPD/u.err" &
	pu=$!
	for i in $(seq 200); do grep -q tracing "$TMPD/f.err" && grep -q tracing "$TMPD/u.err" && break; sleep 0.05; done
	nstat -n
	sh -c "echo \$\$ > $CG/child/cgroup.procs && exec \"$IH\" overflow 18081 20 2.5" > "$TMPD/a.out" &
	a=$!
	"$IH" overflow 18082 20 2.5 > "$TMPD/b.out" &
	b=$!
	"$HELPER" connect 18999 10 1 > /dev/null
	for i in $(seq 100); do grep -q ready "$TMPD/a.out" && break; sleep 0.05; done
	grep "^0::" /proc/$a/cgroup | cut -d: -f3 > "$TMPD/a.cg"
	wait $a $b
	nstat > "$TMPD/nstat.delta"
	awk "\$1 == \"TcpExtListenOverflows\" { n = \$2 } END { print n + 0 }" "$TMPD/nstat.delta" > "$TMPD/ovf"
	kill -INT $pf $pu
	wait $pf; echo $? > "$TMPD/f.rc"
	wait $pu; echo $? > "$TMPD/u.rc"
' _ "${PROBE[@]}" tcpdrop 2> "$TMP/ns.err"
F=$TMP/f.json U=$TMP/u.json
ovf=$(cat "$TMP/ovf" 2>/dev/null)
is "$(cat "$TMP/f.rc" 2>/dev/null):$(cat "$TMP/u.rc" 2>/dev/null)" "0:0" "both probes exit 0" || diag "$(cat "$TMP/f.err" "$TMP/u.err" "$TMP/ns.err")"
is "$(cat "$TMP/a.cg")" "${cg#$root}/child" "helper A ran in the scratch cgroup's child (/proc/PID/cgroup)"
# per port: the drops' local port; retransmits: the clients' remote port
ovf_at() { jq -r --argjson p "$2" '[.drops[] | select(.reason == "TCP_LISTEN_OVERFLOW" and .port == $p) | .count] | add // 0' "$1" 2>/dev/null; }
rtx_to() { jq -r --arg r "127.0.0.1:$2" '[.retransmits[] | select(.remote == $r) | .count] | add // 0' "$1" 2>/dev/null; }
ua=$(ovf_at "$U" 18081) ub=$(ovf_at "$U" 18082)
diag "nstat ListenOverflows $ovf; unfiltered: 18081 $ua, 18082 $ub, retransmits to 18081 $(rtx_to "$U" 18081), to 18082 $(rtx_to "$U" 18082); NO_SOCKET $(jq -r '.drop_reasons.NO_SOCKET' "$U" 2>/dev/null)"
diag "--cgroup: $(jq -c '[.drop_reasons, .totals]' "$F" 2>/dev/null)"
# a softirq's drops that never reached the programs (perf counted them:
# tests/bpf/tcpdrop-witness.t) are reported as not delivered: one round of
# 17 was lost that way about once in 100 runs
nd=$(jq -r '.unseen.drops_not_delivered' "$U" 2>/dev/null)
is "$((ua + ub + ${nd:-0}))" "$ovf" "unfiltered: overflows on both listeners + drops not delivered == the ListenOverflows delta" || {
	diag "unfiltered: $(jq -c '[.drop_reasons, .totals, .unseen, .lost]' "$U" 2>/dev/null)"
	diag "unfiltered drops: $(jq -c '[.drops[] | [.reason, .port, .count]]' "$U" 2>/dev/null)"
	diag "nstat deltas: $(tr -s ' ' < "$TMP/nstat.delta" | tr '\n' ';')"
	diag "$(cat "$TMP/u.err")"
}
cmp_ok "$ub" -gt 0 "unfiltered: helper B's listener overflowed too"
is "$(ovf_at "$F" 18081)" "$ua" "--cgroup: helper A's overflows, all of them" 
cmp_ok "$ua" -gt 0 "(helper A's listener overflowed)"
is "$(jq -r '[.drops[] | select(.port != 18081)] | length' "$F" 2>/dev/null)" 0 \
	"--cgroup: no drop outside helper A's sockets (none of B's, no NO_SOCKET)"
is "$(rtx_to "$F" 18081):$(jq -r '[.retransmits[] | select(.remote != "127.0.0.1:18081")] | length' "$F" 2>/dev/null)" "$(rtx_to "$U" 18081):0" \
	"--cgroup: the retransmits of helper A's clients, none of B's"
is "$(jq -r '.filter.given' "$F" 2>/dev/null | grep -c -- "--cgroup $cg")" 1 "the report names the --cgroup filter"
"${PROBE[@]}" tcpdrop --cgroup /proc --duration 0.1 > /dev/null 2> "$TMP/bad.err"
is "$?" 1 "--cgroup of a directory that is no cgroup is refused" || diag "$(cat "$TMP/bad.err")"
