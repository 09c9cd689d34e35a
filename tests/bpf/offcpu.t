#!/usr/bin/env bash
# offcpu: a thread blocked 5 x 300 ms on a pipe read -> >= 1.4 s attributed to
# a stack that contains the test program's own function name (symbolized from
# its ELF symbol table, not an address). The program exits ~2 s before the
# report: its frames must still resolve (maps snapshot at first sight).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 17
need_bpf

"$HELPER" pipeblock 5 300 "$TMP/go" > "$TMP/helper.out" &
hpid=$!
wait_for "$TMP/helper.out" ready 5
"${PROBE[@]}" offcpu --pid "$hpid" --json --duration 4 > "$TMP/report.json" 2> "$TMP/probe.err" &
ppid=$!
wait_for "$TMP/probe.err" tracing 10
touch "$TMP/go"
wait $hpid
# the helper is gone and the probe still running: the report comes after the exit
ok "the traced process exited before the report" kill -0 $ppid
wait $ppid; rc=$?

is "$rc" 0 "probe offcpu exits 0" || diag "$(cat "$TMP/probe.err")"
J=$TMP/report.json
is "$(jq -r .schema "$J" 2>/dev/null)" "qps-tune.probe.offcpu/1" "one JSON document with the versioned schema"
S=$(jq -c '[.stacks[] | select(any(.user[]; startswith("offcpu_test_")))] | max_by(.total_us)' "$J" 2>/dev/null)
like "$S" '"user":\[[^]]*"offcpu_test_' "a stack names the test program's function offcpu_test_*"
us=$(jq -r '.total_us // 0 | floor' <<<"${S:-null}" 2>/dev/null)
diag "stack: $(jq -c '{total_us, count, user, kernel}' <<<"${S:-null}" 2>/dev/null)"
cmp_ok "${us:-0}" -ge 1400000 "at least 1.4 s off CPU on that stack (got ${us:-0} us)"
# >= 5: a wakeup that finds the pipe still empty adds a short period
cmp_ok "$(jq -r '.count // 0' <<<"${S:-null}")" -ge 5 "at least 5 off-CPU periods on that stack"
like "$(jq -r '.kernel | join(";")' <<<"${S:-null}")" 'pipe_read' "its kernel stack is symbolized (pipe_read)"
is "$(jq -r '[.user[] | select(. == "[unknown]")] | length' <<<"${S:-null}")" 0 "no [unknown] user frame although the process exited"

# --folded: one line per stack, root first, kernel frames marked _[k]
"$HELPER" pipeblock 3 100 "$TMP/go2" > "$TMP/helper2.out" &
h2=$!
wait_for "$TMP/helper2.out" ready 5
"${PROBE[@]}" offcpu --pid "$h2" --folded --duration 2 > "$TMP/folded.txt" 2> "$TMP/probe2.err" &
p2=$!
wait_for "$TMP/probe2.err" tracing 10
touch "$TMP/go2"
wait $h2; wait $p2
line=$(grep offcpu_test_ "$TMP/folded.txt" | head -1)
like "$line" '^probe-helper;.*offcpu_test_thread;.*;schedule_\[k\];__schedule_\[k\] [0-9]+$' "--folded line: comm;user frames;kernel frames_[k] microseconds"
# a "container": the binary lives on a tmpfs mounted only in the process's own
# mount namespace, so its path does not exist on the host; it also execs
# (sh -> probe-helper) after it was first seen
mkdir -p "$TMP/ct"
unshare -m sh -c 'mount -t tmpfs none "$1" && cp "$2" "$1/ct-helper" && exec "$1/ct-helper" pipeblock 2 200 "$3"' \
	_ "$TMP/ct" "$HELPER" "$TMP/go3" > "$TMP/helper3.out" &
h3=$!
wait_for "$TMP/helper3.out" ready 5
"${PROBE[@]}" offcpu --pid "$h3" --json --duration 2 > "$TMP/ct.json" 2> "$TMP/probe3.err" &
p3=$!
wait_for "$TMP/probe3.err" tracing 10
touch "$TMP/go3"
wait $h3; wait $p3
ok "the binary's path is not visible on the host" test ! -e "$TMP/ct/ct-helper"
S=$(jq -c '[.stacks[] | select(any(.user[]; . == "offcpu_test_thread"))] | max_by(.total_us)' "$TMP/ct.json" 2>/dev/null)
cmp_ok "$(jq -r '.total_us // 0 | floor' <<<"${S:-null}")" -ge 380000 "binary only in the process's mount namespace: offcpu_test_thread resolved, >= 0.38 s"

