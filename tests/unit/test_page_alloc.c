/*
 * The page-frame allocator on a deterministic machine: the buddy system's
 * split and merge, alignment and every order, the zone fallback order and
 * the lowmem reserves, the watermarks and access to the reserves, the
 * per-CPU lists, exhaustion, a million random operations under the
 * invariant checker, fault injection, the views, and the checks that catch
 * bad frees and broken invariants.
 *
 * Most tests derive exact expectations from the allocator's own parameters
 * (watermarks, reserves, batch sizes) and the counts before the step, so a
 * change of tuning moves the expectation with it, while a wrong split, a
 * missed merge or a miscount fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "pa_random.h"
#include "pa_test.h"

#define MACHINE (256 * MiB)

static unsigned long free_total(void)
{
	return nr_free_pages() + nr_pcp_pages();
}

static struct emu_config no_pcp_config(uint64_t ram)
{
	struct emu_config cfg;

	pa_config(&cfg, ram, 2);
	cfg.mm.pcp_lists = false;
	return cfg;
}

/* ---- Boot ---- */

/*
 * After boot every frame is reserved exactly when memblock says it is not
 * free RAM, and the buddy allocator holds all the rest.
 */
static void test_boot_accounting(void **state)
{
	unsigned long present = 0, managed = 0;

	pa_boot(MACHINE, 2);
	assert_int_equal(nr_pcp_pages(), 0);
	assert_int_equal(nr_free_pages(), totalram_pages());
	assert_int_equal(nr_free_pages(), pa_memblock_free_pages());
	assert_true(memblock.released);

	for (unsigned int t = 0; t < MAX_NR_ZONES; t++) {
		struct zone *z = pa_zone(t);

		assert_int_equal(z->type, t);
		assert_string_equal(z->name, zone_names[t]);
		assert_int_equal(z->managed_pages + z->reserved_pages, z->present_pages);
		assert_true(z->present_pages <= z->spanned_pages);
		present += z->present_pages;
		managed += z->managed_pages;
	}
	assert_int_equal(managed, totalram_pages());
	assert_int_equal(present - managed, nr_reserved_pages());
	/* 256 MiB: DMA below 16 MiB, DMA32 the rest, no Normal zone. */
	assert_true(populated_zone(pa_zone(ZONE_DMA)));
	assert_true(PFN_PHYS(zone_end_pfn(pa_zone(ZONE_DMA))) <= ZONE_DMA_END);
	assert_int_equal(pa_zone(ZONE_DMA32)->zone_start_pfn, PHYS_PFN(ZONE_DMA_END));
	assert_int_equal(zone_end_pfn(pa_zone(ZONE_DMA32)), PHYS_PFN(MACHINE));
	assert_int_equal(max_pfn, PHYS_PFN(MACHINE));
	assert_false(populated_zone(pa_zone(ZONE_NORMAL)));

	for (unsigned long pfn = 0; pfn < max_pfn; pfn++) {
		bool free_ram = pa_frame_is_free_ram(pfn);
		struct page *page = pfn_to_page(pfn);

		if (page_flag(page, PG_reserved) == free_ram)
			fail_msg("pfn %#lx: reserved=%d but memblock says free RAM=%d", pfn,
				 page_flag(page, PG_reserved), free_ram);
		if (free_ram && page_ref_count(page) != 0)
			fail_msg("free pfn %#lx has refcount %d", pfn, page_ref_count(page));
	}
	assert_int_equal(page_alloc_check(), 0);
	assert_int_equal(kmm_check(), 0);
	assert_int_equal(pa_stat("MemTotal"), totalram_pages() * 4);
	assert_int_equal(pa_stat("MemFree"), nr_free_pages() * 4);
	assert_int_equal(pa_stat("nr_free_pages"), nr_free_pages());
}

/* ---- The buddy system ---- */

/*
 * Allocating order k from a zone whose smallest movable block of order >= k
 * has order o splits it: one block fewer at o, one more at each order
 * k..o-1, and those are exactly the upper halves. Freeing merges back.
 */
static void test_split_and_merge(void **state)
{
	struct emu_config cfg = no_pcp_config(MACHINE);
	struct zone *z;

	pa_boot_cfg(&cfg);
	z = pa_zone(ZONE_DMA32);
	for (unsigned int k = 0; k <= MAX_ORDER; k++) {
		struct pa_buddy_snapshot before, split, after;
		char *text_before, *text_after;
		unsigned int o = k;
		struct page *page;
		unsigned long pfn;

		while (o <= MAX_ORDER && !z->free_area[o].nr_free_mt[MIGRATE_MOVABLE])
			o++;
		assert_true(o <= MAX_ORDER);
		pa_snapshot(&before);
		text_before = pa_view("buddyinfo");

		page = alloc_pages(GFP_HIGHUSER_MOVABLE, k);
		assert_non_null(page);
		assert_int_equal(page_zonenum(page), ZONE_DMA32);
		pfn = page_to_pfn(page);
		assert_int_equal(pfn & ((1UL << k) - 1), 0);

		pa_snapshot(&split);
		for (unsigned int j = 0; j <= MAX_ORDER; j++) {
			long want = (long)before.nr_free[ZONE_DMA32][j];
			if (j == o)
				want--;
			else if (j >= k && j < o)
				want++;
			if ((long)split.nr_free[ZONE_DMA32][j] != want)
				fail_msg("order-%u alloc from an order-%u block: order %u has %lu "
					 "free blocks, expected %ld", k, o, j,
					 split.nr_free[ZONE_DMA32][j], want);
		}
		for (unsigned int j = k; j < o; j++) {
			struct page *half = pfn_to_page(pfn + (1UL << j));
			assert_true(page_flag(half, PG_buddy));
			assert_int_equal(half->private, j);
		}
		assert_int_equal(split.free_pages[ZONE_DMA32],
				 before.free_pages[ZONE_DMA32] - (1UL << k));
		assert_int_equal(split.free_pages[ZONE_DMA], before.free_pages[ZONE_DMA]);
		assert_int_equal(page_alloc_check(), 0);

		__free_pages(page, k);
		pa_snapshot(&after);
		pa_assert_snapshot_equal(&before, &after);
		text_after = pa_view("buddyinfo");
		assert_string_equal(text_before, text_after);
		free(text_before);
		free(text_after);
	}
	assert_int_equal(page_alloc_check(), 0);
}

/*
 * Buddies freed in any order merge all the way up: take a whole order-10
 * block apart into order-0 pages, free them in a shuffled order, and the
 * order-10 block is back.
 */
static void test_merge_in_any_order(void **state)
{
	struct emu_config cfg = no_pcp_config(MACHINE);
	struct pa_buddy_snapshot before, after;
	struct page *pages[1 << MAX_ORDER];
	struct pa_list small = { 0 };
	struct zone *z;
	uint64_t rng = 7;
	unsigned long base;

	pa_boot_cfg(&cfg);
	pa_snapshot(&before);
	/* Take the smaller movable blocks away: only order-10 ones are left. */
	z = pa_zone(ZONE_DMA32);
	for (unsigned int o = 0; o < MAX_ORDER; o++)
		while (z->free_area[o].nr_free_mt[MIGRATE_MOVABLE])
			pa_push(&small, alloc_pages(GFP_HIGHUSER_MOVABLE, o), o);
	for (size_t i = 0; i < small.n; i++)
		assert_non_null(small.v[i].page);

	/* Now 1024 order-0 requests split one order-10 block and use it all. */
	for (unsigned int i = 0; i < (1U << MAX_ORDER); i++) {
		pages[i] = alloc_pages(GFP_HIGHUSER_MOVABLE, 0);
		assert_non_null(pages[i]);
	}
	base = page_to_pfn(pages[0]) & ~((1UL << MAX_ORDER) - 1);
	for (unsigned int i = 0; i < (1U << MAX_ORDER); i++)
		assert_int_equal(page_to_pfn(pages[i]) & ~((1UL << MAX_ORDER) - 1), base);
	pa_list_destroy(&small);
	assert_int_equal(page_alloc_check(), 0);
	for (unsigned int i = (1U << MAX_ORDER) - 1; i > 0; i--) {
		unsigned int j = pa_rand_below(&rng, i + 1);
		struct page *t = pages[i];
		pages[i] = pages[j];
		pages[j] = t;
	}
	for (unsigned int i = 0; i < (1U << MAX_ORDER); i++) {
		__free_pages(pages[i], 0);
		if (i % 97 == 0)
			assert_int_equal(page_alloc_check(), 0);
	}
	pa_snapshot(&after);
	pa_assert_snapshot_equal(&before, &after);
	assert_true(page_flag(pfn_to_page(base), PG_buddy));
	assert_int_equal(pfn_to_page(base)->private, MAX_ORDER);
	assert_int_equal(page_alloc_check(), 0);
}

