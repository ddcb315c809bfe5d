/* SPDX-License-Identifier: MIT */
/* Per-thread caches of a pool's small allocations (tcache.c). */
#ifndef WCPOOL_INTERNAL_TCACHE_H
#define WCPOOL_INTERNAL_TCACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "remote.h"
#include "sizeclass.h"

struct wcp_pool;
struct wcpi_tcache;

/* Pools a thread uses at once before it evicts the least recently found. */
#define WCPI_THREAD_POOLS 4

/* Free blocks of one size class; slot[n - 1] is the most recently freed. */
struct wcpi_bin {
	/* Only the record's thread writes it; wcp_pool_stats() reads it. */
	_Atomic uint16_t n;
	uint16_t cap;
	void **slot;
};

static inline unsigned wcpi_bin_n(const struct wcpi_bin *b)
{
	return atomic_load_explicit(&b->n, memory_order_relaxed);
}

static inline void wcpi_bin_set_n(struct wcpi_bin *b, unsigned n)
{
	atomic_store_explicit(&b->n, (uint16_t)n, memory_order_relaxed);
}

/*
 * A thread's record of a pool: tcache.c's, but for the inline fast path
 * below (wcp_malloc/wcp_free of small blocks), which only pops and pushes
 * the bins of the record the thread found first.
 */
struct wcpi_tcache {
	/*
	 * The pool while the inline fast path may use this record: its
	 * thread sets it once the record is up to date with the pool's trims
	 * (tcache.c's thread_record()); a trim or the pool's destruction
	 * resets it to WCPI_TCACHE_UNARMED from any thread.  One load and one
	 * compare prove the pool, its record and that no flush is due (the
	 * pool, its trim generation and the fork check cost 10 instructions
	 * of 151 a free+malloc, callgrind).
	 */
	_Atomic(const struct wcp_pool *) hit;
	/* The pool; tcache.c's dead_pool once the pool destroyed it. */
	_Atomic(const struct wcp_pool *) pool;
	unsigned trim_seen;		/* the pool's trim generation, flushed */
	unsigned id;			/* jemalloc's tcache index */
	unsigned slot;			/* its arena's slot in the pool */
	unsigned owner;			/* slot + 1: the block map's owner */
	int flags;			/* its arena and tcache, for mallocx */
	bool idle;			/* no thread holds it */
	/*
	 * Per class, the blocks this record took from jemalloc (or home from
	 * other threads) less those it gave back (or sent home): in its bin
	 * or live.  Live: held less the bin's count, so that the fast path
	 * counts nothing (a counter there cost 0.55 of 7.9 ns a free+malloc).
	 * One writer, its thread.
	 */
	_Atomic int64_t held[WCPI_MAX_CLASSES];
	/* Live other blocks and their bytes, counted by this thread. */
	_Atomic int64_t allocations;
	_Atomic int64_t bytes;
	struct wcpi_tcache *next;	/* in the pool's list */
	/* Blocks of other arenas freed here, per arena slot (remote.h). */
	struct wcpi_remote_batch *out[WCPI_MAX_ARENAS];
	struct wcpi_bin bins[WCPI_MAX_CLASSES];
	void *slots[];			/* the bins' arrays */
};

/* What hit holds while the record is not armed: no pool's address. */
extern const char wcpi_tcache_unarmed[1];
#define WCPI_TCACHE_UNARMED ((const struct wcp_pool *)wcpi_tcache_unarmed)

/* The thread's records, most recently found first. */
extern _Thread_local struct wcpi_tcache *wcpi_thread_caches[WCPI_THREAD_POOLS]
	__attribute__((tls_model("initial-exec")));

/* Single writer per counter: a plain load and store is enough. */
static inline void wcpi_counter_add(_Atomic int64_t *v, int64_t delta)
{
	atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) +
				 delta, memory_order_relaxed);
}

/* A block of class @c from @tc's bin, or NULL when the bin is empty. */
static inline void *wcpi_tcache_pop(struct wcpi_tcache *tc, unsigned c)
{
	struct wcpi_bin *b = &tc->bins[c];
	unsigned n = wcpi_bin_n(b);

	if (!n)
		return NULL;
	WCPI_ASSERT(n <= b->cap);
	wcpi_bin_set_n(b, n - 1);
	return b->slot[n - 1];
}

