// SPDX-License-Identifier: MIT
/*
 * wcpool-bench: what wcpool buys on this machine.  Every alternative runs
 * side by side in one process, pinned to one CPU; the output is a table on
 * stdout, every raw figure and derived ratio in results/latest.json, and
 * gnuplot plots of fill, copy and flush throughput against size.
 *
 *   wcpool-bench [options] fill|copy|flush|alloc|register|all ...
 */
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <gnu/libc-version.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"
#include "json.h"

struct bench_options opt = {
	.mode = MODE_STANDARD,
	.cpu = -2,
	.out = "bench/results",
	.max_size = GiB,
	.tolerance = 0.05,
	.budget_ms = 400,
	.plot = true,
};

static struct result *results;
static size_t nresults, cap_results;

struct skipped {
	char group[16], name[40], reason[160];
};
static struct skipped *skips;
static size_t nskips;
static char notes[32][200];
static size_t nnotes;

/* ---- results ----------------------------------------------------------- */

/* Room for @n more results, so that pointers to the next @n stay valid. */
static void result_reserve(size_t n)
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

	result_reserve(1);
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

void progress(const char *fmt, ...)
{
	static double start;
	va_list ap;

	if (!start)
		start = now_ns();
	fprintf(stderr, "wcpool-bench [%6.1fs] ", (now_ns() - start) / 1e9);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

size_t reps_for(double sample_ns)
{
	size_t lo = 9, hi = 41, n;

	if (opt.mode == MODE_SMOKE)
		return 3;
	if (opt.mode == MODE_FULL)
		lo = 11, hi = 101;
	if (!(sample_ns > 0))
		return lo;
	n = (size_t)(opt.budget_ms * 1e6 / sample_ns);
	return n < lo ? lo : n > hi ? hi : n;
}

static void report_case(const struct result *r)
{
	char sz[32];

	if (r->bytes > 0)
		progress("%-8s %-17s %-20s %8s  %8.2f GB/s", r->group, r->name,
			 r->memory, size_str(r->size, sz, sizeof(sz)),
			 stats_gbps(r->bytes, r->st.median));
	else
		progress("%-8s %-17s %-20s %8s %2u thr %10.1f ns/op", r->group,
			 r->name, r->memory, size_str(r->size, sz, sizeof(sz)),
			 r->threads, r->st.median);
}

void measure_set(const char *group, const char *memory, size_t size,
		 double bytes, unsigned threads, struct bench_case *cases,
		 size_t n)
{
	/* thread start-up stays a small part of a multi-threaded sample */
	double target = (opt.mode == MODE_SMOKE ? 1e5 : 1e6) * (threads > 1 ? 5 : 1);
	double total = 0;
	size_t reps;

	result_reserve(n);
	for (size_t i = 0; i < n; i++) {
		struct bench_case *c = &cases[i];
		uint64_t iters = 1;
		double t;

		c->r = result_add(group, c->name, memory, size, threads);
		c->r->is_library = c->is_library;
		c->r->comparable = c->comparable;
		c->r->bytes = bytes;
		/*
		 * Warm-up: page faults, caches, clocks; then calibrate on the
		 * wall time, which includes the untimed set-up of each
		 * operation (flush re-dirties the buffer, say).
		 */
		c->fn(c->arg, 1);
		for (;;) {
			t = now_ns();
			c->fn(c->arg, iters);
			t = now_ns() - t;
			if (t >= target || iters >= ((uint64_t)1 << 32))
				break;
			iters *= t * 10 < target ? 10 : 2;
		}
		c->r->ops = iters;
		total += t;
	}
	reps = reps_for(total / (double)n);
	for (size_t i = 0; i < n; i++) {
		cases[i].r->samples = calloc(reps, sizeof(double));
		if (!cases[i].r->samples)
			exit(1);
	}
	for (size_t k = 0; k < reps; k++) {
		for (size_t m = 0; m < n; m++) {
			struct result *r = cases[(m + k) % n].r;
			struct bench_case *c = &cases[(m + k) % n];
			struct perf_values a, b, d;

			/*
			 * One untimed operation first: the sample starts from
			 * the cache state this case leaves, not the one the
			 * case before it left (non-temporal stores evict).
			 */
			c->fn(c->arg, 1);
			perf_read(&a);
			r->samples[k] = c->fn(c->arg, r->ops) / (double)r->ops;
			perf_read(&b);
			perf_diff(&d, &a, &b);
			for (int p = 0; p < PERF_NCOUNTERS; p++) {
				r->perf.valid[p] = d.valid[p];
				r->perf.v[p] += d.v[p];
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		cases[i].r->nsamples = reps;
		result_finish(cases[i].r);
		report_case(cases[i].r);
	}
}

struct result *measure(const char *group, const char *name,
		       const char *memory, size_t size, double bytes,
		       bench_fn fn, void *arg)
{
	struct bench_case c = { .name = name, .fn = fn, .arg = arg,
				.comparable = true };

	measure_set(group, memory, size, bytes, 1, &c, 1);
	return c.r;
}

/* ---- helpers ------------------------------------------------------------ */

void pin_to(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		progress("cannot pin to CPU %d: %s", cpu, strerror(errno));
}

const char *size_str(size_t size, char *buf, size_t len)
{
	if (size >= GiB && size % GiB == 0)
		snprintf(buf, len, "%zu GiB", size / GiB);
	else if (size >= MiB && size % MiB == 0)
		snprintf(buf, len, "%zu MiB", size / MiB);
	else if (size >= KiB && size % KiB == 0)
		snprintf(buf, len, "%zu KiB", size / KiB);
	else if (size == 0)
		snprintf(buf, len, "mixed");
	else
		snprintf(buf, len, "%zu B", size);
	return buf;
}

void *anon_4k(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, size, MADV_NOHUGEPAGE);
	memset(p, 1, size);
	return p;
}

void anon_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

void *hugetlb_map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 1, size);
	return p;
}

