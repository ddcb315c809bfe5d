// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool-test: memory that fits a device: pools below 2^addr_bits (every
 * page's physical address read from /proc/self/pagemap), physically
 * contiguous runs (contig_size), the impossible requests that fail at
 * once, bad input, and alloc_contig_range() failing under fault
 * injection.  Contiguous runs need a kernel whose alloc_contig_range()
 * makes compound pages (6.12): on 6.1 CREATE with contig_size must fail
 * with EOPNOTSUPP, and the tests check that instead.
 */
#include "wcpool-test.h"

#define PM_PFN_MASK	((1ULL << 55) - 1)
#define PM_PRESENT	(1ULL << 63)

/* A pool with CREATE's VER1 fields; -1 with errno on failure. */
static int fit_pool(uint32_t flags, uint64_t max, uint32_t bits,
		    uint64_t contig)
{
	struct wcpool_create c = {
		.size = sizeof(c), .flags = flags, .max_size = max,
		.addr_bits = bits, .contig_size = contig,
	};
	int dev = dev_open(), ret, err;

	ret = ioctl(dev, WCPOOL_IOC_CREATE, &c);
	err = errno;
	close(dev);
	errno = err;
	return ret ? -1 : c.fd;
}

/* Does this kernel make contiguous runs (CREATE with contig_size)? */
static bool contig_ok(void)
{
	int fd = fit_pool(0, 4 * MB, 0, 4 * MB);

	if (fd < 0) {
		ASSERT(errno == EOPNOTSUPP);
		return false;
	}
	close(fd);
	return true;
}

/*
 * The physical address of every 4 KiB page of [p, p + len), which this
 * process has touched: root reads PFNs from pagemap.
 */
static uint64_t *phys_of(const void *p, size_t len)
{
	size_t n = len / 4096, i;
	uint64_t *pm = calloc(n, sizeof(*pm));
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	ASSERT(pm && fd >= 0);
	ASSERT(pread(fd, pm, n * sizeof(*pm),
		     (uintptr_t)p / 4096 * sizeof(*pm)) ==
	       (ssize_t)(n * sizeof(*pm)));
	close(fd);
	for (i = 0; i < n; i++) {
		ASSERT(pm[i] & PM_PRESENT);
		ASSERT(pm[i] & PM_PFN_MASK);
		pm[i] = (pm[i] & PM_PFN_MASK) * 4096;
	}
	return pm;
}

/* Map @len bytes of @fd, touch each page, return their addresses. */
static uint64_t *touched_phys(int fd, size_t len, uint8_t **pp)
{
	volatile uint8_t *p = map(fd, len, PROT_READ | PROT_WRITE, 0);
	size_t i;

	for (i = 0; i < len; i += 4096)
		p[i] = (uint8_t)(i >> 12);
	*pp = (uint8_t *)p;
	return phys_of((void *)p, len);
}

/*
 * Pools below 2^24, 2^28, 2^30, 2^32 and 2^36: every 4 KiB page of every
 * grown huge page lies below the limit, INFO reports it, and the pages
 * are zero when they arrive.  24 bits is ZONE_DMA (16 MiB in all: two
 * pages); 28 and 30 bits come from alloc_contig_range() where the kernel
 * makes compound pages with it, else from ZONE_DMA (two pages too).  The
 * recycle pools are emptied first (drop_caches runs the shrinker), so
 * the pages are new ones from those paths.
 */
static void test_fit_addr_limits(void)
{
	static const uint32_t bits[] = { 24, 28, 30, 32, 36 };
	bool contig = contig_ok();
	struct wcpool_info in;
	uint64_t *pa, len, top;
	unsigned int i;
	uint8_t *p;
	size_t j;
	int fd;

	for (i = 0; i < ARRAY_SIZE(bits); i++) {
		len = bits[i] == 24 || (bits[i] < 32 && !contig) ? 4 * MB :
								   16 * MB;
		/* Fresh pages, not recycled ones that happen to fit. */
		write_file("/proc/sys/vm/drop_caches", "2");
		ASSERT(stat_get("recycle_wc") == 0);
		fd = fit_pool(0, len, bits[i], 0);
		ASSERT(fd >= 0);
		in = (struct wcpool_info){ .size = sizeof(in) };
		ASSERT(ioctl(fd, WCPOOL_IOC_INFO, &in) == 0);
		EXPECT(in.addr_bits == bits[i]);
		EXPECT(!!(in.flags & WCPOOL_INFO_DMA32) == (bits[i] == 32));
		EXPECT(in.contig_size == 0);
		ASSERT(grow(fd, 0, len) == 0);
		p = map(fd, len, PROT_READ, 0);
		EXPECT(all_zero(p, len));
		munmap(p, len);
		pa = touched_phys(fd, len, &p);
		top = 0;
		for (j = 0; j < len / 4096; j++) {
			EXPECT(pa[j] + 4096 <= 1ULL << bits[i]);
			top = pa[j] > top ? pa[j] : top;
		}
		printf("  addr_bits %u: %llu MiB, highest page at %#llx\n",
		       bits[i], (unsigned long long)(len / MB),
		       (unsigned long long)top);
		free(pa);
		munmap(p, len);
		close(fd);
	}
}

