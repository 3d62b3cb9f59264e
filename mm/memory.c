/*
 * Page tables and the page-fault handler: the bottom half of a process
 * address space (ULK3 chapter 2 "Paging in Linux", chapter 9 "Process Address
 * Space": demand paging, copy on write).
 *
 * Page tables are x86-64's four levels (include/kmm/pgtable.h) in ordinary
 * frames of emulated RAM, so the arch's MMU (arch/emu/mmu.c) walks exactly
 * what the core writes. Tables are allocated on the first fault below them
 * and freed by free_pgtables when munmap leaves them empty. Every table frame
 * of an mm, the PML4 included, is counted in mm->pgtables_bytes (VmPTE) and
 * in the zone's NR_PAGETABLE (PageTables).
 *
 * Faults. A private anonymous area starts with no entries: a read fault
 * maps the shared zero page read-only (_PAGE_SPECIAL: no reference, no
 * rss), a write fault maps a fresh zeroed frame writable and dirty. Pages of
 * a private writable area that fork shares are mapped read-only in both
 * mms; a write to one is a copy-on-write fault that copies the page, or
 * takes it back writable when the faulting entry is its only mapping
 * (_mapcount 0 and no other reference), as Linux's do_wp_page reuses.
 * Shared anonymous areas take their pages from a struct shared_anon, a
 * radix tree of frames indexed by page offset that every sharer finds.
 *
 * File areas take their pages from the page cache (filemap_fault, which
 * reads the page if it is not cached: a major fault). A private file area
 * maps the cache page read-only and copies it into an anonymous page on
 * the first write (COW from the file: the file never sees the store). A
 * shared file area maps the cache page itself; a read fault maps it
 * read-only, so the first store faults and marks the page dirty
 * (set_page_dirty, Linux's write-notify), and later stores leave the D bit
 * in the entry, which writeback collects through page_mkclean and msync
 * through vma_collect_dirty. A store fault takes the page lock before
 * it makes the entry writable, so it waits for a writeback in progress
 * (which holds the lock from page_mkclean to the end of the write): no
 * store reaches a page while it is being written. set_page_dirty takes
 * the mapping's tree_lock, which comes before page_table_lock: it is
 * called with page_table_lock dropped. A page past the end of the file is
 * SIGBUS.
 *
 * Accounting kept exact, checked by mm_check and mm_rmap_check:
 *   page->_refcount  one per page-table entry mapping the page (plus one
 *                    held by a shared_anon object for its pages, or the
 *                    page cache's one for a file page);
 *   page->_mapcount  entries mapping it, minus one (-1: unmapped);
 *   page->mapping    a private anonymous page's anon_vma | PAGE_MAPPING_ANON
 *                    (the page holds a reference on it), page->index its
 *                    linear page offset; NULL for shared_anon pages;
 *                    a file page's mapping is its address_space (bit 0
 *                    clear), index its offset in the file;
 *   rss              MM_ANONPAGES / MM_SHMEMPAGES / MM_FILEPAGES count
 *                    entries, not pages;
 *   NR_ANON_MAPPED   private anonymous pages with _mapcount >= 0;
 *   NR_FILE_MAPPED   page-cache pages with _mapcount >= 0;
 *   NR_SHMEM         pages held by shared_anon objects, mapped or not.
 *
 * TLB. Changing or clearing a present entry is followed by an arch flush,
 * and a frame (or table) that was reachable is freed only after it: the
 * arch's flush returns when no CPU can still use the old translation.
 * Permission upgrades (COW reuse, a fault filling an empty entry) need no
 * flush: a stale entry only faults again.
 *
 * Locking: callers hold mm->mmap_lock (faults, madvise: read; munmap,
 * mprotect, mremap, fork, exit: write). mm->page_table_lock serialises
 * installing tables and entries between concurrent faults of one mm; the
 * MMU changes entries only by compare-and-swap of A/D bits, so the core
 * changes present entries with atomic operations too. A shared_anon's
 * lock is taken with no other lock held. anon_vma_prepare (mm/fork.c)
 * publishes an area's first anon_vma under page_table_lock.
 * TLB flushes are issued with page_table_lock dropped (arch.h).
 */
#include <kmm/errno.h>
#include <kmm/fs.h>
#include <kmm/mm.h>
#include <kmm/mman.h>
#include <kmm/page_alloc.h>
#include <kmm/printk.h>
#include <kmm/slab.h>
#include <kmm/string.h>
#include <kmm/swap.h>
#include <kmm/vmstat.h>

#include "filemap_internal.h"
#include "vma_internal.h"

struct page *zero_page;

/* Entries of upper levels: permissions are decided at the last level. */
#define TABLE_PROT (_PAGE_PRESENT | _PAGE_RW | _PAGE_USER)
/* Frames given to user pages: movable (anti-fragmentation). */
#define GFP_USER_PAGE (GFP_HIGHUSER_MOVABLE)

static inline pteval_t *table_at(pteval_t entry)
{
	return phys_to_virt(entry & PTE_PFN_MASK);
}

static inline pteval_t *pgd_table(struct mm *mm)
{
	return phys_to_virt(mm->pgd);
}

static inline unsigned long zero_pfn(void)
{
	return page_to_pfn(zero_page);
}

static inline unsigned long linear_page_index(const struct vm_area *vma, uintptr_t addr)
{
	return vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
}

static inline struct anon_vma *page_anon_vma(const struct page *page)
{
	uintptr_t m = (uintptr_t)page->mapping;

	return (m & PAGE_MAPPING_ANON) ? (struct anon_vma *)(m & ~PAGE_MAPPING_ANON) : NULL;
}

/* A page-cache page (mapping set, not anonymous). */
static inline bool page_is_file(const struct page *page)
{
	uintptr_t m = (uintptr_t)page->mapping;

	return m && !(m & PAGE_MAPPING_ANON);
}

/* The rss counter an entry of vma mapping page counts in. */
static inline enum mm_counter mm_counter_of(const struct vm_area *vma, const struct page *page)
{
	if (vma->vm_shared)
		return MM_SHMEMPAGES;
	return page_is_file(page) ? MM_FILEPAGES : MM_ANONPAGES;
}

/* Two views of one entry that differ only in bits the MMU sets. */
static inline bool pte_same(pteval_t a, pteval_t b)
{
	return ((a ^ b) & ~(pteval_t)(_PAGE_ACCESSED | _PAGE_DIRTY)) == 0;
}

/* ---- Boot ---- */

/*
 * The zero page is part of the kernel image, as Linux's empty_zero_page is
 * in its BSS: the image's last frame, reserved by memblock, never given to
 * the page allocator, so booting costs the allocator nothing.
 */
int memory_init(void)
{
	phys_addr_t base, size;
	struct page *page;

	arch_kernel_image(&base, &size);
	if (size < PAGE_SIZE)
		return -KMM_ENOMEM;
	page = pfn_to_page(PHYS_PFN(base + size) - 1);
	if (!page_flag(page, PG_reserved))
		panic("memory_init: the kernel image's last frame %#lx is not reserved",
		      page_to_pfn(page));
	memset(page_address(page), 0, PAGE_SIZE);
	zero_page = page;
	return 0;
}

/* ---- Table frames ---- */

static void table_account(struct mm *mm, struct page *page, long n)
{
	atomic_fetch_add_explicit(&mm->pgtables_bytes, n * (long)PAGE_SIZE,
				  memory_order_relaxed);
	mod_zone_page_state(page_zone(page), NR_PAGETABLE, n);
}

int pgd_alloc(struct mm *mm)
{
	struct page *page = alloc_page(GFP_KERNEL | __GFP_ZERO);

	if (!page)
		return -KMM_ENOMEM;
	mm->pgd = PFN_PHYS(page_to_pfn(page));
	table_account(mm, page, 1);
	return 0;
}

/*
 * Frees the tables below table (a table of level), which must map nothing:
 * a page still mapped when its mm is freed would leak its frame.
 */
static void free_tables_below(struct mm *mm, pteval_t *table, int level)
{
	for (unsigned int i = 0; i < PTRS_PER_TABLE; i++) {
		pteval_t e = pte_read(&table[i]);

		if (pte_none(e))
			continue;
		if (level == 0)
			panic("pgd_free: mm %p still maps entry %#llx", (void *)mm,
			      (unsigned long long)e);
		free_tables_below(mm, table_at(e), level - 1);
		set_pte(&table[i], 0);
		table_account(mm, virt_to_page(table_at(e)), -1);
		__free_page(virt_to_page(table_at(e)));
	}
}

void pgd_free(struct mm *mm)
{
	struct page *page;

	if (!mm->pgd)
		return;
	free_tables_below(mm, pgd_table(mm), 3);
	page = pfn_to_page(PHYS_PFN(mm->pgd));
	table_account(mm, page, -1);
	__free_page(page);
	mm->pgd = 0;
}

