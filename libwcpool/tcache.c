// SPDX-License-Identifier: MIT
/*
 * Per-thread caches of a pool's small allocations.
 *
 * A thread's record for a pool holds bins of free small blocks, one per
 * jemalloc size class, as arrays of pointers in ordinary memory (never a
 * free list inside the blocks: pool memory may be write-combining or
 * uncached).  wcp_malloc() pops a block, wcp_free() pushes one: no lock,
 * no call into jemalloc.  An empty bin is refilled with half its capacity
 * from jemalloc, a full one gives half back (sdallocx, whose size spares
 * jemalloc its lookup).  Behind the bins each record has its own explicit
 * jemalloc tcache (a tcache must never serve two arenas: its bins hand out
 * whatever they hold), so refills and larger blocks take no arena lock
 * either, and pool memory never lands in the tcache that serves the
 * application's malloc or another pool.
 *
 * The thread's records sit in a small TLS array, searched by pool without a
 * lock.  A thread that exits (or makes room for a fifth pool) hands its
 * records back to their pools still filled, and the pool's next new thread
 * adopts one instead of creating a tcache and refilling it from the arena:
 * threads that come and go per frame pay neither.  The pool lists all its
 * records, so that wcp_pool_destroy() can destroy every tcache before the
 * arena goes; a record some thread still holds is then marked dead, and that
 * thread frees it later.  One global lock covers the lists and the marks,
 * since the pool and the thread can go in either order.
 *
 * wcp_pool_trim() flushes the caches no thread is using and the caller's
 * own; it cannot touch another running thread's, so it bumps the pool's
 * trim generation and each thread flushes its cache at its next call into
 * the pool (the arena's decay then gives the pages back).
 *
 * The records also count live allocations and their bytes: blocks sitting
 * in a cache are allocated as far as jemalloc's statistics go, not for the
 * pool's.  Only the thread holding a record writes its counters (frees of
 * another thread's allocations make them negative), anyone may read them.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arena.h"
#include "pool.h"
#include "tcache.h"

/* Every pool's list of records and their idle and dead marks. */
static struct wcpi_lock tcache_lock = WCPI_LOCK_INITIALIZER(WCPI_LOCK_TCACHE);
static pthread_once_t tcache_once = PTHREAD_ONCE_INIT;
static pthread_key_t tcache_key;
/* Initial-exec: a TLS access is a load, not a call to __tls_get_addr. */
_Thread_local struct wcpi_tcache *wcpi_thread_caches[WCPI_THREAD_POOLS]
	__attribute__((tls_model("initial-exec")));
const char wcpi_tcache_unarmed[1];
/* What a destroyed pool leaves in its records' pool field. */
static const struct wcp_pool *const dead_pool = (const struct wcp_pool *)&dead_pool;
/*
 * Set once thread_exit_records() ran: later pool calls of this thread
 * (another key's destructor, glibc's teardown) go without a cache, since
 * nothing would hand a new record back.
 */
static _Thread_local bool thread_exiting
	__attribute__((tls_model("initial-exec")));

static void record_free(struct wcpi_tcache *tc);
static void record_send_all(struct wcpi_tcache *tc);

/* This thread is done with @tc: it goes back to its pool, still filled. */
static void record_put_back(struct wcpi_tcache *tc)
{
	bool dead;

	wcpi_lock(&tcache_lock);
	dead = (atomic_load(&tc->pool) == dead_pool);
	/* Blocks of other arenas go home now rather than wait for reuse. */
	if (!dead)
		record_send_all(tc);
	tc->idle = !dead;
	wcpi_unlock(&tcache_lock);
	if (dead)
		record_free(tc);
}

/* Thread exit: the pools get their records back. */
static void thread_exit_records(void *unused)
{
	(void)unused;
	thread_exiting = true;
	for (int i = 0; i < WCPI_THREAD_POOLS; i++) {
		if (wcpi_thread_caches[i])
			record_put_back(wcpi_thread_caches[i]);
		wcpi_thread_caches[i] = NULL;
	}
}

static void make_thread_key(void)
{
	if (pthread_key_create(&tcache_key, thread_exit_records))
		abort();
}

