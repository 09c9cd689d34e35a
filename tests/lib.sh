# lib.sh - TAP helpers for the shell test suites (source it).
#
#   plan 5; ok "name" cmd args...; is "$got" "$want" "name"; skip "reason" "name"
#   done_testing        - prints the plan when none was given up front
set -u
QPS_ROOT=${QPS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$QPS_ROOT/$BUILD ;; esac
QPS_TUNE=${QPS_TUNE:-$BUILD/qps-tune}
QPS_SERVER=${QPS_SERVER:-$BUILD/qps-server}
_tap_n=0
_tap_failed=0
_tap_planned=""

plan() { _tap_planned=$1; echo "1..$1"; }
diag() { printf '# %s\n' "$*"; }
pass() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1"; }
fail() {
	_tap_n=$((_tap_n + 1)); _tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $1"
	shift; local l; for l in "$@"; do diag "$l"; done
}
# ok NAME CMD...: passes when CMD exits 0
ok() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name" "command failed: $*"; fi; }
# is GOT WANT NAME
is() { if [ "$1" = "$2" ]; then pass "$3"; else fail "$3" "got:  '$1'" "want: '$2'"; fi; }
# like GOT REGEX NAME (extended regex)
like() { if printf '%s' "$1" | grep -qE -- "$2"; then pass "$3"; else fail "$3" "got: '$(printf '%s' "$1" | head -c 600)'" "want match: /$2/"; fi; }
# cmp_ok A OP B NAME   (integer comparison: -eq -ge -le -gt -lt -ne)
cmp_ok() { if [ "$1" "$2" "$3" ] 2>/dev/null; then pass "$4"; else fail "$4" "want: $1 $2 $3"; fi; }
# skip REASON NAME: prints "ok N - NAME # SKIP REASON". Whether a skip is allowed
# is decided in one place, tests/run.sh: under CI=true a skip not on
# tests/skip-allow.txt fails the run.
skip() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $2 # SKIP $1"
}
is_root() { [ "$(id -u)" = 0 ]; }
# skip_rest REASON: skip every remaining planned test and exit
skip_rest() {
	local i
	[ -n "$_tap_planned" ] || { plan 1; }
	for ((i = _tap_n; i < ${_tap_planned:-1}; i++)); do skip "$1" "remaining tests"; done
	exit $((_tap_failed > 0))
}
done_testing() {
	[ -n "$_tap_planned" ] || echo "1..$_tap_n"
	exit $((_tap_failed > 0))
}
# free TCP port in 18000-18999 on 127.0.0.1 (best effort)
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((18000 + RANDOM % 1000))
		ss -Htln "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return 0; }
	done
	return 1
}
# wait_port PORT [SECS]: wait until something listens on 127.0.0.1:PORT
wait_port() {
	local i
	for ((i = 0; i < ${2:-5} * 20; i++)); do
		ss -Htln "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.05
	done
	return 1
}
