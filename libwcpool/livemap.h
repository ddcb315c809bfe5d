/* SPDX-License-Identifier: MIT */
/*
 * The block map, in ordinary (not pool) memory that the kernel backs only
 * where it is used:
 * - a live bit per 16-byte granule of the pool, set while an allocation
 *   starts there: wcp_free() tells a live allocation from a foreign,
 *   interior or already freed pointer without trusting the allocator,
 *   lock-free;
 * - a kind byte per 4 KiB page: the size class of the blocks starting in
 *   it (every page of a jemalloc slab holds blocks of one class, and a
 *   slab is not reused while any of its blocks is allocated, cached ones
 *   included), or large (a jemalloc extent of its own) or huge (huge.c),
 *   so that a free learns the size without asking jemalloc.
 */
#ifndef WCPOOL_INTERNAL_LIVEMAP_H
#define WCPOOL_INTERNAL_LIVEMAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define WCPI_LIVEMAP_GRANULE 16u
#define WCPI_KIND_SHIFT 12
/* Kinds: 1 + size class for small blocks, else one of these. */
#define WCPI_KIND_LARGE 0xfe
#define WCPI_KIND_HUGE 0xff

struct wcpi_livemap {
	_Atomic uint64_t *words;
	uint64_t bits;
	_Atomic uint8_t *kind;
	uint64_t pages;
};

/* Zeroed bitmaps whose memory the kernel backs only where bits are set. */
uint64_t *wcpi_bitmap_alloc(uint64_t bits);
void wcpi_bitmap_free(void *map, uint64_t bits);

int wcpi_livemap_init(struct wcpi_livemap *map, uint64_t pool_bytes);
void wcpi_livemap_fini(struct wcpi_livemap *map);

static inline _Atomic uint64_t *livemap_word(const struct wcpi_livemap *map,
					     uint64_t off)
{
	return &map->words[off / WCPI_LIVEMAP_GRANULE / 64];
}

static inline uint64_t livemap_mask(uint64_t off)
{
	return (uint64_t)1 << (off / WCPI_LIVEMAP_GRANULE % 64);
}

/* Mark the allocation at pool offset @off live; false if it already was. */
static inline bool wcpi_livemap_set(struct wcpi_livemap *map, uint64_t off)
{
	uint64_t m = livemap_mask(off);

	return !(atomic_fetch_or_explicit(livemap_word(map, off), m,
					  memory_order_relaxed) & m);
}

/* Mark it dead; false if it was not live (double free, interior pointer). */
static inline bool wcpi_livemap_clear(struct wcpi_livemap *map, uint64_t off)
{
	uint64_t m = livemap_mask(off);

	return atomic_fetch_and_explicit(livemap_word(map, off), ~m,
					 memory_order_relaxed) & m;
}

static inline bool wcpi_livemap_test(const struct wcpi_livemap *map,
				     uint64_t off)
{
	return atomic_load_explicit(livemap_word(map, off),
				    memory_order_relaxed) & livemap_mask(off);
}

/* The kind of the blocks that start in the page of @off. */
static inline unsigned wcpi_livemap_kind(const struct wcpi_livemap *map,
					 uint64_t off)
{
	return atomic_load_explicit(&map->kind[off >> WCPI_KIND_SHIFT],
				    memory_order_relaxed);
}

static inline void wcpi_livemap_set_kind(struct wcpi_livemap *map,
					 uint64_t off, unsigned kind)
{
	atomic_store_explicit(&map->kind[off >> WCPI_KIND_SHIFT],
			      (uint8_t)kind, memory_order_relaxed);
}

#endif
