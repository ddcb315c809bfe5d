// SPDX-License-Identifier: MIT
/*
 * Commit tracking for huge-page pools.
 *
 * jemalloc commits and decommits in 4 KiB pages, the backend gives memory
 * back in whole huge pages.  A huge page is released only when none of its
 * 4 KiB pages is committed any more; otherwise decommitting the unaligned
 * head and tail of large extents would leave partly used huge pages
 * allocated forever.  One bit per 4 KiB page, under the commit lock.
 *
 * In a pool of contiguous runs (contig_size) the backend's unit is the run
 * (wcpi_pool_grain()): a run grows whole and goes back only when none of
 * its 4 KiB pages is committed, so "huge page" below reads "run" there.
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

#include "backend.h"
#include "commit.h"
#include "pool.h"

#define SMALL_SHIFT 12

/* The pool whose commit last ran out of memory in this thread. */
static _Thread_local const struct wcp_pool *commit_enomem
	__attribute__((tls_model("initial-exec")));

bool wcpi_commit_ran_out(const struct wcp_pool *pool, bool clear)
{
	bool ran_out = commit_enomem == pool;

	if (clear)
		commit_enomem = NULL;
	return ran_out;
}

void wcpi_commit_setup(struct wcp_pool *pool)
{
	wcpi_lock_init(&pool->commit.lock, WCPI_LOCK_COMMIT);
}

void wcpi_commit_add_holder(struct wcp_pool *pool, wcpi_commit_held_fn *held)
{
	unsigned i = 0;

	while (i < WCPI_COMMIT_HOLDERS && pool->commit.holders[i])
		i++;
	WCPI_ASSERT(i < WCPI_COMMIT_HOLDERS);
	if (i < WCPI_COMMIT_HOLDERS)
		pool->commit.holders[i] = held;
}

/* Does a registration or a ring hold a page of [off, off+len)? */
static bool held(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	for (unsigned i = 0; i < WCPI_COMMIT_HOLDERS; i++)
		if (pool->commit.holders[i] &&
		    pool->commit.holders[i](pool, off, len))
			return true;
	return false;
}

static void free_maps(struct wcp_pool *pool)
{
	struct wcpi_commit *c = &pool->commit;
	uint64_t smalls = pool->max_size >> SMALL_SHIFT;

	if (c->committed)
		wcpi_bitmap_free(c->committed, smalls);
	if (c->stale)
		wcpi_bitmap_free(c->stale, smalls);
	if (c->deferred)
		wcpi_bitmap_free(c->deferred, c->units);
	c->committed = c->stale = c->deferred = NULL;
}

int wcpi_commit_init(struct wcp_pool *pool)
{
	struct wcpi_commit *c = &pool->commit;
	uint64_t smalls = pool->max_size >> SMALL_SHIFT;

	if (pool->page_size == WCP_PAGE_4K)
		return 0;
	c->committed = wcpi_bitmap_alloc(smalls);
	c->stale = wcpi_bitmap_alloc(smalls);
	WCPI_ASSERT(pool->max_size % wcpi_pool_grain(pool) == 0);
	c->units = pool->max_size / wcpi_pool_grain(pool);
	c->deferred = wcpi_bitmap_alloc(c->units);
	if (!c->committed || !c->stale || !c->deferred) {
		free_maps(pool);
		return -ENOMEM;
	}
	return 0;
}

void wcpi_commit_fini(struct wcp_pool *pool)
{
	free_maps(pool);
	wcpi_lock_fini(&pool->commit.lock);
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
	/* Huge pages and runs cover whole words: 512 bits or more. */
	for (uint64_t w = first / 64; w < end / 64; w++)
		if (map[w])
			return true;
	return false;
}

int wcpi_commit(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	struct wcpi_commit *c = &pool->commit;
	uint64_t ps = wcpi_pool_grain(pool), first, last;
	int err;

	WCPI_ASSERT(!((off | len) & (WCP_PAGE_4K - 1)) && len &&
		    off + len <= pool->max_size);
	if (!c->committed)
		return pool->ops->commit(pool, off, len);
	first = wcpi_round_down(off, ps);
	last = wcpi_round_up(off + len, ps);
	wcpi_lock(&c->lock);
	/* Committing a huge page that is already there is a no-op. */
	err = pool->ops->commit(pool, first, last - first);
	if (!err) {
		set_bits(c->committed, off >> SMALL_SHIFT,
			 (off + len) >> SMALL_SHIFT, true);
		/* Used again: not a candidate for a deferred release. */
		set_bits(c->deferred, first / ps, last / ps, false);
	}
	wcpi_unlock(&c->lock);
	if (err == -ENOMEM)
		commit_enomem = pool;
	return err;
}

