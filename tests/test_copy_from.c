// SPDX-License-Identifier: MIT
/*
 * wcp_copy_from() and streaming loads (WCP_LOAD_STREAM): every size up to
 * 4 KiB, every source and destination misalignment in a line, and the
 * edges of every size bucket of the copy (the four-line register groups,
 * the bounce buffer's 64-line turns, the L2 limit of memcpy, the stream
 * threshold) copy exactly the bytes asked for, nothing outside the
 * destination range, under every vector width WCPOOL_FILL_ISA allows.
 *
 * The source is pool memory of the test pool's policy: write-back on the
 * host, WC, UC and WB in the guest runs against wcpool.ko (lib-suite sets
 * WCPOOL_TEST_POLICY).  It is checked against a write-back reference copy,
 * never read back itself.
 */
#include <criterion/criterion.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define GUARD 128
#define OUTSIDE 0xa5

/* How a copy is made: the automatic call or a forced method. */
enum how { AUTO, PLAIN_SLOAD, STREAM_SLOAD, NHOW };
static const char *const how_name[] = { "wcp_copy_from", "plain+sload",
					"stream+sload" };

struct src {
	struct wcp_pool *pool;
	unsigned char *mem;	/* pool memory */
	unsigned char *ref;	/* the same bytes in ordinary memory */
	size_t len;
};

static void src_make(struct src *s, size_t len)
{
	s->pool = make_pool(0, 0);
	s->len = len;
	s->mem = wcp_aligned_alloc(s->pool, 4096, len);
	s->ref = malloc(len);
	cr_assert(s->mem && s->ref);
	fill_pattern(s->ref, len, 11);
	/* written, never read: fine on WC and UC memory */
	wcp_copy(s->pool, s->mem, s->ref, len);
}

static void src_free(struct src *s)
{
	wcp_free(s->pool, s->mem);
	wcp_pool_destroy(s->pool);
	free(s->ref);
}

/* SSE4.1 in /proc/cpuinfo and not ruled out by WCPOOL_FILL_ISA (cached) */
static bool cpu_has_sse41(void)
{
	static int known = -1;
	const char *isa = getenv("WCPOOL_FILL_ISA");
	char line[8192];
	bool has = false;
	FILE *f;

	if (known >= 0)
		return known;
	if (isa && !strcmp(isa, "sse2")) {
		known = 0;
		return false;
	}
	f = fopen("/proc/cpuinfo", "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		line[strcspn(line, "\n")] = ' ';
		has = strstr(line, " sse4_1 ") != NULL;
		break;
	}
	fclose(f);
	known = has;
	return has;
}

static size_t first_not(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return i;
	return n;
}

/*
 * Copy @n bytes from source offset @so into @dst (GUARD + 64 + n + GUARD
 * bytes) at offset GUARD + @doff and check the bytes and both guards.
 */
static void check_copy(enum how how, const struct src *s, size_t so,
		       unsigned char *dst, size_t doff, size_t n)
{
	size_t total = 2 * GUARD + 64 + n;
	unsigned char *d = dst + GUARD + doff;
	int r = 0;

	cr_assert_leq(so + n, s->len);
	memset(dst, OUTSIDE, total);
	switch (how) {
	case AUTO:
		cr_assert_eq(wcp_copy_from(s->pool, d, s->mem + so, n), d);
		break;
	case PLAIN_SLOAD:
		r = wcp_copy_with(WCP_STORE_PLAIN | WCP_LOAD_STREAM, d,
				  s->mem + so, n);
		break;
	case STREAM_SLOAD:
		r = wcp_copy_with(WCP_STORE_STREAM | WCP_LOAD_STREAM, d,
				  s->mem + so, n);
		break;
	default:
		cr_assert_fail();
	}
	if (how != AUTO && !cpu_has_sse41()) {
		cr_assert_eq(r, -EOPNOTSUPP);
		cr_assert_eq(first_not(dst, total, OUTSIDE), total,
			     "refused, yet wrote");
		return;
	}
	cr_assert_eq(r, 0);
	cr_assert_eq(memcmp(d, s->ref + so, n), 0,
		     "%s src+%zu dst+%zu len %zu", how_name[how], so, doff, n);
	cr_assert_eq(first_not(dst, GUARD + doff, OUTSIDE), GUARD + doff,
		     "%s wrote before the range (src+%zu dst+%zu len %zu)",
		     how_name[how], so, doff, n);
	cr_assert_eq(first_not(d + n, total - GUARD - doff - n, OUTSIDE),
		     total - GUARD - doff - n,
		     "%s wrote past the range (src+%zu dst+%zu len %zu)",
		     how_name[how], so, doff, n);
}

