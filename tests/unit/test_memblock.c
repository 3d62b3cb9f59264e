/*
 * memblock: the boot memory map and the reservations of a booted machine
 * (the first megabyte, the kernel image, the boot structures carved
 * top-down), the release of everything else to the buddy allocator, and
 * the region bookkeeping itself (merging, splitting, top-down aligned
 * zeroed allocations) on a memblock state the test sets up.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "pa_test.h"

/* Regions sorted, non-overlapping, non-empty; total_size their sum. */
static void assert_type_sane(const struct memblock_type *type)
{
	phys_addr_t total = 0;

	for (unsigned int i = 0; i < type->cnt; i++) {
		const struct memblock_region *r = &type->regions[i];

		assert_true(r->size > 0);
		if (i)
			assert_true(type->regions[i - 1].base + type->regions[i - 1].size <= r->base);
		total += r->size;
	}
	assert_int_equal(total, type->total_size);
}

static const struct memblock_region *region_at(const struct memblock_type *type,
					       phys_addr_t addr)
{
	for (unsigned int i = 0; i < type->cnt; i++) {
		const struct memblock_region *r = &type->regions[i];
		if (addr >= r->base && addr - r->base < r->size)
			return r;
	}
	return NULL;
}

static phys_addr_t memory_top(void)
{
	const struct memblock_region *last = &memblock.memory.regions[memblock.memory.cnt - 1];

	return last->base + last->size;
}

/* ---- A booted machine ---- */

static void test_boot_reservations(void **state)
{
	const struct memblock_region *r;
	phys_addr_t kbase, ksize, mm_pa, mm_size;
	char *text;

	pa_boot(256 * MiB, 2);
	assert_true(e820_entries > 0);
	assert_type_sane(&memblock.memory);
	assert_type_sane(&memblock.reserved);
	assert_in_range(memblock.memory.total_size, 256 * MiB - MiB, 256 * MiB);
	assert_int_equal(memory_top(), 256 * MiB);
	assert_true(memblock_is_memory(MiB));
	assert_false(memblock_is_memory(256 * MiB));

	/* The first megabyte, whole. */
	assert_int_equal(memblock_reserved_in(0, MiB), MiB);
	r = region_at(&memblock.reserved, 0);
	assert_non_null(r);
	assert_int_equal(r->base, 0);
	assert_int_equal(r->size, MiB);

	/* The kernel image, at 1 MiB, of the configured size. */
	arch_kernel_image(&kbase, &ksize);
	assert_int_equal(kbase, MiB);
	assert_int_equal(ksize, emu_config()->kernel_bytes);
	assert_int_equal(ksize, 4 * MiB);
	r = region_at(&memblock.reserved, kbase);
	assert_non_null(r);
	assert_string_equal(r->name, "kernel image");
	assert_int_equal(r->base, kbase);
	assert_int_equal(r->size, ksize);
	for (unsigned long pfn = 0; pfn < PHYS_PFN(kbase + ksize); pfn++)
		assert_true(page_flag(pfn_to_page(pfn), PG_reserved));
	assert_false(page_flag(pfn_to_page(PHYS_PFN(kbase + ksize)), PG_reserved));

	/* mem_map: reserved under its name, carved from the top of RAM. */
	mm_pa = virt_to_phys(mem_map);
	mm_size = max_pfn * sizeof(struct page);
	r = region_at(&memblock.reserved, mm_pa);
	assert_non_null(r);
	assert_string_equal(r->name, "mem_map");
	assert_int_equal(memblock_reserved_in(mm_pa, mm_pa + mm_size), mm_size);
	assert_int_equal(mm_pa % PAGE_SIZE, 0);
	assert_true(mm_pa + mm_size <= memory_top());
	assert_true(mm_pa + mm_size > memory_top() - 64 * 1024);
	/* Allocated before mem_map, so above it. */
	assert_true(virt_to_phys(kmm_node) >= mm_pa + mm_size);
	assert_true(memblock_is_reserved(virt_to_phys(kmm_node)));
	assert_true(memblock_is_reserved(virt_to_phys(vm_events)));
	assert_true(memblock_is_reserved(virt_to_phys(pa_zone(ZONE_DMA32)->pcp)));
	for (unsigned long pfn = PHYS_PFN(mm_pa); pfn < PFN_UP(mm_pa + mm_size); pfn++)
		assert_true(page_flag(pfn_to_page(pfn), PG_reserved));

	/* What was not reserved went to the buddy allocator; the rest stayed. */
	assert_int_equal(nr_free_pages(), pa_memblock_free_pages());
	assert_int_equal(nr_reserved_pages(),
			 (memblock.memory.total_size >> PAGE_SHIFT) - pa_memblock_free_pages());

	text = pa_view("memblock");
	{
		char header[64];
		snprintf(header, sizeof(header), "memory: %u regions, ", memblock.memory.cnt);
		assert_non_null(strstr(text, header));
		snprintf(header, sizeof(header), "reserved: %u regions, ", memblock.reserved.cnt);
		assert_non_null(strstr(text, header));
	}
	assert_non_null(strstr(text, "kernel image"));
	assert_non_null(strstr(text, "mem_map"));
	assert_non_null(strstr(text, "0x0000000000100000..0x00000000004fffff"));
	/* Linux prints address 0 as 0x0000000000000000, like every other. */
	if (!strstr(text, "   0: 0x0000000000000000..0x00000000000fffff"))
		fail_msg("memblock view lacks the first MiB as Linux prints it:\n%s", text);
	free(text);

	text = pa_view("e820");
	assert_non_null(strstr(text, "BIOS-e820: [mem "));
	assert_non_null(strstr(text, "usable"));
	for (const char *p = strstr(text, "[mem "); p; p = strstr(p + 1, "[mem "))
		if (strncmp(p + 5, "0x", 2))
			fail_msg("e820 line not in Linux's format: %.60s", p);
	{
		unsigned int lines = 0;
		for (const char *p = text; *p; p++)
			lines += *p == '\n';
		assert_int_equal(lines, (unsigned int)e820_entries + 1);
	}
	free(text);
}

