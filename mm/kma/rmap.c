/*
 * The resource map allocator of System V Release 4 (rmalloc/rmfree; Bach,
 * "The Design of the UNIX Operating System", sec. 9.1, and Vahalia, "UNIX
 * Internals", sec. 12.3): a map of the free extents of an arena as a
 * fixed-size array of (base, size) pairs sorted by base.
 *
 * rmalloc takes the first extent big enough (first fit) and cuts the request
 * off its front; rmfree puts an extent back in address order and merges it
 * with the free neighbours it touches, so the map never holds two adjacent
 * extents. Nothing per block is recorded: the caller must give the size
 * back to rmfree, which is why kma_free takes a size.
 *
 * The arena here is not one range fixed at boot but grows: when no extent
 * fits, the allocator takes a block of frames (at least 2^RMAP_GROW_ORDER)
 * from the page allocator and rmfree's it into the map. Blocks that happen
 * to be adjacent in physical memory merge like any other extents. shrink
 * gives back every grown block that lies wholly inside one free extent.
 *
 * The map has RMAP_MAPSIZE slots, as SVR4's maps had a fixed size. A free
 * that needs a new slot when none is left loses its extent, as rmfree did
 * ("rmap overflow, lost N items"): the bytes are counted in rmap_lost and
 * reported once. Both searches are linear, as in SVR4: the cost of every
 * call grows with the number of free extents — the weakness this design is
 * known for, next to external fragmentation of the arena.
 *
 * Units are 16 bytes, so every block is 16-byte aligned; nothing more.
 *
 * Locking: rmap_lock protects the map, the block list and the counters; it
 * is taken before the page allocator's locks.
 */
#include <kmm/kma.h>
#include <kmm/lock.h>
#include <kmm/string.h>

#include "kma_internal.h"

#define RMAP_UNIT 16UL
#define RMAP_MAPSIZE 32768
#define RMAP_GROW_ORDER 2

struct rmap_extent {
	uintptr_t base;
	size_t size;
};

static struct rmap_extent rmap_map[RMAP_MAPSIZE];
static unsigned int rmap_used;          /* extents in rmap_map[0..used) */
static struct list_head rmap_blocks;    /* grown blocks, by head page lru */
static unsigned long rmap_nblocks;
static unsigned long rmap_lost;         /* bytes lost to map overflow */
static unsigned long rmap_scans;        /* extents visited by rmalloc (cost) */
static spinlock_t rmap_lock;
static struct kma_state rmap_state;

static int rmap_init(void)
{
	rmap_used = 0;
	rmap_nblocks = 0;
	rmap_lost = 0;
	rmap_scans = 0;
	INIT_LIST_HEAD(&rmap_blocks);
	spin_lock_init(&rmap_lock);
	return 0;
}

static void map_remove(unsigned int i)
{
	memmove(&rmap_map[i], &rmap_map[i + 1], (rmap_used - i - 1) * sizeof(rmap_map[0]));
	rmap_used--;
}

/* Needs a free slot (rmap_used < RMAP_MAPSIZE). */
static void map_insert(unsigned int i, uintptr_t base, size_t size)
{
	memmove(&rmap_map[i + 1], &rmap_map[i], (rmap_used - i) * sizeof(rmap_map[0]));
	rmap_map[i] = (struct rmap_extent){ base, size };
	rmap_used++;
}

/* First fit: the lowest-addressed extent that holds size bytes. */
static uintptr_t rmalloc(size_t size)
{
	for (unsigned int i = 0; i < rmap_used; i++) {
		struct rmap_extent *e = &rmap_map[i];

		if (e->size >= size) {
			uintptr_t base = e->base;

			rmap_scans += i + 1;
			e->base += size;
			e->size -= size;
			if (!e->size)
				map_remove(i);
			return base;
		}
	}
	rmap_scans += rmap_used;
	return 0;
}

