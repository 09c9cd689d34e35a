/* report.h - the list of audit check results and its three renderings:
 * a table (colour only on a tty), JSON (schema qps-tune.audit/1) and the
 * node_exporter textfile format. */
#ifndef QPS_REPORT_H
#define QPS_REPORT_H
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

enum chk_status { CHK_PASS, CHK_FAIL, CHK_SKIP, CHK_INFO };

struct check {
	char id[16];		/* "LQ-001" */
	const char *severity;	/* crit|high|med|low|info (static string) */
	enum chk_status status;
	char key[128];		/* sysctl key or object: "listener 0.0.0.0:80", "pid 12 nofile" */
	char current[512];
	char target[512];
	const char *scope;	/* netns|global|host|process|listener|device|system|cgroup|file */
	char reason[512];	/* one line: why it matters */
	char evidence[4 * PATH_MAX];	/* what was read, with its source */
	char fix[2 * PATH_MAX];		/* what to run or change */
};

struct report {
	struct check *v;
	int n, cap;
	/* context printed in the header / JSON "host" */
	char profile[64];
	long conns;
	char kernel[64];
	unsigned long long netns;
	bool initial_netns;
	char target[96];	/* "pid 123 (nginx)", "port 8080" or "" */
	double duration;	/* seconds the audit took */
	int sample;		/* --sample seconds, 0 = none */
	/* counters since boot of the audited netns (audit --prom exports them) */
#define REPORT_MAX_COUNTERS 8
	struct {
		const char *name;	/* "listen_overflows": qps_tune_<name>_total */
		const char *help;
		unsigned long long v;
	} counters[REPORT_MAX_COUNTERS];
	int ncounters;
#define REPORT_MAX_DISABLED 64
	char disabled[REPORT_MAX_DISABLED][16];	/* check ids the profile disabled: not run */
	int ndisabled;
};

/* Appends a zeroed check; NULL on allocation failure (the report keeps what it had). */
struct check *report_add(struct report *r, const char *id, const char *sev,
			 enum chk_status st, const char *key);
void report_release(struct report *r);
/* Removes checks whose id was disabled (by a profile's 'disable'). */
void report_drop_id(struct report *r, const char *id);
int report_count(const struct report *r, enum chk_status st);

void report_table(const struct report *r, FILE *out, bool colour, int verbose);
void report_json(const struct report *r, FILE *out);
/* node_exporter textfile format (promtool check metrics clean): stable
 * series - no pid or instance labels (a pid in a check's key is dropped,
 * repeats are merged), label values escaped to ASCII. */
void report_prom(const struct report *r, FILE *out);
/* Adds a counter for report_prom. */
void report_counter(struct report *r, const char *name, const char *help, unsigned long long v);
const char *chk_status_str(enum chk_status st);

/* printf into a fixed-size member of a check: CSET(c->evidence, "%d", n) */
#define CSET(field, ...) snprintf((field), sizeof(field), __VA_ARGS__)
#endif
