// SPDX-License-Identifier: MIT
/*
 * Registration: every constraint is checked the same way on every backend;
 * with wcpool.ko behind the pool the range comes back as a dma-buf of
 * exactly those bytes (udmabuf's on a memfd pool where the kernel has it),
 * elsewhere as a clear -EOPNOTSUPP.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "helpers.h"

static struct wcp_pool *pool;
static struct wcp_pool_info info;

static void setup(void)
{
	pool = make_pool(0, 0);
	wcp_pool_info(pool, &info);
}

static void teardown(void)
{
	wcp_pool_destroy(pool);
}

TestSuite(reg, .init = setup, .fini = teardown);

static int reg_with(void *p, size_t len, struct wcp_register_options o)
{
	struct wcp_registration *r = (struct wcp_registration *)1;
	int err = wcp_register(pool, p, len, &o, &r);

	if (err)
		cr_assert_null(r, "failed registration leaves NULL");
	else
		wcp_unregister(pool, r);
	return err;
}

static int reg(void *p, size_t len)
{
	return reg_with(p, len, (struct wcp_register_options){ 0 });
}

Test(reg, bad_ranges_are_einval)
{
	char *p = wcp_aligned_alloc(pool, 4096, 64 * 4096);

	cr_assert_not_null(p);
	cr_assert_eq(reg(p + 1, 4096), -EINVAL, "unaligned start");
	cr_assert_eq(reg(p, 0), -EINVAL, "empty");
	cr_assert_eq(reg(p, 100), -EINVAL, "length not whole pages");
	cr_assert_eq(reg(p, SIZE_MAX & ~(size_t)4095), -EINVAL, "wraps");
	cr_assert_eq(wcp_register(NULL, p, 4096, NULL, NULL), -EINVAL);
	wcp_free(pool, p);
}

Test(reg, bad_options_are_einval)
{
	char *p = wcp_aligned_alloc(pool, 4096, 4096);
	uintptr_t misaligned = (uintptr_t)p % (2 * MiB) ? 2 * MiB : 4 * MiB;

	cr_assert_eq(reg_with(p, 4096, (struct wcp_register_options){
		.access = 1u << 5 }), -EINVAL);
	cr_assert_eq(reg_with(p, 4096, (struct wcp_register_options){
		.policy = 9 }), -EINVAL);
	cr_assert_eq(reg_with(p, 4096, (struct wcp_register_options){
		.align = 3 }), -EINVAL);
	cr_assert_eq(reg_with(p, 4096, (struct wcp_register_options){
		.addr_bits = 11 }), -EINVAL);
	cr_assert_eq(reg_with(p, 4096, (struct wcp_register_options){
		.addr_bits = 65 }), -EINVAL);
	cr_assert_eq(reg_with(p, 4096, (struct wcp_register_options){
		.max_seg_size = 4096 + 512 }), -EINVAL);
	cr_assert_eq(reg_with(p, 4096, (struct wcp_register_options){
		.max_seg_size = 2 * WCP_PAGE_1G }), -EINVAL);
	/* A start that misses the device's alignment. */
	if ((uintptr_t)p % misaligned)
		cr_assert_eq(reg_with(p, 4096, (struct wcp_register_options){
			.align = misaligned }), -EINVAL);
	wcp_free(pool, p);
}

Test(reg, memory_outside_the_pool_is_erange)
{
	void *heap = aligned_alloc(4096, 4096);
	char *p = wcp_aligned_alloc(pool, 4096, 4096);
	struct wcp_pool_stats st;

	cr_assert_eq(reg(heap, 4096), -ERANGE, "not pool memory");
	wcp_pool_stats(pool, &st);
	cr_assert_eq(reg(p, st.mapped + 4096), -ERANGE, "runs past the pool");
	cr_assert_eq(reg((char *)info.base + info.max_size - 4096, 4096), -ERANGE,
		     "not mapped yet");
	free(heap);
	wcp_free(pool, p);
}

Test(reg, policy_mismatch_is_eacces)
{
	char *p = wcp_aligned_alloc(pool, 4096, 4096);
	uint32_t other = info.policy == WCP_POLICY_WB ? WCP_POLICY_WC
						      : WCP_POLICY_WB;

	cr_assert_eq(reg_with(p, 4096, (struct wcp_register_options){
		.policy = other }), -EACCES);
	wcp_free(pool, p);
}

