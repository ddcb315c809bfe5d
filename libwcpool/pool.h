/* SPDX-License-Identifier: MIT */
/* Internal pool object shared by the files of libwcpool. */
#ifndef WCPOOL_INTERNAL_POOL_H
#define WCPOOL_INTERNAL_POOL_H

#include <jemalloc/jemalloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "wcpool.h"
#include "livemap.h"

struct wcp_pool;

#define WCPI_MAX_ARENAS 4

/*
 * Invariants, checked in debug and sanitizer builds (configure
 * --enable-debug, CI's ASan pass), compiled out otherwise.
 */
#if defined(WCPOOL_DEBUG) || defined(__SANITIZE_ADDRESS__)
void wcpi_assert_fail(const char *expr, const char *file, int line)
	__attribute__((noreturn, cold));
#define WCPI_ASSERT(x) \
	((x) ? (void)0 : wcpi_assert_fail(#x, __FILE__, __LINE__))
#else
#define WCPI_ASSERT(x) ((void)sizeof(!(x)))
#endif

/* A range of pool offsets. */
struct wcpi_range {
	uint64_t off;
	uint64_t len;
};

/* Ranges sorted by offset. */
struct wcpi_range_set {
	struct wcpi_range *v;
	size_t n;
	size_t cap;
};

/*
 * A backend owns the pool file.  Offsets and lengths are bytes of that file;
 * callers keep them multiples of the pool's page size where the backend
 * needs it (extend) and page (4 KiB) multiples elsewhere.
 */
struct wcpi_backend_ops {
	/*
	 * Make the file max_size long and map all of it at once: mappings
	 * of wcpool.ko and hugetlbfs files never merge (VM_DONTEXPAND), so
	 * mapping step by step would cost a VMA per step (vm.max_map_count
	 * is 65530).  Pages still come only with commit.
	 */
	bool map_whole;
	/* Make the file at least @size bytes long (owner only). */
	int (*extend)(struct wcp_pool *pool, uint64_t size);
	/* Current file size, as another process may have extended it. */
	int (*file_size)(struct wcp_pool *pool, uint64_t *size);
	/*
	 * Back [off, off+len) with memory so that touching it cannot fail.
	 * commit and release get whole pool pages (see commit.c).
	 */
	int (*commit)(struct wcp_pool *pool, uint64_t off, uint64_t len);
	/* Give the memory of [off, off+len) back; it reads as zero after. */
	int (*release)(struct wcp_pool *pool, uint64_t off, uint64_t len);
	/* Bytes of memory backing the file now. */
	int (*resident)(struct wcp_pool *pool, uint64_t *bytes);
	/* A new fd of the pool file that cannot be mapped writable. */
	int (*open_read_only)(const struct wcp_pool *pool);
	/* Export a checked range as a dma-buf (NULL: no dma-bufs here). */
	int (*register_range)(struct wcp_pool *pool, const void *ptr,
			      size_t len, const struct wcp_register_options *o,
			      int *fd, uint32_t *nr_segments);
	/* The contiguous runs of a dma-buf register_range() made. */
	int (*segments)(const struct wcp_pool *pool, int dmabuf,
			struct wcp_segment *seg, size_t max);
};

struct wcp_pool {
	/* jemalloc hands this pointer back to every hook: see arena.c. */
	extent_hooks_t hooks;
	const struct wcpi_backend_ops *ops;
	struct wcp_pool_info info;
	char *base;
	uint64_t max_size;
	uint64_t page_size;
	int fd;
	int prot;
	/* The fork() generation of the process that made this object. */
	unsigned fork_generation;
	/* Bumped by wcp_pool_trim(): running threads then flush their caches. */
	atomic_uint trim_generation;

	/*
	 * jemalloc arenas (owner only, see arena.c) under arena_lock, the
	 * next one to hand to a thread, and the flags of calls made without
	 * a thread cache.
	 */
	pthread_mutex_t arena_lock;
	unsigned arenas[WCPI_MAX_ARENAS];
	unsigned nr_arenas;
	unsigned arenas_wanted;
	unsigned next_arena;
	int mallocx_flags;
	bool has_arena;

	/*
	 * Threads' tcaches of this pool (see tcache.c), and the counts of
	 * live arena allocations made without one.
	 */
	struct wcpi_tcache *tcaches;
	_Atomic int64_t untracked_allocations;
	_Atomic int64_t untracked_bytes;

	/* Extent address space handed to jemalloc and file bytes mapped. */
	pthread_mutex_t map_lock;
	uint64_t cursor;
	_Atomic uint64_t mapped;

	struct wcpi_livemap live;

	/*
	 * Huge-page pools (commit.c): committed 4 KiB pages, 4 KiB pages
	 * that may hold old bytes, huge pages whose release is deferred.
	 */
	pthread_mutex_t commit_lock;
	uint64_t *committed;
	uint64_t *stale;
	uint64_t *deferred;

	/* Page-sized buffers outside jemalloc: see huge.c. */
	pthread_mutex_t huge_lock;
	uint64_t huge_threshold;	/* 0: everything goes to jemalloc */
	_Atomic uint64_t *huge_starts;	/* a bit per page: a buffer starts */
	struct wcpi_range_set huge_live;
	struct wcpi_range_set huge_free;	/* free ranges, coalesced */
	uint64_t *huge_dirty;	/* a bit per free page still committed */
	uint64_t huge_cached_bytes;
	uint64_t huge_bytes;

	/* Live registrations (register.c). */
	pthread_mutex_t reg_lock;
	struct wcp_registration *registrations;

	/* io_uring fixed buffers (uring.c); pinned: never release memory. */
	pthread_mutex_t uring_lock;
	struct io_uring *ring;
	struct wcpi_range *uring_slots;
	unsigned int uring_used;
	unsigned int uring_next;
	atomic_bool pinned;
};

/* pool.c */
struct wcp_pool *wcpi_pool_alloc_object(void);
int wcpi_pool_reserve(struct wcp_pool *pool, uint64_t max_size,
		     uint64_t page_size);
int wcpi_pool_map_range(struct wcp_pool *pool, uint64_t off, uint64_t len);
int wcpi_pool_map_to(struct wcp_pool *pool, uint64_t size);
int wcpi_pool_take_space(struct wcp_pool *pool, uint64_t size, uint64_t align,
			void *want, uint64_t *off);
void wcpi_pool_free_object(struct wcp_pool *pool);

/* commit.c: jemalloc's commit/decommit mapped onto backend pages */
int wcpi_commit_init(struct wcp_pool *pool);
void wcpi_commit_fini(struct wcp_pool *pool);
int wcpi_commit(struct wcp_pool *pool, uint64_t off, uint64_t len);
int wcpi_decommit(struct wcp_pool *pool, uint64_t off, uint64_t len);
void wcpi_commit_retry(struct wcp_pool *pool);
void wcpi_commit_zero(struct wcp_pool *pool, uint64_t off, uint64_t len);

/* huge.c */
int wcpi_huge_init(struct wcp_pool *pool);
void wcpi_huge_fini(struct wcp_pool *pool);
bool wcpi_huge_wants(const struct wcp_pool *pool, size_t size);
bool wcpi_huge_is(const struct wcp_pool *pool, uint64_t off);
void *wcpi_huge_alloc(struct wcp_pool *pool, size_t size, size_t align,
		     bool *zeroed);
size_t wcpi_huge_size(struct wcp_pool *pool, uint64_t off);
void wcpi_huge_free(struct wcp_pool *pool, uint64_t off);
void wcpi_huge_trim(struct wcp_pool *pool);
void wcpi_huge_stats(struct wcp_pool *pool, struct wcp_pool_stats *st);

/* register.c, uring.c */
void wcpi_register_fini(struct wcp_pool *pool);
void wcpi_uring_fini(struct wcp_pool *pool);

/* backend_memfd.c */
int wcpi_memfd_open(struct wcp_pool *pool, const struct wcp_pool_options *o);
int wcpi_memfd_adopt(struct wcp_pool *pool, int fd);

/* backend_module.c */
bool wcpi_module_present(void);
int wcpi_module_open(struct wcp_pool *pool, const struct wcp_pool_options *o,
		    uint64_t max_size);
int wcpi_module_adopt(struct wcp_pool *pool, int fd);

/* arena.c */
int wcpi_arena_create(struct wcp_pool *pool);
void wcpi_arena_destroy(struct wcp_pool *pool);
int wcpi_arena_stats(struct wcp_pool *pool, struct wcp_pool_stats *stats);
int wcpi_arena_purge(struct wcp_pool *pool);
unsigned wcpi_arena_pick(struct wcp_pool *pool);

/*
 * MALLOCX_ARENA() without its signed overflow: jemalloc's macro shifts an
 * int, undefined from arena 2047 on (UBSan caught it with 2500 pools).  The
 * flag bits are the same; GCC converts to int modulo 2^32.
 */
static inline int wcpi_mallocx_arena(unsigned arena)
{
	return (int)((arena + 1) << 20);
}

/* tcache.c */
struct wcpi_tcache;
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

/* fork.c */
extern atomic_uint wcpi_fork_generation;
void wcpi_fork_track(struct wcp_pool *pool);

/* Is @pool the parent's, seen from a fork() child?  On every malloc/free. */
static inline bool wcpi_pool_forked(const struct wcp_pool *pool)
{
	return pool->fork_generation !=
	       atomic_load_explicit(&wcpi_fork_generation, memory_order_relaxed);
}

static inline uint64_t wcpi_align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

#endif
