// SPDX-License-Identifier: GPL-2.0
/*
 * WCPOOL_IOC_SEGMENTS, on a pool fd (for that pool's registrations) and on
 * a dma-heap node (for heap buffers): the physically contiguous runs of a
 * wcpool dma-buf as (offset, length) pairs, never their addresses.
 */
#include <linux/dma-buf.h>
#include <linux/uaccess.h>

#include "wcpool_reg.h"

/*
 * Copy @reg's runs out to @args' array, as many as it holds: a snapshot
 * taken under its lock (a move at map may change them; the copy to user
 * memory may fault, which must not happen under that lock).
 */
static int wcpool_segments_copy(struct wcpool_reg *reg,
				struct wcpool_segments *args)
{
	struct wcpool_segment __user *useg = u64_to_user_ptr(args->segments);
	struct wcpool_segment *segs = NULL;
	unsigned int i, n;
	u64 off = 0;
	int ret = 0;

	mutex_lock(&reg->lock);
	n = min(reg->nr_segs, args->count);
	if (n) {
		segs = kvmalloc_array(n, sizeof(*segs), GFP_KERNEL);
		if (!segs) {
			mutex_unlock(&reg->lock);
			return -ENOMEM;
		}
	}
	for (i = 0; i < n; i++) {
		segs[i].offset = off;
		segs[i].length = reg->segs[i].len;
		off += reg->segs[i].len;
	}
	args->count = reg->nr_segs;
	mutex_unlock(&reg->lock);
	if (n && copy_to_user(useg, segs, n * sizeof(*segs)))
		ret = -EFAULT;
	kvfree(segs);
	return ret;
}

/**
 * wcpool_segments_ioctl - WCPOOL_IOC_SEGMENTS on a pool fd or a heap node
 * @pool: the pool of the fd; NULL on a dma-heap node, for heap buffers
 * @uarg: the user's struct wcpool_segments
 *
 * Return: 0 or a negative errno (see the uapi header).
 */
long wcpool_segments_ioctl(struct wcpool *pool, void __user *uarg)
{
	struct wcpool_segments args;
	struct wcpool_reg *reg;
	struct dma_buf *dmabuf;
	long ret;

	ret = wcpool_copy_args(&args, sizeof(args), WCPOOL_SEGMENTS_SIZE_VER0,
			       uarg);
	if (ret)
		return ret;
	if (args.flags || args.reserved[0] || args.reserved[1])
		return -EINVAL;
	dmabuf = dma_buf_get(args.dmabuf);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	reg = wcpool_dmabuf_reg(dmabuf);
	if (!reg || (pool ? reg->pool != pool : !reg->pool->heap))
		ret = -EINVAL;
	else
		ret = wcpool_segments_copy(reg, &args);
	if (!ret)
		ret = wcpool_copy_out(uarg, &args, sizeof(args));
	dma_buf_put(dmabuf);
	return ret;
}
