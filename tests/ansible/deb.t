#!/usr/bin/env bash
# deb.t - scripts/mkdeb.sh builds a package that has everything, installs and
# purges cleanly. Installs go into a scratch dpkg root (dpkg --root), never into
# this machine: the maintainer scripts run chrootless with DPKG_ROOT set.
source "$(dirname "$0")/../lib.sh"
plan 18

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
want="/usr/sbin/qps-tune /usr/bin/qps-server /lib/systemd/system/qps-server.service /usr/share/doc/qps-tune/copyright"
for p in "$QPS_ROOT"/profiles/*.profile; do [ -f "$p" ] && want="$want /usr/share/qps-tune/profiles/$(basename "$p")"; done
for m in "$QPS_ROOT"/man/*.8; do [ -f "$m" ] && want="$want /usr/share/man/man8/$(basename "$m").gz"; done
missing=""
for f in $want; do printf '%s\n' "$files" | grep -qxF "$f" || missing="$missing $f"; done
is "$missing" "" "package holds the binaries, profiles, man pages and unit"
diag "contents: $(printf '%s\n' "$files" | grep -v '/$' | tr '\n' ' ')"
is "$(dpkg-deb -c "$deb" | awk '$2 != "root/root"' | wc -l)" 0 "every file is owned by root/root"

dpkg-deb --fsys-tarfile "$deb" | tar -xO ./lib/systemd/system/qps-server.service >"$T/unit"
like "$(grep -E '^LimitNOFILE=' "$T/unit")" '^LimitNOFILE=[0-9]{5,}$' "qps-server.service sets LimitNOFILE >= 10000"
like "$(grep -E '^ExecStart=' "$T/unit")" '^ExecStart=/usr/bin/qps-server' "qps-server.service starts the packaged binary"
if command -v systemd-analyze >/dev/null; then
	# the unit as systemd reads it, with ExecStart pointed at the built binary
	mkdir -p "$T/unitcheck"
	sed "s|^ExecStart=/usr/bin/qps-server|ExecStart=$QPS_SERVER|" "$T/unit" >"$T/unitcheck/qps-server.service"
	is "$(systemd-analyze verify --man=no "$T/unitcheck/qps-server.service" 2>&1)" "" "systemd-analyze verify: no warning"
else
	skip "systemd-analyze not installed" "systemd-analyze verify"
fi

# scratch dpkg database
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

# purge keeps a journal (the only record of the values before apply)
"${D[@]}" -i "$deb" >/dev/null 2>&1
mkdir -p "$S/var/lib/qps-tune" && echo x >"$S/var/lib/qps-tune/journal"
out=$("${D[@]}" -P qps-tune 2>&1)
like "$out" "kept /var/lib/qps-tune" "purge keeps an existing journal and says why"
done_testing
