// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool dma-heap nodes: /dev/dma_heap/wcpool-wc, -uc and -wb take
 * DMA_HEAP_IOCTL_ALLOC exactly as the kernel's dma-heaps do, so a program
 * written for dma-heaps (libcamera, GStreamer, Android's allocator) gets
 * buffers of the node's cache policy by opening another path.
 *
 * Debian's kernels export no dma_heap_add() to modules (6.1 has no dma-heap
 * core at all), so the nodes are misc devices named like heap nodes, not
 * members of the dma_heap class: /sys/class/dma_heap does not list them,
 * and the names never shadow a real heap such as "system".
 *
 * Each allocation is a pool of its own, private to one dma-buf, pinned
 * by a registration of the buffer's bytes and exported at once, without
 * a user mapping.  The dma-buf holds the pool; its release frees both.
 * The node also takes WCPOOL_IOC_SEGMENTS for these buffers.
 *
 * A buffer of N bytes takes N rounded up to 4 KiB: its 2 MiB-multiple
 * part whole 2 MiB pages of its own, the rest (the whole buffer if it is
 * smaller than 2 MiB) one run of 4 KiB pages inside a 2 MiB page of the
 * policy that it shares with other buffers (struct wcpool_heap_page, a
 * bitmap of its 512 pages), as the kernel's system heap and TTM's pool
 * share converted pages: the policy conversion stays one per 2 MiB page,
 * so there is never a cacheable alias.  The run of a buffer with whole
 * pages lies at the end of its shared page (the buffer's pool maps it
 * before them) or at its start (after them), so the buffer is one range
 * of its pool and the registration code serves it unchanged.  The best
 * fit is the fullest page that has room.  A page is shared only between
 * buffers of the memory cgroup that it was taken for (and charged to,
 * by the page allocator; a page from the recycle pool stays charged to
 * the cgroup that first took it, as any pool page).  A freed run is
 * zeroed before it is reused; a page whose last run is freed goes back
 * at once to wcpool_page.c (its bounded recycle pool, else the page
 * allocator, converted back to WB).  The module limit counts the 2 MiB
 * pages.  Mappings of these buffers are PFN maps (wcpool_dmabuf.c): a
 * pin could outlive the buffer and reach the next owner of its pages.
 *
 * /dev/dma_heap/wcpool-{wc,uc,wb}-contig (where the kernel makes
 * contiguous runs, wcpool_contig.c): each buffer is one physically
 * contiguous run, up to WCPOOL_CONTIG_MAX; what programs written for
 * "linux,cma" expect, on kernels without CMA.  Their pages are charged to
 * no memory cgroup (alloc_contig_range(), see wcpool_contig.c), only to
 * the module limit, as the kernel's CMA heap.  Nodes rather than heap
 * flags: the dma-heap UAPI defines no heap flag (the kernel's heaps refuse
 * any), and programs choose a heap by its path.
 */
#include <linux/bitmap.h>
#include <linux/dma-buf.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/dma-heap.h>

#include "wcpool.h"

/*
 * The nodes: index = policy, + WCPOOL_POLICY_COUNT for the contiguous
 * ones (registered only where the kernel makes contiguous runs).
 */
#define WCPOOL_HEAP_NODES	(2 * WCPOOL_POLICY_COUNT)
static struct miscdevice wcpool_heaps[WCPOOL_HEAP_NODES];
static unsigned int wcpool_heap_nr;

static const char *const wcpool_heap_names[WCPOOL_HEAP_NODES][2] = {
	[WCPOOL_POLICY_WC] = { "wcpool-heap-wc", "dma_heap/wcpool-wc" },
	[WCPOOL_POLICY_UC] = { "wcpool-heap-uc", "dma_heap/wcpool-uc" },
	[WCPOOL_POLICY_WB] = { "wcpool-heap-wb", "dma_heap/wcpool-wb" },
	[WCPOOL_POLICY_COUNT + WCPOOL_POLICY_WC] = {
		"wcpool-heap-wc-contig", "dma_heap/wcpool-wc-contig" },
	[WCPOOL_POLICY_COUNT + WCPOOL_POLICY_UC] = {
		"wcpool-heap-uc-contig", "dma_heap/wcpool-uc-contig" },
	[WCPOOL_POLICY_COUNT + WCPOOL_POLICY_WB] = {
		"wcpool-heap-wb-contig", "dma_heap/wcpool-wb-contig" },
};

