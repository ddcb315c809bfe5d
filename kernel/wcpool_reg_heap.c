// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool registrations for the dma-heap nodes (wcpool_heap.c): a heap
 * buffer is the registration of a range of a private pool, exported
 * without a user mapping and without device constraints.
 */
#include <linux/dma-buf.h>
#include <linux/mm.h>

#include "wcpool_reg.h"

/**
 * wcpool_reg_export_pool - a dma-buf of @length bytes of @pool at @offset
 * @pool: a pool whose pages back [@offset, @offset + @length); the dma-buf
 *	takes a reference
 * @offset: pool offset of the first byte, a multiple of PAGE_SIZE
 * @length: bytes, a multiple of PAGE_SIZE
 * @flags: O_RDWR or O_RDONLY, the dma-buf file's mode
 *
 * Return: the dma-buf, or an ERR_PTR.
 */
struct dma_buf *wcpool_reg_export_pool(struct wcpool *pool, u64 offset,
				       u64 length, int flags)
{
	struct wcpool_reg *reg = wcpool_reg_alloc(pool);
	int ret;

	if (!reg)
		return ERR_PTR(-ENOMEM);
	reg->span.offset = offset;
	reg->span.length = length;
	ret = wcpool_reg_pin(reg);
	if (ret) {
		wcpool_reg_discard(reg);
		return ERR_PTR(ret);
	}
	return wcpool_dmabuf_export(reg, flags);
}
