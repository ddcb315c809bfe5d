// SPDX-License-Identifier: MIT
/*
 * The importers of guest-frames' frames, V4L2 OUTPUT queues that take
 * them as dma-bufs (V4L2_MEMORY_DMABUF, one buffer):
 *  - vicodec's stateful encoder: raw YUV420 frames in, the FWHT stream
 *    out of one driver (MMAP) buffer on its CAPTURE queue.  vicodec uses
 *    vb2-vmalloc, which neither attaches nor DMA-maps a dma-buf: it vmaps
 *    it (wcpool's .vmap).
 *  - vivid's video output, YUYV, two buffers (it streams from two
 *    queued on): with vivid loaded allocators=1, its buffers are
 *    vb2-dma-contig's, which attaches each new dma-buf and DMA-maps it
 *    (wcpool's sg table), and takes only a buffer that is one contiguous
 *    run (a frame within one 2 MiB page is).
 * The device is opened blocking; each DQBUF waits in poll() first (at
 * most 20 s), so every frame takes the same ioctls.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/videodev2.h>

#include "guest_frames.h"

#define OUT V4L2_BUF_TYPE_VIDEO_OUTPUT
#define CAP V4L2_BUF_TYPE_VIDEO_CAPTURE

const char *const guest_importer_names[] = {
	[GUEST_VICODEC] = "vicodec-encoder",
	[GUEST_VIVID] = "vivid-output",
};

static const char *const guest_importer_devs[] = {
	[GUEST_VICODEC] = "stateful-encoder",
	[GUEST_VIVID] = "vivid-000-vid-out",
};

static int guest_enc_fail(const struct guest_enc *e, const char *what)
{
	fprintf(stderr, "guest-frames: %s: %s: %s\n",
		guest_importer_names[e->kind], what, strerror(errno));
	return -1;
}

/* /dev/videoN named @dev, -1 if there is none. */
static int guest_enc_find(const char *dev)
{
	char path[64], name[64];
	FILE *f;
	int i;

	for (i = 0; i < 64; i++) {
		snprintf(path, sizeof(path),
			 "/sys/class/video4linux/video%d/name", i);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(name, sizeof(name), f))
			name[0] = 0;
		fclose(f);
		name[strcspn(name, "\n")] = 0;
		if (strcmp(name, dev))
			continue;
		snprintf(path, sizeof(path), "/dev/video%d", i);
		return open(path, O_RDWR | O_CLOEXEC);
	}
	errno = ENODEV;
	return -1;
}

static int guest_enc_fmt(struct guest_enc *e, enum v4l2_buf_type type,
			 unsigned int fourcc, size_t *sizeimage)
{
	struct v4l2_format f = { .type = type };

	if (ioctl(e->fd, VIDIOC_G_FMT, &f))
		return -1;
	f.fmt.pix.width = e->width;
	f.fmt.pix.height = e->height;
	f.fmt.pix.pixelformat = fourcc;
	f.fmt.pix.field = V4L2_FIELD_NONE;
	f.fmt.pix.bytesperline = 0;
	f.fmt.pix.sizeimage = 0;
	if (ioctl(e->fd, VIDIOC_S_FMT, &f))
		return -1;
	if (f.fmt.pix.width != e->width || f.fmt.pix.height != e->height ||
	    f.fmt.pix.pixelformat != fourcc) {
		fprintf(stderr, "guest-frames: %s: asked for %ux%u, got %ux%u %.4s\n",
			guest_importer_names[e->kind], e->width, e->height, f.fmt.pix.width,
			f.fmt.pix.height, (const char *)&f.fmt.pix.pixelformat);
		errno = EINVAL;
		return -1;
	}
	*sizeimage = f.fmt.pix.sizeimage;
	return 0;
}

static int guest_enc_reqbufs(struct guest_enc *e, enum v4l2_buf_type type,
			     enum v4l2_memory mem, unsigned int count)
{
	struct v4l2_requestbuffers rb = {
		.count = count, .type = type, .memory = mem,
	};

