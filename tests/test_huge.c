// SPDX-License-Identifier: MIT
/*
 * Frame-sized buffers on huge-page pools take whole pages: exact, aligned
 * to the page, back to the system on free, address ranges reused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "helpers.h"

static struct wcp_pool *pool;
static size_t ps;

static void setup(void)
{
	struct wcp_pool_info info;

	if (free_hugepages() < 128)
		cr_skip_test("needs 128 free 2 MiB huge pages (./bootstrap reserves them)");
	pool = make_pool(WCP_PAGE_2M, 0);
	wcp_pool_info(pool, &info);
	ps = info.page_size;
}

static void teardown(void)
{
	wcp_pool_destroy(pool);
}

TestSuite(huge, .init = setup, .fini = teardown);

static struct wcp_pool_stats stats(void)
{
	struct wcp_pool_stats st;

	cr_assert_eq(wcp_pool_stats(pool, &st), 0);
	return st;
}

Test(huge, frames_take_exact_pages)
{
	size_t sizes[] = { 2 * MiB, 8 * MiB, 2 * MiB - 4096, 32 * MiB + 1 };
	size_t pages = 0;
	void *p[4];

	for (int i = 0; i < 4; i++) {
		p[i] = wcp_malloc(pool, sizes[i]);
		cr_assert_not_null(p[i]);
		cr_assert_eq((uintptr_t)p[i] % ps, 0, "page aligned");
		cr_assert_eq(wcp_usable_size(pool, p[i]),
			     (sizes[i] + ps - 1) / ps * ps);
		memset(p[i], i + 1, sizes[i]);
		pages += (sizes[i] + ps - 1) / ps;
	}
	cr_assert_eq(stats().resident, pages * ps, "resident %lu, %zu pages",
		     (unsigned long)stats().resident, pages);
	cr_assert_eq(stats().allocations, 4);
	cr_assert_eq(stats().allocated, pages * ps);
	for (int i = 0; i < 4; i++)
		wcp_free(pool, p[i]);
	cr_assert_eq(stats().allocations, 0);
	cr_assert_eq(stats().allocated, 0);
	/* Up to 64 MiB of freed pages stay committed for reuse ... */
	cr_assert_leq(stats().resident, 64 * MiB);
	/* ... until trimmed. */
	cr_assert_eq(wcp_pool_trim(pool), 0);
	cr_assert_eq(stats().resident, 0, "resident after trim %lu",
		     (unsigned long)stats().resident);
}

Test(huge, freed_pages_are_reused_without_new_commits)
{
	void *p = wcp_malloc(pool, 8 * MiB), *q;
	uint64_t resident;

	memset(p, 1, 8 * MiB);
	resident = stats().resident;
	wcp_free(pool, p);
	cr_assert_eq(stats().resident, resident, "kept committed");
	q = wcp_malloc(pool, 8 * MiB);
	cr_assert_eq(q, p);
	cr_assert_eq(stats().resident, resident);
	wcp_free(pool, q);
}

Test(huge, freed_ranges_coalesce_and_are_reused)
{
	void *p[4], *q;
	uint64_t mapped;

	for (int i = 0; i < 4; i++)
		p[i] = wcp_malloc(pool, 8 * MiB);
	mapped = stats().mapped;
	wcp_free(pool, p[1]);
	wcp_free(pool, p[2]);
	q = wcp_malloc(pool, 16 * MiB);
	cr_assert_eq(q, p[1], "the two freed neighbours make one range");
	cr_assert_eq(stats().mapped, mapped);
	wcp_free(pool, q);
	wcp_free(pool, p[0]);
	wcp_free(pool, p[3]);
}

/*
 * Released and committed free pages coalesce into one range: a buffer
 * larger than either part commits only the pages it lacks.
 */
Test(huge, a_buffer_spans_released_and_committed_free_pages)
{
	void *p = wcp_malloc(pool, 8 * MiB), *q = wcp_malloc(pool, 8 * MiB);
	void *guard = wcp_malloc(pool, 2 * MiB), *r, *p2 = alias_of(p);
	uint64_t resident;

	cr_assert_not_null(guard);
	cr_assert_eq((char *)q, (char *)p + 8 * MiB);
	wcp_free(pool, p);
	cr_assert_eq(wcp_pool_trim(pool), 0);	/* p's pages: released */
	wcp_free(pool, q);			/* q's pages: kept */
	resident = stats().resident;
	r = wcp_malloc(pool, 12 * MiB);
	cr_assert_eq((char *)r, (char *)p2 + 4 * MiB,
		     "the window ending at q's end needs the fewest pages");
	cr_assert_eq(stats().resident, resident + 4 * MiB,
		     "resident %lu, was %lu", (unsigned long)stats().resident,
		     (unsigned long)resident);
	memset(r, 7, 12 * MiB);
	wcp_free(pool, r);
	wcp_free(pool, guard);
}

/*
 * Beyond the cache's bound, free pages go back from the top of the pool,
 * not in the order they were freed.
 */
