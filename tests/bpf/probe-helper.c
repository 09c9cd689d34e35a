/* probe-helper.c - provokes what the probes exist to see, for tests/bpf.
 *
 *   probe-helper listen PORT BACKLOG SECS [defer]  listener on 127.0.0.1 that never
 *                                           accepts (defer: TCP_DEFER_ACCEPT)
 *   probe-helper reuseport PORT BACKLOG SECS  two SO_REUSEPORT listeners on 127.0.0.1
 *                                           that each accept (and close) one connection
 *                                           every 20 ms
 *   probe-helper connect PORT N SECS [send] N non-blocking connects, held SECS, then
 *                                           closed (send: one byte each after 0.2 s)
 *   probe-helper sleep N USEC [GOFILE]      N x clock_nanosleep(USEC), after GOFILE exists;
 *                                           then prints how many took over 100 ms
 *   probe-helper pipeblock N MSEC [GOFILE]  a thread blocks N times in read(2) on a
 *                                           pipe that the main thread feeds every MSEC
 *   probe-helper syscalls N                 N x getppid(2), best ns/call of 5 batches
 *   probe-helper pingpong N                 N pipe round trips between two threads,
 *                                           best process CPU ns per round trip
 *   probe-helper spawn N [nap]              N children (this binary, "exit"), one at
 *                                           a time: a fork storm of short-lived processes
 *                                           (nap: each sleeps 2 ms before it exits)
 *   probe-helper exit [nap]                 exits 0 at once (the storm's child)
 *   probe-helper failopen N [GOFILE]        N x open(2) of a missing file (ENOENT) and
 *                                           N x close(-1) (EBADF), after GOFILE exists
 * Prints "ready" on stdout (flushed) once set up.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void wait_go(const char *go);

static void ready(void)
{
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int do_listen(int port, int backlog, int secs, bool defer)
{
	struct sockaddr_in a = loopback(port);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0), dsecs = 30;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* children are created when data arrives, not at the handshake's ACK:
	 * with a full queue that segment overflows on the "ACK path" */
	if (defer)
		setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &dsecs, sizeof(dsecs));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, backlog)) {
		perror("probe-helper: listen");
		return 1;
	}
	ready();
	sleep_us(secs * 1000000L);
	close(fd);
	return 0;
}

static int do_reuseport(int port, int backlog, int secs)
{
	struct sockaddr_in a = loopback(port);
	struct pollfd p[2];
	struct timespec t0, t;
	int one = 1, i;

	for (i = 0; i < 2; i++) {
		p[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		p[i].events = POLLIN;
		if (p[i].fd < 0 || setsockopt(p[i].fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
		    bind(p[i].fd, (struct sockaddr *)&a, sizeof(a)) || listen(p[i].fd, backlog)) {
			perror("probe-helper: reuseport listen");
			return 1;
		}
	}
	ready();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		/* slow accepts: the queues drain a little, so SYNs get through (some
		 * as syncookies) and their ACKs find the accept queue full again */
		if (poll(p, 2, 20) > 0)
			for (i = 0; i < 2; i++) {
				int c = (p[i].revents & POLLIN) ? accept(p[i].fd, NULL, NULL) : -1;

				if (c >= 0)
					close(c);
			}
		sleep_us(20000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < secs);
	close(p[0].fd);
	close(p[1].fd);
	return 0;
}

static int do_connect(int port, int n, int secs, bool send)
{
	struct sockaddr_in a = loopback(port);
	int *fds = calloc(n, sizeof(int)), i, ok = 0;

	for (i = 0; i < n && fds; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fds[i] >= 0 && (connect(fds[i], (struct sockaddr *)&a, sizeof(a)) == 0 ||
				    errno == EINPROGRESS))
			ok++;
	}
	printf("connects %d\n", ok);
	ready();
	if (send) {
		/* handshakes done (loopback); then one byte on each */
		sleep_us(200000);
		for (i = 0; i < n && fds; i++)
			if (fds[i] >= 0 && write(fds[i], "x", 1) != 1)
				ok--;
	}
	sleep_us(secs * 1000000L);
	for (i = 0; i < n && fds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	return 0;
}

/* Prints, when done, how many sleeps took over 100 ms by the clock: on a
 * loaded host a short sleep can wait that long for a CPU, and a probe's
 * --max-us 100000 then rightly leaves it out (tests/bpf/options.t). */
static int do_sleep(int n, long us, const char *go)
{
	int over = 0;

	ready();
	wait_go(go);
	for (int i = 0; i < n; i++) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		sleep_us(us);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		over += (t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec) > 100000000ll;
	}
	printf("sleeps_over_100ms %d\n", over);
	return 0;
}

static int pipefd[2];
static int rounds;

/* the function name the offcpu test looks for in the symbolized stack */
__attribute__((noinline)) int offcpu_test_wait(void)
{
	char c;

	return (int)read(pipefd[0], &c, 1);
}

__attribute__((noinline)) void *offcpu_test_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < rounds; i++)
		if (offcpu_test_wait() != 1)
			break;
	return NULL;
}

