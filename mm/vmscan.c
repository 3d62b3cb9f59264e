/*
 * Page-frame reclaiming (ULK3 ch. 17 "The Page Frame Reclaiming
 * Algorithm"): when free memory runs short, frames are taken back from the
 * page cache and from anonymous memory, choosing by the LRU lists of each
 * zone (mm/swap.c), and from the slab caches through their shrinkers.
 *
 * The design is Linux's classic split LRU (2.6.28 to 5.x, before MGLRU):
 *
 *  - Two lists per kind (anonymous, file): active and inactive. Reclaim
 *    takes pages only from the tail of an inactive list; the active list
 *    is aged into the inactive one when the inactive list is smaller
 *    than the active (times a ratio that grows with memory, Linux's
 *    inactive_ratio), so a page must be used again while it sits on the
 *    inactive list to be kept: the "second chance" of the book.
 *  - Uses are seen through the Accessed bits of the entries mapping a
 *    page (page_referenced, mm/rmap.c, which clears them) and through
 *    PG_referenced, which software sets (mark_page_accessed on read and
 *    write). An inactive page referenced by its entries is activated if it
 *    is anonymous, executable, mapped more than once or was referenced
 *    before; otherwise it is marked and gets one more round on the
 *    inactive list. An active page is deactivated however used, except a
 *    referenced executable file page (program text stays).
 *  - What is done with an inactive page: a clean file page is dropped from
 *    the cache; a dirty one is written back (when the caller may do I/O
 *    in file system code) and dropped if it is still clean afterwards; an
 *    anonymous page gets a swap slot and joins the swap cache
 *    (add_to_swap), every entry mapping it is replaced by its swap entry
 *    (try_to_unmap), it is written to its slot (synchronous I/O) and then
 *    freed. A page that is locked, under writeback, busy (someone else
 *    holds a reference) or in an mlocked area is skipped; one whose slot
 *    cannot be written stays in memory (and in the swap cache, its
 *    entries still naming the slot: the next fault finds it there).
 *  - Balance: each pass scans every list by 1/2^priority of its length,
 *    starting at priority 12 and halving it until enough is reclaimed.
 *    The anonymous and file shares of the scan follow swappiness (0..200,
 *    anon : file = swappiness : 200 - swappiness), each weighted by how
 *    few of the pages it scanned lately were referenced (Linux's
 *    recent_scanned / recent_rotated), so the kind that keeps being used
 *    is scanned less. Without free swap, anonymous pages are not scanned;
 *    when the file pages and free memory together are under the high
 *    watermark, only anonymous pages are.
 *  - Slab caches are shrunk at each priority in the same proportion
 *    (shrink_slab's count >> priority).
 *
 * Who reclaims. kswapd is a work item (arch_queue_work): the allocator
 * wakes it when a zone falls below its low watermark, and it works until
 * every zone is above high, a bounded amount each run (it queues itself
 * again while it makes progress). An allocation that may wait and finds
 * every zone below min reclaims itself (direct reclaim, try_to_free_pages,
 * called by the allocator's slow path with retries). Reclaim does not
 * re-enter itself: an allocation made while this CPU reclaims gets no
 * direct reclaim (Linux's PF_MEMALLOC). GFP flags say what reclaim may do:
 * swap-out and writeback need __GFP_IO, writeback __GFP_FS too; direct
 * reclaim writes file pages only once it is scanning hard (priority below
 * DEF_PRIORITY - 2), kswapd always may.
 *
 * Locking: no lock of this file; reclaim takes a page's lock with a
 * trylock only (the allocating caller may hold page locks), then the
 * reverse map's locks (anon_vma, i_mmap_lock, page_table_lock), the swap
 * and page-cache locks, and the zone's LRU lock (a leaf) to isolate and
 * put back pages, in the orders mm.h, fs.h and swap.h give. The per-CPU
 * reclaiming flags are written and read by their own CPU only.
 */
#include <kmm/errno.h>
#include <kmm/fs.h>
#include <kmm/mm.h>
#include <kmm/mmzone.h>
#include <kmm/page_alloc.h>
#include <kmm/printk.h>
#include <kmm/shrinker.h>
#include <kmm/swap.h>
#include <kmm/vmstat.h>

