/*
 * The area set (mm/vma.c) against a reference: a sorted array of areas
 * that the test keeps by the simplest possible code. Random sequences of
 * insert, split, merge, unlink, lookup and free-range search run on both,
 * and after every step the set must equal the array and vma_check (tree
 * shape, order, augmented gaps, counters) must pass. Directed tests pin
 * the cases a random run may miss: the guard gap below a stack, the hint,
 * the floor and ceiling of the search, merge rules, the counters.
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

#define MACHINE (64 * MiB)
#define PG PAGE_SIZE

/* Frames free in the buddy allocator once caches and CPU lists are emptied. */
static unsigned long settled_free(void)
{
	shrink_slab(GFP_KERNEL, 0);
	drain_all_pages();
	return nr_free_pages();
}

static struct mm *new_mm(void)
{
	struct mm *mm = mm_alloc();

	assert_non_null(mm);
	return mm;
}

static struct vm_area *add(struct mm *mm, uintptr_t start, uintptr_t end,
			   unsigned long flags, unsigned long pgoff)
{
	struct vm_area *vma = vm_area_alloc(mm);
	int err;

	assert_non_null(vma);
	vma->vm_start = start;
	vma->vm_end = end;
	vma->vm_flags = flags;
	vma->vm_pgoff = pgoff;
	write_lock(&mm->mmap_lock);
	err = vma_link(mm, vma);
	write_unlock(&mm->mmap_lock);
	assert_int_equal(err, 0);
	return vma;
}

#define RW (VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC)
#define RO (VM_READ | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC)
#define RX (VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC)
#define STACK (RW | VM_GROWSDOWN)

/* ---- Directed tests ---- */

static void test_lookup_and_neighbours(void **state)
{
	struct mm *mm;
	struct vm_area *a, *b, *c;

	th_boot(MACHINE, 1, EMU_DET);
	mm = new_mm();
	assert_null(find_vma(mm, 0));
	b = add(mm, 0x200000, 0x204000, RW, 0x200);
	a = add(mm, 0x100000, 0x101000, RO, 0x100);
	c = add(mm, 0x300000, 0x310000, RX, 0x300);
	vma_check(mm);
	assert_int_equal(mm->map_count, 3);
	assert_ptr_equal(find_vma(mm, 0), a);
	assert_ptr_equal(find_vma(mm, 0x100fff), a);
	assert_ptr_equal(find_vma(mm, 0x101000), b);
	assert_ptr_equal(find_vma(mm, 0x30ffff), c);
	assert_null(find_vma(mm, 0x310000));
	assert_null(vma_lookup(mm, 0x101000));
	assert_ptr_equal(vma_lookup(mm, 0x203fff), b);
	assert_ptr_equal(vma_next(mm, a), b);
	assert_ptr_equal(vma_prev(mm, b), a);
	assert_null(vma_prev(mm, a));
	assert_null(vma_next(mm, c));
	assert_ptr_equal(vma_next(mm, NULL), a);
	assert_ptr_equal(vma_prev(mm, NULL), c);

	/* Counters, as Linux counts them: exec, data (private writable), the rest. */
	assert_int_equal(mm->total_vm, 1 + 4 + 16);
	assert_int_equal(mm->data_vm, 4);
	assert_int_equal(mm->exec_vm, 16);
	assert_int_equal(mm->stack_vm, 0);

	/* Overlaps and bad ranges are refused. */
	{
		struct vm_area *v = vm_area_alloc(mm);

		v->vm_start = 0x203000;
		v->vm_end = 0x205000;
		v->vm_flags = RW;
		assert_int_equal(vma_link(mm, v), -KMM_EEXIST);
		v->vm_start = 0x205000;
		v->vm_end = 0x205000;
		assert_int_equal(vma_link(mm, v), -KMM_EINVAL);
		v->vm_end = 0x205800;
		assert_int_equal(vma_link(mm, v), -KMM_EINVAL);
		vm_area_free(v);
	}
	vma_check(mm);
	mmput(mm);
	th_shutdown();
}

