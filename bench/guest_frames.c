// SPDX-License-Identifier: MIT
/*
 * guest-frames: what a frame cycle costs wcpool.ko, as counts (make
 * bench-guest runs it in the QEMU guest, where times mean nothing under
 * TCG but counts are exact).
 *
 *   guest-frames [-n CYCLES]
 *
 * For 1080p and 4K NV12 frames on a WC pool of wcpool.ko: a cold phase
 * (the first 16 cycles of a new pool) and a warm one (CYCLES more), each
 * cycle wcp_malloc, wcp_fill of every byte, wcp_free.  Per 1000 cycles it
 * reports the module's linear-map conversions, pages taken from the page
 * allocator and pages zeroed for the recycle pools (debugfs deltas), and
 * the process's minor page faults.  One JSON object per line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "wcpool.h"

#define STATS "/sys/kernel/debug/wcpool/stats"
#define COLD 16

struct counts {
	long converted, allocated, cleared, minflt;
};

static long stat_get(const char *name)
{
	char key[64];
	long val, ret = -1;
	FILE *f = fopen(STATS, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2)
		if (!strcmp(key, name))
			ret = val;
	fclose(f);
	return ret;
}

static void snapshot(struct counts *c)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	c->converted = stat_get("converted");
	c->allocated = stat_get("allocated");
	c->cleared = stat_get("cleared");
	c->minflt = ru.ru_minflt;
}

/* @n cycles of a @size frame; false if an allocation failed. */
static bool cycles(struct wcp_pool *pool, size_t size, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		void *p = wcp_malloc(pool, size);

		if (!p)
			return false;
		wcp_fill(pool, p, (int)i, size);
		wcp_free(pool, p);
	}
	return true;
}

static void report(const char *kernel, const char *frame, size_t size,
		   const char *phase, unsigned n, const struct counts *a,
		   const struct counts *b)
{
	double k = 1000.0 / n;

	printf("{\"kernel\": \"%s\", \"frame\": \"%s\", \"size\": %zu, "
	       "\"policy\": \"wc\", \"phase\": \"%s\", \"cycles\": %u, "
	       "\"per_1000\": {\"conversions\": %.1f, \"page_allocs\": %.1f, "
	       "\"pages_cleared\": %.1f, \"minor_faults\": %.1f}}\n",
	       kernel, frame, size, phase, n,
	       (b->converted - a->converted) * k,
	       (b->allocated - a->allocated) * k,
	       (b->cleared - a->cleared) * k, (b->minflt - a->minflt) * k);
}

int main(int argc, char **argv)
{
	static const struct { const char *name; size_t size; } frames[] = {
		{ "1080p-nv12", 1920 * 1080 * 3 / 2 },
		{ "4k-nv12", 3840 * 2160 * 3 / 2 },
	};
	unsigned n = 1000;
	struct utsname u;
	int opt;

	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt != 'n') {
			fprintf(stderr, "usage: %s [-n CYCLES]\n", argv[0]);
			return 2;
		}
		n = (unsigned)strtoul(optarg, NULL, 0);
	}
	if (!n || stat_get("converted") < 0 || stat_get("allocated") < 0) {
		fprintf(stderr, "guest-frames: no cycles, or no %s with the counters\n",
			STATS);
		return 1;
	}
	uname(&u);
	for (size_t f = 0; f < sizeof(frames) / sizeof(frames[0]); f++) {
		struct wcp_pool_options o = {
			.backend = WCP_BACKEND_MODULE, .policy = WCP_POLICY_WC,
			.page_size = WCP_PAGE_2M,
		};
		struct counts a, b, c;
		struct wcp_pool *pool;
		int err = wcp_pool_create(&o, &pool);

		if (err) {
			fprintf(stderr, "guest-frames: wcp_pool_create: %s\n",
				strerror(-err));
			return 1;
		}
		snapshot(&a);
		if (!cycles(pool, frames[f].size, COLD))
			return 1;
		snapshot(&b);
		if (!cycles(pool, frames[f].size, n))
			return 1;
		snapshot(&c);
		report(u.release, frames[f].name, frames[f].size, "cold", COLD,
		       &a, &b);
		report(u.release, frames[f].name, frames[f].size, "warm", n,
		       &b, &c);
		wcp_pool_destroy(pool);
	}
	return 0;
}
