// SPDX-License-Identifier: GPL-2.0
/* The in-guest programs' runner and checks: see harness.h. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include "harness.h"

const char *cur_test;
unsigned int cur_failures;

int counters_check(const char *what)
{
	static const char * const zero[] = {
		"pools", "pages_wc", "pages_uc", "pages_wb", "deferred",
		"mapped_vmas", "in_use", "registrations", "registered_bytes",
		"pinned_pages", "dma_mapped", "gup_pinned", "pmd_mapped",
		"heap_buffers", "heap_bytes", "heap_pages", "heap_shared",
		"heap_shared_free",
	};
	unsigned int i, tries;
	int nbad = 0;
	long v;

	for (i = 0; i < ARRAY_SIZE(zero); i++) {
		/* Deferred pages are reaped once a second. */
		for (tries = 0; (v = stat_get(zero[i])) != 0 && tries < 50;
		     tries++)
			usleep(100000);
		if (v) {
			fprintf(stderr, "  %s: counter %s is %ld\n", what,
				zero[i], v);
			nbad++;
		}
	}
	return nbad;
}

static int kmsg_fd = -1;

void kmsg_open(void)
{
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg_fd >= 0)
		lseek(kmsg_fd, 0, SEEK_END);
}

int kmsg_check(const char *what)
{
	static const char * const bad[] = {
		"WARNING:", "BUG", "Oops", "general protection", "Call Trace",
		"x86/PAT", "conflicting memory types", "wcpool:",
		"wcpool_faultinj:", "refcount_t",
		"bad page", "Bad page", "list_add corruption",
		"list_del corruption", "soft lockup", "blocked for more than",
	};
	char rec[8192];
	unsigned int i;
	int nbad = 0;
	ssize_t n;

	if (kmsg_fd < 0)
		return 0;
	for (;;) {
		n = read(kmsg_fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			break;
		rec[n] = 0;
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			if (strstr(rec, bad[i])) {
				fprintf(stderr, "  %s: kernel log: %s", what,
					strchr(rec, ';') ? strchr(rec, ';') + 1 :
							   rec);
				nbad++;
				break;
			}
		}
	}
	return nbad;
}

uint64_t phys_addr(const volatile void *p)
{
	const uint64_t pfn_mask = (1ULL << 55) - 1;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t e = 0;

	(void)*(const volatile uint8_t *)p;
	ASSERT(fd >= 0);
	ASSERT(pread(fd, &e, 8, (uintptr_t)p / 4096 * 8) == 8);
	close(fd);
	ASSERT(e & pfn_mask);
	return (e & pfn_mask) * 4096 + ((uintptr_t)p & 4095);
}

bool kernel_has(const char *name)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[256], sym[128];
	size_t n = strlen(name);
	bool found = false;

	ASSERT(f);
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %127s", sym) == 1 &&
		    !strncmp(sym, name, n) &&
		    (!sym[n] || !strcmp(sym + n, "_noprof")))
			found = true;
	fclose(f);
	return found;
}

double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static bool run_one(const struct test *t)
{
	double t0 = now_s();
	int status, bad;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		cur_test = t->name;
		alarm(120);
		t->fn();
		exit(cur_failures ? 1 : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		perror("fork/waitpid");
		return false;
	}
	bad = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		if (WIFSIGNALED(status))
			fprintf(stderr, "  %s: killed by signal %d\n", t->name,
				WTERMSIG(status));
		bad++;
	}
	bad += counters_check(t->name);
	bad += kmsg_check(t->name);
	printf("%s %s (%.0f ms)\n", bad ? "FAIL" : "PASS", t->name,
	       (now_s() - t0) * 1e3);
	return !bad;
}

static bool run_rmmod(void)
{
	int rc, bad;

	fflush(NULL);
	rc = system("rmmod wcpool");
	bad = rc != 0 || access("/dev/wcpool", F_OK) == 0;
	bad += kmsg_check("rmmod");
	printf("%s rmmod\n", bad ? "FAIL" : "PASS");
	return !bad;
}

static bool named(const char *name, int argc, char **argv)
{
	int a;

	for (a = 0; a < argc; a++)
		if (!strcmp(argv[a], name))
			return true;
	return false;
}

int harness_main(int argc, char **argv, const struct test *const suites[])
{
	unsigned int passed = 0, failed = 0;
	const struct test *const *s, *t;
	bool keep = argc > 1 && !strcmp(argv[1], "-k");

	/* The test names asked for, if any. */
	argc -= 1 + keep;
	argv += 1 + keep;
	setvbuf(stdout, NULL, _IOLBF, 0);
	kmsg_open();
	if (access("/dev/wcpool", R_OK | W_OK)) {
		perror("/dev/wcpool");
		printf("0 passed, 1 failed\n");
		return 1;
	}

	for (s = suites; *s; s++) {
		for (t = *s; t->name; t++) {
			if (argc && !named(t->name, argc, argv))
				continue;
			if (run_one(t))
				passed++;
			else
				failed++;
		}
	}
	if (!keep && !argc) {
		if (run_rmmod())
			passed++;
		else
			failed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}

int vgem_open(void)
{
	char path[32], name[32];
	int i, fd;

	for (i = 0; i < 16; i++) {
		struct t_drm_version v = {
			.name_len = sizeof(name) - 1, .name = name,
		};

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(name, 0, sizeof(name));
		if (!ioctl(fd, T_DRM_IOCTL_VERSION, &v) && !strcmp(name, "vgem"))
			return fd;
		close(fd);
	}
	return -1;
}
