// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool-test: recycled pages and reclaim inside a memory cgroup.  A
 * recycled page stays charged to the cgroup that allocated it (nothing
 * exported moves a kmem charge), so reclaim of that cgroup must be able to
 * free it: the shrinker is memcg-aware (kernel/wcpool_page.c).
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "wcpool-test.h"

#define CG_NAME "wcpool-reclaim"
#define CG_MAX (32 * MB)
#define NR_FREED 8		/* 2 MiB pages allocated and freed: 16 MiB */
#define ANON (20 * MB)		/* fits CG_MAX only if the 16 MiB go */

/* The count of @key in a memory.events file; -1 if absent. */
static long memcg_event(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char name[64];
	long v, ret = -1;

	ASSERT(f);
	while (fscanf(f, "%63s %ld", name, &v) == 2)
		if (!strcmp(name, key))
			ret = v;
	fclose(f);
	return ret;
}

/* Allocate and free NR_FREED WC pages through a pool: GROW, RELEASE. */
static void churn_pool(void)
{
	int fd = pool(WCPOOL_POLICY_WC, 64 * MB);

	ASSERT(grow(fd, 0, NR_FREED * HP) == 0);
	ASSERT(release(fd, 0, NR_FREED * HP) == 0);
	close(fd);
}

/* Allocate and free NR_FREED 2 MiB buffers of the WC heap. */
static void churn_heap(void)
{
	int heap = heap_open(WCPOOL_POLICY_WC), dfd[NR_FREED], i;

	for (i = 0; i < NR_FREED; i++) {
		dfd[i] = heap_alloc(heap, HP, O_RDWR);
		ASSERT(dfd[i] >= 0);
	}
	for (i = 0; i < NR_FREED; i++)
		close(dfd[i]);
	close(heap);
}

/*
 * In a cgroup limited to 32 MiB, a process allocates and frees 16 MiB of
 * WC pages, which stay recycled and charged to the cgroup, then touches
 * 20 MiB of anonymous memory.  Reclaim of the cgroup must free recycled
 * pages rather than OOM-kill the process (with a shrinker that memcg
 * reclaim never calls, it was killed).
 */
static void memcg_reclaim(void (*churn)(void))
{
	long n = read_long("/sys/module/wcpool/parameters/recycle_pages");
	long charged, oom_kills;
	char path[128];
	pid_t pid;
	int st;

	/* Else the pages would not stay recycled: nothing to reclaim. */
	ASSERT(n >= NR_FREED);
	memcg_make(CG_NAME);
	write_file("/sys/fs/cgroup/" CG_NAME "/memory.max", "%lu", CG_MAX);
	pid = fork();
	ASSERT(pid >= 0);
	if (!pid) {
		size_t i;
		char *p;

		memcg_enter(CG_NAME);
		churn();
		/* The setup holds: the freed pages are recycled, charged here. */
		ASSERT(stat_get("recycle_wc") == NR_FREED);
		charged = memcg_current(CG_NAME);
		printf("  %s: %d MiB freed, cgroup charged %.1f MiB, recycled %ld pages\n",
		       cur_test, NR_FREED * 2, charged / (double)MB,
		       stat_get("recycle_wc"));
		ASSERT(charged >= (long)(NR_FREED * HP));
		p = mmap(NULL, ANON, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT(p != MAP_FAILED);
		for (i = 0; i < ANON; i += 4096)
			p[i] = 1;
		printf("  %s: touched %lu MiB, recycled %ld pages left\n",
		       cur_test, ANON / MB, stat_get("recycle_wc"));
		_exit(0);
	}
	ASSERT(waitpid(pid, &st, 0) == pid);
	if (WIFSIGNALED(st))
		printf("  %s: child killed by signal %d\n", cur_test,
		       WTERMSIG(st));
	EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* Reclaim of the cgroup took recycled pages: no OOM kill. */
	EXPECT(stat_get("recycle_wc") < NR_FREED);
	snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/memory.events",
		 CG_NAME);
	oom_kills = memcg_event(path, "oom_kill");
	EXPECT(oom_kills == 0);
	/* The rest moves to the parent's list with the cgroup's removal. */
	memcg_remove(CG_NAME);
	write_file("/proc/sys/vm/drop_caches", "2");
	EXPECT(stat_get("recycle_wc") == 0);
}

static void test_memcg_reclaim_pool(void)
{
	memcg_reclaim(churn_pool);
}

static void test_memcg_reclaim_heap(void)
{
	memcg_reclaim(churn_heap);
}

/*
 * Pages recycled by a cgroup that is then removed move to its parent's
 * list (list_lru reparenting): reclaim still finds them, and the next
 * allocation, in another cgroup, still reuses them.
 */
