#!/usr/bin/env bash
# collection.t - the Ansible collection qps_tune.qps_tune as a user gets it:
# `ansible-galaxy collection build`, `install` into a temp path, `ansible-doc`
# from that path only; the module's documentation against its argument_spec and
# its exit_json calls, the role's argument_specs against defaults/main.yml; then
# the installed module run on localhost inside scratch network namespaces
# (unshare -n), against the real qps-tune and against a stub that prints a
# qps-tune JSON document with a secret in it.
#
# `ansible-test sanity` is not run: it builds a virtualenv per test and installs
# pinned requirements from PyPI (even with --local), which an offline machine
# cannot do. What it checks that matters here is checked below without it: docs
# parse (ansible-doc, yamllint), docs match the argument_spec, RETURN covers the
# result, the module compiles and pyflakes is clean.
source "$(dirname "$0")/../lib.sh"
plan 32

COLL=$QPS_ROOT/ansible/collections/ansible_collections/qps_tune/qps_tune
MOD=$COLL/plugins/modules/qps_tune.py
ROLE=$COLL/roles/qps_tune
T=$(mktemp -d /tmp/qps-coll.XXXXXX)
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
# nothing from a developer's ~/.ansible or the repository's ansible.cfg
: >"$T/ansible.cfg"
export HOME=$T/home ANSIBLE_CONFIG=$T/ansible.cfg ANSIBLE_LOCAL_TEMP=$T/tmp ANSIBLE_REMOTE_TEMP=$T/rtmp
export ANSIBLE_NOCOLOR=1 ANSIBLE_DEPRECATION_WARNINGS=0 ANSIBLE_COLLECTIONS_PATH=$T/coll
mkdir -p "$HOME"
for t in ansible-galaxy ansible-doc ansible jq python3; do
	command -v "$t" >/dev/null || { fail "tools" "'$t' is missing (make deps)"; skip_rest "no $t"; }
done
PY=/usr/bin/python3

