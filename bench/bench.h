/* SPDX-License-Identifier: MIT */
/*
 * wcpool-bench: what its files share.  The subcommands (bench_*.c) use the
 * registry's bench_skip()/bench_note(), the harness and the memory helpers,
 * alloc, workload and frames the workers and allocators too; main.c,
 * report*.c, machine.c and plot.c the rest.
 */
#ifndef WCPOOL_BENCH_H
#define WCPOOL_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "hugepages.h"
#include "stats.h"
#include "wcpool.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)

/* The command line (main.c) */
enum bench_mode { MODE_STANDARD, MODE_QUICK, MODE_SMOKE, MODE_FULL };

struct bench_options {
	enum bench_mode mode;
	int cpu;		/* pinned CPU, -1: none */
	const char *out;	/* results directory */
	size_t max_size;	/* largest fill buffer */
	double tolerance;	/* library check: fraction of the best */
	double budget_ms;	/* measured time per case */
	bool plot;
	/* "memory|threads": measure only that row, as a child (allocators.c) */
	const char *child;
	/*
	 * --ops N: no timing; each selected case runs N operations once,
	 * through bench_counted_job(), for callgrind to count (allocators.c)
	 */
	uint64_t count_ops;
	const char *only_alloc;	/* --allocator NAME: that one alone */
	const char *only_row;	/* --row NAME: that workload alone */
	unsigned count_threads;	/* --ops-threads N: rows of N threads (1) */
};

extern struct bench_options opt;

/* perf counters (perf.c) */
enum {
	PERF_TASK_CLOCK,
	PERF_PAGE_FAULTS,
	PERF_CONTEXT_SWITCHES,
	PERF_CYCLES,
	PERF_INSTRUCTIONS,
	PERF_DTLB_MISSES,
	PERF_LLC_MISSES,
	PERF_NCOUNTERS,
};

struct perf_values {
	bool valid[PERF_NCOUNTERS];
	uint64_t v[PERF_NCOUNTERS];
};

void perf_open(void);
void perf_close(void);
const char *perf_name(int i);
/* NULL when the counter works, else why not ("not available: ...") */
const char *perf_status(int i);
void perf_read(struct perf_values *pv);
void perf_diff(struct perf_values *d, const struct perf_values *a,
	       const struct perf_values *b);

/* One measured case: samples are nanoseconds per sample. */
struct result {
	char group[16];		/* fill, copy, flush, alloc, register */
	char name[40];		/* strategy / allocator */
	char memory[40];	/* what memory it ran on */
	size_t size;		/* buffer size, bytes (0: mixed) */
	unsigned threads;
	uint64_t ops;		/* operations per sample (per thread) */
	double bytes;		/* bytes written per operation, 0 if n/a */
	double *samples;
	size_t nsamples;
	struct bench_stats st;
	/* CPU time per operation of all threads, each sample */
	double *cpu_samples;
	struct bench_stats cpu;
	uint64_t minflt;	/* minor page faults over all samples */
	struct perf_values perf; /* over all samples */
	bool is_library;	/* the libwcpool primitive */
	bool comparable;	/* a valid alternative for the library check */
};

/* The result registry (results.c); the *_at() return NULL past the end. */
/* Room for @n more results, so that pointers to the next @n stay valid. */
void results_reserve(size_t n);
struct result *result_add(const char *group, const char *name,
			  const char *memory, size_t size, unsigned threads);
/* Statistics of @r's samples, filled in */
void result_finish(struct result *r);
/*
 * @r did not run as measured (its allocations failed): its samples are
 * dropped, so no time is reported for it and no ratio uses it.
 */
void result_void(struct result *r);
/* @total over every operation of every thread of @r's samples */
double result_per_op(const struct result *r, double total);
const struct result *result_at(size_t i);
const struct result *result_find(const char *group, const char *name,
				 const char *memory, size_t size,
				 unsigned threads);
