/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * wcpool - huge page pools with a fixed cache policy behind an mmap-able fd.
 *
 * This is the whole ioctl ABI between wcpool.ko and userspace (libwcpool).
 *
 * Open /dev/wcpool for writing and issue WCPOOL_IOC_CREATE to get a pool
 * fd.  The pool fd takes WCPOOL_IOC_GROW, WCPOOL_IOC_RELEASE,
 * WCPOOL_IOC_INFO, WCPOOL_IOC_DUP, WCPOOL_IOC_REGISTER and
 * WCPOOL_IOC_SEGMENTS, and can be mmap()ed (MAP_SHARED) below its max_size.
 * A read-only pool fd (from WCPOOL_IOC_DUP) takes INFO, DUP, SEGMENTS and
 * REGISTER for device reads only.
 *
 * Extensibility: every argument struct starts with __u32 size, which the
 * caller sets to sizeof() of the struct as it knows it.  The kernel accepts
 * any size from the version 0 size (WCPOOL_*_SIZE_VER0) up to 4096: a
 * shorter struct is zero-extended, a longer one must have only zero bytes
 * past what the kernel knows (else E2BIG).  Output fields are written back
 * up to min(size, kernel's size).  Every flags and reserved field must be
 * zero unless documented otherwise (else EINVAL).
 *
 * Errors common to every ioctl:
 *   EFAULT  argument pointer not readable/writable
 *   EINVAL  size < *_SIZE_VER0 or > 4096, unknown flag bit, reserved field
 *           not zero, or a field out of its documented range
 *   E2BIG   size larger than the kernel knows and the extra bytes not zero
 *   ENOTTY  unknown ioctl for this fd (pool ioctls on /dev/wcpool and the
 *           other way round)
 *   EINTR   GROW, RELEASE, INFO, REGISTER: a fatal signal arrived while
 *           the ioctl waited for the pool or worked on it (the caller is
 *           being killed)
 */
#ifndef _UAPI_LINUX_WCPOOL_H
#define _UAPI_LINUX_WCPOOL_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define WCPOOL_IOC_MAGIC	0xB7

/*
 * The wcpool release this header belongs to: wcpool.ko's MODULE_VERSION
 * (modinfo, /sys/module/wcpool/version) and the DKMS package version.
 * libwcpool's build fails unless <wcpool.h>'s WCP_VERSION_* are the same.
 */
#define WCPOOL_VERSION_MAJOR	0
#define WCPOOL_VERSION_MINOR	4
#define WCPOOL_VERSION_PATCH	0
#define WCPOOL_VERSION		"0.4.0"

/* Cache policy of a pool, fixed at creation.  WC is the default (0). */
#define WCPOOL_POLICY_WC	0	/* write-combining */
#define WCPOOL_POLICY_UC	1	/* uncached (x86 UC-) */
#define WCPOOL_POLICY_WB	2	/* write-back (cached) */
#define WCPOOL_POLICY_COUNT	3

/* Pool page size: log2 of bytes.  0 selects the default, 2 MiB. */
#define WCPOOL_PAGE_SHIFT_2M	21

/*
 * Mapping modes (struct wcpool_create.map_mode, struct wcpool_info.map_mode).
 * PTE: normal refcounted pages: can be pinned (GUP, V4L2 USERPTR, RDMA,
 *      io_uring on kernels >= 6.5).  Every kernel.  The core maps each
 *      pool page that a mapping covers 2 MiB aligned with one PMD (as a
 *      file THP), the rest with 4 KiB PTEs.
 * PMD: 2 MiB PMD entries (huge_fault on a VM_PFNMAP mapping): fewer TLB
 *      misses, cannot be pinned.  Kernels >= 6.12 only, else EOPNOTSUPP.
 */
#define WCPOOL_MAP_PTE		0
#define WCPOOL_MAP_PMD		1

/* WCPOOL_IOC_CREATE flags */
#define WCPOOL_CREATE_CLOEXEC	_BITUL(0)	/* pool fd gets O_CLOEXEC */
#define WCPOOL_CREATE_DMA32	_BITUL(1)	/* pages below 4 GiB: addr_bits 32 */
#define WCPOOL_CREATE_FLAGS	(WCPOOL_CREATE_CLOEXEC | WCPOOL_CREATE_DMA32)

/*
 * WCPOOL_IOC_CREATE, on /dev/wcpool open for writing (O_WRONLY or O_RDWR):
 * create a pool and return its fd.  The new pool has no pages; grow it with
 * WCPOOL_IOC_GROW.
 *
 * WCPOOL_CREATE_DMA32: every page of the pool lies below 4 GiB of physical
 * address (GFP_DMA32), for devices with a 32-bit DMA mask and no IOMMU;
 * GROW fails with ENOMEM when that zone has no free 2 MiB page.  The same
 * as addr_bits 32.
 *
 *   size        in   sizeof(struct wcpool_create)
 *   flags       in   WCPOOL_CREATE_*
 *   policy      in   WCPOOL_POLICY_*
 *   page_shift  in   0 or WCPOOL_PAGE_SHIFT_2M
 *   max_size    in   largest file size of the pool: non-zero multiple of the
 *                    page size (and of contig_size), at most 2^46 bytes
 *   fd          out  the pool fd (O_RDWR); ignored on input
 *   map_mode    in   WCPOOL_MAP_*
 *   reserved    in   zero
 *
 * Memory that fits a device without an IOMMU (size
 * WCPOOL_CREATE_SIZE_VER1; zero, as a shorter struct reads, for none):
 *   addr_bits    in  0, or 24 to 64: every page of the pool lies below
 *                    2^addr_bits of physical address.  24: ZONE_DMA
 *                    (16 MiB in all); 32: ZONE_DMA32; 25 to 31: ranges
 *                    of system RAM below the limit taken with
 *                    alloc_contig_range() (kernels whose
 *                    alloc_contig_range() makes compound pages, 6.12),
 *                    else ZONE_DMA; 33 to 63: a page from the page
 *                    allocator where it lies below the limit, else
 *                    ZONE_DMA32.
 *                    With WCPOOL_CREATE_DMA32 only 0 or 32.
 *   reserved1    in  zero
 *   contig_size  in  0, or a multiple of 2 MiB up to WCPOOL_CONTIG_MAX
 *                    (1 GiB): GROW ranges are multiples of it at
 *                    multiples of it, and each such run is one physically
 *                    contiguous range, aligned to the largest power of two
 *                    that divides contig_size (a 1 GiB run is a 1 GiB page
 *                    to a device; the CPU still maps it in 2 MiB pages).
 *                    Taken with alloc_contig_range() over system RAM:
 *                    EOPNOTSUPP on kernels without compound contiguous
 *                    allocations (6.1).  Not charged to the memory cgroup
 *                    (no kernel call charges such pages), only to the
 *                    module limit.
 *
 * Errors: EINVAL (bad policy, page_shift, max_size, map_mode, flags,
 * reserved, addr_bits, contig_size), EBADF (/dev/wcpool open read-only),
 * EOPNOTSUPP (WCPOOL_MAP_PMD on a kernel without it; contig_size on a
 * kernel without compound contiguous allocations), ENOMEM, EMFILE/ENFILE
 * (no fd).
 */
struct wcpool_create {
	__u32 size;
	__u32 flags;
	__u32 policy;
	__u32 page_shift;
	__u64 max_size;
	__s32 fd;
	__u32 map_mode;
	__u64 reserved[2];
	/* WCPOOL_CREATE_SIZE_VER1 */
	__u32 addr_bits;
	__u32 reserved1;
	__u64 contig_size;
};

#define WCPOOL_CREATE_SIZE_VER0	48
#define WCPOOL_CREATE_SIZE_VER1	64	/* addr_bits, contig_size */

/* Longest physically contiguous run of a pool (contig_size). */
#define WCPOOL_CONTIG_MAX	_BITULL(30)

/*
 * WCPOOL_IOC_GROW, on a writable pool fd: back [offset, offset + length) of
 * the pool file with new zeroed huge pages.  All or nothing.
 * WCPOOL_IOC_RELEASE, on a writable pool fd: drop the pages in
 * [offset, offset + length); holes in the range are skipped.  Released
 * pages are unmapped from every process (later access: SIGBUS) and freed
 * once nothing else (a pin) references them.  Both take time in proportion
 * to the pages grown or present, not to the length of the range.  A RELEASE
 * cut short by a fatal signal (EINTR) has released some of the pages in the
 * range, each one whole, and left the others; WCPOOL_IOC_INFO tells.
 *
 *   size    in  sizeof(struct wcpool_range)
 *   flags   in  0
 *   offset  in  multiple of the pool page size
 *   length  in  non-zero multiple of the pool page size
 *
 * Errors: EINVAL (misaligned or zero length, offset + length overflows;
 * GROW on a pool with contig_size: offset or length not a multiple of
 * it), EFBIG (range ends past max_size), EBADF (read-only pool fd),
 * GROW only: EEXIST (a page in the range is already grown; nothing
 * changed), ENOSPC (module-wide limit, parameter limit_mb, reached; before
 * anything else for a range larger than the limit), ENOMEM (no contiguous
 * 2 MiB page or memcg limit; below addr_bits: no free page there, and at
 * once, before anything is allocated, when the pool would hold more than
 * the system RAM below 2^addr_bits or a contig_size run is longer than
 * the longest range of it; with contig_size: no free run).
 * RELEASE only: EBUSY (a pool page in the range holds bytes of a live
 * registration, see WCPOOL_IOC_REGISTER; nothing changed).
 */
struct wcpool_range {
	__u32 size;
	__u32 flags;
	__u64 offset;
	__u64 length;
	__u64 reserved[2];
};

#define WCPOOL_RANGE_SIZE_VER0	40

/* struct wcpool_info.flags output bits */
#define WCPOOL_INFO_READONLY	_BITUL(0)	/* this fd is read-only */
#define WCPOOL_INFO_DMA32	_BITUL(1)	/* pages below 4 GiB (addr_bits 32) */

/*
 * WCPOOL_IOC_INFO, on any pool fd.  Only size is read (flags, reserved,
 * addr_bits and contig_size must be zero on input); everything else is
 * output.
 *
 *   flags       out  WCPOOL_INFO_*
 *   policy      out  WCPOOL_POLICY_*
 *   page_shift  out  log2 of the pool page size (21)
 *   map_mode    out  WCPOOL_MAP_* in use for new mappings
 *   max_size    out  as created
 *   grown_size  out  bytes currently backed by pages
 * Size WCPOOL_INFO_SIZE_VER1:
 *   addr_bits    out  as created (32 for WCPOOL_CREATE_DMA32), 0: none
 *   contig_size  out  as created, 0: none
 */
struct wcpool_info {
	__u32 size;
	__u32 flags;
	__u32 policy;
	__u32 page_shift;
	__u32 map_mode;
	__u32 reserved0;
	__u64 max_size;
	__u64 grown_size;
	__u64 reserved[4];
	/* WCPOOL_INFO_SIZE_VER1 */
	__u32 addr_bits;
	__u32 reserved1;
	__u64 contig_size;
};

#define WCPOOL_INFO_SIZE_VER0	72
#define WCPOOL_INFO_SIZE_VER1	88	/* addr_bits, contig_size */

/* WCPOOL_IOC_DUP flags */
#define WCPOOL_DUP_READONLY	_BITUL(0)	/* required: a map-only fd */
#define WCPOOL_DUP_CLOEXEC	_BITUL(1)
#define WCPOOL_DUP_FLAGS	(WCPOOL_DUP_READONLY | WCPOOL_DUP_CLOEXEC)

/*
 * WCPOOL_IOC_DUP, on any pool fd: a new fd for the same pool that is
 * read-only: it can only be mapped without PROT_WRITE (a writable
 * MAP_SHARED mmap fails with EACCES, mprotect(PROT_WRITE) with EACCES),
 * takes WCPOOL_IOC_INFO, WCPOOL_IOC_DUP and WCPOOL_IOC_SEGMENTS, and
 * WCPOOL_IOC_REGISTER with WCPOOL_REG_READ alone (GROW and RELEASE: EBADF;
 * REGISTER with WCPOOL_REG_WRITE: EACCES).  For a writable copy use
 * dup(2).
 *
 *   flags  in   WCPOOL_DUP_READONLY, optionally WCPOOL_DUP_CLOEXEC
 *   fd     out  the new fd; ignored on input
 *
 * Errors: EINVAL (WCPOOL_DUP_READONLY missing), EMFILE/ENFILE, ENOMEM.
 */
struct wcpool_dup {
	__u32 size;
	__u32 flags;
	__s32 fd;
	__u32 reserved0;
	__u64 reserved[2];
};

#define WCPOOL_DUP_SIZE_VER0	32

/* WCPOOL_IOC_REGISTER flags: the device's access, and the new fd's. */
#define WCPOOL_REG_READ		_BITUL(0)	/* the device reads the range */
#define WCPOOL_REG_WRITE	_BITUL(1)	/* the device writes the range */
#define WCPOOL_REG_CLOEXEC	_BITUL(2)	/* the dma-buf fd gets O_CLOEXEC */
#define WCPOOL_REG_FLAGS	(WCPOOL_REG_READ | WCPOOL_REG_WRITE | \
				 WCPOOL_REG_CLOEXEC)

