#!/usr/bin/env bash
# lint.t - yamllint, ansible-lint (production profile, offline) and a syntax
# check of every playbook under ansible/.
source "$(dirname "$0")/../lib.sh"
cd "$QPS_ROOT/ansible" || exit 1
plan 4

# ansible-lint must not reach the network: offline mode, and its caches in a
# throwaway HOME so a developer's ~/.ansible does not change the result
T=$(mktemp -d /tmp/qps-lint.XXXXXX)
trap 'rm -rf "$T"' EXIT
export HOME=$T ANSIBLE_LINT_OFFLINE=1 ANSIBLE_CONFIG=$QPS_ROOT/ansible/ansible.cfg
export ANSIBLE_LOCAL_TEMP=$T/tmp NO_COLOR=1 ANSIBLE_NOCOLOR=1

out=$(yamllint -s -c .yamllint . 2>&1)
is "$out" "" "yamllint passes"

if out=$(timeout 180 ansible-lint --offline -p --nocolor 2>&1); then
	pass "ansible-lint (production profile, offline) passes"
else
	fail "ansible-lint (production profile, offline) passes" "$(printf '%s' "$out" | tail -30)"
fi
like "$out" 'Passed with production profile' "ansible-lint ran the production profile"

bad=""
for p in playbooks/*.yml; do
	ansible-playbook --syntax-check "$p" >/dev/null 2>"$T/err" || bad="$bad $p: $(tail -3 "$T/err")"
done
is "$bad" "" "every playbook passes ansible-playbook --syntax-check"
done_testing
