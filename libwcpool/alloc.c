// SPDX-License-Identifier: MIT
/*
 * The malloc family over a pool.  Every call goes to the pool's jemalloc
 * arena through the calling thread's own tcache of that pool (tcache.c), so
 * pool memory never mixes with the process malloc or with another pool;
 * frame-sized buffers on huge-page pools take whole pages instead (huge.c).
 * The live map checks each pointer coming back before the allocator sees
 * it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "commit.h"
#include "huge.h"
#include "pool.h"
#include "sizeclass.h"
#include "spill.h"
#include "tcache.h"

#define WCP_MAX_ALIGNMENT WCP_PAGE_1G
/*
 * The alignment wcp_malloc() promises for every size, as glibc's malloc
 * does on x86-64: jemalloc's 8-byte class is only 8-byte aligned.
 */
#define WCP_MIN_ALLOC 16

static void __attribute__((noreturn, cold))
not_live(const char *fn, const struct wcp_pool *pool, const void *ptr)
{
	wcpi_misuse(fn, "invalid pointer (not a live allocation)", pool, ptr);
}

/*
 * Pool offset of @ptr, checked without the block map: a pool that
 * allocates, an address in it on a block boundary.  Aborts otherwise.
 * Inline, like the ones below: they are most of wcp_malloc/wcp_free.
 */
static inline __attribute__((always_inline)) uint64_t
pool_offset(const struct wcp_pool *pool, const void *ptr, const char *fn)
{
	uint64_t off;

	if (!pool)
		wcpi_misuse(fn, "NULL pool for pointer", pool, ptr);
	if (!pool->arenas.ready)
		wcpi_misuse(fn, "imported pool view cannot free", pool, ptr);
	off = wcpi_offset(pool, ptr);
	if (off == WCP_OFFSET_INVALID)
		wcpi_misuse(fn, "invalid pointer (not from this pool)", pool, ptr);
	if (off % WCPI_LIVEMAP_GRANULE)
		not_live(fn, pool, ptr);
	return off;
}

/* Pool offset of @ptr, which must be a live allocation; aborts otherwise. */
static inline __attribute__((always_inline)) uint64_t
live_offset(const struct wcp_pool *pool, const void *ptr, const char *fn)
{
	uint64_t off = pool_offset(pool, ptr, fn);

	if (!wcpi_livemap_test(&pool->live, off))
		not_live(fn, pool, ptr);
	return off;
}

/* pool_offset(), and the pool must be this process's. */
static inline __attribute__((always_inline)) uint64_t
free_offset(const struct wcp_pool *pool, const void *ptr, const char *fn)
{
	uint64_t off = pool_offset(pool, ptr, fn);

	if (wcpi_pool_forked(pool))
		wcpi_misuse(fn, "pool belongs to the parent process (fork()), cannot free",
			    pool, ptr);
	return off;
}

/* Mark the allocation at @off dead; aborts if it was not live. */
static inline __attribute__((always_inline)) void
clear_live(struct wcp_pool *pool, const void *ptr, uint64_t off,
	   const char *fn)
{
	if (!wcpi_livemap_clear(&pool->live, off))
		not_live(fn, pool, ptr);
}

/* free_offset() and clear_live() in one. */
static inline __attribute__((always_inline)) uint64_t
take_live(struct wcp_pool *pool, const void *ptr, const char *fn)
{
	uint64_t off = free_offset(pool, ptr, fn);

	clear_live(pool, ptr, off, fn);
	return off;
}

static inline __attribute__((always_inline)) void *
mark_live(struct wcp_pool *pool, void *p)
{
	if (p && !wcpi_livemap_set(&pool->live, wcpi_offset(pool, p)))
		wcpi_misuse("wcp_malloc", "allocator returned a live pointer",
			    pool, p);
	return p;
}

/*
 * The block map's kind (and owner) for a block jemalloc just handed out;
 * its size (one sallocx() for both).
 */
static size_t set_kind(struct wcp_pool *pool, void *p, struct wcpi_tcache *tc)
{
	size_t size = sallocx(p, 0);

	/* Without a record: the first arena's (untracked_flags). */
	if (size <= wcpi_classes.max)
		wcpi_livemap_set_small(&pool->live, wcpi_offset(pool, p),
				       wcpi_class_of(size), tc ? tc->slot : 0);
	else
		wcpi_livemap_set_kind(&pool->live, wcpi_offset(pool, p),
				      WCPI_KIND_LARGE);
	return size;
}

