/*
 * The memory system calls (mm/mmap.c) and exec's layout (mm/exec.c): every
 * call's edge cases and errno values as Linux gives them, the areas each
 * call leaves (splits, merges, the counters), brk's "a failed request
 * returns the current break", stack growth and its limits. Each test ends
 * by exiting its tasks and checking that every frame came back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmm/emu.h>
#include <kmm/errno.h>
#include <kmm/mm.h>
#include <kmm/mman.h>
#include <kmm/page_alloc.h>
#include <kmm/shrinker.h>
#include <kmm/slab.h>

#include "helpers.h"
#include "area_test.h"

#define MACHINE (64 * MiB)
#define PG PAGE_SIZE
#define MMAP_BASE 0x7ffff7fff000UL
#define HEAP 0x555555554000UL

#define PROT_R KMM_PROT_READ
#define PROT_RW (KMM_PROT_READ | KMM_PROT_WRITE)
#define ANON (KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS)
#define SHANON (KMM_MAP_SHARED | KMM_MAP_ANONYMOUS)

static unsigned long free_at_boot;

static struct task *boot_and_spawn(void)
{
	struct task *t;

	th_boot(MACHINE, 1, EMU_DET);
	free_at_boot = at_settled_free();
	assert_int_equal(task_spawn("test", &t), 0);
	return t;
}

/* Exits every task; every frame must be back. */
static void reap_all(void)
{
	at_reap_all();
	assert_int_equal(at_settled_free(), free_at_boot);
	th_shutdown();
}

static long mmap_anon(struct task *t, uintptr_t addr, size_t len, int prot, int flags)
{
	return sys_mmap(t, addr, len, prot, flags | KMM_MAP_ANONYMOUS, -1, 0);
}

static int nareas(struct task *t)
{
	vma_check(t->mm);
	return (int)t->mm->map_count;
}

/* The area containing addr must be exactly [start, end) with the access bits prot. */
static void expect_area(struct task *t, uintptr_t start, uintptr_t end, int prot)
{
	struct vm_area *vma = vma_lookup(t->mm, start);

	if (!vma)
		fail_msg("no area at %#lx", start);
	if (vma->vm_start != start || vma->vm_end != end ||
	    (vma->vm_flags & VM_ACCESS_FLAGS) != (unsigned long)prot)
		fail_msg("area at %#lx is %#lx-%#lx flags %#lx, expected %#lx-%#lx prot %d",
			 start, vma->vm_start, vma->vm_end, vma->vm_flags, start, end, prot);
}

/* ---- exec's layout ---- */

static void test_fresh_layout(void **state)
{
	struct task *t = boot_and_spawn();
	struct mm *mm = t->mm;
	struct vm_area *stack;

	assert_int_equal(t->pid, 1);
	assert_int_equal(nareas(t), 1);
	stack = vma_lookup(mm, STACK_TOP - PG);
	assert_non_null(stack);
	assert_int_equal(stack->vm_start, STACK_TOP - 128 * KiB);
	assert_int_equal(stack->vm_end, STACK_TOP);
	assert_true(stack->vm_flags & VM_GROWSDOWN);
	assert_int_equal(mm->mmap_base, MMAP_BASE);
	assert_int_equal(mm->start_brk, HEAP);
	assert_int_equal(mm->brk, HEAP);
	assert_int_equal(mm->stack_limit, 8 * MiB);
	assert_int_equal(mm->total_vm, 32);
	assert_int_equal(mm->stack_vm, 32);
	assert_int_equal(mm->data_vm, 0);

	/* exec replaces everything with the same fresh layout. */
	assert_int_equal(mmap_anon(t, 0, 10 * PG, PROT_RW, KMM_MAP_PRIVATE), MMAP_BASE - 10 * PG);
	assert_int_equal(sys_brk(t, HEAP + 5 * PG), HEAP + 5 * PG);
	assert_int_equal(nareas(t), 3);
	t->mm->stack_limit = 16 * MiB;
	assert_int_equal(task_exec(t), 0);
	assert_int_equal(nareas(t), 1);
	assert_int_equal(t->mm->brk, HEAP);
	assert_int_equal(t->mm->total_vm, 32);
	/* The stack limit survives exec; mmap_base follows it. */
	assert_int_equal(t->mm->stack_limit, 16 * MiB);
	assert_int_equal(t->mm->mmap_base, MMAP_BASE);   /* still under the 128 MiB minimum gap */
	reap_all();
}

/* ---- mmap ---- */

static void test_mmap_placement_and_merge(void **state)
{
	struct task *t = boot_and_spawn();

	/* Top-down from mmap_base; adjacent anonymous mappings become one area. */
	assert_int_equal(mmap_anon(t, 0, PG, PROT_RW, KMM_MAP_PRIVATE), MMAP_BASE - PG);
	assert_int_equal(mmap_anon(t, 0, 3 * PG + 1, PROT_RW, KMM_MAP_PRIVATE), MMAP_BASE - 5 * PG);
	assert_int_equal(nareas(t), 2);
	expect_area(t, MMAP_BASE - 5 * PG, MMAP_BASE, PROT_RW);
	/* Different protection: a separate area. */
	assert_int_equal(mmap_anon(t, 0, PG, PROT_R, KMM_MAP_PRIVATE), MMAP_BASE - 6 * PG);
	assert_int_equal(nareas(t), 3);
	/* Shared mappings never merge (each has its own object). */
	assert_int_equal(mmap_anon(t, 0, PG, PROT_RW, KMM_MAP_SHARED), MMAP_BASE - 7 * PG);
	assert_int_equal(mmap_anon(t, 0, PG, PROT_RW, KMM_MAP_SHARED), MMAP_BASE - 8 * PG);
	assert_int_equal(nareas(t), 5);
	assert_true(vma_lookup(t->mm, MMAP_BASE - 8 * PG)->vm_flags & VM_SHARED);
	assert_int_equal(vma_lookup(t->mm, MMAP_BASE - 8 * PG)->vm_pgoff, 0);
	/* Counters: private writable is data, shared and read-only are not. */
	assert_int_equal(t->mm->data_vm, 5);
	assert_int_equal(t->mm->total_vm, 32 + 8);
	/* Executable and not writable is exec; writable and executable is data. */
	assert_true(mmap_anon(t, 0x700000000UL, 3 * PG, KMM_PROT_READ | KMM_PROT_EXEC,
			      KMM_MAP_PRIVATE) > 0);
	assert_int_equal(t->mm->exec_vm, 3);
	assert_int_equal(sys_mprotect(t, 0x700000000UL, PG, KMM_PROT_READ | KMM_PROT_WRITE |
						     KMM_PROT_EXEC), 0);
	assert_int_equal(t->mm->exec_vm, 2);
	assert_int_equal(t->mm->data_vm, 6);
	assert_int_equal(sys_munmap(t, 0x700000000UL, 3 * PG), 0);
	assert_int_equal(t->mm->exec_vm, 0);
	assert_int_equal(t->mm->total_vm, 32 + 8);

	/* Hints: a free one is used as is; a busy one is ignored. */
	assert_int_equal(mmap_anon(t, 0x600000000000UL, 2 * PG, PROT_RW, KMM_MAP_PRIVATE),
			 0x600000000000UL);
	assert_int_equal(mmap_anon(t, 0x600000000000UL, PG, PROT_RW, KMM_MAP_PRIVATE),
			 MMAP_BASE - 9 * PG);
	/* A hint below mmap_min_addr is raised to it. */
	assert_int_equal(mmap_anon(t, 0x1000, PG, PROT_RW, KMM_MAP_PRIVATE), MMAP_MIN_ADDR);
	/* An unaligned hint is rounded down. */
	assert_int_equal(mmap_anon(t, 0x500000123UL, PG, PROT_RW, KMM_MAP_PRIVATE), 0x500000000UL);
	reap_all();
}

