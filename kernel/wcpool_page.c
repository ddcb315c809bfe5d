// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool huge pages: allocation, cache policy conversion of the linear map,
 * a bounded per-policy recycle pool and deferred freeing of pinned pages.
 *
 * A page's linear map is converted to the pool's policy once, right after
 * allocation and before any user mapping exists, and back to WB right before
 * the page returns to the page allocator.  A conversion flushes the TLBs of
 * every CPU, so freed pages of each policy are kept (zeroed) for reuse, up
 * to a bound, as the TTM page pool does; a shrinker gives them back under
 * memory pressure.
 *
 * Each page is converted as one 2 MiB range (set_memory_wc/uc/wb), which
 * keeps the linear map's 2 MiB entry: the page-array variants would split
 * it into 4 KiB entries.  A physically contiguous run (wcpool_contig.c) is
 * converted as one range, one TLB flush for all its pages.
 */
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/shrinker.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <asm/set_memory.h>

#include "wcpool.h"

#define WCPOOL_GFP	(GFP_USER | __GFP_COMP | __GFP_ZERO | __GFP_ACCOUNT | \
			 __GFP_NOWARN | __GFP_RETRY_MAYFAIL)

static unsigned long wcpool_limit;
static unsigned int wcpool_recycle_max;

/* Recycle and deferred lists; innermost wcpool lock (see wcpool.h). */
static DEFINE_SPINLOCK(wcpool_page_lock);
static struct list_head wcpool_recycle[WCPOOL_POLICY_COUNT];
static LIST_HEAD(wcpool_deferred);

static void wcpool_page_reap(struct work_struct *work);
static DECLARE_DELAYED_WORK(wcpool_reap_work, wcpool_page_reap);

unsigned long wcpool_page_limit(void)
{
	return wcpool_limit;
}

/* Count @nr huge pages against the module-wide limit. */
int wcpool_page_reserve(unsigned long nr)
{
	if (atomic_long_add_return(nr, &wcpool_stats.in_use) > wcpool_limit) {
		atomic_long_sub(nr, &wcpool_stats.in_use);
		return -ENOSPC;
	}
	return 0;
}

void wcpool_page_unreserve(unsigned long nr)
{
	atomic_long_sub(nr, &wcpool_stats.in_use);
}

/* Convert the linear map of @nr adjacent huge pages at @head at once. */
static int wcpool_page_set_policy(struct page *head, unsigned long nr,
				  u32 policy)
{
	unsigned long addr = (unsigned long)page_address(head);
	int ret;

	switch (policy) {
	case WCPOOL_POLICY_WC:
		ret = set_memory_wc(addr, nr * WCPOOL_HPAGE_PAGES);
		break;
	case WCPOOL_POLICY_UC:
		ret = set_memory_uc(addr, nr * WCPOOL_HPAGE_PAGES);
		break;
	default:
		return 0;
	}
	if (!ret)
		atomic_long_inc(&wcpool_stats.converted);
	return ret;
}

/* Convert back to WB and give the page back to the page allocator. */
static void wcpool_page_destroy(struct page *head, u32 policy)
{
	if (policy != WCPOOL_POLICY_WB &&
	    set_memory_wb((unsigned long)page_address(head),
			  WCPOOL_HPAGE_PAGES)) {
		/* Never hand a WC/UC page to the allocator: leak it. */
		pr_err("wcpool: cannot restore WB on pfn %#lx, leaking it\n",
		       page_to_pfn(head));
		return;
	}
	if (policy != WCPOOL_POLICY_WB)
		wcpool_total_add(converted_wb, 1);
	__free_pages(head, WCPOOL_ORDER);
}

/* Does @head lie below @limit (bytes; 0: no limit)? */
static bool wcpool_page_below(struct page *head, u64 limit)
{
	return !limit ||
	       PFN_PHYS(page_to_pfn(head)) + WCPOOL_HPAGE_SIZE <= limit;
}

/* Give a page that failed its conversion back, as WB only. */
static void wcpool_page_unconvert(struct page *head, unsigned long nr)
{
	unsigned long i;

	/* A failed WC conversion may stop half way (at UC-). */
	if (set_memory_wb((unsigned long)page_address(head),
			  nr * WCPOOL_HPAGE_PAGES)) {
		pr_err("wcpool: cannot restore WB after a failed conversion, leaking %lu pages\n",
		       nr);
		return;
	}
	for (i = 0; i < nr; i++)
		__free_pages(pfn_to_page(page_to_pfn(head) +
					 i * WCPOOL_HPAGE_PAGES), WCPOOL_ORDER);
}

