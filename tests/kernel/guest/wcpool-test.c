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
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/videodev2.h>
#include <linux/wcpool.h>

#define MB (1024UL * 1024)
#define HP (2 * MB)
#define STATS "/sys/kernel/debug/wcpool/stats"
#define POOLS "/sys/kernel/debug/wcpool/pools"

_Static_assert(sizeof(struct wcpool_create) == WCPOOL_CREATE_SIZE_VER0, "ABI");
_Static_assert(sizeof(struct wcpool_range) == WCPOOL_RANGE_SIZE_VER0, "ABI");
_Static_assert(sizeof(struct wcpool_info) == WCPOOL_INFO_SIZE_VER0, "ABI");
_Static_assert(sizeof(struct wcpool_dup) == WCPOOL_DUP_SIZE_VER0, "ABI");

static const char *cur_test;

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "  %s:%d: %s: check failed: %s (errno %d %s)\n", \
				__FILE__, __LINE__, cur_test, #cond,	\
				errno, strerror(errno));		\
			exit(1);					\
		}							\
	} while (0)

/* ret == -1 with errno == e */
#define CHECK_ERR(expr, e)						\
	do {								\
		errno = 0;						\
		long r_ = (long)(expr);					\
		if (r_ != -1 || errno != (e)) {				\
			fprintf(stderr, "  %s:%d: %s: %s returned %ld errno %d (%s), want -1 errno %d (%s)\n", \
				__FILE__, __LINE__, cur_test, #expr, r_, \
				errno, strerror(errno), e, strerror(e)); \
			exit(1);					\
		}							\
	} while (0)

static int dev_open(void)
{
	int fd = open("/dev/wcpool", O_RDWR | O_CLOEXEC);

	CHECK(fd >= 0);
	return fd;
}

static int create_pool(uint32_t policy, uint64_t max, int *err)
{
	struct wcpool_create c = {
		.size = sizeof(c), .policy = policy, .max_size = max,
	};
	int dev = dev_open(), ret;

	ret = ioctl(dev, WCPOOL_IOC_CREATE, &c);
	if (err)
		*err = ret ? errno : 0;
	close(dev);
	return ret ? -1 : c.fd;
}

static int pool(uint32_t policy, uint64_t max)
{
	int fd = create_pool(policy, max, NULL);

	CHECK(fd >= 0);
	return fd;
}

static int range_ioctl(int fd, unsigned long cmd, uint64_t off, uint64_t len)
{
	struct wcpool_range r = {
		.size = sizeof(r), .offset = off, .length = len,
	};

	return ioctl(fd, cmd, &r);
}

static int grow(int fd, uint64_t off, uint64_t len)
{
	return range_ioctl(fd, WCPOOL_IOC_GROW, off, len);
}

static int release(int fd, uint64_t off, uint64_t len)
{
	return range_ioctl(fd, WCPOOL_IOC_RELEASE, off, len);
}

static struct wcpool_info info(int fd)
{
	struct wcpool_info i = { .size = sizeof(i) };

	CHECK(ioctl(fd, WCPOOL_IOC_INFO, &i) == 0);
	return i;
}

static int dup_ro(int fd, uint32_t flags)
{
	struct wcpool_dup d = { .size = sizeof(d), .flags = flags };

	if (ioctl(fd, WCPOOL_IOC_DUP, &d))
		return -1;
	return d.fd;
}

static long stat_get(const char *name)
{
	char key[64];
	long val, ret = -1;
	FILE *f = fopen(STATS, "r");

	CHECK(f);
	while (fscanf(f, "%63s %ld", key, &val) == 2)
		if (!strcmp(key, name))
			ret = val;
	fclose(f);
	return ret;
}

static void *map(int fd, size_t len, int prot, uint64_t off)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, off);

	CHECK(p != MAP_FAILED);
	return p;
}

static bool all_zero(const void *p, size_t len)
{
	const uint64_t *q = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (q[i])
			return false;
	return true;
}

static __thread sigjmp_buf fault_jmp;

static void fault_handler(int sig)
{
	siglongjmp(fault_jmp, sig);
}

/* Returns the signal a read of *p raised, 0 if none. */
static int probe_read(volatile const void *addr)
{
	struct sigaction sa = { .sa_handler = fault_handler }, old_bus, old_segv;
	int sig;

	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	sig = sigsetjmp(fault_jmp, 1);
	if (!sig)
		(void)*(volatile const char *)addr;
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	return sig;
}

/* ---- tests ---- */

static void test_create_default(void)
{
	struct wcpool_create c = { .size = sizeof(c), .max_size = 8 * MB };
	int dev = dev_open();
	struct wcpool_info i;

	CHECK(ioctl(dev, WCPOOL_IOC_CREATE, &c) == 0);
	CHECK(c.fd >= 0);
	CHECK(!(fcntl(c.fd, F_GETFD) & FD_CLOEXEC));
	CHECK(stat_get("pools") == 1);
	i = info(c.fd);
	CHECK(i.policy == WCPOOL_POLICY_WC);
	CHECK(i.page_shift == 21);
	CHECK(i.max_size == 8 * MB);
	CHECK(i.grown_size == 0);
	CHECK(i.map_mode == WCPOOL_MAP_PTE);
	CHECK(i.flags == 0);
	close(c.fd);
	CHECK(stat_get("pools") == 0);

	c = (struct wcpool_create){ .size = sizeof(c), .max_size = HP,
				    .flags = WCPOOL_CREATE_CLOEXEC,
				    .policy = WCPOOL_POLICY_UC,
				    .page_shift = 21 };
	CHECK(ioctl(dev, WCPOOL_IOC_CREATE, &c) == 0);
	CHECK(fcntl(c.fd, F_GETFD) & FD_CLOEXEC);
	CHECK(info(c.fd).policy == WCPOOL_POLICY_UC);
	close(c.fd);
	close(dev);
}

