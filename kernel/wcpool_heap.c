// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool dma-heap nodes: /dev/dma_heap/wcpool-wc, -uc and -wb take
 * DMA_HEAP_IOCTL_ALLOC exactly as the kernel's dma-heaps do, so a program
 * written for dma-heaps (libcamera, GStreamer, Android's allocator) gets
 * buffers of the node's cache policy by opening another path.
 *
 * Debian's kernels export no dma_heap_add() to modules (6.1 has no dma-heap
 * core at all), so the nodes are misc devices named like heap nodes, not
 * members of the dma_heap class: /sys/class/dma_heap does not list them,
 * and the names never shadow a real heap such as "system".
 *
 * Each allocation is a pool of its own, private to one dma-buf: len
 * rounded up to whole 2 MiB pages of the policy (charged to the caller's
 * memory cgroup and the module limit), pinned by a registration of its
 * first len bytes and exported at once, without a user mapping.  The
 * dma-buf holds the pool; its release frees both.  The node also takes
 * WCPOOL_IOC_SEGMENTS for these buffers.
 *
 * /dev/dma_heap/wcpool-{wc,uc,wb}-contig (where the kernel makes
 * contiguous runs, wcpool_contig.c): each buffer is one physically
 * contiguous run, up to WCPOOL_CONTIG_MAX; what programs written for
 * "linux,cma" expect, on kernels without CMA.  Nodes rather than heap
 * flags: the dma-heap UAPI defines no heap flag (the kernel's heaps refuse
 * any), and programs choose a heap by its path.
 */
#include <linux/dma-buf.h>
#include <linux/file.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/uaccess.h>
#include <uapi/linux/dma-heap.h>

#include "wcpool.h"

/*
 * The nodes: index = policy, + WCPOOL_POLICY_COUNT for the contiguous
 * ones (registered only where the kernel makes contiguous runs).
 */
#define WCPOOL_HEAP_NODES	(2 * WCPOOL_POLICY_COUNT)
static struct miscdevice wcpool_heaps[WCPOOL_HEAP_NODES];
static unsigned int wcpool_heap_nr;

static const char *const wcpool_heap_names[WCPOOL_HEAP_NODES][2] = {
	[WCPOOL_POLICY_WC] = { "wcpool-heap-wc", "dma_heap/wcpool-wc" },
	[WCPOOL_POLICY_UC] = { "wcpool-heap-uc", "dma_heap/wcpool-uc" },
	[WCPOOL_POLICY_WB] = { "wcpool-heap-wb", "dma_heap/wcpool-wb" },
	[WCPOOL_POLICY_COUNT + WCPOOL_POLICY_WC] = {
		"wcpool-heap-wc-contig", "dma_heap/wcpool-wc-contig" },
	[WCPOOL_POLICY_COUNT + WCPOOL_POLICY_UC] = {
		"wcpool-heap-uc-contig", "dma_heap/wcpool-uc-contig" },
	[WCPOOL_POLICY_COUNT + WCPOOL_POLICY_WB] = {
		"wcpool-heap-wb-contig", "dma_heap/wcpool-wb-contig" },
};

static unsigned int wcpool_heap_index(struct file *file)
{
	struct miscdevice *misc = file->private_data;

	return misc - wcpool_heaps;
}

/*
 * A dma-buf of @len bytes of a new pool of @policy; @contig: one
 * physically contiguous run.
 */
static struct dma_buf *wcpool_heap_buffer(u32 policy, u64 len, int flags,
					  bool contig)
{
	u64 size = ALIGN(len, WCPOOL_HPAGE_SIZE);
	struct wcpool_range r = { .size = sizeof(r), .length = size };
	struct dma_buf *dmabuf;
	struct wcpool *pool;
	long ret;

	pool = wcpool_pool_new(policy, WCPOOL_MAP_PTE, size, 0,
			       contig ? size >> WCPOOL_PAGE_SHIFT_2M : 1);
	if (IS_ERR(pool))
		return ERR_CAST(pool);
	pool->heap = true;
	ret = wcpool_pool_grow(pool, &r);
	/* Over the module limit: the heap is out of memory. */
	if (ret == -ENOSPC)
		ret = -ENOMEM;
	dmabuf = ret ? ERR_PTR(ret) : wcpool_reg_export_pool(pool, len, flags);
	/* The dma-buf holds the pool now, or nothing does. */
	wcpool_pool_put(pool);
	return dmabuf;
}

