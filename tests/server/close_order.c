/* close_order.c - LD_PRELOAD shim for closeorder.t: watches accept4() and
 * close() of the whole process and writes, when it exits, to
 * $QPS_CLOSE_ORDER_OUT: "<accepts> <closes of accepted fds> <max>", where
 * <max> is the largest number of accepted connections still open at the
 * moment another one was accepted. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#define MAX_FD 65536

static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_close)(int);
static atomic_uchar accepted[MAX_FD];
static atomic_long nopen, naccept, nclose, maxopen;

int accept4(int fd, struct sockaddr *a, socklen_t *l, int flags)
{
	long open, m;
	int c;

	if (!real_accept4)
		real_accept4 = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
	c = real_accept4(fd, a, l, flags);
	if (c < 0 || c >= MAX_FD)
		return c;
	open = atomic_fetch_add(&nopen, 1);	/* open before this one */
	m = atomic_load(&maxopen);
	while (open > m && !atomic_compare_exchange_weak(&maxopen, &m, open))
		;
	atomic_store(&accepted[c], 1);
	atomic_fetch_add(&naccept, 1);
	return c;
}

int close(int fd)
{
	if (!real_close)
		real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
	if (fd >= 0 && fd < MAX_FD && atomic_exchange(&accepted[fd], 0)) {
		atomic_fetch_sub(&nopen, 1);
		atomic_fetch_add(&nclose, 1);
	}
	return real_close(fd);
}

__attribute__((destructor)) static void report(void)
{
	const char *path = getenv("QPS_CLOSE_ORDER_OUT");
	FILE *f;

	if (!path || !(f = fopen(path, "w")))
		return;
	fprintf(f, "%ld %ld %ld\n", atomic_load(&naccept), atomic_load(&nclose), atomic_load(&maxopen));
	fclose(f);
}