/*
 * Through jemalloc: aligned, large, or without a thread cache.  Once
 * jemalloc has cleaned up a thread (pthread key destructors at thread exit
 * run after its own), it serves every mallocx() from its default arena,
 * whatever the flags: that is refused, not handed out.
 */
static void *arena_alloc(struct wcp_pool *pool, size_t size, int flags)
{
	struct wcpi_tcache *tc;
	void *p;

	flags |= wcpi_tcache_flags(pool, &tc);
	p = mallocx(size, flags);
	if (p && !wcpi_owns(pool, p)) {
		dallocx(p, MALLOCX_TCACHE_NONE);
		p = NULL;
	}
	if (!p)
		return NULL;
	/* jemalloc takes recommitted pages as zero: some may not be. */
	if ((flags & MALLOCX_ZERO) && size > wcpi_classes.slab_max)
		wcpi_commit_zero(pool, wcpi_offset(pool, p), size);
	wcpi_tcache_count(pool, tc, 1, (int64_t)set_kind(pool, p, tc));
	return p;
}

static void *huge_alloc(struct wcp_pool *pool, size_t size, size_t align,
			bool zero)
{
	bool zeroed = false;
	void *p = wcpi_huge_alloc(pool, size, align, &zeroed);

	if (p && zero && !zeroed)
		wcp_fill(pool, p, 0, size);
	else if (p && zero)
		wcpi_commit_zero(pool, wcpi_offset(pool, p), size);
	if (p)
		wcpi_livemap_set_kind(&pool->live, wcpi_offset(pool, p),
				      WCPI_KIND_HUGE);
	return p;
}

/* pool_alloc() once: the thread's cache, whole pages or the arena. */
static void *try_alloc(struct wcp_pool *pool, size_t size, size_t align,
		       bool zero)
{
	void *p = NULL;

	/* Small blocks: the thread's cache (tcache.c). */
	if (size <= wcpi_classes.max && align <= WCP_MIN_ALLOC) {
		unsigned c = wcpi_class_of(size);

		p = wcpi_tcache_alloc(pool, c);
		if (p && zero)
			memset(p, 0, wcpi_classes.size[c]);
	}
	if (!p && wcpi_huge_wants(pool, size))
		p = huge_alloc(pool, size, align, zero);
	else if (!p)
		p = arena_alloc(pool, size, (align ? MALLOCX_ALIGN(align) : 0) |
					    (zero ? MALLOCX_ZERO : 0));
	return p;
}

/* @align 0: malloc alignment.  @zero: the memory must read as zero. */
static void *pool_alloc(struct wcp_pool *pool, size_t size, size_t align,
			bool zero)
{
	void *p;

	if (!pool) {
		errno = EINVAL;
		return NULL;
	}
	if (!pool->arenas.ready || wcpi_pool_forked(pool)) {
		errno = EPERM;
		return NULL;
	}
	if (size > pool->max_size) {
		errno = ENOMEM;
		return NULL;
	}
	if (size < WCP_MIN_ALLOC)
		size = WCP_MIN_ALLOC;
	if (pool->spill.allowed)
		wcpi_commit_ran_out(pool, true);
	p = try_alloc(pool, size, align, zero);
	/*
	 * Full: the free blocks may sit in caches, of exited threads or of
	 * this one, or on their way home from other threads (tcache.c); and
	 * jemalloc merges freed extents into larger ones only when it purges.
	 */
	if (!p) {
		wcpi_tcache_flush(pool);
		wcpi_arena_purge(pool);
		p = try_alloc(pool, size, align, zero);
	}
	/* Out of huge pages, not of max_size: ordinary ones (spill.c). */
	if (!p && pool->spill.allowed && wcpi_commit_ran_out(pool, true) &&
	    wcpi_spill_get(pool))
		return pool_alloc(wcpi_spill_get(pool), size, align, zero);
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	return mark_live(pool, p);
}

/*
 * The common case, inline: a block of a cached class from the bin of the
 * record this thread found first.  The hit proves the checks pool_alloc()
 * makes (tcache.h); a block from a bin lies in the pool.
 */
