// SPDX-License-Identifier: MIT
/*
 * Sharing a pool with other processes: the pool file travels as an fd (over
 * a UNIX socket with SCM_RIGHTS), the importer maps it at its own
 * reservation with the same layout, so offsets name the same bytes in both.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pool.h"

uint64_t wcp_offset(const struct wcp_pool *pool, const void *ptr)
{
	return pool ? wcpi_offset(pool, ptr) : WCP_OFFSET_INVALID;
}

void *wcp_pointer(struct wcp_pool *pool, uint64_t offset)
{
	if (!pool) {
		errno = EINVAL;
		return NULL;
	}
	if (offset >= wcpi_pool_mapped(pool) && pool->imported)
		wcpi_pool_refresh(pool);
	if (offset >= wcpi_pool_mapped(pool)) {
		errno = ERANGE;
		return NULL;
	}
	return pool->base + offset;
}

int wcp_pool_export(const struct wcp_pool *pool, uint32_t flags,
		    struct wcp_pool_share *share)
{
	int fd;

	if (!pool || !share || (flags & ~(uint32_t)WCP_EXPORT_READ_ONLY))
		return -EINVAL;
	if (flags & WCP_EXPORT_READ_ONLY) {
		fd = pool->ops->open_read_only(pool);
		if (fd < 0)
			return fd;
	} else {
		fd = fcntl(pool->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
	}
	memset(share, 0, sizeof(*share));
	share->magic = WCP_SHARE_MAGIC;
	share->backend = pool->backend;
	share->policy = pool->policy;
	share->page_size = pool->page_size;
	share->max_size = pool->max_size;
	return fd;
}

static bool valid_backend(const struct wcp_pool_share *s)
{
	if (s->backend == WCP_BACKEND_MODULE)
		return s->page_size == WCP_PAGE_2M &&
		       s->policy >= WCP_POLICY_WC && s->policy <= WCP_POLICY_WB;
	return s->backend == WCP_BACKEND_MEMFD && s->policy == WCP_POLICY_WB &&
	       (s->page_size == WCP_PAGE_4K || s->page_size == WCP_PAGE_2M ||
		s->page_size == WCP_PAGE_1G);
}

static int check_share(const struct wcp_pool_share *s, uint32_t flags)
{
	if (!s || s->magic != WCP_SHARE_MAGIC || s->reserved ||
	    !valid_backend(s) || !s->max_size || s->max_size % s->page_size ||
	    (flags & ~(uint32_t)WCP_IMPORT_READ_ONLY))
		return -EINVAL;
	return 0;
}

int wcp_pool_import(int fd, const struct wcp_pool_share *share,
		    uint32_t flags, struct wcp_pool **poolp)
{
	struct wcp_pool *pool;
	int err, own_fd, access;

	if (!poolp)
		return -EINVAL;
	*poolp = NULL;
	err = check_share(share, flags);
	if (err)
		return err;
	access = fcntl(fd, F_GETFL);
	if (access < 0)
		return -errno;
	if ((access & O_ACCMODE) == O_RDONLY)
		flags |= WCP_IMPORT_READ_ONLY;
	own_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (own_fd < 0)
		return -errno;
	pool = wcpi_pool_alloc_object();
	if (!pool) {
		close(own_fd);
		return -ENOMEM;
	}
	pool->imported = true;
	pool->policy = share->policy;
	pool->read_only = flags & WCP_IMPORT_READ_ONLY;
	pool->prot = PROT_READ | (pool->read_only ? 0 : PROT_WRITE);
	err = wcpi_pool_reserve(pool, share->max_size, share->page_size);
	if (!err && share->backend == WCP_BACKEND_MODULE)
		err = wcpi_module_adopt(pool, own_fd);
	else if (!err)
		err = wcpi_memfd_adopt(pool, own_fd);
	else
		close(own_fd);
	if (!err)
		err = wcpi_pool_refresh(pool);
	if (err) {
		wcpi_pool_free_object(pool);
		return err;
	}
	*poolp = pool;
	return 0;
}

/*
 * A malformed message may carry more fds than the one we want: room for
 * a few, so that wcp_pool_recv() sees them and closes them (the kernel
 * drops what does not fit, MSG_CTRUNC).
 */
#define RECV_MAX_FDS 16

/* One message: the share description, with the pool fd as SCM_RIGHTS. */
struct share_msg {
	struct wcp_pool_share share;
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(RECV_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg;
};

static void share_msg_init(struct share_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->iov.iov_base = &m->share;
	m->iov.iov_len = sizeof(m->share);
	m->msg.msg_iov = &m->iov;
	m->msg.msg_iovlen = 1;
	m->msg.msg_control = m->ctl.buf;
	m->msg.msg_controllen = sizeof(m->ctl.buf);
}

int wcp_pool_send(const struct wcp_pool *pool, int sock, uint32_t flags)
{
	struct share_msg m;
	struct cmsghdr *c;
	ssize_t n;
	int fd;

	share_msg_init(&m);
	m.msg.msg_controllen = CMSG_SPACE(sizeof(int));
	fd = wcp_pool_export(pool, flags, &m.share);
	if (fd < 0)
		return fd;
	c = CMSG_FIRSTHDR(&m.msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	n = sendmsg(sock, &m.msg, MSG_NOSIGNAL);
	close(fd);
	if (n < 0)
		return -errno;
	return n == sizeof(m.share) ? 0 : -EPROTO;
}

/*
 * The one fd a well-formed message carries; -1, with every fd received
 * closed, when there are none or several.
 */
static int take_one_fd(struct msghdr *msg)
{
	int fd = -1, nr = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c;
	     c = CMSG_NXTHDR(msg, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++, nr++) {
			int got;

			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(got));
			if (fd >= 0)
				close(fd);
			fd = got;
		}
	}
	if (nr == 1)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

int wcp_pool_recv(int sock, uint32_t flags, struct wcp_pool **poolp)
{
	struct share_msg m;
	ssize_t n;
	int fd, err;

	if (!poolp)
		return -EINVAL;
	*poolp = NULL;
	share_msg_init(&m);
	n = recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	fd = take_one_fd(&m.msg);
	if (fd < 0 || n != sizeof(m.share) || (m.msg.msg_flags & MSG_CTRUNC)) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	err = wcp_pool_import(fd, &m.share, flags, poolp);
	close(fd);
	return err;
}
