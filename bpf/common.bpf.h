/* common.bpf.h - small helpers the BPF programs share (included after vmlinux.h
 * and bpf_helpers.h). */
#ifndef QPS_COMMON_BPF_H
#define QPS_COMMON_BPF_H

/* floor(log2(v)), 0 for v <= 1: the slot of a log2 histogram. */
static __always_inline int log2_u64(__u64 v)
{
	int r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) r += 1;
	return r;
}

/* @comm equals @want, both TASK_COMM_LEN (16) bytes, up to the first NUL. */
static __always_inline bool comm_eq(const char *comm, const volatile char *want)
{
	for (int i = 0; i < 16; i++) {
		if (comm[i] != want[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}
#endif
