// SPDX-License-Identifier: MIT
/*
 * Per-thread caches of small allocations: objects they hold are not live,
 * a thread's cache of one pool never serves another, and threads and pools
 * may end in either order.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static struct wcp_pool_stats stats_of(struct wcp_pool *pool)
{
	struct wcp_pool_stats st;

	cr_assert_eq(wcp_pool_stats(pool, &st), 0);
	return st;
}

/*
 * The counts stay exact across every refill of a bin from jemalloc and
 * every flush back (live = held less the bin's count): one class, far
 * more blocks than a bin holds, checked after each malloc and free.
 */
Test(tcache, counts_exact_across_refills_and_flushes)
{
	struct wcp_pool *pool = make_pool(0, 0);
	enum { N = 3000 };
	static void *p[N];

	for (int i = 0; i < N; i++) {
		p[i] = wcp_malloc(pool, 48);
		cr_assert_not_null(p[i]);
		cr_assert_eq(stats_of(pool).allocations, (uint64_t)i + 1);
	}
	/* every other one, then the rest: flushes from half-full bins */
	for (int pass = 0; pass < 2; pass++)
		for (int i = pass; i < N; i += 2) {
			wcp_free(pool, p[i]);
			cr_assert_eq(stats_of(pool).allocations,
				     (uint64_t)(pass ? N / 2 - (i + 1) / 2 :
						N - i / 2 - 1), "pass %d i %d",
				     pass, i);
		}
	cr_assert_eq(stats_of(pool).allocated, 0);
	wcp_pool_destroy(pool);
}

Test(tcache, cached_objects_are_not_live)
{
	struct wcp_pool *pool = make_pool(0, 0);
	void *p[1000];
	uint64_t bytes = 0;

	for (int i = 0; i < 1000; i++)
		p[i] = wcp_malloc(pool, 16 + i % 200);
	for (int i = 0; i < 1000; i++)
		wcp_free(pool, p[i]);
	cr_assert_eq(stats_of(pool).allocations, 0);
	cr_assert_eq(stats_of(pool).allocated, 0);
	/* These come out of the thread's cache now. */
	for (int i = 0; i < 10; i++) {
		p[i] = wcp_malloc(pool, 100);
		bytes += wcp_usable_size(pool, p[i]);
	}
	cr_assert_eq(stats_of(pool).allocations, 10);
	cr_assert_eq(stats_of(pool).allocated, bytes);
	for (int i = 0; i < 10; i++)
		wcp_free(pool, p[i]);
	wcp_pool_destroy(pool);
}

struct batch {
	struct wcp_pool *pool;
	void *p[100];
};

static void *allocate_batch(void *arg)
{
	struct batch *b = arg;

	for (int i = 0; i < 100; i++) {
		b->p[i] = wcp_malloc(b->pool, 64);
		/* A few to free right away: they stay in this thread's cache. */
		wcp_free(b->pool, wcp_malloc(b->pool, 64));
	}
	return NULL;
}

/* A thread's counts outlive it; another thread frees what it left. */
Test(tcache, counts_survive_the_thread)
{
	struct batch b = { .pool = make_pool(0, 0) };
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, allocate_batch, &b), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(stats_of(b.pool).allocations, 100);
	cr_assert_eq(stats_of(b.pool).allocated,
		     100 * wcp_usable_size(b.pool, b.p[0]));
	for (int i = 0; i < 100; i++)
		wcp_free(b.pool, b.p[i]);
	cr_assert_eq(stats_of(b.pool).allocations, 0);
	cr_assert_eq(stats_of(b.pool).allocated, 0);
	wcp_pool_destroy(b.pool);
}

/*
 * A thread keeps running while the pools it used are destroyed and new ones
 * are created, often at the same address: what it allocates always belongs
 * to the current pool.
 */
static struct wcp_pool *_Atomic current;
static pthread_barrier_t round_start, round_end;
static atomic_int foreign;

