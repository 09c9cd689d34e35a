#!/usr/bin/env bash
# --prom FILE on the new probes: node_exporter textfile format checked by
# Prometheus's own promtool (check metrics), rewritten atomically at each
# interval (a reader never sees a partial file: every copy taken while the
# probe runs passes), and the numbers agree with an independent source:
# tcpdrop's NO_SOCKET counter == nstat's TcpOutRsts delta of its netns;
# runqlat's per-cgroup histogram _count == the JSON report of the same run.
# syslat, acceptq, offcpu (--interval reports, counters since the start):
# syslat's clock_nanosleep histogram counts the helper's 50 sleeps exactly
# (_sum >= 50 x 2 ms by the clock); acceptq's listen drops of a listener that
# never accepts == the namespace's ListenOverflows delta (nstat's counter,
# /proc/net/netstat); offcpu's off-CPU seconds of a helper blocked 4 x 200 ms
# >= 0.8 s and == the sum of its JSON reports.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 23
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

# syslat: its textfile copied while it rewrites it every 0.2 s
"$HELPER" sleep 50 2000 "$TMP/gos" > "$TMP/hs.out" &
hs=$!
wait_for "$TMP/hs.out" ready 5
"${PROBE[@]}" syslat --pid "$hs" --errors --interval 0.2 --duration 60 --prom "$TMP/sl.prom" > /dev/null 2> "$TMP/sl.err" &
p=$!
wait_for "$TMP/sl.err" tracing 10
touch "$TMP/gos"
bad=0 copies=0
for i in $(seq 8); do
	sleep 0.1
	[ -e "$TMP/sl.prom" ] || continue
	cp "$TMP/sl.prom" "$TMP/copy.prom" && copies=$((copies + 1))
	check "$TMP/copy.prom" || { bad=$((bad + 1)); cp "$TMP/copy.lint" "$TMP/bad.lint"; }
done
wait $hs; sleep 0.3; kill -TERM $p; wait $p
is "$?" 0 "syslat --prom exits 0" || diag "$(cat "$TMP/sl.err")"
is "$bad:$(check "$TMP/sl.prom" && echo ok)" "0:ok" "syslat: every copy ($copies) and the final file pass promtool check metrics" || diag "$(cat "$TMP/bad.lint" "$TMP/sl.prom.lint" 2>/dev/null)"
m() { awk -v m="$2" '$1 == m { print $2 }' "$1"; }
is "$(m "$TMP/sl.prom" 'qps_syslat_duration_seconds_count{syscall="clock_nanosleep"}')" 50 "syslat: clock_nanosleep _count == the helper's 50 sleeps (over several reports)"
is "$(m "$TMP/sl.prom" 'qps_syslat_duration_seconds_bucket{syscall="clock_nanosleep",le="+Inf"}')" 50 "... its +Inf bucket too"
cmp_ok "$(awk -v s="$(m "$TMP/sl.prom" 'qps_syslat_duration_seconds_sum{syscall="clock_nanosleep"}')" 'BEGIN { print (s >= 0.1) ? 1 : 0 }')" -eq 1 "... its _sum >= 50 x 2 ms"

# acceptq in a scratch netns: a listener with backlog 2 that never accepts
unshare -n bash -c '
	ip link set lo up
	"$HELPER" listen 18091 2 30 > "$TMPD/aql.out" &
	l=$!
	for i in $(seq 100); do grep -q ready "$TMPD/aql.out" && break; sleep 0.05; done
	"$@" --interval 0.3 --duration 60 --prom "$TMPD/aq.prom" > /dev/null 2> "$TMPD/aq.err" &
	p=$!
	for i in $(seq 200); do grep -q tracing "$TMPD/aq.err" && break; sleep 0.05; done
	tcpext ListenOverflows > "$TMPD/aq.before"
	"$HELPER" connect 18091 40 2 > /dev/null
	sleep 0.4
	kill -TERM $p; wait $p
	tcpext ListenOverflows > "$TMPD/aq.after"
	kill $l
' _ "${PROBE[@]}" acceptq 2> "$TMP/aq.nserr"
ovf=$(( $(cat "$TMP/aq.after") - $(cat "$TMP/aq.before") ))
diag "acceptq: ListenOverflows delta $ovf; $(grep -v '^#' "$TMP/aq.prom" | tr '\n' ' ')"
ok "acceptq --prom passes promtool check metrics" check "$TMP/aq.prom"
cmp_ok "$ovf" -gt 0 "connects overflowed the accept queue (ListenOverflows +$ovf)"
is "$(m "$TMP/aq.prom" 'qps_acceptq_listen_drops_total{listener="127.0.0.1:18091"}')" "$ovf" "acceptq: the listener's listen drops since the start == ListenOverflows delta"
is "$(grep -o '^qps_acceptq_netns_listen_overflows_total{[^}]*} [0-9]*' "$TMP/aq.prom" | awk '{ print $2 }')" "$ovf" "... the namespace counter too"
like "$(grep '^# TYPE qps_acceptq_drops_total' "$TMP/aq.prom")" 'counter$' "drops are a counter"

# offcpu
"$HELPER" pipeblock 4 200 "$TMP/goo" > "$TMP/ho.out" &
ho=$!
wait_for "$TMP/ho.out" ready 5
"${PROBE[@]}" offcpu --pid "$ho" --json --interval 0.3 --duration 60 --prom "$TMP/oc.prom" > "$TMP/oc.json" 2> "$TMP/oc.err" &
p=$!
wait_for "$TMP/oc.err" tracing 10
touch "$TMP/goo"; wait $ho; kill -TERM $p; wait $p
ok "offcpu --prom passes promtool check metrics" check "$TMP/oc.prom"
sec=$(m "$TMP/oc.prom" 'qps_offcpu_seconds_total{comm="probe-helper"}')
sum=$(jq -s '[.[] | .stacks[] | .total_us] | add / 1e6' "$TMP/oc.json" 2>/dev/null)
diag "offcpu: textfile ${sec:-?} s, sum of the JSON reports $sum s over $(jq -s length "$TMP/oc.json") reports"
cmp_ok "$(awk -v s="${sec:-0}" 'BEGIN { print (s >= 0.8) ? 1 : 0 }')" -eq 1 "offcpu: >= 0.8 s off CPU since the start (4 x 200 ms)"
cmp_ok "$(awk -v s="${sec:-0}" -v t="${sum:-0}" 'BEGIN { d = s - t; if (d < 0) d = -d; print (d <= 0.001 * t + 0.000002) ? 1 : 0 }')" -eq 1 "... == the sum of the per-interval JSON reports ($sec vs $sum)"
done_testing
