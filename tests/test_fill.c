// SPDX-License-Identifier: MIT
/*
 * wcp_fill, wcp_copy, wcp_flush: every size and misalignment writes exactly
 * the bytes asked for (head and tail partial lines included, nothing outside
 * the range), every store and flush method works or says the CPU lacks it,
 * and the automatic choices follow the pool's policy and the threshold.
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
#include <sys/mman.h>
#include <unistd.h>

#include "helpers.h"
#include "../libwcpool/tune.h"

#define GUARD 128
#define OUTSIDE 0xa5

static const int store_methods[] = { WCP_STORE_PLAIN, WCP_STORE_STREAM };
static const int flush_methods[] = { WCP_FLUSH_SFENCE, WCP_FLUSH_CLWB,
				     WCP_FLUSH_CLFLUSHOPT, WCP_FLUSH_CLFLUSH };

/* method 0: the automatic wcp_fill(pool, ...) */
static void do_fill(int method, struct wcp_pool *pool, void *d, int c,
		    size_t n)
{
	if (method)
		cr_assert_eq(wcp_fill_with(method, d, c, n), 0);
	else
		cr_assert_eq(wcp_fill(pool, d, c, n), d);
}

static void do_copy(int method, struct wcp_pool *pool, void *d,
		    const void *s, size_t n)
{
	if (method)
		cr_assert_eq(wcp_copy_with(method, d, s, n), 0);
	else
		cr_assert_eq(wcp_copy(pool, d, s, n), d);
}

static size_t first_not(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return i;
	return n;
}

/*
 * Fill [off, off + n) of @buf (GUARD + 64 + max + GUARD bytes) for every
 * length up to @max and every start offset in a 64-byte line.
 */
static void fill_all_shapes(int method, struct wcp_pool *pool,
			    unsigned char *buf, size_t max)
{
	size_t total = 2 * GUARD + 64 + max;

	for (size_t off = 0; off < 64; off++) {
		for (size_t n = 0; n <= max; n++) {
			unsigned char *d = buf + GUARD + off;

			memset(buf, OUTSIDE, total);
			do_fill(method, pool, d, 0x5a, n);
			cr_assert_eq(first_not(buf, GUARD + off, OUTSIDE),
				     GUARD + off,
				     "method %d wrote before the range "
				     "(off %zu len %zu)", method, off, n);
			cr_assert_eq(first_not(d, n, 0x5a), n,
				     "method %d off %zu len %zu: byte %zu",
				     method, off, n, first_not(d, n, 0x5a));
			cr_assert_eq(first_not(d + n, total - GUARD - off - n,
					       OUTSIDE),
				     total - GUARD - off - n,
				     "method %d wrote past the range "
				     "(off %zu len %zu)", method, off, n);
		}
	}
}

Test(fill, every_length_and_misalignment_plain_memory)
{
	size_t max = 300;
	unsigned char *buf = malloc(2 * GUARD + 64 + max);

	cr_assert_not_null(buf);
	fill_all_shapes(0, NULL, buf, max);
	for (size_t i = 0; i < 2; i++)
		fill_all_shapes(store_methods[i], NULL, buf, max);
	free(buf);
}

Test(fill, every_length_and_misalignment_pool_memory)
{
	struct wcp_pool *pool = make_pool(0, 0);
	size_t max = 300;
	unsigned char *buf = wcp_malloc(pool, 2 * GUARD + 64 + max);

	cr_assert_not_null(buf);
	fill_all_shapes(0, pool, buf, max);
	for (size_t i = 0; i < 2; i++)
		fill_all_shapes(store_methods[i], pool, buf, max);
	wcp_free(pool, buf);
	wcp_pool_destroy(pool);
}

