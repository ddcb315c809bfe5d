// SPDX-License-Identifier: MIT
/*
 * Linking libwcpool leaves the application's malloc alone: jemalloc is in
 * the process (the pool arenas run on it) but malloc and friends still
 * resolve to glibc, so no pointer from one can reach the other's free.
 */

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

/* Where @name resolves for the executable: never jemalloc or libwcpool. */
static void assert_not_jemalloc(const char *name)
{
	void *sym = dlsym(RTLD_DEFAULT, name);
	Dl_info where;

	cr_assert_not_null(sym, "%s not found", name);
	cr_assert_neq(dladdr(sym, &where), 0);
	cr_assert_null(strstr(where.dli_fname, "jemalloc"), "%s comes from %s",
		       name, where.dli_fname);
	cr_assert_null(strstr(where.dli_fname, "wcpool"), "%s comes from %s",
		       name, where.dli_fname);
}

Test(process_malloc, jemalloc_is_loaded_but_not_the_process_malloc)
{
	struct wcp_pool *pool = make_pool(0, 0);
	void *p = wcp_malloc(pool, 100);

	cr_assert_not_null(dlopen("libjemalloc.so.2", RTLD_NOW | RTLD_NOLOAD),
			   "jemalloc is loaded");
	assert_not_jemalloc("malloc");
	assert_not_jemalloc("free");
	assert_not_jemalloc("calloc");
	assert_not_jemalloc("realloc");
	assert_not_jemalloc("posix_memalign");
	assert_not_jemalloc("aligned_alloc");
	assert_not_jemalloc("malloc_usable_size");
	wcp_free(pool, p);
	wcp_pool_destroy(pool);
}

/* Bytes this thread allocated through jemalloc so far. */
static uint64_t jemalloc_thread_allocated(void)
{
	void *je = dlopen("libjemalloc.so.2", RTLD_NOW | RTLD_NOLOAD);
	int (*ctl)(const char *, void *, size_t *, void *, size_t);
	uint64_t v = 0;
	size_t len = sizeof(v);

	cr_assert_not_null(je);
	*(void **)&ctl = dlsym(je, "mallctl");
	cr_assert_not_null(ctl);
	cr_assert_eq(ctl("thread.allocated", &v, &len, NULL, 0), 0);
	return v;
}

/*
 * Debian's libjemalloc also defines C++'s operator new and delete.  In a C
 * program linked with libwcpool, libstdc++ arrives as jemalloc's
 * dependency, after it in the lookup order, so the operators came from
 * jemalloc: C++ libraries loaded later (GStreamer's taglib plugin) then
 * freed jemalloc's blocks with glibc's free() and aborted.  libwcpool
 * keeps libstdc++ ahead of jemalloc, so the operators are libstdc++'s.
 */
Test(process_malloc, cxx_operators_are_not_jemalloc)
{
	static const char *const ops[] = {
		"_Znwm", "_Znam", "_ZdlPv", "_ZdaPv", "_ZdlPvm",
		"_ZnwmRKSt9nothrow_t", "_ZnwmSt11align_val_t",
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		assert_not_jemalloc(ops[i]);
}

Test(process_malloc, process_malloc_never_reaches_jemalloc)
{
	struct wcp_pool *pool = make_pool(0, 0);
	uint64_t before = jemalloc_thread_allocated();
	void *heap = malloc(100000), *p;

	cr_assert_not_null(heap);
	cr_assert_lt(jemalloc_thread_allocated() - before, 100000,
		     "malloc() went through jemalloc");
	/* The measure works: a pool allocation does show up. */
	p = wcp_malloc(pool, 100000);
	cr_assert_geq(jemalloc_thread_allocated() - before, 100000);
	cr_assert_not(wcp_owns(pool, heap));
	cr_assert(wcp_owns(pool, p));
	free(heap);
	wcp_free(pool, p);
	wcp_pool_destroy(pool);
}
