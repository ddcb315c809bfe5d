/* SPDX-License-Identifier: MIT */
/* Live registrations of a pool (register.c). */
#ifndef WCPOOL_INTERNAL_REGISTER_H
#define WCPOOL_INTERNAL_REGISTER_H

#include <stdbool.h>
#include <stdint.h>

#include "lock.h"

struct wcp_pool;
struct wcp_registration;

struct wcpi_registrations {
	struct wcpi_lock lock;
	struct wcp_registration *list;
};

void wcpi_register_setup(struct wcp_pool *pool);
bool wcpi_register_overlaps(struct wcp_pool *pool, uint64_t off,
			    uint64_t len);
void wcpi_register_fini(struct wcp_pool *pool);

#endif
