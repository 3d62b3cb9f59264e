/*
 * TLB shootdown on an SMP machine: threads of one mm on two CPUs (host
 * threads), one of them unmapping or write-protecting what the other is
 * using at that very moment. Built under ThreadSanitizer too, which sees
 * the frames' reuse: a translation used after its frame was freed would be
 * a reported race, and a wrong value read here.
 *
 *  - munmap: CPU 1 reads a page in a loop; CPU 0 unmaps it and refills the
 *    freed frames with another pattern. Every read that succeeds must see
 *    the old pattern; the loop must end in SEGV_MAPERR.
 *  - mprotect: CPU 1 stores a counter in a loop; CPU 0 makes the page
 *    read-only and reads it. No store may land after mprotect returned: the
 *    value CPU 0 read stays, and CPU 1 ends in SEGV_ACCERR.
 *  - churn: CPU 1 checks a stable area continuously while CPU 0 maps,
 *    touches, protects and unmaps around it (every flush waits for CPU 1).
 * After each, every frame is back and every checker passes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include <kmm/emu.h>
#include <kmm/errno.h>
#include <kmm/mm.h>
#include <kmm/mman.h>
#include <kmm/page_alloc.h>
#include <kmm/shrinker.h>
#include <kmm/slab.h>

#include "helpers.h"

#define PG PAGE_SIZE
#define PRIV (KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS)
#define RW (KMM_PROT_READ | KMM_PROT_WRITE)
#define ROUNDS 16

static unsigned long base_free;

static unsigned long settled_free(void)
{
	shrink_slab(GFP_KERNEL, 0);
	drain_all_pages();
	return nr_free_pages();
}

static int setup(void **state)
{
	th_boot(64 * MiB, 2, EMU_SMP);
	base_free = settled_free();
	return 0;
}

static void assert_all_back(void)
{
	mm_rmap_check();
	task_check_all();
	page_alloc_check();
	slab_check();
	assert_int_equal(task_count(), 0);
	assert_int_equal(settled_free(), base_free);
}

static void wait_for(atomic_int *v, int want)
{
	while (atomic_load(v) < want)
		sched_yield();
}

static bool dead(struct task *t)
{
	return __atomic_load_n(&t->state, __ATOMIC_ACQUIRE) == TASK_DEAD;
}

struct shoot {
	struct task *p;                 /* runs on CPU 0 */
	struct task *thr[ROUNDS];       /* one per round on CPU 1: each dies */
	uintptr_t page[ROUNDS];
	atomic_int step;
	/* Results, checked by the main thread. */
	unsigned long bad_reads, good_reads;
	int last_err[ROUNDS];
	uint64_t seen_after[ROUNDS];
	uint64_t final[ROUNDS];
};

#define OLD 0x0101010101010101ULL

static void munmap_cpu(unsigned int cpu, void *arg)
{
	struct shoot *s = arg;

	for (int k = 0; k < ROUNDS; k++) {
		if (cpu == 1) {
			uint64_t v;
			int err;

			atomic_store(&s->step, 2 * k + 1);   /* reading */
			while ((err = emu_load(s->thr[k], s->page[k] + 8 * (unsigned int)k, 8, &v)) == 0) {
				if (v == OLD)
					s->good_reads++;
				else
					s->bad_reads++;
			}
			s->last_err[k] = err;
			atomic_store(&s->step, 2 * k + 2);
		} else {
			uintptr_t fresh;

			wait_for(&s->step, 2 * k + 1);
			/* Let CPU 1 hit the page a while, then pull it away. */
			for (int spin = 0; spin < 2000; spin++)
				sched_yield();
			assert_int_equal(sys_munmap(s->p, s->page[k], PG), 0);
			/*
			 * Recycle the frames at once with another pattern, at
			 * an address of its own: the old one must stay unmapped.
			 */
			fresh = (uintptr_t)sys_mmap(s->p, 0x500000000000UL, 8 * PG, RW,
						    PRIV | KMM_MAP_FIXED, -1, 0);
			assert_true((long)fresh > 0);
			assert_int_equal(emu_fill_user(s->p, fresh, 0xee, 8 * PG), 0);
			assert_int_equal(sys_munmap(s->p, fresh, 8 * PG), 0);
			wait_for(&s->step, 2 * k + 2);
		}
	}
}

static void test_munmap_shootdown(void **state)
{
	static struct shoot s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(task_spawn("p", &s.p), 0);
	for (int k = 0; k < ROUNDS; k++) {
		s.page[k] = (uintptr_t)sys_mmap(s.p, 0, PG, RW, PRIV, -1, 0);
		assert_true((long)s.page[k] > 0);
		assert_int_equal(emu_fill_user(s.p, s.page[k], 0x01, PG), 0);
		assert_int_equal(task_clone_thread(s.p, &s.thr[k]), 0);
	}
	assert_int_equal(emu_run_on_cpus(2, munmap_cpu, &s), 0);
	assert_int_equal(s.bad_reads, 0);
	assert_true(s.good_reads > 0);
	for (int k = 0; k < ROUNDS; k++) {
		assert_int_equal(s.last_err[k], -KMM_EFAULT);
		assert_int_equal(s.thr[k]->exit_signal, KMM_SIGSEGV);
		assert_int_equal(s.thr[k]->fault_code, KMM_SEGV_MAPERR);
		task_release(s.thr[k]);
	}
	task_exit(s.p, 0);
	task_release(s.p);
	assert_all_back();
}

