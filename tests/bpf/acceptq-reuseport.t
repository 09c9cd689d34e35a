#!/usr/bin/env bash
# acceptq with two SO_REUSEPORT listeners (backlog 4, each accepting one
# connection every 20 ms) in a fresh network namespace, and a burst of 400
# connects that each send a byte: SYNs are refused on full queues, some get
# syncookies whose ACKs then find the accept queue full (refused in
# cookie_v4_check: a listen drop counted once in sk_drops, and a kfree_skb
# NO_SOCKET drop that sk_drops does not count a second time).
# The per-listener listen_drops plus unattributed_listen_drops must add up to
# the namespace's TcpExt ListenDrops delta, read independently; with both
# listeners alive to the end, the remainder is 0.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 9
need_bpf

export TMPD=$TMP HELPER PORT=18081
unshare -n bash -c '
	ip link set lo up
	"$HELPER" reuseport "$PORT" 4 12 > "$TMPD/listen" &
	lpid=$!
	for i in $(seq 100); do grep -q ready "$TMPD/listen" && break; sleep 0.05; done
	"$@" --json --duration 5 > "$TMPD/out.json" 2> "$TMPD/err" &
	ppid=$!
	for i in $(seq 200); do grep -q tracing "$TMPD/err" && break; sleep 0.05; done
	tcpext ListenDrops > "$TMPD/before"
	# clients hold 1 s, then close: all is quiet well before the probe ends
	"$HELPER" connect "$PORT" 400 1 send > /dev/null
	wait $ppid; echo $? > "$TMPD/rc"
	tcpext ListenDrops > "$TMPD/after"
	kill $lpid
' _ "${PROBE[@]}" acceptq 2>"$TMP/nserr"

J=$TMP/out.json
is "$(cat "$TMP/rc" 2>/dev/null)" 0 "probe acceptq exits 0" || diag "$(cat "$TMP/err" "$TMP/nserr")"
is "$(jq "[.listeners[] | select(.port == $PORT and (.closed | not))] | length" "$J" 2>/dev/null)" 2 \
	"both reuseport listeners are reported"
delta=$(( $(cat "$TMP/after") - $(cat "$TMP/before") ))
sum=$(jq "[.listeners[] | select(.port == $PORT) | .listen_drops] | add" "$J" 2>/dev/null)
unattr=$(jq -r .unattributed_listen_drops "$J" 2>/dev/null)
diag "ListenDrops delta $delta; listeners $(jq -c "[.listeners[] | {drops, listen_drops, ack_drops, other_kfree_drops}]" "$J" 2>/dev/null); unattributed $unattr; sites $(jq -c .drop_sites "$J" 2>/dev/null)"
cmp_ok "$delta" -gt 0 "the burst overflowed the queues"
is "$(jq -r .netns_counters.ListenDrops "$J" 2>/dev/null)" "$delta" "reported netns ListenDrops delta == independent reading"
num() { [[ $1 =~ ^-?[0-9]+$ ]] && echo "$1" || echo 0; }	# null (an older probe) -> 0
is "$(num "$sum")" "$delta" "sum of the listeners' listen_drops == ListenDrops delta read by the test ($delta)"
is "$unattr" 0 "nothing unattributed: both listeners alive, traffic over before the report"
is "$(jq -r '[.listeners[] | select(.port == '"$PORT"') | .listen_drops_exact] | all' "$J" 2>/dev/null)" true "listen_drops marked exact"
if jq -e '.method.ack_overflow | startswith("not traced")' "$J" >/dev/null 2>&1; then
	for t in "drops outside sk_drops seen" "drops outside sk_drops not subtracted"; do
		skip "kernel has no SKB_DROP_REASON_TCP_LISTEN_OVERFLOW (Linux < 6.15)" "$t"
	done
else
	out=$(jq '[.drop_sites[] | select(.in_sk_drops | not) | .count] | add // 0' "$J" 2>/dev/null)
	cmp_ok "${out:-0}" -gt 0 "kfree_skb drops that sk_drops does not count were seen (refused syncookie ACKs)"
	# drops == listen_drops + the kfree_skb drops that sk_drops counted too
	is "$(jq -r --argjson p "$PORT" --argjson out "${out:-0}" \
		'([.listeners[] | select(.port == $p) | .drops - .listen_drops] | add) ==
		 ([.listeners[] | select(.port == $p) | .ack_drops + .other_kfree_drops] | add) - $out' "$J" 2>/dev/null)" true \
		"drops - listen_drops == kfree_skb drops on the listeners minus those sk_drops did not count"
fi
done_testing
