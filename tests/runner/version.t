#!/usr/bin/env bash
# version.t - one version string, from scripts/version.sh, in every binary and
# the package: an operator comparing `qps-tune --version`, `qps-server
# --version` and `dpkg -s qps-tune` sees the same thing (mkdeb.sh takes
# its default from scripts/version.sh; tests/ansible/deb.t checks the package).
. "$(dirname "$0")/../lib.sh"
plan 3
v=$("$QPS_ROOT/scripts/version.sh")
like "$v" '^[0-9]+\.[0-9]+\.[0-9]+(\+git[0-9]+\.[0-9a-f]{7})?$' "version.sh prints a Debian-sortable version ($v)"
[ -x "$QPS_TUNE" ] && [ -x "$QPS_SERVER" ] || { fail "binaries built" "run make"; skip_rest "no binaries"; }
is "$("$QPS_TUNE" --version)" "qps-tune $v" "qps-tune --version"
is "$("$QPS_SERVER" --version 2>&1)" "qps-server $v" "qps-server --version"
