/* SPDX-License-Identifier: MIT */
/* jemalloc's commit/decommit mapped onto backend pages (commit.c). */
#ifndef WCPOOL_INTERNAL_COMMIT_H
#define WCPOOL_INTERNAL_COMMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "lock.h"

struct wcp_pool;

/* Huge-page pools only; NULL bitmaps on 4 KiB pools. */
struct wcpi_commit {
	struct wcpi_lock lock;
	uint64_t *committed;	/* a bit per 4 KiB page jemalloc committed */
	uint64_t *stale;	/* a bit per 4 KiB page that may hold old bytes */
	uint64_t *deferred;	/* a bit per huge page kept for a retry */
};

void wcpi_commit_setup(struct wcp_pool *pool);
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
