// SPDX-License-Identifier: MIT
/*
 * io_uring fixed buffers over a pool: READ_FIXED / WRITE_FIXED into any
 * pool buffer, memory mapped after the registration included.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "helpers.h"

static struct wcp_pool *pool;
static struct wcp_pool_info info;
static struct io_uring ring;
static char path[64];
static int fd;
static bool direct;

/* Linux before 6.5 refuses file mappings other than shmem/hugetlbfs. */
static bool kernel_refuses_module_buffers(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	uname(&u);
	sscanf(u.release, "%d.%d", &major, &minor);
	return major < 6 || (major == 6 && minor < 5);
}

static void setup(void)
{
	const char *dev;
	int err, dfd;

	pool = make_pool(0, 0);
	wcp_pool_info(pool, &info);
	cr_assert_eq(io_uring_queue_init(8, &ring, 0), 0);
	/* A real disk where the harness gives one (the QEMU guest's virtio). */
	dev = getenv("WCPOOL_TEST_BLOCKDEV");
	if (dev && *dev) {
		fd = open(dev, O_RDWR | O_DIRECT);
		cr_assert_geq(fd, 0, "open %s O_DIRECT", dev);
		direct = true;
		cr_assert_eq(wcp_uring_register(pool, &ring), 0);
		return;
	}
	snprintf(path, sizeof(path), "/var/tmp/wcpool-uring.XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	unlink(path);
	cr_assert_eq(ftruncate(fd, 64 * MiB), 0);
	/* O_DIRECT where the file system has it: straight into pool memory. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	dfd = open(path, O_RDWR | O_DIRECT);
	if (dfd >= 0) {
		close(fd);
		fd = dfd;
		direct = true;
	}
	err = wcp_uring_register(pool, &ring);
	cr_assert_eq(err, 0, "wcp_uring_register: %d", err);
}

static void teardown(void)
{
	wcp_pool_destroy(pool);
	io_uring_queue_exit(&ring);
	close(fd);
}

TestSuite(uring, .init = setup, .fini = teardown);

/* The kernel's answer for module memory where it refuses it. */
static void skip_if_refused(int idx)
{
	if (info.backend == WCP_BACKEND_MODULE && kernel_refuses_module_buffers()) {
		cr_assert_eq(idx, -EOPNOTSUPP, "this kernel refuses module memory");
		cr_skip_test("fixed buffers of wcpool.ko memory need Linux >= 6.5 (checked: -EOPNOTSUPP)");
	}
}

static int fixed_io(bool write, void *buf, size_t len, off_t off)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	struct io_uring_cqe *cqe;
	int idx = wcp_uring_index(pool, buf, len), res;

	skip_if_refused(idx);
	cr_assert_geq(idx, 0, "wcp_uring_index: %d", idx);
	if (write)
		io_uring_prep_write_fixed(sqe, fd, buf, len, off, idx);
	else
		io_uring_prep_read_fixed(sqe, fd, buf, len, off, idx);
	cr_assert_eq(io_uring_submit(&ring), 1);
	cr_assert_eq(io_uring_wait_cqe(&ring, &cqe), 0);
	res = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	return res;
}

Test(uring, read_and_write_fixed_on_pool_buffers)
{
	size_t len = MiB;
	unsigned char *src = aligned_alloc(4096, len);
	unsigned char *buf = wcp_aligned_alloc(pool, 4096, len);

	/* From 32 MiB: the other test uses the first 24 MiB of a shared disk. */
	fill_pattern(src, len, 11);
	cr_assert_eq(pwrite(fd, src, len, 32 * MiB + 4096), (ssize_t)len);
	cr_assert_eq(fixed_io(false, buf, len, 32 * MiB + 4096), (int)len,
		     "READ_FIXED (%s)", direct ? "O_DIRECT" : "buffered");
	cr_assert(check_pattern(buf, len, 11));
	fill_pattern(buf, len, 12);
	cr_assert_eq(fixed_io(true, buf, len, 40 * MiB), (int)len);
	cr_assert_eq(pread(fd, src, len, 40 * MiB), (ssize_t)len);
	cr_assert(check_pattern(src, len, 12));
	free(src);
	wcp_free(pool, buf);
}

/* Buffers far apart, small and large, each get a fixed buffer. */
Test(uring, any_pool_buffer_gets_a_fixed_buffer)
{
	/* Whole blocks: O_DIRECT wants them. */
	size_t sizes[] = { 4096, 24 * 4096, 3 * MiB, 24 * MiB };
	unsigned char *src = aligned_alloc(4096, 24 * MiB);
	unsigned char *p[4];

	fill_pattern(src, 24 * MiB, 13);
	cr_assert_eq(pwrite(fd, src, 24 * MiB, 0), (ssize_t)(24 * MiB));
	for (int i = 0; i < 4; i++) {
		p[i] = wcp_aligned_alloc(pool, 4096, sizes[i]);
		cr_assert_not_null(p[i]);
	}
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(fixed_io(false, p[i], sizes[i], 0), (int)sizes[i]);
		cr_assert(check_pattern(p[i], sizes[i], 13), "buffer %d", i);
	}
	/* The same range again uses the same slot. */
	cr_assert_eq(wcp_uring_index(pool, p[2], sizes[2]),
		     wcp_uring_index(pool, p[2] + 4096, 4096));
	free(src);
	for (int i = 0; i < 4; i++)
		wcp_free(pool, p[i]);
}

Test(uring, index_errors)
{
	char *p = wcp_malloc(pool, 4096);
	int on_stack;

	cr_assert_eq(wcp_uring_index(pool, &on_stack, 4), -ERANGE);
	cr_assert_eq(wcp_uring_index(pool, p, 0), -ERANGE, "empty");
	cr_assert_eq(wcp_uring_index(pool, p, 2 * GiB), -ERANGE, "over 1 GiB");
	cr_assert_eq(wcp_uring_register(pool, &ring), -EBUSY);
	cr_assert_eq(wcp_uring_unregister(pool), 0);
	cr_assert_eq(wcp_uring_index(pool, p, 4096), -ENOENT);
	cr_assert_eq(wcp_uring_unregister(pool), -ENOENT);
	wcp_free(pool, p);
}

/* Registered pages stay the pool's: freed memory is kept until unregister. */
Test(uring, registered_memory_is_not_given_back)
{
	struct wcp_pool_stats before, after;
	void *p = wcp_malloc(pool, 64 * MiB);
	int idx;

	cr_assert_not_null(p);
	memset(p, 1, 64 * MiB);
	idx = wcp_uring_index(pool, p, 4096);
	skip_if_refused(idx);
	cr_assert_geq(idx, 0);
	wcp_pool_stats(pool, &before);
	wcp_free(pool, p);
	wcp_pool_trim(pool);
	wcp_pool_stats(pool, &after);
	cr_assert_geq(after.resident, before.resident, "kept while registered");
	cr_assert_eq(wcp_uring_unregister(pool), 0);
	p = wcp_malloc(pool, 64 * MiB);
	cr_assert_not_null(p);
	wcp_free(pool, p);
	wcp_pool_trim(pool);
	wcp_pool_stats(pool, &after);
	cr_assert_lt(after.resident, before.resident, "given back after unregister");
}
