// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool pool fds: WCPOOL_IOC_CREATE makes one; their ioctls (GROW,
 * RELEASE, INFO, DUP, REGISTER, SEGMENTS) are dispatched here to the pool
 * (wcpool_pool.c) and the registrations (wcpool_reg*.c); mmap goes to
 * wcpool_mmap.c.  All fds of a pool (the writable one and read-only ones
 * from WCPOOL_IOC_DUP) share the pool's inode.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "wcpool.h"

static const struct file_operations wcpool_pool_fops;

static int wcpool_pool_release(struct inode *inode, struct file *file)
{
	struct wcpool *pool = file->private_data;

	wcpool_pool_put(pool);
	return 0;
}

static long wcpool_pool_info(struct wcpool *pool, struct file *file,
			     struct wcpool_info *info)
{
	u32 size = info->size;

	if (info->flags || info->reserved0 ||
	    memchr_inv(info->reserved, 0, sizeof(info->reserved)) ||
	    info->addr_bits || info->reserved1 || info->contig_size)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->size = size;
	if (!(file->f_mode & FMODE_WRITE))
		info->flags |= WCPOOL_INFO_READONLY;
	if (pool->addr_bits == 32)
		info->flags |= WCPOOL_INFO_DMA32;
	info->addr_bits = pool->addr_bits;
	info->contig_size = pool->contig > 1 ?
			    (u64)pool->contig << WCPOOL_PAGE_SHIFT_2M : 0;
	info->policy = pool->policy;
	info->page_shift = WCPOOL_PAGE_SHIFT_2M;
	info->map_mode = pool->map_mode;
	info->max_size = pool->max_size;
	if (mutex_lock_killable(&pool->lock))
		return -EINTR;
	info->grown_size = (u64)pool->nr_pages << WCPOOL_PAGE_SHIFT_2M;
	mutex_unlock(&pool->lock);
	return 0;
}

/*
 * Reserve an fd and make a file for it, not yet installed: the caller
 * copies the fd number to userspace first and installs only on success.
 */
static int wcpool_pool_newfd(struct wcpool *pool, int flags, bool cloexec,
			     struct file **filep)
{
	struct file *file;
	int fd;

	fd = get_unused_fd_flags(cloexec ? O_CLOEXEC : 0);
	if (fd < 0)
		return fd;
	file = wcpool_pool_file(pool, flags, &wcpool_pool_fops);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	*filep = file;
	return fd;
}

/* Copy the ioctl output holding the new fd, then install or undo it. */
static int wcpool_pool_publish(void __user *uarg, const void *karg,
			       size_t ksize, int fd, struct file *file)
{
	int ret;

	ret = wcpool_copy_out(uarg, karg, ksize);
	if (ret) {
		fput(file);
		put_unused_fd(fd);
		return ret;
	}
	fd_install(fd, file);
	return 0;
}

static long wcpool_pool_dup(struct wcpool *pool, struct wcpool_dup *dup,
			    void __user *uarg)
{
	struct file *file;
	int fd;

	if ((dup->flags & ~WCPOOL_DUP_FLAGS) || dup->reserved0 ||
	    dup->reserved[0] || dup->reserved[1])
		return -EINVAL;
	if (!(dup->flags & WCPOOL_DUP_READONLY))
		return -EINVAL;
	fd = wcpool_pool_newfd(pool, O_RDONLY,
			       dup->flags & WCPOOL_DUP_CLOEXEC, &file);
	if (fd < 0)
		return fd;
	dup->fd = fd;
	return wcpool_pool_publish(uarg, dup, sizeof(*dup), fd, file);
}

static long wcpool_pool_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	struct wcpool *pool = file->private_data;
	void __user *uarg = (void __user *)arg;
	union {
		struct wcpool_range range;
		struct wcpool_info info;
		struct wcpool_dup dup;
		struct wcpool_register reg;
	} u;
	long ret;

	switch (cmd) {
	case WCPOOL_IOC_GROW:
	case WCPOOL_IOC_RELEASE:
		ret = wcpool_copy_args(&u.range, sizeof(u.range),
				       WCPOOL_RANGE_SIZE_VER0, uarg);
		if (ret)
			return ret;
		if (!(file->f_mode & FMODE_WRITE))
			return -EBADF;
		if (cmd == WCPOOL_IOC_GROW)
			return wcpool_pool_grow(pool, &u.range);
		return wcpool_pool_release_range(pool, &u.range);
	case WCPOOL_IOC_INFO:
		ret = wcpool_copy_args(&u.info, sizeof(u.info),
				       WCPOOL_INFO_SIZE_VER0, uarg);
		if (!ret)
			ret = wcpool_pool_info(pool, file, &u.info);
		if (!ret)
			ret = wcpool_copy_out(uarg, &u.info, sizeof(u.info));
		return ret;
	case WCPOOL_IOC_DUP:
		ret = wcpool_copy_args(&u.dup, sizeof(u.dup),
				       WCPOOL_DUP_SIZE_VER0, uarg);
		if (ret)
			return ret;
		return wcpool_pool_dup(pool, &u.dup, uarg);
	case WCPOOL_IOC_REGISTER:
		ret = wcpool_copy_args(&u.reg, sizeof(u.reg),
				       WCPOOL_REGISTER_SIZE_VER0, uarg);
		if (ret)
			return ret;
		/* A read-only fd registers for device reads only. */
		if (!(file->f_mode & FMODE_WRITE) &&
		    (u.reg.flags & WCPOOL_REG_WRITE))
			return -EACCES;
		return wcpool_reg_register(pool, &u.reg, uarg);
	case WCPOOL_IOC_SEGMENTS:
		return wcpool_segments_ioctl(pool, uarg);
	default:
		return -ENOTTY;
	}
}

