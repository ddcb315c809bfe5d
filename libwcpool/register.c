// SPDX-License-Identifier: MIT
/*
 * Registration of pool ranges with devices.  The constraints are checked
 * here for every backend, so an application learns what is wrong the same
 * way everywhere; the export itself (a dma-buf of exactly the range) is the
 * backend's, and only wcpool.ko has one.
 *
 * A range registered again with the same device constraints gets the same
 * registration back, one more reference: a frame queued again is then the
 * same dma-buf, and an importer such as vb2 keeps its attachment and
 * mapping instead of making new ones every time (UCX's rcache and
 * libfabric's MR cache do the same for RDMA).  The checks (policy,
 * alignment, access against a read-only view) still run for every call.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "commit.h"
#include "pool.h"
#include "register.h"
#include "spill.h"

#define REG_GRANULE WCP_PAGE_4K

struct wcp_registration {
	int fd;
	uint32_t nr_segments;
	const struct wcp_pool *pool;
	/* the key: what the dma-buf is (policy and align are only checks) */
	uint64_t off;
	uint64_t len;
	uint32_t access;	/* normalised: 0 means what it means here */
	uint32_t addr_bits;
	uint32_t max_segments;
	uint64_t max_seg_size;
	/* wcp_register() calls not yet matched by wcp_unregister(), >= 1 */
	uint64_t refs;
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

/* -1, 0, 1 as @a's key sorts before, with, after @b's */
static int key_cmp(const struct wcp_registration *a,
		   const struct wcp_registration *b)
{
#define KEY_CMP(f) if (a->f != b->f) return a->f < b->f ? -1 : 1
	KEY_CMP(off);
	KEY_CMP(len);
	KEY_CMP(access);
	KEY_CMP(addr_bits);
	KEY_CMP(max_segments);
	KEY_CMP(max_seg_size);
#undef KEY_CMP
	return 0;
}

