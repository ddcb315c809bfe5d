// SPDX-License-Identifier: MIT
/*
 * The ratios derived across rows: wcpool over jemalloc and glibc per
 * workload program with their geometric means, wcpool's speed-up over glibc
 * and jemalloc per frame row, and scaling with threads.
 * Each goes into latest.json (@j) or, as a table, on the terminal (@tty).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "json.h"

#define MAX_PROGRAMS 32

/* "larson hugetlb-2M": the workload ends at the last space, the pages follow */
static const char *pages_of(const char *memory)
{
	const char *sp = strrchr(memory, ' ');

	return sp ? sp + 1 : memory;
}

static int workload_len(const char *memory)
{
	return (int)(pages_of(memory) - memory - (pages_of(memory) != memory));
}

static bool has_group(const char *group)
{
	const struct result *r;

	for (size_t i = 0; (r = result_at(i)); i++)
		if (!strcmp(r->group, group))
			return true;
	return false;
}

/* wcpool's time over @other's in @r's row: CPU ([0]) and wall ([1]) */
static void over(const struct result *r, const char *other, double ratio[2])
{
	const struct result *o = result_find(r->group, other, r->memory, r->size,
					     r->threads);

	ratio[0] = o ? stats_ratio(r->cpu.median, o->cpu.median) : NAN;
	ratio[1] = o ? stats_ratio(r->st.median, o->st.median) : NAN;
}

static void geomeans(struct json *j, FILE *tty, const char *pages,
		     double v[4][MAX_PROGRAMS], size_t n)
{
	static const char *const keys[4] = {
		"wcpool_over_jemalloc_cpu", "wcpool_over_jemalloc_wall",
		"wcpool_over_glibc_cpu", "wcpool_over_glibc_wall",
	};
	double g[4];
	size_t used[4];

	for (int k = 0; k < 4; k++)
		g[k] = stats_geomean(v[k], n, &used[k]);
	if (tty) {
		fprintf(tty, "%-16s %-12s     %7.3f (%.3f) of %zu  %7.3f (%.3f) of %zu\n",
			"geometric mean", pages, g[0], g[1], used[0], g[2], g[3],
			used[2]);
		return;
	}
	json_begin_object(j, NULL);
	json_string(j, "pages", pages);
	for (int k = 0; k < 4; k++)
		json_number(j, keys[k], g[k]);
	json_uint(j, "programs_jemalloc", used[0]);
	json_uint(j, "programs_glibc", used[2]);
	json_end_object(j);
}

void workload_ratios(struct json *j, FILE *tty)
{
	double v[NPAGES][4][MAX_PROGRAMS];
	size_t n[NPAGES] = { 0 };
	const struct result *r;

	if (!has_group("workload"))
		return;
	if (tty)
		fprintf(tty, "\n== workload: wcpool's time over jemalloc's and "
			"glibc's on the same pages (CPU time, wall time in "
			"brackets; geometric means of the programs)\n"
			"%-16s %-12s %3s %-19s %-19s\n", "program", "pages",
			"thr", "wcpool/jemalloc", "wcpool/glibc");
	else
		json_begin_array(j, "ratios_workload");
	for (size_t i = 0; (r = result_at(i)); i++) {
		double je[2], gl[2];
		char program[40];
		int p;

		if (strcmp(r->group, "workload") || strcmp(r->name, "wcpool"))
			continue;
		over(r, "jemalloc", je);
		over(r, "glibc", gl);
		for (p = 0; p < NPAGES && strcmp(pages_label[p], pages_of(r->memory)); p++)
			;
		if (p < NPAGES && n[p] < MAX_PROGRAMS) {
			v[p][0][n[p]] = je[0];
			v[p][1][n[p]] = je[1];
			v[p][2][n[p]] = gl[0];
			v[p][3][n[p]++] = gl[1];
		}
		if (tty) {
			fprintf(tty, "%-16.*s %-12s %3u %7.3f (%.3f)     %7.3f (%.3f)\n",
				workload_len(r->memory), r->memory,
				pages_of(r->memory), r->threads, je[0], je[1],
				gl[0], gl[1]);
			continue;
		}
		json_begin_object(j, NULL);
		snprintf(program, sizeof(program), "%.*s",
			 workload_len(r->memory), r->memory);
		json_string(j, "program", program);
		json_string(j, "pages", pages_of(r->memory));
		json_uint(j, "threads", r->threads);
		json_number(j, "wcpool_over_jemalloc_cpu", je[0]);
		json_number(j, "wcpool_over_jemalloc_wall", je[1]);
		json_number(j, "wcpool_over_glibc_cpu", gl[0]);
		json_number(j, "wcpool_over_glibc_wall", gl[1]);
		json_end_object(j);
	}
	if (j) {
		json_end_array(j);
		json_begin_array(j, "geomean_workload");
	}
	for (int p = 0; p < NPAGES; p++)
		if (n[p])
			geomeans(j, tty, pages_label[p], v[p], n[p]);
	if (j)
		json_end_array(j);
}

/* The target: frames at least this much faster than glibc's */
#define FRAMES_TARGET 1.5

