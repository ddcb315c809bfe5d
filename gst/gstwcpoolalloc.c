/* SPDX-License-Identifier: MIT */
/* wcpoolalloc: see gstwcpoolalloc.h. */
#include "gstwcpoolalloc.h"

#include <gst/video/video.h>

#include "gstwcpallocator.h"
#include "gstwcpbufferpool.h"

GST_DEBUG_CATEGORY_STATIC(gst_wcpool_alloc_debug);
#define GST_CAT_DEFAULT gst_wcpool_alloc_debug

/* What the pool is made with; compared to reuse the pool across runs. */
struct wcpi_settings {
	guint backend;
	guint policy;
	gboolean allow_wb_fallback;
	guint64 max_size;
};

struct _GstWcpoolAlloc {
	GstBaseTransform parent;
	/* properties, under the object lock */
	struct wcpi_settings set;
	gboolean strict;
	guint64 own;
	guint64 foreign;
	/* the pool's allocator (and the settings it was made with), kept
	 * from start until the settings change or the element goes */
	GstAllocator *allocator;
	struct wcpi_settings made;
};

enum {
	PROP_0,
	PROP_POLICY,
	PROP_BACKEND,
	PROP_ALLOW_WB_FALLBACK,
	PROP_MAX_SIZE,
	PROP_STRICT,
	PROP_OWN_BUFFERS,
	PROP_FOREIGN_BUFFERS,
	PROP_ACTUAL_POLICY,
	PROP_MEMORY_TYPE,
	PROP_LIVE_ALLOCATIONS,
	PROP_POOL_RESIDENT,
};

#define GST_TYPE_WCPOOL_POLICY (gst_wcpool_policy_get_type())
static GType gst_wcpool_policy_get_type(void)
{
	static GType type;
	static const GEnumValue values[] = {
		{ WCP_POLICY_WC, "Write-combine", "wc" },
		{ WCP_POLICY_UC, "Uncached", "uc" },
		{ WCP_POLICY_WB, "Write-back (cached)", "wb" },
		{ 0, NULL, NULL },
	};

	if (g_once_init_enter(&type)) {
		GType t = g_enum_register_static("GstWcpoolPolicy", values);

		g_once_init_leave(&type, t);
	}
	return type;
}

#define GST_TYPE_WCPOOL_BACKEND (gst_wcpool_backend_get_type())
static GType gst_wcpool_backend_get_type(void)
{
	static GType type;
	static const GEnumValue values[] = {
		{ WCP_BACKEND_AUTO, "wcpool.ko if loaded, else a memfd", "auto" },
		{ WCP_BACKEND_MODULE, "wcpool.ko (/dev/wcpool)", "module" },
		{ WCP_BACKEND_MEMFD, "A memfd (write-back only)", "memfd" },
		{ 0, NULL, NULL },
	};

	if (g_once_init_enter(&type)) {
		GType t = g_enum_register_static("GstWcpoolBackend", values);

		g_once_init_leave(&type, t);
	}
	return type;
}

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
	"sink", GST_PAD_SINK, GST_PAD_ALWAYS,
	GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(GST_VIDEO_FORMATS_ALL)));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
	"src", GST_PAD_SRC, GST_PAD_ALWAYS,
	GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(GST_VIDEO_FORMATS_ALL)));

G_DEFINE_TYPE(GstWcpoolAlloc, gst_wcpool_alloc, GST_TYPE_BASE_TRANSFORM)
GST_ELEMENT_REGISTER_DEFINE(wcpoolalloc, "wcpoolalloc", GST_RANK_NONE,
			    GST_TYPE_WCPOOL_ALLOC)

static gboolean wcpi_settings_equal(const struct wcpi_settings *a,
				    const struct wcpi_settings *b)
{
	return a->backend == b->backend && a->policy == b->policy &&
	       a->allow_wb_fallback == b->allow_wb_fallback &&
	       a->max_size == b->max_size;
}

/* What the user can do about a pool that could not be made. */
static const char *wcpi_hint(const struct wcpi_settings *set, gint code)
{
	switch (code) {
	case GST_RESOURCE_ERROR_NOT_FOUND:
		return "backend=module needs wcpool.ko loaded: no /dev/wcpool";
	case GST_RESOURCE_ERROR_SETTINGS:
		if (!set->allow_wb_fallback && set->policy != WCP_POLICY_WB)
			return "allow-wb-fallback=false: only wcpool.ko gives WC and UC memory";
		if (set->max_size)
			return "max-size larger than the pool can reserve";
		return "bad settings";
	case GST_RESOURCE_ERROR_NO_SPACE_LEFT:
		return "out of memory or huge pages";
	case GST_RESOURCE_ERROR_OPEN_READ_WRITE:
		return "no permission to open /dev/wcpool";
	default:
		return "see the details";
	}
}

