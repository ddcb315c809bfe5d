// SPDX-License-Identifier: MIT
/*
 * Pool life cycle, the top of the library: options, the backend, the
 * reservation, every part set up and torn down in order; statistics and
 * trim over all parts.  The pool object's own state (address space,
 * mapping, policy) is space.c's, below every part.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "backend.h"
#include "commit.h"
#include "huge.h"
#include "pool.h"
#include "register.h"
#include "spill.h"
#include "symver.h"
#include "tcache.h"
#include "uring.h"

static bool valid_page_size(uint64_t ps)
{
	return ps == 0 || ps == WCP_PAGE_4K || ps == WCP_PAGE_2M ||
	       ps == WCP_PAGE_1G;
}

static bool valid_addr_bits(const struct wcp_pool_options *o)
{
	if (o->addr_bits && (o->addr_bits < 24 || o->addr_bits > 64))
		return false;
	return !(o->flags & WCP_POOL_DMA32) || !o->addr_bits ||
	       o->addr_bits == 32;
}

/* 0, or runs of whole 2 MiB pages up to 1 GiB (wcpool.ko's pages). */
static bool valid_contig_size(uint64_t size)
{
	return size % WCP_PAGE_2M == 0 && size <= WCP_CONTIG_MAX;
}

static int check_options(const struct wcp_pool_options *o)
{
	if (o->backend > WCP_BACKEND_MEMFD || o->policy > WCP_POLICY_WB ||
	    !valid_page_size(o->page_size) ||
	    (o->flags & ~(uint32_t)(WCP_POOL_ALLOW_WB_FALLBACK |
				    WCP_POOL_DMA32)) || !valid_addr_bits(o) ||
	    !valid_contig_size(o->contig_size) ||
	    o->reserved[0] || o->reserved[1] || o->reserved[2])
		return -EINVAL;
	return 0;
}

/*
 * Must the pages lie below a physical limit, or in contiguous runs?  Only
 * the module places them.
 */
static bool placed(const struct wcp_pool_options *o)
{
	return (o->flags & WCP_POOL_DMA32) || o->contig_size ||
	       (o->addr_bits && o->addr_bits < 64);
}

/*
 * The reservation a pool of runs needs: max_size (or the default) rounded
 * up to whole runs, which is what wcpool.ko requires of its max_size and
 * commit.c of the pool.  Other pools round to their page size later.
 */
static uint64_t wanted_max_size(const struct wcp_pool_options *o)
{
	uint64_t max = o->max_size ? o->max_size : WCP_DEFAULT_MAX_SIZE;

	/* Too large either way: wcpi_pool_reserve() says -EINVAL. */
	if (!o->contig_size || max > ((uint64_t)1 << 46))
		return o->max_size;
	return wcpi_round_up(max, o->contig_size);
}

