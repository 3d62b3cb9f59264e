/*
 * The Dynix allocator (McKenney & Slingwine, "Efficient Kernel Memory
 * Allocation on Shared-Memory Multiprocessors", USENIX Winter 1993): power-
 * of-two blocks in three layers, so that the common allocation and free
 * touch only the current CPU's data.
 *
 *  1. Per-CPU caches. For each size, each CPU keeps two lists of free
 *     blocks, main and aux, each holding at most the size's target. An
 *     allocation pops main; when main is empty, aux becomes main; when both
 *     are empty, the CPU takes one target-sized list from the global layer.
 *     A free pushes on main; when main is full, main becomes aux, and an aux
 *     that was already full goes to the global layer as one list. Blocks
 *     therefore cross to the global layer only in target-sized groups, and a
 *     CPU that alternates allocating and freeing never leaves its cache.
 *  2. The global layer: per size, a stack of target-sized lists, up to
 *     DX_GLOBAL_TARGET of them; lists beyond that go down to layer 3, and
 *     an empty stack builds a list from layer 3.
 *  3. The coalesce-to-page layer: per size, the pages (spans) that have free
 *     blocks, each with its own free list and count (here in the span's
 *     first struct page). A span whose blocks are all free again goes back
 *     to the page allocator at once.
 *
 * Requests above 8 KiB are taken from the page allocator directly, as
 * Dynix's kmem_alloc did with the VM system. Blocks are powers of two from
 * 16 bytes and aligned to their size.
 *
 * Frames come back from layer 3 only: blocks resting in the per-CPU caches
 * and the global stack keep their spans. shrink flushes both layers into
 * layer 3, after which every span with no allocated block is returned.
 *
 * Locking: a CPU's cache lock (taken by the owner on every call; by others
 * only to flush or check it, so it is never contended in the fast path),
 * then the size's global lock (which also covers layer 3), then the page
 * allocator's locks.
 */
#include <kmm/kma.h>
#include <kmm/lock.h>
#include <kmm/string.h>

#include "kma_internal.h"

#define DX_MIN_SHIFT 4
#define DX_MAX_SHIFT 13                        /* 8 KiB */
#define DX_NR (DX_MAX_SHIFT - DX_MIN_SHIFT + 1)
#define DX_GLOBAL_TARGET 4                     /* lists kept in layer 2 */
#define DX_LARGE (1UL << 38)                   /* tag payload: a large block | order */
#define DX_COUNT_SHIFT 8                       /* tag payload: class | free << 8 */

struct dx_block {
	struct dx_block *next;      /* within a list */
	struct dx_block *next_list; /* layer 2: the first block links the lists */
};

struct dx_cpu {
	spinlock_t lock;
	struct dx_block *main, *aux;
	unsigned int nmain, naux;
} __attribute__((aligned(64)));

struct dx_class {
	size_t size;
	unsigned int target;
	unsigned int span_order;
	unsigned int per_span;
	struct dx_cpu cpu[KMM_MAX_CPUS];
	spinlock_t lock;            /* layers 2 and 3 of this size */
	struct dx_block *lists;     /* layer 2 */
	unsigned long nlists;
	struct list_head spans;     /* layer 3: spans with free blocks */
	unsigned long nspans;       /* all spans held */
	unsigned long span_free;    /* free blocks in layer 3 */
};

static struct dx_class dx_classes[DX_NR];
static unsigned long dx_large_pages;
static struct kma_state dx_state;

static int dx_init(void)
{
	for (unsigned int i = 0; i < DX_NR; i++) {
		struct dx_class *c = &dx_classes[i];
		size_t size = 1UL << (i + DX_MIN_SHIFT);

		memset(c, 0, sizeof(*c));
		c->size = size;
		c->target = (unsigned int)CLAMP(PAGE_SIZE / size, 4UL, 32UL);
		c->span_order = kma_order_for(size);
		c->per_span = (unsigned int)((PAGE_SIZE << c->span_order) / size);
		spin_lock_init(&c->lock);
		INIT_LIST_HEAD(&c->spans);
		for (unsigned int cpu = 0; cpu < KMM_MAX_CPUS; cpu++)
			spin_lock_init(&c->cpu[cpu].lock);
	}
	dx_large_pages = 0;
	return 0;
}

