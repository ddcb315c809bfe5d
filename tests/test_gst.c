/* SPDX-License-Identifier: MIT */
/*
 * The GStreamer plugin (gst/) in real pipelines: videotestsrc writes into
 * wcpoolalloc's pool and filesink writes what it got; the file must equal
 * the one the same pipeline writes without the element, every buffer must
 * be the element's own, and its errors must be clear GStreamer errors.
 *
 * Each test runs in its own process (Criterion) with a registry of its
 * own that holds only the plugins it uses: GStreamer's coreelements,
 * videotestsrc and videoconvertscale (symlinks in a temporary directory)
 * and this build's
 * plugin, scanned in-process (GST_REGISTRY_FORK=no, so that a sanitizer
 * build of the plugin is loaded by a sanitizer build of the test).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <gst/allocators/allocators.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wcpool.h>

/*
 * The plugin needs libwcpool, and libwcpool jemalloc, whose thread-local
 * storage is initial-exec (static TLS): a process that dlopens them needs
 * room for it (see TLS_TUNABLE), or has them loaded at start, as this
 * test has (it calls into libwcpool).
 */
#define TLS_TUNABLE "glibc.rtld.optional_static_tls=4096"

static char tmpdir[] = "/tmp/wcpool-gst.XXXXXX";

static void link_system_plugin(const char *dir, const char *name)
{
	char *src = g_build_filename(WCP_GST_SYSTEM_DIR, name, NULL);
	char *dst = g_build_filename(dir, name, NULL);

	cr_assert_eq(symlink(src, dst), 0, "symlink %s: %s", src,
		     strerror(errno));
	g_free(src);
	g_free(dst);
}

static void setup(void)
{
	char *plugins, *registry;

	cr_assert_not_null(mkdtemp(tmpdir));
	plugins = g_build_filename(tmpdir, "plugins", NULL);
	cr_assert_eq(mkdir(plugins, 0700), 0);
	link_system_plugin(plugins, "libgstcoreelements.so");
	link_system_plugin(plugins, "libgstvideotestsrc.so");
	link_system_plugin(plugins, "libgstvideoconvertscale.so");
	registry = g_build_filename(tmpdir, "registry.bin", NULL);
	g_setenv("GST_PLUGIN_SYSTEM_PATH", plugins, TRUE);
	g_setenv("GST_PLUGIN_PATH", WCP_GST_PLUGIN_DIR, TRUE);
	g_setenv("GST_REGISTRY", registry, TRUE);
	g_setenv("GST_REGISTRY_FORK", "no", TRUE);
	g_free(plugins);
	g_free(registry);
	cr_assert_not_null(wcp_version(NULL, NULL, NULL));
	gst_init(NULL, NULL);
}

static void teardown(void)
{
	char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);

	cr_expect_eq(system(cmd), 0);
	g_free(cmd);
}

TestSuite(gst, .init = setup, .fini = teardown, .timeout = 120);

/* The pipeline's first error, or NULL when it ran to EOS. */
static GError *run_pipeline(GstElement *pipeline, char **debug)
{
	GstBus *bus = gst_element_get_bus(pipeline);
	GError *err = NULL;
	GstMessage *msg;

	if (gst_element_set_state(pipeline, GST_STATE_PLAYING) ==
	    GST_STATE_CHANGE_FAILURE)
		cr_log_info("set_state(PLAYING) failed");
	msg = gst_bus_timed_pop_filtered(bus, GST_CLOCK_TIME_NONE,
					 GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
	if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
		gst_message_parse_error(msg, &err, debug);
		/* the element that posted it leads the message */
		char *m = g_strdup_printf("%s: %s", GST_OBJECT_NAME(msg->src),
					  err->message);
		g_free(err->message);
		err->message = m;
	}
	gst_message_unref(msg);
	gst_object_unref(bus);
	cr_assert_eq(gst_element_set_state(pipeline, GST_STATE_NULL),
		     GST_STATE_CHANGE_SUCCESS);
	return err;
}

static GstElement *launch(const char *desc)
{
	GError *err = NULL;
	GstElement *p = gst_parse_launch(desc, &err);

	cr_assert_null(err, "%s: %s", desc, err ? err->message : "");
	cr_assert_not_null(p);
	return p;
}

static char *slurp(const char *path, gsize *len)
{
	char *data;

	cr_assert(g_file_get_contents(path, &data, len, NULL), "%s", path);
	return data;
}

