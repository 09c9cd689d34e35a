#!/usr/bin/env bash
# Capabilities only (CAP_BPF + CAP_PERFMON, no CAP_SYS_ADMIN, no CAP_SYSLOG),
# as a service granted just those would run: the probes load, and what the
# missing CAP_SYSLOG hides is said exactly. The kernel shows /proc/kallsyms
# addresses when kptr_restrict is 0 and perf_event_paranoid <= 1, or to
# CAP_SYSLOG when kptr_restrict <= 1 (kallsyms_show_value()); the test reads
# both sysctls itself to know what to expect. With CAP_SYSLOG added back,
# kernel frames are named again: that capability is the cause. User frames
# need the mapped files, opened only through /proc/PID/map_files or
# /proc/PID/root (never the bare path): without CAP_SYS_PTRACE (or
# CAP_SYS_ADMIN) another process's files stay closed and frames print as
# file+offset, never as a guessed name.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 19
need_bpf
command -v setpriv >/dev/null || skip_rest "setpriv (util-linux) is not installed"

kr=$(cat /proc/sys/kernel/kptr_restrict) par=$(cat /proc/sys/kernel/perf_event_paranoid)
caps() { local c=$1; shift; setpriv --inh-caps=-all,$c --ambient-caps=-all,$c --bounding-set=-all,$c "$@"; }
is "$(caps +bpf,+perfmon grep CapEff /proc/self/status | awk '{print $2}')" 000000c000000000 "setpriv leaves exactly CAP_BPF and CAP_PERFMON"

"$HELPER" pipeblock 2 300 "$TMP/go" > "$TMP/h.out" &
h=$!
wait_for "$TMP/h.out" ready 5
caps +bpf,+perfmon "${PROBE[@]}" offcpu --pid "$h" --json --duration 1.5 > "$TMP/oc.json" 2> "$TMP/oc.err" &
p1=$!
caps +bpf,+perfmon,+syslog,+sys_ptrace "${PROBE[@]}" offcpu --pid "$h" --json --duration 1.5 > "$TMP/ocs.json" 2> "$TMP/ocs.err" &
p2=$!
wait_for "$TMP/oc.err" tracing 10; wait_for "$TMP/ocs.err" tracing 10
touch "$TMP/go"; wait $h; wait $p1; rc=$?; wait $p2
is "$rc" 0 "offcpu runs with CAP_BPF + CAP_PERFMON only" || diag "$(cat "$TMP/oc.err")"
S=$(jq -c '[.stacks[] | select(any(.user[]; startswith("probe-helper+0x")))] | max_by(.total_us)' "$TMP/oc.json" 2>/dev/null)
diag "kptr_restrict $kr, perf_event_paranoid $par; kernel_symbols: $(jq -r .kernel_symbols "$TMP/oc.json" 2>/dev/null); kernel: $(jq -c .kernel <<<"${S:-null}" 2>/dev/null)"
if [ "$kr" -ge 2 ] || [ "$par" -gt 1 ] || [ "$kr" = 1 ]; then
	if [ "$kr" -ge 2 ]; then want="kernel.kptr_restrict is $kr"; elif [ "$kr" = 1 ]; then want="kptr_restrict is 1 and this process lacks CAP_SYSLOG"; else want="lacks CAP_SYSLOG and kernel.perf_event_paranoid is $par"; fi
	like "$(jq -r .kernel_symbols "$TMP/oc.json" 2>/dev/null)" "$want" "offcpu JSON names the cause ($want)"
	like "$(cat "$TMP/oc.err")" "warning: kernel frames stay addresses: .*$want" "... and warns on stderr"
	like "$(jq -r '.kernel | join(" ")' <<<"${S:-null}")" '^0x[0-9a-f]+( 0x[0-9a-f]+)*$' "kernel frames are addresses, visibly"
else
	is "$(jq -r .kernel_symbols "$TMP/oc.json" 2>/dev/null)" "named (/proc/kallsyms)" "sysctls show addresses to all: symbols named"
	is "$(grep -c warning "$TMP/oc.err")" 0 "... and no warning"
	like "$(jq -r '.kernel | join(";")' <<<"${S:-null}")" 'pipe_read' "kernel frames named"
fi
S=$(jq -c '[.stacks[] | select(any(.user[]; startswith("offcpu_test_")))] | max_by(.total_us)' "$TMP/ocs.json" 2>/dev/null)
if [ "$kr" -ge 2 ]; then
	skip "kernel.kptr_restrict is $kr: even CAP_SYSLOG sees no addresses" "CAP_SYSLOG added: kernel frames named"
else
	like "$(jq -r '.kernel | join(";")' <<<"${S:-null}")" 'pipe_read' "CAP_SYSLOG (+ CAP_SYS_PTRACE) added: kernel frames named (pipe_read)"
