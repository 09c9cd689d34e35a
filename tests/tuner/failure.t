#!/usr/bin/env bash
# failure.t - apply that cannot complete leaves every value as it was:
# a write the kernel rejects midway (rolled back), a read-only /proc/sys entry
# (bind mount in a private mount namespace), a host-owned key with --host,
# missing CAP_SYS_RESOURCE, a concurrent run, malformed profiles.
. "$(dirname "$0")/../lib.sh"
plan 26
is_root || skip_rest "needs root for unshare -n"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"

T=$(mktemp -d)
export QPS_TUNE_RUN_DIR=$T/run	# host-wide lock and journal registry of this test only
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
snap="grep -r --no-messages '' /proc/sys/net | sort"

# 1. the kernel rejects the last write (tcp_syn_retries max is 127): the
#    three changes before it are undone
cat > "$T/midway.profile" <<'P'
inherit web-10k
sysctl net.ipv4.tcp_syn_retries >= 200
P
unshare -n bash -c "
	sysctl -qw net.core.somaxconn=128 net.ipv4.tcp_syncookies=0 net.ipv4.tcp_max_syn_backlog=128
	$snap > '$T/b1'
	'$QPS_TUNE' apply --profile '$T/midway.profile' --state-dir '$T/st1' > '$T/o1' 2> '$T/e1'; echo \$? > '$T/rc1'
	$snap > '$T/a1'"
is "$(cat "$T/rc1")" 1 "midway failure exits 1"
like "$(cat "$T/e1")" "cannot write '/proc/sys/net/ipv4/tcp_syn_retries': Invalid argument" \
	"the error names the key's file and the kernel's reason"
like "$(cat "$T/e1")" 'rolled back 3 changes; nothing changed' "says it rolled back the 3 earlier changes"
ok "every value is as it was" cmp -s "$T/b1" "$T/a1"
ok "no journal left behind" test ! -e "$T/st1/journal"

# 2. a /proc/sys entry made read-only (bind mount, private mount namespace):
#    caught before any write
unshare -n -m bash -c "
	sysctl -qw net.core.somaxconn=128 net.ipv4.tcp_syncookies=0
	mount --bind /proc/sys/net/ipv4/tcp_syncookies /proc/sys/net/ipv4/tcp_syncookies
	mount -o remount,bind,ro /proc/sys/net/ipv4/tcp_syncookies
	$snap > '$T/b2'
	'$QPS_TUNE' apply --state-dir '$T/st2' > '$T/o2' 2> '$T/e2'; echo \$? > '$T/rc2'
	$snap > '$T/a2'"
is "$(cat "$T/rc2")" 1 "read-only entry: exit 1"
like "$(cat "$T/e2")" "base.profile:[0-9]+: cannot write '/proc/sys/net/ipv4/tcp_syncookies': Read-only file system" \
	"the error names profile file:line and the path"
like "$(cat "$T/e2")" 'nothing changed' "says nothing changed"
ok "read-only entry: every value as it was" cmp -s "$T/b2" "$T/a2"
ok "read-only entry: no journal written" test ! -e "$T/st2/journal"

# 3. --host with a key that is read-only in a child netns (net.core.rmem_max)
cat > "$T/hostro.profile" <<'P'
inherit web-10k
sysctl net.core.rmem_max >= 2147483647
P
unshare -n bash -c "
	sysctl -qw net.core.somaxconn=128
	$snap > '$T/b3'
	'$QPS_TUNE' apply --profile '$T/hostro.profile' --state-dir '$T/st3' > '$T/o3n' 2>&1; echo \$? > '$T/rc3n'
	sysctl -qw net.core.somaxconn=128
	$snap > '$T/b3h'
	'$QPS_TUNE' apply --host --profile '$T/hostro.profile' --state-dir '$T/st3h' > '$T/o3' 2> '$T/e3'; echo \$? > '$T/rc3'
	$snap > '$T/a3'"
