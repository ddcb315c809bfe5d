// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool's counters (current values) and running totals: updated by
 * every part of the module, shown by wcpool_stats.c in debugfs.  Kept
 * apart from the debugfs code, which reads pools and pages, so that the
 * files that count call nothing back.
 */
#include "wcpool.h"

struct wcpool_stats wcpool_stats;
struct wcpool_totals wcpool_totals;
