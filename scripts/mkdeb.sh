#!/bin/sh
# mkdeb.sh - build the qps-tune Debian package with dpkg-deb (no debhelper).
#
#   BUILD=build scripts/mkdeb.sh      (what `make deb` runs, after `make all`)
#   DEB_OUT=DIR VERSION=V scripts/mkdeb.sh
#
# Writes $DEB_OUT/qps-tune_VERSION_ARCH.deb (DEB_OUT defaults to $BUILD) and the
# stable link $DEB_OUT/qps-tune.deb (ansible/playbooks/files/qps-tune.deb points
# at build/qps-tune.deb). The binaries are rebuilt for the package in $BUILD/pkg
# with Debian's hardening flags (make HARDEN=1: -D_FORTIFY_SOURCE=2,
# -fstack-protector-strong, -Wl,-z,relro,-z,now); MKDEB_BIN=DIR packages the
# qps-tune and qps-server found in DIR instead.
# Layout (as `make install PREFIX=/usr`): /usr/sbin/qps-tune, /usr/bin/qps-server,
# /usr/share/qps-tune/profiles/*.profile, /usr/share/qps-tune/dashboards/*.json,
# /usr/share/man/man8/*.8.gz, man5/*.5.gz, bash completion, /lib/systemd/system/{qps-server.service,
# qps-tune-audit.service,qps-tune-audit.timer}, /usr/lib/qps-tune/qps-tune-textfile,
# /usr/share/doc/qps-tune/{copyright,changelog.gz}.
# VERSION defaults to scripts/version.sh (the version every binary reports),
# so every commit builds a newer version. DEB_MAINTAINER="Name <address>" sets
# the Maintainer field and the changelog's signature.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DEB_OUT=${DEB_OUT:-$BUILD}

die() { echo "mkdeb: $*" >&2; exit 1; }

if [ -n "${MKDEB_BIN:-}" ]; then
	BIN=$MKDEB_BIN
else
	# the packaged build: its own build dir, hardening on, no sanitizer
	BIN=$BUILD/pkg
	if ! log=$(env -u MAKEFLAGS -u MAKELEVEL make --no-print-directory -j"$(nproc 2>/dev/null || echo 2)" \
		BUILD="$BIN" HARDEN=1 SAN= "$BIN/qps-tune" "$BIN/qps-server" 2>&1); then
		printf '%s\n' "$log" >&2
		die "hardened build in '$BIN' failed"
	fi
fi
for b in qps-tune qps-server; do
	[ -x "$BIN/$b" ] || die "'$BIN/$b' is missing: run 'make' first"
done
MAINTAINER=${DEB_MAINTAINER:-qps-tune maintainers <qps-tune-maintainers@example.org>}

[ -n "${VERSION:-}" ] || VERSION=$(scripts/version.sh)
ARCH=$(dpkg --print-architecture)
PKG=qps-tune
DEB=$DEB_OUT/${PKG}_${VERSION}_${ARCH}.deb

mkdir -p "$DEB_OUT"
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/mkdeb.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
R=$STAGE/root
umask 022

install -d "$R/usr/sbin" "$R/usr/bin" "$R/usr/share/qps-tune/profiles" "$R/usr/share/qps-tune/dashboards" \
	"$R/usr/share/man/man8" "$R/lib/systemd/system" "$R/usr/lib/qps-tune" "$R/usr/share/doc/$PKG" "$R/DEBIAN"
install -m 0755 "$BIN/qps-tune" "$R/usr/sbin/qps-tune"
install -m 0755 "$BIN/qps-server" "$R/usr/bin/qps-server"
# debug info stays in build/; the package ships stripped binaries
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$R/usr/sbin/qps-tune" "$R/usr/bin/qps-server"

# profiles: the repository's profiles/ (the CLI also has them built in)
n=0
for p in profiles/*.profile; do
	[ -f "$p" ] || continue
	install -m 0644 "$p" "$R/usr/share/qps-tune/profiles/"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || echo "mkdeb: warning: no profiles/*.profile; shipping only the built-in ones" >&2

for m in man/*.8; do
	[ -f "$m" ] || continue
	gzip -9n <"$m" >"$R/usr/share/man/man8/$(basename "$m").gz"
	chmod 0644 "$R/usr/share/man/man8/$(basename "$m").gz"
done
ls "$R/usr/share/man/man8/"*.gz >/dev/null 2>&1 || { rmdir "$R/usr/share/man/man8" "$R/usr/share/man"; echo "mkdeb: warning: no man/*.8 yet" >&2; }
for m in man/*.5; do
	[ -f "$m" ] || continue
	install -d "$R/usr/share/man/man5"
	gzip -9n <"$m" >"$R/usr/share/man/man5/$(basename "$m").gz"
	chmod 0644 "$R/usr/share/man/man5/$(basename "$m").gz"
done

install -m 0644 packaging/qps-server.service packaging/qps-tune-audit.service packaging/qps-tune-audit.timer \
	"$R/lib/systemd/system/"
install -m 0755 packaging/qps-tune-textfile "$R/usr/lib/qps-tune/qps-tune-textfile"
n=0
for d in dashboards/*.json; do
	[ -f "$d" ] || continue
	install -m 0644 "$d" "$R/usr/share/qps-tune/dashboards/"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || die "no dashboards/*.json"

cat >"$STAGE/changelog" <<EOC
$PKG ($VERSION) unstable; urgency=medium

  * Built from $(git rev-parse --short=12 HEAD 2>/dev/null || echo "a source tree") by scripts/mkdeb.sh.

 -- $MAINTAINER  $(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")
EOC
# a native package (no Debian revision): changelog.gz, not changelog.Debian.gz
gzip -9n <"$STAGE/changelog" >"$R/usr/share/doc/$PKG/changelog.gz"
install -D -m 0644 completion/qps-tune.bash "$R/usr/share/bash-completion/completions/qps-tune"
install -m 0644 packaging/debian/copyright "$R/usr/share/doc/$PKG/copyright"
chmod 0644 "$R/usr/share/doc/$PKG/"*

# Depends: the shared libraries the two binaries link, as Debian package names
depends=""
if command -v dpkg-shlibdeps >/dev/null 2>&1; then
	mkdir -p "$STAGE/src/debian"
	printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$PKG" "$PKG" >"$STAGE/src/debian/control"
	depends=$(cd "$STAGE/src" && dpkg-shlibdeps -O "$R/usr/sbin/qps-tune" "$R/usr/bin/qps-server" 2>/dev/null |
		sed -n 's/^shlibs:Depends=//p')
fi
if [ -z "$depends" ]; then
	# fallback: the package owning each library ldd resolves (no versions)
	depends=$(ldd "$R/usr/sbin/qps-tune" "$R/usr/bin/qps-server" | awk '$3 ~ /^\// { print $3 }' | sort -u |
		while read -r lib; do dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null; done |
		cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')
fi
[ -n "$depends" ] || die "cannot work out the library dependencies"

size=$(du -sk --exclude=DEBIAN "$R" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$size/" \
	-e "s/@DEPENDS@/$depends/" -e "s|@MAINTAINER@|$MAINTAINER|" packaging/debian/control.in >"$R/DEBIAN/control"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$R/DEBIAN/"
(cd "$R" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort |
	xargs md5sum) >"$R/DEBIAN/md5sums"
chmod 0644 "$R/DEBIAN/control" "$R/DEBIAN/md5sums"

dpkg-deb --root-owner-group -Zxz --build "$R" "$DEB" >/dev/null
ln -sf "$(basename "$DEB")" "$DEB_OUT/$PKG.deb"
echo "  DEB       $DEB"
