#!/usr/bin/env bash
# rollback.t - rollback restores only what is still as apply left it, only
# where the journal was written, and never loses track of what it could not
# restore. Every step in scratch network namespaces (unshare -n); values are
# read back from /proc/sys, not from qps-tune's output.
#   1. a key changed after apply is kept and named, exit 1; --force restores it
#   2. interleaved state dirs: apply A, apply B, rollback A, rollback B -> original
#   3. a journal whose namespace is gone (the inode reused by a new one) is
#      stale: refused, the new namespace untouched; apply says how to clear
#      it; rollback --discard-stale does
#   4. a journal of a namespace that still lives elsewhere: refused, naming it
#   5. apply killed after its first write (progress marker): rollback restores
#      exactly, with no false "changed since" notes; no temp file left
#   6. a restore that fails stays in the journal; a second rollback finishes
#   7. no journal; a --pid that exited
. "$(dirname "$0")/../lib.sh"
plan 31
is_root || skip_rest "needs root for unshare -n"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"

T=$(mktemp -d)
export QPS_TUNE_RUN_DIR=$T/run	# host-wide lock and journal registry of this test only
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
snap="grep -r --no-messages '' /proc/sys/net | sort"
somax=/proc/sys/net/core/somaxconn

# 1. changed since apply: kept, named, exit 1; --force restores
unshare -n bash -c "
	sysctl -qw net.core.somaxconn=128 net.ipv4.tcp_max_syn_backlog=128
	'$QPS_TUNE' apply --state-dir '$T/s1' > /dev/null
	sysctl -qw net.core.somaxconn=30000
	'$QPS_TUNE' rollback --state-dir '$T/s1' > '$T/o1' 2> '$T/e1'; echo \$? > '$T/rc1'
	cat $somax /proc/sys/net/ipv4/tcp_max_syn_backlog | tr '\n' ' ' > '$T/v1'
	cp '$T/s1/journal' '$T/j1'
	'$QPS_TUNE' rollback --force --state-dir '$T/s1' > '$T/o1f' 2>&1; echo \$? > '$T/rc1f'
	cat $somax > '$T/v1f'"
is "$(cat "$T/rc1")" 1 "a key changed since apply: rollback exits 1"
like "$(cat "$T/o1")" "kept       net.core.somaxconn: changed since apply \\(now '30000', apply set '4096'\\)" \
	"and names it with both values"
is "$(cat "$T/v1")" "30000 128 " "the operator's 30000 is kept; the untouched key is restored"
like "$(cat "$T/e1")" "rollback --force" "the error says how to restore it anyway"
is "$(grep -c $'^sysctl\t' "$T/j1")" 1 "the journal keeps only the kept key"
is "$(cat "$T/rc1f") $(cat "$T/v1f")" "0 128" "--force restores it"

# 2. interleaved state dirs end at the original
printf 'inherit web-10k\nsysctl net.core.somaxconn >= 8192\n' > "$T/b.profile"
unshare -n bash -c "
	sysctl -qw net.core.somaxconn=128
	$snap > '$T/b2'
	'$QPS_TUNE' apply --state-dir '$T/sA' > /dev/null
	'$QPS_TUNE' apply --profile '$T/b.profile' --state-dir '$T/sB' > /dev/null
	'$QPS_TUNE' rollback --state-dir '$T/sA' > '$T/o2a' 2>&1; echo \$? > '$T/rc2a'
	'$QPS_TUNE' rollback --state-dir '$T/sB' > '$T/o2b' 2>&1; echo \$? > '$T/rc2b'
	$snap > '$T/a2'"
is "$(cat "$T/rc2a") $(cat "$T/rc2b")" "0 0" "rollback A then B: both exit 0"
like "$(cat "$T/o2a")" "handed     net.core.somaxconn: changed since by a later apply" \
	"A hands its original value to the journal of the later apply"
ok "apply A, apply B, rollback A, rollback B: every value back to the original" cmp -s "$T/b2" "$T/a2"

