// SPDX-License-Identifier: MIT
/* bench/stats.c: median, min, max, mean, ratios and the tolerance check. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>

#include "stats.h"

Test(stats, odd_count_median_is_the_middle_sample)
{
	const double s[] = { 9, 1, 5, 3, 7 };
	struct bench_stats st;

	cr_assert_eq(stats_compute(s, 5, &st), 0);
	cr_assert_eq(st.n, 5);
	cr_assert_float_eq(st.median, 5, 1e-12);
	cr_assert_float_eq(st.min, 1, 1e-12);
	cr_assert_float_eq(st.max, 9, 1e-12);
	cr_assert_float_eq(st.mean, 5, 1e-12);
}

Test(stats, even_count_median_is_the_mean_of_the_middle_two)
{
	const double s[] = { 4, 1, 3, 100 };

	cr_assert_float_eq(stats_median(s, 4), 3.5, 1e-12);
	cr_assert_float_eq(stats_min(s, 4), 1, 1e-12);
}

Test(stats, input_is_left_unsorted)
{
	double s[] = { 3, 2, 1 };

	cr_assert_float_eq(stats_median(s, 3), 2, 1e-12);
	cr_assert(s[0] == 3 && s[1] == 2 && s[2] == 1);
}

Test(stats, single_sample_and_duplicates)
{
	const double one[] = { 42 }, same[] = { 7, 7, 7, 7 };
	struct bench_stats st;

	cr_assert_eq(stats_compute(one, 1, &st), 0);
	cr_assert(st.median == 42 && st.min == 42 && st.max == 42 &&
		  st.mean == 42);
	cr_assert_float_eq(stats_median(same, 4), 7, 1e-12);
}

Test(stats, outlier_moves_the_mean_not_the_median)
{
	const double s[] = { 10, 11, 10, 12, 1e6 };
	struct bench_stats st;

	cr_assert_eq(stats_compute(s, 5, &st), 0);
	cr_assert_float_eq(st.median, 11, 1e-12);
	cr_assert_gt(st.mean, 1e5);
}

Test(stats, no_samples_or_nan_is_einval)
{
	const double s[] = { 1, NAN, 3 };
	struct bench_stats st;

	cr_assert_eq(stats_compute(s, 0, &st), -EINVAL);
	cr_assert_eq(stats_compute(NULL, 3, &st), -EINVAL);
	cr_assert_eq(stats_compute(s, 3, &st), -EINVAL);
	cr_assert(isnan(stats_median(s, 0)));
	cr_assert(isnan(stats_min(s, 3)));
}

Test(stats, ratio_and_throughput)
{
	cr_assert_float_eq(stats_ratio(3, 2), 1.5, 1e-12);
	cr_assert(isnan(stats_ratio(1, 0)));
	cr_assert(isnan(stats_ratio(1, -2)));
	cr_assert(isnan(stats_ratio(NAN, 1)));
	cr_assert(isnan(stats_ratio(1, NAN)));
	/* 1 GiB in 0.1 s = 10.737 GB/s */
	cr_assert_float_eq(stats_gbps(1073741824.0, 1e8), 10.73741824, 1e-9);
	cr_assert(isnan(stats_gbps(1, 0)));
}

Test(stats, geometric_mean_leaves_out_what_is_not_a_ratio)
{
	const double s[] = { 2, 8, NAN, 0, -1, INFINITY }, none[] = { NAN, 0 };
	size_t used;

	cr_assert_float_eq(stats_geomean(s, 2, NULL), 4, 1e-12);
	cr_assert_float_eq(stats_geomean(s, 6, &used), 4, 1e-12);
	cr_assert_eq(used, 2);
	cr_assert(isnan(stats_geomean(none, 2, &used)));
	cr_assert_eq(used, 0);
	cr_assert(isnan(stats_geomean(s, 0, NULL)));
}

Test(stats, within_tolerance)
{
	cr_assert(stats_within(100, 100, 0.05));
	cr_assert(stats_within(105, 100, 0.05));
	cr_assert_not(stats_within(105.1, 100, 0.05));
	cr_assert(stats_within(90, 100, 0.0), "faster than the best is within");
	cr_assert_not(stats_within(NAN, 100, 0.05));
	cr_assert_not(stats_within(100, NAN, 0.05));
	cr_assert_not(stats_within(1, 0, 0.05));
}