/*
 * A request the RAM below the limit can never hold fails with ENOMEM at
 * once: nothing taken from the page allocator, nothing grown.  24 bits:
 * more than 16 MiB; a contiguous run as long as all of the address space
 * below 2^28.  (Runs larger than the module limit, a quarter of the
 * guest's RAM, fail with ENOSPC before that, as any GROW.)
 */
static void test_fit_impossible(void)
{
	long allocated = stat_get("allocated"), runs = stat_get("contig_runs");
	struct wcpool_info in = { .size = sizeof(in) };
	int fd;

	fd = fit_pool(0, 32 * MB, 24, 0);
	ASSERT(fd >= 0);
	EXPECT_ERR(grow(fd, 0, 32 * MB), ENOMEM);
	ASSERT(ioctl(fd, WCPOOL_IOC_INFO, &in) == 0);
	EXPECT(in.grown_size == 0);
	close(fd);
	EXPECT(stat_get("allocated") == allocated);
	if (!contig_ok())
		return;
	/* 256 MiB in one run below 2^28: the first MiB is no RAM. */
	fd = fit_pool(0, 256 * MB, 28, 256 * MB);
	ASSERT(fd >= 0);
	EXPECT_ERR(grow(fd, 0, 256 * MB), ENOMEM);
	close(fd);
	EXPECT(stat_get("allocated") == allocated);
	EXPECT(stat_get("contig_runs") == runs);
}

