#!/usr/bin/env bash
# offcpu after a fork storm: each dying task switches out one last time and
# never comes back; that last switch must not leave an entry in the thread
# table. The table is shrunk to 512 threads (QPS_PROBE_OFFCPU_THREADS, a test
# knob) and 1500 short-lived processes are spawned one after the other, then
# the same program blocks 1.5 s in read(2): that block must still be found
# (>= 1.4 s by the clock of the test), with lost.threads 0. Before the fix the
# table filled with the storm's dead tasks and the block was not measured.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 5
need_bpf

# its own name, so --comm keeps the rest of the host out of the small table
cp "$HELPER" "$TMP/stormy"
# ended by SIGINT after the block: a sanitizer build spawns much slower
QPS_PROBE_OFFCPU_THREADS=512 "${PROBE[@]}" offcpu --comm stormy --json --duration 120 \
	> "$TMP/storm.json" 2> "$TMP/storm.err" &
ppid=$!
wait_for "$TMP/storm.err" tracing 10
out=$("$TMP/stormy" spawn 1500)
is "$out" "spawned 1500" "1500 short-lived processes spawned"
t0=$(date +%s%N)
"$TMP/stormy" pipeblock 1 1500 > /dev/null
t1=$(date +%s%N)
wall_us=$(( (t1 - t0) / 1000 ))
cmp_ok "$wall_us" -ge 1500000 "the clock saw the 1.5 s block ($wall_us us)"
sleep 0.2
kill -INT $ppid
wait $ppid; rc=$?
is "$rc" 0 "probe offcpu exits 0" || diag "$(cat "$TMP/storm.err")"
J=$TMP/storm.json
S=$(jq -c '[.stacks[] | select(any(.user[]; . == "offcpu_test_thread"))] | max_by(.total_us)' "$J" 2>/dev/null)
diag "lost: $(jq -c .lost "$J" 2>/dev/null | cut -c1-200); block: $(jq -c '{total_us, count}' <<<"${S:-null}" 2>/dev/null)"
cmp_ok "$(jq -r '.total_us // 0 | floor' <<<"${S:-null}" 2>/dev/null)" -ge 1400000 \
	"the later 1.5 s block is found after the storm (>= 1.4 s on offcpu_test_thread)"
is "$(jq -r .lost.threads "$J" 2>/dev/null)" 0 "lost.threads 0: dead tasks left no entry in the thread table"
done_testing
