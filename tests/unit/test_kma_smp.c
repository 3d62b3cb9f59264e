/*
 * The kernel memory allocators on an SMP machine: two emulated CPUs (host
 * threads) churn at once, then free each other's blocks (so blocks
 * allocated on one CPU are freed on the other, which moves blocks between
 * the per-CPU caches of dynix), then churn again; the checkers run between
 * phases. Built under ASan and ThreadSanitizer. Every design runs it; the
 * per-CPU one (dynix) is the one it is for.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>

#include <kmm/page_alloc.h>

#include "helpers.h"
#include "kma_test.h"

#define NR_CPUS 2
#if defined(__SANITIZE_THREAD__)
#define OPS 20000UL
#else
#define OPS 60000UL
#endif

struct smp_run {
	struct kt_work w[NR_CPUS];
	atomic_uint bad_cpu;
};

static void churn_fn(unsigned int cpu, void *arg)
{
	struct smp_run *run = arg;

	if (arch_this_cpu() != cpu)
		atomic_store(&run->bad_cpu, cpu + 1);
	kt_work_run(&run->w[cpu], OPS);
}

/* Each CPU frees what the other one allocated. */
static void swap_free_fn(unsigned int cpu, void *arg)
{
	struct smp_run *run = arg;

	kt_work_free_all(&run->w[NR_CPUS - 1 - cpu]);
}

static void test_smp_churn(void **state)
{
	const struct kma_ops *k = kt_boot((const char *)*state, 64 * MiB, NR_CPUS, EMU_SMP);
	static struct smp_run run;
	unsigned long before;
	struct kma_stats st;

	drain_all_pages();
	before = nr_free_pages();
	for (unsigned int c = 0; c < NR_CPUS; c++)
		kt_work_init(&run.w[c], k, 0xabcdef12ULL * (c + 1), 256, 12000);
	atomic_store(&run.bad_cpu, 0);
	for (unsigned int round = 0; round < 2; round++) {
		assert_int_equal(emu_run_on_cpus(NR_CPUS, churn_fn, &run), 0);
		assert_int_equal(atomic_load(&run.bad_cpu), 0);
		kma_check_one(k);
		assert_int_equal(emu_run_on_cpus(NR_CPUS, swap_free_fn, &run), 0);
		kma_check_one(k);
	}
	kma_get_stats(k, &st);
	assert_int_equal(st.allocs, run.w[0].allocs + run.w[1].allocs);
	assert_int_equal(st.frees, run.w[0].frees + run.w[1].frees);
	assert_int_equal(st.allocs, st.frees);
	assert_int_equal(st.live_requested, 0);
	kma_shrink(k);
	kma_check_one(k);
	page_alloc_check();
	kma_get_stats(k, &st);
	if (k->flags & KMA_RETURNS_FRAMES)
		assert_int_equal(st.pages_held, 0);
	drain_all_pages();
	assert_int_equal(nr_free_pages() + (unsigned long)st.pages_held, before);
	for (unsigned int c = 0; c < NR_CPUS; c++)
		kt_work_destroy(&run.w[c]);
}

#define KT_SMP_TEST(name) { "smp_churn/" #name, test_smp_churn, NULL, th_teardown, #name },

int main(void)
{
	const struct CMUnitTest tests[] = {
		KT_ALLOCATORS(KT_SMP_TEST)
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
