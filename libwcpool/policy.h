/* SPDX-License-Identifier: MIT */
/* What fill.c needs of a pool, without the rest of pool.h (jemalloc). */
#ifndef WCPOOL_INTERNAL_POLICY_H
#define WCPOOL_INTERNAL_POLICY_H

#include <stdint.h>

struct wcp_pool;

/* enum wcp_policy of @pool; write-back for NULL (ordinary memory). */
uint32_t wcpi_pool_policy(const struct wcp_pool *pool);

#endif
