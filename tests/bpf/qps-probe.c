/* qps-probe.c - test driver: `qps-probe NAME [ARGS]` == `qps-tune probe NAME [ARGS]`,
 * so the BPF suites run even while the rest of qps-tune does not build. */
#include <stdio.h>

#include "../../probes/probe.h"

int main(int argc, char **argv)
{
	argv[0] = "probe";
	return do_probe(argc, argv);
}