/**
 * wcpool_heap_alloc - DMA_HEAP_IOCTL_ALLOC on a wcpool heap node
 * @file: the node's open file; its minor gives the cache policy
 * @data: the arguments, copied in; @data->fd is set on success
 * @uarg: where @data is copied back to
 *
 * As the kernel's dma-heaps: @data->fd must be 0, fd_flags at most
 * O_CLOEXEC | O_ACCMODE (the dma-buf file gets O_ACCMODE), heap_flags 0,
 * len is rounded up to whole pages and must be neither 0 nor more than the
 * machine's memory (on a contiguous node: nor more than
 * WCPOOL_CONTIG_MAX).
 *
 * Return: 0 or a negative errno: -EINVAL (a field out of range), -ENOMEM
 * (no memory, the memory cgroup's limit or the module's), -EINTR (fatal
 * signal), -EMFILE/-ENFILE (no fd), -EFAULT.
 */
static long wcpool_heap_alloc(struct file *file,
			      struct dma_heap_allocation_data *data,
			      void __user *uarg)
{
	unsigned int idx = wcpool_heap_index(file);
	bool contig = idx >= WCPOOL_POLICY_COUNT;
	struct dma_buf *dmabuf;
	u64 len;
	int fd;

	if (data->fd || (data->fd_flags & ~DMA_HEAP_VALID_FD_FLAGS) ||
	    (data->heap_flags & ~DMA_HEAP_VALID_HEAP_FLAGS))
		return -EINVAL;
	len = PAGE_ALIGN(data->len);
	if (!len || len / PAGE_SIZE > totalram_pages() ||
	    (contig && len > WCPOOL_CONTIG_MAX))
		return -EINVAL;
	dmabuf = wcpool_heap_buffer(idx % WCPOOL_POLICY_COUNT, len,
				    data->fd_flags & O_ACCMODE, contig);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	fd = get_unused_fd_flags(data->fd_flags & O_CLOEXEC);
	if (fd < 0) {
		dma_buf_put(dmabuf);
		return fd;
	}
	data->fd = fd;
	if (copy_to_user(uarg, data, sizeof(*data))) {
		put_unused_fd(fd);
		dma_buf_put(dmabuf);
		return -EFAULT;
	}
	fd_install(fd, dmabuf->file);
	return 0;
}

static long wcpool_heap_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct dma_heap_allocation_data alloc;

	switch (cmd) {
	case DMA_HEAP_IOCTL_ALLOC:
		if (copy_from_user(&alloc, uarg, sizeof(alloc)))
			return -EFAULT;
		return wcpool_heap_alloc(file, &alloc, uarg);
	case WCPOOL_IOC_SEGMENTS:
		return wcpool_segments_ioctl(NULL, uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations wcpool_heap_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = wcpool_heap_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

int wcpool_heap_init(void)
{
	unsigned int i;
	int ret;

	wcpool_heap_nr = wcpool_contig_supported() ? WCPOOL_HEAP_NODES :
						     WCPOOL_POLICY_COUNT;
	for (i = 0; i < wcpool_heap_nr; i++) {
		wcpool_heaps[i] = (struct miscdevice){
			.minor = MISC_DYNAMIC_MINOR,
			.name = wcpool_heap_names[i][0],
			.nodename = wcpool_heap_names[i][1],
			.fops = &wcpool_heap_fops,
			.mode = 0600,
		};
		ret = misc_register(&wcpool_heaps[i]);
		if (ret)
			goto err;
	}
	return 0;
err:
	while (i--)
		misc_deregister(&wcpool_heaps[i]);
	return ret;
}

void wcpool_heap_exit(void)
{
	unsigned int i;

	for (i = 0; i < wcpool_heap_nr; i++)
		misc_deregister(&wcpool_heaps[i]);
}
