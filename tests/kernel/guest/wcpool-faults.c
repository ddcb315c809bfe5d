// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool-faults - the common operations on wcpool.ko in a loop, to run
 * while wcpool_faultinj.ko makes the kernel calls under them fail
 * (tests/kernel/run-faults):
 *
 *   wcpool-faults [-t SECONDS]
 *
 * Each round: CREATE (WC, UC and WB in turn, PMD mode every 4th round
 * where the kernel has it, every 2nd with 4 MiB contiguous runs where the
 * kernel makes them, every 5th below 2^30), GROW two ranges (the second of 1 to 4 pages),
 * mmap and touch every grown page (a new page reads as zero), 0 to 2
 * read-only DUPs, REGISTER a range, mmap the dma-buf and compare it with
 * the pool, import it into vgem (which maps it for its device: our sg
 * table), RELEASE (EBUSY under the registration, else done) and close
 * everything.  Then 3 dma-heap buffers of random sizes (half of them
 * under 64 KiB, which share 2 MiB pages, the others a whole 2 MiB page
 * and a run of up to 1 MiB; odd sizes) of the 3 policies in turn: mapped, every 4 KiB page zero and then
 * written, every other one imported into vgem; the last 8 stay live (the
 * oldest is checked and freed), so that a failure meets partly used
 * shared pages, all of them freed every 4th round, so that the next ones
 * need new pages; the heap counters must match the live buffers after
 * every round.  The random choices (rand(), not seeded) vary which call is
 * every Nth.  Every call must succeed or fail with what a failed
 * allocation gives (ENOMEM, EMFILE, ENFILE); a failed GROW must change
 * nothing.  Then, everything closed: the module's counters at 0 and the
 * kernel log clean.  Prints how often each call failed, one PASS/FAIL line
 * per check and "N passed, N failed".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/dma-heap.h>
#include <linux/wcpool.h>
#include "harness.h"

#define MAX (16 * MB)

enum { O_CREATE, O_GROW, O_DUP, O_REGISTER, O_IMPORT, O_HEAP, NOPS };
static const char * const op_names[NOPS] = {
	"CREATE", "GROW", "DUP", "REGISTER", "vgem import", "heap ALLOC",
};
static unsigned long ops[NOPS], fails[NOPS];
static unsigned int bad;
static bool contig_ok;

