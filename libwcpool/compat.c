// SPDX-License-Identifier: MIT
/*
 * The entry points of older versions, for binaries linked against them.
 *
 * wcpool 0.4 grew struct wcp_pool_options (contig_size, reserved room) and
 * struct wcp_pool_info (addr_bits, contig_size, reserved room).  A binary
 * built against 0.1 to 0.3 passes the old, shorter structs, and calls
 * wcp_pool_create and wcp_pool_info as the dynamic linker bound them then:
 * version WCPOOL_0.1.  Those references land here (.symver; the default
 * versions, WCPOOL_0.4 in libwcpool.map, are pool.c's), and these read and
 * write no byte beyond the old structs: the options are copied field by
 * field into a zeroed new struct, the info is filled whole and copied back
 * field by field.  Programs built against the 0.4 header get the new
 * versions; source that zero-initialises its options needs no change.
 */
#include <errno.h>
#include <stddef.h>

#include "wcpool.h"
#include "symver.h"

/* struct wcp_pool_options of wcpool 0.1 to 0.3: 32 bytes. */
struct wcpi_pool_options_0_1 {
	uint32_t backend;
	uint32_t policy;
	uint64_t page_size;
	uint64_t max_size;
	uint32_t flags;
	uint32_t addr_bits;	/* "reserved", 0, before 0.3 */
};

/* struct wcp_pool_info of wcpool 0.1 to 0.3: 40 bytes on LP64. */
struct wcpi_pool_info_0_1 {
	uint32_t backend;
	uint32_t policy;
	uint64_t page_size;
	uint64_t max_size;
	void *base;
	bool imported;
	bool read_only;
	uint32_t export_path;
};

/* The new structs begin with the old ones, field for field. */
#define SAME_FIELD(old, new, f)                                               \
	_Static_assert(offsetof(struct old, f) == offsetof(struct new, f) &&  \
		       sizeof(((struct old *)0)->f) ==                        \
		       sizeof(((struct new *)0)->f), #f " moved")
SAME_FIELD(wcpi_pool_options_0_1, wcp_pool_options, backend);
SAME_FIELD(wcpi_pool_options_0_1, wcp_pool_options, policy);
SAME_FIELD(wcpi_pool_options_0_1, wcp_pool_options, page_size);
SAME_FIELD(wcpi_pool_options_0_1, wcp_pool_options, max_size);
SAME_FIELD(wcpi_pool_options_0_1, wcp_pool_options, flags);
SAME_FIELD(wcpi_pool_options_0_1, wcp_pool_options, addr_bits);
SAME_FIELD(wcpi_pool_info_0_1, wcp_pool_info, backend);
SAME_FIELD(wcpi_pool_info_0_1, wcp_pool_info, policy);
SAME_FIELD(wcpi_pool_info_0_1, wcp_pool_info, page_size);
SAME_FIELD(wcpi_pool_info_0_1, wcp_pool_info, max_size);
SAME_FIELD(wcpi_pool_info_0_1, wcp_pool_info, base);
SAME_FIELD(wcpi_pool_info_0_1, wcp_pool_info, imported);
SAME_FIELD(wcpi_pool_info_0_1, wcp_pool_info, read_only);
SAME_FIELD(wcpi_pool_info_0_1, wcp_pool_info, export_path);
_Static_assert(sizeof(struct wcpi_pool_options_0_1) == 32, "0.1 options");
_Static_assert(sizeof(struct wcpi_pool_info_0_1) == 8 + 16 +
	       sizeof(void *) + 4 + 4, "0.1 info");
_Static_assert(sizeof(struct wcp_pool_options) >
	       sizeof(struct wcpi_pool_options_0_1) &&
	       sizeof(struct wcp_pool_info) > sizeof(struct wcpi_pool_info_0_1),
	       "the structs grew: that is why this file exists");

/* The old versions: only binaries linked against them reach these. */
int wcpi_pool_create_0_1(const struct wcpi_pool_options_0_1 *opts,
			 struct wcp_pool **poolp);
int wcpi_pool_info_0_1(const struct wcp_pool *pool,
		       struct wcpi_pool_info_0_1 *info);
WCPI_SYMVER(wcpi_pool_create_0_1, "wcp_pool_create@WCPOOL_0.1");
WCPI_SYMVER(wcpi_pool_info_0_1, "wcp_pool_info@WCPOOL_0.1");

int wcpi_pool_create_0_1(const struct wcpi_pool_options_0_1 *opts,
			 struct wcp_pool **poolp)
{
	struct wcp_pool_options o;

	if (!opts)
		return wcp_pool_create(NULL, poolp);
	o = (struct wcp_pool_options){
		.backend = opts->backend,
		.policy = opts->policy,
		.page_size = opts->page_size,
		.max_size = opts->max_size,
		.flags = opts->flags,
		.addr_bits = opts->addr_bits,
	};
	return wcp_pool_create(&o, poolp);
}

int wcpi_pool_info_0_1(const struct wcp_pool *pool,
		       struct wcpi_pool_info_0_1 *info)
{
	struct wcp_pool_info i;
	int err;

	if (!info)
		return -EINVAL;
	err = wcp_pool_info(pool, &i);
	if (err)
		return err;
	*info = (struct wcpi_pool_info_0_1){
		.backend = i.backend,
		.policy = i.policy,
		.page_size = i.page_size,
		.max_size = i.max_size,
		.base = i.base,
		.imported = i.imported,
		.read_only = i.read_only,
		.export_path = i.export_path,
	};
	return 0;
}