static void *use_each_pool(void *arg)
{
	int rounds = (int)(intptr_t)arg;

	for (int r = 0; r < rounds; r++) {
		struct wcp_pool *pool;
		void *p[50];

		pthread_barrier_wait(&round_start);
		pool = atomic_load(&current);
		for (int i = 0; i < 50; i++) {
			p[i] = wcp_malloc(pool, 32 + 8 * i);
			if (!p[i] || !wcp_owns(pool, p[i]))
				atomic_fetch_add(&foreign, 1);
		}
		/* Half stay in this thread's cache when the pool goes. */
		for (int i = 0; i < 50; i++)
			wcp_free(pool, p[i]);
		for (int i = 0; i < 25; i++)
			p[i] = wcp_malloc(pool, 64);
		for (int i = 0; i < 25; i++)
			wcp_free(pool, p[i]);
		pthread_barrier_wait(&round_end);
	}
	return NULL;
}

Test(tcache, a_thread_outlives_its_pools)
{
	const int rounds = 30;
	struct wcp_pool *prev = NULL;
	int same_address = 0;
	pthread_t t;

	pthread_barrier_init(&round_start, NULL, 2);
	pthread_barrier_init(&round_end, NULL, 2);
	cr_assert_eq(pthread_create(&t, NULL, use_each_pool,
				    (void *)(intptr_t)rounds), 0);
	for (int r = 0; r < rounds; r++) {
		struct wcp_pool *pool = make_pool(WCP_PAGE_4K, 64 * MiB);

		same_address += pool == prev;
		atomic_store(&current, pool);
		pthread_barrier_wait(&round_start);
		pthread_barrier_wait(&round_end);
		cr_assert_eq(stats_of(pool).allocations, 0, "round %d", r);
		wcp_pool_destroy(pool);
		prev = pool;
	}
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(atomic_load(&foreign), 0);
	cr_log_info("%d of %d pools reused the address of the one before",
		    same_address, rounds);
	pthread_barrier_destroy(&round_start);
	pthread_barrier_destroy(&round_end);
}

/* More pools in one thread than it keeps caches for: the least used go. */
Test(tcache, more_pools_than_a_thread_caches)
{
	enum { POOLS = 7, LIVE = 20 };
	struct wcp_pool *pool[POOLS];
	void *live[POOLS][LIVE];

	for (int k = 0; k < POOLS; k++)
		pool[k] = make_pool(WCP_PAGE_4K, 64 * MiB);
	for (int round = 0; round < 50; round++) {
		for (int k = 0; k < POOLS; k++) {
			for (int i = 0; i < LIVE; i++) {
				if (round)
					wcp_free(pool[k], live[k][i]);
				live[k][i] = wcp_malloc(pool[k], 24 + i);
				cr_assert(wcp_owns(pool[k], live[k][i]),
					  "pool %d round %d", k, round);
			}
		}
	}
	for (int k = 0; k < POOLS; k++) {
		cr_assert_eq(stats_of(pool[k]).allocations, LIVE, "pool %d", k);
		for (int i = 0; i < LIVE; i++)
			wcp_free(pool[k], live[k][i]);
		cr_assert_eq(stats_of(pool[k]).allocations, 0, "pool %d", k);
		wcp_pool_destroy(pool[k]);
	}
}

/* wcp_pool_trim() empties the caller's cache, so the slabs can go. */
Test(tcache, trim_empties_the_callers_cache)
{
	struct wcp_pool *pool = make_pool(WCP_PAGE_4K, 64 * MiB);
	void *p[2000];

	for (int i = 0; i < 2000; i++)
		p[i] = wcp_malloc(pool, 64);
	for (int i = 0; i < 2000; i++)
		wcp_free(pool, p[i]);
	cr_assert_gt(stats_of(pool).active, 0, "the cache holds slabs");
	cr_assert_eq(wcp_pool_trim(pool), 0);
	cr_assert_eq(stats_of(pool).active, 0, "active %lu after trim",
		     (unsigned long)stats_of(pool).active);
	wcp_pool_destroy(pool);
}