void *wcp_malloc(struct wcp_pool *pool, size_t size)
{
	struct wcpi_tcache *tc;
	void *p;

	if (size <= wcpi_classes.max &&
	    (tc = wcpi_tcache_hit(pool)) &&
	    (p = wcpi_tcache_pop(tc, wcpi_class_of(size)))) {
		if (!wcpi_livemap_set(&pool->live,
				      (uint64_t)((char *)p - pool->base)))
			wcpi_misuse("wcp_malloc", "allocator returned a live pointer",
				    pool, p);
		return p;
	}
	return pool_alloc(pool, size, 0, false);
}

void *wcp_calloc(struct wcp_pool *pool, size_t nmemb, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return pool_alloc(pool, total, 0, true);
}

void *wcp_aligned_alloc(struct wcp_pool *pool, size_t alignment, size_t size)
{
	if (!alignment || (alignment & (alignment - 1)) ||
	    alignment > WCP_MAX_ALIGNMENT) {
		errno = EINVAL;
		return NULL;
	}
	return pool_alloc(pool, size, alignment, false);
}

/* Give a block back whose live bit is already cleared. */
static void release_block(struct wcp_pool *pool, void *ptr, uint64_t off)
{
	unsigned kind = wcpi_livemap_kind(&pool->live, off);
	struct wcpi_tcache *tc;
	size_t size;
	int flags;

	if (kind == WCPI_KIND_HUGE) {
		wcpi_huge_free(pool, off);
		return;
	}
	if (kind != WCPI_KIND_LARGE) {
		WCPI_ASSERT(kind && kind <= wcpi_classes.nr);
		WCPI_ASSERT(sallocx(ptr, 0) == wcpi_classes.size[kind - 1]);
		if (wcpi_tcache_free(pool, ptr, kind - 1))
			return;
	}
	flags = wcpi_tcache_flags(pool, &tc);
	size = sallocx(ptr, 0);
	wcpi_tcache_count(pool, tc, -1, -(int64_t)size);
	/* Sized: jemalloc then skips its own lookup of the size. */
	sdallocx(ptr, size, flags);
}

static size_t block_size(struct wcp_pool *pool, const void *ptr, uint64_t off)
{
	unsigned kind = wcpi_livemap_kind(&pool->live, off);

	/* A live block's page has its kind: set before it was handed out. */
	WCPI_ASSERT(kind == WCPI_KIND_HUGE || kind == WCPI_KIND_LARGE ||
		    (kind && kind <= wcpi_classes.nr));
	if (kind == WCPI_KIND_HUGE)
		return wcpi_huge_size(pool, off);
	if (kind != WCPI_KIND_LARGE)
		return wcpi_classes.size[kind - 1];
	return sallocx(ptr, 0);
}

/*
 * wcp_free() past its fast path: the thread's record to find, a block to
 * send home, a full bin, or not a small block.  Out of line, so that the
 * fast path keeps few registers to save.
 */
static void __attribute__((noinline))
free_slow(struct wcp_pool *pool, void *ptr, uint64_t off, unsigned kind)
{
	struct wcpi_tcache *tc;

	if (kind - 1 < wcpi_classes.nr && (tc = wcpi_tcache_get(pool))) {
		unsigned owner = wcpi_livemap_owner(&pool->live, off);

		WCPI_ASSERT(owner <= WCPI_MAX_ARENAS);
		/* From another arena: on its way home (remote.h). */
		if (owner && owner != tc->owner &&
		    wcpi_tcache_send(pool, tc, ptr, kind - 1, owner - 1))
			return;
		clear_live(pool, ptr, off, "wcp_free");
		if (wcpi_tcache_push(tc, kind - 1, ptr))
			return;
	} else {
		clear_live(pool, ptr, off, "wcp_free");
	}
	release_block(pool, ptr, off);
}

/* wcp_free() past its fast path: every check, then free_slow(). */
static void __attribute__((noinline))
free_checked(struct wcp_pool *pool, void *ptr)
{
	struct wcp_pool *s;
	uint64_t off;

	if (!ptr)
		return;
	if (pool && !wcpi_owns(pool, ptr) && (s = wcpi_spill_of(pool, ptr))) {
		wcp_free(s, ptr);
		return;
	}
	off = free_offset(pool, ptr, "wcp_free");
	free_slow(pool, ptr, off, wcpi_livemap_kind(&pool->live, off));
}

