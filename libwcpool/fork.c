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
#include "sizeclass.h"
#include "tcache.h"

static void in_child(void)
{
	atomic_fetch_add(&wcpi_fork_generation, 1);
	wcpi_tcache_fork_child();
}

/*
 * The handlers go in when the library is loaded, before any thread can
 * use a pool.  Installed lazily by the first pool instead, a fork() in
 * another thread could miss them while that pool's thread already held
 * tcache_lock, and the child hung on it (seen in CI, 1 run in ~600 of
 * tests/test_fork's churn test).
 *
 * jemalloc registers its own handlers when it initialises, normally from
 * its constructor, which runs before ours (it is our dependency); the
 * mallctl() makes sure of it in a static link.  Ours come after, so that
 * fork() takes our lock before jemalloc's (prepare handlers run in reverse
 * order), the order tcache.c takes them in.
 */
__attribute__((constructor)) static void install(void)
{
	const char *version;
	size_t len = sizeof(version);

	mallctl("version", &version, &len, NULL, 0);
	wcpi_sizeclass_init();
	if (pthread_atfork(wcpi_tcache_fork_prepare, wcpi_tcache_fork_parent,
			   in_child))
		abort();
}
