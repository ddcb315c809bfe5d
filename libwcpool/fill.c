// SPDX-License-Identifier: MIT
/*
 * Filling, copying and flushing pool memory with the stores that suit the
 * pool's cache policy and the size of the job.
 *
 * Write-back memory: ordinary stores (glibc memset/memcpy, which use rep
 * stosb/movsb or vector stores) while the buffer fits in the caches; above
 * the stream threshold non-temporal stores, which neither read the line
 * first nor push the application's working set out of the caches.
 * Write-combine and uncached memory: non-temporal full-line stores always
 * (on WC the fill buffers then leave as whole 64-byte bursts; on UC they are
 * the only stores that are not one bus transaction each), and an sfence so
 * the data is ordered before whatever store tells the device to look.
 *
 * Flushing for a non-coherent device: dirty write-back lines have to reach
 * memory (clwb keeps them cached, clflushopt and clflush evict them; the best
 * the CPU has, found with CPUID once); WC and UC memory only needs the fill
 * buffers drained, which is what sfence does.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"
#include "tune.h"
#include "wcpool.h"

#define WCP_LINE 64

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define WCP_X86 1
#endif

/* CPU features, found once (racing first callers compute the same value). */
enum {
	CPU_KNOWN = 1u << 0,
	CPU_CLFLUSH = 1u << 1,
	CPU_CLFLUSHOPT = 1u << 2,
	CPU_CLWB = 1u << 3,
	CPU_AVX2 = 1u << 4,
	CPU_AVX512 = 1u << 5,
	CPU_ERMS = 1u << 6,
	CPU_SSE41 = 1u << 7,
};

static _Atomic unsigned fill_cpu;
static _Atomic size_t fill_threshold;

/*
 * The settings below are read once, by an out-of-line first call; after
 * that each is a load and a branch inline (a 4 KiB fill takes ~20 ns).
 */
static unsigned __attribute__((noinline, cold)) fill_cpu_init(void)
{
	unsigned f = CPU_KNOWN;
#ifdef WCP_X86
	unsigned a, b, c, d;

	if (__get_cpuid(1, &a, &b, &c, &d)) {
		if (d & (1u << 19))
			f |= CPU_CLFLUSH;
		if (c & bit_SSE4_1)
			f |= CPU_SSE41;
	}
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
		if (b & bit_CLFLUSHOPT)
			f |= CPU_CLFLUSHOPT;
		if (b & bit_CLWB)
			f |= CPU_CLWB;
		if (b & (1u << 9))
			f |= CPU_ERMS;
	}
	/* These also check that the OS saves the vector state (XCR0). */
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2"))
		f |= CPU_AVX2;
	if (__builtin_cpu_supports("avx512f"))
		f |= CPU_AVX512;
#endif
	/*
	 * WCPOOL_FILL_ISA=avx2, sse4.1 or sse2 caps the vector instructions
	 * (tests, bench); sse2 also rules out SSE4.1's streaming loads.
	 */
	const char *isa = secure_getenv("WCPOOL_FILL_ISA");

	if (isa && !strcmp(isa, "avx2"))
		f &= ~(unsigned)CPU_AVX512;
	else if (isa && !strcmp(isa, "sse4.1"))
		f &= ~(unsigned)(CPU_AVX512 | CPU_AVX2);
	else if (isa && !strcmp(isa, "sse2"))
		f &= ~(unsigned)(CPU_AVX512 | CPU_AVX2 | CPU_SSE41);
	atomic_store_explicit(&fill_cpu, f, memory_order_relaxed);
	return f;
}

static inline unsigned fill_cpu_features(void)
{
	unsigned f = atomic_load_explicit(&fill_cpu, memory_order_relaxed);

	return __builtin_expect(f != 0, 1) ? f : fill_cpu_init();
}

