// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>

#include "livemap.h"

static inline uint64_t bit_of(uint64_t off)
{
	return off / WCP_LIVEMAP_GRANULE;
}

static inline uint64_t mask_of(uint64_t off)
{
	return (uint64_t)1 << (bit_of(off) % 64);
}

int wcp_livemap_init(struct wcp_livemap *map, uint64_t pool_bytes)
{
	uint64_t words = (bit_of(pool_bytes) + 63) / 64;
	void *p;

	map->map_bytes = words * sizeof(uint64_t);
	/* NORESERVE: only the pages holding set bits ever get memory. */
	p = mmap(NULL, map->map_bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	map->words = p;
	return 0;
}

void wcp_livemap_fini(struct wcp_livemap *map)
{
	if (map->words)
		munmap((void *)map->words, map->map_bytes);
	map->words = NULL;
}

bool wcp_livemap_set(struct wcp_livemap *map, uint64_t off)
{
	uint64_t m = mask_of(off);

	return !(atomic_fetch_or_explicit(&map->words[bit_of(off) / 64], m,
					  memory_order_relaxed) & m);
}

bool wcp_livemap_clear(struct wcp_livemap *map, uint64_t off)
{
	uint64_t m = mask_of(off);

	return atomic_fetch_and_explicit(&map->words[bit_of(off) / 64], ~m,
					 memory_order_relaxed) & m;
}

bool wcp_livemap_test(const struct wcp_livemap *map, uint64_t off)
{
	return atomic_load_explicit(&map->words[bit_of(off) / 64],
				    memory_order_relaxed) & mask_of(off);
}
