/* SPDX-License-Identifier: MIT */
/*
 * wcpool.h - malloc-style allocation of device buffers from huge-page pools
 * whose cache policy (write-combine, uncached or write-back) is fixed when
 * the pool is created.
 *
 * Model
 * -----
 * A *pool* is one file of huge pages (a memfd, or a pool fd of the wcpool
 * kernel module) mapped at one virtual address reservation: the byte at file
 * offset O lives at base + O.  Because of that an *offset* is a pointer's
 * identity in every process that maps the pool.  Allocations are carved out of
 * the pool by private jemalloc arenas whose bookkeeping lives in ordinary
 * memory: the allocator never reads or writes pool memory, which matters when
 * that memory is write-combining or uncached.
 *
 * Conventions
 * -----------
 * - Pool-level calls return 0 on success or a negative errno value
 *   (liburing style); they do not set errno.
 * - Allocation calls behave like their C library namesakes: they return NULL
 *   and set errno (ENOMEM, EINVAL) on failure.
 * - Misuse that would corrupt memory (freeing a pointer that is not a live
 *   allocation of the pool, a double free) is reported on stderr and the
 *   process aborts, like glibc's "free(): invalid pointer".
 * - After fork() the child shares the parent's pool pages (they are a
 *   shared mapping) but not its allocator: allocating from the parent's
 *   pools fails with EPERM, freeing into them aborts, wcp_pool_trim()
 *   returns -EPERM and wcp_pool_destroy() only drops the child's view.
 * - All calls are thread safe.  Any thread may free what another allocated.
 *   Each thread caches blocks up to 64 KiB of the last four pools it used,
 *   so they take no lock: 64 KiB worth of each small size class (at least
 *   8 blocks), 8 blocks of each larger class up to 32 KiB and 4 above, up
 *   to about 4 MiB per thread and pool; a cache only ever holds its own
 *   pool's memory.  When a thread exits, its caches go back to
 *   their pools, still filled, for the next new thread to adopt;
 *   wcp_pool_trim() and wcp_pool_destroy() empty them (a running thread
 *   empties its own at its next call after a trim).
 *
 * Linking libwcpool does not change the application's own malloc: jemalloc
 * is loaded as an ordinary shared library dependency and glibc's malloc,
 * which the executable finds first, stays the process allocator.  Pool
 * memory is only ever handed out by the wcp_* calls below.
 */
#ifndef WCPOOL_H
#define WCPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header; wcp_version() gives the library's. */
#define WCP_VERSION_MAJOR 0
#define WCP_VERSION_MINOR 4
#define WCP_VERSION_PATCH 0
#define WCP_VERSION_STRING "0.4.0"
/** True if this header is version @major.@minor.@patch or later. */
#define WCP_CHECK_VERSION(major, minor, patch)                              \
	(WCP_VERSION_MAJOR > (major) ||                                    \
	 (WCP_VERSION_MAJOR == (major) && WCP_VERSION_MINOR > (minor)) ||  \
	 (WCP_VERSION_MAJOR == (major) && WCP_VERSION_MINOR == (minor) &&  \
	  WCP_VERSION_PATCH >= (patch)))

/*
 * What the compiler may know about the allocation calls: the result
 * aliases nothing (malloc), its size and alignment (for
 * __builtin_object_size and _FORTIFY_SOURCE), that it must be used, and
 * which call frees it (GCC 11+: -Wmismatched-dealloc).
 */
#if defined(__GNUC__) || defined(__clang__)
#define WCP_MALLOC_LIKE __attribute__((malloc, warn_unused_result))
#define WCP_WARN_UNUSED __attribute__((warn_unused_result))
#define WCP_ALLOC_SIZE(...) __attribute__((alloc_size(__VA_ARGS__)))
#define WCP_ALLOC_ALIGN(n) __attribute__((alloc_align(n)))
#else
#define WCP_MALLOC_LIKE
#define WCP_WARN_UNUSED
#define WCP_ALLOC_SIZE(...)
#define WCP_ALLOC_ALIGN(n)
#endif
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define WCP_FREED_BY_WCP_FREE __attribute__((malloc(wcp_free, 2)))
#else
#define WCP_FREED_BY_WCP_FREE
#endif

/**
 * wcp_version() - the library's version at run time, as "MAJOR.MINOR.PATCH";
 * each of @major, @minor, @patch that is not NULL receives its part.
 */
const char *wcp_version(unsigned *major, unsigned *minor, unsigned *patch);

/** Where pool memory comes from. */
enum wcp_backend {
	/** /dev/wcpool if present, else a memfd. */
	WCP_BACKEND_AUTO = 0,
	/** The wcpool kernel module (/dev/wcpool); fixed WC/UC/WB policy. */
	WCP_BACKEND_MODULE = 1,
	/** memfd_create(): MFD_HUGETLB pages when reserved, else 4 KiB pages. */
	WCP_BACKEND_MEMFD = 2,
};

/** Cache policy of every mapping of the pool, fixed at creation. */
enum wcp_policy {
	/** Write-combine where the backend can do it, else write-back. */
	WCP_POLICY_DEFAULT = 0,
	/** Write-combine: streaming CPU writes, uncached reads. */
	WCP_POLICY_WC = 1,
	/** Uncached: every access goes to memory. */
	WCP_POLICY_UC = 2,
	/** Write-back: ordinary cached memory. */
	WCP_POLICY_WB = 3,
};