static void test_split_and_merge(void **state)
{
	struct mm *mm;
	struct vm_area *a, *lo, *hi;

	th_boot(MACHINE, 1, EMU_DET);
	mm = new_mm();
	a = add(mm, 0x400000, 0x410000, RW, 0x400);
	write_lock(&mm->mmap_lock);
	assert_int_equal(split_vma(mm, a, 0x400000, false), -KMM_EINVAL);
	assert_int_equal(split_vma(mm, a, 0x410000, false), -KMM_EINVAL);
	assert_int_equal(split_vma(mm, a, 0x404800, false), -KMM_EINVAL);
	assert_int_equal(split_vma(mm, a, 0x404000, true), 0);
	write_unlock(&mm->mmap_lock);
	vma_check(mm);
	lo = vma_lookup(mm, 0x400000);
	hi = vma_lookup(mm, 0x404000);
	assert_ptr_equal(hi, a);
	assert_true(lo != hi);
	assert_int_equal(lo->vm_end, 0x404000);
	assert_int_equal(lo->vm_pgoff, 0x400);
	assert_int_equal(hi->vm_pgoff, 0x404);
	assert_int_equal(mm->map_count, 2);
	assert_int_equal(mm->total_vm, 16);

	/* The two halves are compatible: merging either gives the whole area back. */
	write_lock(&mm->mmap_lock);
	a = vma_merge_neighbours(mm, hi);
	write_unlock(&mm->mmap_lock);
	assert_ptr_equal(a, lo);
	assert_int_equal(a->vm_start, 0x400000);
	assert_int_equal(a->vm_end, 0x410000);
	assert_int_equal(mm->map_count, 1);
	vma_check(mm);

	/* Different flags, offsets or shared objects keep areas apart. */
	write_lock(&mm->mmap_lock);
	assert_int_equal(split_vma(mm, a, 0x408000, false), 0);
	hi = vma_next(mm, a);
	hi->vm_flags = RO;
	mm->data_vm -= 8;   /* keep the counters true after the direct change */
	assert_ptr_equal(vma_merge_neighbours(mm, hi), hi);
	hi->vm_flags = RW;
	mm->data_vm += 8;
	hi->vm_pgoff += 1;
	assert_ptr_equal(vma_merge_neighbours(mm, hi), hi);
	hi->vm_pgoff -= 1;
	assert_ptr_equal(vma_merge_neighbours(mm, hi), a);
	write_unlock(&mm->mmap_lock);
	assert_int_equal(mm->map_count, 1);
	vma_check(mm);
	mmput(mm);
	th_shutdown();
}

static void test_merge_anon_vma_rules(void **state)
{
	struct mm *mm;
	struct vm_area *a, *b, *c;

	th_boot(MACHINE, 1, EMU_DET);
	mm = new_mm();
	a = add(mm, 0x400000, 0x401000, RW, 0x400);
	b = add(mm, 0x401000, 0x402000, RW, 0x401);
	c = add(mm, 0x402000, 0x403000, RW, 0x402);
	/* Faults give a and c anchors of their own: they cannot share one area. */
	assert_int_equal(anon_vma_prepare(a), 0);
	assert_int_equal(anon_vma_prepare(c), 0);
	assert_non_null(a->anon_vma);
	assert_true(a->anon_vma != c->anon_vma);
	write_lock(&mm->mmap_lock);
	/* b (no anchor) joins a; the result still differs from c. */
	assert_ptr_equal(vma_merge_neighbours(mm, b), a);
	write_unlock(&mm->mmap_lock);
	assert_int_equal(mm->map_count, 2);
	assert_int_equal(a->vm_end, 0x402000);
	assert_ptr_equal(vma_next(mm, a), c);
	vma_check(mm);

	/* An area without an anchor adopts its neighbour's when they merge. */
	b = add(mm, 0x403000, 0x404000, RW, 0x403);
	write_lock(&mm->mmap_lock);
	assert_ptr_equal(vma_merge_neighbours(mm, b), c);
	write_unlock(&mm->mmap_lock);
	assert_int_equal(c->vm_end, 0x404000);
	vma_check(mm);
	mmput(mm);
	th_shutdown();
}

