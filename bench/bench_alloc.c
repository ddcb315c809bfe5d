// SPDX-License-Identifier: MIT
/*
 * alloc: malloc/free of a pool against jemalloc, glibc and memkind on the
 * same kind of memory, 2 MiB huge pages and 4 KiB pages (allocators.c),
 * run by the persistent worker threads (workers.c).
 *
 * Each thread keeps a window of live blocks; an operation frees one slot's
 * block and allocates a new one, slot and size (log-uniform) from a
 * sequence drawn in advance, so the timed loop draws nothing:
 *   free+malloc-16-256B     1024 live, nothing written: the row;
 *   free+malloc-14-64KiB    256 live, nothing written, sizes uniform
 *                           (past jemalloc's slab classes, 14 KiB, up to
 *                           twice its thread cache's limit, 32 KiB);
 *   mixed-64B-64KiB         256 live, first byte written;
 *   frames-1-32MiB-overhead 8 live, first byte written only: what the
 *                           allocator costs, not what using a frame does;
 * with 1 and 2 threads, each on its own window.
 *
 * scaling: 16-256 B blocks, 1024 live per thread, one free in four handed
 * to the next thread (a ring each, 64 blocks at a time) to do, with 1, 2,
 * 4... threads up to the CPUs: a thread does the same work at every count,
 * so its throughput should not drop as threads are added.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define SEQ_LEN 4096		/* steps drawn in advance, a power of 2 */
#define HANDOFF 64		/* scaling: blocks handed over at once */
#define MAX_SLOTS 1024

struct load {
	const char *name;
	size_t lo, hi, slots;
	bool write;		/* the first byte of each new block */
	bool frames;		/* an mmap(MAP_HUGETLB) per buffer too */
	bool xfree;		/* one free in four by the next thread */
	bool uniform;		/* sizes uniform in lo..hi, not log-uniform */
};

static const struct load loads[] = {
	{ "free+malloc-16-256B", 16, 256, 1024, false, false, false, false },
	{ "free+malloc-14-64KiB", 14 * KiB, 64 * KiB, 256, false, false, false, true },
	{ "mixed-64B-64KiB", 64, 64 * KiB, 256, true, false, false, false },
	{ "frames-1-32MiB-overhead", 1 * MiB, 32 * MiB, 8, true, true, false, false },
};
static const struct load scaling = { "xfree-16-256B", 16, 256, 1024, false, false, true, false };

struct step {
	uint32_t size;
	uint16_t slot;
};

/* One thread's: on cache lines of its own. */
struct window {
	_Alignas(64) void *slot[MAX_SLOTS];
	size_t len[MAX_SLOTS];
	struct step seq[SEQ_LEN];
	size_t pos;
	uint64_t failures;
	/* xfree: blocks from the previous thread; to the next, a batch */
	struct ring *in, *out;
	void *handoff[HANDOFF];
	size_t nhandoff;
	struct ring inbox;
};

struct alloc_case {
	const struct allocator *a;
	const struct load *l;
	size_t slots;
	unsigned threads;
	uint64_t iters;		/* per thread, this job */
	struct window *w[WORKERS_MAX];
};

/*
 * Give @p to the next thread to free, in batches: the threads share a
 * cache line only once in HANDOFF blocks, so the cost is the allocator's.
 */
static void hand_over(struct alloc_case *x, struct window *w, void *p)
{
	w->handoff[w->nhandoff++] = p;
	if (w->nhandoff < HANDOFF)
		return;
	for (size_t i = 0; i < HANDOFF; i++)
		if (!ring_push(w->out, w->handoff[i]))
			x->a->free(x->a->ctx, w->handoff[i], 0);
	w->nhandoff = 0;
}

static void run_ops(struct alloc_case *x, struct window *w, uint64_t iters)
{
	const struct allocator *a = x->a;

	for (uint64_t i = 0; i < iters; i++) {
		const struct step *s = &w->seq[w->pos++ % SEQ_LEN];
		void *old = w->slot[s->slot];
		char *p;

		if (old && w->out && w->pos % 4 == 0)
			hand_over(x, w, old);
		else if (old)
			a->free(a->ctx, old, w->len[s->slot]);
		if (w->in && w->pos % HANDOFF == 0)
			while ((p = ring_pop(w->in)))
				a->free(a->ctx, p, 0);
		p = a->alloc(a->ctx, s->size);
		if (!p)
			w->failures++;
		else if (x->l->write)
			p[0] = 1;
		w->slot[s->slot] = p;
		w->len[s->slot] = s->size;
	}
}

static void run_job(void *arg, unsigned t)
{
	struct alloc_case *x = arg;

	run_ops(x, x->w[t], x->iters);
}

static double alloc_run(void *arg, uint64_t iters)
{
	struct alloc_case *x = arg;

	x->iters = iters;
	return workers_run(x->threads, run_job, x);
}

static void warm_job(void *arg, unsigned t)
{
	struct alloc_case *x = arg;

	run_ops(x, x->w[t], 4 * x->slots);
}