/* First index of by_key whose key is not below @k's. */
static size_t find_key(const struct wcpi_registrations *rs,
		       const struct wcp_registration *k)
{
	size_t lo = 0, hi = rs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (key_cmp(rs->by_key[mid], k) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* First index of by_addr at or above @reg (compared, never read). */
static size_t find_addr(const struct wcpi_registrations *rs,
			const struct wcp_registration *reg)
{
	size_t lo = 0, hi = rs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((uintptr_t)rs->by_addr[mid] < (uintptr_t)reg)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The live registration with @k's key, or NULL.  Lock held. */
static struct wcp_registration *lookup(struct wcpi_registrations *rs,
				       const struct wcp_registration *k)
{
	size_t i = find_key(rs, k);

	wcpi_lock_held(&rs->lock);
	return i < rs->n && !key_cmp(rs->by_key[i], k) ? rs->by_key[i] : NULL;
}

static void insert_at(struct wcp_registration **v, size_t n, size_t i,
		      struct wcp_registration *reg)
{
	memmove(&v[i + 1], &v[i], (n - i) * sizeof(*v));
	v[i] = reg;
}

static void remove_at(struct wcp_registration **v, size_t n, size_t i)
{
	memmove(&v[i], &v[i + 1], (n - i - 1) * sizeof(*v));
}

/* Add @reg to both orders.  Lock held; -ENOMEM leaves them as they were. */
static int insert(struct wcpi_registrations *rs, struct wcp_registration *reg)
{
	size_t ki, ai;

	wcpi_lock_held(&rs->lock);
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 16;
		struct wcp_registration **k, **a;

		k = realloc(rs->by_key, cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		rs->by_key = k;
		a = realloc(rs->by_addr, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		rs->by_addr = a;
		rs->cap = cap;
	}
	ki = find_key(rs, reg);
	ai = find_addr(rs, reg);
	/* One registration per key, each address once. */
	WCPI_ASSERT(ki == rs->n || key_cmp(rs->by_key[ki], reg) > 0);
	WCPI_ASSERT(ai == rs->n || rs->by_addr[ai] != reg);
	insert_at(rs->by_key, rs->n, ki, reg);
	insert_at(rs->by_addr, rs->n, ai, reg);
	rs->n++;
	return 0;
}

/* Is @reg a live registration here?  Lock held; @reg is not read. */
static bool is_live(const struct wcpi_registrations *rs,
		    const struct wcp_registration *reg)
{
	size_t i = find_addr(rs, reg);

	return i < rs->n && rs->by_addr[i] == reg;
}

/* Take live @reg out of both orders.  Lock held. */
static void remove_reg(struct wcpi_registrations *rs,
		       struct wcp_registration *reg)
{
	size_t i = find_addr(rs, reg), k = find_key(rs, reg);

	wcpi_lock_held(&rs->lock);
	WCPI_ASSERT(i < rs->n && rs->by_addr[i] == reg);
	remove_at(rs->by_addr, rs->n, i);
	/* one registration per key: the first with it is @reg */
	WCPI_ASSERT(k < rs->n && rs->by_key[k] == reg);
	remove_at(rs->by_key, rs->n, k);
	rs->n--;
}

/* The key of a registration of [@off, +@len) with @o on @pool. */
static void make_key(const struct wcp_pool *pool, uint64_t off, uint64_t len,
		     const struct wcp_register_options *o,
		     struct wcp_registration *k)
{
	uint32_t all = WCP_ACCESS_READ | WCP_ACCESS_WRITE;

	k->off = off;
	k->len = len;
	k->access = o->access ? o->access : pool->read_only ? WCP_ACCESS_READ : all;
	k->addr_bits = o->addr_bits;
	k->max_segments = o->max_segments;
	k->max_seg_size = o->max_seg_size;
}

/* One more reference to the live registration with @k's key, if any. */
static struct wcp_registration *reuse(struct wcp_pool *pool,
				      const struct wcp_registration *k)
{
	struct wcp_registration *reg;

	wcpi_lock(&pool->regs.lock);
	reg = lookup(&pool->regs, k);
	if (reg)
		reg->refs++;
	wcpi_unlock(&pool->regs.lock);
	return reg;
}

int wcp_register(struct wcp_pool *pool, const void *ptr, size_t len,
		 const struct wcp_register_options *opts,
		 struct wcp_registration **regp)
{
	static const struct wcp_register_options none;
	struct wcp_registration *reg, *had, key;
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
	make_key(pool, wcpi_offset(pool, ptr), len, opts, &key);
	if ((*regp = reuse(pool, &key)))
		return 0;
	reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	/* The export may take a while: not under the lock. */
	err = pool->ops->register_range(pool, ptr, len, opts, &reg->fd,
					&reg->nr_segments);
	if (err) {
		free(reg);
		return err;
	}
	reg->pool = pool;
	make_key(pool, key.off, len, opts, reg);
	reg->refs = 1;
	wcpi_lock(&pool->regs.lock);
	/* Another thread registered the same meanwhile: take that one. */
	had = lookup(&pool->regs, reg);
	if (had)
		had->refs++;
	else
		err = insert(&pool->regs, reg);
	wcpi_unlock(&pool->regs.lock);
	if (had || err) {
		close(reg->fd);
		free(reg);
	}
	*regp = err ? NULL : had ? had : reg;
	return err;
}

/*
 * Drop a reference to @reg if it is one of @pool's live registrations:
 * 0 and *@gone (the last one: it is unlinked, for the caller to close),
 * or -ENOENT.
 */
static int put_registration(struct wcp_pool *pool, struct wcp_registration *reg,
			    bool *gone)
{
	int err = 0;

	*gone = false;
	wcpi_lock(&pool->regs.lock);
	if (!is_live(&pool->regs, reg)) {
		err = -ENOENT;
	} else if (--reg->refs == 0) {
		remove_reg(&pool->regs, reg);
		*gone = true;
	}
	wcpi_unlock(&pool->regs.lock);
	return err;
}

static void close_registration(struct wcp_registration *reg)
{
	close(reg->fd);
	free(reg);
}

int wcp_unregister(struct wcp_pool *pool, struct wcp_registration *reg)
{
	bool gone;
	int err;

	if (!pool || !reg)
		return -ENOENT;
	/*
	 * A spilled range's registration is the spill pool's; @reg is only
	 * compared here until a search has found it live.
	 */
	if (wcpi_spill_peek(pool)) {
		err = put_registration(wcpi_spill_peek(pool), reg, &gone);
		if (!err)
			pool = wcpi_spill_peek(pool);
		else
			err = put_registration(pool, reg, &gone);
	} else {
		err = put_registration(pool, reg, &gone);
	}
	if (err || !gone)
		return err;
	close_registration(reg);
	/*
	 * Pages freed while registered were kept (commit.c); they go now,
	 * unless the dma-buf lives on elsewhere (then at a later trim).
	 */
	wcpi_commit_retry(pool);
	return 0;
}

/*
 * Does a live registration cover a byte of [off, off+len)?  Its pages
 * must stay the file's (commit.c keeps them until it is gone).
 */
static bool overlaps(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	struct wcpi_registrations *rs = &pool->regs;
	bool hit = false;

	wcpi_lock(&rs->lock);
	/* sorted by start: those from @off + @len on cannot overlap */
	for (size_t i = 0; i < rs->n && rs->by_key[i]->off < off + len && !hit;
	     i++)
		hit = off < rs->by_key[i]->off + rs->by_key[i]->len;
	wcpi_unlock(&rs->lock);
	return hit;
}

void wcpi_register_setup(struct wcp_pool *pool)
{
	wcpi_lock_init(&pool->regs.lock, WCPI_LOCK_REGS);
	wcpi_commit_add_holder(pool, overlaps);
}

/* Pool teardown: registrations the application did not drop. */
void wcpi_register_fini(struct wcp_pool *pool)
{
	struct wcpi_registrations *rs = &pool->regs;

	for (size_t i = 0; i < rs->n; i++)
		close_registration(rs->by_addr[i]);
	free(rs->by_key);
	free(rs->by_addr);
	rs->by_key = rs->by_addr = NULL;
	rs->n = rs->cap = 0;
	wcpi_lock_fini(&rs->lock);
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
