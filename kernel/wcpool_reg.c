// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool registrations: WCPOOL_IOC_REGISTER turns a user range of pool
 * memory into a dma-buf for exactly that range; WCPOOL_IOC_SEGMENTS lists
 * its physically contiguous runs.
 *
 * The range is found through the caller's VMA (which must be a mapping of
 * this pool) and translated to pool offsets; the pool's own pages back it,
 * so this works in PTE and PMD mode alike (no GUP).  A registration holds
 * a reference on every huge page it covers and on the pool object, and is
 * on the pool's list of registrations, which makes RELEASE of its range
 * fail with EBUSY.  Everything is dropped when the dma-buf is released
 * (last fd, mapping and importer gone), so the dma-buf outlives the pool fd
 * and the user's mapping, and process death frees it through the files.
 *
 * Every CPU mapping the exporter makes has the pool's policy: vmap with
 * pgprot_writecombine/noncached(PAGE_KERNEL) (PAGE_KERNEL for WB), mmap
 * with the pool's vm_page_prot.  Never a cacheable alias of a WC/UC page.
 */
#include <linux/dma-buf.h>
#include <linux/dma-direct.h>
#include <linux/dma-mapping.h>
#include <linux/file.h>
#include <linux/iommu.h>
#include <linux/iosys-map.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/swiotlb.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "wcpool.h"

MODULE_IMPORT_NS(DMA_BUF);

/*
 * Longest contiguous run of a registration, and longest sg entry whatever
 * the importing device takes: sg lengths are unsigned int.
 */
#define WCPOOL_SEG_MAX	SZ_1G

struct wcpool_reg_seg {
	unsigned long pfn;
	u64 len;
};

/**
 * struct wcpool_reg - one registration, the priv of its dma-buf
 * @pool: the pool (a reference is held)
 * @node: entry in @pool->regs, under @pool->lock
 * @offset: pool file offset of the first byte
 * @length: bytes
 * @heads: the huge pages covered, one reference each
 * @nr_heads: entries in @heads
 * @segs: physically contiguous runs
 * @nr_segs: entries in @segs
 * @lock: protects @attachments
 * @attachments: struct wcpool_reg_attach of the importers
 */
struct wcpool_reg {
	struct wcpool *pool;
	struct list_head node;
	u64 offset;
	u64 length;
	struct page **heads;
	unsigned long nr_heads;
	struct wcpool_reg_seg *segs;
	unsigned int nr_segs;
	/* protects attachments */
	struct mutex lock;
	struct list_head attachments;
};

struct wcpool_reg_attach {
	struct list_head node;
	struct device *dev;
	struct sg_table *sgt;
	enum dma_data_direction dir;
};

/* The 4 KiB page at byte @off of the registration. */
static struct page *wcpool_reg_page(struct wcpool_reg *reg, u64 off)
{
	u64 poff = reg->offset + off;
	u64 first = reg->offset >> WCPOOL_PAGE_SHIFT_2M;

	return reg->heads[(poff >> WCPOOL_PAGE_SHIFT_2M) - first] +
	       ((poff >> PAGE_SHIFT) & (WCPOOL_HPAGE_PAGES - 1));
}

/**
 * wcpool_reg_overlaps - does a registration cover a page of a range?
 * @pool: the pool, its lock held
 * @offset: start of the range, multiple of the huge page size
 * @length: its length, multiple of the huge page size
 *
 * Return: true if a registered byte lies in a huge page of the range.
 */
bool wcpool_reg_overlaps(struct wcpool *pool, u64 offset, u64 length)
{
	struct wcpool_reg *reg;

	lockdep_assert_held(&pool->lock);
	list_for_each_entry(reg, &pool->regs, node) {
		if (reg->offset < offset + length &&
		    offset < reg->offset + reg->length)
			return true;
	}
	return false;
}

static void wcpool_reg_free(struct wcpool_reg *reg)
{
	struct wcpool *pool = reg->pool;
	unsigned long i;

	/* dma-buf releases only after every importer detached. */
	WARN_ON_ONCE(!list_empty(&reg->attachments));
	mutex_lock(&pool->lock);
	list_del(&reg->node);
	mutex_unlock(&pool->lock);
	for (i = 0; i < reg->nr_heads; i++)
		put_page(reg->heads[i]);
	atomic_long_sub(reg->nr_heads, &wcpool_stats.reg_pinned);
	atomic_long_sub(reg->length, &wcpool_stats.reg_bytes);
	atomic_long_dec(&wcpool_stats.regs);
	kvfree(reg->heads);
	kvfree(reg->segs);
	mutex_destroy(&reg->lock);
	kfree(reg);
	/* Last: this may free the pool and its pages. */
	wcpool_pool_put(pool);
}

