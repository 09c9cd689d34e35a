#!/usr/bin/env bash
# listener.t - a listener that asked for backlog 1024 under somaxconn 128 is
# flagged (LQ-002) with its port and owner; apply says it needs a restart; a
# listener inside the ephemeral range is flagged (PORT-002); a full accept
# queue is LQ-003.
. "$(dirname "$0")/../lib.sh"
plan 13
is_root || skip_rest "needs root for unshare -n"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"
command -v python3 >/dev/null || skip_rest "python3 not installed"

T=$(mktemp -d)
export QPS_TUNE_RUN_DIR=$T/run	# host-wide lock and journal registry of this test only
trap 'rm -rf "$T"' EXIT
cat > "$T/inner.sh" <<'INNER'
set -u
Q=$1 T=$2
ip link set lo up
sysctl -qw net.core.somaxconn=128
(ulimit -n 1024; exec python3 - "$T") <<'PY' &
import socket, sys, time, os
T = sys.argv[1]
a = socket.socket(); a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
a.bind(("127.0.0.1", 18080)); a.listen(1024)
b = socket.socket(); b.bind(("127.0.0.1", 40000)); b.listen(4)
# fill b's accept queue: backlog 4 -> 5 queued connections, never accepted
cs = []
for _ in range(5):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(("127.0.0.1", 40000))
    except BlockingIOError: pass
    cs.append(c)
open(T + "/ready", "w").write(str(os.getpid()))
time.sleep(30)
PY
for _ in $(seq 100); do [ -e "$T/ready" ] && break; sleep 0.05; done
sleep 0.3
"$Q" audit --json > "$T/audit.json"; echo $? > "$T/audit.rc"
"$Q" audit > "$T/audit.txt"
"$Q" audit --json --port 18080 > "$T/port.json"
"$Q" apply --state-dir "$T/st" > "$T/apply.txt" 2>&1; echo $? > "$T/apply.rc"
"$Q" apply --state-dir "$T/st" --json > "$T/apply2.json" 2>&1
"$Q" audit --state-dir "$T/st" --json --port 18080 > "$T/after.json"
"$Q" rollback --state-dir "$T/st" > /dev/null
kill %1
INNER
unshare -n bash "$T/inner.sh" "$QPS_TUNE" "$T"
pid=$(cat "$T/ready")

is "$(cat "$T/audit.rc")" 3 "audit exits 3"
ev=$(jq -r '.checks[] | select(.id=="LQ-002" and .key=="listener 127.0.0.1:18080") | .status+" "+.evidence' "$T/audit.json")
like "$ev" '^fail ' "LQ-002 fails for the truncated listener"
like "$ev" "127.0.0.1:18080 pid $pid python3 Send-Q=128 == somaxconn 128 < target 4096" \
	"evidence names port, owner pid and comm, granted backlog"
like "$(grep -A4 'LQ-002.*18080' "$T/audit.txt")" "fix: .*restart pid $pid python3" "the fix says to restart the owner"
is "$(jq -r '.checks[] | select(.id=="PORT-002") | .key' "$T/audit.json")" "listener 127.0.0.1:40000" \
	"PORT-002: listener inside the ephemeral range, not reserved"
ev=$(jq -r '.checks[] | select(.id=="LQ-003" and .key=="listener 127.0.0.1:40000") | .status+" "+.current' "$T/audit.json")
like "$ev" '^fail queue [45]/4' "LQ-003: a full accept queue"
is "$(jq -r '[.checks[] | select(.key|startswith("listener 127.0.0.1:4"))] | length' "$T/port.json")" 0 \
	"--port limits the listeners audited"
is "$(jq -r '[.checks[] | select(.id=="LQ-002")] | length' "$T/port.json")" 1 "--port 18080: one LQ-002 line"
like "$(jq -r '.checks[] | select(.id=="FD-001") | .key' "$T/audit.json")" "pid $pid python3 nofile" \
	"the listener's owner is audited as a server process (FD-001)"
is "$(cat "$T/apply.rc")" 0 "apply exits 0"
like "$(cat "$T/apply.txt")" "restart needed  listener 127.0.0.1:18080 \\(pid $pid python3\\): backlog is fixed at listen\\(\\)" \
	"apply reports the listener needs a restart"
is "$(jq -r '[.restart_needed[].what | select(startswith("listener 127.0.0.1:18080"))] | length' "$T/apply2.json")" 1 \
	"second apply (somaxconn already raised, journal knows the old value): restart still needed"
like "$(jq -r '.checks[] | select(.id=="LQ-002") | .status+" "+.evidence' "$T/after.json")" \
	'^fail .*Send-Q=128 == somaxconn before qps-tune apply raised it to 4096' \
	"audit after apply: the listener still has the old capped backlog"
done_testing
