/*
 * Page tables, the fault handler and the emulated MMU (mm/memory.c,
 * arch/emu/mmu.c) on a deterministic machine, driven through the task API:
 * mmap and friends make areas, emu_load/emu_store fault pages in.
 *
 * What is checked: the zero page (mapped on read, never written), demand
 * zero, frames zeroed between tasks, copy-on-write isolation across fork
 * chains, reuse by the last sharer (counted by pages allocated, not by
 * timing), shared anonymous memory, page-table frames freed when emptied,
 * SIGSEGV with MAPERR/ACCERR and the address, NX, stack growth, the A/D
 * bits, stale TLB entries and their flush, the switch between mms, lazy
 * flushes of other CPUs, out-of-memory faults, and after every test that
 * every frame is back. mm_rmap_check (every page's map count against every
 * page table) and task_check_all run after each step that changes mappings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <kmm/emu.h>
#include <kmm/errno.h>
#include <kmm/fault_inject.h>
#include <kmm/kmm.h>
#include <kmm/mm.h>
#include <kmm/mman.h>
#include <kmm/page_alloc.h>
#include <kmm/shrinker.h>
#include <kmm/slab.h>
#include <kmm/vmstat.h>

#include "helpers.h"

#define MACHINE (64 * MiB)
#define PG PAGE_SIZE
#define PRIV (KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS)
#define SHARED (KMM_MAP_SHARED | KMM_MAP_ANONYMOUS)
#define RW (KMM_PROT_READ | KMM_PROT_WRITE)

static unsigned long base_free;

static unsigned long settled_free(void)
{
	shrink_slab(GFP_KERNEL, 0);
	drain_all_pages();
	return nr_free_pages();
}

static int setup(void **state)
{
	th_boot(MACHINE, 2, EMU_DET);
	base_free = settled_free();
	return 0;
}

static void check_all(void)
{
	mm_rmap_check();
	task_check_all();
	page_alloc_check();
	slab_check();
}

/* Every frame is back once all tasks are gone. */
static void assert_all_back(void)
{
	check_all();
	assert_int_equal(task_count(), 0);
	assert_int_equal(settled_free(), base_free);
}

static struct task *spawn(void)
{
	struct task *t;

	assert_int_equal(task_spawn("t", &t), 0);
	return t;
}

static struct task *fork_of(struct task *p)
{
	struct task *c;

	assert_int_equal(task_fork(p, &c), 0);
	return c;
}

static void finish(struct task *t)
{
	task_exit(t, 0);
	task_release(t);
}

static uintptr_t map_at(struct task *t, uintptr_t addr, size_t len, int prot, int flags)
{
	long a = sys_mmap(t, addr, len, prot, flags, -1, 0);

	assert_true(a > 0);
	return (uintptr_t)a;
}

static uintptr_t map(struct task *t, size_t len, int prot, int flags)
{
	return map_at(t, 0, len, prot, flags);
}

static uint64_t ld(struct task *t, uintptr_t va)
{
	uint64_t v = 0;

	assert_int_equal(emu_load(t, va, 8, &v), 0);
	return v;
}

static void st(struct task *t, uintptr_t va, uint64_t v)
{
	assert_int_equal(emu_store(t, va, 8, v), 0);
}

static pteval_t pte_of(struct task *t, uintptr_t va)
{
	pteval_t *p = pte_lookup(t->mm, va);

	return p ? pte_read(p) : 0;
}

static struct page *page_of(struct task *t, uintptr_t va)
{
	pteval_t e = pte_of(t, va);

	assert_true(pte_present(e));
	return pfn_to_page(pte_pfn(e));
}

static unsigned long pages_allocated(void)
{
	return vm_event_sum(PGALLOC_DMA) + vm_event_sum(PGALLOC_DMA32) +
	       vm_event_sum(PGALLOC_NORMAL);
}

static bool zero_page_is_zero(void)
{
	const uint64_t *p = page_address(zero_page);

	for (unsigned int i = 0; i < PG / 8; i++)
		if (p[i])
			return false;
	return true;
}

/* The task died of sig/code at addr. */
static void assert_killed(struct task *t, int sig, int code, uintptr_t addr)
{
	assert_int_equal(t->state, TASK_DEAD);
	assert_int_equal(t->exit_signal, sig);
	assert_int_equal(t->fault_code, code);
	assert_int_equal(t->fault_addr, addr);
}

/* ---- Demand paging and the zero page ---- */

static void test_read_maps_zero_page_write_allocates(void **state)
{
	struct task *t = spawn();
	uintptr_t a = map(t, 4 * PG, RW, PRIV);
	unsigned long zf = vm_event_sum(PGZEROFAULT), pf = vm_event_sum(PGFAULT);
	long anon = get_mm_counter(t->mm, MM_ANONPAGES);
	pteval_t e;

	assert_int_equal(ld(t, a + 8), 0);
	e = pte_of(t, a);
	assert_true(pte_present(e) && pte_special(e) && !pte_write(e));
	assert_int_equal(pte_pfn(e), page_to_pfn(zero_page));
	assert_int_equal(vm_event_sum(PGZEROFAULT), zf + 1);
	assert_int_equal(get_mm_counter(t->mm, MM_ANONPAGES), anon);
	check_all();

	/* A write to the zero-mapped page gets a frame of its own, zeroed. */
	st(t, a + 16, 0x1122334455667788ULL);
	e = pte_of(t, a);
	assert_true(pte_present(e) && !pte_special(e) && pte_write(e) && pte_dirty(e));
	assert_int_not_equal(pte_pfn(e), page_to_pfn(zero_page));
	assert_int_equal(ld(t, a + 16), 0x1122334455667788ULL);
	assert_int_equal(ld(t, a + 8), 0);
	assert_int_equal(get_mm_counter(t->mm, MM_ANONPAGES), anon + 1);
	assert_true(zero_page_is_zero());

	/* A first write allocates directly, without the zero page. */
	st(t, a + PG, 7);
	assert_false(pte_special(pte_of(t, a + PG)));
	assert_int_equal(get_mm_counter(t->mm, MM_ANONPAGES), anon + 2);
	assert_int_equal(vm_event_sum(PGFAULT), pf + 3);
	assert_int_equal(t->min_flt >= 3, true);
	check_all();
	finish(t);
	assert_all_back();
}

