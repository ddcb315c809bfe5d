// SPDX-License-Identifier: MIT
/*
 * Buffers of (nearly) a page or more on huge-page pools, and frames of
 * 1 MiB or more on 4 KiB pools, outside jemalloc.
 *
 * Debian's jemalloc pads every large allocation with one 4 KiB page
 * (cache-oblivious layout, fixed at build time), so through the arena a
 * 2 MiB frame would take two huge pages and an 8 MiB one five.  Frames are
 * what these pools are for: they get whole pages here, aligned to the page
 * size (few DMA segments, PMD-mappable).  Freed buffers stay committed for
 * the next buffers to reuse without the kernel zeroing fresh pages, on a
 * decay as jemalloc's dirty pages are: a free page unused for the decay
 * time (WCPOOL_DECAY_MS, 10 s) goes back to the system, and so do free
 * pages beyond the cache bound (WCPOOL_FRAME_CACHE, 1 GiB), when a fresh
 * commit finds no memory (pressure), and all of them on wcp_pool_trim().
 * (It was twice what is live, at least 64 MiB: frames of many sizes, whose
 * live total swings, then released and committed pages in most cycles.)
 * Without calls into the pool nothing runs: aged pages go at the next
 * allocation or free of a frame.
 *
 * Free address ranges are kept coalesced whether their pages are still
 * committed ("dirty": contents left over) or released, with a bit per page
 * telling which.  A new buffer goes where it needs the fewest fresh pages,
 * so a random mix of frame sizes reuses committed memory across the
 * boundaries of the buffers that freed it.  Few buffers, so sorted arrays
 * under one lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commit.h"
#include "huge.h"
#include "pool.h"

/* Defaults of WCPOOL_FRAME_CACHE and WCPOOL_DECAY_MS (jemalloc's 10 s) */
#define WCP_HUGE_CACHE ((uint64_t)1 << 30)
#define WCP_HUGE_DECAY_MS 10000
/* Smallest frame that takes whole pages on a 4 KiB pool. */
#define WCP_FRAME_MIN ((uint64_t)1 << 20)

/* Index of the first range whose offset is >= @off. */
static size_t set_find(const struct wcpi_range_set *s, uint64_t off)
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

