/* ev.c - epoll behind ev.h */
#include "ev.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

struct ev_loop {
	int epfd;
	int batch;			/* capacity of @ready */
	struct epoll_event ready[];
};

struct ev_loop *ev_loop_new(int batch)
{
	struct ev_loop *l;

	if (batch < 1)
		batch = 1;
	l = calloc(1, sizeof(*l) + (size_t)batch * sizeof(struct epoll_event));
	if (!l)
		return NULL;
	l->batch = batch;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int err = errno;

		free(l);
		errno = err;
		return NULL;
	}
	return l;
}

void ev_loop_free(struct ev_loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l);
}

static int ctl(struct ev_loop *l, int op, int fd, uint32_t events, uint64_t key)
{
	struct epoll_event ee = { .events = events, .data.u64 = key };

	return epoll_ctl(l->epfd, op, fd, &ee) ? -errno : 0;
}

int ev_add(struct ev_loop *l, int fd, uint32_t events, uint64_t key)
{
	return ctl(l, EPOLL_CTL_ADD, fd, events, key);
}

int ev_mod(struct ev_loop *l, int fd, uint32_t events, uint64_t key)
{
	return ctl(l, EPOLL_CTL_MOD, fd, events, key);
}

int ev_del(struct ev_loop *l, int fd)
{
	return ctl(l, EPOLL_CTL_DEL, fd, 0, 0);
}

int ev_wait(struct ev_loop *l, int timeout_ms)
{
	int n = epoll_wait(l->epfd, l->ready, l->batch, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return n;
}

uint64_t ev_key(const struct ev_loop *l, int i) { return l->ready[i].data.u64; }
uint32_t ev_mask(const struct ev_loop *l, int i) { return l->ready[i].events; }