/*
 * Stream threshold.  Measured (bench/, AMD Zen 5 in a VM and on bare metal)
 * non-temporal stores into write-back memory never beat ordinary ones in
 * throughput, not even at 1 GiB: they are worth it only for what they leave
 * in the caches.  So stream only where the buffer could not stay cached
 * anyway: from four times the last-level cache, at least 32 MiB.
 */
static size_t fill_default_threshold(void)
{
	long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
	long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
	size_t t = l3 > 0 ? (size_t)l3 : l2 > 0 ? (size_t)l2 * 4 : 0;

	t *= 4;
	if (t < ((size_t)32 << 20))
		t = (size_t)32 << 20;
	return t;
}

/*
 * The size buckets filled with memset() rather than vector stores (see
 * fill_plain(); tune.h): wcpool-tune's measurement on this CPU, else from
 * the last-level cache (at most 32 MiB; VMs report odd totals) on.  Bit
 * WCPI_FILL_BUCKETS set: read.
 */
static _Atomic unsigned fill_memset_mask;

static unsigned __attribute__((noinline, cold)) fill_memset_init(void)
{
	size_t mask;

	if (!wcpi_tune_value(WCPI_TUNE_FILL_MEMSET, &mask)) {
		long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
		size_t from = l3 > 0 ? (size_t)l3 : (size_t)32 << 20;

		mask = 0;
		for (unsigned i = 0; i < WCPI_FILL_BUCKETS; i++)
			if (WCPI_FILL_BUCKET0 << i >= from ||
			    WCPI_FILL_BUCKET0 << i >= ((size_t)32 << 20))
				mask |= 1u << i;
	}
	mask = (mask & ((1u << WCPI_FILL_BUCKETS) - 1)) | 1u << WCPI_FILL_BUCKETS;
	atomic_store_explicit(&fill_memset_mask, (unsigned)mask,
			      memory_order_relaxed);
	return (unsigned)mask;
}

static inline bool fill_with_memset(size_t len)
{
	unsigned mask = atomic_load_explicit(&fill_memset_mask,
					     memory_order_relaxed);
	unsigned bucket;

	if (__builtin_expect(!mask, 0))
		mask = fill_memset_init();
	if (len < WCPI_FILL_BUCKET0)
		return false;
	/* log2(len / 64 KiB), the last bucket for all larger */
	bucket = (unsigned)(63 - __builtin_clzll(len)) - 16;
	if (bucket >= WCPI_FILL_BUCKETS)
		bucket = WCPI_FILL_BUCKETS - 1;
	return mask >> bucket & 1;
}

/* Largest copy done with memcpy() (see copy_plain()): the L2 cache. */
static _Atomic size_t fill_copy_max;

static size_t fill_copy_limit(void)
{
	size_t v = atomic_load_explicit(&fill_copy_max, memory_order_relaxed);

	if (!v) {
		long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);

		v = l2 > 0 ? (size_t)l2 : (size_t)1 << 20;
		atomic_store_explicit(&fill_copy_max, v, memory_order_relaxed);
	}
	return v;
}

static size_t __attribute__((noinline, cold)) stream_threshold_init(void)
{
	const char *env;
	size_t t = 0;
	char *end;

	env = secure_getenv("WCPOOL_STREAM_THRESHOLD");
	if (env && *env) {
		unsigned long long v = strtoull(env, &end, 0);

		if (*end == 'k' || *end == 'K')
			v <<= 10, end++;
		else if (*end == 'm' || *end == 'M')
			v <<= 20, end++;
		else if (*end == 'g' || *end == 'G')
			v <<= 30, end++;
		if (!*end && v)
			t = (size_t)v;
	}
	/* wcpool-tune's measurement on this CPU, else the cache sizes. */
	if (!t && !wcpi_tune_value(WCPI_TUNE_STREAM, &t))
		t = fill_default_threshold();
	atomic_store_explicit(&fill_threshold, t, memory_order_relaxed);
	return t;
}