/*
 * A new zeroed WB page below @limit (bytes; 0: none): from ZONE_DMA for
 * 24 bits, ZONE_DMA32 for 32; above 32 bits any page that lies below the
 * limit, else one from ZONE_DMA32; between 24 and 32 bits one taken with
 * alloc_contig_range() below the limit where the kernel can, else from
 * ZONE_DMA.  Charged to the memcg where the page allocator gives it.
 */
static struct page *wcpool_page_new(u64 limit)
{
	struct page *head;

	if (!limit)
		return alloc_pages(WCPOOL_GFP, WCPOOL_ORDER);
	if (limit <= SZ_16M)
		return alloc_pages(WCPOOL_GFP | GFP_DMA, WCPOOL_ORDER);
	if (limit >= SZ_4G) {
		if (limit > SZ_4G) {
			head = alloc_pages(WCPOOL_GFP, WCPOOL_ORDER);
			if (!head || wcpool_page_below(head, limit))
				return head;
			__free_pages(head, WCPOOL_ORDER);
		}
		return alloc_pages(WCPOOL_GFP | __GFP_DMA32, WCPOOL_ORDER);
	}
	if (!wcpool_contig_take(1, limit, &head))
		return head;
	if (fatal_signal_pending(current))
		return NULL;
	return alloc_pages(WCPOOL_GFP | GFP_DMA, WCPOOL_ORDER);
}

/**
 * wcpool_page_alloc - get a zeroed huge page with the linear map in @policy
 * @policy: WCPOOL_POLICY_*
 * @limit: only a page below this physical address will do; 0: any
 *
 * Takes a page from the recycle pool of @policy if there is one (below
 * @limit), else allocates one (see wcpool_page_new()) and converts it.
 * The caller has reserved it with wcpool_page_reserve().
 *
 * Return: the head page, or NULL.
 */
struct page *wcpool_page_alloc(u32 policy, u64 limit)
{
	struct page *head = NULL, *p;

	spin_lock(&wcpool_page_lock);
	list_for_each_entry(p, &wcpool_recycle[policy], lru) {
		if (wcpool_page_below(p, limit)) {
			head = p;
			break;
		}
	}
	if (head) {
		list_del(&head->lru);
		atomic_long_dec(&wcpool_stats.recycle[policy]);
	}
	spin_unlock(&wcpool_page_lock);

	if (!head) {
		head = wcpool_page_new(limit);
		if (!head)
			return NULL;
		atomic_long_inc(&wcpool_stats.allocated);
		if (wcpool_page_set_policy(head, 1, policy)) {
			wcpool_page_unconvert(head, 1);
			return NULL;
		}
	}
	atomic_long_inc(&wcpool_stats.pages[policy]);
	return head;
}

/**
 * wcpool_page_alloc_run - physically contiguous huge pages in @policy
 * @policy: WCPOOL_POLICY_*
 * @nr: huge pages of the run
 * @limit: physical address limit in bytes; 0: none
 * @heads: filled with the run's pages, in address order
 *
 * Taken with alloc_contig_range() (never from the recycle pools: their
 * pages lie anywhere) and converted to @policy in one call, one TLB flush
 * for the run.  Each page is freed on its own later, as any other.  The
 * caller has reserved them with wcpool_page_reserve().
 *
 * Return: 0, -ENOMEM (no run), -EINTR (fatal signal) or -EOPNOTSUPP.
 */
int wcpool_page_alloc_run(u32 policy, unsigned long nr, u64 limit,
			  struct page **heads)
{
	int ret;

	ret = wcpool_contig_take(nr, limit, heads);
	if (ret)
		return ret;
	atomic_long_add(nr, &wcpool_stats.allocated);
	if (wcpool_page_set_policy(heads[0], nr, policy)) {
		wcpool_page_unconvert(heads[0], nr);
		return -ENOMEM;
	}
	atomic_long_add(nr, &wcpool_stats.pages[policy]);
	return 0;
}

/*
 * Free a page nobody else references: zero it and keep it for reuse if the
 * recycle pool of its policy has room, else destroy it.
 */
