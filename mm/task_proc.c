/*
 * The per-process views: /proc/PID/maps, /proc/PID/smaps and
 * /proc/PID/status, in the formats of Linux 6.x so that tools and habits
 * built for Linux (pmap-style parsers, a diff against the host's own
 * /proc/PID/maps) work on them unchanged.
 *
 * maps and status read the area set and the memory descriptor's counters.
 * smaps is computed, as Linux computes it, by walking the page tables of
 * each area: every present entry is a resident page, shared when more than
 * one mapping holds it (its _mapcount), dirty when the entry's D bit or the
 * page's PG_dirty says so; the shared zero page is not counted (its entries
 * are "special": they hold no reference, as vm_normal_page sees it); a
 * non-present, non-zero entry is a swap entry. Proportional set size (Pss)
 * splits each page evenly between its mappers, in 1/4096ths of a byte so
 * that the sum over processes adds up.
 *
 * A file area shows its offset, the file's device (major:minor), inode
 * and path inside the root, as Linux shows them; its cache pages count as
 * shared when several entries map them (a read-only page of a library in
 * two processes), dirty by the entry's D bit or the page's PG_dirty, and
 * never as Anonymous; the private copies a write made of them do.
 *
 * Every view takes the area set's lock for reading, so it sees a
 * consistent set while faults go on (the counts of a page mapped or
 * unmapped during the walk may be off by that page, as in Linux). A pid
 * without a task prints nothing: the caller (the tool) says so.
 */
#include <kmm/fs.h>
#include <kmm/mm.h>
#include <kmm/mmzone.h>
#include <kmm/page_alloc.h>
#include <kmm/printk.h>

#include "internal.h"

/* Linux's seq_setwidth in show_map_vma: the name starts at this column. */
#define MAPS_NAME_COLUMN (25 + 6 * 8)

/* Pss is accumulated in bytes << PSS_SHIFT so that 1/mapcount is exact enough. */
#define PSS_SHIFT 12

static struct mm *task_get_mm(struct task *t)
{
	struct mm *mm = t ? t->mm : NULL;

	if (!mm || t->state != TASK_RUNNING)
		return NULL;
	mmget(mm);
	return mm;
}

/* The name Linux gives an area: the file's path, [heap], [stack], or none. */
static const char *vma_name(struct mm *mm, struct vm_area *vma)
{
	if (vma->vm_file)
		return vma->vm_file->f_inode->i_path ? vma->vm_file->f_inode->i_path : "";
	if (vma->vm_shared)
		return "/dev/zero (deleted)";
	/* Linux 6.x's vma_is_initial_heap: strict, so the bss just below an empty heap is not it. */
	if (vma->vm_start < mm->brk && vma->vm_end > mm->start_brk)
		return "[heap]";
	if (vma->vm_start <= mm->start_stack && vma->vm_end >= mm->start_stack)
		return "[stack]";
	return NULL;
}

/*
 * The inode number of a shared anonymous object. Linux shows the inode of
 * the shmem file behind it; ours is the object's physical address in pages
 * (stable for a seed, distinct for distinct objects).
 */
static unsigned long shared_ino(struct vm_area *vma)
{
	return (unsigned long)(virt_to_phys(vma->vm_shared) >> 4);
}

static void show_map_vma(struct seq_buf *s, struct mm *mm, struct vm_area *vma)
{
	unsigned long flags = vma->vm_flags;
	unsigned long long pgoff = 0;
	unsigned int major = 0, minor = 0;
	unsigned long ino = 0;
	const char *name = vma_name(mm, vma);
	size_t start = s->len;

	/* Linux shows an offset and a device only for file-backed areas. */
	if (vma->vm_file) {
		const struct inode *inode = vma->vm_file->f_inode;

		pgoff = (unsigned long long)vma->vm_pgoff << PAGE_SHIFT;
		major = inode->i_dev >> 8;
		minor = inode->i_dev & 0xff;
		ino = (unsigned long)inode->i_ino;
	} else if (vma->vm_shared) {
		pgoff = (unsigned long long)vma->vm_pgoff << PAGE_SHIFT;
		minor = 1;
		ino = shared_ino(vma);
	}
	seq_printf(s, "%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu ",
		   (unsigned long)vma->vm_start, (unsigned long)vma->vm_end,
		   flags & VM_READ ? 'r' : '-', flags & VM_WRITE ? 'w' : '-',
		   flags & VM_EXEC ? 'x' : '-', flags & VM_MAYSHARE ? 's' : 'p',
		   pgoff, major, minor, ino);
	if (name) {
		size_t used = s->len - start;

		if (used < MAPS_NAME_COLUMN)
			seq_printf(s, "%*s", (int)(MAPS_NAME_COLUMN - used), "");
		seq_puts(s, name);
	}
	seq_puts(s, "\n");
}

void maps_show(struct seq_buf *s, long pid)
{
	struct mm *mm = task_get_mm(task_find((int)pid));
	struct vm_area *vma;

	if (!mm)
		return;
	read_lock(&mm->mmap_lock);
	list_for_each_entry(vma, &mm->mmap, vm_list)
		show_map_vma(s, mm, vma);
	read_unlock(&mm->mmap_lock);
	mmput(mm);
}

