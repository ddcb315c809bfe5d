// SPDX-License-Identifier: MIT
/*
 * Pools of physically contiguous runs (wcp_pool_options.contig_size) and
 * what wcp_pool_info reports of a pool's placement (addr_bits,
 * contig_size).
 *
 * Everywhere: bad run sizes are -EINVAL before any backend is asked, the
 * memfd backend cannot make runs (-EOPNOTSUPP), and a memfd pool reports
 * no address limit and no runs.  Against wcpool.ko (tests/kernel/lib-suite
 * runs this program in QEMU on Debian 6.1 and 6.12, as root): the module's
 * address limit and run size as reported; on 6.12 pools of 4 MiB and
 * 12 MiB runs whose allocations (wcp_malloc's small blocks, frames) lie in
 * physically contiguous runs, read from /proc/self/pagemap, and whose runs
 * stay whole when memory goes back; on 6.1, whose alloc_contig_range()
 * cannot make the module's compound pages, -EOPNOTSUPP from the module.
 * Without /dev/wcpool the module's tests are skipped (the QEMU runs have it).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "helpers.h"

#define PM_PFN_MASK ((UINT64_C(1) << 55) - 1)
#define PM_PRESENT (UINT64_C(1) << 63)

static int create(struct wcp_pool_options o, struct wcp_pool **pool)
{
	return wcp_pool_create(&o, pool);
}

/* Every byte of [p, p + len) is @v. */
static bool all_bytes(const void *p, size_t len, int v)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < len; i++)
		if (c[i] != (unsigned char)v)
			return false;
	return true;
}

static bool have_module(void)
{
	return access("/dev/wcpool", F_OK) == 0;
}

/* The running kernel's version as major * 1000 + minor (6.12: 6012). */
static int kernel_series(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	cr_assert_eq(uname(&u), 0);
	cr_assert_eq(sscanf(u.release, "%d.%d", &major, &minor), 2,
		     "release %s", u.release);
	return major * 1000 + minor;
}

/*
 * Does wcpool.ko make runs here?  Linux 6.12 does and 6.1 does not (its
 * alloc_contig_range() returns order-0 pages), which the tests hold it
 * to; a kernel in between is taken at the module's word.
 */
static bool runs_expected(bool module_made_one)
{
	int series = kernel_series();

	if (series >= 6012)
		return true;
	if (series <= 6001)
		return false;
	return module_made_one;
}

Test(contig, bad_run_sizes_are_einval_before_any_backend)
{
	static const uint64_t bad[] = {
		1, 4096, 1 * MiB, 3 * MiB, 2 * MiB + 4096, WCP_CONTIG_MAX + 2 * MiB,
		2 * GiB, UINT64_MAX, UINT64_MAX - 2 * MiB + 1,
	};
	/* The module backend without /dev/wcpool would say -ENODEV, the
	 * memfd backend -EOPNOTSUPP: -EINVAL comes before either. */
	static const uint32_t backends[] = { WCP_BACKEND_AUTO,
		WCP_BACKEND_MODULE, WCP_BACKEND_MEMFD };

	for (size_t b = 0; b < 3; b++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct wcp_pool *pool = (struct wcp_pool *)1;

			cr_assert_eq(create((struct wcp_pool_options){
				.backend = backends[b],
				.contig_size = bad[i] }, &pool), -EINVAL,
				"backend %u, contig_size %#llx", backends[b],
				(unsigned long long)bad[i]);
			cr_assert_null(pool);
		}
	}
}

Test(contig, reserved_options_must_be_zero)
{
	for (int i = 0; i < 3; i++) {
		struct wcp_pool_options o = { .backend = WCP_BACKEND_MEMFD };
		struct wcp_pool *pool = (struct wcp_pool *)1;

		o.reserved[i] = 1;
		cr_assert_eq(wcp_pool_create(&o, &pool), -EINVAL, "reserved[%d]", i);
		cr_assert_null(pool);
	}
}

