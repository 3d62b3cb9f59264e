/*
 * The page-frame allocator (mm/page_alloc.c): the buddy system of the book,
 * with zones, watermarks, per-CPU page lists and grouping by mobility.
 */
#ifndef KMM_PAGE_ALLOC_H
#define KMM_PAGE_ALLOC_H

#include <kmm/gfp.h>
#include <kmm/mmzone.h>

/*
 * Allocates 2^order contiguous frames. Returns the first page with a
 * reference count of 1, or NULL if the zones allowed by gfp cannot supply
 * the block above their watermarks (or a fault was injected).
 */
struct page *alloc_pages(gfp_t gfp, unsigned int order);
static inline struct page *alloc_page(gfp_t gfp)
{
	return alloc_pages(gfp, 0);
}

/* Drops a reference to a block from alloc_pages; frees it on the last one. */
void __free_pages(struct page *page, unsigned int order);
static inline void __free_page(struct page *page)
{
	__free_pages(page, 0);
}

/* The same, by direct-map address. Return NULL/0 on failure. */
void *__get_free_pages(gfp_t gfp, unsigned int order);
void *get_zeroed_page(gfp_t gfp);
void free_pages(void *addr, unsigned int order);

/* Returns every per-CPU list page to the buddy lists (all CPUs, all zones). */
void drain_all_pages(void);
/* The same for one CPU's lists (the caller's own in the hot paths). */
void drain_local_pages(unsigned int cpu);

/*
 * alloc_flags of a watermark check: which watermark, and how far below it
 * the request may go (Linux's ALLOC_HIGH and ALLOC_HARDER).
 */
#define ALLOC_WMARK_MIN WMARK_MIN
#define ALLOC_WMARK_LOW WMARK_LOW
#define ALLOC_WMARK_HIGH WMARK_HIGH
#define ALLOC_WMARK_MASK 0x03u
#define ALLOC_HIGH 0x10u    /* __GFP_HIGH: half of the reserve below min */
#define ALLOC_HARDER 0x20u  /* __GFP_ATOMIC: a further quarter */

/* Is the zone above the given watermark for this order and request class? */
bool zone_watermark_ok(struct zone *z, unsigned int order, unsigned long mark,
		       enum zone_type highest_zoneidx, unsigned int alloc_flags);

/* Totals over all zones. */
unsigned long nr_free_pages(void);      /* buddy lists only */
unsigned long nr_pcp_pages(void);       /* per-CPU lists */
unsigned long totalram_pages(void);     /* managed pages */
unsigned long nr_reserved_pages(void);  /* present but never managed */

/*
 * Fragmentation indices of a zone for an order, in thousandths, as Linux's
 * debugfs extfrag files define them:
 *  - unusable free space index: the share of free memory in blocks smaller
 *    than the order (0: all free memory usable, 1000: none);
 *  - external fragmentation index: -1000 when a block of the order is free;
 *    else towards 0 the failure is from lack of memory, towards 1000 from
 *    fragmentation.
 */
int unusable_free_index(struct zone *z, unsigned int order);
int extfrag_index(struct zone *z, unsigned int order);

/* Boot-time tunables, set before page_alloc_init (kmm_boot_options). */
extern bool page_group_by_mobility;
extern unsigned long min_free_kbytes;
extern bool page_alloc_use_pcp;
/* Recomputes watermarks and lowmem reserves from min_free_kbytes. */
void setup_per_zone_wmarks(void);

/*
 * Reclaim's hooks (mm/vmscan.c sets them at boot; a port without reclaim,
 * arch/native, leaves them NULL). wakeup_kswapd_hook is called for each
 * zone an allocation may use when one found a zone below its low
 * watermark (vmstat kswapd_wake counts the events); direct_reclaim_hook,
 * by an allocation that may wait and found every zone below min: it
 * reclaims and returns the pages freed (0: no progress).
 */
extern void (*wakeup_kswapd_hook)(struct zone *z, unsigned int order,
				  enum zone_type highest_zoneidx);
extern unsigned long (*direct_reclaim_hook)(gfp_t gfp, unsigned int order);

/*
 * Memory hot-add (mm/page_alloc.c has the rules): gives the buddy allocator
 * [base, base + size) of a KMM_MEM_HOTPLUG range, right above max_pfn.
 * Returns 0 or -KMM_EINVAL.
 */
int add_memory(phys_addr_t base, phys_addr_t size);

/* Takes / releases every page-allocator lock (around fork, arch/native). */
void page_alloc_lock_all(void);
void page_alloc_unlock_all(void);

/* Invariant checker: returns 0, or panics describing the broken invariant. */
int page_alloc_check(void);

/* Migrate type names ("Unmovable"...) and zone names ("DMA"...). */
extern const char *const migratetype_names[MIGRATE_TYPES];
extern const char *const zone_names[MAX_NR_ZONES];

#endif
