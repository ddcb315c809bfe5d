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
 * wcpool_reg_count_segs - how many runs a pinned registration has
 * @reg: the registration
 * @max: the longest run (bytes)
 *
 * Return: the number of physically contiguous runs, cut at @max.
 */
unsigned long wcpool_reg_count_segs(struct wcpool_reg *reg, u64 max)
{
	return wcpool_reg_walk_segs(reg, max, NULL);
}

/**
 * wcpool_reg_build_segs - the contiguous runs of a pinned registration
 * @reg: the registration
 * @args: REGISTER's arguments, for the device constraints; NULL: none
 *
 * Builds @reg->segs, cut at @args' max_seg_size (0: 1 GiB), and checks
 * max_segments and addr_bits against them.
 *
 * Return: 0, -ERANGE (a constraint not met) or -ENOMEM.
 */
int wcpool_reg_build_segs(struct wcpool_reg *reg,
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