pteval_t *pte_lookup(struct mm *mm, uintptr_t addr)
{
	pteval_t *table = pgd_table(mm);

	if (addr >= TASK_SIZE)
		return NULL;
	for (int level = 3; level > 0; level--) {
		pteval_t e = pte_read(&table[pt_index(addr, level)]);

		if (!pte_present(e))
			return NULL;
		table = table_at(e);
	}
	return &table[pt_index(addr, 0)];
}

/*
 * The table frame is allocated before taking page_table_lock (the allocator
 * may work hard); a fault that lost the race frees its spare.
 */
pteval_t *pte_alloc(struct mm *mm, uintptr_t addr)
{
	pteval_t *table = pgd_table(mm);

	if (addr >= TASK_SIZE)
		return NULL;
	for (int level = 3; level > 0; level--) {
		pteval_t *ep = &table[pt_index(addr, level)];
		pteval_t e = pte_read(ep);

		if (unlikely(!pte_present(e))) {
			struct page *page = alloc_page(GFP_KERNEL | __GFP_ZERO);

			if (!page)
				return NULL;
			spin_lock(&mm->page_table_lock);
			e = pte_read(ep);
			if (!pte_present(e)) {
				BUG_ON(!pte_none(e));
				e = pfn_pte(page_to_pfn(page), TABLE_PROT);
				set_pte(ep, e);
				table_account(mm, page, 1);
				page = NULL;
			}
			spin_unlock(&mm->page_table_lock);
			if (page)
				__free_page(page);
		}
		table = table_at(e);
	}
	return &table[pt_index(addr, 0)];
}

/*
 * The last-level table holding addr's entry, or NULL if a table on the way
 * is missing; *next is where the next lookup should start (the end of what
 * this table, or the missing one, covers), so range walks skip holes whole.
 */
static pteval_t *walk_to_pt(struct mm *mm, uintptr_t addr, uintptr_t *next)
{
	pteval_t *table = pgd_table(mm);

	for (int level = 3; level > 0; level--) {
		pteval_t e = pte_read(&table[pt_index(addr, level)]);

		if (!pte_present(e)) {
			*next = ALIGN_DOWN(addr, pt_entry_span(level)) + pt_entry_span(level);
			return NULL;
		}
		table = table_at(e);
	}
	*next = ALIGN_DOWN(addr, pt_entry_span(1)) + pt_entry_span(1);
	return table;
}

/* ---- Reverse-map bookkeeping of one page ---- */

/* A fresh private page gets its first mapping in vma at addr. */
static void page_add_new_anon_rmap(struct page *page, struct vm_area *vma, uintptr_t addr)
{
	anon_vma_get(vma->anon_vma);
	set_page_flag(page, PG_swapbacked);
	page->mapping = (struct address_space *)((uintptr_t)vma->anon_vma | PAGE_MAPPING_ANON);
	page->index = linear_page_index(vma, addr);
	atomic_store_explicit(&page->_mapcount, 0, memory_order_relaxed);
	mod_zone_page_state(page_zone(page), NR_ANON_MAPPED, 1);
}

/* One more entry maps a page that is already mapped (fork). */
static void page_dup_rmap(struct page *page)
{
	get_page(page);
	atomic_fetch_add_explicit(&page->_mapcount, 1, memory_order_relaxed);
}

/* One entry of a cache page appears (the caller gave it a reference). */
static void page_add_file_rmap(struct page *page)
{
	if (atomic_fetch_add_explicit(&page->_mapcount, 1, memory_order_relaxed) == -1)
		mod_zone_page_state(page_zone(page), NR_FILE_MAPPED, 1);
}

/* One entry of a shared_anon page appears (the caller gave it a reference). */
static void page_add_shared_rmap(struct page *page)
{
	atomic_fetch_add_explicit(&page->_mapcount, 1, memory_order_relaxed);
}

/*
 * Drops one reference; the last frees the frame (and the page's hold on its
 * anon_vma). Takes no lock of the mm: callers drop page_table_lock first.
 */
static void put_user_page(struct page *page)
{
	if (page_is_file(page)) {
		put_page(page);   /* the page cache frees its own pages */
		return;
	}
	put_anon_page(page);
}

/* An entry mapping page went away (after the TLB flush): rmap and reference. */
void page_remove_rmap(struct page *page)
{
	int old = atomic_fetch_sub_explicit(&page->_mapcount, 1, memory_order_acq_rel);

	BUG_ON(old < 0);
	if (old == 0 && page_anon_vma(page))
		mod_zone_page_state(page_zone(page), NR_ANON_MAPPED, -1);
	else if (old == 0 && page_is_file(page))
		mod_zone_page_state(page_zone(page), NR_FILE_MAPPED, -1);
	put_user_page(page);
}

/* ---- Shared anonymous objects ---- */

/*
 * A radix tree of frames: each node is one frame of 512 pointers, height
 * levels of them; the leaves point at struct pages. Nodes are allocated as
 * pages are, so a sparse object of terabytes costs what it holds.
 */
#define SA_SHIFT 9
#define SA_SLOTS (1UL << SA_SHIFT)

struct shared_anon {
	atomic_int refcount;      /* areas mapping the object */
	spinlock_t lock;          /* root, the nodes' slots, nr_held */
	unsigned long nr_pages;   /* size: offsets 0..nr_pages-1 */
	unsigned long nr_held;    /* pages allocated so far (read without the lock) */
	unsigned int height;      /* node levels: SA_SLOTS^height >= nr_pages */
	void **root;
};

struct shared_anon *shared_anon_create(unsigned long nr_pages)
{
	struct shared_anon *sa;
	unsigned int height = 1;

	if (nr_pages == 0 || nr_pages > (TASK_SIZE >> PAGE_SHIFT))
		return NULL;
	while (height < 4 && (nr_pages - 1) >> (SA_SHIFT * height))
		height++;
	sa = kzalloc(sizeof(*sa), GFP_KERNEL);
	if (!sa)
		return NULL;
	atomic_init(&sa->refcount, 1);
	spin_lock_init(&sa->lock);
	sa->nr_pages = nr_pages;
	sa->height = height;
	return sa;
}

void shared_anon_get(struct shared_anon *sa)
{
	int old = atomic_fetch_add_explicit(&sa->refcount, 1, memory_order_relaxed);

	BUG_ON(old <= 0);
}

static void sa_free_node(struct shared_anon *sa, void **node, unsigned int level)
{
	for (unsigned long i = 0; i < SA_SLOTS; i++) {
		if (!node[i])
			continue;
		if (level == 1) {
			struct page *page = node[i];

			if (atomic_load(&page->_mapcount) != -1)
				panic("shared_anon %p freed while page %lu is still mapped",
				      (void *)sa, page->index);
			mod_zone_page_state(page_zone(page), NR_SHMEM, -1);
			put_user_page(page);
			__atomic_fetch_sub(&sa->nr_held, 1, __ATOMIC_RELAXED);
		} else {
			sa_free_node(sa, node[i], level - 1);
		}
	}
	free_pages(node, 0);
}

void shared_anon_put(struct shared_anon *sa)
{
	int old = atomic_fetch_sub_explicit(&sa->refcount, 1, memory_order_acq_rel);

	BUG_ON(old <= 0);
	if (old != 1)
		return;
	if (sa->root)
		sa_free_node(sa, sa->root, sa->height);
	BUG_ON(sa->nr_held != 0);
	kfree(sa);
}

unsigned long shared_anon_pages(const struct shared_anon *sa)
{
	return __atomic_load_n(&sa->nr_held, __ATOMIC_RELAXED);
}

/*
 * The page at pgoff, allocated (zeroed) if the object has none yet, with a
 * reference for the caller. NULL with *fault set when out of memory or
 * beyond the object's end.
 */
static struct page *shared_anon_find(struct shared_anon *sa, unsigned long pgoff,
				     unsigned int *fault)
{
	void **node, **slot = NULL;
	struct page *page;

	if (pgoff >= sa->nr_pages) {
		*fault = VM_FAULT_SIGBUS;
		return NULL;
	}
	spin_lock(&sa->lock);
	if (!sa->root)
		sa->root = get_zeroed_page(GFP_KERNEL);
	node = sa->root;
	for (unsigned int level = sa->height; node; level--) {
		slot = &node[(pgoff >> (SA_SHIFT * (level - 1))) & (SA_SLOTS - 1)];
		if (level == 1)
			break;
		if (!*slot)
			*slot = get_zeroed_page(GFP_KERNEL);
		node = *slot;
	}
	page = node ? *slot : NULL;
	if (node && !page) {
		page = alloc_page(GFP_USER_PAGE | __GFP_ZERO);
		if (page) {
			page->index = pgoff;
			*slot = page;
			__atomic_fetch_add(&sa->nr_held, 1, __ATOMIC_RELAXED);
			mod_zone_page_state(page_zone(page), NR_SHMEM, 1);
		}
	}
	if (page)
		get_page(page);
	spin_unlock(&sa->lock);
	if (!page)
		*fault = VM_FAULT_OOM;
	return page;
}