static inline unsigned int dx_class_of(size_t size)
{
	return MAX(kma_log2_up(size), (unsigned int)DX_MIN_SHIFT) - DX_MIN_SHIFT;
}

/* ---- Layer 3: spans (under c->lock) ---- */

static inline unsigned long span_free_count(const struct page *head)
{
	return kma_page_payload(head) >> DX_COUNT_SHIFT;
}

static inline void span_set_free(struct page *head, unsigned int cls, unsigned long n)
{
	kma_page_tag(head, KMA_D_DYNIX, cls | (n << DX_COUNT_SHIFT));
}

static struct dx_block *span_get(struct dx_class *c, unsigned int cls, gfp_t gfp)
{
	struct page *head;
	struct dx_block *b;
	unsigned long n;

	if (list_empty(&c->spans)) {
		char *base;

		head = kma_get_pages(&kma_dynix_ops, gfp, c->span_order);
		if (!head)
			return NULL;
		base = page_address(head);
		head->index = 0;
		for (unsigned int i = c->per_span; i--;) {
			b = (struct dx_block *)(base + i * c->size);
			b->next = (struct dx_block *)head->index;
			head->index = (unsigned long)b;
		}
		span_set_free(head, cls, c->per_span);
		list_add(&head->lru, &c->spans);
		c->nspans++;
		c->span_free += c->per_span;
	}
	head = list_first_entry(&c->spans, struct page, lru);
	b = (struct dx_block *)head->index;
	head->index = (unsigned long)b->next;
	n = span_free_count(head) - 1;
	span_set_free(head, cls, n);
	if (!n)
		list_del(&head->lru);
	c->span_free--;
	return b;
}

static void span_put(struct dx_class *c, unsigned int cls, struct dx_block *b)
{
	struct page *head = kma_block_head(b, c->span_order);
	unsigned long n = span_free_count(head) + 1;

	b->next = (struct dx_block *)head->index;
	head->index = (unsigned long)b;
	c->span_free++;
	if (n == 1)
		list_add(&head->lru, &c->spans);
	if (n == c->per_span) {
		list_del(&head->lru);
		c->nspans--;
		c->span_free -= n;
		head->index = 0;
		head->private = 0;
		kma_put_pages(&kma_dynix_ops, head, c->span_order);
		return;
	}
	span_set_free(head, cls, n);
}

/* ---- Layer 2: target-sized lists (under c->lock) ---- */

/* A list of up to target blocks for a CPU; returns its length (0: out of memory). */
static unsigned int global_get(struct dx_class *c, unsigned int cls, gfp_t gfp,
			       struct dx_block **list)
{
	unsigned int n = 0;

	if (c->lists) {
		*list = c->lists;
		c->lists = c->lists->next_list;
		c->nlists--;
		return c->target;
	}
	*list = NULL;
	while (n < c->target) {
		struct dx_block *b = span_get(c, cls, gfp);

		if (!b)
			break;
		b->next = *list;
		*list = b;
		n++;
	}
	return n;
}

static void global_put(struct dx_class *c, unsigned int cls, struct dx_block *list,
		       unsigned int n, bool keep)
{
	if (keep && n == c->target && c->nlists < DX_GLOBAL_TARGET) {
		list->next_list = c->lists;
		c->lists = list;
		c->nlists++;
		return;
	}
	while (list) {
		struct dx_block *next = list->next;

		span_put(c, cls, list);
		list = next;
	}
}

/* ---- Layer 1: the per-CPU caches ---- */

