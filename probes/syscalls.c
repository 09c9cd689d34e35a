/* syscalls.c - syscall name table (see syscalls.h). */
#include "syscalls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {
#include "syscall_names.h"
};

#define NNAMES ((int)(sizeof(names) / sizeof(names[0])))

const char *syscall_name(int nr)
{
	if (nr < 0 || nr >= NNAMES)
		return NULL;
	return names[nr];
}

int syscall_nr(const char *name)
{
	char *end;
	long v;
	int i;

	for (i = 0; i < NNAMES; i++)
		if (names[i] && strcmp(names[i], name) == 0)
			return i;
	if (*name >= '0' && *name <= '9') {
		v = strtol(name, &end, 10);
		if (!*end && v < 4096)
			return (int)v;
	}
	return -ENOENT;
}

int syscall_count(void)
{
	return NNAMES;
}
