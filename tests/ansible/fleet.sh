# fleet.sh - a throwaway fleet of SSH hosts on this machine (source it).
#
# Each host is its own network namespace with a veth on a private bridge and its
# own sshd, so an SSH session (and every net.* sysctl it writes) lands in that
# namespace only. The bridge and the controller's address live in one more
# namespace, the controller's (FLEET_CTL): ansible and ssh run there
# (fleet_ctl CMD), and this machine's own namespace gets no link, address or
# route. The filesystem is shared, which is why the inventory gives each host
# its own qps-tune state dir, --root and profile dir (see docs/ansible.md).
#
#   fleet_up h1 h2 h3          create hosts (FLEET_DIR holds keys, configs, inventory)
#   fleet_restart_sshd HOST PRELUDE   restart HOST's sshd; PRELUDE runs first in its
#                              private mount namespace (bind mounts for that host only)
#   fleet_ro_sysctl HOST       restart HOST's sshd with /proc/sys read-only for it
#   fleet_ns HOST              the namespace name of HOST
#   fleet_ip HOST              its address
#   fleet_ctl CMD...           run CMD in the controller's namespace
#   fleet_ssh HOST CMD...      run CMD on HOST over SSH from the controller, as ansible would
#   fleet_down                 remove everything (idempotent; call from an EXIT trap)
#
# Addresses: FLEET_NET.0/24 (10.231.1 unless set), on a bridge with no uplink in
# the controller's namespace; every run has its own namespaces, so two runs
# never collide.

FLEET_ID=${FLEET_ID:-$$}
FLEET_PREFIX=qf$(printf %06d "$((FLEET_ID % 1000000))")  # names stay <= 15 chars
FLEET_BR=${FLEET_PREFIX}br
FLEET_CTL=${FLEET_PREFIX}-ctl
FLEET_HOSTS=()
FLEET_DIR=${FLEET_DIR:-}
_fleet_own_dir=
FLEET_NET=${FLEET_NET:-10.231.1}

fleet_ns() { echo "${FLEET_PREFIX}-$1"; }
fleet_ip() {
	local i
	for i in "${!FLEET_HOSTS[@]}"; do
		[ "${FLEET_HOSTS[$i]}" = "$1" ] && { echo "$FLEET_NET.$((i + 11))"; return 0; }
	done
	return 1
}

_fleet_sshd_config() {  # $1 host
	local h=$1
	cat >"$FLEET_DIR/sshd-$h.conf" <<EOF
ListenAddress $(fleet_ip "$h"):22
HostKey $FLEET_DIR/ssh_host_ed25519_key
PidFile $FLEET_DIR/sshd-$h.pid
AuthorizedKeysFile $FLEET_DIR/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
StrictModes no
PrintMotd no
UseDNS no
MaxStartups 100
MaxSessions 50
LogLevel ERROR
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
}

# _fleet_start_sshd HOST [PRELUDE]: PRELUDE runs in the host's private mount
# namespace (ip netns exec makes one) right before sshd starts.
_fleet_start_sshd() {
	local h=$1 prelude=${2:-true} ns pidf i
	ns=$(fleet_ns "$h")
	pidf=$FLEET_DIR/sshd-$h.pid
	rm -f "$pidf"
	ip netns exec "$ns" sh -c "$prelude && exec /usr/sbin/sshd -f '$FLEET_DIR/sshd-$h.conf' -E '$FLEET_DIR/sshd-$h.log'" || return 1
	for ((i = 0; i < 100; i++)); do
		[ -s "$pidf" ] && ip netns exec "$ns" ss -Htln 'sport = :22' | grep -q . && return 0
		sleep 0.05
	done
	echo "fleet: sshd for '$h' did not start (log: $FLEET_DIR/sshd-$h.log)" >&2
	return 1
}

_fleet_stop_sshd() {
	local h=$1 pidf pid i
	pidf=$FLEET_DIR/sshd-$h.pid
	[ -s "$pidf" ] || return 0
	pid=$(cat "$pidf")
	# only the listener we started: check it is an sshd using our config
	if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$FLEET_DIR/sshd-$h.conf"; then
		kill "$pid" 2>/dev/null
		for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	fi
	rm -f "$pidf"
}

