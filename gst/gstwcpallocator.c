/* SPDX-License-Identifier: MIT */
/*
 * GstWcpDmaBufAllocator, GstWcpFdAllocator: see gstwcpallocator.h.
 *
 * The memories are GstFdMemory (gst_fd_allocator_alloc), so that
 * gst_dmabuf_memory_get_fd() and gst_fd_memory_get_fd() work on them, but
 * this allocator maps them itself: map returns the block's pool address
 * (the pool is mapped once, with its cache policy), so GstFdMemory never
 * mmaps the fd.  Sync bracketing: nothing on map for WC and UC memory and
 * an sfence when a write mapping ends (it drains the write-combining
 * buffers, which is all a device needs of WC/UC memory); DMA_BUF_IOCTL_SYNC
 * START/END around a mapping of a write-back dma-buf only.
 */
#include "gstwcpallocator.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC(gst_wcp_allocator_debug);
#define GST_CAT_DEFAULT gst_wcp_allocator_debug

/* Everything but the GObject parent, shared by the two types. */
struct wcpi_state {
	struct wcp_pool *pool;
	struct wcp_pool_info info;
	/* fd memory: the pool file (wcp_pool_export), else -1 */
	int pool_fd;
	/* each memory a registration's dma-buf */
	gboolean dmabuf;
	int last_error;
};

struct _GstWcpDmaBufAllocator {
	GstDmaBufAllocator parent;
	struct wcpi_state st;
};

struct _GstWcpFdAllocator {
	GstFdAllocator parent;
	struct wcpi_state st;
};

G_DEFINE_TYPE(GstWcpDmaBufAllocator, gst_wcp_dmabuf_allocator,
	      GST_TYPE_DMABUF_ALLOCATOR)
G_DEFINE_TYPE(GstWcpFdAllocator, gst_wcp_fd_allocator, GST_TYPE_FD_ALLOCATOR)

gboolean gst_is_wcp_allocator(GstAllocator *alloc)
{
	return GST_IS_WCP_DMABUF_ALLOCATOR(alloc) ||
	       GST_IS_WCP_FD_ALLOCATOR(alloc);
}

static struct wcpi_state *wcpi_state(GstAllocator *alloc)
{
	if (GST_IS_WCP_DMABUF_ALLOCATOR(alloc))
		return &GST_WCP_DMABUF_ALLOCATOR(alloc)->st;
	return &GST_WCP_FD_ALLOCATOR(alloc)->st;
}

/* One pool block behind a top-level memory (qdata, freed with it). */
struct wcpi_block {
	struct wcpi_state *st;
	void *ptr;
	size_t len;
	struct wcp_registration *reg;
	/* the memory's offset in its region and size when allocated */
	gsize offset, size;
};

static GQuark wcpi_block_quark;

static void wcpi_block_free(gpointer data)
{
	struct wcpi_block *b = data;

	if (b->reg) {
		int ret = wcp_unregister(b->st->pool, b->reg);

		/* the block goes back to the pool either way */
		if (ret < 0)
			GST_ERROR("wcp_unregister: %s", g_strerror(-ret));
	}
	wcp_free(b->st->pool, b->ptr);
	g_free(b);
}

static struct wcpi_block *wcpi_block_of(GstMemory *mem)
{
	GstMemory *top = mem->parent ? mem->parent : mem;

	return gst_mini_object_get_qdata(GST_MINI_OBJECT_CAST(top),
					 wcpi_block_quark);
}

void gst_wcp_memory_reset(GstMemory *mem)
{
	struct wcpi_block *b;

	if (mem->parent || !mem->allocator ||
	    !gst_is_wcp_allocator(mem->allocator))
		return;
	b = wcpi_block_of(mem);
	g_return_if_fail(b != NULL);
	gst_memory_resize(mem, (gssize)b->offset - (gssize)mem->offset,
			  b->size);
}

static guint wcpi_sync_flags(GstMapFlags flags)
{
	guint f = 0;

	if (flags & GST_MAP_READ)
		f |= WCP_SYNC_READ;
	if (flags & GST_MAP_WRITE)
		f |= WCP_SYNC_WRITE;
	return f;
}

/* The address of the memory's region start: gst_memory_map() adds the
 * memory's offset to it. */
static gpointer wcpi_mem_map_full(GstMemory *mem, GstMapInfo *info,
				  gsize maxsize)
{
	struct wcpi_state *self = wcpi_state(mem->allocator);
	struct wcpi_block *b;

	(void)maxsize;
	if (!self->dmabuf)
		return self->info.base;	/* fd memory: offsets are pool offsets */
	b = wcpi_block_of(mem);
	g_return_val_if_fail(b != NULL, NULL);
	if (self->info.policy == WCP_POLICY_WB) {
		int ret = wcp_dmabuf_sync(wcp_registration_fd(b->reg),
					  WCP_SYNC_START |
					  wcpi_sync_flags(info->flags));

		if (ret < 0) {
			GST_ERROR_OBJECT(mem->allocator, "DMA_BUF_IOCTL_SYNC start: %s",
					 g_strerror(-ret));
			return NULL;
		}
	}
	return b->ptr;
}