static inline size_t stream_threshold(void)
{
	size_t t = atomic_load_explicit(&fill_threshold, memory_order_relaxed);

	return __builtin_expect(t != 0, 1) ? t : stream_threshold_init();
}

size_t wcp_stream_threshold(void)
{
	return stream_threshold();
}

static uint32_t fill_policy(const struct wcp_pool *pool)
{
	return wcpi_pool_policy(pool);
}

/* Internal calls avoid the PLT: a 4 KiB fill takes only ~20 ns. */
static inline int store_choice(const struct wcp_pool *pool, size_t len)
{
	if (fill_policy(pool) != WCP_POLICY_WB)
		return WCP_STORE_STREAM;
	return len >= stream_threshold() ? WCP_STORE_STREAM : WCP_STORE_PLAIN;
}

int wcp_store_choice(const struct wcp_pool *pool, size_t len)
{
	return store_choice(pool, len);
}

int wcp_flush_choice(const struct wcp_pool *pool)
{
	unsigned f = fill_cpu_features();

	if (fill_policy(pool) != WCP_POLICY_WB)
		return WCP_FLUSH_SFENCE;
	if (f & CPU_CLWB)
		return WCP_FLUSH_CLWB;
	if (f & CPU_CLFLUSHOPT)
		return WCP_FLUSH_CLFLUSHOPT;
	if (f & CPU_CLFLUSH)
		return WCP_FLUSH_CLFLUSH;
	return WCP_FLUSH_SFENCE;
}

static inline void fill_sfence(void)
{
#ifdef WCP_X86
	_mm_sfence();
#else
	atomic_thread_fence(memory_order_seq_cst);
#endif
}

/* ---- non-temporal line loops: @d is 64-byte aligned, @n lines ---------- */

#ifdef WCP_X86
static void fill_lines_sse2(char *d, int c, size_t n)
{
	__m128i v = _mm_set1_epi8((char)c);

	for (; n; n--, d += WCP_LINE) {
		_mm_stream_si128((__m128i *)d, v);
		_mm_stream_si128((__m128i *)(d + 16), v);
		_mm_stream_si128((__m128i *)(d + 32), v);
		_mm_stream_si128((__m128i *)(d + 48), v);
	}
}

__attribute__((target("avx2")))
static void fill_lines_avx2(char *d, int c, size_t n)
{
	__m256i v = _mm256_set1_epi8((char)c);

	for (; n; n--, d += WCP_LINE) {
		_mm256_stream_si256((__m256i *)d, v);
		_mm256_stream_si256((__m256i *)(d + 32), v);
	}
}

__attribute__((target("avx512f")))
static void fill_lines_avx512(char *d, int c, size_t n)
{
	__m512i v = _mm512_set1_epi32((int)(0x01010101u * (uint8_t)c));

	for (; n; n--, d += WCP_LINE)
		_mm512_stream_si512((void *)d, v);
}

static void copy_lines_sse2(char *d, const char *s, size_t n)
{
	for (; n; n--, d += WCP_LINE, s += WCP_LINE) {
		__m128i a = _mm_loadu_si128((const __m128i *)s);
		__m128i b = _mm_loadu_si128((const __m128i *)(s + 16));
		__m128i e = _mm_loadu_si128((const __m128i *)(s + 32));
		__m128i f = _mm_loadu_si128((const __m128i *)(s + 48));

		_mm_stream_si128((__m128i *)d, a);
		_mm_stream_si128((__m128i *)(d + 16), b);
		_mm_stream_si128((__m128i *)(d + 32), e);
		_mm_stream_si128((__m128i *)(d + 48), f);
	}
}

__attribute__((target("avx2")))
static void copy_lines_avx2(char *d, const char *s, size_t n)
{
	for (; n; n--, d += WCP_LINE, s += WCP_LINE) {
		__m256i a = _mm256_loadu_si256((const __m256i *)s);
		__m256i b = _mm256_loadu_si256((const __m256i *)(s + 32));

		_mm256_stream_si256((__m256i *)d, a);
		_mm256_stream_si256((__m256i *)(d + 32), b);
	}
}