/*
 * wcp_pool_trim() cannot flush another running thread's cache: that thread
 * flushes it at its next call into the pool.
 */
static struct wcp_pool *trimmed;
static pthread_barrier_t step;

static void *keeps_a_cache(void *arg)
{
	void *p[16], *keep = wcp_malloc(trimmed, 64);

	/* Up to 20 freed blocks of each size up to 32 KiB stay cached. */
	for (int i = 0; i < 16; i++)
		p[i] = wcp_malloc(trimmed, 32 * KiB);
	for (int i = 0; i < 16; i++)
		wcp_free(trimmed, p[i]);
	pthread_barrier_wait(&step);	/* its cache is full: main trims */
	pthread_barrier_wait(&step);
	wcp_free(trimmed, keep);	/* the next call */
	pthread_barrier_wait(&step);
	pthread_barrier_wait(&step);	/* alive until main has looked */
	return arg;
}

Test(tcache, trim_reaches_running_threads)
{
	uint64_t full, after_trim, after_call;
	pthread_t t;

	trimmed = make_pool(WCP_PAGE_4K, 64 * MiB);
	cr_assert_eq(pthread_barrier_init(&step, NULL, 2), 0);
	cr_assert_eq(pthread_create(&t, NULL, keeps_a_cache, NULL), 0);
	pthread_barrier_wait(&step);
	full = stats_of(trimmed).active;
	cr_assert_eq(wcp_pool_trim(trimmed), 0);
	after_trim = stats_of(trimmed).active;
	pthread_barrier_wait(&step);
	pthread_barrier_wait(&step);
	after_call = stats_of(trimmed).active;
	pthread_barrier_wait(&step);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_geq(full, 8 * 32 * KiB, "the thread's cache holds blocks");
	cr_assert_eq(after_trim, full, "a running thread's cache is its own");
	/* Left: the slab of the one block freed into the emptied cache. */
	cr_assert_leq(after_call, 16 * KiB, "active %lu after the call, %lu before",
		      (unsigned long)after_call, (unsigned long)full);
	cr_assert_eq(stats_of(trimmed).allocations, 0);
	wcp_pool_destroy(trimmed);
	pthread_barrier_destroy(&step);
}

/*
 * Short-lived threads hand their caches back, still filled, to the next
 * thread: the counts stay exact and nothing leaks when the pools go.
 */
static struct wcp_pool *pair[2];

static void *short_lived(void *arg)
{
	void *keep = NULL;

	for (int i = 0; i < 300; i++) {
		struct wcp_pool *pool = pair[i % 2];
		void *p = wcp_malloc(pool, 16 + (size_t)(i * 37) % 4000);

		if (!p || !wcp_owns(pool, p))
			return (void *)1;
		if (i == 7)
			keep = p;	/* a live block of pair[1] */
		else
			wcp_free(pool, p);
	}
	*(void **)arg = keep;
	return NULL;
}

Test(tcache, caches_pass_from_thread_to_thread)
{
	void *kept[40], *ret;

	pair[0] = make_pool(WCP_PAGE_4K, 64 * MiB);
	pair[1] = make_pool(WCP_PAGE_4K, 64 * MiB);
	for (int r = 0; r < 10; r++) {
		pthread_t t[4];

		for (int i = 0; i < 4; i++)
			cr_assert_eq(pthread_create(&t[i], NULL, short_lived,
						    &kept[r * 4 + i]), 0);
		for (int i = 0; i < 4; i++) {
			cr_assert_eq(pthread_join(t[i], &ret), 0);
			cr_assert_null(ret, "a block from the wrong pool");
		}
	}
	cr_assert_eq(stats_of(pair[0]).allocations, 0);
	cr_assert_eq(stats_of(pair[1]).allocations, 40);
	for (int i = 0; i < 40; i++)
		wcp_free(pair[1], kept[i]);
	cr_assert_eq(stats_of(pair[1]).allocations, 0);
	cr_assert_eq(stats_of(pair[1]).allocated, 0);
	wcp_pool_destroy(pair[0]);
	wcp_pool_destroy(pair[1]);
}

