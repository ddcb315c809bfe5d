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

#include "backend.h"
#include "pool.h"
#include "spill.h"

uint64_t wcp_offset(const struct wcp_pool *pool, const void *ptr)
{
	struct wcp_pool *s;

	if (!pool)
		return WCP_OFFSET_INVALID;
	/* Spilled memory's offsets follow the pool's own (spill.c). */
	if (!wcpi_owns(pool, ptr) && (s = wcpi_spill_of(pool, ptr)))
		return pool->max_size + wcpi_offset(s, ptr);
	return wcpi_offset(pool, ptr);
}

bool wcp_owns(const struct wcp_pool *pool, const void *ptr)
{
	return wcp_offset(pool, ptr) != WCP_OFFSET_INVALID;
}

void *wcp_pointer(struct wcp_pool *pool, uint64_t offset)
{
	if (!pool) {
		errno = EINVAL;
		return NULL;
	}
	if (offset >= pool->max_size && wcpi_spill_peek(pool))
		return wcp_pointer(wcpi_spill_peek(pool), offset - pool->max_size);
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
	if (!s || s->magic != WCP_SHARE_MAGIC || s->flags ||
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
	pool->export_path = pool->ops->export_path(pool);
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

/* The spill pool's description, as wcp_pool_recv() reads it back. */
static struct wcp_pool_share spill_share(const struct wcp_pool_share *main)
{
	return (struct wcp_pool_share){
		.magic = WCP_SHARE_MAGIC,
		.backend = WCP_BACKEND_MEMFD,
		.policy = WCP_POLICY_WB,
		.page_size = WCP_PAGE_4K,
		.max_size = main->max_size,
	};
}

int wcp_pool_send(const struct wcp_pool *pool, int sock, uint32_t flags)
{
	struct wcp_pool_share unused;
	int fds[2] = { -1, -1 }, nr = 1;
	struct share_msg m;
	struct cmsghdr *c;
	ssize_t n = -1;

	share_msg_init(&m);
	fds[0] = wcp_pool_export(pool, flags, &m.share);
	if (fds[0] < 0)
		return fds[0];
	/* A default pool's spilled pages go along as a second fd. */
	if (wcpi_spill_peek(pool)) {
		fds[1] = wcp_pool_export(wcpi_spill_peek(pool), flags, &unused);
		if (fds[1] < 0) {
			close(fds[0]);
			return fds[1];
		}
		m.share.flags |= WCP_SHARE_SPILLED;
		nr = 2;
	}
	m.msg.msg_controllen = CMSG_SPACE(nr * sizeof(int));
	c = CMSG_FIRSTHDR(&m.msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nr * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nr * sizeof(int));
	n = sendmsg(sock, &m.msg, MSG_NOSIGNAL);
	for (int i = 0; i < nr; i++)
		close(fds[i]);
	if (n < 0)
		return -errno;
	return n == sizeof(m.share) ? 0 : -EPROTO;
}

/*
 * The fds of a message, at most @max of them into @fds: their number, or
 * -1 with every fd received closed when there are more.
 */
static int take_fds(struct msghdr *msg, int *fds, int max)
{
	int nr = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c;
	     c = CMSG_NXTHDR(msg, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++, nr++) {
			int got;

			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(got));
			if (nr < max)
				fds[nr] = got;
			else
				close(got);
		}
	}
	if (nr <= max)
		return nr;
	for (int i = 0; i < max; i++)
		close(fds[i]);
	return -1;
}

/* Import what one message carried: the pool, and its spill pages. */
static int import_message(const struct wcp_pool_share *share, int *fds,
			  uint32_t flags, struct wcp_pool **poolp)
{
	struct wcp_pool_share main = *share, sp = spill_share(share);
	struct wcp_pool *spill;
	int err;

	main.flags = 0;
	err = wcp_pool_import(fds[0], &main, flags, poolp);
	if (err || !(share->flags & WCP_SHARE_SPILLED))
		return err;
	err = wcp_pool_import(fds[1], &sp, flags, &spill);
	if (err) {
		wcp_pool_destroy(*poolp);
		*poolp = NULL;
		return err;
	}
	wcpi_spill_adopt(*poolp, spill);
	return 0;
}

int wcp_pool_recv(int sock, uint32_t flags, struct wcp_pool **poolp)
{
	struct share_msg m;
	int fds[2], nr, err;
	ssize_t n;

	if (!poolp)
		return -EINVAL;
	*poolp = NULL;
	share_msg_init(&m);
	n = recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	nr = take_fds(&m.msg, fds, 2);
	if (nr < 1 || n != sizeof(m.share) || (m.msg.msg_flags & MSG_CTRUNC) ||
	    (m.share.flags & ~(uint32_t)WCP_SHARE_SPILLED) ||
	    nr != 1 + !!(m.share.flags & WCP_SHARE_SPILLED)) {
		for (int i = 0; i < nr; i++)
			close(fds[i]);
		return -EPROTO;
	}
	err = import_message(&m.share, fds, flags, poolp);
	for (int i = 0; i < nr; i++)
		close(fds[i]);
	return err;
}