/* ---- dma-buf exporter ---- */

static int wcpool_dmabuf_attach(struct dma_buf *dmabuf,
				struct dma_buf_attachment *attach)
{
	struct wcpool_reg_attach *a;

	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	INIT_LIST_HEAD(&a->node);
	a->dev = attach->dev;
	a->dir = DMA_NONE;
	attach->priv = a;
	return 0;
}

static void wcpool_dmabuf_detach(struct dma_buf *dmabuf,
				 struct dma_buf_attachment *attach)
{
	kfree(attach->priv);
	attach->priv = NULL;
}

/*
 * Does @dev reach memory through an IOMMU DMA domain?  Then dma-iommu
 * gives it IOVAs inside its DMA mask, whatever the pages' physical
 * addresses.  Otherwise (no IOMMU, an identity domain) it takes the direct
 * mapping: the bus address is the physical address.
 */
static bool wcpool_dmabuf_translated(struct device *dev)
{
	struct iommu_domain *dom = iommu_get_domain_for_dev(dev);

	return dom && iommu_is_dma_domain(dom);
}

/*
 * The length of the next sg entry at bus address @addr with @left bytes of
 * the run to go: at most @max, and not across a multiple of @boundary + 1.
 */
static u64 wcpool_dmabuf_chunk(u64 addr, u64 left, u64 max, u64 boundary)
{
	u64 n = min(left, max);
	u64 room = boundary - (addr & boundary);	/* bytes to it, less 1 */

	return room < n - 1 ? room + 1 : n;
}

/*
 * Walk @reg's runs cut into the entries @dev takes: at most its max
 * segment size (and WCPOOL_SEG_MAX, and whole 4 KiB pages where it takes
 * that much), never across its segment boundary; cut by bus address where
 * nothing translates, else by physical address (dma-iommu lays out IOVAs
 * to keep entries that fit whole).  With @sgt NULL: count them, and where
 * nothing translates check that each lies within the device's DMA mask and
 * bus limit.  Else fill @sgt.
 *
 * Return: the number of entries, or -ERANGE: @dev cannot reach a page.
 */
static long wcpool_dmabuf_walk(struct wcpool_reg *reg, struct device *dev,
			       bool direct, struct sg_table *sgt)
{
	u64 max = min_t(u64, dma_get_max_seg_size(dev), WCPOOL_SEG_MAX);
	u64 boundary = dma_get_seg_boundary(dev);
	struct scatterlist *sg = sgt ? sgt->sgl : NULL;
	phys_addr_t phys;
	u64 left, addr, n;
	unsigned int i;
	long count = 0;

	if (max >= PAGE_SIZE)
		max = round_down(max, PAGE_SIZE);
	for (i = 0; i < reg->nr_segs; i++) {
		phys = PFN_PHYS(reg->segs[i].pfn);
		for (left = reg->segs[i].len; left; left -= n, phys += n) {
			addr = direct ? phys_to_dma(dev, phys) : phys;
			n = wcpool_dmabuf_chunk(addr, left, max, boundary);
			if (sg) {
				sg_set_page(sg, pfn_to_page(PHYS_PFN(phys)), n,
					    offset_in_page(phys));
				sg = sg_next(sg);
			} else if (direct && !dma_capable(dev, addr, n, true)) {
				return -ERANGE;
			}
			count++;
		}
	}
	return count;
}

/*
 * The sg table of @reg for @dev, before anything is DMA-mapped: refused
 * where the device cannot reach the pages without an IOMMU (dma-direct
 * would WARN, or bounce the WC/UC pages through a cached swiotlb buffer),
 * with at most one rate-limited line naming the device and the reason.
 */
static int wcpool_dmabuf_build(struct wcpool_reg *reg, struct device *dev,
			       struct sg_table *sgt)
{
	bool direct = !wcpool_dmabuf_translated(dev);
	long n;