__attribute__((target("avx512f")))
static void copy_lines_avx512(char *d, const char *s, size_t n)
{
	for (; n; n--, d += WCP_LINE, s += WCP_LINE)
		_mm512_stream_si512((void *)d, _mm512_loadu_si512(s));
}
#endif

/*
 * Ordinary stores.  Fills: aligned vector stores of the whole lines (one
 * 64-byte AVX-512 store a line, else two AVX2 ones), but memset in the
 * size buckets where wcpool-tune measured it faster on this CPU, else
 * beyond the last-level cache.  Which win where moves: on one AMD Zen 5 VM
 * (22 November 2026), within L2
 * they were 1.5-1.8x faster than glibc's memset (rep stosb from 2 KiB);
 * between L2 and L3 rep stosb ran at 108 GB/s in half the runs and at DRAM
 * speed (41) in the others, AVX-512 stores at a steady 80-87, so they lose
 * at most 1.3x where rep stosb could lose 2x; beyond L3 rep stosb was the
 * fastest.  On the same kind of VM on 30 November rep stosb filled 4-16 MiB
 * at 103-111 GB/s (vector stores 83-102) or at 38-40 (vector 78-88),
 * switching several times within the hour.  Copies: memcpy() within L2;
 * beyond it glibc (2.36 on AMD) leaves rep movsb for a vector loop that was
 * 1.2-1.4x slower than rep movsb itself, so rep movsb where the CPU has
 * ERMS.
 */
#ifdef WCP_X86
__attribute__((target("avx2")))
static void fill_lines_avx2_cached(char *d, int c, size_t n)
{
	__m256i v = _mm256_set1_epi8((char)c);

	for (; n >= 2; n -= 2, d += 2 * WCP_LINE) {
		_mm256_store_si256((__m256i *)d, v);
		_mm256_store_si256((__m256i *)(d + 32), v);
		_mm256_store_si256((__m256i *)(d + 64), v);
		_mm256_store_si256((__m256i *)(d + 96), v);
	}
	if (n) {
		_mm256_store_si256((__m256i *)d, v);
		_mm256_store_si256((__m256i *)(d + 32), v);
	}
}

/* Four lines a turn: as fast wherever the linker puts the loop. */
__attribute__((target("avx512f")))
static void fill_lines_avx512_cached(char *d, int c, size_t n)
{
	__m512i v = _mm512_set1_epi32((int)(0x01010101u * (uint8_t)c));

	for (; n >= 4; n -= 4, d += 4 * WCP_LINE) {
		_mm512_store_si512((void *)d, v);
		_mm512_store_si512((void *)(d + 64), v);
		_mm512_store_si512((void *)(d + 128), v);
		_mm512_store_si512((void *)(d + 192), v);
	}
	for (; n; n--, d += WCP_LINE)
		_mm512_store_si512((void *)d, v);
}
#endif

/* Vector stores whatever the size; memset() without AVX2. */
static inline void fill_vector(void *dst, int c, size_t len)
{
#ifdef WCP_X86
	char *d = dst;
	size_t head = (WCP_LINE - ((uintptr_t)d & (WCP_LINE - 1))) &
		      (WCP_LINE - 1);
	unsigned f;
	size_t lines;

	if (len < 4 * WCP_LINE + head ||
	    !((f = fill_cpu_features()) & (CPU_AVX2 | CPU_AVX512))) {
		memset(dst, c, len);
		return;
	}
	if (head)
		memset(d, c, head);
	d += head;
	len -= head;
	lines = len / WCP_LINE;
	if (f & CPU_AVX512)
		fill_lines_avx512_cached(d, c, lines);
	else
		fill_lines_avx2_cached(d, c, lines);
	if (len % WCP_LINE)
		memset(d + lines * WCP_LINE, c, len % WCP_LINE);
#else
	memset(dst, c, len);
#endif
}

