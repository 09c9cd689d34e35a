#!/usr/bin/env bash
# help.t - qps-server's --help and its man page agree: every long option the
# binary prints is documented in man/qps-server.8 and every option the man page
# names exists; --help goes to stdout with exit 0, a bad option exits 2.
. "$(dirname "$0")/../lib.sh"
plan 5
MAN=$QPS_ROOT/man/qps-server.8
help=$("$QPS_SERVER" --help 2>/dev/null); rc=$?
is "$rc" 0 "--help exits 0"
like "$help" '^Usage: qps-server' "--help prints the usage on stdout"
opts_help=$(printf '%s\n' "$help" | grep -oE -- '--[a-z][a-z-]*[a-z]' | sort -u)
# roff writes each '-' of an option as '\-'
opts_man=$(sed 's/\\-/-/g; s/\\f[BIRP]//g' "$MAN" | grep -oE -- '--[a-z][a-z-]*[a-z]' | sort -u)
is "$(comm -23 <(echo "$opts_help") <(echo "$opts_man") | tr '\n' ' ')" "" "every option of --help is in qps-server(8)"
is "$(comm -13 <(echo "$opts_help") <(echo "$opts_man") | tr '\n' ' ')" "" "every option qps-server(8) names is in --help"
"$QPS_SERVER" --no-such-option >/dev/null 2>&1
is "$?" 2 "an unknown option exits 2"
