// SPDX-License-Identifier: MIT
/*
 * The allocators alloc and workload compare, set up on one kind of memory
 * at a time so that every row compares like with like:
 *
 *   hugetlb-2M  a wcpool pool of 2 MiB pages; jemalloc in an arena of its
 *               own whose extent hooks map MAP_HUGETLB memory; glibc with
 *               GLIBC_TUNABLES=glibc.malloc.hugetlb=2, which it reads at
 *               start-up only, so that row is measured by this program run
 *               again as a child; memkind's MEMKIND_HUGETLB; for frames, an
 *               mmap(MAP_HUGETLB) per buffer.
 *   pages-4K    a wcpool pool of 4 KiB pages; jemalloc's default arenas;
 *               glibc; memkind's MEMKIND_DEFAULT.
 *
 * Every pool or arena is new for each row and gone after it.  jemalloc is
 * the one libwcpool is linked with, called through dlsym() so that it does
 * not become the process's malloc: "jemalloc" is its own malloc()/free()
 * (the thread cache's fast path), "jemalloc-mallocx" mallocx()/dallocx()
 * with flags 0; both use the thread's arena, which each worker thread
 * points at the hugetlb arena for a hugetlb-2M row.
 */
#include <dlfcn.h>
#include <errno.h>
#include <memkind.h>
#include <pthread.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jemalloc/jemalloc.h>

#include "bench.h"

/* Huge pages left free for others beyond what a row may take. */
#define HUGE_SPARE 16

extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);

const char *const pages_label[NPAGES] = {
	[PAGES_HUGETLB_2M] = "hugetlb-2M",
	[PAGES_4K] = "pages-4K",
};

static void *wcpool_alloc(void *ctx, size_t n) { return wcp_malloc(ctx, n); }
static void wcpool_free(void *ctx, void *p, size_t n) { (void)n; wcp_free(ctx, p); }
static void *glibc_alloc(void *ctx, size_t n) { (void)ctx; return __libc_malloc(n); }
static void glibc_free(void *ctx, void *p, size_t n) { (void)ctx; (void)n; __libc_free(p); }
static void *mk_alloc(void *ctx, size_t n) { return memkind_malloc(ctx, n); }
static void mk_free(void *ctx, void *p, size_t n) { (void)n; memkind_free(ctx, p); }

static struct {
	int (*mallctl)(const char *, void *, size_t *, void *, size_t);
	void *(*mallocx)(size_t, int);
	void (*dallocx)(void *, int);
	void *(*malloc)(size_t);
	void (*free)(void *);
} je;

static void *je_alloc(void *ctx, size_t n) { (void)ctx; return je.malloc(n); }
static void je_free(void *ctx, void *p, size_t n) { (void)ctx; (void)n; je.free(p); }
static void *jex_alloc(void *ctx, size_t n) { (void)ctx; return je.mallocx(n, 0); }
static void jex_free(void *ctx, void *p, size_t n) { (void)ctx; (void)n; je.dallocx(p, 0); }

static size_t huge_round(size_t n) { return (n + 2 * MiB - 1) & ~(2 * MiB - 1); }

