// SPDX-License-Identifier: MIT
/*
 * The pool's jemalloc arena and its extent hooks.
 *
 * Address space: extents are taken from the pool reservation (see
 * wcpi_pool_take_space()) and never given back (dalloc opts out), so jemalloc
 * keeps them as
 * "retained" virtual memory and reuses them; memory behind them comes and
 * goes through commit (backend commit) and decommit/purge (backend release,
 * i.e. hole punching), so freed memory returns to the system.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "commit.h"
#include "pool.h"

/*
 * jemalloc 5.3's experimental.arenas_create_ext takes this struct, which its
 * public header does not declare.  metadata_use_hooks = false keeps the
 * arena's own metadata (arena_t, bins, extent descriptors) in ordinary memory
 * instead of pool memory.
 */
struct arena_config_ext {
	extent_hooks_t *extent_hooks;
	bool metadata_use_hooks;
};

static struct wcp_pool *pool_of(extent_hooks_t *hooks)
{
	return (struct wcp_pool *)((char *)hooks -
				   offsetof(struct wcp_pool, hooks));
}

static uint64_t offset_of(struct wcp_pool *pool, void *addr)
{
	return (uint64_t)((char *)addr - pool->base);
}

static void *hook_alloc(extent_hooks_t *hooks, void *new_addr, size_t size,
			size_t alignment, bool *zero, bool *commit,
			unsigned arena_ind)
{
	struct wcp_pool *pool = pool_of(hooks);
	uint64_t off;

	(void)arena_ind;
	if (wcpi_pool_take_space(pool, size, alignment, new_addr, &off))
		return NULL;
	/* The cursor never goes back: these file bytes were never used. */
	*zero = true;
	if (*commit && wcpi_commit(pool, off, size))
		return NULL; /* the address space stays unused; harmless */
	return pool->base + off;
}

/* Opt out: the range stays with jemalloc as retained address space. */
static bool hook_dalloc(extent_hooks_t *hooks, void *addr, size_t size,
			bool committed, unsigned arena_ind)
{
	(void)hooks, (void)addr, (void)size, (void)committed, (void)arena_ind;
	return true;
}

/* Called on arena destruction; the pool unmaps everything right after. */
static void hook_destroy(extent_hooks_t *hooks, void *addr, size_t size,
			 bool committed, unsigned arena_ind)
{
	(void)hooks, (void)addr, (void)size, (void)committed, (void)arena_ind;
}

static bool hook_commit(extent_hooks_t *hooks, void *addr, size_t size,
			size_t offset, size_t length, unsigned arena_ind)
{
	struct wcp_pool *pool = pool_of(hooks);

	(void)size, (void)arena_ind;
	return wcpi_commit(pool, offset_of(pool, addr) + offset, length) != 0;
}

static bool hook_decommit(extent_hooks_t *hooks, void *addr, size_t size,
			  size_t offset, size_t length, unsigned arena_ind)
{
	struct wcp_pool *pool = pool_of(hooks);

	(void)size, (void)arena_ind;
	return wcpi_decommit(pool, offset_of(pool, addr) + offset, length) != 0;
}

/*
 * Forced purge: the range stays usable and reads as zero afterwards.  A hole
 * punch followed by a commit does exactly that when the range covers whole
 * pool pages; part of a huge page that a neighbour still uses cannot be
 * zeroed without touching it, so that is declined and jemalloc decommits
 * instead (which always works here).
 */
static bool hook_purge_forced(extent_hooks_t *hooks, void *addr, size_t size,
			      size_t offset, size_t length, unsigned arena_ind)
{
	struct wcp_pool *pool = pool_of(hooks);
	uint64_t off = offset_of(pool, addr) + offset;

	(void)size, (void)arena_ind;
	if ((off | length) & (pool->page_size - 1))
		return true;
	return wcpi_decommit(pool, off, length) != 0 ||
	       wcpi_commit(pool, off, length) != 0;
}

/*
 * Shared file mappings have no MADV_FREE.  On 4 KiB pages a forced purge
 * (hole punch) is a valid, eager lazy purge; on huge pages it would only
 * swap the pages for freshly zeroed ones, so it is declined there and the
 * memory goes back at decommit.
 */
static bool hook_purge_lazy(extent_hooks_t *hooks, void *addr, size_t size,
			    size_t offset, size_t length, unsigned arena_ind)
{
	if (pool_of(hooks)->page_size != WCP_PAGE_4K)
		return true;
	return hook_purge_forced(hooks, addr, size, offset, length, arena_ind);
}

/* One reservation mapped at matching file offsets: any split or merge works. */
static bool hook_split(extent_hooks_t *hooks, void *addr, size_t size,
		       size_t size_a, size_t size_b, bool committed,
		       unsigned arena_ind)
{
	(void)hooks, (void)addr, (void)size, (void)size_a, (void)size_b;
	(void)committed, (void)arena_ind;
	return false;
}

static bool hook_merge(extent_hooks_t *hooks, void *addr_a, size_t size_a,
		       void *addr_b, size_t size_b, bool committed,
		       unsigned arena_ind)
{
	(void)hooks, (void)addr_a, (void)size_a, (void)addr_b, (void)size_b;
	(void)committed, (void)arena_ind;
	return false;
}

static const extent_hooks_t pool_extent_hooks = {
	.alloc = hook_alloc,
	.dalloc = hook_dalloc,
	.destroy = hook_destroy,
	.commit = hook_commit,
	.decommit = hook_decommit,
	.purge_lazy = hook_purge_lazy,
	.purge_forced = hook_purge_forced,
	.split = hook_split,
	.merge = hook_merge,
};