static void mprotect_cpu(unsigned int cpu, void *arg)
{
	struct shoot *s = arg;

	for (int k = 0; k < ROUNDS; k++) {
		if (cpu == 1) {
			uint64_t n = 1;

			atomic_store(&s->step, 2 * k + 1);
			while (emu_store(s->thr[k], s->page[k], 8, n) == 0)
				n++;
			atomic_store(&s->step, 2 * k + 2);
		} else {
			uint64_t v;

			wait_for(&s->step, 2 * k + 1);
			for (int spin = 0; spin < 2000; spin++)
				sched_yield();
			assert_int_equal(sys_mprotect(s->p, s->page[k], PG, KMM_PROT_READ), 0);
			/* From here on no store of CPU 1 may land. */
			assert_int_equal(emu_load(s->p, s->page[k], 8, &v), 0);
			s->seen_after[k] = v;
			while (!dead(s->thr[k]))
				sched_yield();
			assert_int_equal(emu_load(s->p, s->page[k], 8, &v), 0);
			s->final[k] = v;
			wait_for(&s->step, 2 * k + 2);
		}
	}
}

static void test_mprotect_shootdown(void **state)
{
	static struct shoot s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(task_spawn("p", &s.p), 0);
	for (int k = 0; k < ROUNDS; k++) {
		s.page[k] = (uintptr_t)sys_mmap(s.p, 0, PG, RW, PRIV, -1, 0);
		assert_true((long)s.page[k] > 0);
		assert_int_equal(task_clone_thread(s.p, &s.thr[k]), 0);
	}
	assert_int_equal(emu_run_on_cpus(2, mprotect_cpu, &s), 0);
	for (int k = 0; k < ROUNDS; k++) {
		assert_true(s.seen_after[k] > 0);
		assert_int_equal(s.final[k], s.seen_after[k]);
		assert_int_equal(s.thr[k]->exit_signal, KMM_SIGSEGV);
		assert_int_equal(s.thr[k]->fault_code, KMM_SEGV_ACCERR);
		assert_int_equal(s.thr[k]->fault_addr, s.page[k]);
		task_release(s.thr[k]);
	}
	task_exit(s.p, 0);
	task_release(s.p);
	assert_all_back();
}

struct churn {
	struct task *p, *thr;
	uintptr_t stable;
	atomic_int done;
	atomic_ulong checks;
	unsigned long bad;
};

#define STABLE_PAGES 32

static void churn_cpu(unsigned int cpu, void *arg)
{
	struct churn *c = arg;

	if (cpu == 1) {
		static uint64_t buf[STABLE_PAGES * PG / 8];

		while (!atomic_load(&c->done)) {
			assert_int_equal(emu_copy_from_user(c->thr, buf, c->stable, sizeof(buf)), 0);
			for (unsigned int i = 0; i < STABLE_PAGES; i++)
				if (buf[i * PG / 8] != i)
					c->bad++;
			assert_int_equal(emu_store(c->thr, c->stable + 8, 8, atomic_load(&c->checks)), 0);
			atomic_fetch_add(&c->checks, 1);
		}
		return;
	}
	/* Start once CPU 1 is busy, so the flushes meet its accesses. */
	while (!atomic_load(&c->checks))
		sched_yield();
	for (int round = 0; round < 200; round++) {
		uintptr_t a = (uintptr_t)sys_mmap(c->p, 0, 16 * PG, RW, PRIV, -1, 0);

		assert_true((long)a > 0);
		assert_int_equal(emu_fill_user(c->p, a, round, 16 * PG), 0);
		assert_int_equal(sys_mprotect(c->p, a, 8 * PG, KMM_PROT_READ), 0);
		assert_int_equal(sys_madvise(c->p, a + 8 * PG, 4 * PG, KMM_MADV_DONTNEED), 0);
		assert_int_equal(sys_munmap(c->p, a, 16 * PG), 0);
	}
	atomic_store(&c->done, 1);
}

static void test_churn_around_a_busy_cpu(void **state)
{
	static struct churn c;

	memset(&c, 0, sizeof(c));
	assert_int_equal(task_spawn("p", &c.p), 0);
	c.stable = (uintptr_t)sys_mmap(c.p, 0, STABLE_PAGES * PG, RW, PRIV, -1, 0);
	for (unsigned int i = 0; i < STABLE_PAGES; i++)
		assert_int_equal(emu_store(c.p, c.stable + i * PG, 8, i), 0);
	assert_int_equal(task_clone_thread(c.p, &c.thr), 0);
	assert_int_equal(emu_run_on_cpus(2, churn_cpu, &c), 0);
	assert_int_equal(c.bad, 0);
	assert_true(atomic_load(&c.checks) > 0);
	mm_rmap_check();
	task_exit(c.thr, 0);
	task_release(c.thr);
	task_exit(c.p, 0);
	task_release(c.p);
	assert_all_back();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_munmap_shootdown, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_mprotect_shootdown, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_churn_around_a_busy_cpu, setup, th_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