/*
 * Give huge page @h back, or keep it (old bytes and all) for a later
 * retry when something still holds it.  Caller holds the commit lock and
 * has checked that no 4 KiB page of it is committed.
 */
static void release_page(struct wcp_pool *pool, uint64_t h)
{
	struct wcpi_commit *c = &pool->commit;
	uint64_t ps = wcpi_pool_grain(pool);
	bool gone;

	wcpi_lock_held(&c->lock);
	WCPI_ASSERT(!any_bit(c->committed, h >> SMALL_SHIFT,
			     (h + ps) >> SMALL_SHIFT));
	gone = !held(pool, h, ps) && !pool->ops->release(pool, h, ps);
	set_bits(c->stale, h >> SMALL_SHIFT, (h + ps) >> SMALL_SHIFT, !gone);
	set_bits(c->deferred, h / ps, h / ps + 1, !gone);
}

/*
 * Decommit [off, off+len): always done as far as the caller can tell (see
 * the top of the file).  io_uring's pins and registrations keep pages
 * that the backend would otherwise replace by new ones in the mapping.
 */
int wcpi_decommit(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	struct wcpi_commit *c = &pool->commit;
	uint64_t ps = wcpi_pool_grain(pool), shift = SMALL_SHIFT;

	WCPI_ASSERT(!((off | len) & (WCP_PAGE_4K - 1)) && len &&
		    off + len <= pool->max_size);
	if (!c->committed) {
		/* 4 KiB pools: a hole punch is exact; not while held. */
		if (held(pool, off, len))
			return -EBUSY;
		return pool->ops->release(pool, off, len);
	}
	wcpi_lock(&c->lock);
	set_bits(c->committed, off >> shift, (off + len) >> shift, false);
	set_bits(c->stale, off >> shift, (off + len) >> shift, true);
	for (uint64_t h = wcpi_round_down(off, ps); h < off + len; h += ps)
		if (!any_bit(c->committed, h >> shift, (h + ps) >> shift))
			release_page(pool, h);
	wcpi_unlock(&c->lock);
	return 0;
}

/* Try the deferred releases again: their pins or registrations may be gone. */
void wcpi_commit_retry(struct wcp_pool *pool)
{
	struct wcpi_commit *c = &pool->commit;
	uint64_t words, ps = wcpi_pool_grain(pool);

	/* A fork() child must not take pages from under its parent. */
	if (!c->deferred || wcpi_pool_forked(pool))
		return;
	words = (c->units + 63) / 64;
	wcpi_lock(&c->lock);
	for (uint64_t w = 0; w < words; w++)
		for (uint64_t bits = c->deferred[w]; bits; bits &= bits - 1)
			release_page(pool, (w * 64 + (uint64_t)__builtin_ctzll(bits)) * ps);
	wcpi_unlock(&c->lock);
}

/*
 * Make [off, off+len) of a new allocation read as zero where it may hold
 * old bytes although jemalloc or huge.c believe it fresh from the kernel.
 */
void wcpi_commit_zero(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	struct wcpi_commit *c = &pool->commit;
	uint64_t first = off >> SMALL_SHIFT;
	uint64_t end = wcpi_align_up(off + len, WCP_PAGE_4K) >> SMALL_SHIFT;

	if (!c->stale)
		return;
	wcpi_lock(&c->lock);
	for (uint64_t b = first; b < end; b++) {
		uint64_t lo = b << SMALL_SHIFT, hi = (b + 1) << SMALL_SHIFT;

		if (!test_bit(c->stale, b))
			continue;
		/* The part of this 4 KiB page that the allocation covers. */
		lo = lo > off ? lo : off;
		hi = hi < off + len ? hi : off + len;
		wcp_fill(pool, pool->base + lo, 0, hi - lo);
		if (hi - lo == WCP_PAGE_4K)
			set_bits(c->stale, b, b + 1, false);
	}
	wcpi_unlock(&c->lock);
}
