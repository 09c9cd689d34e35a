#!/usr/bin/env bash
# fleet.t - the Ansible collection's role and playbooks against a real fleet on
# this machine: hosts h1..hN (group fleet; N = QPS_FLEET_HOSTS, 3 in make test,
# 20 in make fleet), hb (group broken: /proc/sys read-only for its SSH sessions)
# and hm (group missing: qps_tune_bin points nowhere). Each host is a network
# namespace with its own sshd on a private bridge; the bridge and the
# controller's address are in a namespace of their own, where ansible-playbook
# runs (ip netns exec), so this machine's namespace gets no link, address or
# route. Every sysctl is checked inside the host's namespace with sysctl(8),
# process limits in /proc, listeners with ss - never with qps-tune.
#
# The role comes from the collection as a user gets it (ansible-galaxy
# collection build + install into the temp dir), the playbooks from a copy of
# ansible/playbooks whose files/qps-tune.deb is the package built here (the
# role's default qps_tune_deb). Roles of the first hosts:
#   h1  plain; its sshd listener predates apply (LQ-002 through qps_tune_state_dir)
#   h2  per-host overrides, qps_tune_pid (a qps-server), qps_tune_conns 5000
#   h3  qps_tune_profile_lines, qps_tune_restart_qps_server with a qps-server
#       "service" (an init script bind-mounted over /etc/init.d for its sessions)
#
# The hosts share this machine's filesystem, so the inventory gives each one
# its own qps-tune state dir (journal), --root (persisted files) and profile
# dir; the package is installed once into the real root and purged at the end
# (unless a qps-tune package was installed before: then it is left alone).
#
#   QPS_FLEET_HOSTS=20      size of group fleet (make fleet)
#   QPS_FLEET_NO_INSTALL=1  use $QPS_TUNE directly instead of the package
#   QPS_FLEET_KEEP=1        keep the temp dir (logs, inventory, reports)
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/fleet.sh"

if ! is_root; then
	plan 1
	skip "needs root (network namespaces, sshd, dpkg)" "fleet"
	done_testing
fi
for t in ansible-playbook ansible-galaxy /usr/sbin/sshd ssh-keygen jq dpkg-deb ss; do
	command -v "$t" >/dev/null || { plan 1; fail "fleet" "'$t' is missing (make deps)"; done_testing; }
done
N=${QPS_FLEET_HOSTS:-3}
[ "$N" -ge 3 ] 2>/dev/null || N=3
FLEET=()
for ((i = 1; i <= N; i++)); do FLEET+=("h$i"); done
plan 105

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
DEFAULT_JOURNAL_BEFORE=$([ -e /var/lib/qps-tune/journal ] && echo yes || echo no)
PLAY_PID=
LOAD_PID=
cleanup() {
	local rc=$?
	[ -n "$PLAY_PID" ] && kill "$PLAY_PID" 2>/dev/null
	[ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null
	fleet_down
	if [ "$PKG_INSTALLED_BEFORE" = 0 ] && dpkg-query -W -f='${Status}' qps-tune 2>/dev/null | grep -q 'ok installed'; then
		dpkg -P qps-tune >/dev/null 2>&1 || echo "# fleet.t: could not purge qps-tune" >&2
	fi
	if [ -n "${QPS_FLEET_KEEP:-}" ]; then echo "# kept $T" >&2; else rm -rf "$T"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the package, or the build's binary; the collection as a user installs it
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
export HOME=$T/home ANSIBLE_LOCAL_TEMP=$T/local-tmp
mkdir -p "$HOME" "$T/logs"
if ! out=$(ansible-galaxy collection build --output-path "$T/dist" "$QPS_ROOT/ansible/collections/ansible_collections/qps_tune/qps_tune" 2>&1 &&
	ansible-galaxy collection install --offline -p "$T/collections" "$T"/dist/qps_tune-qps_tune-*.tar.gz 2>&1); then
	fail "collection built and installed" "$out"
	skip_rest "no collection"
fi
cp -r "$QPS_ROOT/ansible/playbooks" "$T/pb"
ln -sfn "$T/deb/qps-tune.deb" "$T/pb/files/qps-tune.deb"
PB=$T/pb

# ---- the fleet
ns_sysctl() { ip netns exec "$(fleet_ns "$1")" sysctl -n "$2"; }
ns_set() { ip netns exec "$(fleet_ns "$1")" sysctl -qw "$2=$3"; }
snap() { ip netns exec "$(fleet_ns "$1")" sysctl -a 2>/dev/null | grep '^net\.' | grep -vE 'conntrack_count|stable_secret'; }
host_links() { ip -o link show | grep -F "$FLEET_PREFIX"; ip -o addr show | grep -F " $FLEET_NET."; }

if ! fleet_up hb "${FLEET[@]}" hm >"$T/fleet-up.log" 2>&1 9>&-; then
	fail "fleet of $((N + 2)) namespaces with sshd is up" "$(cat "$T/fleet-up.log")"
	skip_rest "no fleet"
fi
pass "fleet of $((N + 2)) namespaces with sshd is up ($FLEET_NET.0/24, bridge $FLEET_BR in $FLEET_CTL)"
is "$(host_links)" "" "this machine's namespace: no fleet link, no fleet address (the bridge is in the controller's namespace)"
like "$(ip -n "$FLEET_CTL" -o addr show dev "$FLEET_BR" 2>&1)" "inet $FLEET_NET\.1/24" "the controller's namespace holds the bridge and $FLEET_NET.1"
fleet_ro_sysctl hb 9>&- || fail "hb restarted with a read-only /proc/sys"

# original values, different on every host, all below the profile's targets
declare -A SOMAX=([hb]=1024 [hm]=2048)
for ((i = 1; i <= N; i++)); do SOMAX[h$i]=$((128 * i)); done
for h in "${FLEET[@]}" hb hm; do
	ns_set "$h" net.core.somaxconn "${SOMAX[$h]}"
	ns_set "$h" net.ipv4.tcp_max_syn_backlog 256
	ns_set "$h" net.ipv4.tcp_fin_timeout 60
	mkdir -p "$T/$h/root/etc/sysctl.d" "$T/$h/root/etc/security/limits.d" "$T/$h/root/etc/systemd/system" "$T/$h/etc"
done
ROOT_SOMAX=$(sysctl -n net.core.somaxconn)
ROOT_SYNBL=$(sysctl -n net.ipv4.tcp_max_syn_backlog)

# h2: a qps-server whose pid the role gets (qps_tune_pid), soft nofile 1024
ip netns exec "$(fleet_ns h2)" sh -c "ulimit -Sn 1024; exec setsid '$QPS_SERVER' -l '$(fleet_ip h2):8080' -w 1 </dev/null >/dev/null 2>&1" 9>&- &
H2_PID=$!
# h3: a qps-server "service" the role's handler restarts, through an init script
# its SSH sessions see as /etc/init.d/qps-server
mkdir -p "$T/initd-h3"
cat >"$T/initd-h3/qps-server" <<EOF
#!/bin/sh
pidf=$T/h3-qps-server.pid
echo "\$1" >>$T/h3-initd.log
case "\$1" in
status) [ -s \$pidf ] && kill -0 "\$(cat \$pidf)" 2>/dev/null ;;
stop)
	[ -s \$pidf ] && kill "\$(cat \$pidf)" 2>/dev/null
	for i in \$(seq 100); do kill -0 "\$(cat \$pidf 2>/dev/null)" 2>/dev/null || break; sleep 0.05; done
	rm -f \$pidf ;;