static gboolean gst_wcpool_alloc_start(GstBaseTransform *trans)
{
	GstWcpoolAlloc *self = GST_WCPOOL_ALLOC(trans);
	struct wcp_pool_options opts = { 0 };
	struct wcpi_settings set;
	GstAllocator *alloc;
	GError *err = NULL;

	GST_OBJECT_LOCK(self);
	set = self->set;
	self->own = 0;
	self->foreign = 0;
	if (self->allocator && wcpi_settings_equal(&set, &self->made)) {
		GST_OBJECT_UNLOCK(self);
		return TRUE;
	}
	GST_OBJECT_UNLOCK(self);

	opts.backend = set.backend;
	opts.policy = set.policy;
	opts.max_size = set.max_size;
	opts.flags = set.allow_wb_fallback ? WCP_POOL_ALLOW_WB_FALLBACK : 0;
	alloc = gst_wcp_allocator_new(&opts, &err);
	if (!alloc) {
		/* GST_ELEMENT_ERROR takes the code by name: the GError's is
		 * a number. */
		gst_element_message_full(GST_ELEMENT(self), GST_MESSAGE_ERROR,
			GST_RESOURCE_ERROR, err->code,
			g_strdup_printf("No wcpool memory: the pool for policy %s could not be created (%s).",
				gst_wcp_policy_name(set.policy),
				wcpi_hint(&set, err->code)),
			g_strdup(err->message), __FILE__, GST_FUNCTION,
			__LINE__);
		g_error_free(err);
		return FALSE;
	}
	GST_OBJECT_LOCK(self);
	gst_clear_object(&self->allocator);
	self->allocator = alloc;
	self->made = set;
	GST_OBJECT_UNLOCK(self);
	return TRUE;
}

/*
 * Passthrough: ask downstream what it needs (size, buffer counts, metas),
 * then put our pool and allocator first in the answer.
 */
