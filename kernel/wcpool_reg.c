// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool registrations: WCPOOL_IOC_REGISTER turns a user range of pool
 * memory into a dma-buf for exactly that range, V4L2 USERPTR style: the
 * device's constraints are checked when the buffer is registered.  The
 * steps are the other wcpool_reg*.c files' (see wcpool_reg.h): find and pin
 * the range, build its runs, export.
 */
#include <linux/dma-buf.h>
#include <linux/file.h>
#include <linux/mm.h>

#include "wcpool_reg.h"

/**
 * wcpool_reg_register - WCPOOL_IOC_REGISTER on a writable pool fd
 * @pool: the pool
 * @args: the arguments, copied in
 * @uarg: where @args is copied back to
 *
 * Return: 0 or a negative errno (see the uapi header).
 */
long wcpool_reg_register(struct wcpool *pool, struct wcpool_register *args,
			 void __user *uarg)
{
	bool write = args->flags & WCPOOL_REG_WRITE;
	struct wcpool_reg *reg;
	struct dma_buf *dmabuf;
	u64 end;
	int fd, ret;

	if ((args->flags & ~WCPOOL_REG_FLAGS) ||
	    !(args->flags & (WCPOOL_REG_READ | WCPOOL_REG_WRITE)) ||
	    args->reserved0 || args->reserved[0] || args->reserved[1])
		return -EINVAL;
	if (!args->length || !PAGE_ALIGNED(args->addr) ||
	    !PAGE_ALIGNED(args->length))
		return -EINVAL;
	if (args->align && (!is_power_of_2(args->align) ||
			    !IS_ALIGNED(args->addr, args->align)))
		return -EINVAL;
	if (args->policy > WCPOOL_POLICY_COUNT)
		return -EINVAL;
	if ((args->addr_bits && (args->addr_bits < PAGE_SHIFT ||
				 args->addr_bits > 64)) ||
	    !PAGE_ALIGNED(args->max_seg_size) ||
	    args->max_seg_size > WCPOOL_SEG_MAX || args->reserved1)
		return -EINVAL;
	if (check_add_overflow(args->addr, args->length, &end))
		return -EOVERFLOW;
	if (end > TASK_SIZE_MAX)
		return -EFAULT;
	if (args->policy != WCPOOL_REG_POLICY_ANY &&
	    args->policy != WCPOOL_REG_POLICY(pool->policy))
		return -EACCES;

	reg = wcpool_reg_alloc(pool);
	if (!reg)
		return -ENOMEM;
	wcpool_reg_set_constraints(reg, args);
	ret = wcpool_reg_lookup(reg, args->addr, args->length, write);
	/* Pages that do not meet the constraints move where they can. */
	if (!ret)
		ret = wcpool_reg_fit(reg);
	if (ret) {
		wcpool_reg_discard(reg);
		return ret;
	}
	dmabuf = wcpool_dmabuf_export(reg, write ? O_RDWR : O_RDONLY);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	/* From here the dma-buf owns @reg: dma_buf_put() frees it. */
	fd = get_unused_fd_flags(args->flags & WCPOOL_REG_CLOEXEC ?
				 O_CLOEXEC : 0);
	if (fd < 0) {
		dma_buf_put(dmabuf);
		return fd;
	}
	args->fd = fd;
	args->nr_segments = reg->nr_segs;
	ret = wcpool_copy_out(uarg, args, sizeof(*args));
	if (ret) {
		put_unused_fd(fd);
		dma_buf_put(dmabuf);
		return ret;
	}
	fd_install(fd, dmabuf->file);
	return 0;
}
