/*
 * The file side of the reverse map (ULK3 ch. 17 "Reverse Mapping for
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