static void test_zero_page_never_written(void **state)
{
	struct task *t = spawn(), *c;
	uintptr_t a = map(t, 64 * PG, RW, PRIV);
	uint8_t buf[3 * PG];

	for (unsigned int i = 0; i < 64; i++)
		assert_int_equal(ld(t, a + i * PG), 0);
	c = fork_of(t);
	/* Writes of every kind, through pages that map the zero page in both. */
	assert_int_equal(emu_fill_user(c, a, 0xff, 8 * PG), 0);
	memset(buf, 0xab, sizeof(buf));
	assert_int_equal(emu_copy_to_user(t, a + 10 * PG + 100, buf, sizeof(buf)), 0);
	assert_int_equal(emu_touch(t, a + 20 * PG, 4 * PG, true), 0);
	for (unsigned int i = 30; i < 64; i++)
		assert_int_equal(emu_store(c, a + i * PG + i, 1, 0x5a), 0);
	assert_true(zero_page_is_zero());
	/* And each side still reads zeros where the other wrote. */
	assert_int_equal(ld(t, a), 0);
	assert_int_equal(ld(c, a + 10 * PG + 128), 0);
	check_all();
	finish(c);
	finish(t);
	assert_true(zero_page_is_zero());
	assert_all_back();
}

static void test_freed_frames_are_zeroed_for_the_next_task(void **state)
{
	enum { N = 512 };
	static unsigned long pfns[N];
	struct task *a = spawn(), *b;
	uintptr_t va = map(a, N * PG, RW, PRIV);
	unsigned int reused = 0;
	uint64_t buf[PG / 8];

	assert_int_equal(emu_fill_user(a, va, 0xa5, N * PG), 0);
	for (unsigned int i = 0; i < N; i++)
		pfns[i] = pte_pfn(pte_of(a, va + i * PG));
	finish(a);

	b = spawn();
	va = map(b, N * PG, RW, PRIV);
	assert_int_equal(emu_touch(b, va, N * PG, true), 0);
	for (unsigned int i = 0; i < N; i++) {
		unsigned long pfn = pte_pfn(pte_of(b, va + i * PG));

		for (unsigned int j = 0; j < N; j++)
			if (pfns[j] == pfn) {
				reused++;
				break;
			}
		assert_int_equal(emu_copy_from_user(b, buf, va + i * PG, PG), 0);
		for (unsigned int k = 0; k < PG / 8; k++)
			assert_int_equal(buf[k], 0);
	}
	/* The test means something only if frames were recycled. */
	assert_true(reused > N / 2);
	finish(b);
	assert_all_back();
}

/* ---- Copy on write ---- */

static void test_cow_parent_and_child_isolated(void **state)
{
	struct task *p = spawn(), *c;
	uintptr_t a = map(p, 16 * PG, RW, PRIV);
	struct page *pg;

	for (unsigned int i = 0; i < 16; i++)
		st(p, a + i * PG, 100 + i);
	c = fork_of(p);
	/* Both map the same frames, read-only, each page mapped twice. */
	for (unsigned int i = 0; i < 16; i++) {
		assert_int_equal(pte_pfn(pte_of(p, a + i * PG)), pte_pfn(pte_of(c, a + i * PG)));
		assert_false(pte_write(pte_of(p, a + i * PG)));
		assert_false(pte_write(pte_of(c, a + i * PG)));
	}
	pg = page_of(p, a);
	assert_int_equal(atomic_load(&pg->_mapcount), 1);
	assert_int_equal(page_ref_count(pg), 2);
	check_all();

	for (unsigned int i = 0; i < 16; i += 2)
		st(c, a + i * PG, 200 + i);
	for (unsigned int i = 1; i < 16; i += 2)
		st(p, a + i * PG, 300 + i);
	for (unsigned int i = 0; i < 16; i++) {
		assert_int_equal(ld(p, a + i * PG), i % 2 ? 300 + i : 100 + i);
		assert_int_equal(ld(c, a + i * PG), i % 2 ? 100 + i : 200 + i);
	}
	assert_int_equal(c->cow_flt, 8);
	check_all();
	finish(p);
	/* The child still has everything after the parent is gone. */
	for (unsigned int i = 0; i < 16; i++)
		assert_int_equal(ld(c, a + i * PG), i % 2 ? 100 + i : 200 + i);
	check_all();
	finish(c);
	assert_all_back();
}