/*
 * Every order 0..MAX_ORDER, with every kind of request: aligned, of the
 * allowed zones, one reference, no free-list flags, and no two blocks share
 * a frame (the stamps survive). Orders above MAX_ORDER get NULL.
 */
static void test_alignment_every_order(void **state)
{
	static const gfp_t gfps[] = {
		GFP_KERNEL, GFP_HIGHUSER_MOVABLE, GFP_RECLAIMABLE,
		GFP_KERNEL | __GFP_DMA32, GFP_KERNEL | __GFP_DMA, GFP_ATOMIC,
	};
	struct pa_buddy_snapshot before, after;
	struct pa_list held = { 0 };
	unsigned long before_free;

	pa_boot(MACHINE, 2);
	pa_snapshot(&before);
	for (unsigned int order = 0; order <= MAX_ORDER; order++) {
		for (unsigned int i = 0; i < ARRAY_SIZE(gfps); i++) {
			struct page *page = alloc_pages(gfps[i], order);
			unsigned long pfn;

			if (!page)
				fail_msg("order %u gfp %#x failed on a fresh machine", order,
					 gfps[i]);
			pfn = page_to_pfn(page);
			if (pfn % (1UL << order))
				fail_msg("order %u block at pfn %#lx not aligned", order, pfn);
			assert_int_equal(page_ref_count(page), 1);
			assert_false(page_flag(page, PG_buddy));
			assert_false(page_flag(page, PG_pcp));
			assert_false(page_flag(page, PG_reserved));
			if (gfps[i] & __GFP_DMA)
				assert_true(PFN_PHYS(pfn + (1UL << order)) <= ZONE_DMA_END);
			for (unsigned long p = 0; p < (1UL << order); p++)
				*(uint64_t *)page_address(page + p) = pa_stamp(pfn + p, order);
			pa_push(&held, page, order);
		}
	}
	assert_int_equal(page_alloc_check(), 0);
	for (size_t i = 0; i < held.n; i++) {
		unsigned long pfn = page_to_pfn(held.v[i].page);
		for (unsigned long p = 0; p < (1UL << held.v[i].order); p++)
			if (*(uint64_t *)page_address(held.v[i].page + p) !=
			    pa_stamp(pfn + p, held.v[i].order))
				fail_msg("pfn %#lx belongs to two blocks", pfn + p);
	}

	before_free = free_total();
	assert_null(alloc_pages(GFP_KERNEL, MAX_ORDER + 1));
	assert_null(alloc_pages(GFP_KERNEL | __GFP_NOFAIL, MAX_ORDER + 1));
	assert_null(alloc_pages(GFP_KERNEL, 31));
	assert_int_equal(free_total(), before_free);

	pa_list_destroy(&held);
	drain_all_pages();
	pa_snapshot(&after);
	pa_assert_snapshot_equal(&before, &after);
	assert_int_equal(page_alloc_check(), 0);
}

/*
 * For each order, allocate blocks until the allocator refuses: it may refuse
 * only when no zone allowed passes the min watermark for that order. Freeing
 * everything restores the boot free lists exactly (a fully free zone has one
 * possible buddy layout).
 */
static void test_every_order_to_exhaustion(void **state)
{
	struct pa_buddy_snapshot boot, now;

	pa_boot(64 * MiB, 2);
	pa_snapshot(&boot);
	for (unsigned int order = 0; order <= MAX_ORDER; order++) {
		struct pa_list held = { 0 };
		unsigned long n = pa_alloc_until_fail(&held, GFP_KERNEL, order);
		struct zone *z;

		if (order < 9)
			assert_true(n > 0);
		assert_int_equal(page_alloc_check(), 0);
		for_each_zone(z) {
			if (!populated_zone(z))
				continue;
			if (zone_watermark_ok(z, order, z->watermark[WMARK_MIN], ZONE_NORMAL,
					      ALLOC_WMARK_MIN))
				fail_msg("order %u failed after %lu blocks although zone %s "
					 "passes its min watermark (free %lu)", order, n, z->name,
					 zone_page_state(z, NR_FREE_PAGES));
		}
		pa_list_destroy(&held);
		drain_all_pages();
		pa_snapshot(&now);
		pa_assert_snapshot_equal(&boot, &now);
	}
}

/* Refcounts: the block is freed on the last reference, and only then. */
static void test_reference_counts(void **state)
{
	struct emu_config cfg = no_pcp_config(MACHINE);
	struct pa_buddy_snapshot before, after;
	struct page *page;
	unsigned long free;

	pa_boot_cfg(&cfg);
	pa_snapshot(&before);

	/* A compound block: an extra reference keeps all of it. */
	page = alloc_pages(GFP_KERNEL | __GFP_COMP, 2);
	assert_non_null(page);
	free = nr_free_pages();
	get_page(page);
	assert_int_equal(page_ref_count(page), 2);
	__free_pages(page, 2);
	assert_int_equal(nr_free_pages(), free);
	assert_int_equal(page_ref_count(page), 1);
	assert_true(page_flag(page, PG_head));
	__free_pages(page, 2);
	assert_int_equal(nr_free_pages(), free + 4);

	/*
	 * A plain block with an extra reference on its first page: the rest
	 * of the block is freed at once, the first page when the reference goes.
	 */
	page = alloc_pages(GFP_KERNEL, 2);
	assert_non_null(page);
	free = nr_free_pages();
	get_page(page);
	__free_pages(page, 2);
	assert_int_equal(nr_free_pages(), free + 3);
	assert_int_equal(page_alloc_check(), 0);
	__free_pages(page, 0);
	assert_int_equal(nr_free_pages(), free + 4);

	pa_snapshot(&after);
	pa_assert_snapshot_equal(&before, &after);
	assert_int_equal(page_alloc_check(), 0);
}

/*
 * __GFP_ZERO, get_zeroed_page and the address-based calls, on a machine
 * whose every free frame was dirtied first (so zeroing is really tested).
 */
