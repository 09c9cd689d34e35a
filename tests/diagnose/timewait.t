#!/usr/bin/env bash
# timewait.t - a full TIME-WAIT table: tcp_max_tw_buckets 32 in the namespace
# and a new connection per request (the server closes first, so the
# TIME-WAIT sockets are its). The time-wait finding's overflow count equals
# nstat's TcpExtTCPTimeWaitOverflow delta around the run, with the limit
# and the TIME-WAIT count as sysctl and ss see them.
. "$(dirname "$0")/../lib.sh"
plan 6
is_root || skip_rest "needs root for unshare -n"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"
command -v nstat >/dev/null || skip_rest "nstat (iproute2) not installed"

T=$(mktemp -d)
export NSTAT_HISTORY=$T/nstat.hist
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
cat > "$T/inner.sh" <<'INNER'
set -u
B=$1 T=$2 Q=$1/qps-tune
ip link set lo up
sysctl -qw net.ipv4.tcp_max_tw_buckets=32
"$B/qps-server" -l 127.0.0.1:18308 -w 1 --defer-accept 0 2>"$T/server.log" &
S=$!
for _ in $(seq 100); do ss -Htln 'sport = :18308' | grep -q . && break; sleep 0.05; done
nstat -az TcpExtTCPTimeWaitOverflow | awk '/TimeWaitOverflow/ {print $2}' > "$T/ov0"
t0=$(date +%s%N)
"$Q" diagnose --duration 3 --json > "$T/out.json" 2>"$T/err" &
D=$!
sleep 0.5
timeout -s KILL 3 "$B/qps-load" --new-conn -c 4 -d 1.5 127.0.0.1:18308 > /dev/null 2>&1
wait $D; echo $? > "$T/rc"
t1=$(date +%s%N)
echo $(( (t1 - t0) / 1000000 )) > "$T/ms"
nstat -az TcpExtTCPTimeWaitOverflow | awk '/TimeWaitOverflow/ {print $2}' > "$T/ov1"
ss -Htan state time-wait | wc -l > "$T/tw"
kill $S; wait $S 2>/dev/null
INNER
unshare -n bash "$T/inner.sh" "$BUILD" "$T"

J=$T/out.json
f='.findings[] | select(.name=="time-wait")'
is "$(cat "$T/rc")" 3 "exit 3: something limits the server"
cmp_ok "$(cat "$T/ms")" -le 4000 "diagnose --duration 3 took $(cat "$T/ms") ms (window + 1 s at most)"
kd=$(( $(cat "$T/ov1") - $(cat "$T/ov0") ))
cmp_ok "$kd" -gt 0 "the load overflowed the TIME-WAIT table (nstat +$kd)"
is "$(jq -r "$f | .figures.tw_overflow" "$J")" "$kd" "the time-wait finding's overflows equal nstat's TCPTimeWaitOverflow delta"
is "$(jq -r "$f | .figures.tw_max" "$J")" 32 "with the limit (tcp_max_tw_buckets 32)"
is "$(jq -r "$f | .figures.time_wait" "$J")" "$(cat "$T/tw")" "and the TIME-WAIT sockets ss counts ($(cat "$T/tw"))"
done_testing
