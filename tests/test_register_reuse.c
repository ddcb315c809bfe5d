// SPDX-License-Identifier: MIT
/*
 * Registrations are reused: the same range with the same device
 * constraints gives the same registration (same dma-buf fd), a reference
 * per wcp_register(), dropped by wcp_unregister(); different constraints
 * give registrations of their own; unregistering more often than
 * registering is -ENOENT; the range keeps its pages and bytes across a
 * free and a new allocation while registered; threads, fork() and
 * imported views.
 *
 * Registrations need a dma-buf exporter: wcpool.ko or udmabuf.  The host
 * has neither here, so the host run checks only that nothing is made;
 * the QEMU suites (tests/kernel/lib-suite) run the rest on both.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static struct wcp_pool *pool;
static struct wcp_pool_info info;

static void setup(void)
{
	pool = make_pool(0, 0);
	wcp_pool_info(pool, &info);
}

static void teardown(void)
{
	wcp_pool_destroy(pool);
}

TestSuite(reuse, .init = setup, .fini = teardown);

static void need_exporter(void)
{
	if (info.export_path == WCP_EXPORT_NONE)
		cr_skip_test("dma-buf export needs wcpool.ko or udmabuf (the "
			     "QEMU suites run both)");
}

static struct wcp_registration *must_register(struct wcp_pool *p,
					      const void *ptr, size_t len,
					      const struct wcp_register_options *o)
{
	struct wcp_registration *r = NULL;
	int err = wcp_register(p, ptr, len, o, &r);

	cr_assert_eq(err, 0, "wcp_register: %d", err);
	cr_assert_not_null(r);
	return r;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* The host: no exporter, and asking twice makes nothing either. */
Test(reuse, without_an_exporter_nothing_is_made)
{
	char *p = wcp_aligned_alloc(pool, 4096, 16 * KiB);
	struct wcp_registration *r = (void *)1;
	int fds = count_fds();

	if (info.export_path != WCP_EXPORT_NONE)
		cr_skip_test("this pool has an exporter (see the other tests)");
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(wcp_register(pool, p, 16 * KiB, NULL, &r),
			     -EOPNOTSUPP);
		cr_assert_null(r);
	}
	cr_assert_eq(count_fds(), fds);
	wcp_free(pool, p);
}

Test(reuse, the_same_range_is_the_same_registration)
{
	need_exporter();

	size_t len = 64 * KiB;
	char *p = wcp_aligned_alloc(pool, 4096, len);
	struct wcp_registration *a, *b, *c;
	int fds;

	cr_assert_not_null(p);
	fds = count_fds();
	a = must_register(pool, p, len, NULL);
	cr_assert_eq(count_fds(), fds + 1);
	b = must_register(pool, p, len, NULL);
	/* what NULL means, spelt out: the same dma-buf */
	c = must_register(pool, p, len, &(struct wcp_register_options){
		.access = WCP_ACCESS_READ | WCP_ACCESS_WRITE,
		.policy = info.policy, .align = 4096 });
	cr_assert_eq(b, a);
	cr_assert_eq(c, a);
	cr_assert_eq(wcp_registration_fd(b), wcp_registration_fd(a));
	cr_assert_eq(count_fds(), fds + 1, "one dma-buf for three calls");
	/* a reference each: the fd stays until the last one goes */
	cr_assert_eq(wcp_unregister(pool, a), 0);
	cr_assert_eq(wcp_unregister(pool, a), 0);
	cr_assert(fd_open(wcp_registration_fd(a)));
	cr_assert_eq(wcp_unregister(pool, a), 0);
	cr_assert_eq(count_fds(), fds, "the last reference closed it");
	/* more often than registered: reported, nothing else touched */
	cr_assert_eq(wcp_unregister(pool, a), -ENOENT);
	wcp_free(pool, p);
}

