// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool registrations for the dma-heap nodes (wcpool_heap.c): a heap
 * buffer is the registration of the first bytes of a private pool,
 * exported without a user mapping and without device constraints.
 */
#include <linux/dma-buf.h>
#include <linux/mm.h>

#include "wcpool_reg.h"

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
	reg->span.length = length;
	ret = wcpool_reg_pin(reg);
	if (ret) {
		wcpool_reg_discard(reg);
		return ERR_PTR(ret);
	}
	return wcpool_dmabuf_export(reg, flags, NULL);
}