/* ---- Faults ---- */

pteval_t vm_get_page_prot(unsigned long vm_flags)
{
	pteval_t prot = _PAGE_PRESENT;

	/* PROT_NONE: present but not user-accessible, so every access faults
	   and the entry is never mistaken for a swap entry. */
	if (vm_flags & VM_ACCESS_FLAGS)
		prot |= _PAGE_USER;
	if ((vm_flags & (VM_WRITE | VM_SHARED)) == (VM_WRITE | VM_SHARED))
		prot |= _PAGE_RW;
	if (!(vm_flags & VM_EXEC))
		prot |= _PAGE_NX;
	return prot;
}

/* A fault on an empty entry of a private anonymous area. */
static unsigned int do_anonymous_page(struct vm_area *vma, uintptr_t addr,
				      pteval_t *ptep, bool write)
{
	struct mm *mm = vma->vm_mm;
	pteval_t prot = vm_get_page_prot(vma->vm_flags);
	struct page *page;

	if (!write) {
		if (!zero_page)
			panic("page fault before memory_init: no zero page");
		spin_lock(&mm->page_table_lock);
		if (pte_none(pte_read(ptep)))
			set_pte(ptep, pfn_pte(zero_pfn(), (prot & ~_PAGE_RW) | _PAGE_SPECIAL |
							    _PAGE_ACCESSED));
		spin_unlock(&mm->page_table_lock);
		count_vm_event(PGZEROFAULT);
		return 0;
	}
	if (anon_vma_prepare(vma))
		return VM_FAULT_OOM;
	page = alloc_page(GFP_USER_PAGE | __GFP_ZERO);
	if (!page)
		return VM_FAULT_OOM;
	spin_lock(&mm->page_table_lock);
	if (pte_none(pte_read(ptep))) {
		page_add_new_anon_rmap(page, vma, addr);
		set_pte(ptep, pfn_pte(page_to_pfn(page), prot | _PAGE_RW | _PAGE_ACCESSED |
								 _PAGE_DIRTY));
		lru_cache_add(page);
		add_mm_counter(mm, MM_ANONPAGES, 1);
		page = NULL;
	}
	spin_unlock(&mm->page_table_lock);
	if (page)
		__free_page(page);   /* another CPU filled the entry first */
	return 0;
}

/* A fault on an empty entry of a shared anonymous area. */
static unsigned int do_shared_page(struct vm_area *vma, uintptr_t addr, pteval_t *ptep,
				   bool write)
{
	struct mm *mm = vma->vm_mm;
	unsigned int fault = 0;
	struct page *page = shared_anon_find(vma->vm_shared, linear_page_index(vma, addr),
					     &fault);

	if (!page)
		return fault;
	spin_lock(&mm->page_table_lock);
	if (pte_none(pte_read(ptep))) {
		page_add_shared_rmap(page);
		set_pte(ptep, pfn_pte(page_to_pfn(page), vm_get_page_prot(vma->vm_flags) |
							 _PAGE_ACCESSED |
							 (write ? _PAGE_DIRTY : 0)));
		add_mm_counter(mm, MM_SHMEMPAGES, 1);
		page = NULL;   /* the entry keeps our reference */
	}
	spin_unlock(&mm->page_table_lock);
	if (page)
		put_user_page(page);
	return 0;
}

/*
 * A write to a read-only entry of a private writable area: the zero page,
 * or a page fork shared. Reuse when this entry is the page's only mapping
 * and reference; else copy into a new frame and switch the entry to it,
 * flushing the old translation before dropping the old page.
 */
static unsigned int do_wp_page(struct vm_area *vma, uintptr_t addr, pteval_t *ptep,
			       pteval_t orig)
{
	struct mm *mm = vma->vm_mm;
	bool special = pte_special(orig);
	struct page *old = special ? NULL : pfn_to_page(pte_pfn(orig));
	struct page *page;
	pteval_t cur;
	bool done = false;

	if (old) {
		spin_lock(&mm->page_table_lock);
		cur = pte_read(ptep);
		if (!pte_same(cur, orig)) {
			spin_unlock(&mm->page_table_lock);
			return 0;   /* changed under us: the access retries */
		}
		/*
		 * A page read back from swap may be ours alone but still in the
		 * swap cache (a clean copy): it leaves the cache to be reused.
		 */
		if (page_anon_vma(old) && page_flag(old, PG_swapcache) &&
		    atomic_load_explicit(&old->_mapcount, memory_order_acquire) == 0 &&
		    page_ref_count(old) == 2 && trylock_page(old)) {
			try_to_free_swap(old);
			unlock_page(old);
		}
		/* Never a cache page: the file must not see a private store. */
		if (page_anon_vma(old) &&
		    atomic_load_explicit(&old->_mapcount, memory_order_acquire) == 0 &&
		    page_ref_count(old) == 1) {
			/* Nobody else can gain a mapping without this entry. */
			while (!pte_cmpxchg(ptep, &cur, cur | _PAGE_RW | _PAGE_ACCESSED |
							    _PAGE_DIRTY))
				BUG_ON(!pte_same(cur, orig));
			spin_unlock(&mm->page_table_lock);
			count_vm_event(PGCOWFAULT);
			return VM_FAULT_COW;
		}
		get_page(old);   /* keeps it while we copy without the lock */
		spin_unlock(&mm->page_table_lock);
	}
	if (anon_vma_prepare(vma))
		goto oom;
	page = alloc_page(GFP_USER_PAGE | (old ? 0 : __GFP_ZERO));
	if (!page)
		goto oom;
	if (old)
		memcpy(page_address(page), page_address(old), PAGE_SIZE);

	spin_lock(&mm->page_table_lock);
	cur = pte_read(ptep);
	if (pte_same(cur, orig)) {
		pteval_t new = pfn_pte(page_to_pfn(page),
				       vm_get_page_prot(vma->vm_flags) | _PAGE_RW |
					       _PAGE_ACCESSED | _PAGE_DIRTY);

		page_add_new_anon_rmap(page, vma, addr);
		while (!pte_cmpxchg(ptep, &cur, new))
			BUG_ON(!pte_same(cur, orig));
		lru_cache_add(page);
		if (special) {
			add_mm_counter(mm, MM_ANONPAGES, 1);
		} else if (page_is_file(old)) {
			add_mm_counter(mm, MM_FILEPAGES, -1);
			add_mm_counter(mm, MM_ANONPAGES, 1);
		}
		done = true;
	}
	spin_unlock(&mm->page_table_lock);
	if (done) {
		/* Other CPUs may still read the old page through this address. */
		arch_flush_tlb_page(mm, addr);
		if (old)
			page_remove_rmap(old);
	} else {
		__free_page(page);
	}
	if (!old)
		return 0;
	put_user_page(old);
	if (!done)
		return 0;
	count_vm_event(PGCOWFAULT);
	return VM_FAULT_COW;
oom:
	if (old)
		put_user_page(old);
	return VM_FAULT_OOM;
}

/*
 * Whether index is past the end of vma's file now. Checked under
 * page_table_lock just before an entry is filled: truncation stores the new
 * size before it zaps the areas (taking page_table_lock), so either the
 * fault sees the new size or the zap sees the new entry.
 */
static bool beyond_eof(const struct vm_area *vma, pgoff_t index)
{
	loff_t size = i_size_read(vma->vm_file->f_inode);

	return index >= (pgoff_t)((size + (loff_t)PAGE_SIZE - 1) >> PAGE_SHIFT);
}

/*
 * A write fault on an empty entry of a private file area (Linux's
 * do_cow_fault): the new anonymous page starts as a copy of the cache page.
 */
static unsigned int do_cow_file_page(struct vm_area *vma, uintptr_t addr, pteval_t *ptep,
				     struct page *src)
{
	struct mm *mm = vma->vm_mm;
	struct page *page;

	if (anon_vma_prepare(vma))
		return VM_FAULT_OOM;
	page = alloc_page(GFP_USER_PAGE);
	if (!page)
		return VM_FAULT_OOM;
	memcpy(page_address(page), page_address(src), PAGE_SIZE);
	spin_lock(&mm->page_table_lock);
	if (beyond_eof(vma, src->index)) {
		spin_unlock(&mm->page_table_lock);
		__free_page(page);
		return VM_FAULT_SIGBUS;   /* truncated meanwhile */
	}
	if (pte_none(pte_read(ptep))) {
		page_add_new_anon_rmap(page, vma, addr);
		set_pte(ptep, pfn_pte(page_to_pfn(page), vm_get_page_prot(vma->vm_flags) |
							 _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY));
		lru_cache_add(page);
		add_mm_counter(mm, MM_ANONPAGES, 1);
		page = NULL;
	}
	spin_unlock(&mm->page_table_lock);
	if (page) {
		__free_page(page);
		return 0;
	}
	count_vm_event(PGCOWFAULT);
	return VM_FAULT_COW;
}

