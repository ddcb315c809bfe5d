// SPDX-License-Identifier: MIT
/*
 * guest-frames: what a frame cycle costs wcpool.ko, as counts (make
 * bench-guest runs it in the QEMU guest, where times mean nothing under
 * TCG but counts are exact).
 *
 *   guest-frames [-n CYCLES] [-v WIDTHxHEIGHT] [-o WIDTHxHEIGHT]
 *
 * For 1080p and 4K NV12 frames on a WC pool of wcpool.ko: a cold phase
 * (the first 16 cycles of a new pool) and a warm one (CYCLES more), each
 * cycle wcp_malloc, wcp_fill of every byte, wcp_free.  Per 1000 cycles it
 * reports the module's linear-map conversions, pages taken from the page
 * allocator and pages zeroed for the recycle pools (debugfs deltas), and
 * the process's minor page faults.  One JSON object per line.
 *
 * With -v (vicodec.ko loaded): the frame loop of guest_loop.c, frames of
 * WIDTHxHEIGHT YUV420 handed to vicodec's encoder as dma-bufs, CYCLES
 * cycles in each mode (reuse, reregister, new): counts per frame.  With
 * -o the same through vivid's video output, WIDTHxHEIGHT YUYV (vivid
 * loaded with allocators=1: vb2-dma-contig, which attaches and DMA-maps).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "guest_frames.h"
#include "stat.h"

#define COLD 16

struct counts {
	long converted, allocated, cleared, minflt;
};

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
	unsigned n = 1000, vw = 0, vh = 0, ow = 0, oh = 0;
	struct utsname u;
	int opt;

	while ((opt = getopt(argc, argv, "n:v:o:")) != -1) {
		if (opt == 'n') {
			n = (unsigned)strtoul(optarg, NULL, 0);
		} else if (opt == 'v' && sscanf(optarg, "%ux%u", &vw, &vh) == 2) {
			continue;
		} else if (opt == 'o' && sscanf(optarg, "%ux%u", &ow, &oh) == 2) {
			continue;
		} else {
			fprintf(stderr, "usage: %s [-n CYCLES] [-v WIDTHxHEIGHT] [-o WIDTHxHEIGHT]\n",
				argv[0]);
			return 2;
		}
	}
	if (!n || stat_get("converted") < 0 || stat_get("allocated") < 0) {
		fprintf(stderr, "guest-frames: no cycles, or no %s with the counters\n",
			WCPOOL_STATS);
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
	for (int m = GUEST_REUSE; vw && m <= GUEST_NEW; m++)
		if (guest_loop(u.release, GUEST_VICODEC, vw, vh, m, n))
			return 1;
	for (int m = GUEST_REUSE; ow && m <= GUEST_NEW; m++)
		if (guest_loop(u.release, GUEST_VIVID, ow, oh, m, n))
			return 1;
	return 0;
}