/* CREATE's and INFO's new fields: every bad value has its errno. */
static void test_fit_bad_input(void)
{
	struct wcpool_create good = {
		.size = sizeof(good), .max_size = 4 * MB,
	};
	struct wcpool_info in = { .size = sizeof(in) };
	int dev = dev_open(), fd;
	bool contig = contig_ok();

	EXPECT_BAD(dev, WCPOOL_IOC_CREATE, good, addr_bits, 1, EINVAL);
	EXPECT_BAD(dev, WCPOOL_IOC_CREATE, good, addr_bits, 23, EINVAL);
	EXPECT_BAD(dev, WCPOOL_IOC_CREATE, good, addr_bits, 65, EINVAL);
	EXPECT_BAD(dev, WCPOOL_IOC_CREATE, good, addr_bits, ~0u, EINVAL);
	EXPECT_BAD(dev, WCPOOL_IOC_CREATE, good, reserved1, 1, EINVAL);
	EXPECT_BAD(dev, WCPOOL_IOC_CREATE, good, flags, 1u << 2, EINVAL);
	EXPECT_BAD(dev, WCPOOL_IOC_CREATE, good, flags, 1u << 31, EINVAL);
	EXPECT_BAD(dev, WCPOOL_IOC_CREATE, good, contig_size, 4096, EINVAL);
	EXPECT_BAD(dev, WCPOOL_IOC_CREATE, good, contig_size, 3 * MB, EINVAL);
	/* max_size 4 MiB is no multiple of 8 MiB runs. */
	EXPECT_BAD(dev, WCPOOL_IOC_CREATE, good, contig_size, 8 * MB, EINVAL);
	good.max_size = 2048 * MB;
	EXPECT_BAD(dev, WCPOOL_IOC_CREATE, good, contig_size, 2048 * MB,
		   EINVAL);
	good.max_size = 4 * MB;
	/* DMA32 is 32 bits: with another limit it contradicts itself. */
	good.flags = WCPOOL_CREATE_DMA32;
	EXPECT_BAD(dev, WCPOOL_IOC_CREATE, good, addr_bits, 28, EINVAL);
	fd = fit_pool(WCPOOL_CREATE_DMA32, 4 * MB, 32, 0);
	ASSERT(fd >= 0);
	ASSERT(ioctl(fd, WCPOOL_IOC_INFO, &in) == 0);
	EXPECT(in.addr_bits == 32 && (in.flags & WCPOOL_INFO_DMA32));
	/* INFO's new fields are output only. */
	in = (struct wcpool_info){ .size = sizeof(in), .addr_bits = 1 };
	EXPECT_ERR(ioctl(fd, WCPOOL_IOC_INFO, &in), EINVAL);
	in = (struct wcpool_info){ .size = sizeof(in), .contig_size = 1 };
	EXPECT_ERR(ioctl(fd, WCPOOL_IOC_INFO, &in), EINVAL);
	close(fd);
	/* 0 is no limit, 64 a limit every page meets. */
	fd = fit_pool(0, 4 * MB, 64, 0);
	ASSERT(fd >= 0);
	EXPECT(grow(fd, 0, 4 * MB) == 0);
	close(fd);
	/* A caller that knows only VER0 gets an unlimited pool. */
	good = (struct wcpool_create){
		.size = WCPOOL_CREATE_SIZE_VER0, .max_size = 4 * MB,
		.addr_bits = 24, .contig_size = 4 * MB,	/* not read */
	};
	ASSERT(ioctl(dev, WCPOOL_IOC_CREATE, &good) == 0);
	in = (struct wcpool_info){ .size = sizeof(in) };
	ASSERT(ioctl(good.fd, WCPOOL_IOC_INFO, &in) == 0);
	EXPECT(in.addr_bits == 0 && in.contig_size == 0);
	close(good.fd);
	if (!contig) {
		fd = fit_pool(0, 4 * MB, 0, 4 * MB);
		EXPECT(fd < 0 && errno == EOPNOTSUPP);
		close(dev);
		return;
	}
	/* GROW of a contiguous pool: whole runs only. */
	fd = fit_pool(0, 16 * MB, 0, 4 * MB);
	ASSERT(fd >= 0);
	EXPECT_ERR(grow(fd, 0, 2 * MB), EINVAL);
	EXPECT_ERR(grow(fd, 2 * MB, 4 * MB), EINVAL);
	EXPECT_ERR(grow(fd, 0, 6 * MB), EINVAL);
	EXPECT(grow(fd, 4 * MB, 8 * MB) == 0);
	EXPECT_ERR(grow(fd, 4 * MB, 4 * MB), EEXIST);
	in = (struct wcpool_info){ .size = sizeof(in) };
	ASSERT(ioctl(fd, WCPOOL_IOC_INFO, &in) == 0);
	EXPECT(in.contig_size == 4 * MB && in.grown_size == 8 * MB);
	close(fd);
	close(dev);
}

/*
 * Contiguous pools of 4, 12 and 64 MiB: one run each, page after page in
 * physical memory, aligned to the largest power of two dividing it;
 * REGISTER with max_segments 1 gets one segment, also of the 4K NV12
 * frame size (12 441 600 bytes) in the 12 MiB pool; the counters tell
 * one run per GROW.
 */
static void test_fit_contig(void)
{
	static const uint64_t sizes[] = { 4 * MB, 12 * MB, 64 * MB };
	const uint64_t frame = 12441600, frame_len = (frame + 4095) & ~4095ULL;
	struct wcpool_register r;
	struct wcpool_segment seg[2];
	uint64_t *pa, len, align;
	long runs, pages, in_use;
	uint32_t count;
	unsigned int i;
	uint8_t *p;
	size_t j;
	int fd;

	if (!contig_ok())
		return;
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		len = sizes[i];
		align = len & -len;
		runs = stat_get("contig_runs");
		pages = stat_get("contig_pages");
		in_use = stat_get("in_use");
		fd = fit_pool(i == 1 ? 0 : WCPOOL_CREATE_DMA32, len,
			      0, len);
		ASSERT(fd >= 0);
		ASSERT(grow(fd, 0, len) == 0);
		EXPECT(stat_get("contig_runs") == runs + 1);
		EXPECT(stat_get("contig_pages") == pages + (long)(len / HP));
		/* Counted against the module limit as any page. */
		EXPECT(stat_get("in_use") == in_use + (long)(len / HP));
		p = map(fd, len, PROT_READ, 0);
		EXPECT(all_zero(p, len));
		munmap(p, len);
		pa = touched_phys(fd, len, &p);
		EXPECT(pa[0] % align == 0);
		for (j = 1; j < len / 4096; j++)
			if (pa[j] != pa[0] + j * 4096)
				break;
		EXPECT(j == len / 4096);
		if (i != 1)
			EXPECT(pa[len / 4096 - 1] < 1ULL << 32);
		printf("  contig %llu MiB: pages %#llx..%#llx, aligned to %llu MiB\n",
		       (unsigned long long)(len / MB),
		       (unsigned long long)pa[0],
		       (unsigned long long)(pa[len / 4096 - 1] + 4095),
		       (unsigned long long)(align / MB));
		free(pa);
		r = (struct wcpool_register){
			.size = sizeof(r), .flags = RW, .addr = (uintptr_t)p,
			.length = i == 1 ? frame_len : len, .max_segments = 1,
		};
		ASSERT(ioctl(fd, WCPOOL_IOC_REGISTER, &r) == 0);
		EXPECT(r.nr_segments == 1);
		count = 2;
		ASSERT(segments(fd, r.fd, seg, &count) == 0);
		EXPECT(count == 1 && seg[0].offset == 0 &&
		       seg[0].length == r.length);
		close(r.fd);
		munmap(p, len);
		close(fd);
	}
}

