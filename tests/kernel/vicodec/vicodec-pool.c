// SPDX-License-Identifier: GPL-2.0
/*
 * vicodec-pool - a real mem2mem codec on pool memory, in the QEMU guest.
 *
 * vicodec (drivers/media/test-drivers/vicodec, built by ./build) encodes
 * raw frames into its FWHT format and decodes them back, with the CPU,
 * through vb2-vmalloc: DMABUF buffers are vmapped through the exporter's
 * .vmap (for a wcpool dma-buf, a kernel mapping with the pool's policy).
 *
 * Two runs of the same pipeline on the same frames (N frames of a moving
 * pattern, 640x480 YUV420 by default: vicodec takes 640x360 and up; a GOP
 * of 4, so I and P frames):
 *   pool: frames written into a pool (WC by default) with wcp_copy(),
 *         registered (wcp_register) and queued as V4L2_MEMORY_DMABUF on the
 *         encoder's OUTPUT queue; the encoder's CAPTURE buffers (the
 *         stream) are pool registrations too, and go as they are to the
 *         decoder's OUTPUT queue; the decoder writes into pool buffers
 *         (DMABUF on its CAPTURE queue).
 *   mmap: the same frames copied into the drivers' own V4L2_MEMORY_MMAP
 *         buffers, everywhere.
 * Checks: the compressed streams are byte-identical frame by frame; the
 * decoded frames are byte-identical (vicodec is lossy: decoded against
 * decoded, never against the input), and close to the input (PSNR), so
 * that two equally wrong outputs do not pass; every registration is gone
 * from wcpool's counters afterwards.
 *
 *   vicodec-pool [-n FRAMES] [-W WIDTH] [-H HEIGHT] [-p wc|uc|wb]
 *                [-c FRAME] [-s FRAME]
 *
 *   -c FRAME  invert one byte (xor 0xff) of that raw frame in the pool
 *             after wcp_copy(): the pool path encodes a different frame,
 *             so the stream and decoded checks must FAIL.  (A change of
 *             the lowest bit only can vanish in the lossy encoder's
 *             quantisation: xor 0x01 of the same byte gave an identical
 *             stream.)
 *   -s FRAME  flip one byte of that frame's compressed data in the pool
 *             before decoding (the decoded frames differ: must FAIL)
 *
 * Prints PASS/FAIL lines and "N passed, N failed"; exit status 1 on any
 * failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/videodev2.h>
#include <wcpool.h>

#include "result.h"
#include "stat.h"

#define MAXF 32
#define PAGE 4096u

static unsigned int W = 640, H = 480, N = 10, GOP = 4;
static int corrupt_frame = -1, corrupt_stream = -1;
/* A fatal error in the set-up: report it as a failure and stop. */
static void die(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (errno %d: %s)\n", errno, strerror(errno));
	exit(result_summary(1));
}

#define XIOCTL(fd, req, arg) do {					\
	if (ioctl(fd, req, arg))					\
		die("%s:%d: ioctl " #req, __func__, __LINE__);	\
} while (0)

static size_t round_up(size_t n)
{
	return (n + PAGE - 1) / PAGE * PAGE;
}

/* /dev/videoN of the vicodec instance named @name ("stateful-encoder"). */
static int open_vicodec(const char *name)
{
	char path[64], buf[64];
	int i, fd;
	FILE *f;

	for (i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), "/sys/class/video4linux/video%d/name", i);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
		buf[strcspn(buf, "\n")] = 0;
		if (strcmp(buf, name))
			continue;
		snprintf(path, sizeof(path), "/dev/video%d", i);
		fd = open(path, O_RDWR | O_NONBLOCK);
		if (fd < 0)
			die("open %s", path);
		return fd;
	}
	errno = ENODEV;
	die("no vicodec %s (is vicodec.ko loaded?)", name);
	return -1;
}

/* A moving pattern: a diagonal ramp sliding right, a bright square moving
 * down and right, chroma bands moving the other way. */
