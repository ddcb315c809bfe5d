// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool-test: REGISTER moves a range's backing to pages that meet the
 * device's constraints (kernel/wcpool_move.c): max_segments 1 on a pool
 * whose pages are scattered (one run afterwards where the kernel makes
 * runs, 6.12; ERANGE and nothing changed on 6.1), addr_bits below the
 * pages (both kernels), ranges pinned by a registration, by GUP (vmsplice
 * references, V4L2 USERPTR pins) that do not move (ERANGE), the move's
 * allocations failing (ENOMEM, nothing changed), and moves racing with
 * writers, munmap, fork, unregister and pool destroy.
 */
#include "wcpool-test.h"

#define FRAME		12441600ULL		/* 4K NV12 */
#define FRAME_LEN	((FRAME + 4095) & ~4095ULL)

/* Does this kernel make contiguous runs (6.12)? */
static bool runs_ok(void)
{
	struct wcpool_create c = {
		.size = sizeof(c), .max_size = 4 * MB, .contig_size = 4 * MB,
	};
	int dev = dev_open(), ret = ioctl(dev, WCPOOL_IOC_CREATE, &c);

	close(dev);
	if (ret) {
		ASSERT(errno == EOPNOTSUPP);
		return false;
	}
	close(c.fd);
	return true;
}

/* Every byte of [p, p + len) set from its pool offset and @seed. */
static void fill_bytes(uint8_t *p, size_t len, size_t start, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(((start + i) * 131 + (start + i) / 4096 + seed));
}

static size_t bad_bytes(const uint8_t *p, size_t len, size_t start,
			unsigned int seed)
{
	size_t i, bad = 0;

	for (i = 0; i < len; i++)
		bad += p[i] != (uint8_t)(((start + i) * 131 + (start + i) / 4096 +
					  seed));
	return bad;
}

/*
 * The largest addr_bits from 24 to 28 that the 2 MiB page at @pa does not
 * meet (ASSERTs there is one: the page lies above 16 MiB).
 */
static uint32_t limit_below(uint64_t pa)
{
	uint32_t bits = 28;

	while (bits > 24 && pa + HP <= 1ULL << bits)
		bits--;
	ASSERT(pa + HP > 1ULL << bits);
	return bits;
}

/* REGISTER with constraints; the dma-buf fd or -1 with errno. */
static int reg_fit(int fd, void *addr, uint64_t len, uint32_t bits,
		   uint32_t max_segs, uint32_t *nsegs)
{
	struct wcpool_register r = {
		.size = sizeof(r), .flags = RW, .addr = (uintptr_t)addr,
		.length = len, .addr_bits = bits, .max_segments = max_segs,
	};

	if (ioctl(fd, WCPOOL_IOC_REGISTER, &r))
		return -1;
	if (nsegs)
		*nsegs = r.nr_segments;
	return r.fd;
}

/*
 * A pool of @n pages whose pages are scattered: grown one by one from the
 * last offset down, interleaved with the pages of a second pool, so that
 * no two adjacent offsets lie next to each other in physical memory (the
 * page allocator hands out ascending addresses).  *@other: the second
 * pool, to close after the test.
 */
static int scattered_pool(uint32_t policy, unsigned int n, int *other)
{
	int fd = pool(policy, (uint64_t)n * HP);
	unsigned int i;

	*other = pool(policy, (uint64_t)n * HP);
	/* Fresh pages, not recycled ones in any order. */
	write_file("/proc/sys/vm/drop_caches", "2");
	for (i = n; i-- > 0;) {
		ASSERT(grow(fd, (uint64_t)i * HP, HP) == 0);
		ASSERT(grow(*other, (uint64_t)i * HP, HP) == 0);
	}
	return fd;
}

/*
 * The 4K NV12 frame with max_segments 1, at 1 MiB + 4 KiB into a pool of
 * 8 scattered pages (7 touched): where the kernel makes runs, REGISTER
 * moves the 7 pages into one run and succeeds with one segment; the frame
 * and its neighbours in the same huge pages keep every byte at the same
 * user address, the user's PTEs now point at consecutive physical pages.
 * Without runs (6.1): ERANGE, nothing moved.
 */
