// SPDX-License-Identifier: MIT
/*
 * Registration of pool ranges with devices.  The constraints are checked
 * here for every backend, so an application learns what is wrong the same
 * way everywhere; the export itself (a dma-buf of exactly the range) is the
 * backend's, and only wcpool.ko has one.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "pool.h"

#define REG_GRANULE WCP_PAGE_4K

struct wcp_registration {
	struct wcp_registration *next;
	int fd;
	uint32_t nr_segments;
	const struct wcp_pool *pool;
	uint64_t off;
	uint64_t len;
};

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static int check_options(const struct wcp_register_options *o)
{
	if (o->access & ~(uint32_t)(WCP_ACCESS_READ | WCP_ACCESS_WRITE) ||
	    o->policy > WCP_POLICY_WB || (o->align && !is_pow2(o->align)) ||
	    (o->addr_bits && (o->addr_bits < 12 || o->addr_bits > 64)) ||
	    o->max_seg_size % REG_GRANULE || o->max_seg_size > WCP_PAGE_1G)
		return -EINVAL;
	return 0;
}

/* The range rules of wcp_register(), in the order its doc lists them. */
static int check_range(const struct wcp_pool *pool, const void *ptr,
		       size_t len, const struct wcp_register_options *o)
{
	uintptr_t p = (uintptr_t)ptr;
	uint64_t off = wcpi_offset(pool, ptr);

	if (!len || p % REG_GRANULE || len % REG_GRANULE || p + len < p ||
	    (o->align && p % o->align))
		return -EINVAL;
	if (off == WCP_OFFSET_INVALID ||
	    off + len > wcpi_pool_mapped(pool))
		return -ERANGE;
	if (o->policy && o->policy != pool->policy)
		return -EACCES;
	if ((o->access & WCP_ACCESS_WRITE) && pool->read_only)
		return -EACCES;
	return 0;
}

int wcp_register(struct wcp_pool *pool, const void *ptr, size_t len,
		 const struct wcp_register_options *opts,
		 struct wcp_registration **regp)
{
	static const struct wcp_register_options none;
	struct wcp_registration *reg;
	struct wcp_pool *s;
	int err;

	if (!pool || !regp)
		return -EINVAL;
	/* Spilled memory is the spill pool's to register. */
	if (!wcpi_owns(pool, ptr) && (s = wcpi_spill_of(pool, ptr)))
		return wcp_register(s, ptr, len, opts, regp);
	*regp = NULL;
	if (!opts)
		opts = &none;
	err = check_options(opts);
	if (!err)
		err = check_range(pool, ptr, len, opts);
	if (err)
		return err;
	reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	err = pool->ops->register_range(pool, ptr, len, opts, &reg->fd,
					&reg->nr_segments);
	if (err) {
		free(reg);
		return err;
	}
	reg->pool = pool;
	reg->off = wcpi_offset(pool, ptr);
	reg->len = len;
	wcpi_lock(&pool->regs.lock);
	reg->next = pool->regs.list;
	pool->regs.list = reg;
	wcpi_unlock(&pool->regs.lock);
	*regp = reg;
	return 0;
}

/* Unlink @reg if it is one of @pool's; true if it was. */
static bool unlink_registration(struct wcp_pool *pool,
				struct wcp_registration *reg)
{
	struct wcp_registration **pp;
	bool found = false;

	wcpi_lock(&pool->regs.lock);
	for (pp = &pool->regs.list; *pp; pp = &(*pp)->next) {
		if (*pp == reg) {
			*pp = reg->next;
			found = true;
			break;
		}
	}
	wcpi_unlock(&pool->regs.lock);
	return found;
}

static int drop_registration(struct wcp_pool *pool,
			     struct wcp_registration *reg)
{
	if (!pool || !reg || !unlink_registration(pool, reg))
		return -ENOENT;
	close(reg->fd);
	free(reg);
	return 0;
}

int wcp_unregister(struct wcp_pool *pool, struct wcp_registration *reg)
{
	int err;

	if (pool && reg && reg->pool == wcpi_spill_peek(pool))
		pool = wcpi_spill_peek(pool);
	err = drop_registration(pool, reg);

	/*
	 * Pages freed while registered were kept (commit.c); they go now,
	 * unless the dma-buf lives on elsewhere (then at a later trim).
	 */
	if (!err)
		wcpi_commit_retry(pool);
	return err;
}

/*
 * Does a live registration cover a byte of [off, off+len)?  Its pages
 * must stay the file's (commit.c keeps them until it is gone).
 */
bool wcpi_register_overlaps(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	bool hit = false;

	wcpi_lock(&pool->regs.lock);
	for (struct wcp_registration *r = pool->regs.list; r && !hit;
	     r = r->next)
		hit = r->off < off + len && off < r->off + r->len;
	wcpi_unlock(&pool->regs.lock);
	return hit;
}

void wcpi_register_setup(struct wcp_pool *pool)
{
	wcpi_lock_init(&pool->regs.lock);
}

/* Pool teardown: registrations the application did not drop. */
void wcpi_register_fini(struct wcp_pool *pool)
{
	while (pool->regs.list)
		drop_registration(pool, pool->regs.list);
	wcpi_lock_fini(&pool->regs.lock);
}

int wcp_registration_fd(const struct wcp_registration *reg)
{
	return reg ? reg->fd : -EINVAL;
}

int wcp_registration_segments(const struct wcp_registration *reg,
			      struct wcp_segment *seg, size_t max)
{
	if (!reg || (max && !seg))
		return -EINVAL;
	if (!reg->pool->ops->segments)
		return -EOPNOTSUPP;
	return reg->pool->ops->segments(reg->pool, reg->fd, seg, max);
}