/* Runs need wcpool.ko, whose pages are 2 MiB. */
Test(contig, memfd_and_other_page_sizes_are_eopnotsupp)
{
	static const uint64_t sizes[] = { 2 * MiB, 4 * MiB, 12 * MiB,
					  WCP_CONTIG_MAX };
	struct wcp_pool *pool = (struct wcp_pool *)1;

	for (size_t i = 0; i < 4; i++) {
		cr_assert_eq(create((struct wcp_pool_options){
			.backend = WCP_BACKEND_MEMFD,
			.contig_size = sizes[i] }, &pool), -EOPNOTSUPP);
		cr_assert_null(pool);
		cr_assert_eq(create((struct wcp_pool_options){
			.backend = WCP_BACKEND_MEMFD,
			.flags = WCP_POOL_ALLOW_WB_FALLBACK,
			.page_size = WCP_PAGE_4K,
			.contig_size = sizes[i] }, &pool), -EOPNOTSUPP);
		cr_assert_eq(create((struct wcp_pool_options){
			.page_size = WCP_PAGE_1G,
			.contig_size = sizes[i] }, &pool), -EOPNOTSUPP);
		cr_assert_eq(create((struct wcp_pool_options){
			.backend = WCP_BACKEND_MODULE,
			.page_size = WCP_PAGE_4K,
			.contig_size = sizes[i] }, &pool), -EOPNOTSUPP);
		cr_assert_null(pool);
	}
	/* The automatic backend takes the module for runs, or fails. */
	if (!have_module()) {
		cr_assert_eq(create((struct wcp_pool_options){
			.contig_size = 4 * MiB }, &pool), -EOPNOTSUPP);
		cr_assert_eq(create((struct wcp_pool_options){
			.backend = WCP_BACKEND_MODULE,
			.contig_size = 4 * MiB }, &pool), -ENODEV);
		cr_assert_null(pool);
	}
}

/* A memfd pool: no address limit, no runs; every new field written. */
Test(contig, memfd_info_reports_no_limit_and_no_runs)
{
	static const uint32_t bits[] = { 0, 64 };

	for (size_t i = 0; i < 2; i++) {
		struct wcp_pool *pool = NULL;
		struct wcp_pool_info info;

		memset(&info, 0xff, sizeof(info));
		cr_assert_eq(create((struct wcp_pool_options){
			.backend = WCP_BACKEND_MEMFD,
			.addr_bits = bits[i] }, &pool), 0);
		cr_assert_eq(wcp_pool_info(pool, &info), 0);
		cr_assert_eq(info.backend, WCP_BACKEND_MEMFD);
		cr_assert_eq(info.addr_bits, 0);
		cr_assert_eq(info.contig_size, 0);
		cr_assert_eq(info.reserved0, 0);
		for (int r = 0; r < 4; r++)
			cr_assert_eq(info.reserved[r], 0);
		wcp_pool_destroy(pool);
	}
}

/* The module's address limit as it reports it, on both kernels. */
Test(contig, module_info_reports_the_address_limit)
{
	static const struct { uint32_t flags, bits, want; } c[] = {
		{ 0, 0, 0 }, { 0, 30, 30 }, { WCP_POOL_DMA32, 0, 32 },
		{ WCP_POOL_DMA32, 32, 32 }, { 0, 40, 40 }, { 0, 64, 64 },
	};

	if (!have_module())
		cr_skip_test("no /dev/wcpool (lib-suite runs this in QEMU)");
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct wcp_pool *pool = NULL;
		struct wcp_pool_info info;

		memset(&info, 0xff, sizeof(info));
		cr_assert_eq(create((struct wcp_pool_options){
			.policy = test_policy(), .flags = c[i].flags,
			.addr_bits = c[i].bits, .max_size = 64 * MiB }, &pool),
			0, "flags %#x addr_bits %u", c[i].flags, c[i].bits);
		cr_assert_eq(wcp_pool_info(pool, &info), 0);
		cr_assert_eq(info.backend, WCP_BACKEND_MODULE);
		cr_assert_eq(info.addr_bits, c[i].want, "asked %u got %u",
			     c[i].bits, info.addr_bits);
		cr_assert_eq(info.contig_size, 0);
		cr_assert_eq(info.reserved0, 0);
		wcp_pool_destroy(pool);
	}
}

/* A pool of runs, or NULL where the kernel makes none (checked). */
static struct wcp_pool *runs_pool(uint64_t run, uint32_t flags,
				  uint64_t max_size)
{
	struct wcp_pool *pool = (struct wcp_pool *)1;
	int fds = count_fds();
	int err = create((struct wcp_pool_options){
		.policy = test_policy(), .flags = flags, .contig_size = run,
		.max_size = max_size }, &pool);

	cr_assert(err == 0 || err == -EOPNOTSUPP, "wcp_pool_create: %d", err);
	if (runs_expected(err == 0)) {
		cr_assert_eq(err, 0, "no %llu MiB runs on this kernel",
			     (unsigned long long)(run / MiB));
		return pool;
	}
	cr_assert_eq(err, -EOPNOTSUPP, "runs on a kernel without them");
	cr_assert_null(pool);
	cr_assert_eq(count_fds(), fds, "a failed create left an fd");
	return NULL;
}