# 3. a journal whose namespace is gone: stale, refused, discarded on request
unshare -n bash -c "sysctl -qw net.core.somaxconn=128; '$QPS_TUNE' apply --state-dir '$T/s3' > /dev/null"
unshare -n bash -c "
	sysctl -qw net.core.somaxconn=999
	'$QPS_TUNE' rollback --state-dir '$T/s3' > '$T/o3' 2> '$T/e3'; echo \$? > '$T/rc3'
	cat $somax > '$T/v3'
	'$QPS_TUNE' apply --state-dir '$T/s3' > /dev/null 2> '$T/e3a'; echo \$? > '$T/rc3a'
	'$QPS_TUNE' audit --state-dir '$T/s3' --json > '$T/a3.json'
	'$QPS_TUNE' rollback --discard-stale --state-dir '$T/s3' > '$T/o3d' 2>&1; echo \$? > '$T/rc3d'
	'$QPS_TUNE' apply --state-dir '$T/s3' > /dev/null 2>&1; echo \$? > '$T/rc3b'
	'$QPS_TUNE' rollback --state-dir '$T/s3' > /dev/null 2>&1
	cat $somax > '$T/v3b'"
is "$(cat "$T/rc3") $(cat "$T/v3")" "1 999" "rollback of a gone namespace's journal: refused, this namespace untouched"
like "$(cat "$T/e3")" "is stale: it was written in netns net:\\[[0-9]+\\] \\(cookie [0-9]+\\).*discard it with 'qps-tune rollback --discard-stale" \
	"it says the journal is stale, where it was written, and how to discard it"
is "$(cat "$T/rc3a")" 1 "apply over a stale journal is refused..."
like "$(cat "$T/e3a")" "is stale.*qps-tune rollback --discard-stale --state-dir $T/s3" "...saying how to clear it"
like "$(jq -r '.checks[] | select(.id=="PERS-005") | .current+" "+.evidence' "$T/a3.json")" \
	"^stale $T/s3/journal: stale, its network namespace is gone; discard it with 'qps-tune rollback --discard-stale" \
	"audit reports the stale journal and how to discard it"
is "$(cat "$T/rc3d") $(cat "$T/rc3b") $(cat "$T/v3b")" "0 0 999" \
	"--discard-stale removes it; apply and rollback work again"

# a journal of qps-tune before 0.2 (format 1, no cookie, no boot id): refused with what to do
mkdir -m 0700 "$T/s3v1"
printf 'qps-tune-journal 1\ncreated x\nnetns 1\npid 0\nprofile p\nsysctl\tnet.core.somaxconn\t=128\t=4096\n' > "$T/s3v1/journal"
chmod 0600 "$T/s3v1/journal"
unshare -n "$QPS_TUNE" apply --state-dir "$T/s3v1" > /dev/null 2> "$T/e3v1"
like "$?: $(cat "$T/e3v1")" "^1: .*format 1, written by qps-tune before 0.2.*roll it back with the qps-tune that wrote it, or move it out" \
	"a format-1 journal blocks apply only with what to do about it"

