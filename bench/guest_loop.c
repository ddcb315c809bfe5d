// SPDX-License-Identifier: MIT
/*
 * guest-frames' frame loop through a real importer: each cycle (allocates,)
 * fills, registers (wcp_register) and queues a frame to vicodec's encoder
 * or vivid's output (guest_importer.c) as a dma-buf, dequeues it, (unregisters, frees), and the loop counts
 * what that cost per frame: the process's ioctls (guest_ioctl.c) and
 * minor faults, and wcpool.ko's running totals (debugfs): dma-bufs
 * exported, importer attaches/detaches, DMA maps/unmaps, vmaps/vunmaps,
 * huge pages pinned, pages allocated, linear-map conversions (to WC and
 * back to WB) and pages zeroed.
 *
 * Modes: "reuse" keeps one frame registered and registers it again every
 * cycle (libwcpool returns the live registration, the same dma-buf);
 * "reregister" keeps the frame but unregisters it after every cycle;
 * "new" allocates and frees a frame every cycle, and registers each.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "guest_frames.h"
#include "stat.h"

#define WARM 8	/* uncounted cycles first: the "cold" phase */

const char *const guest_mode_names[] = {
	[GUEST_REUSE] = "reuse",
	[GUEST_REREGISTER] = "reregister",
	[GUEST_NEW] = "new",
};

static const char *const guest_totals[] = {
	"dmabuf_exports", "attaches", "detaches", "maps", "unmaps", "vmaps",
	"vunmaps", "pins", "allocated", "converted", "converted_wb",
	"pages_zeroed",
};
#define NTOTALS (sizeof(guest_totals) / sizeof(guest_totals[0]))
enum { EXPORTS, ATTACHES, DETACHES, MAPS, UNMAPS, VMAPS, VUNMAPS, PINS,
       ALLOCATED, CONVERTED, CONVERTED_WB, ZEROED };

struct guest_snap {
	long v[NTOTALS];
	unsigned long ioctls;
	long minflt;
};

static int guest_snap(struct guest_snap *s)
{
	struct rusage ru;

	/* Before the ioctl count: reading debugfs takes none. */
	s->ioctls = guest_ioctls();
	getrusage(RUSAGE_SELF, &ru);
	s->minflt = ru.ru_minflt;
	if (stat_get_many(guest_totals, s->v, NTOTALS)) {
		fprintf(stderr, "guest-frames: %s lacks the running totals (an older wcpool.ko?)\n",
			WCPOOL_STATS);
		return -1;
	}
	return 0;
}

/* A frame the loop has in hand, queued or not. */
struct guest_slot {
	void *p;
	struct wcp_registration *reg;	/* this cycle's */
	struct wcp_registration *base;	/* reuse: the one kept */
};

struct guest_frame {
	struct wcp_pool *pool;
	struct guest_enc *enc;
	enum guest_mode mode;
	size_t len;
	unsigned int queued;
	struct guest_slot slot[2];	/* one per OUTPUT buffer */
};

static const struct wcp_register_options guest_opts = {
	.access = WCP_ACCESS_READ, .policy = WCP_POLICY_WC,
};

/* The importer is done with @s: unregister (and free) it. */
static int guest_done(struct guest_frame *f, struct guest_slot *s)
{
	int err = wcp_unregister(f->pool, s->reg);

	s->reg = NULL;
	if (err) {
		fprintf(stderr, "guest-frames: wcp_unregister: %s\n",
			strerror(-err));
		return -1;
	}
	if (f->mode == GUEST_NEW) {
		wcp_free(f->pool, s->p);
		s->p = NULL;
	}
	return 0;
}

static int guest_dequeue(struct guest_frame *f)
{
	unsigned int t;

	if (guest_enc_dequeue(f->enc, &t))
		return -1;
	if (t >= f->enc->depth || !f->slot[t].reg) {
		fprintf(stderr, "guest-frames: DQBUF gave buffer %u, not queued\n", t);
		return -1;
	}
	f->queued--;
	return guest_done(f, &f->slot[t]);
}

/*
 * Cycle @i: (allocate,) fill, register and queue a frame as OUTPUT
 * buffer i % depth; once depth are queued, dequeue the oldest and
 * (unregister, free) it.
 */
static int guest_cycle(struct guest_frame *f, unsigned int i)
{
	struct guest_slot *s = &f->slot[i % f->enc->depth];
	int err;

	if (f->mode == GUEST_NEW) {
		s->p = wcp_aligned_alloc(f->pool, 4096, f->len);
		if (!s->p) {
			fprintf(stderr, "guest-frames: wcp_aligned_alloc: %s\n",
				strerror(errno));
			return -1;
		}
	}
	wcp_fill(f->pool, s->p, (int)(i & 0xff), f->len);
	err = wcp_register(f->pool, s->p, f->len, &guest_opts, &s->reg);
	if (err) {
		fprintf(stderr, "guest-frames: wcp_register: %s\n",
			strerror(-err));
		return -1;
	}
	if (f->mode == GUEST_REUSE && s->reg != s->base) {
		fprintf(stderr, "guest-frames: wcp_register made a new registration of a registered range\n");
		return -1;
	}
	if (guest_enc_queue(f->enc, i % f->enc->depth,
			    wcp_registration_fd(s->reg), f->len)) {
		guest_done(f, s);
		return -1;
	}
	if (++f->queued < f->enc->depth)
		return 0;
	return guest_dequeue(f);
}

