#!/usr/bin/env bash
# acceptq: a listener with backlog 4 that never accepts, in a fresh network
# namespace each time (so nothing else moves its counters):
#  1. 200 connects: SYNs refused on a full queue -> the report names the port,
#     limit 4, queue full, and drops equal to the ListenOverflows delta.
#  2. TCP_DEFER_ACCEPT and 50 connects that then send a byte: the children are
#     created when the data arrives, so the queue overflows on the "ACK path"
#     (kfree_skb reason TCP_LISTEN_OVERFLOW, Linux >= 6.15) -> ack_drops > 0,
#     listen_drops == ListenOverflows delta, drops == listen_drops + the
#     kfree_skb drops on the listener (each of those is also in sk_drops).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 20
need_bpf

export TMPD=$TMP HELPER PORT=18080
# scenario NAME LISTEN_ARG CONNECT_ARGS...: results in $TMP/NAME.*
scenario() {
	local name=$1 larg=$2
	shift 2
	unshare -n bash -c '
		name=$1 larg=$2 cargs=$3; shift 3
		ip link set lo up
		"$HELPER" listen "$PORT" 4 30 $larg > "$TMPD/$name.listen" &
		lpid=$!
		for i in $(seq 100); do grep -q ready "$TMPD/$name.listen" && break; sleep 0.05; done
		"$@" --json --duration 4 > "$TMPD/$name.json" 2> "$TMPD/$name.err" &
		ppid=$!
		for i in $(seq 200); do grep -q tracing "$TMPD/$name.err" && break; sleep 0.05; done
		tcpext ListenOverflows > "$TMPD/$name.before"
		"$HELPER" connect "$PORT" $cargs > /dev/null
		# read after the probe ends: closing clients can still hit the listener
		wait $ppid; echo $? > "$TMPD/$name.rc"
		tcpext ListenOverflows > "$TMPD/$name.after"
		ss -Htlnm "sport = :$PORT" > "$TMPD/$name.ss"
		kill $lpid
	' _ "$name" "$larg" "$*" "${PROBE[@]}" acceptq 2>"$TMP/$name.nserr"
}

scenario syn "" 200 2
is "$(cat "$TMP/syn.rc" 2>/dev/null)" 0 "probe acceptq exits 0" || diag "$(cat "$TMP/syn.err" "$TMP/syn.nserr")"
J=$TMP/syn.json
is "$(jq -r .schema "$J" 2>/dev/null)" "qps-tune.probe.acceptq/1" "one JSON document with the versioned schema"
L=$(jq -c ".listeners[] | select(.port == $PORT)" "$J" 2>/dev/null)
like "$L" '"listener":"127\.0\.0\.1:18080"' "report names the listener 127.0.0.1:$PORT"
like "$L" '"comm":"probe-helper"' "report names the owner"
is "$(jq -r .backlog <<<"${L:-null}")" 4 "granted backlog limit is 4"
is "$(jq -r '.full_now and .was_full and .full_events > 0 and .peak == 5' <<<"${L:-null}")" true "queue seen full (peak 5 = limit + 1, full now)"
delta=$(( $(cat "$TMP/syn.after") - $(cat "$TMP/syn.before") ))
diag "SYN path: ListenOverflows delta $delta; ss: $(tr -s ' \t\n' ' ' < "$TMP/syn.ss")"
cmp_ok "$delta" -gt 0 "the 200 connects overflowed the queue"
is "$(jq -r .drops <<<"${L:-null}")" "$delta" "listener drops == ListenOverflows delta of the netns"
is "$(jq -r .listen_drops <<<"${L:-null}")" "$delta" "listener listen_drops == ListenOverflows delta"
is "$(jq -r .netns_counters.ListenOverflows "$J")" "$delta" "reported netns ListenOverflows delta == independent reading"
is "$(jq -r '.drops_exact' <<<"${L:-null}")" true "drops marked exact"

