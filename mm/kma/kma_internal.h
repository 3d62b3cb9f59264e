/*
 * What the designs of mm/kma/ share and nobody else needs: how a design
 * marks the frames it owns (page->private of a frame it took from
 * alloc_pages is the owner's), and size arithmetic.
 *
 * A tag is KMA_TAG_MAGIC and the design's number in the top bits of
 * page->private, and a design's payload below (a bucket, an order, a count).
 * Only the first page of a block is tagged. Tags are read and written with
 * relaxed atomics: a design may update its payload under its lock (dynix's
 * free count) while another CPU reads the unchanging part without it.
 */
#ifndef KMM_MM_KMA_INTERNAL_H
#define KMM_MM_KMA_INTERNAL_H

#include <kmm/kma.h>
#include <kmm/mmzone.h>
#include <kmm/page_alloc.h>

enum kma_design {
	KMA_D_BUDDY = 1,
	KMA_D_RMAP,
	KMA_D_P2,
	KMA_D_MK,
	KMA_D_ZONE,
	KMA_D_DYNIX,
};

#define KMA_TAG_SHIFT 40
#define KMA_TAG_MAGIC 0xa500UL
#define KMA_PAYLOAD_MASK ((1UL << KMA_TAG_SHIFT) - 1)

static inline void kma_page_tag(struct page *page, enum kma_design d,
				unsigned long payload)
{
	__atomic_store_n(&page->private,
			 ((KMA_TAG_MAGIC | (unsigned long)d) << KMA_TAG_SHIFT) |
				 (payload & KMA_PAYLOAD_MASK),
			 __ATOMIC_RELAXED);
}

static inline bool kma_page_is(const struct page *page, enum kma_design d)
{
	return (__atomic_load_n(&page->private, __ATOMIC_RELAXED) >> KMA_TAG_SHIFT) ==
	       (KMA_TAG_MAGIC | (unsigned long)d);
}

static inline unsigned long kma_page_payload(const struct page *page)
{
	return __atomic_load_n(&page->private, __ATOMIC_RELAXED) & KMA_PAYLOAD_MASK;
}

/* The first page of the naturally aligned block of 2^order frames holding addr. */
static inline struct page *kma_block_head(const void *addr, unsigned int order)
{
	unsigned long pfn = PHYS_PFN(virt_to_phys(addr));

	return pfn_to_page(pfn & ~((1UL << order) - 1));
}

/* ceil(log2(n)) for n >= 1. */
static inline unsigned int kma_log2_up(size_t n)
{
	return n <= 1 ? 0 : (unsigned int)(64 - __builtin_clzl(n - 1));
}

/* The smallest order whose block holds bytes (may exceed MAX_ORDER). */
static inline unsigned int kma_order_for(size_t bytes)
{
	return bytes <= PAGE_SIZE ? 0 : kma_log2_up(bytes) - PAGE_SHIFT;
}

/* gfp as a design passes it to the page allocator: zeroing is the registry's. */
/*
 * The designs call the page allocator with their own locks held, and
 * reclaim frees kernel objects (anon_vmas, radix-tree nodes) through the
 * machine's allocator: their frames never come from direct reclaim, which
 * could re-enter the design and take the lock it holds. kswapd is woken.
 */
static inline gfp_t kma_page_gfp(gfp_t gfp)
{
	return gfp & ~(__GFP_ZERO | __GFP_COMP | __GFP_DIRECT_RECLAIM);
}

/* Live footprint of a design, from the shared counters (quiescent checkers). */
long kma_live_footprint(const struct kma_ops *k);

/* Counts delta frames taken (> 0) or returned (< 0) by k: what
   kma_get_pages/kma_put_pages do, for an allocator with its own calls to
   the page allocator (the slab allocator). */
void kma_count_frames(const struct kma_ops *k, long delta);

/*
 * The slab allocator without the machine-wide dispatch (mm/slab.c,
 * mm/kmalloc.c): what the slab KMA (mm/kma/slab.c) and the dispatch call,
 * so that neither loops back into the dispatch.
 */
struct kmem_cache;
void *slab_cache_alloc(struct kmem_cache *cp, gfp_t gfp);
void slab_cache_free(struct kmem_cache *cp, void *obj);
void *slab_kmalloc(size_t size, gfp_t gfp);
void slab_kfree(const void *p);
size_t slab_ksize(const void *p);
/* Frames of large kmalloc blocks (compound pages) held now. */
unsigned long kmalloc_large_frames(void);
/* Empties every cache's magazines and gives back every free slab (the
   slab shrinker's work); returns the frames given back. */
unsigned long kmem_cache_reap_all(void);

#endif
