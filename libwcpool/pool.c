// SPDX-License-Identifier: MIT
/* Pool life cycle: options, the address reservation, mapping, teardown. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "policy.h"
#include "pool.h"

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

static int check_options(const struct wcp_pool_options *o)
{
	if (o->backend > WCP_BACKEND_MEMFD || o->policy > WCP_POLICY_WB ||
	    !valid_page_size(o->page_size) ||
	    (o->flags & ~(uint32_t)(WCP_POOL_ALLOW_WB_FALLBACK |
				    WCP_POOL_DMA32)) || !valid_addr_bits(o))
		return -EINVAL;
	return 0;
}

/* Must the pages lie below a physical limit?  Only the module places them. */
static bool placed(const struct wcp_pool_options *o)
{
	return (o->flags & WCP_POOL_DMA32) || (o->addr_bits &&
					       o->addr_bits < 64);
}

/* One PROT_NONE reservation aligned to the page size: the pool's VA. */
int wcpi_pool_reserve(struct wcp_pool *pool, uint64_t max_size,
		     uint64_t page_size)
{
	uint64_t size, slack, align;
	char *p, *base;
	int err;

	if (!max_size)
		max_size = WCP_DEFAULT_MAX_SIZE;
	size = wcpi_align_up(max_size, page_size);
	if (size < max_size || size > ((uint64_t)1 << 46))
		return -EINVAL;
	/* 2 MiB at least: huge.c works in 2 MiB units on 4 KiB pools too. */
	align = page_size > WCP_PAGE_2M ? page_size : WCP_PAGE_2M;
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

static int map_range(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	void *p = mmap(pool->base + off, len, pool->prot,
		       MAP_SHARED | MAP_FIXED | MAP_NORESERVE, pool->fd,
		       (off_t)off);

	return p == MAP_FAILED ? -errno : 0;
}

/*
 * Map the pool file up to @size (a page_size multiple), extending the file
 * first when this process owns the pool.
 */
static int map_to(struct wcp_pool *pool, uint64_t size)
{
	uint64_t mapped = atomic_load(&pool->space.mapped);
	int err = 0;

	wcpi_lock_held(&pool->space.lock);
	if (size <= mapped)
		return 0;
	if (size > pool->max_size)
		return -ERANGE;
	/* @mapped still says how far the pool has grown (stats, ranges). */
	if (pool->ops->map_whole) {
		if (!mapped && !pool->imported)
			err = pool->ops->extend(pool, pool->max_size);
		if (!mapped && !err)
			err = map_range(pool, 0, pool->max_size);
	} else {
		if (!pool->imported)
			err = pool->ops->extend(pool, size);
		if (!err)
			err = map_range(pool, mapped, size - mapped);
	}
	if (err)
		return err;
	atomic_store(&pool->space.mapped, size);
	return 0;
}

/*
 * Take @size bytes at an address aligned to @align from the never-used end
 * of the pool
 * (a bump cursor: address space is never handed out twice), mapped; at
 * @want only, if it is not NULL.  Return: 0 with the offset in @off, or
 * -ENOMEM when the reservation is exhausted or mapping fails.
 */
int wcpi_pool_take_space(struct wcp_pool *pool, uint64_t size, uint64_t align,
			void *want, uint64_t *off)
{
	uint64_t start, end;
	int err = -ENOMEM;

	wcpi_lock(&pool->space.lock);
	/* Addresses are aligned, not offsets: base is only page aligned. */
	start = wcpi_align_up((uintptr_t)pool->base + pool->space.cursor,
			      align) - (uintptr_t)pool->base;
	end = start + size;
	if (start < pool->space.cursor || end < start || end > pool->max_size)
		goto out;
	if (want && want != pool->base + start)
		goto out;
	if (map_to(pool, wcpi_align_up(end, pool->page_size)))
		goto out;
	pool->space.cursor = end;
	*off = start;
	err = 0;
out:
	wcpi_unlock(&pool->space.lock);
	return err;
}

/* An imported view: map what the owner has added to the file since. */
int wcpi_pool_refresh(struct wcp_pool *pool)
{
	uint64_t size;
	int err;

	wcpi_lock(&pool->space.lock);
	err = pool->ops->file_size(pool, &size);
	if (!err)
		err = map_to(pool, size < pool->max_size ? size : pool->max_size);
	wcpi_unlock(&pool->space.lock);
	return err;
}

uint64_t wcpi_pool_mapped(const struct wcp_pool *pool)
{
	return atomic_load(&pool->space.mapped);
}

struct wcp_pool *wcpi_pool_alloc_object(void)
{
	struct wcp_pool *pool = calloc(1, sizeof(*pool));

	if (!pool)
		return NULL;
	pool->fd = -1;
	pool->prot = PROT_READ | PROT_WRITE;
	wcpi_fork_track(pool);
	wcpi_lock_init(&pool->space.lock);
	wcpi_arena_setup(pool);
	wcpi_remote_setup(&pool->remote);
	wcpi_commit_setup(pool);
	wcpi_huge_setup(pool);
	wcpi_register_setup(pool);
	wcpi_uring_setup(pool);
	wcpi_spill_setup(pool);
	return pool;
}

void wcpi_pool_free_object(struct wcp_pool *pool)
{
	wcpi_spill_fini(pool);
	wcpi_uring_fini(pool);
	wcpi_register_fini(pool);
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
static int open_backend(struct wcp_pool *pool, const struct wcp_pool_options *o)
{
	uint64_t max = o->max_size ? o->max_size : WCP_DEFAULT_MAX_SIZE;
	int err;

	max = wcpi_align_up(max, WCP_PAGE_2M);
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

int wcp_pool_create(const struct wcp_pool_options *opts,
		    struct wcp_pool **poolp)
{
	static const struct wcp_pool_options defaults;
	struct wcp_pool *pool;
	int err;

	if (!poolp)
		return -EINVAL;
	*poolp = NULL;
	if (!opts)
		opts = &defaults;
	err = check_options(opts);
	if (err)
		return err;
	pool = wcpi_pool_alloc_object();
	if (!pool)
		return -ENOMEM;
	err = open_backend(pool, opts);
	/* A default pool that got huge pages spills when they run out. */
	pool->spill.allowed = !err && !opts->page_size &&
			      pool->backend == WCP_BACKEND_MEMFD &&
			      pool->page_size != WCP_PAGE_4K;
	if (!err)
		err = wcpi_pool_reserve(pool, opts->max_size, pool->page_size);
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

uint32_t wcpi_pool_policy(const struct wcp_pool *pool)
{
	return pool ? pool->policy : WCP_POLICY_WB;
}

int wcp_pool_info(const struct wcp_pool *pool, struct wcp_pool_info *info)
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