Test(reg, unregister_checks_its_argument)
{
	struct wcp_pool *other = make_pool(WCP_PAGE_4K, 64 * MiB);
	char *p = wcp_aligned_alloc(pool, 4096, 8192);
	struct wcp_registration *r;
	int err = wcp_register(pool, p, 8192, NULL, &r);

	cr_assert_eq(wcp_unregister(pool, NULL), -ENOENT);
	if (info.export_path == WCP_EXPORT_NONE) {
		cr_assert_eq(err, -EOPNOTSUPP, "no dma-buf exporter here");
	} else {
		cr_assert_eq(err, 0);
		cr_assert_eq(wcp_unregister(other, r), -ENOENT, "wrong pool");
		cr_assert_eq(wcp_unregister(pool, r), 0);
		cr_assert_eq(wcp_unregister(pool, r), -ENOENT, "double unregister");
	}
	wcp_free(pool, p);
	wcp_pool_destroy(other);
}

/* With the module: a dma-buf of exactly the range, in few segments. */
Test(reg, dma_buf_of_the_range)
{
	size_t len = 8 * MiB;
	unsigned char *p = wcp_aligned_alloc(pool, 2 * MiB, len), *m;
	struct wcp_registration *r;
	struct wcp_segment seg[16];
	uint64_t total = 0;
	int n;

	if (info.export_path == WCP_EXPORT_NONE)
		cr_skip_test("dma-buf export needs wcpool.ko or udmabuf (the QEMU suites run both)");
	fill_pattern(p, len, 5);
	cr_assert_eq(wcp_register(pool, p, len, &(struct wcp_register_options){
		.access = WCP_ACCESS_READ, .align = 2 * MiB,
		.policy = info.policy }, &r), 0);
	cr_assert_geq(wcp_registration_fd(r), 0);
	n = wcp_registration_segments(r, seg, 16);
	if (info.export_path == WCP_EXPORT_UDMABUF) {
		cr_assert_eq(n, -EOPNOTSUPP, "udmabuf does not tell");
		n = 1;
		seg[0] = (struct wcp_segment){ 0, len };
	}
	cr_assert_geq(n, 1);
	cr_assert_leq(n, 4, "2 MiB pages: at most one run each");
	for (int i = 0; i < n; i++) {
		cr_assert_eq(seg[i].offset, total);
		total += seg[i].length;
	}
	cr_assert_eq(total, len);
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, wcp_registration_fd(r), 0);
	cr_assert_neq(m, MAP_FAILED);
	cr_assert(check_pattern(m, len, 5), "the dma-buf holds the pool's bytes");
	munmap(m, len);
	cr_assert_eq(wcp_unregister(pool, r), 0);
	wcp_free(pool, p);
}

/*
 * Device constraints: wcpool.ko checks them against the pages and cuts
 * runs at max_seg_size; elsewhere nothing can see the pages: -EOPNOTSUPP.
 */
Test(reg, device_constraints)
{
	size_t len = 8 * MiB;
	unsigned char *p = wcp_aligned_alloc(pool, 2 * MiB, len);
	struct wcp_registration *r;
	struct wcp_segment seg[256];
	int n, runs;

	cr_assert_not_null(p);
	if (info.export_path != WCP_EXPORT_MODULE) {
		cr_assert_eq(reg_with(p, len, (struct wcp_register_options){
			.addr_bits = 64 }), -EOPNOTSUPP);
		cr_assert_eq(reg_with(p, len, (struct wcp_register_options){
			.max_segments = 1 }), -EOPNOTSUPP);
		cr_assert_eq(reg_with(p, len, (struct wcp_register_options){
			.max_seg_size = 64 * KiB }), -EOPNOTSUPP);
		wcp_free(pool, p);
		return;
	}
	cr_assert_eq(wcp_register(pool, p, len, NULL, &r), 0);
	runs = wcp_registration_segments(r, seg, 256);
	cr_assert_geq(runs, 1);
	cr_assert_eq(wcp_unregister(pool, r), 0);

	/* Runs cut at 64 KiB: exactly len / 64 KiB of them. */
	cr_assert_eq(wcp_register(pool, p, len, &(struct wcp_register_options){
		.max_seg_size = 64 * KiB }, &r), 0);
	n = wcp_registration_segments(r, seg, 256);
	cr_assert_eq(n, (int)(len / (64 * KiB)));
	for (int i = 0; i < n; i++)
		cr_assert_eq(seg[i].length, 64 * KiB);
	cr_assert_eq(wcp_unregister(pool, r), 0);

	/*
	 * As many runs as the pages make; fewer allowed: where wcpool.ko
	 * makes contiguous runs (its wcpool-wc-contig heap exists: 6.12),
	 * REGISTER moves the range into one run (kernel/wcpool_move.c),
	 * elsewhere (6.1) -ERANGE.
	 */
	cr_assert_eq(reg_with(p, len, (struct wcp_register_options){
		.max_segments = (uint32_t)runs }), 0);
	if (runs > 1 && access("/dev/dma_heap/wcpool-wc-contig", F_OK)) {
		cr_assert_eq(reg_with(p, len, (struct wcp_register_options){
			.max_segments = (uint32_t)runs - 1 }), -ERANGE);
	} else if (runs > 1) {
		size_t i = 0;

		memset(p, 0x5a, len);
		cr_assert_eq(wcp_register(pool, p, len,
			&(struct wcp_register_options){ .max_segments = 1 },
			&r), 0);
		cr_assert_eq(wcp_registration_segments(r, seg, 256), 1);
		cr_assert_eq(wcp_unregister(pool, r), 0);
		while (i < len && p[i] == 0x5a)
			i++;
		cr_assert_eq(i, len, "moved: every byte kept");
	}
	/* Every page is below 2^64; none below 4 KiB. */
	cr_assert_eq(reg_with(p, len, (struct wcp_register_options){
		.addr_bits = 64 }), 0);
	cr_assert_eq(reg_with(p, len, (struct wcp_register_options){
		.addr_bits = 12 }), -ERANGE);
	wcp_free(pool, p);
}

