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
 * A recycled page stays charged to the memory cgroup that allocated it
 * (__GFP_ACCOUNT; neither 6.1 nor 6.12 exports a call that uncharges or
 * moves a kmem charge), so reclaim inside that cgroup must be able to free
 * it: memcg reclaim calls only memcg-aware shrinkers, for the cgroups that
 * have objects on their list_lru.  Each recycled page is therefore kept on
 * a memcg-aware list_lru through a small tracking object that is charged
 * to the page's cgroup (kmem_cache_alloc_lru() under set_active_memcg(),
 * which also allocates that cgroup's list): list_lru_add() files it under
 * that cgroup, sets the cgroup's shrinker bit, and moves it to the parent
 * when the cgroup is removed, as for dentries and inodes (neither
 * memcg_list_lru_alloc() nor set_shrinker_bit() is exported: this path
 * reaches both).
 *
 * Each page is converted as one 2 MiB range (set_memory_wc/uc/wb), which
 * keeps the linear map's 2 MiB entry: the page-array variants would split
 * it into 4 KiB entries.  A physically contiguous run (wcpool_contig.c) is
 * converted as one range, one TLB flush for all its pages.
 */
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/list.h>
#include <linux/list_lru.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
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

/* The deferred list; innermost wcpool lock (see wcpool.h). */
static DEFINE_SPINLOCK(wcpool_page_lock);
static LIST_HEAD(wcpool_deferred);

/*
 * A recycled page, on the list of the memory cgroup it is charged to;
 * the object is charged to that cgroup too (NULL cgroup: the root list).
 */
struct wcpool_recycled {
	struct list_head lru;
	struct page *head;
};

static struct kmem_cache *wcpool_recycled_cache;
/* Recycle pools, one memcg-aware list_lru per policy (own node locks). */
static struct list_lru wcpool_recycle[WCPOOL_POLICY_COUNT];
/* The shrinker may run before the lists exist on 6.1 (see below). */
static bool wcpool_recycle_ready;

#ifdef WCPOOL_HAVE_LIST_LRU_ADD_OBJ
#define wcpool_lru_add(lru, item)	list_lru_add_obj(lru, item)
#else
#define wcpool_lru_add(lru, item)	list_lru_add(lru, item)
#endif

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
 * wcpool_task_memcg - the memory cgroup charged for the caller's pages
 *
 * The one the page allocator charges with __GFP_ACCOUNT: the task's own,
 * which is not that of its mm's owner in a task that shares another's mm
 * (clone(CLONE_VM)).
 *
 * Return: the cgroup with a reference (mem_cgroup_put()), or NULL without
 * the memory controller.
 */
struct mem_cgroup *wcpool_task_memcg(void)
{
#ifdef CONFIG_MEMCG
	struct mem_cgroup *memcg;

	if (mem_cgroup_disabled())
		return NULL;
	/* As get_mem_cgroup_from_mm(), for the task: it may be moving. */
	rcu_read_lock();
	do {
		memcg = mem_cgroup_from_task(current);
	} while (!css_tryget(&memcg->css));
	rcu_read_unlock();
	return memcg;
#else
	return NULL;
#endif
}

struct wcpool_take {
	u64 limit;
	unsigned long *nr_to_walk;
	struct wcpool_recycled *found;
};

/* list_lru walk: take the first page below the limit, then stop. */
static enum lru_status wcpool_recycle_take(struct list_head *item,
					   struct list_lru_one *list,
					   spinlock_t *lock, void *arg)
{
	struct wcpool_recycled *r = container_of(item, struct wcpool_recycled,
						 lru);
	struct wcpool_take *take = arg;

	if (take->found || !wcpool_page_below(r->head, take->limit))
		return LRU_SKIP;
	list_lru_isolate(list, item);
	take->found = r;
	/* 6.1 has no LRU_STOP: the walkers stop when nothing is left. */
	*take->nr_to_walk = 0;
	return LRU_REMOVED;
}

/*
 * A recycled page of @policy below @limit; NULL if none.  One charged to
 * the caller's cgroup first, which then pays for what it uses, else one
 * of any cgroup (which keeps paying for it) or of none.
 */
static struct page *wcpool_recycle_get(u32 policy, u64 limit)
{
	struct list_lru *lru = &wcpool_recycle[policy];
	unsigned long nr;
	struct wcpool_take take = { .limit = limit, .nr_to_walk = &nr };
	struct mem_cgroup *memcg;
	struct page *head;
	int nid;