/** wcp_pool_options.flags */
enum wcp_pool_flags {
	/**
	 * If the backend cannot provide the requested WC or UC policy, fall
	 * back to WB instead of failing with -EOPNOTSUPP.  wcp_pool_info()
	 * reports the policy in use.
	 */
	WCP_POOL_ALLOW_WB_FALLBACK = 1u << 0,
	/**
	 * Every page below 4 GiB of physical address, for devices with a
	 * 32-bit DMA mask and no IOMMU: the same as addr_bits 32.
	 * wcpool.ko only (WCP_BACKEND_AUTO then needs the module):
	 * -EOPNOTSUPP on the memfd backend, which cannot choose where its
	 * pages are.
	 */
	WCP_POOL_DMA32 = 1u << 1,
};

#define WCP_PAGE_4K ((size_t)4 << 10)
#define WCP_PAGE_2M ((size_t)2 << 20)
#define WCP_PAGE_1G ((size_t)1 << 30)

/** Default wcp_pool_options.max_size (virtual reservation, not memory). */
#define WCP_DEFAULT_MAX_SIZE ((size_t)64 << 30)

/**
 * Options for wcp_pool_create().  Zero-initialise and set what you need:
 * every zero field means "default".
 */
struct wcp_pool_options {
	/** enum wcp_backend; 0 = WCP_BACKEND_AUTO. */
	uint32_t backend;
	/** enum wcp_policy; 0 = WCP_POLICY_DEFAULT. */
	uint32_t policy;
	/**
	 * 0: huge pages (2 MiB) when the system has free ones, else 4 KiB.
	 * WCP_PAGE_2M or WCP_PAGE_1G: those huge pages or fail (-ENOMEM).
	 * WCP_PAGE_4K: ordinary pages.
	 */
	uint64_t page_size;
	/**
	 * Most bytes the pool may ever map (rounded up to page_size); 0 =
	 * WCP_DEFAULT_MAX_SIZE.  Address space of this size is reserved at
	 * creation; memory is committed only as allocations need it.
	 */
	uint64_t max_size;
	/** enum wcp_pool_flags; unknown bits give -EINVAL. */
	uint32_t flags;
	/**
	 * 0: pages anywhere.  24 to 64: every page below 2^addr_bits of
	 * physical address, for a device with that DMA mask and no IOMMU
	 * (24: ZONE_DMA, 16 MiB in all).  wcpool.ko only, as WCP_POOL_DMA32
	 * (with which only 0 or 32 go): -EOPNOTSUPP on the memfd backend
	 * below 64.  Other values: -EINVAL.  (Was a reserved field that had
	 * to be 0: the ABI is unchanged.)
	 */
	uint32_t addr_bits;
	/*
	 * The fields above are the whole struct of wcpool 0.1 to 0.3 (32
	 * bytes); programs built against those headers call the old
	 * wcp_pool_create (symbol version WCPOOL_0.1), which reads only
	 * them.  Since 0.4:
	 */
	/**
	 * 0: pages wherever they come.  Otherwise the pool's pages come in
	 * physically contiguous runs of this many bytes, a multiple of 2 MiB
	 * up to 1 GiB (WCP_CONTIG_MAX), each aligned in physical memory to
	 * the largest power of two that divides it: a buffer that lies in one
	 * run is one contiguous range to a device without an IOMMU or
	 * scatter-gather (wcp_register() with max_segments 1).  The pool's
	 * address reservation is aligned the same way, so a buffer no longer
	 * than that power of two and aligned to it lies in one run.  The pool
	 * commits and releases memory in whole runs (a run's memory goes
	 * back to the system when nothing in it is allocated any more), and
	 * max_size is rounded up to a multiple of it.  Other values:
	 * -EINVAL, before anything is made.  wcpool.ko only, whose pages are
	 * 2 MiB: -EOPNOTSUPP on the memfd backend and with page_size 4 KiB or
	 * 1 GiB (WCP_BACKEND_AUTO then needs the module), and from wcpool.ko
	 * on a kernel that makes no runs (Linux 6.1; 6.12 makes them).  Goes
	 * with addr_bits and WCP_POOL_DMA32: the runs lie below the limit.
	 */
	uint64_t contig_size;
	/** Zero: room for later options without a new symbol version. */
	uint64_t reserved[3];
};

/** Longest physically contiguous run of a pool (wcp_pool_options.contig_size). */
#define WCP_CONTIG_MAX ((uint64_t)1 << 30)

/** What a pool actually got, as opposed to what was asked for. */
struct wcp_pool_info {
	uint32_t backend;	/**< WCP_BACKEND_MODULE or WCP_BACKEND_MEMFD */
	uint32_t policy;	/**< WCP_POLICY_WC, _UC or _WB */
	uint64_t page_size;	/**< 4 KiB, 2 MiB or 1 GiB */
	uint64_t max_size;	/**< size of the address reservation */
	void *base;		/**< address of pool offset 0 in this process */
	bool imported;		/**< a view from wcp_pool_import(): no allocation */
	bool read_only;		/**< mapped without write permission */
	/** How wcp_register() exports ranges: enum wcp_export_path. */
	uint32_t export_path;
	/*
	 * The fields above are the whole struct of wcpool 0.1 to 0.3 (40
	 * bytes), all that the old wcp_pool_info (symbol version WCPOOL_0.1)
	 * writes for programs built against those headers.  Since 0.4:
	 */
	/**
	 * Every page lies below 2^addr_bits of physical address, as
	 * wcpool.ko reports the pool (WCPOOL_IOC_INFO): 24 to 64 as created
	 * (32 for WCP_POOL_DMA32), 0 for no limit.  Always 0 on the memfd
	 * backend, whose pages are wherever they come.
	 */
	uint32_t addr_bits;
	uint32_t reserved0;	/**< 0 */
	/**
	 * Length of the pool's physically contiguous runs in bytes, as
	 * wcpool.ko reports the pool (wcp_pool_options.contig_size); 0: not
	 * a pool of runs (always on the memfd backend).
	 */
	uint64_t contig_size;
	/** 0: room for later fields without a new symbol version. */
	uint64_t reserved[4];
};

