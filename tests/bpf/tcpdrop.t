#!/usr/bin/env bash
# tcpdrop, each scenario in a scratch network namespace with --netns self (so
# other tests' drops elsewhere do not count); the witness is nstat's delta of
# the same namespace over the same window, which ends when the witness is read
# and the probe is stopped with SIGINT (a fixed --duration let a slow start,
# e.g. under ASan on a loaded CI host, end the probe before the helper's last
# retransmit round: 68 of 85 overflows):
#  1. 30 connects to a closed port -> drop reason NO_SOCKET (from the kernel's
#     BTF enum) == TcpOutRsts delta (one RST answers each SYN), resets_sent too
#  2. a TCP_DEFER_ACCEPT listener, 20 clients connected, its backlog then
#     shrunk to 2 and each client sends a byte: the children overflow the
#     accept queue on the ACK path only (the SYN-path overflow is no kfree_skb
#     drop, so no SYN may arrive while it is full) ->
#     TCP_LISTEN_OVERFLOW == TcpExtListenOverflows delta (Linux >= 6.15)
#  3. 8 bulk flows over a veth pair into a second scratch namespace, the
#     receiver's link down for 1 s mid-transfer, two CPU hogs competing ->
#     retransmitted segments == the sender namespace's TcpRetransSegs delta,
#     exactly, and no retransmit unseen (issue 11)
#  4. the backup programs count retransmit and drop calls the primary did
#     not see (BPF_PROG_TEST_RUN on the raw_tp twins)
#  5. a listener retransmitting its SYN-ACK (tcp_rtx_synack: another
#     tracepoint) -> retransmitted segments == TcpRetransSegs delta
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 20
need_bpf
export IH=$BUILD/tests/bpf/incident-helper HELPER TMPD=$TMP NSTAT_HISTORY=$TMP/nstat.hist PTR=$(cd "$(dirname "$0")" && pwd)/prog-test-run.py
# nstat_delta NAME: the counter's change since the last `nstat -n`
nstat_delta() { nstat -z "$1" | awk -v k="$1" '$1 == k { print $2 }'; }
export -f nstat_delta

unshare -n bash -c '
	ip link set lo up
	"$@" --netns self --json --duration 60 --stacks > "$TMPD/closed.json" 2> "$TMPD/closed.err" &
	p=$!
	for i in $(seq 200); do grep -q tracing "$TMPD/closed.err" && break; sleep 0.05; done
	nstat -n
	"$HELPER" connect 18999 30 1 > /dev/null
	nstat_delta TcpOutRsts > "$TMPD/closed.rsts"
	kill -INT $p
	wait $p; echo $? > "$TMPD/closed.rc"
' _ "${PROBE[@]}" tcpdrop 2> "$TMP/closed.nserr"
J=$TMP/closed.json
is "$(cat "$TMP/closed.rc")" 0 "probe tcpdrop exits 0" || diag "$(cat "$TMP/closed.err" "$TMP/closed.nserr")"
is "$(jq -r .schema "$J" 2>/dev/null)" "qps-tune.probe.tcpdrop/1" "one JSON document with the versioned schema"
rsts=$(cat "$TMP/closed.rsts")
diag "closed port: TcpOutRsts delta $rsts; reasons $(jq -c .drop_reasons "$J" 2>/dev/null)"
cmp_ok "${rsts:-0}" -ge 30 "30 connects to a closed port were answered by RSTs (nstat)"
is "$(jq -r '.drop_reasons.NO_SOCKET' "$J")" "$rsts" "NO_SOCKET drops == TcpOutRsts delta"
is "$(jq -r '.totals.resets_sent' "$J")" "$rsts" "resets sent == TcpOutRsts delta"
like "$(jq -r '[.drops[] | select(.reason == "NO_SOCKET")][0] | "\(.port) \(.location) \(.stack | join(";"))"' "$J")" \
	'^18999 tcp_v[46]_rcv\+0x[0-9a-f]+ .*tcp_v[46]_rcv' "drop place: port 18999, location and --stacks stack in tcp_v4_rcv"

