/* SPDX-License-Identifier: MIT */
/* The wcpool GStreamer plugin: the wcpoolalloc element. */
#include <wcpool.h>

#include "gstwcpoolalloc.h"

/* No public home page: the origin names the source tree. */
#define WCP_PLUGIN_ORIGIN "wcpool source tree (gst/)"

static gboolean plugin_init(GstPlugin *plugin)
{
	return GST_ELEMENT_REGISTER(wcpoolalloc, plugin);
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, wcpool,
		  "Buffers in wcpool memory (write-combine, uncached or write-back huge-page pools)",
		  plugin_init, WCP_VERSION_STRING, "MIT/X11", "wcpool",
		  WCP_PLUGIN_ORIGIN)