	if (direct && !dev->dma_mask) {
		dev_warn_ratelimited(dev, "cannot map a wcpool dma-buf: no DMA mask\n");
		return -ERANGE;
	}
	if (direct && is_swiotlb_force_bounce(dev)) {
		dev_warn_ratelimited(dev, "cannot map a wcpool dma-buf: swiotlb bouncing forced and no IOMMU\n");
		return -EOPNOTSUPP;
	}
	n = wcpool_dmabuf_walk(reg, dev, direct, NULL);
	if (n == -ERANGE) {
		dev_warn_ratelimited(dev, "cannot map a wcpool dma-buf without an IOMMU: pages beyond DMA mask %#llx, bus limit %#llx\n",
				     (u64)*dev->dma_mask, (u64)dev->bus_dma_limit);
		return n;
	}
	if (n > UINT_MAX)
		return -ENOMEM;
	n = sg_alloc_table(sgt, n, GFP_KERNEL);
	if (n)
		return n;
	wcpool_dmabuf_walk(reg, dev, direct, sgt);
	return 0;
}

static struct sg_table *wcpool_dmabuf_map(struct dma_buf_attachment *attach,
					  enum dma_data_direction dir)
{
	struct wcpool_reg *reg = attach->dmabuf->priv;
	struct wcpool_reg_attach *a = attach->priv;
	struct sg_table *sgt;
	bool mapped;
	int ret;

	/*
	 * One mapping per attachment: the CPU-access syncs walk the mapped
	 * attachments, and a second table would escape them.
	 */
	mutex_lock(&reg->lock);
	mapped = !list_empty(&a->node);
	mutex_unlock(&reg->lock);
	if (mapped)
		return ERR_PTR(-EBUSY);

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	ret = wcpool_dmabuf_build(reg, attach->dev, sgt);
	if (ret)
		goto err_free;
	ret = dma_map_sgtable(attach->dev, sgt, dir, 0);
	if (ret)
		goto err_table;
	mutex_lock(&reg->lock);
	if (list_empty(&a->node)) {
		a->sgt = sgt;
		a->dir = dir;
		list_add(&a->node, &reg->attachments);
	}
	mutex_unlock(&reg->lock);
	atomic_long_inc(&wcpool_stats.reg_mapped);
	return sgt;

err_table:
	sg_free_table(sgt);
err_free:
	kfree(sgt);
	return ERR_PTR(ret);
}

static void wcpool_dmabuf_unmap(struct dma_buf_attachment *attach,
				struct sg_table *sgt,
				enum dma_data_direction dir)
{
	struct wcpool_reg *reg = attach->dmabuf->priv;
	struct wcpool_reg_attach *a = attach->priv;

	mutex_lock(&reg->lock);
	if (a->sgt == sgt) {
		list_del_init(&a->node);
		a->sgt = NULL;
		a->dir = DMA_NONE;
	}
	mutex_unlock(&reg->lock);
	dma_unmap_sgtable(attach->dev, sgt, dir, 0);
	sg_free_table(sgt);
	kfree(sgt);
	atomic_long_dec(&wcpool_stats.reg_mapped);
}

static void wcpool_dmabuf_release(struct dma_buf *dmabuf)
{
	wcpool_reg_free(dmabuf->priv);
}

/*
 * The CPU's view: WB pages need the streaming DMA syncs of every mapped
 * attachment; WC/UC pages are never in a cache, only the CPU's write
 * buffers need draining before the device reads.
 */
static int wcpool_dmabuf_begin_cpu(struct dma_buf *dmabuf,
				   enum dma_data_direction dir)
{
	struct wcpool_reg *reg = dmabuf->priv;
	struct wcpool_reg_attach *a;

	if (reg->pool->policy != WCPOOL_POLICY_WB) {
		/*
		 * Nothing is cached: only order the CPU's accesses after
		 * whatever told it the device was done.
		 */
		mb();
		return 0;
	}
	mutex_lock(&reg->lock);
	list_for_each_entry(a, &reg->attachments, node)
		dma_sync_sgtable_for_cpu(a->dev, a->sgt, a->dir);
	mutex_unlock(&reg->lock);
	return 0;
}

static int wcpool_dmabuf_end_cpu(struct dma_buf *dmabuf,
				 enum dma_data_direction dir)
{
	struct wcpool_reg *reg = dmabuf->priv;
	struct wcpool_reg_attach *a;

