#!/usr/bin/env bash
# netns.t - the full cycle in a fresh network namespace (net.* sysctls are per
# netns, the host is never touched): bad values -> audit reports exactly the
# expected check ids, exit 3 -> dry-run writes nothing -> apply -> audit clean
# -> second apply "0 changed" -> rollback -> every value byte-identical.
. "$(dirname "$0")/../lib.sh"
plan 22
is_root || skip_rest "needs root for unshare -n"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"

T=$(mktemp -d)
export QPS_TUNE_RUN_DIR=$T/run	# host-wide lock and journal registry of this test only
trap 'rm -rf "$T"' EXIT
cat > "$T/inner.sh" <<'INNER'
set -u
Q=$1 T=$2
snap() {  # every readable per-netns value, byte for byte (grep keeps tabs)
	grep -r --no-messages '' /proc/sys/net | sort
}
sysctl -qw net.core.somaxconn=128 net.ipv4.tcp_syncookies=0 net.ipv4.tcp_max_syn_backlog=128 \
	net.ipv4.tcp_abort_on_overflow=1
printf '4096\t87380\t6291456' > /proc/sys/net/ipv4/tcp_rmem
snap > "$T/before"
"$Q" audit --profile proxy --json > "$T/audit1.json"; echo $? > "$T/audit1.rc"
"$Q" audit --profile proxy > "$T/audit1.txt"; echo $? > "$T/audit1txt.rc"
"$Q" apply --profile proxy --dry-run --state-dir "$T/st" > "$T/dry.txt"; echo $? > "$T/dry.rc"
snap > "$T/afterdry"
test -e "$T/st" && echo yes > "$T/dry-created-st"
"$Q" apply --profile proxy --state-dir "$T/st" --json > "$T/apply.json"; echo $? > "$T/apply.rc"
cp "$T/st/journal" "$T/journal.copy" 2>/dev/null
"$Q" audit --profile proxy --json > "$T/audit2.json"; echo $? > "$T/audit2.rc"
"$Q" apply --profile proxy --state-dir "$T/st" > "$T/apply2.txt"; echo $? > "$T/apply2.rc"
cat /proc/sys/net/ipv4/ip_local_port_range /proc/sys/net/ipv4/tcp_rmem > "$T/applied-values"
"$Q" rollback --state-dir "$T/st" > "$T/rollback.txt"; echo $? > "$T/rollback.rc"
snap > "$T/after"
INNER
unshare -n bash "$T/inner.sh" "$QPS_TUNE" "$T"

is "$(cat "$T/audit1.rc")" 3 "audit of bad values exits 3 (drift)"
ok "audit --json parses" python3 -m json.tool "$T/audit1.json" /dev/null
got=$(jq -r '[.checks[] | select(.status=="fail") | .id] | unique | join(" ")' "$T/audit1.json")
is "$got" "BUF-001 BUF-004 LQ-001 LQ-004 LQ-005 LQ-006 PORT-001 PORT-003 PORT-006" \
	"audit reports exactly the expected check ids"
is "$(jq -r .schema "$T/audit1.json")" "qps-tune.audit/1" "JSON schema is versioned"
is "$(jq -r .host.initial_netns "$T/audit1.json")" false "audit knows it is not in the initial netns"
# the table shows the same failing checks as the JSON
tbl=$(awk '$1=="FAIL"{print $2" "$4}' "$T/audit1.txt" | sort | tr '\n' ';')
js=$(jq -r '.checks[] | select(.status=="fail") | .id+" "+.key' "$T/audit1.json" | sort | tr '\n' ';')
is "$tbl" "$js" "table and JSON list the same failures"
is "$(jq -r '.checks[] | select(.key=="net.core.somaxconn") | .current+" "+.target' "$T/audit1.json")" \
	"128 >= 4096" "somaxconn current and target"
is "$(cat "$T/dry.rc")" 0 "dry-run exits 0"
like "$(cat "$T/dry.txt")" '^--- current' "dry-run prints a diff"
like "$(cat "$T/dry.txt")" '\+net.core.somaxconn = 4096' "dry-run diff shows the new somaxconn"
ok "dry-run changed no value" cmp -s "$T/before" "$T/afterdry"
ok "dry-run created no state dir" test ! -e "$T/dry-created-st"
is "$(cat "$T/apply.rc")" 0 "apply exits 0"
cmp_ok "$(jq -r .changed "$T/apply.json")" -ge 9 "apply --json reports the changes"
like "$(cat "$T/journal.copy")" 'sysctl	=net.ipv4.tcp_rmem	=4096\\t87380\\t6291456	' \
	"journal keeps the multi-value old tcp_rmem exactly"
is "$(cat "$T/audit2.rc")" 0 "audit after apply is clean (exit 0)"
is "$(jq -r .summary.fail "$T/audit2.json")" 0 "no failing check after apply"
like "$(cat "$T/apply2.txt")" '^0 changed' "second apply says 0 changed"
is "$(tr '\t\n' '  ' < "$T/applied-values")" "10240 65000 4096 87380 33554432 " \
	"multi-value keys: only the failing fields changed"
is "$(cat "$T/rollback.rc")" 0 "rollback exits 0"
ok "rollback restored every value byte-identical" cmp -s "$T/before" "$T/after"
like "$(cat "$T/rollback.txt")" 'restored +net.ipv4.tcp_rmem = 4096 87380 6291456' "rollback reports each key"
done_testing
