/*
 * Swap areas (mm/swapfile.c): where anonymous pages go when reclaim takes
 * their frames. This header is the contract with the reclaim layer
 * (mm/vmscan.c, mm/swap_state.c, the fault path in mm/memory.c), which
 * stores swap entries in non-present page-table entries and in the swap
 * cache.
 *
 * An area is a host file inside the machine's root with Linux's swap
 * header in its first page ("SWAPSPACE2", version 1, last_page, a list of
 * bad pages), so `mkswap` files work and kmm's are real swap files. Slot 0
 * is the header; slots 1 .. last_page hold pages. Each slot has a count:
 * the page tables and the swap cache that refer to it (fork duplicates
 * entries, so one slot can be shared); at 0 the slot is free again.
 *
 * Allocation keeps the pages of one reclaim scan together on disk, as
 * Linux's clusters do: each CPU takes slots in order from a cluster of
 * SWAP_CLUSTER_SLOTS free slots of its own, so a burst of swap-outs writes
 * one contiguous run, and swap-in readahead of neighbouring slots reads
 * pages that went out together.
 *
 * Locking: swap_lock (the list of areas, their priorities and the totals)
 * is taken before an area's lock (its counts and clusters). I/O runs with
 * no lock held.
 */
#ifndef KMM_SWAP_H
#define KMM_SWAP_H

#include <kmm/gfp.h>
#include <kmm/mmzone.h>
#include <kmm/pgtable.h>
#include <kmm/printk.h>
#include <kmm/types.h>

struct page;
struct task;
struct mm;

#define MAX_SWAPFILES 8
#define SWAP_CLUSTER_SLOTS 256
/* A slot's count saturates here (swap_duplicate then fails with ENOMEM). */
#define SWAP_MAP_MAX 0xfffe
#define SWAP_MAP_BAD 0xffff

/* A page on swap: the area (type) and the slot (offset). val 0 is none
   (slot 0 of every area is its header, never handed out). */
typedef struct {
	unsigned long val;
} swp_entry_t;

#define SWP_ENTRY_TYPE_SHIFT SWP_OFFSET_BITS

static inline swp_entry_t swp_entry(unsigned int type, unsigned long offset)
{
	swp_entry_t e = { ((unsigned long)type << SWP_ENTRY_TYPE_SHIFT) | offset };

	return e;
}

static inline unsigned int swp_type(swp_entry_t e)
{
	return (unsigned int)(e.val >> SWP_ENTRY_TYPE_SHIFT);
}

static inline unsigned long swp_offset(swp_entry_t e)
{
	return e.val & ((1UL << SWP_ENTRY_TYPE_SHIFT) - 1);
}

/* The entry as a non-present PTE (pgtable.h's encoding) and back. */
static inline pteval_t swp_entry_to_pte(swp_entry_t e)
{
	return ((pteval_t)swp_type(e) << SWP_TYPE_SHIFT) |
	       ((pteval_t)swp_offset(e) << SWP_OFFSET_SHIFT);
}

static inline swp_entry_t pte_to_swp_entry(pteval_t pte)
{
	return swp_entry((unsigned int)(pte >> SWP_TYPE_SHIFT) & ((1u << SWP_TYPE_BITS) - 1),
			 (unsigned long)(pte >> SWP_OFFSET_SHIFT) &
			 ((1UL << SWP_OFFSET_BITS) - 1));
}

/* Boot: no area is on (those of an earlier machine went with it). */
void swap_init(void);

/*
 * Writes a swap header into path (inside the root), creating or truncating
 * it to bytes (a multiple of the page size, at least two pages), as mkswap
 * does. 0 or -errno.
 */
int swap_format(const char *path, uint64_t bytes);
/*
 * Starts swapping to path; a higher priority is used first (-1: below
 * every area already on). 0, or -EINVAL (no or bad header: the message
 * says which), -EBUSY (already on), -EPERM (MAX_SWAPFILES areas on),
 * -ENOMEM, or the error of opening the file.
 */
int swapon(const char *path, int priority);
/*
 * Stops swapping to path, first bringing every page on it back into memory
 * (into every page table that refers to it). -EINVAL if it is not on;
 * -ENOMEM if memory cannot hold the pages, -EIO if one cannot be read (the
 * area then stays on, with whatever is still on it).
 */
