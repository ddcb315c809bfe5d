// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool pools: the pool object, its fds and the pool fd ioctls.
 *
 * Every pool has its own inode on a small pseudo filesystem, so that its
 * address_space links exactly the VMAs of this pool and RELEASE can unmap a
 * range from every process with unmap_mapping_range().  All fds of a pool
 * (the writable one and read-only ones from WCPOOL_IOC_DUP) share the inode.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pagemap.h>
#include <linux/pseudo_fs.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "wcpool.h"

#define WCPOOL_FS_MAGIC	0x77637030	/* "wcp0" */

static struct vfsmount *wcpool_mnt;
static DEFINE_MUTEX(wcpool_list_lock);
static LIST_HEAD(wcpool_list);

static const struct file_operations wcpool_pool_fops;

static void wcpool_pool_free(struct kref *kref)
{
	struct wcpool *pool = container_of(kref, struct wcpool, kref);
	unsigned long idx, nr = 0;
	struct page *head;

	mutex_lock(&wcpool_list_lock);
	list_del(&pool->node);
	mutex_unlock(&wcpool_list_lock);

	/* Every registration holds a pool reference. */
	WARN_ON_ONCE(!list_empty(&pool->regs));
	/* No file is left, hence no mapping: only pins can remain. */
	xa_for_each(&pool->pages, idx, head) {
		wcpool_page_release(head, pool->policy);
		nr++;
		cond_resched();
	}
	WARN_ON_ONCE(nr != pool->nr_pages);
	xa_destroy(&pool->pages);
	iput(pool->inode);
	mutex_destroy(&pool->lock);
	kfree(pool);
	atomic_long_dec(&wcpool_stats.pools);
}

void wcpool_pool_get(struct wcpool *pool)
{
	kref_get(&pool->kref);
}

void wcpool_pool_put(struct wcpool *pool)
{
	kref_put(&pool->kref, wcpool_pool_free);
}

/* Is @file a pool fd (of any pool)? */
bool wcpool_is_pool_file(const struct file *file)
{
	return file && file->f_op == &wcpool_pool_fops;
}

static int wcpool_pool_release(struct inode *inode, struct file *file)
{
	struct wcpool *pool = file->private_data;

	kref_put(&pool->kref, wcpool_pool_free);
	return 0;
}

/* Check a GROW/RELEASE range and turn it into huge page indices. */
static int wcpool_range_check(struct wcpool *pool,
			      const struct wcpool_range *r,
			      unsigned long *first, unsigned long *nr)
{
	u64 end;

	if (r->flags || r->reserved[0] || r->reserved[1])
		return -EINVAL;
	if (!r->length || !IS_ALIGNED(r->offset, WCPOOL_HPAGE_SIZE) ||
	    !IS_ALIGNED(r->length, WCPOOL_HPAGE_SIZE))
		return -EINVAL;
	if (check_add_overflow(r->offset, r->length, &end))
		return -EINVAL;
	if (end > pool->max_size)
		return -EFBIG;
	*first = r->offset >> WCPOOL_PAGE_SHIFT_2M;
	*nr = r->length >> WCPOOL_PAGE_SHIFT_2M;
	return 0;
}

/**
 * wcpool_pool_grow - WCPOOL_IOC_GROW: back a range with new pages
 * @pool: the pool
 * @r: the range, copied in (or made by the dma-heap nodes)
 *
 * A pool may span 2^25 huge pages: a range of more pages than the module
 * limit fails at once, and the range is searched for a present page rather
 * than walked index by index.
 *
 * Return: 0 or a negative errno (see the uapi header).
 */
