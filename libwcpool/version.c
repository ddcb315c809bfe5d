// SPDX-License-Identifier: MIT
/* The library's version, for programs that check it at run time. */
#include "wcpool.h"

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