struct counts {
	guint64 own, foreign;
	gint64 live;
	char *memtype, *policy;
};

static struct counts counters(GstElement *pipeline)
{
	GstElement *w = gst_bin_get_by_name(GST_BIN(pipeline), "w");
	struct counts c;

	cr_assert_not_null(w);
	g_object_get(w, "own-buffers", &c.own, "foreign-buffers", &c.foreign,
		     "live-allocations", &c.live, "memory-type", &c.memtype,
		     "actual-policy", &c.policy, NULL);
	gst_object_unref(w);
	return c;
}

/* No wcpool.ko and no udmabuf here: a memfd pool without dma-bufs. */
static gboolean no_dmabuf_exporter(void)
{
	return access("/dev/wcpool", F_OK) != 0 &&
	       access("/dev/udmabuf", F_OK) != 0;
}

/*
 * With every buffer on filesink's pad: fd memory is the pool file at the
 * memory's offset, so reading the fd there gives the bytes the buffer
 * maps (the fd is no stale copy).
 */
static GstPadProbeReturn check_fd_memory(GstPad *pad, GstPadProbeInfo *info,
					 gpointer data)
{
	GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
	GstMemory *mem = gst_buffer_peek_memory(buf, 0);
	int *checked = data;
	GstMapInfo map;
	gsize off, size;
	char *copy;

	(void)pad;
	if (!gst_is_fd_memory(mem) || gst_is_dmabuf_memory(mem))
		return GST_PAD_PROBE_OK;
	gst_memory_get_sizes(mem, &off, NULL);
	if (off % WCP_PAGE_4K)
		return GST_PAD_PROBE_OK;	/* buffer starts are 4 KiB-aligned */
	size = mem->size;
	copy = g_malloc(size);
	if (pread(gst_fd_memory_get_fd(mem), copy, size, off) == (ssize_t)size &&
	    gst_memory_map(mem, &map, GST_MAP_READ)) {
		if (map.size == size && !memcmp(copy, map.data, size))
			++*checked;
		gst_memory_unmap(mem, &map);
	}
	g_free(copy);
	return GST_PAD_PROBE_OK;
}

/*
 * The files hold whole frames in GStreamer's default layout, rows padded
 * to 4 bytes; videotestsrc leaves the padding as it finds it (malloc()'s
 * garbage without the pool), so compare every pixel byte, not the
 * padding.
 */
static void same_pixels(const char *caps_str, const char *a, const char *b,
			gsize len)
{
	GstCaps *caps = gst_caps_from_string(caps_str);
	GstVideoInfo info;
	gsize frame, bad = 0;

	cr_assert(gst_video_info_from_caps(&info, caps), "%s", caps_str);
	gst_caps_unref(caps);
	cr_assert_eq(len % info.size, 0, "%s: %zu bytes, frames of %zu",
		     caps_str, len, info.size);
	for (frame = 0; frame < len / info.size; frame++) {
		for (guint p = 0; p < GST_VIDEO_INFO_N_PLANES(&info); p++) {
			gsize stride = GST_VIDEO_INFO_PLANE_STRIDE(&info, p);
			gsize row = 0, rows = 0;

			for (guint c = 0; c < GST_VIDEO_INFO_N_COMPONENTS(&info); c++) {
				const GstVideoFormatInfo *f = info.finfo;
				gsize end;

				if (GST_VIDEO_FORMAT_INFO_PLANE(f, c) != p)
					continue;
				end = GST_VIDEO_FORMAT_INFO_POFFSET(f, c) +
				      (gsize)GST_VIDEO_FORMAT_INFO_PSTRIDE(f, c) *
				      (GST_VIDEO_INFO_COMP_WIDTH(&info, c) - 1) +
				      (GST_VIDEO_FORMAT_INFO_DEPTH(f, c) + 7) / 8;
				row = MAX(row, end);
				rows = MAX(rows, (gsize)GST_VIDEO_INFO_COMP_HEIGHT(&info, c));
			}
			cr_assert_leq(row, stride);
			for (gsize y = 0; y < rows; y++) {
				gsize off = frame * info.size +
					    GST_VIDEO_INFO_PLANE_OFFSET(&info, p) +
					    y * stride;

				bad += memcmp(a + off, b + off, row) != 0;
			}
		}
	}
	cr_expect_eq(bad, 0, "%s: %zu rows differ", caps_str, bad);
}