static void make_frame(uint8_t *p, unsigned int i)
{
	uint8_t *u = p + W * H, *v = u + W * H / 4;
	unsigned int x, y, bx = 16 + 12 * i, by = 24 + 8 * i;

	for (y = 0; y < H; y++)
		for (x = 0; x < W; x++) {
			int in = x - bx % W < 48 && y - by % H < 48;

			p[y * W + x] = in ? 235 : 16 + (x + y + 6 * i) % 200;
		}
	for (y = 0; y < H / 2; y++)
		for (x = 0; x < W / 2; x++) {
			u[y * (W / 2) + x] = 96 + (x + 64 - (3 * i) % 64) % 64;
			v[y * (W / 2) + x] = 96 + (y + 2 * i) % 64;
		}
}

static double psnr(const uint8_t *a, const uint8_t *b, size_t n)
{
	double se = 0;
	size_t i;

	for (i = 0; i < n; i++)
		se += (double)(a[i] - b[i]) * (a[i] - b[i]);
	if (se == 0)
		return 99;
	return 10 * log10(255.0 * 255.0 * n / se);
}

/* One buffer of a queue: an MMAP buffer of the driver or a registered
 * pool range. */
struct buf {
	void *ptr;
	size_t len;
	struct wcp_registration *reg;
	int fd;			/* dma-buf, DMABUF only */
	unsigned int used;	/* bytesused after DQBUF */
};

struct run {
	const char *name;
	enum v4l2_memory mem;
	struct wcp_pool *pool;	/* DMABUF only */
	int enc, dec;
	unsigned int raw_size, comp_size, dec_size;
	struct buf enc_out[MAXF], enc_cap[MAXF], dec_cap[MAXF];
	/* enc_cap / dec_cap index holding frame i, from the timestamps */
	int enc_of[MAXF], dec_of[MAXF];
	struct buf dec_out[MAXF];	/* MMAP only: the stream copied in */
};

static void set_fmt(int fd, enum v4l2_buf_type type, uint32_t fourcc,
		    unsigned int *sizeimage)
{
	struct v4l2_format f = { .type = type };

	XIOCTL(fd, VIDIOC_G_FMT, &f);
	f.fmt.pix.width = W;
	f.fmt.pix.height = H;
	f.fmt.pix.pixelformat = fourcc;
	f.fmt.pix.field = V4L2_FIELD_NONE;
	f.fmt.pix.bytesperline = 0;
	f.fmt.pix.sizeimage = 0;
	XIOCTL(fd, VIDIOC_S_FMT, &f);
	if (f.fmt.pix.pixelformat != fourcc || f.fmt.pix.width != W ||
	    f.fmt.pix.height != H) {
		errno = EINVAL;
		die("S_FMT gave %ux%u %.4s", f.fmt.pix.width, f.fmt.pix.height,
		    (char *)&f.fmt.pix.pixelformat);
	}
	*sizeimage = f.fmt.pix.sizeimage;
}

/* REQBUFS @n buffers; MMAP: map them; DMABUF: allocate and register
 * @size bytes (4 KiB multiple) of the pool for each. */
static void setup_bufs(struct run *r, int fd, enum v4l2_buf_type type,
		       struct buf *b, unsigned int n, size_t size)
{
	struct v4l2_requestbuffers rb = {
		.count = n, .type = type, .memory = r->mem,
	};
	unsigned int i;
	int err;

	XIOCTL(fd, VIDIOC_REQBUFS, &rb);
	if (rb.count != n) {
		errno = ENOMEM;
		die("%s: REQBUFS gave %u buffers, not %u", r->name, rb.count, n);
	}
	for (i = 0; i < n; i++) {
		if (r->mem == V4L2_MEMORY_MMAP) {
			struct v4l2_buffer q = {
				.type = type, .memory = r->mem, .index = i,
			};

			XIOCTL(fd, VIDIOC_QUERYBUF, &q);
			b[i].len = q.length;
			b[i].ptr = mmap(NULL, q.length, PROT_READ | PROT_WRITE,
					MAP_SHARED, fd, q.m.offset);
			if (b[i].ptr == MAP_FAILED)
				die("%s: mmap buffer %u", r->name, i);
			b[i].fd = -1;
			continue;
		}
		b[i].len = round_up(size);
		b[i].ptr = wcp_aligned_alloc(r->pool, PAGE, b[i].len);
		if (!b[i].ptr)
			die("%s: wcp_aligned_alloc %zu", r->name, b[i].len);
		err = wcp_register(r->pool, b[i].ptr, b[i].len, NULL, &b[i].reg);
		if (err) {
			errno = -err;
			die("%s: wcp_register", r->name);
		}
		b[i].fd = wcp_registration_fd(b[i].reg);
	}
}

