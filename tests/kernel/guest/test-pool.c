// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool-test: pools and their fds: CREATE, GROW, RELEASE, INFO and DUP with
 * good and bad arguments, read-only fds, fds passed, inherited and closed.
 */
#include "wcpool-test.h"

static void test_create_default(void)
{
	struct wcpool_create c = { .size = sizeof(c), .max_size = 8 * MB };
	int dev = dev_open();
	struct wcpool_info i;

	ASSERT(ioctl(dev, WCPOOL_IOC_CREATE, &c) == 0);
	ASSERT(c.fd >= 0);
	ASSERT(!(fcntl(c.fd, F_GETFD) & FD_CLOEXEC));
	ASSERT(stat_get("pools") == 1);
	i = info(c.fd);
	ASSERT(i.policy == WCPOOL_POLICY_WC);
	ASSERT(i.page_shift == 21);
	ASSERT(i.max_size == 8 * MB);
	ASSERT(i.grown_size == 0);
	ASSERT(i.map_mode == WCPOOL_MAP_PTE);
	ASSERT(i.flags == 0);
	close(c.fd);
	ASSERT(stat_get("pools") == 0);

	c = (struct wcpool_create){ .size = sizeof(c), .max_size = HP,
				    .flags = WCPOOL_CREATE_CLOEXEC,
				    .policy = WCPOOL_POLICY_UC,
				    .page_shift = 21 };
	ASSERT(ioctl(dev, WCPOOL_IOC_CREATE, &c) == 0);
	ASSERT(fcntl(c.fd, F_GETFD) & FD_CLOEXEC);
	ASSERT(info(c.fd).policy == WCPOOL_POLICY_UC);
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

#define BAD(field, value) \
	EXPECT_BAD(dev, WCPOOL_IOC_CREATE, good, field, value, EINVAL)
	BAD(size, 0);
	BAD(size, 4);
	BAD(size, WCPOOL_CREATE_SIZE_VER0 - 8);
	BAD(size, 4097);
	BAD(flags, 1U << 2);
	BAD(flags, 1U << 31);
	BAD(policy, WCPOOL_POLICY_COUNT);
	BAD(policy, ~0U);
	BAD(page_shift, 12);
	BAD(page_shift, 30);
	BAD(max_size, 0);
	BAD(max_size, HP + 4096);
	BAD(max_size, 4096);
	BAD(max_size, 1ULL << 63);
	BAD(max_size, ~0ULL << 21);
	BAD(map_mode, 2);
	BAD(reserved[0], 1);
	BAD(reserved[1], 1ULL << 63);
#undef BAD
	EXPECT_ERR(ioctl(dev, WCPOOL_IOC_CREATE, NULL), EFAULT);
	EXPECT_ERR(ioctl(dev, WCPOOL_IOC_CREATE, (void *)16), EFAULT);

	/* fd is output only: whatever it holds on input is ignored. */
	c = good;
	c.fd = -1;
	ASSERT(ioctl(dev, WCPOOL_IOC_CREATE, &c) == 0 && c.fd >= 0);
	pfd = c.fd;
	ASSERT(ioctl(dev, WCPOOL_IOC_CREATE, &c) == 0 && c.fd != pfd);
	close(c.fd);
	close(pfd);

	/* Creating a pool needs /dev/wcpool open for writing. */
	pfd = open("/dev/wcpool", O_RDONLY | O_CLOEXEC);
	ASSERT(pfd >= 0);
	c = good;
	EXPECT_ERR(ioctl(pfd, WCPOOL_IOC_CREATE, &c), EBADF);
	close(pfd);
	pfd = open("/dev/wcpool", O_WRONLY | O_CLOEXEC);
	ASSERT(pfd >= 0);
	ASSERT(ioctl(pfd, WCPOOL_IOC_CREATE, &c) == 0);
	close(c.fd);
	close(pfd);
	EXPECT_ERR(ioctl(dev, WCPOOL_IOC_GROW, &good), ENOTTY);
	EXPECT_ERR(ioctl(dev, _IO(WCPOOL_IOC_MAGIC, 0x7f)), ENOTTY);

	/* A larger struct from a newer userspace: zero tail accepted. */
	memset(&big, 0, sizeof(big));
	big.c = good;
	big.c.size = sizeof(big);
	ASSERT(ioctl(dev, WCPOOL_IOC_CREATE, &big) == 0);
	close(big.c.fd);
	big.extra[1] = 1;
	EXPECT_ERR(ioctl(dev, WCPOOL_IOC_CREATE, &big), E2BIG);

	/* PMD mode: supported or a clean EOPNOTSUPP. */
	c = good;
	c.map_mode = WCPOOL_MAP_PMD;
	if (ioctl(dev, WCPOOL_IOC_CREATE, &c) == 0) {
		ASSERT(info(c.fd).map_mode == WCPOOL_MAP_PMD);
		close(c.fd);
	} else {
		ASSERT(errno == EOPNOTSUPP);
	}

	/* Device ioctls are not pool ioctls. */
	pfd = pool(WCPOOL_POLICY_WC, HP);
	c = good;
	EXPECT_ERR(ioctl(pfd, WCPOOL_IOC_CREATE, &c), ENOTTY);
	EXPECT_ERR(ioctl(pfd, _IO(WCPOOL_IOC_MAGIC, 0x7f)), ENOTTY);
	close(pfd);
	ASSERT(stat_get("pools") == 0);
	close(dev);
}

