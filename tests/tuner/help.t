#!/usr/bin/env bash
# help.t - the command line follows its neighbours (issue 13): --help on every
# command to stdout with exit 0, `help CMD`, one short "did you mean" line on a
# typo, every error one JSON document under --json, version --json, short
# options (-p PID, -P profile, -d, -i), /etc/qps-tune/profiles listed, apply
# --dry-run as a user, permission errors that name the privilege. Nothing here
# writes a sysctl; /etc/qps-tune exists only in a private mount namespace.
. "$(dirname "$0")/../lib.sh"
T=$(mktemp -d)
chmod 755 "$T"
export QPS_TUNE_RUN_DIR=$T/run
trap 'rm -rf "$T"' EXIT
Q=$QPS_TUNE
CMDS="audit apply diagnose rollback checks profiles profile probe help version"
PROBES="acceptq syslat offcpu oncpu runqlat leaks tcpdrop"
as_nobody() { setpriv --reuid nobody --regid nogroup --clear-groups "$@"; }

# --help: stdout, exit 0, nothing on stderr, the full options
for c in $CMDS; do
	out=$("$Q" $c --help 2>"$T/err"); rc=$?
	is "$rc:$(wc -c < "$T/err")" "0:0" "$c --help: exit 0, nothing on stderr"
	like "$out" "^usage: qps-tune $c" "$c --help: its usage on stdout"
	is "$("$Q" help $c 2>&1)" "$out" "help $c prints what $c --help does"
done
for p in $PROBES; do
	out=$("$Q" probe $p --help 2>"$T/err"); rc=$?
	is "$rc:$(wc -c < "$T/err")" "0:0" "probe $p --help: exit 0, nothing on stderr"
	like "$out" "^usage: qps-tune probe $p" "probe $p --help: its usage on stdout"
done
is "$("$Q" help probe offcpu)" "$("$Q" probe offcpu --help)" "help probe offcpu = probe offcpu --help"
out=$("$Q" audit --help)
for o in --profile --conns --pid --port --sample --prom --json --state-dir; do
	like "$out" "(^|[ ,])$o( |$)" "audit --help lists $o"
done
cmp_ok "$(printf '%s\n' "$out" | wc -l)" -gt 10 "audit --help is the full help, not one line"
for c in profile rollback; do
	"$Q" $c show x --help >/dev/null 2>&1; is "$?" 0 "$c with arguments and --help: exit 0"
done
is "$("$Q" -h)" "$("$Q" help)" "-h is help"

