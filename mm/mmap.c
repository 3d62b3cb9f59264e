/*
 * The memory system calls (ULK3 ch. 9, "Creating and Deleting a Memory
 * Region", "The brk System Call"): mmap, munmap, mprotect, mremap, brk,
 * madvise, stack growth and the teardown of a whole address space.
 *
 * Each call checks its arguments in the order Linux checks them, so the
 * same bad call fails with the same errno (a differential test runs the
 * same sequences against the host kernel). Every change of the area set is
 * split -> change -> merge: the affected range is cut out of its areas
 * (split_vma), changed, and then merged back with compatible neighbours,
 * which leaves the same areas Linux leaves (/proc/PID/maps agrees).
 *
 * Page tables are the business of mm/memory.c: unmapping zaps the entries
 * (zap_page_range, which flushes the TLB before pages are freed) and then
 * frees the table frames the removed range alone used (free_pgtables, with
 * the neighbouring areas as floor and ceiling).
 *
 * Overcommit follows Linux's default heuristic mode: a private writable
 * mapping (charged: VM_ACCOUNT) or a shared anonymous one fails with ENOMEM
 * only when it alone is larger than all of RAM; MAP_NORESERVE skips the
 * check.
 *
 * File mappings: the area holds a reference on the open file (vm_file)
 * and its offset in pages (vm_pgoff); mm/vma.c keeps it on the file's
 * i_mmap list. The file's access mode bounds the protections, as in
 * Linux: every mapping needs a readable file; MAP_SHARED with PROT_WRITE
 * needs a writable one, and a shared mapping of a read-only file loses
 * VM_MAYWRITE and VM_SHARED (mprotect can never make it writable; it
 * still shows as "s" through VM_MAYSHARE). msync moves the Dirty bits of
 * the range's entries into the pages (set_page_dirty) and, for MS_SYNC,
 * writes them back and waits.
 *
 * Locking: every call takes t->mm->mmap_lock for writing (expand_stack's
 * caller holds it already).
 */
#include <kmm/errno.h>
#include <kmm/fs.h>
#include <kmm/mm.h>
#include <kmm/mman.h>
#include <kmm/page_alloc.h>
#include <kmm/printk.h>
#include <kmm/swap.h>

#include "vma_internal.h"

/* free_pgtables' ceiling for "no area above": the end of the user half. */
#define USER_PGTABLES_CEILING (1ULL << (VA_BITS - 1))

#define PROT_ALL (KMM_PROT_READ | KMM_PROT_WRITE | KMM_PROT_EXEC)
#define KMM_PROT_SEM 0x8

/* Linux's VM_DATA_DEFAULT_FLAGS on x86-64: the heap. */
#define VM_DATA_DEFAULT_FLAGS (VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC)

static struct mm *task_mm(struct task *t)
{
	if (!t || t->state != TASK_RUNNING)
		return NULL;
	return t->mm;
}

static unsigned long calc_vm_prot_bits(int prot)
{
	return (unsigned long)(prot & PROT_ALL);   /* the same bit values */
}

/* A private writable mapping is charged against overcommit (VM_ACCOUNT). */
static bool accountable(unsigned long vm_flags)
{
	return (vm_flags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) == VM_WRITE;
}

/* Linux's OVERCOMMIT_GUESS: only a request larger than RAM and swap together fails. */
static bool enough_memory(unsigned long pages)
{
	unsigned long swap_total, swap_free;

	si_swapinfo(&swap_total, &swap_free);
	return pages <= totalram_pages() + swap_total;
}

static bool vma_accessible(const struct vm_area *vma)
{
	return vma->vm_flags & VM_ACCESS_FLAGS;
}

/* The first area that intersects [start, end), or NULL. */
static struct vm_area *find_vma_intersection(struct mm *mm, uintptr_t start, uintptr_t end)
{
	struct vm_area *vma = find_vma(mm, start);

	return vma && vma->vm_start < end ? vma : NULL;
}

/* ---- Unmapping ---- */

/*
 * Removes [start, end) (page aligned) from mm: splits the areas at the
 * ends, zaps their pages, frees the page tables only they used, and frees
 * the areas. 0, or -KMM_ENOMEM when an area cannot be split (nothing is
 * unmapped then).
 */
