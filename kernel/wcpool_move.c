// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool moves: a REGISTER whose device constraints (addr_bits,
 * max_segments with max_seg_size) the range's pages do not meet moves the
 * backing of the 2 MiB pool pages the range touches onto pages that do,
 * instead of failing with ERANGE.
 *
 *   - max_segments: the range's pages become one physically contiguous
 *     run (wcpool_contig.c; kernels without runs, 6.1, only move ranges
 *     inside one 2 MiB page), below the address limit if there is one;
 *   - addr_bits alone: each page at or above the limit moves to a page
 *     below it (ZONE_DMA/DMA32 or a run of one below the limit, as a
 *     pool with that addr_bits grows).
 *
 * The new pages are allocated and converted to the pool's policy first,
 * without the pool lock (killable, nothing changed on failure).  Then,
 * under the pool lock, which keeps every fault of the pool waiting: the
 * pages must still be the pool's and pinned by nothing (no registration,
 * no GUP pin, no other reference once every user mapping of them is
 * zapped), else ERANGE as before; their contents are copied whole (so a
 * neighbour in the same 2 MiB page keeps its bytes), a fatal signal
 * between pages abandons the move; the pool's page table takes the new
 * pages and the old ones are released (back to WB before the page
 * allocator, as any pool page).  The user mappings refault onto the new
 * pages at the same addresses and offsets.
 *
 * A move at map (wcpool_reg_move(), for a device without IOMMU
 * translation that cannot reach the pages) is the same move made for a
 * registration that stays pinned: its own pin is expected, its dma-buf's
 * user mappings are zapped as well, and its pages and runs are replaced
 * under its lock, which the caller holds (so no fault, vmap, sync or
 * other map of the dma-buf sees them half-moved).
 *
 * An unexpected reference after the zap (a fork copying a mapping while
 * it was zapped) gets one more zap before the move gives up with ERANGE.
 *
 * Cost: one 2 MiB allocation and linear-map conversion per page moved
 * (one for a whole run), a copy of each whole 2 MiB page read through its
 * WC/UC linear map, one zap of its mappings (a TLB flush), faults of the
 * whole pool waiting while the pages are copied, and refaults afterwards.
 * The new pages count against limit_mb while the old ones still do.
 *
 * Lock order (wcpool.h): mmap lock is not held; (at map, the dma-buf's
 * reservation and the registration's lock ->) pool lock -> page lock,
 * i_mmap_rwsem (unmap_mapping_range) as RELEASE does.
 */
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "wcpool_reg.h"

/**
 * struct wcpool_move - one move of a range of pool pages
 * @pool: the pool
 * @own: at map, the registration the move is for (pinned, locked): its
 *	pin is expected and its pages and runs are replaced; NULL at REGISTER
 * @first: pool page index of the first page touched by the range
 * @nr: pages touched by the range
 * @old: the pool's pages, NULL where the page stays
 * @new: their replacements
 * @moving: pages moving
 * @run: the new pages are one contiguous run of @nr pages
 * @limit: physical address limit of the new pages; 0: none
 * @segs: with @own, room for its runs after the move (the worst case)
 */
struct wcpool_move {
	struct wcpool *pool;
	struct wcpool_reg *own;
	unsigned long first;
	unsigned long nr;
	struct page **old;
	struct page **new;
	unsigned long moving;
	bool run;
	u64 limit;
	struct wcpool_reg_seg *segs;
};

/* Does the huge page @head end above @limit (0: none)? */
static bool wcpool_move_above(struct page *head, u64 limit)
{
	return limit && PFN_PHYS(page_to_pfn(head)) + WCPOOL_HPAGE_SIZE > limit;
}

/*
 * Look the range's pages up and check that nothing pins them: no
 * registration's span but @mv->own's, no GUP pin.  With @again, they must
 * be the pages seen the first time.  Caller holds the pool lock.
 */
static int wcpool_move_check(struct wcpool_move *mv, bool again)
{
	struct wcpool *pool = mv->pool;
	struct wcpool_span *span;
	u64 start = (u64)mv->first << WCPOOL_PAGE_SHIFT_2M;
	u64 end = (u64)(mv->first + mv->nr) << WCPOOL_PAGE_SHIFT_2M;
	struct page *head;
	unsigned long i;

	lockdep_assert_held(&pool->lock);
	list_for_each_entry(span, &pool->spans, node)
		if ((!mv->own || span != &mv->own->span) &&
		    span->offset < end && start < span->offset + span->length)
			return -ERANGE;
	for (i = 0; i < mv->nr; i++) {
		head = xa_load(&pool->pages, mv->first + i);
		if (!head)
			return -ENXIO;
		if (!again && (mv->run || wcpool_move_above(head, mv->limit))) {
			mv->old[i] = head;
			mv->moving++;
		}
		if (again && mv->old[i] && mv->old[i] != head)
			return -ERANGE;
		if (mv->old[i] && folio_maybe_dma_pinned(page_folio(head)))
			return -ERANGE;
	}
	return 0;
}

/* Give back the new pages (never mapped) and their reservation. */
static void wcpool_move_free_new(struct wcpool_move *mv)
{
	unsigned long i;

	for (i = 0; i < mv->nr; i++)
		if (mv->new[i])
			wcpool_page_free(mv->new[i], mv->pool->policy);
	wcpool_page_unreserve(mv->moving);
}

/*
 * Allocate and convert the new pages, without the pool lock.  Return: 0,
 * -ENOMEM (no page, or past the module limit), -EINTR or -ERANGE (no
 * contiguous runs on this kernel).
 */
static int wcpool_move_alloc(struct wcpool_move *mv)
{
	u32 policy = mv->pool->policy;
	unsigned long i;
	int ret;

	if (wcpool_page_reserve(mv->moving))
		return -ENOMEM;
	if (mv->run) {
		ret = wcpool_page_alloc_run(policy, mv->nr, mv->limit, mv->new);
		if (ret) {
			memset(mv->new, 0, mv->nr * sizeof(*mv->new));
			wcpool_page_unreserve(mv->moving);
			return ret == -EOPNOTSUPP ? -ERANGE : ret;
		}
		return 0;
	}
	for (i = 0; i < mv->nr; i++) {
		if (!mv->old[i])
			continue;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto err;
		}
		mv->new[i] = wcpool_page_alloc(policy, mv->limit);
		if (mv->new[i] && wcpool_move_above(mv->new[i], mv->limit)) {
			wcpool_page_free(mv->new[i], policy);
			mv->new[i] = NULL;
		}
		if (!mv->new[i]) {
			ret = fatal_signal_pending(current) ? -EINTR : -ENOMEM;
			goto err;
		}
		cond_resched();
	}
	return 0;
err:
	wcpool_move_free_new(mv);
	return ret;
}