static void test_create_bad(void)
{
	struct {
		struct wcpool_create c;
		uint64_t extra[2];
	} big;
	struct wcpool_create c, good = { .size = sizeof(c), .max_size = HP };
	int dev = dev_open(), pfd;

#define BAD(field, value, e)						\
	do {								\
		c = good;						\
		c.field = value;					\
		CHECK_ERR(ioctl(dev, WCPOOL_IOC_CREATE, &c), e);	\
	} while (0)
	BAD(size, 0, EINVAL);
	BAD(size, 4, EINVAL);
	BAD(size, WCPOOL_CREATE_SIZE_VER0 - 8, EINVAL);
	BAD(size, 4097, EINVAL);
	BAD(flags, 1U << 1, EINVAL);
	BAD(flags, 1U << 31, EINVAL);
	BAD(policy, WCPOOL_POLICY_COUNT, EINVAL);
	BAD(policy, ~0U, EINVAL);
	BAD(page_shift, 12, EINVAL);
	BAD(page_shift, 30, EINVAL);
	BAD(max_size, 0, EINVAL);
	BAD(max_size, HP + 4096, EINVAL);
	BAD(max_size, 4096, EINVAL);
	BAD(max_size, 1ULL << 63, EINVAL);
	BAD(max_size, ~0ULL << 21, EINVAL);
	BAD(map_mode, 2, EINVAL);
	BAD(fd, 3, EINVAL);
	BAD(reserved[0], 1, EINVAL);
	BAD(reserved[1], 1ULL << 63, EINVAL);
#undef BAD
	CHECK_ERR(ioctl(dev, WCPOOL_IOC_CREATE, NULL), EFAULT);
	CHECK_ERR(ioctl(dev, WCPOOL_IOC_CREATE, (void *)16), EFAULT);
	CHECK_ERR(ioctl(dev, WCPOOL_IOC_GROW, &good), ENOTTY);
	CHECK_ERR(ioctl(dev, _IO(WCPOOL_IOC_MAGIC, 0x7f)), ENOTTY);

	/* A larger struct from a newer userspace: zero tail accepted. */
	memset(&big, 0, sizeof(big));
	big.c = good;
	big.c.size = sizeof(big);
	CHECK(ioctl(dev, WCPOOL_IOC_CREATE, &big) == 0);
	close(big.c.fd);
	big.c.fd = 0;
	big.extra[1] = 1;
	CHECK_ERR(ioctl(dev, WCPOOL_IOC_CREATE, &big), E2BIG);

	/* PMD mode: supported or a clean EOPNOTSUPP. */
	c = good;
	c.map_mode = WCPOOL_MAP_PMD;
	if (ioctl(dev, WCPOOL_IOC_CREATE, &c) == 0) {
		CHECK(info(c.fd).map_mode == WCPOOL_MAP_PMD);
		close(c.fd);
	} else {
		CHECK(errno == EOPNOTSUPP);
	}

	/* Device ioctls are not pool ioctls. */
	pfd = pool(WCPOOL_POLICY_WC, HP);
	c = good;
	CHECK_ERR(ioctl(pfd, WCPOOL_IOC_CREATE, &c), ENOTTY);
	CHECK_ERR(ioctl(pfd, _IO(WCPOOL_IOC_MAGIC, 0x7f)), ENOTTY);
	close(pfd);
	CHECK(stat_get("pools") == 0);
	close(dev);
}

static void test_grow_release(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 16 * MB);

	CHECK(grow(fd, 0, 4 * MB) == 0);
	CHECK(info(fd).grown_size == 4 * MB);
	CHECK(stat_get("pages_wc") == 2);
	CHECK_ERR(grow(fd, 0, HP), EEXIST);
	CHECK_ERR(grow(fd, 2 * MB, 4 * MB), EEXIST);
	CHECK(info(fd).grown_size == 4 * MB);
	CHECK(stat_get("pages_wc") == 2);
	CHECK(grow(fd, 10 * MB, 6 * MB) == 0);
	CHECK(info(fd).grown_size == 10 * MB);
	/* releases the pages at 2 and 10 MiB, keeps 0, 12 and 14 MiB */
	CHECK(release(fd, 2 * MB, 10 * MB) == 0);
	CHECK(info(fd).grown_size == 6 * MB);
	CHECK(release(fd, 2 * MB, 10 * MB) == 0);
	CHECK(info(fd).grown_size == 6 * MB);
	CHECK(stat_get("pages_wc") == 3);
	CHECK(grow(fd, 2 * MB, 2 * MB) == 0);
	CHECK(release(fd, 0, 16 * MB) == 0);
	CHECK(info(fd).grown_size == 0);
	CHECK(stat_get("pages_wc") == 0);
	CHECK(grow(fd, 14 * MB, HP) == 0);
	close(fd);	/* the pool frees what is left */
}

static void test_grow_bad(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 8 * MB);
	struct wcpool_range r;

	CHECK_ERR(grow(fd, 4096, HP), EINVAL);
	CHECK_ERR(grow(fd, MB, HP), EINVAL);
	CHECK_ERR(grow(fd, 0, 0), EINVAL);
	CHECK_ERR(grow(fd, 0, 4096), EINVAL);
	CHECK_ERR(grow(fd, 0, HP + 4096), EINVAL);
	CHECK_ERR(grow(fd, ~0ULL << 21, 4 * MB), EINVAL);
	CHECK_ERR(grow(fd, 2 * MB, ~0ULL << 21), EINVAL);
	CHECK_ERR(grow(fd, 8 * MB, HP), EFBIG);
	CHECK_ERR(grow(fd, 6 * MB, 4 * MB), EFBIG);
	CHECK_ERR(grow(fd, 1ULL << 50, HP), EFBIG);
	CHECK_ERR(release(fd, 4096, HP), EINVAL);
	CHECK_ERR(release(fd, 0, 0), EINVAL);
	CHECK_ERR(release(fd, 8 * MB, HP), EFBIG);
	r = (struct wcpool_range){ .size = sizeof(r), .length = HP, .flags = 1 };
	CHECK_ERR(ioctl(fd, WCPOOL_IOC_GROW, &r), EINVAL);
	CHECK_ERR(ioctl(fd, WCPOOL_IOC_RELEASE, &r), EINVAL);
	r = (struct wcpool_range){ .size = sizeof(r), .length = HP, .reserved = { 0, 1 } };
	CHECK_ERR(ioctl(fd, WCPOOL_IOC_GROW, &r), EINVAL);
	r = (struct wcpool_range){ .size = 8, .length = HP };
	CHECK_ERR(ioctl(fd, WCPOOL_IOC_GROW, &r), EINVAL);
	CHECK_ERR(ioctl(fd, WCPOOL_IOC_GROW, NULL), EFAULT);
	CHECK(info(fd).grown_size == 0);
	CHECK(stat_get("in_use") == 0);
	close(fd);
}

