#!/usr/bin/env bash
# loaded.t - a healthy server under real load attaches no costly probe:
# qps-server (2 workers) serving ~2000 requests/s from 40 keep-alive
# clients (one request each 20 ms). Nothing in the window points at
# blocking (no thread asleep in a syscall on the request path), descriptors
# (far below nofile), drops or retransmits, so diagnose attaches none of
# syslat, offcpu, acceptq and tcpdrop, and runqlat only if the run queue or a
# quota limits the server (a CPU finding: the box is shared). Checked from
# outside: the children diagnose starts and the BPF programs they hold
# (/proc/CHILD/fdinfo prog_id, bpftool), every 100 ms of the window; the JSON
# and the table say which probes were not needed and why.
. "$(dirname "$0")/../lib.sh"
plan 10
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
"$B/qps-server" -l 127.0.0.1:18311 -w 2 --defer-accept 0 2>"$T/server.log" &
S=$!
for _ in $(seq 100); do ss -Htln 'sport = :18311' | grep -q . && break; sleep 0.05; done
timeout -s KILL 6 "$B/qps-load" -c 0 -b 40 --burst-interval 20 -d 4 --json 127.0.0.1:18311 > "$T/load.json" 2>/dev/null &
L=$!
sleep 0.5
"$Q" diagnose --duration 3 --json > "$T/out.json" 2>"$T/err" &
D=$!
watch_probes $D "$T/watch"
wait $D; echo $? > "$T/rc"
"$Q" diagnose --duration 1.5 > "$T/out.txt" 2>&1
wait $L
kill $S; wait $S 2>/dev/null
INNER
unshare -n bash "$T/inner.sh" "$BUILD" "$T" "$(cd "$(dirname "$0")" && pwd)"

J=$T/out.json
reqs=$(jq -r '.requests' "$T/load.json")
cmp_ok "$reqs" -ge 2000 "the server was loaded: $reqs requests in 4 s"
cmp_ok "$(cat "$T/rc")" -ne 1 "diagnose ran (exit $(cat "$T/rc"))"
cpu=$(jq -r '[.findings[] | select(.name=="cpu-runqueue" or .name=="cpu-throttled")] | length' "$J")
diag "CPU findings: $cpu; children seen: $(grep -c '^child:' "$T/watch"); $(grep '^prog:' "$T/watch" | awk '{print $3}' | tr '\n' ' ')"
is "$(jq -r '[.probes[] | select(.name=="syslat" or .name=="offcpu" or .name=="acceptq" or .name=="tcpdrop") | .status] | join(" ")' "$J")" \
	"not-needed not-needed not-needed not-needed" "JSON: acceptq, syslat, offcpu, tcpdrop not needed"
like "$(jq -r '.probes[] | select(.name=="syslat") | .trigger' "$J")" '^no thread asleep in one non-idle syscall in 10% of [0-9]+ sample rounds.*; descriptors [0-9]+ of soft nofile [0-9]+ \(< 80%\)' \
	"  with why: no thread asleep in a syscall, descriptors far from nofile"
is "$(grep -c -E '^child: .* probe (syslat|offcpu|acceptq|tcpdrop) ' "$T/watch")" 0 "no syslat, offcpu, acceptq or tcpdrop child ran (seen from /proc)"
is "$(grep -c -E '^prog: .* (sl|oc|aq|td)_' "$T/watch")" 0 "no syslat, offcpu, acceptq or tcpdrop BPF program was held (fdinfo, bpftool)"
if [ "$cpu" = 0 ]; then
	is "$(jq -r '.probes[] | select(.name=="runqlat") | .status' "$J")" not-needed "no CPU finding: runqlat not needed"
	is "$(grep -c -E '^prog: .* rq_|^child: .* probe runqlat ' "$T/watch")" 0 "  and no runqlat program held"
else
	is "$(jq -r '.probes[] | select(.name=="runqlat") | .status' "$J")" used "a CPU finding: runqlat attached for it"
	cmp_ok "$(grep -c -E '^prog: runqlat rq_' "$T/watch")" -ge 1 "  and its programs were held"
fi
is "$(jq -r '[.probes[] | select(.started_s != null)] | length' "$J")" "$cpu" "started_s only for what was attached"
like "$(cat "$T/out.txt")" 'syslat +not needed: no thread asleep' "the table says why syslat was not attached"
done_testing
