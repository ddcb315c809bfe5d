/* SPDX-License-Identifier: MIT */
/*
 * wcpool.ko's debugfs counters (/sys/kernel/debug/wcpool/stats, one
 * "name value" line each), for the in-guest tests, vicodec-pool and
 * bench/guest-frames.
 */
#ifndef WCPOOL_GUEST_STAT_H
#define WCPOOL_GUEST_STAT_H

#define WCPOOL_STATS "/sys/kernel/debug/wcpool/stats"

/* The counter @name, -1 if it cannot be read. */
long stat_get(const char *name);

/*
 * The counters @names[0..n-1] into @vals from one read of the file (one
 * consistent snapshot per line, fewer reads than stat_get() each).
 * Return: 0, or -1 if the file cannot be read or a name is missing.
 */
int stat_get_many(const char *const *names, long *vals, int n);

#endif
