#!/usr/bin/env bash
# fleet.t - the Ansible role and playbooks against a real fleet on this machine:
# hosts h1 h2 h3 (group fleet), h4 (group broken: /proc/sys read-only for
# its SSH sessions) and h5 (group missing: qps_tune_bin points nowhere), each
# a network namespace with its own sshd on a private bridge, reached by ansible-playbook over SSH with a key made here. Every
# sysctl is checked inside the host's namespace with sysctl(8), never with
# qps-tune. Everything is torn down on exit, also on failure.
#
# The hosts share this machine's filesystem, so the inventory gives each one
# its own qps-tune state dir (journal), --root (persisted files) and profile
# dir; the package is installed once into the real root and purged at the end
# (unless a qps-tune package was installed before: then it is left alone).
#
#   QPS_FLEET_NO_INSTALL=1  use $QPS_TUNE directly instead of the package
#   QPS_FLEET_KEEP=1        keep the temp dir (logs, inventory, reports)
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/fleet.sh"

if ! is_root; then
	plan 1
	skip "needs root (network namespaces, sshd, dpkg)" "fleet"
	done_testing
fi
for t in ansible-playbook /usr/sbin/sshd ssh-keygen jq dpkg-deb; do
	command -v "$t" >/dev/null || { plan 1; fail "fleet" "'$t' is missing (make deps)"; done_testing; }
done
plan 63

# One fleet test at a time on a machine: the namespaces are private, but the
# package is installed into the one real root. A second run (another `make
# test` in the same tree) waits here. Children get fd 9 closed (9>&-) so that
# nothing outliving the test can hold the lock.
LOCK=/run/lock/qps-tune-fleet-test.lock
[ -d /run/lock ] || LOCK=/tmp/qps-tune-fleet-test.lock
exec 9>"$LOCK"
t_lock=$SECONDS
if ! flock -w 480 9; then
	fail "fleet" "another fleet test still holds $LOCK after 480 s"
	skip_rest "fleet busy"
fi
[ $((SECONDS - t_lock)) -gt 1 ] && diag "waited $((SECONDS - t_lock)) s for another fleet test ($LOCK)"

