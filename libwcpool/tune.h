/* SPDX-License-Identifier: MIT */
/*
 * The machine's measured fill/copy choice (tune.c): the file wcpool-tune
 * writes, read once.
 */
#ifndef WCPOOL_INTERNAL_TUNE_H
#define WCPOOL_INTERNAL_TUNE_H

#include <stdbool.h>
#include <stddef.h>

/* Where wcpool-tune writes and the library reads, unless WCPOOL_TUNE_FILE. */
#define WCPI_TUNE_FILE "/var/lib/wcpool/tune"

/* The tune file's keys, in bytes ("never": SIZE_MAX) */
/* wcp_fill/wcp_copy stream from here on into write-back memory */
#define WCPI_TUNE_STREAM "stream_threshold"
/*
 * wcp_fill's ordinary stores: bit i set, memset() for sizes in
 * [WCPI_FILL_BUCKET0 << i, WCPI_FILL_BUCKET0 << (i + 1)), vector stores
 * where clear; the last bit covers every larger size too, smaller sizes
 * take vector stores.
 */
#define WCPI_TUNE_FILL_MEMSET "fill_memset_mask"
#define WCPI_FILL_BUCKET0 ((size_t)64 << 10)
#define WCPI_FILL_BUCKETS 14	/* 64 KiB to 512 MiB */

/*
 * The value of @key measured on this machine's CPU model: true if the tune
 * file exists, names this CPU and has a valid @key line; else false and
 * *@value is left alone.
 */
bool wcpi_tune_value(const char *key, size_t *value);

/* Ordinary vector stores whatever the size (fill.c), for wcpool-tune. */
void wcpi_fill_vector(void *dst, int c, size_t len);

/* This CPU's model name (/proc/cpuinfo), into @buf; false if unknown. */
bool wcpi_tune_cpu_model(char *buf, size_t len);

#endif