fleet_up() {
	local h ns i=0
	if [ -z "$FLEET_DIR" ]; then
		FLEET_DIR=$(mktemp -d /tmp/qps-fleet.XXXXXX) || return 1
		_fleet_own_dir=1
	fi
	mkdir -p "$FLEET_DIR" /run/sshd
	chmod 700 "$FLEET_DIR"
	FLEET_HOSTS=("$@")
	ssh-keygen -q -t ed25519 -N '' -C qps-fleet-host -f "$FLEET_DIR/ssh_host_ed25519_key" || return 1
	ssh-keygen -q -t ed25519 -N '' -C qps-fleet-client -f "$FLEET_DIR/id_ed25519" || return 1
	cp "$FLEET_DIR/id_ed25519.pub" "$FLEET_DIR/authorized_keys"
	: >"$FLEET_DIR/known_hosts"

	# the controller: its own namespace holds the bridge and 10.231.N.1
	ip netns add "$FLEET_CTL" || return 1
	ip -n "$FLEET_CTL" link set lo up || return 1
	ip -n "$FLEET_CTL" link add "$FLEET_BR" type bridge || return 1
	ip -n "$FLEET_CTL" addr add "$FLEET_NET.1/24" dev "$FLEET_BR" || return 1
	ip -n "$FLEET_CTL" link set "$FLEET_BR" up || return 1
	for h in "$@"; do
		i=$((i + 1))
		ns=$(fleet_ns "$h")
		ip netns add "$ns" || return 1
		ip -n "$FLEET_CTL" link add "${FLEET_PREFIX}v$i" type veth peer name eth0 netns "$ns" || return 1
		ip -n "$FLEET_CTL" link set "${FLEET_PREFIX}v$i" master "$FLEET_BR" up || return 1
		ip -n "$ns" link set lo up || return 1
		ip -n "$ns" addr add "$(fleet_ip "$h")/24" dev eth0 || return 1
		ip -n "$ns" link set eth0 up || return 1
		_fleet_sshd_config "$h"
		_fleet_start_sshd "$h" || return 1
		echo "$(fleet_ip "$h") $(cut -d' ' -f1,2 "$FLEET_DIR/ssh_host_ed25519_key.pub")" >>"$FLEET_DIR/known_hosts"
	done
	# the bridge needs a moment (no STP, forward delay 0 for a fresh bridge is not
	# guaranteed): wait until every host answers on port 22
	for h in "$@"; do
		for ((i = 0; i < 100; i++)); do
			fleet_ssh "$h" true 2>/dev/null && break
			sleep 0.1
		done
		fleet_ssh "$h" true || { echo "fleet: cannot ssh to '$h'" >&2; return 1; }
	done
}

fleet_ctl() { ip netns exec "$FLEET_CTL" "$@"; }

fleet_ssh() {
	local h=$1
	shift
	fleet_ctl ssh -q -o BatchMode=yes -o UserKnownHostsFile="$FLEET_DIR/known_hosts" \
		-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o ConnectTimeout=5 \
		-o ControlMaster=no -o ControlPath=none \
		-i "$FLEET_DIR/id_ed25519" "root@$(fleet_ip "$h")" "$@"
}

# fleet_ro_sysctl HOST: from now on HOST's sessions see /proc/sys read-only
# (a container-like host where qps-tune cannot write a sysctl).
fleet_ro_sysctl() {
	fleet_restart_sshd "$1" "mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys"
}

# fleet_restart_sshd HOST PRELUDE: HOST's sessions from now on see what PRELUDE
# mounted (in the private mount namespace ip netns exec gives its sshd)
fleet_restart_sshd() {
	_fleet_stop_sshd "$1"
	_fleet_start_sshd "$1" "$2"
}

fleet_down() {
	local h i=0 ns pids
	for h in "${FLEET_HOSTS[@]}"; do
		[ -n "$FLEET_DIR" ] && _fleet_stop_sshd "$h"
	done
	# everything still running in a host's namespace was started by this
	# fleet: the SSH sessions sshd forked (ansible's ControlPersist keeps them
	# open) and whatever they run. End them while the links still exist, so
	# the controller's ssh masters see the connection close and exit too.
	for ns in "$FLEET_CTL" $(for h in "${FLEET_HOSTS[@]}"; do fleet_ns "$h"; done); do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] && kill $pids 2>/dev/null
	done
	for i in $(seq 40); do
		pids=$(ip netns pids "$FLEET_CTL" 2>/dev/null)
		for h in "${FLEET_HOSTS[@]}"; do pids="$pids $(ip netns pids "$(fleet_ns "$h")" 2>/dev/null)"; done
		pids=$(echo $pids)
		[ -z "$pids" ] && break
		[ "$i" = 30 ] && kill -KILL $pids 2>/dev/null
		sleep 0.1
	done
	# deleting a namespace deletes its end of each veth, and so the pair;
	# the bridge goes with the controller's namespace
	for h in "${FLEET_HOSTS[@]}"; do
		ip netns del "$(fleet_ns "$h")" 2>/dev/null
	done
	ip netns del "$FLEET_CTL" 2>/dev/null
	FLEET_HOSTS=()
	[ -n "$_fleet_own_dir" ] && [ -n "$FLEET_DIR" ] && rm -rf "$FLEET_DIR"
	_fleet_own_dir=
	return 0
}
