// SPDX-License-Identifier: MIT
/* Pool life cycle: options, what the pool really got, statistics, trim. */
#include <criterion/criterion.h>
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <linux/wcpool.h>

#include "helpers.h"

static int create(struct wcp_pool_options o, struct wcp_pool **pool)
{
	return wcp_pool_create(&o, pool);
}

Test(pool, defaults_give_memfd_writeback)
{
	struct wcp_pool *pool = NULL;
	struct wcp_pool_info info;
	bool huge = free_hugepages() > 0;

	cr_assert_eq(wcp_pool_create(NULL, &pool), 0);
	cr_assert_eq(wcp_pool_info(pool, &info), 0);
	if (access("/dev/wcpool", F_OK) == 0)
		cr_assert_eq(info.backend, WCP_BACKEND_MODULE);
	else
		cr_assert_eq(info.backend, WCP_BACKEND_MEMFD);
	if (info.backend == WCP_BACKEND_MEMFD) {
		cr_assert_eq(info.policy, WCP_POLICY_WB);
		cr_assert_eq(info.page_size, huge ? WCP_PAGE_2M : WCP_PAGE_4K,
			     "page size %lu with %ld free huge pages",
			     (unsigned long)info.page_size, free_hugepages());
	}
	cr_assert_eq(info.max_size, WCP_DEFAULT_MAX_SIZE);
	cr_assert_eq((uintptr_t)info.base % info.page_size, 0);
	cr_assert_not(info.imported);
	cr_assert_not(info.read_only);
	wcp_pool_destroy(pool);
}

Test(pool, invalid_options_are_einval)
{
	struct wcp_pool *pool = (struct wcp_pool *)1;

	cr_assert_eq(create((struct wcp_pool_options){ .flags = 1u << 7 },
			    &pool), -EINVAL);
	cr_assert_null(pool, "failed create must leave NULL");
	cr_assert_eq(create((struct wcp_pool_options){ .backend = 9 }, &pool),
		     -EINVAL);
	cr_assert_eq(create((struct wcp_pool_options){ .policy = 9 }, &pool),
		     -EINVAL);
	cr_assert_eq(create((struct wcp_pool_options){ .page_size = 8192 },
			    &pool), -EINVAL);
	cr_assert_eq(create((struct wcp_pool_options){ .page_size = 3 << 20 },
			    &pool), -EINVAL);
	cr_assert_eq(create((struct wcp_pool_options){ .addr_bits = 1 },
			    &pool), -EINVAL);
	cr_assert_eq(create((struct wcp_pool_options){ .addr_bits = 23 },
			    &pool), -EINVAL);
	cr_assert_eq(create((struct wcp_pool_options){ .addr_bits = 65 },
			    &pool), -EINVAL);
	cr_assert_eq(create((struct wcp_pool_options){
		.flags = WCP_POOL_DMA32, .addr_bits = 30 }, &pool), -EINVAL);
	cr_assert_eq(create((struct wcp_pool_options){ .max_size = UINT64_MAX },
			    &pool), -EINVAL);
	cr_assert_eq(wcp_pool_create(NULL, NULL), -EINVAL);
	cr_assert_null(pool);
}

Test(pool, module_backend_needs_the_device)
{
	struct wcp_pool *pool = NULL;
	int err = create((struct wcp_pool_options){
		.backend = WCP_BACKEND_MODULE }, &pool);

	if (access("/dev/wcpool", F_OK) == 0) {
		cr_assert_eq(err, 0);
		wcp_pool_destroy(pool);
	} else {
		cr_assert_eq(err, -ENODEV);
		cr_assert_null(pool);
	}
}

Test(pool, memfd_refuses_wc_and_uc_without_fallback)
{
	uint32_t policies[] = { WCP_POLICY_WC, WCP_POLICY_UC };

	for (size_t i = 0; i < 2; i++) {
		struct wcp_pool *pool = NULL;
		struct wcp_pool_info info;

		cr_assert_eq(create((struct wcp_pool_options){
			.backend = WCP_BACKEND_MEMFD,
			.policy = policies[i] }, &pool), -EOPNOTSUPP);
		cr_assert_eq(create((struct wcp_pool_options){
			.backend = WCP_BACKEND_MEMFD, .policy = policies[i],
			.flags = WCP_POOL_ALLOW_WB_FALLBACK }, &pool), 0);
		wcp_pool_info(pool, &info);
		cr_assert_eq(info.policy, WCP_POLICY_WB);
		wcp_pool_destroy(pool);
	}
}

Test(pool, explicit_page_sizes)
{
	struct wcp_pool *pool = NULL;
	struct wcp_pool_info info;
	int err;

	pool = make_pool(WCP_PAGE_4K, 0);
	wcp_pool_info(pool, &info);
	cr_assert_eq(info.page_size, WCP_PAGE_4K);
	wcp_pool_destroy(pool);

	err = create((struct wcp_pool_options){ .page_size = WCP_PAGE_2M },
		     &pool);
	if (free_hugepages() > 0) {
		cr_assert_eq(err, 0);
		wcp_pool_info(pool, &info);
		cr_assert_eq(info.page_size, WCP_PAGE_2M);
		wcp_pool_destroy(pool);
	} else {
		cr_assert_eq(err, -ENOMEM, "2 MiB pages demanded, none free");
	}
}

