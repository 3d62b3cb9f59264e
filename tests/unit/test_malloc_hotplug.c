/*
 * Memory hot-add (add_memory, mm/page_alloc.c), the core hook arch/native
 * grows its heap by, tested on the emulated machine: a machine booted with
 * a KMM_MEM_HOTPLUG range above its RAM has mem_map and pageblock types for
 * it but no frames; emu_add_memory adds them a part at a time; the new
 * frames are free, allocatable, merge into large blocks and pass the page
 * allocator's checker; ranges that break add_memory's rules are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <kmm/errno.h>
#include <kmm/page_alloc.h>
#include <kmm/slab.h>

#include "helpers.h"

static void boot_hotplug(uint64_t ram, uint64_t hot, unsigned int cpus, enum emu_mode mode)
{
	struct emu_config cfg;

	th_config(&cfg, ram, cpus, mode);
	cfg.hotplug_bytes = hot;
	th_boot_cfg(&cfg);
}

static void test_hotplug_adds_free_frames(void **state)
{
	unsigned long total0, free0, max0 = 0;
	struct page *pages[64];
	unsigned int n = 0;

	boot_hotplug(64 * MiB, 64 * MiB, 2, EMU_DET);
	total0 = totalram_pages();
	free0 = nr_free_pages();
	max0 = max_pfn;
	assert_int_equal(max0, (64 * MiB) >> PAGE_SHIFT);   /* nothing added yet */
	assert_int_equal(emu_add_memory(16 * MiB), 0);
	assert_int_equal(totalram_pages(), total0 + ((16 * MiB) >> PAGE_SHIFT));
	assert_int_equal(nr_free_pages(), free0 + ((16 * MiB) >> PAGE_SHIFT));
	assert_int_equal(max_pfn, max0 + ((16 * MiB) >> PAGE_SHIFT));
	page_alloc_check();
	assert_int_equal(emu_add_memory(48 * MiB), 0);
	assert_int_equal(emu_add_memory(2 * MiB), -KMM_ENOMEM);   /* range used up */
	page_alloc_check();
	/* Whole MAX_ORDER blocks in the added memory: take them all. */
	while (n < 64 && (pages[n] = alloc_pages(GFP_KERNEL | __GFP_NOWARN, MAX_ORDER)))
		n++;
	assert_true(n >= 16);
	for (unsigned int i = 0; i < n; i++) {
		char *p = page_address(pages[i]);

		p[0] = 1;
		p[(PAGE_SIZE << MAX_ORDER) - 1] = 2;
	}
	for (unsigned int i = 0; i < n; i++)
		__free_pages(pages[i], MAX_ORDER);
	page_alloc_check();
	slab_check();
	th_shutdown();
}

static void test_hotplug_rules(void **state)
{
	boot_hotplug(64 * MiB, 8 * MiB, 1, EMU_DET);
	/* Not at max_pfn, not pageblock-aligned, outside the hotplug range. */
	assert_int_equal(add_memory(PFN_PHYS(max_pfn) + 2 * MiB, 2 * MiB), -KMM_EINVAL);
	assert_int_equal(add_memory(PFN_PHYS(max_pfn), 4096), -KMM_EINVAL);
	assert_int_equal(add_memory(PFN_PHYS(max_pfn), 16 * MiB), -KMM_EINVAL);
	assert_int_equal(add_memory(0, 2 * MiB), -KMM_EINVAL);
	assert_int_equal(emu_add_memory(3 * MiB), -KMM_EINVAL);
	page_alloc_check();
	th_shutdown();

	/* Without a hotplug range nothing can be added. */
	th_boot(64 * MiB, 1, EMU_DET);
	assert_int_equal(add_memory(PFN_PHYS(max_pfn), 2 * MiB), -KMM_EINVAL);
	assert_int_equal(emu_add_memory(2 * MiB), -KMM_ENOMEM);
	th_shutdown();
}

static void hot_cpu(unsigned int cpu, void *arg)
{
	for (int i = 0; i < 2000; i++) {
		void *p = kmalloc(64 + (size_t)(i % 7) * 100, GFP_KERNEL | __GFP_NOWARN);
		struct page *pg = alloc_pages(GFP_KERNEL | __GFP_NOWARN, (unsigned int)(i % 3));

		if (cpu == 0 && i % 250 == 0)
			emu_add_memory(2 * MiB);
		kfree(p);
		if (pg)
			__free_pages(pg, (unsigned int)(i % 3));
	}
}

/* Memory added while other CPUs allocate (SMP; under TSan too). */
static void test_hotplug_while_allocating(void **state)
{
	boot_hotplug(32 * MiB, 16 * MiB, 2, EMU_SMP);
	assert_int_equal(emu_run_on_cpus(2, hot_cpu, NULL), 0);
	page_alloc_check();
	slab_check();
	th_shutdown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_hotplug_adds_free_frames, th_teardown),
		cmocka_unit_test_teardown(test_hotplug_rules, th_teardown),
		cmocka_unit_test_teardown(test_hotplug_while_allocating, th_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
