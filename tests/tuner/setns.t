#!/usr/bin/env bash
# setns.t - --pid audits and changes the network namespace of that process
# (setns), not ours; rollback run from outside finds its way back through the
# journal's pid. Our own namespace is checked to be untouched.
. "$(dirname "$0")/../lib.sh"
plan 9
is_root || skip_rest "needs root for unshare -n and setns"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"

T=$(mktemp -d)
export QPS_TUNE_RUN_DIR=$T/run	# host-wide lock and journal registry of this test only
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
# the outer test itself runs in a scratch netns too, so nothing here can touch the host
cat > "$T/outer.sh" <<'OUTER'
set -u
Q=$1 T=$2
sysctl -qw net.core.somaxconn=1000
unshare -n sh -c 'sysctl -qw net.core.somaxconn=128; exec sleep 30' &
pid=$!
# the child execs sleep after setting its somaxconn
for _ in $(seq 200); do [ "$(cat /proc/$pid/comm 2>/dev/null)" = sleep ] && break; sleep 0.02; done
echo "$pid" > "$T/pid"
stat -Lc %i /proc/$pid/ns/net > "$T/child-ns"
"$Q" audit --pid "$pid" --conns 100 --json > "$T/a.json"; echo $? > "$T/a.rc"
"$Q" apply --pid "$pid" --conns 100 --state-dir "$T/st" > "$T/apply.txt" 2>&1; echo $? > "$T/apply.rc"
nsenter -t "$pid" -n cat /proc/sys/net/core/somaxconn > "$T/child-after"
cat /proc/sys/net/core/somaxconn > "$T/ours-after"
"$Q" rollback --state-dir "$T/st" > "$T/rb.txt" 2>&1; echo $? > "$T/rb.rc"
nsenter -t "$pid" -n cat /proc/sys/net/core/somaxconn > "$T/child-rb"
cat /proc/sys/net/core/somaxconn > "$T/ours-rb"
kill "$pid"
OUTER
unshare -n bash "$T/outer.sh" "$QPS_TUNE" "$T"

is "$(cat "$T/a.rc")" 3 "audit --pid exits 3 for the child's bad somaxconn"
is "$(jq -r .host.netns "$T/a.json")" "$(cat "$T/child-ns")" "audit --pid reports the child's netns"
is "$(jq -r '.checks[] | select(.key=="net.core.somaxconn") | .current' "$T/a.json")" 128 \
	"audit --pid read the child's somaxconn, not ours (1000)"
is "$(cat "$T/apply.rc")" 0 "apply --pid exits 0"
is "$(cat "$T/child-after")" 4096 "apply --pid changed the child's netns"
is "$(cat "$T/ours-after")" 1000 "our netns untouched"
is "$(cat "$T/rb.rc")" 0 "rollback from outside exits 0"
is "$(cat "$T/child-rb")" 128 "rollback restored the child's value through the journal's pid"
is "$(cat "$T/ours-rb")" 1000 "our netns still untouched"
done_testing
