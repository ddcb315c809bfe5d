// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool-test: dma-heap buffers of every size.  A buffer of N bytes takes
 * N rounded up to 4 KiB: runs of 4 KiB pages inside 2 MiB pages of the
 * policy that buffers of one memory cgroup share, whole 2 MiB pages for
 * the 2 MiB-multiple part of larger ones.  The debugfs counters say what
 * is used: heap_bytes (the buffers), heap_pages (2 MiB pages held),
 * heap_shared_free (4 KiB pages of shared pages that no buffer uses).
 */
#include <stddef.h>
#include "wcpool-test.h"
#include <sched.h>		/* clone(), with wcpool-test.h's _GNU_SOURCE */

#define KB 4096UL

/* One buffer: its fd and mapping, the size asked and the size it has. */
struct hbuf {
	int fd;
	uint8_t *p;
	uint64_t len;
	uint64_t size;
	uint32_t id;
};

/* Live buffers of one process, and what they asked. */
struct hset {
	struct hbuf b[128];
	unsigned int n;
	uint64_t asked, rounded;
};

/*
 * A size from 4 KiB to 3 MiB, mostly not a multiple of 4 KiB: small ones
 * (that share pages), ones within 8 KiB of 2 MiB, any.
 */
static uint64_t rnd_size(unsigned int *seed)
{
	unsigned int r = rand_r(seed) % 8;
	uint64_t pages;

	if (r < 3)
		pages = 1 + rand_r(seed) % 16;
	else if (r < 5)
		pages = 510 + rand_r(seed) % 5;
	else
		pages = 1 + rand_r(seed) % 768;
	return pages * KB - (pages > 1 ? rand_r(seed) % KB : 0);
}

static uint64_t word(uint32_t id, uint64_t off)
{
	return (uint64_t)id << 32 | (off / 8);
}

/*
 * Fill @b with its pattern through its own mapping, every 512 bytes and
 * its last word; each place must read zero before (a new buffer).
 */
static void hb_fill(struct hbuf *b)
{
	volatile uint64_t *w;
	uint64_t off;

	for (off = 0; off < b->size; off += 512) {
		w = (volatile uint64_t *)(b->p + off);
		ASSERT(*w == 0);
		*w = word(b->id, off);
	}
	w = (volatile uint64_t *)(b->p + b->size - 8);
	ASSERT(*w == 0);
	*w = word(b->id, b->size - 8);
}

/* Does @b still hold its own pattern (no neighbour wrote into it)? */
static bool hb_check(const struct hbuf *b)
{
	uint64_t off;

	for (off = 0; off < b->size; off += 512)
		if (*(volatile uint64_t *)(b->p + off) != word(b->id, off))
			return false;
	return *(volatile uint64_t *)(b->p + b->size - 8) ==
	       word(b->id, b->size - 8);
}

static void hb_map(struct hbuf *b)
{
	b->p = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd,
		    0);
	ASSERT(b->p != MAP_FAILED);
}

/* A new buffer of @len bytes from @heap in @s, mapped and filled. */
static void hs_alloc(struct hset *s, int heap, uint64_t len, uint32_t id)
{
	struct hbuf *b = &s->b[s->n];

	b->fd = heap_alloc(heap, len, O_RDWR | O_CLOEXEC);
	ASSERT(b->fd >= 0);
	b->len = len;
	b->size = (len + KB - 1) & ~(KB - 1);
	b->id = id;
	ASSERT(lseek(b->fd, 0, SEEK_END) == (off_t)b->size);
	hb_map(b);
	hb_fill(b);
	s->n++;
	s->asked += len;
	s->rounded += b->size;
}

/* Take buffer @i out of @s (last one moves in); returns it. */
static struct hbuf hs_take(struct hset *s, unsigned int i)
{
	struct hbuf b = s->b[i];

	s->b[i] = s->b[--s->n];
	s->asked -= b.len;
	s->rounded -= b.size;
	return b;
}