static void test_grow_limit(void)
{
	long limit = stat_get("limit");
	int fd;

	CHECK(limit > 2);
	fd = pool(WCPOOL_POLICY_WB, (limit + 1) * HP);
	CHECK_ERR(grow(fd, 0, (limit + 1) * HP), ENOSPC);
	CHECK(stat_get("in_use") == 0);
	CHECK(grow(fd, 0, 2 * HP) == 0);
	CHECK_ERR(grow(fd, 2 * HP, (limit - 1) * HP), ENOSPC);
	CHECK(stat_get("in_use") == 2);
	CHECK(info(fd).grown_size == 2 * HP);
	close(fd);
}

static void test_info_bad(void)
{
	int fd = pool(WCPOOL_POLICY_WB, HP);
	struct wcpool_info i;
	struct {
		struct wcpool_info i;
		uint64_t extra;
	} big;

	i = (struct wcpool_info){ .size = sizeof(i), .flags = 1 };
	CHECK_ERR(ioctl(fd, WCPOOL_IOC_INFO, &i), EINVAL);
	i = (struct wcpool_info){ .size = sizeof(i), .reserved0 = 1 };
	CHECK_ERR(ioctl(fd, WCPOOL_IOC_INFO, &i), EINVAL);
	i = (struct wcpool_info){ .size = sizeof(i), .reserved = { 0, 0, 0, 1 } };
	CHECK_ERR(ioctl(fd, WCPOOL_IOC_INFO, &i), EINVAL);
	i = (struct wcpool_info){ .size = 16 };
	CHECK_ERR(ioctl(fd, WCPOOL_IOC_INFO, &i), EINVAL);
	memset(&big, 0, sizeof(big));
	big.i.size = sizeof(big);
	big.extra = 0x5a5a;
	CHECK_ERR(ioctl(fd, WCPOOL_IOC_INFO, &big), E2BIG);
	big.extra = 0;
	CHECK(ioctl(fd, WCPOOL_IOC_INFO, &big) == 0);
	CHECK(big.i.policy == WCPOOL_POLICY_WB && big.i.max_size == HP);
	CHECK(big.extra == 0);
	close(fd);
}

static void test_mmap_zero_and_rw(void)
{
	uint32_t policies[] = { WCPOOL_POLICY_WC, WCPOOL_POLICY_UC,
				WCPOOL_POLICY_WB };
	unsigned int k;

	for (k = 0; k < 3; k++) {
		int fd = pool(policies[k], 8 * MB);
		uint8_t *p, *q;
		size_t i;

		CHECK(grow(fd, 0, 4 * MB) == 0);
		p = map(fd, 4 * MB, PROT_READ | PROT_WRITE, 0);
		CHECK(stat_get("mapped_vmas") == 1);
		CHECK(all_zero(p, 4 * MB));
		for (i = 0; i < 4 * MB; i += 4096)
			p[i] = (uint8_t)((i >> 12) + 1);
		/* A second mapping at an offset sees the same bytes. */
		q = map(fd, HP, PROT_READ, HP);
		for (i = 0; i < HP; i += 4096)
			CHECK(q[i] == (uint8_t)(((i + HP) >> 12) + 1));
		CHECK(stat_get("mapped_vmas") == 2);
		CHECK(munmap(q, HP) == 0);
		CHECK(munmap(p, 4 * MB) == 0);
		CHECK(stat_get("mapped_vmas") == 0);
		close(fd);
	}
}

/* Pages that come back from the recycle pool or the allocator are zero. */
static void test_pages_zero_after_reuse(void)
{
	long converted;
	int round, fd;
	uint8_t *p;

	for (round = 0; round < 3; round++) {
		fd = pool(WCPOOL_POLICY_WC, 4 * MB);
		CHECK(grow(fd, 0, 4 * MB) == 0);
		p = map(fd, 4 * MB, PROT_READ | PROT_WRITE, 0);
		CHECK(all_zero(p, 4 * MB));
		memset(p, 0xa5, 4 * MB);
		CHECK(munmap(p, 4 * MB) == 0);
		CHECK(release(fd, 0, 2 * MB) == 0);
		CHECK(grow(fd, 0, 2 * MB) == 0);
		p = map(fd, 2 * MB, PROT_READ, 0);
		CHECK(all_zero(p, 2 * MB));
		CHECK(munmap(p, 2 * MB) == 0);
		close(fd);
	}
	/* Recycled pages are not converted again. */
	CHECK(stat_get("recycle_wc") >= 2);
	converted = stat_get("converted");
	fd = pool(WCPOOL_POLICY_WC, 4 * MB);
	CHECK(grow(fd, 0, 4 * MB) == 0);
	CHECK(stat_get("converted") == converted);
	close(fd);
}

static void test_mmap_bad(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 8 * MB);
	void *p;

	CHECK(grow(fd, 0, 2 * MB) == 0);
	CHECK(grow(fd, 4 * MB, 2 * MB) == 0);
	CHECK_ERR(mmap(NULL, HP, PROT_READ, MAP_PRIVATE, fd, 0), EINVAL);
	CHECK_ERR(mmap(NULL, HP, PROT_READ, MAP_SHARED, fd, 4096), EINVAL);
	CHECK_ERR(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, MB), EINVAL);
	/* past max_size */
	CHECK_ERR(mmap(NULL, HP, PROT_READ, MAP_SHARED, fd, 8 * MB), ENXIO);
	CHECK_ERR(mmap(NULL, 10 * MB, PROT_READ, MAP_SHARED, fd, 0), ENXIO);
	CHECK_ERR(mmap(NULL, HP, PROT_READ, MAP_SHARED, fd, 1ULL << 50), ENXIO);
	/* a partial mapping of a grown page is fine */
	p = map(fd, 4096, PROT_READ, 4 * MB);
	CHECK(*(volatile char *)p == 0);
	/* no mremap growth */
	CHECK(mremap(p, 4096, 8192, 0) == MAP_FAILED);
	CHECK(munmap(p, 4096) == 0);
	CHECK(stat_get("mapped_vmas") == 0);
	close(fd);
}

