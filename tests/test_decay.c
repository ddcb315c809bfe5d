// SPDX-License-Identifier: MIT
/*
 * Freed frame pages stay committed on a decay: reused at once, released
 * once unused for WCPOOL_DECAY_MS, beyond WCPOOL_FRAME_CACHE bytes, when
 * fresh pages cannot be had while free ones are kept, and all of them on
 * wcp_pool_trim().  They are no longer released as soon as they exceed
 * twice what is live: frames of many sizes churned pages in most cycles.
 *
 * No assertion depends on how fast the machine is: what must stay is kept
 * with a decay time of an hour, and what must go has had its decay time.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

static struct wcp_pool *pool;
static int memory_lock = -1;

/*
 * Criterion runs these tests in parallel workers, and one of them takes
 * every huge page of the system: the others hold this lock shared, that
 * one exclusive, so that it runs alone (beside it, a test's first frame
 * failed with ENOMEM in the QEMU suite).  Read-only and 0644: another
 * user's make check can open it too (flock needs no write access).
 */
static void lock(int how)
{
	int err;

	while ((err = flock(memory_lock, how)) && errno == EINTR)
		;
	cr_assert_eq(err, 0, "flock: %s", strerror(errno));
}

static void share_memory(void)
{
	memory_lock = open("/dev/shm/wcpool-test_decay.lock",
			   O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
	cr_assert_geq(memory_lock, 0, "lock file: %s", strerror(errno));
	lock(LOCK_SH);
}

TestSuite(decay, .init = share_memory);

static void need_pages(long n)
{
	if (free_hugepages() < n)
		cr_skip_test("needs %ld free 2 MiB huge pages (./bootstrap "
			     "reserves them)", n);
}

/* A 2 MiB-page pool made after @decay and @cache are set (NULL: unset). */
static void make(const char *decay, const char *cache)
{
	if (decay)
		cr_assert_eq(setenv("WCPOOL_DECAY_MS", decay, 1), 0);
	if (cache)
		cr_assert_eq(setenv("WCPOOL_FRAME_CACHE", cache, 1), 0);
	pool = make_pool(WCP_PAGE_2M, 0);
}

static uint64_t resident(void)
{
	struct wcp_pool_stats st;

	cr_assert_eq(wcp_pool_stats(pool, &st), 0);
	return st.resident;
}

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, ms % 1000 * 1000000 };

	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

/*
 * Nothing live, 96 MiB freed: all of it stays committed (the old rule
 * kept at most 64 MiB), is reused without a new commit, and goes at trim.
 */
Test(decay, freed_pages_stay_beyond_twice_what_is_live)
{
	void *p[48];

	need_pages(64);
	make("3600000", NULL);
	for (int i = 0; i < 48; i++) {
		p[i] = wcp_malloc(pool, 2 * MiB);
		cr_assert_not_null(p[i]);
	}
	for (int i = 0; i < 48; i++)
		wcp_free(pool, p[i]);
	cr_assert_eq(resident(), 96 * MiB, "resident %lu",
		     (unsigned long)resident());
	p[0] = wcp_malloc(pool, 96 * MiB);
	cr_assert_not_null(p[0]);
	cr_assert_eq(resident(), 96 * MiB, "reused, nothing committed");
	wcp_free(pool, p[0]);
	cr_assert_eq(wcp_pool_trim(pool), 0);
	cr_assert_eq(resident(), 0, "trim gives everything back");
	wcp_pool_destroy(pool);
}

/* Frames of many sizes: after a warm-up no cycle commits a fresh page. */
Test(decay, frames_of_many_sizes_settle)
{
	size_t sizes[] = { 1, 3, 32, 7, 17, 2, 29, 5, 11, 24, 9, 4 };
	size_t n = sizeof(sizes) / sizeof(sizes[0]);
	void *live[4] = { 0 };
	uint64_t settled = 0;

	need_pages(200);
	make("3600000", NULL);
	for (int round = 0; round < 6; round++) {
		for (size_t i = 0; i < n; i++) {
			size_t slot = (i * 7 + (size_t)round) % 4;

			wcp_free(pool, live[slot]);
			live[slot] = wcp_malloc(pool, sizes[i] * MiB);
			cr_assert_not_null(live[slot]);
			memset(live[slot], (int)i, 4096);
		}
		if (round == 2)
			settled = resident();
	}
	cr_assert_eq(resident(), settled, "resident %lu after the warm-up, "
		     "%lu later: pages released and committed again",
		     (unsigned long)settled, (unsigned long)resident());
	for (int i = 0; i < 4; i++)
		wcp_free(pool, live[i]);
	wcp_pool_destroy(pool);
}

