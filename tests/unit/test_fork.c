/*
 * Tasks (mm/fork.c): pids, the task list, fork copying every area (the
 * same anon_vma, the same shared object, the same counters), chains of
 * forks, threads sharing one mm, kill, exit and release; a fork that runs
 * out of memory at any allocation leaves nothing behind. Every test ends
 * with all frames back in the buddy allocator.
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
#include <kmm/fault_inject.h>
#include <kmm/mm.h>
#include <kmm/mman.h>
#include <kmm/slab.h>

#include "helpers.h"
#include "area_test.h"

#define MACHINE (64 * MiB)
#define PG PAGE_SIZE
#define ANON (KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS)
#define SHANON (KMM_MAP_SHARED | KMM_MAP_ANONYMOUS)
#define RW (KMM_PROT_READ | KMM_PROT_WRITE)

static unsigned long free_at_boot;

static void boot(void)
{
	th_boot(MACHINE, 1, EMU_DET);
	free_at_boot = at_settled_free();
}

static void finish(void)
{
	at_reap_all();
	assert_int_equal(at_settled_free(), free_at_boot);
	th_shutdown();
}

static int teardown(void **state)
{
	fault_attr_configure(&fail_page_alloc, 0, 0, 0);
	return th_teardown(state);
}

/* A parent with one of each kind of area. */
static struct task *rich_parent(void)
{
	struct task *t;

	assert_int_equal(task_spawn("parent", &t), 0);
	assert_true(sys_mmap(t, 0x500000000UL, 8 * PG, RW, ANON | KMM_MAP_FIXED, -1, 0) > 0);
	assert_true(sys_mmap(t, 0x500010000UL, 2 * PG, KMM_PROT_READ, ANON | KMM_MAP_FIXED, -1, 0) > 0);
	assert_true(sys_mmap(t, 0x600000000UL, 4 * PG, RW, SHANON | KMM_MAP_FIXED, -1, 0) > 0);
	assert_true(sys_mmap(t, 0x700000000UL, 4 * PG, RW,
			     ANON | KMM_MAP_FIXED | KMM_MAP_GROWSDOWN, -1, 0) > 0);
	assert_int_equal(sys_brk(t, t->mm->start_brk + 3 * PG), t->mm->start_brk + 3 * PG);
	/* As if the first private page of the first area had been faulted. */
	assert_int_equal(anon_vma_prepare(vma_lookup(t->mm, 0x500000000UL)), 0);
	return t;
}

static void test_fork_copies_areas(void **state)
{
	struct task *p, *c;
	struct vm_area *pv, *cv;

	boot();
	p = rich_parent();
	assert_int_equal(task_fork(p, &c), 0);
	assert_int_equal(c->pid, 2);
	assert_ptr_equal(c->parent, p);
	assert_true(c->mm != p->mm);
	assert_int_equal(c->mm->map_count, p->mm->map_count);
	/* Area by area: the same ranges, flags, offsets, anchors and objects. */
	cv = vma_next(c->mm, NULL);
	list_for_each_entry(pv, &p->mm->mmap, vm_list) {
		assert_non_null(cv);
		assert_ptr_equal(cv->vm_mm, c->mm);
		assert_int_equal(cv->vm_start, pv->vm_start);
		assert_int_equal(cv->vm_end, pv->vm_end);
		assert_int_equal(cv->vm_flags, pv->vm_flags);
		assert_int_equal(cv->vm_pgoff, pv->vm_pgoff);
		assert_ptr_equal(cv->anon_vma, pv->anon_vma);
		assert_ptr_equal(cv->vm_shared, pv->vm_shared);
		cv = vma_next(c->mm, cv);
	}
	assert_null(cv);
	pv = vma_lookup(p->mm, 0x500000000UL);
	assert_non_null(pv->anon_vma);
	/* The parent's area and the child's: two on the list, two references. */
	assert_int_equal(atomic_load(&pv->anon_vma->refcount), 2);
	assert_non_null(vma_lookup(c->mm, 0x600000000UL)->vm_shared);
	/* Layout and counters travel too. */
	assert_int_equal(c->mm->brk, p->mm->brk);
	assert_int_equal(c->mm->start_brk, p->mm->start_brk);
	assert_int_equal(c->mm->mmap_base, p->mm->mmap_base);
	assert_int_equal(c->mm->total_vm, p->mm->total_vm);
	assert_int_equal(c->mm->data_vm, p->mm->data_vm);
	assert_int_equal(c->mm->stack_vm, p->mm->stack_vm);
	task_check_all();

	/* From now on each changes its own set only. */
	assert_int_equal(sys_munmap(c, 0x500000000UL, 2 * PG), 0);
	assert_int_equal(sys_mprotect(p, 0x600000000UL, PG, KMM_PROT_READ), 0);
	assert_non_null(vma_lookup(p->mm, 0x500000000UL));
	assert_null(vma_lookup(c->mm, 0x500000000UL));
	assert_int_equal(c->mm->map_count + 1, p->mm->map_count);
	task_check_all();

	/* The child exits: the parent's anchor keeps one reference. */
	task_exit(c, 7);
	assert_int_equal(c->state, TASK_DEAD);
	assert_null(c->mm);
	assert_int_equal(c->exit_code, 7);
	assert_int_equal(atomic_load(&pv->anon_vma->refcount), 1);
	task_release(c);
	task_check_all();
	/* The parent's descriptors are live (what finish() expects to reach 0). */
	assert_true(at_live_objects() >= 1 + 1 + 6 + 1);
	finish();
}