int vm_swappiness = 60;

/* Pages taken off a list at a time (Linux's SWAP_CLUSTER_MAX). */
#define SWAP_CLUSTER_MAX 32UL
/* shrink_all_memory's passes over every priority, at most. */
#define SHRINK_ALL_SWEEPS 4
/* kswapd's work in one run: then it queues itself again. */
#define KSWAPD_BATCH (32 * SWAP_CLUSTER_MAX)

struct scan_control {
	gfp_t gfp;
	unsigned int order;
	int priority;
	enum zone_type highest;       /* the zones an allocation may use */
	unsigned long nr_to_reclaim;
	unsigned long nr_reclaimed;
	unsigned long nr_scanned;
	bool may_writepage;           /* write dirty file pages */
	bool may_swap;                /* swap anonymous pages out */
	bool kswapd;
};

/* This CPU is reclaiming: its allocations must not reclaim again. */
static bool reclaiming[KMM_MAX_CPUS];

static struct kmm_work kswapd_work;
static _Atomic unsigned int kswapd_order;
static _Atomic unsigned int kswapd_highest;

static inline bool page_is_anon_lru(const struct page *page)
{
	return page_flag(page, PG_swapbacked);
}

/*
 * Whether anything still owns the page: the page cache (mapping set), or
 * for an anonymous page its mappings or the swap cache. A page nothing
 * owns was truncated or unmapped while reclaim held it: reclaim's
 * reference is the last one, or soon will be, and it is not put back.
 */
static bool page_owned(const struct page *page)
{
	uintptr_t m = (uintptr_t)page->mapping;

	if (page_is_anon_lru(page))
		return page_flag(page, PG_swapcache) || atomic_load(&page->_mapcount) >= 0;
	return m && !(m & PAGE_MAPPING_ANON);
}

static void test_clear_referenced(struct page *page, bool *was)
{
	*was = atomic_fetch_and_explicit(&page->flags, ~(1UL << PG_referenced),
					 memory_order_relaxed) & (1UL << PG_referenced);
}

/* ---- Ageing the active lists ---- */

/*
 * Linux's inactive_ratio: the inactive list may be this many times
 * smaller than the active one before it is refilled (1 below 1 GiB of the
 * kind, then sqrt(10 * GiB)).
 */
static bool inactive_is_low(struct zone *z, bool file)
{
	unsigned long inactive = lru_size(z, file ? LRU_INACTIVE_FILE : LRU_INACTIVE_ANON);
	unsigned long active = lru_size(z, file ? LRU_ACTIVE_FILE : LRU_ACTIVE_ANON);
	unsigned long gb = (inactive + active) >> (30 - PAGE_SHIFT);
	unsigned long ratio = 1;

	if (gb) {
		unsigned long want = 10 * gb;

		while ((ratio + 1) * (ratio + 1) <= want)
			ratio++;
	}
	return inactive * ratio < active;
}

static void shrink_active_list(struct zone *z, bool file, unsigned long nr,
			       struct scan_control *sc)
{
	struct list_head hold;
	unsigned long scanned = 0, referenced = 0, deactivated = 0;

	INIT_LIST_HEAD(&hold);
	isolate_lru_pages(z, file ? LRU_ACTIVE_FILE : LRU_ACTIVE_ANON, nr, &hold, &scanned);
	while (!list_empty(&hold)) {
		struct page *page = list_first_entry(&hold, struct page, lru);
		unsigned long vm_flags = 0;
		int refs = 1;   /* a page we cannot look at is in use */

		list_del(&page->lru);
		if (trylock_page(page)) {
			if (!page_owned(page)) {
				unlock_page(page);
				put_page(page);
				continue;
			}
			refs = atomic_load(&page->_mapcount) >= 0 ? page_referenced(page, &vm_flags)
								  : 0;
			unlock_page(page);
		}
		if (refs)
			referenced++;
		/* Program text that is in use stays: a scan must not push it out. */
		if (!(refs && file && (vm_flags & VM_EXEC))) {
			clear_page_flag(page, PG_active);
			deactivated++;
		}
		putback_lru_page(page);
	}
	count_vm_events(PGDEACTIVATE, deactivated);
	lru_note_scan(z, file, scanned, referenced);
}

