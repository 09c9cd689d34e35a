#!/usr/bin/env bash
# readiness.t - audit's probe-readiness checks agree with what actually loads:
# PROBE-004 (fentry) must say "available" exactly when the acceptq probe,
# which tries fentry first at run time, ends up using it.
source "$(dirname "$0")/../lib.sh"
plan 4
is_root || skip_rest "needs root (BPF)"

json=$("$QPS_TUNE" audit --json 2>/dev/null)
rc=$?
ok "audit --json exits 0 or 3 (got $rc)" test "$rc" -eq 0 -o "$rc" -eq 3
fentry=$(printf '%s' "$json" | jq -r '.checks[] | select(.id == "PROBE-004") | .current')
like "$fentry" '^(available|refused \(EPERM\)|unavailable)$' "PROBE-004 reports fentry state: $fentry"

syn=$(timeout 20 "$QPS_TUNE" probe acceptq --duration 0.3 --json 2>/dev/null | jq -r '.method.syn_overflow')
# one of the probe's three answers, not jq's "null" of a missing report
like "$syn" '^(fentry/tcp_conn_request \(exact\)|kprobe/tcp_conn_request \(exact\)|not traced per event .*)$' \
	"acceptq reports its SYN-path method: $syn"
if printf '%s' "$syn" | grep -q '^fentry/'; then
	is "$fentry" available "fentry works for the probe, so audit says available"
else
	ok "the probe could not use fentry, so audit must not say available (says '$fentry')" \
		test "$fentry" != available
fi
done_testing