static size_t load_slots(const struct load *l)
{
	if (opt.mode != MODE_SMOKE)
		return l->slots;
	return l->frames ? 4 : l->slots > 64 ? 64 : l->slots;
}

static void drain_job(void *arg, unsigned t)
{
	struct alloc_case *x = arg;
	struct window *w = x->w[t];
	void *p;

	for (size_t k = 0; k < x->slots; k++)
		if (w->slot[k])
			x->a->free(x->a->ctx, w->slot[k], w->len[k]);
	while (w->in && (p = ring_pop(w->in)))
		x->a->free(x->a->ctx, p, 0);
	for (size_t i = 0; i < w->nhandoff; i++)
		x->a->free(x->a->ctx, w->handoff[i], 0);
}

static const void *case_block(void *arg)
{
	struct alloc_case *x = arg;

	return x->w[0]->slot[0];
}

static uint64_t case_close(void *arg)
{
	struct alloc_case *x = arg;
	uint64_t failures = 0;

	if (x->w[x->threads - 1])
		workers_run(x->threads, drain_job, x);
	for (unsigned t = 0; t < x->threads; t++) {
		failures += x->w[t] ? x->w[t]->failures : 0;
		free(x->w[t]);
	}
	free(x);
	return failures;
}

static void *case_open(const struct row *r, const struct allocator *a)
{
	const struct load *l = r->arg;
	struct alloc_case *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	*x = (struct alloc_case){ .a = a, .l = l, .threads = r->threads,
				  .slots = load_slots(l) };
	for (unsigned t = 0; t < x->threads; t++) {
		uint64_t rng = 0x9e3779b97f4a7c15ull * (t + 1);

		x->w[t] = aligned_alloc(64, sizeof(struct window));
		if (!x->w[t]) {
			case_close(x);
			return NULL;
		}
		memset(x->w[t], 0, sizeof(struct window));
		for (size_t i = 0; i < SEQ_LEN; i++)
			x->w[t]->seq[i] = (struct step){
				.slot = (uint16_t)(xorshift(&rng) % x->slots),
				.size = (uint32_t)(l->uniform ?
					l->lo + xorshift(&rng) % (l->hi - l->lo + 1) :
					pick_size(&rng, l->lo, l->hi)),
			};
		ring_init(&x->w[t]->inbox);
	}
	for (unsigned t = 0; l->xfree && t < x->threads; t++) {
		x->w[t]->in = &x->w[t]->inbox;
		x->w[t]->out = &x->w[(t + 1) % x->threads]->inbox;
	}
	/* every slot live, in the thread that will use it */
	workers_run(x->threads, warm_job, x);
	return x;
}

/* Each load's rows on huge pages, then on 4 KiB pages. */
static int alloc_rows(const char *group, const struct load *l, unsigned threads)
{
	size_t per_slot = l->hi + (l->frames ? 2 * MiB : 0);
	struct row r = {
		.sub = "alloc", .group = group, .workload = l->name,
		.threads = threads, .per_buffer = l->frames, .arg = l,
		/* the most pages a window pins, and the allocator's own */
		.huge_each = (long)(threads * (load_slots(l) * per_slot / (2 * MiB) + 2)),
		.open = case_open, .run = alloc_run, .block = case_block,
		.close = case_close,
	};
	int err = 0;

	for (int p = 0; p < NPAGES; p++)
		err |= measure_row(&r, p);
	return err;
}

int bench_alloc(void)
{
	double rt[2];
	int err = 0;

	if (!opt.child) {
		bench_note("alloc", "free+malloc-16-256B: one free and one malloc "
			   "of 16-256 B blocks, 1024 live per thread, nothing "
			   "written; free+malloc-14-64KiB: the same with 256 live "
			   "blocks of uniform 14-64 KiB sizes; mixed-64B-64KiB: "
			   "256 live, first byte written");
		bench_note("alloc", "frames-1-32MiB-overhead: 8 live 1-32 MiB "
			   "frames, only the first byte written: what the "
			   "allocator costs, not what using the memory costs");
		bench_note("scaling", "xfree-16-256B: 1024 live 16-256 B blocks "
			   "per thread, one free in four done by the next thread; "
			   "Mops/s is of all threads together");
	}
	for (size_t l = 0; l < sizeof(loads) / sizeof(loads[0]); l++)
		for (unsigned threads = 1; threads <= 2; threads++)
			err |= alloc_rows("alloc", &loads[l], threads);
	if (opt.count_ops)
		return err;
	rt[0] = opt.child ? NAN : workers_round_trip_ns();
	for (unsigned threads = 1; threads <= workers_max(); threads *= 2)
		err |= alloc_rows("scaling", &scaling, threads);
	rt[1] = opt.child ? NAN : workers_round_trip_ns();
	if (!isnan(rt[0]))
		bench_note("scaling", "a cache line's round trip between the "
			   "workers' CPUs: %.0f ns before the rows, %.0f ns after",
			   rt[0], rt[1]);
	return err;
}
