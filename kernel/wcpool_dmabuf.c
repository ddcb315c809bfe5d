// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool registrations as dma-bufs: the exporter callbacks, the export
 * and the release that ends a registration.  The dma-buf (exp_name
 * "wcpool") owns its registration: the pinned pages, a pool reference and
 * the place on the pool's list of pinned spans, all dropped when the
 * dma-buf is released (last fd, mapping and importer gone), so it
 * outlives the pool fd and the user's mapping, and process death frees it
 * through the files.
 *
 * Every CPU mapping the exporter makes has the pool's policy: vmap with
 * pgprot_writecombine/noncached(PAGE_KERNEL) (PAGE_KERNEL for WB), mmap
 * with the pool's vm_page_prot.  Never a cacheable alias of a WC/UC page.
 */
#include <linux/dma-buf.h>
#include <linux/dma-direct.h>
#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/iosys-map.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/swiotlb.h>
#include <linux/vmalloc.h>

#include "wcpool_reg.h"

MODULE_IMPORT_NS(DMA_BUF);

struct wcpool_reg_attach {
	struct list_head node;
	struct device *dev;
	struct sg_table *sgt;
	enum dma_data_direction dir;
};

/*
 * The end of a registration, when its dma-buf is released (or its export
 * failed): everything wcpool_dmabuf_export() and wcpool_reg_pin() took.
 */
static void wcpool_reg_free(struct wcpool_reg *reg)
{
	struct wcpool *pool = reg->pool;

	/* dma-buf releases only after every importer detached. */
	WARN_ON_ONCE(!list_empty(&reg->attachments));
	atomic_long_sub(reg->nr_heads, &wcpool_stats.reg_pinned);
	atomic_long_sub(reg->span.length, &wcpool_stats.reg_bytes);
	atomic_long_dec(&wcpool_stats.regs);
	wcpool_reg_unpin(reg);
	kvfree(reg->segs);
	mutex_destroy(&reg->lock);
	kfree(reg);
	/* Last: this may free the pool and its pages. */
	wcpool_pool_put(pool);
}

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
	wcpool_total_add(attaches, 1);
	return 0;
}

