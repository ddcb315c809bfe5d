/* SPDX-License-Identifier: MIT */
/* Live registrations of a pool (register.c). */
#ifndef WCPOOL_INTERNAL_REGISTER_H
#define WCPOOL_INTERNAL_REGISTER_H

#include <stdbool.h>
#include <stdint.h>

#include "lock.h"

struct wcp_pool;
struct wcp_registration;

/*
 * The live registrations, twice: sorted by what they export (range and
 * device constraints) to find one to reuse, and by address to tell a live
 * handle from a stale one without touching it.  Binary searches; an
 * insertion or removal moves the pointers behind it.
 */
struct wcpi_registrations {
	struct wcpi_lock lock;
	struct wcp_registration **by_key;
	struct wcp_registration **by_addr;
	size_t n, cap;
};

/* Also tells commit.c which pages a registration holds. */
void wcpi_register_setup(struct wcp_pool *pool);
void wcpi_register_fini(struct wcp_pool *pool);

#endif