# typos: one line naming the closest command or option, exit 2, nothing on stdout
for pair in audti:audit aply:apply rollbakc:rollback dignose:diagnose; do
	typo=${pair%%:*} want=${pair#*:}
	out=$("$Q" $typo 2>"$T/err"); rc=$?
	is "$rc:$(wc -l < "$T/err"):${out}" "2:1:" "typo '$typo': exit 2, one line on stderr, nothing on stdout"
	like "$(cat "$T/err")" "did you mean '$want'\\?" "typo '$typo': did you mean '$want'?"
done
"$Q" zzzzzz 2>"$T/err"
is "$(wc -l < "$T/err")" 1 "an unknown command far from any: still one line"
like "$(cat "$T/err")" "unknown command 'zzzzzz'; see 'qps-tune help'" "... naming where the usage is"
"$Q" audit --bogus 2>"$T/err"; rc=$?
is "$rc:$(wc -l < "$T/err")" "2:1" "unknown option: exit 2, one line"
like "$(cat "$T/err")" "unknown option '--bogus'; see 'qps-tune audit --help'" "... names the option and audit --help"
"$Q" apply --dryrun 2>"$T/err"
like "$(cat "$T/err")" "did you mean '--dry-run'\\?" "option typo: did you mean '--dry-run'?"
"$Q" profile shwo web-10k 2>"$T/err"; rc=$?
is "$rc:$(wc -l < "$T/err")" "2:1" "subcommand typo: exit 2, one line"
like "$(cat "$T/err")" "did you mean 'show'\\?" "subcommand typo: did you mean 'show'?"
"$Q" probe offcup 2>"$T/err"; rc=$?
is "$rc:$(wc -l < "$T/err")" "2:1" "unknown probe: exit 2, one line"
like "$(cat "$T/err")" "did you mean 'offcpu'\\?" "unknown probe: did you mean 'offcpu'?"
"$Q" probe syslat --bogus 2>"$T/err"; rc=$?
is "$rc:$(wc -l < "$T/err")" "2:1" "unknown probe option: exit 2, one line (not the whole usage)"
like "$(cat "$T/err")" "unknown option '--bogus'; see 'qps-tune probe syslat --help'" "... naming the probe's --help"

# --json: every error is exactly one JSON document on stdout with "error"
jerr() {	# jerr NAME ARGS...: exit 2 and one {"error"} document
	local name=$1; shift
	out=$("$Q" "$@" 2>/dev/null); rc=$?
	is "$rc $(printf '%s' "$out" | jq -s 'length' 2>/dev/null) $(printf '%s' "$out" | jq -r '.error|length > 0' 2>/dev/null)" \
		"2 1 true" "--json usage error is one {\"error\"} document: $name"
}
for c in $CMDS; do
	jerr "$c --bogus" --json $c --bogus
	jerr "$c (json last) --bogus" $c --bogus --json
done
for c in audit apply diagnose profile; do
	jerr "$c --conns (missing argument)" --json $c show --conns
done
jerr "global --bogus" --json --bogus
jerr "global -x" -j -x
jerr "no command" --json
jerr "unknown command" --json nosuchcmd
jerr "typo" --json audti
jerr "help nosuchcmd" --json help nosuchcmd
jerr "version extra" --json version extra
jerr "audit extra argument" --json audit extra
jerr "profile without show" --json profile
jerr "probe without a name" --json probe
for p in $PROBES; do
	jerr "probe $p --bogus" probe $p --bogus --json
	jerr "probe $p --duration x" --json probe $p --duration x
	jerr "probe $p extra" probe $p -j extra
done

# version
v=$(sed -n 's/^#define QPS_VERSION "\(.*\)"$/\1/p' "$BUILD/version.h")
is "$("$Q" version)" "qps-tune $v" "version prints build/version.h's"
is "$("$Q" version --json | jq -r .version)" "$v" "version --json: {\"version\": ...}"
is "$("$Q" --json version | jq -r .version)" "$v" "--json version: {\"version\": ...}"
is "$("$Q" -j -V | jq -r .version)" "$v" "-j -V: {\"version\": ...}"

# short options: -P profile, -c conns, -n dry run, -p PID (as libbpf-tools and bpftool)
is "$("$Q" apply -n -P web-100k -c 50000 --json --state-dir "$T/s1" | jq -r .profile)" web-100k "apply -n -P web-100k"
is "$("$Q" audit -P proxy --json | jq -r .profile)" proxy "audit -P proxy"
sleep 30 & SP=$!
is "$("$Q" audit -p $SP --json | jq -r "[.checks[] | select(.key|test(\"pid $SP\")) | .id] | index(\"FD-001\") != null")" true \
	"audit -p PID checks that process (FD-001 on pid $SP)"
is "$("$Q" audit -p $SP --json | jq -c '[.checks[]|.id+.key]')" "$("$Q" audit --pid $SP --json | jq -c '[.checks[]|.id+.key]')" \
	"audit -p PID = audit --pid PID"
"$Q" audit -p web-10k 2>"$T/err"
like "$(cat "$T/err")" "invalid --pid 'web-10k'" "-p is no longer the profile"
"$Q" diagnose -p 0 2>"$T/err"
like "$(cat "$T/err")" "invalid --pid '0'" "diagnose -p is the pid"
"$Q" diagnose -d 0.1 2>"$T/err"
like "$(cat "$T/err")" "invalid --duration '0.1'" "diagnose -d is the duration"
# leaks needs no BPF: -p, -d and -i of the probes, timed against the clock
t0=$(date +%s%N)
out=$("$Q" probe leaks -p $SP -d 1.2 -i 0.4 --json 2>/dev/null); rc=$?
t1=$(date +%s%N)
is "$rc" 0 "probe leaks -p PID -d 1.2 -i 0.4: exit 0"
is "$(printf '%s\n' "$out" | jq -r .pid 2>/dev/null)" "$SP" "probe -p: the report is about that pid"
ms=$(( (t1 - t0) / 1000000 ))
ok "probe -d 1.2 ran 1.2 s ($ms ms)" test "$ms" -ge 1150 -a "$ms" -lt 4000
is "$(printf '%s\n' "$out" | jq -r '.interval_s' 2>/dev/null)" 0.4 "probe -i 0.4: samples every 0.4 s"
cmp_ok "$(printf '%s\n' "$out" | jq -r '.samples|length' 2>/dev/null)" -ge 3 "... the first, one per interval, the last"
kill $SP 2>/dev/null

# /etc/qps-tune/profiles: listed with its source (in a private mount namespace)
if is_root && unshare -m true 2>/dev/null; then
	mkdir -p "$T/up" "$T/work"
	unshare -m sh -c '
		mount -t overlay overlay -o "lowerdir=/etc,upperdir=$2/up,workdir=$2/work" /etc || exit 9
		mkdir -p /etc/qps-tune/profiles
		printf "inherit web-10k\ndescription \"site\"\nconns 20000\n" > /etc/qps-tune/profiles/site.profile
		printf "inherit base\n" > /etc/qps-tune/profiles/loose.profile
		chmod 666 /etc/qps-tune/profiles/loose.profile
		"$1" profiles --json > "$2/p.json"; "$1" profiles > "$2/p.txt"
		"$1" audit -P site --json > "$2/site.json"; test $? = 0 -o $? = 3' _ "$Q" "$T"
	is "$?" 0 "profiles and audit in a mount namespace with /etc/qps-tune/profiles"
	is "$(jq -r '.profiles[] | select(.name=="site") | .source + " " + (.conns|tostring)' "$T/p.json")" \
		"/etc/qps-tune/profiles/site.profile 20000" "profiles --json lists /etc/qps-tune/profiles/site with its source"
	like "$(jq -r '.profiles[] | select(.name=="loose") | .error' "$T/p.json")" "refusing profile" \
		"a world-writable profile there is listed as refused"
	like "$(cat "$T/p.txt")" "site +conns 20000 +/etc/qps-tune/profiles/site.profile" "the table has the source"
	is "$(jq -r '.profiles[] | select(.name=="web-10k") | .source' "$T/p.json")" built-in "built-ins still listed"
	is "$(jq -r '.profile + " " + (.conns|tostring)' "$T/site.json")" "site 20000" "audit -P site uses it"
	ok "the host's /etc is untouched" test ! -e /etc/qps-tune/profiles/site.profile
else
	for i in 1 2 3 4 5 6 7; do skip "needs root and mount namespaces" "/etc/qps-tune/profiles $i"; done
fi

# apply --dry-run without root: the plan, what it may not write and why
if is_root && as_nobody true 2>/dev/null; then
	"$Q" apply -n --json > "$T/root.json"
	(cd / && as_nobody "$Q" apply -n --json > "$T/user.json" 2>"$T/user.err"); rc=$?
	is "$rc" 0 "apply --dry-run as nobody: exit 0"
	is "$(jq -c '[.changes[].key]' "$T/user.json")" "$(jq -c '[.changes[].key]' "$T/root.json")" \
		"as nobody it plans the same changes as root"
	want=$(jq -r '.changes[] | select(.kind=="sysctl") | .key' "$T/user.json" | while read -r k; do
		as_nobody test -w "/proc/sys/$(tr . / <<<"$k")" || echo "$k"; done | sort | tr '\n' ' ')
	is "$(jq -r '.needs_privilege[].key' "$T/user.json" | grep -v / | sort | tr '\n' ' ')" "$want" \
		"needs_privilege lists each planned sysctl nobody may not write (test -w)"
	is "$(jq -r '.needs_privilege[].reason' "$T/user.json" | grep -vcE 'root|CAP_')" 0 \
		"each names the privilege"
	# --persist: the files it would write, in a root-owned tree nobody may not write to
	mkdir -p "$T/rootfs/etc/security/limits.d" "$T/rootfs/etc/sysctl.d"
	"$Q" apply -n --persist --root "$T/rootfs" --json > "$T/root-p.json"
	(cd / && as_nobody "$Q" apply -n --persist --root "$T/rootfs" --json > "$T/user-p.json" 2>/dev/null)
	files=$(jq -r '[.changes[] | select(.kind=="file") | .path] | sort | join(" ")' "$T/user-p.json")
	is "$files" "$(jq -r '[.changes[] | select(.kind=="file") | .path] | sort | join(" ")' "$T/root-p.json")" \
		"--persist dry run as nobody plans the files root's does ($files)"
	ok "... at least one (limits.d in an empty tree)" test -n "$files"
	is "$(jq -r '[.needs_privilege[].key | select(startswith("/"))] | sort | join(" ")' "$T/user-p.json")" "$files" \
		"... and lists each as needing a privilege (nobody cannot write the tree)"
	out=$(cd / && as_nobody "$Q" apply --dry-run 2>&1)
	like "$out" "need a privilege this user lacks \(dry run: nothing written\)" "the table says so too"
	# every EACCES/EPERM a user can meet names the privilege
	sleep 30 & SP=$!
	: > "$T/perm"
	for args in "apply" "apply -n -p 1" "apply -p $SP" "rollback" "audit -p 1" "diagnose -p 1 -d 0.5 --no-probes" \
		"probe acceptq -d 0.2" "probe offcpu -d 0.2" "probe leaks -p 1 -d 0.2" "apply -n --persist --root $T/rootfs"; do
		(cd / && as_nobody "$Q" $args >/dev/null 2>>"$T/perm")
	done
	kill $SP 2>/dev/null
	cmp_ok "$(grep -cE 'Permission denied|Operation not permitted|need root' "$T/perm")" -ge 4 \
		"as nobody, commands meet permission errors"
	is "$(grep -E 'Permission denied|Operation not permitted' "$T/perm" | grep -vE 'root|CAP_')" "" \
		"every permission error names the privilege (root or CAP_...)"
else
	for i in $(seq 10); do skip "needs root to switch to user nobody" "dry run as a user $i"; done
fi

# help/man parity: every option a --help prints is in man/qps-tune.8, every
# option of the man page's SYNOPSIS, OPTIONS and PROBES is in some --help, and a
# short option means the same in both
MAN=$QPS_ROOT/man/qps-tune.8
# troff to words: "\-" is "-", fonts go, `.BR \-h ", " \-\-help` is "-h, --help", `[ \-P | \-\-profile` "-P|--profile"
unesc() { sed -E 's/\\-/-/g; s/\\f[BIRP]//g; s/\\\(em/-/g; s/ *"?, "? */, /g; s/ +\| +/|/g' "$@"; }
{
	"$Q" --help
	for c in $("$Q" help | awk '/^  qps-tune [a-z]/ { print $2 }'); do "$Q" $c --help; done
	for p in $("$Q" probe --help | awk '/^  [a-z]+ / { print $1 }'); do "$Q" probe $p --help; done
} > "$T/helps"
cmp_ok "$(grep -c '^usage: ' "$T/helps")" -ge 17 "collected the help of every command and probe"
grep -oE -- '--[a-z][a-z0-9-]*' "$T/helps" | sort -u > "$T/help-long"
unesc "$MAN" > "$T/man"
is "$(while read -r o; do grep -qE -- "$o([^a-z0-9-]|\$)" "$T/man" || printf '%s ' "$o"; done < "$T/help-long")" "" \
	"every long option of every --help is in the man page"
awk '/^\.SH (SYNOPSIS|OPTIONS|PROBES)/ { on = 1; next } /^\.SH/ { on = 0 } on' "$MAN" | unesc > "$T/man-opts"
is "$(grep -oE -- '--[a-z][a-z0-9-]*' "$T/man-opts" | sort -u | while read -r o; do
	grep -qE -- "$o([^a-z0-9-]|\$)" "$T/helps" || printf '%s ' "$o"; done)" "" \
	"every long option of the man page's synopsis, options and probes is in some --help"
# per command: its own options (not the common ones) are in its synopsis line(s),
# a probe's in its entry under PROBES
COMMON='--(json|verbose|state-dir|root|run-dir|help|duration|interval|pid|comm|cgroup|cumulative)'
miss=""
for c in audit apply diagnose rollback checks profile; do
	syn=$(awk -v c="$c" '$0 ~ "^\\.B qps-tune "c"( |$)" { on = 1 } on { print } on && /^\.(br|PP)/ { on = 0 }' "$MAN" | unesc)
	# the options a line starts with (the text may name another command's)
	for o in $("$Q" $c --help | grep -oE -- '^ +(-[a-zA-Z], )?--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z0-9-]+' | sort -u |
		grep -vxE -- "--(json|verbose|state-dir|root|run-dir|help)"); do
		grep -qE -- "$o([^a-z0-9-]|\$)" <<<"$syn" || miss="$miss $c:$o"
	done
done
for p in $("$Q" probe --help | awk '/^  [a-z]+ / { print $1 }'); do
	entry=$(awk -v p="$p" '$0 ~ "^\\.B "p"( |$)" { print; exit }' "$MAN" | unesc)
	for o in $("$Q" probe $p --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u | grep -vxE -- "$COMMON"); do
		grep -qE -- "$o([^a-z0-9-]|\$)" <<<"$entry" || miss="$miss probe-$p:$o"
	done
done
is "${miss# }" "" "per command and probe: each option of its --help is in its man synopsis or entry"
grep -oE -- '(^|[ [])-[a-zA-Z], --[a-z][a-z0-9-]*' "$T/helps" | sed 's/^[ [[]*//' | sort -u > "$T/help-short"
cmp_ok "$(wc -l < "$T/help-short")" -ge 10 "the helps pair short and long options (-p, --pid ...)"
is "$(while read -r s l; do s=${s%,}; grep -qE -- "(^|[^a-z0-9-])$s(\\| |, |\|)$l" "$T/man" || printf '%s ' "$s $l"; done < "$T/help-short")" "" \
	"every short option pairs with the same long one in the man page"
is "$(grep -oE -- '(^|[^a-z0-9-])-[a-zA-Z](\||, | )--[a-z][a-z0-9-]*' "$T/man-opts" | sed -E 's/^[^-]//; s/(\||, | )/ /' | sort -u |
	while read -r s l; do grep -qE -- "(^|[ [])$s, $l" "$T/helps" || printf '%s ' "$s $l"; done)" "" \
	"every short option the man page pairs is paired the same in some --help"
for w in '^\.BR? version' 'NO_COLOR' '/etc/qps-tune/profiles' -- '--no-kernel-threads' '-h(, |\|)--help' \
	'-V(, |\|)--version' '-p(, |\|)--pid' '-c(, |\|)--conns' '-n(, |\|)--dry-run' '-P(, |\|)--profile'; do
	[ "$w" = -- ] && continue
	ok "the man page documents $w" grep -qE -- "$w" "$T/man"
done
# NO_COLOR (no-color.org): set and not empty, audit's table on a terminal has no colour
if command -v script >/dev/null; then
	cmp_ok "$(script -qec "$Q audit" /dev/null | grep -c $'\e')" -gt 0 "audit on a terminal: colour"
	is "$(NO_COLOR=1 script -qec "$Q audit" /dev/null | grep -c $'\e')" 0 "NO_COLOR=1: none"
	cmp_ok "$(NO_COLOR= script -qec "$Q audit" /dev/null | grep -c $'\e')" -gt 0 "NO_COLOR empty: colour (no-color.org)"
else
	for i in 1 2 3; do skip "no script(1) for a terminal" "NO_COLOR $i"; done
fi

# bash completion: sourced in bash, COMPREPLY for a few prefixes; and
# `make install` puts it where bash-completion looks
comp() {	# comp WORD...: what TAB offers after the words (the last is the prefix)
	bash --norc --noprofile -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _qps_tune
		[ ${#COMPREPLY[@]} = 0 ] || printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "$QPS_ROOT/completion/qps-tune.bash" "$Q" "$@"
}
is "$(comp a)" "apply audit " "completion: commands (a -> apply audit)"
is "$(comp di)" "diagnose " "completion: di -> diagnose"
is "$(comp audit --p)" "--pid --port --profile --prom " "completion: audit's own options"
is "$(comp rollback --f)" "--force " "completion: rollback --f -> --force"
is "$(comp apply -P web-1)" "web-100k web-10k " "completion: profile names after -P"
is "$(comp profile show la)" "latency " "completion: profile show NAME"
is "$(comp probe o)" "offcpu oncpu " "completion: probe names"
is "$(comp probe offcpu --no-k)" "--no-kernel-threads " "completion: a probe's own options"
is "$(comp help ro)" "rollback " "completion: help COMMAND"
is "$(comp --js)" "--json " "completion: global options"
is "$(comp audit -p "$$")" "$$ " "completion: -p offers pids"
is "$(comp audit -c 1)" "" "completion: nothing for a number"
make -s -o all -C "$QPS_ROOT" install BUILD="$BUILD" DESTDIR="$T/inst" PREFIX=/usr >/dev/null 2>&1
ok "make install puts it in share/bash-completion/completions/qps-tune" \
	cmp "$QPS_ROOT/completion/qps-tune.bash" "$T/inst/usr/share/bash-completion/completions/qps-tune"
done_testing