static void test_zeroing_and_address_calls(void **state)
{
	struct pa_list held = { 0 };
	void *addr;

	pa_boot(64 * MiB, 2);
	pa_alloc_until_fail(&held, GFP_ATOMIC, 0);
	assert_true(held.n > 1000);
	for (size_t i = 0; i < held.n; i++)
		memset(page_address(held.v[i].page), 0xa5, PAGE_SIZE);
	pa_free_all(&held);
	drain_all_pages();

	for (unsigned int i = 0; i < 200; i++) {
		unsigned int order = i % 4;
		struct page *page = alloc_pages(GFP_KERNEL | __GFP_ZERO, order);
		const unsigned char *bytes;

		assert_non_null(page);
		bytes = page_address(page);
		for (size_t b = 0; b < (PAGE_SIZE << order); b++)
			if (bytes[b])
				fail_msg("__GFP_ZERO order %u pfn %#lx: byte %zu is %#x", order,
					 page_to_pfn(page), b, bytes[b]);
		pa_push(&held, page, order);
	}
	pa_list_destroy(&held);

	addr = get_zeroed_page(GFP_KERNEL);
	assert_non_null(addr);
	for (size_t b = 0; b < PAGE_SIZE; b++)
		assert_int_equal(((unsigned char *)addr)[b], 0);
	assert_ptr_equal(page_address(virt_to_page(addr)), addr);
	free_pages(addr, 0);

	addr = __get_free_pages(GFP_KERNEL, 3);
	assert_non_null(addr);
	assert_int_equal(virt_to_phys(addr) % (8 * PAGE_SIZE), 0);
	assert_int_equal(page_ref_count(virt_to_page(addr)), 1);
	free_pages(addr, 3);
	free_pages(NULL, 3);

	drain_all_pages();
	assert_int_equal(nr_free_pages(), totalram_pages());
	assert_int_equal(page_alloc_check(), 0);
}

/* ---- Zones ---- */

/* The zones a run of allocations came from, as runs: zone and length. */
struct zone_runs {
	unsigned int zone[64];
	unsigned long len[64];
	unsigned int n;
};

static void runs_add(struct zone_runs *r, unsigned int zone)
{
	if (r->n && r->zone[r->n - 1] == zone) {
		r->len[r->n - 1]++;
		return;
	}
	assert_true(r->n < 64);
	r->zone[r->n] = zone;
	r->len[r->n++] = 1;
}

/*
 * On a machine with DMA and DMA32, order-0 __GFP_DMA32 requests drain
 * DMA32 to its low watermark, then use DMA down to its low watermark plus
 * its reserve against DMA32 requests, then (reclaim woken) DMA32 to min,
 * then DMA to min plus the reserve, then fail. The reserve is left for
 * __GFP_DMA requests, which take DMA down to its own min.
 */
static void test_zone_fallback_and_lowmem_reserve(void **state)
{
	struct emu_config cfg = no_pcp_config(64 * MiB);
	struct pa_buddy_snapshot boot, now;
	struct pa_list held = { 0 };
	struct zone_runs runs = { 0 };
	struct zone *dma, *dma32;
	unsigned long f_dma, f_dma32, wakes, fails, n;
	long reserve;
	struct page *page;

	pa_boot_cfg(&cfg);
	pa_snapshot(&boot);
	dma = pa_zone(ZONE_DMA);
	dma32 = pa_zone(ZONE_DMA32);
	reserve = dma->lowmem_reserve[ZONE_DMA32];
	assert_int_equal(reserve, (long)(dma32->managed_pages / 256));
	assert_true(reserve > 0);
	assert_int_equal(dma->lowmem_reserve[ZONE_DMA], 0);
	assert_int_equal(dma32->lowmem_reserve[ZONE_DMA32], 0);

	/* Unrestricted and DMA32 requests start in DMA32, DMA requests in DMA. */
	page = alloc_pages(GFP_KERNEL, 0);
	assert_int_equal(page_zonenum(page), ZONE_DMA32);
	__free_pages(page, 0);
	page = alloc_pages(GFP_KERNEL | __GFP_DMA, 0);
	assert_int_equal(page_zonenum(page), ZONE_DMA);
	__free_pages(page, 0);

	f_dma = pa_zone_free(ZONE_DMA);
	f_dma32 = pa_zone_free(ZONE_DMA32);
	assert_true(f_dma32 > dma32->watermark[WMARK_LOW]);
	assert_true((long)f_dma > (long)dma->watermark[WMARK_LOW] + reserve);
	wakes = pa_stat("kswapd_wake");
	fails = pa_stat("pgalloc_fail_order0");
	while ((page = alloc_pages(GFP_KERNEL | __GFP_DMA32 | __GFP_NOWARN, 0))) {
		pa_push(&held, page, 0);
		runs_add(&runs, page_zonenum(page));
	}
	assert_int_equal(runs.n, 4);
	assert_int_equal(runs.zone[0], ZONE_DMA32);
	assert_int_equal(runs.len[0], f_dma32 - dma32->watermark[WMARK_LOW]);
	assert_int_equal(runs.zone[1], ZONE_DMA);
	assert_int_equal(runs.len[1], f_dma - dma->watermark[WMARK_LOW] - (unsigned long)reserve);
	assert_int_equal(runs.zone[2], ZONE_DMA32);
	assert_int_equal(runs.len[2], dma32->watermark[WMARK_LOW] - dma32->watermark[WMARK_MIN]);
	assert_int_equal(runs.zone[3], ZONE_DMA);
	assert_int_equal(runs.len[3], dma->watermark[WMARK_LOW] - dma->watermark[WMARK_MIN]);
	assert_int_equal(pa_zone_free(ZONE_DMA32), dma32->watermark[WMARK_MIN]);
	assert_int_equal(pa_zone_free(ZONE_DMA),
			 dma->watermark[WMARK_MIN] + (unsigned long)reserve);
	/* Reclaim was woken by every request of phases 3 and 4, and the failure. */
	assert_int_equal(pa_stat("kswapd_wake") - wakes, runs.len[2] + runs.len[3] + 1);
	assert_int_equal(pa_stat("pgalloc_fail_order0") - fails, 1);
	assert_int_equal(page_alloc_check(), 0);

	/* The reserve is there for DMA-only requests. */
	n = pa_alloc_until_fail(&held, GFP_KERNEL | __GFP_DMA, 0);
	assert_int_equal(n, (unsigned long)reserve);
	assert_int_equal(pa_zone_free(ZONE_DMA), dma->watermark[WMARK_MIN]);
	for (size_t i = held.n - n; i < held.n; i++)
		assert_int_equal(page_zonenum(held.v[i].page), ZONE_DMA);

	pa_list_destroy(&held);
	pa_snapshot(&now);
	pa_assert_snapshot_equal(&boot, &now);
	assert_int_equal(page_alloc_check(), 0);
}

/*
 * A machine above 4 GiB (with the PC's PCI hole) has a Normal zone. Normal
 * requests exhaust Normal, then DMA32 down to min plus its reserve, and
 * never touch DMA (its reserve against them exceeds DMA's whole size).
 */