/* A bigger kernel image costs exactly its extra pages. */
static void test_kernel_size(void **state)
{
	struct emu_config cfg;
	unsigned long managed4, reserved4;

	pa_boot(128 * MiB, 2);
	managed4 = totalram_pages();
	reserved4 = nr_reserved_pages();

	pa_config(&cfg, 128 * MiB, 2);
	cfg.kernel_bytes = 8 * MiB;
	pa_boot_cfg(&cfg);
	assert_int_equal(memblock_reserved_in(MiB, 9 * MiB), 8 * MiB);
	assert_true(page_flag(pfn_to_page(PHYS_PFN(9 * MiB) - 1), PG_reserved));
	assert_false(page_flag(pfn_to_page(PHYS_PFN(9 * MiB)), PG_reserved));
	assert_int_equal(totalram_pages(), managed4 - 1024);
	assert_int_equal(nr_reserved_pages(), reserved4 + 1024);
	assert_int_equal(page_alloc_check(), 0);
}

/*
 * Whatever the size, what the buddy allocator holds after boot is exactly
 * memory minus reserved, and every one of those frames can be allocated
 * (down to the reserves) and given back.
 */
static void test_release_matches_memblock(void **state)
{
	static const uint64_t sizes[] = { 16 * MiB, 100 * MiB, 1 * GiB, 3 * GiB + 512 * MiB };

	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
		pa_boot(sizes[i], 2);
		assert_int_equal(nr_free_pages(), pa_memblock_free_pages());
		assert_int_equal(nr_free_pages(), totalram_pages());
		assert_int_equal(totalram_pages() + nr_reserved_pages(),
				 memblock.memory.total_size >> PAGE_SHIFT);
		if (sizes[i] > 3 * GiB) {
			/* The PCI hole: RAM above 3 GiB moves above 4 GiB. */
			assert_false(memblock_is_memory(3 * GiB + 4096));
			assert_true(memblock_is_memory(4 * GiB));
			assert_int_equal(memblock_memory_in(4 * GiB, 8 * GiB), 512 * MiB);
			assert_true(populated_zone(pa_zone(ZONE_NORMAL)));
		}
		assert_int_equal(page_alloc_check(), 0);
	}
}

/* ---- The bookkeeping, on a state the test builds ---- */

static struct memblock saved;

static int save_memblock(void **state)
{
	saved = memblock;
	return 0;
}

static int restore_memblock(void **state)
{
	memblock = saved;
	return pa_teardown(state);
}

