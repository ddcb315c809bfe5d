/* SPDX-License-Identifier: MIT */
/*
 * GstWcpBufferPool - a video buffer pool whose buffers are wcpool memory
 * of one wcpool allocator (gstwcpallocator.h), with GstVideoMeta when the configuration asks
 * for it, GStreamer's default plane layout for the caps (the strides a
 * producer writes without a pool, so a passthrough changes no byte) and
 * 4 KiB-aligned buffer starts (what wcp_register() and V4L2 dma-buf
 * import take).
 */
#ifndef GST_WCP_BUFFER_POOL_H
#define GST_WCP_BUFFER_POOL_H

#include <gst/video/video.h>
#include <gst/video/gstvideopool.h>

#include "gstwcpallocator.h"

G_BEGIN_DECLS

#define GST_TYPE_WCP_BUFFER_POOL (gst_wcp_buffer_pool_get_type())
G_DECLARE_FINAL_TYPE(GstWcpBufferPool, gst_wcp_buffer_pool, GST,
		     WCP_BUFFER_POOL, GstVideoBufferPool)

/**
 * gst_wcp_buffer_pool_new() - a pool of @allocator's memory.  @owner, if
 * not NULL, is the element that posts the error when the pool runs out
 * of memory (held weakly).
 */
GstBufferPool *gst_wcp_buffer_pool_new(GstAllocator *allocator,
				       GstElement *owner);

G_END_DECLS

#endif