static int do_munmap(struct mm *mm, uintptr_t start, uintptr_t end)
{
	struct vm_area *first, *last, *prev, *next, *vma, *tmp;
	int err;

	if (start >= end)
		return 0;
	first = find_vma_intersection(mm, start, end);
	if (!first)
		return 0;
	if (start > first->vm_start) {
		/*
		 * Two splits may be needed; like Linux, refuse only when the
		 * count is at the limit already, and let the splits go one
		 * above it for the moment the unmap lasts.
		 */
		if (end < first->vm_end && mm->map_count >= DEFAULT_MAX_MAP_COUNT)
			return -KMM_ENOMEM;
		err = __split_vma(mm, first, start, false);
		if (err)
			return err;
		first = vma_next(mm, first);
	}
	last = find_vma(mm, end - 1);
	if (last && last->vm_start < end && end < last->vm_end) {
		err = __split_vma(mm, last, end, false);
		if (err) {
			vma_merge_neighbours(mm, first);
			return err;
		}
	}
	/* Nothing straddles end now: the last area to go is the one below the first beyond. */
	next = find_vma(mm, end);
	last = vma_prev(mm, next);
	prev = vma_prev(mm, first);

	for (vma = first;; vma = vma_next(mm, vma)) {
		zap_page_range(vma, vma->vm_start, vma->vm_end);
		if (vma == last)
			break;
	}
	free_pgtables(mm, first->vm_start, last->vm_end, prev ? prev->vm_end : 0,
		      next ? next->vm_start : USER_PGTABLES_CEILING);
	for (vma = first; vma; vma = tmp) {
		tmp = vma == last ? NULL : vma_next(mm, vma);
		vma_unlink(mm, vma);
		vm_area_free(vma);
	}
	return 0;
}

long sys_munmap(struct task *t, uintptr_t addr, size_t len)
{
	struct mm *mm = task_mm(t);
	long err;

	if (!mm)
		return -KMM_ESRCH;
	if (!IS_ALIGNED(addr, PAGE_SIZE) || addr > TASK_SIZE || len > TASK_SIZE - addr)
		return -KMM_EINVAL;
	len = ALIGN_UP(len, PAGE_SIZE);
	if (!len)
		return -KMM_EINVAL;
	write_lock(&mm->mmap_lock);
	err = do_munmap(mm, addr, addr + len);
	write_unlock(&mm->mmap_lock);
	return err;
}

void exit_mmap(struct mm *mm)
{
	struct vm_area *vma, *tmp;
	uintptr_t start, end;

	write_lock(&mm->mmap_lock);
	if (!list_empty(&mm->mmap)) {
		start = vma_next(mm, NULL)->vm_start;
		end = vma_prev(mm, NULL)->vm_end;
		list_for_each_entry(vma, &mm->mmap, vm_list)
			zap_page_range(vma, vma->vm_start, vma->vm_end);
		free_pgtables(mm, start, end, 0, USER_PGTABLES_CEILING);
		list_for_each_entry_safe(vma, tmp, &mm->mmap, vm_list) {
			vma_unlink(mm, vma);
			vm_area_free(vma);
		}
	}
	write_unlock(&mm->mmap_lock);
}

/* ---- mmap ---- */

/*
 * Maps [addr, addr + len) with vm_flags, replacing whatever is there
 * (Linux's mmap_region). Returns addr or -errno.
 */
static long mmap_region(struct mm *mm, struct file *file, uintptr_t addr, size_t len,
			unsigned long vm_flags, unsigned long pgoff)
{
	unsigned long pages = len >> PAGE_SHIFT;
	struct vm_area *vma;
	int err;

	/* Refused before anything is unmapped: a failed MAP_FIXED leaves the old mapping. */
	if (accountable(vm_flags)) {
		if (!enough_memory(pages))
			return -KMM_ENOMEM;
		vm_flags |= VM_ACCOUNT;
	}
	if (!file && (vm_flags & VM_SHARED) && !(vm_flags & VM_NORESERVE) &&
	    !enough_memory(pages))
		return -KMM_ENOMEM;
	err = do_munmap(mm, addr, addr + len);
	if (err)
		return err;
	vma = vm_area_alloc(mm);
	if (!vma)
		return -KMM_ENOMEM;
	vma->vm_start = addr;
	vma->vm_end = addr + len;
	vma->vm_flags = vm_flags;
	vma->vm_pgoff = pgoff;
	if (file) {
		vma->vm_file = get_file(file);
	} else if (vm_flags & VM_SHARED) {
		vma->vm_shared = shared_anon_create(pages);
		if (!vma->vm_shared) {
			vm_area_free(vma);
			return -KMM_ENOMEM;
		}
	}
	err = vma_link(mm, vma);
	if (err) {
		vm_area_free(vma);
		return err;
	}
	vma_merge_neighbours(mm, vma);
	return (long)addr;
}

