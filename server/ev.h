/* ev.h - a narrow interface over one epoll instance (one per worker).
 * Every registration carries a 64-bit key the caller chooses (the server
 * uses the fd); ev_wait() fills an internal array the caller reads with
 * ev_key()/ev_mask() until the next ev_wait(). */
#ifndef QPS_EV_H
#define QPS_EV_H
#include <stdint.h>
#include <sys/epoll.h>

struct ev_loop;

/* Returns NULL and sets errno on failure. @batch: events per ev_wait(). */
struct ev_loop *ev_loop_new(int batch);
void ev_loop_free(struct ev_loop *l);	/* NULL is a no-op; closes the epoll fd */
/* 0 or -errno. @events: EPOLLIN, EPOLLOUT, EPOLLET, ... */
int ev_add(struct ev_loop *l, int fd, uint32_t events, uint64_t key);
int ev_mod(struct ev_loop *l, int fd, uint32_t events, uint64_t key);
int ev_del(struct ev_loop *l, int fd);
/* Waits up to @timeout_ms (-1: forever). Returns the number of ready
 * events (0 on timeout or EINTR) or -errno. */
int ev_wait(struct ev_loop *l, int timeout_ms);
uint64_t ev_key(const struct ev_loop *l, int i);
uint32_t ev_mask(const struct ev_loop *l, int i);
#endif