static void test_cow_chain_of_forks(void **state)
{
	enum { DEPTH = 6 };
	struct task *t[DEPTH];
	uintptr_t a;

	t[0] = spawn();
	a = map(t[0], 4 * PG, RW, PRIV);
	st(t[0], a, 1000);
	for (int i = 1; i < DEPTH; i++) {
		t[i] = fork_of(t[i - 1]);
		/* Each generation sees what its parent had at fork time. */
		assert_int_equal(ld(t[i], a), 1000 + (uint64_t)(i - 1));
		st(t[i], a, 1000 + (uint64_t)i);
		assert_int_equal(ld(t[i - 1], a), 1000 + (uint64_t)(i - 1));
		check_all();
	}
	for (int i = 0; i < DEPTH; i++)
		assert_int_equal(ld(t[i], a), 1000 + (uint64_t)i);
	/* Kill the middle of the chain: the others keep their pages. */
	finish(t[2]);
	finish(t[3]);
	for (int i = 0; i < DEPTH; i++)
		if (i != 2 && i != 3)
			assert_int_equal(ld(t[i], a), 1000 + (uint64_t)i);
	check_all();
	for (int i = 0; i < DEPTH; i++)
		if (i != 2 && i != 3)
			finish(t[i]);
	assert_all_back();
}

static void test_last_sharer_reuses_without_copy(void **state)
{
	struct task *p = spawn(), *c1, *c2;
	uintptr_t a = map(p, PG, RW, PRIV);
	unsigned long cow, alloc;
	struct page *orig;

	st(p, a, 1);
	orig = page_of(p, a);
	c1 = fork_of(p);
	c2 = fork_of(p);
	assert_int_equal(atomic_load(&orig->_mapcount), 2);

	/* Shared by three: a write copies (one frame allocated). */
	cow = vm_event_sum(PGCOWFAULT);
	alloc = pages_allocated();
	st(c1, a, 2);
	assert_int_equal(vm_event_sum(PGCOWFAULT), cow + 1);
	assert_int_equal(pages_allocated(), alloc + 1);
	assert_ptr_not_equal(page_of(c1, a), orig);

	/* Shared by two: still a copy. */
	alloc = pages_allocated();
	st(c2, a, 3);
	assert_int_equal(pages_allocated(), alloc + 1);
	assert_int_equal(atomic_load(&orig->_mapcount), 0);

	/* The parent is the last user: it takes the page back, no copy. */
	cow = vm_event_sum(PGCOWFAULT);
	alloc = pages_allocated();
	st(p, a, 4);
	assert_int_equal(vm_event_sum(PGCOWFAULT), cow + 1);
	assert_int_equal(pages_allocated(), alloc);
	assert_ptr_equal(page_of(p, a), orig);
	assert_true(pte_write(pte_of(p, a)));
	assert_int_equal(ld(p, a), 4);
	assert_int_equal(ld(c1, a), 2);
	assert_int_equal(ld(c2, a), 3);
	check_all();
	finish(c1);
	finish(c2);
	finish(p);
	assert_all_back();
}

static void test_cow_after_mprotect_stays_read_only(void **state)
{
	struct task *p = spawn(), *c;
	uintptr_t a = map(p, 2 * PG, RW, PRIV);

	st(p, a, 5);
	c = fork_of(p);
	assert_int_equal(sys_mprotect(p, a, 2 * PG, KMM_PROT_READ), 0);
	assert_int_equal(sys_mprotect(p, a, 2 * PG, RW), 0);
	/* Still shared with the child: mprotect must not make it writable. */
	assert_false(pte_write(pte_of(p, a)));
	st(p, a, 6);
	assert_int_equal(ld(c, a), 5);
	assert_int_equal(ld(p, a), 6);
	check_all();
	finish(c);
	finish(p);
	assert_all_back();
}

/* ---- Shared anonymous memory ---- */

static void test_shared_anonymous_seen_by_both(void **state)
{
	struct task *p = spawn(), *c;
	uintptr_t a = map(p, 8 * PG, RW, SHARED);

	st(p, a, 11);
	c = fork_of(p);
	assert_int_equal(ld(c, a), 11);
	st(c, a + PG, 22);              /* a page the parent never touched */
	st(c, a, 33);
	assert_int_equal(ld(p, a + PG), 22);
	assert_int_equal(ld(p, a), 33);
	/* Writable in both, same frame, counted as shmem. */
	assert_true(pte_write(pte_of(p, a)) && pte_write(pte_of(c, a)));
	assert_int_equal(pte_pfn(pte_of(p, a)), pte_pfn(pte_of(c, a)));
	assert_int_equal(get_mm_counter(p->mm, MM_SHMEMPAGES), 2);
	assert_int_equal(get_mm_counter(c->mm, MM_SHMEMPAGES), 2);
	check_all();
	/* Unmapped in the parent, the pages live on in the child. */
	assert_int_equal(sys_munmap(p, a, 8 * PG), 0);
	assert_int_equal(get_mm_counter(p->mm, MM_SHMEMPAGES), 0);
	assert_int_equal(ld(c, a + PG), 22);
	check_all();
	finish(c);
	finish(p);
	assert_all_back();
}

/* ---- Page-table frames ---- */