static void test_add_merges(void **state)
{
	memblock_reset();
	assert_int_equal(memblock_add(0, MiB), 0);
	assert_int_equal(memblock_add(MiB, MiB), 0);
	assert_int_equal(memblock.memory.cnt, 1);
	assert_int_equal(memblock.memory.regions[0].size, 2 * MiB);
	assert_int_equal(memblock_add(4 * MiB, MiB), 0);
	assert_int_equal(memblock.memory.cnt, 2);
	assert_type_sane(&memblock.memory);
	/* Overlapping both: one region. */
	assert_int_equal(memblock_add(MiB + MiB / 2, 3 * MiB), 0);
	assert_int_equal(memblock.memory.cnt, 1);
	assert_int_equal(memblock.memory.regions[0].base, 0);
	assert_int_equal(memblock.memory.total_size, 5 * MiB);
	assert_type_sane(&memblock.memory);
	/* Inside: nothing changes. */
	assert_int_equal(memblock_add(MiB, 4096), 0);
	assert_int_equal(memblock.memory.cnt, 1);
	assert_int_equal(memblock.memory.total_size, 5 * MiB);
	assert_int_equal(memblock_memory_in(4 * MiB, 16 * MiB), MiB);
	assert_true(memblock_is_memory(5 * MiB - 1));
	assert_false(memblock_is_memory(5 * MiB));
	assert_int_equal(memblock_add(~(phys_addr_t)0 - 10, 100), -KMM_EINVAL);
	assert_int_equal(memblock_add(8 * MiB, 0), 0);
	assert_int_equal(memblock.memory.cnt, 1);
}

static void test_reserve_merges_and_splits(void **state)
{
	const struct memblock_type *res = &memblock.reserved;

	memblock_reset();
	assert_int_equal(memblock_reserve(0x10000, 0x1000, "x"), 0);
	assert_int_equal(memblock_reserve(0x11000, 0x1000, "x"), 0);
	assert_int_equal(res->cnt, 1);
	assert_int_equal(res->regions[0].size, 0x2000);
	/* Overlapping, same name: grows. */
	assert_int_equal(memblock_reserve(0x10800, 0x2000, "x"), 0);
	assert_int_equal(res->cnt, 1);
	assert_int_equal(res->regions[0].base, 0x10000);
	assert_int_equal(res->regions[0].size, 0x2800);
	/* Adjacent, another name: stays apart, totals add. */
	assert_int_equal(memblock_reserve(0x12800, 0x800, "y"), 0);
	assert_int_equal(res->cnt, 2);
	assert_int_equal(res->total_size, 0x3000);
	assert_type_sane(res);
	/* Inside another name: split into three, total unchanged. */
	assert_int_equal(memblock_reserve(0x11000, 0x1000, "z"), 0);
	assert_int_equal(res->cnt, 4);
	assert_int_equal(res->total_size, 0x3000);
	assert_string_equal(res->regions[0].name, "x");
	assert_int_equal(res->regions[0].size, 0x1000);
	assert_string_equal(res->regions[1].name, "z");
	assert_int_equal(res->regions[1].base, 0x11000);
	assert_string_equal(res->regions[2].name, "x");
	assert_int_equal(res->regions[2].base, 0x12000);
	assert_int_equal(res->regions[2].size, 0x800);
	assert_string_equal(res->regions[3].name, "y");
	assert_type_sane(res);
	assert_true(memblock_is_reserved(0x12fff));
	assert_false(memblock_is_reserved(0x13000));
	assert_false(memblock_is_reserved(0xffff));
	assert_int_equal(memblock_reserved_in(0x10000, 0x11800), 0x1800);
	/* Over all of them: one region again. */
	assert_int_equal(memblock_reserve(0xf000, 0x5000, "x"), 0);
	assert_int_equal(res->cnt, 1);
	assert_int_equal(res->regions[0].base, 0xf000);
	assert_int_equal(res->total_size, 0x5000);

	/* The table is bounded: the 129th disjoint region is refused. */
	memblock_reset();
	for (unsigned int i = 0; i < MEMBLOCK_MAX_REGIONS; i++)
		assert_int_equal(memblock_reserve((phys_addr_t)i * 0x2000, 0x1000, "r"), 0);
	assert_int_equal(memblock_reserve(0x10000000, 0x1000, "r"), -KMM_ENOMEM);
	assert_int_equal(res->cnt, MEMBLOCK_MAX_REGIONS);
	assert_int_equal(res->total_size, MEMBLOCK_MAX_REGIONS * 0x1000);
	assert_type_sane(res);
}

