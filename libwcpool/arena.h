/* SPDX-License-Identifier: MIT */
/* The pool's jemalloc arenas and their extent hooks (arena.c). */
#ifndef WCPOOL_INTERNAL_ARENA_H
#define WCPOOL_INTERNAL_ARENA_H

#include <jemalloc/jemalloc.h>

#include "lock.h"
#include "wcpool.h"

#define WCPI_MAX_ARENAS 4

struct wcpi_arenas {
	struct wcpi_lock lock;		/* ids, nr, next */
	unsigned ids[WCPI_MAX_ARENAS];
	unsigned nr;
	unsigned wanted;		/* one per CPU, up to WCPI_MAX_ARENAS */
	unsigned next;			/* the next one to hand to a thread */
	int untracked_flags;		/* mallocx flags without a thread cache */
	bool ready;			/* false in imported views */
};

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
