// SPDX-License-Identifier: MIT
/*
 * memfd backend: the pool file is a memfd, of MFD_HUGETLB pages when the
 * system has them reserved, else of 4 KiB shmem pages.  Its policy is
 * always write-back (userspace cannot change a page's memory type).
 *
 * Huge pages are committed with fallocate() so that running out of them is
 * an ENOMEM from wcp_malloc(), never a SIGBUS on first touch.  Shmem pages
 * are left to fault in on first touch, like anonymous malloc memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/memfd.h>
#include <linux/udmabuf.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "pool.h"

static int memfd_extend(struct wcp_pool *pool, uint64_t size)
{
	return ftruncate(pool->fd, (off_t)size) ? -errno : 0;
}

static int memfd_file_size(struct wcp_pool *pool, uint64_t *size)
{
	struct stat st;

	if (fstat(pool->fd, &st))
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

static int fallocate_errno(void)
{
	/* hugetlbfs says ENOSPC when the huge page pool is empty. */
	return errno == ENOSPC ? -ENOMEM : -errno;
}

static int memfd_commit_huge(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	if (fallocate(pool->fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len))
		return fallocate_errno();
	return 0;
}

static int memfd_commit_small(struct wcp_pool *pool, uint64_t off,
			      uint64_t len)
{
	(void)pool, (void)off, (void)len;
	return 0;
}

/* Punching a hole frees whole pages inside the range, nothing around it. */
static int memfd_release(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	if (fallocate(pool->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len))
		return -errno;
	return 0;
}

static int memfd_resident(struct wcp_pool *pool, uint64_t *bytes)
{
	struct stat st;

	if (fstat(pool->fd, &st))
		return -errno;
	*bytes = (uint64_t)st.st_blocks * 512;
	return 0;
}

/* A new open of the same memfd, read-only: no later mprotect can undo it. */
static int memfd_open_read_only(const struct wcp_pool *pool)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", pool->fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

#define WCP_UDMABUF_DEVICE "/dev/udmabuf"

/*
 * udmabuf makes a dma-buf of a memfd range (the kernel pins the pages).
 * Its dma-bufs are always writable, so a read-only view cannot use it.
 */
static uint32_t memfd_export_path(const struct wcp_pool *pool)
{
	if (pool->read_only || access(WCP_UDMABUF_DEVICE, F_OK))
		return WCP_EXPORT_NONE;
	return WCP_EXPORT_UDMABUF;
}

static int memfd_register(struct wcp_pool *pool, const void *ptr, size_t len,
			  const struct wcp_register_options *o, int *fd,
			  uint32_t *nr_segments)
{
	struct udmabuf_create c = {
		.memfd = (uint32_t)pool->fd,
		.flags = UDMABUF_FLAGS_CLOEXEC,
		.offset = wcpi_offset(pool, ptr),
		.size = len,
	};
	int dev, ret;

	/* Physical pages are out of sight here: refuse, do not guess. */
	if (o->addr_bits || o->max_segments || o->max_seg_size)
		return -EOPNOTSUPP;
	if (memfd_export_path(pool) != WCP_EXPORT_UDMABUF)
		return -EOPNOTSUPP;
	dev = open(WCP_UDMABUF_DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return errno == ENOENT ? -EOPNOTSUPP : -errno;
	ret = ioctl(dev, UDMABUF_CREATE, &c);
	close(dev);
	if (ret < 0)
		return -errno;
	*fd = ret;
	*nr_segments = 0;	/* udmabuf does not say */
	return 0;
}

static const struct wcpi_backend_ops memfd_huge_ops = {
	.map_whole = true,
	.extend = memfd_extend,
	.file_size = memfd_file_size,
	.commit = memfd_commit_huge,
	.release = memfd_release,
	.resident = memfd_resident,
	.open_read_only = memfd_open_read_only,
	.export_path = memfd_export_path,
	.register_range = memfd_register,
};

static const struct wcpi_backend_ops memfd_small_ops = {
	.extend = memfd_extend,
	.file_size = memfd_file_size,
	.commit = memfd_commit_small,
	.release = memfd_release,
	.resident = memfd_resident,
	.open_read_only = memfd_open_read_only,
	.export_path = memfd_export_path,
	.register_range = memfd_register,
};

static unsigned int huge_flag(uint64_t page_size)
{
	return MFD_HUGETLB |
	       (page_size == WCP_PAGE_1G ? MFD_HUGE_1GB : MFD_HUGE_2MB);
}

/*
 * A pool file never shrinks (ftruncate only grows it): the seal says so,
 * which udmabuf requires of the memfds it exports.
 */
static int new_memfd(unsigned int flags)
{
	int fd = memfd_create("wcpool", MFD_CLOEXEC | MFD_ALLOW_SEALING | flags);

	if (fd < 0)
		return -errno;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * A hugetlb memfd can be created with no huge pages available; only
 * allocating one tells.  Take one and give it back.
 */
static int open_huge(uint64_t page_size)
{
	int fd = new_memfd(huge_flag(page_size));
	int err;

	if (fd < 0)
		return fd;
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)page_size)) {
		err = fallocate_errno();
		close(fd);
		return err;
	}
	fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		  (off_t)page_size);
	return fd;
}

static int choose_policy(struct wcp_pool *pool,
			 const struct wcp_pool_options *o)
{
	bool fallback = o->flags & WCP_POOL_ALLOW_WB_FALLBACK;

	if ((o->policy == WCP_POLICY_WC || o->policy == WCP_POLICY_UC) &&
	    !fallback)
		return -EOPNOTSUPP;
	pool->policy = WCP_POLICY_WB;
	return 0;
}

int wcpi_memfd_open(struct wcp_pool *pool, const struct wcp_pool_options *o)
{
	uint64_t ps = o->page_size;
	int err = choose_policy(pool, o);

	if (err)
		return err;
	pool->backend = WCP_BACKEND_MEMFD;
	if (ps != WCP_PAGE_4K) {
		pool->fd = open_huge(ps ? ps : WCP_PAGE_2M);
		if (pool->fd >= 0) {
			pool->page_size = ps ? ps : WCP_PAGE_2M;
			pool->ops = &memfd_huge_ops;
			return 0;
		}
		if (ps)
			return pool->fd;
	}
	pool->fd = new_memfd(0);
	if (pool->fd < 0)
		return pool->fd;
	pool->page_size = WCP_PAGE_4K;
	pool->ops = &memfd_small_ops;
	return 0;
}

/* An imported pool file, reserved already: hugetlb if its pages say so. */
int wcpi_memfd_adopt(struct wcp_pool *pool, int fd)
{
	pool->fd = fd;
	pool->backend = WCP_BACKEND_MEMFD;
	pool->ops = pool->page_size == WCP_PAGE_4K ? &memfd_small_ops
						   : &memfd_huge_ops;
	return 0;
}
