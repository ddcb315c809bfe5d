// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool mappings of a pool fd.
 *
 * PTE mode (every kernel): the fault handler hands out refcounted 4 KiB
 * sub-pages of the pool's huge pages through vmf->page, as udmabuf does.
 * The PTEs are normal ones, so GUP can pin the memory, and every mapping
 * holds a page reference: the pages outlive the pool fd while mapped.
 * Where the VMA covers a whole pool page 2 MiB aligned, the core maps the
 * compound page with one PMD instead (finish_fault -> do_set_pmd, as for a
 * file THP): just as pinnable, and split back to PTEs when needed.
 *
 * PMD mode (kernels with huge pfnmaps, 6.12+): a VM_PFNMAP mapping whose
 * huge_fault handler inserts whole 2 MiB pages as special PMD entries.
 * Fewer TLB misses; GUP cannot pin it; mappings hold no page references,
 * which is safe because RELEASE zaps every mapping before dropping a page
 * and the pool (whose files the VMAs hold) outlives every mapping.  A
 * mapping that is not 2 MiB aligned falls back to 4 KiB special PTEs.
 *
 * The user PTEs get the pool's policy through vm_page_prot; the linear map
 * was converted to the same policy before the page was first handed out,
 * so no page is ever mapped with two cache types (for PFN mappings the PAT
 * code also takes the type from the page's memtype, which is the same).
 */
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/pfn_t.h>

#include "wcpool.h"

static void wcpool_vm_open(struct vm_area_struct *vma)
{
	atomic_long_inc(&wcpool_stats.vmas);
}

static void wcpool_vm_close(struct vm_area_struct *vma)
{
	atomic_long_dec(&wcpool_stats.vmas);
}

static vm_fault_t wcpool_vm_fault(struct vm_fault *vmf)
{
	struct wcpool *pool = vmf->vma->vm_file->private_data;
	struct page *head, *page;

	mutex_lock(&pool->lock);
	head = xa_load(&pool->pages, vmf->pgoff >> WCPOOL_ORDER);
	if (!head) {
		mutex_unlock(&pool->lock);
		return VM_FAULT_SIGBUS;
	}
	page = head + (vmf->pgoff & (WCPOOL_HPAGE_PAGES - 1));
	get_page(page);
	/*
	 * Locked until the PTE is in place, so that RELEASE, which erases
	 * the page under pool->lock and then takes the page lock, always
	 * zaps the PTE we are about to install.
	 */
	lock_page(page);
	mutex_unlock(&pool->lock);
	vmf->page = page;
	return VM_FAULT_LOCKED;
}

static const struct vm_operations_struct wcpool_vm_ops = {
	.open = wcpool_vm_open,
	.close = wcpool_vm_close,
	.fault = wcpool_vm_fault,
};

/**
 * wcpool_pgprot - @prot with the cache type of a pool policy
 * @policy: WCPOOL_POLICY_*
 * @prot: the protection to start from (a VMA's, or PAGE_KERNEL)
 *
 * Return: @prot, write-combining or uncached for WC and UC pools.
 */
pgprot_t wcpool_pgprot(u32 policy, pgprot_t prot)
{
	switch (policy) {
	case WCPOOL_POLICY_WC:
		return pgprot_writecombine(prot);
	case WCPOOL_POLICY_UC:
		return pgprot_noncached(prot);
	default:
		return prot;
	}
}

/**
 * wcpool_vma_set_flags - set VMA flags on kernels before and after 6.3
 * @vma: the mapping
 * @flags: VM_* flags to add
 */
void wcpool_vma_set_flags(struct vm_area_struct *vma, unsigned long flags)
{
#ifdef WCPOOL_HAVE_VM_FLAGS_SET
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

#if defined(CONFIG_ARCH_SUPPORTS_PMD_PFNMAP) && defined(WCPOOL_HAVE_HUGE_FAULT_ORDER)
#define WCPOOL_PMD_PFNMAP 1

/* Look up the pool page backing @pgoff; called with pool->lock held. */
static struct page *wcpool_vm_lookup(struct wcpool *pool, pgoff_t pgoff)
{
	lockdep_assert_held(&pool->lock);
	return xa_load(&pool->pages, pgoff >> WCPOOL_ORDER);
}

/*
 * The fault handlers insert under pool->lock, so RELEASE (erase under the
 * lock, then zap) never leaves a mapping of a released page behind.
 */
static vm_fault_t wcpool_vm_pfn_fault(struct vm_fault *vmf)
{
	struct wcpool *pool = vmf->vma->vm_file->private_data;
	struct page *head;
	vm_fault_t ret = VM_FAULT_SIGBUS;

	mutex_lock(&pool->lock);
	head = wcpool_vm_lookup(pool, vmf->pgoff);
	if (head)
		ret = vmf_insert_pfn(vmf->vma, vmf->address,
				     page_to_pfn(head) +
				     (vmf->pgoff & (WCPOOL_HPAGE_PAGES - 1)));
	mutex_unlock(&pool->lock);
	return ret;
}

static vm_fault_t wcpool_vm_huge_fault(struct vm_fault *vmf,
				       unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;
	struct wcpool *pool = vma->vm_file->private_data;
	unsigned long haddr = vmf->address & PMD_MASK;
	pgoff_t pgoff;
	struct page *head;
	vm_fault_t ret = VM_FAULT_SIGBUS;

	if (order != PMD_ORDER || haddr < vma->vm_start ||
	    haddr + PMD_SIZE > vma->vm_end)
		return VM_FAULT_FALLBACK;
	pgoff = vmf->pgoff - ((vmf->address - haddr) >> PAGE_SHIFT);
	if (!IS_ALIGNED(pgoff, WCPOOL_HPAGE_PAGES))
		return VM_FAULT_FALLBACK;

	mutex_lock(&pool->lock);
	head = wcpool_vm_lookup(pool, pgoff);
	if (head) {
		ret = vmf_insert_pfn_pmd(vmf, pfn_to_pfn_t(page_to_pfn(head)),
					 vmf->flags & FAULT_FLAG_WRITE);
		if (ret == VM_FAULT_NOPAGE)
			atomic_long_inc(&wcpool_stats.pmd_maps);
	}
	mutex_unlock(&pool->lock);
	return ret;
}

static const struct vm_operations_struct wcpool_vm_pmd_ops = {
	.open = wcpool_vm_open,
	.close = wcpool_vm_close,
	.fault = wcpool_vm_pfn_fault,
	.huge_fault = wcpool_vm_huge_fault,
};

/* 2 MiB aligned addresses for every pool mapping, as for THP files. */
unsigned long wcpool_get_unmapped_area(struct file *file, unsigned long addr,
				       unsigned long len, unsigned long pgoff,
				       unsigned long flags)
{
	return thp_get_unmapped_area(file, addr, len, pgoff, flags);
}

bool wcpool_mmap_pmd_supported(void)
{
	return true;
}
#else
bool wcpool_mmap_pmd_supported(void)
{
	return false;
}
#endif

/**
 * wcpool_mmap - mmap of a pool fd
 * @file: the pool fd
 * @vma: the new mapping
 *
 * Only shared mappings inside max_size, starting on a pool page boundary.
 * Like a sparse file, a mapping may cover pages that are not grown (yet):
 * touching one raises SIGBUS, and a later GROW makes it accessible.  This
 * lets an importer map the whole pool once.
 *
 * A read-only fd arrives here without VM_MAYWRITE (cleared by the core for
 * a shared mapping of a file not open for writing), so it can never become
 * writable.
 *
 * Return: 0 or a negative errno.
 */
int wcpool_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct wcpool *pool = file->private_data;

	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (!IS_ALIGNED(vma->vm_pgoff, WCPOOL_HPAGE_PAGES))
		return -EINVAL;
	/* The core has checked that vm_pgoff + pages does not overflow. */
	if (vma->vm_pgoff + vma_pages(vma) > pool->max_size >> PAGE_SHIFT)
		return -ENXIO;

	vma->vm_page_prot = wcpool_pgprot(pool->policy, vma->vm_page_prot);
#ifdef WCPOOL_PMD_PFNMAP
	if (pool->map_mode == WCPOOL_MAP_PMD) {
		/* VM_HUGEPAGE: huge_fault is called with THP in madvise mode */
		wcpool_vma_set_flags(vma, VM_PFNMAP | VM_DONTEXPAND |
				     VM_DONTDUMP | VM_HUGEPAGE);
		vma->vm_ops = &wcpool_vm_pmd_ops;
		wcpool_vm_open(vma);
		return 0;
	}
#endif
	wcpool_vma_set_flags(vma, VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &wcpool_vm_ops;
	wcpool_vm_open(vma);
	return 0;
}