static void test_normal_zone(void **state)
{
	struct emu_config cfg = no_pcp_config(5 * GiB);
	struct zone *dma, *dma32, *normal;
	struct pa_list held = { 0 };
	unsigned long dma_free;
	struct page *page;

	pa_boot_cfg(&cfg);
	dma = pa_zone(ZONE_DMA);
	dma32 = pa_zone(ZONE_DMA32);
	normal = pa_zone(ZONE_NORMAL);
	assert_true(populated_zone(normal));
	assert_int_equal(normal->zone_start_pfn, PHYS_PFN(ZONE_DMA32_END));
	assert_int_equal(normal->present_pages,
			 memblock_memory_in(ZONE_DMA32_END, PFN_PHYS(max_pfn)) >> PAGE_SHIFT);
	assert_int_equal(dma32->present_pages,
			 memblock_memory_in(ZONE_DMA_END, ZONE_DMA32_END) >> PAGE_SHIFT);
	assert_false(memblock_is_memory(3 * GiB + 512 * MiB));
	/* All the RAM is there, but for the legacy hole below 1 MiB. */
	assert_in_range(memblock.memory.total_size, 5 * GiB - MiB, 5 * GiB);
	assert_int_equal(totalram_pages() + nr_reserved_pages(),
			 memblock.memory.total_size >> PAGE_SHIFT);

	/* Linux's lowmem reserves, ratio 256. */
	assert_int_equal(dma->lowmem_reserve[ZONE_DMA32], dma32->managed_pages / 256);
	assert_int_equal(dma->lowmem_reserve[ZONE_NORMAL],
			 (dma32->managed_pages + normal->managed_pages) / 256);
	assert_int_equal(dma32->lowmem_reserve[ZONE_NORMAL], normal->managed_pages / 256);
	assert_int_equal(normal->lowmem_reserve[ZONE_NORMAL], 0);

	page = alloc_pages(GFP_KERNEL, 0);
	assert_int_equal(page_zonenum(page), ZONE_NORMAL);
	assert_true(page_to_pfn(page) >= PHYS_PFN(ZONE_DMA32_END));
	__free_pages(page, 0);
	page = alloc_pages(GFP_KERNEL | __GFP_DMA32, 0);
	assert_int_equal(page_zonenum(page), ZONE_DMA32);
	__free_pages(page, 0);
	page = alloc_pages(GFP_DMA, 0);
	assert_int_equal(page_zonenum(page), ZONE_DMA);
	__free_pages(page, 0);

	/* Normal requests, largest blocks first. */
	dma_free = pa_zone_free(ZONE_DMA);
	for (int order = MAX_ORDER; order >= 0; order--)
		pa_alloc_until_fail(&held, GFP_KERNEL, (unsigned int)order);
	assert_int_equal(pa_zone_free(ZONE_NORMAL), normal->watermark[WMARK_MIN]);
	assert_int_equal(pa_zone_free(ZONE_DMA32),
			 dma32->watermark[WMARK_MIN] + dma32->lowmem_reserve[ZONE_NORMAL]);
	assert_int_equal(pa_zone_free(ZONE_DMA), dma_free);
	assert_int_equal(page_alloc_check(), 0);

	/* DMA32 requests may go on, into DMA32's reserve, then DMA. */
	pa_alloc_until_fail(&held, GFP_KERNEL | __GFP_DMA32, 0);
	assert_int_equal(pa_zone_free(ZONE_DMA32), dma32->watermark[WMARK_MIN]);
	/* DMA's reserve against DMA32 requests may exceed all of DMA here. */
	if (dma_free > dma->watermark[WMARK_MIN] + dma->lowmem_reserve[ZONE_DMA32])
		assert_int_equal(pa_zone_free(ZONE_DMA),
				 dma->watermark[WMARK_MIN] + dma->lowmem_reserve[ZONE_DMA32]);
	else
		assert_int_equal(pa_zone_free(ZONE_DMA), dma_free);
	pa_alloc_until_fail(&held, GFP_KERNEL | __GFP_DMA, 0);
	assert_int_equal(pa_zone_free(ZONE_DMA), dma->watermark[WMARK_MIN]);
	assert_int_equal(page_alloc_check(), 0);

	pa_list_destroy(&held);
	assert_int_equal(nr_free_pages(), totalram_pages());
	assert_int_equal(page_alloc_check(), 0);
}

/* ---- Watermarks ---- */

/* Linux's formulas for min_free_kbytes and the three watermarks. */
static void assert_linux_watermarks(unsigned long kbytes)
{
	unsigned long total = totalram_pages(), pages_min = kbytes >> 2;
	struct zone *z;

	for_each_zone(z) {
		unsigned long min, gap;
		if (!populated_zone(z))
			continue;
		min = pages_min * z->managed_pages / total;
		gap = MAX(min / 4, z->managed_pages * 10 / 10000);
		assert_int_equal(z->watermark[WMARK_MIN], min);
		assert_int_equal(z->watermark[WMARK_LOW], min + gap);
		assert_int_equal(z->watermark[WMARK_HIGH], min + 2 * gap);
	}
}

static void test_watermark_formulas(void **state)
{
	static const uint64_t sizes[] = { 16 * MiB, 256 * MiB, 1 * GiB };
	struct emu_config cfg;
	char line[64];
	char *text;

	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
		unsigned long want;

		pa_boot(sizes[i], 2);
		want = CLAMP(pa_isqrt(totalram_pages() * 4 * 16), 128UL, 262144UL);
		assert_int_equal(min_free_kbytes, want);
		assert_linux_watermarks(want);
	}
	pa_config(&cfg, 256 * MiB, 2);
	cfg.mm.min_free_kbytes = 8192;
	pa_boot_cfg(&cfg);
	assert_int_equal(min_free_kbytes, 8192);
	assert_linux_watermarks(8192);

	text = pa_view("zoneinfo");
	snprintf(line, sizeof(line), "        min      %lu\n",
		 pa_zone(ZONE_DMA32)->watermark[WMARK_MIN]);
	assert_non_null(strstr(text, line));
	snprintf(line, sizeof(line), "        high     %lu\n",
		 pa_zone(ZONE_DMA32)->watermark[WMARK_HIGH]);
	assert_non_null(strstr(text, line));
	free(text);
}

/* Allocates order-0 DMA pages while they succeed; returns how many. */
static unsigned long drain_dma(struct pa_list *held, gfp_t gfp)
{
	return pa_alloc_until_fail(held, gfp | __GFP_DMA, 0);
}

/*
 * Drive the DMA zone down one page at a time: above low nothing is
 * counted; between low and min each allocation records a reclaim wake-up;
 * at min ordinary requests fail, __GFP_HIGH requests go on to half of min,
 * GFP_ATOMIC a quarter further, and nothing below that.
 */
static void test_watermarks(void **state)
{
	struct emu_config cfg = no_pcp_config(32 * MiB);
	struct pa_list held = { 0 };
	struct zone *z;
	unsigned long min, low, wakes, fails, high_floor, atomic_floor;
	struct page *page;

	cfg.mm.min_free_kbytes = 2048;
	pa_boot_cfg(&cfg);
	z = pa_zone(ZONE_DMA);
	min = z->watermark[WMARK_MIN];
	low = z->watermark[WMARK_LOW];
	assert_true(min >= 16);
	assert_true(low > min);
	assert_true(pa_zone_free(ZONE_DMA) > low);

	/* Above low: no wake-ups. */
	wakes = pa_stat("kswapd_wake");
	while (pa_zone_free(ZONE_DMA) > low) {
		page = alloc_pages(GFP_KERNEL | __GFP_DMA, 0);
		assert_non_null(page);
		assert_int_equal(page_zonenum(page), ZONE_DMA);
		pa_push(&held, page, 0);
	}
	assert_int_equal(pa_stat("kswapd_wake"), wakes);
	assert_int_equal(pa_zone_free(ZONE_DMA), low);

	/* Between low and min: one wake-up per allocation. */
	while (pa_zone_free(ZONE_DMA) > min) {
		unsigned long w = pa_stat("kswapd_wake");
		page = alloc_pages(GFP_KERNEL | __GFP_DMA, 0);
		assert_non_null(page);
		pa_push(&held, page, 0);
		assert_int_equal(pa_stat("kswapd_wake"), w + 1);
	}
	assert_int_equal(pa_stat("kswapd_wake") - wakes, low - min);

	/* At min: ordinary requests fail (and still wake reclaim). */
	wakes = pa_stat("kswapd_wake");
	fails = pa_stat("pgalloc_fail_order0");
	assert_null(alloc_pages(GFP_KERNEL | __GFP_DMA | __GFP_NOWARN, 0));
	assert_int_equal(pa_stat("kswapd_wake"), wakes + 1);
	assert_int_equal(pa_stat("pgalloc_fail_order0"), fails + 1);
	/* A request that may not wake reclaim does not count a wake-up. */
	assert_null(alloc_pages(__GFP_DMA | __GFP_NOWARN, 0));
	assert_int_equal(pa_stat("kswapd_wake"), wakes + 1);
	assert_int_equal(pa_zone_free(ZONE_DMA), min);
	/* Order 1 needs even more. */
	fails = pa_stat("pgalloc_fail_order1");
	assert_null(alloc_pages(GFP_KERNEL | __GFP_DMA | __GFP_NOWARN, 1));
	assert_int_equal(pa_stat("pgalloc_fail_order1"), fails + 1);

	/* __GFP_HIGH: down to half of min. */
	high_floor = min - min / 2;
	assert_int_equal(drain_dma(&held, GFP_KERNEL | __GFP_HIGH), min - high_floor);
	assert_int_equal(pa_zone_free(ZONE_DMA), high_floor);
	/* __GFP_NOMEMALLOC takes away the atomic quarter. */
	assert_null(alloc_pages(GFP_ATOMIC | __GFP_NOMEMALLOC | __GFP_DMA | __GFP_NOWARN, 0));

	/* GFP_ATOMIC: a further quarter. */
	atomic_floor = high_floor - high_floor / 4;
	assert_int_equal(drain_dma(&held, GFP_ATOMIC), high_floor - atomic_floor);
	assert_int_equal(pa_zone_free(ZONE_DMA), atomic_floor);
	assert_true(atomic_floor > 0);
	assert_null(alloc_pages(GFP_ATOMIC | __GFP_DMA | __GFP_NOWARN, 0));
	assert_int_equal(page_alloc_check(), 0);

	pa_list_destroy(&held);
	assert_int_equal(nr_free_pages(), totalram_pages());
	assert_int_equal(page_alloc_check(), 0);
}