long wcpool_pool_grow(struct wcpool *pool, const struct wcpool_range *r)
{
	unsigned long first, nr, i, idx;
	struct page *head;
	long ret;

	ret = wcpool_range_check(pool, r, &first, &nr);
	if (ret)
		return ret;
	/* More pages than the limit never fit; this bounds the loops below. */
	if (nr > wcpool_page_limit())
		return -ENOSPC;

	ret = mutex_lock_killable(&pool->lock);
	if (ret)
		return ret;
	idx = first;
	if (xa_find(&pool->pages, &idx, first + nr - 1, XA_PRESENT)) {
		ret = -EEXIST;
		goto out_unlock;
	}
	ret = wcpool_page_reserve(nr);
	if (ret)
		goto out_unlock;

	for (i = 0; i < nr; i++) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto out_undo;
		}
		head = wcpool_page_alloc(pool->policy, pool->dma32);
		if (!head) {
			ret = -ENOMEM;
			goto out_undo;
		}
		ret = xa_err(xa_store(&pool->pages, first + i, head,
				      GFP_KERNEL_ACCOUNT));
		if (ret) {
			wcpool_page_free(head, pool->policy);
			goto out_undo;
		}
		cond_resched();
	}
	pool->nr_pages += nr;
	mutex_unlock(&pool->lock);
	return 0;

out_undo:
	/* Nothing was mapped yet: the pages go straight back. */
	while (i--) {
		head = xa_erase(&pool->pages, first + i);
		wcpool_page_free(head, pool->policy);
		cond_resched();
	}
	wcpool_page_unreserve(nr);
out_unlock:
	mutex_unlock(&pool->lock);
	return ret;
}

/**
 * wcpool_pool_release_range - WCPOOL_IOC_RELEASE: drop the pages of a range
 * @pool: the pool
 * @r: the range, copied in
 *
 * Visits only the pages present, so the work is bounded by the module limit
 * whatever the length of the range.  Each page is released whole; a fatal
 * signal stops between pages.
 *
 * Return: 0 or a negative errno (see the uapi header).
 */
static long wcpool_pool_release_range(struct wcpool *pool,
				      const struct wcpool_range *r)
{
	unsigned long first, nr, idx;
	struct page *head;
	long ret;

	ret = wcpool_range_check(pool, r, &first, &nr);
	if (ret)
		return ret;

	ret = mutex_lock_killable(&pool->lock);
	if (ret)
		return ret;
	/* Registered pages are pinned for a device: nothing changes. */
	if (wcpool_reg_overlaps(pool, r->offset, r->length)) {
		ret = -EBUSY;
		goto out_unlock;
	}
	xa_for_each_range(&pool->pages, idx, head, first, first + nr - 1) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		xa_erase(&pool->pages, idx);
		pool->nr_pages--;
		/*
		 * A fault that found the page before the erase holds the page
		 * lock until its PTE is in place: wait for it, then zap.
		 */
		lock_page(head);
		unlock_page(head);
		unmap_mapping_range(pool->inode->i_mapping,
				    (loff_t)idx << WCPOOL_PAGE_SHIFT_2M,
				    WCPOOL_HPAGE_SIZE, 1);
		wcpool_page_release(head, pool->policy);
		cond_resched();
	}
out_unlock:
	mutex_unlock(&pool->lock);
	return ret;
}

static long wcpool_pool_info(struct wcpool *pool, struct file *file,
			     struct wcpool_info *info)
{
	u32 size = info->size;

	if (info->flags || info->reserved0 || memchr_inv(info->reserved, 0,
							 sizeof(info->reserved)))
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->size = size;
	if (!(file->f_mode & FMODE_WRITE))
		info->flags |= WCPOOL_INFO_READONLY;
	if (pool->dma32)
		info->flags |= WCPOOL_INFO_DMA32;
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
 * A new file of @pool: takes a pool, an inode and a module reference (the
 * file's fops are ours; __fput() drops the module reference).
 */
static struct file *wcpool_pool_file(struct wcpool *pool, int flags)
{
	struct file *file;

	__module_get(THIS_MODULE);
	ihold(pool->inode);
	file = alloc_file_pseudo(pool->inode, wcpool_mnt, "wcpool", flags,
				 &wcpool_pool_fops);
	if (IS_ERR(file)) {
		iput(pool->inode);
		module_put(THIS_MODULE);
		return file;
	}
	kref_get(&pool->kref);
	file->private_data = pool;
	return file;
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
	file = wcpool_pool_file(pool, flags);
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
		struct wcpool_segments segs;
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
		ret = wcpool_copy_args(&u.segs, sizeof(u.segs),
				       WCPOOL_SEGMENTS_SIZE_VER0, uarg);
		if (ret)
			return ret;
		return wcpool_reg_segments(pool, &u.segs, uarg);
	default:
		return -ENOTTY;
	}
}

/**
 * wcpool_pool_new - a pool without pages or files
 * @policy: WCPOOL_POLICY_*
 * @map_mode: WCPOOL_MAP_*
 * @max_size: largest file size in bytes, a multiple of the huge page size
 *
 * Return: the pool, holding one reference (wcpool_pool_put() drops it), or
 * an ERR_PTR.
 */
struct wcpool *wcpool_pool_new(u32 policy, u32 map_mode, u64 max_size)
{
	struct wcpool *pool;
	struct inode *inode;

