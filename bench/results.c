// SPDX-License-Identifier: MIT
/*
 * The result registry: every measured case, every case skipped and why, and
 * the notes the subcommands leave for the report, in the order they came.
 */
#include <inttypes.h>
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
	if (stats_compute(r->samples, r->nsamples, &r->st))
		r->st = (struct bench_stats){ .median = NAN, .min = NAN,
					      .max = NAN, .mean = NAN };
	if (stats_compute(r->cpu_samples, r->nsamples, &r->cpu))
		r->cpu = (struct bench_stats){ .median = NAN, .min = NAN,
					       .max = NAN, .mean = NAN };
}

void result_void(struct result *r)
{
	r->nsamples = 0;
	r->comparable = false;
	result_finish(r);
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
	results = NULL;
	skips = NULL;
	nresults = cap_results = nskips = nnotes = 0;
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
	/* once each: child processes repeat their parent's */
	for (size_t i = 0; i < nnotes; i++)
		if (!strcmp(notes[i], notes[nnotes]))
			return;
	nnotes++;
}

const char *note_at(size_t i)
{
	return i < nnotes ? notes[i] : NULL;
}

/*
 * One line each, fields separated by tabs:
 *   R group name memory size threads ops bytes minflt nsamples
 *     wall-samples... cpu-samples... perf-counters...
 * (a perf counter that did not count is "-")
 *   S group name reason
 *   N note
 */
void results_dump(FILE *f)
{
	const struct skipped *s;
	const char *note;

	for (size_t i = 0; i < nresults; i++) {
		const struct result *r = &results[i];

		fprintf(f, "R\t%s\t%s\t%s\t%zu\t%u\t%" PRIu64 "\t%.17g\t%" PRIu64 "\t%zu",
			r->group, r->name, r->memory, r->size, r->threads,
			r->ops, r->bytes, r->minflt, r->nsamples);
		for (size_t k = 0; k < r->nsamples; k++)
			fprintf(f, "\t%.17g", r->samples[k]);
		for (size_t k = 0; k < r->nsamples; k++)
			fprintf(f, "\t%.17g", r->cpu_samples[k]);
		for (int c = 0; c < PERF_NCOUNTERS; c++)
			if (r->perf.valid[c])
				fprintf(f, "\t%" PRIu64, r->perf.v[c]);
			else
				fprintf(f, "\t-");
		fprintf(f, "\n");
	}
	for (size_t i = 0; (s = skipped_at(i)); i++)
		fprintf(f, "S\t%s\t%s\t%s\n", s->group, s->name, s->reason);
	for (size_t i = 0; (note = note_at(i)); i++)
		fprintf(f, "N\t%s\n", note);
}

static void load_result(char *line)
{
	char *field[10], *save = NULL, *t;
	struct result *r;
	size_t n;

	for (int i = 0; i < 10; i++)
		if (!(field[i] = strtok_r(i ? NULL : line, "\t", &save)))
			return;
	n = strtoul(field[9], NULL, 10);
	r = result_add(field[1], field[2], field[3], strtoul(field[4], NULL, 10),
		       (unsigned)strtoul(field[5], NULL, 10));
	r->ops = strtoull(field[6], NULL, 10);
	r->bytes = strtod(field[7], NULL);
	r->minflt = strtoull(field[8], NULL, 10);
	r->samples = calloc(n ? n : 1, sizeof(double));
	r->cpu_samples = calloc(n ? n : 1, sizeof(double));
	if (!r->samples || !r->cpu_samples)
		exit(1);
	for (size_t k = 0; k < 2 * n && (t = strtok_r(NULL, "\t", &save)); k++)
		(k < n ? r->samples : r->cpu_samples)[k % n] = strtod(t, NULL);
	for (int c = 0; c < PERF_NCOUNTERS && (t = strtok_r(NULL, "\t", &save)); c++) {
		r->perf.valid[c] = strcmp(t, "-") != 0;
		r->perf.v[c] = r->perf.valid[c] ? strtoull(t, NULL, 10) : 0;
	}
	r->nsamples = n;
	if (n)
		result_finish(r);
	else
		result_void(r);	/* voided in the child: still no time */
}

void results_load(FILE *f)
{
	char line[16384], *save = NULL, *group, *name, *sep;

	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0] == 'R') {
			load_result(line);
		} else if (line[0] == 'S' &&
			   (group = strtok_r(line + 2, "\t", &save)) &&
			   (name = strtok_r(NULL, "\t", &save))) {
			bench_skip(group, name, save ? save : "");
		} else if (line[0] == 'N' && (sep = strstr(line, ": "))) {
			*sep = 0;
			bench_note(line + 2, "%s", sep + 2);
		}
	}
}