/*
 * Every length 0..4096 (every @step-th), at several source/destination
 * misalignments.
 */
static void every_length(size_t step)
{
	struct src s;
	unsigned char *dst = malloc(2 * GUARD + 64 + 4096);

	cr_assert_not_null(dst);
	src_make(&s, 4096 + 64);
	for (size_t n = 0; n <= 4096; n += step) {
		/* co-aligned, and two pairs that walk through every offset */
		size_t pairs[][2] = { { 0, 0 }, { n % 64, (n * 37 + 5) % 64 },
				      { (n * 13 + 63) % 64, n % 64 } };

		for (int h = 0; h < NHOW; h++)
			for (size_t p = 0; p < 3; p++)
				check_copy((enum how)h, &s, pairs[p][0], dst,
					   pairs[p][1], n);
	}
	src_free(&s);
	free(dst);
}

/*
 * Every source x destination misalignment, at the lengths that matter
 * (@few: four of them, for the narrower vector paths).
 */
static void every_misalignment(bool few)
{
	static const size_t all[] = { 0, 1, 63, 64, 65, 127, 128, 129, 255,
				      256, 257, 319, 320, 321, 1000, 4095 };
	static const size_t some[] = { 65, 129, 321, 1000 };
	const size_t *lens = few ? some : all;
	size_t nlens = few ? 4 : sizeof(all) / sizeof(all[0]);
	struct src s;
	unsigned char *dst = malloc(2 * GUARD + 64 + 4096);

	cr_assert_not_null(dst);
	src_make(&s, 4096 + 64);
	for (size_t l = 0; l < nlens; l++)
		for (size_t so = 0; so < 64; so++)
			for (size_t doff = 0; doff < 64; doff++)
				for (int h = 0; h < NHOW; h++)
					check_copy((enum how)h, &s, so, dst,
						   doff, lens[l]);
	src_free(&s);
	free(dst);
}

/*
 * Lengths at the edges of the size buckets beyond 4 KiB: the bounce
 * buffer's 64-line turns (4 KiB), twice that, L2 (memcpy or rep movsb),
 * a few MiB.
 */
static void bucket_edges(void)
{
	long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
	size_t edges[] = { 4096 + 64, 8192, 8192 + 64 * 3, 65536,
			   l2 > 0 ? (size_t)l2 : 1 << 20, 3 << 20 };
	size_t max = 0;

	for (size_t e = 0; e < sizeof(edges) / sizeof(edges[0]); e++)
		if (edges[e] > max)
			max = edges[e];
	max += 2;

	struct src s;
	unsigned char *dst = malloc(2 * GUARD + 64 + max);
	size_t offs[][2] = { { 0, 0 }, { 33, 5 }, { 17, 17 } };

	cr_assert_not_null(dst);
	src_make(&s, max + 64);
	for (size_t e = 0; e < sizeof(edges) / sizeof(edges[0]); e++)
		for (size_t n = edges[e] - 1; n <= edges[e] + 1; n++)
			for (size_t o = 0; o < 3; o++)
				for (int h = 0; h < NHOW; h++)
					check_copy((enum how)h, &s, offs[o][0],
						   dst, offs[o][1], n);
	src_free(&s);
	free(dst);
}

static void with_isa(const char *isa)
{
	if (isa)
		cr_assert_eq(setenv("WCPOOL_FILL_ISA", isa, 1), 0);
}

/* The widest vectors the CPU has (AVX-512 or AVX2 here, usually). */
Test(copy_from, every_length_up_to_4k) { every_length(1); }
Test(copy_from, every_misalignment) { every_misalignment(false); }
Test(copy_from, bucket_edges) { bucket_edges(); }

/*
 * The narrower loops, as on CPUs without AVX-512, AVX2 or SSE4.1: the
 * same code around a loop of another width, so fewer lengths (the guest
 * runs these once per policy, emulated).
 */
Test(copy_from, avx2_paths)
{
	with_isa("avx2");
	every_length(7);
	every_misalignment(true);
	bucket_edges();
}
Test(copy_from, sse41_paths)
{
	with_isa("sse4.1");
	every_length(7);
	every_misalignment(true);
	bucket_edges();
}
/* sse2: no streaming loads; the forced ones say -EOPNOTSUPP */
Test(copy_from, sse2_paths)
{
	with_isa("sse2");
	every_length(7);
	bucket_edges();
}

