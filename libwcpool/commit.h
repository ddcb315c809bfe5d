/* SPDX-License-Identifier: MIT */
/* jemalloc's commit/decommit mapped onto backend pages (commit.c). */
#ifndef WCPOOL_INTERNAL_COMMIT_H
#define WCPOOL_INTERNAL_COMMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "lock.h"

struct wcp_pool;

/*
 * Does something outside the allocator hold pool pages in [off, off+len)
 * (a registration's dma-buf, an io_uring's fixed buffers)?  Their pages
 * must stay the file's.  Installed by the layers above (register.c,
 * uring.c), which commit.c does not call; any thread, any lock held.
 */
typedef bool wcpi_commit_held_fn(struct wcp_pool *pool, uint64_t off,
				 uint64_t len);
#define WCPI_COMMIT_HOLDERS 2

/* Huge-page pools only; NULL bitmaps on 4 KiB pools. */
struct wcpi_commit {
	struct wcpi_lock lock;
	uint64_t *committed;	/* a bit per 4 KiB page jemalloc committed */
	uint64_t *stale;	/* a bit per 4 KiB page that may hold old bytes */
	uint64_t *deferred;	/* a bit per huge page kept for a retry */
	/* set up before the pool is shared with other threads, then read */
	wcpi_commit_held_fn *holders[WCPI_COMMIT_HOLDERS];
};

void wcpi_commit_setup(struct wcp_pool *pool);
/* At setup: ask @held too before giving pages back. */
void wcpi_commit_add_holder(struct wcp_pool *pool, wcpi_commit_held_fn *held);
int wcpi_commit_init(struct wcp_pool *pool);
void wcpi_commit_fini(struct wcp_pool *pool);
int wcpi_commit(struct wcp_pool *pool, uint64_t off, uint64_t len);
int wcpi_decommit(struct wcp_pool *pool, uint64_t off, uint64_t len);
void wcpi_commit_retry(struct wcp_pool *pool);
void wcpi_commit_zero(struct wcp_pool *pool, uint64_t off, uint64_t len);
/*
 * Did a commit for @pool run out of memory in this thread (since the last
 * call with @clear)?  Tells a full pool from one the system cannot back.
 */
bool wcpi_commit_ran_out(const struct wcp_pool *pool, bool clear);

#endif