void results_free(void);
/* The results, skips and notes as lines of text, and back (a child's) */
void results_dump(FILE *f);
void results_load(FILE *f);
struct skipped {
	char group[16], name[40], reason[160];
};
void bench_skip(const char *group, const char *name, const char *reason);
const struct skipped *skipped_at(size_t i);
void bench_note(const char *group, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *note_at(size_t i);

/* The measurement harness (harness.c) */
static inline double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A line on stderr, stamped with the seconds since the first one. */
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pin_to(int cpu);

/*
 * Measure alternatives side by side.  Each case's @fn performs @iters
 * operations and returns the nanoseconds they took (it times itself, so it
 * can leave set-up work out).  Each is warmed up and calibrated on its own
 * to about a millisecond per sample; then the samples are taken in rounds,
 * one sample of every case per round (the order rotating), so that
 * whatever else the machine does hits all of them alike.  Samples are
 * stored as nanoseconds per operation (of each thread), beside the CPU
 * time per operation of all @threads (the process's, or what worker threads
 * report) and the minor page faults.  Fills in cases[i].r.
 */
typedef double (*bench_fn)(void *arg, uint64_t iters);
struct bench_case {
	const char *name;
	bench_fn fn;
	void *arg;
	bool is_library;
	bool comparable;
	/* untimed operations before each sample; 0: one */
	uint64_t warm_ops;
	struct result *r;
};
void measure_set(const char *group, const char *memory, size_t size,
		 double bytes, unsigned threads, struct bench_case *cases,
		 size_t n);
/*
 * For a case run by worker threads (workers.c): their CPU time in the timed
 * part of the call, which the harness takes instead of the process's, and
 * the wall time spent waiting for them beyond it, which calibration leaves
 * out.
 */
void sample_threads(double cpu_ns, double wait_ns);

/* The memory the cases run on (memory.c) */
/* ordinary anonymous memory on 4 KiB pages (THP refused), touched */
void *anon_4k(size_t size);
void anon_free(void *p, size_t size);
/* MAP_HUGETLB memory, touched; NULL if no huge pages */
void *hugetlb_map(size_t size);
/* The page size of the mapping @p is in (/proc/self/smaps); 0 if unknown */
size_t page_size_at(const void *p);
/* A pool on 2 MiB pages when the system has them (policy from wcp_pool_info) */
struct wcp_pool *bench_pool(void);
/*
 * The pools fill and flush run on: the default one; with /dev/wcpool, a
 * module pool of each policy it gives and a memfd pool.  Return: how many.
 */
size_t bench_pools(struct wcp_pool **pools, size_t max);
const char *backend_name(uint32_t b);
const char *policy_name(uint32_t p);
/* "memfd-WB-2M", "module-WC-2M" and the like */
const char *pool_label(const struct wcp_pool *pool, char *buf, size_t len);

/*
 * Persistent worker threads (workers.c).  workers_run() runs @fn(@arg, i)
 * on workers 0..@n-1 at once, worker i pinned to CPU (--cpu + i) modulo
 * the CPUs, and returns when all are done: the ns from the first one's
 * start to the last one's end (their CPU time and the wait for them go to
 * sample_threads()).  The threads live on between calls.
 */
#define WORKERS_MAX 8
/* This machine's CPUs, at most WORKERS_MAX */
unsigned workers_max(void);
double workers_run(unsigned n, void (*fn)(void *arg, unsigned index), void *arg);
/* Within a job: wait until all its workers are here. */
void workers_barrier(void);
/*
 * A cache line's round trip between workers 0 and 1 (ns, best of a few
 * ping-pongs); NAN with one CPU.  In a VM it depends on where the host
 * runs the vCPUs, and so does every cross-thread figure.
 */
double workers_round_trip_ns(void);
void workers_stop(void);
/*
 * While on, jobs run through bench_counted_job(), the function callgrind
 * counts in --ops mode (bench/callgrind-ops).
 */
void workers_count(bool on);
void bench_counted_job(void (*fn)(void *arg, unsigned index), void *arg,
		       unsigned index);

/* The workloads' random numbers: xorshift64, and log-uniform sizes */
static inline uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static inline size_t pick_size(uint64_t *rng, size_t lo, size_t hi)
{
	unsigned bits_lo = 63 - (unsigned)__builtin_clzll(lo);
	unsigned bits_hi = 63 - (unsigned)__builtin_clzll(hi);
	uint64_t r = xorshift(rng);
	unsigned b = bits_lo + (unsigned)(r % (bits_hi - bits_lo + 1));
	size_t base = (size_t)1 << b, n = base + (size_t)((r >> 8) % base);

	return n < lo ? lo : n > hi ? hi : n;
}

/* Pointers handed from one thread to another: one writer, one reader. */
#define RING_LEN 1024
struct ring {
	_Alignas(64) _Atomic size_t head;	/* written by the reader */
	_Alignas(64) _Atomic size_t tail;	/* written by the writer */
	void *slot[RING_LEN];
};

static inline void ring_init(struct ring *r)
{
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
}

/* false when full */
static inline bool ring_push(struct ring *r, void *p)
{
	size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);

	if (t - atomic_load_explicit(&r->head, memory_order_acquire) == RING_LEN)
		return false;
	r->slot[t % RING_LEN] = p;
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	return true;
}