scenario ack defer 50 1 send
J=$TMP/ack.json
L=$(jq -c ".listeners[] | select(.port == $PORT)" "$J" 2>/dev/null)
delta=$(( $(cat "$TMP/ack.after") - $(cat "$TMP/ack.before") ))
diag "ACK path: ListenOverflows delta $delta; $(jq -c '{drops, listen_drops, ack_drops, other_kfree_drops}' <<<"${L:-null}") reasons $(jq -c .drop_reasons "$J" 2>/dev/null)"
is "$(cat "$TMP/ack.rc" 2>/dev/null)" 0 "ACK path: probe exits 0" || diag "$(cat "$TMP/ack.err" "$TMP/ack.nserr")"
if jq -e '.method.ack_overflow | startswith("not traced")' "$J" >/dev/null 2>&1; then
	for t in "ack_drops > 0" "reasons" "listen_drops" "drops sum" "peak"; do
		skip "kernel has no SKB_DROP_REASON_TCP_LISTEN_OVERFLOW (Linux < 6.15)" "ACK path: $t"
	done
else
	cmp_ok "$(jq -r '.ack_drops // 0' <<<"${L:-null}")" -gt 0 "ACK path: overflows seen by kfree_skb (ack_drops > 0)"
	is "$(jq -r '.drop_reasons.TCP_LISTEN_OVERFLOW' "$J")" "$(jq -r .ack_drops <<<"${L:-null}")" "ACK path: drop_reasons.TCP_LISTEN_OVERFLOW == ack_drops"
	# kfree_skb drops the kernel never handed to the program (perf counted
	# them: tests/bpf/tcpdrop-witness.t) are missing from ack_drops, so
	# listen_drops (sk_drops less the kfree_skb drops) is over by as many
	nd=$(jq -r '.unseen.kfree_skb_not_delivered' "$J" 2>/dev/null)
	is "$(( $(jq -r .listen_drops <<<"${L:-null}") - ${nd:-0} ))" "$delta" \
		"ACK path: listen_drops - kfree_skb drops not delivered == ListenOverflows delta ($delta)"
	is "$(jq -r '.drops == .listen_drops + .ack_drops + .other_kfree_drops' <<<"${L:-null}")" true \
		"ACK path: drops == listen_drops + kfree_skb drops on the listener"
	is "$(jq -r '.peak' <<<"${L:-null}")" 5 "ACK path: peak 5"
fi
# what the kernel did not run the programs for is reported (before: no word
# of it), and what the kfree_skb program missed its backup counts
is "$(jq -r '.unseen | "\(.enqueues) \(.kfree_skb_drops) \(.syn_path_calls)"' "$J" 2>/dev/null)" "0 0 0" \
	"ACK path: unseen{} reported, nothing unseen"
is "$(jq -r '.unseen.witness' "$J" 2>/dev/null)" "perf counters of skb:kfree_skb" \
	"ACK path: the kfree_skb program has a witness (perf), so calls that never reach it are reported"
# the backup, run with BPF_PROG_TEST_RUN (a nested call cannot be made on
# demand): 2 calls given only to it are reported as caught
PTR=$(cd "$(dirname "$0")" && pwd)/prog-test-run.py
before=$(bpftool -j prog show | jq "[.[].id] | max // 0")
QPS_PROBE_NO_TP_BTF=1 "${PROBE[@]}" acceptq --json --duration 60 > "$TMP/tr.json" 2> "$TMP/tr.err" &
p=$!
wait_for "$TMP/tr.err" tracing 10
id_of() { bpftool -j prog show | jq -r --argjson b "$before" --arg n "$1" '[.[] | select(.id > $b and .name == $n) | .id] | last // empty'; }
python3 "$PTR" "$(id_of aq_kfree2_raw):0x3000,0x51,2,0" "$(id_of aq_kfree2_raw):0x3001,0x51,2,0" \
	"$(id_of aq_kfree_skb_raw):0x3002,0x51,2,0" > "$TMP/tr.out" 2>&1
kill -INT $p; wait $p
is "$(cat "$TMP/tr.out"):$(jq -r '.unseen.kfree_skb_caught_by_backup' "$TMP/tr.json" 2>/dev/null)" "ran 3:2" \
	"kfree_skb backup: 2 calls the primary did not see are counted as caught" || diag "$(cat "$TMP/tr.err")"
done_testing