/*
 * A 1 GiB run: a 1 GiB page to a device, 1 GiB aligned, every 4 KiB page
 * in place.  It needs a module limit of at least 1 GiB: below that (the
 * default quarter of the suite's 2 GiB guest) GROW fails with ENOSPC
 * before it allocates anything, as documented; with more, it must
 * succeed (run it so: tests/kernel/vm --kernel 6.12 --mem 4G --param
 * limit_mb=2048 -- wcpool-test fit_contig_1g).
 */
static void test_fit_contig_1g(void)
{
	const uint64_t len = 1024 * MB;
	uint64_t *pa;
	uint8_t *p;
	size_t j;
	int fd;

	if (!contig_ok())
		return;
	fd = fit_pool(0, len, 0, len);
	ASSERT(fd >= 0);
	if (stat_get("limit") < (long)(len / HP)) {
		EXPECT_ERR(grow(fd, 0, len), ENOSPC);
		printf("  contig 1 GiB: module limit %ld pages: ENOSPC\n",
		       stat_get("limit"));
		close(fd);
		return;
	}
	ASSERT(grow(fd, 0, len) == 0);
	pa = touched_phys(fd, len, &p);
	EXPECT(pa[0] % len == 0);
	for (j = 1; j < len / 4096; j++)
		if (pa[j] != pa[0] + j * 4096)
			break;
	EXPECT(j == len / 4096);
	printf("  contig 1 GiB: pages %#llx..%#llx\n",
	       (unsigned long long)pa[0],
	       (unsigned long long)(pa[len / 4096 - 1] + 4095));
	free(pa);
	munmap(p, len);
	close(fd);
}

/*
 * alloc_contig_range() failing every time (the kprobe module): GROW of a
 * contiguous pool fails with ENOMEM, changes nothing and leaves no page
 * behind (the harness checks the counters after the test).
 */
static void test_fit_contig_faults(void)
{
	struct wcpool_info in = { .size = sizeof(in) };
	long runs = stat_get("contig_runs");
	char line[128];
	long calls = -1, injected = -1;
	FILE *f;
	int fd;

	if (!contig_ok())
		return;
	ASSERT(system("insmod /wcpool/wcpool_faultinj.ko call=alloc_contig_range every=1") == 0);
	fd = fit_pool(0, 8 * MB, 0, 8 * MB);
	ASSERT(fd >= 0);
	EXPECT_ERR(grow(fd, 0, 8 * MB), ENOMEM);
	ASSERT(ioctl(fd, WCPOOL_IOC_INFO, &in) == 0);
	EXPECT(in.grown_size == 0);
	close(fd);
	f = fopen("/sys/kernel/debug/wcpool_faultinj/counts", "r");
	ASSERT(f);
	while (fgets(line, sizeof(line), f))
		sscanf(line, "alloc_contig_range calls %ld injected %ld",
		       &calls, &injected);
	fclose(f);
	ASSERT(system("rmmod wcpool_faultinj") == 0);
	EXPECT(calls > 0 && injected == calls);
	EXPECT(stat_get("contig_runs") == runs);
	printf("  alloc_contig_range failed %ld of %ld times: ENOMEM\n",
	       injected, calls);
	/* And works again. */
	fd = fit_pool(0, 8 * MB, 0, 8 * MB);
	ASSERT(fd >= 0);
	EXPECT(grow(fd, 0, 8 * MB) == 0);
	close(fd);
}

