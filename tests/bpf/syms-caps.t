#!/usr/bin/env bash
# syms-caps: offcpu run without CAP_SYSLOG (as with CAP_BPF + CAP_PERFMON
# only) says why kernel frames stay addresses, naming what is really
# missing. The kernel's verdict is read independently: /proc/kallsyms as
# seen by the same reduced process (zero addresses or not); the expected
# cause follows kallsyms_show_value() on the live sysctls (not changed here).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 3
need_bpf
command -v setpriv > /dev/null || skip_rest "setpriv (util-linux) not installed"

NOSYSLOG=(setpriv --bounding-set=-syslog --inh-caps=-syslog)
first=$("${NOSYSLOG[@]}" head -1 /proc/kallsyms | awk '{print $1}')
kptr=$(cat /proc/sys/kernel/kptr_restrict)
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid)
diag "without CAP_SYSLOG /proc/kallsyms starts at $first (kptr_restrict $kptr, perf_event_paranoid $paranoid)"
"${NOSYSLOG[@]}" "${PROBE[@]}" offcpu --duration 1 --top 1 > "$TMP/out" 2> "$TMP/err"
is "$?" 0 "the probe runs without CAP_SYSLOG"
msg=$(grep 'kernel symbols' "$TMP/err")
if [ "$first" != 0000000000000000 ]; then
	is "$msg" "" "addresses visible without CAP_SYSLOG here: no complaint"
	pass "nothing to explain"
elif [ "$kptr" -ge 2 ]; then
	like "$msg" "kernel.kptr_restrict is $kptr" "the message names kernel.kptr_restrict"
	ok "and does not blame CAP_SYSLOG alone" sh -c '! grep -q "lacks CAP_SYSLOG" "$1"' _ "$TMP/err"
else
	like "$msg" "lacks CAP_SYSLOG" "the message names CAP_SYSLOG: $msg"
	if [ "$kptr" = 0 ]; then
		like "$msg" "perf_event_paranoid is $paranoid" "and kernel.perf_event_paranoid ($paranoid), the other way to show addresses"
	else
		like "$msg" "kptr_restrict is 1" "and kernel.kptr_restrict 1"
	fi
fi
done_testing
