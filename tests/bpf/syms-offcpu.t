#!/usr/bin/env bash
# syms-offcpu: names other users choose cannot forge offcpu's output, and are
# printed whole. A program names itself 'a;b\n<ESC>[31m' (prctl) and carries
# a function renamed 'ev;il\n<ESC>[2Jx' (objcopy) and one with a 200-character
# name; it blocks 8 x 150 ms inside them. --folded must keep one stack per
# line ('frame;frame;... N'), no raw ESC, the names escaped as escape.h says
# (checked against /proc/PID/comm and nm, escaped here by python), the long
# name whole (nm), and --json must carry the same names. Then the same
# program stripped, its symbols only in a .gnu_debuglink file beside it:
# offcpu still names its functions.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 11
need_bpf

LONG=qps_$(printf 'L%.0s' $(seq 196))
cat > "$TMP/evil.c" <<EOF2
#include <poll.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
/* the syscall right here: libc's wrappers may use rbp for data and break
 * the frame-pointer chain through this very frame */
__attribute__((noinline)) void evil(void)
{
	struct timespec ts = { 0, 150000000 };

	for (int i = 0; i < 8; i++) {
#if defined(__x86_64__)
		long r;
		__asm__ volatile("syscall" : "=a"(r) : "a"((long)SYS_nanosleep), "D"(&ts), "S"(0L) : "rcx", "r11", "memory");
#else
		syscall(SYS_nanosleep, &ts, NULL);
#endif
	}
}
__attribute__((noinline)) void $LONG(void) { evil(); }
int main(int argc, char **argv)
{
	prctl(PR_SET_NAME, argv[1]);
	printf("ready\n");
	fflush(stdout);
	while (access(argv[2], F_OK))
		poll(NULL, 0, 10);
	$LONG();
	return 0;
}
EOF2
EVIL=$(printf 'ev;il\n\033[2Jx')
ok "build a program with a hostile symbol name" \
	sh -c 'cc -O0 -fno-omit-frame-pointer -o "$1.o" "$2" && objcopy --redefine-sym "evil=$3" "$1.o" "$1"' _ "$TMP/evil" "$TMP/evil.c" "$EVIL"

# escape.h's rule, for the expected forms
esc() { python3 -c '
import sys
b = sys.stdin.buffer.read()
out, i = [], 0
while i < len(b):
    c = b[i]
    if c == 0x5c: out.append("\\\\"); i += 1; continue
    if 0x20 <= c < 0x7f and c != 0x3b: out.append(chr(c)); i += 1; continue
    if c >= 0x80:
        for n in (4, 3, 2):
            try:
                s = b[i:i+n].decode("utf-8")
                if len(s) == 1 and not (0x80 <= ord(s) < 0xa0): out.append(s); i += n; break
            except UnicodeDecodeError: pass
        else: out.append("\\x%02x" % c); i += 1
        continue
    out.append("\\x%02x" % c); i += 1
sys.stdout.write("".join(out))'; }

run_once() {	# $1: output file, $2...: probe options
	local out=$1 go=$TMP/go.$RANDOM h p
	shift
	"${BIN:-$TMP/evil}" "$(printf 'a;b\n\033[31m')" "$go" > "$go.out" &
	h=$!
	wait_for "$go.out" ready 5
	cat /proc/$h/comm > "$TMP/comm.raw"
	"${PROBE[@]}" offcpu --pid "$h" "$@" --duration 3 > "$out" 2> "$go.err" &
	p=$!
	wait_for "$go.err" tracing 10
	touch "$go"
	wait $h
	wait $p
}

run_once "$TMP/folded.txt" --folded
want_comm=$(head -c -1 "$TMP/comm.raw" | esc)
want_evil=$(nm "$TMP/evil" | grep -a -A1 ' T ev;' | head -c -1 | sed -z 's/^[0-9a-f]* T //' | esc)
diag "comm from /proc: $(od -An -c "$TMP/comm.raw" | tr -s ' ')"
diag "expected: comm '$want_comm', symbol '$want_evil'"
ok "no raw ESC byte in the folded output" sh -c '! grep -q "$(printf "\033")" "$1"' _ "$TMP/folded.txt"
bad=$(grep -cvE '^[^;]+(;[^;]+)* [0-9]+$' "$TMP/folded.txt")
is "$bad" 0 "every folded line is 'frame;...;frame N' ($(wc -l < "$TMP/folded.txt") lines)"
line=$(grep -aF -- "$want_evil" "$TMP/folded.txt" | head -1)
like "$line" "^$(printf '%s' "$want_comm" | sed 's/[][\\.*^$]/\\&/g');" "the comm opens the line, escaped: '$want_comm'"
ok "the symbol is one escaped frame: '$want_evil'" grep -qaF -- ";$want_evil;" <<<"$line"
ok "the $((${#LONG})) character name is whole (nm: $(nm "$TMP/evil" | grep -c "$LONG") symbol)" grep -qF -- ";$LONG;" <<<"$line"

run_once "$TMP/report.json" --json
S=$(jq -c --arg e "$want_evil" '[.stacks[] | select(any(.user[]; . == $e))] | first' "$TMP/report.json" 2>/dev/null)
is "$(jq -r .comm <<<"${S:-null}" 2>/dev/null)" "$(head -c -1 "$TMP/comm.raw")" "--json keeps the comm exact (JSON escapes it)"
like "$(jq -r '.user | join(" ")' <<<"${S:-null}" 2>/dev/null)" "$LONG" "--json: the long name whole, next to the escaped one"

# stripped, with its debug file beside it (objcopy, as distributions do)
( cd "$TMP" && objcopy --only-keep-debug evil evil.debug && objcopy --strip-all evil evil-stripped &&
	objcopy --add-gnu-debuglink=evil.debug evil-stripped )
is "$(nm "$TMP/evil-stripped" 2>/dev/null | wc -l)" 0 "the stripped program has no symbol table (nm)"
BIN=$TMP/evil-stripped run_once "$TMP/stripped.json" --json
S=$(jq -c --arg e "$want_evil" '[.stacks[] | select(any(.user[]; . == $e))] | first' "$TMP/stripped.json" 2>/dev/null)
diag "stripped: $(jq -c '.user' <<<"${S:-null}" 2>/dev/null | cut -c1-200)"
like "$(jq -r '.user | join(" ")' <<<"${S:-null}" 2>/dev/null)" "$LONG" "its functions are named from the .gnu_debuglink file"
like "$(jq -r '.user | join(" ")' <<<"${S:-null}" 2>/dev/null)" "(^| )main( |$)" "main too"
done_testing