static void wcpool_page_recycle(struct page *head, u32 policy)
{
	unsigned long i;

	if (atomic_long_read(&wcpool_stats.recycle[policy]) <
	    wcpool_recycle_max) {
		/* Written through the linear map, which has the same policy. */
		for (i = 0; i < WCPOOL_HPAGE_PAGES; i++)
			clear_highpage(head + i);
		atomic_long_inc(&wcpool_stats.cleared);
		ClearPageDirty(head);
		spin_lock(&wcpool_page_lock);
		if (atomic_long_read(&wcpool_stats.recycle[policy]) <
		    wcpool_recycle_max) {
			list_add(&head->lru, &wcpool_recycle[policy]);
			atomic_long_inc(&wcpool_stats.recycle[policy]);
			head = NULL;
		}
		spin_unlock(&wcpool_page_lock);
		if (!head)
			return;
	}
	wcpool_page_destroy(head, policy);
}

/**
 * wcpool_page_free - undo wcpool_page_alloc() of a page never mapped
 * @head: the head page
 * @policy: its policy
 */
void wcpool_page_free(struct page *head, u32 policy)
{
	atomic_long_dec(&wcpool_stats.pages[policy]);
	wcpool_page_recycle(head, policy);
}

/**
 * wcpool_page_release - drop a pool's page after it was unmapped everywhere
 * @head: the head page
 * @policy: its policy
 *
 * A page that is still referenced (pinned by GUP users) must not go back to
 * the allocator with a WC/UC linear map: it waits on the deferred list until
 * the pool's reference is the last one.  The caller unreserves nothing; the
 * page leaves the limit when it is freed.
 */
void wcpool_page_release(struct page *head, u32 policy)
{
	atomic_long_dec(&wcpool_stats.pages[policy]);
	if (page_ref_count(head) == 1) {
		wcpool_page_recycle(head, policy);
		wcpool_page_unreserve(1);
		return;
	}
	/* page->private holds the policy while the page waits. */
	set_page_private(head, policy);
	spin_lock(&wcpool_page_lock);
	list_add_tail(&head->lru, &wcpool_deferred);
	atomic_long_inc(&wcpool_stats.deferred);
	spin_unlock(&wcpool_page_lock);
	schedule_delayed_work(&wcpool_reap_work, HZ);
}

/**
 * wcpool_page_deferred_pinned - released pages that GUP users still pin
 *
 * Return: how many pages on the deferred list are pinned with FOLL_PIN
 * (pin_user_pages(): V4L2 USERPTR, io_uring fixed buffers, RDMA).
 */
unsigned long wcpool_page_deferred_pinned(void)
{
	unsigned long n = 0;
	struct page *head;

	spin_lock(&wcpool_page_lock);
	list_for_each_entry(head, &wcpool_deferred, lru)
		n += folio_maybe_dma_pinned(page_folio(head));
	spin_unlock(&wcpool_page_lock);
	return n;
}

static void wcpool_page_reap(struct work_struct *work)
{
	struct page *head, *tmp;
	LIST_HEAD(done);
	bool more;

	spin_lock(&wcpool_page_lock);
	list_for_each_entry_safe(head, tmp, &wcpool_deferred, lru) {
		if (page_ref_count(head) == 1)
			list_move(&head->lru, &done);
	}
	more = !list_empty(&wcpool_deferred);
	spin_unlock(&wcpool_page_lock);

	list_for_each_entry_safe(head, tmp, &done, lru) {
		u32 policy = page_private(head);

		list_del(&head->lru);
		set_page_private(head, 0);
		wcpool_page_recycle(head, policy);
		/*
		 * Leave the limit before leaving the deferred count, so that
		 * "deferred == 0" implies the page no longer counts as in use.
		 */
		wcpool_page_unreserve(1);
		atomic_long_dec(&wcpool_stats.deferred);
	}
	if (more)
		schedule_delayed_work(&wcpool_reap_work, HZ);
}

/**
 * wcpool_page_memtype - cache mode of a page's linear map, as the CPU sees it
 * @head: the head page
 * @level: set to the level of the linear-map entry (PG_LEVEL_*)
 *
 * Reads the PAT index bits of the kernel PTE/PMD; the names follow the PAT
 * layout Linux programs on x86 (0 WB, 1 WC, 2 UC-, 3 UC, 5 WP, 7 WT).
 *
 * Return: the name of the cache type, as in pat_memtype_list.
 */
