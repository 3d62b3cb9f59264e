/*
 * Power-of-two free lists, the allocator of 4.2BSD (Kingsley's malloc, used
 * in the 4.2BSD kernel and C library; Vahalia, "UNIX Internals", sec. 12.4;
 * McKusick et al., "The Design and Implementation of the 4.4BSD Operating
 * System", sec. 5.3 describes what it was replaced with and why).
 *
 * One free list per power of two. Every block carries a header in front of
 * the caller's bytes that names the list the block belongs to, so free
 * needs nothing but the pointer: it reads the header and pushes the block
 * back on that list. A request of n bytes therefore takes the smallest
 * power of two that holds n plus the header: a 4096-byte request takes an
 * 8192-byte block — the waste this design is known for.
 *
 * An empty list is refilled (morecore) with one page cut into blocks of
 * that size, or for blocks of a page and more with one buddy block. Blocks
 * never move between lists and are never coalesced; a page cut into small
 * blocks stays on its list forever, since nothing records when all of its
 * blocks are free. shrink can only give back free blocks of a page or more
 * (each is a whole buddy block). The frames kept are bounded by the peak
 * the small lists ever needed.
 *
 * The header is 8 bytes (a magic byte, the list index, the request size as
 * 4.2BSD's range-checking build kept it), so blocks are 8-byte aligned and
 * no more; a free block's first word links it on its list instead.
 *
 * Locking: p2_lock protects the lists and the counters, before the page
 * allocator's locks.
 */
#include <kmm/kma.h>
#include <kmm/lock.h>

#include "kma_internal.h"

#define P2_MIN_SHIFT 4                        /* 16-byte blocks */
#define P2_MAX_SHIFT (PAGE_SHIFT + MAX_ORDER)  /* one MAX_ORDER block */
#define P2_NR_LISTS (P2_MAX_SHIFT + 1)
#define P2_MAGIC 0xefu

struct p2_header {
	uint8_t magic;
	uint8_t index;        /* the list: block size is 1 << index */
	uint16_t unused;
	uint32_t size;        /* bytes requested */
};

struct p2_free {
	struct p2_free *next;
};

static struct p2_free *p2_lists[P2_NR_LISTS];
static unsigned long p2_nfree[P2_NR_LISTS];
static unsigned long p2_small_pages;          /* pages cut into small blocks */
static unsigned long p2_large_blocks;         /* page-or-larger blocks held */
static spinlock_t p2_lock;
static struct kma_state p2_state;

static int p2_init(void)
{
	for (unsigned int i = 0; i < P2_NR_LISTS; i++) {
		p2_lists[i] = NULL;
		p2_nfree[i] = 0;
	}
	p2_small_pages = 0;
	p2_large_blocks = 0;
	spin_lock_init(&p2_lock);
	return 0;
}

static inline unsigned int p2_index(size_t size)
{
	return MAX(kma_log2_up(size + sizeof(struct p2_header)), (unsigned int)P2_MIN_SHIFT);
}

/* Refills list index: a page cut into blocks, or one block of pages. */
static bool p2_morecore(unsigned int index, gfp_t gfp)
{
	struct page *page;
	char *base;

	if (index >= PAGE_SHIFT) {
		unsigned int order = index - PAGE_SHIFT;

		page = kma_get_pages(&kma_p2_ops, gfp, order);
		if (!page)
			return false;
		kma_page_tag(page, KMA_D_P2, index);
		p2_large_blocks++;
		base = page_address(page);
		((struct p2_free *)base)->next = p2_lists[index];
		p2_lists[index] = (struct p2_free *)base;
		p2_nfree[index]++;
		return true;
	}
	page = kma_get_pages(&kma_p2_ops, gfp, 0);
	if (!page)
		return false;
	kma_page_tag(page, KMA_D_P2, index);
	p2_small_pages++;
	base = page_address(page);
	for (size_t off = PAGE_SIZE; off;) {
		struct p2_free *b;

		off -= 1UL << index;
		b = (struct p2_free *)(base + off);
		b->next = p2_lists[index];
		p2_lists[index] = b;
		p2_nfree[index]++;
	}
	return true;
}

static void *p2_alloc(size_t size, gfp_t gfp)
{
	unsigned int index = p2_index(size);
	struct p2_free *b;
	struct p2_header *h;

	if (unlikely(index > P2_MAX_SHIFT))
		return NULL;
	spin_lock(&p2_lock);
	if (unlikely(!p2_lists[index]) && !p2_morecore(index, gfp)) {
		spin_unlock(&p2_lock);
		return NULL;
	}
	b = p2_lists[index];
	p2_lists[index] = b->next;
	p2_nfree[index]--;
	spin_unlock(&p2_lock);
	h = (struct p2_header *)b;
	*h = (struct p2_header){ .magic = P2_MAGIC, .index = (uint8_t)index,
				 .size = (uint32_t)size };
	return h + 1;
}

