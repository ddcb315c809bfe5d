// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>

#include "livemap.h"

static uint64_t bitmap_bytes(uint64_t bits)
{
	return (bits + 63) / 64 * sizeof(uint64_t);
}

uint64_t *wcpi_bitmap_alloc(uint64_t bits)
{
	/* NORESERVE: only the pages holding set bits ever get memory. */
	void *p = mmap(NULL, bitmap_bytes(bits), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void wcpi_bitmap_free(void *map, uint64_t bits)
{
	munmap(map, bitmap_bytes(bits));
}

int wcpi_livemap_init(struct wcpi_livemap *map, uint64_t pool_bytes)
{
	map->granules = pool_bytes / WCPI_LIVEMAP_GRANULE;
	map->pages = pool_bytes >> WCPI_KIND_SHIFT;
	map->live = (_Atomic uint8_t *)wcpi_bitmap_alloc(map->granules * 8);
	/* 16 bits a page, from the bitmap allocator */
	map->page = (_Atomic uint16_t *)wcpi_bitmap_alloc(map->pages * 16);
	if (!map->live || !map->page) {
		wcpi_livemap_fini(map);
		return -ENOMEM;
	}
	return 0;
}

void wcpi_livemap_fini(struct wcpi_livemap *map)
{
	if (map->live)
		wcpi_bitmap_free((void *)map->live, map->granules * 8);
	if (map->page)
		wcpi_bitmap_free((void *)map->page, map->pages * 16);
	map->live = NULL;
	map->page = NULL;
}
