#!/usr/bin/env bash
# make demo, shortened (--quick: the same code path, shorter load runs): the
# story must hold - before: trouble; after apply: no errors, no accept-queue
# drops, more requests/s; after rollback: every namespace value as it was.
# Then Ctrl-C in the middle leaves no namespace and no process behind.
source "$(dirname "$0")/../lib.sh"
LOAD=${QPS_LOAD:-$BUILD/qps-load}

plan 17
is_root || skip_rest "needs root (network namespaces, sysctls, BPF)"
for b in "$QPS_SERVER" "$QPS_TUNE" "$LOAD"; do
	[ -x "$b" ] || skip_rest "$(basename "$b") is not built yet ($b missing)"
done
command -v jq >/dev/null || skip_rest "needs jq"

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export BUILD QPS_SERVER QPS_TUNE QPS_LOAD=$LOAD

timeout -k 5 100 "$QPS_ROOT/scripts/demo.sh" --quick --json "$T/demo.json" >"$T/out" 2>"$T/err"
rc=$?
is "$rc" 0 "demo --quick runs to the end"
if [ "$rc" != 0 ]; then
	tail -30 "$T/out" | sed 's/^/#   /'
	tail -10 "$T/err" | sed 's/^/#   /'
fi
j() { jq -r "$1" "$T/demo.json" 2>/dev/null; }
is "$(j .schema)" "qps-tune.demo/1" "JSON summary written"
cmp_ok "$(j '.before.errors.total + .before.listen_overflows')" -gt 0 \
	"before: the poor host shows errors or accept-queue drops ($(j .before.errors.total) errors, $(j .before.listen_overflows) drops)"
cmp_ok "$(j '.audit.failed | length')" -gt 0 "audit found what explains it ($(j '.audit.failed | join(",")'))"
like "$(j '.diagnose.findings[0]')" '^(accept-queue-overflow|descriptor-exhaustion)$' \
	"diagnose, under the load, names the accept queue or the descriptors first ($(j '.diagnose.findings | join(",")'))"
cmp_ok "$(j .apply.changed)" -gt 0 "apply changed something ($(j .apply.changed))"
is "$(j .after.errors.total)" 0 "after apply: zero errors"
is "$(j .after.listen_overflows)" 0 "after apply: zero accept-queue drops (ListenOverflows)"
is "$(j .after.server_alive)" true "after apply: the server survived the load"
cmp_ok "$(j '.after.rps | floor')" -gt "$(j '.before.rps | floor')" \
	"after apply: more requests/s ($(j '.before.rps | floor') -> $(j '.after.rps | floor'))"
cmp_ok "$(j .rollback.keys_compared)" -gt 0 "rollback: keys apply changed were compared"
is "$(j .rollback.mismatches)" 0 "rollback: every key apply changed is back, byte for byte"
is "$(j .rollback.namespace_diffs)" 0 "rollback: all $(j .rollback.namespace_values) net.* values of the namespace as before"
like "$(cat "$T/out")" "\[6/6\]" "the story printed all six steps"

# Ctrl-C during the first load run: the whole process group gets SIGINT, as
# from a terminal (job control gives the background job its own group).
set -m
"$QPS_ROOT/scripts/demo.sh" --quick >"$T/int.out" 2>&1 &
pg=$!
set +m
ns="" pids=""
for _ in $(seq 200); do	# up to 20 s for the load to start
	grep -q '^\[2/6\]' "$T/int.out" 2>/dev/null && break
	sleep 0.1
done
ns=$(sed -n "s/.*network namespace '\(qps-demo-[0-9]*\)'.*/\1/p" "$T/int.out" | head -1)
sleep 1
[ -n "$ns" ] && pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
kill -INT -- "-$pg" 2>/dev/null
for _ in $(seq 150); do kill -0 "$pg" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pg" 2>/dev/null && { kill -KILL -- "-$pg" 2>/dev/null; fail "demo exits after Ctrl-C"; } ||
	pass "demo exits after Ctrl-C"
cmp_ok "$(printf '%s' "$pids" | wc -w)" -gt 0 "processes were running in '$ns' when interrupted ($pids)"
left=""
for p in $pids; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
if [ -n "$ns" ] && ! ip netns list | grep -qw "$ns" && [ -z "$left" ]; then
	pass "after Ctrl-C: namespace '$ns' deleted, no process left"
else
	fail "after Ctrl-C: namespace '$ns' deleted, no process left" "still there:$left $(ip netns list | grep -w "$ns")"
	for p in $left; do kill -KILL "$p" 2>/dev/null; done
	[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
fi
done_testing