int swapoff(const char *path);
/* Stops every area (shutdown); slots still in use are a bug reported. */
void swapoff_all(void);

/* A free slot (count 1), or val 0 when every area is full or none is on. */
swp_entry_t get_swap_page(void);
/* One more reference (fork). 0, -EINVAL for a bad entry, -ENOMEM at
   SWAP_MAP_MAX. */
int swap_duplicate(swp_entry_t entry);
/* One reference less; the slot is free at 0. */
void swap_free(swp_entry_t entry);
/* The slot's count (0: free); -EINVAL for a bad entry. */
int swap_count(swp_entry_t entry);

/* Page I/O on a slot (synchronous). 0 or -EIO (-EINVAL for a bad entry). */
int swap_writepage(struct page *page, swp_entry_t entry);
int swap_readpage(struct page *page, swp_entry_t entry);

/*
 * The swap cache's slot for entry (swapfile.c keeps one pointer per slot,
 * allocated with the area): NULL for a bad entry. Read and written under
 * swap_cache_lock (mm/swap_state.c).
 */
struct page **swap_cache_slot(swp_entry_t entry);
/* Is the area of entry more than half full, or being switched off? (keep
   fewer clean copies) */
bool swap_area_full(swp_entry_t entry);
/* Is the area of entry being switched off (or gone)? Reclaim then leaves
   its pages in memory instead of naming their slots again. */
bool swap_entry_closing(swp_entry_t entry);

/*
 * mm_rmap_check's count of the page-table entries naming each slot:
 * begin zeroes it, add counts one entry, verify panics unless every slot's
 * count is its entries plus one for a swap-cache page.
 */
void swap_refs_begin(void);
void swap_refs_add(swp_entry_t entry);
void swap_refs_verify(void);

/* Totals for meminfo, in pages: usable slots, and of them free. */
void si_swapinfo(unsigned long *total, unsigned long *free);
/* /proc/swaps. */
void swaps_show(struct seq_buf *s, long arg);
/* Counts, clusters and totals agree in every area. */
int swap_check(void);

/* ---- The swap cache (mm/swap_state.c) ----
 *
 * An anonymous page on its way to or from swap is in the swap cache, keyed
 * by its entry: PG_swapcache set, page->private = entry.val. The cache
 * holds one reference on the page and one count on the slot. A fault on a
 * swap entry finds the page there while it is being written, and a page
 * read back stays there while other page tables still refer to the slot,
 * so every sharer maps the same frame.
 */

/* Adds page (locked, not in the cache) under entry, whose slot count the
   caller gives to the cache. 0 or -EEXIST. */
int add_to_swap_cache(struct page *page, swp_entry_t entry);
/* A new slot for page (locked, anonymous) and the cache entry; 0 or -ENOSPC. */
int add_to_swap(struct page *page);
/* The cached page of entry with a reference, or NULL. */
struct page *lookup_swap_cache(swp_entry_t entry);
/* Removes page (locked) from the cache, dropping its page and slot references. */
void delete_from_swap_cache(struct page *page);
/*
 * Reclaim: page (locked, clean, mapped nowhere) leaves the cache if the
 * caller's reference and the cache's are the only ones: its count is then
 * 0, and the frame the caller's to free. false if anyone else holds it.
 */
bool reclaim_swap_cache_page(struct page *page);
/* page (locked) leaves the cache if nothing but the cache refers to its slot. */
bool try_to_free_swap(struct page *page);
/* A page-table reference to entry goes (zap): its slot count, and the cached
   page if it was the last one. */
void free_swap_and_cache(swp_entry_t entry);
/*
 * The page of entry, with a reference: from the cache, or read from the slot
 * with its neighbours of the same cluster read ahead. NULL with *err -ENOMEM,
 * -EIO, or -EAGAIN (the slot was freed meanwhile: retry the fault).
 * *major tells whether it was read.
 */
struct page *swapin_page(swp_entry_t entry, int *err, bool *major);
/* swapoff (mm/memory.c): every swap entry of area type in mm's page tables
   is faulted back in (mmap_lock held for reading). 0, -ENOMEM or -EIO. */
