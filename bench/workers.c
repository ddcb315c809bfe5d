// SPDX-License-Identifier: MIT
/*
 * Persistent worker threads: started once, on first use, and released for
 * each job, so that every case of a row runs on the same threads and no
 * sample pays (or profits from) a thread's start or its cold caches.
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

static struct {
	pthread_t th[WORKERS_MAX];
	sem_t go[WORKERS_MAX];		/* one post per job of that worker */
	sem_t done;			/* posted by a job's last worker */
	unsigned started;		/* workers running */
	unsigned n;			/* workers of the current job */
	atomic_uint pending;		/* of them, not finished */
	atomic_uint arrived, phase;	/* workers_barrier() */
	bool stop;
	void (*fn)(void *arg, unsigned index);
	void *arg;
	double start_ns[WORKERS_MAX], end_ns[WORKERS_MAX], cpu_ns[WORKERS_MAX];
} w;

static double thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

unsigned workers_max(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > WORKERS_MAX ? WORKERS_MAX : (unsigned)n;
}

/*
 * Spinning, then yielding: a worker that sleeps here would wake late, and
 * its start (or the next step) with it.
 */
void workers_barrier(void)
{
	unsigned phase = atomic_load(&w.phase);

	if (atomic_fetch_add(&w.arrived, 1) == w.n - 1) {
		atomic_store(&w.arrived, 0);
		atomic_fetch_add(&w.phase, 1);
		return;
	}
	for (unsigned spins = 0; atomic_load(&w.phase) == phase; spins++)
		if (spins > 1000)
			sched_yield();
}

/*
 * The job, called through here while workers_count() is on: callgrind's
 * --toggle-collect=bench_counted_job then counts the job's instructions
 * alone, in each worker (bench/callgrind-ops).
 */
static bool counting;

void __attribute__((noinline, used))
bench_counted_job(void (*fn)(void *arg, unsigned index), void *arg,
		  unsigned index)
{
	fn(arg, index);
	__asm__ volatile("" ::: "memory");
}

void workers_count(bool on)
{
	counting = on;
}

static void *worker_main(void *p)
{
	unsigned index = (unsigned)(uintptr_t)p;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (opt.cpu >= 0)
		pin_to((int)(((unsigned)opt.cpu + index) % (unsigned)ncpu));
	for (;;) {
		while (sem_wait(&w.go[index]))
			;
		if (w.stop)
			return NULL;
		/* Each worker times itself: the others may start late. */
		workers_barrier();
		w.cpu_ns[index] = thread_cpu_ns();
		w.start_ns[index] = now_ns();
		if (counting)
			bench_counted_job(w.fn, w.arg, index);
		else
			w.fn(w.arg, index);
		w.end_ns[index] = now_ns();
		w.cpu_ns[index] = thread_cpu_ns() - w.cpu_ns[index];
		if (atomic_fetch_sub(&w.pending, 1) == 1)
			sem_post(&w.done);
	}
}

double workers_run(unsigned n, void (*fn)(void *arg, unsigned index), void *arg)
{
	double t0, t1, cpu, called = now_ns();

	if (n < 1 || n > WORKERS_MAX)
		abort();
	if (!w.started && sem_init(&w.done, 0, 0))
		abort();
	for (; w.started < n; w.started++)
		if (sem_init(&w.go[w.started], 0, 0) ||
		    pthread_create(&w.th[w.started], NULL, worker_main,
				   (void *)(uintptr_t)w.started)) {
			progress("cannot start a worker thread");
			exit(1);
		}
	w.n = n;
	w.fn = fn;
	w.arg = arg;
	atomic_store(&w.pending, n);
	for (unsigned i = 0; i < n; i++)
		sem_post(&w.go[i]);
	while (sem_wait(&w.done))
		;
	/* from the first start to the last end; the CPU time in between */
	t0 = w.start_ns[0];
	t1 = w.end_ns[0];
	cpu = w.cpu_ns[0];
	for (unsigned i = 1; i < n; i++) {
		t0 = w.start_ns[i] < t0 ? w.start_ns[i] : t0;
		t1 = w.end_ns[i] > t1 ? w.end_ns[i] : t1;
		cpu += w.cpu_ns[i];
	}
	sample_threads(cpu, now_ns() - called - (t1 - t0));
	return t1 - t0;
}

void workers_stop(void)
{
	w.stop = true;
	for (unsigned i = 0; i < w.started; i++) {
		sem_post(&w.go[i]);
		pthread_join(w.th[i], NULL);
		sem_destroy(&w.go[i]);
	}
	if (w.started)
		sem_destroy(&w.done);
	w.started = 0;
	w.stop = false;
}

/*
 * Ping-pong between workers 0 and 1: each waits for the counter to be its
 * turn and bumps it.  Its own cache line, so each bump moves the line.
 */
static struct {
	_Alignas(64) _Atomic uint64_t turn;
	uint64_t rounds;
} pingpong;

static void pingpong_job(void *arg, unsigned index)
{
	(void)arg;
	for (uint64_t i = 0; i < pingpong.rounds; i++) {
		uint64_t mine = 2 * i + index;

		while (atomic_load_explicit(&pingpong.turn,
					    memory_order_acquire) != mine)
			;
		atomic_store_explicit(&pingpong.turn, mine + 1,
				      memory_order_release);
	}
}

double workers_round_trip_ns(void)
{
	double best = INFINITY;

	if (workers_max() < 2)
		return NAN;
	/* best of a few: a descheduled worker makes one slow */
	for (int r = 0; r < 5; r++) {
		double t;

		pingpong.rounds = 2000;
		atomic_store(&pingpong.turn, 0);
		t = workers_run(2, pingpong_job, NULL) / (double)pingpong.rounds;
		if (t < best)
			best = t;
	}
	return best;
}
