// SPDX-License-Identifier: MIT
/*
 * A default pool keeps working once the system's reserved huge pages run
 * out: it goes on in ordinary pages (stats say how much), with one offset
 * space and both parts shared; a pool asked for huge pages stays strict.
 * Taking every free huge page disturbs whatever else runs, so the real
 * check runs where the machine is the test's alone: the QEMU suites
 * (lib-suite sets WCPOOL_TEST_EXCLUSIVE=1 and runs one program at a time).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

/* Take every free 2 MiB huge page; the fd holds them. */
static int take_all_huge_pages(void)
{
	int fd = memfd_create("hog", MFD_HUGETLB | MFD_CLOEXEC);
	off_t off = 0;

	cr_assert_geq(fd, 0);
	while (!fallocate(fd, 0, off, (off_t)WCP_PAGE_2M))
		off += (off_t)WCP_PAGE_2M;
	cr_assert_eq(free_hugepages(), 0);
	return fd;
}

Test(spill, a_default_pool_spills_to_small_pages, .timeout = 300)
{
	struct wcp_pool_options o = { .backend = WCP_BACKEND_MEMFD };
	struct wcp_pool_options strict = { .backend = WCP_BACKEND_MEMFD,
					   .page_size = WCP_PAGE_2M };
	enum { FRAMES = 6, SMALL = 2000 };
	struct wcp_pool *pool, *view, *other;
	unsigned char *frame[FRAMES], *small[SMALL], *q;
	struct wcp_pool_stats st;
	struct wcp_pool_info info;
	int hog, sv[2];

	cr_assert_eq(wcp_pool_create(&o, &pool), 0);
	cr_assert_eq(wcp_pool_info(pool, &info), 0);
	if (info.page_size == WCP_PAGE_4K) {
		/* No huge pages to begin with: ordinary pages, nothing spills. */
		cr_assert_eq(wcp_pool_stats(pool, &st), 0);
		cr_assert_eq(st.spilled, 0);
		wcp_pool_destroy(pool);
		cr_skip_test("no free huge pages here, so nothing to run out of");
	}
	if (!getenv("WCPOOL_TEST_EXCLUSIVE"))
		cr_skip_test("takes every huge page: the QEMU suites run it (WCPOOL_TEST_EXCLUSIVE=1)");
	hog = take_all_huge_pages();
	/* An explicit huge page size never falls back. */
	cr_assert_eq(wcp_pool_create(&strict, &other), -ENOMEM);

	for (int i = 0; i < FRAMES; i++) {
		frame[i] = wcp_malloc(pool, 3 * MiB);
		cr_assert_not_null(frame[i], "frame %d: errno %d", i, errno);
		fill_pattern(frame[i], 3 * MiB, (unsigned)i);
	}
	for (int i = 0; i < SMALL; i++) {
		small[i] = wcp_malloc(pool, 200);
		cr_assert_not_null(small[i], "block %d: errno %d", i, errno);
		cr_assert(wcp_owns(pool, small[i]));
		memset(small[i], i & 0xff, 200);
	}
	cr_assert_eq(wcp_pool_stats(pool, &st), 0);
	cr_assert_gt(st.spilled, 3 * MiB, "spilled %lu", (unsigned long)st.spilled);
	cr_assert_eq(st.allocations, FRAMES + SMALL);
	/* One offset space: spilled blocks sit past max_size. */
	cr_assert_geq(wcp_offset(pool, frame[0]), info.max_size);
	for (int i = 0; i < FRAMES; i++)
		cr_assert_eq(wcp_pointer(pool, wcp_offset(pool, frame[i])),
			     frame[i]);
	/* Both parts go to another process's view. */
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(wcp_pool_send(pool, sv[0], 0), 0);
	cr_assert_eq(wcp_pool_recv(sv[1], 0, &view), 0);
	q = wcp_pointer(view, wcp_offset(pool, frame[2]));
	cr_assert_not_null(q);
	cr_assert_neq(q, frame[2]);
	cr_assert(check_pattern(q, 3 * MiB, 2), "the view sees the spilled bytes");
	wcp_pool_destroy(view);
	close(sv[0]);
	close(sv[1]);
	/* Spilled blocks grow and go like any other. */
	frame[0] = wcp_realloc(pool, frame[0], 5 * MiB);
	cr_assert_not_null(frame[0]);
	cr_assert(check_pattern(frame[0], 3 * MiB, 0));
	cr_assert_geq(wcp_usable_size(pool, frame[0]), 5 * MiB);
	for (int i = 0; i < FRAMES; i++)
		wcp_free(pool, frame[i]);
	for (int i = 0; i < SMALL; i++)
		wcp_free(pool, small[i]);
	cr_assert_eq(wcp_pool_trim(pool), 0);
	cr_assert_eq(wcp_pool_stats(pool, &st), 0);
	cr_assert_eq(st.allocations, 0);
	close(hog);
	wcp_pool_destroy(pool);
}
