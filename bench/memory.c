// SPDX-License-Identifier: MIT
/*
 * The memory the cases run on: ordinary 4 KiB pages, MAP_HUGETLB pages and
 * wcpool pools, with the labels the report gives them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

void *anon_4k(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, size, MADV_NOHUGEPAGE);
	memset(p, 1, size);
	return p;
}

void anon_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

void *hugetlb_map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 1, size);
	return p;
}

size_t page_size_at(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	uintptr_t a = (uintptr_t)p, lo, hi;
	bool in = false;
	char line[512];
	size_t kib = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		/* a mapping's first line: "lo-hi perms ..." */
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && sscanf(line, "KernelPageSize: %zu kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib * KiB;
}

struct wcp_pool *bench_pool(void)
{
	struct wcp_pool_options o = { .flags = WCP_POOL_ALLOW_WB_FALLBACK };
	struct wcp_pool *pool = NULL;
	int err = wcp_pool_create(&o, &pool);

	if (err) {
		progress("wcp_pool_create: %s", strerror(-err));
		return NULL;
	}
	return pool;
}

size_t bench_pools(struct wcp_pool **pools, size_t max)
{
	static const uint32_t policies[] = { WCP_POLICY_WC, WCP_POLICY_UC,
					     WCP_POLICY_WB };
	size_t n = 0;

	if (access("/dev/wcpool", F_OK)) {
		pools[0] = bench_pool();
		return pools[0] ? 1 : 0;
	}
	for (size_t i = 0; i < 3 && n < max; i++) {
		struct wcp_pool_options o = { .backend = WCP_BACKEND_MODULE,
					      .policy = policies[i] };
		int err = wcp_pool_create(&o, &pools[n]);

		if (!err)
			n++;
		else
			bench_skip("pools", policy_name(policies[i]), strerror(-err));
	}
	if (n < max) {
		struct wcp_pool_options o = { .backend = WCP_BACKEND_MEMFD };

		if (!wcp_pool_create(&o, &pools[n]))
			n++;
	}
	return n;
}

const char *backend_name(uint32_t b)
{
	return b == WCP_BACKEND_MODULE ? "module" :
	       b == WCP_BACKEND_MEMFD  ? "memfd" : "?";
}

const char *policy_name(uint32_t p)
{
	return p == WCP_POLICY_WC ? "WC" : p == WCP_POLICY_UC ? "UC" :
	       p == WCP_POLICY_WB ? "WB" : "?";
}

const char *pool_label(const struct wcp_pool *pool, char *buf, size_t len)
{
	struct wcp_pool_info info;

	wcp_pool_info(pool, &info);
	snprintf(buf, len, "%s-%s-%s", backend_name(info.backend),
		 policy_name(info.policy),
		 info.page_size >= GiB ? "1G" :
		 info.page_size >= MiB ? "2M" : "4K");
	return buf;
}
