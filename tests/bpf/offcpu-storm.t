#!/usr/bin/env bash
# offcpu after a fork storm: each dying task switches out one last time and
# never comes back; that last switch must not leave an entry in the thread
# table. The table is shrunk to 512 threads (QPS_PROBE_OFFCPU_THREADS, a test
# knob) and 1500 short-lived processes are spawned one after the other, then
# the same program blocks 1.5 s in read(2): that block must still be found
# (>= 1.4 s by the clock of the test), with lost.threads 0. Before the fix the
# table filled with the storm's dead tasks and the block was not measured.
# Then a storm of processes that each block 2 ms before they exit: each
# leaves a key (and a user stack) of a process that is gone; with the key
# table shrunk to 1024 (QPS_PROBE_OFFCPU_KEYS), 1500 of them must not fill
# it (keys of exited processes are moved to user space), and a later 1.5 s
# block is found; the exited processes' time is still reported.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 10
need_bpf

# its own name, so --comm keeps the rest of the host out of the small table
cp "$HELPER" "$TMP/stormy"
# a sanitizer build starts each process ~30 times slower: a third of the
# storm into tables a third the size
N=1500 THREADS=512 KEYS=1024
if ldd "$HELPER" 2>/dev/null | grep -q libasan; then N=500 THREADS=160 KEYS=320; fi
# ended by SIGINT after the block: a sanitizer build spawns much slower
QPS_PROBE_OFFCPU_THREADS=$THREADS "${PROBE[@]}" offcpu --comm stormy --json --duration 120 \
	> "$TMP/storm.json" 2> "$TMP/storm.err" &
ppid=$!
wait_for "$TMP/storm.err" tracing 10
out=$("$TMP/stormy" spawn $N)
is "$out" "spawned $N" "$N short-lived processes spawned"
t0=$(date +%s%N)
"$TMP/stormy" pipeblock 1 1500 > /dev/null &
bp=$!
wait $bp
t1=$(date +%s%N)
wall_us=$(( (t1 - t0) / 1000 ))
cmp_ok "$wall_us" -ge 1500000 "the clock saw the 1.5 s block ($wall_us us)"
sleep 0.2
kill -INT $ppid
wait $ppid; rc=$?
is "$rc" 0 "probe offcpu exits 0" || diag "$(cat "$TMP/storm.err")"
J=$TMP/storm.json
# by its pid: a stack may collide in the stack map (lost.stacks), the period is still there
S=$(jq -c --argjson p "$bp" '[.stacks[] | select(.pid == $p)] | max_by(.total_us)' "$J" 2>/dev/null)
diag "lost: $(jq -c .lost "$J" 2>/dev/null | cut -c1-200); block: $(jq -c '{total_us, count}' <<<"${S:-null}" 2>/dev/null)"
cmp_ok "$(jq -r '.total_us // 0 | floor' <<<"${S:-null}" 2>/dev/null)" -ge 1400000 \
	"the later 1.5 s block is found after the storm (>= 1.4 s for pid $bp)"
is "$(jq -r .lost.threads "$J" 2>/dev/null)" 0 "lost.threads 0: dead tasks left no entry in the thread table"

QPS_PROBE_OFFCPU_KEYS=$KEYS "${PROBE[@]}" offcpu --comm stormy --json --duration 120 \
	> "$TMP/nap.json" 2> "$TMP/nap.err" &
ppid=$!
wait_for "$TMP/nap.err" tracing 10
out=$("$TMP/stormy" spawn $N nap)
is "$out" "spawned $N" "$N processes that block 2 ms each, spawned"
"$TMP/stormy" pipeblock 1 1500 > /dev/null &
bp=$!
wait $bp
sleep 0.2
kill -INT $ppid
wait $ppid; rc=$?
is "$rc" 0 "probe offcpu exits 0" || diag "$(cat "$TMP/nap.err")"
J=$TMP/nap.json
diag "lost: $(jq -c '.lost | del(.causes)' "$J" 2>/dev/null); stacks_total $(jq .stacks_total "$J" 2>/dev/null)"
is "$(jq -r .lost.keys "$J" 2>/dev/null)" 0 "lost.keys 0: keys of exited processes did not fill the $KEYS-key table"
S=$(jq -c --argjson p "$bp" '[.stacks[] | select(.pid == $p)] | max_by(.total_us)' "$J" 2>/dev/null)
cmp_ok "$(jq -r '.total_us // 0 | floor' <<<"${S:-null}" 2>/dev/null)" -ge 1400000 "the later 1.5 s block is found (pid $bp)"
# the exited processes' naps are still reported: one key of 2 ms or more each
cmp_ok "$(jq '[.stacks[] | select(.total_us >= 1900 and any(.kernel[]; test("nanosleep")))] | length' "$J" 2>/dev/null)" -ge $((N * 14 / 15)) \
	"the 2 ms naps of the exited processes are still reported (one key each)"
done_testing
