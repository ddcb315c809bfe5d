/* SPDX-License-Identifier: MIT */
/*
 * Ranges of pool offsets: sets of them (rangeset.c; huge.c's buffers,
 * space.c's address space given back), uring.c's table.
 */
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

/* Index of the first range of @s whose offset is >= @off. */
size_t wcpi_set_find(const struct wcpi_range_set *s, uint64_t off);
/* Insert @r at index @i (where it sorts); -ENOMEM if the array cannot grow. */
int wcpi_set_insert_at(struct wcpi_range_set *s, size_t i, struct wcpi_range r);
void wcpi_set_remove_at(struct wcpi_range_set *s, size_t i);
/* Put @r into @s, merged with the ranges it touches. */
void wcpi_set_put(struct wcpi_range_set *s, struct wcpi_range r);
/* Take @w, which lies within range @i, out of @s. */
void wcpi_set_take(struct wcpi_range_set *s, size_t i, struct wcpi_range w);
void wcpi_set_fini(struct wcpi_range_set *s);

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