/* For wcpool-tune; the library calls fill_vector() (no PLT). */
void wcpi_fill_vector(void *dst, int c, size_t len)
{
	fill_vector(dst, c, len);
}

static inline void fill_plain(void *dst, int c, size_t len)
{
	if (fill_with_memset(len))
		memset(dst, c, len);
	else
		fill_vector(dst, c, len);
}

static void copy_plain(void *dst, const void *src, size_t len)
{
#ifdef WCP_X86
	if (len >= fill_copy_limit() && (fill_cpu_features() & CPU_ERMS)) {
		__asm__ volatile("rep movsb"
				 : "+D"(dst), "+S"(src), "+c"(len)
				 :
				 : "memory");
		return;
	}
#endif
	memcpy(dst, src, len);
}

/*
 * Non-temporal fill: the partial lines at both ends with ordinary stores,
 * every whole line in between with one full-line burst, then sfence.
 */
static void fill_stream(void *dst, int c, size_t len)
{
	char *d = dst;
	size_t head = (WCP_LINE - ((uintptr_t)d & (WCP_LINE - 1))) &
		      (WCP_LINE - 1);
	size_t lines;

	if (len < head + WCP_LINE) {
		memset(d, c, len);
		fill_sfence();
		return;
	}
	memset(d, c, head);
	d += head;
	len -= head;
	lines = len / WCP_LINE;
#ifdef WCP_X86
	unsigned f = fill_cpu_features();

	if (f & CPU_AVX512)
		fill_lines_avx512(d, c, lines);
	else if (f & CPU_AVX2)
		fill_lines_avx2(d, c, lines);
	else
		fill_lines_sse2(d, c, lines);
#else
	memset(d, c, lines * WCP_LINE);
#endif
	d += lines * WCP_LINE;
	memset(d, c, len - lines * WCP_LINE);
	fill_sfence();
}

/* Streaming stores without the closing sfence (copy_stream, copy_sload). */
static void copy_stream_body(void *dst, const void *src, size_t len)
{
	char *d = dst;
	const char *s = src;
	size_t head = (WCP_LINE - ((uintptr_t)d & (WCP_LINE - 1))) &
		      (WCP_LINE - 1);
	size_t lines;

	if (len < head + WCP_LINE) {
		memcpy(d, s, len);
		return;
	}
	memcpy(d, s, head);
	d += head;
	s += head;
	len -= head;
	lines = len / WCP_LINE;
#ifdef WCP_X86
	unsigned f = fill_cpu_features();

	if (f & CPU_AVX512)
		copy_lines_avx512(d, s, lines);
	else if (f & CPU_AVX2)
		copy_lines_avx2(d, s, lines);
	else
		copy_lines_sse2(d, s, lines);
#else
	memcpy(d, s, lines * WCP_LINE);
#endif
	d += lines * WCP_LINE;
	s += lines * WCP_LINE;
	memcpy(d, s, len - lines * WCP_LINE);
}

static void copy_stream(void *dst, const void *src, size_t len)
{
	copy_stream_body(dst, src, len);
	fill_sfence();
}

/*
 * ---- reading write-combine and uncached memory ----------------------------
 *
 * An ordinary load from WC or UC memory is one uncached read of at most a
 * vector's width, waited for before the next (WC reads are not
 * speculative).  SSE4.1's MOVNTDQA on WC memory instead fetches the whole
 * 64-byte line into a streaming-load buffer, and the loads of the rest of
 * the line are served from there: the way i915_memcpy_from_wc(), Mesa's
 * util_streaming_load_memcpy() and FFmpeg's av_image_copy_uc_from() read
 * such memory.  On WB memory MOVNTDQA is an ordinary load.  Lines go
 * through registers four at a time (all loads, then all stores), so the
 * line fills overlap.  Partial lines at either end of the source (at most
 * 63 bytes each) are copied with ordinary loads: nothing outside the
 * source range is read.
 */
