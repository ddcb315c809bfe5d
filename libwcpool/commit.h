/* SPDX-License-Identifier: MIT */
/* jemalloc's commit/decommit mapped onto backend pages (commit.c). */
#ifndef WCPOOL_INTERNAL_COMMIT_H
#define WCPOOL_INTERNAL_COMMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "pool.h"


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
