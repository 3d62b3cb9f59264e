/*
 * Mach's zone allocator (Zayas, "Attacking the Process Migration
 * Bottleneck", SOSP 1987, and the Mach 3.0 kernel's kern/zalloc.c and
 * kern/kalloc.c; Vahalia, "UNIX Internals", sec. 12.6).
 *
 * A zone is a pool of objects of one size with its own free list, linked
 * through the free objects themselves. zalloc pops the list; zfree pushes;
 * an empty zone grows by one chunk of frames (a page, or a few when a page
 * would leave too much over), cut entirely into objects. Mach gave every
 * kind of kernel object its own zone; its general-purpose kalloc sat on
 * zones of fixed sizes. Here the general interface is kalloc-like: one zone
 * per object size rounded to 16 bytes up to 1 KiB (so fixed-size kernel
 * objects each get a zone that fits them), zones of 2, 4 and 8 KiB above,
 * and larger requests taken from the page allocator directly and given back
 * on free, as kalloc did with kmem_alloc.
 *
 * Zones never give memory back on free. The garbage collector (zone_gc,
 * run here by shrink) does, in Mach's two passes per zone: count the free
 * objects of each chunk (Mach's zone_page_table collect_count; here the
 * chunk's first struct page), then rebuild the free list without the
 * objects of chunks whose objects are all free, and return those chunks.
 *
 * Chunks are buddy blocks, so an object's chunk is found from its address
 * by aligning the frame number down, and objects never straddle two chunks:
 * an object whose size is a power of two is aligned to that size.
 *
 * Locking: each zone's lock protects its list and counts, before the page
 * allocator's locks. The zone table is fixed at init.
 */
#include <kmm/kma.h>
#include <kmm/lock.h>
#include <kmm/string.h>

#include "kma_internal.h"

#define ZONE_STEP 16UL
#define ZONE_STEP_MAX 1024UL                   /* 16-byte steps up to here */
#define ZONE_NR_STEP (ZONE_STEP_MAX / ZONE_STEP)
#define ZONE_MAX_ELEM 8192UL                   /* then 2, 4, 8 KiB zones */
#define ZONE_NR (ZONE_NR_STEP + 3)
#define ZONE_MAX_CHUNK_ORDER 3
#define ZONE_LARGE 0x100UL                     /* tag payload: a large block | order */

struct mach_zone {
	spinlock_t lock;
	size_t elem_size;
	unsigned int chunk_order;
	unsigned int per_chunk;        /* objects per chunk */
	void *free_elements;           /* linked through each object's first word */
	unsigned long nfree;
	unsigned long count;           /* objects allocated */
	unsigned long nchunks;
	unsigned long gc_chunks;       /* chunks given back by the collector */
} __attribute__((aligned(64)));

static struct mach_zone zones[ZONE_NR];
static unsigned long zone_large_pages;
static struct kma_state zone_state;

/* Smallest chunk with at most 1/16 left over, else the one that wastes least. */
static unsigned int zone_chunk_order(size_t elem)
{
	unsigned int best = kma_order_for(elem);
	size_t best_waste = SIZE_MAX;

	for (unsigned int o = kma_order_for(elem); o <= ZONE_MAX_CHUNK_ORDER; o++) {
		size_t chunk = PAGE_SIZE << o, waste = chunk % elem;

		if (waste * 16 <= chunk)
			return o;
		if (waste < best_waste) {
			best_waste = waste;
			best = o;
		}
	}
	return best;
}

/* zinit for every zone of the table. */
static int zone_init(void)
{
	for (unsigned int i = 0; i < ZONE_NR; i++) {
		struct mach_zone *z = &zones[i];
		size_t size = i < ZONE_NR_STEP ? (i + 1) * ZONE_STEP
					       : ZONE_STEP_MAX << (i - ZONE_NR_STEP + 1);

		*z = (struct mach_zone){ .elem_size = size };
		spin_lock_init(&z->lock);
		z->chunk_order = zone_chunk_order(size);
		z->per_chunk = (unsigned int)((PAGE_SIZE << z->chunk_order) / size);
	}
	zone_large_pages = 0;
	return 0;
}

static inline unsigned int zone_index(size_t size)
{
	if (size <= ZONE_STEP_MAX)
		return (unsigned int)((size + ZONE_STEP - 1) / ZONE_STEP - 1);
	return ZONE_NR_STEP + kma_log2_up(size) - 11;
}