static void test_page_tables_freed_when_emptied(void **state)
{
	struct task *t = spawn();
	/* 512 GiB-aligned, far from the stack and the mmap base: new tables at every level. */
	uintptr_t a = 0x100000000000UL;
	long before = atomic_load(&t->mm->pgtables_bytes), after;
	unsigned long nr_pt;
	struct zone *z;

	map_at(t, a, 4 * PG, RW, PRIV | KMM_MAP_FIXED);
	assert_int_equal(atomic_load(&t->mm->pgtables_bytes), before);
	st(t, a, 1);
	after = atomic_load(&t->mm->pgtables_bytes);
	assert_int_equal(after - before, 3 * (long)PG);   /* PDPT, PD, PT */
	st(t, a + 3 * PG, 1);
	assert_int_equal(atomic_load(&t->mm->pgtables_bytes), after);
	check_all();
	/* A partial unmap keeps the table the rest still uses. */
	assert_int_equal(sys_munmap(t, a, PG), 0);
	assert_int_equal(atomic_load(&t->mm->pgtables_bytes), after);
	assert_int_equal(sys_munmap(t, a + PG, 3 * PG), 0);
	assert_int_equal(atomic_load(&t->mm->pgtables_bytes), before);
	nr_pt = 0;
	for_each_zone(z)
		nr_pt += zone_page_state(z, NR_PAGETABLE);
	assert_int_equal(nr_pt * PG, (unsigned long)before);
	check_all();
	finish(t);
	assert_all_back();
}

static void test_teardown_after_a_busy_life(void **state)
{
	struct task *t = spawn(), *c, *g;
	uintptr_t a = map(t, 256 * PG, RW, PRIV), s = map(t, 32 * PG, RW, SHARED);
	long r;

	assert_int_equal(emu_fill_user(t, a, 1, 256 * PG), 0);
	assert_int_equal(emu_fill_user(t, s, 2, 32 * PG), 0);
	c = fork_of(t);
	assert_int_equal(emu_fill_user(c, a + 64 * PG, 3, 64 * PG), 0);
	r = sys_mremap(c, a, 256 * PG, 512 * PG, KMM_MREMAP_MAYMOVE, 0);
	assert_true(r > 0);
	assert_int_equal(emu_touch(c, (uintptr_t)r, 512 * PG, true), 0);
	assert_int_equal(sys_mprotect(t, a, 128 * PG, KMM_PROT_READ), 0);
	g = fork_of(c);
	assert_int_equal(sys_madvise(g, (uintptr_t)r, 100 * PG, KMM_MADV_DONTNEED), 0);
	assert_int_equal(ld(g, (uintptr_t)r), 0);
	assert_int_equal(ld(c, (uintptr_t)r), 0x0101010101010101ULL);
	check_all();
	finish(t);
	check_all();
	finish(g);
	finish(c);
	assert_all_back();
}

static void test_mremap_carries_pages(void **state)
{
	struct task *t = spawn();
	uintptr_t a = map(t, 8 * PG, RW, PRIV), b;
	long r;

	for (unsigned int i = 0; i < 8; i++)
		st(t, a + i * PG, 0xbeef00 + i);
	/* Something right after it, so growing must move. */
	map_at(t, a + 8 * PG, PG, RW, PRIV | KMM_MAP_FIXED);
	r = sys_mremap(t, a, 8 * PG, 64 * PG, KMM_MREMAP_MAYMOVE, 0);
	assert_true(r > 0 && (uintptr_t)r != a);
	b = (uintptr_t)r;
	for (unsigned int i = 0; i < 8; i++)
		assert_int_equal(ld(t, b + i * PG), 0xbeef00 + i);
	assert_int_equal(ld(t, b + 40 * PG), 0);
	assert_int_equal(emu_load(t, a, 8, &(uint64_t){ 0 }), -KMM_EFAULT);
	assert_killed(t, KMM_SIGSEGV, KMM_SEGV_MAPERR, a);
	task_release(t);
	assert_all_back();
}

static void test_populate_and_dontneed(void **state)
{
	struct task *t = spawn();
	uintptr_t a = map(t, 32 * PG, RW, PRIV | KMM_MAP_POPULATE);
	struct emu_tlb_stats s0, s1;

	assert_int_equal(get_mm_counter(t->mm, MM_ANONPAGES), 32);
	emu_tlb_stats(&s0);
	assert_int_equal(emu_touch(t, a, 32 * PG, true), 0);
	emu_tlb_stats(&s1);
	assert_int_equal(s1.faults, s0.faults);   /* populated: no fault left */
	st(t, a + 5 * PG, 9);
	assert_int_equal(sys_madvise(t, a, 32 * PG, KMM_MADV_DONTNEED), 0);
	assert_int_equal(get_mm_counter(t->mm, MM_ANONPAGES), 0);
	assert_int_equal(ld(t, a + 5 * PG), 0);
	check_all();
	finish(t);
	assert_all_back();
}

/* ---- Signals ---- */

