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
 *   mixed-64B-64KiB         256 live, first byte written;
 *   frames-1-32MiB-overhead 8 live, first byte written only: what the
 *                           allocator costs, not what using a frame does;
 * with 1 and 2 threads, each on its own window.
 *
 * scaling: 16-256 B blocks, 1024 live per thread, one free in four handed
 * to the next thread (a ring each) to do, with 1, 2, 4... threads up to
 * the CPUs: a thread does the same work at every count, so its throughput
 * should not drop as threads are added.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define SEQ_LEN 4096		/* steps drawn in advance, a power of 2 */
#define RING_LEN 1024		/* blocks in flight to the next thread */
#define MAX_SLOTS 1024

struct load {
	const char *name;
	size_t lo, hi, slots;
	bool write;		/* the first byte of each new block */
	bool frames;		/* an mmap(MAP_HUGETLB) per buffer too */
};

static const struct load loads[] = {
	{ "free+malloc-16-256B", 16, 256, 1024, false, false },
	{ "mixed-64B-64KiB", 64, 64 * KiB, 256, true, false },
	{ "frames-1-32MiB-overhead", 1 * MiB, 32 * MiB, 8, true, true },
};
static const struct load scaling = { "xfree-16-256B", 16, 256, 1024, false, false };

/* Blocks freed by one thread for another: one writer, one reader. */
struct ring {
	_Alignas(64) _Atomic size_t head;	/* written by the reader */
	_Alignas(64) _Atomic size_t tail;	/* written by the writer */
	void *slot[RING_LEN];
};

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
	struct ring *in, *out;	/* scaling: from the previous, to the next */
};

struct alloc_case {
	const struct allocator *a;
	const struct load *l;
	size_t slots;
	unsigned threads;
	uint64_t iters;		/* per thread, this job */
	struct window *w[WORKERS_MAX];
	struct ring *ring[WORKERS_MAX];
};

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* log-uniform in [lo, hi] */
static size_t pick_size(uint64_t *rng, size_t lo, size_t hi)
{
	unsigned bits_lo = 63 - (unsigned)__builtin_clzll(lo);
	unsigned bits_hi = 63 - (unsigned)__builtin_clzll(hi);
	uint64_t r = xorshift(rng);
	unsigned b = bits_lo + (unsigned)(r % (bits_hi - bits_lo + 1));
	size_t base = (size_t)1 << b, n = base + (size_t)((r >> 8) % base);

	return n < lo ? lo : n > hi ? hi : n;
}

static bool ring_push(struct ring *r, void *p)
{
	size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);

	if (t - atomic_load_explicit(&r->head, memory_order_acquire) == RING_LEN)
		return false;
	r->slot[t % RING_LEN] = p;
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	return true;
}

static void *ring_pop(struct ring *r)
{
	size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	void *p;

	if (h == atomic_load_explicit(&r->tail, memory_order_acquire))
		return NULL;
	p = r->slot[h % RING_LEN];
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return p;
}