/*
 * videotestsrc ! @chain ! [wcpoolalloc] ! @tail ! filesink, both ways;
 * @caps are the caps at the end of @chain; @tail "identity" for none.
 */
static void compare_tail(const char *chain, const char *caps,
			 const char *tail, const char *pattern, int n)
{
	char *a = g_build_filename(tmpdir, "plain.raw", NULL);
	char *b = g_build_filename(tmpdir, "wcpool.raw", NULL);
	char *desc;
	GstElement *p, *sink;
	GstPad *pad;
	struct counts c;
	int fd_checked = 0;
	gsize la, lb;
	char *da, *db;
	GError *err;

	desc = g_strdup_printf("videotestsrc num-buffers=%d pattern=%s ! %s ! "
			       "%s ! filesink location=%s", n, pattern, chain,
			       tail, a);
	p = launch(desc);
	err = run_pipeline(p, NULL);
	cr_assert_null(err, "%s: %s", desc, err ? err->message : "");
	gst_object_unref(p);
	g_free(desc);

	desc = g_strdup_printf("videotestsrc num-buffers=%d pattern=%s ! %s ! "
			       "wcpoolalloc name=w strict=true ! %s ! "
			       "filesink name=sink location=%s", n, pattern,
			       chain, tail, b);
	p = launch(desc);
	sink = gst_bin_get_by_name(GST_BIN(p), "sink");
	pad = gst_element_get_static_pad(sink, "sink");
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, check_fd_memory,
			  &fd_checked, NULL);
	gst_object_unref(pad);
	gst_object_unref(sink);
	err = run_pipeline(p, NULL);
	cr_assert_null(err, "%s: %s", desc, err ? err->message : "");
	c = counters(p);
	cr_expect_eq(c.own, (guint64)n, "%s: %" G_GUINT64_FORMAT
		     " own buffers of %d", caps, c.own, n);
	cr_expect_eq(c.foreign, 0, "%s: %" G_GUINT64_FORMAT " foreign", caps,
		     c.foreign);
	cr_expect_eq(c.live, 0, "%s: %" G_GINT64_FORMAT
		     " allocations live after NULL", caps, c.live);
	cr_assert_not_null(c.memtype);
	if (no_dmabuf_exporter()) {
		cr_expect_str_eq(c.memtype, "fd");
		cr_expect_str_eq(c.policy, "wb", "memfd pool: WB fallback");
		cr_expect_eq(fd_checked, n, "%s: fd contents and 4 KiB-aligned "
			     "start checked on %d of %d",
			     caps, fd_checked, n);
	}
	g_free(c.memtype);
	g_free(c.policy);
	gst_object_unref(p);
	g_free(desc);

	da = slurp(a, &la);
	db = slurp(b, &lb);
	cr_assert_gt(la, 0);
	cr_expect_eq(la, lb, "%s: %zu bytes plain, %zu through wcpoolalloc",
		     caps, la, lb);
	if (la == lb)
		same_pixels(caps, da, db, la);
	g_free(da);
	g_free(db);
	g_free(a);
	g_free(b);
}

static void compare_chain(const char *chain, const char *caps,
			  const char *pattern, int n)
{
	compare_tail(chain, caps, "identity", pattern, n);
}

static void compare(const char *caps, const char *pattern, int n)
{
	compare_chain(caps, caps, pattern, n);
}

/*
 * Many buffers in flight, each recycled by the pool while others are
 * still queued: a recycled buffer must still be its own block (fd memory
 * lost its pool offset when GstBufferPool reset it, and every recycled
 * buffer then wrote the first block).
 */
Test(gst, queued_buffers_recycled)
{
	compare_tail("video/x-raw,format=I420,width=320,height=240",
		     "video/x-raw,format=I420,width=320,height=240",
		     "queue max-size-buffers=20 ! identity sleep-time=2000",
		     "ball", 60);
}

Test(gst, i420_vga)
{
	compare("video/x-raw,format=I420,width=640,height=480", "ball", 10);
}

Test(gst, i420_odd)
{
	compare("video/x-raw,format=I420,width=33,height=17", "smpte", 7);
}

Test(gst, nv12_odd)
{
	compare("video/x-raw,format=NV12,width=99,height=51", "ball", 5);
}