T=$(mktemp -d /tmp/qps-ansible.XXXXXX)
chmod 755 "$T"
FLEET_DIR=$T/fleet
PKG_INSTALLED_BEFORE=$(dpkg-query -W -f='${Status}' qps-tune 2>/dev/null | grep -c 'ok installed')
PLAY_PID=
cleanup() {
	local rc=$?
	[ -n "$PLAY_PID" ] && kill "$PLAY_PID" 2>/dev/null
	fleet_down
	if [ "$PKG_INSTALLED_BEFORE" = 0 ] && dpkg-query -W -f='${Status}' qps-tune 2>/dev/null | grep -q 'ok installed'; then
		dpkg -P qps-tune >/dev/null 2>&1 || echo "# fleet.t: could not purge qps-tune" >&2
	fi
	if [ -n "${QPS_FLEET_KEEP:-}" ]; then echo "# kept $T" >&2; else rm -rf "$T"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the package, or the build's binary
INSTALL=true
BIN=/usr/sbin/qps-tune
if [ -n "${QPS_FLEET_NO_INSTALL:-}" ] || [ "$PKG_INSTALLED_BEFORE" != 0 ]; then
	INSTALL=false
	BIN=$QPS_TUNE
fi
if ! out=$(cd "$QPS_ROOT" && BUILD=$BUILD DEB_OUT=$T/deb scripts/mkdeb.sh 2>&1); then
	fail "package built" "$out"
	skip_rest "no package"
fi
DEB_VERSION=$(dpkg-deb -f "$T/deb/qps-tune.deb" Version)

# ---- the fleet
if ! fleet_up h4 h1 h2 h3 h5 >"$T/fleet-up.log" 2>&1 9>&-; then
	fail "fleet of 5 namespaces with sshd is up" "$(cat "$T/fleet-up.log")"
	skip_rest "no fleet"
fi
pass "fleet of 5 namespaces with sshd is up (10.231.x.0/24, bridge $FLEET_BR)"
fleet_ro_sysctl h4 9>&- || fail "h4 restarted with a read-only /proc/sys"

ns_sysctl() { ip netns exec "$(fleet_ns "$1")" sysctl -n "$2"; }
ns_set() { ip netns exec "$(fleet_ns "$1")" sysctl -qw "$2=$3"; }
snap() { ip netns exec "$(fleet_ns "$1")" sysctl -a 2>/dev/null | grep '^net\.' | grep -vE 'conntrack_count|stable_secret'; }

# original values, different on every host, all below the profile's targets
declare -A SOMAX=([h1]=128 [h2]=256 [h3]=512 [h4]=1024 [h5]=2048)
for h in h1 h2 h3 h4 h5; do
	ns_set "$h" net.core.somaxconn "${SOMAX[$h]}"
	ns_set "$h" net.ipv4.tcp_max_syn_backlog 256
	ns_set "$h" net.ipv4.tcp_fin_timeout 60
	snap "$h" >"$T/$h.before"
	mkdir -p "$T/$h/root/etc/sysctl.d" "$T/$h/root/etc/security/limits.d" "$T/$h/root/etc/systemd/system" "$T/$h/etc"
done
ROOT_SOMAX=$(sysctl -n net.core.somaxconn)
ROOT_SYNBL=$(sysctl -n net.ipv4.tcp_max_syn_backlog)

hostvars() {  # $1 host
	cat <<EOF
        $1:
          ansible_host: $(fleet_ip "$1")
          qps_tune_state_dir: $T/$1/state
          qps_tune_root: $T/$1/root
          qps_tune_config_dir: $T/$1/etc
EOF
}
{
	cat <<EOF
---
all:
  vars:
    ansible_user: root
    ansible_become: false
    ansible_python_interpreter: /usr/bin/python3
    ansible_ssh_private_key_file: $FLEET_DIR/id_ed25519
    ansible_ssh_common_args: >-
      -o UserKnownHostsFile=$FLEET_DIR/known_hosts -o StrictHostKeyChecking=yes
      -o IdentitiesOnly=yes -o ControlPath=$T/cp-%C
    ansible_remote_tmp: $T/remote-tmp
    qps_tune_install: $INSTALL
    qps_tune_deb: $T/deb/qps-tune.deb
    qps_tune_pkg_cache: $T/pkg-cache
    qps_tune_bin: $BIN
    qps_tune_host_wide: false
    qps_tune_persist: true
    qps_tune_report_dir: $T/reports
    qps_tune_probe_remote_dir: $T/probe-out
    qps_tune_probe: acceptq
    qps_tune_probe_duration: 2
  children:
    broken:
      hosts:
EOF
	hostvars h4
	cat <<EOF
    missing:
      hosts:
EOF
	hostvars h5
	cat <<EOF
          qps_tune_bin: /nonexistent/qps-tune
EOF
	cat <<EOF
    fleet:
      hosts:
EOF
	hostvars h1
	hostvars h2
	cat <<EOF
          qps_tune_sysctl_overrides:
            net.core.somaxconn: ">= 16384"
            net.ipv4.tcp_fin_timeout: 17
EOF
	hostvars h3
} >"$T/hosts.yml"

export ANSIBLE_CONFIG=$QPS_ROOT/ansible/ansible.cfg HOME=$T/home ANSIBLE_LOCAL_TEMP=$T/local-tmp
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_DEPRECATION_WARNINGS=0 ANSIBLE_SSH_RETRIES=2
mkdir -p "$HOME" "$T/logs"
PB=$QPS_ROOT/ansible/playbooks
# play NAME PLAYBOOK ARGS...: runs ansible-playbook, log in $T/logs/NAME.log; sets RC
play() {
	local name=$1 pb=$2
	shift 2
	# in the background, so that INT/TERM run the cleanup right away
	timeout 240 ansible-playbook -i "$T/hosts.yml" "$PB/$pb" "$@" >"$T/logs/$name.log" 2>&1 9>&- &
	PLAY_PID=$!
	local t0=$SECONDS
	wait "$PLAY_PID"
	RC=$?
	PLAY_PID=
	diag "play $name ($pb $*): exit $RC, $((SECONDS - t0)) s"
	LOG=$T/logs/$name.log
}
# recap HOST FIELD: that field of HOST's PLAY RECAP line in $LOG ('' if none)
recap() { awk -v h="$1" -v f="$2" '$1 == h && $2 == ":" { for (i = 3; i <= NF; i++) { split($i, a, "="); if (a[1] == f) v = a[2] } } END { print v }' "$LOG"; }
recap_all() {  # recap_all FIELD HOSTS...: "h1=N h2=N"
	local f=$1 h out=""
	shift
	for h in "$@"; do out="$out $h=$(recap "$h" "$f")"; done
	echo "${out# }"
}
show_log() { tail -n "${1:-25}" "$LOG"; }
same_as_before() {  # HOSTS...: every net.* sysctl equals its snapshot
	local h d bad=""
	for h in "$@"; do
		d=$(snap "$h" | diff "$T/$h.before" - | grep '^[<>]' | head -6)
		[ -z "$d" ] || bad="$bad [$h: $(echo "$d" | tr '\n' ' ')]"
	done
	echo "${bad# }"
}

# ---- the SSH sessions land in each host's namespace
out=$(timeout 120 ansible -i "$T/hosts.yml" all -o -m ansible.builtin.command -a 'readlink /proc/self/ns/net' 2>&1 9>&-)
same=""
for h in h1 h2 h3 h4 h5; do
	want=$(ip netns exec "$(fleet_ns "$h")" readlink /proc/self/ns/net)
	got=$(printf '%s\n' "$out" | grep "^$h " | grep -o 'net:\[[0-9]*\]')
	[ "$got" = "$want" ] || same="$same $h:got '$got' want '$want'"
done
is "$same" "" "ansible reaches every host over SSH, inside its own network namespace"

# ---- check mode before anything is installed
if $INSTALL; then
	play check0 apply.yml --check -l fleet
	if [ "$RC" = 0 ]; then pass "check mode on a fresh fleet succeeds"; else fail "check mode on a fresh fleet succeeds" "$(show_log)"; fi
	like "$(cat "$LOG")" "qps-tune is not installed yet" "check mode says the dry run needs the package first"
	is "$(dpkg-query -W -f='${Status}' qps-tune 2>/dev/null)" "" "check mode installed nothing"

	play install apply.yml -e qps_tune_action=install -l fleet
	if [ "$RC" = 0 ]; then pass "install: the .deb from the controller installs"; else fail "install: the .deb from the controller installs" "$(show_log)"; fi
	is "$(dpkg-query -W -f='${Version}' qps-tune 2>/dev/null)" "$DEB_VERSION" "install: package version $DEB_VERSION installed"
	like "$(recap_all changed h1 h2 h3)" "=[1-9]" "install: reported changed (the host that installed it)"
else
	for n in 1 2 3 4 5; do skip "qps-tune package already installed on this machine or QPS_FLEET_NO_INSTALL set" "install step $n"; done
fi

# ---- check mode + diff: reports what would change, changes nothing
play check apply.yml --check --diff -l fleet
if [ "$RC" = 0 ]; then pass "check mode succeeds"; else fail "check mode succeeds" "$(show_log 40)"; fi
is "$(same_as_before h1 h2 h3)" "" "check mode: every net.* sysctl unchanged on every host"
left=$(cd "$T" && ls -A h1/state h2/state h3/state h1/etc h2/etc h3/etc h1/root/etc/sysctl.d h2/root/etc/sysctl.d h3/root/etc/sysctl.d 2>/dev/null | grep -v ':$' | grep .)
is "$left" "" "check mode: no journal, host profile or persisted file written"
is "$(recap_all changed h1 h2 h3)" "h1=1 h2=1 h3=1" "check mode: changed=1 (the apply task) on every host"
like "$(cat "$LOG")" "-sysctl net.core.somaxconn = 128" "diff mode: h1's somaxconn before (128)"
like "$(cat "$LOG")" "\+sysctl net.core.somaxconn = 16384" "diff mode: h2's somaxconn after (its override 16384)"
like "$(cat "$LOG")" "\+sysctl net.ipv4.tcp_fin_timeout = 17" "diff mode: h2's tcp_fin_timeout override"
like "$(cat "$LOG")" "\+inherit web-10k" "diff mode: the host profile file that would be written"

# ---- audit: changes nothing, fleet report on the controller
play audit0 audit.yml -l fleet
if [ "$RC" = 0 ]; then pass "audit.yml succeeds"; else fail "audit.yml succeeds" "$(show_log 40)"; fi
is "$(same_as_before h1 h2 h3)" "" "audit changes nothing"
is "$(recap_all changed h1 h2 h3)" "h1=0 h2=0 h3=0" "audit reports changed=0"
J=$T/reports/fleet-audit.json
if jq -e . "$J" >/dev/null 2>&1; then pass "fleet-audit.json parses"; else fail "fleet-audit.json parses" "$(head -c 400 "$J" 2>&1)"; fi
is "$(jq -r '[.hosts | to_entries[] | "\(.key)=\(.value.status)"] | join(" ")' "$J" 2>&1)" "h1=drift h2=drift h3=drift" \
	"fleet report: every host in drift before apply"
is "$(jq -r '[.hosts[] | .failing[] | select(.key == "net.core.somaxconn") | .current] | join(" ")' "$J" 2>&1)" "128 256 512" \
	"fleet report: somaxconn failing with each host's own value"
txt=$(cat "$T/reports/fleet-audit.txt" 2>&1)
like "$txt" "3 hosts, 0 clean, 3 drift, 0 error" "fleet-audit.txt: totals line"
like "$txt" '^h2 +drift +[0-9]+ +[0-9]+ .*FAIL' "fleet-audit.txt: one row per host, failing checks as columns"
diag "fleet-audit.txt:"
while IFS= read -r l; do diag "  $l"; done <"$T/reports/fleet-audit.txt"

# ---- apply on h1-h3 and on the broken h4 at once: h4 fails, the others finish
play apply apply.yml --diff -l fleet,broken
is "$RC" 2 "apply with a broken host: ansible-playbook exits 2"
is "$(recap_all failed h1 h2 h3 h4)" "h1=0 h2=0 h3=0 h4=1" "apply: only h4 failed"
# the value of msg: in HOST's "fatal:" block of $LOG, YAML-folded lines joined
fatal_msg() {
	awk -v h="fatal: [$1]" 'index($0, h) == 1 { on = 1; next }
		on && /^    msg: / { m = 1; sub(/^    msg: /, ""); out = $0; next }
		on && m && /^        / { sub(/^ +/, ""); out = out " " $0; next }
		m { print out; exit }' "$LOG" | sed "s/^['\"]//; s/['\"]\$//; s/''/'/g"
}
like "$(fatal_msg h4)" "qps-tune apply failed on this host \(exit 1\): .*cannot write '/proc/sys/net/core/somaxconn': Read-only file system" \
	"apply: h4 fails with a clear message (qps-tune's own)"
diag "h4: $(fatal_msg h4)"
task_hosts() {  # task_hosts TASK-NAME STATUS: hosts with that status in that task, in $LOG
	awk -v t="TASK [qps_tune.qps_tune.qps_tune : $1]" 'index($0, "TASK [") == 1 { on = index($0, t) == 1; next } on' "$LOG" |
		grep -oE "^$2: \[[^]]+\]" | grep -oE '\[[^]]+\]' | tr -d '[]' | sort | tr '\n' ' ' | sed 's/ $//'
}
is "$(task_hosts 'Audit after applying' ok)" "h1 h2 h3" "apply: h1-h3 ran the role to its end (audit after applying)"
is "$(same_as_before h4)" "" "apply: h4 left unchanged"
bad=""
for h in h1 h2 h3; do
	s=$(ns_sysctl "$h" net.core.somaxconn) b=$(ns_sysctl "$h" net.ipv4.tcp_max_syn_backlog)
	[ "$s" -ge 4096 ] && [ "$b" -ge 4096 ] || bad="$bad $h:somaxconn=$s,syn_backlog=$b"
done
is "$bad" "" "apply: somaxconn and tcp_max_syn_backlog >= 4096 in every host's namespace"
is "$(ns_sysctl h2 net.core.somaxconn) $(ns_sysctl h2 net.ipv4.tcp_fin_timeout)" "16384 17" "override: h2 has its own somaxconn and tcp_fin_timeout"
is "$(ns_sysctl h1 net.core.somaxconn) $(ns_sysctl h3 net.core.somaxconn) $(ns_sysctl h1 net.ipv4.tcp_fin_timeout) $(ns_sysctl h3 net.ipv4.tcp_fin_timeout)" \
	"4096 4096 60 60" "override: h1 and h3 do not get h2's values"
is "$(sysctl -n net.core.somaxconn) $(sysctl -n net.ipv4.tcp_max_syn_backlog)" "$ROOT_SOMAX $ROOT_SYNBL" "apply: this machine's own namespace untouched"
like "$(cat "$T"/h{1,2,3}/root/etc/sysctl.d/*.conf 2>&1 | grep -c somaxconn)" '^3$' "persist: a sysctl.d file under each host's root"
is "$(grep -cxE 'inherit web-10k|sysctl net.core.somaxconn >= 16384|sysctl net.ipv4.tcp_fin_timeout = 17' "$T/h2/etc/ansible-h2.profile" 2>&1)" 3 "host profile for h2 holds its override"

# ---- second run: nothing left to do
play apply2 apply.yml --diff -l fleet
is "$RC" 0 "apply again succeeds"
is "$(recap_all changed h1 h2 h3)" "h1=0 h2=0 h3=0" "apply again: changed=0 on every host"

# audit after apply, with h5 (no qps-tune there) in the play: an error row in
# the report, not a crash, and the report is still written
play audit1 audit.yml -l fleet,missing
is "$RC" 2 "audit after apply, with h5 lacking qps-tune: exits 2"
is "$(recap_all failed h1 h2 h3 h5)" "h1=0 h2=0 h3=0 h5=1" "audit: only h5 failed (after the report was written)"
is "$(jq -r '[.hosts.h1.status, .hosts.h2.status, .hosts.h3.status] | map(select(. == "clean" or . == "drift")) | length' "$J" 2>&1) $(jq -r .hosts.h5.status "$J" 2>&1)" \
	"3 error" "fleet report: h1-h3 audited, h5 listed as error"
like "$(jq -r '.hosts.h5.error' "$J" 2>&1)" "qps-tune not found at '/nonexistent/qps-tune'" "fleet report: the error says what is missing"
is "$(jq -r '[.hosts[] | (.failing // [])[] | select(.key == "net.core.somaxconn" or .key == "net.ipv4.tcp_max_syn_backlog")] | length' "$J" 2>&1)" 0 \
	"fleet report after apply: no somaxconn/syn_backlog failure left"
like "$(cat "$T/reports/fleet-audit.txt")" "^h5 +error +- +- +qps-tune not found" "fleet-audit.txt: h5's row shows the error"

# ---- probe: a parseable report from every host, on the controller
play probe probe.yml -l fleet
is "$RC" 0 "probe.yml succeeds" || true
[ "$RC" = 0 ] || diag "$(show_log 30)"
bad=""
for h in h1 h2 h3; do
	f=$T/reports/probe-acceptq/$h.json
	jq -e '.schema | startswith("qps-tune.probe.acceptq")' "$f" >/dev/null 2>&1 || bad="$bad $h:$(head -c 200 "$f" 2>&1)"
done
is "$bad" "" "probe: each host's acceptq report fetched and parses (schema qps-tune.probe.acceptq/N)"
bad=""
for h in h1 h2 h3; do
	want=$(ip netns exec "$(fleet_ns "$h")" readlink /proc/self/ns/net | tr -dc 0-9)
	got=$(jq -r '.netns // empty' "$T/reports/probe-acceptq/$h.json" 2>/dev/null)
	[ "$got" = "$want" ] || bad="$bad $h:got '$got' want '$want'"
done
is "$bad" "" "probe: each report was taken in that host's own namespace (.netns)"

# ---- rollback: check mode changes nothing, then every original value back
play rollback-check rollback.yml --check -l fleet
is "$RC $(ns_sysctl h2 net.core.somaxconn) $(ls "$T/h2/etc" 2>&1)" "0 16384 ansible-h2.profile" "rollback --check changes nothing"
play rollback rollback.yml --diff -l fleet
is "$RC" 0 "rollback succeeds"
is "$(same_as_before h1 h2 h3)" "" "rollback: every net.* sysctl back to its original value on every host"
is "$(ls "$T"/h{1,2,3}/root/etc/sysctl.d/ "$T"/h{1,2,3}/etc/ 2>/dev/null | grep -v ':$' | grep .)" "" \
	"rollback: persisted files and host profiles removed"
is "$(recap_all changed h1 h2 h3)" "h1=1 h2=1 h3=1" "rollback: changed on every host"
play rollback2 rollback.yml -l fleet
is "$(recap_all changed h1 h2 h3) rc=$RC" "h1=0 h2=0 h3=0 rc=0" "rollback again: changed=0"

# ---- canary rollout: h4 (broken) is batch 1; max_fail_percentage 0 stops the rest
play rolling apply-rolling.yml -l broken,fleet
is "$RC" 2 "rolling apply with a broken canary exits 2"
is "$(recap_all failed h4)" "h4=1" "rolling: the canary h4 failed"
is "$(recap_all ok h1 h2 h3)" "h1= h2= h3=" "rolling: h1-h3 never ran (no recap line)"
is "$(same_as_before h1 h2 h3 h4)" "" "rolling: every host unchanged"

# same without the broken host: batches 1, 30%, rest all succeed
play rolling-ok apply-rolling.yml -l fleet -e qps_tune_audit_around_apply=false
is "$RC" 0 "rolling apply of a healthy fleet succeeds"
is "$(grep -c '^PLAY \[Apply the qps-tune profile batch by batch\]' "$LOG")" 3 "rolling: three batches (1, 30%, rest)"
bad=""
for h in h1 h2 h3; do [ "$(ns_sysctl "$h" net.core.somaxconn)" -ge 4096 ] || bad="$bad $h"; done
is "$bad" "" "rolling: every host tuned"
play rollback3 rollback.yml -l fleet
is "$(same_as_before h1 h2 h3) rc=$RC" " rc=0" "rollback after the rolling apply restores everything"

# ---- per-host journals: one per host, under its own state dir
n=0
for h in h1 h2 h3; do [ -d "$T/$h/state" ] && n=$((n + 1)); done
is "$n" 3 "each host kept its journal in its own state dir"

# ---- the package purges cleanly (what the EXIT trap does for a fresh machine)
if $INSTALL && [ "$PKG_INSTALLED_BEFORE" = 0 ]; then
	out=$(dpkg -P qps-tune 2>&1)
	if [ $? = 0 ]; then pass "dpkg -P qps-tune succeeds"; else fail "dpkg -P qps-tune succeeds" "$out"; fi
	left=""
	for f in /usr/sbin/qps-tune /usr/bin/qps-server /lib/systemd/system/qps-server.service /usr/share/qps-tune; do
		[ -e "$f" ] && left="$left $f"
	done
	is "$left" "" "purge removed every packaged file"
else
	skip "package not installed by this test" "purge"
	skip "package not installed by this test" "purge removed every file"
fi
done_testing
