/*
 * The reverse map. The file side (ULK3 ch. 17 "Reverse Mapping for
 * Mapped Pages"): from a page-cache page to the page-table entries that map
 * it, through the areas on its mapping's i_mmap list. A file page at
 * offset index is mapped by an area that covers it at
 *   vm_start + ((index - vm_pgoff) << PAGE_SHIFT)
 * so no per-page list is needed (the object-based reverse map).
 *
 * page_mkclean is what writeback needs: before a mapped dirty page is
 * written, every shared entry that maps it loses its write permission and
 * its Dirty bit (moved to the page), so a store after the write faults and
 * dirties the page again instead of changing it unseen. Private areas map
 * the cache page read-only (a store copies it), so they are skipped.
 *
 * Locking: the caller holds the page lock; i_mmap_lock is taken around the
 * walk, each mm's page_table_lock around its entry (the order of fs.h);
 * TLB flushes are sent with page_table_lock dropped, as arch.h asks.
 */
#include <kmm/fs.h>
#include <kmm/mm.h>
#include <kmm/mmzone.h>
#include <kmm/swap.h>

int page_mkclean(struct page *page)
{
	struct address_space *m = page->mapping;
	unsigned long pfn = page_to_pfn(page);
	struct vm_area *vma;
	int dirty = 0;

	if (!m || ((uintptr_t)m & PAGE_MAPPING_ANON))
		return 0;
	spin_lock(&m->i_mmap_lock);
	list_for_each_entry(vma, &m->i_mmap, shared_node) {
		unsigned long pages = (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;
		struct mm *mm = vma->vm_mm;
		uintptr_t addr;
		pteval_t *ptep, old, new;
		bool changed = false;

		if (!(vma->vm_flags & VM_SHARED) || page->index < vma->vm_pgoff ||
		    page->index - vma->vm_pgoff >= pages)
			continue;
		addr = vma->vm_start + ((page->index - vma->vm_pgoff) << PAGE_SHIFT);
		spin_lock(&mm->page_table_lock);
		ptep = pte_lookup(mm, addr);
		if (ptep) {
			old = pte_read(ptep);
			/* The MMU may set A/D meanwhile: compare-and-swap. */
			while (pte_present(old) && pte_pfn(old) == pfn &&
			       (pte_write(old) || pte_dirty(old))) {
				new = old & ~(_PAGE_RW | _PAGE_DIRTY);
				if (pte_cmpxchg(ptep, &old, new)) {
					changed = true;
					if (pte_dirty(old))
						dirty++;
					break;
				}
			}
		}
		spin_unlock(&mm->page_table_lock);
		if (changed)
			arch_flush_tlb_page(mm, addr);
	}
	spin_unlock(&m->i_mmap_lock);
	if (dirty)
		set_page_dirty(page);
	return dirty;
}

/*
 * The anonymous side (ULK3 ch. 17 "Reverse Mapping for Anonymous Pages"):
 * a private page's mapping is its anon_vma (bit 0 set), whose list holds
 * every area that may map it — the area that faulted it and, after fork,
 * the children's copies of that area. The page's index is its linear
 * offset, so each area has one address where it may map the page, as for
 * files. A page read ahead from swap and not mapped yet has no anon_vma.
 *
 * Locking: the caller holds the page lock (so no fault maps the page from
 * the swap cache meanwhile); anon_vma->lock (or i_mmap_lock) around the
 * walk, then each mm's page_table_lock around its entry (mm.h's order);
 * the page holds a reference on its anon_vma, so it stays while we walk,
 * and an area on the list cannot be freed (unlinking takes the lock).
 */

/* Called for each (area, address) that may map page; stops at false. */
typedef bool (*rmap_one_fn)(struct page *page, struct vm_area *vma, uintptr_t addr,
			    void *arg);

/* Calls fn for the address where vma may map page; false: stop the walk. */
static inline bool rmap_one(struct page *page, struct vm_area *vma, rmap_one_fn fn, void *arg)
{
	unsigned long pages = (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;

	if (page->index < vma->vm_pgoff || page->index - vma->vm_pgoff >= pages)
		return true;
	return fn(page, vma, vma->vm_start + ((page->index - vma->vm_pgoff) << PAGE_SHIFT), arg);
}

static void rmap_walk(struct page *page, rmap_one_fn fn, void *arg)
{
	uintptr_t m = (uintptr_t)page->mapping;
	struct vm_area *vma;

	if (!m)
		return;
	if (m & PAGE_MAPPING_ANON) {
		struct anon_vma *av = (struct anon_vma *)(m & ~PAGE_MAPPING_ANON);

		spin_lock(&av->lock);
		list_for_each_entry(vma, &av->head, anon_vma_node)
			if (!rmap_one(page, vma, fn, arg))
				break;
		spin_unlock(&av->lock);
	} else {
		struct address_space *as = (struct address_space *)m;

		spin_lock(&as->i_mmap_lock);
		list_for_each_entry(vma, &as->i_mmap, shared_node)
			if (!rmap_one(page, vma, fn, arg))
				break;
		spin_unlock(&as->i_mmap_lock);
	}
}

struct referenced_arg {
	int referenced;
	unsigned long vm_flags;
	int mapcount;    /* entries still to find: the walk stops at 0 */
};

static bool referenced_one(struct page *page, struct vm_area *vma, uintptr_t addr, void *arg)
{
	struct referenced_arg *ra = arg;
	struct mm *mm = vma->vm_mm;
	pteval_t *ptep;
	bool young = false, found = false;

	spin_lock(&mm->page_table_lock);
	ptep = pte_lookup(mm, addr);
	if (ptep) {
		pteval_t e = pte_read(ptep);

		if (pte_present(e) && !pte_special(e) && pte_pfn(e) == page_to_pfn(page)) {
			found = true;
			young = ptep_test_and_clear_young(ptep);
		}
	}
	spin_unlock(&mm->page_table_lock);
	if (young) {
		/* The next use must set the bit again, so no CPU may keep it cached. */
		arch_flush_tlb_page(mm, addr);
		ra->referenced++;
		ra->vm_flags |= vma->vm_flags;
	}
	if (found)
		ra->mapcount--;
	return ra->mapcount > 0;
}

int page_referenced(struct page *page, unsigned long *vm_flags)
{
	struct referenced_arg ra = {
		.mapcount = atomic_load(&page->_mapcount) + 1,
	};

	if (ra.mapcount > 0)
		rmap_walk(page, referenced_one, &ra);
	if (vm_flags)
		*vm_flags = ra.vm_flags;
	return ra.referenced;
}

struct unmap_arg {
	bool failed;
};

static bool unmap_one(struct page *page, struct vm_area *vma, uintptr_t addr, void *arg)
{
	struct unmap_arg *ua = arg;
	struct mm *mm = vma->vm_mm;
	bool anon = page_flag(page, PG_swapbacked);
	swp_entry_t entry = { page->private };
	pteval_t *ptep, e = 0;
	bool cleared = false;

	if (vma->vm_flags & VM_LOCKED) {
		ua->failed = true;   /* mlocked: the page is unevictable */
		return false;
	}
	spin_lock(&mm->page_table_lock);
	ptep = pte_lookup(mm, addr);
	if (ptep) {
		e = pte_read(ptep);
		if (pte_present(e) && !pte_special(e) && pte_pfn(e) == page_to_pfn(page)) {
			if (anon && swap_duplicate(entry)) {
				ua->failed = true;
			} else {
				e = ptep_get_and_clear(ptep);
				if (anon) {
					set_pte(ptep, swp_entry_to_pte(entry));
					add_mm_counter(mm, MM_ANONPAGES, -1);
					add_mm_counter(mm, MM_SWAPENTS, 1);
				} else {
					add_mm_counter(mm, MM_FILEPAGES, -1);
				}
				cleared = true;
			}
		}
	}
	spin_unlock(&mm->page_table_lock);
	if (!cleared)
		return !ua->failed;
	arch_flush_tlb_page(mm, addr);
	if (pte_dirty(e)) {
		if (anon)
			set_page_flag(page, PG_dirty);
		else
			set_page_dirty(page);
	}
	page_remove_rmap(page);
	return atomic_load(&page->_mapcount) >= 0;
}

bool try_to_unmap(struct page *page)
{
	struct unmap_arg ua = { false };

	if (page_flag(page, PG_swapbacked) && !page_flag(page, PG_swapcache))
		return false;   /* nowhere to put it */
	if (atomic_load(&page->_mapcount) >= 0)
		rmap_walk(page, unmap_one, &ua);
	return !ua.failed && atomic_load(&page->_mapcount) < 0;
}