	if (reg->pool->policy != WCPOOL_POLICY_WB) {
		/* Drain the write-combining buffers. */
		wmb();
		return 0;
	}
	mutex_lock(&reg->lock);
	list_for_each_entry(a, &reg->attachments, node)
		dma_sync_sgtable_for_device(a->dev, a->sgt, a->dir);
	mutex_unlock(&reg->lock);
	return 0;
}

/*
 * Insert the 4 KiB page itself rather than returning it in vmf->page:
 * the core would map a whole 2 MiB folio with one PMD at a 2 MiB aligned
 * address (do_set_pmd), assuming the folio starts at the mapping's
 * alignment, which a registration need not.
 */
static vm_fault_t wcpool_dmabuf_fault(struct vm_fault *vmf)
{
	struct wcpool_reg *reg = vmf->vma->vm_private_data;
	u64 off = (u64)vmf->pgoff << PAGE_SHIFT;
	int ret;

	if (off >= reg->length)
		return VM_FAULT_SIGBUS;
	ret = vm_insert_page(vmf->vma, vmf->address & PAGE_MASK,
			     wcpool_reg_page(reg, off));
	switch (ret) {
	case 0:
	case -EBUSY:	/* another thread was first */
		return VM_FAULT_NOPAGE;
	case -ENOMEM:
		return VM_FAULT_OOM;
	default:
		return VM_FAULT_SIGBUS;
	}
}

static const struct vm_operations_struct wcpool_dmabuf_vm_ops = {
	.fault = wcpool_dmabuf_fault,
};

/*
 * Normal refcounted 4 KiB PTEs in a VM_MIXEDMAP mapping: pinnable (GUP
 * takes them as normal pages); the VMA holds the dma-buf file, hence the
 * registration.
 */
static int wcpool_dmabuf_mmap(struct dma_buf *dmabuf,
			      struct vm_area_struct *vma)
{
	struct wcpool_reg *reg = dmabuf->priv;

	/* VM_MAYSHARE: a shared mapping of a read-only fd has no VM_SHARED. */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	vma->vm_page_prot = wcpool_pgprot(reg->pool->policy, vma->vm_page_prot);
	wcpool_vma_set_flags(vma, VM_MIXEDMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &wcpool_dmabuf_vm_ops;
	vma->vm_private_data = reg;
	return 0;
}

static int wcpool_dmabuf_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct wcpool_reg *reg = dmabuf->priv;
	unsigned long n = reg->length >> PAGE_SHIFT, i;
	struct page **pages;
	void *vaddr;

	pages = kvmalloc_array(n, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		pages[i] = wcpool_reg_page(reg, (u64)i << PAGE_SHIFT);
	vaddr = vmap(pages, n, VM_MAP,
		     wcpool_pgprot(reg->pool->policy, PAGE_KERNEL));
	kvfree(pages);
	if (!vaddr)
		return -ENOMEM;
	iosys_map_set_vaddr(map, vaddr);
	return 0;
}

static void wcpool_dmabuf_vunmap(struct dma_buf *dmabuf,
				 struct iosys_map *map)
{
	vunmap(map->vaddr);
	iosys_map_clear(map);
}

static const struct dma_buf_ops wcpool_dmabuf_ops = {
	.attach = wcpool_dmabuf_attach,
	.detach = wcpool_dmabuf_detach,
	.map_dma_buf = wcpool_dmabuf_map,
	.unmap_dma_buf = wcpool_dmabuf_unmap,
	.release = wcpool_dmabuf_release,
	.begin_cpu_access = wcpool_dmabuf_begin_cpu,
	.end_cpu_access = wcpool_dmabuf_end_cpu,
	.mmap = wcpool_dmabuf_mmap,
	.vmap = wcpool_dmabuf_vmap,
	.vunmap = wcpool_dmabuf_vunmap,
};

/* ---- ioctls ---- */

/*
 * Walk @reg's physically contiguous runs, adjacent pages merged, none
 * longer than @max; fill @s where not NULL.  Return: the number of runs.
 */
static unsigned long wcpool_reg_walk_segs(struct wcpool_reg *reg, u64 max,
					  struct wcpool_reg_seg *s)
{
	unsigned long pfn, n = 0, last_pfn = 0;
	u64 off = 0, len, in, last_len = 0;

