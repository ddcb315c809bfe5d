// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool_edu - test-only dma-buf importer driving QEMU's edu device
 * (PCI 1234:11e8): the device, not the CPU, reads and writes pool memory.
 *
 * It binds every edu device and offers /dev/wcpool_edu (ioctls in
 * wcpool_edu.h).  An open file selects one device, sets its DMA mask and
 * max segment size as a real driver would at probe, attaches and maps a
 * dma-buf as a real importer does (dma_buf_attach, dma_buf_map_attachment,
 * DMA_BIDIRECTIONAL), shows the sg table it got (physical addresses and
 * DMA addresses, IOVAs behind an IOMMU) and runs edu's DMA engine between
 * a range of the dma-buf and edu's 4 KiB buffer.  Closing the file, or
 * unbinding the device, unmaps and detaches.
 *
 * edu's engine (QEMU hw/misc/edu.c): source at 0x80, destination at 0x88,
 * count at 0x90, command at 0x98 (bit 0 run, bit 1 direction: 0 from RAM
 * into the buffer at bus address 0x40000, 1 out of it).  The transfer
 * completes 100 ms of virtual time later, when bit 0 clears.  Without an
 * IOMMU edu clamps the RAM address to its dma_mask property, so a mapping
 * beyond the device's reach reads or writes the wrong memory.
 *
 * Locking: ctx->lock guards ctx->edu; edu->lock guards the engine, the
 * attachments of every ctx of the device and edu->gone.
 */
#include <linux/delay.h>
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/jiffies.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "wcpool_edu.h"

MODULE_IMPORT_NS(DMA_BUF);

#define EDU_VENDOR	0x1234
#define EDU_DEVICE	0x11e8
#define EDU_REG_ID	0x00
#define EDU_REG_SRC	0x80
#define EDU_REG_DST	0x88
#define EDU_REG_CNT	0x90
#define EDU_REG_CMD	0x98
#define EDU_CMD_RUN	0x1
#define EDU_CMD_OUT	0x2	/* from the buffer to RAM */
#define EDU_BUF		0x40000
#define EDU_BUF_SIZE	4096
#define EDU_TIMEOUT_MS	10000

struct edu_dev {
	struct kref kref;
	struct pci_dev *pdev;
	void __iomem *mmio;
	struct list_head node;
	/* the engine, every ctx's attachment, @gone */
	struct mutex lock;
	struct list_head ctxs;
	bool gone;
};

struct edu_ctx {
	/* guards @edu */
	struct mutex lock;
	struct edu_dev *edu;
	struct list_head node;
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
};

static LIST_HEAD(edu_devs);
static DEFINE_MUTEX(edu_devs_lock);

static void edu_free(struct kref *kref)
{
	struct edu_dev *edu = container_of(kref, struct edu_dev, kref);

	pci_dev_put(edu->pdev);
	mutex_destroy(&edu->lock);
	kfree(edu);
}

/* Unmap and detach @ctx's dma-buf, if any.  Caller holds edu->lock. */
static void edu_ctx_detach(struct edu_ctx *ctx)
{
	if (!ctx->attach)
		return;
#ifdef WCPOOL_EDU_HAVE_UNLOCKED_MAP
	dma_buf_unmap_attachment_unlocked(ctx->attach, ctx->sgt,
					  DMA_BIDIRECTIONAL);
#else
	dma_buf_unmap_attachment(ctx->attach, ctx->sgt, DMA_BIDIRECTIONAL);
#endif
	dma_buf_detach(ctx->dmabuf, ctx->attach);
	dma_buf_put(ctx->dmabuf);
	ctx->attach = NULL;
	ctx->sgt = NULL;
	ctx->dmabuf = NULL;
}

/* Drop @ctx's device, detaching first.  Caller holds ctx->lock. */
static void edu_ctx_put_dev(struct edu_ctx *ctx)
{
	struct edu_dev *edu = ctx->edu;

	if (!edu)
		return;
	mutex_lock(&edu->lock);
	edu_ctx_detach(ctx);
	list_del(&ctx->node);
	mutex_unlock(&edu->lock);
	ctx->edu = NULL;
	kref_put(&edu->kref, edu_free);
}