static void *dx_alloc_large(size_t size, gfp_t gfp)
{
	unsigned int order = kma_order_for(size);
	struct page *page;

	if (order > MAX_ORDER)
		return NULL;
	page = kma_get_pages(&kma_dynix_ops, gfp, order);
	if (!page)
		return NULL;
	kma_page_tag(page, KMA_D_DYNIX, DX_LARGE | order);
	__atomic_fetch_add(&dx_large_pages, 1UL << order, __ATOMIC_RELAXED);
	return page_address(page);
}

static void *dx_alloc(size_t size, gfp_t gfp)
{
	unsigned int cls;
	struct dx_class *c;
	struct dx_cpu *pc;
	struct dx_block *b;

	if (unlikely(size > (1UL << DX_MAX_SHIFT)))
		return dx_alloc_large(size, gfp);
	cls = dx_class_of(size);
	c = &dx_classes[cls];
	pc = &c->cpu[arch_this_cpu()];
	spin_lock(&pc->lock);
	if (unlikely(!pc->main)) {
		if (pc->aux) {
			pc->main = pc->aux;
			pc->nmain = pc->naux;
			pc->aux = NULL;
			pc->naux = 0;
		} else {
			spin_lock(&c->lock);
			pc->nmain = global_get(c, cls, gfp, &pc->main);
			spin_unlock(&c->lock);
			if (!pc->nmain) {
				spin_unlock(&pc->lock);
				return NULL;
			}
		}
	}
	b = pc->main;
	pc->main = b->next;
	pc->nmain--;
	spin_unlock(&pc->lock);
	return b;
}

static void dx_free(void *ptr, size_t size)
{
	struct dx_block *b = ptr;
	unsigned int cls;
	struct dx_class *c;
	struct dx_cpu *pc;
	struct page *head;

	if (unlikely(size > (1UL << DX_MAX_SHIFT))) {
		unsigned int order = kma_order_for(size);

		head = virt_to_page(ptr);
		if (unlikely(!kma_page_is(head, KMA_D_DYNIX) ||
			     kma_page_payload(head) != (DX_LARGE | order) ||
			     !IS_ALIGNED((uintptr_t)ptr, PAGE_SIZE)))
			panic("kma dynix: free of %p size %zu: not a large block of ours", ptr,
			      size);
		head->private = 0;
		__atomic_fetch_sub(&dx_large_pages, 1UL << order, __ATOMIC_RELAXED);
		kma_put_pages(&kma_dynix_ops, head, order);
		return;
	}
	cls = dx_class_of(size);
	c = &dx_classes[cls];
	head = kma_block_head(ptr, c->span_order);
	if (unlikely(!IS_ALIGNED((uintptr_t)ptr, c->size) || !kma_page_is(head, KMA_D_DYNIX) ||
		     (kma_page_payload(head) & ((1UL << DX_COUNT_SHIFT) - 1)) != cls))
		panic("kma dynix: free of %p size %zu: not a %zu-byte block of ours", ptr, size,
		      c->size);
	pc = &c->cpu[arch_this_cpu()];
	spin_lock(&pc->lock);
	if (likely(pc->nmain < c->target)) {
		b->next = pc->main;
		pc->main = b;
		pc->nmain++;
	} else {
		if (pc->aux) {
			spin_lock(&c->lock);
			global_put(c, cls, pc->aux, pc->naux, true);
			spin_unlock(&c->lock);
		}
		pc->aux = pc->main;
		pc->naux = pc->nmain;
		b->next = NULL;
		pc->main = b;
		pc->nmain = 1;
	}
	spin_unlock(&pc->lock);
}

static size_t dx_usable_size(const void *ptr)
{
	struct page *page = virt_to_page(ptr);
	unsigned long pl;

	if (kma_page_is(page, KMA_D_DYNIX) && (kma_page_payload(page) & DX_LARGE))
		return PAGE_SIZE << (kma_page_payload(page) & ~DX_LARGE);
	for (unsigned int o = 0; o <= kma_order_for(1UL << DX_MAX_SHIFT); o++) {
		page = kma_block_head(ptr, o);
		pl = kma_page_payload(page) & ((1UL << DX_COUNT_SHIFT) - 1);
		if (kma_page_is(page, KMA_D_DYNIX) && pl < DX_NR &&
		    dx_classes[pl].span_order == o)
			return dx_classes[pl].size;
	}
	panic("kma dynix: usable_size of %p: not a block of ours", ptr);
}

