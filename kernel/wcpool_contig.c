// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool contiguous memory: runs of huge pages that lie next to each other
 * in physical memory, below an address limit, without CMA (Debian's
 * kernels have none), taken with alloc_contig_range() over system RAM as
 * virtio-mem and hugetlb's gigantic pages do.
 *
 * The ranges of system RAM come from the resource tree
 * (walk_iomem_res_desc(), exported; walk_system_ram_range() is not).
 * alloc_contig_range() works inside one zone, so a run never crosses
 * 16 MiB (ZONE_DMA) or 4 GiB (ZONE_DMA32).  Each 2 MiB block of a run is
 * taken as its own compound page (__GFP_COMP), so that the rest of the
 * module sees the same 2 MiB compound pages as from alloc_pages(), frees
 * them with __free_pages() (the kernel pairs compound contiguous
 * allocations with a folio put, not with free_contig_range()) and maps
 * them with PMDs.  Kernels whose alloc_contig_range() cannot make
 * compound pages (6.1: it returns order-0 pages) get no contiguous runs:
 * wcpool_contig_supported() says so.
 *
 * Candidate runs are aligned to the largest power of two that divides the
 * run (at most 1 GiB); a block that cannot be taken (pinned or unmovable
 * pages, another allocation) moves the search past it.  Pool pages never
 * migrate, so a run only takes blocks that are online and outside
 * ZONE_MOVABLE (movablecore=, hotplugged memory onlined movable): there
 * they would block offlining and break the zone's promise to long-term
 * pins.  Runs without an address limit are searched from 4 GiB upward
 * first, so that they leave ZONE_DMA32 to the devices that need it; runs
 * below a limit start above ZONE_DMA, which is searched last.  Between attempts
 * a fatal signal stops the search (-EINTR); alloc_contig_range() itself
 * stops on one while it migrates.
 *
 * Pages taken here are not charged to a memory cgroup: alloc_contig_range()
 * refuses __GFP_ACCOUNT and no exported call charges a page afterwards.
 * The module limit counts them as any other page.
 */
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/ioport.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>

#include "wcpool.h"

/* Zone boundaries a run must not cross (ZONE_DMA, ZONE_DMA32 ends). */
#define WCPOOL_DMA_END		SZ_16M
#define WCPOOL_DMA32_END	SZ_4G

/* Does [start, end) cross a zone boundary? */
static bool wcpool_contig_crosses(u64 start, u64 end)
{
	return (start < WCPOOL_DMA_END && end > WCPOOL_DMA_END) ||
	       (start < WCPOOL_DMA32_END && end > WCPOOL_DMA32_END);
}

/*
 * May a run take the 2 MiB block at @pfn?  Only when it is online memory
 * outside ZONE_MOVABLE: pool pages are never migrated, so in the movable
 * zone they would block offlining.  A 2 MiB block is one pageblock or more
 * (x86: one), each of which is checked.
 */
static bool wcpool_contig_block_ok(unsigned long pfn)
{
	unsigned long end = pfn + WCPOOL_HPAGE_PAGES;
	struct zone *zone = NULL;
	struct page *page;

	for (; pfn < end; pfn += min_t(unsigned long, pageblock_nr_pages,
				       WCPOOL_HPAGE_PAGES)) {
		page = pfn_to_online_page(pfn);
		if (!page || page_zonenum(page) == ZONE_MOVABLE)
			return false;
		if (zone && page_zone(page) != zone)
			return false;
		zone = page_zone(page);
	}
	return true;
}

/* Huge pages in the walk's ranges: in all, and the longest run. */
struct wcpool_contig_count {
	u64 limit;
	u64 run_end;		/* end of the current run of blocks */
	unsigned long run;	/* blocks in it */
	unsigned long total;
	unsigned long longest;
};