/* zone_watermark_ok itself, at the edges. */
static void test_zone_watermark_ok(void **state)
{
	struct emu_config cfg = no_pcp_config(256 * MiB);
	struct zone *z;
	unsigned long f;

	pa_boot_cfg(&cfg);
	z = pa_zone(ZONE_DMA32);
	f = pa_zone_free(ZONE_DMA32);
	assert_true(zone_watermark_ok(z, 0, f - 1, ZONE_DMA32, 0));
	assert_false(zone_watermark_ok(z, 0, f, ZONE_DMA32, 0));
	/* __GFP_HIGH halves the mark, __GFP_ATOMIC takes a further quarter. */
	assert_true(zone_watermark_ok(z, 0, 2 * f - 2, ZONE_DMA32, ALLOC_HIGH));
	assert_false(zone_watermark_ok(z, 0, 2 * f, ZONE_DMA32, ALLOC_HIGH));
	assert_true(zone_watermark_ok(z, 0, f, ZONE_DMA32, ALLOC_HIGH | ALLOC_HARDER));
	/* An order-k request leaves 2^k - 1 pages out of the count. */
	assert_true(zone_watermark_ok(z, 3, f - 8, ZONE_DMA32, 0));
	assert_false(zone_watermark_ok(z, 3, f - 7, ZONE_DMA32, 0));
	/* The lowmem reserve counts against requests that could go higher. */
	z = pa_zone(ZONE_DMA);
	f = pa_zone_free(ZONE_DMA);
	assert_true(z->lowmem_reserve[ZONE_DMA32] > 0);
	assert_true(zone_watermark_ok(z, 0, f - 1, ZONE_DMA, 0));
	assert_false(zone_watermark_ok(z, 0, f - 1, ZONE_DMA32, 0));
	assert_true(zone_watermark_ok(z, 0, f - 1 - (unsigned long)z->lowmem_reserve[ZONE_DMA32],
				      ZONE_DMA32, 0));
}

/* ---- Per-CPU lists ---- */

/* Linux's zone_batchsize. */
static int linux_batch(unsigned long managed)
{
	unsigned long batch = MIN(managed >> 10, 256UL) / 4, p = 1;

	batch = MAX(batch, 1UL);
	batch += batch / 2;
	while (p * 2 <= batch)
		p *= 2;
	return (int)MAX(p - 1, 1UL);
}

static int pcp_count(unsigned int cpu)
{
	return pa_zone(ZONE_DMA32)->pcp[cpu].count;
}

static void test_pcp_refill_and_drain(void **state)
{
	struct pa_list held = { 0 };
	struct per_cpu_pages *pcp0, *pcp1;
	unsigned long f0, refills, drains;
	struct page *page;
	char line[64];
	char *text;
	int batch, high;

	pa_boot(MACHINE, 2);
	emu_set_cpu(0);
	pcp0 = &pa_zone(ZONE_DMA32)->pcp[0];
	pcp1 = &pa_zone(ZONE_DMA32)->pcp[1];
	batch = pcp0->batch;
	high = pcp0->high;
	assert_int_equal(batch, linux_batch(pa_zone(ZONE_DMA32)->managed_pages));
	assert_int_equal(high, 6 * batch);
	assert_int_equal(pcp1->batch, batch);
	assert_int_equal(nr_pcp_pages(), 0);

	/* The first allocation pulls a batch; the next batch-1 take from it. */
	f0 = pa_zone_free(ZONE_DMA32);
	refills = pa_stat("pcp_refill");
	page = alloc_pages(GFP_HIGHUSER_MOVABLE, 0);
	assert_int_equal(page_zonenum(page), ZONE_DMA32);
	pa_push(&held, page, 0);
	assert_int_equal(pcp_count(0), batch - 1);
	assert_int_equal(pa_zone_free(ZONE_DMA32), f0 - (unsigned long)batch);
	assert_int_equal(pa_stat("pcp_refill"), refills + 1);
	assert_int_equal(nr_pcp_pages(), (unsigned long)batch - 1);
	assert_int_equal(pa_stat("nr_free_pcp"), (unsigned long)batch - 1);
	for (int i = 1; i < batch; i++)
		pa_push(&held, alloc_pages(GFP_HIGHUSER_MOVABLE, 0), 0);
	assert_int_equal(pcp_count(0), 0);
	assert_int_equal(pa_stat("pcp_refill"), refills + 1);
	assert_int_equal(pa_zone_free(ZONE_DMA32), f0 - (unsigned long)batch);
	pa_push(&held, alloc_pages(GFP_HIGHUSER_MOVABLE, 0), 0);
	assert_int_equal(pcp_count(0), batch - 1);
	assert_int_equal(pa_stat("pcp_refill"), refills + 2);
	assert_int_equal(pa_zone_free(ZONE_DMA32), f0 - 2 * (unsigned long)batch);

	/* Hold more than high, then free one at a time: drains come in batches. */
	while (held.n < (size_t)(high + 2 * batch))
		pa_push(&held, alloc_pages(GFP_HIGHUSER_MOVABLE, 0), 0);
	drains = pa_stat("pcp_drain");
	for (unsigned int seen_drains = 0; held.n;) {
		int before = pcp_count(0);
		unsigned long zfree = pa_zone_free(ZONE_DMA32);

		held.n--;
		__free_pages(held.v[held.n].page, 0);
		if (before + 1 < high) {
			assert_int_equal(pcp_count(0), before + 1);
			assert_int_equal(pa_zone_free(ZONE_DMA32), zfree);
		} else {
			assert_int_equal(before + 1, high);
			assert_int_equal(pcp_count(0), high - batch);
			assert_int_equal(pa_zone_free(ZONE_DMA32), zfree + (unsigned long)batch);
			assert_int_equal(pa_stat("pcp_drain"), drains + ++seen_drains);
		}
		assert_true(pcp_count(0) < high);
	}
	assert_true(pa_stat("pcp_drain") > drains);
	assert_int_equal(page_alloc_check(), 0);

	/* Each CPU has its own list; a page freed on CPU 1 goes to CPU 1's. */
	emu_set_cpu(1);
	{
		int c0 = pcp_count(0);
		page = alloc_pages(GFP_HIGHUSER_MOVABLE, 0);
		assert_int_equal(pcp_count(0), c0);
		assert_int_equal(pcp_count(1), batch - 1);
		__free_pages(page, 0);
		assert_int_equal(pcp_count(1), batch);
		emu_set_cpu(0);
		page = alloc_pages(GFP_HIGHUSER_MOVABLE, 0);
		assert_non_null(page);
		assert_int_equal(pcp_count(0), c0 == 0 ? batch - 1 : c0 - 1);
		emu_set_cpu(1);
		__free_pages(page, 0);
		assert_int_equal(pcp_count(1), batch + 1);
	}

	text = pa_view("zoneinfo");
	snprintf(line, sizeof(line), "              count: %d\n", pcp_count(1));
	assert_non_null(strstr(text, line));
	free(text);

	/* Draining one CPU leaves the other; draining all empties every list. */
	drain_local_pages(1);
	assert_int_equal(pcp_count(1), 0);
	assert_true(pcp_count(0) > 0);
	assert_int_equal(nr_pcp_pages(), (unsigned long)pcp_count(0));
	drain_all_pages();
	assert_int_equal(nr_pcp_pages(), 0);
	assert_int_equal(pcp_count(0), 0);
	assert_int_equal(nr_free_pages(), totalram_pages());
	assert_int_equal(page_alloc_check(), 0);
	emu_set_cpu(0);
	pa_list_destroy(&held);
}