/* Lengths around whole pages and the page boundary at each end. */
Test(fill, ranges_ending_at_a_guard_page)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *map = mmap(NULL, 5 * (size_t)pg, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *mid = map + pg;
	size_t span = 3 * (size_t)pg;

	cr_assert_neq(map, MAP_FAILED);
	cr_assert_eq(mprotect(map, pg, PROT_NONE), 0);
	cr_assert_eq(mprotect(map + 4 * pg, pg, PROT_NONE), 0);
	for (size_t i = 0; i < 3; i++) {
		int m = i < 2 ? store_methods[i] : 0;

		for (size_t cut = 0; cut < 70; cut++) {
			/* from the start, and up to the very end */
			memset(mid, OUTSIDE, span);
			do_fill(m, NULL, mid, 1, span - cut);
			cr_assert_eq(first_not(mid, span - cut, 1), span - cut);
			cr_assert_eq(first_not(mid + span - cut, cut, OUTSIDE),
				     cut);
			memset(mid, OUTSIDE, span);
			do_fill(m, NULL, mid + cut, 2, span - cut);
			cr_assert_eq(first_not(mid, cut, OUTSIDE), cut);
			cr_assert_eq(first_not(mid + cut, span - cut, 2),
				     span - cut);
		}
	}
	munmap(map, 5 * (size_t)pg);
}

Test(fill, large_buffers_every_method)
{
	struct wcp_pool *pool = make_pool(0, 0);
	size_t sizes[] = { 4096, 65536 + 17, (3 << 20) + 5, 17 << 20 };
	unsigned char *buf = wcp_malloc(pool, (17 << 20) + 2 * GUARD + 64);

	cr_assert_not_null(buf);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (size_t i = 0; i < 3; i++) {
			int m = i < 2 ? store_methods[i] : 0;
			size_t n = sizes[s], off = GUARD + 3 * i + 1;

			memset(buf, OUTSIDE, n + 2 * GUARD + 64);
			do_fill(m, pool, buf + off, 0xee, n);
			cr_assert_eq(first_not(buf, off, OUTSIDE), off);
			cr_assert_eq(first_not(buf + off, n, 0xee), n,
				     "method %d size %zu", m, n);
			cr_assert_eq(first_not(buf + off + n, GUARD, OUTSIDE),
				     GUARD);
		}
	}
	wcp_free(pool, buf);
	wcp_pool_destroy(pool);
}

Test(copy, every_length_and_both_misalignments)
{
	size_t max = 200, total = 2 * GUARD + 64 + max;
	unsigned char *src = malloc(total), *dst = malloc(total);
	size_t offs[] = { 0, 1, 7, 8, 15, 16, 31, 33, 48, 63 };
	size_t noffs = sizeof(offs) / sizeof(offs[0]);

	cr_assert(src && dst);
	fill_pattern(src, total, 7);
	for (size_t i = 0; i < 3; i++) {
		int m = i < 2 ? store_methods[i] : 0;

		for (size_t a = 0; a < noffs; a++)
			for (size_t b = 0; b < noffs; b++)
				for (size_t n = 0; n <= max; n++) {
					unsigned char *d = dst + GUARD + offs[a];
					const unsigned char *s =
						src + GUARD + offs[b];

					memset(dst, OUTSIDE, total);
					do_copy(m, NULL, d, s, n);
					cr_assert_eq(memcmp(d, s, n), 0,
						     "method %d dst+%zu src+%zu len %zu",
						     m, offs[a], offs[b], n);
					cr_assert_eq(first_not(dst, GUARD + offs[a],
							       OUTSIDE),
						     GUARD + offs[a]);
					cr_assert_eq(first_not(d + n,
							       total - GUARD - offs[a] - n,
							       OUTSIDE),
						     total - GUARD - offs[a] - n);
				}
	}
	free(src);
	free(dst);
}

Test(copy, large_buffers_into_pool_memory)
{
	struct wcp_pool *pool = make_pool(0, 0);
	size_t n = (9 << 20) + 37;
	unsigned char *src = malloc(n + 64);
	unsigned char *dst = wcp_malloc(pool, n + 2 * GUARD);

	cr_assert(src && dst);
	fill_pattern(src, n + 64, 3);
	for (size_t i = 0; i < 3; i++) {
		int m = i < 2 ? store_methods[i] : 0;

		memset(dst, OUTSIDE, n + 2 * GUARD);
		do_copy(m, pool, dst + GUARD + i, src + 5, n);
		cr_assert_eq(memcmp(dst + GUARD + i, src + 5, n), 0);
		cr_assert_eq(first_not(dst, GUARD + i, OUTSIDE), GUARD + i);
		cr_assert_eq(first_not(dst + GUARD + i + n, GUARD - i, OUTSIDE),
			     GUARD - i);
	}
	wcp_free(pool, dst);
	free(src);
	wcp_pool_destroy(pool);
}