/*
 * Each 4 KiB page of [p, p + len): touched, then its physical address
 * must be its run's start plus its offset in the run, the run's start
 * aligned to the largest power of two that divides the run size, and
 * below 2^@bits when @bits is set.  Return: where the first run starts.
 */
static uint64_t assert_in_runs(struct wcp_pool *pool, void *p, size_t len,
			       uint64_t run, unsigned bits)
{
	uint64_t first = wcp_offset(pool, p) & ~(uint64_t)4095;
	uint64_t end = (wcp_offset(pool, p) + len + 4095) & ~(uint64_t)4095;
	size_t n = (end - first) / 4096, nruns = (end - 1) / run - first / run + 1;
	volatile char *base = (char *)p - (wcp_offset(pool, p) - first);
	uint64_t *pm = calloc(n, sizeof(*pm)), *start = calloc(nruns, 8), s0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	cr_assert(pm && start && fd >= 0);
	for (size_t i = 0; i < n; i++)
		base[i * 4096] = base[i * 4096];
	cr_assert_eq(pread(fd, pm, n * 8, (off_t)((uintptr_t)base / 4096 * 8)),
		     (ssize_t)(n * 8));
	close(fd);
	for (size_t i = 0; i < n; i++) {
		uint64_t off = first + i * 4096, pa, s;
		size_t r = off / run - first / run;

		cr_assert(pm[i] & PM_PRESENT, "page at offset %#llx not present",
			  (unsigned long long)off);
		cr_assert_neq(pm[i] & PM_PFN_MASK, 0, "no PFN (not root?)");
		pa = (pm[i] & PM_PFN_MASK) * 4096;
		s = pa - off % run;
		if (!start[r]) {
			cr_assert_eq(s % (run & -run), 0,
				     "run at %#llx not aligned to %llu MiB",
				     (unsigned long long)s,
				     (unsigned long long)((run & -run) / MiB));
			start[r] = s;
		}
		cr_assert_eq(s, start[r],
			     "offset %#llx at %#llx: not in its run at %#llx",
			     (unsigned long long)off, (unsigned long long)pa,
			     (unsigned long long)start[r]);
		if (bits)
			cr_assert_lt(pa, UINT64_C(1) << bits);
	}
	free(pm);
	s0 = start[0];
	free(start);
	return s0;
}

/*
 * 4 MiB and 12 MiB runs (the latter below 4 GiB, WCP_POOL_DMA32): the
 * info says so, and every allocation's pages lie at their places in
 * physically contiguous runs; a buffer aligned to a 4 MiB run and as
 * long is one.
 */
Test(contig, allocations_lie_in_contiguous_runs)
{
	static const struct { uint64_t run; uint32_t flags; } c[] = {
		{ 4 * MiB, 0 }, { 12 * MiB, WCP_POOL_DMA32 },
	};

	if (!have_module())
		cr_skip_test("no /dev/wcpool (lib-suite runs this in QEMU)");
	for (size_t i = 0; i < 2; i++) {
		uint64_t run = c[i].run;
		unsigned bits = c[i].flags ? 32 : 0;
		struct wcp_pool *pool = runs_pool(run, c[i].flags, 4 * run);
		size_t sizes[] = { 100, 5000, 64 * KiB, 3 * MiB, run - 2 * MiB };
		struct wcp_pool_info info;
		struct wcp_pool_stats st;
		uint64_t at;
		void *p[6];

		if (!pool)
			continue;
		cr_assert_eq(wcp_pool_info(pool, &info), 0);
		cr_assert_eq(info.backend, WCP_BACKEND_MODULE);
		cr_assert_eq(info.contig_size, run);
		cr_assert_eq(info.addr_bits, bits);
		cr_assert_eq(info.max_size, 4 * run);
		cr_assert_eq((uintptr_t)info.base % (run & -run), 0,
			     "reservation aligned as the runs are");
		for (size_t j = 0; j < 5; j++) {
			p[j] = wcp_malloc(pool, sizes[j]);
			cr_assert_not_null(p[j], "wcp_malloc(%zu)", sizes[j]);
			memset(p[j], (int)j + 1, sizes[j]);
			at = assert_in_runs(pool, p[j], sizes[j], run, bits);
			printf("  %llu MiB runs: %zu bytes at offset %#llx, "
			       "its run at %#llx\n",
			       (unsigned long long)(run / MiB), sizes[j],
			       (unsigned long long)wcp_offset(pool, p[j]),
			       (unsigned long long)at);
		}
		p[5] = NULL;
		if (run == 4 * MiB) {
			/* One run exactly: contiguous from its first byte. */
			p[5] = wcp_aligned_alloc(pool, run, run);
			cr_assert_not_null(p[5]);
			cr_assert_eq(wcp_offset(pool, p[5]) % run, 0);
			assert_in_runs(pool, p[5], run, run, bits);
		}
		for (size_t j = 0; j < 5; j++)
			cr_assert(all_bytes(p[j], sizes[j], (int)j + 1));
		cr_assert_eq(wcp_pool_stats(pool, &st), 0);
		cr_assert_gt(st.resident, 0);
		cr_assert_eq(st.resident % run, 0, "resident %llu: whole runs",
			     (unsigned long long)st.resident);
		for (size_t j = 0; j < 6; j++)
			wcp_free(pool, p[j]);
		wcp_pool_destroy(pool);
	}
}

