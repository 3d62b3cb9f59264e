/*
 * Large blocks of libkmm-malloc (64 KiB < n <= 1 MiB): runs of whole pages,
 * so that a block costs its size rounded to a page, not to a power of two.
 *
 * The buddy allocator can only hand out 2^k pages, and a realloc that grows
 * a buffer by half at a time then wastes up to half of it, and the blocks
 * it frees, aligned to their size, rarely merge into one large enough for
 * the next step. Here the memory for large blocks comes from the buddy
 * allocator in chunks of 2^LARGE_CHUNK_ORDER pages (4 MiB), each cut into
 * runs first fit, the way a vmem arena (Bonwick & Adams 2001, sec. 4) or
 * a boundary-tag heap (Knuth, TAOCP 2.5) cuts a span:
 *
 *   - every run, free or in use, carries a tag in page->private of its
 *     first page and of its last (kind and length in pages), so freeing
 *     a run finds its neighbours in two loads and merges with the free
 *     ones at once: blocks freed side by side become one;
 *   - free runs are on 11 lists by the power of two of their length;
 *     allocation scans the list of its own power (first fit) and takes
 *     the first run of any higher list, splitting off the rest;
 *   - realloc grows a run in place into a free run after it, or, moving
 *     the contents down, into a free run before it (as glibc's realloc
 *     does with a free predecessor), so that buffers growing in turn
 *     reuse each other's old space;
 *   - a chunk that is free again goes back to the buddy allocator, except
 *     one kept for the next allocation;
 *   - the metadata is in struct page, never in the memory itself, so a
 *     free run can be given back to the host (large_trim: madvise) as a
 *     whole and reads as zeros when used again.
 *
 * Pages inside a run carry no tag (0), so free() of a pointer into the
 * middle of a block, or of a freed block (its head now says free, or it
 * merged into the run before it), is refused by large_pages().
 *
 * Locking: large_lock (mutex) guards the lists, the tags and the chunk
 * list; it is taken before the core's locks (alloc_pages, free_pages are
 * called under it). large_pages() reads a tag without it: the tag of a
 * block in use changes only when the block is freed.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <kmm/kmm.h>
#include <kmm/list.h>
#include <kmm/lock.h>
#include <kmm/page_alloc.h>

#include "large.h"
#include "native.h"

#define LARGE_CHUNK_ORDER MAX_ORDER                  /* 4 MiB */
#define LARGE_CHUNK_PAGES (1UL << LARGE_CHUNK_ORDER)
#define LARGE_NR_BINS (LARGE_CHUNK_ORDER + 1)
#define LARGE_SPARE_CHUNKS 1

/* Tags in page->private: magic, kind, length in pages. */
#define TAG_MAGIC (0x4c52UL << 48)
#define TAG_MAGIC_MASK (0xffffUL << 48)
#define TAG_KIND_SHIFT 40
#define TAG_KIND_MASK (0xffUL << TAG_KIND_SHIFT)
#define TAG_LEN_MASK 0xffffffffUL
enum tag_kind { TAG_NONE, TAG_FREE_HEAD, TAG_FREE_TAIL, TAG_USED_HEAD, TAG_USED_TAIL };

static mutex_t large_mutex;
static struct list_head bins[LARGE_NR_BINS];   /* free runs, by log2(length) */
static struct page *chunks;                    /* linked through page->index */
static unsigned long nr_chunks, nr_spare;
static atomic_ulong free_pages_total;

static inline unsigned long tag_make(enum tag_kind kind, unsigned long len)
{
	return TAG_MAGIC | ((unsigned long)kind << TAG_KIND_SHIFT) | len;
}

static inline unsigned long tag_get(const struct page *pg)
{
	return __atomic_load_n(&((struct page *)pg)->private, __ATOMIC_RELAXED);
}

static inline void tag_set(struct page *pg, unsigned long tag)
{
	__atomic_store_n(&pg->private, tag, __ATOMIC_RELAXED);
}

