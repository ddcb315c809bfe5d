/* SPDX-License-Identifier: MIT */
/* Ranges of pool offsets (huge.c keeps sets of them, uring.c a table). */
#ifndef WCPOOL_INTERNAL_RANGE_H
#define WCPOOL_INTERNAL_RANGE_H

#include <stddef.h>
#include <stdint.h>

struct wcpi_range {
	uint64_t off;
	uint64_t len;
};

/* Ranges sorted by offset. */
struct wcpi_range_set {
	struct wcpi_range *v;
	size_t n;
	size_t cap;
};

static inline uint64_t wcpi_align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/* @x down to a multiple of @a, which need not be a power of two. */
static inline uint64_t wcpi_round_down(uint64_t x, uint64_t a)
{
	return x - x % a;
}

/* @x up to a multiple of @a (any @a); the caller keeps it from overflowing. */
static inline uint64_t wcpi_round_up(uint64_t x, uint64_t a)
{
	return wcpi_round_down(x + a - 1, a);
}

#endif
