/* SPDX-License-Identifier: MIT */
/*
 * Invariant checks: compiled into debug builds (configure --enable-debug)
 * and sanitizer builds (CI's ASan pass), out of release builds.
 */
#ifndef WCPOOL_INTERNAL_CHECK_H
#define WCPOOL_INTERNAL_CHECK_H

#if defined(WCPOOL_DEBUG) || defined(__SANITIZE_ADDRESS__)
#define WCPI_CHECKS 1
void wcpi_assert_fail(const char *expr, const char *file, int line)
	__attribute__((noreturn, cold));
#define WCPI_ASSERT(x) \
	((x) ? (void)0 : wcpi_assert_fail(#x, __FILE__, __LINE__))
#else
#define WCPI_CHECKS 0
/* Not evaluated, but still compiled: names in it stay checked. */
#define WCPI_ASSERT(x) ((void)sizeof(!(x)))
#endif

#endif