/* Copy one 2 MiB page, 4 KiB at a time, through the linear map. */
static void wcpool_move_copy(struct page *to, struct page *from)
{
	unsigned long j;

	for (j = 0; j < WCPOOL_HPAGE_PAGES; j++)
		copy_page(page_address(to + j), page_address(from + j));
}

/*
 * Zap every user mapping of the moving pages (and, at map, of the
 * registration's dma-buf), then check that only the pool's reference (and
 * the registration's pin) is left: no GUP pin, no pipe buffer.
 */
static bool wcpool_move_unmap(struct wcpool_move *mv)
{
	struct wcpool *pool = mv->pool;
	int expected = mv->own ? 2 : 1;
	unsigned long i;

	for (i = 0; i < mv->nr; i++) {
		if (!mv->old[i])
			continue;
		/*
		 * A fault that found the page before we took the pool lock
		 * holds the page lock until its PTE is in place (as for
		 * RELEASE); new faults wait for the pool lock.
		 */
		lock_page(mv->old[i]);
		unlock_page(mv->old[i]);
		unmap_mapping_range(pool->inode->i_mapping,
				    (loff_t)(mv->first + i) << WCPOOL_PAGE_SHIFT_2M,
				    WCPOOL_HPAGE_SIZE, 1);
	}
	/* Its faults wait for the registration's lock, which we hold. */
	if (mv->own)
		unmap_mapping_range(mv->own->dmabuf->file->f_mapping, 0, 0, 1);
	for (i = 0; i < mv->nr; i++)
		if (mv->old[i] && page_ref_count(mv->old[i]) != expected)
			return false;
	return true;
}

/* With @mv->own: its pages and runs become the new ones. */
static void wcpool_move_own(struct wcpool_move *mv)
{
	struct wcpool_reg *reg = mv->own;
	struct wcpool_reg_seg *segs = reg->segs;
	unsigned long i;

	lockdep_assert_held(&reg->lock);
	for (i = 0; i < mv->nr; i++) {
		if (!mv->old[i])
			continue;
		get_page(mv->new[i]);
		reg->heads[i] = mv->new[i];
		put_page(mv->old[i]);	/* not the last: the pool's is left */
	}
	reg->nr_segs = wcpool_reg_count_segs(reg, 0);
	wcpool_reg_fill_segs(reg, mv->segs);
	reg->segs = mv->segs;
	mv->segs = segs;	/* freed by the caller */
}