/* Check @b's pattern, then free it: mapping and fd. */
static void hb_free(struct hbuf *b)
{
	ASSERT(hb_check(b));
	ASSERT(munmap(b->p, b->size) == 0);
	ASSERT(close(b->fd) == 0);
}

/* The counters the checks below read, from one read of the stats file. */
struct hstats {
	long buffers, bytes, pages, shared_free, regs, reg_bytes, in_use;
};

static struct hstats hstats_read(void)
{
	struct hstats h = { -1, -1, -1, -1, -1, -1, -1 };
	static const struct {
		const char *name;
		size_t off;
	} keys[] = {
		{ "heap_buffers", offsetof(struct hstats, buffers) },
		{ "heap_bytes", offsetof(struct hstats, bytes) },
		{ "heap_pages", offsetof(struct hstats, pages) },
		{ "heap_shared_free", offsetof(struct hstats, shared_free) },
		{ "registrations", offsetof(struct hstats, regs) },
		{ "registered_bytes", offsetof(struct hstats, reg_bytes) },
		{ "in_use", offsetof(struct hstats, in_use) },
	};
	FILE *f = fopen(STATS, "r");
	char key[64];
	unsigned int i;
	long val;

	ASSERT(f);
	while (fscanf(f, "%63s %ld", key, &val) == 2)
		for (i = 0; i < ARRAY_SIZE(keys); i++)
			if (!strcmp(key, keys[i].name))
				*(long *)((char *)&h + keys[i].off) = val;
	fclose(f);
	return h;
}

/*
 * The counters against @n live buffers of @rounded bytes that asked for
 * @asked: exact bytes, within 4 KiB per buffer of the sizes asked, every
 * 2 MiB page held either a buffer's or counted free.  Fatal: the callers
 * may be forked children.  Returns the counters.
 */
static struct hstats heap_counters_match(long n, uint64_t asked,
					 uint64_t rounded)
{
	struct hstats h = hstats_read();

	ASSERT(h.buffers == n);
	ASSERT(h.bytes == (long)rounded);
	ASSERT(rounded >= asked && rounded - asked < KB * (uint64_t)n + !n);
	ASSERT(h.regs == n);
	ASSERT(h.reg_bytes == (long)rounded);
	ASSERT(h.pages * (long)HP == h.bytes + h.shared_free * (long)KB);
	ASSERT(h.in_use == h.pages);
	return h;
}

/*
 * Small buffers share a 2 MiB page, each mapped to its own 4 KiB pages
 * only: a neighbour's writes never show up, a freed run comes back zeroed,
 * a mapping beyond the size fails (EINVAL, the dma-buf core's check),
 * the mapping cannot be pinned, SEGMENTS lists one 4 KiB-granular run.  Sizes around 2 MiB take a whole
 * page and a run; another policy takes another page.
 */
