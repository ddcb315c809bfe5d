// SPDX-License-Identifier: MIT
/*
 * The queues of blocks on their way home to their arena (remote.h): full
 * batches per arena slot, and the batches' own memory, from mmap() (never
 * malloc(): an application may route its malloc to a pool).
 */
#include <stddef.h>
#include <sys/mman.h>

#include "check.h"
#include "remote.h"

#define CHUNK_BYTES (64u << 10)

/* A chunk: this header, then batches. */
struct chunk {
	void *next;
};

void wcpi_remote_setup(struct wcpi_remote *r)
{
	wcpi_lock_init(&r->lock, WCPI_LOCK_REMOTE);
}

void wcpi_remote_fini(struct wcpi_remote *r)
{
	while (r->chunks) {
		struct chunk *c = r->chunks;

		r->chunks = c->next;
		munmap(c, CHUNK_BYTES);
	}
	wcpi_lock_fini(&r->lock);
}

/* With the lock held: carve a new chunk into spare batches. */
static void grow(struct wcpi_remote *r)
{
	struct chunk *c = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct wcpi_remote_batch *b;
	size_t off;

	wcpi_lock_held(&r->lock);
	if (c == MAP_FAILED)
		return;
	c->next = r->chunks;
	r->chunks = c;
	for (off = 64; off + sizeof(*b) <= CHUNK_BYTES; off += sizeof(*b)) {
		b = (struct wcpi_remote_batch *)((char *)c + off);
		b->next = r->spare;
		r->spare = b;
	}
}

struct wcpi_remote_batch *wcpi_remote_get(struct wcpi_remote *r)
{
	struct wcpi_remote_batch *b;

	wcpi_lock(&r->lock);
	if (!r->spare)
		grow(r);
	b = r->spare;
	if (b) {
		r->spare = b->next;
		b->next = NULL;
		b->n = 0;
	}
	wcpi_unlock(&r->lock);
	return b;
}

void wcpi_remote_put(struct wcpi_remote *r, unsigned slot,
		     struct wcpi_remote_batch *b)
{
	WCPI_ASSERT(slot < WCPI_MAX_ARENAS && b->n <= WCPI_REMOTE_BATCH);
	wcpi_lock(&r->lock);
	/* A slot's pending bit says whether batches are queued for it. */
	WCPI_ASSERT(!r->queued[slot] == !(atomic_load(&r->pending) & 1u << slot));
	if (b->n) {
		b->next = r->queued[slot];
		r->queued[slot] = b;
		atomic_fetch_or(&r->pending, 1u << slot);
	} else {
		b->next = r->spare;
		r->spare = b;
	}
	wcpi_unlock(&r->lock);
}

struct wcpi_remote_batch *wcpi_remote_take(struct wcpi_remote *r,
					   unsigned slot)
{
	struct wcpi_remote_batch *list;

	/* The common case, read without the lock: nothing queued. */
	if (!(atomic_load_explicit(&r->pending, memory_order_relaxed) &
	      (1u << slot)))
		return NULL;
	wcpi_lock(&r->lock);
	WCPI_ASSERT(!r->queued[slot] == !(atomic_load(&r->pending) & 1u << slot));
	list = r->queued[slot];
	r->queued[slot] = NULL;
	atomic_fetch_and(&r->pending, ~(1u << slot));
	wcpi_unlock(&r->lock);
	return list;
}

void wcpi_remote_recycle(struct wcpi_remote *r, struct wcpi_remote_batch *list)
{
	struct wcpi_remote_batch *last;

	if (!list)
		return;
	for (last = list; last->next; last = last->next)
		;
	wcpi_lock(&r->lock);
	last->next = r->spare;
	r->spare = list;
	wcpi_unlock(&r->lock);
}