static long edu_setup(struct edu_ctx *ctx, void __user *uarg)
{
	struct wcpool_edu_setup s;
	struct edu_dev *edu = NULL, *e;
	struct device *dev;
	struct iommu_domain *dom;
	unsigned int n = 0;
	long ret = 0;

	if (copy_from_user(&s, uarg, sizeof(s)))
		return -EFAULT;
	if (s.mask_bits > 64 || (s.mask_bits && s.mask_bits < 24))
		return -EINVAL;
	mutex_lock(&edu_devs_lock);
	list_for_each_entry(e, &edu_devs, node) {
		if (n++ == s.index) {
			edu = e;
			kref_get(&edu->kref);
		}
	}
	mutex_unlock(&edu_devs_lock);
	if (!edu)
		return -ENODEV;

	if (ctx->edu != edu) {
		if (ctx->edu && ctx->attach) {
			ret = -EBUSY;
			goto out;
		}
		edu_ctx_put_dev(ctx);
		mutex_lock(&edu->lock);
		list_add(&ctx->node, &edu->ctxs);
		mutex_unlock(&edu->lock);
		kref_get(&edu->kref);
		ctx->edu = edu;
	}
	mutex_lock(&edu->lock);
	dev = &edu->pdev->dev;
	if (edu->gone) {
		ret = -ENODEV;
	} else if (ctx->attach && (s.mask_bits || s.max_seg)) {
		ret = -EBUSY;
	} else if (s.mask_bits &&
		   dma_set_mask_and_coherent(dev, DMA_BIT_MASK(s.mask_bits))) {
		ret = -EIO;
	} else if (s.max_seg && !dev->dma_parms) {
		ret = -EINVAL;
	} else if (s.max_seg) {
		dma_set_max_seg_size(dev, s.max_seg);
	}
	mutex_unlock(&edu->lock);
	if (ret)
		goto out;
	dom = iommu_get_domain_for_dev(dev);
	s.flags = dom && iommu_is_dma_domain(dom) ? WCPOOL_EDU_TRANSLATED : 0;
	s.max_seg = dma_get_max_seg_size(dev);
	s.count = n;
	strscpy(s.name, pci_name(edu->pdev), sizeof(s.name));
	if (copy_to_user(uarg, &s, sizeof(s)))
		ret = -EFAULT;
out:
	kref_put(&edu->kref, edu_free);
	return ret;
}

static long edu_attach(struct edu_ctx *ctx, void __user *uarg)
{
	struct edu_dev *edu = ctx->edu;
	struct wcpool_edu_attach a;
	struct dma_buf_attachment *attach;
	struct dma_buf *dmabuf;
	struct scatterlist *sg;
	struct sg_table *sgt;
	unsigned int i;
	long ret;

	if (!edu)
		return -ENODEV;
	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	dmabuf = dma_buf_get(a.fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	mutex_lock(&edu->lock);
	if (edu->gone) {
		ret = -ENODEV;
		goto err_put;
	}
	if (ctx->attach) {
		ret = -EBUSY;
		goto err_put;
	}
	attach = dma_buf_attach(dmabuf, &edu->pdev->dev);
	if (IS_ERR(attach)) {
		ret = PTR_ERR(attach);
		goto err_put;
	}
#ifdef WCPOOL_EDU_HAVE_UNLOCKED_MAP
	sgt = dma_buf_map_attachment_unlocked(attach, DMA_BIDIRECTIONAL);
#else
	sgt = dma_buf_map_attachment(attach, DMA_BIDIRECTIONAL);
#endif
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto err_detach;
	}
	ctx->dmabuf = dmabuf;
	ctx->attach = attach;
	ctx->sgt = sgt;
	a.nr_cpu = sgt->orig_nents;
	a.nr_dma = 0;
	for_each_sgtable_dma_sg(sgt, sg, i)
		a.nr_dma++;
	mutex_unlock(&edu->lock);
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;	/* attached all the same: DETACH or close */
	return 0;

err_detach:
	dma_buf_detach(dmabuf, attach);
err_put:
	mutex_unlock(&edu->lock);
	dma_buf_put(dmabuf);
	return ret;
}

