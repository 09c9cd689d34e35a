#!/usr/bin/env bash
# slow-syscall.t - the server blocks in a slow syscall on its request path:
# qps-server --demo, every request /delay?ms=50 (nanosleep in the worker).
# The top finding is offcpu-blocking naming clock_nanosleep, with the
# offcpu stack and syslat's latency: the mean is at least the 50 ms asked
# (the clock), the calls no more than the requests the load completed. The
# same without probes (--no-probes): the syscall sampled from /proc.
# diagnose attaches only what the samples point at: syslat (narrowed to
# clock_nanosleep) and offcpu, started once threads are seen asleep there,
# nothing else - checked from outside too (its children's command lines and
# the BPF programs they hold: fdinfo, bpftool). SIGTERM ends a long window
# early with its probe children reaped.
. "$(dirname "$0")/../lib.sh"
plan 20
is_root || skip_rest "needs root for unshare -n"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"
command -v bpftool >/dev/null || skip_rest "bpftool not installed"

T=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
cat > "$T/inner.sh" <<'INNER'
set -u
B=$1 T=$2 Q=$1/qps-tune
. "$3/probe-watch.sh"
ip link set lo up
"$B/qps-server" -l 127.0.0.1:18303 -w 1 --demo --defer-accept 0 2>"$T/server.log" &
S=$!
for _ in $(seq 100); do ss -Htln 'sport = :18303' | grep -q . && break; sleep 0.05; done
for mode in probes noprobes; do
	extra=; [ $mode = noprobes ] && extra=--no-probes
	t0=$(date +%s%N)
	"$Q" diagnose --duration 3 --json $extra > "$T/$mode.json" 2>"$T/$mode.err" &
	D=$!
	watch_probes $D "$T/$mode.watch" &
	W=$!
	timeout -s KILL 5 "$B/qps-load" -c 4 -d 3.2 -p '/delay?ms=50' --json 127.0.0.1:18303 > "$T/$mode.load" 2>/dev/null
	wait $D; echo $? > "$T/$mode.rc"
	wait $W
	t1=$(date +%s%N)
	echo $(( (t1 - t0) / 1000000 )) > "$T/$mode.ms"
done
# SIGTERM ends a 30 s window early: report printed, the probe children reaped
timeout -s KILL 8 "$B/qps-load" -c 4 -d 5 -p '/delay?ms=50' 127.0.0.1:18303 >/dev/null 2>&1 &
L=$!
t0=$(date +%s%N)
"$Q" diagnose --duration 30 --json > "$T/term.json" 2>/dev/null &
D=$!
for _ in $(seq 40); do [ "$(pgrep -P $D | wc -l)" -ge 2 ] && break; sleep 0.1; done
sleep 0.5
kids=$(pgrep -P $D | tr '\n' ' ')
kill -TERM $D; wait $D; echo $? > "$T/term.rc"
t1=$(date +%s%N)
echo $(( (t1 - t0) / 1000000 )) > "$T/term.ms"
left=; for k in $kids; do kill -0 $k 2>/dev/null && left="$left $k"; done
echo "$(echo $kids | wc -w) ${left:-none}" > "$T/term.kids"
wait $L
kill $S; wait $S 2>/dev/null
INNER
unshare -n bash "$T/inner.sh" "$BUILD" "$T" "$(cd "$(dirname "$0")" && pwd)"

J=$T/probes.json
is "$(cat "$T/probes.rc")" 3 "exit 3: something limits the server"
cmp_ok "$(cat "$T/probes.ms")" -le 4000 "diagnose --duration 3 took $(cat "$T/probes.ms") ms (window + 1 s at most)"
is "$(jq -r '.findings[0].name' "$J")" offcpu-blocking "the top finding is blocking off CPU"
like "$(jq -r '.findings[0].title' "$J")" 'blocks in clock_nanosleep on its request path' "it names the syscall"
like "$(jq -r '.findings[0].evidence' "$J")" 'do_nanosleep.*__x64_sys_clock_nanosleep' "with the kernel stack (offcpu)"
mean=$(jq -r '.findings[0].figures.mean_us | floor' "$J")
cmp_ok "$mean" -ge 50000 "syslat's mean latency ($mean us) is at least the 50 ms each request sleeps"
calls=$(jq -r '.findings[0].figures.calls' "$J")
reqs=$(jq -r '.requests' "$T/probes.load")
cmp_ok "$calls" -le "$((reqs + 4))" "its calls ($calls) are no more than the requests started ($reqs, 4 in flight)"
is "$(jq -r '[.probes[] | select(.name=="offcpu" or .name=="syslat") | .status] | join(" ")' "$J")" "used used" "offcpu and syslat were used"
is "$(jq -r '[.probes[] | select(.status=="used") | .name] | join(" ")' "$J")" "syslat offcpu" "  and no other probe (the window did not call for them)"
start=$(jq -r '.probes[] | select(.name=="syslat") | .started_s' "$J")
ok "  started $start s into the window, once threads were seen asleep there" awk -v s="$start" 'BEGIN { exit !(s > 0 && s < 1.5) }'
like "$(jq -r '.probes[] | select(.name=="syslat") | .trigger' "$J")" '^a thread asleep in clock_nanosleep in [0-9]+ of [0-9]+ sample rounds.*traced only clock_nanosleep$' \
	"  why: a thread asleep in clock_nanosleep; syslat traced only that syscall"
is "$(sed -n 's/^child: .* probe \([a-z]*\) .*/\1/p' "$T/probes.watch" | sort | tr '\n' ' ')" "offcpu syslat " "from /proc: diagnose's only probe children were offcpu and syslat"
like "$(grep '^child: .* probe syslat ' "$T/probes.watch")" '--pid [0-9]+ --errors --syscall clock_nanosleep ' "  syslat ran with --syscall clock_nanosleep"
like "$(grep '^prog: ' "$T/probes.watch" | awk '{print $3}' | sort | tr '\n' ' ')" 'oc_switch_.*sl_enter_.*sl_exit_' "  holding offcpu's and syslat's programs (fdinfo, bpftool)"
is "$(grep -c -E '^prog: .* (rq|aq|td)_' "$T/probes.watch")" 0 "  and no runqlat, acceptq or tcpdrop program"
is "$(cat "$T/term.rc") $(jq -r .interrupted "$T/term.json")" "3 true" "SIGTERM ends a 30 s window early, with the report (exit 3: the finding)"
is "$(cat "$T/term.kids")" "2 none" "  its 2 probe children (started for the blocking) are gone"
is "$(jq -r '.findings[0].name' "$T/noprobes.json")" offcpu-blocking "without probes the finding stands (/proc sampling)"
like "$(jq -r '.findings[0].evidence' "$T/noprobes.json")" 'task/\*/syscall: a thread sleeping in clock_nanosleep' "from the syscall sampled in /proc/PID/task/*/syscall"
is "$(grep -c '^child:' "$T/noprobes.watch")" 0 "  and no probe child at all (--no-probes)"
done_testing
