/* SPDX-License-Identifier: MIT */
/* Live registrations of a pool (register.c). */
#ifndef WCPOOL_INTERNAL_REGISTER_H
#define WCPOOL_INTERNAL_REGISTER_H

struct wcp_pool;

/* Also tells commit.c which pages a registration holds. */
void wcpi_register_setup(struct wcp_pool *pool);
void wcpi_register_fini(struct wcp_pool *pool);

#endif
