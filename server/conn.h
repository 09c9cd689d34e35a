/* conn.h - workers and their connections.
 *
 * A worker is one thread with its own epoll instance and its own
 * SO_REUSEPORT listener; it accepts, reads, parses, answers and times out
 * its connections without sharing anything with other workers but the
 * connection table (indexed by fd; each slot belongs to the worker that
 * accepted the fd) and the open-connection count for --max-conns.
 */
#ifndef QPS_CONN_H
#define QPS_CONN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

struct server_config {
	unsigned max_conns;		/* open connections, all workers; 0 = no limit */
	unsigned header_timeout_ms;	/* first byte of a request .. its end (head+body) */
	unsigned idle_timeout_ms;	/* keep-alive wait between requests */
	unsigned write_timeout_ms;	/* without write progress */
	unsigned drain_timeout_ms;	/* SIGTERM: in-flight requests get this long */
	unsigned linger_ms;		/* after an error: read-and-discard before close */
	size_t max_header_bytes;	/* request head limit = read buffer size */
	uint64_t max_body_bytes;	/* request body limit (413) */
	int root_fd;			/* --root directory, O_PATH; -1 = no /static */
	bool demo;			/* /delay and /cpu */
	bool nodelay;			/* TCP_NODELAY on accepted sockets */
	bool defer_accept;		/* listener has TCP_DEFER_ACCEPT: read right after accept */
	int batch;			/* epoll_wait events per call */
};

struct worker;

/* Prepares the fd-indexed connection table for fds below @max_fds (lazily
 * backed memory). Call once before worker_new(). 0 or -errno. */
int conn_table_init(size_t max_fds);

/* Worker @id serving @listen_fd (takes ownership; non-blocking, listening).
 * @cfg must outlive the worker. Returns NULL and sets errno on failure. */
struct worker *worker_new(const struct server_config *cfg, int id, int listen_fd);
void worker_free(struct worker *w);	/* NULL is a no-op */
/* The event loop; returns 0 once a stop request was drained (or the drain
 * timeout passed), -errno if epoll itself failed. */
int worker_run(struct worker *w);
/* Asks the worker to drain and stop. Async-signal-safe, any thread. */
void worker_stop(struct worker *w);
/* counters of this worker (also read by /metrics of every worker) */
struct metrics *worker_metrics(struct worker *w);
/* Renders every worker's counters as Prometheus text (metrics_render, with
 * the route table's labels). Returns the length or -ENOSPC. */
int workers_metrics_render(char *buf, size_t cap);
/* connections open now, all workers */
unsigned conn_open_count(void);

#endif
