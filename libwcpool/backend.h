/* SPDX-License-Identifier: MIT */
/*
 * A backend owns the pool file: wcpool.ko's pool fd (backend_module.c) or
 * a memfd (backend_memfd.c).  Offsets and lengths are bytes of that file;
 * callers keep them multiples of the pool's page size where the backend
 * needs it (extend) and page (4 KiB) multiples elsewhere.
 */
#ifndef WCPOOL_INTERNAL_BACKEND_H
#define WCPOOL_INTERNAL_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wcpool.h"

struct wcpi_backend_ops {
	/*
	 * Make the file max_size long and map all of it at once: mappings
	 * of wcpool.ko and hugetlbfs files never merge (VM_DONTEXPAND), so
	 * mapping step by step would cost a VMA per step (vm.max_map_count
	 * is 65530).  Pages still come only with commit.
	 */
	bool map_whole;
	/* Make the file at least @size bytes long (owner only). */
	int (*extend)(struct wcp_pool *pool, uint64_t size);
	/* Current file size, as another process may have extended it. */
	int (*file_size)(struct wcp_pool *pool, uint64_t *size);
	/*
	 * Back [off, off+len) with memory so that touching it cannot fail.
	 * commit and release get whole pool pages (see commit.c).
	 */
	int (*commit)(struct wcp_pool *pool, uint64_t off, uint64_t len);
	/* Give the memory of [off, off+len) back; it reads as zero after. */
	int (*release)(struct wcp_pool *pool, uint64_t off, uint64_t len);
	/* Bytes of memory backing the file now. */
	int (*resident)(struct wcp_pool *pool, uint64_t *bytes);
	/* A new fd of the pool file that cannot be mapped writable. */
	int (*open_read_only)(const struct wcp_pool *pool);
	/* enum wcp_export_path of this pool (asked once, at creation). */
	uint32_t (*export_path)(const struct wcp_pool *pool);
	/* Export a checked range as a dma-buf (or -EOPNOTSUPP). */
	int (*register_range)(struct wcp_pool *pool, const void *ptr,
			      size_t len, const struct wcp_register_options *o,
			      int *fd, uint32_t *nr_segments);
	/* The contiguous runs of a dma-buf (NULL: not known here). */
	int (*segments)(const struct wcp_pool *pool, int dmabuf,
			struct wcp_segment *seg, size_t max);
};

/* backend_memfd.c */
int wcpi_memfd_open(struct wcp_pool *pool, const struct wcp_pool_options *o);
int wcpi_memfd_adopt(struct wcp_pool *pool, int fd);

/* backend_module.c */
bool wcpi_module_present(void);
int wcpi_module_open(struct wcp_pool *pool, const struct wcp_pool_options *o,
		     uint64_t max_size);
int wcpi_module_adopt(struct wcp_pool *pool, int fd);

#endif