/* The narrower vector paths, as on CPUs without AVX-512 or AVX2. */
static void narrow_isa(const char *isa)
{
	size_t max = 300, big = (2 << 20) + 77;
	unsigned char *buf = malloc(2 * GUARD + 64 + max);
	unsigned char *src = malloc(big), *dst = malloc(big + 64);

	cr_assert(buf && src && dst);
	cr_assert_eq(setenv("WCPOOL_FILL_ISA", isa, 1), 0);
	fill_all_shapes(0, NULL, buf, max);
	for (size_t i = 0; i < 2; i++) {
		fill_all_shapes(store_methods[i], NULL, buf, max);
		fill_pattern(src, big, (unsigned)i);
		memset(dst, OUTSIDE, big + 64);
		cr_assert_eq(wcp_copy_with(store_methods[i], dst + 5, src + 3,
					   big - 3), 0);
		cr_assert_eq(memcmp(dst + 5, src + 3, big - 3), 0);
		cr_assert_eq(first_not(dst, 5, OUTSIDE), 5);
		cr_assert_eq(first_not(dst + 2 + big, 62, OUTSIDE), 62);
		cr_assert_eq(wcp_fill_with(store_methods[i], dst + 1, 0x42,
					   65536 + 3), 0);
		cr_assert_eq(first_not(dst + 1, 65536 + 3, 0x42), 65536 + 3);
		cr_assert_eq(dst[0], OUTSIDE);
	}
	free(buf);
	free(src);
	free(dst);
}

Test(fill, avx2_paths)
{
	narrow_isa("avx2");
}

Test(fill, sse2_paths)
{
	narrow_isa("sse2");
}

Test(fill, unknown_methods_are_einval)
{
	char b[8] = { 0 };

	cr_assert_eq(wcp_fill_with(0, b, 1, sizeof(b)), -EINVAL);
	cr_assert_eq(wcp_fill_with(3, b, 1, sizeof(b)), -EINVAL);
	cr_assert_eq(wcp_copy_with(0, b, b + 4, 4), -EINVAL);
	cr_assert_eq(wcp_flush_with(0, b, sizeof(b)), -EINVAL);
	cr_assert_eq(wcp_flush_with(5, b, sizeof(b)), -EINVAL);
	cr_assert_eq(first_not((unsigned char *)b, sizeof(b), 0), sizeof(b));
}

/* ---- flush -------------------------------------------------------------- */

static bool cpu_has(const char *flag)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[8192], word[64];
	bool has = false;

	cr_assert_not_null(f);
	snprintf(word, sizeof(word), " %s ", flag);
	while (!has && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		line[strcspn(line, "\n")] = ' ';
		has = strstr(line, word) != NULL;
		break;
	}
	fclose(f);
	return has;
}

Test(flush, every_method_works_or_is_eopnotsupp)
{
	const char *flags[] = { NULL, "clwb", "clflushopt", "clflush" };
	unsigned char *buf = malloc(8192);

	cr_assert_not_null(buf);
	for (size_t i = 0; i < 4; i++) {
		bool has = !flags[i] || cpu_has(flags[i]);
		size_t starts[] = { 0, 1, 63, 64, 100 };
		size_t lens[] = { 0, 1, 63, 64, 65, 4095, 5000 };

		for (size_t s = 0; s < 5; s++)
			for (size_t l = 0; l < 7; l++) {
				fill_pattern(buf, 8192, (unsigned)(i + s + l));
				int r = wcp_flush_with(flush_methods[i],
						       buf + starts[s], lens[l]);
				cr_assert_eq(r, has ? 0 : -EOPNOTSUPP,
					     "method %d (%s): %d", flush_methods[i],
					     flags[i] ? flags[i] : "sfence", r);
				cr_assert(check_pattern(buf, 8192,
							(unsigned)(i + s + l)),
					  "flush changed the data");
			}
	}
	free(buf);
}