/* A DMA32 pool: wcpool.ko's pages below 4 GiB, else -EOPNOTSUPP. */
Test(dma32, pages_below_4g_or_eopnotsupp)
{
	struct wcp_pool_options o = { .flags = WCP_POOL_DMA32 };
	struct wcp_pool *p32;
	void *b;
	int err = wcp_pool_create(&o, &p32);

	o.backend = WCP_BACKEND_MEMFD;
	cr_assert_eq(wcp_pool_create(&o, &pool), -EOPNOTSUPP);
	if (access("/dev/wcpool", F_OK)) {
		cr_assert_eq(err, -EOPNOTSUPP);
		return;
	}
	cr_assert_eq(err, 0);
	b = wcp_aligned_alloc(p32, 2 * MiB, 6 * MiB);
	cr_assert_not_null(b);
	pool = p32;
	cr_assert_eq(reg_with(b, 6 * MiB, (struct wcp_register_options){
		.addr_bits = 32 }), 0);
	wcp_free(p32, b);
	wcp_pool_destroy(p32);
}

/*
 * A pool below 2^30 (addr_bits): wcpool.ko's pages all below 1 GiB, which
 * a registration with the same limit shows; the memfd backend cannot
 * place its pages (-EOPNOTSUPP), but every page is below 2^64.
 */
Test(addr_bits, pages_below_limit_or_eopnotsupp)
{
	struct wcp_pool_options o = { .addr_bits = 30 };
	struct wcp_pool *pl;
	void *b;
	int err = wcp_pool_create(&o, &pl);

	o.backend = WCP_BACKEND_MEMFD;
	cr_assert_eq(wcp_pool_create(&o, &pool), -EOPNOTSUPP);
	o.addr_bits = 64;
	cr_assert_eq(wcp_pool_create(&o, &pool), 0);
	wcp_pool_destroy(pool);
	pool = NULL;
	if (access("/dev/wcpool", F_OK)) {
		cr_assert_eq(err, -EOPNOTSUPP);
		return;
	}
	cr_assert_eq(err, 0);
	b = wcp_aligned_alloc(pl, 2 * MiB, 4 * MiB);
	cr_assert_not_null(b);
	pool = pl;
	cr_assert_eq(reg_with(b, 4 * MiB, (struct wcp_register_options){
		.addr_bits = 30 }), 0);
	wcp_free(pl, b);
	wcp_pool_destroy(pl);
	pool = NULL;
}

/*
 * Every live buffer registers, however the pool grew: buffers that cross
 * the pool's growth steps used to fail with -ENXIO, one wcpool.ko mapping
 * per step.  And the pool stays a handful of mappings (vm.max_map_count).
 */
