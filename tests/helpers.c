// SPDX-License-Identifier: MIT
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

/*
 * WCPOOL_TEST_POLICY=wc|uc|wb runs the suites on pools of that policy (the
 * in-guest runs against wcpool.ko do each in turn); unset means default.
 */
uint32_t test_policy(void)
{
	const char *p = getenv("WCPOOL_TEST_POLICY");

	if (!p || !*p)
		return WCP_POLICY_DEFAULT;
	if (!strcmp(p, "wc"))
		return WCP_POLICY_WC;
	if (!strcmp(p, "uc"))
		return WCP_POLICY_UC;
	cr_assert_str_eq(p, "wb", "WCPOOL_TEST_POLICY must be wc, uc or wb");
	return WCP_POLICY_WB;
}

struct wcp_pool *make_pool(uint64_t page_size, uint64_t max_size)
{
	struct wcp_pool_options o = { .page_size = page_size,
				      .max_size = max_size,
				      .policy = test_policy() };
	struct wcp_pool *pool = NULL;
	int err;

	/* Pools the module cannot make (4 KiB pages) come from a memfd. */
	if (o.policy != WCP_POLICY_DEFAULT)
		o.flags |= WCP_POOL_ALLOW_WB_FALLBACK;
	err = wcp_pool_create(&o, &pool);

	cr_assert_eq(err, 0, "wcp_pool_create: %d", err);
	cr_assert_not_null(pool);
	return pool;
}

void *alias_of(void *p)
{
	return p;
}

int count_mappings(const void *lo, const void *hi)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long start, end;
	char line[512];
	int n = 0;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &start, &end) == 2 &&
		    start < (uintptr_t)hi && end > (uintptr_t)lo)
			n++;
	fclose(f);
	return n;
}

int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static unsigned char pattern_byte(size_t i, unsigned seed)
{
	return (unsigned char)((i * 2654435761u) >> 13 ^ seed);
}

void fill_pattern(void *p, size_t len, unsigned seed)
{
	unsigned char *c = p;

	for (size_t i = 0; i < len; i++)
		c[i] = pattern_byte(i, seed);
}

bool check_pattern(const void *p, size_t len, unsigned seed)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < len; i++)
		if (c[i] != pattern_byte(i, seed))
			return false;
	return true;
}

bool all_zero(const void *p, size_t len)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < len; i++)
		if (c[i])
			return false;
	return true;
}

static void abort_in_child(void (*fn)(void *), void *arg, const char *message,
			   bool run_atfork)
{
	char out[1024] = "";
	size_t got = 0;
	ssize_t n;
	int pipefd[2], status;
	pid_t pid;

	cr_assert_eq(pipe(pipefd), 0);
	fflush(NULL);
	/*
	 * _Fork() runs no atfork handlers: the child is this process's twin
	 * to abort in, not a child libwcpool would keep off the parent's pools.
	 */
	pid = run_atfork ? fork() : _Fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		fn(arg);
		_exit(0); /* not reached if fn aborts */
	}
	close(pipefd[1]);
	while (got < sizeof(out) - 1 &&
	       (n = read(pipefd[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)n;
	close(pipefd[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
		  "child was not aborted (status %#x), stderr: %s", status,
		  out);
	cr_assert_not_null(strstr(out, message), "stderr \"%s\" lacks \"%s\"",
			   out, message);
}

void expect_abort(void (*fn)(void *), void *arg, const char *message)
{
	abort_in_child(fn, arg, message, false);
}

void expect_abort_after_fork(void (*fn)(void *), void *arg,
			     const char *message)
{
	abort_in_child(fn, arg, message, true);
}
