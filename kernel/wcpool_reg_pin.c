// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool registrations, first step: the pool range behind a user address
 * range, and a reference on every huge page under it.
 *
 * The range is found through the caller's VMAs (which must be mappings of
 * this pool) and translated to pool offsets; the pool's own pages back it,
 * so this works in PTE and PMD mode alike (no GUP).  Pinned, the range is
 * on the pool's list of pinned spans, which makes RELEASE of its pages
 * fail with EBUSY.
 */
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "wcpool_reg.h"

/**
 * wcpool_reg_alloc - a registration of @pool, not pinned yet
 * @pool: the pool; no reference is taken until the export
 *
 * Return: the registration or NULL.
 */
struct wcpool_reg *wcpool_reg_alloc(struct wcpool *pool)
{
	struct wcpool_reg *reg = kzalloc(sizeof(*reg), GFP_KERNEL_ACCOUNT);

	if (!reg)
		return NULL;
	INIT_LIST_HEAD(&reg->span.node);
	INIT_LIST_HEAD(&reg->attachments);
	mutex_init(&reg->lock);
	reg->pool = pool;
	return reg;
}

/**
 * wcpool_reg_discard - free a registration that wcpool_reg_pin() did not pin
 * @reg: the registration
 */
void wcpool_reg_discard(struct wcpool_reg *reg)
{
	kvfree(reg->heads);
	mutex_destroy(&reg->lock);
	kfree(reg);
}

/**
 * wcpool_reg_pin - take a reference on each huge page under @reg's span
 * @reg: the registration, its span set
 *
 * Return: 0, -ENXIO where a page is missing, -ENOMEM or -EINTR.
 */
int wcpool_reg_pin(struct wcpool_reg *reg)
{
	u64 first = reg->span.offset >> WCPOOL_PAGE_SHIFT_2M;

	reg->nr_heads = ((reg->span.offset + reg->span.length - 1) >>
			 WCPOOL_PAGE_SHIFT_2M) - first + 1;
	/* More pages than the module limit cannot all be grown. */
	if (reg->nr_heads > wcpool_page_limit())
		return -ENXIO;
	reg->heads = kvmalloc_array(reg->nr_heads, sizeof(*reg->heads),
				    GFP_KERNEL_ACCOUNT);
	if (!reg->heads)
		return -ENOMEM;
	return wcpool_pool_pin(reg->pool, &reg->span, reg->heads);
}

/**
 * wcpool_reg_unpin - undo wcpool_reg_pin()
 * @reg: a pinned registration
 */
void wcpool_reg_unpin(struct wcpool_reg *reg)
{
	unsigned long i;

	wcpool_pool_unpin(reg->pool, &reg->span);
	for (i = 0; i < reg->nr_heads; i++)
		put_page(reg->heads[i]);
	kvfree(reg->heads);
	reg->heads = NULL;
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

/**
 * wcpool_reg_lookup - find and pin the pool range behind a user range
 * @reg: the registration
 * @addr: start of the range in the caller's address space
 * @len: bytes
 * @write: the device writes: every mapping must be writable
 *
 * Takes the mmap lock, then (in wcpool_pool_pin()) the pool lock.
 *
 * Return: 0 or a negative errno (see WCPOOL_IOC_REGISTER).
 */
int wcpool_reg_lookup(struct wcpool_reg *reg, u64 addr, u64 len, bool write)
{
	struct mm_struct *mm = current->mm;
	int ret;

	if (!mm)
		return -EFAULT;
	mmap_read_lock(mm);
	ret = wcpool_reg_find(reg->pool, mm, addr, len, write,
			      &reg->span.offset);
	if (!ret) {
		reg->span.length = len;
		ret = wcpool_reg_pin(reg);
	}
	mmap_read_unlock(mm);
	return ret;
}
