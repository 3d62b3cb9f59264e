/*
 * The swap cache (ULK3 ch. 17 "The Swap Cache"): anonymous pages keyed by
 * the swap slot they are going to or coming from, so that
 *   - a fault on a swap entry whose page is still being written, or is
 *     still in memory after the write, maps that page instead of reading
 *     the slot (no second copy, no lost store);
 *   - a page read back from a slot that other page tables (fork) still
 *     name is found by their faults too, so they share one frame as they
 *     shared it before it went out;
 *   - a clean page that was read in and not written since can be dropped
 *     again without a write: its copy on the slot is still good.
 *
 * A page in the cache has PG_swapcache and page->private = its entry; the
 * cache holds one reference on the page and one count on the slot. The
 * pointers themselves sit in the swap area (swap_cache_slot).
 *
 * Swap-in reads the faulting slot and its neighbours in the same aligned
 * window of SWAP_RA_PAGES slots (they went out together: the allocator
 * keeps one scan's pages in one cluster) with allocations that never enter
 * reclaim; pages read ahead wait on the inactive anonymous list with no
 * anon_vma until a fault maps them.
 *
 * Locking: swap_cache_lock protects every area's cache pointers and the
 * PG_swapcache/private fields of pages in the cache. It is taken with a
 * page lock or an mm's page_table_lock held, and before a swap area's lock.
 * Whoever adds or removes a page holds its page lock.
 */
#include <kmm/errno.h>
#include <kmm/fs.h>
#include <kmm/mm.h>
#include <kmm/mmzone.h>
#include <kmm/page_alloc.h>
#include <kmm/swap.h>
#include <kmm/vmstat.h>

#include "filemap_internal.h"

#define SWAP_RA_PAGES 8

static spinlock_t swap_cache_lock = SPINLOCK_INIT;

int add_to_swap_cache(struct page *page, swp_entry_t entry)
{
	struct page **slot = swap_cache_slot(entry);
	int err = 0;

	BUG_ON(!page_flag(page, PG_locked) || page_flag(page, PG_swapcache));
	if (!slot)
		return -KMM_EINVAL;
	spin_lock(&swap_cache_lock);
	if (*slot) {
		err = -KMM_EEXIST;
	} else {
		get_page(page);
		page->private = entry.val;
		set_page_flag(page, PG_swapcache);
		*slot = page;
		mod_zone_page_state(page_zone(page), NR_SWAPCACHE, 1);
	}
	spin_unlock(&swap_cache_lock);
	return err;
}

int add_to_swap(struct page *page)
{
	swp_entry_t entry = get_swap_page();

	if (!entry.val)
		return -KMM_ENOSPC;
	if (add_to_swap_cache(page, entry)) {
		swap_free(entry);
		return -KMM_ENOSPC;
	}
	/* Not on the slot yet: it must be written before it may go. */
	set_page_flag(page, PG_dirty);
	return 0;
}

struct page *lookup_swap_cache(swp_entry_t entry)
{
	struct page **slot = swap_cache_slot(entry);
	struct page *page = NULL;

	if (!slot)
		return NULL;
	spin_lock(&swap_cache_lock);
	page = *slot;
	if (page)
		get_page(page);
	spin_unlock(&swap_cache_lock);
	return page;
}

/* Unhooks page under swap_cache_lock; the caller drops the references. */
static swp_entry_t __delete_from_swap_cache(struct page *page)
{
	swp_entry_t entry = { page->private };
	struct page **slot = swap_cache_slot(entry);

	BUG_ON(!slot || *slot != page);
	*slot = NULL;
	page->private = 0;
	clear_page_flag(page, PG_swapcache);
	mod_zone_page_state(page_zone(page), NR_SWAPCACHE, -1);
	return entry;
}

void delete_from_swap_cache(struct page *page)
{
	swp_entry_t entry;

	BUG_ON(!page_flag(page, PG_locked) || !page_flag(page, PG_swapcache));
	spin_lock(&swap_cache_lock);
	entry = __delete_from_swap_cache(page);
	spin_unlock(&swap_cache_lock);
	swap_free(entry);
	put_anon_page(page);
}

