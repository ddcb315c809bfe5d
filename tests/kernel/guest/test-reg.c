// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool-test: registration: REGISTER and SEGMENTS, the dma-buf they
 * export, RELEASE refused while registered.
 */
#include "wcpool-test.h"

/*
 * Good path: a range that starts and ends inside huge pages, its segments,
 * the dma-buf's mmap sees the pool bytes, the dma-buf outlives the pool fd
 * and its mapping, an fd passed to a child works, RELEASE is refused while
 * registered and allowed after.
 */
static void test_reg_basic(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 8 * MB), dfd, sv[2], status;
	struct wcpool_segment s[8];
	uint32_t nsegs, count, i;
	uint64_t off;
	uint8_t *p, *d;
	pid_t pid;

	ASSERT(grow(fd, 0, 8 * MB) == 0);
	p = map(fd, 8 * MB, PROT_READ | PROT_WRITE, 0);
	fill_pattern(p, 8 * MB, 3);
	dfd = reg_ioctl(fd, p + MB, 4 * MB, RW, 4096,
			WCPOOL_REG_POLICY(WCPOOL_POLICY_WC), &nsegs);
	ASSERT(dfd >= 0);
	ASSERT(nsegs >= 1 && nsegs <= 3);
	ASSERT(stat_get("registrations") == 1);
	ASSERT(stat_get("registered_bytes") == (long)(4 * MB));
	ASSERT(stat_get("pinned_pages") == 3);

	/* Segments: contiguous, cover the range, break only at 2 MiB. */
	count = 0;
	ASSERT(segments(fd, dfd, NULL, &count) == 0 && count == nsegs);
	count = 1;
	memset(s, 0xff, sizeof(s));
	ASSERT(segments(fd, dfd, s, &count) == 0 && count == nsegs);
	ASSERT(s[0].offset == 0 && s[1].offset == UINT64_MAX);
	count = 8;
	ASSERT(segments(fd, dfd, s, &count) == 0 && count == nsegs);
	for (i = 0, off = 0; i < count; i++) {
		ASSERT(s[i].offset == off && s[i].length > 0);
		off += s[i].length;
		ASSERT(off == 4 * MB || (off + MB) % HP == 0);
	}
	ASSERT(off == 4 * MB);
	printf("  reg_basic: 4 MiB over 3 huge pages: %u segment(s)\n", nsegs);

	/* RELEASE of any huge page holding registered bytes: EBUSY. */
	ASSERT_ERR(release(fd, 0, HP), EBUSY);
	ASSERT_ERR(release(fd, 4 * MB, HP), EBUSY);
	ASSERT_ERR(release(fd, 0, 8 * MB), EBUSY);
	ASSERT(info(fd).grown_size == 8 * MB);
	ASSERT(release(fd, 6 * MB, HP) == 0);

	/* The dma-buf's own mapping shows the pool's bytes, both ways. */
	d = mmap(NULL, 4 * MB, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
	ASSERT(d != MAP_FAILED);
	dmabuf_sync(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
	ASSERT(check_pattern(d, 4 * MB, MB, 3));
	d[5] = 0xa5;
	dmabuf_sync(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
	ASSERT(p[MB + 5] == 0xa5);
	ASSERT_ERR(mmap(NULL, 8 * MB, PROT_READ, MAP_SHARED, dfd, 0), EINVAL);
	ASSERT_ERR(mmap(NULL, 4 * MB, PROT_READ, MAP_PRIVATE, dfd, 0), EINVAL);
	/* A 2 MiB aligned mapping of it, and one at an offset. */
	{
		uint8_t *res = mmap(NULL, 8 * MB, PROT_NONE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *a2;

		ASSERT(res != MAP_FAILED);
		a2 = (uint8_t *)(((uintptr_t)res + HP - 1) & ~(HP - 1));
		ASSERT(mmap(a2, 4 * MB, PROT_READ, MAP_SHARED | MAP_FIXED, dfd,
			   0) == a2);
		ASSERT(check_pattern(a2 + 64, 4 * MB - 64, MB + 64, 3));
		ASSERT(a2[5] == 0xa5);
		ASSERT(mmap(a2, 2 * MB, PROT_READ, MAP_SHARED | MAP_FIXED, dfd,
			   MB) == a2);
		ASSERT(check_pattern(a2, 2 * MB, 2 * MB, 3));
		ASSERT(munmap(res, 8 * MB) == 0);
	}
	/* Its pages are normal ones: GUP (vmsplice) takes them. */
	{
		struct iovec iov = { .iov_base = d + 4096, .iov_len = 4096 };
		uint8_t buf[4096];
		int pp[2];

		ASSERT(pipe(pp) == 0);
		ASSERT(vmsplice(pp[1], &iov, 1, 0) == 4096);
		ASSERT(read(pp[0], buf, 4096) == 4096);
		ASSERT(check_pattern(buf, 4096, MB + 4096, 3));
		close(pp[0]);
		close(pp[1]);
	}

	/* The dma-buf outlives the pool fd and the pool mapping. */
	ASSERT(munmap(p, 8 * MB) == 0);
	close(fd);
	ASSERT(stat_get("pools") == 1);
	ASSERT(check_pattern(d + 64, 4 * MB - 64, MB + 64, 3));

	/* A child gets the dma-buf over a socket and maps it. */
	ASSERT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		int cfd;
		uint8_t *q;

		close(sv[0]);
		close(dfd);
		cfd = recv_fd(sv[1]);
		ASSERT(cfd >= 0);
		q = mmap(NULL, 4 * MB, PROT_READ | PROT_WRITE, MAP_SHARED,
			 cfd, 0);
		ASSERT(q != MAP_FAILED);
		ASSERT(q[5] == 0xa5);
		ASSERT(check_pattern(q + 64, 4 * MB - 64, MB + 64, 3));
		q[4 * MB - 1] = 0x5a;
		_exit(0);
	}
	close(sv[1]);
	ASSERT(send_fd(sv[0], dfd) == 0);
	ASSERT(waitpid(pid, &status, 0) == pid);
	ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sv[0]);
	ASSERT(d[4 * MB - 1] == 0x5a);

	/* The mapping alone keeps the registration. */
	close(dfd);
	ASSERT(stat_get("registrations") == 1);
	ASSERT(munmap(d, 4 * MB) == 0);
	ASSERT(stat_get("registrations") == 0);
	ASSERT(stat_get("pinned_pages") == 0);
	ASSERT(stat_get("registered_bytes") == 0);
}

/* RELEASE is refused while registered and allowed once the dma-buf is gone. */
static void test_reg_release_busy(void)
{
	int fd = pool(WCPOOL_POLICY_WB, 4 * MB), dfd, dfd2;
	uint8_t *p;

	ASSERT(grow(fd, 0, 4 * MB) == 0);
	p = map(fd, 4 * MB, PROT_READ | PROT_WRITE, 0);
	dfd = reg(fd, p + HP - 4096, 8192, WCPOOL_REG_READ);
	ASSERT(dfd >= 0);
	dfd2 = reg(fd, p + HP, 4096, WCPOOL_REG_WRITE | WCPOOL_REG_CLOEXEC);
	ASSERT(dfd2 >= 0);
	ASSERT((fcntl(dfd2, F_GETFD) & FD_CLOEXEC) && !(fcntl(dfd, F_GETFD) & FD_CLOEXEC));
	ASSERT((fcntl(dfd, F_GETFL) & O_ACCMODE) == O_RDONLY);
	ASSERT((fcntl(dfd2, F_GETFL) & O_ACCMODE) == O_RDWR);
	/* READ-only registration: its dma-buf cannot be mapped writable. */
	ASSERT_ERR(mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0),
		  EACCES);
	ASSERT(stat_get("registrations") == 2);
	ASSERT(stat_get("pinned_pages") == 3);
	ASSERT_ERR(release(fd, 0, HP), EBUSY);
	ASSERT_ERR(release(fd, HP, HP), EBUSY);
	close(dfd);
	ASSERT(stat_get("registrations") == 1);
	ASSERT(stat_get("pinned_pages") == 1);
	ASSERT(release(fd, 0, HP) == 0);		/* dfd2 is in the second */
	ASSERT_ERR(release(fd, 0, 4 * MB), EBUSY);
	ASSERT(info(fd).grown_size == HP);
	close(dfd2);
	ASSERT(stat_get("registrations") == 0);
	ASSERT(release(fd, 0, 4 * MB) == 0);
	ASSERT(info(fd).grown_size == 0);
	ASSERT(munmap(p, 4 * MB) == 0);
	close(fd);
}