static unsigned int wcpool_heap_index(struct file *file)
{
	struct miscdevice *misc = file->private_data;

	return misc - wcpool_heaps;
}

/**
 * struct wcpool_heap_page - a 2 MiB page shared by heap buffers
 * @node: entry in wcpool_heap_shared[@policy], under wcpool_heap_lock
 * @head: the page, converted to @policy; its base reference is ours
 * @memcg: the memory cgroup whose buffers share it (a reference)
 * @policy: WCPOOL_POLICY_*
 * @used: 4 KiB pages in buffers, under wcpool_heap_lock
 * @map: which 4 KiB pages are in buffers, under wcpool_heap_lock
 */
struct wcpool_heap_page {
	struct list_head node;
	struct page *head;
	struct mem_cgroup *memcg;
	u32 policy;
	unsigned int used;
	DECLARE_BITMAP(map, WCPOOL_HPAGE_PAGES);
};

/**
 * struct wcpool_heap_buf - what the node knows of a buffer (its pool's
 *	@heap)
 * @shared: the shared page that holds the buffer's run; NULL: none
 * @slot: huge page index of @shared in the buffer's pool
 * @first: the run's first 4 KiB page in @shared
 * @nr: the run's 4 KiB pages
 * @whole: 2 MiB pages the pool holds of its own
 * @bytes: the buffer's size once exported (counted); 0 before
 */
struct wcpool_heap_buf {
	struct wcpool_heap_page *shared;
	unsigned long slot;
	unsigned int first;
	unsigned int nr;
	unsigned long whole;
	u64 bytes;
};

/* The shared pages of each policy; see the lock order in wcpool.h. */
static DEFINE_MUTEX(wcpool_heap_lock);
static struct list_head wcpool_heap_shared[WCPOOL_POLICY_COUNT] = {
	LIST_HEAD_INIT(wcpool_heap_shared[0]),
	LIST_HEAD_INIT(wcpool_heap_shared[1]),
	LIST_HEAD_INIT(wcpool_heap_shared[2]),
};

/* debugfs "stats": see wcpool_heap_stats(). */
static atomic_long_t wcpool_heap_nbufs, wcpool_heap_bytes, wcpool_heap_whole,
		     wcpool_heap_nshared, wcpool_heap_used;

/**
 * wcpool_heap_stats - the heap lines of debugfs "stats"
 * @m: the file
 *
 * heap_buffers and heap_bytes: live heap buffers and their bytes (each
 * rounded up to 4 KiB); heap_pages: 2 MiB pages held for them, their own
 * and shared ones; heap_shared: the shared ones; heap_shared_free: 4 KiB
 * pages in those that no buffer uses.  Without -contig buffers (rounded
 * up to 2 MiB), heap_pages * 2 MiB = heap_bytes + heap_shared_free * 4 KiB.
 */
void wcpool_heap_stats(struct seq_file *m)
{
	long shared = atomic_long_read(&wcpool_heap_nshared);

	seq_printf(m, "heap_buffers %ld\n",
		   atomic_long_read(&wcpool_heap_nbufs));
	seq_printf(m, "heap_bytes %ld\n",
		   atomic_long_read(&wcpool_heap_bytes));
	seq_printf(m, "heap_pages %ld\n",
		   atomic_long_read(&wcpool_heap_whole) + shared);
	seq_printf(m, "heap_shared %ld\n", shared);
	seq_printf(m, "heap_shared_free %ld\n",
		   shared * WCPOOL_HPAGE_PAGES -
		   atomic_long_read(&wcpool_heap_used));
}

/*
 * Where a run of @nr pages fits in @hp, in *@first: anywhere, or for the
 * tail of a buffer with whole pages (@tail) at the page's end or start.
 */
