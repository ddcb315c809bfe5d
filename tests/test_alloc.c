// SPDX-License-Identifier: MIT
/* The malloc family on a pool: sizes, alignment, zeroing, data kept. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static struct wcp_pool *pool;

static void setup(void)
{
	pool = make_pool(0, 0);
}

static void teardown(void)
{
	struct wcp_pool_stats st;

	/* Every test frees what it allocated. */
	cr_assert_eq(wcp_pool_stats(pool, &st), 0);
	cr_expect_eq(st.allocations, 0, "leaked %lu allocations",
		     (unsigned long)st.allocations);
	wcp_pool_destroy(pool);
}

TestSuite(alloc, .init = setup, .fini = teardown);

static void check_allocation(void *p, size_t size, unsigned seed)
{
	cr_assert_not_null(p, "size %zu", size);
	cr_assert(wcp_owns(pool, p));
	cr_assert_geq(wcp_usable_size(pool, p), size);
	/* wcpool.h promises malloc()'s 16 bytes for every size. */
	cr_assert_eq((uintptr_t)p % 16, 0, "size %zu at %p", size, p);
	fill_pattern(p, size, seed);
}

Test(alloc, sizes_from_one_byte_to_64_mib)
{
	void *p[64];
	size_t sizes[64];
	int n = 0;

	for (size_t s = 1; s <= 64 * MiB; s *= 2) {
		size_t cand[3] = { s - 1, s, s + 1 };

		for (int k = 0; k < 3 && n < 64; k++) {
			if (!cand[k])
				continue;
			sizes[n] = cand[k];
			p[n] = wcp_malloc(pool, cand[k]);
			check_allocation(p[n], cand[k], (unsigned)n);
			n++;
		}
	}
	/* Nothing overlapped: every pattern is still intact. */
	for (int i = 0; i < n; i++) {
		cr_assert(check_pattern(p[i], sizes[i], (unsigned)i),
			  "size %zu corrupted", sizes[i]);
		wcp_free(pool, p[i]);
	}
}

Test(alloc, beyond_one_gib)
{
	struct wcp_pool *big;
	struct wcp_pool_info info;
	size_t size = GiB + MiB;
	unsigned char *p;

	/*
	 * Huge pages if the system has them free (bootstrap reserves enough
	 * for this and the tests running beside it), else 4 KiB pages.
	 */
	big = make_pool(free_hugepages() * WCP_PAGE_2M > size + 512 * MiB ?
				WCP_PAGE_2M : WCP_PAGE_4K, 4 * GiB);
	wcp_pool_info(big, &info);
	p = wcp_malloc(big, size);
	cr_assert_not_null(p, "1 GiB + 1 MiB on %lu-byte pages",
			   (unsigned long)info.page_size);
	cr_assert_geq(wcp_usable_size(big, p), size);
	p[0] = 1;
	p[size / 2] = 2;
	p[size - 1] = 3;
	cr_assert_eq(p[0] + p[size / 2] + p[size - 1], 6);
	wcp_free(big, p);
	wcp_pool_destroy(big);
}

Test(alloc, zero_size_is_a_unique_allocation)
{
	void *a = wcp_malloc(pool, 0), *b = wcp_malloc(pool, 0);

	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_assert_neq(a, b);
	wcp_free(pool, a);
	wcp_free(pool, b);
}

Test(alloc, calloc_zeroes_reused_memory)
{
	size_t sizes[] = { 24, 1000, 70000, 3 * MiB };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		void *p[32];

		/* Dirty memory, free it, and calloc the same sizes again. */
		for (int k = 0; k < 32; k++) {
			p[k] = wcp_malloc(pool, sizes[i]);
			cr_assert_not_null(p[k]);
			memset(p[k], 0xa5, sizes[i]);
		}
		for (int k = 0; k < 32; k++)
			wcp_free(pool, p[k]);
		for (int k = 0; k < 32; k++) {
			p[k] = wcp_calloc(pool, 1, sizes[i]);
			cr_assert_not_null(p[k]);
			cr_assert(all_zero(p[k], sizes[i]), "size %zu",
				  sizes[i]);
		}
		for (int k = 0; k < 32; k++)
			wcp_free(pool, p[k]);
	}
}