	pool = kzalloc(sizeof(*pool), GFP_KERNEL_ACCOUNT);
	if (!pool)
		return ERR_PTR(-ENOMEM);
	inode = alloc_anon_inode(wcpool_mnt->mnt_sb);
	if (IS_ERR(inode)) {
		kfree(pool);
		return ERR_CAST(inode);
	}
	inode->i_size = max_size;
	kref_init(&pool->kref);
	mutex_init(&pool->lock);
	xa_init(&pool->pages);
	INIT_LIST_HEAD(&pool->regs);
	pool->inode = inode;
	pool->policy = policy;
	pool->map_mode = map_mode;
	pool->max_size = max_size;
	atomic_long_inc(&wcpool_stats.pools);
	mutex_lock(&wcpool_list_lock);
	list_add_tail(&pool->node, &wcpool_list);
	mutex_unlock(&wcpool_list_lock);
	return pool;
}

/**
 * wcpool_pool_create - WCPOOL_IOC_CREATE: make a pool and install its fd
 * @args: the arguments, copied in; @args->fd is set on success
 * @uarg: where @args is copied back to
 *
 * Return: 0 or a negative errno.
 */
long wcpool_pool_create(struct wcpool_create *args, void __user *uarg)
{
	struct wcpool *pool;
	struct file *file;
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

	pool = wcpool_pool_new(args->policy, args->map_mode, args->max_size);
	if (IS_ERR(pool))
		return PTR_ERR(pool);
	pool->dma32 = args->flags & WCPOOL_CREATE_DMA32;
	/* The file takes its own references; drop the creation one after. */
	fd = wcpool_pool_newfd(pool, O_RDWR,
			       args->flags & WCPOOL_CREATE_CLOEXEC, &file);
	wcpool_pool_put(pool);
	if (fd < 0)
		return fd;
	args->fd = fd;
	return wcpool_pool_publish(uarg, args, sizeof(*args), fd, file);
}

/**
 * wcpool_pool_for_each - call @fn for every live pool (debugfs)
 * @fn: called with the pool's lock held
 * @data: passed to @fn
 *
 * Return: 0, or -EINTR when a fatal signal interrupted the wait for a lock.
 */
int wcpool_pool_for_each(void (*fn)(struct wcpool *pool, void *data),
			 void *data)
{
	struct wcpool *pool;
	int ret;

	ret = mutex_lock_killable(&wcpool_list_lock);
	if (ret)
		return ret;
	list_for_each_entry(pool, &wcpool_list, node) {
		ret = mutex_lock_killable(&pool->lock);
		if (ret)
			break;
		fn(pool, data);
		mutex_unlock(&pool->lock);
	}
	mutex_unlock(&wcpool_list_lock);
	return ret;
}

static int wcpool_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, WCPOOL_FS_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type wcpool_fs_type = {
	.name = "wcpool",
	.init_fs_context = wcpool_fs_init_fs_context,
	.kill_sb = kill_anon_super,
};

int wcpool_pool_init(void)
{
	wcpool_mnt = kern_mount(&wcpool_fs_type);
	return PTR_ERR_OR_ZERO(wcpool_mnt);
}

void wcpool_pool_exit(void)
{
	kern_unmount(wcpool_mnt);
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
