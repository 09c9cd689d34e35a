#!/usr/bin/env bash
# healthy.t - no false alarm: qps-server under a light load (4 keep-alive
# clients, 2 requests a second each) on a default namespace. diagnose
# exits 0 with no finding, says so, lists every area it checked with its
# figures, and every probe it ran; the requests the load made show in the
# figures it checked (PassiveOpens/OutSegs are not zero), so it looked. No
# probe is attached (nothing in the window calls for one; slow-syscall.t
# reaps the probe children a SIGTERM leaves); without BPF privileges all 5
# are listed unavailable with the cause.
. "$(dirname "$0")/../lib.sh"
plan 15
is_root || skip_rest "needs root for unshare -n"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"

T=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
cat > "$T/inner.sh" <<'INNER'
set -u
B=$1 T=$2 Q=$1/qps-tune
ip link set lo up
"$B/qps-server" -l 127.0.0.1:18306 -w 1 --defer-accept 0 2>"$T/server.log" &
S=$!
for _ in $(seq 100); do ss -Htln 'sport = :18306' | grep -q . && break; sleep 0.05; done
t0=$(date +%s%N)
"$Q" diagnose --duration 3 --json > "$T/out.json" 2>"$T/err" &
D=$!
timeout -s KILL 5 "$B/qps-load" -c 0 -b 4 --burst-interval 500 -d 3 --json 127.0.0.1:18306 > "$T/load.json" 2>/dev/null
wait $D; echo $? > "$T/rc"
t1=$(date +%s%N)
echo $(( (t1 - t0) / 1000000 )) > "$T/ms"
"$Q" diagnose --duration 1 > "$T/out.txt" 2>&1; echo $? > "$T/rc.txt"
# SIGTERM ends the window early: report printed, every probe child reaped
t0=$(date +%s%N)
"$Q" diagnose --duration 30 --json > "$T/term.json" 2>/dev/null &
D=$!
sleep 1.5
kids=$(pgrep -P $D | tr '\n' ' ')
kill -TERM $D; wait $D; echo $? > "$T/term.rc"
t1=$(date +%s%N)
echo $(( (t1 - t0) / 1000000 )) > "$T/term.ms"
left=; for k in $kids; do kill -0 $k 2>/dev/null && left="$left $k"; done
echo "$(echo $kids | wc -w) ${left:-none}" > "$T/term.kids"
# a user without BPF privileges: the probes cannot run, and diagnose says so (JSON and table)
kill $S; wait $S 2>/dev/null
NB="setpriv --reuid=65534 --regid=65534 --clear-groups"
$NB "$B/qps-server" -l 127.0.0.1:18307 -w 1 --defer-accept 0 2>/dev/null &
S=$!
for _ in $(seq 100); do ss -Htln 'sport = :18307' | grep -q . && break; sleep 0.05; done
$NB "$Q" --state-dir "$T/nb" diagnose --duration 1 --json > "$T/nb.json" 2>/dev/null; echo $? > "$T/nb.rc"
$NB "$Q" --state-dir "$T/nb" diagnose --duration 1 > "$T/nb.txt" 2>/dev/null
kill $S; wait $S 2>/dev/null
INNER
unshare -n bash "$T/inner.sh" "$BUILD" "$T"

J=$T/out.json
is "$(cat "$T/rc")" 0 "exit 0: nothing limits a lightly loaded server"
cmp_ok "$(cat "$T/ms")" -le 4000 "diagnose --duration 3 took $(cat "$T/ms") ms (window + 1 s at most)"
is "$(jq -r '.findings | length' "$J")" 0 "no finding (no false alarm)"
is "$(jq -r '.summary.limited' "$J")" false "summary: not limited"
is "$(jq -r '[.checked[].what] | join(",")' "$J")" \
	"descriptors,accept queues,SYN queue,ephemeral ports, TIME-WAIT,socket memory,softnet backlog,conntrack,CPU,off-CPU blocking,retransmits, drops" \
	"it lists every area it checked"
is "$(jq -r '[.checked[] | select(.status != "ok" and .status != "absent")] | length' "$J")" 0 "each one ok (or absent: nothing to fill)"
like "$(jq -r '.checked[] | select(.what=="retransmits, drops") | .figures' "$J")" 'OutSegs \+[1-9]' "it saw the load's segments"
is "$(jq -r '[.probes[].name] | join(",")' "$J")" "acceptq,syslat,offcpu,runqlat,tcpdrop" "and names every probe it ran, used or not"
like "$(cat "$T/out.txt")" 'nothing limits pid [0-9]+ in this window: no finding \(exit 0\)' "the table says so too (exit $(cat "$T/rc.txt"))"
is "$(cat "$T/term.rc") $(jq -r .interrupted "$T/term.json")" "0 true" "SIGTERM ends a 30 s window early, with the report"
cmp_ok "$(cat "$T/term.ms")" -le 3000 "  within the signal + 1 s ($(cat "$T/term.ms") ms from the start)"
is "$(cat "$T/term.kids")" "0 none" "  it started no probe child: nothing in a healthy window calls for one"
is "$(jq -r '.summary.probes_unavailable' "$T/nb.json")" 5 "without BPF privileges the 5 probes are listed unavailable"
like "$(jq -r '.probes[0].detail' "$T/nb.json")" '^need root, or CAP_BPF and CAP_PERFMON' "  with the cause"
like "$(cat "$T/nb.txt")" 'not seen: 5 of 5 probes unavailable' "  and the table says what was not looked at"
done_testing
