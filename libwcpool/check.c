// SPDX-License-Identifier: MIT
/*
 * What the library does when a check fails: misuse of the API (every
 * build) and a broken invariant (checked builds).  A leaf: every layer
 * may report through it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "lock.h"

void wcpi_misuse(const char *fn, const char *what, const struct wcp_pool *pool,
		 const void *ptr)
{
	fprintf(stderr, "wcpool: %s(): %s %p (pool %p)\n", fn, what, ptr,
		(const void *)pool);
	abort();
}

#if WCPI_CHECKS
void wcpi_assert_fail(const char *expr, const char *file, int line)
{
	fprintf(stderr, "wcpool: %s:%d: assertion failed: %s\n", file, line,
		expr);
	abort();
}
#endif

#if WCPI_CHECKS
_Thread_local unsigned wcpi_locks_held __attribute__((tls_model("initial-exec")));
#endif