start)
	setsid $QPS_SERVER -l $(fleet_ip h3):8080 -w 1 </dev/null >/dev/null 2>&1 &
	echo \$! >\$pidf
	for i in \$(seq 100); do ss -Hltn 'sport = :8080' | grep -q . && break; sleep 0.05; done ;;
restart) "\$0" stop; "\$0" start ;;
esac
EOF
chmod 755 "$T/initd-h3/qps-server"
fleet_restart_sshd h3 "mount --bind '$T/initd-h3' /etc/init.d" 9>&- || fail "h3 restarted with its init script"
ip netns exec "$(fleet_ns h3)" "$T/initd-h3/qps-server" start 9>&-
H3_PID0=$(cat "$T/h3-qps-server.pid" 2>/dev/null)
backlog() { ip netns exec "$(fleet_ns "$1")" ss -Hltn "sport = :$2" | awk '{print $3}' | head -1; }
nofile_soft() { awk '/^Max open files/ { print $4 }' "/proc/$1/limits" 2>&1; }
for ((i = 0; i < 100; i++)); do [ -n "$(backlog h2 8080)" ] && break; sleep 0.05; done
is "$(backlog h2 8080) $(backlog h3 8080) $(nofile_soft "$H2_PID")" "256 384 1024" \
	"qps-servers on h2 and h3 listen with the backlog their somaxconn allows (ss); h2's soft nofile 1024"
for h in "${FLEET[@]}" hb hm; do snap "$h" >"$T/$h.before"; done
NOFILE_CONNS=$("$QPS_TUNE" profile show web-10k --resolved --conns 5000 2>/dev/null | awk '$1 == "nofile" { print $3; exit }')
NOFILE_DEFAULT=$("$QPS_TUNE" profile show web-10k --resolved 2>/dev/null | awk '$1 == "nofile" { print $3; exit }')

# diagnose.yml watches h1's qps-server on this port (qps_tune_port), h2's by
# qps_tune_pid, h3's on 8080 (qps_tune_port: its sshd listens too), the others'
# only listener (their sshd)
H1_DIAG_PORT=18081
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
	hostvars hb
	cat <<EOF
    missing:
      hosts:
EOF
	hostvars hm
	cat <<EOF
          qps_tune_bin: /nonexistent/qps-tune
    fleet:
      hosts:
EOF
	hostvars h1
	cat <<EOF
          qps_tune_port: $H1_DIAG_PORT
EOF
	hostvars h2
	cat <<EOF
          qps_tune_sysctl_overrides:
            net.core.somaxconn: ">= 16384"
            net.ipv4.tcp_fin_timeout: 17
          qps_tune_pid: $H2_PID
          qps_tune_conns: 5000
