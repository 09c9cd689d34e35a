#!/usr/bin/env bash
# deps.t - `make audit` may run on a production host: scripts/deps.sh --build
# asks for the build packages only, never the test fleet's (sshd, ansible, ...).
. "$(dirname "$0")/../lib.sh"
plan 4
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
# a dpkg-query that says nothing is installed, so --check lists every package of the set
printf '#!/bin/sh\nexit 1\n' >"$T/dpkg-query"; chmod +x "$T/dpkg-query"
build=$(PATH="$T:$PATH" "$QPS_ROOT/scripts/deps.sh" --check --build 2>&1)
full=$(PATH="$T:$PATH" "$QPS_ROOT/scripts/deps.sh" --check 2>&1)
like "$build" 'libbpf-dev.*libmnl-dev' "--build asks for the libraries qps-tune links"
if printf '%s' "$build" | grep -qwE 'openssh-server|ansible-core|valgrind|curl|jq'; then
	fail "--build asks for no test package" "$build"
else pass "--build asks for no test package"; fi
like "$full" 'openssh-server' "the full set still has the test packages"
like "$(grep -E '^audit:' "$QPS_ROOT/Makefile")" 'deps-build-ok' "the audit target uses it"
