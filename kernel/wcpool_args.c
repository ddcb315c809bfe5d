// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool ioctl arguments: every argument struct starts with its size, so
 * that it can grow (see the uapi header).  Used by every ioctl; calls
 * nothing else of wcpool.ko.
 */
#include <linux/mm.h>
#include <linux/uaccess.h>

#include "wcpool.h"

/**
 * wcpool_copy_args - copy an extensible ioctl argument struct from userspace
 * @karg: kernel copy, @ksize bytes, starting with the __u32 size field
 * @ksize: size of the struct this module knows
 * @ver0: the smallest size userspace may pass
 * @uarg: the user pointer
 *
 * Return: 0, -EFAULT, -EINVAL (size out of range) or -E2BIG (unknown
 * trailing bytes not zero).
 */
int wcpool_copy_args(void *karg, size_t ksize, size_t ver0,
		     const void __user *uarg)
{
	u32 usize;
	int ret;

	if (get_user(usize, (const u32 __user *)uarg))
		return -EFAULT;
	if (usize < ver0 || usize > PAGE_SIZE)
		return -EINVAL;
	ret = copy_struct_from_user(karg, ksize, uarg, usize);
	if (ret)
		return ret;
	return 0;
}

/* Write back the output of an ioctl, up to the size userspace knows. */
int wcpool_copy_out(void __user *uarg, const void *karg, size_t ksize)
{
	u32 usize = *(const u32 *)karg;

	if (copy_to_user(uarg, karg, min_t(size_t, usize, ksize)))
		return -EFAULT;
	return 0;
}
