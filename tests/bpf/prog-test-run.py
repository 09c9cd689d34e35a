#!/usr/bin/env python3
"""prog-test-run.py ID:ARG,ARG,... [...] - runs BPF programs (tp_btf/raw_tp)
once each, in order, with BPF_PROG_TEST_RUN and the given tracepoint
arguments (integers, 0x.. allowed): a nested call the kernel skips cannot
be made on demand, so the tests hand a backup program the calls its primary
"missed". Prints "ran N" once all ran."""
import ctypes, os, struct, sys

libc = ctypes.CDLL(None, use_errno=True)


def bpf(cmd, attr):  # bpf(2), x86-64
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(321, cmd, buf, 128)
    if r < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return r


def run(prog_id, args):
    fd = bpf(13, struct.pack("=III", prog_id, 0, 0))  # BPF_PROG_GET_FD_BY_ID
    ctx = ctypes.create_string_buffer(struct.pack("=%dq" % len(args), *args), 8 * len(args))
    # BPF_PROG_TEST_RUN: prog_fd, retval, data sizes/pointers, repeat,
    # duration, ctx_size_in, ctx_size_out, ctx_in, ctx_out, flags, cpu
    bpf(10, struct.pack("=IIIIQQIIIIQQII", fd, 0, 0, 0, 0, 0, 0, 0, 8 * len(args), 0,
                        ctypes.addressof(ctx), 0, 0, 0))
    os.close(fd)


n = 0
for spec in sys.argv[1:]:
    pid, _, a = spec.partition(":")
    run(int(pid), [int(x, 0) for x in a.split(",") if x])
    n += 1
print("ran", n)