/** wcp_pool_info.export_path: what makes a registration's dma-buf. */
enum wcp_export_path {
	/** No dma-bufs here: wcp_register() checks, then -EOPNOTSUPP. */
	WCP_EXPORT_NONE = 0,
	/** wcpool.ko exports the range with the pool's policy. */
	WCP_EXPORT_MODULE = 1,
	/**
	 * The kernel's udmabuf (/dev/udmabuf; Linux 6.12 on Debian) exports
	 * the range of a writable memfd pool, write-back.
	 */
	WCP_EXPORT_UDMABUF = 2,
};

/** Where the pool's bytes went.  Every field is a snapshot. */
struct wcp_pool_stats {
	/**
	 * Bytes of the pool file in use from base, growing in page_size
	 * steps (huge-page pools map all of max_size at once, as one
	 * mapping, and commit pages as they grow).
	 */
	uint64_t mapped;
	/** Bytes of memory actually backing the pool file right now. */
	uint64_t resident;
	/**
	 * Bytes in allocator pages holding at least part of an allocation or
	 * of a block cached by a thread.
	 */
	uint64_t active;
	/** Sum of wcp_usable_size() over live allocations. */
	uint64_t allocated;
	/** Number of live allocations. */
	uint64_t allocations;
	/**
	 * Bytes of memory on ordinary pages that a default pool (page size
	 * 0) took once the system's huge pages ran out (part of resident).
	 */
	uint64_t spilled;
};

struct wcp_pool;

/* Declared here for WCP_FREED_BY_WCP_FREE; documented below. */
void wcp_free(struct wcp_pool *pool, void *ptr);

/**
 * wcp_pool_create() - create a pool.
 * @opts: options, or NULL for all defaults.
 * @poolp: receives the pool.
 *
 * Return: 0, or -EINVAL (unknown flag or backend, page size not 0/4K/2M/1G,
 * addr_bits not 0 or 24..64 (0 or 32 with WCP_POOL_DMA32), contig_size not
 * 0 or a multiple of 2 MiB up to 1 GiB, max_size too large, non-zero
 * reserved), -ENODEV (WCP_BACKEND_MODULE without /dev/wcpool),
 * -EOPNOTSUPP (policy the backend cannot give and no fallback allowed;
 * addr_bits below 64, WCP_POOL_DMA32 or contig_size without wcpool.ko;
 * contig_size with a page size other than 2 MiB, or where the kernel makes
 * no contiguous runs), -ENOMEM (no huge pages although page_size demanded
 * them, or no memory), or another negative errno from the system call that
 * failed.
 *
 * Programs built against wcpool 0.3 or older headers, whose options end
 * with addr_bits, call the old version of this function (WCPOOL_0.1),
 * which reads no byte past it and makes the same pools (contig_size 0).
 */
int wcp_pool_create(const struct wcp_pool_options *opts,
		    struct wcp_pool **poolp);

/**
 * wcp_pool_destroy() - unmap the pool and release its memory.
 *
 * Every allocation of the pool becomes invalid at once, live or not.  Other
 * processes that imported the pool keep their mappings until they destroy
 * their view.  NULL is accepted and ignored.
 */
void wcp_pool_destroy(struct wcp_pool *pool);

/**
 * wcp_pool_info() - backend, policy, page size, address limit and
 * contiguous run size in use.  Programs built against wcpool 0.3 or older
 * headers call the old version (WCPOOL_0.1), which writes only the old
 * struct's 40 bytes.
 * Return: 0, or -EINVAL if @pool or @info is NULL.
 */
int wcp_pool_info(const struct wcp_pool *pool, struct wcp_pool_info *info);

/** wcp_pool_stats() - current statistics.  Return: 0 or -errno. */
int wcp_pool_stats(struct wcp_pool *pool, struct wcp_pool_stats *stats);

/**
 * wcp_pool_trim() - give memory of freed allocations back to the system now
 * instead of after the allocator's decay time (like malloc_trim()).
 *
 * Empties the pool's caches of exited threads and the calling thread's
 * first.  Other running threads empty theirs at their next call into the
 * pool (a cache belongs to its thread); what that frees goes back after the
 * decay time or at the next trim.
 *
 * Freed frames (buffers of three quarters of a huge page or more, which
 * take whole pages) keep their pages committed on a decay: a page unused
 * for WCPOOL_DECAY_MS milliseconds (default 10000) is released at the
 * pool's next frame allocation or free after that (an idle pool keeps
 * them until then or a trim), pages beyond WCPOOL_FRAME_CACHE bytes
 * (default 1G) at once, all of them when fresh pages cannot be had; both
 * read at pool creation (see wcp_pool_info(3)).  A trim releases all of
 * them.
 *
 * Return: 0, -EINVAL (NULL pool) or -EPERM (the parent's pool in a fork()
 * child), or another -errno.
 */
int wcp_pool_trim(struct wcp_pool *pool);

