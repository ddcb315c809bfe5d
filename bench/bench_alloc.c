// SPDX-License-Identifier: MIT
/*
 * alloc: malloc/free latency of a pool against the alternatives, on two
 * workloads (mixed 64 B - 64 KiB, frame-sized 1 - 32 MiB), with 1 and 2
 * threads.  Each thread keeps a window of live buffers; one operation frees
 * a random slot's buffer, allocates a new one of a random (log-uniform)
 * size and writes its first byte.
 */
#include <dlfcn.h>
#include <memkind.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#define MAX_SLOTS 256
#define MAX_THREADS 2

extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);

struct allocator {
	const char *name;
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *p, size_t size);
	void *ctx;
};

static void *wcpool_alloc(void *ctx, size_t n) { return wcp_malloc(ctx, n); }
static void wcpool_free(void *ctx, void *p, size_t n) { (void)n; wcp_free(ctx, p); }
static void *glibc_alloc(void *ctx, size_t n) { (void)ctx; return __libc_malloc(n); }
static void glibc_free(void *ctx, void *p, size_t n) { (void)ctx; (void)n; __libc_free(p); }

static void *(*je_mallocx)(size_t, int);
static void (*je_dallocx)(void *, int);
static void *je_alloc(void *ctx, size_t n) { (void)ctx; return je_mallocx(n, 0); }
static void je_free(void *ctx, void *p, size_t n) { (void)ctx; (void)n; je_dallocx(p, 0); }

static void *mk_alloc(void *ctx, size_t n) { (void)ctx; return memkind_malloc(MEMKIND_HUGETLB, n); }
static void mk_free(void *ctx, void *p, size_t n) { (void)ctx; (void)n; memkind_free(MEMKIND_HUGETLB, p); }

