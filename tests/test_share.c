// SPDX-License-Identifier: MIT
/*
 * Sharing: a child process receives the pool over a UNIX socket, sees the
 * parent's bytes at the same offsets, and the parent sees the child's.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static struct wcp_pool *pool;
static int sv[2];

static void setup(void)
{
	pool = make_pool(0, 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

static void teardown(void)
{
	close(sv[0]);
	close(sv[1]);
	wcp_pool_destroy(pool);
}

TestSuite(share, .init = setup, .fini = teardown);

/* Child side helpers: they report failure through the exit status. */
#define CHILD_CHECK(cond, code)                                                \
	do {                                                                   \
		if (!(cond))                                                   \
			_exit(code);                                           \
	} while (0)

static uint64_t recv_u64(int fd)
{
	uint64_t v = UINT64_MAX;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return UINT64_MAX;
	return v;
}

static void send_u64(int fd, uint64_t v)
{
	cr_assert_eq(write(fd, &v, sizeof(v)), (ssize_t)sizeof(v));
}

static int wait_child(pid_t pid)
{
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/*
 * Child side: receive the pool with @flags, check the view is read-only
 * and that the byte at the offset the parent sends is @expect.
 */
static unsigned char *child_read_only_view(uint32_t flags, unsigned char expect)
{
	struct wcp_pool *view;
	struct wcp_pool_info info;
	unsigned char *p;

	CHILD_CHECK(wcp_pool_recv(sv[1], flags, &view) == 0, 10);
	CHILD_CHECK(wcp_pool_info(view, &info) == 0 && info.read_only, 11);
	p = wcp_pointer(view, recv_u64(sv[1]));
	CHILD_CHECK(p && p[0] == expect, 12);
	return p;
}

static void child_reads_and_answers(void)
{
	struct wcp_pool *view;
	struct wcp_pool_info info;
	uint64_t off, len, answer_off;
	unsigned char *p;

	CHILD_CHECK(wcp_pool_recv(sv[1], 0, &view) == 0, 10);
	CHILD_CHECK(wcp_pool_info(view, &info) == 0 && info.imported, 11);
	off = recv_u64(sv[1]);
	len = recv_u64(sv[1]);
	p = wcp_pointer(view, off);
	CHILD_CHECK(p != NULL, 12);
	CHILD_CHECK(wcp_offset(view, p) == off, 13);
	CHILD_CHECK(check_pattern(p, len, 42), 14);
	/* An imported view cannot allocate. */
	errno = 0;
	CHILD_CHECK(wcp_malloc(view, 10) == NULL && errno == EPERM, 15);
	/* Answer in a block the parent allocated after the import. */
	answer_off = recv_u64(sv[1]);
	p = wcp_pointer(view, answer_off);
	CHILD_CHECK(p != NULL, 16);
	fill_pattern(p, MiB, 99);
	send_u64(sv[1], 1);
	wcp_pool_destroy(view);
	_exit(0);
}

Test(share, child_sees_parent_bytes_at_same_offsets)
{
	size_t len = 3 * MiB + 123;
	unsigned char *data = wcp_malloc(pool, len), *answer;
	pid_t pid;

	cr_assert_not_null(data);
	fill_pattern(data, len, 42);
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		child_reads_and_answers();
	cr_assert_eq(wcp_pool_send(pool, sv[0], 0), 0);
	send_u64(sv[0], wcp_offset(pool, data));
	send_u64(sv[0], len);
	/* Grow the pool after the child imported it: the view follows. */
	answer = wcp_malloc(pool, 200 * MiB);
	cr_assert_not_null(answer);
	send_u64(sv[0], wcp_offset(pool, answer) + 100 * MiB);
	cr_assert_eq(recv_u64(sv[0]), 1, "child did not answer");
	cr_assert_eq(wait_child(pid), 0, "child failed");
	cr_assert(check_pattern(answer + 100 * MiB, MiB, 99),
		  "parent sees what the child wrote");
	wcp_free(pool, data);
	wcp_free(pool, answer);
}

Test(share, read_only_view_cannot_write)
{
	unsigned char *data = wcp_malloc(pool, 4096);
	pid_t pid;

	data[0] = 77;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		unsigned char *p = child_read_only_view(WCP_IMPORT_READ_ONLY, 77);

		p[0] = 1; /* must fault */
		_exit(13);
	}
	cr_assert_eq(wcp_pool_send(pool, sv[0], 0), 0);
	send_u64(sv[0], wcp_offset(pool, data));
	int status = wait_child(pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
		  "status %#x", status);
	cr_assert_eq(data[0], 77);
	wcp_free(pool, data);
}