/* A mapping may cover pages not grown yet: SIGBUS until GROW. */
static void test_mmap_sparse(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 8 * MB);
	uint8_t *p;

	CHECK(grow(fd, 4 * MB, 2 * MB) == 0);
	p = map(fd, 8 * MB, PROT_READ | PROT_WRITE, 0);
	CHECK(probe_read(p) == SIGBUS);
	CHECK(probe_read(p + 2 * MB + 4096) == SIGBUS);
	CHECK(probe_read(p + 6 * MB) == SIGBUS);
	CHECK(probe_read(p + 4 * MB) == 0);
	p[4 * MB] = 9;
	CHECK(grow(fd, 0, 2 * MB) == 0);
	CHECK(probe_read(p) == 0 && p[0] == 0);
	p[0] = 1;
	CHECK(probe_read(p + 2 * MB) == SIGBUS);
	CHECK(p[4 * MB] == 9);
	CHECK(info(fd).grown_size == 4 * MB);
	CHECK(munmap(p, 8 * MB) == 0);
	close(fd);
}

static void test_readonly_fd(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 4 * MB), ro, ro2;
	struct wcpool_dup d;
	uint8_t *p, *r;

	CHECK(grow(fd, 0, 2 * MB) == 0);
	p = map(fd, HP, PROT_READ | PROT_WRITE, 0);
	p[12345] = 0x42;

	ro = dup_ro(fd, WCPOOL_DUP_READONLY);
	CHECK(ro >= 0);
	CHECK(!(fcntl(ro, F_GETFD) & FD_CLOEXEC));
	CHECK((fcntl(ro, F_GETFL) & O_ACCMODE) == O_RDONLY);
	CHECK(info(ro).flags == WCPOOL_INFO_READONLY);
	CHECK(info(ro).grown_size == 2 * MB);
	CHECK_ERR(mmap(NULL, HP, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), EACCES);
	CHECK_ERR(mmap(NULL, HP, PROT_WRITE, MAP_SHARED, ro, 0), EACCES);
	r = map(ro, HP, PROT_READ, 0);
	CHECK(r[12345] == 0x42);
	CHECK_ERR(mprotect(r, HP, PROT_READ | PROT_WRITE), EACCES);
	CHECK_ERR(grow(ro, 2 * MB, 2 * MB), EBADF);
	CHECK_ERR(release(ro, 0, 2 * MB), EBADF);
	CHECK(info(fd).grown_size == 2 * MB);

	d = (struct wcpool_dup){ .size = sizeof(d) };
	CHECK_ERR(ioctl(fd, WCPOOL_IOC_DUP, &d), EINVAL);
	d = (struct wcpool_dup){ .size = sizeof(d), .flags = 1U << 5 | 1 };
	CHECK_ERR(ioctl(fd, WCPOOL_IOC_DUP, &d), EINVAL);
	d = (struct wcpool_dup){ .size = sizeof(d), .flags = 1, .reserved = { 1 } };
	CHECK_ERR(ioctl(fd, WCPOOL_IOC_DUP, &d), EINVAL);
	d = (struct wcpool_dup){ .size = 4, .flags = 1 };
	CHECK_ERR(ioctl(fd, WCPOOL_IOC_DUP, &d), EINVAL);
	ro2 = dup_ro(ro, WCPOOL_DUP_READONLY | WCPOOL_DUP_CLOEXEC);
	CHECK(ro2 >= 0);
	CHECK(fcntl(ro2, F_GETFD) & FD_CLOEXEC);
	CHECK(info(ro2).flags == WCPOOL_INFO_READONLY);
	close(ro2);

	/* The read-only mapping keeps the pool alive after every fd closes. */
	CHECK(munmap(p, HP) == 0);
	close(fd);
	close(ro);
	CHECK(stat_get("pools") == 1);
	CHECK(r[12345] == 0x42);
	CHECK(munmap(r, HP) == 0);
	CHECK(stat_get("pools") == 0);
}

static void test_use_after_close(void)
{
	int fd = pool(WCPOOL_POLICY_UC, 4 * MB);
	uint8_t *p;
	size_t i;

	CHECK(grow(fd, 0, 4 * MB) == 0);
	p = map(fd, 4 * MB, PROT_READ | PROT_WRITE, 0);
	p[0] = 1;
	close(fd);
	CHECK(stat_get("pools") == 1);
	CHECK(stat_get("pages_uc") == 2);
	/* Not yet faulted pages still fault in after the close. */
	for (i = 0; i < 4 * MB; i += 4096)
		p[i] += 1;
	CHECK(p[0] == 2 && p[4 * MB - 4096] == 1);
	CHECK(munmap(p, 4 * MB) == 0);
	CHECK(stat_get("pools") == 0);
	CHECK(stat_get("pages_uc") == 0);
}

static void test_release_while_mapped(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 4 * MB);
	volatile uint8_t *p;

	CHECK(grow(fd, 0, 4 * MB) == 0);
	p = map(fd, 4 * MB, PROT_READ | PROT_WRITE, 0);
	p[0] = 7;
	p[HP] = 8;
	CHECK(release(fd, 0, 2 * MB) == 0);
	CHECK(probe_read(p) == SIGBUS);
	CHECK(probe_read(p + 4096) == SIGBUS);
	CHECK(probe_read(p + HP) == 0 && p[HP] == 8);
	/* Grown again: the same address maps a new, zeroed page. */
	CHECK(grow(fd, 0, 2 * MB) == 0);
	CHECK(probe_read(p) == 0 && p[0] == 0);
	CHECK(munmap((void *)p, 4 * MB) == 0);
	close(fd);
}

static int send_fd(int sock, int fd)
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

static int recv_fd(int sock)
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

