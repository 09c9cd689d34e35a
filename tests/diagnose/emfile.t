#!/usr/bin/env bash
# emfile.t - descriptor exhaustion: qps-server started with nofile 64
# (prlimit) and 100 keep-alive clients during the window. The top finding is
# descriptor-exhaustion with the server's real limit (/proc/PID/limits), its
# descriptors at that limit, and accept4 failures with EMFILE counted by the
# syslat probe, no more than the server's own count of them (/metrics). The
# plan raises the running server's nofile (prlimit), rollback puts 64 back.
. "$(dirname "$0")/../lib.sh"
plan 10
is_root || skip_rest "needs root for unshare -n"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"
command -v prlimit >/dev/null || skip_rest "prlimit (util-linux) not installed"

T=$(mktemp -d)
export QPS_TUNE_RUN_DIR=$T/run
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
cat > "$T/inner.sh" <<'INNER'
set -u
B=$1 T=$2 Q=$1/qps-tune
ip link set lo up
prlimit --nofile=64:8192 "$B/qps-server" -l 127.0.0.1:18302 -w 1 --defer-accept 0 2>"$T/server.log" &
S=$!
for _ in $(seq 100); do ss -Htln 'sport = :18302' | grep -q . && break; sleep 0.05; done
echo $S > "$T/pid"
awk '/Max open files/ {print $4, $5}' /proc/$S/limits > "$T/limits"
t0=$(date +%s%N)
"$Q" diagnose --duration 3 --json --plan-out "$T/plan" > "$T/out.json" 2>"$T/err" &
D=$!
sleep 0.8
timeout -s KILL 3 "$B/qps-load" -c 100 -d 1.5 --connect-timeout 1000 127.0.0.1:18302 >/dev/null 2>&1
wait $D; echo $? > "$T/rc"
t1=$(date +%s%N)
echo $(( (t1 - t0) / 1000000 )) > "$T/ms"
sleep 0.3
curl -s --max-time 2 127.0.0.1:18302/metrics | awk -F' ' '/^qps_accept_errors_total\{errno="EMFILE"\}/ {print $2}' > "$T/metric"
"$Q" --state-dir "$T/state" apply --plan "$T/plan" > "$T/apply.out" 2>&1; echo $? > "$T/apply.rc"
awk '/Max open files/ {print $4, $5}' /proc/$S/limits > "$T/limits.after"
"$Q" --state-dir "$T/state" rollback > /dev/null 2>&1
awk '/Max open files/ {print $4, $5}' /proc/$S/limits > "$T/limits.rolled"
kill $S; wait $S 2>/dev/null
INNER
unshare -n bash "$T/inner.sh" "$BUILD" "$T"

J=$T/out.json
is "$(cat "$T/rc")" 3 "exit 3: something limits the server"
cmp_ok "$(cat "$T/ms")" -le 4000 "diagnose --duration 3 took $(cat "$T/ms") ms (window + 1 s at most)"
is "$(jq -r '.findings[0].name' "$J")" descriptor-exhaustion "the top finding is descriptor exhaustion"
is "$(jq -r '.findings[0].figures.nofile_soft' "$J") $(jq -r '.findings[0].figures.nofile_hard' "$J")" "$(cat "$T/limits")" \
	"with the server's limits as /proc/PID/limits has them ($(cat "$T/limits"))"
cmp_ok "$(jq -r '.findings[0].figures.fds_max' "$J")" -ge 62 "its descriptors reached the limit ($(jq -r '.findings[0].figures.fds_max' "$J") of 64)"
em=$(jq -r '.findings[0].figures.emfile' "$J")
cmp_ok "$em" -ge 1 "syslat counted accept4 failing with EMFILE ($em)"
cmp_ok "$em" -le "$(cat "$T/metric")" "no more than the server itself counted ($(cat "$T/metric"))"
like "$(jq -r '.findings[0].checks' "$J")" 'FD-001 fail' "it cites FD-001"
# a hard limit goes up only with CAP_SYS_RESOURCE (bit 24 of CapEff); without it, up to the hard one
if (( (0x$(awk '/^CapEff/ {print $2}' /proc/self/status) >> 24) & 1 )); then want="22000 22000"; else want="8192 8192"; fi
is "$(cat "$T/apply.rc") $(cat "$T/limits.after")" "0 $want" "apply --plan raises the running server's nofile ($want: web-10k's target, as far as our capabilities go)"
is "$(cat "$T/limits.rolled")" "64 8192" "rollback restores 64 / 8192"
done_testing