# ---- build and install
VER=$($PY -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' "$COLL/galaxy.yml")
out=$(ansible-galaxy collection build --output-path "$T/dist" "$COLL" 2>&1)
TGZ=$T/dist/qps_tune-qps_tune-$VER.tar.gz
if [ -f "$TGZ" ]; then pass "ansible-galaxy collection build writes qps_tune-qps_tune-$VER.tar.gz"; else fail "ansible-galaxy collection build" "$out"; skip_rest "no collection"; fi
files=$(tar -tzf "$TGZ" | sed 's|^\./||')
missing=""
for f in MANIFEST.json FILES.json README.md meta/runtime.yml plugins/modules/qps_tune.py \
	roles/qps_tune/meta/argument_specs.yml roles/qps_tune/defaults/main.yml roles/qps_tune/tasks/main.yml \
	roles/qps_tune/templates/fleet_audit.json.j2 LICENSE CHANGELOG.md; do
	printf '%s\n' "$files" | grep -qxF "$f" || missing="$missing $f"
done
is "$missing" "" "the tarball holds the module, the role, runtime.yml and the licence"
is "$(tar -xzOf "$TGZ" MANIFEST.json | jq -c '.collection_info.license')" '["BSD-2-Clause"]' "MANIFEST.json: licence BSD-2-Clause"
out=$(ansible-galaxy collection install --offline -p "$T/coll" "$TGZ" 2>&1)
I=$T/coll/ansible_collections/qps_tune/qps_tune
if [ -f "$I/MANIFEST.json" ] && [ -f "$I/plugins/modules/qps_tune.py" ]; then pass "ansible-galaxy collection install into a temp path"; else fail "ansible-galaxy collection install" "$out"; fi

# ---- ansible-doc from the installed copy only
doc=$(ansible-doc --json qps_tune.qps_tune.qps_tune 2>"$T/doc.err")
is "$(printf '%s' "$doc" | jq -r '.["qps_tune.qps_tune.qps_tune"].doc.filename' 2>&1)" "$I/plugins/modules/qps_tune.py" \
	"ansible-doc qps_tune.qps_tune.qps_tune finds the installed module"
like "$(ansible-doc qps_tune.qps_tune.qps_tune 2>&1)" "EXAMPLES:" "ansible-doc shows the module with its examples"
D() { printf '%s' "$doc" | jq -c ".[\"qps_tune.qps_tune.qps_tune\"]$1" 2>&1; }
is "$(D '.doc.attributes | [.check_mode.support, .diff_mode.support]')" '["full","full"]' "attributes: check_mode and diff_mode full"
# every example is a task that calls the module by its FQCN with a valid command
ex=$(printf '%s' "$doc" | jq -r '.["qps_tune.qps_tune.qps_tune"].examples')
is "$(printf '%s' "$ex" | $PY -c '
import sys, yaml
tasks = yaml.safe_load(sys.stdin)
bad = [t.get("name") for t in tasks if t.get("qps_tune.qps_tune.qps_tune", {}).get("command") not in ("audit", "apply", "rollback", "probe", "diagnose")]
print(len(tasks) >= 3 and not bad or bad)' 2>&1)" True "EXAMPLES: at least 3 tasks, each calls qps_tune.qps_tune.qps_tune with a command"

# DOCUMENTATION options == the argument_spec main() passes to AnsibleModule
cat >"$T/spec.py" <<'EOF'
import json, sys, yaml, importlib.util
spec = importlib.util.spec_from_file_location("m", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
class Got(Exception):
    pass
def fake(**kw):
    raise Got(kw)
m.AnsibleModule = fake
try:
    m.main()
except Got as g:
    kw = g.args[0]
doc = yaml.safe_load(m.DOCUMENTATION)["options"]
bad = []
for name in sorted(set(doc) | set(kw["argument_spec"])):
    a, d = kw["argument_spec"].get(name), doc.get(name)
    if a is None or d is None:
        bad.append("%s: only in %s" % (name, "DOCUMENTATION" if a is None else "argument_spec"))
        continue
    for f in ("type", "default", "choices", "required", "elements"):
        av, dv = a.get(f), d.get(f)
        if f == "required":
            av, dv = bool(av), bool(dv)
        if av != dv:
            bad.append("%s.%s: spec %r doc %r" % (name, f, av, dv))
if not kw.get("supports_check_mode"):
    bad.append("supports_check_mode is not set")
print(" ".join(bad))
EOF
is "$($PY "$T/spec.py" "$I/plugins/modules/qps_tune.py" 2>&1)" "" \
	"DOCUMENTATION options match the argument_spec (type, default, choices, required, elements)"
# RETURN documents every key the module returns (the names in its exit_json calls)
cat >"$T/ret.py" <<'EOF'
import ast, sys, yaml
src = open(sys.argv[1]).read()
ret = None
keys = set()
for node in ast.walk(ast.parse(src)):
    if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "RETURN":
        ret = yaml.safe_load(node.value.value)
    if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("exit_json", "fail_json"):
        keys |= {k.arg for k in node.keywords if k.arg}
# the common return values every module has
keys -= {"changed", "diff", "ansible_facts", "skipped", "failed"}
print(" ".join(sorted(keys - set(ret))))
EOF
is "$($PY "$T/ret.py" "$MOD" 2>&1)" "" "RETURN documents every key the module returns"
# the YAML in DOCUMENTATION / EXAMPLES / RETURN passes yamllint (what the sanity test does)
$PY - "$MOD" "$T" <<'EOF'
import ast, sys
for node in ast.parse(open(sys.argv[1]).read()).body:
    if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
        open("%s/%s.yml" % (sys.argv[2], node.targets[0].id), "w").write(node.value.value.lstrip("\n"))
EOF
is "$(cd "$T" && yamllint -s -d '{extends: default, rules: {line-length: {max: 160}, document-start: disable}}' DOCUMENTATION.yml EXAMPLES.yml RETURN.yml 2>&1)" "" \
	"yamllint: DOCUMENTATION, EXAMPLES and RETURN"
is "$($PY -m pyflakes "$MOD" 2>&1; $PY -m py_compile "$MOD" 2>&1)" "" "module compiles and pyflakes is clean"

# ---- the role: argument_specs defaults are the defaults/main.yml values
rdoc=$(ansible-doc -t role --json qps_tune.qps_tune.qps_tune 2>&1)
printf '%s' "$rdoc" >"$T/role.json"
is "$($PY - "$T/role.json" "$ROLE/defaults/main.yml" <<'EOF'
import json, sys, yaml
opts = json.load(open(sys.argv[1]))["qps_tune.qps_tune.qps_tune"]["entry_points"]["main"]["options"]
defaults = yaml.safe_load(open(sys.argv[2]))
bad = []
for k in sorted(set(opts) | set(defaults)):
    if k not in opts or k not in defaults:
        bad.append("%s: only in %s" % (k, "argument_specs" if k in opts else "defaults/main.yml"))
    elif opts[k].get("default") != defaults[k]:
        bad.append("%s: spec %r defaults %r" % (k, opts[k].get("default"), defaults[k]))
print(" ".join(bad))
EOF
)" "" "role argument_specs: every option, each default as in defaults/main.yml"
is "$(jq -c '.["qps_tune.qps_tune.qps_tune"].entry_points.main.options | [.qps_tune_install.default, .qps_tune_persist.default, .qps_tune_audit_around_apply.default]' "$T/role.json" 2>&1)" \
	"[true,true,true]" "ansible-doc -t role shows true (not null) for the options that default to true"

# ---- the installed module on localhost. mod ARGS-JSON [ansible options]:
# runs it inside a scratch network namespace; the result in $T/res.json
is_root || { for i in $(seq $((30 - _tap_n))); do skip "needs root (unshare -n, a real audit and apply)" "module runs"; done; done_testing; }
mod() {
	local args=$1
	shift
	rm -rf "$T/tree"
	timeout 120 unshare -n ansible localhost -c local -i localhost, -e ansible_python_interpreter=$PY \
		-m qps_tune.qps_tune.qps_tune -a "$args" --tree "$T/tree" "$@" >"$T/out.txt" 2>"$T/err"
	MRC=$?
	cp "$T/tree/localhost" "$T/res.json" 2>/dev/null || echo '{}' >"$T/res.json"
}
R() { jq -r "$1" "$T/res.json" 2>&1; }

# a profile name with a newline would become a directive in the host profile
inj='web-10k\nsysctl kernel.core_pattern = |/tmp/qps-coll-pwned %p'
mod "{\"command\": \"apply\", \"bin\": \"$QPS_TUNE\", \"profile\": \"$inj\", \"profile_file\": \"$T/h.profile\", \"state_dir\": \"$T/st\"}" --check
is "$MRC $([ -e "$T/h.profile" ] && echo written || echo absent)" "2 absent" "profile with a newline: apply fails, no host profile written"
like "$(R .msg)" "invalid profile" "profile with a newline: the message says the profile is invalid"
# a newline is refused wherever it is: at the end (a regex '$' matches before a
# final newline) and with tabs for separators (no space to trip over)
for inj in 'web-10k\n' 'web-10k\nsysctl\tkernel.core_pattern\t=\t|/tmp/qps-coll-pwned'; do
	mod "{\"command\": \"audit\", \"bin\": \"$QPS_TUNE\", \"profile\": \"$inj\"}"
	like "$MRC $(R .msg)" "^2 invalid profile" "profile '$inj': refused"
done
mod "{\"command\": \"audit\", \"bin\": \"$QPS_TUNE\", \"profile\": \"web-10k sysctl\"}"
like "$MRC $(R .msg)" "^2 invalid profile" "profile with a space: audit refuses it too"

# stub qps-tune: an apply document whose persisted file held a secret
cat >"$T/stub" <<'EOF'
#!/bin/sh
case " $* " in
*" apply "*) printf '%s\n' '{"schema":"qps-tune.apply/1","changed":1,"changes":[{"kind":"file","path":"/etc/sysctl.d/90-qps-tune.conf","old":"token = SECRET-OLD-CONTENT\n","new":"net.core.somaxconn = 4096\n"},{"kind":"sysctl","key":"net.core.somaxconn","old":"128","new":"4096"}]}' ;;
*" probe "*) printf '%s\n' '{"schema":"qps-tune.probe.acceptq/1","listeners":[]}' ;;
*" diagnose "*" --port 9 "*) echo '{"error":"no TCP listener on port 9 in this network namespace"}'; exit 1 ;;
*" diagnose "*) echo "$*" >"${0%/*}/diagnose.args"
	printf '%s\n' '{"schema":"qps-tune.diagnose/1","server":{"pid":42,"comm":"qps-server"},"findings":[{"rank":1,"name":"accept-queue-overflow","title":"t","impact":94,"confidence":"high","evidence":"e","checks":"LQ-001 fail","fix":"qps-tune apply --profile '"$(echo "$*" | sed 's/.*--profile \([^ ]*\).*/\1/')"'","figures":{"overflows":5}}],"summary":{"findings":1,"limited":true}}'; exit 3 ;;