Test(reg, every_live_buffer_of_a_grown_pool_registers)
{
	enum { N = 24 };
	static const size_t sizes[] = { 2752512, 4096, 1 * MiB + 4096,
					3 * MiB, 300 * KiB, 5 * MiB + 8192 };
	char *p[N];
	int maps;

	for (int i = 0; i < N; i++) {
		size_t len = sizes[i % 6];

		p[i] = wcp_aligned_alloc(pool, 4096, len);
		cr_assert_not_null(p[i]);
		memset(p[i], i, len);
		if (info.export_path != WCP_EXPORT_NONE)
			cr_assert_eq(reg(p[i], len), 0, "buffer %d (%zu bytes)",
				     i, len);
		else
			cr_assert_eq(reg(p[i], len), -EOPNOTSUPP);
	}
	maps = count_mappings(info.base, (char *)info.base + info.max_size);
	cr_assert_leq(maps, 3, "%d mappings for one pool", maps);
	for (int i = 0; i < N; i++)
		wcp_free(pool, p[i]);
}

/*
 * Memory freed while registered stays the registration's until
 * wcp_unregister(); nothing around it may lose its pages.  Frames (whole
 * pages, huge.c) and arena blocks (jemalloc) alike.
 */
Test(reg, free_while_registered_then_trim_keeps_neighbours)
{
	struct wcp_registration *r;
	unsigned char *f, *b, *live, *small;

	if (info.export_path == WCP_EXPORT_NONE)
		cr_skip_test("dma-buf export needs wcpool.ko or udmabuf (the QEMU suites run both)");
	/* A frame: register a page in its middle, free, trim, unregister. */
	f = wcp_aligned_alloc(pool, 4096, 8 * MiB);
	cr_assert_not_null(f);
	memset(f, 1, 8 * MiB);
	cr_assert_eq(wcp_register(pool, f + 4 * MiB, 4096, NULL, &r), 0);
	wcp_free(pool, f);
	cr_assert_eq(wcp_pool_trim(pool), 0);
	cr_assert_eq(wcp_unregister(pool, r), 0);
	f = wcp_calloc(pool, 1, 8 * MiB);
	cr_assert_not_null(f);
	cr_assert(all_zero(f, 8 * MiB), "calloc'd frame reads as zero");
	memset(f, 2, 8 * MiB);

	/* A jemalloc block: the same, then churn in its huge page. */
	b = wcp_aligned_alloc(pool, 4096, 1 * MiB);
	cr_assert_not_null(b);
	memset(b, 3, 1 * MiB);
	cr_assert_eq(wcp_register(pool, b, 1 * MiB, NULL, &r), 0);
	wcp_free(pool, b);
	cr_assert_eq(wcp_pool_trim(pool), 0);
	cr_assert_eq(wcp_unregister(pool, r), 0);
	live = wcp_calloc(pool, 1, 1 * MiB);
	cr_assert_not_null(live);
	cr_assert(all_zero(live, 1 * MiB));
	fill_pattern(live, 1 * MiB, 9);
	for (int i = 0; i < 8; i++) {
		small = wcp_malloc(pool, 64 * KiB);
		cr_assert_not_null(small);
		memset(small, 4, 64 * KiB);
		wcp_free(pool, small);
		cr_assert_eq(wcp_pool_trim(pool), 0);
	}
	cr_assert(check_pattern(live, 1 * MiB, 9), "the live block kept its bytes");

	/* Reused while still registered: the kept page reads as zero. */
	b = wcp_aligned_alloc(pool, 2 * MiB, 4 * MiB);
	cr_assert_not_null(b);
	memset(b, 5, 4 * MiB);
	cr_assert_eq(wcp_register(pool, b + 2 * MiB, 4096, NULL, &r), 0);
	wcp_free(pool, b);
	cr_assert_eq(wcp_pool_trim(pool), 0);
	small = wcp_calloc(pool, 1, 4 * MiB);
	cr_assert_not_null(small);
	cr_assert(all_zero(small, 4 * MiB));
	cr_assert_eq(wcp_unregister(pool, r), 0);
	wcp_free(pool, small);
	for (size_t i = 0; i < 8 * MiB; i += 4096)
		cr_assert_eq(f[i], 2);
	wcp_free(pool, live);
	wcp_free(pool, f);
}

