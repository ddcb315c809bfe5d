/* SPDX-License-Identifier: MIT */
/*
 * The pool object, shared by the files of libwcpool.  Each part of it
 * belongs to one file, which alone touches it (the header named after the
 * file declares its state and calls); wcpi_ names are internal to the
 * library (libwcpool.map hides them), wcp_ names are the API.
 *
 * Lock order (outer first), each lock declared with the state it guards:
 *   tcache.c's global lock -> jemalloc's own locks -> the extent hooks:
 *   space (pool.c) and commit (commit.c);
 *   huge (huge.c) -> space, commit;
 *   arenas (arena.c) -> jemalloc;
 *   commit -> registrations (commit.c asks what is registered);
 *   uring: a leaf (commit is taken after it is dropped).
 */
#ifndef WCPOOL_INTERNAL_POOL_H
#define WCPOOL_INTERNAL_POOL_H

#include <jemalloc/jemalloc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "wcpool.h"
#include "arena.h"
#include "backend.h"
#include "check.h"
#include "commit.h"
#include "huge.h"
#include "livemap.h"
#include "lock.h"
#include "range.h"
#include "register.h"
#include "remote.h"
#include "sizeclass.h"
#include "spill.h"
#include "tcache.h"
#include "uring.h"

/* The pool's address space (pool.c). */
struct wcpi_space {
	struct wcpi_lock lock;		/* cursor and mapping */
	uint64_t cursor;		/* never-used space starts here */
	_Atomic uint64_t mapped;	/* bytes in use from base */
};

struct wcp_pool {
	/* jemalloc hands this pointer back to every hook: see arena.c. */
	extent_hooks_t hooks;
	const struct wcpi_backend_ops *ops;
	char *base;
	uint64_t max_size;
	uint64_t page_size;
	int fd;
	int prot;
	uint32_t backend;		/* enum wcp_backend */
	uint32_t policy;		/* enum wcp_policy */
	bool imported;
	bool read_only;
	uint32_t export_path;		/* enum wcp_export_path, found once */
	/* The fork() generation of the process that made this object. */
	unsigned fork_generation;

	struct wcpi_space space;
	struct wcpi_livemap live;
	struct wcpi_arenas arenas;
	struct wcpi_tcaches tcaches;
	struct wcpi_remote remote;
	struct wcpi_commit commit;
	struct wcpi_huge huge;
	struct wcpi_registrations regs;
	struct wcpi_uring uring;
	struct wcpi_spill spill;
};

/* pool.c */
struct wcp_pool *wcpi_pool_alloc_object(void);
int wcpi_pool_reserve(struct wcp_pool *pool, uint64_t max_size,
		      uint64_t page_size);
int wcpi_pool_refresh(struct wcp_pool *pool);
int wcpi_pool_take_space(struct wcp_pool *pool, uint64_t size, uint64_t align,
			 void *want, uint64_t *off);
uint64_t wcpi_pool_mapped(const struct wcp_pool *pool);
void wcpi_pool_free_object(struct wcp_pool *pool);

/* wcp_offset() for the library's own calls: inline on the hot path. */
static inline uint64_t wcpi_offset(const struct wcp_pool *pool,
				   const void *ptr)
{
	uintptr_t p = (uintptr_t)ptr, b = (uintptr_t)pool->base;

	return p - b < pool->max_size ? p - b : WCP_OFFSET_INVALID;
}

static inline bool wcpi_owns(const struct wcp_pool *pool, const void *ptr)
{
	return wcpi_offset(pool, ptr) != WCP_OFFSET_INVALID;
}

/*
 * The fast path's record for @pool (tcache.h): the thread's first, if it
 * is armed for @pool (alive, up to date with the pool's trims); else NULL.
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

/* fork.c */
extern atomic_uint wcpi_fork_generation;
void wcpi_fork_track(struct wcp_pool *pool);

/* Is @pool the parent's, seen from a fork() child?  On every malloc/free. */
static inline bool wcpi_pool_forked(const struct wcp_pool *pool)
{
	return pool->fork_generation !=
	       atomic_load_explicit(&wcpi_fork_generation, memory_order_relaxed);
}

#endif
