// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool - huge page pools with a fixed cache policy behind an mmap-able fd.
 *
 * /dev/wcpool takes one ioctl, WCPOOL_IOC_CREATE, which returns a pool fd.
 * Write access to the device is the privilege to allocate WC/UC memory: the
 * udev rule gives it to a group, and CREATE needs an fd open for writing.
 */
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#include "wcpool.h"

static unsigned int limit_mb;
module_param(limit_mb, uint, 0444);
MODULE_PARM_DESC(limit_mb,
		 "Most memory all pools may hold, in MiB (default 0: a quarter of RAM)");

static unsigned int recycle_pages = 8;
module_param(recycle_pages, uint, 0444);
MODULE_PARM_DESC(recycle_pages,
		 "Converted 2 MiB pages kept for reuse per cache policy (default 8)");

static long wcpool_dev_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct wcpool_create args;
	long ret;

	if (cmd != WCPOOL_IOC_CREATE)
		return -ENOTTY;
	ret = wcpool_copy_args(&args, sizeof(args), WCPOOL_CREATE_SIZE_VER0,
			       uarg);
	if (ret)
		return ret;
	/* A pool is writable memory: the mode bits of the node decide. */
	if (!(file->f_mode & FMODE_WRITE))
		return -EBADF;
	return wcpool_pool_create(&args, uarg);
}

static const struct file_operations wcpool_dev_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = wcpool_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice wcpool_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "wcpool",
	.fops = &wcpool_dev_fops,
	.mode = 0600,
};

static int __init wcpool_init(void)
{
	unsigned long limit;
	int ret;

	if (limit_mb)
		limit = limit_mb >> (WCPOOL_PAGE_SHIFT_2M - 20);
	else
		limit = (totalram_pages() / 4) >> WCPOOL_ORDER;
	ret = wcpool_page_init(limit, recycle_pages);
	if (ret)
		return ret;
	ret = wcpool_pool_init();
	if (ret)
		goto err_page;
	wcpool_stats_init();
	ret = misc_register(&wcpool_misc);
	if (ret)
		goto err_stats;
	ret = wcpool_heap_init();
	if (ret)
		goto err_misc;
	return 0;

err_misc:
	misc_deregister(&wcpool_misc);
err_stats:
	wcpool_stats_exit();
	wcpool_pool_exit();
err_page:
	wcpool_page_exit();
	return ret;
}

static void __exit wcpool_exit(void)
{
	wcpool_heap_exit();
	misc_deregister(&wcpool_misc);
	wcpool_stats_exit();
	wcpool_pool_exit();
	wcpool_page_exit();
}

module_init(wcpool_init);
module_exit(wcpool_exit);

MODULE_DESCRIPTION("Huge page pools with a fixed cache policy behind an mmap-able fd");
MODULE_LICENSE("GPL");
MODULE_VERSION(WCPOOL_VERSION);
