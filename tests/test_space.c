// SPDX-License-Identifier: MIT
/*
 * A pool's address space freed by one of its parts serves the others:
 * frames (whole pages, huge.c) freed serve blocks (jemalloc's arenas), and
 * blocks freed on one thread's arena serve a thread on another arena while
 * the first lives on.  Memory taken again reads as zero through
 * wcp_calloc().  (Not the other way round in full: an arena keeps the
 * unused rest of each 2 MiB it grows by, which frames cannot use.)  Space
 * given back is taken again before new space: rounds of blocks freed and
 * purged do not move on through the pool.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define POOL_SIZE ((uint64_t)8 << 20)
#define BLOCK ((size_t)256 << 10)
/* Whole pages on either page size (huge.c's smallest frame on 4 KiB). */
#define FRAME ((size_t)2 << 20)
#define MAX_BUFS 64

/* Take @size buffers until the pool says ENOMEM; return how many. */
static int fill(struct wcp_pool *pool, size_t size, bool zero, void **bufs)
{
	int n = 0;
	void *p;

	while (n < MAX_BUFS &&
	       (p = zero ? wcp_calloc(pool, 1, size) : wcp_malloc(pool, size))) {
		if (zero)
			cr_assert(all_zero(p, size),
				  "buffer %d of %zu bytes, taken again, is not zero",
				  n, size);
		fill_pattern(p, size, (unsigned)n);
		bufs[n++] = p;
	}
	cr_assert_lt(n, MAX_BUFS);
	cr_assert_eq(errno, ENOMEM, "buffer %d of %zu bytes: %s", n, size,
		     strerror(errno));
	return n;
}

static void free_all(struct wcp_pool *pool, void **bufs, int n, size_t size)
{
	for (int i = 0; i < n; i++) {
		cr_assert(check_pattern(bufs[i], size, (unsigned)i));
		wcp_free(pool, bufs[i]);
	}
}

/* How many buffers of @size a fresh pool holds. */
static int capacity(uint64_t page_size, size_t size)
{
	struct wcp_pool *pool = make_pool(page_size, POOL_SIZE);
	void *bufs[MAX_BUFS];
	int n = fill(pool, size, false, bufs);

	free_all(pool, bufs, n, size);
	wcp_pool_destroy(pool);
	return n;
}

/* Frames fill the pool, all freed: as many blocks fit as in a fresh pool. */
static void frames_then_blocks(uint64_t page_size)
{
	struct wcp_pool *pool = make_pool(page_size, POOL_SIZE);
	int fresh = capacity(page_size, BLOCK), n;
	void *bufs[MAX_BUFS];

	n = fill(pool, FRAME, false, bufs);
	cr_assert_geq(n, 2);
	free_all(pool, bufs, n, FRAME);
	n = fill(pool, BLOCK, true, bufs);
	cr_expect_geq(n, fresh,
		      "%d blocks of %zu bytes after frames (%d in a fresh pool)",
		      n, BLOCK, fresh);
	free_all(pool, bufs, n, BLOCK);
	wcp_pool_destroy(pool);
}

Test(space, frames_then_blocks_4k)
{
	frames_then_blocks(WCP_PAGE_4K);
}

Test(space, frames_then_blocks_2m)
{
	frames_then_blocks(WCP_PAGE_2M);
}

static uint64_t mapped(struct wcp_pool *pool)
{
	struct wcp_pool_stats st;

	cr_assert_eq(wcp_pool_stats(pool, &st), 0);
	return st.mapped;
}

/*
 * Blocks of a size whose extents jemalloc would grow by a larger step
 * (100000 bytes: 116 KiB extents, 128 KiB steps), all freed and purged
 * (given back) each round: the pool maps no more after 20 rounds than
 * after the first.  Taking a step past ranges that hold the exact size
 * moved on by a step every round.
 */
Test(space, rounds_of_blocks_reuse_the_space_given_back)
{
	struct wcp_pool *pool = make_pool(WCP_PAGE_4K, 0);
	void *bufs[MAX_BUFS];
	uint64_t first = 0;

	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < MAX_BUFS; i++) {
			bufs[i] = wcp_malloc(pool, 100000);
			cr_assert_not_null(bufs[i]);
		}
		for (int i = 0; i < MAX_BUFS; i++)
			wcp_free(pool, bufs[i]);
		cr_assert_eq(wcp_pool_trim(pool), 0);
		if (!round)
			first = mapped(pool);
	}
	cr_expect_eq(mapped(pool), first, "mapped %llu after 20 rounds, %llu after one",
		     (unsigned long long)mapped(pool),
		     (unsigned long long)first);
	wcp_pool_destroy(pool);
}

static struct wcp_pool *shared_pool;
static pthread_barrier_t freed, done;
static int thread_blocks;

/* Fill the pool from this thread's arena, free it all, live on. */
static void *fill_and_free(void *arg)
{
	void *bufs[MAX_BUFS];
	int n = fill(shared_pool, BLOCK, false, bufs);

	(void)arg;
	thread_blocks = n;
	free_all(shared_pool, bufs, n, BLOCK);
	pthread_barrier_wait(&freed);
	pthread_barrier_wait(&done);
	return NULL;
}

static void other_arena(uint64_t page_size)
{
	void *bufs[MAX_BUFS];
	pthread_t t;
	int n;

	/* A pool makes one arena per CPU and hands them to threads in turn. */
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		cr_skip_test("one CPU: the pool has one arena for all threads");
	shared_pool = make_pool(page_size, POOL_SIZE);
	/* This thread takes the first arena, the next thread the second. */
	wcp_free(shared_pool, wcp_malloc(shared_pool, 64));
	pthread_barrier_init(&freed, NULL, 2);
	pthread_barrier_init(&done, NULL, 2);
	cr_assert_eq(pthread_create(&t, NULL, fill_and_free, NULL), 0);
	pthread_barrier_wait(&freed);
	n = fill(shared_pool, BLOCK, true, bufs);
	/* Besides what its own arena had: what the other arena freed. */
	cr_assert_gt(thread_blocks, 2);
	cr_expect_geq(n, thread_blocks,
		      "%d blocks of %zu bytes after another thread freed %d",
		      n, BLOCK, thread_blocks);
	free_all(shared_pool, bufs, n, BLOCK);
	pthread_barrier_wait(&done);
	cr_assert_eq(pthread_join(t, NULL), 0);
	pthread_barrier_destroy(&freed);
	pthread_barrier_destroy(&done);
	wcp_pool_destroy(shared_pool);
}

Test(space, another_threads_arena_4k)
{
	other_arena(WCP_PAGE_4K);
}

Test(space, another_threads_arena_2m)
{
	other_arena(WCP_PAGE_2M);
}
