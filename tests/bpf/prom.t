#!/usr/bin/env bash
# --prom FILE on the new probes: node_exporter textfile format checked by
# Prometheus's own promtool (check metrics), rewritten atomically at each
# interval (a reader never sees a partial file: every copy taken while the
# probe runs passes), and the numbers agree with an independent source:
# tcpdrop's NO_SOCKET counter == nstat's TcpOutRsts delta of its netns;
# runqlat's per-cgroup histogram _count == the JSON report of the same run.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 10
need_bpf
command -v promtool > /dev/null || skip_rest "promtool not installed (scripts/deps.sh: prometheus)"
export TMPD=$TMP HELPER NSTAT_HISTORY=$TMP/nstat.hist
check() { promtool check metrics < "$1" > "$1.lint" 2>&1; }

# runqlat, read repeatedly while it rewrites the file every 0.2 s
"${PROBE[@]}" runqlat --interval 0.2 --duration 2.5 --json --prom "$TMP/rq.prom" > "$TMP/rq.json" 2> "$TMP/rq.err" &
p=$!
wait_for "$TMP/rq.err" tracing 10
bad=0 copies=0 inodes=""
for i in $(seq 20); do
	sleep 0.09
	[ -e "$TMP/rq.prom" ] || continue
	cp "$TMP/rq.prom" "$TMP/copy.prom" && copies=$((copies + 1))
	inodes="$inodes $(stat -c %i "$TMP/rq.prom")"
	check "$TMP/copy.prom" || { bad=$((bad + 1)); cp "$TMP/copy.lint" "$TMP/bad.lint"; }
done
wait $p
is "$?" 0 "runqlat --prom exits 0"
cmp_ok "$copies" -ge 10 "copies taken while it ran ($copies)"
is "$bad" 0 "every copy passes promtool check metrics" || diag "$(cat "$TMP/bad.lint" 2>/dev/null)"
cmp_ok "$(printf '%s\n' $inodes | sort -u | wc -l)" -ge 3 "the file was replaced (rename), not rewritten in place"
# --interval reports cover each interval; the textfile counts since the start:
# its _count is the sum over the reports
read -r cg want < <(jq -rs '[.[] | .cgroups[]] | group_by(.path) | map({path: .[0].path, count: (map(.count) | add)}) | max_by(.count) | "\(.path) \(.count)"' "$TMP/rq.json")
got=$(awk -v m="qps_runqlat_cgroup_wait_seconds_count{cgroup=\"$cg\"}" '$1 == m { print $2 }' "$TMP/rq.prom")
is "$got" "$want" "busiest cgroup's ($cg) histogram _count == the sum of the JSON reports' counts"

# tcpdrop in a scratch netns: the counter equals nstat's delta
unshare -n bash -c '
	ip link set lo up
	"$@" --netns self --duration 2 --prom "$TMPD/td.prom" > /dev/null 2> "$TMPD/td.err" &
	p=$!
	for i in $(seq 200); do grep -q tracing "$TMPD/td.err" && break; sleep 0.05; done
	nstat -n
	"$HELPER" connect 18999 12 1 > /dev/null
	wait $p
	nstat -z TcpOutRsts | awk "\$1 == \"TcpOutRsts\" { print \$2 }" > "$TMPD/td.rsts"
' _ "${PROBE[@]}" tcpdrop 2> "$TMP/td.nserr"
ok "tcpdrop --prom passes promtool check metrics" check "$TMP/td.prom"
got=$(awk -F' ' '/^qps_tcpdrop_drops_total\{reason="NO_SOCKET",port="18999"/ { print $2 }' "$TMP/td.prom")
is "$got" "$(cat "$TMP/td.rsts")" "qps_tcpdrop_drops_total{reason=NO_SOCKET} == TcpOutRsts delta"
like "$(grep '^# TYPE qps_tcpdrop_drops_total' "$TMP/td.prom")" 'counter$' "drops are a counter"

# oncpu and leaks
"${PROBE[@]}" oncpu --duration 1 --prom "$TMP/on.prom" > /dev/null 2>&1
ok "oncpu --prom passes promtool check metrics" check "$TMP/on.prom"
sleep 3 &
"${PROBE[@]}" leaks --pid $! --interval 0.5 --duration 1 --prom "$TMP/lk.prom" > /dev/null 2>&1
ok "leaks --prom passes promtool check metrics" check "$TMP/lk.prom"
done_testing