/*
 * Linux gives a forked child's area an anon_vma chain of its own, and such
 * an area merges only with one of the same anon_vma: a new mapping next to
 * it stays a separate area in the child, while the parent's merges.
 */
static void test_forked_anchor_merges_like_linux(void **state)
{
	struct task *p, *c;
	const uintptr_t a = 0x500000000UL;
	uintptr_t heap;

	boot();
	p = rich_parent();   /* [a, a + 8 pages) has an anchor */
	heap = p->mm->brk;
	assert_int_equal(emu_store(p, heap - PG, 8, 1), 0);   /* the heap gets one too */
	assert_int_equal(task_fork(p, &c), 0);
	assert_true(vma_lookup(c->mm, a)->anon_fork_id != 0);
	assert_int_equal(vma_lookup(p->mm, a)->anon_fork_id, 0);
	assert_true(sys_mmap(p, a + 8 * PG, PG, RW, ANON | KMM_MAP_FIXED, -1, 0) > 0);
	assert_true(sys_mmap(c, a + 8 * PG, PG, RW, ANON | KMM_MAP_FIXED, -1, 0) > 0);
	assert_int_equal(vma_lookup(p->mm, a + 8 * PG)->vm_start, a);
	assert_int_equal(vma_lookup(c->mm, a + 8 * PG)->vm_start, a + 8 * PG);
	/* The same holds for the heap: the child's brk makes a new area. */
	assert_int_equal(sys_brk(p, heap + PG), heap + PG);
	assert_int_equal(sys_brk(c, heap + PG), heap + PG);
	assert_int_equal(vma_lookup(p->mm, heap)->vm_end, heap + PG);
	assert_true(vma_lookup(p->mm, heap)->vm_start < heap);
	assert_int_equal(vma_lookup(c->mm, heap)->vm_start, heap);
	/*
	 * Two areas of one anchor in the parent are two anchors in a Linux
	 * child: made alike again, they merge in the parent, not in the child.
	 */
	assert_int_equal(sys_mprotect(p, a + 4 * PG, PG, KMM_PROT_READ), 0);
	{
		struct task *c2;

		assert_int_equal(task_fork(p, &c2), 0);
		assert_int_equal(sys_mprotect(p, a + 4 * PG, PG, RW), 0);
		assert_int_equal(sys_mprotect(c2, a + 4 * PG, PG, RW), 0);
		assert_int_equal(vma_lookup(p->mm, a + 4 * PG)->vm_start, a);
		assert_int_equal(vma_lookup(c2->mm, a + 4 * PG)->vm_start, a + 4 * PG);
		assert_int_equal(vma_lookup(c2->mm, a)->vm_end, a + 4 * PG);
	}
	/* Split and merged back inside the child: the same anchor, so it merges. */
	assert_int_equal(sys_mprotect(c, a + 2 * PG, PG, KMM_PROT_READ), 0);
	assert_int_equal(sys_mprotect(c, a + 2 * PG, PG, RW), 0);
	assert_int_equal(vma_lookup(c->mm, a)->vm_end, a + 8 * PG);
	task_check_all();
	finish();
}