Test(pool, max_size_rounds_up_to_page_size)
{
	struct wcp_pool *pool = make_pool(0, 3 * MiB);
	struct wcp_pool_info info;

	wcp_pool_info(pool, &info);
	cr_assert_geq(info.max_size, 3 * MiB);
	cr_assert_eq(info.max_size % info.page_size, 0);
	cr_assert_lt(info.max_size, 3 * MiB + info.page_size);
	wcp_pool_destroy(pool);
}

Test(pool, stats_follow_allocations)
{
	struct wcp_pool *pool = make_pool(0, 0);
	struct wcp_pool_stats st;
	void *p[10];
	size_t sum = 0;

	cr_assert_eq(wcp_pool_stats(pool, &st), 0);
	cr_assert_eq(st.allocations, 0);
	cr_assert_eq(st.allocated, 0);
	for (int i = 0; i < 10; i++) {
		p[i] = wcp_malloc(pool, 1000 * (size_t)(i + 1) * (i + 1));
		cr_assert_not_null(p[i]);
		memset(p[i], 1, 1000 * (size_t)(i + 1) * (i + 1));
		sum += wcp_usable_size(pool, p[i]);
	}
	cr_assert_eq(wcp_pool_stats(pool, &st), 0);
	cr_assert_eq(st.allocations, 10);
	cr_assert_eq(st.allocated, sum);
	cr_assert_geq(st.active, st.allocated);
	cr_assert_geq(st.mapped, st.active);
	cr_assert_geq(st.resident, 100000, "touched memory is resident");
	for (int i = 0; i < 10; i++)
		wcp_free(pool, p[i]);
	cr_assert_eq(wcp_pool_stats(pool, &st), 0);
	cr_assert_eq(st.allocations, 0);
	cr_assert_eq(st.allocated, 0);
	wcp_pool_destroy(pool);
}

/* Freed memory goes back to the system: no unbounded growth. */
Test(pool, trim_returns_memory_to_the_system)
{
	struct wcp_pool *pool = make_pool(0, 0);
	struct wcp_pool_stats st;
	void *p[8];

	for (int i = 0; i < 8; i++) {
		p[i] = wcp_malloc(pool, 8 * MiB);
		cr_assert_not_null(p[i]);
		memset(p[i], 0xab, 8 * MiB);
	}
	cr_assert_eq(wcp_pool_stats(pool, &st), 0);
	cr_assert_geq(st.resident, 64 * MiB);
	for (int i = 0; i < 8; i++)
		wcp_free(pool, p[i]);
	cr_assert_eq(wcp_pool_trim(pool), 0);
	cr_assert_eq(wcp_pool_stats(pool, &st), 0);
	cr_assert_leq(st.resident, 4 * MiB, "resident after trim: %lu",
		      (unsigned long)st.resident);
	/* The same memory is usable again and reads as zero. */
	p[0] = wcp_calloc(pool, 1, 64 * MiB);
	cr_assert_not_null(p[0]);
	cr_assert(all_zero(p[0], 64 * MiB));
	wcp_free(pool, p[0]);
	wcp_pool_destroy(pool);
}

Test(pool, repeated_cycles_do_not_grow_mapping)
{
	struct wcp_pool *pool = make_pool(0, 0);
	struct wcp_pool_stats st;
	uint64_t mapped_after_first = 0;

	for (int round = 0; round < 20; round++) {
		void *p = wcp_malloc(pool, 32 * MiB);

		cr_assert_not_null(p);
		memset(p, round, 32 * MiB);
		wcp_free(pool, p);
		wcp_pool_trim(pool);
		wcp_pool_stats(pool, &st);
		if (round == 0)
			mapped_after_first = st.mapped;
		cr_assert_eq(st.mapped, mapped_after_first,
			     "address space is reused, round %d", round);
	}
	wcp_pool_destroy(pool);
}

Test(pool, null_arguments)
{
	struct wcp_pool_info info;
	struct wcp_pool_stats st;
	struct wcp_pool *pool = make_pool(0, 0);

	wcp_pool_destroy(NULL);
	cr_assert_eq(wcp_pool_info(NULL, &info), -EINVAL);
	cr_assert_eq(wcp_pool_info(pool, NULL), -EINVAL);
	cr_assert_eq(wcp_pool_stats(NULL, &st), -EINVAL);
	cr_assert_eq(wcp_pool_stats(pool, NULL), -EINVAL);
	cr_assert_eq(wcp_pool_trim(NULL), -EINVAL);
	wcp_pool_destroy(pool);
}