static size_t dx_footprint(size_t size)
{
	if (size > (1UL << DX_MAX_SHIFT))
		return PAGE_SIZE << kma_order_for(size);
	return 1UL << (dx_class_of(size) + DX_MIN_SHIFT);
}

/* Flushes every CPU's cache and the global lists into layer 3. */
static unsigned long dx_shrink(void)
{
	long before = __atomic_load_n(&dx_state.pages_held, __ATOMIC_RELAXED);

	for (unsigned int cls = 0; cls < DX_NR; cls++) {
		struct dx_class *c = &dx_classes[cls];

		for (unsigned int cpu = 0; cpu < arch_nr_cpus(); cpu++) {
			struct dx_cpu *pc = &c->cpu[cpu];

			spin_lock(&pc->lock);
			spin_lock(&c->lock);
			global_put(c, cls, pc->main, pc->nmain, false);
			global_put(c, cls, pc->aux, pc->naux, false);
			spin_unlock(&c->lock);
			pc->main = pc->aux = NULL;
			pc->nmain = pc->naux = 0;
			spin_unlock(&pc->lock);
		}
		spin_lock(&c->lock);
		while (c->lists) {
			struct dx_block *list = c->lists;

			c->lists = list->next_list;
			c->nlists--;
			global_put(c, cls, list, c->target, false);
		}
		spin_unlock(&c->lock);
	}
	return (unsigned long)(before - __atomic_load_n(&dx_state.pages_held, __ATOMIC_RELAXED));
}

/* Checks one block of class cls on some list; returns 1. */
static unsigned long check_block(struct dx_class *c, unsigned int cls, struct dx_block *b,
				 const char *where)
{
	struct page *head = kma_block_head(b, c->span_order);

	if (!IS_ALIGNED((uintptr_t)b, c->size) || !kma_page_is(head, KMA_D_DYNIX) ||
	    (kma_page_payload(head) & ((1UL << DX_COUNT_SHIFT) - 1)) != cls)
		panic("kma dynix %zu: %s holds %p in a span tagged %#lx", c->size, where,
		      (void *)b, head->private);
	return 1;
}

static unsigned long count_list(struct dx_class *c, unsigned int cls, struct dx_block *b,
				unsigned long limit, const char *where)
{
	unsigned long n = 0;

	for (; b && n <= limit; b = b->next)
		n += check_block(c, cls, b, where);
	return n;
}

/*
 * Every list holds blocks of its size in spans of its size, with the counts
 * it claims (per-CPU lists at most the target, global lists exactly it);
 * every span in layer 3's list has between 1 and per_span - 1 free blocks;
 * and the spans' blocks are exactly the free ones plus the live ones.
 */