static bool wcpool_heap_fits(struct wcpool_heap_page *hp, unsigned int nr,
			     bool tail, unsigned int *first)
{
	const unsigned int n = WCPOOL_HPAGE_PAGES;
	unsigned long at;

	lockdep_assert_held(&wcpool_heap_lock);
	if (hp->used + nr > n)
		return false;
	if (!tail) {
		at = bitmap_find_next_zero_area(hp->map, n, 0, nr, 0);
		*first = at;
		return at + nr <= n;
	}
	if (find_next_bit(hp->map, n, n - nr) >= n) {
		*first = n - nr;
		return true;
	}
	*first = 0;
	return find_first_bit(hp->map, nr) >= nr;
}

/*
 * The fullest shared page of @policy and @memcg with room for the run;
 * NULL: none.
 */
static struct wcpool_heap_page *
wcpool_heap_find(u32 policy, struct mem_cgroup *memcg, unsigned int nr,
		 bool tail, unsigned int *first)
{
	struct wcpool_heap_page *hp, *best = NULL;
	unsigned int at;

	lockdep_assert_held(&wcpool_heap_lock);
	list_for_each_entry(hp, &wcpool_heap_shared[policy], node) {
		if (hp->memcg != memcg || (best && hp->used <= best->used) ||
		    !wcpool_heap_fits(hp, nr, tail, &at))
			continue;
		best = hp;
		*first = at;
	}
	return best;
}

/* Take @nr 4 KiB pages at @first of @hp for a buffer. */
static void wcpool_heap_use(struct wcpool_heap_page *hp, unsigned int first,
			    unsigned int nr)
{
	lockdep_assert_held(&wcpool_heap_lock);
	bitmap_set(hp->map, first, nr);
	hp->used += nr;
	atomic_long_add(nr, &wcpool_heap_used);
}

/* Give a shared page that no buffer uses back to wcpool_page.c. */
static void wcpool_heap_page_put(struct wcpool_heap_page *hp)
{
	/* Recycled (zeroed) or converted back to WB and freed. */
	wcpool_page_release(hp->head, hp->policy);
	mem_cgroup_put(hp->memcg);
	atomic_long_dec(&wcpool_heap_nshared);
	kfree(hp);
}

/*
 * A new shared page of @policy for the caller's memory cgroup, counted
 * against the module limit.  Return: the page or an ERR_PTR (-ENOMEM,
 * -EINTR).
 */
static struct wcpool_heap_page *wcpool_heap_page_new(u32 policy)
{
	struct wcpool_heap_page *hp;

	hp = kzalloc(sizeof(*hp), GFP_KERNEL_ACCOUNT);
	if (!hp)
		return ERR_PTR(-ENOMEM);
	/* Over the module limit: the heap is out of memory. */
	if (wcpool_page_reserve(1)) {
		kfree(hp);
		return ERR_PTR(-ENOMEM);
	}
	hp->head = wcpool_page_alloc(policy, 0);
	if (!hp->head) {
		wcpool_page_unreserve(1);
		kfree(hp);
		return ERR_PTR(fatal_signal_pending(current) ? -EINTR :
							       -ENOMEM);
	}
	hp->policy = policy;
	hp->memcg = wcpool_task_memcg();
	atomic_long_inc(&wcpool_heap_nshared);
	return hp;
}

/*
 * A run of @nr 4 KiB pages for @buf in a shared page of @policy (@tail:
 * at a page's end or start), in a new page where none has room.
 * Return: 0, -ENOMEM or -EINTR.
 */
