/*
 * struct page: one descriptor per physical page frame, in the mem_map array
 * (the book's page descriptor). It is 64 bytes; which union member is valid
 * depends on who owns the frame, and the owner is told by the flags:
 *
 *   PG_reserved   never given to the allocator (firmware, holes, kernel image,
 *                 boot data); nothing else is valid.
 *   PG_buddy      head of a free block in the buddy lists: lru links it into
 *                 zone->free_area[private].free_list[mt], private = order.
 *   PG_pcp        free order-0 page on a per-CPU list: lru links it there.
 *   PG_slab       owned by the slab allocator: every page of a slab has
 *                 slab_cache and slab_desc set (mm/slab.c), so any object
 *                 address leads to its cache and slab in two loads;
 *                 private = (page's index in the slab << 32) | offset of the
 *                 slab's first object, to check an object address.
 *   PG_lru        on one of its zone's LRU lists (mm/swap.c): lru links it
 *                 there; PG_active, PG_unevictable and PG_swapbacked
 *                 (anonymous) say which list.
 *   (none)        allocated to some caller, _refcount > 0 on the first page;
 *                 tail pages of a non-compound block have _refcount 0.
 *
 * The zone number lives in the top bits of flags (set once at boot), so
 * page_zone() needs no lookup.
 */
#ifndef KMM_MM_TYPES_H
#define KMM_MM_TYPES_H

#include <kmm/arch.h>
#include <kmm/list.h>
#include <kmm/types.h>
#include <stdatomic.h>

struct kmem_cache;
struct slab;
struct address_space;

enum pageflags {
	PG_reserved,
	PG_buddy,
	PG_pcp,
	PG_slab,
	PG_head,      /* first page of a compound (__GFP_COMP) allocation */
	PG_tail,      /* other pages of a compound allocation */
	PG_locked,
	PG_referenced,
	PG_uptodate,
	PG_dirty,
	PG_lru,
	PG_active,
	PG_writeback,
	PG_swapbacked,
	PG_unevictable,
	PG_swapcache, /* in the swap cache: private holds its swp_entry_t (mm/swap_state.c) */
	PG_checked,   /* scratch bit for invariant checkers, clear otherwise */
	NR_PAGEFLAGS,
};

#define ZONES_SHIFT 2
#define ZONES_PGSHIFT (64 - ZONES_SHIFT)

struct page {
	_Atomic unsigned long flags;
	union {
		struct list_head lru;  /* buddy / per-CPU free lists, later LRU */
		struct {               /* slab */
			struct list_head slab_list;
		};
	};
	union {
		struct address_space *mapping;  /* page cache, anon (later) */
		struct kmem_cache *slab_cache;  /* slab: the owning cache */
		struct page *compound_head;     /* PG_tail: the head page */
	};
	union {
		unsigned long index;            /* offset in mapping */
		struct slab *slab_desc;         /* slab: its descriptor */
	};
	unsigned long private;                  /* buddy: order; else owner's */
	atomic_int _refcount;
	atomic_int _mapcount;                   /* -1: not mapped */
	uint32_t compound_order;                /* PG_head: order of the block */
	uint32_t _pad;
};

_Static_assert(sizeof(struct page) == 64, "struct page must stay 64 bytes");

static inline bool page_flag(const struct page *page, enum pageflags f)
{
	return atomic_load_explicit(&((struct page *)page)->flags,
				    memory_order_relaxed) & (1UL << f);
}

/* Atomic set/clear: pages may be flagged by several CPUs at once. */
static inline void set_page_flag(struct page *page, enum pageflags f)
{
	atomic_fetch_or_explicit(&page->flags, 1UL << f, memory_order_relaxed);
}

static inline void clear_page_flag(struct page *page, enum pageflags f)
{
	atomic_fetch_and_explicit(&page->flags, ~(1UL << f), memory_order_relaxed);
}

/* Non-atomic variants for pages only the caller can see (under zone->lock). */
static inline void __set_page_flag(struct page *page, enum pageflags f)
{
	unsigned long v = atomic_load_explicit(&page->flags, memory_order_relaxed);
	atomic_store_explicit(&page->flags, v | (1UL << f), memory_order_relaxed);
}

static inline void __clear_page_flag(struct page *page, enum pageflags f)
{
	unsigned long v = atomic_load_explicit(&page->flags, memory_order_relaxed);
	atomic_store_explicit(&page->flags, v & ~(1UL << f), memory_order_relaxed);
}

static inline int page_ref_count(const struct page *page)
{
	return atomic_load_explicit(&((struct page *)page)->_refcount,
				    memory_order_relaxed);
}

static inline void set_page_count(struct page *page, int v)
{
	atomic_store_explicit(&page->_refcount, v, memory_order_relaxed);
}

/*
 * Adds delta to the reference count and returns the old count: an atomic
 * add where host threads may race, a load and a store where every CPU
 * runs on one host thread (arch_smp_threads; the add is the costliest
 * step of freeing a page there).
 */
static inline int page_ref_add_old(struct page *page, int delta)
{
	if (!arch_smp_threads) {
		int old = atomic_load_explicit(&page->_refcount, memory_order_relaxed);

		atomic_store_explicit(&page->_refcount, old + delta, memory_order_relaxed);
		return old;
	}
	return atomic_fetch_add_explicit(&page->_refcount, delta, memory_order_acq_rel);
}

static inline void get_page(struct page *page)
{
	page_ref_add_old(page, 1);
}

/* Drops a reference; true when it was the last one. */
static inline bool put_page_testzero(struct page *page)
{
	return page_ref_add_old(page, -1) == 1;
}

static inline unsigned int page_zonenum(const struct page *page)
{
	return (unsigned int)(atomic_load_explicit(&((struct page *)page)->flags,
						   memory_order_relaxed) >>
			      ZONES_PGSHIFT);
}

#endif