Test(gst, rgb_odd)
{
	/* 3 bytes a pixel: rows padded to 4 bytes in GStreamer's layout */
	compare("video/x-raw,format=RGB,width=31,height=7", "gradient", 5);
}

Test(gst, yuy2)
{
	compare("video/x-raw,format=YUY2,width=322,height=241", "ball", 5);
}

Test(gst, gray8_1x1)
{
	compare("video/x-raw,format=GRAY8,width=1,height=1", "white", 3);
}

/* A transform that allocates its output: videoconvert writes into the pool. */
Test(gst, videoconvert_output)
{
	compare_chain("video/x-raw,format=I420,width=320,height=240 ! "
		      "videoconvert ! video/x-raw,format=NV12",
		      "video/x-raw,format=NV12,width=320,height=240", "ball", 6);
}

Test(gst, bgra_1080p)
{
	/* 8 MiB a frame: more than one huge page, many 4 KiB pages */
	compare("video/x-raw,format=BGRA,width=1920,height=1080", "ball", 3);
}

/* The error the pipeline ends with: posted by wcpoolalloc, in @domain. */
static void expect_error(const char *desc, GQuark domain, gint code,
			 const char *needle)
{
	GstElement *p = launch(desc);
	char *debug = NULL;
	GError *err = run_pipeline(p, &debug);

	cr_assert_not_null(err, "%s: ran to EOS", desc);
	cr_log_info("%s\n  -> %s\n  (%s)", desc, err->message, debug);
	cr_expect(g_str_has_prefix(err->message, "w: "),
		  "%s: error from another element: %s", desc, err->message);
	cr_expect_eq(err->domain, domain, "%s: %s", desc, err->message);
	cr_expect_eq(err->code, code, "%s: code %d: %s", desc, err->code,
		     err->message);
	cr_expect_not_null(strstr(err->message, needle),
			   "%s: \"%s\" not in \"%s\"", desc, needle,
			   err->message);
	g_error_free(err);
	g_free(debug);
	gst_object_unref(p);
}

/* identity drop-allocation=true hides the pool: videotestsrc's buffers. */
Test(gst, strict_foreign_buffer)
{
	expect_error("videotestsrc num-buffers=3 ! identity drop-allocation=true ! "
		     "wcpoolalloc name=w strict=true ! fakesink",
		     GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
		     "not in this element's wcpool memory");
}

Test(gst, counts_foreign_buffers)
{
	GstElement *p = launch("videotestsrc num-buffers=4 ! "
			       "identity drop-allocation=true ! "
			       "wcpoolalloc name=w ! fakesink");
	GError *err = run_pipeline(p, NULL);
	struct counts c;

	cr_assert_null(err, "%s", err ? err->message : "");
	c = counters(p);
	cr_expect_eq(c.own, 0);
	cr_expect_eq(c.foreign, 4);
	g_free(c.memtype);
	g_free(c.policy);
	gst_object_unref(p);
}

Test(gst, no_module)
{
	if (access("/dev/wcpool", F_OK) == 0)
		cr_skip_test("wcpool.ko is loaded: backend=module works here");
	expect_error("videotestsrc num-buffers=3 ! wcpoolalloc name=w backend=module ! "
		     "fakesink", GST_RESOURCE_ERROR,
		     GST_RESOURCE_ERROR_NOT_FOUND, "needs wcpool.ko loaded");
}

Test(gst, no_wc_without_fallback)
{
	expect_error("videotestsrc num-buffers=3 ! wcpoolalloc name=w backend=memfd "
		     "policy=wc allow-wb-fallback=false ! fakesink",
		     GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
		     "allow-wb-fallback=false");
}

/* An 8 MiB frame in a pool of at most one page. */
Test(gst, pool_exhausted)
{
	expect_error("videotestsrc num-buffers=3 ! "
		     "video/x-raw,format=BGRA,width=1920,height=1080 ! "
		     "wcpoolalloc name=w max-size=1 ! fakesink",
		     GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT,
		     "Out of wcpool memory");
}

Test(gst, bad_property_value)
{
	GError *err = NULL;
	GstElement *p = gst_parse_launch("videotestsrc ! wcpoolalloc policy=fast ! "
					 "fakesink", &err);

	cr_assert_not_null(err);
	cr_log_info("policy=fast -> %s", err->message);
	cr_expect_eq(err->domain, GST_PARSE_ERROR);
	cr_expect_not_null(strstr(err->message, "policy"), "%s", err->message);
	g_error_free(err);
	if (p)
		gst_object_unref(p);
}

