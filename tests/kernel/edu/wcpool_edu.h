/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * wcpool_edu - ioctls of the test-only driver for QEMU's edu device
 * (tests/kernel/edu/wcpool_edu.c), shared with the in-guest test program.
 *
 * Each open file of /dev/wcpool_edu works on one edu device (SETUP) and
 * holds at most one dma-buf attachment (ATTACH .. DETACH, or close).
 */
#ifndef _WCPOOL_EDU_H
#define _WCPOOL_EDU_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

/* struct wcpool_edu_setup.flags output bits */
#define WCPOOL_EDU_TRANSLATED	_BITUL(0)	/* behind an IOMMU DMA domain */

/*
 * WCPOOL_EDU_IOC_SETUP: select edu device @index (PCI order) for this file
 * and, where non-zero, set its DMA mask (@mask_bits, dma_set_mask_and_coherent)
 * and its max segment size (@max_seg, dma_set_max_seg_size).  Out: @flags,
 * @max_seg (the size now in force), @count (edu devices bound), @name (PCI
 * name).  EBUSY while this file has an attachment, ENODEV (no such device),
 * EIO (mask refused).
 */
struct wcpool_edu_setup {
	__u32 index;
	__u32 mask_bits;
	__u32 max_seg;
	__u32 flags;
	__u32 count;
	__u32 reserved;
	char name[32];
};

/*
 * WCPOOL_EDU_IOC_ATTACH: dma_buf_attach + dma_buf_map_attachment
 * (DMA_BIDIRECTIONAL) of dma-buf @fd for the selected device; the errno is
 * the one of the failing call.  Out: @nr_cpu (sg entries), @nr_dma (DMA
 * segments).
 */
struct wcpool_edu_attach {
	__s32 fd;
	__u32 nr_cpu;
	__u32 nr_dma;
	__u32 reserved;
};

/* One entry: a physical address (CPU side) or a DMA address and length. */
struct wcpool_edu_seg {
	__u64 addr;
	__u64 len;
};

#define WCPOOL_EDU_SEGS_CPU	0	/* sg entries: physical address, length */
#define WCPOOL_EDU_SEGS_DMA	1	/* DMA segments: bus address (IOVA) */

/*
 * WCPOOL_EDU_IOC_SEGS: the attachment's sg table.  @count in: capacity of
 * @segs; out: the number of entries (only capacity written).
 */
struct wcpool_edu_segs {
	__u32 which;
	__u32 count;
	__u64 segs;
};

#define WCPOOL_EDU_TO_DEVICE	0	/* dma-buf -> edu's buffer */
#define WCPOOL_EDU_FROM_DEVICE	1	/* edu's buffer -> dma-buf */

/*
 * WCPOOL_EDU_IOC_DMA: one transfer of edu's DMA engine between bytes
 * [@offset, @offset + @len) of the attached dma-buf and bytes [@buf_off,
 * @buf_off + @len) of edu's 4 KiB buffer, waiting for its end.  The range
 * must lie in one DMA segment, and @buf_off + @len must stay below 4096
 * (QEMU 7.2's edu rejects a transfer ending at its buffer's end).  EINVAL,
 * ENOLINK (no attachment), ENODEV (device gone), ETIMEDOUT.
 */
struct wcpool_edu_dma {
	__u64 offset;
	__u32 len;
	__u32 dir;
	__u32 buf_off;
	__u32 reserved;
};

#define WCPOOL_EDU_IOC_SETUP	_IOWR('E', 0, struct wcpool_edu_setup)
#define WCPOOL_EDU_IOC_ATTACH	_IOWR('E', 1, struct wcpool_edu_attach)
#define WCPOOL_EDU_IOC_SEGS	_IOWR('E', 2, struct wcpool_edu_segs)
#define WCPOOL_EDU_IOC_DMA	_IOW('E', 3, struct wcpool_edu_dma)
#define WCPOOL_EDU_IOC_DETACH	_IO('E', 4)

#endif /* _WCPOOL_EDU_H */