Test(huge, the_cache_keeps_the_lowest_pages)
{
	void *p[48];

	/* the bound is read at creation: a pool of its own */
	cr_assert_eq(setenv("WCPOOL_FRAME_CACHE", "64M", 1), 0);
	wcp_pool_destroy(pool);
	pool = make_pool(WCP_PAGE_2M, 0);

	for (int i = 0; i < 48; i++) {
		p[i] = wcp_malloc(pool, 2 * MiB);
		cr_assert_not_null(p[i]);
	}
	/* Top down: the pages freed last are the ones that stay. */
	for (int i = 47; i >= 0; i--)
		wcp_free(pool, p[i]);
	/* 96 MiB freed, nothing live: the bound is 64 MiB. */
	cr_assert_eq(stats().resident, 64 * MiB, "resident %lu",
		     (unsigned long)stats().resident);
	cr_assert_eq(wcp_malloc(pool, 64 * MiB), p[0],
		     "the kept pages are one run at the bottom");
	cr_assert_eq(stats().resident, 64 * MiB);
	wcp_free(pool, p[0]);
}

Test(huge, calloc_of_reused_pages_is_zero)
{
	void *p = wcp_malloc(pool, 8 * MiB), *q;

	memset(p, 0xee, 8 * MiB);
	wcp_free(pool, p);
	q = wcp_calloc(pool, 8, MiB);
	cr_assert_eq(q, p, "same range again");
	cr_assert(all_zero(q, 8 * MiB));
	wcp_free(pool, q);
}

Test(huge, realloc_across_the_arena_and_pages)
{
	size_t steps[] = { 100000, 8 * MiB, 100 * MiB, 3 * MiB, 1000 };
	size_t prev = 5000;
	unsigned char *p = wcp_malloc(pool, prev), *q;

	fill_pattern(p, prev, 9);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		size_t keep = prev < steps[i] ? prev : steps[i];

		p = wcp_realloc(pool, p, steps[i]);
		cr_assert_not_null(p, "to %zu", steps[i]);
		cr_assert(check_pattern(p, keep, 9), "%zu -> %zu", prev, steps[i]);
		fill_pattern(p, steps[i], 9);
		prev = steps[i];
	}
	wcp_free(pool, p);
	/* Within the same pages: stays put. */
	p = wcp_malloc(pool, 8 * MiB);
	q = wcp_realloc(pool, p, 8 * MiB - 100000);
	cr_assert_eq(q, p);
	wcp_free(pool, q);
	cr_assert_eq(stats().allocations, 0);
}

/* The address is aligned, not just the offset (the base is not). */
Test(huge, aligned_beyond_the_page)
{
	for (size_t a = 4 * MiB; a <= GiB; a *= 4) {
		void *p = wcp_aligned_alloc(pool, a, 8 * MiB);

		cr_assert_not_null(p);
		cr_assert_eq((uintptr_t)p % a, 0, "alignment %zu", a);
		wcp_free(pool, p);
	}
}

Test(huge, max_size_counts_whole_pages)
{
	struct wcp_pool *small = make_pool(WCP_PAGE_2M, 8 * MiB);
	void *p[5];

	for (int i = 0; i < 4; i++) {
		p[i] = wcp_malloc(small, 2 * MiB);
		cr_assert_not_null(p[i], "buffer %d of 4", i);
	}
	errno = 0;
	cr_assert_null(wcp_malloc(small, 2 * MiB));
	cr_assert_eq(errno, ENOMEM);
	wcp_free(small, p[2]);
	p[2] = wcp_malloc(small, 2 * MiB);
	cr_assert_not_null(p[2]);
	for (int i = 0; i < 4; i++)
		wcp_free(small, p[i]);
	wcp_pool_destroy(small);
}

static void free_it(void *p)
{
	wcp_free(pool, p);
}

Test(huge, misuse_is_caught)
{
	char *p = wcp_malloc(pool, 8 * MiB), *p2 = alias_of(p);

	expect_abort(free_it, p + 2 * MiB, "not a live allocation");
	wcp_free(pool, p);
	expect_abort(free_it, p2, "not a live allocation");
}

static long minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/*
 * Frames on a 4 KiB pool are reused too: the same 4K NV12 frame size
 * again and again faults no page in once warm.  Through jemalloc each
 * cycle faulted every page (it purges blocks of 8 MiB or more at once).
 */
Test(frames4k, same_size_frames_fault_nothing_when_warm)
{
	struct wcp_pool *p4k = make_pool(WCP_PAGE_4K, 0);
	size_t len = 12441600;	/* 4K NV12 */
	unsigned char *f[3] = { 0 };
	long before;

	for (int i = 0; i < 3; i++) {
		f[i] = wcp_malloc(p4k, len);
		cr_assert_not_null(f[i]);
		memset(f[i], i, len);
	}
	for (int round = 0; round < 2; round++) {
		before = minor_faults();
		for (int i = 0; i < 30; i++) {
			wcp_free(p4k, f[i % 3]);
			f[i % 3] = wcp_malloc(p4k, len);
			cr_assert_not_null(f[i % 3]);
			memset(f[i % 3], i, len);
		}
	}
	/* Second round, 30 frames of 3038 pages each: next to none. */
	cr_assert_lt(minor_faults() - before, 3038,
		     "%ld faults in 30 warm frames", minor_faults() - before);
	for (int i = 0; i < 3; i++)
		wcp_free(p4k, f[i]);
	wcp_pool_destroy(p4k);
}
