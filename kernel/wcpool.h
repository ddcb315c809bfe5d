/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wcpool - internal interfaces between the parts of wcpool.ko.
 */
#ifndef _WCPOOL_H
#define _WCPOOL_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/xarray.h>
#include <linux/wcpool.h>

struct seq_file;
struct wcpool_heap_buf;

#define WCPOOL_ORDER		(WCPOOL_PAGE_SHIFT_2M - PAGE_SHIFT)
#define WCPOOL_HPAGE_SIZE	BIT(WCPOOL_PAGE_SHIFT_2M)
#define WCPOOL_HPAGE_PAGES	BIT(WCPOOL_ORDER)
#define WCPOOL_MAX_SIZE		BIT_ULL(46)

/*
 * Lock order of wcpool.ko (lockdep checks it on the debug kernel; each
 * function that relies on a lock says so with lockdep_assert_held):
 *
 *   wcpool_list_lock (wcpool_pool.c, the list of all pools)
 *     -> wcpool->lock (one pool)
 *   mm->mmap_lock (page faults, REGISTER's address lookup)
 *     -> wcpool->lock
 *   wcpool->lock
 *     -> page lock (lock_page() of a pool page: fault vs. RELEASE and
 *        a move, wcpool_move.c)
 *     -> i_mmap_rwsem of the pool inode (unmap_mapping_range of RELEASE
 *        and of a move; a move copies pages under wcpool->lock, and takes
 *        no mmap lock: REGISTER drops it before moving)
 *     -> wcpool_page_lock (wcpool_page.c, a spinlock: the deferred
 *        list; nothing is taken under it)
 *     -> the node locks of the recycle list_lrus (wcpool_page.c; nothing
 *        of wcpool is taken under them: the shrinker frees pages after)
 *   mm->mmap_lock (faults and mmap of a registration's dma-buf)
 *     -> the dma-buf's reservation lock (map_dma_buf and vmap on 6.12)
 *     -> wcpool_reg->lock (wcpool_reg.h, one registration: its
 *        attachments, vmaps, and its pages and runs against a move)
 *     -> wcpool->lock (a move at map, wcpool_reg_move())
 *     -> i_mmap_rwsem of the dma-buf's inode (the move zaps its user
 *        mappings)
 *   wcpool_heap_lock (wcpool_heap.c, the 2 MiB pages that heap buffers
 *     share): taken with no other wcpool lock held, and none under it
 *     (pages are allocated, released and cleared outside it)
 */

/**
 * struct wcpool - one pool, shared by all of its fds and mappings
 * @kref: one reference per open file of the pool
 * @lock: serialises GROW, RELEASE and the lookup in the fault path
 * @pages: huge page index -> head struct page, owned by the pool
 * @inode: the pool's own pseudo inode; its mapping links every VMA
 * @node: entry in the list of all pools (debugfs)
 * @policy: WCPOOL_POLICY_*
 * @map_mode: WCPOOL_MAP_*
 * @max_size: largest file size in bytes
 * @nr_pages: huge pages in @pages
 * @spans: ranges pinned by live registrations (struct wcpool_span),
 *	under @lock
 * @heap: a dma-heap node made the pool for one dma-buf, which holds it:
 *	what the node (wcpool_heap.c) knows of the buffer; NULL: not a
 *	heap buffer's pool
 * @release: called by the pool's last put before its pages go (the heap
 *	node gives back a page it shares with other buffers); NULL: none
 * @pfnmap: user mappings of the pool's dma-buf are PFN maps, made whole
 *	at mmap and never pinnable (heap buffers sharing 2 MiB pages)
 * @addr_bits: every page below 2^@addr_bits of physical address; 0: none
 *	(WCPOOL_CREATE_DMA32 is 32)
 * @contig: huge pages per physically contiguous run; 1: none
 */
struct wcpool {
	struct kref kref;
	/* see the lock order above: after list and mmap locks */
	struct mutex lock;
	struct xarray pages;
	struct inode *inode;
	struct list_head node;
	u32 policy;
	u32 map_mode;
	u64 max_size;
	unsigned long nr_pages;
	struct list_head spans;
	struct wcpool_heap_buf *heap;
	void (*release)(struct wcpool *pool);
	bool pfnmap;
	u32 addr_bits;
	unsigned long contig;
};