const char *wcpool_page_memtype(struct page *head, unsigned int *level)
{
	static const char * const names[8] = {
		"write-back", "write-combining", "uncached-minus", "uncached",
		"write-back", "write-protect", "uncached-minus",
		"write-through",
	};
	unsigned int idx;
	pteval_t val;
	pte_t *pte;

	pte = lookup_address((unsigned long)page_address(head), level);
	if (!pte)
		return "unmapped";
	val = pte_val(*pte);
	idx = (val & _PAGE_PWT ? 1 : 0) | (val & _PAGE_PCD ? 2 : 0);
	if (*level == PG_LEVEL_4K ? val & _PAGE_PAT : val & _PAGE_PAT_LARGE)
		idx |= 4;
	return names[idx];
}

/* Recycled pages, in base pages as the shrinker core counts objects. */
static unsigned long wcpool_shrink_count(struct shrinker *shrinker,
					 struct shrink_control *sc)
{
	unsigned long n = 0;
	int i;

	for (i = 0; i < WCPOOL_POLICY_COUNT; i++)
		n += atomic_long_read(&wcpool_stats.recycle[i]);
	return n ? n * WCPOOL_HPAGE_PAGES : SHRINK_EMPTY;
}

static unsigned long wcpool_shrink_scan(struct shrinker *shrinker,
					struct shrink_control *sc)
{
	unsigned long freed = 0;
	struct page *head;
	int i = 0;

	while (freed < sc->nr_to_scan && i < WCPOOL_POLICY_COUNT) {
		spin_lock(&wcpool_page_lock);
		head = list_first_entry_or_null(&wcpool_recycle[i],
						struct page, lru);
		if (head) {
			list_del(&head->lru);
			atomic_long_dec(&wcpool_stats.recycle[i]);
		}
		spin_unlock(&wcpool_page_lock);
		if (!head) {
			i++;
			continue;
		}
		wcpool_page_destroy(head, i);
		freed += WCPOOL_HPAGE_PAGES;
	}
	return freed ? freed : SHRINK_STOP;
}

#ifdef WCPOOL_HAVE_SHRINKER_ALLOC
static struct shrinker *wcpool_shrinker;

static int wcpool_shrinker_register(void)
{
	wcpool_shrinker = shrinker_alloc(0, "wcpool");
	if (!wcpool_shrinker)
		return -ENOMEM;
	wcpool_shrinker->count_objects = wcpool_shrink_count;
	wcpool_shrinker->scan_objects = wcpool_shrink_scan;
	wcpool_shrinker->seeks = 1;
	shrinker_register(wcpool_shrinker);
	return 0;
}

static void wcpool_shrinker_unregister(void)
{
	shrinker_free(wcpool_shrinker);
}
#else
static struct shrinker wcpool_shrinker = {
	.count_objects = wcpool_shrink_count,
	.scan_objects = wcpool_shrink_scan,
	.seeks = 1,
};

static int wcpool_shrinker_register(void)
{
	return register_shrinker(&wcpool_shrinker, "wcpool");
}

static void wcpool_shrinker_unregister(void)
{
	unregister_shrinker(&wcpool_shrinker);
}
#endif

int wcpool_page_init(unsigned long limit_pages, unsigned int recycle_pages)
{
	int i;

	wcpool_limit = limit_pages;
	wcpool_recycle_max = recycle_pages;
	for (i = 0; i < WCPOOL_POLICY_COUNT; i++)
		INIT_LIST_HEAD(&wcpool_recycle[i]);
	return wcpool_shrinker_register();
}

void wcpool_page_exit(void)
{
	struct page *head, *tmp;
	int i;

	wcpool_shrinker_unregister();
	cancel_delayed_work_sync(&wcpool_reap_work);
	wcpool_page_reap(NULL);
	cancel_delayed_work_sync(&wcpool_reap_work);
	list_for_each_entry_safe(head, tmp, &wcpool_deferred, lru) {
		/* Still pinned by someone: the page cannot be freed safely. */
		pr_warn("wcpool: pfn %#lx still referenced at unload, leaking it\n",
			page_to_pfn(head));
		list_del(&head->lru);
	}
	for (i = 0; i < WCPOOL_POLICY_COUNT; i++) {
		list_for_each_entry_safe(head, tmp, &wcpool_recycle[i], lru) {
			list_del(&head->lru);
			atomic_long_dec(&wcpool_stats.recycle[i]);
			wcpool_page_destroy(head, i);
		}
	}
}