static int wcpool_contig_count_range(struct resource *res, void *data)
{
	struct wcpool_contig_count *c = data;
	u64 start = ALIGN(res->start, WCPOOL_HPAGE_SIZE);
	u64 end = min(res->end + 1, c->limit) & ~(u64)(WCPOOL_HPAGE_SIZE - 1);

	for (; start < end; start += WCPOOL_HPAGE_SIZE) {
		if (!wcpool_contig_block_ok(PHYS_PFN(start)))
			continue;
		if (start != c->run_end ||
		    wcpool_contig_crosses(start - 1, start + 1))
			c->run = 0;
		c->run++;
		c->total++;
		c->longest = max(c->longest, c->run);
		c->run_end = start + WCPOOL_HPAGE_SIZE;
	}
	return 0;
}

/**
 * wcpool_contig_fits - can the RAM below a limit ever hold a request?
 * @limit: physical address limit in bytes; 0: none
 * @total: huge pages the pool would hold in all
 * @run: huge pages of its longest contiguous run (1: none)
 *
 * Counts whole 2 MiB blocks of system RAM below @limit, in use or not,
 * and the longest line of adjacent ones inside one zone.
 *
 * Return: 0, or -ENOMEM when the request can never be met.
 */
int wcpool_contig_fits(u64 limit, unsigned long total, unsigned long run)
{
	struct wcpool_contig_count c = { .limit = limit ? limit : U64_MAX };

	walk_iomem_res_desc(IORES_DESC_NONE,
			    IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY, 0,
			    c.limit - 1, &c, wcpool_contig_count_range);
	return total > c.total || run > c.longest ? -ENOMEM : 0;
}

#ifdef WCPOOL_HAVE_CONTIG_COMP
/* alloc_contig_range() takes no __GFP_ACCOUNT, __GFP_ZERO or zone bits. */
#define WCPOOL_CONTIG_GFP	(GFP_KERNEL | __GFP_COMP | __GFP_NOWARN | \
				 __GFP_RETRY_MAYFAIL)

bool wcpool_contig_supported(void)
{
	return true;
}

struct wcpool_contig_take {
	u64 lo, hi;		/* the part of physical memory searched */
	unsigned long nr;	/* huge pages of the run */
	u64 align;		/* bytes */
	struct page **heads;
	int ret;		/* 0: taken, else the last failure */
};

/* Give back the first @n blocks of a run: still WB, never mapped. */
static void wcpool_contig_put(struct page **heads, unsigned long n)
{
	while (n--)
		__free_pages(heads[n], WCPOOL_ORDER);
}

/*
 * Take the run at @start block by block.  Return: 0, or the first block
 * that could not be taken (>= 1 based), or -EINTR.
 */
static long wcpool_contig_try(struct wcpool_contig_take *t, u64 start)
{
	unsigned long pfn = PHYS_PFN(start), i;
	int ret;

	for (i = 0; i < t->nr; i++, pfn += WCPOOL_HPAGE_PAGES) {
		ret = alloc_contig_range(pfn, pfn + WCPOOL_HPAGE_PAGES,
					 MIGRATE_MOVABLE, WCPOOL_CONTIG_GFP);
		if (ret) {
			wcpool_contig_put(t->heads, i);
			return ret == -EINTR ? -EINTR : i + 1;
		}
		t->heads[i] = pfn_to_page(pfn);
	}
	return 0;
}

/*
 * The first block of the run at @start that a run may not take (1 based,
 * see wcpool_contig_block_ok()), or 0; blocks of one run also share a zone.
 */
static long wcpool_contig_unfit(u64 start, u64 size)
{
	struct zone *zone = NULL;
	unsigned long i, pfn;

	for (i = 0; i < size >> WCPOOL_PAGE_SHIFT_2M; i++) {
		pfn = PHYS_PFN(start) + i * WCPOOL_HPAGE_PAGES;
		if (!wcpool_contig_block_ok(pfn) ||
		    (zone && page_zone(pfn_to_page(pfn)) != zone))
			return i + 1;
		zone = page_zone(pfn_to_page(pfn));
	}
	return 0;
}