static void *mm_alloc(void *ctx, size_t n)
{
	void *p = mmap(NULL, huge_round(n), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

	(void)ctx;
	return p == MAP_FAILED ? NULL : p;
}
static void mm_free(void *ctx, void *p, size_t n) { (void)ctx; munmap(p, huge_round(n)); }

/* jemalloc's own malloc and free, from the library mallocx() is in */
static void je_resolve(void)
{
	Dl_info di;
	void *h;

	if (je.mallctl)
		return;
	je.mallctl = (int (*)(const char *, void *, size_t *, void *, size_t))
		dlsym(RTLD_DEFAULT, "mallctl");
	je.mallocx = (void *(*)(size_t, int))dlsym(RTLD_DEFAULT, "mallocx");
	je.dallocx = (void (*)(void *, int))dlsym(RTLD_DEFAULT, "dallocx");
	if (!je.mallocx || !dladdr((void *)je.mallocx, &di) || !di.dli_fname ||
	    !(h = dlopen(di.dli_fname, RTLD_LAZY | RTLD_NOLOAD)))
		return;
	je.malloc = (void *(*)(size_t))dlsym(h, "malloc");
	je.free = (void (*)(void *))dlsym(h, "free");
	dlclose(h);
}

/*
 * The hugetlb arena's extent hooks: every extent is a MAP_HUGETLB mapping
 * of its own, kept until the arena is destroyed (dalloc declines, so
 * jemalloc retains what it got); split and merge are bookkeeping only.
 * Without purge or decommit hooks nothing is given back, as in a pool.
 */
static struct {
	pthread_mutex_t lock;
	struct { void *p; size_t len; } *maps;
	size_t n, cap;
} hmaps = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void *huge_extent_alloc(extent_hooks_t *h, void *new_addr, size_t size,
			       size_t align, bool *zero, bool *commit,
			       unsigned arena)
{
	size_t len = huge_round(size), extra = align > 2 * MiB ? align : 0;
	char *p, *q;

	(void)h;
	(void)arena;
	if (new_addr)
		return NULL;
	p = mmap(NULL, len + extra, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	q = extra ? (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1)) : p;
	if (q > p)
		munmap(p, (size_t)(q - p));
	if (extra && p + extra > q)
		munmap(q + len, (size_t)(p + extra - q));
	pthread_mutex_lock(&hmaps.lock);
	if (hmaps.n == hmaps.cap) {
		size_t cap = hmaps.cap ? 2 * hmaps.cap : 64;
		void *m = realloc(hmaps.maps, cap * sizeof(*hmaps.maps));

		if (!m) {
			pthread_mutex_unlock(&hmaps.lock);
			munmap(q, len);
			return NULL;
		}
		hmaps.maps = m;
		hmaps.cap = cap;
	}
	hmaps.maps[hmaps.n].p = q;
	hmaps.maps[hmaps.n++].len = len;
	pthread_mutex_unlock(&hmaps.lock);
	*zero = true;
	*commit = true;
	return q;
}

static bool huge_extent_dalloc(extent_hooks_t *h, void *addr, size_t size,
			       bool committed, unsigned arena)
{
	(void)h, (void)addr, (void)size, (void)committed, (void)arena;
	return true;
}

static bool huge_extent_split(extent_hooks_t *h, void *addr, size_t size,
			      size_t size_a, size_t size_b, bool committed,
			      unsigned arena)
{
	(void)h, (void)addr, (void)size, (void)size_a, (void)size_b;
	(void)committed, (void)arena;
	return false;
}

static bool huge_extent_merge(extent_hooks_t *h, void *addr_a, size_t size_a,
			      void *addr_b, size_t size_b, bool committed,
			      unsigned arena)
{
	(void)h, (void)addr_a, (void)size_a, (void)addr_b, (void)size_b;
	(void)committed, (void)arena;
	return false;
}

static extent_hooks_t huge_hooks = {
	.alloc = huge_extent_alloc,
	.dalloc = huge_extent_dalloc,
	.split = huge_extent_split,
	.merge = huge_extent_merge,
};

/* A jemalloc arena on huge pages that never gives them back; 0 if none. */
static unsigned huge_arena_create(void)
{
	extent_hooks_t *hooks = &huge_hooks;
	ssize_t never = -1;
	unsigned ind;
	size_t len = sizeof(ind);
	char name[64];

	if (je.mallctl("arenas.create", &ind, &len, &hooks, sizeof(hooks)))
		return 0;
	snprintf(name, sizeof(name), "arena.%u.dirty_decay_ms", ind);
	je.mallctl(name, NULL, NULL, &never, sizeof(never));
	snprintf(name, sizeof(name), "arena.%u.muzzy_decay_ms", ind);
	je.mallctl(name, NULL, NULL, &never, sizeof(never));
	return ind;
}

static void huge_arena_destroy(unsigned ind)
{
	char name[64];

	snprintf(name, sizeof(name), "arena.%u.destroy", ind);
	if (je.mallctl(name, NULL, NULL, NULL, 0))
		progress("jemalloc: %s failed", name);
	pthread_mutex_lock(&hmaps.lock);
	for (size_t i = 0; i < hmaps.n; i++)
		munmap(hmaps.maps[i].p, hmaps.maps[i].len);
	hmaps.n = 0;
	pthread_mutex_unlock(&hmaps.lock);
}

/*
 * Each worker thread's jemalloc arena for the set: its thread cache
 * emptied first, so that no block of another arena is handed out.
 */
static _Thread_local unsigned je_saved_arena;

static void je_thread_enter(void *arg, unsigned index)
{
	const struct alloc_set *s = arg;
	size_t len = sizeof(je_saved_arena);

	(void)index;
	je.mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
	je.mallctl("thread.arena", &je_saved_arena, &len, (void *)&s->je_arena,
		   sizeof(s->je_arena));
}

static void je_thread_leave(void *arg, unsigned index)
{
	(void)arg;
	(void)index;
	je.mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
	je.mallctl("thread.arena", NULL, NULL, &je_saved_arena,
		   sizeof(je_saved_arena));
}

/* Child mode: only the row given by --child, only glibc. */
bool alloc_row_wanted(const char *memory, unsigned threads)
{
	char spec[96];

	if (!opt.child)
		return true;
	snprintf(spec, sizeof(spec), "%s|%u", memory, threads);
	return !strcmp(spec, opt.child);
}

static void add(struct alloc_set *s, const char *name,
		void *(*alloc)(void *, size_t), void (*free_fn)(void *, void *, size_t),
		void *ctx)
{
	s->a[s->n++] = (struct allocator){ name, alloc, free_fn, ctx };
}

/*
 * Room for @need more huge pages among the free ones, less those already
 * @promised to the row's other allocators, with a few left to others?
 */
static bool huge_fits(const char *group, const char *name, long need,
		      long *promised)
{
	long have = free_hugepages() - *promised;
	char why[120];

	if (have >= need + HUGE_SPARE) {
		*promised += need;
		return true;
	}
	snprintf(why, sizeof(why), "%ld free 2 MiB pages, the row may take "
		 "%ld (and %d are left to others)", have, need, HUGE_SPARE);
	bench_skip(group, name, why);
	return false;
}

size_t alloc_set_open(struct alloc_set *s, const char *group, enum pages pages,
		      unsigned threads, long huge_each, bool per_buffer)
{
	bool huge = pages == PAGES_HUGETLB_2M;
	struct wcp_pool_options o = { .policy = WCP_POLICY_WB,
				      .page_size = huge ? WCP_PAGE_2M : WCP_PAGE_4K };
	long promised = 0;
	int err;

	*s = (struct alloc_set){ .group = group, .pages = pages,
				 .label = pages_label[pages], .threads = threads };
	/* The 4 KiB rows stay on 4 KiB pages whatever THP's setting. */
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	je_resolve();
	if (opt.child) {
		void *p = __libc_malloc(64);

		if (page_size_at(p) == 2 * MiB)
			add(s, "glibc", glibc_alloc, glibc_free, NULL);
		else
			bench_skip(group, "glibc", "glibc.malloc.hugetlb=2 had no "
				   "effect: its heap is not on huge pages");
		__libc_free(p);
		return s->n;
	}
	if (!huge || huge_fits(group, "wcpool", huge_each, &promised)) {
		err = wcp_pool_create(&o, &s->pool);
		if (!err)
			add(s, "wcpool", wcpool_alloc, wcpool_free, s->pool);
		else
			bench_skip(group, "wcpool", strerror(-err));
	}
	if (!je.mallctl || !je.mallocx || !je.dallocx) {
		bench_skip(group, "jemalloc", "mallctl/mallocx not found in the process");
	} else if (!huge || huge_fits(group, "jemalloc", huge_each, &promised)) {
		if (huge && !(s->je_arena = huge_arena_create())) {
			bench_skip(group, "jemalloc", "arenas.create with hugetlb hooks failed");
		} else {
			if (je.malloc && je.free)
				add(s, "jemalloc", je_alloc, je_free, NULL);
			else
				bench_skip(group, "jemalloc", "jemalloc's malloc not "
					   "found by dlsym(): mallocx rows only");
			add(s, "jemalloc-mallocx", jex_alloc, jex_free, NULL);
			if (huge)
				workers_run(threads, je_thread_enter, s);
		}
	}
	if (!huge)
		add(s, "glibc", glibc_alloc, glibc_free, NULL);
	if (memkind_check_available(huge ? MEMKIND_HUGETLB : MEMKIND_DEFAULT))
		bench_skip(group, "memkind", "kind not available");
	else if (!huge || huge_fits(group, "memkind", huge_each, &promised))
		add(s, "memkind", mk_alloc, mk_free,
		    huge ? MEMKIND_HUGETLB : MEMKIND_DEFAULT);
	if (huge && per_buffer && huge_fits(group, "mmap-hugetlb", huge_each, &promised))
		add(s, "mmap-hugetlb", mm_alloc, mm_free, NULL);
	return s->n;
}

void alloc_set_close(struct alloc_set *s)
{
	if (s->je_arena) {
		workers_run(s->threads, je_thread_leave, s);
		huge_arena_destroy(s->je_arena);
	}
	if (s->pool)
		wcp_pool_destroy(s->pool);
	*s = (struct alloc_set){ 0 };
}

void alloc_check_pages(const struct alloc_set *s, const char *name,
		       const void *block)
{
	size_t want = s->pages == PAGES_HUGETLB_2M ? 2 * MiB : 4 * KiB,
	       got = block ? page_size_at(block) : want;

	if (got != want)
		bench_note(s->group, "%s on %s: a block is on %zu KiB pages",
			   name, s->label, got / KiB);
}

/* The environment, with glibc.malloc.hugetlb=2 added to GLIBC_TUNABLES */
static char **hugetlb_environ(void)
{
	extern char **environ;
	static char tunables[1024];
	size_t n = 0, k = 0;
	char **env;

	snprintf(tunables, sizeof(tunables), "GLIBC_TUNABLES=glibc.malloc.hugetlb=2");
	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!strncmp(environ[i], "GLIBC_TUNABLES=", 15))
			snprintf(tunables, sizeof(tunables), "%s:glibc.malloc.hugetlb=2",
				 environ[i]);
		else
			env[k++] = environ[i];
	env[k] = tunables;
	return env;
}

