// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool-fuzz - a seeded, time-bounded fuzzer of wcpool.ko, run in the
 * guest: tests/kernel/run-suite --prog wcpool-fuzz -- [-s SEED] [-t SECS].
 *
 *   wcpool-fuzz [-s SEED] [-t SECONDS] [-k] [-f]
 *
 * SEED defaults to a random one; it is printed first.  Two phases share
 * the time:
 *
 * edge:  every ioctl, one at a time, on every kind of fd, with edge values:
 *        struct sizes 0..4096 and past it, non-zero trailing bytes,
 *        reserved fields, unknown flags, overflowing and unaligned ranges,
 *        NULL, kernel, unmapped, straddling and read-only argument
 *        pointers, the module limit, EMFILE, unknown commands, mmap edges.
 * race:  rounds of four threads on one pool: GROW/RELEASE vs
 *        mmap/munmap/mprotect/madvise/mremap/vmsplice/touch (SIGBUS and
 *        SIGSEGV caught) vs REGISTER, dma-buf mmap/sync and close vs dup,
 *        read-only DUP and fork.
 *
 * Every errno an ioctl returns must be one the uapi header documents for
 * it; where the arguments decide the outcome (size, trailing bytes, a bad
 * pointer, a bad field, all fields valid) the outcome is checked.  Then,
 * with everything closed, the module's counters must be back at 0, the
 * kernel log free of WARN/BUG/Oops, and rmmod must work (-k: skip it).
 * -f: calls fail by injection (wcpool_faultinj.ko, tests/kernel/run-faults):
 * valid calls may also fail with ENOMEM, EMFILE or ENFILE, and the set-up
 * of each phase tries again.
 * Prints ioctl counts and one PASS/FAIL line per check, then
 * "N passed, N failed".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/dma-buf.h>
#include <linux/wcpool.h>
#include "harness.h"
#include "result.h"

#define PG 4096UL
#define KPTR 0xffff888000000000ULL	/* the x86-64 direct map */

/* ---- the ioctls and the errnos the header documents for each ---- */

enum { I_CREATE, I_GROW, I_RELEASE, I_INFO, I_DUP, I_REGISTER, I_SEGMENTS,
       NIOC };

static const struct ioc {
	const char *name;
	unsigned long cmd;
	uint32_t size;		/* *_SIZE_VER0 */
	bool out;		/* writes the struct back */
	int errs[8];		/* besides EFAULT, EINVAL, E2BIG, ENOTTY */
	int busy[4];		/* of those, what valid arguments may still get */
} iocs[NIOC] = {
	[I_CREATE] = { "CREATE", WCPOOL_IOC_CREATE, WCPOOL_CREATE_SIZE_VER0,
		       true, { EBADF, EOPNOTSUPP, ENOMEM, EMFILE, ENFILE },
		       { ENOMEM, EMFILE, ENFILE } },
	[I_GROW] = { "GROW", WCPOOL_IOC_GROW, WCPOOL_RANGE_SIZE_VER0, false,
		     { EFBIG, EBADF, EEXIST, ENOSPC, ENOMEM, EINTR },
		     { EEXIST, ENOSPC, ENOMEM } },
	[I_RELEASE] = { "RELEASE", WCPOOL_IOC_RELEASE, WCPOOL_RANGE_SIZE_VER0,
			false, { EFBIG, EBADF, EBUSY, EINTR }, { EBUSY } },
	[I_INFO] = { "INFO", WCPOOL_IOC_INFO, WCPOOL_INFO_SIZE_VER0, true,
		     { EINTR } },
	[I_DUP] = { "DUP", WCPOOL_IOC_DUP, WCPOOL_DUP_SIZE_VER0, true,
		    { EMFILE, ENFILE, ENOMEM }, { EMFILE, ENFILE, ENOMEM } },
	[I_REGISTER] = { "REGISTER", WCPOOL_IOC_REGISTER,
			 WCPOOL_REGISTER_SIZE_VER0, true,
			 { EOVERFLOW, ENXIO, EACCES, ERANGE, ENOMEM, EMFILE,
			   ENFILE, EINTR } },
	[I_SEGMENTS] = { "SEGMENTS", WCPOOL_IOC_SEGMENTS,
			 WCPOOL_SEGMENTS_SIZE_VER0, true, { EBADF } },
};

static const int common_errs[] = { EFAULT, EINVAL, E2BIG, ENOTTY };

/* Counters shared with forked children. */
struct shared {
	unsigned long n[NIOC];
	unsigned long unknown;		/* unknown commands (ENOTTY) */
	unsigned long other;		/* dma-buf syncs */
	unsigned long fails, faults, forks, regs, rounds, mmaps;
	unsigned long edge_ioctls;
};

static struct shared *sh;
static bool in_child;
static bool faults;
static long limit_pages;
static bool pmd_ok;
static bool contig_ok;	/* CREATE takes contig_size (6.12) */

static void fail(const char *fmt, ...)
{
	unsigned long n = __atomic_add_fetch(&sh->fails, 1, __ATOMIC_RELAXED);
	va_list ap;

	/* A child of a threaded process keeps off stdio's locks. */
	if (in_child || n > 30)
		return;
	va_start(ap, fmt);
	fputs("  FAIL: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* strerror() may take locks, which a child of a threaded process must not. */
static const char *errstr(int e)
{
	return in_child ? "" : strerror(e);
}

static bool in_list(const int *l, size_t n, int e)
{
	size_t i;

	for (i = 0; i < n && l[i]; i++)
		if (l[i] == e)
			return true;
	return false;
}

static bool documented(int k, int e)
{
	return in_list(common_errs, ARRAY_SIZE(common_errs), e) ||
	       in_list(iocs[k].errs, ARRAY_SIZE(iocs[k].errs), e);
}

/* Returns 0 or -errno; checks that the errno is documented for ioctl @k. */
static int xioctl(int fd, int k, void *arg)
{
	int ret = ioctl(fd, iocs[k].cmd, arg), e = errno;

	__atomic_add_fetch(&sh->n[k], 1, __ATOMIC_RELAXED);
	if (!ret)
		return 0;
	if (!documented(k, e))
		fail("%s: errno %d (%s) is not documented for it",
		     iocs[k].name, e, errstr(e));
	return -e;
}

/* What expect() demands on top of a documented errno; > 0: that errno. */
#define W_ANY		0
#define W_FAIL		(-1)	/* must fail */
#define W_SUCCEED	(-2)	/* must succeed, or fail with a busy errno */

/* With -f: what an injected failure gives a valid call. */
static bool injected(int ret)
{
	return faults && (ret == -ENOMEM || ret == -EMFILE || ret == -ENFILE);
}

/* With -f, set-up that must work tries again (@expr: < 0 on failure). */
#define RETRY(expr) ({							\
	int retry_ret_, retry_n_ = 0;					\
	while ((retry_ret_ = (expr)) < 0 && faults && ++retry_n_ < 100) \
		;							\
	retry_ret_;							\
})

