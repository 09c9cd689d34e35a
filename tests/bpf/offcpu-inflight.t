#!/usr/bin/env bash
# offcpu in flight: threads still off CPU when the report is made.
#  1. A thread blocked in read(2) since before the probe started and through
#     the whole window: listed with its thread id (checked in
#     /proc/PID/task/TID/syscall: it is in read), state S, off CPU for at
#     least the run (by the test's clock), and its stacks (the kernel's
#     pipe_read, the program's offcpu_test_thread).
#  2. A thread that blocks during the window and is still blocked at the
#     end: its switch-out time is known, so its off-CPU time lies between
#     what the test's clock allows.
#  3. The text report lists them too.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 13
need_bpf

# 1. blocked before the start, 6 s: longer than the 2 s window
"$HELPER" pipeblock 1 6000 > "$TMP/h1.out" &
h1=$!
wait_for "$TMP/h1.out" ready 5
for i in $(seq 50); do [ "$(ls /proc/$h1/task | wc -l)" = 2 ] && break; sleep 0.05; done
tid=$(ls /proc/$h1/task | grep -vx "$h1")
sleep 0.2
# independent: the kernel says that thread is in syscall 0 (read) right now
sc=$(cut -d' ' -f1 "/proc/$h1/task/$tid/syscall" 2>/dev/null)
t0=$(date +%s%N)
"${PROBE[@]}" offcpu --pid "$h1" --json --duration 2 > "$TMP/r1.json" 2> "$TMP/r1.err"; rc=$?
t1=$(date +%s%N)
is "$rc:$sc" "0:0" "probe exits 0; the blocked thread is in read(2) per /proc/PID/task/TID/syscall" || diag "$(cat "$TMP/r1.err")"
T=$(jq -c --argjson t "${tid:-0}" '.in_flight.threads[] | select(.tid == $t)' "$TMP/r1.json" 2>/dev/null)
diag "in flight: $(jq -c '{pid, tid, state, off_us, since_before_start, user, kernel}' <<<"${T:-null}" 2>/dev/null)"
is "$(jq -r '.pid' <<<"${T:-null}")" "$h1" "the thread blocked through the whole window is listed (tid $tid of pid $h1)"
like "$(jq -r .state <<<"${T:-null}")" '^S ' "its state is S (sleeping), as in /proc"
is "$(jq -r .since_before_start <<<"${T:-null}")" true "marked off CPU since before the probe started"
run_us=$(( (t1 - t0) / 1000 ))
off=$(jq -r '.off_us // 0 | floor' <<<"${T:-null}")
cmp_ok "$off" -ge 1900000 "off CPU for at least the 2 s run ($off us)"
cmp_ok "$off" -le "$run_us" "and not more than the probe ran by the test's clock ($run_us us)"
like "$(jq -r '.kernel | join(";")' <<<"${T:-null}")" 'pipe_read' "its kernel stack (pipe_read)"
like "$(jq -r '.user | join(";")' <<<"${T:-null}")" 'offcpu_test_thread' "its user stack (offcpu_test_thread)"
kill $h1 2>/dev/null; wait $h1 2>/dev/null

# 2. blocks after the start, still blocked at the end
"$HELPER" pipeblock 1 5000 "$TMP/go" > "$TMP/h2.out" &
h2=$!
wait_for "$TMP/h2.out" ready 5
"${PROBE[@]}" offcpu --pid "$h2" --json --duration 2.5 > "$TMP/r2.json" 2> "$TMP/r2.err" &
p2=$!
wait_for "$TMP/r2.err" tracing 10
sleep 0.3
tg=$(date +%s%N)
touch "$TMP/go"
wait $p2
te=$(date +%s%N)
T=$(jq -c '[.in_flight.threads[] | select(any(.user[]; . == "offcpu_test_thread"))][0]' "$TMP/r2.json" 2>/dev/null)
diag "in flight: $(jq -c '{tid, state, off_us, since_before_start}' <<<"${T:-null}" 2>/dev/null)"
is "$(jq -r .since_before_start <<<"${T:-null}")" false "a thread blocked during the window is listed with its switch-out time"
off=$(jq -r '.off_us // 0 | floor' <<<"${T:-null}")
cmp_ok "$off" -le $(( (te - tg) / 1000 )) "its off-CPU time is at most go -> end by the test's clock ($off us)"
cmp_ok "$off" -ge $(( (te - tg) / 1000 - 600000 )) "and at least that minus 0.6 s (thread start, report time)"
kill $h2 2>/dev/null; wait $h2 2>/dev/null

# 3. the text report
"$HELPER" pipeblock 1 4000 > "$TMP/h3.out" &
h3=$!
wait_for "$TMP/h3.out" ready 5
"${PROBE[@]}" offcpu --pid "$h3" --duration 1 > "$TMP/r3.txt" 2> "$TMP/r3.err"
like "$(cat "$TMP/r3.txt")" 'in flight at [0-9T:.-]+Z: [12] threads? off CPU now' "text report: in-flight section, stamped"
# the reader thread's entry: its user frames, then its line (tid != pid), then its time
like "$(tr '\n' ' ' < "$TMP/r3.txt" | grep -oE 'offcpu_test_thread [^-]*- +probe-helper \('"$h3"'/[0-9]+\) S \(sleeping\)[^-]*off CPU for more than [0-9.]+' | grep -v "($h3/$h3)")" \
	'off CPU for more than (0\.9|1\.)' \
	"text report: the blocked thread with its stack, state and time"
kill $h3 2>/dev/null; wait $h3 2>/dev/null
done_testing