#ifdef WCP_X86
/* MOVNTDQA takes a non-const pointer in GCC's older headers. */
#define SLOAD_PTR(p) ((void *)(uintptr_t)(p))

/*
 * One line: @W-byte vectors of type @T loaded with @LOAD into @r[], then
 * stored with @STORE.  Four lines a turn, with constant bounds so that
 * the compiler keeps them in registers (with loops of variable bounds
 * it spilled them to the stack and ran 2-3x slower on write-back memory).
 */
#define SLOAD_TURN(T, W, LOAD, STORE, d, s, lines)                          \
	do {                                                                \
		T r_[(lines) * WCP_LINE / (W)];                             \
		_Pragma("GCC unroll 16")                                    \
		for (int i_ = 0; i_ < (lines) * WCP_LINE / (W); i_++)       \
			r_[i_] = LOAD(SLOAD_PTR((s) + (W) * i_));           \
		_Pragma("GCC unroll 16")                                    \
		for (int i_ = 0; i_ < (lines) * WCP_LINE / (W); i_++)       \
			STORE((void *)((d) + (W) * i_), r_[i_]);            \
	} while (0)

#define SLOAD_LOOP(T, W, LOAD, STORE, d, s, n)                              \
	do {                                                                \
		for (; (n) >= 4; (n) -= 4, (s) += 4 * WCP_LINE,             \
		     (d) += 4 * WCP_LINE)                                   \
			SLOAD_TURN(T, W, LOAD, STORE, d, s, 4);             \
		for (; (n); (n)--, (s) += WCP_LINE, (d) += WCP_LINE)        \
			SLOAD_TURN(T, W, LOAD, STORE, d, s, 1);             \
	} while (0)

/* GCC's _mm_stream_si128 and _mm_storeu_si128 take __m128i *. */
#define SLOAD_ST128(p, v) _mm_stream_si128((__m128i *)(p), v)
#define SLOAD_STU128(p, v) _mm_storeu_si128((__m128i *)(p), v)
#define SLOAD_ST256(p, v) _mm256_stream_si256((__m256i *)(p), v)
#define SLOAD_STU256(p, v) _mm256_storeu_si256((__m256i *)(p), v)

__attribute__((target("sse4.1")))
static void sload_lines_sse41(char *d, const char *s, size_t n, bool nt)
{
	if (nt)
		SLOAD_LOOP(__m128i, 16, _mm_stream_load_si128, SLOAD_ST128, d, s, n);
	else
		SLOAD_LOOP(__m128i, 16, _mm_stream_load_si128, SLOAD_STU128, d, s, n);
}

__attribute__((target("avx2")))
static void sload_lines_avx2(char *d, const char *s, size_t n, bool nt)
{
	if (nt)
		SLOAD_LOOP(__m256i, 32, _mm256_stream_load_si256, SLOAD_ST256, d, s, n);
	else
		SLOAD_LOOP(__m256i, 32, _mm256_stream_load_si256, SLOAD_STU256, d, s, n);
}

__attribute__((target("avx512f")))
static void sload_lines_avx512(char *d, const char *s, size_t n, bool nt)
{
	if (nt)
		SLOAD_LOOP(__m512i, 64, _mm512_stream_load_si512, _mm512_stream_si512, d, s, n);
	else
		SLOAD_LOOP(__m512i, 64, _mm512_stream_load_si512, _mm512_storeu_si512, d, s, n);
}

/*
 * @n whole lines from the 64-byte aligned @s to @d; @nt: streaming stores,
 * for which @d must be 64-byte aligned too.
 */
