// SPDX-License-Identifier: MIT
/*
 * register: io_uring_register_buffers() of one 64 MiB buffer of pool memory
 * against the same size of 4 KiB-page anonymous memory and of plain hugetlb
 * memory: pinning cost per page is what huge pages save.
 */
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

struct reg_arg {
	struct io_uring *ring;
	struct iovec iov;
	bool unregister;	/* time unregistering instead */
	int err;
};

static double reg_run(void *argp, uint64_t iters)
{
	struct reg_arg *a = argp;
	double total = 0;

	for (uint64_t i = 0; i < iters; i++) {
		double t0 = now_ns();
		int err = io_uring_register_buffers(a->ring, &a->iov, 1);

		if (!a->unregister)
			total += now_ns() - t0;
		if (err) {
			a->err = err;
			return total;
		}
		t0 = now_ns();
		io_uring_unregister_buffers(a->ring);
		if (a->unregister)
			total += now_ns() - t0;
	}
	return total;
}

int bench_register(void)
{
	size_t size = opt.mode == MODE_SMOKE ? 4 * MiB : 64 * MiB;
	struct wcp_pool *pool = bench_pool();
	struct io_uring ring;
	char label[48], mem[48], *bufs[3];
	const char *names[3] = { "pool", "anon-4K", "hugetlb-2M" };
	int err;

	if (!pool)
		return -1;
	if (access("/dev/wcpool", F_OK))
		bench_skip("register", "module-ioctl",
			   "no /dev/wcpool: module registration not measured");
	err = io_uring_queue_init(8, &ring, 0);
	if (err) {
		bench_skip("register", "io_uring", strerror(-err));
		wcp_pool_destroy(pool);
		return 0;
	}
	pool_label(pool, label, sizeof(label));
	bufs[0] = wcp_aligned_alloc(pool, 2 * MiB, size);
	if (bufs[0])
		memset(bufs[0], 1, size);
	bufs[1] = anon_4k(size);
	bufs[2] = hugetlb_map(size);
	bench_note("register", "pool = %s, %zu MiB buffers, one iovec each; "
		   "the pool is the reference", label, size / MiB);
	for (int u = 0; u < 2; u++) {
		struct reg_arg a[3];
		struct bench_case c[3];
		size_t n = 0;

		snprintf(mem, sizeof(mem), "io_uring-%s", u ? "unregister" : "register");
		for (int i = 0; i < 3; i++) {
			if (!bufs[i]) {
				if (!u)
					bench_skip("register", names[i], "no memory");
				continue;
			}
			a[n] = (struct reg_arg){ .ring = &ring, .unregister = u,
						 .iov = { bufs[i], size } };
			reg_run(&a[n], 1);
			if (a[n].err) {
				char why[96];

				snprintf(why, sizeof(why), "io_uring_register_buffers: %s",
					 strerror(-a[n].err));
				if (!u)
					bench_skip("register", names[i], why);
				continue;
			}
			c[n] = (struct bench_case){ .name = names[i], .fn = reg_run,
						    .arg = &a[n], .comparable = true };
			n++;
		}
		if (n)
			measure_set("register", mem, size, 0, 1, c, n);
	}
	io_uring_queue_exit(&ring);
	if (bufs[0])
		wcp_free(pool, bufs[0]);
	anon_free(bufs[1], size);
	anon_free(bufs[2], size);
	wcp_pool_destroy(pool);
	return 0;
}
