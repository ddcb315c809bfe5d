/* SPDX-License-Identifier: MIT */
/* GstWcpBufferPool: see gstwcpbufferpool.h. */
#include "gstwcpbufferpool.h"

#include <errno.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC(gst_wcp_buffer_pool_debug);
#define GST_CAT_DEFAULT gst_wcp_buffer_pool_debug

struct _GstWcpBufferPool {
	GstVideoBufferPool parent;
	GstAllocator *allocator;
	GWeakRef owner;
	/* one error message per pool, not one per failed buffer (atomic) */
	gint reported;
};

G_DEFINE_TYPE(GstWcpBufferPool, gst_wcp_buffer_pool, GST_TYPE_VIDEO_BUFFER_POOL)

/* Whatever allocator the caller configured, the buffers are ours, with
 * buffer starts on 4 KiB. */
static gboolean gst_wcp_buffer_pool_set_config(GstBufferPool *pool,
					       GstStructure *config)
{
	GstWcpBufferPool *self = GST_WCP_BUFFER_POOL(pool);
	GstAllocationParams params;

	if (!gst_buffer_pool_config_get_allocator(config, NULL, &params))
		gst_allocation_params_init(&params);
	params.align |= WCP_PAGE_4K - 1;
	gst_buffer_pool_config_set_allocator(config,
					     self->allocator,
					     &params);
	return GST_BUFFER_POOL_CLASS(gst_wcp_buffer_pool_parent_class)
		->set_config(pool, config);
}

static GstFlowReturn gst_wcp_buffer_pool_alloc(GstBufferPool *pool,
					       GstBuffer **buffer,
					       GstBufferPoolAcquireParams *p)
{
	GstWcpBufferPool *self = GST_WCP_BUFFER_POOL(pool);
	GstFlowReturn ret;
	GstElement *owner;

	ret = GST_BUFFER_POOL_CLASS(gst_wcp_buffer_pool_parent_class)
		->alloc_buffer(pool, buffer, p);
	if (ret == GST_FLOW_OK ||
	    !g_atomic_int_compare_and_exchange(&self->reported, 0, 1))
		return ret;
	owner = g_weak_ref_get(&self->owner);
	if (owner) {
		int err = gst_wcp_allocator_last_error(self->allocator);

		GST_ELEMENT_ERROR(owner, RESOURCE, NO_SPACE_LEFT,
				  ("Out of wcpool memory: a buffer of the pool could not be allocated (%s).",
				   g_strerror(err ? err : ENOMEM)),
				  ("pool %s, allocator %s; raise max-size or free memory",
				   GST_OBJECT_NAME(pool),
				   GST_OBJECT_NAME(self->allocator)));
		gst_object_unref(owner);
	}
	return ret;
}

/* GstBufferPool's reset moves every memory to offset 0: undo that. */
static void gst_wcp_buffer_pool_reset(GstBufferPool *pool, GstBuffer *buffer)
{
	guint i, n = gst_buffer_n_memory(buffer);

	GST_BUFFER_POOL_CLASS(gst_wcp_buffer_pool_parent_class)
		->reset_buffer(pool, buffer);
	for (i = 0; i < n; i++)
		gst_wcp_memory_reset(gst_buffer_peek_memory(buffer, i));
}

static void gst_wcp_buffer_pool_finalize(GObject *object)
{
	GstWcpBufferPool *self = GST_WCP_BUFFER_POOL(object);

	g_weak_ref_clear(&self->owner);
	gst_clear_object(&self->allocator);
	G_OBJECT_CLASS(gst_wcp_buffer_pool_parent_class)->finalize(object);
}

static void gst_wcp_buffer_pool_class_init(GstWcpBufferPoolClass *klass)
{
	GstBufferPoolClass *pool_class = GST_BUFFER_POOL_CLASS(klass);

	pool_class->set_config = gst_wcp_buffer_pool_set_config;
	pool_class->alloc_buffer = gst_wcp_buffer_pool_alloc;
	pool_class->reset_buffer = gst_wcp_buffer_pool_reset;
	G_OBJECT_CLASS(klass)->finalize = gst_wcp_buffer_pool_finalize;
	GST_DEBUG_CATEGORY_INIT(gst_wcp_buffer_pool_debug, "wcpbufferpool", 0,
				"wcpool buffer pool");
}

static void gst_wcp_buffer_pool_init(GstWcpBufferPool *self)
{
	g_weak_ref_init(&self->owner, NULL);
}

GstBufferPool *gst_wcp_buffer_pool_new(GstAllocator *allocator,
				       GstElement *owner)
{
	GstWcpBufferPool *self;

	g_return_val_if_fail(gst_is_wcp_allocator(allocator), NULL);
	self = g_object_new(GST_TYPE_WCP_BUFFER_POOL, NULL);
	gst_object_ref_sink(self);
	self->allocator = gst_object_ref(allocator);
	g_weak_ref_set(&self->owner, owner);
	return GST_BUFFER_POOL_CAST(self);
}
