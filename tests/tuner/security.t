#!/usr/bin/env bash
# security.t - qps-tune runs as root on input less trusted users control
# (issue 15). Each attack as the attacker would run it: as user nobody
# (setpriv) in a tree or directory nobody owns; root's qps-tune in a scratch
# netns. Nothing outside the temp dir is touched.
#   1. a --root tree's profile is never loaded (kernel.core_pattern payload),
#      nor one in the real /etc/qps-tune/profiles that root does not own
#   2. a 90-qps-tune.conf symlinked to a 0600 secret: not printed, not copied
#   3. audit --root does not follow a sysctl.d symlink to a credentials file
#   4. etc/sysctl.d swapped for a symlink between apply and rollback: rollback
#      writes and removes nothing through it
#   5. a persisted file replaced after apply: rollback keeps it (dev/ino/hash)
#   6. a state dir (and journal) nobody planted: refused, not carried out
#   7. a cgroup named 'default.target<TAB>!<TAB>=evil.service': no drop-in, no
#      journal line that deletes default.target
. "$(dirname "$0")/../lib.sh"
plan 17
is_root || skip_rest "needs root for unshare -n and setpriv"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"

T=$(mktemp -d)
chmod 0755 "$T"
export QPS_TUNE_RUN_DIR=$T/run	# host-wide lock and journal registry of this test only
CG=""
trap 'kill $(jobs -p) 2>/dev/null; [ -n "$CG" ] && rmdir "$CG" 2>/dev/null; rm -rf "$T"' EXIT
as_nobody() { setpriv --reuid nobody --regid nogroup --clear-groups "$@"; }
R=$T/root
mkdir -p "$R" && chown nobody:nogroup "$R"

# 1. profiles under --root are never read
as_nobody mkdir -p "$R/etc/qps-tune/profiles"
as_nobody sh -c "printf 'sysctl kernel.core_pattern = |/tmp/payload %%p\n' > '$R/etc/qps-tune/profiles/evil.profile'"
as_nobody sh -c "printf 'sysctl kernel.core_pattern = |/tmp/payload %%p\n' > '$R/etc/qps-tune/profiles/web-10k.profile'"
out=$(unshare -n "$QPS_TUNE" audit --root "$R" --profile evil --json 2>/dev/null)
is "$(printf '%s' "$out" | jq -r .error)" "unknown profile 'evil' (built-in: base, web-10k, web-100k, proxy, latency; or give a path)" \
	"a profile name is not looked up in the --root tree"
out=$(unshare -n "$QPS_TUNE" audit --root "$R" --json 2>/dev/null)
is "$(printf '%s' "$out" | jq -r '[.checks[] | select(.key=="kernel.core_pattern")] | length')" 0 \
	"the tree's web-10k.profile does not replace the built-in one"

# ... and /etc/qps-tune/profiles/NAME.profile only when root owns it and only
# root can write it (a private tmpfs over /etc: the host's is not touched)
unshare -m sh -c '
	mount -t tmpfs none /etc && mkdir -p /etc/qps-tune/profiles
	printf "sysctl net.core.somaxconn >= 5\n" > /etc/qps-tune/profiles/mine.profile
	chown 65534 /etc/qps-tune/profiles/mine.profile
	"$1" audit --profile mine --json > "$2/p1a.json" 2>/dev/null
	chown 0 /etc/qps-tune/profiles/mine.profile && chmod 0664 /etc/qps-tune/profiles/mine.profile
	"$1" audit --profile mine --json > "$2/p1b.json" 2>/dev/null
	chmod 0644 /etc/qps-tune/profiles/mine.profile
	"$1" audit --profile mine --json > "$2/p1c.json" 2>/dev/null' _ "$QPS_TUNE" "$T"
is "$(jq -r .error "$T/p1a.json")|$(jq -r .error "$T/p1b.json")|$(jq -r .profile "$T/p1c.json")" \
	"refusing profile '/etc/qps-tune/profiles/mine.profile': not a regular file owned by root and writable only by it|refusing profile '/etc/qps-tune/profiles/mine.profile': not a regular file owned by root and writable only by it|mine" \
	"an /etc/qps-tune profile owned by nobody, or group-writable, is refused; root's 0644 one is used"