/* One PROT_NONE reservation aligned to the page size: the pool's VA. */
int wcpi_pool_reserve(struct wcp_pool *pool, uint64_t max_size,
		     uint64_t page_size)
{
	uint64_t size, slack, align, run_align;
	char *p, *base;
	int err;

	if (!max_size)
		max_size = WCP_DEFAULT_MAX_SIZE;
	size = wcpi_align_up(max_size, page_size);
	if (size < max_size || size > ((uint64_t)1 << 46))
		return -EINVAL;
	/* 2 MiB at least: huge.c works in 2 MiB units on 4 KiB pools too. */
	align = page_size > WCP_PAGE_2M ? page_size : WCP_PAGE_2M;
	/*
	 * Runs as aligned in the address space as in physical memory (to
	 * the largest power of two dividing their size): a buffer aligned
	 * to that in the address space, and no longer, lies in one run.
	 */
	run_align = pool->contig_size & -pool->contig_size;
	if (run_align > align)
		align = run_align;
	slack = align - WCP_PAGE_4K;
	p = mmap(NULL, size + slack, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	base = (char *)wcpi_align_up((uintptr_t)p, align);
	if (base > p)
		munmap(p, base - p);
	if (base + size < p + size + slack)
		munmap(base + size, p + size + slack - (base + size));
	pool->base = base;
	pool->max_size = size;
	pool->page_size = page_size;
	err = wcpi_livemap_init(&pool->live, size);
	if (!err)
		err = wcpi_commit_init(pool);
	return err ? err : wcpi_huge_init(pool);
}

struct wcp_pool *wcpi_pool_alloc_object(void)
{
	struct wcp_pool *pool = calloc(1, sizeof(*pool));

	if (!pool)
		return NULL;
	pool->fd = -1;
	pool->prot = PROT_READ | PROT_WRITE;
	wcpi_fork_track(pool);
	wcpi_lock_init(&pool->space.lock, WCPI_LOCK_SPACE);
	wcpi_arena_setup(pool);
	wcpi_remote_setup(&pool->remote);
	wcpi_commit_setup(pool);
	wcpi_huge_setup(pool);
	/* The ring's check first: commit.c asks in this order. */
	wcpi_uring_setup(pool);
	wcpi_register_setup(pool);
	wcpi_spill_setup(pool);
	return pool;
}

void wcpi_pool_free_object(struct wcp_pool *pool)
{
	struct wcp_pool *spill = wcpi_spill_peek(pool);

	if (spill)
		wcp_pool_destroy(spill);
	wcpi_spill_fini(pool);
	wcpi_uring_fini(pool);
	wcpi_register_fini(pool);
	/*
	 * Cached blocks go back to the arenas before they go; a fork()
	 * child leaves the parent's alone and only forgets its records.
	 */
	if (wcpi_pool_forked(pool))
		wcpi_tcache_pool_forget(pool);
	else if (pool->arenas.ready)
		wcpi_tcache_pool_fini(pool);
	wcpi_arena_destroy(pool);
	wcpi_remote_fini(&pool->remote);
	if (pool->base)
		munmap(pool->base, pool->max_size);
	wcpi_livemap_fini(&pool->live);
	wcpi_commit_fini(pool);
	wcpi_huge_fini(pool);
	if (pool->fd >= 0)
		close(pool->fd);
	wcpi_lock_fini(&pool->space.lock);
	free(pool);
}

/* The module when it is there and usable, else a memfd. */
static int open_backend(struct wcp_pool *pool, const struct wcp_pool_options *o,
			uint64_t max)
{
	int err;

	max = wcpi_align_up(max ? max : WCP_DEFAULT_MAX_SIZE, WCP_PAGE_2M);
	switch (o->backend) {
	case WCP_BACKEND_MODULE:
		return wcpi_module_open(pool, o, max);
	case WCP_BACKEND_AUTO:
		/* Only the module places pages. */
		if (placed(o))
			return wcpi_module_present() ?
			       wcpi_module_open(pool, o, max) : -EOPNOTSUPP;
		if (wcpi_module_present() &&
		    (!o->page_size || o->page_size == WCP_PAGE_2M)) {
			err = wcpi_module_open(pool, o, max);
			/* No access to the device: the userspace backend. */
			if (err != -EACCES && err != -EPERM && err != -ENODEV)
				return err;
		}
		return wcpi_memfd_open(pool, o);
	case WCP_BACKEND_MEMFD:
		if (placed(o))
			return -EOPNOTSUPP;
		return wcpi_memfd_open(pool, o);
	}
	return -EINVAL;
}

/*
 * wcp_pool_create and wcp_pool_info of 0.4, whose structs grew: the
 * default versions (compat.c keeps the old ones).  Callers inside the
 * library name them as the API does (wcp_pool_create); the link binds
 * that name to the default.
 */
int wcpi_pool_create_0_4(const struct wcp_pool_options *opts,
			 struct wcp_pool **poolp);
int wcpi_pool_info_0_4(const struct wcp_pool *pool, struct wcp_pool_info *info);
WCPI_SYMVER(wcpi_pool_create_0_4, "wcp_pool_create@@WCPOOL_0.4");
WCPI_SYMVER(wcpi_pool_info_0_4, "wcp_pool_info@@WCPOOL_0.4");

int wcpi_pool_create_0_4(const struct wcp_pool_options *opts,
			 struct wcp_pool **poolp)
{
	static const struct wcp_pool_options defaults;
	struct wcp_pool *pool;
	uint64_t max;
	int err;

	if (!poolp)
		return -EINVAL;
	*poolp = NULL;
	if (!opts)
		opts = &defaults;
	err = check_options(opts);
	if (err)
		return err;
	max = wanted_max_size(opts);
	pool = wcpi_pool_alloc_object();
	if (!pool)
		return -ENOMEM;
	err = open_backend(pool, opts, max);
	/* A default pool that got huge pages spills when they run out. */
	pool->spill.allowed = !err && !opts->page_size &&
			      pool->backend == WCP_BACKEND_MEMFD &&
			      pool->page_size != WCP_PAGE_4K;
	/* spill.c makes its pool through the API's front door. */
	if (pool->spill.allowed)
		pool->spill.create = wcp_pool_create;
	if (!err)
		err = wcpi_pool_reserve(pool, max, pool->page_size);
	if (!err)
		err = wcpi_arena_create(pool);
	if (err) {
		wcpi_pool_free_object(pool);
		return err;
	}
	pool->export_path = pool->ops->export_path(pool);
	*poolp = pool;
	return 0;
}

void wcp_pool_destroy(struct wcp_pool *pool)
{
	if (pool)
		wcpi_pool_free_object(pool);
}

int wcpi_pool_info_0_4(const struct wcp_pool *pool, struct wcp_pool_info *info)
{
	if (!pool || !info)
		return -EINVAL;
	*info = (struct wcp_pool_info){
		.backend = pool->backend,
		.policy = pool->policy,
		.page_size = pool->page_size,
		.max_size = pool->max_size,
		.base = pool->base,
		.imported = pool->imported,
		.read_only = pool->read_only,
		.export_path = pool->export_path,
		.addr_bits = pool->addr_bits,
		.contig_size = pool->contig_size,
	};
	return 0;
}

/* Add the spill pool's statistics to @st; what it holds has spilled. */
static int add_spill_stats(struct wcp_pool *pool, struct wcp_pool_stats *st)
{
	struct wcp_pool *s = wcpi_spill_peek(pool);
	struct wcp_pool_stats ss;
	int err;

	if (!s)
		return 0;
	err = wcp_pool_stats(s, &ss);
	if (err)
		return err;
	st->mapped += ss.mapped;
	st->resident += ss.resident;
	st->active += ss.active;
	st->allocated += ss.allocated;
	st->allocations += ss.allocations;
	st->spilled = ss.resident;
	return 0;
}

int wcp_pool_stats(struct wcp_pool *pool, struct wcp_pool_stats *stats)
{
	int err;

	if (!pool || !stats)
		return -EINVAL;
	memset(stats, 0, sizeof(*stats));
	stats->mapped = wcpi_pool_mapped(pool);
	err = pool->ops->resident(pool, &stats->resident);
	if (!err && pool->arenas.ready) {
		err = wcpi_arena_stats(pool, stats);
		/* jemalloc counts blocks in thread caches as allocated: not so. */
		if (!err)
			wcpi_tcache_counts(pool, &stats->allocations,
					   &stats->allocated);
		wcpi_huge_stats(pool, stats);
	}
	return err ? err : add_spill_stats(pool, stats);
}

int wcp_pool_trim(struct wcp_pool *pool)
{
	int err;

	if (!pool)
		return -EINVAL;
	if (!pool->arenas.ready)
		return 0;
	if (wcpi_pool_forked(pool))
		return -EPERM;
	wcpi_huge_trim(pool);
	wcpi_tcache_flush(pool);
	err = wcpi_arena_purge(pool);
	wcpi_commit_retry(pool);
	if (!err && wcpi_spill_peek(pool))
		err = wcp_pool_trim(wcpi_spill_peek(pool));
	return err;
}