static void test_unmapped_area_rules(void **state)
{
	struct mm *mm;
	const uintptr_t base = 0x7f0000000000UL;

	th_boot(MACHINE, 1, EMU_DET);
	mm = new_mm();
	mm->mmap_base = base;
	/* Empty: just below mmap_base. */
	assert_int_equal(get_unmapped_area(mm, 0, PG, 0), base - PG);
	assert_int_equal(get_unmapped_area(mm, 0, 3 * PG - 5, 0), base - 3 * PG);
	assert_int_equal(get_unmapped_area(mm, 0, 0, 0), -KMM_ENOMEM);
	assert_int_equal(get_unmapped_area(mm, 0, TASK_SIZE, 0), -KMM_ENOMEM);

	/* An area just below mmap_base pushes the next one under it. */
	add(mm, base - 4 * PG, base, RW, 0);
	assert_int_equal(get_unmapped_area(mm, 0, 2 * PG, 0), base - 6 * PG);
	/* A hole of one page is skipped for two pages, used for one. */
	add(mm, base - 10 * PG, base - 5 * PG, RW, 0);
	assert_int_equal(get_unmapped_area(mm, 0, PG, 0), base - 5 * PG);
	assert_int_equal(get_unmapped_area(mm, 0, 2 * PG, 0), base - 12 * PG);

	/* Hints: taken when free, else ignored; rounded up to a page. */
	assert_int_equal(get_unmapped_area(mm, 0x500000, PG, 0), 0x500000);
	assert_int_equal(get_unmapped_area(mm, 0x500001, PG, 0), 0x501000);
	assert_int_equal(get_unmapped_area(mm, base - 12 * PG, 2 * PG, 0), base - 12 * PG);
	assert_int_equal(get_unmapped_area(mm, base - 11 * PG, 2 * PG, 0), base - 12 * PG);
	assert_int_equal(get_unmapped_area(mm, base - 3 * PG, PG, 0), base - 5 * PG);
	/* Below the floor or past the ceiling: ignored. */
	assert_int_equal(get_unmapped_area(mm, 0x1000, PG, 0), base - 5 * PG);
	assert_int_equal(get_unmapped_area(mm, TASK_SIZE - PG, 2 * PG, 0), base - 12 * PG);
	vma_check(mm);
	mmput(mm);

	/* A stack keeps STACK_GUARD_GAP free below it, from the search and from hints. */
	mm = new_mm();
	mm->mmap_base = base;
	add(mm, base - 8 * PG, base, STACK, 0);
	assert_int_equal(get_unmapped_area(mm, 0, PG, 0), base - 8 * PG - STACK_GUARD_GAP - PG);
	assert_int_equal(get_unmapped_area(mm, base - 9 * PG, PG, 0),
			 base - 8 * PG - STACK_GUARD_GAP - PG);
	assert_int_equal(get_unmapped_area(mm, base - 8 * PG - STACK_GUARD_GAP - PG, PG, 0),
			 base - 8 * PG - STACK_GUARD_GAP - PG);
	/* An area right at the gap's edge: the next request goes below it. */
	add(mm, base - 8 * PG - STACK_GUARD_GAP - 4 * PG, base - 8 * PG - STACK_GUARD_GAP, RW, 0);
	assert_int_equal(get_unmapped_area(mm, 0, PG, 0),
			 base - 8 * PG - STACK_GUARD_GAP - 5 * PG);
	vma_check(mm);

	/* MAP_FIXED: the address itself, checked only for range and alignment. */
	assert_int_equal(get_unmapped_area(mm, base - PG, PG, KMM_MAP_FIXED), base - PG);
	assert_int_equal(get_unmapped_area(mm, 0x1234, PG, KMM_MAP_FIXED), -KMM_EINVAL);
	assert_int_equal(get_unmapped_area(mm, TASK_SIZE - PG, 2 * PG, KMM_MAP_FIXED),
			 -KMM_ENOMEM);
	mmput(mm);
	th_shutdown();
}

static void test_unmapped_area_floor_and_fallback(void **state)
{
	struct mm *mm;
	const uintptr_t base = 0x1000000UL;

	th_boot(MACHINE, 1, EMU_DET);
	mm = new_mm();
	mm->mmap_base = base;
	/* Fill [floor, base) but one page at the floor. */
	add(mm, MMAP_MIN_ADDR + PG, base, RW, 0);
	assert_int_equal(get_unmapped_area(mm, 0, PG, 0), MMAP_MIN_ADDR);
	/* Nothing below mmap_base fits two pages: the search goes above it. */
	assert_int_equal(get_unmapped_area(mm, 0, 2 * PG, 0), TASK_SIZE - 2 * PG);
	add(mm, MMAP_MIN_ADDR, MMAP_MIN_ADDR + PG, RW, 0);
	assert_int_equal(get_unmapped_area(mm, 0, PG, 0), TASK_SIZE - PG);
	/* Nothing at all: ENOMEM. */
	add(mm, base, TASK_SIZE, RO, 0);
	assert_int_equal(get_unmapped_area(mm, 0, PG, 0), -KMM_ENOMEM);
	vma_check(mm);
	mmput(mm);
	th_shutdown();
}