static void test_pids_and_list(void **state)
{
	struct task *t[4], *x;
	int pids[8], n = 0;

	boot();
	for (int i = 0; i < 4; i++) {
		assert_int_equal(task_spawn("t", &t[i]), 0);
		assert_int_equal(t[i]->pid, i + 1);
	}
	assert_int_equal(task_count(), 4);
	assert_ptr_equal(task_find(3), t[2]);
	assert_null(task_find(5));
	assert_null(task_find(0));
	/* A zombie keeps its pid until released; then the lowest free pid is reused. */
	task_exit(t[1], 0);
	assert_ptr_equal(task_find(2), t[1]);
	assert_int_equal(task_count(), 4);
	task_release(t[1]);
	assert_null(task_find(2));
	assert_int_equal(task_count(), 3);
	assert_int_equal(task_fork(t[3], &x), 0);
	assert_int_equal(x->pid, 2);
	assert_int_equal(task_spawn("u", &t[1]), 0);
	assert_int_equal(t[1]->pid, 5);
	/* The list is in pid order. */
	{
		struct at_tasks ts = { .n = 0 };

		task_for_each(at_collect, &ts);
		for (unsigned int i = 0; i < ts.n; i++)
			pids[n++] = ts.t[i]->pid;
	}
	assert_int_equal(n, 5);
	for (int i = 0; i < n; i++)
		assert_int_equal(pids[i], i + 1);
	/* The name is kept (and cut to fit). */
	assert_int_equal(task_spawn("a-very-long-task-name", &x), 0);
	assert_int_equal(strlen(x->comm), sizeof(x->comm) - 1);
	assert_int_equal(strncmp(x->comm, "a-very-long-task-name", sizeof(x->comm) - 1), 0);
	/* Nothing can fork or clone a dead task. */
	task_exit(x, 0);
	assert_int_equal(task_fork(x, &t[0]), -KMM_ESRCH);
	assert_int_equal(task_clone_thread(x, &t[0]), -KMM_ESRCH);
	assert_int_equal(task_exec(x), -KMM_ESRCH);
	finish();
}

static void test_fork_chain(void **state)
{
	enum { DEPTH = 24 };
	struct task *chain[DEPTH];
	struct vm_area *vma;

	boot();
	chain[0] = rich_parent();
	for (int i = 1; i < DEPTH; i++) {
		assert_int_equal(task_fork(chain[i - 1], &chain[i]), 0);
		/* Each generation maps something of its own. */
		assert_true(sys_mmap(chain[i], 0, (size_t)(i + 1) * PG, RW, ANON, -1, 0) > 0);
	}
	task_check_all();
	/* Every generation's first area hangs on the same anchor. */
	vma = vma_lookup(chain[DEPTH - 1]->mm, 0x500000000UL);
	assert_ptr_equal(vma->anon_vma, vma_lookup(chain[0]->mm, 0x500000000UL)->anon_vma);
	assert_int_equal(atomic_load(&vma->anon_vma->refcount), DEPTH);
	/* Exit in an order that is neither parent-first nor child-first. */
	for (int i = 1; i < DEPTH; i += 2) {
		task_exit(chain[i], 0);
		task_release(chain[i]);
	}
	task_check_all();
	vma = vma_lookup(chain[0]->mm, 0x500000000UL);
	assert_int_equal(atomic_load(&vma->anon_vma->refcount), DEPTH / 2);
	finish();
}

/* A released parent's children become orphans (PPid 0), even when a new
   task then takes the parent's descriptor. */
static void test_release_orphans_children(void **state)
{
	struct task *parent, *child, *grandchild, *other;
	int parent_pid;

	boot();
	parent = rich_parent();
	parent_pid = parent->pid;
	assert_int_equal(task_fork(parent, &child), 0);
	assert_int_equal(task_fork(child, &grandchild), 0);
	assert_int_equal(task_parent_pid(child), parent_pid);
	assert_int_equal(task_parent_pid(grandchild), child->pid);
	task_exit(parent, 0);
	task_release(parent);
	assert_null(child->parent);
	assert_int_equal(task_parent_pid(child), 0);
	/* Only the released task's own children change. */
	assert_int_equal(task_parent_pid(grandchild), child->pid);
	assert_int_equal(task_spawn("other", &other), 0);
	assert_int_equal(other->pid, parent_pid);   /* the lowest free pid */
	assert_int_equal(task_parent_pid(child), 0);
	task_check_all();
	task_exit(other, 0);
	task_release(other);
	task_exit(grandchild, 0);
	task_release(grandchild);
	task_exit(child, 0);
	task_release(child);
	finish();
}

