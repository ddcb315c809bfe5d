/* SPDX-License-Identifier: MIT */
/* Statistics of benchmark samples: every figure derives from these. */
#ifndef WCPOOL_BENCH_STATS_H
#define WCPOOL_BENCH_STATS_H

#include <stdbool.h>
#include <stddef.h>

struct bench_stats {
	size_t n;
	double median;	/* middle sample, mean of the two middle ones if n is even */
	double min;
	double max;
	double mean;
};

/*
 * Summarise @n samples (the array is left as it was).  Return: 0, or
 * -EINVAL for no samples or a sample that is NaN; -ENOMEM.
 */
int stats_compute(const double *samples, size_t n, struct bench_stats *st);

/* Median of @n samples; NaN for none.  The array is left as it was. */
double stats_median(const double *samples, size_t n);

/* Smallest of @n samples; NaN for none. */
double stats_min(const double *samples, size_t n);

/* @a / @b, NaN when either is NaN or @b is not positive. */
double stats_ratio(double a, double b);

/*
 * Geometric mean of the finite positive values of @v (the others are left
 * out); NaN if there are none.  @used (if not NULL) gets how many counted.
 */
double stats_geomean(const double *v, size_t n, size_t *used);

/* GB/s (10^9 bytes per second) of @bytes moved in @ns; NaN for @ns <= 0. */
double stats_gbps(double bytes, double ns);

/*
 * Is @value (a time: smaller is better) within @tolerance (0.05 = 5 %) of
 * @best?  False when either is NaN.
 */
bool stats_within(double value, double best, double tolerance);

#endif
