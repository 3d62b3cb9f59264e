/*
 * kmalloc: general-purpose kernel memory on the slab allocator. Requests up
 * to 8 KiB are rounded up to one of thirteen size classes — the powers of
 * two from 8 bytes, plus 96 and 192 so that the common 65..96 and
 * 129..192-byte requests do not waste a third — each an ordinary object
 * cache "kmalloc-N" with its magazines. Larger requests are compound page
 * blocks straight from the buddy allocator.
 *
 * kfree and ksize need only the pointer: struct page says what it is. A
 * slab page (PG_slab) names its cache; the first page of a large kmalloc
 * block is a compound head (PG_head, compound_order) — both set by the
 * owners of those pages, so no size header precedes any object. Anything
 * else (a tail page, a page the allocator never gave kmalloc) is a bug in
 * the caller, and panics.
 *
 * With another kernel memory allocator selected for the machine (--kma,
 * include/kmm/kma.h), kmalloc goes to it: one predictable branch on
 * kma_dispatch here, and none in kfree, whose slab path tests PG_slab
 * first as before — a block of another design is in neither a slab page
 * nor a compound block, and only then is the dispatch asked.
 */
#include <kmm/page_alloc.h>
#include <kmm/printk.h>
#include <kmm/slab.h>
#include <kmm/string.h>

#include "kma/kma_internal.h"

static const size_t kmalloc_sizes[KMALLOC_NR_CACHES] = {
	8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192,
};
static const char *const kmalloc_names[KMALLOC_NR_CACHES] = {
	"kmalloc-8", "kmalloc-16", "kmalloc-32", "kmalloc-64", "kmalloc-96",
	"kmalloc-128", "kmalloc-192", "kmalloc-256", "kmalloc-512", "kmalloc-1k",
	"kmalloc-2k", "kmalloc-4k", "kmalloc-8k",
};

static struct kmem_cache *kmalloc_caches[KMALLOC_NR_CACHES];
static unsigned long large_frames;     /* frames of large blocks (atomic) */

/*
 * The class of sizes up to 192, by (size - 1) / 8: one table load instead
 * of a search for the common small sizes (as Linux's size_index).
 */
static const uint8_t size_index[24] = {
	0,              /* 1..8 */
	1,              /* 9..16 */
	2, 2,           /* 17..32 */
	3, 3, 3, 3,     /* 33..64 */
	4, 4, 4, 4,     /* 65..96 */
	5, 5, 5, 5,     /* 97..128 */
	6, 6, 6, 6, 6, 6, 6, 6, /* 129..192 */
};

static inline unsigned int kmalloc_index(size_t size)
{
	if (size <= 192)
		return size_index[(size - 1) >> 3];
	/* 193..256 -> 7, 257..512 -> 8, ... 4097..8192 -> 12 */
	return (unsigned int)(64 - __builtin_clzl(size - 1)) - 1;
}

size_t kmalloc_class_size(unsigned int i)
{
	return i < KMALLOC_NR_CACHES ? kmalloc_sizes[i] : 0;
}

struct kmem_cache *kmalloc_cache(size_t size)
{
	if (!size || size > KMALLOC_MAX_CACHE_SIZE)
		return NULL;
	return kmalloc_caches[kmalloc_index(size)];
}

int kmalloc_init(void)
{
	for (unsigned int i = 0; i < KMALLOC_NR_CACHES; i++)
		kmalloc_caches[i] = NULL;
	__atomic_store_n(&large_frames, 0UL, __ATOMIC_RELAXED);
	/* Ascending: the large classes keep their slab descriptors in small ones. */
	for (unsigned int i = 0; i < KMALLOC_NR_CACHES; i++) {
		size_t size = kmalloc_sizes[i];
		/* Powers of two are naturally aligned (up to a page); 96 and 192 to 32. */
		size_t align = (size & (size - 1)) ? 32 : MIN(size, PAGE_SIZE);

		kmalloc_caches[i] = kmem_cache_create_boot(kmalloc_names[i], size, align, 0);
		if (!kmalloc_caches[i])
			return -1;
	}
	return 0;
}

static unsigned int size_order(size_t size)
{
	unsigned int order = 0;

	while ((PAGE_SIZE << order) < size)
		order++;
	return order;
}

/* Above the largest class: a compound block, so kfree can find its order. */
static void *kmalloc_large(size_t size, gfp_t gfp)
{
	struct page *page;

	if (size > KMALLOC_MAX_SIZE)
		return NULL;
	page = alloc_pages(gfp | __GFP_COMP, size_order(size));
	if (!page)
		return NULL;
	__atomic_fetch_add(&large_frames, 1UL << size_order(size), __ATOMIC_RELAXED);
	kma_count_frames(&kma_slab_ops, 1L << size_order(size));
	return page_address(page);
}

