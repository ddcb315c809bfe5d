// SPDX-License-Identifier: MIT
/*
 * The measurement harness: warm-up and calibration of each case, samples
 * taken in interleaved rounds (wall time, CPU time and minor page faults
 * of each), CPU pinning and the progress log on stderr.
 */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"

void progress(const char *fmt, ...)
{
	static double start;
	va_list ap;

	if (!start)
		start = now_ns();
	fprintf(stderr, "wcpool-bench [%6.1fs] ", (now_ns() - start) / 1e9);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void pin_to(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		progress("cannot pin to CPU %d: %s", cpu, strerror(errno));
}

/* Repetitions for a case whose one sample took @sample_ns. */
static size_t reps_for(double sample_ns)
{
	size_t lo = 9, hi = 41, n;

	if (opt.mode == MODE_SMOKE)
		return 3;
	if (opt.mode == MODE_FULL)
		lo = 11, hi = 101;
	if (!(sample_ns > 0))
		return lo;
	n = (size_t)(opt.budget_ms * 1e6 / sample_ns);
	return n < lo ? lo : n > hi ? hi : n;
}

static void progress_result(const struct result *r)
{
	char sz[32];

	if (r->bytes > 0)
		progress("%-8s %-17s %-20s %8s  %8.2f GB/s", r->group, r->name,
			 r->memory, size_str(r->size, sz, sizeof(sz)),
			 stats_gbps(r->bytes, r->st.median));
	else
		progress("%-8s %-17s %-20s %8s %2u thr %10.1f ns/op %10.1f cpu ns/op",
			 r->group, r->name, r->memory,
			 size_str(r->size, sz, sizeof(sz)), r->threads,
			 r->st.median, r->cpu.median);
}

/* What the case's threads reported of the current call, if any */
static double reported_cpu = NAN, reported_wait;

void sample_threads(double cpu_ns, double wait_ns)
{
	reported_cpu = cpu_ns;
	reported_wait = wait_ns;
}

/* CPU time of every thread of the process, ns */
static double process_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_minflt;
}

/* Wall time of @iters operations of @c, set-up included, thread waits not */
static double time_call(struct bench_case *c, uint64_t iters)
{
	double t = now_ns();

	reported_wait = 0;
	c->fn(c->arg, iters);
	return now_ns() - t - reported_wait;
}

void measure_set(const char *group, const char *memory, size_t size,
		 double bytes, unsigned threads, struct bench_case *cases,
		 size_t n)
{
	/* waking the workers stays a small part of a multi-threaded sample */
	double target = (opt.mode == MODE_SMOKE ? 1e5 : 1e6) * (threads > 1 ? 5 : 1);
	double total = 0;
	size_t reps;

	/* cases[].r stay valid while the next results are added */
	results_reserve(n);
	for (size_t i = 0; i < n; i++) {
		struct bench_case *c = &cases[i];
		uint64_t iters = 1;
		double t;

		c->r = result_add(group, c->name, memory, size, threads);
		c->r->is_library = c->is_library;
		c->r->comparable = c->comparable;
		c->r->bytes = bytes;
		/*
		 * Warm-up: page faults, caches, clocks; then calibrate on the
		 * wall time, which includes the untimed set-up of each
		 * operation (flush re-dirties the buffer, say), but not the
		 * wait for worker threads to wake.
		 */
		c->fn(c->arg, 1);
		for (;;) {
			t = time_call(c, iters);
			/* not cut short by one late thread or preemption */
			if (t >= target)
				t = fmin(t, time_call(c, iters));
			if (t >= target || iters >= ((uint64_t)1 << 32))
				break;
			iters *= t * 10 < target ? 10 : 2;
		}
		c->r->ops = iters;
		total += t;
	}
	reps = reps_for(total / (double)n);
	for (size_t i = 0; i < n; i++) {
		cases[i].r->samples = calloc(reps, sizeof(double));
		cases[i].r->cpu_samples = calloc(reps, sizeof(double));
		if (!cases[i].r->samples || !cases[i].r->cpu_samples)
			exit(1);
	}
	for (size_t k = 0; k < reps; k++) {
		for (size_t m = 0; m < n; m++) {
			struct result *r = cases[(m + k) % n].r;
			struct bench_case *c = &cases[(m + k) % n];
			struct perf_values a, b, d;
			uint64_t faults;
			double cpu;

			/*
			 * Untimed operations first: the sample starts from
			 * the cache state this case leaves, not the one the
			 * case before it left (non-temporal stores evict; a
			 * frame pool's frames must all be its own again).
			 */
			c->fn(c->arg, c->warm_ops ? c->warm_ops : 1);
			perf_read(&a);
			faults = minor_faults();
			reported_cpu = NAN;
			cpu = process_cpu_ns();
			r->samples[k] = c->fn(c->arg, r->ops) / (double)r->ops;
			cpu = isnan(reported_cpu) ? process_cpu_ns() - cpu :
						    reported_cpu;
			r->cpu_samples[k] = cpu / ((double)r->ops * threads);
			r->minflt += minor_faults() - faults;
			perf_read(&b);
			perf_diff(&d, &a, &b);
			for (int p = 0; p < PERF_NCOUNTERS; p++) {
				r->perf.valid[p] = d.valid[p];
				r->perf.v[p] += d.v[p];
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		cases[i].r->nsamples = reps;
		result_finish(cases[i].r);
		progress_result(cases[i].r);
	}
}
