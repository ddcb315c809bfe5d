// SPDX-License-Identifier: MIT
/*
 * io_uring fixed buffers over a pool.
 *
 * A pool is mostly address space: pinning all of it would commit memory
 * nobody asked for (and cannot work where the module has no page yet).  So
 * the ring gets a table of buffer slots, and wcp_uring_index() registers the
 * pages around an I/O range (rounded out to pool pages, which are committed
 * whole whenever any byte in them is allocated) on first use, reusing the
 * slot of an earlier range that covers it.  When the table is full the
 * oldest slot is replaced; io_uring keeps the old buffer for requests still
 * in flight.  Registered pages must stay the pool's pages, so while a ring
 * is registered the pool gives no memory back (pool->pinned, see
 * wcpi_decommit()); what was freed meanwhile goes at unregister.
 */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "commit.h"
#include "pool.h"
#include "uring.h"

#define WCP_URING_SLOTS 1024u
#define WCP_URING_MAX_BUFFER ((uint64_t)1 << 30)	/* io_uring's limit */

int wcp_uring_register(struct wcp_pool *pool, struct io_uring *ring)
{
	int err = 0;

	if (!pool || !ring)
		return -EINVAL;
	wcpi_lock(&pool->uring.lock);
	if (pool->uring.ring)
		err = -EBUSY;
	if (!err && !pool->uring.slots) {
		pool->uring.slots = calloc(WCP_URING_SLOTS,
					   sizeof(*pool->uring.slots));
		if (!pool->uring.slots)
			err = -ENOMEM;
	}
	if (!err)
		err = io_uring_register_buffers_sparse(ring, WCP_URING_SLOTS);
	if (!err) {
		pool->uring.ring = ring;
		pool->uring.used = 0;
		pool->uring.next = 0;
		atomic_store(&pool->uring.pinned, true);
	}
	wcpi_unlock(&pool->uring.lock);
	return err;
}

/* Register [off, off+len) in a slot. */
static int add_slot(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	struct iovec iov = { pool->base + off, len };
	unsigned int i;
	int ret;

	wcpi_lock_held(&pool->uring.lock);
	WCPI_ASSERT(pool->uring.used <= WCP_URING_SLOTS);
	if (pool->uring.used < WCP_URING_SLOTS)
		i = pool->uring.used;
	else
		i = pool->uring.next++ % WCP_URING_SLOTS;
	ret = io_uring_register_buffers_update_tag(pool->uring.ring, i, &iov, NULL, 1);
	if (ret < 0)
		return ret == -EFAULT ? -ERANGE : ret;
	if (ret != 1)
		return -EIO;
	pool->uring.slots[i] = (struct wcpi_range){ off, len };
	if (i == pool->uring.used)
		pool->uring.used++;
	return (int)i;
}

int wcp_uring_index(struct wcp_pool *pool, const void *ptr, size_t len)
{
	uint64_t off = wcpi_offset(pool, ptr), ps, start, end;
	int ret = -ENOENT;

	if (off == WCP_OFFSET_INVALID || !len || len > WCP_URING_MAX_BUFFER ||
	    off + len > wcpi_pool_mapped(pool))
		return -ERANGE;
	wcpi_lock(&pool->uring.lock);
	if (!pool->uring.ring)
		goto out;
	for (unsigned int i = 0; i < pool->uring.used; i++) {
		struct wcpi_range *s = &pool->uring.slots[i];

		if (off >= s->off && off + len <= s->off + s->len) {
			ret = (int)i;
			goto out;
		}
	}
	ps = pool->page_size;
	start = off & ~(ps - 1);
	end = wcpi_align_up(off + len, ps);
	if (end - start > WCP_URING_MAX_BUFFER)
		ret = -ERANGE;
	else
		ret = add_slot(pool, start, end - start);
out:
	wcpi_unlock(&pool->uring.lock);
	return ret;
}

int wcp_uring_unregister(struct wcp_pool *pool)
{
	int err = 0;

	if (!pool)
		return -ENOENT;
	wcpi_lock(&pool->uring.lock);
	if (!pool->uring.ring) {
		err = -ENOENT;
	} else {
		io_uring_unregister_buffers(pool->uring.ring);
		pool->uring.ring = NULL;
		atomic_store(&pool->uring.pinned, false);
	}
	wcpi_unlock(&pool->uring.lock);
	/* What was freed while pinned can go now (commit.c). */
	if (!err && !wcpi_pool_forked(pool))
		wcpi_commit_retry(pool);
	return err;
}

/* Does a ring pin pages (the whole pool: slots come and go)?  Any thread. */
static bool pins(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	(void)off, (void)len;
	return atomic_load(&pool->uring.pinned);
}

void wcpi_uring_setup(struct wcp_pool *pool)
{
	wcpi_lock_init(&pool->uring.lock, WCPI_LOCK_URING);
	wcpi_commit_add_holder(pool, pins);
}

void wcpi_uring_fini(struct wcp_pool *pool)
{
	/* A forked child shares the parent's ring: its buffers stay. */
	if (!wcpi_pool_forked(pool))
		wcp_uring_unregister(pool);
	free(pool->uring.slots);
	pool->uring.slots = NULL;
	wcpi_lock_fini(&pool->uring.lock);
}