/* struct wcpool_register.policy: the policy the device requires. */
#define WCPOOL_REG_POLICY_ANY	0
#define WCPOOL_REG_POLICY(p)	((p) + 1)	/* WCPOOL_POLICY_* + 1 */

/*
 * WCPOOL_IOC_REGISTER, on a pool fd (a read-only one registers for device
 * reads only: WCPOOL_REG_READ without WCPOOL_REG_WRITE): pin a user range of this
 * pool's memory and export exactly that range as a dma-buf, V4L2 USERPTR
 * style: the device's constraints are checked here, not at allocation.
 *
 *   size         in   sizeof(struct wcpool_register)
 *   flags        in   WCPOOL_REG_READ and/or WCPOOL_REG_WRITE (at least
 *                     one), optionally WCPOOL_REG_CLOEXEC
 *   addr         in   start of the range in the caller's address space: it
 *                     must lie, whole, in mappings of this pool fd's pool
 *                     (one, or several adjacent ones of consecutive file
 *                     offsets)
 *   length       in   bytes, non-zero; addr and length multiples of 4 KiB
 *   align        in   0, or a power of two addr must be a multiple of
 *   policy       in   WCPOOL_REG_POLICY_ANY or WCPOOL_REG_POLICY(p): the
 *                     pool's policy must be p
 *   fd           out  the dma-buf fd (O_RDWR with WCPOOL_REG_WRITE, else
 *                     O_RDONLY)
 *   nr_segments  out  physically contiguous runs in the range (cut at
 *                     max_seg_size)
 *
 * The device's constraints, where the application knows them (size
 * WCPOOL_REGISTER_SIZE_VER1; zero, as a shorter struct reads, for none),
 * so that a buffer the device cannot use fails here rather than when the
 * device maps it:
 *   addr_bits     in  0, or 12 to 64: every page of the range lies below
 *                     2^addr_bits of physical address (a device without an
 *                     IOMMU and that DMA mask)
 *   max_segments  in  0, or the most physically contiguous runs the device
 *                     takes (1: one contiguous buffer)
 *   max_seg_size  in  0 (1 GiB), or the longest run the device takes: a
 *                     multiple of 4 KiB up to 1 GiB; runs are cut at it,
 *                     and nr_segments and WCPOOL_IOC_SEGMENTS count them so
 *   reserved1     in  zero
 *
 * Pages that do not meet the constraints move (the kernel's README,
 * "Moves at REGISTER"): the backing of every 2 MiB pool page the range
 * touches is copied whole onto pages that meet them (max_segments: one
 * physically contiguous run, on kernels that make runs, i.e. where
 * contig_size works; addr_bits alone: each page at or above the limit to
 * one below it), swapped in the pool and every user mapping of those
 * pages is zapped, so they refault onto the new pages at the same
 * addresses and offsets; the bytes of the range and of its neighbours in
 * the same 2 MiB pages are kept.  Only pages that nothing else holds
 * move: not while another registration covers one of them, a GUP user
 * pins one (V4L2 USERPTR, io_uring fixed buffers, RDMA) or holds a
 * reference (a pipe from vmsplice): then ERANGE, nothing moved.  No move
 * is tried, and the range fails with ERANGE as it is, when max_seg_size
 * would cut even one run into more than max_segments, for addr_bits below
 * 24, in pools of contiguous runs (contig_size), and for max_segments
 * over more than one 2 MiB page where the kernel makes no runs (6.1).
 * A move costs a 2 MiB allocation, conversion and copy per page (the
 * copy reads the old page through its WC/UC kernel mapping), one zap
 * and TLB flush per page, the pool's page faults waiting while the
 * pages are copied, and refaults afterwards; the new pages count against
 * limit_mb until the old ones are freed.  Other errors of a move: ENOMEM
 * (no pages that meet the constraints, or past limit_mb), EINTR (fatal
 * signal; nothing moved), ENXIO (a page was released meanwhile).
 *
 * The pages stay pinned until the dma-buf is released (last fd closed,
 * last mapping of it gone, last importer detached): RELEASE of a range that
 * holds registered pages fails with EBUSY.  The dma-buf may outlive the
 * pool fd and the mapping (it holds the pool).  fd and nr_segments are
 * ignored on input.  Both map modes can be registered (the pool's pages
 * are looked up directly, not through GUP).
 *
 * The dma-buf: mmap() (MAP_SHARED only, else EINVAL; writable only with
 * WCPOOL_REG_WRITE) gives 4 KiB PTEs of the pool pages with the pool's
 * cache policy, pinnable by GUP; an importer's vmap has the pool's policy
 * (never a cacheable alias of a WC/UC page); DMA_BUF_IOCTL_SYNC syncs
 * WB pools for the mapped importers and orders WC/UC accesses.
 *
 * An importer's map (dma_buf_map_attachment) gets the physically
 * contiguous runs cut to fit its device: no sg entry longer than
 * dma_get_max_seg_size() (nor 1 GiB) or across dma_get_seg_boundary().
 * A device without IOMMU translation (no IOMMU, or an identity domain)
 * must reach every page with its DMA mask and bus limit.  Where it cannot,
 * the pages move at map (the kernel's README, "Moves at map"): those
 * beyond the device's reach are copied below it exactly as a move at
 * REGISTER copies them (same addresses and offsets for every user mapping
 * of the pool and of the dma-buf, which refault; neighbours' bytes kept;
 * REGISTER's max_seg_size, max_segments and addr_bits still met), and
 * they stay there for every later importer.  A move at map is made only
 * when nothing else holds the pages: no other importer has the dma-buf
 * mapped, no importer has it vmapped, no other registration covers the
 * same 2 MiB pages, no GUP pin or pipe reference; never for dma-heap
 * buffers and contiguous (contig_size) pools.  Where no move is made or
 * it fails, the map fails before anything is DMA-mapped, with one
 * rate-limited kernel log line naming the device, never a swiotlb bounce
 * copy of the pages:
 *   ERANGE      a page lies beyond the device's DMA mask or bus limit and
 *               cannot move (see above), or the device has no DMA mask
 *   ENOMEM      a move found no page below the device's limit (on 6.1,
 *               limits between 25 and 31 bits are met from ZONE_DMA only)
 *               or would pass limit_mb
 *   EINTR       a move was interrupted by a fatal signal (nothing moved)
 *   EOPNOTSUPP  the device must bounce through swiotlb (forced bouncing,
 *               e.g. memory encryption)
 * A device behind an IOMMU DMA domain gets IOVAs inside its mask and
 * never makes pages move.  WC and UC maps skip CPU cache maintenance
 * (DMA_ATTR_SKIP_CPU_SYNC: their pages are never cached).  Other map
 * errors: EBUSY (this attachment is mapped already), ENOMEM, and
 * whatever dma_map_sgtable() returns.
 *
 * Errors: EINVAL (flags, zero or misaligned addr/length, addr not a
 * multiple of align, align not a power of two, bad policy value,
 * addr_bits or max_seg_size out of range, reserved), ERANGE (the range
 * does not meet the constraints and cannot move, see above: a page at or
 * above 2^addr_bits, or more than max_segments runs), EOVERFLOW (addr +
 * length wraps), EFAULT (addr
 * not mapped in the caller), ENXIO (a mapping in the range is not one of this pool,
 * the mappings leave a gap or do not map consecutive offsets, or the
 * range covers pages that are not grown),
 * EACCES (policy differs from the one required, or WCPOOL_REG_WRITE
 * through a mapping without PROT_WRITE or on a read-only pool fd),
 * ENOMEM (also: a move found no pages that fit), EINTR (a move was
 * interrupted), EMFILE/ENFILE.
 */
