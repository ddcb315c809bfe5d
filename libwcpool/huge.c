// SPDX-License-Identifier: MIT
/*
 * Buffers of (nearly) a page or more on huge-page pools, outside jemalloc.
 *
 * Debian's jemalloc pads every large allocation with one 4 KiB page
 * (cache-oblivious layout, fixed at build time), so through the arena a
 * 2 MiB frame would take two huge pages and an 8 MiB one five.  Frames are
 * what these pools are for: they get whole pages here, aligned to the page
 * size (few DMA segments, PMD-mappable).  Freed buffers stay committed, up
 * to twice what is live or WCP_HUGE_CACHE bytes, whichever is more, for the
 * next buffers to reuse without the kernel zeroing fresh pages; beyond
 * that, and on wcp_pool_trim(), their memory goes back to the system.  Free address ranges are kept, coalesced, in two
 * sets: cached (committed, contents left over) and released.  Few buffers,
 * so sorted arrays under one lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

#define WCP_HUGE_CACHE ((uint64_t)64 << 20)

/* Index of the first range whose offset is >= @off. */
static size_t set_find(const struct wcp_range_set *s, uint64_t off)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->v[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int set_insert_at(struct wcp_range_set *s, size_t i, struct wcp_range r)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct wcp_range *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
	s->v[i] = r;
	s->n++;
	return 0;
}

static void set_remove_at(struct wcp_range_set *s, size_t i)
{
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	s->n--;
}

/* Put a range into @s, merged with its neighbours. */
static void set_put(struct wcp_range_set *s, struct wcp_range r)
{
	size_t i = set_find(s, r.off);

	if (i > 0 && s->v[i - 1].off + s->v[i - 1].len == r.off) {
		i--;
		r.off = s->v[i].off;
		r.len += s->v[i].len;
		set_remove_at(s, i);
	}
	if (i < s->n && r.off + r.len == s->v[i].off) {
		r.len += s->v[i].len;
		set_remove_at(s, i);
	}
	/* Out of memory here loses this address range for reuse, nothing more. */
	(void)set_insert_at(s, i, r);
}

/* First fit of @len bytes at an address aligned to @align; -ENOSPC if none. */
static int set_take(struct wcp_pool *pool, struct wcp_range_set *s,
		    uint64_t len, uint64_t align, struct wcp_range *got)
{
	uintptr_t base = (uintptr_t)pool->base;

	for (size_t i = 0; i < s->n; i++) {
		struct wcp_range r = s->v[i];
		uint64_t start = wcp_align_up(base + r.off, align) - base;

		if (start + len > r.off + r.len)
			continue;
		set_remove_at(s, i);
		if (start > r.off)
			set_put(s, (struct wcp_range){ r.off, start - r.off });
		if (start + len < r.off + r.len)
			set_put(s, (struct wcp_range){ start + len,
						       r.off + r.len - start - len });
		*got = (struct wcp_range){ start, len };
		return 0;
	}
	return -ENOSPC;
}

static void wcp_huge_put_back(struct wcp_pool *pool, struct wcp_range r);

static void mark_start(struct wcp_pool *pool, uint64_t off, bool on)
{
	uint64_t bit = off / pool->page_size;
	uint64_t m = (uint64_t)1 << (bit % 64);

	if (on)
		atomic_fetch_or(&pool->huge_starts[bit / 64], m);
	else
		atomic_fetch_and(&pool->huge_starts[bit / 64], ~m);
}

int wcp_huge_init(struct wcp_pool *pool)
{
	if (pool->page_size < WCP_PAGE_2M)
		return 0;
	pool->huge_starts = (_Atomic uint64_t *)wcp_bitmap_alloc(
		pool->max_size / pool->page_size);
	if (!pool->huge_starts)
		return -ENOMEM;
	pool->huge_threshold = pool->page_size / 4 * 3;
	return 0;
}

void wcp_huge_fini(struct wcp_pool *pool)
{
	if (pool->huge_starts)
		wcp_bitmap_free((void *)pool->huge_starts,
				pool->max_size / pool->page_size);
	pool->huge_starts = NULL;
	free(pool->huge_live.v);
	free(pool->huge_free.v);
	free(pool->huge_cached.v);
}

/*
 * Whole pages when they waste no more than a quarter page, or from four
 * pages on, where jemalloc's size classes are a page apart or more anyway.
 * Between, jemalloc's finer classes and packing of tails win.
 */
bool wcp_huge_wants(const struct wcp_pool *pool, size_t size)
{
	uint64_t ps = pool->page_size;

	if (!pool->huge_threshold || size < pool->huge_threshold)
		return false;
	return size >= 4 * ps || wcp_align_up(size, ps) - size <= ps / 4;
}

