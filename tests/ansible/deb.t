#!/usr/bin/env bash
# deb.t - scripts/mkdeb.sh builds a package that has everything, passes
# lintian (no E: or W:, hardening on), installs and purges cleanly. Installs go
# into a scratch dpkg root (dpkg --root), never into this machine: the
# maintainer scripts run chrootless with DPKG_ROOT set. The prerm's service stop
# runs in a private mount namespace with a stub deb-systemd-invoke; qps-server's
# default listener and the textfile refresher run in scratch network namespaces.
source "$(dirname "$0")/../lib.sh"
plan 37

T=$(mktemp -d /tmp/qps-deb.XXXXXX)
trap 'rm -rf "$T"' EXIT
S=$T/root

for b in "$QPS_TUNE" "$QPS_SERVER"; do
	[ -x "$b" ] || { fail "binaries built" "'$b' is missing (run make)"; skip_rest "no binaries"; }
done

# okd NAME OUTPUT CMD...: ok, and OUTPUT as diagnostics when it fails
okd() { local n=$1 o=$2; shift 2; if "$@"; then pass "$n"; else fail "$n" "$o"; fi; }

out=$(cd "$QPS_ROOT" && BUILD=$BUILD DEB_OUT=$T/out scripts/mkdeb.sh 2>&1)
okd "mkdeb.sh builds a package" "$out" test -f "$T/out/qps-tune.deb"
deb=$(readlink -f "$T/out/qps-tune.deb")
like "$(basename "$deb")" '^qps-tune_[0-9][^_]*_[a-z0-9]+\.deb$' "file named qps-tune_VERSION_ARCH.deb"

info=$(dpkg-deb --info "$deb")
like "$info" "Architecture: $(dpkg --print-architecture)" "control: architecture of this machine"
like "$info" 'Depends: .*libbpf' "control: Depends lists libbpf (from the linked libraries)"

