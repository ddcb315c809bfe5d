// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool.ko's running totals (debugfs, kernel/README.md): each moves by
 * exactly what its operation did, so that a lost increment fails here.
 * vb2-vmalloc's vmaps (vicodec, vivid) are checked by vicodec-pool.
 */
#include "wcpool-test.h"

static const char *const total_names[] = {
	"dmabuf_exports", "attaches", "detaches", "maps", "unmaps", "vmaps",
	"vunmaps", "pins", "converted_wb", "cleared", "allocated",
	"converted", "pages_zeroed",
};

enum { EXPORTS, ATTACHES, DETACHES, MAPS, UNMAPS, VMAPS, VUNMAPS, PINS,
       CONVERTED_WB, CLEARED, ALLOCATED, CONVERTED, ZEROED, NTOTALS };

struct totals {
	long v[NTOTALS];
};

static struct totals totals(void)
{
	struct totals t;

	ASSERT(stat_get_many(total_names, t.v, NTOTALS) == 0);
	return t;
}

/* Each total moved by @want[i] from @a to @b (-1: any amount). */
static void expect_moved(const char *what, const struct totals *a,
			 const struct totals *b, const long *want)
{
	int i;

	for (i = 0; i < NTOTALS; i++) {
		long d = b->v[i] - a->v[i];

		if (want[i] >= 0 && d != want[i]) {
			fprintf(stderr, "  %s: %s: %s moved by %ld, want %ld\n",
				cur_test, what, total_names[i], d, want[i]);
			cur_failures++;
		}
	}
}

/* Nothing but @i..: every other total stays. */
#define MOVED(what, a, b, ...) do {					\
	long w_[NTOTALS] = { 0 };					\
	struct { int i; long n; } m_[] = { __VA_ARGS__ };		\
	for (size_t k_ = 0; k_ < ARRAY_SIZE(m_); k_++)			\
		w_[m_[k_].i] = m_[k_].n;				\
	expect_moved(what, &(a), &(b), w_);				\
} while (0)

/*
 * One REGISTER: one export, a pin per huge page the range touches;
 * closing the fd (no importer) detaches and unmaps nothing.  A heap
 * buffer is an export too.
 */
static void test_totals_register(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 8 * MB), heap, d1, d2, d3;
	struct totals a, b, c;
	uint8_t *p;

	ASSERT(grow(fd, 0, 2 * HP) == 0);
	p = map(fd, 2 * HP, PROT_READ | PROT_WRITE, 0);
	a = totals();
	d1 = reg(fd, p + MB, HP, RW);		/* across both pages */
	ASSERT(d1 >= 0);
	b = totals();
	MOVED("REGISTER of 2 MiB over 2 pages", a, b,
	      { EXPORTS, 1 }, { PINS, 2 });
	d2 = reg(fd, p, 4096, RW);
	d3 = reg(fd, p + HP, 4096, WCPOOL_REG_READ);
	ASSERT(d2 >= 0 && d3 >= 0);
	c = totals();
	MOVED("two REGISTERs of 4 KiB", b, c, { EXPORTS, 2 }, { PINS, 2 });
	close(d1);
	close(d2);
	close(d3);
	a = totals();
	MOVED("closing three dma-bufs no one imported", c, a, { 0, 0 });
	ASSERT(munmap(p, 2 * HP) == 0);
	ASSERT(release(fd, 0, 2 * HP) == 0);
	close(fd);

	heap = heap_open(WCPOOL_POLICY_WC);
	a = totals();
	d1 = heap_alloc(heap, 3 * MB, O_RDWR | O_CLOEXEC);
	ASSERT(d1 >= 0);
	b = totals();
	/* Its own pool's 2 pages: from the page allocator or recycled. */
	MOVED("a 3 MiB heap buffer", a, b, { EXPORTS, 1 }, { PINS, 2 },
	      { ALLOCATED, -1 }, { CONVERTED, -1 }, { ZEROED, -1 });
	EXPECT(b.v[ALLOCATED] - a.v[ALLOCATED] == b.v[CONVERTED] - a.v[CONVERTED]);
	close(d1);
	close(heap);
}

/*
 * vgem's PRIME import attaches and DMA-maps at once and keeps both until
 * the GEM handle is closed; importing the same dma-buf again on that fd
 * finds the same object.
 */
static void test_totals_vgem(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 4 * MB), drm = vgem_open(), dfd;
	struct t_drm_prime_handle h = { 0 }, h2 = { 0 };
	struct t_drm_gem_close gc = { 0 };
	struct totals a, b, c;
	uint8_t *p;

	ASSERT(drm >= 0);
	ASSERT(grow(fd, 0, HP) == 0);
	p = map(fd, HP, PROT_READ | PROT_WRITE, 0);
	dfd = reg(fd, p, HP, RW);
	ASSERT(dfd >= 0);
	a = totals();
	h.fd = dfd;
	ASSERT(ioctl(drm, T_DRM_IOCTL_PRIME_FD_TO_HANDLE, &h) == 0);
	b = totals();
	MOVED("vgem import", a, b, { ATTACHES, 1 }, { MAPS, 1 });
	h2.fd = dfd;
	ASSERT(ioctl(drm, T_DRM_IOCTL_PRIME_FD_TO_HANDLE, &h2) == 0);
	EXPECT(h2.handle == h.handle);
	c = totals();
	MOVED("the same dma-buf imported again", b, c, { 0, 0 });
	gc.handle = h.handle;
	ASSERT(ioctl(drm, T_DRM_IOCTL_GEM_CLOSE, &gc) == 0);
	a = totals();
	MOVED("GEM handle closed", c, a, { DETACHES, 1 }, { UNMAPS, 1 });
	close(drm);
	close(dfd);
	ASSERT(munmap(p, HP) == 0);
	ASSERT(release(fd, 0, HP) == 0);
	close(fd);
}

/*
 * A released page is either zeroed into the recycle pool of its policy
 * (cleared) or converted back to WB and freed (converted_wb): releasing
 * more pages than the recycle pool holds takes both.
 */
static void test_totals_release(void)
{
	unsigned long max = 0;
	struct totals a, b, c;
	long n, fresh;
	FILE *f = fopen("/sys/module/wcpool/parameters/recycle_pages", "r");
	int fd;

	ASSERT(f && fscanf(f, "%lu", &max) == 1);
	fclose(f);
	n = (long)max + 2;
	fd = pool(WCPOOL_POLICY_WC, n * HP);
	a = totals();
	ASSERT(grow(fd, 0, n * HP) == 0);
	b = totals();
	fresh = b.v[ALLOCATED] - a.v[ALLOCATED];
	/* At most max came from the recycle pool: converted, zeroed once. */
	EXPECT(fresh >= 2 && fresh <= n);
	MOVED("GROW", a, b, { ALLOCATED, fresh }, { CONVERTED, fresh },
	      { ZEROED, fresh });
	ASSERT(release(fd, 0, n * HP) == 0);
	c = totals();
	/* The recycle pool had room for at most max. */
	EXPECT(c.v[CONVERTED_WB] - b.v[CONVERTED_WB] >= 2);
	MOVED("RELEASE", b, c,
	      { CONVERTED_WB, n - (c.v[CLEARED] - b.v[CLEARED]) },
	      { CLEARED, -1 }, { ZEROED, c.v[CLEARED] - b.v[CLEARED] });
	close(fd);
}

const struct test counter_tests[] = {
	{ "totals_register", test_totals_register },
	{ "totals_vgem", test_totals_vgem },
	{ "totals_release", test_totals_release },
	{ NULL }
};