static void wcpi_mem_unmap_full(GstMemory *mem, GstMapInfo *info)
{
	struct wcpi_state *self = wcpi_state(mem->allocator);

	if (self->info.policy != WCP_POLICY_WB) {
		/* WC/UC: drain the write-combining buffers for the device. */
		if (info->flags & GST_MAP_WRITE)
			wcp_flush(self->pool, info->data, 0);
		return;
	}
	if (self->dmabuf) {
		struct wcpi_block *b = wcpi_block_of(mem);
		int ret = wcp_dmabuf_sync(wcp_registration_fd(b->reg),
					  WCP_SYNC_END |
					  wcpi_sync_flags(info->flags));

		if (ret < 0)
			GST_ERROR_OBJECT(mem->allocator, "DMA_BUF_IOCTL_SYNC end: %s",
					 g_strerror(-ret));
	}
}

/* The plain variants are never called (the _full ones take precedence)
 * but GstFdAllocator's must not be reachable either. */
static gpointer wcpi_mem_map(GstMemory *mem, gsize maxsize, GstMapFlags flags)
{
	GstMapInfo info = { .flags = flags, .memory = mem };

	return wcpi_mem_map_full(mem, &info, maxsize);
}

static void wcpi_mem_unmap(GstMemory *mem)
{
	GstMapInfo info = { .flags = GST_MAP_READWRITE, .memory = mem };

	wcpi_mem_unmap_full(mem, &info);
}

static GstMemory *wcpi_alloc(GstAllocator *allocator, gsize size,
			     GstAllocationParams *params)
{
	struct wcpi_state *self = wcpi_state(allocator);
	GstFdMemoryFlags fdflags = GST_FD_MEMORY_FLAG_KEEP_MAPPED |
				   GST_FD_MEMORY_FLAG_DONT_CLOSE;
	gsize align = MAX(params->align + 1, WCP_PAGE_4K);
	gsize need, len;
	struct wcpi_block *b;
	GstMemory *mem;
	int ret;

	if (size > G_MAXSIZE - params->prefix - params->padding - WCP_PAGE_4K) {
		g_atomic_int_set(&self->last_error, ENOMEM);
		return NULL;
	}
	need = params->prefix + size + params->padding;
	/* wcp_register() takes whole 4 KiB pages. */
	len = MAX((need + WCP_PAGE_4K - 1) & ~(WCP_PAGE_4K - 1), WCP_PAGE_4K);
	b = g_new0(struct wcpi_block, 1);
	b->st = self;
	b->len = len;
	b->ptr = wcp_aligned_alloc(self->pool, align, len);
	if (!b->ptr) {
		ret = -errno;
		goto fail;
	}
	if (self->dmabuf) {
		ret = wcp_register(self->pool, b->ptr, len, NULL, &b->reg);
		if (ret < 0) {
			b->reg = NULL;
			wcp_free(self->pool, b->ptr);
			goto fail;
		}
		mem = gst_fd_allocator_alloc(allocator,
					     wcp_registration_fd(b->reg), len,
					     fdflags);
	} else {
		uint64_t off = wcp_offset(self->pool, b->ptr);

		/* The region is the pool file from offset 0, as an fd
		 * consumer maps it; the memory is the block within it. */
		mem = gst_fd_allocator_alloc(allocator, self->pool_fd,
					     off + len, fdflags);
		mem->offset = off;
	}
	mem->align = align - 1;
	mem->offset += params->prefix;
	mem->size = size;
	b->offset = mem->offset;
	b->size = size;
	GST_MINI_OBJECT_FLAG_SET(mem, params->flags);
	gst_mini_object_set_qdata(GST_MINI_OBJECT_CAST(mem), wcpi_block_quark,
				  b, wcpi_block_free);
	if (params->prefix && (params->flags & GST_MEMORY_FLAG_ZERO_PREFIXED))
		memset((char *)b->ptr, 0, params->prefix);
	if (params->padding && (params->flags & GST_MEMORY_FLAG_ZERO_PADDED))
		memset((char *)b->ptr + params->prefix + size, 0,
		       params->padding);
	GST_LOG_OBJECT(allocator, "%p: %zu bytes at pool offset %" G_GUINT64_FORMAT
		       " fd %d", mem, len, wcp_offset(self->pool, b->ptr),
		       gst_fd_memory_get_fd(mem));
	return mem;

fail:
	GST_WARNING_OBJECT(allocator, "%zu bytes: %s", len, g_strerror(-ret));
	g_atomic_int_set(&self->last_error, -ret);
	g_free(b);
	return NULL;
}