Test(reuse, different_constraints_get_their_own)
{
	need_exporter();

	size_t len = 64 * KiB;
	char *p = wcp_aligned_alloc(pool, 4096, 2 * len);
	struct wcp_registration *rw, *ro, *shorter, *other, *again;

	cr_assert_not_null(p);
	rw = must_register(pool, p, len, NULL);
	ro = must_register(pool, p, len, &(struct wcp_register_options){
		.access = WCP_ACCESS_READ });
	shorter = must_register(pool, p, len - 4096, NULL);
	other = must_register(pool, p + 4096, len, NULL);
	cr_assert(rw != ro && rw != shorter && rw != other && ro != shorter);
	cr_assert_neq(wcp_registration_fd(rw), wcp_registration_fd(ro));
	if (info.export_path == WCP_EXPORT_MODULE) {
		struct wcp_registration *cut = must_register(pool, p, len,
			&(struct wcp_register_options){ .max_seg_size = 8192 });

		cr_assert_neq(cut, rw, "cut into runs: another dma-buf");
		cr_assert_eq(wcp_registration_segments(cut, NULL, 0),
			     (int)(len / 8192));
		cr_assert_eq(wcp_unregister(pool, cut), 0);
	}
	again = must_register(pool, p, len, &(struct wcp_register_options){
		.access = WCP_ACCESS_READ });
	cr_assert_eq(again, ro);
	cr_assert_eq(wcp_unregister(pool, again), 0);
	cr_assert_eq(wcp_unregister(pool, ro), 0);
	cr_assert_eq(wcp_unregister(pool, ro), -ENOENT);
	/* the others are untouched by the misuse */
	cr_assert(fd_open(wcp_registration_fd(rw)));
	cr_assert_eq(wcp_unregister(pool, rw), 0);
	cr_assert_eq(wcp_unregister(pool, shorter), 0);
	cr_assert_eq(wcp_unregister(pool, other), 0);
	wcp_free(pool, p);
}

/* A failed check is a failed call even when a registration would match. */
Test(reuse, checks_still_run_for_a_match)
{
	need_exporter();

	char *p = wcp_aligned_alloc(pool, 4096, 8192);
	uint32_t other = info.policy == WCP_POLICY_WB ? WCP_POLICY_WC :
							WCP_POLICY_WB;
	struct wcp_registration *r = must_register(pool, p, 8192, NULL), *x;

	cr_assert_eq(wcp_register(pool, p, 8192, &(struct wcp_register_options){
		.policy = other }, &x), -EACCES);
	cr_assert_null(x);
	cr_assert_eq(wcp_unregister(pool, r), 0);
	cr_assert_eq(wcp_unregister(pool, r), -ENOENT, "the failed call "
		     "took no reference");
	wcp_free(pool, p);
}

/*
 * Freed and allocated again while registered: the registration stays
 * the same pages, so it shows the new allocation's bytes, and registering
 * the new allocation gives the same dma-buf.
 */
Test(reuse, freed_and_allocated_again_keeps_pages_and_bytes)
{
	need_exporter();

	size_t len = 4 * MiB;
	unsigned char *p = wcp_aligned_alloc(pool, 2 * MiB, len), *q, *m;
	struct wcp_registration *r, *r2;

	cr_assert_not_null(p);
	fill_pattern(p, len, 21);
	r = must_register(pool, p, len, NULL);
	wcp_free(pool, alias_of(p));
	q = wcp_aligned_alloc(pool, 2 * MiB, len);
	cr_assert_eq(q, p, "the frame's pages are reused (huge.c)");
	fill_pattern(q, len, 22);
	r2 = must_register(pool, q, len, NULL);
	cr_assert_eq(r2, r, "the same registration");
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, wcp_registration_fd(r), 0);
	cr_assert_neq(m, MAP_FAILED);
	cr_assert(check_pattern(m, len, 22), "the dma-buf has the new bytes");
	munmap(m, len);
	cr_assert_eq(wcp_unregister(pool, r2), 0);
	cr_assert_eq(wcp_unregister(pool, r), 0);
	wcp_free(pool, q);
}

struct racer {
	char *p;
	size_t len;
	int failures;
};

