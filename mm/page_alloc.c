/*
 * The page-frame allocator: Linux's zoned buddy allocator, as chapter 8 of
 * "Understanding the Linux Kernel" describes it, with the later additions
 * that fight fragmentation.
 *
 * Zones. Physical memory is split into zones by what hardware can address:
 * DMA (< 16 MiB), DMA32 (< 4 GiB), Normal. A request names the highest zone
 * it may use (GFP zone modifiers) and falls back to lower ones; each lower
 * zone keeps a lowmem reserve against requests that could have been served
 * higher up, so Normal allocations cannot exhaust DMA.
 *
 * The buddy system. Each zone keeps free blocks of 2^order frames, order
 * 0..MAX_ORDER, on one free list per order. A block is naturally aligned,
 * so the buddy of the block at pfn is at pfn ^ (1 << order). Allocation
 * takes the smallest sufficient block and splits it, returning halves to the
 * lower lists; freeing merges a block with its buddy while the buddy is a
 * free block of the same order in the same zone. A free block's head page
 * carries PG_buddy, its order in page->private and the migrate type of the
 * list it is on in page->index.
 *
 * Grouping by mobility. Each free list is split by migrate type (unmovable,
 * movable, reclaimable), and each 2 MiB pageblock has a type. Requests take
 * blocks of their own type; when a type runs out, it steals from another,
 * preferring the largest block and claiming the whole pageblock when it can
 * (Mel Gorman's anti-fragmentation), so that unmovable kernel allocations
 * gather in few pageblocks and the rest stay free for large requests.
 *
 * Watermarks. Each zone has min/low/high watermarks derived from
 * min_free_kbytes. An allocation that finds a zone below low wakes reclaim
 * (kswapd) and retries against min; below min only __GFP_HIGH and
 * __GFP_ATOMIC requests may dip further into the reserve.
 *
 * Per-CPU page lists. Order-0 pages, the vast majority of requests, are
 * allocated from and freed to a per-CPU list of each zone, filled from and
 * drained to the buddy lists a batch at a time, so the common case takes one
 * uncontended per-CPU lock and never the zone lock. Pages on these lists are
 * not counted as free (NR_FREE_PAGES), as in Linux.
 *
 * Locking: pcp->lock, then zone->lock. The watermark checks read the free
 * counters without the zone lock: they are hints, and rmqueue under the lock
 * is what decides.
 */
#include <kmm/errno.h>
#include <kmm/fault_inject.h>
#include <kmm/memblock.h>
#include <kmm/page_alloc.h>
#include <kmm/printk.h>
#include <kmm/string.h>
#include <kmm/vmstat.h>

#include "internal.h"

struct pglist_data *kmm_node;
struct page *mem_map;
unsigned long max_pfn;
/* One past the last pfn add_memory() may add (max_pfn without hotplug ranges). */
static unsigned long hotplug_end_pfn;

bool page_group_by_mobility = true;
unsigned long min_free_kbytes;
bool page_alloc_use_pcp = true;
void (*wakeup_kswapd_hook)(struct zone *z, unsigned int order,
			   enum zone_type highest_zoneidx);
unsigned long (*direct_reclaim_hook)(gfp_t gfp, unsigned int order);

const char *const migratetype_names[MIGRATE_TYPES] = {
	"Unmovable", "Movable", "Reclaimable",
};
const char *const zone_names[MAX_NR_ZONES] = { "DMA", "DMA32", "Normal" };

/* Lowmem reserve ratio of each zone against the zones above it (Linux's). */
static const unsigned int lowmem_reserve_ratio[MAX_NR_ZONES] = { 256, 256, 32 };
/* Distance between watermarks, in 1/10000 of the zone (Linux's default). */
static const unsigned int watermark_scale_factor = 10;
/* Pages kept back from the user: high watermarks and largest reserves. */
static unsigned long totalreserve_pages;

/* Which types a migrate type may steal from, in order of preference. */
static const enum migratetype fallbacks[MIGRATE_TYPES][MIGRATE_TYPES - 1] = {
	[MIGRATE_UNMOVABLE] = { MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE },
	[MIGRATE_MOVABLE] = { MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE },
	[MIGRATE_RECLAIMABLE] = { MIGRATE_UNMOVABLE, MIGRATE_MOVABLE },
};

/* ---- Small helpers ---- */

static inline unsigned long read_counter(const unsigned long *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* Counters written under zone->lock only, read anywhere: no locked RMW. */
static inline void add_counter(unsigned long *c, long delta)
{
	__atomic_store_n(c, *c + (unsigned long)delta, __ATOMIC_RELAXED);
}

static inline void __mod_zone_freepages(struct zone *z, long delta)
{
	atomic_long *c = &z->vm_stat[NR_FREE_PAGES];
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + delta,
			      memory_order_relaxed);
}

static inline enum migratetype get_pageblock_mt(unsigned long pfn)
{
	return (enum migratetype)__atomic_load_n(
		&kmm_node->node_zones[0].pageblock_mt[pfn >> pageblock_order],
		__ATOMIC_RELAXED);
}

static inline void set_pageblock_mt(unsigned long pfn, enum migratetype mt)
{
	__atomic_store_n(&kmm_node->node_zones[0].pageblock_mt[pfn >> pageblock_order],
			 (uint8_t)mt, __ATOMIC_RELAXED);
}

static inline enum zone_type gfp_zone(gfp_t gfp)
{
	if (gfp & __GFP_DMA)
		return ZONE_DMA;
	if (gfp & __GFP_DMA32)
		return ZONE_DMA32;
	return ZONE_NORMAL;
}

static inline enum migratetype gfp_migratetype(gfp_t gfp)
{
	if (!page_group_by_mobility)
		return MIGRATE_UNMOVABLE;
	if (gfp & __GFP_MOVABLE)
		return MIGRATE_MOVABLE;
	if (gfp & __GFP_RECLAIMABLE)
		return MIGRATE_RECLAIMABLE;
	return MIGRATE_UNMOVABLE;
}