static void expect(int k, int ret, int want, const char *what)
{
	if (want > 0 && ret != -want)
		fail("%s %s: returned %d (%s), want %s", iocs[k].name, what,
		     ret, ret ? errstr(-ret) : "success", errstr(want));
	else if (want == W_FAIL && !ret)
		fail("%s %s: succeeded, must fail", iocs[k].name, what);
	else if (want == W_SUCCEED && ret && !injected(ret) &&
		 !in_list(iocs[k].busy, ARRAY_SIZE(iocs[k].busy), -ret))
		fail("%s %s: valid arguments failed with %s", iocs[k].name,
		     what, errstr(-ret));
}

/* ---- randomness (xorshift64*, one state per thread) ---- */

static __thread uint64_t rs;

static void seed_rng(uint64_t s)
{
	rs = s * 0x9e3779b97f4a7c15ULL | 1;
}

static uint64_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 0x2545f4914f6cdd1dULL;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(unsigned int pct)
{
	return below(100) < pct;
}

#define PICK(...) ({							\
	const uint64_t pick_[] = { __VA_ARGS__ };			\
	pick_[below(ARRAY_SIZE(pick_))];				\
})

/* ---- faults: SIGBUS on holes and released pages, SIGSEGV on mprotect ---- */

static __thread sigjmp_buf fault_jmp;
static __thread volatile sig_atomic_t fault_armed;

static void on_fault(int sig)
{
	if (!fault_armed) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	siglongjmp(fault_jmp, sig);
}

/* Read or write one byte; returns the signal it raised, 0 if none. */
static int touch(volatile uint8_t *p, bool write)
{
	int sig;

	fault_armed = 1;
	sig = sigsetjmp(fault_jmp, 1);
	if (!sig) {
		if (write)
			*p = (uint8_t)rnd();
		else
			(void)*p;
	}
	fault_armed = 0;
	if (sig)
		__atomic_add_fetch(&sh->faults, 1, __ATOMIC_RELAXED);
	return sig;
}

/* ---- plain ioctls with valid arguments ---- */

static int create_bits(int dev, uint32_t policy, uint64_t max,
		       uint32_t mode, uint32_t addr_bits)
{
	struct wcpool_create c = {
		.size = sizeof(c), .flags = WCPOOL_CREATE_CLOEXEC,
		.policy = policy, .max_size = max, .map_mode = mode,
		.addr_bits = addr_bits,
	};
	int ret = xioctl(dev, I_CREATE, &c);

	expect(I_CREATE, ret, W_SUCCEED, "valid");
	return ret ? -1 : c.fd;
}

static int create(int dev, uint32_t policy, uint64_t max, uint32_t mode)
{
	return create_bits(dev, policy, max, mode, 0);
}

static int range(int fd, int k, uint64_t off, uint64_t len)
{
	struct wcpool_range r = {
		.size = sizeof(r), .offset = off, .length = len,
	};

	return xioctl(fd, k, &r);
}

static int dup_ro(int fd)
{
	struct wcpool_dup d = {
		.size = sizeof(d),
		.flags = WCPOOL_DUP_READONLY | WCPOOL_DUP_CLOEXEC,
	};
	int ret = xioctl(fd, I_DUP, &d);

	expect(I_DUP, ret, W_SUCCEED, "valid");
	return ret ? -1 : d.fd;
}

static int reg(int fd, void *addr, uint64_t len, uint32_t flags,
	       uint32_t *nsegs)
{
	struct wcpool_register r = {
		.size = sizeof(r), .flags = flags | WCPOOL_REG_CLOEXEC,
		.addr = (uintptr_t)addr, .length = len,
	};
	int ret = xioctl(fd, I_REGISTER, &r);

	if (ret)
		return ret;
	if (nsegs)
		*nsegs = r.nr_segments;
	if (r.fd < 0 || !r.nr_segments)
		fail("REGISTER: fd %d, %u segments", r.fd, r.nr_segments);
	__atomic_add_fetch(&sh->regs, 1, __ATOMIC_RELAXED);
	return r.fd;
}

static int segments(int fd, int dmabuf, uint32_t *count)
{
	struct wcpool_segment s[64];
	struct wcpool_segments q = {
		.size = sizeof(q), .dmabuf = dmabuf, .count = ARRAY_SIZE(s),
		.segments = (uintptr_t)s,
	};
	int ret = xioctl(fd, I_SEGMENTS, &q);

	*count = q.count;
	return ret;
}

static void dmabuf_sync(int dfd, uint64_t flags)
{
	struct dma_buf_sync s = { .flags = DMA_BUF_SYNC_RW | flags };

	__atomic_add_fetch(&sh->other, 1, __ATOMIC_RELAXED);
	if (ioctl(dfd, DMA_BUF_IOCTL_SYNC, &s))
		fail("DMA_BUF_IOCTL_SYNC: %s", strerror(errno));
}

static bool pool_info(int fd, struct wcpool_info *i)
{
	*i = (struct wcpool_info){ .size = sizeof(*i) };
	return !xioctl(fd, I_INFO, i);
}

/* ---- edge phase ---- */

#define NPOOL 3

/* The arguments area: pages 0-1 RW, 2 read-only, 3 none, 4 RW (segments). */
#define A_RO	(2 * PG)
#define A_NONE	(3 * PG)
#define A_SEGS	(4 * PG)

enum { FD_DEV, FD_DEV_RO, FD_POOL, FD_RO };
enum { P_GOOD, P_NULL, P_KERNEL, P_NONE, P_STRADDLE, P_RO };
static const char * const fd_names[] = { "dev", "read-only dev", "pool",
					 "read-only pool" };
static const char * const ptr_names[] = { "good", "NULL", "kernel",
					  "unmapped", "straddling",
					  "read-only" };

struct ectx {
	int dev, dev_ro;
	int fd[NPOOL], ro[NPOOL];
	uint64_t max[NPOOL];
	uint32_t policy[NPOOL];
	uint8_t *map[NPOOL];
	size_t maplen[NPOOL];
	int dmabuf;		/* 2 pages of pool 0 registered */
	uint32_t dmabuf_segs;
	int extra[32];
	unsigned int nextra;
	uint8_t *arg;
};

/* One fuzzed ioctl: the struct as built and what its fields decide. */
struct shot {
	int k, fdkind, pool, ptr;
	int fd;
	uint32_t size;
	bool trailing;	/* a non-zero byte past the struct, within size */
	bool bad;	/* a field is invalid: must fail */
	int want;	/* set by a builder: a known errno, else W_ANY */
	union {
		uint8_t b[8192];
		struct wcpool_create c;
		struct wcpool_range r;
		struct wcpool_info i;
		struct wcpool_dup d;
		struct wcpool_register g;
		struct wcpool_segments s;
	};
};

static void keep_fd(struct ectx *c, int fd)
{
	if (fd < 0)
		return;
	if (c->nextra < ARRAY_SIZE(c->extra))
		c->extra[c->nextra++] = fd;
	else
		close(fd);
}