static void test_segv_maperr_and_accerr(void **state)
{
	struct task *t = spawn();
	uintptr_t ro = map(t, PG, KMM_PROT_READ, PRIV);
	uintptr_t none = map(t, PG, KMM_PROT_NONE, PRIV);
	uintptr_t hole = map(t, PG, RW, PRIV);
	uint64_t v;

	assert_int_equal(sys_munmap(t, hole, PG), 0);
	/* Unmapped: MAPERR at the exact byte. */
	assert_int_equal(emu_load(t, hole + 123, 4, &v), -KMM_EFAULT);
	assert_killed(t, KMM_SIGSEGV, KMM_SEGV_MAPERR, hole + 123);
	assert_int_equal(emu_load(t, ro, 4, &v), -KMM_EFAULT);   /* dead stays dead */
	task_release(t);

	t = spawn();
	ro = map(t, PG, KMM_PROT_READ, PRIV);
	assert_int_equal(ld(t, ro), 0);
	assert_int_equal(emu_store(t, ro + 8, 8, 1), -KMM_EFAULT);
	assert_killed(t, KMM_SIGSEGV, KMM_SEGV_ACCERR, ro + 8);
	task_release(t);

	t = spawn();
	none = map(t, PG, KMM_PROT_NONE, PRIV);
	assert_int_equal(emu_load(t, none + 1, 1, &v), -KMM_EFAULT);
	assert_killed(t, KMM_SIGSEGV, KMM_SEGV_ACCERR, none + 1);
	task_release(t);

	/* PROT_NONE after the page was mapped: the entry must stop user access. */
	t = spawn();
	none = map(t, PG, RW, PRIV);
	st(t, none, 1);
	assert_int_equal(sys_mprotect(t, none, PG, KMM_PROT_NONE), 0);
	assert_int_equal(emu_load(t, none, 8, &v), -KMM_EFAULT);
	assert_killed(t, KMM_SIGSEGV, KMM_SEGV_ACCERR, none);
	task_release(t);

	/* The kernel half and non-canonical addresses. */
	t = spawn();
	assert_int_equal(emu_load(t, 0xffff800000001000ULL, 8, &v), -KMM_EFAULT);
	assert_killed(t, KMM_SIGSEGV, KMM_SEGV_MAPERR, 0xffff800000001000ULL);
	task_release(t);

	/* Misuse is an error, not a fault. */
	t = spawn();
	assert_int_equal(emu_load(t, ro, 3, &v), -KMM_EINVAL);
	assert_int_equal(emu_store(t, ro, 16, 0), -KMM_EINVAL);
	assert_int_equal(emu_load(t, ro, 8, NULL), -KMM_EINVAL);
	assert_int_equal(emu_load(NULL, ro, 8, &v), -KMM_EFAULT);
	assert_int_equal(t->state, TASK_RUNNING);
	finish(t);
	assert_all_back();
}

static void test_nx(void **state)
{
	struct task *t = spawn();
	uintptr_t x = map(t, PG, KMM_PROT_READ | KMM_PROT_EXEC, PRIV);
	uintptr_t d = map(t, PG, RW, PRIV);

	assert_int_equal(emu_fetch(t, x + 16), 0);
	assert_false(pte_of(t, x) & _PAGE_NX);
	st(t, d, 0xc3);
	assert_true(pte_of(t, d) & _PAGE_NX);
	/* Readable, but not executable: a fetch is an access error. */
	assert_int_equal(emu_fetch(t, d), -KMM_EFAULT);
	assert_killed(t, KMM_SIGSEGV, KMM_SEGV_ACCERR, d);
	task_release(t);
	assert_all_back();
}

static void test_store_across_pages_is_all_or_nothing(void **state)
{
	struct task *t = spawn();
	uintptr_t a = map(t, 2 * PG, RW, PRIV);

	st(t, a + PG - 8, 0x1111111111111111ULL);
	assert_int_equal(sys_munmap(t, a + PG, PG), 0);
	assert_int_equal(emu_store(t, a + PG - 4, 8, 0x2222222222222222ULL), -KMM_EFAULT);
	assert_killed(t, KMM_SIGSEGV, KMM_SEGV_MAPERR, a + PG);
	task_release(t);

	/* And a store that fits writes both pages. */
	t = spawn();
	a = map(t, 2 * PG, RW, PRIV);
	assert_int_equal(emu_store(t, a + PG - 3, 8, 0x0807060504030201ULL), 0);
	assert_int_equal(ld(t, a + PG - 8) >> 40, 0x030201);
	assert_int_equal(ld(t, a + PG) & 0xffffffffff, 0x0807060504ULL);
	finish(t);
	assert_all_back();
}

static void test_stack_grows_down(void **state)
{
	struct task *t = spawn();
	struct vm_area *stack = NULL, *vma;
	uintptr_t start;
	uint64_t v;

	list_for_each_entry(vma, &t->mm->mmap, vm_list)
		if (vma->vm_flags & VM_GROWSDOWN)
			stack = vma;
	assert_non_null(stack);
	start = stack->vm_start;
	st(t, start - 3 * PG, 42);
	assert_true(stack->vm_start <= start - 3 * PG);
	assert_int_equal(ld(t, start - 3 * PG), 42);
	check_all();
	/* Beyond the stack limit: the stack does not grow, the task dies. */
	assert_int_equal(emu_load(t, stack->vm_end - t->mm->stack_limit - 16 * PG, 8, &v),
			 -KMM_EFAULT);
	assert_int_equal(t->exit_signal, KMM_SIGSEGV);
	assert_int_equal(t->fault_code, KMM_SEGV_MAPERR);
	task_release(t);
	assert_all_back();
}

static void test_out_of_memory_fault_is_sigbus(void **state)
{
	struct task *t = spawn();
	uintptr_t a = map(t, 4 * PG, RW, PRIV);

	st(t, a, 1);            /* the tables exist now */
	fault_attr_configure(&fail_page_alloc, 1, 0, 0);
	assert_int_equal(emu_store(t, a + PG, 8, 2), -KMM_EFAULT);
	fault_attr_configure(&fail_page_alloc, 0, 0, 0);
	assert_killed(t, KMM_SIGBUS, KMM_BUS_ADRERR, a + PG);
	task_release(t);
	assert_all_back();
}

