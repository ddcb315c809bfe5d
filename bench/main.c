// SPDX-License-Identifier: MIT
/*
 * wcpool-bench: what wcpool buys on this machine.  Every alternative runs
 * side by side in one process, pinned to one CPU; the output is a table on
 * stdout, every raw figure and derived ratio in results/latest.json, and
 * gnuplot plots of fill, copy and flush throughput against size.
 *
 *   wcpool-bench [options] fill|copy|flush|alloc|workload|frames|register|all ...
 *
 * This file is the command line; see bench.h for which file does what.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

struct bench_options opt = {
	.mode = MODE_STANDARD,
	.cpu = -2,
	.out = "bench/results",
	.max_size = GiB,
	.tolerance = 0.05,
	.budget_ms = 400,
	.plot = true,
	.count_threads = 1,
};

/* In the order they run, whatever the order on the command line. */
static const struct {
	const char *name;
	int (*run)(void);
} subcommands[] = {
	{ "fill", bench_fill },
	{ "copy", bench_copy },
	{ "flush", bench_flush },
	{ "alloc", bench_alloc },
	{ "workload", bench_workload },
	{ "frames", bench_frames },
	{ "register", bench_register },
};
#define NSUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: wcpool-bench [options] fill|copy|flush|alloc|workload|frames|register|all ...\n"
		"  --smoke          tiny sizes and 3 samples: checks that everything runs\n"
		"  --quick          sizes up to 64 MiB, shorter budget\n"
		"  --full           more samples and budget (slow)\n"
		"  --cpu N          pin to CPU N (default: the last online CPU; -1: none)\n"
		"  --out DIR        results directory (default bench/results)\n"
		"  --max-size SIZE  largest fill buffer in MiB (default 1024)\n"
		"  --tolerance PCT  library check tolerance (default 5)\n"
		"  --no-plot        no gnuplot PNGs\n"
		"  --ops N          no timing: run N operations of each selected\n"
		"                   one-thread case on 4 KiB pages once, inside\n"
		"                   bench_counted_job() (for callgrind; see\n"
		"                   bench/callgrind-ops)\n"
		"  --ops-threads N  with --ops: the rows of N threads (default 1;\n"
		"                   waits between threads count too)\n"
		"  --allocator NAME with --ops: that allocator only\n"
		"  --row NAME       only the rows of that workload (alloc, workload)\n");
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
		{ "child", required_argument, NULL, 'C' },
		{ "ops", required_argument, NULL, 'O' },
		{ "allocator", required_argument, NULL, 'A' },
		{ "row", required_argument, NULL, 'R' },
		{ "ops-threads", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char cmdline[1024] = "", path[512];
	size_t max_mib = 0;
	bool want[NSUBCOMMANDS] = { 0 };
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
		case 'C':
			opt.child = optarg;
			break;
		case 'O':
			opt.count_ops = strtoull(optarg, NULL, 0);
			break;
		case 'A':
			opt.only_alloc = optarg;
			break;
		case 'R':
			opt.only_row = optarg;
			break;
		case 'T':
			opt.count_threads = (unsigned)atoi(optarg);
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
		bool all = !strcmp(argv[i], "all"), known = all;

		for (size_t k = 0; k < NSUBCOMMANDS; k++)
			if (all || !strcmp(argv[i], subcommands[k].name))
				want[k] = known = true;
		if (!known) {
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
	machine_read();
	if (opt.count_ops)
		opt.plot = false;
	if (!opt.child && !opt.count_ops && mkdir(opt.out, 0777) && errno != EEXIST) {
		progress("cannot create %s: %s", opt.out, strerror(errno));
		return 1;
	}
	perf_open();
	for (int i = 0; i < PERF_NCOUNTERS && !opt.child; i++)
		if (perf_status(i))
			progress("perf counter %s %s", perf_name(i), perf_status(i));
	for (size_t k = 0; k < NSUBCOMMANDS; k++) {
		if (!want[k])
			continue;
		if (!opt.child)
			progress("== %s", subcommands[k].name);
		if (subcommands[k].run()) {
			progress("%s failed", subcommands[k].name);
			failed++;
		}
	}
	workers_stop();
	perf_close();

	if (opt.count_ops) {
		results_free();
		return failed ? 1 : 0;
	}
	if (opt.child) {
		/* one row for the parent to read (allocators.c) */
		results_dump(stdout);
		results_free();
		return failed ? 1 : 0;
	}
	machine_print(stdout);
	report_print(stdout);
	snprintf(path, sizeof(path), "%s/latest.json", opt.out);
	if (report_write_json(path, cmdline))
		failed++;
	else
		printf("raw figures: %s\n", path);
	if (opt.plot)
		plot_throughput();
	results_free();
	return failed ? 1 : 0;
}