/* A flush needs only read access: it must work on a read-only mapping. */
Test(flush, read_only_memory)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *p = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(p, MAP_FAILED);
	fill_pattern(p, 2 * (size_t)pg, 9);
	cr_assert_eq(mprotect(p, 2 * (size_t)pg, PROT_READ), 0);
	for (size_t i = 0; i < 4; i++) {
		int r = wcp_flush_with(flush_methods[i], p + 3,
				       2 * (size_t)pg - 3);

		cr_assert(r == 0 || r == -EOPNOTSUPP);
	}
	wcp_flush(NULL, p, 2 * (size_t)pg);
	cr_assert(check_pattern(p, 2 * (size_t)pg, 9));
	munmap(p, 2 * (size_t)pg);
}

/*
 * @len 0 only fences (wcpool.h): it touches no line, not even the one
 * an unaligned pointer sits in, so an inaccessible page does not fault.
 */
Test(flush, empty_range_touches_nothing)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *p = mmap(NULL, (size_t)pg, PROT_NONE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(p, MAP_FAILED);
	for (size_t i = 0; i < 4; i++) {
		int r = wcp_flush_with(flush_methods[i], p + 8, 0);

		cr_assert(r == 0 || r == -EOPNOTSUPP);
	}
	wcp_flush(NULL, p + 8, 0);
	munmap(p, (size_t)pg);
}

Test(flush, pool_memory_after_fill_and_copy)
{
	struct wcp_pool *pool = make_pool(0, 0);
	size_t n = (5 << 20) + 11;
	unsigned char *a = wcp_malloc(pool, n), *b = wcp_malloc(pool, n);

	cr_assert(a && b);
	wcp_fill(pool, a, 0x3c, n);
	wcp_flush(pool, a, n);
	cr_assert_eq(first_not(a, n, 0x3c), n);
	fill_pattern(a, n, 4);
	wcp_copy(pool, b, a, n);
	wcp_flush(pool, b, n);
	cr_assert(check_pattern(b, n, 4));
	wcp_flush(pool, b, 0);
	wcp_free(pool, a);
	wcp_free(pool, b);
	wcp_pool_destroy(pool);
}

/* ---- automatic choices -------------------------------------------------- */

Test(choice, write_back_follows_the_threshold)
{
	struct wcp_pool *pool = make_pool(0, 0);
	struct wcp_pool_info info;
	size_t t;

	/* the default, not this machine's tune file */
	cr_assert_eq(setenv("WCPOOL_TUNE_FILE", "/nonexistent", 1), 0);
	t = wcp_stream_threshold();

	cr_assert_eq(wcp_pool_info(pool, &info), 0);
	cr_assert_geq(t, (size_t)32 << 20);
	if (info.policy == WCP_POLICY_WB) {
		cr_assert_eq(wcp_store_choice(pool, 0), WCP_STORE_PLAIN);
		cr_assert_eq(wcp_store_choice(pool, t - 1), WCP_STORE_PLAIN);
		cr_assert_eq(wcp_store_choice(pool, t), WCP_STORE_STREAM);
	}
	cr_assert_eq(wcp_store_choice(NULL, 4096), WCP_STORE_PLAIN);
	cr_assert_eq(wcp_store_choice(NULL, t), WCP_STORE_STREAM);
	wcp_pool_destroy(pool);
}

Test(choice, environment_sets_the_threshold)
{
	char *big = malloc(70000);

	cr_assert_not_null(big);
	cr_assert_eq(setenv("WCPOOL_STREAM_THRESHOLD", "64K", 1), 0);
	cr_assert_eq(wcp_stream_threshold(), 65536);
	cr_assert_eq(wcp_store_choice(NULL, 65535), WCP_STORE_PLAIN);
	cr_assert_eq(wcp_store_choice(NULL, 65536), WCP_STORE_STREAM);
	/* the automatic stream path, on a misaligned range */
	memset(big, OUTSIDE, 70000);
	wcp_fill(NULL, big + 3, 0x11, 69990);
	cr_assert_eq(first_not((unsigned char *)big + 3, 69990, 0x11), 69990);
	cr_assert_eq(first_not((unsigned char *)big + 69993, 7, OUTSIDE), 7);
	free(big);
}