/*
 * Fail the Nth page allocation of a fork, for every N until one succeeds:
 * each failure returns -ENOMEM with the parent intact, and nothing leaks.
 */
static void test_fork_fails_cleanly_at_every_allocation(void **state)
{
	struct task *p = spawn(), *c = NULL;
	uintptr_t a = map(p, 64 * PG, RW, PRIV), s = map(p, 8 * PG, RW, SHARED);
	unsigned long nth;
	int err = -1;

	assert_int_equal(emu_fill_user(p, a, 7, 64 * PG), 0);
	assert_int_equal(emu_fill_user(p, s, 8, 8 * PG), 0);
	map_at(p, 0x200000000000UL, PG, RW, PRIV | KMM_MAP_FIXED);
	st(p, 0x200000000000UL, 9);   /* tables of their own, far away */
	for (nth = 1; nth < 1000 && err; nth++) {
		fault_attr_configure(&fail_page_alloc, nth, 0, 0);
		err = task_fork(p, &c);
		fault_attr_configure(&fail_page_alloc, 0, 0, 0);
		if (err) {
			assert_int_equal(err, -KMM_ENOMEM);
			check_all();
			assert_int_equal(ld(p, a + 63 * PG), 0x0707070707070707ULL);
		}
	}
	assert_int_equal(err, 0);
	assert_true(nth > 4);   /* it did fail at the table allocations first */
	st(c, a, 1);
	assert_int_equal(ld(p, a), 0x0707070707070707ULL);
	assert_int_equal(ld(c, s), 0x0808080808080808ULL);
	check_all();
	finish(c);
	finish(p);
	assert_all_back();
}

/* The same for a write fault that needs three tables and a page. */
static void test_fault_fails_cleanly_at_every_allocation(void **state)
{
	uintptr_t a = 0x300000000000UL;
	unsigned long nth;
	int err = -1;

	for (nth = 1; nth < 100 && err; nth++) {
		struct task *t = spawn();

		map_at(t, a, PG, RW, PRIV | KMM_MAP_FIXED);
		fault_attr_configure(&fail_page_alloc, nth, 0, 0);
		err = emu_store(t, a, 8, 1);
		fault_attr_configure(&fail_page_alloc, 0, 0, 0);
		if (err) {
			assert_int_equal(err, -KMM_EFAULT);
			assert_killed(t, KMM_SIGBUS, KMM_BUS_ADRERR, a);
			task_release(t);
		} else {
			assert_int_equal(ld(t, a), 1);
			check_all();
			finish(t);
		}
		assert_all_back();
	}
	assert_int_equal(err, 0);
	assert_true(nth > 4);   /* PDPT, PD, PT, then the page failed in turn */
}

/*
 * Random runs against a model: up to 8 tasks that fork from one another,
 * each with the same 24-page private area (and a shared one they all
 * inherit), storing, loading, protecting, discarding and remapping pages.
 * The model says what every task must read on every page: its own last
 * write since the fork, never a relative's, zero after DONTNEED or a fresh
 * mapping; the shared area is one value for all. The checkers run as we go.
 */
#define RT_TASKS 8
#define RT_PAGES 24
#define RT_AREA 0x400000000000UL
#define RT_SHARED 0x410000000000UL

struct rt_task {
	struct task *t;
	uint64_t val[RT_PAGES];
	bool ro[RT_PAGES];
};

static uint64_t rt_rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void random_run(uint64_t seed, int steps)
{
	static struct rt_task rt[RT_TASKS];
	uint64_t shared[4] = { 0 }, x = seed;

	memset(rt, 0, sizeof(rt));
	rt[0].t = spawn();
	map_at(rt[0].t, RT_AREA, RT_PAGES * PG, RW, PRIV | KMM_MAP_FIXED);
	map_at(rt[0].t, RT_SHARED, 4 * PG, RW, SHARED | KMM_MAP_FIXED);
	for (int step = 0; step < steps; step++) {
		int i = (int)(rt_rnd(&x) % RT_TASKS), p = (int)(rt_rnd(&x) % RT_PAGES);
		struct rt_task *r = &rt[i];
		uintptr_t va = RT_AREA + (uintptr_t)p * PG;
		unsigned int op = (unsigned int)(rt_rnd(&x) % 100);

		if (!r->t)
			continue;
		if (op < 35) {                   /* store */
			uint64_t v = rt_rnd(&x) | 1;

			if (r->ro[p])
				continue;
			st(r->t, va + 8 * (unsigned int)(p % 7), v);
			r->val[p] = v;
		} else if (op < 65) {            /* load */
			assert_int_equal(ld(r->t, va + 8 * (unsigned int)(p % 7)), r->val[p]);
		} else if (op < 72) {            /* fork */
			int j;

			for (j = 0; j < RT_TASKS && rt[j].t; j++)
				;
			if (j == RT_TASKS)
				continue;
			rt[j] = *r;
			rt[j].t = fork_of(r->t);
		} else if (op < 76) {            /* exit */
			int live = 0;

			for (int j = 0; j < RT_TASKS; j++)
				live += rt[j].t != NULL;
			if (live == 1)
				continue;
			finish(r->t);
			r->t = NULL;
		} else if (op < 82) {            /* mprotect one page */
			r->ro[p] = !r->ro[p];
			assert_int_equal(sys_mprotect(r->t, va, PG, r->ro[p] ? KMM_PROT_READ : RW), 0);
		} else if (op < 87) {            /* MADV_DONTNEED */
			assert_int_equal(sys_madvise(r->t, va, PG, KMM_MADV_DONTNEED), 0);
			r->val[p] = 0;
		} else if (op < 91) {            /* a fresh mapping over it */
			map_at(r->t, va, PG, RW, PRIV | KMM_MAP_FIXED);
			r->val[p] = 0;
			r->ro[p] = false;
		} else {                         /* the shared area */
			unsigned int q = (unsigned int)(rt_rnd(&x) % 4);

			if (op < 96) {
				shared[q] = rt_rnd(&x);
				st(r->t, RT_SHARED + q * PG, shared[q]);
			} else {
				assert_int_equal(ld(r->t, RT_SHARED + q * PG), shared[q]);
			}
		}
		if (step % 50 == 0)
			check_all();
	}
	for (int i = 0; i < RT_TASKS; i++) {
		if (!rt[i].t)
			continue;
		for (int p = 0; p < RT_PAGES; p++)
			assert_int_equal(ld(rt[i].t, RT_AREA + (uintptr_t)p * PG + 8 * (unsigned int)(p % 7)),
					 rt[i].val[p]);
	}
	check_all();
	for (int i = 0; i < RT_TASKS; i++)
		if (rt[i].t)
			finish(rt[i].t);
	assert_all_back();
}

