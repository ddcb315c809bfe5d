// SPDX-License-Identifier: MIT
/*
 * Commit tracking for huge-page pools.
 *
 * jemalloc commits and decommits in 4 KiB pages, the backend gives memory
 * back in whole huge pages.  A huge page is released only when none of its
 * 4 KiB pages is committed any more; otherwise decommitting the unaligned
 * head and tail of large extents would leave partly used huge pages
 * allocated forever.  One bit per 4 KiB page, under commit_lock.
 *
 * A decommit always succeeds as jemalloc sees it, and jemalloc then takes
 * the range to read as zero once committed again.  Where the huge page
 * stays (a neighbour still uses part of it; a device holds it through a
 * registration, the module's RELEASE says EBUSY; io_uring has it pinned),
 * its old bytes stay too: those 4 KiB pages are marked stale, and
 * wcpi_commit_zero() clears them for whoever asks for zeroed memory.
 * Huge pages that could not be released are "deferred" and retried by
 * wcpi_commit_retry() (trim, unregister, uring unregister).
 */
#include <errno.h>
#include <string.h>

#include "pool.h"

#define SMALL_SHIFT 12

int wcpi_commit_init(struct wcp_pool *pool)
{
	uint64_t smalls = pool->max_size >> SMALL_SHIFT;

	if (pool->page_size == WCP_PAGE_4K)
		return 0;
	pool->committed = wcpi_bitmap_alloc(smalls);
	pool->stale = wcpi_bitmap_alloc(smalls);
	pool->deferred = wcpi_bitmap_alloc(pool->max_size / pool->page_size);
	if (!pool->committed || !pool->stale || !pool->deferred) {
		wcpi_commit_fini(pool);
		return -ENOMEM;
	}
	return 0;
}

void wcpi_commit_fini(struct wcp_pool *pool)
{
	uint64_t smalls = pool->max_size >> SMALL_SHIFT;

	if (pool->committed)
		wcpi_bitmap_free(pool->committed, smalls);
	if (pool->stale)
		wcpi_bitmap_free(pool->stale, smalls);
	if (pool->deferred)
		wcpi_bitmap_free(pool->deferred,
				pool->max_size / pool->page_size);
	pool->committed = pool->stale = pool->deferred = NULL;
}

static void set_bits(uint64_t *map, uint64_t first, uint64_t end, bool on)
{
	for (uint64_t b = first; b < end; b++) {
		if (on)
			map[b / 64] |= (uint64_t)1 << (b % 64);
		else
			map[b / 64] &= ~((uint64_t)1 << (b % 64));
	}
}

static bool test_bit(const uint64_t *map, uint64_t b)
{
	return map[b / 64] & ((uint64_t)1 << (b % 64));
}

static bool any_bit(const uint64_t *map, uint64_t first, uint64_t end)
{
	/* Huge pages cover whole words: 512 or 262144 bits. */
	for (uint64_t w = first / 64; w < end / 64; w++)
		if (map[w])
			return true;
	return false;
}

int wcpi_commit(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	uint64_t ps = pool->page_size, first, last;
	int err;

	if (!pool->committed)
		return pool->ops->commit(pool, off, len);
	first = off & ~(ps - 1);
	last = wcpi_align_up(off + len, ps);
	pthread_mutex_lock(&pool->commit_lock);
	/* Committing a huge page that is already there is a no-op. */
	err = pool->ops->commit(pool, first, last - first);
	if (!err) {
		set_bits(pool->committed, off >> SMALL_SHIFT,
			 (off + len) >> SMALL_SHIFT, true);
		/* Used again: not a candidate for a deferred release. */
		set_bits(pool->deferred, first / ps, last / ps, false);
	}
	pthread_mutex_unlock(&pool->commit_lock);
	return err;
}

/*
 * Give huge page @h back, or keep it (old bytes and all) for a later
 * retry when something still holds it.  Caller holds commit_lock and has
 * checked that no 4 KiB page of it is committed.
 */
static void release_page(struct wcp_pool *pool, uint64_t h)
{
	uint64_t ps = pool->page_size;

	if (!atomic_load(&pool->pinned) && !pool->ops->release(pool, h, ps)) {
		set_bits(pool->stale, h >> SMALL_SHIFT, (h + ps) >> SMALL_SHIFT,
			 false);
		set_bits(pool->deferred, h / ps, h / ps + 1, false);
		return;
	}
	set_bits(pool->stale, h >> SMALL_SHIFT, (h + ps) >> SMALL_SHIFT, true);
	set_bits(pool->deferred, h / ps, h / ps + 1, true);
}

/*
 * Decommit [off, off+len): always done as far as the caller can tell (see
 * the top of the file).  io_uring's pins and registrations keep pages
 * that the backend would otherwise replace by new ones in the mapping.
 */
int wcpi_decommit(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	uint64_t ps = pool->page_size, shift = SMALL_SHIFT;

	if (!pool->committed) {
		/* 4 KiB pools: a hole punch is exact; not while pinned. */
		if (atomic_load(&pool->pinned))
			return -EBUSY;
		return pool->ops->release(pool, off, len);
	}
	pthread_mutex_lock(&pool->commit_lock);
	set_bits(pool->committed, off >> shift, (off + len) >> shift, false);
	set_bits(pool->stale, off >> shift, (off + len) >> shift, true);
	for (uint64_t h = off & ~(ps - 1); h < off + len; h += ps)
		if (!any_bit(pool->committed, h >> shift, (h + ps) >> shift))
			release_page(pool, h);
	pthread_mutex_unlock(&pool->commit_lock);
	return 0;
}

/* Try the deferred releases again: their pins or registrations may be gone. */
void wcpi_commit_retry(struct wcp_pool *pool)
{
	uint64_t pages, ps = pool->page_size;

	/* A fork() child must not take pages from under its parent. */
	if (!pool->deferred || wcpi_pool_forked(pool))
		return;
	pages = pool->max_size / ps;
	pthread_mutex_lock(&pool->commit_lock);
	for (uint64_t w = 0; w < (pages + 63) / 64; w++) {
		for (uint64_t bits = pool->deferred[w]; bits; bits &= bits - 1) {
			uint64_t h = (w * 64 + (uint64_t)__builtin_ctzll(bits)) *
				     ps;

			WCPI_ASSERT(!any_bit(pool->committed, h >> SMALL_SHIFT,
					    (h + ps) >> SMALL_SHIFT));
			release_page(pool, h);
		}
	}
	pthread_mutex_unlock(&pool->commit_lock);
}

/*
 * Make [off, off+len) of a new allocation read as zero where it may hold
 * old bytes although jemalloc or huge.c believe it fresh from the kernel.
 */
void wcpi_commit_zero(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	uint64_t first = off >> SMALL_SHIFT;
	uint64_t end = wcpi_align_up(off + len, WCP_PAGE_4K) >> SMALL_SHIFT;

	if (!pool->stale)
		return;
	pthread_mutex_lock(&pool->commit_lock);
	for (uint64_t b = first; b < end; b++) {
		uint64_t lo, hi;

		if (!test_bit(pool->stale, b))
			continue;
		/* The part of this 4 KiB page that the allocation covers. */
		lo = b << SMALL_SHIFT > off ? b << SMALL_SHIFT : off;
		hi = (b + 1) << SMALL_SHIFT < off + len ? (b + 1) << SMALL_SHIFT
							: off + len;
		wcp_fill(pool, pool->base + lo, 0, hi - lo);
		if (hi - lo == WCP_PAGE_4K)
			set_bits(pool->stale, b, b + 1, false);
	}
	pthread_mutex_unlock(&pool->commit_lock);
}
