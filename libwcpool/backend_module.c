// SPDX-License-Identifier: MIT
/*
 * Module backend: the pool file is a pool fd of wcpool.ko (/dev/wcpool),
 * whose 2 MiB pages have the pool's cache policy (WC, UC or WB) in every
 * mapping, the kernel's linear map included.
 *
 * Pages exist only where the pool was grown (WCPOOL_IOC_GROW); elsewhere
 * (never grown, or released with WCPOOL_IOC_RELEASE) a mapping faults with
 * SIGBUS.  Commit grows, decommit releases (whole pages, see commit.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/wcpool.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "backend.h"
#include "pool.h"

#define WCP_MODULE_DEVICE "/dev/wcpool"

static int pool_ioctl(const struct wcp_pool *pool, unsigned long req, void *arg)
{
	return ioctl(pool->fd, req, arg) ? -errno : 0;
}

static int range_ioctl(struct wcp_pool *pool, unsigned long req, uint64_t off,
		       uint64_t len)
{
	struct wcpool_range r = { .size = sizeof(r), .offset = off,
				  .length = len };

	return pool_ioctl(pool, req, &r);
}

static int module_info(const struct wcp_pool *pool, struct wcpool_info *info)
{
	*info = (struct wcpool_info){ .size = sizeof(*info) };
	return pool_ioctl(pool, WCPOOL_IOC_INFO, info);
}

/*
 * Grow every page of [off, off+len) that is not there yet.  One ioctl when
 * the whole range is new (the usual case), else page by page; run by run
 * in a pool of contiguous runs, which grows only whole runs (commit.c
 * hands over whole runs).
 */
static int module_commit(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	uint64_t grain = wcpi_pool_grain(pool);
	int err = range_ioctl(pool, WCPOOL_IOC_GROW, off, len);

	if (err != -EEXIST)
		return err;
	for (uint64_t p = off; p < off + len; p += grain) {
		err = range_ioctl(pool, WCPOOL_IOC_GROW, p, grain);
		if (err && err != -EEXIST)
			return err;
	}
	return 0;
}

/*
 * A pool file is max_size long from creation and maps like a sparse file:
 * pages come with commit (GROW), so mapping more needs nothing here.
 */
static int module_extend(struct wcp_pool *pool, uint64_t size)
{
	(void)pool, (void)size;
	return 0;
}

/* Every offset below max_size can be mapped; unbacked pages fault. */
static int module_file_size(struct wcp_pool *pool, uint64_t *size)
{
	*size = pool->max_size;
	return 0;
}

static int module_release(struct wcp_pool *pool, uint64_t off, uint64_t len)
{
	return range_ioctl(pool, WCPOOL_IOC_RELEASE, off, len);
}

static int module_resident(struct wcp_pool *pool, uint64_t *bytes)
{
	struct wcpool_info info;
	int err = module_info(pool, &info);

	if (!err)
		*bytes = info.grown_size;
	return err;
}

static int module_open_read_only(const struct wcp_pool *pool)
{
	struct wcpool_dup dup = {
		.size = sizeof(dup),
		.flags = WCPOOL_DUP_READONLY | WCPOOL_DUP_CLOEXEC,
	};
	int err = pool_ioctl(pool, WCPOOL_IOC_DUP, &dup);

	return err ? err : dup.fd;
}

static uint32_t to_module_policy(uint32_t policy);

static int module_register(struct wcp_pool *pool, const void *ptr, size_t len,
			   const struct wcp_register_options *o, int *fd,
			   uint32_t *nr_segments)
{
	/* Default: what the view allows (a read-only view: device reads). */
	uint32_t access = o->access ? o->access :
			  pool->read_only ? WCP_ACCESS_READ :
			  WCP_ACCESS_READ | WCP_ACCESS_WRITE;
	struct wcpool_register r = {
		.size = sizeof(r),
		.flags = WCPOOL_REG_CLOEXEC |
			 (access & WCP_ACCESS_READ ? WCPOOL_REG_READ : 0) |
			 (access & WCP_ACCESS_WRITE ? WCPOOL_REG_WRITE : 0),
		.addr = (uintptr_t)ptr,
		.length = len,
		.align = o->align,
		.policy = o->policy ? WCPOOL_REG_POLICY(to_module_policy(o->policy))
				    : WCPOOL_REG_POLICY_ANY,
		.addr_bits = o->addr_bits,
		.max_segments = o->max_segments,
		.max_seg_size = (uint32_t)o->max_seg_size,
	};
	int err = pool_ioctl(pool, WCPOOL_IOC_REGISTER, &r);

	/* A module older than the constraints: it cannot check them. */
	if (err == -E2BIG)
		return -EOPNOTSUPP;

	if (err)
		return err;
	*fd = r.fd;
	*nr_segments = r.nr_segments;
	return 0;
}

