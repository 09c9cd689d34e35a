#!/usr/bin/env bash
# acceptq: depth histogram, full-queue time, --port, --interval deltas and
# the text report. In a fresh network namespace, a listener with backlog 4
# that never accepts (PORT) and a second one (PORT2) that nothing connects
# to; 200 connects to PORT. Independent sources: ss (queue length of each
# listener), TcpExt ListenOverflows (read by the test), the test's clock.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 11
need_bpf

export TMPD=$TMP HELPER PORT=18084 PORT2=18085
unshare -n bash -c '
	ip link set lo up
	"$HELPER" listen "$PORT" 4 30 > "$TMPD/l1" &
	l1=$!
	"$HELPER" listen "$PORT2" 4 30 > "$TMPD/l2" &
	l2=$!
	for i in $(seq 100); do grep -q ready "$TMPD/l1" && grep -q ready "$TMPD/l2" && break; sleep 0.05; done
	"$@" --port "$PORT" --json --duration 3 > "$TMPD/port.json" 2> "$TMPD/port.err" &
	p1=$!
	"$@" --json --interval 1 --duration 3.2 > "$TMPD/int.json" 2> "$TMPD/int.err" &
	p2=$!
	"$@" --port "$PORT" --duration 3 > "$TMPD/text.txt" 2> "$TMPD/text.err" &
	p3=$!
	for i in $(seq 200); do grep -q tracing "$TMPD/port.err" && grep -q tracing "$TMPD/int.err" && grep -q tracing "$TMPD/text.err" && break; sleep 0.05; done
	ss -Htln > "$TMPD/ss.before"
	tcpext ListenOverflows > "$TMPD/before"
	date +%s%N > "$TMPD/tc"
	"$HELPER" connect "$PORT" 200 2 > /dev/null
	wait $p1; date +%s%N > "$TMPD/te"
	wait $p2 $p3
	tcpext ListenOverflows > "$TMPD/after"
	ss -Htln "sport = :$PORT" > "$TMPD/ss"
	kill $l1 $l2
' _ "${PROBE[@]}" acceptq 2> "$TMP/ns.err"

J=$TMP/port.json
is "$(grep -c ":$PORT2 " "$TMP/ss.before"):$(jq -r '[.listeners[].port] | join(",")' "$J" 2>/dev/null)" "1:$PORT" \
	"--port $PORT: only that listener, though ss lists $PORT2 too" || diag "$(cat "$TMP/port.err" "$TMP/ns.err")"
L=$(jq -c '.listeners[0]' "$J" 2>/dev/null)
recvq=$(awk '{ print $2; exit }' "$TMP/ss")
diag "ss: $(cat "$TMP/ss"); listener: $(jq -c '{peak, enqueues, full_ms, full_now, depth_hist}' <<<"${L:-null}" 2>/dev/null)"
is "$(jq -c '[.depth_hist[] | [.lo, .hi, .count]]' <<<"${L:-null}" 2>/dev/null)" '[[0,1,1],[2,3,2],[4,7,2]]' \
	"depth histogram: one enqueue at each depth 1..5 (slots 0-1: 1, 2-3: 2, 4-7: 2)"
is "$(jq -r '[.depth_hist[].count] | add' <<<"${L:-null}" 2>/dev/null)" "$recvq" "histogram total == the queue ss shows ($recvq, nothing accepted)"
tc=$(cat "$TMP/tc") te=$(cat "$TMP/te")
ms=$(jq -r '.full_ms // 0 | floor' <<<"${L:-null}")
cmp_ok "$ms" -le $(( (te - tc) / 1000000 )) "full_ms at most connect -> end by the test's clock ($ms ms)"
cmp_ok "$ms" -ge $(( (te - tc) / 1000000 - 700 )) "and at least that minus 0.7 s"
delta=$(( $(cat "$TMP/after") - $(cat "$TMP/before") ))
cmp_ok "$delta" -gt 0 "the connects overflowed the queue (ListenOverflows +$delta)"
n=$(wc -l < "$TMP/int.json")
diag "interval drops on $PORT: $(jq -s -c "[.[] | [.listeners[] | select(.port == $PORT) | .drops][0]]" "$TMP/int.json" 2>/dev/null)"
cmp_ok "$n" -ge 3 "--interval 1: $n reports"
is "$(jq -s "[.[] | [.listeners[] | select(.port == $PORT) | .drops][0] // 0] | add" "$TMP/int.json" 2>/dev/null)" "$delta" \
	"--interval: the per-interval drops add up to the ListenOverflows delta ($delta)"
is "$(jq -s '[.[] | .interval] == [range(1; length + 1)] and ([.[] | .at | test("Z$")] | all)' "$TMP/int.json" 2>/dev/null)" true "each report is stamped"
line=$(grep -E "^127\.0\.0\.1:$PORT " "$TMP/text.txt")
diag "text: $line"
like "$line" "^127\.0\.0\.1:$PORT +[0-9]+/probe-helper +4 +5 +5 +5 " "text report: listener, owner, LIMIT 4, QUEUE 5, PEAK 5, ENQUEUED 5"
like "$(cat "$TMP/text.txt")" 'depth +: count +distribution' "text report: the depth histogram"
done_testing