static void test_fd_passing(void)
{
	int sv[2], fd, ro, status;
	uint8_t *p;
	pid_t pid;
	size_t i;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int rfd, rofd;
		struct wcpool_info in;
		uint8_t *q, *r;

		close(sv[0]);
		rfd = recv_fd(sv[1]);
		rofd = recv_fd(sv[1]);
		CHECK(rfd >= 0 && rofd >= 0);
		in = info(rfd);
		CHECK(in.grown_size == 4 * MB && in.policy == WCPOOL_POLICY_WC);
		q = map(rfd, 4 * MB, PROT_READ | PROT_WRITE, 0);
		for (i = 0; i < 4 * MB; i += 512)
			CHECK(q[i] == (uint8_t)(i / 512));
		r = map(rofd, 4 * MB, PROT_READ, 0);
		CHECK(r[1000 * 512] == (uint8_t)1000);
		CHECK_ERR(mmap(NULL, HP, PROT_WRITE, MAP_SHARED, rofd, 0), EACCES);
		q[1] = 0x77;	/* the parent checks this */
		CHECK(r[1] == 0x77);
		_exit(0);
	}
	close(sv[1]);
	fd = pool(WCPOOL_POLICY_WC, 4 * MB);
	CHECK(grow(fd, 0, 4 * MB) == 0);
	p = map(fd, 4 * MB, PROT_READ | PROT_WRITE, 0);
	for (i = 0; i < 4 * MB; i += 512)
		p[i] = (uint8_t)(i / 512);
	ro = dup_ro(fd, WCPOOL_DUP_READONLY);
	CHECK(ro >= 0);
	CHECK(send_fd(sv[0], fd) == 0);
	CHECK(send_fd(sv[0], ro) == 0);
	close(ro);
	close(fd);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(p[1] == 0x77);
	CHECK(munmap(p, 4 * MB) == 0);
	close(sv[0]);
}

static void test_fork_shares_mapping(void)
{
	int fd = pool(WCPOOL_POLICY_WB, 2 * MB), status;
	volatile uint8_t *p;
	pid_t pid;

	CHECK(grow(fd, 0, 2 * MB) == 0);
	p = map(fd, 2 * MB, PROT_READ | PROT_WRITE, 0);
	p[100] = 1;
	close(fd);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		p[100] = 2;
		p[HP - 1] = 3;
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid && status == 0);
	CHECK(p[100] == 2 && p[HP - 1] == 3);
	CHECK(munmap((void *)p, 2 * MB) == 0);
}

static void test_killed_with_mappings(void)
{
	int pfd[2], status;
	pid_t pid;
	char c;

	CHECK(pipe(pfd) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd = pool(WCPOOL_POLICY_WC, 8 * MB);
		uint8_t *p;

		CHECK(grow(fd, 0, 8 * MB) == 0);
		p = map(fd, 8 * MB, PROT_READ | PROT_WRITE, 0);
		memset(p, 0x11, 8 * MB);
		map(dup_ro(fd, WCPOOL_DUP_READONLY), 4 * MB, PROT_READ, 0);
		CHECK(write(pfd[1], "r", 1) == 1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	CHECK(read(pfd[0], &c, 1) == 1);
	CHECK(stat_get("pools") == 1);
	CHECK(stat_get("pages_wc") == 4);
	CHECK(stat_get("mapped_vmas") == 2);
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(pfd[0]);
	CHECK(stat_get("pools") == 0);
	CHECK(stat_get("pages_wc") == 0);
}

/* Pages referenced elsewhere (here: spliced into a pipe) outlive RELEASE. */
static void test_release_while_referenced(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 2 * MB), pp[2], i;
	struct iovec iov;
	uint8_t *p, buf[4096];

	CHECK(grow(fd, 0, 2 * MB) == 0);
	p = map(fd, 2 * MB, PROT_READ | PROT_WRITE, 0);
	memset(p, 0x3c, 4096);
	CHECK(pipe(pp) == 0);
	iov = (struct iovec){ .iov_base = p, .iov_len = 4096 };
	CHECK(vmsplice(pp[1], &iov, 1, 0) == 4096);
	CHECK(munmap(p, 2 * MB) == 0);
	CHECK(release(fd, 0, 2 * MB) == 0);
	CHECK(stat_get("deferred") == 1);
	CHECK(stat_get("in_use") == 1);
	CHECK(read(pp[0], buf, sizeof(buf)) == 4096);
	CHECK(buf[0] == 0x3c && buf[4095] == 0x3c);
	close(pp[0]);
	close(pp[1]);
	for (i = 0; i < 50 && stat_get("deferred"); i++)
		usleep(100000);
	CHECK(stat_get("deferred") == 0);
	CHECK(stat_get("in_use") == 0);
	close(fd);
}

static int pools_count(const char *memtype)
{
	char line[256];
	int n = 0;
	FILE *f = fopen(POOLS, "r");

	CHECK(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "linear ") &&
		    !strncmp(strstr(line, "linear ") + 7, memtype,
			     strlen(memtype)))
			n++;
	fclose(f);
	return n;
}

/*
 * The cache type is real: the kernel's linear map of every page has the
 * pool's PAT type.  RAM memtypes are tracked in page flags, not in the PAT
 * interval tree, so /sys/kernel/debug/x86/pat_memtype_list must list none
 * of them (and no conflict may be logged: the runner checks dmesg).
 */
static void test_policy_memtype(void)
{
	int wc = pool(WCPOOL_POLICY_WC, 4 * MB);
	int uc = pool(WCPOOL_POLICY_UC, 4 * MB);
	int wb = pool(WCPOOL_POLICY_WB, 4 * MB);
	char line[256];
	FILE *f;
	void *p;

	CHECK(grow(wc, 0, 4 * MB) == 0);
	CHECK(grow(uc, 0, 2 * MB) == 0);
	CHECK(grow(wb, 2 * MB, 2 * MB) == 0);
	p = map(uc, 2 * MB, PROT_READ | PROT_WRITE, 0);
	memset(p, 1, 2 * MB);
	CHECK(pools_count("write-combining ") == 2);
	CHECK(pools_count("uncached-minus ") == 1);
	CHECK(pools_count("write-back ") == 1);
	/* set_memory_wc/uc on a whole 2 MiB page keeps a 2 MiB linear entry */
	CHECK(pools_count("write-combining 2m") == 2);
	CHECK(pools_count("uncached-minus 2m") == 1);
	f = fopen("/sys/kernel/debug/x86/pat_memtype_list", "r");
	CHECK(f);
	CHECK(fgets(line, sizeof(line), f));
	CHECK(strstr(line, "PAT memtype list"));
	fclose(f);
	munmap(p, 2 * MB);
	close(wc);
	close(uc);
	close(wb);
}

static void test_many_pools(void)
{
	int fds[32], i;

	for (i = 0; i < 32; i++) {
		fds[i] = pool(i % 3, 2 * MB);
		CHECK(grow(fds[i], 0, 2 * MB) == 0);
	}
	CHECK(stat_get("pools") == 32);
	CHECK(stat_get("in_use") == 32);
	for (i = 0; i < 32; i++)
		close(fds[i]);
}