void glibc_hugetlb_row(const char *sub, const char *group, const char *memory,
		       unsigned threads, long huge_pages)
{
	static const char *const modes[] = {
		[MODE_STANDARD] = NULL, [MODE_QUICK] = "--quick",
		[MODE_SMOKE] = "--smoke", [MODE_FULL] = "--full",
	};
	char spec[96], cpu[16], *argv[8], **env;
	int fds[2], status, n = 0, err;
	posix_spawn_file_actions_t fa;
	long promised = 0;
	pid_t pid;
	FILE *f;

	if (opt.child || !huge_fits(group, "glibc", huge_pages, &promised))
		return;
	snprintf(spec, sizeof(spec), "%s|%u", memory, threads);
	snprintf(cpu, sizeof(cpu), "%d", opt.cpu);
	argv[n++] = (char *)"wcpool-bench";
	if (modes[opt.mode])
		argv[n++] = (char *)modes[opt.mode];
	argv[n++] = (char *)"--cpu";
	argv[n++] = cpu;
	argv[n++] = (char *)"--child";
	argv[n++] = spec;
	argv[n++] = (char *)sub;
	argv[n] = NULL;
	env = hugetlb_environ();
	if (!env || pipe(fds)) {
		free(env);
		bench_skip(group, "glibc", "cannot start a child process");
		return;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	posix_spawn_file_actions_addclose(&fa, fds[1]);
	fflush(NULL);
	err = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (!f) {
		close(fds[0]);
	} else {
		if (!err)
			results_load(f);
		fclose(f);
	}
	if (err)
		bench_skip(group, "glibc", strerror(err));
	else if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
		 WEXITSTATUS(status))
		bench_skip(group, "glibc", "the child process measuring it "
			   "(GLIBC_TUNABLES=glibc.malloc.hugetlb=2) failed");
}
