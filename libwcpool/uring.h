/* SPDX-License-Identifier: MIT */
/* io_uring fixed buffers over a pool (uring.c). */
#ifndef WCPOOL_INTERNAL_URING_H
#define WCPOOL_INTERNAL_URING_H

struct wcp_pool;

/* Also tells commit.c that a ring pins pages (so none may be replaced). */
void wcpi_uring_setup(struct wcp_pool *pool);
void wcpi_uring_fini(struct wcp_pool *pool);

#endif