bool reclaim_swap_cache_page(struct page *page)
{
	swp_entry_t entry;
	int expected = 2;   /* the caller's reference and the cache's */

	BUG_ON(!page_flag(page, PG_locked) || !page_flag(page, PG_swapcache));
	spin_lock(&swap_cache_lock);
	/*
	 * Frozen at 0 under the lock lookups take their reference under: a
	 * fault either found the page before (and the count was not 2) or
	 * finds the slot empty and reads it again from swap.
	 */
	if (!atomic_compare_exchange_strong(&page->_refcount, &expected, 0)) {
		spin_unlock(&swap_cache_lock);
		return false;
	}
	entry = __delete_from_swap_cache(page);
	spin_unlock(&swap_cache_lock);
	swap_free(entry);
	return true;
}

bool try_to_free_swap(struct page *page)
{
	swp_entry_t entry = { page->private };

	if (!page_flag(page, PG_swapcache) || page_flag(page, PG_writeback))
		return false;
	if (swap_count(entry) != 1)
		return false;   /* a page table still names the slot */
	delete_from_swap_cache(page);
	/* Its only copy is in memory now. */
	set_page_flag(page, PG_dirty);
	return true;
}

void free_swap_and_cache(swp_entry_t entry)
{
	struct page *page;

	swap_free(entry);
	if (swap_count(entry) != 1)
		return;
	page = lookup_swap_cache(entry);
	if (!page)
		return;
	/* Only the cache refers to the slot: an unmapped page goes with it. */
	if (trylock_page(page)) {
		if (page_flag(page, PG_swapcache) && page->private == entry.val &&
		    atomic_load(&page->_mapcount) < 0)
			try_to_free_swap(page);
		unlock_page(page);
	}
	put_anon_page(page);
}

/*
 * Reads entry's slot into a new page in the cache; the page comes back
 * with a reference, unlocked, on the LRU. NULL with *err set on failure.
 */
static struct page *read_swap_slot(swp_entry_t entry, gfp_t gfp, int *err)
{
	struct page *page = alloc_page(gfp);

	if (!page) {
		*err = -KMM_ENOMEM;
		return NULL;
	}
	set_page_flag(page, PG_locked);
	set_page_flag(page, PG_swapbacked);
	/* The cache's count on the slot; fails if the slot was freed. */
	*err = swap_duplicate(entry);
	if (*err) {
		*err = -KMM_EAGAIN;
		goto fail;
	}
	*err = add_to_swap_cache(page, entry);
	if (*err) {
		swap_free(entry);   /* another CPU is reading it */
		goto fail;
	}
	*err = swap_readpage(page, entry);
	if (*err) {
		delete_from_swap_cache(page);
		goto fail;
	}
	lru_cache_add(page);
	unlock_page(page);
	return page;
fail:
	clear_page_flag(page, PG_locked);
	clear_page_flag(page, PG_swapbacked);
	__free_page(page);
	return NULL;
}

struct page *swapin_page(swp_entry_t entry, int *err, bool *major)
{
	unsigned long off = swp_offset(entry);
	unsigned long start = off & ~(unsigned long)(SWAP_RA_PAGES - 1);
	struct page *page;

	*major = false;
	for (;;) {
		page = lookup_swap_cache(entry);
		if (page) {
			if (!page->mapping)
				count_vm_event(SWAP_RA_HIT);
			return page;
		}
		if (swap_count(entry) <= 0) {
			*err = -KMM_EAGAIN;
			return NULL;
		}
		page = read_swap_slot(entry, GFP_HIGHUSER_MOVABLE, err);
		if (page) {
			*major = true;
			break;
		}
		if (*err != -KMM_EEXIST)
			return NULL;
	}
	/* The neighbours that went out with it, if memory is at hand. */
	for (unsigned long o = start; o < start + SWAP_RA_PAGES; o++) {
		swp_entry_t e = swp_entry(swp_type(entry), o);
		struct page *ra, *cached;
		int ra_err;

		if (o == off || o == 0 || swap_count(e) <= 0)
			continue;
		cached = lookup_swap_cache(e);
		if (cached) {
			put_anon_page(cached);
			continue;
		}
		ra = read_swap_slot(e, (GFP_HIGHUSER_MOVABLE & ~__GFP_DIRECT_RECLAIM) | __GFP_NOWARN,
				    &ra_err);
		if (!ra) {
			if (ra_err == -KMM_ENOMEM)
				break;
			continue;
		}
		count_vm_event(SWAP_RA);
		put_anon_page(ra);
	}
	return page;
}

unsigned long total_swapcache_pages(void)
{
	unsigned long sum = 0;
	struct zone *z;

	for_each_zone(z)
		sum += zone_page_state(z, NR_SWAPCACHE);
	return sum;
}