static gboolean gst_wcpool_alloc_propose_allocation(GstBaseTransform *trans,
						    GstQuery *decide_query,
						    GstQuery *query)
{
	GstWcpoolAlloc *self = GST_WCPOOL_ALLOC(trans);
	GstAllocationParams params;
	GstAllocator *allocator;
	GstBufferPool *pool;
	GstStructure *config;
	GstVideoInfo info;
	GstCaps *caps;
	guint size, min = 2, max = 0, fit;
	guint64 max_size;
	gboolean need_pool;

	if (!decide_query && !gst_pad_peer_query(trans->srcpad, query))
		GST_DEBUG_OBJECT(self, "downstream did not answer ALLOCATION");
	gst_query_parse_allocation(query, &caps, &need_pool);
	if (!caps || !gst_video_info_from_caps(&info, caps)) {
		GST_WARNING_OBJECT(self, "ALLOCATION query without video caps");
		return FALSE;
	}
	size = info.size;
	if (gst_query_get_n_allocation_pools(query) > 0) {
		guint dsize, dmin, dmax;

		gst_query_parse_nth_allocation_pool(query, 0, NULL, &dsize,
						    &dmin, &dmax);
		size = MAX(size, dsize);
		min = MAX(min, dmin);
		max = dmax && dmax >= min ? dmax : 0;
	}
	GST_OBJECT_LOCK(self);
	if (!self->allocator) {
		GST_OBJECT_UNLOCK(self);
		return FALSE;
	}
	allocator = gst_object_ref(self->allocator);
	max_size = self->made.max_size;
	GST_OBJECT_UNLOCK(self);

	/* downstream's prefix, padding and alignment, at least 4 KiB */
	gst_allocation_params_init(&params);
	if (gst_query_get_n_allocation_params(query) > 0)
		gst_query_parse_nth_allocation_param(query, 0, NULL, &params);
	params.align |= WCP_PAGE_4K - 1;

	/*
	 * With max-size, no more buffers than it holds: the producer waits
	 * for a buffer instead of failing when an unbounded queue
	 * downstream would take them all.
	 */
	fit = 0;
	if (max_size) {
		gsize each = gst_wcp_allocator_footprint(allocator,
			(gsize)params.prefix + size + params.padding);

		fit = each ? (guint)MIN(max_size / each, G_MAXUINT) : 0;
	}
	if (max_size && fit < min) {
		GST_ELEMENT_ERROR(self, RESOURCE, NO_SPACE_LEFT,
				  ("Out of wcpool memory: max-size %" G_GUINT64_FORMAT
				   " holds %u buffers of %u bytes, %u needed.",
				   max_size, fit, size, min),
				  ("raise max-size"));
		gst_object_unref(allocator);
		return FALSE;
	}
	if (fit && (!max || max > fit))
		max = fit;
	pool = gst_wcp_buffer_pool_new(allocator, GST_ELEMENT(self));
	config = gst_buffer_pool_get_config(pool);
	gst_buffer_pool_config_set_params(config, caps, size, min, max);
	gst_buffer_pool_config_set_allocator(config, NULL, &params);
	if (gst_query_find_allocation_meta(query, GST_VIDEO_META_API_TYPE,
					   NULL))
		gst_buffer_pool_config_add_option(config,
						  GST_BUFFER_POOL_OPTION_VIDEO_META);
	if (!gst_buffer_pool_set_config(pool, config)) {
		GST_WARNING_OBJECT(self, "pool refused %" GST_PTR_FORMAT, caps);
		gst_object_unref(pool);
		gst_object_unref(allocator);
		return FALSE;
	}
	if (gst_query_get_n_allocation_pools(query) > 0)
		gst_query_set_nth_allocation_pool(query, 0, pool, size, min,
						  max);
	else
		gst_query_add_allocation_pool(query, pool, size, min, max);
	if (gst_query_get_n_allocation_params(query) > 0)
		gst_query_set_nth_allocation_param(query, 0, allocator,
						   &params);
	else
		gst_query_add_allocation_param(query, allocator, &params);
	GST_DEBUG_OBJECT(self, "proposed %" GST_PTR_FORMAT " of %u bytes, %u-%u buffers",
			 pool, size, min, max);
	gst_object_unref(pool);
	gst_object_unref(allocator);
	return TRUE;
}

static gboolean gst_wcpool_alloc_is_own(GstWcpoolAlloc *self, GstBuffer *buf)
{
	guint i, n = gst_buffer_n_memory(buf);

	if (n == 0)
		return FALSE;
	for (i = 0; i < n; i++) {
		GstMemory *mem = gst_buffer_peek_memory(buf, i);

		if (mem->allocator != self->allocator)
			return FALSE;
	}
	return TRUE;
}

static GstFlowReturn gst_wcpool_alloc_transform_ip(GstBaseTransform *trans,
						   GstBuffer *buf)
{
	GstWcpoolAlloc *self = GST_WCPOOL_ALLOC(trans);
	gboolean own, strict;

	GST_OBJECT_LOCK(self);
	own = gst_wcpool_alloc_is_own(self, buf);
	if (own)
		self->own++;
	else
		self->foreign++;
	strict = self->strict;
	GST_OBJECT_UNLOCK(self);
	if (!own && strict) {
		GstMemory *mem = gst_buffer_n_memory(buf) ?
					 gst_buffer_peek_memory(buf, 0) : NULL;

		GST_ELEMENT_ERROR(self, STREAM, FAILED,
				  ("Buffer not in this element's wcpool memory (strict=true): the element upstream did not use the buffer pool wcpoolalloc proposed."),
				  ("buffer %" GST_PTR_FORMAT " has memory of allocator %s",
				   buf, mem && mem->allocator ?
				   GST_OBJECT_NAME(mem->allocator) : "(none)"));
		return GST_FLOW_ERROR;
	}
	return GST_FLOW_OK;
}