/*
 * A fault on an empty entry of a file area: the cache page (read from the
 * file if need be) is mapped, read-only unless this is a store to a shared
 * mapping, which also marks the page dirty. Past the end of the file:
 * SIGBUS.
 */
static unsigned int do_file_fault(struct vm_area *vma, uintptr_t addr, pteval_t *ptep,
				  bool write)
{
	struct mm *mm = vma->vm_mm;
	bool shared = vma->vm_flags & VM_SHARED;
	unsigned int ret = 0;
	struct page *page;
	bool major = false, mapped = false;
	pteval_t prot;
	int err;

	err = filemap_fault(vma, linear_page_index(vma, addr), &page, &major);
	if (err)
		return err == -KMM_ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
	if (major) {
		count_vm_event(PGMAJFAULT);
		ret |= VM_FAULT_MAJOR;
	}
	if (write && !shared) {
		ret |= do_cow_file_page(vma, addr, ptep, page);
		put_page(page);
		return ret;
	}
	prot = vm_get_page_prot(vma->vm_flags) | _PAGE_ACCESSED;
	if (write) {
		prot |= _PAGE_RW | _PAGE_DIRTY;
		lock_page(page);   /* not while writeback reads it (do_shared_file_wp) */
	} else {
		prot &= ~(pteval_t)_PAGE_RW;   /* the first store faults and dirties the page */
	}
	spin_lock(&mm->page_table_lock);
	if (beyond_eof(vma, page->index)) {
		ret = VM_FAULT_SIGBUS;   /* truncated meanwhile */
	} else if (pte_none(pte_read(ptep))) {
		page_add_file_rmap(page);
		set_pte(ptep, pfn_pte(page_to_pfn(page), prot));
		add_mm_counter(mm, MM_FILEPAGES, 1);
		mapped = true;   /* the entry keeps our reference */
	}
	spin_unlock(&mm->page_table_lock);
	if (mapped && write)
		set_page_dirty(page);
	if (write)
		unlock_page(page);
	if (!mapped)
		put_page(page);
	return ret;
}

/*
 * A store to a read-only entry of a shared file area (mapped by a read
 * fault, or write-protected by page_mkclean): the page becomes dirty and
 * the entry writable (Linux's wp_page_shared).
 */
static unsigned int do_shared_file_wp(struct vm_area *vma, uintptr_t addr, pteval_t *ptep,
				      pteval_t orig)
{
	struct mm *mm = vma->vm_mm;
	struct page *page = pfn_to_page(pte_pfn(orig));
	pteval_t cur;

	(void)addr;
	bool done = false;

	spin_lock(&mm->page_table_lock);
	cur = pte_read(ptep);
	if (!pte_same(cur, orig)) {
		spin_unlock(&mm->page_table_lock);
		return 0;   /* changed under us: the access retries */
	}
	get_page(page);
	spin_unlock(&mm->page_table_lock);
	/* Writeback holds the lock while it cleans and writes: wait for it. */
	lock_page(page);
	spin_lock(&mm->page_table_lock);
	cur = pte_read(ptep);
	if (pte_same(cur, orig)) {
		while (!pte_cmpxchg(ptep, &cur, cur | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY))
			BUG_ON(!pte_same(cur, orig));
		done = true;
	}
	spin_unlock(&mm->page_table_lock);
	if (done)
		set_page_dirty(page);
	unlock_page(page);
	put_page(page);
	return 0;
}

/*
 * A fault on a swap entry (Linux's do_swap_page): the page comes from the
 * swap cache, or is read from its slot (a major fault). The entry's count
 * on the slot goes; when nothing but the cache refers to the slot any more
 * the page leaves the cache and, mapped nowhere else, is ours to write.
 * Otherwise (fork shared the slot) it is mapped read-only, and a store
 * copies it as for any shared page. A read error is SIGBUS.
 */
static unsigned int do_swap_page(struct vm_area *vma, uintptr_t addr, pteval_t *ptep,
				 pteval_t orig, bool write)
{
	struct mm *mm = vma->vm_mm;
	swp_entry_t entry = pte_to_swp_entry(orig);
	struct page *page;
	bool major, exclusive = false;
	unsigned int ret = 0;
	int err, old;
	pteval_t prot;

	if (anon_vma_prepare(vma))
		return VM_FAULT_OOM;
	page = swapin_page(entry, &err, &major);
	if (!page) {
		if (err == -KMM_EAGAIN || pte_read(ptep) != orig)
			return 0;   /* resolved by another CPU: retry */
		return err == -KMM_ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
	}
	if (major)
		ret |= VM_FAULT_MAJOR;   /* counted by handle_mm_fault, not by swapoff */
	lock_page(page);
	if (!page_flag(page, PG_swapcache) || page->private != entry.val) {
		unlock_page(page);   /* reclaimed or taken in meanwhile */
		put_anon_page(page);
		return ret;
	}
	spin_lock(&mm->page_table_lock);
	if (pte_read(ptep) != orig) {
		spin_unlock(&mm->page_table_lock);
		unlock_page(page);
		put_anon_page(page);
		return ret;
	}
	if (!page->mapping) {
		/* Read ahead: its first mapping gives it its anon_vma. */
		anon_vma_get(vma->anon_vma);
		page->mapping = (struct address_space *)((uintptr_t)vma->anon_vma |
							 PAGE_MAPPING_ANON);
		page->index = linear_page_index(vma, addr);
	}
	old = atomic_fetch_add_explicit(&page->_mapcount, 1, memory_order_relaxed);
	if (old == -1)
		mod_zone_page_state(page_zone(page), NR_ANON_MAPPED, 1);
	add_mm_counter(mm, MM_ANONPAGES, 1);
	add_mm_counter(mm, MM_SWAPENTS, -1);
	swap_free(entry);   /* the entry's count: the cache keeps its own */
	/* Ours alone when no other entry maps it or names its slot. */
	exclusive = old == -1 && swap_count(entry) == 1;
	prot = vm_get_page_prot(vma->vm_flags) | _PAGE_ACCESSED;
	if (exclusive && (vma->vm_flags & VM_WRITE))
		prot |= _PAGE_RW | (write ? _PAGE_DIRTY : 0);
	else
		prot &= ~(pteval_t)_PAGE_RW;
	set_pte(ptep, pfn_pte(page_to_pfn(page), prot));
	spin_unlock(&mm->page_table_lock);
	/*
	 * An exclusive page keeps its clean copy on swap only while swap has
	 * room (and is not being switched off) and it is not written; a
	 * writable mapping may change it unseen.
	 */
	if (exclusive && ((prot & _PAGE_RW) || swap_area_full(entry)))
		try_to_free_swap(page);
	set_page_flag(page, PG_referenced);
	unlock_page(page);
	/* Our reference is the entry's now. */
	return ret;
}

unsigned int handle_mm_fault(struct vm_area *vma, uintptr_t addr, unsigned int flags)
{
	bool write = flags & FAULT_FLAG_WRITE;
	pteval_t *ptep, e;

	count_vm_event(PGFAULT);
	addr &= PAGE_MASK;
	if (addr < vma->vm_start || addr >= vma->vm_end)
		return VM_FAULT_SIGSEGV;
	if (write && !(vma->vm_flags & VM_WRITE))
		return VM_FAULT_SIGSEGV;
	ptep = pte_alloc(vma->vm_mm, addr);
	if (!ptep)
		return VM_FAULT_OOM;
	e = pte_read(ptep);
	if (pte_none(e)) {
		if (vma->vm_file)
			return do_file_fault(vma, addr, ptep, write);
		return vma->vm_shared ? do_shared_page(vma, addr, ptep, write)
				      : do_anonymous_page(vma, addr, ptep, write);
	}
	if (!pte_present(e)) {
		unsigned int ret = do_swap_page(vma, addr, ptep, e, write);

		if (ret & VM_FAULT_MAJOR)
			count_vm_event(PGMAJFAULT);
		return ret;
	}
	if (write && !pte_write(e) && vma->vm_file && (vma->vm_flags & VM_SHARED))
		return do_shared_file_wp(vma, addr, ptep, e);
	if (write && !pte_write(e) && !vma->vm_shared)
		return do_wp_page(vma, addr, ptep, e);
	/*
	 * Another CPU resolved it first, or the entry grants less than the
	 * area does (a shared writable page mapped read-only, a user bit or
	 * an NX bit out of date): bring it up to the area's protection, so the
	 * retried access cannot fault forever. Nothing here removes a right.
	 */
	{
		pteval_t add = vm_get_page_prot(vma->vm_flags) & (_PAGE_USER | _PAGE_RW);

		if (!vma->vm_shared || pte_special(e))
			add &= ~(pteval_t)_PAGE_RW;
		spin_lock(&vma->vm_mm->page_table_lock);
		while (pte_present(e)) {
			pteval_t want = e | add;

			if ((flags & FAULT_FLAG_INSTR) && (vma->vm_flags & VM_EXEC))
				want &= ~(pteval_t)_PAGE_NX;
			if (want == e || pte_cmpxchg(ptep, &e, want))
				break;
		}
		spin_unlock(&vma->vm_mm->page_table_lock);
	}
	return 0;
}

