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
 * lock.  The pool also lists its records, so that wcp_pool_destroy() can
 * flush and destroy every thread's tcache before the arena goes; a record
 * whose pool went first is marked dead and freed by its thread later.  One
 * global lock covers the lists and the dead marks, since the pool and the
 * thread can go in either order.
 *
 * The records also count live allocations and their bytes: objects sitting
 * in a tcache are allocated as far as jemalloc's statistics go, not for the
 * pool's.  Only the owning thread writes its counters (frees of another
 * thread's allocations make them negative), anyone may read them.
 */
#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

/* Pools a thread uses at once before it evicts the least recently found. */
#define WCP_THREAD_POOLS 4

struct wcp_tcache {
	alignas(64) const struct wcp_pool *pool;
	unsigned id;			/* jemalloc's tcache index */
	atomic_bool dead;		/* the pool destroyed the tcache */
	_Atomic int64_t allocations;
	_Atomic int64_t bytes;
	struct wcp_tcache *next;	/* in the pool's list */
};

static pthread_mutex_t tcache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t tcache_once = PTHREAD_ONCE_INIT;
static pthread_key_t tcache_key;
static _Thread_local struct wcp_tcache *thread_caches[WCP_THREAD_POOLS];

/* Unlink @tc from its pool and destroy its tcache; tcache_lock held. */
static void retire_locked(struct wcp_tcache *tc)
{
	struct wcp_pool *pool = (struct wcp_pool *)tc->pool;
	struct wcp_tcache **pp;

	if (atomic_load(&tc->dead))
		return;
	for (pp = &pool->tcaches; *pp != tc; pp = &(*pp)->next)
		;
	*pp = tc->next;
	pool->retired_allocations += atomic_load(&tc->allocations);
	pool->retired_bytes += atomic_load(&tc->bytes);
	mallctl("tcache.destroy", NULL, NULL, &tc->id, sizeof(tc->id));
	atomic_store(&tc->dead, true);
}

static void retire(struct wcp_tcache *tc)
{
	pthread_mutex_lock(&tcache_lock);
	retire_locked(tc);
	pthread_mutex_unlock(&tcache_lock);
	free(tc);
}

/* Thread exit: give every cached object back to its pool. */
static void thread_exit(void *unused)
{
	(void)unused;
	for (int i = 0; i < WCP_THREAD_POOLS; i++) {
		if (thread_caches[i])
			retire(thread_caches[i]);
		thread_caches[i] = NULL;
	}
}

static void make_key(void)
{
	if (pthread_key_create(&tcache_key, thread_exit))
		abort();
}

static struct wcp_tcache *create(struct wcp_pool *pool)
{
	/* A cache line each: threads' counters must not share one. */
	struct wcp_tcache *tc = aligned_alloc(64, sizeof(*tc));
	size_t len = sizeof(tc->id);

	if (!tc)
		return NULL;
	memset(tc, 0, sizeof(*tc));
	if (mallctl("tcache.create", &tc->id, &len, NULL, 0)) {
		free(tc);
		return NULL;
	}
	tc->pool = pool;
	pthread_once(&tcache_once, make_key);
	/* Any non-NULL value makes the destructor run at thread exit. */
	pthread_setspecific(tcache_key, thread_caches);
	pthread_mutex_lock(&tcache_lock);
	tc->next = pool->tcaches;
	pool->tcaches = tc;
	pthread_mutex_unlock(&tcache_lock);
	return tc;
}

/*
 * This thread's cache for @pool, created on first use; NULL when jemalloc
 * has no tcache left to give (the caller goes without one).
 */
static struct wcp_tcache *find(struct wcp_pool *pool)
{
	struct wcp_tcache *tc = NULL;
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
		tc = create(pool);
		if (!tc)
			return NULL;
		/* Into an empty slot, or the least recently found one's. */
		i = free_slot;
		if (thread_caches[i])
			retire(thread_caches[i]);
	}
	/* Move to the front: the next search for this pool stops there. */
	for (; i > 0; i--)
		thread_caches[i] = thread_caches[i - 1];
	thread_caches[0] = tc;
	return tc;
}

int wcp_tcache_flags(struct wcp_pool *pool, struct wcp_tcache **tcp)
{
	struct wcp_tcache *tc = find(pool);

	*tcp = tc;
	return tc ? MALLOCX_TCACHE(tc->id) : MALLOCX_TCACHE_NONE;
}

/* Single writer per record: a plain load and store is enough. */
static void add(_Atomic int64_t *v, int64_t delta)
{
	atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) +
				 delta, memory_order_relaxed);
}

void wcp_tcache_count(struct wcp_pool *pool, struct wcp_tcache *tc,
		      int64_t allocations, int64_t bytes)
{
	if (tc) {
		add(&tc->allocations, allocations);
		add(&tc->bytes, bytes);
	} else {
		atomic_fetch_add(&pool->untracked_allocations, allocations);
		atomic_fetch_add(&pool->untracked_bytes, bytes);
	}
}

void wcp_tcache_counts(struct wcp_pool *pool, uint64_t *allocations,
		       uint64_t *bytes)
{
	int64_t n, b;

	pthread_mutex_lock(&tcache_lock);
	n = pool->retired_allocations + atomic_load(&pool->untracked_allocations);
	b = pool->retired_bytes + atomic_load(&pool->untracked_bytes);
	for (struct wcp_tcache *tc = pool->tcaches; tc; tc = tc->next) {
		n += atomic_load(&tc->allocations);
		b += atomic_load(&tc->bytes);
	}
	pthread_mutex_unlock(&tcache_lock);
	*allocations = (uint64_t)n;
	*bytes = (uint64_t)b;
}

/* Give this thread's cached objects of @pool back to the arena. */
void wcp_tcache_flush_mine(struct wcp_pool *pool)
{
	for (int i = 0; i < WCP_THREAD_POOLS; i++) {
		struct wcp_tcache *tc = thread_caches[i];

		if (tc && tc->pool == pool && !atomic_load(&tc->dead))
			mallctl("tcache.flush", NULL, NULL, &tc->id,
				sizeof(tc->id));
	}
}

/* Pool destruction: every thread's tcache of @pool goes, before the arena. */
void wcp_tcache_pool_fini(struct wcp_pool *pool)
{
	pthread_mutex_lock(&tcache_lock);
	while (pool->tcaches)
		retire_locked(pool->tcaches);
	pthread_mutex_unlock(&tcache_lock);
}

/* fork(): no other thread may hold the lock across it (fork.c). */
void wcp_tcache_fork_prepare(void)
{
	pthread_mutex_lock(&tcache_lock);
}

void wcp_tcache_fork_parent(void)
{
	pthread_mutex_unlock(&tcache_lock);
}

void wcp_tcache_fork_child(void)
{
	pthread_mutex_init(&tcache_lock, NULL);
}