static void fail(const char *fmt, ...)
{
	va_list ap;

	if (++bad > 20)
		return;
	va_start(ap, fmt);
	fputs("  FAIL: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Count a call; true if it worked, false if it failed as allocations do. */
static bool ok(int op, int ret)
{
	ops[op]++;
	if (!ret)
		return true;
	fails[op]++;
	if (errno != ENOMEM && errno != EMFILE && errno != ENFILE)
		fail("%s: %s", op_names[op], strerror(errno));
	return false;
}

static int range(int fd, unsigned long cmd, uint64_t off, uint64_t len)
{
	struct wcpool_range r = {
		.size = sizeof(r), .offset = off, .length = len,
	};

	return ioctl(fd, cmd, &r);
}

static uint64_t grown(int fd)
{
	struct wcpool_info i = { .size = sizeof(i) };

	if (ioctl(fd, WCPOOL_IOC_INFO, &i))
		fail("INFO: %s", strerror(errno));
	return i.grown_size;
}

/* GROW, all or nothing: INFO tells the same. */
static bool grow(int fd, uint64_t off, uint64_t len, uint64_t *have)
{
	bool done = ok(O_GROW, range(fd, WCPOOL_IOC_GROW, off, len));

	if (done)
		*have += len;
	if (grown(fd) != *have)
		fail("GROW: the pool has %llu bytes, want %llu",
		     (unsigned long long)grown(fd), (unsigned long long)*have);
	return done;
}

/* Import dma-buf @fd into vgem, which maps it at once, and let it go. */
static void vgem_import(int drm, int fd)
{
	struct t_drm_prime_handle h = { .fd = fd };
	struct t_drm_gem_close c = { 0 };

	if (drm < 0)
		return;
	if (ok(O_IMPORT, ioctl(drm, T_DRM_IOCTL_PRIME_FD_TO_HANDLE, &h))) {
		c.handle = h.handle;
		if (ioctl(drm, T_DRM_IOCTL_GEM_CLOSE, &c))
			fail("GEM_CLOSE: %s", strerror(errno));
	}
}

/* Register 3 MiB at 1 MiB, look at it through the dma-buf and vgem. */
static void registered(int fd, int drm, uint8_t *p, uint8_t seed)
{
	struct wcpool_register r = {
		.size = sizeof(r), .flags = WCPOOL_REG_READ | WCPOOL_REG_WRITE,
		.addr = (uintptr_t)p + MB, .length = 3 * MB,
	};
	uint8_t *d;
	size_t i;

	if (!ok(O_REGISTER, ioctl(fd, WCPOOL_IOC_REGISTER, &r)))
		return;
	if (range(fd, WCPOOL_IOC_RELEASE, 0, HP) == 0 || errno != EBUSY)
		fail("RELEASE under a registration: %s",
		     strerror(errno));
	d = mmap(NULL, 3 * MB, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
	if (d == MAP_FAILED) {
		fail("mmap of the dma-buf: %s", strerror(errno));
	} else {
		for (i = 0; i < 3 * MB; i += 256 * 1024)
			if (d[i] != (uint8_t)(seed + (MB + i) / HP))
				fail("dma-buf byte %zu: %u", i, d[i]);
		munmap(d, 3 * MB);
	}
	vgem_import(drm, r.fd);
	close(r.fd);
}

/* The live heap buffers: the last NHEAP of them. */
#define NHEAP 8
static struct {
	int fd;
	uint8_t *p;
	uint64_t size;
	uint8_t seed;
} hbufs[NHEAP];
static unsigned int hnext;
static int heaps[3];

/* Check the oldest heap buffer's bytes and free it. */
static void heap_free_one(unsigned int i)
{
	uint64_t off;

	if (!hbufs[i].p)
		return;
	for (off = 0; off < hbufs[i].size; off += 4096)
		if (hbufs[i].p[off] != hbufs[i].seed)
			fail("heap buffer byte %llu changed",
			     (unsigned long long)off);
	munmap(hbufs[i].p, hbufs[i].size);
	close(hbufs[i].fd);
	hbufs[i].p = NULL;
}

/* The heap counters against the live buffers. */
static void heap_counters(void)
{
	long n = 0, bytes = 0;
	unsigned int i;

	for (i = 0; i < NHEAP; i++) {
		n += hbufs[i].p != NULL;
		bytes += hbufs[i].p ? (long)hbufs[i].size : 0;
	}
	if (stat_get("heap_buffers") != n || stat_get("heap_bytes") != bytes)
		fail("heap counters: %ld buffers of %ld bytes, want %ld of %ld",
		     stat_get("heap_buffers"), stat_get("heap_bytes"), n,
		     bytes);
}

/* A heap buffer of policy @n % 3 in place of the oldest. */
static void heap_round(int drm, unsigned int n)
{
	uint64_t len = rand() % 2 ? 1 + rand() % (64 * 1024UL) :
				    HP + 1 + rand() % MB;
	struct dma_heap_allocation_data a = {
		.len = len, .fd_flags = O_RDWR | O_CLOEXEC,
	};
	unsigned int i = hnext++ % NHEAP;
	uint64_t off, size = (len + 4095) & ~4095ULL;
	uint8_t *p;

	heap_free_one(i);
	if (!ok(O_HEAP, ioctl(heaps[n % 3], DMA_HEAP_IOCTL_ALLOC, &a))) {
		heap_counters();
		return;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, a.fd, 0);
	if (p == MAP_FAILED) {
		fail("mmap of a heap buffer: %s", strerror(errno));
		close(a.fd);
		return;
	}
	for (off = 0; off < size; off += 4096) {
		if (p[off])
			fail("a new heap buffer's byte %llu is not zero",
			     (unsigned long long)off);
		p[off] = (uint8_t)n;
	}
	hbufs[i].fd = a.fd;
	hbufs[i].p = p;
	hbufs[i].size = size;
	hbufs[i].seed = (uint8_t)n;
	if (n % 2)
		vgem_import(drm, a.fd);
	heap_counters();
}

static void round_(int dev, int drm, unsigned int n, bool pmd_ok)
{
	struct wcpool_create cr = {
		.size = sizeof(cr), .policy = n % 3, .max_size = MAX,
		.map_mode = pmd_ok && n % 4 == 3 ? WCPOOL_MAP_PMD :
						   WCPOOL_MAP_PTE,
	};
	struct wcpool_dup du = {
		.size = sizeof(du), .flags = WCPOOL_DUP_READONLY,
	};
	uint64_t have = 0, off, len2 = (1 + rand() % 4) * HP;
	uint8_t *p, seed = n;
	bool g1, g2;
	int fd, i;

	if (contig_ok && n % 2 == 0) {
		cr.contig_size = 4 * MB;
		len2 = 4 * MB;
	}
	if (n % 5 == 1)
		cr.addr_bits = 30;

	if (!ok(O_CREATE, ioctl(dev, WCPOOL_IOC_CREATE, &cr)))
		return;
	fd = cr.fd;
	g1 = grow(fd, 0, 4 * MB, &have);
	g2 = grow(fd, 8 * MB, len2, &have);
	p = mmap(NULL, MAX, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		fail("mmap: %s", strerror(errno));
		close(fd);
		return;
	}
	for (off = 0; off < MAX; off += HP) {
		if (off < 4 * MB ? !g1 :
		    !g2 || off < 8 * MB || off >= 8 * MB + len2)
			continue;
		if (p[off] || p[off + HP - 1])
			fail("a new page at %#llx is not zero",
			     (unsigned long long)off);
		memset(p + off, seed + off / HP, HP);
	}
	/*
	 * 0 to 2 of them, so that every Nth fd (CREATE, DUP, REGISTER) is
	 * each of them in turn: a fixed count can lock onto one.
	 */
	for (i = rand() % 3; i; i--)
		if (ok(O_DUP, ioctl(fd, WCPOOL_IOC_DUP, &du)))
			close(du.fd);
	if (g1)
		registered(fd, drm, p, seed);
	if (range(fd, WCPOOL_IOC_RELEASE, 0, MAX))
		fail("RELEASE: %s", strerror(errno));
	if (n & 1) {
		munmap(p, MAX);
		close(fd);
	} else {
		close(fd);	/* the mapping holds the pool */
		munmap(p, MAX);
	}
}

int main(int argc, char **argv)
{
	struct wcpool_create c = {
		.size = sizeof(c), .max_size = HP, .map_mode = WCPOOL_MAP_PMD,
	};
	unsigned int passed = 0, failed = 0, n;
	double seconds = 5, end;
	int opt, dev, drm, k;
	bool pmd_ok;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't') {
			fprintf(stderr, "usage: %s [-t SECONDS]\n", argv[0]);
			return 2;
		}
		seconds = atof(optarg);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	kmsg_open();
	dev = open("/dev/wcpool", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		perror("/dev/wcpool");
		printf("0 passed, 1 failed\n");
		return 1;
	}
	drm = vgem_open();
	/* PMD mode where the kernel has it (an injected failure: not now). */
	pmd_ok = !ioctl(dev, WCPOOL_IOC_CREATE, &c);
	if (pmd_ok)
		close(c.fd);
	c = (struct wcpool_create){
		.size = sizeof(c), .max_size = 4 * MB, .contig_size = 4 * MB,
	};
	contig_ok = !ioctl(dev, WCPOOL_IOC_CREATE, &c);
	if (contig_ok)
		close(c.fd);

	for (k = 0; k < 3; k++) {
		static const char *const paths[3] = {
			"/dev/dma_heap/wcpool-wc", "/dev/dma_heap/wcpool-uc",
			"/dev/dma_heap/wcpool-wb",
		};

		heaps[k] = open(paths[k], O_RDWR | O_CLOEXEC);
		if (heaps[k] < 0)
			fail("%s: %s", paths[k], strerror(errno));
	}
	end = now_s() + seconds;
	for (n = 0; now_s() < end; n++) {
		round_(dev, drm, n, pmd_ok);
		for (k = 0; k < 3; k++)
			heap_round(drm, n + k);
		/* Then new pages, not the recycled one, back the next ones. */
		for (k = 0; n % 4 == 3 && k < NHEAP; k++)
			heap_free_one(k);
	}
	for (k = 0; k < NHEAP; k++)
		heap_free_one(k);
	for (k = 0; k < 3; k++)
		close(heaps[k]);
	close(dev);
	if (drm >= 0)
		close(drm);

	printf("%u rounds:", n);
	for (k = 0; k < NOPS; k++)
		printf(" %s %lu/%lu failed", op_names[k], fails[k], ops[k]);
	printf("%s\n", drm < 0 ? " (no vgem)" : "");
	if (bad)
		failed++;
	else
		passed++;
	printf("%s every call worked or failed as documented\n",
	       bad ? "FAIL" : "PASS");
	k = counters_check("at the end");
	printf("%s counters at 0\n", k ? "FAIL" : "PASS");
	k ? failed++ : passed++;
	k = kmsg_check("at the end");
	printf("%s kernel log clean\n", k ? "FAIL" : "PASS");
	k ? failed++ : passed++;
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