static void sload_lines(unsigned f, char *d, const char *s, size_t n, bool nt)
{
	if (f & CPU_AVX512)
		sload_lines_avx512(d, s, n, nt);
	else if (f & CPU_AVX2)
		sload_lines_avx2(d, s, n, nt);
	else
		sload_lines_sse41(d, s, n, nt);
}

/* Lines a turn through the bounce buffer of copy_sload() */
#define SLOAD_BOUNCE_LINES 64

/*
 * Copy with streaming loads of the source's whole lines; @stream: streaming
 * stores (then sfence), else ordinary ones.  The CPU has SSE4.1 (@f).
 */
static void copy_sload(unsigned f, void *dst, const void *src, size_t len,
		       bool stream)
{
	char *d = dst;
	const char *s = src;
	size_t head = (WCP_LINE - ((uintptr_t)s & (WCP_LINE - 1))) &
		      (WCP_LINE - 1);
	size_t lines;

	if (len < head + WCP_LINE) {
		memcpy(d, s, len);
		goto out;
	}
	memcpy(d, s, head);
	d += head;
	s += head;
	len -= head;
	lines = len / WCP_LINE;
	/*
	 * A streaming load may be served from a streaming-load buffer filled
	 * before what told us the data was there (a device's write, another
	 * CPU's flag): the Intel SDM (MOVNTDQA) asks for a fence first when
	 * another agent wrote the WC lines.  One per call, not per line.
	 */
	_mm_mfence();
	if (!stream || !((uintptr_t)d & (WCP_LINE - 1))) {
		/* ordinary stores take any alignment; co-aligned lines stream */
		sload_lines(f, d, s, lines, stream);
	} else {
		/*
		 * Streaming stores need line-aligned vectors and the source
		 * lines are not: the loads land in an L1-resident bounce
		 * buffer, streaming stores take them from there.
		 */
		char bounce[SLOAD_BOUNCE_LINES * WCP_LINE]
			__attribute__((aligned(WCP_LINE)));

		for (size_t left = lines; left; ) {
			size_t k = left < SLOAD_BOUNCE_LINES ? left :
				   SLOAD_BOUNCE_LINES;
			size_t done = (lines - left) * WCP_LINE;

			sload_lines(f, bounce, s + done, k, false);
			copy_stream_body(d + done, bounce, k * WCP_LINE);
			left -= k;
		}
	}
	d += lines * WCP_LINE;
	s += lines * WCP_LINE;
	memcpy(d, s, len - lines * WCP_LINE);
out:
	if (stream)
		fill_sfence();
}
#endif

/* May wcp_copy_with() and wcp_copy_from() use streaming loads here? */
static inline bool sload_available(unsigned f)
{
#ifdef WCP_X86
	return f & CPU_SSE41;
#else
	(void)f;
	return false;
#endif
}

static inline int load_choice(const struct wcp_pool *src_pool)
{
	if (fill_policy(src_pool) == WCP_POLICY_WB)
		return WCP_LOAD_PLAIN;
	return sload_available(fill_cpu_features()) ? WCP_LOAD_STREAM :
						      WCP_LOAD_PLAIN;
}

int wcp_load_choice(const struct wcp_pool *src_pool)
{
	return load_choice(src_pool);
}

/* @store: enum wcp_store_method; streaming loads where the CPU allows */
static void copy_loaded(int store, bool sload, void *dst, const void *src,
			size_t len)
{
#ifdef WCP_X86
	if (sload) {
		copy_sload(fill_cpu_features(), dst, src, len,
			   store == WCP_STORE_STREAM);
		return;
	}
#else
	(void)sload;
#endif
	if (store == WCP_STORE_STREAM)
		copy_stream(dst, src, len);
	else
		copy_plain(dst, src, len);
}

int wcp_fill_with(int method, void *dst, int c, size_t len)
{
	switch (method) {
	case WCP_STORE_PLAIN:
		fill_plain(dst, c, len);
		return 0;
	case WCP_STORE_STREAM:
		fill_stream(dst, c, len);
		return 0;
	default:
		return -EINVAL;
	}
}