/* ---- Reclaiming inactive pages ---- */

/*
 * Tries to free each page of pages (isolated, one reference each); what
 * stays goes to keep, with PG_active set on those to be activated.
 * Returns the pages freed.
 */
static unsigned long shrink_page_list(struct list_head *pages, struct list_head *keep,
				      struct scan_control *sc, unsigned long *activated)
{
	unsigned long freed = 0;

	while (!list_empty(pages)) {
		struct page *page = list_first_entry(pages, struct page, lru);
		bool anon, mapped, referenced_page;
		unsigned long vm_flags = 0;
		swp_entry_t entry;
		int referenced_ptes;

		list_del(&page->lru);
		entry.val = 0;
		if (!trylock_page(page))
			goto keep;
		if (!page_owned(page)) {
			unlock_page(page);
			put_page(page);   /* truncated or unmapped meanwhile */
			continue;
		}
		if (page_flag(page, PG_writeback))
			goto keep_locked;
		anon = page_is_anon_lru(page);
		mapped = atomic_load(&page->_mapcount) >= 0;

		referenced_ptes = mapped ? page_referenced(page, &vm_flags) : 0;
		test_clear_referenced(page, &referenced_page);
		if (vm_flags & VM_LOCKED) {
			set_page_flag(page, PG_unevictable);   /* mlocked: never reclaimed */
			goto keep_locked;
		}
		if (referenced_ptes) {
			if (anon || referenced_page || referenced_ptes > 1 || (vm_flags & VM_EXEC))
				goto activate_locked;
			/* Used once since it came here: one more round. */
			set_page_flag(page, PG_referenced);
			goto keep_locked;
		}

		if (anon && !page_flag(page, PG_swapcache)) {
			if (!sc->may_swap || add_to_swap(page))
				goto activate_locked;   /* no room on swap */
		}
		if (anon) {
			entry.val = page->private;
			if (swap_entry_closing(entry))
				goto activate_locked;   /* swapoff is taking it in */
			if (!mapped && swap_count(entry) == 1) {
				/* Only the cache names the slot: its owners are gone. */
				if (try_to_free_swap(page)) {
					unlock_page(page);
					put_page(page);
					continue;
				}
			}
		}
		if (mapped && !try_to_unmap(page))
			goto activate_locked;

		if (page_flag(page, PG_dirty)) {
			if (!anon) {
				int err;

				if (!sc->may_writepage)
					goto keep_locked;
				err = pageout_cache_page(page);   /* unlocks it */
				if (!trylock_page(page))
					goto keep;
				if (err || !page_owned(page) || page_flag(page, PG_dirty) ||
				    page_flag(page, PG_writeback) ||
				    atomic_load(&page->_mapcount) >= 0)
					goto keep_locked;
			} else {
				if (!(sc->gfp & __GFP_IO))
					goto keep_locked;
				/* Mapped nowhere and locked: no store can dirty it meanwhile. */
				clear_page_flag(page, PG_dirty);
				if (swap_writepage(page, entry)) {
					/* Kept, and in the swap cache, so no data is lost. */
					set_page_flag(page, PG_dirty);
					goto activate_locked;
				}
			}
		}

		/* Clean and mapped nowhere: it goes if no one else holds it. */
		if (anon ? !reclaim_swap_cache_page(page) : !reclaim_cache_page(page))
			goto keep_locked;
		unlock_page(page);
		clear_page_flag(page, PG_active);
		clear_page_flag(page, PG_referenced);
		release_page(page);
		freed++;
		continue;

activate_locked:
		set_page_flag(page, PG_active);
		(*activated)++;
keep_locked:
		unlock_page(page);
keep:
		list_add(&page->lru, keep);
	}
	return freed;
}

static void shrink_inactive_list(struct zone *z, bool file, unsigned long nr,
				 struct scan_control *sc)
{
	struct list_head isolated, keep;
	unsigned long scanned = 0, taken, freed, activated = 0;