static void qbuf(struct run *r, int fd, enum v4l2_buf_type type,
		 struct buf *b, unsigned int i, unsigned int used, unsigned int ts)
{
	struct v4l2_buffer q = {
		.type = type, .memory = r->mem, .index = i, .bytesused = used,
		.field = V4L2_FIELD_NONE,
		.timestamp = { .tv_sec = 0, .tv_usec = ts },
	};

	if (r->mem == V4L2_MEMORY_DMABUF) {
		q.m.fd = b[i].fd;
		q.length = b[i].len;
	}
	XIOCTL(fd, VIDIOC_QBUF, &q);
}

/* Dequeue one buffer of @type, waiting up to 20 s. */
static struct v4l2_buffer dqbuf(struct run *r, int fd, enum v4l2_buf_type type)
{
	struct pollfd p = {
		.fd = fd,
		.events = type == V4L2_BUF_TYPE_VIDEO_CAPTURE ? POLLIN : POLLOUT,
	};
	struct v4l2_buffer q;
	time_t end = time(NULL) + 20;

	do {
		memset(&q, 0, sizeof(q));
		q.type = type;
		q.memory = r->mem;
		if (!ioctl(fd, VIDIOC_DQBUF, &q))
			return q;
		if (errno != EAGAIN)
			die("%s: DQBUF", r->name);
		poll(&p, 1, 1000);
	} while (time(NULL) < end);
	errno = ETIMEDOUT;
	die("%s: DQBUF %s timed out", r->name,
	    type == V4L2_BUF_TYPE_VIDEO_CAPTURE ? "CAPTURE" : "OUTPUT");
	return q;
}

static void stream(int fd, enum v4l2_buf_type type, int on)
{
	XIOCTL(fd, on ? VIDIOC_STREAMON : VIDIOC_STREAMOFF, &type);
}

/* Frame index from the timestamp vicodec copied from the OUTPUT buffer. */
static unsigned int frame_of(struct run *r, const struct v4l2_buffer *q)
{
	unsigned int i = q->timestamp.tv_usec - 1;

	if (q->timestamp.tv_sec || i >= N) {
		errno = EINVAL;
		die("%s: CAPTURE buffer with timestamp %ld.%06ld", r->name,
		    (long)q->timestamp.tv_sec, (long)q->timestamp.tv_usec);
	}
	return i;
}

