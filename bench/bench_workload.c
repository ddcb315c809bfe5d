// SPDX-License-Identifier: MIT
/*
 * workload: small programs after the classic allocator benchmarks, each
 * run through wcpool, jemalloc and glibc on the same kind of memory
 * (allocators.c), by the persistent worker threads (workers.c).  Written
 * from the benchmarks' descriptions; an operation is:
 *
 *   larson        free a random one of a thread's 1000 blocks, allocate
 *                 8-1000 B in its place and write a word; every 16000
 *                 operations the threads pass their arrays on to the
 *                 next one, whose first frees are of another's blocks
 *   xmalloc       a producer allocates 16-256 B blocks, writes a word and
 *                 hands them in batches of 64 to a consumer that frees them
 *   cache-scratch allocate 8 B, write them 64 times, free; each thread
 *                 starts by freeing a block that worker 0 allocated beside
 *                 the others' (passive false sharing if it gets it back)
 *   glibc-simple  one thread: 100 blocks of one size (16, 64, 256, 1 KiB
 *                 in turn) allocated, then all freed
 *   glibc-thread  free a random one of a thread's 1024 blocks, allocate
 *                 16 B-32 KiB (log-uniform) and write its first byte
 *   glibc-thread-isq  the same with glibc's bench-malloc-thread sizes:
 *                 4 B-32 KiB, the chance of a size falling as its inverse
 *                 square (most blocks tiny, a few up to 32 KiB)
 *   cfrac-burst   one thread, a bignum program's pattern: a burst of
 *                 16-1024 blocks of one computation's numbers (8 B and
 *                 d or d+1 8-byte digits, d 1-11 for the burst: 16-104
 *                 B), each first word written, then all freed, the
 *                 newest first; mostly more blocks of a class than a
 *                 thread cache's bin holds, so the allocator's refill
 *                 and flush paths are exercised
 *   frame-pool    free the oldest of a thread's 4 frames, allocate one of
 *                 three video frame sizes (3-8 MiB) and write it all
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_SLOTS 1024
#define BATCH 64		/* xmalloc: blocks a batch */
#define NBATCHES 16		/* xmalloc: batches a pair */
#define SCRATCH_WRITES 64	/* cache-scratch: writes of each block */
#define LARSON_LIFE 16		/* larson: an array's operations per block
				   before the next thread takes it over */
#define ISQ_SIZES 4096		/* glibc-thread-isq: sizes drawn in advance */
#define ISQ_MIN 4
#define ISQ_MAX (32 * KiB)

struct program {
	const char *name;
	void (*job)(void *arg, unsigned t);
	size_t slots;		/* live blocks a thread keeps */
	size_t live;		/* the most bytes a thread holds */
	bool one_thread;
};

/* What a thread keeps live, on cache lines of its own */
struct blocks {
	_Alignas(64) void *slot[MAX_SLOTS];
	size_t n;
	size_t pos;		/* operations or batches so far */
	uint64_t rng;
	uint64_t failures;
};

/* xmalloc: batches go round between a producer and a consumer. */
struct batch {
	size_t n;
	void *p[BATCH];
};

struct pair {
	struct ring full, empty;
	struct batch b[NBATCHES];
};

struct wl_case {
	const struct program *p;
	const struct allocator *a;
	unsigned threads;
	uint64_t iters;		/* per thread, this job */
	struct blocks *b[WORKERS_MAX];
	struct pair *pair[WORKERS_MAX / 2];
	void *scratch[WORKERS_MAX];
};

static void *wl_alloc(struct wl_case *c, struct blocks *me, size_t size)
{
	void *p = c->a->alloc(c->a->ctx, size);

	if (!p)
		me->failures++;
	return p;
}

static void wl_free(struct wl_case *c, void *p)
{
	if (p)
		c->a->free(c->a->ctx, p, 0);
}

/* Replace a random block of @b by one of @size, its first word written. */
static void replace(struct wl_case *c, struct blocks *me, struct blocks *b,
		    size_t size)
{
	size_t k = xorshift(&me->rng) % b->n;
	volatile uint64_t *p;

	wl_free(c, b->slot[k]);
	p = wl_alloc(c, me, size);
	if (p)
		*p = size;
	b->slot[k] = (void *)p;
}

static void larson(void *arg, unsigned t)
{
	struct wl_case *c = arg;
	struct blocks *me = c->b[t];
	size_t life = LARSON_LIFE * me->n;

	/* every thread at the same count: they pass the arrays on at once */
	for (uint64_t i = 0; i < c->iters; i++, me->pos++) {
		if (me->pos && me->pos % life == 0)
			workers_barrier();
		replace(c, me, c->b[(t + me->pos / life) % c->threads],
			8 + xorshift(&me->rng) % 993);
	}
}

static void glibc_thread(void *arg, unsigned t)
{
	struct wl_case *c = arg;
	struct blocks *me = c->b[t];

	for (uint64_t i = 0; i < c->iters; i++)
		replace(c, me, me, pick_size(&me->rng, 16, 32 * KiB));
}