files=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
want="/usr/sbin/qps-tune /usr/bin/qps-server /lib/systemd/system/qps-server.service /usr/share/doc/qps-tune/copyright
/usr/share/doc/qps-tune/changelog.gz /lib/systemd/system/qps-tune-audit.service /lib/systemd/system/qps-tune-audit.timer
/usr/lib/qps-tune/qps-tune-textfile"
for p in "$QPS_ROOT"/profiles/*.profile; do [ -f "$p" ] && want="$want /usr/share/qps-tune/profiles/$(basename "$p")"; done
for m in "$QPS_ROOT"/man/*.8; do [ -f "$m" ] && want="$want /usr/share/man/man8/$(basename "$m").gz"; done
for d in "$QPS_ROOT"/dashboards/*.json; do want="$want /usr/share/qps-tune/dashboards/$(basename "$d")"; done
for m in "$QPS_ROOT"/man/*.5; do [ -f "$m" ] && want="$want /usr/share/man/man5/$(basename "$m").gz"; done
want="$want /usr/share/bash-completion/completions/qps-tune"
missing=""
for f in $want; do printf '%s\n' "$files" | grep -qxF "$f" || missing="$missing $f"; done
is "$missing" "" "package holds the binaries, profiles, man pages, completion, dashboards, units and timer"
diag "contents: $(printf '%s\n' "$files" | grep -v '/$' | tr '\n' ' ')"
is "$(dpkg-deb -c "$deb" | awk '$2 != "root/root"' | wc -l)" 0 "every file is owned by root/root"

# ---- lintian: no error, no warning, and the hardening tags gone
if command -v lintian >/dev/null; then
	lint=$(lintian --tag-display-limit 0 -I "$deb" 2>&1 | grep -v 'running with root privileges')
	is "$(printf '%s\n' "$lint" | grep -E '^[EW]: ')" "" "lintian: no error and no warning"
	is "$(printf '%s\n' "$lint" | grep -oE 'hardening-no-[a-z-]+ \[[^]]+\]' | sort -u | tr '\n' ' ')" "" "lintian: no hardening-no-* tag"
	diag "lintian: $(printf '%s' "$lint" | tr '\n' ' ')"
else
	fail "lintian is installed (make deps)"
	fail "lintian: no hardening-no-* tag"
fi
mkdir -p "$T/x" && dpkg-deb -x "$deb" "$T/x"
bad=""
for b in usr/sbin/qps-tune usr/bin/qps-server; do
	readelf -d "$T/x/$b" | grep -qE 'FLAGS.*(BIND_NOW|NOW)' || bad="$bad $b:no-BIND_NOW"
	readelf -lW "$T/x/$b" | grep -q GNU_RELRO || bad="$bad $b:no-RELRO"
	nm -D "$T/x/$b" | grep -qE ' U __[a-z_]+_chk' || bad="$bad $b:no-fortified-call"
done
is "$bad" "" "packaged binaries: BIND_NOW and RELRO (readelf), fortified libc calls (nm: __*_chk)"
like "$(dpkg-deb -f "$deb" Maintainer)" '^[^<]+ <[^@ ]+@[a-z0-9-]+(\.[a-z0-9-]+)+>$' "control: Maintainer is a name and an address with a domain"
like "$(grep -E '^(Files|Copyright|License):' "$T/x/usr/share/doc/qps-tune/copyright" | tr '\n' ' ')" \
	'Files: \* Copyright: [0-9]{4} .*License: BSD-2-Clause .*Files: bpf/\*\.bpf\.c .*License: GPL-2\.0-only' \
	"copyright: BSD-2-Clause with a copyright notice, GPL-2.0-only for bpf/"

# ---- units
cp "$T/x/lib/systemd/system/qps-server.service" "$T/unit"
like "$(grep -E '^LimitNOFILE=' "$T/unit")" '^LimitNOFILE=[0-9]{5,}$' "qps-server.service sets LimitNOFILE >= 10000"
like "$(grep -E '^ExecStart=' "$T/unit")" '^ExecStart=/usr/bin/qps-server' "qps-server.service starts the packaged binary"
if command -v systemd-analyze >/dev/null; then
	# the units as systemd reads them, with ExecStart pointed at the built binary / the extracted script
	mkdir -p "$T/unitcheck"
	sed "s|^ExecStart=/usr/bin/qps-server|ExecStart=$QPS_SERVER|" "$T/unit" >"$T/unitcheck/qps-server.service"
	is "$(systemd-analyze verify --man=no "$T/unitcheck/qps-server.service" 2>&1)" "" "systemd-analyze verify: no warning"
	sed "s|^ExecStart=/usr/lib/qps-tune/qps-tune-textfile|ExecStart=$T/x/usr/lib/qps-tune/qps-tune-textfile|" \
		"$T/x/lib/systemd/system/qps-tune-audit.service" >"$T/unitcheck/qps-tune-audit.service"
	cp "$T/x/lib/systemd/system/qps-tune-audit.timer" "$T/unitcheck/"
	is "$(systemd-analyze verify --man=no "$T/unitcheck/qps-tune-audit.timer" "$T/unitcheck/qps-tune-audit.service" 2>&1)" "" \
		"systemd-analyze verify: qps-tune-audit.timer and .service, no warning"
else
	fail "systemd-analyze is installed"
	fail "systemd-analyze verify of the timer"
fi
like "$(grep -E '^(OnBootSec|OnUnitActiveSec)=' "$T/x/lib/systemd/system/qps-tune-audit.timer" | tr '\n' ' ')" 'OnBootSec=.*OnUnitActiveSec=[0-9]+' \
	"timer: runs the audit periodically"
like "$(grep -E '^(ExecStart|ReadWritePaths)=' "$T/x/lib/systemd/system/qps-tune-audit.service" | tr '\n' ' ')" \
	'ExecStart=/usr/lib/qps-tune/qps-tune-textfile /var/lib/prometheus/node-exporter ReadWritePaths=/var/lib/prometheus/node-exporter' \
	"qps-tune-audit.service: refreshes node_exporter's textfile directory, writes nothing else"

# the unit's own default arguments, split as systemd splits $VAR: 127.0.0.1 only,
# in a scratch netns that also has a non-loopback address
args=$(sed -n 's/^Environment="QPS_SERVER_ARGS=\(.*\)"$/\1/p' "$T/unit")
cat >"$T/listen.sh" <<SCRIPT
ip link set lo up
ip link add qdeb0 type veth peer name qdeb1 && ip addr add 192.0.2.1/24 dev qdeb0 && ip link set qdeb0 up && ip link set qdeb1 up
$QPS_SERVER $args 2>/dev/null & p=\$!
for i in \$(seq 100); do ss -Hltn 'sport = :8080' | grep -q . && break; sleep 0.05; done
ss -Hltn 'sport = :8080' | awk '{print \$4}' | sort -u | tr '\n' ' '
kill \$p
SCRIPT
is "$(unshare -n sh "$T/listen.sh" 2>&1)" "127.0.0.1:8080 " "qps-server.service: by default qps-server listens on 127.0.0.1:8080 only (ss, scratch netns)"

# ---- the textfile refresher: atomic, 0644, valid exposition; a failed audit keeps the last file
tf=$T/x/usr/lib/qps-tune/qps-tune-textfile
mkdir -p "$T/textfile"
# in a scratch netns with one listener whose backlog the kernel clamps to somaxconn 1000
cat >"$T/tf.sh" <<SCRIPT
ip link set lo up
sysctl -qw net.core.somaxconn=1000
$QPS_SERVER -l 127.0.0.1:18081 -w 1 2>/dev/null & p=\$!
for i in \$(seq 100); do ss -Hltn 'sport = :18081' | grep -q . && break; sleep 0.05; done
QPS_TUNE=$QPS_TUNE $tf $T/textfile
kill \$p
SCRIPT
unshare -n sh "$T/tf.sh" 2>"$T/tf.err"
prom=$T/textfile/qps-tune.prom
is "$(stat -c %a "$prom" 2>&1) $(ls -A "$T/textfile" | tr '\n' ' ')" "644 qps-tune.prom " "textfile: qps-tune.prom written 0644, no temp file left"
if command -v promtool >/dev/null; then
	out=$(promtool check metrics <"$prom" 2>&1)
	okd "textfile: promtool check metrics passes" "$out" test -s "$prom" -a -z "$out"
else
	fail "promtool is installed (prometheus)"
fi
like "$(grep -E '^qps_tune_(audit_drift|audit_timestamp_seconds|listen_queue_length)' "$prom" | cut -d' ' -f1 | sed 's/{.*//' | sort -u | tr '\n' ' ')" \
	'qps_tune_audit_drift qps_tune_audit_timestamp_seconds qps_tune_listen_queue_length' "textfile: the audit and the accept queues"
