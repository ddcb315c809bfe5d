// SPDX-License-Identifier: GPL-2.0
/*
 * wcpool_faultinj - test-only fault injection for wcpool.ko on kernels
 * without CONFIG_FAULT_INJECTION (Debian's): makes chosen kernel calls fail
 * every Nth time they are made from wcpool.ko.
 *
 *   insmod wcpool_faultinj.ko call=NAME[,NAME...]|all every=N
 *
 * NAME: set_memory_wc, set_memory_uc (the linear-map conversions),
 * alloc_pages (alloc_pages_noprof on 6.12), dma_buf_export, sg_alloc_table
 * (in wcpool's map_dma_buf, called when an importer such as vgem maps the
 * dma-buf), get_unused_fd_flags, alloc_contig_range
 * (alloc_contig_range_noprof on 6.12; wcpool.ko calls it only on kernels
 * where it makes compound pages, for contiguous runs and address limits),
 * kmem_cache_alloc_lru (kmem_cache_alloc_lru_noprof on 6.12: a recycled
 * page's entry on its cgroup's list; without it the page is freed).
 *
 * Only calls from wcpool.ko count (the return address on the stack lies
 * in it), and every Nth of those fails.  How each fails, so that the
 * failure is one the kernel could give and nothing leaks but what
 * wcpool.ko itself would leak:
 *
 * alloc_pages (NULL), dma_buf_export (ERR_PTR(-ENOMEM)), sg_alloc_table
 * (-ENOMEM, the table left zeroed as its own failure leaves it),
 * get_unused_fd_flags (-EMFILE), alloc_contig_range (-EBUSY, as when a
 * page of the range cannot be migrated), kmem_cache_alloc_lru (NULL): a
 * kprobe on the function's entry puts the
 * failure in the return register and resumes at a bare return, so the
 * function never runs, as the kernel's fail_function and
 * bpf_override_return do.  Nothing was made, so nothing can leak.
 * Overriding the value after the function ran would leak what it made:
 * the pages, the dma-buf and its file, the fd.
 *
 * set_memory_wc, set_memory_uc (-ENOMEM): a kretprobe overrides the value
 * after the function ran, so the linear map really is WC/UC and the
 * memtype reserved when wcpool.ko sees the failure: the worst a real one
 * leaves (it may stop half way, after changing the first entries).
 * wcpool.ko must then restore WB with set_memory_wb(), which also drops
 * the reservation, before the page goes back: done right, nothing leaks;
 * forgotten, the check below finds a WC/UC page (a skipped call would
 * leave the page WB and hide it).
 *
 * A check, not an injection: every page wcpool.ko gives to __free_pages()
 * must be write-back, both in the linear map (each 4 KiB of it) and in
 * PAT's tracking of RAM memtypes (page flags); a page that is not is
 * counted as bad and reported.
 *
 * /sys/kernel/debug/wcpool_faultinj/counts: one line per probed call,
 * "NAME calls N injected N" (calls from wcpool.ko), then
 * "free checked N bad N".
 */
#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/objtool.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <asm/linkage.h>
#include <asm/pgtable.h>

static char *call = "all";
module_param(call, charp, 0444);
MODULE_PARM_DESC(call, "Calls to fail, comma-separated, or \"all\"");

static unsigned int every = 3;
module_param(every, uint, 0444);
MODULE_PARM_DESC(every, "Fail every Nth call from wcpool.ko (default 3)");

/* Where an overridden function resumes: straight back to its caller. */
asmlinkage void wcpool_faultinj_ret(void);
asm(".pushsection .text, \"ax\"\n"
	".type wcpool_faultinj_ret, @function\n"
	"wcpool_faultinj_ret:\n"
	ANNOTATE_NOENDBR
	ASM_RET
	".size wcpool_faultinj_ret, .-wcpool_faultinj_ret\n"
	".popsection\n");

struct faultinj_call {
	const char *name;
	const char *syms[2];	/* the symbol, or its older name */
	long ret;		/* the failure */
	bool after;		/* fail after the function ran: krp, else kp */
	bool on;
	struct kprobe kp;
	struct kretprobe krp;
	atomic_t calls;
	atomic_t injected;
};