int wcp_copy_with(int method, void *dst, const void *src, size_t len)
{
	int store = method & ~WCP_LOAD_STREAM;
	bool sload = method & WCP_LOAD_STREAM;

	if (store != WCP_STORE_PLAIN && store != WCP_STORE_STREAM)
		return -EINVAL;
	if (sload && !sload_available(fill_cpu_features()))
		return -EOPNOTSUPP;
	copy_loaded(store, sload, dst, src, len);
	return 0;
}

void *wcp_fill(const struct wcp_pool *pool, void *dst, int c, size_t len)
{
	if (store_choice(pool, len) == WCP_STORE_STREAM)
		fill_stream(dst, c, len);
	else
		fill_plain(dst, c, len);
	return dst;
}

void *wcp_copy(const struct wcp_pool *pool, void *dst, const void *src,
	       size_t len)
{
	if (store_choice(pool, len) == WCP_STORE_STREAM)
		copy_stream(dst, src, len);
	else
		copy_plain(dst, src, len);
	return dst;
}

void *wcp_copy_from(const struct wcp_pool *src_pool, void *dst,
		    const void *src, size_t len)
{
	/* the destination is ordinary memory: wcp_copy(NULL, ...)'s stores */
	copy_loaded(store_choice(NULL, len),
		    load_choice(src_pool) == WCP_LOAD_STREAM, dst, src, len);
	return dst;
}

/* ---- flush -------------------------------------------------------------- */

#ifdef WCP_X86
/*
 * The instructions are spelled out so the library needs no -mclwb: the CPU
 * check above decides whether they may run.  A flush only needs read access
 * to the line, hence the input operand; "memory" keeps the compiler from
 * moving stores across it.
 */
#define WCP_FLUSH_LOOP(insn, p, end)                                        \
	for (; (p) < (end); (p) += WCP_LINE)                                \
		__asm__ volatile(insn " %0" : : "m"(*(const char *)(p)) : "memory")

static void flush_lines(int method, const char *p, size_t len)
{
	const char *end = p + len;

	/* Rounded down, an empty range would still cover one line. */
	if (!len)
		method = WCP_FLUSH_SFENCE;
	p = (const char *)((uintptr_t)p & ~(uintptr_t)(WCP_LINE - 1));
	switch (method) {
	case WCP_FLUSH_CLWB:
		WCP_FLUSH_LOOP("clwb", p, end);
		break;
	case WCP_FLUSH_CLFLUSHOPT:
		WCP_FLUSH_LOOP("clflushopt", p, end);
		break;
	case WCP_FLUSH_CLFLUSH:
		WCP_FLUSH_LOOP("clflush", p, end);
		break;
	}
	_mm_sfence();
}
#endif

int wcp_flush_with(int method, const void *ptr, size_t len)
{
	unsigned f = fill_cpu_features();

	switch (method) {
	case WCP_FLUSH_SFENCE:
		fill_sfence();
		return 0;
	case WCP_FLUSH_CLWB:
		if (!(f & CPU_CLWB))
			return -EOPNOTSUPP;
		break;
	case WCP_FLUSH_CLFLUSHOPT:
		if (!(f & CPU_CLFLUSHOPT))
			return -EOPNOTSUPP;
		break;
	case WCP_FLUSH_CLFLUSH:
		if (!(f & CPU_CLFLUSH))
			return -EOPNOTSUPP;
		break;
	default:
		return -EINVAL;
	}
#ifdef WCP_X86
	flush_lines(method, ptr, len);
#else
	(void)ptr;
	(void)len;
#endif
	return 0;
}

void wcp_flush(const struct wcp_pool *pool, const void *ptr, size_t len)
{
	wcp_flush_with(wcp_flush_choice(pool), ptr, len);
}