/* Sanitizer runtimes this process runs with, for a child that loads the
 * sanitizer-built plugin into an uninstrumented gst-inspect-1.0. */
static int find_runtime(struct dl_phdr_info *info, size_t size, void *data)
{
	GString *preload = data;

	(void)size;
	if (strstr(info->dlpi_name, "/libasan.so") ||
	    strstr(info->dlpi_name, "/libubsan.so")) {
		if (preload->len)
			g_string_append_c(preload, ':');
		g_string_append(preload, info->dlpi_name);
	}
	return 0;
}

/* Run a GStreamer tool with this test's plugin setup; TRUE if it exited 0. */
static gboolean run_tool(char **argv, gboolean tunable, char **out,
			 char **errout)
{
	GString *preload = g_string_new(NULL);
	char **envp = g_get_environ();
	GError *err = NULL;
	int status;

	dl_iterate_phdr(find_runtime, preload);
	envp = g_environ_setenv(envp, "LD_LIBRARY_PATH", WCP_LIB_DIR, TRUE);
	if (preload->len) {
		envp = g_environ_setenv(envp, "LD_PRELOAD", preload->str, TRUE);
		envp = g_environ_setenv(envp, "ASAN_OPTIONS", "detect_leaks=0",
					TRUE);
	}
	if (tunable)
		envp = g_environ_setenv(envp, "GLIBC_TUNABLES", TLS_TUNABLE,
					TRUE);
	else
		envp = g_environ_unsetenv(envp, "GLIBC_TUNABLES");
	cr_assert(g_spawn_sync(NULL, argv, envp, G_SPAWN_SEARCH_PATH, NULL,
			       NULL, out, errout, &status, &err),
		  "%s: %s", argv[0], err ? err->message : "");
	g_strfreev(envp);
	g_string_free(preload, TRUE);
	return g_spawn_check_wait_status(status, NULL);
}

Test(gst, inspect_documents_element)
{
	const char *want[] = {
		"wcpool allocator", "MIT/X11", "Default: 1, \"wc\"",
		"(1): wc", "(2): uc", "(3): wb", "backend", "allow-wb-fallback", "max-size", "strict",
		"own-buffers", "foreign-buffers", "actual-policy",
		"memory-type", "live-allocations", "video/x-raw",
	};
	char *argv[] = { "gst-inspect-1.0", "wcpoolalloc", NULL };
	char *out = NULL, *errout = NULL;

	cr_assert(run_tool(argv, TRUE, &out, &errout),
		  "gst-inspect-1.0 wcpoolalloc failed: %s", errout);
	for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
		cr_expect_not_null(strstr(out, want[i]),
				   "gst-inspect-1.0 wcpoolalloc lacks %s", want[i]);
	g_free(out);
	g_free(errout);
}

/*
 * Why the README asks for GLIBC_TUNABLES: without it dlopen() cannot place
 * jemalloc's initial-exec TLS and the plugin does not load.
 */
Test(gst, plugin_needs_static_tls_room)
{
	char *argv[] = { "gst-inspect-1.0", "wcpoolalloc", NULL };
	char *out = NULL, *errout = NULL;

	cr_expect(!run_tool(argv, FALSE, &out, &errout),
		  "gst-inspect-1.0 found wcpoolalloc without %s", TLS_TUNABLE);
	cr_expect_not_null(strstr(errout, "static TLS"), "stderr: %s", errout);
	g_free(out);
	g_free(errout);
}

/*
 * Regression: the plugin loaded first into a C program, a C++ plugin
 * (taglib) after it, in one process (the registry scan without the
 * scanner helper).  With libwcpool ahead of libstdc++ in the plugin's
 * load order libstdc++ took jemalloc's operator new and the process
 * aborted at exit in libtag ("munmap_chunk(): invalid pointer").
 */
Test(gst, cxx_plugin_after_ours)
{
	char *plugins = g_build_filename(tmpdir, "plugins", NULL);
	char *registry = g_build_filename(tmpdir, "fresh.bin", NULL);
	char *argv[] = { "gst-inspect-1.0", "taglib", NULL };
	char *out = NULL, *errout = NULL;

	link_system_plugin(plugins, "libgsttaglib.so");
	g_setenv("GST_REGISTRY", registry, TRUE);
	cr_expect(run_tool(argv, TRUE, &out, &errout),
		  "gst-inspect-1.0 taglib after wcpool: %s", errout);
	g_free(out);
	g_free(errout);
	g_free(plugins);
	g_free(registry);
}