static void test_heap_sizes_sub_page(void)
{
	int heap = heap_open(WCPOOL_POLICY_WC), uc = heap_open(WCPOOL_POLICY_UC);
	struct hset s = { .n = 0 };
	struct wcpool_segment seg[4];
	uint32_t count;
	struct hbuf b;
	void *p;

	hs_alloc(&s, heap, 5000, 1);
	hs_alloc(&s, heap, 4096, 2);
	heap_counters_match(2, s.asked, s.rounded);
	EXPECT(stat_get("heap_pages") == 1 && stat_get("heap_shared") == 1);
	EXPECT(stat_get("heap_shared_free") == 512 - 3);
	EXPECT(stat_get("pages_wc") == 1);

	/* Only the buffer's own pages: no mapping beyond its size. */
	EXPECT_ERR((long)mmap(NULL, 3 * KB, PROT_READ, MAP_SHARED, s.b[0].fd, 0),
		   EINVAL);
	EXPECT_ERR((long)mmap(NULL, KB, PROT_READ, MAP_SHARED, s.b[0].fd,
			      2 * KB), EINVAL);
	p = mmap(NULL, KB, PROT_READ, MAP_SHARED, s.b[0].fd, KB);
	ASSERT(p != MAP_FAILED);
	EXPECT(*(uint64_t *)p == word(1, KB));
	munmap(p, KB);
	count = ARRAY_SIZE(seg);
	ASSERT(segments(heap, s.b[0].fd, seg, &count) == 0);
	EXPECT(count == 1 && seg[0].offset == 0 && seg[0].length == 2 * KB);
	/*
	 * PFN maps: GUP (here vmsplice's, which takes references on the
	 * pages it puts in the pipe) cannot get a page that it could keep
	 * past the buffer's life.
	 */
	{
		struct iovec iov = { s.b[0].p, KB };
		int pfd[2];

		ASSERT(pipe(pfd) == 0);
		EXPECT_ERR(vmsplice(pfd[1], &iov, 1, 0), EFAULT);
		close(pfd[0]);
		close(pfd[1]);
	}

	/* The second one's run is zeroed for the third. */
	b = hs_take(&s, 1);
	hb_free(&b);
	hs_alloc(&s, heap, 4095, 3);
	EXPECT(stat_get("heap_pages") == 1);

	/* Straddling 2 MiB: a whole page and a run; exactly 2 MiB: a page. */
	hs_alloc(&s, heap, HP + 1, 4);
	EXPECT(stat_get("heap_pages") == 2 && stat_get("heap_shared") == 1);
	count = ARRAY_SIZE(seg);
	ASSERT(segments(heap, s.b[2].fd, seg, &count) == 0);
	EXPECT(count >= 1 && count <= 2);
	EXPECT(seg[0].offset == 0 && (count == 1 ? seg[0].length :
		seg[0].length + seg[1].length) == HP + KB);
	hs_alloc(&s, heap, HP - 1, 5);
	EXPECT(stat_get("heap_pages") == 3 && stat_get("heap_shared") == 1);
	hs_alloc(&s, heap, HP - KB - 1, 6);
	EXPECT(stat_get("heap_pages") == 4 && stat_get("heap_shared") == 2);
	/* Another policy, another page. */
	hs_alloc(&s, uc, 100, 7);
	EXPECT(stat_get("heap_shared") == 3 && stat_get("pages_uc") == 1);
	heap_counters_match(s.n, s.asked, s.rounded);

	while (s.n) {
		b = hs_take(&s, s.n / 2);
		hb_free(&b);
		heap_counters_match(s.n, s.asked, s.rounded);
	}
	close(heap);
	close(uc);
}

/*
 * Buffers of two memory cgroups never share a page (each cgroup pays for
 * the pages its buffers are in); buffers of one cgroup do.
 */
static void test_heap_sizes_memcg(void)
{
	int heap = heap_open(WCPOOL_POLICY_WC), a1, a2, b1;
	long before;

	memcg_make("wcpool-heap-a");
	memcg_make("wcpool-heap-b");
	memcg_enter("wcpool-heap-a");
	a1 = heap_alloc(heap, KB, O_RDWR);
	ASSERT(a1 >= 0);
	memcg_enter("wcpool-heap-b");
	before = memcg_current("wcpool-heap-b");
	b1 = heap_alloc(heap, KB, O_RDWR);
	ASSERT(b1 >= 0);
	EXPECT(stat_get("heap_shared") == 2);
	EXPECT(memcg_current("wcpool-heap-b") - before >= (long)HP);
	memcg_enter("wcpool-heap-a");
	a2 = heap_alloc(heap, 3 * KB, O_RDWR);
	ASSERT(a2 >= 0);
	EXPECT(stat_get("heap_shared") == 2);
	EXPECT(stat_get("heap_bytes") == (long)(5 * KB));
	close(a1);
	close(a2);
	close(b1);
	close(heap);
	memcg_remove("wcpool-heap-a");
	memcg_remove("wcpool-heap-b");
}

/* What heap_clone_child() is given and gives back. */
struct heap_clone {
	int heap;
	int fd;
};

/*
 * A task that shares the test's memory and fds (clone(CLONE_VM |
 * CLONE_FILES), as a vfork()ed child or a thread made with clone()), but
 * not its memory cgroup: it moves into wcpool-heap-b and allocates there.
 * No ASSERT (its exit() would run the test's atexit handlers and stdio in
 * memory the test shares): the exit status says what failed.
 */
