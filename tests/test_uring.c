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
	int err;

	pool = make_pool(0, 0);
	wcp_pool_info(pool, &info);
	cr_assert_eq(io_uring_queue_init(8, &ring, 0), 0);
	snprintf(path, sizeof(path), "/var/tmp/wcpool-uring.XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	unlink(path);
	cr_assert_eq(ftruncate(fd, 64 * MiB), 0);
	/* O_DIRECT where the file system has it: straight into pool memory. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int dfd = open(path, O_RDWR | O_DIRECT);
	if (dfd >= 0) {
		close(fd);
		fd = dfd;
		direct = true;
	}
	err = wcp_uring_register(pool, &ring);
	if (info.backend == WCP_BACKEND_MODULE && kernel_refuses_module_buffers()) {
		cr_assert_eq(err, -EOPNOTSUPP, "this kernel refuses module memory");
		cr_skip_test("fixed buffers of wcpool.ko memory need Linux >= 6.5 (checked: -EOPNOTSUPP)");
	}
	cr_assert_eq(err, 0, "wcp_uring_register: %d", err);
}

static void teardown(void)
{
	wcp_pool_destroy(pool);
	io_uring_queue_exit(&ring);
	close(fd);
}

TestSuite(uring, .init = setup, .fini = teardown);

static int fixed_io(bool write, void *buf, size_t len, off_t off)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	struct io_uring_cqe *cqe;
	int idx = wcp_uring_index(pool, buf, len), res;

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

	fill_pattern(src, len, 11);
	cr_assert_eq(pwrite(fd, src, len, 4096), (ssize_t)len);
	cr_assert_eq(fixed_io(false, buf, len, 4096), (int)len,
		     "READ_FIXED (%s)", direct ? "O_DIRECT" : "buffered");
	cr_assert(check_pattern(buf, len, 11));
	fill_pattern(buf, len, 12);
	cr_assert_eq(fixed_io(true, buf, len, 8 * MiB), (int)len);
	cr_assert_eq(pread(fd, src, len, 8 * MiB), (ssize_t)len);
	cr_assert(check_pattern(src, len, 12));
	free(src);
	wcp_free(pool, buf);
}

Test(uring, memory_mapped_later_is_registered_on_demand)
{
	size_t big = 700 * MiB;
	unsigned char *p = wcp_aligned_alloc(pool, 4096, big);
	unsigned char *tail = p + big - MiB;
	unsigned char *src = aligned_alloc(4096, MiB);

	cr_assert_not_null(p);
	fill_pattern(src, MiB, 13);
	cr_assert_eq(pwrite(fd, src, MiB, 0), (ssize_t)MiB);
	cr_assert_eq(fixed_io(false, tail, MiB, 0), (int)MiB);
	cr_assert(check_pattern(tail, MiB, 13));
	free(src);
	wcp_free(pool, p);
}

Test(uring, index_errors)
{
	char *p = wcp_malloc(pool, 4096);
	int on_stack;

	cr_assert_eq(wcp_uring_index(pool, &on_stack, 4), -ERANGE);
	cr_assert_eq(wcp_uring_index(pool, p, 600 * MiB), -ERANGE, "over 512 MiB");
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

	memset(p, 1, 64 * MiB);
	cr_assert_geq(wcp_uring_index(pool, p, 4096), 0);
	wcp_pool_stats(pool, &before);
	wcp_free(pool, p);
	wcp_pool_trim(pool);
	wcp_pool_stats(pool, &after);
	cr_assert_geq(after.resident, before.resident, "kept while registered");
	cr_assert_eq(wcp_uring_unregister(pool), 0);
	p = wcp_malloc(pool, 64 * MiB);
	wcp_free(pool, p);
	wcp_pool_trim(pool);
	wcp_pool_stats(pool, &after);
	cr_assert_lt(after.resident, before.resident, "given back after unregister");
}