static void encode(struct run *r, const uint8_t *frames)
{
	const enum v4l2_buf_type out = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	const enum v4l2_buf_type cap = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	unsigned int i, k, bad = 0;

	setup_bufs(r, r->enc, out, r->enc_out, N, r->raw_size);
	/* The stream buffers go to the decoder's OUTPUT queue as they are:
	 * large enough for either's sizeimage. */
	setup_bufs(r, r->enc, cap, r->enc_cap, N, r->comp_size);
	for (i = 0; i < N; i++) {
		if (r->mem == V4L2_MEMORY_MMAP) {
			memcpy(r->enc_out[i].ptr, frames + (size_t)i * r->raw_size,
			       r->raw_size);
		} else {
			wcp_copy(r->pool, r->enc_out[i].ptr,
				 frames + (size_t)i * r->raw_size, r->raw_size);
			if ((int)i == corrupt_frame)
				((volatile uint8_t *)r->enc_out[i].ptr)[r->raw_size / 3] ^= 0xff;
			wcp_flush(r->pool, r->enc_out[i].ptr, r->raw_size);
		}
	}
	for (i = 0; i < N; i++)
		qbuf(r, r->enc, cap, r->enc_cap, i, 0, 0);
	stream(r->enc, out, 1);
	stream(r->enc, cap, 1);
	for (i = 0; i < N; i++)
		qbuf(r, r->enc, out, r->enc_out, i, r->raw_size, i + 1);
	for (i = 0; i < N; i++) {
		struct v4l2_buffer q = dqbuf(r, r->enc, cap);

		k = frame_of(r, &q);
		r->enc_of[k] = q.index;
		r->enc_cap[q.index].used = q.bytesused;
		if (q.flags & V4L2_BUF_FLAG_ERROR || q.bytesused == 0 ||
		    q.bytesused > r->enc_cap[q.index].len)
			bad++;
		dqbuf(r, r->enc, out);
	}
	stream(r->enc, out, 0);
	stream(r->enc, cap, 0);
	result(!bad, "%s: encoder took %u frames of %ux%u YUV420 (%u bytes) from %s buffers, %u errors",
	       r->name, N, W, H, r->raw_size,
	       r->mem == V4L2_MEMORY_MMAP ? "MMAP" : "pool DMABUF", bad);
}

static void decode(struct run *r, const uint8_t *frames)
{
	const enum v4l2_buf_type out = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	const enum v4l2_buf_type cap = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	struct v4l2_event_subscription sub = { .type = V4L2_EVENT_SOURCE_CHANGE };
	struct v4l2_format f = { .type = cap };
	struct v4l2_event ev;
	struct buf *in;
	unsigned int i, k, bad = 0, t;
	double worst = 99;

	XIOCTL(r->dec, VIDIOC_SUBSCRIBE_EVENT, &sub);
	if (r->mem == V4L2_MEMORY_MMAP) {
		setup_bufs(r, r->dec, out, r->dec_out, N, 0);
		for (i = 0; i < N; i++) {
			struct buf *s = &r->enc_cap[r->enc_of[i]];

			if (s->used > r->dec_out[i].len) {
				errno = EINVAL;
				die("%s: frame %u: %u stream bytes, decoder buffer %zu",
				    r->name, i, s->used, r->dec_out[i].len);
			}
			memcpy(r->dec_out[i].ptr, s->ptr, s->used);
			r->dec_out[i].used = s->used;
		}
		in = r->dec_out;
	} else {
		/* The encoder's pool buffers, in frame order: REQBUFS
		 * DMABUF, then QBUF index i with the fd of frame i. */
		struct v4l2_requestbuffers rb = {
			.count = N, .type = out, .memory = r->mem,
		};

		XIOCTL(r->dec, VIDIOC_REQBUFS, &rb);
		for (i = 0; i < N; i++)
			r->dec_out[i] = r->enc_cap[r->enc_of[i]];
		if (corrupt_stream >= 0 && corrupt_stream < (int)N) {
			/* A byte of coefficients, past the 56-byte header. */
			struct buf *s = &r->dec_out[corrupt_stream];

			((volatile uint8_t *)s->ptr)[56 + (s->used - 56) / 2] ^= 0x5a;
		}
		in = r->dec_out;
	}
	for (i = 0; i < N; i++)
		qbuf(r, r->dec, out, in, i, in[i].used, i + 1);
	stream(r->dec, out, 1);
	/* vicodec parsed the first header when the buffer reached it. */
	for (t = 0; t < 100; t++) {
		if (!ioctl(r->dec, VIDIOC_DQEVENT, &ev))
			break;
		usleep(100000);
	}
	if (t == 100 || ev.type != V4L2_EVENT_SOURCE_CHANGE)
		die("%s: no SOURCE_CHANGE event from the decoder", r->name);
	XIOCTL(r->dec, VIDIOC_G_FMT, &f);
	if (f.fmt.pix.width != W || f.fmt.pix.height != H ||
	    f.fmt.pix.pixelformat != V4L2_PIX_FMT_YUV420 ||
	    f.fmt.pix.sizeimage != r->raw_size) {
		errno = EINVAL;
		die("%s: decoder CAPTURE format %ux%u %.4s %u bytes", r->name,
		    f.fmt.pix.width, f.fmt.pix.height,
		    (char *)&f.fmt.pix.pixelformat, f.fmt.pix.sizeimage);
	}
	r->dec_size = f.fmt.pix.sizeimage;
	setup_bufs(r, r->dec, cap, r->dec_cap, N, r->dec_size);
	for (i = 0; i < N; i++)
		qbuf(r, r->dec, cap, r->dec_cap, i, 0, 0);
	stream(r->dec, cap, 1);
	for (i = 0; i < N; i++) {
		struct v4l2_buffer q = dqbuf(r, r->dec, cap);

		k = frame_of(r, &q);
		r->dec_of[k] = q.index;
		r->dec_cap[q.index].used = q.bytesused;
		if (q.flags & V4L2_BUF_FLAG_ERROR || q.bytesused != r->dec_size)
			bad++;
	}
	for (i = 0; i < N; i++)
		dqbuf(r, r->dec, out);
	stream(r->dec, out, 0);
	stream(r->dec, cap, 0);
	/* Decoded against the input: lossy, but near it. */
	for (i = 0; i < N; i++) {
		uint8_t *d = malloc(r->dec_size);
		double p;

		if (!d)
			die("malloc");
		memcpy(d, r->dec_cap[r->dec_of[i]].ptr, r->dec_size);
		p = psnr(d, frames + (size_t)i * r->raw_size, r->raw_size);
		if (p < worst)
			worst = p;
		free(d);
	}
	result(!bad && worst >= 30,
	       "%s: decoder gave %u frames into %s buffers, %u errors, PSNR against the input >= %.1f dB (need 30)",
	       r->name, N, r->mem == V4L2_MEMORY_MMAP ? "MMAP" : "pool DMABUF",
	       bad, worst);
}