/*
 * Pool calls after libwcpool's thread-exit destructor (from a later round
 * of key destructors, as glibc's own teardown can make them) must not take
 * a cache record that nothing hands back: each such thread leaked one, and
 * its objects, until jemalloc ran out of tcaches.  There, jemalloc has
 * cleaned up the thread and serves any mallocx() from its default arena:
 * an allocation fails (ENOMEM) rather than return memory outside the pool;
 * free and realloc of pool blocks work.
 */
static pthread_key_t late_key;
static struct wcp_pool *late_pool;
static atomic_int late_bad;

static void late_destructor(void *arg)
{
	void *p = wcp_malloc(late_pool, 200), *q;

	if (p ? !wcp_owns(late_pool, p) : errno != ENOMEM)
		atomic_fetch_add(&late_bad, 1);
	wcp_free(late_pool, p);
	if (arg != &late_bad) {
		/* A block from the thread's life: grown, then freed. */
		q = wcp_realloc(late_pool, arg, 5000);
		if (!q || !wcp_owns(late_pool, q))
			atomic_fetch_add(&late_bad, 1);
		wcp_free(late_pool, q);
	}
	/* Again in every round glibc runs, the last one included. */
	pthread_setspecific(late_key, &late_bad);
}

static void *late_user(void *arg)
{
	void *keep = wcp_malloc(late_pool, 100);

	(void)arg;
	wcp_free(late_pool, wcp_malloc(late_pool, 200));
	pthread_setspecific(late_key, keep);
	return NULL;
}

Test(tcache, calls_after_thread_exit_leak_no_cache)
{
	struct wcp_pool_stats before, after;

	late_pool = make_pool(WCP_PAGE_4K, 256 * MiB);
	/* libwcpool's key first, so its destructor runs before ours. */
	wcp_free(late_pool, wcp_malloc(late_pool, 200));
	cr_assert_eq(pthread_key_create(&late_key, late_destructor), 0);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 200; i++) {
			pthread_t t;

			cr_assert_eq(pthread_create(&t, NULL, late_user, NULL),
				     0);
			cr_assert_eq(pthread_join(t, NULL), 0);
		}
		wcp_pool_trim(late_pool);
		if (round == 0)
			before = stats_of(late_pool);
	}
	after = stats_of(late_pool);
	cr_assert_eq(atomic_load(&late_bad), 0);
	cr_assert_eq(after.allocations, 0);
	/* 200 leaked caches hold about 5 MB; a bounded set holds none more. */
	cr_assert_leq(after.active, before.active + 256 * KiB,
		      "active %lu after 200 more threads, %lu before",
		      (unsigned long)after.active,
		      (unsigned long)before.active);
	pthread_key_delete(late_key);
	wcp_pool_destroy(late_pool);
}

/*
 * Blocks of 14-64 KiB (jemalloc's large classes, an extent each) are
 * cached per thread too: counts stay exact through the bins' refills and
 * flushes, and each block is of its class's size.
 */