/*
 * Blocks a bin of @size-byte blocks holds: 64 KiB worth of small blocks,
 * 8 to 1024 of them, so that a thread that allocates a burst of a class
 * and frees it (a bignum program, glibc's bench-malloc-simple) keeps the
 * blocks in its bin instead of flushing them to jemalloc and refilling
 * every round (jemalloc's own tcache holds 20-200 a class, but refills
 * and flushes in batches inside the arena, which a pool's bins cannot).
 * Blocks of the large classes (14-64 KiB), an extent each: 8 up to 32 KiB
 * as jemalloc's tcache (20 there), 4 beyond, where jemalloc keeps none.
 * wcp_pool_trim() gives everything back.
 */
static unsigned bin_capacity(size_t size)
{
	size_t n = ((size_t)64 << 10) / size;

	if (size > wcpi_classes.slab_max)
		return size <= ((size_t)32 << 10) ? 8 : 4;
	return n < 8 ? 8 : n > 1024 ? 1024 : (unsigned)n;
}

/*
 * Blocks a refill of bin @c asks jemalloc for at once: half the bin, 128
 * at most, and fewer than a slab of the class holds: batch_alloc serves a
 * slab's worth or more from fresh slabs, past the partly used ones that
 * freed blocks went back to (larson's minor faults went up 5x so).
 */
static unsigned refill_count(const struct wcpi_tcache *tc, unsigned c)
{
	unsigned n = tc->bins[c].cap / 2, nregs = wcpi_classes.nregs[c];

	if (n > 128)
		n = 128;
	return nregs && n >= nregs ? (nregs > 1 ? nregs - 1 : 1) : n;
}

/* Bytes of a record with its bins laid out behind it. */
static size_t record_size(void)
{
	size_t slots = 0;

	for (unsigned c = 0; c < wcpi_classes.nr; c++)
		slots += bin_capacity(wcpi_classes.size[c]);
	return wcpi_align_up(sizeof(struct wcpi_tcache) + slots * sizeof(void *),
			     WCP_PAGE_4K);
}

/*
 * A zeroed record, from mmap() rather than malloc(): an application may
 * route its malloc to a pool, and a fork() child must not wait on a
 * malloc lock that another thread of its parent held (AddressSanitizer's
 * allocator, which has no fork handlers, hung test_fork so).  Page
 * aligned, so threads' counters never share a cache line.
 */
static struct wcpi_tcache *record_alloc(void)
{
	struct wcpi_tcache *tc;
	size_t slots = 0;

	tc = mmap(NULL, record_size(), PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (tc == MAP_FAILED)
		return NULL;
	for (unsigned c = 0; c < wcpi_classes.nr; c++) {
		tc->bins[c].slot = &tc->slots[slots];
		tc->bins[c].cap = (uint16_t)bin_capacity(wcpi_classes.size[c]);
		slots += tc->bins[c].cap;
	}
	return tc;
}

static void record_free(struct wcpi_tcache *tc)
{
	munmap(tc, record_size());
}

/* An idle record of @pool, or a new one; NULL if jemalloc has none left. */
static struct wcpi_tcache *record_take(struct wcp_pool *pool)
{
	struct wcpi_tcache *tc;
	size_t len = sizeof(tc->id);
	unsigned arena;

	pthread_once(&tcache_once, make_thread_key);
	/* Any non-NULL value makes the destructor run at thread exit. */
	pthread_setspecific(tcache_key, wcpi_thread_caches);
	wcpi_lock(&tcache_lock);
	for (tc = pool->tcaches.list; tc && !tc->idle; tc = tc->next)
		;
	if (tc)
		tc->idle = false;
	wcpi_unlock(&tcache_lock);
	if (tc)
		return tc;