/*
 * swapoff: every swap entry of area type in mm is faulted back in, as a
 * read fault would (do_swap_page), so every sharer of a slot ends up
 * mapping the one page the swap cache holds for it. Tables cannot go away
 * under the read lock; entries can change (reclaim, another thread's
 * fault), so each is read again after each attempt.
 */
int unuse_mm(struct mm *mm, unsigned int type)
{
	struct vm_area *vma;

	list_for_each_entry(vma, &mm->mmap, vm_list) {
		uintptr_t addr, next;

		/* Only private areas' anonymous pages go to swap. */
		if (!vma->anon_vma || vma->vm_shared)
			continue;
		for (addr = vma->vm_start; addr < vma->vm_end; addr = next) {
			pteval_t *pt = walk_to_pt(mm, addr, &next);

			next = MIN(next, vma->vm_end);
			if (!pt)
				continue;
			for (uintptr_t a = addr; a < next; a += PAGE_SIZE) {
				pteval_t *ptep = &pt[pt_index(a, 0)];

				for (unsigned int tries = 0;; tries++) {
					pteval_t e = pte_read(ptep);
					unsigned int fault;

					if (pte_none(e) || pte_present(e) ||
					    swp_type(pte_to_swp_entry(e)) != type)
						break;
					if (tries == 16)
						return -KMM_EBUSY;   /* keeps changing: give up */
					fault = do_swap_page(vma, a, ptep, e, false);
					if (fault & VM_FAULT_OOM)
						return -KMM_ENOMEM;
					if (fault & VM_FAULT_SIGBUS)
						return -KMM_EIO;
				}
			}
		}
	}
	return 0;
}

/* x86's access_error: may this kind of access touch vma at all? */
static bool access_error(unsigned int error_code, const struct vm_area *vma)
{
	if (error_code & PF_WRITE)
		return !(vma->vm_flags & VM_WRITE);
	if (error_code & PF_INSTR)
		return !(vma->vm_flags & VM_EXEC);
	/* x86 cannot map write- or exec-only: any access right lets reads through. */
	return !(vma->vm_flags & VM_ACCESS_FLAGS);
}

static int fault_kill(struct task *t, int sig, int code, uintptr_t addr)
{
	task_kill(t, sig, code, addr);
	return sig;
}

int do_page_fault(struct task *t, uintptr_t addr, unsigned int error_code)
{
	unsigned int flags = 0, fault;
	struct vm_area *vma;
	struct mm *mm;

	if (!t || t->state == TASK_DEAD || !(mm = t->mm))
		return KMM_SIGSEGV;
	if (error_code & PF_WRITE)
		flags |= FAULT_FLAG_WRITE;
	if (error_code & PF_USER)
		flags |= FAULT_FLAG_USER;
	if (error_code & PF_INSTR)
		flags |= FAULT_FLAG_INSTR;
	if (addr >= TASK_SIZE)
		return fault_kill(t, KMM_SIGSEGV, KMM_SEGV_MAPERR, addr);

	read_lock(&mm->mmap_lock);
	vma = find_vma(mm, addr);
	if (vma && addr < vma->vm_start && (vma->vm_flags & VM_GROWSDOWN)) {
		/* Growing the stack changes the area set: that needs the writer. */
		int err = -KMM_EFAULT;

		read_unlock(&mm->mmap_lock);
		write_lock(&mm->mmap_lock);
		vma = find_vma(mm, addr);
		if (vma && addr < vma->vm_start && (vma->vm_flags & VM_GROWSDOWN))
			err = expand_stack(mm, vma, addr);
		else if (vma && addr >= vma->vm_start)
			err = 0;   /* another thread grew it */
		write_unlock(&mm->mmap_lock);
		if (err)
			return fault_kill(t, KMM_SIGSEGV, KMM_SEGV_MAPERR, addr);
		read_lock(&mm->mmap_lock);
		vma = find_vma(mm, addr);
	}
	if (!vma || addr < vma->vm_start) {
		read_unlock(&mm->mmap_lock);
		return fault_kill(t, KMM_SIGSEGV, KMM_SEGV_MAPERR, addr);
	}
	if (access_error(error_code, vma)) {
		read_unlock(&mm->mmap_lock);
		return fault_kill(t, KMM_SIGSEGV, KMM_SEGV_ACCERR, addr);
	}
	fault = handle_mm_fault(vma, addr, flags);
	read_unlock(&mm->mmap_lock);

	if (fault & VM_FAULT_OOM) {
		int r = pagefault_out_of_memory(t);

		if (r == -KMM_EAGAIN)
			return 0;   /* another task's memory is free now: retry */
		if (r)
			return r;   /* we were the victim */
	}
	if (fault & (VM_FAULT_OOM | VM_FAULT_SIGBUS))
		return fault_kill(t, KMM_SIGBUS, KMM_BUS_ADRERR, addr);
	if (fault & VM_FAULT_SIGSEGV)
		return fault_kill(t, KMM_SIGSEGV, KMM_SEGV_ACCERR, addr);
	if (fault & VM_FAULT_MAJOR)
		__atomic_fetch_add(&t->maj_flt, 1, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&t->min_flt, 1, __ATOMIC_RELAXED);
	if (fault & VM_FAULT_COW)
		__atomic_fetch_add(&t->cow_flt, 1, __ATOMIC_RELAXED);
	return 0;
}

