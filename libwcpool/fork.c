// SPDX-License-Identifier: MIT
/*
 * Pools after fork().
 *
 * A pool's pages are a shared mapping, so a child that allocated from or
 * freed into its parent's pool would hand out bytes the parent hands out
 * too.  The child inherits the memory, not the allocator: each pool keeps
 * the fork generation it was created in, and calls that would change the
 * allocator's state refuse (alloc.c, pool.c) once it differs.  Sharing
 * with another process goes through wcp_pool_export()/wcp_pool_import().
 */
#include <pthread.h>
#include <stdlib.h>

#include "pool.h"

atomic_uint wcp_fork_generation;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void in_child(void)
{
	atomic_fetch_add(&wcp_fork_generation, 1);
	wcp_tcache_fork_child();
}

static void install(void)
{
	const char *version;
	size_t len = sizeof(version);

	/*
	 * jemalloc registers its own handlers when it initialises.  Ours must
	 * come after them, so that fork() takes our lock before jemalloc's
	 * (prepare handlers run in reverse order), as tcache.c does.
	 */
	mallctl("version", &version, &len, NULL, 0);
	if (pthread_atfork(wcp_tcache_fork_prepare, wcp_tcache_fork_parent,
			   in_child))
		abort();
}

/* Make @pool belong to this process (and not to a later child). */
void wcp_fork_track(struct wcp_pool *pool)
{
	pthread_once(&fork_once, install);
	pool->fork_generation = atomic_load(&wcp_fork_generation);
}