static void test_memcg_reclaim_removed(void)
{
	int fd;

	memcg_make(CG_NAME);
	memcg_enter(CG_NAME);
	churn_pool();
	ASSERT(stat_get("recycle_wc") == NR_FREED);
	memcg_remove(CG_NAME);
	fd = pool(WCPOOL_POLICY_WC, 64 * MB);
	ASSERT(grow(fd, 0, 2 * HP) == 0);
	EXPECT(stat_get("recycle_wc") == NR_FREED - 2);
	close(fd);
	EXPECT(stat_get("recycle_wc") == NR_FREED);
	write_file("/proc/sys/vm/drop_caches", "2");
	EXPECT(stat_get("recycle_wc") == 0);
}

/* Grow and free @nr WC pages in cgroup @name. */
static void churn_in(const char *name, unsigned int nr)
{
	int fd;

	memcg_enter(name);
	fd = pool(WCPOOL_POLICY_WC, 64 * MB);
	ASSERT(grow(fd, 0, nr * HP) == 0);
	close(fd);
}

/*
 * An allocation takes a recycled page of its own cgroup before another
 * cgroup's: B, with 2 pages of its own and 2 of A's recycled, grows 2
 * and takes its own, so reclaim of A (memory.reclaim) still finds A's 2
 * (taken in any order, B would have taken A's: nothing left for A).
 */
static void test_memcg_recycle_own_first(void)
{
	long b0;
	int fd, rfd;

	memcg_make("wcpool-a");
	memcg_make("wcpool-b");
	churn_in("wcpool-a", 2);
	/* B takes A's 2 (which go back to A's list) and 2 new ones. */
	churn_in("wcpool-b", 4);
	ASSERT(stat_get("recycle_wc") == 4);
	b0 = memcg_current("wcpool-b");
	fd = pool(WCPOOL_POLICY_WC, 64 * MB);
	ASSERT(grow(fd, 0, 2 * HP) == 0);
	EXPECT(stat_get("recycle_wc") == 2);
	/* 1 MiB of slack: charges are batched per CPU */
	EXPECT(labs(memcg_current("wcpool-b") - b0) < (long)MB);
	/*
	 * Reclaim counts no shrinker's pages as reclaimed: the write may
	 * end with EAGAIN after it freed them.
	 */
	rfd = open("/sys/fs/cgroup/wcpool-a/memory.reclaim", O_WRONLY);
	ASSERT(rfd >= 0);
	if (write(rfd, "4M", 2) < 0)
		EXPECT(errno == EAGAIN);
	close(rfd);
	EXPECT(stat_get("recycle_wc") == 0);
	close(fd);
	memcg_remove("wcpool-a");
	memcg_remove("wcpool-b");
}

/*
 * The -contig heap nodes charge no memory cgroup (alloc_contig_range()
 * charges none and nothing exported charges its pages afterwards): a
 * 16 MiB buffer fits an 8 MiB cgroup there, only limit_mb bounds it,
 * while the plain node refuses it.  No -contig nodes on 6.1.
 */
static void test_heap_contig_memcg(void)
{
	const char *node = "/dev/dma_heap/wcpool-wc-contig";
	long before;
	int heap, dfd;

	heap = open(node, O_RDWR | O_CLOEXEC);
	if (heap < 0) {
		EXPECT(errno == ENOENT);
		printf("  %s: no %s on this kernel\n", cur_test, node);
		return;
	}
	memcg_make(CG_NAME);
	memcg_enter(CG_NAME);
	before = memcg_current(CG_NAME);
	write_file("/sys/fs/cgroup/" CG_NAME "/memory.max", "%ld",
		   before + 8 * (long)MB);
	/*
	 * The plain node first: the recycle pool would give it the -contig
	 * buffer's freed pages, which are charged to no cgroup either.
	 */
	dfd = heap_open(WCPOOL_POLICY_WC);
	EXPECT_ERR(heap_alloc(dfd, 16 * MB, O_RDWR), ENOMEM);
	close(dfd);
	before = memcg_current(CG_NAME);
	dfd = heap_alloc(heap, 16 * MB, O_RDWR);
	ASSERT(dfd >= 0);
	EXPECT(memcg_current(CG_NAME) - before < (long)MB);
	close(dfd);
	close(heap);
	memcg_remove(CG_NAME);
}

const struct test memcg_tests[] = {
	{ "memcg_reclaim_pool", test_memcg_reclaim_pool },
	{ "memcg_reclaim_heap", test_memcg_reclaim_heap },
	{ "memcg_reclaim_removed", test_memcg_reclaim_removed },
	{ "memcg_recycle_own_first", test_memcg_recycle_own_first },
	{ "heap_contig_memcg", test_heap_contig_memcg },
	{ NULL }
};