# 2. our persisted file symlinked to a secret
printf 'TOPSECRET\n' > "$T/secret"; chmod 0600 "$T/secret"
as_nobody mkdir -p "$R/etc/sysctl.d"
as_nobody ln -s "$T/secret" "$R/etc/sysctl.d/90-qps-tune.conf"
unshare -n bash -c "sysctl -qw net.core.somaxconn=128
	'$QPS_TUNE' -v apply --persist --dry-run --root '$R' --state-dir '$T/s2' > '$T/o2' 2> '$T/e2'; echo \$? > '$T/rc2'"
is "$(cat "$T/rc2")" 1 "a symlinked 90-qps-tune.conf: apply refuses"
ok "the secret is not printed" bash -c "! grep -q TOPSECRET '$T/o2' '$T/e2'"
like "$(cat "$T/e2")" "90-qps-tune.conf': .*\\(a symlink: refused\\)" "and says it refused a symlink"
as_nobody rm "$R/etc/sysctl.d/90-qps-tune.conf"

# 3. audit --root: a sysctl.d file symlinked to a credentials file is not read
printf 'password = hunter2\n' > "$T/creds"; chmod 0600 "$T/creds"
as_nobody ln -s ../../../creds "$R/etc/sysctl.d/50-creds.conf"	# relative: out of the tree
"$QPS_TUNE" audit --root "$R" --json > "$T/a3.json" 2>/dev/null
ok "audit --root does not print a file a symlink in the tree points to" bash -c "! grep -q hunter2 '$T/a3.json'"
as_nobody rm "$R/etc/sysctl.d/50-creds.conf"

# 4. etc/sysctl.d swapped for a symlink between apply and rollback
mkdir -p "$T/crond" && echo 'keep me' > "$T/crond/90-qps-tune.conf"
as_nobody sh -c "printf 'old\n' > '$R/etc/sysctl.d/90-qps-tune.conf'"
unshare -n bash -c "sysctl -qw net.core.somaxconn=128
	'$QPS_TUNE' apply --persist --root '$R' --state-dir '$T/s4' > /dev/null 2>&1
	echo \$? > '$T/rc4a'
	setpriv --reuid nobody --regid nogroup --clear-groups sh -c \"mv '$R/etc/sysctl.d' '$R/etc/sysctl.d.real' && ln -s '$T/crond' '$R/etc/sysctl.d'\"
	'$QPS_TUNE' rollback --root '$R' --state-dir '$T/s4' > '$T/o4' 2>&1; echo \$? > '$T/rc4'
	ls '$T/crond' > '$T/l4'; cat '$T/crond/90-qps-tune.conf' >> '$T/l4'
	setpriv --reuid nobody --regid nogroup --clear-groups sh -c \"rm '$R/etc/sysctl.d' && mv '$R/etc/sysctl.d.real' '$R/etc/sysctl.d'\"
	'$QPS_TUNE' rollback --root '$R' --state-dir '$T/s4' > /dev/null 2>&1; echo \$? > '$T/rc4b'"
is "$(cat "$T/rc4a") $(cat "$T/rc4")" "0 1" "rollback through a swapped-in symlink fails"
is "$(cat "$T/l4" | tr '\n' ' ')" "90-qps-tune.conf keep me " \
	"nothing written, removed or replaced in the directory the symlink points to"
is "$(cat "$T/rc4b") $(cat "$R/etc/sysctl.d/90-qps-tune.conf")" "0 old" \
	"with the tree put back, a second rollback restores the old file"

# 5. the persisted file replaced after apply (new inode): kept, named
as_nobody rm -f "$R/etc/sysctl.d/90-qps-tune.conf"
unshare -n bash -c "sysctl -qw net.core.somaxconn=128
	'$QPS_TUNE' apply --persist --root '$R' --state-dir '$T/s5' > /dev/null 2>&1
	setpriv --reuid nobody --regid nogroup --clear-groups sh -c \"cp '$R/etc/sysctl.d/90-qps-tune.conf' '$R/x' && mv -f '$R/x' '$R/etc/sysctl.d/90-qps-tune.conf'\"
	'$QPS_TUNE' rollback --root '$R' --state-dir '$T/s5' > '$T/o5' 2>&1; echo \$? > '$T/rc5'"