unshare -n bash -c '
	ip link set lo up
	"$@" --netns self --port 18080 --json --duration 60 > "$TMPD/lq.json" 2> "$TMPD/lq.err" &
	p=$!
	for i in $(seq 200); do grep -q tracing "$TMPD/lq.err" && break; sleep 0.05; done
	nstat -n
	"$IH" overflow 18080 20 3 > /dev/null
	nstat_delta TcpExtListenOverflows > "$TMPD/lq.ovf"
	kill -INT $p
	wait $p
' _ "${PROBE[@]}" tcpdrop 2> "$TMP/lq.nserr"
J=$TMP/lq.json
ovf=$(cat "$TMP/lq.ovf")
diag "full accept queue: ListenOverflows delta $ovf; reasons $(jq -c .drop_reasons "$J" 2>/dev/null) unseen $(jq -c '.unseen | del(.cause)' "$J" 2>/dev/null) lost $(jq -c .lost "$J" 2>/dev/null)"
if bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null | grep -q "'SKB_DROP_REASON_TCP_LISTEN_OVERFLOW'"; then
	cmp_ok "${ovf:-0}" -gt 0 "the accept queue overflowed (nstat)"
	# (drops that hit the tracepoint but never reached the programs are
	# reported as not delivered: tests/bpf/tcpdrop-witness.t)
	is "$(( $(jq -r '.drop_reasons.TCP_LISTEN_OVERFLOW' "$J") + $(jq -r '.unseen.drops_not_delivered' "$J") ))" "$ovf" \
		"TCP_LISTEN_OVERFLOW drops + drops not delivered == TcpExtListenOverflows delta"
else
	skip "kernel has no SKB_DROP_REASON_TCP_LISTEN_OVERFLOW (Linux < 6.15)" "overflow"
	skip "kernel has no SKB_DROP_REASON_TCP_LISTEN_OVERFLOW (Linux < 6.15)" "TCP_LISTEN_OVERFLOW"
fi

