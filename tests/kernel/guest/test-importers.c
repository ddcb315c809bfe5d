// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool-test: importers of pool memory: vivid (V4L2 USERPTR and
 * DMABUF) and vgem (DRM PRIME).
 */
#include "wcpool-test.h"

static int vivid_capture_open(void)
{
	struct v4l2_capability cap;
	char path[32];
	int i, fd;

	for (i = 0; i < 16; i++) {
		snprintf(path, sizeof(path), "/dev/video%d", i);
		fd = open(path, O_RDWR);
		if (fd < 0)
			continue;
		if (!ioctl(fd, VIDIOC_QUERYCAP, &cap) &&
		    !strcmp((char *)cap.driver, "vivid") &&
		    (cap.device_caps & V4L2_CAP_VIDEO_CAPTURE) &&
		    (cap.device_caps & V4L2_CAP_STREAMING))
			return fd;
		close(fd);
	}
	return -1;
}

/*
 * Pool memory is made of normal pages: V4L2 USERPTR pins it
 * (pin_user_pages with FOLL_LONGTERM) and vivid captures a frame into it.
 * A WB pool, because vb2-vmalloc maps pinned pages into the kernel with
 * PAGE_KERNEL (a WB alias of a WC page would be a PAT aliasing bug of the
 * USERPTR path).  RELEASE while the frame is queued defers the free until
 * the buffer is unpinned.
 */
static void test_vivid_userptr_pin(void)
{
	int v = vivid_capture_open(), fd, i;
	enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	struct v4l2_format fmt = { .type = type };
	struct v4l2_requestbuffers rb = {
		.count = 2, .type = type, .memory = V4L2_MEMORY_USERPTR,
	};
	struct v4l2_buffer b;
	unsigned int n;
	size_t len;
	uint8_t *p;

	ASSERT(v >= 0);
	ASSERT(ioctl(v, VIDIOC_G_FMT, &fmt) == 0);
	len = (fmt.fmt.pix.sizeimage + HP - 1) & ~(HP - 1);
	ASSERT(ioctl(v, VIDIOC_REQBUFS, &rb) == 0);
	ASSERT(rb.count >= 2 && rb.count <= 4);
	fd = pool(WCPOOL_POLICY_WB, rb.count * len);
	ASSERT(grow(fd, 0, rb.count * len) == 0);
	p = map(fd, rb.count * len, PROT_READ | PROT_WRITE, 0);
	for (n = 0; n < rb.count; n++) {
		memset(&b, 0, sizeof(b));
		b.type = type;
		b.memory = V4L2_MEMORY_USERPTR;
		b.index = n;
		b.m.userptr = (unsigned long)(p + n * len);
		b.length = fmt.fmt.pix.sizeimage;
		ASSERT(ioctl(v, VIDIOC_QBUF, &b) == 0);
	}
	/* vb2 pinned every page of the queued buffers (FOLL_PIN) */
	ASSERT(stat_get("gup_pinned") == (long)(rb.count * len / HP));
	ASSERT(ioctl(v, VIDIOC_STREAMON, &type) == 0);
	memset(&b, 0, sizeof(b));
	b.type = type;
	b.memory = V4L2_MEMORY_USERPTR;
	ASSERT(ioctl(v, VIDIOC_DQBUF, &b) == 0);
	ASSERT(b.bytesused > 0);
	ASSERT(!all_zero((void *)b.m.userptr, b.bytesused & ~7U));
	/* Queue it again: all frames pinned while the range is released. */
	b.bytesused = 0;
	ASSERT(ioctl(v, VIDIOC_QBUF, &b) == 0);
	ASSERT(munmap(p, rb.count * len) == 0);
	ASSERT(release(fd, 0, rb.count * len) == 0);
	ASSERT(stat_get("deferred") == (long)(rb.count * len / HP));
	ASSERT(stat_get("gup_pinned") == (long)(rb.count * len / HP));
	ASSERT(ioctl(v, VIDIOC_STREAMOFF, &type) == 0);
	rb.count = 0;
	ASSERT(ioctl(v, VIDIOC_REQBUFS, &rb) == 0);
	close(v);
	for (i = 0; i < 50 && stat_get("deferred"); i++)
		usleep(100000);
	ASSERT(stat_get("deferred") == 0);
	ASSERT(stat_get("gup_pinned") == 0);
	close(fd);
}

struct t_drm_mode_map_dumb {
	uint32_t handle;
	uint32_t pad;
	uint64_t offset;
};

#define T_DRM_IOCTL_MODE_MAP_DUMB	_IOWR('d', 0xB3, struct t_drm_mode_map_dumb)