static void test_move_frame(void)
{
	const uint64_t len = 8 * HP, at = MB + 4096;
	long moves = stat_get("moves"), moved = stat_get("pages_moved");
	struct wcpool_segment seg[16];
	uint64_t before[8], pa, j;
	uint32_t n, count;
	int fd, other, dfd;
	uint8_t *p;
	bool runs = runs_ok();
	double t0;

	fd = scattered_pool(WCPOOL_POLICY_WC, 8, &other);
	p = map(fd, len, PROT_READ | PROT_WRITE, 0);
	fill_bytes(p, len, 0, 1);
	for (j = 0; j < 8; j++)
		before[j] = phys_addr(p + j * HP);
	/* Scattered: without constraints the frame has one run per page. */
	dfd = reg_fit(fd, p + at, FRAME_LEN, 0, 0, &n);
	ASSERT(dfd >= 0);
	close(dfd);
	printf("  move_frame: scattered pool, the frame in %u segments\n", n);
	ASSERT(n > 1);

	t0 = now_s();
	dfd = reg_fit(fd, p + at, FRAME_LEN, 0, 1, &n);
	t0 = now_s() - t0;
	if (!runs) {
		EXPECT(dfd == -1 && errno == ERANGE);
		EXPECT(stat_get("moves") == moves);
		for (j = 0; j < 8; j++)
			EXPECT(phys_addr(p + j * HP) == before[j]);
		EXPECT(bad_bytes(p, len, 0, 1) == 0);
		printf("  move_frame: no contiguous runs on this kernel: ERANGE, nothing moved\n");
		goto out;
	}
	ASSERT(dfd >= 0);
	EXPECT(n == 1);
	count = 16;
	ASSERT(segments(fd, dfd, seg, &count) == 0);
	EXPECT(count == 1 && seg[0].offset == 0 && seg[0].length == FRAME_LEN);
	EXPECT(stat_get("moves") == moves + 1);
	EXPECT(stat_get("pages_moved") == moved + 7);
	/* Same bytes at the same addresses, the frame's and its neighbours'. */
	EXPECT(bad_bytes(p, len, 0, 1) == 0);
	/* The 7 pages touched now lie in one run; the 8th did not move. */
	pa = phys_addr(p);
	for (j = 1; j < 7; j++)
		EXPECT(phys_addr(p + j * HP) == pa + j * HP);
	EXPECT(phys_addr(p + 7 * HP) == before[7]);
	for (j = 0; j < 7; j++)
		EXPECT(phys_addr(p + j * HP) != before[j]);
	/* The dma-buf sees the same bytes as the pool mapping. */
	{
		uint8_t *d = mmap(NULL, FRAME_LEN, PROT_READ, MAP_SHARED,
				  dfd, 0);

		ASSERT(d != MAP_FAILED);
		EXPECT(bad_bytes(d, FRAME_LEN, at, 1) == 0);
		munmap(d, FRAME_LEN);
	}
	/* Registered, it is pinned: a second move of it cannot happen. */
	EXPECT_ERR(reg_fit(fd, p + at, HP, 20 + 4, 0, NULL), ERANGE);
	close(dfd);
	printf("  move_frame: moved 7 pages into one run at %#llx: 1 segment; REGISTER took %.0f ms\n",
	       (unsigned long long)pa, t0 * 1e3);
out:
	munmap(p, len);
	close(fd);
	close(other);
}

/*
 * addr_bits at most 28 on pages one of which lies above: they move below it
 * (both kernels: ZONE_DMA or a run below the limit), neighbours keep
 * their bytes.  While another registration pins one of the pages, or a
 * pipe holds a reference to one (vmsplice), nothing moves: ERANGE.
 */
