// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool statistics in debugfs: /sys/kernel/debug/wcpool/{stats,pools}.
 *
 * "stats" has one "name value" line per counter; tests read it to prove
 * that everything a test allocated was given back.  "pools" lists every
 * pool page with the cache type the CPU sees in its linear map and the
 * size of that linear-map entry (4k, 2m, 1g).
 */
#include <linux/debugfs.h>
#include <linux/mm.h>
#include <linux/seq_file.h>

#include "wcpool.h"

static struct dentry *wcpool_debugfs;

static const char * const wcpool_policy_names[WCPOOL_POLICY_COUNT] = {
	[WCPOOL_POLICY_WC] = "wc",
	[WCPOOL_POLICY_UC] = "uc",
	[WCPOOL_POLICY_WB] = "wb",
};

struct wcpool_folio_counts {
	unsigned long gup_pinned;	/* pinned with FOLL_PIN */
	unsigned long pmd_mapped;	/* mapped whole by a PMD somewhere */
};

/*
 * Read from the pages themselves, so nothing can drift: the pin count is
 * exact for compound pages, and the entire mapcount counts the PMDs that
 * the core (finish_fault -> do_set_pmd) puts in aligned PTE-mode mappings.
 */
static void wcpool_count_folios(struct wcpool *pool, void *data)
{
	struct wcpool_folio_counts *counts = data;
	struct folio *folio;
	struct page *head;
	unsigned long idx;

	lockdep_assert_held(&pool->lock);
	xa_for_each(&pool->pages, idx, head) {
		folio = page_folio(head);
		counts->gup_pinned += folio_maybe_dma_pinned(folio);
		counts->pmd_mapped += folio_entire_mapcount(folio) > 0;
	}
}

static void wcpool_totals_show(struct seq_file *m)
{
	static const struct {
		const char *name;
		atomic64_t *val;
	} totals[] = {
		{ "dmabuf_exports", &wcpool_totals.dmabuf_exports },
		{ "attaches", &wcpool_totals.attaches },
		{ "detaches", &wcpool_totals.detaches },
		{ "maps", &wcpool_totals.maps },
		{ "unmaps", &wcpool_totals.unmaps },
		{ "vmaps", &wcpool_totals.vmaps },
		{ "vunmaps", &wcpool_totals.vunmaps },
		{ "pins", &wcpool_totals.pins },
		{ "converted_wb", &wcpool_totals.converted_wb },
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(totals); i++)
		seq_printf(m, "%s %lld\n", totals[i].name,
			   (long long)atomic64_read(totals[i].val));
	/*
	 * Every page from the page allocator comes zeroed (__GFP_ZERO, or
	 * cleared by wcpool_contig.c), every recycled page is cleared on its
	 * way into the recycle pool: nothing else zeroes a page.
	 */
	seq_printf(m, "pages_zeroed %ld\n",
		   atomic_long_read(&wcpool_stats.allocated) +
		   atomic_long_read(&wcpool_stats.cleared));
}

