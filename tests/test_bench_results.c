// SPDX-License-Identifier: MIT
/*
 * bench/results.c: the rows a child process measures reach the parent's
 * report whole (results_dump() then results_load()): samples, faults,
 * software and hardware counters, voided rows, skips and notes.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* bench_skip() reports progress; main.c's version is not linked here. */
void progress(const char *fmt, ...)
{
	(void)fmt;
}

static char *dump_all(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	results_dump(f);
	fclose(f);
	return buf;
}

/* Forget every row, then read @text back as the parent does. */
static void reload(const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");

	cr_assert_not_null(f);
	results_free();
	cr_assert_null(result_at(0));
	results_load(f);
	fclose(f);
}

static struct result *row(const char *name, size_t nsamples)
{
	struct result *r = result_add("workload", name, "larson pages-4K", 0, 2);

	r->ops = 1000;
	r->minflt = 7;
	r->nsamples = nsamples;
	r->samples = calloc(nsamples ? nsamples : 1, sizeof(double));
	r->cpu_samples = calloc(nsamples ? nsamples : 1, sizeof(double));
	cr_assert(r->samples && r->cpu_samples);
	for (size_t k = 0; k < nsamples; k++) {
		r->samples[k] = 10.0 + (double)k;
		r->cpu_samples[k] = 20.0 + (double)k;
	}
	result_finish(r);
	return r;
}

Test(results, counters_cross_the_process_boundary)
{
	struct result *r = row("wcpool", 3);
	const struct result *back;
	char *text;

	r->perf.valid[PERF_PAGE_FAULTS] = true;
	r->perf.v[PERF_PAGE_FAULTS] = 12345;
	r->perf.valid[PERF_CONTEXT_SWITCHES] = true;
	r->perf.v[PERF_CONTEXT_SWITCHES] = 99;
	/* a zero that counted is not a counter that did not count */
	r->perf.valid[PERF_TASK_CLOCK] = true;
	r->perf.v[PERF_TASK_CLOCK] = 0;
	text = dump_all();
	reload(text);
	back = result_at(0);
	cr_assert_not_null(back);
	cr_assert_null(result_at(1));
	cr_assert_str_eq(back->name, "wcpool");
	cr_assert_eq(back->ops, 1000);
	cr_assert_eq(back->minflt, 7);
	cr_assert_eq(back->nsamples, 3);
	cr_assert_float_eq(back->st.median, 11.0, 1e-12);
	cr_assert_float_eq(back->cpu.median, 21.0, 1e-12);
	for (int c = 0; c < PERF_NCOUNTERS; c++) {
		bool want = c == PERF_PAGE_FAULTS || c == PERF_CONTEXT_SWITCHES ||
			    c == PERF_TASK_CLOCK;

		cr_assert_eq(back->perf.valid[c], want, "counter %d", c);
	}
	cr_assert_eq(back->perf.v[PERF_PAGE_FAULTS], 12345);
	cr_assert_eq(back->perf.v[PERF_CONTEXT_SWITCHES], 99);
	cr_assert_eq(back->perf.v[PERF_TASK_CLOCK], 0);
	free(text);
	results_free();
}

Test(results, a_voided_row_stays_without_time)
{
	struct result *r = row("jemalloc", 2);
	const struct result *back;
	char *text;

	result_void(r);
	text = dump_all();
	reload(text);
	back = result_at(0);
	cr_assert_not_null(back);
	cr_assert_eq(back->nsamples, 0);
	cr_assert(isnan(back->st.median));
	cr_assert_not(back->comparable, "a voided row is in no ratio");
	free(text);
	results_free();
}

Test(results, skips_and_notes_come_back)
{
	const struct skipped *s;
	char *text;

	bench_skip("alloc", "memkind", "not installed");
	bench_note("frames", "%d frames", 3);
	text = dump_all();
	reload(text);
	s = skipped_at(0);
	cr_assert_not_null(s);
	cr_assert_str_eq(s->group, "alloc");
	cr_assert_str_eq(s->name, "memkind");
	cr_assert_str_eq(s->reason, "not installed");
	cr_assert_null(skipped_at(1));
	cr_assert_str_eq(note_at(0), "frames: 3 frames");
	cr_assert_null(note_at(1));
	free(text);
	results_free();
}