is "$(cat "$T/rc3n")" 0 "without --host a host-owned key is skipped, the rest applied"
like "$(cat "$T/o3n")" 'not applied  net.core.rmem_max: host-wide key' "and listed as not applied"
is "$(cat "$T/rc3")" 1 "--host with a read-only host key: exit 1"
like "$(cat "$T/e3")" 'hostro.profile:2: cannot write .*rmem_max.*read-only in this network namespace' \
	"error names the file:line and says why"
ok "--host failure: every value as it was" cmp -s "$T/b3h" "$T/a3"

# 4. raising a hard nofile limit needs CAP_SYS_RESOURCE: validated first
cat > "$T/nofile.profile" <<'P'
inherit web-10k
nofile >= 65536
P
prlimit --nofile=1024:4096 sleep 60 &
child=$!
for _ in $(seq 200); do [ "$(cat /proc/$child/comm 2>/dev/null)" = sleep ] && break; sleep 0.02; done
nocap=()
if [ $(( 0x$(awk '/CapEff/{print $2}' /proc/self/status) >> 24 & 1 )) = 1 ]; then
	nocap=(setpriv --inh-caps=-sys_resource --bounding-set=-sys_resource)
fi
unshare -n "${nocap[@]}" "$QPS_TUNE" apply --profile "$T/nofile.profile" --pid "$child" \
	--state-dir "$T/st4" > "$T/o4" 2> "$T/e4"
is "$?" 1 "nofile hard raise without CAP_SYS_RESOURCE: exit 1"
like "$(cat "$T/e4")" 'needs CAP_SYS_RESOURCE' "error names the missing capability"
is "$(prlimit --nofile --pid "$child" -o SOFT,HARD --noheadings | xargs)" "1024 4096" \
	"the child's limits are unchanged"
kill "$child" 2>/dev/null

# 5. concurrent runs are locked out: one lock per host, whatever the state dir
mkdir -p -m 0700 "$T/run"
touch "$T/run/lock"
flock -o "$T/run/lock" sleep 4 &	# -o: flock itself holds the lock, not sleep
holder=$!
for _ in $(seq 200); do flock -n "$T/run/lock" true || break; sleep 0.02; done
unshare -n "$QPS_TUNE" apply --state-dir "$T/st5" > /dev/null 2> "$T/e5"
is "$?" 1 "a second concurrent apply exits 1"
like "$(cat "$T/e5")" 'another qps-tune apply or rollback holds the lock' "and says why"
# release it: the applies below must reach their own errors, not the lock
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null

# 6. malformed profiles: a clear error with file:line, exit 1
bad() {  # $1 content, $2 expected error regex, $3 name
	printf '%s\n' "$1" > "$T/bad.profile"
	local out
	out=$(unshare -n "$QPS_TUNE" apply --profile "$T/bad.profile" --state-dir "$T/st6" 2>&1 >/dev/null)
	local rc=$?
	if [ $rc = 1 ] && printf '%s' "$out" | grep -qE -- "$2"; then pass "$3"; else
		fail "$3" "rc=$rc" "got: $out" "want: /$2/"; fi
}
bad "sysctl net.core.somaxconn >= lots" "bad.profile:1: net.core.somaxconn: malformed value 'lots'" \
	"malformed value"
bad "$(printf '# c\nsysctl net.core.somaxconn >= 99999999999')" \
	"bad.profile:2: net.core.somaxconn: value 99999999999 out of range" "out-of-range value"
bad "sysctl net.core.no_such_key >= 1" "unknown sysctl key 'net.core.no_such_key'" "unknown key"
bad "sysctrl net.core.somaxconn >= 1" "bad.profile:1: unknown directive 'sysctrl'" "unknown directive"
bad "inherit /nonexistent/x.profile" "bad.profile:1: inherit /nonexistent/x.profile: cannot open profile" \
	"missing parent"
ok "no state written by failed applies" test ! -e "$T/st6/journal"
done_testing