static int wcpool_stats_show(struct seq_file *m, void *unused)
{
	struct wcpool_folio_counts counts = {};
	int i;

	seq_printf(m, "pools %ld\n", atomic_long_read(&wcpool_stats.pools));
	for (i = 0; i < WCPOOL_POLICY_COUNT; i++)
		seq_printf(m, "pages_%s %ld\n", wcpool_policy_names[i],
			   atomic_long_read(&wcpool_stats.pages[i]));
	for (i = 0; i < WCPOOL_POLICY_COUNT; i++)
		seq_printf(m, "recycle_%s %ld\n", wcpool_policy_names[i],
			   atomic_long_read(&wcpool_stats.recycle[i]));
	seq_printf(m, "deferred %ld\n",
		   atomic_long_read(&wcpool_stats.deferred));
	seq_printf(m, "mapped_vmas %ld\n",
		   atomic_long_read(&wcpool_stats.vmas));
	seq_printf(m, "in_use %ld\n", atomic_long_read(&wcpool_stats.in_use));
	seq_printf(m, "limit %lu\n", wcpool_page_limit());
	seq_printf(m, "converted %ld\n",
		   atomic_long_read(&wcpool_stats.converted));
	seq_printf(m, "allocated %ld\n",
		   atomic_long_read(&wcpool_stats.allocated));
	seq_printf(m, "cleared %ld\n",
		   atomic_long_read(&wcpool_stats.cleared));
	seq_printf(m, "pmd_maps %ld\n",
		   atomic_long_read(&wcpool_stats.pmd_maps));
	seq_printf(m, "registrations %ld\n",
		   atomic_long_read(&wcpool_stats.regs));
	seq_printf(m, "registered_bytes %ld\n",
		   atomic_long_read(&wcpool_stats.reg_bytes));
	seq_printf(m, "pinned_pages %ld\n",
		   atomic_long_read(&wcpool_stats.reg_pinned));
	seq_printf(m, "dma_mapped %ld\n",
		   atomic_long_read(&wcpool_stats.reg_mapped));
	seq_printf(m, "contig_runs %ld\n",
		   atomic_long_read(&wcpool_stats.contig_runs));
	seq_printf(m, "contig_pages %ld\n",
		   atomic_long_read(&wcpool_stats.contig_pages));
	seq_printf(m, "moves %ld\n", atomic_long_read(&wcpool_stats.moves));
	seq_printf(m, "pages_moved %ld\n",
		   atomic_long_read(&wcpool_stats.pages_moved));
	seq_printf(m, "map_moves %ld\n",
		   atomic_long_read(&wcpool_stats.map_moves));
	wcpool_heap_stats(m);
	wcpool_totals_show(m);
	if (wcpool_pool_for_each(wcpool_count_folios, &counts))
		return -EINTR;
	seq_printf(m, "gup_pinned %lu\n",
		   counts.gup_pinned + wcpool_page_deferred_pinned());
	seq_printf(m, "pmd_mapped %lu\n", counts.pmd_mapped);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(wcpool_stats);

static void wcpool_pools_show_one(struct wcpool *pool, void *data)
{
	struct seq_file *m = data;
	unsigned int level = PG_LEVEL_NONE;
	const char *memtype;
	struct folio *folio;
	struct page *head;
	unsigned long idx;

	lockdep_assert_held(&pool->lock);
	seq_printf(m, "pool %s max_size %llu grown %lu map_mode %u addr_bits %u contig %lu\n",
		   wcpool_policy_names[pool->policy], pool->max_size,
		   pool->nr_pages, pool->map_mode, pool->addr_bits,
		   pool->contig);
	xa_for_each(&pool->pages, idx, head) {
		memtype = wcpool_page_memtype(head, &level);
		folio = page_folio(head);
		seq_printf(m, "  offset %#lx pfn %#lx refs %d%s%s linear %s %s\n",
			   idx << WCPOOL_PAGE_SHIFT_2M, page_to_pfn(head),
			   page_ref_count(head),
			   folio_maybe_dma_pinned(folio) ? " gup-pinned" : "",
			   folio_entire_mapcount(folio) ? " pmd-mapped" : "",
			   memtype,
			   level == PG_LEVEL_4K ? "4k" :
			   level == PG_LEVEL_2M ? "2m" :
			   level == PG_LEVEL_1G ? "1g" : "?");
	}
}

static int wcpool_pools_show(struct seq_file *m, void *unused)
{
	return wcpool_pool_for_each(wcpool_pools_show_one, m);
}
DEFINE_SHOW_ATTRIBUTE(wcpool_pools);

void wcpool_stats_init(void)
{
	wcpool_debugfs = debugfs_create_dir("wcpool", NULL);
	debugfs_create_file("stats", 0400, wcpool_debugfs, NULL,
			    &wcpool_stats_fops);
	debugfs_create_file("pools", 0400, wcpool_debugfs, NULL,
			    &wcpool_pools_fops);
}

void wcpool_stats_exit(void)
{
	debugfs_remove_recursive(wcpool_debugfs);
}
