/*
 * Reclaim and swap on an SMP machine (one host thread per CPU), also
 * under ThreadSanitizer, which sees any access to a frame after reclaim
 * freed it and any unsynchronised change of the pages, lists and slots
 * reclaim shares with faults:
 *
 *  - two tasks, one per CPU, each with a working set that together with
 *    the other's is larger than RAM, write and check every page in full
 *    for several rounds: their faults reclaim each other's pages (direct
 *    reclaim on both CPUs at once) and swap them back in;
 *  - CPU 0 rewrites and checks a task's pages in a loop while CPU 1 runs
 *    reclaim over and over and forks a second task, whose child writes
 *    its own copy, checks it and exits (swap entries copied and freed
 *    while reclaim turns the parent's pages into swap entries).
 * Afterwards every checker passes, every slot is free, every frame back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kmm/emu.h>
#include <kmm/errno.h>
#include <kmm/kmm.h>
#include <kmm/mm.h>
#include <kmm/mman.h>
#include <kmm/page_alloc.h>
#include <kmm/shrinker.h>
#include <kmm/slab.h>
#include <kmm/swap.h>
#include <kmm/vmstat.h>

#include "helpers.h"

#define PG PAGE_SIZE
#define PRIV (KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS)
#define RW (KMM_PROT_READ | KMM_PROT_WRITE)
#define ROUNDS 3

static char root[256];
static unsigned long base_free;

static unsigned long settled_free(void)
{
	shrink_slab(GFP_KERNEL, 0);
	drain_all_pages();
	return nr_free_pages();
}

static int setup(void **state)
{
	struct emu_config cfg;

	snprintf(root, sizeof(root), "/tmp/kmm-reclaim-smp-XXXXXX");
	assert_non_null(mkdtemp(root));
	th_config(&cfg, 32 * MiB, 2, EMU_SMP);
	snprintf(cfg.root, sizeof(cfg.root), "%s", root);
	cfg.root_rw = true;
	th_boot_cfg(&cfg);
	base_free = settled_free();
	assert_int_equal(swap_format("/swap", 96 * MiB), 0);
	assert_int_equal(swapon("/swap", -1), 0);
	return 0;
}

static int teardown(void **state)
{
	DIR *d = opendir(root);
	struct dirent *e;

	th_teardown(state);
	while (d && (e = readdir(d))) {
		char p[512];

		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", root, e->d_name);
			unlink(p);
		}
	}
	if (d)
		closedir(d);
	rmdir(root);
	return 0;
}

static unsigned long stat_of(const char *name)
{
	unsigned long v = 0;

	assert_int_equal(kmm_stat(name, &v), 0);
	return v;
}

static void assert_all_back(void)
{
	kmm_check();
	assert_int_equal(task_count(), 0);
	assert_int_equal(stat_of("SwapCached"), 0);
	assert_int_equal(stat_of("SwapFree"), stat_of("SwapTotal"));
	assert_int_equal(swapoff("/swap"), 0);
	assert_int_equal(settled_free(), base_free);
}

static void pattern(unsigned char *buf, unsigned long i, unsigned long gen)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ (gen + 1) * 0xbf58476d1ce4e5b9ULL;

	for (size_t k = 0; k < PG; k += 8) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		uint64_t v = x * 0x2545f4914f6cdd1dULL;
		memcpy(buf + k, &v, 8);
	}
}

/*
 * Host threads may not call cmocka's asserts (they longjmp on the main
 * thread's stack): each worker counts its errors, the main thread checks.
 */
struct worker {
	struct task *t;
	uintptr_t a;
	unsigned long n, gen_base;
	atomic_int errors;
	atomic_int done;
};

static bool put_page_of(struct worker *w, struct task *t, unsigned long i, unsigned long gen)
{
	unsigned char buf[PG];

	pattern(buf, i, gen);
	return emu_copy_to_user(t, w->a + i * PG, buf, PG) == 0;
}

static bool page_is(struct worker *w, struct task *t, unsigned long i, unsigned long gen)
{
	unsigned char want[PG], got[PG];

	pattern(want, i, gen);
	return emu_copy_from_user(t, got, w->a + i * PG, PG) == 0 && !memcmp(want, got, PG);
}

