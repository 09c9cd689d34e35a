#!/usr/bin/env bash
# persist.t - apply --persist writes one sysctl.d file and a limits.d file
# under a --root scratch tree (never the real /etc) holding only the keys this
# apply changed (checked against the namespace's own /proc/sys before and
# after), a second apply changes nothing, rollback removes them and restores a
# file that existed before with its mode and owner. Without --root, a child
# netns that shares the host's /etc is refused (its values would reach the
# host at boot).
# Audit --root reads the persisted configuration: removed keys (PORT-005),
# shadowing (PERS-002), runtime vs boot value (PERS-001, initial netns only).
. "$(dirname "$0")/../lib.sh"
plan 22
is_root || skip_rest "needs root for unshare -n"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"

T=$(mktemp -d)
export QPS_TUNE_RUN_DIR=$T/run	# host-wide lock and journal registry of this test only
R=$T/root
trap 'rm -rf "$T"' EXIT
mkdir -p "$R/etc/security/limits.d"
printf '# old\n* soft nofile 4096\n' > "$R/etc/security/limits.d/90-qps-tune.conf"
cp "$R/etc/security/limits.d/90-qps-tune.conf" "$T/limits.orig"

chmod 0640 "$R/etc/security/limits.d/90-qps-tune.conf"
chown 4242:4343 "$R/etc/security/limits.d/90-qps-tune.conf"
unshare -n bash -c "
	sysctl -qw net.core.somaxconn=128
	grep -r --no-messages '' /proc/sys/net | sort > '$T/before'
	'$QPS_TUNE' apply --persist --root '$R' --state-dir '$T/st' > '$T/o1' 2>&1; echo \$? > '$T/rc1'
	grep -r --no-messages '' /proc/sys/net | sort > '$T/after'
	'$QPS_TUNE' apply --persist --root '$R' --state-dir '$T/st' > '$T/o2' 2>&1; echo \$? > '$T/rc2'
	cp '$R/etc/sysctl.d/90-qps-tune.conf' '$T/persisted' 2>/dev/null
	cp '$R/etc/security/limits.d/90-qps-tune.conf' '$T/limits' 2>/dev/null
	'$QPS_TUNE' rollback --root '$R' --state-dir '$T/st' --json > '$T/rb.json' 2>&1; echo \$? > '$T/rc3'
	cat /proc/sys/net/core/somaxconn > '$T/somax'"
is "$(cat "$T/rc1")" 0 "apply --persist exits 0"
like "$(cat "$T/o1")" "changed    /etc/sysctl.d/90-qps-tune.conf: created" "reports the sysctl.d file it created"
ok "nothing written to the real /etc" test ! -e /etc/sysctl.d/90-qps-tune.conf
like "$(cat "$T/persisted")" $'^# written by qps-tune apply \\(profile web-10k\\)' "persisted file has a header"
# the keys whose live value apply changed, from /proc/sys itself (not from apply's output)
changed=$(diff "$T/before" "$T/after" | sed -n 's|^> /proc/sys/\([^:]*\):.*|\1|p' | tr / . | sort -u | tr '\n' ' ')
persisted=$(grep -v '^#' "$T/persisted" | sed 's/ = .*//' | sort -u | tr '\n' ' ')
is "$persisted" "$changed" "sysctl.d holds exactly the keys this apply changed (not those already right)"
ok "host-wide keys are not persisted from a child netns without --host" bash -c "! grep -q '^fs\.' '$T/persisted'"
like "$(cat "$T/persisted")" $'\nnet.core.somaxconn = 4096\n' "somaxconn persisted at the applied value"
like "$(cat "$T/limits")" $'\\*\tsoft\tnofile\t22000\n\\*\thard\tnofile\t22000' "limits.d nofile for conns 10000"
like "$(cat "$T/o2")" '^0 changed' "second apply --persist: 0 changed"
is "$(cat "$T/rc3")" 0 "rollback exits 0"
is "$(jq -r '.removed[]' "$T/rb.json")" "$R/etc/sysctl.d/90-qps-tune.conf" "rollback removed the created file"
ok "rollback restored the pre-existing limits file" cmp -s "$T/limits.orig" "$R/etc/security/limits.d/90-qps-tune.conf"
is "$(stat -c '%a %u %g' "$R/etc/security/limits.d/90-qps-tune.conf")" "640 4242 4343" \
	"rollback restored the file's mode and owner"
