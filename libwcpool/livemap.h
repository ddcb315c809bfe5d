/* SPDX-License-Identifier: MIT */
/*
 * The block map, in ordinary (not pool) memory that the kernel backs only
 * where it is used:
 * - a live byte per 16-byte granule of the pool, set while an allocation
 *   starts there: wcp_free() tells a live allocation from a foreign,
 *   interior or already freed pointer without trusting the allocator.
 *   Bytes, not bits, so that marking takes a plain store: a locked RMW
 *   per malloc and per free cost 10 of 21 ns per free+malloc (measured,
 *   AMD EPYC), a byte store and a load about 1.  The price: a byte of
 *   map per 16 bytes of pool where blocks start (6.25 % of the memory
 *   holding small and large blocks, next to nothing for frames), and two
 *   threads freeing the same pointer at the same instant are not caught
 *   at the free but when the block is handed out twice (an abort);
 * - a page entry per 4 KiB page, 16 bits, so that a free reads both of its
 *   halves with one load from one cache line:
 *   - the kind byte (low): the size class of the blocks starting in the
 *     page (every page of a jemalloc slab holds blocks of one class, and a
 *     slab is not reused while any of its blocks is allocated, cached ones
 *     included; a block of a large class up to 64 KiB is an extent of its
 *     own, the only block starting in its first page), or large (a bigger
 *     jemalloc extent) or huge (huge.c), so that a free learns the size
 *     without asking jemalloc;
 *   - the owner byte (high): 1 + the slot of the pool arena whose slab (or
 *     extent) the blocks of a class starting there come from, 0 if
 *     unknown, so that a free can send a block home without touching its
 *     live byte (remote.h).
 */
#ifndef WCPOOL_INTERNAL_LIVEMAP_H
#define WCPOOL_INTERNAL_LIVEMAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "check.h"

#define WCPI_LIVEMAP_GRANULE 16u
#define WCPI_KIND_SHIFT 12
/* Kinds: 1 + size class for small blocks, else one of these. */
#define WCPI_KIND_LARGE 0xfe
#define WCPI_KIND_HUGE 0xff

struct wcpi_livemap {
	_Atomic uint8_t *live;
	uint64_t granules;
	_Atomic uint16_t *page;		/* owner << 8 | kind */
	uint64_t pages;
};

/* Zeroed bitmaps whose memory the kernel backs only where bits are set. */
uint64_t *wcpi_bitmap_alloc(uint64_t bits);
void wcpi_bitmap_free(void *map, uint64_t bits);

int wcpi_livemap_init(struct wcpi_livemap *map, uint64_t pool_bytes);
void wcpi_livemap_fini(struct wcpi_livemap *map);

static inline _Atomic uint8_t *livemap_byte(const struct wcpi_livemap *map,
					   uint64_t off)
{
	/* A block start in the pool: the callers checked both. */
	WCPI_ASSERT(off / WCPI_LIVEMAP_GRANULE < map->granules &&
		    !(off % WCPI_LIVEMAP_GRANULE));
	return &map->live[off / WCPI_LIVEMAP_GRANULE];
}

/* Mark the allocation at pool offset @off live; false if it already was. */
static inline bool wcpi_livemap_set(struct wcpi_livemap *map, uint64_t off)
{
	_Atomic uint8_t *b = livemap_byte(map, off);
	uint8_t v = atomic_load_explicit(b, memory_order_relaxed);

	WCPI_ASSERT(v <= 1);
	if (v)
		return false;
	atomic_store_explicit(b, 1, memory_order_relaxed);
	return true;
}

/*
 * Mark it dead; false if it was not live (double free, interior pointer).
 * One load: a second one, between, would catch nothing more.
 */
static inline bool wcpi_livemap_clear(struct wcpi_livemap *map, uint64_t off)
{
	_Atomic uint8_t *b = livemap_byte(map, off);
	uint8_t v = atomic_load_explicit(b, memory_order_relaxed);

	WCPI_ASSERT(v <= 1);
	if (!v)
		return false;
	atomic_store_explicit(b, 0, memory_order_relaxed);
	return true;
}

static inline bool wcpi_livemap_test(const struct wcpi_livemap *map,
				     uint64_t off)
{
	return atomic_load_explicit(livemap_byte(map, off),
				    memory_order_relaxed);
}

/* The page entry of @off: kind and owner, read together. */
static inline unsigned wcpi_livemap_page(const struct wcpi_livemap *map,
					 uint64_t off)
{
	return atomic_load_explicit(&map->page[off >> WCPI_KIND_SHIFT],
				    memory_order_relaxed);
}

#define WCPI_PAGE_KIND(page) ((page) & 0xffu)
#define WCPI_PAGE_OWNER(page) ((page) >> 8)

/* The kind of the blocks that start in the page of @off. */
static inline unsigned wcpi_livemap_kind(const struct wcpi_livemap *map,
					 uint64_t off)
{
	return WCPI_PAGE_KIND(wcpi_livemap_page(map, off));
}

/* 1 + the arena slot of the page of small block @off, 0 if unknown. */
static inline unsigned wcpi_livemap_owner(const struct wcpi_livemap *map,
					  uint64_t off)
{
	return WCPI_PAGE_OWNER(wcpi_livemap_page(map, off));
}

/*
 * Stored only when it changes: a page hands out many blocks, and a store
 * of the same value would still take the line from the threads that read
 * it on every free.
 */
static inline void livemap_set_page(struct wcpi_livemap *map, uint64_t off,
				    unsigned page)
{
	_Atomic uint16_t *e = &map->page[off >> WCPI_KIND_SHIFT];

	WCPI_ASSERT((off >> WCPI_KIND_SHIFT) < map->pages);
	if (atomic_load_explicit(e, memory_order_relaxed) != page)
		atomic_store_explicit(e, (uint16_t)page, memory_order_relaxed);
}

/* A page of large or huge blocks: no owner. */
static inline void wcpi_livemap_set_kind(struct wcpi_livemap *map,
					 uint64_t off, unsigned kind)
{
	WCPI_ASSERT(kind == WCPI_KIND_LARGE || kind == WCPI_KIND_HUGE);
	livemap_set_page(map, off, kind);
}

/* The kind (a size class) and owner of a page of small blocks. */
static inline void wcpi_livemap_set_small(struct wcpi_livemap *map,
					  uint64_t off, unsigned cls,
					  unsigned slot)
{
	/* A class below the large and huge kinds, an owner in its byte. */
	WCPI_ASSERT(cls + 1 < WCPI_KIND_LARGE && slot + 1 <= 0xff);
	livemap_set_page(map, off, (slot + 1) << 8 | (cls + 1));
}

#endif
