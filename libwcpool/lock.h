/* SPDX-License-Identifier: MIT */
/*
 * A mutex that knows its owner in checked builds, so that functions which
 * need their caller to hold it can say so with wcpi_lock_held() (the
 * userspace lockdep_assert_held()).  A plain pthread mutex otherwise.
 */
#ifndef WCPOOL_INTERNAL_LOCK_H
#define WCPOOL_INTERNAL_LOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "check.h"

struct wcpi_lock {
	pthread_mutex_t mutex;
#if WCPI_CHECKS
	_Atomic unsigned long owner;	/* pthread_self() of the holder, or 0 */
#endif
};

static inline void wcpi_lock_init(struct wcpi_lock *l)
{
	pthread_mutex_init(&l->mutex, NULL);
#if WCPI_CHECKS
	atomic_init(&l->owner, 0);
#endif
}

static inline void wcpi_lock_fini(struct wcpi_lock *l)
{
	pthread_mutex_destroy(&l->mutex);
}

static inline void wcpi_lock(struct wcpi_lock *l)
{
	pthread_mutex_lock(&l->mutex);
#if WCPI_CHECKS
	atomic_store_explicit(&l->owner, (unsigned long)pthread_self(),
			      memory_order_relaxed);
#endif
}

static inline void wcpi_unlock(struct wcpi_lock *l)
{
#if WCPI_CHECKS
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
