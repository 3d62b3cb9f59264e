/*
 * The page allocator on an SMP machine: the random workload of
 * test_page_alloc on two emulated CPUs at once (host threads), trading
 * blocks so that pages allocated on one CPU are freed on the other, with the
 * invariant checker running concurrently from CPU 0. Built under ASan and
 * ThreadSanitizer; at the end every page is back and the counters add up.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "pa_random.h"
#include "pa_test.h"

#define NR_CPUS 2

#if defined(__SANITIZE_THREAD__)
#define OPS_PER_CPU 300000UL   /* ThreadSanitizer is ~5x slower */
#else
#define OPS_PER_CPU 500000UL
#endif

struct smp_run {
	struct pa_worker w[NR_CPUS];
	struct pa_handoff handoff;
	atomic_uint bad_cpu;
};

static void worker_fn(unsigned int cpu, void *arg)
{
	struct smp_run *run = arg;

	if (cpu >= NR_CPUS || arch_this_cpu() != cpu) {
		atomic_store(&run->bad_cpu, cpu + 1);
		return;
	}
	pa_worker_run(&run->w[cpu]);
}

static void free_fn(unsigned int cpu, void *arg)
{
	struct smp_run *run = arg;

	pa_worker_free_all(&run->w[cpu]);
	if (cpu == 0)
		pa_handoff_drain(&run->handoff, &run->w[0]);
}

static void test_random_smp(void **state)
{
	static struct smp_run run;
	struct emu_config cfg;
	struct pa_buddy_snapshot boot, now;
	unsigned long alloc0[MAX_NR_ZONES], free0, fail0[NR_ORDERS];
	unsigned long alloc_pages_zone[MAX_NR_ZONES] = { 0 }, freed = 0, fails[NR_ORDERS] = { 0 };
	unsigned long successes = 0;

	pa_config(&cfg, 64 * MiB, NR_CPUS);
	cfg.mode = EMU_SMP;
	pa_boot_cfg(&cfg);
	assert_int_equal(arch_nr_cpus(), NR_CPUS);
	pa_snapshot(&boot);
	for (unsigned int t = 0; t < MAX_NR_ZONES; t++)
		alloc0[t] = vm_event_sum(PGALLOC_DMA + t);
	free0 = vm_event_sum(PGFREE);
	for (unsigned int o = 0; o <= MAX_ORDER; o++)
		fail0[o] = vm_event_sum(ALLOC_FAIL_ORDER0 + o);

	memset(&run, 0, sizeof(run));
	pa_handoff_init(&run.handoff, 4096);
	assert_int_equal(run.handoff.cap, 4096);
	for (unsigned int c = 0; c < NR_CPUS; c++) {
		run.w[c] = (struct pa_worker){
			.seed = 0x1234567ULL * (c + 1),
			.ops = OPS_PER_CPU,
			/* The checker takes every lock: run it from CPU 0 only. */
			.check_every = c == 0 ? 20000 : 0,
			.phase_ops = 20000,
			.cap = 1 << 15,
			.handoff = &run.handoff,
		};
		assert_true(pa_worker_init(&run.w[c]));
	}

	assert_int_equal(emu_run_on_cpus(NR_CPUS, worker_fn, &run), 0);
	assert_int_equal(atomic_load(&run.bad_cpu), 0);
	for (unsigned int c = 0; c < NR_CPUS; c++)
		if (run.w[c].error[0])
			fail_msg("cpu %u: %s", c, run.w[c].error);
	assert_int_equal(run.w[0].checks, OPS_PER_CPU / 20000);
	assert_int_equal(page_alloc_check(), 0);

	for (unsigned int c = 0; c < NR_CPUS; c++)
		assert_true(run.w[c].successes > OPS_PER_CPU / 4);

	assert_int_equal(emu_run_on_cpus(NR_CPUS, free_fn, &run), 0);
	for (unsigned int c = 0; c < NR_CPUS; c++)
		if (run.w[c].error[0])
			fail_msg("cpu %u while freeing: %s", c, run.w[c].error);
	assert_int_equal(run.handoff.nr, 0);
	drain_all_pages();
	assert_int_equal(page_alloc_check(), 0);
	assert_int_equal(nr_pcp_pages(), 0);
	assert_int_equal(nr_free_pages(), totalram_pages());
	pa_snapshot(&now);
	pa_assert_snapshot_equal(&boot, &now);

	/* Per-CPU counters summed: exactly what the workers did. */
	for (unsigned int c = 0; c < NR_CPUS; c++) {
		for (unsigned int t = 0; t < MAX_NR_ZONES; t++)
			alloc_pages_zone[t] += run.w[c].alloc_pages_zone[t];
		for (unsigned int o = 0; o <= MAX_ORDER; o++)
			fails[o] += run.w[c].failures[o];
		freed += run.w[c].freed_pages;
		successes += run.w[c].successes;
	}
	for (unsigned int t = 0; t < MAX_NR_ZONES; t++)
		assert_int_equal(vm_event_sum(PGALLOC_DMA + t) - alloc0[t], alloc_pages_zone[t]);
	assert_int_equal(vm_event_sum(PGFREE) - free0, freed);
	for (unsigned int o = 0; o <= MAX_ORDER; o++)
		assert_int_equal(vm_event_sum(ALLOC_FAIL_ORDER0 + o) - fail0[o], fails[o]);
	{
		unsigned long total = 0;
		for (unsigned int t = 0; t < MAX_NR_ZONES; t++)
			total += alloc_pages_zone[t];
		assert_int_equal(total, freed);
	}
	assert_true(successes > 0);

	for (unsigned int c = 0; c < NR_CPUS; c++)
		pa_worker_destroy(&run.w[c]);
	pa_handoff_destroy(&run.handoff);
}