static size_t huge_round(size_t n) { return (n + 2 * MiB - 1) & ~(2 * MiB - 1); }
static void *mm_alloc(void *ctx, size_t n)
{
	void *p = mmap(NULL, huge_round(n), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

	(void)ctx;
	return p == MAP_FAILED ? NULL : p;
}
static void mm_free(void *ctx, void *p, size_t n) { (void)ctx; munmap(p, huge_round(n)); }

struct window {
	void *slot[MAX_SLOTS];
	size_t len[MAX_SLOTS];
	uint64_t rng;
	uint64_t failures;
};

struct alloc_arg {
	const struct allocator *a;
	size_t lo, hi, slots;
	unsigned threads;
	struct window w[MAX_THREADS];
	uint64_t iters;
	pthread_barrier_t barrier;
};

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* log-uniform in [lo, hi] */
static size_t pick_size(struct window *w, size_t lo, size_t hi)
{
	unsigned bits_lo = 63 - (unsigned)__builtin_clzll(lo);
	unsigned bits_hi = 63 - (unsigned)__builtin_clzll(hi);
	uint64_t r = xorshift(&w->rng);
	unsigned b = bits_lo + (unsigned)(r % (bits_hi - bits_lo + 1));
	size_t base = (size_t)1 << b, n = base + (size_t)((r >> 8) % base);

	return n < lo ? lo : n > hi ? hi : n;
}

static void run_ops(struct alloc_arg *x, struct window *w, uint64_t iters)
{
	const struct allocator *a = x->a;

	for (uint64_t i = 0; i < iters; i++) {
		size_t k = (size_t)(xorshift(&w->rng) % x->slots);
		size_t n = pick_size(w, x->lo, x->hi);
		char *p;

		if (w->slot[k])
			a->free(a->ctx, w->slot[k], w->len[k]);
		p = a->alloc(a->ctx, n);
		if (p)
			p[0] = 1;
		else
			w->failures++;
		w->slot[k] = p;
		w->len[k] = n;
	}
}

static void drain(struct alloc_arg *x)
{
	for (unsigned t = 0; t < MAX_THREADS; t++)
		for (size_t k = 0; k < MAX_SLOTS; k++)
			if (x->w[t].slot[k]) {
				x->a->free(x->a->ctx, x->w[t].slot[k], x->w[t].len[k]);
				x->w[t].slot[k] = NULL;
			}
}

struct thread_arg {
	struct alloc_arg *x;
	unsigned index;
	double start, end;
};

/* Each thread times itself: the main thread may not run when they do. */
static void *thread_main(void *p)
{
	struct thread_arg *t = p;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	pin_to((int)(t->index % (unsigned)ncpu));
	pthread_barrier_wait(&t->x->barrier);
	t->start = now_ns();
	run_ops(t->x, &t->x->w[t->index], t->x->iters);
	t->end = now_ns();
	return NULL;
}

static double alloc_run(void *argp, uint64_t iters)
{
	struct alloc_arg *x = argp;
	pthread_t th[MAX_THREADS];
	struct thread_arg ta[MAX_THREADS];
	double t0, t1;

	if (x->threads == 1) {
		t0 = now_ns();
		run_ops(x, &x->w[0], iters);
		return now_ns() - t0;
	}
	x->iters = iters;
	pthread_barrier_init(&x->barrier, NULL, x->threads + 1);
	for (unsigned t = 0; t < x->threads; t++) {
		ta[t] = (struct thread_arg){ .x = x, .index = t };
		pthread_create(&th[t], NULL, thread_main, &ta[t]);
	}
	pthread_barrier_wait(&x->barrier);
	for (unsigned t = 0; t < x->threads; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&x->barrier);
	/* from the first start to the last end */
	t0 = ta[0].start;
	t1 = ta[0].end;
	for (unsigned t = 1; t < x->threads; t++) {
		t0 = ta[t].start < t0 ? ta[t].start : t0;
		t1 = ta[t].end > t1 ? ta[t].end : t1;
	}
	return t1 - t0;
}

int bench_alloc(void)
{
	static const struct {
		const char *name;
		size_t lo, hi, slots;
	} loads[] = {
		{ "mixed-64B-64KiB", 64, 64 * KiB, 256 },
		{ "frames-1MiB-32MiB", 1 * MiB, 32 * MiB, 8 },
	};
	struct allocator all[5];
	size_t nall = 0;
	struct wcp_pool *pool = bench_pool();
	char label[48];

	if (!pool)
		return -1;
	pool_label(pool, label, sizeof(label));
	all[nall++] = (struct allocator){ "wcpool", wcpool_alloc, wcpool_free, pool };
	all[nall++] = (struct allocator){ "glibc", glibc_alloc, glibc_free, NULL };
	je_mallocx = (void *(*)(size_t, int))dlsym(RTLD_DEFAULT, "mallocx");
	je_dallocx = (void (*)(void *, int))dlsym(RTLD_DEFAULT, "dallocx");
	if (je_mallocx && je_dallocx)
		all[nall++] = (struct allocator){ "jemalloc", je_alloc, je_free, NULL };
	else
		bench_skip("alloc", "jemalloc", "mallocx not found in the process");
	if (memkind_check_available(MEMKIND_HUGETLB) == 0)
		all[nall++] = (struct allocator){ "memkind-hugetlb", mk_alloc, mk_free, NULL };
	else
		bench_skip("alloc", "memkind-hugetlb", "MEMKIND_HUGETLB not available");
	all[nall++] = (struct allocator){ "mmap-hugetlb", mm_alloc, mm_free, NULL };
	if (access("/dev/wcpool", F_OK))
		bench_skip("alloc", "module", "no /dev/wcpool: per-buffer module "
			   "allocation not measured");
	bench_note("alloc", "wcpool = %s; jemalloc = default arena with its "
		   "thread cache (mallocx flags 0); glibc = __libc_malloc; "
		   "every allocation's first byte is written", label);

	for (size_t l = 0; l < sizeof(loads) / sizeof(loads[0]); l++) {
		for (unsigned threads = 1; threads <= MAX_THREADS; threads++) {
			struct alloc_arg *x[5];
			struct bench_case c[5];
			size_t n = 0;

			for (size_t i = 0; i < nall; i++) {
				size_t slots = loads[l].slots;
				long need;

				if (opt.mode == MODE_SMOKE && slots > 16)
					slots = 16;
				/* huge pages the window can pin at most */
				need = (long)(threads * slots *
					      huge_round(loads[l].hi) / (2 * MiB));
				if (!strcmp(all[i].name, "mmap-hugetlb") &&
				    free_hugepages() < need + 8) {
					bench_skip("alloc", all[i].name,
						   "not enough free huge pages");
					continue;
				}
				x[n] = calloc(1, sizeof(*x[n]));
				if (!x[n])
					return -1;
				*x[n] = (struct alloc_arg){ .a = &all[i], .lo = loads[l].lo,
							    .hi = loads[l].hi, .slots = slots,
							    .threads = threads };
				/* warm-up: every slot of every window live */
				for (unsigned t = 0; t < MAX_THREADS; t++) {
					x[n]->w[t].rng = 0x9e3779b97f4a7c15ull * (t + 1) + l;
					if (t < threads)
						run_ops(x[n], &x[n]->w[t], 4 * slots);
				}
				c[n] = (struct bench_case){ .name = all[i].name,
							    .fn = alloc_run, .arg = x[n],
							    .comparable = true };
				n++;
			}
			measure_set("alloc", loads[l].name, 0, 0, threads, c, n);
			for (size_t i = 0; i < n; i++) {
				for (unsigned t = 0; t < threads; t++)
					if (x[i]->w[t].failures)
						bench_note("alloc", "%s %s %u threads: %llu "
							   "allocations failed", c[i].name,
							   loads[l].name, threads,
							   (unsigned long long)x[i]->w[t].failures);
				drain(x[i]);
				free(x[i]);
			}
		}
	}
	wcp_pool_destroy(pool);
	return 0;
}