	while (off < reg->length) {
		in = (reg->offset + off) & (WCPOOL_HPAGE_SIZE - 1);
		len = min_t(u64, WCPOOL_HPAGE_SIZE - in, reg->length - off);
		pfn = page_to_pfn(wcpool_reg_page(reg, off));
		off += len;
		while (len) {
			if (n && last_pfn + (last_len >> PAGE_SHIFT) == pfn &&
			    last_len < max) {
				in = min(len, max - last_len);
				last_len += in;
			} else {
				in = min(len, max);
				last_pfn = pfn;
				last_len = in;
				n++;
			}
			if (s) {
				s[n - 1].pfn = last_pfn;
				s[n - 1].len = last_len;
			}
			pfn += in >> PAGE_SHIFT;
			len -= in;
		}
	}
	return n;
}

/*
 * Build @reg->segs: the contiguous runs cut at @args' max_seg_size (0:
 * 1 GiB), and check its other device constraints against them; @args
 * NULL: no constraints.
 */
static int wcpool_reg_build_segs(struct wcpool_reg *reg,
				 const struct wcpool_register *args)
{
	u64 max = args && args->max_seg_size ? args->max_seg_size :
		  WCPOOL_SEG_MAX;
	u64 limit = args && args->addr_bits && args->addr_bits < 64 ?
		    BIT_ULL(args->addr_bits) : 0;
	unsigned long n = wcpool_reg_walk_segs(reg, max, NULL), i;
	struct wcpool_reg_seg *s;

	if (args && args->max_segments && n > args->max_segments)
		return -ERANGE;
	if (n > UINT_MAX)
		return -ENOMEM;
	s = kvmalloc_array(n, sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s)
		return -ENOMEM;
	wcpool_reg_walk_segs(reg, max, s);
	reg->segs = s;
	reg->nr_segs = n;
	for (i = 0; limit && i < n; i++)
		if (PFN_PHYS(s[i].pfn) + s[i].len > limit)
			return -ERANGE;
	return 0;
}

/* Pool file offset of user address @addr inside @vma. */
static u64 wcpool_reg_vma_offset(struct vm_area_struct *vma, u64 addr)
{
	return ((u64)vma->vm_pgoff << PAGE_SHIFT) + (addr - vma->vm_start);
}

/*
 * The pool offset behind [addr, addr + len): the range may span several
 * adjacent mappings of @pool (mappings of a pool fd never merge), as long
 * as they map consecutive offsets.  Caller holds the mmap lock.
 */
static int wcpool_reg_find(struct wcpool *pool, struct mm_struct *mm,
			   u64 addr, u64 len, bool write, u64 *offset)
{
	struct vm_area_struct *vma = vma_lookup(mm, addr);
	u64 at = addr;

	/*
	 * Not mmap_assert_locked(): with CONFIG_DEBUG_VM it calls dump_mm(),
	 * which 6.1 does not export, so the module would not link there.
	 */
	lockdep_assert_held(&mm->mmap_lock);
	if (!vma)
		return -EFAULT;
	*offset = wcpool_reg_vma_offset(vma, addr);
	for (;;) {
		if (!wcpool_is_pool_file(vma->vm_file) ||
		    vma->vm_file->private_data != pool ||
		    wcpool_reg_vma_offset(vma, at) != *offset + (at - addr))
			return -ENXIO;
		if (write && (vma->vm_flags & (VM_WRITE | VM_MAYWRITE)) !=
			     (VM_WRITE | VM_MAYWRITE))
			return -EACCES;
		if (addr + len <= vma->vm_end)
			return 0;
		/* The next mapping must start where this one ends. */
		at = vma->vm_end;
		vma = vma_lookup(mm, at);
		if (!vma)
			return -ENXIO;
	}
}

/*
 * Take a reference on each huge page of @pool under @reg's range and put
 * @reg on the pool's list of registrations: -ENXIO where a page is missing.
 */
static int wcpool_reg_pin(struct wcpool *pool, struct wcpool_reg *reg)
{
	unsigned long first = reg->offset >> WCPOOL_PAGE_SHIFT_2M, i;
	struct page *head;
	int ret;

	reg->nr_heads = ((reg->offset + reg->length - 1) >>
			 WCPOOL_PAGE_SHIFT_2M) - first + 1;
	/* More pages than the module limit cannot all be grown. */
	if (reg->nr_heads > wcpool_page_limit())
		return -ENXIO;
	reg->heads = kvmalloc_array(reg->nr_heads, sizeof(*reg->heads),
				    GFP_KERNEL_ACCOUNT);
	if (!reg->heads)
		return -ENOMEM;
	ret = mutex_lock_killable(&pool->lock);
	if (ret)
		return ret;
	for (i = 0; i < reg->nr_heads; i++) {
		head = xa_load(&pool->pages, first + i);
		if (!head) {
			ret = -ENXIO;
			break;
		}
		reg->heads[i] = head;
	}
	if (!ret) {
		for (i = 0; i < reg->nr_heads; i++)
			get_page(reg->heads[i]);
		/* From here RELEASE of the range fails with EBUSY. */
		list_add(&reg->node, &pool->regs);
	}
	mutex_unlock(&pool->lock);
	return ret;
}

/*
 * Find the pool range behind [addr, addr + len) of the caller's mappings
 * and pin it.
 */
static int wcpool_reg_lookup(struct wcpool *pool, struct wcpool_reg *reg,
			     u64 addr, u64 len, bool write)
{
	struct mm_struct *mm = current->mm;
	int ret;

	if (!mm)
		return -EFAULT;
	mmap_read_lock(mm);
	ret = wcpool_reg_find(pool, mm, addr, len, write, &reg->offset);
	if (!ret) {
		reg->length = len;
		ret = wcpool_reg_pin(pool, reg);
	}
	mmap_read_unlock(mm);
	return ret;
}

static struct wcpool_reg *wcpool_reg_alloc(struct wcpool *pool)
{
	struct wcpool_reg *reg = kzalloc(sizeof(*reg), GFP_KERNEL_ACCOUNT);

