/* SPDX-License-Identifier: MIT */
/* io_uring fixed buffers over a pool (uring.c). */
#ifndef WCPOOL_INTERNAL_URING_H
#define WCPOOL_INTERNAL_URING_H

#include <stdatomic.h>
#include <stdbool.h>

#include "lock.h"
#include "range.h"

struct io_uring;
struct wcp_pool;

struct wcpi_uring {
	struct wcpi_lock lock;		/* all but pinned */
	struct io_uring *ring;
	struct wcpi_range *slots;
	unsigned int used;
	unsigned int next;
	atomic_bool pinned;		/* a ring holds pool pages */
};

/* Also tells commit.c that a ring pins pages (so none may be replaced). */
void wcpi_uring_setup(struct wcp_pool *pool);
void wcpi_uring_fini(struct wcp_pool *pool);

#endif
