// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool-test - in-guest tests of wcpool.ko (run by tests/kernel/run-suite).
 *
 * Every test runs in its own child process.  After each test the runner
 * checks that the module's debugfs counters are back to zero and that the
 * kernel log has no WARN, BUG, oops or PAT message.  Output: one
 * "PASS name" / "FAIL name" line per test, then "N passed, N failed".
 *
 *   wcpool-test [-k] [TEST...]    -k: keep the module loaded at the end
 *
 * The tests are in test-*.c by area, the runner and checks in harness.c;
 * this file has the helpers they share (wcpool-test.h).
 */
#include "wcpool-test.h"

_Static_assert(sizeof(struct wcpool_create) == WCPOOL_CREATE_SIZE_VER1, "ABI");
_Static_assert(sizeof(struct wcpool_range) == WCPOOL_RANGE_SIZE_VER0, "ABI");
_Static_assert(sizeof(struct wcpool_info) == WCPOOL_INFO_SIZE_VER1, "ABI");
_Static_assert(sizeof(struct wcpool_dup) == WCPOOL_DUP_SIZE_VER0, "ABI");
_Static_assert(sizeof(struct wcpool_register) == WCPOOL_REGISTER_SIZE_VER1,
	       "ABI");
_Static_assert(sizeof(struct wcpool_segments) == WCPOOL_SEGMENTS_SIZE_VER0,
	       "ABI");

int dev_open(void)
{
	int fd = open("/dev/wcpool", O_RDWR | O_CLOEXEC);

	ASSERT(fd >= 0);
	return fd;
}

static int create(uint32_t policy, uint64_t max, uint32_t map_mode)
{
	struct wcpool_create c = {
		.size = sizeof(c), .policy = policy, .max_size = max,
		.map_mode = map_mode,
	};
	int dev = dev_open(), ret, err;

	ret = ioctl(dev, WCPOOL_IOC_CREATE, &c);
	err = errno;
	close(dev);
	errno = err;
	return ret ? -1 : c.fd;
}

int pool(uint32_t policy, uint64_t max)
{
	int fd = create(policy, max, WCPOOL_MAP_PTE);

	ASSERT(fd >= 0);
	return fd;
}

int pmd_pool(uint64_t max)
{
	int fd = create(WCPOOL_POLICY_WC, max, WCPOOL_MAP_PMD);

	if (fd < 0)
		ASSERT(errno == EOPNOTSUPP);
	return fd;
}

static int range_ioctl(int fd, unsigned long cmd, uint64_t off, uint64_t len)
{
	struct wcpool_range r = {
		.size = sizeof(r), .offset = off, .length = len,
	};

	return ioctl(fd, cmd, &r);
}

int grow(int fd, uint64_t off, uint64_t len)
{
	return range_ioctl(fd, WCPOOL_IOC_GROW, off, len);
}

int release(int fd, uint64_t off, uint64_t len)
{
	return range_ioctl(fd, WCPOOL_IOC_RELEASE, off, len);
}

struct wcpool_info info(int fd)
{
	struct wcpool_info i = { .size = sizeof(i) };

	ASSERT(ioctl(fd, WCPOOL_IOC_INFO, &i) == 0);
	return i;
}

int dup_ro(int fd, uint32_t flags)
{
	struct wcpool_dup d = { .size = sizeof(d), .flags = flags };

	if (ioctl(fd, WCPOOL_IOC_DUP, &d))
		return -1;
	return d.fd;
}

void *map(int fd, size_t len, int prot, uint64_t off)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, off);

	ASSERT(p != MAP_FAILED);
	return p;
}

bool all_zero(const void *p, size_t len)
{
	const uint64_t *q = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (q[i])
			return false;
	return true;
}