static int heap_clone_child(void *arg)
{
	struct heap_clone *c = arg;
	char pid[16];
	int fd, n;

	n = snprintf(pid, sizeof(pid), "%d", (int)getpid());
	fd = open("/sys/fs/cgroup/wcpool-heap-b/cgroup.procs", O_WRONLY);
	if (fd < 0 || write(fd, pid, n) != n)
		_exit(2);
	close(fd);
	c->fd = heap_alloc(c->heap, KB, O_RDWR);
	_exit(c->fd >= 0 ? 0 : 3);
}

/*
 * The page allocator charges a task's own memory cgroup, not that of the
 * owner of the mm it shares: a task in cgroup B whose mm belongs to a task
 * in A gets a page of B's (charged to B), never a run in A's page.
 */
static void test_heap_sizes_memcg_task(void)
{
	const size_t stack_size = 64 * 1024;
	int heap = heap_open(WCPOOL_POLICY_WC), a1, a2, st;
	struct heap_clone c = { .heap = heap, .fd = -1 };
	char *stack = malloc(stack_size);
	long before;
	pid_t pid;

	ASSERT(stack);
	memcg_make("wcpool-heap-a");
	memcg_make("wcpool-heap-b");
	memcg_enter("wcpool-heap-a");
	a1 = heap_alloc(heap, KB, O_RDWR);
	ASSERT(a1 >= 0);
	EXPECT(stat_get("heap_shared") == 1);
	before = memcg_current("wcpool-heap-b");
	pid = clone(heap_clone_child, stack + stack_size,
		    CLONE_VM | CLONE_FILES | SIGCHLD, &c);
	ASSERT(pid > 0);
	ASSERT(waitpid(pid, &st, 0) == pid);
	ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0 && c.fd >= 0);
	/* The child's buffer: a page of its own, charged to B. */
	EXPECT(stat_get("heap_shared") == 2);
	EXPECT(memcg_current("wcpool-heap-b") - before >= (long)HP);
	/* A's next buffer shares A's page. */
	a2 = heap_alloc(heap, KB, O_RDWR);
	ASSERT(a2 >= 0);
	EXPECT(stat_get("heap_shared") == 2);
	close(a1);
	close(a2);
	close(c.fd);
	close(heap);
	free(stack);
	EXPECT(stat_get("heap_shared") == 0);
	memcg_remove("wcpool-heap-a");
	memcg_remove("wcpool-heap-b");
}

/*
 * The debug kernel (KASAN, lockdep, DEBUG_PAGEALLOC under TCG) needs a
 * minute or two for the 1000-buffer tests: more than the runner's 120 s
 * hang guard allows there.
 */
#define HEAP_SIZES_ALARM 400

/*
 * 1000 buffers of 4 KiB to 3 MiB (seed 1), at most 96 live, allocated and
 * freed in a random order from random policies in one process: after
 * every 8th step the counters match the live buffers; every buffer holds
 * its pattern until freed.  Prints the memory held against the sizes
 * asked (in_use, which the old code has too: the figure to compare).
 */
