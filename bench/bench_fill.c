// SPDX-License-Identifier: MIT
/*
 * fill, copy and flush: every store strategy the CPU has, on pool memory and
 * on ordinary 4 KiB-page memory, sizes 4 KiB up to --max-size in steps of 4,
 * side by side with the library's own primitives.
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define LINE 64

struct fill_arg {
	char *buf;
	const char *src;
	size_t size;
	int how;
	struct wcp_pool *pool;
};

enum {
	F_MEMSET, F_STOSB, F_AVX2, F_AVX512, F_NT_SSE2, F_NT_AVX2, F_NT_AVX512,
	F_STREAM, F_LIB,
};

static const char *const fill_names[] = {
	"memset", "rep-stosb", "avx2", "avx512", "nt-sse2+sfence",
	"nt-avx2+sfence", "nt-avx512+sfence", "wcp-stream", "wcp_fill",
};

static bool cpu_avx2, cpu_avx512, cpu_clwb, cpu_clflushopt;

static void detect(void)
{
	__builtin_cpu_init();
	cpu_avx2 = __builtin_cpu_supports("avx2");
	cpu_avx512 = __builtin_cpu_supports("avx512f");
	/* the library knows: it returns -EOPNOTSUPP without them */
	cpu_clwb = wcp_flush_with(WCP_FLUSH_CLWB, &cpu_clwb, 1) == 0;
	cpu_clflushopt = wcp_flush_with(WCP_FLUSH_CLFLUSHOPT, &cpu_clwb, 1) == 0;
}

static bool fill_available(int how)
{
	switch (how) {
	case F_AVX2:
	case F_NT_AVX2:
		return cpu_avx2;
	case F_AVX512:
	case F_NT_AVX512:
		return cpu_avx512;
	default:
		return true;
	}
}

/*
 * The store loops here are the bench's own, not libwcpool/fill.c's: the
 * library offers plain and stream stores (wcp_fill_with(), wcp_copy_with():
 * the wcp-stream rows) and picks the vector width by CPUID once a process,
 * so it cannot run its AVX2 loop next to its AVX-512 one.  These fixed-width
 * loops are the alternatives the library's choice is checked against.
 *
 * Buffers are line aligned and sizes whole lines: no head or tail here.
 */
static void stosb(char *d, int c, size_t n)
{
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
}

__attribute__((target("avx2"))) static void fill_avx2(char *d, int c, size_t n)
{
	__m256i v = _mm256_set1_epi8((char)c);

	/* sizes are multiples of 4 KiB: four lines a turn */
	for (char *e = d + n; d < e; d += 4 * LINE) {
		for (int k = 0; k < 8; k++)
			_mm256_store_si256((__m256i *)(d + 32 * k), v);
	}
}

__attribute__((target("avx512f"))) static void fill_avx512(char *d, int c, size_t n)
{
	__m512i v = _mm512_set1_epi32((int)(0x01010101u * (uint8_t)c));

	for (char *e = d + n; d < e; d += 4 * LINE) {
		_mm512_store_si512((void *)d, v);
		_mm512_store_si512((void *)(d + 64), v);
		_mm512_store_si512((void *)(d + 128), v);
		_mm512_store_si512((void *)(d + 192), v);
	}
}

static void fill_nt_sse2(char *d, int c, size_t n)
{
	__m128i v = _mm_set1_epi8((char)c);

	for (char *e = d + n; d < e; d += LINE) {
		_mm_stream_si128((__m128i *)d, v);
		_mm_stream_si128((__m128i *)(d + 16), v);
		_mm_stream_si128((__m128i *)(d + 32), v);
		_mm_stream_si128((__m128i *)(d + 48), v);
	}
	_mm_sfence();
}

__attribute__((target("avx2"))) static void fill_nt_avx2(char *d, int c, size_t n)
{
	__m256i v = _mm256_set1_epi8((char)c);

	for (char *e = d + n; d < e; d += LINE) {
		_mm256_stream_si256((__m256i *)d, v);
		_mm256_stream_si256((__m256i *)(d + 32), v);
	}
	_mm_sfence();
}