/* ---- smaps ---- */

struct mem_size_stats {
	unsigned long resident, shared_clean, shared_dirty, private_clean, private_dirty;
	unsigned long referenced, anonymous, lazyfree, swap;
	unsigned long long pss, pss_dirty, pss_locked, swap_pss;
};

static bool page_anon(struct page *page)
{
	return ((unsigned long)page->mapping & PAGE_MAPPING_ANON) != 0;
}

static void smaps_account(struct mem_size_stats *mss, struct vm_area *vma,
			  struct page *page, bool young, bool dirty)
{
	int mapcount = atomic_load_explicit(&page->_mapcount, memory_order_relaxed) + 1;
	unsigned long size = PAGE_SIZE;
	unsigned long long pss = (unsigned long long)size << PSS_SHIFT;

	dirty = dirty || page_flag(page, PG_dirty);
	/* Shared anonymous memory is shmem in Linux: not "Anonymous". */
	if (!vma->vm_shared && page_anon(page))
		mss->anonymous += size;
	mss->resident += size;
	if (young || page_flag(page, PG_referenced))
		mss->referenced += size;
	if (mapcount >= 2) {
		pss /= (unsigned long long)mapcount;
		if (dirty) {
			mss->shared_dirty += size;
			mss->pss_dirty += pss;
		} else {
			mss->shared_clean += size;
		}
	} else if (dirty) {
		mss->private_dirty += size;
		mss->pss_dirty += pss;
	} else {
		mss->private_clean += size;
	}
	mss->pss += pss;
	if (vma->vm_flags & VM_LOCKED)
		mss->pss_locked += pss;
}

static void smaps_walk(struct mm *mm, struct vm_area *vma, struct mem_size_stats *mss)
{
	uintptr_t addr = vma->vm_start;

	while (addr < vma->vm_end) {
		pteval_t *ptep = pte_lookup(mm, addr);
		pteval_t pte;

		if (!ptep) {
			/* No last-level table: skip what one would cover. */
			uintptr_t next = (addr + pt_entry_span(1)) & ~(pt_entry_span(1) - 1);

			if (next <= addr)
				break;
			addr = next;
			continue;
		}
		pte = pte_read(ptep);
		if (pte_present(pte)) {
			/* The zero page is "special": Linux's smaps skips it too. */
			if (!pte_special(pte))
				smaps_account(mss, vma, pfn_to_page(pte_pfn(pte)),
					      pte_young(pte), pte_dirty(pte));
		} else if (!pte_none(pte)) {
			/* A swap entry: one slot, used by this mapping alone until
			   the swap issue gives slots counts of their own. */
			mss->swap += PAGE_SIZE;
			mss->swap_pss += (unsigned long long)PAGE_SIZE << PSS_SHIFT;
		}
		addr += PAGE_SIZE;
	}
}

/* "Name:" padded to 16 columns, the value in kB in 8: Linux's SEQ_PUT_DEC. */
static void smaps_line(struct seq_buf *s, const char *name, unsigned long long bytes)
{
	seq_printf(s, "%-16s%8llu kB\n", name, bytes >> 10);
}

/* The two-letter names of smaps' VmFlags, by bit number (Linux's). */
static const char vm_flag_names[32][3] = {
	[0] = "rd", [1] = "wr", [2] = "ex", [3] = "sh", [4] = "mr", [5] = "mw",
	[6] = "me", [7] = "ms", [8] = "gd", [11] = "dw", [13] = "lo", [15] = "sr",
	[16] = "rr", [17] = "dc", [20] = "ac", [21] = "nr",
};

static void show_smap(struct seq_buf *s, struct mm *mm, struct vm_area *vma)
{
	struct mem_size_stats mss = { 0 };

	smaps_walk(mm, vma, &mss);
	show_map_vma(s, mm, vma);
	smaps_line(s, "Size:", vma->vm_end - vma->vm_start);
	smaps_line(s, "KernelPageSize:", PAGE_SIZE);
	smaps_line(s, "MMUPageSize:", PAGE_SIZE);
	smaps_line(s, "Rss:", mss.resident);
	smaps_line(s, "Pss:", mss.pss >> PSS_SHIFT);
	smaps_line(s, "Pss_Dirty:", mss.pss_dirty >> PSS_SHIFT);
	smaps_line(s, "Shared_Clean:", mss.shared_clean);
	smaps_line(s, "Shared_Dirty:", mss.shared_dirty);
	smaps_line(s, "Private_Clean:", mss.private_clean);
	smaps_line(s, "Private_Dirty:", mss.private_dirty);
	smaps_line(s, "Referenced:", mss.referenced);
	smaps_line(s, "Anonymous:", mss.anonymous);
	smaps_line(s, "KSM:", 0);
	smaps_line(s, "LazyFree:", mss.lazyfree);
	smaps_line(s, "AnonHugePages:", 0);
	smaps_line(s, "ShmemPmdMapped:", 0);
	smaps_line(s, "FilePmdMapped:", 0);
	smaps_line(s, "Shared_Hugetlb:", 0);
	/* One column narrower, as in Linux: the name is 16 characters. */
	seq_printf(s, "Private_Hugetlb: %7u kB\n", 0u);
	smaps_line(s, "Swap:", mss.swap);
	smaps_line(s, "SwapPss:", mss.swap_pss >> PSS_SHIFT);
	smaps_line(s, "Locked:", mss.pss_locked >> PSS_SHIFT);
	seq_printf(s, "THPeligible:    %8u\n", 0u);
	seq_puts(s, "VmFlags: ");
	for (unsigned int bit = 0; bit < 32; bit++)
		if ((vma->vm_flags & (1UL << bit)) && vm_flag_names[bit][0])
			seq_printf(s, "%s ", vm_flag_names[bit]);
	seq_puts(s, "\n");
}