/*
 * Order-0 traffic only, through the per-CPU lists, with both CPUs freeing
 * each other's pages: every list ends consistent and drain returns all.
 */
struct pingpong {
	struct page *slots[NR_CPUS][256];
	atomic_ulong phase[NR_CPUS];  /* 2r+1: round r allocated; 2r+2: freed */
	unsigned long rounds;
	atomic_uint errors;
};

static void wait_phase(struct pingpong *pp, unsigned int cpu, unsigned long phase)
{
	atomic_store_explicit(&pp->phase[cpu], phase, memory_order_release);
	while (atomic_load_explicit(&pp->phase[cpu ^ 1], memory_order_acquire) < phase)
		arch_cpu_relax();
}

static void pingpong_fn(unsigned int cpu, void *arg)
{
	struct pingpong *pp = arg;
	unsigned int other = cpu ^ 1;

	for (unsigned long r = 0; r < pp->rounds; r++) {
		for (unsigned int i = 0; i < 256; i++) {
			pp->slots[cpu][i] = alloc_pages(GFP_KERNEL | __GFP_NOWARN, 0);
			if (!pp->slots[cpu][i] || page_ref_count(pp->slots[cpu][i]) != 1)
				atomic_fetch_add(&pp->errors, 1);
		}
		wait_phase(pp, cpu, 2 * r + 1);
		/* Free the other CPU's batch: onto this CPU's list. */
		for (unsigned int i = 0; i < 256; i++)
			if (pp->slots[other][i])
				__free_pages(pp->slots[other][i], 0);
		wait_phase(pp, cpu, 2 * r + 2);
	}
}

static void test_cross_cpu_free(void **state)
{
	static struct pingpong pp;
	struct emu_config cfg;

	pa_config(&cfg, 64 * MiB, NR_CPUS);
	cfg.mode = EMU_SMP;
	pa_boot_cfg(&cfg);
	memset(&pp, 0, sizeof(pp));
#if defined(__SANITIZE_THREAD__)
	pp.rounds = 200;
#else
	pp.rounds = 2000;
#endif
	assert_int_equal(emu_run_on_cpus(NR_CPUS, pingpong_fn, &pp), 0);
	assert_int_equal(atomic_load(&pp.errors), 0);
	assert_int_equal(page_alloc_check(), 0);
	assert_int_equal(nr_free_pages() + nr_pcp_pages(), totalram_pages());
	drain_all_pages();
	assert_int_equal(nr_pcp_pages(), 0);
	assert_int_equal(nr_free_pages(), totalram_pages());
	assert_int_equal(page_alloc_check(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_random_smp, pa_teardown),
		cmocka_unit_test_teardown(test_cross_cpu_free, pa_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