	if (!reg)
		return NULL;
	INIT_LIST_HEAD(&reg->node);
	INIT_LIST_HEAD(&reg->attachments);
	mutex_init(&reg->lock);
	reg->pool = pool;
	return reg;
}

/* Free a registration that wcpool_reg_pin() did not pin. */
static void wcpool_reg_discard(struct wcpool_reg *reg)
{
	kvfree(reg->heads);
	mutex_destroy(&reg->lock);
	kfree(reg);
}

/*
 * The dma-buf of pinned @reg, its file opened with @flags (O_RDWR or
 * O_RDONLY), the device constraints of @args (NULL: none) checked.  The
 * dma-buf owns @reg; on failure @reg is freed.
 */
static struct dma_buf *wcpool_reg_export(struct wcpool_reg *reg, int flags,
					 const struct wcpool_register *args)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp);
	struct dma_buf *dmabuf;
	int ret;

	/* Registered from here: wcpool_reg_free() undoes everything. */
	wcpool_pool_get(reg->pool);
	atomic_long_inc(&wcpool_stats.regs);
	atomic_long_add(reg->length, &wcpool_stats.reg_bytes);
	atomic_long_add(reg->nr_heads, &wcpool_stats.reg_pinned);

	ret = wcpool_reg_build_segs(reg, args);
	if (ret)
		goto err_free;
	exp.ops = &wcpool_dmabuf_ops;
	exp.size = reg->length;
	exp.flags = flags;
	exp.priv = reg;
	dmabuf = dma_buf_export(&exp);
	if (!IS_ERR(dmabuf))
		return dmabuf;
	ret = PTR_ERR(dmabuf);
err_free:
	wcpool_reg_free(reg);
	return ERR_PTR(ret);
}

/**
 * wcpool_reg_export_pool - a dma-buf of the first @length bytes of @pool
 * @pool: a pool whose pages back [0, @length); the dma-buf takes a reference
 * @length: bytes, a multiple of PAGE_SIZE
 * @flags: O_RDWR or O_RDONLY, the dma-buf file's mode
 *
 * Return: the dma-buf, or an ERR_PTR.
 */
struct dma_buf *wcpool_reg_export_pool(struct wcpool *pool, u64 length,
				       int flags)
{
	struct wcpool_reg *reg = wcpool_reg_alloc(pool);
	int ret;

	if (!reg)
		return ERR_PTR(-ENOMEM);
	reg->length = length;
	ret = wcpool_reg_pin(pool, reg);
	if (ret) {
		wcpool_reg_discard(reg);
		return ERR_PTR(ret);
	}
	return wcpool_reg_export(reg, flags, NULL);
}

/**
 * wcpool_reg_register - WCPOOL_IOC_REGISTER on a writable pool fd
 * @pool: the pool
 * @args: the arguments, copied in
 * @uarg: where @args is copied back to
 *
 * Return: 0 or a negative errno (see the uapi header).
 */
