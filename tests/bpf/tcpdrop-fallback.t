#!/usr/bin/env bash
# tcpdrop's raw_tp fallback (QPS_PROBE_NO_TP_BTF=1): closed-port connects in a
# scratch netns give NO_SOCKET drops and resets == nstat's TcpOutRsts delta.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 3
need_bpf
export QPS_PROBE_NO_TP_BTF=1 TMPD=$TMP HELPER NSTAT_HISTORY=$TMP/nstat.hist
unshare -n bash -c '
	ip link set lo up
	"$@" --netns self --json --duration 2 > "$TMPD/td.json" 2> "$TMPD/td.err" &
	p=$!
	for i in $(seq 200); do grep -q tracing "$TMPD/td.err" && break; sleep 0.05; done
	nstat -n
	"$HELPER" connect 18998 15 1 > /dev/null
	wait $p
	nstat -z TcpOutRsts | awk "\$1 == \"TcpOutRsts\" { print \$2 }" > "$TMPD/rsts"
' _ "${PROBE[@]}" tcpdrop 2> "$TMP/ns.err"
J=$TMP/td.json
like "$(jq -r .method "$J" 2>/dev/null)" '^raw_tp/kfree_skb' "raw_tp programs used" || diag "$(cat "$TMP/td.err" "$TMP/ns.err")"
is "$(jq -r .drop_reasons.NO_SOCKET "$J")" "$(cat "$TMP/rsts")" "NO_SOCKET drops == TcpOutRsts delta"
is "$(jq -r .totals.resets_sent "$J")" "$(cat "$TMP/rsts")" "resets sent == TcpOutRsts delta"
done_testing