/* Every size below 16 bytes too, and what realloc shrinks to. */
Test(alloc, small_blocks_are_16_byte_aligned)
{
	void *p[64];

	for (int i = 0; i < 64; i++) {
		p[i] = i & 1 ? wcp_calloc(pool, 1, (size_t)i % 17)
			     : wcp_malloc(pool, (size_t)i % 17);
		cr_assert_not_null(p[i]);
		cr_assert_eq((uintptr_t)p[i] % 16, 0, "size %d at %p", i % 17,
			     p[i]);
	}
	for (int i = 0; i < 64; i++) {
		p[i] = wcp_realloc(pool, p[i], 1 + (size_t)i % 8);
		cr_assert_not_null(p[i]);
		cr_assert_eq((uintptr_t)p[i] % 16, 0);
		wcp_free(pool, p[i]);
	}
}

/*
 * jemalloc takes memory it decommitted as zero when it commits it again;
 * on huge-page pools a decommit keeps the huge page while a neighbour
 * lives in it.  calloc must still read zero there.
 */
Test(alloc, calloc_after_trim_next_to_a_live_block)
{
	static const size_t sizes[] = { 20 * KiB, 100 * KiB, 256 * KiB,
					 700 * KiB, 1 * MiB };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		void *live = wcp_malloc(pool, n), *a = wcp_malloc(pool, n);
		void *b = wcp_malloc(pool, n), *c;

		cr_assert(live && a && b);
		memset(a, 0xa5, n);
		memset(b, 0x5a, n);
		wcp_free(pool, a);
		wcp_free(pool, b);
		cr_assert_eq(wcp_pool_trim(pool), 0);
		for (int k = 0; k < 2; k++) {
			c = wcp_calloc(pool, 1, n);
			cr_assert_not_null(c);
			cr_assert(all_zero(c, n), "size %zu", n);
			memset(c, 0xee, n);
			wcp_free(pool, c);
			cr_assert_eq(wcp_pool_trim(pool), 0);
		}
		wcp_free(pool, live);
	}
}

/*
 * Sizes the compiler would reject as constants (wcpool.h declares
 * alloc_size): the library must refuse them at run time too.
 */
static volatile size_t huge_count = SIZE_MAX / 2, size_max = SIZE_MAX;

Test(alloc, calloc_overflow_is_enomem)
{
	errno = 0;
	cr_assert_null(wcp_calloc(pool, huge_count, 3));
	cr_assert_eq(errno, ENOMEM);
	cr_assert_null(wcp_calloc(pool, huge_count >> 22, huge_count >> 32));
}

Test(alloc, realloc_keeps_data_growing_and_shrinking)
{
	size_t steps[] = { 10, 100, 5000, 200000, 9 * MiB, 40 * MiB,
			   3 * MiB, 1000, 7 };
	size_t prev = steps[0];
	unsigned char *p = wcp_malloc(pool, prev);

	fill_pattern(p, prev, 7);
	for (size_t i = 1; i < sizeof(steps) / sizeof(steps[0]); i++) {
		size_t keep = prev < steps[i] ? prev : steps[i];

		p = wcp_realloc(pool, p, steps[i]);
		cr_assert_not_null(p, "realloc to %zu", steps[i]);
		cr_assert(check_pattern(p, keep, 7), "%zu -> %zu", prev,
			  steps[i]);
		cr_assert_geq(wcp_usable_size(pool, p), steps[i]);
		fill_pattern(p, steps[i], 7);
		prev = steps[i];
	}
	wcp_free(pool, p);
}

Test(alloc, realloc_null_and_zero)
{
	struct wcp_pool_stats st;
	void *p = wcp_realloc(pool, NULL, 100);

	cr_assert_not_null(p);
	cr_assert_geq(wcp_usable_size(pool, p), 100);
	cr_assert_null(wcp_realloc(pool, p, 0));
	wcp_pool_stats(pool, &st);
	cr_assert_eq(st.allocations, 0, "realloc(p, 0) frees p");
}

Test(alloc, realloc_failure_leaves_the_block)
{
	struct wcp_pool *small = make_pool(0, 16 * MiB);
	unsigned char *p = wcp_malloc(small, MiB), *q;

	fill_pattern(p, MiB, 3);
	errno = 0;
	q = wcp_realloc(small, p, 64 * MiB);
	cr_assert_null(q);
	cr_assert_eq(errno, ENOMEM);
	cr_assert(check_pattern(p, MiB, 3));
	cr_assert_geq(wcp_usable_size(small, p), MiB);
	wcp_free(small, p);
	wcp_pool_destroy(small);
}