int send_fd(int sock, int fd)
{
	char buf[CMSG_SPACE(sizeof(int))] = { 0 };
	char c = 'x';
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = buf, .msg_controllen = sizeof(buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

int recv_fd(int sock)
{
	char buf[CMSG_SPACE(sizeof(int))];
	char c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = buf, .msg_controllen = sizeof(buf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

int reg_ioctl(int fd, void *addr, uint64_t len, uint32_t flags,
	      uint64_t align, uint32_t policy, uint32_t *nsegs)
{
	struct wcpool_register r = {
		.size = sizeof(r), .flags = flags,
		.addr = (uintptr_t)addr, .length = len, .align = align,
		.policy = policy,
	};

	if (ioctl(fd, WCPOOL_IOC_REGISTER, &r))
		return -1;
	if (nsegs)
		*nsegs = r.nr_segments;
	return r.fd;
}

int reg(int fd, void *addr, uint64_t len, uint32_t flags)
{
	return reg_ioctl(fd, addr, len, flags, 0, WCPOOL_REG_POLICY_ANY, NULL);
}

int segments(int fd, int dmabuf, struct wcpool_segment *s, uint32_t *count)
{
	struct wcpool_segments q = {
		.size = sizeof(q), .dmabuf = dmabuf, .count = *count,
		.segments = (uintptr_t)s,
	};
	int ret = ioctl(fd, WCPOOL_IOC_SEGMENTS, &q);

	*count = q.count;
	return ret;
}

/* A 32-bit word every 64 bytes holding its pool offset: no period. */
void fill_pattern(uint8_t *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i += 64)
		*(uint32_t *)(p + i) = (uint32_t)(i * 7 + seed);
}

bool check_pattern(const uint8_t *p, size_t len, size_t start,
		   unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i += 64)
		if (*(const uint32_t *)(p + i) != (uint32_t)((start + i) * 7 + seed))
			return false;
	return true;
}

void dmabuf_sync(int dfd, uint64_t flags)
{
	struct dma_buf_sync s = { .flags = flags };

	ASSERT(ioctl(dfd, DMA_BUF_IOCTL_SYNC, &s) == 0);
}

void write_file(const char *path, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fd = open(path, O_WRONLY);
	ASSERT(fd >= 0);
	ASSERT(write(fd, buf, n) == n);
	close(fd);
}

long read_long(const char *path)
{
	long v = -1;
	FILE *f = fopen(path, "r");

	ASSERT(f);
	ASSERT(fscanf(f, "%ld", &v) == 1);
	fclose(f);
	return v;
}

int pools_count(const char *memtype)
{
	char line[256];
	int n = 0;
	FILE *f = fopen(POOLS, "r");

	ASSERT(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "linear ") &&
		    !strncmp(strstr(line, "linear ") + 7, memtype,
			     strlen(memtype)))
			n++;
	fclose(f);
	return n;
}

#define CG "/sys/fs/cgroup"

void memcg_make(const char *name)
{
	char path[128];

	if (access(CG "/cgroup.controllers", F_OK))
		ASSERT(mount("none", CG, "cgroup2", 0, NULL) == 0);
	write_file(CG "/cgroup.subtree_control", "+memory");
	snprintf(path, sizeof(path), CG "/%s", name);
	rmdir(path);
	ASSERT(mkdir(path, 0755) == 0);
	/* recycled pages keep their first charge: start from fresh pages */
	write_file("/proc/sys/vm/drop_caches", "2");
	ASSERT(stat_get("recycle_wc") == 0);
}

void memcg_enter(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), CG "/%s/cgroup.procs", name);
	write_file(path, "%d", getpid());
}

long memcg_current(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), CG "/%s/memory.current", name);
	return read_long(path);
}

void memcg_remove(const char *name)
{
	char path[128];

	write_file(CG "/cgroup.procs", "%d", getpid());
	snprintf(path, sizeof(path), CG "/%s", name);
	ASSERT(rmdir(path) == 0);
}

static const char *const heap_paths[] = {
	[WCPOOL_POLICY_WC] = "/dev/dma_heap/wcpool-wc",
	[WCPOOL_POLICY_UC] = "/dev/dma_heap/wcpool-uc",
	[WCPOOL_POLICY_WB] = "/dev/dma_heap/wcpool-wb",
};

int heap_open(uint32_t policy)
{
	int fd = open(heap_paths[policy], O_RDWR | O_CLOEXEC);

	ASSERT(fd >= 0);
	return fd;
}

int heap_alloc(int heap, uint64_t len, uint32_t fd_flags)
{
	struct dma_heap_allocation_data a = {
		.len = len, .fd_flags = fd_flags,
	};

	return ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &a) ? -1 : (int)a.fd;
}

static const struct test *const suites[] = {
	pool_tests, long_tests, mmap_tests, pages_tests, reg_tests,
	importer_tests, heap_tests, heap_size_tests, fit_tests, counter_tests,
	move_tests, memcg_tests,
	NULL,
};

int main(int argc, char **argv)
{
	return harness_main(argc, argv, suites);
}
