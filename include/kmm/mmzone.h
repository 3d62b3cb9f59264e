/*
 * Zones and the node: how physical memory is divided for the page allocator.
 *
 * One node (kmm emulates a UMA machine) holds the zones of the PC: DMA
 * (below 16 MiB, for ISA devices), DMA32 (below 4 GiB) and Normal. Each zone
 * has its buddy free lists (free_area, one per order, each split by migrate
 * type), its watermarks, its lowmem reserves and its per-CPU page lists.
 *
 * Lock order: pcp->lock (one CPU's list of one zone) before zone->lock.
 * zone->lock protects free_area, the pageblock migrate types and the
 * PG_buddy/private fields of free pages. vm_stat counters are atomics.
 */
#ifndef KMM_MMZONE_H
#define KMM_MMZONE_H

#include <kmm/list.h>
#include <kmm/lock.h>
#include <kmm/mm_types.h>

#define MAX_ORDER 10                   /* orders 0..MAX_ORDER inclusive */
#define NR_ORDERS (MAX_ORDER + 1)
#define pageblock_order 9              /* 2 MiB pageblocks */
#define pageblock_nr_pages (1UL << pageblock_order)

enum zone_type {
	ZONE_DMA,
	ZONE_DMA32,
	ZONE_NORMAL,
	MAX_NR_ZONES,
};

/* Upper physical limits of the low zones. */
#define ZONE_DMA_END (16ULL << 20)
#define ZONE_DMA32_END (4ULL << 30)

enum migratetype {
	MIGRATE_UNMOVABLE,
	MIGRATE_MOVABLE,
	MIGRATE_RECLAIMABLE,
	MIGRATE_TYPES,
};

enum zone_watermarks {
	WMARK_MIN,
	WMARK_LOW,
	WMARK_HIGH,
	NR_WMARK,
};

/* Per-zone counters, kept exact (atomics), read without locks. */
enum zone_stat_item {
	NR_FREE_PAGES,      /* in the buddy lists (not counting per-CPU lists) */
	NR_ANON_MAPPED,     /* anonymous pages mapped by some task (AnonPages) */
	NR_PAGETABLE,       /* frames holding page tables (PageTables) */
	NR_FILE_PAGES,      /* page-cache pages, files and block devices (fs.h) */
	NR_FILE_DIRTY,      /* of which PG_dirty (Dirty) */
	NR_WRITEBACK,       /* of which PG_writeback (Writeback) */
	NR_FILE_MAPPED,     /* of which mapped by some task (Mapped) */
	NR_SHMEM,           /* pages of shared anonymous objects (Shmem) */
	/* Pages on the LRU lists (mm/swap.c), in enum lru_list order. */
	NR_LRU_BASE,
	NR_INACTIVE_ANON = NR_LRU_BASE,
	NR_ACTIVE_ANON,
	NR_INACTIVE_FILE,
	NR_ACTIVE_FILE,
	NR_UNEVICTABLE,
	NR_SWAPCACHE,       /* pages in the swap cache (SwapCached) */
	NR_VM_ZONE_STAT_ITEMS,
};

/*
 * The page-frame reclaiming lists of a zone (mm/swap.c, mm/vmscan.c):
 * anonymous and file pages, each split into active and inactive, and the
 * pages reclaim must not touch. Their lengths are the zone counters
 * NR_LRU_BASE + lru. lock protects the lists and the PG_lru/PG_active/
 * PG_unevictable bits of the pages on them; it is taken after a page's
 * lock and an mm's locks, before nothing (a leaf).
 */
enum lru_list {
	LRU_INACTIVE_ANON,
	LRU_ACTIVE_ANON,
	LRU_INACTIVE_FILE,
	LRU_ACTIVE_FILE,
	LRU_UNEVICTABLE,
	NR_LRU_LISTS,
};

struct lruvec {
	spinlock_t lock;
	struct list_head lists[NR_LRU_LISTS];
	/*
	 * Reclaim's measure of what each kind is worth keeping ([0] anon,
	 * [1] file): pages scanned, and of them found referenced, recently
	 * (halved as they grow, so they follow the workload). Under lock.
	 */
	unsigned long recent_scanned[2], recent_rotated[2];
};

/*
 * The counts change under zone->lock but are read without it (watermark
 * checks, views), so they are read and written with relaxed atomic builtins.
 */
