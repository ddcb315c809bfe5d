// SPDX-License-Identifier: MIT
/*
 * The tune file: what wcpool-tune measured on this machine, so that the
 * plain-or-streaming choice of wcp_fill()/wcp_copy() on write-back memory,
 * and memset-or-vector stores for wcp_fill()'s plain ones, come from a
 * measurement rather than from cache-size reports (a VM's
 * sysconf may report the host's L3, 8 times its share).  Format, one
 * "key value" a line, '#' comments:
 *
 *   cpu AMD EPYC, family 26 model 2 stepping 1, cache 512 KB
 *   stream_threshold 16777216        (bytes; "never" when streaming lost)
 *   fill_memset_mask 0x1f00          (size buckets where memset wins)
 *
 * Used only when "cpu" is this CPU's model: a file copied to another
 * machine, or a VM moved to another host, falls back to the default.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tune.h"

/* The value of /proc/cpuinfo's first line for @key, or "". */
static void cpuinfo_value(FILE *f, const char *key, char *buf, size_t len)
{
	char line[256];

	buf[0] = 0;
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		char *v = strchr(line, ':');

		if (!v || strncmp(line, key, strlen(key)) ||
		    line[strlen(key)] != '\t')
			continue;
		v += 1 + strspn(v + 1, " \t");
		v[strcspn(v, "\n")] = 0;
		snprintf(buf, len, "%s", v);
		return;
	}
}

/*
 * A VM may name its CPU only "AMD EPYC" whatever the host's generation: the
 * family, model, stepping and cache size go with the name.
 */
bool wcpi_tune_cpu_model(char *buf, size_t len)
{
	char name[96], family[16], model[16], stepping[16], cache[32];
	FILE *f = fopen("/proc/cpuinfo", "re");

	if (!f)
		return false;
	cpuinfo_value(f, "model name", name, sizeof(name));
	cpuinfo_value(f, "cpu family", family, sizeof(family));
	cpuinfo_value(f, "model", model, sizeof(model));
	cpuinfo_value(f, "stepping", stepping, sizeof(stepping));
	cpuinfo_value(f, "cache size", cache, sizeof(cache));
	fclose(f);
	if (!name[0])
		return false;
	snprintf(buf, len, "%s, family %s model %s stepping %s, cache %s",
		 name, family, model, stepping, cache);
	return true;
}

bool wcpi_tune_value(const char *key, size_t *value)
{
	const char *path = secure_getenv("WCPOOL_TUNE_FILE");
	char line[256], model[256], cpu[256] = "";
	size_t t = 0, klen = strlen(key);
	bool have_t = false;
	FILE *f;

	if (!path || !*path)
		path = WCPI_TUNE_FILE;
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "cpu ", 4)) {
			snprintf(cpu, sizeof(cpu), "%s", line + 4);
		} else if (!strncmp(line, key, klen) && line[klen] == ' ') {
			char *end;
			unsigned long long v;

			if (!strcmp(line + klen + 1, "never")) {
				t = SIZE_MAX;
				have_t = true;
				continue;
			}
			v = strtoull(line + klen + 1, &end, 0);
			if (!*end && v) {
				t = (size_t)v;
				have_t = true;
			}
		}
	}
	fclose(f);
	if (!have_t || !wcpi_tune_cpu_model(model, sizeof(model)) ||
	    strcmp(model, cpu))
		return false;
	*value = t;
	return true;
}