static void test_move_addr(void)
{
	const uint64_t len = 4 * HP, at = HP + 8192, rlen = 2 * HP;
	long moves = stat_get("moves");
	struct iovec iov;
	long moved = stat_get("pages_moved");
	uint64_t j, top, before[4];
	int fd, dfd, pin, pp[2];
	uint32_t n, bits;
	double t0;
	uint8_t *p;

	fd = pool(WCPOOL_POLICY_WC, len);
	write_file("/proc/sys/vm/drop_caches", "2");
	ASSERT(grow(fd, 0, len) == 0);
	p = map(fd, len, PROT_READ | PROT_WRITE, 0);
	fill_bytes(p, len, 0, 2);
	for (j = 0; j < 4; j++)
		before[j] = phys_addr(p + j * HP);
	/* The range touches pages 1, 2 and 3: a limit the top one breaks. */
	top = 1;
	for (j = 2; j < 4; j++)
		top = before[j] > before[top] ? j : top;
	bits = limit_below(before[top]);
	/* Pinned by a registration of page 3: nothing moves. */
	pin = reg_fit(fd, p + 3 * HP + 4096, 4096, 0, 0, NULL);
	ASSERT(pin >= 0);
	EXPECT_ERR(reg_fit(fd, p + at, rlen, bits, 0, NULL), ERANGE);
	close(pin);
	/* A pipe holds a reference to the page that must move. */
	ASSERT(pipe(pp) == 0);
	iov = (struct iovec){ .iov_base = p + top * HP, .iov_len = 4096 };
	ASSERT(vmsplice(pp[1], &iov, 1, 0) == 4096);
	EXPECT_ERR(reg_fit(fd, p + at, rlen, bits, 0, NULL), ERANGE);
	close(pp[0]);
	close(pp[1]);
	EXPECT(stat_get("moves") == moves);
	for (j = 0; j < 4; j++)
		EXPECT(phys_addr(p + j * HP) == before[j]);
	EXPECT(bad_bytes(p, len, 0, 2) == 0);

	/* Nothing pins them now: they move. */
	t0 = now_s();
	dfd = reg_fit(fd, p + at, rlen, bits, 0, &n);
	t0 = now_s() - t0;
	ASSERT(dfd >= 0);
	EXPECT(stat_get("moves") == moves + 1);
	for (j = 1; j < 4; j++)
		EXPECT(phys_addr(p + j * HP) + HP <= 1ULL << bits);
	EXPECT(phys_addr(p) == before[0]);
	EXPECT(bad_bytes(p, len, 0, 2) == 0);
	printf("  move_addr: addr_bits %u: %ld pages moved in %.0f ms: %#llx %#llx %#llx now at %#llx %#llx %#llx\n",
	       bits, stat_get("pages_moved") - moved, t0 * 1e3,
	       (unsigned long long)before[1],
	       (unsigned long long)before[2],
	       (unsigned long long)before[3], (unsigned long long)phys_addr(p + HP),
	       (unsigned long long)phys_addr(p + 2 * HP),
	       (unsigned long long)phys_addr(p + 3 * HP));
	/* The new pages are written and read through the same mapping. */
	fill_bytes(p, len, 0, 3);
	EXPECT(bad_bytes(p, len, 0, 3) == 0);
	close(dfd);
	munmap(p, len);
	close(fd);
}

/*
 * Pages that V4L2 USERPTR pins (pin_user_pages, FOLL_LONGTERM) do not
 * move: ERANGE, and the pinned buffer still has its bytes.
 */
static int vivid_open(void)
{
	struct v4l2_capability cap;
	char path[32];
	int i, fd;

	for (i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), "/dev/video%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!ioctl(fd, VIDIOC_QUERYCAP, &cap) &&
		    !strcmp((char *)cap.driver, "vivid") &&
		    (cap.device_caps & V4L2_CAP_VIDEO_CAPTURE))
			return fd;
		close(fd);
	}
	return -1;
}

static void test_move_gup_pinned(void)
{
	enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	struct v4l2_format fmt = { .type = type };
	struct v4l2_requestbuffers rb = {
		.count = 1, .type = type, .memory = V4L2_MEMORY_USERPTR,
	};
	long moves = stat_get("moves");
	struct v4l2_buffer b = { 0 };
	int v = vivid_open(), fd;
	uint64_t len, j;
	uint8_t *p;

	ASSERT(v >= 0);
	ASSERT(ioctl(v, VIDIOC_G_FMT, &fmt) == 0);
	len = (fmt.fmt.pix.sizeimage + HP - 1) & ~(HP - 1);
	ASSERT(ioctl(v, VIDIOC_REQBUFS, &rb) == 0);
	fd = pool(WCPOOL_POLICY_WB, len);
	ASSERT(grow(fd, 0, len) == 0);
	p = map(fd, len, PROT_READ | PROT_WRITE, 0);
	fill_bytes(p, len, 0, 4);
	b.type = type;
	b.memory = V4L2_MEMORY_USERPTR;
	b.m.userptr = (unsigned long)p;
	b.length = fmt.fmt.pix.sizeimage;
	ASSERT(ioctl(v, VIDIOC_QBUF, &b) == 0);
	ASSERT(stat_get("gup_pinned") == (long)(len / HP));
	/* Whatever lies where: a limit below every page must move them. */
	for (j = 0; j < len; j += HP)
		ASSERT(phys_addr(p + j) + HP > 1ULL << 24);
	EXPECT_ERR(reg_fit(fd, p, len, 24, 0, NULL), ERANGE);
	EXPECT(stat_get("moves") == moves);
	EXPECT(bad_bytes(p, len, 0, 4) == 0);
	rb.count = 0;
	ASSERT(ioctl(v, VIDIOC_REQBUFS, &rb) == 0);
	close(v);
	munmap(p, len);
	close(fd);
}

/*
 * The move's allocations fail (the kprobe module fails alloc_pages and
 * alloc_contig_range every time): ENOMEM, the pages and bytes as they
 * were, and the next REGISTER moves them.
 */