Test(alloc, aligned_up_to_one_gib)
{
	for (size_t a = 1; a <= GiB; a *= 2) {
		/* Beyond 2 MiB only small blocks: alignment costs no memory. */
		size_t sizes[] = { 1, a <= WCP_PAGE_2M ? a : 4096,
				   a <= WCP_PAGE_2M ? a + 100 : 100 };

		for (int k = 0; k < 3; k++) {
			void *p = wcp_aligned_alloc(pool, a, sizes[k]);

			cr_assert_not_null(p, "align %zu size %zu", a,
					   sizes[k]);
			cr_assert_eq((uintptr_t)p % a, 0, "align %zu", a);
			cr_assert_geq(wcp_usable_size(pool, p), sizes[k]);
			memset(p, 0x5a, sizes[k] < MiB ? sizes[k] : MiB);
			wcp_free(pool, p);
		}
	}
}

Test(alloc, bad_alignment_is_einval)
{
	size_t bad[] = { 0, 3, 24, 3 * MiB, 2 * GiB };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		cr_assert_null(wcp_aligned_alloc(pool, bad[i], 64));
		cr_assert_eq(errno, EINVAL, "alignment %zu", bad[i]);
	}
}

Test(alloc, exhausting_max_size_is_enomem_and_recoverable)
{
	struct wcp_pool *small = make_pool(0, 8 * MiB);
	void *p[64];
	int n = 0;

	while (n < 64 && (p[n] = wcp_malloc(small, MiB)))
		n++;
	cr_assert_eq(errno, ENOMEM);
	cr_assert_geq(n, 4, "only %d MiB of an 8 MiB pool", n);
	cr_assert_lt(n, 9);
	errno = 0;
	cr_assert_null(wcp_malloc(small, 9 * MiB));
	cr_assert_eq(errno, ENOMEM);
	cr_assert_null(wcp_malloc(small, size_max));
	wcp_free(small, p[n - 1]);
	p[n - 1] = wcp_malloc(small, MiB);
	cr_assert_not_null(p[n - 1], "freed space is reused");
	for (int i = 0; i < n; i++)
		wcp_free(small, p[i]);
	wcp_pool_destroy(small);
}

Test(alloc, usable_size_of_null_is_zero)
{
	cr_assert_eq(wcp_usable_size(pool, NULL), 0);
}

Test(alloc, free_null_is_a_no_op)
{
	void *p = wcp_malloc(pool, 100);
	struct wcp_pool_stats before, after;

	wcp_pool_stats(pool, &before);
	wcp_free(pool, NULL);
	wcp_free(NULL, NULL);
	wcp_pool_stats(pool, &after);
	cr_assert_eq(after.allocations, before.allocations);
	cr_assert_eq(after.allocated, before.allocated);
	wcp_free(pool, p);
}

Test(alloc, ownership)
{
	struct wcp_pool *other = make_pool(WCP_PAGE_4K, 64 * MiB);
	void *p = wcp_malloc(pool, 100), *q = wcp_malloc(other, 100);
	void *heap = malloc(100);
	int stack;

	cr_assert(wcp_owns(pool, p));
	cr_assert(wcp_owns(pool, (char *)p + 50), "interior address");
	cr_assert_not(wcp_owns(pool, q));
	cr_assert(wcp_owns(other, q));
	cr_assert_not(wcp_owns(pool, heap));
	cr_assert_not(wcp_owns(pool, &stack));
	cr_assert_not(wcp_owns(pool, NULL));
	cr_assert_not(wcp_owns(NULL, p));
	free(heap);
	wcp_free(pool, p);
	wcp_free(other, q);
	wcp_pool_destroy(other);
}

Test(alloc, offsets_round_trip)
{
	struct wcp_pool_info info;
	char *p = wcp_malloc(pool, 4096);
	uint64_t off = wcp_offset(pool, p);

	wcp_pool_info(pool, &info);
	cr_assert_neq(off, WCP_OFFSET_INVALID);
	cr_assert_eq(off, (uint64_t)(p - (char *)info.base));
	cr_assert_eq(wcp_pointer(pool, off), p);
	cr_assert_eq(wcp_pointer(pool, off + 10), p + 10);
	cr_assert_eq(wcp_offset(pool, &info), WCP_OFFSET_INVALID);
	errno = 0;
	cr_assert_null(wcp_pointer(pool, info.max_size - 1),
		       "offset beyond what is mapped");
	cr_assert_eq(errno, ERANGE);
	cr_assert_null(wcp_pointer(pool, UINT64_MAX));
	wcp_free(pool, p);
}
