// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool-test: mappings: their bytes, bad mmap arguments, sparse and partial
 * mappings, RELEASE under a mapping and racing its faults, PMD mode.
 */
#include "wcpool-test.h"

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

static void test_mmap_zero_and_rw(void)
{
	uint32_t policies[] = { WCPOOL_POLICY_WC, WCPOOL_POLICY_UC,
				WCPOOL_POLICY_WB };
	unsigned int k;

	for (k = 0; k < 3; k++) {
		int fd = pool(policies[k], 8 * MB);
		uint8_t *p, *q;
		size_t i;

		ASSERT(grow(fd, 0, 4 * MB) == 0);
		p = map(fd, 4 * MB, PROT_READ | PROT_WRITE, 0);
		ASSERT(stat_get("mapped_vmas") == 1);
		ASSERT(all_zero(p, 4 * MB));
		for (i = 0; i < 4 * MB; i += 4096)
			p[i] = (uint8_t)((i >> 12) + 1);
		/* A second mapping at an offset sees the same bytes. */
		q = map(fd, HP, PROT_READ, HP);
		for (i = 0; i < HP; i += 4096)
			ASSERT(q[i] == (uint8_t)(((i + HP) >> 12) + 1));
		ASSERT(stat_get("mapped_vmas") == 2);
		ASSERT(munmap(q, HP) == 0);
		ASSERT(munmap(p, 4 * MB) == 0);
		ASSERT(stat_get("mapped_vmas") == 0);
		close(fd);
	}
}

static void test_mmap_bad(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 8 * MB);
	void *p;

	ASSERT(grow(fd, 0, 2 * MB) == 0);
	ASSERT(grow(fd, 4 * MB, 2 * MB) == 0);
	EXPECT_ERR(mmap(NULL, HP, PROT_READ, MAP_PRIVATE, fd, 0), EINVAL);
	EXPECT_ERR(mmap(NULL, HP, PROT_READ, MAP_SHARED, fd, 4096), EINVAL);
	EXPECT_ERR(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, MB), EINVAL);
	/* past max_size */
	EXPECT_ERR(mmap(NULL, HP, PROT_READ, MAP_SHARED, fd, 8 * MB), ENXIO);
	EXPECT_ERR(mmap(NULL, 10 * MB, PROT_READ, MAP_SHARED, fd, 0), ENXIO);
	EXPECT_ERR(mmap(NULL, HP, PROT_READ, MAP_SHARED, fd, 1ULL << 50), ENXIO);
	/* a partial mapping of a grown page is fine */
	p = map(fd, 4096, PROT_READ, 4 * MB);
	ASSERT(*(volatile char *)p == 0);
	/* no mremap growth */
	ASSERT(mremap(p, 4096, 8192, 0) == MAP_FAILED);
	ASSERT(munmap(p, 4096) == 0);
	ASSERT(stat_get("mapped_vmas") == 0);
	close(fd);
}

/* A mapping may cover pages not grown yet: SIGBUS until GROW. */
static void test_mmap_sparse(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 8 * MB);
	uint8_t *p;

	ASSERT(grow(fd, 4 * MB, 2 * MB) == 0);
	p = map(fd, 8 * MB, PROT_READ | PROT_WRITE, 0);
	ASSERT(probe_read(p) == SIGBUS);
	ASSERT(probe_read(p + 2 * MB + 4096) == SIGBUS);
	ASSERT(probe_read(p + 6 * MB) == SIGBUS);
	ASSERT(probe_read(p + 4 * MB) == 0);
	p[4 * MB] = 9;
	ASSERT(grow(fd, 0, 2 * MB) == 0);
	ASSERT(probe_read(p) == 0 && p[0] == 0);
	p[0] = 1;
	ASSERT(probe_read(p + 2 * MB) == SIGBUS);
	ASSERT(p[4 * MB] == 9);
	ASSERT(info(fd).grown_size == 4 * MB);
	ASSERT(munmap(p, 8 * MB) == 0);
	close(fd);
}

static void test_release_while_mapped(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 4 * MB);
	volatile uint8_t *p;

	ASSERT(grow(fd, 0, 4 * MB) == 0);
	p = map(fd, 4 * MB, PROT_READ | PROT_WRITE, 0);
	p[0] = 7;
	p[HP] = 8;
	ASSERT(release(fd, 0, 2 * MB) == 0);
	ASSERT(probe_read(p) == SIGBUS);
	ASSERT(probe_read(p + 4096) == SIGBUS);
	ASSERT(probe_read(p + HP) == 0 && p[HP] == 8);
	/* Grown again: the same address maps a new, zeroed page. */
	ASSERT(grow(fd, 0, 2 * MB) == 0);
	ASSERT(probe_read(p) == 0 && p[0] == 0);
	ASSERT(munmap((void *)p, 4 * MB) == 0);
	close(fd);
}