	if (!atomic_long_read(&wcpool_stats.recycle[policy]))
		return NULL;
	memcg = wcpool_task_memcg();
	for_each_node_state(nid, N_NORMAL_MEMORY) {
		nr = ULONG_MAX;
		list_lru_walk_one(lru, nid, memcg, wcpool_recycle_take, &take,
				  &nr);
		if (take.found)
			break;
	}
	mem_cgroup_put(memcg);
	for_each_node_state(nid, N_NORMAL_MEMORY) {
		if (take.found)
			break;
		nr = ULONG_MAX;
		list_lru_walk_node(lru, nid, wcpool_recycle_take, &take, &nr);
	}
	if (!take.found)
		return NULL;
	head = take.found->head;
	kmem_cache_free(wcpool_recycled_cache, take.found);
	atomic_long_dec(&wcpool_stats.recycle[policy]);
	return head;
}

/**
 * wcpool_page_alloc - get a zeroed huge page with the linear map in @policy
 * @policy: WCPOOL_POLICY_*
 * @limit: only a page below this physical address will do; 0: any
 *
 * Takes a page from the recycle pool of @policy if there is one (below
 * @limit; see wcpool_recycle_get()), else allocates one (see
 * wcpool_page_new()) and converts it.
 * The caller has reserved it with wcpool_page_reserve().
 *
 * Return: the head page, or NULL.
 */
struct page *wcpool_page_alloc(u32 policy, u64 limit)
{
	struct page *head;

