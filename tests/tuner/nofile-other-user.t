#!/usr/bin/env bash
# nofile-other-user.t - a server that dropped to another user (nginx's
# workers run as nobody): reading its nofile limit with prlimit() needs
# CAP_SYS_RESOURCE, which root without it (a container, a sandbox, a
# CAP_BPF-only operator) lacks. audit's FD-001 and diagnose still report the
# limit, from /proc/PID/limits - checked against the limits the process was
# started with and the kernel's own /proc/PID/limits, with CAP_SYS_RESOURCE
# dropped from the bounding set so that prlimit() really fails.
. "$(dirname "$0")/../lib.sh"
plan 5
is_root || skip_rest "needs root to start a process as nobody"
command -v setpriv >/dev/null || skip_rest "setpriv (util-linux) not installed"

T=$(mktemp -d)
chmod 755 "$T"
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
prlimit --nofile=1234:5678 setpriv --reuid=65534 --regid=65534 --clear-groups sleep 30 &
P=$!
for _ in $(seq 50); do [ "$(stat -c %u "/proc/$P" 2>/dev/null)" = 65534 ] && break; sleep 0.05; done
is "$(awk '/^Max open files/ { print $4, $5 }' "/proc/$P/limits")" "1234 5678" "the process runs with nofile 1234:5678 (/proc/$P/limits)"
NOCAP=(setpriv --bounding-set -sys_resource --inh-caps -sys_resource)
if "${NOCAP[@]}" prlimit -p "$P" -n > /dev/null 2>&1; then
	fail "prlimit(2) of another user's process fails without CAP_SYS_RESOURCE"
else
	pass "prlimit(2) of another user's process fails without CAP_SYS_RESOURCE"
fi
"${NOCAP[@]}" "$BUILD/qps-tune" audit --pid "$P" --json > "$T/a.json" 2> "$T/a.err"
is "$(jq -r '.checks[] | select(.id=="FD-001") | .status' "$T/a.json")" fail "audit: FD-001 judged (soft 1234 is below the profile's), not skipped" ||
	diag "$(jq -c '.checks[] | select(.id=="FD-001")' "$T/a.json")"
like "$(jq -r '.checks[] | select(.id=="FD-001") | .current' "$T/a.json")" '^soft 1234$' "audit: FD-001 current is the soft limit, 1234"
"${NOCAP[@]}" "$BUILD/qps-tune" diagnose --pid "$P" --duration 0.5 --no-probes --json > "$T/d.json" 2> "$T/d.err"
like "$(jq -r '.checked[] | select(.what=="descriptors") | .figures' "$T/d.json")" 'of soft nofile 1234 \(hard 5678\)' "diagnose: the descriptor check names soft nofile 1234" ||
	diag "$(jq -c '.checked' "$T/d.json")"
done_testing