/* Returns the extent to the map, merging with its neighbours. */
static void rmfree(uintptr_t base, size_t size)
{
	unsigned int i = 0;
	struct rmap_extent *prev, *next;

	while (i < rmap_used && rmap_map[i].base <= base)
		i++;
	prev = i ? &rmap_map[i - 1] : NULL;
	next = i < rmap_used ? &rmap_map[i] : NULL;
	if (unlikely((prev && prev->base + prev->size > base) ||
		     (next && base + size > next->base)))
		panic("kma rmap: free of %#lx+%zu overlaps a free extent (double free?)",
		      (unsigned long)base, size);
	if (prev && prev->base + prev->size == base) {
		prev->size += size;
		if (next && base + size == next->base) {
			prev->size += next->size;
			map_remove(i);
		}
	} else if (next && base + size == next->base) {
		next->base = base;
		next->size += size;
	} else if (rmap_used < RMAP_MAPSIZE) {
		map_insert(i, base, size);
	} else {
		if (!rmap_lost)
			printk(KERN_WARNING "kma rmap: map overflow, lost %zu bytes\n", size);
		rmap_lost += size;
	}
}

/* Adds a block of frames to the arena; false if the page allocator or the map is out. */
static bool rmap_grow(size_t size, gfp_t gfp)
{
	unsigned int order = MAX(RMAP_GROW_ORDER, kma_order_for(size));
	struct page *page;

	if (order > MAX_ORDER || rmap_used == RMAP_MAPSIZE)
		return false;
	page = kma_get_pages(&kma_rmap_ops, gfp, order);
	if (!page)
		return false;
	kma_page_tag(page, KMA_D_RMAP, order);
	list_add(&page->lru, &rmap_blocks);
	rmap_nblocks++;
	rmfree((uintptr_t)page_address(page), PAGE_SIZE << order);
	return true;
}

static void *rmap_alloc(size_t size, gfp_t gfp)
{
	uintptr_t p;

	size = ALIGN_UP(size, RMAP_UNIT);
	spin_lock(&rmap_lock);
	p = rmalloc(size);
	if (!p && rmap_grow(size, gfp))
		p = rmalloc(size);
	spin_unlock(&rmap_lock);
	return (void *)p;
}

static void rmap_free(void *ptr, size_t size)
{
	if (unlikely(!IS_ALIGNED((uintptr_t)ptr, RMAP_UNIT)))
		panic("kma rmap: free of misaligned %p", ptr);
	spin_lock(&rmap_lock);
	rmfree((uintptr_t)ptr, ALIGN_UP(size, RMAP_UNIT));
	spin_unlock(&rmap_lock);
}

static size_t rmap_footprint(size_t size)
{
	return ALIGN_UP(size, RMAP_UNIT);
}

/* The extent that holds [base, base+len) whole, or -1. */
static int map_covering(uintptr_t base, size_t len)
{
	for (unsigned int i = 0; i < rmap_used && rmap_map[i].base <= base; i++)
		if (base + len <= rmap_map[i].base + rmap_map[i].size)
			return (int)i;
	return -1;
}

/* Gives back every grown block that is entirely free. */
static unsigned long rmap_shrink(void)
{
	struct page *page, *tmp;
	unsigned long freed = 0;

	spin_lock(&rmap_lock);
	list_for_each_entry_safe(page, tmp, &rmap_blocks, lru) {
		unsigned int order = (unsigned int)kma_page_payload(page);
		uintptr_t base = (uintptr_t)page_address(page);
		size_t len = PAGE_SIZE << order;
		int i = map_covering(base, len);
		struct rmap_extent *e;
		size_t left, right;

		if (i < 0)
			continue;
		e = &rmap_map[i];
		left = base - e->base;
		right = e->base + e->size - (base + len);
		if (left && right) {
			if (rmap_used == RMAP_MAPSIZE)
				continue;   /* cutting the extent in two needs a slot */
			e->size = left;
			map_insert((unsigned int)i + 1, base + len, right);
		} else if (left) {
			e->size = left;
		} else if (right) {
			e->base = base + len;
			e->size = right;
		} else {
			map_remove((unsigned int)i);
		}
		list_del(&page->lru);
		rmap_nblocks--;
		page->private = 0;
		kma_put_pages(&kma_rmap_ops, page, order);
		freed += 1UL << order;
	}
	spin_unlock(&rmap_lock);
	return freed;
}

