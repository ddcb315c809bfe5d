// SPDX-License-Identifier: MIT
/*
 * The report on stdout: a table per group with each case's ratios to the
 * fastest alternative and to the group's reference, then the check that
 * the library's choice is within the tolerance of the fastest alternative.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "json.h"

const char *size_str(size_t size, char *buf, size_t len)
{
	if (size >= GiB && size % GiB == 0)
		snprintf(buf, len, "%zu GiB", size / GiB);
	else if (size >= MiB && size % MiB == 0)
		snprintf(buf, len, "%zu MiB", size / MiB);
	else if (size >= MiB)
		snprintf(buf, len, "%.2f MiB", (double)size / MiB);
	else if (size >= KiB && size % KiB == 0)
		snprintf(buf, len, "%zu KiB", size / KiB);
	else if (size == 0)
		snprintf(buf, len, "mixed");
	else
		snprintf(buf, len, "%zu B", size);
	return buf;
}

/* Results that compete: same group, memory, size and thread count. */
static bool same_bucket(const struct result *a, const struct result *b)
{
	return !strcmp(a->group, b->group) && !strcmp(a->memory, b->memory) &&
	       a->size == b->size && a->threads == b->threads;
}

static double time_of(const struct result *r, bool by_min)
{
	return by_min ? r->st.min : r->st.median;
}

const struct result *fastest_alternative(const struct result *r, bool by_min)
{
	const struct result *best = NULL, *o;

	for (size_t i = 0; (o = result_at(i)); i++) {
		if (!same_bucket(o, r) || !o->comparable || o->is_library ||
		    isnan(time_of(o, by_min)))
			continue;
		if (!best || time_of(o, by_min) < time_of(best, by_min))
			best = o;
	}
	return best;
}

const char *reference_name(const char *group)
{
	return !strcmp(group, "fill") ? "memset" :
	       !strcmp(group, "copy") ? "memcpy" :
	       !strcmp(group, "flush") ? "clflush+sfence" :
	       !strcmp(group, "alloc") || !strcmp(group, "scaling") ||
	       !strcmp(group, "workload") ? "jemalloc" :
	       !strcmp(group, "frames") ? "glibc" :
	       !strcmp(group, "register") ? "pool" : "";
}

const struct result *reference_result(const struct result *r)
{
	return result_find(r->group, reference_name(r->group), r->memory,
			   r->size, r->threads);
}

/* A software or hardware counter per operation; "-" where it did not count. */
static void print_counter(FILE *f, const struct result *r, int c)
{
	if (r->perf.valid[c])
		fprintf(f, " %9.3g", result_per_op(r, (double)r->perf.v[c]));
	else
		fprintf(f, " %9s", "-");
}

/* Whether any case counted dTLB misses (a PMU the VM passes through). */
static bool any_tlb_counts(void)
{
	const struct result *r;

	for (size_t i = 0; (r = result_at(i)); i++)
		if (r->nsamples && r->perf.valid[PERF_DTLB_MISSES])
			return true;
	return false;
}

static void print_tables(FILE *f)
{
	bool tlb = any_tlb_counts();
	const char *group = "";
	const struct result *r;
	char sz[32];
	int w = 15;

	for (size_t i = 0; (r = result_at(i)); i++)
		w = (int)strlen(r->memory) > w ? (int)strlen(r->memory) : w;
	for (size_t i = 0; (r = result_at(i)); i++) {
		const struct result *best = fastest_alternative(r, false),
				    *ref = reference_result(r);
		bool tp = r->bytes > 0;

		/* voided (result_void()): listed under "skipped" instead */
		if (!r->nsamples)
			continue;

		if (strcmp(group, r->group)) {
			group = r->group;
			fprintf(f, "\n== %s (median and min of each case, ns per "
				"operation of a thread; cpu: median CPU time per "
				"operation of all threads; x best: median / fastest "
				"alternative in the same row group; x %s, cpu x %s: "
				"median / %s's, of the times and of the CPU times; "
				"faults/op: minor page faults; csw/op: context "
				"switches%s)\n", group,
				reference_name(group), reference_name(group),
				reference_name(group),
				tlb ? "; dTLB/op: dTLB load misses" : "");
			fprintf(f, "%-*s %9s %3s %-17s %11s %11s %11s %9s %7s %7s %9s %9s %9s",
				w, "memory/workload", "size", "thr", "method",
				"median", "min", "cpu", tp ? "GB/s" : "Mops/s",
				"x best", "x ref", "cpu x ref", "faults/op",
				"csw/op");
			fprintf(f, tlb ? " %9s\n" : "\n", "dTLB/op");
		}
		fprintf(f, "%-*s %9s %3u %-17s %11.1f %11.1f %11.1f %9.2f %7.3f %7.3f %9.3f %9.3g",
			w, r->memory, size_str(r->size, sz, sizeof(sz)), r->threads,
			r->name, r->st.median, r->st.min, r->cpu.median,
			tp ? stats_gbps(r->bytes, r->st.median) :
			     1e3 / r->st.median * r->threads,
			best ? stats_ratio(r->st.median, best->st.median) : NAN,
			ref ? stats_ratio(r->st.median, ref->st.median) : NAN,
			ref ? stats_ratio(r->cpu.median, ref->cpu.median) : NAN,
			result_per_op(r, (double)r->minflt));
		print_counter(f, r, PERF_CONTEXT_SWITCHES);
		if (tlb)
			print_counter(f, r, PERF_DTLB_MISSES);
		fprintf(f, "%s\n", r->is_library ? "  <- libwcpool" : "");
	}
}

