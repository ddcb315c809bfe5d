/* SPDX-License-Identifier: MIT */
/*
 * WCPI_SYMVER(fn, "name@VERSION") binds function @fn, declared before, to
 * a versioned symbol of the shared library: "name@@VERSION" makes it the
 * default that new links get, "name@VERSION" an old version that only
 * binaries linked against it reach (libwcpool.map lists both nodes).
 * GCC's symver attribute where there is one (it survives LTO), else the
 * assembler directive.
 */
#ifndef WCPOOL_INTERNAL_SYMVER_H
#define WCPOOL_INTERNAL_SYMVER_H

#if defined(__has_attribute)
#if __has_attribute(symver)
#define WCPI_SYMVER(fn, name) \
	extern __typeof__(fn) fn __attribute__((symver(name)))
#endif
#endif
#ifndef WCPI_SYMVER
#define WCPI_SYMVER(fn, name) __asm__(".symver " #fn ", " name)
#endif

#endif