static int dx_check(void)
{
	long fp = 0, pages = 0;

	for (unsigned int cls = 0; cls < DX_NR; cls++) {
		struct dx_class *c = &dx_classes[cls];
		unsigned long free = 0;
		struct page *head;

		for (unsigned int cpu = 0; cpu < arch_nr_cpus(); cpu++)
			spin_lock(&c->cpu[cpu].lock);
		spin_lock(&c->lock);
		for (unsigned int cpu = 0; cpu < arch_nr_cpus(); cpu++) {
			struct dx_cpu *pc = &c->cpu[cpu];

			if (count_list(c, cls, pc->main, c->target, "a main list") != pc->nmain ||
			    count_list(c, cls, pc->aux, c->target, "an aux list") != pc->naux ||
			    pc->nmain > c->target || pc->naux > c->target)
				panic("kma dynix %zu: cpu %u lists miscounted (main %u, aux %u, "
				      "target %u)", c->size, cpu, pc->nmain, pc->naux, c->target);
			free += pc->nmain + pc->naux;
		}
		{
			unsigned long nl = 0;

			for (struct dx_block *l = c->lists; l && nl <= c->nlists; l = l->next_list) {
				if (count_list(c, cls, l, c->target, "a global list") != c->target)
					panic("kma dynix %zu: a global list is not target-sized",
					      c->size);
				nl++;
			}
			if (nl != c->nlists || nl > DX_GLOBAL_TARGET)
				panic("kma dynix %zu: %lu global lists, counter says %lu", c->size,
				      nl, c->nlists);
			free += nl * c->target;
		}
		{
			unsigned long sf = 0;

			list_for_each_entry(head, &c->spans, lru) {
				unsigned long n = span_free_count(head);

				if (!n || n >= c->per_span ||
				    count_list(c, cls, (struct dx_block *)head->index, n,
					       "a span") != n)
					panic("kma dynix %zu: span pfn %#lx has %lu free of %u",
					      c->size, page_to_pfn(head), n, c->per_span);
				sf += n;
			}
			if (sf != c->span_free)
				panic("kma dynix %zu: spans hold %lu free blocks, counter says %lu",
				      c->size, sf, c->span_free);
			free += sf;
		}
		if (free > c->nspans * c->per_span)
			panic("kma dynix %zu: %lu free blocks in %lu spans of %u", c->size, free,
			      c->nspans, c->per_span);
		fp += (long)((c->nspans * c->per_span - free) * c->size);
		pages += (long)(c->nspans << c->span_order);
		spin_unlock(&c->lock);
		for (unsigned int cpu = 0; cpu < arch_nr_cpus(); cpu++)
			spin_unlock(&c->cpu[cpu].lock);
	}
	pages += (long)__atomic_load_n(&dx_large_pages, __ATOMIC_RELAXED);
	fp += (long)(__atomic_load_n(&dx_large_pages, __ATOMIC_RELAXED) * PAGE_SIZE);
	if (pages != __atomic_load_n(&dx_state.pages_held, __ATOMIC_RELAXED))
		panic("kma dynix: spans and large blocks hold %ld frames, %ld counted", pages,
		      dx_state.pages_held);
	if (fp != kma_live_footprint(&kma_dynix_ops))
		panic("kma dynix: allocated blocks cover %ld bytes, live footprint %ld", fp,
		      kma_live_footprint(&kma_dynix_ops));
	return 0;
}

static void dx_stats(struct kma_stats *st)
{
	unsigned long cached = 0;

	for (unsigned int cls = 0; cls < DX_NR; cls++) {
		struct dx_class *c = &dx_classes[cls];
		unsigned long pcpu = 0;

		for (unsigned int cpu = 0; cpu < arch_nr_cpus(); cpu++) {
			spin_lock(&c->cpu[cpu].lock);
			pcpu += c->cpu[cpu].nmain + c->cpu[cpu].naux;
			spin_unlock(&c->cpu[cpu].lock);
		}
		spin_lock(&c->lock);
		st->free_bytes += (pcpu + c->nlists * c->target + c->span_free) * c->size;
		spin_unlock(&c->lock);
		cached += pcpu;
	}
	st->extra_name = "percpu_blocks";
	st->extra = cached;
}

static unsigned long dx_retained(unsigned long peak)
{
	return 0;
}

const struct kma_ops kma_dynix_ops = {
	.name = "dynix",
	.state = &dx_state,
	.design = "per-CPU caches, global lists, coalesce-to-page (McKenney & Slingwine 1993)",
	.flags = KMA_RETURNS_FRAMES | KMA_NATURAL_ALIGN | KMA_PERCPU,
	.min_align = 1UL << DX_MIN_SHIFT,
	.natural_align_max = PAGE_SIZE << MAX_ORDER,
	.max_size = PAGE_SIZE << MAX_ORDER,
	.init = dx_init,
	.alloc = dx_alloc,
	.free = dx_free,
	.usable_size = dx_usable_size,
	.footprint = dx_footprint,
	.shrink = dx_shrink,
	.check = dx_check,
	.stats = dx_stats,
	.retained_bound = dx_retained,
};
