// SPDX-License-Identifier: MIT
/*
 * Per-thread caches of a pool's small allocations.
 *
 * Each thread gets its own explicit jemalloc tcache for each pool it uses
 * (a tcache must never serve two arenas: its bins hand out whatever they
 * hold).  So small allocations take no arena lock, and pool memory never
 * lands in the tcache that serves the application's malloc or another pool.
 *
 * The thread's records sit in a small TLS array, searched by pool without a
 * lock.  A thread that exits (or makes room for a fifth pool) hands its
 * records back to their pools still filled, and the pool's next new thread
 * adopts one instead of creating a tcache and refilling it from the arena:
 * threads that come and go per frame pay neither.  The pool lists all its
 * records, so that wcp_pool_destroy() can destroy every tcache before the
 * arena goes; a record some thread still holds is then marked dead, and that
 * thread frees it later.  One global lock covers the lists and the marks,
 * since the pool and the thread can go in either order.
 *
 * wcp_pool_trim() flushes the caches no thread is using and the caller's
 * own; it cannot touch another running thread's, so it bumps the pool's
 * trim generation and each thread flushes its cache at its next call into
 * the pool (the arena's decay then gives the pages back).
 *
 * The records also count live allocations and their bytes: objects sitting
 * in a tcache are allocated as far as jemalloc's statistics go, not for the
 * pool's.  Only the thread holding a record writes its counters (frees of
 * another thread's allocations make them negative), anyone may read them.
 */
#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

/* Pools a thread uses at once before it evicts the least recently found. */
#define WCP_THREAD_POOLS 4

struct wcpi_tcache {
	alignas(64) const struct wcp_pool *pool;
	unsigned id;			/* jemalloc's tcache index */
	int flags;			/* its arena and tcache, for mallocx */
	atomic_bool dead;		/* the pool destroyed the tcache */
	bool idle;			/* no thread holds it */
	unsigned trim_seen;		/* the pool's trim generation, flushed */
	_Atomic int64_t allocations;
	_Atomic int64_t bytes;
	struct wcpi_tcache *next;	/* in the pool's list */
};

static pthread_mutex_t tcache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t tcache_once = PTHREAD_ONCE_INIT;
static pthread_key_t tcache_key;
static _Thread_local struct wcpi_tcache *thread_caches[WCP_THREAD_POOLS];
/*
 * Set once thread_exit_records() ran: later pool calls of this thread
 * (another key's destructor, glibc's teardown) go without a cache, since
 * nothing would hand a new record back.
 */
static _Thread_local bool thread_exiting;

/* This thread is done with @tc: it goes back to its pool, still filled. */
static void record_put_back(struct wcpi_tcache *tc)
{
	bool dead;

	pthread_mutex_lock(&tcache_lock);
	dead = atomic_load(&tc->dead);
	tc->idle = !dead;
	pthread_mutex_unlock(&tcache_lock);
	if (dead)
		free(tc);
}

/* Thread exit: the pools get their records back. */
static void thread_exit_records(void *unused)
{
	(void)unused;
	thread_exiting = true;
	for (int i = 0; i < WCP_THREAD_POOLS; i++) {
		if (thread_caches[i])
			record_put_back(thread_caches[i]);
		thread_caches[i] = NULL;
	}
}

static void make_thread_key(void)
{
	if (pthread_key_create(&tcache_key, thread_exit_records))
		abort();
}

/* An idle record of @pool, or a new one; NULL if jemalloc has none left. */
static struct wcpi_tcache *record_take(struct wcp_pool *pool)
{
	struct wcpi_tcache *tc;
	size_t len = sizeof(tc->id);

	pthread_once(&tcache_once, make_thread_key);
	/* Any non-NULL value makes the destructor run at thread exit. */
	pthread_setspecific(tcache_key, thread_caches);
	pthread_mutex_lock(&tcache_lock);
	for (tc = pool->tcaches.list; tc && !tc->idle; tc = tc->next)
		;
	if (tc)
		tc->idle = false;
	pthread_mutex_unlock(&tcache_lock);
	if (tc)
		return tc;

	/* A cache line each: threads' counters must not share one. */
	tc = aligned_alloc(64, sizeof(*tc));
	if (!tc)
		return NULL;
	memset(tc, 0, sizeof(*tc));
	if (mallctl("tcache.create", &tc->id, &len, NULL, 0)) {
		free(tc);
		return NULL;
	}
	tc->pool = pool;
	tc->trim_seen = atomic_load(&pool->tcaches.trim_generation);
	tc->flags = wcpi_mallocx_arena(wcpi_arena_pick(pool)) |
		    MALLOCX_TCACHE(tc->id);
	pthread_mutex_lock(&tcache_lock);
	tc->next = pool->tcaches.list;
	pool->tcaches.list = tc;
	pthread_mutex_unlock(&tcache_lock);
	return tc;
}

/*
 * This thread's cache for @pool, created on first use; NULL when jemalloc
 * has no tcache left to give (the caller goes without one).
 */
static struct wcpi_tcache *thread_record(struct wcp_pool *pool)
{
	struct wcpi_tcache *tc = NULL;
	int i, free_slot = WCP_THREAD_POOLS - 1;

