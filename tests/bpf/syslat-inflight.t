#!/usr/bin/env bash
# syslat in flight: syscalls still in progress when the report is made.
#  1. A read(2) blocked since before the probe started and through the whole
#     window (the kernel says which syscall in /proc/PID/task/TID/syscall):
#     listed with pid, tid, "read", since before the start, for at least the
#     run and at most what the test's clock allows.
#  2. A read(2) that starts during the window: its start time is known.
#  3. The text report lists it.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 10
need_bpf

"$HELPER" pipeblock 1 6000 > "$TMP/h1.out" &
h1=$!
wait_for "$TMP/h1.out" ready 5
for i in $(seq 50); do [ "$(ls /proc/$h1/task | wc -l)" = 2 ] && break; sleep 0.05; done
tid=$(ls /proc/$h1/task | grep -vx "$h1")
sleep 0.2
sc=$(cut -d' ' -f1 "/proc/$h1/task/$tid/syscall" 2>/dev/null)
t0=$(date +%s%N)
"${PROBE[@]}" syslat --pid "$h1" --json --duration 2 > "$TMP/r1.json" 2> "$TMP/r1.err"; rc=$?
t1=$(date +%s%N)
is "$rc:$sc" "0:0" "probe exits 0; the thread is in read(2) per /proc/PID/task/TID/syscall" || diag "$(cat "$TMP/r1.err")"
is "$(jq -r .total_calls "$TMP/r1.json" 2>/dev/null)" 0 "no call ended during the window: 0 counted"
C=$(jq -c --argjson t "${tid:-0}" '.in_flight.calls[] | select(.tid == $t)' "$TMP/r1.json" 2>/dev/null)
diag "in flight: $(jq -c .in_flight "$TMP/r1.json" 2>/dev/null)"
is "$(jq -r '"\(.pid) \(.name) \(.since_before_start)"' <<<"${C:-null}")" "$h1 read true" \
	"the read(2) blocked through the whole window is listed (pid, tid $tid, syscall, since before the start)"
us=$(jq -r '.for_us // 0 | floor' <<<"${C:-null}")
cmp_ok "$us" -ge 1900000 "in progress for at least the 2 s run ($us us)"
cmp_ok "$us" -le $(( (t1 - t0) / 1000 )) "and at most what the test's clock allows"
kill $h1 2>/dev/null; wait $h1 2>/dev/null

"$HELPER" pipeblock 1 5000 "$TMP/go" > "$TMP/h2.out" &
h2=$!
wait_for "$TMP/h2.out" ready 5
"${PROBE[@]}" syslat --pid "$h2" --syscall read --json --duration 2.5 > "$TMP/r2.json" 2> "$TMP/r2.err" &
p2=$!
wait_for "$TMP/r2.err" tracing 10
sleep 0.3
tg=$(date +%s%N)
touch "$TMP/go"
wait $p2
te=$(date +%s%N)
C=$(jq -c '[.in_flight.calls[] | select(.name == "read")][0]' "$TMP/r2.json" 2>/dev/null)
diag "in flight: $(jq -c .in_flight "$TMP/r2.json" 2>/dev/null)"
is "$(jq -r .since_before_start <<<"${C:-null}")" false "a read(2) that began during the window is listed with its start"
us=$(jq -r '.for_us // 0 | floor' <<<"${C:-null}")
cmp_ok "$us" -le $(( (te - tg) / 1000 )) "in progress for at most go -> end by the test's clock ($us us)"
cmp_ok "$us" -ge $(( (te - tg) / 1000 - 600000 )) "and at least that minus 0.6 s"
kill $h2 2>/dev/null; wait $h2 2>/dev/null

"$HELPER" pipeblock 1 4000 > "$TMP/h3.out" &
h3=$!
wait_for "$TMP/h3.out" ready 5
"${PROBE[@]}" syslat --pid "$h3" --duration 1 > "$TMP/r3.txt" 2> "$TMP/r3.err"
like "$(cat "$TMP/r3.txt")" 'in flight at [0-9T:.-]+Z: 2 syscalls in progress' "text report: in-flight section (read and clock_nanosleep), stamped"
like "$(grep -E "^$h3 +[0-9]+ +probe-helper +read +>" "$TMP/r3.txt")" '> +(9[0-9]{2}|1[0-9]{3})\.[0-9]{3}$' "text report: the blocked read with its time (> ~1 s)"
kill $h3 2>/dev/null; wait $h3 2>/dev/null
done_testing
