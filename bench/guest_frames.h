/* SPDX-License-Identifier: MIT */
/*
 * guest-frames' parts (bench/guest_*.c): the ioctl count, the vicodec
 * encoder that takes frames as dma-bufs, and the frame loop through it.
 */
#ifndef WCPOOL_BENCH_GUEST_FRAMES_H
#define WCPOOL_BENCH_GUEST_FRAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "wcpool.h"

/* guest_ioctl.c: every ioctl(2) of this process, libwcpool's included. */
unsigned long guest_ioctls(void);

/* guest_importer.c: a V4L2 device that takes frames as dma-bufs on its
 * OUTPUT queue (one buffer): vicodec's stateful encoder (and one MMAP
 * CAPTURE buffer for its stream), or vivid's video output. */
enum guest_importer { GUEST_VICODEC, GUEST_VIVID };

extern const char *const guest_importer_names[];

struct guest_enc {
	enum guest_importer kind;
	unsigned int depth;	/* buffers queued before one is dequeued */
	int fd;
	unsigned int width, height;
	size_t raw_size;	/* the OUTPUT plane's sizeimage */
	void *cap;		/* the CAPTURE buffer's mapping */
	size_t cap_len;
};

int guest_enc_open(struct guest_enc *e, enum guest_importer kind,
		   unsigned int width, unsigned int height);
/* Queue dma-buf @dmabuf of @len bytes as OUTPUT buffer @index (and for
 * vicodec a CAPTURE buffer): 0, or -1 with a message on stderr. */
int guest_enc_queue(struct guest_enc *e, unsigned int index, int dmabuf,
		    size_t len);
/* Wait for the oldest OUTPUT buffer (and vicodec's CAPTURE buffer) and
 * dequeue it: its @index.  0, or -1 with a message on stderr. */
int guest_enc_dequeue(struct guest_enc *e, unsigned int *index);
void guest_enc_close(struct guest_enc *e);

/* The hand-off modes of the frame loop (guest_loop.c). */
enum guest_mode {
	GUEST_REUSE,		/* frame kept registered; registered again */
	GUEST_REREGISTER,	/* frame kept; unregistered after each */
	GUEST_NEW,		/* allocated, registered, freed each */
};

extern const char *const guest_mode_names[];

/*
 * Through importer @kind at @width x @height, after a few cycles
 * ("cold"), @n cycles ("warm") of: (allocate,) fill, wcp_register,
 * encode, (wcp_unregister, free), in @mode, on a new WC pool; prints a
 * JSON row of counts per frame for each phase.  Return: 0, or -1 (a
 * message on stderr, no row).
 */
int guest_loop(const char *kernel, enum guest_importer kind,
	       unsigned int width, unsigned int height, enum guest_mode mode,
	       unsigned int n);

#endif