static void wait_go(const char *go)
{
	/* wait (up to 20 s) until the test says every tracer is attached;
	 * poll(2), so that the waiting is not counted as clock_nanosleep */
	for (int i = 0; go && i < 2000 && access(go, F_OK) != 0; i++)
		poll(NULL, 0, 10);
}

static int do_pipeblock(int n, long ms, const char *go)
{
	pthread_t t;

	rounds = n;
	ready();
	wait_go(go);
	if (pipe(pipefd) || pthread_create(&t, NULL, offcpu_test_thread, NULL))
		return 1;
	for (int i = 0; i < n; i++) {
		sleep_us(ms * 1000);
		if (write(pipefd[1], "x", 1) != 1)
			return 1;
	}
	pthread_join(t, NULL);
	return 0;
}

/* N x getppid(2); prints the best CPU ns per call over 5 batches (for bench/) */
static int do_syscalls(long n)
{
	double best = 1e18;

	for (int b = 0; b < 5; b++) {
		struct timespec t0, t1;

		/* CPU time of this thread: time others take on a shared machine
		 * does not count */
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
		for (long i = 0; i < n; i++)
			syscall(SYS_getppid);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
		double ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n;

		if (ns < best)
			best = ns;
	}
	printf("%.1f\n", best);
	return 0;
}

static int ping[2], pong[2];

static void *ponger(void *arg)
{
	long n = (long)arg;
	char c;

	for (long i = 0; i < n; i++)
		if (read(ping[0], &c, 1) != 1 || write(pong[1], &c, 1) != 1)
			break;
	return NULL;
}

/* N round trips between two threads over pipes (4 context switches each when
 * they share a CPU); prints the best process CPU ns per round trip of 3
 * batches (for bench/: what a sched_switch probe costs) */
static int do_pingpong(long n)
{
	double best = 1e18;

	if (pipe(ping) || pipe(pong))
		return 1;
	for (int b = 0; b < 3; b++) {
		struct timespec t0, t1;
		pthread_t t;
		char c = 'x';

		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
		if (pthread_create(&t, NULL, ponger, (void *)n))
			return 1;
		for (long i = 0; i < n; i++)
			if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
				return 1;
		pthread_join(t, NULL);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
		double ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n;

		if (ns < best)
			best = ns;
	}
	printf("%.1f\n", best);
	return 0;
}

static int do_spawn(int n, bool nap)
{
	char self[4096] = "", *args[] = { self, "exit", nap ? "nap" : NULL, NULL };
	extern char **environ;
	int ok = 0;

	/* by its real path: the children's comm is this binary's name */
	if (readlink("/proc/self/exe", self, sizeof(self) - 1) < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		pid_t p;
		int st;

		if (posix_spawn(&p, self, NULL, NULL, args, environ) == 0 &&
		    waitpid(p, &st, 0) == p)
			ok++;
	}
	printf("spawned %d\n", ok);
	return ok == n ? 0 : 1;
}

static int do_failopen(int n, const char *go)
{
	int fails = 0;

	ready();
	wait_go(go);
	for (int i = 0; i < n; i++) {
		if (open("/nonexistent/qps-probe-test", O_RDONLY) < 0 && errno == ENOENT)
			fails++;
		if (close(-1) < 0 && errno == EBADF)
			fails++;
	}
	printf("failed %d\n", fails);
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 2 || argc == 3) && !strcmp(argv[1], "exit")) {
		if (argc == 3)
			sleep_us(2000);
		return 0;
	}
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "spawn"))
		return do_spawn(atoi(argv[2]), argc == 4 && !strcmp(argv[3], "nap"));
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "failopen"))
		return do_failopen(atoi(argv[2]), argc == 4 ? argv[3] : NULL);
	if (argc == 3 && !strcmp(argv[1], "syscalls"))
		return do_syscalls(atol(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "pingpong"))
		return do_pingpong(atol(argv[2]));
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "listen"))
		return do_listen(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]),
				 argc == 6 && !strcmp(argv[5], "defer"));
	if (argc == 5 && !strcmp(argv[1], "reuseport"))
		return do_reuseport(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "connect"))
		return do_connect(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]),
				  argc == 6 && !strcmp(argv[5], "send"));
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "sleep"))
		return do_sleep(atoi(argv[2]), atol(argv[3]), argc == 5 ? argv[4] : NULL);
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "pipeblock"))
		return do_pipeblock(atoi(argv[2]), atol(argv[3]), argc == 5 ? argv[4] : NULL);
	fprintf(stderr, "usage: probe-helper listen PORT BACKLOG SECS [defer] | reuseport PORT BACKLOG SECS | connect PORT N SECS [send] | sleep N USEC [GOFILE] | pipeblock N MSEC [GOFILE] | syscalls N | pingpong N | spawn N [nap] | exit [nap] | failopen N [GOFILE]\n");
	return 2;
}
