/* SPDX-License-Identifier: MIT */
/* Per-thread caches of a pool's small allocations (tcache.c). */
#ifndef WCPOOL_INTERNAL_TCACHE_H
#define WCPOOL_INTERNAL_TCACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct wcp_pool;
struct wcpi_tcache;

/* A pool's records; the list is under tcache.c's global lock. */
struct wcpi_tcaches {
	struct wcpi_tcache *list;
	/* Live arena allocations made without a record. */
	_Atomic int64_t untracked_allocations;
	_Atomic int64_t untracked_bytes;
	/* Bumped by wcp_pool_trim(): running threads then flush theirs. */
	atomic_uint trim_generation;
};

/*
 * A block of size class @c from this thread's cache of @pool, counted;
 * NULL when the thread has no cache (then the caller asks jemalloc).
 */
void *wcpi_tcache_alloc(struct wcp_pool *pool, unsigned c);
/* Cache freed block @p of class @c, counted; false: no cache, not taken. */
bool wcpi_tcache_free(struct wcp_pool *pool, void *p, unsigned c);
/* mallocx flags for this thread on @pool: its arena and tcache. */
int wcpi_tcache_flags(struct wcp_pool *pool, struct wcpi_tcache **tcp);
void wcpi_tcache_count(struct wcp_pool *pool, struct wcpi_tcache *tc,
		       int64_t allocations, int64_t bytes);
void wcpi_tcache_counts(struct wcp_pool *pool, uint64_t *allocations,
			uint64_t *bytes);
void wcpi_tcache_flush(struct wcp_pool *pool);
void wcpi_tcache_pool_fini(struct wcp_pool *pool);
void wcpi_tcache_pool_forget(struct wcp_pool *pool);
void wcpi_tcache_fork_prepare(void);
void wcpi_tcache_fork_parent(void);
void wcpi_tcache_fork_child(void);

#endif