	INIT_LIST_HEAD(&isolated);
	INIT_LIST_HEAD(&keep);
	taken = isolate_lru_pages(z, file ? LRU_INACTIVE_FILE : LRU_INACTIVE_ANON, nr,
				  &isolated, &scanned);
	if (!taken)
		return;
	count_vm_events(sc->kswapd ? PGSCAN_KSWAPD : PGSCAN_DIRECT, taken);
	sc->nr_scanned += taken;
	freed = shrink_page_list(&isolated, &keep, sc, &activated);
	while (!list_empty(&keep)) {
		struct page *page = list_first_entry(&keep, struct page, lru);

		list_del(&page->lru);
		if (!page_owned(page)) {
			put_page(page);
			continue;
		}
		if (!page_flag(page, PG_active))
			count_vm_event(PGROTATED);
		putback_lru_page(page);
	}
	count_vm_events(sc->kswapd ? PGSTEAL_KSWAPD : PGSTEAL_DIRECT, freed);
	count_vm_events(PGACTIVATE, activated);
	sc->nr_reclaimed += freed;
	lru_note_scan(z, file, taken, activated);
}

/* ---- Balancing the lists of a zone ---- */

static bool swap_space_left(void)
{
	unsigned long total, free;

	si_swapinfo(&total, &free);
	return free > 0;
}

/*
 * How many pages of each list to scan at this priority (Linux's
 * get_scan_count): anonymous against file by swappiness and by what each
 * kind's recent scans found referenced.
 */
static void get_scan_count(struct zone *z, struct scan_control *sc,
			   unsigned long nr[NR_LRU_LISTS])
{
	unsigned long anon = lru_size(z, LRU_ACTIVE_ANON) + lru_size(z, LRU_INACTIVE_ANON);
	unsigned long file = lru_size(z, LRU_ACTIVE_FILE) + lru_size(z, LRU_INACTIVE_FILE);
	uint64_t fraction[2], denominator;

	if (!sc->may_swap || !anon || !swap_space_left()) {
		fraction[0] = 0;
		fraction[1] = 1;
	} else if (!file || file + zone_page_state(z, NR_FREE_PAGES) <= z->watermark[WMARK_HIGH]) {
		/* The cache is (nearly) gone: only anonymous memory can give. */
		fraction[0] = 1;
		fraction[1] = 0;
	} else {
		uint64_t swappiness = (uint64_t)vm_swappiness;
		uint64_t rs[2], rr[2];

		spin_lock(&z->lruvec.lock);
		for (int k = 0; k < 2; k++) {
			rs[k] = z->lruvec.recent_scanned[k];
			rr[k] = z->lruvec.recent_rotated[k];
		}
		spin_unlock(&z->lruvec.lock);
		/* Cost of a kind: how often what it scanned was in use. */
		fraction[0] = (swappiness + 1) * (rs[0] + 1) / (rr[0] + 1);
		fraction[1] = (200 - swappiness + 1) * (rs[1] + 1) / (rr[1] + 1);
		if (!vm_swappiness)
			fraction[0] = 0;   /* swappiness 0: anonymous pages only when the cache is gone */
	}
	denominator = fraction[0] + fraction[1];
	if (!denominator)
		denominator = 1;
	for (int l = 0; l < LRU_UNEVICTABLE; l++) {
		bool is_file = l == LRU_INACTIVE_FILE || l == LRU_ACTIVE_FILE;
		unsigned long size = lru_size(z, (enum lru_list)l);
		unsigned long scan = sc->priority ? size >> sc->priority : size;

		/* Small lists are looked at too once the scan gets serious. */
		if (!scan && size && sc->priority < DEF_PRIORITY - 2)
			scan = MIN(size, SWAP_CLUSTER_MAX);
		nr[l] = (unsigned long)((uint64_t)scan * fraction[is_file] / denominator);
		if (!nr[l] && scan && fraction[is_file] && sc->priority < DEF_PRIORITY - 2)
			nr[l] = 1;
	}
	nr[LRU_UNEVICTABLE] = 0;
}

static void shrink_list(struct zone *z, enum lru_list l, unsigned long nr,
			struct scan_control *sc)
{
	bool file = l == LRU_INACTIVE_FILE || l == LRU_ACTIVE_FILE;

	if (l == LRU_ACTIVE_ANON || l == LRU_ACTIVE_FILE) {
		if (inactive_is_low(z, file))
			shrink_active_list(z, file, nr, sc);
		return;
	}
	shrink_inactive_list(z, file, nr, sc);
}