static void *race(void *arg)
{
	struct racer *x = arg;

	for (int i = 0; i < 200; i++) {
		struct wcp_registration *a = NULL, *b = NULL;

		if (wcp_register(pool, x->p, x->len, NULL, &a) ||
		    wcp_register(pool, x->p, x->len, NULL, &b) || a != b ||
		    wcp_registration_fd(a) < 0 ||
		    wcp_unregister(pool, b) || wcp_unregister(pool, a))
			__atomic_fetch_add(&x->failures, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Threads registering and unregistering the same range at once. */
Test(reuse, threads_share_and_count)
{
	need_exporter();

	struct racer x = { .len = 16 * KiB };
	pthread_t t[4];
	int fds;

	x.p = wcp_aligned_alloc(pool, 4096, x.len);
	cr_assert_not_null(x.p);
	fds = count_fds();
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, race, &x), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(x.failures, 0);
	cr_assert_eq(count_fds(), fds, "every reference dropped: fd closed");
	wcp_free(pool, x.p);
}

/* Many live registrations: each found again, the rest left alone. */
Test(reuse, many_live_registrations)
{
	need_exporter();

	enum { N = 128 };
	char *p = wcp_aligned_alloc(pool, 4096, (N + 1) * 4096);
	struct wcp_registration *r[N];

	cr_assert_not_null(p);
	for (int i = 0; i < N; i++)
		r[i] = must_register(pool, p + (size_t)(i * 37 % N) * 4096,
				     4096, NULL);
	for (int i = N - 1; i >= 0; i--)
		cr_assert_eq(must_register(pool, p + (size_t)(i * 37 % N) * 4096,
					   4096, NULL), r[i]);
	for (int i = 0; i < N; i += 2) {
		cr_assert_eq(wcp_unregister(pool, r[i]), 0);
		cr_assert_eq(wcp_unregister(pool, r[i]), 0);
	}
	for (int i = 1; i < N; i += 2) {
		cr_assert(fd_open(wcp_registration_fd(r[i])));
		cr_assert_eq(wcp_unregister(pool, r[i]), 0);
		cr_assert_eq(wcp_unregister(pool, r[i]), 0);
		cr_assert_eq(wcp_unregister(pool, r[i]), -ENOENT);
	}
	wcp_free(pool, p);
}

/*
 * After fork() the child sees the parent's registrations (its fds are
 * the child's copies): registering the range there finds the same one;
 * the child dropping its references leaves the parent's alone.
 */
Test(reuse, fork_child_finds_the_parents)
{
	need_exporter();

	char *p = wcp_aligned_alloc(pool, 4096, 32 * KiB);
	struct wcp_registration *r = must_register(pool, p, 32 * KiB, NULL);
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct wcp_registration *c = NULL;
		int ok = !wcp_register(pool, p, 32 * KiB, NULL, &c) && c == r &&
			 fd_open(wcp_registration_fd(c)) &&
			 !wcp_unregister(pool, c) && !wcp_unregister(pool, r) &&
			 wcp_unregister(pool, r) == -ENOENT;

		_exit(ok ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child status %#x", status);
	cr_assert(fd_open(wcp_registration_fd(r)), "the parent's fd stays");
	cr_assert_eq(must_register(pool, p, 32 * KiB, NULL), r);
	cr_assert_eq(wcp_unregister(pool, r), 0);
	cr_assert_eq(wcp_unregister(pool, r), 0);
	cr_assert_eq(wcp_unregister(pool, r), -ENOENT);
	wcp_free(pool, p);
}

/*
 * An imported view has registrations of its own, reused within the view;
 * a read-only view's access 0 is reads, so it matches an explicit read.
 */
Test(reuse, imported_views_reuse_their_own)
{
	need_exporter();

	size_t len = 64 * KiB;
	char *p = wcp_aligned_alloc(pool, 4096, len), *q;
	struct wcp_registration *r = must_register(pool, p, len, NULL), *v, *w;
	struct wcp_pool_info vinfo;
	struct wcp_pool_share share;
	struct wcp_pool *view;
	int fd;

	fd = wcp_pool_export(pool, WCP_EXPORT_READ_ONLY, &share);
	cr_assert_geq(fd, 0);
	cr_assert_eq(wcp_pool_import(fd, &share, 0, &view), 0);
	close(fd);
	cr_assert_eq(wcp_pool_info(view, &vinfo), 0);
	q = wcp_pointer(view, wcp_offset(pool, p));
	cr_assert_not_null(q);
	if (vinfo.export_path == WCP_EXPORT_NONE) {
		cr_assert_eq(wcp_register(view, q, len, NULL, &v), -EOPNOTSUPP);
	} else {
		v = must_register(view, q, len, NULL);
		w = must_register(view, q, len, &(struct wcp_register_options){
			.access = WCP_ACCESS_READ });
		cr_assert_neq(v, r, "the view's own");
		cr_assert_eq(w, v, "access 0 is reads in a read-only view");
		cr_assert_eq(wcp_unregister(pool, v), -ENOENT, "not the owner's");
		cr_assert_eq(wcp_unregister(view, v), 0);
		cr_assert_eq(wcp_unregister(view, w), 0);
		cr_assert_eq(wcp_unregister(view, v), -ENOENT);
	}
	wcp_pool_destroy(view);
	cr_assert(fd_open(wcp_registration_fd(r)));
	cr_assert_eq(wcp_unregister(pool, r), 0);
	wcp_free(pool, p);
}

/* Destroying the pool drops what is still registered, references and all. */
Test(reuse, destroy_drops_every_reference)
{
	need_exporter();

	struct wcp_pool *own = make_pool(0, 0);
	char *p = wcp_aligned_alloc(own, 4096, 8192);
	int fds = count_fds(), dfd = -1;

	for (int i = 0; i < 3; i++)
		dfd = wcp_registration_fd(must_register(own, p, 8192, NULL));
	cr_assert_eq(count_fds(), fds + 1);
	wcp_pool_destroy(own);
	cr_assert_not(fd_open(dfd), "the dma-buf fd went with the pool");
}
