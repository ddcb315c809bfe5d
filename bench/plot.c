// SPDX-License-Identifier: MIT
/*
 * gnuplot plots: one PNG per throughput group and memory, GB/s against
 * size, a line a method.  The .dat and .gp files gnuplot reads are left
 * beside each PNG.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static void plot_group(const char *group)
{
	const struct result *r, *o;
	char mems[8][40];
	size_t nmem = 0;

	for (size_t i = 0; (r = result_at(i)); i++) {
		bool seen = false;

		if (strcmp(r->group, group) || r->bytes <= 0)
			continue;
		for (size_t m = 0; m < nmem; m++)
			seen |= !strcmp(mems[m], r->memory);
		if (!seen && nmem < 8)
			snprintf(mems[nmem++], sizeof(mems[0]), "%s", r->memory);
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
		for (size_t i = 0; (r = result_at(i)); i++) {
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
			for (size_t k = i; (o = result_at(k)); k++) {
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
			png, group, mems[m], machine_cpu_model());
		for (size_t i = 0, first = 1; (r = result_at(i)); i++) {
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

void plot_throughput(void)
{
	plot_group("fill");
	plot_group("copy");
	plot_group("flush");
}