/* A tune file (wcpool-tune's) for @cpu with @threshold, then @more. */
static const char *tune_file(const char *cpu, const char *threshold,
			     const char *more)
{
	static char path[32];
	int fd;

	strcpy(path, "/tmp/wcpool-tune.XXXXXX");
	fd = mkstemp(path);
	FILE *f;

	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	cr_assert_not_null(f);
	fprintf(f, "# a comment\ncpu %s\nstream_threshold %s\n%s", cpu,
		threshold, more);
	fclose(f);
	cr_assert_eq(setenv("WCPOOL_TUNE_FILE", path, 1), 0);
	return path;
}

static const char *this_cpu(void)
{
	static char model[256];

	cr_assert(wcpi_tune_cpu_model(model, sizeof(model)));
	return model;
}

Test(choice, tune_file_sets_the_threshold)
{
	const char *path = tune_file(this_cpu(), "12345678", "");

	cr_assert_eq(wcp_stream_threshold(), 12345678);
	cr_assert_eq(wcp_store_choice(NULL, 12345677), WCP_STORE_PLAIN);
	cr_assert_eq(wcp_store_choice(NULL, 12345678), WCP_STORE_STREAM);
	unlink(path);
}

Test(choice, tune_file_never_means_plain_stores)
{
	const char *path = tune_file(this_cpu(), "never", "");

	cr_assert_eq(wcp_stream_threshold(), SIZE_MAX);
	cr_assert_eq(wcp_store_choice(NULL, (size_t)1 << 40), WCP_STORE_PLAIN);
	unlink(path);
}

/* Made on another CPU, or garbled: the default, as without a file. */
Test(choice, tune_file_of_another_cpu_is_ignored)
{
	const char *path = tune_file("Some Other CPU, family 1 model 2", "4096", "");

	cr_assert_geq(wcp_stream_threshold(), (size_t)32 << 20);
	unlink(path);
}

Test(choice, tune_file_garbled_is_ignored)
{
	const char *path = tune_file(this_cpu(), "12abc", "");

	cr_assert_geq(wcp_stream_threshold(), (size_t)32 << 20);
	unlink(path);
}

Test(choice, tune_file_memset_mask_is_read)
{
	const char *path = tune_file(this_cpu(), "never",
				     "fill_memset_mask 0x1f00\n");
	size_t v = 0;

	cr_assert(wcpi_tune_value(WCPI_TUNE_FILL_MEMSET, &v));
	cr_assert_eq(v, 0x1f00);
	cr_assert(wcpi_tune_value(WCPI_TUNE_STREAM, &v));
	cr_assert_eq(v, SIZE_MAX);
	unlink(path);
	/* a key the file lacks: not read, the value left alone */
	path = tune_file(this_cpu(), "4096", "");
	v = 7;
	cr_assert_not(wcpi_tune_value(WCPI_TUNE_FILL_MEMSET, &v));
	cr_assert_eq(v, 7);
	unlink(path);
}

/*
 * Fills at the edges of the size buckets, with memset in every other
 * bucket (the tune file's mask), at odd alignments: either way every byte
 * asked for and none other.
 */
Test(choice, fills_across_the_memset_bucket_edges)
{
	const char *path = tune_file(this_cpu(), "never",
				     "fill_memset_mask 0x2a55\n");
	unsigned char *big = malloc((4 << 20) + 100);

	cr_assert_not_null(big);
	for (size_t edge = 32 << 10; edge <= (4u << 20); edge *= 2)
		for (size_t d = 0; d < 3; d++)
			for (size_t a = 0; a < 3; a++) {
				size_t len = edge - 1 + d, at = a * 29;

				memset(big, OUTSIDE, at + len + 40);
				wcp_fill(NULL, big + at, (int)(edge + d), len);
				cr_assert_eq(first_not(big, at, OUTSIDE), at);
				cr_assert_eq(first_not(big + at, len,
						       (unsigned char)(edge + d)),
					     len, "len %zu at +%zu", len, at);
				cr_assert_eq(first_not(big + at + len, 40,
						       OUTSIDE), 40);
			}
	free(big);
	unlink(path);
}