static inline enum tag_kind tag_kind(unsigned long tag)
{
	if ((tag & TAG_MAGIC_MASK) != TAG_MAGIC)
		return TAG_NONE;
	return (enum tag_kind)((tag & TAG_KIND_MASK) >> TAG_KIND_SHIFT);
}

static inline unsigned long tag_len(unsigned long tag)
{
	return tag & TAG_LEN_MASK;
}

static unsigned int bin_of(unsigned long len)
{
	return (unsigned int)(63 - __builtin_clzl(len));
}

/* The first page of pg's chunk (chunks are naturally aligned blocks). */
static inline unsigned long chunk_pfn(const struct page *pg)
{
	return page_to_pfn(pg) & ~(LARGE_CHUNK_PAGES - 1);
}

static inline bool same_chunk(const struct page *a, const struct page *b)
{
	return chunk_pfn(a) == chunk_pfn(b);
}

/* Marks [pg, pg + len) a run of the given kind (head and last page). */
static void run_tag(struct page *pg, unsigned long len, bool used)
{
	tag_set(pg, tag_make(used ? TAG_USED_HEAD : TAG_FREE_HEAD, len));
	if (len > 1)
		tag_set(pg + len - 1, tag_make(used ? TAG_USED_TAIL : TAG_FREE_TAIL, len));
}

/* Clears the tags of run [pg, pg + len): its pages become inner pages. */
static void run_untag(struct page *pg, unsigned long len)
{
	tag_set(pg, 0);
	if (len > 1)
		tag_set(pg + len - 1, 0);
}

static void free_run_add(struct page *pg, unsigned long len)
{
	run_tag(pg, len, false);
	list_add(&pg->lru, &bins[bin_of(len)]);
	atomic_fetch_add_explicit(&free_pages_total, len, memory_order_relaxed);
}

static void free_run_del(struct page *pg, unsigned long len)
{
	list_del(&pg->lru);
	run_untag(pg, len);
	atomic_fetch_sub_explicit(&free_pages_total, len, memory_order_relaxed);
}

void large_init(void)
{
	mutex_init(&large_mutex);
	for (unsigned int b = 0; b < LARGE_NR_BINS; b++)
		INIT_LIST_HEAD(&bins[b]);
}

/* A new chunk from the buddy allocator, as one free run. Under the lock. */
static bool chunk_add(void)
{
	struct page *pg = alloc_pages(__GFP_NOWARN, LARGE_CHUNK_ORDER);

	if (!pg)
		return false;
	for (unsigned long i = 0; i < LARGE_CHUNK_PAGES; i++)
		tag_set(pg + i, 0);
	pg->index = (unsigned long)chunks;
	chunks = pg;
	nr_chunks++;
	nr_spare++;
	free_run_add(pg, LARGE_CHUNK_PAGES);
	return true;
}

/* A chunk that is one free run again: back to the buddy allocator. */
static void chunk_release(struct page *pg)
{
	struct page **pp = &chunks;

	while (*pp != pg)
		pp = (struct page **)&(*pp)->index;
	*pp = (struct page *)pg->index;
	pg->index = 0;
	nr_chunks--;
	nr_spare--;
	free_run_del(pg, LARGE_CHUNK_PAGES);
	__free_pages(pg, LARGE_CHUNK_ORDER);
}

/* The first free run of at least len pages, or NULL. Under the lock. */
static struct page *run_find(unsigned long len)
{
	unsigned int b = bin_of(len);
	struct page *pg;

	list_for_each_entry(pg, &bins[b], lru)
		if (tag_len(tag_get(pg)) >= len)
			return pg;
	for (b++; b < LARGE_NR_BINS; b++)
		if (!list_empty(&bins[b]))
			return list_first_entry(&bins[b], struct page, lru);
	return NULL;
}

