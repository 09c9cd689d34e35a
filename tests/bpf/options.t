#!/usr/bin/env bash
# Options shared by the probes: --interval (one JSON document per line, then
# the final one; per-interval figures that add up to the run's, --cumulative
# for running totals), --comm, --min-us, --per-process, --top, --per-thread,
# offcpu --min-us/--max-us (in microseconds), acceptq --pid.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 20
need_bpf

# syslat: 100 x 12 ms sleeps by a process named probe-helper, 4 interval reports
"$HELPER" sleep 100 12000 "$TMP/go" > "$TMP/h.out" &
hpid=$!
wait_for "$TMP/h.out" ready 5
# (--pid as well as --comm: other programs named probe-helper may run on a shared host)
"${PROBE[@]}" syslat --pid "$hpid" --comm probe-helper --min-us 500 --per-process --interval 0.6 \
	--duration 2.5 --json > "$TMP/sl.json" 2> "$TMP/sl.err" &
ppid=$!
"${PROBE[@]}" syslat --pid "$hpid" --syscall clock_nanosleep --interval 0.6 --cumulative \
	--duration 2.5 --json > "$TMP/slc.json" 2> "$TMP/slc.err" &
pc=$!
wait_for "$TMP/sl.err" tracing 10; wait_for "$TMP/slc.err" tracing 10
touch "$TMP/go"; wait $hpid; wait $ppid; wait $pc
n=$(wc -l < "$TMP/sl.json")
cmp_ok "$n" -ge 3 "--interval 0.6 --duration 2.5: interval documents then the final one ($n lines)"
is "$(jq -s '[.[] | .schema == "qps-tune.probe.syslat/1"] | all' "$TMP/sl.json" 2>/dev/null)" true "every line is one JSON document"
is "$(jq -s '[.[] | .final] | (.[-1] == true) and ([.[:-1][] | not] | all)' "$TMP/sl.json" 2>/dev/null)" true "only the last one is final"
is "$(jq -s '[.[] | .interval] == [range(1; length + 1)] and ([.[] | .at | test("^20[0-9-]+T[0-9:.]+Z$")] | all) and ([.[] | .cumulative] | any | not)' "$TMP/sl.json" 2>/dev/null)" true \
	"each report is stamped (at, interval 1..N) and not cumulative"
