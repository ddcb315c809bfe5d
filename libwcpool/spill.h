/* SPDX-License-Identifier: MIT */
/*
 * A default pool past its huge pages (spill.c): memory on ordinary pages
 * from a second, 4 KiB pool that the first one owns.
 */
#ifndef WCPOOL_INTERNAL_SPILL_H
#define WCPOOL_INTERNAL_SPILL_H

#include <stdbool.h>
#include <stdint.h>

#include "lock.h"

struct wcp_pool;
struct wcp_pool_options;

struct wcpi_spill {
	struct wcpi_lock lock;			/* making the spill pool */
	struct wcp_pool *_Atomic pool;		/* NULL until needed */
	bool allowed;				/* a default (page size 0) pool */
	/* wcp_pool_create(), installed by it where the pool may spill */
	int (*create)(const struct wcp_pool_options *o, struct wcp_pool **s);
};

void wcpi_spill_setup(struct wcp_pool *pool);
void wcpi_spill_fini(struct wcp_pool *pool);
/* The spill pool, made on first use; NULL if @pool may not spill. */
struct wcp_pool *wcpi_spill_get(struct wcp_pool *pool);
/* The spill pool if @ptr lies in it, else NULL. */
struct wcp_pool *wcpi_spill_of(const struct wcp_pool *pool, const void *ptr);
/* The spill pool, if there is one (views and owners alike). */
struct wcp_pool *wcpi_spill_peek(const struct wcp_pool *pool);
void wcpi_spill_adopt(struct wcp_pool *pool, struct wcp_pool *spill);

#endif
