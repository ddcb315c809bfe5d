/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wcpool-test: what its test files (test-*.c) share: the headers they
 * need, helpers around the module's ioctls, and their tables of tests.
 */
#ifndef WCPOOL_TEST_H
#define WCPOOL_TEST_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/videodev2.h>
#include <linux/wcpool.h>
#include "harness.h"

/*
 * Pools.  dev_open(), pool(), info() and map() ASSERT that they succeed;
 * grow(), release() and dup_ro() return what the ioctl did.
 */
int dev_open(void);
int pool(uint32_t policy, uint64_t max);
/* A WC pool in PMD mode (WCPOOL_MAP_PMD); -1 where the kernel has none. */
int pmd_pool(uint64_t max);
int grow(int fd, uint64_t off, uint64_t len);
int release(int fd, uint64_t off, uint64_t len);
struct wcpool_info info(int fd);
int dup_ro(int fd, uint32_t flags);
void *map(int fd, size_t len, int prot, uint64_t off);
bool all_zero(const void *p, size_t len);
int send_fd(int sock, int fd);
int recv_fd(int sock);

/*
 * A bad-input case: ioctl @cmd on @fd with the struct @good but for one
 * field, set to @value, must fail with errno @e.
 */
#define EXPECT_BAD(fd, cmd, good, field, value, e)			\
	do {								\
		typeof(good) arg_ = (good);				\
		arg_.field = (value);					\
		CHECK_ERR_(false, ioctl(fd, cmd, &arg_), e,		\
			   #cmd " with ." #field " = " #value);		\
	} while (0)

/*
 * Registration (WCPOOL_IOC_REGISTER, dma-buf export): reg_ioctl(), reg()
 * and segments() return what the ioctl did (reg*: the dma-buf fd).
 */
#define RW (WCPOOL_REG_READ | WCPOOL_REG_WRITE)
int reg_ioctl(int fd, void *addr, uint64_t len, uint32_t flags,
	      uint64_t align, uint32_t policy, uint32_t *nsegs);
int reg(int fd, void *addr, uint64_t len, uint32_t flags);
int segments(int fd, int dmabuf, struct wcpool_segment *s, uint32_t *count);
void fill_pattern(uint8_t *p, size_t len, unsigned int seed);
bool check_pattern(const uint8_t *p, size_t len, size_t start,
		   unsigned int seed);
void dmabuf_sync(int dfd, uint64_t flags);

/* Files: write_file() ASSERTs the write; read_long() the number read. */
void write_file(const char *path, const char *fmt, ...);
long read_long(const char *path);
/*
 * Memory cgroups (v2, mounted if need be) below the root: memcg_make()
 * creates @name with the memory controller and empties the recycle
 * pools (recycled pages keep their first charge); memcg_enter() moves
 * this process in, memcg_current() reads memory.current, memcg_remove()
 * moves it back to the root and removes @name.  All ASSERT.
 */
void memcg_make(const char *name);
void memcg_enter(const char *name);
long memcg_current(const char *name);
void memcg_remove(const char *name);
/* Pool pages in debugfs whose linear map has @memtype ("write-combining "). */
int pools_count(const char *memtype);

/*
 * The dma-heap nodes: heap_open() ASSERTs; heap_alloc() returns the
 * dma-buf fd of DMA_HEAP_IOCTL_ALLOC, or -1 with errno.
 */
int heap_open(uint32_t policy);
int heap_alloc(int heap, uint64_t len, uint32_t fd_flags);

extern const struct test pool_tests[], long_tests[], mmap_tests[],
	pages_tests[], reg_tests[], importer_tests[], heap_tests[],
	heap_size_tests[], fit_tests[], counter_tests[], move_tests[],
	memcg_tests[];

#endif