/*
 * Under the pool lock: zap every user mapping of the moving pages, check
 * that nothing else holds them, copy them, and swap the new pages in.
 */
static int wcpool_move_swap(struct wcpool_move *mv)
{
	struct wcpool *pool = mv->pool;
	unsigned long i;
	void *ret;

	lockdep_assert_held(&pool->lock);
	/*
	 * A fork copying a mapping while it was zapped can leave a child's
	 * PTE behind: one more zap removes it.  Anything else is a holder.
	 */
	if (!wcpool_move_unmap(mv)) {
		cond_resched();
		if (!wcpool_move_unmap(mv))
			return -ERANGE;
	}
	for (i = 0; i < mv->nr; i++) {
		if (!mv->old[i])
			continue;
		if (fatal_signal_pending(current))
			return -EINTR;
		wcpool_move_copy(mv->new[i], mv->old[i]);
		cond_resched();
	}
	for (i = 0; i < mv->nr; i++) {
		if (!mv->old[i])
			continue;
		/* Replacing a present entry allocates nothing. */
		ret = xa_store(&pool->pages, mv->first + i, mv->new[i],
			       GFP_KERNEL);
		if (WARN_ON_ONCE(xa_is_err(ret)))
			goto undo;
	}
	if (mv->own)
		wcpool_move_own(mv);
	return 0;
undo:
	while (i--)
		if (mv->old[i])
			xa_store(&pool->pages, mv->first + i, mv->old[i],
				 GFP_KERNEL);
	return -ENOMEM;
}

/*
 * Move @mv's pages (see the comment at the top of this file): with @mv->run
 * every page, else those that end above @mv->limit.
 *
 * Return: the number of pages moved (0: all fitted already), or -ERANGE
 * (a page is pinned, or no run on this kernel), -ENXIO (a page is not
 * grown), -ENOMEM (no pages that fit, or past the module limit) or
 * -EINTR (fatal signal); on error the pool is as it was.
 */
static long wcpool_move_run(struct wcpool_move *mv)
{
	struct wcpool *pool = mv->pool;
	unsigned long i;
	long ret;

	if (mv->run && mv->nr > 1 && !wcpool_contig_supported())
		return -ERANGE;
	mv->old = kvcalloc(mv->nr, sizeof(*mv->old), GFP_KERNEL);
	mv->new = kvcalloc(mv->nr, sizeof(*mv->new), GFP_KERNEL);
	if (!mv->old || !mv->new) {
		ret = -ENOMEM;
		goto out;
	}
	ret = mutex_lock_killable(&pool->lock);
	if (ret)
		goto out;
	ret = wcpool_move_check(mv, false);
	mutex_unlock(&pool->lock);
	if (ret || !mv->moving)
		goto out;

	ret = wcpool_move_alloc(mv);
	if (ret)
		goto out;
	ret = mutex_lock_killable(&pool->lock);
	if (ret)
		goto out_free;
	ret = wcpool_move_check(mv, true);
	if (!ret)
		ret = wcpool_move_swap(mv);
	mutex_unlock(&pool->lock);
	if (ret)
		goto out_free;

	/* The old pages leave the pool; each gives its reservation back. */
	for (i = 0; i < mv->nr; i++)
		if (mv->old[i])
			wcpool_page_release(mv->old[i], pool->policy);
	atomic_long_inc(&wcpool_stats.moves);
	atomic_long_add(mv->moving, &wcpool_stats.pages_moved);
	ret = mv->moving;
	goto out;
out_free:
	wcpool_move_free_new(mv);
out:
	kvfree(mv->new);
	kvfree(mv->old);
	return ret;
}

/* Bytes of @reg's span in its @i-th huge page. */
static u64 wcpool_move_part(struct wcpool_reg *reg, unsigned long i)
{
	u64 page = ((reg->span.offset >> WCPOOL_PAGE_SHIFT_2M) + i) <<
		   WCPOOL_PAGE_SHIFT_2M;
	u64 start = max(reg->span.offset, page);
	u64 end = min(reg->span.offset + reg->span.length,
		      page + WCPOOL_HPAGE_SIZE);

	return end - start;
}

/*
 * Fill @mv (first, nr, run, limit) for @reg's range under its constraints
 * and @limit (0: none), or say that a move cannot help (return false): when
 * max_seg_size cuts the range into more than max_segments runs even in one
 * piece, in pools of contiguous runs (contig_size, whose runs must stay
 * whole) and heap pools (whose pages other buffers share), for limits
 * below 16 MiB (24 bits is the lowest a pool page can meet), and for
 * segment limits of a range over more than one 2 MiB page where the kernel
 * has no contiguous runs (6.1).  *@worst: the most runs the range can have
 * after a move.
 */
