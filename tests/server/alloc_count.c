/* alloc_count.c - LD_PRELOAD shim for alloc.t: counts malloc, calloc,
 * realloc and free calls of the whole process and writes the total to
 * $QPS_ALLOC_OUT when the process exits. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static atomic_ulong calls;

void *malloc(size_t n)
{
	atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
	return __libc_realloc(p, n);
}

void free(void *p)
{
	if (p)
		atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
	__libc_free(p);
}

__attribute__((destructor)) static void report(void)
{
	const char *out = getenv("QPS_ALLOC_OUT");
	FILE *f;

	if (!out || !(f = fopen(out, "w")))
		return;
	fprintf(f, "%lu\n", (unsigned long)atomic_load(&calls));
	fclose(f);
}
