#!/usr/bin/env bash
# slow-syscall.t - the server blocks in a slow syscall on its request path:
# qps-server --demo, every request /delay?ms=50 (nanosleep in the worker).
# The top finding is offcpu-blocking naming clock_nanosleep, with the
# offcpu stack and syslat's latency: the mean is at least the 50 ms asked
# (the clock), the calls no more than the requests the load completed. The
# same without probes (--no-probes): the syscall sampled from /proc.
. "$(dirname "$0")/../lib.sh"
plan 10
is_root || skip_rest "needs root for unshare -n"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"

T=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
cat > "$T/inner.sh" <<'INNER'
set -u
B=$1 T=$2 Q=$1/qps-tune
ip link set lo up
"$B/qps-server" -l 127.0.0.1:18303 -w 1 --demo --defer-accept 0 2>"$T/server.log" &
S=$!
for _ in $(seq 100); do ss -Htln 'sport = :18303' | grep -q . && break; sleep 0.05; done
for mode in probes noprobes; do
	extra=; [ $mode = noprobes ] && extra=--no-probes
	t0=$(date +%s%N)
	"$Q" diagnose --duration 3 --json $extra > "$T/$mode.json" 2>"$T/$mode.err" &
	D=$!
	timeout -s KILL 5 "$B/qps-load" -c 4 -d 3.2 -p '/delay?ms=50' --json 127.0.0.1:18303 > "$T/$mode.load" 2>/dev/null
	wait $D; echo $? > "$T/$mode.rc"
	t1=$(date +%s%N)
	echo $(( (t1 - t0) / 1000000 )) > "$T/$mode.ms"
done
kill $S; wait $S 2>/dev/null
INNER
unshare -n bash "$T/inner.sh" "$BUILD" "$T"

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
is "$(jq -r '.findings[0].name' "$T/noprobes.json")" offcpu-blocking "without probes the finding stands (/proc sampling)"
like "$(jq -r '.findings[0].evidence' "$T/noprobes.json")" 'task/\*/syscall: a thread sleeping in clock_nanosleep' "from the syscall sampled in /proc/PID/task/*/syscall"
done_testing
