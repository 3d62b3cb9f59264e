/*
 * The McKusick-Karels allocator of 4.3BSD (McKusick & Karels, "Design of a
 * General Purpose Memory Allocator for the 4.3BSD UNIX Kernel", USENIX
 * Summer 1988; "The Design and Implementation of the 4.4BSD Operating
 * System", sec. 5.3).
 *
 * Power-of-two free lists like 4.2BSD's, but without a header in the
 * blocks: every page is cut into blocks of one size only, and the size is
 * recorded once per page, in the kmemsizes array indexed by page number.
 * Here that array is a field of struct page (page->private, tagged), so
 * free finds the list from the address alone and a request of exactly a
 * power of two fits its block with no waste — and the block is aligned to
 * its size.
 *
 * Requests of more than half a page are not worth a list: they are rounded
 * up to whole pages and taken from the page allocator directly, and given
 * back to it on free (kmemsizes of the first page records the order). The
 * 4.3BSD kmem_map could give any number of pages; kmm's page allocator
 * gives buddy blocks, so a large request is a power-of-two number of pages.
 *
 * As in 4.3BSD, a page cut into small blocks stays on its list forever:
 * nothing counts how many of a page's blocks are free. The frames kept are
 * bounded by the peak the lists ever needed; large blocks all come back.
 *
 * The paper's allocation fast path is a macro that pops the list head
 * inline; mk_alloc keeps the same shape (bucket, pop) before the slow path.
 *
 * Locking: mk_lock protects the lists (4.3BSD raised the priority level),
 * before the page allocator's locks.
 */
#include <kmm/kma.h>
#include <kmm/lock.h>

#include "kma_internal.h"

#define MK_MINBUCKET 4                        /* 16 bytes */
#define MK_MAXBUCKET (PAGE_SHIFT - 1)           /* half a page */
#define MK_LARGE 0x100UL                       /* kmemsizes: a large block, | order */

struct mk_free {
	struct mk_free *next;
};

static struct mk_free *mk_buckets[MK_MAXBUCKET + 1];
static unsigned long mk_nfree[MK_MAXBUCKET + 1];
static unsigned long mk_small_pages;
static unsigned long mk_large_pages;
static spinlock_t mk_lock;
static struct kma_state mk_state;

static int mk_init(void)
{
	for (unsigned int b = 0; b <= MK_MAXBUCKET; b++) {
		mk_buckets[b] = NULL;
		mk_nfree[b] = 0;
	}
	mk_small_pages = 0;
	mk_large_pages = 0;
	spin_lock_init(&mk_lock);
	return 0;
}

static inline unsigned int mk_bucket(size_t size)
{
	return MAX(kma_log2_up(size), (unsigned int)MK_MINBUCKET);
}

static bool mk_refill(unsigned int b, gfp_t gfp)
{
	struct page *page = kma_get_pages(&kma_mk_ops, gfp, 0);
	char *base;

	if (!page)
		return false;
	kma_page_tag(page, KMA_D_MK, b);    /* kmemsizes[page] = bucket */
	mk_small_pages++;
	base = page_address(page);
	for (size_t off = PAGE_SIZE; off;) {
		struct mk_free *f;

		off -= 1UL << b;
		f = (struct mk_free *)(base + off);
		f->next = mk_buckets[b];
		mk_buckets[b] = f;
		mk_nfree[b]++;
	}
	return true;
}

static void *mk_alloc_large(size_t size, gfp_t gfp)
{
	unsigned int order = kma_order_for(size);
	struct page *page;

	if (order > MAX_ORDER)
		return NULL;
	page = kma_get_pages(&kma_mk_ops, gfp, order);
	if (!page)
		return NULL;
	kma_page_tag(page, KMA_D_MK, MK_LARGE | order);
	__atomic_fetch_add(&mk_large_pages, 1UL << order, __ATOMIC_RELAXED);
	return page_address(page);
}

static void *mk_alloc(size_t size, gfp_t gfp)
{
	unsigned int b;
	struct mk_free *f;

	if (unlikely(size > (1UL << MK_MAXBUCKET)))
		return mk_alloc_large(size, gfp);
	b = mk_bucket(size);
	spin_lock(&mk_lock);
	f = mk_buckets[b];
	if (unlikely(!f)) {
		if (!mk_refill(b, gfp)) {
			spin_unlock(&mk_lock);
			return NULL;
		}
		f = mk_buckets[b];
	}
	mk_buckets[b] = f->next;
	mk_nfree[b]--;
	spin_unlock(&mk_lock);
	return f;
}

