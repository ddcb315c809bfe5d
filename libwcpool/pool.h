/* SPDX-License-Identifier: MIT */
/*
 * The pool object: its layout, and the calls of its own state (space.c).
 * Each part of it belongs to one file, which alone touches it; the header
 * named after the file declares its calls, and only the files that use a
 * part include its header.  wcpi_ names are internal to the library
 * (libwcpool.map hides them), wcp_ names are the API.
 *
 * Layers, bottom up.  A file calls only files of its own layer or below,
 * never up, and no files call each other in a loop: what a lower layer
 * needs from a higher one it gets through a hook the higher one installs
 * (commit.c asks register.c and uring.c whether pages are held; spill.c
 * makes its pool through pool.c's wcp_pool_create).  tools/file-graph
 * --layers checks the objects' calls against this list (make graph, and
 * tests/test-layers in make check); a new file must be placed here.
 *
 *   layer 0 leaves: check livemap sizeclass remote tune version dmabuf cxx_order
 *   layer 1 backend: backend_memfd backend_module space
 *   layer 2 stores: fill
 *   layer 3 pages: commit
 *   layer 4 jemalloc: arena huge
 *   layer 5 caches: tcache fork
 *   layer 6 front end: alloc spill
 *   layer 7 devices: register uring
 *   layer 8 life cycle: pool compat
 *   layer 9 sharing: share
 *
 * (space.c: address space, mapping, policy, fork generation; fill.c:
 * stores and copies by policy; commit.c: backend pages behind jemalloc's
 * commits; arena.c: jemalloc arenas and extent hooks; huge.c: whole pages
 * for frames; tcache.c: per-thread bins; fork.c: the fork() handlers;
 * alloc.c: the malloc family; spill.c: the second pool of ordinary pages;
 * register.c, uring.c: device and io_uring registrations; pool.c:
 * create, destroy, stats, trim; compat.c: the old versions of
 * wcp_pool_create and wcp_pool_info for binaries built against 0.1 to 0.3;
 * share.c: export, import, offsets.)
 *
 * Lock order, outer first: spill -> tcache.c's global lock -> arenas ->
 * huge -> space -> commit -> registrations -> uring -> remote, with
 * jemalloc's own locks between the arenas and the extent hooks (space,
 * commit).  lock.h's enum wcpi_lock_rank is the order, with why; each lock
 * below is declared with the state it guards, and every one is a wcpi_lock,
 * so that checked builds abort on a lock taken out of order or a function
 * called without the lock it asserts (wcpi_lock_held()).
 */
#ifndef WCPOOL_INTERNAL_POOL_H
#define WCPOOL_INTERNAL_POOL_H

#include <jemalloc/jemalloc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "wcpool.h"
#include "check.h"
#include "livemap.h"
#include "lock.h"
#include "range.h"
#include "remote.h"

struct io_uring;
struct wcp_registration;
struct wcpi_backend_ops;
struct wcpi_tcache;

/* The pool's address space (space.c). */
struct wcpi_space {
	struct wcpi_lock lock;		/* cursor, mapping; WCPI_LOCK_SPACE */
	uint64_t cursor;		/* never-used space starts here */
	_Atomic uint64_t mapped;	/* bytes in use from base */
};

/* Arenas (arena.c). */
struct wcpi_arenas {
	struct wcpi_lock lock;		/* ids, nr, next; WCPI_LOCK_ARENAS */
	unsigned ids[WCPI_MAX_ARENAS];
	unsigned nr;
	unsigned wanted;		/* one per CPU, up to WCPI_MAX_ARENAS */
	unsigned next;			/* the next one to hand to a thread */
	int untracked_flags;		/* mallocx flags without a thread cache */
	bool ready;			/* false in imported views */
};

/* Per-thread caches (tcache.c; a record is tcache.h's). */
struct wcpi_tcaches {
	struct wcpi_tcache *list;
	/* Live arena allocations made without a record. */
	_Atomic int64_t untracked_allocations;
	_Atomic int64_t untracked_bytes;
	/* Bumped by wcp_pool_trim(): running threads then flush theirs. */
	atomic_uint trim_generation;
};

/*
 * Does something outside the allocator hold pool pages in [off, off+len)
 * (a registration's dma-buf, an io_uring's fixed buffers)?  Their pages
 * must stay the file's.  Installed by the layers above (register.c,
 * uring.c), which commit.c does not call; with the commit lock held.
 */
typedef bool wcpi_commit_held_fn(struct wcp_pool *pool, uint64_t off,
				 uint64_t len);
#define WCPI_COMMIT_HOLDERS 2

