/* pool.h - per-worker free list of fixed-size buffers (the C face of Go's
 * sync.Pool): a connection takes a buffer while it has a request in progress
 * and gives it back when it goes idle, so an idle keep-alive connection holds
 * no buffer and the hot path never calls malloc/free in steady state.
 * Not thread-safe: one pool per worker thread.
 */
#ifndef QPS_POOL_H
#define QPS_POOL_H
#include <stddef.h>

struct pool;

/* Buffers of @size bytes; keeps at most @keep free ones (the rest go back to
 * malloc). Returns NULL and sets errno on failure. */
struct pool *pool_new(size_t size, size_t keep);
void pool_free(struct pool *p);		/* NULL is a no-op; frees kept buffers */
/* Returns a buffer of pool_size() bytes, or NULL (errno ENOMEM). */
void *pool_get(struct pool *p);
/* Gives @buf (from pool_get of the same pool) back; NULL is a no-op. */
void pool_put(struct pool *p, void *buf);
size_t pool_size(const struct pool *p);
/* buffers currently handed out, and kept free */
size_t pool_in_use(const struct pool *p);
size_t pool_kept(const struct pool *p);
#endif