static int vivid_capture_open(void)
{
	struct v4l2_capability cap;
	char path[32];
	int i, fd;

	for (i = 0; i < 16; i++) {
		snprintf(path, sizeof(path), "/dev/video%d", i);
		fd = open(path, O_RDWR);
		if (fd < 0)
			continue;
		if (!ioctl(fd, VIDIOC_QUERYCAP, &cap) &&
		    !strcmp((char *)cap.driver, "vivid") &&
		    (cap.device_caps & V4L2_CAP_VIDEO_CAPTURE) &&
		    (cap.device_caps & V4L2_CAP_STREAMING))
			return fd;
		close(fd);
	}
	return -1;
}

/*
 * Pool memory is made of normal pages: V4L2 USERPTR pins it
 * (pin_user_pages with FOLL_LONGTERM) and vivid captures a frame into it.
 * A WB pool, because vb2-vmalloc maps pinned pages into the kernel with
 * PAGE_KERNEL (a WB alias of a WC page would be a PAT aliasing bug of the
 * USERPTR path).  RELEASE while the frame is queued defers the free until
 * the buffer is unpinned.
 */
static void test_vivid_userptr_pin(void)
{
	int v = vivid_capture_open(), fd, i;
	enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	struct v4l2_format fmt = { .type = type };
	struct v4l2_requestbuffers rb = {
		.count = 2, .type = type, .memory = V4L2_MEMORY_USERPTR,
	};
	struct v4l2_buffer b;
	unsigned int n;
	size_t len;
	uint8_t *p;

	CHECK(v >= 0);
	CHECK(ioctl(v, VIDIOC_G_FMT, &fmt) == 0);
	len = (fmt.fmt.pix.sizeimage + HP - 1) & ~(HP - 1);
	CHECK(ioctl(v, VIDIOC_REQBUFS, &rb) == 0);
	CHECK(rb.count >= 2 && rb.count <= 4);
	fd = pool(WCPOOL_POLICY_WB, rb.count * len);
	CHECK(grow(fd, 0, rb.count * len) == 0);
	p = map(fd, rb.count * len, PROT_READ | PROT_WRITE, 0);
	for (n = 0; n < rb.count; n++) {
		memset(&b, 0, sizeof(b));
		b.type = type;
		b.memory = V4L2_MEMORY_USERPTR;
		b.index = n;
		b.m.userptr = (unsigned long)(p + n * len);
		b.length = fmt.fmt.pix.sizeimage;
		CHECK(ioctl(v, VIDIOC_QBUF, &b) == 0);
	}
	CHECK(ioctl(v, VIDIOC_STREAMON, &type) == 0);
	memset(&b, 0, sizeof(b));
	b.type = type;
	b.memory = V4L2_MEMORY_USERPTR;
	CHECK(ioctl(v, VIDIOC_DQBUF, &b) == 0);
	CHECK(b.bytesused > 0);
	CHECK(!all_zero((void *)b.m.userptr, b.bytesused & ~7U));
	/* Queue it again: all frames pinned while the range is released. */
	b.bytesused = 0;
	CHECK(ioctl(v, VIDIOC_QBUF, &b) == 0);
	CHECK(munmap(p, rb.count * len) == 0);
	CHECK(release(fd, 0, rb.count * len) == 0);
	CHECK(stat_get("deferred") == (long)(rb.count * len / HP));
	CHECK(ioctl(v, VIDIOC_STREAMOFF, &type) == 0);
	rb.count = 0;
	CHECK(ioctl(v, VIDIOC_REQBUFS, &rb) == 0);
	close(v);
	for (i = 0; i < 50 && stat_get("deferred"); i++)
		usleep(100000);
	CHECK(stat_get("deferred") == 0);
	close(fd);
}

/*
 * WCPOOL_MAP_PMD (6.12+): 2 MiB aligned mappings get PMD entries, others
 * fall back to 4 KiB; the memory cannot be pinned.  Where the kernel lacks
 * huge pfnmaps, creating such a pool fails with EOPNOTSUPP.
 */
