#!/usr/bin/env bash
# --cgroup PATH and the per-cgroup breakdown. Two identical helpers (50 x
# 2 ms sleeps) run at once, one moved into a
# scratch cgroup v2 child (PARENT/child), one left where it was:
#  - syslat --cgroup PARENT counts exactly the inside helper's 50 sleeps
#    (a descendant is included), not 100
#  - offcpu --cgroup PARENT reports only the inside helper's pid
#  - syslat --per-cgroup / offcpu's cgroups list name PARENT/child with the
#    inside helper's figures
#  - acceptq --cgroup PARENT keeps the listener whose owner is below it
#  - a path that is not a cgroup v2 directory is refused
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 9
need_bpf
scratch_cgroup qps-probe-test

"$HELPER" sleep 50 2000 "$TMP/go" > "$TMP/in.out" &
hin=$!
"$HELPER" sleep 50 2000 "$TMP/go" > "$TMP/out.out" &
hout=$!
wait_for "$TMP/in.out" ready 5; wait_for "$TMP/out.out" ready 5
echo "$hin" > "$cg/child/cgroup.procs"
is "$(grep '^0::' "/proc/$hin/cgroup" | cut -d: -f3)" "${cg#$root}/child" "the inside helper is in the scratch cgroup (/proc/PID/cgroup)"
"${PROBE[@]}" syslat --cgroup "$cg" --per-cgroup --syscall clock_nanosleep --json --duration 2 > "$TMP/sl.json" 2> "$TMP/sl.err" &
p1=$!
"${PROBE[@]}" offcpu --cgroup "${cg#$root}" --json --duration 2 > "$TMP/oc.json" 2> "$TMP/oc.err" &
p2=$!
wait_for "$TMP/sl.err" tracing 10; wait_for "$TMP/oc.err" tracing 10
touch "$TMP/go"; wait $hin $hout; wait $p1; rc1=$?; wait $p2; rc2=$?
is "$rc1:$rc2" "0:0" "both probes exit 0" || diag "$(cat "$TMP/sl.err" "$TMP/oc.err")"
is "$(jq -r '.syscalls[0].count' "$TMP/sl.json" 2>/dev/null)" 50 "syslat --cgroup: exactly the 50 sleeps of the helper below it (not 100)"
is "$(jq -r --arg c "${cg#$root}/child" '[.cgroups[] | select(.cgroup == $c and .name == "clock_nanosleep")][0].count' "$TMP/sl.json" 2>/dev/null)" 50 \
	"syslat --per-cgroup: its cgroup by path, 50 sleeps"
# (a sanitizer build's helper also clones a leak-checker task in there at exit)
is "$(jq -r --argjson i "$hin" --argjson o "$hout" '[.stacks[].pid] | "\(index($i) != null) \(index($o) != null)"' "$TMP/oc.json" 2>/dev/null)" "true false" \
	"offcpu --cgroup (path relative to the hierarchy): the inside helper, not the outside one"
diag "offcpu cgroups: $(jq -c .cgroups "$TMP/oc.json" 2>/dev/null)"
us=$(jq -r --arg c "${cg#$root}/child" '[.cgroups[] | select(.cgroup == $c)][0].total_us // 0 | floor' "$TMP/oc.json" 2>/dev/null)
cmp_ok "$us" -ge 100000 "offcpu's per-cgroup breakdown names its cgroup, >= 0.1 s off CPU ($us us)"

# acceptq: two listeners in a scratch netns, one owner moved into the cgroup
export TMPD=$TMP HELPER CG=$cg
unshare -n bash -c '
	ip link set lo up
	"$HELPER" listen 18086 4 10 > "$TMPD/a1" &
	a1=$!
	"$HELPER" listen 18087 4 10 > "$TMPD/a2" &
	a2=$!
	for i in $(seq 100); do grep -q ready "$TMPD/a1" && grep -q ready "$TMPD/a2" && break; sleep 0.05; done
	echo $a2 > "$CG/child/cgroup.procs"
	"$@" acceptq --cgroup "$CG" --json --duration 0.5 > "$TMPD/aq.json" 2> "$TMPD/aq.err"
	kill $a1 $a2
' _ "${PROBE[@]}" 2> "$TMP/ns.err"
is "$(jq -r '[.listeners[].port] | join(",")' "$TMP/aq.json" 2>/dev/null)" 18087 "acceptq --cgroup: only the listener whose owner is below it" || diag "$(cat "$TMP/aq.err" "$TMP/ns.err")"

out=$("${PROBE[@]}" syslat --cgroup /proc --duration 1 2>&1); rc=$?
is "$rc" 1 "--cgroup /proc: exit 1"
like "$out" "is not a cgroup v2 directory|cannot use --cgroup" "... saying it is not a cgroup v2 directory"
done_testing