static void p2_free(void *ptr, size_t size)
{
	struct p2_header *h = (struct p2_header *)ptr - 1;
	unsigned int index = h->index;
	struct p2_free *b = (struct p2_free *)h;

	if (unlikely(h->magic != P2_MAGIC || index > P2_MAX_SHIFT || h->size != size ||
		     index != p2_index(size)))
		panic("kma p2: free of %p (size %zu): bad header magic %#x index %u size %u "
		      "(double free or overrun?)", ptr, size, h->magic, index, h->size);
	spin_lock(&p2_lock);
	b->next = p2_lists[index];
	p2_lists[index] = b;
	p2_nfree[index]++;
	spin_unlock(&p2_lock);
}

static size_t p2_usable_size(const void *ptr)
{
	const struct p2_header *h = (const struct p2_header *)ptr - 1;

	if (h->magic != P2_MAGIC)
		panic("kma p2: usable_size of %p: bad header", ptr);
	return (1UL << h->index) - sizeof(*h);
}

/* The request, as the header keeps it: kfree under --kma p2 needs no more. */
static size_t p2_request_size(const void *ptr)
{
	const struct p2_header *h = (const struct p2_header *)ptr - 1;

	if (h->magic != P2_MAGIC)
		panic("kma p2: request_size of %p: bad header", ptr);
	return h->size;
}

static size_t p2_footprint(size_t size)
{
	return 1UL << p2_index(size);
}

/* Gives back the free blocks of a page and more; small pages stay. */
static unsigned long p2_shrink(void)
{
	unsigned long freed = 0;

	spin_lock(&p2_lock);
	for (unsigned int index = PAGE_SHIFT; index <= P2_MAX_SHIFT; index++) {
		while (p2_lists[index]) {
			struct p2_free *b = p2_lists[index];
			struct page *page = virt_to_page(b);

			p2_lists[index] = b->next;
			p2_nfree[index]--;
			p2_large_blocks--;
			page->private = 0;
			kma_put_pages(&kma_p2_ops, page, index - PAGE_SHIFT);
			freed += 1UL << (index - PAGE_SHIFT);
		}
	}
	spin_unlock(&p2_lock);
	return freed;
}

/*
 * Every free block lies in a frame of ours tagged with its list, at a
 * multiple of its size; the counts match the lists; and the frames held are
 * exactly the free blocks plus the live ones.
 */
static int p2_check(void)
{
	unsigned long free = 0, pages = 0;
	long held;

	spin_lock(&p2_lock);
	for (unsigned int index = P2_MIN_SHIFT; index <= P2_MAX_SHIFT; index++) {
		unsigned long n = 0;

		for (struct p2_free *b = p2_lists[index]; b; b = b->next) {
			unsigned int order = index > PAGE_SHIFT ? index - PAGE_SHIFT : 0;
			struct page *page = kma_block_head(b, order);

			if (!kma_page_is(page, KMA_D_P2) || kma_page_payload(page) != index ||
			    !IS_ALIGNED((uintptr_t)b, 1UL << index))
				panic("kma p2: list %u holds %p, in a frame tagged %#lx", index,
				      (void *)b, page->private);
			if (++n > p2_nfree[index])
				break;
		}
		if (n != p2_nfree[index])
			panic("kma p2: list %u has %lu blocks, counter says %lu", index, n,
			      p2_nfree[index]);
		free += n << index;
	}
	pages = p2_small_pages;
	held = __atomic_load_n(&p2_state.pages_held, __ATOMIC_RELAXED);
	if (free + (unsigned long)kma_live_footprint(&kma_p2_ops) !=
	    (unsigned long)held * PAGE_SIZE)
		panic("kma p2: free %lu + live %ld bytes != %ld frames held", free,
		      kma_live_footprint(&kma_p2_ops), held);
	if (pages > (unsigned long)held)
		panic("kma p2: %lu small pages but %ld frames held", pages, held);
	spin_unlock(&p2_lock);
	return 0;
}

static void p2_stats(struct kma_stats *st)
{
	spin_lock(&p2_lock);
	for (unsigned int index = P2_MIN_SHIFT; index <= P2_MAX_SHIFT; index++)
		st->free_bytes += p2_nfree[index] << index;
	st->extra_name = "small_pages";
	st->extra = p2_small_pages;
	spin_unlock(&p2_lock);
}

/* Pages cut into small blocks are never returned: up to the peak. */
static unsigned long p2_retained(unsigned long peak)
{
	return peak;
}

const struct kma_ops kma_p2_ops = {
	.name = "p2",
	.state = &p2_state,
	.design = "power-of-two lists, header per block (4.2BSD; Vahalia 12.4)",
	.flags = 0,
	.min_align = sizeof(struct p2_header),
	.max_size = (1UL << P2_MAX_SHIFT) - sizeof(struct p2_header),
	.init = p2_init,
	.alloc = p2_alloc,
	.free = p2_free,
	.usable_size = p2_usable_size,
	.request_size = p2_request_size,
	.footprint = p2_footprint,
	.shrink = p2_shrink,
	.check = p2_check,
	.stats = p2_stats,
	.retained_bound = p2_retained,
};
