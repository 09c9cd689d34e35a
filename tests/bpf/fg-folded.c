/* fg-folded.c - test driver: folded stacks on stdin -> probes/flamegraph.c's
 * SVG at argv[1] (title argv[2]). Exit 0, or 1 with a message. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../probes/flamegraph.h"

int main(int argc, char **argv)
{
	int err;

	if (argc != 3) {
		fprintf(stderr, "usage: fg-folded OUT.svg TITLE < folded\n");
		return 2;
	}
	err = flamegraph_from_folded(stdin, argv[1], argv[2], "samples");
	if (err) {
		fprintf(stderr, "fg-folded: cannot write '%s': %s\n", argv[1], strerror(-err));
		return 1;
	}
	return 0;
}