static int set_insert_at(struct wcpi_range_set *s, size_t i, struct wcpi_range r)
{
	/* Sorted and disjoint: between its neighbours, touching neither. */
	WCPI_ASSERT(r.len && i <= s->n);
	WCPI_ASSERT(i == 0 || s->v[i - 1].off + s->v[i - 1].len <= r.off);
	WCPI_ASSERT(i == s->n || r.off + r.len <= s->v[i].off);
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct wcpi_range *v = realloc(s->v, cap * sizeof(*v));

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

static void set_remove_at(struct wcpi_range_set *s, size_t i)
{
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	s->n--;
}

/* Put a range into @s, merged with its neighbours. */
static void set_put(struct wcpi_range_set *s, struct wcpi_range r)
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

static bool is_dirty(const struct wcp_pool *pool, uint64_t off)
{
	uint64_t bit = off / pool->huge.unit;

	return pool->huge.dirty[bit / 64] & ((uint64_t)1 << (bit % 64));
}

/* Mark the free pages of @r as committed (@on) or released. */
static void set_dirty(struct wcp_pool *pool, struct wcpi_range r, bool on)
{
	for (uint64_t o = r.off; o < r.off + r.len; o += pool->huge.unit) {
		uint64_t bit = o / pool->huge.unit;
		uint64_t m = (uint64_t)1 << (bit % 64);

		if (on)
			pool->huge.dirty[bit / 64] |= m;
		else
			pool->huge.dirty[bit / 64] &= ~m;
	}
}

/* Committed pages in [@off, @off + @len). */
static uint64_t count_dirty(const struct wcp_pool *pool, uint64_t off,
			    uint64_t len)
{
	uint64_t n = 0;

	for (uint64_t o = off; o < off + len; o += pool->huge.unit)
		n += is_dirty(pool, o);
	return n;
}

/*
 * Where @len bytes aligned to @align go among the free ranges: the window
 * with the most pages still committed (the fewest the kernel must zero),
 * then the smallest range, then the lowest address.  -ENOSPC if none fits.
 * The windows of a range are scanned with a running count.
 */
static int free_pick(const struct wcp_pool *pool, uint64_t len,
		     uint64_t align, struct wcpi_range *got, size_t *index)
{
	const struct wcpi_range_set *s = &pool->huge.free;
	uintptr_t base = (uintptr_t)pool->base;
	uint64_t best_dirty = 0, best_len = 0;
	bool found = false;

	for (size_t i = 0; i < s->n; i++) {
		struct wcpi_range r = s->v[i];
		uint64_t end = r.off + r.len;
		uint64_t start = wcpi_align_up(base + r.off, align) - base;
		uint64_t dirty;

		if (start + len > end)
			continue;
		dirty = count_dirty(pool, start, len);
		for (;;) {
			if (!found || dirty > best_dirty ||
			    (dirty == best_dirty && r.len < best_len)) {
				found = true;
				best_dirty = dirty;
				best_len = r.len;
				*got = (struct wcpi_range){ start, len };
				*index = i;
			}
			if (start + align + len > end)
				break;
			dirty += count_dirty(pool, start + len, align);
			dirty -= count_dirty(pool, start, align);
			start += align;
		}
	}
	return found ? 0 : -ENOSPC;
}

/* Take @w, which lies in free range @i, out of the free set. */
static void free_take(struct wcpi_range_set *s, size_t i, struct wcpi_range w)
{
	struct wcpi_range r = s->v[i];

	WCPI_ASSERT(w.off >= r.off && w.off + w.len <= r.off + r.len);
	set_remove_at(s, i);
	if (w.off > r.off)
		set_put(s, (struct wcpi_range){ r.off, w.off - r.off });
	if (w.off + w.len < r.off + r.len)
		set_put(s, (struct wcpi_range){ w.off + w.len,
					       r.off + r.len - w.off - w.len });
}

/* Apply @fn to each run of pages in @r whose dirty bit is @dirty. */
static int for_each_run(struct wcp_pool *pool, struct wcpi_range r, bool dirty,
			int (*fn)(struct wcp_pool *, uint64_t, uint64_t))
{
	uint64_t ps = pool->huge.unit, end = r.off + r.len, o = r.off;
	int err = 0;

	while (o < end && !err) {
		uint64_t q = o;

		while (q < end && is_dirty(pool, q) == dirty)
			q += ps;
		if (q > o)
			err = fn(pool, o, q - o);
		for (o = q; o < end && is_dirty(pool, o) != dirty; o += ps)
			;
	}
	return err;
}

/*
 * Commit the released pages of window @w.  On error none of them stays
 * committed (releasing a page that never was is harmless).
 */
static int commit_window(struct wcp_pool *pool, struct wcpi_range w)
{
	int err = for_each_run(pool, w, false, wcpi_commit);

	if (err)
		for_each_run(pool, w, false, wcpi_decommit);
	return err;
}

static void huge_put_back(struct wcp_pool *pool, struct wcpi_range r);

void wcpi_huge_setup(struct wcp_pool *pool)
{
	wcpi_lock_init(&pool->huge.lock, WCPI_LOCK_HUGE);
}

static void free_maps(struct wcp_pool *pool)
{
	struct wcpi_huge *h = &pool->huge;
	/* Also for pools that failed before their page size was set. */
	uint64_t pages = h->unit ? (pool->max_size + h->unit - 1) / h->unit : 0;

	if (h->dirty)
		wcpi_bitmap_free(h->dirty, pages);
	h->dirty = NULL;
	free(h->freed_at);
	h->freed_at = NULL;
}

/*
 * A non-negative number from the environment, with an optional K, M or G
 * suffix (x 1024^n), at most @max; @def if unset, malformed or larger.
 */
static uint64_t env_size(const char *name, uint64_t def, uint64_t max)
{
	const char *env = secure_getenv(name);
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!env || !*env || *env == '-')
		return def;
	errno = 0;
	v = strtoull(env, &end, 10);
	if (*end == 'k' || *end == 'K')
		shift = 10, end++;
	else if (*end == 'm' || *end == 'M')
		shift = 20, end++;
	else if (*end == 'g' || *end == 'G')
		shift = 30, end++;
	if (*end || errno || end == env || v > max >> shift)
		return def;
	return (uint64_t)v << shift;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	/* vDSO, no system call; its few ms of resolution are plenty */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int wcpi_huge_init(struct wcp_pool *pool)
{
	struct wcpi_huge *h = &pool->huge;
	uint64_t pages;

	/*
	 * huge.c's page: the pool's, but 2 MiB on 4 KiB pools, so that its
	 * bitmaps and window scans stay short; untouched 4 KiB pages of a
	 * window take no memory there.
	 */
	h->unit = pool->page_size == WCP_PAGE_4K ? WCP_PAGE_2M : pool->page_size;
	pages = (pool->max_size + h->unit - 1) / h->unit;
	h->dirty = wcpi_bitmap_alloc(pages);
	/* calloc: untouched parts of a large pool's array take no memory */
	h->freed_at = calloc(pages, sizeof(*h->freed_at));
	if (!h->dirty || !h->freed_at) {
		free_maps(pool);
		return -ENOMEM;
	}
	h->cache_max = env_size("WCPOOL_FRAME_CACHE", WCP_HUGE_CACHE,
				UINT64_MAX);
	/* milliseconds, as nanoseconds without wrapping */
	h->decay_ns = env_size("WCPOOL_DECAY_MS", WCP_HUGE_DECAY_MS,
			       UINT64_MAX / 1000000) * 1000000;
	/*
	 * 4 KiB pools: frames too, for their reuse.  jemalloc purges blocks
	 * from 8 MiB on (opt.oversize_threshold) as soon as they are freed,
	 * so every frame of that size faulted all its pages in again.
	 */
	h->threshold = pool->page_size == WCP_PAGE_4K ? WCP_FRAME_MIN :
		       pool->page_size / 4 * 3;
	return 0;
}

void wcpi_huge_fini(struct wcp_pool *pool)
{
	free_maps(pool);
	free(pool->huge.live.v);
	free(pool->huge.free.v);
	wcpi_lock_fini(&pool->huge.lock);
}

/*
 * Whole pages from three quarters of a page on.  Sizes between whole
 * pages once went to jemalloc below four pages (its finer classes pack
 * tails), but frames of varying sizes there made its extents commit and
 * decommit huge pages in most cycles (bench alloc's frames-1-32MiB row:
 * 20-40 us a frame against 0.5-2 us with whole pages, and more memory
 * resident: 286 MiB against 242 MiB).
 */
bool wcpi_huge_wants(const struct wcp_pool *pool, size_t size)
{
	return pool->huge.threshold && size >= pool->huge.threshold;
}

static void trim_cache_to(struct wcp_pool *pool, uint64_t cap);
static int release_cached(struct wcp_pool *pool, uint64_t off, uint64_t len);

/*
 * A committed window of @len bytes aligned to @align, and its dirty pages.
 * *@pressure is set where pages could not be committed (not where the pool
 * had no room).
 */
static int take_window_once(struct wcp_pool *pool, uint64_t len,
			    uint64_t align, struct wcpi_range *w,
			    uint64_t *dirty, bool *pressure)
{
	size_t i;
	int err;

	wcpi_lock_held(&pool->huge.lock);

	if (!free_pick(pool, len, align, w, &i)) {
		err = commit_window(pool, *w);
		if (err) {
			*pressure = true;
			return err;
		}
		free_take(&pool->huge.free, i, *w);
		*dirty = count_dirty(pool, w->off, w->len);
		WCPI_ASSERT(pool->huge.cached_bytes >= *dirty * pool->huge.unit);
		set_dirty(pool, *w, false);
		pool->huge.cached_bytes -= *dirty * pool->huge.unit;
		return 0;
	}
	err = wcpi_pool_take_space(pool, len, align, NULL, &w->off);
	if (err)
		return err;
	w->len = len;
	*dirty = 0;
	err = wcpi_commit(pool, w->off, len);
	if (err) {
		wcpi_decommit(pool, w->off, len);
		set_put(&pool->huge.free, *w);
		*pressure = true;
	}
	return err;
}

/*
 * take_window_once(), and where fresh pages could not be committed while
 * free ones are kept (pressure: the system's huge pages, the memory
 * cgroup), the kept ones released and a second try.  Not when the pool
 * had no room for the window: releasing pages makes none.
 */
static int take_window(struct wcp_pool *pool, uint64_t len, uint64_t align,
		       struct wcpi_range *w, uint64_t *dirty)
{
	bool pressure = false;
	int err = take_window_once(pool, len, align, w, dirty, &pressure);

	if (err && pressure && pool->huge.cached_bytes) {
		trim_cache_to(pool, 0);
		err = take_window_once(pool, len, align, w, dirty, &pressure);
	}
	return err;
}

/*
 * Release the free pages unused for the decay time; looked for an eighth
 * of it apart (pages go at most that late).
 */
static void decay(struct wcp_pool *pool, uint64_t now)
{
	struct wcpi_huge *h = &pool->huge;
	uint64_t ps = h->unit;

	wcpi_lock_held(&h->lock);

	if (now < h->next_decay || !h->cached_bytes)
		return;
	h->next_decay = now + h->decay_ns / 8;
	for (size_t i = 0; i < h->free.n; i++) {
		uint64_t o = h->free.v[i].off, end = o + h->free.v[i].len;

		while (o < end) {
			uint64_t q = o;

			while (q < end && is_dirty(pool, q) &&
			       now - h->freed_at[q / ps] >= h->decay_ns)
				q += ps;
			if (q > o)
				release_cached(pool, o, q - o);
			o = q > o ? q : o + ps;
		}
	}
}

/*
 * A committed, page-aligned buffer of @size bytes aligned to @align.
 * @zeroed tells whether its bytes are known to read as zero: pages the
 * kernel committed for it are, pages left committed by earlier buffers are
 * not.
 */
void *wcpi_huge_alloc(struct wcp_pool *pool, size_t size, size_t align,
		     bool *zeroed)
{
	uint64_t ps = pool->huge.unit, dirty = 0;
	struct wcpi_range w;
	int err;

	if (size > pool->max_size) {
		errno = ENOMEM;
		return NULL;
	}
	align = align > ps ? align : ps;
	wcpi_lock(&pool->huge.lock);
	err = take_window(pool, wcpi_align_up(size, ps), align, &w, &dirty);
	if (!err) {
		err = set_insert_at(&pool->huge.live,
				    set_find(&pool->huge.live, w.off), w);
		if (err)
			huge_put_back(pool, w);
	}
	if (!err)
		pool->huge.bytes += w.len;
	decay(pool, now_ns());
	wcpi_unlock(&pool->huge.lock);
	if (err) {
		errno = ENOMEM;
		return NULL;
	}
	*zeroed = !dirty;
	return pool->base + w.off;
}

/* Size of the live huge buffer at @off. */
size_t wcpi_huge_size(struct wcp_pool *pool, uint64_t off)
{
	size_t i, len = 0;

	wcpi_lock(&pool->huge.lock);
	i = set_find(&pool->huge.live, off);
	if (i < pool->huge.live.n && pool->huge.live.v[i].off == off)
		len = pool->huge.live.v[i].len;
	wcpi_unlock(&pool->huge.lock);
	return len;
}

static int release_cached(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	int err = wcpi_decommit(pool, off, len);

	WCPI_ASSERT(count_dirty(pool, off, len) * pool->huge.unit == len &&
		    pool->huge.cached_bytes >= len);
	if (!err) {
		set_dirty(pool, (struct wcpi_range){ off, len }, false);
		pool->huge.cached_bytes -= len;
	}
	return err;
}

/*
 * Release free pages from the top of the pool down until the committed
 * ones fit under the cap, so that what stays committed is packed low, where
 * new buffers look first, in long dirty runs.
 */
static void trim_cache_to(struct wcp_pool *pool, uint64_t cap)
{
	struct wcpi_range_set *s = &pool->huge.free;
	uint64_t ps = pool->huge.unit;

	wcpi_lock_held(&pool->huge.lock);

	for (size_t i = s->n; i-- > 0 && pool->huge.cached_bytes > cap;) {
		uint64_t bottom = s->v[i].off, hi = bottom + s->v[i].len, lo;

		while (pool->huge.cached_bytes > cap) {
			while (hi > bottom && !is_dirty(pool, hi - ps))
				hi -= ps;
			/* The dirty run below @hi, as far as the cap needs. */
			for (lo = hi; lo > bottom && is_dirty(pool, lo - ps) &&
			     pool->huge.cached_bytes - (hi - lo) > cap;)
				lo -= ps;
			if (lo == hi)
				break;
			/*
			 * Huge pages: commit.c defers what it must keep; 4 KiB
			 * pages a device holds stay cached (-EBUSY).
			 */
			release_cached(pool, lo, hi - lo);
			hi = lo;
		}
	}
}

/*
 * Put a freed range back, committed while the cache has room, and release
 * what the decay says is unused for too long.
 */
static void huge_put_back(struct wcp_pool *pool, struct wcpi_range r)
{
	struct wcpi_huge *h = &pool->huge;
	uint64_t now = now_ns();

	wcpi_lock_held(&h->lock);

	set_dirty(pool, r, true);
	for (uint64_t o = r.off; o < r.off + r.len; o += h->unit)
		h->freed_at[o / h->unit] = now;
	h->cached_bytes += r.len;
	set_put(&h->free, r);
	trim_cache_to(pool, h->decay_ns ? h->cache_max : 0);
	decay(pool, now);
}

/* Free the huge buffer at @off. */
void wcpi_huge_free(struct wcp_pool *pool, uint64_t off)
{
	struct wcpi_range r;
	size_t i;

	wcpi_lock(&pool->huge.lock);
	i = set_find(&pool->huge.live, off);
	/* The block map said huge: a live buffer starts at @off. */
	WCPI_ASSERT(i < pool->huge.live.n && pool->huge.live.v[i].off == off);
	r = pool->huge.live.v[i];
	WCPI_ASSERT(pool->huge.bytes >= r.len);
	set_remove_at(&pool->huge.live, i);
	pool->huge.bytes -= r.len;
	huge_put_back(pool, r);
	wcpi_unlock(&pool->huge.lock);
}

/* Give the memory of every free page back to the system. */
void wcpi_huge_trim(struct wcp_pool *pool)
{
	struct wcpi_range_set *s = &pool->huge.free;

	wcpi_lock(&pool->huge.lock);
	/* Pinned or registered pages are kept by commit.c until unheld. */
	for (size_t i = 0; i < s->n; i++)
		for_each_run(pool, s->v[i], true, release_cached);
	wcpi_unlock(&pool->huge.lock);
}

void wcpi_huge_stats(struct wcp_pool *pool, struct wcp_pool_stats *st)
{
	wcpi_lock(&pool->huge.lock);
	st->allocated += pool->huge.bytes;
	st->active += pool->huge.bytes;
	st->allocations += pool->huge.live.n;
	wcpi_unlock(&pool->huge.lock);
}