/* Compare frame by frame; @what names it. Returns bytes compared. */
static void compare(const char *what, struct run *a, struct run *b,
		    struct buf *ab, int *aof, struct buf *bb, int *bof)
{
	unsigned int i, diff = 0, first_frame = 0;
	size_t total = 0, first_off = 0, j;
	char sizes[512] = "";

	for (i = 0; i < N; i++) {
		struct buf *x = &ab[aof[i]], *y = &bb[bof[i]];
		uint8_t *cx, *cy;
		size_t len = sizeof(sizes) - strlen(sizes);

		snprintf(sizes + strlen(sizes), len, "%s%u", i ? " " : "", y->used);
		if (x->used != y->used) {
			if (!diff++) {
				first_frame = i;
				first_off = x->used < y->used ? x->used : y->used;
			}
			continue;
		}
		/* Copy out first: one pass of uncached reads of WC memory. */
		cx = malloc(x->used);
		cy = malloc(y->used);
		if (!cx || !cy)
			die("malloc");
		memcpy(cx, x->ptr, x->used);
		memcpy(cy, y->ptr, y->used);
		for (j = 0; j < x->used; j++)
			if (cx[j] != cy[j]) {
				if (!diff++) {
					first_frame = i;
					first_off = j;
				}
				break;
			}
		total += x->used;
		free(cx);
		free(cy);
	}
	if (diff)
		result(0, "%s: %u of %u frames differ between %s and %s (first: frame %u at byte %zu; sizes %s)",
		       what, diff, N, a->name, b->name, first_frame, first_off, sizes);
	else
		result(1, "%s: %s and %s identical, %u frames, %zu bytes compared (sizes %s)",
		       what, a->name, b->name, N, total, sizes);
}