long hugepages_free(void)
{
	FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "r");
	long n = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%ld", &n) != 1)
		n = 0;
	fclose(f);
	return n;
}

struct wcp_pool *bench_pool(void)
{
	struct wcp_pool_options o = { .flags = WCP_POOL_ALLOW_WB_FALLBACK };
	struct wcp_pool *pool = NULL;
	int err = wcp_pool_create(&o, &pool);

	if (err) {
		progress("wcp_pool_create: %s", strerror(-err));
		return NULL;
	}
	return pool;
}

size_t bench_pools(struct wcp_pool **pools, size_t max)
{
	static const uint32_t policies[] = { WCP_POLICY_WC, WCP_POLICY_UC,
					     WCP_POLICY_WB };
	size_t n = 0;

	if (access("/dev/wcpool", F_OK)) {
		pools[0] = bench_pool();
		return pools[0] ? 1 : 0;
	}
	for (size_t i = 0; i < 3 && n < max; i++) {
		struct wcp_pool_options o = { .backend = WCP_BACKEND_MODULE,
					      .policy = policies[i] };
		int err = wcp_pool_create(&o, &pools[n]);

		if (!err)
			n++;
		else
			bench_skip("pools", policy_name(policies[i]), strerror(-err));
	}
	if (n < max) {
		struct wcp_pool_options o = { .backend = WCP_BACKEND_MEMFD };

		if (!wcp_pool_create(&o, &pools[n]))
			n++;
	}
	return n;
}

const char *backend_name(uint32_t b)
{
	return b == WCP_BACKEND_MODULE ? "module" :
	       b == WCP_BACKEND_MEMFD  ? "memfd" : "?";
}

const char *policy_name(uint32_t p)
{
	return p == WCP_POLICY_WC ? "WC" : p == WCP_POLICY_UC ? "UC" :
	       p == WCP_POLICY_WB ? "WB" : "?";
}

const char *pool_label(const struct wcp_pool *pool, char *buf, size_t len)
{
	struct wcp_pool_info info;

	wcp_pool_info(pool, &info);
	snprintf(buf, len, "%s-%s-%s", backend_name(info.backend),
		 policy_name(info.policy),
		 info.page_size >= GiB ? "1G" :
		 info.page_size >= MiB ? "2M" : "4K");
	return buf;
}

/* ---- machine facts ------------------------------------------------------ */