static void test_random_against_model(void **state)
{
	for (uint64_t seed = 1; seed <= 6; seed++)
		random_run(seed * 0x9e3779b97f4a7c15ULL, 1500);
}

/* ---- The MMU ---- */

static void test_accessed_and_dirty_bits(void **state)
{
	struct task *t = spawn();
	uintptr_t a = map(t, 2 * PG, RW, PRIV);
	pteval_t *ptep;

	st(t, a, 1);
	ptep = pte_lookup(t->mm, a);
	assert_true(pte_young(pte_read(ptep)) && pte_dirty(pte_read(ptep)));

	/* Clear A: a TLB hit does not set it again; after a flush the walk does. */
	assert_true(ptep_test_and_clear_young(ptep));
	assert_int_equal(ld(t, a), 1);
	assert_false(pte_young(pte_read(ptep)));
	arch_flush_tlb_page(t->mm, a);
	assert_int_equal(ld(t, a), 1);
	assert_true(pte_young(pte_read(ptep)));

	/* Clear D: a read walk leaves it clear, the first write through that
	   read-only TLB entry walks again and sets it. */
	__atomic_fetch_and(ptep, ~_PAGE_DIRTY, __ATOMIC_SEQ_CST);
	arch_flush_tlb_page(t->mm, a);
	assert_int_equal(ld(t, a), 1);
	assert_false(pte_dirty(pte_read(ptep)));
	st(t, a, 2);
	assert_true(pte_dirty(pte_read(ptep)));
	/* A and D at the upper levels too: A is set on each table entry. */
	{
		pteval_t *pml4 = phys_to_virt(t->mm->pgd);

		assert_true(pte_young(pte_read(&pml4[pt_index(a, 3)])));
	}
	finish(t);
	assert_all_back();
}

static void test_stale_entry_until_flush(void **state)
{
	struct task *t = spawn();
	uintptr_t a = map(t, 2 * PG, RW, PRIV);
	pteval_t *p0, *p1, e0, e1;

	st(t, a, 0xaaaa);
	st(t, a + PG, 0xbbbb);
	p0 = pte_lookup(t->mm, a);
	p1 = pte_lookup(t->mm, a + PG);
	e0 = pte_read(p0);
	e1 = pte_read(p1);
	/* Point a at the second frame behind the MMU's back. */
	set_pte(p0, e1);
	assert_int_equal(ld(t, a), 0xaaaa);   /* the TLB still has the old frame */
	arch_flush_tlb_page(t->mm, a);
	assert_int_equal(ld(t, a), 0xbbbb);   /* flushed: the walk sees the change */
	set_pte(p0, e0);
	arch_flush_tlb_range(t->mm, a, a + PG);
	assert_int_equal(ld(t, a), 0xaaaa);
	/* A whole-mm flush works the same way. */
	set_pte(p0, e1);
	arch_flush_tlb_mm(t->mm);
	assert_int_equal(ld(t, a), 0xbbbb);
	set_pte(p0, e0);
	arch_flush_tlb_mm(t->mm);
	check_all();
	finish(t);
	assert_all_back();
}