static struct faultinj_call faultinj_calls[] = {
	{ "set_memory_wc", { "set_memory_wc" }, -ENOMEM, true },
	{ "set_memory_uc", { "set_memory_uc" }, -ENOMEM, true },
	{ "alloc_pages", { "alloc_pages_noprof", "alloc_pages" }, 0 },
	{ "dma_buf_export", { "dma_buf_export" }, -ENOMEM },	/* ERR_PTR */
	{ "sg_alloc_table", { "sg_alloc_table" }, -ENOMEM },
	{ "get_unused_fd_flags", { "get_unused_fd_flags" }, -EMFILE },
	{ "alloc_contig_range", { "alloc_contig_range_noprof",
				  "alloc_contig_range" }, -EBUSY },
	/* a recycled page's list_lru entry (NULL) */
	{ "kmem_cache_alloc_lru", { "kmem_cache_alloc_lru_noprof",
				    "kmem_cache_alloc_lru" }, 0 },
};

static struct kprobe faultinj_free_kp;
static atomic_t free_checked, free_bad;
static struct dentry *faultinj_dir;

/* Is the probed function, at its entry, called from wcpool.ko? */
static bool faultinj_from_wcpool(struct pt_regs *regs)
{
	unsigned long ret = *(unsigned long *)kernel_stack_pointer(regs);
	char sym[KSYM_SYMBOL_LEN];
	size_t len;

	if (ret < MODULES_VADDR || ret >= MODULES_END)
		return false;
	len = sprint_symbol_no_offset(sym, ret);
	return len > 9 && !strcmp(sym + len - 9, " [wcpool]");
}

/* At the entry of @c's function: must this call fail? */
static bool faultinj_due(struct faultinj_call *c, struct pt_regs *regs)
{
	if (!faultinj_from_wcpool(regs) ||
	    atomic_inc_return(&c->calls) % every)
		return false;
	atomic_inc(&c->injected);
	return true;
}

static int faultinj_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct faultinj_call *c = container_of(kp, struct faultinj_call, kp);

	if (!faultinj_due(c, regs))
		return 0;
	regs->ax = c->ret;
	instruction_pointer_set(regs, (unsigned long)wcpool_faultinj_ret);
	return 1;	/* regs->ip changed: do not run the function */
}

/*
 * Does nothing, but a kprobe with a post handler is never optimized into a
 * jump, and an optimized kprobe would ignore the new regs->ip.
 */
static void faultinj_post(struct kprobe *kp, struct pt_regs *regs,
			  unsigned long flags)
{
}

static struct faultinj_call *faultinj_ri_call(struct kretprobe_instance *ri)
{
	return container_of(get_kretprobe(ri), struct faultinj_call, krp);
}

/* 0: call faultinj_ret_handler() when the function returns. */
static int faultinj_entry_handler(struct kretprobe_instance *ri,
				  struct pt_regs *regs)
{
	return !faultinj_due(faultinj_ri_call(ri), regs);
}

static int faultinj_ret_handler(struct kretprobe_instance *ri,
				struct pt_regs *regs)
{
	regs->ax = faultinj_ri_call(ri)->ret;
	return 0;
}

/* The linear map of @page and PAT's memtype of it say write-back. */
static bool faultinj_page_wb(struct page *page)
{
#ifdef CONFIG_ARCH_USES_PG_UNCACHED
	const unsigned long memtype = BIT(PG_arch_1) | BIT(PG_uncached);
#else
	const unsigned long memtype = BIT(PG_arch_1) | BIT(PG_arch_2);
#endif
	unsigned int level;
	pte_t *pte;

	pte = lookup_address((unsigned long)page_address(page), &level);
	if (!pte || (pte_val(*pte) & (_PAGE_PWT | _PAGE_PCD)))
		return false;
	return !(page->flags & memtype);
}

/* __free_pages(page, order) from wcpool.ko: only WB pages. */
static int faultinj_free_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct page *page = (struct page *)regs->di;
	unsigned int order = regs->si, i;

	if (!faultinj_from_wcpool(regs))
		return 0;
	atomic_inc(&free_checked);
	for (i = 0; i < 1U << order; i++) {
		if (!faultinj_page_wb(page + i)) {
			atomic_inc(&free_bad);
			pr_err("wcpool_faultinj: pfn %#lx freed by wcpool is not write-back\n",
			       page_to_pfn(page + i));
			break;
		}
	}
	return 0;
}