/* Unused for the decay time: released at the next free of a frame. */
Test(decay, unused_pages_go_after_the_decay_time)
{
	void *a, *b;

	need_pages(16);
	make("100", NULL);
	a = wcp_malloc(pool, 8 * MiB);
	b = wcp_malloc(pool, 4 * MiB);
	cr_assert(a && b);
	wcp_free(pool, a);
	sleep_ms(300);
	wcp_free(pool, b);	/* b's pages are new: kept; a's aged: gone */
	cr_assert_eq(resident(), 4 * MiB, "resident %lu",
		     (unsigned long)resident());
	wcp_pool_destroy(pool);
}

/* A decay time of 0: freed pages go back at once. */
Test(decay, zero_decay_releases_at_free)
{
	void *a;

	need_pages(8);
	make("0", NULL);
	a = wcp_malloc(pool, 8 * MiB);
	cr_assert_not_null(a);
	cr_assert_eq(resident(), 8 * MiB);
	wcp_free(pool, a);
	cr_assert_eq(resident(), 0);
	wcp_pool_destroy(pool);
}

/* Malformed settings are ignored: the defaults (kept, not released). */
Test(decay, malformed_settings_mean_the_defaults)
{
	void *a;

	need_pages(8);
	make("-5", "12Q");
	a = wcp_malloc(pool, 8 * MiB);
	cr_assert_not_null(a);
	wcp_free(pool, a);
	cr_assert_eq(resident(), 8 * MiB);
	wcp_pool_destroy(pool);
}

/*
 * A size whose suffix would overflow 64 bits (2^34 G) means the default,
 * not what it wraps to (0: nothing kept).
 */
Test(decay, overflowing_settings_mean_the_defaults)
{
	void *a;

	need_pages(8);
	make("3600000", "17179869184G");
	a = wcp_malloc(pool, 8 * MiB);
	cr_assert_not_null(a);
	wcp_free(pool, a);
	cr_assert_eq(resident(), 8 * MiB, "resident %lu",
		     (unsigned long)resident());
	wcp_pool_destroy(pool);
}

/*
 * A frame the pool has no room for fails without giving up the kept pages:
 * releasing them makes no room.  It used to empty the whole cache, on
 * every such failure (a buffer pool probing max_size repeats them).
 */
Test(decay, no_room_keeps_the_kept_pages)
{
	void *p[16];

	need_pages(40);
	cr_assert_eq(setenv("WCPOOL_DECAY_MS", "3600000", 1), 0);
	pool = make_pool(WCP_PAGE_2M, 64 * MiB);
	for (int i = 0; i < 16; i++) {
		p[i] = wcp_malloc(pool, 4 * MiB);
		cr_assert_not_null(p[i], "frame %d", i);
	}
	for (int i = 1; i < 16; i += 2)
		wcp_free(pool, p[i]);
	cr_assert_eq(resident(), 64 * MiB);
	errno = 0;
	cr_assert_null(wcp_malloc(pool, 16 * MiB), "no 16 MiB window is free");
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(resident(), 64 * MiB, "kept pages given up: resident %lu",
		     (unsigned long)resident());
	for (int i = 0; i < 16; i += 2)
		wcp_free(pool, p[i]);
	wcp_pool_destroy(pool);
}

/*
 * Pressure: with every huge page of the system taken and half of them
 * kept free in the cache, scattered, a frame that needs fresh pages gets
 * them from the cache's instead of failing.
 */
Test(decay, kept_pages_give_way_to_a_fresh_commit)
{
	enum { MAX = 4096 };
	void **p = calloc(MAX, sizeof(*p)), *big;
	size_t n = 0;

	if (!getenv("WCPOOL_TEST_EXCLUSIVE"))
		cr_skip_test("takes every huge page: the QEMU suites run it "
			     "(WCPOOL_TEST_EXCLUSIVE=1)");
	lock(LOCK_EX);
	cr_assert_not_null(p);
	make("3600000", "64G");
	while (n < MAX && (p[n] = wcp_malloc(pool, 2 * MiB)))
		n++;
	cr_assert_gt(n, 8, "%zu huge pages", n);
	cr_assert_lt(n, MAX, "the system's huge pages did not run out");
	for (size_t i = 1; i < n; i += 2)
		wcp_free(pool, p[i]);
	/* no two free pages are neighbours: 8 MiB needs fresh ones */
	big = wcp_malloc(pool, 8 * MiB);
	cr_assert_not_null(big, "the kept pages were not given up: %d", errno);
	wcp_free(pool, big);
	for (size_t i = 0; i < n; i += 2)
		wcp_free(pool, p[i]);
	wcp_pool_destroy(pool);
	free(p);
}
