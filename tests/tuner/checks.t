#!/usr/bin/env bash
# checks.t - the registry of checks (tuner/checks.c): `qps-tune checks` lists
# it, docs/checks.md is generated from it and must match, audit never emits
# an id it does not list (every built-in profile, in a scratch netns with a
# listener), `disable` rejects an unknown id, and a disabled check does not
# run: the file only PERS-003 reads keeps its access time (tmpfs with
# strictatime), while with the check enabled the same audit reads it.
. "$(dirname "$0")/../lib.sh"
plan 13
T=$(mktemp -d)
export QPS_TUNE_RUN_DIR=$T/run	# host-wide lock and journal registry of this test only
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT

"$QPS_TUNE" checks --json > "$T/checks.json"
is "$?" 0 "checks --json exits 0"
n=$(jq -r '.checks | length' "$T/checks.json")
cmp_ok "$n" -ge 60 "the registry lists every check ($n)"
is "$(jq -r '.checks[].id' "$T/checks.json" | sort | uniq -d)" "" "no id registered twice"
is "$(jq -r '[.checks[] | select((.id|test("^[A-Z]+-[0-9]{3}$")|not) or .title=="" or .area=="")] | length' "$T/checks.json")" 0 \
	"every row has an id, an area and a title"
ok "docs/checks.md is the generated registry (make docs/checks.md)" \
	cmp -s <("$QPS_TUNE" checks --markdown) "$QPS_ROOT/docs/checks.md"

# every id audit emits is registered: all built-in profiles, with a listener, sampled
is_root && unshare -n true 2>/dev/null || skip_rest "needs root for unshare -n"
jq -r '.checks[].id' "$T/checks.json" | sort > "$T/registered"
unshare -n bash -c '
	ip link set lo up
	python3 -c "import socket,time; s=socket.socket(); s.bind((\"127.0.0.1\", 18095)); s.listen(8); time.sleep(20)" &
	sleep 0.3
	for p in base web-10k web-100k proxy latency; do "$1" audit --profile $p --json; done > "$2/audits.json"
	"$1" audit --sample 1 --json >> "$2/audits.json"
	kill %1' _ "$QPS_TUNE" "$T"
jq -r '.checks[].id' "$T/audits.json" | sort -u > "$T/emitted"
cmp_ok "$(wc -l < "$T/emitted")" -ge 30 "audits emitted $(wc -l < "$T/emitted") distinct ids"
is "$(comm -23 "$T/emitted" "$T/registered" | tr '\n' ' ')" "" "audit emits no id the registry lacks"

# disable: unknown ids are refused, known ones stop the check
printf 'inherit web-10k\ndisable NOPE-999\n' > "$T/nope.profile"
out=$("$QPS_TUNE" audit --json --profile "$T/nope.profile" 2>/dev/null); rc=$?
is "$rc" 1 "disable NOPE-999: exit 1"
like "$(printf '%s' "$out" | jq -r .error)" "nope.profile:2: disable: unknown check id 'NOPE-999'" \
	"the error names the file, line and id"

printf 'inherit web-10k\n' > "$T/on.profile"
{ echo 'inherit web-10k'; for id in PERS-001 PERS-002 PERS-003 PERS-004 PERS-005 PORT-005; do echo "disable $id"; done; } > "$T/off.profile"
unshare -m bash -c '
	mkdir -p "$2/root"
	mount -t tmpfs -o strictatime none "$2/root"
	mkdir -p "$2/root/etc"
	echo "vm.swappiness = 10" > "$2/root/etc/sysctl.conf"
	touch -a -d "2001-01-01 00:00:00" "$2/root/etc/sysctl.conf"
	"$1" audit --root "$2/root" --profile "$2/off.profile" --json > "$2/off.json"
	stat -c %X "$2/root/etc/sysctl.conf" > "$2/atime-off"
	"$1" audit --root "$2/root" --profile "$2/on.profile" --json > /dev/null
	stat -c %X "$2/root/etc/sysctl.conf" > "$2/atime-on"' _ "$QPS_TUNE" "$T"
is "$(cat "$T/atime-off")" "$(date -d '2001-01-01 00:00:00' +%s)" \
	"persistence checks disabled: the file only they read was not opened"
cmp_ok "$(cat "$T/atime-on")" -gt "$(date -d '2002-01-01' +%s)" "enabled, the same audit reads it (the witness works)"
is "$(jq -r '[.checks[] | select(.id|test("^PERS-|^PORT-005"))] | length' "$T/off.json") $(jq -r '.disabled | length' "$T/off.json")" \
	"0 6" "no disabled id in the report, and the report lists the 6 disabled"
printf 'inherit web-10k\ndisable LQ-001\n' > "$T/nolq1.profile"
unshare -n sh -c 'sysctl -qw net.core.somaxconn=128; "$1" apply --profile "$2/nolq1.profile" --state-dir "$2/st" > /dev/null
	cat /proc/sys/net/core/somaxconn' _ "$QPS_TUNE" "$T" > "$T/somax-off"
is "$(cat "$T/somax-off")" 128 "apply leaves the setting of a disabled check alone"
done_testing
