// SPDX-License-Identifier: MIT
/*
 * Default pools (page size 0) on a hugetlb memfd keep working once the
 * system's reserved huge pages run out: what the huge pages cannot hold
 * goes to a second pool of 4 KiB pages, made when first needed, which the
 * pool owns and whose offsets follow its own (max_size + the spill pool's
 * offset), so that offsets stay one space in every process.  A pool asked
 * for a page size explicitly never spills: it fails with ENOMEM.
 * wcp_pool_stats() says how much spilled; wcp_pool_send() carries both
 * files.
 */
#include <stdlib.h>

#include "pool.h"
#include "spill.h"

/*
 * Spilled offsets are @pool's max_size + the spill pool's (wcp_offset(),
 * wcp_pointer()): one space only if the spill pool is as large, and 4 KiB
 * pages that do not spill again.
 */
static struct wcp_pool *check_spill(const struct wcp_pool *pool,
				    struct wcp_pool *s)
{
	WCPI_ASSERT(s->max_size == pool->max_size &&
		    s->page_size == WCP_PAGE_4K && !s->spill.allowed);
	(void)pool;
	return s;
}

void wcpi_spill_setup(struct wcp_pool *pool)
{
	wcpi_lock_init(&pool->spill.lock, WCPI_LOCK_SPILL);
}

/* The spill pool itself went first (pool.c). */
void wcpi_spill_fini(struct wcp_pool *pool)
{
	atomic_store(&pool->spill.pool, NULL);
	wcpi_lock_fini(&pool->spill.lock);
}

struct wcp_pool *wcpi_spill_get(struct wcp_pool *pool)
{
	struct wcp_pool_options o = {
		.backend = WCP_BACKEND_MEMFD,
		.policy = WCP_POLICY_WB,
		.page_size = WCP_PAGE_4K,
		.max_size = pool->max_size,
	};
	struct wcp_pool *s = atomic_load(&pool->spill.pool);

	if (s || !pool->spill.allowed)
		return s;
	wcpi_lock(&pool->spill.lock);
	s = atomic_load(&pool->spill.pool);
	if (!s && !pool->spill.create(&o, &s))
		atomic_store(&pool->spill.pool, check_spill(pool, s));
	wcpi_unlock(&pool->spill.lock);
	return s;
}

struct wcp_pool *wcpi_spill_peek(const struct wcp_pool *pool)
{
	return atomic_load(&((struct wcp_pool *)pool)->spill.pool);
}

struct wcp_pool *wcpi_spill_of(const struct wcp_pool *pool, const void *ptr)
{
	struct wcp_pool *s = pool ? wcpi_spill_peek(pool) : NULL;

	return s && wcpi_owns(s, ptr) ? s : NULL;
}

/* An imported view gets the view of the owner's spill pool. */
void wcpi_spill_adopt(struct wcp_pool *pool, struct wcp_pool *spill)
{
	atomic_store(&pool->spill.pool, check_spill(pool, spill));
}