__attribute__((target("avx512f"))) static void fill_nt_avx512(char *d, int c, size_t n)
{
	__m512i v = _mm512_set1_epi32((int)(0x01010101u * (uint8_t)c));

	for (char *e = d + n; d < e; d += LINE)
		_mm512_stream_si512((void *)d, v);
	_mm_sfence();
}

static double fill_run(void *argp, uint64_t iters)
{
	struct fill_arg *a = argp;
	double t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		int c = (int)(i & 0x7f) + 1;

		switch (a->how) {
		case F_MEMSET:
			memset(a->buf, c, a->size);
			break;
		case F_STOSB:
			stosb(a->buf, c, a->size);
			break;
		case F_AVX2:
			fill_avx2(a->buf, c, a->size);
			break;
		case F_AVX512:
			fill_avx512(a->buf, c, a->size);
			break;
		case F_NT_SSE2:
			fill_nt_sse2(a->buf, c, a->size);
			break;
		case F_NT_AVX2:
			fill_nt_avx2(a->buf, c, a->size);
			break;
		case F_NT_AVX512:
			fill_nt_avx512(a->buf, c, a->size);
			break;
		case F_STREAM:
			wcp_fill_with(WCP_STORE_STREAM, a->buf, c, a->size);
			break;
		case F_LIB:
			wcp_fill(a->pool, a->buf, c, a->size);
			break;
		}
		__asm__ volatile("" : : "r"(a->buf) : "memory");
	}
	return now_ns() - t0;
}

/* Pool memory of @size bytes (2 MiB aligned) or NULL. */
static char *pool_buffer(struct wcp_pool *pool, size_t size)
{
	char *p = wcp_aligned_alloc(pool, 2 * MiB, size);

	if (p)
		memset(p, 1, size);
	return p;
}

static void fill_sweep(const char *memory, char *buf, struct wcp_pool *pool)
{
	for (size_t size = 4 * KiB; size <= opt.max_size; size *= 4) {
		struct fill_arg a[F_LIB + 1];
		struct bench_case c[F_LIB + 1];
		size_t n = 0;

		for (int how = 0; how <= F_LIB; how++) {
			if (!fill_available(how))
				continue;
			a[n] = (struct fill_arg){ .buf = buf, .size = size,
						  .how = how, .pool = pool };
			c[n] = (struct bench_case){ .name = fill_names[how],
						    .fn = fill_run, .arg = &a[n],
						    .is_library = how == F_LIB,
						    .comparable = true };
			n++;
		}
		measure_set("fill", memory, size, (double)size, 1, c, n);
	}
}

int bench_fill(void)
{
	struct wcp_pool *pools[4];
	size_t npools;
	char label[48], *pbuf, *abuf;

	detect();
	if (!cpu_avx2)
		bench_skip("fill", "avx2", "the CPU has no AVX2");
	if (!cpu_avx512)
		bench_skip("fill", "avx512", "the CPU has no AVX-512");
	npools = bench_pools(pools, 4);
	if (!npools)
		return -1;
	for (size_t p = 0; p < npools; p++) {
		pool_label(pools[p], label, sizeof(label));
		pbuf = pool_buffer(pools[p], opt.max_size);
		if (!pbuf) {
			bench_skip("fill", label, "no pool memory for the largest size");
		} else {
			fill_sweep(label, pbuf, pools[p]);
			wcp_free(pools[p], pbuf);
		}
		wcp_pool_destroy(pools[p]);
	}
	abuf = anon_4k(opt.max_size);
	if (!abuf) {
		bench_skip("fill", "anon-4K", "mmap failed");
		return 0;
	}
	fill_sweep("anon-4K", abuf, NULL);
	anon_free(abuf, opt.max_size);
	bench_note("fill", "wcp_fill uses %s stores from %zu bytes on WB memory "
		   "(wcp_stream_threshold)", "streaming", wcp_stream_threshold());
	return 0;
}