/* Grows z by one chunk, cut into objects. */
static bool zone_grow(struct mach_zone *z, unsigned int idx, gfp_t gfp)
{
	struct page *page = kma_get_pages(&kma_zone_ops, gfp, z->chunk_order);
	char *base;

	if (!page)
		return false;
	kma_page_tag(page, KMA_D_ZONE, idx);
	page->index = 0;     /* the collector's count of free objects */
	base = page_address(page);
	for (unsigned int i = z->per_chunk; i--;) {
		void **obj = (void **)(base + i * z->elem_size);

		*obj = z->free_elements;
		z->free_elements = obj;
	}
	z->nfree += z->per_chunk;
	z->nchunks++;
	return true;
}

static void *zone_alloc_large(size_t size, gfp_t gfp)
{
	unsigned int order = kma_order_for(size);
	struct page *page;

	if (order > MAX_ORDER)
		return NULL;
	page = kma_get_pages(&kma_zone_ops, gfp, order);
	if (!page)
		return NULL;
	kma_page_tag(page, KMA_D_ZONE, ZONE_LARGE | order);
	__atomic_fetch_add(&zone_large_pages, 1UL << order, __ATOMIC_RELAXED);
	return page_address(page);
}

static void *zone_alloc(size_t size, gfp_t gfp)
{
	unsigned int idx;
	struct mach_zone *z;
	void **obj;

	if (unlikely(size > ZONE_MAX_ELEM))
		return zone_alloc_large(size, gfp);
	idx = zone_index(size);
	z = &zones[idx];
	spin_lock(&z->lock);
	if (unlikely(!z->free_elements) && !zone_grow(z, idx, gfp)) {
		spin_unlock(&z->lock);
		return NULL;
	}
	obj = z->free_elements;
	z->free_elements = *obj;
	z->nfree--;
	z->count++;
	spin_unlock(&z->lock);
	return obj;
}

static void zone_free(void *ptr, size_t size)
{
	unsigned int idx;
	struct mach_zone *z;
	struct page *head;
	void **obj = ptr;

	if (unlikely(size > ZONE_MAX_ELEM)) {
		unsigned int order = kma_order_for(size);

		head = virt_to_page(ptr);
		if (unlikely(!kma_page_is(head, KMA_D_ZONE) ||
			     kma_page_payload(head) != (ZONE_LARGE | order) ||
			     !IS_ALIGNED((uintptr_t)ptr, PAGE_SIZE)))
			panic("kma zone: free of %p size %zu: not a large block of ours", ptr,
			      size);
		head->private = 0;
		__atomic_fetch_sub(&zone_large_pages, 1UL << order, __ATOMIC_RELAXED);
		kma_put_pages(&kma_zone_ops, head, order);
		return;
	}
	idx = zone_index(size);
	z = &zones[idx];
	head = kma_block_head(ptr, z->chunk_order);
	if (unlikely(!kma_page_is(head, KMA_D_ZONE) || kma_page_payload(head) != idx ||
		     ((uintptr_t)ptr - (uintptr_t)page_address(head)) % z->elem_size))
		panic("kma zone: free of %p size %zu: not an object of zone %zu", ptr, size,
		      z->elem_size);
	spin_lock(&z->lock);
	*obj = z->free_elements;
	z->free_elements = obj;
	z->nfree++;
	z->count--;
	spin_unlock(&z->lock);
}

static size_t zone_usable_size(const void *ptr)
{
	struct page *page = virt_to_page(ptr);
	unsigned long pl;

	/* A large block's first page, or any page of a chunk (tag on its head). */
	if (kma_page_is(page, KMA_D_ZONE) && (kma_page_payload(page) & ZONE_LARGE))
		return PAGE_SIZE << (kma_page_payload(page) & ~ZONE_LARGE);
	for (unsigned int o = 0; o <= ZONE_MAX_CHUNK_ORDER; o++) {
		page = kma_block_head(ptr, o);
		pl = kma_page_payload(page);
		if (kma_page_is(page, KMA_D_ZONE) && pl < ZONE_NR &&
		    zones[pl].chunk_order == o)
			return zones[pl].elem_size;
	}
	panic("kma zone: usable_size of %p: not an object of a zone", ptr);
}

static size_t zone_footprint(size_t size)
{
	if (size > ZONE_MAX_ELEM)
		return PAGE_SIZE << kma_order_for(size);
	return zones[zone_index(size)].elem_size;
}