/* NULL when empty */
static inline void *ring_pop(struct ring *r)
{
	size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	void *p;

	if (h == atomic_load_explicit(&r->tail, memory_order_acquire))
		return NULL;
	p = r->slot[h % RING_LEN];
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return p;
}

/* The allocators compared, on one kind of memory at a time (allocators.c) */
enum pages { PAGES_HUGETLB_2M, PAGES_4K, NPAGES };
extern const char *const pages_label[NPAGES];

struct allocator {
	const char *name;
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *p, size_t size);
	void *ctx;
};

#define MAX_ALLOCATORS 6

/*
 * A row: one workload, each allocator of one kind of pages on it, side by
 * side (measure_set), @threads workers running each.  Every pool or arena
 * is new for the row and gone after it.  On hugetlb-2M, glibc is measured
 * by a child process (GLIBC_TUNABLES are read at start-up only): subcommand
 * @sub run again with --child, which measures that row alone.
 */
struct row {
	const char *sub, *group, *workload;
	unsigned threads;
	size_t size;			/* of each block, 0: mixed */
	double bytes;			/* written per operation, 0: n/a */
	long huge_each;			/* huge pages one allocator may hold */
	bool per_buffer;		/* an mmap(MAP_HUGETLB) per buffer too */
	const char *const *only;	/* the allocators, NULL-ended; NULL: all */
	const void *arg;		/* the workload's, for open */
	uint64_t warm_ops;		/* bench_case.warm_ops */
	/* A case's state for @a, warmed up; NULL on failure. */
	void *(*open)(const struct row *r, const struct allocator *a);
	bench_fn run;
	/* A live block of the case: its pages are checked.  May be NULL. */
	const void *(*block)(void *state);
	/* Free the case's blocks and state.  Return: allocations that failed. */
	uint64_t (*close)(void *state);
};
int measure_row(const struct row *r, enum pages pages);

struct json;

/* The machine (machine.c): read once, after pinning */
void machine_read(void);
const char *machine_cpu_model(void);
void machine_print(FILE *f);
void machine_json(struct json *j);

/* The report on stdout (report.c) and in latest.json (report_json.c) */
/* "4 KiB", "16 MiB", "mixed" for 0 */
const char *size_str(size_t size, char *buf, size_t len);
/*
 * The fastest comparable result of @r's group, memory, size and thread
 * count, the library not counted, by median or by minimum; NULL if none.
 */
const struct result *fastest_alternative(const struct result *r, bool by_min);
/* The method each group's ratios are taken against, and its result. */
const char *reference_name(const char *group);
const struct result *reference_result(const struct result *r);
/* Into @j when not NULL, else as text on @tty.  Return: cases too slow. */
int library_checks(struct json *j, FILE *tty);
/* Across rows (report_ratios.c): workload's wcpool/jemalloc, wcpool/glibc */
void workload_ratios(struct json *j, FILE *tty);
/* frames: wcpool's time per frame, faults, speed-up over glibc, jemalloc */
void frames_ratios(struct json *j, FILE *tty);
/* scaling's throughput per thread, and n threads' total over one's */
void scaling_ratios(struct json *j, FILE *tty);
void report_print(FILE *f);
int report_write_json(const char *path, const char *cmdline);

/* gnuplot PNGs of fill, copy and flush (plot.c) */
void plot_throughput(void);

/* The subcommands (bench_*.c): 0, or -1 on failure. */
int bench_fill(void);
int bench_copy(void);
int bench_flush(void);
int bench_alloc(void);
int bench_workload(void);
int bench_register(void);
int bench_frames(void);

#endif