static void open_run(struct run *r)
{
	struct v4l2_control gop = { .id = V4L2_CID_MPEG_VIDEO_GOP_SIZE, .value = GOP };
	unsigned int dec_in;

	r->enc = open_vicodec("stateful-encoder");
	r->dec = open_vicodec("stateful-decoder");

	/* I frames at 0, GOP, 2 GOP...: both kinds of frame in the stream */
	XIOCTL(r->enc, VIDIOC_S_CTRL, &gop);
	set_fmt(r->enc, V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_PIX_FMT_YUV420, &r->raw_size);
	set_fmt(r->enc, V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_PIX_FMT_FWHT, &r->comp_size);
	set_fmt(r->dec, V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_PIX_FMT_FWHT, &dec_in);
	if (dec_in > r->comp_size)
		r->comp_size = dec_in;
	if (r->raw_size != W * H * 3 / 2) {
		errno = EINVAL;
		die("encoder OUTPUT sizeimage %u, not %u", r->raw_size, W * H * 3 / 2);
	}
}

static void close_run(struct run *r)
{
	struct v4l2_requestbuffers rb = { .count = 0 };
	struct buf *sets[] = { r->enc_out, r->enc_cap, r->dec_cap };
	unsigned int i, s;
	int err = 0;

	/* Drop the drivers' references (vb2 holds the dma-bufs) first. */
	rb.memory = r->mem;
	rb.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	XIOCTL(r->dec, VIDIOC_REQBUFS, &rb);
	rb.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	XIOCTL(r->dec, VIDIOC_REQBUFS, &rb);
	rb.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	XIOCTL(r->enc, VIDIOC_REQBUFS, &rb);
	rb.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	XIOCTL(r->enc, VIDIOC_REQBUFS, &rb);
	close(r->enc);
	close(r->dec);
	for (s = 0; s < 3; s++)
		for (i = 0; i < N; i++) {
			struct buf *b = &sets[s][i];

			if (r->mem == V4L2_MEMORY_MMAP) {
				munmap(b->ptr, b->len);
				continue;
			}
			err |= wcp_unregister(r->pool, b->reg);
			wcp_free(r->pool, b->ptr);
		}
	if (r->mem == V4L2_MEMORY_MMAP) {
		for (i = 0; i < N; i++)
			munmap(r->dec_out[i].ptr, r->dec_out[i].len);
		return;
	}
	result(!err, "%s: %u registrations unregistered", r->name, 3 * N);
}

/* wcpool.ko's running totals that vicodec moves (kernel/README.md). */
static const char *const tot_names[] = {
	"dmabuf_exports", "attaches", "detaches", "maps", "unmaps", "vmaps",
	"vunmaps",
};
enum { T_EXPORTS, T_ATTACHES, T_DETACHES, T_MAPS, T_UNMAPS, T_VMAPS,
       T_VUNMAPS, T_N };

static void tot_get(long *t)
{
	if (stat_get_many(tot_names, t, T_N)) {
		errno = ENOENT;
		die("running totals in /sys/kernel/debug/wcpool/stats");
	}
}

/* Did the totals move from @a to @b by exactly @want? */
static void tot_check(const char *what, const long *a, const long *b,
		      const long *want)
{
	char got[256];
	int i, n = 0, ok = 1;

	for (i = 0; i < T_N; i++) {
		ok &= b[i] - a[i] == want[i];
		n += snprintf(got + n, sizeof(got) - n, " %s %+ld", tot_names[i],
			      b[i] - a[i]);
	}
	result(ok, "totals: %s:%s", what, got);
}

/* One frame through the encoder: QBUF both queues, DQBUF both. */
static void tot_frame(int enc, int dfd, size_t len, unsigned int raw)
{
	struct run r = { .name = "totals", .mem = V4L2_MEMORY_MMAP };
	struct v4l2_buffer cap = {
		.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP,
	};
	struct v4l2_buffer out = {
		.type = V4L2_BUF_TYPE_VIDEO_OUTPUT,
		.memory = V4L2_MEMORY_DMABUF, .bytesused = raw,
		.length = (unsigned int)len, .field = V4L2_FIELD_NONE,
	};

	out.m.fd = dfd;
	XIOCTL(enc, VIDIOC_QBUF, &cap);
	XIOCTL(enc, VIDIOC_QBUF, &out);
	dqbuf(&r, enc, V4L2_BUF_TYPE_VIDEO_CAPTURE);
	r.mem = V4L2_MEMORY_DMABUF;
	dqbuf(&r, enc, V4L2_BUF_TYPE_VIDEO_OUTPUT);
}

