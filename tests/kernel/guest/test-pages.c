// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool-test: pages: zeroed when reused, alive while referenced after
 * RELEASE, their PAT memtype, the recycle pools, memory cgroup charges.
 */
#include "wcpool-test.h"


/* Pages that come back from the recycle pool or the allocator are zero. */
static void test_pages_zero_after_reuse(void)
{
	long converted;
	int round, fd;
	uint8_t *p;

	for (round = 0; round < 3; round++) {
		fd = pool(WCPOOL_POLICY_WC, 4 * MB);
		ASSERT(grow(fd, 0, 4 * MB) == 0);
		p = map(fd, 4 * MB, PROT_READ | PROT_WRITE, 0);
		ASSERT(all_zero(p, 4 * MB));
		memset(p, 0xa5, 4 * MB);
		ASSERT(munmap(p, 4 * MB) == 0);
		ASSERT(release(fd, 0, 2 * MB) == 0);
		ASSERT(grow(fd, 0, 2 * MB) == 0);
		p = map(fd, 2 * MB, PROT_READ, 0);
		ASSERT(all_zero(p, 2 * MB));
		ASSERT(munmap(p, 2 * MB) == 0);
		close(fd);
	}
	/* Recycled pages are not converted again. */
	ASSERT(stat_get("recycle_wc") >= 2);
	converted = stat_get("converted");
	fd = pool(WCPOOL_POLICY_WC, 4 * MB);
	ASSERT(grow(fd, 0, 4 * MB) == 0);
	ASSERT(stat_get("converted") == converted);
	close(fd);
}

/* Pages referenced elsewhere (here: spliced into a pipe) outlive RELEASE. */
static void test_release_while_referenced(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 2 * MB), pp[2], i;
	struct iovec iov;
	uint8_t *p, buf[4096];

	ASSERT(grow(fd, 0, 2 * MB) == 0);
	p = map(fd, 2 * MB, PROT_READ | PROT_WRITE, 0);
	memset(p, 0x3c, 4096);
	ASSERT(pipe(pp) == 0);
	iov = (struct iovec){ .iov_base = p, .iov_len = 4096 };
	ASSERT(vmsplice(pp[1], &iov, 1, 0) == 4096);
	ASSERT(munmap(p, 2 * MB) == 0);
	ASSERT(release(fd, 0, 2 * MB) == 0);
	ASSERT(stat_get("deferred") == 1);
	ASSERT(stat_get("in_use") == 1);
	ASSERT(read(pp[0], buf, sizeof(buf)) == 4096);
	ASSERT(buf[0] == 0x3c && buf[4095] == 0x3c);
	close(pp[0]);
	close(pp[1]);
	for (i = 0; i < 50 && stat_get("deferred"); i++)
		usleep(100000);
	ASSERT(stat_get("deferred") == 0);
	ASSERT(stat_get("in_use") == 0);
	close(fd);
}

/*
 * Whether the kernel's linear map has entries larger than 4 KiB at all:
 * not with debug_pagealloc (the debug kernel, tests/kernel/debug.config),
 * which maps it all with 4 KiB pages.
 */
static bool linear_map_huge(void)
{
	char line[256];
	long kb, huge = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	ASSERT(f);
	while (fgets(line, sizeof(line), f))
		if ((sscanf(line, "DirectMap2M: %ld", &kb) == 1 ||
		     sscanf(line, "DirectMap1G: %ld", &kb) == 1))
			huge += kb;
	fclose(f);
	return huge > 0;
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

	ASSERT(grow(wc, 0, 4 * MB) == 0);
	ASSERT(grow(uc, 0, 2 * MB) == 0);
	ASSERT(grow(wb, 2 * MB, 2 * MB) == 0);
	p = map(uc, 2 * MB, PROT_READ | PROT_WRITE, 0);
	memset(p, 1, 2 * MB);
	ASSERT(pools_count("write-combining ") == 2);
	ASSERT(pools_count("uncached-minus ") == 1);
	ASSERT(pools_count("write-back ") == 1);
	/*
	 * set_memory_wc/uc on a whole 2 MiB page keeps a 2 MiB linear entry
	 * (where the linear map has any: not with debug_pagealloc).
	 */
	if (linear_map_huge()) {
		ASSERT(pools_count("write-combining 2m") == 2);
		ASSERT(pools_count("uncached-minus 2m") == 1);
	} else {
		ASSERT(pools_count("write-combining 4k") == 2);
		ASSERT(pools_count("uncached-minus 4k") == 1);
	}
	f = fopen("/sys/kernel/debug/x86/pat_memtype_list", "r");
	ASSERT(f);
	ASSERT(fgets(line, sizeof(line), f));
	ASSERT(strstr(line, "PAT memtype list"));
	fclose(f);
	munmap(p, 2 * MB);
	close(wc);
	close(uc);
	close(wb);
}

