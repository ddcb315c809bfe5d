// SPDX-License-Identifier: MIT
/*
 * The report as latest.json: the machine, every result with its raw
 * samples and derived ratios, the library checks, what was skipped and the
 * notes, for tools to compare runs by.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "json.h"

static void json_numbers(struct json *j, const char *key, const double *v,
			 size_t n)
{
	json_begin_array(j, key);
	for (size_t k = 0; k < n; k++)
		json_number(j, NULL, v[k]);
	json_end_array(j);
}

static void json_results(struct json *j)
{
	const struct result *r;

	json_begin_array(j, "results");
	for (size_t i = 0; (r = result_at(i)); i++) {
		const struct result *best = fastest_alternative(r, false),
				    *ref = reference_result(r);

		json_begin_object(j, NULL);
		json_string(j, "group", r->group);
		json_string(j, "name", r->name);
		json_string(j, "memory", r->memory);
		json_uint(j, "size", r->size);
		json_uint(j, "threads", r->threads);
		json_uint(j, "ops_per_sample", r->ops);
		json_number(j, "bytes_per_op", r->bytes);
		json_bool(j, "library", r->is_library);
		json_bool(j, "comparable", r->comparable);
		json_numbers(j, "samples_ns_per_op", r->samples, r->nsamples);
		json_number(j, "median_ns", r->st.median);
		json_number(j, "min_ns", r->st.min);
		json_number(j, "max_ns", r->st.max);
		json_number(j, "mean_ns", r->st.mean);
		json_numbers(j, "cpu_samples_ns_per_op", r->cpu_samples, r->nsamples);
		json_number(j, "cpu_median_ns", r->cpu.median);
		json_number(j, "cpu_min_ns", r->cpu.min);
		json_number(j, "minflt_per_op", result_per_op(r, (double)r->minflt));
		if (r->bytes > 0) {
			json_number(j, "gbps_median", stats_gbps(r->bytes, r->st.median));
			json_number(j, "gbps_best", stats_gbps(r->bytes, r->st.min));
		} else {
			json_number(j, "mops_per_s_median",
				    1e3 / r->st.median * r->threads);
		}
		json_string(j, "fastest_alternative", best ? best->name : NULL);
		json_number(j, "ratio_to_fastest",
			    best ? stats_ratio(r->st.median, best->st.median) : NAN);
		json_string(j, "reference", reference_name(r->group));
		json_number(j, "ratio_to_reference",
			    ref ? stats_ratio(r->st.median, ref->st.median) : NAN);
		json_number(j, "cpu_ratio_to_reference",
			    ref ? stats_ratio(r->cpu.median, ref->cpu.median) : NAN);
		json_begin_object(j, "perf_per_op");
		for (int c = 0; c < PERF_NCOUNTERS; c++) {
			if (r->perf.valid[c])
				json_number(j, perf_name(c),
					    result_per_op(r, (double)r->perf.v[c]));
		}
		json_end_object(j);
		json_end_object(j);
	}
	json_end_array(j);
}

/* 4 KiB pages against the pool, same method and size: fill/copy only. */
static void json_page_ratios(struct json *j)
{
	const struct result *r, *a;

	json_begin_array(j, "ratios_anon4k_vs_pool");
	for (size_t i = 0; (r = result_at(i)); i++) {
		if (strcmp(r->group, "fill") && strcmp(r->group, "copy"))
			continue;
		if (!strcmp(r->memory, "anon-4K"))
			continue;
		a = result_find(r->group, r->name, "anon-4K", r->size, r->threads);
		if (!a)
			continue;
		json_begin_object(j, NULL);
		json_string(j, "group", r->group);
		json_string(j, "name", r->name);
		json_uint(j, "size", r->size);
		json_string(j, "pool", r->memory);
		json_number(j, "ratio_time_anon4k_over_pool",
			    stats_ratio(a->st.median, r->st.median));
		json_end_object(j);
	}
	json_end_array(j);
}

static void json_skipped_and_notes(struct json *j)
{
	const struct skipped *s;
	const char *note;

	json_begin_array(j, "skipped");
	for (size_t i = 0; (s = skipped_at(i)); i++) {
		json_begin_object(j, NULL);
		json_string(j, "group", s->group);
		json_string(j, "name", s->name);
		json_string(j, "reason", s->reason);
		json_end_object(j);
	}
	json_end_array(j);
	json_begin_array(j, "notes");
	for (size_t i = 0; (note = note_at(i)); i++)
		json_string(j, NULL, note);
	json_end_array(j);
}

int report_write_json(const char *path, const char *cmdline)
{
	FILE *f = fopen(path, "w");
	struct json j;
	time_t now = time(NULL);
	char date[64];
	int err;

	if (!f) {
		progress("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	json_init(&j, f);
	json_begin_object(&j, NULL);
	json_string(&j, "tool", "wcpool-bench");
	json_string(&j, "version", PACKAGE_VERSION);
	json_string(&j, "date", date);
	json_string(&j, "command", cmdline);
	json_string(&j, "mode", opt.mode == MODE_SMOKE ? "smoke" :
		    opt.mode == MODE_QUICK ? "quick" :
		    opt.mode == MODE_FULL ? "full" : "standard");
	json_begin_object(&j, "method");
	json_string(&j, "timer", "CLOCK_MONOTONIC");
	json_string(&j, "samples", "ns per operation; each sample times ops_per_sample operations (of each thread)");
	json_string(&j, "cpu_samples", "CPU time per operation of all threads: the worker threads' CLOCK_THREAD_CPUTIME_ID over their timed part (alloc, scaling, workload, frames), else the process's CLOCK_PROCESS_CPUTIME_ID over the sample (untimed set-up included)");
	json_string(&j, "per_op", "minflt_per_op (getrusage ru_minflt) and perf_per_op: per operation of all threads");
	json_string(&j, "warmup", "two single operations, then one calibrating sample, not recorded");
	json_number(&j, "budget_ms_per_case", opt.budget_ms);
	json_number(&j, "tolerance", opt.tolerance);
	json_end_object(&j);
	machine_json(&j);
	json_results(&j);
	library_checks(&j, NULL);
	json_page_ratios(&j);
	workload_ratios(&j, NULL);
	frames_ratios(&j, NULL);
	scaling_ratios(&j, NULL);
	json_skipped_and_notes(&j);
	json_end_object(&j);
	err = json_finish(&j);
	if (fclose(f))
		err = -1;
	if (err)
		progress("error writing %s", path);
	return err;
}
