#!/bin/sh
# deps.sh - install the Debian 12 packages that building, testing, the demo and
# the benchmarks need. Idempotent: installs only what is missing.
#   scripts/deps.sh          build + test + demo packages
#   scripts/deps.sh --build  only what building qps-tune needs (`make audit` on a
#                            production host installs nothing else)
#   scripts/deps.sh --check [--build]  exit 1 (and list them) when some are missing
#   scripts/deps.sh --bench  also the reference servers/tools used by `make bench`
set -eu

# build: compiler, BPF toolchain, the four libraries qps-tune links
BUILD_PKGS="make gcc clang llvm libbpf-dev libelf-dev zlib1g-dev libmnl-dev bpftool pkg-config"
# tests: namespaces, cross-check tools, fuzzer runtime, fleet test, packaging;
# witnesses of the probes' outputs: go tool pprof (--pprof), promtool (--prom),
# headless chromium (--svg)
TEST_PKGS="iproute2 procps util-linux libcap2-bin curl jq gawk python3 libclang-rt-14-dev \
libbpf-tools openssh-server openssh-client ansible-core ansible-lint yamllint dpkg-dev man-db valgrind \
golang-go chromium lintian prometheus prometheus-node-exporter binutils g++ libc6-dbg"
BENCH_PKGS="wrk nginx-light apache2-utils h2o"

mode=${1:-}
set=${2:-$mode}
case $set in
--build) pkgs="$BUILD_PKGS" ;;
--bench) pkgs="$BUILD_PKGS $TEST_PKGS $BENCH_PKGS" ;;
*) pkgs="$BUILD_PKGS $TEST_PKGS" ;;
esac

missing=""
for p in $pkgs; do
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case $s in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
if [ "$mode" = --check ]; then
	echo "missing packages:$missing" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: installing$missing needs root (run: sudo make deps)" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# the package lists may be stale or absent on a fresh machine
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
