// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool-edu - in-guest tests of wcpool dma-bufs used by a real DMA engine:
 * QEMU's edu device, through the test-only wcpool_edu.ko importer
 * (tests/kernel/edu).  Run by tests/kernel/run-edu.
 *
 *   wcpool-edu -i none|intel|virtio -m BITS[,BITS...] [-k] [TEST...]
 *
 * -i: the IOMMU the guest was booted with (vm --iommu), checked against
 * what the kernel did; -m: the DMA mask of each edu device in PCI order
 * (vm --edu=BITS), which the tests also set as the driver's mask.  Loads
 * /wcpool/wcpool_edu.ko.  Each test runs in its own child, with the
 * module's counters back at 0 and a clean kernel log after it (harness.c).
 *
 * The device copies 2 KiB out of the first half of a sampled 4 KiB page
 * of the dma-buf into its buffer, then from its buffer into the page's
 * second half: the CPU, which wrote a position-dependent pattern into the
 * pool, must then read the first half's bytes in the second half, the
 * first half unchanged.  A device reading or writing the wrong memory
 * (edu clamps addresses beyond its mask) fails that.  Samples: the first
 * and last page, both sides of every 2 MiB pool page boundary, the middle
 * of every pool page.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/wcpool.h>
#include "harness.h"
#include "wcpool_edu.h"

#define MAX_EDU 8
#define KB 1024UL

static const char *iommu = "none";
static unsigned int nedu, edu_bits[MAX_EDU];
static const char * const policy_name[] = { "WC", "UC", "WB" };

/* ---- pools ---- */

static int pool_flags(uint32_t policy, uint64_t max, uint32_t flags)
{
	struct wcpool_create c = {
		.size = sizeof(c), .policy = policy, .max_size = max,
		.flags = flags,
	};
	int dev = open("/dev/wcpool", O_RDWR | O_CLOEXEC);

	ASSERT(dev >= 0);
	ASSERT(ioctl(dev, WCPOOL_IOC_CREATE, &c) == 0);
	close(dev);
	return c.fd;
}

static int pool(uint32_t policy, uint64_t max)
{
	return pool_flags(policy, max, 0);
}

static int range_ioctl(int fd, unsigned long cmd, uint64_t off, uint64_t len)
{
	struct wcpool_range r = {
		.size = sizeof(r), .offset = off, .length = len,
	};

	return ioctl(fd, cmd, &r);
}

static uint8_t *map(int fd, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	ASSERT(p != MAP_FAILED);
	return p;
}

static int reg(int fd, void *addr, uint64_t len)
{
	struct wcpool_register r = {
		.size = sizeof(r), .flags = WCPOOL_REG_READ | WCPOOL_REG_WRITE,
		.addr = (uintptr_t)addr, .length = len,
	};

	ASSERT(ioctl(fd, WCPOOL_IOC_REGISTER, &r) == 0);
	return r.fd;
}

/* CPU access brackets; @dfd -1: the dma-buf fd is closed already. */
static void sync_dmabuf(int dfd, uint64_t flags)
{
	struct dma_buf_sync s = { .flags = flags };

	if (dfd >= 0)
		ASSERT(ioctl(dfd, DMA_BUF_IOCTL_SYNC, &s) == 0);
}

static uint8_t pat(unsigned int seed, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ seed * 0xbf58476d1ce4e5b9ULL;

	return x >> 56 ^ x >> 29 ^ x;
}

static void fill(uint8_t *p, size_t len, unsigned int seed)
{
	uint8_t buf[4096];
	size_t i, j;

	for (i = 0; i < len; i += sizeof(buf)) {
		for (j = 0; j < sizeof(buf); j++)
			buf[j] = pat(seed, i + j);
		memcpy(p + i, buf, sizeof(buf));
	}
}

/* ---- the edu importer ---- */

struct edu {
	int fd;
	unsigned int index, bits;
	bool translated;
	char name[32];
};

static struct edu edu_open(unsigned int index, unsigned int max_seg)
{
	struct wcpool_edu_setup s = {
		.index = index, .mask_bits = edu_bits[index], .max_seg = max_seg,
	};
	struct edu e = { .index = index, .bits = edu_bits[index] };

	e.fd = open("/dev/wcpool_edu", O_RDWR | O_CLOEXEC);
	ASSERT(e.fd >= 0);
	ASSERT(ioctl(e.fd, WCPOOL_EDU_IOC_SETUP, &s) == 0);
	ASSERT(s.count == nedu);
	ASSERT(!max_seg || s.max_seg == max_seg);
	e.translated = s.flags & WCPOOL_EDU_TRANSLATED;
	/* The kernel translates exactly when booted with an IOMMU. */
	ASSERT(e.translated == !!strcmp(iommu, "none"));
	memcpy(e.name, s.name, sizeof(e.name));
	return e;
}

static int edu_attach(struct edu *e, int dfd)
{
	struct wcpool_edu_attach a = { .fd = dfd };

	return ioctl(e->fd, WCPOOL_EDU_IOC_ATTACH, &a);
}

/* The attachment's sg entries (CPU) or DMA segments; returns the count. */
static unsigned int edu_segs(struct edu *e, uint32_t which,
			     struct wcpool_edu_seg **segs)
{
	struct wcpool_edu_segs s = { .which = which };

	ASSERT(ioctl(e->fd, WCPOOL_EDU_IOC_SEGS, &s) == 0);
	*segs = calloc(s.count + 1, sizeof(**segs));
	ASSERT(*segs);
	s.segs = (uintptr_t)*segs;
	ASSERT(ioctl(e->fd, WCPOOL_EDU_IOC_SEGS, &s) == 0);
	return s.count;
}

static int edu_dma(struct edu *e, uint64_t off, uint32_t len, uint32_t dir)
{
	struct wcpool_edu_dma d = { .offset = off, .len = len, .dir = dir };

	return ioctl(e->fd, WCPOOL_EDU_IOC_DMA, &d);
}

static uint64_t mask_of(unsigned int bits)
{
	return bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
}

/*
 * Check the mapping edu got for a @len byte dma-buf: entries and segments
 * cover it, none longer than @max_seg; without an IOMMU the bus address is
 * the physical one, with one an IOVA inside the mask.  Prints the evidence.
 */
static void check_mapping(struct edu *e, uint64_t len, uint64_t max_seg,
			  const char *what)
{
	struct wcpool_edu_seg *cpu, *dma;
	unsigned int ncpu = edu_segs(e, WCPOOL_EDU_SEGS_CPU, &cpu);
	unsigned int ndma = edu_segs(e, WCPOOL_EDU_SEGS_DMA, &dma);
	uint64_t sum = 0, big = 0, dbig = 0, off = 0, i, j, k;

	for (i = 0; i < ncpu; i++) {
		sum += cpu[i].len;
		big = cpu[i].len > big ? cpu[i].len : big;
		EXPECT(cpu[i].len <= max_seg);
	}
	EXPECT(sum == len);
	sum = 0;
	for (i = 0; i < ndma; i++) {
		sum += dma[i].len;
		dbig = dma[i].len > dbig ? dma[i].len : dbig;
		EXPECT(dma[i].len <= max_seg);
		EXPECT(dma[i].addr + dma[i].len - 1 <= mask_of(e->bits));
	}
	EXPECT(sum == len);
	if (!e->translated) {
		/* Direct: one segment per entry, at its physical address. */
		EXPECT(ndma == ncpu);
		for (i = 0; i < ndma && i < ncpu; i++)
			EXPECT(dma[i].addr == cpu[i].addr &&
			       dma[i].len == cpu[i].len);
	} else {
		/* Every byte's IOVA: the dma segments laid end to end. */
		for (i = 0, j = 0, k = 0; i < ncpu && j < ndma; i++) {
			off += cpu[i].len;
			while (j < ndma && k + dma[j].len <= off)
				k += dma[j++].len;
		}
		EXPECT(k == len);
	}
	printf("  %s: edu %s mask %u iommu %s: %u entries (longest %llu KiB), %u DMA segments (longest %llu KiB), phys %#llx -> bus %#llx\n",
	       what, e->name, e->bits, iommu, ncpu,
	       (unsigned long long)big / KB, ndma,
	       (unsigned long long)dbig / KB,
	       (unsigned long long)cpu[0].addr,
	       (unsigned long long)dma[0].addr);
	free(cpu);
	free(dma);
}

/* The 4 KiB pages of a registration of @len bytes at pool offset @start
 * to sample: first, last, both sides of each 2 MiB boundary, middles. */