	head = wcpool_recycle_get(policy, limit);
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

/* Take a place in the recycle pool of @policy; false if it is full. */
static bool wcpool_recycle_slot(u32 policy)
{
	atomic_long_t *n = &wcpool_stats.recycle[policy];
	long old = atomic_long_read(n);

	do {
		if (old >= (long)wcpool_recycle_max)
			return false;
	} while (!atomic_long_try_cmpxchg(n, &old, old + 1));
	return true;
}

/*
 * The tracking object of @head on the list of @policy, charged to the
 * cgroup that @head is charged to, which also gets its list on the
 * list_lru here if it had none.  Not allowed to reclaim: the pool is a
 * cache, a cgroup at its limit rather loses the page.
 */
static struct wcpool_recycled *wcpool_recycled_new(struct page *head,
						   u32 policy)
{
	struct mem_cgroup *memcg = NULL, *old;
	struct wcpool_recycled *r;
	gfp_t gfp = GFP_NOWAIT | __GFP_NOWARN;

#ifdef CONFIG_MEMCG
	/* A kmem folio's cgroup is protected by RCU (it may be reparented). */
	rcu_read_lock();
	memcg = folio_memcg(page_folio(head));
	if (memcg && !css_tryget(&memcg->css))
		memcg = NULL;
	rcu_read_unlock();
#endif
	if (!memcg)
		return kmem_cache_alloc_lru(wcpool_recycled_cache,
					    &wcpool_recycle[policy], gfp);
	old = set_active_memcg(memcg);
	r = kmem_cache_alloc_lru(wcpool_recycled_cache,
				 &wcpool_recycle[policy], gfp | __GFP_ACCOUNT);
	set_active_memcg(old);
	mem_cgroup_put(memcg);
	return r;
}

/*
 * Free a page nobody else references: zero it and keep it for reuse if the
 * recycle pool of its policy has room, else destroy it.
 */
static void wcpool_page_recycle(struct page *head, u32 policy)
{
	struct wcpool_recycled *r;
	unsigned long i;

	if (!wcpool_recycle_slot(policy))
		goto destroy;
	r = wcpool_recycled_new(head, policy);
	if (!r) {
		atomic_long_dec(&wcpool_stats.recycle[policy]);
		goto destroy;
	}
	/* Written through the linear map, which has the same policy. */
	for (i = 0; i < WCPOOL_HPAGE_PAGES; i++)
		clear_highpage(head + i);
	atomic_long_inc(&wcpool_stats.cleared);
	ClearPageDirty(head);
	INIT_LIST_HEAD(&r->lru);
	r->head = head;
	wcpool_lru_add(&wcpool_recycle[policy], &r->lru);
	return;
destroy:
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

/*
 * Recycled pages of the cgroup and node that reclaim asks for, in base
 * pages as the shrinker core counts objects.
 */
static unsigned long wcpool_shrink_count(struct shrinker *shrinker,
					 struct shrink_control *sc)
{
	unsigned long n = 0;
	int i;

	/* Pairs with wcpool_recycle_init(): the lists are set up. */
	if (!smp_load_acquire(&wcpool_recycle_ready))
		return 0;
	for (i = 0; i < WCPOOL_POLICY_COUNT; i++)
		n += list_lru_shrink_count(&wcpool_recycle[i], sc);
	return n ? n * WCPOOL_HPAGE_PAGES : SHRINK_EMPTY;
}

/* list_lru walk: move every page to the list to free. */
static enum lru_status wcpool_recycle_isolate(struct list_head *item,
					      struct list_lru_one *list,
					      spinlock_t *lock, void *arg)
{
	list_lru_isolate_move(list, item, arg);
	return LRU_REMOVED;
}

/* Destroy the pages of @policy on @dispose. Return: how many. */
static unsigned long wcpool_recycle_dispose(struct list_head *dispose,
					    u32 policy)
{
	struct wcpool_recycled *r, *tmp;
	unsigned long n = 0;

	list_for_each_entry_safe(r, tmp, dispose, lru) {
		list_del(&r->lru);
		atomic_long_dec(&wcpool_stats.recycle[policy]);
		wcpool_page_destroy(r->head, policy);
		kmem_cache_free(wcpool_recycled_cache, r);
		n++;
	}
	return n;
}

static unsigned long wcpool_shrink_scan(struct shrinker *shrinker,
					struct shrink_control *sc)
{
	unsigned long nr = DIV_ROUND_UP(sc->nr_to_scan, WCPOOL_HPAGE_PAGES);
	unsigned long freed = 0;
	LIST_HEAD(dispose);
	int i;

	/* Pairs with wcpool_recycle_init(): the lists are set up. */
	if (!smp_load_acquire(&wcpool_recycle_ready))
		return SHRINK_STOP;
	for (i = 0; i < WCPOOL_POLICY_COUNT && nr; i++) {
		list_lru_walk_one(&wcpool_recycle[i], sc->nid, sc->memcg,
				  wcpool_recycle_isolate, &dispose, &nr);
		freed += wcpool_recycle_dispose(&dispose, i);
	}
	return freed ? freed * WCPOOL_HPAGE_PAGES : SHRINK_STOP;
}

/* The recycle lists, filed under @shrinker's id; 0 or -ENOMEM. */
static int wcpool_recycle_init(struct shrinker *shrinker)
{
	int i, ret;

	for (i = 0; i < WCPOOL_POLICY_COUNT; i++) {
		ret = list_lru_init_memcg(&wcpool_recycle[i], shrinker);
		if (ret) {
			while (i--)
				list_lru_destroy(&wcpool_recycle[i]);
			return ret;
		}
	}
	/* Publish the lists to a shrinker already registered (6.1). */
	smp_store_release(&wcpool_recycle_ready, true);
	return 0;
}

#define WCPOOL_SHRINKER_FLAGS	(SHRINKER_MEMCG_AWARE | SHRINKER_NUMA_AWARE)

#ifdef WCPOOL_HAVE_SHRINKER_ALLOC
static struct shrinker *wcpool_shrinker;

/* 6.7+: the shrinker has its id before it is registered. */
static int wcpool_shrinker_register(void)
{
	int ret;

	wcpool_shrinker = shrinker_alloc(WCPOOL_SHRINKER_FLAGS, "wcpool");
	if (!wcpool_shrinker)
		return -ENOMEM;
	wcpool_shrinker->count_objects = wcpool_shrink_count;
	wcpool_shrinker->scan_objects = wcpool_shrink_scan;
	wcpool_shrinker->seeks = 1;
	ret = wcpool_recycle_init(wcpool_shrinker);
	if (ret) {
		shrinker_free(wcpool_shrinker);
		return ret;
	}
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
	.flags = WCPOOL_SHRINKER_FLAGS,
};

/*
 * 6.1 exports neither prealloc_shrinker() nor register_shrinker_prepared():
 * the id comes with registration, the lists after it, and the shrinker
 * finds nothing until wcpool_recycle_ready.
 */
static int wcpool_shrinker_register(void)
{
	int ret;

	ret = register_shrinker(&wcpool_shrinker, "wcpool");
	if (ret)
		return ret;
	ret = wcpool_recycle_init(&wcpool_shrinker);
	if (ret)
		unregister_shrinker(&wcpool_shrinker);
	return ret;
}

static void wcpool_shrinker_unregister(void)
{
	unregister_shrinker(&wcpool_shrinker);
}
#endif

int wcpool_page_init(unsigned long limit_pages, unsigned int recycle_pages)
{
	int ret;

	wcpool_limit = limit_pages;
	wcpool_recycle_max = recycle_pages;
	wcpool_recycled_cache = KMEM_CACHE(wcpool_recycled, 0);
	if (!wcpool_recycled_cache)
		return -ENOMEM;
	ret = wcpool_shrinker_register();
	if (ret)
		kmem_cache_destroy(wcpool_recycled_cache);
	return ret;
}

void wcpool_page_exit(void)
{
	struct page *head, *tmp;
	LIST_HEAD(dispose);
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
		list_lru_walk(&wcpool_recycle[i], wcpool_recycle_isolate,
			      &dispose, ULONG_MAX);
		wcpool_recycle_dispose(&dispose, i);
		list_lru_destroy(&wcpool_recycle[i]);
	}
	kmem_cache_destroy(wcpool_recycled_cache);
}