is "$(grep -E '^qps_tune_listen_(backlog|queue_length)\{listener="127.0.0.1:18081"\}' "$prom" | sort | tr '\n' ' ')" \
	'qps_tune_listen_backlog{listener="127.0.0.1:18081"} 1000 qps_tune_listen_queue_length{listener="127.0.0.1:18081"} 0 ' \
	"textfile: the listener's backlog as the kernel clamped it (somaxconn 1000), its queue empty"
cp "$prom" "$T/prom.before"
QPS_TUNE=/bin/false "$tf" "$T/textfile" 2>"$T/tf.err"
rc=$?
is "$rc $(cmp -s "$prom" "$T/prom.before" && echo same) $(ls -A "$T/textfile" | tr '\n' ' ')" "1 same qps-tune.prom " \
	"textfile: a failed audit exits 1 and keeps the last file, no temp file left"

# ---- scratch dpkg database
mkdir -p "$S/var/lib/dpkg/info" "$S/var/lib/dpkg/updates"
touch "$S/var/lib/dpkg/status" "$S/var/lib/dpkg/available"
D=(dpkg --root="$S" --force-script-chrootless --force-depends --force-not-root)

# an older version first, to check that an upgrade replaces it cleanly
(cd "$QPS_ROOT" && BUILD=$BUILD VERSION=0.0.1 DEB_OUT=$T/old scripts/mkdeb.sh >/dev/null 2>&1)
"${D[@]}" -i "$T/old/qps-tune.deb" >"$T/log" 2>&1
out=$("${D[@]}" -i "$deb" 2>&1)
okd "upgrade from 0.0.1 installs into a scratch root" "$out" test $? -eq 0
like "$("${D[@]}" -s qps-tune 2>&1)" 'Status: install ok installed' "dpkg status: install ok installed"
is "$("${D[@]}" --verify qps-tune 2>&1)" "" "dpkg --verify: every file matches its md5sum"
v=$({ "$S/usr/sbin/qps-tune" version 2>&1 || "$S/usr/sbin/qps-tune" --version 2>&1; } | head -1)
like "$v" '[0-9]+\.[0-9]+' "installed qps-tune runs ($v)"
ok "installed qps-server is executable" test -x "$S/usr/bin/qps-server"