/*
 * WCPOOL_MAP_PMD (6.12+): 2 MiB aligned mappings get PMD entries, others
 * fall back to 4 KiB; the memory cannot be pinned.  Where the kernel lacks
 * huge pfnmaps, creating such a pool fails with EOPNOTSUPP.
 */
static void test_pmd_mode(void)
{
	int fd = pmd_pool(8 * MB), ro, pp[2];
	uint8_t *p, *q, *area;
	struct iovec iov;
	long before;
	size_t i;

	if (fd < 0) {
		printf("  pmd_mode: not supported by this kernel (EOPNOTSUPP)\n");
		return;
	}
	ASSERT(info(fd).map_mode == WCPOOL_MAP_PMD);
	ASSERT(grow(fd, 0, 8 * MB) == 0);
	before = stat_get("pmd_maps");
	p = map(fd, 8 * MB, PROT_READ | PROT_WRITE, 0);
	ASSERT(((uintptr_t)p & (HP - 1)) == 0);
	ASSERT(all_zero(p, 8 * MB));
	for (i = 0; i < 8 * MB; i += 4096)
		p[i] = (uint8_t)((i >> 12) + 3);
	ASSERT(stat_get("pmd_maps") - before == 4);

	/* read-only fd, mapped at an offset */
	ro = dup_ro(fd, WCPOOL_DUP_READONLY);
	ASSERT(ro >= 0);
	ASSERT_ERR(mmap(NULL, HP, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), EACCES);
	q = map(ro, 2 * MB, PROT_READ, 4 * MB);
	for (i = 0; i < HP; i += 4096)
		ASSERT(q[i] == (uint8_t)(((i + 4 * MB) >> 12) + 3));
	ASSERT(munmap(q, 2 * MB) == 0);
	close(ro);

	/* A mapping that is not 2 MiB aligned falls back to 4 KiB entries. */
	area = mmap(NULL, 8 * MB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT(area != MAP_FAILED);
	area = (uint8_t *)(((uintptr_t)area + HP - 1) & ~(HP - 1)) + 4096;
	before = stat_get("pmd_maps");
	q = mmap(area, 4 * MB, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 2 * MB);
	ASSERT(q == area);
	for (i = 0; i < 4 * MB; i += 4096)
		ASSERT(q[i] == (uint8_t)(((i + 2 * MB) >> 12) + 3));
	ASSERT(stat_get("pmd_maps") == before);
	ASSERT(munmap(q, 4 * MB) == 0);

	/* Special PMDs cannot be pinned or referenced by GUP. */
	ASSERT(pipe(pp) == 0);
	iov = (struct iovec){ .iov_base = p, .iov_len = 4096 };
	ASSERT_ERR(vmsplice(pp[1], &iov, 1, 0), EFAULT);
	close(pp[0]);
	close(pp[1]);

	/* RELEASE zaps PMD mappings too. */
	ASSERT(release(fd, 2 * MB, 2 * MB) == 0);
	ASSERT(probe_read(p + 2 * MB) == SIGBUS);
	ASSERT(probe_read(p) == 0 && p[0] == 3);
	ASSERT(munmap(p, 8 * MB) == 0);
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

	ASSERT(grow(a.fd, 0, 8 * MB) == 0);
	a.p = map(a.fd, 8 * MB, PROT_READ | PROT_WRITE, 0);
	ASSERT(pthread_create(&t, NULL, race_toucher, &a) == 0);
	for (i = 0; i < 200; i++) {
		uint64_t off = (uint64_t)(i % 4) * HP;

		ASSERT(release(a.fd, off, HP) == 0);
		ASSERT(grow(a.fd, off, HP) == 0);
		/* MADV_DONTNEED is refused (EINVAL) for VM_PFNMAP */
		if (i % 10 == 0 && !pfnmap)
			ASSERT(madvise((void *)a.p, 8 * MB, MADV_DONTNEED) == 0);
	}
	a.stop = true;
	ASSERT(pthread_join(t, NULL) == 0);
	ASSERT(info(a.fd).grown_size == 8 * MB);
	ASSERT(munmap((void *)a.p, 8 * MB) == 0);
	close(a.fd);
}

/*
 * Faults racing GROW/RELEASE/MADV_DONTNEED, in PTE mode and (where the
 * kernel has it) PMD mode: no crash, no leak, no WARN.
 */
static void test_race_fault_release(void)
{
	int fd;

	race_run(pool(WCPOOL_POLICY_WC, 8 * MB), false);
	fd = pmd_pool(8 * MB);
	if (fd >= 0)
		race_run(fd, true);
}

static void partial_munmap_run(int fd)
{
	uint8_t *p;
	size_t i;

	ASSERT(grow(fd, 0, 8 * MB) == 0);
	p = map(fd, 8 * MB, PROT_READ | PROT_WRITE, 0);
	for (i = 0; i < 8 * MB; i += 4096)
		p[i] = (uint8_t)((i >> 12) + 5);
	/* punch a 4 KiB hole into the middle of a 2 MiB page */
	ASSERT(munmap(p + 3 * MB, 4096) == 0);
	ASSERT(stat_get("mapped_vmas") == 2);
	ASSERT(probe_read(p + 3 * MB) == SIGSEGV);
	for (i = 0; i < 8 * MB; i += 4096)
		if (i != 3 * MB)
			ASSERT(p[i] == (uint8_t)((i >> 12) + 5));
	ASSERT(mprotect(p + 6 * MB, 2 * MB, PROT_READ) == 0);
	ASSERT(stat_get("mapped_vmas") == 3);
	ASSERT(munmap(p, 8 * MB) == 0);
	ASSERT(stat_get("mapped_vmas") == 0);
	close(fd);
}

/*
 * A PTE-mode mapping at a 2 MiB aligned address.  The fault handler hands
 * out 4 KiB sub-pages, but the core maps a PMD-sized folio whole from the
 * fault path when the VMA covers it aligned (finish_fault -> do_set_pmd;
 * 6.1 and 6.12 both do, with THP built in): one PMD per pool page, read
 * back from the pages by the pmd_mapped counter.  They stay normal
 * refcounted pages: GUP takes them, a partial munmap splits the PMD,
 * RELEASE zaps it, and every reference comes back.
 */
static void test_pte_aligned(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 8 * MB), pp[2];
	uint8_t *area, *p, buf[4096];
	struct iovec iov;
	long pmd;
	size_t i;

	ASSERT(grow(fd, 0, 8 * MB) == 0);
	area = mmap(NULL, 10 * MB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	ASSERT(area != MAP_FAILED);
	p = (uint8_t *)(((uintptr_t)area + HP - 1) & ~(HP - 1));
	ASSERT(mmap(p, 8 * MB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		   fd, 0) == p);
	for (i = 0; i < 8 * MB; i += 4096)
		p[i] = (uint8_t)((i >> 12) + 7);
	pmd = stat_get("pmd_mapped");
	printf("  pte_aligned: %ld of 4 pages mapped by a PMD\n", pmd);
	ASSERT(pmd == 4);

	/* GUP (vmsplice takes page references) sees the bytes. */
	ASSERT(pipe(pp) == 0);
	iov = (struct iovec){ .iov_base = p + HP + 4096, .iov_len = 4096 };
	ASSERT(vmsplice(pp[1], &iov, 1, 0) == 4096);
	ASSERT(read(pp[0], buf, sizeof(buf)) == 4096);
	ASSERT(buf[0] == (uint8_t)(((HP + 4096) >> 12) + 7));
	close(pp[0]);
	close(pp[1]);

	/* A 4 KiB hole splits that page's PMD only. */
	ASSERT(munmap(p + 3 * MB, 4096) == 0);
	ASSERT(stat_get("pmd_mapped") == 3);
	for (i = 0; i < 8 * MB; i += 4096)
		if (i != 3 * MB)
			ASSERT(p[i] == (uint8_t)((i >> 12) + 7));

	/* RELEASE zaps PMD-mapped pages like PTE-mapped ones. */
	ASSERT(release(fd, 0, 2 * MB) == 0);
	ASSERT(probe_read(p) == SIGBUS);
	ASSERT(stat_get("pmd_mapped") == 2);
	ASSERT(munmap(area, 10 * MB) == 0);
	ASSERT(stat_get("pmd_mapped") == 0);
	close(fd);
}

/* Splitting mappings (munmap, mprotect of a part): PTE and PMD mode. */
static void test_partial_munmap(void)
{
	int fd;

	partial_munmap_run(pool(WCPOOL_POLICY_WC, 8 * MB));
	fd = pmd_pool(8 * MB);
	if (fd >= 0)
		partial_munmap_run(fd);
}

const struct test mmap_tests[] = {
	{ "mmap_zero_and_rw", test_mmap_zero_and_rw },
	{ "mmap_bad", test_mmap_bad },
	{ "mmap_sparse", test_mmap_sparse },
	{ "partial_munmap", test_partial_munmap },
	{ "pte_aligned", test_pte_aligned },
	{ "release_while_mapped", test_release_while_mapped },
	{ "pmd_mode", test_pmd_mode },
	{ "race_fault_release", test_race_fault_release },
	{ NULL }
};