/* The README's command: gst-launch-1.0 writes the same bytes either way. */
Test(gst, gst_launch)
{
	char *a = g_build_filename(tmpdir, "plain.raw", NULL);
	char *b = g_build_filename(tmpdir, "wcpool.raw", NULL);
	char *la = g_strdup_printf("location=%s", a);
	char *lb = g_strdup_printf("location=%s", b);
	char *plain[] = { "gst-launch-1.0", "-q", "videotestsrc",
		"num-buffers=10", "pattern=ball", "!",
		"video/x-raw,format=I420,width=640,height=480", "!",
		"filesink", la, NULL };
	char *pooled[] = { "gst-launch-1.0", "-q", "videotestsrc",
		"num-buffers=10", "pattern=ball", "!",
		"video/x-raw,format=I420,width=640,height=480", "!",
		"wcpoolalloc", "strict=true", "!", "filesink", lb, NULL };
	char *out, *errout, *da, *db;
	gsize na, nb;

	cr_assert(run_tool(plain, TRUE, &out, &errout), "%s", errout);
	g_free(out);
	g_free(errout);
	cr_assert(run_tool(pooled, TRUE, &out, &errout), "%s", errout);
	g_free(out);
	g_free(errout);
	da = slurp(a, &na);
	db = slurp(b, &nb);
	cr_expect_eq(na, (gsize)10 * 640 * 480 * 3 / 2);
	cr_expect(na == nb && !memcmp(da, db, na), "the files differ");
	g_free(da);
	g_free(db);
	g_free(la);
	g_free(lb);
	g_free(a);
	g_free(b);
}

/* Going to NULL gives the freed buffers' memory back to the system. */
Test(gst, null_state_gives_memory_back)
{
	GstElement *p = launch("videotestsrc num-buffers=6 ! "
			       "video/x-raw,format=BGRA,width=1920,height=1080 ! "
			       "wcpoolalloc name=w ! fakesink");
	GstElement *w = gst_bin_get_by_name(GST_BIN(p), "w");
	GError *err = run_pipeline(p, NULL);
	guint64 resident = G_MAXUINT64;
	gint64 live = -1;

	cr_assert_null(err, "%s", err ? err->message : "");
	g_object_get(w, "pool-resident", &resident, "live-allocations", &live,
		     NULL);
	cr_expect_eq(live, 0);
	/* frames are 8 MiB: not one of them is kept */
	cr_expect_lt(resident, 1920 * 1080 * 4, "%" G_GUINT64_FORMAT
		     " bytes resident after NULL", resident);
	gst_object_unref(w);
	gst_object_unref(p);
}

/*
 * max-size bounds the buffer count: with an unbounded queue before a slow
 * sink the producer waits for buffers instead of failing mid-stream.
 */
Test(gst, max_size_makes_the_producer_wait)
{
	GstElement *p = launch("videotestsrc num-buffers=24 ! "
			       "video/x-raw,format=BGRA,width=640,height=480 ! "
			       "wcpoolalloc name=w max-size=8388608 ! "
			       "queue max-size-buffers=0 max-size-bytes=0 "
			       "max-size-time=0 ! identity sleep-time=2000 ! "
			       "fakesink");
	GError *err = run_pipeline(p, NULL);
	struct counts c;

	cr_assert_null(err, "%s", err ? err->message : "");
	c = counters(p);
	cr_expect_eq(c.own, 24);
	g_free(c.memtype);
	g_free(c.policy);
	gst_object_unref(p);
}

