/* SPDX-License-Identifier: MIT */
/*
 * Invariant checks: compiled into debug builds (configure --enable-debug)
 * and sanitizer builds (CI's ASan pass), out of release builds; misuse
 * reports in every build (check.c, a leaf every file may call).
 */
#ifndef WCPOOL_INTERNAL_CHECK_H
#define WCPOOL_INTERNAL_CHECK_H

struct wcp_pool;

/* Report misuse of the API (a bad pointer, a pool after fork) and abort. */
void wcpi_misuse(const char *fn, const char *what, const struct wcp_pool *pool,
		 const void *ptr) __attribute__((noreturn, cold));

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
