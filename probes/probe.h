/* probe.h - `qps-tune probe acceptq|syslat|offcpu`: eBPF probes for incidents. */
#ifndef QPS_PROBE_H
#define QPS_PROBE_H

/* Runs `qps-tune probe NAME [options]`; @argv[0] is "probe", @argv[1] the
 * probe name. Parses its own options (including -j/--json and -v after the
 * command), prints the report on stdout and errors on stderr (with --json also
 * {"error": "..."} on stdout). Returns the process exit code: 0 success,
 * 1 failure, 2 usage error. Never exits and never returns -errno. */
int do_probe(int argc, char **argv);

/* Global flags given before the command (`qps-tune -j -v probe ...`); the
 * command table may set these before calling do_probe(). Default false. */
void probe_set_global_flags(int json, int verbose);

#endif
