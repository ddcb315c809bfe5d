/* SPDX-License-Identifier: MIT */
/*
 * GstWcpDmaBufAllocator, GstWcpFdAllocator - GstMemory carved from a libwcpool pool.
 *
 * Each memory is one 4 KiB-aligned block of the pool (wcp_aligned_alloc),
 * mapped for as long as the pool lives: gst_memory_map() returns the pool
 * pointer, no mmap per map.  Where the pool makes dma-bufs (wcpool.ko, or
 * udmabuf for a memfd pool) each block is registered (wcp_register) and
 * the memory is dma-buf memory of that registration's fd; elsewhere it is
 * fd memory of the pool file (the memfd) at the block's pool offset.
 */
#ifndef GST_WCP_ALLOCATOR_H
#define GST_WCP_ALLOCATOR_H

#include <gst/allocators/allocators.h>
#include <gst/gst.h>
#include <wcpool.h>

G_BEGIN_DECLS

/*
 * Two types with one implementation: gst_is_dmabuf_memory() is a type
 * check, so memory that is no dma-buf must not come from a
 * GstDmaBufAllocator subclass.
 */
#define GST_TYPE_WCP_DMABUF_ALLOCATOR (gst_wcp_dmabuf_allocator_get_type())
G_DECLARE_FINAL_TYPE(GstWcpDmaBufAllocator, gst_wcp_dmabuf_allocator, GST,
		     WCP_DMABUF_ALLOCATOR, GstDmaBufAllocator)
#define GST_TYPE_WCP_FD_ALLOCATOR (gst_wcp_fd_allocator_get_type())
G_DECLARE_FINAL_TYPE(GstWcpFdAllocator, gst_wcp_fd_allocator, GST,
		     WCP_FD_ALLOCATOR, GstFdAllocator)

/** TRUE if @alloc is one of the two. */
gboolean gst_is_wcp_allocator(GstAllocator *alloc);

/**
 * gst_wcp_allocator_new() - an allocator on a new pool made with @opts: a
 * GstWcpDmaBufAllocator where the pool makes dma-bufs, else a
 * GstWcpFdAllocator.
 * Return: the allocator (floating reference sunk), or NULL with @error
 * set in GST_RESOURCE_ERROR: NOT_FOUND (no /dev/wcpool for the module
 * backend), SETTINGS (policy the backend cannot give, bad option),
 * NO_SPACE_LEFT (no memory, no huge pages), OPEN_READ_WRITE (no
 * permission) or FAILED.
 */
GstAllocator *gst_wcp_allocator_new(const struct wcp_pool_options *opts,
				    GError **error);

/**
 * gst_wcp_memory_reset() - put @mem back on its own block: the offset and
 * size it was allocated with.  Fd memory's region is the pool file from
 * offset 0 (what a consumer of the fd maps), so a resize to offset 0, as
 * GstBufferPool's reset does, would move it onto the first block of the
 * pool.  Memory of other allocators and sub-memories are left alone.
 */
void gst_wcp_memory_reset(GstMemory *mem);

/** The pool's policy in use, as enum wcp_policy. */
guint gst_wcp_allocator_policy(GstAllocator *alloc);

/** Live allocations of the pool (wcp_pool_stats), or -1 on error. */
gint64 gst_wcp_allocator_live(GstAllocator *alloc);

/** Bytes of memory backing the pool now (wcp_pool_stats), 0 on error. */
guint64 gst_wcp_allocator_resident(GstAllocator *alloc);

/**
 * Pool memory one buffer of @size bytes (prefix and padding included)
 * takes: the pool's size class for it, found by allocating one.
 */
gsize gst_wcp_allocator_footprint(GstAllocator *alloc, gsize size);

/** Give the memory of freed buffers back to the system (wcp_pool_trim). */
void gst_wcp_allocator_trim(GstAllocator *alloc);

/**
 * The errno of the allocator's last failed allocation (0: none), for the
 * error message of whoever sees the failure.
 */
int gst_wcp_allocator_last_error(GstAllocator *alloc);

/** "wc", "uc" or "wb". */
const char *gst_wcp_policy_name(guint policy);

G_END_DECLS

#endif
