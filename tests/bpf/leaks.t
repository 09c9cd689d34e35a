#!/usr/bin/env bash
# leaks: a server (scratch netns) that never closes half of its connections;
# clients connect and close one every 120 ms, so its CLOSE_WAIT sockets and
# descriptors grow steadily. Witnesses: `ss` for the CLOSE_WAIT count and
# peers, prlimit for the nofile limit the estimate runs to; a quiet process
# is not flagged.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 12
is_root || skip_rest "needs root (setns into the target's network namespace)"
export IH=$BUILD/tests/bpf/incident-helper TMPD=$TMP

unshare -n bash -c '
	ip link set lo up
	prlimit --nofile=1000:1000 "$IH" leaky 18300 40 12 > "$TMPD/srv.out" &
	s=$!
	for i in $(seq 100); do grep -q ready "$TMPD/srv.out" && break; sleep 0.05; done
	prlimit --pid $s --nofile --output SOFT --noheadings > "$TMPD/nofile"
	"$@" --pid $s --interval 0.5 --duration 6.5 --json > "$TMPD/lk.json" 2> "$TMPD/lk.err" &
	p=$!
	for i in $(seq 100); do grep -q sampling "$TMPD/lk.err" && break; sleep 0.05; done
	"$IH" clients 18300 40 120 > "$TMPD/cli.out"
	wait $p; echo $? > "$TMPD/rc"
	ss -Htn state close-wait "sport = :18300" > "$TMPD/ss.out"
	kill $s
' _ "${PROBE[@]}" leaks 2> "$TMP/ns.err"
J=$TMP/lk.json
is "$(cat "$TMP/rc")" 0 "probe leaks exits 0" || diag "$(cat "$TMP/lk.err" "$TMP/ns.err")"
is "$(jq -r .schema "$J" 2>/dev/null)" "qps-tune.probe.leaks/1" "one JSON document with the versioned schema"
cw=$(wc -l < "$TMP/ss.out")
diag "ss CLOSE_WAIT $cw; probe last sample $(jq -c '.samples[-1]' "$J" 2>/dev/null); trends $(jq -c '[.trends[] | select(.growing) | {kind, slope_per_s, r2}]' "$J" 2>/dev/null)"
cmp_ok "$cw" -ge 15 "the server leaked CLOSE_WAIT sockets (ss: $cw)"
is "$(jq -r '.samples[-1].tcp.CLOSE_WAIT' "$J")" "$cw" "CLOSE_WAIT count of the last sample == ss's"
is "$(jq -r .leaking "$J")" true "the process is flagged as leaking"
is "$(jq -r '[.trends[] | select(.series == "tcp" and .kind == "CLOSE_WAIT")][0].growing' "$J")" true "CLOSE_WAIT is flagged as growing"
is "$(jq -r '.close_wait_peers | map("\(.addr)=\(.count)") | join(",")' "$J")" "127.0.0.1=$cw" "CLOSE_WAIT peers named: 127.0.0.1 x $cw"
is "$(jq -r .nofile_soft "$J")" "$(tr -d ' ' < "$TMP/nofile")" "nofile limit == prlimit's"
# the estimate: (nofile - last) / slope, from the reported fit
eta=$(jq -r '[.trends[] | select(.series == "fds" and .kind == "all")][0] | if .seconds_to_nofile then ((.seconds_to_nofile - (1000 - .last) / .slope_per_s) | fabs < 1) else false end' "$J")
is "$eta" true "time to nofile == (limit - descriptors) / slope of the fit"

# a quiet process is not flagged
sleep 4 &
q=$!
"${PROBE[@]}" leaks --pid $q --interval 0.25 --duration 2 --json > "$TMP/quiet.json" 2>/dev/null
kill $q 2>/dev/null
is "$(jq -r .leaking "$TMP/quiet.json")" false "a process with constant descriptors is not flagged"
# one process is sampled: a filter over many is refused, not ignored
# (--cgroup was accepted and ignored before)
for o in "--comm sleep" "--cgroup /"; do
	"${PROBE[@]}" leaks --pid $$ $o --duration 0.2 > /dev/null 2> "$TMP/opt.err"
	is "$?:$(grep -c -- "${o% *} does not apply" "$TMP/opt.err")" "2:1" "leaks $o is refused (exit 2, names the option)"
done
done_testing
