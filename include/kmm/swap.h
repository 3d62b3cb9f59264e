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

#include <kmm/pgtable.h>
#include <kmm/printk.h>
#include <kmm/types.h>

struct page;

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
/* Stops swapping to path. -EINVAL if it is not on; -EBUSY while a slot is
   still in use (bringing pages back in comes with reclaim). */
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

/* Totals for meminfo, in pages: usable slots, and of them free. */
void si_swapinfo(unsigned long *total, unsigned long *free);
/* /proc/swaps. */
void swaps_show(struct seq_buf *s, long arg);
/* Counts, clusters and totals agree in every area. */
int swap_check(void);

#endif