/* ---- copy --------------------------------------------------------------- */

enum { C_MEMCPY, C_MOVSB, C_NT, C_STREAM, C_LIB, C_SLOAD, C_SLOAD_NT, C_FROM,
       C_COUNT };
static const char *const copy_names[] = {
	"memcpy", "rep-movsb", "nt-copy+sfence", "wcp-stream", "wcp_copy",
	"sload", "sload+nt", "wcp_copy_from",
};

static void movsb(char *d, const char *s, size_t n)
{
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

__attribute__((target("avx2"))) static void copy_nt_avx2(char *d, const char *s, size_t n)
{
	for (char *e = d + n; d < e; d += LINE, s += LINE) {
		__m256i x = _mm256_load_si256((const __m256i *)s);
		__m256i y = _mm256_load_si256((const __m256i *)(s + 32));

		_mm256_stream_si256((__m256i *)d, x);
		_mm256_stream_si256((__m256i *)(d + 32), y);
	}
	_mm_sfence();
}

static void copy_nt_sse2(char *d, const char *s, size_t n)
{
	for (char *e = d + n; d < e; d += 16, s += 16)
		_mm_stream_si128((__m128i *)d, _mm_load_si128((const __m128i *)s));
	_mm_sfence();
}

static double copy_run(void *argp, uint64_t iters)
{
	struct fill_arg *a = argp;
	double t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		switch (a->how) {
		case C_MEMCPY:
			memcpy(a->buf, a->src, a->size);
			break;
		case C_MOVSB:
			movsb(a->buf, a->src, a->size);
			break;
		case C_NT:
			if (cpu_avx2)
				copy_nt_avx2(a->buf, a->src, a->size);
			else
				copy_nt_sse2(a->buf, a->src, a->size);
			break;
		case C_STREAM:
			wcp_copy_with(WCP_STORE_STREAM, a->buf, a->src, a->size);
			break;
		case C_LIB:
			wcp_copy(a->pool, a->buf, a->src, a->size);
			break;
		case C_SLOAD:
			wcp_copy_with(WCP_STORE_PLAIN | WCP_LOAD_STREAM, a->buf,
				      a->src, a->size);
			break;
		case C_SLOAD_NT:
			wcp_copy_with(WCP_STORE_STREAM | WCP_LOAD_STREAM, a->buf,
				      a->src, a->size);
			break;
		case C_FROM:
			wcp_copy_from(a->pool, a->buf, a->src, a->size);
			break;
		}
		__asm__ volatile("" : : "r"(a->buf) : "memory");
	}
	return now_ns() - t0;
}

static void copy_sweep(const char *memory, char *dst, const char *src,
		       size_t max, struct wcp_pool *pool)
{
	for (size_t size = 4 * KiB; size <= max; size *= 4) {
		struct fill_arg a[C_LIB + 1];
		struct bench_case c[C_LIB + 1];

		for (int how = 0; how <= C_LIB; how++) {
			a[how] = (struct fill_arg){ .buf = dst, .src = src,
						    .size = size, .how = how,
						    .pool = pool };
			c[how] = (struct bench_case){ .name = copy_names[how],
						      .fn = copy_run, .arg = &a[how],
						      .is_library = how == C_LIB,
						      .comparable = true };
		}
		measure_set("copy", memory, size, (double)size, 1, c, C_LIB + 1);
	}
}

/*
 * Reading pool memory into ordinary memory: plain loads (memcpy, rep movsb,
 * the library's plain loads with streaming stores) against streaming loads
 * (MOVNTDQA) with either store, and wcp_copy_from()'s choice among them.
 */
