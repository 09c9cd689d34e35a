#!/usr/bin/env bash
# accept.t - an accept queue that overflows: qps-server with --max-conns 20
# (accepting pauses at the limit) behind somaxconn 16, and a burst of 200
# clients during diagnose's window. The top finding names the listener, its
# port and the backlog it really has (ss's Send-Q), and its overflow count
# equals nstat's TcpExtListenOverflows delta around the run (no load outside
# the window). diagnose ends within its window + 1 s (the clock). Then the
# plan: apply --plan sets exactly somaxconn, rollback restores it, and a plan
# that is no longer current (somaxconn changed since) is refused.
. "$(dirname "$0")/../lib.sh"
plan 23
is_root || skip_rest "needs root for unshare -n"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"
command -v nstat >/dev/null || skip_rest "nstat (iproute2) not installed"

T=$(mktemp -d)
export QPS_TUNE_RUN_DIR=$T/run NSTAT_HISTORY=$T/nstat.hist
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
cat > "$T/inner.sh" <<'INNER'
set -u
B=$1 T=$2 Q=$1/qps-tune
ip link set lo up
sysctl -qw net.core.somaxconn=16
"$B/qps-server" -l 127.0.0.1:18301 -w 1 --max-conns 20 --defer-accept 0 2>"$T/server.log" &
S=$!
for _ in $(seq 100); do ss -Htln 'sport = :18301' | grep -q . && break; sleep 0.05; done
ss -Htln 'sport = :18301' | awk '{print $3}' > "$T/sendq"
nstat -az TcpExtListenOverflows | awk '/ListenOverflows/ {print $2}' > "$T/ov0"
nstat -az TcpExtSyncookiesSent | awk '/SyncookiesSent/ {print $2}' > "$T/ck0"
t0=$(date +%s%N)
"$Q" diagnose --duration 4 --json --plan-out "$T/plan" > "$T/out.json" 2>"$T/err" &
D=$!
sleep 1
timeout -s KILL 3 "$B/qps-load" -c 1 -b 200 --burst-interval 500 --connect-timeout 1500 -d 1.8 127.0.0.1:18301 >/dev/null 2>&1
wait $D; echo $? > "$T/rc"
t1=$(date +%s%N)
echo $(( (t1 - t0) / 1000000 )) > "$T/ms"
nstat -az TcpExtListenOverflows | awk '/ListenOverflows/ {print $2}' > "$T/ov1"
nstat -az TcpExtSyncookiesSent | awk '/SyncookiesSent/ {print $2}' > "$T/ck1"
echo $S > "$T/pid"
# the plan: applied exactly, rolled back, refused once stale
"$Q" --state-dir "$T/state" apply --plan "$T/plan" --json > "$T/apply.json" 2>"$T/apply.err"; echo $? > "$T/apply.rc"
sysctl -n net.core.somaxconn > "$T/after"
"$Q" --state-dir "$T/state" rollback > /dev/null 2>&1
sysctl -n net.core.somaxconn > "$T/rolled"
sysctl -qw net.core.somaxconn=32
"$Q" --state-dir "$T/state" apply --plan "$T/plan" > /dev/null 2>"$T/stale.err"; echo $? > "$T/stale.rc"
sysctl -n net.core.somaxconn > "$T/stale.val"
# hostile or foreign plans, each refused with nothing written (somaxconn current again)
sysctl -qw net.core.somaxconn=16
hostile() {  # NAME PLANFILE [prefix command...]
	local name=$1 f=$2; shift 2
	"$@" "$Q" --state-dir "$T/state.$name" apply --plan "$f" > /dev/null 2>"$T/h.$name.err"
	echo "$? $(sysctl -n net.core.somaxconn)" > "$T/h.$name"
}
cp "$T/plan" "$T/plan.ww"; chmod 0666 "$T/plan.ww"; hostile writable "$T/plan.ww"
ln -s "$T/plan" "$T/plan.link"; hostile symlink "$T/plan.link"
sed 's/\t4096\t/\t8\t/' "$T/plan" > "$T/plan.low"; chmod 0600 "$T/plan.low"; hostile lower "$T/plan.low"
hostile netns "$T/plan" unshare -n
kill $S; wait $S 2>/dev/null
INNER
unshare -n bash "$T/inner.sh" "$BUILD" "$T"

J=$T/out.json
is "$(cat "$T/rc")" 3 "exit 3: something limits the server"
cmp_ok "$(cat "$T/ms")" -le 5000 "diagnose --duration 4 took $(cat "$T/ms") ms (window + 1 s at most)"
is "$(jq -r '.findings[0].name' "$J")" accept-queue-overflow "the top finding is the accept queue"
kd=$(( $(cat "$T/ov1") - $(cat "$T/ov0") ))
cmp_ok "$kd" -gt 0 "the load overflowed the queue (nstat +$kd)"
is "$(jq -r '.findings[0].figures.overflows' "$J")" "$kd" "its overflow count equals nstat's ListenOverflows delta"
is "$(jq -r '.findings[0].figures.port' "$J")" 18301 "it names the listener's port"
is "$(jq -r '.findings[0].figures.backlog' "$J")" "$(cat "$T/sendq")" "and the backlog it really has (ss Send-Q $(cat "$T/sendq"))"
like "$(jq -r '.findings[0].checks' "$J")" 'LQ-003 .*LQ-001 fail' "it cites the registry's checks (LQ-001 fails: somaxconn 16)"
like "$(jq -r '.findings[0].evidence' "$J")" 'acceptq \(attached for the last [0-9.]+ s of the window\): listen_drops [0-9]+' "the acceptq probe's figures are in the evidence"
is "$(jq -r '[.findings[0].settings[] | select(.key=="net.core.somaxconn") | .old+" "+.new] | .[0]' "$J")" "16 4096" \
	"the plan raises somaxconn 16 -> 4096 (web-10k's rule)"
# SYN cookies: a finding exactly when the kernel sent some in the window, with its count
ck=$(( $(cat "$T/ck1") - $(cat "$T/ck0") ))
is "$(jq -r '[.findings[] | select(.name=="syn-queue") | .figures.syncookies_sent] | .[0] // 0' "$J")" "$ck" \
	"syn-queue: SYN cookies sent == nstat's SyncookiesSent delta ($ck; no finding when 0)"
is "$(cat "$T/apply.rc") $(cat "$T/after")" "0 4096" "apply --plan applies it"
is "$(cat "$T/rolled")" 16 "rollback restores what apply --plan changed"
is "$(cat "$T/stale.rc") $(cat "$T/stale.val")" "1 32" "a plan that is no longer current is refused, nothing written"
like "$(cat "$T/stale.err")" "not current" "and says why"
for h in writable:'writable by nobody else' symlink:'symlink: refused' lower:'never lowers' netns:'was made in netns'; do
	is "$(cat "$T/h.${h%%:*}")" "1 16" "a plan ${h%%:*} is refused, nothing written"
	like "$(cat "$T/h.${h%%:*}.err")" "${h#*:}" "  with the cause (${h#*:})"
done
done_testing