int populate_range(struct vm_area *vma, uintptr_t start, uintptr_t end)
{
	/* As Linux's populate: write faults only where a write would COW. */
	bool write = (vma->vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE;

	if (!(vma->vm_flags & VM_ACCESS_FLAGS))
		return 0;
	start = MAX(ALIGN_DOWN(start, PAGE_SIZE), vma->vm_start);
	end = MIN(end, vma->vm_end);
	for (uintptr_t addr = start; addr < end; addr += PAGE_SIZE) {
		pteval_t *ptep = pte_lookup(vma->vm_mm, addr);
		unsigned int fault;

		if (!ptep || !pte_present(pte_read(ptep)) || (write && !pte_write(pte_read(ptep)))) {
			fault = handle_mm_fault(vma, addr, write ? FAULT_FLAG_WRITE : 0);
			if (fault & VM_FAULT_OOM)
				return -KMM_ENOMEM;
			if (fault & VM_FAULT_ERROR)
				return -KMM_EFAULT;
			ptep = pte_lookup(vma->vm_mm, addr);
		}
		/*
		 * Populating counts as a use, as Linux's get_user_pages with
		 * FOLL_TOUCH: the page is marked referenced (the entry's
		 * Accessed bit is the MMU's to set), so it stays referenced
		 * for a child forked later, whose entries start old.
		 */
		if (ptep) {
			pteval_t e = pte_read(ptep);

			if (pte_present(e) && !pte_special(e))
				set_page_flag(pfn_to_page(pte_pfn(e)), PG_referenced);
		}
	}
	return 0;
}

/* ---- Operations on ranges of entries ---- */

#define ZAP_BATCH 64

/*
 * Releases n pages whose entries zap cleared (and flushed): the rss
 * counters, the Dirty bit of a shared file page moved into the page (the
 * store must reach the file), the map count and the reference. Then the
 * ns swap entries cleared: each drops its count on the slot, and the swap
 * cache's page with the last one (free_swap_and_cache).
 */
static void zap_release(struct vm_area *vma, struct page **batch, const bool *dirty,
			unsigned int n, const swp_entry_t *swaps, unsigned int ns)
{
	long rss[NR_MM_COUNTERS] = { 0 };
	bool shared_file = vma->vm_file && (vma->vm_flags & VM_SHARED);

	for (unsigned int i = 0; i < n; i++) {
		struct page *page = batch[i];

		rss[mm_counter_of(vma, page)]++;
		if (shared_file && dirty[i] && page_is_file(page))
			set_page_dirty(page);
		page_remove_rmap(page);
	}
	for (unsigned int i = 0; i < ns; i++)
		free_swap_and_cache(swaps[i]);
	rss[MM_SWAPENTS] += ns;
	for (int c = 0; c < NR_MM_COUNTERS; c++)
		if (rss[c])
			add_mm_counter(vma->vm_mm, (enum mm_counter)c, -rss[c]);
}

void zap_page_range(struct vm_area *vma, uintptr_t start, uintptr_t end)
{
	struct mm *mm = vma->vm_mm;
	struct page *batch[ZAP_BATCH];
	bool dirty[ZAP_BATCH];
	swp_entry_t swaps[ZAP_BATCH];
	unsigned int n = 0, ns = 0;
	uintptr_t addr, next, flush_start;
	bool cleared = false;

	start = MAX(ALIGN_DOWN(start, PAGE_SIZE), vma->vm_start);
	end = MIN(ALIGN_UP(end, PAGE_SIZE), vma->vm_end);
	flush_start = start;
	spin_lock(&mm->page_table_lock);
	for (addr = start; addr < end; addr = next) {
		pteval_t *pt = walk_to_pt(mm, addr, &next);

		next = MIN(next, end);
		if (!pt)
			continue;
		for (uintptr_t a = addr; a < next; a += PAGE_SIZE) {
			pteval_t *ptep = &pt[pt_index(a, 0)];
			pteval_t e = pte_read(ptep);

			if (pte_none(e))
				continue;
			e = ptep_get_and_clear(ptep);
			if (!pte_present(e)) {
				/* A swap entry: no CPU can cache it, no flush needed. */
				swaps[ns++] = pte_to_swp_entry(e);
			} else {
				cleared = true;
				if (pte_special(e))
					continue;
				dirty[n] = pte_dirty(e);
				batch[n++] = pfn_to_page(pte_pfn(e));
			}
			if (n < ZAP_BATCH && ns < ZAP_BATCH)
				continue;
			/* The frames may go only once no CPU can reach them. */
			spin_unlock(&mm->page_table_lock);
			if (cleared)
				arch_flush_tlb_range(mm, flush_start, a + PAGE_SIZE);
			zap_release(vma, batch, dirty, n, swaps, ns);
			n = ns = 0;
			flush_start = a + PAGE_SIZE;
			cleared = false;
			spin_lock(&mm->page_table_lock);
		}
	}
	spin_unlock(&mm->page_table_lock);
	if (cleared)
		arch_flush_tlb_range(mm, flush_start, end);
	zap_release(vma, batch, dirty, n, swaps, ns);
}

/*
 * msync: the Dirty bits of a shared file area's entries move into their
 * pages, in batches: cleared under page_table_lock (with a reference on
 * each page), flushed, then set_page_dirty with the lock dropped (it takes
 * the mapping's tree_lock, which comes first in the lock order).
 */
unsigned long vma_collect_dirty(struct vm_area *vma, uintptr_t start, uintptr_t end)
{
	struct mm *mm = vma->vm_mm;
	struct page *batch[ZAP_BATCH];
	unsigned int n = 0;
	unsigned long dirtied = 0;
	uintptr_t addr, next, flush_start;

	start = MAX(ALIGN_DOWN(start, PAGE_SIZE), vma->vm_start);
	end = MIN(ALIGN_UP(end, PAGE_SIZE), vma->vm_end);
	flush_start = start;
	spin_lock(&mm->page_table_lock);
	for (addr = start; addr < end; addr = next) {
		pteval_t *pt = walk_to_pt(mm, addr, &next);

		next = MIN(next, end);
		if (!pt)
			continue;
		for (uintptr_t a = addr; a < next; a += PAGE_SIZE) {
			pteval_t *ptep = &pt[pt_index(a, 0)];
			pteval_t e = pte_read(ptep);
			struct page *page;

			if (!pte_present(e) || pte_special(e) || !pte_dirty(e))
				continue;
			page = pfn_to_page(pte_pfn(e));
			if (!page_is_file(page))
				continue;
			while (!pte_cmpxchg(ptep, &e, e & ~(pteval_t)_PAGE_DIRTY))
				;
			get_page(page);
			batch[n++] = page;
			if (n < ZAP_BATCH)
				continue;
			spin_unlock(&mm->page_table_lock);
			arch_flush_tlb_range(mm, flush_start, a + PAGE_SIZE);
			while (n) {
				set_page_dirty(batch[--n]);
				put_page(batch[n]);
				dirtied++;
			}
			flush_start = a + PAGE_SIZE;
			spin_lock(&mm->page_table_lock);
		}
	}
	spin_unlock(&mm->page_table_lock);
	if (n)
		arch_flush_tlb_range(mm, flush_start, end);
	while (n) {
		set_page_dirty(batch[--n]);
		put_page(batch[n]);
		dirtied++;
	}
	return dirtied;
}

static bool table_empty(const pteval_t *table)
{
	for (unsigned int i = 0; i < PTRS_PER_TABLE; i++)
		if (!pte_none(pte_read(&table[i])))
			return false;
	return true;
}

/*
 * Below table (of level, covering [base, base + 512 spans)): descends into
 * children that intersect [start, end), then unhooks every child table that
 * is empty and lies inside [floor, ceiling), queuing its frame on freed.
 */
static void free_pgtables_level(pteval_t *table, int level, uintptr_t base,
				uintptr_t start, uintptr_t end, uintptr_t floor,
				uintptr_t ceiling, struct list_head *freed)
{
	uint64_t span = pt_entry_span(level);

	for (unsigned int i = pt_index(MAX(start, base), level); i < PTRS_PER_TABLE; i++) {
		uintptr_t s = base + i * span;
		pteval_t e = pte_read(&table[i]);
		pteval_t *child;

		if (s >= end)
			break;
		if (!pte_present(e))
			continue;
		child = table_at(e);
		if (level > 1)
			free_pgtables_level(child, level - 1, s, start, end, floor, ceiling,
					    freed);
		if (s >= floor && s + span <= ceiling && table_empty(child)) {
			ptep_get_and_clear(&table[i]);
			list_add(&virt_to_page(child)->lru, freed);
		}
	}
}

void free_pgtables(struct mm *mm, uintptr_t start, uintptr_t end, uintptr_t floor,
		   uintptr_t ceiling)
{
	struct list_head freed;
	bool any;

	if (ceiling == 0 || ceiling > (1ULL << (VA_BITS - 1)))
		ceiling = 1ULL << (VA_BITS - 1);   /* 0: no area above */
	if (start >= end)
		return;
	INIT_LIST_HEAD(&freed);
	spin_lock(&mm->page_table_lock);
	free_pgtables_level(pgd_table(mm), 3, 0, start, end, floor, ceiling, &freed);
	spin_unlock(&mm->page_table_lock);
	any = !list_empty(&freed);
	/* A walk in progress on another CPU may still be reading the tables. */
	if (any)
		arch_flush_tlb_range(mm, start, end);
	while (!list_empty(&freed)) {
		struct page *page = list_first_entry(&freed, struct page, lru);

		list_del(&page->lru);
		table_account(mm, page, -1);
		__free_page(page);
	}
}

/* Does any entry of pt in [addr, end) hold something? (read without the lock) */
static bool pt_range_used(const pteval_t *pt, uintptr_t addr, uintptr_t end)
{
	for (uintptr_t a = addr; a < end; a += PAGE_SIZE)
		if (!pte_none(pte_read((pteval_t *)&pt[pt_index(a, 0)])))
			return true;
	return false;
}

/*
 * fork holds the parent's mmap_lock for writing, so no fault changes its
 * entries; reclaim still may (turning a present entry into a swap entry,
 * or clearing a file page's), so each table is copied under the parent's
 * page_table_lock. The child's table is allocated before that lock is
 * taken: the allocation may enter reclaim, which takes page_table_locks.
 * A swap entry is copied with one more count on its slot (swap_duplicate).
 */
int copy_page_range(struct vm_area *dst, struct vm_area *src)
{
	struct mm *dmm = dst->vm_mm, *smm = src->vm_mm;
	bool cow = !(src->vm_flags & VM_SHARED) && !src->vm_shared;
	bool wrprotected = false;
	uintptr_t addr, next;
	long rss[NR_MM_COUNTERS] = { 0 };
	int err = 0;

	BUG_ON(dst->vm_start != src->vm_start || dst->vm_end != src->vm_end);
	/*
	 * Linux's vma_needs_copy: a file area with no private page has
	 * nothing a fault could not bring back from the cache, so the child
	 * starts with no entries there (cheaper, and smaps says the same).
	 */
	if (src->vm_file && !src->anon_vma)
		return 0;
	for (addr = src->vm_start; addr < src->vm_end && !err; addr = next) {
		pteval_t *spt = walk_to_pt(smm, addr, &next), *dpt, *dptep;

		next = MIN(next, src->vm_end);
		if (!spt || !pt_range_used(spt, addr, next))
			continue;
		dptep = pte_alloc(dmm, addr);
		if (!dptep) {
			err = -KMM_ENOMEM;
			break;
		}
		dpt = dptep - pt_index(addr, 0);
		spin_lock(&smm->page_table_lock);
		for (uintptr_t a = addr; a < next; a += PAGE_SIZE) {
			pteval_t *sptep = &spt[pt_index(a, 0)];
			pteval_t e = pte_read(sptep);

			if (pte_none(e))
				continue;
			if (!pte_present(e)) {
				int r = swap_duplicate(pte_to_swp_entry(e));

				if (r == -KMM_EINVAL)
					panic("fork: bad swap entry %#llx at %#lx",
					      (unsigned long long)e, (unsigned long)a);
				if (r) {
					err = r;   /* the slot's count is full */
					break;
				}
				rss[MM_SWAPENTS]++;
				set_pte(&dpt[pt_index(a, 0)], e);
				continue;
			}
			if (!pte_special(e)) {
				struct page *page = pfn_to_page(pte_pfn(e));

				page_dup_rmap(page);
				rss[mm_counter_of(src, page)]++;
				/* Both sides read-only: the first write copies. */
				if (cow && pte_write(e)) {
					e = ptep_set_wrprotect(sptep) & ~_PAGE_RW;
					wrprotected = true;
				}
			}
			set_pte(&dpt[pt_index(a, 0)], e & ~(pteval_t)_PAGE_ACCESSED);
		}
		spin_unlock(&smm->page_table_lock);
	}
	for (int c = 0; c < NR_MM_COUNTERS; c++)
		if (rss[c])
			add_mm_counter(dmm, (enum mm_counter)c, rss[c]);
	/* The parent's CPUs must stop writing through their old entries now. */
	if (wrprotected)
		arch_flush_tlb_range(smm, src->vm_start, src->vm_end);
	return err;
}

void change_protection(struct vm_area *vma, uintptr_t start, uintptr_t end)
{
	struct mm *mm = vma->vm_mm;
	pteval_t prot = vm_get_page_prot(vma->vm_flags);
	bool shared = vma->vm_shared || (vma->vm_flags & VM_SHARED);
	bool changed = false;
	uintptr_t addr, next;

	start = MAX(ALIGN_DOWN(start, PAGE_SIZE), vma->vm_start);
	end = MIN(ALIGN_UP(end, PAGE_SIZE), vma->vm_end);
	spin_lock(&mm->page_table_lock);
	for (addr = start; addr < end; addr = next) {
		pteval_t *pt = walk_to_pt(mm, addr, &next);

		next = MIN(next, end);
		if (!pt)
			continue;
		for (uintptr_t a = addr; a < next; a += PAGE_SIZE) {
			pteval_t *ptep = &pt[pt_index(a, 0)];
			pteval_t cur = pte_read(ptep), new;

			if (!pte_present(cur))
				continue;
			do {
				new = (cur & (PTE_PFN_MASK | _PAGE_ACCESSED | _PAGE_DIRTY |
					      _PAGE_SPECIAL | _PAGE_SOFT_DIRTY)) |
				      (prot & ~(pteval_t)_PAGE_RW);
				/*
				 * Private pages stay read-only unless they were
				 * writable (exclusively ours): COW pages and the
				 * zero page must fault on write.
				 */
				if ((vma->vm_flags & VM_WRITE) && !pte_special(cur) &&
				    (shared || pte_write(cur)))
					new |= _PAGE_RW;
				if (new == cur)
					break;
			} while (!pte_cmpxchg(ptep, &cur, new));
			if (new != cur)
				changed = true;
		}
	}
	spin_unlock(&mm->page_table_lock);
	if (changed)
		arch_flush_tlb_range(mm, start, end);
}

/* Moves the entry at from to to (empty); both tables exist. */
static void move_one_pte(struct mm *mm, uintptr_t from, uintptr_t to)
{
	pteval_t *src = pte_lookup(mm, from), *dst = pte_lookup(mm, to);
	pteval_t e;

	BUG_ON(!src || !dst);
	e = ptep_get_and_clear(src);
	BUG_ON(!pte_none(pte_read(dst)));
	set_pte(dst, e);
}

int move_page_tables(struct vm_area *vma, uintptr_t old_addr, struct vm_area *new_vma,
		     uintptr_t new_addr, size_t len)
{
	struct mm *mm = vma->vm_mm;
	uintptr_t off, next;
	bool moved = false;

	BUG_ON(new_vma->vm_mm != mm);
	for (off = 0; off < len; off = next - old_addr) {
		pteval_t *spt = walk_to_pt(mm, old_addr + off, &next);

		next = MIN(next, old_addr + len);
		if (!spt)
			continue;
		for (; off < next - old_addr; off += PAGE_SIZE) {
			pteval_t *dptep;

			if (pte_none(pte_read(&spt[pt_index(old_addr + off, 0)])))
				continue;
			dptep = pte_alloc(mm, new_addr + off);
			if (!dptep)
				goto undo;
			spin_lock(&mm->page_table_lock);
			move_one_pte(mm, old_addr + off, new_addr + off);
			spin_unlock(&mm->page_table_lock);
			moved = true;
		}
	}
	if (moved)
		arch_flush_tlb_range(mm, old_addr, old_addr + len);
	return 0;
undo:
	/* Put back what moved: the old tables are still there. */
	spin_lock(&mm->page_table_lock);
	for (uintptr_t o = 0; o < off; o += PAGE_SIZE) {
		pteval_t *dptep = pte_lookup(mm, new_addr + o);

		if (dptep && !pte_none(pte_read(dptep)))
			move_one_pte(mm, new_addr + o, old_addr + o);
	}
	spin_unlock(&mm->page_table_lock);
	if (moved)
		arch_flush_tlb_range(mm, new_addr, new_addr + len);
	return -KMM_ENOMEM;
}

/* ---- Invariant checkers ---- */

/* Calls fn on every non-empty last-level entry of mm, in address order. */
static void for_each_pte(struct mm *mm, pteval_t *table, int level, uintptr_t base,
			 void (*fn)(struct mm *mm, uintptr_t addr, pteval_t e, void *arg),
			 void *arg, unsigned long *tables)
{
	(*tables)++;
	for (unsigned int i = 0; i < PTRS_PER_TABLE; i++) {
		uintptr_t a = base + (uintptr_t)i * pt_entry_span(level);
		pteval_t e = pte_read(&table[i]);

		if (pte_none(e))
			continue;
		if (level == 0) {
			fn(mm, a, e, arg);
			continue;
		}
		if (!pte_present(e) || (e & _PAGE_PSE))
			panic("mm_check: mm %p: bad level-%d entry %#llx at %#lx", (void *)mm,
			      level, (unsigned long long)e, (unsigned long)a);
		if (!pfn_valid(pte_pfn(e)))
			panic("mm_check: mm %p: table outside RAM at %#lx", (void *)mm,
			      (unsigned long)a);
		{
			struct page *tp = pfn_to_page(pte_pfn(e));
			unsigned long f = atomic_load(&tp->flags);

			if (f & ((1UL << PG_buddy) | (1UL << PG_pcp) | (1UL << PG_slab) |
				 (1UL << PG_reserved)) || page_ref_count(tp) < 1)
				panic("mm_check: mm %p: table frame %#lx is free or not ours "
				      "(flags %#lx count %d)", (void *)mm, pte_pfn(e), f,
				      page_ref_count(tp));
		}
		for_each_pte(mm, table_at(e), level - 1, a, fn, arg, tables);
	}
}

struct mm_check_state {
	long anon, shmem, file, swap;
};

static void check_one_pte(struct mm *mm, uintptr_t addr, pteval_t e, void *arg)
{
	struct mm_check_state *st = arg;
	struct vm_area *vma = vma_lookup(mm, addr);
	struct page *page;
	unsigned long f;

	if (!vma)
		panic("mm_check: mm %p maps %#lx outside every area (entry %#llx)",
		      (void *)mm, (unsigned long)addr, (unsigned long long)e);
	if (!pte_present(e)) {
		/* A swap entry: of a private area's anonymous page, naming a slot in use. */
		if (vma->vm_shared || (vma->vm_file && (vma->vm_flags & VM_SHARED)) ||
		    !vma->anon_vma || swap_count(pte_to_swp_entry(e)) < 1)
			panic("mm_check: mm %p: non-present entry %#llx at %#lx is not a swap "
			      "entry of a private area (slot count %d)", (void *)mm,
			      (unsigned long long)e, (unsigned long)addr,
			      swap_count(pte_to_swp_entry(e)));
		st->swap++;
		return;
	}
	if (!pfn_valid(pte_pfn(e)))
		panic("mm_check: mm %p: %#lx maps pfn %#lx outside RAM", (void *)mm,
		      (unsigned long)addr, pte_pfn(e));
	if (pte_special(e)) {
		if (!zero_page || pte_pfn(e) != zero_pfn() || pte_write(e) || vma->vm_shared)
			panic("mm_check: mm %p: special entry %#llx at %#lx is not a "
			      "read-only zero page of a private area", (void *)mm,
			      (unsigned long long)e, (unsigned long)addr);
		return;
	}
	page = pfn_to_page(pte_pfn(e));
	f = atomic_load(&page->flags);
	if (f & ((1UL << PG_buddy) | (1UL << PG_pcp) | (1UL << PG_slab) | (1UL << PG_reserved)))
		panic("mm_check: mm %p: %#lx maps frame %#lx that is free, slab or "
		      "reserved (flags %#lx)", (void *)mm, (unsigned long)addr,
		      pte_pfn(e), f);
	if (page_ref_count(page) < 1 || atomic_load(&page->_mapcount) < 0)
		panic("mm_check: mm %p: %#lx maps frame %#lx with count %d mapcount %d",
		      (void *)mm, (unsigned long)addr, pte_pfn(e), page_ref_count(page),
		      atomic_load(&page->_mapcount));
	if (vma->vm_shared) {
		if (page->mapping)
			panic("mm_check: shared page %#lx has a mapping", pte_pfn(e));
		st->shmem++;
		return;
	}
	if (page_is_file(page)) {
		/* A cache page: of this area's file, at the entry's offset. */
		if (!vma->vm_file || page->mapping != vma->vm_file->f_mapping)
			panic("mm_check: mm %p: %#lx maps a cache page %#lx of another file",
			      (void *)mm, (unsigned long)addr, pte_pfn(e));
		if (page->index != linear_page_index(vma, addr))
			panic("mm_check: mm %p: cache page %#lx at %#lx has index %#lx, "
			      "expected %#lx", (void *)mm, pte_pfn(e), (unsigned long)addr,
			      page->index, linear_page_index(vma, addr));
		if (pte_write(e) && !(vma->vm_flags & VM_SHARED))
			panic("mm_check: mm %p: a private mapping can write cache page %#lx "
			      "at %#lx (the store would reach the file)", (void *)mm,
			      pte_pfn(e), (unsigned long)addr);
		if (!page_flag(page, PG_uptodate))
			panic("mm_check: mm %p: cache page %#lx mapped at %#lx is not uptodate",
			      (void *)mm, pte_pfn(e), (unsigned long)addr);
		st->file++;
		return;
	}
	if (vma->vm_file && (vma->vm_flags & VM_SHARED))
		panic("mm_check: mm %p: shared file area maps anonymous page %#lx at %#lx",
		      (void *)mm, pte_pfn(e), (unsigned long)addr);
	if (!page_anon_vma(page))
		panic("mm_check: mm %p: private page %#lx at %#lx has no anon_vma",
		      (void *)mm, pte_pfn(e), (unsigned long)addr);
	if (pte_write(e) && atomic_load(&page->_mapcount) > 0)
		panic("mm_check: mm %p: page %#lx mapped %d times is writable at %#lx "
		      "(copy-on-write broken)", (void *)mm, pte_pfn(e),
		      atomic_load(&page->_mapcount) + 1, (unsigned long)addr);
	if (page->index != linear_page_index(vma, addr))
		panic("mm_check: mm %p: page %#lx at %#lx has index %#lx, expected %#lx",
		      (void *)mm, pte_pfn(e), (unsigned long)addr, page->index,
		      linear_page_index(vma, addr));
	st->anon++;
}

int mm_check(struct mm *mm)
{
	struct mm_check_state st = { 0, 0, 0, 0 };
	unsigned long tables = 0;
	long bytes;

	if (!mm->pgd)
		panic("mm_check: mm %p has no page tables", (void *)mm);
	for_each_pte(mm, pgd_table(mm), 3, 0, check_one_pte, &st, &tables);
	if (st.anon != get_mm_counter(mm, MM_ANONPAGES) ||
	    st.shmem != get_mm_counter(mm, MM_SHMEMPAGES) ||
	    st.file != get_mm_counter(mm, MM_FILEPAGES) ||
	    st.swap != get_mm_counter(mm, MM_SWAPENTS))
		panic("mm_check: mm %p: rss anon %ld shmem %ld file %ld swap %ld, page tables "
		      "map %ld, %ld and %ld and hold %ld swap entries", (void *)mm,
		      get_mm_counter(mm, MM_ANONPAGES), get_mm_counter(mm, MM_SHMEMPAGES),
		      get_mm_counter(mm, MM_FILEPAGES), get_mm_counter(mm, MM_SWAPENTS),
		      st.anon, st.shmem, st.file, st.swap);
	bytes = atomic_load(&mm->pgtables_bytes);
	if (bytes != (long)(tables * PAGE_SIZE))
		panic("mm_check: mm %p: pgtables_bytes %ld but %lu table frames", (void *)mm,
		      bytes, tables);
	return 0;
}

/*
 * Across all tasks: each mm once (threads share one), then every mapped page's
 * _mapcount and _refcount against the entries found in all page tables
 * (page->_pad counts them, zero again when we are done), and the zone
 * counters NR_ANON_MAPPED and NR_PAGETABLE against the sums.
 */
struct mm_list {
	struct mm **mms;
	unsigned int n, max;
};

static void collect_mm(struct task *t, void *arg)
{
	struct mm_list *l = arg;
	struct mm *mm = __atomic_load_n(&t->mm, __ATOMIC_ACQUIRE);

	if (!mm)
		return;
	for (unsigned int i = 0; i < l->n; i++)
		if (l->mms[i] == mm)
			return;
	if (l->n == l->max)
		panic("mm_rmap_check: more mms than tasks: tasks changed during the check");
	l->mms[l->n++] = mm;
}

struct rmap_count {
	enum { RMAP_RESET, RMAP_COUNT, RMAP_COMPARE } pass;
	unsigned long anon_pages, file_pages;
};

static void count_pte(struct mm *mm, uintptr_t addr, pteval_t e, void *arg)
{
	struct rmap_count *c = arg;
	struct page *page;

	if (!pte_present(e)) {
		if (c->pass == RMAP_COUNT)
			swap_refs_add(pte_to_swp_entry(e));
		return;
	}
	if (pte_special(e))
		return;
	page = pfn_to_page(pte_pfn(e));
	if (c->pass == RMAP_RESET) {
		page->_pad = 0;   /* a check that panicked half-way left counts */
		return;
	}
	if (c->pass == RMAP_COUNT) {
		page->_pad++;
		return;
	}
	if (!page->_pad)
		return;   /* already compared */
	{
		int maps = (int)page->_pad;
		/* Plus the shared_anon object's, the page cache's or the swap cache's
		   own reference. */
		int want_refs = maps + (page_anon_vma(page) ? 0 : 1) +
				(page_flag(page, PG_swapcache) ? 1 : 0);

		if (atomic_load(&page->_mapcount) + 1 != maps ||
		    page_ref_count(page) != want_refs)
			panic("mm_rmap_check: page %#lx: %d entries map it but mapcount "
			      "%d, count %d (expected %d)", pte_pfn(e), maps,
			      atomic_load(&page->_mapcount), page_ref_count(page), want_refs);
		/* Every private page can be reclaimed: it is on an LRU list. */
		if (page_anon_vma(page) &&
		    (!page_flag(page, PG_lru) || !page_flag(page, PG_swapbacked)))
			panic("mm_rmap_check: anonymous page %#lx mapped at %#lx is not on an "
			      "anonymous LRU list (flags %#lx)", pte_pfn(e), (unsigned long)addr,
			      (unsigned long)atomic_load(&page->flags));
		if (page_anon_vma(page))
			c->anon_pages++;
		else if (page_is_file(page))
			c->file_pages++;
		page->_pad = 0;
	}
}

/*
 * The mms of a check: a static array for the usual few, so that a check
 * that panics (a test catching it on purpose) leaks nothing; more tasks
 * than that take an allocation. Like every checker, it runs while nothing
 * changes (so one at a time).
 */
#define CHECK_MMS 256
static struct mm *check_mms[CHECK_MMS];

int mm_rmap_check(void)
{
	struct mm_list l = { .max = task_count() + 1 };
	struct rmap_count c = { 0 };
	unsigned long anon = 0, file = 0, tables = 0, mm_tables = 0;
	struct zone *z;

	l.mms = l.max <= CHECK_MMS ? check_mms : kcalloc(l.max, sizeof(*l.mms), GFP_KERNEL);
	if (!l.mms)
		return -KMM_ENOMEM;
	task_for_each(collect_mm, &l);
	swap_refs_begin();
	for (unsigned int i = 0; i < l.n; i++) {
		mm_check(l.mms[i]);
		mm_tables += (unsigned long)atomic_load(&l.mms[i]->pgtables_bytes) / PAGE_SIZE;
	}
	for (int pass = RMAP_RESET; pass <= RMAP_COMPARE; pass++) {
		c.pass = pass;
		for (unsigned int i = 0; i < l.n; i++) {
			unsigned long nt = 0;

			for_each_pte(l.mms[i], pgd_table(l.mms[i]), 3, 0, count_pte, &c, &nt);
		}
	}
	if (l.mms != check_mms)
		kfree(l.mms);
	/* Each slot's count: the entries naming it, plus the swap cache's. */
	swap_refs_verify();
	for_each_zone(z) {
		anon += zone_page_state(z, NR_ANON_MAPPED);
		file += zone_page_state(z, NR_FILE_MAPPED);
		tables += zone_page_state(z, NR_PAGETABLE);
	}
	if (anon != c.anon_pages)
		panic("mm_rmap_check: NR_ANON_MAPPED %lu but %lu private pages mapped", anon,
		      c.anon_pages);
	if (file != c.file_pages)
		panic("mm_rmap_check: NR_FILE_MAPPED %lu but %lu cache pages mapped", file,
		      c.file_pages);
	if (tables != mm_tables)
		panic("mm_rmap_check: NR_PAGETABLE %lu but the mms hold %lu table frames",
		      tables, mm_tables);
	return 0;
}
