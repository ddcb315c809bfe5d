/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wcpool registrations: what the files that make and serve them share.
 *
 *   wcpool_reg.c       WCPOOL_IOC_REGISTER
 *   wcpool_reg_heap.c  the registration of a dma-heap buffer
 *   wcpool_reg_pin.c   user address -> pool range, and pinning its pages
 *   wcpool_reg_seg.c   the physically contiguous runs, device constraints
 *   wcpool_move.c      moving a range's backing to pages that meet them
 *   wcpool_dmabuf.c    the dma-buf: exporter callbacks, export, release
 *   wcpool_segments.c  WCPOOL_IOC_SEGMENTS
 *
 * Calls go down that list's dependencies only: reg and reg_heap use pin,
 * seg (through dmabuf) and dmabuf; dmabuf uses pin and seg; segments uses
 * dmabuf.  None of them is called by the pool (wcpool_pool.c).
 */
#ifndef _WCPOOL_REG_H
#define _WCPOOL_REG_H

#include <linux/dma-buf.h>
#include <linux/list.h>
#include <linux/mutex.h>

#include "wcpool.h"

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
 * @span: the pool range, on @pool->spans while pinned
 * @heads: the huge pages covered, one reference each
 * @nr_heads: entries in @heads
 * @segs: physically contiguous runs
 * @nr_segs: entries in @segs
 * @seg_max: REGISTER's max_seg_size (0: WCPOOL_SEG_MAX), which cut @segs
 * @max_segments: REGISTER's max_segments (0: any number)
 * @limit: REGISTER's address limit in bytes (0: none)
 * @dmabuf: the dma-buf that owns the registration (no reference: it
 *	lives exactly as long), NULL before the export
 * @lock: protects @attachments and @vmaps, and @heads and @segs against a
 *	move at map (wcpool_reg_move()), which replaces them under it
 * @attachments: struct wcpool_reg_attach of the importers with a mapping
 * @vmaps: live kernel mappings (vmap) of the dma-buf
 */
struct wcpool_reg {
	struct wcpool *pool;
	struct wcpool_span span;
	struct page **heads;
	unsigned long nr_heads;
	struct wcpool_reg_seg *segs;
	unsigned int nr_segs;
	u64 seg_max;
	u32 max_segments;
	u64 limit;
	struct dma_buf *dmabuf;
	/* before the pool lock in the lock order (wcpool.h) */
	struct mutex lock;
	struct list_head attachments;
	unsigned int vmaps;
};

/* The 4 KiB page at byte @off of the registration. */
static inline struct page *wcpool_reg_page(struct wcpool_reg *reg, u64 off)
{
	u64 poff = reg->span.offset + off;
	u64 first = reg->span.offset >> WCPOOL_PAGE_SHIFT_2M;

	return reg->heads[(poff >> WCPOOL_PAGE_SHIFT_2M) - first] +
	       ((poff >> PAGE_SHIFT) & (WCPOOL_HPAGE_PAGES - 1));
}

/* wcpool_reg_pin.c */
struct wcpool_reg *wcpool_reg_alloc(struct wcpool *pool);
void wcpool_reg_discard(struct wcpool_reg *reg);
int wcpool_reg_pin(struct wcpool_reg *reg);
void wcpool_reg_unpin(struct wcpool_reg *reg);
int wcpool_reg_lookup(struct wcpool_reg *reg, u64 addr, u64 len, bool write);

/* wcpool_reg_seg.c */
void wcpool_reg_set_constraints(struct wcpool_reg *reg,
				const struct wcpool_register *args);
int wcpool_reg_build_segs(struct wcpool_reg *reg);
unsigned long wcpool_reg_count_segs(struct wcpool_reg *reg, u64 max);
void wcpool_reg_fill_segs(struct wcpool_reg *reg, struct wcpool_reg_seg *s);

/* wcpool_move.c */
int wcpool_reg_fit(struct wcpool_reg *reg);
long wcpool_reg_move(struct wcpool_reg *reg, u64 limit);

/* wcpool_dmabuf.c */
struct dma_buf *wcpool_dmabuf_export(struct wcpool_reg *reg, int flags);
struct wcpool_reg *wcpool_dmabuf_reg(struct dma_buf *dmabuf);

#endif /* _WCPOOL_REG_H */