static int faultinj_counts_show(struct seq_file *m, void *unused)
{
	struct faultinj_call *c;
	int i;

	for (i = 0; i < ARRAY_SIZE(faultinj_calls); i++) {
		c = &faultinj_calls[i];
		if (c->on)
			seq_printf(m, "%s calls %d injected %d\n", c->name,
				   atomic_read(&c->calls),
				   atomic_read(&c->injected));
	}
	seq_printf(m, "free checked %d bad %d\n", atomic_read(&free_checked),
		   atomic_read(&free_bad));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(faultinj_counts);

/* Probe @c's function under the first of its names the kernel has. */
static int faultinj_register(struct faultinj_call *c)
{
	int i, ret = -ENOENT;

	for (i = 0; i < ARRAY_SIZE(c->syms) && c->syms[i] && ret == -ENOENT;
	     i++) {
		if (c->after) {
			c->krp.kp.symbol_name = c->syms[i];
			c->krp.kp.addr = NULL;
			c->krp.entry_handler = faultinj_entry_handler;
			c->krp.handler = faultinj_ret_handler;
			ret = register_kretprobe(&c->krp);
		} else {
			c->kp.symbol_name = c->syms[i];
			c->kp.addr = NULL;
			c->kp.pre_handler = faultinj_pre;
			c->kp.post_handler = faultinj_post;
			ret = register_kprobe(&c->kp);
		}
	}
	return ret;
}

static void faultinj_unregister(void)
{
	struct faultinj_call *c;
	int i;

	for (i = 0; i < ARRAY_SIZE(faultinj_calls); i++) {
		c = &faultinj_calls[i];
		if (c->on && c->after)
			unregister_kretprobe(&c->krp);
		else if (c->on)
			unregister_kprobe(&c->kp);
	}
	if (faultinj_free_kp.addr)
		unregister_kprobe(&faultinj_free_kp);
}

/* Is @name in the comma-separated @list (or is @list "all")? */
static bool faultinj_listed(const char *list, const char *name)
{
	size_t len = strlen(name);
	const char *p;

	if (!strcmp(list, "all"))
		return true;
	for (p = list; (p = strstr(p, name)); p += len) {
		if ((p == list || p[-1] == ',') &&
		    (p[len] == ',' || !p[len]))
			return true;
	}
	return false;
}

static int __init faultinj_init(void)
{
	struct faultinj_call *c;
	int i, n = 0, ret;

	if (!every)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(faultinj_calls); i++) {
		c = &faultinj_calls[i];
		if (!faultinj_listed(call, c->name))
			continue;
		ret = faultinj_register(c);
		if (ret) {
			pr_err("wcpool_faultinj: cannot probe %s: %d\n",
			       c->name, ret);
			goto err;
		}
		c->on = true;
		n++;
	}
	if (!n) {
		pr_err("wcpool_faultinj: call=%s: no such call\n", call);
		return -EINVAL;
	}
	faultinj_free_kp.symbol_name = "__free_pages";
	faultinj_free_kp.pre_handler = faultinj_free_pre;
	ret = register_kprobe(&faultinj_free_kp);
	if (ret) {
		faultinj_free_kp.addr = NULL;
		pr_err("wcpool_faultinj: cannot probe __free_pages: %d\n", ret);
		goto err;
	}
	faultinj_dir = debugfs_create_dir("wcpool_faultinj", NULL);
	debugfs_create_file("counts", 0444, faultinj_dir, NULL,
			    &faultinj_counts_fops);
	return 0;

err:
	faultinj_unregister();
	return ret;
}

static void __exit faultinj_exit(void)
{
	debugfs_remove_recursive(faultinj_dir);
	faultinj_unregister();
}

module_init(faultinj_init);
module_exit(faultinj_exit);

MODULE_DESCRIPTION("Test-only fault injection for wcpool.ko (kprobes)");
MODULE_LICENSE("GPL");