void frames_ratios(struct json *j, FILE *tty)
{
	const struct result *r;

	if (!has_group("frames"))
		return;
	if (tty)
		fprintf(tty, "\n== frames: wcpool's time per frame (wall, CPU of "
			"all threads), GB/s per thread, minor faults per frame once "
			"warmed up (0 expected for one size), and its speed-up "
			"over glibc and jemalloc on the same pages (their time "
			"over wcpool's: wall, CPU in brackets; target: %.1fx "
			"glibc's wall time)\n%-12s %-10s %3s %9s %9s %8s %8s  "
			"%-16s %-16s %s\n", FRAMES_TARGET, "frames", "pages",
			"thr", "us/frame", "cpu us", "GB/s", "faults", "x glibc",
			"x jemalloc", "check");
	else
		json_begin_array(j, "ratios_frames");
	for (size_t i = 0; (r = result_at(i)); i++) {
		double je[2], gl[2], faults = result_per_op(r, (double)r->minflt);
		bool fast, steady = !r->size || faults == 0;
		char frames[40];

		if (strcmp(r->group, "frames") || strcmp(r->name, "wcpool"))
			continue;
		over(r, "jemalloc", je);
		over(r, "glibc", gl);
		for (int k = 0; k < 2; k++)
			je[k] = 1 / je[k], gl[k] = 1 / gl[k];
		fast = gl[1] >= FRAMES_TARGET;
		snprintf(frames, sizeof(frames), "%.*s", workload_len(r->memory),
			 r->memory);
		if (tty) {
			fprintf(tty, "%-12s %-10s %3u %9.1f %9.1f %8.2f %8.3g  "
				"%6.3f (%6.3f) %6.3f (%6.3f) %s%s\n", frames,
				pages_of(r->memory), r->threads, r->st.median / 1e3,
				r->cpu.median / 1e3, stats_gbps(r->bytes, r->st.median),
				faults, gl[1], gl[0], je[1], je[0],
				isnan(gl[1]) ? "no glibc" : fast ? "ok" : "SLOW",
				steady ? "" : ", FAULTS");
			continue;
		}
		json_begin_object(j, NULL);
		json_string(j, "frames", frames);
		json_string(j, "pages", pages_of(r->memory));
		json_uint(j, "threads", r->threads);
		json_uint(j, "size", r->size);
		json_number(j, "us_per_frame", r->st.median / 1e3);
		json_number(j, "cpu_us_per_frame", r->cpu.median / 1e3);
		json_number(j, "gbps_per_thread", stats_gbps(r->bytes, r->st.median));
		json_number(j, "minflt_per_frame", faults);
		json_number(j, "speedup_over_glibc_wall", gl[1]);
		json_number(j, "speedup_over_glibc_cpu", gl[0]);
		json_number(j, "speedup_over_jemalloc_wall", je[1]);
		json_number(j, "speedup_over_jemalloc_cpu", je[0]);
		json_number(j, "target_speedup_over_glibc", FRAMES_TARGET);
		if (isnan(gl[1]))
			json_null(j, "target_met");
		else
			json_bool(j, "target_met", fast);
		if (r->size)
			json_bool(j, "no_faults", faults == 0);
		else
			json_null(j, "no_faults");
		json_end_object(j);
	}
	if (j)
		json_end_array(j);
}

void scaling_ratios(struct json *j, FILE *tty)
{
	const struct result *r, *one;

	if (!has_group("scaling"))
		return;
	if (tty)
		fprintf(tty, "\n== scaling: Mops/s per thread by wall time (by CPU "
			"time: operations per CPU-second of the threads), and "
			"all threads' over one thread's\n%-28s %-17s %3s %10s "
			"%10s %11s %11s\n", "memory/workload", "method", "thr",
			"per thread", "(cpu)", "x 1 thread", "(cpu)");
	else
		json_begin_array(j, "ratios_scaling");
	for (size_t i = 0; (r = result_at(i)); i++) {
		double total, total_cpu;

		if (strcmp(r->group, "scaling") ||
		    !(one = result_find(r->group, r->name, r->memory, r->size, 1)))
			continue;
		total = r->threads * stats_ratio(one->st.median, r->st.median);
		total_cpu = r->threads * stats_ratio(one->cpu.median, r->cpu.median);
		if (tty) {
			fprintf(tty, "%-28s %-17s %3u %10.2f %10.2f %11.3f %11.3f\n",
				r->memory, r->name, r->threads, 1e3 / r->st.median,
				1e3 / r->cpu.median, total, total_cpu);
			continue;
		}
		json_begin_object(j, NULL);
		json_string(j, "name", r->name);
		json_string(j, "memory", r->memory);
		json_uint(j, "threads", r->threads);
		json_number(j, "mops_per_s_per_thread", 1e3 / r->st.median);
		json_number(j, "mops_per_cpu_s", 1e3 / r->cpu.median);
		json_number(j, "total_over_one_thread", total);
		json_number(j, "total_over_one_thread_cpu", total_cpu);
		json_end_object(j);
	}
	if (j)
		json_end_array(j);
}