like "$(jq -r '.next_steps[]' "$T/rb.json")" 'limits.d applies to new login sessions' \
	"rollback says what the restored limits file needs"
is "$(cat "$T/somax")" 128 "rollback restored somaxconn"

# audit reads the persisted configuration under --root (read-only)
mkdir -p "$R/etc/sysctl.d" "$R/usr/lib/sysctl.d"
printf 'net.ipv4.tcp_tw_recycle = 0\nnet.core.somaxconn = 1024\n' > "$R/etc/sysctl.d/50-old.conf"
printf 'net.core.somaxconn = 8192\n' > "$R/usr/lib/sysctl.d/60-vendor.conf"
"$QPS_TUNE" audit --root "$R" --json > "$T/a.json"
is "$(jq -r '.checks[] | select(.id=="PORT-005") | .key' "$T/a.json")" "net.ipv4.tcp_tw_recycle" \
	"PORT-005: a removed key in sysctl.d"
like "$(jq -r '.checks[] | select(.id=="PERS-002") | .evidence' "$T/a.json")" \
	'/etc/sysctl.d/50-old.conf:2 sets 1024, overridden by /usr/lib/sysctl.d/60-vendor.conf:1 = 8192' \
	"PERS-002: shadowed value, in systemd-sysctl order"
printf '# Debian 13 style: nothing links this file into sysctl.d\nvm.swappiness = 10\n' > "$R/etc/sysctl.conf"
"$QPS_TUNE" audit --root "$R" --json > "$T/a.json"
if [ "$(jq -r .host.initial_netns "$T/a.json")" = true ]; then
	is "$(jq -r '.checks[] | select(.id=="PERS-003") | .evidence' "$T/a.json")" \
		"$R/etc/sysctl.conf has 1 key (first at line 2); no $R/etc/sysctl.d/99-sysctl.conf" \
		"PERS-003: keys in /etc/sysctl.conf that nothing applies at boot"
else
	skip "not in the initial network namespace" "PERS-003: keys in /etc/sysctl.conf that nothing applies at boot"
fi
if [ "$(jq -r .host.initial_netns "$T/a.json")" = true ] && [ "$(cat /proc/sys/net/core/somaxconn)" -ge 4096 ]; then
	is "$(jq -r '.checks[] | select(.id=="PERS-001" and .key=="net.core.somaxconn") | .evidence' "$T/a.json" | sed 's/runtime [0-9]*; //')" \
		"at boot 8192 ($R/usr/lib/sysctl.d/60-vendor.conf:1)" "PERS-001 compares runtime with the boot value"
else
	skip "not in the initial network namespace, or its somaxconn is below the profile" "PERS-001 compares runtime with the boot value"
fi

# a child netns sharing the host's /etc, no --root: refused, nothing written.
# (A private tmpfs over the real directories, so a regression cannot touch them.)
unshare -n -m bash -c "
	mount -t tmpfs none /etc/sysctl.d && mount -t tmpfs none /etc/security/limits.d
	sysctl -qw net.core.somaxconn=128
	'$QPS_TUNE' apply --persist --state-dir '$T/st3' > '$T/o4' 2> '$T/e4'; echo \$? > '$T/rc4'
	ls -A /etc/sysctl.d /etc/security/limits.d | grep -c qps-tune > '$T/written4'
	cat /proc/sys/net/core/somaxconn > '$T/somax4'"
is "$(cat "$T/rc4")" 1 "--persist from a child netns sharing the host's /etc: refused (exit 1)"
like "$(cat "$T/e4")" "refusing --persist in network namespace .*shares the host's /etc.*give --root" \
	"and says why and what to do instead"
is "$(cat "$T/written4") $(cat "$T/somax4")" "0 128" "nothing written: no file, somaxconn unchanged"
done_testing