/* With pcp_lists off, order-0 pages come and go straight from the buddy lists. */
static void test_pcp_off(void **state)
{
	struct emu_config cfg = no_pcp_config(MACHINE);
	struct pa_list held = { 0 };
	unsigned long f0;

	pa_boot_cfg(&cfg);
	assert_false(page_alloc_use_pcp);
	f0 = pa_zone_free(ZONE_DMA32);
	for (unsigned int i = 1; i <= 100; i++) {
		pa_push(&held, alloc_pages(GFP_KERNEL, 0), 0);
		assert_int_equal(pa_zone_free(ZONE_DMA32), f0 - i);
		assert_int_equal(nr_pcp_pages(), 0);
	}
	pa_free_all(&held);
	assert_int_equal(pa_zone_free(ZONE_DMA32), f0);
	assert_int_equal(pa_stat("pcp_refill"), 0);
	assert_int_equal(pa_stat("pcp_drain"), 0);
	pa_list_destroy(&held);
}

/* ---- Exhaustion ---- */

static const gfp_t every_gfp[] = {
	GFP_KERNEL, GFP_HIGHUSER_MOVABLE, GFP_RECLAIMABLE, GFP_NOWAIT,
	GFP_KERNEL | __GFP_DMA32, GFP_DMA, GFP_ATOMIC, GFP_ATOMIC | __GFP_DMA32,
	GFP_ATOMIC | __GFP_DMA, __GFP_HIGH, GFP_KERNEL | __GFP_ZERO | __GFP_COMP,
};

/*
 * Random requests until memory is gone; then every kind of request of
 * every order fails, changes nothing, and the allocator is consistent.
 */
static void test_exhaustion(void **state)
{
	struct pa_buddy_snapshot boot, now;
	struct pa_list held = { 0 };
	uint64_t rng = 12345;
	unsigned long free_before, fails_before[NR_ORDERS];

	pa_boot(64 * MiB, 2);
	pa_snapshot(&boot);
	for (unsigned int misses = 0; misses < 200;) {
		unsigned int order = pa_rand_below(&rng, 4);
		gfp_t gfp = every_gfp[pa_rand_below(&rng, ARRAY_SIZE(every_gfp))];
		struct page *page = alloc_pages(gfp | __GFP_NOWARN, order);

		if (page)
			pa_push(&held, page, order);
		else
			misses++;
	}
	/* What is left: the reserves, down to the deepest any request may go. */
	pa_alloc_until_fail(&held, GFP_ATOMIC, 0);
	pa_alloc_until_fail(&held, GFP_ATOMIC | __GFP_DMA32, 0);
	pa_alloc_until_fail(&held, GFP_ATOMIC | __GFP_DMA, 0);
	assert_int_equal(page_alloc_check(), 0);
	assert_int_equal(free_total() + pa_list_pages(&held), totalram_pages());

	free_before = free_total();
	for (unsigned int o = 0; o <= MAX_ORDER; o++)
		fails_before[o] = vm_event_sum(ALLOC_FAIL_ORDER0 + o);
	for (unsigned int o = 0; o <= MAX_ORDER; o++) {
		for (unsigned int i = 0; i < ARRAY_SIZE(every_gfp); i++) {
			struct page *page = alloc_pages(every_gfp[i] | __GFP_NOWARN, o);
			if (page)
				fail_msg("order %u gfp %#x succeeded on an exhausted machine "
					 "(pfn %#lx)", o, every_gfp[i], page_to_pfn(page));
		}
		assert_int_equal(vm_event_sum(ALLOC_FAIL_ORDER0 + o) - fails_before[o],
				 ARRAY_SIZE(every_gfp));
	}
	assert_int_equal(free_total(), free_before);
	assert_int_equal(page_alloc_check(), 0);

	pa_list_destroy(&held);
	drain_all_pages();
	pa_snapshot(&now);
	pa_assert_snapshot_equal(&boot, &now);
	assert_int_equal(page_alloc_check(), 0);
}

/* ---- A million random operations ---- */

static void test_random_million(void **state)
{
	struct pa_worker w = {
		.seed = 0x5eed,
		.ops = 1000000,
		.check_every = 25000,
		.exact_accounting = true,
		.switch_cpus = 2,
		.phase_ops = 20000,
		.cap = 1 << 16,
	};
	struct pa_buddy_snapshot boot, now;
	unsigned long alloc0[MAX_NR_ZONES], free0, fail0[NR_ORDERS], failures = 0;

	pa_boot(64 * MiB, 2);
	pa_snapshot(&boot);
	for (unsigned int t = 0; t < MAX_NR_ZONES; t++)
		alloc0[t] = vm_event_sum(PGALLOC_DMA + t);
	free0 = vm_event_sum(PGFREE);
	for (unsigned int o = 0; o <= MAX_ORDER; o++)
		fail0[o] = vm_event_sum(ALLOC_FAIL_ORDER0 + o);

	assert_true(pa_worker_init(&w));
	pa_worker_run(&w);
	if (w.error[0])
		fail_msg("%s", w.error);
	assert_int_equal(w.checks, 1000000 / 25000);
	/* The workload did reach exhaustion and did exercise every order. */
	for (unsigned int o = 0; o <= MAX_ORDER; o++)
		failures += w.failures[o];
	assert_true(failures > 0);
	assert_true(w.max_live_pages > totalram_pages() / 2);

	pa_worker_free_all(&w);
	if (w.error[0])
		fail_msg("%s", w.error);
	emu_set_cpu(0);
	drain_all_pages();
	assert_int_equal(page_alloc_check(), 0);
	assert_int_equal(nr_free_pages(), totalram_pages());
	assert_int_equal(nr_free_pages(), pa_memblock_free_pages());
	pa_snapshot(&now);
	pa_assert_snapshot_equal(&boot, &now);

	/* The allocator's counters agree with what the workload did. */
	for (unsigned int t = 0; t < MAX_NR_ZONES; t++)
		assert_int_equal(vm_event_sum(PGALLOC_DMA + t) - alloc0[t], w.alloc_pages_zone[t]);
	assert_int_equal(vm_event_sum(PGFREE) - free0, w.freed_pages);
	for (unsigned int o = 0; o <= MAX_ORDER; o++)
		assert_int_equal(vm_event_sum(ALLOC_FAIL_ORDER0 + o) - fail0[o], w.failures[o]);
	pa_worker_destroy(&w);
}

/* ---- Fault injection ---- */