static void read_sweep(const char *memory, char *dst, const char *src,
		       size_t max, struct wcp_pool *pool)
{
	static const int hows[] = { C_MEMCPY, C_MOVSB, C_STREAM, C_SLOAD,
				    C_SLOAD_NT, C_FROM };
	/* the library refuses streaming loads without SSE4.1 */
	bool sload = !wcp_copy_with(WCP_STORE_PLAIN | WCP_LOAD_STREAM, dst, src,
				    64);

	/* From 256 B: what a call's fixed costs (its MFENCE) weigh there. */
	for (size_t size = 256; size <= max; size *= 4) {
		struct fill_arg a[C_COUNT];
		struct bench_case c[C_COUNT];
		size_t n = 0;

		for (size_t i = 0; i < sizeof(hows) / sizeof(hows[0]); i++) {
			int how = hows[i];

			if (!sload && (how == C_SLOAD || how == C_SLOAD_NT))
				continue;
			a[n] = (struct fill_arg){ .buf = dst, .src = src,
						  .size = size, .how = how,
						  .pool = pool };
			c[n] = (struct bench_case){ .name = copy_names[how],
						    .fn = copy_run, .arg = &a[n],
						    .is_library = how == C_FROM,
						    .comparable = true };
			n++;
		}
		measure_set("copy", memory, size, (double)size, 1, c, n);
	}
	if (!sload)
		bench_skip("copy", "sload", "the CPU has no SSE4.1 (or "
			   "WCPOOL_FILL_ISA=sse2)");
}

/*
 * Read rows from every pool bench_pools() gives: the default one, and with
 * /dev/wcpool one of each policy.  Reading WC and UC memory with plain
 * loads is slow: those rows stop at 4 MiB.
 */
static void read_rows(size_t max)
{
	struct wcp_pool *pools[4];
	size_t npools = bench_pools(pools, 4);
	char label[48], memory[64], *dst = anon_4k(max);

	for (size_t p = 0; p < npools; p++) {
		struct wcp_pool_info info;
		size_t top = max;
		char *src;

		wcp_pool_info(pools[p], &info);
		if (info.policy != WCP_POLICY_WB && top > 4 * MiB)
			top = 4 * MiB;
		pool_label(pools[p], label, sizeof(label));
		snprintf(memory, sizeof(memory), "from %s", label);
		src = dst ? pool_buffer(pools[p], top) : NULL;
		if (src) {
			read_sweep(memory, dst, src, top, pools[p]);
			wcp_free(pools[p], src);
		} else {
			bench_skip("copy", memory, "no memory");
		}
		wcp_pool_destroy(pools[p]);
	}
	if (dst)
		anon_free(dst, max);
	if (access("/dev/wcpool", F_OK))
		bench_note("copy", "no /dev/wcpool: \"from\" rows read "
			   "write-back memory only (streaming loads are for WC/UC)");
}

int bench_copy(void)
{
	size_t max = opt.max_size < 256 * MiB ? opt.max_size : 256 * MiB;
	struct wcp_pool *pool = bench_pool();
	char label[48], *src, *pbuf, *abuf;

	detect();
	if (!pool)
		return -1;
	src = anon_4k(max);
	if (!src) {
		wcp_pool_destroy(pool);
		return -1;
	}
	pool_label(pool, label, sizeof(label));
	pbuf = pool_buffer(pool, max);
	if (pbuf) {
		copy_sweep(label, pbuf, src, max, pool);
		wcp_free(pool, pbuf);
	} else {
		bench_skip("copy", label, "no pool memory");
	}
	wcp_pool_destroy(pool);
	abuf = anon_4k(max);
	if (abuf) {
		copy_sweep("anon-4K", abuf, src, max, NULL);
		anon_free(abuf, max);
	}
	anon_free(src, max);
	bench_note("copy", "source is ordinary 4 KiB-page memory except in the "
		   "\"from\" rows (pool memory read into ordinary memory); "
		   "sizes up to %s", size_str(max, label, sizeof(label)));
	read_rows(max);
	return 0;
}

