/* SPDX-License-Identifier: MIT */
/*
 * Live-allocation map: one bit per 8-byte granule of the pool, set while an
 * allocation starts there.  It lets wcp_free() tell a live allocation from
 * a foreign, interior or already freed pointer without trusting the
 * allocator, lock-free, in ordinary (not pool) memory that the kernel only
 * backs where bits are actually used.
 */
#ifndef WCPOOL_INTERNAL_LIVEMAP_H
#define WCPOOL_INTERNAL_LIVEMAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define WCPI_LIVEMAP_GRANULE 8u

struct wcpi_livemap {
	_Atomic uint64_t *words;
	uint64_t bits;
};

/* Zeroed bitmaps whose memory the kernel backs only where bits are set. */
uint64_t *wcpi_bitmap_alloc(uint64_t bits);
void wcpi_bitmap_free(void *map, uint64_t bits);

int wcpi_livemap_init(struct wcpi_livemap *map, uint64_t pool_bytes);
void wcpi_livemap_fini(struct wcpi_livemap *map);
/* Mark the allocation at pool offset @off live; false if it already was. */
bool wcpi_livemap_set(struct wcpi_livemap *map, uint64_t off);
/* Mark it dead; false if it was not live (double free, interior pointer). */
bool wcpi_livemap_clear(struct wcpi_livemap *map, uint64_t off);
bool wcpi_livemap_test(const struct wcpi_livemap *map, uint64_t off);

#endif