# sender namespace (the probe's) -- veth -- receiver namespace (a child's):
# 8 bulk flows while two CPU hogs compete, so that retransmits happen both in
# task context (a socket's backlog run by release_sock) and in softirqs that
# can interrupt it: the nested call the kernel skips for a busy program
unshare -n bash -c '
	ip link set lo up
	unshare -n sleep 40 & nb=$!
	for i in $(seq 50); do [ "$(readlink /proc/$nb/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.05; done
	ip link add qa type veth peer name qb netns $nb || exit 1
	ip addr add 10.211.77.1/30 dev qa && ip link set qa up
	nsenter -t $nb -n sh -c "ip link set lo up; ip addr add 10.211.77.2/30 dev qb; ip link set qb up"
	for f in $(seq 0 7); do nsenter -t $nb -n "$IH" sink 10.211.77.2 $((18777 + f)) 10 > "$TMPD/sink$f.out" & done
	for f in $(seq 0 7); do for i in $(seq 100); do grep -q ready "$TMPD/sink$f.out" && break; sleep 0.05; done; done
	"$@" --netns self --json --duration 40 > "$TMPD/rt.json" 2> "$TMPD/rt.err" &
	p=$!
	for i in $(seq 200); do grep -q tracing "$TMPD/rt.err" && break; sleep 0.05; done
	nstat -n
	timeout 8 yes > /dev/null & h1=$!
	timeout 8 yes > /dev/null & h2=$!
	for f in $(seq 0 7); do "$IH" bulk 10.211.77.2 $((18777 + f)) 4 > "$TMPD/bulk$f.out" & done
	sleep 1.5
	nsenter -t $nb -n ip link set qb down
	sleep 1
	nsenter -t $nb -n ip link set qb up
	sleep 2.7
	kill $h1 $h2 2> /dev/null
	wait $h1 $h2
	# the closed sockets may still send (and retransmit) what they had queued:
	# read the counter once they are gone, then stop the probe (SIGINT: final report)
	for i in $(seq 150); do ss -Htn "dport >= :18777 and dport <= :18784" | grep -q . || break; sleep 0.1; done
	nstat -z TcpRetransSegs TcpExtTCPRetransFail TcpExtTCPSpuriousRtxHostQueues > "$TMPD/rt.nstat"
	kill -INT $p
	wait $p; echo $? > "$TMPD/rt.rc"
	kill $nb
' _ "${PROBE[@]}" tcpdrop 2> "$TMP/rt.nserr"
J=$TMP/rt.json
segs=$(awk '$1 == "TcpRetransSegs" { print $2 }' "$TMP/rt.nstat")
diag "link down 1 s, 8 flows, 2 hogs: nstat $(awk 'NR > 1 { printf "%s %s ", $1, $2 }' "$TMP/rt.nstat")"
diag "probe $(jq -c .totals "$J" 2>/dev/null) unseen $(jq -c '.unseen | del(.cause)' "$J" 2>/dev/null) lost $(jq -c .lost "$J" 2>/dev/null)"
diag "by error: $(jq -c '[.retransmits | group_by(.error)[] | {error: .[0].error, count: (map(.count) | add), segments: (map(.segments) | add)}]' "$J" 2>/dev/null)"
is "$(cat "$TMP/rt.rc")" 0 "retransmit scenario: probe exits 0" || diag "$(cat "$TMP/rt.err" "$TMP/rt.nserr")"
cmp_ok "${segs:-0}" -gt 0 "the link outage caused retransmits (nstat)"
# exact: a retransmit whose call the kernel skipped (the program already
# running on that CPU) is counted by the backup program (issue 11: the probe
# fell short under load, 622 of 667)
is "$(jq -r '.totals.retransmitted_segments' "$J")" "$segs" "retransmitted segments == the TcpRetransSegs delta"
is "$(jq -r '"\(.unseen.retransmit_backup) \(.unseen.retransmits)"' "$J")" "true 0" "the backup program ran; no retransmit unseen"
like "$(jq -c '[.retransmits[] | select(.remote == "10.211.77.2:18777")][0]' "$J")" '"state":"ESTABLISHED"' "retransmits name the remote 10.211.77.2:18777, ESTABLISHED"

# The backups count a call the primary did not see. A nested call cannot be
# made on demand, so the raw_tp twins (QPS_PROBE_NO_TP_BTF=1) are run with
# BPF_PROG_TEST_RUN: each backup alone on 2 events (the primary "skipped"),
# the primary alone on 1. The events carry no readable socket or packet
# (netns 0, no protocol: --all-protocols keeps such drops), so they form
# their own rows; the drops' fake location 0x51 names them.
unshare -n bash -c '
	before=$(bpftool -j prog show | jq "[.[].id] | max // 0")
	QPS_PROBE_NO_TP_BTF=1 "$@" --all-protocols --json --duration 60 > "$TMPD/tr.json" 2> "$TMPD/tr.err" &
	p=$!
	for i in $(seq 200); do grep -q tracing "$TMPD/tr.err" && break; sleep 0.05; done
	id_of() { bpftool -j prog show | jq -r --argjson b "$before" --arg n "$1" "[.[] | select(.id > \$b and .name == \$n) | .id] | last // empty"; }
	python3 "$PTR" "$(id_of td_rtx2_raw):0x1000,0x2000,0" "$(id_of td_rtx2_raw):0x1001,0x2001,0" \
		"$(id_of td_retrans_raw):0x1002,0x2002,0" \
		"$(id_of td_drop2_raw):0x3000,0x51,2,0" "$(id_of td_drop2_raw):0x3001,0x51,2,0" \
		"$(id_of td_drop_raw):0x3002,0x51,2,0" > "$TMPD/tr.out" 2>&1
	kill -INT $p
	wait $p
' _ "${PROBE[@]}" tcpdrop 2> "$TMP/tr.nserr"
J=$TMP/tr.json
diag "test runs: $(cat "$TMP/tr.out" 2> /dev/null) unseen $(jq -c '.unseen | del(.cause)' "$J" 2> /dev/null)"
is "$(jq -r '[.retransmits[] | select(.netns == 0) | .count] | add' "$J" 2> /dev/null)" 3 \
	"3 retransmit calls, 2 seen only by the backup: counted 3 times" || diag "$(cat "$TMP/tr.err" "$TMP/tr.nserr" "$TMP/tr.out" 2> /dev/null)"
cmp_ok "$(jq -r '.unseen.retransmits_caught_by_backup' "$J" 2> /dev/null)" -ge 2 "the backup reports the 2 calls it caught"
# drops nested in the drop program are skipped so too (a timer softirq
# interrupting a close that purges a queue)
is "$(jq -r '[.drops[] | select(.location == "0x51") | .count] | add' "$J" 2> /dev/null)" 3 \
	"3 drop calls, 2 seen only by the drop backup: counted 3 times" || diag "$(jq -c .drops "$J" 2> /dev/null)"
cmp_ok "$(jq -r '.unseen.drops_caught_by_backup' "$J" 2> /dev/null)" -ge 2 "the drop backup reports the 2 calls it caught"
# SYN-ACK retransmits are in TcpRetransSegs too, through another path
# (tcp_rtx_synack, tracepoint tcp_retransmit_synack): a SYN from an address
# that never answers (a raw packet from 10.99.0.9, routed out of a veth whose
# peer has no address) leaves the listener retransmitting its SYN-ACK
unshare -n bash -c '
	ip link set lo up
	ip link add va type veth peer name vb || exit 1
	ip link set va up && ip link set vb up && ip addr add 10.98.0.1/24 dev va && ip route add 10.99.0.0/24 dev va
	"$IH" sink 10.98.0.1 18790 6 > "$TMPD/ssink.out" & l=$!
	for i in $(seq 100); do grep -q ready "$TMPD/ssink.out" && break; sleep 0.05; done
	"$@" --netns self --json --duration 30 > "$TMPD/sa.json" 2> "$TMPD/sa.err" &
	p=$!
	for i in $(seq 200); do grep -q tracing "$TMPD/sa.err" && break; sleep 0.05; done
	nstat -n
	python3 - <<"PY"
import socket, struct
src, dst, sport, dport = "10.99.0.9", "10.98.0.1", 40000, 18790
def csum(b):
	s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
	s = (s >> 16) + (s & 0xffff)
	return ~(s + (s >> 16)) & 0xffff
tcp = struct.pack("!HHIIBBHHH", sport, dport, 12345, 0, 5 << 4, 0x02, 65535, 0, 0)	# SYN
pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, socket.inet_aton(src), socket.inet_aton(dst))
socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW).sendto(ip + tcp, (dst, 0))
PY
	sleep 3.6	# SYN-ACK retransmits after 1 s and 3 s
	# the listener closed drops the request: nothing is pending when the
	# counter is read and the probe stopped
	kill $l
	wait $l
	sleep 0.2
	nstat -z TcpRetransSegs TcpExtTCPSynRetrans > "$TMPD/sa.nstat"
	kill -INT $p
	wait $p
