/*
 * The LRU lists (ULK3 ch. 17 "The Least Recently Used (LRU) Lists"): every
 * page reclaim may take is on one list of its zone's lruvec, by kind
 * (anonymous: PG_swapbacked; file) and by age (active, inactive), or on
 * the unevictable list. Pages enter at the head of the inactive list when
 * first mapped or cached; a second use seen while inactive (the Accessed
 * bit through the reverse map, or mark_page_accessed from software)
 * promotes them to the active list; reclaim (mm/vmscan.c) refills the
 * inactive list from the tail of the active one and takes pages from the
 * tail of the inactive one. That is the two-handed clock the book calls
 * "a page is referenced twice before it is considered active".
 *
 * The lists hold no reference: a page is taken off its list when its last
 * reference goes (put_anon_page, or the page cache's delete). Reclaim
 * isolates a page by taking a reference under the list lock, and only if
 * the count was not already zero, so it never revives a page being freed.
 *
 * Locking: zone->lruvec.lock (mmzone.h) protects the lists and the PG_lru,
 * PG_active and PG_unevictable bits of the pages on them. It is a leaf.
 */
#include <kmm/fs.h>
#include <kmm/mm.h>
#include <kmm/mmzone.h>
#include <kmm/page_alloc.h>
#include <kmm/swap.h>
#include <kmm/vmstat.h>

#include "vma_internal.h"

void lru_init(void)
{
	struct zone *z;

	for_each_zone(z) {
		spin_lock_init(&z->lruvec.lock);
		for (int l = 0; l < NR_LRU_LISTS; l++)
			INIT_LIST_HEAD(&z->lruvec.lists[l]);
		for (int k = 0; k < 2; k++)
			z->lruvec.recent_scanned[k] = z->lruvec.recent_rotated[k] = 0;
	}
}

/* The list a page's flags name. */
static enum lru_list page_lru(const struct page *page)
{
	if (page_flag(page, PG_unevictable))
		return LRU_UNEVICTABLE;
	if (page_flag(page, PG_swapbacked))
		return page_flag(page, PG_active) ? LRU_ACTIVE_ANON : LRU_INACTIVE_ANON;
	return page_flag(page, PG_active) ? LRU_ACTIVE_FILE : LRU_INACTIVE_FILE;
}

/* Under the lock: the page goes to the head of its list. */
static void add_page_to_lru(struct zone *z, struct page *page)
{
	enum lru_list l = page_lru(page);

	set_page_flag(page, PG_lru);
	list_add(&page->lru, &z->lruvec.lists[l]);
	mod_zone_page_state(z, NR_LRU_BASE + l, 1);
}

static void del_page_from_lru(struct zone *z, struct page *page)
{
	enum lru_list l = page_lru(page);

	clear_page_flag(page, PG_lru);
	list_del(&page->lru);
	mod_zone_page_state(z, NR_LRU_BASE + l, -1);
}

static void __lru_cache_add(struct page *page, bool active)
{
	struct zone *z = page_zone(page);

	spin_lock(&z->lruvec.lock);
	BUG_ON(page_flag(page, PG_lru));
	if (active)
		set_page_flag(page, PG_active);
	add_page_to_lru(z, page);
	spin_unlock(&z->lruvec.lock);
}

void lru_cache_add(struct page *page)
{
	__lru_cache_add(page, false);
}

void lru_cache_add_active(struct page *page)
{
	__lru_cache_add(page, true);
}

void lru_del(struct page *page)
{
	struct zone *z = page_zone(page);

	if (!page_flag(page, PG_lru))
		return;
	spin_lock(&z->lruvec.lock);
	if (page_flag(page, PG_lru))
		del_page_from_lru(z, page);
	spin_unlock(&z->lruvec.lock);
}

/*
 * inactive,unreferenced -> inactive,referenced -> active,unreferenced, as
 * Linux's mark_page_accessed: a single use only marks the page.
 */
void mark_page_accessed(struct page *page)
{
	struct zone *z = page_zone(page);

	if (!page_flag(page, PG_referenced)) {
		set_page_flag(page, PG_referenced);
		return;
	}
	if (page_flag(page, PG_active) || page_flag(page, PG_unevictable))
		return;
	spin_lock(&z->lruvec.lock);
	if (page_flag(page, PG_lru) && !page_flag(page, PG_active)) {
		del_page_from_lru(z, page);
		set_page_flag(page, PG_active);
		add_page_to_lru(z, page);
		count_vm_event(PGACTIVATE);
	}
	spin_unlock(&z->lruvec.lock);
	clear_page_flag(page, PG_referenced);
}

void release_page(struct page *page)
{
	struct anon_vma *av;
	uintptr_t m;

	BUG_ON(page_ref_count(page) != 0);
	if (atomic_load(&page->_mapcount) != -1 || page_flag(page, PG_swapcache))
		panic("release_page: page %#lx freed while mapped (%d) or in the swap cache "
		      "(flags %#lx)", page_to_pfn(page), atomic_load(&page->_mapcount),
		      (unsigned long)atomic_load(&page->flags));
	lru_del(page);
	m = (uintptr_t)page->mapping;
	av = (m & PAGE_MAPPING_ANON) ? (struct anon_vma *)(m & ~PAGE_MAPPING_ANON) : NULL;
	page->mapping = NULL;
	clear_page_flag(page, PG_active);
	clear_page_flag(page, PG_unevictable);
	set_page_count(page, 1);
	__free_page(page);
	if (av)
		anon_vma_put(av);
}

