/* SPDX-License-Identifier: MIT */
/* Page-sized buffers outside jemalloc on huge-page pools (huge.c). */
#ifndef WCPOOL_INTERNAL_HUGE_H
#define WCPOOL_INTERNAL_HUGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wcpool.h"

struct wcp_pool;

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