/* zone_gc for one zone: returns the frames given back. */
static unsigned long zone_collect(struct mach_zone *z)
{
	struct list_head empty;
	struct page *head, *tmp;
	void *keep = NULL;
	unsigned long freed = 0;

	INIT_LIST_HEAD(&empty);
	spin_lock(&z->lock);
	/* Pass 1: count each chunk's free objects. */
	for (void **obj = z->free_elements; obj; obj = *obj)
		kma_block_head(obj, z->chunk_order)->index++;
	/* Pass 2: keep the objects of chunks still in use; set the others aside. */
	for (void **obj = z->free_elements, **next; obj; obj = next) {
		next = *obj;
		head = kma_block_head(obj, z->chunk_order);
		if (head->index == z->per_chunk) {
			head->index = z->per_chunk + 1;    /* listed once */
			list_add(&head->lru, &empty);
		}
		if (head->index > z->per_chunk) {
			z->nfree--;
			continue;
		}
		*obj = keep;
		keep = obj;
	}
	z->free_elements = keep;
	for (void **obj = keep; obj; obj = *obj)
		kma_block_head(obj, z->chunk_order)->index = 0;
	list_for_each_entry_safe(head, tmp, &empty, lru) {
		list_del(&head->lru);
		head->index = 0;
		head->private = 0;
		z->nchunks--;
		z->gc_chunks++;
		kma_put_pages(&kma_zone_ops, head, z->chunk_order);
		freed += 1UL << z->chunk_order;
	}
	spin_unlock(&z->lock);
	return freed;
}

static unsigned long zone_gc(void)
{
	unsigned long freed = 0;

	for (unsigned int i = 0; i < ZONE_NR; i++)
		freed += zone_collect(&zones[i]);
	return freed;
}

/*
 * Every free object lies in a chunk of its zone at a multiple of the object
 * size; free + allocated objects fill the zone's chunks exactly; and the
 * frames held are the zones' chunks plus the large blocks.
 */
static int zone_check(void)
{
	unsigned long pages = 0, fp = 0;

	for (unsigned int i = 0; i < ZONE_NR; i++) {
		struct mach_zone *z = &zones[i];
		unsigned long n = 0;

		spin_lock(&z->lock);
		for (void **obj = z->free_elements; obj; obj = *obj) {
			struct page *head = kma_block_head(obj, z->chunk_order);
			uintptr_t off = (uintptr_t)obj - (uintptr_t)page_address(head);

			if (!kma_page_is(head, KMA_D_ZONE) || kma_page_payload(head) != i ||
			    off % z->elem_size || off / z->elem_size >= z->per_chunk ||
			    head->index)
				panic("kma zone %zu: free list holds %p (chunk tag %#lx)",
				      z->elem_size, (void *)obj, head->private);
			if (++n > z->nfree)
				break;
		}
		if (n != z->nfree || z->nfree + z->count != z->nchunks * z->per_chunk)
			panic("kma zone %zu: %lu listed, %lu free + %lu allocated, %lu chunks of %u",
			      z->elem_size, n, z->nfree, z->count, z->nchunks, z->per_chunk);
		pages += z->nchunks << z->chunk_order;
		fp += z->count * z->elem_size;
		spin_unlock(&z->lock);
	}
	pages += __atomic_load_n(&zone_large_pages, __ATOMIC_RELAXED);
	fp += __atomic_load_n(&zone_large_pages, __ATOMIC_RELAXED) * PAGE_SIZE;
	if (pages != (unsigned long)__atomic_load_n(&zone_state.pages_held, __ATOMIC_RELAXED))
		panic("kma zone: chunks and large blocks hold %lu frames, %ld counted", pages,
		      zone_state.pages_held);
	if ((long)fp != kma_live_footprint(&kma_zone_ops))
		panic("kma zone: allocated objects cover %lu bytes, live footprint %ld", fp,
		      kma_live_footprint(&kma_zone_ops));
	return 0;
}

static void zone_stats(struct kma_stats *st)
{
	unsigned long used = 0;

	for (unsigned int i = 0; i < ZONE_NR; i++) {
		struct mach_zone *z = &zones[i];

		if (!z->nchunks)
			continue;    /* also before kma_boot: no sizes set yet */
		spin_lock(&z->lock);
		st->free_bytes += z->nfree * z->elem_size +
				  z->nchunks * ((PAGE_SIZE << z->chunk_order) % z->elem_size);
		used++;
		spin_unlock(&z->lock);
	}
	st->extra_name = "zones";
	st->extra = used;
}

static unsigned long zone_retained(unsigned long peak)
{
	return 0;
}

const struct kma_ops kma_zone_ops = {
	.name = "zone",
	.state = &zone_state,
	.design = "Mach zones per object size, zone_gc (Mach 3.0; Vahalia 12.6)",
	.flags = KMA_RETURNS_FRAMES | KMA_NATURAL_ALIGN,
	.min_align = ZONE_STEP,
	.natural_align_max = PAGE_SIZE << MAX_ORDER,
	.max_size = PAGE_SIZE << MAX_ORDER,
	.init = zone_init,
	.alloc = zone_alloc,
	.free = zone_free,
	.usable_size = zone_usable_size,
	.footprint = zone_footprint,
	.shrink = zone_gc,
	.check = zone_check,
	.stats = zone_stats,
	.retained_bound = zone_retained,
};