static void test_move_faults(void)
{
	const uint64_t len = 2 * HP;
	long moves = stat_get("moves");
	uint64_t before[2], j;
	uint32_t bits;
	int fd, dfd;
	uint8_t *p;

	/*
	 * The debug kernel (allnoconfig + debug.config, no NUMA) has
	 * alloc_pages() inline: nothing to probe.  Debian's 6.1 and 6.12
	 * have it, and run this test in run-suite.
	 */
	if (!kernel_has("alloc_pages")) {
		printf("  move_faults: no alloc_pages() function in this kernel to fail\n");
		return;
	}
	fd = pool(WCPOOL_POLICY_UC, len);
	write_file("/proc/sys/vm/drop_caches", "2");
	ASSERT(grow(fd, 0, len) == 0);
	p = map(fd, len, PROT_READ | PROT_WRITE, 0);
	fill_bytes(p, len, 0, 5);
	for (j = 0; j < 2; j++)
		before[j] = phys_addr(p + j * HP);
	bits = limit_below(before[0] > before[1] ? before[0] : before[1]);
	/* No recycled page below the limit to take instead. */
	write_file("/proc/sys/vm/drop_caches", "2");
	/*
	 * Kernels without alloc_contig_range() have none to probe, and the
	 * module refuses to load for a call it cannot find.
	 */
	ASSERT(system(kernel_has("alloc_contig_range") ?
		      "insmod /wcpool/wcpool_faultinj.ko call=alloc_pages,alloc_contig_range every=1" :
		      "insmod /wcpool/wcpool_faultinj.ko call=alloc_pages every=1") == 0);
	errno = 0;
	dfd = reg_fit(fd, p, len, bits, 0, NULL);
	EXPECT(dfd == -1 && errno == ENOMEM);
	ASSERT(system("rmmod wcpool_faultinj") == 0);
	EXPECT(stat_get("moves") == moves);
	for (j = 0; j < 2; j++)
		EXPECT(phys_addr(p + j * HP) == before[j]);
	EXPECT(bad_bytes(p, len, 0, 5) == 0);
	dfd = reg_fit(fd, p, len, bits, 0, NULL);
	EXPECT(dfd >= 0);
	EXPECT(stat_get("moves") == moves + 1);
	EXPECT(bad_bytes(p, len, 0, 5) == 0);
	close(dfd);
	munmap(p, len);
	close(fd);
}

/* Shared by the racing threads. */
struct race {
	int fd;
	uint8_t *p;		/* the pool's mapping */
	uint8_t *page;		/* the page being moved */
	volatile bool stop;	/* the writer's */
	volatile bool done;	/* the forker's and the registrar's */
	unsigned long writes, forks;
};

/*
 * Writes a counter into one word of every 4 KiB of the page throughout,
 * and reads each back: a write that went to the old page after it was
 * copied would be lost when the move swaps pages.
 */
static void *race_writer(void *arg)
{
	struct race *r = arg;
	volatile uint32_t *w;
	uint32_t v = 1;
	size_t i;

	while (!r->stop) {
		for (i = 0; i < HP; i += 4096) {
			w = (volatile uint32_t *)(r->page + i + 64);
			*w = v;
		}
		for (i = 0; i < HP; i += 4096) {
			w = (volatile uint32_t *)(r->page + i + 64);
			ASSERT(*w == v);
		}
		v++;
		r->writes++;
	}
	return NULL;
}

/* Forks children that write and read the inherited mapping, and maps and
 * unmaps a second mapping of the pool, throughout. */
static void *race_forker(void *arg)
{
	struct race *r = arg;
	int status;
	uint8_t *q;
	pid_t pid;

	while (!r->done) {
		pid = fork();
		ASSERT(pid >= 0);
		if (!pid) {
			/* Page 0 stays; the others are released. */
			volatile uint8_t *c = r->p + 128;

			*c = 7;
			_exit(*c == 7 ? 0 : 1);
		}
		ASSERT(waitpid(pid, &status, 0) == pid);
		ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		q = map(r->fd, 4 * HP, PROT_READ, 0);
		(void)q[4096];
		munmap(q, 4 * HP);
		r->forks++;
	}
	return NULL;
}

#define RACE_ROUNDS	16

/*
 * Each round grows a fresh page, moves it below a limit it breaks while a thread
 * writes it (no write lost) and another forks children that write it and
 * maps and unmaps the pool; every 4th round a registration of the page
 * is held first (ERANGE) and closed; then the page is released.  At the
 * end a thread keeps registering while the pool fd is closed and the
 * mapping unmapped.  No WARN (panic_on_warn), counters back to 0 (the
 * harness).
 */