static long edu_segs(struct edu_ctx *ctx, void __user *uarg)
{
	struct edu_dev *edu = ctx->edu;
	struct wcpool_edu_seg __user *useg;
	struct wcpool_edu_segs s;
	struct wcpool_edu_seg seg;
	struct scatterlist *sg;
	unsigned int i, n = 0;
	long ret = 0;

	if (!edu)
		return -ENODEV;
	if (copy_from_user(&s, uarg, sizeof(s)))
		return -EFAULT;
	if (s.which > WCPOOL_EDU_SEGS_DMA)
		return -EINVAL;
	useg = u64_to_user_ptr(s.segs);
	mutex_lock(&edu->lock);
	if (!ctx->attach) {
		ret = -ENOLINK;
		goto out;
	}
	if (s.which == WCPOOL_EDU_SEGS_CPU) {
		for_each_sgtable_sg(ctx->sgt, sg, i) {
			seg.addr = sg_phys(sg);
			seg.len = sg->length;
			if (n < s.count && copy_to_user(&useg[n], &seg, sizeof(seg))) {
				ret = -EFAULT;
				goto out;
			}
			n++;
		}
	} else {
		for_each_sgtable_dma_sg(ctx->sgt, sg, i) {
			seg.addr = sg_dma_address(sg);
			seg.len = sg_dma_len(sg);
			if (n < s.count && copy_to_user(&useg[n], &seg, sizeof(seg))) {
				ret = -EFAULT;
				goto out;
			}
			n++;
		}
	}
	s.count = n;
	if (copy_to_user(uarg, &s, sizeof(s)))
		ret = -EFAULT;
out:
	mutex_unlock(&edu->lock);
	return ret;
}

/*
 * The bus address of [@off, @off + @len) of the mapping, DMA_MAPPING_ERROR
 * if it is not inside one DMA segment.
 */
static dma_addr_t edu_dma_addr(struct sg_table *sgt, u64 off, u32 len)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_dma_sg(sgt, sg, i) {
		if (off < sg_dma_len(sg))
			return off + len <= sg_dma_len(sg) ?
			       sg_dma_address(sg) + off : DMA_MAPPING_ERROR;
		off -= sg_dma_len(sg);
	}
	return DMA_MAPPING_ERROR;
}

static long edu_dma(struct edu_ctx *ctx, void __user *uarg)
{
	struct edu_dev *edu = ctx->edu;
	struct wcpool_edu_dma d;
	unsigned long timeout;
	dma_addr_t addr;
	u64 buf;
	long ret = 0;

	if (!edu)
		return -ENODEV;
	if (copy_from_user(&d, uarg, sizeof(d)))
		return -EFAULT;
	if (!d.len || d.dir > WCPOOL_EDU_FROM_DEVICE || d.reserved ||
	    d.buf_off >= EDU_BUF_SIZE || d.len >= EDU_BUF_SIZE - d.buf_off)
		return -EINVAL;
	mutex_lock(&edu->lock);
	if (edu->gone) {
		ret = -ENODEV;
		goto out;
	}
	if (!ctx->attach) {
		ret = -ENOLINK;
		goto out;
	}
	addr = edu_dma_addr(ctx->sgt, d.offset, d.len);
	if (addr == DMA_MAPPING_ERROR) {
		ret = -EINVAL;
		goto out;
	}
	buf = EDU_BUF + d.buf_off;
	writeq(d.dir == WCPOOL_EDU_TO_DEVICE ? addr : buf,
	       edu->mmio + EDU_REG_SRC);
	writeq(d.dir == WCPOOL_EDU_TO_DEVICE ? buf : addr,
	       edu->mmio + EDU_REG_DST);
	writeq(d.len, edu->mmio + EDU_REG_CNT);
	writeq(EDU_CMD_RUN | (d.dir == WCPOOL_EDU_FROM_DEVICE ? EDU_CMD_OUT : 0),
	       edu->mmio + EDU_REG_CMD);
	timeout = jiffies + msecs_to_jiffies(EDU_TIMEOUT_MS);
	while (readq(edu->mmio + EDU_REG_CMD) & EDU_CMD_RUN) {
		if (time_after(jiffies, timeout)) {
			ret = -ETIMEDOUT;
			break;
		}
		usleep_range(1000, 2000);
	}
out:
	mutex_unlock(&edu->lock);
	return ret;
}

static long edu_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct edu_ctx *ctx = file->private_data;
	void __user *uarg = (void __user *)arg;
	long ret;

	mutex_lock(&ctx->lock);
	switch (cmd) {
	case WCPOOL_EDU_IOC_SETUP:
		ret = edu_setup(ctx, uarg);
		break;
	case WCPOOL_EDU_IOC_ATTACH:
		ret = edu_attach(ctx, uarg);
		break;
	case WCPOOL_EDU_IOC_SEGS:
		ret = edu_segs(ctx, uarg);
		break;
	case WCPOOL_EDU_IOC_DMA:
		ret = edu_dma(ctx, uarg);
		break;
	case WCPOOL_EDU_IOC_DETACH:
		ret = -ENODEV;
		if (ctx->edu) {
			mutex_lock(&ctx->edu->lock);
			ret = ctx->attach ? 0 : -ENOLINK;
			edu_ctx_detach(ctx);
			mutex_unlock(&ctx->edu->lock);
		}
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&ctx->lock);
	return ret;
}

