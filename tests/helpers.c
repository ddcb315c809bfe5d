// SPDX-License-Identifier: MIT
#include <criterion/criterion.h>
#include <stdio.h>

#include "helpers.h"

struct wcp_pool *make_pool(uint64_t page_size, uint64_t max_size)
{
	struct wcp_pool_options o = { .page_size = page_size,
				      .max_size = max_size };
	struct wcp_pool *pool = NULL;
	int err = wcp_pool_create(&o, &pool);

	cr_assert_eq(err, 0, "wcp_pool_create: %d", err);
	cr_assert_not_null(pool);
	return pool;
}

long free_hugepages(void)
{
	FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "r");
	long n = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%ld", &n) != 1)
		n = 0;
	fclose(f);
	return n;
}

static unsigned char pattern_byte(size_t i, unsigned seed)
{
	return (unsigned char)((i * 2654435761u) >> 13 ^ seed);
}

void fill_pattern(void *p, size_t len, unsigned seed)
{
	unsigned char *c = p;

	for (size_t i = 0; i < len; i++)
		c[i] = pattern_byte(i, seed);
}

bool check_pattern(const void *p, size_t len, unsigned seed)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < len; i++)
		if (c[i] != pattern_byte(i, seed))
			return false;
	return true;
}

bool all_zero(const void *p, size_t len)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < len; i++)
		if (c[i])
			return false;
	return true;
}
