// SPDX-License-Identifier: MIT
/*
 * guest-frames counts every ioctl(2) of the process, libwcpool's
 * (REGISTER, GROW, ...) and its own (V4L2) alike: this definition
 * interposes glibc's for the executable and the libraries it loads, and
 * calls it through dlsym(RTLD_NEXT).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/ioctl.h>

#include "guest_frames.h"

static atomic_ulong guest_ioctl_count;

unsigned long guest_ioctls(void)
{
	return atomic_load(&guest_ioctl_count);
}

int ioctl(int fd, unsigned long req, ...)
{
	static int (*real)(int, unsigned long, ...);
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!real) {
		real = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
		if (!real) {
			errno = ENOSYS;
			return -1;
		}
	}
	atomic_fetch_add(&guest_ioctl_count, 1);
	return real(fd, req, arg);
}