int unuse_mm(struct mm *mm, unsigned int type);
/* Pages in the swap cache (SwapCached). */
unsigned long total_swapcache_pages(void);

/* ---- LRU lists (mm/swap.c) ---- */

void lru_init(void);
/* A page that is on no list goes on its zone's inactive (or active) list
   of its kind: PG_swapbacked pages are anonymous. */
void lru_cache_add(struct page *page);
void lru_cache_add_active(struct page *page);
/* Takes page off its list if it is on one (the page is being freed). */
void lru_del(struct page *page);
/* A use seen by software: referenced, and on a second use, active. */
void mark_page_accessed(struct page *page);
/* Drops a reference to an anonymous or swap-cache page; the last frees it
   (off its LRU list, its anon_vma released). */
void put_anon_page(struct page *page);
/* The last reference to an order-0 page went (its count is 0): off its LRU
   list, its anon_vma released, the frame freed. put_page and put_anon_page
   end here. */
void release_page(struct page *page);
/* An entry mapping page went away (mm/memory.c): map count, zone counter,
   and the entry's reference. */
void page_remove_rmap(struct page *page);
/* Every page on the list its flags say, lengths equal to the counters. */
int lru_check(void);
/*
 * Reclaim's side (mm/vmscan.c). isolate_lru_pages takes up to nr pages
 * from the tail (the oldest end) of list l of zone z onto dst, each with a
 * reference and PG_lru clear, so no one else moves them; pages being freed
 * meanwhile (count already 0) are passed over. *scanned counts the pages
 * looked at. putback_lru_page puts one back at the head of the list its
 * flags name and drops the reference.
 */
unsigned long isolate_lru_pages(struct zone *z, enum lru_list l, unsigned long nr,
				struct list_head *dst, unsigned long *scanned);
void putback_lru_page(struct page *page);
/* Sizes of z's lists, and its recent_scanned/rotated counts (under its lock). */
unsigned long lru_size(struct zone *z, enum lru_list l);
void lru_note_scan(struct zone *z, bool file, unsigned long scanned, unsigned long rotated);

/* ---- Reverse map of anonymous pages (mm/rmap.c) ---- */

/* Tests and clears the Accessed bit of every entry mapping page (locked);
   returns how many were set. *vm_flags gets the areas' flags or-ed. */
int page_referenced(struct page *page, unsigned long *vm_flags);
/*
 * Replaces every entry mapping page (locked, in the swap cache, or a clean
 * file page) by its swap entry (or clears it, for a file page), moving
 * Dirty bits into the page. true when no entry maps it any more; false if
 * an area is locked (VM_LOCKED) or a slot count is full.
 */
bool try_to_unmap(struct page *page);

/* ---- Reclaim (mm/vmscan.c) and the OOM killer (mm/oom.c) ---- */

extern int vm_swappiness;   /* 0..200: anonymous vs file scanning (60) */
/* Boot: kswapd's work item and the allocator's hooks. */
void reclaim_init(int swappiness);
/* Direct reclaim for an allocation of order under gfp: pages freed. */
unsigned long try_to_free_pages(gfp_t gfp, unsigned int order);
/* Reclaims up to nr pages as kswapd would (tests, m:reclaim): pages freed. */
unsigned long shrink_all_memory(unsigned long nr);
/*
 * Out of memory (a fault could not get a page after reclaim): kills the
 * task with the largest badness and logs it as Linux does. Returns the
 * pid killed, or 0 if no task has memory to give.
 */
int out_of_memory(void);
/* Linux's badness of a task: pages it holds, adjusted by oom_score_adj;
   0 for a task that is not a candidate (dead, no mm, adj -1000). */
long oom_badness(struct task *t);
/*
 * A fault of t could not get memory (VM_FAULT_OOM), with no lock held: if
 * memory is really exhausted the OOM killer runs. Returns -EAGAIN when
 * another task was killed (retry the fault), KMM_SIGKILL when t was, 0
 * when nothing was killed (not out of memory, or no candidate).
 */
int pagefault_out_of_memory(struct task *t);

#endif