/*
 * What vicodec (vb2-vmalloc) does with pool dma-bufs, read from wcpool's
 * running totals: one export per registration, none for a registration
 * registered again (libwcpool returns the live one); at the first QBUF of
 * a dma-buf one vmap, no attach and no DMA map (vb2-vmalloc does
 * neither); the same dma-buf queued again, nothing; another one in its
 * place, its vmap and the first one's vunmap; REQBUFS 0, the last vunmap.
 */
static void totals(struct wcp_pool *pool)
{
	enum v4l2_buf_type out = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	enum v4l2_buf_type cap = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	struct v4l2_requestbuffers rb = { .count = 1, .type = out,
					  .memory = V4L2_MEMORY_DMABUF };
	struct wcp_registration *r1, *r2, *r3;
	long t[6][T_N];
	unsigned int raw, comp;
	int enc = open_vicodec("stateful-encoder"), err;
	size_t len;
	void *a, *b;

	set_fmt(enc, out, V4L2_PIX_FMT_YUV420, &raw);
	set_fmt(enc, cap, V4L2_PIX_FMT_FWHT, &comp);
	XIOCTL(enc, VIDIOC_REQBUFS, &rb);
	rb.type = cap;
	rb.memory = V4L2_MEMORY_MMAP;
	XIOCTL(enc, VIDIOC_REQBUFS, &rb);
	stream(enc, out, 1);
	stream(enc, cap, 1);
	len = round_up(raw);
	a = wcp_aligned_alloc(pool, PAGE, len);
	b = wcp_aligned_alloc(pool, PAGE, len);
	if (!a || !b)
		die("totals: wcp_aligned_alloc");
	wcp_fill(pool, a, 0x80, len);
	wcp_fill(pool, b, 0x40, len);

	tot_get(t[0]);
	err = wcp_register(pool, a, len, NULL, &r1);
	tot_get(t[1]);
	err |= wcp_register(pool, a, len, NULL, &r2);
	tot_get(t[2]);
	if (err) {
		errno = -err;
		die("totals: wcp_register");
	}
	tot_check("a registration", t[0], t[1],
		  (long[T_N]){ [T_EXPORTS] = 1 });
	result(r1 == r2 && wcp_registration_fd(r1) == wcp_registration_fd(r2),
	       "totals: the range registered again is the same registration");
	tot_check("the same range registered again", t[1], t[2],
		  (long[T_N]){ 0 });
	tot_frame(enc, wcp_registration_fd(r1), len, raw);
	tot_get(t[3]);
	tot_check("its first frame through vicodec", t[2], t[3],
		  (long[T_N]){ [T_VMAPS] = 1 });
	tot_frame(enc, wcp_registration_fd(r2), len, raw);
	tot_get(t[4]);
	tot_check("the same dma-buf queued again", t[3], t[4],
		  (long[T_N]){ 0 });
	err = wcp_register(pool, b, len, NULL, &r3);
	if (err) {
		errno = -err;
		die("totals: wcp_register");
	}
	tot_frame(enc, wcp_registration_fd(r3), len, raw);
	tot_get(t[5]);
	tot_check("another registration in its place", t[4], t[5],
		  (long[T_N]){ [T_EXPORTS] = 1, [T_VMAPS] = 1, [T_VUNMAPS] = 1 });
	stream(enc, out, 0);
	stream(enc, cap, 0);
	rb.count = 0;
	XIOCTL(enc, VIDIOC_REQBUFS, &rb);
	rb.type = out;
	rb.memory = V4L2_MEMORY_DMABUF;
	XIOCTL(enc, VIDIOC_REQBUFS, &rb);
	tot_get(t[0]);
	tot_check("STREAMOFF, REQBUFS 0", t[5], t[0], (long[T_N]){ [T_VUNMAPS] = 1 });
	close(enc);
	err = wcp_unregister(pool, r1) | wcp_unregister(pool, r2) |
	      wcp_unregister(pool, r3);
	result(!err, "totals: three wcp_unregister() of two registrations");
	wcp_free(pool, a);
	wcp_free(pool, b);
}