Test(choice, environment_overrides_the_tune_file)
{
	const char *path = tune_file(this_cpu(), "12345678", "");

	cr_assert_eq(setenv("WCPOOL_STREAM_THRESHOLD", "1M", 1), 0);
	cr_assert_eq(wcp_stream_threshold(), (size_t)1 << 20);
	unlink(path);
}

Test(choice, flush_choice_is_supported_and_follows_policy)
{
	struct wcp_pool *pool = make_pool(0, 0);
	struct wcp_pool_info info;
	int m = wcp_flush_choice(pool);
	char b[64];

	cr_assert_eq(wcp_pool_info(pool, &info), 0);
	cr_assert_eq(wcp_flush_with(m, b, sizeof(b)), 0);
	if (info.policy == WCP_POLICY_WB) {
		if (cpu_has("clwb"))
			cr_assert_eq(m, WCP_FLUSH_CLWB);
		else if (cpu_has("clflushopt"))
			cr_assert_eq(m, WCP_FLUSH_CLFLUSHOPT);
		else if (cpu_has("clflush"))
			cr_assert_eq(m, WCP_FLUSH_CLFLUSH);
	} else {
		cr_assert_eq(m, WCP_FLUSH_SFENCE);
	}
	if (info.policy == WCP_POLICY_WB)
		cr_assert_eq(wcp_flush_choice(NULL), m);
	wcp_pool_destroy(pool);
}

/* With the module loaded: WC and UC pools always stream and only fence. */
Test(choice, write_combine_and_uncached_pools)
{
	uint32_t policies[] = { WCP_POLICY_WC, WCP_POLICY_UC };

	if (access("/dev/wcpool", F_OK))
		cr_skip_test("no /dev/wcpool: WC/UC pools need the module");
	for (size_t i = 0; i < 2; i++) {
		struct wcp_pool_options o = { .backend = WCP_BACKEND_MODULE,
					      .policy = policies[i] };
		struct wcp_pool *pool = NULL;
		unsigned char *p;

		cr_assert_eq(wcp_pool_create(&o, &pool), 0);
		cr_assert_eq(wcp_store_choice(pool, 1), WCP_STORE_STREAM);
		cr_assert_eq(wcp_flush_choice(pool), WCP_FLUSH_SFENCE);
		p = wcp_malloc(pool, 4096 + 100);
		cr_assert_not_null(p);
		wcp_fill(pool, p + 1, 0x77, 4096 + 50);
		wcp_flush(pool, p, 4096 + 100);
		cr_assert_eq(first_not(p + 1, 4096 + 50, 0x77), 4096 + 50);
		wcp_free(pool, p);
		wcp_pool_destroy(pool);
	}
}

/*
 * Filling, copying and flushing pool memory make no system call: a fill
 * per frame must not add one (wcp_fill once asked wcp_pool_info(), which
 * probed /dev/udmabuf with access() on every call).  In seccomp's strict
 * mode any call but read/write/exit kills the child.
 */
Test(fill, no_system_calls)
{
	struct wcp_pool *pool = make_pool(0, 0);
	unsigned char *buf = wcp_malloc(pool, 256 * KiB);
	unsigned char *src = malloc(256 * KiB);
	int status;
	pid_t pid;

	cr_assert(buf && src);
	memset(src, 7, 256 * KiB);
	/* Warm up: CPU features and thresholds are found once. */
	wcp_fill(pool, buf, 1, 256 * KiB);
	wcp_copy(pool, buf, src, 256 * KiB);
	wcp_flush(pool, buf, 256 * KiB);
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT))
			_exit(2);
		for (int i = 0; i < 100; i++) {
			wcp_fill(pool, buf, i, 256 * KiB);
			wcp_copy(pool, buf, src, 256 * KiB);
			wcp_flush(pool, buf, 256 * KiB);
		}
		syscall(SYS_exit, buf[0] == 7 ? 0 : 3);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child status %#x (killed by %d: a system call)", status,
		  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	free(src);
	wcp_free(pool, buf);
	wcp_pool_destroy(pool);
}