static int wcpool_heap_take(struct wcpool_heap_buf *buf, u32 policy,
			    unsigned int nr, bool tail)
{
	struct mem_cgroup *memcg = wcpool_task_memcg();
	struct wcpool_heap_page *hp, *new = NULL;
	unsigned int first;

	for (;;) {
		mutex_lock(&wcpool_heap_lock);
		hp = wcpool_heap_find(policy, memcg, nr, tail, &first);
		if (!hp && new) {
			/* The caller's cgroup may have changed meanwhile. */
			hp = new;
			new = NULL;
			first = 0;
			list_add(&hp->node, &wcpool_heap_shared[policy]);
		}
		if (hp)
			wcpool_heap_use(hp, first, nr);
		mutex_unlock(&wcpool_heap_lock);
		if (hp)
			break;
		/* Not under the lock: this may reclaim and convert. */
		new = wcpool_heap_page_new(policy);
		if (IS_ERR(new)) {
			mem_cgroup_put(memcg);
			return PTR_ERR(new);
		}
	}
	mem_cgroup_put(memcg);
	/* Another buffer's free made room meanwhile. */
	if (new)
		wcpool_heap_page_put(new);
	buf->shared = hp;
	buf->first = first;
	buf->nr = nr;
	return 0;
}

/* Give @buf's run back to its shared page, zeroed. */
static void wcpool_heap_give_back(struct wcpool_heap_buf *buf)
{
	struct wcpool_heap_page *hp = buf->shared;
	unsigned int i;
	bool last;

	mutex_lock(&wcpool_heap_lock);
	last = hp->used == buf->nr;
	if (last) {
		/* Nobody can find the page now: no need to clear the run. */
		list_del(&hp->node);
		hp->used = 0;
		atomic_long_sub(buf->nr, &wcpool_heap_used);
	}
	mutex_unlock(&wcpool_heap_lock);
	if (last) {
		wcpool_heap_page_put(hp);
		return;
	}
	/*
	 * The next buffer must read zeroes.  Written through the linear
	 * map, which has the page's policy; the run stays taken meanwhile.
	 */
	for (i = 0; i < buf->nr; i++) {
		clear_highpage(hp->head + buf->first + i);
		cond_resched();
	}
	mutex_lock(&wcpool_heap_lock);
	bitmap_clear(hp->map, buf->first, buf->nr);
	hp->used -= buf->nr;
	atomic_long_sub(buf->nr, &wcpool_heap_used);
	last = !hp->used;
	if (last)
		list_del(&hp->node);
	mutex_unlock(&wcpool_heap_lock);
	if (last)
		wcpool_heap_page_put(hp);
}

/*
 * The end of a heap buffer's pool (its release hook, called by
 * wcpool_pool.c's last put; nobody else can reach the pool): gives the
 * buffer's run back to its shared page; the pool's own pages are released
 * by the caller, as any pool's.
 */
static void wcpool_heap_free(struct wcpool *pool)
{
	struct wcpool_heap_buf *buf = pool->heap;

	if (buf->shared) {
		if (xa_erase(&pool->pages, buf->slot))
			pool->nr_pages--;
		wcpool_heap_give_back(buf);
	}
	if (buf->bytes) {
		atomic_long_dec(&wcpool_heap_nbufs);
		atomic_long_sub(buf->bytes, &wcpool_heap_bytes);
	}
	atomic_long_sub(buf->whole, &wcpool_heap_whole);
	pool->heap = NULL;
	kfree(buf);
}

/*
 * A new pool for a heap buffer of @policy, @slots huge pages long, whose
 * @heap is a new struct wcpool_heap_buf.  @contig: one physically
 * contiguous run.
 */
static struct wcpool *wcpool_heap_pool(u32 policy, unsigned long slots,
				       bool contig)
{
	struct wcpool_heap_buf *buf;
	struct wcpool *pool;

	buf = kzalloc(sizeof(*buf), GFP_KERNEL_ACCOUNT);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	pool = wcpool_pool_new(policy, WCPOOL_MAP_PTE,
			       (u64)slots << WCPOOL_PAGE_SHIFT_2M, 0,
			       contig ? slots : 1);
	if (IS_ERR(pool)) {
		kfree(buf);
		return pool;
	}
	pool->pfnmap = !contig;
	pool->heap = buf;
	pool->release = wcpool_heap_free;
	return pool;
}

