/* SPDX-License-Identifier: MIT */
/* The wcpool GStreamer plugin: the wcpoolalloc element. */
#include <wcpool.h>

#include "gstwcpoolalloc.h"

/* No public home page: the origin names the source tree. */
#define WCP_PLUGIN_ORIGIN "wcpool source tree (gst/)"

/*
 * Debian's libjemalloc, under libwcpool, defines C++ operator new and
 * delete and needs libstdc++.  Where this plugin is the first to load
 * libstdc++ into a C program (gst-launch-1.0, the plugin scanner), the
 * dynamic linker binds libstdc++'s own calls of operator new to the first
 * definition in the plugin's load order; if that is jemalloc's, C++ code
 * loaded later frees jemalloc's blocks with glibc's free() and the process
 * aborts ("munmap_chunk(): invalid pointer", seen with the taglib plugin).
 * A real use of libstdc++ keeps it in DT_NEEDED ahead of libwcpool, so
 * libstdc++ finds its own operators first.  (std::get_new_handler())
 */
extern void (*_ZSt15get_new_handlerv(void))(void);

static gboolean plugin_init(GstPlugin *plugin)
{
	GST_DEBUG("C++ new handler %p", (void *)_ZSt15get_new_handlerv());
	return GST_ELEMENT_REGISTER(wcpoolalloc, plugin);
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, wcpool,
		  "Buffers in wcpool memory (write-combine, uncached or write-back huge-page pools)",
		  plugin_init, WCP_VERSION_STRING, "MIT/X11", "wcpool",
		  WCP_PLUGIN_ORIGIN)
