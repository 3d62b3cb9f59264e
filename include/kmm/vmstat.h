/*
 * Event counters (mm/vmstat.c): per-CPU so the hot paths never share a cache
 * line; summed when read. Names are Linux's /proc/vmstat names where Linux
 * has the counter, our own (documented in docs/) where it has none.
 */
#ifndef KMM_VMSTAT_H
#define KMM_VMSTAT_H

#include <kmm/arch.h>
#include <kmm/mmzone.h>
#include <stdatomic.h>

enum vm_event_item {
	PGALLOC_DMA,
	PGALLOC_DMA32,
	PGALLOC_NORMAL,
	PGFREE,
	KSWAPD_WAKE,        /* allocations that found a zone below low (ours) */
	ALLOC_FAIL_ORDER0,  /* ..ALLOC_FAIL_ORDER0 + MAX_ORDER (ours) */
	ALLOC_FAIL_LAST = ALLOC_FAIL_ORDER0 + MAX_ORDER,
	PCP_REFILL,         /* batches moved buddy -> per-CPU list (ours) */
	PCP_DRAIN,          /* batches moved per-CPU list -> buddy (ours) */
	PAGEBLOCK_STEAL,    /* pageblocks changed type by fallback (ours) */
	ALLOC_FALLBACK,     /* allocations served from another migrate type */
	PGFAULT,            /* page faults handled, of every kind */
	PGMAJFAULT,         /* faults that waited for I/O */
	PGCOWFAULT,         /* write faults on copy-on-write pages (ours) */
	PGZEROFAULT,        /* read faults that mapped the zero page (ours) */
	NR_TLB_REMOTE_FLUSH,          /* shootdowns sent to other CPUs */
	NR_TLB_REMOTE_FLUSH_RECEIVED, /* shootdowns received */
	NR_TLB_LOCAL_FLUSH_ALL,
	NR_TLB_LOCAL_FLUSH_ONE,
	PGPGIN,             /* KiB read from files and disks into the page cache */
	PGPGOUT,            /* KiB written back */
	PGCACHE_HIT,        /* page-cache lookups that found the page (ours) */
	PGCACHE_MISS,       /* ... that had to read it (ours) */
	PSWPIN,             /* pages read from swap */
	PSWPOUT,            /* pages written to swap */
	PGSCAN_KSWAPD,      /* inactive pages scanned by kswapd */
	PGSCAN_DIRECT,      /* ... by direct reclaim */
	PGSTEAL_KSWAPD,     /* pages reclaimed by kswapd */
	PGSTEAL_DIRECT,     /* ... by direct reclaim */
	PGACTIVATE,         /* pages moved to an active list */
	PGDEACTIVATE,       /* pages moved to an inactive list */
	PGROTATED,          /* reclaim kept a page (locked, dirty, referenced once) */
	ALLOCSTALL,         /* allocations that entered direct reclaim */
	OOM_KILL,           /* tasks the OOM killer killed */
	SWAP_RA,            /* pages read ahead from swap */
	SWAP_RA_HIT,        /* faults that found a page read ahead */
	NR_VM_EVENT_ITEMS
};

extern const char *const vm_event_names[NR_VM_EVENT_ITEMS];

/* Per-CPU event counters. Only the owning CPU writes its row. */
struct vm_event_state {
	atomic_ulong event[NR_VM_EVENT_ITEMS];
} __attribute__((aligned(64)));

extern struct vm_event_state *vm_events;  /* [arch_nr_cpus()] */

/* A relaxed load and store, not a locked add: only this CPU writes the row. */
static inline void count_vm_events(enum vm_event_item item, unsigned long delta)
{
	atomic_ulong *c = &vm_events[arch_this_cpu()].event[item];
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + delta,
			      memory_order_relaxed);
}

/* The same when the caller already knows its CPU (the hot paths). */
static inline void __count_vm_events_cpu(unsigned int cpu,
					 enum vm_event_item item,
					 unsigned long delta)
{
	atomic_ulong *c = &vm_events[cpu].event[item];
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + delta,
			      memory_order_relaxed);
}

static inline void count_vm_event(enum vm_event_item item)
{
	count_vm_events(item, 1);
}

unsigned long vm_event_sum(enum vm_event_item item);

static inline void mod_zone_page_state(struct zone *z, enum zone_stat_item item,
				       long delta)
{
	atomic_fetch_add_explicit(&z->vm_stat[item], delta, memory_order_relaxed);
}

/* Allocates the per-CPU counters at boot (from memblock). */
int vmstat_init(void);	/* -KMM_ENOMEM if memblock cannot hold the counters */

#endif
