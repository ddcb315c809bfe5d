// SPDX-License-Identifier: MIT
/*
 * Sets of pool ranges, sorted by offset and disjoint, in a growing array:
 * huge.c's free and live buffers, space.c's address space given back.
 * The caller locks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "range.h"

size_t wcpi_set_find(const struct wcpi_range_set *s, uint64_t off)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->v[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int wcpi_set_insert_at(struct wcpi_range_set *s, size_t i, struct wcpi_range r)
{
	/* Sorted and disjoint: between its neighbours, touching neither. */
	WCPI_ASSERT(r.len && i <= s->n);
	WCPI_ASSERT(i == 0 || s->v[i - 1].off + s->v[i - 1].len <= r.off);
	WCPI_ASSERT(i == s->n || r.off + r.len <= s->v[i].off);
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct wcpi_range *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
	s->v[i] = r;
	s->n++;
	return 0;
}

void wcpi_set_remove_at(struct wcpi_range_set *s, size_t i)
{
	WCPI_ASSERT(i < s->n);
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	s->n--;
}

void wcpi_set_put(struct wcpi_range_set *s, struct wcpi_range r)
{
	size_t i = wcpi_set_find(s, r.off);

	if (i > 0 && s->v[i - 1].off + s->v[i - 1].len == r.off) {
		i--;
		r.off = s->v[i].off;
		r.len += s->v[i].len;
		wcpi_set_remove_at(s, i);
	}
	if (i < s->n && r.off + r.len == s->v[i].off) {
		r.len += s->v[i].len;
		wcpi_set_remove_at(s, i);
	}
	/* Out of memory here loses this address range for reuse, nothing more. */
	(void)wcpi_set_insert_at(s, i, r);
}

void wcpi_set_take(struct wcpi_range_set *s, size_t i, struct wcpi_range w)
{
	struct wcpi_range r = s->v[i];

	WCPI_ASSERT(w.off >= r.off && w.off + w.len <= r.off + r.len);
	wcpi_set_remove_at(s, i);
	if (w.off > r.off)
		wcpi_set_put(s, (struct wcpi_range){ r.off, w.off - r.off });
	if (w.off + w.len < r.off + r.len)
		wcpi_set_put(s, (struct wcpi_range){ w.off + w.len,
						    r.off + r.len - w.off - w.len });
}

void wcpi_set_fini(struct wcpi_range_set *s)
{
	free(s->v);
	*s = (struct wcpi_range_set){ 0 };
}