static void test_grow_release(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 16 * MB);

	ASSERT(grow(fd, 0, 4 * MB) == 0);
	ASSERT(info(fd).grown_size == 4 * MB);
	ASSERT(stat_get("pages_wc") == 2);
	ASSERT_ERR(grow(fd, 0, HP), EEXIST);
	ASSERT_ERR(grow(fd, 2 * MB, 4 * MB), EEXIST);
	ASSERT(info(fd).grown_size == 4 * MB);
	ASSERT(stat_get("pages_wc") == 2);
	ASSERT(grow(fd, 10 * MB, 6 * MB) == 0);
	ASSERT(info(fd).grown_size == 10 * MB);
	/* releases the pages at 2 and 10 MiB, keeps 0, 12 and 14 MiB */
	ASSERT(release(fd, 2 * MB, 10 * MB) == 0);
	ASSERT(info(fd).grown_size == 6 * MB);
	ASSERT(release(fd, 2 * MB, 10 * MB) == 0);
	ASSERT(info(fd).grown_size == 6 * MB);
	ASSERT(stat_get("pages_wc") == 3);
	ASSERT(grow(fd, 2 * MB, 2 * MB) == 0);
	ASSERT(release(fd, 0, 16 * MB) == 0);
	ASSERT(info(fd).grown_size == 0);
	ASSERT(stat_get("pages_wc") == 0);
	ASSERT(grow(fd, 14 * MB, HP) == 0);
	close(fd);	/* the pool frees what is left */
}