static void gst_wcpool_alloc_set_property(GObject *object, guint prop_id,
					  const GValue *value,
					  GParamSpec *pspec)
{
	GstWcpoolAlloc *self = GST_WCPOOL_ALLOC(object);

	GST_OBJECT_LOCK(self);
	/* the pool is made at start: its settings change only before */
	if (prop_id != PROP_STRICT && GST_STATE(self) > GST_STATE_READY) {
		GST_OBJECT_UNLOCK(self);
		g_warning("wcpoolalloc: property '%s' can only be set in the "
			  "NULL or READY state (ignored)", pspec->name);
		return;
	}
	switch (prop_id) {
	case PROP_POLICY:
		self->set.policy = g_value_get_enum(value);
		break;
	case PROP_BACKEND:
		self->set.backend = g_value_get_enum(value);
		break;
	case PROP_ALLOW_WB_FALLBACK:
		self->set.allow_wb_fallback = g_value_get_boolean(value);
		break;
	case PROP_MAX_SIZE:
		self->set.max_size = g_value_get_uint64(value);
		break;
	case PROP_STRICT:
		self->strict = g_value_get_boolean(value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
	GST_OBJECT_UNLOCK(self);
}

static void gst_wcpool_alloc_get_property(GObject *object, guint prop_id,
					  GValue *value, GParamSpec *pspec)
{
	GstWcpoolAlloc *self = GST_WCPOOL_ALLOC(object);

	GST_OBJECT_LOCK(self);
	switch (prop_id) {
	case PROP_POLICY:
		g_value_set_enum(value, self->set.policy);
		break;
	case PROP_BACKEND:
		g_value_set_enum(value, self->set.backend);
		break;
	case PROP_ALLOW_WB_FALLBACK:
		g_value_set_boolean(value, self->set.allow_wb_fallback);
		break;
	case PROP_MAX_SIZE:
		g_value_set_uint64(value, self->set.max_size);
		break;
	case PROP_STRICT:
		g_value_set_boolean(value, self->strict);
		break;
	case PROP_OWN_BUFFERS:
		g_value_set_uint64(value, self->own);
		break;
	case PROP_FOREIGN_BUFFERS:
		g_value_set_uint64(value, self->foreign);
		break;
	case PROP_ACTUAL_POLICY:
		g_value_set_string(value, self->allocator ?
			gst_wcp_policy_name(gst_wcp_allocator_policy(self->allocator)) :
			NULL);
		break;
	case PROP_MEMORY_TYPE:
		g_value_set_string(value, !self->allocator ? NULL :
			GST_IS_WCP_DMABUF_ALLOCATOR(self->allocator) ? "dmabuf" :
								       "fd");
		break;
	case PROP_LIVE_ALLOCATIONS:
		g_value_set_int64(value, self->allocator ?
			gst_wcp_allocator_live(self->allocator) : 0);
		break;
	case PROP_POOL_RESIDENT:
		g_value_set_uint64(value, self->allocator ?
			gst_wcp_allocator_resident(self->allocator) : 0);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
	GST_OBJECT_UNLOCK(self);
}

/*
 * Going to NULL gives the memory of freed buffers back (the pool keeps
 * freed frames for reuse otherwise): upstream's pool has let its buffers
 * go by then, since state changes run from the sink to the source.
 */
static GstStateChangeReturn gst_wcpool_alloc_change_state(GstElement *element,
							  GstStateChange t)
{
	GstWcpoolAlloc *self = GST_WCPOOL_ALLOC(element);
	GstStateChangeReturn ret;
	GstAllocator *alloc = NULL;

	ret = GST_ELEMENT_CLASS(gst_wcpool_alloc_parent_class)
		->change_state(element, t);
	if (ret == GST_STATE_CHANGE_FAILURE || t != GST_STATE_CHANGE_READY_TO_NULL)
		return ret;
	GST_OBJECT_LOCK(self);
	if (self->allocator)
		alloc = gst_object_ref(self->allocator);
	GST_OBJECT_UNLOCK(self);
	if (alloc) {
		gst_wcp_allocator_trim(alloc);
		gst_object_unref(alloc);
	}
	return ret;
}

static void gst_wcpool_alloc_finalize(GObject *object)
{
	GstWcpoolAlloc *self = GST_WCPOOL_ALLOC(object);

	gst_clear_object(&self->allocator);
	G_OBJECT_CLASS(gst_wcpool_alloc_parent_class)->finalize(object);
}

static void gst_wcpool_alloc_class_init(GstWcpoolAllocClass *klass)
{
	GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
	GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
	GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);
	const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
			       GST_PARAM_MUTABLE_READY;
	const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

	gobject_class->set_property = gst_wcpool_alloc_set_property;
	gobject_class->get_property = gst_wcpool_alloc_get_property;
	gobject_class->finalize = gst_wcpool_alloc_finalize;

	g_object_class_install_property(gobject_class, PROP_POLICY,
		g_param_spec_enum("policy", "Cache policy",
			"Cache policy of the pool's memory (wc and uc need wcpool.ko; without it see allow-wb-fallback)",
			GST_TYPE_WCPOOL_POLICY, WCP_POLICY_WC, rw));
	g_object_class_install_property(gobject_class, PROP_BACKEND,
		g_param_spec_enum("backend", "Backend",
			"Where the pool's memory comes from",
			GST_TYPE_WCPOOL_BACKEND, WCP_BACKEND_AUTO, rw));
	g_object_class_install_property(gobject_class, PROP_ALLOW_WB_FALLBACK,
		g_param_spec_boolean("allow-wb-fallback", "Allow WB fallback",
			"Take write-back memory when the backend cannot give the policy (a memfd pool); false: fail instead",
			TRUE, rw));
	g_object_class_install_property(gobject_class, PROP_MAX_SIZE,
		g_param_spec_uint64("max-size", "Pool size limit",
			"Most bytes the pool may map (0: libwcpool's default, 64 GiB of address space)",
			0, G_MAXUINT64, 0, rw));
	g_object_class_install_property(gobject_class, PROP_STRICT,
		g_param_spec_boolean("strict", "Strict",
			"Post an error and stop on a buffer that is not this element's wcpool memory",
			FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
			GST_PARAM_MUTABLE_PLAYING));
	g_object_class_install_property(gobject_class, PROP_OWN_BUFFERS,
		g_param_spec_uint64("own-buffers", "Own buffers",
			"Buffers since start whose memory was all this element's wcpool memory",
			0, G_MAXUINT64, 0, ro));
	g_object_class_install_property(gobject_class, PROP_FOREIGN_BUFFERS,
		g_param_spec_uint64("foreign-buffers", "Foreign buffers",
			"Buffers since start with memory from elsewhere",
			0, G_MAXUINT64, 0, ro));
	g_object_class_install_property(gobject_class, PROP_ACTUAL_POLICY,
		g_param_spec_string("actual-policy", "Policy in use",
			"The pool's cache policy in use (wc, uc, wb); NULL before the element first started",
			NULL, ro));
	g_object_class_install_property(gobject_class, PROP_MEMORY_TYPE,
		g_param_spec_string("memory-type", "Memory type",
			"dmabuf (one dma-buf per buffer: wcpool.ko or udmabuf) or fd (the pool's memfd at the buffer's offset); NULL before the element first started",
			NULL, ro));
	g_object_class_install_property(gobject_class, PROP_LIVE_ALLOCATIONS,
		g_param_spec_int64("live-allocations", "Live allocations",
			"Buffers of the pool allocated now (0 once every buffer is back)",
			-1, G_MAXINT64, 0, ro));
	g_object_class_install_property(gobject_class, PROP_POOL_RESIDENT,
		g_param_spec_uint64("pool-resident", "Pool memory",
			"Bytes of memory backing the pool now (freed buffers' memory goes back when the element goes to NULL)",
			0, G_MAXUINT64, 0, ro));

	gst_element_class_add_static_pad_template(element_class, &sink_template);
	gst_element_class_add_static_pad_template(element_class, &src_template);
	gst_element_class_set_static_metadata(element_class,
		"wcpool allocator", "Filter/Video",
		"Passes video through unchanged and proposes a pool of wcpool memory (write-combine by default; dma-buf per buffer with wcpool.ko) to the element upstream",
		"wcpool developers");

	element_class->change_state = gst_wcpool_alloc_change_state;
	trans_class->start = gst_wcpool_alloc_start;
	trans_class->propose_allocation = gst_wcpool_alloc_propose_allocation;
	trans_class->transform_ip = gst_wcpool_alloc_transform_ip;
	trans_class->passthrough_on_same_caps = TRUE;
	trans_class->transform_ip_on_passthrough = TRUE;

	gst_type_mark_as_plugin_api(GST_TYPE_WCPOOL_POLICY, 0);
	gst_type_mark_as_plugin_api(GST_TYPE_WCPOOL_BACKEND, 0);
	GST_DEBUG_CATEGORY_INIT(gst_wcpool_alloc_debug, "wcpoolalloc", 0,
				"wcpool allocation element");
}

static void gst_wcpool_alloc_init(GstWcpoolAlloc *self)
{
	self->set.policy = WCP_POLICY_WC;
	self->set.backend = WCP_BACKEND_AUTO;
	self->set.allow_wb_fallback = TRUE;
	gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), TRUE);
	gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}
