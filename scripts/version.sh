#!/bin/sh
# version.sh - the one version string of qps-tune, qps-server and the package.
#   BASE            outside a git checkout (a release tarball)
#   BASE+gitN.HASH  in a checkout: N commits, HASH the abbreviated HEAD
# (a Debian version: '+' sorts after BASE, so a later commit is a later version)
BASE=0.2.0
cd "$(dirname "$0")/.." || exit 1
if n=$(git rev-list --count HEAD 2>/dev/null) && h=$(git rev-parse --short=7 HEAD 2>/dev/null); then
	echo "$BASE+git$n.$h"
else
	echo "$BASE"
fi