/* Commit tracking (commit.c); NULL bitmaps on 4 KiB pools. */
struct wcpi_commit {
	struct wcpi_lock lock;	/* the bitmaps; WCPI_LOCK_COMMIT */
	uint64_t *committed;	/* a bit per 4 KiB page jemalloc committed */
	uint64_t *stale;	/* a bit per 4 KiB page that may hold old bytes */
	uint64_t *deferred;	/* a bit per huge page kept for a retry */
	/*
	 * Bits of deferred: huge pages, or runs (wcpi_pool_grain()), as the
	 * pool was when the maps were made (an imported view learns its
	 * run size after; it never commits).
	 */
	uint64_t units;
	/* set up before the pool is shared with other threads, then read */
	wcpi_commit_held_fn *holders[WCPI_COMMIT_HOLDERS];
};

/* Whole-page buffers (huge.c). */
struct wcpi_huge {
	struct wcpi_lock lock;		/* all but threshold; WCPI_LOCK_HUGE */
	uint64_t threshold;		/* 0: everything goes to jemalloc */
	uint64_t unit;			/* huge.c's page: the pool's, >= 2 MiB */
	struct wcpi_range_set live;
	struct wcpi_range_set free;	/* free ranges, coalesced */
	uint64_t *dirty;		/* a bit per free page still committed */
	uint64_t cached_bytes;		/* bytes of dirty free pages */
	uint64_t bytes;			/* bytes of live buffers */
	uint64_t *freed_at;		/* per page: when it went dirty-free, ns */
	uint64_t cache_max;		/* most bytes of dirty free pages */
	uint64_t decay_ns;		/* kept this long unused, then released */
	uint64_t next_decay;		/* when to look for aged pages next, ns */
};

/*
 * The live registrations (register.c), twice: sorted by what they export
 * (range and device constraints) to find one to reuse, and by address to
 * tell a live handle from a stale one without touching it.  Binary
 * searches; an insertion or removal moves the pointers behind it.
 */
struct wcpi_registrations {
	struct wcpi_lock lock;		/* WCPI_LOCK_REGS */
	struct wcp_registration **by_key;
	struct wcp_registration **by_addr;
	size_t n, cap;
};

/* io_uring fixed buffers (uring.c). */
struct wcpi_uring {
	struct wcpi_lock lock;		/* all but pinned; WCPI_LOCK_URING */
	struct io_uring *ring;
	struct wcpi_range *slots;
	unsigned int used;
	unsigned int next;
	atomic_bool pinned;		/* a ring holds pool pages */
};

/* The spill pool (spill.c). */
struct wcpi_spill {
	struct wcpi_lock lock;		/* making it; WCPI_LOCK_SPILL */
	struct wcp_pool *_Atomic pool;		/* NULL until needed */
	bool allowed;				/* a default (page size 0) pool */
	/* wcp_pool_create(), installed by it where the pool may spill */
	int (*create)(const struct wcp_pool_options *o, struct wcp_pool **s);
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
	/* As the backend reports them (wcpool.ko's INFO); 0 on memfd pools. */
	uint32_t addr_bits;		/* pages below 2^addr_bits; 0: anywhere */
	uint64_t contig_size;		/* physically contiguous runs; 0: none */
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

/* pool.c: the object made and freed with every part. */
struct wcp_pool *wcpi_pool_alloc_object(void);
int wcpi_pool_reserve(struct wcp_pool *pool, uint64_t max_size,
		      uint64_t page_size);
void wcpi_pool_free_object(struct wcp_pool *pool);

/* space.c */
int wcpi_pool_refresh(struct wcp_pool *pool);
int wcpi_pool_take_space(struct wcp_pool *pool, uint64_t size, uint64_t align,
			 void *want, uint64_t *off);
uint64_t wcpi_pool_mapped(const struct wcp_pool *pool);

/*
 * The unit in which the backend grows and releases the pool file: a
 * contiguous run (wcpool.ko grows only whole runs, and a run released in
 * part could not grow again), else the page.  A multiple of the page size,
 * not always a power of two (12 MiB runs); max_size is a multiple of it.
 */
static inline uint64_t wcpi_pool_grain(const struct wcp_pool *pool)
{
	return pool->contig_size ? pool->contig_size : pool->page_size;
}

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

/* space.c; fork.c bumps the generation in a child. */
extern atomic_uint wcpi_fork_generation;
void wcpi_fork_track(struct wcp_pool *pool);

/* Is @pool the parent's, seen from a fork() child?  On every malloc/free. */
static inline bool wcpi_pool_forked(const struct wcp_pool *pool)
{
	return pool->fork_generation !=
	       atomic_load_explicit(&wcpi_fork_generation, memory_order_relaxed);
}

#endif
