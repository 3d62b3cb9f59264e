/*
 * exec without a loader (ULK3 ch. 20 "Program Execution", the part that
 * builds the new address space): the old mm is dropped and a fresh one
 * takes its place, laid out as x86-64 Linux lays out a process without
 * address-space randomization:
 *
 *   STACK_TOP (0x7ffffffff000)  the stack area, VM_GROWSDOWN, 128 KiB to
 *                               begin with, growing on faults up to
 *                               stack_limit (RLIMIT_STACK, 8 MiB)
 *   mmap_base (0x7ffff7fff000)  top-down mmap allocations start below here:
 *                               STACK_TOP less the stack limit and its
 *                               guard gap, but at least 128 MiB (Linux's
 *                               mmap_base())
 *   start_brk (0x555555554000)  the heap, empty until brk grows it (where
 *                               a PIE binary would be loaded; the ELF loader
 *                               of the page-cache issue moves it above the
 *                               image)
 */
#include <kmm/errno.h>
#include <kmm/mm.h>

#include "vma_internal.h"

#define INITIAL_STACK_SIZE (128UL << 10)
#define ELF_ET_DYN_BASE 0x555555554000UL
#define MMAP_MIN_GAP (128UL << 20)
#define MMAP_MAX_GAP ((TASK_SIZE / 6) * 5)

/* Linux's VM_STACK_DEFAULT_FLAGS on x86-64 (a non-executable stack). */
#define VM_STACK_DEFAULT_FLAGS \
	(VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_GROWSDOWN | VM_ACCOUNT)

static uintptr_t mmap_base_for(uintptr_t stack_limit)
{
	uintptr_t gap = stack_limit + STACK_GUARD_GAP;

	gap = CLAMP(gap, MMAP_MIN_GAP, MMAP_MAX_GAP);
	return ALIGN_UP(STACK_TOP - gap, PAGE_SIZE);
}

int setup_new_address_space(struct mm *mm)
{
	struct vm_area *stack = vm_area_alloc(mm);
	int err;

	if (!stack)
		return -KMM_ENOMEM;
	if (!mm->stack_limit)
		mm->stack_limit = DEFAULT_STACK_LIMIT;
	stack->vm_start = STACK_TOP - INITIAL_STACK_SIZE;
	stack->vm_end = STACK_TOP;
	stack->vm_flags = VM_STACK_DEFAULT_FLAGS;
	stack->vm_pgoff = stack->vm_start >> PAGE_SHIFT;
	write_lock(&mm->mmap_lock);
	err = vma_link(mm, stack);
	if (!err) {
		mm->start_stack = STACK_TOP;
		mm->mmap_base = mmap_base_for(mm->stack_limit);
		mm->start_brk = mm->brk = ELF_ET_DYN_BASE;
		mm->start_code = mm->end_code = ELF_ET_DYN_BASE;
		mm->start_data = mm->end_data = ELF_ET_DYN_BASE;
	}
	write_unlock(&mm->mmap_lock);
	if (err)
		vm_area_free(stack);
	return err;
}

int task_exec(struct task *t)
{
	struct mm *mm, *old;
	int err;

	if (!t || t->state != TASK_RUNNING || !t->mm)
		return -KMM_ESRCH;
	mm = mm_alloc();
	if (!mm)
		return -KMM_ENOMEM;
	/* The stack limit is the task's (RLIMIT_STACK survives exec). */
	old = t->mm;
	mm->stack_limit = old->stack_limit;
	err = setup_new_address_space(mm);
	if (err) {
		mmput(mm);
		return err;
	}
	__atomic_store_n(&t->mm, mm, __ATOMIC_RELEASE);
	mmput(old);
	return 0;
}
