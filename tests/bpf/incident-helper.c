/* incident-helper.c - provokes what the newer probes (oncpu, tcpdrop, runqlat,
 * leaks) exist to see, for tests/bpf. Built with frame pointers, no inlining.
 *
 *   incident-helper spin SECS [GOFILE]       spins in oncpu_test_spin() for SECS
 *                                             (wall clock) after GOFILE exists;
 *                                             prints "cpu_ns N" (its own CPU time) and
 *                                             "run_delay_ns N" (its run-queue wait per
 *                                             /proc/thread-self/schedstat) over the spin
 *   incident-helper sink ADDR PORT SECS       accepts one TCP connection and reads
 *                                             until EOF or SECS; prints "bytes N"
 *   incident-helper bulk ADDR PORT SECS       connects and writes for SECS; prints
 *                                             "bytes N"
 *   incident-helper leaky PORT N SECS         accepts N connections on 127.0.0.1,
 *                                             closes the even-numbered ones and never
 *                                             the odd ones; stays SECS
 *   incident-helper clients PORT N MS         N connections to 127.0.0.1:PORT, one every
 *                                             MS ms, each closed at once (a server that
 *                                             does not close gets CLOSE_WAIT)
 *   incident-helper overflow PORT N SECS      a TCP_DEFER_ACCEPT listener (backlog 64) on
 *                                             127.0.0.1 and N clients that connect; then
 *                                             the backlog shrinks to 2 (listen again) and
 *                                             each client sends a byte: the children
 *                                             overflow the accept queue on the ACK path
 *                                             only (no SYN arrives while it is full)
 * Prints "ready PID" on stdout (flushed) once set up.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void ready(void)
{
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void wait_go(const char *go)
{
	for (int i = 0; go && i < 2000 && access(go, F_OK) != 0; i++)
		poll(NULL, 0, 10);
}

static volatile unsigned long sink_var;

/* the function the oncpu test looks for: nearly all of the time is spent in
 * this loop; the clock is read once per ~million iterations */
__attribute__((noinline)) void oncpu_test_spin(double until)
{
	unsigned long x = 1;

	do {
		for (int i = 0; i < 1000000; i++)
			x = x * 6364136223846793005ul + 1442695040888963407ul;
		sink_var = x;
	} while (now() < until);
}

/* the kernel's own run-queue wait of this thread (sched_info run_delay, ns) */
static long long run_delay(void)
{
	long long cpu = 0, delay = -1;
	FILE *f = fopen("/proc/thread-self/schedstat", "r");

	if (f && fscanf(f, "%lld %lld", &cpu, &delay) != 2)
		delay = -1;
	if (f)
		fclose(f);
	return delay;
}

static int do_spin(double secs, const char *go)
{
	struct timespec c0, c1;
	long long d0, d1;

	ready();
	wait_go(go);
	d0 = run_delay();
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	oncpu_test_spin(now() + secs);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	d1 = run_delay();
	/* run_delay_total_ns: since the thread started, so a test can take the
	 * delta over its own window (the wait for @go included) */
	printf("cpu_ns %lld\nrun_delay_ns %lld\nrun_delay_total_ns %lld\n",
	       (long long)(c1.tv_sec - c0.tv_sec) * 1000000000ll + (c1.tv_nsec - c0.tv_nsec), d1 - d0, d1);
	return 0;
}

static int addr_of(const char *host, int port, struct sockaddr_in *a)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static int do_sink(const char *host, int port, double secs)
{
	struct sockaddr_in a;
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0), c;
	double end = now() + secs;
	long long total = 0;
	char buf[65536];

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr_of(host, port, &a) || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 8)) {
		perror("incident-helper: sink");
		return 1;
	}
	ready();
	struct pollfd p = { .fd = l, .events = POLLIN };

	if (poll(&p, 1, (int)(secs * 1000)) <= 0)
		return 1;
	c = accept(l, NULL, NULL);
	if (c < 0)
		return 1;
	p.fd = c;
	while (now() < end) {
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = read(c, buf, sizeof(buf));

		if (n <= 0)
			break;
		total += n;
	}
	printf("bytes %lld\n", total);
	close(c);
	close(l);
	return 0;
}

