/* SPDX-License-Identifier: MIT */
/*
 * A default pool past its huge pages (spill.c): memory on ordinary pages
 * from a second, 4 KiB pool that the first one owns.
 */
#ifndef WCPOOL_INTERNAL_SPILL_H
#define WCPOOL_INTERNAL_SPILL_H

struct wcp_pool;

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