static void test_fail_nth(void **state)
{
	struct pa_list held = { 0 };
	unsigned long free_before, fails;
	struct page *page;

	pa_boot(MACHINE, 2);
	fault_attr_configure(&fail_page_alloc, 5, 0, 0);
	for (unsigned int call = 1; call <= 4; call++)
		pa_push(&held, alloc_pages(GFP_KERNEL, call % 3), call % 3);
	assert_int_equal(held.n, 4);
	for (size_t i = 0; i < held.n; i++)
		assert_non_null(held.v[i].page);
	free_before = free_total();
	fails = pa_stat("pgalloc_fail_order2");
	assert_null(alloc_pages(GFP_KERNEL | __GFP_NOWARN, 2));
	assert_int_equal(free_total(), free_before);
	assert_int_equal(pa_stat("pgalloc_fail_order2"), fails + 1);
	assert_int_equal(atomic_load(&fail_page_alloc.injected), 1);
	assert_int_equal(page_alloc_check(), 0);
	for (unsigned int call = 6; call <= 20; call++) {
		page = alloc_pages(GFP_KERNEL, 0);
		assert_non_null(page);
		pa_push(&held, page, 0);
	}
	assert_int_equal(atomic_load(&fail_page_alloc.injected), 1);
	assert_int_equal(atomic_load(&fail_page_alloc.calls), 20);

	/* __GFP_NOFAIL requests are never failed on purpose. */
	fault_attr_configure(&fail_page_alloc, 1, 0, 0);
	page = alloc_pages(GFP_KERNEL | __GFP_NOFAIL, 0);
	assert_non_null(page);
	pa_push(&held, page, 0);

	fault_attr_configure(&fail_page_alloc, 0, 0, 0);
	pa_list_destroy(&held);
	drain_all_pages();
	assert_int_equal(nr_free_pages(), totalram_pages());
	assert_int_equal(page_alloc_check(), 0);
}

/* Runs n allocations of mixed orders; records which failed in bits. */
static unsigned long fail_pattern(unsigned int n, uint8_t *failed)
{
	struct pa_list held = { 0 };
	unsigned long failures = 0;

	for (unsigned int i = 0; i < n; i++) {
		unsigned int order = i % 3;
		struct page *page = alloc_pages(GFP_KERNEL | __GFP_NOWARN, order);

		failed[i] = !page;
		if (page)
			pa_push(&held, page, order);
		else
			failures++;
		if (held.n == 512)
			pa_free_all(&held);
	}
	pa_list_destroy(&held);
	return failures;
}

static void test_fail_probability(void **state)
{
	enum { N = 20000 };
	static uint8_t first[N], second[N];
	unsigned long failures, fails_before = 0, fails_after = 0;

	pa_boot(MACHINE, 2);
	for (unsigned int o = 0; o <= MAX_ORDER; o++)
		fails_before += vm_event_sum(ALLOC_FAIL_ORDER0 + o);
	fault_attr_configure(&fail_page_alloc, 0, 100000, 42);  /* 10% */
	failures = fail_pattern(N, first);
	assert_in_range(failures, N / 10 - N / 50, N / 10 + N / 50);
	assert_int_equal(atomic_load(&fail_page_alloc.injected), failures);
	for (unsigned int o = 0; o <= MAX_ORDER; o++)
		fails_after += vm_event_sum(ALLOC_FAIL_ORDER0 + o);
	assert_int_equal(fails_after - fails_before, failures);
	assert_int_equal(page_alloc_check(), 0);

	/* The same seed replays the same failures. */
	fault_attr_configure(&fail_page_alloc, 0, 100000, 42);
	assert_int_equal(fail_pattern(N, second), failures);
	assert_memory_equal(first, second, N);
	/* Another seed does not. */
	fault_attr_configure(&fail_page_alloc, 0, 100000, 43);
	fail_pattern(N, second);
	assert_memory_not_equal(first, second, N);

	fault_attr_configure(&fail_page_alloc, 0, 0, 0);
	drain_all_pages();
	assert_int_equal(nr_free_pages(), totalram_pages());
	assert_int_equal(page_alloc_check(), 0);
}

/* The machine's own options: --fail-page-nth and --fail-page-prob. */
static void test_fail_from_emu_config(void **state)
{
	struct emu_config cfg;
	struct page *a, *b;
	uint8_t failed[4000];
	unsigned long failures;

	pa_config(&cfg, MACHINE, 2);
	cfg.fail_page_nth = 3;
	pa_boot_cfg(&cfg);
	a = alloc_pages(GFP_KERNEL, 0);
	b = alloc_pages(GFP_KERNEL, 0);
	assert_non_null(a);
	assert_non_null(b);
	assert_null(alloc_pages(GFP_KERNEL | __GFP_NOWARN, 0));
	__free_pages(a, 0);
	__free_pages(b, 0);
	assert_int_equal(page_alloc_check(), 0);

	pa_config(&cfg, MACHINE, 2);
	cfg.fail_page_probability = 0.25;
	cfg.seed = 99;
	pa_boot_cfg(&cfg);
	failures = fail_pattern(4000, failed);
	assert_in_range(failures, 1000 - 150, 1000 + 150);
	assert_int_equal(page_alloc_check(), 0);
}

/* ---- Views and counters ---- */

static void test_views(void **state)
{
	struct page *page;
	unsigned long v, before;
	char *text, *line;
	unsigned int zones = 0;
	unsigned long value;

	pa_boot(MACHINE, 2);
	page = alloc_pages(GFP_KERNEL, 3);
	assert_non_null(page);

	/* buddyinfo: one line per populated zone, the counts of free_area. */
	text = pa_view("buddyinfo");
	for (line = text; *line; line = strchr(line, '\n') + 1) {
		char name[16];
		unsigned long n[NR_ORDERS];
		struct zone *z = NULL;
		int got = sscanf(line, "Node 0, zone %15s %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu",
				 name, &n[0], &n[1], &n[2], &n[3], &n[4], &n[5], &n[6], &n[7],
				 &n[8], &n[9], &n[10]);
		assert_int_equal(got, 12);
		for (unsigned int t = 0; t < MAX_NR_ZONES; t++)
			if (!strcmp(zone_names[t], name))
				z = pa_zone(t);
		assert_non_null(z);
		for (unsigned int o = 0; o < NR_ORDERS; o++)
			assert_int_equal(n[o], z->free_area[o].nr_free);
		zones++;
	}
	assert_int_equal(zones, 2);
	free(text);

	/* meminfo and vmstat, read by name, agree with the allocator. */
	assert_int_equal(pa_stat("MemTotal"), totalram_pages() * 4);
	assert_int_equal(pa_stat("MemFree"), nr_free_pages() * 4);
	assert_true(pa_stat("MemAvailable") <= pa_stat("MemFree"));
	assert_int_equal(pa_stat("nr_free_pages"), nr_free_pages());
	assert_int_equal(pa_stat("nr_managed"), totalram_pages());
	assert_int_equal(pa_stat("nr_reserved"), nr_reserved_pages());
	before = pa_stat("pgfree");
	__free_pages(page, 3);
	assert_int_equal(pa_stat("pgfree"), before + 8);
	before = pa_stat("pgalloc_dma32");
	page = alloc_pages(GFP_KERNEL, 2);
	assert_int_equal(pa_stat("pgalloc_dma32"), before + 4);
	__free_pages(page, 2);
	v = pa_stat("pgalloc_dma");
	page = alloc_pages(GFP_DMA, 0);
	assert_int_equal(pa_stat("pgalloc_dma"), v + 1);
	__free_pages(page, 0);

	/* pagetypeinfo: per-type counts add up to buddyinfo's. */
	text = pa_view("pagetypeinfo");
	assert_non_null(strstr(text, "Page block order: 9\n"));
	assert_non_null(strstr(text, "Pages per block:  512\n"));
	for (unsigned int t = 0; t < MAX_NR_ZONES; t++) {
		struct zone *z = pa_zone(t);
		if (!populated_zone(z))
			continue;
		for (unsigned int o = 0; o < NR_ORDERS; o++) {
			unsigned long sum = 0;
			for (unsigned int mt = 0; mt < MIGRATE_TYPES; mt++)
				sum += z->free_area[o].nr_free_mt[mt];
			assert_int_equal(sum, z->free_area[o].nr_free);
		}
		for (unsigned int mt = 0; mt < MIGRATE_TYPES; mt++) {
			char want[96];
			snprintf(want, sizeof(want), "Node    0, zone %8s, type %12s ", z->name,
				 migratetype_names[mt]);
			assert_non_null(strstr(text, want));
		}
	}
	free(text);

	text = pa_view("zoneinfo");
	assert_non_null(strstr(text, "Node 0, zone    DMA32\n"));
	{
		char want[64];
		snprintf(want, sizeof(want), "        managed  %lu\n",
			 pa_zone(ZONE_DMA32)->managed_pages);
		assert_non_null(strstr(text, want));
	}
	free(text);

	text = pa_view("extfrag");
	assert_non_null(strstr(text, "Node 0, zone    DMA32 "));
	free(text);
	text = pa_view("vmstat");
	assert_non_null(strstr(text, "kswapd_wake "));
	free(text);
	text = pa_view("meminfo");
	assert_non_null(strstr(text, "MemTotal:"));
	free(text);

	{
		char buf[64];
		struct seq_buf s;
		seq_buf_init(&s, buf, sizeof(buf));
		assert_int_equal(kmm_view_show("no-such-view", 0, &s), -KMM_ENOENT);
		assert_int_equal(kmm_stat("no_such_counter", &value), -KMM_ENOENT);
	}
	drain_all_pages();
	assert_int_equal(nr_free_pages(), totalram_pages());
}