static bool wcpool_move_plan(struct wcpool_move *mv, struct wcpool_reg *reg,
			     u64 limit, unsigned long *worst)
{
	struct wcpool *pool = reg->pool;
	u64 max = reg->seg_max ? reg->seg_max : WCPOOL_SEG_MAX;
	u64 plimit = wcpool_pool_limit(pool);
	bool above = false, segs_bad;
	unsigned long i;

	*worst = 0;
	if (!reg->max_segments && !limit)
		return false;
	for (i = 0; i < reg->nr_heads; i++) {
		above |= wcpool_move_above(reg->heads[i], limit);
		*worst += DIV_ROUND_UP(wcpool_move_part(reg, i), max);
	}
	segs_bad = reg->max_segments &&
		   wcpool_reg_count_segs(reg, 0) > reg->max_segments;
	if (!segs_bad && !above)
		return false;
	if (pool->contig > 1 || pool->pfnmap || pool->heap ||
	    (limit && limit < SZ_16M) ||
	    (reg->max_segments &&
	     DIV_ROUND_UP(reg->span.length, max) > reg->max_segments))
		return false;
	/* One run where pages moved one by one could still be too many. */
	mv->run = segs_bad ||
		  (reg->max_segments && *worst > reg->max_segments);
	if (mv->run && !wcpool_contig_supported())
		return false;
	if (plimit && (!limit || plimit < limit))
		limit = plimit;
	mv->pool = pool;
	mv->limit = limit;
	mv->first = reg->span.offset >> WCPOOL_PAGE_SHIFT_2M;
	mv->nr = reg->nr_heads;
	return true;
}

/**
 * wcpool_reg_fit - make a pinned registration meet REGISTER's constraints
 * @reg: the registration, pinned by wcpool_reg_lookup(), its constraints
 *	set by wcpool_reg_set_constraints()
 *
 * When the pages do not meet the constraints and moving them can help
 * (see wcpool_move_plan()), unpins @reg, moves the backing and pins @reg
 * again.  Where a move cannot help nothing is tried, and
 * wcpool_reg_build_segs() then fails with ERANGE as it did before moves.
 *
 * Return: 0 (@reg pinned, its pages moved or not), or the error of the
 * move (see wcpool_move_run(); -ENXIO also when the pages went away);
 * @reg is then unpinned and the caller discards it.
 */
int wcpool_reg_fit(struct wcpool_reg *reg)
{
	struct wcpool_move mv = {};
	unsigned long worst;
	long ret;

	if (!wcpool_move_plan(&mv, reg, reg->limit, &worst))
		return 0;
	wcpool_reg_unpin(reg);
	ret = wcpool_move_run(&mv);
	if (ret < 0)
		return ret;
	return wcpool_reg_pin(reg);
}

/**
 * wcpool_reg_move - move an exported registration's pages below a limit
 * @reg: the registration, its lock held, no importer's mapping and no
 *	vmap of it live
 * @limit: the physical address every page must end below
 *
 * For map_dma_buf of a device without IOMMU translation that cannot reach
 * the pages: the pages that end above @limit (or, where REGISTER's
 * max_segments demands it, all of them as one run) move below it, the
 * registration keeps its pin and its constraints, its dma-buf's user
 * mappings and the pool's refault onto the new pages.
 *
 * Return: pages moved (0: none needed or a move cannot help), or -ERANGE
 * (a page is held by someone else: another registration, a GUP pin, a
 * pipe), -ENOMEM, -EINTR or -ENXIO as wcpool_move_run().
 */
long wcpool_reg_move(struct wcpool_reg *reg, u64 limit)
{
	struct wcpool_move mv = { .own = reg };
	unsigned long worst;
	long ret;

	lockdep_assert_held(&reg->lock);
	if (reg->limit && (!limit || reg->limit < limit))
		limit = reg->limit;
	if (!wcpool_move_plan(&mv, reg, limit, &worst))
		return 0;
	/* Room for the runs afterwards, so nothing can fail past the swap. */
	mv.segs = kvmalloc_array(worst, sizeof(*mv.segs), GFP_KERNEL_ACCOUNT);
	if (!mv.segs)
		return -ENOMEM;
	ret = wcpool_move_run(&mv);
	if (ret > 0)
		atomic_long_inc(&wcpool_stats.map_moves);
	kvfree(mv.segs);
	return ret;
}
