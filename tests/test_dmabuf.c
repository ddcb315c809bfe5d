// SPDX-License-Identifier: MIT
/*
 * wcp_dmabuf_alloc/free/sync: what the header promises where each provider
 * exists (wcpool.ko's dma-heap nodes in the QEMU lib-suite, the kernel's
 * system heap on 6.12) and the errors where it does not (this host has no
 * dma-heaps at all).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wcpool.h"

static bool have(const char *node)
{
	return access(node, F_OK) == 0;
}

static bool have_module_heaps(void)
{
	return have("/dev/dma_heap/wcpool-wc");
}

static bool have_wb_provider(void)
{
	return have("/dev/dma_heap/wcpool-wb") ||
	       have("/dev/dma_heap/system");
}

static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}

Test(dmabuf, bad_arguments_are_refused)
{
	struct wcp_dmabuf b = { .fd = -1 };

	cr_expect_eq(wcp_dmabuf_alloc(4096, WCP_POLICY_WC, 0, NULL), -EINVAL);
	cr_expect_eq(wcp_dmabuf_alloc(0, WCP_POLICY_WC, 0, &b), -EINVAL);
	cr_expect_eq(wcp_dmabuf_alloc(4096, 4, 0, &b), -EINVAL);
	cr_expect_eq(wcp_dmabuf_alloc(4096, WCP_POLICY_WC, 2, &b), -EINVAL);
	cr_expect_eq(wcp_dmabuf_free(NULL), -EINVAL);
	cr_expect_eq(wcp_dmabuf_free(&b), -EINVAL);
	cr_expect_eq(wcp_dmabuf_sync(0, 0), -EINVAL);
	cr_expect_eq(wcp_dmabuf_sync(0, WCP_SYNC_READ | 8), -EINVAL);
	cr_expect_eq(wcp_dmabuf_sync(-1, WCP_SYNC_READ), -EBADF);
	cr_expect_eq(wcp_dmabuf_sync(0, WCP_SYNC_READ), -ENOTTY);
}

/* Without a provider of the policy: -ENODEV, nothing left open. */
Test(dmabuf, missing_provider_is_enodev)
{
	struct wcp_dmabuf b;
	int fds = open_fds();

	if (!have_module_heaps()) {
		cr_expect_eq(wcp_dmabuf_alloc(4096, WCP_POLICY_WC, 0, &b),
			     -ENODEV);
		cr_expect_eq(wcp_dmabuf_alloc(4096, WCP_POLICY_UC, 0, &b),
			     -ENODEV);
	}
	if (!have_wb_provider()) {
		cr_expect_eq(wcp_dmabuf_alloc(4096, WCP_POLICY_WB, 0, &b),
			     -ENODEV);
		cr_expect_eq(wcp_dmabuf_alloc(4096, WCP_POLICY_DEFAULT, 0, &b),
			     -ENODEV);
		cr_expect_eq(wcp_dmabuf_alloc(4096, WCP_POLICY_WC,
					      WCP_DMABUF_ALLOW_WB_FALLBACK, &b),
			     -ENODEV);
	}
	cr_expect_eq(open_fds(), fds);
}