/* Memory pressure (here: drop_caches) empties the recycle pools. */
static void test_recycle_shrinker(void)
{
	int fd = pool(WCPOOL_POLICY_UC, 4 * MB), dc;

	ASSERT(grow(fd, 0, 4 * MB) == 0);
	close(fd);
	ASSERT(stat_get("recycle_uc") >= 2);
	dc = open("/proc/sys/vm/drop_caches", O_WRONLY);
	ASSERT(dc >= 0);
	ASSERT(write(dc, "2", 1) == 1);
	close(dc);
	ASSERT(stat_get("recycle_wc") == 0);
	ASSERT(stat_get("recycle_uc") == 0);
	ASSERT(stat_get("recycle_wb") == 0);
}


/*
 * Pool pages are charged to the caller's memory cgroup and limited by it:
 * GROW past memory.max fails with ENOMEM (no OOM kill).
 */
static void test_memcg_charge(void)
{
	long before, after;
	int fd;

	memcg_make("wcpool-test");
	memcg_enter("wcpool-test");
	fd = pool(WCPOOL_POLICY_WC, 64 * MB);
	before = memcg_current("wcpool-test");
	ASSERT(grow(fd, 0, 8 * MB) == 0);
	after = memcg_current("wcpool-test");
	ASSERT(after - before >= (long)(8 * MB));
	write_file("/sys/fs/cgroup/wcpool-test/memory.max", "%ld",
		   after + 4 * MB);
	ASSERT_ERR(grow(fd, 8 * MB, 8 * MB), ENOMEM);
	ASSERT(info(fd).grown_size == 8 * MB);
	close(fd);
	/*
	 * The freed pages sit in the recycle pool, still charged to this
	 * cgroup (no exported API moves a kmem charge); the shrinker frees
	 * them and the charge goes away.
	 */
	ASSERT(stat_get("recycle_wc") >= 4);
	ASSERT(memcg_current("wcpool-test") >= after - (long)(MB));
	write_file("/proc/sys/vm/drop_caches", "2");
	ASSERT(memcg_current("wcpool-test") < after - (long)(6 * MB));
	memcg_remove("wcpool-test");
}


/*
 * Recycled pages keep the charge of the cgroup that first allocated them:
 * another cgroup that takes them from the recycle pool is not charged.  At
 * most recycle_pages per policy (kernel/README.md); measured here.
 */
static void test_memcg_recycle(void)
{
	long n = read_long("/sys/module/wcpool/parameters/recycle_pages");
	long a0, a1, a2, b0, b1;
	int fd;

	memcg_make("wcpool-a");
	memcg_make("wcpool-b");

	/* A grows n + 2 pages and frees them: n stay recycled, on A. */
	memcg_enter("wcpool-a");
	a0 = memcg_current("wcpool-a");
	fd = pool(WCPOOL_POLICY_WC, 64 * MB);
	ASSERT(grow(fd, 0, (n + 2) * HP) == 0);
	close(fd);
	ASSERT(stat_get("recycle_wc") == n);
	a1 = memcg_current("wcpool-a");
	ASSERT(a1 - a0 > n * (long)HP - (long)MB);

	/* B grows as many: only the 2 fresh pages are charged to B. */
	memcg_enter("wcpool-b");
	b0 = memcg_current("wcpool-b");
	fd = pool(WCPOOL_POLICY_WC, 64 * MB);
	ASSERT(grow(fd, 0, (n + 2) * HP) == 0);
	b1 = memcg_current("wcpool-b");
	a2 = memcg_current("wcpool-a");
	printf("  memcg_recycle: B grew %ld MiB, charged %.1f MiB; A still charged %.1f MiB for B's %ld recycled pages\n",
	       (n + 2) * 2, (b1 - b0) / (double)MB, (a2 - a0) / (double)MB, n);
	/* 1 MiB of slack: charges are batched per CPU */
	ASSERT(labs(b1 - b0 - 2 * (long)HP) < (long)MB);
	ASSERT(a2 - a0 > n * (long)HP - (long)MB);
	close(fd);

	/* The shrinker frees the recycled pages and A's charge with them. */
	write_file("/proc/sys/vm/drop_caches", "2");
	ASSERT(memcg_current("wcpool-a") - a0 < (long)MB);
	memcg_remove("wcpool-a");
	memcg_remove("wcpool-b");
}

const struct test pages_tests[] = {
	{ "pages_zero_after_reuse", test_pages_zero_after_reuse },
	{ "release_while_referenced", test_release_while_referenced },
	{ "policy_memtype", test_policy_memtype },
	{ "recycle_shrinker", test_recycle_shrinker },
	{ "memcg_charge", test_memcg_charge },
	{ "memcg_recycle", test_memcg_recycle },
	{ NULL }
};