' _ "${PROBE[@]}" tcpdrop 2> "$TMP/sa.nserr"
J=$TMP/sa.json
sa=$(awk '$1 == "TcpRetransSegs" { print $2 }' "$TMP/sa.nstat" 2> /dev/null)
diag "SYN-ACK: nstat $(awk 'NR > 1 { printf "%s %s ", $1, $2 }' "$TMP/sa.nstat" 2> /dev/null); probe $(jq -c '.totals' "$J" 2> /dev/null)"
cmp_ok "${sa:-0}" -gt 0 "the listener retransmitted its SYN-ACK (nstat)"
# a SYN-ACK retransmit the kernel never handed to the program (one in a CI
# run: nstat 2, probe 1, no recursion miss) is reported as not delivered
nd=$(jq -r '.unseen.retransmits_not_delivered' "$J" 2> /dev/null)
is "$(jq -r --argjson nd "${nd:-0}" '"\(.totals.retransmitted_segments + $nd) \([.retransmits[] | select(.remote == "10.99.0.9:40000" and .state == "NEW_SYN_RECV") | .segments] | add + $nd)"' "$J" 2> /dev/null)" \
	"$sa $sa" "SYN-ACK retransmits (+ not delivered) == the TcpRetransSegs delta, by remote 10.99.0.9:40000, NEW_SYN_RECV" || diag "$(cat "$TMP/sa.err" "$TMP/sa.nserr" 2> /dev/null)"
"${PROBE[@]}" tcpdrop --netns /nonexistent --duration 1 > /dev/null 2>&1
is "$?" 1 "--netns of a missing file fails with exit 1"
done_testing