long wcpool_reg_register(struct wcpool *pool, struct wcpool_register *args,
			 void __user *uarg)
{
	bool write = args->flags & WCPOOL_REG_WRITE;
	struct wcpool_reg *reg;
	struct dma_buf *dmabuf;
	u64 end;
	int fd, ret;

	if ((args->flags & ~WCPOOL_REG_FLAGS) ||
	    !(args->flags & (WCPOOL_REG_READ | WCPOOL_REG_WRITE)) ||
	    args->reserved0 || args->reserved[0] || args->reserved[1])
		return -EINVAL;
	if (!args->length || !PAGE_ALIGNED(args->addr) ||
	    !PAGE_ALIGNED(args->length))
		return -EINVAL;
	if (args->align && (!is_power_of_2(args->align) ||
			    !IS_ALIGNED(args->addr, args->align)))
		return -EINVAL;
	if (args->policy > WCPOOL_POLICY_COUNT)
		return -EINVAL;
	if ((args->addr_bits && (args->addr_bits < PAGE_SHIFT ||
				 args->addr_bits > 64)) ||
	    !PAGE_ALIGNED(args->max_seg_size) ||
	    args->max_seg_size > WCPOOL_SEG_MAX || args->reserved1)
		return -EINVAL;
	if (check_add_overflow(args->addr, args->length, &end))
		return -EOVERFLOW;
	if (end > TASK_SIZE_MAX)
		return -EFAULT;
	if (args->policy != WCPOOL_REG_POLICY_ANY &&
	    args->policy != WCPOOL_REG_POLICY(pool->policy))
		return -EACCES;

	reg = wcpool_reg_alloc(pool);
	if (!reg)
		return -ENOMEM;
	ret = wcpool_reg_lookup(pool, reg, args->addr, args->length, write);
	if (ret) {
		wcpool_reg_discard(reg);
		return ret;
	}
	dmabuf = wcpool_reg_export(reg, write ? O_RDWR : O_RDONLY, args);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	/* From here the dma-buf owns @reg: dma_buf_put() frees it. */
	fd = get_unused_fd_flags(args->flags & WCPOOL_REG_CLOEXEC ?
				 O_CLOEXEC : 0);
	if (fd < 0) {
		dma_buf_put(dmabuf);
		return fd;
	}
	args->fd = fd;
	args->nr_segments = reg->nr_segs;
	ret = wcpool_copy_out(uarg, args, sizeof(*args));
	if (ret) {
		put_unused_fd(fd);
		dma_buf_put(dmabuf);
		return ret;
	}
	fd_install(fd, dmabuf->file);
	return 0;
}

/**
 * wcpool_reg_segments - WCPOOL_IOC_SEGMENTS on any pool fd or heap node
 * @pool: the pool; NULL on a dma-heap node, for the buffers of the heaps
 * @args: the arguments, copied in
 * @uarg: where @args is copied back to
 *
 * Return: 0 or a negative errno (see the uapi header).
 */
long wcpool_reg_segments(struct wcpool *pool, struct wcpool_segments *args,
			 void __user *uarg)
{
	struct wcpool_segment __user *useg = u64_to_user_ptr(args->segments);
	struct wcpool_segment seg;
	struct wcpool_reg *reg;
	struct dma_buf *dmabuf;
	unsigned int i;
	u64 off = 0;
	long ret = 0;

	if (args->flags || args->reserved[0] || args->reserved[1])
		return -EINVAL;
	dmabuf = dma_buf_get(args->dmabuf);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	reg = dmabuf->priv;
	if (dmabuf->ops != &wcpool_dmabuf_ops ||
	    (pool ? reg->pool != pool : !reg->pool->heap)) {
		ret = -EINVAL;
		goto out;
	}
	for (i = 0; i < reg->nr_segs; i++) {
		if (i < args->count) {
			seg.offset = off;
			seg.length = reg->segs[i].len;
			if (copy_to_user(&useg[i], &seg, sizeof(seg))) {
				ret = -EFAULT;
				goto out;
			}
		}
		off += reg->segs[i].len;
	}
	args->count = reg->nr_segs;
	ret = wcpool_copy_out(uarg, args, sizeof(*args));
out:
	dma_buf_put(dmabuf);
	return ret;
}