	tc = record_alloc();
	if (!tc)
		return NULL;
	if (mallctl("tcache.create", &tc->id, &len, NULL, 0)) {
		record_free(tc);
		return NULL;
	}
	atomic_store(&tc->hit, WCPI_TCACHE_UNARMED);
	atomic_store(&tc->pool, pool);
	tc->trim_seen = atomic_load(&pool->tcaches.trim_generation);
	tc->slot = wcpi_arena_pick(pool, &arena);
	tc->owner = tc->slot + 1;
	tc->flags = wcpi_mallocx_arena(arena) | MALLOCX_TCACHE(tc->id);
	wcpi_lock(&tcache_lock);
	tc->next = pool->tcaches.list;
	pool->tcaches.list = tc;
	wcpi_unlock(&tcache_lock);
	return tc;
}

/*
 * This thread's cache for @pool, created on first use; NULL when jemalloc
 * has no tcache left to give (the caller goes without one).
 */
static struct wcpi_tcache *record_find(struct wcp_pool *pool)
{
	struct wcpi_tcache *tc = NULL;
	int i, free_slot = WCPI_THREAD_POOLS - 1;

	for (i = 0; i < WCPI_THREAD_POOLS; i++) {
		tc = wcpi_thread_caches[i];
		if (tc && (atomic_load(&tc->pool) == dead_pool)) {
			/* Its pool is gone and has forgotten it. */
			record_free(tc);
			tc = wcpi_thread_caches[i] = NULL;
		}
		if (!tc && free_slot == WCPI_THREAD_POOLS - 1)
			free_slot = i;
		if (tc && atomic_load(&tc->pool) == pool)
			break;
	}
	if (i == WCPI_THREAD_POOLS) {
		if (thread_exiting)
			return NULL;
		tc = record_take(pool);
		if (!tc)
			return NULL;
		/* Into an empty slot, or the least recently found one's. */
		i = free_slot;
		if (wcpi_thread_caches[i])
			record_put_back(wcpi_thread_caches[i]);
	}
	/* Move to the front: the next search for this pool stops there. */
	for (; i > 0; i--)
		wcpi_thread_caches[i] = wcpi_thread_caches[i - 1];
	wcpi_thread_caches[0] = tc;
	return tc;
}

/* Give @nr of the oldest blocks of bin @c back to jemalloc. */
static void bin_flush(struct wcpi_tcache *tc, unsigned c, unsigned nr)
{
	struct wcpi_bin *b = &tc->bins[c];
	unsigned n = wcpi_bin_n(b) - nr;

	WCPI_ASSERT(nr <= wcpi_bin_n(b) && wcpi_bin_n(b) <= b->cap);
	for (unsigned i = 0; i < nr; i++)
		sdallocx(b->slot[i], wcpi_classes.size[c], tc->flags);
	memmove(b->slot, b->slot + nr, n * sizeof(*b->slot));
	wcpi_bin_set_n(b, n);
	wcpi_counter_add(&tc->held[c], -(int64_t)nr);
}

/* Queue the record's batches of other arenas' blocks, full or not. */
static void record_send_all(struct wcpi_tcache *tc)
{
	struct wcp_pool *pool = (struct wcp_pool *)atomic_load(&tc->pool);

	for (unsigned s = 0; s < WCPI_MAX_ARENAS; s++) {
		if (tc->out[s])
			wcpi_remote_put(&pool->remote, s, tc->out[s]);
		tc->out[s] = NULL;
	}
}

struct wcpi_remote_batch *wcpi_tcache_out(struct wcp_pool *pool,
					  struct wcpi_tcache *tc,
					  unsigned slot)
{
	return tc->out[slot] = wcpi_remote_get(&pool->remote);
}

void wcpi_tcache_send_full(struct wcp_pool *pool, struct wcpi_tcache *tc,
			   unsigned slot)
{
	wcpi_remote_put(&pool->remote, slot, tc->out[slot]);
	tc->out[slot] = NULL;
}

/*
 * A block another thread sent home (remote.h): checked against the block
 * map and marked dead, as its free would have; its size class.
 */
static unsigned home_check(struct wcp_pool *pool, void *p, unsigned owner)
{
	uint64_t off = wcpi_offset(pool, p);
	unsigned page;

	if (!wcpi_livemap_clear(&pool->live, off))
		wcpi_misuse("wcp_free",
			    "double free or invalid pointer (freed by another thread, found when its arena took it back)",
			    pool, p);
	page = wcpi_livemap_page(&pool->live, off);
	/* Sent home by the page's owner: a small block of that arena. */
	WCPI_ASSERT(WCPI_PAGE_OWNER(page) == owner &&
		    WCPI_PAGE_KIND(page) - 1 < wcpi_classes.nr);
	return WCPI_PAGE_KIND(page) - 1;
}

/* A batch from the remote queues: full or, from a record put back, not. */
static void check_batch(const struct wcpi_remote_batch *b)
{
	WCPI_ASSERT(b->n > 0 && b->n <= WCPI_REMOTE_BATCH);
	(void)b;
}

/* Take home the blocks of this record's arena that other threads freed. */
static void take_home(struct wcp_pool *pool, struct wcpi_tcache *tc)
{
	struct wcpi_remote_batch *list = wcpi_remote_take(&pool->remote,
							  tc->slot);

	for (struct wcpi_remote_batch *b = list; b; b = b->next) {
		check_batch(b);
		for (uint32_t i = 0; i < b->n; i++) {
			void *p = b->ptr[i];
			unsigned c = home_check(pool, p, tc->owner);

			/* It was counted free where it was freed. */
			wcpi_counter_add(&tc->held[c], 1);
			if (!wcpi_tcache_room(tc, c))
				bin_flush(tc, c, tc->bins[c].cap / 2);
			wcpi_tcache_push(tc, c, p);
		}
	}
	wcpi_remote_recycle(&pool->remote, list);
}

/* wcp_pool_trim(): every queued block back to jemalloc. */
static void take_all_home(struct wcp_pool *pool)
{
	for (unsigned s = 0; s < WCPI_MAX_ARENAS; s++) {
		struct wcpi_remote_batch *list = wcpi_remote_take(&pool->remote,
								  s);

		for (struct wcpi_remote_batch *b = list; b; b = b->next) {
			check_batch(b);
			for (uint32_t i = 0; i < b->n; i++)
				sdallocx(b->ptr[i],
					 wcpi_classes.size[home_check(pool, b->ptr[i], s + 1)],
					 MALLOCX_TCACHE_NONE);
		}
		wcpi_remote_recycle(&pool->remote, list);
	}
}

/* Everything the record caches goes back: its bins, then its tcache. */
static void record_flush(struct wcpi_tcache *tc)
{
	record_send_all(tc);
	for (unsigned c = 0; c < wcpi_classes.nr; c++)
		bin_flush(tc, c, wcpi_bin_n(&tc->bins[c]));
	mallctl("tcache.flush", NULL, NULL, &tc->id, sizeof(tc->id));
}

/*
 * Arm @tc for the fast path, flushed first if the pool was trimmed since
 * it last looked.  A trim bumps the generation, then unarms every record;
 * this sets hit, then reads the generation (both sequentially consistent):
 * either it sees the new generation and flushes, or the trim's unarming
 * comes after its arming and the next call lands here again.
 */
static void __attribute__((noinline))
record_arm(struct wcp_pool *pool, struct wcpi_tcache *tc)
{
	for (;;) {
		unsigned trim = atomic_load(&pool->tcaches.trim_generation);

		if (tc->trim_seen != trim) {
			record_flush(tc);
			tc->trim_seen = trim;
		}
		atomic_store(&tc->hit, pool);
		if (atomic_load(&pool->tcaches.trim_generation) == trim)
			return;
		atomic_store(&tc->hit, WCPI_TCACHE_UNARMED);
	}
}

/*
 * This thread's record for @pool, armed (flushed if the pool was trimmed
 * since it last looked); NULL when jemalloc has no tcache left to give or
 * the thread is exiting (the caller goes without).  The hit is the first
 * slot.
 */
static inline struct wcpi_tcache *thread_record(struct wcp_pool *pool)
{
	struct wcpi_tcache *tc = wcpi_thread_caches[0];

	if (!tc || atomic_load_explicit(&tc->pool, memory_order_relaxed) != pool)
		tc = record_find(pool);
	if (!tc)
		return NULL;
	/* Only this thread uses its record: it flushes it itself. */
	if (atomic_load_explicit(&tc->hit, memory_order_relaxed) != pool)
		record_arm(pool, tc);
	return tc;
}

struct wcpi_tcache *wcpi_tcache_get(struct wcp_pool *pool)
{
	return thread_record(pool);
}

int wcpi_tcache_flags(struct wcp_pool *pool, struct wcpi_tcache **tcp)
{
	struct wcpi_tcache *tc = thread_record(pool);

	*tcp = tc;
	return tc ? tc->flags : pool->arenas.untracked_flags;
}


/* jemalloc 5.3's experimental.batch_alloc: what it takes. */
struct batch_request {
	void **ptrs;
	size_t num;
	size_t size;
	int flags;
};

static size_t batch_mib[2], batch_miblen;
static pthread_once_t batch_once = PTHREAD_ONCE_INIT;

static void batch_resolve(void)
{
	batch_miblen = 2;
	if (mallctlnametomib("experimental.batch_alloc", batch_mib,
			     &batch_miblen))
		batch_miblen = 0;
}

/*
 * Up to @num blocks of @size into @ptrs with one call (jemalloc serves them
 * from the record's tcache, then fresh slabs, then one by one): one
 * mallocx() per block cost 120 instructions of glibc-simple's 386 per
 * operation (callgrind).  One by one where jemalloc has no batch_alloc.
 */
static unsigned alloc_batch(void **ptrs, unsigned num, size_t size, int flags)
{
	struct batch_request req = { ptrs, num, size, flags };
	size_t filled = 0, len = sizeof(filled);
	unsigned i;

	pthread_once(&batch_once, batch_resolve);
	if (batch_miblen &&
	    !mallctlbymib(batch_mib, batch_miblen, &filled, &len, &req,
			  sizeof(req)))
		return (unsigned)filled;
	for (i = 0; i < num && (ptrs[i] = mallocx(size, flags)); i++)
		;
	return i;
}

/*
 * Fill bin @c from jemalloc (refill_count() blocks), in one batch.  Each
 * block's page learns its class (the block map) as the block leaves
 * jemalloc.
 */
static bool bin_refill(struct wcp_pool *pool, struct wcpi_tcache *tc,
		       unsigned c)
{
	struct wcpi_bin *b = &tc->bins[c];
	unsigned n, got, kept = 0;

	take_home(pool, tc);
	n = wcpi_bin_n(b);
	if (n >= refill_count(tc, c))
		return n;
	got = alloc_batch(b->slot + n, refill_count(tc, c) - n,
			  wcpi_classes.size[c], tc->flags);
	WCPI_ASSERT(got <= refill_count(tc, c) - n);
	for (unsigned i = 0; i < got; i++) {
		void *p = b->slot[n + i];

		if (!wcpi_owns(pool, p)) {
			/* jemalloc has torn this thread down: see alloc.c. */
			dallocx(p, MALLOCX_TCACHE_NONE);
			continue;
		}
		wcpi_livemap_set_small(&pool->live,
				       (uint64_t)((char *)p - pool->base), c,
				       tc->slot);
		b->slot[n + kept++] = p;
	}
	wcpi_bin_set_n(b, n + kept);
	wcpi_counter_add(&tc->held[c], kept);
	return n + kept;
}

void *wcpi_tcache_alloc(struct wcp_pool *pool, unsigned c)
{
	struct wcpi_tcache *tc = thread_record(pool);
	struct wcpi_bin *b;

	if (!tc)
		return NULL;
	b = &tc->bins[c];
	if (!wcpi_bin_n(b) && !bin_refill(pool, tc, c))
		return NULL;
	return wcpi_tcache_pop(tc, c);
}

bool wcpi_tcache_free(struct wcp_pool *pool, void *p, unsigned c)
{
	struct wcpi_tcache *tc = thread_record(pool);
	struct wcpi_bin *b;

	if (!tc)
		return false;
	b = &tc->bins[c];
	if (!wcpi_tcache_room(tc, c))
		bin_flush(tc, c, b->cap / 2);
	return wcpi_tcache_push(tc, c, p);
}

void wcpi_tcache_count(struct wcp_pool *pool, struct wcpi_tcache *tc,
		      int64_t allocations, int64_t bytes)
{
	if (tc) {
		wcpi_counter_add(&tc->allocations, allocations);
		wcpi_counter_add(&tc->bytes, bytes);
	} else {
		atomic_fetch_add(&pool->tcaches.untracked_allocations, allocations);
		atomic_fetch_add(&pool->tcaches.untracked_bytes, bytes);
	}
}

void wcpi_tcache_counts(struct wcp_pool *pool, uint64_t *allocations,
		       uint64_t *bytes)
{
	int64_t n, b;

	wcpi_lock(&tcache_lock);
	n = atomic_load(&pool->tcaches.untracked_allocations);
	b = atomic_load(&pool->tcaches.untracked_bytes);
	for (struct wcpi_tcache *tc = pool->tcaches.list; tc; tc = tc->next) {
		n += atomic_load(&tc->allocations);
		b += atomic_load(&tc->bytes);
		for (unsigned c = 0; c < wcpi_classes.nr; c++) {
			int64_t live = atomic_load(&tc->held[c]) -
				       (int64_t)wcpi_bin_n(&tc->bins[c]);

			n += live;
			b += live * (int64_t)wcpi_classes.size[c];
		}
	}
	wcpi_unlock(&tcache_lock);
	*allocations = (uint64_t)n;
	*bytes = (uint64_t)b;
}

/*
 * Give the objects cached by idle records and by this thread back now, and
 * have every other thread give its own back at its next call.
 */
void wcpi_tcache_flush(struct wcp_pool *pool)
{
	unsigned trim = atomic_fetch_add(&pool->tcaches.trim_generation, 1) + 1;

	wcpi_lock(&tcache_lock);
	for (struct wcpi_tcache *tc = pool->tcaches.list; tc; tc = tc->next) {
		bool mine = false;

		/* Its thread's next call takes the slow path and flushes. */
		atomic_store(&tc->hit, WCPI_TCACHE_UNARMED);

		for (int i = 0; i < WCPI_THREAD_POOLS; i++)
			mine |= wcpi_thread_caches[i] == tc;
		if (tc->idle || mine) {
			record_flush(tc);
			tc->trim_seen = trim;
		}
	}
	wcpi_unlock(&tcache_lock);
	take_all_home(pool);
}

/* Pool destruction: every tcache of @pool goes, before the arena. */
void wcpi_tcache_pool_fini(struct wcp_pool *pool)
{
	wcpi_lock(&tcache_lock);
	while (pool->tcaches.list) {
		struct wcpi_tcache *tc = pool->tcaches.list;

		pool->tcaches.list = tc->next;
		mallctl("tcache.destroy", NULL, NULL, &tc->id, sizeof(tc->id));
		if (tc->idle) {
			record_free(tc);
		} else {
			/* Its thread frees it; the fast path misses it now. */
			atomic_store(&tc->hit, WCPI_TCACHE_UNARMED);
			atomic_store(&tc->pool, dead_pool);
		}
	}
	wcpi_unlock(&tcache_lock);
}

/* fork(): no other thread may hold the lock across it (fork.c). */
void wcpi_tcache_fork_prepare(void)
{
	wcpi_lock(&tcache_lock);
}

void wcpi_tcache_fork_parent(void)
{
	wcpi_unlock(&tcache_lock);
}

/*
 * The child's only thread starts with no records: they are the parent's
 * (a pool made later at the same address must not find them), and their
 * tcaches serve the parent's arenas.  wcpi_tcache_pool_forget() frees them
 * if the child destroys the parent's pool.
 */
void wcpi_tcache_fork_child(void)
{
	wcpi_lock_reset(&tcache_lock);
	memset(wcpi_thread_caches, 0, sizeof(wcpi_thread_caches));
}

/* A fork() child drops its copy of the parent's records of @pool. */
void wcpi_tcache_pool_forget(struct wcp_pool *pool)
{
	wcpi_lock(&tcache_lock);
	while (pool->tcaches.list) {
		struct wcpi_tcache *tc = pool->tcaches.list;

		pool->tcaches.list = tc->next;
		record_free(tc);
	}
	wcpi_unlock(&tcache_lock);
}