/**
 * wcp_malloc() - allocate @size bytes from @pool.
 *
 * Alignment is that of malloc() (16 bytes) or better; a size of 0 gives a
 * unique minimal allocation.  Return: the allocation, or NULL with errno
 * ENOMEM (pool max_size or system memory exhausted; also for anything but
 * whole-page frames when called while the thread exits, from a
 * thread-specific-data destructor that runs after jemalloc's own cleanup
 * of the thread: jemalloc then serves only its default arena) or EPERM
 * (imported pool, or the parent's pool in a fork() child).
 */
void *wcp_malloc(struct wcp_pool *pool, size_t size)
	WCP_MALLOC_LIKE WCP_ALLOC_SIZE(2) WCP_FREED_BY_WCP_FREE;

/** wcp_calloc() - like calloc(): zeroed, with overflow check (ENOMEM). */
void *wcp_calloc(struct wcp_pool *pool, size_t nmemb, size_t size)
	WCP_MALLOC_LIKE WCP_ALLOC_SIZE(2, 3) WCP_FREED_BY_WCP_FREE;

/**
 * wcp_realloc() - like realloc(): keeps min(old, new) bytes, may move.
 *
 * @ptr NULL behaves like wcp_malloc().  @size 0 frees @ptr and returns NULL.
 * On failure returns NULL with errno ENOMEM and leaves @ptr untouched.
 */
void *wcp_realloc(struct wcp_pool *pool, void *ptr, size_t size)
	WCP_WARN_UNUSED WCP_ALLOC_SIZE(3);

/**
 * wcp_aligned_alloc() - allocate @size bytes aligned to @alignment.
 *
 * @alignment must be a power of two no larger than 1 GiB (errno EINVAL
 * otherwise); @size need not be a multiple of it.
 */
void *wcp_aligned_alloc(struct wcp_pool *pool, size_t alignment, size_t size)
	WCP_MALLOC_LIKE WCP_ALLOC_ALIGN(2) WCP_ALLOC_SIZE(3)
	WCP_FREED_BY_WCP_FREE;

/**
 * wcp_free() - free an allocation of @pool.  NULL is ignored.
 *
 * Aborts with a message if @ptr is not a live allocation of @pool (foreign
 * pointer, interior pointer, double free).  Two threads freeing the same
 * block at the same instant are caught later, when the block would be
 * handed out twice.  A small block freed by a thread of another of the
 * pool's arenas than its own goes home in a batch, without touching the
 * bookkeeping its arena's threads write: its double free or interior
 * pointer is caught there, when a thread of that arena takes the batch
 * back (at the latest at wcp_pool_trim()), by that thread.
 */
void wcp_free(struct wcp_pool *pool, void *ptr);

/**
 * wcp_usable_size() - bytes usable at @ptr (>= the size asked for).
 *
 * Return: 0 for NULL; aborts like wcp_free() for a pointer that is not a
 * live allocation of @pool.
 */
size_t wcp_usable_size(struct wcp_pool *pool, const void *ptr);

/**
 * wcp_owns() - does @ptr point into @pool's address range?
 *
 * True for any address inside the pool's reservation (also interior and
 * freed ones): use it to route a pointer to its pool, not to prove that it
 * is live.
 */
bool wcp_owns(const struct wcp_pool *pool, const void *ptr);

/* ---- Sharing between processes ---------------------------------------- */

/** Offset returned by wcp_offset() for a pointer outside the pool. */
#define WCP_OFFSET_INVALID UINT64_MAX

/** wcp_offset() - pool offset of @ptr, or WCP_OFFSET_INVALID. */
uint64_t wcp_offset(const struct wcp_pool *pool, const void *ptr);

/**
 * wcp_pointer() - the address of pool offset @offset in this process.
 *
 * In an imported view, offsets the owner mapped after the import are mapped
 * here on demand; views of huge-page pools (wcpool.ko, hugetlb memfd) map
 * all of max_size at once, where memory the owner has not committed faults
 * (SIGBUS) or, on a writable hugetlb view, takes a huge page.  Return: the
 * address, or NULL with errno ERANGE if @offset is not (yet) part of the
 * pool.
 */
void *wcp_pointer(struct wcp_pool *pool, uint64_t offset);

/** What another process needs, besides the fd, to map a pool. */
struct wcp_pool_share {
	uint32_t magic;		/**< WCP_SHARE_MAGIC */
	uint32_t backend;	/**< enum wcp_backend in use */
	uint32_t policy;	/**< enum wcp_policy in use */
	uint32_t flags;		/**< enum wcp_share_flags */
	uint64_t page_size;
	uint64_t max_size;
};

#define WCP_SHARE_MAGIC 0x77637031u /* "wcp1" */

/** wcp_pool_share.flags */
enum wcp_share_flags {
	/**
	 * wcp_pool_send() sent a second fd: the 4 KiB pages a default pool
	 * spilled onto (see wcp_pool_stats().spilled), offsets from
	 * max_size on.  wcp_pool_export() never sets it: its fd covers the
	 * huge pages, and wcp_pool_import() refuses it (-EINVAL).
	 */
	WCP_SHARE_SPILLED = 1u << 0,
};

/** wcp_pool_export() and wcp_pool_send() flags */
enum wcp_export_flags {
	/**
	 * The fd is read-only: whoever receives it can map the pool only
	 * without PROT_WRITE, and cannot mprotect() it writable either.  The
	 * way to share with a less trusted process.
	 */
	WCP_EXPORT_READ_ONLY = 1u << 0,
};

/**
 * wcp_pool_export() - a new fd for the pool file and its description.
 * @flags: enum wcp_export_flags.
 *
 * The caller owns the returned fd (close it when sent).  Return: the fd
 * (>= 0), -EINVAL (unknown flags) or another -errno.
 */
