// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool pools: the pool object, its pages (GROW, RELEASE), the ranges
 * registrations pin, and the pseudo filesystem that gives each pool its
 * own inode.
 *
 * Every pool has its own inode, so that its address_space links exactly
 * the VMAs of this pool and RELEASE can unmap a range from every process
 * with unmap_mapping_range().  The fds themselves are wcpool_fd.c's.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pagemap.h>
#include <linux/pseudo_fs.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "wcpool.h"

#define WCPOOL_FS_MAGIC	0x77637030	/* "wcp0" */

static struct vfsmount *wcpool_mnt;
static DEFINE_MUTEX(wcpool_list_lock);
static LIST_HEAD(wcpool_list);

static void wcpool_pool_free(struct kref *kref)
{
	struct wcpool *pool = container_of(kref, struct wcpool, kref);
	unsigned long idx, nr = 0;
	struct page *head;

	mutex_lock(&wcpool_list_lock);
	list_del(&pool->node);
	mutex_unlock(&wcpool_list_lock);

	/* Every registration holds a pool reference. */
	WARN_ON_ONCE(!list_empty(&pool->spans));
	/* e.g. a heap buffer's page shared with others goes back to the heap */
	if (pool->release)
		pool->release(pool);
	/* No file is left, hence no mapping: only pins can remain. */
	xa_for_each(&pool->pages, idx, head) {
		wcpool_page_release(head, pool->policy);
		nr++;
		cond_resched();
	}
	WARN_ON_ONCE(nr != pool->nr_pages);
	xa_destroy(&pool->pages);
	iput(pool->inode);
	mutex_destroy(&pool->lock);
	kfree(pool);
	atomic_long_dec(&wcpool_stats.pools);
}

void wcpool_pool_get(struct wcpool *pool)
{
	kref_get(&pool->kref);
}

void wcpool_pool_put(struct wcpool *pool)
{
	kref_put(&pool->kref, wcpool_pool_free);
}

/* Is @file a pool fd (of any pool)?  Only pool fds live on our mount. */
bool wcpool_is_pool_file(const struct file *file)
{
	return file && file->f_path.mnt == wcpool_mnt;
}

/*
 * Does a registration pin a huge page of [offset, offset + length)?  Both
 * are multiples of the huge page size.
 */
static bool wcpool_pool_pinned(struct wcpool *pool, u64 offset, u64 length)
{
	struct wcpool_span *span;

	lockdep_assert_held(&pool->lock);
	list_for_each_entry(span, &pool->spans, node) {
		if (span->offset < offset + length &&
		    offset < span->offset + span->length)
			return true;
	}
	return false;
}

/**
 * wcpool_pool_pin - take the huge pages under a span for a registration
 * @pool: the pool
 * @span: the range (bytes), not on any list
 * @heads: filled with the huge pages the span touches, one reference each
 *
 * From success on, RELEASE of a range that shares a huge page with @span
 * fails with EBUSY until wcpool_pool_unpin().
 *
 * Return: 0, -ENXIO where a page is not grown, or -EINTR.
 */
int wcpool_pool_pin(struct wcpool *pool, struct wcpool_span *span,
		    struct page **heads)
{
	unsigned long first = span->offset >> WCPOOL_PAGE_SHIFT_2M, i, nr;
	int ret;

	nr = ((span->offset + span->length - 1) >> WCPOOL_PAGE_SHIFT_2M) -
	     first + 1;
	ret = mutex_lock_killable(&pool->lock);
	if (ret)
		return ret;
	for (i = 0; i < nr; i++) {
		heads[i] = xa_load(&pool->pages, first + i);
		if (!heads[i]) {
			ret = -ENXIO;
			goto out;
		}
	}
	for (i = 0; i < nr; i++)
		get_page(heads[i]);
	list_add(&span->node, &pool->spans);
out:
	mutex_unlock(&pool->lock);
	return ret;
}

/**
 * wcpool_pool_unpin - undo wcpool_pool_pin() but for the page references
 * @pool: the pool
 * @span: the span that was pinned
 *
 * The caller drops the page references after this.
 */
void wcpool_pool_unpin(struct wcpool *pool, struct wcpool_span *span)
{
	mutex_lock(&pool->lock);
	list_del(&span->node);
	mutex_unlock(&pool->lock);
}

/* Check a GROW/RELEASE range and turn it into huge page indices. */
static int wcpool_range_check(struct wcpool *pool,
			      const struct wcpool_range *r,
			      unsigned long *first, unsigned long *nr)
{
	u64 end;

	if (r->flags || r->reserved[0] || r->reserved[1])
		return -EINVAL;
	if (!r->length || !IS_ALIGNED(r->offset, WCPOOL_HPAGE_SIZE) ||
	    !IS_ALIGNED(r->length, WCPOOL_HPAGE_SIZE))
		return -EINVAL;
	if (check_add_overflow(r->offset, r->length, &end))
		return -EINVAL;
	if (end > pool->max_size)
		return -EFBIG;
	*first = r->offset >> WCPOOL_PAGE_SHIFT_2M;
	*nr = r->length >> WCPOOL_PAGE_SHIFT_2M;
	return 0;
}