static void shrink_zone(struct zone *z, struct scan_control *sc)
{
	unsigned long nr[NR_LRU_LISTS];

	get_scan_count(z, sc, nr);
	while (nr[LRU_INACTIVE_ANON] || nr[LRU_ACTIVE_FILE] || nr[LRU_INACTIVE_FILE] ||
	       nr[LRU_ACTIVE_ANON]) {
		for (int l = 0; l < LRU_UNEVICTABLE; l++) {
			unsigned long n = MIN(nr[l], SWAP_CLUSTER_MAX);

			if (!n)
				continue;
			nr[l] -= n;
			shrink_list(z, (enum lru_list)l, n, sc);
		}
		/* Direct reclaim stops as soon as it has what it came for. */
		if (!sc->kswapd && sc->nr_reclaimed >= sc->nr_to_reclaim)
			break;
	}
	/* Anonymous pages age even when this pass did not scan them. */
	if (sc->may_swap && swap_space_left() && inactive_is_low(z, false))
		shrink_active_list(z, false, SWAP_CLUSTER_MAX, sc);
}

/* ---- Direct reclaim ---- */

static bool zone_balanced(struct zone *z, unsigned int order, enum zone_type highest)
{
	return zone_watermark_ok(z, order, z->watermark[WMARK_HIGH], highest, 0);
}

/* Priorities from 12 down to 0 until nr_to_reclaim pages are free. */
static unsigned long do_try_to_free_pages(struct scan_control *sc)
{
	unsigned long slab_freed = 0;

	for (sc->priority = DEF_PRIORITY; sc->priority >= 0; sc->priority--) {
		/* File pages are written only when reclaim gets serious. */
		if (!sc->kswapd)
			sc->may_writepage = (sc->gfp & __GFP_FS) && (sc->gfp & __GFP_IO) &&
					    sc->priority < DEF_PRIORITY - 2;
		for (struct zone **zp = kmm_node->zonelist[sc->highest]; *zp; zp++)
			if (populated_zone(*zp))
				shrink_zone(*zp, sc);
		if (sc->gfp & __GFP_FS)
			slab_freed += shrink_slab(sc->gfp, sc->priority);
		if (sc->nr_reclaimed >= sc->nr_to_reclaim)
			break;
	}
	/* Slab objects freed count as progress: their frames may be free now. */
	return sc->nr_reclaimed + (slab_freed ? 1 : 0);
}

static enum zone_type gfp_highest_zone(gfp_t gfp)
{
	if (gfp & __GFP_DMA)
		return ZONE_DMA;
	if (gfp & __GFP_DMA32)
		return ZONE_DMA32;
	return ZONE_NORMAL;
}

unsigned long try_to_free_pages(gfp_t gfp, unsigned int order)
{
	unsigned int cpu = arch_this_cpu();
	struct scan_control sc = {
		.gfp = gfp,
		.order = order,
		.highest = gfp_highest_zone(gfp),
		.nr_to_reclaim = SWAP_CLUSTER_MAX << MIN(order, 4u),
		.may_swap = (gfp & __GFP_IO) != 0,
	};
	unsigned long progress;

	if (reclaiming[cpu])
		return 0;   /* an allocation of reclaim itself: no recursion */
	reclaiming[cpu] = true;
	count_vm_event(ALLOCSTALL);
	progress = do_try_to_free_pages(&sc);
	reclaiming[cpu] = false;
	return progress;
}

static unsigned long direct_reclaim(gfp_t gfp, unsigned int order)
{
	return try_to_free_pages(gfp, order);
}

/* ---- kswapd ---- */

/*
 * One run of kswapd: every zone below its high watermark is shrunk, from
 * priority 12 down, until it is balanced or this run's batch is done.
 * Returns the pages freed; *balanced says whether every zone is.
 */
