// SPDX-License-Identifier: MIT
/*
 * frames: a media application's frame pool.  Each thread keeps LIVE frames
 * (a decoder's reference frames); an operation frees the oldest, allocates
 * a frame in its place and writes every byte of it: wcp_fill() into a
 * wcpool frame, memset() into the others' (or, for the -copy rows,
 * wcp_copy() / memcpy() from a source frame of the thread's on 4 KiB
 * pages).  Frames are NV12: 1080p (3 110 400 B), 4K (12 441 600 B), and a
 * mix drawing one 4K frame to three 1080p ones at random.
 *
 * The allocators are alloc's (allocators.c): wcpool, jemalloc, glibc,
 * memkind and an mmap(MAP_HUGETLB) per frame, on 2 MiB huge pages and on
 * 4 KiB pages, with 1 and 2 worker threads (workers.c).  The reference is
 * glibc; report_ratios.c adds wcpool's speed-up over glibc and jemalloc and
 * its page faults per frame once warmed up.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define FRAME_1080P ((size_t)1920 * 1080 * 3 / 2)
#define FRAME_4K ((size_t)3840 * 2160 * 3 / 2)
#define LIVE 4			/* frames a thread keeps */

struct frame_load {
	const char *name;
	size_t size;		/* 0: the 3:1 mix of 1080p and 4K */
	bool copy;		/* wcp_copy() / memcpy() instead of fill */
};

static const struct frame_load loads[] = {
	{ "1080p-fill", FRAME_1080P, false },
	{ "4K-fill", FRAME_4K, false },
	{ "mix3:1-fill", 0, false },
	{ "1080p-copy", FRAME_1080P, true },
	{ "4K-copy", FRAME_4K, true },
};

/* One thread's, on cache lines of its own */
struct frames_thread {
	_Alignas(64) void *slot[LIVE];
	size_t len[LIVE];
	size_t pos;
	uint64_t rng;
	uint64_t failures;
	char *src;		/* -copy: the source frame */
};

struct frames_case {
	const struct allocator *a;
	const struct frame_load *l;
	struct wcp_pool *pool;	/* wcpool's: written with wcp_fill/wcp_copy */
	unsigned threads;
	uint64_t iters;		/* per thread, this job */
	struct frames_thread *t[WORKERS_MAX];
};

/* --smoke: frames an eighth as big, to be quick */
static size_t shift(void)
{
	return opt.mode == MODE_SMOKE ? 3 : 0;
}

static size_t frame_size(const struct frame_load *l, uint64_t *rng)
{
	size_t size = l->size ? l->size :
		      xorshift(rng) % 4 ? FRAME_1080P : FRAME_4K;

	return size >> shift();
}

static void frames_job(void *arg, unsigned t)
{
	struct frames_case *c = arg;
	struct frames_thread *me = c->t[t];
	const struct allocator *a = c->a;

	for (uint64_t i = 0; i < c->iters; i++) {
		size_t k = me->pos++ % LIVE, size = frame_size(c->l, &me->rng);
		char *p;

		if (me->slot[k])
			a->free(a->ctx, me->slot[k], me->len[k]);
		me->slot[k] = p = a->alloc(a->ctx, size);
		me->len[k] = size;
		if (!p)
			me->failures++;
		else if (c->l->copy && c->pool)
			wcp_copy(c->pool, p, me->src, size);
		else if (c->l->copy)
			memcpy(p, me->src, size);
		else if (c->pool)
			wcp_fill(c->pool, p, (int)i, size);
		else
			memset(p, (int)i, size);
	}
}

static double frames_run(void *arg, uint64_t iters)
{
	struct frames_case *c = arg;

	c->iters = iters;
	return workers_run(c->threads, frames_job, c);
}

static const void *frames_block(void *arg)
{
	struct frames_case *c = arg;

	return c->t[0]->slot[0];
}

static void drain_job(void *arg, unsigned t)
{
	struct frames_case *c = arg;
	struct frames_thread *me = c->t[t];

	for (size_t k = 0; k < LIVE; k++)
		if (me->slot[k])
			c->a->free(c->a->ctx, me->slot[k], me->len[k]);
}

static uint64_t frames_close(void *arg)
{
	struct frames_case *c = arg;
	uint64_t failures = 0;

	if (c->t[c->threads - 1])
		workers_run(c->threads, drain_job, c);
	for (unsigned t = 0; t < c->threads && c->t[t]; t++) {
		failures += c->t[t]->failures;
		anon_free(c->t[t]->src, FRAME_4K >> shift());
		free(c->t[t]);
	}
	free(c);
	return failures;
}

static void *frames_open(const struct row *r, const struct allocator *a)
{
	const struct frame_load *l = r->arg;
	struct frames_case *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	*c = (struct frames_case){ .a = a, .l = l, .threads = r->threads };
	if (!strcmp(a->name, "wcpool"))
		c->pool = a->ctx;
	for (unsigned t = 0; t < c->threads; t++) {
		struct frames_thread *me = aligned_alloc(64, sizeof(*me));

		if (me)
			*me = (struct frames_thread){
				.rng = 0x9e3779b97f4a7c15ull * (t + 1) };
		if (me && l->copy && !(me->src = anon_4k(FRAME_4K >> shift()))) {
			free(me);
			me = NULL;
		}
		if (!(c->t[t] = me)) {
			frames_close(c);
			return NULL;
		}
	}
	/* every slot live twice over */
	frames_run(c, 2 * LIVE);
	return c;
}

int bench_frames(void)
{
	static const char *const compared[] = { "wcpool", "jemalloc", "glibc",
						"memkind", "mmap-hugetlb", NULL };
	/* huge pages of a thread's frames, all 4K at worst, and the allocator's */
	long huge_thread = (long)(LIVE * (((FRAME_4K >> shift()) + 2 * MiB - 1) /
					  (2 * MiB)) + 2);
	int err = 0;

	if (!opt.child)
		bench_note("frames", "NV12 1080p, 4K and 3:1 mixed frames, %d "
			   "live per thread: free the oldest, allocate, write it "
			   "all (wcp_fill/memset; -copy: wcp_copy/memcpy from a "
			   "4 KiB-page frame)", LIVE);
	for (size_t i = 0; i < sizeof(loads) / sizeof(loads[0]); i++) {
		const struct frame_load *l = &loads[i];

		for (unsigned threads = 1; threads <= 2; threads++) {
			struct row r = {
				.sub = "frames", .group = "frames",
				.workload = l->name, .threads = threads,
				.size = l->size >> shift(),
				.bytes = (double)((l->size ? l->size :
						   (3 * FRAME_1080P + FRAME_4K) / 4) >> shift()),
				.huge_each = threads * huge_thread,
				.per_buffer = true, .only = compared, .arg = l,
				/* a sample starts with its own frames cached */
				.warm_ops = LIVE,
				.open = frames_open, .run = frames_run,
				.block = frames_block, .close = frames_close,
			};

			for (int p = 0; p < NPAGES; p++)
				err |= measure_row(&r, p);
		}
	}
	return err;
}