void put_anon_page(struct page *page)
{
	if (put_page_testzero(page))
		release_page(page);
}

/* ---- Reclaim's side ---- */

/* A reference, unless the count already reached 0 (the page is being freed). */
static bool get_page_unless_zero(struct page *page)
{
	int c = atomic_load_explicit(&page->_refcount, memory_order_relaxed);

	while (c > 0)
		if (atomic_compare_exchange_weak_explicit(&page->_refcount, &c, c + 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return true;
	return false;
}

unsigned long isolate_lru_pages(struct zone *z, enum lru_list l, unsigned long nr,
				struct list_head *dst, unsigned long *scanned)
{
	struct list_head *src = &z->lruvec.lists[l];
	unsigned long taken = 0, seen = 0, len;

	spin_lock(&z->lruvec.lock);
	len = zone_page_state(z, NR_LRU_BASE + l);
	while (taken < nr && seen < len && !list_empty(src)) {
		struct page *page = list_last_entry(src, struct page, lru);

		seen++;
		if (!get_page_unless_zero(page)) {
			/* Its last holder is freeing it (and will take it off the
			   list): out of the way, at the head. */
			list_move(&page->lru, src);
			continue;
		}
		del_page_from_lru(z, page);
		list_add(&page->lru, dst);
		taken++;
	}
	spin_unlock(&z->lruvec.lock);
	*scanned += seen;
	return taken;
}

void putback_lru_page(struct page *page)
{
	struct zone *z = page_zone(page);

	spin_lock(&z->lruvec.lock);
	add_page_to_lru(z, page);
	spin_unlock(&z->lruvec.lock);
	/* Maybe the last reference: its owner let it go meanwhile. */
	put_anon_page(page);
}

unsigned long lru_size(struct zone *z, enum lru_list l)
{
	return zone_page_state(z, NR_LRU_BASE + l);
}

void lru_note_scan(struct zone *z, bool file, unsigned long scanned, unsigned long rotated)
{
	struct lruvec *v = &z->lruvec;
	unsigned long size;

	spin_lock(&v->lock);
	size = zone_page_state(z, NR_LRU_BASE + (file ? LRU_INACTIVE_FILE : LRU_INACTIVE_ANON)) +
	       zone_page_state(z, NR_LRU_BASE + (file ? LRU_ACTIVE_FILE : LRU_ACTIVE_ANON));
	v->recent_scanned[file] += scanned;
	v->recent_rotated[file] += rotated;
	/* Forget slowly: the counts describe the last quarter of the lists' worth. */
	if (v->recent_scanned[file] > size / 4 + 32) {
		v->recent_scanned[file] /= 2;
		v->recent_rotated[file] /= 2;
	}
	spin_unlock(&v->lock);
}

/* ---- Invariant checker ---- */

int lru_check(void)
{
	struct zone *z;

	for_each_zone(z) {
		spin_lock(&z->lruvec.lock);
		for (int l = 0; l < NR_LRU_LISTS; l++) {
			unsigned long n = 0;
			struct page *page;

			list_for_each_entry(page, &z->lruvec.lists[l], lru) {
				if (!page_flag(page, PG_lru) || page_lru(page) != (enum lru_list)l)
					panic("lru_check: page %#lx (flags %#lx) on %s list %d",
					      page_to_pfn(page),
					      (unsigned long)atomic_load(&page->flags), z->name, l);
				if (page_zone(page) != z)
					panic("lru_check: page %#lx of zone %s on %s's list",
					      page_to_pfn(page), page_zone(page)->name, z->name);
				if (page_ref_count(page) < 1)
					panic("lru_check: free page %#lx on an LRU list",
					      page_to_pfn(page));
				/* Owned by the page cache, or by anonymous memory
				   (an anon_vma, or the swap cache for a page read
				   ahead). */
				if (l != LRU_UNEVICTABLE &&
				    (page_flag(page, PG_swapbacked)
					     ? !((uintptr_t)page->mapping & PAGE_MAPPING_ANON) &&
						       !page_flag(page, PG_swapcache)
					     : !page->mapping ||
						       ((uintptr_t)page->mapping & PAGE_MAPPING_ANON)))
					panic("lru_check: page %#lx on %s list %d belongs to "
					      "nobody (mapping %p, flags %#lx)", page_to_pfn(page),
					      z->name, l, (void *)page->mapping,
					      (unsigned long)atomic_load(&page->flags));
				n++;
			}
			if (n != zone_page_state(z, NR_LRU_BASE + l))
				panic("lru_check: %s list %d holds %lu pages, counter says %lu",
				      z->name, l, n, zone_page_state(z, NR_LRU_BASE + l));
		}
		spin_unlock(&z->lruvec.lock);
	}
	return 0;
}