static char cpu_model[128], cpu_flags[4096];

static void read_cpuinfo(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[8192];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *v = strchr(line, ':');

		if (!v)
			continue;
		v += 1 + (v[1] == ' ');
		v[strcspn(v, "\n")] = 0;
		if (!cpu_model[0] && !strncmp(line, "model name", 10))
			snprintf(cpu_model, sizeof(cpu_model), "%s", v);
		if (!cpu_flags[0] && !strncmp(line, "flags", 5))
			snprintf(cpu_flags, sizeof(cpu_flags), "%s", v);
	}
	fclose(f);
}

static bool has_flag(const char *flag)
{
	size_t n = strlen(flag);

	for (const char *p = cpu_flags; (p = strstr(p, flag)); p += n)
		if ((p == cpu_flags || p[-1] == ' ') &&
		    (p[n] == ' ' || p[n] == 0))
			return true;
	return false;
}

static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = 0;
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

static const char *store_name(int m)
{
	return m == WCP_STORE_PLAIN ? "plain" : m == WCP_STORE_STREAM ? "stream" : "?";
}

static const char *flush_name(int m)
{
	return m == WCP_FLUSH_SFENCE ? "sfence" : m == WCP_FLUSH_CLWB ? "clwb" :
	       m == WCP_FLUSH_CLFLUSHOPT ? "clflushopt" :
	       m == WCP_FLUSH_CLFLUSH ? "clflush" : "?";
}

