/* SPDX-License-Identifier: MIT */
/*
 * Blocks freed by a thread of another arena, on their way home (remote.c).
 *
 * wcp_free() of a small block whose page belongs to another of the pool's
 * arenas does not touch the block map: the map's bytes for that page are
 * written by the threads of its arena at every malloc and free, and a
 * store from a second CPU would take the cache line from them (with one
 * free in four made by the next thread, 2 threads ran 6.7x slower per
 * operation than 1; without the map's stores, as fast as jemalloc).  The
 * freeing thread collects such blocks in a batch per arena (in its
 * record) and queues full batches here; a thread of the home arena takes
 * them back when one of its bins runs empty (or wcp_pool_trim() does),
 * and only then checks each block against the map and marks it dead: a
 * double free or interior pointer freed by another thread is caught
 * there, in the thread that takes it back.
 */
#ifndef WCPOOL_INTERNAL_REMOTE_H
#define WCPOOL_INTERNAL_REMOTE_H

#include <stdatomic.h>
#include <stdint.h>

#include "lock.h"

/* A pool's arenas at most (arena.c), the slots blocks go home to. */
#define WCPI_MAX_ARENAS 4

/* 512 bytes a batch. */
#define WCPI_REMOTE_BATCH 62

struct wcpi_remote_batch {
	struct wcpi_remote_batch *next;
	uint32_t n;
	void *ptr[WCPI_REMOTE_BATCH];
};

struct wcpi_remote {
	struct wcpi_lock lock;		/* all below; WCPI_LOCK_REMOTE */
	/* Full batches per arena slot; a bit per slot that has some. */
	struct wcpi_remote_batch *queued[WCPI_MAX_ARENAS];
	atomic_uint pending;
	struct wcpi_remote_batch *spare;	/* empty ones */
	void *chunks;			/* the mmap()ed memory they live in */
};

void wcpi_remote_setup(struct wcpi_remote *r);
void wcpi_remote_fini(struct wcpi_remote *r);
/* An empty batch; NULL when out of memory. */
struct wcpi_remote_batch *wcpi_remote_get(struct wcpi_remote *r);
/* Queue @b (n > 0) for the threads of arena slot @slot; empty: recycled. */
void wcpi_remote_put(struct wcpi_remote *r, unsigned slot,
		     struct wcpi_remote_batch *b);
/* Every batch queued for @slot, as a list; NULL if none (no lock taken). */
struct wcpi_remote_batch *wcpi_remote_take(struct wcpi_remote *r,
					   unsigned slot);
/* Give a list of emptied batches back. */
void wcpi_remote_recycle(struct wcpi_remote *r, struct wcpi_remote_batch *list);

#endif