int wcp_pool_export(const struct wcp_pool *pool, uint32_t flags,
		    struct wcp_pool_share *share);

/** wcp_pool_import() and wcp_pool_recv() flags */
enum wcp_import_flags {
	/** Map without PROT_WRITE even if the fd would allow writing. */
	WCP_IMPORT_READ_ONLY = 1u << 0,
};

/**
 * wcp_pool_import() - map a pool exported by another process.
 * @fd: the pool file; the view keeps its own duplicate, the caller may close
 *      @fd afterwards.
 * @share: the description from wcp_pool_export().
 * @flags: enum wcp_import_flags.
 *
 * The view sees the same bytes at the same offsets as the owner.  It cannot
 * allocate (wcp_malloc() fails with EPERM).  A read-only @fd (see
 * WCP_EXPORT_READ_ONLY) always gives a read-only view.
 *
 * Return: 0, or -EINVAL (bad magic, sizes, flags), -EBADF or another -errno.
 */
int wcp_pool_import(int fd, const struct wcp_pool_share *share,
		    uint32_t flags, struct wcp_pool **poolp);

/**
 * wcp_pool_send() - send the pool over a connected UNIX socket (SCM_RIGHTS)
 * as wcp_pool_export() with @flags would give it.  Return: 0 or -errno.
 */
int wcp_pool_send(const struct wcp_pool *pool, int sock, uint32_t flags);

/**
 * wcp_pool_recv() - receive a pool sent with wcp_pool_send() and import it.
 * Return: 0, -EPROTO (message was not a wcpool share), or -errno.
 */
int wcp_pool_recv(int sock, uint32_t flags, struct wcp_pool **poolp);

/* ---- Registration with devices ---------------------------------------- */
/*
 * A device gets pool memory by *registration*, V4L2 USERPTR style: any range
 * of a pool can be registered, and the device's constraints (alignment,
 * cache policy, pages present) are checked then, not at allocation.
 */

/** What the device does with a registered range (wcp_register_options). */
enum wcp_access {
	WCP_ACCESS_READ = 1u << 0,	/**< the device reads it */
	WCP_ACCESS_WRITE = 1u << 1,	/**< the device writes it */
};

/** Constraints of wcp_register().  Zero-initialise; zero = no constraint. */
struct wcp_register_options {
	/** enum wcp_access bits; 0: read and write (read-only views: read). */
	uint32_t access;
	/** The policy the device needs (enum wcp_policy); 0 = any. */
	uint32_t policy;
	/** Required alignment of the start (a power of two); 0 = 4 KiB. */
	uint64_t align;
	/**
	 * The device's DMA mask, where it has no IOMMU: every page of the
	 * range below 2^addr_bits of physical address; 0 = any, else 12-64.
	 */
	uint32_t addr_bits;
	/** Most physically contiguous runs it takes (1: one); 0 = any. */
	uint32_t max_segments;
	/**
	 * Longest run it takes: a multiple of 4 KiB up to 1 GiB, 0 = 1 GiB;
	 * runs are cut at it (wcp_registration_segments() lists them so).
	 */
	uint64_t max_seg_size;
};

/** A physically contiguous run of a registration, relative to its start. */
struct wcp_segment {
	uint64_t offset;
	uint64_t length;
};

struct wcp_registration;

/**
 * wcp_register() - pin [@ptr, @ptr + @len) of @pool and export it to
 * devices as a dma-buf.
 * @opts: constraints, or NULL for none.
 * @regp: receives the registration; free it with wcp_unregister().
 *
 * @ptr and @len must be multiples of 4 KiB (use wcp_aligned_alloc()), and
 * the range must lie within the pool's memory.  While registered, the
 * range's pages stay put: the pool does not give them back to the system.
 * The dma-buf fd (wcp_registration_fd()) goes to V4L2 (V4L2_MEMORY_DMABUF),
 * DRM (PRIME), RDMA and any other dma-buf importer.
 *
 * A read-only view (WCP_IMPORT_READ_ONLY, WCP_EXPORT_READ_ONLY) registers
 * for device reads only: @opts->access 0 means WCP_ACCESS_READ there, and
 * the dma-buf cannot be mapped writable.  If the application frees memory
 * of a registered range, the pool keeps its pages until wcp_unregister()
 * (and, if the dma-buf lives on in an importer or another fd, until a
 * wcp_pool_trim() after that).
 *
 * The device constraints of @opts (addr_bits, max_segments, max_seg_size)
 * are checked against the pages by wcpool.ko; a pool without it cannot
 * see its physical pages and refuses them (-EOPNOTSUPP) rather than pass
 * them unchecked.  Pages that do not meet them move: wcpool.ko copies
 * every 2 MiB page the range touches onto pages that do (one contiguous
 * run for max_segments, on kernels that make runs: 6.12; pages below the
 * limit for addr_bits) and the mappings refault onto them, same addresses,
 * same bytes (neighbours in those pages included).  It costs a 2 MiB
 * allocation and copy per page, and page faults on the pool wait during
 * the copy.  Pages that another registration, a GUP pin (io_uring fixed
 * buffers, V4L2 USERPTR) or a pipe holds do not move: -ERANGE.  The same
 * move happens later, in the kernel, when a device without an IOMMU maps
 * the dma-buf and cannot reach a page (and no other device has it mapped):
 * pointers stay valid; where the move cannot be made the driver's map
 * fails (wcp_register(3), "Moving to fit").
 *
 * Return: 0, or
 * -EINVAL (NULL @pool or @regp, unaligned, empty or overflowing range, bad
 * alignment or option: addr_bits not 0 or 12-64, max_seg_size not a
 * multiple of 4 KiB up to 1 GiB),
 * -ERANGE (range not inside the memory the pool has grown to, or its pages
 * do not meet the device constraints and cannot move: held as above,
 * max_seg_size cutting even one run into more than max_segments, addr_bits
 * below 24, max_segments over several 2 MiB pages without contiguous runs
 * (6.1)),
 * -EACCES (the pool's policy is not the one required, or write access
 * asked of a read-only view),
 * -ENXIO (part of the range has no memory behind it: never allocated, or
 * freed and given back to the system),
 * -ENOMEM, -EMFILE, -ENFILE (no memory or no fd for the dma-buf, or no
 * pages that meet the constraints to move the range to),
 * -EINTR (a move was interrupted by a fatal signal; nothing moved),
 * -EOPNOTSUPP (device constraints on a pool without wcpool.ko, or an
 * older wcpool.ko that cannot check them; or the constraints hold but
 * nothing here makes dma-bufs:
 * wcp_pool_info()'s export_path is WCP_EXPORT_NONE, i.e. no wcpool.ko
 * behind the pool and no /dev/udmabuf, or a read-only view of a memfd
 * pool; such pools reach devices through io_uring, see
 * wcp_uring_register()).
 *
 * The dma-buf comes from wcpool.ko (the pool's policy; segments known) or,
 * for a writable memfd pool where the kernel has /dev/udmabuf (Debian's
 * 6.12), from udmabuf (write-back; wcp_registration_segments() says
 * -EOPNOTSUPP).
 *
 * Registrations are reused: while a registration of the same range of
 * @pool with the same access (0 counted as what it means here), addr_bits,
 * max_segments and max_seg_size is live, wcp_register() returns it again
 * (the same dma-buf fd, so an importer such as vb2 keeps its attachment
 * and mapping) and counts one more reference; each call needs its own
 * wcp_unregister().  The checks above run for every call.  Other
 * constraints, another range, or an imported view (which has
 * registrations of its own) make a new one.  The lookup is a binary
 * search in the pool's live registrations, under a lock.
 */