Test(tcache, large_class_blocks_counted_exactly)
{
	struct wcp_pool *pool = make_pool(0, 0);
	enum { N = 200 };
	static void *p[N];
	uint64_t bytes = 0;
	unsigned r = 7;

	for (int i = 0; i < N; i++) {
		size_t size, usable;

		r = r * 1103515245u + 12345u;
		size = 14 * 1024 + 1 + (r >> 8) % (50 * 1024);
		p[i] = wcp_malloc(pool, size);
		cr_assert_not_null(p[i]);
		usable = wcp_usable_size(pool, p[i]);
		cr_assert(usable >= size && usable <= size + size / 4,
			  "%zu bytes for %zu", usable, size);
		bytes += usable;
		cr_assert_eq(stats_of(pool).allocations, (uint64_t)i + 1);
		cr_assert_eq(stats_of(pool).allocated, bytes);
	}
	for (int i = 0; i < N; i += 2) {
		bytes -= wcp_usable_size(pool, p[i]);
		wcp_free(pool, p[i]);
		cr_assert_eq(stats_of(pool).allocated, bytes, "i %d", i);
	}
	for (int i = 1; i < N; i += 2)
		wcp_free(pool, p[i]);
	cr_assert_eq(stats_of(pool).allocations, 0);
	cr_assert_eq(stats_of(pool).allocated, 0);
	cr_assert_eq(wcp_pool_trim(pool), 0);
	wcp_pool_destroy(pool);
}

/* A cached block handed out again by wcp_calloc() reads as zero. */
Test(tcache, calloc_of_a_cached_block_is_zero)
{
	static const size_t sizes[] = { 48, 3000, 14336, 20000, 40000, 65536 };
	struct wcp_pool *pool = make_pool(0, 0);

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		unsigned char *p = wcp_malloc(pool, sizes[k]), *q;

		cr_assert_not_null(p);
		memset(p, 0xab, sizes[k]);
		wcp_free(pool, p);
		q = wcp_calloc(pool, 1, sizes[k]);
		cr_assert_eq(q, p, "%zu bytes: not the cached block", sizes[k]);
		for (size_t i = 0; i < sizes[k]; i++)
			cr_assert_eq(q[i], 0, "%zu bytes: byte %zu", sizes[k], i);
		wcp_free(pool, q);
	}
	wcp_pool_destroy(pool);
}

/*
 * A full pool whose free memory sits in another thread's cache: a thread
 * frees blocks the main thread allocated (queued home to the main
 * thread's arena, or kept in its own bin where both share an arena) and
 * exits.  The main thread's allocation that needs that memory flushes the
 * caches, has jemalloc merge the freed extents and succeeds (it failed
 * with ENOMEM, and fails so without either step).  A 2 MiB pool of 4 KiB
 * pages filled with 32 KiB blocks; every seventh stays with the thread, so
 * that no free run is 768 KiB long until they come back.
 */
enum { FULL_MAX = 64 };
static void *full_blocks[FULL_MAX];
static int full_n;
static struct wcp_pool *full_pool;

static void *free_every_seventh(void *arg)
{
	(void)arg;
	for (int i = 0; i < full_n; i += 7)
		wcp_free(full_pool, full_blocks[i]);
	return NULL;
}

static int by_address(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a;
	uintptr_t y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

Test(tcache, a_full_pool_takes_back_what_an_exited_thread_freed)
{
	pthread_t t;
	void *big, *p;

	full_pool = make_pool(WCP_PAGE_4K, 2 << 20);
	while (full_n < FULL_MAX && (p = wcp_malloc(full_pool, 32 << 10)))
		full_blocks[full_n++] = p;
	cr_assert_lt(full_n, FULL_MAX, "2 MiB held %d 32 KiB blocks", full_n);
	cr_assert_gt(full_n, 40);
	qsort(full_blocks, full_n, sizeof(*full_blocks), by_address);
	for (int i = 0; i < full_n; i++)
		if (i % 7)
			wcp_free(full_pool, full_blocks[i]);
	/* Only the thread's blocks are held now: none in this thread's bin. */
	cr_assert_eq(wcp_pool_trim(full_pool), 0);
	cr_assert_eq(pthread_create(&t, NULL, free_every_seventh, NULL), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(stats_of(full_pool).allocations, 0);
	big = wcp_malloc(full_pool, 768 << 10);
	cr_assert_not_null(big, "768 KiB of a free 2 MiB pool: %s",
			   strerror(errno));
	wcp_free(full_pool, big);
	wcp_pool_destroy(full_pool);
}