/* The physical address limit of @pool in bytes; 0: none. */
static inline u64 wcpool_pool_limit(const struct wcpool *pool)
{
	return pool->addr_bits && pool->addr_bits < 64 ?
	       BIT_ULL(pool->addr_bits) : 0;
}

/**
 * struct wcpool_span - a byte range of a pool that a registration pins
 * @node: entry in the pool's @spans, under its lock
 * @offset: pool file offset of the first byte
 * @length: bytes
 */
struct wcpool_span {
	struct list_head node;
	u64 offset;
	u64 length;
};

/**
 * struct wcpool_stats - module-wide counters, shown in debugfs
 * @pools: live pools
 * @pages: huge pages owned by pools, per policy
 * @recycle: converted huge pages kept for reuse, per policy
 * @deferred: released huge pages still referenced (pinned) elsewhere
 * @vmas: live mappings of pool fds
 * @converted: cache policy conversions of the linear map so far
 * @allocated: huge pages taken from the page allocator so far
 * @cleared: huge pages zeroed on their way into a recycle pool so far
 * @pmd_maps: 2 MiB PMD entries inserted so far (PMD mode)
 * @in_use: huge pages counted against the limit (@pages + @deferred)
 * @regs: live registrations (dma-bufs made by WCPOOL_IOC_REGISTER)
 * @reg_bytes: bytes covered by live registrations
 * @reg_pinned: huge page references held by live registrations
 * @reg_mapped: importer attachments with a live DMA mapping
 * @contig_runs: physically contiguous runs taken with alloc_contig_range()
 *	so far
 * @contig_pages: huge pages in those runs
 * @moves: moves of a range's backing so far, at REGISTER and at map
 *	(wcpool_move.c)
 * @pages_moved: huge pages those moves copied
 * @map_moves: those of @moves made at map, for a device without IOMMU
 *	translation that could not reach the pages
 */
struct wcpool_stats {
	atomic_long_t pools;
	atomic_long_t pages[WCPOOL_POLICY_COUNT];
	atomic_long_t recycle[WCPOOL_POLICY_COUNT];
	atomic_long_t deferred;
	atomic_long_t vmas;
	atomic_long_t converted;
	atomic_long_t allocated;
	atomic_long_t cleared;
	atomic_long_t pmd_maps;
	atomic_long_t in_use;
	atomic_long_t regs;
	atomic_long_t reg_bytes;
	atomic_long_t reg_pinned;
	atomic_long_t reg_mapped;
	atomic_long_t contig_runs;
	atomic_long_t contig_pages;
	atomic_long_t moves;
	atomic_long_t pages_moved;
	atomic_long_t map_moves;
};

extern struct wcpool_stats wcpool_stats;

/**
 * struct wcpool_totals - running totals (never decremented), shown in
 *	debugfs beside struct wcpool_stats: what each frame's hand-off to a
 *	device costs is their difference over the frame
 * @dmabuf_exports: dma-bufs exported (registrations and heap buffers)
 * @attaches: importer attachments made (exporter's attach)
 * @detaches: importer attachments ended (exporter's detach)
 * @maps: sg tables DMA-mapped for an importer (map_dma_buf)
 * @unmaps: sg tables unmapped (unmap_dma_buf)
 * @vmaps: kernel mappings made for importers (vmap; vb2-vmalloc's "map")
 * @vunmaps: kernel mappings removed (vunmap)
 * @pins: huge page references taken by registrations (counted at their
 *	export, which every pinned registration reaches)
 * @converted_wb: linear-map conversions back to WB (set_memory_wb)
 */
struct wcpool_totals {
	atomic64_t dmabuf_exports;
	atomic64_t attaches;
	atomic64_t detaches;
	atomic64_t maps;
	atomic64_t unmaps;
	atomic64_t vmaps;
	atomic64_t vunmaps;
	atomic64_t pins;
	atomic64_t converted_wb;
};

extern struct wcpool_totals wcpool_totals;