# Rows: one per (process, stacks) as printed. A second program on
# sched_switch (another tracer, started halfway and stopped) changes the raw
# kernel stack (the kernel calls __traceiter_sched_switch instead of the
# static call), so the same stack as printed gets two stack ids; and when the
# process exits, its keys are drained together: the first must not free the
# user stack the others still need.
"$HELPER" pipeblock 6 250 "$TMP/go6" > "$TMP/helper6.out" &
h6=$!
wait_for "$TMP/helper6.out" ready 5
"${PROBE[@]}" offcpu --pid "$h6" --json --duration 4 > "$TMP/rows.json" 2> "$TMP/probe6.err" &
p6=$!
wait_for "$TMP/probe6.err" tracing 10
touch "$TMP/go6"
sleep 0.6
"${PROBE[@]}" offcpu --pid 1 --duration 0.6 > /dev/null 2> "$TMP/probe7.err" &
p7=$!
wait $h6; wait $p7; wait $p6
dups=$(jq '[.stacks[] | {pid, comm, cgroup_id, kernel, user}] | length - (unique | length)' "$TMP/rows.json" 2>/dev/null)
diag "pipe_read rows: $(jq -c '[.stacks[] | select(any(.kernel[]; test("pipe_read"))) | {total_us, count, user}]' "$TMP/rows.json" 2>/dev/null)"
is "${dups:-x}" 0 "no two rows with the same process and stacks (tracers coming and going)"
is "$(jq '[.stacks[] | select(any(.kernel[]; test("pipe_read"))) | select(.user | length == 0)] | length' "$TMP/rows.json" 2>/dev/null)" 0 \
	"every drained key of the exited process keeps its user frames"
S=$(jq -c '[.stacks[] | select(any(.user[]; . == "offcpu_test_thread"))] | max_by(.total_us)' "$TMP/rows.json" 2>/dev/null)
cmp_ok "$(jq -r '.count // 0' <<<"${S:-null}")" -ge 6 "the 6 blocks on one row (got $(jq -c '{total_us, count}' <<<"${S:-null}" 2>/dev/null))"
# --svg FILE: the flame graph of the same stacks (probes/flamegraph.c):
# well-formed XML (Python's parser), the blocking function named with the
# microseconds the JSON report gives its stacks (>= 4 x 200 ms by the clock)
"$HELPER" pipeblock 4 200 "$TMP/go8" > "$TMP/helper8.out" &
h8=$!
wait_for "$TMP/helper8.out" ready 5
"${PROBE[@]}" offcpu --pid "$h8" --json --svg "$TMP/oc.svg" --duration 60 > "$TMP/svg.json" 2> "$TMP/probe8.err" &
p8=$!
wait_for "$TMP/probe8.err" tracing 10
touch "$TMP/go8"; wait $h8; kill -TERM $p8; wait $p8
ok "offcpu --svg: the SVG is well-formed XML" python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$TMP/oc.svg"
svg_us=$(python3 - "$TMP/oc.svg" <<'EOF2' 2>/dev/null
import re, sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
t = [x.text for x in r.iter('{http://www.w3.org/2000/svg}title') if x.text and x.text.startswith('offcpu_test_thread (')]
print(sum(int(re.match(r'offcpu_test_thread \(([0-9]+)', x).group(1)) for x in t) if t else 0)
EOF2
)
json_us=$(jq '[.stacks[] | select(any(.user[]; . == "offcpu_test_thread")) | .total_us | floor] | add // 0' "$TMP/svg.json" 2>/dev/null)
diag "offcpu_test_thread in the SVG: ${svg_us:-?} us; in the JSON: $json_us us"
cmp_ok "${svg_us:-0}" -ge 700000 "the SVG names offcpu_test_thread, >= 0.7 s off CPU (4 x 200 ms)"
d=$(( ${svg_us:-0} - ${json_us:-0} )); d=${d#-}
cmp_ok "$d" -le 5 "... with the microseconds of the JSON report's stacks ($svg_us vs $json_us)"
done_testing