static void test_pmd_mode(void)
{
	struct wcpool_create c = {
		.size = sizeof(c), .max_size = 8 * MB,
		.map_mode = WCPOOL_MAP_PMD,
	};
	int dev = dev_open(), fd, ro, pp[2];
	uint8_t *p, *q, *area;
	struct iovec iov;
	long before;
	size_t i;

	if (ioctl(dev, WCPOOL_IOC_CREATE, &c)) {
		CHECK(errno == EOPNOTSUPP);
		printf("  pmd_mode: not supported by this kernel (EOPNOTSUPP)\n");
		close(dev);
		return;
	}
	close(dev);
	fd = c.fd;
	CHECK(info(fd).map_mode == WCPOOL_MAP_PMD);
	CHECK(grow(fd, 0, 8 * MB) == 0);
	before = stat_get("pmd_maps");
	p = map(fd, 8 * MB, PROT_READ | PROT_WRITE, 0);
	CHECK(((uintptr_t)p & (HP - 1)) == 0);
	CHECK(all_zero(p, 8 * MB));
	for (i = 0; i < 8 * MB; i += 4096)
		p[i] = (uint8_t)((i >> 12) + 3);
	CHECK(stat_get("pmd_maps") - before == 4);

	/* read-only fd, mapped at an offset */
	ro = dup_ro(fd, WCPOOL_DUP_READONLY);
	CHECK(ro >= 0);
	CHECK_ERR(mmap(NULL, HP, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), EACCES);
	q = map(ro, 2 * MB, PROT_READ, 4 * MB);
	for (i = 0; i < HP; i += 4096)
		CHECK(q[i] == (uint8_t)(((i + 4 * MB) >> 12) + 3));
	CHECK(munmap(q, 2 * MB) == 0);
	close(ro);

	/* A mapping that is not 2 MiB aligned falls back to 4 KiB entries. */
	area = mmap(NULL, 8 * MB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(area != MAP_FAILED);
	area = (uint8_t *)(((uintptr_t)area + HP - 1) & ~(HP - 1)) + 4096;
	before = stat_get("pmd_maps");
	q = mmap(area, 4 * MB, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 2 * MB);
	CHECK(q == area);
	for (i = 0; i < 4 * MB; i += 4096)
		CHECK(q[i] == (uint8_t)(((i + 2 * MB) >> 12) + 3));
	CHECK(stat_get("pmd_maps") == before);
	CHECK(munmap(q, 4 * MB) == 0);

	/* Special PMDs cannot be pinned or referenced by GUP. */
	CHECK(pipe(pp) == 0);
	iov = (struct iovec){ .iov_base = p, .iov_len = 4096 };
	CHECK_ERR(vmsplice(pp[1], &iov, 1, 0), EFAULT);
	close(pp[0]);
	close(pp[1]);

	/* RELEASE zaps PMD mappings too. */
	CHECK(release(fd, 2 * MB, 2 * MB) == 0);
	CHECK(probe_read(p + 2 * MB) == SIGBUS);
	CHECK(probe_read(p) == 0 && p[0] == 3);
	CHECK(munmap(p, 8 * MB) == 0);
	close(fd);
}

struct race_arg {
	int fd;
	volatile uint8_t *p;
	volatile bool stop;
	unsigned long faults;
};

static void *race_toucher(void *data)
{
	struct race_arg *a = data;
	struct sigaction sa = { .sa_handler = fault_handler };
	volatile unsigned long i = 0;

	/* SIGBUS is expected while a page is released: skip and go on. */
	sigaction(SIGBUS, &sa, NULL);
	while (!a->stop) {
		if (!sigsetjmp(fault_jmp, 1))
			a->p[(i * 4096 + 64) % (8 * MB)] = (uint8_t)i;
		else
			a->faults++;
		i += 17;
	}
	return NULL;
}

static void race_run(int fd, bool pfnmap)
{
	struct race_arg a = { .fd = fd };
	pthread_t t;
	int i;

	CHECK(grow(a.fd, 0, 8 * MB) == 0);
	a.p = map(a.fd, 8 * MB, PROT_READ | PROT_WRITE, 0);
	CHECK(pthread_create(&t, NULL, race_toucher, &a) == 0);
	for (i = 0; i < 200; i++) {
		uint64_t off = (uint64_t)(i % 4) * HP;

		CHECK(release(a.fd, off, HP) == 0);
		CHECK(grow(a.fd, off, HP) == 0);
		/* MADV_DONTNEED is refused (EINVAL) for VM_PFNMAP */
		if (i % 10 == 0 && !pfnmap)
			CHECK(madvise((void *)a.p, 8 * MB, MADV_DONTNEED) == 0);
	}
	a.stop = true;
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(info(a.fd).grown_size == 8 * MB);
	CHECK(munmap((void *)a.p, 8 * MB) == 0);
	close(a.fd);
}

/*
 * Faults racing GROW/RELEASE/MADV_DONTNEED, in PTE mode and (where the
 * kernel has it) PMD mode: no crash, no leak, no WARN.
 */
static void test_race_fault_release(void)
{
	struct wcpool_create c = {
		.size = sizeof(c), .max_size = 8 * MB,
		.map_mode = WCPOOL_MAP_PMD,
	};
	int dev = dev_open();

	race_run(pool(WCPOOL_POLICY_WC, 8 * MB), false);
	if (ioctl(dev, WCPOOL_IOC_CREATE, &c) == 0)
		race_run(c.fd, true);
	close(dev);
}

/* Memory pressure (here: drop_caches) empties the recycle pools. */
static void test_recycle_shrinker(void)
{
	int fd = pool(WCPOOL_POLICY_UC, 4 * MB), dc;

	CHECK(grow(fd, 0, 4 * MB) == 0);
	close(fd);
	CHECK(stat_get("recycle_uc") >= 2);
	dc = open("/proc/sys/vm/drop_caches", O_WRONLY);
	CHECK(dc >= 0);
	CHECK(write(dc, "2", 1) == 1);
	close(dc);
	CHECK(stat_get("recycle_wc") == 0);
	CHECK(stat_get("recycle_uc") == 0);
	CHECK(stat_get("recycle_wb") == 0);
}

static void partial_munmap_run(int fd)
{
	uint8_t *p;
	size_t i;

	CHECK(grow(fd, 0, 8 * MB) == 0);
	p = map(fd, 8 * MB, PROT_READ | PROT_WRITE, 0);
	for (i = 0; i < 8 * MB; i += 4096)
		p[i] = (uint8_t)((i >> 12) + 5);
	/* punch a 4 KiB hole into the middle of a 2 MiB page */
	CHECK(munmap(p + 3 * MB, 4096) == 0);
	CHECK(stat_get("mapped_vmas") == 2);
	CHECK(probe_read(p + 3 * MB) == SIGSEGV);
	for (i = 0; i < 8 * MB; i += 4096)
		if (i != 3 * MB)
			CHECK(p[i] == (uint8_t)((i >> 12) + 5));
	CHECK(mprotect(p + 6 * MB, 2 * MB, PROT_READ) == 0);
	CHECK(stat_get("mapped_vmas") == 3);
	CHECK(munmap(p, 8 * MB) == 0);
	CHECK(stat_get("mapped_vmas") == 0);
	close(fd);
}

/* Splitting mappings (munmap, mprotect of a part): PTE and PMD mode. */
static void test_partial_munmap(void)
{
	struct wcpool_create c = {
		.size = sizeof(c), .max_size = 8 * MB,
		.map_mode = WCPOOL_MAP_PMD,
	};
	int dev = dev_open();

	partial_munmap_run(pool(WCPOOL_POLICY_WC, 8 * MB));
	if (ioctl(dev, WCPOOL_IOC_CREATE, &c) == 0)
		partial_munmap_run(c.fd);
	close(dev);
}

static void write_file(const char *path, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fd = open(path, O_WRONLY);
	CHECK(fd >= 0);
	CHECK(write(fd, buf, n) == n);
	close(fd);
}

static long read_long(const char *path)
{
	long v = -1;
	FILE *f = fopen(path, "r");

	CHECK(f);
	CHECK(fscanf(f, "%ld", &v) == 1);
	fclose(f);
	return v;
}

#define CG "/sys/fs/cgroup"
#define CGT CG "/wcpool-test"

/*
 * Pool pages are charged to the caller's memory cgroup and limited by it:
 * GROW past memory.max fails with ENOMEM (no OOM kill).
 */
static void test_memcg_charge(void)
{
	long before, after;
	int fd;

	if (access(CG "/cgroup.controllers", F_OK))
		CHECK(mount("none", CG, "cgroup2", 0, NULL) == 0);
	write_file(CG "/cgroup.subtree_control", "+memory");
	rmdir(CGT);
	CHECK(mkdir(CGT, 0755) == 0);
	write_file(CGT "/cgroup.procs", "%d", getpid());
	/* recycled pages keep their first charge: start from fresh pages */
	write_file("/proc/sys/vm/drop_caches", "2");
	CHECK(stat_get("recycle_wc") == 0);

	fd = pool(WCPOOL_POLICY_WC, 64 * MB);
	before = read_long(CGT "/memory.current");
	CHECK(grow(fd, 0, 8 * MB) == 0);
	after = read_long(CGT "/memory.current");
	CHECK(after - before >= (long)(8 * MB));
	write_file(CGT "/memory.max", "%ld", after + 4 * MB);
	CHECK_ERR(grow(fd, 8 * MB, 8 * MB), ENOMEM);
	CHECK(info(fd).grown_size == 8 * MB);
	close(fd);
	/*
	 * The freed pages sit in the recycle pool, still charged to this
	 * cgroup (no exported API moves a kmem charge); the shrinker frees
	 * them and the charge goes away.
	 */
	CHECK(stat_get("recycle_wc") >= 4);
	CHECK(read_long(CGT "/memory.current") >= after - (long)(MB));
	write_file("/proc/sys/vm/drop_caches", "2");
	CHECK(read_long(CGT "/memory.current") < after - (long)(6 * MB));

	write_file(CG "/cgroup.procs", "%d", getpid());
	CHECK(rmdir(CGT) == 0);
}

struct test {
	const char *name;
	void (*fn)(void);
};

static const struct test tests[] = {
	{ "create_default", test_create_default },
	{ "create_bad", test_create_bad },
	{ "grow_release", test_grow_release },
	{ "grow_bad", test_grow_bad },
	{ "grow_limit", test_grow_limit },
	{ "info_bad", test_info_bad },
	{ "mmap_zero_and_rw", test_mmap_zero_and_rw },
	{ "pages_zero_after_reuse", test_pages_zero_after_reuse },
	{ "mmap_bad", test_mmap_bad },
	{ "mmap_sparse", test_mmap_sparse },
	{ "partial_munmap", test_partial_munmap },
	{ "readonly_fd", test_readonly_fd },
	{ "use_after_close", test_use_after_close },
	{ "release_while_mapped", test_release_while_mapped },
	{ "release_while_referenced", test_release_while_referenced },
	{ "fd_passing", test_fd_passing },
	{ "fork_shares_mapping", test_fork_shares_mapping },
	{ "killed_with_mappings", test_killed_with_mappings },
	{ "policy_memtype", test_policy_memtype },
	{ "many_pools", test_many_pools },
	{ "vivid_userptr_pin", test_vivid_userptr_pin },
	{ "pmd_mode", test_pmd_mode },
	{ "race_fault_release", test_race_fault_release },
	{ "recycle_shrinker", test_recycle_shrinker },
	{ "memcg_charge", test_memcg_charge },
};

/* ---- runner ---- */

static int kmsg_fd = -1;

/* Returns the number of bad kernel log lines since the last call. */
static int kmsg_check(const char *test)
{
	static const char * const bad[] = {
		"WARNING:", "BUG", "Oops", "general protection", "Call Trace",
		"x86/PAT", "conflicting memory types", "wcpool:", "refcount_t",
		"bad page", "Bad page", "list_add corruption",
		"list_del corruption",
	};
	char rec[8192];
	ssize_t n;
	unsigned int i;
	int nbad = 0;

	if (kmsg_fd < 0)
		return 0;
	for (;;) {
		n = read(kmsg_fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			break;
		rec[n] = 0;
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			if (strstr(rec, bad[i])) {
				fprintf(stderr, "  %s: kernel log: %s", test,
					strchr(rec, ';') ? strchr(rec, ';') + 1 : rec);
				nbad++;
				break;
			}
		}
	}
	return nbad;
}

static int counters_check(const char *test)
{
	static const char * const zero[] = {
		"pools", "pages_wc", "pages_uc", "pages_wb", "deferred",
		"mapped_vmas", "in_use",
	};
	unsigned int i, tries;
	int nbad = 0;
	long v;

	for (i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
		/* Deferred pages are reaped once a second. */
		for (tries = 0; (v = stat_get(zero[i])) != 0 && tries < 30; tries++)
			usleep(100000);
		if (v) {
			fprintf(stderr, "  %s: counter %s is %ld after the test\n",
				test, zero[i], v);
			nbad++;
		}
	}
	return nbad;
}

static bool run_one(const struct test *t)
{
	struct timespec t0, t1;
	int status, bad;
	pid_t pid;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		cur_test = t->name;
		alarm(120);
		t->fn();
		exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		perror("fork/waitpid");
		return false;
	}
	bad = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		if (WIFSIGNALED(status))
			fprintf(stderr, "  %s: killed by signal %d\n", t->name,
				WTERMSIG(status));
		bad++;
	}
	bad += counters_check(t->name);
	bad += kmsg_check(t->name);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%s %s (%.0f ms)\n", bad ? "FAIL" : "PASS", t->name,
	       (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	return !bad;
}

static bool run_rmmod(void)
{
	int rc, bad;

	fflush(NULL);
	rc = system("rmmod wcpool");
	bad = rc != 0 || access("/dev/wcpool", F_OK) == 0;
	bad += kmsg_check("rmmod");
	printf("%s rmmod\n", bad ? "FAIL" : "PASS");
	return !bad;
}

int main(int argc, char **argv)
{
	unsigned int i, passed = 0, failed = 0;
	bool keep = false, ran;
	int a, first = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "-k")) {
		keep = true;
		first = 2;
	}
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg_fd >= 0)
		lseek(kmsg_fd, 0, SEEK_END);
	if (access("/dev/wcpool", R_OK | W_OK)) {
		perror("/dev/wcpool");
		printf("0 passed, 1 failed\n");
		return 1;
	}

	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		ran = first >= argc;
		for (a = first; a < argc; a++)
			if (!strcmp(argv[a], tests[i].name))
				ran = true;
		if (!ran)
			continue;
		if (run_one(&tests[i]))
			passed++;
		else
			failed++;
	}
	if (!keep && first >= argc) {
		if (run_rmmod())
			passed++;
		else
			failed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