/* Has @tc's bin of class @c room for one more block? */
static inline bool wcpi_tcache_room(const struct wcpi_tcache *tc, unsigned c)
{
	return wcpi_bin_n(&tc->bins[c]) < tc->bins[c].cap;
}

/* Put freed block @p in bin @b, which holds @n (< its capacity). */
static inline void wcpi_bin_put(struct wcpi_bin *b, unsigned n, void *p)
{
	WCPI_ASSERT(n < b->cap && n == wcpi_bin_n(b));
	b->slot[n] = p;
	wcpi_bin_set_n(b, n + 1);
}

/* Put freed block @p of class @c in @tc's bin; false when it is full. */
static inline bool wcpi_tcache_push(struct wcpi_tcache *tc, unsigned c,
				    void *p)
{
	struct wcpi_bin *b = &tc->bins[c];
	unsigned n = wcpi_bin_n(b);

	if (n == b->cap)
		return false;
	wcpi_bin_put(b, n, p);
	return true;
}

/*
 * This thread's record for @pool, made or flushed if need be (the slow
 * path of wcpi_tcache_hit() below); NULL when it can have none.
 */
struct wcpi_tcache *wcpi_tcache_get(struct wcp_pool *pool);

/* The slow halves of wcpi_tcache_send(). */
struct wcpi_remote_batch *wcpi_tcache_out(struct wcp_pool *pool,
					  struct wcpi_tcache *tc,
					  unsigned slot);
void wcpi_tcache_send_full(struct wcp_pool *pool, struct wcpi_tcache *tc,
			   unsigned slot);

/*
 * Free small block @p of class @c, whose page belongs to arena slot @slot
 * (another than @tc's), without touching the block map: into @tc's batch
 * for that arena (remote.h).  False when no batch can be had: then the
 * caller frees it here.
 */
static inline bool wcpi_tcache_send(struct wcp_pool *pool,
				    struct wcpi_tcache *tc, void *p,
				    unsigned c, unsigned slot)
{
	struct wcpi_remote_batch *b = tc->out[slot];

	if (!b && !(b = wcpi_tcache_out(pool, tc, slot)))
		return false;
	/* A batch goes as soon as it is full. */
	WCPI_ASSERT(b->n < WCPI_REMOTE_BATCH && slot != tc->slot);
	b->ptr[b->n++] = p;
	wcpi_counter_add(&tc->held[c], -1);
	if (b->n == WCPI_REMOTE_BATCH)
		wcpi_tcache_send_full(pool, tc, slot);
	return true;
}

/*
 * A block of size class @c from this thread's cache of @pool, counted;
 * NULL when the thread has no cache (then the caller asks jemalloc).
 */
void *wcpi_tcache_alloc(struct wcp_pool *pool, unsigned c);
/* Cache freed block @p of class @c, counted; false: no cache, not taken. */
bool wcpi_tcache_free(struct wcp_pool *pool, void *p, unsigned c);
/* mallocx flags for this thread on @pool: its arena and tcache. */
int wcpi_tcache_flags(struct wcp_pool *pool, struct wcpi_tcache **tcp);
void wcpi_tcache_count(struct wcp_pool *pool, struct wcpi_tcache *tc,
		       int64_t allocations, int64_t bytes);
void wcpi_tcache_counts(struct wcp_pool *pool, uint64_t *allocations,
			uint64_t *bytes);
void wcpi_tcache_flush(struct wcp_pool *pool);
void wcpi_tcache_pool_fini(struct wcp_pool *pool);
void wcpi_tcache_pool_forget(struct wcp_pool *pool);
void wcpi_tcache_fork_prepare(void);
void wcpi_tcache_fork_parent(void);
void wcpi_tcache_fork_child(void);

/*
 * The fast path's record for @pool: the thread's first, if it is
 * armed for @pool (alive, up to date with the pool's trims); else NULL.
 * A hit also proves what pool_alloc() checks: @pool exists, allocates (not
 * a view) and is this process's (a fork() child starts without records).
 */
static inline struct wcpi_tcache *wcpi_tcache_hit(const struct wcp_pool *pool)
{
	struct wcpi_tcache *tc = wcpi_thread_caches[0];

	if (tc && atomic_load_explicit(&tc->hit, memory_order_relaxed) == pool)
		return tc;
	return NULL;
}

#endif
