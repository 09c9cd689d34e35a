/* apply.h - pieces of apply that rollback reuses. */
#ifndef QPS_APPLY_H
#define QPS_APPLY_H
#include <stdbool.h>
#include <stddef.h>

#include "journal.h"

/* Writes one journalled value (@val NULL removes a file). Returns 0 or
 * -errno with a message naming the object in @err. */
int apply_write(enum jkind kind, const char *key, const char *val, char *err, size_t err_size);
/* Takes the exclusive lock on the state directory (creating it if @create).
 * Returns the fd to close to unlock, or -errno (-EBUSY: another run) with @err set. */
int state_lock(const char *dir, bool create, char *err, size_t err_size);
#endif