# 4. a journal of a namespace that still lives elsewhere: refused, named
unshare -n sleep 30 &
holder=$!
for _ in $(seq 100); do [ "$(readlink /proc/$holder/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.02; done
nsenter -t "$holder" -n sh -c "sysctl -qw net.core.somaxconn=128; '$QPS_TUNE' apply --state-dir '$T/s4' > /dev/null"
unshare -n "$QPS_TUNE" rollback --state-dir "$T/s4" > /dev/null 2> "$T/e4"
is "$?" 1 "rollback from another namespace: refused"
like "$(cat "$T/e4")" "written in netns net:\\[[0-9]+\\].*run rollback there: nsenter --net=/proc/[0-9]+/ns/net" \
	"it names where the journal was written and how to get there"
unshare -n "$QPS_TUNE" rollback --discard-stale --state-dir "$T/s4" > /dev/null 2>&1
is "$?" 1 "--discard-stale refuses a journal whose namespace lives"
nsenter -t "$holder" -n "$QPS_TUNE" rollback --state-dir "$T/s4" > /dev/null 2>&1
is "$? $(nsenter -t "$holder" -n cat $somax)" "0 128" "rolled back where it was written"
kill "$holder"

# 5. apply killed after its first write: the progress marker tells rollback
unshare -n bash -c "
	sysctl -qw net.core.somaxconn=128 net.ipv4.tcp_max_syn_backlog=128 net.ipv4.tcp_syncookies=0
	$snap > '$T/b5'
	(QPS_TUNE_TEST_KILL_AFTER=1 exec '$QPS_TUNE' apply --state-dir '$T/s5' > /dev/null 2>&1); echo \$? > '$T/rc5'
	cp '$T/s5/journal' '$T/j5'
	'$QPS_TUNE' rollback --state-dir '$T/s5' > '$T/o5' 2>&1; echo \$? > '$T/rc5r'
	$snap > '$T/a5'" 2> "$T/e5"	# (bash reports the kill there)
is "$(cat "$T/rc5")" 137 "apply was killed (SIGKILL) after its first write"
is "$(grep -c $'\tdone\t' "$T/j5") $(grep -c $'\tplanned\t' "$T/j5")" "1 2" \
	"the journal marks the one write made as done, the rest as planned"
is "$(cat "$T/rc5r")" 0 "rollback after the crash exits 0"
ok "no false 'changed since apply' note" bash -c "! grep -qE '^(kept|note) ' '$T/o5'"
ok "every value as before the crashed apply" cmp -s "$T/b5" "$T/a5"

# temp files: a writer killed mid-write leaves .journal.qps-tune.PID (or, before
# 0.2, journal.tmp.PID); the next write in that directory removes them
dead=4194000; while kill -0 $dead 2>/dev/null; do dead=$((dead + 1)); done
mkdir -p -m 0700 "$T/s5b"
touch "$T/s5b/.journal.qps-tune.$dead" "$T/s5b/journal.tmp.$dead"
unshare -n bash -c "sysctl -qw net.core.somaxconn=128; (QPS_TUNE_TEST_KILL_AFTER=1 exec '$QPS_TUNE' apply --state-dir '$T/s5b' > /dev/null 2>&1)" 2>/dev/null
is "$(ls -A "$T/s5b" | tr '\n' ' ')" "journal " "no temp file left, stale ones of killed writers removed"

# 6. a restore that fails stays in the journal; the second rollback finishes
unshare -n -m bash -c "
	sysctl -qw net.core.somaxconn=128 net.ipv4.tcp_syncookies=0
	'$QPS_TUNE' apply --state-dir '$T/s6' > /dev/null
	mount --bind /proc/sys/net/ipv4/tcp_syncookies /proc/sys/net/ipv4/tcp_syncookies
	mount -o remount,bind,ro /proc/sys/net/ipv4/tcp_syncookies
	'$QPS_TUNE' rollback --state-dir '$T/s6' > '$T/o6' 2>&1; echo \$? > '$T/rc6'
	cut -f2 '$T/s6/journal' | grep '^=net' | tr '\n' ' ' > '$T/j6'
	cat $somax > '$T/v6'
	umount /proc/sys/net/ipv4/tcp_syncookies
	'$QPS_TUNE' rollback --state-dir '$T/s6' > '$T/o6b' 2>&1; echo \$? > '$T/rc6b'
	cat /proc/sys/net/ipv4/tcp_syncookies > '$T/v6b'
	test -e '$T/s6/journal' && echo left > '$T/left6'"
is "$(cat "$T/rc6") $(cat "$T/v6")" "1 128" "a restore fails: exit 1, the others are restored"
is "$(cat "$T/j6")" "=net.ipv4.tcp_syncookies " "the journal keeps exactly what failed"
is "$(cat "$T/rc6b") $(cat "$T/v6b") $(cat "$T/left6" 2>/dev/null)" "0 0 " \
	"the second rollback restores it and removes the journal"

# 7. no journal; a --pid that exited
out=$("$QPS_TUNE" rollback --state-dir "$T/none" 2>&1); rc=$?
is "$rc $out" "0 nothing to roll back (no journal in $T/none)" "no journal: exit 0, says so"
printf 'inherit web-10k\nnofile >= 2048\n' > "$T/nf.profile"
prlimit --nofile=1024:4096 sleep 30 &
child=$!
for _ in $(seq 100); do [ "$(cat /proc/$child/comm 2>/dev/null)" = sleep ] && break; sleep 0.02; done
unshare -n "$QPS_TUNE" apply --profile "$T/nf.profile" --pid "$child" --state-dir "$T/s7" > /dev/null 2>&1
kill "$child"; wait "$child" 2>/dev/null
"$QPS_TUNE" rollback --state-dir "$T/s7" --json > "$T/o7" 2>&1
is "$? $(jq -r '.gone[0].key' "$T/o7")" "0 pid $child nofile" "a --pid that exited: reported gone, exit 0"
done_testing
