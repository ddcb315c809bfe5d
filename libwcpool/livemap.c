// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>

#include "livemap.h"

static uint64_t bitmap_bytes(uint64_t bits)
{
	return (bits + 63) / 64 * sizeof(uint64_t);
}

static inline uint64_t bit_of(uint64_t off)
{
	return off / WCPI_LIVEMAP_GRANULE;
}

static inline uint64_t mask_of(uint64_t off)
{
	return (uint64_t)1 << (bit_of(off) % 64);
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
	map->bits = bit_of(pool_bytes);
	map->words = (_Atomic uint64_t *)wcpi_bitmap_alloc(map->bits);
	return map->words ? 0 : -ENOMEM;
}

void wcpi_livemap_fini(struct wcpi_livemap *map)
{
	if (map->words)
		wcpi_bitmap_free((void *)map->words, map->bits);
	map->words = NULL;
}

bool wcpi_livemap_set(struct wcpi_livemap *map, uint64_t off)
{
	uint64_t m = mask_of(off);

	return !(atomic_fetch_or_explicit(&map->words[bit_of(off) / 64], m,
					  memory_order_relaxed) & m);
}

bool wcpi_livemap_clear(struct wcpi_livemap *map, uint64_t off)
{
	uint64_t m = mask_of(off);

	return atomic_fetch_and_explicit(&map->words[bit_of(off) / 64], ~m,
					 memory_order_relaxed) & m;
}

bool wcpi_livemap_test(const struct wcpi_livemap *map, uint64_t off)
{
	return atomic_load_explicit(&map->words[bit_of(off) / 64],
				    memory_order_relaxed) & mask_of(off);
}
