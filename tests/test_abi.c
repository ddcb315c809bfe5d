// SPDX-License-Identifier: MIT
/*
 * Binary compatibility: programs linked against wcpool 0.1 to 0.3 call
 * wcp_pool_create@WCPOOL_0.1 and wcp_pool_info@WCPOOL_0.1 with the structs
 * of that time (32-byte options, 40-byte info).  Here those versions are
 * looked up as such a program's references are bound (dlvsym), called with
 * copies of the old layouts that end where a PROT_NONE page begins, so a
 * read or write of one byte past the old struct faults, and what they make
 * and report is compared with the new versions'.  Run on the memfd backend
 * here and against wcpool.ko by tests/kernel/lib-suite.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "helpers.h"

/* struct wcp_pool_options of wcpool 0.3 (include/wcpool.h then). */
struct old_options {
	uint32_t backend;
	uint32_t policy;
	uint64_t page_size;
	uint64_t max_size;
	uint32_t flags;
	uint32_t addr_bits;
};

/* struct wcp_pool_info of wcpool 0.3. */
struct old_info {
	uint32_t backend;
	uint32_t policy;
	uint64_t page_size;
	uint64_t max_size;
	void *base;
	bool imported;
	bool read_only;
	uint32_t export_path;
};

_Static_assert(sizeof(struct old_options) == 32, "0.3 options: 32 bytes");
_Static_assert(sizeof(struct old_info) == 40, "0.3 info: 40 bytes (LP64)");

typedef int old_create_fn(const struct old_options *o, struct wcp_pool **p);
typedef int old_info_fn(const struct wcp_pool *p, struct old_info *i);

static old_create_fn *old_create;
static old_info_fn *old_info;
static char *area;	/* a read-write page, then a PROT_NONE page */
static size_t page;

static void setup(void)
{
	page = (size_t)sysconf(_SC_PAGESIZE);
	old_create = (old_create_fn *)dlvsym(RTLD_DEFAULT, "wcp_pool_create",
					     "WCPOOL_0.1");
	old_info = (old_info_fn *)dlvsym(RTLD_DEFAULT, "wcp_pool_info",
					 "WCPOOL_0.1");
	cr_assert_not_null(old_create, "no wcp_pool_create@WCPOOL_0.1");
	cr_assert_not_null(old_info, "no wcp_pool_info@WCPOOL_0.1");
	area = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(area, MAP_FAILED);
	cr_assert_eq(mprotect(area + page, page, PROT_NONE), 0);
}

static void teardown(void)
{
	munmap(area, 2 * page);
}

TestSuite(abi, .init = setup, .fini = teardown);

/* An old struct whose last byte is the last before the guard page. */
static void *at_guard(size_t size)
{
	char *p = area + page - size;

	memset(area, 0xa5, page - size);
	memset(p, 0, size);
	return p;
}

/* The bytes in front of the struct at the guard are untouched. */
static void assert_front_untouched(size_t size)
{
	for (size_t i = 0; i < page - size; i++)
		cr_assert_eq((unsigned char)area[i], 0xa5, "byte %zu before", i);
}

/*
 * The defaults are the 0.4 versions (what this program, built against
 * the new header, was linked to), and the old ones are other functions.
 */
Test(abi, default_versions_are_0_4)
{
	void *create4 = dlvsym(RTLD_DEFAULT, "wcp_pool_create", "WCPOOL_0.4");
	void *info4 = dlvsym(RTLD_DEFAULT, "wcp_pool_info", "WCPOOL_0.4");

	cr_assert_not_null(create4);
	cr_assert_not_null(info4);
	cr_assert_eq(dlsym(RTLD_DEFAULT, "wcp_pool_create"), create4);
	cr_assert_eq(dlsym(RTLD_DEFAULT, "wcp_pool_info"), info4);
	cr_assert_neq((void *)old_create, create4);
	cr_assert_neq((void *)old_info, info4);
	cr_assert_gt(sizeof(struct wcp_pool_options), sizeof(struct old_options));
	cr_assert_gt(sizeof(struct wcp_pool_info), sizeof(struct old_info));
}

/*
 * An old program's pool: made from the 32 old bytes alone, reported in
 * the 40 old bytes alone, and the same pool the new calls describe.
 */
