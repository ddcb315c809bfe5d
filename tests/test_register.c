// SPDX-License-Identifier: MIT
/*
 * Registration: every constraint is checked the same way on every backend;
 * with wcpool.ko behind the pool the range comes back as a dma-buf of
 * exactly those bytes, on the memfd backend as a clear -EOPNOTSUPP.
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
		.reserved = { 1 } }), -EINVAL);
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
	if (info.backend != WCP_BACKEND_MODULE) {
		cr_assert_eq(err, -EOPNOTSUPP, "the memfd backend exports no dma-buf");
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

	if (info.backend != WCP_BACKEND_MODULE)
		cr_skip_test("dma-buf export needs wcpool.ko (the QEMU suites run it)");
	fill_pattern(p, len, 5);
	cr_assert_eq(wcp_register(pool, p, len, &(struct wcp_register_options){
		.access = WCP_ACCESS_READ, .align = 2 * MiB,
		.policy = info.policy }, &r), 0);
	cr_assert_geq(wcp_registration_fd(r), 0);
	n = wcp_registration_segments(r, seg, 16);
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