static void test_dup_and_free(void **state)
{
	struct mm *mm;
	struct vm_area *a, *copy;

	th_boot(MACHINE, 1, EMU_DET);
	mm = new_mm();
	a = add(mm, 0x400000, 0x402000, RW, 0x400);
	assert_int_equal(anon_vma_prepare(a), 0);
	assert_int_equal(atomic_load(&a->anon_vma->refcount), 1);
	copy = vm_area_dup(a);
	assert_non_null(copy);
	assert_ptr_equal(copy->anon_vma, a->anon_vma);
	assert_int_equal(atomic_load(&a->anon_vma->refcount), 2);
	assert_int_equal(copy->vm_start, a->vm_start);
	vm_area_free(copy);
	assert_int_equal(atomic_load(&a->anon_vma->refcount), 1);
	vma_check(mm);
	mmput(mm);
	th_shutdown();
}

/* ---- The reference ---- */

#define MAXA 512

struct ref_area {
	uintptr_t start, end;
	unsigned long flags, pgoff;
	struct anon_vma *av;   /* the anchor kmm's area must hold (NULL: none) */
};

struct ref {
	struct ref_area a[MAXA];
	int n;
};

static int ref_find(const struct ref *r, uintptr_t addr)   /* first with end > addr */
{
	for (int i = 0; i < r->n; i++)
		if (r->a[i].end > addr)
			return i;
	return -1;
}

static bool ref_overlaps(const struct ref *r, uintptr_t s, uintptr_t e)
{
	int i = ref_find(r, s);

	return i >= 0 && r->a[i].start < e;
}

static void ref_insert(struct ref *r, struct ref_area x)
{
	int i = 0;

	while (i < r->n && r->a[i].start < x.start)
		i++;
	memmove(&r->a[i + 1], &r->a[i], (size_t)(r->n - i) * sizeof(x));
	r->a[i] = x;
	r->n++;
}

static void ref_remove(struct ref *r, int i)
{
	memmove(&r->a[i], &r->a[i + 1], (size_t)(r->n - i - 1) * sizeof(r->a[0]));
	r->n--;
}

static bool ref_mergeable(const struct ref_area *a, const struct ref_area *b)
{
	return a->end == b->start && a->flags == b->flags &&
	       a->pgoff + ((a->end - a->start) / PG) == b->pgoff &&
	       (!a->av || !b->av || a->av == b->av);
}

static int ref_merge(struct ref *r, int i)
{
	if (i > 0 && ref_mergeable(&r->a[i - 1], &r->a[i])) {
		r->a[i - 1].end = r->a[i].end;
		if (!r->a[i - 1].av)
			r->a[i - 1].av = r->a[i].av;
		ref_remove(r, i);
		i--;
	}
	if (i + 1 < r->n && ref_mergeable(&r->a[i], &r->a[i + 1])) {
		r->a[i].end = r->a[i + 1].end;
		if (!r->a[i].av)
			r->a[i].av = r->a[i + 1].av;
		ref_remove(r, i + 1);
	}
	return i;
}

static uintptr_t start_gap(const struct ref_area *a)
{
	if (!(a->flags & VM_GROWSDOWN))
		return a->start;
	return a->start > STACK_GUARD_GAP ? a->start - STACK_GUARD_GAP : 0;
}

/* The brute-force search: every gap, highest first. */
static long ref_topdown(const struct ref *r, size_t len, uintptr_t low, uintptr_t high)
{
	for (int i = r->n; i >= 0; i--) {
		uintptr_t lo = i > 0 ? r->a[i - 1].end : 0;
		uintptr_t hi = i < r->n ? start_gap(&r->a[i]) : TASK_SIZE;

		lo = lo > low ? lo : low;
		hi = hi < high ? hi : high;
		if (hi > lo && hi - lo >= len)
			return (long)(hi - len);
	}
	return -KMM_ENOMEM;
}

