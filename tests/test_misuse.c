// SPDX-License-Identifier: MIT
/*
 * Misuse is reported and stops the process before memory is corrupted:
 * every case must abort with a message naming the problem.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "helpers.h"

static struct wcp_pool *pool;

static void setup(void)
{
	pool = make_pool(0, 0);
}

static void teardown(void)
{
	wcp_pool_destroy(pool);
}

TestSuite(misuse, .init = setup, .fini = teardown);

static void free_it(void *p)
{
	wcp_free(pool, p);
}

static void realloc_it(void *p)
{
	wcp_free(pool, wcp_realloc(pool, p, 100));
}

static void usable_size_of(void *p)
{
	wcp_usable_size(pool, p);
}

Test(misuse, free_of_heap_pointer)
{
	void *heap = malloc(64);

	expect_abort(free_it, heap, "wcp_free(): invalid pointer (not from this pool)");
	free(heap);
}

Test(misuse, free_of_stack_pointer)
{
	int on_stack;

	expect_abort(free_it, &on_stack, "invalid pointer (not from this pool)");
}

Test(misuse, free_of_interior_pointer)
{
	char *p = wcp_malloc(pool, 256);

	expect_abort(free_it, p + 16, "not a live allocation");
	expect_abort(free_it, p + 1, "not a live allocation");
	wcp_free(pool, p);
}

/* Blocks of 14-64 KiB come from the thread's cache too: same checks. */
Test(misuse, misuse_of_cached_large_blocks)
{
	char *p = wcp_malloc(pool, 40000), *q = wcp_malloc(pool, 20000);
	void *q2 = alias_of(q);

	expect_abort(free_it, p + 16, "not a live allocation");
	expect_abort(free_it, p + 4096, "not a live allocation");
	wcp_free(pool, q);
	expect_abort(free_it, q2, "not a live allocation");
	expect_abort(usable_size_of, q2, "wcp_usable_size(): invalid pointer");
	wcp_free(pool, p);
}

Test(misuse, double_free)
{
	void *p = wcp_malloc(pool, 100), *p2 = alias_of(p);
	void *big = wcp_malloc(pool, 5 * MiB), *big2 = alias_of(big);

	wcp_free(pool, p);
	wcp_free(pool, big);
	expect_abort(free_it, p2, "not a live allocation");
	expect_abort(free_it, big2, "not a live allocation");
}

Test(misuse, free_into_the_wrong_pool)
{
	struct wcp_pool *other = make_pool(WCP_PAGE_4K, 64 * MiB);
	void *q = wcp_malloc(other, 100);

	expect_abort(free_it, q, "not from this pool");
	wcp_free(other, q);
	wcp_pool_destroy(other);
}

Test(misuse, realloc_of_foreign_or_freed_pointer)
{
	void *heap = malloc(64);
	void *p = wcp_malloc(pool, 64), *p2 = alias_of(p);

	expect_abort(realloc_it, heap, "wcp_realloc(): invalid pointer");
	wcp_free(pool, p);
	expect_abort(realloc_it, p2, "not a live allocation");
	free(heap);
}

Test(misuse, usable_size_of_freed_pointer)
{
	void *p = wcp_malloc(pool, 64), *p2 = alias_of(p);

	wcp_free(pool, p);
	expect_abort(usable_size_of, p2, "wcp_usable_size(): invalid pointer");
}

static void free_with_null_pool(void *p)
{
	wcp_free(NULL, p);
}

Test(misuse, free_with_null_pool)
{
	void *p = wcp_malloc(pool, 64);

	expect_abort(free_with_null_pool, p, "NULL pool");
	wcp_free(pool, p);
}

/* After a reported misuse nothing was damaged: the pool still works. */
Test(misuse, pool_survives_in_the_parent)
{
	void *p = wcp_malloc(pool, 64), *p2 = alias_of(p);
	struct wcp_pool_stats st;

	wcp_free(pool, p);
	expect_abort(free_it, p2, "not a live allocation");
	p = wcp_malloc(pool, 64);
	cr_assert_not_null(p);
	wcp_free(pool, p);
	wcp_pool_stats(pool, &st);
	cr_assert_eq(st.allocations, 0);
}
