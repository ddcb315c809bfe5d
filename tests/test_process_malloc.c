// SPDX-License-Identifier: MIT
/*
 * Linking libwcpool leaves the application's malloc alone: jemalloc is in
 * the process (the pool arenas run on it) but malloc and friends still
 * resolve to glibc, so no pointer from one can reach the other's free.
 */

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static void assert_from_libc(const char *name)
{
	void *sym = dlsym(RTLD_DEFAULT, name);
	Dl_info where;

	cr_assert_not_null(sym, "%s not found", name);
	cr_assert_neq(dladdr(sym, &where), 0);
	cr_assert_not_null(strstr(where.dli_fname, "libc.so"),
			   "%s comes from %s", name, where.dli_fname);
}

Test(process_malloc, jemalloc_is_loaded_but_not_the_process_malloc)
{
	struct wcp_pool *pool = make_pool(0, 0);
	void *p = wcp_malloc(pool, 100);

	cr_assert_not_null(dlopen("libjemalloc.so.2", RTLD_NOW | RTLD_NOLOAD),
			   "jemalloc is loaded");
	assert_from_libc("malloc");
	assert_from_libc("free");
	assert_from_libc("calloc");
	assert_from_libc("realloc");
	assert_from_libc("posix_memalign");
	assert_from_libc("aligned_alloc");
	assert_from_libc("malloc_usable_size");
	wcp_free(pool, p);
	wcp_pool_destroy(pool);
}

Test(process_malloc, glibc_heap_and_pool_stay_apart)
{
	struct wcp_pool *pool = make_pool(0, 0);
	struct mallinfo2 before = mallinfo2(), after;
	void *heap = malloc(100000), *p = wcp_malloc(pool, 100000);

	after = mallinfo2();
	/* glibc accounted its own block (heap or mmap), not the pool's. */
	cr_assert_geq(after.uordblks + after.hblkhd,
		      before.uordblks + before.hblkhd + 100000);
	cr_assert_lt(after.uordblks + after.hblkhd,
		     before.uordblks + before.hblkhd + 200000);
	cr_assert_not(wcp_owns(pool, heap));
	cr_assert(wcp_owns(pool, p));
	free(heap);
	wcp_free(pool, p);
	wcp_pool_destroy(pool);
}