/* A read-only view registers for device reads: the display process. */
Test(reg, read_only_view_registers_for_reads)
{
	struct wcp_pool_share share;
	struct wcp_registration *r = NULL;
	struct wcp_pool_info vinfo;
	struct wcp_pool *view;
	char *p = wcp_aligned_alloc(pool, 4096, 64 * KiB), *q;
	int fd = wcp_pool_export(pool, WCP_EXPORT_READ_ONLY, &share), err;

	cr_assert_geq(fd, 0);
	cr_assert_eq(wcp_pool_import(fd, &share, 0, &view), 0);
	close(fd);
	fill_pattern(p, 64 * KiB, 3);
	q = wcp_pointer(view, wcp_offset(pool, p));
	cr_assert_not_null(q);
	cr_assert_eq(wcp_register(view, q, 64 * KiB, &(struct wcp_register_options){
		.access = WCP_ACCESS_WRITE }, &r), -EACCES);
	cr_assert_eq(wcp_register(view, q, 64 * KiB, &(struct wcp_register_options){
		.access = WCP_ACCESS_READ | WCP_ACCESS_WRITE }, &r), -EACCES);
	/* Access 0 means what the view allows: reads. */
	err = wcp_register(view, q, 64 * KiB, NULL, &r);
	cr_assert_eq(wcp_pool_info(view, &vinfo), 0);
	if (vinfo.export_path == WCP_EXPORT_NONE) {
		cr_assert_eq(err, -EOPNOTSUPP);
	} else {
		unsigned char *m;

		cr_assert_eq(err, 0);
		m = mmap(NULL, 64 * KiB, PROT_READ | PROT_WRITE, MAP_SHARED,
			 wcp_registration_fd(r), 0);
		cr_assert_eq(m, MAP_FAILED, "a read registration maps read-only");
		m = mmap(NULL, 64 * KiB, PROT_READ, MAP_SHARED,
			 wcp_registration_fd(r), 0);
		cr_assert_neq(m, MAP_FAILED);
		cr_assert(check_pattern(m, 64 * KiB, 3));
		munmap(m, 64 * KiB);
		cr_assert_eq(wcp_unregister(view, r), 0);
		cr_assert_eq(wcp_register(view, q, 64 * KiB,
			&(struct wcp_register_options){ .access = WCP_ACCESS_READ },
			&r), 0);
		cr_assert_eq(wcp_unregister(view, r), 0);
	}
	wcp_pool_destroy(view);
	wcp_free(pool, p);
}

/*
 * A memfd pool exports through udmabuf where the kernel has it (Debian's
 * 6.12), and its info says which way.  Memory freed while registered
 * keeps its pages (resident) until the registration goes.
 */
Test(reg, memfd_pool_exports_through_udmabuf_where_there_is_one)
{
	struct wcp_pool_options o = { .backend = WCP_BACKEND_MEMFD };
	bool udmabuf = access("/dev/udmabuf", F_OK) == 0;
	struct wcp_pool_stats before, held, after;
	struct wcp_registration *r;
	struct wcp_pool_info mi;
	struct wcp_pool *mp;
	unsigned char *p, *m;
	size_t len = 256 * KiB;
	int err;

	cr_assert_eq(wcp_pool_create(&o, &mp), 0);
	cr_assert_eq(wcp_pool_info(mp, &mi), 0);
	cr_assert_eq(mi.export_path, udmabuf ? WCP_EXPORT_UDMABUF : WCP_EXPORT_NONE);
	p = wcp_aligned_alloc(mp, 4096, len);
	cr_assert_not_null(p);
	fill_pattern(p, len, 11);
	err = wcp_register(mp, p, len, &(struct wcp_register_options){
		.policy = WCP_POLICY_WB }, &r);
	if (!udmabuf) {
		cr_assert_eq(err, -EOPNOTSUPP);
		wcp_free(mp, p);
		wcp_pool_destroy(mp);
		return;
	}
	cr_assert_eq(err, 0);
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, wcp_registration_fd(r), 0);
	cr_assert_neq(m, MAP_FAILED);
	cr_assert(check_pattern(m, len, 11), "the dma-buf holds the pool's bytes");
	munmap(m, len);
	cr_assert_eq(wcp_pool_stats(mp, &before), 0);
	wcp_free(mp, p);
	cr_assert_eq(wcp_pool_trim(mp), 0);
	cr_assert_eq(wcp_pool_stats(mp, &held), 0);
	cr_assert_eq(held.resident, before.resident, "registered pages stay");
	cr_assert_eq(wcp_unregister(mp, r), 0);
	cr_assert_eq(wcp_pool_trim(mp), 0);
	cr_assert_eq(wcp_pool_stats(mp, &after), 0);
	/* Huge pages come back at unregister (4 KiB pools keep them). */
	if (mi.page_size != WCP_PAGE_4K)
		cr_assert_lt(after.resident, before.resident);
	wcp_pool_destroy(mp);
}