static void wcpi_state_clear(struct wcpi_state *st)
{
	if (st->pool_fd >= 0)
		close(st->pool_fd);
	st->pool_fd = -1;
	wcp_pool_destroy(st->pool);
	st->pool = NULL;
}

static void gst_wcp_dmabuf_allocator_finalize(GObject *object)
{
	wcpi_state_clear(&GST_WCP_DMABUF_ALLOCATOR(object)->st);
	G_OBJECT_CLASS(gst_wcp_dmabuf_allocator_parent_class)->finalize(object);
}

static void gst_wcp_fd_allocator_finalize(GObject *object)
{
	wcpi_state_clear(&GST_WCP_FD_ALLOCATOR(object)->st);
	G_OBJECT_CLASS(gst_wcp_fd_allocator_parent_class)->finalize(object);
}

static void wcpi_class_init(GstAllocatorClass *klass)
{
	klass->alloc = wcpi_alloc;
	if (!wcpi_block_quark)
		wcpi_block_quark = g_quark_from_static_string("GstWcpBlock");
	if (!gst_wcp_allocator_debug)
		GST_DEBUG_CATEGORY_INIT(gst_wcp_allocator_debug,
					"wcpallocator", 0,
					"wcpool memory allocator");
}

static void gst_wcp_dmabuf_allocator_class_init(GstWcpDmaBufAllocatorClass *klass)
{
	wcpi_class_init(GST_ALLOCATOR_CLASS(klass));
	G_OBJECT_CLASS(klass)->finalize = gst_wcp_dmabuf_allocator_finalize;
}

static void gst_wcp_fd_allocator_class_init(GstWcpFdAllocatorClass *klass)
{
	wcpi_class_init(GST_ALLOCATOR_CLASS(klass));
	G_OBJECT_CLASS(klass)->finalize = gst_wcp_fd_allocator_finalize;
}

/*
 * A copy is system memory (the caller reads and writes it with the CPU),
 * read out of the pool with wcp_copy_from(): streaming loads from WC/UC.
 */
static GstMemory *wcpi_mem_copy(GstMemory *mem, gssize offset, gssize size)
{
	struct wcpi_state *self = wcpi_state(mem->allocator);
	GstMapInfo src, dst;
	GstMemory *copy;

	if (!gst_memory_map(mem, &src, GST_MAP_READ))
		return NULL;
	if (size == -1)
		size = (gssize)src.size > offset ? (gssize)src.size - offset : 0;
	if (offset < 0 || size < 0 || (gsize)(offset + size) > src.size) {
		gst_memory_unmap(mem, &src);
		return NULL;
	}
	copy = gst_allocator_alloc(NULL, (gsize)size, NULL);
	if (copy && !gst_memory_map(copy, &dst, GST_MAP_WRITE)) {
		gst_memory_unref(copy);
		copy = NULL;
	}
	if (copy) {
		wcp_copy_from(self->pool, dst.data, src.data + offset,
			      (size_t)size);
		gst_memory_unmap(copy, &dst);
	}
	gst_memory_unmap(mem, &src);
	return copy;
}

/* Both parents' init set their own map functions: ours replace them. */
static void wcpi_init(GstAllocator *alloc, struct wcpi_state *st)
{
	st->pool_fd = -1;
	/* GstFdAllocator's flag; this allocator's alloc() makes memory */
	GST_OBJECT_FLAG_UNSET(alloc, GST_ALLOCATOR_FLAG_CUSTOM_ALLOC);
	alloc->mem_copy = wcpi_mem_copy;
	alloc->mem_map = wcpi_mem_map;
	alloc->mem_unmap = wcpi_mem_unmap;
	alloc->mem_map_full = wcpi_mem_map_full;
	alloc->mem_unmap_full = wcpi_mem_unmap_full;
}

static void gst_wcp_dmabuf_allocator_init(GstWcpDmaBufAllocator *self)
{
	wcpi_init(GST_ALLOCATOR_CAST(self), &self->st);
}

static void gst_wcp_fd_allocator_init(GstWcpFdAllocator *self)
{
	wcpi_init(GST_ALLOCATOR_CAST(self), &self->st);
}

static gint wcpi_error_code(int err)
{
	switch (err) {
	case ENODEV:
	case ENOENT:
		return GST_RESOURCE_ERROR_NOT_FOUND;
	case EOPNOTSUPP:
	case EINVAL:
		return GST_RESOURCE_ERROR_SETTINGS;
	case ENOMEM:
	case ENOSPC:
		return GST_RESOURCE_ERROR_NO_SPACE_LEFT;
	case EACCES:
	case EPERM:
		return GST_RESOURCE_ERROR_OPEN_READ_WRITE;
	default:
		return GST_RESOURCE_ERROR_FAILED;
	}
}