static void edge_setup(struct ectx *c)
{
	static const uint64_t maxes[NPOOL] = { 32 * MB, 64 * MB, 1ULL << 46 };
	int i;

	memset(c, 0, sizeof(*c));
	c->dev = open("/dev/wcpool", O_RDWR | O_CLOEXEC);
	c->dev_ro = open("/dev/wcpool", O_RDONLY | O_CLOEXEC);
	if (c->dev < 0 || c->dev_ro < 0) {
		perror("/dev/wcpool");
		exit(2);
	}
	for (i = 0; i < NPOOL; i++) {
		c->max[i] = maxes[i];
		c->policy[i] = i == 2 ? WCPOOL_POLICY_WB : below(3);
		c->fd[i] = RETRY(create(c->dev, c->policy[i], c->max[i],
					i == 1 && pmd_ok ? WCPOOL_MAP_PMD :
							   WCPOOL_MAP_PTE));
		c->ro[i] = RETRY(dup_ro(c->fd[i]));
		c->maplen[i] = i == 2 ? 64 * MB : c->max[i];
		c->map[i] = mmap(NULL, c->maplen[i], PROT_READ | PROT_WRITE,
				 MAP_SHARED, c->fd[i], 0);
		if (c->fd[i] < 0 || c->ro[i] < 0 || c->map[i] == MAP_FAILED) {
			fprintf(stderr, "edge: pool %d: %s\n", i,
				strerror(errno));
			exit(2);
		}
	}
	expect(I_GROW, RETRY(range(c->fd[0], I_GROW, 0, 4 * HP)), W_SUCCEED,
	       "setup");
	expect(I_GROW, range(c->fd[2], I_GROW, 0, 1ULL << 46), ENOSPC,
	       "of 2^46 bytes");
	c->dmabuf = RETRY(reg(c->fd[0], c->map[0], 2 * PG,
			      WCPOOL_REG_READ | WCPOOL_REG_WRITE,
			      &c->dmabuf_segs));
	if (c->dmabuf < 0)
		fail("edge: REGISTER of pool 0: %s", strerror(-c->dmabuf));
	c->arg = mmap(NULL, 5 * PG, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->arg == MAP_FAILED)
		exit(2);
	mprotect(c->arg + A_RO, PG, PROT_READ);
	mprotect(c->arg + A_NONE, PG, PROT_NONE);
}

static void edge_teardown(struct ectx *c)
{
	unsigned int i;

	for (i = 0; i < c->nextra; i++)
		close(c->extra[i]);
	if (c->dmabuf >= 0)
		close(c->dmabuf);
	for (i = 0; i < NPOOL; i++) {
		munmap(c->map[i], c->maplen[i]);
		close(c->fd[i]);
		close(c->ro[i]);
	}
	close(c->dev);
	close(c->dev_ro);
	munmap(c->arg, 5 * PG);
}

static uint32_t bad_bits(uint64_t valid)
{
	uint32_t bit;

	do
		bit = 1U << below(32);
	while (bit & valid);
	return bit;
}

/* Fill the reserved bytes [off, off + len) of the struct, rarely. */
static void maybe_reserved(struct shot *s, size_t off, size_t len)
{
	if (chance(8)) {
		s->b[off + below(len)] = 1 + below(255);
		s->bad = true;
	}
}

/* Output fields are ignored on input: garbage must change nothing. */
static void maybe_garbage(struct shot *s, size_t off, size_t len)
{
	size_t i;

	if (chance(30))
		for (i = 0; i < len; i++)
			s->b[off + i] = rnd();
}

#define FIELD(s, f) offsetof(typeof(s), f), sizeof(s.f)

static void build_create(struct ectx *c, struct shot *s)
{
	struct wcpool_create *a = &s->c;

	(void)c;
	a->flags = chance(90) ? PICK(0, WCPOOL_CREATE_CLOEXEC) :
				bad_bits(WCPOOL_CREATE_FLAGS);
	a->policy = chance(90) ? below(3) : PICK(3, 4, 0x80000000, ~0U,
						  rnd());
	a->page_shift = chance(90) ? PICK(0, 21) : PICK(12, 20, 22, 30, ~0U);
	a->max_size = chance(80) ? PICK(HP, 2 * HP, 32 * MB, 1ULL << 30,
					1ULL << 46, (1ULL << 46) - HP,
					(1 + below(64)) * HP) :
				   PICK(0, PG, HP - 1, HP + PG,
					(1ULL << 46) + HP, 1ULL << 47,
					1ULL << 63, ~0ULL, ~0ULL << 21, rnd());
	a->map_mode = chance(90) ? (chance(80) ? WCPOOL_MAP_PTE :
						 WCPOOL_MAP_PMD) :
				   PICK(2, 3, ~0U);
	maybe_garbage(s, FIELD(s->c, fd));
	maybe_reserved(s, FIELD(s->c, reserved));
	if ((a->flags & ~WCPOOL_CREATE_FLAGS) ||
	    a->policy >= WCPOOL_POLICY_COUNT ||
	    (a->page_shift && a->page_shift != 21) || !a->max_size ||
	    a->max_size > 1ULL << 46 || a->max_size % HP || a->map_mode > 1)
		s->bad = true;
	if (!s->bad && a->map_mode == WCPOOL_MAP_PMD && !pmd_ok)
		s->want = EOPNOTSUPP;
}

/*
 * CREATE's address limit and contiguous runs (WCPOOL_CREATE_SIZE_VER1),
 * once the size is known: a shorter struct leaves them out (none).
 */
static void build_create_v1(struct shot *s)
{
	struct wcpool_create *a = &s->c;

	if (s->size < WCPOOL_CREATE_SIZE_VER1 || s->size > 4096)
		return;
	maybe_reserved(s, FIELD(s->c, reserved1));
	a->addr_bits = chance(70) ? 0 : PICK(24, 28, 30, 32, 36, 64, 1, 12,
					     23, 65, ~0U, rnd());
	a->contig_size = chance(70) ? 0 :
			 PICK(HP, 2 * HP, 6 * HP, 32 * MB, 1ULL << 30, PG,
			      3 * MB, (1ULL << 30) + HP, 1ULL << 46, rnd());
	if ((a->addr_bits && (a->addr_bits < 24 || a->addr_bits > 64)) ||
	    a->contig_size % HP || a->contig_size > 1ULL << 30 ||
	    (a->contig_size && a->max_size % a->contig_size))
		s->bad = true;
	if (!s->bad && !s->want && a->contig_size > HP && !contig_ok)
		s->want = EOPNOTSUPP;
}

static void after_create(struct ectx *c, struct shot *s)
{
	bool v1 = s->size >= WCPOOL_CREATE_SIZE_VER1;
	struct wcpool_info i;
	int fd = s->c.fd;

	if (fd < 0 || !pool_info(fd, &i) || i.max_size != s->c.max_size ||
	    i.policy != s->c.policy || i.map_mode != s->c.map_mode ||
	    i.flags != (v1 && s->c.addr_bits == 32 ? WCPOOL_INFO_DMA32 : 0) ||
	    i.addr_bits != (v1 ? s->c.addr_bits : 0) ||
	    i.contig_size != (v1 && s->c.contig_size > HP ?
			      s->c.contig_size : 0))
		fail("CREATE: the new pool fd %d does not match its arguments",
		     fd);
	if (!!(fcntl(fd, F_GETFD) & FD_CLOEXEC) !=
	    !!(s->c.flags & WCPOOL_CREATE_CLOEXEC))
		fail("CREATE: FD_CLOEXEC does not match the flag");
	keep_fd(c, fd);
}