	for (i = 0; i < WCP_THREAD_POOLS; i++) {
		tc = thread_caches[i];
		if (tc && atomic_load(&tc->dead)) {
			/* Its pool is gone and has forgotten it. */
			free(tc);
			tc = thread_caches[i] = NULL;
		}
		if (!tc && free_slot == WCP_THREAD_POOLS - 1)
			free_slot = i;
		if (tc && tc->pool == pool)
			break;
	}
	if (i == WCP_THREAD_POOLS) {
		if (thread_exiting)
			return NULL;
		tc = record_take(pool);
		if (!tc)
			return NULL;
		/* Into an empty slot, or the least recently found one's. */
		i = free_slot;
		if (thread_caches[i])
			record_put_back(thread_caches[i]);
	}
	/* Move to the front: the next search for this pool stops there. */
	for (; i > 0; i--)
		thread_caches[i] = thread_caches[i - 1];
	thread_caches[0] = tc;
	return tc;
}

static void record_flush(struct wcpi_tcache *tc)
{
	mallctl("tcache.flush", NULL, NULL, &tc->id, sizeof(tc->id));
}

int wcpi_tcache_flags(struct wcp_pool *pool, struct wcpi_tcache **tcp)
{
	struct wcpi_tcache *tc = thread_record(pool);
	unsigned trim;

	*tcp = tc;
	if (!tc)
		return pool->arenas.untracked_flags;
	/* Only this thread uses its tcache: it flushes it itself. */
	trim = atomic_load_explicit(&pool->tcaches.trim_generation,
				    memory_order_relaxed);
	if (tc->trim_seen != trim) {
		record_flush(tc);
		tc->trim_seen = trim;
	}
	return tc->flags;
}

/* Single writer per record: a plain load and store is enough. */
static void counter_add(_Atomic int64_t *v, int64_t delta)
{
	atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) +
				 delta, memory_order_relaxed);
}

void wcpi_tcache_count(struct wcp_pool *pool, struct wcpi_tcache *tc,
		      int64_t allocations, int64_t bytes)
{
	if (tc) {
		counter_add(&tc->allocations, allocations);
		counter_add(&tc->bytes, bytes);
	} else {
		atomic_fetch_add(&pool->tcaches.untracked_allocations, allocations);
		atomic_fetch_add(&pool->tcaches.untracked_bytes, bytes);
	}
}

void wcpi_tcache_counts(struct wcp_pool *pool, uint64_t *allocations,
		       uint64_t *bytes)
{
	int64_t n, b;

	pthread_mutex_lock(&tcache_lock);
	n = atomic_load(&pool->tcaches.untracked_allocations);
	b = atomic_load(&pool->tcaches.untracked_bytes);
	for (struct wcpi_tcache *tc = pool->tcaches.list; tc; tc = tc->next) {
		n += atomic_load(&tc->allocations);
		b += atomic_load(&tc->bytes);
	}
	pthread_mutex_unlock(&tcache_lock);
	*allocations = (uint64_t)n;
	*bytes = (uint64_t)b;
}

/*
 * Give the objects cached by idle records and by this thread back now, and
 * have every other thread give its own back at its next call.
 */
void wcpi_tcache_flush(struct wcp_pool *pool)
{
	unsigned trim = atomic_fetch_add(&pool->tcaches.trim_generation, 1) + 1;

	pthread_mutex_lock(&tcache_lock);
	for (struct wcpi_tcache *tc = pool->tcaches.list; tc; tc = tc->next) {
		bool mine = false;

		for (int i = 0; i < WCP_THREAD_POOLS; i++)
			mine |= thread_caches[i] == tc;
		if (tc->idle || mine) {
			record_flush(tc);
			tc->trim_seen = trim;
		}
	}
	pthread_mutex_unlock(&tcache_lock);
}

/* Pool destruction: every tcache of @pool goes, before the arena. */
void wcpi_tcache_pool_fini(struct wcp_pool *pool)
{
	pthread_mutex_lock(&tcache_lock);
	while (pool->tcaches.list) {
		struct wcpi_tcache *tc = pool->tcaches.list;

		pool->tcaches.list = tc->next;
		mallctl("tcache.destroy", NULL, NULL, &tc->id, sizeof(tc->id));
		if (tc->idle)
			free(tc);
		else
			atomic_store(&tc->dead, true);	/* its thread frees it */
	}
	pthread_mutex_unlock(&tcache_lock);
}

/* fork(): no other thread may hold the lock across it (fork.c). */
void wcpi_tcache_fork_prepare(void)
{
	pthread_mutex_lock(&tcache_lock);
}

void wcpi_tcache_fork_parent(void)
{
	pthread_mutex_unlock(&tcache_lock);
}

/*
 * The child's only thread starts with no records: they are the parent's
 * (a pool made later at the same address must not find them), and their
 * tcaches serve the parent's arenas.  wcpi_tcache_pool_forget() frees them
 * if the child destroys the parent's pool.
 */
void wcpi_tcache_fork_child(void)
{
	pthread_mutex_init(&tcache_lock, NULL);
	memset(thread_caches, 0, sizeof(thread_caches));
}

/* A fork() child drops its copy of the parent's records of @pool. */
void wcpi_tcache_pool_forget(struct wcp_pool *pool)
{
	pthread_mutex_lock(&tcache_lock);
	while (pool->tcaches.list) {
		struct wcpi_tcache *tc = pool->tcaches.list;

		pool->tcaches.list = tc->next;
		free(tc);
	}
	pthread_mutex_unlock(&tcache_lock);
}