static void kfree_large(struct page *page)
{
	unsigned int order = page->compound_order;

	__atomic_fetch_sub(&large_frames, 1UL << order, __ATOMIC_RELAXED);
	kma_count_frames(&kma_slab_ops, -(1L << order));
	__free_pages(page, order);
}

unsigned long kmalloc_large_frames(void)
{
	return __atomic_load_n(&large_frames, __ATOMIC_RELAXED);
}

/* kmalloc on the slab allocator, whatever the machine's KMA. */
static inline __attribute__((always_inline)) void *__kmalloc(size_t size, gfp_t gfp)
{
	if (likely(size <= KMALLOC_MAX_CACHE_SIZE))
		return slab_cache_alloc(kmalloc_caches[kmalloc_index(size)], gfp);
	return kmalloc_large(size, gfp);
}

void *kmalloc(size_t size, gfp_t gfp)
{
	if (unlikely(!size))
		return ZERO_SIZE_PTR;
	if (unlikely(kma_dispatching()))
		return kma_kmalloc(size, gfp);
	return __kmalloc(size, gfp);
}

void *slab_kmalloc(size_t size, gfp_t gfp)
{
	if (unlikely(!size))
		return ZERO_SIZE_PTR;
	return __kmalloc(size, gfp);
}

void *kzalloc(size_t size, gfp_t gfp)
{
	return kmalloc(size, gfp | __GFP_ZERO);
}

void *kcalloc(size_t n, size_t size, gfp_t gfp)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes))
		return NULL;
	return kzalloc(bytes, gfp);
}

/* The page of an address of the machine's memory; who names the caller. */
static struct page *kmalloc_page(const void *p, const char *who)
{
	uintptr_t a = (uintptr_t)p;

	if (a < arch_direct_map_base ||
	    !pfn_valid(PHYS_PFN((phys_addr_t)(a - arch_direct_map_base))))
		panic("%s: %p is not an address of the machine's memory", who, p);
	return virt_to_page(p);
}

/* The first page of a large kmalloc block (a compound head, p its start). */
static inline bool large_block(const struct page *page, const void *p)
{
	return page_flag(page, PG_head) && ((uintptr_t)p & ~PAGE_MASK) == 0;
}

/*
 * With dispatch, a page that is neither slab nor compound head is the
 * selected design's, which checks the pointer itself; without, it is the
 * caller's bug.
 */
void kfree(const void *p)
{
	struct page *page;

	if (unlikely(ZERO_OR_NULL_PTR(p)))
		return;
	page = kmalloc_page(p, "kfree");
	if (likely(page_flag(page, PG_slab))) {
		if (unlikely(kma_dispatching()))
			kma_trace('f', p, 0);
		slab_cache_free(page->slab_cache, (void *)p);
	} else if (large_block(page, p)) {
		if (kma_dispatching())
			kma_trace('f', p, 0);
		kfree_large(page);
	} else if (kma_dispatching()) {
		kma_kfree(p);
	} else {
		panic("kfree: %p was not returned by kmalloc", p);
	}
}

void slab_kfree(const void *p)
{
	struct page *page;

	if (unlikely(ZERO_OR_NULL_PTR(p)))
		return;
	page = kmalloc_page(p, "kfree");
	if (likely(page_flag(page, PG_slab)))
		slab_cache_free(page->slab_cache, (void *)p);
	else if (large_block(page, p))
		kfree_large(page);
	else
		panic("kfree: %p was not returned by kmalloc", p);
}

/* dispatch: whether a block of the selected design may be asked about. */
static size_t ksize_of(const void *p, bool dispatch)
{
	struct page *page;

	if (ZERO_OR_NULL_PTR(p))
		return 0;
	page = kmalloc_page(p, "ksize");
	if (page_flag(page, PG_slab))
		return kmem_cache_size(page->slab_cache);
	if (large_block(page, p))
		return PAGE_SIZE << page->compound_order;
	if (dispatch && kma_dispatching())
		return kma_ksize(p);
	panic("ksize: %p was not returned by kmalloc", p);
}

size_t ksize(const void *p)
{
	return ksize_of(p, true);
}

size_t slab_ksize(const void *p)
{
	return ksize_of(p, false);
}

void *krealloc(const void *p, size_t new_size, gfp_t gfp)
{
	size_t old;
	void *n;

	if (unlikely(!new_size)) {
		kfree(p);
		return ZERO_SIZE_PTR;
	}
	if (ZERO_OR_NULL_PTR(p))
		return kmalloc(new_size, gfp);
	old = ksize(p);
	if (new_size <= old) {
		if (gfp & __GFP_ZERO)
			memset((char *)p + new_size, 0, old - new_size);
		return (void *)p;
	}
	n = kmalloc(new_size, gfp & ~__GFP_ZERO);
	if (!n)
		return NULL;
	memcpy(n, p, old);
	if (gfp & __GFP_ZERO)
		memset((char *)n + old, 0, ksize(n) - old);
	kfree(p);
	return n;
}