static void test_heap_sizes_random(void)
{
	int heaps[WCPOOL_POLICY_COUNT], i;
	unsigned int seed = 1, steps = 0, samples = 0, made = 0;
	double held = 0, asked = 0, peak_held = 0, peak_asked = 0;
	bool counters = stat_get("heap_bytes") >= 0;
	static struct hset s;
	struct hstats h;
	struct hbuf b;

	alarm(HEAP_SIZES_ALARM);
	for (i = 0; i < WCPOOL_POLICY_COUNT; i++)
		heaps[i] = heap_open(i);
	while (made < 1000 || s.n) {
		if (made < 1000 && s.n < 96 && (!s.n || rand_r(&seed) % 3)) {
			hs_alloc(&s, heaps[rand_r(&seed) % WCPOOL_POLICY_COUNT],
				 rnd_size(&seed), made);
			made++;
		} else {
			b = hs_take(&s, rand_r(&seed) % s.n);
			hb_free(&b);
		}
		/* Every 8th step: reading the stats walks every pool. */
		if (++steps % 8 && (made < 1000 || s.n))
			continue;
		h = counters ? heap_counters_match(s.n, s.asked, s.rounded) :
			       hstats_read();
		held += (double)h.in_use * HP;
		asked += s.asked;
		if (h.in_use * (double)HP > peak_held)
			peak_held = h.in_use * (double)HP;
		if (s.asked > peak_asked)
			peak_asked = s.asked;
		samples++;
	}
	printf("  heap_sizes_random: %u steps, %u sampled: mean asked %.1f MiB, mean held %.1f MiB (%.3f); peak asked %.1f MiB, peak held %.1f MiB\n",
	       steps, samples, asked / samples / MB, held / samples / MB,
	       held / asked,
	       peak_asked / MB, peak_held / MB);
	/* The old code has no heap counters: it fails here. */
	EXPECT(counters);
	for (i = 0; i < WCPOOL_POLICY_COUNT; i++)
		close(heaps[i]);
}

/* Messages from the child to the parent (SCM_RIGHTS for HM_BUF). */
enum { HM_BUF, HM_BARRIER, HM_DONE };
struct hmsg {
	uint32_t kind;
	uint32_t id;
	uint64_t len;
	uint64_t n, asked, rounded;	/* HM_BARRIER: the child's live set */
};

static int hm_send(int sock, const struct hmsg *m, int fd)
{
	char buf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)m, .iov_len = sizeof(*m) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd >= 0) {
		msg.msg_control = buf;
		msg.msg_controllen = sizeof(buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, 0) == sizeof(*m) ? 0 : -1;
}

/* 1: a message (and *@fd, or -1), 0: none waiting, -1: error or EOF. */
static int hm_recv(int sock, struct hmsg *m, int *fd, bool wait)
{
	char buf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = buf, .msg_controllen = sizeof(buf),
	};
	struct cmsghdr *cm;
	ssize_t n = recvmsg(sock, &msg, wait ? 0 : MSG_DONTWAIT);

	if (n < 0 && !wait && errno == EAGAIN)
		return 0;
	if (n != sizeof(*m))
		return -1;
	*fd = -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return 1;
}

/*
 * One side's random steps: allocate (ids @base + i) or free a random live
 * buffer; the child (@sock >= 0) hands every 4th buffer it frees to the
 * parent instead, and every 100 steps stops at a barrier, where the
 * parent checks the counters against both live sets.
 */
static void heap_two_steps(struct hset *s, const int *heaps,
			   unsigned int seed, uint32_t base, int sock)
{
	struct hmsg m;
	unsigned int i = 0, made = 0;
	struct hbuf b;
	char go;

	while (made < 500) {
		if (s->n < 48 && (!s->n || rand_r(&seed) % 3)) {
			hs_alloc(s, heaps[rand_r(&seed) % WCPOOL_POLICY_COUNT],
				 rnd_size(&seed), base + made);
			made++;
		} else {
			b = hs_take(s, rand_r(&seed) % s->n);
			if (sock >= 0 && !(rand_r(&seed) % 4)) {
				/* The parent checks and frees it. */
				m = (struct hmsg){ .kind = HM_BUF, .id = b.id,
						   .len = b.len };
				ASSERT(munmap(b.p, b.size) == 0);
				ASSERT(hm_send(sock, &m, b.fd) == 0);
				ASSERT(close(b.fd) == 0);
			} else {
				hb_free(&b);
			}
		}
		if (sock >= 0 && ++i % 100 == 0) {
			m = (struct hmsg){ .kind = HM_BARRIER, .n = s->n,
					   .asked = s->asked,
					   .rounded = s->rounded };
			ASSERT(hm_send(sock, &m, -1) == 0);
			ASSERT(read(sock, &go, 1) == 1);
		}
	}
}

