/* route.h - the routes: one table row per path, a handler per row.
 *
 * Adding a route is one row in route_table (route.c), its handler, and its
 * test. conn.c parses, frames and writes; it asks route_plan() what to
 * answer once a request head is in, and the row's handler to produce the
 * answer through the reply_*() functions below (implemented in conn.c,
 * which owns the connection and the write path).
 */
#ifndef QPS_ROUTE_H
#define QPS_ROUTE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "http.h"

/* response plan flags */
#define PF_HEAD		0x01	/* HEAD: no body */
#define PF_CLOSE	0x02	/* last response on this connection */
#define PF_KA10		0x04	/* HTTP/1.0 keep-alive: say so */

/* What to answer once the request (with its body) is in. */
struct plan {
	uint32_t param;		/* route parameter; RT_COSTLY rows: worker time, µs */
	uint8_t route;		/* row in route_table */
	uint8_t st;		/* enum status_idx */
	uint8_t flags;		/* PF_* */
	uint8_t ctype;		/* static file content type index */
};

/* A request being answered on one connection (conn.c). */
struct reply;

/* route flags */
#define RT_PREFIX	0x01	/* @path is a prefix ("/static/"), longer paths match */
#define RT_DEMO		0x02	/* only with --demo */
#define RT_COSTLY	0x04	/* holds the worker for plan.param µs: budgeted per
				 * connection, one at a time (conn.c) */

struct route {
	const char *method;	/* "GET" also allows HEAD */
	const char *path;
	uint8_t path_len;
	uint8_t flags;		/* RT_* */
	const char *name;	/* the route="" label in /metrics */
	/* a fixed answer (preformatted once per second by conn.c): */
	const char *ctype, *body;
	uint16_t body_len;
	/* optional, at head time: parse parameters, open files; may set
	 * plan.st to an error status */
	void (*prepare)(struct reply *r, struct plan *pl, const char *target, size_t len);
	/* produce the 200 answer; 0 to go on, -1 to stop (as reply_body) */
	int (*respond)(struct reply *r, struct plan *pl);
};

/* The rows; the last one, ROUTE_OTHER, matches nothing and counts what no
 * row took (404s, 400s). route_count includes it. */
extern const struct route route_table[];
extern const unsigned route_count;
#define ROUTE_OTHER ((uint8_t)(route_count - 1))

/* Decides the answer to a parsed head: sets pl->route and pl->st (200 or an
 * error) and runs the row's prepare(). pl->flags must already hold the
 * connection flags (PF_*). */
void route_plan(struct reply *r, const struct http_request *req, struct plan *pl);

/* --- the write path, for handlers (conn.c). Each returns 0 to go on with
 * the next request, -1 to stop producing (pending output, or closed). */

/* A response with the status in @pl and an in-memory body. */
int reply_body(struct reply *r, const struct plan *pl, const char *ctype,
	       const char *body, size_t len);
/* An error response for status @st (its reason phrase as the body). */
int reply_error(struct reply *r, struct plan *pl, int st);
/* The file given to reply_set_file(), headers then sendfile. */
int reply_file(struct reply *r, const struct plan *pl, const char *ctype);
/* prepare(): the file to send (takes ownership of @fd). */
void reply_set_file(struct reply *r, int fd, uint64_t size);
/* A per-worker scratch buffer for a body; *@cap gets its size. */
char *reply_scratch(struct reply *r, size_t *cap);
const struct server_config *reply_config(const struct reply *r);

#endif