/* Streaming stores chosen by size: a low threshold, both sides of it. */
Test(copy_from, stream_threshold_edges)
{
	cr_assert_eq(setenv("WCPOOL_STREAM_THRESHOLD", "8K", 1), 0);

	struct src s;
	unsigned char *dst = malloc(2 * GUARD + 64 + 8192 + 2);

	cr_assert_not_null(dst);
	cr_assert_eq(wcp_store_choice(NULL, 8191), WCP_STORE_PLAIN);
	cr_assert_eq(wcp_store_choice(NULL, 8192), WCP_STORE_STREAM);
	src_make(&s, 8192 + 66);
	for (size_t n = 8190; n <= 8193; n++)
		for (size_t so = 0; so < 64; so += 7)
			for (size_t doff = 0; doff < 64; doff += 9)
				check_copy(AUTO, &s, so, dst, doff, n);
	src_free(&s);
	free(dst);
}

Test(copy_from, load_choice_follows_policy_and_cpu)
{
	struct wcp_pool *pool = make_pool(0, 0);
	struct wcp_pool_info info;
	int want;

	cr_assert_eq(wcp_pool_info(pool, &info), 0);
	want = info.policy != WCP_POLICY_WB && cpu_has_sse41() ?
	       WCP_LOAD_STREAM : WCP_LOAD_PLAIN;
	cr_assert_eq(wcp_load_choice(pool), want, "policy %u", info.policy);
	cr_assert_eq(wcp_load_choice(NULL), WCP_LOAD_PLAIN);
	wcp_pool_destroy(pool);
}

Test(copy_from, sse2_means_plain_loads)
{
	with_isa("sse2");

	struct wcp_pool *pool = make_pool(0, 0);
	char a[64] = { 1 }, b[64];

	cr_assert_eq(wcp_load_choice(pool), WCP_LOAD_PLAIN);
	cr_assert_eq(wcp_copy_with(WCP_STORE_PLAIN | WCP_LOAD_STREAM, b, a,
				   sizeof(a)), -EOPNOTSUPP);
	wcp_pool_destroy(pool);
}

/* With the module: WC and UC pools are read with streaming loads. */
Test(copy_from, write_combine_and_uncached_pools_stream)
{
	uint32_t policies[] = { WCP_POLICY_WC, WCP_POLICY_UC };

	if (access("/dev/wcpool", F_OK))
		cr_skip_test("no /dev/wcpool: WC/UC pools need the module");
	for (size_t i = 0; i < 2; i++) {
		struct wcp_pool_options o = { .backend = WCP_BACKEND_MODULE,
					      .policy = policies[i] };
		struct wcp_pool *pool = NULL;

		cr_assert_eq(wcp_pool_create(&o, &pool), 0);
		cr_assert_eq(wcp_load_choice(pool),
			     cpu_has_sse41() ? WCP_LOAD_STREAM : WCP_LOAD_PLAIN);
		wcp_pool_destroy(pool);
	}
}

Test(copy_from, unknown_methods_are_einval)
{
	char a[8] = { 1, 2, 3 }, b[8] = { 0 };

	cr_assert_eq(wcp_copy_with(WCP_LOAD_STREAM, b, a, sizeof(a)), -EINVAL);
	cr_assert_eq(wcp_copy_with(WCP_STORE_PLAIN | 1u << 9, b, a, sizeof(a)),
		     -EINVAL);
	cr_assert_eq(wcp_copy_with(3 | WCP_LOAD_STREAM, b, a, sizeof(a)),
		     -EINVAL);
	cr_assert_eq(first_not((unsigned char *)b, sizeof(b), 0), sizeof(b));
}

/* Like wcp_copy(), a copy out of a pool makes no system call. */
Test(copy_from, no_system_calls)
{
	struct src s;
	unsigned char *dst = malloc(256 * KiB + 64);
	int status;
	pid_t pid;

	cr_assert_not_null(dst);
	src_make(&s, 256 * KiB + 64);
	wcp_copy_from(s.pool, dst, s.mem, 256 * KiB);
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT))
			_exit(2);
		for (int i = 0; i < 20; i++) {
			wcp_copy_from(s.pool, dst + 3, s.mem + 1, 256 * KiB);
			wcp_copy_from(s.pool, dst, s.mem + 64, 100);
			if (wcp_copy_with(WCP_STORE_STREAM | WCP_LOAD_STREAM,
					  dst + 5, s.mem, 64 * KiB) &&
			    wcp_copy_with(WCP_STORE_STREAM, dst + 5, s.mem,
					  64 * KiB))
				syscall(SYS_exit, 4);
		}
		syscall(SYS_exit, memcmp(dst + 5, s.ref, 64 * KiB) ? 3 : 0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child status %#x (killed by %d: a system call)", status,
		  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	src_free(&s);
	free(dst);
}