static void test_switching_mms_and_lazy_flush_of_other_cpus(void **state)
{
	struct task *p = spawn(), *c, *thr;
	uintptr_t a = map(p, PG, RW, PRIV);
	struct emu_tlb_stats s0, s1;
	unsigned long sent, received;
	uint64_t v;

	st(p, a, 1);
	c = fork_of(p);
	st(c, a, 2);
	/* Same address, two mms, one CPU: each access sees its own mm. */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(ld(p, a), 1);
		assert_int_equal(ld(c, a), 2);
	}
	/* A thread of p on CPU 1 caches the page; CPU 0 unmaps it. */
	assert_int_equal(task_clone_thread(p, &thr), 0);
	emu_set_cpu(1);
	assert_int_equal(ld(thr, a), 1);
	emu_set_cpu(0);
	emu_tlb_stats(&s0);
	sent = vm_event_sum(NR_TLB_REMOTE_FLUSH);
	received = vm_event_sum(NR_TLB_REMOTE_FLUSH_RECEIVED);
	assert_int_equal(sys_munmap(p, a, PG), 0);
	emu_tlb_stats(&s1);
	assert_true(s1.shootdowns > s0.shootdowns);   /* CPU 1 was in the mask */
	assert_true(vm_event_sum(NR_TLB_REMOTE_FLUSH) > sent);
	assert_int_equal(vm_event_sum(NR_TLB_REMOTE_FLUSH_RECEIVED), received);
	emu_set_cpu(1);
	assert_int_equal(emu_load(thr, a, 8, &v), -KMM_EFAULT);  /* no stale hit */
	assert_int_equal(vm_event_sum(NR_TLB_REMOTE_FLUSH_RECEIVED), received + 1);
	assert_killed(thr, KMM_SIGSEGV, KMM_SEGV_MAPERR, a);
	emu_set_cpu(0);
	assert_int_equal(ld(c, a), 2);
	check_all();
	task_release(thr);
	finish(c);
	finish(p);
	assert_all_back();
}

/* CPU 1 holds a writable entry; CPU 0 write-protects: CPU 1's next store faults. */
static void test_write_protect_reaches_other_cpu(void **state)
{
	struct task *p = spawn(), *thr;
	uintptr_t a = map(p, PG, RW, PRIV);

	assert_int_equal(task_clone_thread(p, &thr), 0);
	emu_set_cpu(1);
	st(thr, a, 1);
	st(thr, a, 2);                     /* a TLB hit with write rights */
	emu_set_cpu(0);
	assert_int_equal(sys_mprotect(p, a, PG, KMM_PROT_READ), 0);
	emu_set_cpu(1);
	assert_int_equal(emu_store(thr, a, 8, 3), -KMM_EFAULT);
	assert_killed(thr, KMM_SIGSEGV, KMM_SEGV_ACCERR, a);
	emu_set_cpu(0);
	assert_int_equal(ld(p, a), 2);
	task_release(thr);
	finish(p);
	assert_all_back();
}

static void test_tlb_counts_hits(void **state)
{
	struct task *t = spawn();
	uintptr_t a = map(t, PG, RW, PRIV);
	struct emu_tlb_stats s0, s1;

	st(t, a, 1);
	emu_tlb_stats(&s0);
	for (int i = 0; i < 100; i++)
		ld(t, a + 8 * (unsigned int)(i % 64));
	emu_tlb_stats(&s1);
	assert_int_equal(s1.hits - s0.hits, 100);
	assert_int_equal(s1.misses, s0.misses);
	finish(t);
	assert_all_back();
}

/* The checkers catch what they claim to: each corruption, then the repair. */
static void test_checkers_catch_corruption(void **state)
{
	struct task *p = spawn(), *c;
	uintptr_t a = map(p, 2 * PG, RW, PRIV);
	pteval_t *ptep, e;
	struct page *pg;

	st(p, a, 1);
	c = fork_of(p);
	ptep = pte_lookup(p->mm, a);
	e = pte_read(ptep);
	pg = pfn_to_page(pte_pfn(e));

	add_mm_counter(p->mm, MM_ANONPAGES, 1);
	TH_EXPECT_PANIC(mm_check(p->mm), "rss anon");
	add_mm_counter(p->mm, MM_ANONPAGES, -1);

	set_pte(ptep, e | _PAGE_RW);   /* a page shared with the child, writable */
	TH_EXPECT_PANIC(mm_check(p->mm), "copy-on-write broken");
	set_pte(ptep, e);

	atomic_fetch_add(&pg->_mapcount, 1);
	TH_EXPECT_PANIC(mm_rmap_check(), "entries map it");
	atomic_fetch_sub(&pg->_mapcount, 1);

	atomic_fetch_add(&p->mm->pgtables_bytes, (long)PG);
	TH_EXPECT_PANIC(mm_check(p->mm), "pgtables_bytes");
	atomic_fetch_sub(&p->mm->pgtables_bytes, (long)PG);

	check_all();
	finish(c);
	finish(p);
	assert_all_back();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_maps_zero_page_write_allocates, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_zero_page_never_written, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_freed_frames_are_zeroed_for_the_next_task, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_cow_parent_and_child_isolated, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_cow_chain_of_forks, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_last_sharer_reuses_without_copy, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_cow_after_mprotect_stays_read_only, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_shared_anonymous_seen_by_both, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_page_tables_freed_when_emptied, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_teardown_after_a_busy_life, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_mremap_carries_pages, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_populate_and_dontneed, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_segv_maperr_and_accerr, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_nx, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_store_across_pages_is_all_or_nothing, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_stack_grows_down, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_out_of_memory_fault_is_sigbus, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_fork_fails_cleanly_at_every_allocation, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_fault_fails_cleanly_at_every_allocation, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_random_against_model, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_accessed_and_dirty_bits, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_stale_entry_until_flush, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_switching_mms_and_lazy_flush_of_other_cpus, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_write_protect_reaches_other_cpu, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_tlb_counts_hits, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_checkers_catch_corruption, setup, th_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