static void *race_registrar(void *arg)
{
	struct race *r = arg;
	int d;

	while (!r->done) {
		d = reg_fit(r->fd, r->p + 4096, HP - 8192, 28, 0, NULL);
		if (d >= 0) {
			close(d);
			continue;
		}
		ASSERT(errno == EBADF || errno == EFAULT || errno == ENXIO ||
		       errno == ENOMEM || errno == ERANGE);
		if (errno == EBADF || errno == EFAULT)
			break;
	}
	return NULL;
}

static void test_move_race(void)
{
	long moves = stat_get("moves");
	unsigned int round, ok = 0, busy = 0;
	unsigned long writes, forks;
	struct race r = { 0 };
	uint32_t bits;
	pthread_t w, f, g;
	int dfd, hold;

	r.fd = pool(WCPOOL_POLICY_WC, RACE_ROUNDS * HP);
	r.p = map(r.fd, RACE_ROUNDS * HP, PROT_READ | PROT_WRITE, 0);
	r.page = r.p;
	write_file("/proc/sys/vm/drop_caches", "2");
	ASSERT(grow(r.fd, 0, HP) == 0);
	ASSERT(pthread_create(&f, NULL, race_forker, &r) == 0);
	for (round = 0; round < RACE_ROUNDS; round++) {
		r.page = r.p + round * HP;
		/* A fresh page, not one a move put low and released. */
		write_file("/proc/sys/vm/drop_caches", "2");
		if (round)
			ASSERT(grow(r.fd, round * HP, HP) == 0);
		/* A limit this fresh page does not meet: it must move. */
		bits = limit_below(phys_addr(r.page));
		r.stop = false;
		writes = r.writes;
		forks = r.forks;
		ASSERT(pthread_create(&w, NULL, race_writer, &r) == 0);
		/* Writing and forking when the move starts (no timing). */
		while (r.writes < writes + 2 || r.forks < forks + 1)
			sched_yield();
		if (round % 4 == 3) {
			hold = reg_fit(r.fd, r.page + 5 * 4096, 4096, 0, 0,
				       NULL);
			ASSERT(hold >= 0);
			EXPECT_ERR(reg_fit(r.fd, r.page + 4096, HP - 8192,
					   bits, 0, NULL), ERANGE);
			close(hold);
			/* A child forked meanwhile holds it until it exits. */
			forks = r.forks;
			while (r.forks < forks + 1)
				sched_yield();
		}
		dfd = reg_fit(r.fd, r.page + 4096, HP - 8192, bits, 0, NULL);
		if (dfd >= 0) {
			ok++;
			close(dfd);
		} else {
			/*
			 * 6.1: ZONE_DMA (16 MiB) may have no page free;
			 * ERANGE: a reference the race itself took at that
			 * moment (a fork copying the mapping) held the page.
			 */
			EXPECT(errno == ENOMEM || errno == ERANGE);
			busy++;
		}
		r.stop = true;
		ASSERT(pthread_join(w, NULL) == 0);
		/*
		 * A child forked while a registration's fd was open holds a
		 * copy of it (its dma-buf pins the page) until it exits:
		 * wait for the fork in flight to end.
		 */
		forks = r.forks;
		while (r.forks < forks + 1)
			sched_yield();
		if (round) {
			r.page = r.p;
			ASSERT(release(r.fd, round * HP, HP) == 0);
		}
	}
	r.done = true;
	ASSERT(pthread_join(f, NULL) == 0);
	printf("  move_race: %u registrations moved, %u not (ENOMEM or ERANGE), %ld moves, %lu write rounds, %lu forks\n",
	       ok, busy, stat_get("moves") - moves, r.writes, r.forks);
	EXPECT(ok > 0);
	EXPECT(stat_get("moves") - moves == ok);

	/* Close and unmap while a thread registers (and moves). */
	ASSERT(release(r.fd, 0, HP) == 0);
	ASSERT(grow(r.fd, 0, HP) == 0);
	r.done = false;
	ASSERT(pthread_create(&g, NULL, race_registrar, &r) == 0);
	munmap(r.p, RACE_ROUNDS * HP);
	close(r.fd);
	r.done = true;
	ASSERT(pthread_join(g, NULL) == 0);
}

const struct test move_tests[] = {
	{ "move_frame", test_move_frame },
	{ "move_addr", test_move_addr },
	{ "move_gup_pinned", test_move_gup_pinned },
	{ "move_faults", test_move_faults },
	{ "move_race", test_move_race },
	{ NULL, NULL },
};
