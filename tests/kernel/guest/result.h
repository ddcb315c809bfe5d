/* SPDX-License-Identifier: MIT */
/*
 * PASS/FAIL lines of programs that count their own checks (wcpool-fuzz,
 * vicodec-pool) and end with "N passed, N failed" (lib.sh's count_all
 * reads them).
 */
#ifndef WCPOOL_GUEST_RESULT_H
#define WCPOOL_GUEST_RESULT_H

#include <stdbool.h>

extern unsigned int result_passed, result_failed;

/* Prints "PASS <fmt...>" or "FAIL <fmt...>" and counts it. */
void result(bool ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prints "N passed, N failed" with @more failures added; 1 if any. */
int result_summary(unsigned int more);

#endif