void *large_alloc(unsigned long pages)
{
	struct page *pg;
	unsigned long len;

	if (!pages || pages > LARGE_CHUNK_PAGES)
		return NULL;
	mutex_lock(&large_mutex);
	while (!(pg = run_find(pages))) {
		if (!chunk_add()) {
			mutex_unlock(&large_mutex);
			return NULL;
		}
	}
	len = tag_len(tag_get(pg));
	if (len == LARGE_CHUNK_PAGES)
		nr_spare--;
	free_run_del(pg, len);
	if (len > pages)
		free_run_add(pg + pages, len - pages);
	run_tag(pg, pages, true);
	mutex_unlock(&large_mutex);
	return page_address(pg);
}

unsigned long large_pages(const void *p)
{
	struct page *pg;
	unsigned long tag;

	if (!native_addr_present(p) || ((uintptr_t)p & ~PAGE_MASK))
		return 0;
	pg = virt_to_page(p);
	tag = tag_get(pg);
	return tag_kind(tag) == TAG_USED_HEAD ? tag_len(tag) : 0;
}

void large_free(void *p)
{
	struct page *pg = virt_to_page(p);
	unsigned long len, tag;

	mutex_lock(&large_mutex);
	tag = tag_get(pg);
	if (tag_kind(tag) != TAG_USED_HEAD)
		native_fatal("kmm-malloc: free(): large block %p freed twice", p);
	len = tag_len(tag);
	run_untag(pg, len);
	/* Merge with the free run after it, then with the one before. */
	if (page_to_pfn(pg) + len < chunk_pfn(pg) + LARGE_CHUNK_PAGES) {
		struct page *next = pg + len;

		tag = tag_get(next);
		if (tag_kind(tag) == TAG_FREE_HEAD) {
			free_run_del(next, tag_len(tag));
			len += tag_len(tag);
		}
	}
	if (page_to_pfn(pg) > chunk_pfn(pg) && same_chunk(pg - 1, pg)) {
		tag = tag_get(pg - 1);
		if (tag_kind(tag) == TAG_FREE_TAIL ||
		    (tag_kind(tag) == TAG_FREE_HEAD && tag_len(tag) == 1)) {
			struct page *prev = pg - tag_len(tag);

			free_run_del(prev, tag_len(tag));
			len += tag_len(tag);
			pg = prev;
		}
	}
	free_run_add(pg, len);
	if (len == LARGE_CHUNK_PAGES && ++nr_spare > LARGE_SPARE_CHUNKS)
		chunk_release(pg);
	mutex_unlock(&large_mutex);
}

void *large_resize(void *p, unsigned long pages)
{
	struct page *pg = virt_to_page(p), *first;
	unsigned long len, tag, next_len = 0, prev_len = 0, total;
	void *q;

	mutex_lock(&large_mutex);
	len = tag_len(tag_get(pg));
	if (page_to_pfn(pg) + len < chunk_pfn(pg) + LARGE_CHUNK_PAGES) {
		tag = tag_get(pg + len);
		if (tag_kind(tag) == TAG_FREE_HEAD)
			next_len = tag_len(tag);
	}
	if (page_to_pfn(pg) > chunk_pfn(pg)) {
		tag = tag_get(pg - 1);
		if (tag_kind(tag) == TAG_FREE_TAIL ||
		    (tag_kind(tag) == TAG_FREE_HEAD && tag_len(tag) == 1))
			prev_len = tag_len(tag);
	}
	/* Forward into the next run if that is enough (no copy), else back
	   into the previous one too (the contents move down). */
	if (len + next_len >= pages)
		prev_len = 0;
	total = prev_len + len + next_len;
	if (pages <= len || total < pages) {
		mutex_unlock(&large_mutex);
		return NULL;
	}
	first = pg - prev_len;
	if (next_len)
		free_run_del(pg + len, next_len);
	if (prev_len)
		free_run_del(first, prev_len);
	run_untag(pg, len);
	q = page_address(first);
	/* Under the lock: the rest of the merged run is published only after
	   the contents left it. */
	if (prev_len)
		memmove(q, p, len << PAGE_SHIFT);
	if (total > pages)
		free_run_add(first + pages, total - pages);
	run_tag(first, pages, true);
	mutex_unlock(&large_mutex);
	return q;
}

