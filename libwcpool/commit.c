// SPDX-License-Identifier: MIT
/*
 * Commit tracking for huge-page pools.
 *
 * jemalloc commits and decommits in 4 KiB pages, the backend gives memory
 * back in whole huge pages.  A huge page is released only when none of its
 * 4 KiB pages is committed any more; otherwise decommitting the unaligned
 * head and tail of large extents would leave partly used huge pages
 * allocated forever.  One bit per 4 KiB page, under commit_lock.
 */
#include <errno.h>

#include "pool.h"

#define SMALL_SHIFT 12

int wcp_commit_init(struct wcp_pool *pool)
{
	if (pool->page_size == WCP_PAGE_4K)
		return 0;
	pool->committed = wcp_bitmap_alloc(pool->max_size >> SMALL_SHIFT);
	return pool->committed ? 0 : -ENOMEM;
}

void wcp_commit_fini(struct wcp_pool *pool)
{
	if (pool->committed)
		wcp_bitmap_free(pool->committed,
				pool->max_size >> SMALL_SHIFT);
	pool->committed = NULL;
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

static bool any_bit(const uint64_t *map, uint64_t first, uint64_t end)
{
	/* Huge pages cover whole words: 512 or 262144 bits. */
	for (uint64_t w = first / 64; w < end / 64; w++)
		if (map[w])
			return true;
	return false;
}

int wcp_commit(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	uint64_t ps = pool->page_size, first, last;
	int err;

	if (!pool->committed)
		return pool->ops->commit(pool, off, len);
	first = off & ~(ps - 1);
	last = wcp_align_up(off + len, ps);
	pthread_mutex_lock(&pool->commit_lock);
	/* Committing a huge page that is already there is a no-op. */
	err = pool->ops->commit(pool, first, last - first);
	if (!err)
		set_bits(pool->committed, off >> SMALL_SHIFT,
			 (off + len) >> SMALL_SHIFT, true);
	pthread_mutex_unlock(&pool->commit_lock);
	return err;
}

int wcp_release(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	uint64_t ps = pool->page_size, shift = SMALL_SHIFT, h;
	int err = 0;

	/*
	 * io_uring holds the pages: a released page would be replaced by a
	 * new one in the mapping while the ring kept the old.
	 */
	if (atomic_load(&pool->pinned))
		return -EBUSY;

	if (!pool->committed)
		return pool->ops->release(pool, off, len);
	pthread_mutex_lock(&pool->commit_lock);
	set_bits(pool->committed, off >> shift, (off + len) >> shift, false);
	for (h = off & ~(ps - 1); h < off + len && !err; h += ps)
		if (!any_bit(pool->committed, h >> shift, (h + ps) >> shift))
			err = pool->ops->release(pool, h, ps);
	pthread_mutex_unlock(&pool->commit_lock);
	return err;
}