static int arena_ctl(unsigned arena, const char *leaf, void *old,
		     size_t *oldlen, void *new, size_t newlen)
{
	char name[64];

	snprintf(name, sizeof(name), "arena.%u.%s", arena, leaf);
	return -mallctl(name, old, oldlen, new, newlen);
}

/*
 * Arenas per pool: one per CPU up to WCPI_MAX_ARENAS, handed to threads in
 * turn (tcache.c), so that threads on different CPUs do not queue on one
 * arena's locks for what their caches cannot serve (fills, flushes, blocks
 * over 32 KiB).  All share the hooks, hence the address space.  A pool starts
 * with one and makes the others as threads arrive: jemalloc has 4095 arenas
 * in all, and a pool that one thread uses needs no more.
 */
static unsigned arenas_wanted(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (cpus < 1)
		return 1;
	return cpus < WCPI_MAX_ARENAS ? (unsigned)cpus : WCPI_MAX_ARENAS;
}

static int create_one(struct wcp_pool *pool, unsigned *arena)
{
	struct arena_config_ext cfg = { &pool->hooks, false };
	size_t limit = pool->page_size > WCP_PAGE_2M ? pool->page_size
						     : WCP_PAGE_2M;
	size_t len = sizeof(*arena);
	int err;

	err = mallctl("experimental.arenas_create_ext", arena, &len, &cfg,
		      sizeof(cfg));
	if (err)
		return -err;
	/*
	 * Grow the address space in page_size steps rather than jemalloc's
	 * geometric steps, so max_size is usable to the last huge page.
	 */
	err = arena_ctl(*arena, "retain_grow_limit", NULL, NULL, &limit,
			sizeof(limit));
	if (err)
		arena_ctl(*arena, "destroy", NULL, NULL, NULL, 0);
	return err;
}

void wcpi_arena_setup(struct wcp_pool *pool)
{
	wcpi_lock_init(&pool->arenas.lock, WCPI_LOCK_ARENAS);
}

int wcpi_arena_create(struct wcp_pool *pool)
{
	int err;

	pool->hooks = pool_extent_hooks;
	pool->arenas.wanted = arenas_wanted();
	err = create_one(pool, &pool->arenas.ids[0]);
	if (err)
		return err;
	pool->arenas.nr = 1;
	pool->arenas.ready = true;
	/* Calls without a thread cache (tcache.c) use the first. */
	pool->arenas.untracked_flags = wcpi_mallocx_arena(pool->arenas.ids[0]) |
			      MALLOCX_TCACHE_NONE;
	return 0;
}

void wcpi_arena_destroy(struct wcp_pool *pool)
{
	/*
	 * A forked child leaves the arenas alone: destroying them would purge
	 * free extents, i.e. punch holes in memory the parent may use again.
	 */
	/* The thread caches' blocks are back in them (pool.c). */
	if (!wcpi_pool_forked(pool))
		for (unsigned i = 0; i < pool->arenas.nr; i++)
			arena_ctl(pool->arenas.ids[i], "destroy", NULL, NULL, NULL,
				  0);
	pool->arenas.nr = 0;
	pool->arenas.ready = false;
	wcpi_lock_fini(&pool->arenas.lock);
}

int wcpi_arena_purge(struct wcp_pool *pool)
{
	int err = 0;

	wcpi_lock(&pool->arenas.lock);
	for (unsigned i = 0; i < pool->arenas.nr && !err; i++)
		err = arena_ctl(pool->arenas.ids[i], "purge", NULL, NULL, NULL,
				0);
	wcpi_unlock(&pool->arenas.lock);
	return err;
}

/*
 * The arena for a new thread cache: the next in turn, made if need be.
 * Returns its slot; *@arena gets jemalloc's index.
 */
unsigned wcpi_arena_pick(struct wcp_pool *pool, unsigned *arena)
{
	unsigned i;

	wcpi_lock(&pool->arenas.lock);
	i = pool->arenas.next++ % pool->arenas.wanted;
	/* Fewer arenas than CPUs is fine when jemalloc has none left. */
	if (i >= pool->arenas.nr &&
	    !create_one(pool, &pool->arenas.ids[pool->arenas.nr]))
		pool->arenas.nr++;
	i %= pool->arenas.nr;
	*arena = pool->arenas.ids[i];
	wcpi_unlock(&pool->arenas.lock);
	return i;
}

/* Sum of one statistic over the pool's arenas. */
static int arena_stat(struct wcp_pool *pool, const char *leaf, uint64_t *v)
{
	char name[96];
	size_t value, len = sizeof(value);
	int err = 0;

	*v = 0;
	wcpi_lock(&pool->arenas.lock);
	for (unsigned i = 0; i < pool->arenas.nr; i++) {
		snprintf(name, sizeof(name), "stats.arenas.%u.%s",
			 pool->arenas.ids[i], leaf);
		err = mallctl(name, &value, &len, NULL, 0);
		if (err)
			break;
		*v += value;
	}
	wcpi_unlock(&pool->arenas.lock);
	return -err;
}

int wcpi_arena_stats(struct wcp_pool *pool, struct wcp_pool_stats *st)
{
	uint64_t epoch = 1, pactive;
	size_t page, len = sizeof(epoch);
	int err;

	/* Refresh jemalloc's merged statistics. */
	err = -mallctl("epoch", &epoch, &len, &epoch, len);
	len = sizeof(page);
	if (!err)
		err = -mallctl("arenas.page", &page, &len, NULL, 0);
	if (!err)
		err = arena_stat(pool, "pactive", &pactive);
	if (err)
		return err;
	st->active = pactive * page;
	return 0;
}