unsigned long large_free_pages(void)
{
	return atomic_load_explicit(&free_pages_total, memory_order_relaxed);
}

unsigned long large_trim(unsigned long min_pages)
{
	unsigned long given = 0;
	struct page *pg;

	mutex_lock(&large_mutex);
	for (unsigned int b = bin_of(min_pages); b < LARGE_NR_BINS; b++) {
		list_for_each_entry(pg, &bins[b], lru) {
			unsigned long len = tag_len(tag_get(pg));

			if (len < min_pages)
				continue;
			madvise(page_address(pg), len << PAGE_SHIFT, MADV_DONTNEED);
			given += len;
		}
	}
	mutex_unlock(&large_mutex);
	return given;
}

void large_lock(void)
{
	mutex_lock(&large_mutex);
}

void large_unlock(void)
{
	mutex_unlock(&large_mutex);
}

/* ---- Invariant checker ---- */

int large_check(void)
{
	unsigned long free_total = 0, on_bins = 0, spare = 0, n = 0;
	struct page *c, *pg;

	mutex_lock(&large_mutex);
	for (c = chunks; c; c = (struct page *)c->index, n++) {
		bool prev_free = false;

		if (page_to_pfn(c) != chunk_pfn(c))
			native_fatal("large_check: chunk %p not aligned", page_address(c));
		for (unsigned long i = 0; i < LARGE_CHUNK_PAGES;) {
			unsigned long tag = tag_get(c + i), len = tag_len(tag);
			enum tag_kind k = tag_kind(tag);

			if ((k != TAG_FREE_HEAD && k != TAG_USED_HEAD) || !len ||
			    i + len > LARGE_CHUNK_PAGES)
				native_fatal("large_check: page %lu of chunk %p: bad run "
					     "head %#lx", i, page_address(c), tag);
			if (len > 1 && tag_get(c + i + len - 1) !=
					       tag_make(k == TAG_FREE_HEAD ? TAG_FREE_TAIL
									    : TAG_USED_TAIL, len))
				native_fatal("large_check: run at page %lu of chunk %p: "
					     "tail tag disagrees", i, page_address(c));
			for (unsigned long j = i + 1; j + 1 < i + len; j++)
				if (tag_get(c + j))
					native_fatal("large_check: inner page %lu of chunk "
						     "%p is tagged", j, page_address(c));
			if (k == TAG_FREE_HEAD) {
				if (prev_free)
					native_fatal("large_check: two free runs touch at page "
						     "%lu of chunk %p", i, page_address(c));
				free_total += len;
				if (len == LARGE_CHUNK_PAGES)
					spare++;
			}
			prev_free = k == TAG_FREE_HEAD;
			i += len;
		}
	}
	if (n != nr_chunks || spare != nr_spare || spare > LARGE_SPARE_CHUNKS)
		native_fatal("large_check: %lu chunks (%lu free), counters say %lu (%lu)", n,
			     spare, nr_chunks, nr_spare);
	for (unsigned int b = 0; b < LARGE_NR_BINS; b++) {
		list_for_each_entry(pg, &bins[b], lru) {
			unsigned long tag = tag_get(pg);

			if (tag_kind(tag) != TAG_FREE_HEAD || bin_of(tag_len(tag)) != b)
				native_fatal("large_check: bin %u holds a run tagged %#lx", b,
					     tag);
			on_bins += tag_len(tag);
		}
	}
	if (on_bins != free_total || free_total != large_free_pages())
		native_fatal("large_check: %lu free pages in chunks, %lu on the bins, "
			     "counter %lu", free_total, on_bins, large_free_pages());
	mutex_unlock(&large_mutex);
	return 0;
}