static long ref_unmapped_area(const struct ref *r, uintptr_t base, uintptr_t hint, size_t len)
{
	long addr;

	len = ALIGN_UP(len, PG);
	if (hint) {
		const struct ref_area *next, *prev;
		int i;

		hint = ALIGN_UP(hint, PG);
		i = ref_find(r, hint);
		next = i >= 0 ? &r->a[i] : NULL;
		prev = i > 0 ? &r->a[i - 1] : (i < 0 && r->n ? &r->a[r->n - 1] : NULL);
		if (hint >= MMAP_MIN_ADDR && hint <= TASK_SIZE - len &&
		    (!next || hint + len <= start_gap(next)) && (!prev || hint >= prev->end))
			return (long)hint;
	}
	addr = ref_topdown(r, len, MMAP_MIN_ADDR, base);
	if (addr < 0)
		addr = ref_topdown(r, len, MMAP_MIN_ADDR, TASK_SIZE);
	return addr;
}

static void compare(struct mm *mm, const struct ref *r)
{
	struct vm_area *vma;
	int i = 0;

	vma_check(mm);
	list_for_each_entry(vma, &mm->mmap, vm_list) {
		assert_true(i < r->n);
		if (vma->anon_vma != r->a[i].av)
			fail_msg("area %d (%#lx-%#lx): anon_vma %p, reference %p", i,
				 vma->vm_start, vma->vm_end, (void *)vma->anon_vma,
				 (void *)r->a[i].av);
		if (vma->vm_start != r->a[i].start || vma->vm_end != r->a[i].end ||
		    vma->vm_flags != r->a[i].flags || vma->vm_pgoff != r->a[i].pgoff)
			fail_msg("area %d: kmm %#lx-%#lx flags %#lx pgoff %#lx, reference "
				 "%#lx-%#lx flags %#lx pgoff %#lx", i, vma->vm_start,
				 vma->vm_end, vma->vm_flags, vma->vm_pgoff, r->a[i].start,
				 r->a[i].end, r->a[i].flags, r->a[i].pgoff);
		i++;
	}
	assert_int_equal(i, r->n);
	assert_int_equal(mm->map_count, r->n);
}

static uint64_t rnd(uint64_t n)
{
	return emu_random() % n;
}