/*
 * Grow pages [first, first + nr) of @pool, each run of @pool->contig
 * pages physically contiguous.  Return: how many were grown before an
 * error, which is in *@err (0: all).
 */
static unsigned long wcpool_pool_grow_pages(struct wcpool *pool,
					    unsigned long first,
					    unsigned long nr, int *err)
{
	u64 limit = wcpool_pool_limit(pool);
	unsigned long i, j, run = pool->contig;
	struct page **heads, *head;
	int ret = 0;

	heads = run > 1 ? kvmalloc_array(run, sizeof(*heads), GFP_KERNEL) :
			  &head;
	if (!heads) {
		*err = -ENOMEM;
		return 0;
	}
	lockdep_assert_held(&pool->lock);
	for (i = 0; i < nr; i += run) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (run > 1) {
			ret = wcpool_page_alloc_run(pool->policy, run, limit,
						    heads);
		} else {
			head = wcpool_page_alloc(pool->policy, limit);
			ret = head ? 0 : -ENOMEM;
		}
		if (ret) {
			if (fatal_signal_pending(current))
				ret = -EINTR;
			break;
		}
		for (j = 0; j < run; j++) {
			ret = xa_err(xa_store(&pool->pages, first + i + j,
					      heads[j], GFP_KERNEL_ACCOUNT));
			if (ret)
				break;
		}
		if (ret) {
			/* The stored ones are undone by the caller. */
			i += j;
			for (; j < run; j++)
				wcpool_page_free(heads[j], pool->policy);
			break;
		}
		cond_resched();
	}
	if (heads != &head)
		kvfree(heads);
	*err = ret;
	return min(i, nr);
}

/**
 * wcpool_pool_grow - WCPOOL_IOC_GROW: back a range with new pages
 * @pool: the pool
 * @r: the range, copied in (or made by the dma-heap nodes)
 *
 * A pool may span 2^25 huge pages: a range of more pages than the module
 * limit fails at once, and the range is searched for a present page rather
 * than walked index by index.  So does a range that the RAM below the
 * pool's address limit, or its longest contiguous range, can never hold.
 *
 * Return: 0 or a negative errno (see the uapi header).
 */
long wcpool_pool_grow(struct wcpool *pool, const struct wcpool_range *r)
{
	unsigned long first, nr, done, idx;
	struct page *head;
	int err;
	long ret;

	ret = wcpool_range_check(pool, r, &first, &nr);
	if (ret)
		return ret;
	if (pool->contig > 1 &&
	    (first % pool->contig || nr % pool->contig))
		return -EINVAL;
	/* More pages than the limit never fit; this bounds the loops below. */
	if (nr > wcpool_page_limit())
		return -ENOSPC;

	ret = mutex_lock_killable(&pool->lock);
	if (ret)
		return ret;
	idx = first;
	if (xa_find(&pool->pages, &idx, first + nr - 1, XA_PRESENT)) {
		ret = -EEXIST;
		goto out_unlock;
	}
	if (wcpool_pool_limit(pool) || pool->contig > 1) {
		ret = wcpool_contig_fits(wcpool_pool_limit(pool),
					 pool->nr_pages + nr, pool->contig);
		if (ret)
			goto out_unlock;
	}
	ret = wcpool_page_reserve(nr);
	if (ret)
		goto out_unlock;

	done = wcpool_pool_grow_pages(pool, first, nr, &err);
	if (!err) {
		pool->nr_pages += nr;
		mutex_unlock(&pool->lock);
		return 0;
	}
	ret = err;
	/* Nothing was mapped yet: the pages go straight back. */
	while (done--) {
		head = xa_erase(&pool->pages, first + done);
		wcpool_page_free(head, pool->policy);
		cond_resched();
	}
	wcpool_page_unreserve(nr);
out_unlock:
	mutex_unlock(&pool->lock);
	return ret;
}

/**
 * wcpool_pool_release_range - WCPOOL_IOC_RELEASE: drop the pages of a range
 * @pool: the pool
 * @r: the range, copied in
 *
 * Visits only the pages present, so the work is bounded by the module limit
 * whatever the length of the range.  Each page is released whole; a fatal
 * signal stops between pages.
 *
 * Return: 0 or a negative errno (see the uapi header).
 */