static void run_ops(struct alloc_case *x, struct window *w, uint64_t iters)
{
	const struct allocator *a = x->a;

	for (uint64_t i = 0; i < iters; i++) {
		const struct step *s = &w->seq[w->pos++ % SEQ_LEN];
		void *old = w->slot[s->slot];
		char *p;

		if (old && !(w->out && w->pos % 4 == 0 && ring_push(w->out, old)))
			a->free(a->ctx, old, w->len[s->slot]);
		if (w->in)
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

/* Every slot live, in the thread that will use it. */
static void warm_job(void *arg, unsigned t)
{
	struct alloc_case *x = arg;

	run_ops(x, x->w[t], 4 * x->slots);
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
}

static void case_free(struct alloc_case *x)
{
	for (unsigned t = 0; t < x->threads; t++) {
		free(x->w[t]);
		free(x->ring[t]);
	}
	free(x);
}

static struct alloc_case *case_new(const struct allocator *a,
				   const struct load *l, size_t slots,
				   unsigned threads, bool xfree)
{
	struct alloc_case *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	*x = (struct alloc_case){ .a = a, .l = l, .slots = slots, .threads = threads };
	for (unsigned t = 0; t < threads; t++) {
		uint64_t rng = 0x9e3779b97f4a7c15ull * (t + 1);

		x->w[t] = aligned_alloc(64, sizeof(struct window));
		x->ring[t] = xfree ? aligned_alloc(64, sizeof(struct ring)) : NULL;
		if (!x->w[t] || (xfree && !x->ring[t])) {
			case_free(x);
			return NULL;
		}
		memset(x->w[t], 0, sizeof(struct window));
		for (size_t i = 0; i < SEQ_LEN; i++)
			x->w[t]->seq[i] = (struct step){
				.slot = (uint16_t)(xorshift(&rng) % slots),
				.size = (uint32_t)pick_size(&rng, l->lo, l->hi),
			};
		if (xfree) {
			atomic_init(&x->ring[t]->head, 0);
			atomic_init(&x->ring[t]->tail, 0);
		}
	}
	for (unsigned t = 0; xfree && t < threads; t++) {
		x->w[t]->in = x->ring[t];
		x->w[t]->out = x->ring[(t + 1) % threads];
	}
	return x;
}

/* One row: the allocators of @pages, then glibc's twin on huge pages. */
static int alloc_row(const char *group, const struct load *l, enum pages pages,
		     unsigned threads, bool xfree)
{
	size_t slots = l->slots;
	struct alloc_case *x[MAX_ALLOCATORS];
	struct bench_case c[MAX_ALLOCATORS];
	struct alloc_set s;
	char memory[40];
	long huge;

	if (opt.mode == MODE_SMOKE)
		slots = l->frames ? 4 : slots > 64 ? 64 : slots;
	/* the most pages a window pins, and a few for the allocator's own */
	huge = (long)(threads * ((slots * (l->frames ? 2 * MiB + l->hi : l->hi)) /
				 (2 * MiB) + 2));
	snprintf(memory, sizeof(memory), "%s %s", l->name, pages_label[pages]);
	if (alloc_row_wanted(memory, threads)) {
		size_t n = alloc_set_open(&s, group, pages, threads, huge, l->frames);

		for (size_t i = 0; i < n; i++) {
			x[i] = case_new(&s.a[i], l, slots, threads, xfree);
			if (!x[i])
				return -1;
			workers_run(threads, warm_job, x[i]);
			c[i] = (struct bench_case){ .name = s.a[i].name,
						    .fn = alloc_run, .arg = x[i],
						    .comparable = true };
		}
		if (n)
			measure_set(group, memory, 0, 0, threads, c, n);
		for (size_t i = 0; i < n; i++) {
			uint64_t failures = 0;

			alloc_check_pages(&s, s.a[i].name, x[i]->w[0]->slot[0]);
			workers_run(threads, drain_job, x[i]);
			for (unsigned t = 0; t < threads; t++)
				failures += x[i]->w[t]->failures;
			if (failures)
				bench_note(group, "%s %s %u threads: %llu allocations "
					   "failed", c[i].name, memory, threads,
					   (unsigned long long)failures);
			case_free(x[i]);
		}
		alloc_set_close(&s);
	}
	if (pages == PAGES_HUGETLB_2M)
		glibc_hugetlb_row("alloc", group, memory, threads, huge);
	return 0;
}

int bench_alloc(void)
{
	int err = 0;

	if (!opt.child) {
		bench_note("alloc", "free+malloc-16-256B: one free and one malloc "
			   "of 16-256 B blocks, 1024 live per thread, nothing "
			   "written; mixed-64B-64KiB: 256 live, first byte written");
		bench_note("alloc", "frames-1-32MiB-overhead: 8 live 1-32 MiB "
			   "frames, only the first byte written: what the "
			   "allocator costs, not what using the memory costs");
		bench_note("scaling", "xfree-16-256B: 1024 live 16-256 B blocks "
			   "per thread, one free in four done by the next thread; "
			   "Mops/s is of all threads together");
	}
	for (size_t l = 0; l < sizeof(loads) / sizeof(loads[0]); l++)
		for (unsigned threads = 1; threads <= 2; threads++)
			for (int p = 0; p < NPAGES; p++)
				err |= alloc_row("alloc", &loads[l], p, threads, false);
	for (unsigned threads = 1; threads <= workers_max(); threads *= 2)
		for (int p = 0; p < NPAGES; p++)
			err |= alloc_row("scaling", &scaling, p, threads, true);
	return err;
}