/* ---- flush -------------------------------------------------------------- */

enum { FL_CLWB, FL_CLFLUSHOPT, FL_CLFLUSH, FL_SFENCE, FL_LIB };
static const char *const flush_names[] = {
	"clwb+sfence", "clflushopt+sfence", "clflush+sfence", "sfence-only",
	"wcp_flush",
};

#define FLUSH_LOOP(insn, p, n)                                               \
	for (const char *q = (p), *e = (p) + (n); q < e; q += LINE)          \
		__asm__ volatile(insn " %0" : : "m"(*q) : "memory")

static double flush_run(void *argp, uint64_t iters)
{
	struct fill_arg *a = argp;
	double total = 0;

	for (uint64_t i = 0; i < iters; i++) {
		double t0;

		/* dirty every line (not timed) */
		memset(a->buf, (int)(i & 0x7f) + 1, a->size);
		t0 = now_ns();
		switch (a->how) {
		case FL_CLWB:
			FLUSH_LOOP("clwb", a->buf, a->size);
			_mm_sfence();
			break;
		case FL_CLFLUSHOPT:
			FLUSH_LOOP("clflushopt", a->buf, a->size);
			_mm_sfence();
			break;
		case FL_CLFLUSH:
			FLUSH_LOOP("clflush", a->buf, a->size);
			_mm_sfence();
			break;
		case FL_SFENCE:
			_mm_sfence();
			break;
		case FL_LIB:
			wcp_flush(a->pool, a->buf, a->size);
			break;
		}
		total += now_ns() - t0;
	}
	return total;
}

static void flush_pool(struct wcp_pool *pool, size_t max)
{
	struct wcp_pool_info info;
	char label[48], *buf;

	wcp_pool_info(pool, &info);
	pool_label(pool, label, sizeof(label));
	buf = pool_buffer(pool, max);
	if (!buf) {
		bench_skip("flush", label, "no pool memory");
		return;
	}
	for (size_t size = 4 * KiB; size <= max; size *= 4) {
		struct fill_arg a[FL_LIB + 1];
		struct bench_case c[FL_LIB + 1];
		size_t n = 0;

		for (int how = 0; how <= FL_LIB; how++) {
			if ((how == FL_CLWB && !cpu_clwb) ||
			    (how == FL_CLFLUSHOPT && !cpu_clflushopt))
				continue;
			a[n] = (struct fill_arg){ .buf = buf, .size = size,
						  .how = how, .pool = pool };
			/* an sfence does not write back WB lines */
			c[n] = (struct bench_case){
				.name = flush_names[how], .fn = flush_run,
				.arg = &a[n], .is_library = how == FL_LIB,
				.comparable = how != FL_SFENCE ||
					      info.policy != WCP_POLICY_WB };
			n++;
		}
		measure_set("flush", label, size, (double)size, 1, c, n);
	}
	if (info.policy == WCP_POLICY_WB)
		bench_note("flush", "%s is write-back: sfence-only is shown for "
			   "scale but does not make dirty lines visible to a "
			   "non-coherent device", label);
	wcp_free(pool, buf);
}

int bench_flush(void)
{
	size_t max = opt.max_size < 64 * MiB ? opt.max_size : 64 * MiB;
	struct wcp_pool *pools[4];
	size_t npools;

	detect();
	if (!cpu_clwb)
		bench_skip("flush", "clwb", "the CPU has no CLWB");
	if (!cpu_clflushopt)
		bench_skip("flush", "clflushopt", "the CPU has no CLFLUSHOPT");
	npools = bench_pools(pools, 4);
	if (!npools)
		return -1;
	for (size_t p = 0; p < npools; p++) {
		flush_pool(pools[p], max);
		wcp_pool_destroy(pools[p]);
	}
	if (access("/dev/wcpool", F_OK))
		bench_note("flush", "no /dev/wcpool: write-combine pools (sfence "
			   "only) need the kernel module");
	return 0;
}