	if (ioctl(e->fd, VIDIOC_REQBUFS, &rb))
		return -1;
	if (rb.count != count) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int guest_enc_open(struct guest_enc *e, enum guest_importer kind,
		   unsigned int width, unsigned int height)
{
	struct v4l2_buffer q = { .type = CAP, .memory = V4L2_MEMORY_MMAP };
	enum v4l2_buf_type type;
	size_t comp;

	memset(e, 0, sizeof(*e));
	e->cap = MAP_FAILED;
	e->kind = kind;
	e->depth = kind == GUEST_VIVID ? 2 : 1;
	e->width = width;
	e->height = height;
	e->fd = guest_enc_find(guest_importer_devs[kind]);
	if (e->fd < 0)
		return guest_enc_fail(e, "open (is its module loaded?)");
	if (kind == GUEST_VIVID) {
		if (guest_enc_fmt(e, OUT, V4L2_PIX_FMT_YUYV, &e->raw_size) ||
		    guest_enc_reqbufs(e, OUT, V4L2_MEMORY_DMABUF, e->depth))
			goto err;
		type = OUT;
		if (ioctl(e->fd, VIDIOC_STREAMON, &type))
			goto err;
		return 0;
	}
	if (guest_enc_fmt(e, OUT, V4L2_PIX_FMT_YUV420, &e->raw_size) ||
	    guest_enc_fmt(e, CAP, V4L2_PIX_FMT_FWHT, &comp))
		goto err;
	if (guest_enc_reqbufs(e, OUT, V4L2_MEMORY_DMABUF, 1) ||
	    guest_enc_reqbufs(e, CAP, V4L2_MEMORY_MMAP, 1) ||
	    ioctl(e->fd, VIDIOC_QUERYBUF, &q))
		goto err;
	e->cap_len = q.length;
	e->cap = mmap(NULL, q.length, PROT_READ, MAP_SHARED, e->fd,
		      q.m.offset);
	if (e->cap == MAP_FAILED)
		goto err;
	type = OUT;
	if (ioctl(e->fd, VIDIOC_STREAMON, &type))
		goto err;
	type = CAP;
	if (ioctl(e->fd, VIDIOC_STREAMON, &type))
		goto err;
	return 0;
err:
	guest_enc_fail(e, "set-up");
	guest_enc_close(e);
	return -1;
}

/* Wait for @events, then DQBUF a buffer of @type (@mem). */
static int guest_enc_dqbuf(struct guest_enc *e, enum v4l2_buf_type type,
			   enum v4l2_memory mem, short events,
			   struct v4l2_buffer *q)
{
	struct pollfd p = { .fd = e->fd, .events = events };
	int r = poll(&p, 1, 20000);

	if (r <= 0) {
		if (!r)
			errno = ETIMEDOUT;
		return -1;
	}
	memset(q, 0, sizeof(*q));
	q->type = type;
	q->memory = mem;
	return ioctl(e->fd, VIDIOC_DQBUF, q);
}

int guest_enc_queue(struct guest_enc *e, unsigned int index, int dmabuf,
		    size_t len)
{
	struct v4l2_buffer out = {
		.type = OUT, .memory = V4L2_MEMORY_DMABUF, .index = index,
		.bytesused = (unsigned int)e->raw_size,
		.length = (unsigned int)len, .field = V4L2_FIELD_NONE,
	};
	struct v4l2_buffer cap = { .type = CAP, .memory = V4L2_MEMORY_MMAP };

	out.m.fd = dmabuf;
	if (e->kind == GUEST_VICODEC && ioctl(e->fd, VIDIOC_QBUF, &cap))
		return guest_enc_fail(e, "QBUF CAPTURE");
	if (ioctl(e->fd, VIDIOC_QBUF, &out))
		return guest_enc_fail(e, "QBUF OUTPUT (DMABUF)");
	return 0;
}

int guest_enc_dequeue(struct guest_enc *e, unsigned int *index)
{
	struct v4l2_buffer out, cap = { .flags = 0, .bytesused = 1 };

	if (e->kind == GUEST_VICODEC &&
	    guest_enc_dqbuf(e, CAP, V4L2_MEMORY_MMAP, POLLIN, &cap))
		return guest_enc_fail(e, "DQBUF CAPTURE");
	if (guest_enc_dqbuf(e, OUT, V4L2_MEMORY_DMABUF, POLLOUT, &out))
		return guest_enc_fail(e, "DQBUF OUTPUT");
	if ((cap.flags | out.flags) & V4L2_BUF_FLAG_ERROR || !cap.bytesused) {
		errno = EIO;
		return guest_enc_fail(e, "a buffer came back with an error");
	}
	*index = out.index;
	return 0;
}

void guest_enc_close(struct guest_enc *e)
{
	enum v4l2_buf_type type;

	if (e->fd < 0)
		return;
	type = OUT;
	ioctl(e->fd, VIDIOC_STREAMOFF, &type);
	/* Frees vb2's buffers: the last dma-buf is detached and put. */
	guest_enc_reqbufs(e, OUT, V4L2_MEMORY_DMABUF, 0);
	if (e->kind == GUEST_VICODEC) {
		type = CAP;
		ioctl(e->fd, VIDIOC_STREAMOFF, &type);
		if (e->cap != MAP_FAILED)
			munmap(e->cap, e->cap_len);
		guest_enc_reqbufs(e, CAP, V4L2_MEMORY_MMAP, 0);
	}
	close(e->fd);
	e->fd = -1;
}