/* Back @nr huge pages of @pool at @first with pages of its own. */
static long wcpool_heap_grow(struct wcpool *pool, unsigned long first,
			     unsigned long nr)
{
	struct wcpool_range r = {
		.size = sizeof(r),
		.offset = (u64)first << WCPOOL_PAGE_SHIFT_2M,
		.length = (u64)nr << WCPOOL_PAGE_SHIFT_2M,
	};
	long ret = wcpool_pool_grow(pool, &r);

	/* Over the module limit: the heap is out of memory. */
	if (ret == -ENOSPC)
		return -ENOMEM;
	if (!ret) {
		pool->heap->whole = nr;
		atomic_long_add(nr, &wcpool_heap_whole);
	}
	return ret;
}

/* Export @len bytes of @pool at @offset; count the buffer. */
static struct dma_buf *wcpool_heap_export(struct wcpool *pool, u64 offset,
					  u64 len, int flags)
{
	struct dma_buf *dmabuf;

	dmabuf = wcpool_reg_export_pool(pool, offset, len, flags);
	if (!IS_ERR(dmabuf)) {
		pool->heap->bytes = len;
		atomic_long_inc(&wcpool_heap_nbufs);
		atomic_long_add(len, &wcpool_heap_bytes);
	}
	/* The dma-buf holds the pool now, or nothing does. */
	wcpool_pool_put(pool);
	return dmabuf;
}

/*
 * A dma-buf of @len bytes of a new pool of @policy, which is one
 * physically contiguous run of whole 2 MiB pages.
 */
static struct dma_buf *wcpool_heap_contig_buffer(u32 policy, u64 len,
						 int flags)
{
	unsigned long nr = ALIGN(len, WCPOOL_HPAGE_SIZE) >>
			   WCPOOL_PAGE_SHIFT_2M;
	struct wcpool *pool;
	long ret;

	pool = wcpool_heap_pool(policy, nr, true);
	if (IS_ERR(pool))
		return ERR_CAST(pool);
	ret = wcpool_heap_grow(pool, 0, nr);
	if (ret) {
		wcpool_pool_put(pool);
		return ERR_PTR(ret);
	}
	return wcpool_heap_export(pool, 0, len, flags);
}

/*
 * A dma-buf of @len bytes of @policy: whole 2 MiB pages of its own for
 * the 2 MiB-multiple part, a run in a shared page for the rest.  Its
 * pool maps a run of a buffer with whole pages before them (the run at
 * the end of its page) or after them (at the start); a smaller buffer's
 * run is the pool's first huge page, anywhere in it.
 */
static struct dma_buf *wcpool_heap_shared_buffer(u32 policy, u64 len,
						 int flags)
{
	unsigned long whole = len >> WCPOOL_PAGE_SHIFT_2M, at = 0;
	unsigned int tail = (len & (WCPOOL_HPAGE_SIZE - 1)) >> PAGE_SHIFT;
	struct wcpool_heap_buf *buf;
	struct wcpool *pool;
	u64 offset = 0;
	long ret = 0;

	pool = wcpool_heap_pool(policy, whole + !!tail, false);
	if (IS_ERR(pool))
		return ERR_CAST(pool);
	buf = pool->heap;
	if (tail) {
		ret = wcpool_heap_take(buf, policy, tail, whole);
		if (ret)
			goto err;
		if (!whole) {
			offset = (u64)buf->first << PAGE_SHIFT;
		} else if (buf->first) {
			/* At the page's end: before the whole pages. */
			offset = (u64)buf->first << PAGE_SHIFT;
			at = 1;
		} else {
			buf->slot = whole;
		}
		mutex_lock(&pool->lock);
		ret = xa_err(xa_store(&pool->pages, buf->slot,
				      buf->shared->head, GFP_KERNEL_ACCOUNT));
		if (!ret)
			pool->nr_pages++;
		mutex_unlock(&pool->lock);
		if (ret)
			goto err;
	}
	if (whole) {
		ret = wcpool_heap_grow(pool, at, whole);
		if (ret)
			goto err;
	}
	return wcpool_heap_export(pool, offset, len, flags);
err:
	wcpool_pool_put(pool);
	return ERR_PTR(ret);
}

