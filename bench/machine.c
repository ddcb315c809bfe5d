// SPDX-License-Identifier: MIT
/*
 * What machine the figures come from: CPU, caches, kernel, huge pages, the
 * default pool and the library's choices on it, and which perf counters
 * work.  Written at the head of the report and into latest.json.
 */
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"
#include "json.h"

static char cpu_model[128], cpu_flags[4096];

void machine_read(void)
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

const char *machine_cpu_model(void)
{
	return cpu_model;
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

void machine_print(FILE *f)
{
	fprintf(f, "wcpool-bench on %s, %ld CPUs, pinned to CPU %d\n", cpu_model,
		sysconf(_SC_NPROCESSORS_ONLN), opt.cpu);
	fprintf(f, "perf counters:");
	for (int i = 0; i < PERF_NCOUNTERS; i++)
		fprintf(f, " %s %s;", perf_name(i),
			perf_status(i) ? "not available" : "ok");
	fprintf(f, "\n");
}

void machine_json(struct json *j)
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
	json_int(j, "hugepages_2m_free_at_start", free_hugepages());
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
