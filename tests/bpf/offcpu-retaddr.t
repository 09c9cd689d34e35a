#!/usr/bin/env bash
# offcpu-retaddr: a user frame is named by the call, not by the return address.
# A frame's return address points after its call instruction; when that call is
# the last instruction of a function (a call to a noreturn function), it is the
# first byte of the next function, so the symbolizer must look up addr-1.
# rt_block_last() ends with `call rt_read_loop` and rt_after() starts right
# after it (checked with nm: the test is void otherwise); rt_read_loop() blocks
# in read(2) (an inline syscall, so no libc frame without a frame pointer sits
# between). The off-CPU stack must name rt_block_last, never rt_after.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 4
need_bpf

cat > "$TMP/rt.c" <<'EOF'
#include <unistd.h>
__attribute__((noinline, noreturn)) void rt_read_loop(int fd)
{
	char c;
	long r;

	for (;;) {
		__asm__ volatile("syscall" : "=a"(r) : "0"(0L), "D"((long)fd), "S"(&c), "d"(1L)
				 : "rcx", "r11", "memory");
		if (r <= 0)
			_exit(0);
	}
}
__attribute__((noinline)) void rt_block_last(int fd) { rt_read_loop(fd); }
__attribute__((noinline)) int rt_after(int x) { return x * 3 + 1; }
int main(void)
{
	rt_block_last(0);
	return rt_after(1);
}
EOF
# gcc: -fno-toplevel-reorder keeps the functions in source order (clang has no
# such flag and pads after a noreturn call)
"$(command -v gcc || echo "${CC:-cc}")" -O2 -g -fno-omit-frame-pointer -falign-functions=1 -fno-reorder-functions -fno-toplevel-reorder \
	-fno-inline -o "$TMP/rt" "$TMP/rt.c" 2> "$TMP/cc.err" || { echo "Bail out! cannot build the test program: $(head -3 "$TMP/cc.err")"; exit 1; }

# the premise, from the symbol table: rt_block_last ends where rt_after starts
# and its last instruction is a call (so its return address is rt_after's start)
bl=$(nm -S "$TMP/rt" | awk '$4 == "rt_block_last" { print $1, $2 }')
af=$(nm "$TMP/rt" | awk '$3 == "rt_after" { print $1 }')
end=$(printf '%x' $((0x${bl% *} + 0x${bl#* })))
last=$(objdump -d --no-show-raw-insn "$TMP/rt" | awk '/<rt_block_last>:/ { f = 1; next } f && /^$/ { exit } f { l = $0 } END { print l }')
like "$((0x$end == 0x${af:-0})) $last" '^1 .*call' "nm: rt_block_last ends with a call at rt_after's first byte"

# a byte every 100 ms for 2.5 s: the reads block, each wake-up is an off-CPU period
(for i in $(seq 25); do sleep 0.1; printf x; done) | "$TMP/rt" &
rpid=$!
for i in $(seq 50); do [ "$(cat /proc/$rpid/comm 2>/dev/null)" = rt ] && break; sleep 0.02; done
"${PROBE[@]}" offcpu --pid "$rpid" --json --duration 1.5 > "$TMP/r.json" 2> "$TMP/r.err"
is "$?" 0 "probe offcpu exits 0" || diag "$(cat "$TMP/r.err")"
wait
S=$(jq -c '[.stacks[] | select(any(.user[]; . == "rt_read_loop"))] | max_by(.total_us) | .user' "$TMP/r.json" 2>/dev/null)
diag "user frames: $S"
like "$S" '"rt_read_loop","rt_block_last","main"' "the caller of the blocking function is named rt_block_last (looked up at addr-1)"
ok "no frame named rt_after (the return address itself)" bash -c "! grep -q rt_after <<<'$S'"
done_testing
