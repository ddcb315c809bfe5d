// SPDX-License-Identifier: MIT
/*
 * The result registry: every measured case, every case skipped and why, and
 * the notes the subcommands leave for the report, in the order they came.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static struct result *results;
static size_t nresults, cap_results;

static struct skipped *skips;
static size_t nskips;

static char notes[32][200];
static size_t nnotes;

void results_reserve(size_t n)
{
	if (nresults + n <= cap_results)
		return;
	while (nresults + n > cap_results)
		cap_results = cap_results ? 2 * cap_results : 64;
	results = realloc(results, cap_results * sizeof(*results));
	if (!results) {
		perror("wcpool-bench");
		exit(1);
	}
}

struct result *result_add(const char *group, const char *name,
			  const char *memory, size_t size, unsigned threads)
{
	struct result *r;

	results_reserve(1);
	r = &results[nresults++];
	*r = (struct result){ .size = size, .threads = threads };
	snprintf(r->group, sizeof(r->group), "%s", group);
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->memory, sizeof(r->memory), "%s", memory);
	r->comparable = true;
	return r;
}

void result_finish(struct result *r)
{
	char sz[32];

	if (stats_compute(r->samples, r->nsamples, &r->st))
		r->st = (struct bench_stats){ .median = NAN, .min = NAN,
					      .max = NAN, .mean = NAN };
	if (stats_compute(r->cpu_samples, r->nsamples, &r->cpu))
		r->cpu = (struct bench_stats){ .median = NAN, .min = NAN,
					       .max = NAN, .mean = NAN };
	if (r->bytes > 0)
		progress("%-8s %-17s %-20s %8s  %8.2f GB/s", r->group, r->name,
			 r->memory, size_str(r->size, sz, sizeof(sz)),
			 stats_gbps(r->bytes, r->st.median));
	else
		progress("%-8s %-17s %-20s %8s %2u thr %10.1f ns/op %10.1f cpu ns/op",
			 r->group, r->name, r->memory,
			 size_str(r->size, sz, sizeof(sz)), r->threads,
			 r->st.median, r->cpu.median);
}

double result_per_op(const struct result *r, double total)
{
	return total / ((double)r->ops * (double)r->nsamples * r->threads);
}

const struct result *result_at(size_t i)
{
	return i < nresults ? &results[i] : NULL;
}

const struct result *result_find(const char *group, const char *name,
				 const char *memory, size_t size,
				 unsigned threads)
{
	for (size_t i = 0; i < nresults; i++)
		if (!strcmp(results[i].group, group) &&
		    !strcmp(results[i].name, name) &&
		    !strcmp(results[i].memory, memory) &&
		    results[i].size == size && results[i].threads == threads)
			return &results[i];
	return NULL;
}

void results_free(void)
{
	for (size_t i = 0; i < nresults; i++) {
		free(results[i].samples);
		free(results[i].cpu_samples);
	}
	free(results);
	free(skips);
}

void bench_skip(const char *group, const char *name, const char *reason)
{
	struct skipped *s;

	skips = realloc(skips, (nskips + 1) * sizeof(*skips));
	if (!skips)
		exit(1);
	s = &skips[nskips++];
	snprintf(s->group, sizeof(s->group), "%s", group);
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
	progress("%s: %s skipped: %s", group, name, reason);
}

const struct skipped *skipped_at(size_t i)
{
	return i < nskips ? &skips[i] : NULL;
}

/* Notes past the 32nd are dropped: the report is for people to read. */
void bench_note(const char *group, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (nnotes == sizeof(notes) / sizeof(notes[0]))
		return;
	n = snprintf(notes[nnotes], sizeof(notes[0]), "%s: ", group);
	va_start(ap, fmt);
	vsnprintf(notes[nnotes] + n, sizeof(notes[0]) - (size_t)n, fmt, ap);
	va_end(ap);
	nnotes++;
}

const char *note_at(size_t i)
{
	return i < nnotes ? notes[i] : NULL;
}
