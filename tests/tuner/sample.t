#!/usr/bin/env bash
# sample.t - `audit --sample S` turns counters into deltas: accept-queue
# overflows provoked during the window show as LQ-003 failures, checked
# against the kernel's own TcpExtListenOverflows around the run. A plain
# audit never waits.
. "$(dirname "$0")/../lib.sh"
plan 7
is_root || skip_rest "needs root for unshare -n"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"
command -v python3 >/dev/null || skip_rest "python3 not installed"

T=$(mktemp -d)
export QPS_TUNE_RUN_DIR=$T/run	# host-wide lock and journal registry of this test only
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
cat > "$T/inner.sh" <<'INNER'
set -u
Q=$1 T=$2
ov() { awk '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) n[i] = $i; h = 1 } else for (i = 1; i <= NF; i++) if (n[i] == "ListenOverflows") print $i }' /proc/net/netstat; }
ip link set lo up
python3 -c '
import socket, time, sys
s = socket.socket(); s.bind(("127.0.0.1", 18090)); s.listen(1)
open(sys.argv[1], "w").close(); time.sleep(20)' "$T/ready" &
for _ in $(seq 200); do [ -e "$T/ready" ] && break; sleep 0.05; done
t0=$(date +%s%N); "$Q" audit --json > "$T/plain.json"; t1=$(date +%s%N)
echo $(( (t1 - t0) / 1000000 )) > "$T/plain.ms"
ov > "$T/ov0"
# keep connecting to the never-accepting backlog-1 listener for the whole window
python3 -c '
import socket, time
cs = []
for _ in range(25):
    for _ in range(4):
        c = socket.socket(); c.setblocking(False)
        try: c.connect(("127.0.0.1", 18090))
        except BlockingIOError: pass
        cs.append(c)
    time.sleep(0.2)' &
sleep 0.3
"$Q" audit --sample 3 --json > "$T/sample.json"
ov > "$T/ov1"
kill %1 %2 2>/dev/null
INNER
unshare -n bash "$T/inner.sh" "$QPS_TUNE" "$T"

cmp_ok "$(cat "$T/plain.ms")" -lt 1000 "a plain audit does not wait"
is "$(jq -r .sample_seconds "$T/sample.json")" 3 "the JSON records the sample window"
lq=$(jq -r '.checks[] | select(.id=="LQ-003" and .key=="TcpExt:ListenOverflows") | .status+" "+.current' "$T/sample.json")
like "$lq" '^fail \+[1-9][0-9]*/3s$' "LQ-003 fails with the overflows of the window"
d=$(printf '%s' "$lq" | sed -E 's/^fail \+([0-9]+).*/\1/')
kd=$(( $(cat "$T/ov1") - $(cat "$T/ov0") ))
cmp_ok "$d" -le "$kd" "audit's delta ($d) within the kernel counter's delta around it ($kd)"
like "$(jq -r '.checks[] | select(.id=="LQ-003" and .key=="listener 127.0.0.1:18090") | .status+" "+.evidence' "$T/sample.json")" \
	'^fail 127.0.0.1:18090 pid [0-9]+ python3 Recv-Q [0-9]+ of 1; sk_drops \+[1-9]' "the listener itself is named with its drops"
like "$(jq -r '.checks[] | select(.id=="PKT-001") | .current' "$T/sample.json")" '^\+[0-9]+/3s$' "softnet drops become a delta too"
# the row and its evidence line say the same: drops in the row == sk_drops in the evidence
row=$(jq -r '.checks[] | select(.id=="LQ-003" and .key=="listener 127.0.0.1:18090") | .current' "$T/sample.json")
ev=$(jq -r '.checks[] | select(.id=="LQ-003" and .key=="listener 127.0.0.1:18090") | .evidence' "$T/sample.json")
is "$(printf '%s' "$row" | sed -nE 's/.*drops \+([0-9]+)\/3s.*/\1/p')" "$(printf '%s' "$ev" | sed -nE 's/.*sk_drops \+([0-9]+) over 3s.*/\1/p')" \
	"the LQ-003 row's drops ($row) are its evidence's sk_drops"
done_testing