static void test_grow_bad(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 8 * MB);
	struct wcpool_range good = { .size = sizeof(good), .length = HP };

	EXPECT_ERR(grow(fd, 4096, HP), EINVAL);
	EXPECT_ERR(grow(fd, MB, HP), EINVAL);
	EXPECT_ERR(grow(fd, 0, 0), EINVAL);
	EXPECT_ERR(grow(fd, 0, 4096), EINVAL);
	EXPECT_ERR(grow(fd, 0, HP + 4096), EINVAL);
	EXPECT_ERR(grow(fd, ~0ULL << 21, 4 * MB), EINVAL);
	EXPECT_ERR(grow(fd, 2 * MB, ~0ULL << 21), EINVAL);
	EXPECT_ERR(grow(fd, 8 * MB, HP), EFBIG);
	EXPECT_ERR(grow(fd, 6 * MB, 4 * MB), EFBIG);
	EXPECT_ERR(grow(fd, 1ULL << 50, HP), EFBIG);
	EXPECT_ERR(release(fd, 4096, HP), EINVAL);
	EXPECT_ERR(release(fd, 0, 0), EINVAL);
	EXPECT_ERR(release(fd, 8 * MB, HP), EFBIG);
	EXPECT_BAD(fd, WCPOOL_IOC_GROW, good, flags, 1, EINVAL);
	EXPECT_BAD(fd, WCPOOL_IOC_RELEASE, good, flags, 1, EINVAL);
	EXPECT_BAD(fd, WCPOOL_IOC_GROW, good, reserved[1], 1, EINVAL);
	EXPECT_BAD(fd, WCPOOL_IOC_GROW, good, size, 8, EINVAL);
	EXPECT_ERR(ioctl(fd, WCPOOL_IOC_GROW, NULL), EFAULT);
	EXPECT(info(fd).grown_size == 0);
	EXPECT(stat_get("in_use") == 0);
	close(fd);
}

static void test_grow_limit(void)
{
	long limit = stat_get("limit");
	int fd;

	ASSERT(limit > 2);
	fd = pool(WCPOOL_POLICY_WB, (limit + 1) * HP);
	ASSERT_ERR(grow(fd, 0, (limit + 1) * HP), ENOSPC);
	ASSERT(stat_get("in_use") == 0);
	ASSERT(grow(fd, 0, 2 * HP) == 0);
	ASSERT_ERR(grow(fd, 2 * HP, (limit - 1) * HP), ENOSPC);
	ASSERT(stat_get("in_use") == 2);
	ASSERT(info(fd).grown_size == 2 * HP);
	close(fd);
}

static void test_info_bad(void)
{
	int fd = pool(WCPOOL_POLICY_WB, HP);
	struct wcpool_info good = { .size = sizeof(good) };
	struct {
		struct wcpool_info i;
		uint64_t extra;
	} big;

	EXPECT_BAD(fd, WCPOOL_IOC_INFO, good, flags, 1, EINVAL);
	EXPECT_BAD(fd, WCPOOL_IOC_INFO, good, reserved0, 1, EINVAL);
	EXPECT_BAD(fd, WCPOOL_IOC_INFO, good, reserved[3], 1, EINVAL);
	EXPECT_BAD(fd, WCPOOL_IOC_INFO, good, size, 16, EINVAL);
	memset(&big, 0, sizeof(big));
	big.i.size = sizeof(big);
	big.extra = 0x5a5a;
	EXPECT_ERR(ioctl(fd, WCPOOL_IOC_INFO, &big), E2BIG);
	big.extra = 0;
	ASSERT(ioctl(fd, WCPOOL_IOC_INFO, &big) == 0);
	ASSERT(big.i.policy == WCPOOL_POLICY_WB && big.i.max_size == HP);
	ASSERT(big.extra == 0);
	close(fd);
}