/* Round r writes generation gen_base + r to every page, then checks them all. */
static void working_set(struct worker *w)
{
	for (unsigned long r = 0; r < ROUNDS; r++) {
		for (unsigned long i = 0; i < w->n; i++)
			if (!put_page_of(w, w->t, i, w->gen_base + r))
				atomic_fetch_add(&w->errors, 1);
		for (unsigned long i = 0; i < w->n; i++)
			if (!page_is(w, w->t, i, w->gen_base + r))
				atomic_fetch_add(&w->errors, 1);
	}
}

static void two_working_sets(unsigned int cpu, void *arg)
{
	working_set(&((struct worker *)arg)[cpu]);
}

static struct worker *new_workers(unsigned long n)
{
	struct worker *w = calloc(2, sizeof(*w));

	assert_non_null(w);
	for (int i = 0; i < 2; i++) {
		long a;

		assert_int_equal(task_spawn(i ? "one" : "zero", &w[i].t), 0);
		a = sys_mmap(w[i].t, 0, n * PG, RW, PRIV, -1, 0);
		assert_true(a > 0);
		w[i].a = (uintptr_t)a;
		w[i].n = n;
		w[i].gen_base = 100 * (unsigned long)i;
	}
	return w;
}

static void test_two_cpus_two_working_sets_larger_than_ram(void **state)
{
	struct worker *w = new_workers(18 * MiB / PG);

	assert_int_equal(emu_run_on_cpus(2, two_working_sets, w), 0);
	assert_int_equal(atomic_load(&w[0].errors), 0);
	assert_int_equal(atomic_load(&w[1].errors), 0);
	assert_true(stat_of("pswpout") > 0);
	assert_true(stat_of("pswpin") > 0);
	kmm_check();
	for (int i = 0; i < 2; i++) {
		task_exit(w[i].t, 0);
		task_release(w[i].t);
	}
	free(w);
	assert_all_back();
}

/*
 * CPU 0: w[0]'s working set. CPU 1: reclaim, and fork of w[1]'s task, the
 * child writing its own generation and checking it, the parent's pages
 * checked after each child's exit.
 */
static void reclaim_and_fork(unsigned int cpu, void *arg)
{
	struct worker *w = arg;

	if (cpu == 0) {
		working_set(&w[0]);
		atomic_store(&w[0].done, 1);
		return;
	}
	for (unsigned long round = 0; !atomic_load(&w[0].done) || round < 2; round++) {
		struct task *child;

		shrink_all_memory(1024);
		if (task_fork(w[1].t, &child)) {
			atomic_fetch_add(&w[1].errors, 1);
			break;
		}
		shrink_all_memory(1024);
		for (unsigned long i = 0; i < w[1].n; i += 3)
			if (!put_page_of(&w[1], child, i, 1000 + round))
				atomic_fetch_add(&w[1].errors, 1);
		for (unsigned long i = 0; i < w[1].n; i++)
			if (!page_is(&w[1], child, i, i % 3 ? 100 : 1000 + round))
				atomic_fetch_add(&w[1].errors, 1);
		task_exit(child, 0);
		task_release(child);
		for (unsigned long i = 0; i < w[1].n; i++)
			if (!page_is(&w[1], w[1].t, i, 100))
				atomic_fetch_add(&w[1].errors, 1);
	}
}

static void test_reclaim_and_fork_against_faults(void **state)
{
	struct worker *w = new_workers(8 * MiB / PG);

	for (unsigned long i = 0; i < w[1].n; i++)
		assert_true(put_page_of(&w[1], w[1].t, i, 100));
	assert_int_equal(emu_run_on_cpus(2, reclaim_and_fork, w), 0);
	assert_int_equal(atomic_load(&w[0].errors), 0);
	assert_int_equal(atomic_load(&w[1].errors), 0);
	assert_true(stat_of("pswpout") > 0);
	kmm_check();
	for (int i = 0; i < 2; i++) {
		task_exit(w[i].t, 0);
		task_release(w[i].t);
	}
	free(w);
	assert_all_back();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_cpus_two_working_sets_larger_than_ram,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_and_fork_against_faults, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