int wcp_register(struct wcp_pool *pool, const void *ptr, size_t len,
		 const struct wcp_register_options *opts,
		 struct wcp_registration **regp);

/**
 * wcp_unregister() - drop a reference to a registration (one per
 * wcp_register() that returned it); the last one closes its dma-buf fd.
 * The pages stay pinned until every importer has let go of the dma-buf too.
 *
 * Return: 0, or -ENOENT if @reg is not a live registration of @pool
 * (unregistered more often than registered, another pool's registration);
 * @reg is not read then.
 */
int wcp_unregister(struct wcp_pool *pool, struct wcp_registration *reg);

/** wcp_registration_fd() - the dma-buf fd, owned by the registration. */
int wcp_registration_fd(const struct wcp_registration *reg);

/**
 * wcp_registration_segments() - the physically contiguous runs of the
 * registration (2 MiB pages give few), at most @max of them into @seg.
 *
 * Return: the number of runs (which may exceed @max), or -errno.
 */
int wcp_registration_segments(const struct wcp_registration *reg,
			      struct wcp_segment *seg, size_t max);

/**
 * A device buffer of its own, outside any pool: a dma-buf and its mapping
 * in this process (wcp_dmabuf_alloc()).
 */
struct wcp_dmabuf {
	int fd;			/**< the dma-buf fd (O_CLOEXEC), for importers */
	uint32_t policy;	/**< enum wcp_policy the memory has */
	void *map;		/**< read-write mapping of all of it */
	size_t size;		/**< bytes: the size asked, rounded up to 4 KiB */
};

/** wcp_dmabuf_alloc() flags */
enum wcp_dmabuf_flags {
	/** No WC/UC provider: take write-back memory instead of failing. */
	WCP_DMABUF_ALLOW_WB_FALLBACK = 1u << 0,
};

/**
 * wcp_dmabuf_alloc() - allocate a dma-buf of @size bytes with cache policy
 * @policy (enum wcp_policy) and map it, for programs that want many device
 * buffers without a pool each.
 *
 * The memory comes from wcpool.ko's dma-heap node of the policy
 * (/dev/dma_heap/wcpool-wc, -uc, -wb: the size rounded up to 4 KiB, in
 * 2 MiB pages that small buffers share; physically contiguous up to
 * 2 MiB); without the module, write-back
 * buffers come from the kernel's own "system" dma-heap where it has one
 * (Linux 6.12 on Debian).  WCP_POLICY_DEFAULT is WC where wcpool.ko is
 * loaded, else write-back.  @buf->policy says what was given.  The nodes
 * are opened once per process, O_CLOEXEC.
 *
 * Return: 0, or -EINVAL (size 0 or more than RAM, unknown policy or flag,
 * @buf NULL), -ENODEV (no provider of the policy: WC/UC without wcpool.ko
 * and without WCP_DMABUF_ALLOW_WB_FALLBACK, or no dma-heap at all),
 * -EACCES (a node exists but this user may not open it), -ENOMEM (out of
 * memory, the memory cgroup's or wcpool.ko's limit), or another -errno of
 * open(), ioctl() or mmap().  On failure nothing is left open.
 */
int wcp_dmabuf_alloc(size_t size, uint32_t policy, uint32_t flags,
		     struct wcp_dmabuf *buf);

