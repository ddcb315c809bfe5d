// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool-test: the dma-heap nodes /dev/dma_heap/wcpool-{wc,uc,wb}:
 * libcamera's allocation sequence, the dma-heap UAPI's errors, buffers
 * that outlive their opener, SEGMENTS, memory cgroup limits.  Importers
 * (vivid, vgem) are in test-importers.c.
 */
#include "wcpool-test.h"

static const char *const memtypes[] = {
	[WCPOOL_POLICY_WC] = "write-combining ",
	[WCPOOL_POLICY_UC] = "uncached-minus ",
	[WCPOOL_POLICY_WB] = "write-back ",
};

/* The bufinfo line of the dma-buf named @name, in @line; false if none. */
static bool bufinfo_find(const char *name, char *line, size_t size)
{
	FILE *f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "r");
	bool found = false;

	ASSERT(f);
	while (!found && fgets(line, size, f))
		found = strstr(line, name) != NULL;
	fclose(f);
	return found;
}

/*
 * What libcamera's DmaBufAllocator does, step by step: open the heap
 * O_RDWR | O_CLOEXEC, DMA_HEAP_IOCTL_ALLOC with those fd flags,
 * DMA_BUF_SET_NAME (it fails the allocation if naming fails), mmap, and
 * DMA_BUF_IOCTL_SYNC around CPU access.  The buffer has the node's cache
 * type in the linear map, reads as zero when new, shows in bufinfo with
 * its name and exporter, and outlives the heap fd.
 */
