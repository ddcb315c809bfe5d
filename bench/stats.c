// SPDX-License-Identifier: MIT
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

static int stats_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int stats_compute(const double *samples, size_t n, struct bench_stats *st)
{
	double *s, sum = 0;

	if (!n || !samples)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (isnan(samples[i]))
			return -EINVAL;
	s = malloc(n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memcpy(s, samples, n * sizeof(*s));
	qsort(s, n, sizeof(*s), stats_cmp);
	for (size_t i = 0; i < n; i++)
		sum += s[i];
	st->n = n;
	st->min = s[0];
	st->max = s[n - 1];
	st->median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	st->mean = sum / (double)n;
	free(s);
	return 0;
}

double stats_median(const double *samples, size_t n)
{
	struct bench_stats st;

	return stats_compute(samples, n, &st) ? NAN : st.median;
}

double stats_min(const double *samples, size_t n)
{
	struct bench_stats st;

	return stats_compute(samples, n, &st) ? NAN : st.min;
}

double stats_ratio(double a, double b)
{
	if (isnan(a) || isnan(b) || !(b > 0))
		return NAN;
	return a / b;
}

double stats_geomean(const double *v, size_t n, size_t *used)
{
	double logs = 0;
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (isfinite(v[i]) && v[i] > 0) {
			logs += log(v[i]);
			k++;
		}
	if (used)
		*used = k;
	return k ? exp(logs / (double)k) : NAN;
}

double stats_gbps(double bytes, double ns)
{
	if (isnan(bytes) || isnan(ns) || !(ns > 0))
		return NAN;
	return bytes / ns;
}

bool stats_within(double value, double best, double tolerance)
{
	double r = stats_ratio(value, best);

	return !isnan(r) && r <= 1 + tolerance;
}