/*
 * glibc-thread-isq's sizes, drawn once: a size's chance is proportional
 * to 1/size^2 between ISQ_MIN and ISQ_MAX (the inverse of that
 * distribution's CDF applied to uniform numbers).
 */
static uint32_t isq_sizes[ISQ_SIZES];

static void isq_init(void)
{
	uint64_t rng = 0x2545f4914f6cdd1dull;

	if (isq_sizes[0])
		return;
	for (size_t i = 0; i < ISQ_SIZES; i++) {
		double u = (double)(xorshift(&rng) >> 11) * 0x1p-53;
		double inv = 1.0 / ISQ_MIN - u * (1.0 / ISQ_MIN - 1.0 / ISQ_MAX);
		double size = 1.0 / inv;

		isq_sizes[i] = (uint32_t)(size < ISQ_MIN ? ISQ_MIN :
					  size > ISQ_MAX ? ISQ_MAX : size);
	}
}

static void glibc_thread_isq(void *arg, unsigned t)
{
	struct wl_case *c = arg;
	struct blocks *me = c->b[t];

	for (uint64_t i = 0; i < c->iters; i++, me->pos++) {
		size_t k = xorshift(&me->rng) % me->n;
		char *p;

		wl_free(c, me->slot[k]);
		p = wl_alloc(c, me, isq_sizes[me->pos % ISQ_SIZES]);
		if (p)
			p[0] = 1;
		me->slot[k] = p;
	}
}

static void cfrac_burst(void *arg, unsigned t)
{
	struct wl_case *c = arg;
	struct blocks *me = c->b[t];
	size_t most = opt.mode == MODE_SMOKE ? 64 : MAX_SLOTS;

	for (uint64_t done = 0; done < c->iters;) {
		size_t n = 16 + xorshift(&me->rng) % (most - 15);
		/* one computation's numbers: about the same length */
		size_t digits = 1 + xorshift(&me->rng) % 11;

		if (n > c->iters - done)
			n = c->iters - done;
		done += n;

		for (size_t i = 0; i < n; i++) {
			size_t size = 8 + 8 * (digits + xorshift(&me->rng) % 2);
			uint64_t *p = wl_alloc(c, me, size);

			if (p)
				*p = size;
			me->slot[i] = p;
		}
		while (n)
			wl_free(c, me->slot[--n]);
	}
}

/* Spin, then let others run: the machine may have fewer CPUs than threads. */
static void *wait_pop(struct ring *r)
{
	void *p;

	for (unsigned spins = 0; !(p = ring_pop(r)); spins++)
		if (spins > 100)
			sched_yield();
	return p;
}

static void xmalloc(void *arg, unsigned t)
{
	struct wl_case *c = arg;
	struct pair *pair = c->pair[t / 2];
	struct blocks *me = c->b[t];

	for (uint64_t done = 0; done < c->iters;) {
		if (t % 2 == 0) {
			struct batch *b = wait_pop(&pair->empty);

			b->n = c->iters - done < BATCH ? c->iters - done : BATCH;
			for (size_t i = 0; i < b->n; i++) {
				uint64_t *p = wl_alloc(c, me, pick_size(&me->rng, 16, 256));

				if (p)
					*p = i;
				b->p[i] = p;
			}
			done += b->n;
			ring_push(&pair->full, b);
		} else {
			struct batch *b = wait_pop(&pair->full);

			for (size_t i = 0; i < b->n; i++)
				wl_free(c, b->p[i]);
			done += b->n;
			ring_push(&pair->empty, b);
		}
	}
}

static void cache_scratch(void *arg, unsigned t)
{
	struct wl_case *c = arg;
	struct blocks *me = c->b[t];

	if (t == 0)
		for (unsigned i = 0; i < c->threads; i++)
			c->scratch[i] = wl_alloc(c, me, 8);
	workers_barrier();
	wl_free(c, c->scratch[t]);
	for (uint64_t i = 0; i < c->iters; i++) {
		volatile char *p = wl_alloc(c, me, 8);

		for (int r = 0; p && r < SCRATCH_WRITES; r++)
			for (int k = 0; k < 8; k++)
				p[k] = (char)(r + k);
		wl_free(c, (void *)p);
	}
}

static void glibc_simple(void *arg, unsigned t)
{
	static const size_t sizes[] = { 16, 64, 256, 1024 };
	struct wl_case *c = arg;
	struct blocks *me = c->b[t];

	for (uint64_t done = 0; done < c->iters; me->pos++) {
		size_t n = c->iters - done < 100 ? c->iters - done : 100;

		for (size_t i = 0; i < n; i++) {
			char *p = wl_alloc(c, me, sizes[me->pos % 4]);

			if (p)
				p[0] = 1;
			me->slot[i] = p;
		}
		for (size_t i = 0; i < n; i++)
			wl_free(c, me->slot[i]);
		done += n;
	}
}