/*
 * The library check: its median against the fastest alternative's median,
 * and its minimum against the fastest minimum.  On a quiet machine both
 * agree; where other work disturbs the run the minima are the steadier
 * figure, so a case within tolerance only by the minima says so.
 */
int library_checks(struct json *j, FILE *tty)
{
	unsigned ok = 0, ok_min = 0, slow = 0;
	const struct result *r;
	char sz[32];

	if (j)
		json_begin_array(j, "library_checks");
	else
		fprintf(tty, "\n== library choice vs the fastest alternative "
			"(tolerance %.0f %%; ratio of medians, ratio of minima)\n",
			opt.tolerance * 100);
	for (size_t i = 0; (r = result_at(i)); i++) {
		const struct result *best, *bmin;
		double ratio, rmin;
		bool within, within_min;
		const char *verdict;

		if (!r->is_library || !(best = fastest_alternative(r, false)) ||
		    !(bmin = fastest_alternative(r, true)))
			continue;
		ratio = stats_ratio(r->st.median, best->st.median);
		rmin = stats_ratio(r->st.min, bmin->st.min);
		within = stats_within(r->st.median, best->st.median, opt.tolerance);
		within_min = stats_within(r->st.min, bmin->st.min, opt.tolerance);
		if (within) {
			ok++;
			verdict = "ok";
		} else if (within_min) {
			ok_min++;
			verdict = "ok by minima (medians disturbed)";
		} else {
			slow++;
			verdict = "SLOWER than the best";
		}
		if (j) {
			json_begin_object(j, NULL);
			json_string(j, "group", r->group);
			json_string(j, "memory", r->memory);
			json_uint(j, "size", r->size);
			json_string(j, "library", r->name);
			json_number(j, "library_median_ns", r->st.median);
			json_number(j, "library_min_ns", r->st.min);
			json_string(j, "best_by_median", best->name);
			json_number(j, "best_median_ns", best->st.median);
			json_string(j, "best_by_min", bmin->name);
			json_number(j, "best_min_ns", bmin->st.min);
			json_number(j, "ratio_median", ratio);
			json_number(j, "ratio_min", rmin);
			json_number(j, "tolerance", opt.tolerance);
			json_bool(j, "within_tolerance", within);
			json_bool(j, "within_tolerance_by_min", within_min);
			json_string(j, "verdict", verdict);
			json_end_object(j);
		} else {
			fprintf(tty, "%-6s %-12s %8s %-10s %6.3f x %-17s %6.3f x %-17s %s\n",
				r->group, r->memory, size_str(r->size, sz, sizeof(sz)),
				r->name, ratio, best->name, rmin, bmin->name, verdict);
		}
	}
	if (j)
		json_end_array(j);
	else if (ok + ok_min + slow)
		fprintf(tty, "library within %.0f %% of the fastest alternative: "
			"%u of %u cases by medians, %u more by minima, %u slower\n",
			opt.tolerance * 100, ok, ok + ok_min + slow, ok_min, slow);
	return (int)slow;
}

void report_print(FILE *f)
{
	const struct skipped *s;
	const char *note;

	print_tables(f);
	workload_ratios(NULL, f);
	frames_ratios(NULL, f);
	scaling_ratios(NULL, f);
	library_checks(NULL, f);
	for (size_t i = 0; (note = note_at(i)); i++)
		fprintf(f, "note: %s\n", note);
	for (size_t i = 0; (s = skipped_at(i)); i++)
		fprintf(f, "skipped: %s %s: %s\n", s->group, s->name, s->reason);
}