is "$(cat "$T/rc5")" 1 "a persisted file replaced since apply: rollback exits 1"
like "$(cat "$T/o5")" "kept       $R/etc/sysctl.d/90-qps-tune.conf: changed since apply" \
	"and keeps the file that is not the one apply wrote"
unshare -n "$QPS_TUNE" rollback --force --root "$R" --state-dir "$T/s5" > /dev/null 2>&1

# 6. a state dir and journal planted by nobody
mkdir -m 1777 "$T/pub"
as_nobody mkdir -m 0755 "$T/pub/st"
as_nobody sh -c "printf 'qps-tune-journal 1\ncreated x\nnetns %s\npid 0\nprofile p\nsysctl\tnet.core.somaxconn\t=777\t=128\n' \
	\"\$(stat -Lc %i /proc/self/ns/net)\" > '$T/pub/st/journal'"
unshare -n bash -c "sysctl -qw net.core.somaxconn=128
	sed -i \"s/^netns .*/netns \$(stat -Lc %i /proc/self/ns/net)/\" '$T/pub/st/journal'
	'$QPS_TUNE' rollback --state-dir '$T/pub/st' > '$T/o6' 2> '$T/e6'; echo \$? > '$T/rc6'
	cat /proc/sys/net/core/somaxconn > '$T/v6'"
is "$(cat "$T/rc6") $(cat "$T/v6")" "1 128" "a state dir nobody owns: refused, its journal not carried out"
like "$(cat "$T/e6")" "refusing state directory '$T/pub/st': owned by uid 65534" "and says whose it is"
mkdir -m 0777 "$T/ww"
unshare -n "$QPS_TUNE" apply --state-dir "$T/ww" > /dev/null 2> "$T/e6b"
like "$(cat "$T/e6b")" "refusing state directory '$T/ww': owned by uid 0 with mode 0777" \
	"a world-writable state dir is refused too"
mkdir -m 0775 "$T/gw" && chgrp nogroup "$T/gw"
unshare -n "$QPS_TUNE" apply --state-dir "$T/gw" > /dev/null 2> "$T/e6c"
like "$(tr '\n' ' ' < "$T/e6c")files:$(ls -A "$T/gw" | wc -l)" "refusing state directory '$T/gw': owned by uid 0 with mode 0775.*files:0$" \
	"a group-writable state dir (group nogroup) is refused, nothing written in it"

# 7. a cgroup name crafted to forge journal fields
for base in /sys/fs/cgroup/unified /sys/fs/cgroup; do
	[ -e "$base/cgroup.procs" ] || continue
	case $base in /sys/fs/cgroup) [ "$(stat -fc %T $base)" = cgroup2fs ] || continue ;; esac
	mkdir "$base/default.target	!	=evil$$.service" 2>/dev/null && { CG="$base/default.target	!	=evil$$.service"; break; }
done
if [ -z "$CG" ]; then
	skip "no writable cgroup hierarchy" "a crafted cgroup name yields no drop-in and no forged journal line"
else
	mkdir -p "$R/etc/systemd/system" && echo unit > "$R/etc/systemd/system/default.target"
	printf 'nofile >= 2200\n' > "$T/p7.profile"	# (not from the tree: test 1)
	unshare -n bash -c "
		ip link set lo up
		python3 -c 'import socket,time,sys; s=socket.socket(); s.bind((\"127.0.0.1\", 18097)); s.listen(8); open(sys.argv[1], \"w\").close(); time.sleep(20)' '$T/ready7' &
		for _ in \$(seq 200); do [ -e '$T/ready7' ] && break; sleep 0.05; done
		echo \$! > '$CG/cgroup.procs'
		'$QPS_TUNE' apply --persist --profile '$T/p7.profile' --root '$R' --state-dir '$T/s7' > '$T/o7' 2>&1
		'$QPS_TUNE' rollback --root '$R' --state-dir '$T/s7' > '$T/o7r' 2>&1
		kill %1"
	is "$(cat "$R/etc/systemd/system/default.target" 2>/dev/null) $(ls "$R/etc/systemd/system" | grep -c evil)" "unit 0" \
		"a crafted cgroup name yields no drop-in and no forged journal line (default.target intact)"
fi
done_testing
