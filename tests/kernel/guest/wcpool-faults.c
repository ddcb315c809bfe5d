// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool-faults - the common operations on wcpool.ko in a loop, to run
 * while wcpool_faultinj.ko makes the kernel calls under them fail
 * (tests/kernel/run-faults):
 *
 *   wcpool-faults [-t SECONDS]
 *
 * Each round: CREATE (WC, UC and WB in turn, PMD mode every 4th round
 * where the kernel has it), GROW two ranges (the second of 1 to 4 pages),
 * mmap and touch every grown page (a new page reads as zero), 0 to 2
 * read-only DUPs, REGISTER a range, mmap the dma-buf and compare it with
 * the pool, import it into vgem (which maps it for its device: our sg
 * table), RELEASE (EBUSY under the registration, else done) and close
 * everything.  The random choices (rand(), not seeded) vary which call is
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
#include <linux/wcpool.h>

#define MB (1024UL * 1024)
#define HP (2 * MB)
#define MAX (16 * MB)
#define STATS "/sys/kernel/debug/wcpool/stats"

/* vgem, a DRM PRIME importer (the uapi structs, to need no libdrm). */
struct drm_version_ {
	int major, minor, patch;
	size_t name_len;
	char *name;
	size_t date_len;
	char *date;
	size_t desc_len;
	char *desc;
};

struct drm_prime_handle_ {
	uint32_t handle, flags;
	int32_t fd;
};

struct drm_gem_close_ {
	uint32_t handle, pad;
};

#define DRM_VERSION_		_IOWR('d', 0x00, struct drm_version_)
#define DRM_GEM_CLOSE_		_IOW('d', 0x09, struct drm_gem_close_)
#define DRM_PRIME_FD_TO_HANDLE_	_IOWR('d', 0x2e, struct drm_prime_handle_)

enum { O_CREATE, O_GROW, O_DUP, O_REGISTER, O_IMPORT, NOPS };
static const char * const op_names[NOPS] = {
	"CREATE", "GROW", "DUP", "REGISTER", "vgem import",
};
static unsigned long ops[NOPS], fails[NOPS];
static unsigned int bad;

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

static int vgem_open(void)
{
	char path[32], name[32];
	int i, fd;

	for (i = 0; i < 16; i++) {
		struct drm_version_ v = {
			.name_len = sizeof(name) - 1, .name = name,
		};

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(name, 0, sizeof(name));
		if (!ioctl(fd, DRM_VERSION_, &v) && !strcmp(name, "vgem"))
			return fd;
		close(fd);
	}
	return -1;
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

/* Register 3 MiB at 1 MiB, look at it through the dma-buf and vgem. */
static void registered(int fd, int drm, uint8_t *p, uint8_t seed)
{
	struct wcpool_register r = {
		.size = sizeof(r), .flags = WCPOOL_REG_READ | WCPOOL_REG_WRITE,
		.addr = (uintptr_t)p + MB, .length = 3 * MB,
	};
	struct drm_prime_handle_ h = { 0 };
	struct drm_gem_close_ c = { 0 };
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
	if (drm >= 0) {
		h.fd = r.fd;
		if (ok(O_IMPORT, ioctl(drm, DRM_PRIME_FD_TO_HANDLE_, &h))) {
			c.handle = h.handle;
			if (ioctl(drm, DRM_GEM_CLOSE_, &c))
				fail("GEM_CLOSE: %s", strerror(errno));
		}
	}
	close(r.fd);
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

static long stat_get(const char *name)
{
	char key[64];
	long val, ret = -1;
	FILE *f = fopen(STATS, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2)
		if (!strcmp(key, name))
			ret = val;
	fclose(f);
	return ret;
}

static int counters_check(void)
{
	static const char * const zero[] = {
		"pools", "pages_wc", "pages_uc", "pages_wb", "deferred",
		"mapped_vmas", "in_use", "registrations", "registered_bytes",
		"pinned_pages", "dma_mapped", "gup_pinned", "pmd_mapped",
	};
	unsigned int i, tries;
	int nbad = 0;
	long v;

	for (i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
		for (tries = 0; (v = stat_get(zero[i])) != 0 && tries < 30;
		     tries++)
			usleep(100000);
		if (v) {
			fprintf(stderr, "  counter %s is %ld at the end\n",
				zero[i], v);
			nbad++;
		}
	}
	return nbad;
}

static int kmsg_check(int fd)
{
	static const char * const bad_lines[] = {
		"WARNING:", "BUG", "Oops", "general protection", "Call Trace",
		"x86/PAT", "conflicting memory types", "wcpool:",
		"wcpool_faultinj:", "refcount_t", "bad page", "Bad page",
		"list_add corruption", "list_del corruption",
	};
	char rec[8192];
	unsigned int i;
	int nbad = 0;
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			break;
		rec[n] = 0;
		for (i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
			if (strstr(rec, bad_lines[i])) {
				fprintf(stderr, "  kernel log: %s",
					strchr(rec, ';') ? strchr(rec, ';') + 1 :
							   rec);
				nbad++;
				break;
			}
		}
	}
	return nbad;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct wcpool_create c = {
		.size = sizeof(c), .max_size = HP, .map_mode = WCPOOL_MAP_PMD,
	};
	unsigned int passed = 0, failed = 0, n;
	double seconds = 5, end;
	int opt, dev, drm, kmsg, k;
	bool pmd_ok;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't') {
			fprintf(stderr, "usage: %s [-t SECONDS]\n", argv[0]);
			return 2;
		}
		seconds = atof(optarg);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
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

	end = now() + seconds;
	for (n = 0; now() < end; n++)
		round_(dev, drm, n, pmd_ok);
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
	k = counters_check();
	printf("%s counters at 0\n", k ? "FAIL" : "PASS");
	k ? failed++ : passed++;
	k = kmsg >= 0 ? kmsg_check(kmsg) : 0;
	printf("%s kernel log clean\n", k ? "FAIL" : "PASS");
	k ? failed++ : passed++;
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