/* Add @n to the running total @name of wcpool_totals. */
#define wcpool_total_add(name, n)	atomic64_add(n, &wcpool_totals.name)

/* wcpool_page.c */
int wcpool_page_init(unsigned long limit_pages, unsigned int recycle_pages);
void wcpool_page_exit(void);
unsigned long wcpool_page_limit(void);
int wcpool_page_reserve(unsigned long nr);
void wcpool_page_unreserve(unsigned long nr);
struct page *wcpool_page_alloc(u32 policy, u64 limit);
int wcpool_page_alloc_run(u32 policy, unsigned long nr, u64 limit,
			  struct page **heads);
void wcpool_page_free(struct page *head, u32 policy);
void wcpool_page_release(struct page *head, u32 policy);
struct mem_cgroup *wcpool_task_memcg(void);
unsigned long wcpool_page_deferred_pinned(void);
const char *wcpool_page_memtype(struct page *head, unsigned int *level);

/* wcpool_contig.c: physically contiguous runs below a limit */
bool wcpool_contig_supported(void);
int wcpool_contig_fits(u64 limit, unsigned long total, unsigned long run);
int wcpool_contig_take(unsigned long nr, u64 limit, struct page **heads);

/* wcpool_pool.c: the pool object, its pages and its pseudo filesystem */
int wcpool_pool_init(void);
void wcpool_pool_exit(void);
struct wcpool *wcpool_pool_new(u32 policy, u32 map_mode, u64 max_size,
			       u32 addr_bits, unsigned long contig);
long wcpool_pool_grow(struct wcpool *pool, const struct wcpool_range *r);
long wcpool_pool_release_range(struct wcpool *pool,
			       const struct wcpool_range *r);
void wcpool_pool_get(struct wcpool *pool);
void wcpool_pool_put(struct wcpool *pool);
struct file *wcpool_pool_file(struct wcpool *pool, int flags,
			      const struct file_operations *fops);
bool wcpool_is_pool_file(const struct file *file);
int wcpool_pool_pin(struct wcpool *pool, struct wcpool_span *span,
		    struct page **heads);
void wcpool_pool_unpin(struct wcpool *pool, struct wcpool_span *span);
int wcpool_pool_for_each(void (*fn)(struct wcpool *pool, void *data),
			 void *data);

/* wcpool_fd.c: pool fds, their ioctls; WCPOOL_IOC_CREATE */
long wcpool_pool_create(struct wcpool_create *args, void __user *uarg);

/* wcpool_mmap.c */
int wcpool_mmap(struct file *file, struct vm_area_struct *vma);
bool wcpool_mmap_pmd_supported(void);
pgprot_t wcpool_pgprot(u32 policy, pgprot_t prot);
void wcpool_vma_set_flags(struct vm_area_struct *vma, unsigned long flags);
unsigned long wcpool_get_unmapped_area(struct file *file, unsigned long addr,
				       unsigned long len, unsigned long pgoff,
				       unsigned long flags);

/* wcpool_reg.c: WCPOOL_IOC_REGISTER */
long wcpool_reg_register(struct wcpool *pool, struct wcpool_register *args,
			 void __user *uarg);

/* wcpool_reg_heap.c: the dma-buf of a dma-heap buffer */
struct dma_buf *wcpool_reg_export_pool(struct wcpool *pool, u64 offset,
				       u64 length, int flags);

/* wcpool_segments.c: WCPOOL_IOC_SEGMENTS */
long wcpool_segments_ioctl(struct wcpool *pool, void __user *uarg);

/* wcpool_heap.c */
int wcpool_heap_init(void);
void wcpool_heap_exit(void);
void wcpool_heap_stats(struct seq_file *m);

/* wcpool_stats.c */
void wcpool_stats_init(void);
void wcpool_stats_exit(void);

/* wcpool_args.c: extensible ioctl argument structs */
int wcpool_copy_args(void *karg, size_t ksize, size_t ver0,
		     const void __user *uarg);
int wcpool_copy_out(void __user *uarg, const void *karg, size_t ksize);

#endif /* _WCPOOL_H */