/*
 * CREATE's address limit and contiguous run size: EINVAL for values out of
 * range, EOPNOTSUPP for runs on a kernel that cannot make them.
 */
static int wcpool_pool_create_fit(const struct wcpool_create *args,
				  u32 *addr_bits, unsigned long *contig)
{
	*addr_bits = args->addr_bits;
	if (args->flags & WCPOOL_CREATE_DMA32) {
		if (*addr_bits && *addr_bits != 32)
			return -EINVAL;
		*addr_bits = 32;
	}
	if (*addr_bits && (*addr_bits < 24 || *addr_bits > 64))
		return -EINVAL;
	if (args->reserved1 ||
	    !IS_ALIGNED(args->contig_size, WCPOOL_HPAGE_SIZE) ||
	    args->contig_size > WCPOOL_CONTIG_MAX ||
	    (args->contig_size &&
	     args->max_size % args->contig_size))
		return -EINVAL;
	*contig = max_t(u64, args->contig_size >> WCPOOL_PAGE_SHIFT_2M, 1);
	if (*contig > 1 && !wcpool_contig_supported())
		return -EOPNOTSUPP;
	return 0;
}

/**
 * wcpool_pool_create - WCPOOL_IOC_CREATE: make a pool and install its fd
 * @args: the arguments, copied in; @args->fd is set on success
 * @uarg: where @args is copied back to
 *
 * Return: 0 or a negative errno (see the uapi header).
 */
long wcpool_pool_create(struct wcpool_create *args, void __user *uarg)
{
	unsigned long contig;
	struct wcpool *pool;
	struct file *file;
	u32 addr_bits;
	int fd;

	if ((args->flags & ~WCPOOL_CREATE_FLAGS) ||
	    args->reserved[0] || args->reserved[1])
		return -EINVAL;
	if (args->policy >= WCPOOL_POLICY_COUNT)
		return -EINVAL;
	if (args->page_shift && args->page_shift != WCPOOL_PAGE_SHIFT_2M)
		return -EINVAL;
	if (!args->max_size || args->max_size > WCPOOL_MAX_SIZE ||
	    !IS_ALIGNED(args->max_size, WCPOOL_HPAGE_SIZE))
		return -EINVAL;
	switch (args->map_mode) {
	case WCPOOL_MAP_PTE:
		break;
	case WCPOOL_MAP_PMD:
		if (!wcpool_mmap_pmd_supported())
			return -EOPNOTSUPP;
		break;
	default:
		return -EINVAL;
	}
	fd = wcpool_pool_create_fit(args, &addr_bits, &contig);
	if (fd)
		return fd;

	pool = wcpool_pool_new(args->policy, args->map_mode, args->max_size,
			       addr_bits, contig);
	if (IS_ERR(pool))
		return PTR_ERR(pool);
	/* The file takes its own references; drop the creation one after. */
	fd = wcpool_pool_newfd(pool, O_RDWR,
			       args->flags & WCPOOL_CREATE_CLOEXEC, &file);
	wcpool_pool_put(pool);
	if (fd < 0)
		return fd;
	args->fd = fd;
	return wcpool_pool_publish(uarg, args, sizeof(*args), fd, file);
}

static const struct file_operations wcpool_pool_fops = {
	.owner = THIS_MODULE,
	.release = wcpool_pool_release,
	.unlocked_ioctl = wcpool_pool_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = wcpool_mmap,
#if defined(CONFIG_ARCH_SUPPORTS_PMD_PFNMAP) && defined(WCPOOL_HAVE_HUGE_FAULT_ORDER)
	.get_unmapped_area = wcpool_get_unmapped_area,
#endif
	.llseek = noop_llseek,
};
