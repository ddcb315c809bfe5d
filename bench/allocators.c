// SPDX-License-Identifier: MIT
/*
 * The allocators alloc and workload compare, set up on one kind of memory
 * at a time so that every row compares like with like:
 *
 *   hugetlb-2M  a wcpool pool of 2 MiB pages; jemalloc in an arena per
 *               thread whose extent hooks map MAP_HUGETLB memory; glibc with
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
 * points at its hugetlb arena for a hugetlb-2M row.
 */
#include <dlfcn.h>
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

/* Destroy the hugetlb arenas, then unmap what they had. */
static void huge_arenas_destroy(const unsigned *ind, size_t n)
{
	char name[64];

	for (size_t i = 0; i < n && ind[i]; i++) {
		snprintf(name, sizeof(name), "arena.%u.destroy", ind[i]);
		if (je.mallctl(name, NULL, NULL, NULL, 0))
			progress("jemalloc: %s failed", name);
	}
	pthread_mutex_lock(&hmaps.lock);
	for (size_t i = 0; i < hmaps.n; i++)
		munmap(hmaps.maps[i].p, hmaps.maps[i].len);
	hmaps.n = 0;
	pthread_mutex_unlock(&hmaps.lock);
}

/* The allocators of one row on one kind of pages */
struct alloc_set {
	const struct row *row;
	enum pages pages;
	struct wcp_pool *pool;
	/* jemalloc's hugetlb arena of each thread, as its default arenas */
	unsigned je_arena[WORKERS_MAX];
	long huge_promised;		/* pages the allocators may take */
	size_t n;
	struct allocator a[MAX_ALLOCATORS];
};

/*
 * Each worker thread's jemalloc arena for the set: its thread cache
 * emptied first, so that no block of another arena is handed out.
 */
static _Thread_local unsigned je_saved_arena;

static void je_thread_enter(void *arg, unsigned index)
{
	const struct alloc_set *s = arg;
	size_t len = sizeof(je_saved_arena);

	je.mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
	je.mallctl("thread.arena", &je_saved_arena, &len,
		   (void *)&s->je_arena[index], sizeof(s->je_arena[index]));
}

static void je_thread_leave(void *arg, unsigned index)
{
	(void)arg;
	(void)index;
	je.mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
	je.mallctl("thread.arena", NULL, NULL, &je_saved_arena,
		   sizeof(je_saved_arena));
}

static void hugetlb_row(const struct row *r, const char *memory);

/* Child mode: only the row given by --child. */
static bool row_wanted(const char *memory, unsigned threads)
{
	char spec[96];

	if (!opt.child)
		return true;
	snprintf(spec, sizeof(spec), "%s|%u", memory, threads);
	return !strcmp(spec, opt.child);
}

/* Does the row compare @name?  Then, on huge pages, do its pages fit? */
static bool wanted(struct alloc_set *s, const char *name)
{
	const struct row *r = s->row;
	long have, need = r->huge_each;
	char why[120];
	bool listed = !r->only;

	for (size_t i = 0; r->only && r->only[i]; i++)
		listed |= !strcmp(r->only[i], name);
	if (opt.only_alloc && strcmp(opt.only_alloc, name))
		return false;
	if (!listed || s->pages != PAGES_HUGETLB_2M)
		return listed;
	/* a few left to others */
	have = free_hugepages() - s->huge_promised;
	if (have >= need + HUGE_SPARE) {
		s->huge_promised += need;
		return true;
	}
	snprintf(why, sizeof(why), "%ld free 2 MiB pages, the row may take "
		 "%ld (and %d are left to others)", have, need, HUGE_SPARE);
	bench_skip(r->group, name, why);
	return false;
}

static void add(struct alloc_set *s, const char *name,
		void *(*alloc)(void *, size_t), void (*free_fn)(void *, void *, size_t),
		void *ctx)
{
	s->a[s->n++] = (struct allocator){ name, alloc, free_fn, ctx };
}

