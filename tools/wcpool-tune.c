// SPDX-License-Identifier: MIT
/*
 * wcpool-tune - measure where non-temporal stores start to beat ordinary
 * ones for wcp_fill() and wcp_copy() into write-back memory on this
 * machine, and write it to the tune file the library reads (tune.h).
 *
 *   wcpool-tune [-o FILE] [-q]
 *
 * For each size from 1 MiB to 512 MiB (doubling), the best of several
 * timed runs of a fill plus a copy, ordinary stores against streaming
 * ones; the threshold is the smallest size from which streaming is at
 * least 5 % faster at that size and every larger one ("never" if it never
 * is).  Best-of runs keep a loaded machine's noise out; rerun it after a
 * hardware or VM change (the library ignores a file made on another CPU
 * model).  Default FILE: $WCPOOL_TUNE_FILE, else /var/lib/wcpool/tune.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "wcpool.h"
#include "../libwcpool/tune.h"

#define MIN_SIZE ((size_t)1 << 20)
#define MAX_SIZE ((size_t)512 << 20)

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Seconds for one fill and one copy of @size with @method, best of runs. */
static double best(int method, char *dst, const char *src, size_t size)
{
	int runs = size <= ((size_t)64 << 20) ? 7 : 3;
	double b = 1e9;

	for (int r = 0; r < runs; r++) {
		/* repeat small sizes to at least 16 MiB a run */
		size_t reps = ((size_t)16 << 20) / size + 1;
		double t = now();

		for (size_t i = 0; i < reps; i++) {
			wcp_fill_with(method, dst, (int)(i + r), size);
			wcp_copy_with(method, dst, src, size);
		}
		t = (now() - t) / (double)reps;
		if (t < b)
			b = t;
	}
	return b;
}

static void *buffer(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* the pools' write-back memory is huge pages: ask for them */
	madvise(p, size, MADV_HUGEPAGE);
	memset(p, 1, size);
	return p;
}

int main(int argc, char **argv)
{
	const char *out = getenv("WCPOOL_TUNE_FILE");
	char model[256], *src, *dst;
	size_t threshold = SIZE_MAX, size;
	bool quiet = false;
	FILE *f;
	int opt;

	if (!out || !*out)
		out = WCPI_TUNE_FILE;
	while ((opt = getopt(argc, argv, "o:q")) != -1) {
		if (opt == 'o') {
			out = optarg;
		} else if (opt == 'q') {
			quiet = true;
		} else {
			fprintf(stderr, "usage: %s [-o FILE] [-q]\n", argv[0]);
			return 2;
		}
	}
	if (!wcpi_tune_cpu_model(model, sizeof(model))) {
		fprintf(stderr, "wcpool-tune: no CPU model in /proc/cpuinfo\n");
		return 1;
	}
	src = buffer(MAX_SIZE);
	dst = buffer(MAX_SIZE);
	if (!src || !dst) {
		fprintf(stderr, "wcpool-tune: no memory for 2 x %zu MiB\n",
			MAX_SIZE >> 20);
		return 1;
	}
	if (!quiet)
		printf("%10s %12s %12s %8s\n", "size", "plain GB/s",
		       "stream GB/s", "stream/plain");
	for (size = MIN_SIZE; size <= MAX_SIZE; size *= 2) {
		double plain = best(WCP_STORE_PLAIN, dst, src, size);
		double stream = best(WCP_STORE_STREAM, dst, src, size);

		if (!quiet)
			printf("%7zu MiB %12.1f %12.1f %8.2f\n", size >> 20,
			       2 * size / plain / 1e9, 2 * size / stream / 1e9,
			       stream / plain);
		/* the smallest size of the last run of streaming wins */
		if (stream < 0.95 * plain) {
			if (threshold == SIZE_MAX)
				threshold = size;
		} else {
			threshold = SIZE_MAX;
		}
	}
	if (!strcmp(out, WCPI_TUNE_FILE))
		mkdir("/var/lib/wcpool", 0755);
	f = fopen(out, "w");
	if (!f) {
		fprintf(stderr, "wcpool-tune: %s: %s\n", out, strerror(errno));
		return 1;
	}
	fprintf(f, "# wcpool-tune: ordinary or streaming stores into write-back memory\n");
	fprintf(f, "cpu %s\n", model);
	if (threshold == SIZE_MAX)
		fprintf(f, "stream_threshold never\n");
	else
		fprintf(f, "stream_threshold %zu\n", threshold);
	if (fclose(f)) {
		fprintf(stderr, "wcpool-tune: %s: %s\n", out, strerror(errno));
		return 1;
	}
	if (threshold == SIZE_MAX)
		printf("wcpool-tune: %s: streaming never won\n", out);
	else
		printf("wcpool-tune: %s: streaming from %zu MiB\n", out,
		       threshold >> 20);
	return 0;
}