static int do_bulk(const char *host, int port, double secs)
{
	static char buf[65536];
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	double end = now() + secs;
	long long total = 0;

	if (addr_of(host, port, &a) || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("incident-helper: bulk");
		return 1;
	}
	ready();
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	while (now() < end) {
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = send(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno != EAGAIN)
			break;
		if (n > 0)
			total += n;
	}
	printf("bytes %lld\n", total);
	close(fd);
	return 0;
}

static int do_leaky(int port, int n, double secs)
{
	struct sockaddr_in a;
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);
	double end = now() + secs;

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr_of("127.0.0.1", port, &a) || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 128)) {
		perror("incident-helper: leaky");
		return 1;
	}
	ready();
	struct pollfd p = { .fd = l, .events = POLLIN };

	for (int i = 0; i < n && now() < end;) {
		if (poll(&p, 1, 100) <= 0)
			continue;
		int c = accept(l, NULL, NULL);

		if (c < 0)
			continue;
		/* the bug: odd connections are never closed (CLOSE_WAIT once
		 * the client closes) */
		if (i % 2 == 0)
			close(c);
		i++;
	}
	while (now() < end)
		poll(NULL, 0, 100);
	return 0;
}

static int do_clients(int port, int n, int ms)
{
	struct sockaddr_in a;
	int ok = 0;

	if (addr_of("127.0.0.1", port, &a))
		return 1;
	ready();
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			ok++;
		if (fd >= 0)
			close(fd);
		poll(NULL, 0, ms);
	}
	printf("connected %d\n", ok);
	return 0;
}

static int do_overflow(int port, int n, double secs)
{
	struct sockaddr_in a;
	int one = 1, defer = 30, l = socket(AF_INET, SOCK_STREAM, 0);
	int *fds = calloc(n, sizeof(int));
	double end = now() + secs;

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer));
	if (!fds || addr_of("127.0.0.1", port, &a) || bind(l, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(l, 64)) {
		perror("incident-helper: overflow");
		return 1;
	}
	ready();
	for (int i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] >= 0 && connect(fds[i], (struct sockaddr *)&a, sizeof(a)))
			perror("incident-helper: overflow connect");
	}
	/* the requests wait in the SYN queue (deferred); now shrink the
	 * accept queue, then make the children */
	poll(NULL, 0, 100);
	if (listen(l, 2))
		return 1;
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0 && write(fds[i], "x", 1) != 1)
			perror("incident-helper: overflow write");
	while (now() < end)
		poll(NULL, 0, 100);
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	close(l);
	free(fds);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "spin"))
		return do_spin(atof(argv[2]), argc == 4 ? argv[3] : NULL);
	if (argc == 5 && !strcmp(argv[1], "sink"))
		return do_sink(argv[2], atoi(argv[3]), atof(argv[4]));
	if (argc == 5 && !strcmp(argv[1], "bulk"))
		return do_bulk(argv[2], atoi(argv[3]), atof(argv[4]));
	if (argc == 5 && !strcmp(argv[1], "leaky"))
		return do_leaky(atoi(argv[2]), atoi(argv[3]), atof(argv[4]));
	if (argc == 5 && !strcmp(argv[1], "clients"))
		return do_clients(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	if (argc == 5 && !strcmp(argv[1], "overflow"))
		return do_overflow(atoi(argv[2]), atoi(argv[3]), atof(argv[4]));
	fprintf(stderr, "usage: incident-helper overflow PORT N SECS | spin SECS [GOFILE] | sink ADDR PORT SECS | bulk ADDR PORT SECS | leaky PORT N SECS | clients PORT N MS\n");
	return 2;
}