static void mk_free(void *ptr, size_t size)
{
	struct page *page = virt_to_page(ptr);
	unsigned long ks = kma_page_payload(page);
	struct mk_free *f = ptr;

	if (unlikely(!kma_page_is(page, KMA_D_MK)))
		panic("kma mk: free of %p: its page is not the allocator's", ptr);
	if (ks & MK_LARGE) {
		unsigned int order = (unsigned int)(ks & ~MK_LARGE);

		if (unlikely(!IS_ALIGNED((uintptr_t)ptr, PAGE_SIZE) ||
			     order != kma_order_for(size) || size <= (1UL << MK_MAXBUCKET)))
			panic("kma mk: free of large block %p order %u with size %zu", ptr,
			      order, size);
		page->private = 0;
		__atomic_fetch_sub(&mk_large_pages, 1UL << order, __ATOMIC_RELAXED);
		kma_put_pages(&kma_mk_ops, page, order);
		return;
	}
	if (unlikely(ks != mk_bucket(size) || !IS_ALIGNED((uintptr_t)ptr, 1UL << ks)))
		panic("kma mk: free of %p with size %zu, but kmemsizes says %lu-byte blocks",
		      ptr, size, 1UL << ks);
	spin_lock(&mk_lock);
	f->next = mk_buckets[ks];
	mk_buckets[ks] = f;
	mk_nfree[ks]++;
	spin_unlock(&mk_lock);
}

static size_t mk_usable_size(const void *ptr)
{
	struct page *page = virt_to_page(ptr);
	unsigned long ks = kma_page_payload(page);

	if (!kma_page_is(page, KMA_D_MK))
		panic("kma mk: usable_size of %p: not the allocator's page", ptr);
	return ks & MK_LARGE ? PAGE_SIZE << (ks & ~MK_LARGE) : 1UL << ks;
}

static size_t mk_footprint(size_t size)
{
	if (size > (1UL << MK_MAXBUCKET))
		return PAGE_SIZE << kma_order_for(size);
	return 1UL << mk_bucket(size);
}

static int mk_check(void)
{
	unsigned long free = 0;
	long held;

	spin_lock(&mk_lock);
	for (unsigned int b = MK_MINBUCKET; b <= MK_MAXBUCKET; b++) {
		unsigned long n = 0;

		for (struct mk_free *f = mk_buckets[b]; f; f = f->next) {
			struct page *page = virt_to_page(f);

			if (!kma_page_is(page, KMA_D_MK) || kma_page_payload(page) != b ||
			    !IS_ALIGNED((uintptr_t)f, 1UL << b))
				panic("kma mk: bucket %u holds %p in a page whose kmemsizes is %#lx",
				      b, (void *)f, page->private);
			if (++n > mk_nfree[b])
				break;
		}
		if (n != mk_nfree[b])
			panic("kma mk: bucket %u has %lu blocks, counter says %lu", b, n,
			      mk_nfree[b]);
		free += n << b;
	}
	held = __atomic_load_n(&mk_state.pages_held, __ATOMIC_RELAXED);
	if ((unsigned long)held != mk_small_pages + mk_large_pages)
		panic("kma mk: %ld frames held, %lu small + %lu large pages", held,
		      mk_small_pages, mk_large_pages);
	if (free + (unsigned long)kma_live_footprint(&kma_mk_ops) !=
	    (unsigned long)held * PAGE_SIZE)
		panic("kma mk: free %lu + live %ld bytes != %ld frames held", free,
		      kma_live_footprint(&kma_mk_ops), held);
	spin_unlock(&mk_lock);
	return 0;
}

static void mk_stats(struct kma_stats *st)
{
	spin_lock(&mk_lock);
	for (unsigned int b = MK_MINBUCKET; b <= MK_MAXBUCKET; b++)
		st->free_bytes += mk_nfree[b] << b;
	st->extra_name = "small_pages";
	st->extra = mk_small_pages;
	spin_unlock(&mk_lock);
}

/* Pages cut into small blocks are never returned: up to the peak. */
static unsigned long mk_retained(unsigned long peak)
{
	return peak;
}

const struct kma_ops kma_mk_ops = {
	.name = "mk",
	.state = &mk_state,
	.design = "McKusick-Karels, sizes per page (4.3BSD; USENIX 1988)",
	.flags = KMA_NATURAL_ALIGN,
	.min_align = 1UL << MK_MINBUCKET,
	.natural_align_max = PAGE_SIZE << MAX_ORDER,
	.max_size = PAGE_SIZE << MAX_ORDER,
	.init = mk_init,
	.alloc = mk_alloc,
	.free = mk_free,
	.usable_size = mk_usable_size,
	.footprint = mk_footprint,
	.check = mk_check,
	.stats = mk_stats,
	.retained_bound = mk_retained,
};