/* The pool's settings hold while it runs: a change then is refused. */
Test(gst, policy_fixed_while_playing)
{
	GstElement *p = launch("videotestsrc is-live=true ! wcpoolalloc name=w ! "
			       "fakesink");
	GstElement *w = gst_bin_get_by_name(GST_BIN(p), "w");
	gint policy = -1;

	cr_assert_neq(gst_element_set_state(p, GST_STATE_PLAYING),
		      GST_STATE_CHANGE_FAILURE);
	cr_assert_eq(gst_element_get_state(p, NULL, NULL, GST_CLOCK_TIME_NONE),
		     GST_STATE_CHANGE_SUCCESS);
	g_object_set(w, "policy", WCP_POLICY_UC, NULL);
	g_object_get(w, "policy", &policy, NULL);
	cr_expect_eq(policy, WCP_POLICY_WC, "policy changed while PLAYING");
	cr_assert_eq(gst_element_set_state(p, GST_STATE_NULL),
		     GST_STATE_CHANGE_SUCCESS);
	g_object_set(w, "policy", WCP_POLICY_WB, NULL);
	g_object_get(w, "policy", &policy, NULL);
	cr_expect_eq(policy, WCP_POLICY_WB, "policy not settable in NULL");
	gst_object_unref(w);
	gst_object_unref(p);
}

/*
 * A copy of pool memory is system memory with the same bytes, and the
 * allocator makes memory itself (no CUSTOM_ALLOC flag: elements that
 * honour it would not use the allocator on its own).
 */
static GstPadProbeReturn copy_and_compare(GstPad *pad, GstPadProbeInfo *info,
					  gpointer data)
{
	GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
	GstMemory *mem = gst_buffer_peek_memory(buf, 0);
	GstMemory *part = gst_memory_copy(mem, 100, 1000);
	GstMemory *whole = gst_memory_copy(mem, 0, -1);
	GstMapInfo m, a, b;
	int *ok = data;

	(void)pad;
	if (part && whole && part->allocator != mem->allocator &&
	    !GST_OBJECT_FLAG_IS_SET(mem->allocator,
				    GST_ALLOCATOR_FLAG_CUSTOM_ALLOC) &&
	    gst_memory_map(mem, &m, GST_MAP_READ)) {
		if (gst_memory_map(part, &a, GST_MAP_READ)) {
			if (gst_memory_map(whole, &b, GST_MAP_READ)) {
				*ok += a.size == 1000 && b.size == m.size &&
				       !memcmp(a.data, m.data + 100, 1000) &&
				       !memcmp(b.data, m.data, m.size);
				gst_memory_unmap(whole, &b);
			}
			gst_memory_unmap(part, &a);
		}
		gst_memory_unmap(mem, &m);
	}
	if (part)
		gst_memory_unref(part);
	if (whole)
		gst_memory_unref(whole);
	return GST_PAD_PROBE_OK;
}

Test(gst, memory_copy)
{
	GstElement *p = launch("videotestsrc num-buffers=3 pattern=ball ! "
			       "video/x-raw,format=I420,width=64,height=48 ! "
			       "wcpoolalloc name=w strict=true ! fakesink name=sink");
	GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "sink");
	GstPad *pad = gst_element_get_static_pad(sink, "sink");
	GError *err;
	int ok = 0;

	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, copy_and_compare, &ok,
			  NULL);
	err = run_pipeline(p, NULL);
	cr_assert_null(err, "%s", err ? err->message : "");
	cr_expect_eq(ok, 3, "%d of 3 copies right", ok);
	gst_object_unref(pad);
	gst_object_unref(sink);
	gst_object_unref(p);
}

/*
 * The README's advice on tee: with two branches tee drops the pools they
 * propose, so the element below it sees foreign buffers; above it, every
 * buffer is its own.
 */
Test(gst, tee_placement)
{
	GstElement *p = launch("videotestsrc num-buffers=5 ! tee name=t ! "
			       "queue ! wcpoolalloc name=w ! fakesink "
			       "t. ! queue ! fakesink");
	GError *err = run_pipeline(p, NULL);
	struct counts c;

	cr_assert_null(err, "%s", err ? err->message : "");
	c = counters(p);
	cr_expect_eq(c.own, 0, "below a 2-branch tee: %" G_GUINT64_FORMAT
		     " own buffers", c.own);
	cr_expect_eq(c.foreign, 5);
	g_free(c.memtype);
	g_free(c.policy);
	gst_object_unref(p);

	p = launch("videotestsrc num-buffers=5 ! wcpoolalloc name=w strict=true ! "
		   "tee name=t ! queue ! fakesink t. ! queue ! fakesink");
	err = run_pipeline(p, NULL);
	cr_assert_null(err, "%s", err ? err->message : "");
	c = counters(p);
	cr_expect_eq(c.own, 5, "above a tee: %" G_GUINT64_FORMAT " own buffers",
		     c.own);
	g_free(c.memtype);
	g_free(c.policy);
	gst_object_unref(p);
}
