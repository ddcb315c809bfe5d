// SPDX-License-Identifier: MIT
/*
 * Many threads on one pool, frees from other threads than the allocating
 * one: no block is handed out twice (patterns stay intact) and the counts
 * come back to zero.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "helpers.h"

#define THREADS 4
#define ROUNDS 100000
#define SLOTS 64
#define HELD 32

struct block {
	unsigned char *p;
	size_t size;
	unsigned seed;
};

static struct wcp_pool *pool;
/* Blocks handed from one thread to be freed by another. */
static _Atomic(struct block *) exchange[SLOTS];
static atomic_int corrupted;

static size_t pick_size(unsigned *r)
{
	*r = *r * 1103515245u + 12345u;
	if ((*r >> 8) % 100 == 0)
		return MiB + (*r >> 4) % (3 * MiB);
	return 1 + (*r >> 8) % 65536;
}

/* Head pattern and a tail byte: cheap, and catches any overlap. */
static size_t head_of(size_t size)
{
	return size - 1 < 256 ? size - 1 : 256;
}

static void verify_and_free(struct block *b)
{
	size_t n = head_of(b->size);

	if (!check_pattern(b->p, n, b->seed) ||
	    b->p[b->size - 1] != (unsigned char)b->seed)
		atomic_fetch_add(&corrupted, 1);
	wcp_free(pool, b->p);
	free(b);
}

static struct block *new_block(unsigned *r, unsigned seed)
{
	struct block *b = malloc(sizeof(*b));

	b->size = pick_size(r);
	b->seed = seed;
	b->p = wcp_malloc(pool, b->size);
	if (!b->p) {
		free(b);
		return NULL;
	}
	fill_pattern(b->p, head_of(b->size), seed);
	b->p[b->size - 1] = (unsigned char)seed;
	return b;
}

static void *worker(void *arg)
{
	unsigned r = (unsigned)(uintptr_t)arg * 7919u + 1;
	struct block *held[HELD] = { 0 };

	for (unsigned i = 0; i < ROUNDS; i++) {
		unsigned k = i % HELD;
		struct block *b;

		if (held[k]) {
			/* Half the blocks are freed by whoever finds them. */
			if (i & 1)
				held[k] = atomic_exchange(&exchange[(r >> 3) % SLOTS],
							  held[k]);
			if (held[k])
				verify_and_free(held[k]);
		}
		b = new_block(&r, (unsigned)(uintptr_t)arg * 1000003u + i);
		if (!b)
			atomic_fetch_add(&corrupted, 1000000);
		held[k] = b;
	}
	for (unsigned k = 0; k < HELD; k++)
		if (held[k])
			verify_and_free(held[k]);
	return NULL;
}

Test(threads, cross_thread_malloc_and_free, .timeout = 120)
{
	pthread_t t[THREADS];
	struct wcp_pool_stats st;

	pool = make_pool(0, 0);
	for (uintptr_t i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (int s = 0; s < SLOTS; s++)
		if (exchange[s])
			verify_and_free(exchange[s]);
	cr_assert_eq(atomic_load(&corrupted), 0, "%d corrupted (1000000 per failed malloc)",
		     atomic_load(&corrupted));
	cr_assert_eq(wcp_pool_stats(pool, &st), 0);
	cr_assert_eq(st.allocations, 0);
	cr_assert_eq(st.allocated, 0);
	wcp_pool_destroy(pool);
}

static void *create_use_destroy(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20; i++) {
		struct wcp_pool_options o = { .page_size = WCP_PAGE_4K,
					      .max_size = 64 * MiB };
		struct wcp_pool *own;
		void *p;

		if (wcp_pool_create(&o, &own))
			return (void *)1;
		p = wcp_malloc(own, 1000);
		if (!p)
			return (void *)2;
		memset(p, i, 1000);
		wcp_free(own, p);
		wcp_pool_destroy(own);
	}
	return NULL;
}

Test(threads, pools_created_and_destroyed_concurrently)
{
	pthread_t t[THREADS];
	void *ret;

	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, create_use_destroy,
					    NULL), 0);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], &ret);
		cr_assert_null(ret, "thread %d failed at step %p", i, ret);
	}
}