int main(int argc, char **argv)
{
	struct wcp_pool_options opts = { .backend = WCP_BACKEND_MODULE,
					 .policy = WCP_POLICY_WC };
	static struct run mm = { .name = "mmap", .mem = V4L2_MEMORY_MMAP };
	static struct run pl = { .name = "pool", .mem = V4L2_MEMORY_DMABUF };
	static const char *const pname[] = { "default", "wc", "uc", "wb" };
	struct wcp_pool_info info;
	uint8_t *frames;
	long regs, regs0;
	int c, err;

	while ((c = getopt(argc, argv, "n:W:H:p:c:s:")) != -1) {
		switch (c) {
		case 'n': N = atoi(optarg); break;
		case 'W': W = atoi(optarg); break;
		case 'H': H = atoi(optarg); break;
		case 'c': corrupt_frame = atoi(optarg); break;
		case 's': corrupt_stream = atoi(optarg); break;
		case 'p':
			opts.policy = !strcmp(optarg, "uc") ? WCP_POLICY_UC :
				      !strcmp(optarg, "wb") ? WCP_POLICY_WB :
				      WCP_POLICY_WC;
			break;
		default:
			fprintf(stderr, "usage: %s [-n FRAMES] [-W W] [-H H] [-p wc|uc|wb] [-c FRAME] [-s FRAME]\n",
				argv[0]);
			return 2;
		}
	}
	/* vicodec takes 640x360 to 4096x2160, and rounds to 8 (16 for
	 * 4:2:0 chroma) */
	if (!N || N > MAXF || W % 16 || H % 16 || W < 640 || H < 368 ||
	    W > 4096 || H > 2160) {
		fprintf(stderr, "frames 1..%u, width 640..4096 and height 368..2160, multiples of 16\n", MAXF);
		return 2;
	}

	err = wcp_pool_create(&opts, &pl.pool);
	if (err) {
		errno = -err;
		die("wcp_pool_create (wcpool.ko, %s)", pname[opts.policy]);
	}
	err = wcp_pool_info(pl.pool, &info);
	result(!err && info.backend == WCP_BACKEND_MODULE &&
	       info.policy == opts.policy && info.export_path == WCP_EXPORT_MODULE,
	       "pool: wcpool.ko pool, policy %s, page size %llu KiB, dma-bufs from wcpool.ko",
	       pname[info.policy & 3], (unsigned long long)info.page_size >> 10);
	regs0 = stat_get("registrations");

	open_run(&mm);
	open_run(&pl);
	frames = malloc((size_t)N * mm.raw_size);
	if (!frames)
		die("malloc");
	for (unsigned int i = 0; i < N; i++)
		make_frame(frames + (size_t)i * mm.raw_size, i);

	encode(&mm, frames);
	encode(&pl, frames);
	compare("stream", &mm, &pl, mm.enc_cap, mm.enc_of, pl.enc_cap, pl.enc_of);

	decode(&mm, frames);
	decode(&pl, frames);
	regs = stat_get("registrations");
	result(regs - regs0 == 3 * N,
	       "pool: %ld live wcpool registrations while decoding (raw, stream, decoded: %u)",
	       regs - regs0, 3 * N);
	compare("decoded", &mm, &pl, mm.dec_cap, mm.dec_of, pl.dec_cap, pl.dec_of);

	close_run(&mm);
	close_run(&pl);
	totals(pl.pool);
	wcp_pool_destroy(pl.pool);
	regs = stat_get("registrations");
	result(regs == regs0 && stat_get("registered_bytes") == 0 &&
	       stat_get("pools") == 0,
	       "counters: registrations %ld, registered_bytes %ld, pools %ld after close",
	       regs, stat_get("registered_bytes"), stat_get("pools"));
	free(frames);
	return result_summary(0);
}