static void test_heap_libcamera_sequence(void)
{
	const uint64_t len = 3 * MB + 4096 - 100, size = 3 * MB + 4096;
	uint32_t policy;

	for (policy = 0; policy < WCPOOL_POLICY_COUNT; policy++) {
		int heap = heap_open(policy), dfd;
		char name[32], line[256];
		uint8_t *p;

		dfd = heap_alloc(heap, len, O_RDWR | O_CLOEXEC);
		ASSERT(dfd >= 0);
		EXPECT(fcntl(dfd, F_GETFD) & FD_CLOEXEC);
		EXPECT((fcntl(dfd, F_GETFL) & O_ACCMODE) == O_RDWR);
		snprintf(name, sizeof(name), "libcamera-%u", policy);
		ASSERT(ioctl(dfd, DMA_BUF_SET_NAME, name) == 0);
		EXPECT(lseek(dfd, 0, SEEK_END) == (off_t)size);
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, dfd,
			 0);
		ASSERT(p != MAP_FAILED);
		EXPECT(all_zero(p, size));
		dmabuf_sync(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
		fill_pattern(p, size, policy);
		dmabuf_sync(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);

		/* Whole 2 MiB pages of the policy, one private pool. */
		EXPECT(stat_get("pools") == 1);
		EXPECT(stat_get("registrations") == 1);
		EXPECT(stat_get("registered_bytes") == (long)size);
		/* one line per page in debugfs */
		EXPECT(pools_count(memtypes[policy]) == 2);
		ASSERT(bufinfo_find(name, line, sizeof(line)));
		EXPECT(strstr(line, "wcpool"));
		EXPECT(strtoul(line, NULL, 10) == size);

		/* The opener goes first; the buffer and its bytes stay. */
		close(heap);
		dmabuf_sync(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
		EXPECT(check_pattern(p, size, 0, policy));
		dmabuf_sync(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
		close(dfd);
		/* ...and the mapping keeps the buffer after its fd. */
		EXPECT(stat_get("registrations") == 1);
		EXPECT(check_pattern(p, size, 0, policy));
		ASSERT(munmap(p, size) == 0);
		EXPECT(stat_get("registrations") == 0);
		EXPECT(stat_get("pools") == 0);
	}
}

/* The same validation as the kernel's dma-heaps, field by field. */
static void test_heap_bad_input(void)
{
	struct dma_heap_allocation_data good = {
		.len = 4096, .fd_flags = O_RDWR | O_CLOEXEC,
	};
	struct { __u64 len; } small = { 4096 };
	int heap = heap_open(WCPOOL_POLICY_WC), dfd;
	long ram = sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
	void *ro;
	uint8_t *p;

	EXPECT_BAD(heap, DMA_HEAP_IOCTL_ALLOC, good, fd, 3, EINVAL);
	EXPECT_BAD(heap, DMA_HEAP_IOCTL_ALLOC, good, fd_flags,
		   O_RDWR | O_NONBLOCK, EINVAL);
	EXPECT_BAD(heap, DMA_HEAP_IOCTL_ALLOC, good, heap_flags, 1, EINVAL);
	EXPECT_BAD(heap, DMA_HEAP_IOCTL_ALLOC, good, heap_flags, 1ULL << 63,
		   EINVAL);
	EXPECT_BAD(heap, DMA_HEAP_IOCTL_ALLOC, good, len, 0, EINVAL);
	EXPECT_BAD(heap, DMA_HEAP_IOCTL_ALLOC, good, len, UINT64_MAX, EINVAL);
	EXPECT_BAD(heap, DMA_HEAP_IOCTL_ALLOC, good, len, (uint64_t)ram * 2,
		   EINVAL);
	/* Within RAM but past the module's limit (a quarter of it). */
	EXPECT_BAD(heap, DMA_HEAP_IOCTL_ALLOC, good, len, (uint64_t)ram / 2,
		   ENOMEM);
	/* Another struct size or ioctl: not ours. */
	EXPECT_ERR(ioctl(heap, _IOWR('H', 0, typeof(small)), &small), ENOTTY);
	EXPECT_ERR(ioctl(heap, _IOWR('H', 1, struct dma_heap_allocation_data),
			 &good), ENOTTY);
	EXPECT_ERR(ioctl(heap, WCPOOL_IOC_CREATE, &good), ENOTTY);
	EXPECT_ERR(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, NULL), EFAULT);
	/* Readable but not writable: the fd cannot be returned, none leaks. */
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT(ro != MAP_FAILED);
	memcpy(ro, &good, sizeof(good));
	ASSERT(mprotect(ro, 4096, PROT_READ) == 0);
	dfd = dup(0);
	close(dfd);
	EXPECT_ERR(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, ro), EFAULT);
	EXPECT(dup(0) == dfd);
	close(dfd);
	munmap(ro, 4096);
	EXPECT(stat_get("pools") == 0);
	EXPECT(stat_get("registrations") == 0);

	/* O_RDONLY: a read-only dma-buf, as the kernel's heaps give. */
	dfd = heap_alloc(heap, 4096, O_RDONLY);
	ASSERT(dfd >= 0);
	EXPECT((fcntl(dfd, F_GETFL) & O_ACCMODE) == O_RDONLY);
	EXPECT(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0) ==
	       MAP_FAILED && errno == EACCES);
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, dfd, 0);
	ASSERT(p != MAP_FAILED);
	EXPECT(all_zero(p, 4096));
	munmap(p, 4096);
	close(dfd);
	close(heap);
	/* A read-only open of the node allocates too (as dma-heaps do). */
	heap = open("/dev/dma_heap/wcpool-uc", O_RDONLY);
	ASSERT(heap >= 0);
	dfd = heap_alloc(heap, 8192, O_RDWR);
	EXPECT(dfd >= 0);
	close(dfd);
	close(heap);
}

/*
 * SEGMENTS on the node lists a heap buffer's contiguous runs: one for a
 * buffer in one huge page; and it refuses other dma-bufs, as a pool fd
 * refuses heap buffers.
 */