static void test_threads_share_mm(void **state)
{
	struct task *p, *th, *child;
	struct mm *mm;
	long a;

	boot();
	assert_int_equal(task_spawn("p", &p), 0);
	mm = p->mm;
	assert_int_equal(task_clone_thread(p, &th), 0);
	assert_ptr_equal(th->mm, mm);
	assert_int_equal(atomic_load(&mm->mm_users), 2);
	/* A mapping made by one thread is the other's. */
	a = sys_mmap(th, 0, 4 * PG, RW, ANON, -1, 0);
	assert_true(a > 0);
	assert_non_null(vma_lookup(p->mm, (uintptr_t)a));
	/* Fork of a thread copies the shared mm. */
	assert_int_equal(task_fork(th, &child), 0);
	assert_non_null(vma_lookup(child->mm, (uintptr_t)a));
	/* The first thread to exit leaves the mm to the other. */
	task_exit(p, 0);
	assert_ptr_equal(th->mm, mm);
	assert_int_equal(atomic_load(&mm->mm_users), 1);
	assert_non_null(vma_lookup(mm, (uintptr_t)a));
	assert_int_equal(sys_munmap(th, (uintptr_t)a, PG), 0);
	task_check_all();
	/* exec in a thread gives it a fresh mm and drops the old one. */
	assert_int_equal(task_exec(th), 0);
	assert_true(th->mm != mm);
	assert_int_equal(th->mm->map_count, 1);
	task_check_all();
	finish();
}

static void test_kill_records_why(void **state)
{
	struct task *t;

	boot();
	assert_int_equal(task_spawn("victim", &t), 0);
	task_kill(t, KMM_SIGSEGV, KMM_SEGV_ACCERR, 0x1234);
	assert_int_equal(t->state, TASK_DEAD);
	assert_null(t->mm);
	assert_int_equal(t->exit_signal, KMM_SIGSEGV);
	assert_int_equal(t->fault_code, KMM_SEGV_ACCERR);
	assert_int_equal(t->fault_addr, 0x1234);
	assert_int_equal(t->exit_code, 128 + KMM_SIGSEGV);
	/* A second kill or exit of the dead changes nothing. */
	task_kill(t, KMM_SIGBUS, KMM_BUS_ADRERR, 0x5678);
	task_exit(t, 3);
	assert_int_equal(t->exit_signal, KMM_SIGSEGV);
	assert_int_equal(t->exit_code, 128 + KMM_SIGSEGV);
	finish();
}

/*
 * Fail every page allocation a fork makes, one at a time: each failing
 * fork returns ENOMEM and leaves the parent, the task list, the anchors
 * and the free frames as they were.
 */
static void test_fork_failure_unwinds(void **state)
{
	struct task *p, *c = NULL;
	struct vm_area *first;
	unsigned long before;
	unsigned int tasks;
	int refs, err = -KMM_ENOMEM, nth;

	boot();
	p = rich_parent();
	/* Enough areas that copying them needs fresh slab pages. */
	for (int i = 0; i < 200; i++)
		assert_true(sys_mmap(p, 0x400000000UL + (uintptr_t)i * 2 * PG, PG,
				     i & 1 ? RW : KMM_PROT_READ, ANON | KMM_MAP_FIXED, -1, 0) > 0);
	first = vma_lookup(p->mm, 0x500000000UL);
	refs = atomic_load(&first->anon_vma->refcount);
	tasks = task_count();
	for (nth = 1; err; nth++) {
		before = at_settled_free();
		fault_attr_configure(&fail_page_alloc, (unsigned long)nth, 0, 0);
		th_capture_begin();   /* the allocator's failure reports */
		err = task_fork(p, &c);
		th_capture_end();
		fault_attr_configure(&fail_page_alloc, 0, 0, 0);
		if (err) {
			assert_int_equal(err, -KMM_ENOMEM);
			assert_int_equal(task_count(), tasks);
			assert_int_equal(atomic_load(&first->anon_vma->refcount), refs);
			assert_int_equal(at_settled_free(), before);
			vma_check(p->mm);
		}
		assert_true(nth < 10000);
	}
	/* At least the descriptor, the page tables and the area slabs could fail. */
	assert_true(nth > 3);
	assert_int_equal(c->mm->map_count, p->mm->map_count);
	task_check_all();
	finish();
}


/* ---- Contents after fork (through the MMU) ---- */

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

