// SPDX-License-Identifier: MIT
/*
 * io_uring fixed buffers over a whole pool.  A fixed buffer is at most
 * 1 GiB, so the pool is covered by windows of 1 GiB starting every 512 MiB:
 * any I/O of up to 512 MiB lies inside the window that starts at or before
 * it.  Windows are registered as far as the pool is mapped, and again when
 * it has grown (buffer update).  Registered pages must stay the pool's
 * pages, so while a ring holds them the pool gives no memory back
 * (pool->pinned, see wcp_release()).
 */
#include <errno.h>
#include <liburing.h>
#include <sys/uio.h>

#include "pool.h"

#define WINDOW ((uint64_t)1 << 30)
#define STRIDE (WINDOW / 2)

/* Register every window that gained mapped bytes.  Caller holds uring_lock. */
static int uring_sync(struct wcp_pool *pool)
{
	uint64_t mapped = atomic_load(&pool->mapped);
	unsigned int i;

	if (mapped <= pool->uring_end)
		return 0;
	/* The first window not covered yet in full. */
	i = pool->uring_end < WINDOW ? 0 : (pool->uring_end - WINDOW) / STRIDE + 1;
	for (; i < pool->uring_slots && (uint64_t)i * STRIDE < mapped; i++) {
		uint64_t start = (uint64_t)i * STRIDE;
		uint64_t len = mapped - start < WINDOW ? mapped - start : WINDOW;
		struct iovec iov = { pool->base + start, len };
		int ret = io_uring_register_buffers_update_tag(pool->ring, i,
							       &iov, NULL, 1);

		if (ret < 0)
			return ret;
		if (ret != 1)
			return -EIO;
	}
	pool->uring_end = mapped;
	return 0;
}

int wcp_uring_register(struct wcp_pool *pool, struct io_uring *ring)
{
	int err;

	if (!pool || !ring)
		return -EINVAL;
	pthread_mutex_lock(&pool->uring_lock);
	if (pool->ring) {
		pthread_mutex_unlock(&pool->uring_lock);
		return -EBUSY;
	}
	pool->uring_slots = (unsigned int)((pool->max_size + STRIDE - 1) / STRIDE);
	err = io_uring_register_buffers_sparse(ring, pool->uring_slots);
	if (!err) {
		pool->ring = ring;
		pool->uring_end = 0;
		atomic_store(&pool->pinned, true);
		err = uring_sync(pool);
		if (err) {
			io_uring_unregister_buffers(ring);
			pool->ring = NULL;
			atomic_store(&pool->pinned, false);
		}
	}
	pthread_mutex_unlock(&pool->uring_lock);
	return err;
}

int wcp_uring_index(struct wcp_pool *pool, const void *ptr, size_t len)
{
	uint64_t off = wcp_offset(pool, ptr);
	int err = 0;

	if (off == WCP_OFFSET_INVALID || len > STRIDE ||
	    off + len > pool->max_size)
		return -ERANGE;
	pthread_mutex_lock(&pool->uring_lock);
	if (!pool->ring)
		err = -ENOENT;
	else if (off + len > pool->uring_end)
		err = uring_sync(pool);
	if (!err && off + len > pool->uring_end)
		err = -ERANGE;
	pthread_mutex_unlock(&pool->uring_lock);
	return err ? err : (int)(off / STRIDE);
}

int wcp_uring_unregister(struct wcp_pool *pool)
{
	int err = 0;

	if (!pool)
		return -ENOENT;
	pthread_mutex_lock(&pool->uring_lock);
	if (!pool->ring) {
		err = -ENOENT;
	} else {
		io_uring_unregister_buffers(pool->ring);
		pool->ring = NULL;
		atomic_store(&pool->pinned, false);
	}
	pthread_mutex_unlock(&pool->uring_lock);
	return err;
}

void wcp_uring_fini(struct wcp_pool *pool)
{
	wcp_uring_unregister(pool);
}
