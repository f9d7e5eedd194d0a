/*
 * clockshim: an LD_PRELOAD library that adds a per-node offset to the
 * wall clock of a process (the JVM of a Cassandra node), for chaoscheck's
 * clock-skew faults.
 *
 * Why not libfaketime: the JVM calls clock_gettime tens of thousands of
 * times a second (mostly CLOCK_MONOTONIC), and libfaketime does work on
 * every call even for clocks it does not fake (getenv, parsing, locks):
 * measured on 2 cores, a Cassandra node took over 100 s of CPU to start
 * under libfaketime against about 10 s without it.
 *
 * This shim only touches CLOCK_REALTIME and CLOCK_REALTIME_COARSE (in
 * clock_gettime), gettimeofday and time; every other clock goes straight
 * to libc (the vDSO). The offset is read from the file named by
 * FAKETIME_TIMESTAMP_FILE (libfaketime's relative format as the local
 * runtime writes it: "+3600", "-1.5", seconds), at most every 100 ms, so a
 * new offset applies within 100 ms. It never allocates.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

static clock_gettime_fn real_clock_gettime;
static const char *offset_file;
static _Atomic int64_t offset_ns;
static _Atomic int64_t next_check_ns; /* monotonic time of the next file read */

#define RECHECK_NS 100000000LL

static int raw_clock_gettime(clockid_t clk, struct timespec *ts) {
	if (real_clock_gettime)
		return real_clock_gettime(clk, ts);
	return (int)syscall(SYS_clock_gettime, clk, ts);
}

__attribute__((constructor)) static void clockshim_init(void) {
	real_clock_gettime = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
	offset_file = getenv("FAKETIME_TIMESTAMP_FILE");
}

/* parse "+3600", "-1.5", "0" (seconds) without allocating */
static int64_t parse_offset(const char *s, ssize_t n) {
	int neg = 0;
	int64_t whole = 0, frac = 0, scale = 1000000000LL;
	ssize_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '@'))
		i++;
	if (i < n && (s[i] == '+' || s[i] == '-')) {
		neg = s[i] == '-';
		i++;
	}
	while (i < n && s[i] >= '0' && s[i] <= '9')
		whole = whole * 10 + (s[i++] - '0');
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (scale > 1) {
				scale /= 10;
				frac += (s[i] - '0') * scale;
			}
			i++;
		}
	}
	int64_t v = whole * 1000000000LL + frac;
	return neg ? -v : v;
}

static int64_t current_offset(void) {
	if (!offset_file)
		return 0;
	struct timespec m;
	if (raw_clock_gettime(CLOCK_MONOTONIC_COARSE, &m) != 0)
		return atomic_load(&offset_ns);
	int64_t now = (int64_t)m.tv_sec * 1000000000LL + m.tv_nsec;
	int64_t next = atomic_load(&next_check_ns);
	if (now < next)
		return atomic_load(&offset_ns);
	if (!atomic_compare_exchange_strong(&next_check_ns, &next, now + RECHECK_NS))
		return atomic_load(&offset_ns); /* another thread reads the file */
	int fd = open(offset_file, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		char buf[64];
		ssize_t n = read(fd, buf, sizeof buf);
		close(fd);
		if (n > 0)
			atomic_store(&offset_ns, parse_offset(buf, n));
	}
	return atomic_load(&offset_ns);
}

static void shift(struct timespec *ts, int64_t off) {
	if (off == 0)
		return;
	int64_t t = (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec + off;
	ts->tv_sec = t / 1000000000LL;
	ts->tv_nsec = t % 1000000000LL;
	if (ts->tv_nsec < 0) {
		ts->tv_nsec += 1000000000LL;
		ts->tv_sec--;
	}
}

int clock_gettime(clockid_t clk, struct timespec *ts) {
	int r = raw_clock_gettime(clk, ts);
	if (r == 0 && (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE))
		shift(ts, current_offset());
	return r;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
	(void)tz;
	struct timespec ts;
	int r = clock_gettime(CLOCK_REALTIME, &ts);
	if (r == 0) {
		tv->tv_sec = ts.tv_sec;
		tv->tv_usec = ts.tv_nsec / 1000;
	}
	return r;
}

time_t time(time_t *t) {
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return (time_t)-1;
	if (t)
		*t = ts.tv_sec;
	return ts.tv_sec;
}