/*
 * The parent's side of the messages: free the buffers handed over (after
 * checking their patterns through a mapping of its own), check the
 * counters at a barrier.  Returns false once the child is done.
 */
static bool heap_two_serve(int sock, const struct hset *own, bool wait,
			   unsigned int *barriers, unsigned int *handed)
{
	struct hmsg m;
	struct hbuf b;
	int fd, r;

	while ((r = hm_recv(sock, &m, &fd, wait)) > 0) {
		if (m.kind == HM_DONE)
			return false;
		if (m.kind == HM_BARRIER) {
			heap_counters_match(own->n + m.n, own->asked + m.asked,
					    own->rounded + m.rounded);
			(*barriers)++;
			ASSERT(write(sock, "g", 1) == 1);
			continue;
		}
		ASSERT(m.kind == HM_BUF && fd >= 0);
		b = (struct hbuf){ .fd = fd, .len = m.len, .id = m.id,
				   .size = (m.len + KB - 1) & ~(KB - 1) };
		hb_map(&b);
		hb_free(&b);
		(*handed)++;
	}
	ASSERT(r == 0);
	return true;
}

/*
 * 1000 buffers of 4 KiB to 3 MiB, odd sizes and sizes around 2 MiB,
 * allocated and freed in random orders by two processes at once, some
 * freed in the other process (the fd passed over a UNIX socket), each
 * filled with its own pattern and checked before it is freed; at each
 * barrier the counters match both processes' buffers exactly.
 */
static void test_heap_sizes_two_procs(void)
{
	int heaps[WCPOOL_POLICY_COUNT], sv[2], i, st;
	unsigned int barriers = 0, handed = 0;
	static struct hset own, child;
	struct hmsg m = { .kind = HM_DONE };
	struct hbuf b;
	pid_t pid;

	alarm(HEAP_SIZES_ALARM);
	for (i = 0; i < WCPOOL_POLICY_COUNT; i++)
		heaps[i] = heap_open(i);
	ASSERT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (!pid) {
		close(sv[0]);
		heap_two_steps(&child, heaps, 2, 1u << 20, sv[1]);
		while (child.n) {
			b = hs_take(&child, child.n / 2);
			hb_free(&b);
		}
		ASSERT(hm_send(sv[1], &m, -1) == 0);
		_exit(0);
	}
	close(sv[1]);
	/* Serve the child between steps of its own. */
	{
		unsigned int seed = 3, made = 0;
		bool more = true;

		while (made < 500) {
			if (own.n < 48 && (!own.n || rand_r(&seed) % 3)) {
				hs_alloc(&own,
					 heaps[rand_r(&seed) % WCPOOL_POLICY_COUNT],
					 rnd_size(&seed), made++);
			} else {
				b = hs_take(&own, rand_r(&seed) % own.n);
				hb_free(&b);
			}
			if (more)
				more = heap_two_serve(sv[0], &own, false,
						      &barriers, &handed);
		}
		while (own.n) {
			b = hs_take(&own, rand_r(&seed) % own.n);
			hb_free(&b);
		}
		while (more)
			more = heap_two_serve(sv[0], &own, true, &barriers,
					      &handed);
	}
	ASSERT(waitpid(pid, &st, 0) == pid);
	EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	printf("  heap_sizes_two_procs: %u barriers checked, %u buffers freed by the other process\n",
	       barriers, handed);
	EXPECT(barriers >= 4 && handed > 0);
	heap_counters_match(0, 0, 0);
	close(sv[0]);
	for (i = 0; i < WCPOOL_POLICY_COUNT; i++)
		close(heaps[i]);
}

const struct test heap_size_tests[] = {
	{ "heap_sizes_sub_page", test_heap_sizes_sub_page },
	{ "heap_sizes_memcg", test_heap_sizes_memcg },
	{ "heap_sizes_memcg_task", test_heap_sizes_memcg_task },
	{ "heap_sizes_random", test_heap_sizes_random },
	{ "heap_sizes_two_procs", test_heap_sizes_two_procs },
	{ NULL, NULL },
};