out=$("${D[@]}" -P qps-tune 2>&1)
okd "purge succeeds" "$out" test $? -eq 0
left=$(cd "$S" && find . -path ./var/lib/dpkg -prune -o ! -type d -print)
is "$left" "" "purge leaves no file behind"
is "$(cd "$S" && find . -path ./var/lib/dpkg -prune -o -type d -empty -print | grep -v '^\./var' | sort | tr '\n' ' ')" "" \
	"purge leaves no package directory behind"

# a journal not rolled back: prerm says so while the binary is still there;
# purge keeps it and does not tell you to run a binary that is gone
"${D[@]}" -i "$deb" >/dev/null 2>&1
mkdir -p "$S/var/lib/qps-tune" && printf 'x\n' >"$S/var/lib/qps-tune/journal"
mkdir -p "$S/var/lib/prometheus/node-exporter" && echo 'qps_tune_audit_drift 1' >"$S/var/lib/prometheus/node-exporter/qps-tune.prom"
out=$("${D[@]}" -r qps-tune 2>&1 | tr '\n' ' ')
like "$out" "journal was not rolled back.*run 'qps-tune rollback' before removing" "remove: prerm warns that the journal was not rolled back"
is "$(ls "$S/var/lib/prometheus/node-exporter/")" "" "remove: the audit textfile goes with the package (no stale checks)"
out=$("${D[@]}" -P qps-tune 2>&1 | tr '\n' ' ')
like "$out" "kept /var/lib/qps-tune.*reinstall qps-tune and run 'qps-tune rollback'" "purge keeps the journal and says how to use it"
is "$(printf '%s' "$out" | grep -c "run 'qps-tune rollback' to restore the old values")" 0 "purge no longer says to run a binary it just removed"
is "$(cat "$S/var/lib/qps-tune/journal" 2>&1)" "x" "purge kept the journal itself"

# prerm stops qps-server and the timer on remove, not on upgrade: a private
# mount namespace where /run/systemd/system exists, deb-systemd-invoke a stub
mkdir -p "$T/control" "$T/stubbin"
dpkg-deb -e "$deb" "$T/control"
printf '#!/bin/sh\necho "$*" >>%s\n' "$T/invoked" >"$T/stubbin/deb-systemd-invoke"
chmod 755 "$T/stubbin/deb-systemd-invoke"
if [ -x "$T/control/prerm" ]; then
	unshare -m sh -c "mount -t tmpfs none /run && mkdir -p /run/systemd/system &&
		PATH=$T/stubbin:\$PATH $T/control/prerm upgrade 0.0.2 && PATH=$T/stubbin:\$PATH $T/control/prerm remove" >"$T/prerm.out" 2>&1
fi
is "$(cat "$T/invoked" 2>&1)" "stop qps-server.service qps-tune-audit.timer qps-tune-audit.service" \
	"prerm remove stops qps-server and the audit timer (upgrade stops nothing)"
done_testing
