/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the in-guest programs share: checks in kselftest's style, the test
 * runner, and the module's counter (stat.h) and kernel log checks.
 *
 * ASSERT(cond) and ASSERT_ERR(expr, e) report a failure and end the test:
 * for steps that later ones depend on.  EXPECT(cond) and EXPECT_ERR(expr, e)
 * report it, mark the test failed and go on: for independent checks, so
 * that one run shows every one that fails.  *_ERR: expr returns -1 with
 * errno e.  A failed EXPECT counts in the test's own process: a child the
 * test forks must ASSERT (its exit status is the test's to check).
 */
#ifndef WCPOOL_GUEST_HARNESS_H
#define WCPOOL_GUEST_HARNESS_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "stat.h"

#define MB (1024UL * 1024)
#define HP (2 * MB)
#define STATS WCPOOL_STATS
#define POOLS "/sys/kernel/debug/wcpool/pools"
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

extern const char *cur_test;
extern unsigned int cur_failures;	/* failed EXPECTs of the running test */

#define CHECK_FAILED_(fatal)						\
	do {								\
		if (fatal)						\
			exit(1);					\
		cur_failures++;						\
	} while (0)

/* @text: the check as written (stringified before its macros expand). */
#define CHECK_(fatal, cond, text)					\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "  %s:%d: %s: check failed: %s (errno %d %s)\n", \
				__FILE__, __LINE__, cur_test, text,	\
				errno, strerror(errno));		\
			CHECK_FAILED_(fatal);				\
		}							\
	} while (0)

#define CHECK_ERR_(fatal, expr, e, text)				\
	do {								\
		errno = 0;						\
		long r_ = (long)(expr);					\
		if (r_ != -1 || errno != (e)) {				\
			fprintf(stderr, "  %s:%d: %s: %s returned %ld errno %d (%s), want -1 errno %d (%s)\n", \
				__FILE__, __LINE__, cur_test, text, r_,	\
				errno, strerror(errno), e, strerror(e)); \
			CHECK_FAILED_(fatal);				\
		}							\
	} while (0)

#define ASSERT(cond)		CHECK_(true, cond, #cond)
#define EXPECT(cond)		CHECK_(false, cond, #cond)
#define ASSERT_ERR(expr, e)	CHECK_ERR_(true, expr, e, #expr)
#define EXPECT_ERR(expr, e)	CHECK_ERR_(false, expr, e, #expr)

struct test {
	const char *name;
	void (*fn)(void);
};

/*
 * Runs the tests of @suites (tables ended by an entry without a name): all
 * of them, or those named in argv.  Each runs in its own child process;
 * after each, the module's counters must be back at zero and the kernel
 * log clean.  Prints "PASS name (N ms)" or "FAIL name (N ms)" per test,
 * then "N passed, N failed".  After a run of all tests it unloads the
 * module and checks that too, unless argv[1] is -k.
 */
int harness_main(int argc, char **argv, const struct test *const suites[]);

/* Prints each counter that is not back at 0 (waiting a while for the
 * deferred frees); returns how many. */
int counters_check(const char *what);
/* Start watching the kernel log (from now on). */
void kmsg_open(void);
/* Prints each bad kernel log line since the last call; returns how many. */
int kmsg_check(const char *what);

double now_s(void);

/* The physical address behind the user address @p (touched first): root
 * reads it from /proc/self/pagemap.  ASSERTs it is there. */
uint64_t phys_addr(const volatile void *p);

/* Does the kernel have function @name (or @name_noprof, 6.12)? */
bool kernel_has(const char *name);

/*
 * vgem, a DRM PRIME importer: the uapi structs and ioctls we use (to need
 * no libdrm), and vgem_open(): an fd of vgem's card, -1 if none.
 */
struct t_drm_version {
	int version_major, version_minor, version_patchlevel;
	size_t name_len;
	char *name;
	size_t date_len;
	char *date;
	size_t desc_len;
	char *desc;
};

struct t_drm_prime_handle {
	uint32_t handle;
	uint32_t flags;
	int32_t fd;
};

struct t_drm_gem_close {
	uint32_t handle;
	uint32_t pad;
};

#define T_DRM_IOCTL_VERSION		_IOWR('d', 0x00, struct t_drm_version)
#define T_DRM_IOCTL_GEM_CLOSE		_IOW('d', 0x09, struct t_drm_gem_close)
#define T_DRM_IOCTL_PRIME_FD_TO_HANDLE	_IOWR('d', 0x2e, struct t_drm_prime_handle)

int vgem_open(void);

#endif