struct wcpool_register {
	__u32 size;
	__u32 flags;
	__u64 addr;
	__u64 length;
	__u64 align;
	__u32 policy;
	__s32 fd;
	__u32 nr_segments;
	__u32 reserved0;
	__u64 reserved[2];
	/* WCPOOL_REGISTER_SIZE_VER1 */
	__u32 addr_bits;
	__u32 max_segments;
	__u32 max_seg_size;
	__u32 reserved1;
};

#define WCPOOL_REGISTER_SIZE_VER0	64
#define WCPOOL_REGISTER_SIZE_VER1	80	/* device constraints */

/* One physically contiguous run of a registration. */
struct wcpool_segment {
	__u64 offset;	/* bytes from the start of the registered range */
	__u64 length;
};

/*
 * WCPOOL_IOC_SEGMENTS, on any pool fd: the contiguous runs of a dma-buf
 * that WCPOOL_IOC_REGISTER made from this pool, as (offset, length) pairs
 * relative to the registered range.  Physical and bus addresses are never
 * shown.
 *
 *   size      in      sizeof(struct wcpool_segments)
 *   flags     in      0
 *   dmabuf    in      the dma-buf fd
 *   count     in/out  in: capacity of the array at segments; out: the
 *                     number of segments (also when larger than the
 *                     capacity: then only capacity entries are written)
 *   segments  in      user pointer to struct wcpool_segment[count]
 *
 * Errors: EINVAL (flags, reserved, dmabuf not a dma-buf or not a wcpool
 * registration of this pool), EBADF (dmabuf not an fd), EFAULT.
 */