static void test_fork_contents(void **state)
{
	struct task *p, *c;
	const uintptr_t priv = 0x500000000UL, shared = 0x600000000UL;

	boot();
	p = rich_parent();
	st(p, priv, 1);
	st(p, priv + PG, 2);
	st(p, shared, 3);
	assert_int_equal(task_fork(p, &c), 0);
	/* The child sees the parent's memory as it was at fork. */
	assert_int_equal(ld(c, priv), 1);
	assert_int_equal(ld(c, priv + PG), 2);
	assert_int_equal(ld(c, shared), 3);
	/* Private: each side's writes are its own, whoever writes first. */
	st(c, priv, 10);
	st(p, priv + PG, 20);
	assert_int_equal(ld(p, priv), 1);
	assert_int_equal(ld(c, priv), 10);
	assert_int_equal(ld(p, priv + PG), 20);
	assert_int_equal(ld(c, priv + PG), 2);
	/* Shared: one object, writes seen both ways. */
	st(c, shared + 8, 30);
	st(p, shared + 16, 40);
	assert_int_equal(ld(p, shared + 8), 30);
	assert_int_equal(ld(c, shared + 16), 40);
	/* A page untouched before fork: each side faults its own. */
	st(c, priv + 2 * PG, 50);
	assert_int_equal(ld(p, priv + 2 * PG), 0);
	mm_check(p->mm);
	mm_check(c->mm);
	/* The child exits: the shared object keeps the parent's data. */
	task_exit(c, 0);
	task_release(c);
	assert_int_equal(ld(p, shared + 8), 30);
	assert_int_equal(ld(p, priv), 1);
	task_check_all();
	finish();
}

/* Each generation writes its pid into a page all of them inherited; each must read its own. */
static void test_fork_chain_contents(void **state)
{
	enum { DEPTH = 12 };
	struct task *g[DEPTH];
	const uintptr_t page = 0x500000000UL;

	boot();
	g[0] = rich_parent();
	st(g[0], page, 1000);
	for (int i = 1; i < DEPTH; i++) {
		assert_int_equal(task_fork(g[i - 1], &g[i]), 0);
		assert_int_equal(ld(g[i], page), 1000 + (uint64_t)i - 1);
		st(g[i], page, 1000 + (uint64_t)i);
	}
	for (int i = 0; i < DEPTH; i++)
		assert_int_equal(ld(g[i], page), 1000 + (uint64_t)i);
	task_check_all();
	/* The middle of the chain goes; the rest still read their own. */
	for (int i = 2; i < DEPTH; i += 3) {
		task_exit(g[i], 0);
		task_release(g[i]);
	}
	for (int i = 0; i < DEPTH; i++)
		if (i % 3 != 2)
			assert_int_equal(ld(g[i], page), 1000 + (uint64_t)i);
	task_check_all();
	finish();
}

/* A fork with memory in use, failing at each page allocation in turn, leaves nothing. */
static void test_fork_failure_with_pages(void **state)
{
	struct task *p, *c = NULL;
	unsigned long before;
	int err = -KMM_ENOMEM, nth;

	boot();
	p = rich_parent();
	/* Pages spread over several tables, so the child's copy allocates some. */
	for (int i = 0; i < 8; i++)
		st(p, 0x500000000UL + (uintptr_t)i * PG, (uint64_t)i);
	assert_true(sys_mmap(p, 0x10000000000UL, PG, RW, ANON | KMM_MAP_FIXED, -1, 0) > 0);
	st(p, 0x10000000000UL, 77);
	st(p, 0x600000000UL, 88);
	for (nth = 1; err; nth++) {
		before = at_settled_free();
		fault_attr_configure(&fail_page_alloc, (unsigned long)nth, 0, 0);
		th_capture_begin();
		err = task_fork(p, &c);
		th_capture_end();
		fault_attr_configure(&fail_page_alloc, 0, 0, 0);
		if (err) {
			assert_int_equal(err, -KMM_ENOMEM);
			assert_int_equal(at_settled_free(), before);
			task_check_all();
			/* The parent still has its data, and can write it (no stray COW state). */
			assert_int_equal(ld(p, 0x500000000UL + 3 * PG), 3);
			st(p, 0x500000000UL + 3 * PG, 3);
		}
		assert_true(nth < 10000);
	}
	assert_int_equal(ld(c, 0x10000000000UL), 77);
	assert_int_equal(ld(c, 0x600000000UL), 88);
	task_check_all();
	finish();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_fork_copies_areas, teardown),
		cmocka_unit_test_teardown(test_forked_anchor_merges_like_linux, teardown),
		cmocka_unit_test_teardown(test_pids_and_list, teardown),
		cmocka_unit_test_teardown(test_fork_chain, teardown),
		cmocka_unit_test_teardown(test_release_orphans_children, teardown),
		cmocka_unit_test_teardown(test_threads_share_mm, teardown),
		cmocka_unit_test_teardown(test_kill_records_why, teardown),
		cmocka_unit_test_teardown(test_fork_failure_unwinds, teardown),
		cmocka_unit_test_teardown(test_fork_contents, teardown),
		cmocka_unit_test_teardown(test_fork_chain_contents, teardown),
		cmocka_unit_test_teardown(test_fork_failure_with_pages, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