/* Every bad argument of REGISTER and SEGMENTS, with its errno. */
static void test_reg_bad(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 8 * MB), other, ro, dfd, odfd;
	struct wcpool_register r;
	struct wcpool_segment s[4];
	uint8_t *p, *q, *a, *ropm, *anon, *dm, *dm2, *o;
	uint32_t count;
	uintptr_t x;

	ASSERT(grow(fd, 0, 6 * MB) == 0);	/* 6-8 MiB not grown */
	p = map(fd, 8 * MB, PROT_READ | PROT_WRITE, 0);

	/* Struct size and reserved fields (common rules). */
	r = (struct wcpool_register){
		.size = sizeof(r), .flags = RW, .addr = (uintptr_t)p,
		.length = 4096,
	};
	EXPECT_BAD(fd, WCPOOL_IOC_REGISTER, r, size,
		   WCPOOL_REGISTER_SIZE_VER0 - 8, EINVAL);
	EXPECT_BAD(fd, WCPOOL_IOC_REGISTER, r, reserved0, 1, EINVAL);
	EXPECT_BAD(fd, WCPOOL_IOC_REGISTER, r, reserved[1], 1, EINVAL);

	/* flags */
	EXPECT_ERR(reg(fd, p, 4096, 0), EINVAL);
	EXPECT_ERR(reg(fd, p, 4096, WCPOOL_REG_CLOEXEC), EINVAL);
	EXPECT_ERR(reg(fd, p, 4096, RW | (1U << 3)), EINVAL);
	EXPECT_ERR(reg(fd, p, 4096, RW | (1U << 31)), EINVAL);
	/* length and addr */
	EXPECT_ERR(reg(fd, p, 0, RW), EINVAL);
	EXPECT_ERR(reg(fd, p, 100, RW), EINVAL);
	EXPECT_ERR(reg(fd, p, 4096 + 1, RW), EINVAL);
	EXPECT_ERR(reg(fd, p + 1, 4096, RW), EINVAL);
	EXPECT_ERR(reg(fd, p + 2048, 4096, RW), EINVAL);
	EXPECT_ERR(reg(fd, p, -4096ULL, RW), EOVERFLOW);
	EXPECT_ERR(reg(fd, (void *)-4096ULL, 8192, RW), EOVERFLOW);
	/* align */
	EXPECT_ERR(reg_ioctl(fd, p, 4096, RW, 3, 0, NULL), EINVAL);
	EXPECT_ERR(reg_ioctl(fd, p, 4096, RW, 4096 + 8192, 0, NULL), EINVAL);
	x = (uintptr_t)p + 4096;
	if (x % 8192 == 0)
		x += 4096;
	EXPECT_ERR(reg_ioctl(fd, (void *)x, 4096, RW, 8192, 0, NULL), EINVAL);
	for (x = (uintptr_t)p + 4096; x % (4 * MB) != 2 * MB; x += 4096)
		;
	EXPECT_ERR(reg_ioctl(fd, (void *)x, 4096, RW, 4 * MB, 0, NULL), EINVAL);
	EXPECT_ERR(reg_ioctl(fd, (void *)x, 4096, RW, 1ULL << 63, 0, NULL),
		  EINVAL);
	dfd = reg_ioctl(fd, (void *)x, 4096, RW, 2 * MB, 0, NULL);
	ASSERT(dfd >= 0);
	close(dfd);
	dfd = reg_ioctl(fd, (void *)(x + 4096), 4096, RW, 4096, 0, NULL);
	ASSERT(dfd >= 0);
	close(dfd);
	/* policy */
	EXPECT_ERR(reg_ioctl(fd, p, 4096, RW, 0, WCPOOL_POLICY_COUNT + 1, NULL),
		  EINVAL);
	EXPECT_ERR(reg_ioctl(fd, p, 4096, RW, 0, 100, NULL), EINVAL);
	EXPECT_ERR(reg_ioctl(fd, p, 4096, RW, 0,
			    WCPOOL_REG_POLICY(WCPOOL_POLICY_WB), NULL), EACCES);
	EXPECT_ERR(reg_ioctl(fd, p, 4096, RW, 0,
			    WCPOOL_REG_POLICY(WCPOOL_POLICY_UC), NULL), EACCES);
	dfd = reg_ioctl(fd, p, 4096, RW, 0, WCPOOL_REG_POLICY(WCPOOL_POLICY_WC),
			NULL);
	ASSERT(dfd >= 0);
	close(dfd);

	/* Pages that are not grown; a range crossing the end of the mapping. */
	EXPECT_ERR(reg(fd, p + 6 * MB, 4096, RW), ENXIO);
	EXPECT_ERR(reg(fd, p + 6 * MB - 4096, 8192, RW), ENXIO);
	q = map(fd, 4 * MB, PROT_READ | PROT_WRITE, 0);
	EXPECT_ERR(reg(fd, q + 2 * MB, 4 * MB, RW), ENXIO);
	EXPECT_ERR(reg(fd, q + 4 * MB - 4096, 8192, RW), ENXIO);
	dfd = reg(fd, q + 2 * MB, 2 * MB, RW);
	ASSERT(dfd >= 0);
	close(dfd);

	/*
	 * Adjacent mappings of consecutive offsets (they never merge) take
	 * a range across them; other offsets, or a gap, do not.
	 */
	a = mmap(NULL, 6 * MB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT(a != MAP_FAILED);
	ASSERT(mmap(a, 2 * MB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		   fd, 0) == a);
	ASSERT(mmap(a + 2 * MB, 2 * MB, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_FIXED, fd, 2 * MB) == a + 2 * MB);
	dfd = reg(fd, a + MB, 2 * MB, RW);
	ASSERT(dfd >= 0);
	close(dfd);
	dfd = reg(fd, a + 2 * MB, 2 * MB, RW);
	ASSERT(dfd >= 0);
	close(dfd);
	ASSERT(mmap(a + 2 * MB, 2 * MB, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_FIXED, fd, 0) == a + 2 * MB);
	EXPECT_ERR(reg(fd, a + MB, 2 * MB, RW), ENXIO);
	ASSERT(munmap(a + 2 * MB, 2 * MB) == 0);
	EXPECT_ERR(reg(fd, a + MB, 2 * MB, RW), ENXIO);
	ASSERT(munmap(a, 6 * MB) == 0);

	/* Memory that is not this pool's: anonymous, unmapped, another pool. */
	anon = mmap(NULL, 2 * MB, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT(anon != MAP_FAILED);
	anon[0] = 1;
	EXPECT_ERR(reg(fd, anon, 4096, RW), ENXIO);
	ASSERT(munmap(anon, 2 * MB) == 0);
	EXPECT_ERR(reg(fd, anon, 4096, RW), EFAULT);
	EXPECT_ERR(reg(fd, (void *)4096, 4096, RW), EFAULT);
	other = pool(WCPOOL_POLICY_WC, 2 * MB);
	ASSERT(grow(other, 0, 2 * MB) == 0);
	o = map(other, 2 * MB, PROT_READ | PROT_WRITE, 0);
	EXPECT_ERR(reg(fd, o, 4096, RW), ENXIO);
	odfd = reg(other, o, 4096, RW);
	ASSERT(odfd >= 0);
	EXPECT_ERR(reg(other, p, 4096, RW), ENXIO);

	/* A dma-buf's own mapping is not pool memory. */
	dfd = reg(fd, p, 2 * MB, RW);
	ASSERT(dfd >= 0);
	dm = mmap(NULL, 2 * MB, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
	ASSERT(dm != MAP_FAILED);
	EXPECT_ERR(reg(fd, dm, 4096, RW), ENXIO);

	/* Write access through a read-only mapping; a read-only pool fd. */
	ropm = map(fd, 2 * MB, PROT_READ, 0);
	EXPECT_ERR(reg(fd, ropm, 4096, WCPOOL_REG_WRITE), EACCES);
	EXPECT_ERR(reg(fd, ropm, 4096, RW), EACCES);
	ASSERT(mprotect(ropm, 2 * MB, PROT_NONE) == 0);
	EXPECT_ERR(reg(fd, ropm, 4096, WCPOOL_REG_WRITE), EACCES);
	ASSERT(mprotect(ropm, 2 * MB, PROT_READ) == 0);
	{
		int rd = reg(fd, ropm, 4096, WCPOOL_REG_READ);

		ASSERT(rd >= 0);
		close(rd);
	}
	ro = dup_ro(fd, WCPOOL_DUP_READONLY);
	ASSERT(ro >= 0);
	/* A read-only fd registers for device reads only. */
	EXPECT_ERR(reg(ro, p, 4096, RW), EACCES);
	EXPECT_ERR(reg(ro, p, 4096, WCPOOL_REG_WRITE), EACCES);
	{
		int rd = reg(ro, p, 4096, WCPOOL_REG_READ);

		ASSERT(rd >= 0);
		EXPECT_ERR(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
			       rd, 0), EACCES);
		dm2 = mmap(NULL, 4096, PROT_READ, MAP_SHARED, rd, 0);
		ASSERT(dm2 != MAP_FAILED);
		ASSERT(mprotect(dm2, 4096, PROT_READ | PROT_WRITE) == -1);
		ASSERT(munmap(dm2, 4096) == 0);
		close(rd);
	}
	{
		uint8_t *rom = map(ro, 2 * MB, PROT_READ, 0);
		int rd;

		EXPECT_ERR(reg(fd, rom, 4096, RW), EACCES);
		rd = reg(fd, rom, 4096, WCPOOL_REG_READ);
		ASSERT(rd >= 0);
		close(rd);
		ASSERT(munmap(rom, 2 * MB) == 0);
	}

	/* SEGMENTS: any pool fd of the same pool, only our dma-bufs. */
	count = 4;
	ASSERT(segments(ro, dfd, s, &count) == 0 && count == 1);
	ASSERT(s[0].offset == 0 && s[0].length == 2 * MB);
	count = 4;
	EXPECT_ERR(segments(fd, odfd, s, &count), EINVAL);
	EXPECT_ERR(segments(other, dfd, s, &count), EINVAL);
	EXPECT_ERR(segments(fd, -1, s, &count), EBADF);
	EXPECT_ERR(segments(fd, 1000, s, &count), EBADF);
	EXPECT_ERR(segments(fd, fd, s, &count), EINVAL);
	EXPECT_ERR(segments(fd, dfd, (void *)8, &count), EFAULT);
	{
		struct wcpool_segments sq = {
			.size = sizeof(sq), .dmabuf = dfd,
		};

		EXPECT_BAD(fd, WCPOOL_IOC_SEGMENTS, sq, flags, 1, EINVAL);
		EXPECT_BAD(fd, WCPOOL_IOC_SEGMENTS, sq, reserved[0], 1, EINVAL);
		EXPECT_BAD(fd, WCPOOL_IOC_SEGMENTS, sq, size, 8, EINVAL);
	}
	/* Neither ioctl exists on /dev/wcpool. */
	{
		int dev = dev_open();

		EXPECT_ERR(reg(dev, p, 4096, RW), ENOTTY);
		EXPECT_ERR(segments(dev, dfd, s, &count), ENOTTY);
		close(dev);
	}

	ASSERT(stat_get("registrations") == 2);
	close(ro);
	close(odfd);
	close(dfd);
	ASSERT(stat_get("registrations") == 1);	/* dm still maps it */
	ASSERT(munmap(dm, 2 * MB) == 0);
	ASSERT(stat_get("registrations") == 0);
	ASSERT(munmap(ropm, 2 * MB) == 0);
	ASSERT(munmap(o, 2 * MB) == 0);
	ASSERT(munmap(a, 4 * MB) == 0);
	ASSERT(munmap(q, 4 * MB) == 0);
	ASSERT(munmap(p, 8 * MB) == 0);
	close(other);
	close(fd);
}

/* Process death with registrations, mappings of them and pins: all freed. */
static void test_reg_killed(void)
{
	int status, i;
	pid_t pid;

	for (i = 0; i < 3; i++) {
		pid = fork();
		ASSERT(pid >= 0);
		if (pid == 0) {
			int fd = pool(i == 1 ? WCPOOL_POLICY_UC : WCPOOL_POLICY_WB,
				      4 * MB), dfd;
			uint8_t *p, *d;

			ASSERT(grow(fd, 0, 4 * MB) == 0);
			p = map(fd, 4 * MB, PROT_READ | PROT_WRITE, 0);
			dfd = reg(fd, p, 4 * MB, RW);
			ASSERT(dfd >= 0);
			if (i == 2) {
				d = mmap(NULL, 4 * MB, PROT_READ | PROT_WRITE,
					 MAP_SHARED, dfd, 0);
				ASSERT(d != MAP_FAILED);
				d[0] = 1;
				ASSERT(p[0] == 1);
			}
			if (i == 0)
				close(fd);
			kill(getpid(), SIGKILL);
			_exit(1);
		}
		ASSERT(waitpid(pid, &status, 0) == pid);
		ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		ASSERT(stat_get("registrations") == 0);
	}
}

/* REGISTER and its dma-buf release race with RELEASE and GROW. */
struct reg_race {
	int fd;
	uint8_t *p;
	volatile bool stop;
	unsigned long ok, busy;
};

static void *reg_race_thread(void *data)
{
	struct reg_race *r = data;
	unsigned int seed = 1;
	int dfd;

	while (!r->stop) {
		size_t off = (size_t)(rand_r(&seed) % 1024) * 4096;

		dfd = reg(r->fd, r->p + off, 4 * MB - off, RW);
		if (dfd >= 0) {
			r->ok++;
			close(dfd);
		} else {
			ASSERT(errno == ENXIO);
		}
	}
	return NULL;
}

static void test_reg_race_release(void)
{
	struct reg_race r = { .fd = pool(WCPOOL_POLICY_WC, 4 * MB) };
	pthread_t t;
	int i;

	ASSERT(grow(r.fd, 0, 4 * MB) == 0);
	r.p = map(r.fd, 4 * MB, PROT_READ | PROT_WRITE, 0);
	ASSERT(pthread_create(&t, NULL, reg_race_thread, &r) == 0);
	for (i = 0; i < 400; i++) {
		uint64_t off = (uint64_t)(i & 1) * HP;

		if (release(r.fd, off, HP)) {
			ASSERT(errno == EBUSY);
			r.busy++;
		} else {
			ASSERT(grow(r.fd, off, HP) == 0);
		}
	}
	r.stop = true;
	ASSERT(pthread_join(t, NULL) == 0);
	printf("  reg_race_release: %lu registrations, %lu RELEASE refused\n",
	       r.ok, r.busy);
	ASSERT(stat_get("registrations") == 0);
	ASSERT(munmap(r.p, 4 * MB) == 0);
	close(r.fd);
}

const struct test reg_tests[] = {
	{ "reg_basic", test_reg_basic },
	{ "reg_release_busy", test_reg_release_busy },
	{ "reg_bad", test_reg_bad },
	{ "reg_killed", test_reg_killed },
	{ "reg_race_release", test_reg_race_release },
	{ NULL }
};
