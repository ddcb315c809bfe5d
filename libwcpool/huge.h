/* SPDX-License-Identifier: MIT */
/* Page-sized buffers outside jemalloc on huge-page pools (huge.c). */
#ifndef WCPOOL_INTERNAL_HUGE_H
#define WCPOOL_INTERNAL_HUGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lock.h"
#include "range.h"
#include "wcpool.h"

struct wcpi_huge {
	struct wcpi_lock lock;		/* all but threshold */
	uint64_t threshold;		/* 0: everything goes to jemalloc */
	uint64_t unit;			/* huge.c's page: the pool's, >= 2 MiB */
	struct wcpi_range_set live;
	struct wcpi_range_set free;	/* free ranges, coalesced */
	uint64_t *dirty;		/* a bit per free page still committed */
	uint64_t cached_bytes;		/* bytes of dirty free pages */
	uint64_t bytes;			/* bytes of live buffers */
	uint64_t *freed_at;		/* per page: when it went dirty-free, ns */
	uint64_t cache_max;		/* most bytes of dirty free pages */
	uint64_t decay_ns;		/* kept this long unused, then released */
	uint64_t next_decay;		/* when to look for aged pages next, ns */
};

void wcpi_huge_setup(struct wcp_pool *pool);
int wcpi_huge_init(struct wcp_pool *pool);
void wcpi_huge_fini(struct wcp_pool *pool);
bool wcpi_huge_wants(const struct wcp_pool *pool, size_t size);
void *wcpi_huge_alloc(struct wcp_pool *pool, size_t size, size_t align,
		      bool *zeroed);
size_t wcpi_huge_size(struct wcp_pool *pool, uint64_t off);
void wcpi_huge_free(struct wcp_pool *pool, uint64_t off);
void wcpi_huge_trim(struct wcp_pool *pool);
void wcpi_huge_stats(struct wcp_pool *pool, struct wcp_pool_stats *st);

#endif