per=$(jq -s '[.[] | .syscalls[] | select(.name == "clock_nanosleep") | .count]' "$TMP/sl.json" 2>/dev/null | jq -c .)
diag "clock_nanosleep per interval: $per; cumulative run: $(jq -s -c '[.[] | .syscalls[0].count]' "$TMP/slc.json" 2>/dev/null)"
is "$(jq 'add' <<<"${per:-null}")" 100 "--comm, --interval: the per-interval counts add up to the helper's 100 sleeps"
cmp_ok "$(jq 'length' <<<"${per:-null}")" -ge 2 "the sleeps are split over at least two reports (deltas, not totals)"
is "$(tail -1 "$TMP/slc.json" | jq -r '"\(.cumulative) \(.syscalls[0].count)"' 2>/dev/null)" "true 100" "--cumulative: the last report has the run's 100"
is "$(jq -s '[.[] | .syscalls[] | .hist_us[] | select(.hi < 500)] | length' "$TMP/sl.json" 2>/dev/null)" 0 "--min-us 500: no histogram slot entirely below 500 us"
is "$(jq -s "[.[] | .processes[] | select(.pid == $hpid and .name == \"clock_nanosleep\") | .count] | add" "$TMP/sl.json" 2>/dev/null)" 100 "--per-process: the pair (pid, clock_nanosleep), 100 over the reports"

# --top: a process making 4 kinds of syscalls; --top 2 keeps the 2 largest
"$HELPER" pipeblock 20 20 "$TMP/gt" > "$TMP/ht.out" &
hpid=$!
wait_for "$TMP/ht.out" ready 5
"${PROBE[@]}" syslat --pid "$hpid" --json --duration 2 > "$TMP/all.json" 2> "$TMP/all.err" &
pa=$!
"${PROBE[@]}" syslat --pid "$hpid" --top 2 --json --duration 2 > "$TMP/top.json" 2> "$TMP/top.err" &
pt=$!
wait_for "$TMP/all.err" tracing 10; wait_for "$TMP/top.err" tracing 10
touch "$TMP/gt"; wait $hpid; wait $pa; wait $pt
diag "all: $(jq -c '[.syscalls[] | {name, total_us}]' "$TMP/all.json" 2>/dev/null)"
cmp_ok "$(jq '.syscalls | length' "$TMP/all.json" 2>/dev/null)" -ge 3 "without --top: 3 or more syscalls"
is "$(jq -r '[.syscalls[] | .name] | sort | join(" ")' "$TMP/top.json" 2>/dev/null)" "$(jq -r '[.syscalls[0:2][] | .name] | sort | join(" ")' "$TMP/all.json" 2>/dev/null)" \
	"--top 2: exactly the 2 syscalls with the most time"

# offcpu --per-thread: the blocked thread has its own tid
"$HELPER" pipeblock 2 200 "$TMP/go2" > "$TMP/h2.out" &
hpid=$!
wait_for "$TMP/h2.out" ready 5
"${PROBE[@]}" offcpu --pid "$hpid" --per-thread --min-us 100000 --json --duration 1.5 > "$TMP/oc.json" 2> "$TMP/oc.err" &
ppid=$!
wait_for "$TMP/oc.err" tracing 10
touch "$TMP/go2"; wait $hpid; wait $ppid
S=$(jq -c '[.stacks[] | select(any(.user[]; . == "offcpu_test_thread"))][0]' "$TMP/oc.json" 2>/dev/null)
cmp_ok "$(jq -r '.tid // 0' <<<"${S:-null}")" -gt "$hpid" "--per-thread: the reader thread's tid (not the pid)"
is "$(jq -r '[.stacks[] | select(.total_us < 100000 * .count)] | length' "$TMP/oc.json" 2>/dev/null)" 0 "--min-us 100000: no shorter period"
# offcpu --max-us: the 200 ms blocks are left out, the 1 ms sleeps kept (a
# --max-us read as ns, 100 us, would drop them too)
"$HELPER" pipeblock 2 200 "$TMP/go3" > "$TMP/h3.out" &
hpid=$!
wait_for "$TMP/h3.out" ready 5
"${PROBE[@]}" offcpu --pid "$hpid" --max-us 100000 --json --duration 1.5 > "$TMP/oc3.json" 2> "$TMP/oc3.err" &
ppid=$!
wait_for "$TMP/oc3.err" tracing 10
touch "$TMP/go3"; wait $hpid; wait $ppid
is "$(jq -r '[.stacks[] | select(.total_us > 100000 * .count)] | length' "$TMP/oc3.json" 2>/dev/null)" 0 "--max-us 100000: no longer period"
# The helper sleeps only once the probe is attached (go file), and the
# probe reports only after the helper has exited (SIGTERM: final report):
# a fixed --duration ended the run before the 100th sleep on a loaded host.
"$HELPER" sleep 100 1000 "$TMP/go4" > "$TMP/h4.out" &
hpid=$!
wait_for "$TMP/h4.out" ready 5
"${PROBE[@]}" offcpu --pid "$hpid" --max-us 100000 --json --duration 60 > "$TMP/oc4.json" 2> "$TMP/oc4.err" &
ppid=$!
wait_for "$TMP/oc4.err" tracing 60 || diag "the probe did not say it was tracing within 60 s"
touch "$TMP/go4"; wait $hpid; kill -TERM $ppid; wait $ppid
n=$(jq '[.stacks[] | select(any(.kernel[]; test("nanosleep"))) | .count] | add // 0' "$TMP/oc4.json" 2>/dev/null)
# a 1 ms sleep that waited over 100 ms for a CPU (a loaded host) is rightly
# left out by --max-us 100000: the helper's own clock says how many did
slow=$(awk '/^sleeps_over_100ms/ { print $2 }' "$TMP/h4.out")
diag "sleep periods: $n; sleeps over 100 ms by the helper's clock: ${slow:-?}; lost: $(jq -c '.lost | del(.causes)' "$TMP/oc4.json" 2>/dev/null)"
cmp_ok "${n:-0}" -ge $((100 - ${slow:-0})) "--max-us 100000 keeps the 100 sleeps of 1 ms (microseconds, not ns), less those the clock saw over 100 ms"
[ "${n:-0}" -ge 100 ] || diag "stacks: $(jq -c '[.stacks[] | {count, total_us, kernel: .kernel[0:5], kernel_lost}]' "$TMP/oc4.json" 2>/dev/null)"
# offcpu --comm and --top: every stack is that program's; --top 1 shows one of several
"$HELPER" pipeblock 3 100 "$TMP/go5" > "$TMP/h5.out" &
hpid=$!
wait_for "$TMP/h5.out" ready 5
"${PROBE[@]}" offcpu --comm probe-helper --top 1 --json --duration 1.5 > "$TMP/oc5.json" 2> "$TMP/oc5.err" &
ppid=$!
wait_for "$TMP/oc5.err" tracing 10
touch "$TMP/go5"; wait $hpid; wait $ppid
diag "stacks_total $(jq .stacks_total "$TMP/oc5.json" 2>/dev/null), comms $(jq -c '[.stacks[].comm] | unique' "$TMP/oc5.json" 2>/dev/null)"
is "$(jq -r '"\(.stacks | length) \(.stacks_total > 1) \([.stacks[].comm] | unique | join(","))"' "$TMP/oc5.json" 2>/dev/null)" "1 true probe-helper" \
	"--comm probe-helper --top 1: one stack shown of several, all of probe-helper"

# offcpu --interval: per-interval periods of the blocked thread add up to
# what a --cumulative run of the same window ends with
"$HELPER" pipeblock 5 300 "$TMP/go6" > "$TMP/h6.out" &
hpid=$!
wait_for "$TMP/h6.out" ready 5
"${PROBE[@]}" offcpu --pid "$hpid" --interval 0.5 --json --duration 2.5 > "$TMP/oci.json" 2> "$TMP/oci.err" &
p1=$!
"${PROBE[@]}" offcpu --pid "$hpid" --interval 0.5 --cumulative --json --duration 2.5 > "$TMP/occ.json" 2> "$TMP/occ.err" &
p2=$!
wait_for "$TMP/oci.err" tracing 10; wait_for "$TMP/occ.err" tracing 10
touch "$TMP/go6"; wait $hpid; wait $p1; wait $p2
q='[.stacks[] | select(any(.user[]; . == "offcpu_test_thread")) | .count] | add // 0'
per=$(jq -c "$q" "$TMP/oci.json" 2>/dev/null | jq -s -c .)
diag "offcpu_test_thread periods per interval: $per; cumulative: $(jq -c "$q" "$TMP/occ.json" 2>/dev/null | jq -s -c .)"
is "$(jq add <<<"${per:-null}")" "$(tail -1 "$TMP/occ.json" | jq "$q" 2>/dev/null)" "offcpu --interval: the per-interval periods add up to the --cumulative run's"
cmp_ok "$(jq '[.[] | select(. > 0)] | length' <<<"${per:-null}")" -ge 2 "... and are split over at least two reports"

# acceptq --pid: the listener lives in another network namespace; the probe
# enters it for sock_diag and the counters
unshare -n sh -c 'ip link set lo up; exec "$0" listen 18082 2 8' "$HELPER" > "$TMP/l.out" &
lpid=$!
wait_for "$TMP/l.out" ready 5
"${PROBE[@]}" acceptq --pid "$lpid" --json --duration 2.5 > "$TMP/aq.json" 2> "$TMP/aq.err" &
ppid=$!
wait_for "$TMP/aq.err" tracing 10
nsenter -t "$lpid" -n "$HELPER" connect 18082 10 1 > /dev/null
ns=$(stat -Lc %i "/proc/$lpid/ns/net")
wait $ppid
kill $lpid 2>/dev/null
is "$(jq -r .netns "$TMP/aq.json" 2>/dev/null)" "$ns" "acceptq --pid: reports the listener's network namespace"
L=$(jq -c ".listeners[] | select(.port == 18082 and .pid == $lpid)" "$TMP/aq.json" 2>/dev/null)
is "$(jq -r '(.drops > 0) and (.drops == .listen_drops) and (.backlog == 2)' <<<"${L:-null}")" true \
	"acceptq --pid: that process's listener, limit 2, drops seen"
done_testing