static unsigned int samples(uint64_t start, uint64_t len, uint64_t *s)
{
	unsigned int n = 0;
	uint64_t b;

	s[n++] = 0;
	for (b = (start + HP) & ~(HP - 1); b < start + len; b += HP) {
		s[n++] = b - start - 4 * KB;
		s[n++] = b - start;
	}
	for (b = (start & ~(HP - 1)) + MB; b < start + len - 4 * KB; b += HP)
		if (b > start)
			s[n++] = b - start;
	s[n++] = len - 4 * KB;
	return n;
}

/*
 * edu copies the first 2 KiB of each sampled page of the dma-buf @dfd
 * (mapped by the CPU at @p, filled with pattern @seed) into the page's
 * second half; returns the bytes compared.
 */
static uint64_t dma_check(struct edu *e, int dfd, uint8_t *p, uint64_t start,
			  uint64_t len, unsigned int seed)
{
	uint64_t s[64], o, cmp = 0;
	unsigned int n = samples(start, len, s), i;
	uint8_t buf[2048];
	size_t j;

	sync_dmabuf(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	fill(p, len, seed);
	sync_dmabuf(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
	for (i = 0; i < n; i++) {
		o = s[i];
		ASSERT(edu_dma(e, o, 2048, WCPOOL_EDU_TO_DEVICE) == 0);
		ASSERT(edu_dma(e, o + 2048, 2048, WCPOOL_EDU_FROM_DEVICE) == 0);
	}
	sync_dmabuf(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	for (i = 0; i < n; i++) {
		o = s[i];
		memcpy(buf, p + o + 2048, sizeof(buf));
		for (j = 0; j < sizeof(buf); j++) {
			if (buf[j] != pat(seed, o + j)) {
				fprintf(stderr, "  edu %s: byte %#llx: device wrote %#x, CPU wrote %#x at %#llx\n",
					e->name, (unsigned long long)(o + 2048 + j),
					buf[j], pat(seed, o + j),
					(unsigned long long)(o + j));
				EXPECT(0);
				break;
			}
		}
		memcpy(buf, p + o, sizeof(buf));
		for (j = 0; j < sizeof(buf); j++)
			if (buf[j] != pat(seed, o + j))
				break;
		EXPECT(j == sizeof(buf));
		cmp += 2 * sizeof(buf);
	}
	sync_dmabuf(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	return cmp;
}

/* Can a device of @bits without an IOMMU reach every entry of @e's map? */
static bool reachable(struct edu *e, unsigned int bits)
{
	struct wcpool_edu_seg *cpu;
	unsigned int n = edu_segs(e, WCPOOL_EDU_SEGS_CPU, &cpu), i;
	bool ok = true;

	for (i = 0; i < n; i++)
		ok &= cpu[i].addr + cpu[i].len - 1 <= mask_of(bits);
	free(cpu);
	return ok;
}

/* The first edu whose DMA mask has @bits bits; nedu if none. */
static unsigned int edu_with_bits(unsigned int bits)
{
	unsigned int i;

	for (i = 0; i < nedu; i++)
		if (edu_bits[i] == bits)
			return i;
	return nedu;
}

static unsigned int widest(void)
{
	unsigned int i, w = 0;

	for (i = 1; i < nedu; i++)
		if (edu_bits[i] > edu_bits[w])
			w = i;
	return w;
}

/* Does the kernel log since the last call have a line with @a and @b? */
static bool kmsg_has(int kfd, const char *a, const char *b)
{
	char rec[8192];
	bool found = false;
	ssize_t n;

	for (;;) {
		n = read(kfd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			break;
		rec[n] = 0;
		if (strstr(rec, a) && strstr(rec, b)) {
			/* The message, without the record's dictionary. */
			rec[strcspn(rec, "\n")] = 0;
			printf("  kernel log: %s\n", strchr(rec, ';') ? strchr(rec, ';') + 1 : rec);
			found = true;
		}
	}
	return found;
}

static int kmsg_at_end(void)
{
	int kfd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	ASSERT(kfd >= 0);
	lseek(kfd, 0, SEEK_END);
	return kfd;
}

/*
 * Every device, WC pool: 4 MiB from pool offset 64 KiB (three pool
 * pages, two boundaries), default max segment (64 KiB, the
 * PCI default).  Reachable: the DMA is byte-exact; beyond the device's
 * mask without an IOMMU: the map moves the pages below the mask (one
 * more map_moves) and the DMA is byte-exact.  The widest device also
 * does UC and WB pools.
 */
static void test_dma(void)
{
	const uint64_t start = 64 * KB, len = 4 * MB;
	unsigned int i, policy, moved = 0;

	for (i = 0; i < nedu; i++) {
		for (policy = 0; policy < WCPOOL_POLICY_COUNT; policy++) {
			struct edu w, e;
			long moves = stat_get("map_moves");
			int fd, dfd, r;
			uint8_t *p;
			bool reach;

			if (policy != WCPOOL_POLICY_WC && i != widest())
				continue;
			w = edu_open(widest(), 0);
			/* What a driver without an IOMMU would ask for. */
			fd = pool_flags(policy, 6 * MB, !w.translated && edu_bits[i] <= 32 ?
					WCPOOL_CREATE_DMA32 : 0);
			ASSERT(range_ioctl(fd, WCPOOL_IOC_GROW, 0, 6 * MB) == 0);
			p = map(fd, 6 * MB);
			dfd = reg(fd, p + start, len);
			/* Where are the pages?  Ask a device that reaches all. */
			ASSERT(edu_attach(&w, dfd) == 0);
			reach = w.translated || reachable(&w, edu_bits[i]);
			close(w.fd);
			e = edu_open(i, 0);
			ASSERT(stat_get("dma_mapped") == 0);
			r = edu_attach(&e, dfd);
			ASSERT(r == 0);
			ASSERT(stat_get("dma_mapped") == 1);
			/* Only a device without an IOMMU makes pages move. */
			EXPECT(stat_get("map_moves") == moves + !reach);
			moved += !reach;
			check_mapping(&e, len, 64 * KB, "dma");
			printf("  dma: edu %s mask %u iommu %s %s pool%s: %llu bytes compared\n",
			       e.name, e.bits, iommu, policy_name[policy],
			       reach ? "" : ", pages moved below the mask at map",
			       (unsigned long long)dma_check(&e, dfd, p + start, start, len, i * 3 + policy));
			close(e.fd);
			close(dfd);
			munmap(p, 6 * MB);
			close(fd);
		}
	}
	printf("  dma: %u registrations moved at map\n", moved);
}

/*
 * Each device narrower than the guest's 2 GiB of RAM and a pool page
 * beyond its mask (grown until one is): without an IOMMU the map moves
 * the page below the mask; behind an IOMMU the device gets IOVAs inside
 * its mask and nothing moves.  The DMA is byte-exact either way.
 */
static void test_narrow(void)
{
	unsigned int i, tried = 0;

	for (i = 0; i < nedu; i++) {
		struct edu w, e;
		uint64_t off;
		int fd, dfd = -1;
		bool beyond = false;
		long moves;
		uint8_t *p;

		if (edu_bits[i] > 30)
			continue;
		tried++;
		w = edu_open(widest(), 0);
		/* Pages come low first: up to 400 MiB (limit_mb: 512). */
		fd = pool(WCPOOL_POLICY_WC, 400 * MB);
		p = map(fd, 400 * MB);
		for (off = 0; off < 400 * MB && !beyond; off += HP) {
			if (dfd >= 0)
				close(dfd);
			ASSERT(range_ioctl(fd, WCPOOL_IOC_GROW, off, HP) == 0);
			dfd = reg(fd, p + off, HP);
			ASSERT(edu_attach(&w, dfd) == 0);
			beyond = !reachable(&w, edu_bits[i]);
			ASSERT(ioctl(w.fd, WCPOOL_EDU_IOC_DETACH) == 0);
		}
		ASSERT(beyond);
		off -= HP;
		close(w.fd);
		e = edu_open(i, 0);
		moves = stat_get("map_moves");
		ASSERT(edu_attach(&e, dfd) == 0);
		EXPECT(stat_get("map_moves") == moves + !e.translated);
		check_mapping(&e, HP, 64 * KB, "narrow");
		printf("  narrow: edu %s mask %u iommu %s: page beyond the mask%s, %llu bytes compared\n",
		       e.name, e.bits, iommu,
		       e.translated ? "" : " moved below it at map",
		       (unsigned long long)dma_check(&e, dfd, p + off, off, HP, 13));
		close(e.fd);
		close(dfd);
		munmap(p, 400 * MB);
		close(fd);
	}
	EXPECT(tried > 0);
}

/*
 * The device's max segment size shapes the table: 64 KiB, 1 MiB and 4 GiB
 * less 4 KiB (then a 2 MiB pool page is one entry, the runs at most 1 GiB).
 */
static void test_seg_limit(void)
{
	static const unsigned int limits[] = { 64 * KB, MB, 0xfffff000 };
	const uint64_t start = 64 * KB, len = 6 * MB;
	unsigned int l, i = widest();
	int fd = pool(WCPOOL_POLICY_WC, 8 * MB), dfd;
	uint8_t *p;

	ASSERT(range_ioctl(fd, WCPOOL_IOC_GROW, 0, 8 * MB) == 0);
	p = map(fd, 8 * MB);
	dfd = reg(fd, p + start, len);
	for (l = 0; l < ARRAY_SIZE(limits); l++) {
		struct edu e = edu_open(i, limits[l]);
		struct wcpool_edu_seg *cpu;
		unsigned int n, k;
		uint64_t big = 0;
		char what[32];

		ASSERT(edu_attach(&e, dfd) == 0);
		snprintf(what, sizeof(what), "seg_limit %u KiB",
			 limits[l] / 1024);
		check_mapping(&e, len, limits[l] < (1U << 30) ? limits[l] : 1U << 30, what);
		n = edu_segs(&e, WCPOOL_EDU_SEGS_CPU, &cpu);
		for (k = 0; k < n; k++)
			big = cpu[k].len > big ? cpu[k].len : big;
		/* Not cut more than the device asks: a whole pool page fits. */
		if (limits[l] > HP)
			EXPECT(big >= HP);
		else
			EXPECT(big == limits[l]);
		free(cpu);
		if (l == 0)
			printf("  seg_limit: %llu bytes compared through 64 KiB segments\n",
			       (unsigned long long)dma_check(&e, dfd, p + start, start, len, 7));
		close(e.fd);
	}
	/* Restore the PCI default for the tests after this one. */
	close(edu_open(i, 64 * KB).fd);
	close(dfd);
	munmap(p, 8 * MB);
	close(fd);
}

/*
 * One registration attached and mapped by edu and by vgem at once, the
 * device DMA byte-exact meanwhile, then detached in either order, and the
 * dma-buf fd closed before, between or after.
 */
static void test_edu_vgem(void)
{
	static const char * const orders[] = { "evd", "ved", "dev", "edv" };
	unsigned int o;

	for (o = 0; o < ARRAY_SIZE(orders); o++) {
		struct edu e = edu_open(widest(), 0);
		int fd = pool(o & 1 ? WCPOOL_POLICY_UC : WCPOOL_POLICY_WC, 4 * MB);
		int drm = vgem_open(), dfd;
		struct t_drm_prime_handle h;
		struct t_drm_gem_close gc;
		uint8_t *p;
		const char *c;

		ASSERT(drm >= 0);
		ASSERT(range_ioctl(fd, WCPOOL_IOC_GROW, 0, 4 * MB) == 0);
		p = map(fd, 4 * MB);
		dfd = reg(fd, p + HP - 8 * KB, 16 * KB);
		memset(&h, 0, sizeof(h));
		h.fd = dfd;
		ASSERT(ioctl(drm, T_DRM_IOCTL_PRIME_FD_TO_HANDLE, &h) == 0);
		ASSERT(edu_attach(&e, dfd) == 0);
		ASSERT(stat_get("dma_mapped") == 2);
		if (!o)
			printf("  edu_vgem: %llu bytes compared with vgem attached too\n",
			       (unsigned long long)dma_check(&e, dfd, p + HP - 8 * KB, HP - 8 * KB, 16 * KB, 11));
		for (c = orders[o]; *c; c++) {
			switch (*c) {
			case 'e':
				ASSERT(ioctl(e.fd, WCPOOL_EDU_IOC_DETACH) == 0);
				break;
			case 'v':
				gc = (struct t_drm_gem_close){ .handle = h.handle };
				ASSERT(ioctl(drm, T_DRM_IOCTL_GEM_CLOSE, &gc) == 0);
				break;
			case 'd':
				close(dfd);
				break;
			}
		}
		ASSERT(stat_get("dma_mapped") == 0);
		ASSERT(stat_get("registrations") == 0);
		close(drm);
		close(e.fd);
		munmap(p, 4 * MB);
		close(fd);
	}
}

/*
 * Everything of the user's closed while edu holds the mapping: the
 * dma-buf fd, the pool mapping, the pool fd (the pool object lives on in
 * the registration); the device still reads and writes the right pages,
 * seen through a mapping of the dma-buf.
 */
static void test_close_mapped(void)
{
	struct edu e = edu_open(widest(), 0);
	int fd = pool(WCPOOL_POLICY_WC, 4 * MB), dfd;
	uint8_t *p, *d;

	ASSERT(range_ioctl(fd, WCPOOL_IOC_GROW, 0, 4 * MB) == 0);
	p = map(fd, 4 * MB);
	dfd = reg(fd, p + MB, 2 * MB);
	ASSERT(edu_attach(&e, dfd) == 0);
	d = mmap(NULL, 2 * MB, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
	ASSERT(d != MAP_FAILED);
	close(dfd);
	munmap(p, 4 * MB);
	close(fd);
	ASSERT(stat_get("pools") == 1);
	ASSERT(stat_get("dma_mapped") == 1);
	printf("  close_mapped: %llu bytes compared after the dma-buf fd, pool mapping and pool fd were closed\n",
	       (unsigned long long)dma_check(&e, -1, d, MB, 2 * MB, 5));
	munmap(d, 2 * MB);
	ASSERT(stat_get("registrations") == 1);
	close(e.fd);	/* detach: the last reference */
	ASSERT(stat_get("registrations") == 0);
	ASSERT(stat_get("pools") == 0);
}

struct racer {
	struct edu *e;
	volatile bool stop;
	volatile unsigned int rounds, errors;
};

static void *race_dma(void *arg)
{
	struct racer *r = arg;
	uint64_t o;

	while (!r->stop) {
		o = (r->rounds % 4) * HP / 2;
		if (edu_dma(r->e, o, 2048, WCPOOL_EDU_TO_DEVICE) ||
		    edu_dma(r->e, o + 2048, 2048, WCPOOL_EDU_FROM_DEVICE))
			r->errors++;
		else
			r->rounds++;
	}
	return NULL;
}

/* Wait until the racer has made two more round trips (or failed one). */
static void race_progress(struct racer *r)
{
	unsigned int n = r->rounds + 2;

	while (r->rounds < n && !r->errors)
		usleep(1000);
}

/*
 * edu DMA in a loop while the pool's owner tries RELEASE (EBUSY), unmaps,
 * closes the dma-buf fd and destroys the pool: the transfers keep
 * working on the registered pages, which are freed only after the detach.
 */
static void test_race(void)
{
	struct edu e = edu_open(widest(), 0);
	int fd = pool(WCPOOL_POLICY_WC, 4 * MB), dfd;
	struct racer r = { .e = &e };
	pthread_t t;
	uint8_t *p;

	ASSERT(range_ioctl(fd, WCPOOL_IOC_GROW, 0, 4 * MB) == 0);
	p = map(fd, 4 * MB);
	fill(p, 4 * MB, 3);
	dfd = reg(fd, p, 4 * MB);
	ASSERT(edu_attach(&e, dfd) == 0);
	ASSERT(pthread_create(&t, NULL, race_dma, &r) == 0);
	/* Transfers before and after each step (waits, no time limit). */
	race_progress(&r);
	EXPECT_ERR(range_ioctl(fd, WCPOOL_IOC_RELEASE, 0, 4 * MB), EBUSY);
	race_progress(&r);
	close(dfd);
	race_progress(&r);
	munmap(p, 4 * MB);
	close(fd);
	race_progress(&r);
	EXPECT(stat_get("registrations") == 1);
	r.stop = true;
	pthread_join(t, NULL);
	EXPECT(r.errors == 0);
	printf("  race: %u round trips while the pool was released, unmapped and destroyed\n",
	       r.rounds);
	close(e.fd);
	EXPECT(stat_get("registrations") == 0);
	EXPECT(stat_get("pools") == 0);
}

/*
 * The driver unbound (sysfs) while attached and a transfer runs: unbind
 * waits for it and detaches; the next transfer fails with ENODEV; the
 * device is bound again for later tests.
 */
static void test_unbind(void)
{
	struct edu e = edu_open(widest(), 0);
	int fd = pool(WCPOOL_POLICY_WB, 2 * MB), dfd, s;
	struct racer r = { .e = &e };
	pthread_t t;
	uint8_t *p;

	ASSERT(range_ioctl(fd, WCPOOL_IOC_GROW, 0, 2 * MB) == 0);
	p = map(fd, 2 * MB);
	dfd = reg(fd, p, 2 * MB);
	ASSERT(edu_attach(&e, dfd) == 0);
	ASSERT(pthread_create(&t, NULL, race_dma, &r) == 0);
	race_progress(&r);	/* transfers running when unbind comes */
	s = open("/sys/bus/pci/drivers/wcpool_edu/unbind", O_WRONLY);
	ASSERT(s >= 0);
	ASSERT(write(s, e.name, strlen(e.name)) == (ssize_t)strlen(e.name));
	close(s);
	EXPECT(stat_get("dma_mapped") == 0);
	r.stop = true;
	pthread_join(t, NULL);
	EXPECT_ERR(edu_dma(&e, 0, 2048, WCPOOL_EDU_TO_DEVICE), ENODEV);
	close(e.fd);
	close(dfd);
	munmap(p, 2 * MB);
	close(fd);
	s = open("/sys/bus/pci/drivers/wcpool_edu/bind", O_WRONLY);
	ASSERT(s >= 0);
	ASSERT(write(s, e.name, strlen(e.name)) == (ssize_t)strlen(e.name));
	close(s);
	printf("  unbind: %u round trips before the unbind\n", r.rounds);
}

/* Pages of @e's mapping above 4 GiB. */
static unsigned int above_4g(struct edu *e)
{
	struct wcpool_edu_seg *cpu;
	unsigned int n = edu_segs(e, WCPOOL_EDU_SEGS_CPU, &cpu), i, a = 0;

	for (i = 0; i < n; i++)
		a += cpu[i].addr + cpu[i].len > (1ULL << 32);
	free(cpu);
	return a;
}

/*
 * WCPOOL_CREATE_DMA32: INFO says so, every page lies below 4 GiB (seen in
 * the widest device's sg table), a 32-bit device maps it, without an
 * IOMMU too, and its DMA is byte-exact.  A plain pool beside it: where
 * its pages lie above 4 GiB (run-edu boots the guest without an IOMMU
 * with 3 GiB, 1 GiB of it above 4 GiB), the 32-bit device without an
 * IOMMU makes them move below 4 GiB at map (nothing else maps them).
 */
static void test_dma32(void)
{
	const uint64_t start = 64 * KB, len = 4 * MB;
	struct wcpool_info in = { .size = sizeof(in) };
	unsigned int d32, plain_above;
	int fd, dfd, pfd, pdfd;
	struct edu w, e;
	uint8_t *p;

	d32 = edu_with_bits(32);
	ASSERT(d32 < nedu);
	fd = pool_flags(WCPOOL_POLICY_WC, 32 * MB, WCPOOL_CREATE_DMA32);
	ASSERT(ioctl(fd, WCPOOL_IOC_INFO, &in) == 0);
	EXPECT(in.flags & WCPOOL_INFO_DMA32);
	ASSERT(range_ioctl(fd, WCPOOL_IOC_GROW, 0, 32 * MB) == 0);
	p = map(fd, 32 * MB);
	dfd = reg(fd, p, 32 * MB);
	w = edu_open(widest(), 0);
	ASSERT(edu_attach(&w, dfd) == 0);
	EXPECT(above_4g(&w) == 0);
	close(w.fd);
	close(dfd);
	dfd = reg(fd, p + start, len);

	/* A plain pool of as many pages. */
	pfd = pool(WCPOOL_POLICY_WC, 32 * MB);
	ASSERT(range_ioctl(pfd, WCPOOL_IOC_GROW, 0, 32 * MB) == 0);
	{
		uint8_t *q = map(pfd, 32 * MB);

		pdfd = reg(pfd, q, 32 * MB);
		munmap(q, 32 * MB);
	}
	w = edu_open(widest(), 0);
	ASSERT(edu_attach(&w, pdfd) == 0);
	plain_above = above_4g(&w);
	close(w.fd);
	e = edu_open(d32, 0);
	if (plain_above && !e.translated) {
		/* No mapping of the plain pool is left: its pages move. */
		long moves = stat_get("map_moves");

		ASSERT(edu_attach(&e, pdfd) == 0);
		EXPECT(stat_get("map_moves") == moves + 1);
		EXPECT(above_4g(&e) == 0);
		ASSERT(ioctl(e.fd, WCPOOL_EDU_IOC_DETACH) == 0);
		printf("  dma32: plain pool: %u of its sg entries above 4 GiB, moved below at map for edu %s mask 32\n",
		       plain_above, e.name);
	} else {
		printf("  dma32: plain pool: %u of its sg entries above 4 GiB, iommu %s\n",
		       plain_above, iommu);
	}
	close(pdfd);
	close(pfd);

	ASSERT(edu_attach(&e, dfd) == 0);
	check_mapping(&e, len, 64 * KB, "dma32");
	printf("  dma32: DMA32 pool, all pages below 4 GiB: %llu bytes compared\n",
	       (unsigned long long)dma_check(&e, dfd, p + start, start, len, 17));
	close(e.fd);
	close(dfd);
	munmap(p, 32 * MB);
	close(fd);
}

/* REGISTER with device constraints; returns the dma-buf fd or -1. */
static int reg_c(int fd, void *addr, uint64_t len, uint32_t bits,
		 uint32_t max_segs, uint32_t max_seg, uint32_t *nsegs)
{
	struct wcpool_register r = {
		.size = sizeof(r), .flags = WCPOOL_REG_READ | WCPOOL_REG_WRITE,
		.addr = (uintptr_t)addr, .length = len, .addr_bits = bits,
		.max_segments = max_segs, .max_seg_size = max_seg,
	};

	if (ioctl(fd, WCPOOL_IOC_REGISTER, &r))
		return -1;
	if (nsegs)
		*nsegs = r.nr_segments;
	return r.fd;
}

/* Does this kernel make contiguous runs (6.12)? */
static bool runs_ok(void)
{
	struct wcpool_create c = {
		.size = sizeof(c), .max_size = 4 * MB, .contig_size = 4 * MB,
	};
	int dev = open("/dev/wcpool", O_RDWR | O_CLOEXEC), ret;

	ASSERT(dev >= 0);
	ret = ioctl(dev, WCPOOL_IOC_CREATE, &c);
	close(dev);
	if (ret)
		return false;
	close(c.fd);
	return true;
}

/*
 * Constraints known up front fail at REGISTER, not at the device's map:
 * addr_bits (a page at or above 2^bits: ERANGE; the widest edu's sg table
 * tells where the pages are), max_segments (more runs: ERANGE; one pool
 * page is one run), max_seg_size (runs cut at it, SEGMENTS agrees, the
 * 32-bit edu maps a DMA32 registration made with addr_bits 32).  Values
 * out of range: EINVAL.
 */
static void test_reg_constraints(void)
{
	struct wcpool_segment segs[64];
	struct wcpool_segments sq = {
		.size = sizeof(sq), .count = 64, .segments = (uintptr_t)segs,
	};
	struct wcpool_register bad;
	unsigned int i, d32, bits = 0;
	uint32_t n;
	uint64_t off;
	int fd, dfd = -1;
	bool beyond = false, runs;
	struct edu w, e;
	uint8_t *p;

	d32 = edu_with_bits(32);
	ASSERT(d32 < nedu);
	fd = pool_flags(WCPOOL_POLICY_WC, 400 * MB, 0);
	p = map(fd, 400 * MB);
	ASSERT(range_ioctl(fd, WCPOOL_IOC_GROW, 0, 4 * MB) == 0);

	/* Out of range. */
	bad = (struct wcpool_register){
		.size = sizeof(bad), .flags = WCPOOL_REG_READ,
		.addr = (uintptr_t)p, .length = HP,
	};
	bad.addr_bits = 11;
	EXPECT_ERR(ioctl(fd, WCPOOL_IOC_REGISTER, &bad), EINVAL);
	bad.addr_bits = 65;
	EXPECT_ERR(ioctl(fd, WCPOOL_IOC_REGISTER, &bad), EINVAL);
	bad.addr_bits = 0;
	bad.max_seg_size = 4097;
	EXPECT_ERR(ioctl(fd, WCPOOL_IOC_REGISTER, &bad), EINVAL);
	bad.max_seg_size = (1U << 30) + 4096;
	EXPECT_ERR(ioctl(fd, WCPOOL_IOC_REGISTER, &bad), EINVAL);
	bad.max_seg_size = 0;
	bad.reserved1 = 1;
	EXPECT_ERR(ioctl(fd, WCPOOL_IOC_REGISTER, &bad), EINVAL);

	/* max_seg_size: a pool page in 64 KiB runs, as SEGMENTS lists. */
	dfd = reg_c(fd, p + HP, HP, 0, 0, 64 * KB, &n);
	ASSERT(dfd >= 0);
	EXPECT(n == 32);
	sq.dmabuf = dfd;
	ASSERT(ioctl(fd, WCPOOL_IOC_SEGMENTS, &sq) == 0);
	EXPECT(sq.count == 32);
	for (i = 0; i < sq.count && i < 64; i++)
		EXPECT(segs[i].length == 64 * KB && segs[i].offset == i * 64 * KB);
	close(dfd);
	/* max_segments: one run fits a pool page; 31 are too few above. */
	dfd = reg_c(fd, p + HP, HP, 0, 1, 0, &n);
	EXPECT(dfd >= 0 && n == 1);
	close(dfd);
	EXPECT_ERR(reg_c(fd, p + HP, HP, 0, 31, 64 * KB, NULL), ERANGE);
	dfd = reg_c(fd, p + HP, HP, 0, 32, 64 * KB, NULL);
	EXPECT(dfd >= 0);
	close(dfd);
	/* Two pool pages: one run only where they are adjacent. */
	dfd = reg(fd, p, 4 * MB);
	sq.dmabuf = dfd;
	ASSERT(ioctl(fd, WCPOOL_IOC_SEGMENTS, &sq) == 0);
	close(dfd);
	/* Scattered pages move into one run where the kernel makes runs. */
	runs = runs_ok();
	dfd = reg_c(fd, p, 4 * MB, 0, 1, 0, NULL);
	if (sq.count == 1 || runs)
		EXPECT(dfd >= 0);
	else
		EXPECT(dfd == -1 && errno == ERANGE);
	if (dfd >= 0)
		close(dfd);

	/* addr_bits: grow until a page lies at or above 2^28. */
	w = edu_open(widest(), 0);
	for (off = 4 * MB; off < 400 * MB && !beyond; off += HP) {
		ASSERT(range_ioctl(fd, WCPOOL_IOC_GROW, off, HP) == 0);
		dfd = reg(fd, p + off, HP);
		ASSERT(edu_attach(&w, dfd) == 0);
		beyond = !reachable(&w, 28);
		ASSERT(ioctl(w.fd, WCPOOL_EDU_IOC_DETACH) == 0);
		close(dfd);
	}
	ASSERT(beyond);
	off -= HP;
	dfd = reg_c(fd, p + off, HP, 64, 0, 0, NULL);
	EXPECT(dfd >= 0);
	close(dfd);
	/* The page moves below 2^28 (wcpool_move.c) and the 28-bit edu
	 * reaches it. */
	dfd = reg_c(fd, p + off, HP, 28, 0, 0, NULL);
	EXPECT(dfd >= 0);
	ASSERT(edu_attach(&w, dfd) == 0);
	EXPECT(reachable(&w, 28));
	ASSERT(ioctl(w.fd, WCPOOL_EDU_IOC_DETACH) == 0);
	close(dfd);
	/* The narrowest mask the page meets works. */
	dfd = reg(fd, p + off, HP);
	ASSERT(edu_attach(&w, dfd) == 0);
	{
		struct wcpool_edu_seg *cpu;
		unsigned int k, m = edu_segs(&w, WCPOOL_EDU_SEGS_CPU, &cpu);
		uint64_t top = 0;

		for (k = 0; k < m; k++)
			if (cpu[k].addr + cpu[k].len > top)
				top = cpu[k].addr + cpu[k].len;
		free(cpu);
		while ((1ULL << bits) < top)
			bits++;
	}
	close(w.fd);
	close(dfd);
	dfd = reg_c(fd, p + off, HP, bits, 0, 0, NULL);
	EXPECT(dfd >= 0);
	close(dfd);
	/* Below 24 bits no move is tried: ERANGE; else the page moves. */
	dfd = reg_c(fd, p + off, HP, bits - 1, 0, 0, NULL);
	if (bits - 1 < 24)
		EXPECT(dfd == -1 && errno == ERANGE);
	else
		EXPECT(dfd >= 0);
	if (dfd >= 0)
		close(dfd);
	/* No 2 MiB page lies below 2^21 (page 0 is never RAM for us). */
	EXPECT_ERR(reg_c(fd, p + off, HP, 21, 0, 0, NULL), ERANGE);
	printf("  reg_constraints: a page ending at %#llx: addr_bits %u registers, %u %s, 21 is ERANGE\n",
	       1ULL << bits, bits, bits - 1,
	       bits - 1 < 24 ? "is ERANGE" : "moves it");
	munmap(p, 400 * MB);
	close(fd);

	/* A DMA32 pool registered for 32 bits: the 32-bit edu maps it. */
	fd = pool_flags(WCPOOL_POLICY_WC, 4 * MB, WCPOOL_CREATE_DMA32);
	ASSERT(range_ioctl(fd, WCPOOL_IOC_GROW, 0, 4 * MB) == 0);
	p = map(fd, 4 * MB);
	dfd = reg_c(fd, p, 4 * MB, 32, 0, 0, NULL);
	ASSERT(dfd >= 0);
	e = edu_open(d32, 0);
	EXPECT(edu_attach(&e, dfd) == 0);
	close(e.fd);
	close(dfd);
	munmap(p, 4 * MB);
	close(fd);
}

/* A pool below 2^@bits, of runs of @contig bytes (0: none); -1 if not. */
static int pool_fit(uint64_t max, uint32_t bits, uint64_t contig)
{
	struct wcpool_create c = {
		.size = sizeof(c), .max_size = max, .addr_bits = bits,
		.contig_size = contig,
	};
	int dev = open("/dev/wcpool", O_RDWR | O_CLOEXEC), ret;

	ASSERT(dev >= 0);
	ret = ioctl(dev, WCPOOL_IOC_CREATE, &c);
	close(dev);
	return ret ? -1 : c.fd;
}

/*
 * Memory that fits a device without an IOMMU: a pool below 2^28
 * (addr_bits) maps for the 28-bit edu, also without an IOMMU, and its DMA
 * is byte-exact.  Where the kernel makes contiguous runs (6.12): a 4K NV12
 * frame (12 441 600 bytes, registered as 3038 pages) on a 12 MiB
 * contiguous pool below 2^28, registered with max_segments 1 and
 * addr_bits 28, is one segment; the edu (taking 16 MiB entries) gets one
 * sg entry, and its DMA is byte-exact at both ends and across every 2 MiB
 * boundary of the run.
 */
static void test_fit(void)
{
	const uint64_t frame = 12441600, flen = (frame + 4095) & ~4095ULL;
	struct wcpool_edu_seg *cpu;
	struct wcpool_register r;
	unsigned int d28 = edu_with_bits(28), n;
	struct edu e;
	uint8_t *p;
	int fd, dfd;

	ASSERT(d28 < nedu);
	fd = pool_fit(4 * MB, 28, 0);
	ASSERT(fd >= 0);
	ASSERT(range_ioctl(fd, WCPOOL_IOC_GROW, 0, 4 * MB) == 0);
	p = map(fd, 4 * MB);
	dfd = reg(fd, p, 4 * MB);
	e = edu_open(d28, 0);
	ASSERT(edu_attach(&e, dfd) == 0);
	check_mapping(&e, 4 * MB, 64 * KB, "fit 28");
	printf("  fit: pool below 2^28, edu %s mask 28: %llu bytes compared\n",
	       e.name, (unsigned long long)dma_check(&e, dfd, p, 0, 4 * MB, 23));
	close(e.fd);
	close(dfd);
	munmap(p, 4 * MB);
	close(fd);

	fd = pool_fit(12 * MB, 28, 12 * MB);
	if (fd < 0) {
		ASSERT(errno == EOPNOTSUPP);
		printf("  fit: no contiguous runs on this kernel\n");
		return;
	}
	ASSERT(range_ioctl(fd, WCPOOL_IOC_GROW, 0, 12 * MB) == 0);
	p = map(fd, 12 * MB);
	r = (struct wcpool_register){
		.size = sizeof(r), .flags = WCPOOL_REG_READ | WCPOOL_REG_WRITE,
		.addr = (uintptr_t)p, .length = flen, .addr_bits = 28,
		.max_segments = 1,
	};
	ASSERT(ioctl(fd, WCPOOL_IOC_REGISTER, &r) == 0);
	EXPECT(r.nr_segments == 1);
	e = edu_open(d28, 16 * MB);
	ASSERT(edu_attach(&e, r.fd) == 0);
	n = edu_segs(&e, WCPOOL_EDU_SEGS_CPU, &cpu);
	EXPECT(n == 1 && cpu[0].len == flen &&
	       cpu[0].addr + flen <= 1ULL << 28);
	free(cpu);
	check_mapping(&e, flen, 16 * MB, "fit frame");
	printf("  fit: %llu-byte frame in one run, edu %s mask 28: %llu bytes compared\n",
	       (unsigned long long)frame, e.name,
	       (unsigned long long)dma_check(&e, r.fd, p, 0, flen, 29));
	close(e.fd);
	close(r.fd);
	munmap(p, 12 * MB);
	close(fd);
}

/*
 * REGISTER moves a buffer to pages its device reaches in one piece
 * (kernel/wcpool_move.c): the 4K NV12 frame at 1 MiB + 4 KiB of a pool
 * whose 8 pages are scattered, registered with addr_bits 28 and
 * max_segments 1, lies in one run below 2^28 afterwards (6.12), with
 * every byte of the pool's mapping unchanged; the 28-bit edu without
 * IOMMU maps it and DMAs byte-exact on both sides of every former 2 MiB
 * boundary.  Without runs (6.1) the same frame is ERANGE and a 2 MiB
 * range over two pages moves below 2^28 page by page (ZONE_DMA).
 */
static void test_move(void)
{
	const uint64_t frame = 12441600, flen = (frame + 4095) & ~4095ULL;
	const uint64_t at = MB + 4 * KB, plen = 8 * HP;
	unsigned int d28 = edu_with_bits(28), n, i;
	struct wcpool_edu_seg *cpu;
	struct wcpool_register r;
	bool runs = runs_ok();
	uint64_t len = runs ? flen : HP, j, bad = 0;
	int fd, other;
	struct edu e;
	uint8_t *p;

	ASSERT(d28 < nedu);
	fd = pool(WCPOOL_POLICY_WC, plen);
	other = pool(WCPOOL_POLICY_WC, plen);
	/* Last offset first, interleaved with another pool: scattered. */
	for (i = 8; i-- > 0;) {
		ASSERT(range_ioctl(fd, WCPOOL_IOC_GROW, i * HP, HP) == 0);
		ASSERT(range_ioctl(other, WCPOOL_IOC_GROW, i * HP, HP) == 0);
	}
	p = map(fd, plen);
	fill(p, plen, 41);
	if (!runs)
		EXPECT_ERR(reg_c(fd, p + at, flen, 28, 1, 0, NULL), ERANGE);
	r = (struct wcpool_register){
		.size = sizeof(r), .flags = WCPOOL_REG_READ | WCPOOL_REG_WRITE,
		.addr = (uintptr_t)(p + at), .length = len, .addr_bits = 28,
		.max_segments = runs ? 1 : 0,
	};
	ASSERT(ioctl(fd, WCPOOL_IOC_REGISTER, &r) == 0);
	if (runs)
		EXPECT(r.nr_segments == 1);
	for (j = 0; j < plen; j++)
		bad += p[j] != pat(41, j);
	EXPECT(bad == 0);
	e = edu_open(d28, 16 * MB);
	ASSERT(edu_attach(&e, r.fd) == 0);
	n = edu_segs(&e, WCPOOL_EDU_SEGS_CPU, &cpu);
	for (i = 0; i < n; i++)
		EXPECT(cpu[i].addr + cpu[i].len <= 1ULL << 28);
	if (runs)
		EXPECT(n == 1 && cpu[0].len == flen);
	free(cpu);
	check_mapping(&e, len, 16 * MB, "move");
	printf("  move: %llu bytes over %llu former pages moved below 2^28 in %u run(s), edu %s mask 28: %llu bytes compared\n",
	       (unsigned long long)len,
	       (unsigned long long)((at + len - 1) / HP + 1), n, e.name,
	       (unsigned long long)dma_check(&e, r.fd, p + at, at, len, 43));
	close(e.fd);
	close(r.fd);
	munmap(p, plen);
	close(fd);
	close(other);
}

/* ---- moves at map ---- */

/* The module's recycled pages go back to the system (its shrinker). */
static void drop_recycled(void)
{
	int dc = open("/proc/sys/vm/drop_caches", O_WRONLY);

	ASSERT(dc >= 0);
	ASSERT(write(dc, "2", 1) == 1);
	close(dc);
}

/*
 * A 2 MiB page of pool @fd (mapped at @p) above @limit, grown at the
 * first such offset; returns the offset.  The module's recycled pages
 * (low ones that earlier moves left) are dropped first (its shrinker);
 * pages then come from the page allocator, mostly high in a 3 GiB guest.
 * Behind an IOMMU (a 2 GiB guest) nothing moves whatever the page: there
 * the first page does when none above the limit comes.
 */
static uint64_t grow_above(int fd, uint8_t *p, uint64_t max, uint64_t limit)
{
	uint64_t off;

	drop_recycled();
	for (off = 0; off < max; off += HP) {
		ASSERT(range_ioctl(fd, WCPOOL_IOC_GROW, off, HP) == 0);
		if (phys_addr(p + off) >= limit)
			return off;
	}
	ASSERT(strcmp(iommu, "none"));
	return 0;
}

/* The pool offset of the registered buffer inside the 2 MiB page. */
#define MM_BUF		(64 * KB)
#define MM_LEN		MB
#define MM_WORDS	(MM_LEN / 4096)	/* one written word per 4 KiB page */
#define MM_POOL		(256 * MB)

/*
 * A map test's buffer: MM_LEN bytes at MM_BUF of a 2 MiB page above 2^28
 * (grow_above()) of a fresh pool of MM_POOL bytes, the page filled with
 * pattern @seed, registered.
 */
struct mm_buf {
	int fd, dfd;
	uint8_t *p;	/* the pool's mapping */
	uint64_t off;	/* pool offset of the 2 MiB page */
	uint64_t pa;	/* its physical address before any move */
};

static struct mm_buf mm_buf(uint32_t policy, unsigned int seed)
{
	struct mm_buf b = { .fd = pool(policy, MM_POOL) };

	b.p = map(b.fd, MM_POOL);
	b.off = grow_above(b.fd, b.p, MM_POOL, 1ULL << 28);
	b.pa = phys_addr(b.p + b.off);
	fill(b.p + b.off, HP, seed);
	b.dfd = reg(b.fd, b.p + b.off + MM_BUF, MM_LEN);
	return b;
}

static void mm_buf_close(struct mm_buf *b)
{
	close(b->dfd);
	munmap(b->p, MM_POOL);
	close(b->fd);
}

/*
 * Writes a new value into one word of each 4 KiB page of the buffer,
 * the first half through the pool's mapping and the second half through
 * the dma-buf's, over and over, keeping the last value of each.
 */
struct scribe {
	volatile uint32_t *pool, *dmabuf;
	uint32_t last[MM_WORDS];
	volatile unsigned long passes;
	volatile bool stop;
};

static volatile uint32_t *scribe_word(struct scribe *s, unsigned int k)
{
	return k < MM_WORDS / 2 ? s->pool + k * 1024 :
	       s->dmabuf + k * 1024;
}

static void *scribe_run(void *arg)
{
	struct scribe *s = arg;
	uint32_t v = 0;
	unsigned int k;

	while (!s->stop) {
		for (k = 0; k < MM_WORDS; k++) {
			*scribe_word(s, k) = ++v;
			s->last[k] = v;
		}
		s->passes++;
	}
	return NULL;
}

/* Wait (no time limit: the test's own timeout bounds it) for 2 passes. */
static void scribe_wait(struct scribe *s)
{
	unsigned long n = s->passes + 2;

	while (s->passes < n)
		usleep(1000);
}

/* Bytes of the pattern-filled 2 MiB page at @q that differ from it,
 * the scribe's words (checked against its last values) left out. */
static uint64_t page_bad(const uint8_t *q, struct scribe *s, unsigned int seed)
{
	uint64_t j, bad = 0, k;

	for (j = 0; j < HP; j++) {
		if (j >= MM_BUF && j < MM_BUF + MM_LEN && (j - MM_BUF) % 4096 < 4)
			continue;
		bad += q[j] != pat(seed, j);
	}
	for (k = 0; k < MM_WORDS; k++)
		bad += *scribe_word(s, k) != s->last[k];
	return bad;
}

/*
 * The 28-bit edu maps a 1 MiB buffer (at 64 KiB of a 2 MiB pool page
 * above 2^28) while a thread writes it through the pool's mapping and the
 * dma-buf's.  Without an IOMMU the map moves the page below 2^28 (one
 * map_moves, one page moved): every sg entry below 2^28; both mappings
 * refault onto the same new page at the same addresses; every byte of
 * the 2 MiB page (the neighbours' outside the buffer included) as it was,
 * and every word the thread wrote holds its last value; a second edu and
 * vgem attached after the move get the same pages; the DMA is byte-exact.
 * Behind an IOMMU nothing moves and the same checks hold.
 */
static void test_map_move(void)
{
	unsigned int d28 = edu_with_bits(28), n, n2, i;
	struct wcpool_edu_seg *cpu, *cpu2;
	struct t_drm_prime_handle h = { 0 };
	struct scribe *sc;
	long moves, pages;
	struct mm_buf b;
	double took;
	struct edu e, w;
	uint8_t *d;
	pthread_t t;
	int drm;

	ASSERT(d28 < nedu);
	b = mm_buf(WCPOOL_POLICY_WC, 51);
	d = mmap(NULL, MM_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, b.dfd, 0);
	ASSERT(d != MAP_FAILED);
	ASSERT(phys_addr(d) == b.pa + MM_BUF);
	sc = calloc(1, sizeof(*sc));
	ASSERT(sc);
	sc->pool = (volatile uint32_t *)(b.p + b.off + MM_BUF);
	sc->dmabuf = (volatile uint32_t *)d;
	ASSERT(pthread_create(&t, NULL, scribe_run, sc) == 0);
	scribe_wait(sc);

	moves = stat_get("map_moves");
	pages = stat_get("pages_moved");
	/* 64 KiB entries for both edus: an earlier test may have set more. */
	e = edu_open(d28, 64 * KB);
	took = now_s();
	ASSERT(edu_attach(&e, b.dfd) == 0);
	took = now_s() - took;
	scribe_wait(sc);
	sc->stop = true;
	pthread_join(t, NULL);
	EXPECT(stat_get("map_moves") == moves + !e.translated);
	EXPECT(stat_get("pages_moved") == pages + !e.translated);
	if (e.translated)
		EXPECT(phys_addr(b.p + b.off) == b.pa);
	else
		EXPECT(phys_addr(b.p + b.off) + HP <= 1ULL << 28);
	EXPECT(phys_addr(d) == phys_addr(b.p + b.off + MM_BUF));
	EXPECT(phys_addr(d + MM_LEN - 4 * KB) ==
	       phys_addr(b.p + b.off + MM_BUF + MM_LEN - 4 * KB));
	EXPECT(page_bad(b.p + b.off, sc, 51) == 0);
	n = edu_segs(&e, WCPOOL_EDU_SEGS_CPU, &cpu);
	for (i = 0; i < n; i++)
		EXPECT(e.translated || cpu[i].addr + cpu[i].len <= 1ULL << 28);
	check_mapping(&e, MM_LEN, 64 * KB, "map_move");

	/* Importers after the move: the same pages. */
	w = edu_open(widest(), 64 * KB);
	ASSERT(edu_attach(&w, b.dfd) == 0);
	n2 = edu_segs(&w, WCPOOL_EDU_SEGS_CPU, &cpu2);
	EXPECT(n2 == n);
	for (i = 0; i < n && i < n2; i++)
		EXPECT(cpu2[i].addr == cpu[i].addr && cpu2[i].len == cpu[i].len);
	drm = vgem_open();
	ASSERT(drm >= 0);
	h.fd = b.dfd;
	ASSERT(ioctl(drm, T_DRM_IOCTL_PRIME_FD_TO_HANDLE, &h) == 0);
	EXPECT(stat_get("dma_mapped") == 3);
	EXPECT(stat_get("map_moves") == moves + !e.translated);
	printf("  map_move: edu %s mask 28 iommu %s: 2 MiB page at %#llx %s (map %.1f ms), %lu writer passes, %u entries, edu and vgem after it: %llu bytes compared\n",
	       e.name, iommu, (unsigned long long)b.pa,
	       e.translated ? "not moved" : "moved below 2^28 at map",
	       took * 1e3, sc->passes, n,
	       (unsigned long long)dma_check(&e, b.dfd, b.p + b.off + MM_BUF, b.off + MM_BUF, MM_LEN, 53));
	free(cpu);
	free(cpu2);
	close(drm);
	close(w.fd);
	close(e.fd);
	munmap(d, MM_LEN);
	mm_buf_close(&b);
	free(sc);
}

/*
 * No move where someone else holds the pages, without an IOMMU: vgem has
 * the buffer mapped before the 28-bit edu maps it, or another
 * registration covers the same 2 MiB page: ERANGE at map, one log line,
 * nothing moved (same page, same bytes); once the other holder is gone
 * the same map moves the page.  (Behind an IOMMU nothing is refused.)
 */
static void test_map_held(void)
{
	unsigned int d28 = edu_with_bits(28), kind;

	ASSERT(d28 < nedu);
	for (kind = 0; kind < 2; kind++) {
		struct t_drm_prime_handle h = { 0 };
		struct t_drm_gem_close gc = { 0 };
		int drm = -1, other = -1, kfd = kmsg_at_end();
		struct edu e = edu_open(d28, 0);
		long moves = stat_get("map_moves");
		struct mm_buf b = mm_buf(WCPOOL_POLICY_WC, 61);
		uint64_t j, bad = 0;
		if (kind == 0) {
			drm = vgem_open();
			ASSERT(drm >= 0);
			h.fd = b.dfd;
			ASSERT(ioctl(drm, T_DRM_IOCTL_PRIME_FD_TO_HANDLE, &h) == 0);
		} else {
			other = reg(b.fd, b.p + b.off + HP - 64 * KB, 64 * KB);
		}
		if (e.translated) {
			ASSERT(edu_attach(&e, b.dfd) == 0);
			EXPECT(stat_get("map_moves") == moves);
			close(e.fd);
		} else {
			EXPECT_ERR(edu_attach(&e, b.dfd), ERANGE);
			EXPECT(kmsg_has(kfd, e.name, "not moved"));
			EXPECT(stat_get("map_moves") == moves);
			EXPECT(phys_addr(b.p + b.off) == b.pa);
			for (j = 0; j < HP; j++)
				bad += b.p[b.off + j] != pat(61, j);
			EXPECT(bad == 0);
			printf("  map_held: %s: ERANGE, nothing moved\n",
			       kind ? "another registration in the page" :
				      "vgem has it mapped");
			if (kind == 0) {
				gc.handle = h.handle;
				ASSERT(ioctl(drm, T_DRM_IOCTL_GEM_CLOSE, &gc) == 0);
			} else {
				close(other);
				other = -1;
			}
			ASSERT(edu_attach(&e, b.dfd) == 0);
			EXPECT(stat_get("map_moves") == moves + 1);
			EXPECT(phys_addr(b.p + b.off) + HP <= 1ULL << 28);
			close(e.fd);
		}
		if (drm >= 0)
			close(drm);
		if (other >= 0)
			close(other);
		mm_buf_close(&b);
		close(kfd);
	}
}

/*
 * The move's allocation fails at map (the kprobe module fails
 * alloc_pages and alloc_contig_range every time; recycled pages dropped
 * first): the 28-bit edu
 * without an IOMMU gets ENOMEM, nothing moved (same page, same bytes, no
 * map_moves), and the next map moves the page.  Behind an IOMMU nothing
 * is allocated: not run there.
 */
static void test_map_faults(void)
{
	unsigned int d28 = edu_with_bits(28);
	long moves = stat_get("map_moves");
	uint64_t j, bad = 0;
	struct mm_buf b;
	struct edu e;

	ASSERT(d28 < nedu);
	if (strcmp(iommu, "none")) {
		printf("  map_faults: iommu %s: nothing moves, nothing to fail\n", iommu);
		return;
	}
	/* As move_faults: the debug kernel has alloc_pages() inline. */
	if (!kernel_has("alloc_pages")) {
		printf("  map_faults: no alloc_pages() function in this kernel to fail\n");
		return;
	}
	b = mm_buf(WCPOOL_POLICY_UC, 91);
	e = edu_open(d28, 64 * KB);
	/* No recycled page below the limit to take instead. */
	drop_recycled();
	/* 6.12 takes 25-31-bit pages with alloc_contig_range() too. */
	ASSERT(system(kernel_has("alloc_contig_range") ?
		      "insmod /wcpool/wcpool_faultinj.ko call=alloc_pages,alloc_contig_range every=1" :
		      "insmod /wcpool/wcpool_faultinj.ko call=alloc_pages every=1") == 0);
	EXPECT_ERR(edu_attach(&e, b.dfd), ENOMEM);
	ASSERT(system("rmmod wcpool_faultinj") == 0);
	EXPECT(stat_get("map_moves") == moves);
	EXPECT(stat_get("dma_mapped") == 0);
	EXPECT(phys_addr(b.p + b.off) == b.pa);
	for (j = 0; j < HP; j++)
		bad += b.p[b.off + j] != pat(91, j);
	EXPECT(bad == 0);
	ASSERT(edu_attach(&e, b.dfd) == 0);
	EXPECT(stat_get("map_moves") == moves + 1);
	EXPECT(phys_addr(b.p + b.off) + HP <= 1ULL << 28);
	printf("  map_faults: the move's allocation failed: ENOMEM, nothing moved; the next map moved the page: %llu bytes compared\n",
	       (unsigned long long)dma_check(&e, b.dfd, b.p + b.off + MM_BUF, b.off + MM_BUF, MM_LEN, 93));
	close(e.fd);
	mm_buf_close(&b);
}

/* What map_race's second thread does to the buffer meanwhile. */
struct mrace {
	struct mm_buf b;
	uint8_t *d;		/* the dma-buf's mapping */
	volatile bool done, close_all;
	volatile unsigned long forks;
};

/*
 * Forks children that write through the inherited pool and dma-buf
 * mappings, and maps and unmaps both again, until done; with close_all
 * it closes the dma-buf fd and destroys the pool (unmap, close) at once.
 */
static void *mrace_run(void *arg)
{
	struct mrace *r = arg;
	int status;
	uint8_t *q;
	pid_t pid;

	if (r->close_all) {
		munmap(r->d, MM_LEN);
		mm_buf_close(&r->b);
		r->forks++;
		return NULL;
	}
	while (!r->done) {
		pid = fork();
		ASSERT(pid >= 0);
		if (!pid) {
			/* The same bytes back: the parent checks them all. */
			volatile uint8_t *a = r->b.p + r->b.off + HP - 4096;
			volatile uint8_t *b = r->d + 8192 + 100;
			uint8_t va = *a, vb = *b;

			*a = va;
			*b = vb;
			_exit(*a == va && *b == vb ? 0 : 1);
		}
		ASSERT(waitpid(pid, &status, 0) == pid);
		ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		q = mmap(NULL, MM_LEN, PROT_READ, MAP_SHARED, r->b.dfd, 0);
		ASSERT(q != MAP_FAILED);
		(void)q[4096];
		munmap(q, MM_LEN);
		q = map(r->b.fd, r->b.off + HP);
		(void)q[r->b.off];
		munmap(q, r->b.off + HP);
		r->forks++;
	}
	return NULL;
}

#define MAP_RACE_ROUNDS	8

/*
 * Moves at map racing with the rest of the program: each round a fresh
 * pool page above 2^28, a buffer in it mapped through the pool and its
 * dma-buf, a thread writing both throughout, another forking children
 * that write them and mapping and unmapping both, while the 28-bit edu
 * maps it.  The map succeeds (moved without an IOMMU), or meets ERANGE
 * from a reference the race holds at that moment; no write is lost, the
 * DMA is byte-exact.  In the last round the dma-buf fd is closed and the
 * pool destroyed while the edu maps.  No WARN, counters back to 0 (the
 * harness).
 */
static void test_map_race(void)
{
	unsigned int d28 = edu_with_bits(28), round, moved = 0, busy = 0;
	long moves = stat_get("map_moves");
	struct scribe *sc;
	pthread_t t, f;
	struct edu e;
	int r;

	ASSERT(d28 < nedu);
	for (round = 0; round < MAP_RACE_ROUNDS; round++) {
		struct mrace mr = { .b = mm_buf(WCPOOL_POLICY_WC, 71 + round) };
		bool last = round == MAP_RACE_ROUNDS - 1;

		mr.d = mmap(NULL, MM_LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
			    mr.b.dfd, 0);
		ASSERT(mr.d != MAP_FAILED);
		sc = calloc(1, sizeof(*sc));
		ASSERT(sc);
		sc->pool = (volatile uint32_t *)(mr.b.p + mr.b.off + MM_BUF);
		sc->dmabuf = (volatile uint32_t *)mr.d;
		e = edu_open(d28, 64 * KB);
		if (!last) {
			ASSERT(pthread_create(&t, NULL, scribe_run, sc) == 0);
			scribe_wait(sc);
		}
		mr.close_all = last;
		ASSERT(pthread_create(&f, NULL, mrace_run, &mr) == 0);
		/* Forking (or closing) when the map starts (no timing). */
		while (!last && mr.forks < 1)
			sched_yield();
		r = edu_attach(&e, mr.b.dfd);
		if (!last) {
			scribe_wait(sc);
			sc->stop = true;
			ASSERT(pthread_join(t, NULL) == 0);
		}
		mr.done = true;
		ASSERT(pthread_join(f, NULL) == 0);
		if (r) {
			/*
			 * ERANGE: a reference the race held at that moment;
			 * ENOMEM: on 6.1 a 28-bit page comes from ZONE_DMA,
			 * which may have none free.
			 */
			EXPECT(errno == ERANGE || errno == ENOMEM ||
			       (last && errno == EBADF));
			busy++;
		} else {
			moved += !e.translated;
		}
		if (!last) {
			EXPECT(page_bad(mr.b.p + mr.b.off, sc, 71 + round) == 0);
			if (!r)
				EXPECT(dma_check(&e, mr.b.dfd, mr.b.p + mr.b.off + MM_BUF,
						 mr.b.off + MM_BUF, MM_LEN, 81) > 0);
			munmap(mr.d, MM_LEN);
			mm_buf_close(&mr.b);
		}
		close(e.fd);
		free(sc);
	}
	EXPECT(stat_get("map_moves") == moves + moved);
	EXPECT(moved > 0 || strcmp(iommu, "none"));
	printf("  map_race: %u rounds: %u moved at map, %u met ERANGE, ENOMEM or EBADF\n",
	       MAP_RACE_ROUNDS, moved, busy);
}

static const struct test edu_tests[] = {
	{ "dma", test_dma },
	{ "narrow", test_narrow },
	{ "seg_limit", test_seg_limit },
	{ "dma32", test_dma32 },
	{ "reg_constraints", test_reg_constraints },
	{ "edu_vgem", test_edu_vgem },
	{ "close_mapped", test_close_mapped },
	{ "race", test_race },
	{ "unbind", test_unbind },
	{ "fit", test_fit },
	{ "move", test_move },
	{ "map_move", test_map_move },
	{ "map_held", test_map_held },
	{ "map_race", test_map_race },
	{ "map_faults", test_map_faults },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	static const struct test *const suites[] = { edu_tests, NULL };
	char *m = NULL, *tok;
	int c;

	while ((c = getopt(argc, argv, "+i:m:")) != -1) {
		switch (c) {
		case 'i':
			iommu = optarg;
			break;
		case 'm':
			m = optarg;
			break;
		default:
			fprintf(stderr, "usage: wcpool-edu -i none|intel|virtio -m BITS[,BITS...] [-k] [TEST...]\n");
			return 2;
		}
	}
	for (tok = strtok(m, ","); tok && nedu < MAX_EDU; tok = strtok(NULL, ","))
		edu_bits[nedu++] = atoi(tok);
	if (!nedu) {
		fprintf(stderr, "wcpool-edu: -m BITS[,BITS...] required\n");
		return 2;
	}
	if (system("insmod /wcpool/wcpool_edu.ko")) {
		printf("0 passed, 1 failed\n");
		return 1;
	}
	argv[optind - 1] = argv[0];
	return harness_main(argc - optind + 1, argv + optind - 1, suites);
}