static void build_range(struct ectx *c, struct shot *s)
{
	struct wcpool_range *r = &s->r;
	uint64_t max = c->max[s->pool], end;

	r->flags = chance(92) ? 0 : bad_bits(0);
	r->offset = chance(60) ? below(max / HP) * HP :
		    PICK(0, HP, max - HP, max, max + HP, PG, HP + PG,
			 1ULL << 46, 1ULL << 63, ~0ULL << 21, ~0ULL, rnd());
	r->length = chance(60) ? (1 + below(8)) * HP :
		    PICK(0, PG, HP - PG, HP + PG, max,
			 r->offset < max ? max - r->offset : HP, 1ULL << 46,
			 ~0ULL << 21, ~0ULL, rnd());
	maybe_reserved(s, FIELD(s->r, reserved));
	if (r->flags || !r->length || r->offset % HP || r->length % HP ||
	    __builtin_add_overflow(r->offset, r->length, &end) || end > max)
		s->bad = true;
	else if (s->k == I_GROW && r->length / HP > (uint64_t)limit_pages &&
		 s->fdkind == FD_POOL)
		s->want = ENOSPC;	/* larger than the limit: before all */
}

static void build_info(struct ectx *c, struct shot *s)
{
	(void)c;
	if (chance(8)) {
		s->i.flags = 1U << below(32);
		s->bad = true;
	}
	maybe_reserved(s, FIELD(s->i, reserved0));
	maybe_reserved(s, FIELD(s->i, reserved));
	maybe_garbage(s, offsetof(struct wcpool_info, policy),
		      offsetof(struct wcpool_info, reserved0) -
		      offsetof(struct wcpool_info, policy));
	maybe_garbage(s, offsetof(struct wcpool_info, max_size), 16);
}

/* INFO's VER1 fields are output only: zero on input, else EINVAL. */
static void build_info_v1(struct shot *s)
{
	if (s->size < WCPOOL_INFO_SIZE_VER1 || s->size > 4096)
		return;
	maybe_reserved(s, FIELD(s->i, addr_bits));
	maybe_reserved(s, FIELD(s->i, reserved1));
	maybe_reserved(s, FIELD(s->i, contig_size));
}

static void after_info(struct ectx *c, struct shot *s)
{
	struct wcpool_info *i = &s->i;
	int p = s->pool;

	if (i->max_size != c->max[p] || i->policy != c->policy[p] ||
	    i->grown_size > i->max_size || i->page_shift != 21 ||
	    (s->size >= WCPOOL_INFO_SIZE_VER1 &&
	     (i->addr_bits || i->contig_size)) ||
	    i->flags != (s->fdkind == FD_RO ? WCPOOL_INFO_READONLY : 0))
		fail("INFO: pool %d: flags %u policy %u max %llu grown %llu",
		     p, i->flags, i->policy, (unsigned long long)i->max_size,
		     (unsigned long long)i->grown_size);
}

static void build_dup(struct ectx *c, struct shot *s)
{
	struct wcpool_dup *d = &s->d;

	(void)c;
	d->flags = chance(85) ? WCPOOL_DUP_READONLY |
				PICK(0, WCPOOL_DUP_CLOEXEC) :
				PICK(0, WCPOOL_DUP_CLOEXEC,
				     WCPOOL_DUP_READONLY |
				     bad_bits(WCPOOL_DUP_FLAGS), rnd());
	maybe_garbage(s, FIELD(s->d, fd));
	maybe_reserved(s, FIELD(s->d, reserved0));
	maybe_reserved(s, FIELD(s->d, reserved));
	if ((d->flags & ~WCPOOL_DUP_FLAGS) ||
	    !(d->flags & WCPOOL_DUP_READONLY))
		s->bad = true;
}

