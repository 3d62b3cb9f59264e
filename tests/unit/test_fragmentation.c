/*
 * Grouping by mobility, and what it buys: fill memory with movable pages
 * and a steady share of unmovable ones, free the movable pages, and ask for
 * order-9 (2 MiB) blocks. With grouping, the unmovable pages were kept in
 * pageblocks of their own, so most of the freed memory comes back as whole
 * pageblocks. The counter-check boots with group_by_mobility off: the same
 * workload scatters unmovable pages through every pageblock, order-9
 * requests fail, and the fragmentation indices say why.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "pa_test.h"

#define MACHINE (128 * MiB)
#define UNMOVABLE_EVERY 8   /* one unmovable page per 8 allocations */

static enum migratetype block_type(unsigned long pfn)
{
	return (enum migratetype)pa_zone(ZONE_DMA32)->pageblock_mt[pfn >> pageblock_order];
}

/* Each request type gets a pageblock of its own type; fallback steals whole blocks. */
static void test_migrate_types(void **state)
{
	struct page *movable, *unmovable, *reclaimable;
	unsigned long steals;

	pa_boot(MACHINE, 2);
	assert_true(page_group_by_mobility);
	steals = pa_stat("pageblock_steal");
	movable = alloc_pages(GFP_HIGHUSER_MOVABLE, 0);
	assert_int_equal(block_type(page_to_pfn(movable)), MIGRATE_MOVABLE);
	assert_int_equal(pa_stat("pageblock_steal"), steals);

	unmovable = alloc_pages(GFP_KERNEL, 0);
	assert_int_equal(block_type(page_to_pfn(unmovable)), MIGRATE_UNMOVABLE);
	assert_true(pa_stat("pageblock_steal") > steals);
	assert_true(pa_stat("alloc_fallback") > 0);
	steals = pa_stat("pageblock_steal");
	reclaimable = alloc_pages(GFP_RECLAIMABLE, 0);
	assert_int_equal(block_type(page_to_pfn(reclaimable)), MIGRATE_RECLAIMABLE);
	assert_true(pa_stat("pageblock_steal") > steals);

	assert_int_not_equal(page_to_pfn(movable) >> pageblock_order,
			     page_to_pfn(unmovable) >> pageblock_order);
	assert_int_not_equal(page_to_pfn(unmovable) >> pageblock_order,
			     page_to_pfn(reclaimable) >> pageblock_order);
	/* A second unmovable page comes from the block already claimed. */
	{
		struct page *again = alloc_pages(GFP_KERNEL, 0);
		assert_int_equal(page_to_pfn(again) >> pageblock_order,
				 page_to_pfn(unmovable) >> pageblock_order);
		assert_int_equal(pa_stat("pageblock_steal"), steals + 1);
		__free_pages(again, 0);
	}
	__free_pages(movable, 0);
	__free_pages(unmovable, 0);
	__free_pages(reclaimable, 0);
	assert_int_equal(page_alloc_check(), 0);
}

/*
 * When no large block is left, an unmovable request falls back to the
 * largest free movable block and, since at least half of that block's
 * pageblock is free, claims the whole pageblock for unmovable pages.
 */
static void test_fallback_claims_half_free_pageblock(void **state)
{
	struct pa_list held = { 0 };
	struct emu_config cfg;
	struct zone *z;
	struct page *b = NULL, *page;
	unsigned long steals, fallbacks;

	pa_config(&cfg, 64 * MiB, 2);
	cfg.mm.pcp_lists = false;
	cfg.mm.min_free_kbytes = 128;
	pa_boot_cfg(&cfg);
	z = pa_zone(ZONE_DMA32);

	/* Every pageblock-sized movable block goes; what is left is smaller. */
	pa_alloc_until_fail(&held, GFP_ATOMIC | __GFP_MOVABLE, 9);
	assert_int_equal(z->free_area[9].nr_free + z->free_area[10].nr_free, 0);
	for (size_t i = 0; i < held.n && !b; i++)
		if (page_zonenum(held.v[i].page) == ZONE_DMA32)
			b = held.v[i].page;
	assert_non_null(b);

	/* Give one pageblock back, then take its lower half (movable). */
	for (size_t i = 0; i < held.n; i++)
		if (held.v[i].page == b)
			held.v[i] = held.v[--held.n];
	__free_pages(b, 9);
	for (;;) {
		page = alloc_pages(GFP_ATOMIC | __GFP_MOVABLE, 8);
		assert_non_null(page);
		pa_push(&held, page, 8);
		if (page == b)
			break;
		/* An order-8 block elsewhere came first: keep taking. */
		assert_true(page_zonenum(page) == ZONE_DMA32);
	}
	assert_true(page_flag(b + 256, PG_buddy));
	assert_int_equal(b[256].private, 8);
	assert_int_equal(block_type(page_to_pfn(b)), MIGRATE_MOVABLE);

	/* No unmovable block exists: the request steals from b's pageblock. */
	steals = pa_stat("pageblock_steal");
	fallbacks = pa_stat("alloc_fallback");
	page = alloc_pages(GFP_ATOMIC, 0);
	assert_non_null(page);
	assert_int_equal(page_to_pfn(page) >> pageblock_order, page_to_pfn(b) >> pageblock_order);
	assert_int_equal(block_type(page_to_pfn(b)), MIGRATE_UNMOVABLE);
	assert_int_equal(pa_stat("pageblock_steal"), steals + 1);
	assert_int_equal(pa_stat("alloc_fallback"), fallbacks + 1);
	pa_push(&held, page, 0);
	assert_int_equal(page_alloc_check(), 0);

	pa_list_destroy(&held);
	assert_int_equal(nr_free_pages(), totalram_pages());
	assert_int_equal(page_alloc_check(), 0);
}

