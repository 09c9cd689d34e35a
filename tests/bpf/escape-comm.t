#!/usr/bin/env bash
# escape-comm: a comm is the process's own choice (prctl PR_SET_NAME), so the
# text reports print it escaped (escape.h) wherever it appears: syslat's
# --per-process table and in-flight list, acceptq's OWNER column. A program
# names itself 'a;b\n<ESC>[31m', listens on a loopback port in a scratch
# network namespace, sleeps 20 x 10 ms and then blocks in read(2). The
# expected form is computed here from /proc/PID/comm with escape.h's rule.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 5
need_bpf

cat > "$TMP/evil.c" <<'EOF2'
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(18097) };
	struct timespec ts = { 0, 10000000 };
	int fd = socket(AF_INET, SOCK_STREAM, 0), p[2];
	char c;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4) || pipe(p))
		return 1;
	prctl(PR_SET_NAME, argv[1]);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	while (access(argv[2], F_OK))
		poll(NULL, 0, 10);
	for (int i = 0; i < 20; i++)
		nanosleep(&ts, NULL);
	return read(p[0], &c, 1) < 0;	/* blocks until killed */
}
EOF2
cc -O0 -o "$TMP/evil" "$TMP/evil.c" || skip_rest "no C compiler"
NAME=$(printf 'a;b\n\033[31m')
esc() { python3 -c '
import sys
b = sys.stdin.buffer.read()
out = []
for c in b:
    if c == 0x5c: out.append("\\\\")
    elif 0x20 <= c < 0x7f and c != 0x3b: out.append(chr(c))
    else: out.append("\\x%02x" % c)
sys.stdout.write("".join(out))'; }

unshare -n sh -c 'ip link set lo up; exec "$0" "$1" "$2"' "$TMP/evil" "$NAME" "$TMP/go" > "$TMP/e.out" &
epid=$!
wait_for "$TMP/e.out" ready 5
# the comm as the kernel holds it (15 bytes at most), escaped by escape.h's rule
want=$(head -c -1 "/proc/$epid/comm" | esc)
diag "comm escaped: $want"
"${PROBE[@]}" syslat --pid "$epid" --per-process --duration 2 > "$TMP/sl.txt" 2> "$TMP/sl.err" &
sp=$!
wait_for "$TMP/sl.err" tracing 10
touch "$TMP/go"
wait $sp
nsenter -t "$epid" -n "${PROBE[@]}" acceptq --duration 0.5 > "$TMP/aq.txt" 2> "$TMP/aq.err"
kill $epid; wait $epid 2>/dev/null

is "$(grep -c $'\033' "$TMP/sl.txt")" 0 "syslat's text report holds no raw ESC"
like "$(grep -F -- "$want" "$TMP/sl.txt" | grep -c clock_nanosleep)" '^[1-9]' "--per-process: the comm escaped on the clock_nanosleep row"
like "$(sed -n '/in flight at/,$p' "$TMP/sl.txt" | grep -F -- "$want" | grep -c read)" '^[1-9]' "in flight: the read(2) in progress with the comm escaped"
is "$(grep -c $'\033' "$TMP/aq.txt")" 0 "acceptq's text report holds no raw ESC"
like "$(grep -F -- "$epid/$want" "$TMP/aq.txt")" '127\.0\.0\.1:18097' "acceptq's OWNER column: pid/comm escaped"
done_testing