static void frame_pool(void *arg, unsigned t)
{
	/* 1080p RGBA, 1080p NV12 (4:2:0), 720p RGBA */
	static const size_t sizes[] = { 1920 * 1080 * 4, 1920 * 1080 * 3 / 2,
					1280 * 720 * 4 };
	struct wl_case *c = arg;
	struct blocks *me = c->b[t];
	/* --smoke: frames an eighth as big, to be quick */
	size_t shift = opt.mode == MODE_SMOKE ? 3 : 0;

	for (uint64_t i = 0; i < c->iters; i++) {
		size_t k = me->pos++ % me->n, size = sizes[xorshift(&me->rng) % 3] >> shift;
		char *p;

		wl_free(c, me->slot[k]);
		p = wl_alloc(c, me, size);
		if (p)
			memset(p, (int)i, size);
		me->slot[k] = p;
	}
}

static const struct program programs[] = {
	{ "larson", larson, 1000, 1000 * 1000, false },
	{ "xmalloc", xmalloc, 0, BATCH * NBATCHES * 256, false },
	{ "cache-scratch", cache_scratch, 0, 0, false },
	{ "glibc-simple", glibc_simple, 0, 100 * KiB, true },
	{ "glibc-thread", glibc_thread, 1024, 1024 * 32 * KiB, false },
	/* 1024 blocks of 36 B on average; room for a few more big ones */
	{ "glibc-thread-isq", glibc_thread_isq, 1024, 2 * MiB, false },
	{ "cfrac-burst", cfrac_burst, 0, 0, true },
	{ "frame-pool", frame_pool, 4, 5 * 1920 * 1080 * 4, false },
};

static double wl_run(void *arg, uint64_t iters)
{
	struct wl_case *c = arg;

	c->iters = iters;
	return workers_run(c->threads, c->p->job, c);
}

static const void *wl_block(void *arg)
{
	struct wl_case *c = arg;

	return c->b[0]->n ? c->b[0]->slot[0] : NULL;
}

static void drain_job(void *arg, unsigned t)
{
	struct wl_case *c = arg;
	struct blocks *b = c->b[t];

	for (size_t k = 0; k < b->n; k++)
		wl_free(c, b->slot[k]);
}

static uint64_t wl_close(void *arg)
{
	struct wl_case *c = arg;
	uint64_t failures = 0;

	if (c->b[c->threads - 1])
		workers_run(c->threads, drain_job, c);
	for (unsigned t = 0; t < c->threads; t++) {
		failures += c->b[t] ? c->b[t]->failures : 0;
		free(c->b[t]);
	}
	for (unsigned t = 0; t < c->threads / 2; t++)
		free(c->pair[t]);
	free(c);
	return failures;
}

static void *wl_open(const struct row *r, const struct allocator *a)
{
	const struct program *p = r->arg;
	struct wl_case *c = calloc(1, sizeof(*c));
	bool ok = c != NULL;

	if (!c)
		return NULL;
	isq_init();
	*c = (struct wl_case){ .p = p, .a = a, .threads = r->threads };
	for (unsigned t = 0; ok && t < c->threads; t++) {
		c->b[t] = aligned_alloc(64, sizeof(struct blocks));
		if (!(ok = c->b[t] != NULL))
			break;
		memset(c->b[t], 0, sizeof(struct blocks));
		c->b[t]->n = p->slots > 64 && opt.mode == MODE_SMOKE ? 64 : p->slots;
		c->b[t]->rng = 0x9e3779b97f4a7c15ull * (t + 1);
	}
	for (unsigned t = 0; ok && p->job == xmalloc && t < c->threads / 2; t++) {
		struct pair *pair = aligned_alloc(64, sizeof(*pair));

		if (!(ok = pair != NULL))
			break;
		ring_init(&pair->full);
		ring_init(&pair->empty);
		for (size_t i = 0; i < NBATCHES; i++)
			ring_push(&pair->empty, &pair->b[i]);
		c->pair[t] = pair;
	}
	if (!ok) {
		wl_close(c);
		return NULL;
	}
	/* every block live once */
	wl_run(c, 2 * (c->b[0]->n ? c->b[0]->n : 1));
	return c;
}

int bench_workload(void)
{
	static const char *const compared[] = { "wcpool", "jemalloc", "glibc", NULL };
	unsigned threads = workers_max() < 4 ? 2 : 4;
	int err = 0;

	if (!opt.child)
		bench_note("workload", "programs after larson, xmalloc-test, "
			   "cache-scratch, glibc's bench-malloc-simple/-thread "
			   "(log-uniform and inverse-square sizes), cfrac's "
			   "bursts and a frame pool; ratios are wcpool's CPU time over "
			   "jemalloc's and glibc's on the same pages");
	for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
		const struct program *p = &programs[i];
		/* counting (--ops): --ops-threads, one unless asked */
		unsigned n = p->one_thread ? 1 : opt.count_ops ? opt.count_threads :
			     threads;
		struct row r = {
			.sub = "workload", .group = "workload",
			.workload = p->name, .threads = n, .only = compared,
			.arg = p, .open = wl_open, .run = wl_run,
			.block = wl_block, .close = wl_close,
			.huge_each = (long)(n * (p->live / (2 * MiB) + 2)),
		};

		if (opt.count_ops && p->job == xmalloc && n < 2)
			continue;	/* a producer needs its consumer */
		for (int k = 0; k < NPAGES; k++)
			err |= measure_row(&r, k);
	}
	return err;
}
