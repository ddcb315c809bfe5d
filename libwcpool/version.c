// SPDX-License-Identifier: MIT
/* The library's version, for programs that check it at run time. */
#include "wcpool.h"

#include <linux/wcpool.h>

/* One version for library, module and DKMS package. */
_Static_assert(WCP_VERSION_MAJOR == WCPOOL_VERSION_MAJOR &&
	       WCP_VERSION_MINOR == WCPOOL_VERSION_MINOR &&
	       WCP_VERSION_PATCH == WCPOOL_VERSION_PATCH &&
	       sizeof(WCP_VERSION_STRING) == sizeof(WCPOOL_VERSION),
	       "<wcpool.h> and <linux/wcpool.h> name different versions");

const char *wcp_version(unsigned *major, unsigned *minor, unsigned *patch)
{
	if (major)
		*major = WCP_VERSION_MAJOR;
	if (minor)
		*minor = WCP_VERSION_MINOR;
	if (patch)
		*patch = WCP_VERSION_PATCH;
	return WCP_VERSION_STRING;
}