void smaps_show(struct seq_buf *s, long pid)
{
	struct mm *mm = task_get_mm(task_find((int)pid));
	struct vm_area *vma;

	if (!mm)
		return;
	read_lock(&mm->mmap_lock);
	list_for_each_entry(vma, &mm->mmap, vm_list)
		show_smap(s, mm, vma);
	read_unlock(&mm->mmap_lock);
	mmput(mm);
}

/* ---- status ---- */

struct count_threads {
	struct mm *mm;
	unsigned int n;
};

static void count_thread(struct task *t, void *arg)
{
	struct count_threads *c = arg;

	if (t->state == TASK_RUNNING && t->mm == c->mm)
		c->n++;
}

static void status_kb(struct seq_buf *s, const char *name, unsigned long pages)
{
	seq_printf(s, "%s:\t%8lu kB\n", name, pages << (PAGE_SHIFT - 10));
}

/* Linux's task_mem: the Vm* and Rss* lines. */
static void task_mem(struct seq_buf *s, struct mm *mm)
{
	unsigned long anon = (unsigned long)get_mm_counter(mm, MM_ANONPAGES);
	unsigned long file = (unsigned long)get_mm_counter(mm, MM_FILEPAGES);
	unsigned long shmem = (unsigned long)get_mm_counter(mm, MM_SHMEMPAGES);
	unsigned long swap = (unsigned long)get_mm_counter(mm, MM_SWAPENTS);
	unsigned long total_rss = anon + file + shmem;
	unsigned long hiwater_vm, hiwater_rss, text, lib;

	read_lock(&mm->mmap_lock);
	hiwater_vm = mm->hiwater_vm > mm->total_vm ? mm->hiwater_vm : mm->total_vm;
	hiwater_rss = mm->hiwater_rss > total_rss ? mm->hiwater_rss : total_rss;
	/* Text is the code segment; what else is executable counts as libraries. */
	text = ((mm->end_code + PAGE_SIZE - 1) & PAGE_MASK) - (mm->start_code & PAGE_MASK);
	text >>= PAGE_SHIFT;
	if (text > mm->exec_vm)
		text = mm->exec_vm;
	lib = mm->exec_vm - text;
	status_kb(s, "VmPeak", hiwater_vm);
	status_kb(s, "VmSize", mm->total_vm);
	status_kb(s, "VmLck", mm->locked_vm);
	status_kb(s, "VmPin", 0);
	status_kb(s, "VmHWM", hiwater_rss);
	status_kb(s, "VmRSS", total_rss);
	status_kb(s, "RssAnon", anon);
	status_kb(s, "RssFile", file);
	status_kb(s, "RssShmem", shmem);
	status_kb(s, "VmData", mm->data_vm);
	status_kb(s, "VmStk", mm->stack_vm);
	status_kb(s, "VmExe", text);
	status_kb(s, "VmLib", lib);
	read_unlock(&mm->mmap_lock);
	seq_printf(s, "VmPTE:\t%8lu kB\n",
		   (unsigned long)atomic_load_explicit(&mm->pgtables_bytes,
						       memory_order_relaxed) >> 10);
	status_kb(s, "VmSwap", swap);
}

void status_show(struct seq_buf *s, long pid)
{
	struct task *t = task_find((int)pid);
	struct count_threads threads = { NULL, 0 };
	struct mm *mm;

	if (!t)
		return;
	mm = task_get_mm(t);
	seq_printf(s, "Name:\t%s\n", t->comm);
	seq_printf(s, "State:\t%s\n", t->state == TASK_RUNNING ? "R (running)" : "Z (zombie)");
	seq_printf(s, "Tgid:\t%d\n", t->pid);
	seq_printf(s, "Pid:\t%d\n", t->pid);
	seq_printf(s, "PPid:\t%d\n", task_parent_pid(t));
	/* As Linux: a task without an address space (a zombie) has no Vm lines. */
	if (mm) {
		task_mem(s, mm);
		threads.mm = mm;
		task_for_each(count_thread, &threads);
		mmput(mm);
	}
	seq_printf(s, "Threads:\t%u\n", threads.n ? threads.n : 1);
}