EOF
	hostvars h3
	cat <<EOF
          qps_tune_profile_lines:
            - sysctl net.ipv4.tcp_max_tw_buckets >= 262144
          qps_tune_restart_qps_server: true
          qps_tune_port: 8080
EOF
	for ((i = 4; i <= N; i++)); do hostvars "h$i"; done
} >"$T/hosts.yml"

export ANSIBLE_CONFIG=$QPS_ROOT/ansible/ansible.cfg ANSIBLE_COLLECTIONS_PATH=$T/collections
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_DEPRECATION_WARNINGS=0 ANSIBLE_SSH_RETRIES=2
# forks: every host of a play at once (ansible.cfg says 20; the fleet may be larger)
FORKS=$((N + 2))
[ "$FORKS" -lt 20 ] && FORKS=20
# play NAME PLAYBOOK ARGS...: ansible-playbook in the controller's namespace,
# log in $T/logs/NAME.log; sets RC and WALL (controller wall time, seconds)
play() {
	local name=$1 pb=$2 t0
	shift 2
	t0=$(date +%s.%N)
	# in the background, so that INT/TERM run the cleanup right away
	fleet_ctl timeout 300 ansible-playbook -f "$FORKS" -i "$T/hosts.yml" "$PB/$pb" "$@" >"$T/logs/$name.log" 2>&1 9>&- &
	PLAY_PID=$!
	wait "$PLAY_PID"
	RC=$?
	PLAY_PID=
	WALL=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	diag "play $name ($pb $*): exit $RC, $WALL s"
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
each() {  # each VALUE HOSTS...: "h1=VALUE h2=VALUE", what recap_all prints when all agree
	local v=$1 h out=""
	shift
	for h in "$@"; do out="$out $h=$v"; done
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
TIMES=()

# ---- the SSH sessions land in each host's namespace
out=$(fleet_ctl timeout 120 ansible -f "$FORKS" -i "$T/hosts.yml" all -o -m ansible.builtin.command -a 'readlink /proc/self/ns/net' 2>&1 9>&-)
same=""
for h in "${FLEET[@]}" hb hm; do
	want=$(ip netns exec "$(fleet_ns "$h")" readlink /proc/self/ns/net)
	got=$(printf '%s\n' "$out" | grep "^$h " | grep -o 'net:\[[0-9]*\]')
	[ "$got" = "$want" ] || same="$same $h:got '$got' want '$want'"
done
is "$same" "" "ansible reaches every host over SSH from the controller's namespace, each inside its own network namespace"

J=$T/reports/fleet-audit.json
# ---- before anything is installed: audit says how to install, check mode skips
if $INSTALL; then
	play audit-fresh audit.yml -l fleet
	is "$RC $(jq -r '[.hosts[] | .status] | unique | join(",")' "$J" 2>&1)" "2 error" "audit on a fresh fleet: every host an error in the report, exit 2"
	msg=$(jq -r '.hosts.h1.error' "$J" 2>&1)
	like "$msg" "qps_tune_action=install" "audit on a fresh fleet: the error says how to install (qps_tune_action=install)"
	is "$(printf '%s' "$msg" | grep -c 'qps_tune_install: true')" 0 "audit on a fresh fleet: no advice to set qps_tune_install: true (it already is)"
	play check0 apply.yml --check -l fleet
	if [ "$RC" = 0 ]; then pass "check mode on a fresh fleet succeeds"; else fail "check mode on a fresh fleet succeeds" "$(show_log)"; fi
	like "$(cat "$LOG")" "qps-tune is not installed yet" "check mode says the dry run needs the package first"
	is "$(dpkg-query -W -f='${Status}' qps-tune 2>/dev/null)" "" "check mode installed nothing"

	# install.yml: the role's default qps_tune_deb, found in the playbook's files/
	play install install.yml -l fleet
	if [ "$RC" = 0 ]; then pass "install.yml: the .deb from the playbook's files/ installs"; else fail "install.yml: the .deb from the playbook's files/ installs" "$(show_log)"; fi
	is "$(dpkg-query -W -f='${Version}' qps-tune 2>/dev/null)" "$DEB_VERSION" "install: package version $DEB_VERSION installed"
	like "$(recap_all changed "${FLEET[@]}")" "=[1-9]" "install: reported changed (the host that installed it)"
else
	for n in 1 2 3 4 5 6 7 8 9; do skip "qps-tune package already installed on this machine or QPS_FLEET_NO_INSTALL set" "install step $n"; done
fi

# ---- check mode + diff: reports what would change, changes nothing
play check apply.yml --check --diff -l fleet
if [ "$RC" = 0 ]; then pass "check mode succeeds"; else fail "check mode succeeds" "$(show_log 40)"; fi
is "$(same_as_before "${FLEET[@]}")" "" "check mode: every net.* sysctl unchanged on every host"
left=$(for h in "${FLEET[@]}"; do find "$T/$h/state" "$T/$h/etc" "$T/$h/root/etc/sysctl.d" -mindepth 1 2>/dev/null; done)
is "$left" "" "check mode: no journal, host profile or persisted file written"
# h3 (qps_tune_restart_qps_server) would also restart its qps-server: the handler
# runs in check mode, asks the init script for its status and restarts nothing
is "$(recap_all changed "${FLEET[@]}")" "$(each 1 "${FLEET[@]}" | sed 's/h3=1/h3=2/')" "check mode: changed=1 (the apply task) on every host, 2 on h3 (its restart)"
is "$(tr '\n' ' ' <"$T/h3-initd.log")" "start status " "check mode: h3's qps-server only asked for its status, not restarted"
like "$(cat "$LOG")" "-sysctl net.core.somaxconn = 128" "diff mode: h1's somaxconn before (128)"
like "$(cat "$LOG")" "\+sysctl net.core.somaxconn = 16384" "diff mode: h2's somaxconn after (its override 16384)"
like "$(cat "$LOG")" "\+sysctl net.ipv4.tcp_fin_timeout = 17" "diff mode: h2's tcp_fin_timeout override"
like "$(cat "$LOG")" "\+inherit web-10k" "diff mode: the host profile file that would be written"

# ---- audit: changes nothing, fleet report on the controller; with
# qps_tune_audit_fail_on_drift every drifting host fails after the report
play audit0 audit.yml -l fleet -e qps_tune_audit_fail_on_drift=true
TIMES+=("audit  $N hosts forks $FORKS: $WALL s")
is "$RC $(recap_all failed "${FLEET[@]}")" "2 $(each 1 "${FLEET[@]}")" "audit with qps_tune_audit_fail_on_drift=true: every drifting host failed, exit 2"
like "$(grep -A2 '^fatal: \[h1\]' "$LOG" | tr '\n' ' ')" "failing checks: .*LQ-001" "audit fail_on_drift: the failure names the failing checks"
is "$(same_as_before "${FLEET[@]}")" "" "audit changes nothing"
is "$(recap_all changed "${FLEET[@]}")" "$(each 0 "${FLEET[@]}")" "audit reports changed=0"
if jq -e . "$J" >/dev/null 2>&1; then pass "fleet-audit.json parses (written before the drifting hosts failed)"; else fail "fleet-audit.json parses" "$(head -c 400 "$J" 2>&1)"; fi
is "$(jq -r '[.hosts | to_entries[] | "\(.key)=\(.value.status)"] | sort | join(" ")' "$J" 2>&1)" "$(each drift "${FLEET[@]}" | tr ' ' '\n' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')" \
	"fleet report: every host in drift before apply"
want=$(for h in "${FLEET[@]}"; do echo "$h=${SOMAX[$h]}"; done | sort | tr '\n' ' ')
is "$(jq -r '.hosts | to_entries[] | "\(.key)=\(.value.failing[] | select(.key == "net.core.somaxconn") | .current)"' "$J" 2>&1 | sort | tr '\n' ' ')" "$want" \
	"fleet report: somaxconn failing with each host's own value"
is "$(jq -r '[.hosts[].failing[].fix // "" | select(test("/qps_tune\\.[^/]*/"))] | length' "$J" 2>&1)" 0 "fleet report: no fix names the module's deleted temp profile"
like "$(jq -r '.hosts.h1.failing[] | select(.key == "net.core.somaxconn") | .fix' "$J" 2>&1)" "--profile $T/h1/etc/ansible-h1.profile" \
	"fleet report: the fix names h1's host profile file"
is "$(jq -r '[.hosts.h2.failing[] | select(.id == "FD-001") | .target] | unique | join(" ")' "$J" 2>&1) $(jq -r '[.hosts.h1.failing[] | select(.id == "FD-001") | .target] | unique | join(" ")' "$J" 2>&1)" \
	">= $NOFILE_CONNS >= $NOFILE_DEFAULT" "qps_tune_conns: h2's nofile target is the profile's for 5000 conns ($NOFILE_CONNS), h1's the default ($NOFILE_DEFAULT)"
txt=$(cat "$T/reports/fleet-audit.txt" 2>&1)
like "$txt" "$N hosts, 0 clean, $N drift, 0 error" "fleet-audit.txt: totals line"
like "$txt" '^h2 +drift +[0-9]+ +[0-9]+ .*FAIL' "fleet-audit.txt: one row per host, failing checks as columns"
diag "fleet-audit.txt:"
while IFS= read -r l; do diag "  $l"; done <"$T/reports/fleet-audit.txt"

# ---- apply on the fleet and on the broken hb at once: hb fails, the others finish
play apply apply.yml --diff -l fleet,broken
TIMES+=("apply  $((N + 1)) hosts forks $FORKS: $WALL s")
is "$RC" 2 "apply with a broken host: ansible-playbook exits 2"
is "$(recap_all failed "${FLEET[@]}" hb)" "$(each 0 "${FLEET[@]}") hb=1" "apply: only hb failed"
# the value of msg: in HOST's "fatal:" block of $LOG, YAML-folded lines joined
fatal_msg() {
	awk -v h="fatal: [$1]" 'index($0, h) == 1 { on = 1; next }
		on && /^    msg: / { m = 1; sub(/^    msg: /, ""); out = $0; next }
		on && m && /^        / { sub(/^ +/, ""); out = out " " $0; next }
		m { print out; exit }' "$LOG" | sed "s/^['\"]//; s/['\"]\$//; s/''/'/g"
}
like "$(fatal_msg hb)" "qps-tune apply failed on this host \(exit 1\): .*cannot write '/proc/sys/net/core/somaxconn': Read-only file system" \
	"apply: hb fails with a clear message (qps-tune's own)"
diag "hb: $(fatal_msg hb)"
task_hosts() {  # task_hosts TASK-NAME STATUS: hosts with that status in that task, in $LOG
	awk -v t="TASK [qps_tune.qps_tune.qps_tune : $1]" 'index($0, "TASK [") == 1 { on = index($0, t) == 1; next } on' "$LOG" |
		grep -oE "^$2: \[[^]]+\]" | grep -oE '\[[^]]+\]' | tr -d '[]' | sort | tr '\n' ' ' | sed 's/ $//'
}
is "$(task_hosts 'Audit after applying' ok)" "$(printf '%s\n' "${FLEET[@]}" | sort | tr '\n' ' ' | sed 's/ $//')" "apply: every fleet host ran the role to its end (audit after applying)"
is "$(same_as_before hb)" "" "apply: hb left unchanged"
bad=""
for h in "${FLEET[@]}"; do
	s=$(ns_sysctl "$h" net.core.somaxconn) b=$(ns_sysctl "$h" net.ipv4.tcp_max_syn_backlog)
	[ "$s" -ge 4096 ] && [ "$b" -ge 4096 ] || bad="$bad $h:somaxconn=$s,syn_backlog=$b"
done
is "$bad" "" "apply: somaxconn and tcp_max_syn_backlog >= 4096 in every host's namespace"
is "$(ns_sysctl h2 net.core.somaxconn) $(ns_sysctl h2 net.ipv4.tcp_fin_timeout)" "16384 17" "override: h2 has its own somaxconn and tcp_fin_timeout"
is "$(ns_sysctl h1 net.core.somaxconn) $(ns_sysctl h3 net.core.somaxconn) $(ns_sysctl h1 net.ipv4.tcp_fin_timeout) $(ns_sysctl h3 net.ipv4.tcp_fin_timeout)" \
	"4096 4096 60 60" "override: h1 and h3 do not get h2's values"
is "$(ns_sysctl h3 net.ipv4.tcp_max_tw_buckets) $(ns_sysctl h1 net.ipv4.tcp_max_tw_buckets)" "262144 $(grep '^net.ipv4.tcp_max_tw_buckets ' "$T/h1.before" | awk '{print $3}')" \
	"qps_tune_profile_lines: h3's extra rule applied in its namespace, h1 untouched"
is "$(grep -cxF 'sysctl net.ipv4.tcp_max_tw_buckets >= 262144' "$T/h3/etc/ansible-h3.profile" 2>&1)" 1 "qps_tune_profile_lines: the line is in h3's host profile"
is "$(nofile_soft "$H2_PID")" "$NOFILE_CONNS" "qps_tune_pid + qps_tune_conns: h2's qps-server soft nofile raised live to $NOFILE_CONNS (/proc/PID/limits)"
H3_PID1=$(cat "$T/h3-qps-server.pid" 2>/dev/null)
is "$(tr '\n' ' ' <"$T/h3-initd.log")$([ -n "$H3_PID1" ] && [ "$H3_PID1" != "$H3_PID0" ] && echo new-pid) $(backlog h3 8080)" "start status status stop start new-pid 4096" \
	"qps_tune_restart_qps_server: h3's qps-server restarted by the handler (init script) and listens with the new backlog (ss)"
is "$(kill -0 "$H2_PID" 2>&1 && echo running) $(backlog h2 8080)" "running 256" "h2 (qps_tune_restart_qps_server false): its qps-server not restarted, still on the old backlog"
is "$(sysctl -n net.core.somaxconn) $(sysctl -n net.ipv4.tcp_max_syn_backlog)" "$ROOT_SOMAX $ROOT_SYNBL" "apply: this machine's own namespace untouched"
is "$(for h in "${FLEET[@]}"; do grep -l somaxconn "$T/$h"/root/etc/sysctl.d/*.conf 2>/dev/null; done | wc -l)" "$N" "persist: a sysctl.d file under each host's root"
is "$(grep -cxE 'inherit web-10k|sysctl net.core.somaxconn >= 16384|sysctl net.ipv4.tcp_fin_timeout = 17' "$T/h2/etc/ansible-h2.profile" 2>&1)" 3 "host profile for h2 holds its override"
# each host's journal: in its own state dir, for its own namespace
bad=""
for h in "${FLEET[@]}"; do
	want=$(ip netns exec "$(fleet_ns "$h")" readlink /proc/self/ns/net | tr -dc 0-9)
	got=$(awk '$1 == "netns" { print $2 }' "$T/$h/state/journal" 2>/dev/null)
	[ "$got" = "$want" ] || bad="$bad $h:journal-netns='$got',want='$want'"
done
is "$bad" "" "journal: one per host in its qps_tune_state_dir, each recording that host's namespace"
is "$([ -e /var/lib/qps-tune/journal ] && echo yes || echo no)" "$DEFAULT_JOURNAL_BEFORE" "journal: nothing written to the default /var/lib/qps-tune"

# ---- second run: nothing left to do
play apply2 apply.yml --diff -l fleet
is "$RC" 0 "apply again succeeds"
is "$(recap_all changed "${FLEET[@]}")" "$(each 0 "${FLEET[@]}")" "apply again: changed=0 on every host"

# audit after apply, with hm (no qps-tune there) in the play: an error row in
# the report, not a crash, and the report is still written; drift alone fails
# nobody (qps_tune_audit_fail_on_drift is false by default)
play audit1 audit.yml -l fleet,missing
is "$RC" 2 "audit after apply, with hm lacking qps-tune: exits 2"
is "$(recap_all failed "${FLEET[@]}" hm)" "$(each 0 "${FLEET[@]}") hm=1" "audit: only hm failed (drifting hosts do not, by default)"
is "$(jq -r '[.hosts[] | select(.status == "clean" or .status == "drift")] | length' "$J" 2>&1) $(jq -r .hosts.hm.status "$J" 2>&1)" \
	"$N error" "fleet report: the fleet audited, hm listed as error"
like "$(jq -r '.hosts.hm.error' "$J" 2>&1)" "qps-tune not found at '/nonexistent/qps-tune'" "fleet report: the error says what is missing"
is "$(jq -r '[.hosts[] | (.failing // [])[] | select(.key == "net.core.somaxconn" or .key == "net.ipv4.tcp_max_syn_backlog")] | length' "$J" 2>&1)" 0 \
	"fleet report after apply: no somaxconn/syn_backlog failure left"
# the role audits with qps_tune_state_dir: listeners that predate apply keep their old backlog
is "$(jq -r --arg l "listener $(fleet_ip h1):22" '[.hosts.h1.failing[] | select(.id == "LQ-002" and .key == $l)] | length' "$J" 2>&1)" 1 \
	"audit after apply: h1's sshd listener, still on backlog 128, fails LQ-002 (the journal in qps_tune_state_dir)"
is "$(jq -r --arg a "listener $(fleet_ip h2):8080" --arg b "listener $(fleet_ip h3):8080" \
	'[(.hosts.h2.failing[] | select(.id == "LQ-002" and .key == $a) | "h2"), (.hosts.h3.failing[] | select(.id == "LQ-002" and .key == $b) | "h3")] | join(" ")' "$J" 2>&1)" "h2" \
	"audit after apply: h2's qps-server (not restarted) fails LQ-002, h3's (restarted) passes"
like "$(cat "$T/reports/fleet-audit.txt")" "^hm +error +- +- +qps-tune not found" "fleet-audit.txt: hm's row shows the error"

# ---- probe: a parseable report from every host, on the controller; 0600 on the host
play probe probe.yml -l fleet
is "$RC" 0 "probe.yml succeeds" || true
[ "$RC" = 0 ] || diag "$(show_log 30)"
bad=""
for h in "${FLEET[@]}"; do
	f=$T/reports/probe-acceptq/$h.json
	jq -e '.schema | startswith("qps-tune.probe.acceptq")' "$f" >/dev/null 2>&1 || bad="$bad $h:$(head -c 200 "$f" 2>&1)"
done
is "$bad" "" "probe: each host's acceptq report fetched and parses (schema qps-tune.probe.acceptq/N)"
bad=""
for h in "${FLEET[@]}"; do
	want=$(ip netns exec "$(fleet_ns "$h")" readlink /proc/self/ns/net | tr -dc 0-9)
	got=$(jq -r '.netns // empty' "$T/reports/probe-acceptq/$h.json" 2>/dev/null)
	[ "$got" = "$want" ] || bad="$bad $h:got '$got' want '$want'"
done
is "$bad" "" "probe: each report was taken in that host's own namespace (.netns)"
is "$(stat -c %a "$T"/probe-out/qps-tune-probe-acceptq-*.json 2>&1 | sort -u)" 600 "probe: the reports on the hosts are 0600"

# ---- rollback: check mode changes nothing, then every original value back
play rollback-check rollback.yml --check -l fleet
is "$RC $(ns_sysctl h2 net.core.somaxconn) $(ls "$T/h2/etc" 2>&1)" "0 16384 ansible-h2.profile" "rollback --check changes nothing"
play rollback rollback.yml --diff -l fleet
is "$RC" 0 "rollback succeeds"
is "$(same_as_before "${FLEET[@]}")" "" "rollback: every net.* sysctl back to its original value on every host"
is "$(for h in "${FLEET[@]}"; do find "$T/$h/root/etc/sysctl.d/" "$T/$h/etc/" -mindepth 1; done 2>/dev/null)" "" \
	"rollback: persisted files and host profiles removed"
is "$(recap_all changed "${FLEET[@]}")" "$(each 1 "${FLEET[@]}")" "rollback: changed on every host"
is "$(for h in "${FLEET[@]}"; do [ -e "$T/$h/state/journal" ] && echo "$h"; done)" "" "rollback: every host's journal consumed"
is "$(nofile_soft "$H2_PID")" 1024 "rollback: h2's qps-server soft nofile back to 1024 (/proc/PID/limits)"
play rollback2 rollback.yml -l fleet
is "$(recap_all changed "${FLEET[@]}") rc=$RC" "$(each 0 "${FLEET[@]}") rc=0" "rollback again: changed=0"

# ---- diagnose: h1's qps-server overflows its accept queue during the window
# (--max-conns 20 pauses accepting, backlog 16, a burst of 200 clients from
# inside h1's namespace, started when h1's qps-tune diagnose starts and lasting
# the window), the others are idle. One fleet report, worst first; nothing
# changes on any host.
H1NS=$(fleet_ns h1)
ip netns exec "$H1NS" sh -c "exec setsid '$QPS_SERVER' -l 127.0.0.1:$H1_DIAG_PORT -w 1 --max-conns 20 --backlog 16 --defer-accept 0 </dev/null >/dev/null 2>&1" 9>&- &
H1_DIAG_PID=$!
for ((i = 0; i < 100; i++)); do [ -n "$(backlog h1 $H1_DIAG_PORT)" ] && break; sleep 0.05; done
H1_BACKLOG=$(backlog h1 $H1_DIAG_PORT)
overflows() { ip netns exec "$H1NS" env NSTAT_HISTORY="$T/nstat.hist" nstat -asz TcpExtListenOverflows | awk '/ListenOverflows/ { print $2 }'; }
OV0=$(overflows)
# the load: once a 'qps-tune ... diagnose' runs in h1's namespace (none when the
# play ends first, at most 120 s)
(
	for ((i = 0; i < 1200; i++)); do
		[ -e "$T/diagnose-play-done" ] && i=1200 && break
		for p in $(ip netns pids "$H1NS" 2>/dev/null); do
			{ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -q -- '--json diagnose' && break 2
		done
		sleep 0.1
	done
	[ "$i" -lt 1200 ] && echo started >"$T/h1-load.log" &&
		ip netns exec "$H1NS" timeout -s KILL 6 "$BUILD/qps-load" -c 1 -b 200 --burst-interval 500 --connect-timeout 1500 -d 3.5 \
			"127.0.0.1:$H1_DIAG_PORT" >>"$T/h1-load.log" 2>&1
) 9>&- &
LOAD_PID=$!
play diagnose diagnose.yml -l fleet,missing -e qps_tune_diagnose_duration=3
TIMES+=("diagnose $((N + 1)) hosts, window 3 s: $WALL s")
touch "$T/diagnose-play-done"
wait "$LOAD_PID"
LOAD_PID=
OV1=$(overflows)
kill "$H1_DIAG_PID" 2>/dev/null
DJ=$T/reports/fleet-diagnose.json
is "$RC $(recap_all failed "${FLEET[@]}" hm)" "2 $(each 0 "${FLEET[@]}") hm=1" "diagnose.yml: only hm (no qps-tune) failed, after the report; a finding fails no host"
like "$(head -1 "$T/h1-load.log" 2>&1)" "^started" "diagnose: the load on h1 ran while h1's diagnose ran"
# the report orders hosts of one status by name, byte by byte (h19 h2 h20):
# sort the names alone, in the C locale, before "=healthy" is appended
want="h1=limited hm=error $(for ((i = 2; i <= N; i++)); do echo "h$i"; done | LC_ALL=C sort | sed 's/$/=healthy/' | tr '\n' ' ' | sed 's/ $//')"
is "$(jq -r '[.hosts[] | "\(.host)=\(.status)"] | join(" ")' "$DJ" 2>&1)" "$want" \
	"fleet diagnose report: h1 (limited) first, then hm (error), then the healthy hosts"
is "$(jq -r '.hosts[0].top.name' "$DJ" 2>&1)" accept-queue-overflow "fleet diagnose report: h1's top finding is accept-queue-overflow"
is "$(jq -r '.hosts[0].top.figures | "port \(.port) backlog \(.backlog)"' "$DJ" 2>&1)" "port $H1_DIAG_PORT backlog $H1_BACKLOG" \
	"fleet diagnose report: h1's listener port and the backlog ss shows ($H1_BACKLOG)"
ov=$(jq -r '.hosts[0].top.figures.overflows' "$DJ" 2>&1)
kd=$((OV1 - OV0))
if [ "$ov" -gt 0 ] 2>/dev/null && [ "$ov" -le "$kd" ]; then
	pass "fleet diagnose report: h1's overflows ($ov in the window) > 0 and <= nstat's ListenOverflows delta in h1's namespace over the play ($kd)"
else
	fail "fleet diagnose report: h1's overflows > 0 and <= nstat's delta" "report $ov, nstat +$kd"
fi
like "$(jq -r '.hosts[0].top | "\(.impact) \(.fix)"' "$DJ" 2>&1)" "^[0-9.]+ .*net.core.somaxconn" "fleet diagnose report: h1's impact and the fix (somaxconn)"
is "$(jq -r '[.hosts[] | select(.host == "h2" or .host == "h3") | "\(.host)=\(.server.pid)"] | sort | join(" ")' "$DJ" 2>&1)" \
	"h2=$H2_PID h3=$(cat "$T/h3-qps-server.pid" 2>&1)" "diagnose watched h2's qps-server by qps_tune_pid, h3's by qps_tune_port (not their sshd)"
bad=""
for h in "${FLEET[@]}"; do
	want=$(ip netns exec "$(fleet_ns "$h")" readlink /proc/self/ns/net | tr -dc 0-9)
	got=$(jq -r --arg h "$h" '.hosts[] | select(.host == $h) | .netns' "$DJ" 2>/dev/null)
	[ "$got" = "$want" ] || bad="$bad $h:got '$got' want '$want'"
done
is "$bad" "" "diagnose: each host watched in its own namespace (.netns)"
like "$(jq -r '.hosts[] | select(.host == "hm") | .error' "$DJ" 2>&1)" "qps-tune not found" "fleet diagnose report: hm is an error row with the cause"
txt=$(cat "$T/reports/fleet-diagnose.txt" 2>&1)
like "$txt" "$((N + 1)) hosts, 1 limited, $((N - 1)) healthy, 1 error \(window 3 s" "fleet-diagnose.txt: totals line"
is "$(printf '%s\n' "$txt" | sed -n 3p | awk '{ print $1, $2, $4 }')" "h1 limited accept-queue-overflow:" "fleet-diagnose.txt: h1's row first, with its top finding"
like "$txt" "^h2 +healthy +- +nothing limits pid $H2_PID \(qps-server\)" "fleet-diagnose.txt: a healthy host listed as such"
like "$txt" "^  fix: +.*somaxconn" "fleet-diagnose.txt: h1's fix"
like "$(cat "$LOG")" "h1 +limited .*accept-queue-overflow" "diagnose.yml prints the fleet report"
is "$(same_as_before "${FLEET[@]}")" "" "diagnose changes nothing: every net.* sysctl as before on every host"
is "$(for h in "${FLEET[@]}"; do find "$T/$h/state" "$T/$h/etc" "$T/$h/root/etc/sysctl.d" -mindepth 1 2>/dev/null; done)" "" \
	"diagnose writes nothing on the hosts: no journal, host profile, plan or persisted file"
is "$(recap_all changed "${FLEET[@]}")" "$(each 0 "${FLEET[@]}")" "diagnose reports changed=0"
diag "fleet-diagnose.txt:"
while IFS= read -r l; do diag "  $l"; done <"$T/reports/fleet-diagnose.txt"

# ---- canary rollout: hb (broken) is batch 1; max_fail_percentage 0 stops the rest
play rolling apply-rolling.yml -l broken,fleet
is "$RC" 2 "rolling apply with a broken canary exits 2"
is "$(recap_all failed hb)" "hb=1" "rolling: the canary hb failed"
is "$(recap_all ok "${FLEET[@]}")" "$(each "" "${FLEET[@]}")" "rolling: no fleet host ran (no recap line)"
is "$(same_as_before "${FLEET[@]}" hb)" "" "rolling: every host unchanged"

# same without the broken host: batches 1, 30%, rest all succeed
play rolling-ok apply-rolling.yml -l fleet -e qps_tune_audit_around_apply=false
is "$RC" 0 "rolling apply of a healthy fleet succeeds"
is "$(grep -c '^PLAY \[Apply the qps-tune profile batch by batch\]' "$LOG")" 3 "rolling: three batches (1, 30%, rest)"
bad=""
for h in "${FLEET[@]}"; do [ "$(ns_sysctl "$h" net.core.somaxconn)" -ge 4096 ] || bad="$bad $h"; done
is "$bad" "" "rolling: every host tuned"
play rollback3 rollback.yml -l fleet
is "$(same_as_before "${FLEET[@]}") rc=$RC" " rc=0" "rollback after the rolling apply restores everything"

# ---- controller wall time at this size: forks as ansible's default (5) and
# tuned (every host at once); the comparison only means something for a large fleet
if [ "$N" -ge 10 ]; then
	play audit-forks5 audit.yml -l fleet -f 5
	TIMES+=("audit  $N hosts forks 5: $WALL s")
	play audit-tuned audit.yml -l fleet
	TIMES+=("audit  $N hosts forks $FORKS: $WALL s (again)")
	play apply-forks5 apply.yml -l fleet -f 5
	TIMES+=("apply  $N hosts forks 5: $WALL s")
	play rollback4 rollback.yml -l fleet
	play apply-tuned apply.yml -l fleet
	TIMES+=("apply  $N hosts forks $FORKS: $WALL s (again)")
	play rollback5 rollback.yml -l fleet
fi
is "$(jq -r '[.hosts | keys[] | select(test("^h[0-9]+$"))] | length' "$J" 2>&1)" "$N" "the last fleet report lists every fleet host"
for t in "${TIMES[@]}"; do diag "controller wall time: $t"; done
is "$(host_links)" "" "this machine's namespace still has no fleet link or address after every play"

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
