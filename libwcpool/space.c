// SPDX-License-Identifier: MIT
/*
 * The pool object's own state, below every part: its address space (a
 * bump cursor over the reservation) and how far the pool file is mapped,
 * its caching policy, and the fork() generation it belongs to.  Calls only
 * the backend (through pool->ops).
 */
#include <errno.h>
#include <sys/mman.h>

#include "backend.h"
#include "policy.h"
#include "pool.h"

atomic_uint wcpi_fork_generation;

/* Make @pool belong to this process (and not to a later child). */
void wcpi_fork_track(struct wcp_pool *pool)
{
	pool->fork_generation = atomic_load(&wcpi_fork_generation);
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
	WCPI_ASSERT(end <= atomic_load(&pool->space.mapped));
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

uint32_t wcpi_pool_policy(const struct wcp_pool *pool)
{
	return pool ? pool->policy : WCP_POLICY_WB;
}