/* Fragmentation indices against hand-computed values on a known state. */
static void test_fragmentation_indices(void **state)
{
	struct emu_config cfg = no_pcp_config(MACHINE);
	struct zone *z;

	pa_boot_cfg(&cfg);
	z = pa_zone(ZONE_DMA32);
	for (unsigned int order = 0; order <= MAX_ORDER; order++) {
		unsigned long free_pages = 0, blocks = 0, suitable = 0;
		long want_unusable, want_extfrag;

		for (unsigned int o = 0; o <= MAX_ORDER; o++) {
			free_pages += z->free_area[o].nr_free << o;
			blocks += z->free_area[o].nr_free;
			if (o >= order)
				suitable += z->free_area[o].nr_free << (o - order);
		}
		want_unusable = (long)((free_pages - (suitable << order)) * 1000 / free_pages);
		want_extfrag = suitable ? -1000
					: (long)(1000 - (1000 + free_pages * 1000 / (1UL << order)) /
							   blocks);
		assert_int_equal(unusable_free_index(z, order), want_unusable);
		assert_int_equal(extfrag_index(z, order), want_extfrag);
	}
	/* A fresh zone: every order can be served, nothing is unusable at 0. */
	assert_int_equal(unusable_free_index(z, 0), 0);
	assert_int_equal(extfrag_index(z, MAX_ORDER), -1000);
}

/* ---- Bad calls and the checker ---- */

static void test_bad_frees_panic(void **state)
{
	struct page *page;

	pa_boot(MACHINE, 2);
	page = alloc_pages(GFP_KERNEL, 0);
	__free_pages(page, 0);
	PA_EXPECT_PANIC(__free_pages(page, 0), "double free");

	page = alloc_pages(GFP_KERNEL, 1);
	PA_EXPECT_PANIC(__free_pages(page + 1, 1), "bad block");
	PA_EXPECT_PANIC(__free_pages(page, MAX_ORDER + 1), "bad block");
	__free_pages(page, 1);

	page = alloc_pages(GFP_KERNEL | __GFP_COMP, 2);
	PA_EXPECT_PANIC(__free_pages(page, 1), "wrong order");
	pa_boot(MACHINE, 2);
	page = alloc_pages(GFP_KERNEL | __GFP_COMP, 2);
	/* A tail has no reference of its own; the report names the real bug. */
	PA_EXPECT_PANIC(__free_pages(page + 2, 0), "tail page of a compound block");
	pa_boot(MACHINE, 2);

	/* The kernel image is not the allocator's to free. */
	PA_EXPECT_PANIC(__free_pages(pfn_to_page(PHYS_PFN(2 * MiB)), 0), "Bad page state");
}

/* Each corruption is caught; each leaves the machine unusable, so reboot. */
static void test_checker_catches_corruption(void **state)
{
	struct zone *z;
	struct page *page;

	pa_boot(MACHINE, 2);
	z = pa_zone(ZONE_DMA32);
	__atomic_add_fetch(&z->free_area[3].nr_free_mt[MIGRATE_MOVABLE], 1, __ATOMIC_RELAXED);
	PA_EXPECT_PANIC(page_alloc_check(), "counter says");

	pa_boot(MACHINE, 2);
	z = pa_zone(ZONE_DMA32);
	mod_zone_page_state(z, NR_FREE_PAGES, -1);
	PA_EXPECT_PANIC(page_alloc_check(), "NR_FREE_PAGES");

	pa_boot(MACHINE, 2);
	z = pa_zone(ZONE_DMA32);
	page = list_first_entry(&z->free_area[MAX_ORDER].free_list[MIGRATE_MOVABLE],
				struct page, lru);
	__clear_page_flag(page, PG_buddy);
	PA_EXPECT_PANIC(page_alloc_check(), "holds pfn");

	pa_boot(MACHINE, 2);
	page = alloc_pages(GFP_KERNEL, 0);
	__set_page_flag(page, PG_buddy);
	PA_EXPECT_PANIC(page_alloc_check(), "on no list");

	pa_boot(MACHINE, 2);
	page = alloc_pages(GFP_KERNEL, 4);
	__set_page_flag(page + 3, PG_reserved);
	PA_EXPECT_PANIC(page_alloc_check(), "!= managed");
	pa_boot(MACHINE, 2);
	assert_int_equal(page_alloc_check(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_boot_accounting, pa_teardown),
		cmocka_unit_test_teardown(test_split_and_merge, pa_teardown),
		cmocka_unit_test_teardown(test_merge_in_any_order, pa_teardown),
		cmocka_unit_test_teardown(test_alignment_every_order, pa_teardown),
		cmocka_unit_test_teardown(test_every_order_to_exhaustion, pa_teardown),
		cmocka_unit_test_teardown(test_reference_counts, pa_teardown),
		cmocka_unit_test_teardown(test_zeroing_and_address_calls, pa_teardown),
		cmocka_unit_test_teardown(test_zone_fallback_and_lowmem_reserve, pa_teardown),
		cmocka_unit_test_teardown(test_normal_zone, pa_teardown),
		cmocka_unit_test_teardown(test_watermark_formulas, pa_teardown),
		cmocka_unit_test_teardown(test_watermarks, pa_teardown),
		cmocka_unit_test_teardown(test_zone_watermark_ok, pa_teardown),
		cmocka_unit_test_teardown(test_pcp_refill_and_drain, pa_teardown),
		cmocka_unit_test_teardown(test_pcp_off, pa_teardown),
		cmocka_unit_test_teardown(test_exhaustion, pa_teardown),
		cmocka_unit_test_teardown(test_random_million, pa_teardown),
		cmocka_unit_test_teardown(test_fail_nth, pa_teardown),
		cmocka_unit_test_teardown(test_fail_probability, pa_teardown),
		cmocka_unit_test_teardown(test_fail_from_emu_config, pa_teardown),
		cmocka_unit_test_teardown(test_views, pa_teardown),
		cmocka_unit_test_teardown(test_fragmentation_indices, pa_teardown),
		cmocka_unit_test_teardown(test_bad_frees_panic, pa_teardown),
		cmocka_unit_test_teardown(test_checker_catches_corruption, pa_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