struct free_area {
	struct list_head free_list[MIGRATE_TYPES];
	unsigned long nr_free;                 /* blocks of this order, all types */
	unsigned long nr_free_mt[MIGRATE_TYPES];
};

/*
 * One CPU's cache of free order-0 pages of one zone: the fast path of
 * alloc_pages/free_pages takes and puts pages here, touching the buddy lists
 * (under zone->lock) only a batch at a time.
 */
struct per_cpu_pages {
	spinlock_t lock;
	int count;             /* pages on the lists */
	int high;              /* drain a batch when count reaches this */
	int batch;             /* pages moved to or from the buddy at once */
	struct list_head lists[MIGRATE_TYPES];
} __attribute__((aligned(64)));

struct zone {
	/* Read-mostly fields used by the allocation fast path. */
	unsigned long watermark[NR_WMARK];
	/* Pages this zone keeps back from allocations that could use a higher zone. */
	long lowmem_reserve[MAX_NR_ZONES];
	atomic_long vm_stat[NR_VM_ZONE_STAT_ITEMS];
	const char *name;
	enum zone_type type;

	unsigned long zone_start_pfn;
	unsigned long spanned_pages;   /* end - start, holes included */
	unsigned long present_pages;   /* RAM in the span */
	unsigned long managed_pages;   /* given to the buddy allocator at boot */

	/* Migrate type of each pageblock, indexed by pfn >> pageblock_order
	   (one array for the node, shared by its zones). */
	uint8_t *pageblock_mt;

	spinlock_t lock;
	struct free_area free_area[NR_ORDERS];

	struct per_cpu_pages *pcp;     /* [arch_nr_cpus()] */
	unsigned long reserved_pages;  /* present but kept by memblock */

	struct lruvec lruvec;          /* reclaim's lists (mm/swap.c) */
};

static inline unsigned long zone_end_pfn(const struct zone *z)
{
	return z->zone_start_pfn + z->spanned_pages;
}

static inline bool zone_spans_pfn(const struct zone *z, unsigned long pfn)
{
	return pfn >= z->zone_start_pfn && pfn < zone_end_pfn(z);
}

/* Read atomically: add_memory() may grow present_pages meanwhile. */
static inline bool populated_zone(const struct zone *z)
{
	return __atomic_load_n(&z->present_pages, __ATOMIC_RELAXED) != 0;
}

static inline unsigned long zone_page_state(const struct zone *z,
					    enum zone_stat_item item)
{
	long v = atomic_load_explicit(&((struct zone *)z)->vm_stat[item],
				      memory_order_relaxed);
	return v < 0 ? 0 : (unsigned long)v;
}

/* The node: all zones and the mem_map. Lives in emulated RAM (memblock). */
struct pglist_data {
	struct zone node_zones[MAX_NR_ZONES];
	unsigned long node_start_pfn;
	unsigned long node_spanned_pages;
	struct page *node_mem_map;      /* one struct page per pfn of the span */
	/*
	 * For each highest allowed zone, the populated zones to try in order
	 * (that zone first, then down to DMA), NULL-terminated: the allocation
	 * fast path walks this instead of testing every zone.
	 */
	struct zone *zonelist[MAX_NR_ZONES][MAX_NR_ZONES + 1];
};

extern struct pglist_data *kmm_node;
extern struct page *mem_map;
extern unsigned long max_pfn;       /* one past the last pfn of RAM; grows
				       with add_memory(), so read atomically */

#define for_each_zone(z) \
	for (z = kmm_node->node_zones; z < kmm_node->node_zones + MAX_NR_ZONES; z++)

static inline struct page *pfn_to_page(unsigned long pfn)
{
	return mem_map + pfn;
}

static inline unsigned long page_to_pfn(const struct page *page)
{
	return (unsigned long)(page - mem_map);
}

static inline bool pfn_valid(unsigned long pfn)
{
	return pfn < __atomic_load_n(&max_pfn, __ATOMIC_RELAXED);
}

static inline struct zone *page_zone(const struct page *page)
{
	return &kmm_node->node_zones[page_zonenum(page)];
}

static inline void *page_address(const struct page *page)
{
	return phys_to_virt(PFN_PHYS(page_to_pfn(page)));
}

static inline struct page *virt_to_page(const void *addr)
{
	return pfn_to_page(PHYS_PFN(virt_to_phys(addr)));
}

#endif
