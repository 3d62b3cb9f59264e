/*
 * Tasks on two CPUs at once (SMP mode, host threads; built also under
 * ThreadSanitizer): each CPU runs its own task through random mmap,
 * munmap, mprotect, mremap, brk, madvise and fork/exit of children, while
 * two threads of one shared task change the same area set from both CPUs.
 * Alongside, each CPU writes and reads back its own slots of a region no
 * call unmaps (demand faults, COW breaks after the forks, TLB shootdowns
 * from the other CPU's munmaps in the shared mm), and every fork checks
 * that the child sees the parent's data and that its writes stay its own.
 * The area sets must stay consistent throughout (vma_check from the
 * workers), and after everything exits every frame is back.
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

#include "helpers.h"
#include "area_test.h"

#define MACHINE (128 * MiB)
#define PG PAGE_SIZE
#define ANON (KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS)
#define RW (KMM_PROT_READ | KMM_PROT_WRITE)
#define STEPS 5000

struct smp_state {
	struct task *own[2];       /* one task per CPU */
	struct task *threads[2];   /* two threads of one task */
	atomic_int errors;
	atomic_int steps;   /* proof that both workers ran to the end */
};

/* xorshift per worker: emu_random is shared and the order across CPUs is not fixed anyway. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* One random call on t inside [base, base + 256 pages); results are checked for sanity only. */
static void random_call(struct task *t, uintptr_t base, uint64_t *rs, struct smp_state *st)
{
	uintptr_t a = base + (next_rand(rs) % 256) * PG;
	size_t len = (1 + next_rand(rs) % 16) * PG;
	long r = 0;

	switch (next_rand(rs) % 8) {
	case 0:
	case 1:
		r = sys_mmap(t, a, len, RW, ANON | KMM_MAP_FIXED, -1, 0);
		if (r != (long)a)
			atomic_fetch_add(&st->errors, 1);
		break;
	case 2:
		r = sys_munmap(t, a, len);
		if (r)
			atomic_fetch_add(&st->errors, 1);
		break;
	case 3:
		r = sys_mprotect(t, a, len, (int)(next_rand(rs) % 4));
		if (r && r != -KMM_ENOMEM)
			atomic_fetch_add(&st->errors, 1);
		break;
	case 4:
		r = sys_mremap(t, a, len, len + PG, 0, 0);
		if (r < 0 && r != -KMM_EFAULT && r != -KMM_ENOMEM)
			atomic_fetch_add(&st->errors, 1);
		break;
	case 5:
		r = sys_madvise(t, a, len, KMM_MADV_DONTNEED);
		if (r && r != -KMM_ENOMEM)
			atomic_fetch_add(&st->errors, 1);
		break;
	case 6:
		r = sys_brk(t, t->mm->start_brk + (next_rand(rs) % 64) * PG);
		break;
	case 7:
		r = (long)sys_mmap(t, 0, len, KMM_PROT_READ, ANON, -1, 0);
		if (r <= 0)
			atomic_fetch_add(&st->errors, 1);
		break;
	}
}

/* A region no random call touches: faults and COW run there alongside. */
#define STABLE 0x400000000UL
#define STABLE_PAGES 64

/* Writes v to a slot of t's stable region that only this CPU uses, and reads it back. */
static void store_check(struct task *t, unsigned int cpu, uint64_t *rs, uint64_t v,
			struct smp_state *st)
{
	uintptr_t va = STABLE + (next_rand(rs) % STABLE_PAGES) * PG + cpu * 8;
	uint64_t got = 0;

	if (emu_store(t, va, 8, v) || emu_load(t, va, 8, &got) || got != v)
		atomic_fetch_add(&st->errors, 1);
}

static void worker(unsigned int cpu, void *arg)
{
	struct smp_state *st = arg;
	struct task *own = st->own[cpu], *thread = st->threads[cpu];
	uint64_t rs = 0x9e3779b97f4a7c15ULL * (cpu + 1);

	for (int i = 0; i < STEPS; i++) {
		store_check(own, cpu, &rs, (uint64_t)i, st);
		store_check(thread, cpu, &rs, (uint64_t)i << 8, st);
		/* Own task: a private range. */
		random_call(own, 0x500000000UL, &rs, st);
		/* The shared task: both CPUs in the same range of the same mm. */
		random_call(thread, 0x600000000UL, &rs, st);
		if (i % 50 == 0) {
			struct task *child;

			struct task *parent = i % 100 ? own : thread;
			uint64_t before = 0, after = 0, seen = 0;
			uintptr_t va = STABLE + (next_rand(&rs) % STABLE_PAGES) * PG + cpu * 8;

			if (emu_load(parent, va, 8, &before) || task_fork(parent, &child)) {
				atomic_fetch_add(&st->errors, 1);
			} else {
				/* The child sees the parent's value, and its write stays its own. */
				if (emu_load(child, va, 8, &seen) || seen != before ||
				    emu_store(child, va, 8, ~before))
					atomic_fetch_add(&st->errors, 1);
				random_call(child, 0x500000000UL, &rs, st);
				if (emu_load(parent, va, 8, &after) || after != before)
					atomic_fetch_add(&st->errors, 1);
				task_exit(child, 0);
				task_release(child);
			}
		}
		if (i % 100 == 0) {
			vma_check(own->mm);
			vma_check(thread->mm);
		}
		atomic_fetch_add(&st->steps, 1);
	}
}

static void test_concurrent_tasks(void **state)
{
	struct smp_state st = { .errors = 0, .steps = 0 };
	unsigned long before;
	struct task *shared;

	th_boot(MACHINE, 2, EMU_SMP);
	before = at_settled_free();
	assert_int_equal(task_spawn("cpu0", &st.own[0]), 0);
	assert_int_equal(task_spawn("cpu1", &st.own[1]), 0);
	assert_int_equal(task_spawn("shared", &shared), 0);
	st.threads[0] = shared;
	assert_int_equal(task_clone_thread(shared, &st.threads[1]), 0);
	for (int i = 0; i < 3; i++) {
		struct task *t = i < 2 ? st.own[i] : shared;

		assert_int_equal(sys_mmap(t, STABLE, STABLE_PAGES * PG, RW, ANON | KMM_MAP_FIXED,
					  -1, 0), (long)STABLE);
	}
	assert_int_equal(emu_run_on_cpus(2, worker, &st), 0);
	assert_int_equal(atomic_load(&st.errors), 0);
	assert_int_equal(atomic_load(&st.steps), 2 * STEPS);
	/* Both tasks did make areas. */
	assert_true(st.own[0]->mm->map_count > 1 && st.own[1]->mm->map_count > 1);
	task_check_all();
	assert_int_equal(task_count(), 4);
	at_reap_all();
	assert_int_equal(at_settled_free(), before);
	th_shutdown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_concurrent_tasks, th_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
