/* SPDX-License-Identifier: MIT */
/*
 * jemalloc's size classes up to 64 KiB, read from jemalloc once at load
 * time, so that the per-thread caches (tcache.c) bin blocks by class and
 * the free path learns a block's size from the block map instead of
 * sallocx(): the small (slab) classes up to 14 KiB, then the large ones
 * (an extent each) up to WCPI_CACHE_LIMIT.
 */
#ifndef WCPOOL_INTERNAL_SIZECLASS_H
#define WCPOOL_INTERNAL_SIZECLASS_H

#include <stddef.h>
#include <stdint.h>

#define WCPI_MAX_CLASSES 64
/* Largest slab class jemalloc may have, 14 KiB with 4 KiB pages. */
#define WCPI_SMALL_LIMIT 14336
/*
 * Largest size the caches serve: media programs' command buffers, slices
 * and metadata live at 14-64 KiB, where jemalloc's own thread cache stops
 * at 32 KiB.
 */
#define WCPI_CACHE_LIMIT 65536

struct wcpi_sizeclasses {
	unsigned nr;				/* classes the caches serve */
	unsigned nr_slab;			/* of them, small (slab) ones */
	size_t max;				/* largest size they serve */
	size_t slab_max;			/* largest small class */
	uint32_t size[WCPI_MAX_CLASSES];	/* bytes of each class */
	/* Blocks of a slab of each small class (0: large, or unknown). */
	uint32_t nregs[WCPI_MAX_CLASSES];
	/* Class of a size, by (size + 15) / 16: sizes up to max. */
	uint8_t of[WCPI_CACHE_LIMIT / 16 + 1];
};

extern struct wcpi_sizeclasses wcpi_classes;

/* Read the classes from jemalloc; at load time, before any pool exists. */
void wcpi_sizeclass_init(void);

/* The class of a request of @size bytes, which must be <= wcpi_classes.max. */
static inline unsigned wcpi_class_of(size_t size)
{
	return wcpi_classes.of[(size + 15) >> 4];
}

#endif