/**
 * wcp_dmabuf_free() - unmap and close a buffer of wcp_dmabuf_alloc(); the
 * memory goes when importers holding the dma-buf let go of it too.
 * @buf is cleared (fd -1, map NULL).  Return: 0, or -EINVAL (@buf NULL
 * or already freed).
 */
int wcp_dmabuf_free(struct wcp_dmabuf *buf);

/** wcp_dmabuf_sync() flags, as DMA_BUF_IOCTL_SYNC's. */
enum wcp_sync_flags {
	WCP_SYNC_READ = 1u << 0,	/**< the CPU reads */
	WCP_SYNC_WRITE = 1u << 1,	/**< the CPU writes */
	WCP_SYNC_START = 0,		/**< CPU access begins */
	WCP_SYNC_END = 1u << 2,		/**< CPU access ends */
};

/**
 * wcp_dmabuf_sync() - bracket CPU access to a dma-buf (DMA_BUF_IOCTL_SYNC),
 * retrying when a signal or a fence wait interrupts it.  @flags:
 * WCP_SYNC_START or WCP_SYNC_END, with WCP_SYNC_READ and/or WCP_SYNC_WRITE.
 * On wcpool.ko's WC and UC buffers it costs a fence whatever the size.
 *
 * Return: 0, or -EINVAL (bad flags), -ENOTTY (@fd is not a dma-buf),
 * -EBADF (not an fd), or another -errno of the ioctl.
 */
int wcp_dmabuf_sync(int fd, uint32_t flags);

struct io_uring;

/**
 * wcp_uring_register() - make @pool's memory usable as io_uring fixed
 * buffers on @ring, so io_uring_prep_read_fixed()/write_fixed() work on any
 * pool buffer: wcp_uring_index() gives the buffer index for a range.  One
 * ring per pool.
 *
 * Pages are registered (pinned) on first use by wcp_uring_index(), whole
 * pool pages around the I/O range, up to 1024 ranges at a time (then the
 * oldest is replaced).  While a ring is registered the pool keeps the
 * memory of freed allocations instead of giving it back to the system: the
 * ring must never see a page the pool has replaced.  Destroy the pool, or
 * call wcp_uring_unregister(), before the ring.
 *
 * Return: 0, -EBUSY (already registered with a ring), or another -errno
 * from io_uring.
 */
int wcp_uring_register(struct wcp_pool *pool, struct io_uring *ring);

/**
 * wcp_uring_index() - the fixed-buffer index to pass with [@ptr, @ptr +
 * @len) to io_uring_prep_read_fixed()/write_fixed() on the registered ring;
 * registers the range's pages on first use.
 *
 * Return: the index (>= 0), -ENOENT (no ring registered), -ERANGE (not
 * pool memory, empty, or spanning more than 1 GiB of pool pages),
 * -EOPNOTSUPP (the kernel refuses this memory as a fixed buffer: Linux
 * before 6.5 refuses every file mapping that is not shmem or hugetlbfs,
 * i.e. wcpool.ko's), or another -errno from io_uring.
 */
int wcp_uring_index(struct wcp_pool *pool, const void *ptr, size_t len);

/**
 * wcp_uring_unregister() - unregister the pool's fixed buffers from the
 * ring.  Return: 0 or -ENOENT (none registered).
 */
int wcp_uring_unregister(struct wcp_pool *pool);

/* ---- Filling, copying and flushing ------------------------------------ */
/*
 * The stores that suit a buffer depend on the pool's cache policy and on the
 * size: ordinary stores keep a write-back buffer in the caches, where the
 * next reader finds it; non-temporal full-line stores write a large buffer,
 * or any write-combine/uncached one, straight to memory without reading the
 * lines first.  wcp_fill() and wcp_copy() choose for you; bench/wcpool-bench
 * measures every alternative on your machine and checks the choice.
 *
 * @pool may be NULL in these calls: the memory is then treated as ordinary
 * write-back memory.  The pointers need not belong to @pool (the pool only
 * names the policy) and need no particular alignment.  The environment
 * variable WCPOOL_FILL_ISA=avx2, =sse4.1 or =sse2, read at the first call,
 * keeps these calls from using wider vector instructions than that (sse2
 * also rules out SSE4.1's streaming loads).
 */

/** Store methods of wcp_fill_with() and wcp_copy_with(). */
enum wcp_store_method {
	/**
	 * Ordinary cached stores.  Fills: aligned AVX-512 or AVX2 stores of
	 * the whole lines, but memset() in the size buckets (64 KiB to twice
	 * it, and so on) where wcpool-tune(1) measured it faster on this CPU
	 * model, else from the last-level cache (at most 32 MiB) on, and
	 * without those instructions.  Copies: memcpy() within L2, rep movsb
	 * beyond it where the CPU has ERMS.
	 */
	WCP_STORE_PLAIN = 1,
	/**
	 * Non-temporal stores of every whole 64-byte line (AVX-512, AVX2 or
	 * SSE2, the widest the CPU has), ordinary stores for the partial
	 * lines at either end, then sfence.
	 */
	WCP_STORE_STREAM = 2,
};

/**
 * How wcp_copy_from() reads its source; WCP_LOAD_STREAM may be or-ed into
 * wcp_copy_with()'s store method.
 */
enum wcp_load_method {
	/** Ordinary loads (memcpy(), rep movsb). */
	WCP_LOAD_PLAIN = 0,
	/**
	 * Streaming loads (SSE4.1 MOVNTDQA; VMOVNTDQA with AVX2 or
	 * AVX-512) of every whole 64-byte line of the source, four lines at
	 * a time into registers; ordinary loads for the partial lines at
	 * either end.  From write-combine or uncached memory each line is
	 * then one burst into a streaming-load buffer instead of one
	 * uncached read per load; on write-back memory they are ordinary
	 * loads.
	 */
	WCP_LOAD_STREAM = 1u << 8,
};