static void after_dup(struct ectx *c, struct shot *s)
{
	struct wcpool_info i;
	int fd = s->d.fd;

	if (fd < 0 || (fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDONLY ||
	    !pool_info(fd, &i) || i.flags != WCPOOL_INFO_READONLY ||
	    i.max_size != c->max[s->pool])
		fail("DUP: fd %d is not a read-only fd of pool %d", fd,
		     s->pool);
	keep_fd(c, fd);
}

static void build_register(struct ectx *c, struct shot *s)
{
	struct wcpool_register *g = &s->g;
	uint64_t map = (uintptr_t)c->map[s->pool], len = c->maplen[s->pool];
	uint64_t end;

	g->flags = chance(88) ? PICK(WCPOOL_REG_READ, WCPOOL_REG_WRITE,
				     WCPOOL_REG_READ | WCPOOL_REG_WRITE) |
				PICK(0, WCPOOL_REG_CLOEXEC) :
				PICK(0, WCPOOL_REG_CLOEXEC,
				     WCPOOL_REG_READ |
				     bad_bits(WCPOOL_REG_FLAGS), rnd());
	g->addr = chance(70) ? map + below(len / PG) * PG :
		  PICK(map, map + len - PG, map + len, map + 1, 0, PG, KPTR,
		       ~0ULL & ~(PG - 1), 1ULL << 47, (uintptr_t)c->arg,
		       rnd());
	g->length = chance(70) ? (1 + below(1024)) * PG :
		    PICK(PG, HP, len, len + PG, 0, PG + 1, ~0ULL & ~(PG - 1),
			 1ULL << 63, rnd());
	g->align = chance(75) ? 0 : PICK(1, PG, HP, 1ULL << 30, 3, 6,
					 1ULL << 63, rnd());
	g->policy = chance(75) ? 0 : chance(50) ?
		    WCPOOL_REG_POLICY(c->policy[s->pool]) :
		    PICK(1, 2, 3, 4, 5, ~0U);
	maybe_garbage(s, FIELD(s->g, fd));
	maybe_garbage(s, FIELD(s->g, nr_segments));
	maybe_reserved(s, FIELD(s->g, reserved0));
	maybe_reserved(s, FIELD(s->g, reserved));
	if ((g->flags & ~WCPOOL_REG_FLAGS) ||
	    !(g->flags & (WCPOOL_REG_READ | WCPOOL_REG_WRITE)) ||
	    !g->length || g->addr % PG || g->length % PG ||
	    (g->align && ((g->align & (g->align - 1)) ||
			  g->addr % g->align)) ||
	    g->policy > WCPOOL_POLICY_COUNT ||
	    __builtin_add_overflow(g->addr, g->length, &end))
		s->bad = true;
}

/*
 * REGISTER's device constraints (WCPOOL_REGISTER_SIZE_VER1), once the size
 * is known: a shorter struct leaves them out (zero, no constraint).
 * Mostly none; valid ones are met or not (ERANGE).
 */
static void build_register_v1(struct shot *s)
{
	struct wcpool_register *g = &s->g;

	if (s->size < WCPOOL_REGISTER_SIZE_VER1 || s->size > 4096)
		return;
	maybe_reserved(s, FIELD(s->g, reserved1));
	g->addr_bits = chance(85) ? 0 : PICK(12, 28, 32, 40, 64, 1, 11, 65,
					     rnd());
	g->max_segments = chance(85) ? 0 : PICK(1, 2, 64, ~0U, rnd());
	g->max_seg_size = chance(85) ? 0 : PICK(PG, 16 * PG, HP, 1U << 30,
						 1, PG + 1, (1U << 30) + PG,
						 rnd());
	if ((g->addr_bits && (g->addr_bits < 12 || g->addr_bits > 64)) ||
	    g->max_seg_size % PG || g->max_seg_size > 1U << 30)
		s->bad = true;
}

static void after_register(struct ectx *c, struct shot *s)
{
	struct wcpool_register *g = &s->g;
	uint64_t off = g->addr - (uintptr_t)c->map[s->pool];
	uint32_t count = 0;
	int ret;

	__atomic_add_fetch(&sh->regs, 1, __ATOMIC_RELAXED);
	if (g->fd < 0 || !g->nr_segments)
		fail("REGISTER: fd %d, %u segments", g->fd, g->nr_segments);
	ret = segments(c->ro[s->pool], g->fd, &count);
	expect(I_SEGMENTS, ret, W_SUCCEED, "of a new registration");
	if (!ret && count != g->nr_segments)
		fail("SEGMENTS: %u segments, REGISTER said %u", count,
		     g->nr_segments);
	/* Registered pages cannot be released. */
	if (off < c->maplen[s->pool])
		expect(I_RELEASE, range(c->fd[s->pool], I_RELEASE,
					off & ~(HP - 1), HP),
		       EBUSY, "of a registered page");
	close(g->fd);
}

static void build_segments(struct ectx *c, struct shot *s)
{
	struct wcpool_segments *q = &s->s;
	uint64_t segs = (uintptr_t)c->arg + A_SEGS;

	q->flags = chance(92) ? 0 : bad_bits(0);
	q->dmabuf = chance(70) ? c->dmabuf :
		    (int)PICK(-1, 1000000, c->fd[s->pool], c->dev,
			      c->ro[s->pool], 0, rnd());
	q->count = chance(70) ? PICK(0, 1, 2, 64, 256) :
		   PICK(~0U, 0x80000000, rnd());
	q->segments = chance(80) ? segs :
		      PICK(0, KPTR, (uintptr_t)c->arg + A_RO,
			   (uintptr_t)c->arg + A_NONE, segs + 1, rnd());
	maybe_reserved(s, FIELD(s->s, reserved));
	if (q->flags)
		s->bad = true;
	/* Our registration, a buffer for what fits: that must work. */
	if (!s->bad && c->dmabuf >= 0 && q->dmabuf == c->dmabuf &&
	    s->pool == 0 &&
	    (q->segments == segs || !q->count) && q->count <= 256)
		s->want = W_SUCCEED;
}

static void after_segments(struct ectx *c, struct shot *s)
{
	if (s->s.dmabuf != c->dmabuf || s->pool != 0 ||
	    s->s.count != c->dmabuf_segs)
		fail("SEGMENTS: success on dmabuf %d of pool %d, count %u",
		     s->s.dmabuf, s->pool, s->s.count);
}

static const struct {
	void (*build)(struct ectx *c, struct shot *s);
	void (*after)(struct ectx *c, struct shot *s);
} edge_ops[NIOC] = {
	[I_CREATE] = { build_create, after_create },
	[I_GROW] = { build_range, NULL },
	[I_RELEASE] = { build_range, NULL },
	[I_INFO] = { build_info, after_info },
	[I_DUP] = { build_dup, after_dup },
	[I_REGISTER] = { build_register, after_register },
	[I_SEGMENTS] = { build_segments, after_segments },
};

/* Copy @len bytes of @src to offset @at of the arguments area, read-only. */
static void *put_ro(struct ectx *c, size_t at, const void *src, size_t len)
{
	mprotect(c->arg + A_RO, PG, PROT_READ | PROT_WRITE);
	memcpy(c->arg + at, src, len);
	mprotect(c->arg + A_RO, PG, PROT_READ);
	return c->arg + at;
}

/* Where the struct goes: mostly a good pointer, else a bad one. */
static void *place(struct ectx *c, struct shot *s, size_t len)
{
	size_t off;

	s->ptr = chance(80) ? P_GOOD : below(P_RO) + 1;
	switch (s->ptr) {
	case P_NULL:
		return NULL;
	case P_KERNEL:
		return (void *)KPTR;
	case P_NONE:
		return c->arg + A_NONE;
	case P_STRADDLE:
		/* size readable, the rest on the PROT_NONE page */
		return put_ro(c, A_NONE - 4, s->b, 4);
	case P_RO:
		return put_ro(c, A_RO, s->b, len < PG ? len : PG);
	default:
		off = below(8);
		memcpy(c->arg + off, s->b, len);
		return c->arg + off;
	}
}

/* What the size field and the pointer alone decide, or 0. */
static int copy_verdict(const struct shot *s)
{
	bool size_bad = s->size < iocs[s->k].size || s->size > 4096;

	switch (s->ptr) {
	case P_NULL:
	case P_KERNEL:
	case P_NONE:
		return EFAULT;
	case P_STRADDLE:
		return size_bad ? EINVAL : EFAULT;
	}
	if (size_bad)
		return EINVAL;
	return s->trailing ? E2BIG : 0;
}

static void edge_shot(struct ectx *c)
{
	static const uint32_t sizes[] = {
		0, 1, 4, 8, 16, 24, 31, 32, 39, 40, 47, 48, 63, 64, 65, 71,
		72, 73, 80, 128, 4088, 4095, 4096, 4097, 8192, 65536,
		0x7fffffff, 0xffffffff,
	};
	struct shot s;
	uint32_t ksize;
	size_t len;
	char what[96];
	void *arg;
	int ret, v;

	memset(&s, 0, sizeof(s));
	s.k = below(NIOC);
	/* What the kernel knows; the smallest size it takes is iocs[].size. */
	ksize = s.k == I_REGISTER ? WCPOOL_REGISTER_SIZE_VER1 :
		s.k == I_CREATE ? WCPOOL_CREATE_SIZE_VER1 :
		s.k == I_INFO ? WCPOOL_INFO_SIZE_VER1 : iocs[s.k].size;
	s.pool = below(NPOOL);
	if (s.k == I_CREATE)
		s.fdkind = PICK(FD_DEV, FD_DEV, FD_DEV, FD_DEV, FD_DEV, FD_DEV,
				FD_DEV_RO, FD_POOL);
	else
		s.fdkind = PICK(FD_POOL, FD_POOL, FD_POOL, FD_POOL, FD_POOL,
				FD_RO, FD_RO, FD_DEV);
	s.fd = s.fdkind == FD_DEV ? c->dev : s.fdkind == FD_DEV_RO ?
	       c->dev_ro : s.fdkind == FD_POOL ? c->fd[s.pool] :
	       c->ro[s.pool];
	edge_ops[s.k].build(c, &s);

	s.size = chance(65) ? ksize : chance(70) ? sizes[below(ARRAY_SIZE(sizes))] :
		 below(4200);
	memcpy(s.b, &s.size, 4);
	if (s.k == I_REGISTER)
		build_register_v1(&s);
	if (s.k == I_CREATE)
		build_create_v1(&s);
	if (s.k == I_INFO)
		build_info_v1(&s);
	if (s.size > ksize && s.size <= 4096 && chance(40)) {
		s.b[ksize + below(s.size - ksize)] = 1 + below(255);
		s.trailing = true;
	}
	len = s.size > ksize && s.size <= 4096 ? s.size : ksize;
	arg = place(c, &s, len);

	/* What must happen, from the most to the least certain. */
	if ((s.k == I_CREATE) != (s.fdkind == FD_DEV || s.fdkind == FD_DEV_RO))
		v = ENOTTY;
	else
		v = copy_verdict(&s);
	if (!v && (s.bad || (s.ptr == P_RO && iocs[s.k].out) ||
		   (s.k == I_CREATE && s.fdkind == FD_DEV_RO) ||
		   ((s.k == I_GROW || s.k == I_RELEASE) && s.fdkind == FD_RO) ||
		   (s.k == I_REGISTER && s.fdkind == FD_RO &&
		    (s.g.flags & WCPOOL_REG_WRITE))))
		v = W_FAIL;
	if (!v && s.want)
		v = s.want;
	if (!v && s.ptr == P_GOOD && s.k != I_REGISTER && s.k != I_SEGMENTS)
		v = W_SUCCEED;

	ret = xioctl(s.fd, s.k, arg);
	__atomic_add_fetch(&sh->edge_ioctls, 1, __ATOMIC_RELAXED);
	snprintf(what, sizeof(what), "(edge: size %u, %s fd, %s pointer)",
		 s.size, fd_names[s.fdkind], ptr_names[s.ptr]);
	expect(s.k, ret, v, what);
	if (ret)
		return;
	if (s.ptr != P_GOOD) {
		if (s.ptr != P_RO)
			fail("%s %s: succeeded", iocs[s.k].name, what);
		return;
	}
	memcpy(s.b, arg, ksize);
	if (edge_ops[s.k].after)
		edge_ops[s.k].after(c, &s);
}

/* Unknown commands, and known ones with another size or direction. */
static void edge_unknown(struct ectx *c)
{
	unsigned long cmd;
	int k, ret;

	do {
		cmd = _IOC(below(4), WCPOOL_IOC_MAGIC,
			   chance(50) ? below(8) : below(256), below(1 << 14));
		for (k = 0; k < NIOC && cmd != iocs[k].cmd; k++)
			;
	} while (k < NIOC);
	ret = ioctl(chance(50) ? c->fd[0] : c->dev, cmd, c->arg);
	__atomic_add_fetch(&sh->unknown, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sh->edge_ioctls, 1, __ATOMIC_RELAXED);
	if (ret != -1 || errno != ENOTTY)
		fail("unknown command %#lx: %d (%s), want ENOTTY", cmd, ret,
		     strerror(errno));
}

/* mmap of pool fds at the edges: only the documented errors. */
static void edge_mmap(struct ectx *c)
{
	int p = below(NPOOL), ro = chance(30);
	int fd = ro ? c->ro[p] : c->fd[p], e;
	uint64_t max = c->max[p];
	size_t len = PICK(PG, HP, 2 * HP, max, max + HP, 0, 3 * PG);
	off_t off = PICK(0, PG, HP, max - HP, max, (1ULL << 62), MB);
	int prot = PICK(PROT_READ, PROT_WRITE, PROT_READ | PROT_WRITE,
			PROT_NONE);
	int flags = PICK(MAP_SHARED, MAP_SHARED, MAP_PRIVATE,
			 MAP_SHARED_VALIDATE);
	void *p_;

	__atomic_add_fetch(&sh->mmaps, 1, __ATOMIC_RELAXED);
	p_ = mmap(NULL, len, prot, flags, fd, off);
	if (p_ != MAP_FAILED) {
		if (flags == MAP_PRIVATE || off % HP ||
		    (uint64_t)off + len > max || !len ||
		    (ro && (prot & PROT_WRITE)))
			fail("mmap(len %zu, prot %d, flags %#x, off %#llx) of pool %d%s succeeded",
			     len, prot, flags, (unsigned long long)off, p,
			     ro ? " (read-only fd)" : "");
		munmap(p_, len);
		return;
	}
	e = errno;
	/* EOVERFLOW and ENOMEM come from the core (offset, address space). */
	if (e != EINVAL && e != ENXIO && e != EACCES && e != EOVERFLOW &&
	    e != ENOMEM)
		fail("mmap(len %zu, off %#llx) of pool %d: %s", len,
		     (unsigned long long)off, p, strerror(e));
}

/* No fd left below the limit: every ioctl making an fd gets EMFILE. */
static void edge_emfile(struct ectx *c)
{
	struct rlimit old, lim;
	uint32_t nsegs;
	int low, fd;

	low = open("/dev/null", O_RDONLY);
	if (low < 0)
		return;
	close(low);
	getrlimit(RLIMIT_NOFILE, &old);
	lim = old;
	lim.rlim_cur = low;
	setrlimit(RLIMIT_NOFILE, &lim);
	fd = create(c->dev, WCPOOL_POLICY_WB, HP, WCPOOL_MAP_PTE);
	if (fd >= 0)
		fail("CREATE at the fd limit: fd %d", fd);
	fd = dup_ro(c->fd[0]);
	if (fd >= 0)
		fail("DUP at the fd limit: fd %d", fd);
	fd = reg(c->fd[0], c->map[0], PG, WCPOOL_REG_READ, &nsegs);
	if (fd != -EMFILE && !injected(fd))
		fail("REGISTER at the fd limit: %d, want -EMFILE", fd);
	setrlimit(RLIMIT_NOFILE, &old);
	if (fd >= 0)
		close(fd);
}

static void edge_phase(double seconds, uint64_t seed)
{
	double end = now_s() + seconds;
	struct ectx c;
	unsigned long i;

	seed_rng(seed);
	edge_setup(&c);
	for (i = 1; now_s() < end; i++) {
		if (i % 16 == 0)
			edge_unknown(&c);
		else if (i % 16 == 1)
			edge_mmap(&c);
		else
			edge_shot(&c);
		if (i % 512 == 0)
			edge_emfile(&c);
		if (i % 400 == 0) {
			edge_teardown(&c);
			edge_setup(&c);
		}
	}
	edge_teardown(&c);
}

/* ---- race phase ---- */

struct round {
	int fd;			/* the pool's first fd, open all round */
	uint64_t max;
	uint32_t policy;
	uint32_t dma32;		/* WCPOOL_INFO_DMA32 if addr_bits 32 */
	bool pmd;
	volatile bool stop;
};

struct worker {
	struct round *r;
	pthread_t t;
	uint64_t seed;
};

static uint64_t rand_off(const struct round *r)
{
	return below(r->max / HP) * HP;
}

static void *grower(void *data)
{
	struct worker *w = data;
	struct round *r = w->r;
	struct wcpool_info i;
	uint64_t off, len;
	int fd = dup(r->fd);

	seed_rng(w->seed);
	while (!r->stop) {
		off = rand_off(r);
		len = (1 + below((r->max - off) / HP)) * HP;
		switch (below(8)) {
		case 0: case 1: case 2:
			expect(I_GROW, range(fd, I_GROW, off, len), W_SUCCEED,
			       "(race)");
			break;
		case 3: case 4:
			expect(I_RELEASE, range(fd, I_RELEASE, off, len), W_SUCCEED,
			       "(race)");
			break;
		case 5:
			expect(I_RELEASE, range(fd, I_RELEASE, 0, r->max),
			       W_SUCCEED, "(race, all)");
			break;
		case 6:
			if (!pool_info(fd, &i) || i.max_size != r->max ||
			    i.grown_size > r->max)
				fail("INFO (race): max %llu grown %llu",
				     (unsigned long long)i.max_size,
				     (unsigned long long)i.grown_size);
			break;
		default:
			close(fd);
			fd = dup(r->fd);
		}
	}
	close(fd);
	return NULL;
}

/* Maps, unmaps, remaps, protects, zaps, splices and touches the pool. */
static void *toucher(void *data)
{
	struct worker *w = data;
	struct round *r = w->r;
	int fd = dup(r->fd), pp[2];
	size_t len = r->max, off, n;
	uint8_t *p, buf[PG];
	struct iovec iov;

	seed_rng(w->seed);
	if (pipe2(pp, O_NONBLOCK))
		return NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		fail("mmap (race): %s", strerror(errno));
		return NULL;
	}
	while (!r->stop) {
		off = below(len / PG) * PG;
		n = (1 + below((len - off) / PG)) * PG;
		switch (below(12)) {
		case 5:
			munmap(p, len);
			off = rand_off(r);
			len = chance(50) ? (1 + below((r->max - off) / PG)) * PG :
					   r->max - off;
			__atomic_add_fetch(&sh->mmaps, 1, __ATOMIC_RELAXED);
			p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				 MAP_SHARED, fd, off);
			if (p == MAP_FAILED) {
				fail("mmap (race): %s", strerror(errno));
				goto out;
			}
			break;
		case 6:
			mprotect(p + off, n, PICK(PROT_READ,
						  PROT_READ | PROT_WRITE));
			break;
		case 7:
			/* EINVAL in PMD mode (VM_PFNMAP) */
			madvise(p + off, n, MADV_DONTNEED);
			break;
		case 8:
			if (len > PG && mremap(p, len, len - PG, 0) == p)
				len -= PG;
			break;
		case 9:
			/* pins the page until read: a deferred release */
			iov = (struct iovec){ .iov_base = p + off,
					      .iov_len = PG };
			vmsplice(pp[1], &iov, 1, SPLICE_F_NONBLOCK);
			while (read(pp[0], buf, sizeof(buf)) > 0)
				;
			break;
		default:
			touch(p + off + below(PG), chance(50));
		}
	}
	munmap(p, len);