/**
 * wcpool_heap_alloc - DMA_HEAP_IOCTL_ALLOC on a wcpool heap node
 * @file: the node's open file; its minor gives the cache policy
 * @data: the arguments, copied in; @data->fd is set on success
 * @uarg: where @data is copied back to
 *
 * As the kernel's dma-heaps: @data->fd must be 0, fd_flags at most
 * O_CLOEXEC | O_ACCMODE (the dma-buf file gets O_ACCMODE), heap_flags 0,
 * len is rounded up to whole pages and must be neither 0 nor more than the
 * machine's memory (on a contiguous node: nor more than
 * WCPOOL_CONTIG_MAX).
 *
 * Return: 0 or a negative errno: -EINVAL (a field out of range), -ENOMEM
 * (no memory, the memory cgroup's limit or the module's; on a contiguous
 * node no free run or the module's limit only: alloc_contig_range()
 * charges no memory cgroup and nothing exported charges its pages
 * afterwards, so memory.max does not bound those buffers), -EINTR (fatal
 * signal), -EMFILE/-ENFILE (no fd), -EFAULT.
 */
static long wcpool_heap_alloc(struct file *file,
			      struct dma_heap_allocation_data *data,
			      void __user *uarg)
{
	unsigned int idx = wcpool_heap_index(file);
	bool contig = idx >= WCPOOL_POLICY_COUNT;
	struct dma_buf *dmabuf;
	u64 len;
	int fd;

	if (data->fd || (data->fd_flags & ~DMA_HEAP_VALID_FD_FLAGS) ||
	    (data->heap_flags & ~DMA_HEAP_VALID_HEAP_FLAGS))
		return -EINVAL;
	len = PAGE_ALIGN(data->len);
	if (!len || len / PAGE_SIZE > totalram_pages() ||
	    (contig && len > WCPOOL_CONTIG_MAX))
		return -EINVAL;
	if (contig)
		dmabuf = wcpool_heap_contig_buffer(idx % WCPOOL_POLICY_COUNT,
						   len, data->fd_flags & O_ACCMODE);
	else
		dmabuf = wcpool_heap_shared_buffer(idx % WCPOOL_POLICY_COUNT,
						   len, data->fd_flags & O_ACCMODE);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	fd = get_unused_fd_flags(data->fd_flags & O_CLOEXEC);
	if (fd < 0) {
		dma_buf_put(dmabuf);
		return fd;
	}
	data->fd = fd;
	if (copy_to_user(uarg, data, sizeof(*data))) {
		put_unused_fd(fd);
		dma_buf_put(dmabuf);
		return -EFAULT;
	}
	fd_install(fd, dmabuf->file);
	return 0;
}

static long wcpool_heap_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct dma_heap_allocation_data alloc;

	switch (cmd) {
	case DMA_HEAP_IOCTL_ALLOC:
		if (copy_from_user(&alloc, uarg, sizeof(alloc)))
			return -EFAULT;
		return wcpool_heap_alloc(file, &alloc, uarg);
	case WCPOOL_IOC_SEGMENTS:
		return wcpool_segments_ioctl(NULL, uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations wcpool_heap_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = wcpool_heap_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

int wcpool_heap_init(void)
{
	unsigned int i;
	int ret;

	wcpool_heap_nr = wcpool_contig_supported() ? WCPOOL_HEAP_NODES :
						     WCPOOL_POLICY_COUNT;
	for (i = 0; i < wcpool_heap_nr; i++) {
		wcpool_heaps[i] = (struct miscdevice){
			.minor = MISC_DYNAMIC_MINOR,
			.name = wcpool_heap_names[i][0],
			.nodename = wcpool_heap_names[i][1],
			.fops = &wcpool_heap_fops,
			.mode = 0600,
		};
		ret = misc_register(&wcpool_heaps[i]);
		if (ret)
			goto err;
	}
	return 0;
err:
	while (i--)
		misc_deregister(&wcpool_heaps[i]);
	return ret;
}

void wcpool_heap_exit(void)
{
	unsigned int i;

	for (i = 0; i < wcpool_heap_nr; i++)
		misc_deregister(&wcpool_heaps[i]);
}
