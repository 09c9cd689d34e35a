#!/usr/bin/env bash
# systemd.t - a listener run by a systemd service: audit reads the unit's
# LimitNOFILE (FD-005), apply --persist writes a drop-in under --root and says
# the service needs a restart, rollback removes it and says to reload and
# restart. apply never lowers: a unit with LimitNOFILE=20000 and --conns 1000
# (target 2200) gets no drop-in, and a '*' nofile in limits.conf above the
# target means no limits.d file that would cap login sessions lower. The "service" is a Python
# listener moved into a scratch cgroup named like a unit (removed afterwards);
# the unit file itself lives in the --root tree.
. "$(dirname "$0")/../lib.sh"
plan 12
is_root || skip_rest "needs root for unshare -n and cgroups"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"
command -v python3 >/dev/null || skip_rest "python3 not installed"

UNIT=qps-tune-test-$$.service
CG=""
for base in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd /sys/fs/cgroup; do
	[ -e "$base/cgroup.procs" ] || continue
	case $base in /sys/fs/cgroup) [ "$(stat -fc %T $base)" = cgroup2fs ] || continue ;; esac
	mkdir "$base/$UNIT" 2>/dev/null && { CG=$base/$UNIT; break; }
done
[ -n "$CG" ] || skip_rest "no cgroup hierarchy to create a scratch unit cgroup in (cgroupfs read-only here)"

T=$(mktemp -d)
export QPS_TUNE_RUN_DIR=$T/run	# host-wide lock and journal registry of this test only
R=$T/root
cleanup() {
	kill $(jobs -p) 2>/dev/null
	for _ in $(seq 100); do rmdir "$CG" 2>/dev/null && break; sleep 0.02; done
	rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$R/usr/lib/systemd/system"
printf '[Service]\nExecStart=/usr/bin/python3\nLimitNOFILE=2048\n' > "$R/usr/lib/systemd/system/$UNIT"
cat > "$T/inner.sh" <<'INNER'
set -u
Q=$1 T=$2 R=$3 CG=$4
ip link set lo up
(ulimit -n 2048; exec python3 -c '
import socket, time, os
s = socket.socket(); s.bind(("127.0.0.1", 18070)); s.listen(128)
open(os.environ["T"] + "/ready", "w").write(str(os.getpid())); time.sleep(20)') &
for _ in $(seq 100); do [ -s "$T/ready" ] && break; sleep 0.05; done	# -s: the pid is written at close
echo "$(cat "$T/ready")" > "$CG/cgroup.procs"
"$Q" audit --root "$R" --json > "$T/a.json"
"$Q" apply --persist --root "$R" --state-dir "$T/st" --json > "$T/apply.json" 2> "$T/apply.err"
cp "$R/etc/systemd/system/"*.service.d/90-qps-tune.conf "$T/dropin" 2>/dev/null
"$Q" audit --root "$R" --json > "$T/a2.json"
"$Q" rollback --root "$R" --state-dir "$T/st" > "$T/rb.txt"
ls "$R/etc/systemd/system/"*.service.d/90-qps-tune.conf > "$T/left" 2>/dev/null
# never lower: the unit allows 20000, login sessions 1048576
sed -i 's/LimitNOFILE=2048/LimitNOFILE=20000/' "$R/usr/lib/systemd/system/$(basename "$CG")"
mkdir -p "$R/etc/security"
printf '*\tsoft\tnofile\t65536\n*\thard\tnofile\t1048576\n' > "$R/etc/security/limits.conf"
"$Q" apply --persist --conns 1000 --root "$R" --state-dir "$T/st2" --json > "$T/apply2.json" 2> "$T/apply2.err"
ls "$R/etc/systemd/system/"*.service.d/90-qps-tune.conf "$R/etc/security/limits.d/90-qps-tune.conf" > "$T/left2" 2>/dev/null
"$Q" rollback --root "$R" --state-dir "$T/st2" > /dev/null
kill %1
INNER
T=$T unshare -n bash "$T/inner.sh" "$QPS_TUNE" "$T" "$R" "$CG"

fd5=$(jq -r '.checks[] | select(.id=="FD-005") | .key+" "+.status+" "+.current' "$T/a.json")
is "$fd5" "$UNIT fail 2048" "FD-005 finds the unit and its LimitNOFILE below the target"
like "$(jq -r '.checks[] | select(.id=="FD-005") | .evidence' "$T/a.json")" \
	"/usr/lib/systemd/system/$UNIT sets LimitNOFILE=2048; live soft=2048" "evidence names the unit file"
is "$(jq -r '[.changes[] | select(.kind=="file") | .key] | sort | join(" ")' "$T/apply.json")" \
	"/etc/security/limits.d/90-qps-tune.conf /etc/sysctl.d/90-qps-tune.conf /etc/systemd/system/$UNIT.d/90-qps-tune.conf" \
	"apply --persist writes sysctl.d, limits.d and the unit's drop-in"
like "$(cat "$T/dropin")" $'\\[Service\\]\nLimitNOFILE=22000' "the drop-in raises LimitNOFILE to the target"
like "$(jq -r '.restart_needed[].what' "$T/apply.json")" "^$UNIT \\(pid [0-9]+ python3\\)" \
	"apply says the service needs a restart"
is "$(jq -r '.checks[] | select(.id=="FD-005") | .status' "$T/a2.json")" pass \
	"after apply FD-005 reads the drop-in (later drop-ins win)"
like "$(jq -r '.checks[] | select(.id=="FD-007") | .status+" "+.current+" "+.fix' "$T/a2.json")" \
	"^fail live soft 2048 systemctl daemon-reload && systemctl restart $UNIT" \
	"FD-007: the running process still has the old limit until the unit restarts"
is "$(cat "$T/left")" "" "rollback removed the drop-in"
like "$(cat "$T/rb.txt")" "next step  systemctl daemon-reload && systemctl restart $UNIT" \
	"rollback says to reload systemd and restart the unit"
is "$(jq -r '[.changes[] | select(.kind=="file") | .key] | join(" ")' "$T/apply2.json")" "/etc/sysctl.d/90-qps-tune.conf" \
	"LimitNOFILE=20000 and '*' nofile 1048576 above the target: no drop-in, no limits.d file"
is "$(cat "$T/left2")" "" "nothing written that could lower a limit"
ok "apply --conns 1000 succeeded" test -s "$T/apply2.json" -a ! -s "$T/apply2.err"
done_testing