static void random_run(uint64_t seed, int steps)
{
	static struct ref r;
	struct emu_config cfg;
	struct mm *mm;
	/* A window of 8192 pages with stacks and a heap-like mix of flags. */
	const uintptr_t win = 0x10000000UL, win_pages = 8192;
	const unsigned long flag_set[] = { RW, RW, RO, RX, STACK };
	unsigned long before_free;

	th_config(&cfg, MACHINE, 1, EMU_DET);
	cfg.seed = seed;
	th_boot_cfg(&cfg);
	before_free = settled_free();
	mm = new_mm();
	mm->mmap_base = win + win_pages * PG;
	r.n = 0;

	for (int step = 0; step < steps; step++) {
		unsigned int op = (unsigned int)rnd(100);

		if (op < 35 && r.n < MAXA - 2) {
			/* Insert: often adjacent to an existing area, so merges happen. */
			uintptr_t start = win + rnd(win_pages) * PG;
			uintptr_t len = (1 + rnd(rnd(4) ? 8 : 300)) * PG;
			struct ref_area x;
			struct vm_area *vma;
			int err;

			if (r.n && rnd(2)) {
				const struct ref_area *o = &r.a[rnd((uint64_t)r.n)];
				start = rnd(2) ? o->end : (o->start > len ? o->start - len : o->start);
			}
			x.start = start;
			x.end = start + len;
			x.flags = flag_set[rnd(ARRAY_SIZE(flag_set))];
			x.pgoff = rnd(8) ? start / PG : rnd(1000);
			x.av = NULL;
			vma = vm_area_alloc(mm);
			assert_non_null(vma);
			vma->vm_start = x.start;
			vma->vm_end = x.end;
			vma->vm_flags = x.flags;
			vma->vm_pgoff = x.pgoff;
			write_lock(&mm->mmap_lock);
			err = vma_link(mm, vma);
			if (ref_overlaps(&r, x.start, x.end)) {
				assert_int_equal(err, -KMM_EEXIST);
				vm_area_free(vma);
			} else {
				assert_int_equal(err, 0);
				ref_insert(&r, x);
				if (rnd(2)) {
					struct vm_area *m = vma_merge_neighbours(mm, vma);
					int i = ref_merge(&r, ref_find(&r, x.start));
					assert_int_equal(m->vm_start, r.a[i].start);
				}
			}
			write_unlock(&mm->mmap_lock);
		} else if (op < 55 && r.n && r.n < MAXA - 2) {
			/* Split at a random page inside an area. */
			int i = (int)rnd((uint64_t)r.n);
			struct ref_area *a = &r.a[i];
			uintptr_t pages = (a->end - a->start) / PG;
			struct vm_area *vma = vma_lookup(mm, a->start);
			bool below = rnd(2);

			assert_non_null(vma);
			if (pages < 2)
				continue;
			{
				uintptr_t at = a->start + (1 + rnd(pages - 1)) * PG;
				struct ref_area upper = *a;
				struct vm_area *lo, *hi;

				write_lock(&mm->mmap_lock);
				assert_int_equal(split_vma(mm, vma, at, below), 0);
				write_unlock(&mm->mmap_lock);
				upper.start = at;
				upper.pgoff = a->pgoff + (at - a->start) / PG;
				a->end = at;
				ref_insert(&r, upper);
				lo = vma_lookup(mm, at - PG);
				hi = vma_lookup(mm, at);
				/* new_below: the original descriptor keeps the upper part. */
				assert_ptr_equal(below ? hi : lo, vma);
			}
		} else if (op < 70 && r.n) {
			int i = (int)rnd((uint64_t)r.n);
			struct vm_area *vma = vma_lookup(mm, r.a[i].start);
			struct vm_area *m;

			write_lock(&mm->mmap_lock);
			m = vma_merge_neighbours(mm, vma);
			write_unlock(&mm->mmap_lock);
			i = ref_merge(&r, i);
			assert_int_equal(m->vm_start, r.a[i].start);
			assert_int_equal(m->vm_end, r.a[i].end);
		} else if (op < 85 && r.n) {
			int i = (int)rnd((uint64_t)r.n);
			struct vm_area *vma = vma_lookup(mm, r.a[i].start);

			write_lock(&mm->mmap_lock);
			vma_unlink(mm, vma);
			write_unlock(&mm->mmap_lock);
			vm_area_free(vma);
			ref_remove(&r, i);
		} else if (op < 88 && r.n) {
			/* A first private fault: the area gets an anchor of its own. */
			int i = (int)rnd((uint64_t)r.n);
			struct vm_area *vma = vma_lookup(mm, r.a[i].start);

			assert_int_equal(anon_vma_prepare(vma), 0);
			if (!r.a[i].av)
				r.a[i].av = vma->anon_vma;
			assert_ptr_equal(vma->anon_vma, r.a[i].av);
		} else if (op < 93) {
			/* Free-range search, with or without a hint. */
			size_t len = (1 + rnd(rnd(4) ? 16 : 2000)) * PG - rnd(PG);
			uintptr_t hint = rnd(3) ? 0 : win + rnd(win_pages + 100) * PG + rnd(2);
			long got = get_unmapped_area(mm, hint, len, 0);
			long want = ref_unmapped_area(&r, mm->mmap_base, hint, len);

			if (got != want)
				fail_msg("step %d: get_unmapped_area(hint %#lx, len %#zx) = %#lx, "
					 "reference %#lx", step, hint, len, got, want);
		} else {
			/* Lookups at random addresses, edges included. */
			for (int k = 0; k < 8; k++) {
				uintptr_t addr = win - PG + rnd(win_pages + 2) * PG + rnd(3) * (PG / 2 - 1);
				int i = ref_find(&r, addr);
				struct vm_area *vma = find_vma(mm, addr);

				if (i < 0) {
					assert_null(vma);
				} else {
					assert_non_null(vma);
					assert_int_equal(vma->vm_start, r.a[i].start);
				}
				vma = vma_lookup(mm, addr);
				if (i >= 0 && r.a[i].start <= addr)
					assert_int_equal(vma->vm_start, r.a[i].start);
				else
					assert_null(vma);
			}
		}
		compare(mm, &r);
	}
	mmput(mm);
	/* Every descriptor and table went back. */
	assert_int_equal(settled_free(), before_free);
	th_shutdown();
}

static void test_random_against_reference(void **state)
{
	for (uint64_t seed = 1; seed <= 8; seed++)
		random_run(seed, 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_lookup_and_neighbours, th_teardown),
		cmocka_unit_test_teardown(test_split_and_merge, th_teardown),
		cmocka_unit_test_teardown(test_merge_anon_vma_rules, th_teardown),
		cmocka_unit_test_teardown(test_unmapped_area_rules, th_teardown),
		cmocka_unit_test_teardown(test_unmapped_area_floor_and_fallback, th_teardown),
		cmocka_unit_test_teardown(test_dup_and_free, th_teardown),
		cmocka_unit_test_teardown(test_random_against_reference, th_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
