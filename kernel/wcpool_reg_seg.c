// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool registrations: the physically contiguous runs of a pinned range
 * (adjacent huge pages merged, cut at the device's max_seg_size), checked
 * against the device constraints REGISTER was given.  WCPOOL_IOC_SEGMENTS
 * lists them, and map_dma_buf cuts them further for the importing device.
 */
#include <linux/mm.h>
#include <linux/slab.h>

#include "wcpool_reg.h"

/*
 * Walk @reg's physically contiguous runs, adjacent pages merged, none
 * longer than @max; fill @s where not NULL.  Return: the number of runs.
 */
static unsigned long wcpool_reg_walk_segs(struct wcpool_reg *reg, u64 max,
					  struct wcpool_reg_seg *s)
{
	unsigned long pfn, n = 0, last_pfn = 0;
	u64 off = 0, len, in, last_len = 0;

	while (off < reg->span.length) {
		in = (reg->span.offset + off) & (WCPOOL_HPAGE_SIZE - 1);
		len = min_t(u64, WCPOOL_HPAGE_SIZE - in,
			    reg->span.length - off);
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

/**
 * wcpool_reg_set_constraints - keep REGISTER's device constraints
 * @reg: the registration
 * @args: REGISTER's arguments
 *
 * They cut @reg's runs at every (re)build, and bound where a move at map
 * may put its pages.  Heap buffers have none (all zero).
 */
void wcpool_reg_set_constraints(struct wcpool_reg *reg,
				const struct wcpool_register *args)
{
	reg->seg_max = args->max_seg_size;
	reg->max_segments = args->max_segments;
	reg->limit = args->addr_bits && args->addr_bits < 64 ?
		     BIT_ULL(args->addr_bits) : 0;
}

/* The longest run of @reg: REGISTER's max_seg_size, else WCPOOL_SEG_MAX. */
static u64 wcpool_reg_seg_max(const struct wcpool_reg *reg)
{
	return reg->seg_max ? reg->seg_max : WCPOOL_SEG_MAX;
}

/**
 * wcpool_reg_count_segs - how many runs a pinned registration has
 * @reg: the registration
 * @max: the longest run (bytes); 0: REGISTER's
 *
 * Return: the number of physically contiguous runs, cut at @max.
 */
unsigned long wcpool_reg_count_segs(struct wcpool_reg *reg, u64 max)
{
	return wcpool_reg_walk_segs(reg, max ? max : wcpool_reg_seg_max(reg),
				    NULL);
}

/**
 * wcpool_reg_fill_segs - write a pinned registration's runs
 * @reg: the registration
 * @s: room for wcpool_reg_count_segs(@reg, 0) entries
 */
void wcpool_reg_fill_segs(struct wcpool_reg *reg, struct wcpool_reg_seg *s)
{
	wcpool_reg_walk_segs(reg, wcpool_reg_seg_max(reg), s);
}

/**
 * wcpool_reg_build_segs - the contiguous runs of a pinned registration
 * @reg: the registration, its constraints set
 *
 * Builds @reg->segs, cut at REGISTER's max_seg_size, and checks
 * max_segments and the address limit against them.
 *
 * Return: 0, -ERANGE (a constraint not met) or -ENOMEM.
 */
int wcpool_reg_build_segs(struct wcpool_reg *reg)
{
	unsigned long n = wcpool_reg_count_segs(reg, 0), i;
	struct wcpool_reg_seg *s;

	if (reg->max_segments && n > reg->max_segments)
		return -ERANGE;
	if (n > UINT_MAX)
		return -ENOMEM;
	s = kvmalloc_array(n, sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s)
		return -ENOMEM;
	wcpool_reg_fill_segs(reg, s);
	reg->segs = s;
	reg->nr_segs = n;
	for (i = 0; reg->limit && i < n; i++)
		if (PFN_PHYS(s[i].pfn) + s[i].len > reg->limit)
			return -ERANGE;
	return 0;
}