fi
like "$(jq -r '.user | join(";")' <<<"${S:-null}")" 'offcpu_test_' "with CAP_SYS_PTRACE user frames are named"
S=$(jq -c '[.stacks[] | select(any(.user[]; startswith("probe-helper")))] | max_by(.total_us)' "$TMP/oc.json" 2>/dev/null)
user=$(jq -r '.user | join(";")' <<<"${S:-null}")
like "$user" 'probe-helper\+0x[0-9a-f]+' "without it the helper's frames are file+offset (its files were not opened)"
case $user in *offcpu_test_*) fail "... and never a guessed name" "$user" ;; *) pass "... and never a guessed name" ;; esac
# ... and the report says why (STYLE.md section 14): the files were not opened
# because /proc/PID/root needs ptrace access.
why=$(jq -r '.user_symbols.why // empty' "$TMP/oc.json" 2>/dev/null)
diag "user_symbols: $(jq -c .user_symbols "$TMP/oc.json" 2>/dev/null)"
like "$why" "^[0-9]+ files? of pid $h not opened: /proc/$h/root needs ptrace access \\(this process lacks CAP_SYS_PTRACE\\)" \
	"JSON user_symbols.why names the process and the missing CAP_SYS_PTRACE"
cmp_ok "$(jq -r '.user_symbols.files_unreadable // 0' "$TMP/oc.json" 2>/dev/null)" -ge 1 "... and counts the files not opened"
like "$(cat "$TMP/oc.err")" "warning: user frames print file\\+offset where files were not opened: .*CAP_SYS_PTRACE" "... and warns on stderr"
is "$(jq -r '"\(.user_symbols.files_unreadable) \(.user_symbols.why)"' "$TMP/ocs.json" 2>/dev/null)" "0 null" "with CAP_SYS_PTRACE every file opened: 0 unreadable, why is null"
# oncpu, text report, same capabilities. The witness: with the same
# capabilities the spinner's /proc/PID/root cannot be opened either, and
# with CAP_SYS_PTRACE it can.
"$BUILD/tests/bpf/incident-helper" spin 1.5 "$TMP/gos" > "$TMP/s.out" &
sp=$!
wait_for "$TMP/s.out" ready 5
w1=$(caps +bpf,+perfmon ls "/proc/$sp/root/" > /dev/null 2>&1 && echo opens || echo denied)
w2=$(caps +bpf,+perfmon,+sys_ptrace ls "/proc/$sp/root/" > /dev/null 2>&1 && echo opens || echo denied)
caps +bpf,+perfmon "${PROBE[@]}" oncpu --pid "$sp" --duration 1 > "$TMP/on.txt" 2> "$TMP/on.err" &
p3=$!
wait_for "$TMP/on.err" tracing 10
touch "$TMP/gos"; wait $p3; wait $sp
is "$w1 $w2" "denied opens" "witness: /proc/PID/root needs CAP_SYS_PTRACE for these capabilities"
like "$(cat "$TMP/on.txt")" "user frames print file\\+offset where files were not opened: [0-9]+ files? of pid $sp not opened: /proc/$sp/root needs ptrace access" \
	"oncpu's text report says which files of which process were not opened, and why"

# acceptq: without kernel symbols, drops on the listener are told apart by reason only
unshare -n sh -c 'ip link set lo up; exec "$0" listen 18083 2 6' "$HELPER" > "$TMP/l.out" &
lpid=$!
wait_for "$TMP/l.out" ready 5
nsenter -t "$lpid" -n setpriv --inh-caps=-all,+bpf,+perfmon --ambient-caps=-all,+bpf,+perfmon --bounding-set=-all,+bpf,+perfmon \
	"${PROBE[@]}" acceptq --json --duration 1 > "$TMP/aq.json" 2> "$TMP/aq.err"; rc=$?
kill $lpid 2>/dev/null
if [ "$kr" -ge 1 ] || [ "$par" -gt 1 ]; then
	is "$rc:$(jq -r '.listeners | length' "$TMP/aq.json" 2>/dev/null)" "0:1" "acceptq runs with the two capabilities and sees the listener" || diag "$(cat "$TMP/aq.err")"
	like "$(jq -r .method.kernel_symbols "$TMP/aq.json" 2>/dev/null)" "CAP_SYSLOG|kptr_restrict" "acceptq JSON names why drops are attributed by reason only"
else
	is "$rc:$(jq -r '.listeners | length' "$TMP/aq.json" 2>/dev/null)" "0:1" "acceptq runs with the two capabilities and sees the listener"
	is "$(jq -r .method.kernel_symbols "$TMP/aq.json" 2>/dev/null)" "named (/proc/kallsyms)" "acceptq: symbols named"
fi
# the perf witness of kfree_skb: its tracepoint id comes from tracefs, which
# the probe mounts privately when the host has none mounted - that needs
# CAP_SYS_ADMIN, so without it the report says the witness is missing and why
if grep -q ' - tracefs ' /proc/self/mountinfo; then
	is "$(jq -r .unseen.witness "$TMP/aq.json" 2>/dev/null)" "perf counters of skb:kfree_skb" "acceptq: tracefs mounted, the witness works with CAP_PERFMON"
	is "$(jq -r .unseen.kfree_skb_not_delivered "$TMP/aq.json" 2>/dev/null)" 0 "acceptq: nothing undelivered"
else
	like "$(jq -r '"\(.unseen.kfree_skb_not_delivered) \(.unseen.witness)"' "$TMP/aq.json" 2>/dev/null)" '^null .*mounting it privately needs CAP_SYS_ADMIN' \
		"acceptq JSON: no witness without tracefs and CAP_SYS_ADMIN, and why (not_delivered null)"
	like "$(cat "$TMP/aq.err")" 'no witness of the tracepoints .*CAP_SYS_ADMIN.*cannot be counted' "acceptq says so on stderr too"
fi
done_testing