static void open_jemalloc(struct alloc_set *s, bool huge)
{
	const char *group = s->row->group;

	if (!je.mallctl || !je.mallocx || !je.dallocx) {
		bench_skip(group, "jemalloc", "mallctl/mallocx not found in the process");
		return;
	}
	for (unsigned t = 0; huge && t < s->row->threads; t++)
		if (!(s->je_arena[t] = huge_arena_create())) {
			huge_arenas_destroy(s->je_arena, t);
			s->je_arena[0] = 0;
			bench_skip(group, "jemalloc", "arenas.create with hugetlb "
				   "hooks failed");
			return;
		}
	if (!je.malloc || !je.free)
		bench_skip(group, "jemalloc", "its own malloc not found by dlsym()");
	else if (wanted(s, "jemalloc"))
		add(s, "jemalloc", je_alloc, je_free, NULL);
	if (wanted(s, "jemalloc-mallocx"))
		add(s, "jemalloc-mallocx", jex_alloc, jex_free, NULL);
	if (huge)
		workers_run(s->row->threads, je_thread_enter, s);
}

static void alloc_set_open(struct alloc_set *s, const struct row *r,
			   enum pages pages)
{
	bool huge = pages == PAGES_HUGETLB_2M;
	struct wcp_pool_options o = { .policy = WCP_POLICY_WB,
				      .page_size = huge ? WCP_PAGE_2M : WCP_PAGE_4K };
	memkind_t kind = huge ? MEMKIND_HUGETLB : MEMKIND_DEFAULT;
	int err;

	*s = (struct alloc_set){ .row = r, .pages = pages };
	/* valgrind (--ops under callgrind) cannot reserve 64 GiB at once */
	if (opt.count_ops)
		o.max_size = 4 * GiB;
	/* The 4 KiB rows stay on 4 KiB pages whatever THP's setting. */
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	je_resolve();
	if (wanted(s, "wcpool")) {
		static bool noted[NPAGES];
		char label[48];

		err = wcp_pool_create(&o, &s->pool);
		if (!err)
			add(s, "wcpool", wcpool_alloc, wcpool_free, s->pool);
		else
			bench_skip(r->group, "wcpool", strerror(-err));
		if (!err && !noted[pages]) {
			bench_note(r->group, "wcpool on %s: a %s pool",
				   pages_label[pages],
				   pool_label(s->pool, label, sizeof(label)));
			noted[pages] = true;
		}
	}
	open_jemalloc(s, huge);
	if (huge && wanted(s, "glibc")) {
		/* In hugetlb_row()'s child, with glibc.malloc.hugetlb=2 */
		void *p = __libc_malloc(64);

		if (page_size_at(p) == 2 * MiB)
			add(s, "glibc", glibc_alloc, glibc_free, NULL);
		else
			bench_skip(r->group, "glibc", "glibc.malloc.hugetlb=2 had "
				   "no effect: its heap is not on huge pages");
		__libc_free(p);
	} else if (wanted(s, "glibc")) {
		add(s, "glibc", glibc_alloc, glibc_free, NULL);
	}
	if (memkind_check_available(kind))
		bench_skip(r->group, "memkind", "kind not available");
	else if (wanted(s, "memkind"))
		add(s, "memkind", mk_alloc, mk_free, kind);
	if (huge && r->per_buffer && wanted(s, "mmap-hugetlb"))
		add(s, "mmap-hugetlb", mm_alloc, mm_free, NULL);
}

static void alloc_set_close(struct alloc_set *s)
{
	if (s->je_arena[0]) {
		workers_run(s->row->threads, je_thread_leave, s);
		huge_arenas_destroy(s->je_arena, s->row->threads);
	}
	if (s->pool)
		wcp_pool_destroy(s->pool);
}

/* A note when @block of allocator @name is not on @s's kind of pages. */
static void check_pages(const struct alloc_set *s, const char *name,
			const char *memory, const void *block)
{
	size_t want = s->pages == PAGES_HUGETLB_2M ? 2 * MiB : 4 * KiB,
	       got = block ? page_size_at(block) : want;

	if (got != want)
		bench_note(s->row->group, "%s, %u threads, %s: a live block is "
			   "on %zu KiB pages", memory, s->row->threads, name,
			   got / KiB);
}

/*
 * --ops: each allocator of a row of --ops-threads threads (one) on 4 KiB
 * pages opened (and so
 * warmed up), then opt.count_ops operations of each thread inside
 * bench_counted_job(), untimed; a line "ops NAME ROW THREADS N" on stdout for each.
 */