out:
	close(pp[0]);
	close(pp[1]);
	close(fd);
	return NULL;
}

/* REGISTER, dma-buf mmap/sync/touch, close in any order, vs the others. */
static void *registrar(void *data)
{
	struct worker *w = data;
	struct round *r = w->r;
	int fd = dup(r->fd), dfd, ret;
	uint32_t nsegs, count, flags;
	uint64_t off, len, i;
	uint8_t *p, *d;

	seed_rng(w->seed);
	p = mmap(NULL, r->max, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		fail("mmap (race): %s", strerror(errno));
		return NULL;
	}
	while (!r->stop) {
		off = below(r->max / PG) * PG;
		len = (1 + below((r->max - off) / PG < 1024 ?
				 (r->max - off) / PG : 1024)) * PG;
		flags = PICK(WCPOOL_REG_READ, WCPOOL_REG_WRITE,
			     WCPOOL_REG_READ | WCPOOL_REG_WRITE);
		dfd = reg(fd, p + off, len, flags, &nsegs);
		if (dfd < 0)
			continue;	/* ENXIO: not grown (checked: documented) */
		ret = segments(chance(50) ? fd : r->fd, dfd, &count);
		expect(I_SEGMENTS, ret, W_SUCCEED, "(race)");
		if (!ret && count != nsegs)
			fail("SEGMENTS (race): %u, REGISTER said %u", count,
			     nsegs);
		expect(I_RELEASE, range(fd, I_RELEASE, off & ~(HP - 1), HP),
		       EBUSY, "(race) of a registered page");
		if (chance(30)) {
			close(fd);	/* the dma-buf holds the pool */
			fd = dup(r->fd);
		}
		d = mmap(NULL, len, PROT_READ |
			 (flags & WCPOOL_REG_WRITE ? PROT_WRITE : 0),
			 MAP_SHARED, dfd, 0);
		if (d == MAP_FAILED) {
			fail("mmap of a dma-buf: %s", strerror(errno));
			close(dfd);
			continue;
		}
		if (chance(50)) {
			close(dfd);	/* the mapping holds the dma-buf */
			dfd = -1;
		} else {
			dmabuf_sync(dfd, DMA_BUF_SYNC_START);
		}
		/* Registered pages are pinned: no fault, whatever RELEASE does. */
		for (i = 0; i < 8; i++)
			if (touch(d + below(len), flags & WCPOOL_REG_WRITE))
				fail("a registered page faulted");
		if (dfd >= 0)
			dmabuf_sync(dfd, DMA_BUF_SYNC_END);
		munmap(d, len);
		if (dfd >= 0)
			close(dfd);
	}
	munmap(p, r->max);
	close(fd);
	return NULL;
}