static void test_readonly_fd(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 4 * MB), ro, ro2;
	struct wcpool_dup d;
	uint8_t *p, *r;

	ASSERT(grow(fd, 0, 2 * MB) == 0);
	p = map(fd, HP, PROT_READ | PROT_WRITE, 0);
	p[12345] = 0x42;

	ro = dup_ro(fd, WCPOOL_DUP_READONLY);
	ASSERT(ro >= 0);
	ASSERT(!(fcntl(ro, F_GETFD) & FD_CLOEXEC));
	ASSERT((fcntl(ro, F_GETFL) & O_ACCMODE) == O_RDONLY);
	ASSERT(info(ro).flags == WCPOOL_INFO_READONLY);
	ASSERT(info(ro).grown_size == 2 * MB);
	EXPECT_ERR(mmap(NULL, HP, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), EACCES);
	EXPECT_ERR(mmap(NULL, HP, PROT_WRITE, MAP_SHARED, ro, 0), EACCES);
	r = map(ro, HP, PROT_READ, 0);
	ASSERT(r[12345] == 0x42);
	EXPECT_ERR(mprotect(r, HP, PROT_READ | PROT_WRITE), EACCES);
	EXPECT_ERR(grow(ro, 2 * MB, 2 * MB), EBADF);
	EXPECT_ERR(release(ro, 0, 2 * MB), EBADF);
	ASSERT(info(fd).grown_size == 2 * MB);

	d = (struct wcpool_dup){ .size = sizeof(d), .flags = 1 };
	EXPECT_BAD(fd, WCPOOL_IOC_DUP, d, flags, 0, EINVAL);
	EXPECT_BAD(fd, WCPOOL_IOC_DUP, d, flags, 1U << 5 | 1, EINVAL);
	EXPECT_BAD(fd, WCPOOL_IOC_DUP, d, reserved[0], 1, EINVAL);
	EXPECT_BAD(fd, WCPOOL_IOC_DUP, d, size, 4, EINVAL);
	ro2 = dup_ro(ro, WCPOOL_DUP_READONLY | WCPOOL_DUP_CLOEXEC);
	ASSERT(ro2 >= 0);
	ASSERT(fcntl(ro2, F_GETFD) & FD_CLOEXEC);
	ASSERT(info(ro2).flags == WCPOOL_INFO_READONLY);
	close(ro2);
	/* fd is output only: ignored on input. */
	d = (struct wcpool_dup){ .size = sizeof(d), .flags = 1, .fd = ro };
	ASSERT(ioctl(fd, WCPOOL_IOC_DUP, &d) == 0 && d.fd != ro);
	ASSERT(info(d.fd).flags == WCPOOL_INFO_READONLY);
	close(d.fd);

	/* The read-only mapping keeps the pool alive after every fd closes. */
	ASSERT(munmap(p, HP) == 0);
	close(fd);
	close(ro);
	ASSERT(stat_get("pools") == 1);
	ASSERT(r[12345] == 0x42);
	ASSERT(munmap(r, HP) == 0);
	ASSERT(stat_get("pools") == 0);
}

static void test_use_after_close(void)
{
	int fd = pool(WCPOOL_POLICY_UC, 4 * MB);
	uint8_t *p;
	size_t i;

	ASSERT(grow(fd, 0, 4 * MB) == 0);
	p = map(fd, 4 * MB, PROT_READ | PROT_WRITE, 0);
	p[0] = 1;
	close(fd);
	ASSERT(stat_get("pools") == 1);
	ASSERT(stat_get("pages_uc") == 2);
	/* Not yet faulted pages still fault in after the close. */
	for (i = 0; i < 4 * MB; i += 4096)
		p[i] += 1;
	ASSERT(p[0] == 2 && p[4 * MB - 4096] == 1);
	ASSERT(munmap(p, 4 * MB) == 0);
	ASSERT(stat_get("pools") == 0);
	ASSERT(stat_get("pages_uc") == 0);
}