Test(pool, many_pools_are_independent)
{
	struct wcp_pool *pools[16];
	void *p[16];

	for (int i = 0; i < 16; i++) {
		pools[i] = make_pool(WCP_PAGE_4K, 64 * MiB);
		p[i] = wcp_malloc(pools[i], 4096);
		cr_assert_not_null(p[i]);
		memset(p[i], i, 4096);
	}
	for (int i = 0; i < 16; i++) {
		for (int j = 0; j < 16; j++)
			cr_assert_eq(wcp_owns(pools[j], p[i]), i == j);
		cr_assert_eq(((unsigned char *)p[i])[4095], i);
	}
	for (int i = 0; i < 16; i++) {
		wcp_free(pools[i], p[i]);
		wcp_pool_destroy(pools[i]);
	}
}

/*
 * jemalloc has 4095 arenas in all and a pool takes more only when threads
 * share it: a process can hold thousands of single-threaded pools.  With
 * THP "always" (Debian's kernels) each arena's 2 MiB-aligned metadata block
 * gets a huge page, about 2 MiB a pool, so THP is off for this process.
 */
Test(pool, thousands_of_pools, .timeout = 120)
{
	enum { POOLS = 2500 };
	static struct wcp_pool *pools[POOLS];
	struct rlimit fds;

	cr_assert_eq(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0), 0);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &fds), 0);
	if (fds.rlim_cur < POOLS + 64) {
		fds.rlim_cur = fds.rlim_max < POOLS + 64 ? fds.rlim_max
							 : POOLS + 64;
		cr_assert_eq(setrlimit(RLIMIT_NOFILE, &fds), 0);
	}
	cr_assert_geq(fds.rlim_cur, POOLS + 64,
		      "a pool holds an fd: %d pools need a higher RLIMIT_NOFILE",
		      POOLS);
	for (int i = 0; i < POOLS; i++) {
		void *p;

		pools[i] = make_pool(WCP_PAGE_4K, 4 * MiB);
		p = wcp_malloc(pools[i], 64);
		cr_assert_not_null(p, "pool %d", i);
		wcp_free(pools[i], p);
	}
	for (int i = 0; i < POOLS; i++)
		wcp_pool_destroy(pools[i]);
}

/* The library says the version its header says, in both forms. */
Test(pool, version_matches_the_header)
{
	unsigned major = 99, minor = 99, patch = 99;
	char want[32];

	snprintf(want, sizeof(want), "%u.%u.%u", WCP_VERSION_MAJOR,
		 WCP_VERSION_MINOR, WCP_VERSION_PATCH);
	cr_assert_str_eq(wcp_version(&major, &minor, &patch), want);
	cr_assert_str_eq(WCP_VERSION_STRING, want);
	/* wcpool.ko's MODULE_VERSION and the DKMS package's, from the ABI. */
	cr_assert_str_eq(WCPOOL_VERSION, want);
	cr_assert_eq(major, WCP_VERSION_MAJOR);
	cr_assert_eq(minor, WCP_VERSION_MINOR);
	cr_assert_eq(patch, WCP_VERSION_PATCH);
	cr_assert_str_eq(wcp_version(NULL, NULL, NULL), want);
	cr_assert(WCP_CHECK_VERSION(0, 0, 0));
	cr_assert(WCP_CHECK_VERSION(WCP_VERSION_MAJOR, WCP_VERSION_MINOR,
				    WCP_VERSION_PATCH));
	cr_assert(!WCP_CHECK_VERSION(WCP_VERSION_MAJOR, WCP_VERSION_MINOR,
				     WCP_VERSION_PATCH + 1));
	cr_assert(!WCP_CHECK_VERSION(WCP_VERSION_MAJOR + 1, 0, 0));
}

/* Every man page names the version the header does (one version). */
Test(pool, man_pages_name_the_version)
{
	const char *srcdir = getenv("srcdir");
	char pattern[4096], want[64], line[512];
	glob_t g;
	size_t pages = 0;

	/* make check sets srcdir; a copy of the program (lib-suite's guest) has
	 * no source tree to read */
	if (!srcdir)
		cr_skip_test("no source tree: srcdir is not set");
	snprintf(pattern, sizeof(pattern), "%s/man/*.[37]", srcdir);
	snprintf(want, sizeof(want), "\"wcpool %u.%u\"", WCP_VERSION_MAJOR,
		 WCP_VERSION_MINOR);
	cr_assert_eq(glob(pattern, 0, NULL, &g), 0, "no man pages at %s",
		     pattern);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		FILE *f = fopen(g.gl_pathv[i], "r");

		cr_assert_not_null(f, "%s", g.gl_pathv[i]);
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, ".TH ", 4))
				continue;
			pages++;
			cr_expect_not_null(strstr(line, want), "%s: %s wants %s",
					   g.gl_pathv[i], line, want);
			break;
		}
		fclose(f);
	}
	globfree(&g);
	cr_assert_gt(pages, 10, "%zu man pages with a .TH line", pages);
}