*) echo '{"error":"stub"}'; exit 1 ;;
esac
EOF
chmod 755 "$T/stub"
mod "{\"command\": \"apply\", \"bin\": \"$T/stub\"}" --diff -v
is "$(R .changed) $(cat "$T/out.txt" "$T/res.json" | grep -c 'SECRET-OLD-CONTENT')" "true 0" "apply --diff: a persisted file's contents are in neither the diff nor the result"
like "$(tr '\n' ' ' <"$T/out.txt")" "-sysctl net.core.somaxconn = 128 \+sysctl net.core.somaxconn = 4096 .*-file /etc/sysctl.d/90-qps-tune.conf: \(27 bytes\) \+file /etc/sysctl.d/90-qps-tune.conf: \(26 bytes\)" \
	"apply --diff: the file by path and size, the value old -> new"

mod "{\"command\": \"probe\", \"bin\": \"$T/stub\", \"probe\": \"acceptq\", \"duration\": 1, \"dest\": \"$T/probe/report.json\"}"
is "$(stat -c %a "$T/probe/report.json" 2>&1) $(jq -r .schema "$T/probe/report.json" 2>&1)" "600 qps-tune.probe.acceptq/1" "probe report written 0600"

# diagnose: exit 3 (a finding) is a result, not a failure, and changes nothing;
# exit 1 fails with qps-tune's {"error"} message, or is returned with fail_on_error=false
mod "{\"command\": \"diagnose\", \"bin\": \"$T/stub\", \"port\": 8080, \"duration\": 3, \"profile\": \"web-100k\"}" --check
is "$MRC $(R .changed) $(R .limited) $(R .exit_code) $(R .diagnose.findings[0].name) $(R .diagnose.findings[0].figures.overflows)" \
	"0 false true 3 accept-queue-overflow 5" "diagnose exit 3: ok, changed=false, limited, the document in .diagnose (check mode runs it: read-only)"