static void test_fd_passing(void)
{
	int sv[2], fd, ro, status;
	uint8_t *p;
	pid_t pid;
	size_t i;

	ASSERT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		int rfd, rofd;
		struct wcpool_info in;
		uint8_t *q, *r;

		close(sv[0]);
		rfd = recv_fd(sv[1]);
		rofd = recv_fd(sv[1]);
		ASSERT(rfd >= 0 && rofd >= 0);
		in = info(rfd);
		ASSERT(in.grown_size == 4 * MB && in.policy == WCPOOL_POLICY_WC);
		q = map(rfd, 4 * MB, PROT_READ | PROT_WRITE, 0);
		for (i = 0; i < 4 * MB; i += 512)
			ASSERT(q[i] == (uint8_t)(i / 512));
		r = map(rofd, 4 * MB, PROT_READ, 0);
		ASSERT(r[1000 * 512] == (uint8_t)1000);
		ASSERT_ERR(mmap(NULL, HP, PROT_WRITE, MAP_SHARED, rofd, 0), EACCES);
		q[1] = 0x77;	/* the parent checks this */
		ASSERT(r[1] == 0x77);
		_exit(0);
	}
	close(sv[1]);
	fd = pool(WCPOOL_POLICY_WC, 4 * MB);
	ASSERT(grow(fd, 0, 4 * MB) == 0);
	p = map(fd, 4 * MB, PROT_READ | PROT_WRITE, 0);
	for (i = 0; i < 4 * MB; i += 512)
		p[i] = (uint8_t)(i / 512);
	ro = dup_ro(fd, WCPOOL_DUP_READONLY);
	ASSERT(ro >= 0);
	ASSERT(send_fd(sv[0], fd) == 0);
	ASSERT(send_fd(sv[0], ro) == 0);
	close(ro);
	close(fd);
	ASSERT(waitpid(pid, &status, 0) == pid);
	ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT(p[1] == 0x77);
	ASSERT(munmap(p, 4 * MB) == 0);
	close(sv[0]);
}

static void test_fork_shares_mapping(void)
{
	int fd = pool(WCPOOL_POLICY_WB, 2 * MB), status;
	volatile uint8_t *p;
	pid_t pid;

	ASSERT(grow(fd, 0, 2 * MB) == 0);
	p = map(fd, 2 * MB, PROT_READ | PROT_WRITE, 0);
	p[100] = 1;
	close(fd);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		p[100] = 2;
		p[HP - 1] = 3;
		_exit(0);
	}
	ASSERT(waitpid(pid, &status, 0) == pid && status == 0);
	ASSERT(p[100] == 2 && p[HP - 1] == 3);
	ASSERT(munmap((void *)p, 2 * MB) == 0);
}

static void test_killed_with_mappings(void)
{
	int pfd[2], status;
	pid_t pid;
	char c;

	ASSERT(pipe(pfd) == 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		int fd = pool(WCPOOL_POLICY_WC, 8 * MB);
		uint8_t *p;

		ASSERT(grow(fd, 0, 8 * MB) == 0);
		p = map(fd, 8 * MB, PROT_READ | PROT_WRITE, 0);
		memset(p, 0x11, 8 * MB);
		map(dup_ro(fd, WCPOOL_DUP_READONLY), 4 * MB, PROT_READ, 0);
		ASSERT(write(pfd[1], "r", 1) == 1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	ASSERT(read(pfd[0], &c, 1) == 1);
	ASSERT(stat_get("pools") == 1);
	ASSERT(stat_get("pages_wc") == 4);
	ASSERT(stat_get("mapped_vmas") == 2);
	ASSERT(kill(pid, SIGKILL) == 0);
	ASSERT(waitpid(pid, &status, 0) == pid);
	ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(pfd[0]);
	ASSERT(stat_get("pools") == 0);
	ASSERT(stat_get("pages_wc") == 0);
}

static void test_many_pools(void)
{
	int fds[32], i;

	for (i = 0; i < 32; i++) {
		fds[i] = pool(i % 3, 2 * MB);
		ASSERT(grow(fds[i], 0, 2 * MB) == 0);
	}
	ASSERT(stat_get("pools") == 32);
	ASSERT(stat_get("in_use") == 32);
	for (i = 0; i < 32; i++)
		close(fds[i]);
}

const struct test pool_tests[] = {
	{ "create_default", test_create_default },
	{ "create_bad", test_create_bad },
	{ "grow_release", test_grow_release },
	{ "grow_bad", test_grow_bad },
	{ "grow_limit", test_grow_limit },
	{ "info_bad", test_info_bad },
	{ "readonly_fd", test_readonly_fd },
	{ "use_after_close", test_use_after_close },
	{ "fd_passing", test_fd_passing },
	{ "fork_shares_mapping", test_fork_shares_mapping },
	{ "killed_with_mappings", test_killed_with_mappings },
	{ "many_pools", test_many_pools },
	{ NULL }
};