GstAllocator *gst_wcp_allocator_new(const struct wcp_pool_options *opts,
				    GError **error)
{
	struct wcp_pool_options o = *opts;
	struct wcpi_state st = { .pool_fd = -1 };
	struct wcp_pool_share share;
	GstAllocator *alloc;
	const char *what;
	int ret;

	what = "wcp_pool_create";
	ret = wcp_pool_create(&o, &st.pool);
	if (ret < 0)
		goto fail;
	ret = wcp_pool_info(st.pool, &st.info);
	if (ret < 0)
		goto fail;
	st.dmabuf = st.info.export_path != WCP_EXPORT_NONE;
	if (!st.dmabuf) {
		/*
		 * fd memory names the pool file, which does not hold the
		 * 4 KiB pages a default huge-page pool spills onto once the
		 * system's huge pages run out, and an explicit huge-page
		 * pool would fail then: a memfd pool of 4 KiB pages is one
		 * file whatever else takes the huge pages.
		 */
		if (o.page_size == 0 && st.info.page_size != WCP_PAGE_4K) {
			wcp_pool_destroy(st.pool);
			st.pool = NULL;
			o.page_size = WCP_PAGE_4K;
			ret = wcp_pool_create(&o, &st.pool);
			if (ret < 0)
				goto fail;
			ret = wcp_pool_info(st.pool, &st.info);
			if (ret < 0)
				goto fail;
		}
		what = "wcp_pool_export";
		ret = wcp_pool_export(st.pool, 0, &share);
		if (ret < 0)
			goto fail;
		st.pool_fd = ret;
		alloc = g_object_new(GST_TYPE_WCP_FD_ALLOCATOR, NULL);
		GST_WCP_FD_ALLOCATOR(alloc)->st = st;
	} else {
		alloc = g_object_new(GST_TYPE_WCP_DMABUF_ALLOCATOR, NULL);
		GST_WCP_DMABUF_ALLOCATOR(alloc)->st = st;
	}
	gst_object_ref_sink(alloc);
	GST_INFO_OBJECT(alloc, "pool: backend %s, policy %s, %" G_GUINT64_FORMAT
			"-byte pages, %s memory",
			st.info.backend == WCP_BACKEND_MODULE ? "wcpool.ko" :
								"memfd",
			gst_wcp_policy_name(st.info.policy),
			st.info.page_size, st.dmabuf ? "dma-buf" : "fd");
	return alloc;

fail:
	g_set_error(error, GST_RESOURCE_ERROR, wcpi_error_code(-ret),
		    "%s (backend %u, policy %s, page size %" G_GUINT64_FORMAT
		    ", max size %" G_GUINT64_FORMAT "): %s", what, o.backend,
		    gst_wcp_policy_name(o.policy), o.page_size, o.max_size,
		    g_strerror(-ret));
	wcpi_state_clear(&st);
	return NULL;
}

guint gst_wcp_allocator_policy(GstAllocator *alloc)
{
	return wcpi_state(alloc)->info.policy;
}

gint64 gst_wcp_allocator_live(GstAllocator *alloc)
{
	struct wcp_pool_stats st;

	if (wcp_pool_stats(wcpi_state(alloc)->pool, &st) < 0)
		return -1;
	return (gint64)st.allocations;
}

guint64 gst_wcp_allocator_resident(GstAllocator *alloc)
{
	struct wcp_pool_stats st;

	if (wcp_pool_stats(wcpi_state(alloc)->pool, &st) < 0)
		return 0;
	return st.resident;
}

gsize gst_wcp_allocator_footprint(GstAllocator *alloc, gsize size)
{
	struct wcpi_state *self = wcpi_state(alloc);
	gsize len = MAX((size + WCP_PAGE_4K - 1) & ~(gsize)(WCP_PAGE_4K - 1),
			WCP_PAGE_4K);
	void *p;

	if (size > G_MAXSIZE - WCP_PAGE_4K)
		return 0;
	/* the pool's own rounding (size classes, frames on whole pages) */
	p = wcp_aligned_alloc(self->pool, WCP_PAGE_4K, len);
	if (!p)
		return len;
	len = wcp_usable_size(self->pool, p);
	wcp_free(self->pool, p);
	return len;
}

void gst_wcp_allocator_trim(GstAllocator *alloc)
{
	wcp_pool_trim(wcpi_state(alloc)->pool);
}

int gst_wcp_allocator_last_error(GstAllocator *alloc)
{
	return g_atomic_int_get(&wcpi_state(alloc)->last_error);
}

const char *gst_wcp_policy_name(guint policy)
{
	switch (policy) {
	case WCP_POLICY_WC:
		return "wc";
	case WCP_POLICY_UC:
		return "uc";
	case WCP_POLICY_WB:
		return "wb";
	default:
		return "default";
	}
}
