/* SPDX-License-Identifier: MIT */
/*
 * jemalloc's small size classes, read from jemalloc once at load time, so
 * that the per-thread caches (tcache.c) bin blocks by class and the free
 * path learns a block's size from the block map instead of sallocx().
 */
#ifndef WCPOOL_INTERNAL_SIZECLASS_H
#define WCPOOL_INTERNAL_SIZECLASS_H

#include <stddef.h>
#include <stdint.h>

#define WCPI_MAX_CLASSES 64
/* Largest size looked up by table: jemalloc's largest slab class, 14 KiB. */
#define WCPI_SMALL_LIMIT 14336

struct wcpi_sizeclasses {
	unsigned nr;				/* small classes (bins) */
	size_t max;				/* largest small size */
	uint32_t size[WCPI_MAX_CLASSES];	/* bytes of each class */
	/* Class of a size, by (size + 15) / 16: sizes up to max. */
	uint8_t of[WCPI_SMALL_LIMIT / 16 + 1];
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
