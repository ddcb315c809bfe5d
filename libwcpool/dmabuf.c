// SPDX-License-Identifier: MIT
/*
 * Device buffers outside pools: a dma-buf per wcp_dmabuf_alloc() from a
 * dma-heap node (wcpool.ko's per policy, else the kernel's "system" heap
 * for write-back), mapped once.  The nodes are opened on first use and
 * kept for the life of the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>

#include "wcpool.h"

enum heap_node { NODE_WC, NODE_UC, NODE_WB, NODE_SYSTEM, NODE_COUNT };

static const char *const node_paths[NODE_COUNT] = {
	[NODE_WC] = "/dev/dma_heap/wcpool-wc",
	[NODE_UC] = "/dev/dma_heap/wcpool-uc",
	[NODE_WB] = "/dev/dma_heap/wcpool-wb",
	[NODE_SYSTEM] = "/dev/dma_heap/system",
};

static const uint32_t node_policy[NODE_COUNT] = {
	[NODE_WC] = WCP_POLICY_WC,
	[NODE_UC] = WCP_POLICY_UC,
	[NODE_WB] = WCP_POLICY_WB,
	[NODE_SYSTEM] = WCP_POLICY_WB,
};

/* fd + 1 of each node once opened; 0 until then (a missing node is tried
 * again next time: the module may be loaded later). */
static atomic_int node_fds[NODE_COUNT];

/* The node's fd, or -errno of open(). */
static int node_fd(enum heap_node n)
{
	int fd = atomic_load_explicit(&node_fds[n], memory_order_acquire) - 1;
	int expected = 0;

	if (fd >= 0)
		return fd;
	fd = open(node_paths[n], O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Another thread may have opened it first: keep one. */
	if (!atomic_compare_exchange_strong(&node_fds[n], &expected, fd + 1)) {
		close(fd);
		fd = expected - 1;
	}
	return fd;
}

/* The nodes to try for @policy, best first; how many. */
static int candidates(uint32_t policy, uint32_t flags, enum heap_node *list)
{
	int n = 0;
	bool fallback = flags & WCP_DMABUF_ALLOW_WB_FALLBACK;

	switch (policy) {
	case WCP_POLICY_DEFAULT:
		list[n++] = NODE_WC;
		fallback = true;
		break;
	case WCP_POLICY_WC:
		list[n++] = NODE_WC;
		break;
	case WCP_POLICY_UC:
		list[n++] = NODE_UC;
		break;
	case WCP_POLICY_WB:
		fallback = true;
		break;
	}
	if (fallback) {
		list[n++] = NODE_WB;
		list[n++] = NODE_SYSTEM;
	}
	return n;
}

static int heap_alloc(int heap, size_t size)
{
	struct dma_heap_allocation_data a = {
		.len = size, .fd_flags = O_RDWR | O_CLOEXEC,
	};

	if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &a))
		return -errno;
	return (int)a.fd;
}

int wcp_dmabuf_alloc(size_t size, uint32_t policy, uint32_t flags,
		     struct wcp_dmabuf *buf)
{
	enum heap_node list[3];
	int n, i, heap, fd, err = -ENODEV;
	void *map;
	off_t end;

	if (!buf || !size || policy > WCP_POLICY_WB ||
	    (flags & ~(uint32_t)WCP_DMABUF_ALLOW_WB_FALLBACK))
		return -EINVAL;
	n = candidates(policy, flags, list);
	for (i = 0; i < n; i++) {
		heap = node_fd(list[i]);
		/* Absent: the next one; present but refused: say so. */
		if (heap == -ENOENT || heap == -ENODEV || heap == -ENXIO)
			continue;
		if (heap < 0)
			return heap;
		fd = heap_alloc(heap, size);
		if (fd < 0)
			return fd;
		/* The heap rounds up to pages; the buffer's size says. */
		end = lseek(fd, 0, SEEK_END);
		map = end > 0 ? mmap(NULL, (size_t)end, PROT_READ | PROT_WRITE,
				     MAP_SHARED, fd, 0) : MAP_FAILED;
		if (map == MAP_FAILED) {
			err = -errno;
			close(fd);
			return err;
		}
		size = (size_t)end;
		*buf = (struct wcp_dmabuf){
			.fd = fd, .policy = node_policy[list[i]], .map = map,
			.size = size,
		};
		return 0;
	}
	return err;
}

int wcp_dmabuf_free(struct wcp_dmabuf *buf)
{
	if (!buf || buf->fd < 0 || !buf->map)
		return -EINVAL;
	munmap(buf->map, buf->size);
	close(buf->fd);
	buf->fd = -1;
	buf->map = NULL;
	return 0;
}

int wcp_dmabuf_sync(int fd, uint32_t flags)
{
	struct dma_buf_sync s = { .flags = 0 };

	if ((flags & ~(uint32_t)(WCP_SYNC_READ | WCP_SYNC_WRITE |
				 WCP_SYNC_END)) ||
	    !(flags & (WCP_SYNC_READ | WCP_SYNC_WRITE)))
		return -EINVAL;
	if (flags & WCP_SYNC_READ)
		s.flags |= DMA_BUF_SYNC_READ;
	if (flags & WCP_SYNC_WRITE)
		s.flags |= DMA_BUF_SYNC_WRITE;
	s.flags |= flags & WCP_SYNC_END ? DMA_BUF_SYNC_END : DMA_BUF_SYNC_START;
	/* The kernel may be interrupted waiting for fences: try again. */
	while (ioctl(fd, DMA_BUF_IOCTL_SYNC, &s))
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	return 0;
}
