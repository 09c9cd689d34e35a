/* pool.c - free list of fixed-size buffers; the list links through the
 * first word of each free buffer, so the pool itself needs no storage. */
#include "pool.h"

#include <errno.h>
#include <stdlib.h>

struct pool {
	void *free;		/* singly linked through the buffers */
	size_t size;		/* bytes per buffer */
	size_t keep;		/* free buffers kept at most */
	size_t nfree;
	size_t in_use;
};

struct pool *pool_new(size_t size, size_t keep)
{
	struct pool *p;

	if (size < sizeof(void *)) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->size = size;
	p->keep = keep;
	return p;
}

void pool_free(struct pool *p)
{
	void *b;

	if (!p)
		return;
	while ((b = p->free)) {
		p->free = *(void **)b;
		free(b);
	}
	free(p);
}

void *pool_get(struct pool *p)
{
	void *b = p->free;

	if (b) {
		p->free = *(void **)b;
		p->nfree--;
	} else {
		b = malloc(p->size);
		if (!b)
			return NULL;
	}
	p->in_use++;
	return b;
}

void pool_put(struct pool *p, void *b)
{
	if (!b)
		return;
	p->in_use--;
	if (p->nfree >= p->keep) {
		free(b);
		return;
	}
	*(void **)b = p->free;
	p->free = b;
	p->nfree++;
}

size_t pool_size(const struct pool *p) { return p->size; }
size_t pool_in_use(const struct pool *p) { return p->in_use; }
size_t pool_kept(const struct pool *p) { return p->nfree; }