is "$(cat "$T/diagnose.args" 2>&1)" "--json diagnose --duration 3 --profile web-100k --port 8080" "diagnose: duration, profile and port passed to qps-tune"
mod "{\"command\": \"diagnose\", \"bin\": \"$T/stub\", \"port\": 9}"
is "$MRC $(R .msg)" "2 qps-tune diagnose failed on this host (exit 1): no TCP listener on port 9 in this network namespace" \
	"diagnose exit 1: the task fails with qps-tune's error message"
mod "{\"command\": \"diagnose\", \"bin\": \"$T/stub\", \"port\": 9, \"fail_on_error\": false}"
is "$MRC $(R .limited) $(R .diagnose) $(R .error)" "0 null null qps-tune diagnose failed on this host (exit 1): no TCP listener on port 9 in this network namespace" \
	"diagnose exit 1 with fail_on_error=false: the error returned, the task not failed"
# with the host's rules: a private copy of its host profile, which the fix
# names as the host profile file; nothing is written on the host
mod "{\"command\": \"diagnose\", \"bin\": \"$T/stub\", \"pid\": 42, \"profile_file\": \"$T/dg.profile\", \"overrides\": {\"net.core.somaxconn\": \">= 9000\"}}"
is "$MRC $(R .diagnose.findings[0].fix) $([ -e "$T/dg.profile" ] && echo written || echo absent) $(grep -c -- '--pid 42' "$T/diagnose.args")" \
	"0 qps-tune apply --profile $T/dg.profile absent 1" "diagnose with overrides: --pid passed, the fix names the host profile file, none written"
mod "{\"command\": \"diagnose\", \"bin\": \"$T/stub\", \"pid\": 1, \"port\": 80}"
like "$MRC $(R .msg)" "^2 parameters are mutually exclusive: pid\|port" "diagnose: pid and port together are refused"

# the real qps-tune: audit against a private copy names the host profile in its fixes
mod "{\"command\": \"audit\", \"bin\": \"$QPS_TUNE\", \"profile_file\": \"$T/h1.profile\", \"overrides\": {\"net.core.somaxconn\": \">= 9000\"}}"
is "$(R '[.failing[] | select(.key == "net.core.somaxconn")] | length') $(R '[.failing[].fix | select(test("qps_tune\\."))] | length')" "1 0" \
	"audit: somaxconn fails; no fix names the module's deleted temp profile"
like "$(R '.failing[] | select(.key == "net.core.somaxconn") | .fix')" "--profile $T/h1.profile" "audit: the fix names the host profile file apply writes"

# audit reads state_dir: a listener started before apply keeps its old backlog
cat >"$T/lq.sh" <<EOF
ip link set lo up
sysctl -qw net.core.somaxconn=128
$QPS_SERVER -l 127.0.0.1:18123 -w 1 2>/dev/null & p=\$!
for i in \$(seq 100); do ss -Hltn 'sport = :18123' | grep -q . && break; sleep 0.05; done
run() { timeout 120 ansible localhost -c local -i localhost, -e ansible_python_interpreter=$PY \
	-m qps_tune.qps_tune.qps_tune -a "\$1" --tree "$T/lq-\$2" >/dev/null; }
run '{"command": "apply", "bin": "$QPS_TUNE", "state_dir": "$T/lq-state"}' apply
echo "backlog \$(ss -Hltn 'sport = :18123' | awk '{print \$3}') somaxconn \$(sysctl -n net.core.somaxconn)" >$T/lq-kernel
run '{"command": "audit", "bin": "$QPS_TUNE", "state_dir": "$T/lq-state"}' audit
kill \$p
EOF
timeout 200 unshare -n bash "$T/lq.sh" 2>"$T/lq.err"
is "$(cat "$T/lq-kernel" 2>&1)" "backlog 128 somaxconn 4096" "scratch netns: apply raised somaxconn, the listener kept backlog 128 (ss)"
is "$(jq -r '.audit.checks[] | select(.id == "LQ-002" and .key == "listener 127.0.0.1:18123") | .status' "$T/lq-audit/localhost" 2>&1)" "fail" \
	"audit with state_dir: LQ-002 fails for the listener that predates apply"
done_testing