/* What a forked child does with the fds and mapping it inherited. */
static void child_ops(struct round *r, int ro, uint8_t *m)
{
	uint32_t nsegs;
	int i, dfd;

	in_child = true;
	for (i = 0; i < 20; i++) {
		switch (below(5)) {
		case 0:
			expect(I_GROW, range(r->fd, I_GROW, rand_off(r), HP),
			       W_SUCCEED, "(child)");
			break;
		case 1:
			expect(I_RELEASE, range(r->fd, I_RELEASE, rand_off(r),
						HP), W_SUCCEED, "(child)");
			break;
		case 2:
			dfd = reg(ro, m + rand_off(r), PG, WCPOOL_REG_READ,
				  &nsegs);
			if (dfd >= 0)
				close(dfd);
			break;
		default:
			touch(m + below(r->max), false);
		}
	}
	_exit(0);
}

/* Read-only fds, plain dup, fork. */
static void *duper(void *data)
{
	struct worker *w = data;
	struct round *r = w->r;
	struct wcpool_info i;
	uint32_t nsegs;
	int ro, fd, dfd, status = 0;
	uint8_t *m, *q;
	pid_t pid;

	seed_rng(w->seed);
	ro = RETRY(dup_ro(r->fd));
	m = mmap(NULL, r->max, PROT_READ, MAP_SHARED, ro, 0);
	if (ro < 0 || m == MAP_FAILED) {
		fail("read-only fd or mapping (race): %s", strerror(errno));
		return NULL;
	}
	while (!r->stop) {
		switch (below(6)) {
		case 0:
			fd = dup_ro(chance(50) ? r->fd : ro);
			if (fd < 0)
				break;
			expect(I_GROW, range(fd, I_GROW, 0, HP), EBADF,
			       "(read-only fd)");
			expect(I_RELEASE, range(fd, I_RELEASE, 0, HP), EBADF,
			       "(read-only fd)");
			if (!pool_info(fd, &i) ||
			    i.flags != (WCPOOL_INFO_READONLY | r->dma32))
				fail("INFO on a read-only fd: flags %u",
				     i.flags);
			q = mmap(NULL, HP, PROT_READ | PROT_WRITE, MAP_SHARED,
				 fd, 0);
			if (q != MAP_FAILED || errno != EACCES)
				fail("writable mmap of a read-only fd: %s",
				     q == MAP_FAILED ? strerror(errno) : "ok");
			if (q != MAP_FAILED)
				munmap(q, HP);
			close(fd);
			break;
		case 1:
			dfd = reg(ro, m + rand_off(r), HP, WCPOOL_REG_READ,
				  &nsegs);
			if (dfd >= 0)
				close(dfd);
			expect(I_REGISTER,
			       reg(ro, m, PG, WCPOOL_REG_WRITE, &nsegs),
			       EACCES, "for writing on a read-only fd");
			break;
		case 2:
			if (mprotect(m, PG, PROT_READ | PROT_WRITE) == 0 ||
			    errno != EACCES)
				fail("mprotect(PROT_WRITE) of a read-only mapping");
			touch(m + below(r->max), false);
			break;
		case 3:
			fflush(NULL);
			pid = fork();
			if (pid == 0)
				child_ops(r, ro, m);
			__atomic_add_fetch(&sh->forks, 1, __ATOMIC_RELAXED);
			if (pid < 0 || waitpid(pid, &status, 0) != pid ||
			    !WIFEXITED(status) || WEXITSTATUS(status))
				fail("forked child: status %#x", status);
			break;
		default:
			fd = dup(r->fd);
			if (!pool_info(fd, &i) || i.flags != r->dma32)
				fail("INFO on a dup(2) fd: flags %u", i.flags);
			close(fd);
		}
	}
	munmap(m, r->max);
	close(ro);
	return NULL;
}