static unsigned long balance_node(unsigned int order, enum zone_type highest,
				  unsigned long batch, bool *balanced)
{
	struct scan_control sc = {
		.gfp = GFP_KERNEL,
		.order = order,
		.highest = highest,
		.nr_to_reclaim = batch,
		.may_writepage = true,
		.may_swap = true,
		.kswapd = true,
	};

	*balanced = true;
	for (sc.priority = DEF_PRIORITY; sc.priority >= 0; sc.priority--) {
		bool all_ok = true;

		for (struct zone **zp = kmm_node->zonelist[highest]; *zp; zp++) {
			if (!populated_zone(*zp) || zone_balanced(*zp, order, highest))
				continue;
			all_ok = false;
			shrink_zone(*zp, &sc);
		}
		if (all_ok)
			return sc.nr_reclaimed;
		shrink_slab(GFP_KERNEL, sc.priority);
		if (sc.nr_reclaimed >= batch)
			break;
	}
	for (struct zone **zp = kmm_node->zonelist[highest]; *zp; zp++)
		if (populated_zone(*zp) && !zone_balanced(*zp, order, highest))
			*balanced = false;
	return sc.nr_reclaimed;
}

static void kswapd_fn(struct kmm_work *work)
{
	unsigned int cpu = arch_this_cpu();
	unsigned int order = atomic_exchange(&kswapd_order, 0);
	enum zone_type highest = (enum zone_type)atomic_load(&kswapd_highest);
	unsigned long freed;
	bool balanced;

	if (reclaiming[cpu]) {
		arch_queue_work(work, 1000000);   /* this CPU is busy reclaiming: later */
		return;
	}
	reclaiming[cpu] = true;
	if (page_alloc_use_pcp && nr_pcp_pages())
		drain_all_pages();
	freed = balance_node(order, highest, KSWAPD_BATCH, &balanced);
	reclaiming[cpu] = false;
	/* Bounded work: go on in the next run while there is progress to make. */
	if (!balanced && freed)
		arch_queue_work(work, 0);
}

static void wakeup_kswapd(struct zone *z, unsigned int order, enum zone_type highest)
{
	unsigned int cur;

	if (!populated_zone(z) || zone_balanced(z, order, highest))
		return;
	cur = atomic_load(&kswapd_order);
	while (order > cur && !atomic_compare_exchange_weak(&kswapd_order, &cur, order))
		;
	if (highest > atomic_load(&kswapd_highest))
		atomic_store(&kswapd_highest, highest);
	arch_queue_work(&kswapd_work, 0);
}

unsigned long shrink_all_memory(unsigned long nr)
{
	unsigned int cpu = arch_this_cpu();
	struct scan_control sc = {
		.gfp = GFP_KERNEL,
		.highest = ZONE_NORMAL,
		.nr_to_reclaim = nr,
		.may_writepage = true,
		.may_swap = true,
		.kswapd = true,
	};

	if (reclaiming[cpu])
		return 0;
	reclaiming[cpu] = true;
	/*
	 * Sweeps of every priority while they make progress: pages used
	 * lately are activated by the first and aged by the next (a page
	 * needs two looks to go), as in Linux's shrink_all_memory passes.
	 */
	for (unsigned int sweep = 0; sweep < SHRINK_ALL_SWEEPS && sc.nr_reclaimed < nr; sweep++) {
		unsigned long before = sc.nr_reclaimed, scanned = sc.nr_scanned;

		for (sc.priority = DEF_PRIORITY; sc.priority >= 0 && sc.nr_reclaimed < nr;
		     sc.priority--) {
			for (struct zone **zp = kmm_node->zonelist[ZONE_NORMAL]; *zp; zp++)
				if (populated_zone(*zp))
					shrink_zone(*zp, &sc);
			shrink_slab(GFP_KERNEL, sc.priority);
		}
		if (sc.nr_reclaimed == before && sc.nr_scanned == scanned)
			break;
	}
	reclaiming[cpu] = false;
	return sc.nr_reclaimed;
}

void reclaim_init(int swappiness)
{
	vm_swappiness = swappiness < 0 ? 60 : swappiness > 200 ? 200 : swappiness;
	for (unsigned int i = 0; i < KMM_MAX_CPUS; i++)
		reclaiming[i] = false;
	kswapd_work = (struct kmm_work){ .fn = kswapd_fn };
	atomic_store(&kswapd_order, 0);
	atomic_store(&kswapd_highest, ZONE_DMA);
	wakeup_kswapd_hook = wakeup_kswapd;
	direct_reclaim_hook = direct_reclaim;
}