long do_mmap(struct mm *mm, struct file *file, uintptr_t addr, size_t len, int prot,
	     int flags, unsigned long pgoff)
{
	unsigned long vm_flags;
	long ret;

	if (!len)
		return -KMM_EINVAL;
	/* Linux makes NOREPLACE fixed first: its address is never rounded like a hint. */
	if (flags & KMM_MAP_FIXED_NOREPLACE)
		flags |= KMM_MAP_FIXED;
	if (!(flags & KMM_MAP_FIXED)) {
		/* round_hint_to_min: a hint below the floor becomes the floor. */
		addr &= PAGE_MASK;
		if (addr && addr < MMAP_MIN_ADDR)
			addr = MMAP_MIN_ADDR;
	}
	if (len > SIZE_MAX - PAGE_SIZE + 1)
		return -KMM_ENOMEM;
	len = ALIGN_UP(len, PAGE_SIZE);
	if (pgoff + (len >> PAGE_SHIFT) < pgoff)
		return -KMM_EOVERFLOW;

	write_lock(&mm->mmap_lock);
	ret = -KMM_ENOMEM;
	if (mm->map_count > DEFAULT_MAX_MAP_COUNT)
		goto out;
	ret = get_unmapped_area(mm, addr, len, (unsigned long)flags);
	if (ret < 0)
		goto out;
	if ((flags & KMM_MAP_FIXED) && (uintptr_t)ret < MMAP_MIN_ADDR) {
		ret = -KMM_EPERM;   /* mmap_min_addr, for a task without CAP_SYS_RAWIO */
		goto out;
	}
	addr = (uintptr_t)ret;
	if ((flags & KMM_MAP_FIXED_NOREPLACE) && find_vma_intersection(mm, addr, addr + len)) {
		ret = -KMM_EEXIST;
		goto out;
	}
	vm_flags = calc_vm_prot_bits(prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
	if (flags & KMM_MAP_GROWSDOWN)
		vm_flags |= VM_GROWSDOWN;
	if (file) {
		int acc = file->f_flags & KMM_O_ACCMODE;

		ret = -KMM_EACCES;
		/* Linux's do_mmap: the checks of a file mapping's access. */
		switch (flags & KMM_MAP_TYPE) {
		case KMM_MAP_SHARED:
			if ((prot & KMM_PROT_WRITE) && acc != KMM_O_RDWR)
				goto out;
			vm_flags |= VM_SHARED | VM_MAYSHARE;
			if (acc != KMM_O_RDWR)
				vm_flags &= ~(VM_MAYWRITE | VM_SHARED);
			/* fall through */
		case KMM_MAP_PRIVATE:
			if (acc == KMM_O_WRONLY)
				goto out;
			ret = -KMM_EINVAL;
			if (vm_flags & VM_GROWSDOWN)
				goto out;
			break;
		default:
			ret = -KMM_EINVAL;
			goto out;
		}
	} else {
		switch (flags & KMM_MAP_TYPE) {
		case KMM_MAP_SHARED:
			ret = -KMM_EINVAL;
			if (vm_flags & VM_GROWSDOWN)
				goto out;
			pgoff = 0;
			vm_flags |= VM_SHARED | VM_MAYSHARE;
			break;
		case KMM_MAP_PRIVATE:
			pgoff = addr >> PAGE_SHIFT;
			break;
		default:
			ret = -KMM_EINVAL;
			goto out;
		}
	}
	if (flags & KMM_MAP_NORESERVE)
		vm_flags |= VM_NORESERVE;
	ret = mmap_region(mm, file, addr, len, vm_flags, pgoff);
	/* MAP_POPULATE faults the range in; like Linux, a failure there is not mmap's. */
	if (ret >= 0 && (flags & KMM_MAP_POPULATE)) {
		struct vm_area *vma = vma_lookup(mm, addr);

		if (vma && vma_accessible(vma))
			(void)populate_range(vma, addr, addr + len);
	}
out:
	write_unlock(&mm->mmap_lock);
	return ret;
}

long sys_mmap(struct task *t, uintptr_t addr, size_t len, int prot, int flags,
	      int fd, long off)
{
	struct mm *mm = task_mm(t);
	struct file *file = NULL;
	long ret;

	if (!mm)
		return -KMM_ESRCH;
	if (off & ~PAGE_MASK)
		return -KMM_EINVAL;
	if (!(flags & KMM_MAP_ANONYMOUS)) {
		file = fget(t, fd);
		if (!file)
			return -KMM_EBADF;
	}
	ret = do_mmap(mm, file, addr, len, prot, flags, (unsigned long)off >> PAGE_SHIFT);
	if (file)
		fput(file);
	return ret;
}

/* ---- Changing flags over a range: mprotect and madvise ---- */

/*
 * Gives [start, end) of vma (inside it) the flags newflags: split off the
 * range, change it, merge it back with its neighbours where they now
 * match. protection says whether the page tables must follow.
 */
static int vma_modify_flags(struct mm *mm, struct vm_area *vma, uintptr_t start,
			    uintptr_t end, unsigned long newflags, bool protection)
{
	int err;

	if (newflags == vma->vm_flags)
		return 0;
	if (start > vma->vm_start) {
		err = split_vma(mm, vma, start, false);
		if (err)
			return err;
		vma = vma_next(mm, vma);
	}
	if (end < vma->vm_end) {
		err = split_vma(mm, vma, end, false);
		if (err)
			return err;
	}
	vma_set_flags(mm, vma, newflags);
	if (protection)
		change_protection(vma, start, end);
	vma_merge_neighbours(mm, vma);
	return 0;
}

long sys_mprotect(struct task *t, uintptr_t start, size_t len, int prot)
{
	struct mm *mm = task_mm(t);

	if (!mm)
		return -KMM_ESRCH;
	return do_mprotect(mm, start, len, prot);
}

long do_mprotect(struct mm *mm, uintptr_t start, size_t len, int prot)
{
	const int grows = prot & KMM_PROT_GROWSDOWN;
	struct vm_area *vma;
	uintptr_t end, nstart;
	long err;

	prot &= ~KMM_PROT_GROWSDOWN;
	if (!IS_ALIGNED(start, PAGE_SIZE))
		return -KMM_EINVAL;
	if (!len)
		return 0;
	len = ALIGN_UP(len, PAGE_SIZE);
	end = start + len;
	if (end <= start)
		return -KMM_ENOMEM;
	if (prot & ~(PROT_ALL | KMM_PROT_SEM))
		return -KMM_EINVAL;

	write_lock(&mm->mmap_lock);
	err = -KMM_ENOMEM;
	vma = find_vma(mm, start);
	if (!vma)
		goto out;
	if (grows) {
		if (vma->vm_start >= end)
			goto out;
		start = vma->vm_start;
		err = -KMM_EINVAL;
		if (!(vma->vm_flags & VM_GROWSDOWN))
			goto out;
	} else if (vma->vm_start > start) {
		goto out;
	}
	for (nstart = start;;) {
		unsigned long newflags = calc_vm_prot_bits(prot) |
					 (vma->vm_flags & ~VM_ACCESS_FLAGS);
		uintptr_t tmp = MIN(vma->vm_end, end);

		/* Each access bit needs its VM_MAY* bit, four places up. */
		if ((newflags & ~(newflags >> 4)) & VM_ACCESS_FLAGS) {
			err = -KMM_EACCES;
			break;
		}
		/* Made writable for the first time: charge it, as mmap would have. */
		if ((newflags & VM_WRITE) &&
		    !(vma->vm_flags & (VM_ACCOUNT | VM_WRITE | VM_SHARED | VM_NORESERVE))) {
			if (!enough_memory((tmp - nstart) >> PAGE_SHIFT)) {
				err = -KMM_ENOMEM;
				break;
			}
			newflags |= VM_ACCOUNT;
		} else if (!(newflags & VM_WRITE) && (vma->vm_flags & VM_ACCOUNT) &&
			   !vma->anon_vma && !vma->vm_file && !vma->vm_shared) {
			/*
			 * Made read-only before any page was written: nothing to
			 * keep the charge for (Linux 6.2 and later drop it too,
			 * which decides what merges afterwards).
			 */
			newflags &= ~VM_ACCOUNT;
		}
		err = vma_modify_flags(mm, vma, nstart, tmp, newflags, true);
		if (err)
			break;
		nstart = tmp;
		if (nstart >= end)
			break;
		/* The area just changed may have merged with this one: it then starts below. */
		vma = find_vma(mm, nstart);
		if (!vma || vma->vm_start > nstart) {
			err = -KMM_ENOMEM;
			break;
		}
	}
out:
	write_unlock(&mm->mmap_lock);
	return err;
}

long sys_madvise(struct task *t, uintptr_t start, size_t len_in, int advice)
{
	struct mm *mm = task_mm(t);
	struct vm_area *vma;
	uintptr_t end, nstart;
	size_t len;
	long err = 0;

	if (!mm)
		return -KMM_ESRCH;
	switch (advice) {
	case KMM_MADV_NORMAL:
	case KMM_MADV_RANDOM:
	case KMM_MADV_SEQUENTIAL:
	case KMM_MADV_WILLNEED:
	case KMM_MADV_DONTNEED:
		break;
	default:
		return -KMM_EINVAL;
	}
	if (!IS_ALIGNED(start, PAGE_SIZE))
		return -KMM_EINVAL;
	len = ALIGN_UP(len_in, PAGE_SIZE);
	if (len_in && !len)
		return -KMM_EINVAL;
	end = start + len;
	if (end < start)
		return -KMM_EINVAL;
	if (end == start)
		return 0;

	write_lock(&mm->mmap_lock);
	/*
	 * Like Linux: the advice applies to every mapped part of the range,
	 * and a hole anywhere makes the call return ENOMEM at the end.
	 */
	for (nstart = start; nstart < end;) {
		uintptr_t tmp;
		unsigned long newflags;
		int e = 0;

		vma = find_vma(mm, nstart);
		if (!vma || vma->vm_start >= end) {
			err = -KMM_ENOMEM;
			break;
		}
		if (vma->vm_start > nstart) {
			err = -KMM_ENOMEM;
			nstart = vma->vm_start;
		}
		tmp = MIN(vma->vm_end, end);
		switch (advice) {
		case KMM_MADV_DONTNEED:
			if (vma->vm_flags & VM_LOCKED)
				e = -KMM_EINVAL;
			else
				zap_page_range(vma, nstart, tmp);
			break;
		case KMM_MADV_WILLNEED:
			break;   /* anonymous memory: nothing to read ahead */
		default:
			newflags = vma->vm_flags & ~(VM_RAND_READ | VM_SEQ_READ);
			if (advice == KMM_MADV_RANDOM)
				newflags |= VM_RAND_READ;
			else if (advice == KMM_MADV_SEQUENTIAL)
				newflags |= VM_SEQ_READ;
			e = vma_modify_flags(mm, vma, nstart, tmp, newflags, false);
			break;
		}
		if (e) {
			err = e;
			break;
		}
		nstart = tmp;
	}
	write_unlock(&mm->mmap_lock);
	return err;
}

/* ---- msync ---- */

/* Writes [fstart, fend] (bytes) of a shared mapping's file back and waits: vfs_fsync_range. */
static int msync_file_range(struct file *file, loff_t fstart, loff_t fend)
{
	int err = filemap_write_and_wait_range(file->f_mapping, (pgoff_t)fstart >> PAGE_SHIFT,
					       (pgoff_t)fend >> PAGE_SHIFT);
	int err2 = file_check_and_advance_wb_err(file);

	return err ? err : err2;
}

/*
 * Linux's msync: the flags are checked first; a hole in the range makes
 * the call fail with ENOMEM (at once for MS_SYNC alone, at the end
 * otherwise). Every call collects the Dirty bits of the shared file
 * areas it covers, so the flusher (MS_ASYNC) or the write below (MS_SYNC)
 * sees the stores; mmap_lock is dropped around the write, as in Linux.
 */
long sys_msync(struct task *t, uintptr_t start, size_t len, int flags)
{
	struct mm *mm = task_mm(t);
	long error, unmapped_error = 0;
	struct vm_area *vma;
	uintptr_t end;

	if (!mm)
		return -KMM_ESRCH;
	if (flags & ~(KMM_MS_ASYNC | KMM_MS_INVALIDATE | KMM_MS_SYNC))
		return -KMM_EINVAL;
	if (!IS_ALIGNED(start, PAGE_SIZE))
		return -KMM_EINVAL;
	if ((flags & KMM_MS_ASYNC) && (flags & KMM_MS_SYNC))
		return -KMM_EINVAL;
	error = -KMM_ENOMEM;
	len = (len + PAGE_SIZE - 1) & PAGE_MASK;
	end = start + len;
	if (end < start)
		return -KMM_ENOMEM;
	if (end == start)
		return 0;
	read_lock(&mm->mmap_lock);
	vma = find_vma(mm, start);
	for (;;) {
		struct file *file;
		loff_t fstart, fend;
		uintptr_t stop;

		error = -KMM_ENOMEM;
		if (!vma)
			goto out_unlock;
		if (start < vma->vm_start) {
			if (flags == KMM_MS_SYNC)
				goto out_unlock;
			start = vma->vm_start;
			if (start >= end)
				goto out_unlock;
			unmapped_error = -KMM_ENOMEM;
		}
		if ((flags & KMM_MS_INVALIDATE) && (vma->vm_flags & VM_LOCKED)) {
			error = -KMM_EBUSY;
			goto out_unlock;
		}
		file = vma->vm_file;
		stop = MIN(end, vma->vm_end);
		fstart = (loff_t)(start - vma->vm_start) + ((loff_t)vma->vm_pgoff << PAGE_SHIFT);
		fend = fstart + (loff_t)(stop - start) - 1;
		if (file && (vma->vm_flags & VM_SHARED))
			vma_collect_dirty(vma, start, stop);
		start = vma->vm_end;
		if ((flags & KMM_MS_SYNC) && file && (vma->vm_flags & VM_SHARED)) {
			get_file(file);
			read_unlock(&mm->mmap_lock);
			error = msync_file_range(file, fstart, fend);
			fput(file);
			if (error || start >= end)
				goto out;
			read_lock(&mm->mmap_lock);
			vma = find_vma(mm, start);
		} else {
			if (start >= end) {
				error = 0;
				goto out_unlock;
			}
			vma = find_vma(mm, vma->vm_end);
		}
	}
out_unlock:
	read_unlock(&mm->mmap_lock);
out:
	return error ? error : unmapped_error;
}

/* ---- brk ---- */

/* Grows the heap from oldbrk to newbrk: extends the area just below, or makes one. */
static int do_brk(struct mm *mm, uintptr_t oldbrk, uintptr_t newbrk)
{
	unsigned long vm_flags = VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT;
	struct vm_area *prev = vma_prev(mm, find_vma(mm, oldbrk)), *vma;
	unsigned long pages = (newbrk - oldbrk) >> PAGE_SHIFT;

	if (mm->map_count > DEFAULT_MAX_MAP_COUNT || !enough_memory(pages))
		return -KMM_ENOMEM;
	/* Linux's do_brk_flags extends the area below only if it could merge with the growth. */
	if (prev && prev->vm_end == oldbrk && prev->vm_end > mm->start_brk &&
	    prev->vm_flags == vm_flags && !prev->vm_shared && !prev->vm_file &&
	    !(prev->anon_vma && prev->anon_fork_id) &&
	    prev->vm_pgoff + ((prev->vm_end - prev->vm_start) >> PAGE_SHIFT) ==
		    oldbrk >> PAGE_SHIFT) {
		vma_set_range(mm, prev, prev->vm_start, newbrk);
		return 0;
	}
	vma = vm_area_alloc(mm);
	if (!vma)
		return -KMM_ENOMEM;
	vma->vm_start = oldbrk;
	vma->vm_end = newbrk;
	vma->vm_flags = vm_flags;
	vma->vm_pgoff = oldbrk >> PAGE_SHIFT;
	if (vma_link(mm, vma)) {
		vm_area_free(vma);
		return -KMM_ENOMEM;
	}
	return 0;
}

long sys_brk(struct task *t, uintptr_t brk)
{
	struct mm *mm = task_mm(t);
	uintptr_t newbrk, oldbrk, origbrk;
	struct vm_area *next;

	if (!mm)
		return -KMM_ESRCH;
	write_lock(&mm->mmap_lock);
	origbrk = mm->brk;
	if (brk < mm->start_brk || brk > TASK_SIZE)
		goto out;
	newbrk = ALIGN_UP(brk, PAGE_SIZE);
	oldbrk = ALIGN_UP(mm->brk, PAGE_SIZE);
	if (oldbrk == newbrk) {
		mm->brk = brk;
		goto out;
	}
	if (brk <= mm->brk) {
		/*
		 * Shrinking: unmap what the heap no longer covers. As in Linux,
		 * it fails when nothing is mapped there any more (the heap
		 * was unmapped under brk's feet).
		 */
		if (!find_vma_intersection(mm, newbrk, oldbrk))
			goto out;
		mm->brk = brk;
		if (do_munmap(mm, newbrk, oldbrk))
			mm->brk = origbrk;
		goto out;
	}
	/* Growing: keep a page between the heap and the next area (and its guard gap). */
	next = find_vma(mm, oldbrk);
	if (next && newbrk + PAGE_SIZE > (next->vm_flags & VM_GROWSDOWN ?
					  next->vm_start - MIN(next->vm_start, STACK_GUARD_GAP) :
					  next->vm_start))
		goto out;
	if (do_brk(mm, oldbrk, newbrk) == 0)
		mm->brk = brk;
out:
	brk = mm->brk;
	write_unlock(&mm->mmap_lock);
	return (long)brk;
}

/* ---- Stack growth ---- */

int expand_stack(struct mm *mm, struct vm_area *vma, uintptr_t addr)
{
	struct vm_area *prev;
	unsigned long grow;
	size_t size;

	if (!(vma->vm_flags & VM_GROWSDOWN))
		return -KMM_EFAULT;
	addr &= PAGE_MASK;
	if (addr < MMAP_MIN_ADDR)
		return -KMM_EPERM;
	if (addr >= vma->vm_start)
		return 0;
	/* Keep the guard gap free of anything one could write through. */
	prev = vma_prev(mm, vma);
	if (prev && !(prev->vm_flags & VM_GROWSDOWN) && vma_accessible(prev) &&
	    (addr < prev->vm_end || addr - prev->vm_end < STACK_GUARD_GAP))
		return -KMM_ENOMEM;
	size = vma->vm_end - addr;
	grow = (vma->vm_start - addr) >> PAGE_SHIFT;
	if (size > mm->stack_limit)
		return -KMM_ENOMEM;
	if ((vma->vm_flags & VM_ACCOUNT) && !enough_memory(grow))
		return -KMM_ENOMEM;
	vma_set_range(mm, vma, addr, vma->vm_end);
	return 0;
}

/* ---- mremap ---- */

/*
 * Moves [old_addr, old_addr + old_len) of vma to new_addr, new_len long
 * (new_len >= old_len; the caller has unmapped the destination): a new
 * area takes the pages' offsets with it, the page tables move, the old
 * range is unmapped. Returns new_addr or -errno.
 */
static long move_vma(struct mm *mm, struct vm_area *vma, uintptr_t old_addr,
		     size_t old_len, size_t new_len, uintptr_t new_addr)
{
	struct vm_area *new;
	int err;

	if (mm->map_count >= DEFAULT_MAX_MAP_COUNT - 3)
		return -KMM_ENOMEM;
	if ((vma->vm_flags & VM_ACCOUNT) && new_len > old_len &&
	    !enough_memory((new_len - old_len) >> PAGE_SHIFT))
		return -KMM_ENOMEM;
	new = vm_area_dup(vma);
	if (!new)
		return -KMM_ENOMEM;
	/* Already on the anon_vma's list, where reclaim may read it. */
	vma_rmap_lock(new);
	new->vm_start = new_addr;
	new->vm_end = new_addr + new_len;
	new->vm_pgoff = vma->vm_pgoff + ((old_addr - vma->vm_start) >> PAGE_SHIFT);
	/*
	 * A private anonymous area never faulted has no page whose offset
	 * matters: like Linux's copy_vma, give it the offset of its new place,
	 * so it can merge with its new neighbours.
	 */
	if (!vma->anon_vma && !vma->vm_file && !vma->vm_shared)
		new->vm_pgoff = new_addr >> PAGE_SHIFT;
	vma_rmap_unlock(new);
	err = vma_link(mm, new);
	if (err) {
		vm_area_free(new);
		return err;
	}
	err = move_page_tables(vma, old_addr, new, new_addr, old_len);
	if (err) {
		/* move_page_tables has put back what it moved: drop the new area and its tables. */
		struct vm_area *prev = vma_prev(mm, new), *next = vma_next(mm, new);

		vma_unlink(mm, new);
		free_pgtables(mm, new_addr, new_addr + new_len, prev ? prev->vm_end : 0,
			      next ? next->vm_start : USER_PGTABLES_CEILING);
		vm_area_free(new);
		return err;
	}
	/*
	 * Out of memory for a split here leaves the old range mapped but
	 * empty (its pages have moved), as Linux does: the move itself stands.
	 */
	(void)do_munmap(mm, old_addr, old_addr + old_len);
	/* Linux's copy_vma merges the destination as a new range. */
	__vma_merge_neighbours(mm, new, true, true);
	return (long)new_addr;
}

/*
 * The area holding [addr, addr + old_len), checked for growing to new_len
 * (Linux's vma_to_resize).
 */
static struct vm_area *vma_to_resize(struct mm *mm, uintptr_t addr, size_t old_len,
				     size_t new_len, long *err)
{
	struct vm_area *vma = vma_lookup(mm, addr);
	unsigned long pgoff;

	*err = -KMM_EFAULT;
	if (!vma)
		return NULL;
	if (old_len > vma->vm_end - addr)
		return NULL;
	*err = -KMM_EINVAL;
	if (!old_len && !(vma->vm_flags & (VM_SHARED | VM_MAYSHARE)))
		return NULL;
	if (new_len == old_len)
		return vma;
	pgoff = ((addr - vma->vm_start) >> PAGE_SHIFT) + vma->vm_pgoff;
	if (pgoff + (new_len >> PAGE_SHIFT) < pgoff)
		return NULL;
	return vma;
}

static long mremap_to(struct mm *mm, uintptr_t addr, size_t old_len, uintptr_t new_addr,
		      size_t new_len)
{
	struct vm_area *vma;
	long ret;

	if (!IS_ALIGNED(new_addr, PAGE_SIZE))
		return -KMM_EINVAL;
	if (new_len > TASK_SIZE || new_addr > TASK_SIZE - new_len)
		return -KMM_EINVAL;
	/* The two ranges must not overlap. */
	if (addr + old_len > new_addr && new_addr + new_len > addr)
		return -KMM_EINVAL;
	ret = do_munmap(mm, new_addr, new_addr + new_len);
	if (ret)
		return ret;
	if (old_len > new_len) {
		ret = do_munmap(mm, addr + new_len, addr + old_len);
		if (ret)
			return ret;
		old_len = new_len;
	}
	vma = vma_to_resize(mm, addr, old_len, new_len, &ret);
	if (!vma)
		return ret;
	if (new_addr < MMAP_MIN_ADDR)
		return -KMM_EPERM;   /* get_unmapped_area's mmap_min_addr check */
	return move_vma(mm, vma, addr, old_len, new_len, new_addr);
}

/* Whether vma can grow in place by delta bytes. */
static bool vma_expandable(struct mm *mm, struct vm_area *vma, size_t delta)
{
	uintptr_t end = vma->vm_end + delta;

	if (end < vma->vm_end || end > TASK_SIZE)
		return false;
	return !find_vma_intersection(mm, vma->vm_end, end);
}

long sys_mremap(struct task *t, uintptr_t addr, size_t old_len, size_t new_len,
		int flags, uintptr_t new_addr)
{
	struct mm *mm = task_mm(t);
	struct vm_area *vma;
	long ret;

	if (!mm)
		return -KMM_ESRCH;
	if (flags & ~(KMM_MREMAP_FIXED | KMM_MREMAP_MAYMOVE))
		return -KMM_EINVAL;
	if ((flags & KMM_MREMAP_FIXED) && !(flags & KMM_MREMAP_MAYMOVE))
		return -KMM_EINVAL;
	if (!IS_ALIGNED(addr, PAGE_SIZE))
		return -KMM_EINVAL;
	if (old_len > SIZE_MAX - PAGE_SIZE + 1 || new_len > SIZE_MAX - PAGE_SIZE + 1)
		return -KMM_EINVAL;
	old_len = ALIGN_UP(old_len, PAGE_SIZE);
	new_len = ALIGN_UP(new_len, PAGE_SIZE);
	if (!new_len)
		return -KMM_EINVAL;

	write_lock(&mm->mmap_lock);
	if (flags & KMM_MREMAP_FIXED) {
		ret = mremap_to(mm, addr, old_len, new_addr, new_len);
		goto out;
	}
	/* Shrinking (or no change) never moves: unmap the tail. */
	if (old_len >= new_len) {
		ret = old_len > new_len ? do_munmap(mm, addr + new_len, addr + old_len) : 0;
		if (!ret)
			ret = (long)addr;
		goto out;
	}
	vma = vma_to_resize(mm, addr, old_len, new_len, &ret);
	if (!vma)
		goto out;
	/* The range ends where the area ends: try to grow in place. */
	if (old_len == vma->vm_end - addr && vma_expandable(mm, vma, new_len - old_len)) {
		unsigned long pages = (new_len - old_len) >> PAGE_SHIFT;

		ret = -KMM_ENOMEM;
		if ((vma->vm_flags & VM_ACCOUNT) && !enough_memory(pages))
			goto out;
		vma_set_range(mm, vma, vma->vm_start, vma->vm_end + (new_len - old_len));
		/* Linux merges the growth as a new range after vma: only with the next area. */
		__vma_merge_neighbours(mm, vma, true, false);
		ret = (long)addr;
		goto out;
	}
	ret = -KMM_ENOMEM;
	if (flags & KMM_MREMAP_MAYMOVE) {
		unsigned long map_flags = vma->vm_flags & VM_MAYSHARE ? KMM_MAP_SHARED : 0;

		ret = get_unmapped_area(mm, 0, new_len, map_flags);
		if (ret >= 0)
			ret = move_vma(mm, vma, addr, old_len, new_len, (uintptr_t)ret);
	}
out:
	write_unlock(&mm->mmap_lock);
	return ret;
}
