/* SPDX-License-Identifier: MIT */
/*
 * wcpoolalloc - a passthrough element whose ALLOCATION answer is a
 * GstWcpBufferPool and its wcpool allocator, so that the producer upstream
 * (videotestsrc, videoconvert, v4l2src io-mode=dmabuf-import, a V4L2
 * decoder's capture-io-mode=dmabuf-import) writes its frames straight into
 * wcpool memory, and the element downstream (v4l2*enc
 * output-io-mode=dmabuf-import) receives them.  It counts the buffers that
 * were and were not its own; strict=true makes a foreign one an error.
 */
#ifndef GST_WCPOOL_ALLOC_H
#define GST_WCPOOL_ALLOC_H

#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_WCPOOL_ALLOC (gst_wcpool_alloc_get_type())
G_DECLARE_FINAL_TYPE(GstWcpoolAlloc, gst_wcpool_alloc, GST, WCPOOL_ALLOC,
		     GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE(wcpoolalloc);

G_END_DECLS

#endif
