/*
 * Page tables: the x86-64 4-level format (PML4 -> PDPT -> PD -> PT), 48-bit
 * virtual addresses, 4 KiB pages, 512 eight-byte entries per table frame.
 * Tables live in ordinary frames of emulated RAM (allocated with
 * alloc_page, counted in mm->pgtables_bytes), so page tables compete for
 * memory as they do on real hardware.
 *
 * One format for every arch: kmm's arch/emu emulates x86-64 and a future
 * arch/native would run on it, so the format lives here rather than behind
 * the arch interface (DESIGN.md puts it there; this is the one divergence,
 * until a second format exists).
 *
 * Entries are read and written with atomic operations because the MMU sets
 * Accessed and Dirty concurrently with the core (as hardware does): the core
 * changes a present entry only with pte_cmpxchg / ptep_get_and_clear /
 * ptep_test_and_clear_young, never with a plain store that could lose a
 * Dirty bit set in between. Writers of the tables themselves are serialised
 * by mm->page_table_lock.
 */
#ifndef KMM_PGTABLE_H
#define KMM_PGTABLE_H

#include <kmm/types.h>

typedef uint64_t pteval_t;

/* Hardware bits (the same at every level). */
#define _PAGE_PRESENT   (1ULL << 0)
#define _PAGE_RW        (1ULL << 1)
#define _PAGE_USER      (1ULL << 2)
#define _PAGE_PWT       (1ULL << 3)
#define _PAGE_PCD       (1ULL << 4)
#define _PAGE_ACCESSED  (1ULL << 5)
#define _PAGE_DIRTY     (1ULL << 6)   /* last level only */
#define _PAGE_PSE       (1ULL << 7)   /* huge page (kmm maps none yet) */
#define _PAGE_GLOBAL    (1ULL << 8)
#define _PAGE_NX        (1ULL << 63)

/* Software bits (ignored by the MMU). */
#define _PAGE_SPECIAL   (1ULL << 9)   /* no struct page reference held: the zero page */
#define _PAGE_SOFT_DIRTY (1ULL << 11)

/* Bits 12..51: the physical address of the frame or next table. */
#define PTE_PFN_MASK    0x000ffffffffff000ULL
#define PTE_FLAGS_MASK  (~PTE_PFN_MASK)

/*
 * A non-present, non-zero last-level entry is a swap entry (the reclaim
 * issue uses it): bit 0 clear, type in bits 1..5, offset in bits 12..57.
 */
#define SWP_TYPE_SHIFT   1
#define SWP_TYPE_BITS    5
#define SWP_OFFSET_SHIFT 12
#define SWP_OFFSET_BITS  46

/* Geometry. */
#define PTRS_PER_TABLE  512
#define PGDIR_SHIFT     39
#define PUD_SHIFT       30
#define PMD_SHIFT       21
#define PTE_LEVELS      4
#define VA_BITS         48
/* The user half of the canonical address space: [0, TASK_SIZE). */
#define TASK_SIZE       ((1ULL << (VA_BITS - 1)) - PAGE_SIZE)

/* The index of va in the table of level (3 = PML4 ... 0 = PT). */
static inline unsigned int pt_index(uint64_t va, int level)
{
	return (unsigned int)(va >> (PAGE_SHIFT + 9 * level)) & (PTRS_PER_TABLE - 1);
}

/* Bytes mapped by one entry of level (0: 4 KiB, 1: 2 MiB, 2: 1 GiB, 3: 512 GiB). */
static inline uint64_t pt_entry_span(int level)
{
	return 1ULL << (PAGE_SHIFT + 9 * level);
}

static inline bool pte_present(pteval_t v) { return v & _PAGE_PRESENT; }
static inline bool pte_none(pteval_t v) { return v == 0; }
static inline bool pte_write(pteval_t v) { return v & _PAGE_RW; }
static inline bool pte_young(pteval_t v) { return v & _PAGE_ACCESSED; }
static inline bool pte_dirty(pteval_t v) { return v & _PAGE_DIRTY; }
static inline bool pte_special(pteval_t v) { return v & _PAGE_SPECIAL; }
static inline unsigned long pte_pfn(pteval_t v) { return (unsigned long)((v & PTE_PFN_MASK) >> PAGE_SHIFT); }
static inline pteval_t pfn_pte(unsigned long pfn, pteval_t flags)
{
	return ((pteval_t)pfn << PAGE_SHIFT & PTE_PFN_MASK) | (flags & PTE_FLAGS_MASK);
}

/* Atomic access to one entry: the MMU may set A/D bits at any moment. */
static inline pteval_t pte_read(const pteval_t *ptep)
{
	return __atomic_load_n(ptep, __ATOMIC_ACQUIRE);
}

/* For an entry the MMU cannot be using (not present before, or after a clear + flush). */
static inline void set_pte(pteval_t *ptep, pteval_t v)
{
	__atomic_store_n(ptep, v, __ATOMIC_RELEASE);
}

/* Replaces *ptep with new if it still holds *old (else *old gets the current value). */
static inline bool pte_cmpxchg(pteval_t *ptep, pteval_t *old, pteval_t new)
{
	return __atomic_compare_exchange_n(ptep, old, new, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

/* Clears the entry and returns what it held, A/D bits included. */
static inline pteval_t ptep_get_and_clear(pteval_t *ptep)
{
	return __atomic_exchange_n(ptep, 0, __ATOMIC_ACQ_REL);
}

/* Clears Accessed; returns whether it was set (reclaim's reference test). */
static inline bool ptep_test_and_clear_young(pteval_t *ptep)
{
	return __atomic_fetch_and(ptep, ~_PAGE_ACCESSED, __ATOMIC_ACQ_REL) & _PAGE_ACCESSED;
}

/* Clears RW, keeping every other bit (fork's write-protection of COW pages). */
static inline pteval_t ptep_set_wrprotect(pteval_t *ptep)
{
	return __atomic_fetch_and(ptep, ~_PAGE_RW, __ATOMIC_ACQ_REL);
}

/*
 * x86 page-fault error code, as the MMU reports it (bit 0: the page was
 * present, i.e. a protection fault; bit 1: a write; bit 2: user mode;
 * bit 4: an instruction fetch).
 */
#define PF_PROT  (1U << 0)
#define PF_WRITE (1U << 1)
#define PF_USER  (1U << 2)
#define PF_INSTR (1U << 4)

#endif
