// SPDX-License-Identifier: MIT
/*
 * Frees by a thread of another arena (libwcpool/remote.h): such blocks go
 * home without touching the block map at the free.  They count as freed
 * at once, come back to their arena (memory does not grow, the allocating
 * thread gets them again, wcp_pool_trim() returns them), and misuse is
 * still caught: a double free or an interior pointer freed by another
 * thread aborts, at the latest when the blocks reach home.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "helpers.h"

#define N 2000

static struct wcp_pool *pool;
static void *blocks[N];
static size_t sizes[N];

/* Runs @fn in a new thread (a record of its own: the next arena slot). */
static void in_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, fn, arg), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
}

static void *free_all(void *arg)
{
	(void)arg;
	for (int i = 0; i < N; i++) {
		if (!check_pattern(blocks[i], sizes[i], (unsigned)i))
			return (void *)1;
		wcp_free(pool, blocks[i]);
	}
	return NULL;
}

static uint64_t active(void)
{
	struct wcp_pool_stats st;

	cr_assert_eq(wcp_pool_stats(pool, &st), 0);
	return st.active;
}

Test(remote, freed_blocks_count_at_once_and_come_home, .timeout = 60)
{
	struct wcp_pool_stats st;
	uint64_t first = 0;
	unsigned r = 1;

	pool = make_pool(0, 0);
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < N; i++) {
			r = r * 1103515245u + 12345u;
			sizes[i] = 16 + (r >> 8) % 241;
			blocks[i] = wcp_malloc(pool, sizes[i]);
			cr_assert_not_null(blocks[i]);
			fill_pattern(blocks[i], sizes[i], (unsigned)i);
		}
		in_thread(free_all, NULL);
		cr_assert_eq(wcp_pool_stats(pool, &st), 0);
		cr_assert_eq(st.allocations, 0, "round %d", round);
		cr_assert_eq(st.allocated, 0, "round %d", round);
		if (!round)
			first = active();
	}
	/* Without the blocks coming home: 20 rounds' worth, over 5 MiB. */
	cr_expect_leq(active(), first + 1 * MiB, "active %lu after 20 rounds, %lu after 1",
		      (unsigned long)active(), (unsigned long)first);
	cr_assert_eq(wcp_pool_trim(pool), 0);
	cr_expect_leq(active(), first, "after trim");
	wcp_pool_destroy(pool);
}

static void *free_one(void *p)
{
	wcp_free(pool, p);
	return NULL;
}

/* The thread that made a block gets it back once another freed it. */
Test(remote, the_allocating_thread_gets_its_block_back)
{
	void *p, *q = NULL;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		cr_skip_test("one CPU: the pool has one arena, nothing is remote");
	pool = make_pool(0, 0);
	p = wcp_malloc(pool, 64);
	cr_assert_not_null(p);
	in_thread(free_one, p);
	for (int i = 0; i < 1000 && q != p; i++) {
		q = wcp_malloc(pool, 64);
		cr_assert_not_null(q);
	}
	cr_expect_eq(q, p, "the block did not come back in 1000 mallocs");
	wcp_pool_destroy(pool);
}

static void *free_twice(void *p)
{
	void *again = alias_of(p);

	wcp_free(pool, p);
	wcp_free(pool, again);
	return NULL;
}

Test(remote, double_free_by_another_thread_aborts, .signal = SIGABRT)
{
	void *p;

	pool = make_pool(0, 0);
	p = wcp_malloc(pool, 48);
	cr_assert_not_null(p);
	in_thread(free_twice, p);
	/* Caught at the latest here, when the blocks come home. */
	wcp_pool_trim(pool);
}

Test(remote, interior_pointer_freed_by_another_thread_aborts,
     .signal = SIGABRT)
{
	char *p;

	pool = make_pool(0, 0);
	p = wcp_malloc(pool, 256);
	cr_assert_not_null(p);
	in_thread(free_one, p + 64);
	wcp_pool_trim(pool);
}

/* A block freed twice, once at home and once away: caught too. */
Test(remote, double_free_here_and_away_aborts, .signal = SIGABRT)
{
	void *p, *hidden;

	pool = make_pool(0, 0);
	p = wcp_malloc(pool, 32);
	cr_assert_not_null(p);
	hidden = alias_of(p);
	in_thread(free_one, p);
	wcp_free(pool, hidden);
	wcp_pool_trim(pool);
	/* The block may also be handed out twice: that aborts as well. */
	for (int i = 0; i < 1000; i++)
		cr_assert_not_null(wcp_malloc(pool, 32));
}

/* Blocks of the large classes (14-64 KiB) freed away come home too. */
static void *free_large(void *arg)
{
	(void)arg;
	for (int i = 0; i < 64; i++)
		wcp_free(pool, blocks[i]);
	return NULL;
}

Test(remote, large_class_blocks_freed_away_come_home)
{
	struct wcp_pool_stats st;
	uint64_t first = 0;

	pool = make_pool(0, 0);
	for (int round = 0; round < 10; round++) {
		for (int i = 0; i < 64; i++) {
			blocks[i] = wcp_malloc(pool, 16384 + (size_t)i * 768);
			cr_assert_not_null(blocks[i]);
		}
		in_thread(free_large, NULL);
		cr_assert_eq(wcp_pool_stats(pool, &st), 0);
		cr_assert_eq(st.allocations, 0, "round %d", round);
		cr_assert_eq(st.allocated, 0, "round %d", round);
		if (!round)
			first = active();
	}
	cr_expect_leq(active(), first + 1 * MiB, "active %lu after 10 rounds, %lu after 1",
		      (unsigned long)active(), (unsigned long)first);
	wcp_pool_destroy(pool);
}

Test(remote, double_free_of_a_large_class_block_away_aborts,
     .signal = SIGABRT)
{
	void *p;

	pool = make_pool(0, 0);
	p = wcp_malloc(pool, 32768);
	cr_assert_not_null(p);
	in_thread(free_twice, p);
	wcp_pool_trim(pool);
}
