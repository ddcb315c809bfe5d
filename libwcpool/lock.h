/* SPDX-License-Identifier: MIT */
/*
 * A mutex that knows its owner and its place in the lock order in checked
 * builds, so that functions which need their caller to hold it can say so
 * with wcpi_lock_held() (the userspace lockdep_assert_held()), and taking
 * locks out of order aborts.  A plain pthread mutex otherwise.
 */
#ifndef WCPOOL_INTERNAL_LOCK_H
#define WCPOOL_INTERNAL_LOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "check.h"

/*
 * Every lock of the library, outer first: a thread holding one takes only
 * locks further down (checked builds check it), never two of one rank.
 * jemalloc's own locks sit between the tcache and arenas locks and the
 * extent hooks' (space, commit), which jemalloc calls with them held.
 */
enum wcpi_lock_rank {
	/* spill.c: making the spill pool, across its wcp_pool_create() */
	WCPI_LOCK_SPILL = 1,
	/* tcache.c: every pool's list of records and their marks */
	WCPI_LOCK_TCACHE,
	/* arena.c: the pool's arenas (purge, stats take jemalloc's) */
	WCPI_LOCK_ARENAS,
	/* huge.c: free and live whole-page ranges (takes space, commit) */
	WCPI_LOCK_HUGE,
	/* space.c: the cursor and mapping (an extent hook) */
	WCPI_LOCK_SPACE,
	/* commit.c: commit bitmaps (an extent hook; asks registrations) */
	WCPI_LOCK_COMMIT,
	/* register.c: the live registrations */
	WCPI_LOCK_REGS,
	/* uring.c: the ring's slots (commit is taken after it is dropped) */
	WCPI_LOCK_URING,
	/* remote.c: queued and spare batches of blocks going home */
	WCPI_LOCK_REMOTE,
};

struct wcpi_lock {
	pthread_mutex_t mutex;
#if WCPI_CHECKS
	_Atomic unsigned long owner;	/* pthread_self() of the holder, or 0 */
	unsigned rank;			/* enum wcpi_lock_rank */
#endif
};

#if WCPI_CHECKS
#define WCPI_LOCK_INITIALIZER(r) { PTHREAD_MUTEX_INITIALIZER, 0, (r) }
/* A bit per rank this thread holds a lock of (check.c). */
extern _Thread_local unsigned wcpi_locks_held
	__attribute__((tls_model("initial-exec")));
#else
#define WCPI_LOCK_INITIALIZER(r) { PTHREAD_MUTEX_INITIALIZER }
#endif

static inline void wcpi_lock_init(struct wcpi_lock *l,
				  enum wcpi_lock_rank rank)
{
	pthread_mutex_init(&l->mutex, NULL);
#if WCPI_CHECKS
	atomic_init(&l->owner, 0);
	l->rank = rank;
#else
	(void)rank;
#endif
}

/* A fork() child's copy of a lock that its parent's fork handler took. */
static inline void wcpi_lock_reset(struct wcpi_lock *l)
{
#if WCPI_CHECKS
	wcpi_locks_held &= ~(1u << l->rank);
	wcpi_lock_init(l, l->rank);
#else
	pthread_mutex_init(&l->mutex, NULL);
#endif
}

static inline void wcpi_lock_fini(struct wcpi_lock *l)
{
	pthread_mutex_destroy(&l->mutex);
}

static inline void wcpi_lock(struct wcpi_lock *l)
{
#if WCPI_CHECKS
	/* Nothing of this rank or further down may be held already. */
	WCPI_ASSERT(l->rank && !(wcpi_locks_held >> l->rank));
#endif
	pthread_mutex_lock(&l->mutex);
#if WCPI_CHECKS
	wcpi_locks_held |= 1u << l->rank;
	atomic_store_explicit(&l->owner, (unsigned long)pthread_self(),
			      memory_order_relaxed);
#endif
}

static inline void wcpi_unlock(struct wcpi_lock *l)
{
#if WCPI_CHECKS
	WCPI_ASSERT(atomic_load_explicit(&l->owner, memory_order_relaxed) ==
		    (unsigned long)pthread_self());
	wcpi_locks_held &= ~(1u << l->rank);
	atomic_store_explicit(&l->owner, 0, memory_order_relaxed);
#endif
	pthread_mutex_unlock(&l->mutex);
}

#if WCPI_CHECKS
static inline bool wcpi_lock_mine(struct wcpi_lock *l)
{
	return atomic_load_explicit(&l->owner, memory_order_relaxed) ==
	       (unsigned long)pthread_self();
}
#define wcpi_lock_held(l) WCPI_ASSERT(wcpi_lock_mine(l))
#else
#define wcpi_lock_held(l) ((void)(l))
#endif

#endif