/** Flush methods of wcp_flush_with(). */
enum wcp_flush_method {
	/** sfence only: drains write-combining buffers (WC, UC memory). */
	WCP_FLUSH_SFENCE = 1,
	/** clwb every line, then sfence: written back, stays cached. */
	WCP_FLUSH_CLWB = 2,
	/** clflushopt every line, then sfence: written back and evicted. */
	WCP_FLUSH_CLFLUSHOPT = 3,
	/** clflush every line (serialised), then sfence. */
	WCP_FLUSH_CLFLUSH = 4,
};

/**
 * wcp_fill() - set @len bytes at @dst to the byte @c, like memset(), with
 * the stores that suit @pool's policy and @len (see wcp_store_choice()).
 *
 * Return: @dst.
 */
void *wcp_fill(const struct wcp_pool *pool, void *dst, int c, size_t len);

/**
 * wcp_copy() - copy @len bytes from @src to @dst, like memcpy() (the ranges
 * must not overlap), storing as wcp_fill() does into memory of @pool's
 * policy.  @src is read with ordinary loads: to read a write-combine or
 * uncached pool's memory use wcp_copy_from(), which reads it with
 * streaming loads.
 *
 * Return: @dst.
 */
void *wcp_copy(const struct wcp_pool *pool, void *dst, const void *src,
	       size_t len);

/**
 * wcp_copy_from() - copy @len bytes out of memory of @src_pool's policy at
 * @src into ordinary (write-back) memory at @dst, like memcpy() (the
 * ranges must not overlap).
 *
 * A write-combine or uncached source is read with streaming loads
 * (WCP_LOAD_STREAM) where the CPU has SSE4.1 and WCPOOL_FILL_ISA allows it,
 * else, and from write-back memory (@src_pool NULL included), with
 * ordinary loads; stores are those wcp_copy(NULL, ...) uses for @len
 * (wcp_store_choice()).  The pointers need not belong to @src_pool.
 *
 * Return: @dst.
 */
void *wcp_copy_from(const struct wcp_pool *src_pool, void *dst,
		    const void *src, size_t len);

/**
 * wcp_load_choice() - the enum wcp_load_method wcp_copy_from() reads
 * @src_pool's memory with: WCP_LOAD_STREAM from write-combine and
 * uncached pools where the CPU (and WCPOOL_FILL_ISA) allows SSE4.1, else
 * WCP_LOAD_PLAIN.
 */
int wcp_load_choice(const struct wcp_pool *src_pool);

/**
 * wcp_flush() - make the bytes in [@ptr, @ptr + @len) visible to a device
 * that does not snoop the CPU caches.
 *
 * On a write-back pool (or @pool NULL) every cache line touching the range
 * is written back with clwb, else clflushopt, else clflush (whichever the
 * CPU has first, found with CPUID), then sfence; on a write-combine or
 * uncached pool an sfence is all it takes.  Read access to the range is
 * enough; @len 0 just fences.
 */
void wcp_flush(const struct wcp_pool *pool, const void *ptr, size_t len);

/**
 * wcp_store_choice() - the enum wcp_store_method wcp_fill() and wcp_copy()
 * use for @len bytes of @pool: WCP_STORE_STREAM on WC and UC pools, and on
 * write-back memory from wcp_stream_threshold() bytes on; WCP_STORE_PLAIN
 * below it.
 */
int wcp_store_choice(const struct wcp_pool *pool, size_t len);

/** wcp_flush_choice() - the enum wcp_flush_method wcp_flush() uses. */
int wcp_flush_choice(const struct wcp_pool *pool);

/**
 * wcp_stream_threshold() - size in bytes from which wcp_fill() and
 * wcp_copy() stream into write-back memory.
 *
 * Read at the first call, first found wins: the environment variable
 * WCPOOL_STREAM_THRESHOLD (bytes, with an optional K, M or G suffix); the
 * crossover wcpool-tune(1) measured on this CPU model, from the tune file
 * ($WCPOOL_TUNE_FILE, else /var/lib/wcpool/tune; SIZE_MAX when streaming
 * never won there); else four times the last-level cache
 * (sysconf(_SC_LEVEL3_CACHE_SIZE)), at least 32 MiB.
 */
size_t wcp_stream_threshold(void);

/**
 * wcp_fill_with() - wcp_fill() with the enum wcp_store_method @method
 * forced (for benchmarks and tests).  Return: 0, or -EINVAL (unknown
 * method).
 */
int wcp_fill_with(int method, void *dst, int c, size_t len);

/**
 * wcp_copy_with() - wcp_copy() with the enum wcp_store_method @method
 * forced; or-ed with WCP_LOAD_STREAM, the source is read with streaming
 * loads as wcp_copy_from() reads a write-combine pool.  Return: 0,
 * -EINVAL (unknown method) or -EOPNOTSUPP (WCP_LOAD_STREAM where the CPU
 * has no SSE4.1 or WCPOOL_FILL_ISA=sse2; nothing was copied).
 */
int wcp_copy_with(int method, void *dst, const void *src, size_t len);

/**
 * wcp_flush_with() - wcp_flush() with the enum wcp_flush_method @method
 * forced.  Return: 0, -EINVAL (unknown method) or -EOPNOTSUPP (the CPU has
 * no such instruction; nothing was done).
 */
int wcp_flush_with(int method, const void *ptr, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* WCPOOL_H */