static void test_no_grouping_is_one_pool(void **state)
{
	struct emu_config cfg;
	struct page *page;
	char *text;
	char want[128];
	unsigned long blocks = 0;

	pa_config(&cfg, MACHINE, 2);
	cfg.mm.group_by_mobility = false;
	pa_boot_cfg(&cfg);
	assert_false(page_group_by_mobility);
	page = alloc_pages(GFP_HIGHUSER_MOVABLE, 0);
	assert_int_equal(block_type(page_to_pfn(page)), MIGRATE_UNMOVABLE);
	__free_pages(page, 0);
	page = alloc_pages(GFP_RECLAIMABLE, 3);
	assert_int_equal(block_type(page_to_pfn(page)), MIGRATE_UNMOVABLE);
	__free_pages(page, 3);
	assert_int_equal(pa_stat("pageblock_steal"), 0);
	assert_int_equal(pa_stat("alloc_fallback"), 0);
	for (unsigned int o = 0; o <= MAX_ORDER; o++) {
		assert_int_equal(pa_zone(ZONE_DMA32)->free_area[o].nr_free_mt[MIGRATE_MOVABLE], 0);
		assert_int_equal(pa_zone(ZONE_DMA32)->free_area[o].nr_free_mt[MIGRATE_RECLAIMABLE], 0);
	}
	/* pagetypeinfo: every pageblock of DMA32 is Unmovable. */
	blocks = (zone_end_pfn(pa_zone(ZONE_DMA32)) -
		  ALIGN_DOWN(pa_zone(ZONE_DMA32)->zone_start_pfn, pageblock_nr_pages) +
		  pageblock_nr_pages - 1) / pageblock_nr_pages;
	snprintf(want, sizeof(want), "Node 0, zone    DMA32 %12lu %12u %12u", blocks, 0, 0);
	text = pa_view("pagetypeinfo");
	if (!strstr(text, want))
		fail_msg("pagetypeinfo lacks \"%s\":\n%s", want, text);
	free(text);
}

/*
 * Linux's definitions (mm/vmstat.c, the debugfs extfrag files), from the
 * zone's free block counts, for every order.
 */
static void assert_indices_match_linux(struct zone *z)
{
	for (unsigned int order = 0; order <= MAX_ORDER; order++) {
		unsigned long free_pages = 0, blocks = 0, suitable = 0;
		long unusable, extfrag;

		for (unsigned int o = 0; o <= MAX_ORDER; o++) {
			free_pages += z->free_area[o].nr_free << o;
			blocks += z->free_area[o].nr_free;
			if (o >= order)
				suitable += z->free_area[o].nr_free << (o - order);
		}
		unusable = free_pages ? (long)((free_pages - (suitable << order)) * 1000 / free_pages)
				      : 0;
		if (!blocks)
			extfrag = 0;
		else if (suitable)
			extfrag = -1000;
		else
			extfrag = 1000 - (long)((1000 + free_pages * 1000 / (1UL << order)) / blocks);
		if (unusable_free_index(z, order) != unusable || extfrag_index(z, order) != extfrag)
			fail_msg("zone %s order %u: unusable %d (Linux: %ld), extfrag %d (Linux: %ld)",
				 z->name, order, unusable_free_index(z, order), unusable,
				 extfrag_index(z, order), extfrag);
	}
}

struct frag_result {
	unsigned long free_after;        /* free pages once the movable pages went */
	unsigned long order9;            /* order-9 requests that then succeeded */
	unsigned long mixed_blocks;      /* pageblocks holding an unmovable page */
	unsigned long unmovable_pages;
	int unusable9_boot, unusable9, extfrag9;
	unsigned long steals;
};