/*
 * The common case, inline: a block of a cached class of this thread's
 * arena, with room in its bin.  The record's hit proves the pool checks
 * (tcache.h); the block must still be a live block start in the pool.
 * Anything else (NULL, another pool's or a spilled block, misuse) takes
 * free_checked(), which reports it.
 */
void wcp_free(struct wcp_pool *pool, void *ptr)
{
	struct wcpi_tcache *tc = wcpi_tcache_hit(pool);
	uint64_t off = (uintptr_t)ptr - (tc ? (uintptr_t)pool->base : 0);

	if (tc && off < pool->max_size && !(off % WCPI_LIVEMAP_GRANULE)) {
		unsigned page = wcpi_livemap_page(&pool->live, off);
		unsigned kind = WCPI_PAGE_KIND(page);

		if (kind - 1 < wcpi_classes.nr &&
		    WCPI_PAGE_OWNER(page) == tc->owner) {
			struct wcpi_bin *b = &tc->bins[kind - 1];
			unsigned n = wcpi_bin_n(b);

			if (n < b->cap) {
				clear_live(pool, ptr, off, "wcp_free");
				wcpi_bin_put(b, n, ptr);
				return;
			}
		}
	}
	free_checked(pool, ptr);
}

/* A new block of @size (spilled if need be) with @ptr's bytes; @ptr goes. */
static void *move_block(struct wcp_pool *pool, void *ptr, uint64_t off,
			size_t size)
{
	size_t keep = block_size(pool, ptr, off);
	void *p = pool_alloc(pool, size, 0, false);

	if (p) {
		memcpy(p, ptr, keep < size ? keep : size);
		release_block(pool, ptr, off);
	}
	return p;
}

void *wcp_realloc(struct wcp_pool *pool, void *ptr, size_t size)
{
	bool huge, wants_huge;
	struct wcp_pool *s;
	uint64_t off;
	void *p;

	if (!ptr)
		return wcp_malloc(pool, size);
	if (pool && !wcpi_owns(pool, ptr) && (s = wcpi_spill_of(pool, ptr)))
		return wcp_realloc(s, ptr, size);
	if (!size) {
		wcp_free(pool, ptr);
		return NULL;
	}
	/*
	 * Mark the old allocation dead before jemalloc may hand its address
	 * to another thread, and alive again if nothing moved.
	 */
	off = take_live(pool, ptr, "wcp_realloc");
	huge = wcpi_livemap_kind(&pool->live, off) == WCPI_KIND_HUGE;
	wants_huge = wcpi_huge_wants(pool, size);
	if (huge || wants_huge) {
		/* Between the arena and whole pages: move, unless it fits. */
		size_t keep = block_size(pool, ptr, off);

		if (huge && wants_huge &&
		    wcpi_align_up(size, pool->huge.unit) == keep) {
			wcpi_livemap_set(&pool->live, off);
			return ptr;
		}
		p = move_block(pool, ptr, off, size);
		if (p)
			return p;
	} else if (size <= pool->max_size) {
		struct wcpi_tcache *tc;
		int flags = wcpi_tcache_flags(pool, &tc);
		int64_t before = (int64_t)sallocx(ptr, 0);

		p = rallocx(ptr, size < WCP_MIN_ALLOC ? WCP_MIN_ALLOC : size,
			    flags);
		if (p) {
			wcpi_tcache_count(pool, tc, 0,
					  (int64_t)set_kind(pool, p, tc) - before);
			return mark_live(pool, p);
		}
		/* Out of huge pages where it is: elsewhere, maybe spilled. */
		if (pool->spill.allowed) {
			p = move_block(pool, ptr, off, size);
			if (p)
				return p;
		}
	}
	wcpi_livemap_set(&pool->live, off);
	errno = ENOMEM;
	return NULL;
}

size_t wcp_usable_size(struct wcp_pool *pool, const void *ptr)
{
	struct wcp_pool *s;

	if (!ptr)
		return 0;
	if (pool && !wcpi_owns(pool, ptr) && (s = wcpi_spill_of(pool, ptr)))
		return wcp_usable_size(s, ptr);
	return block_size(pool, ptr, live_offset(pool, ptr, "wcp_usable_size"));
}