static void guest_row(const char *kernel, const struct guest_frame *f,
		      const char *phase, unsigned int n,
		      const struct guest_snap *a, const struct guest_snap *b)
{
	double k = 1.0 / n;

#define D(i) ((b->v[i] - a->v[i]) * k)
	printf("{\"kernel\": \"%s\", \"frame\": \"%ux%u-%s\", \"size\": %zu, "
	       "\"policy\": \"wc\", \"importer\": \"%s\", "
	       "\"mode\": \"%s\", \"phase\": \"%s\", \"cycles\": %u, "
	       "\"per_frame\": {\"ioctls\": %.3f, \"dmabuf_exports\": %.3f, "
	       "\"attaches\": %.3f, \"detaches\": %.3f, \"maps\": %.3f, "
	       "\"unmaps\": %.3f, \"vmaps\": %.3f, \"vunmaps\": %.3f, "
	       "\"pins\": %.3f, \"page_allocs\": %.3f, \"conversions\": %.3f, "
	       "\"pages_zeroed\": %.3f, \"minor_faults\": %.3f}}\n",
	       kernel, f->enc->width, f->enc->height,
	       f->enc->kind == GUEST_VIVID ? "yuyv" : "yuv420", f->len,
	       guest_importer_names[f->enc->kind], guest_mode_names[f->mode], phase, n,
	       (b->ioctls - a->ioctls) * k, D(EXPORTS), D(ATTACHES),
	       D(DETACHES), D(MAPS), D(UNMAPS), D(VMAPS), D(VUNMAPS), D(PINS),
	       D(ALLOCATED), D(CONVERTED) + D(CONVERTED_WB), D(ZEROED),
	       (b->minflt - a->minflt) * k);
#undef D
	fflush(stdout);
}

static int guest_cycles(struct guest_frame *f, unsigned int first,
			unsigned int n)
{
	for (unsigned int i = first; i < first + n; i++)
		if (guest_cycle(f, i))
			return -1;
	return 0;
}

int guest_loop(const char *kernel, enum guest_importer kind,
	       unsigned int width, unsigned int height, enum guest_mode mode,
	       unsigned int n)
{
	struct wcp_pool_options o = {
		.backend = WCP_BACKEND_MODULE, .policy = WCP_POLICY_WC,
		.page_size = WCP_PAGE_2M,
	};
	struct guest_frame f = { .mode = mode };
	struct guest_snap a, b, c;
	struct guest_enc enc;
	int err, ret = -1;
	unsigned int k;

	if (guest_enc_open(&enc, kind, width, height))
		return -1;
	f.enc = &enc;
	f.len = (enc.raw_size + 4095) & ~(size_t)4095;
	err = wcp_pool_create(&o, &f.pool);
	if (err) {
		fprintf(stderr, "guest-frames: wcp_pool_create: %s\n",
			strerror(-err));
		goto out_enc;
	}
	for (k = 0; mode != GUEST_NEW && k < enc.depth; k++) {
		f.slot[k].p = wcp_aligned_alloc(f.pool, 4096, f.len);
		if (!f.slot[k].p)
			goto out_pool;
		if (mode == GUEST_REUSE &&
		    wcp_register(f.pool, f.slot[k].p, f.len, &guest_opts,
				 &f.slot[k].base))
			goto out_pool;
	}
	if (guest_snap(&a) || guest_cycles(&f, 0, WARM) || guest_snap(&b) ||
	    guest_cycles(&f, WARM, n) || guest_snap(&c))
		goto out_pool;
	guest_row(kernel, &f, "cold", WARM, &a, &b);
	guest_row(kernel, &f, "warm", n, &b, &c);
	ret = 0;
	while (f.queued && !guest_dequeue(&f))
		;
out_pool:
	if (ret)
		fprintf(stderr, "guest-frames: %s %s loop failed: no row\n",
			guest_importer_names[kind], guest_mode_names[mode]);
	/* vb2 lets go of the last dma-bufs first, then the pool goes. */
	guest_enc_close(&enc);
	for (k = 0; k < 2; k++) {
		if (f.slot[k].reg)
			wcp_unregister(f.pool, f.slot[k].reg);
		if (f.slot[k].base)
			wcp_unregister(f.pool, f.slot[k].base);
		if (f.slot[k].p)
			wcp_free(f.pool, f.slot[k].p);
	}
	wcp_pool_destroy(f.pool);
	return ret;
out_enc:
	guest_enc_close(&enc);
	return ret;
}