static void fragment(bool grouping, struct frag_result *r)
{
	struct pa_list movable = { 0 }, unmovable = { 0 }, big = { 0 };
	struct emu_config cfg;
	struct zone *z;
	uint8_t *mixed;
	unsigned int misses = 0;

	pa_config(&cfg, MACHINE, 2);
	cfg.mm.group_by_mobility = grouping;
	pa_boot_cfg(&cfg);
	z = pa_zone(ZONE_DMA32);
	memset(r, 0, sizeof(*r));
	r->unusable9_boot = unusable_free_index(z, 9);

	/* Fill memory: movable pages with an unmovable one every 8th request. */
	for (unsigned long i = 0; misses < 64; i++) {
		bool is_unmovable = i % UNMOVABLE_EVERY == UNMOVABLE_EVERY - 1;
		struct page *page = alloc_pages((is_unmovable ? GFP_KERNEL : GFP_HIGHUSER_MOVABLE) |
							__GFP_NOWARN, 0);
		if (!page) {
			misses++;
			continue;
		}
		pa_push(is_unmovable ? &unmovable : &movable, page, 0);
	}
	assert_true(movable.n > 6 * unmovable.n);
	assert_int_equal(page_alloc_check(), 0);

	/* The movable pages go (as reclaim or migration would make them). */
	pa_list_destroy(&movable);
	drain_all_pages();
	assert_int_equal(page_alloc_check(), 0);

	r->unmovable_pages = unmovable.n;
	mixed = calloc(max_pfn >> pageblock_order, 1);
	assert_non_null(mixed);
	for (size_t i = 0; i < unmovable.n; i++) {
		unsigned long b = page_to_pfn(unmovable.v[i].page) >> pageblock_order;
		r->mixed_blocks += !mixed[b];
		mixed[b] = 1;
	}
	free(mixed);
	r->free_after = nr_free_pages();
	r->unusable9 = unusable_free_index(z, 9);
	r->extfrag9 = extfrag_index(z, 9);
	assert_indices_match_linux(z);
	assert_indices_match_linux(pa_zone(ZONE_DMA));
	r->steals = pa_stat("pageblock_steal");

	r->order9 = pa_alloc_until_fail(&big, GFP_HIGHUSER_MOVABLE, 9);
	assert_int_equal(page_alloc_check(), 0);

	pa_list_destroy(&big);
	pa_list_destroy(&unmovable);
	drain_all_pages();
	assert_int_equal(nr_free_pages(), totalram_pages());
	assert_int_equal(page_alloc_check(), 0);
}

static void print_result(const char *what, const struct frag_result *r)
{
	print_message("%s: %lu unmovable pages in %lu pageblocks; %lu pages free = %lu "
		      "pageblocks; %lu order-9 blocks allocated; unusable_index(9) %d -> %d, "
		      "extfrag_index(9) %d, %lu pageblock steals\n",
		      what, r->unmovable_pages, r->mixed_blocks, r->free_after,
		      r->free_after / pageblock_nr_pages, r->order9, r->unusable9_boot,
		      r->unusable9, r->extfrag9, r->steals);
}

/*
 * With grouping, the unmovable pages sit in about as few pageblocks as they
 * fill, and most of the freed memory is whole pageblocks again.
 */
static void test_grouping_keeps_pageblocks_free(void **state)
{
	struct frag_result r;
	unsigned long needed;

	fragment(true, &r);
	print_result("grouping on ", &r);
	needed = (r.unmovable_pages + pageblock_nr_pages - 1) / pageblock_nr_pages;
	/* A few pageblocks more than the minimum: the last ones filled mix. */
	assert_true(r.mixed_blocks <= needed + needed / 2 + 4);
	assert_true(r.order9 * 10 >= (r.free_after / pageblock_nr_pages) * 6);
	assert_true(r.unusable9_boot < 50);
	assert_true(r.unusable9 < 400);
	assert_int_equal(r.extfrag9, -1000);
	assert_true(r.steals > 0);
}

/*
 * The counter-check: the same workload without grouping puts an unmovable
 * page in every pageblock; no order-9 block can be formed, nearly all free
 * memory is unusable at order 9, and the external fragmentation index says
 * the failure is fragmentation, not lack of memory.
 */
static void test_no_grouping_fragments(void **state)
{
	struct frag_result on, off;

	fragment(true, &on);
	fragment(false, &off);
	print_result("grouping on ", &on);
	print_result("grouping off", &off);
	assert_true(off.mixed_blocks > 4 * on.mixed_blocks);
	assert_int_equal(off.order9, 0);
	assert_true(off.free_after > totalram_pages() / 2);
	assert_true(off.unusable9_boot < 50);
	assert_true(off.unusable9 >= 990);
	assert_true(off.unusable9 > on.unusable9 + 500);
	assert_true(off.extfrag9 > 500);
	assert_int_equal(off.steals, 0);
	assert_true(on.order9 > 10 * (off.order9 + 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_migrate_types, pa_teardown),
		cmocka_unit_test_teardown(test_fallback_claims_half_free_pageblock, pa_teardown),
		cmocka_unit_test_teardown(test_no_grouping_is_one_pool, pa_teardown),
		cmocka_unit_test_teardown(test_grouping_keeps_pageblocks_free, pa_teardown),
		cmocka_unit_test_teardown(test_no_grouping_fragments, pa_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
