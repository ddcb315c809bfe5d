// SPDX-License-Identifier: MIT
/*
 * wcpool-tune - measure, on this machine, where non-temporal stores start
 * to beat ordinary ones for wcp_fill() and wcp_copy() into write-back
 * memory, and in which sizes memset() beats wcp_fill()'s vector stores;
 * write them to the tune file the library reads (tune.h).
 *
 *   wcpool-tune [-o FILE] [-q]
 *
 * For each size from 1 MiB to 512 MiB (doubling), a fill plus a copy,
 * ordinary stores against streaming ones; for each size from 64 KiB to
 * 512 MiB, fills with vector stores against memset(): memset in the size
 * buckets (a size to twice it) where it was at least 5 % faster.  Each is
 * the best of several timed runs (a loaded machine's noise out), and the
 * worst of ROUNDS such sweeps (a method whose speed changes over time is
 * judged by its bad times).  Rerun it after a hardware or VM change (the library
 * ignores a file made on another CPU model).  Default FILE:
 * $WCPOOL_TUNE_FILE, else /var/lib/wcpool/tune.
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
#define MIN_FILL_SIZE WCPI_FILL_BUCKET0
#define MAX_SIZE ((size_t)512 << 20)

/* What is measured: a fill and a copy, or a fill alone */
enum way { PLAIN, STREAM, VECTOR, MEMSET };

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void once(enum way way, char *dst, const char *src, size_t size,
		 int c)
{
	switch (way) {
	case PLAIN:
	case STREAM:
		wcp_fill_with(way == PLAIN ? WCP_STORE_PLAIN : WCP_STORE_STREAM,
			      dst, c, size);
		wcp_copy_with(way == PLAIN ? WCP_STORE_PLAIN : WCP_STORE_STREAM,
			      dst, src, size);
		break;
	case VECTOR:
		wcpi_fill_vector(dst, c, size);
		break;
	case MEMSET:
		memset(dst, c, size);
		break;
	}
}

/* Seconds for one @way of @size, best of runs. */
static double best(enum way way, char *dst, const char *src, size_t size)
{
	int runs = size <= ((size_t)64 << 20) ? 7 : 3;
	double b = 1e9;

	for (int r = 0; r < runs; r++) {
		/*
		 * at least 256 MiB a run: rep stosb has been seen fast for
		 * the first few MiB over a buffer, then at DRAM speed
		 */
		size_t reps = ((size_t)256 << 20) / size + 1;
		double t = now();

		/* one untimed: from the cache state this way leaves */
		once(way, dst, src, size, r);
		for (size_t i = 0; i < reps; i++)
			once(way, dst, src, size, (int)(i + r));
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

#define NSIZES 16		/* MIN_FILL_SIZE to MAX_SIZE, doubling */
#define ROUNDS 3

/*
 * @second's time over @first's for each size from @from to MAX_SIZE
 * (doubling) into @ratio: best of runs within a round, the worst of
 * ROUNDS rounds (glibc's rep stosb has been seen to drop to DRAM speed
 * at 4-16 MiB for minutes, then recover).  @bytes: bytes a way writes per
 * byte of size (a fill and a copy: 2).  Returns the number of sizes.
 */
static size_t sweep(enum way first, enum way second, size_t from, double bytes,
		    char *dst, const char *src, bool quiet, double *ratio)
{
	static const char *const names[] = { "plain", "stream", "vector",
					     "memset" };
	size_t n = 0;

	for (size_t size = from; size <= MAX_SIZE; size *= 2)
		ratio[n++] = 0;
	if (!quiet)
		printf("%10s %10s GB/s %10s GB/s %8s\n", "size", names[first],
		       names[second], "ratio");
	for (int r = 0; r < ROUNDS; r++) {
		size_t i = 0;

		for (size_t size = from; size <= MAX_SIZE; size *= 2, i++) {
			double a = best(first, dst, src, size);
			double b = best(second, dst, src, size);

			if (!quiet)
				printf("%7zu KiB %15.1f %15.1f %8.2f\n",
				       size >> 10, bytes * size / a / 1e9,
				       bytes * size / b / 1e9, b / a);
			if (b / a > ratio[i])
				ratio[i] = b / a;
		}
	}
	return n;
}

/*
 * The smallest size at which @second was at least 5 % faster than @first
 * and from which it is nowhere more than 5 % slower up to MAX_SIZE (where
 * both run at DRAM speed, noise alone decides which is ahead); SIZE_MAX if
 * none.
 */
static size_t crossover(const double *ratio, size_t n, size_t from)
{
	size_t at = SIZE_MAX, size = from;

	for (size_t i = 0; i < n; i++, size *= 2)
		if (ratio[i] > 1.05)
			at = SIZE_MAX;
		else if (ratio[i] < 0.95 && at == SIZE_MAX)
			at = size;
	return at;
}

/*
 * The size buckets (tune.h) where memset was at least 5 % faster than
 * vector stores in every sweep; elsewhere the steadier vector stores.
 */
static size_t memset_mask(const double *ratio, size_t n)
{
	size_t mask = 0;

	for (size_t i = 0; i < n && i < WCPI_FILL_BUCKETS; i++)
		if (ratio[i] < 0.95)
			mask |= (size_t)1 << i;
	return mask;
}

static void put(FILE *f, const char *key, size_t v)
{
	if (v == SIZE_MAX)
		fprintf(f, "%s never\n", key);
	else
		fprintf(f, "%s %zu\n", key, v);
}

static void say(const char *out, const char *what, size_t v)
{
	if (v == SIZE_MAX)
		printf("wcpool-tune: %s: %s never won\n", out, what);
	else
		printf("wcpool-tune: %s: %s from %zu KiB\n", out, what, v >> 10);
}

int main(int argc, char **argv)
{
	const char *out = getenv("WCPOOL_TUNE_FILE");
	char model[256], *src, *dst;
	double ratio[NSIZES];
	size_t n, stream, mask;
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
	n = sweep(PLAIN, STREAM, MIN_SIZE, 2, dst, src, quiet, ratio);
	stream = crossover(ratio, n, MIN_SIZE);
	n = sweep(VECTOR, MEMSET, MIN_FILL_SIZE, 1, dst, src, quiet, ratio);
	mask = memset_mask(ratio, n);
	if (!strcmp(out, WCPI_TUNE_FILE))
		mkdir("/var/lib/wcpool", 0755);
	f = fopen(out, "w");
	if (!f) {
		fprintf(stderr, "wcpool-tune: %s: %s\n", out, strerror(errno));
		return 1;
	}
	fprintf(f, "# wcpool-tune: which stores wcp_fill/wcp_copy use on write-back memory\n");
	fprintf(f, "cpu %s\n", model);
	put(f, WCPI_TUNE_STREAM, stream);
	fprintf(f, "%s %#zx\n", WCPI_TUNE_FILL_MEMSET, mask);
	if (fclose(f)) {
		fprintf(stderr, "wcpool-tune: %s: %s\n", out, strerror(errno));
		return 1;
	}
	say(out, "streaming", stream);
	printf("wcpool-tune: %s: memset over vector stores at", out);
	for (unsigned i = 0; i < WCPI_FILL_BUCKETS; i++)
		if (mask >> i & 1)
			printf(" %zu KiB", (WCPI_FILL_BUCKET0 << i) >> 10);
	printf("%s\n", mask ? "" : " no size");
	return 0;
}
