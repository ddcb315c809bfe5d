/* SPDX-License-Identifier: MIT */
/* The pool's jemalloc arenas and their extent hooks (arena.c). */
#ifndef WCPOOL_INTERNAL_ARENA_H
#define WCPOOL_INTERNAL_ARENA_H

#include <jemalloc/jemalloc.h>

#include "wcpool.h"

struct wcp_pool;

void wcpi_arena_setup(struct wcp_pool *pool);
int wcpi_arena_create(struct wcp_pool *pool);
void wcpi_arena_destroy(struct wcp_pool *pool);
int wcpi_arena_stats(struct wcp_pool *pool, struct wcp_pool_stats *stats);
int wcpi_arena_purge(struct wcp_pool *pool);
unsigned wcpi_arena_pick(struct wcp_pool *pool, unsigned *arena);

/*
 * MALLOCX_ARENA() without its signed overflow: jemalloc's macro shifts an
 * int, undefined from arena 2047 on (UBSan caught it with 2500 pools).  The
 * flag bits are the same; GCC converts to int modulo 2^32.
 */
static inline int wcpi_mallocx_arena(unsigned arena)
{
	return (int)((arena + 1) << 20);
}

#endif