/* Each policy where it has a provider: the bytes, the size, the fd. */
Test(dmabuf, buffers_hold_their_bytes_and_policy)
{
	static const uint32_t policies[] = {
		WCP_POLICY_DEFAULT, WCP_POLICY_WC, WCP_POLICY_UC, WCP_POLICY_WB,
	};
	const size_t size = (1 << 20) + 5;
	unsigned char *src = malloc(size);

	cr_assert(src);
	for (size_t i = 0; i < size; i++)
		src[i] = (unsigned char)(i * 131 + 7);
	for (size_t k = 0; k < sizeof(policies) / sizeof(policies[0]); k++) {
		uint32_t p = policies[k], want = p;
		struct wcp_dmabuf b;
		int err;

		if (p == WCP_POLICY_WB || p == WCP_POLICY_DEFAULT) {
			if (!have_wb_provider() && !have_module_heaps())
				continue;
			want = have_module_heaps() ? (p ? p : WCP_POLICY_WC)
						   : WCP_POLICY_WB;
		} else if (!have_module_heaps()) {
			continue;
		}
		err = wcp_dmabuf_alloc(size, p, 0, &b);
		cr_assert_eq(err, 0, "policy %u: %s", p, strerror(-err));
		cr_expect_eq(b.policy, want);
		cr_expect_eq(b.size, (size + 4095) & ~(size_t)4095);
		cr_expect(fcntl(b.fd, F_GETFD) & FD_CLOEXEC);
		cr_expect_eq(wcp_dmabuf_sync(b.fd, WCP_SYNC_START | WCP_SYNC_WRITE), 0);
		cr_expect_eq(wcp_copy_with(b.policy == WCP_POLICY_WB ?
					   WCP_STORE_PLAIN : WCP_STORE_STREAM,
					   b.map, src, size), 0);
		cr_expect_eq(wcp_dmabuf_sync(b.fd, WCP_SYNC_END | WCP_SYNC_WRITE), 0);
		cr_expect_eq(wcp_dmabuf_sync(b.fd, WCP_SYNC_START | WCP_SYNC_READ), 0);
		cr_expect_eq(memcmp(b.map, src, size), 0);
		cr_expect_eq(wcp_dmabuf_sync(b.fd, WCP_SYNC_END | WCP_SYNC_READ), 0);
		cr_expect_eq(wcp_dmabuf_free(&b), 0);
		cr_expect_eq(b.fd, -1);
		cr_expect_null(b.map);
		cr_expect_eq(wcp_dmabuf_free(&b), -EINVAL);
	}
	free(src);
}

/*
 * Many buffers of odd sizes, freed in a shuffled order: each keeps its
 * own bytes; afterwards no fd but the cached node is left.
 */
Test(dmabuf, many_buffers_freed_in_any_order)
{
	enum { N = 48 };
	struct wcp_dmabuf b[N];
	unsigned idx[N], seed = 12345;
	int fds;

	if (!have_module_heaps() && !have_wb_provider())
		return;
	/* the node fds are opened once: count after the first allocation */
	cr_assert_eq(wcp_dmabuf_alloc(1, WCP_POLICY_DEFAULT, 0, &b[0]), 0);
	fds = open_fds();
	cr_assert_eq(wcp_dmabuf_free(&b[0]), 0);
	for (unsigned i = 0; i < N; i++) {
		size_t size = 1 + (size_t)i * 37000;

		cr_assert_eq(wcp_dmabuf_alloc(size, WCP_POLICY_DEFAULT, 0,
					      &b[i]), 0, "buffer %u", i);
		memset(b[i].map, (int)i, size);
		idx[i] = i;
	}
	for (unsigned i = N - 1; i > 0; i--) {
		unsigned j, t;

		seed = seed * 1103515245 + 12345;
		j = (seed >> 16) % (i + 1);
		t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
	}
	for (unsigned k = 0; k < N; k++) {
		unsigned i = idx[k];
		const unsigned char *m = b[i].map;

		cr_expect(m[0] == (unsigned char)i &&
			  m[i * 37000] == (unsigned char)i, "buffer %u", i);
		cr_expect_eq(wcp_dmabuf_free(&b[i]), 0);
	}
	cr_expect_eq(open_fds(), fds - 1);
}

/* More than wcpool.ko may hand out (a quarter of RAM): -ENOMEM. */
Test(dmabuf, past_the_module_limit_is_enomem)
{
	long ram = sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
	struct wcp_dmabuf b;

	if (!have_module_heaps())
		return;
	cr_expect_eq(wcp_dmabuf_alloc((size_t)ram / 2, WCP_POLICY_WC, 0, &b),
		     -ENOMEM);
	cr_expect_eq(wcp_dmabuf_alloc((size_t)ram * 2, WCP_POLICY_WC, 0, &b),
		     -EINVAL);
}