/*
 * The map is sorted, its extents non-empty, unit-sized and never adjacent
 * (they would have merged); every free byte lies in a grown block; and the
 * bytes of the blocks are exactly the free, the live and the lost ones.
 */
static int rmap_check(void)
{
	unsigned long free = 0, block_bytes = 0, covered = 0;
	struct page *page;
	long held;

	spin_lock(&rmap_lock);
	for (unsigned int i = 0; i < rmap_used; i++) {
		struct rmap_extent *e = &rmap_map[i];

		if (!e->size || !IS_ALIGNED(e->base | e->size, RMAP_UNIT))
			panic("kma rmap: extent %u (%#lx+%zu) empty or misaligned", i,
			      (unsigned long)e->base, e->size);
		if (i && rmap_map[i - 1].base + rmap_map[i - 1].size >= e->base)
			panic("kma rmap: extents %u and %u overlap or touch unmerged", i - 1, i);
		free += e->size;
	}
	list_for_each_entry(page, &rmap_blocks, lru) {
		unsigned int order = (unsigned int)kma_page_payload(page);
		uintptr_t b = (uintptr_t)page_address(page), end = b + (PAGE_SIZE << order);

		if (!kma_page_is(page, KMA_D_RMAP))
			panic("kma rmap: block pfn %#lx lost its tag", page_to_pfn(page));
		block_bytes += PAGE_SIZE << order;
		for (unsigned int i = 0; i < rmap_used; i++) {
			uintptr_t lo = MAX(b, rmap_map[i].base);
			uintptr_t hi = MIN(end, rmap_map[i].base + rmap_map[i].size);

			if (lo < hi)
				covered += hi - lo;
		}
	}
	if (covered != free)
		panic("kma rmap: %lu free bytes, only %lu of them inside grown blocks", free,
		      covered);
	held = __atomic_load_n(&rmap_state.pages_held, __ATOMIC_RELAXED);
	if (block_bytes != (unsigned long)held * PAGE_SIZE)
		panic("kma rmap: blocks hold %lu bytes, %ld frames counted", block_bytes, held);
	if (free + rmap_lost + (unsigned long)kma_live_footprint(&kma_rmap_ops) != block_bytes)
		panic("kma rmap: free %lu + lost %lu + live %ld != arena %lu bytes", free,
		      rmap_lost, kma_live_footprint(&kma_rmap_ops), block_bytes);
	spin_unlock(&rmap_lock);
	return 0;
}

static void rmap_stats(struct kma_stats *st)
{
	spin_lock(&rmap_lock);
	for (unsigned int i = 0; i < rmap_used; i++)
		st->free_bytes += rmap_map[i].size;
	st->extra_name = "extents";
	st->extra = rmap_used;
	spin_unlock(&rmap_lock);
}

static unsigned long rmap_retained(unsigned long peak)
{
	return 0;
}

const struct kma_ops kma_rmap_ops = {
	.name = "rmap",
	.state = &rmap_state,
	.design = "resource map, first fit (SVR4 rmalloc; Bach 9.1, Vahalia 12.3)",
	.flags = KMA_RETURNS_FRAMES,
	.min_align = RMAP_UNIT,
	.max_size = PAGE_SIZE << MAX_ORDER,
	.init = rmap_init,
	.alloc = rmap_alloc,
	.free = rmap_free,
	.footprint = rmap_footprint,
	.shrink = rmap_shrink,
	.check = rmap_check,
	.stats = rmap_stats,
	.retained_bound = rmap_retained,
};