bool wcp_huge_is(const struct wcp_pool *pool, uint64_t off)
{
	uint64_t bit = off / pool->page_size;

	if (!pool->huge_starts || off % pool->page_size)
		return false;
	return atomic_load(&pool->huge_starts[bit / 64]) &
	       ((uint64_t)1 << (bit % 64));
}

/*
 * A committed, page-aligned buffer of @size bytes aligned to @align.
 * @zeroed tells whether its bytes are known to read as zero.
 */
void *wcp_huge_alloc(struct wcp_pool *pool, size_t size, size_t align,
		     bool *zeroed)
{
	uint64_t ps = pool->page_size;
	struct wcp_range r = { 0, wcp_align_up(size, ps) };
	bool cached = false;
	int err;

	if (size > pool->max_size) {
		errno = ENOMEM;
		return NULL;
	}
	align = align > ps ? align : ps;
	pthread_mutex_lock(&pool->huge_lock);
	/* Committed pages first, then released ones, then fresh space. */
	err = set_take(pool, &pool->huge_cached, r.len, align, &r);
	if (!err) {
		cached = true;
		pool->huge_cached_bytes -= r.len;
	} else {
		err = set_take(pool, &pool->huge_free, r.len, align, &r);
		if (err)
			err = wcp_pool_take_space(pool, r.len, align, NULL,
						  &r.off);
		if (!err) {
			err = wcp_commit(pool, r.off, r.len);
			if (err) {
				wcp_release(pool, r.off, r.len);
				set_put(&pool->huge_free, r);
			}
		}
	}
	if (!err) {
		err = set_insert_at(&pool->huge_live,
				    set_find(&pool->huge_live, r.off), r);
		if (err)
			wcp_huge_put_back(pool, r);
	}
	if (!err) {
		mark_start(pool, r.off, true);
		pool->huge_bytes += r.len;
	}
	pthread_mutex_unlock(&pool->huge_lock);
	if (err) {
		errno = ENOMEM;
		return NULL;
	}
	/* Released and fresh pages come zeroed from the kernel. */
	*zeroed = !cached;
	return pool->base + r.off;
}

/* Size of the live huge buffer at @off (wcp_huge_is() said yes). */
size_t wcp_huge_size(struct wcp_pool *pool, uint64_t off)
{
	size_t i, len = 0;

	pthread_mutex_lock(&pool->huge_lock);
	i = set_find(&pool->huge_live, off);
	if (i < pool->huge_live.n && pool->huge_live.v[i].off == off)
		len = pool->huge_live.v[i].len;
	pthread_mutex_unlock(&pool->huge_lock);
	return len;
}

/* Keep a freed range committed if the cache has room, else release it. */
static void wcp_huge_put_back(struct wcp_pool *pool, struct wcp_range r)
{
	uint64_t cap = 2 * pool->huge_bytes > WCP_HUGE_CACHE ?
		       2 * pool->huge_bytes : WCP_HUGE_CACHE;

	if (pool->huge_cached_bytes + r.len <= cap ||
	    wcp_release(pool, r.off, r.len)) {
		set_put(&pool->huge_cached, r);
		pool->huge_cached_bytes += r.len;
	} else {
		set_put(&pool->huge_free, r);
	}
}

/* Free the huge buffer at @off. */
void wcp_huge_free(struct wcp_pool *pool, uint64_t off)
{
	struct wcp_range r;
	size_t i;

	pthread_mutex_lock(&pool->huge_lock);
	i = set_find(&pool->huge_live, off);
	r = pool->huge_live.v[i];
	set_remove_at(&pool->huge_live, i);
	mark_start(pool, off, false);
	pool->huge_bytes -= r.len;
	wcp_huge_put_back(pool, r);
	pthread_mutex_unlock(&pool->huge_lock);
}

/* Give the memory of every cached range back to the system. */
void wcp_huge_trim(struct wcp_pool *pool)
{
	struct wcp_range_set *c = &pool->huge_cached;

	pthread_mutex_lock(&pool->huge_lock);
	for (size_t i = 0; i < c->n;) {
		struct wcp_range r = c->v[i];

		if (wcp_release(pool, r.off, r.len)) {
			i++;	/* pinned by io_uring: stays */
			continue;
		}
		set_remove_at(c, i);
		pool->huge_cached_bytes -= r.len;
		set_put(&pool->huge_free, r);
	}
	pthread_mutex_unlock(&pool->huge_lock);
}

void wcp_huge_stats(struct wcp_pool *pool, struct wcp_pool_stats *st)
{
	pthread_mutex_lock(&pool->huge_lock);
	st->allocated += pool->huge_bytes;
	st->active += pool->huge_bytes;
	st->allocations += pool->huge_live.n;
	pthread_mutex_unlock(&pool->huge_lock);
}
