#!/usr/bin/env bash
# acceptq: a listener with backlog 4 that never accepts, 200 connects, in a
# fresh network namespace -> the report names the port, limit 4, queue full,
# and drops equal to that namespace's TcpExt ListenOverflows delta.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 10
need_bpf

export TMPD=$TMP HELPER PORT=18080
# everything happens inside the namespace; results land in $TMPD
unshare -n bash -c '
	ovf() { awk "/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) if (\$i == \"ListenOverflows\") c = i; h = 1 } else print \$c }" /proc/net/netstat; }
	ip link set lo up
	"$HELPER" listen "$PORT" 4 30 > "$TMPD/listen.out" &
	lpid=$!
	for i in $(seq 100); do grep -q ready "$TMPD/listen.out" && break; sleep 0.05; done
	"$@" --json --duration 5 > "$TMPD/report.json" 2> "$TMPD/probe.err" &
	ppid=$!
	for i in $(seq 200); do grep -q tracing "$TMPD/probe.err" && break; sleep 0.05; done
	ovf > "$TMPD/ovf.before"
	"$HELPER" connect "$PORT" 200 2 > "$TMPD/connect.out"
	ovf > "$TMPD/ovf.after"
	wait $ppid; echo $? > "$TMPD/probe.rc"
	ss -Htlnm "sport = :$PORT" > "$TMPD/ss.out"
	kill $lpid
' _ "${PROBE[@]}" acceptq 2>"$TMP/ns.err"

is "$(cat "$TMP/probe.rc" 2>/dev/null)" 0 "probe acceptq exits 0" || diag "$(cat "$TMP/probe.err" "$TMP/ns.err")"
J=$TMP/report.json
is "$(jq -r .schema "$J" 2>/dev/null)" "qps-tune.probe.acceptq/1" "one JSON document with the versioned schema"
L=$(jq -c ".listeners[] | select(.port == $PORT)" "$J" 2>/dev/null)
like "$L" '"listener":"127\.0\.0\.1:18080"' "report names the listener 127.0.0.1:$PORT"
like "$L" '"comm":"probe-helper"' "report names the owner"
is "$(jq -r .backlog <<<"$L")" 4 "granted backlog limit is 4"
is "$(jq -r '.full_now and .was_full and .full_events > 0 and .peak == 5' <<<"$L")" true "queue seen full (peak 5 = limit + 1, full now)"
before=$(cat "$TMP/ovf.before"); after=$(cat "$TMP/ovf.after")
delta=$((after - before))
diag "ListenOverflows delta in the namespace: $delta; ss: $(tr -s ' \t\n' ' ' < "$TMP/ss.out")"
cmp_ok "$delta" -gt 0 "the 200 connects overflowed the queue"
is "$(jq -r .drops <<<"$L")" "$delta" "listener drops == ListenOverflows delta of the netns"
is "$(jq -r .netns_counters.ListenOverflows "$J")" "$delta" "reported netns ListenOverflows delta == independent reading"
is "$(jq -r '.drops_exact' <<<"$L")" true "drops marked exact"
done_testing