static void wcpool_dmabuf_detach(struct dma_buf *dmabuf,
				 struct dma_buf_attachment *attach)
{
	kfree(attach->priv);
	attach->priv = NULL;
	wcpool_total_add(detaches, 1);
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
 * The physical address below which @dev, which has no IOMMU translation,
 * reaches memory: its DMA mask and bus limit as a CPU address.  0: all.
 */
static u64 wcpool_dmabuf_reach(struct device *dev)
{
	u64 mask = *dev->dma_mask;
	phys_addr_t last;

	if (dev->bus_dma_limit)
		mask = min_t(u64, mask, dev->bus_dma_limit);
	last = dma_to_phys(dev, mask);
	return last == (phys_addr_t)-1 ? 0 : (u64)last + 1;
}

/*
 * @dev has no IOMMU translation and cannot reach some of @reg's pages:
 * move them where it can (wcpool_reg_move()), unless another importer has
 * them mapped or the dma-buf is vmapped (their addresses cannot change
 * under them).  Return: 0 (moved) or -ERANGE, -ENOMEM, -EINTR, -ENXIO.
 */
static int wcpool_dmabuf_move(struct wcpool_reg *reg, struct device *dev)
{
	long ret;

	lockdep_assert_held(&reg->lock);
	if (!list_empty(&reg->attachments) || reg->vmaps)
		return -ERANGE;
	ret = wcpool_reg_move(reg, wcpool_dmabuf_reach(dev));
	return ret > 0 ? 0 : ret ? ret : -ERANGE;
}

/*
 * The sg table of @reg for @dev, before anything is DMA-mapped.  Where the
 * device cannot reach the pages without an IOMMU (dma-direct would WARN,
 * or bounce the WC/UC pages through a cached swiotlb buffer) they move
 * where it can; where they cannot move, the map is refused with at most
 * one rate-limited line naming the device and the reason.  Caller holds
 * @reg's lock.
 */
static int wcpool_dmabuf_build(struct wcpool_reg *reg, struct device *dev,
			       struct sg_table *sgt)
{
	bool direct = !wcpool_dmabuf_translated(dev);
	long n;
	int ret;

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
		ret = wcpool_dmabuf_move(reg, dev);
		n = ret ? ret : wcpool_dmabuf_walk(reg, dev, direct, NULL);
	}
	if (n < 0) {
		dev_warn_ratelimited(dev, "cannot map a wcpool dma-buf without an IOMMU: pages beyond DMA mask %#llx, bus limit %#llx, not moved (%ld)\n",
				     (u64)*dev->dma_mask, (u64)dev->bus_dma_limit,
				     n);
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

/*
 * WC and UC pages are never in a CPU cache: their DMA mappings need no
 * cache maintenance (as the kernel's uncached system heap maps them), and
 * several importers may map them at once without DMA-API debug's
 * overlapping-cacheline complaint.  WB pages get the usual syncs.
 */
static unsigned long wcpool_dmabuf_attrs(struct wcpool_reg *reg)
{
	return reg->pool->policy == WCPOOL_POLICY_WB ? 0 :
	       DMA_ATTR_SKIP_CPU_SYNC;
}

static struct sg_table *wcpool_dmabuf_map(struct dma_buf_attachment *attach,
					  enum dma_data_direction dir)
{
	struct wcpool_reg *reg = attach->dmabuf->priv;
	struct wcpool_reg_attach *a = attach->priv;
	struct sg_table *sgt;
	int ret;

	/*
	 * Under the registration's lock from the table's first entry to its
	 * place on the list: a move for another importer must see it mapped.
	 * One mapping per attachment: the CPU-access syncs walk the mapped
	 * attachments, and a second table would escape them.
	 */
	mutex_lock(&reg->lock);
	if (!list_empty(&a->node)) {
		ret = -EBUSY;
		goto err_unlock;
	}
	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt) {
		ret = -ENOMEM;
		goto err_unlock;
	}
	ret = wcpool_dmabuf_build(reg, attach->dev, sgt);
	if (ret)
		goto err_free;
	ret = dma_map_sgtable(attach->dev, sgt, dir, wcpool_dmabuf_attrs(reg));
	if (ret)
		goto err_table;
	a->sgt = sgt;
	a->dir = dir;
	list_add(&a->node, &reg->attachments);
	mutex_unlock(&reg->lock);
	atomic_long_inc(&wcpool_stats.reg_mapped);
	wcpool_total_add(maps, 1);
	return sgt;

err_table:
	sg_free_table(sgt);
err_free:
	kfree(sgt);
err_unlock:
	mutex_unlock(&reg->lock);
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
	dma_unmap_sgtable(attach->dev, sgt, dir, wcpool_dmabuf_attrs(reg));
	sg_free_table(sgt);
	kfree(sgt);
	atomic_long_dec(&wcpool_stats.reg_mapped);
	wcpool_total_add(unmaps, 1);
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
	unsigned long addr = vmf->address & PAGE_MASK;
	struct page *page;
	vm_fault_t vmret;
	int ret;

	if (off >= reg->span.length)
		return VM_FAULT_SIGBUS;
	/* A move at map replaces the pages under this lock. */
	mutex_lock(&reg->lock);
	page = wcpool_reg_page(reg, off);
	if (vmf->vma->vm_flags & VM_PFNMAP) {
		vmret = vmf_insert_pfn(vmf->vma, addr, page_to_pfn(page));
		mutex_unlock(&reg->lock);
		return vmret;
	}
	ret = vm_insert_page(vmf->vma, addr, page);
	mutex_unlock(&reg->lock);
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
 * Map the part of @reg that @vma covers at once, run by run, as PFN
 * entries (remap_pfn_range() keeps the pages' tracked memtype, which is
 * the policy's).
 */
static int wcpool_dmabuf_remap(struct wcpool_reg *reg,
			       struct vm_area_struct *vma)
{
	u64 skip = (u64)vma->vm_pgoff << PAGE_SHIFT, n;
	unsigned long addr = vma->vm_start;
	unsigned int i;
	int ret;

	for (i = 0; i < reg->nr_segs && addr < vma->vm_end; i++) {
		if (skip >= reg->segs[i].len) {
			skip -= reg->segs[i].len;
			continue;
		}
		n = min_t(u64, reg->segs[i].len - skip, vma->vm_end - addr);
		ret = remap_pfn_range(vma, addr, reg->segs[i].pfn +
				      (skip >> PAGE_SHIFT), n,
				      vma->vm_page_prot);
		if (ret)
			return ret;
		addr += n;
		skip = 0;
	}
	return 0;
}

/*
 * Normal refcounted 4 KiB PTEs in a VM_MIXEDMAP mapping: pinnable (GUP
 * takes them as normal pages); the VMA holds the dma-buf file, hence the
 * registration.  Buffers of the shared heap nodes are mapped whole at
 * mmap time with PFN entries instead (VM_PFNMAP, not pinnable, as the
 * kernel's system heap's): their 4 KiB pages share a 2 MiB page with
 * other buffers, and a pin that outlived the buffer would reach the next
 * owner's bytes.
 */
static int wcpool_dmabuf_mmap(struct dma_buf *dmabuf,
			      struct vm_area_struct *vma)
{
	struct wcpool_reg *reg = dmabuf->priv;
	bool pfnmap = reg->pool->pfnmap;
	int ret;

	/* VM_MAYSHARE: a shared mapping of a read-only fd has no VM_SHARED. */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	vma->vm_page_prot = wcpool_pgprot(reg->pool->policy, vma->vm_page_prot);
	wcpool_vma_set_flags(vma, (pfnmap ? VM_PFNMAP : VM_MIXEDMAP) |
				  VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &wcpool_dmabuf_vm_ops;
	vma->vm_private_data = reg;
	if (!pfnmap)
		return 0;
	mutex_lock(&reg->lock);
	ret = wcpool_dmabuf_remap(reg, vma);
	mutex_unlock(&reg->lock);
	return ret;
}

static int wcpool_dmabuf_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct wcpool_reg *reg = dmabuf->priv;
	unsigned long n = reg->span.length >> PAGE_SHIFT, i;
	struct page **pages;
	void *vaddr;

	pages = kvmalloc_array(n, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	/* Counted under the lock: no move while a vmap lives. */
	mutex_lock(&reg->lock);
	for (i = 0; i < n; i++)
		pages[i] = wcpool_reg_page(reg, (u64)i << PAGE_SHIFT);
	vaddr = vmap(pages, n, VM_MAP,
		     wcpool_pgprot(reg->pool->policy, PAGE_KERNEL));
	if (vaddr)
		reg->vmaps++;
	mutex_unlock(&reg->lock);
	kvfree(pages);
	if (!vaddr)
		return -ENOMEM;
	iosys_map_set_vaddr(map, vaddr);
	wcpool_total_add(vmaps, 1);
	return 0;
}

static void wcpool_dmabuf_vunmap(struct dma_buf *dmabuf,
				 struct iosys_map *map)
{
	struct wcpool_reg *reg = dmabuf->priv;

	vunmap(map->vaddr);
	mutex_lock(&reg->lock);
	reg->vmaps--;
	mutex_unlock(&reg->lock);
	iosys_map_clear(map);
	wcpool_total_add(vunmaps, 1);
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

/**
 * wcpool_dmabuf_export - the dma-buf of a pinned registration
 * @reg: the registration, pinned by wcpool_reg_pin(), its device
 *	constraints (checked here) set
 * @flags: O_RDWR or O_RDONLY, the dma-buf file's mode
 *
 * The dma-buf owns @reg and a pool reference; on failure @reg is freed.
 *
 * Return: the dma-buf or an ERR_PTR.
 */
struct dma_buf *wcpool_dmabuf_export(struct wcpool_reg *reg, int flags)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp);
	struct dma_buf *dmabuf;
	int ret;

	/* Registered from here: wcpool_reg_free() undoes everything. */
	wcpool_pool_get(reg->pool);
	atomic_long_inc(&wcpool_stats.regs);
	atomic_long_add(reg->span.length, &wcpool_stats.reg_bytes);
	atomic_long_add(reg->nr_heads, &wcpool_stats.reg_pinned);
	wcpool_total_add(pins, reg->nr_heads);

	ret = wcpool_reg_build_segs(reg);
	if (ret)
		goto err_free;
	exp.ops = &wcpool_dmabuf_ops;
	exp.size = reg->span.length;
	exp.flags = flags;
	exp.priv = reg;
	dmabuf = dma_buf_export(&exp);
	if (!IS_ERR(dmabuf)) {
		reg->dmabuf = dmabuf;
		wcpool_total_add(dmabuf_exports, 1);
		return dmabuf;
	}
	ret = PTR_ERR(dmabuf);
err_free:
	wcpool_reg_free(reg);
	return ERR_PTR(ret);
}

/**
 * wcpool_dmabuf_reg - the registration behind a dma-buf
 * @dmabuf: any dma-buf
 *
 * Return: the registration, or NULL when @dmabuf is not one of wcpool's.
 */
struct wcpool_reg *wcpool_dmabuf_reg(struct dma_buf *dmabuf)
{
	return dmabuf->ops == &wcpool_dmabuf_ops ? dmabuf->priv : NULL;
}
