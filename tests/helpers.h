/* SPDX-License-Identifier: MIT */
/* Shared helpers of the libwcpool test programs. */
#ifndef WCPOOL_TESTS_HELPERS_H
#define WCPOOL_TESTS_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hugepages.h"
#include "wcpool.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)

/* The policy WCPOOL_TEST_POLICY (wc, uc, wb) names; unset: default. */
uint32_t test_policy(void);
/* Create a pool or fail the test; page_size/max_size 0 mean defaults. */
struct wcp_pool *make_pool(uint64_t page_size, uint64_t max_size);
/*
 * @p, as a copy the compiler does not connect to it: taken before a free,
 * for tests that use the freed pointer on purpose (GCC follows wcp_free()
 * through wcpool.h's attributes and rejects any later use of @p).
 */
void *alias_of(void *p);
/* Mappings (lines of /proc/self/maps) that overlap [@lo, @hi). */
int count_mappings(const void *lo, const void *hi);
/* Open fds of this process. */
int count_fds(void);
/* Fill @len bytes at @p with a pattern derived from @seed. */
void fill_pattern(void *p, size_t len, unsigned seed);
/* True if @len bytes at @p hold the pattern of @seed. */
bool check_pattern(const void *p, size_t len, unsigned seed);
/* True if all @len bytes at @p are zero. */
bool all_zero(const void *p, size_t len);

/*
 * Run @fn(@arg) in a copy of this process (made without fork()'s atfork
 * handlers, so libwcpool treats it as the same process) and assert that
 * it dies of SIGABRT after printing a line containing @message on stderr.
 */
void expect_abort(void (*fn)(void *), void *arg, const char *message);
/* The same in a real fork() child, which libwcpool knows is one. */
void expect_abort_after_fork(void (*fn)(void *), void *arg,
			     const char *message);

#endif