/*
 * memblock_alloc over a 4 MiB block of real emulated RAM that the test
 * takes from the buddy allocator and fills with junk: top-down, aligned,
 * zeroed, reserved, and the gaps it leaves are used before lower memory.
 */
static void test_alloc_top_down(void **state)
{
	struct page *block;
	phys_addr_t base, top, pa1, pa2, pa3;
	unsigned char *p;

	pa_boot(64 * MiB, 2);
	block = alloc_pages(GFP_KERNEL, MAX_ORDER);
	assert_non_null(block);
	base = PFN_PHYS(page_to_pfn(block));
	top = base + 4 * MiB;
	memset(page_address(block), 0xaa, 4 * MiB);
	saved = memblock;

	memblock_reset();
	assert_int_equal(memblock_add(base, 4 * MiB), 0);

	p = memblock_alloc(4096, 4096, "a");
	assert_non_null(p);
	pa1 = virt_to_phys(p);
	assert_int_equal(pa1, top - 4096);
	for (unsigned int i = 0; i < 4096; i++)
		assert_int_equal(p[i], 0);
	assert_true(memblock_is_reserved(pa1));
	assert_int_equal(memblock.reserved.total_size, 4096);

	p = memblock_alloc(100, 64, "a");
	assert_non_null(p);
	pa2 = virt_to_phys(p);
	assert_int_equal(pa2, ALIGN_DOWN(pa1 - 100, 64));
	for (unsigned int i = 0; i < 100; i++)
		assert_int_equal(p[i], 0);
	assert_int_equal(p[100], 0xaa);   /* zeroed no further than asked */
	assert_int_equal(p[-1], 0xaa);
	assert_int_equal(memblock.reserved.cnt, 2);

	/* The gap above pa2 is the highest free range that fits 28 bytes. */
	p = memblock_alloc(pa1 - (pa2 + 100), 4, "a");
	assert_non_null(p);
	pa3 = virt_to_phys(p);
	assert_int_equal(pa3, pa2 + 100);
	assert_int_equal(memblock.reserved.cnt, 1);
	assert_int_equal(memblock.reserved.regions[0].base, pa2);
	assert_int_equal(memblock.reserved.total_size, top - pa2);

	/* Below a limit; and large alignment. */
	p = memblock_alloc_below(4096, 4096, base + MiB, "b");
	assert_non_null(p);
	assert_int_equal(virt_to_phys(p), base + MiB - 4096);
	p = memblock_alloc(4096, MiB, "c");
	assert_non_null(p);
	assert_int_equal(virt_to_phys(p) % MiB, 0);
	/* The highest aligned MiB below the "a" regions. */
	assert_int_equal(virt_to_phys(p), base + 3 * MiB);

	/* What does not fit is refused and changes nothing. */
	{
		phys_addr_t total = memblock.reserved.total_size;
		unsigned int cnt = memblock.reserved.cnt;
		assert_null(memblock_alloc(4 * MiB, 4096, "d"));
		assert_null(memblock_alloc_below(8192, 4096, base + 4096, "d"));
		assert_null(memblock_alloc(0, 4096, "d"));
		assert_int_equal(memblock.reserved.total_size, total);
		assert_int_equal(memblock.reserved.cnt, cnt);
	}
	assert_type_sane(&memblock.reserved);

	memblock = saved;
	__free_pages(block, MAX_ORDER);
	assert_int_equal(page_alloc_check(), 0);
}

/* After memblock_free_all, boot allocations are a bug. */
static void test_alloc_after_release_panics(void **state)
{
	pa_boot(64 * MiB, 2);
	assert_true(memblock.released);
	PA_EXPECT_PANIC(memblock_alloc(4096, 4096, "late"), "released");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_boot_reservations, pa_teardown),
		cmocka_unit_test_teardown(test_kernel_size, pa_teardown),
		cmocka_unit_test_teardown(test_release_matches_memblock, pa_teardown),
		cmocka_unit_test_setup_teardown(test_add_merges, save_memblock, restore_memblock),
		cmocka_unit_test_setup_teardown(test_reserve_merges_and_splits, save_memblock,
						restore_memblock),
		cmocka_unit_test_teardown(test_alloc_top_down, pa_teardown),
		cmocka_unit_test_teardown(test_alloc_after_release_panics, pa_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