static int edu_open(struct inode *inode, struct file *file)
{
	struct edu_ctx *ctx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	mutex_init(&ctx->lock);
	INIT_LIST_HEAD(&ctx->node);
	file->private_data = ctx;
	return 0;
}

static int edu_release(struct inode *inode, struct file *file)
{
	struct edu_ctx *ctx = file->private_data;

	mutex_lock(&ctx->lock);
	edu_ctx_put_dev(ctx);
	mutex_unlock(&ctx->lock);
	mutex_destroy(&ctx->lock);
	kfree(ctx);
	return 0;
}

static const struct file_operations edu_fops = {
	.owner = THIS_MODULE,
	.open = edu_open,
	.release = edu_release,
	.unlocked_ioctl = edu_ioctl,
};

static struct miscdevice edu_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "wcpool_edu",
	.fops = &edu_fops,
};

static int edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct edu_dev *edu, *e;
	int ret;

	edu = kzalloc(sizeof(*edu), GFP_KERNEL);
	if (!edu)
		return -ENOMEM;
	kref_init(&edu->kref);
	mutex_init(&edu->lock);
	INIT_LIST_HEAD(&edu->ctxs);
	edu->pdev = pci_dev_get(pdev);
	ret = pci_enable_device(pdev);
	if (ret)
		goto err_free;
	ret = pci_request_region(pdev, 0, "wcpool_edu");
	if (ret)
		goto err_disable;
	edu->mmio = pci_iomap(pdev, 0, 0);
	if (!edu->mmio) {
		ret = -ENOMEM;
		goto err_release;
	}
	if ((readl(edu->mmio + EDU_REG_ID) & 0xff) != 0xed) {
		ret = -ENODEV;
		goto err_unmap;
	}
	pci_set_master(pdev);
	pci_set_drvdata(pdev, edu);
	/* In PCI order, also when bound again. */
	mutex_lock(&edu_devs_lock);
	list_for_each_entry(e, &edu_devs, node)
		if (strcmp(pci_name(e->pdev), pci_name(pdev)) > 0)
			break;
	list_add_tail(&edu->node, &e->node);
	mutex_unlock(&edu_devs_lock);
	return 0;

err_unmap:
	pci_iounmap(pdev, edu->mmio);
err_release:
	pci_release_region(pdev, 0);
err_disable:
	pci_disable_device(pdev);
err_free:
	kref_put(&edu->kref, edu_free);
	return ret;
}

/* Unbind: wait for a transfer in flight, then detach every importer. */
static void edu_remove(struct pci_dev *pdev)
{
	struct edu_dev *edu = pci_get_drvdata(pdev);
	struct edu_ctx *ctx;

	mutex_lock(&edu_devs_lock);
	list_del(&edu->node);
	mutex_unlock(&edu_devs_lock);
	mutex_lock(&edu->lock);
	edu->gone = true;
	list_for_each_entry(ctx, &edu->ctxs, node)
		edu_ctx_detach(ctx);
	mutex_unlock(&edu->lock);
	pci_clear_master(pdev);
	pci_iounmap(pdev, edu->mmio);
	pci_release_region(pdev, 0);
	pci_disable_device(pdev);
	kref_put(&edu->kref, edu_free);
}

static const struct pci_device_id edu_ids[] = {
	{ PCI_DEVICE(EDU_VENDOR, EDU_DEVICE) },
	{ }
};
MODULE_DEVICE_TABLE(pci, edu_ids);

static struct pci_driver edu_driver = {
	.name = "wcpool_edu",
	.id_table = edu_ids,
	.probe = edu_probe,
	.remove = edu_remove,
};

static int __init edu_init(void)
{
	int ret;

	ret = misc_register(&edu_misc);
	if (ret)
		return ret;
	ret = pci_register_driver(&edu_driver);
	if (ret)
		misc_deregister(&edu_misc);
	return ret;
}

static void __exit edu_exit(void)
{
	pci_unregister_driver(&edu_driver);
	misc_deregister(&edu_misc);
}

module_init(edu_init);
module_exit(edu_exit);
MODULE_DESCRIPTION("Test-only dma-buf importer for QEMU's edu device");
MODULE_LICENSE("GPL");
