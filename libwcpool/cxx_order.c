// SPDX-License-Identifier: MIT
/*
 * Keeps libstdc++ ahead of jemalloc among libwcpool's DT_NEEDED entries.
 *
 * Debian's libjemalloc defines C++'s operator new and delete and depends on
 * libstdc++.  In a C program linked with libwcpool (or one that dlopens it,
 * or a plugin on it) libstdc++ would arrive as jemalloc's dependency, after
 * it in the dynamic linker's lookup order, so every operator new in the
 * process, libstdc++'s own included, would bind to jemalloc's; C++ code
 * loaded later in its own scope then frees those blocks with glibc's
 * free() and the process aborts.  With libstdc++ first, the operators are
 * libstdc++'s (glibc's malloc), as in a program without libwcpool.  The
 * reference below keeps the entry under --as-needed.
 * (tests/test_process_malloc.c: cxx_operators_are_not_jemalloc)
 */
extern void (*_ZSt15get_new_handlerv(void))(void);	/* std::get_new_handler */

__attribute__((used, visibility("hidden")))
void (*(*const wcpi_cxx_order)(void))(void) = _ZSt15get_new_handlerv;
