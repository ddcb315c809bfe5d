// SPDX-License-Identifier: MIT
/* PASS/FAIL lines and their count: see result.h. */
#include <stdarg.h>
#include <stdio.h>

#include "result.h"

unsigned int result_passed, result_failed;

void result(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s ", ok ? "PASS" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (ok)
		result_passed++;
	else
		result_failed++;
}

int result_summary(unsigned int more)
{
	printf("%u passed, %u failed\n", result_passed, result_failed + more);
	fflush(stdout);
	return result_failed + more ? 1 : 0;
}