Test(abi, old_create_and_info_stay_inside_the_old_structs)
{
	struct old_options *o = at_guard(sizeof(*o));
	struct wcp_pool_info now;
	struct old_info *oi;
	struct wcp_pool *p = NULL;
	char *buf;

	o->max_size = 64 * MiB;
	o->flags = WCP_POOL_ALLOW_WB_FALLBACK;
	o->policy = WCP_POLICY_WC;
	cr_assert_eq(old_create(o, &p), 0);
	cr_assert_not_null(p);
	assert_front_untouched(sizeof(*o));
	buf = wcp_malloc(p, 5000);
	cr_assert_not_null(buf);
	memset(buf, 1, 5000);

	oi = at_guard(sizeof(*oi));
	cr_assert_eq(old_info(p, oi), 0);
	assert_front_untouched(sizeof(*oi));
	cr_assert_eq(wcp_pool_info(p, &now), 0);
	cr_assert_eq(oi->backend, now.backend);
	cr_assert_eq(oi->policy, now.policy);
	cr_assert_eq(oi->page_size, now.page_size);
	cr_assert_eq(oi->max_size, now.max_size);
	cr_assert_eq(oi->max_size, 64 * MiB);
	cr_assert_eq(oi->base, now.base);
	cr_assert_eq(oi->imported, now.imported);
	cr_assert_eq(oi->read_only, now.read_only);
	cr_assert_eq(oi->export_path, now.export_path);
	cr_assert_eq(now.contig_size, 0, "an old program's pool has no runs");
	cr_assert(wcp_owns(p, buf));
	wcp_free(p, buf);
	wcp_pool_destroy(p);
}

/* Every old field still counts: the old version is no stub. */
Test(abi, old_create_reads_every_old_field)
{
	struct old_options *o = at_guard(sizeof(*o));
	struct wcp_pool *p = (struct wcp_pool *)1;
	struct old_info *oi;

	o->backend = 9;
	cr_assert_eq(old_create(o, &p), -EINVAL);
	cr_assert_null(p);
	o = at_guard(sizeof(*o));
	o->policy = 9;
	cr_assert_eq(old_create(o, &p), -EINVAL);
	o = at_guard(sizeof(*o));
	o->page_size = 8192;
	cr_assert_eq(old_create(o, &p), -EINVAL);
	o = at_guard(sizeof(*o));
	o->max_size = UINT64_MAX;
	cr_assert_eq(old_create(o, &p), -EINVAL);
	o = at_guard(sizeof(*o));
	o->flags = 1u << 7;
	cr_assert_eq(old_create(o, &p), -EINVAL);
	o = at_guard(sizeof(*o));
	o->addr_bits = 23;
	cr_assert_eq(old_create(o, &p), -EINVAL);
	/* The memfd backend cannot place pages: the field was passed on. */
	o = at_guard(sizeof(*o));
	o->backend = WCP_BACKEND_MEMFD;
	o->addr_bits = 30;
	cr_assert_eq(old_create(o, &p), -EOPNOTSUPP);
	o = at_guard(sizeof(*o));
	o->backend = WCP_BACKEND_MEMFD;
	o->page_size = WCP_PAGE_4K;
	o->max_size = 8 * MiB;
	cr_assert_eq(old_create(o, &p), 0);
	oi = at_guard(sizeof(*oi));
	cr_assert_eq(old_info(p, oi), 0);
	cr_assert_eq(oi->backend, WCP_BACKEND_MEMFD);
	cr_assert_eq(oi->page_size, WCP_PAGE_4K);
	cr_assert_eq(oi->max_size, 8 * MiB);
	wcp_pool_destroy(p);
}

/* NULL options (all defaults) and NULL arguments, as before. */
Test(abi, old_versions_take_null_as_before)
{
	struct old_info *oi = at_guard(sizeof(*oi));
	struct wcp_pool *p = NULL;

	cr_assert_eq(old_create(NULL, NULL), -EINVAL);
	cr_assert_eq(old_create(NULL, &p), 0);
	cr_assert_eq(old_info(NULL, oi), -EINVAL);
	cr_assert_eq(old_info(p, NULL), -EINVAL);
	cr_assert_eq(old_info(p, oi), 0);
	cr_assert_eq(oi->max_size, WCP_DEFAULT_MAX_SIZE);
	wcp_pool_destroy(p);
}

/* An imported view through the old info: the same 40 bytes. */
Test(abi, old_info_of_an_imported_view)
{
	struct wcp_pool *p = make_pool(0, 16 * MiB), *view = NULL;
	struct wcp_pool_share share;
	struct old_info *oi;
	int fd = wcp_pool_export(p, 0, &share);

	cr_assert_geq(fd, 0);
	cr_assert_eq(wcp_pool_import(fd, &share, 0, &view), 0);
	close(fd);
	oi = at_guard(sizeof(*oi));
	cr_assert_eq(old_info(view, oi), 0);
	assert_front_untouched(sizeof(*oi));
	cr_assert(oi->imported);
	cr_assert_eq(oi->max_size, 16 * MiB);
	wcp_pool_destroy(view);
	wcp_pool_destroy(p);
}