static int count_row(const struct row *r, enum pages pages)
{
	struct alloc_set s;
	int err = 0;

	if (pages != PAGES_4K || r->threads != opt.count_threads ||
	    strcmp(r->group, r->sub) ||
	    (opt.only_row && strcmp(opt.only_row, r->workload)))
		return 0;
	alloc_set_open(&s, r, pages);
	for (size_t i = 0; i < s.n; i++) {
		void *state = r->open(r, &s.a[i]);

		if (!state) {
			err = -1;
			break;
		}
		workers_count(true);
		r->run(state, opt.count_ops);
		workers_count(false);
		if (r->close(state))
			err = -1;
		printf("ops %s %s %u %llu\n", s.a[i].name, r->workload,
		       r->threads, (unsigned long long)opt.count_ops);
	}
	alloc_set_close(&s);
	return err;
}

int measure_row(const struct row *r, enum pages pages)
{
	struct bench_case c[MAX_ALLOCATORS];
	struct alloc_set s;
	char memory[40];
	int err = 0;

	if (opt.count_ops)
		return count_row(r, pages);
	if (opt.only_row && strcmp(opt.only_row, r->workload))
		return 0;
	snprintf(memory, sizeof(memory), "%s %s", r->workload, pages_label[pages]);
	if (pages == PAGES_HUGETLB_2M && !opt.child)
		hugetlb_row(r, memory);
	else if (row_wanted(memory, r->threads)) {
		size_t n = 0;

		alloc_set_open(&s, r, pages);
		for (size_t i = 0; i < s.n; i++) {
			void *state = r->open(r, &s.a[i]);

			if (!state) {
				err = -1;
				break;
			}
			c[n++] = (struct bench_case){ .name = s.a[i].name,
						      .fn = r->run, .arg = state,
						      .warm_ops = r->warm_ops,
						      .comparable = true };
		}
		if (n)
			measure_set(r->group, memory, r->size, r->bytes,
				    r->threads, c, n);
		for (size_t i = 0; i < n; i++) {
			uint64_t failures;

			check_pages(&s, c[i].name, memory, r->block(c[i].arg));
			failures = r->close(c[i].arg);
			if (failures) {
				char why[160];

				/* it did less work than it says: no figure */
				result_void(c[i].r);
				snprintf(why, sizeof(why), "%s %u threads: %llu "
					 "allocations failed, no time given",
					 memory, r->threads,
					 (unsigned long long)failures);
				bench_skip(r->group, c[i].name, why);
			}
		}
		alloc_set_close(&s);
	}
	return err;
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

/*
 * A hugetlb-2M row: the subcommand run again in a child with
 * GLIBC_TUNABLES=glibc.malloc.hugetlb=2 (glibc reads it only at start-up),
 * measuring only that row, every case of it there, so that glibc's samples
 * are interleaved with the others' as on 4 KiB pages (alone, glibc's
 * frames ran 1.2x faster than when other allocators' frames took turns in
 * the caches).  Its results are added to this process's.
 */
static void hugetlb_row(const struct row *r, const char *memory)
{
	static const char *const modes[] = {
		[MODE_STANDARD] = NULL, [MODE_QUICK] = "--quick",
		[MODE_SMOKE] = "--smoke", [MODE_FULL] = "--full",
	};
	char spec[96], cpu[16], *argv[8], **env;
	int fds[2], status, n = 0, err;
	posix_spawn_file_actions_t fa;
	const char *group = r->group;
	pid_t pid;
	FILE *f;

	static bool noted;

	if (!noted)
		bench_note(group, "hugetlb-2M rows run in a child process "
			   "(GLIBC_TUNABLES=glibc.malloc.hugetlb=2), every case "
			   "of the row there");
	noted = true;
	snprintf(spec, sizeof(spec), "%s|%u", memory, r->threads);
	snprintf(cpu, sizeof(cpu), "%d", opt.cpu);
	argv[n++] = (char *)"wcpool-bench";
	if (modes[opt.mode])
		argv[n++] = (char *)modes[opt.mode];
	argv[n++] = (char *)"--cpu";
	argv[n++] = cpu;
	argv[n++] = (char *)"--child";
	argv[n++] = spec;
	argv[n++] = (char *)r->sub;
	argv[n] = NULL;
	env = hugetlb_environ();
	if (!env || pipe(fds)) {
		free(env);
		bench_skip(group, memory, "cannot start a child process");
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
		bench_skip(group, memory, strerror(err));
	else if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
		 WEXITSTATUS(status))
		bench_skip(group, memory, "the child process measuring the row "
			   "(GLIBC_TUNABLES=glibc.malloc.hugetlb=2) failed");
}
