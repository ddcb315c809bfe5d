// SPDX-License-Identifier: MIT
/*
 * perf_event_open counters of the calling thread and the threads it starts
 * (inherit).  Hardware counters need a PMU, which VMs often lack: they are
 * then reported "not available" with the reason; software ones always work.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

static const struct {
	const char *name;
	uint32_t type;
	uint64_t config;
} perf_events[PERF_NCOUNTERS] = {
	[PERF_TASK_CLOCK] = { "task-clock-ns", PERF_TYPE_SOFTWARE,
			      PERF_COUNT_SW_TASK_CLOCK },
	[PERF_PAGE_FAULTS] = { "page-faults", PERF_TYPE_SOFTWARE,
			       PERF_COUNT_SW_PAGE_FAULTS },
	[PERF_CONTEXT_SWITCHES] = { "context-switches", PERF_TYPE_SOFTWARE,
				    PERF_COUNT_SW_CONTEXT_SWITCHES },
	[PERF_CYCLES] = { "cycles", PERF_TYPE_HARDWARE,
			  PERF_COUNT_HW_CPU_CYCLES },
	[PERF_INSTRUCTIONS] = { "instructions", PERF_TYPE_HARDWARE,
				PERF_COUNT_HW_INSTRUCTIONS },
	[PERF_DTLB_MISSES] = { "dTLB-load-misses", PERF_TYPE_HW_CACHE,
			       PERF_COUNT_HW_CACHE_DTLB |
				       (PERF_COUNT_HW_CACHE_OP_READ << 8) |
				       (PERF_COUNT_HW_CACHE_RESULT_MISS << 16) },
	[PERF_LLC_MISSES] = { "LLC-misses", PERF_TYPE_HARDWARE,
			      PERF_COUNT_HW_CACHE_MISSES },
};

static int perf_fd[PERF_NCOUNTERS] = { -1, -1, -1, -1, -1, -1, -1 };
_Static_assert(PERF_NCOUNTERS == 7, "perf_fd's initialiser lists one -1 per counter");
static char perf_why[PERF_NCOUNTERS][96];

const char *perf_name(int i)
{
	return perf_events[i].name;
}

const char *perf_status(int i)
{
	return perf_why[i][0] ? perf_why[i] : NULL;
}

void perf_open(void)
{
	for (int i = 0; i < PERF_NCOUNTERS; i++) {
		struct perf_event_attr a = {
			.size = sizeof(a),
			.type = perf_events[i].type,
			.config = perf_events[i].config,
			.inherit = 1,
			.exclude_hv = 1,
		};
		long fd;

		if (perf_fd[i] >= 0)
			continue;
		fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
		if (fd < 0 && (errno == EACCES || errno == EPERM)) {
			a.exclude_kernel = 1;
			fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
		}
		if (fd < 0) {
			snprintf(perf_why[i], sizeof(perf_why[i]),
				 "not available: %s", strerror(errno));
			continue;
		}
		perf_fd[i] = (int)fd;
	}
}

void perf_close(void)
{
	for (int i = 0; i < PERF_NCOUNTERS; i++) {
		if (perf_fd[i] >= 0)
			close(perf_fd[i]);
		perf_fd[i] = -1;
	}
}

void perf_read(struct perf_values *pv)
{
	for (int i = 0; i < PERF_NCOUNTERS; i++) {
		uint64_t v;

		pv->valid[i] = perf_fd[i] >= 0 &&
			       read(perf_fd[i], &v, sizeof(v)) == sizeof(v);
		pv->v[i] = pv->valid[i] ? v : 0;
	}
}

void perf_diff(struct perf_values *d, const struct perf_values *a,
	       const struct perf_values *b)
{
	for (int i = 0; i < PERF_NCOUNTERS; i++) {
		d->valid[i] = a->valid[i] && b->valid[i];
		d->v[i] = d->valid[i] ? b->v[i] - a->v[i] : 0;
	}
}