/*
 * The contiguous dma-heap nodes, in libcamera's sequence (ALLOC with
 * O_CLOEXEC | O_RDWR, DMA_BUF_SET_NAME, SYNC around CPU access): a 4K
 * NV12 frame (12 441 600 bytes) is one physically contiguous run (the
 * node's SEGMENTS and the pages of its mmap agree), for each policy; more
 * than 1 GiB: EINVAL.  Without contiguous runs (6.1) the nodes do not
 * exist.
 */
static void test_fit_heap_contig(void)
{
	static const char *const paths[] = {
		"/dev/dma_heap/wcpool-wc-contig",
		"/dev/dma_heap/wcpool-uc-contig",
		"/dev/dma_heap/wcpool-wb-contig",
	};
	const uint64_t frame = 12441600, len = (frame + 4095) & ~4095ULL;
	struct dma_buf_sync sync;
	struct wcpool_segment seg[2];
	uint64_t *pa;
	unsigned int i;
	uint32_t count;
	uint8_t *p;
	size_t j;
	int heap, dfd;

	if (!contig_ok()) {
		for (i = 0; i < ARRAY_SIZE(paths); i++)
			EXPECT(access(paths[i], F_OK) && errno == ENOENT);
		return;
	}
	for (i = 0; i < ARRAY_SIZE(paths); i++) {
		heap = open(paths[i], O_RDWR | O_CLOEXEC);
		ASSERT(heap >= 0);
		dfd = heap_alloc(heap, frame, O_CLOEXEC | O_RDWR);
		ASSERT(dfd >= 0);
		ASSERT(ioctl(dfd, DMA_BUF_SET_NAME, "fit-frame") == 0);
		count = 2;
		ASSERT(segments(heap, dfd, seg, &count) == 0);
		EXPECT(count == 1 && seg[0].length == len);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
		ASSERT(p != MAP_FAILED);
		sync = (struct dma_buf_sync){
			.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW,
		};
		ASSERT(ioctl(dfd, DMA_BUF_IOCTL_SYNC, &sync) == 0);
		EXPECT(all_zero(p, len));
		for (j = 0; j < len; j += 4096)
			p[j] = 1;
		sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
		ASSERT(ioctl(dfd, DMA_BUF_IOCTL_SYNC, &sync) == 0);
		pa = phys_of(p, len);
		for (j = 1; j < len / 4096; j++)
			if (pa[j] != pa[0] + j * 4096)
				break;
		EXPECT(j == len / 4096);
		free(pa);
		munmap(p, len);
		close(dfd);
		EXPECT(heap_alloc(heap, (1ULL << 30) + 4096, O_RDWR) < 0 &&
		       errno == EINVAL);
		close(heap);
	}
}

/*
 * The pfn range [*lo, *hi) of zone @name with present pages (from
 * /proc/zoneinfo), false if there is none.
 */