static void race_phase(double seconds, uint64_t seed)
{
	static void *(*const roles[])(void *) = {
		grower, toucher, registrar, duper,
	};
	struct worker w[ARRAY_SIZE(roles)];
	double end = now_s() + seconds, left;
	struct round r;
	unsigned int i;
	uint32_t bits;
	int dev;

	seed_rng(seed);
	dev = open("/dev/wcpool", O_RDWR | O_CLOEXEC);
	while ((left = end - now_s()) > 0.2) {
		memset(&r, 0, sizeof(r));
		r.max = (4 + below(13)) * HP;
		r.policy = below(3);
		r.pmd = pmd_ok && chance(30);
		/* Some below an address limit: GROW may find no page there. */
		bits = chance(80) ? 0 : PICK(28, 30, 32, 36);
		r.dma32 = bits == 32 ? WCPOOL_INFO_DMA32 : 0;
		r.fd = RETRY(create_bits(dev, r.policy, r.max,
					 r.pmd ? WCPOOL_MAP_PMD : WCPOOL_MAP_PTE,
					 bits));
		if (r.fd < 0)
			break;
		range(r.fd, I_GROW, 0, r.max / 2 & ~(HP - 1));
		for (i = 0; i < ARRAY_SIZE(roles); i++) {
			w[i] = (struct worker){ .r = &r, .seed = rnd() };
			if (pthread_create(&w[i].t, NULL, roles[i], &w[i])) {
				perror("pthread_create");
				exit(2);
			}
		}
		usleep((left < 2 ? left : 1 + below(1000) / 1000.0) * 1e6);
		r.stop = true;
		for (i = 0; i < ARRAY_SIZE(roles); i++)
			pthread_join(w[i].t, NULL);
		close(r.fd);
		sh->rounds++;
	}
	close(dev);
}

/* ---- results ---- */


static unsigned long total_ioctls(void)
{
	unsigned long n = sh->unknown + sh->other;
	int k;

	for (k = 0; k < NIOC; k++)
		n += sh->n[k];
	return n;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_fault };
	double seconds = 30, t0, t1;
	uint64_t seed = 0;
	bool random_seed = true, keep = false;
	unsigned long f0, n0;
	int opt, fd, k;

	while ((opt = getopt(argc, argv, "s:t:kf")) != -1) {
		switch (opt) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			random_seed = false;
			break;
		case 't':
			seconds = atof(optarg);
			break;
		case 'k':
			keep = true;
			break;
		case 'f':
			faults = true;
			break;
		default:
			fprintf(stderr, "usage: %s [-s SEED] [-t SECONDS] [-k] [-f]\n",
				argv[0]);
			return 2;
		}
	}
	if (random_seed) {
		fd = open("/dev/urandom", O_RDONLY);
		if (fd < 0 || read(fd, &seed, sizeof(seed)) != sizeof(seed))
			seed = time(NULL);
		seed %= 1000000000;
		close(fd);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("wcpool-fuzz: seed %llu, %.0f s (again: wcpool-fuzz -s %llu -t %.0f)\n",
	       (unsigned long long)seed, seconds, (unsigned long long)seed,
	       seconds);

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	kmsg_open();
	limit_pages = stat_get("limit");
	fd = open("/dev/wcpool", O_RDWR | O_CLOEXEC);
	if (fd < 0 || limit_pages <= 0) {
		perror("/dev/wcpool or " STATS);
		printf("0 passed, 1 failed\n");
		return 1;
	}
	{
		struct wcpool_create c = {
			.size = sizeof(c), .max_size = HP,
			.map_mode = WCPOOL_MAP_PMD,
		};

		pmd_ok = !RETRY(xioctl(fd, I_CREATE, &c));
		if (pmd_ok)
			close(c.fd);
		c = (struct wcpool_create){
			.size = sizeof(c), .max_size = 2 * HP,
			.contig_size = 2 * HP,
		};
		contig_ok = !RETRY(xioctl(fd, I_CREATE, &c));
		if (contig_ok)
			close(c.fd);
		close(fd);
	}

	t0 = now_s();
	edge_phase(seconds * 0.4, seed);
	result(!sh->fails, "edge (%lu ioctls, %lu mmaps)", sh->edge_ioctls,
	       sh->mmaps);
	f0 = sh->fails;
	n0 = total_ioctls();
	race_phase(seconds * 0.6, seed + 1);
	result(sh->fails == f0,
	       "race (%lu rounds, %lu ioctls, %lu registrations, %lu forks, %lu faults caught)",
	       sh->rounds, total_ioctls() - n0, sh->regs, sh->forks,
	       sh->faults);
	t1 = now_s();

	printf("ioctls:");
	for (k = 0; k < NIOC; k++)
		printf(" %s %lu", iocs[k].name, sh->n[k]);
	printf(" unknown %lu dma-buf-sync %lu; total %lu in %.1f s (pmd mode %s)\n",
	       sh->unknown, sh->other, total_ioctls(), t1 - t0,
	       pmd_ok ? "on" : "off");

	result(!counters_check("fuzz"), "counters at 0");
	result(!kmsg_check("fuzz"), "kernel log clean");
	if (!keep) {
		fflush(NULL);
		result(system("rmmod wcpool") == 0 &&
		       access("/dev/wcpool", F_OK) != 0, "rmmod");
		if (kmsg_check("rmmod"))
			result(false, "kernel log clean after rmmod");
	}
	return result_summary(0);
}