long wcpool_pool_release_range(struct wcpool *pool,
			       const struct wcpool_range *r)
{
	unsigned long first, nr, idx;
	struct page *head;
	long ret;

	ret = wcpool_range_check(pool, r, &first, &nr);
	if (ret)
		return ret;

	ret = mutex_lock_killable(&pool->lock);
	if (ret)
		return ret;
	/* Registered pages are pinned for a device: nothing changes. */
	if (wcpool_pool_pinned(pool, r->offset, r->length)) {
		ret = -EBUSY;
		goto out_unlock;
	}
	xa_for_each_range(&pool->pages, idx, head, first, first + nr - 1) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		xa_erase(&pool->pages, idx);
		pool->nr_pages--;
		/*
		 * A fault that found the page before the erase holds the page
		 * lock until its PTE is in place: wait for it, then zap.
		 */
		lock_page(head);
		unlock_page(head);
		unmap_mapping_range(pool->inode->i_mapping,
				    (loff_t)idx << WCPOOL_PAGE_SHIFT_2M,
				    WCPOOL_HPAGE_SIZE, 1);
		wcpool_page_release(head, pool->policy);
		cond_resched();
	}
out_unlock:
	mutex_unlock(&pool->lock);
	return ret;
}

/**
 * wcpool_pool_file - a new file of @pool on the pool filesystem
 * @pool: the pool; the file takes a reference
 * @flags: O_RDWR or O_RDONLY
 * @fops: the file operations (wcpool_fd.c's)
 *
 * Takes a pool, an inode and a module reference (the file's fops are
 * ours; __fput() drops the module reference).
 *
 * Return: the file or an ERR_PTR.
 */
struct file *wcpool_pool_file(struct wcpool *pool, int flags,
			      const struct file_operations *fops)
{
	struct file *file;

	__module_get(THIS_MODULE);
	ihold(pool->inode);
	file = alloc_file_pseudo(pool->inode, wcpool_mnt, "wcpool", flags,
				 fops);
	if (IS_ERR(file)) {
		iput(pool->inode);
		module_put(THIS_MODULE);
		return file;
	}
	kref_get(&pool->kref);
	file->private_data = pool;
	return file;
}

/**
 * wcpool_pool_new - a pool without pages or files
 * @policy: WCPOOL_POLICY_*
 * @map_mode: WCPOOL_MAP_*
 * @max_size: largest file size in bytes, a multiple of the huge page size
 * @addr_bits: every page below 2^@addr_bits; 0: no limit
 * @contig: huge pages per physically contiguous run (dividing @max_size's);
 *	1: none
 *
 * Return: the pool, holding one reference (wcpool_pool_put() drops it), or
 * an ERR_PTR.
 */
struct wcpool *wcpool_pool_new(u32 policy, u32 map_mode, u64 max_size,
			       u32 addr_bits, unsigned long contig)
{
	struct wcpool *pool;
	struct inode *inode;

	pool = kzalloc(sizeof(*pool), GFP_KERNEL_ACCOUNT);
	if (!pool)
		return ERR_PTR(-ENOMEM);
	inode = alloc_anon_inode(wcpool_mnt->mnt_sb);
	if (IS_ERR(inode)) {
		kfree(pool);
		return ERR_CAST(inode);
	}
	inode->i_size = max_size;
	kref_init(&pool->kref);
	mutex_init(&pool->lock);
	xa_init(&pool->pages);
	INIT_LIST_HEAD(&pool->spans);
	pool->inode = inode;
	pool->policy = policy;
	pool->map_mode = map_mode;
	pool->max_size = max_size;
	pool->addr_bits = addr_bits;
	pool->contig = contig;
	atomic_long_inc(&wcpool_stats.pools);
	mutex_lock(&wcpool_list_lock);
	list_add_tail(&pool->node, &wcpool_list);
	mutex_unlock(&wcpool_list_lock);
	return pool;
}

/**
 * wcpool_pool_for_each - call @fn for every live pool (debugfs)
 * @fn: called with the pool's lock held
 * @data: passed to @fn
 *
 * Return: 0, or -EINTR when a fatal signal interrupted the wait for a lock.
 */
int wcpool_pool_for_each(void (*fn)(struct wcpool *pool, void *data),
			 void *data)
{
	struct wcpool *pool;
	int ret;

	ret = mutex_lock_killable(&wcpool_list_lock);
	if (ret)
		return ret;
	list_for_each_entry(pool, &wcpool_list, node) {
		ret = mutex_lock_killable(&pool->lock);
		if (ret)
			break;
		fn(pool, data);
		mutex_unlock(&pool->lock);
	}
	mutex_unlock(&wcpool_list_lock);
	return ret;
}

static int wcpool_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, WCPOOL_FS_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type wcpool_fs_type = {
	.name = "wcpool",
	.init_fs_context = wcpool_fs_init_fs_context,
	.kill_sb = kill_anon_super,
};

int wcpool_pool_init(void)
{
	wcpool_mnt = kern_mount(&wcpool_fs_type);
	return PTR_ERR_OR_ZERO(wcpool_mnt);
}

void wcpool_pool_exit(void)
{
	kern_unmount(wcpool_mnt);
}
