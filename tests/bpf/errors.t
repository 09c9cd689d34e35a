#!/usr/bin/env bash
# Errors users will hit: clear message on stderr, {"error": ...} with --json,
# exit 1 for failures and 2 for usage errors.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 17
need_bpf

true & dead=$!; wait $dead
out=$("${PROBE[@]}" syslat --pid "$dead" --duration 1 2>&1 >/dev/null); rc=$?
is "$rc" 1 "unknown --pid: exit 1"
like "$out" "no process with --pid $dead" "unknown --pid: says so"
js=$("${PROBE[@]}" offcpu --json --pid "$dead" --duration 1 2>/dev/null)
like "$(jq -r .error <<<"$js" 2>/dev/null)" "^probe offcpu: no process with --pid $dead" "--json: {\"error\": ...} on stdout"

"${PROBE[@]}" acceptq --bogus >/dev/null 2>&1; is "$?" 2 "unknown option: exit 2"
"${PROBE[@]}" syslat --duration soon >/dev/null 2>&1; is "$?" 2 "bad --duration: exit 2"
out=$("${PROBE[@]}" nosuch 2>&1); rc=$?
is "$rc:$(grep -c "unknown probe 'nosuch'" <<<"$out")" "2:1" "unknown probe: exit 2, named"
out=$("${PROBE[@]}" offcpu --folded --json 2>&1); rc=$?
is "$rc" 2 "--folded with --json: exit 2"
"${PROBE[@]}" syslat --help | grep -q -- --min-us; is "$?" 0 "--help lists the options"

# a kernel without a needed tracepoint (simulated): say which, and what is
# still reported
out=$(QPS_PROBE_PRETEND_NO_TP=sys_enter "${PROBE[@]}" syslat --duration 1 2>&1); rc=$?
is "$rc" 1 "no raw_syscalls tracepoints: syslat exits 1"
like "$out" "raw_syscalls:sys_enter/sys_exit" "... and names them"
out=$(QPS_PROBE_PRETEND_NO_TP=sched_switch "${PROBE[@]}" offcpu --duration 1 2>&1 >/dev/null); rc=$?
is "$rc:$(grep -c "sched:sched_switch" <<<"$out")" "1:1" "no sched_switch: offcpu exits 1 naming it"
js=$(QPS_PROBE_PRETEND_NO_TP=sk_data_ready "${PROBE[@]}" acceptq --json --duration 1 2>"$TMP/aq.err"); rc=$?
is "$rc:$(jq -r '.method.enqueue | startswith("not traced")' <<<"$js" 2>/dev/null)" "0:true" \
	"no sk_data_ready: acceptq still runs, method says enqueues are not traced"
like "$(cat "$TMP/aq.err")" "no sock:sk_data_ready tracepoint.*still reported" "... and says what is still reported"

# without privileges: drop to nobody with no capabilities. The binary is
# copied where nobody can reach it (the clone may sit under a 0700 directory).
chmod 755 "$TMP"
cp "${PROBE[0]}" "$TMP/probe-bin" && chmod 755 "$TMP/probe-bin"
NP=("$TMP/probe-bin" "${PROBE[@]:1}")
if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	test -x "${NP[0]}" 2>/dev/null; then
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
		"${NP[@]}" syslat --duration 1 2>&1 >/dev/null); rc=$?
	is "$rc" 1 "unprivileged: exit 1"
	like "$out" "need root, or CAP_BPF and CAP_PERFMON" "unprivileged: says which capabilities"
	like "$out" "setcap cap_bpf,cap_perfmon\+ep" "unprivileged: says how to fix"
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
		"${NP[@]}" acceptq --json --duration 1 2>/dev/null)
	like "$(jq -r .error <<<"$out" 2>/dev/null)" "need root" "unprivileged --json: error document"
else
	for t in "unprivileged: exit 1" "unprivileged: says which capabilities" "unprivileged: says how to fix" "unprivileged --json: error document"; do
		skip "setpriv (util-linux) is not installed" "$t"
	done
fi
done_testing