/*
 * A run goes back whole or not at all: with two 2 MiB frames in each of
 * two 4 MiB runs, freeing one frame and trimming keeps all 8 MiB (a run
 * released in part could never grow again: wcpool.ko grows whole runs
 * only), the freed page is reused (zeroed for calloc: its old bytes
 * stayed), and once everything is freed the trim gives all of it back
 * and the runs grow again.
 */
Test(contig, runs_go_back_whole_and_grow_again)
{
	struct wcp_pool *pool;
	struct wcp_pool_stats st;
	void *p[4];

	if (!have_module())
		cr_skip_test("no /dev/wcpool (lib-suite runs this in QEMU)");
	pool = runs_pool(4 * MiB, 0, 8 * MiB);
	if (!pool)
		return;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 4; i++) {
			p[i] = wcp_malloc(pool, 2 * MiB);
			cr_assert_not_null(p[i], "round %d frame %d", round, i);
			memset(p[i], i + 1, 2 * MiB);
		}
		cr_assert_eq(wcp_pool_stats(pool, &st), 0);
		cr_assert_eq(st.resident, 8 * MiB);
		wcp_free(pool, p[1]);
		cr_assert_eq(wcp_pool_trim(pool), 0);
		cr_assert_eq(wcp_pool_stats(pool, &st), 0);
		cr_assert_eq(st.resident, 8 * MiB, "resident %llu: a run went "
			     "back in part", (unsigned long long)st.resident);
		/* Its old bytes stayed with the run: calloc clears them. */
		p[1] = wcp_calloc(pool, 1, 2 * MiB);
		cr_assert_not_null(p[1], "the freed page again");
		cr_assert(all_bytes(p[1], 2 * MiB, 0), "calloc: old bytes");
		memset(p[1], 9, 2 * MiB);
		for (int i = 0; i < 4; i++)
			assert_in_runs(pool, p[i], 2 * MiB, 4 * MiB, 0);
		for (int i = 0; i < 4; i++)
			wcp_free(pool, p[i]);
		cr_assert_eq(wcp_pool_trim(pool), 0);
		cr_assert_eq(wcp_pool_stats(pool, &st), 0);
		cr_assert_eq(st.resident, 0, "resident %llu after the trim",
			     (unsigned long long)st.resident);
	}
	wcp_pool_destroy(pool);
}

/* An imported view of a pool of runs reports what the module says. */
Test(contig, imported_view_reports_the_runs)
{
	struct wcp_pool *pool, *view = NULL;
	struct wcp_pool_share share;
	struct wcp_pool_info info;
	int fd;

	if (!have_module())
		cr_skip_test("no /dev/wcpool (lib-suite runs this in QEMU)");
	pool = runs_pool(12 * MiB, WCP_POOL_DMA32, 0);
	if (!pool)
		return;
	cr_assert_eq(wcp_pool_info(pool, &info), 0);
	/* The default reservation, rounded up to whole runs. */
	cr_assert_eq(info.max_size % (12 * MiB), 0);
	cr_assert_geq(info.max_size, WCP_DEFAULT_MAX_SIZE);
	cr_assert_lt(info.max_size, WCP_DEFAULT_MAX_SIZE + 12 * MiB);
	fd = wcp_pool_export(pool, 0, &share);
	cr_assert_geq(fd, 0);
	cr_assert_eq(wcp_pool_import(fd, &share, 0, &view), 0);
	close(fd);
	memset(&info, 0xff, sizeof(info));
	cr_assert_eq(wcp_pool_info(view, &info), 0);
	cr_assert(info.imported);
	cr_assert_eq(info.contig_size, 12 * MiB);
	cr_assert_eq(info.addr_bits, 32);
	wcp_pool_destroy(view);
	wcp_pool_destroy(pool);
}