static void json_machine(struct json *j)
{
	static const char *const interesting[] = {
		"sse4_1", "avx", "avx2", "avx512f", "avx512bw", "erms", "fsrm",
		"clflush", "clflushopt", "clwb", "movdir64b", "hypervisor",
		"pat", "pdpe1gb",
	};
	struct utsname u;
	char buf[256];
	double load[3];
	Dl_info di;
	struct wcp_pool *pool = bench_pool();

	uname(&u);
	json_begin_object(j, "machine");
	json_string(j, "cpu_model", cpu_model);
	json_int(j, "cpus_online", sysconf(_SC_NPROCESSORS_ONLN));
	json_int(j, "pinned_cpu", opt.cpu);
	json_begin_object(j, "cpu_flags_of_interest");
	for (size_t i = 0; i < sizeof(interesting) / sizeof(*interesting); i++)
		json_bool(j, interesting[i], has_flag(interesting[i]));
	json_end_object(j);
	json_string(j, "cpu_flags", cpu_flags);
	json_int(j, "l1d_cache", sysconf(_SC_LEVEL1_DCACHE_SIZE));
	json_int(j, "l2_cache", sysconf(_SC_LEVEL2_CACHE_SIZE));
	json_int(j, "l3_cache", sysconf(_SC_LEVEL3_CACHE_SIZE));
	snprintf(buf, sizeof(buf), "%s %s %s", u.sysname, u.release, u.version);
	json_string(j, "kernel", buf);
	json_string(j, "glibc", gnu_get_libc_version());
	json_string(j, "compiler", __VERSION__);
	read_line("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf));
	json_string(j, "thp_enabled", buf);
	read_line("/proc/sys/vm/nr_hugepages", buf, sizeof(buf));
	json_string(j, "hugepages_2m_total", buf);
	json_int(j, "hugepages_2m_free_at_start", hugepages_free());
	json_int(j, "page_size", sysconf(_SC_PAGESIZE));
	if (getloadavg(load, 3) == 3) {
		json_begin_array(j, "loadavg_at_end");
		for (int i = 0; i < 3; i++)
			json_number(j, NULL, load[i]);
		json_end_array(j);
	}
	if (dladdr((void *)malloc, &di) && di.dli_fname)
		json_string(j, "process_malloc_from", di.dli_fname);
	json_end_object(j);

	json_begin_object(j, "pool");
	if (pool) {
		struct wcp_pool_info info;

		wcp_pool_info(pool, &info);
		json_string(j, "backend", backend_name(info.backend));
		json_string(j, "policy", policy_name(info.policy));
		json_uint(j, "page_size", info.page_size);
		json_bool(j, "module_present", access("/dev/wcpool", F_OK) == 0);
		json_uint(j, "stream_threshold", wcp_stream_threshold());
		json_string(j, "store_choice_4KiB",
			    store_name(wcp_store_choice(pool, 4096)));
		json_string(j, "store_choice_1GiB",
			    store_name(wcp_store_choice(pool, GiB)));
		json_string(j, "flush_choice",
			    flush_name(wcp_flush_choice(pool)));
		wcp_pool_destroy(pool);
	}
	json_end_object(j);

	json_begin_object(j, "perf_counters");
	for (int i = 0; i < PERF_NCOUNTERS; i++)
		json_string(j, perf_name(i),
			    perf_status(i) ? perf_status(i) : "available");
	json_end_object(j);
}

/* ---- derived figures ---------------------------------------------------- */

static bool same_bucket(const struct result *a, const struct result *b)
{
	return !strcmp(a->group, b->group) && !strcmp(a->memory, b->memory) &&
	       a->size == b->size && a->threads == b->threads;
}

/* Fastest comparable result of @r's bucket, not counting the library. */
static const struct result *best_of(const struct result *r)
{
	const struct result *best = NULL;

	for (size_t i = 0; i < nresults; i++) {
		const struct result *o = &results[i];

		if (!same_bucket(o, r) || !o->comparable || o->is_library ||
		    isnan(o->st.median))
			continue;
		if (!best || o->st.median < best->st.median)
			best = o;
	}
	return best;
}

/* Fastest comparable alternative by its best (minimum) sample. */
static const struct result *best_min_of(const struct result *r)
{
	const struct result *best = NULL;

	for (size_t i = 0; i < nresults; i++) {
		const struct result *o = &results[i];

		if (!same_bucket(o, r) || !o->comparable || o->is_library ||
		    isnan(o->st.min))
			continue;
		if (!best || o->st.min < best->st.min)
			best = o;
	}
	return best;
}

static const struct result *find(const char *group, const char *name,
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

/* The reference each group's ratios are taken against. */
static const char *reference_of(const char *group)
{
	return !strcmp(group, "fill") ? "memset" :
	       !strcmp(group, "copy") ? "memcpy" :
	       !strcmp(group, "flush") ? "clflush+sfence" :
	       !strcmp(group, "alloc") ? "wcpool" :
	       !strcmp(group, "register") ? "pool" : "";
}

static const struct result *reference(const struct result *r)
{
	return find(r->group, reference_of(r->group), r->memory, r->size,
		    r->threads);
}

/* ---- output ------------------------------------------------------------- */

static void print_tables(FILE *f)
{
	const char *group = "";
	char sz[32];

	for (size_t i = 0; i < nresults; i++) {
		const struct result *r = &results[i], *best = best_of(r),
				    *ref = reference(r);
		bool tp = r->bytes > 0;

		if (strcmp(group, r->group)) {
			group = r->group;
			fprintf(f, "\n== %s (median and min of each case; x best: "
				"median / fastest alternative in the same row group; "
				"x %s: median / %s's)\n", group,
				reference_of(group), reference_of(group));
			fprintf(f, "%-22s %9s %3s %-17s %13s %13s %9s %7s %7s %9s\n",
				"memory/workload", "size", "thr", "method",
				"median", "min", tp ? "GB/s" : "Mops/s",
				"x best", "x ref", "faults/op");
		}
		fprintf(f, "%-22s %9s %3u %-17s %10.1f ns %10.1f ns %9.2f %7.3f %7.3f %9.3g%s\n",
			r->memory, size_str(r->size, sz, sizeof(sz)), r->threads,
			r->name, r->st.median, r->st.min,
			tp ? stats_gbps(r->bytes, r->st.median) :
			     1e3 / r->st.median * r->threads,
			best ? stats_ratio(r->st.median, best->st.median) : NAN,
			ref ? stats_ratio(r->st.median, ref->st.median) : NAN,
			r->perf.valid[PERF_PAGE_FAULTS] ?
				(double)r->perf.v[PERF_PAGE_FAULTS] /
				(double)(r->ops * r->nsamples) : NAN,
			r->is_library ? "  <- libwcpool" : "");
	}
}

/*
 * The library check: its median against the fastest alternative's median,
 * and its minimum against the fastest minimum.  On a quiet machine both
 * agree; where other work disturbs the run the minima are the steadier
 * figure, so a case within tolerance only by the minima says so.
 */
static int library_checks(struct json *j, FILE *tty)
{
	unsigned ok = 0, ok_min = 0, slow = 0;
	char sz[32];

	if (j)
		json_begin_array(j, "library_checks");
	else
		fprintf(tty, "\n== library choice vs the fastest alternative "
			"(tolerance %.0f %%; ratio of medians, ratio of minima)\n",
			opt.tolerance * 100);
	for (size_t i = 0; i < nresults; i++) {
		const struct result *r = &results[i], *best, *bmin;
		double ratio, rmin;
		bool within, within_min;
		const char *verdict;

		if (!r->is_library || !(best = best_of(r)) || !(bmin = best_min_of(r)))
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

static void json_results(struct json *j)
{
	json_begin_array(j, "results");
	for (size_t i = 0; i < nresults; i++) {
		const struct result *r = &results[i], *best = best_of(r),
				    *ref = reference(r);

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
		json_begin_array(j, "samples_ns_per_op");
		for (size_t k = 0; k < r->nsamples; k++)
			json_number(j, NULL, r->samples[k]);
		json_end_array(j);
		json_number(j, "median_ns", r->st.median);
		json_number(j, "min_ns", r->st.min);
		json_number(j, "max_ns", r->st.max);
		json_number(j, "mean_ns", r->st.mean);
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
		json_string(j, "reference", reference_of(r->group));
		json_number(j, "ratio_to_reference",
			    ref ? stats_ratio(r->st.median, ref->st.median) : NAN);
		json_begin_object(j, "perf_per_op");
		for (int c = 0; c < PERF_NCOUNTERS; c++) {
			if (r->perf.valid[c])
				json_number(j, perf_name(c),
					    (double)r->perf.v[c] /
					    (double)(r->ops * r->nsamples));
		}
		json_end_object(j);
		json_end_object(j);
	}
	json_end_array(j);
}

/* 4 KiB pages against the pool, same method and size: fill/copy only. */
static void json_page_ratios(struct json *j)
{
	json_begin_array(j, "ratios_anon4k_vs_pool");
	for (size_t i = 0; i < nresults; i++) {
		const struct result *r = &results[i], *a;
		char mem[48];

		if (strcmp(r->group, "fill") && strcmp(r->group, "copy"))
			continue;
		if (!strcmp(r->memory, "anon-4K"))
			continue;
		snprintf(mem, sizeof(mem), "anon-4K");
		a = find(r->group, r->name, mem, r->size, r->threads);
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

static int write_json(const char *path, const char *cmdline)
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
	json_string(&j, "samples", "ns per operation; each sample times ops_per_sample operations");
	json_string(&j, "warmup", "two single operations, then one calibrating sample, not recorded");
	json_number(&j, "budget_ms_per_case", opt.budget_ms);
	json_number(&j, "tolerance", opt.tolerance);
	json_end_object(&j);
	json_machine(&j);
	json_results(&j);
	library_checks(&j, NULL);
	json_page_ratios(&j);
	json_begin_array(&j, "skipped");
	for (size_t i = 0; i < nskips; i++) {
		json_begin_object(&j, NULL);
		json_string(&j, "group", skips[i].group);
		json_string(&j, "name", skips[i].name);
		json_string(&j, "reason", skips[i].reason);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_begin_array(&j, "notes");
	for (size_t i = 0; i < nnotes; i++)
		json_string(&j, NULL, notes[i]);
	json_end_array(&j);
	json_end_object(&j);
	err = json_finish(&j);
	if (fclose(f))
		err = -1;
	if (err)
		progress("error writing %s", path);
	return err;
}

/* One PNG per group and memory: throughput against size, a line a method. */
static void plot_group(const char *group)
{
	char mems[8][40];
	size_t nmem = 0;

	for (size_t i = 0; i < nresults; i++) {
		bool seen = false;

		if (strcmp(results[i].group, group) || results[i].bytes <= 0)
			continue;
		for (size_t m = 0; m < nmem; m++)
			seen |= !strcmp(mems[m], results[i].memory);
		if (!seen && nmem < 8)
			snprintf(mems[nmem++], sizeof(mems[0]), "%s", results[i].memory);
	}
	for (size_t m = 0; m < nmem; m++) {
		char dat[512], gp[512], png[512], cmd[1200];
		char names[16][40];
		size_t nnames = 0, lo = 0, hi = 0;
		FILE *d, *g;

		snprintf(dat, sizeof(dat), "%s/%s-%s.dat", opt.out, group, mems[m]);
		snprintf(gp, sizeof(gp), "%s/%s-%s.gp", opt.out, group, mems[m]);
		snprintf(png, sizeof(png), "%s/%s-%s.png", opt.out, group, mems[m]);
		d = fopen(dat, "w");
		g = fopen(gp, "w");
		if (!d || !g) {
			if (d)
				fclose(d);
			if (g)
				fclose(g);
			return;
		}
		for (size_t i = 0; i < nresults; i++) {
			const struct result *r = &results[i];
			bool seen = false;

			/* what is no alternative (sfence on WB) would flatten the rest */
			if (strcmp(r->group, group) || strcmp(r->memory, mems[m]) ||
			    !r->comparable)
				continue;
			for (size_t k = 0; k < nnames; k++)
				seen |= !strcmp(names[k], r->name);
			if (seen || nnames == 16)
				continue;
			snprintf(names[nnames++], sizeof(names[0]), "%s", r->name);
			fprintf(d, "# %s\n# size_bytes gbps_median gbps_best\n", r->name);
			for (size_t k = i; k < nresults; k++) {
				const struct result *o = &results[k];

				if (!strcmp(o->group, group) && !strcmp(o->memory, mems[m]) &&
				    !strcmp(o->name, r->name))
					fprintf(d, "%zu %.4f %.4f\n", o->size,
						stats_gbps(o->bytes, o->st.median),
						stats_gbps(o->bytes, o->st.min));
			}
			fprintf(d, "\n\n");
		}
		fclose(d);
		if (!nnames) {
			fclose(g);
			continue;
		}
		fprintf(g, "set terminal png noenhanced size 1000,640\n"
			"set output '%s'\n"
			"set title '%s throughput on %s (%s)'\n"
			"set logscale x 2\nset xlabel 'buffer size'\n"
			"set ylabel 'GB/s (median of the samples)'\n"
			"set key outside right\nset grid\nset xtics (",
			png, group, mems[m], cpu_model);
		for (size_t i = 0, first = 1; i < nresults; i++) {
			const struct result *r = &results[i];
			char sz[32];

			if (strcmp(r->group, group) || strcmp(r->memory, mems[m]) ||
			    strcmp(r->name, names[0]))
				continue;
			fprintf(g, "%s\"%s\" %zu", first ? "" : ", ",
				size_str(r->size, sz, sizeof(sz)), r->size);
			lo = first || r->size < lo ? r->size : lo;
			hi = r->size > hi ? r->size : hi;
			first = 0;
		}
		fprintf(g, ")\nset xrange [%g:%g]\nplot ", lo / 1.5, hi * 1.5);
		for (size_t k = 0; k < nnames; k++)
			fprintf(g, "%s'%s' index %zu using 1:2 with linespoints title '%s'",
				k ? ", " : "", dat, k, names[k]);
		fprintf(g, "\n");
		fclose(g);
		snprintf(cmd, sizeof(cmd), "gnuplot '%s' 2>&1", gp);
		if (system(cmd) == 0)
			progress("plot %s", png);
		else
			progress("gnuplot failed or is missing: no %s", png);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: wcpool-bench [options] fill|copy|flush|alloc|register|all ...\n"
		"  --smoke          tiny sizes and 3 samples: checks that everything runs\n"
		"  --quick          sizes up to 64 MiB, shorter budget\n"
		"  --full           more samples and budget (slow)\n"
		"  --cpu N          pin to CPU N (default: the last online CPU; -1: none)\n"
		"  --out DIR        results directory (default bench/results)\n"
		"  --max-size SIZE  largest fill buffer in MiB (default 1024)\n"
		"  --tolerance PCT  library check tolerance (default 5)\n"
		"  --no-plot        no gnuplot PNGs\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "smoke", no_argument, NULL, 's' },
		{ "quick", no_argument, NULL, 'q' },
		{ "full", no_argument, NULL, 'f' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "out", required_argument, NULL, 'o' },
		{ "max-size", required_argument, NULL, 'm' },
		{ "tolerance", required_argument, NULL, 't' },
		{ "no-plot", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char cmdline[1024] = "", path[512];
	size_t max_mib = 0;
	bool want[5] = { 0 };
	static const char *const subs[5] = { "fill", "copy", "flush", "alloc",
					     "register" };
	static int (*const fns[5])(void) = { bench_fill, bench_copy, bench_flush,
					     bench_alloc, bench_register };
	int c, failed = 0;

	for (int i = 0; i < argc; i++) {
		size_t n = strlen(cmdline);

		snprintf(cmdline + n, sizeof(cmdline) - n, "%s%s", i ? " " : "", argv[i]);
	}
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			opt.mode = MODE_SMOKE;
			break;
		case 'q':
			opt.mode = MODE_QUICK;
			break;
		case 'f':
			opt.mode = MODE_FULL;
			break;
		case 'c':
			opt.cpu = atoi(optarg);
			break;
		case 'o':
			opt.out = optarg;
			break;
		case 'm':
			max_mib = strtoul(optarg, NULL, 0);
			break;
		case 't':
			opt.tolerance = atof(optarg) / 100;
			break;
		case 'n':
			opt.plot = false;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		bool ok = !strcmp(argv[i], "all");

		for (int k = 0; k < 5; k++)
			if (ok && !strcmp(argv[i], "all"))
				want[k] = true;
			else if (!strcmp(argv[i], subs[k]))
				want[k] = ok = true;
		if (!ok) {
			fprintf(stderr, "wcpool-bench: unknown subcommand %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (opt.mode == MODE_SMOKE)
		opt.max_size = 256 * KiB, opt.budget_ms = 1;
	else if (opt.mode == MODE_QUICK)
		opt.max_size = 64 * MiB, opt.budget_ms = 15;
	else if (opt.mode == MODE_FULL)
		opt.budget_ms = 1500;
	if (max_mib)
		opt.max_size = max_mib * MiB;
	if (opt.cpu == -2)
		opt.cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1;
	pin_to(opt.cpu);
	read_cpuinfo();
	if (mkdir(opt.out, 0777) && errno != EEXIST) {
		progress("cannot create %s: %s", opt.out, strerror(errno));
		return 1;
	}
	perf_open();
	for (int i = 0; i < PERF_NCOUNTERS; i++)
		if (perf_status(i))
			progress("perf counter %s %s", perf_name(i), perf_status(i));
	for (int k = 0; k < 5; k++) {
		if (!want[k])
			continue;
		progress("== %s", subs[k]);
		if (fns[k]()) {
			progress("%s failed", subs[k]);
			failed++;
		}
	}
	perf_close();

	printf("wcpool-bench on %s, %ld CPUs, pinned to CPU %d\n", cpu_model,
	       sysconf(_SC_NPROCESSORS_ONLN), opt.cpu);
	printf("perf counters:");
	for (int i = 0; i < PERF_NCOUNTERS; i++)
		printf(" %s %s;", perf_name(i), perf_status(i) ? "not available" : "ok");
	printf("\n");
	print_tables(stdout);
	library_checks(NULL, stdout);
	for (size_t i = 0; i < nnotes; i++)
		printf("note: %s\n", notes[i]);
	for (size_t i = 0; i < nskips; i++)
		printf("skipped: %s %s: %s\n", skips[i].group, skips[i].name,
		       skips[i].reason);
	snprintf(path, sizeof(path), "%s/latest.json", opt.out);
	if (write_json(path, cmdline))
		failed++;
	else
		printf("raw figures: %s\n", path);
	if (opt.plot) {
		plot_group("fill");
		plot_group("copy");
		plot_group("flush");
	}
	for (size_t i = 0; i < nresults; i++)
		free(results[i].samples);
	free(results);
	free(skips);
	return failed ? 1 : 0;
}
