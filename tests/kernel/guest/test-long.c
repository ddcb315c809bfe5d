// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool-test: long operations: GROW and RELEASE over a 2^46-byte pool,
 * and processes killed in the middle of them.
 */
#include "wcpool-test.h"

#define HUGE_MAX (1ULL << 46)

/*
 * GROW and RELEASE look only at the pages present (and GROW refuses a range
 * larger than the limit at once): on a 2^46-byte pool each takes
 * milliseconds, where walking every index took seconds (on 6.1 here: GROW
 * 2.3 s, RELEASE 5.2 s; 28 s in the issue).  The bound is loose: TCG.
 */
static void test_huge_range(void)
{
	int fd = pool(WCPOOL_POLICY_WB, HUGE_MAX);
	double t, tg, tr;

	t = now_s();
	ASSERT_ERR(grow(fd, 0, HUGE_MAX), ENOSPC);
	tg = now_s() - t;
	ASSERT(grow(fd, 0, HP) == 0);
	ASSERT(grow(fd, HUGE_MAX - 2 * HP, 2 * HP) == 0);
	ASSERT_ERR(grow(fd, HUGE_MAX - 8 * HP, 8 * HP), EEXIST);
	ASSERT(info(fd).grown_size == 3 * HP);
	t = now_s();
	ASSERT(release(fd, 0, HUGE_MAX) == 0);
	tr = now_s() - t;
	ASSERT(info(fd).grown_size == 0);
	ASSERT(stat_get("in_use") == 0);
	printf("  huge_range: GROW of 2^46 bytes %.3f s, RELEASE %.3f s\n",
	       tg, tr);
	ASSERT(tg + tr < 2);
	close(fd);
}

/*
 * SIGKILL lands at once on processes that loop GROW and RELEASE on one
 * pool, whether in the middle of one (GROW stops between pages) or
 * waiting for the pool's lock behind the other.
 */
static void test_kill_long_ops(void)
{
	int fd = pool(WCPOOL_POLICY_WB, HUGE_MAX), i, status;
	pid_t pid[2];
	double t;

	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		ASSERT(pid[i] >= 0);
		if (pid[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (;;) {
				release(fd, 0, HUGE_MAX);
				grow(fd, 0, 32 * HP);
			}
		}
	}
	usleep(500000);
	t = now_s();
	for (i = 0; i < 2; i++)
		ASSERT(kill(pid[i], SIGKILL) == 0);
	for (i = 0; i < 2; i++) {
		ASSERT(waitpid(pid[i], &status, 0) == pid[i]);
		ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	}
	t = now_s() - t;
	printf("  kill_long_ops: both killed after %.3f s\n", t);
	ASSERT(t < 2);
	close(fd);
}

const struct test long_tests[] = {
	{ "huge_range", test_huge_range },
	{ "kill_long_ops", test_kill_long_ops },
	{ NULL }
};