struct wcpool_segments {
	__u32 size;
	__u32 flags;
	__s32 dmabuf;
	__u32 count;
	__u64 segments;
	__u64 reserved[2];
};

#define WCPOOL_SEGMENTS_SIZE_VER0	40

#define WCPOOL_IOC_CREATE	_IOWR(WCPOOL_IOC_MAGIC, 0x00, struct wcpool_create)
#define WCPOOL_IOC_GROW		_IOW(WCPOOL_IOC_MAGIC, 0x01, struct wcpool_range)
#define WCPOOL_IOC_RELEASE	_IOW(WCPOOL_IOC_MAGIC, 0x02, struct wcpool_range)
#define WCPOOL_IOC_INFO		_IOWR(WCPOOL_IOC_MAGIC, 0x03, struct wcpool_info)
#define WCPOOL_IOC_DUP		_IOWR(WCPOOL_IOC_MAGIC, 0x04, struct wcpool_dup)
#define WCPOOL_IOC_REGISTER	_IOWR(WCPOOL_IOC_MAGIC, 0x05, struct wcpool_register)
#define WCPOOL_IOC_SEGMENTS	_IOWR(WCPOOL_IOC_MAGIC, 0x06, struct wcpool_segments)

/*
 * mmap() of a pool fd: MAP_SHARED only (MAP_PRIVATE: EINVAL); the file
 * offset must be a multiple of the pool page size (EINVAL); the range must
 * end at or below max_size (ENXIO).  Like a sparse file, the range may
 * cover pages that are not grown: touching one raises SIGBUS until it is
 * grown (so is touching a released page).  The mapping has the pool's
 * cache policy.  A writable mapping of a read-only fd: EACCES.
 * Pages stay valid while mapped even after every pool fd is closed.
 * WCPOOL_MAP_PTE mappings can be pinned (GUP); WCPOOL_MAP_PMD mappings are
 * VM_PFNMAP: GUP users (vmsplice, O_DIRECT, V4L2 USERPTR) get EFAULT and
 * madvise(MADV_DONTNEED) EINVAL.  On 6.12+ every pool mapping gets a 2 MiB
 * aligned address unless MAP_FIXED says otherwise; an unaligned PMD-mode
 * mapping falls back to 4 KiB entries.
 */

#endif /* _UAPI_LINUX_WCPOOL_H */
