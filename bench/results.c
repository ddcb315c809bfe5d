// SPDX-License-Identifier: MIT
/*
 * The result registry: every measured case, every case skipped and why, and
 * the notes the subcommands leave for the report, in the order they came.
 */
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
	for (size_t i = 0; i < nresults; i++)
		free(results[i].samples);
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