static uint32_t vgem_import(int drm, int dfd)
{
	struct t_drm_prime_handle h = { .fd = dfd };

	ASSERT(ioctl(drm, T_DRM_IOCTL_PRIME_FD_TO_HANDLE, &h) == 0);
	return h.handle;
}

static void vgem_close(int drm, uint32_t handle)
{
	struct t_drm_gem_close c = { .handle = handle };

	ASSERT(ioctl(drm, T_DRM_IOCTL_GEM_CLOSE, &c) == 0);
}

/*
 * vgem imports the dma-buf (dma_buf_attach + map_attachment at once: our
 * sg table, dma-mapped for vgem's device) and keeps it alive through its
 * GEM handle.  DRM refuses MAP_DUMB of imported objects (EINVAL, in
 * drm_gem_dumb_map_offset on 6.1 and 6.12); where a kernel allows it, the
 * mapping (which goes back to our dma-buf mmap) must show the pool bytes.
 * Closing the handle, the dma-buf and the pool in every order leaks nothing.
 */
static void test_vgem_prime(void)
{
	static const char * const orders[] = {
		"hdp", "hpd", "dhp", "dph", "phd", "pdh", "Ddp", "pDd",
	};
	struct t_drm_mode_map_dumb md;
	unsigned int o;
	int drm = vgem_open();

	ASSERT(drm >= 0);
	for (o = 0; o < sizeof(orders) / sizeof(orders[0]); o++) {
		int fd = pool(o & 1 ? WCPOOL_POLICY_WB : WCPOOL_POLICY_WC,
			      4 * MB), dfd, d2 = drm;
		uint32_t handle, h2;
		bool held = true, dopen = true;
		uint8_t *p, *m;
		const char *c;

		ASSERT(grow(fd, 0, 4 * MB) == 0);
		p = map(fd, 4 * MB, PROT_READ | PROT_WRITE, 0);
		fill_pattern(p, 4 * MB, o);
		dfd = reg(fd, p + HP / 2, 3 * MB, RW);
		ASSERT(dfd >= 0);
		if (strchr(orders[o], 'D')) {
			d2 = vgem_open();
			ASSERT(d2 >= 0);
		}
		handle = vgem_import(d2, dfd);
		ASSERT(stat_get("dma_mapped") == 1);
		/* CPU access brackets: syncs vgem's mapping on a WB pool. */
		dmabuf_sync(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
		dmabuf_sync(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
		h2 = vgem_import(d2, dfd);
		ASSERT(h2 == handle);
		ASSERT(stat_get("dma_mapped") == 1);
		memset(&md, 0, sizeof(md));
		md.handle = handle;
		if (ioctl(d2, T_DRM_IOCTL_MODE_MAP_DUMB, &md) == 0) {
			m = mmap(NULL, 3 * MB, PROT_READ, MAP_SHARED, d2,
				 md.offset);
			ASSERT(m != MAP_FAILED);
			ASSERT(check_pattern(m, 3 * MB, HP / 2, o));
			ASSERT(munmap(m, 3 * MB) == 0);
			if (!o)
				printf("  vgem_prime: MAP_DUMB of the import works\n");
		} else {
			ASSERT(errno == EINVAL);
			if (!o)
				printf("  vgem_prime: MAP_DUMB of an imported object: EINVAL (DRM core refuses)\n");
		}
		ASSERT(munmap(p, 4 * MB) == 0);
		for (c = orders[o]; *c; c++) {
			ASSERT(stat_get("registrations") == (held || dopen));
			switch (*c) {
			case 'h':
				vgem_close(d2, handle);
				held = false;
				break;
			case 'D':
				close(d2);
				held = false;
				break;
			case 'd':
				close(dfd);
				dopen = false;
				break;
			case 'p':
				close(fd);
				break;
			}
		}
		ASSERT(stat_get("registrations") == 0);
		ASSERT(stat_get("dma_mapped") == 0);
		ASSERT(stat_get("pools") == 0);
	}
	close(drm);
}

/*
 * vivid, V4L2_MEMORY_DMABUF: vb2-vmalloc imports the dma-buf and writes
 * the frame through our .vmap (a WC kernel mapping of a WC pool).  The
 * pixels must match a capture through vivid's own MMAP buffers; the top
 * rows (OSD text with a frame counter and time) are left out.
 */
static void vivid_mmap_capture(int v, uint8_t *out, size_t size,
			       unsigned int frames)
{
	enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	struct v4l2_requestbuffers rb = {
		.count = 2, .type = type, .memory = V4L2_MEMORY_MMAP,
	};
	struct v4l2_buffer b;
	unsigned int n, f;
	size_t blen[8];
	void *m[8];

	ASSERT(ioctl(v, VIDIOC_REQBUFS, &rb) == 0);
	ASSERT(rb.count >= 2 && rb.count <= 8);
	for (n = 0; n < rb.count; n++) {
		memset(&b, 0, sizeof(b));
		b.type = type;
		b.memory = V4L2_MEMORY_MMAP;
		b.index = n;
		ASSERT(ioctl(v, VIDIOC_QUERYBUF, &b) == 0);
		blen[n] = b.length;
		m[n] = mmap(NULL, b.length, PROT_READ, MAP_SHARED, v,
			    b.m.offset);
		ASSERT(m[n] != MAP_FAILED);
		ASSERT(ioctl(v, VIDIOC_QBUF, &b) == 0);
	}
	ASSERT(ioctl(v, VIDIOC_STREAMON, &type) == 0);
	for (f = 0; f < frames; f++) {
		memset(&b, 0, sizeof(b));
		b.type = type;
		b.memory = V4L2_MEMORY_MMAP;
		ASSERT(ioctl(v, VIDIOC_DQBUF, &b) == 0);
		ASSERT(b.bytesused == size);
		memcpy(out + f * size, m[b.index], size);
		ASSERT(ioctl(v, VIDIOC_QBUF, &b) == 0);
	}
	ASSERT(ioctl(v, VIDIOC_STREAMOFF, &type) == 0);
	for (n = 0; n < rb.count; n++)
		ASSERT(munmap(m[n], blen[n]) == 0);
	rb.count = 0;
	ASSERT(ioctl(v, VIDIOC_REQBUFS, &rb) == 0);
}

#define NREF 4

/* Set a control found by name (vivid's private ones have no fixed id). */
static bool v4l2_set_ctrl_by_name(int v, const char *name, int value)
{
	struct v4l2_queryctrl q = { .id = V4L2_CTRL_FLAG_NEXT_CTRL };
	struct v4l2_control c;

	while (!ioctl(v, VIDIOC_QUERYCTRL, &q)) {
		if (!strcmp((char *)q.name, name)) {
			c.id = q.id;
			c.value = value;
			return !ioctl(v, VIDIOC_S_CTRL, &c);
		}
		q.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
	}
	return false;
}

/*
 * Capture into DMABUF buffers, registrations of one WC pool or (@heap)
 * buffers of /dev/dma_heap/wcpool-wc, and compare with MMAP frames.
 */
static void vivid_dmabuf(bool heap)
{
	int v = vivid_capture_open(), fd, dfd[4];
	enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	struct v4l2_format fmt = { .type = type };
	struct v4l2_requestbuffers rb = {
		.count = 2, .type = type, .memory = V4L2_MEMORY_DMABUF,
	};
	struct v4l2_buffer b;
	size_t size, len, i, diff = 0, stable = 0;
	uint8_t *p = NULL, *ref, *got, *cpu[4];
	unsigned int n, frames, rb_count;

	ASSERT(v >= 0);
	ASSERT(ioctl(v, VIDIOC_G_FMT, &fmt) == 0);
	fmt.fmt.pix.width = 320;
	fmt.fmt.pix.height = 240;
	fmt.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
	fmt.fmt.pix.field = V4L2_FIELD_NONE;
	ASSERT(ioctl(v, VIDIOC_S_FMT, &fmt) == 0);
	/* No OSD text (frame counters, time): 2 is "None". */
	ASSERT(v4l2_set_ctrl_by_name(v, "OSD Text Mode", 2));
	size = fmt.fmt.pix.sizeimage;
	len = (size + 4095) & ~4095UL;
	ref = malloc(NREF * size);
	got = malloc(size);
	ASSERT(ref && got);
	vivid_mmap_capture(v, ref, size, NREF);

	ASSERT(ioctl(v, VIDIOC_REQBUFS, &rb) == 0);
	ASSERT(rb.count >= 2 && rb.count <= 4);
	if (heap) {
		fd = heap_open(WCPOOL_POLICY_WC);
	} else {
		fd = pool(WCPOOL_POLICY_WC, HP);
		ASSERT(rb.count * len <= HP);
		ASSERT(grow(fd, 0, HP) == 0);
		p = map(fd, HP, PROT_READ | PROT_WRITE, 0);
	}
	for (n = 0; n < rb.count; n++) {
		if (heap) {
			dfd[n] = heap_alloc(fd, len, O_RDWR | O_CLOEXEC);
			ASSERT(dfd[n] >= 0);
			cpu[n] = mmap(NULL, len, PROT_READ | PROT_WRITE,
				      MAP_SHARED, dfd[n], 0);
			ASSERT(cpu[n] != MAP_FAILED);
		} else {
			cpu[n] = p + n * len;
			dfd[n] = reg(fd, cpu[n], len, RW);
			ASSERT(dfd[n] >= 0);
		}
		memset(&b, 0, sizeof(b));
		b.type = type;
		b.memory = V4L2_MEMORY_DMABUF;
		b.index = n;
		b.m.fd = dfd[n];
		b.length = len;
		ASSERT(ioctl(v, VIDIOC_QBUF, &b) == 0);
	}
	ASSERT(ioctl(v, VIDIOC_STREAMON, &type) == 0);
	for (frames = 0; frames < 2; frames++) {
		memset(&b, 0, sizeof(b));
		b.type = type;
		b.memory = V4L2_MEMORY_DMABUF;
		ASSERT(ioctl(v, VIDIOC_DQBUF, &b) == 0);
		ASSERT(b.bytesused == size && b.index < rb.count);
		dmabuf_sync(dfd[b.index], DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
		memcpy(got, cpu[b.index], size);
		dmabuf_sync(dfd[b.index], DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
		ASSERT(!all_zero(got, size & ~7UL));
		if (!frames) {
			b.m.fd = dfd[b.index];
			b.bytesused = 0;
			ASSERT(ioctl(v, VIDIOC_QBUF, &b) == 0);
		}
	}
	/* Closing our fds while vb2 holds the dma-bufs is fine. */
	rb_count = rb.count;
	for (n = 0; n < rb.count; n++)
		close(dfd[n]);
	ASSERT(stat_get("registrations") == rb.count);
	ASSERT(ioctl(v, VIDIOC_STREAMOFF, &type) == 0);
	rb.count = 0;
	ASSERT(ioctl(v, VIDIOC_REQBUFS, &rb) == 0);
	ASSERT(v4l2_set_ctrl_by_name(v, "OSD Text Mode", 0));
	close(v);
	/* Heap buffers: our mappings hold them still. */
	ASSERT(stat_get("registrations") == (heap ? rb_count : 0));

	/*
	 * Compare the bytes that are equal in all NREF reference frames
	 * (the OSD text and a few animated pixels change between frames):
	 * they must be most of the frame, and all equal in ours.
	 */
	for (i = 0; i < size; i++) {
		for (n = 1; n < NREF; n++)
			if (ref[n * size + i] != ref[i])
				break;
		if (n < NREF)
			continue;
		stable++;
		if (got[i] != ref[i] && diff < 8)
			fprintf(stderr, "  vivid_dmabuf: row %zu byte %zu: %u, want %u\n",
				i / fmt.fmt.pix.bytesperline,
				i % fmt.fmt.pix.bytesperline, got[i], ref[i]);
		diff += got[i] != ref[i];
	}
	printf("  vivid_dmabuf%s: %ux%u: %zu of %zu bytes stable across %u MMAP frames, %zu differ in the DMABUF frame\n",
	       heap ? " (heap)" : "", fmt.fmt.pix.width, fmt.fmt.pix.height,
	       stable, size, NREF, diff);
	ASSERT(stable >= size * 9 / 10);
	ASSERT(diff == 0);
	for (n = 0; heap && n < rb_count; n++)
		ASSERT(munmap(cpu[n], len) == 0);
	if (!heap)
		ASSERT(munmap(p, HP) == 0);
	close(fd);
	free(ref);
	free(got);
}

static void test_vivid_dmabuf(void)
{
	vivid_dmabuf(false);
}

/* Reload vivid with @allocator for its buffers (0 vmalloc, 1 dma-contig). */
static void vivid_reload(int allocator)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd),
		 "rmmod vivid && insmod /lib/modules/vivid.ko allocators=%d",
		 allocator);
	ASSERT(system(cmd) == 0);
}

/*
 * A dma-heap user's buffers in vivid, both of its allocators: vb2-vmalloc
 * (our vmap) and vb2-dma-contig, which accepts only a buffer whose DMA
 * addresses are one contiguous run: a heap buffer of at most 2 MiB is.
 */
static void test_heap_vivid(void)
{
	vivid_dmabuf(true);
	vivid_reload(1);
	vivid_dmabuf(true);
	vivid_reload(0);
}

/* vgem imports a heap buffer (our sg table), released in either order. */
static void test_heap_vgem(void)
{
	int drm = vgem_open(), heap = heap_open(WCPOOL_POLICY_WC), o;

	ASSERT(drm >= 0);
	for (o = 0; o < 2; o++) {
		int dfd = heap_alloc(heap, 3 * MB, O_RDWR | O_CLOEXEC);
		uint32_t handle;

		ASSERT(dfd >= 0);
		handle = vgem_import(drm, dfd);
		ASSERT(stat_get("dma_mapped") == 1);
		dmabuf_sync(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
		dmabuf_sync(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
		if (o)
			close(dfd);
		vgem_close(drm, handle);
		if (!o)
			close(dfd);
		ASSERT(stat_get("dma_mapped") == 0);
		ASSERT(stat_get("registrations") == 0);
	}
	close(heap);
	close(drm);
}

/*
 * What DMA_BUF_IOCTL_SYNC costs with vgem attached, 4 KiB against 64 MiB:
 * a fence on WC/UC (flat), the attachment's streaming syncs on WB (which
 * walk the pages where the DMA API has work: with dma-direct on x86 it has
 * none).  Printed for the record; timings are not checked.
 */
static void test_heap_sync_cost(void)
{
	static const uint32_t policies[] = { WCPOOL_POLICY_WC, WCPOOL_POLICY_WB };
	static const uint64_t sizes[] = { 4096, 64 * MB };
	int drm = vgem_open(), i, r;

	ASSERT(drm >= 0);
	for (i = 0; i < 4; i++) {
		uint32_t policy = policies[i / 2];
		int heap = heap_open(policy);
		int dfd = heap_alloc(heap, sizes[i % 2], O_RDWR);
		uint32_t handle;
		double t;

		ASSERT(dfd >= 0);
		handle = vgem_import(drm, dfd);
		t = now_s();
		for (r = 0; r < 200; r++) {
			dmabuf_sync(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
			dmabuf_sync(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
		}
		t = now_s() - t;
		printf("  heap_sync_cost: %s %8lu KiB: %.1f us per START+END\n",
		       policy == WCPOOL_POLICY_WC ? "WC" : "WB",
		       (unsigned long)(sizes[i % 2] >> 10), t * 1e6 / 200);
		vgem_close(drm, handle);
		close(dfd);
		close(heap);
	}
	close(drm);
}

/*
 * PMD-mode pools (6.12+) register too: REGISTER looks the pages up in the
 * pool, not through GUP, so the VM_PFNMAP mapping is no obstacle; the
 * dma-buf's own mapping has 4 KiB PTEs.  vgem imports it.
 */
static void test_reg_pmd_pool(void)
{
	int fd = pmd_pool(8 * MB), dfd, drm;
	uint32_t nsegs;
	uint8_t *p, *d;

	if (fd < 0) {
		printf("  reg_pmd_pool: no PMD mode on this kernel (EOPNOTSUPP)\n");
		return;
	}
	ASSERT(grow(fd, 0, 8 * MB) == 0);
	p = map(fd, 8 * MB, PROT_READ | PROT_WRITE, 0);
	fill_pattern(p, 8 * MB, 9);
	dfd = reg_ioctl(fd, p + HP - 8192, 2 * HP, RW, 0,
			WCPOOL_REG_POLICY(WCPOOL_POLICY_WC), &nsegs);
	ASSERT(dfd >= 0 && nsegs >= 1 && nsegs <= 3);
	ASSERT(stat_get("pinned_pages") == 3);
	ASSERT_ERR(release(fd, 0, HP), EBUSY);
	d = mmap(NULL, 2 * HP, PROT_READ, MAP_SHARED, dfd, 0);
	ASSERT(d != MAP_FAILED);
	ASSERT(check_pattern(d, 2 * HP, HP - 8192, 9));
	drm = vgem_open();
	ASSERT(drm >= 0);
	vgem_import(drm, dfd);
	ASSERT(stat_get("dma_mapped") == 1);
	close(drm);
	ASSERT(munmap(d, 2 * HP) == 0);
	ASSERT(munmap(p, 8 * MB) == 0);
	close(dfd);
	ASSERT(stat_get("registrations") == 0);
	ASSERT(release(fd, 0, 8 * MB) == 0);
	close(fd);
}

const struct test importer_tests[] = {
	{ "vivid_userptr_pin", test_vivid_userptr_pin },
	{ "vgem_prime", test_vgem_prime },
	{ "vivid_dmabuf", test_vivid_dmabuf },
	{ "reg_pmd_pool", test_reg_pmd_pool },
	{ "heap_vivid", test_heap_vivid },
	{ "heap_vgem", test_heap_vgem },
	{ "heap_sync_cost", test_heap_sync_cost },
	{ NULL }
};