static void test_heap_segments(void)
{
	int heap = heap_open(WCPOOL_POLICY_WC), fd, dfd, rdfd;
	struct wcpool_segment s[8];
	uint64_t sizes[] = { 4096, MB, HP, 8 * MB + 4096 }, sum;
	uint32_t count, i, j;
	void *p;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		dfd = heap_alloc(heap, sizes[i], O_RDWR);
		ASSERT(dfd >= 0);
		count = ARRAY_SIZE(s);
		ASSERT(segments(heap, dfd, s, &count) == 0);
		EXPECT(count >= 1 && count <= (sizes[i] + HP - 1) / HP);
		if (sizes[i] <= HP)
			EXPECT(count == 1);
		for (j = 0, sum = 0; j < count && j < ARRAY_SIZE(s); j++) {
			EXPECT(s[j].offset == sum);
			sum += s[j].length;
		}
		EXPECT(sum == sizes[i]);
		close(dfd);
	}

	fd = pool(WCPOOL_POLICY_WC, HP);
	ASSERT(grow(fd, 0, HP) == 0);
	p = map(fd, HP, PROT_READ | PROT_WRITE, 0);
	rdfd = reg(fd, p, HP, RW);
	ASSERT(rdfd >= 0);
	dfd = heap_alloc(heap, HP, O_RDWR);
	ASSERT(dfd >= 0);
	count = ARRAY_SIZE(s);
	EXPECT_ERR(segments(heap, rdfd, s, &count), EINVAL);
	EXPECT_ERR(segments(fd, dfd, s, &count), EINVAL);
	EXPECT_ERR(segments(heap, heap, s, &count), EINVAL);
	close(rdfd);
	close(dfd);
	munmap(p, HP);
	close(fd);
	close(heap);
}

/* Heap buffers are charged to the allocating cgroup and limited by it. */
static void test_heap_memcg(void)
{
	long before;
	int heap, dfd;

	memcg_make("wcpool-heap");
	memcg_enter("wcpool-heap");
	heap = heap_open(WCPOOL_POLICY_WC);
	before = memcg_current("wcpool-heap");
	dfd = heap_alloc(heap, 4 * MB, O_RDWR);
	ASSERT(dfd >= 0);
	EXPECT(memcg_current("wcpool-heap") - before >= (long)(4 * MB));
	write_file("/sys/fs/cgroup/wcpool-heap/memory.max", "%ld",
		   before + 8 * MB);
	EXPECT_ERR(heap_alloc(heap, 16 * MB, O_RDWR), ENOMEM);
	EXPECT(stat_get("pools") == 1);
	close(dfd);
	close(heap);
	memcg_remove("wcpool-heap");
}

/*
 * Many buffers freed in another order than allocated, some through their
 * mappings last, one shared with a child process that outlives the
 * parent's fd: nothing leaks.
 */
static void test_heap_orders(void)
{
	int heap = heap_open(WCPOOL_POLICY_WC), dfd[16], i, st;
	uint8_t *m[16];
	pid_t pid;

	for (i = 0; i < 16; i++) {
		dfd[i] = heap_alloc(heap, (i + 1) * 100000, O_RDWR);
		ASSERT(dfd[i] >= 0);
		m[i] = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
			    dfd[i], 0);
		ASSERT(m[i] != MAP_FAILED);
		m[i][0] = (uint8_t)i;
	}
	close(heap);
	EXPECT(stat_get("pools") == 16);
	pid = fork();
	ASSERT(pid >= 0);
	if (!pid) {
		/* The child's copies: fds and mappings outlive the parent's. */
		usleep(200000);
		for (i = 0; i < 16; i++)
			ASSERT(m[i][0] == (uint8_t)i);
		_exit(0);
	}
	for (i = 0; i < 16; i += 2) {
		close(dfd[i]);
		munmap(m[i], 4096);
	}
	for (i = 15; i > 0; i -= 2) {
		munmap(m[i], 4096);
		close(dfd[i]);
	}
	ASSERT(waitpid(pid, &st, 0) == pid);
	EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	EXPECT(stat_get("pools") == 0);
	EXPECT(stat_get("registrations") == 0);
}

const struct test heap_tests[] = {
	{ "heap_libcamera_sequence", test_heap_libcamera_sequence },
	{ "heap_bad_input", test_heap_bad_input },
	{ "heap_segments", test_heap_segments },
	{ "heap_memcg", test_heap_memcg },
	{ "heap_orders", test_heap_orders },
	{ NULL, NULL },
};