static int wcpool_contig_take_range(struct resource *res, void *data)
{
	struct wcpool_contig_take *t = data;
	u64 size = (u64)t->nr << WCPOOL_PAGE_SHIFT_2M;
	u64 start = ALIGN(max_t(u64, res->start, t->lo), t->align);
	u64 end = min(res->end + 1, t->hi);
	long bad;

	while (start < end && end - start >= size) {
		if (fatal_signal_pending(current)) {
			t->ret = -EINTR;
			return 1;
		}
		if (wcpool_contig_crosses(start, start + size)) {
			start += t->align;
			continue;
		}
		bad = wcpool_contig_unfit(start, size);
		if (!bad)
			bad = wcpool_contig_try(t, start);
		if (!bad) {
			t->ret = 0;
			return 1;
		}
		if (bad < 0) {
			t->ret = bad;
			return 1;
		}
		/* Past the block that failed. */
		start = ALIGN(start + ((u64)bad << WCPOOL_PAGE_SHIFT_2M),
			      t->align);
		cond_resched();
	}
	return 0;
}

/* Search [lo, hi) for the run.  Return: 0, -ENOMEM or -EINTR. */
static int wcpool_contig_search(struct wcpool_contig_take *t, u64 lo, u64 hi)
{
	if (lo >= hi)
		return -ENOMEM;
	t->lo = lo;
	t->hi = hi;
	t->ret = -ENOMEM;
	walk_iomem_res_desc(IORES_DESC_NONE,
			    IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY, lo, hi - 1,
			    t, wcpool_contig_take_range);
	return t->ret;
}

/**
 * wcpool_contig_take - physically contiguous huge pages below a limit
 * @nr: huge pages of the run, at least 1
 * @limit: physical address limit in bytes; 0: none
 * @heads: filled with the @nr compound 2 MiB pages, in address order
 *
 * Searches from 4 GiB upward first where the limit allows (ZONE_DMA32 is
 * for 32-bit devices), then above ZONE_DMA, which the 24-bit devices need,
 * and ZONE_DMA last; never in ZONE_MOVABLE.  The pages are zeroed, with a
 * WB linear map; free them with __free_pages().
 *
 * Return: 0, -ENOMEM (no run free) or -EINTR (fatal signal).
 */
int wcpool_contig_take(unsigned long nr, u64 limit, struct page **heads)
{
	struct wcpool_contig_take t = {
		.nr = nr,
		.heads = heads,
		/* The largest power of two dividing the run, at most 1 GiB. */
		.align = min_t(u64, (u64)(nr & -nr) << WCPOOL_PAGE_SHIFT_2M,
			       SZ_1G),
	};
	u64 hi = limit ? limit : U64_MAX;
	unsigned long i, j;
	int ret;

	ret = -ENOMEM;
	if (hi > WCPOOL_DMA32_END)
		ret = wcpool_contig_search(&t, WCPOOL_DMA32_END, hi);
	if (ret == -ENOMEM)
		ret = wcpool_contig_search(&t, WCPOOL_DMA_END,
					   min_t(u64, hi, WCPOOL_DMA32_END));
	if (ret == -ENOMEM)
		ret = wcpool_contig_search(&t, 0, min_t(u64, hi,
							WCPOOL_DMA_END));
	if (ret)
		return ret;
	for (i = 0; i < nr; i++) {
		for (j = 0; j < WCPOOL_HPAGE_PAGES; j++)
			clear_highpage(heads[i] + j);
		cond_resched();
	}
	atomic_long_inc(&wcpool_stats.contig_runs);
	atomic_long_add(nr, &wcpool_stats.contig_pages);
	return 0;
}
#else
bool wcpool_contig_supported(void)
{
	return false;
}

int wcpool_contig_take(unsigned long nr, u64 limit, struct page **heads)
{
	return -EOPNOTSUPP;
}
#endif