Test(share, export_and_import_in_one_process)
{
	struct wcp_pool_share share;
	struct wcp_pool *view;
	char *p = wcp_malloc(pool, 1000), *q;
	int fd = wcp_pool_export(pool, 0, &share);

	cr_assert_geq(fd, 0);
	cr_assert_eq(share.magic, WCP_SHARE_MAGIC);
	cr_assert_eq(wcp_pool_import(fd, &share, 0, &view), 0);
	close(fd); /* the view keeps its own fd */
	strcpy(p, "same bytes");
	q = wcp_pointer(view, wcp_offset(pool, p));
	cr_assert_not_null(q);
	cr_assert_neq(q, p, "a second mapping at another address");
	cr_assert_str_eq(q, "same bytes");
	wcp_pool_destroy(view);
	cr_assert_str_eq(p, "same bytes", "owner unaffected by view teardown");
	wcp_free(pool, p);
}

Test(share, import_rejects_bad_descriptions)
{
	struct wcp_pool_share share, bad;
	struct wcp_pool *view = (struct wcp_pool *)1;
	int fd = wcp_pool_export(pool, 0, &share);

	bad = share, bad.magic = 0;
	cr_assert_eq(wcp_pool_import(fd, &bad, 0, &view), -EINVAL);
	cr_assert_null(view);
	bad = share, bad.flags = WCP_SHARE_SPILLED;
	cr_assert_eq(wcp_pool_import(fd, &bad, 0, &view), -EINVAL);
	bad = share, bad.page_size = 12345;
	cr_assert_eq(wcp_pool_import(fd, &bad, 0, &view), -EINVAL);
	bad = share, bad.max_size = 0;
	cr_assert_eq(wcp_pool_import(fd, &bad, 0, &view), -EINVAL);
	cr_assert_eq(wcp_pool_import(fd, &share, 1u << 9, &view), -EINVAL);
	cr_assert_eq(wcp_pool_import(-1, &share, 0, &view), -EBADF);
	cr_assert_eq(wcp_pool_import(fd, NULL, 0, &view), -EINVAL);
	cr_assert_eq(wcp_pool_export(NULL, 0, &share), -EINVAL);
	cr_assert_eq(wcp_pool_export(pool, 1u << 5, &share), -EINVAL);
	close(fd);
}

Test(share, recv_rejects_a_plain_message)
{
	struct wcp_pool *view = (struct wcp_pool *)1;

	cr_assert_eq(write(sv[0], "hello", 5), 5);
	cr_assert_eq(wcp_pool_recv(sv[1], 0, &view), -EPROTO);
	cr_assert_null(view);
}

Test(share, send_on_a_closed_socket_fails)
{
	close(sv[1]);
	cr_assert_eq(wcp_pool_send(pool, sv[0], 0), -EPIPE);
	sv[1] = socket(AF_UNIX, SOCK_STREAM, 0);
}

/* A read-only fd is a boundary: the receiver cannot make it writable. */
Test(share, read_only_export_cannot_be_made_writable)
{
	unsigned char *data = wcp_malloc(pool, 4096);
	pid_t pid;
	int status;

	data[0] = 55;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		/* Asks for a writable view; the fd decides. */
		unsigned char *p = child_read_only_view(0, 55);
		uintptr_t page = (uintptr_t)p & ~(uintptr_t)4095;

		CHILD_CHECK(mprotect((void *)page, 4096, PROT_READ | PROT_WRITE) == -1 &&
			    errno == EACCES, 13);
		_exit(0);
	}
	cr_assert_eq(wcp_pool_send(pool, sv[0], WCP_EXPORT_READ_ONLY), 0);
	send_u64(sv[0], wcp_offset(pool, data));
	status = wait_child(pid);
	cr_assert_eq(status, 0, "child status %#x", status);
	wcp_free(pool, data);
}

/* Send the share description of @pool with @nfds fds attached. */
static void send_with_fds(int sock, int nfds)
{
	struct wcp_pool_share share;
	int fds[32], fd = wcp_pool_export(pool, 0, &share);
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { &share, sizeof(share) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = CMSG_SPACE(nfds * sizeof(int)) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	cr_assert_geq(fd, 0);
	for (int i = 0; i < nfds; i++)
		fds[i] = fd;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	cr_assert_eq(sendmsg(sock, &msg, 0), (ssize_t)sizeof(share));
	close(fd);
}

/* A malformed message's fds are all closed, however many came. */
Test(share, recv_closes_every_fd_of_a_bad_message)
{
	static const int counts[] = { 2, 3, 16, 30 };
	struct wcp_pool *view = (struct wcp_pool *)1;
	int before = count_fds();

	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		send_with_fds(sv[0], counts[i]);
		cr_assert_eq(wcp_pool_recv(sv[1], 0, &view), -EPROTO,
			     "%d fds", counts[i]);
		cr_assert_null(view);
		cr_assert_eq(count_fds(), before, "%d fds sent", counts[i]);
	}
	/* One fd is a good message, and the fd goes with the view. */
	send_with_fds(sv[0], 1);
	cr_assert_eq(wcp_pool_recv(sv[1], 0, &view), 0);
	wcp_pool_destroy(view);
	cr_assert_eq(count_fds(), before);
}
