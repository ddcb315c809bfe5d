// SPDX-License-Identifier: MIT
/*
 * The allocator never reads or writes pool memory: with the whole pool
 * mapped PROT_NONE, malloc/free/aligned_alloc/usable_size/trim cycles run
 * without a fault.  On WC or UC memory any such access would be a slow
 * uncached read, so this is a performance property as much as hygiene.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/mman.h>

#include "helpers.h"

static const size_t sizes[] = { 8, 24, 100, 640, 4000, 20000, 100000,
				1 * MiB, 3 * MiB };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define PER_SIZE 64

/* Allocations made, and how many of them fell in [lo, hi). */
struct tally {
	const char *lo, *hi;
	unsigned long made, inside;
};

static void cycle(struct wcp_pool *pool, int rounds, struct tally *t)
{
	void *p[NSIZES][PER_SIZE];

	for (int r = 0; r < rounds; r++) {
		for (size_t s = 0; s < NSIZES; s++)
			for (int k = 0; k < PER_SIZE; k++) {
				char *q = (k & 3) ?
					wcp_malloc(pool, sizes[s]) :
					wcp_aligned_alloc(pool, 4096, sizes[s]);

				cr_assert_not_null(q);
				cr_assert_geq(wcp_usable_size(pool, q), sizes[s]);
				t->made++;
				t->inside += q >= t->lo && q < t->hi;
				p[s][k] = q;
			}
		for (size_t s = 0; s < NSIZES; s++)
			for (int k = 0; k < PER_SIZE; k++)
				wcp_free(pool, p[s][k]);
	}
}

static void run_protected(uint64_t page_size)
{
	struct wcp_pool *pool = make_pool(page_size, 0);
	struct wcp_pool_info info;
	struct wcp_pool_stats st;
	struct tally warm = { 0 }, t = { 0 };

	/* Let the arena map what it needs first, with normal protection. */
	cycle(pool, 3, &warm);
	cr_assert_eq(wcp_pool_trim(pool), 0);
	cycle(pool, 3, &warm);
	wcp_pool_info(pool, &info);
	wcp_pool_stats(pool, &st);
	t.lo = info.base;
	t.hi = t.lo + st.mapped;
	cr_assert_eq(mprotect(info.base, st.mapped, PROT_NONE), 0);
	cycle(pool, 20, &t);
	cr_assert_eq(wcp_pool_trim(pool), 0);
	cycle(pool, 5, &t);
	cr_assert_eq(mprotect(info.base, st.mapped, PROT_READ | PROT_WRITE), 0);
	/*
	 * No fault so far.  jemalloc's time-based decay may place a few
	 * blocks in newly mapped (unprotected) space; nearly all must have
	 * been in the protected range for the run to prove anything.
	 */
	cr_assert_geq(t.inside * 100, t.made * 95, "%lu of %lu in the protected range",
		      t.inside, t.made);
	wcp_pool_destroy(pool);
}

Test(untouched, allocator_never_touches_small_page_pool)
{
	run_protected(WCP_PAGE_4K);
}

Test(untouched, allocator_never_touches_default_pool)
{
	run_protected(0);
}

/* The check is real: touching protected pool memory does fault. */
Test(untouched, protected_pool_memory_faults, .signal = SIGSEGV)
{
	struct wcp_pool *pool = make_pool(WCP_PAGE_4K, 0);
	struct wcp_pool_info info;
	struct wcp_pool_stats st;
	volatile char *p = wcp_malloc(pool, 100);

	wcp_pool_info(pool, &info);
	wcp_pool_stats(pool, &st);
	cr_assert_eq(mprotect(info.base, st.mapped, PROT_NONE), 0);
	p[0] = 1;
}