static void test_mmap_errors(void **state)
{
	struct task *t = boot_and_spawn();
	struct task *dead;

	assert_int_equal(mmap_anon(t, 0, 0, PROT_RW, KMM_MAP_PRIVATE), -KMM_EINVAL);
	assert_int_equal(sys_mmap(t, 0, PG, PROT_RW, ANON, -1, 100), -KMM_EINVAL);
	assert_int_equal(sys_mmap(t, 0, PG, PROT_RW, KMM_MAP_PRIVATE, 3, 0), -KMM_EBADF);
	assert_int_equal(sys_mmap(t, 0, PG, PROT_RW, KMM_MAP_PRIVATE, -1, 0), -KMM_EBADF);
	/* Neither or both of MAP_SHARED and MAP_PRIVATE. */
	assert_int_equal(mmap_anon(t, 0, PG, PROT_RW, 0), -KMM_EINVAL);
	assert_int_equal(mmap_anon(t, 0, PG, PROT_RW, KMM_MAP_SHARED | KMM_MAP_PRIVATE),
			 -KMM_EINVAL);
	/* Lengths that overflow or exceed the address space. */
	assert_int_equal(mmap_anon(t, 0, SIZE_MAX, PROT_RW, KMM_MAP_PRIVATE), -KMM_ENOMEM);
	assert_int_equal(mmap_anon(t, 0, SIZE_MAX - PG, PROT_RW, KMM_MAP_PRIVATE), -KMM_ENOMEM);
	assert_int_equal(mmap_anon(t, 0, TASK_SIZE + PG, PROT_R, KMM_MAP_PRIVATE), -KMM_ENOMEM);
	/* MAP_FIXED: misaligned, past the top, below mmap_min_addr. */
	assert_int_equal(mmap_anon(t, 0x500000010UL, PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 -KMM_EINVAL);
	assert_int_equal(mmap_anon(t, TASK_SIZE - PG, 2 * PG, PROT_RW,
				   KMM_MAP_PRIVATE | KMM_MAP_FIXED), -KMM_ENOMEM);
	assert_int_equal(mmap_anon(t, TASK_SIZE, PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 -KMM_ENOMEM);
	assert_int_equal(mmap_anon(t, 0, PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED), -KMM_EPERM);
	assert_int_equal(mmap_anon(t, MMAP_MIN_ADDR - PG, PG, PROT_RW,
				   KMM_MAP_PRIVATE | KMM_MAP_FIXED), -KMM_EPERM);
	/* A shared stack makes no sense. */
	assert_int_equal(mmap_anon(t, 0, PG, PROT_RW, KMM_MAP_SHARED | KMM_MAP_GROWSDOWN),
			 -KMM_EINVAL);
	/* A refused MAP_FIXED leaves what was there. */
	assert_int_equal(mmap_anon(t, 0x500000000UL, PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 0x500000000UL);
	assert_int_equal(mmap_anon(t, 0x500000000UL, 2 * MACHINE, PROT_RW,
				   KMM_MAP_PRIVATE | KMM_MAP_FIXED), -KMM_ENOMEM);
	assert_non_null(vma_lookup(t->mm, 0x500000000UL));
	assert_int_equal(sys_munmap(t, 0x500000000UL, PG), 0);
	/* More than all of RAM, writable and private: overcommit refuses it... */
	assert_int_equal(mmap_anon(t, 0, 2 * MACHINE, PROT_RW, KMM_MAP_PRIVATE), -KMM_ENOMEM);
	assert_int_equal(mmap_anon(t, 0, 2 * MACHINE, PROT_RW, KMM_MAP_SHARED), -KMM_ENOMEM);
	/* ... unless MAP_NORESERVE, or nothing can be written. */
	assert_true(mmap_anon(t, 0, 2 * MACHINE, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_NORESERVE) > 0);
	assert_true(mmap_anon(t, 0, 2 * MACHINE, PROT_R, KMM_MAP_PRIVATE) > 0);
	assert_int_equal(nareas(t), 3);
	/* Nothing else changed the set. */

	/* A dead task has no address space. */
	assert_int_equal(task_fork(t, &dead), 0);
	task_exit(dead, 0);
	assert_int_equal(mmap_anon(dead, 0, PG, PROT_RW, KMM_MAP_PRIVATE), -KMM_ESRCH);
	assert_int_equal(sys_munmap(dead, 0x500000, PG), -KMM_ESRCH);
	assert_int_equal(sys_brk(dead, 0), -KMM_ESRCH);
	reap_all();
}

static void test_mmap_fixed(void **state)
{
	struct task *t = boot_and_spawn();
	const uintptr_t a = 0x500000000UL;

	assert_int_equal(mmap_anon(t, a, 4 * PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED), a);
	assert_int_equal(nareas(t), 2);
	/* MAP_FIXED replaces the middle: three areas. */
	assert_int_equal(mmap_anon(t, a + PG, PG, PROT_R, KMM_MAP_PRIVATE | KMM_MAP_FIXED), a + PG);
	assert_int_equal(nareas(t), 4);
	expect_area(t, a, a + PG, PROT_RW);
	expect_area(t, a + PG, a + 2 * PG, PROT_R);
	expect_area(t, a + 2 * PG, a + 4 * PG, PROT_RW);
	/* NOREPLACE: EEXIST over anything mapped, even one page of it. */
	assert_int_equal(mmap_anon(t, a + 3 * PG, 2 * PG, PROT_RW,
				   KMM_MAP_PRIVATE | KMM_MAP_FIXED_NOREPLACE), -KMM_EEXIST);
	assert_int_equal(mmap_anon(t, a - PG, PG, PROT_RW,
				   KMM_MAP_PRIVATE | KMM_MAP_FIXED_NOREPLACE), a - PG);
	/* It merged with the area above it. */
	expect_area(t, a - PG, a + PG, PROT_RW);
	/* NOREPLACE is MAP_FIXED for alignment: a misaligned address is EINVAL. */
	assert_int_equal(mmap_anon(t, a - PG + 8, PG, PROT_RW,
				   KMM_MAP_PRIVATE | KMM_MAP_FIXED_NOREPLACE), -KMM_EINVAL);
	assert_int_equal(mmap_anon(t, a + 30 * PG + 8, PG, PROT_R,
				   KMM_MAP_PRIVATE | KMM_MAP_FIXED_NOREPLACE), -KMM_EINVAL);
	assert_int_equal(mmap_anon(t, 0x1000, PG, PROT_R,
				   KMM_MAP_PRIVATE | KMM_MAP_FIXED_NOREPLACE), -KMM_EPERM);
	/* MAP_FIXED over several areas and holes replaces them all, then merges. */
	assert_int_equal(mmap_anon(t, a + 10 * PG, PG, PROT_R, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 a + 10 * PG);
	assert_int_equal(mmap_anon(t, a - 2 * PG, 16 * PG, PROT_RW,
				   KMM_MAP_PRIVATE | KMM_MAP_FIXED), a - 2 * PG);
	assert_int_equal(nareas(t), 2);
	expect_area(t, a - 2 * PG, a + 14 * PG, PROT_RW);
	assert_int_equal(t->mm->data_vm, 16);
	/* MAP_GROWSDOWN makes a stack-like area (counted as stack). */
	assert_int_equal(mmap_anon(t, a + 100 * PG, 2 * PG, PROT_RW,
				   KMM_MAP_PRIVATE | KMM_MAP_FIXED | KMM_MAP_GROWSDOWN), a + 100 * PG);
	assert_true(vma_lookup(t->mm, a + 100 * PG)->vm_flags & VM_GROWSDOWN);
	assert_int_equal(t->mm->stack_vm, 32 + 2);
	reap_all();
}

/* ---- munmap ---- */

static void test_munmap(void **state)
{
	struct task *t = boot_and_spawn();
	const uintptr_t a = 0x500000000UL;

	assert_int_equal(sys_munmap(t, a + 1, PG), -KMM_EINVAL);
	assert_int_equal(sys_munmap(t, a, 0), -KMM_EINVAL);
	assert_int_equal(sys_munmap(t, TASK_SIZE + PG, PG), -KMM_EINVAL);
	assert_int_equal(sys_munmap(t, TASK_SIZE - PG, 2 * PG), -KMM_EINVAL);
	assert_int_equal(sys_munmap(t, a, SIZE_MAX), -KMM_EINVAL);
	/* Nothing mapped there: fine. */
	assert_int_equal(sys_munmap(t, a, 100 * PG), 0);

	assert_int_equal(mmap_anon(t, a, 10 * PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED), a);
	/* The middle: the area splits in two. */
	assert_int_equal(sys_munmap(t, a + 3 * PG, 2 * PG - 100), 0);
	assert_int_equal(nareas(t), 3);
	expect_area(t, a, a + 3 * PG, PROT_RW);
	expect_area(t, a + 5 * PG, a + 10 * PG, PROT_RW);
	assert_int_equal(t->mm->total_vm, 32 + 8);
	/* The ends. */
	assert_int_equal(sys_munmap(t, a, PG), 0);
	assert_int_equal(sys_munmap(t, a + 9 * PG, PG), 0);
	expect_area(t, a + PG, a + 3 * PG, PROT_RW);
	expect_area(t, a + 5 * PG, a + 9 * PG, PROT_RW);
	/* Across a hole, cutting into both sides. */
	assert_int_equal(sys_munmap(t, a + 2 * PG, 4 * PG), 0);
	expect_area(t, a + PG, a + 2 * PG, PROT_RW);
	expect_area(t, a + 6 * PG, a + 9 * PG, PROT_RW);
	assert_null(vma_lookup(t->mm, a + 5 * PG));
	/* Everything. */
	assert_int_equal(sys_munmap(t, a, 100 * PG), 0);
	assert_int_equal(nareas(t), 1);
	assert_int_equal(t->mm->total_vm, 32);
	assert_int_equal(t->mm->data_vm, 0);
	/* The stack too: nothing is special about it. */
	assert_int_equal(sys_munmap(t, STACK_TOP - 128 * KiB, 128 * KiB), 0);
	assert_int_equal(nareas(t), 0);
	assert_int_equal(t->mm->total_vm, 0);
	reap_all();
}

/* ---- mprotect ---- */

static void test_mprotect(void **state)
{
	struct task *t = boot_and_spawn();
	const uintptr_t a = 0x500000000UL;

	assert_int_equal(mmap_anon(t, a, 8 * PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED), a);
	assert_int_equal(sys_mprotect(t, a + 1, PG, PROT_R), -KMM_EINVAL);
	assert_int_equal(sys_mprotect(t, a, 0, PROT_R), 0);
	assert_int_equal(sys_mprotect(t, a, PG, 0x10), -KMM_EINVAL);
	assert_int_equal(sys_mprotect(t, a, SIZE_MAX, PROT_R), -KMM_ENOMEM);
	assert_int_equal(sys_mprotect(t, a - PG, 2 * PG, PROT_R), -KMM_ENOMEM);
	assert_int_equal(sys_mprotect(t, 0x400000000UL, PG, PROT_R), -KMM_ENOMEM);
	assert_int_equal(nareas(t), 2);

	/* The middle: three areas; back again: one. */
	assert_int_equal(sys_mprotect(t, a + 2 * PG, 3 * PG, PROT_R), 0);
	assert_int_equal(nareas(t), 4);
	expect_area(t, a, a + 2 * PG, PROT_RW);
	expect_area(t, a + 2 * PG, a + 5 * PG, PROT_R);
	expect_area(t, a + 5 * PG, a + 8 * PG, PROT_RW);
	assert_int_equal(t->mm->data_vm, 5);
	assert_int_equal(sys_mprotect(t, a + 2 * PG, 3 * PG, PROT_RW), 0);
	assert_int_equal(nareas(t), 2);
	expect_area(t, a, a + 8 * PG, PROT_RW);
	assert_int_equal(t->mm->data_vm, 8);
	/* PROT_NONE and PROT_SEM are valid. */
	assert_int_equal(sys_mprotect(t, a, PG, KMM_PROT_NONE), 0);
	assert_int_equal(sys_mprotect(t, a, PG, PROT_R | 0x8), 0);
	expect_area(t, a, a + PG, PROT_R);

	/* A hole: the part before it changes, then ENOMEM. */
	assert_int_equal(mmap_anon(t, a + 10 * PG, 2 * PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 a + 10 * PG);
	assert_int_equal(sys_mprotect(t, a + 6 * PG, 6 * PG, PROT_R), -KMM_ENOMEM);
	expect_area(t, a + 6 * PG, a + 8 * PG, PROT_R);
	expect_area(t, a + 10 * PG, a + 12 * PG, PROT_RW);

	/* Read-only made writable is charged (VM_ACCOUNT) as a writable mmap would be. */
	assert_int_equal(mmap_anon(t, a + 20 * PG, 2 * PG, PROT_R, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 a + 20 * PG);
	assert_false(vma_lookup(t->mm, a + 20 * PG)->vm_flags & VM_ACCOUNT);
	assert_int_equal(sys_mprotect(t, a + 20 * PG, 2 * PG, PROT_RW), 0);
	assert_true(vma_lookup(t->mm, a + 20 * PG)->vm_flags & VM_ACCOUNT);

	/* An area changed early in the range may merge with the next one: no false ENOMEM. */
	assert_int_equal(mmap_anon(t, a + 30 * PG, 2 * PG, PROT_R, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 a + 30 * PG);
	assert_int_equal(mmap_anon(t, a + 32 * PG, PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 a + 32 * PG);
	assert_int_equal(sys_mprotect(t, a + 30 * PG, 3 * PG, PROT_RW), 0);
	expect_area(t, a + 30 * PG, a + 33 * PG, PROT_RW);

	/*
	 * Made read-only before any write, a private area drops its charge (as
	 * Linux 6.2+ does) and so merges with a read-only neighbour; once
	 * written, it keeps the charge and stays apart.
	 */
	assert_int_equal(mmap_anon(t, a + 40 * PG, PG, PROT_R, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 a + 40 * PG);
	assert_int_equal(mmap_anon(t, a + 41 * PG, PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 a + 41 * PG);
	assert_int_equal(sys_mprotect(t, a + 41 * PG, PG, PROT_R), 0);
	expect_area(t, a + 40 * PG, a + 42 * PG, PROT_R);
	assert_false(vma_lookup(t->mm, a + 40 * PG)->vm_flags & VM_ACCOUNT);
	assert_int_equal(mmap_anon(t, a + 42 * PG, PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 a + 42 * PG);
	assert_int_equal(emu_store(t, a + 42 * PG, 8, 1), 0);
	assert_int_equal(sys_mprotect(t, a + 42 * PG, PG, PROT_R), 0);
	assert_true(vma_lookup(t->mm, a + 42 * PG)->vm_flags & VM_ACCOUNT);
	expect_area(t, a + 40 * PG, a + 42 * PG, PROT_R);
	expect_area(t, a + 42 * PG, a + 43 * PG, PROT_R);

	/* PROT_GROWSDOWN: only on a grows-down area, and it reaches down to its start. */
	assert_int_equal(sys_mprotect(t, a + 21 * PG, PG, PROT_R | KMM_PROT_GROWSDOWN), -KMM_EINVAL);
	assert_int_equal(sys_mprotect(t, STACK_TOP - PG, PG, PROT_R | KMM_PROT_GROWSDOWN), 0);
	expect_area(t, STACK_TOP - 128 * KiB, STACK_TOP, PROT_R);
	reap_all();
}

/* ---- mremap ---- */

static void test_mremap(void **state)
{
	struct task *t = boot_and_spawn();
	const uintptr_t a = 0x500000000UL, b = 0x600000000UL;
	long got;

	assert_int_equal(mmap_anon(t, a, 4 * PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED), a);
	/* Argument errors. */
	assert_int_equal(sys_mremap(t, a, PG, 2 * PG, 8, 0), -KMM_EINVAL);
	assert_int_equal(sys_mremap(t, a, PG, 2 * PG, KMM_MREMAP_FIXED, b), -KMM_EINVAL);
	assert_int_equal(sys_mremap(t, a + 5, PG, 2 * PG, 0, 0), -KMM_EINVAL);
	assert_int_equal(sys_mremap(t, a, PG, 0, 0, 0), -KMM_EINVAL);
	/* Nothing mapped, or more than the area: EFAULT. */
	assert_int_equal(sys_mremap(t, b, PG, 2 * PG, KMM_MREMAP_MAYMOVE, 0), -KMM_EFAULT);
	assert_int_equal(sys_mremap(t, a, 5 * PG, 6 * PG, KMM_MREMAP_MAYMOVE, 0), -KMM_EFAULT);
	/* old_len 0 duplicates only shared mappings. */
	assert_int_equal(sys_mremap(t, a, 0, PG, KMM_MREMAP_MAYMOVE, 0), -KMM_EINVAL);

	/* Shrink: the tail goes, the address stays. */
	assert_int_equal(sys_mremap(t, a, 4 * PG, 3 * PG, 0, 0), a);
	expect_area(t, a, a + 3 * PG, PROT_RW);
	/* Grow in place when the space above is free. */
	assert_int_equal(sys_mremap(t, a, 3 * PG, 6 * PG, 0, 0), a);
	expect_area(t, a, a + 6 * PG, PROT_RW);
	assert_int_equal(t->mm->data_vm, 6);
	/* Blocked above: ENOMEM without MREMAP_MAYMOVE. */
	assert_int_equal(mmap_anon(t, a + 8 * PG, PG, PROT_R, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 a + 8 * PG);
	assert_int_equal(sys_mremap(t, a, 6 * PG, 9 * PG, 0, 0), -KMM_ENOMEM);
	/* Not ending at the area's end: cannot grow in place either. */
	assert_int_equal(sys_mremap(t, a, 2 * PG, 3 * PG, 0, 0), -KMM_ENOMEM);
	/* With MAYMOVE it moves below mmap_base and the old range is gone. */
	got = sys_mremap(t, a, 6 * PG, 9 * PG, KMM_MREMAP_MAYMOVE, 0);
	assert_int_equal(got, MMAP_BASE - 9 * PG);
	assert_null(vma_lookup(t->mm, a));
	expect_area(t, (uintptr_t)got, (uintptr_t)got + 9 * PG, PROT_RW);
	/* Never faulted: the moved area takes the offset of its new place (Linux's copy_vma). */
	assert_int_equal(vma_lookup(t->mm, (uintptr_t)got)->vm_pgoff, (uintptr_t)got >> PAGE_SHIFT);
	assert_int_equal(t->mm->data_vm, 9);

	/* MREMAP_FIXED: to a chosen place, replacing what is there. */
	assert_int_equal(mmap_anon(t, b, 2 * PG, PROT_R, KMM_MAP_PRIVATE | KMM_MAP_FIXED), b);
	assert_int_equal(sys_mremap(t, (uintptr_t)got, 9 * PG, 3 * PG,
				    KMM_MREMAP_MAYMOVE | KMM_MREMAP_FIXED, b), b);
	expect_area(t, b, b + 3 * PG, PROT_RW);
	assert_null(vma_lookup(t->mm, (uintptr_t)got));
	assert_int_equal(t->mm->data_vm, 3);
	/* Overlapping source and destination, misaligned or too high destinations. */
	assert_int_equal(sys_mremap(t, b, 3 * PG, 3 * PG, KMM_MREMAP_MAYMOVE | KMM_MREMAP_FIXED,
				    b + PG), -KMM_EINVAL);
	assert_int_equal(sys_mremap(t, b, 3 * PG, 3 * PG, KMM_MREMAP_MAYMOVE | KMM_MREMAP_FIXED,
				    a + 1), -KMM_EINVAL);
	assert_int_equal(sys_mremap(t, b, 3 * PG, 3 * PG, KMM_MREMAP_MAYMOVE | KMM_MREMAP_FIXED,
				    TASK_SIZE - PG), -KMM_EINVAL);
	assert_int_equal(sys_mremap(t, b, 3 * PG, 3 * PG, KMM_MREMAP_MAYMOVE | KMM_MREMAP_FIXED,
				    0), -KMM_EPERM);

	/* Shared: old_len 0 makes a second mapping of the same object. */
	got = mmap_anon(t, 0, 2 * PG, PROT_RW, KMM_MAP_SHARED);
	assert_true(got > 0);
	{
		long dup = sys_mremap(t, (uintptr_t)got, 0, 2 * PG, KMM_MREMAP_MAYMOVE, 0);

		assert_true(dup > 0 && dup != got);
		assert_ptr_equal(vma_lookup(t->mm, (uintptr_t)dup)->vm_shared,
				 vma_lookup(t->mm, (uintptr_t)got)->vm_shared);
		assert_non_null(vma_lookup(t->mm, (uintptr_t)got));
	}
	/* An area never faulted, moved next to a compatible one, merges with it. */
	assert_int_equal(mmap_anon(t, 0x680000000UL, 2 * PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 0x680000000UL);
	assert_int_equal(mmap_anon(t, 0x690000000UL, PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 0x690000000UL);
	assert_int_equal(sys_mremap(t, 0x690000000UL, PG, PG, KMM_MREMAP_MAYMOVE | KMM_MREMAP_FIXED,
				    0x680002000UL), 0x680002000UL);
	expect_area(t, 0x680000000UL, 0x680003000UL, PROT_RW);
	/* Shrinking needs nothing mapped (Linux unmaps the tail, whatever it is). */
	assert_int_equal(sys_mremap(t, 0x700000000UL, 4 * PG, PG, 0, 0), 0x700000000UL);
	reap_all();
}

/* ---- brk ---- */

static void test_brk(void **state)
{
	struct task *t = boot_and_spawn();
	struct mm *mm = t->mm;

	assert_int_equal(sys_brk(t, 0), HEAP);
	assert_int_equal(sys_brk(t, HEAP - PG), HEAP);
	assert_int_equal(nareas(t), 1);
	/* One byte: the break is exact, the area a page. */
	assert_int_equal(sys_brk(t, HEAP + 1), HEAP + 1);
	assert_int_equal(mm->brk, HEAP + 1);
	expect_area(t, HEAP, HEAP + PG, PROT_RW);
	assert_int_equal(mm->data_vm, 1);
	/* Within the same page: no change of areas. */
	assert_int_equal(sys_brk(t, HEAP + 100), HEAP + 100);
	assert_int_equal(nareas(t), 2);
	/* Grow: the same area extends. */
	assert_int_equal(sys_brk(t, HEAP + 10 * PG), HEAP + 10 * PG);
	assert_int_equal(nareas(t), 2);
	expect_area(t, HEAP, HEAP + 10 * PG, PROT_RW);
	/* Shrink: the area shrinks. */
	assert_int_equal(sys_brk(t, HEAP + 3 * PG + 5), HEAP + 3 * PG + 5);
	expect_area(t, HEAP, HEAP + 4 * PG, PROT_RW);
	assert_int_equal(mm->data_vm, 4);
	/* A mapping above the heap stops it a page short; a failed brk returns the old break. */
	assert_int_equal(mmap_anon(t, HEAP + 8 * PG, PG, PROT_R, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 HEAP + 8 * PG);
	assert_int_equal(sys_brk(t, HEAP + 8 * PG), HEAP + 3 * PG + 5);
	assert_int_equal(sys_brk(t, HEAP + 7 * PG - 1), HEAP + 7 * PG - 1);
	assert_int_equal(sys_brk(t, HEAP + 7 * PG + 1), HEAP + 7 * PG - 1);
	/* Far too high or absurd: the old break. */
	assert_int_equal(sys_brk(t, UINTPTR_MAX), HEAP + 7 * PG - 1);
	assert_int_equal(sys_brk(t, TASK_SIZE + PG), HEAP + 7 * PG - 1);
	/* Back to the start: the heap area is gone. */
	assert_int_equal(sys_brk(t, HEAP), HEAP);
	assert_int_equal(nareas(t), 2);
	assert_null(vma_lookup(mm, HEAP));
	/*
	 * munmap of the heap under brk's feet: brk cannot shrink what is not
	 * there (the old break comes back), but grows a new area from the break.
	 */
	assert_int_equal(sys_brk(t, HEAP + 2 * PG), HEAP + 2 * PG);
	assert_int_equal(sys_munmap(t, HEAP, 2 * PG), 0);
	assert_int_equal(sys_brk(t, HEAP + PG), HEAP + 2 * PG);
	assert_int_equal(sys_brk(t, HEAP + 3 * PG), HEAP + 3 * PG);
	expect_area(t, HEAP + 2 * PG, HEAP + 3 * PG, PROT_RW);
	/*
	 * A mapping placed right at the break merges with the heap area (same
	 * flags, contiguous offsets), and then stands in the heap's way.
	 */
	assert_int_equal(mmap_anon(t, HEAP + 3 * PG, PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 HEAP + 3 * PG);
	assert_int_equal(nareas(t), 3);
	expect_area(t, HEAP + 2 * PG, HEAP + 4 * PG, PROT_RW);
	assert_int_equal(sys_brk(t, HEAP + 5 * PG), HEAP + 3 * PG);
	assert_int_equal(sys_brk(t, HEAP + 2 * PG), HEAP + 2 * PG);
	expect_area(t, HEAP + 3 * PG, HEAP + 4 * PG, PROT_RW);
	reap_all();
}

/* ---- madvise ---- */

static void test_madvise(void **state)
{
	struct task *t = boot_and_spawn();
	const uintptr_t a = 0x500000000UL;

	assert_int_equal(mmap_anon(t, a, 8 * PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED), a);
	assert_int_equal(sys_madvise(t, a, PG, 99), -KMM_EINVAL);
	assert_int_equal(sys_madvise(t, a, PG, -1), -KMM_EINVAL);
	assert_int_equal(sys_madvise(t, a + 1, PG, KMM_MADV_DONTNEED), -KMM_EINVAL);
	assert_int_equal(sys_madvise(t, a, 0, KMM_MADV_DONTNEED), 0);
	assert_int_equal(sys_madvise(t, a, SIZE_MAX, KMM_MADV_DONTNEED), -KMM_EINVAL);
	assert_int_equal(sys_madvise(t, 0x400000000UL, PG, KMM_MADV_DONTNEED), -KMM_ENOMEM);
	assert_int_equal(sys_madvise(t, a, 9 * PG, KMM_MADV_DONTNEED), -KMM_ENOMEM);
	assert_int_equal(sys_madvise(t, a, 8 * PG, KMM_MADV_DONTNEED), 0);
	assert_int_equal(sys_madvise(t, a, 8 * PG, KMM_MADV_WILLNEED), 0);
	/* RANDOM/SEQUENTIAL mark the range (splitting); NORMAL merges it back. */
	assert_int_equal(sys_madvise(t, a + 2 * PG, 2 * PG, KMM_MADV_RANDOM), 0);
	assert_int_equal(nareas(t), 4);
	assert_true(vma_lookup(t->mm, a + 2 * PG)->vm_flags & VM_RAND_READ);
	assert_int_equal(sys_madvise(t, a + 3 * PG, 2 * PG, KMM_MADV_SEQUENTIAL), 0);
	assert_int_equal(nareas(t), 5);
	assert_int_equal(sys_madvise(t, a, 8 * PG, KMM_MADV_NORMAL), 0);
	assert_int_equal(nareas(t), 2);
	expect_area(t, a, a + 8 * PG, PROT_RW);
	reap_all();
}

/* ---- stack growth ---- */

static void test_expand_stack(void **state)
{
	struct task *t = boot_and_spawn();
	struct mm *mm = t->mm;
	struct vm_area *stack = vma_lookup(mm, STACK_TOP - PG);
	const uintptr_t bottom = STACK_TOP - 128 * KiB;

	write_lock(&mm->mmap_lock);
	assert_int_equal(expand_stack(mm, stack, bottom - 3 * PG + 8), 0);
	write_unlock(&mm->mmap_lock);
	assert_int_equal(stack->vm_start, bottom - 3 * PG);
	assert_int_equal(stack->vm_pgoff, (bottom - 3 * PG) >> PAGE_SHIFT);
	assert_int_equal(mm->stack_vm, 35);
	vma_check(mm);
	/* Up to the limit, not beyond. */
	write_lock(&mm->mmap_lock);
	assert_int_equal(expand_stack(mm, stack, STACK_TOP - 8 * MiB), 0);
	assert_int_equal(expand_stack(mm, stack, STACK_TOP - 8 * MiB - 1), -KMM_ENOMEM);
	write_unlock(&mm->mmap_lock);
	assert_int_equal(mm->stack_vm, (8 * MiB) >> PAGE_SHIFT);
	vma_check(mm);
	/* Not a stack: EFAULT. */
	assert_int_equal(mmap_anon(t, 0x500000000UL, PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 0x500000000UL);
	write_lock(&mm->mmap_lock);
	assert_int_equal(expand_stack(mm, vma_lookup(mm, 0x500000000UL), 0x4ffff0000UL),
			 -KMM_EFAULT);
	write_unlock(&mm->mmap_lock);

	/* The guard gap: an accessible area below stops the stack short of it... */
	{
		const uintptr_t s = 0x300000000UL;
		struct vm_area *gs;

		assert_int_equal(mmap_anon(t, s, 4 * PG, PROT_RW,
					   KMM_MAP_PRIVATE | KMM_MAP_FIXED | KMM_MAP_GROWSDOWN), s);
		assert_int_equal(mmap_anon(t, s - STACK_GUARD_GAP - 2 * PG, PG, PROT_RW,
					   KMM_MAP_PRIVATE | KMM_MAP_FIXED), s - STACK_GUARD_GAP - 2 * PG);
		gs = vma_lookup(mm, s);
		write_lock(&mm->mmap_lock);
		assert_int_equal(expand_stack(mm, gs, s - PG), 0);
		assert_int_equal(expand_stack(mm, gs, s - 2 * PG), -KMM_ENOMEM);
		write_unlock(&mm->mmap_lock);
		/* ... but a PROT_NONE one does not (a guard page the program placed). */
		assert_int_equal(sys_mprotect(t, s - STACK_GUARD_GAP - 2 * PG, PG, KMM_PROT_NONE), 0);
		write_lock(&mm->mmap_lock);
		assert_int_equal(expand_stack(mm, gs, s - 2 * PG), 0);
		write_unlock(&mm->mmap_lock);
		vma_check(mm);
	}
	/* Below mmap_min_addr: EPERM. */
	assert_int_equal(mmap_anon(t, MMAP_MIN_ADDR + PG, PG, PROT_RW,
				   KMM_MAP_PRIVATE | KMM_MAP_FIXED | KMM_MAP_GROWSDOWN),
			 MMAP_MIN_ADDR + PG);
	write_lock(&mm->mmap_lock);
	assert_int_equal(expand_stack(mm, vma_lookup(mm, MMAP_MIN_ADDR + PG), MMAP_MIN_ADDR - PG),
			 -KMM_EPERM);
	write_unlock(&mm->mmap_lock);
	reap_all();
}


/* ---- Contents through the MMU ---- */

static uint64_t load8(struct task *t, uintptr_t va)
{
	uint64_t v = 0;

	assert_int_equal(emu_load(t, va, 8, &v), 0);
	return v;
}

static void store8(struct task *t, uintptr_t va, uint64_t v)
{
	assert_int_equal(emu_store(t, va, 8, v), 0);
}

/* A value that names the page it was written to. */
static uint64_t tag(uintptr_t page, unsigned int gen)
{
	return 0x5a5a000000000000ULL | ((uint64_t)gen << 40) | (page >> PAGE_SHIFT);
}

static void test_contents_protection_and_unmap(void **state)
{
	struct task *t = boot_and_spawn(), *u;
	const uintptr_t a = 0x500000000UL;

	assert_int_equal(mmap_anon(t, a, 4 * PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED), a);
	for (int i = 0; i < 4; i++)
		store8(t, a + i * PG + 16, tag(a + i * PG, 1));
	assert_int_equal(get_mm_counter(t->mm, MM_ANONPAGES), 4);
	/* Read-only: reads still see the data, a write is SIGSEGV/SEGV_ACCERR. */
	assert_int_equal(sys_mprotect(t, a + PG, PG, PROT_R), 0);
	assert_int_equal(load8(t, a + PG + 16), tag(a + PG, 1));
	assert_int_equal(task_fork(t, &u), 0);
	assert_int_equal(emu_store(u, a + PG + 8, 8, 1), -KMM_EFAULT);
	assert_int_equal(u->exit_signal, KMM_SIGSEGV);
	assert_int_equal(u->fault_code, KMM_SEGV_ACCERR);
	assert_int_equal(u->fault_addr, a + PG + 8);
	/* Unmapped: SEGV_MAPERR, and the frames went back (rss drops). */
	assert_int_equal(sys_munmap(t, a + 2 * PG, 2 * PG), 0);
	assert_int_equal(get_mm_counter(t->mm, MM_ANONPAGES), 2);
	assert_int_equal(task_fork(t, &u), 0);
	assert_int_equal(emu_load(u, a + 3 * PG, 8, &(uint64_t){ 0 }), -KMM_EFAULT);
	assert_int_equal(u->fault_code, KMM_SEGV_MAPERR);
	/* Mapped again: fresh zeroes, not the old data. */
	assert_int_equal(mmap_anon(t, a + 2 * PG, 2 * PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 a + 2 * PG);
	assert_int_equal(load8(t, a + 2 * PG + 16), 0);
	assert_int_equal(load8(t, a + 3 * PG + 16), 0);
	/* MAP_FIXED over data replaces it with zeroes too. */
	assert_int_equal(mmap_anon(t, a, PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED), a);
	assert_int_equal(load8(t, a + 16), 0);
	mm_check(t->mm);
	reap_all();
}

static void test_contents_mremap(void **state)
{
	struct task *t = boot_and_spawn();
	const uintptr_t a = 0x500000000UL, b = 0x600000000UL;
	long got;

	assert_int_equal(mmap_anon(t, a, 4 * PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED), a);
	for (int i = 0; i < 4; i++)
		store8(t, a + i * PG, tag(a + i * PG, 2));
	/* Grow in place: the data stays, the new page is zero. */
	assert_int_equal(sys_mremap(t, a, 4 * PG, 5 * PG, 0, 0), a);
	assert_int_equal(load8(t, a + 3 * PG), tag(a + 3 * PG, 2));
	assert_int_equal(load8(t, a + 4 * PG), 0);
	/* Blocked: moved, with every page's data, and nothing left behind. */
	assert_int_equal(mmap_anon(t, a + 5 * PG, PG, PROT_R, KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 a + 5 * PG);
	got = sys_mremap(t, a, 5 * PG, 8 * PG, KMM_MREMAP_MAYMOVE, 0);
	assert_true(got > 0 && (uintptr_t)got != a);
	for (int i = 0; i < 4; i++)
		assert_int_equal(load8(t, (uintptr_t)got + i * PG), tag(a + i * PG, 2));
	assert_int_equal(load8(t, (uintptr_t)got + 7 * PG), 0);
	/* Its pages were faulted: the area keeps their offsets. */
	assert_int_equal(vma_lookup(t->mm, (uintptr_t)got)->vm_pgoff, a >> PAGE_SHIFT);
	/* The four written pages moved; the zero-page reads count for nothing. */
	assert_int_equal(get_mm_counter(t->mm, MM_ANONPAGES), 4);
	/* Shrinking into a fixed place moves only what is kept. */
	assert_int_equal(sys_mremap(t, (uintptr_t)got + PG, 2 * PG, PG,
				    KMM_MREMAP_MAYMOVE | KMM_MREMAP_FIXED, b), b);
	assert_int_equal(load8(t, b), tag(a + PG, 2));
	assert_null(vma_lookup(t->mm, (uintptr_t)got + 2 * PG));
	assert_int_equal(load8(t, (uintptr_t)got), tag(a, 2));
	assert_int_equal(load8(t, (uintptr_t)got + 3 * PG), tag(a + 3 * PG, 2));
	/* The moved page can be written (it is ours alone) and COW state is right. */
	store8(t, b + 8, 42);
	assert_int_equal(load8(t, b + 8), 42);
	mm_check(t->mm);
	reap_all();
}

static void test_contents_dontneed_brk_populate(void **state)
{
	struct task *t = boot_and_spawn();
	const uintptr_t a = 0x500000000UL;
	uintptr_t heap = t->mm->start_brk;
	long p;

	assert_int_equal(mmap_anon(t, a, 4 * PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED), a);
	assert_int_equal(emu_fill_user(t, a, 0x77, 4 * PG), 0);
	assert_int_equal(sys_madvise(t, a + PG, 2 * PG, KMM_MADV_DONTNEED), 0);
	assert_int_equal(load8(t, a), 0x7777777777777777ULL);
	assert_int_equal(load8(t, a + PG), 0);
	assert_int_equal(load8(t, a + 2 * PG + 100 * 8), 0);
	assert_int_equal(load8(t, a + 3 * PG), 0x7777777777777777ULL);
	/* Reads of the dropped pages map the zero page: no anonymous page yet. */
	assert_int_equal(get_mm_counter(t->mm, MM_ANONPAGES), 2);

	/* The heap: data written, the break lowered and raised: zeroes. */
	assert_int_equal(sys_brk(t, heap + 2 * PG), heap + 2 * PG);
	store8(t, heap + PG, 99);
	assert_int_equal(sys_brk(t, heap + PG), heap + PG);
	assert_int_equal(sys_brk(t, heap + 2 * PG), heap + 2 * PG);
	assert_int_equal(load8(t, heap + PG), 0);

	/* MAP_POPULATE: every page present before the first access. */
	p = mmap_anon(t, 0, 16 * PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_POPULATE);
	assert_true(p > 0);
	/* Two pages kept by DONTNEED, none on the heap (its page went with brk), 16 here. */
	assert_int_equal(get_mm_counter(t->mm, MM_ANONPAGES), 2 + 16);
	for (int i = 0; i < 16; i++)
		assert_non_null(pte_lookup(t->mm, (uintptr_t)p + i * PG));
	/* Nothing to populate in a PROT_NONE mapping; shared ones fill their object. */
	assert_true(mmap_anon(t, 0, 4 * PG, KMM_PROT_NONE, KMM_MAP_PRIVATE | KMM_MAP_POPULATE) > 0);
	assert_int_equal(get_mm_counter(t->mm, MM_ANONPAGES), 18);
	p = mmap_anon(t, 0, 3 * PG, PROT_RW, KMM_MAP_SHARED | KMM_MAP_POPULATE);
	assert_true(p > 0);
	assert_int_equal(get_mm_counter(t->mm, MM_SHMEMPAGES), 3);
	mm_check(t->mm);
	reap_all();
}

static void test_tables_freed_by_munmap(void **state)
{
	struct task *t = boot_and_spawn();
	long before, after_touch;
	/* Far from everything: its own PDPT, PD and PT. */
	const uintptr_t far = 0x200000000000UL;

	assert_int_equal(emu_store(t, STACK_TOP - 8, 8, 1), 0);
	before = atomic_load(&t->mm->pgtables_bytes);
	assert_int_equal(mmap_anon(t, far, 2 * PG, PROT_RW, KMM_MAP_PRIVATE | KMM_MAP_FIXED), far);
	store8(t, far, 1);
	store8(t, far + PG, 2);
	after_touch = atomic_load(&t->mm->pgtables_bytes);
	assert_int_equal(after_touch - before, 3 * (long)PG);
	/* Half of it: the table still maps the other page. */
	assert_int_equal(sys_munmap(t, far, PG), 0);
	assert_int_equal(atomic_load(&t->mm->pgtables_bytes), after_touch);
	assert_int_equal(sys_munmap(t, far + PG, PG), 0);
	assert_int_equal(atomic_load(&t->mm->pgtables_bytes), before);
	/* Neighbours keep tables they share: a page next to the stack. */
	assert_int_equal(mmap_anon(t, STACK_TOP - 256 * KiB - STACK_GUARD_GAP - PG, PG, PROT_RW,
				   KMM_MAP_PRIVATE | KMM_MAP_FIXED),
			 STACK_TOP - 256 * KiB - STACK_GUARD_GAP - PG);
	store8(t, STACK_TOP - 256 * KiB - STACK_GUARD_GAP - PG, 3);
	assert_int_equal(sys_munmap(t, STACK_TOP - 256 * KiB - STACK_GUARD_GAP - PG, PG), 0);
	assert_int_equal(load8(t, STACK_TOP - 8), 1);
	mm_check(t->mm);
	reap_all();
}

static void test_stack_grows_on_fault(void **state)
{
	struct task *t = boot_and_spawn(), *u;
	const uintptr_t bottom = STACK_TOP - 128 * KiB;
	struct vm_area *stack = vma_lookup(t->mm, STACK_TOP - PG);

	store8(t, bottom - 3 * PG + 8, 7);
	assert_int_equal(stack->vm_start, bottom - 3 * PG);
	assert_int_equal(load8(t, bottom - 3 * PG + 8), 7);
	assert_int_equal(t->mm->stack_vm, 35);
	/* Past the stack limit: SIGSEGV, and the stack stays as it was. */
	assert_int_equal(task_fork(t, &u), 0);
	assert_int_equal(emu_store(u, STACK_TOP - 8 * MiB - PG, 8, 1), -KMM_EFAULT);
	assert_int_equal(u->exit_signal, KMM_SIGSEGV);
	assert_int_equal(u->fault_code, KMM_SEGV_MAPERR);
	vma_check(t->mm);
	reap_all();
}

static void test_exec_drops_contents(void **state)
{
	struct task *t = boot_and_spawn();
	long a = mmap_anon(t, 0, PG, PROT_RW, KMM_MAP_PRIVATE);

	store8(t, (uintptr_t)a, 5);
	store8(t, STACK_TOP - 8, 6);
	assert_int_equal(task_exec(t), 0);
	assert_int_equal(get_mm_counter(t->mm, MM_ANONPAGES), 0);
	assert_int_equal(load8(t, STACK_TOP - 8), 0);
	assert_int_equal(emu_load(t, (uintptr_t)a, 8, &(uint64_t){ 0 }), -KMM_EFAULT);
	assert_int_equal(t->fault_code, KMM_SEGV_MAPERR);
	reap_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_fresh_layout, th_teardown),
		cmocka_unit_test_teardown(test_mmap_placement_and_merge, th_teardown),
		cmocka_unit_test_teardown(test_mmap_errors, th_teardown),
		cmocka_unit_test_teardown(test_mmap_fixed, th_teardown),
		cmocka_unit_test_teardown(test_munmap, th_teardown),
		cmocka_unit_test_teardown(test_mprotect, th_teardown),
		cmocka_unit_test_teardown(test_mremap, th_teardown),
		cmocka_unit_test_teardown(test_brk, th_teardown),
		cmocka_unit_test_teardown(test_madvise, th_teardown),
		cmocka_unit_test_teardown(test_expand_stack, th_teardown),
		cmocka_unit_test_teardown(test_contents_protection_and_unmap, th_teardown),
		cmocka_unit_test_teardown(test_contents_mremap, th_teardown),
		cmocka_unit_test_teardown(test_contents_dontneed_brk_populate, th_teardown),
		cmocka_unit_test_teardown(test_tables_freed_by_munmap, th_teardown),
		cmocka_unit_test_teardown(test_stack_grows_on_fault, th_teardown),
		cmocka_unit_test_teardown(test_exec_drops_contents, th_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