static unsigned long int_sqrt(unsigned long x)
{
	unsigned long r = 0, bit = 1UL << (sizeof(long) * 8 - 2);

	while (bit > x)
		bit >>= 2;
	while (bit) {
		if (x >= r + bit) {
			x -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
		bit >>= 2;
	}
	return r;
}

/* ---- The buddy free lists (zone->lock held) ---- */

static inline void add_to_free_list(struct page *page, struct zone *z,
				    unsigned int order, enum migratetype mt,
				    bool tail)
{
	struct free_area *area = &z->free_area[order];

	page->private = order;
	page->index = mt;
	__set_page_flag(page, PG_buddy);
	if (tail)
		list_add_tail(&page->lru, &area->free_list[mt]);
	else
		list_add(&page->lru, &area->free_list[mt]);
	add_counter(&area->nr_free, 1);
	add_counter(&area->nr_free_mt[mt], 1);
}

static inline void del_from_free_list(struct page *page, struct zone *z,
				      unsigned int order)
{
	struct free_area *area = &z->free_area[order];
	enum migratetype mt = (enum migratetype)page->index;

	list_del(&page->lru);
	__clear_page_flag(page, PG_buddy);
	page->private = 0;
	page->index = 0;
	add_counter(&area->nr_free, -1);
	add_counter(&area->nr_free_mt[mt], -1);
}

static inline void move_to_free_list(struct page *page, struct zone *z,
				     unsigned int order, enum migratetype mt)
{
	del_from_free_list(page, z, order);
	add_to_free_list(page, z, order, mt, true);
}

/* Is the page at pfn the head of a free block of this order in zone z? */
static inline bool page_is_buddy(struct zone *z, unsigned long pfn,
				 unsigned int order)
{
	struct page *page;

	if (!zone_spans_pfn(z, pfn))
		return false;
	page = pfn_to_page(pfn);
	return page_flag(page, PG_buddy) && page->private == order;
}

/*
 * Frees the block of 2^order frames at pfn into the buddy lists, merging it
 * with its buddy for as long as the buddy is free.
 */
static void __free_one_page(struct page *page, unsigned long pfn,
			    struct zone *z, unsigned int order,
			    enum migratetype mt)
{
	bool to_tail = false;

	while (order < MAX_ORDER) {
		unsigned long buddy_pfn = pfn ^ (1UL << order);

		if (!page_is_buddy(z, buddy_pfn, order))
			break;
		del_from_free_list(pfn_to_page(buddy_pfn), z, order);
		pfn &= buddy_pfn;
		order++;
	}
	page = pfn_to_page(pfn);
	/*
	 * If the merged block's own buddy is free one order up, this block is
	 * likely to merge soon: put it at the tail so that allocations take
	 * other blocks first (Linux's buddy_merge_likely).
	 */
	if (order < MAX_ORDER - 1) {
		unsigned long higher = (pfn & ~((2UL << order) - 1)) ^ (2UL << order);
		to_tail = page_is_buddy(z, higher, order + 1);
	}
	add_to_free_list(page, z, order, mt, to_tail);
}

/* Splits a block of order high down to order low, freeing the upper halves. */
static inline void expand(struct zone *z, struct page *page, unsigned int low,
			  unsigned int high)
{
	unsigned long size = 1UL << high;
	unsigned long pfn = page_to_pfn(page);

	while (high > low) {
		high--;
		size >>= 1;
		add_to_free_list(&page[size], z, high, get_pageblock_mt(pfn + size),
				 false);
	}
}

static struct page *__rmqueue_smallest(struct zone *z, unsigned int order,
				       enum migratetype mt)
{
	for (unsigned int o = order; o < NR_ORDERS; o++) {
		struct list_head *list = &z->free_area[o].free_list[mt];
		struct page *page;

		if (list_empty(list))
			continue;
		page = list_first_entry(list, struct page, lru);
		del_from_free_list(page, z, o);
		expand(z, page, order, o);
		return page;
	}
	return NULL;
}

/*
 * Moves the free blocks of the pageblock containing pfn to mt's lists.
 * Returns the number of free pages moved.
 */
static unsigned long move_freepages_block(struct zone *z, unsigned long pfn,
					  enum migratetype mt)
{
	unsigned long start = ALIGN_DOWN(pfn, pageblock_nr_pages);
	unsigned long end = start + pageblock_nr_pages, moved = 0;

	start = MAX(start, z->zone_start_pfn);
	end = MIN(end, zone_end_pfn(z));
	while (start < end) {
		struct page *page = pfn_to_page(start);
		unsigned int order;

		if (!page_flag(page, PG_buddy)) {
			start++;
			continue;
		}
		order = (unsigned int)page->private;
		move_to_free_list(page, z, order, mt);
		start += 1UL << order;
		moved += 1UL << order;
	}
	return moved;
}

/* May a request of start_mt claim the pageblock of a free block of this order? */
static bool can_steal_fallback(unsigned int order, enum migratetype start_mt)
{
	/*
	 * Large blocks are worth claiming whole; unmovable and reclaimable
	 * requests claim eagerly so that they pollute as few pageblocks as
	 * possible, while movable requests (which can be moved away later)
	 * only take what they need.
	 */
	return order >= pageblock_order / 2 || start_mt != MIGRATE_MOVABLE;
}

/*
 * Takes the free block page (of order, on a list of another type) for
 * start_mt: the whole pageblock(s) if the block is that large, else all of
 * its pageblock's free blocks, changing the pageblock's type if at least
 * half of it was free.
 */
static void steal_fallback(struct zone *z, struct page *page, unsigned int order,
			   enum migratetype start_mt, bool can_steal)
{
	unsigned long pfn = page_to_pfn(page);

	if (order >= pageblock_order) {
		for (unsigned long p = pfn; p < pfn + (1UL << order); p += pageblock_nr_pages)
			set_pageblock_mt(p, start_mt);
		move_to_free_list(page, z, order, start_mt);
		count_vm_event(PAGEBLOCK_STEAL);
		return;
	}
	if (can_steal &&
	    move_freepages_block(z, pfn, start_mt) >= pageblock_nr_pages / 2) {
		set_pageblock_mt(pfn, start_mt);
		count_vm_event(PAGEBLOCK_STEAL);
		return;
	}
	if (!can_steal)
		move_to_free_list(page, z, order, start_mt);
}

/*
 * No block of start_mt is free: move a block of another type to start_mt's
 * lists. Returns false if no other type has a block big enough.
 */
static bool __rmqueue_fallback(struct zone *z, unsigned int order,
			       enum migratetype start_mt)
{
	/* The largest block first: stealing it pollutes the fewest pageblocks. */
	for (int o = MAX_ORDER; o >= (int)order; o--) {
		for (unsigned int i = 0; i < ARRAY_SIZE(fallbacks[0]); i++) {
			enum migratetype ft = fallbacks[start_mt][i];
			struct list_head *list = &z->free_area[o].free_list[ft];
			bool can_steal = can_steal_fallback((unsigned int)o, start_mt);
			struct page *page;

			if (list_empty(list))
				continue;
			/*
			 * A movable request that cannot claim the pageblock
			 * splits the smallest fitting block instead of
			 * breaking up a large one.
			 */
			if (!can_steal && o > (int)order) {
				for (unsigned int small = order; small < (unsigned int)o; small++) {
					if (!list_empty(&z->free_area[small].free_list[ft])) {
						o = (int)small;
						list = &z->free_area[o].free_list[ft];
						break;
					}
				}
			}
			page = list_first_entry(list, struct page, lru);
			steal_fallback(z, page, (unsigned int)o, start_mt, can_steal);
			count_vm_event(ALLOC_FALLBACK);
			return true;
		}
	}
	return false;
}

static struct page *__rmqueue(struct zone *z, unsigned int order,
			      enum migratetype mt)
{
	struct page *page;

	do {
		page = __rmqueue_smallest(z, order, mt);
	} while (!page && page_group_by_mobility && __rmqueue_fallback(z, order, mt));
	return page;
}

/* ---- Per-CPU page lists ---- */

/* Moves up to count order-0 pages from the buddy lists to a per-CPU list. */
static int rmqueue_bulk(struct zone *z, int count, struct list_head *list,
			enum migratetype mt)
{
	int i;

	spin_lock(&z->lock);
	for (i = 0; i < count; i++) {
		struct page *page = __rmqueue(z, 0, mt);
		if (!page)
			break;
		__set_page_flag(page, PG_pcp);
		list_add_tail(&page->lru, list);
	}
	__mod_zone_freepages(z, -i);
	spin_unlock(&z->lock);
	return i;
}

/*
 * Returns count pages of a per-CPU list set to the buddy lists (pcp->lock
 * held), taking from each migrate type's list in turn, coldest (tail) first.
 */
static void free_pcppages_bulk(struct zone *z, int count, struct per_cpu_pages *pcp)
{
	unsigned int mt = 0;
	int freed = 0;

	if (count > pcp->count)
		count = pcp->count;
	spin_lock(&z->lock);
	while (freed < count) {
		struct list_head *list = &pcp->lists[mt];

		mt = (mt + 1) % MIGRATE_TYPES;
		if (list_empty(list))
			continue;
		struct page *page = list_last_entry(list, struct page, lru);
		unsigned long pfn = page_to_pfn(page);

		list_del(&page->lru);
		__clear_page_flag(page, PG_pcp);
		__free_one_page(page, pfn, z, 0, get_pageblock_mt(pfn));
		freed++;
	}
	pcp->count -= freed;
	__mod_zone_freepages(z, freed);
	spin_unlock(&z->lock);
}

static inline __attribute__((always_inline)) struct page *
rmqueue_pcplist(struct zone *z, enum migratetype mt, unsigned int cpu)
{
	struct per_cpu_pages *pcp = &z->pcp[cpu];
	struct list_head *list = &pcp->lists[mt];
	struct page *page;

	spin_lock(&pcp->lock);
	if (unlikely(list_empty(list))) {
		int got = rmqueue_bulk(z, pcp->batch, list, mt);
		pcp->count += got;
		if (!got) {
			spin_unlock(&pcp->lock);
			return NULL;
		}
		__count_vm_events_cpu(cpu, PCP_REFILL, 1);
	}
	page = list_first_entry(list, struct page, lru);
	list_del(&page->lru);
	__clear_page_flag(page, PG_pcp);
	pcp->count--;
	spin_unlock(&pcp->lock);
	return page;
}

static inline __attribute__((always_inline)) void
free_unref_page(struct page *page, struct zone *z, unsigned int cpu)
{
	struct per_cpu_pages *pcp = &z->pcp[cpu];
	enum migratetype mt = get_pageblock_mt(page_to_pfn(page));

	spin_lock(&pcp->lock);
	__set_page_flag(page, PG_pcp);
	list_add(&page->lru, &pcp->lists[mt]);
	if (unlikely(++pcp->count >= pcp->high)) {
		free_pcppages_bulk(z, pcp->batch, pcp);
		__count_vm_events_cpu(cpu, PCP_DRAIN, 1);
	}
	spin_unlock(&pcp->lock);
}

void drain_local_pages(unsigned int cpu)
{
	struct zone *z;

	for_each_zone(z) {
		struct per_cpu_pages *pcp;

		if (!populated_zone(z))
			continue;
		pcp = &z->pcp[cpu];
		spin_lock(&pcp->lock);
		if (pcp->count)
			free_pcppages_bulk(z, pcp->count, pcp);
		spin_unlock(&pcp->lock);
	}
}

void drain_all_pages(void)
{
	for (unsigned int cpu = 0; cpu < arch_nr_cpus(); cpu++)
		drain_local_pages(cpu);
}

/* ---- Allocation ---- */

bool zone_watermark_ok(struct zone *z, unsigned int order, unsigned long mark,
		       enum zone_type highest_zoneidx, unsigned int alloc_flags)
{
	long min = (long)mark;
	long free = (long)zone_page_state(z, NR_FREE_PAGES) - ((1L << order) - 1);

	if (alloc_flags & ALLOC_HIGH)
		min -= min / 2;
	if (alloc_flags & ALLOC_HARDER)
		min -= min / 4;
	if (free <= min + z->lowmem_reserve[highest_zoneidx])
		return false;
	if (order == 0)
		return true;
	/* Enough free pages; is one of them part of a large enough block? */
	for (unsigned int o = order; o < NR_ORDERS; o++) {
		if (read_counter(&z->free_area[o].nr_free))
			return true;
	}
	return false;
}

static struct page *rmqueue(struct zone *z, unsigned int order,
			    enum migratetype mt, unsigned int cpu)
{
	struct page *page;

	if (likely(order == 0 && page_alloc_use_pcp))
		return rmqueue_pcplist(z, mt, cpu);
	spin_lock(&z->lock);
	page = __rmqueue(z, order, mt);
	if (page)
		__mod_zone_freepages(z, -(1L << order));
	spin_unlock(&z->lock);
	return page;
}

/*
 * The watermark test of the fast path: for order 0 with no access to
 * reserves, one comparison decides; anything else takes the full test.
 */
static inline bool zone_watermark_fast(struct zone *z, unsigned int order,
				       unsigned long mark, enum zone_type highest,
				       unsigned int alloc_flags)
{
	long free = (long)zone_page_state(z, NR_FREE_PAGES);

	if (order == 0 && free > (long)mark + z->lowmem_reserve[highest])
		return true;
	return zone_watermark_ok(z, order, mark, highest, alloc_flags);
}

/* Walks the zones allowed for the request, highest first. */
static struct page *get_page_from_freelist(unsigned int order,
					   unsigned int alloc_flags,
					   enum zone_type highest,
					   enum migratetype mt, unsigned int cpu)
{
	for (struct zone **zp = kmm_node->zonelist[highest]; *zp; zp++) {
		struct zone *z = *zp;
		unsigned long mark = z->watermark[alloc_flags & ALLOC_WMARK_MASK];
		struct page *page;

		if (!zone_watermark_fast(z, order, mark, highest, alloc_flags))
			continue;
		page = rmqueue(z, order, mt, cpu);
		if (page) {
			__count_vm_events_cpu(cpu, PGALLOC_DMA + (unsigned int)z->type,
					      1UL << order);
			return page;
		}
	}
	return NULL;
}

static void wake_all_kswapds(unsigned int order, enum zone_type highest)
{
	count_vm_event(KSWAPD_WAKE);
	if (wakeup_kswapd_hook) {
		for (struct zone **zp = kmm_node->zonelist[highest]; *zp; zp++)
			wakeup_kswapd_hook(*zp, order, highest);
	}
}

static unsigned int gfp_to_alloc_flags(gfp_t gfp)
{
	unsigned int flags = ALLOC_WMARK_MIN;

	if (gfp & __GFP_HIGH)
		flags |= ALLOC_HIGH;
	if ((gfp & __GFP_ATOMIC) && !(gfp & __GFP_NOMEMALLOC))
		flags |= ALLOC_HARDER;
	return flags;
}

static void warn_alloc(gfp_t gfp, unsigned int order)
{
	static atomic_uint warnings;
	char mode[128];

	/* A machine out of memory fails often: the first few say enough. */
	if (atomic_fetch_add(&warnings, 1) >= 10)
		return;
	gfp_format(gfp, mode, sizeof(mode));
	printk(KERN_WARNING "kmm: page allocation failure: order:%u, mode:%#x(%s)\n",
	       order, gfp, mode);
}

/* The block becomes the caller's: one reference, no owner flags. */
static void prep_new_page(struct page *page, unsigned int order, gfp_t gfp)
{
	set_page_count(page, 1);
	page->private = 0;
	page->index = 0;
	if (gfp & __GFP_ZERO)
		memset(page_address(page), 0, PAGE_SIZE << order);
	if ((gfp & __GFP_COMP) && order) {
		__set_page_flag(page, PG_head);
		page->compound_order = order;
		for (unsigned long i = 1; i < (1UL << order); i++) {
			__set_page_flag(&page[i], PG_tail);
			page[i].compound_head = page;
		}
	}
}

/* Rounds of direct reclaim an allocation may run (Linux's MAX_RECLAIM_RETRIES). */
#define MAX_RECLAIM_RETRIES 16
/* Orders above this are costly: reclaim rarely makes blocks that large. */
#define PAGE_ALLOC_COSTLY_ORDER 3

/*
 * The slow path: wake reclaim, then try again down to the min watermark
 * (further for __GFP_HIGH/__GFP_ATOMIC), then once more after pulling the
 * per-CPU lists back into the buddy lists (they may hide the block we need).
 * Then, if the caller may wait (__GFP_DIRECT_RECLAIM), it reclaims itself
 * (direct reclaim, mm/vmscan.c) and tries again, for as long as reclaim
 * makes progress and up to MAX_RECLAIM_RETRIES rounds; reclaimed frames
 * land on this CPU's list, hence the drain before each try. When reclaim
 * finds nothing the allocation fails: the OOM killer runs where the failure
 * surfaces with no lock held (a page fault, mm/oom.c), not here, where the
 * caller may hold the very locks the victim's teardown needs.
 */
static struct page *__alloc_pages_slowpath(gfp_t gfp, unsigned int order,
					   enum zone_type highest,
					   enum migratetype mt)
{
	unsigned int alloc_flags = gfp_to_alloc_flags(gfp);
	struct page *page;

	if (gfp & __GFP_KSWAPD_RECLAIM)
		wake_all_kswapds(order, highest);
	page = get_page_from_freelist(order, alloc_flags, highest, mt, arch_this_cpu());
	if (page)
		return page;
	if (page_alloc_use_pcp && nr_pcp_pages()) {
		drain_all_pages();
		page = get_page_from_freelist(order, alloc_flags, highest, mt,
					      arch_this_cpu());
		if (page)
			return page;
	}
	if (!(gfp & __GFP_DIRECT_RECLAIM) || !direct_reclaim_hook)
		return NULL;
	for (unsigned int round = 0; round < MAX_RECLAIM_RETRIES; round++) {
		unsigned long progress = direct_reclaim_hook(gfp, order);

		if (page_alloc_use_pcp && nr_pcp_pages())
			drain_all_pages();
		page = get_page_from_freelist(order, alloc_flags, highest, mt, arch_this_cpu());
		if (page || !progress || (gfp & __GFP_NORETRY))
			break;
		/* Large blocks: a few rounds, unless the caller insists. */
		if (order > PAGE_ALLOC_COSTLY_ORDER && round >= 2 && !(gfp & __GFP_RETRY_MAYFAIL))
			break;
	}
	return page;
}

/*
 * The fast path, for the common request: one order-0 page, from the first
 * zone allowed, comfortably above its low watermark, off this CPU's list.
 * Anything else, or any miss, takes the general path below.
 */
static inline struct page *alloc_page_fast(gfp_t gfp, enum zone_type highest,
					   enum migratetype mt, unsigned int cpu)
{
	struct zone *z = kmm_node->zonelist[highest][0];
	struct page *page;

	if (unlikely(!z || (long)zone_page_state(z, NR_FREE_PAGES) <=
				   (long)z->watermark[WMARK_LOW] + z->lowmem_reserve[highest]))
		return NULL;
	page = rmqueue_pcplist(z, mt, cpu);
	if (likely(page)) {
		__count_vm_events_cpu(cpu, PGALLOC_DMA + (unsigned int)z->type, 1);
		set_page_count(page, 1);
		page->index = 0;
		if (gfp & __GFP_ZERO)
			memset(page_address(page), 0, PAGE_SIZE);
	}
	return page;
}

struct page *alloc_pages(gfp_t gfp, unsigned int order)
{
	enum zone_type highest = gfp_zone(gfp);
	enum migratetype mt = gfp_migratetype(gfp);
	unsigned int cpu = arch_this_cpu();
	struct page *page;

	if (unlikely(order > MAX_ORDER))
		return NULL;
	if (unlikely(should_fail(&fail_page_alloc)) && !(gfp & __GFP_NOFAIL)) {
		page = NULL;
		goto failed;
	}
	if (likely(order == 0 && page_alloc_use_pcp)) {
		page = alloc_page_fast(gfp, highest, mt, cpu);
		if (likely(page))
			return page;
	}
	page = get_page_from_freelist(order, ALLOC_WMARK_LOW, highest, mt, cpu);
	if (unlikely(!page))
		page = __alloc_pages_slowpath(gfp, order, highest, mt);
	if (likely(page)) {
		prep_new_page(page, order, gfp);
		return page;
	}
failed:
	count_vm_event(ALLOC_FAIL_ORDER0 + order);
	if (!(gfp & __GFP_NOWARN))
		warn_alloc(gfp, order);
	return NULL;
}

void *__get_free_pages(gfp_t gfp, unsigned int order)
{
	struct page *page = alloc_pages(gfp, order);

	return page ? page_address(page) : NULL;
}

void *get_zeroed_page(gfp_t gfp)
{
	return __get_free_pages(gfp | __GFP_ZERO, 0);
}

/* ---- Freeing ---- */

static __noreturn void bad_page(struct page *page, const char *reason)
{
	panic("Bad page state: pfn %#lx flags %#lx count %d mapcount %d: %s",
	      page_to_pfn(page), (unsigned long)atomic_load(&page->flags),
	      page_ref_count(page), atomic_load(&page->_mapcount), reason);
}

/* Flags a page may not carry when it is freed. */
#define PAGE_FLAGS_CHECK_AT_FREE                                               \
	((1UL << PG_reserved) | (1UL << PG_buddy) | (1UL << PG_pcp) |          \
	 (1UL << PG_slab) | (1UL << PG_locked) | (1UL << PG_lru) |             \
	 (1UL << PG_writeback) | (1UL << PG_unevictable) | (1UL << PG_checked) | \
	 (1UL << PG_swapcache))

/* Checks the block and strips its owner's state before it is freed. */
static inline void free_pages_prepare(struct page *page, unsigned int order)
{
	unsigned long zone_bits = (unsigned long)page_zonenum(page) << ZONES_PGSHIFT;
	unsigned long flags = atomic_load_explicit(&page->flags, memory_order_relaxed);

	if (unlikely(flags & PAGE_FLAGS_CHECK_AT_FREE))
		bad_page(page, "freed with owner flags set");
	if (unlikely(atomic_load_explicit(&page->_mapcount, memory_order_relaxed) != -1))
		bad_page(page, "freed while still mapped");
	if (flags & (1UL << PG_head)) {
		if (unlikely(page->compound_order != order))
			bad_page(page, "compound block freed with the wrong order");
		for (unsigned long i = 1; i < (1UL << order); i++) {
			if (unlikely(page[i].compound_head != page ||
				     !page_flag(&page[i], PG_tail)))
				bad_page(&page[i], "corrupt compound tail");
			atomic_store_explicit(&page[i].flags, zone_bits,
					      memory_order_relaxed);
			page[i].compound_head = NULL;
		}
		page->compound_order = 0;
	}
	atomic_store_explicit(&page->flags, zone_bits, memory_order_relaxed);
	page->mapping = NULL;
	page->private = 0;
}

static void __free_pages_ok(struct page *page, unsigned int order)
{
	struct zone *z = page_zone(page);
	unsigned long pfn = page_to_pfn(page);

	spin_lock(&z->lock);
	__free_one_page(page, pfn, z, order, get_pageblock_mt(pfn));
	__mod_zone_freepages(z, 1L << order);
	spin_unlock(&z->lock);
}

static inline __attribute__((always_inline)) void free_the_page(struct page *page,
							     unsigned int order)
{
	unsigned int cpu = arch_this_cpu();

	free_pages_prepare(page, order);
	__count_vm_events_cpu(cpu, PGFREE, 1UL << order);
	if (likely(order == 0 && page_alloc_use_pcp))
		free_unref_page(page, page_zone(page), cpu);
	else
		__free_pages_ok(page, order);
}

void __free_pages(struct page *page, unsigned int order)
{
	int old;

	if (unlikely(!pfn_valid(page_to_pfn(page)) || order > MAX_ORDER ||
		     !IS_ALIGNED(page_to_pfn(page), 1UL << order)))
		panic("__free_pages: bad block pfn %#lx order %u",
		      page_to_pfn(page), order);
	old = page_ref_add_old(page, -1);
	if (likely(old == 1)) {
		free_the_page(page, order);
	} else if (unlikely(old <= 0)) {
		atomic_fetch_add(&page->_refcount, 1);
		/* Tail pages hold no reference of their own: say which bug it is. */
		bad_page(page, page_flag(page, PG_tail)
				       ? "tail page of a compound block freed on its own"
				       : "double free: reference count was already zero");
	} else if (!page_flag(page, PG_head)) {
		/*
		 * Someone else holds a reference to the first page only (a
		 * speculative lookup): the rest of a non-compound block is
		 * ours to free now; the first page goes when they drop it.
		 */
		while (order-- > 0)
			free_the_page(page + (1UL << order), order);
	}
}

void free_pages(void *addr, unsigned int order)
{
	if (addr)
		__free_pages(virt_to_page(addr), order);
}

/* ---- Boot: zones and the release of free memory ---- */

/* Gives [start_pfn, end_pfn) to the buddy allocator (memblock_free_all). */
unsigned long free_boot_range(unsigned long start_pfn, unsigned long end_pfn)
{
	unsigned long pfn = start_pfn;

	while (pfn < end_pfn) {
		unsigned int order = pfn ? (unsigned int)__builtin_ctzl(pfn) : MAX_ORDER;
		struct page *page = pfn_to_page(pfn);
		struct zone *z = page_zone(page);

		order = MIN(order, (unsigned int)MAX_ORDER);
		while (pfn + (1UL << order) > end_pfn ||
		       pfn + (1UL << order) > zone_end_pfn(z))
			order--;
		for (unsigned long i = 0; i < (1UL << order); i++) {
			__clear_page_flag(&page[i], PG_reserved);
			set_page_count(&page[i], 0);
		}
		spin_lock(&z->lock);
		__free_one_page(page, pfn, z, order, get_pageblock_mt(pfn));
		__mod_zone_freepages(z, 1L << order);
		spin_unlock(&z->lock);
		z->managed_pages += 1UL << order;
		z->reserved_pages -= 1UL << order;
		pfn += 1UL << order;
	}
	return end_pfn - start_pfn;
}

static const unsigned long zone_limits_pfn[MAX_NR_ZONES] = {
	[ZONE_DMA] = ZONE_DMA_END >> PAGE_SHIFT,
	[ZONE_DMA32] = ZONE_DMA32_END >> PAGE_SHIFT,
	[ZONE_NORMAL] = ~0UL,
};

/* Pages of memblock memory in [start, end) of pfns, counting whole pages. */
static unsigned long present_pages_in(unsigned long start, unsigned long end)
{
	return (unsigned long)(memblock_memory_in(PFN_PHYS(start), PFN_PHYS(end)) >>
			       PAGE_SHIFT);
}

/*
 * Builds the node: zone spans from the memory map, mem_map with every page
 * reserved (memblock_free_all releases the free ones), the pageblock types
 * and the per-CPU lists. All of it lives in emulated RAM, from memblock.
 */
int free_area_init(void)
{
	unsigned long start_pfn = ~0UL, nr_cpus = arch_nr_cpus();
	unsigned long nr_pageblocks;
	uint8_t *pageblock_mt;

	for (unsigned int i = 0; i < memblock.memory.cnt; i++) {
		const struct memblock_region *r = &memblock.memory.regions[i];
		start_pfn = MIN(start_pfn, PFN_UP(r->base));
		max_pfn = MAX(max_pfn, PFN_DOWN(r->base + r->size));
	}
	if (start_pfn >= max_pfn)
		return -KMM_ENOMEM;
	hotplug_end_pfn = max_pfn;
	for (int i = 0; i < e820_entries; i++)
		if (e820_table[i].type == KMM_MEM_HOTPLUG)
			hotplug_end_pfn = MAX(hotplug_end_pfn,
					      PFN_DOWN(e820_table[i].base + e820_table[i].size));

	kmm_node = memblock_alloc(sizeof(*kmm_node), 64, "node data");
	/* mem_map and the pageblock types cover memory that may be added. */
	mem_map = arch_mem_map(hotplug_end_pfn);
	if (!mem_map)
		mem_map = memblock_alloc(hotplug_end_pfn * sizeof(struct page), PAGE_SIZE,
					 "mem_map");
	nr_pageblocks = (hotplug_end_pfn + pageblock_nr_pages - 1) >> pageblock_order;
	pageblock_mt = memblock_alloc(nr_pageblocks, 64, "pageblock flags");
	if (!kmm_node || !mem_map || !pageblock_mt)
		return -KMM_ENOMEM;
	kmm_node->node_start_pfn = start_pfn;
	kmm_node->node_spanned_pages = max_pfn - start_pfn;
	kmm_node->node_mem_map = mem_map;

	/* Unmovable everywhere when grouping is off: one pool, as Linux does. */
	memset(pageblock_mt, page_group_by_mobility ? MIGRATE_MOVABLE : MIGRATE_UNMOVABLE,
	       nr_pageblocks);

	for (unsigned int t = 0; t < MAX_NR_ZONES; t++) {
		struct zone *z = &kmm_node->node_zones[t];
		unsigned long lo = t ? zone_limits_pfn[t - 1] : 0;
		unsigned long hi = MIN(zone_limits_pfn[t], max_pfn);

		lo = MAX(lo, start_pfn);
		z->name = zone_names[t];
		z->type = (enum zone_type)t;
		z->pageblock_mt = pageblock_mt;
		spin_lock_init(&z->lock);
		for (unsigned int o = 0; o < NR_ORDERS; o++)
			for (unsigned int mt = 0; mt < MIGRATE_TYPES; mt++)
				INIT_LIST_HEAD(&z->free_area[o].free_list[mt]);
		if (lo >= hi)
			continue;
		/* Trim the span to the memory inside it. */
		while (lo < hi && !memblock_is_memory(PFN_PHYS(lo)))
			lo++;
		while (hi > lo && !memblock_is_memory(PFN_PHYS(hi - 1)))
			hi--;
		z->zone_start_pfn = lo;
		z->spanned_pages = hi - lo;
		z->present_pages = present_pages_in(lo, hi);
		z->reserved_pages = z->present_pages;
		z->pcp = memblock_alloc(nr_cpus * sizeof(struct per_cpu_pages), 64,
					"per-cpu page lists");
		if (!z->pcp)
			return -KMM_ENOMEM;
		for (unsigned long c = 0; c < nr_cpus; c++) {
			spin_lock_init(&z->pcp[c].lock);
			for (unsigned int mt = 0; mt < MIGRATE_TYPES; mt++)
				INIT_LIST_HEAD(&z->pcp[c].lists[mt]);
		}
	}

	/* Every page starts reserved, with its zone; boot frees the free ones.
	   Frames below the first RAM have no struct page an arch must back. */
	for (unsigned long pfn = start_pfn; pfn < max_pfn; pfn++) {
		struct page *page = &mem_map[pfn];
		unsigned long zone = 0;

		for (unsigned int t = MAX_NR_ZONES; t-- > 0;) {
			if (pfn >= kmm_node->node_zones[t].zone_start_pfn &&
			    kmm_node->node_zones[t].spanned_pages) {
				zone = t;
				break;
			}
		}
		atomic_init(&page->flags, (zone << ZONES_PGSHIFT) | (1UL << PG_reserved));
		atomic_init(&page->_refcount, 1);
		atomic_init(&page->_mapcount, -1);
	}
	return 0;
}

/* ---- Memory hot-add ---- */

static bool range_is_hotplug(phys_addr_t base, phys_addr_t end)
{
	for (int i = 0; i < e820_entries; i++) {
		const struct kmm_mem_range *r = &e820_table[i];

		if (r->type == KMM_MEM_HOTPLUG && base >= r->base && end <= r->base + r->size)
			return true;
	}
	return false;
}

/*
 * Memory hot-add, for an arch that gets RAM while it runs (arch/native
 * takes it from the host in sections). [base, base + size) must lie in a
 * KMM_MEM_HOTPLUG range of the boot memory map, be pageblock-aligned, start
 * at max_pfn (sections are added in order: the memory stays one span, so
 * pfn_valid stays one comparison), fall in a zone that had memory at boot
 * (it has per-CPU lists), and have its mem_map entries backed. The frames
 * join that zone as managed pages and go to the buddy lists as free
 * blocks. Watermarks and per-CPU batch sizes keep their boot values: they
 * are read without locks on every allocation, and a reserve sized for the
 * boot memory is what a growing host process wants. Returns 0, or
 * -KMM_EINVAL for a range that breaks one of these rules.
 *
 * Callers serialize add_memory() among themselves; allocations may run
 * meanwhile: the zone's span and counters change under zone->lock, and
 * max_pfn grows last, once every new struct page is initialized.
 */
int add_memory(phys_addr_t base, phys_addr_t size)
{
	unsigned long start = PHYS_PFN(base), nr = PHYS_PFN(size);
	unsigned long end = start + nr, cur_max = __atomic_load_n(&max_pfn, __ATOMIC_RELAXED);
	struct zone *z = NULL;

	if (!kmm_node || !nr || !IS_ALIGNED(start, pageblock_nr_pages) ||
	    !IS_ALIGNED(nr, pageblock_nr_pages) || start != cur_max ||
	    end > hotplug_end_pfn || !range_is_hotplug(base, base + size))
		return -KMM_EINVAL;
	for (unsigned int t = 0; t < MAX_NR_ZONES; t++) {
		unsigned long lo = t ? zone_limits_pfn[t - 1] : 0;

		if (start >= lo && end <= zone_limits_pfn[t])
			z = &kmm_node->node_zones[t];
	}
	if (!z || !z->pcp || !populated_zone(z))
		return -KMM_EINVAL;

	for (unsigned long pfn = start; pfn < end; pfn++) {
		struct page *page = &mem_map[pfn];

		memset(page, 0, sizeof(*page));
		atomic_init(&page->flags, (unsigned long)z->type << ZONES_PGSHIFT);
		atomic_init(&page->_refcount, 0);
		atomic_init(&page->_mapcount, -1);
	}
	spin_lock(&z->lock);
	/* The span grows over any gap since the zone's end: pages there are
	   not in the zone's span of RAM, so there is none (start == max_pfn). */
	z->spanned_pages = end - z->zone_start_pfn;
	__atomic_store_n(&z->present_pages, z->present_pages + nr, __ATOMIC_RELAXED);
	__atomic_store_n(&z->managed_pages, z->managed_pages + nr, __ATOMIC_RELAXED);
	/* The pageblock types of the range were set at boot (free_area_init). */
	for (unsigned long pfn = start, order; pfn < end; pfn += 1UL << order) {
		order = MAX_ORDER;
		while (!IS_ALIGNED(pfn, 1UL << order) || pfn + (1UL << order) > end)
			order--;
		__free_one_page(&mem_map[pfn], pfn, z, (unsigned int)order,
				get_pageblock_mt(pfn));
		__mod_zone_freepages(z, 1L << order);
	}
	__atomic_store_n(&max_pfn, end, __ATOMIC_RELEASE);
	spin_unlock(&z->lock);
	return 0;
}

/*
 * Fork safety for a port in a process that forks (arch/native): takes
 * every lock of the page allocator, in the lock order (each CPU's lists,
 * then the zone), so that a fork snapshots no lock half-held;
 * page_alloc_unlock_all() releases them in the parent and in the child.
 */
void page_alloc_lock_all(void)
{
	struct zone *z;

	for_each_zone(z) {
		if (!populated_zone(z))
			continue;
		for (unsigned int c = 0; c < arch_nr_cpus(); c++)
			spin_lock(&z->pcp[c].lock);
		spin_lock(&z->lock);
	}
}

void page_alloc_unlock_all(void)
{
	struct zone *z;

	for_each_zone(z) {
		if (!populated_zone(z))
			continue;
		spin_unlock(&z->lock);
		for (unsigned int c = arch_nr_cpus(); c-- > 0;)
			spin_unlock(&z->pcp[c].lock);
	}
}

/* Linux's zone_batchsize: about a quarter of a megabyte, a power of two less one. */
static int zone_batchsize(struct zone *z)
{
	unsigned long batch = MIN(z->managed_pages >> 10, (1UL << 20) / PAGE_SIZE) / 4;
	unsigned long p = 1;

	batch = MAX(batch, 1UL);
	batch += batch / 2;
	while (p * 2 <= batch)
		p *= 2;
	return (int)MAX(p - 1, 1UL);
}

static void setup_per_zone_lowmem_reserve(void)
{
	for (unsigned int i = 0; i < MAX_NR_ZONES; i++) {
		struct zone *z = &kmm_node->node_zones[i];
		unsigned long above = 0;

		z->lowmem_reserve[i] = 0;
		for (unsigned int j = i + 1; j < MAX_NR_ZONES; j++) {
			above += kmm_node->node_zones[j].managed_pages;
			z->lowmem_reserve[j] =
				populated_zone(z) ? (long)(above / lowmem_reserve_ratio[i]) : 0;
		}
	}
}

static void calculate_totalreserve_pages(void)
{
	struct zone *z;

	totalreserve_pages = 0;
	for_each_zone(z) {
		long max = 0;
		for (unsigned int j = 0; j < MAX_NR_ZONES; j++)
			max = MAX(max, z->lowmem_reserve[j]);
		max += (long)z->watermark[WMARK_HIGH];
		totalreserve_pages += MIN((unsigned long)max, z->managed_pages);
	}
}

void setup_per_zone_wmarks(void)
{
	unsigned long lowmem_pages = totalram_pages();
	unsigned long pages_min;
	struct zone *z;

	if (!min_free_kbytes) {
		/* Linux's rule: sqrt(16 * lowmem kB), within 128 kB .. 256 MB. */
		min_free_kbytes = int_sqrt(lowmem_pages * (PAGE_SIZE >> 10) * 16);
		min_free_kbytes = CLAMP(min_free_kbytes, 128UL, 262144UL);
	}
	pages_min = min_free_kbytes >> (PAGE_SHIFT - 10);
	for_each_zone(z) {
		unsigned long min, gap;

		if (!lowmem_pages)
			break;
		min = pages_min * z->managed_pages / lowmem_pages;
		gap = MAX(min / 4, z->managed_pages * watermark_scale_factor / 10000);
		z->watermark[WMARK_MIN] = min;
		z->watermark[WMARK_LOW] = min + gap;
		z->watermark[WMARK_HIGH] = min + 2 * gap;
	}
	setup_per_zone_lowmem_reserve();
	calculate_totalreserve_pages();
}

/*
 * Builds the zone fallback lists (Normal -> DMA32 -> DMA, populated zones
 * only) and sizes the per-CPU lists, once the zones know their pages.
 */
void setup_zone_pagesets(void)
{
	struct zone *z;

	for (unsigned int highest = 0; highest < MAX_NR_ZONES; highest++) {
		unsigned int n = 0;

		for (int i = (int)highest; i >= 0; i--)
			if (populated_zone(&kmm_node->node_zones[i]))
				kmm_node->zonelist[highest][n++] = &kmm_node->node_zones[i];
		kmm_node->zonelist[highest][n] = NULL;
	}

	for_each_zone(z) {
		int batch;

		if (!populated_zone(z))
			continue;
		batch = zone_batchsize(z);
		for (unsigned int c = 0; c < arch_nr_cpus(); c++) {
			z->pcp[c].batch = batch;
			z->pcp[c].high = 6 * batch;
		}
	}
}

/* ---- Totals ---- */

unsigned long nr_free_pages(void)
{
	unsigned long total = 0;
	struct zone *z;

	for_each_zone(z)
		total += zone_page_state(z, NR_FREE_PAGES);
	return total;
}

static unsigned long zone_pcp_pages(struct zone *z)
{
	unsigned long total = 0;

	if (!populated_zone(z))
		return 0;
	for (unsigned int c = 0; c < arch_nr_cpus(); c++) {
		spin_lock(&z->pcp[c].lock);
		total += (unsigned long)z->pcp[c].count;
		spin_unlock(&z->pcp[c].lock);
	}
	return total;
}

unsigned long nr_pcp_pages(void)
{
	unsigned long total = 0;
	struct zone *z;

	for_each_zone(z)
		total += zone_pcp_pages(z);
	return total;
}

unsigned long totalram_pages(void)
{
	unsigned long total = 0;
	struct zone *z;

	for_each_zone(z)
		total += z->managed_pages;
	return total;
}

unsigned long nr_reserved_pages(void)
{
	unsigned long total = 0;
	struct zone *z;

	for_each_zone(z)
		total += z->reserved_pages;
	return total;
}

unsigned long nr_totalreserve_pages(void)
{
	return totalreserve_pages;
}

/* ---- Fragmentation indices ---- */

struct contig_info {
	unsigned long free_pages;
	unsigned long free_blocks_total;
	unsigned long free_blocks_suitable; /* in blocks of the requested order */
};

static void fill_contig_info(struct zone *z, unsigned int order,
			     struct contig_info *info)
{
	*info = (struct contig_info){ 0 };
	for (unsigned int o = 0; o < NR_ORDERS; o++) {
		unsigned long blocks = read_counter(&z->free_area[o].nr_free);

		info->free_blocks_total += blocks;
		info->free_pages += blocks << o;
		if (o >= order)
			info->free_blocks_suitable += blocks << (o - order);
	}
}

int unusable_free_index(struct zone *z, unsigned int order)
{
	struct contig_info info;

	fill_contig_info(z, order, &info);
	if (!info.free_pages)
		return 0;
	return (int)((info.free_pages - (info.free_blocks_suitable << order)) * 1000 /
		     info.free_pages);
}

int extfrag_index(struct zone *z, unsigned int order)
{
	unsigned long requested = 1UL << order;
	struct contig_info info;

	fill_contig_info(z, order, &info);
	if (!info.free_blocks_total)
		return 0;
	if (info.free_blocks_suitable)
		return -1000;
	return (int)(1000 - (1000 + info.free_pages * 1000 / requested) /
				    info.free_blocks_total);
}

/* ---- Views ---- */

void buddyinfo_show(struct seq_buf *s, long arg)
{
	struct zone *z;

	for_each_zone(z) {
		if (!populated_zone(z))
			continue;
		seq_printf(s, "Node 0, zone %8s ", z->name);
		for (unsigned int o = 0; o < NR_ORDERS; o++)
			seq_printf(s, "%6lu ", read_counter(&z->free_area[o].nr_free));
		seq_puts(s, "\n");
	}
}

void pagetypeinfo_show(struct seq_buf *s, long arg)
{
	struct zone *z;

	seq_printf(s, "Page block order: %d\n", pageblock_order);
	seq_printf(s, "Pages per block:  %lu\n\n", pageblock_nr_pages);
	seq_printf(s, "%-43s ", "Free pages count per migrate type at order");
	for (unsigned int o = 0; o < NR_ORDERS; o++)
		seq_printf(s, "%6u ", o);
	seq_puts(s, "\n");
	for_each_zone(z) {
		if (!populated_zone(z))
			continue;
		for (unsigned int mt = 0; mt < MIGRATE_TYPES; mt++) {
			seq_printf(s, "Node %4d, zone %8s, type %12s ", 0, z->name,
				   migratetype_names[mt]);
			for (unsigned int o = 0; o < NR_ORDERS; o++)
				seq_printf(s, "%6lu ",
					   read_counter(&z->free_area[o].nr_free_mt[mt]));
			seq_puts(s, "\n");
		}
	}
	seq_printf(s, "\n%-23s", "Number of blocks type ");
	for (unsigned int mt = 0; mt < MIGRATE_TYPES; mt++)
		seq_printf(s, "%12s ", migratetype_names[mt]);
	seq_puts(s, "\n");
	for_each_zone(z) {
		unsigned long count[MIGRATE_TYPES] = { 0 };
		unsigned long pfn;

		if (!populated_zone(z))
			continue;
		for (pfn = ALIGN_DOWN(z->zone_start_pfn, pageblock_nr_pages);
		     pfn < zone_end_pfn(z); pfn += pageblock_nr_pages)
			count[get_pageblock_mt(pfn)]++;
		seq_printf(s, "Node %d, zone %8s ", 0, z->name);
		for (unsigned int mt = 0; mt < MIGRATE_TYPES; mt++)
			seq_printf(s, "%12lu ", count[mt]);
		seq_puts(s, "\n");
	}
}

void zoneinfo_show(struct seq_buf *s, long arg)
{
	struct zone *z;

	for_each_zone(z) {
		seq_printf(s, "Node 0, zone %8s\n", z->name);
		if (!populated_zone(z)) {
			seq_puts(s, "  pages free     0\n        present  0\n");
			continue;
		}
		seq_printf(s, "  pages free     %lu\n", zone_page_state(z, NR_FREE_PAGES));
		seq_printf(s, "        min      %lu\n", z->watermark[WMARK_MIN]);
		seq_printf(s, "        low      %lu\n", z->watermark[WMARK_LOW]);
		seq_printf(s, "        high     %lu\n", z->watermark[WMARK_HIGH]);
		seq_printf(s, "        spanned  %lu\n", z->spanned_pages);
		seq_printf(s, "        present  %lu\n", z->present_pages);
		seq_printf(s, "        managed  %lu\n", z->managed_pages);
		seq_printf(s, "        reserved %lu\n", z->reserved_pages);
		seq_puts(s, "        protection: (");
		for (unsigned int j = 0; j < MAX_NR_ZONES; j++)
			seq_printf(s, "%s%ld", j ? ", " : "", z->lowmem_reserve[j]);
		seq_puts(s, ")\n");
		seq_printf(s, "      nr_free_pages %lu\n", zone_page_state(z, NR_FREE_PAGES));
		seq_puts(s, "  pagesets\n");
		for (unsigned int c = 0; c < arch_nr_cpus(); c++) {
			struct per_cpu_pages *pcp = &z->pcp[c];
			int count;

			spin_lock(&pcp->lock);
			count = pcp->count;
			spin_unlock(&pcp->lock);
			seq_printf(s, "    cpu: %u\n", c);
			seq_printf(s, "              count: %d\n", count);
			seq_printf(s, "              high:  %d\n", pcp->high);
			seq_printf(s, "              batch: %d\n", pcp->batch);
		}
		seq_printf(s, "  start_pfn:           %lu\n", z->zone_start_pfn);
	}
}

static void index_row(struct seq_buf *s, struct zone *z,
		      int (*index)(struct zone *, unsigned int))
{
	seq_printf(s, "Node 0, zone %8s ", z->name);
	for (unsigned int o = 0; o < NR_ORDERS; o++) {
		int v = index(z, o);
		seq_printf(s, "%s%d.%03d ", v < 0 ? "-" : "", (v < 0 ? -v : v) / 1000,
			   (v < 0 ? -v : v) % 1000);
	}
	seq_puts(s, "\n");
}

/* Linux's debugfs extfrag/unusable_index and extfrag/extfrag_index. */
void extfrag_show(struct seq_buf *s, long arg)
{
	struct zone *z;

	seq_puts(s, "unusable_index (share of free memory unusable at each order):\n");
	for_each_zone(z)
		if (populated_zone(z))
			index_row(s, z, unusable_free_index);
	seq_puts(s, "extfrag_index (-1: a block is free; near 0: low memory; near 1: fragmentation):\n");
	for_each_zone(z)
		if (populated_zone(z))
			index_row(s, z, extfrag_index);
}

/* ---- Invariant checker ---- */

static void check_zone(struct zone *z, unsigned int zone_idx)
{
	unsigned long blocks[NR_ORDERS][MIGRATE_TYPES] = { { 0 } };
	unsigned long free_pages = 0, pcp_pages = 0, allocated = 0, reserved = 0;
	unsigned long end = zone_end_pfn(z);

	/* The free lists: each entry a correct, aligned head, in one list only. */
	for (unsigned int o = 0; o < NR_ORDERS; o++) {
		for (unsigned int mt = 0; mt < MIGRATE_TYPES; mt++) {
			struct page *page;

			list_for_each_entry(page, &z->free_area[o].free_list[mt], lru) {
				unsigned long pfn = page_to_pfn(page);

				if (!page_flag(page, PG_buddy) || page->private != o ||
				    page->index != mt)
					panic("zone %s: free list order %u %s holds pfn %#lx "
					      "with buddy=%d order=%lu type=%lu",
					      z->name, o, migratetype_names[mt], pfn,
					      page_flag(page, PG_buddy), page->private,
					      page->index);
				if (!IS_ALIGNED(pfn, 1UL << o) || pfn < z->zone_start_pfn ||
				    pfn + (1UL << o) > end)
					panic("zone %s: free block pfn %#lx order %u misaligned "
					      "or outside the zone", z->name, pfn, o);
				if (page_flag(page, PG_checked))
					panic("zone %s: free block pfn %#lx is on two lists",
					      z->name, pfn);
				__set_page_flag(page, PG_checked);
				blocks[o][mt]++;
			}
			if (blocks[o][mt] != read_counter(&z->free_area[o].nr_free_mt[mt]))
				panic("zone %s: order %u %s list has %lu blocks, counter says %lu",
				      z->name, o, migratetype_names[mt], blocks[o][mt],
				      read_counter(&z->free_area[o].nr_free_mt[mt]));
		}
		if (blocks[o][0] + blocks[o][1] + blocks[o][2] !=
		    read_counter(&z->free_area[o].nr_free))
			panic("zone %s: order %u nr_free %lu does not match its lists",
			      z->name, o, read_counter(&z->free_area[o].nr_free));
	}

	/* The per-CPU lists. */
	for (unsigned int c = 0; c < arch_nr_cpus(); c++) {
		struct per_cpu_pages *pcp = &z->pcp[c];
		int count = 0;

		for (unsigned int mt = 0; mt < MIGRATE_TYPES; mt++) {
			struct page *page;

			list_for_each_entry(page, &pcp->lists[mt], lru) {
				if (!page_flag(page, PG_pcp) || page_flag(page, PG_buddy) ||
				    page_flag(page, PG_checked) ||
				    !zone_spans_pfn(z, page_to_pfn(page)))
					panic("zone %s: cpu %u list holds a bad page pfn %#lx",
					      z->name, c, page_to_pfn(page));
				__set_page_flag(page, PG_checked);
				count++;
			}
		}
		if (count != pcp->count)
			panic("zone %s: cpu %u list has %d pages, count says %d", z->name,
			      c, count, pcp->count);
	}

	/* Every frame of the span: exactly one of free, per-CPU, reserved, allocated. */
	for (unsigned long pfn = z->zone_start_pfn; pfn < end;) {
		struct page *page = pfn_to_page(pfn);
		bool checked = page_flag(page, PG_checked);

		if (page_zonenum(page) != zone_idx)
			panic("pfn %#lx in zone %s has zone bits %u", pfn, z->name,
			      page_zonenum(page));
		if (page_flag(page, PG_buddy)) {
			unsigned int order = (unsigned int)page->private;
			unsigned long buddy = pfn ^ (1UL << order);

			if (!checked)
				panic("zone %s: free block pfn %#lx is on no list", z->name, pfn);
			if (page_ref_count(page) != 0 ||
			    atomic_load(&page->_mapcount) != -1)
				panic("zone %s: free page pfn %#lx has count %d mapcount %d",
				      z->name, pfn, page_ref_count(page),
				      atomic_load(&page->_mapcount));
			if (order < MAX_ORDER && page_is_buddy(z, buddy, order))
				panic("zone %s: free buddies pfn %#lx and %#lx of order %u "
				      "were not merged", z->name, pfn, buddy, order);
			for (unsigned long i = 1; i < (1UL << order); i++) {
				unsigned long f = atomic_load(&page[i].flags);
				if (f & ((1UL << PG_buddy) | (1UL << PG_pcp) |
					 (1UL << PG_reserved) | (1UL << PG_checked)))
					panic("zone %s: pfn %#lx inside free block %#lx order %u "
					      "has flags %#lx", z->name, pfn + i, pfn, order, f);
			}
			__clear_page_flag(page, PG_checked);
			free_pages += 1UL << order;
			pfn += 1UL << order;
			continue;
		}
		if (page_flag(page, PG_pcp)) {
			if (!checked)
				panic("zone %s: pfn %#lx marked per-CPU is on no list", z->name, pfn);
			__clear_page_flag(page, PG_checked);
			pcp_pages++;
		} else if (checked) {
			panic("zone %s: listed pfn %#lx lost its free flag", z->name, pfn);
		} else if (page_flag(page, PG_reserved)) {
			reserved++;
		} else {
			allocated++;
		}
		pfn++;
	}

	if (free_pages != zone_page_state(z, NR_FREE_PAGES))
		panic("zone %s: %lu pages in free blocks, NR_FREE_PAGES says %lu", z->name,
		      free_pages, zone_page_state(z, NR_FREE_PAGES));
	if (free_pages + pcp_pages + allocated != z->managed_pages)
		panic("zone %s: free %lu + per-CPU %lu + allocated %lu != managed %lu",
		      z->name, free_pages, pcp_pages, allocated, z->managed_pages);
	if (reserved != z->spanned_pages - z->managed_pages)
		panic("zone %s: %lu reserved pages, expected spanned %lu - managed %lu",
		      z->name, reserved, z->spanned_pages, z->managed_pages);
}

int page_alloc_check(void)
{
	struct zone *z;

	for_each_zone(z) {
		if (!populated_zone(z))
			continue;
		for (unsigned int c = 0; c < arch_nr_cpus(); c++)
			spin_lock(&z->pcp[c].lock);
		spin_lock(&z->lock);
		check_zone(z, z->type);
		spin_unlock(&z->lock);
		for (unsigned int c = 0; c < arch_nr_cpus(); c++)
			spin_unlock(&z->pcp[c].lock);
	}
	return 0;
}