static int module_segments(const struct wcp_pool *pool, int dmabuf,
			   struct wcp_segment *seg, size_t max)
{
	struct wcpool_segments s = {
		.size = sizeof(s),
		.dmabuf = dmabuf,
		.count = max > UINT32_MAX ? UINT32_MAX : (uint32_t)max,
		.segments = (uintptr_t)seg,
	};
	int err;

	/* struct wcp_segment and struct wcpool_segment are the same layout. */
	_Static_assert(sizeof(struct wcp_segment) ==
		       sizeof(struct wcpool_segment), "segment layout");
	err = pool_ioctl(pool, WCPOOL_IOC_SEGMENTS, &s);
	return err ? err : (int)s.count;
}

static uint32_t module_export_path(const struct wcp_pool *pool)
{
	(void)pool;
	return WCP_EXPORT_MODULE;
}

static const struct wcpi_backend_ops module_ops = {
	.map_whole = true,
	.export_path = module_export_path,
	.extend = module_extend,
	.file_size = module_file_size,
	.commit = module_commit,
	.release = module_release,
	.resident = module_resident,
	.open_read_only = module_open_read_only,
	.register_range = module_register,
	.segments = module_segments,
};

static uint32_t to_module_policy(uint32_t policy)
{
	switch (policy) {
	case WCP_POLICY_UC:
		return WCPOOL_POLICY_UC;
	case WCP_POLICY_WB:
		return WCPOOL_POLICY_WB;
	default:
		return WCPOOL_POLICY_WC;
	}
}

static uint32_t from_module_policy(uint32_t policy)
{
	switch (policy) {
	case WCPOOL_POLICY_UC:
		return WCP_POLICY_UC;
	case WCPOOL_POLICY_WB:
		return WCP_POLICY_WB;
	default:
		return WCP_POLICY_WC;
	}
}

bool wcpi_module_present(void)
{
	return access(WCP_MODULE_DEVICE, F_OK) == 0;
}

/*
 * The address limit and run size in force, as the module reports them:
 * what wcp_pool_info() says and the unit commit.c grows in.
 */
static int module_read_fit(struct wcp_pool *pool)
{
	struct wcpool_info info;
	int err = module_info(pool, &info);

	if (err)
		return err;
	pool->addr_bits = info.addr_bits;
	pool->contig_size = info.contig_size;
	return 0;
}

int wcpi_module_open(struct wcp_pool *pool, const struct wcp_pool_options *o,
		    uint64_t max_size)
{
	struct wcpool_create c = {
		.size = sizeof(c),
		.flags = WCPOOL_CREATE_CLOEXEC |
			 (o->flags & WCP_POOL_DMA32 ? WCPOOL_CREATE_DMA32 : 0),
		.policy = to_module_policy(o->policy),
		.page_shift = WCPOOL_PAGE_SHIFT_2M,
		.max_size = max_size,
		.map_mode = WCPOOL_MAP_PTE,
		.addr_bits = o->addr_bits,
		.contig_size = o->contig_size,
	};
	int dev, err;

	if (o->page_size && o->page_size != WCP_PAGE_2M)
		return -EOPNOTSUPP;
	dev = open(WCP_MODULE_DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	err = ioctl(dev, WCPOOL_IOC_CREATE, &c) ? -errno : 0;
	close(dev);
	if (err)
		return err;
	pool->fd = c.fd;
	pool->page_size = WCP_PAGE_2M;
	pool->ops = &module_ops;
	pool->backend = WCP_BACKEND_MODULE;
	pool->policy = from_module_policy(c.policy);
	err = module_read_fit(pool);
	/* The library's unit, checked: commit.c would grow bad ranges. */
	if (!err && (pool->contig_size != o->contig_size ||
		     max_size % wcpi_pool_grain(pool)))
		err = -EPROTO;
	return err;
}

/* A pool fd received from another process; the view is reserved already. */
int wcpi_module_adopt(struct wcp_pool *pool, int fd)
{
	struct wcpool_info info;
	int err;

	pool->fd = fd;
	pool->ops = &module_ops;
	pool->backend = WCP_BACKEND_MODULE;
	err = module_info(pool, &info);
	if (err)
		return err;
	if (info.page_shift != WCPOOL_PAGE_SHIFT_2M ||
	    info.max_size != pool->max_size)
		return -EINVAL;
	pool->policy = from_module_policy(info.policy);
	pool->addr_bits = info.addr_bits;
	pool->contig_size = info.contig_size;
	return 0;
}