static bool zone_range(const char *name, uint64_t *lo, uint64_t *hi)
{
	FILE *f = fopen("/proc/zoneinfo", "r");
	char line[256], zone[32] = "";
	unsigned long long v, spanned = 0, present = 0;
	bool found = false;

	ASSERT(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %*d, zone %31s", zone) == 1) {
			spanned = present = 0;
		} else if (sscanf(line, " spanned %llu", &v) == 1) {
			spanned = v;
		} else if (sscanf(line, " present %llu", &v) == 1) {
			present = v;
		} else if (sscanf(line, " start_pfn: %llu", &v) == 1 &&
			   !strcmp(zone, name) && present) {
			*lo = v;
			*hi = v + spanned;
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* Bytes of "System RAM" at or above @from, from /proc/iomem (root). */
static uint64_t ram_above(uint64_t from)
{
	FILE *f = fopen("/proc/iomem", "r");
	unsigned long long a, b;
	char line[256];
	uint64_t n = 0;

	ASSERT(f);
	while (fgets(line, sizeof(line), f))
		if (line[0] != ' ' &&
		    sscanf(line, "%llx-%llx : System RAM", &a, &b) == 2 &&
		    strstr(line, "System RAM") && b + 1 > from)
			n += b + 1 - (a > from ? a : from);
	fclose(f);
	return n;
}

/* The physical address of the 2 MiB pool page at @p (touched). */
static uint64_t phys_2m(volatile uint8_t *p)
{
	uint64_t *pa;
	uint64_t r;

	(void)p[0];
	pa = phys_of((const void *)p, 4096);
	r = pa[0];
	free(pa);
	return r;
}

#define MOVABLE_RUN	(32 * MB)
#define MOVABLE_MAX	64

/*
 * Contiguous runs never come from ZONE_MOVABLE: pool pages never migrate,
 * so there they would block offlining.  Needs a guest with a movable zone
 * (tests/kernel/run-zones boots one with movablecore= covering most of
 * its RAM and a module limit above it): 32 MiB runs are taken until none
 * is left (ENOMEM, not the module limit), and no page of any lies in the
 * Movable zone's pfn range.  Before the fix the search went on into the
 * movable zone, which held most of the free memory.
 */
static void test_fit_movable(void)
{
	int fds[MOVABLE_MAX], n = 0, i, err = 0;
	uint64_t lo, hi, pa, off, low = ~0ULL, high = 0;
	unsigned int bad = 0;
	uint8_t *p;

	if (!contig_ok())
		return;
	if (!zone_range("Movable", &lo, &hi)) {
		printf("  no ZONE_MOVABLE in this guest: tests/kernel/run-zones boots one\n");
		return;
	}
	printf("  Movable zone: %#llx..%#llx\n",
	       (unsigned long long)lo * 4096, (unsigned long long)hi * 4096);
	while (n < MOVABLE_MAX) {
		fds[n] = fit_pool(0, MOVABLE_RUN, 0, MOVABLE_RUN);
		ASSERT(fds[n] >= 0);
		if (grow(fds[n], 0, MOVABLE_RUN)) {
			err = errno;
			close(fds[n]);
			break;
		}
		p = map(fds[n], MOVABLE_RUN, PROT_READ, 0);
		for (off = 0; off < MOVABLE_RUN; off += HP) {
			pa = phys_2m(p + off);
			if (pa / 4096 >= lo && pa / 4096 < hi)
				bad++;
			low = pa < low ? pa : low;
			high = pa > high ? pa : high;
		}
		munmap(p, MOVABLE_RUN);
		n++;
	}
	printf("  %d runs of %lu MiB (%#llx..%#llx), then errno %d; %u pool pages in the Movable zone\n",
	       n, MOVABLE_RUN / MB, (unsigned long long)low,
	       (unsigned long long)high + HP - 1, err, bad);
	EXPECT(bad == 0);
	/* The search ran out of room, it did not stop at a limit. */
	EXPECT(err == ENOMEM);
	EXPECT(n > 0);
	for (i = 0; i < n; i++)
		close(fds[i]);
}

/*
 * Runs without an address limit come from 4 GiB upward first, leaving
 * ZONE_DMA32 to the devices that need it; with a 32-bit limit they lie
 * below it, with a 36-bit one above 4 GiB where there is room.  Needs RAM
 * above 4 GiB (tests/kernel/run-zones boots a 5 GiB guest).
 */
static void test_fit_high_first(void)
{
	static const struct { uint32_t bits; bool high; } cases[] = {
		{ 0, true }, { 36, true }, { 32, false },
	};
	unsigned int i;
	uint64_t pa;
	uint8_t *p;
	int fd;

	if (!contig_ok())
		return;
	if (ram_above(1ULL << 32) < 256 * MB) {
		printf("  no RAM above 4 GiB in this guest: tests/kernel/run-zones boots one\n");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		fd = fit_pool(0, 8 * MB, cases[i].bits, 8 * MB);
		ASSERT(fd >= 0);
		ASSERT(grow(fd, 0, 8 * MB) == 0);
		p = map(fd, 8 * MB, PROT_READ, 0);
		pa = phys_2m(p);
		printf("  addr_bits %u: run at %#llx\n", cases[i].bits,
		       (unsigned long long)pa);
		if (cases[i].high)
			EXPECT(pa >= 1ULL << 32);
		else
			EXPECT(pa + 8 * MB <= 1ULL << 32);
		if (cases[i].bits)
			EXPECT(pa + 8 * MB <= 1ULL << cases[i].bits);
		munmap(p, 8 * MB);
		close(fd);
	}
}

const struct test fit_tests[] = {
	{ "fit_addr_limits", test_fit_addr_limits },
	{ "fit_impossible", test_fit_impossible },
	{ "fit_bad_input", test_fit_bad_input },
	{ "fit_contig", test_fit_contig },
	{ "fit_contig_1g", test_fit_contig_1g },
	{ "fit_contig_faults", test_fit_contig_faults },
	{ "fit_heap_contig", test_fit_heap_contig },
	{ "fit_movable", test_fit_movable },
	{ "fit_high_first", test_fit_high_first },
	{ NULL, NULL },
};
