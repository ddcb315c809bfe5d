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

/*
 * The stream threshold measured on this machine's CPU model (SIZE_MAX:
 * streaming never won): true if the tune file exists, parses and names
 * this CPU; else false and *@threshold is left alone.
 */
bool wcpi_tune_stream_threshold(size_t *threshold);

/* This CPU's model name (/proc/cpuinfo), into @buf; false if unknown. */
bool wcpi_tune_cpu_model(char *buf, size_t len);

#endif
