#!/usr/bin/env bash
# SIGINT (and SIGTERM) mid-run: each probe prints its final report, exits 0 and
# leaves none of its BPF programs or links behind. Other engineers may load
# BPF programs meanwhile, so only the ids that appeared while our probe ran
# are checked (bpftool prog/link show, before, during, after). Programs are
# freed after an RCU grace period, so "after" is polled for up to 3 s.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 15
need_bpf
command -v bpftool >/dev/null || skip_rest "bpftool not installed"

for spec in acceptq:INT syslat:INT offcpu:TERM; do
	name=${spec%%:*} sig=${spec##*:}
	bpf_ids prog > "$TMP/prog.before"; bpf_ids link > "$TMP/link.before"
	"${PROBE[@]}" "$name" --json > "$TMP/$name.out" 2> "$TMP/$name.err" &
	pid=$!
	wait_for "$TMP/$name.err" tracing 10
	bpf_ids prog > "$TMP/prog.during"; bpf_ids link > "$TMP/link.during"
	ours_p=$(comm -13 <(sort "$TMP/prog.before") <(sort "$TMP/prog.during") | sort -n | tr '\n' ' ')
	ours_l=$(comm -13 <(sort "$TMP/link.before") <(sort "$TMP/link.during") | sort -n | tr '\n' ' ')
	cmp_ok "$(wc -w <<<"$ours_p")" -ge 1 "$name: its programs are loaded while it runs ($ours_p)"
	kill -s "$sig" $pid
	wait $pid; rc=$?
	is "$rc" 0 "$name: SIG$sig -> exit 0" || diag "$(cat "$TMP/$name.err")"
	# one complete JSON document, marked final, with the probe's schema
	is "$(jq -s -r 'if length == 1 then "\(.[0].schema) \(.[0].final)" else "\(length) documents" end' "$TMP/$name.out" 2>/dev/null)" \
		"qps-tune.probe.$name/1 true" "$name: one complete final report printed after SIG$sig"
	# the kernel frees programs after an RCU grace period: allow it 3 s
	for i in $(seq 30); do
		bpf_ids prog > "$TMP/prog.after"; bpf_ids link > "$TMP/link.after"
		left=$(for id in $ours_p; do grep -qx "$id" "$TMP/prog.after" && echo "$id"; done | tr '\n' ' ')
		[ -z "$left" ] && break
		sleep 0.1
	done
	is "$left" "" "$name: no BPF program left behind"
	left=$(for id in $ours_l; do grep -qx "$id" "$TMP/link.after" && echo "$id"; done | tr '\n' ' ')
	is "$left" "" "$name: no BPF link left behind ($ours_l)"
done
done_testing
